/*
 * hnsw.c — the HNSW graph of hnsw.h.
 *
 * Layout (struct-of-arrays, grown by doubling):
 *   vecs[id * dim]            the vector (normalised under cosine)
 *   level[id]                 the node's top level
 *   l0[id * (2M + 1)]         level-0 links: count, then ids
 *   up[id][(l - 1) * (M + 1)] links at level l >= 1 (NULL for level 0 nodes)
 *   dead[id]                  deletion mark
 *   visit[id]                 epoch of the search that last reached id
 *   codes[id * cstride]       8-bit code of the vector (sq, dim >= 32)
 *   cscale[id], cnorm[id]     its scale and the squared norm it stands for
 *
 * Scalar quantisation (sq): every vector also has a symmetric 8-bit code,
 * v ~ scale * code with scale = max|v_i| / 127, so a walk reads a quarter
 * of the bytes and multiplies int8 pairs in 16-bit lanes. Insertion and
 * search both walk by codes; a search then computes the exact distance of
 * the 2k + RERANK_SLACK of its ef candidates nearest by code from the
 * float vectors and returns the k nearest of those, so what a caller sees
 * (order, distances) is exact and only the choice of candidates is
 * approximate (recall measured in test_hnsw.c and bench/vector). The codes
 * are derived data: load computes them again.
 *
 * Insertion follows the paper (algorithm 1): a greedy descent to the new
 * node's level, then a beam search (ef_construction) per level, neighbours
 * chosen by the diversity heuristic (algorithm 4: a candidate is kept only
 * when it is nearer the new node than to every neighbour kept so far), and
 * each neighbour's list shrunk with the same heuristic when it overflows.
 * Searching (algorithm 5) descends greedily to level 0 and runs one beam
 * search there; deleted nodes are expanded but never enter the results.
 *
 * Saving: ix_hnsw_save writes a frozen copy (ix_hnsw_freeze): the links,
 * levels and deletion marks copied, the vector array shared through a
 * reference count (vshare). A node's vector is written once, at its add,
 * so the shared prefix never changes; grow() reallocates in place only
 * while nobody else holds the array, and otherwise moves the graph to a
 * new one. A frozen copy can thus be written out on another thread while
 * the graph goes on (exec/sai.c's checkpoints).
 *
 * Distance kernels work on eight-float vectors (GCC's vector extension)
 * with four accumulators, compiled for AVX-512, AVX2 and baseline x86-64
 * and picked at load time (target_clones), so one binary uses the
 * machine's vector units; other compilers get plain loops.
 */
#include "index/hnsw.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif
#include <string.h>

#include "common/common.h"

enum { MAX_LEVEL = 16, MAX_DIM = 8192, PREFETCH_LINES = 24, SQ_MIN_DIM = 32 };

/* A search reranks the 2k + RERANK_SLACK candidates nearest by code, not
 * all ef of them: the code's error moves a vector a few places at most,
 * and the full vectors of the rest were most of the search's memory reads
 * (8,000 real 384-d embeddings, k 23, ef 128: +14% queries/s, recall
 * unchanged at 0.9993; bench/results/20261208-0007-vector-hash). */
enum { RERANK_SLACK = 16 };

/* The vectors' array with its holders: the graph, and each frozen copy
 * being saved from it on another thread (ix_hnsw_freeze). Only the graph's
 * thread takes a hold; the last holder to let go frees it. */
typedef struct vshare {
    atomic_int refs;
    float *p;
} vshare;

static void vs_release(vshare *vs)
{
    if (vs && atomic_fetch_sub(&vs->refs, 1) == 1) {
        hln_free(vs->p);
        hln_free(vs);
    }
}

struct ix_hnsw {
    int dim;
    ix_metric metric;
    int M, M0, efc;
    double ml;
    uint32_t n, cap, live;
    float *vecs; /* vs->p */
    vshare *vs;
    uint8_t *level;
    uint8_t *dead;
    uint32_t *l0;
    uint32_t **up;
    uint32_t *visit;
    uint32_t epoch;
    uint32_t entry;
    int maxlevel;
    uint64_t rng;
    float *qbuf; /* the query, normalised */
    /* 8-bit codes (sq): codes[id * cstride], zero-padded to a multiple of
       64; the vector is cscale[id] * codes, |that|^2 is cnorm[id] */
    bool sq;
    int cstride;
    int8_t *codes;
    float *cscale, *cnorm;
    int8_t *qcode;        /* the query's code (cstride bytes) */
    const uint8_t *allow; /* during a filtered search: the ids it may return (bitmap) */
    int32_t (*i8dot)(const int8_t *a, const int8_t *b, int n);
    /* scratch heaps */
    ix_hit *cand, *res, *sel;
    int hcap;     /* res and sel */
    int cand_cap; /* cand grows during a search */
};

/* ---- kernels ----------------------------------------------------------- */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define HLN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HLN_CLONES
#endif

#if defined(__GNUC__)
/* eight-float vectors (GCC/Clang vector extension): 256-bit registers on
 * AVX2, the low half of one on AVX-512, SSE pairs on baseline x86-64. This
 * file is compiled with -ffp-contract=fast (CMakeLists.txt), so s += a * b
 * is one fused multiply-add: +20% queries/s (bench/results/20261207-144726-hnsw-fma);
 * sixteen-float vectors measured no faster. */
typedef float v8f __attribute__((vector_size(32)));
/* an unaligned load (macros, not functions: vectors never cross a call) */
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define ld8(p) (*(const v8u *)(p))
#define hsum8(v) ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) + (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))

