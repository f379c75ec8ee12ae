/* test_exec.c — exec: prepared statements, bound values, cross-shard coordination.
 *
 * Runs a real engine (2 shards, so requests coordinated on one shard reach
 * partitions owned by the other) and drives exec directly, the way the
 * network server does: a message to a shard runs ex_query / ex_prepare /
 * ex_execute there, and the test thread waits for done(). What the
 * embedded API cannot reach is tested here: PREPARE metadata, EXECUTE by id
 * (positional and named values, unset values), the unknown-id error, and
 * requests coordinated from shard 1; paging (every page size, writes
 * between pages, LIMIT, PER PARTITION LIMIT, DISTINCT, filtering, token
 * ranges, system tables, foreign and damaged paging states), BATCH, and the
 * shards' caches of prepared plans (hits with changing values, schema
 * changes under a cached plan, eviction).
 * Plain CQL behaviour is covered by the golden tests.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec/exec.h"
#include "exec/execInt.h"

/* ---- md5 ---------------------------------------------------------------- */

static void hex(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_md5(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[16];
        char h[33];
        hln_md5(v[i].in, strlen(v[i].in), NULL, 0, d);
        hex(d, h);
        assert_string_equal(h, v[i].out);
    }
    /* split input hashes like the concatenation */
    uint8_t a[16], b[16];
    hln_md5("ksSELECT 1", 10, NULL, 0, a);
    hln_md5("ks", 2, "SELECT 1", 8, b);
    assert_memory_equal(a, b, 16);
}

/* ---- an engine and requests on its shards --------------------------------- */

static hln_engine *eng;
static char datadir[512];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

enum { Q, P, X, B };

typedef struct job {
    rt_msg msg;
    ex_request req;
    int kind;
    const char *text;
    const uint8_t *id;
    size_t idlen;
    const char *ks;
    ex_value *vals;
    int nvals;
    const char **names;
    int32_t page_size; /* 0: not paged */
    const uint8_t *ps;
    int32_t pslen;
    int btype; /* B: ex_batch of items */
    const ex_batch_item *items;
    int nitems;
    int64_t ts; /* HLN_TS_NONE unless set */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int on_shard;     /* shard the done() callback ran on */
    const char *role; /* the logged-in role, or NULL */
} job;

static void job_done(ex_request *r)
{
    job *j = r->ud;
    hln_shard *s = engine_shard_current();
    pthread_mutex_lock(&j->mu);
    j->on_shard = s ? s->id : -1;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void job_run(rt_shard *self, rt_msg *m)
{
    job *j = (job *)m;
    ex_request_init(&j->req, engine_shard(self), job_done, j);
    j->req.params.keyspace = j->ks;
    j->req.params.values = j->vals;
    j->req.params.nvalues = j->nvals;
    j->req.params.names = j->names;
    if (j->page_size) j->req.params.page_size = j->page_size;
    j->req.params.paging_state = j->ps;
    j->req.params.paging_len = j->pslen;
    if (j->ts) j->req.params.timestamp = j->ts;
    j->req.params.role = j->role;
    if (j->kind == B)
        ex_batch(&j->req, j->btype, j->items, j->nitems);
    else if (j->kind == Q)
        ex_query(&j->req, j->text, strlen(j->text));
    else if (j->kind == P)
        ex_prepare(&j->req, j->text, strlen(j->text));
    else
        ex_execute(&j->req, j->id, j->idlen);
}

static job *run_job(job *j, int shard);

static job *run_full(int shard, int kind, const char *text, const uint8_t *id, size_t idlen,
                     ex_value *vals, int nvals, const char **names)
{
    job *j = calloc(1, sizeof *j);
    j->kind = kind;
    j->text = text;
    j->id = id;
    j->idlen = idlen;
    j->vals = vals;
    j->nvals = nvals;
    j->names = names;
    return run_job(j, shard);
}

/* Runs a prepared job (kind, text... set by the caller) on shard. */
static job *run_job(job *j, int shard)
{
    const char *text = j->text;
    j->ks = "ks";
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->msg.fn = job_run;
    engine_post(&eng->shards[shard], &j->msg);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&j->mu);
            fail_msg("request timed out: %s", text ? text : "(execute)");
        }
    }
    pthread_mutex_unlock(&j->mu);
    assert_int_equal(j->on_shard, shard);
    return j;
}

static job *query(int shard, const char *text)
{
    return run_full(shard, Q, text, NULL, 0, NULL, 0, NULL);
}

