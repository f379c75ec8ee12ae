/*
 * workloads.c — the schemas, statements and value generators of
 * helenus-stress's workloads.
 *
 * What: each workload is a table of CQL (schema statements, statements to
 * prepare) plus a generator that turns an operation number into a
 * statement and bound values, and optionally a checker for results. They
 * reproduce the shapes of well-known benchmarks so that numbers mean the
 * same thing here as elsewhere:
 *   standard1-*   cassandra-stress "standard1": blob key, five 34-byte blob
 *                 columns;
 *   feature-*     Feast's Cassandra online store: one row per (entity,
 *                 feature), read back a whole entity with one query;
 *   iot-*         NoSQLBench's cql-iot: (machine, sensor) partitions of a
 *                 time series clustered newest first, TWCS, TTL one day;
 *   blob-*        a DALI-style image store: uuid -> ~110 KB blob;
 *   vector-*      a CassIO/LangChain-style vector table with an SAI index
 *                 and ANN queries, with recall@10 measured against exact
 *                 results computed here (embeddings of low intrinsic
 *                 dimension, see gen_vector).
 *
 * Why deterministic: every key, id and vector is a pure function of its
 * index (and, for values, of --seed), so a read run in a separate process
 * finds what a load run wrote, and two runs against two servers see the
 * same data. Keys never depend on --seed; values and vectors do.
 *
 * Invariants: `next` never allocates (values go into op->scratch or point
 * into the shared pools, which live for the whole run); all statements are
 * fully qualified with keyspace `stress`, created with SimpleStrategy RF 1.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/stress.h"

/* ---- PRNG ------------------------------------------------------------------ */