HLN_CLONES static float k_dot(const float *a, const float *b, int d)
{
    v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 += ld8(a + i) * ld8(b + i);
        s1 += ld8(a + i + 8) * ld8(b + i + 8);
        s2 += ld8(a + i + 16) * ld8(b + i + 16);
        s3 += ld8(a + i + 24) * ld8(b + i + 24);
    }
    for (; i + 8 <= d; i += 8)
        s0 += ld8(a + i) * ld8(b + i);
    v8f st = (s0 + s1) + (s2 + s3);
    float t = hsum8(st);
    for (; i < d; i++)
        t += a[i] * b[i];
    return t;
}

HLN_CLONES static float k_l2(const float *a, const float *b, int d)
{
    v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int i = 0;
    for (; i + 32 <= d; i += 32) {
        v8f x0 = ld8(a + i) - ld8(b + i), x1 = ld8(a + i + 8) - ld8(b + i + 8);
        v8f x2 = ld8(a + i + 16) - ld8(b + i + 16), x3 = ld8(a + i + 24) - ld8(b + i + 24);
        s0 += x0 * x0;
        s1 += x1 * x1;
        s2 += x2 * x2;
        s3 += x3 * x3;
    }
    for (; i + 8 <= d; i += 8) {
        v8f x = ld8(a + i) - ld8(b + i);
        s0 += x * x;
    }
    v8f st = (s0 + s1) + (s2 + s3);
    float t = hsum8(st);
    for (; i < d; i++) {
        float x = a[i] - b[i];
        t += x * x;
    }
    return t;
}
#else
static float k_dot(const float *a, const float *b, int d)
{
    float t = 0;
    for (int i = 0; i < d; i++)
        t += a[i] * b[i];
    return t;
}

static float k_l2(const float *a, const float *b, int d)
{
    float t = 0;
    for (int i = 0; i < d; i++) {
        float x = a[i] - b[i];
        t += x * x;
    }
    return t;
}
#endif

/* 8-bit dot products over n bytes (n a multiple of 64, the padding zero):
 * products of int8 pairs summed in int32 (at most 8192 * 127^2, no
 * overflow). AVX-512BW widens 32 bytes to 16-bit lanes and multiplies
 * pairs into 32-bit sums (vpmaddwd), AVX2 16 bytes; picked once per graph
 * by the CPU (pick_i8dot). */
static int32_t i8dot_plain(const int8_t *a, const int8_t *b, int n)
{
    int32_t t = 0;
    for (int i = 0; i < n; i++)
        t += (int32_t)a[i] * (int32_t)b[i];
    return t;
}

#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx512bw"))) static int32_t i8dot_avx512(const int8_t *a, const int8_t *b,
                                                                int n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (int i = 0; i < n; i += 64) {
        __m512i x0 =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(a + i)));
        __m512i y0 =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(b + i)));
        __m512i x1 =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(a + i + 32)));
        __m512i y1 =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(b + i + 32)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(x0, y0));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(x1, y1));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

__attribute__((target("avx2"))) static int32_t i8dot_avx2(const int8_t *a, const int8_t *b, int n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    for (int i = 0; i < n; i += 32) {
        __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256i y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        __m256i x1 =
            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(a + i + 16)));
        __m256i y1 =
            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b + i + 16)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(x0, y0));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(x1, y1));
    }
    __m256i s = _mm256_add_epi32(s0, s1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    return _mm_cvtsi128_si32(h);
}
#endif

static int32_t (*pick_i8dot(void))(const int8_t *, const int8_t *, int)
{
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bw")) return i8dot_avx512;
    if (__builtin_cpu_supports("avx2")) return i8dot_avx2;
#endif
    return i8dot_plain;
}

/* distance between two stored (or stored and prepared query) vectors */
static inline float dist_raw(const ix_hnsw *h, const float *a, const float *b)
{
    switch (h->metric) {
    case IX_COSINE:
        return 1.0f - k_dot(a, b, h->dim);
    case IX_DOT:
        return -k_dot(a, b, h->dim);
    default:
        return k_l2(a, b, h->dim);
    }
}

static inline const float *vec(const ix_hnsw *h, uint32_t id)
{
    return h->vecs + (size_t)id * (size_t)h->dim;
}

static inline int8_t *code(const ix_hnsw *h, uint32_t id)
{
    return h->codes + (size_t)id * (size_t)h->cstride;
}

/* What a walk measures from: the prepared float vector and, under sq, its
 * code with scale and squared norm. */
typedef struct qry {
    const float *f;
    const int8_t *c;
    float s, n;
} qry;

static inline qry node_qry(const ix_hnsw *h, uint32_t id)
{
    if (!h->sq) return (qry){vec(h, id), NULL, 0, 0};
    return (qry){vec(h, id), code(h, id), h->cscale[id], h->cnorm[id]};
}

/* The distance the graph is walked by: from the codes under sq (a.b is
 * s_a * s_b * (code_a . code_b); |a - b|^2 = |a|^2 + |b|^2 - 2 a.b), else
 * the exact one. Results are reranked exactly (ix_hnsw_search). */
static inline float dist_q(const ix_hnsw *h, const qry *q, uint32_t id)
{
    if (!h->sq) return dist_raw(h, q->f, vec(h, id));
    float ab = q->s * h->cscale[id] * (float)h->i8dot(q->c, code(h, id), h->cstride);
    switch (h->metric) {
    case IX_COSINE:
        return 1.0f - ab;
    case IX_DOT:
        return -ab;
    default:
        return q->n + h->cnorm[id] - 2.0f * ab;
    }
}

static inline float dist_ids(const ix_hnsw *h, uint32_t a, uint32_t b)
{
    qry q = node_qry(h, a);
    return dist_q(h, &q, b);
}

/* Symmetric 8-bit code of v: scale max|v_i| / 127, components rounded,
 * the padding zero. */
