/*
 * helenus.c — the embedded API (include/helenus.h) over the engine.
 *
 * What: hln_open starts the same engine the server runs (shard threads,
 * storage, commitlog replay) with no network listener; hln_exec hands a
 * statement to a shard as a message and waits for its completion; results
 * are exposed through an iterator, or packed whole for a binding. hln_prepare
 * and hln_stmt_exec are the server's PREPARE and EXECUTE (ex_prepare,
 * ex_execute: the shards' plan caches keep the analyzed plan). hln_serve
 * starts the server's listener (server_start) on the same engine.
 *
 * Why a message to a shard rather than a direct call: storage may only be
 * touched on its shard's thread, and exec already routes each partition to
 * its owner. The calling thread only waits, so embedded and server use one
 * code path, and any number of calling threads may wait at once: each call
 * owns its job (request, values, condition variable) and nothing else of
 * the handle but the keyspace, which is copied under the handle's mutex.
 *
 * Invariants:
 *  1. An hln_result owns its job (and so the request's arena holding every
 *     value) until hln_result_free; an hln_stmt owns its PREPARE job, whose
 *     result (marker names and types) and schema snapshot it keeps.
 *  2. The session keyspace belongs to the db handle, as it belongs to a
 *     connection in the server; it is read and replaced under db->mu, and a
 *     job runs with its own copy.
 *  3. Overlapping jobs are spread round robin over the shards, a lone
 *     caller's go to one shard (which lingers for its next, job_done);
 *     exec forwards every partition operation to its owner, so the shard a
 *     job starts on changes nothing but which core coordinates it.
 *  4. Error messages are per calling thread (thread-local), so concurrent
 *     calls cannot overwrite each other's.
 */
#include "helenus.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "exec/exec.h"
#include "exec/node.h"
#include "proto/proto.h"
#include "server/server.h"

struct hln_db {
    hln_engine *eng;
    pthread_mutex_t mu; /* keyspace */
    char *keyspace;
    atomic_uint next_shard;
    atomic_int spinners;  /* callers spinning in job_wait */
    atomic_int inflight;  /* calls posted and not yet returned */
    atomic_llong ewma_ns; /* recent calls' time from post to done (job_wait) */
    bool serving;
};

static _Thread_local char errbuf[sizeof(((hln_error *)0)->msg) + 64];

/* job_wait's spin budget: twice the recent calls' time, between SPIN_MIN_NS
 * and SPIN_MAX_NS; calls that take longer than SPIN_MAX_NS spin only
 * SPIN_MIN_NS (they are scans, and the wake-up is small beside them). */
enum { SPIN_MIN_NS = 20000, SPIN_MAX_NS = 1000000 };

/* How long a shard polls for a lone caller's next call (rt_linger): the
 * time between two calls of a tight loop, with room for a binding's own
 * work between them. */
enum { LINGER_NS = 50000 };

enum { JOB_QUERY, JOB_PREPARE, JOB_EXECUTE };

typedef struct job {
    rt_msg msg;
    ex_request req;
    int kind;
    const char *cql;
    size_t len;
    uint8_t id[16];
    ex_value *vals;
    int nvals;
    char *keyspace; /* the session keyspace when the call was made */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool lone;          /* its caller waits spinning: the shard lingers after it */
    bool done;          /* under mu */
    atomic_bool posted; /* job_done's last touch of the job (see job_wait) */
} job;

struct hln_result {
    job *j;
    int row; /* current row, -1 before the first hln_result_next */
    hln_buf text;
    hln_buf packed; /* hln_result_packed, built on first use */
    bool packed_built;
};