uint64_t st_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void st_rng_seed(st_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x = st_mix64(x);
        r->s[i] = x;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t st_rand(st_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double st_rand01(st_rng *r)
{
    return (double)(st_rand(r) >> 11) * 0x1.0p-53;
}

uint64_t st_below(st_rng *r, uint64_t n)
{
    /* Lemire's multiply-shift; the tiny bias is irrelevant for load generation */
    return (uint64_t)(((unsigned __int128)st_rand(r) * n) >> 64);
}

double st_gauss(st_rng *r)
{
    double u = st_rand01(r), v = st_rand01(r);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ---- shared pools ---------------------------------------------------------- */

#define POOL_LEN (16u << 20)

int st_shared_init(st_shared *sh, const st_settings *set, const st_workload *w, hln_error *err)
{
    memset(sh, 0, sizeof *sh);
    sh->set = set;
    sh->keys = set->keys > 0 ? set->keys : w->default_keys;
    sh->start_ms = hln_now_micros() / 1000;
    size_t need = (size_t)set->blob_size * 2;
    sh->pool_len = need > POOL_LEN ? need : POOL_LEN;
    sh->pool = hln_malloc(sh->pool_len);
    sh->text_len = 1u << 16;
    sh->text = hln_malloc(sh->text_len + 1);
    if (!sh->pool || !sh->text)
        return hln_fail(err, HLN_ENOMEM, "out of memory for the value pools");
    st_rng r;
    st_rng_seed(&r, set->seed ^ 0x706F6F6Cull);
    for (size_t i = 0; i + 8 <= sh->pool_len; i += 8) {
        uint64_t x = st_rand(&r);
        memcpy(sh->pool + i, &x, 8);
    }
    static const char *words[] = {
        "lorem",  "ipsum", "dolor",   "sit",    "amet",       "consectetur", "adipiscing", "elit",
        "sed",    "do",    "eiusmod", "tempor", "incididunt", "ut",          "labore",     "et",
        "dolore", "magna", "aliqua",  "enim",   "ad",         "minim",       "veniam",     "quis"};
    size_t n = 0;
    while (n < sh->text_len) {
        const char *wd = words[st_below(&r, HLN_ARRAY_LEN(words))];
        size_t l = strlen(wd);
        for (size_t i = 0; i < l && n < sh->text_len; i++)
            sh->text[n++] = wd[i];
        if (n < sh->text_len) sh->text[n++] = ' ';
    }
    sh->text[sh->text_len] = 0;
    return 0;
}

void st_shared_free(st_shared *sh)
{
    hln_free(sh->pool);
    hln_free(sh->text);
    hln_free(sh->base);
    hln_free(sh->qvecs);
    hln_free(sh->truth);
    memset(sh, 0, sizeof *sh);
}

uint64_t st_pick_key(const st_shared *sh, st_rng *rng, uint64_t opno, bool reads)
{
    int dist = sh->set->dist;
    if (dist == ST_DIST_DEFAULT) dist = reads ? ST_DIST_UNIFORM : ST_DIST_SEQ;
    if (dist == ST_DIST_SEQ) return opno % (uint64_t)sh->keys;
    return st_below(rng, (uint64_t)sh->keys);
}

/* A slice of the random pool of length n, at a random offset. */
static const uint8_t *pool_bytes(const st_shared *sh, st_rng *rng, size_t n)
{
    size_t span = sh->pool_len - n;
    return sh->pool + (span ? st_below(rng, span) : 0);
}

/* Scratch space allocator for one op. */
typedef struct scratch {
    st_op *op;
    size_t used;
} scratch;

static uint8_t *sc_alloc(scratch *s, size_t n)
{
    uint8_t *p = s->op->scratch + s->used;
    s->used += n;
    return s->used <= sizeof s->op->scratch ? p : NULL;
}

static void bind_val(st_op *op, const void *p, size_t n)
{
    op->vals[op->nvals++] = cc_val(p, n);
}

static void bind_int(scratch *s, int32_t v)
{
    uint8_t *p = sc_alloc(s, 4);
    cc_put_int(p, v);
    bind_val(s->op, p, 4);
}

static void bind_bigint(scratch *s, int64_t v)
{
    uint8_t *p = sc_alloc(s, 8);
    cc_put_bigint(p, v);
    bind_val(s->op, p, 8);
}

static void bind_double(scratch *s, double v)
{
    uint8_t *p = sc_alloc(s, 8);
    cc_put_double(p, v);
    bind_val(s->op, p, 8);
}

static void bind_text(scratch *s, const char *fmt, unsigned long long v)
{
    char *p = (char *)sc_alloc(s, 48);
    int n = snprintf(p, 48, fmt, v);
    bind_val(s->op, p, (size_t)n);
}

/* A uuid (version 4 layout) that depends only on (ns, i). */
static void bind_uuid(scratch *s, uint64_t ns, uint64_t i)
{
    uint8_t *p = sc_alloc(s, 16);
    uint64_t a = st_mix64(ns * 0x100000001B3ull ^ i), b = st_mix64(a ^ i);
    for (int k = 0; k < 8; k++) {
        p[k] = (uint8_t)(a >> (56 - 8 * k));
        p[8 + k] = (uint8_t)(b >> (56 - 8 * k));
    }
    p[6] = (uint8_t)((p[6] & 0x0F) | 0x40);
    p[8] = (uint8_t)((p[8] & 0x3F) | 0x80);
    bind_val(s->op, p, 16);
}

static void begin(st_op *op, scratch *s, int stmt, bool is_read)
{
    op->stmt = stmt;
    op->nvals = 0;
    op->is_read = is_read;
    op->tag = 0;
    s->op = op;
    s->used = 0;
}

/* Generic result accounting: rows, value bytes, empty reads. */
static void count_rows(const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    if (r->kind != CC_RES_ROWS) return;
    ws->rows += r->nrows;
    int64_t ncells = (int64_t)r->nrows * r->meta.ncols;
    for (int64_t i = 0; i < ncells; i++)
        if (r->cells[i].len > 0) ws->bytes_read += r->cells[i].len;
    if (op->is_read && r->nrows == 0) ws->empty_reads++;
}

#define KS                                                                                         \
    "CREATE KEYSPACE IF NOT EXISTS stress WITH replication = "                                     \
    "{'class': 'SimpleStrategy', 'replication_factor': 1}"

/* ---- standard1 (cassandra-stress) ----------------------------------------------- */

static const char *const std_schema[] = {
    KS,
    "CREATE TABLE IF NOT EXISTS stress.standard1 (key blob PRIMARY KEY, \"C0\" blob, "
    "\"C1\" blob, \"C2\" blob, \"C3\" blob, \"C4\" blob)",
    NULL};
static const char *const std_stmts[] = {
    "INSERT INTO stress.standard1 (key, \"C0\", \"C1\", \"C2\", \"C3\", \"C4\") "
    "VALUES (?, ?, ?, ?, ?, ?)",
    "SELECT key, \"C0\", \"C1\", \"C2\", \"C3\", \"C4\" FROM stress.standard1 WHERE key = ?", NULL};

/* 10-byte keys: the key index in decimal, zero-padded */
static void std_key(scratch *s, uint64_t k)
{
    char *p = (char *)sc_alloc(s, 16);
    snprintf(p, 16, "%010llu", (unsigned long long)(k % 10000000000ull));
    bind_val(s->op, p, 10);
}

static void std_write(const st_shared *sh, st_rng *rng, uint64_t k, st_op *op)
{
    scratch s;
    begin(op, &s, 0, false);
    std_key(&s, k);
    size_t vs = (size_t)sh->set->value_size;
    for (int c = 0; c < 5; c++)
        bind_val(op, pool_bytes(sh, rng, vs), vs);
}

static void std_read(st_rng *rng, uint64_t k, st_op *op)
{
    scratch s;
    (void)rng;
    begin(op, &s, 1, true);
    std_key(&s, k);
}

static void std_next_write(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    std_write(sh, rng, st_pick_key(sh, rng, opno, false), op);
}

static void std_next_read(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    std_read(rng, st_pick_key(sh, rng, opno, true), op);
}

static void std_next_mixed(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    uint64_t k = st_pick_key(sh, rng, opno, true);
    if (st_rand(rng) & 1)
        std_write(sh, rng, k, op);
    else
        std_read(rng, k, op);
}

static void std_check(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    count_rows(op, r, ws);
    if (op->is_read && r->kind == CC_RES_ROWS && r->nrows == 1 && r->meta.ncols == 6) {
        for (int c = 1; c < 6; c++)
            if (cc_cell(r, 0, c).len != sh->set->value_size) {
                ws->check_failures++;
                break;
            }
    }
}

/* ---- feature store (Feast) ---------------------------------------------------------- */

#define FEATURES 20

static const char *const feat_schema[] = {
    KS,
    "CREATE TABLE IF NOT EXISTS stress.features (entity_key text, feature_name text, "
    "value blob, event_ts timestamp, PRIMARY KEY ((entity_key), feature_name))",
    NULL};
static const char *const feat_stmts[] = {
    "INSERT INTO stress.features (entity_key, feature_name, value, event_ts) "
    "VALUES (?, ?, ?, ?)",
    "SELECT feature_name, value, event_ts FROM stress.features WHERE entity_key = ?", NULL};

/* load: operation n writes feature n % 20 of entity n / 20 */
static void feat_next_load(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 0, false);
    uint64_t n = sh->set->dist == ST_DIST_UNIFORM ? st_below(rng, (uint64_t)sh->keys * FEATURES)
                                                  : opno % ((uint64_t)sh->keys * FEATURES);
    bind_text(&s, "entity_%010llu", n / FEATURES);
    bind_text(&s, "feature_%02llu", n % FEATURES);
    size_t vs = (size_t)sh->set->value_size;
    bind_val(op, pool_bytes(sh, rng, vs), vs);
    bind_bigint(&s, sh->start_ms + (int64_t)(opno % 1000000));
}

static void feat_next_read(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 1, true);
    bind_text(&s, "entity_%010llu", st_pick_key(sh, rng, opno, true));
}

static void feat_check(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    (void)sh;
    count_rows(op, r, ws);
    if (op->is_read && r->kind == CC_RES_ROWS && r->nrows != 0 && r->nrows != FEATURES)
        ws->check_failures++;
}

/* ---- feature maps with TTL (collections) ---------------------------------------------- */

/* A feature store that keeps an entity's features in one map<text, float>
 * and its tags in a set<text>, written whole with a TTL (as CassIO writes
 * metadata maps, and feature stores refresh feature vectors): exercises
 * collection cells, column deletions and expiring cells on the write path
 * and collection assembly on the read path. */
#define FMAP_ENTRIES 20

static const char *const fmap_schema[] = {
    KS,
    "CREATE TABLE IF NOT EXISTS stress.feature_maps (entity_key text PRIMARY KEY, "
    "features map<text, float>, tags set<text>) WITH default_time_to_live = 86400",
    NULL};
static const char *const fmap_stmts[] = {
    "INSERT INTO stress.feature_maps (entity_key, features, tags) VALUES (?, ?, ?) "
    "USING TTL 3600",
    "SELECT features, tags FROM stress.feature_maps WHERE entity_key = ?", NULL};

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static void fmap_next_write(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 0, false);
    bind_text(&s, "entity_%010llu", st_pick_key(sh, rng, opno, false));
    /* map<text, float>: 20 entries "f00".."f19" (sorted, as a map is sent) */
    uint8_t *m = sc_alloc(&s, 4 + FMAP_ENTRIES * (4 + 3 + 4 + 4));
    size_t o = 0;
    put_u32(m, FMAP_ENTRIES);
    o = 4;
    for (int i = 0; i < FMAP_ENTRIES; i++) {
        put_u32(m + o, 3);
        m[o + 4] = 'f', m[o + 5] = (uint8_t)('0' + i / 10), m[o + 6] = (uint8_t)('0' + i % 10);
        o += 7;
        put_u32(m + o, 4);
        float f = (float)(st_below(rng, 1000000)) / 1000.0f;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_u32(m + o + 4, bits);
        o += 8;
    }
    bind_val(op, m, o);
    /* set<text>: 3 tags */
    uint8_t *t = sc_alloc(&s, 4 + 3 * (4 + 4));
    put_u32(t, 3);
    for (int i = 0; i < 3; i++) {
        put_u32(t + 4 + 8 * i, 4);
        memcpy(t + 8 + 8 * i, i == 0 ? "tagA" : i == 1 ? "tagB" : "tagC", 4);
    }
    bind_val(op, t, 4 + 3 * 8);
}

