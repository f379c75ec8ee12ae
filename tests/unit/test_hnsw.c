/* modules: index common */
/*
 * test_hnsw.c — the HNSW graph (src/index/hnsw.c) against brute force.
 *
 * Recall is measured, not assumed: clustered random data (points around a
 * few hundred centres, as embeddings cluster), exact top-10 by scanning,
 * and the graph's answer must find at least 95% of them under every
 * metric, both when the graph is walked by its 8-bit codes (the default
 * for 32 dimensions and more, results reranked exactly) and by exact
 * distances (params.exact). Deleted vectors must never come back; unusable
 * vectors (NaN, infinite, zero under cosine) are refused.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "index/hnsw.h"

enum { N = 6000, DIM = 48, NQ = 100, K = 10 };

static uint64_t rs = 42;
static double urand(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static float grand(void)
{
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static float *make_data(int n, int dim)
{
    enum { C = 200 };
    float *cent = malloc(sizeof(float) * C * (size_t)dim);
    float *d = malloc(sizeof(float) * (size_t)n * (size_t)dim);
    for (int i = 0; i < C * dim; i++)
        cent[i] = grand();
    for (int i = 0; i < n; i++) {
        int c = (int)(urand() * C);
        for (int j = 0; j < dim; j++)
            d[(size_t)i * dim + j] = cent[c * dim + j] + 0.9f * grand();
    }
    free(cent);
    return d;
}

static int cmp_hit(const void *a, const void *b)
{
    const ix_hit *x = a, *y = b;
    return x->dist < y->dist ? -1 : x->dist > y->dist;
}

static double recall_for(ix_metric m, bool exact)
{
    float *d = make_data(N + NQ, DIM);
    ix_hnsw *h;
    ix_hnsw_params p = {.exact = exact};
    assert_int_equal(ix_hnsw_new(&h, DIM, m, &p), 0);
    for (int i = 0; i < N; i++) {
        uint32_t id;
        assert_int_equal(ix_hnsw_add(h, d + (size_t)i * DIM, &id), 0);
        assert_int_equal(id, (uint32_t)i);
    }
    assert_int_equal(ix_hnsw_size(h), N);
    ix_hit *all = malloc(sizeof(ix_hit) * N), got[K];
    int found = 0;
    for (int q = 0; q < NQ; q++) {
        const float *qv = d + (size_t)(N + q) * DIM;
        for (int i = 0; i < N; i++)
            all[i] = (ix_hit){(uint32_t)i, ix_distance(m, qv, d + (size_t)i * DIM, DIM)};
        qsort(all, N, sizeof *all, cmp_hit);
        int n = ix_hnsw_search(h, qv, K, 64, got);
        assert_int_equal(n, K);
        for (int i = 1; i < n; i++)
            assert_true(got[i - 1].dist <= got[i].dist);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < K; j++)
                if (got[i].id == all[j].id) {
                    found++;
                    break;
                }
        /* the graph's distance is the exact one */
        assert_true(fabsf(got[0].dist - ix_distance(m, qv, d + (size_t)got[0].id * DIM, DIM)) <
                    1e-3f);
    }
    free(all);
    ix_hnsw_free(h);
    free(d);
    return (double)found / (NQ * K);
}

static void test_recall_cosine(void **st)
{
    (void)st;
    for (int exact = 0; exact <= 1; exact++) {
        double r = recall_for(IX_COSINE, exact);
        print_message("recall@10 cosine (%s) %.3f\n", exact ? "exact walk" : "8-bit walk", r);
        assert_true(r >= 0.95);
    }
}

static void test_recall_dot(void **st)
{
    (void)st;
    for (int exact = 0; exact <= 1; exact++) {
        double r = recall_for(IX_DOT, exact);
        print_message("recall@10 dot (%s) %.3f\n", exact ? "exact walk" : "8-bit walk", r);
        assert_true(r >= 0.90);
    } /* maximum inner product is harder for any graph */
}

static void test_recall_euclidean(void **st)
{
    (void)st;
    for (int exact = 0; exact <= 1; exact++) {
        double r = recall_for(IX_EUCLIDEAN, exact);
        print_message("recall@10 euclidean (%s) %.3f\n", exact ? "exact walk" : "8-bit walk", r);
        assert_true(r >= 0.95);
    }
}

/* ix_hnsw_search_in: only allowed ids answer, and a filter keeping 30% of
 * the graph still finds the true nearest among them */