static void quantize(const ix_hnsw *h, const float *v, int8_t *dst, float *scale, float *norm)
{
    float mx = 0;
    for (int i = 0; i < h->dim; i++)
        if (fabsf(v[i]) > mx) mx = fabsf(v[i]);
    float sc = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / sc;
    int64_t ss = 0;
    for (int i = 0; i < h->dim; i++) {
        long c = lrintf(v[i] * inv);
        c = c > 127 ? 127 : c < -127 ? -127 : c;
        dst[i] = (int8_t)c;
        ss += c * c;
    }
    memset(dst + h->dim, 0, (size_t)(h->cstride - h->dim));
    *scale = sc;
    *norm = sc * sc * (float)ss;
}

/* The first cache lines of id's vector on their way (the hardware
 * prefetcher follows the rest). */
static inline void prefetch_vec(const ix_hnsw *h, uint32_t id, bool full)
{
#if defined(__GNUC__)
    bool c = h->sq && !full;
    const char *p = c ? (const char *)code(h, id) : (const char *)vec(h, id);
    size_t bytes = c ? (size_t)h->dim : sizeof(float) * (size_t)h->dim;
    for (size_t off = 0; off < bytes && off < 64 * PREFETCH_LINES; off += 64)
        __builtin_prefetch(p + off);
#else
    (void)h;
    (void)id;
    (void)full;
#endif
}

float ix_distance(ix_metric m, const float *a, const float *b, int dim)
{
    switch (m) {
    case IX_COSINE: {
        float ab = k_dot(a, b, dim), aa = k_dot(a, a, dim), bb = k_dot(b, b, dim);
        if (aa <= 0 || bb <= 0) return 1.0f;
        return 1.0f - ab / sqrtf(aa * bb);
    }
    case IX_DOT:
        return -k_dot(a, b, dim);
    default:
        return k_l2(a, b, dim);
    }
}

float ix_score(ix_metric m, float dist)
{
    switch (m) {
    case IX_COSINE:
        return (2.0f - dist) / 2.0f;
    case IX_DOT:
        return (1.0f - dist) / 2.0f;
    default:
        return 1.0f / (1.0f + dist);
    }
}

int ix_metric_parse(const char *s)
{
    if (!s) return -1;
    if (strcasecmp(s, "cosine") == 0) return IX_COSINE;
    if (strcasecmp(s, "dot_product") == 0) return IX_DOT;
    if (strcasecmp(s, "euclidean") == 0) return IX_EUCLIDEAN;
    return -1;
}

/* ---- heaps of (dist, id) ------------------------------------------------
 * max-heap: worst (largest dist) on top; min-heap: nearest on top. */

static inline bool before(const ix_hit *a, const ix_hit *b, bool maxh)
{
    return maxh ? a->dist > b->dist : a->dist < b->dist;
}

static void hpush(ix_hit *hp, int *n, ix_hit x, bool maxh)
{
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!before(&x, &hp[p], maxh)) break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = x;
}

static ix_hit hpop(ix_hit *hp, int *n, bool maxh)
{
    ix_hit top = hp[0], x = hp[--(*n)];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        const ix_hit *best = &x;
        if (l < *n && before(&hp[l], best, maxh)) m = l, best = &hp[l];
        if (r < *n && before(&hp[r], best, maxh)) m = r;
        if (m == i) break;
        hp[i] = hp[m];
        i = m;
    }
    if (*n > 0) hp[i] = x;
    return top;
}

/* ---- lifecycle ------------------------------------------------------------ */

int ix_hnsw_new(ix_hnsw **out, int dim, ix_metric metric, const ix_hnsw_params *p)
{
    *out = NULL;
    if (dim < 1 || dim > MAX_DIM) return HLN_EINVAL;
    ix_hnsw *h = hln_calloc(1, sizeof *h);
    if (!h) return HLN_ENOMEM;
    h->dim = dim;
    h->metric = metric;
    h->M = p && p->M > 1 ? p->M : 16;
    if (h->M > 64) h->M = 64;
    h->M0 = 2 * h->M;
    h->efc = p && p->ef_construction > 0 ? p->ef_construction : 128;
    h->ml = 1.0 / log((double)h->M);
    h->rng = p && p->seed ? p->seed : 0x9E3779B97F4A7C15ull;
    h->entry = UINT32_MAX;
    h->maxlevel = -1;
    h->sq = !(p && p->exact) && dim >= SQ_MIN_DIM;
    h->cstride = (dim + 63) & ~63;
    h->i8dot = pick_i8dot();
    h->qbuf = hln_malloc(sizeof(float) * (size_t)dim);
    h->qcode = hln_malloc((size_t)h->cstride);
    h->vs = hln_calloc(1, sizeof *h->vs);
    if (!h->qbuf || !h->qcode || !h->vs) {
        hln_free(h->qbuf);
        hln_free(h->qcode);
        hln_free(h->vs);
        hln_free(h);
        return HLN_ENOMEM;
    }
    atomic_init(&h->vs->refs, 1);
    *out = h;
    return 0;
}

void ix_hnsw_free(ix_hnsw *h)
{
    if (!h) return;
    if (h->up)
        for (uint32_t i = 0; i < h->n; i++)
            hln_free(h->up[i]);
    hln_free(h->up);
    vs_release(h->vs);
    hln_free(h->level);
    hln_free(h->dead);
    hln_free(h->l0);
    hln_free(h->visit);
    hln_free(h->qbuf);
    hln_free(h->qcode);
    hln_free(h->codes);
    hln_free(h->cscale);
    hln_free(h->cnorm);
    hln_free(h->cand);
    hln_free(h->res);
    hln_free(h->sel);
    hln_free(h);
}