static void fmap_next_read(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 1, true);
    bind_text(&s, "entity_%010llu", st_pick_key(sh, rng, opno, true));
}

static void fmap_check(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    (void)sh;
    count_rows(op, r, ws);
    /* a row read back must carry the whole map */
    if (op->is_read && r->kind == CC_RES_ROWS && r->nrows == 1 &&
        (r->cells[0].len != 4 + FMAP_ENTRIES * 15))
        ws->check_failures++;
}

/* ---- IoT time series (NoSQLBench cql-iot) ------------------------------------------------ */

#define SENSORS 10

static const char *const iot_schema[] = {
    KS,
    "CREATE TABLE IF NOT EXISTS stress.iot (machine_id uuid, sensor_name text, "
    "time timestamp, sensor_value double, station_id uuid, data text, "
    "PRIMARY KEY ((machine_id, sensor_name), time)) "
    "WITH CLUSTERING ORDER BY (time DESC) "
    "AND compaction = {'class': 'TimeWindowCompactionStrategy', "
    "'compaction_window_size': '60', 'compaction_window_unit': 'MINUTES'} "
    "AND default_time_to_live = 86400",
    NULL};
static const char *const iot_stmts[] = {
    "INSERT INTO stress.iot (machine_id, sensor_name, time, sensor_value, station_id, data) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    "SELECT machine_id, sensor_name, time, sensor_value, station_id, data FROM stress.iot "
    "WHERE machine_id = ? AND sensor_name = ? LIMIT 10",
    NULL};