struct hln_stmt {
    hln_db *db;
    job *prep; /* the PREPARE request: id, binds, the snapshot they live in */
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

static void set_err(const char *msg)
{
    snprintf(errbuf, sizeof errbuf, "%s", msg);
}

int hln_open(const char *dir, const hln_open_options *opts, hln_db **out)
{
    *out = NULL;
    hln_db *db = hln_calloc(1, sizeof *db);
    if (!db) return HLN_ENOMEM;
    pthread_mutex_init(&db->mu, NULL);
    atomic_init(&db->next_shard, 0);
    atomic_init(&db->spinners, 0);
    atomic_init(&db->inflight, 0);
    atomic_init(&db->ewma_ns, 0);
    hln_config cfg;
    hln_config_default(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    cfg.shards = opts && opts->shards > 0 ? opts->shards : 1;
    if (opts && opts->sync_batch) cfg.storage.sync = ST_SYNC_BATCH;
    hln_error err = {0};
    int rc = engine_start(&db->eng, &cfg, &err);
    if (rc) {
        set_err(err.msg);
        db->eng = NULL;
        *out = db; /* so the caller can read hln_db_errmsg, then hln_close */
        return rc;
    }
    errbuf[0] = 0;
    *out = db;
    return HLN_OK;
}

int hln_close(hln_db *db)
{
    if (!db) return HLN_OK;
    int rc = HLN_OK;
    if (db->eng) {
        if (db->serving) server_stop(db->eng);
        hln_error err = {0};
        rc = engine_stop(db->eng, &err);
        if (rc) set_err(err.msg);
    }
    hln_free(db->keyspace);
    pthread_mutex_destroy(&db->mu);
    hln_free(db);
    return rc;
}

const char *hln_db_errmsg(hln_db *db)
{
    (void)db;
    return errbuf;
}

int hln_cql_error_code(int rc)
{
    return rc == HLN_OK ? 0 : (int)px_errcode_for(rc);
}

size_t hln_db_keyspace(hln_db *db, char *buf, size_t n)
{
    pthread_mutex_lock(&db->mu);
    const char *ks = db->keyspace ? db->keyspace : "";
    size_t len = strlen(ks);
    if (n) snprintf(buf, n, "%s", ks);
    pthread_mutex_unlock(&db->mu);
    return len;
}

static void job_done(ex_request *r)
{
    job *j = r->ud;
    rt_shard *self = rt_current();
    if (j->lone && self) rt_linger(self, LINGER_NS);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    atomic_store_explicit(&j->posted, true, memory_order_release);
}

static void job_run(rt_shard *self, rt_msg *m)
{
    job *j = (job *)m;
    ex_request_init(&j->req, engine_shard(self), job_done, j);
    j->req.params.keyspace = j->keyspace;
    j->req.params.values = j->vals;
    j->req.params.nvalues = j->nvals;
    switch (j->kind) {
    case JOB_PREPARE:
        ex_prepare(&j->req, j->cql, j->len);
        break;
    case JOB_EXECUTE:
        ex_execute(&j->req, j->id, sizeof j->id);
        break;
    default:
        ex_query(&j->req, j->cql, j->len);
        break;
    }
}

static void job_free(job *j)
{
    if (!j) return;
    ex_request_free(&j->req);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    hln_free(j->vals);
    hln_free(j->keyspace);
    hln_free(j);
}

/* A job of the given kind with room for n values, running in keyspace ks
 * (copied), or in the handle's current one when from_db. */
static job *job_new(hln_db *db, int kind, int n, bool from_db, const char *ks)
{
    job *j = hln_calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    if (n > 0) {
        j->vals = hln_calloc((size_t)n, sizeof *j->vals);
        if (!j->vals) {
            hln_free(j);
            return NULL;
        }
        j->nvals = n;
    }
    bool oom = false;
    if (!from_db) {
        j->keyspace = ks ? hln_strdup(ks) : NULL;
        oom = ks && !j->keyspace;
    } else {
        pthread_mutex_lock(&db->mu);
        if (db->keyspace) {
            j->keyspace = hln_strdup(db->keyspace);
            oom = !j->keyspace;
        }
        pthread_mutex_unlock(&db->mu);
    }
    if (oom) {
        hln_free(j->vals);
        hln_free(j);
        return NULL;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    atomic_init(&j->posted, false);
    j->msg.fn = job_run;
    return j;
}

/* Posts j to the next shard and waits for its completion; then records
 * the error message or the keyspace switch. Returns the request's code; on
 * failure j is freed. */
static int job_wait(hln_db *db, job *j)
{
    bool alone = atomic_fetch_add(&db->inflight, 1) == 0;
    /* a lone caller stays on one shard, the one lingering for it */
    unsigned k = alone ? atomic_load(&db->next_shard) : atomic_fetch_add(&db->next_shard, 1);
    j->lone = alone;
    int64_t t0 = hln_mono_nanos();
    engine_post(&db->eng->shards[k % (unsigned)db->eng->nshards], &j->msg);
    /* A spin first while no other caller spins: a point read takes a few
     * microseconds on the shard and an ANN query some hundreds, about
     * what a futex sleep and wake-up cost on a virtual machine (spinning
     * through a 0.3 ms query instead of sleeping: +30% queries/s,
     * bench/results/20261208-0007-vector-hash). The budget follows the recent
     * calls' time (SPIN_MIN_NS .. SPIN_MAX_NS). One spinner at most, so
     * waiters never crowd out the shard threads. */
    bool seen = false;
    if (alone && atomic_fetch_add(&db->spinners, 1) == 0) {
        int64_t avg = atomic_load_explicit(&db->ewma_ns, memory_order_relaxed);
        int64_t budget = avg > SPIN_MAX_NS ? SPIN_MIN_NS : 2 * avg;
        if (budget < SPIN_MIN_NS) budget = SPIN_MIN_NS;
        if (budget > SPIN_MAX_NS) budget = SPIN_MAX_NS;
        seen = hln_spin_until(&j->posted, t0 + budget);
    }
    if (alone) atomic_fetch_sub(&db->spinners, 1);
    if (!seen) {
        pthread_mutex_lock(&j->mu);
        while (!j->done)
            pthread_cond_wait(&j->cv, &j->mu);
        pthread_mutex_unlock(&j->mu);
        /* job_done may still be between its unlock and its last store */
        while (!atomic_load_explicit(&j->posted, memory_order_acquire))
            sched_yield();
    }
    if (alone) { /* a waiter among others measures queueing too: only lone calls count */
        int64_t took = hln_mono_nanos() - t0,
                avg = atomic_load_explicit(&db->ewma_ns, memory_order_relaxed);
        atomic_store_explicit(&db->ewma_ns, avg + (took - avg) / 8, memory_order_relaxed);
    }
    atomic_fetch_sub(&db->inflight, 1);
    int rc = j->req.rc;
    if (rc) {
        set_err(j->req.err.msg);
        job_free(j);
        return rc;
    }
    errbuf[0] = 0;
    if (j->req.result.kind == EX_SET_KEYSPACE && j->req.result.keyspace) {
        char *ks = hln_strdup(j->req.result.keyspace);
        if (ks) {
            pthread_mutex_lock(&db->mu);
            hln_free(db->keyspace);
            db->keyspace = ks;
            pthread_mutex_unlock(&db->mu);
        }
    }
    return HLN_OK;
}

/* Hands a finished job to a new result (or frees it when out is NULL). */
static int job_result(job *j, hln_result **out)
{
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
    hln_buf_init(&r->packed);
    *out = r;
    return HLN_OK;
}

static void bind_values(job *j, const hln_value *vals, int n)
{
    for (int i = 0; i < n; i++) {
        j->vals[i].p = vals[i].data ? vals[i].data : vals[i].buf;
        j->vals[i].len = vals[i].len;
    }
}

int hln_exec(hln_db *db, const char *cql, const hln_value *vals, int n, hln_result **out)
{
    if (out) *out = NULL;
    if (!db || !db->eng || !cql || n < 0) return HLN_EINVAL;
    job *j = job_new(db, JOB_QUERY, n, true, NULL);
    if (!j) return HLN_ENOMEM;
    j->cql = cql;
    j->len = strlen(cql);
    bind_values(j, vals, n);
    int rc = job_wait(db, j);
    if (rc) return rc;
    return job_result(j, out);
}

/* ---- prepared statements ---------------------------------------------- */

int hln_prepare(hln_db *db, const char *cql, hln_stmt **out)
{
    *out = NULL;
    if (!db || !db->eng || !cql) return HLN_EINVAL;
    hln_stmt *s = hln_calloc(1, sizeof *s);
    job *j = s ? job_new(db, JOB_PREPARE, 0, true, NULL) : NULL;
    if (!j) {
        hln_free(s);
        return HLN_ENOMEM;
    }
    j->cql = cql;
    j->len = strlen(cql);
    int rc = job_wait(db, j);
    if (rc) {
        hln_free(s);
        return rc;
    }
    j->cql = NULL; /* the caller's text; the engine keeps its own copy */
    s->db = db;
    s->prep = j;
    *out = s;
    return HLN_OK;
}

int hln_stmt_binds(const hln_stmt *s)
{
    return s ? s->prep->req.result.nbinds : 0;
}

static const ex_colspec *bind_of(const hln_stmt *s, int i)
{
    if (!s || i < 0 || i >= s->prep->req.result.nbinds) return NULL;
    return &s->prep->req.result.binds[i];
}

const char *hln_stmt_bind_name(const hln_stmt *s, int i)
{
    const ex_colspec *b = bind_of(s, i);
    return b ? b->name : NULL;
}

const char *hln_stmt_bind_type(const hln_stmt *s, int i)
{
    const ex_colspec *b = bind_of(s, i);
    return b && b->type ? b->type->cql_name : NULL;
}

/* A job executing s, the keyspace the statement was prepared in. */
static job *exec_job(hln_stmt *s, int n)
{
    job *j = job_new(s->db, JOB_EXECUTE, n, false, s->prep->keyspace);
    if (!j) return NULL;
    memcpy(j->id, s->prep->req.result.id, sizeof j->id);
    return j;
}

int hln_stmt_exec(hln_stmt *s, const hln_value *vals, int n, hln_result **out)
{
    if (out) *out = NULL;
    if (!s || n < 0) return HLN_EINVAL;
    job *j = exec_job(s, n);
    if (!j) return HLN_ENOMEM;
    bind_values(j, vals, n);
    int rc = job_wait(s->db, j);
    if (rc) return rc;
    return job_result(j, out);
}

int hln_stmt_exec_packed(hln_stmt *s, const void *values, size_t len, int n, hln_result **out)
{
    if (out) *out = NULL;
    if (!s || n < 0 || (len && !values)) return HLN_EINVAL;
    job *j = exec_job(s, n);
    if (!j) return HLN_ENOMEM;
    const uint8_t *p = values;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (len - off < 4) goto malformed;
        int32_t l = (int32_t)((uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
                              (uint32_t)p[off + 2] << 8 | p[off + 3]);
        off += 4;
        if (l < -2 || (l > 0 && (size_t)l > len - off)) goto malformed;
        j->vals[i].p = l > 0 ? p + off : p; /* never NULL for an empty value */
        j->vals[i].len = l;
        if (l > 0) off += (size_t)l;
    }
    if (off != len) goto malformed;
    int rc = job_wait(s->db, j);
    if (rc) return rc;
    return job_result(j, out);
malformed:
    job_free(j);
    set_err("malformed value list");
    return HLN_EPROTO;
}

void hln_stmt_free(hln_stmt *s)
{
    if (!s) return;
    job_free(s->prep);
    hln_free(s);
}

/* ---- the CQL server --------------------------------------------------- */

int hln_serve(hln_db *db, const char *host, int port, int *actual_port)
{
    if (!db || !db->eng || port < 0 || port > 65535) return HLN_EINVAL;
    if (db->serving) {
        set_err("the server is already started on this handle");
        return HLN_EINVAL;
    }
    hln_engine *e = db->eng;
    if (!host) host = "127.0.0.1";
    if (strlen(host) >= sizeof e->cfg.listen_address) {
        set_err("host name too long");
        return HLN_EINVAL;
    }
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
    /* read by server_start only (the shards do not look at them) */
    snprintf(e->cfg.listen_address, sizeof e->cfg.listen_address, "%s", host);
    e->cfg.native_transport_port = port;
    hln_error err = {0};
    int rc = server_start(e, &err);
    if (rc) {
        set_err(err.msg);
        return rc;
    }
    db->serving = true;
    errbuf[0] = 0;
    if (actual_port) *actual_port = server_port(e);
    return HLN_OK;
}

void hln_serve_stop(hln_db *db)
{
    if (db && db->eng && db->serving) server_stop(db->eng);
}

/* ---- results ---------------------------------------------------------- */

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
    hln_buf_free(&r->packed);
    hln_free(r);
}

int hln_result_kind(const hln_result *r)
{
    return r ? res(r)->kind : 0;
}

/* Appends the spelled-out form of t (hln_result_column_spec). */
static void put_spec(hln_buf *b, const hln_type *t)
{
    const char *name = NULL;
    switch (t->kind) {
    case HLN_T_LIST:
        name = "list";
        break;
    case HLN_T_SET:
        name = "set";
        break;
    case HLN_T_MAP:
        name = "map";
        break;
    case HLN_T_TUPLE:
        name = "tuple";
        break;
    case HLN_T_VECTOR:
        hln_buf_put(b, "vector<", 7);
        put_spec(b, t->params[0]);
        hln_buf_printf(b, ",%d>", t->dim);
        return;
    case HLN_T_UDT:
        hln_buf_printf(b, "udt<%s.%s", hln_udt_ks(t), hln_udt_name(t));
        for (int i = 0; i < t->nparams; i++) {
            hln_buf_printf(b, ",%s:", hln_udt_field(t, i));
            put_spec(b, t->params[i]);
        }
        hln_buf_u8(b, '>');
        return;
    case HLN_T_CUSTOM:
        hln_buf_printf(b, "custom");
        return;
    default: {
        const hln_type *base = hln_type_by_kind(t->kind);
        hln_buf_printf(b, "%s", base ? base->cql_name : t->cql_name);
        return;
    }
    }
    hln_buf_printf(b, "%s<", name);
    for (int i = 0; i < t->nparams; i++) {
        if (i) hln_buf_u8(b, ',');
        put_spec(b, t->params[i]);
    }
    hln_buf_u8(b, '>');
}

/* Copies b into buf (n bytes, NUL-terminated, truncated if need be) and
 * frees it; returns the length b had, or HLN_ENOMEM. */
static int buf_out(hln_buf *b, char *buf, size_t n)
{
    if (b->err) {
        hln_buf_free(b);
        return HLN_ENOMEM;
    }
    int need = (int)b->len;
    if (n) {
        size_t k = b->len < n - 1 ? b->len : n - 1;
        if (k) memcpy(buf, b->data, k);
        buf[k] = 0;
    }
    hln_buf_free(b);
    return need;
}

int hln_result_meta(const hln_result *r, char *buf, size_t n)
{
    if (!r) return HLN_EINVAL;
    hln_buf b;
    hln_buf_init(&b);
    for (int i = 0; i < hln_result_columns(r); i++) {
        const ex_colspec *c = &res(r)->cols[i];
        hln_buf_printf(&b, "%s\x1f%s\x1f", c->name, c->type->cql_name);
        put_spec(&b, c->type);
        hln_buf_u8(&b, 0x1e);
    }
    return buf_out(&b, buf, n);
}

static int spec_of(const hln_type *t, char *buf, size_t n)
{
    if (!t) return HLN_EINVAL;
    hln_buf b;
    hln_buf_init(&b);
    put_spec(&b, t);
    return buf_out(&b, buf, n);
}

int hln_result_column_spec(const hln_result *r, int col, char *buf, size_t n)
{
    if (!r || col < 0 || col >= hln_result_columns(r)) return HLN_EINVAL;
    return spec_of(res(r)->cols[col].type, buf, n);
}

int hln_stmt_bind_spec(const hln_stmt *s, int i, char *buf, size_t n)
{
    const ex_colspec *b = bind_of(s, i);
    return b ? spec_of(b->type, buf, n) : HLN_EINVAL;
}

int hln_result_packed(hln_result *r, const void **data, size_t *len)
{
    if (!r) return HLN_EINVAL;
    if (!r->packed_built) {
        const ex_result *x = res(r);
        size_t cells = x->kind == EX_ROWS ? (size_t)x->nrows * (size_t)x->ncols : 0;
        size_t total = 0;
        for (size_t i = 0; i < cells; i++)
            total += 4 + (x->cells[i].len > 0 ? (size_t)x->cells[i].len : 0);
        if (hln_buf_reserve(&r->packed, total ? total : 1)) return HLN_ENOMEM;
        for (size_t i = 0; i < cells; i++) {
            const ex_value *v = &x->cells[i];
            hln_buf_bytes(&r->packed, v->p, v->len < 0 ? -1 : v->len);
        }
        if (r->packed.err) return HLN_ENOMEM;
        r->packed_built = true;
    }
    *data = r->packed.data;
    *len = r->packed.len;
    return HLN_OK;
}

int hln_result_column_copy(hln_result *r, int col, void *dst, size_t width, uint8_t *nulls)
{
    if (!r || col < 0 || col >= hln_result_columns(r) || !width) return HLN_EINVAL;
    const ex_result *x = res(r);
    uint8_t *d = dst;
    for (int row = 0; row < x->nrows; row++) {
        const ex_value *v = &x->cells[(size_t)row * (size_t)x->ncols + (size_t)col];
        uint8_t *to = d + (size_t)row * width;
        if (v->len < 0) {
            memset(to, 0, width);
            if (nulls) nulls[row] = 1;
            continue;
        }
        if ((size_t)v->len != width) {
            snprintf(errbuf, sizeof errbuf,
                     "column %s: a value of %d bytes in row %d, not %zu as its type has",
                     x->cols[col].name, (int)v->len, row, width);
            return HLN_EINVAL;
        }
        memcpy(to, v->p, width);
        if (nulls) nulls[row] = 0;
    }
    return HLN_OK;
}