uint32_t ix_hnsw_size(const ix_hnsw *h)
{
    return h->n;
}
uint32_t ix_hnsw_live(const ix_hnsw *h)
{
    return h->live;
}
int ix_hnsw_dim(const ix_hnsw *h)
{
    return h->dim;
}
ix_metric ix_hnsw_metric(const ix_hnsw *h)
{
    return h->metric;
}
const float *ix_hnsw_vector(const ix_hnsw *h, uint32_t id)
{
    return vec(h, id);
}

size_t ix_hnsw_memory(const ix_hnsw *h)
{
    size_t per = sizeof(float) * (size_t)h->dim + 3 + sizeof(uint32_t) * (size_t)(h->M0 + 2) +
                 sizeof(uint32_t *) + (h->sq ? (size_t)h->cstride + 2 * sizeof(float) : 0);
    size_t m = sizeof *h + (size_t)h->cap * per + sizeof(ix_hit) * 3 * (size_t)h->hcap;
    for (uint32_t i = 0; i < h->n; i++)
        if (h->level[i]) m += sizeof(uint32_t) * (size_t)h->level[i] * (size_t)(h->M + 1);
    return m;
}

void ix_hnsw_delete(ix_hnsw *h, uint32_t id)
{
    if (id < h->n && !h->dead[id]) {
        h->dead[id] = 1;
        h->live--;
    }
}

bool ix_hnsw_is_deleted(const ix_hnsw *h, uint32_t id)
{
    return id >= h->n || h->dead[id];
}

static int grow(ix_hnsw *h)
{
    uint32_t cap = h->cap ? h->cap * 2 : 1024;
    size_t bytes = sizeof(float) * (size_t)cap * (size_t)h->dim;
    float *v;
    if (atomic_load(&h->vs->refs) == 1) {
        if (!(v = hln_realloc(h->vecs, bytes))) return HLN_ENOMEM;
        h->vs->p = v;
    } else { /* a frozen copy reads the old array: the graph moves to a new one */
        vshare *ns = hln_malloc(sizeof *ns);
        v = hln_malloc(bytes);
        if (!ns || !v) {
            hln_free(ns);
            hln_free(v);
            return HLN_ENOMEM;
        }
        memcpy(v, h->vecs, sizeof(float) * (size_t)h->n * (size_t)h->dim);
        atomic_init(&ns->refs, 1);
        ns->p = v;
        vs_release(h->vs);
        h->vs = ns;
    }
    h->vecs = v;
    uint8_t *lv = hln_realloc(h->level, cap);
    if (!lv) return HLN_ENOMEM;
    h->level = lv;
    uint8_t *dd = hln_realloc(h->dead, cap);
    if (!dd) return HLN_ENOMEM;
    h->dead = dd;
    uint32_t *l0 = hln_realloc(h->l0, sizeof(uint32_t) * (size_t)cap * (size_t)(h->M0 + 1));
    if (!l0) return HLN_ENOMEM;
    h->l0 = l0;
    uint32_t **up = hln_realloc(h->up, sizeof(uint32_t *) * (size_t)cap);
    if (!up) return HLN_ENOMEM;
    h->up = up;
    uint32_t *vi = hln_realloc(h->visit, sizeof(uint32_t) * (size_t)cap);
    if (!vi) return HLN_ENOMEM;
    memset(vi + h->cap, 0, sizeof(uint32_t) * (size_t)(cap - h->cap));
    h->visit = vi;
    if (h->sq) {
        int8_t *cd = hln_realloc(h->codes, (size_t)cap * (size_t)h->cstride);
        if (!cd) return HLN_ENOMEM;
        h->codes = cd;
        float *cs = hln_realloc(h->cscale, sizeof(float) * (size_t)cap);
        if (!cs) return HLN_ENOMEM;
        h->cscale = cs;
        float *cn = hln_realloc(h->cnorm, sizeof(float) * (size_t)cap);
        if (!cn) return HLN_ENOMEM;
        h->cnorm = cn;
    }
    h->cap = cap;
    return 0;
}

static int ensure_heaps(ix_hnsw *h, int need)
{
    if (need <= h->hcap) return 0;
    int cap = need < 256 ? 256 : need * 2;
    int ccap = h->cand_cap > cap ? h->cand_cap : cap;
    ix_hit *a = hln_realloc(h->cand, sizeof(ix_hit) * (size_t)ccap);
    if (!a) return HLN_ENOMEM;
    h->cand = a;
    h->cand_cap = ccap;
    ix_hit *b = hln_realloc(h->res, sizeof(ix_hit) * (size_t)cap);
    if (!b) return HLN_ENOMEM;
    h->res = b;
    ix_hit *c = hln_realloc(h->sel, sizeof(ix_hit) * (size_t)cap);
    if (!c) return HLN_ENOMEM;
    h->sel = c;
    h->hcap = cap;
    return 0;
}

static inline uint32_t *links(const ix_hnsw *h, uint32_t id, int lv)
{
    return lv == 0 ? h->l0 + (size_t)id * (size_t)(h->M0 + 1)
                   : h->up[id] + (size_t)(lv - 1) * (size_t)(h->M + 1);
}

static void next_epoch(ix_hnsw *h)
{
    if (++h->epoch == 0) {
        memset(h->visit, 0, sizeof(uint32_t) * (size_t)h->cap);
        h->epoch = 1;
    }
}

/* ---- search ---------------------------------------------------------------- */