/* partition p = (machine p / 10, sensor p % 10) */
static void iot_partition(scratch *s, uint64_t p)
{
    bind_uuid(s, 1, p / SENSORS);
    bind_text(s, "sensor_%llu", p % SENSORS);
}

static void iot_next_write(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 0, false);
    iot_partition(&s, st_pick_key(sh, rng, opno, false));
    bind_bigint(&s, sh->start_ms + (int64_t)opno); /* one distinct millisecond per op */
    bind_double(&s, 100.0 + 5.0 * st_gauss(rng));
    bind_uuid(&s, 2, (opno / (uint64_t)sh->keys) % 100);
    size_t len = 800 + st_below(rng, 401); /* 800..1200 characters, as NoSQLBench */
    size_t off = st_below(rng, sh->text_len - len);
    bind_val(op, sh->text + off, len);
}

static void iot_next_read(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 1, true);
    iot_partition(&s, st_pick_key(sh, rng, opno, true));
}

static void iot_check(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    (void)sh;
    count_rows(op, r, ws);
    if (!op->is_read || r->kind != CC_RES_ROWS) return;
    if (r->nrows > 10) {
        ws->check_failures++;
        return;
    }
    /* newest first */
    for (int32_t i = 1; i < r->nrows; i++)
        if (cc_get_bigint(cc_cell(r, i, 2)) > cc_get_bigint(cc_cell(r, i - 1, 2))) {
            ws->check_failures++;
            return;
        }
}