static void test_filtered(void **st)
{
    (void)st;
    float *d = make_data(N + NQ, DIM);
    ix_hnsw *h;
    assert_int_equal(ix_hnsw_new(&h, DIM, IX_COSINE, NULL), 0);
    uint8_t *allow = calloc(N / 8 + 1, 1);
    for (int i = 0; i < N; i++) {
        uint32_t id;
        assert_int_equal(ix_hnsw_add(h, d + (size_t)i * DIM, &id), 0);
        if (i % 10 < 3) allow[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    ix_hit *all = malloc(sizeof(ix_hit) * N), got[K];
    int found = 0;
    for (int q = 0; q < NQ; q++) {
        const float *qv = d + (size_t)(N + q) * DIM;
        int na = 0;
        for (int i = 0; i < N; i++)
            if (i % 10 < 3)
                all[na++] =
                    (ix_hit){(uint32_t)i, ix_distance(IX_COSINE, qv, d + (size_t)i * DIM, DIM)};
        qsort(all, (size_t)na, sizeof *all, cmp_hit);
        int n = ix_hnsw_search_in(h, qv, K, 64, got, allow);
        assert_int_equal(n, K);
        for (int i = 0; i < n; i++) {
            assert_true(got[i].id % 10 < 3);
            for (int j = 0; j < K; j++)
                if (got[i].id == all[j].id) {
                    found++;
                    break;
                }
        }
    }
    double r = (double)found / (NQ * K);
    print_message("recall@10 filtered to 30%% %.3f\n", r);
    assert_true(r >= 0.95);
    /* ix_hnsw_rank: the allowed ids ranked (by codes, then exactly) give
       the brute-force order and distances at the front */
    ix_hit *cand = malloc(sizeof(ix_hit) * N);
    for (int q = 0; q < 20; q++) {
        const float *qv = d + (size_t)(N + q) * DIM;
        int na = 0, nc = 0;
        for (int i = 0; i < N; i++)
            if (i % 10 < 3) {
                all[na++] =
                    (ix_hit){(uint32_t)i, ix_distance(IX_COSINE, qv, d + (size_t)i * DIM, DIM)};
                cand[nc++] = (ix_hit){(uint32_t)i, 0};
            }
        qsort(all, (size_t)na, sizeof *all, cmp_hit);
        int m = ix_hnsw_rank(h, qv, cand, nc, K);
        assert_true(m >= K && m < nc);
        for (int i = 0; i < K; i++) {
            assert_int_equal(cand[i].id, all[i].id);
            assert_true(fabsf(cand[i].dist - all[i].dist) < 1e-4f);
        }
    }
    free(cand);
    /* the same graph unfiltered afterwards: every id may answer again */
    int n = ix_hnsw_search(h, d, K, 64, got);
    assert_int_equal(n, K);
    assert_int_equal(got[0].id, 0);
    free(allow);
    free(all);
    ix_hnsw_free(h);
    free(d);
}

static void test_delete(void **st)
{
    (void)st;
    float *d = make_data(2000, 16);
    ix_hnsw *h;
    assert_int_equal(ix_hnsw_new(&h, 16, IX_EUCLIDEAN, NULL), 0);
    for (int i = 0; i < 2000; i++) {
        uint32_t id;
        assert_int_equal(ix_hnsw_add(h, d + (size_t)i * 16, &id), 0);
    }
    for (uint32_t i = 0; i < 2000; i += 2)
        ix_hnsw_delete(h, i);
    ix_hnsw_delete(h, 0); /* idempotent */
    assert_int_equal(ix_hnsw_live(h), 1000);
    ix_hit got[50];
    for (int q = 0; q < 50; q++) {
        /* a deleted vector itself as the query: never returned */
        int n = ix_hnsw_search(h, d + (size_t)(q * 2) * 16, 50, 100, got);
        assert_int_equal(n, 50);
        for (int i = 0; i < n; i++)
            assert_true(got[i].id % 2 == 1);
    }
    /* everything deleted: nothing found */
    for (uint32_t i = 1; i < 2000; i += 2)
        ix_hnsw_delete(h, i);
    assert_int_equal(ix_hnsw_search(h, d, 10, 50, got), 0);
    ix_hnsw_free(h);
    free(d);
}

static void test_bad_vectors(void **st)
{
    (void)st;
    ix_hnsw *h;
    assert_int_equal(ix_hnsw_new(&h, 0, IX_COSINE, NULL), HLN_EINVAL);
    assert_int_equal(ix_hnsw_new(&h, 4, IX_COSINE, NULL), 0);
    float zero[4] = {0}, nan4[4] = {1, NAN, 0, 0}, inf4[4] = {1, INFINITY, 0, 0},
          ok[4] = {1, 2, 3, 4};
    uint32_t id;
    ix_hit got[2];
    assert_int_equal(ix_hnsw_search(h, ok, 2, 10, got), 0); /* empty */
    assert_int_equal(ix_hnsw_add(h, zero, &id), HLN_EINVAL);
    assert_int_equal(ix_hnsw_add(h, nan4, &id), HLN_EINVAL);
    assert_int_equal(ix_hnsw_add(h, inf4, &id), HLN_EINVAL);
    assert_int_equal(ix_hnsw_add(h, ok, &id), 0);
    assert_int_equal(ix_hnsw_search(h, zero, 2, 10, got), -1);
    assert_int_equal(ix_hnsw_search(h, ok, 2, 10, got), 1);
    assert_true(fabsf(ix_score(IX_COSINE, got[0].dist) - 1.0f) < 1e-5f);
    ix_hnsw_free(h);
    /* a zero vector is fine under euclidean */
    assert_int_equal(ix_hnsw_new(&h, 4, IX_EUCLIDEAN, NULL), 0);
    assert_int_equal(ix_hnsw_add(h, zero, &id), 0);
    ix_hnsw_free(h);
}

static void test_scores(void **st)
{
    (void)st;
    float a[3] = {1, 0, 0}, b[3] = {0, 1, 0}, c[3] = {2, 0, 0};
    /* Cassandra: similarity_cosine of orthogonal vectors 0.5, identical 1 */
    assert_true(fabsf(ix_score(IX_COSINE, ix_distance(IX_COSINE, a, b, 3)) - 0.5f) < 1e-6f);
    assert_true(fabsf(ix_score(IX_COSINE, ix_distance(IX_COSINE, a, c, 3)) - 1.0f) < 1e-6f);
    /* dot: (1 + a.b) / 2 */
    assert_true(fabsf(ix_score(IX_DOT, ix_distance(IX_DOT, a, c, 3)) - 1.5f) < 1e-6f);
    /* euclidean: 1 / (1 + d^2) */
    assert_true(fabsf(ix_score(IX_EUCLIDEAN, ix_distance(IX_EUCLIDEAN, a, b, 3)) - 1.0f / 3) <
                1e-6f);
    assert_int_equal(ix_metric_parse("COSINE"), IX_COSINE);
    assert_int_equal(ix_metric_parse("dot_product"), IX_DOT);
    assert_int_equal(ix_metric_parse("euclidean"), IX_EUCLIDEAN);
    assert_int_equal(ix_metric_parse("manhattan"), -1);
}

/* ---- save / load -------------------------------------------------------- */

typedef struct membuf {
    unsigned char *p;
    size_t len, cap, pos;
} membuf;

static int mem_write(void *ud, const void *p, size_t n)
{
    membuf *b = ud;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static int mem_read(void *ud, void *p, size_t n)
{
    membuf *b = ud;
    if (b->pos + n > b->len) return HLN_ECORRUPT;
    memcpy(p, b->p + b->pos, n);
    b->pos += n;
    return 0;
}

/* dim 24 walks by exact distances, 40 by codes (rebuilt by load) */
static void save_load(int dim)
{
    float *d = make_data(3000, dim);
    ix_hnsw *h, *g;
    assert_int_equal(ix_hnsw_new(&h, dim, IX_COSINE, NULL), 0);
    for (int i = 0; i < 3000; i++) {
        uint32_t id;
        assert_int_equal(ix_hnsw_add(h, d + (size_t)i * dim, &id), 0);
    }
    for (uint32_t i = 0; i < 3000; i += 7)
        ix_hnsw_delete(h, i);
    membuf b = {0};
    assert_int_equal(ix_hnsw_save(h, mem_write, &b), 0);
    assert_int_equal(ix_hnsw_load(&g, mem_read, &b), 0);
    assert_int_equal(ix_hnsw_size(g), ix_hnsw_size(h));
    assert_int_equal(ix_hnsw_live(g), ix_hnsw_live(h));
    ix_hit a[10], c[10];
    for (int q = 0; q < 30; q++) {
        int na = ix_hnsw_search(h, d + (size_t)q * dim, 10, 50, a);
        int nc = ix_hnsw_search(g, d + (size_t)q * dim, 10, 50, c);
        assert_int_equal(na, nc);
        for (int i = 0; i < na; i++) {
            assert_int_equal(a[i].id, c[i].id);
            assert_true(a[i].dist == c[i].dist);
        }
    }
    /* the loaded graph keeps growing like the original */
    uint32_t id;
    assert_int_equal(ix_hnsw_add(g, d, &id), 0);
    assert_int_equal(id, 3000);
    ix_hnsw_free(g);
    /* damage: every truncation and a sweep of flipped bytes is refused or
       loads a graph that is still consistent, never a crash */
    for (size_t cut = 0; cut < b.len; cut += b.len / 97 + 1) {
        membuf t = {b.p, cut, b.cap, 0};
        assert_int_not_equal(ix_hnsw_load(&g, mem_read, &t), 0);
    }
    for (size_t at = 0; at < b.len; at += b.len / 211 + 1) {
        unsigned char keep = b.p[at];
        b.p[at] ^= 0x5a;
        b.pos = 0;
        if (ix_hnsw_load(&g, mem_read, &b) == 0) {
            ix_hnsw_search(g, d, 10, 50, a); /* whatever it finds, safely */
            ix_hnsw_free(g);
        }
        b.p[at] = keep;
    }
    free(b.p);
    ix_hnsw_free(h);
    free(d);
}

static void test_save_load(void **st)
{
    (void)st;
    save_load(24);
    save_load(40);
}

/* A frozen copy saves the graph as it was when frozen, byte for byte,
 * while the graph goes on growing (its vector array moving to a new one
 * under the copy), deleting and relinking, and also after the graph is
 * freed (ASan: no read of freed memory). */
static void frozen_copy(bool free_graph_first)
{
    enum { DIM = 40, FIRST = 1500, MORE = 3000 };
    float *d = make_data(FIRST + MORE, DIM);
    ix_hnsw *h;
    assert_int_equal(ix_hnsw_new(&h, DIM, IX_COSINE, NULL), 0);
    uint32_t id;
    for (int i = 0; i < FIRST; i++)
        assert_int_equal(ix_hnsw_add(h, d + (size_t)i * DIM, &id), 0);
    for (uint32_t i = 0; i < FIRST; i += 11)
        ix_hnsw_delete(h, i);
    membuf want = {0}, got = {0};
    assert_int_equal(ix_hnsw_save(h, mem_write, &want), 0);
    ix_hnsw_frozen *f;
    assert_int_equal(ix_hnsw_freeze(h, &f), 0);
    assert_int_equal(ix_hnsw_frozen_size(f), FIRST);
    for (int i = FIRST; i < FIRST + MORE; i++) /* 1500 -> 4500: the array grows twice */
        assert_int_equal(ix_hnsw_add(h, d + (size_t)i * DIM, &id), 0);
    for (uint32_t i = 1; i < FIRST + MORE; i += 13)
        ix_hnsw_delete(h, i);
    if (free_graph_first) ix_hnsw_free(h);
    assert_int_equal(ix_hnsw_frozen_save(f, mem_write, &got), 0);
    ix_hnsw_frozen_free(f);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.p, want.p, want.len);
    if (!free_graph_first) {
        /* and the graph itself is whole: it saves and loads with all of them */
        membuf now = {0};
        assert_int_equal(ix_hnsw_save(h, mem_write, &now), 0);
        ix_hnsw *g;
        assert_int_equal(ix_hnsw_load(&g, mem_read, &now), 0);
        assert_int_equal(ix_hnsw_size(g), FIRST + MORE);
        ix_hnsw_free(g);
        free(now.p);
        ix_hnsw_free(h);
    }
    free(want.p);
    free(got.p);
    free(d);
}

static void test_frozen_copy(void **st)
{
    (void)st;
    frozen_copy(false);
    frozen_copy(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recall_cosine),    cmocka_unit_test(test_recall_dot),
        cmocka_unit_test(test_recall_euclidean), cmocka_unit_test(test_filtered),
        cmocka_unit_test(test_delete),           cmocka_unit_test(test_bad_vectors),
        cmocka_unit_test(test_scores),           cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_frozen_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