/* Greedy walk at level lv from *ep towards q. */
static void greedy(const ix_hnsw *h, const qry *q, uint32_t *ep, float *epd, int lv)
{
    bool moved = true;
    while (moved) {
        moved = false;
        const uint32_t *ln = links(h, *ep, lv);
        for (uint32_t i = 1; i <= ln[0]; i++) {
            float d = dist_q(h, q, ln[i]);
            if (d < *epd) {
                *epd = d;
                *ep = ln[i];
                moved = true;
            }
        }
    }
}

/* Whether a search may return e: live and, when filtered, allowed. */
static inline bool keeps(const ix_hnsw *h, uint32_t e)
{
    return !h->dead[e] && (!h->allow || ((h->allow[e >> 3] >> (e & 7)) & 1));
}

/* Beam search at level lv from the entries res[0..*nres) (a max-heap on
 * input and output). live_only: deleted (and, filtered, disallowed) nodes
 * route but are not kept. */
static void beam(ix_hnsw *h, const qry *q, int ef, int lv, int *nres, bool live_only)
{
    next_epoch(h);
    int nc = 0, nr = 0;
    ix_hit *res = h->res, *cand = h->cand;
    /* move the entries: candidates all, results the live ones */
    ix_hit *entries = h->sel;
    int ne = *nres;
    memcpy(entries, res, sizeof(ix_hit) * (size_t)ne);
    for (int i = 0; i < ne; i++) {
        h->visit[entries[i].id] = h->epoch;
        hpush(cand, &nc, entries[i], false);
        if (!live_only || keeps(h, entries[i].id)) hpush(res, &nr, entries[i], true);
    }
    while (nc > 0) {
        ix_hit c = hpop(cand, &nc, false);
        if (nr >= ef && c.dist > res[0].dist) break;
        const uint32_t *ln = links(h, c.id, lv);
        /* the neighbours' vectors are scattered: ask for all of them before
           the first distance (hnswlib's trick), so the loads overlap */
        for (uint32_t i = 1; i <= ln[0]; i++)
            if (h->visit[ln[i]] != h->epoch) prefetch_vec(h, ln[i], false);
        for (uint32_t i = 1; i <= ln[0]; i++) {
            uint32_t e = ln[i];
            if (h->visit[e] == h->epoch) continue;
            h->visit[e] = h->epoch;
            float d = dist_q(h, q, e);
            if (nr < ef || d < res[0].dist) {
                if (nc == h->cand_cap) {
                    ix_hit *g = hln_realloc(h->cand, sizeof(ix_hit) * (size_t)h->cand_cap * 2);
                    if (!g) continue; /* out of memory: the search just sees less */
                    h->cand = cand = g;
                    h->cand_cap *= 2;
                }
                hpush(cand, &nc, (ix_hit){e, d}, false);
                if (!live_only || keeps(h, e)) {
                    hpush(res, &nr, (ix_hit){e, d}, true);
                    if (nr > ef) hpop(res, &nr, true);
                }
            }
        }
    }
    *nres = nr;
}

static int search(ix_hnsw *h, const float *q, int k, int ef, ix_hit *out);

static int cmp_hit(const void *a, const void *b)
{
    const ix_hit *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void swap_hit(ix_hit *a, ix_hit *b)
{
    ix_hit t = *a;
    *a = *b;
    *b = t;
}

/* Moves the k nearest of c[0..n) (cmp_hit's order: by distance, then id)
 * to c[0..k), in no order (quickselect, median of three); 0 < k < n. */
static void select_front(ix_hit *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cmp_hit(&c[mid], &c[lo]) < 0) swap_hit(&c[mid], &c[lo]);
        if (cmp_hit(&c[hi], &c[lo]) < 0) swap_hit(&c[hi], &c[lo]);
        if (cmp_hit(&c[hi], &c[mid]) < 0) swap_hit(&c[hi], &c[mid]);
        ix_hit pv = c[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (cmp_hit(&c[i], &pv) < 0)
                i++;
            while (cmp_hit(&pv, &c[j]) < 0)
                j--;
            if (i <= j) swap_hit(&c[i++], &c[j--]);
        }
        /* c[lo..j] <= pv <= c[i..hi] */
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            return;
    }
}

/* Picks at most m of hits[0..n) (sorted nearest first) by the diversity
 * heuristic; returns how many, compacted at the front of hits. */
static int diverse(const ix_hnsw *h, ix_hit *hits, int n, int m)
{
    int kept = 0;
    for (int i = 0; i < n && kept < m; i++) {
        bool ok = true;
        for (int j = 0; j < kept; j++)
            if (dist_ids(h, hits[i].id, hits[j].id) < hits[i].dist) {
                ok = false;
                break;
            }
        if (ok) hits[kept++] = hits[i];
    }
    return kept;
}

/* Adds link id -> to at level lv, shrinking id's list when it overflows. */
static void link_to(ix_hnsw *h, uint32_t id, uint32_t to, int lv, ix_hit *tmp)
{
    uint32_t *ln = links(h, id, lv);
    uint32_t max = (uint32_t)(lv == 0 ? h->M0 : h->M);
    if (ln[0] < max) {
        ln[++ln[0]] = to;
        return;
    }
    int n = 0;
    qry v = node_qry(h, id);
    for (uint32_t i = 1; i <= ln[0]; i++)
        tmp[n++] = (ix_hit){ln[i], dist_q(h, &v, ln[i])};
    tmp[n++] = (ix_hit){to, dist_q(h, &v, to)};
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_hit);
    int k = diverse(h, tmp, n, (int)max);
    ln[0] = (uint32_t)k;
    for (int i = 0; i < k; i++)
        ln[i + 1] = tmp[i].id;
}

static bool usable(const float *v, int dim, bool nonzero)
{
    bool any = false;
    for (int i = 0; i < dim; i++) {
        if (!isfinite(v[i])) return false;
        if (v[i] != 0) any = true;
    }
    return any || !nonzero;
}