/* ---- blobs (DALI-style image store) -------------------------------------------------------- */

static const char *const blob_schema[] = {
    KS, "CREATE TABLE IF NOT EXISTS stress.blobs (id uuid PRIMARY KEY, data blob)", NULL};
static const char *const blob_stmts[] = {"INSERT INTO stress.blobs (id, data) VALUES (?, ?)",
                                         "SELECT data FROM stress.blobs WHERE id = ?", NULL};

static void blob_next_load(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 0, false);
    bind_uuid(&s, 3, st_pick_key(sh, rng, opno, false));
    /* +-10% around --blob-size, like a set of JPEGs */
    size_t bs = (size_t)sh->set->blob_size;
    size_t n = bs - bs / 10 + st_below(rng, bs / 5 + 1);
    bind_val(op, pool_bytes(sh, rng, n), n);
}

static void blob_next_read(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 1, true);
    bind_uuid(&s, 3, st_pick_key(sh, rng, opno, true));
}

static void blob_check(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    (void)sh;
    count_rows(op, r, ws);
}

/* ---- vectors (SAI ANN) -------------------------------------------------------------------------
 */

#define LATENT 24 /* intrinsic dimension of the generated embeddings */
#define TOPK 10

static const char *const vec_schema[] = {
    KS, "CREATE TABLE IF NOT EXISTS stress.vectors (id int PRIMARY KEY, v vector<float, %DIM%>)",
    "CREATE CUSTOM INDEX IF NOT EXISTS vectors_v_idx ON stress.vectors (v) "
    "USING 'StorageAttachedIndex'",
    NULL};
static const char *const vec_stmts[] = {
    "INSERT INTO stress.vectors (id, v) VALUES (?, ?)",
    "SELECT id FROM stress.vectors ORDER BY v ANN OF ? LIMIT 10", NULL};

/* A unit vector, a pure function of (seed, stream, i): a random point of a
 * LATENT-dimensional subspace (the seeded matrix `proj`, dim x LATENT) plus a
 * little isotropic noise. Real embeddings have a low intrinsic dimension;
 * i.i.d. Gaussian vectors in 384 dimensions would make every point almost
 * equidistant from every other, and "recall" meaningless for any index. */
static void gen_vector(const float *proj, int dim, uint64_t seed, uint64_t stream, uint64_t i,
                       float *out)
{
    st_rng r;
    st_rng_seed(&r, seed ^ st_mix64(stream * 0x9E37ull + i));
    float z[LATENT];
    for (int l = 0; l < LATENT; l++)
        z[l] = (float)st_gauss(&r);
    double norm = 0;
    for (int d = 0; d < dim; d++) {
        const float *row = proj + (size_t)d * LATENT;
        float x = 0;
        for (int l = 0; l < LATENT; l++)
            x += row[l] * z[l];
        out[d] = x + (float)(0.02 * st_gauss(&r));
        norm += (double)out[d] * out[d];
    }
    float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 1.0f;
    for (int d = 0; d < dim; d++)
        out[d] *= inv;
}

/* Which rows a query of a filtered workload may return (NULL: all). */
typedef bool (*vec_pred)(int query, size_t id);

