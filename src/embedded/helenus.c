/*
 * helenus.c — the embedded API (include/helenus.h) over the engine.
 *
 * What: hln_open starts the same engine the server runs (shard threads,
 * storage, commitlog replay) with no network listener; hln_exec hands a
 * statement to shard 0 as a message and waits for its completion; results
 * are exposed through an iterator.
 *
 * Why a message to a shard rather than a direct call: storage may only be
 * touched on its shard's thread, and exec already routes each partition to
 * its owner. The calling thread only waits, so embedded and server use one
 * code path.
 *
 * Invariants:
 *  1. An hln_result owns its ex_request (and so the arena holding every
 *     value) until hln_result_free.
 *  2. hln_db is used by one thread at a time; the session keyspace (USE)
 *     belongs to the db handle, as it belongs to a connection in the server.
 */
#include "helenus.h"

#include <pthread.h>
#include <string.h>

#include "exec/exec.h"
#include "exec/node.h"

struct hln_db {
    hln_engine *eng;
    char *keyspace;
    char errmsg[600];
};

typedef struct job {
    rt_msg msg;
    ex_request req;
    const char *cql;
    size_t len;
    ex_value *vals;
    int nvals;
    const char *keyspace;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} job;

struct hln_result {
    job *j;
    int row; /* current row, -1 before the first hln_result_next */
    hln_buf text;
};

hln_value hln_int(int32_t v)
{
    hln_value x = {.len = 4};
    for (int i = 0; i < 4; i++)
        x.buf[i] = (uint8_t)((uint32_t)v >> (24 - 8 * i));
    return x;
}