/* q prepared for searching: normalised into qbuf under cosine. */
static const float *prepare(ix_hnsw *h, const float *v, float *dst)
{
    if (h->metric != IX_COSINE) {
        if (dst != v) memcpy(dst, v, sizeof(float) * (size_t)h->dim);
        return dst;
    }
    double ss = 0;
    for (int i = 0; i < h->dim; i++)
        ss += (double)v[i] * v[i];
    float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < h->dim; i++)
        dst[i] = v[i] * inv;
    return dst;
}

static int draw_level(ix_hnsw *h)
{
    /* xorshift64*: a uniform in (0, 1] */
    h->rng ^= h->rng >> 12;
    h->rng ^= h->rng << 25;
    h->rng ^= h->rng >> 27;
    uint64_t x = h->rng * 2685821657736338717ull;
    double u = ((double)(x >> 11) + 1.0) / 9007199254740992.0;
    int l = (int)(-log(u) * h->ml);
    return l < MAX_LEVEL ? l : MAX_LEVEL - 1;
}

int ix_hnsw_add(ix_hnsw *h, const float *v, uint32_t *idout)
{
    if (!usable(v, h->dim, h->metric == IX_COSINE)) return HLN_EINVAL;
    if (h->n == h->cap && grow(h)) return HLN_ENOMEM;
    int need = (h->efc > h->M0 ? h->efc : h->M0) + h->M0 + 2;
    if (ensure_heaps(h, need)) return HLN_ENOMEM;
    uint32_t id = h->n;
    int lv = draw_level(h);
    h->up[id] = NULL;
    if (lv > 0) {
        h->up[id] = hln_calloc((size_t)lv * (size_t)(h->M + 1), sizeof(uint32_t));
        if (!h->up[id]) return HLN_ENOMEM;
    }
    float *dst = h->vecs + (size_t)id * (size_t)h->dim;
    prepare(h, v, dst);
    if (h->sq) quantize(h, dst, code(h, id), &h->cscale[id], &h->cnorm[id]);
    h->level[id] = (uint8_t)lv;
    h->dead[id] = 0;
    h->l0[(size_t)id * (size_t)(h->M0 + 1)] = 0;
    h->visit[id] = 0;
    h->n++;
    h->live++;
    *idout = id;
    if (h->entry == UINT32_MAX) {
        h->entry = id;
        h->maxlevel = lv;
        return 0;
    }
    qry q = node_qry(h, id);
    uint32_t ep = h->entry;
    float epd = dist_q(h, &q, ep);
    for (int l = h->maxlevel; l > lv; l--)
        greedy(h, &q, &ep, &epd, l);
    int nres = 1;
    h->res[0] = (ix_hit){ep, epd};
    /* sel is used by beam() for its entries, so neighbours go to a copy */
    ix_hit *nb = hln_malloc(sizeof(ix_hit) * (size_t)(need + 1));
    ix_hit *tmp = hln_malloc(sizeof(ix_hit) * (size_t)(h->M0 + 2));
    if (!nb || !tmp) {
        hln_free(nb);
        hln_free(tmp);
        return HLN_ENOMEM; /* the node stays, unlinked: still correct, just unreachable */
    }
    for (int l = lv < h->maxlevel ? lv : h->maxlevel; l >= 0; l--) {
        beam(h, &q, h->efc, l, &nres, false);
        /* results (a max-heap) sorted nearest first */
        memcpy(nb, h->res, sizeof(ix_hit) * (size_t)nres);
        qsort(nb, (size_t)nres, sizeof *nb, cmp_hit);
        int m = diverse(h, nb, nres, h->M);
        uint32_t *ln = links(h, id, l);
        ln[0] = (uint32_t)m;
        for (int i = 0; i < m; i++) {
            ln[i + 1] = nb[i].id;
            link_to(h, nb[i].id, id, l, tmp);
        }
        /* the next level starts from this level's results (still in res) */
    }
    hln_free(nb);
    hln_free(tmp);
    if (lv > h->maxlevel) {
        h->maxlevel = lv;
        h->entry = id;
    }
    return 0;
}

int ix_hnsw_search(ix_hnsw *h, const float *q, int k, int ef, ix_hit *out)
{
    return ix_hnsw_search_in(h, q, k, ef, out, NULL);
}

int ix_hnsw_search_in(ix_hnsw *h, const float *q, int k, int ef, ix_hit *out, const uint8_t *allow)
{
    h->allow = allow;
    int n = search(h, q, k, ef, out);
    h->allow = NULL;
    return n;
}

static int search(ix_hnsw *h, const float *q, int k, int ef, ix_hit *out)
{
    if (k <= 0 || h->entry == UINT32_MAX) return 0;
    if (!usable(q, h->dim, h->metric == IX_COSINE)) return -1;
    if (ef < k) ef = k;
    if (ensure_heaps(h, ef + h->M0 + 2)) return -1;
    qry qq = {prepare(h, q, h->qbuf), NULL, 0, 0};
    if (h->sq) {
        quantize(h, qq.f, h->qcode, &qq.s, &qq.n);
        qq.c = h->qcode;
    }
    uint32_t ep = h->entry;
    float epd = dist_q(h, &qq, ep);
    for (int l = h->maxlevel; l > 0; l--)
        greedy(h, &qq, &ep, &epd, l);
    int nres = 1;
    h->res[0] = (ix_hit){ep, epd};
    beam(h, &qq, ef, 0, &nres, true);
    if (h->sq) {
        /* rerank the 2k + RERANK_SLACK nearest by code of the ef candidates
           by the exact distance: the codes only chose them (their full
           vectors asked for first, as in beam) */
        ix_hit *r = h->res;
        while (nres > 2 * k + RERANK_SLACK) /* the farthest by code go first */
            hpop(r, &nres, true);
        for (int i = 0; i < nres; i++)
            prefetch_vec(h, r[i].id, true);
        for (int i = 0; i < nres; i++)
            r[i].dist = dist_raw(h, qq.f, vec(h, r[i].id));
        qsort(r, (size_t)nres, sizeof *r, cmp_hit);
        int n = nres < k ? nres : k;
        memcpy(out, r, sizeof *out * (size_t)n);
        return n;
    }
    while (nres > k)
        hpop(h->res, &nres, true);
    int n = nres;
    for (int i = n - 1; i >= 0; i--)
        out[i] = hpop(h->res, &nres, true);
    return n;
}