static int vec_setup_common(st_shared *sh, bool truth, vec_pred pred, hln_error *err)
{
    int dim = sh->set->dim;
    size_t keys = (size_t)sh->keys;
    float *proj = hln_malloc(sizeof(float) * LATENT * (size_t)dim);
    sh->base = hln_malloc(sizeof(float) * keys * (size_t)dim);
    if (!proj || !sh->base) {
        hln_free(proj);
        return hln_fail(err, HLN_ENOMEM, "out of memory for %zu vectors", keys);
    }
    st_rng r;
    st_rng_seed(&r, sh->set->seed ^ 0xCE47u);
    for (size_t i = 0; i < (size_t)LATENT * (size_t)dim; i++)
        proj[i] = (float)(st_gauss(&r) / sqrt((double)LATENT));
    for (size_t i = 0; i < keys; i++)
        gen_vector(proj, dim, sh->set->seed, 1, i, sh->base + i * (size_t)dim);
    if (!truth) {
        hln_free(proj);
        return 0;
    }
    int q = sh->set->queries;
    sh->qvecs = hln_malloc(sizeof(float) * (size_t)q * (size_t)dim);
    sh->truth = hln_malloc(sizeof(int32_t) * (size_t)q * TOPK);
    if (!sh->qvecs || !sh->truth) {
        hln_free(proj);
        return hln_fail(err, HLN_ENOMEM, "out of memory for %d query vectors", q);
    }
    for (int i = 0; i < q; i++)
        gen_vector(proj, dim, sh->set->seed, 2, (uint64_t)i, sh->qvecs + (size_t)i * (size_t)dim);
    hln_free(proj);
    /* exact top-10 by cosine (vectors are unit length: dot product) */
    for (int i = 0; i < q; i++) {
        const float *qv = sh->qvecs + (size_t)i * (size_t)dim;
        float best[TOPK];
        int32_t ids[TOPK];
        int nbest = 0;
        for (size_t k = 0; k < keys; k++) {
            if (pred && !pred(i, k)) continue;
            const float *v = sh->base + k * (size_t)dim;
            float dot = 0;
            for (int d = 0; d < dim; d++)
                dot += qv[d] * v[d];
            if (nbest == TOPK && dot <= best[TOPK - 1]) continue;
            int j = nbest < TOPK ? nbest++ : TOPK - 1;
            while (j > 0 && best[j - 1] < dot) {
                best[j] = best[j - 1];
                ids[j] = ids[j - 1];
                j--;
            }
            best[j] = dot;
            ids[j] = (int32_t)k;
        }
        for (int j = 0; j < TOPK; j++)
            sh->truth[(size_t)i * TOPK + (size_t)j] = j < nbest ? ids[j] : -1;
    }
    return 0;
}

static int vec_setup_load(st_shared *sh, hln_error *err)
{
    return vec_setup_common(sh, false, NULL, err);
}
static int vec_setup_ann(st_shared *sh, hln_error *err)
{
    return vec_setup_common(sh, true, NULL, err);
}

static void bind_vector(scratch *s, const float *v, int dim)
{
    uint8_t *p = sc_alloc(s, (size_t)dim * 4);
    if (!p) return;
    for (int d = 0; d < dim; d++)
        cc_put_float(p + 4 * d, v[d]);
    bind_val(s->op, p, (size_t)dim * 4);
}

static void vec_next_load(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 0, false);
    uint64_t k = st_pick_key(sh, rng, opno, false);
    bind_int(&s, (int32_t)k);
    bind_vector(&s, sh->base + k * (size_t)sh->set->dim, sh->set->dim);
}

static void vec_next_ann(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 1, true);
    uint64_t q = st_below(rng, (uint64_t)sh->set->queries);
    (void)opno;
    op->tag = (int64_t)q;
    bind_vector(&s, sh->qvecs + q * (size_t)sh->set->dim, sh->set->dim);
}

static void vec_check(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    count_rows(op, r, ws);
    if (!op->is_read || r->kind != CC_RES_ROWS || r->meta.ncols < 1) return;
    const int32_t *truth = sh->truth + (size_t)op->tag * TOPK;
    int hit = 0;
    for (int32_t i = 0; i < r->nrows && i < TOPK; i++) {
        int32_t id = cc_get_int(cc_cell(r, i, 0));
        for (int j = 0; j < TOPK; j++)
            if (truth[j] == id) {
                hit++;
                break;
            }
    }
    ws->recall_sum += (double)hit / TOPK;
    ws->recall_n++;
}

/* ---- filtered and per-partition vectors (CassIO's shape) ---------------------------------
 * stress.vfilt: row id in partition id % VF_PARTS, with metadata_s
 * {'p1': y|n, 'p10': y|n}, 'y' for the 1% (id % 100 == 0) and the 10%
 * (id % 10 == 0) of the rows; an SAI index on the vector and one on
 * entries(metadata_s). The reads are the queries a filtered vector store
 * sends: ANN narrowed by a metadata entry, and ANN within one partition;
 * recall@10 against the exact top 10 of the rows the filter lets through. */

#define VF_PARTS 97 /* prime: partitions and the metadata shares are independent */