static void job_free(job *j)
{
    ex_request_free(&j->req);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void ok(int shard, const char *text)
{
    job *j = query(shard, text);
    if (j->req.rc) fail_msg("%s: %s", text, j->req.err.msg);
    job_free(j);
}

static void expect_err(job *j, int code, const char *msg)
{
    assert_int_equal(j->req.rc, code);
    assert_string_equal(j->req.err.msg, msg);
    job_free(j);
}

static ex_value int_val(uint8_t buf[4], int32_t v)
{
    uint32_t u = (uint32_t)v;
    buf[0] = (uint8_t)(u >> 24);
    buf[1] = (uint8_t)(u >> 16);
    buf[2] = (uint8_t)(u >> 8);
    buf[3] = (uint8_t)u;
    return (ex_value){buf, 4};
}

static int32_t get_int(const ex_value *v)
{
    assert_int_equal(v->len, 4);
    return (int32_t)((uint32_t)v->p[0] << 24 | (uint32_t)v->p[1] << 16 | (uint32_t)v->p[2] << 8 |
                     v->p[3]);
}

static ex_value text_val(const char *s)
{
    return (ex_value){(const uint8_t *)s, (int32_t)strlen(s)};
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("HLN_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(datadir, sizeof datadir, "%s/exec-XXXXXX", base);
    if (!mkdtemp(datadir)) return -1;
    hln_config cfg;
    hln_config_default(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", datadir);
    cfg.shards = 2;
    cfg.plan_cache_entries = 8; /* small: every test also exercises eviction */
    hln_error err = {0};
    if (engine_start(&eng, &cfg, &err)) {
        fprintf(stderr, "engine_start: %s\n", err.msg);
        return -1;
    }
    ok(0, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
          "'replication_factor': 1}");
    ok(0, "CREATE TABLE ks.kv (k int, c int, v text, n int, PRIMARY KEY (k, c))");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hln_error err = {0};
    if (eng) engine_stop(eng, &err);
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_prepare_metadata(void **state)
{
    (void)state;
    const char *q = "INSERT INTO kv (k, c, v) VALUES (?, ?, :val) USING TTL ? AND TIMESTAMP ?";
    job *j = run_full(0, P, q, NULL, 0, NULL, 0, NULL);
    if (j->req.rc) fail_msg("%s", j->req.err.msg);
    const ex_result *res = &j->req.result;
    assert_int_equal(res->kind, EX_PREPARED);
    uint8_t id[16];
    hln_md5("ks", 2, q, strlen(q), id);
    assert_memory_equal(res->id, id, 16);
    assert_int_equal(res->nbinds, 5);
    assert_string_equal(res->binds[0].name, "k");
    assert_string_equal(res->binds[0].ks, "ks");
    assert_string_equal(res->binds[0].table, "kv");
    assert_int_equal(res->binds[0].type->kind, HLN_T_INT);
    assert_string_equal(res->binds[1].name, "c");
    assert_string_equal(res->binds[2].name, "val");
    assert_int_equal(res->binds[2].type->kind, HLN_T_VARCHAR);
    assert_int_equal(res->npk_indexes, 1);
    assert_int_equal(res->pk_indexes[0], 0);
    job_free(j);

    j = run_full(0, P, "SELECT v, n AS total FROM kv WHERE k = ? AND c > ? LIMIT ?", NULL, 0, NULL,
                 0, NULL);
    if (j->req.rc) fail_msg("%s", j->req.err.msg);
    res = &j->req.result;
    assert_int_equal(res->nbinds, 3);
    assert_string_equal(res->binds[2].name, "[limit]");
    assert_int_equal(res->binds[2].type->kind, HLN_T_INT);
    assert_int_equal(res->ncols, 2);
    assert_string_equal(res->cols[0].name, "v");
    assert_string_equal(res->cols[1].name, "total");
    assert_int_equal(res->npk_indexes, 1);
    job_free(j);

    /* pk given by a literal: no pk_indexes */
    j = run_full(0, P, "UPDATE kv USING TTL ? SET n = ? WHERE k = 1 AND c = ?", NULL, 0, NULL, 0,
                 NULL);
    if (j->req.rc) fail_msg("%s", j->req.err.msg);
    res = &j->req.result;
    assert_int_equal(res->nbinds, 3);
    assert_string_equal(res->binds[0].name, "[ttl]");
    assert_string_equal(res->binds[1].name, "n");
    assert_string_equal(res->binds[2].name, "c");
    assert_int_equal(res->npk_indexes, 0);
    job_free(j);

    expect_err(run_full(0, P, "SELECT * FROM nope.t", NULL, 0, NULL, 0, NULL), HLN_ENOTFOUND,
               "keyspace nope does not exist");
}

static void test_execute(void **state)
{
    (void)state;
    const char *ins = "INSERT INTO kv (k, c, v, n) VALUES (?, ?, ?, ?)";
    job *p = run_full(0, P, ins, NULL, 0, NULL, 0, NULL);
    assert_int_equal(p->req.rc, 0);
    uint8_t id[16];
    memcpy(id, p->req.result.id, 16);
    job_free(p);

    /* 40 partitions, coordinated alternately from both shards */
    for (int k = 0; k < 40; k++) {
        uint8_t b0[4], b1[4], b2[4];
        char txt[16];
        snprintf(txt, sizeof txt, "v%d", k);
        ex_value vals[4] = {int_val(b0, k), int_val(b1, 1), text_val(txt), int_val(b2, k * 10)};
        job *j = run_full(k % 2, X, NULL, id, 16, vals, 4, NULL);
        if (j->req.rc) fail_msg("%s", j->req.err.msg);
        assert_int_equal(j->req.result.kind, EX_VOID);
        job_free(j);
    }
    /* read each back through a prepared SELECT, from the other shard */
    p = run_full(1, P, "SELECT k, v, n FROM kv WHERE k = ? AND c = ?", NULL, 0, NULL, 0, NULL);
    assert_int_equal(p->req.rc, 0);
    uint8_t sid[16];
    memcpy(sid, p->req.result.id, 16);
    job_free(p);
    for (int k = 0; k < 40; k++) {
        uint8_t b0[4], b1[4];
        ex_value vals[2] = {int_val(b0, k), int_val(b1, 1)};
        job *j = run_full((k + 1) % 2, X, NULL, sid, 16, vals, 2, NULL);
        if (j->req.rc) fail_msg("%s", j->req.err.msg);
        const ex_result *res = &j->req.result;
        assert_int_equal(res->kind, EX_ROWS);
        assert_int_equal(res->nrows, 1);
        assert_int_equal(get_int(&res->cells[0]), k);
        char txt[16];
        snprintf(txt, sizeof txt, "v%d", k);
        assert_int_equal(res->cells[1].len, (int)strlen(txt));
        assert_memory_equal(res->cells[1].p, txt, strlen(txt));
        assert_int_equal(get_int(&res->cells[2]), k * 10);
        job_free(j);
    }
    /* a full scan from either shard sees every partition once */
    for (int s = 0; s < 2; s++) {
        job *j = query(s, "SELECT k FROM kv");
        assert_int_equal(j->req.rc, 0);
        assert_int_equal(j->req.result.nrows, 40);
        int seen[40] = {0};
        for (int i = 0; i < 40; i++)
            seen[get_int(&j->req.result.cells[i])]++;
        for (int i = 0; i < 40; i++)
            assert_int_equal(seen[i], 1);
        job_free(j);
    }
    /* LIMIT ? */
    {
        uint8_t b[4];
        ex_value lim = int_val(b, 7);
        job *j = run_full(1, Q, "SELECT k FROM kv LIMIT ?", NULL, 0, &lim, 1, NULL);
        assert_int_equal(j->req.rc, 0);
        assert_int_equal(j->req.result.nrows, 7);
        job_free(j);
        lim = int_val(b, -1);
        expect_err(run_full(1, Q, "SELECT k FROM kv LIMIT ?", NULL, 0, &lim, 1, NULL), HLN_EINVAL,
                   "LIMIT must be strictly positive");
    }
}

static void test_named_and_unset(void **state)
{
    (void)state;
    const char *ins = "INSERT INTO kv (k, c, v, n) VALUES (:k, :c, :v, :n)";
    job *p = run_full(0, P, ins, NULL, 0, NULL, 0, NULL);
    assert_int_equal(p->req.rc, 0);
    uint8_t id[16];
    memcpy(id, p->req.result.id, 16);
    job_free(p);

    uint8_t b0[4], b1[4], b2[4];
    const char *names[4] = {"n", "v", "c", "k"};
    ex_value vals[4] = {int_val(b0, 5), text_val("named"), int_val(b1, 2), int_val(b2, 100)};
    job *j = run_full(1, X, NULL, id, 16, vals, 4, names);
    if (j->req.rc) fail_msg("%s", j->req.err.msg);
    job_free(j);

    /* unset n leaves it untouched; v overwritten */
    ex_value vals2[4] = {{NULL, -2}, text_val("again"), int_val(b1, 2), int_val(b2, 100)};
    j = run_full(0, X, NULL, id, 16, vals2, 4, names);
    if (j->req.rc) fail_msg("%s", j->req.err.msg);
    job_free(j);
    j = query(1, "SELECT v, n FROM kv WHERE k = 100 AND c = 2");
    assert_int_equal(j->req.rc, 0);
    assert_int_equal(j->req.result.nrows, 1);
    assert_memory_equal(j->req.result.cells[0].p, "again", 5);
    assert_int_equal(get_int(&j->req.result.cells[1]), 5);
    job_free(j);

    /* null n deletes it */
    ex_value vals3[4] = {{NULL, -1}, text_val("again"), int_val(b1, 2), int_val(b2, 100)};
    j = run_full(0, X, NULL, id, 16, vals3, 4, names);
    assert_int_equal(j->req.rc, 0);
    job_free(j);
    j = query(0, "SELECT n FROM kv WHERE k = 100 AND c = 2");
    assert_int_equal(j->req.result.nrows, 1);
    assert_int_equal(j->req.result.cells[0].len, -1);
    job_free(j);

    /* a missing name */
    const char *bad[4] = {"n", "v", "c", "nope"};
    expect_err(run_full(0, X, NULL, id, 16, vals, 4, bad), HLN_EINVAL,
               "there were 4 markers(?) in CQL but 3 bound variables");
    /* unset partition key */
    ex_value vals4[4] = {int_val(b0, 5), text_val("x"), int_val(b1, 2), {NULL, -2}};
    expect_err(run_full(0, X, NULL, id, 16, vals4, 4, names), HLN_EINVAL,
               "Invalid unset value for column k");
    /* bad value length */
    ex_value vals5[4] = {
        {(const uint8_t *)"abc", 3}, text_val("x"), int_val(b1, 2), int_val(b2, 1)};
    j = run_full(0, X, NULL, id, 16, vals5, 4, names);
    assert_int_equal(j->req.rc, HLN_EINVAL);
    job_free(j);
}

static void test_errors(void **state)
{
    (void)state;
    uint8_t id[16] = {0xde, 0xad, 0xbe, 0xef};
    job *j = run_full(0, X, NULL, id, 16, NULL, 0, NULL);
    assert_int_equal(j->req.rc, HLN_EUNPREPARED);
    assert_memory_equal(j->req.err.id, id, 16);
    assert_non_null(strstr(j->req.err.msg,
                           "Prepared query with ID deadbeef000000000000000000000000 "
                           "not found"));
    job_free(j);

    j = run_full(0, P, "SELECT * FROM kv WHERE k = ?", NULL, 0, NULL, 0, NULL);
    memcpy(id, j->req.result.id, 16);
    job_free(j);
    expect_err(run_full(0, X, NULL, id, 16, NULL, 0, NULL), HLN_EINVAL,
               "there were 1 markers(?) in CQL but 0 bound variables");
    expect_err(run_full(0, Q, "SELECT * FROM kv WHERE k = ?", NULL, 0, NULL, 0, NULL), HLN_EINVAL,
               "Invalid amount of bind variables");
    expect_err(query(0, "SELECT * FROM kv WHERE k = 1 AND c = null"), HLN_EINVAL,
               "Invalid null value in condition for column c");
}

/* Two writes of one cell in quick succession: the later always wins,
 * because the shard's timestamps strictly increase. */
static void test_timestamps(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        char q[128];
        snprintf(q, sizeof q, "UPDATE kv SET n = %d WHERE k = 7 AND c = 7", i);
        ok(i % 2, q);
    }
    job *j = query(0, "SELECT n FROM kv WHERE k = 7 AND c = 7");
    assert_int_equal(get_int(&j->req.result.cells[0]), 199);
    job_free(j);
    int64_t a = ex_next_timestamp(), b = ex_next_timestamp();
    assert_true(b > a);
}

static void test_drop_discards_data(void **state)
{
    (void)state;
    ok(0, "CREATE TABLE ks.d (k int PRIMARY KEY, v int)");
    for (int k = 0; k < 20; k++) {
        char q[128];
        snprintf(q, sizeof q, "INSERT INTO ks.d (k, v) VALUES (%d, %d)", k, k);
        ok(k % 2, q);
    }
    job *j = query(1, "DROP TABLE ks.d");
    assert_int_equal(j->req.rc, 0);
    assert_int_equal(j->req.result.kind, EX_SCHEMA_CHANGE);
    assert_string_equal(j->req.result.change, "DROPPED");
    assert_string_equal(j->req.result.target, "TABLE");
    assert_string_equal(j->req.result.sc_name, "d");
    job_free(j);
    ok(0, "CREATE TABLE ks.d (k int PRIMARY KEY, v int)");
    j = query(0, "SELECT * FROM ks.d");
    assert_int_equal(j->req.rc, 0);
    assert_int_equal(j->req.result.nrows, 0);
    job_free(j);
    j = query(0, "DROP TABLE IF EXISTS ks.nope");
    assert_int_equal(j->req.result.kind, EX_VOID);
    job_free(j);
    j = query(0, "USE ks");
    assert_int_equal(j->req.result.kind, EX_SET_KEYSPACE);
    assert_string_equal(j->req.result.keyspace, "ks");
    job_free(j);
}

/* ---- paging ---------------------------------------------------------------- */

static job *page_job(int shard, const char *text, ex_value *vals, int nvals, int32_t page_size,
                     const uint8_t *ps, int32_t pslen)
{
    job *j = calloc(1, sizeof *j);
    j->kind = Q;
    j->text = text;
    j->vals = vals;
    j->nvals = nvals;
    j->page_size = page_size;
    j->ps = ps;
    j->pslen = pslen;
    return run_job(j, shard);
}

typedef struct pages {
    int32_t *v; /* ncols ints per row */
    int nrows, npages, ncols;
    int max_page; /* most rows in one page */
    bool empty_last;
} pages;

/* Pages through text (int columns only) with page_size rows per page,
 * alternating the coordinating shard; between pages runs between(i). */
static pages fetch_all(const char *text, ex_value *vals, int nvals, int32_t page_size,
                       void (*between)(int page))
{
    pages pg = {0};
    uint8_t *ps = NULL;
    int32_t pslen = 0;
    for (int i = 0;; i++) {
        assert_true(i < 100000);
        job *j = page_job(i % 2, text, vals, nvals, page_size, ps, pslen);
        if (j->req.rc) fail_msg("%s (page %d): %s", text, i, j->req.err.msg);
        const ex_result *res = &j->req.result;
        assert_int_equal(res->kind, EX_ROWS);
        assert_true(page_size <= 0 || res->nrows <= page_size);
        pg.ncols = res->ncols;
        pg.v = realloc(pg.v, sizeof *pg.v * (size_t)(pg.nrows + res->nrows) * (size_t)res->ncols);
        for (int r = 0; r < res->nrows; r++)
            for (int c = 0; c < res->ncols; c++)
                pg.v[(pg.nrows + r) * res->ncols + c] = get_int(&res->cells[r * res->ncols + c]);
        pg.nrows += res->nrows;
        pg.npages++;
        if (res->nrows > pg.max_page) pg.max_page = res->nrows;
        free(ps);
        ps = NULL;
        if (!res->paging_state) {
            pg.empty_last = res->nrows == 0 && i > 0;
            job_free(j);
            break;
        }
        assert_true(res->paging_len > 0);
        pslen = res->paging_len;
        ps = malloc((size_t)pslen);
        memcpy(ps, res->paging_state, (size_t)pslen);
        job_free(j);
        if (between) between(i);
    }
    return pg;
}

static int64_t tok_of(int32_t k)
{
    uint8_t b[4];
    int_val(b, k);
    return hln_murmur3_token(b, 4);
}

static int concurrent_next = 100000;

/* Writes rows (new partitions and new rows of existing ones) while paging. */
static void insert_more(int page)
{
    for (int i = 0; i < 5; i++) {
        char q[160];
        snprintf(q, sizeof q, "INSERT INTO pg (k, c, v) VALUES (%d, %d, 0)",
                 (concurrent_next + i) % 1000 + (i % 2 ? 0 : 5000), 1000 + page * 5 + i);
        ok(i % 2, q);
    }
    concurrent_next += 7;
}

static void test_paging(void **state)
{
    (void)state;
    ok(0, "CREATE TABLE ks.pg (k int, c int, v int, PRIMARY KEY (k, c))");
    int total = 0;
    for (int k = 0; k < 200; k++)
        for (int c = 0; c < k % 7; c++) {
            char q[128];
            snprintf(q, sizeof q, "INSERT INTO ks.pg (k, c, v) VALUES (%d, %d, %d)", k, c, k * c);
            ok(k % 2, q);
            total++;
        }
    /* the unpaged scan is the reference */
    pages all = fetch_all("SELECT k, c FROM pg", NULL, 0, -1, NULL);
    assert_int_equal(all.nrows, total);
    assert_int_equal(all.npages, 1);
    for (int i = 1; i < all.nrows; i++) {
        int64_t a = tok_of(all.v[2 * (i - 1)]), b = tok_of(all.v[2 * i]);
        assert_true(a < b || (a == b && all.v[2 * (i - 1) + 1] < all.v[2 * i + 1]));
    }
    /* every page size gives the same rows in the same order */
    int sizes[] = {1, 2, 3, 5, 6, 7, 50, total - 1, total, total + 1, 5000};
    for (size_t si = 0; si < HLN_ARRAY_LEN(sizes); si++) {
        pages pg = fetch_all("SELECT k, c FROM pg", NULL, 0, sizes[si], NULL);
        assert_int_equal(pg.nrows, total);
        assert_memory_equal(pg.v, all.v, sizeof *pg.v * (size_t)total * 2);
        assert_true(pg.max_page <= sizes[si]);
        /* the only empty page is the last, when a page ended exactly at the
           end of the range in the middle of a partition read */
        if (pg.empty_last) fprintf(stderr, "empty last page with page size %d\n", sizes[si]);
        free(pg.v);
    }
    /* writes between pages: every original row exactly once, no duplicates */
    pages pg = fetch_all("SELECT k, c FROM pg", NULL, 0, 10, insert_more);
    for (int i = 0; i < total; i++) {
        int found = 0;
        for (int r = 0; r < pg.nrows; r++)
            found += pg.v[2 * r] == all.v[2 * i] && pg.v[2 * r + 1] == all.v[2 * i + 1];
        assert_int_equal(found, 1);
    }
    for (int r = 1; r < pg.nrows; r++) {
        int64_t a = tok_of(pg.v[2 * (r - 1)]), b = tok_of(pg.v[2 * r]);
        assert_true(a < b || (a == b && pg.v[2 * (r - 1) + 1] < pg.v[2 * r + 1]));
    }
    free(pg.v);
    free(all.v);

    /* one partition: forward, reversed, a slice, LIMIT across pages */
    for (int c = 0; c < 100; c++) {
        char q[128];
        snprintf(q, sizeof q, "INSERT INTO ks.pg (k, c, v) VALUES (-1, %d, %d)", c, c);
        ok(c % 2, q);
    }
    pg = fetch_all("SELECT c FROM pg WHERE k = -1", NULL, 0, 9, NULL);
    assert_int_equal(pg.nrows, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(pg.v[i], i);
    assert_int_equal(pg.npages, 12);
    free(pg.v);
    pg = fetch_all("SELECT c FROM pg WHERE k = -1 ORDER BY c DESC", NULL, 0, 10, NULL);
    assert_int_equal(pg.nrows, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(pg.v[i], 99 - i);
    assert_int_equal(pg.npages, 10); /* exactly full: no empty page after */
    free(pg.v);
    pg = fetch_all("SELECT c FROM pg WHERE k = -1 AND c >= 20 AND c < 45", NULL, 0, 4, NULL);
    assert_int_equal(pg.nrows, 25);
    assert_int_equal(pg.v[0], 20);
    assert_int_equal(pg.v[24], 44);
    free(pg.v);
    pg = fetch_all("SELECT c FROM pg WHERE k = -1 LIMIT 25", NULL, 0, 10, NULL);
    assert_int_equal(pg.nrows, 25);
    assert_int_equal(pg.npages, 3);
    assert_int_equal(pg.v[24], 24);
    free(pg.v);
    pg = fetch_all("SELECT k, c FROM pg LIMIT 33", NULL, 0, 10, NULL);
    assert_int_equal(pg.nrows, 33);
    assert_int_equal(pg.npages, 4);
    free(pg.v);

    /* PER PARTITION LIMIT and DISTINCT hold across pages */
    pages ref = fetch_all("SELECT k, c FROM pg PER PARTITION LIMIT 2", NULL, 0, -1, NULL);
    pg = fetch_all("SELECT k, c FROM pg PER PARTITION LIMIT 2", NULL, 0, 3, NULL);
    assert_int_equal(pg.nrows, ref.nrows);
    assert_memory_equal(pg.v, ref.v, sizeof *pg.v * (size_t)ref.nrows * 2);
    free(pg.v);
    free(ref.v);
    ref = fetch_all("SELECT DISTINCT k FROM pg", NULL, 0, -1, NULL);
    pg = fetch_all("SELECT DISTINCT k FROM pg", NULL, 0, 4, NULL);
    assert_int_equal(pg.nrows, ref.nrows);
    assert_memory_equal(pg.v, ref.v, sizeof *pg.v * (size_t)ref.nrows);
    free(pg.v);
    free(ref.v);

    /* filtering: storage batches differ from pages */
    ref = fetch_all("SELECT k, c FROM pg WHERE c = 3 ALLOW FILTERING", NULL, 0, -1, NULL);
    assert_true(ref.nrows > 10);
    pg = fetch_all("SELECT k, c FROM pg WHERE c = 3 ALLOW FILTERING", NULL, 0, 4, NULL);
    assert_int_equal(pg.nrows, ref.nrows);
    assert_memory_equal(pg.v, ref.v, sizeof *pg.v * (size_t)ref.nrows * 2);
    free(pg.v);
    free(ref.v);

    /* a token range, paged */
    uint8_t b0[8], b1[8];
    int64_t lo = -3000000000000000000LL, hi = 4000000000000000000LL;
    for (int i = 0; i < 8; i++) {
        b0[i] = (uint8_t)((uint64_t)lo >> (56 - 8 * i));
        b1[i] = (uint8_t)((uint64_t)hi >> (56 - 8 * i));
    }
    ex_value range[2] = {{b0, 8}, {b1, 8}};
    ref = fetch_all("SELECT k, c FROM pg", NULL, 0, -1, NULL);
    pg = fetch_all("SELECT k, c FROM pg WHERE token(k) > ? AND token(k) <= ?", range, 2, 7, NULL);
    int want = 0;
    for (int i = 0; i < ref.nrows; i++) {
        int64_t t = tok_of(ref.v[2 * i]);
        if (t > lo && t <= hi) {
            assert_true(want < pg.nrows);
            assert_int_equal(pg.v[2 * want], ref.v[2 * i]);
            assert_int_equal(pg.v[2 * want + 1], ref.v[2 * i + 1]);
            want++;
        }
    }
    assert_int_equal(pg.nrows, want);
    free(pg.v);
    free(ref.v);

    /* aggregates ignore paging */
    job *j = page_job(1, "SELECT count(*) FROM pg", NULL, 0, 5, NULL, 0);
    assert_int_equal(j->req.rc, 0);
    assert_int_equal(j->req.result.nrows, 1);
    assert_null(j->req.result.paging_state);
    assert_int_equal(j->req.result.cells[0].len, 8);
    job_free(j);

    /* system tables page by offset */
    ref = fetch_all("SELECT position FROM system_schema.columns", NULL, 0, -1, NULL);
    pg = fetch_all("SELECT position FROM system_schema.columns", NULL, 0, 3, NULL);
    assert_int_equal(pg.nrows, ref.nrows);
    assert_true(pg.npages > 2);
    assert_memory_equal(pg.v, ref.v, sizeof *pg.v * (size_t)ref.nrows);
    free(pg.v);
    free(ref.v);

    /* paging states of other queries and garbage are refused */
    j = page_job(0, "SELECT k, c FROM pg", NULL, 0, 5, NULL, 0);
    assert_non_null(j->req.result.paging_state);
    int32_t len = j->req.result.paging_len;
    uint8_t *ps = malloc((size_t)len);
    memcpy(ps, j->req.result.paging_state, (size_t)len);
    job_free(j);
    expect_err(page_job(0, "SELECT k FROM pg", NULL, 0, 5, ps, len), HLN_EINVAL,
               "Invalid value for the paging state: it belongs to another query");
    ps[len - 1] ^= 0xFF;
    j = page_job(0, "SELECT k, c FROM pg", NULL, 0, 5, ps, len);
    assert_true(j->req.rc == 0 || j->req.rc == HLN_EPROTO); /* a ck byte: still a position */
    job_free(j);
    for (int32_t n = 0; n < len - 1; n++) {
        j = page_job(n % 2, "SELECT k, c FROM pg", NULL, 0, 5, ps, n);
        assert_int_equal(j->req.rc, HLN_EPROTO);
        assert_string_equal(j->req.err.msg, "Invalid value for the paging state");
        job_free(j);
    }
    free(ps);
}

/* ---- batches ------------------------------------------------------------- */

static job *batch(int shard, int type, const ex_batch_item *items, int n)
{
    job *j = calloc(1, sizeof *j);
    j->kind = B;
    j->btype = type;
    j->items = items;
    j->nitems = n;
    return run_job(j, shard);
}

static void test_batch(void **state)
{
    (void)state;
    ok(0, "CREATE TABLE ks.bt (k int, c int, v text, PRIMARY KEY (k, c))");
    job *p = run_full(0, P, "INSERT INTO bt (k, c, v) VALUES (?, ?, ?)", NULL, 0, NULL, 0, NULL);
    assert_int_equal(p->req.rc, 0);
    uint8_t id[16];
    memcpy(id, p->req.result.id, 16);
    job_free(p);

    /* 40 partitions over both shards, prepared and text statements mixed */
    enum { N = 80 };
    ex_batch_item items[N];
    uint8_t kb[N][4], cb[N][4];
    ex_value vals[N][3];
    char texts[N][96];
    memset(items, 0, sizeof items);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            snprintf(texts[i], sizeof texts[i],
                     "INSERT INTO bt (k, c, v) VALUES (%d, %d, 'text%d')", i / 2, i % 2, i);
            items[i].cql = texts[i];
            items[i].cqllen = strlen(texts[i]);
        } else {
            snprintf(texts[i], sizeof texts[i], "prep%d", i);
            vals[i][0] = int_val(kb[i], i / 2);
            vals[i][1] = int_val(cb[i], i % 2);
            vals[i][2] = text_val(texts[i]);
            items[i].id = id;
            items[i].idlen = 16;
            items[i].values = vals[i];
            items[i].nvalues = 3;
        }
    }
    for (int type = EX_BATCH_LOGGED; type <= EX_BATCH_UNLOGGED; type++) {
        job *j = batch(type, type, items, N);
        if (j->req.rc) fail_msg("batch: %s", j->req.err.msg);
        assert_int_equal(j->req.result.kind, EX_VOID);
        job_free(j);
        j = query(1 - type, "SELECT k, c, v FROM bt");
        assert_int_equal(j->req.result.nrows, N);
        job_free(j);
    }
    /* one timestamp for the batch: a delete and an insert of the same row
       at the same timestamp, the delete wins (Cassandra's rule) */
    ex_batch_item two[2] = {
        {.cql = "INSERT INTO bt (k, c, v) VALUES (500, 1, 'x')", .cqllen = 45},
        {.cql = "DELETE FROM bt WHERE k = 500", .cqllen = 28},
    };
    job *j = batch(0, EX_BATCH_LOGGED, two, 2);
    assert_int_equal(j->req.rc, 0);
    job_free(j);
    j = query(0, "SELECT * FROM bt WHERE k = 500");
    assert_int_equal(j->req.result.nrows, 0);
    job_free(j);
    /* a range deletion and USING TIMESTAMP inside a batch */
    ex_batch_item three[3] = {
        {.cql = "INSERT INTO bt (k, c, v) VALUES (501, 1, 'a') USING TIMESTAMP 10", .cqllen = 64},
        {.cql = "INSERT INTO bt (k, c, v) VALUES (501, 2, 'b') USING TIMESTAMP 30", .cqllen = 64},
        {.cql = "DELETE FROM bt USING TIMESTAMP 20 WHERE k = 501 AND c >= 0", .cqllen = 58},
    };
    j = batch(1, EX_BATCH_UNLOGGED, three, 3);
    if (j->req.rc) fail_msg("%s", j->req.err.msg);
    job_free(j);
    j = query(1, "SELECT c FROM bt WHERE k = 501");
    assert_int_equal(j->req.result.nrows, 1);
    assert_int_equal(get_int(&j->req.result.cells[0]), 2);
    job_free(j);

    /* errors: nothing of a failed batch is applied */
    ex_batch_item bad[2] = {
        {.cql = "INSERT INTO bt (k, c, v) VALUES (600, 1, 'x')", .cqllen = 45},
        {.cql = "SELECT * FROM bt", .cqllen = 16},
    };
    expect_err(batch(0, EX_BATCH_LOGGED, bad, 2), HLN_EINVAL,
               "Invalid statement in batch: only UPDATE, INSERT and DELETE statements are "
               "allowed.");
    j = query(0, "SELECT * FROM bt WHERE k = 600");
    assert_int_equal(j->req.result.nrows, 0);
    job_free(j);
    uint8_t nope[16] = {1, 2, 3};
    ex_batch_item unk[1] = {{.id = nope, .idlen = 16}};
    j = batch(1, EX_BATCH_LOGGED, unk, 1);
    assert_int_equal(j->req.rc, HLN_EUNPREPARED);
    assert_memory_equal(j->req.err.id, nope, 16);
    job_free(j);
    ex_batch_item few[1] = {{.id = id, .idlen = 16, .values = vals[1], .nvalues = 2}};
    expect_err(batch(0, EX_BATCH_LOGGED, few, 1), HLN_EINVAL,
               "There were 3 markers(?) in CQL but 2 bound variables");
    expect_err(batch(0, EX_BATCH_COUNTER, two, 1), HLN_EINVAL,
               "Cannot include non-counter statement in a counter batch");
    j = batch(0, EX_BATCH_LOGGED, NULL, 0);
    assert_int_equal(j->req.rc, 0);
    assert_int_equal(j->req.result.kind, EX_VOID);
    job_free(j);
}

/* ---- the shards' plan caches (exec/plancache.c) ---------------------------- */

static ex_plan_cache_stats pc_stats(int shard)
{
    ex_plan_cache_stats st;
    ex_plan_cache_stats_get(&eng->shards[shard], &st); /* the shard is idle */
    return st;
}

static void prep_id(int shard, const char *text, uint8_t id[16])
{
    job *p = run_full(shard, P, text, NULL, 0, NULL, 0, NULL);
    if (p->req.rc) fail_msg("%s: %s", text, p->req.err.msg);
    memcpy(id, p->req.result.id, 16);
    job_free(p);
}

/* EXECUTE of id and a QUERY of the same text with the same values fail the
 * same way (the cached plan is not used once the schema changed). */
static void expect_same_failure(const uint8_t id[16], const char *text, ex_value *vals, int n)
{
    job *x = run_full(0, X, NULL, id, 16, vals, n, NULL);
    job *q = run_full(0, Q, text, NULL, 0, vals, n, NULL);
    assert_int_not_equal(x->req.rc, 0);
    assert_int_equal(x->req.rc, q->req.rc);
    assert_string_equal(x->req.err.msg, q->req.err.msg);
    job_free(x);
    job_free(q);
}

static void test_plan_cache(void **state)
{
    (void)state;
    ok(0, "CREATE TABLE ks.pc (k int PRIMARY KEY, a int, b text)");
    const char *ins = "INSERT INTO pc (k, a, b) VALUES (?, ?, ?)";
    const char *get = "SELECT a, b FROM pc WHERE k = ?";
    const char *flt = "SELECT k FROM pc WHERE a = ? ALLOW FILTERING";
    uint8_t iid[16], gid[16], fid[16];
    prep_id(0, ins, iid);
    prep_id(0, get, gid);
    prep_id(1, flt, fid);
    ex_plan_cache_stats before = pc_stats(0);

    /* many executions with different values: each sees its own values */
    for (int k = 0; k < 100; k++) {
        uint8_t b0[4], b1[4];
        char txt[16];
        snprintf(txt, sizeof txt, "b%d", k);
        ex_value vals[3] = {int_val(b0, k), int_val(b1, 1000 + k), text_val(txt)};
        job *j = run_full(0, X, NULL, iid, 16, vals, 3, NULL);
        if (j->req.rc) fail_msg("%s", j->req.err.msg);
        job_free(j);
    }
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 100; k++) {
            uint8_t b0[4];
            ex_value v = int_val(b0, k);
            job *j = run_full((k + round) % 2, X, NULL, gid, 16, &v, 1, NULL);
            if (j->req.rc) fail_msg("%s", j->req.err.msg);
            assert_int_equal(j->req.result.nrows, 1);
            assert_int_equal(get_int(&j->req.result.cells[0]), 1000 + k);
            char txt[16];
            snprintf(txt, sizeof txt, "b%d", k);
            assert_int_equal(j->req.result.cells[1].len, (int)strlen(txt));
            assert_memory_equal(j->req.result.cells[1].p, txt, strlen(txt));
            job_free(j);
        }
    }
    /* a filter's value is per execution, not frozen in the cached plan */
    for (int k = 0; k < 100; k += 7) {
        uint8_t b0[4];
        ex_value v = int_val(b0, 1000 + k);
        job *j = run_full(k % 2, X, NULL, fid, 16, &v, 1, NULL);
        if (j->req.rc) fail_msg("%s", j->req.err.msg);
        assert_int_equal(j->req.result.nrows, 1);
        assert_int_equal(get_int(&j->req.result.cells[0]), k);
        job_free(j);
    }
    ex_plan_cache_stats after = pc_stats(0);
    assert_true(after.hits >= before.hits + 190); /* 100 inserts + 100 reads, minus misses */
    assert_true(after.entries <= 8);

    /* the table dropped and made again without column a: the cached plans
     * are not used; EXECUTE fails exactly as a fresh analysis does */
    ok(1, "DROP TABLE ks.pc");
    ok(1, "CREATE TABLE ks.pc (k int PRIMARY KEY, b text, c int)");
    {
        uint8_t b0[4], b1[4];
        ex_value vals[3] = {int_val(b0, 1), int_val(b1, 2), text_val("x")};
        expect_same_failure(iid, ins, vals, 3);
        expect_same_failure(gid, get, vals, 1);
        expect_same_failure(fid, flt, vals, 1);
    }
    assert_true(pc_stats(0).invalidations > after.invalidations);
    /* a statement over the new columns, and the old ones once a is back */
    ok(0, "INSERT INTO ks.pc (k, b, c) VALUES (5, 'new', 6)");
    ok(1, "DROP TABLE ks.pc");
    ok(1, "CREATE TABLE ks.pc (k int PRIMARY KEY, a text, b text)");
    {
        uint8_t b0[4];
        ex_value vals[3] = {int_val(b0, 5), text_val("now text"), text_val("bb")};
        job *j = run_full(0, X, NULL, iid, 16, vals, 3, NULL);
        if (j->req.rc) fail_msg("%s", j->req.err.msg);
        job_free(j);
        for (int s = 0; s < 2; s++) {
            j = run_full(s, X, NULL, gid, 16, vals, 1, NULL);
            if (j->req.rc) fail_msg("%s", j->req.err.msg);
            assert_int_equal(j->req.result.nrows, 1);
            assert_int_equal(j->req.result.cols[0].type->kind, HLN_T_VARCHAR);
            assert_int_equal(j->req.result.cells[0].len, 8);
            assert_memory_equal(j->req.result.cells[0].p, "now text", 8);
            job_free(j);
        }
        /* an int value for the column that is now text is validated anew */
        uint8_t b1[4];
        ex_value bad[3] = {int_val(b0, 6), int_val(b1, 7), text_val("bb")};
        job *q = run_full(0, Q, ins, NULL, 0, bad, 3, NULL);
        job *x = run_full(0, X, NULL, iid, 16, bad, 3, NULL);
        assert_int_equal(x->req.rc, q->req.rc);
        assert_string_equal(x->req.err.msg, q->req.err.msg);
        job_free(q);
        job_free(x);
    }

    /* eviction: more statements than the cache holds (8), each still right
     * when executed again after being evicted */
    enum { NSTMT = 20 };
    uint8_t ids[NSTMT][16];
    char texts[NSTMT][64];
    for (int i = 0; i < NSTMT; i++) {
        snprintf(texts[i], sizeof texts[i], "SELECT b FROM pc WHERE k = ? LIMIT %d", i + 1);
        prep_id(0, texts[i], ids[i]);
    }
    ex_plan_cache_stats e0 = pc_stats(0);
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < NSTMT; i++) {
            uint8_t b0[4];
            ex_value v = int_val(b0, 5);
            job *j = run_full(0, X, NULL, ids[i], 16, &v, 1, NULL);
            if (j->req.rc) fail_msg("%s", j->req.err.msg);
            assert_int_equal(j->req.result.nrows, 1);
            assert_memory_equal(j->req.result.cells[0].p, "bb", 2);
            job_free(j);
        }
    }
    ex_plan_cache_stats e1 = pc_stats(0);
    assert_true(e1.evictions >= e0.evictions + NSTMT);
    assert_int_equal(e1.entries, 8);
    /* the most recent 8 are hits */
    for (int i = NSTMT - 8; i < NSTMT; i++) {
        uint8_t b0[4];
        ex_value v = int_val(b0, 5);
        job_free(run_full(0, X, NULL, ids[i], 16, &v, 1, NULL));
    }
    assert_int_equal(pc_stats(0).hits, e1.hits + 8);
    ok(0, "DROP TABLE ks.pc");
}