hln_value hln_bigint(int64_t v)
{
    hln_value x = {.len = 8};
    for (int i = 0; i < 8; i++)
        x.buf[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    return x;
}

hln_value hln_double(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return hln_bigint((int64_t)u);
}

hln_value hln_bool(int v)
{
    hln_value x = {.len = 1};
    x.buf[0] = v ? 1 : 0;
    return x;
}

hln_value hln_text(const char *s)
{
    return hln_blob(s, strlen(s));
}

hln_value hln_blob(const void *p, size_t n)
{
    hln_value x = {.data = p, .len = (int32_t)n};
    return x;
}

hln_value hln_null(void)
{
    hln_value x = {.len = -1};
    return x;
}

int hln_open(const char *dir, const hln_open_options *opts, hln_db **out)
{
    *out = NULL;
    hln_db *db = hln_calloc(1, sizeof *db);
    if (!db) return HLN_ENOMEM;
    hln_config cfg;
    hln_config_default(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    cfg.shards = opts && opts->shards > 0 ? opts->shards : 1;
    if (opts && opts->sync_batch) cfg.storage.sync = ST_SYNC_BATCH;
    hln_error err = {0};
    int rc = engine_start(&db->eng, &cfg, &err);
    if (rc) {
        snprintf(db->errmsg, sizeof db->errmsg, "%s", err.msg);
        *out = db; /* so the caller can read hln_db_errmsg, then hln_close */
        return rc;
    }
    *out = db;
    return HLN_OK;
}

int hln_close(hln_db *db)
{
    if (!db) return HLN_OK;
    int rc = HLN_OK;
    if (db->eng) {
        hln_error err = {0};
        rc = engine_stop(db->eng, &err);
    }
    hln_free(db->keyspace);
    hln_free(db);
    return rc;
}

const char *hln_db_errmsg(hln_db *db)
{
    return db ? db->errmsg : "no database";
}

static void job_done(ex_request *r)
{
    job *j = r->ud;
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void job_run(rt_shard *self, rt_msg *m)
{
    job *j = (job *)m;
    ex_request_init(&j->req, engine_shard(self), job_done, j);
    j->req.params.keyspace = j->keyspace;
    j->req.params.values = j->vals;
    j->req.params.nvalues = j->nvals;
    ex_query(&j->req, j->cql, j->len);
}

static void job_free(job *j)
{
    ex_request_free(&j->req);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    hln_free(j->vals);
    hln_free(j);
}

int hln_exec(hln_db *db, const char *cql, const hln_value *vals, int n, hln_result **out)
{
    if (out) *out = NULL;
    if (!db || !db->eng) return HLN_EINVAL;
    job *j = hln_calloc(1, sizeof *j);
    if (!j) return HLN_ENOMEM;
    j->cql = cql;
    j->len = strlen(cql);
    j->keyspace = db->keyspace;
    if (n > 0) {
        j->vals = hln_calloc((size_t)n, sizeof *j->vals);
        if (!j->vals) {
            hln_free(j);
            return HLN_ENOMEM;
        }
        for (int i = 0; i < n; i++) {
            j->vals[i].p = vals[i].data ? vals[i].data : vals[i].buf;
            j->vals[i].len = vals[i].len;
        }
        j->nvals = n;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->msg.fn = job_run;
    engine_post(&db->eng->shards[0], &j->msg);
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);

    int rc = j->req.rc;
    if (rc) {
        snprintf(db->errmsg, sizeof db->errmsg, "%s", j->req.err.msg);
        job_free(j);
        return rc;
    }
    db->errmsg[0] = 0;
    if (j->req.result.kind == EX_SET_KEYSPACE && j->req.result.keyspace) {
        hln_free(db->keyspace);
        db->keyspace = hln_strdup(j->req.result.keyspace);
    }
    if (!out) {
        job_free(j);
        return HLN_OK;
    }
    hln_result *r = hln_calloc(1, sizeof *r);
    if (!r) {
        job_free(j);
        return HLN_ENOMEM;
    }
    r->j = j;
    r->row = -1;
    hln_buf_init(&r->text);
    *out = r;
    return HLN_OK;
}

static const ex_result *res(const hln_result *r)
{
    return &r->j->req.result;
}

int hln_result_columns(const hln_result *r)
{
    return res(r)->kind == EX_ROWS ? res(r)->ncols : 0;
}

const char *hln_result_column_name(const hln_result *r, int col)
{
    if (col < 0 || col >= hln_result_columns(r)) return NULL;
    return res(r)->cols[col].name;
}

const char *hln_result_column_type(const hln_result *r, int col)
{
    if (col < 0 || col >= hln_result_columns(r)) return NULL;
    return res(r)->cols[col].type->cql_name;
}

int hln_result_rows(const hln_result *r)
{
    return res(r)->kind == EX_ROWS ? res(r)->nrows : 0;
}

int hln_result_next(hln_result *r)
{
    if (r->row + 1 >= hln_result_rows(r)) {
        r->row = hln_result_rows(r);
        return 0;
    }
    r->row++;
    return 1;
}

static const ex_value *cell(hln_result *r, int col)
{
    if (r->row < 0 || r->row >= hln_result_rows(r) || col < 0 || col >= hln_result_columns(r))
        return NULL;
    return &res(r)->cells[(size_t)r->row * (size_t)res(r)->ncols + (size_t)col];
}

const void *hln_result_value(hln_result *r, int col, int32_t *len)
{
    const ex_value *v = cell(r, col);
    if (!v || v->len < 0) {
        if (len) *len = -1;
        return NULL;
    }
    if (len) *len = v->len;
    return v->p;
}

const char *hln_result_text(hln_result *r, int col, size_t *len)
{
    const ex_value *v = cell(r, col);
    hln_buf_reset(&r->text);
    if (!v || v->len < 0)
        hln_buf_put(&r->text, "null", 4);
    else
        hln_type_format(res(r)->cols[col].type, v->p, (size_t)v->len, &r->text);
    hln_buf_u8(&r->text, 0);
    if (r->text.err) return NULL;
    if (len) *len = r->text.len - 1;
    return (const char *)r->text.data;
}

int64_t hln_result_int64(hln_result *r, int col)
{
    const ex_value *v = cell(r, col);
    if (!v || v->len <= 0 || v->len > 8) return 0;
    int64_t x = (int8_t)v->p[0]; /* sign-extend the first byte */
    for (int i = 1; i < v->len; i++)
        x = (int64_t)((uint64_t)x << 8 | v->p[i]);
    return x;
}

double hln_result_double(hln_result *r, int col)
{
    const ex_value *v = cell(r, col);
    if (!v) return 0;
    if (v->len == 8) {
        uint64_t u = (uint64_t)hln_result_int64(r, col);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    if (v->len == 4) {
        uint32_t u =
            (uint32_t)v->p[0] << 24 | (uint32_t)v->p[1] << 16 | (uint32_t)v->p[2] << 8 | v->p[3];
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    return 0;
}

void hln_result_free(hln_result *r)
{
    if (!r) return;
    job_free(r->j);
    hln_buf_free(&r->text);
    hln_free(r);
}