static const char *const vf_schema[] = {
    KS,
    "CREATE TABLE IF NOT EXISTS stress.vfilt (p int, id int, v vector<float, %DIM%>, "
    "metadata_s map<text, text>, PRIMARY KEY (p, id))",
    "CREATE CUSTOM INDEX IF NOT EXISTS vfilt_v_idx ON stress.vfilt (v) "
    "USING 'StorageAttachedIndex'",
    "CREATE CUSTOM INDEX IF NOT EXISTS vfilt_m_idx ON stress.vfilt (entries(metadata_s)) "
    "USING 'StorageAttachedIndex'",
    NULL};
static const char *const vf_stmts[] = {
    "INSERT INTO stress.vfilt (p, id, v, metadata_s) VALUES (?, ?, ?, ?)",
    "SELECT id FROM stress.vfilt WHERE metadata_s['p1'] = 'y' ORDER BY v ANN OF ? LIMIT 10",
    "SELECT id FROM stress.vfilt WHERE metadata_s['p10'] = 'y' ORDER BY v ANN OF ? LIMIT 10",
    "SELECT id FROM stress.vfilt WHERE p = ? ORDER BY v ANN OF ? LIMIT 10", NULL};

static bool vf_p1(int q, size_t id)
{
    (void)q;
    return id % 100 == 0;
}
static bool vf_p10(int q, size_t id)
{
    (void)q;
    return id % 10 == 0;
}
static bool vf_part(int q, size_t id)
{
    return id % VF_PARTS == (size_t)(q % VF_PARTS);
}
static int vf_setup_p1(st_shared *sh, hln_error *err)
{
    return vec_setup_common(sh, true, vf_p1, err);
}
static int vf_setup_p10(st_shared *sh, hln_error *err)
{
    return vec_setup_common(sh, true, vf_p10, err);
}
static int vf_setup_part(st_shared *sh, hln_error *err)
{
    return vec_setup_common(sh, true, vf_part, err);
}

/* the map<text, text> {'p1': a, 'p10': b} as the protocol serialises it */
static void bind_meta(scratch *s, bool p1, bool p10)
{
    uint8_t *p = sc_alloc(s, 4 + 2 * (4 + 2) + 2 * (4 + 1) + 1);
    if (!p) return;
    size_t n = 0;
    const struct {
        const char *k;
        bool y;
    } kv[2] = {{"p1", p1}, {"p10", p10}};
    p[n++] = 0, p[n++] = 0, p[n++] = 0, p[n++] = 2;
    for (int i = 0; i < 2; i++) {
        size_t kl = strlen(kv[i].k);
        p[n++] = 0, p[n++] = 0, p[n++] = 0, p[n++] = (uint8_t)kl;
        memcpy(p + n, kv[i].k, kl);
        n += kl;
        p[n++] = 0, p[n++] = 0, p[n++] = 0, p[n++] = 1;
        p[n++] = kv[i].y ? 'y' : 'n';
    }
    bind_val(s->op, p, n);
}

static void vf_next_load(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    begin(op, &s, 0, false);
    uint64_t k = st_pick_key(sh, rng, opno, false);
    bind_int(&s, (int32_t)(k % VF_PARTS));
    bind_int(&s, (int32_t)k);
    bind_vector(&s, sh->base + k * (size_t)sh->set->dim, sh->set->dim);
    bind_meta(&s, k % 100 == 0, k % 10 == 0);
}

static void vf_next_query(const st_shared *sh, st_rng *rng, st_op *op, int stmt)
{
    scratch s;
    begin(op, &s, stmt, true);
    uint64_t q = st_below(rng, (uint64_t)sh->set->queries);
    op->tag = (int64_t)q;
    if (stmt == 3) bind_int(&s, (int32_t)(q % VF_PARTS));
    bind_vector(&s, sh->qvecs + q * (size_t)sh->set->dim, sh->set->dim);
}
static void vf_next_p1(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    (void)opno;
    vf_next_query(sh, rng, op, 1);
}
static void vf_next_p10(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    (void)opno;
    vf_next_query(sh, rng, op, 2);
}
static void vf_next_part(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    (void)opno;
    vf_next_query(sh, rng, op, 3);
}

/* ---- protocol path: requests that touch no storage ------------------------------- */

/* A prepared read of system.local: parse, execute, encode and frame a row
 * without touching storage, so it measures the connection, the codec and the
 * request path alone (issue "native protocol complete": the protocol bench). */
static const char *const local_schema[] = {NULL};
static const char *const local_stmts[] = {
    "SELECT release_version FROM system.local WHERE key = 'local'", NULL};