int ix_hnsw_rank(ix_hnsw *h, const float *q, ix_hit *c, int n, int keep)
{
    if (!usable(q, h->dim, h->metric == IX_COSINE)) return -1;
    qry qq = {prepare(h, q, h->qbuf), NULL, 0, 0};
    if (keep < 1) keep = 1;
    int m = n;
    if (h->sq && n > 2 * keep + 64) {
        /* by codes first: the 2 * keep + 64 nearest to the front (a
           max-heap of them while scanning) */
        quantize(h, qq.f, h->qcode, &qq.s, &qq.n);
        qq.c = h->qcode;
        m = 2 * keep + 64;
        ix_hit *hp = hln_malloc(sizeof *hp * (size_t)m);
        if (!hp) return -1;
        int nh = 0;
        for (int i = 0; i < n; i++) {
            if (i + 4 < n) prefetch_vec(h, c[i + 4].id, false);
            ix_hit x = {c[i].id, dist_q(h, &qq, c[i].id)};
            if (nh < m) {
                hpush(hp, &nh, x, true);
            } else if (x.dist < hp[0].dist) {
                hpop(hp, &nh, true);
                hpush(hp, &nh, x, true);
            }
        }
        memcpy(c, hp, sizeof *c * (size_t)nh);
        hln_free(hp);
        m = nh;
    }
    for (int i = 0; i < m; i++) {
        if (i + 2 < m) prefetch_vec(h, c[i + 2].id, true);
        c[i].dist = dist_raw(h, qq.f, vec(h, c[i].id));
    }
    if (m > keep) { /* only the keep nearest need an order */
        select_front(c, m, keep);
        m = keep;
    }
    qsort(c, (size_t)m, sizeof *c, cmp_hit);
    return m;
}

/* ---- serialisation ---------------------------------------------------------
 * Native byte order (a marker word refuses a file from another order):
 *   u32 magic "HNSW" | u32 version 1 | u32 0x01020304
 *   i32 dim, metric, M, ef_construction | u32 n, live, entry | i32 maxlevel
 *   u64 rng
 *   f32 vecs[n * dim] | u8 level[n] | u8 dead[n] | u32 l0[n * (2M + 1)]
 *   for each node with level L > 0: u32 up[L * (M + 1)]
 */
enum { SAVE_MAGIC = 0x57534E48u /* "HNSW" */, SAVE_VERSION = 1, BYTE_ORDER_MARK = 0x01020304u };

struct ix_hnsw_frozen {
    int32_t p[4];  /* dim, metric, M, ef_construction */
    uint32_t c[3]; /* n, live, entry */
    int32_t maxlevel;
    uint64_t rng;
    int M0;
    vshare *vs; /* vectors [0, n): written once, at their add, never again */
    uint8_t *level, *dead;
    uint32_t *l0;
    uint32_t *up; /* the upper link lists of the nodes with level > 0, in id order */
    size_t upwords;
};

int ix_hnsw_freeze(ix_hnsw *h, ix_hnsw_frozen **out)
{
    *out = NULL;
    ix_hnsw_frozen *f = hln_calloc(1, sizeof *f);
    if (!f) return HLN_ENOMEM;
    f->p[0] = h->dim;
    f->p[1] = (int32_t)h->metric;
    f->p[2] = h->M;
    f->p[3] = h->efc;
    f->c[0] = h->n;
    f->c[1] = h->live;
    f->c[2] = h->entry;
    f->maxlevel = h->maxlevel;
    f->rng = h->rng;
    f->M0 = h->M0;
    size_t n = h->n, l0w = n * (size_t)(h->M0 + 1);
    for (size_t i = 0; i < n; i++)
        f->upwords += (size_t)h->level[i] * (size_t)(h->M + 1);
    f->level = hln_malloc(n ? n : 1);
    f->dead = hln_malloc(n ? n : 1);
    f->l0 = hln_malloc(sizeof(uint32_t) * (l0w ? l0w : 1));
    f->up = hln_malloc(sizeof(uint32_t) * (f->upwords ? f->upwords : 1));
    if (!f->level || !f->dead || !f->l0 || !f->up) {
        ix_hnsw_frozen_free(f);
        return HLN_ENOMEM;
    }
    if (n) {
        memcpy(f->level, h->level, n);
        memcpy(f->dead, h->dead, n);
        memcpy(f->l0, h->l0, sizeof(uint32_t) * l0w);
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t words = (size_t)h->level[i] * (size_t)(h->M + 1);
        if (words) memcpy(f->up + at, h->up[i], sizeof(uint32_t) * words);
        at += words;
    }
    atomic_fetch_add(&h->vs->refs, 1);
    f->vs = h->vs;
    *out = f;
    return 0;
}

void ix_hnsw_frozen_free(ix_hnsw_frozen *f)
{
    if (!f) return;
    vs_release(f->vs);
    hln_free(f->level);
    hln_free(f->dead);
    hln_free(f->l0);
    hln_free(f->up);
    hln_free(f);
}