/* ---- remembered authorisation verdicts (access.c, ex_authorize_plan) ------ */

static hln_engine *plain_eng; /* the main group's engine, while this group runs */
static char plain_dir[512];

static int setup_auth(void **state)
{
    (void)state;
    plain_eng = eng;
    memcpy(plain_dir, datadir, sizeof datadir);
    const char *base = getenv("HLN_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(datadir, sizeof datadir, "%s/exec-auth-XXXXXX", base);
    if (!mkdtemp(datadir)) return -1;
    hln_config cfg;
    hln_config_default(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", datadir);
    cfg.shards = 2;
    cfg.password_auth = true;
    cfg.authorization = true;
    cfg.auth_bcrypt_rounds = 4;
    hln_error err = {0};
    if (engine_start(&eng, &cfg, &err)) {
        fprintf(stderr, "engine_start: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown_auth(void **state)
{
    (void)state;
    hln_error err = {0};
    if (eng) engine_stop(eng, &err);
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    eng = plain_eng;
    memcpy(datadir, plain_dir, sizeof datadir);
    return 0;
}

static job *as(const char *role, int kind, const char *text, const uint8_t *id, ex_value *v, int n)
{
    job *j = calloc(1, sizeof *j);
    j->kind = kind;
    j->text = text;
    j->id = id;
    j->idlen = id ? 16 : 0;
    j->vals = v;
    j->nvals = n;
    j->role = role;
    return run_job(j, 0);
}

static void as_ok(const char *role, const char *text)
{
    job *j = as(role, Q, text, NULL, NULL, 0);
    if (j->req.rc) fail_msg("%s: %s", text, j->req.err.msg);
    job_free(j);
}

/* EXECUTE of id as alice: allowed (want_rc 0) or denied with the message a
 * QUERY of the same text gets; returns the shard's auth counters after. */
static ex_plan_cache_stats exec_as_alice(const uint8_t id[16], const char *text, int want_rc)
{
    uint8_t b[4];
    ex_value v = int_val(b, 1);
    job *x = as("alice", X, NULL, id, &v, 1);
    job *q = as("alice", Q, text, NULL, &v, 1);
    assert_int_equal(x->req.rc, want_rc);
    assert_int_equal(q->req.rc, want_rc);
    if (want_rc) {
        assert_string_equal(x->req.err.msg, q->req.err.msg);
        assert_string_equal(x->req.err.msg, "User alice has no SELECT permission on <table "
                                            "ks.t> or any of its parents");
    }
    job_free(x);
    job_free(q);
    return pc_stats(0);
}

static void test_auth_verdicts(void **state)
{
    (void)state;
    as_ok("cassandra", "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
                       "'replication_factor': 1}");
    as_ok("cassandra", "CREATE TABLE ks.t (k int PRIMARY KEY, v int)");
    as_ok("cassandra", "CREATE ROLE alice WITH PASSWORD = 'pw' AND LOGIN = true");
    as_ok("cassandra", "GRANT SELECT ON ks.t TO alice");
    const char *get = "SELECT v FROM ks.t WHERE k = ?";
    uint8_t id[16];
    job *p = as("alice", P, get, NULL, NULL, 0);
    if (p->req.rc) fail_msg("%s", p->req.err.msg);
    memcpy(id, p->req.result.id, 16);
    job_free(p);

    /* the first execution checks, the next ones reuse the verdict */
    ex_plan_cache_stats s0 = exec_as_alice(id, get, 0);
    ex_plan_cache_stats s1 = exec_as_alice(id, get, 0);
    ex_plan_cache_stats s2 = exec_as_alice(id, get, 0);
    assert_int_equal(s1.auth_checks, s0.auth_checks);
    assert_int_equal(s1.auth_reused, s0.auth_reused + 1);
    assert_int_equal(s2.auth_reused, s0.auth_reused + 2);
    /* another role has a verdict of its own */
    {
        uint8_t b[4];
        ex_value v = int_val(b, 1);
        job *x = as("cassandra", X, NULL, id, &v, 1);
        assert_int_equal(x->req.rc, 0);
        job_free(x);
        assert_int_equal(pc_stats(0).auth_checks, s2.auth_checks + 1);
    }
    ex_plan_cache_stats s3 = pc_stats(0);

    /* REVOKE (a role-store version bump): checked again, and denied with
     * the same words as an unprepared statement; the denial is remembered */
    as_ok("cassandra", "REVOKE SELECT ON ks.t FROM alice");
    ex_plan_cache_stats s4 = exec_as_alice(id, get, HLN_EUNAUTHORIZED);
    assert_int_equal(s4.auth_checks, s3.auth_checks + 1);
    ex_plan_cache_stats s5 = exec_as_alice(id, get, HLN_EUNAUTHORIZED);
    assert_int_equal(s5.auth_checks, s4.auth_checks);
    assert_int_equal(s5.auth_reused, s4.auth_reused + 1);

    /* GRANT: allowed again at once */
    as_ok("cassandra", "GRANT SELECT ON ks.t TO alice");
    ex_plan_cache_stats s6 = exec_as_alice(id, get, 0);
    assert_int_equal(s6.auth_checks, s5.auth_checks + 1);
    /* an unrelated grant also moves the version: checked again */
    as_ok("cassandra", "GRANT MODIFY ON ks.t TO alice");
    ex_plan_cache_stats s7 = exec_as_alice(id, get, 0);
    assert_int_equal(s7.auth_checks, s6.auth_checks + 1);
    ex_plan_cache_stats s8 = exec_as_alice(id, get, 0);
    assert_int_equal(s8.auth_checks, s7.auth_checks);

    /* a schema change: the verdict is not reused under the new snapshot */
    as_ok("cassandra", "CREATE TABLE ks.other (k int PRIMARY KEY)");
    ex_plan_cache_stats s9 = exec_as_alice(id, get, 0);
    assert_int_equal(s9.auth_checks, s8.auth_checks + 1);
    assert_int_equal(s9.auth_reused, s8.auth_reused);
    ex_plan_cache_stats s10 = exec_as_alice(id, get, 0);
    assert_int_equal(s10.auth_reused, s9.auth_reused + 1);

    /* unprepared statements are checked on every request, never remembered */
    as_ok("cassandra", "REVOKE SELECT ON ks.t FROM alice");
    job *q = as("alice", Q, "SELECT v FROM ks.t WHERE k = 1", NULL, NULL, 0);
    expect_err(q, HLN_EUNAUTHORIZED,
               "User alice has no SELECT permission on <table ks.t> or any of its parents");
    exec_as_alice(id, get, HLN_EUNAUTHORIZED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_metadata),
        cmocka_unit_test(test_execute),
        cmocka_unit_test(test_plan_cache),
        cmocka_unit_test(test_named_and_unset),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_drop_discards_data),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_batch),
    };
    const struct CMUnitTest pure[] = {cmocka_unit_test(test_md5)};
    const struct CMUnitTest authz[] = {cmocka_unit_test(test_auth_verdicts)};
    int rc = cmocka_run_group_tests(pure, NULL, NULL);
    rc |= cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(authz, setup_auth, teardown_auth);
}