static void local_next(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op)
{
    scratch s;
    (void)sh;
    (void)rng;
    (void)opno;
    begin(op, &s, 0, true);
}

static void local_check(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws)
{
    (void)sh;
    count_rows(op, r, ws);
}

/* ---- the table
 * ------------------------------------------------------------------------------------ */

static const st_workload workloads[] = {
    {"standard1-write", "cassandra-stress standard1 inserts (5 x 34-byte blob columns)", std_schema,
     std_stmts, 100000, false, 1, NULL, std_next_write, std_check},
    {"standard1-read", "cassandra-stress standard1 point reads by key", std_schema, std_stmts,
     100000, true, 2, NULL, std_next_read, std_check},
    {"standard1-mixed", "cassandra-stress standard1, 50% writes / 50% reads", std_schema, std_stmts,
     100000, true, 3, NULL, std_next_mixed, std_check},
    {"feature-load", "Feast online store: one row per (entity, feature), 20 features/entity",
     feat_schema, feat_stmts, 10000, false, 1, NULL, feat_next_load, feat_check},
    {"feature-read", "Feast online store: all 20 features of one entity per read", feat_schema,
     feat_stmts, 10000, true, 2, NULL, feat_next_read, feat_check},
    {"fmap-write", "feature maps: map<text, float> (20) + set<text> (3), TTL 1 h", fmap_schema,
     fmap_stmts, 10000, false, 1, NULL, fmap_next_write, fmap_check},
    {"fmap-read", "feature maps: one entity's map and set per read", fmap_schema, fmap_stmts, 10000,
     true, 2, NULL, fmap_next_read, fmap_check},
    {"iot-write", "NoSQLBench IoT: time-series inserts, TWCS, TTL 1 day", iot_schema, iot_stmts,
     10000, false, 1, NULL, iot_next_write, iot_check},
    {"iot-read", "NoSQLBench IoT: latest 10 readings of a (machine, sensor)", iot_schema, iot_stmts,
     10000, true, 2, NULL, iot_next_read, iot_check},
    {"blob-load", "DALI-style image store: ~110 KB blobs by uuid", blob_schema, blob_stmts, 2000,
     false, 1, NULL, blob_next_load, blob_check},
    {"blob-read", "DALI-style image store: read one image by uuid", blob_schema, blob_stmts, 2000,
     true, 2, NULL, blob_next_read, blob_check},
    {"vector-load", "vector<float, 384> rows with an SAI index", vec_schema, vec_stmts, 10000,
     false, 1, vec_setup_load, vec_next_load, vec_check},
    {"vector-ann", "ANN top-10 queries; recall@10 against exact results", vec_schema, vec_stmts,
     10000, true, 2, vec_setup_ann, vec_next_ann, vec_check},
    {"vfilt-load", "vector rows with metadata_s entries, 97 partitions (SAI on both)", vf_schema,
     vf_stmts, 10000, false, 1, vec_setup_load, vf_next_load, vec_check},
    {"vfilt-ann1", "ANN top-10 where metadata_s['p1'] = 'y' (1% of rows); recall@10", vf_schema,
     vf_stmts, 10000, true, 2, vf_setup_p1, vf_next_p1, vec_check},
    {"vfilt-ann10", "ANN top-10 where metadata_s['p10'] = 'y' (10% of rows); recall@10", vf_schema,
     vf_stmts, 10000, true, 4, vf_setup_p10, vf_next_p10, vec_check},
    {"vfilt-part", "ANN top-10 within one partition (~1% of rows); recall@10", vf_schema, vf_stmts,
     10000, true, 8, vf_setup_part, vf_next_part, vec_check},
    {"proto-local", "protocol path: prepared SELECT release_version FROM system.local",
     local_schema, local_stmts, 1, true, 1, NULL, local_next, local_check},
};

const st_workload *st_find_workload(const char *name)
{
    for (size_t i = 0; i < HLN_ARRAY_LEN(workloads); i++)
        if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
    return NULL;
}

void st_list_workloads(void)
{
    for (size_t i = 0; i < HLN_ARRAY_LEN(workloads); i++)
        printf("  %-16s %s (default --keys %lld)\n", workloads[i].name, workloads[i].summary,
               (long long)workloads[i].default_keys);
}