uint32_t ix_hnsw_frozen_size(const ix_hnsw_frozen *f)
{
    return f->c[0];
}

int ix_hnsw_frozen_save(const ix_hnsw_frozen *f, ix_write_fn w, void *ud)
{
    uint32_t head[3] = {SAVE_MAGIC, SAVE_VERSION, BYTE_ORDER_MARK};
    uint32_t n = f->c[0];
    int rc;
    if ((rc = w(ud, head, sizeof head)) || (rc = w(ud, f->p, sizeof f->p)) ||
        (rc = w(ud, f->c, sizeof f->c)) || (rc = w(ud, &f->maxlevel, sizeof f->maxlevel)) ||
        (rc = w(ud, &f->rng, sizeof f->rng)))
        return rc;
    if (n == 0) return 0;
    if ((rc = w(ud, f->vs->p, sizeof(float) * (size_t)n * (size_t)f->p[0])) ||
        (rc = w(ud, f->level, n)) || (rc = w(ud, f->dead, n)) ||
        (rc = w(ud, f->l0, sizeof(uint32_t) * (size_t)n * (size_t)(f->M0 + 1))))
        return rc;
    return f->upwords ? w(ud, f->up, sizeof(uint32_t) * f->upwords) : 0;
}

int ix_hnsw_save(const ix_hnsw *h, ix_write_fn w, void *ud)
{
    ix_hnsw_frozen *f;
    int rc = ix_hnsw_freeze((ix_hnsw *)h, &f);
    if (rc) return rc;
    rc = ix_hnsw_frozen_save(f, w, ud);
    ix_hnsw_frozen_free(f);
    return rc;
}

/* A neighbour list as invariant 2 has it: ids in range, not the node,
 * at most max, and at level lv only nodes that reach that level. */
static bool links_ok(const ix_hnsw *h, const uint32_t *ln, uint32_t max, uint32_t self, int lv)
{
    if (ln[0] > max) return false;
    for (uint32_t i = 1; i <= ln[0]; i++)
        if (ln[i] >= h->n || ln[i] == self || h->level[ln[i]] < lv) return false;
    return true;
}

int ix_hnsw_load(ix_hnsw **out, ix_read_fn r, void *ud)
{
    *out = NULL;
    uint32_t head[3], c[3];
    int32_t p[4], ml;
    uint64_t rng;
    int rc;
    if ((rc = r(ud, head, sizeof head)) || (rc = r(ud, p, sizeof p)) || (rc = r(ud, c, sizeof c)) ||
        (rc = r(ud, &ml, sizeof ml)) || (rc = r(ud, &rng, sizeof rng)))
        return rc;
    if (head[0] != SAVE_MAGIC || head[1] != SAVE_VERSION || head[2] != BYTE_ORDER_MARK)
        return HLN_ECORRUPT;
    if (p[1] < IX_COSINE || p[1] > IX_EUCLIDEAN || p[2] < 2 || p[2] > 64) return HLN_ECORRUPT;
    ix_hnsw_params hp = {.M = p[2], .ef_construction = p[3], .seed = rng ? rng : 1};
    ix_hnsw *h;
    if ((rc = ix_hnsw_new(&h, p[0], (ix_metric)p[1], &hp)) != 0)
        return rc == HLN_EINVAL ? HLN_ECORRUPT : rc;
    h->rng = rng;
    uint32_t n = c[0];
    if (c[1] > n || (n && c[2] >= n) || (!n && c[2] != UINT32_MAX) || ml >= MAX_LEVEL ||
        (n && ml < 0)) {
        ix_hnsw_free(h);
        return HLN_ECORRUPT;
    }
    while (h->cap < n)
        if (grow(h)) {
            ix_hnsw_free(h);
            return HLN_ENOMEM;
        }
    h->n = n;
    h->live = c[1];
    h->entry = c[2];
    h->maxlevel = ml;
    for (uint32_t i = 0; i < n; i++)
        h->up[i] = NULL;
    if (n && ((rc = r(ud, h->vecs, sizeof(float) * (size_t)n * (size_t)h->dim)) ||
              (rc = r(ud, h->level, n)) || (rc = r(ud, h->dead, n)) ||
              (rc = r(ud, h->l0, sizeof(uint32_t) * (size_t)n * (size_t)(h->M0 + 1))))) {
        ix_hnsw_free(h);
        return rc;
    }
    uint32_t dead = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        dead += h->dead[i] != 0;
        if (h->sq) quantize(h, vec(h, i), code(h, i), &h->cscale[i], &h->cnorm[i]);
        if (h->level[i] > ml || !links_ok(h, links(h, i, 0), (uint32_t)h->M0, i, 0))
            rc = HLN_ECORRUPT;
        if (rc || !h->level[i]) continue;
        size_t words = (size_t)h->level[i] * (size_t)(h->M + 1);
        if (!(h->up[i] = hln_malloc(sizeof(uint32_t) * words)))
            rc = HLN_ENOMEM;
        else if (!(rc = r(ud, h->up[i], sizeof(uint32_t) * words)))
            for (int l = 1; l <= h->level[i] && !rc; l++)
                if (!links_ok(h, links(h, i, l), (uint32_t)h->M, i, l)) rc = HLN_ECORRUPT;
    }
    if (!rc && (n - dead != h->live || (n && h->level[h->entry] != ml))) rc = HLN_ECORRUPT;
    if (rc) {
        h->n = n; /* free every up[] allocated so far (the rest are NULL) */
        ix_hnsw_free(h);
        return rc;
    }
    *out = h;
    return 0;
}
