/*
 * stress.c — helenus-stress, the load generator for Helenus and Cassandra.
 *
 *   helenus-stress --workload NAME [--host H] [--port P] [--connections N]
 *                  [--concurrency N] [--threads N] [--ops N | --duration S]
 *                  [--rate R] [--warmup S] [--keys N] [--seed N] [--json FILE]
 *   helenus-stress --list
 *
 * What: creates the workload's schema (IF NOT EXISTS), prepares its
 * statements, then drives operations through the C client (src/client)
 * from one or more threads, each with its own libuv loop and connections,
 * and reports throughput, errors and a latency histogram (p50 ... max) on
 * stdout and as JSON.
 *
 * Why it measures the way it does:
 *  - Closed loop (no --rate): every connection keeps --concurrency requests
 *    in flight; a completion issues the next one. Latency is from the
 *    request's submission to its response. This finds maximum throughput.
 *  - Open loop (--rate R): operations are scheduled at fixed intended start
 *    times (t0 + i/R); latency is measured from the INTENDED start, so a
 *    server stall that delays later requests is charged to them too (no
 *    coordinated omission). When all stream ids are busy, due operations
 *    wait in a backlog and their waiting counts as latency.
 *  - Warm-up: operations whose intended start is within --warmup seconds
 *    are run but not measured.
 *  - The same binary and client drive Helenus and Apache Cassandra, so the
 *    client's own cost is the same on both sides of every ratio.
 *
 * Exit codes (for the benchmark harness):
 *   0 ok; 1 usage or internal error; 2 cannot connect;
 *   3 the server rejected the workload's schema or statements
 *     ("unsupported": the message and JSON say which statement and why);
 *   4 the run completed but no operation succeeded.
 * A run that loses every connection midway also exits 2 (JSON status
 * "connection_lost", with the results measured until then).
 *
 * Invariants: a worker's records (one per request in flight) are its only
 * per-request state; every submitted record comes back through on_done
 * exactly once (the client's callback rule), so a worker stops when it has
 * stopped issuing and its records are all free.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "client/hist.h"
#include "tools/stress.h"

#define STRESS_VERSION "0.1.0"
#define HIST_HIGHEST (3600LL * 1000000000LL) /* one hour in ns */
#define MAX_SAMPLES 8

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_CONNECT = 2, EXIT_UNSUPPORTED = 3, EXIT_NOOPS = 4 };

/* ---- per-worker state ---------------------------------------------------------- */

typedef struct worker worker;

typedef struct rec {
    struct rec *next;
    worker *w;
    int64_t intended;
    bool measured;
    st_opinfo info;
} rec;

typedef struct sample {
    int32_t code;
    char msg[200];
    int64_t count;
} sample;

struct worker {
    int idx;
    pthread_t th;
    const st_settings *set;
    const st_workload *wl;
    const st_shared *sh;
    pthread_barrier_t *barrier;
    uv_loop_t loop;
    cc_client *c;
    cc_prepared *ps[8];
    cc_params params;
    st_rng rng;
    st_op op;
    rec *recs, *free_recs;
    int in_flight;
    /* schedule */
    int64_t t0, t_measure, t_stop; /* mono ns; t_stop 0: by ops */
    double interval_ns;            /* open loop; 0: closed loop */
    uint64_t scheduled;            /* open loop: ops scheduled so far */
    uint64_t k;                    /* ops issued so far by this worker */
    int64_t ops_target;            /* measured ops to issue (0: by time) */
    int64_t measured_issued;
    bool stopping, finished;
    bool lost; /* stopped early: no connection left */
    uv_timer_t tick;
    int tfd; /* open loop: a timerfd armed at the next intended start */
    uv_poll_t tpoll;
    int64_t armed; /* when tfd is armed for (0: not armed) */
    /* results */
    cc_hist hist;
    int64_t ok, errors, timeouts, warm_ok, warm_err;
    int64_t last_done;
    int64_t max_lag_ns;
    st_wstats ws;
    sample samples[MAX_SAMPLES];
    int nsamples;
    int64_t *tl_ops, *tl_err, *tl_max; /* per second: completions, errors, max latency ns */
    size_t tl_len;
    /* failure before the run */
    int status;
    char msg[1024];
};

/* ---- helpers ----------------------------------------------------------------------- */

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("helenus-stress: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    exit(EXIT_USAGE);
}

static void note_error(worker *w, int32_t code, const char *msg)
{
    for (int i = 0; i < w->nsamples; i++)
        if (w->samples[i].code == code && strcmp(w->samples[i].msg, msg) == 0) {
            w->samples[i].count++;
            return;
        }
    if (w->nsamples < MAX_SAMPLES) {
        sample *s = &w->samples[w->nsamples++];
        s->code = code;
        snprintf(s->msg, sizeof s->msg, "%s", msg);
        s->count = 1;
    }
}

/* Grows the three per-second arrays to n entries (zeroed); false on ENOMEM. */
static bool timeline_grow(int64_t **ops, int64_t **err, int64_t **mx, size_t *len, size_t n)
{
    int64_t *a = hln_realloc(*ops, n * sizeof *a);
    if (a) *ops = a;
    int64_t *b = a ? hln_realloc(*err, n * sizeof *b) : NULL;
    if (b) *err = b;
    int64_t *c = b ? hln_realloc(*mx, n * sizeof *c) : NULL;
    if (c) *mx = c;
    if (!a || !b || !c) return false;
    memset(a + *len, 0, (n - *len) * sizeof *a);
    memset(b + *len, 0, (n - *len) * sizeof *b);
    memset(c + *len, 0, (n - *len) * sizeof *c);
    *len = n;
    return true;
}

static void timeline_add(worker *w, int64_t now, bool ok, int64_t latency_ns)
{
    if (now < w->t_measure) return;
    size_t sec = (size_t)((now - w->t_measure) / 1000000000LL);
    if (sec >= w->tl_len) {
        size_t n = w->tl_len ? w->tl_len : 64;
        while (n <= sec)
            n *= 2;
        if (!timeline_grow(&w->tl_ops, &w->tl_err, &w->tl_max, &w->tl_len, n)) return;
    }
    if (ok)
        w->tl_ops[sec]++;
    else
        w->tl_err[sec]++;
    if (latency_ns > w->tl_max[sec]) w->tl_max[sec] = latency_ns;
}

/* ---- the run loop ------------------------------------------------------------------- */

static void pump(worker *w);

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void finish(worker *w)
{
    if (w->finished) return;
    w->finished = true;
    uv_timer_stop(&w->tick);
    uv_close((uv_handle_t *)&w->tick, on_closed);
    if (w->tfd >= 0) {
        uv_poll_stop(&w->tpoll);
        uv_close((uv_handle_t *)&w->tpoll, on_closed);
    }
    cc_client_free(w->c); /* borrowed loop: freed from its close callbacks */
    w->c = NULL;
}

static void on_done(cc_result *r, void *ud)
{
    rec *rc = ud;
    worker *w = rc->w;
    int64_t now = hln_mono_nanos();
    bool ok = r->kind != CC_RES_ERROR;
    if (rc->measured) {
        if (ok) {
            w->ok++;
            cc_hist_record(&w->hist, now - rc->intended);
            if (w->wl->check) w->wl->check(w->sh, &rc->info, r, &w->ws);
        } else {
            w->errors++;
            if (r->code == CC_ETIMEDOUT) w->timeouts++;
            note_error(w, r->code, r->message);
        }
        timeline_add(w, now, ok, now - rc->intended);
        if (now > w->last_done) w->last_done = now;
    } else if (ok) {
        w->warm_ok++;
    } else {
        w->warm_err++;
        note_error(w, r->code, r->message);
    }
    rc->next = w->free_recs;
    w->free_recs = rc;
    w->in_flight--;
    if (!w->finished) pump(w);
}

static void on_capacity(cc_client *c, void *ud)
{
    (void)c;
    pump(ud);
}

static void on_tick(uv_timer_t *t)
{
    pump(t->data);
}

static void on_tfd(uv_poll_t *p, int status, int events)
{
    worker *w = p->data;
    uint64_t expirations;
    (void)status;
    (void)events;
    if (read(w->tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) return;
    w->armed = 0;
    pump(w);
}

/* Arms the timerfd for the absolute monotonic time `at` (ns). libuv's own
 * timers have millisecond resolution, which at 20k ops/s would add up to a
 * millisecond of the generator's lateness to every latency measured from
 * the intended start. */
static void arm(worker *w, int64_t at)
{
    if (w->armed == at) return;
    struct itimerspec its = {{0, 0}, {at / 1000000000LL, at % 1000000000LL}};
    if (timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0) w->armed = at;
}

static void pump(worker *w)
{
    if (w->finished) return;
    int64_t now = hln_mono_nanos();
    while (!w->stopping) {
        int64_t intended;
        if (w->interval_ns > 0) {
            intended = w->t0 + (int64_t)((double)w->scheduled * w->interval_ns);
            if (intended > now) {
                if (w->tfd >= 0) arm(w, intended);
                break;
            }
        } else {
            intended = now;
        }
        bool measured = intended >= w->t_measure;
        if (measured && ((w->ops_target > 0 && w->measured_issued >= w->ops_target) ||
                         (w->t_stop > 0 && intended >= w->t_stop))) {
            w->stopping = true;
            break;
        }
        rec *rc = w->free_recs;
        if (!rc) break;
        uint64_t opno = (uint64_t)w->idx + w->k * (uint64_t)w->set->threads;
        w->wl->next(w->sh, &w->rng, opno, &w->op);
        int ret =
            cc_execute(w->c, w->ps[w->op.stmt], w->op.vals, w->op.nvals, &w->params, on_done, rc);
        if (ret == HLN_EAGAIN)
            break; /* all stream ids busy: on_capacity / on_done will pump again */
        if (ret != 0) {
            /* no live connection: nothing more can be issued */
            note_error(w, ret, cc_strerror(ret));
            w->errors += measured;
            w->lost = true;
            w->stopping = true;
            break;
        }
        w->free_recs = rc->next;
        rc->intended = intended;
        rc->measured = measured;
        rc->info.is_read = w->op.is_read;
        rc->info.tag = w->op.tag;
        w->in_flight++;
        w->k++;
        if (w->interval_ns > 0) {
            w->scheduled++;
            if (now - intended > w->max_lag_ns) w->max_lag_ns = now - intended;
        }
        if (measured) {
            w->measured_issued++;
            if (!w->op.is_read)
                for (int i = 0; i < w->op.nvals; i++)
                    if (w->op.vals[i].len > 0) w->ws.bytes_written += w->op.vals[i].len;
        }
    }
    if (w->stopping && w->in_flight == 0) finish(w);
}

/* ---- worker thread --------------------------------------------------------------------- */

static int prepare_all(cc_client *c, const st_workload *wl, const st_settings *set,
                       cc_prepared **ps, char *msg, size_t msglen);

static void *worker_main(void *arg)
{
    worker *w = arg;
    const st_settings *set = w->set;
    hln_error err = {0};
    int nrec = set->connections * set->concurrency;
    w->recs = hln_calloc((size_t)nrec, sizeof *w->recs);
    if (!w->recs || cc_hist_init(&w->hist, HIST_HIGHEST, 3)) {
        w->status = EXIT_USAGE;
        snprintf(w->msg, sizeof w->msg, "out of memory");
    }
    for (int i = 0; i < nrec && w->recs; i++) {
        w->recs[i].w = w;
        w->recs[i].next = w->free_recs;
        w->free_recs = &w->recs[i];
    }
    uv_loop_init(&w->loop);
    cc_config cfg;
    cc_config_init(&cfg);
    cfg.host = set->host;
    cfg.port = set->port;
    cfg.connections = set->connections;
    cfg.max_streams = set->concurrency;
    cfg.request_timeout_ms = set->timeout_ms;
    if (!w->status && cc_client_new(&cfg, &w->loop, &w->c, &err)) {
        w->status = EXIT_USAGE;
        snprintf(w->msg, sizeof w->msg, "%s", err.msg);
    }
    if (!w->status && cc_client_connect_sync(w->c, &err)) {
        w->status = EXIT_CONNECT;
        snprintf(w->msg, sizeof w->msg, "%s", err.msg);
    }
    if (!w->status) w->status = prepare_all(w->c, w->wl, set, w->ps, w->msg, sizeof w->msg);
    st_rng_seed(&w->rng, set->seed * 0x9E3779B97F4A7C15ull + (uint64_t)w->idx + 1);
    cc_params_init(&w->params);
    w->params.consistency = (uint16_t)set->consistency;

    pthread_barrier_wait(w->barrier); /* everyone connected (or failed) */
    pthread_barrier_wait(w->barrier); /* main has checked: go (status may be set by main) */
    if (w->status) {
        if (w->c) cc_client_free(w->c);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        return NULL;
    }
    w->t0 = hln_mono_nanos();
    w->t_measure = w->t0 + (int64_t)(set->warmup_s * 1e9);
    w->t_stop = set->duration_s > 0 ? w->t_measure + (int64_t)(set->duration_s * 1e9) : 0;
    if (set->rate > 0) w->interval_ns = 1e9 * set->threads / set->rate;
    w->last_done = w->t_measure;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    /* a 100 ms tick notices the end of the run even if nothing completes
     * (and backs up the timerfd of the open loop) */
    uv_timer_start(&w->tick, on_tick, 1, 100);
    if (set->rate > 0) {
        w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (w->tfd >= 0) {
            uv_poll_init(&w->loop, &w->tpoll, w->tfd);
            w->tpoll.data = w;
            uv_poll_start(&w->tpoll, UV_READABLE, on_tfd);
        }
    }
    cc_client_on_capacity(w->c, on_capacity, w);
    pump(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    if (w->tfd >= 0) close(w->tfd);
    return NULL;
}

/* ---- setup: schema and statements -------------------------------------------------------- */

/* The statement text with %DIM% replaced by the vector dimension. */
static char *expand(const char *cql, const st_settings *set)
{
    const char *m = strstr(cql, "%DIM%");
    size_t n = strlen(cql) + 16;
    char *out = hln_malloc(n);
    if (!out) return NULL;
    if (!m)
        snprintf(out, n, "%s", cql);
    else
        snprintf(out, n, "%.*s%d%s", (int)(m - cql), cql, set->dim, m + 5);
    return out;
}

static int prepare_all(cc_client *c, const st_workload *wl, const st_settings *set,
                       cc_prepared **ps, char *msg, size_t msglen)
{
    for (int i = 0; wl->stmts[i]; i++) {
        if (!(wl->uses & (1u << i))) continue;
        hln_error err = {0};
        char *q = expand(wl->stmts[i], set);
        int rc = q ? cc_prepare_sync(c, q, &ps[i], &err) : HLN_ENOMEM;
        if (rc) {
            snprintf(msg, msglen, "the server rejected the statement\n  %s\n  %s", q ? q : "?",
                     err.msg);
            hln_free(q);
            return rc == HLN_EINVAL ? EXIT_UNSUPPORTED : EXIT_CONNECT;
        }
        hln_free(q);
    }
    return 0;
}

static int create_schema(cc_client *c, const st_workload *wl, const st_settings *set, char *msg,
                         size_t msglen)
{
    for (int i = 0; wl->schema[i]; i++) {
        hln_error err = {0};
        cc_result *r = NULL;
        char *q = expand(wl->schema[i], set);
        if (!q) {
            snprintf(msg, msglen, "out of memory");
            return EXIT_USAGE;
        }
        cc_params p;
        cc_params_init(&p);
        p.consistency = (uint16_t)set->consistency;
        int rc = cc_query_sync(c, q, NULL, 0, &p, &r, &err);
        if (rc) {
            snprintf(msg, msglen, "schema statement failed\n  %s\n  %s", q, err.msg);
            hln_free(q);
            return EXIT_CONNECT;
        }
        if (r->kind == CC_RES_ERROR && r->code != CC_ERR_ALREADY_EXISTS) {
            snprintf(msg, msglen, "the server rejected the schema\n  %s\n  error 0x%04X: %s", q,
                     (unsigned)r->code, r->message);
            cc_result_free(r);
            hln_free(q);
            return EXIT_UNSUPPORTED;
        }
        cc_result_free(r);
        hln_free(q);
    }
    return 0;
}

/* ---- reporting ------------------------------------------------------------------------------- */

typedef struct totals {
    cc_hist hist;
    int64_t ok, errors, timeouts, warm_ok, warm_err, measured_issued;
    int64_t t_measure, last_done, max_lag_ns;
    st_wstats ws;
    sample samples[MAX_SAMPLES];
    int nsamples;
    int64_t *tl_ops, *tl_err, *tl_max;
    size_t tl_len;
    double elapsed_s, cpu_s;
} totals;

static void merge(totals *t, worker *ws, int n)
{
    for (int i = 0; i < n; i++) {
        worker *w = &ws[i];
        cc_hist_merge(&t->hist, &w->hist);
        t->ok += w->ok;
        t->errors += w->errors;
        t->timeouts += w->timeouts;
        t->warm_ok += w->warm_ok;
        t->warm_err += w->warm_err;
        t->measured_issued += w->measured_issued;
        if (i == 0 || w->t_measure < t->t_measure) t->t_measure = w->t_measure;
        if (w->last_done > t->last_done) t->last_done = w->last_done;
        if (w->max_lag_ns > t->max_lag_ns) t->max_lag_ns = w->max_lag_ns;
        t->ws.rows += w->ws.rows;
        t->ws.empty_reads += w->ws.empty_reads;
        t->ws.bytes_read += w->ws.bytes_read;
        t->ws.bytes_written += w->ws.bytes_written;
        t->ws.recall_sum += w->ws.recall_sum;
        t->ws.recall_n += w->ws.recall_n;
        t->ws.check_failures += w->ws.check_failures;
        for (int s = 0; s < w->nsamples; s++) {
            int j;
            for (j = 0; j < t->nsamples; j++)
                if (t->samples[j].code == w->samples[s].code &&
                    strcmp(t->samples[j].msg, w->samples[s].msg) == 0)
                    break;
            if (j < t->nsamples)
                t->samples[j].count += w->samples[s].count;
            else if (t->nsamples < MAX_SAMPLES)
                t->samples[t->nsamples++] = w->samples[s];
        }
        if (w->tl_len > t->tl_len &&
            !timeline_grow(&t->tl_ops, &t->tl_err, &t->tl_max, &t->tl_len, w->tl_len))
            continue;
        for (size_t s = 0; s < w->tl_len; s++) {
            t->tl_ops[s] += w->tl_ops[s];
            t->tl_err[s] += w->tl_err[s];
            if (w->tl_max[s] > t->tl_max[s]) t->tl_max[s] = w->tl_max[s];
        }
    }
    t->elapsed_s = (double)(t->last_done - t->t_measure) / 1e9;
}

static double us(int64_t ns)
{
    return round((double)ns / 100.0) / 10.0;
}

static json_t *settings_json(const st_settings *s, const st_shared *sh)
{
    json_t *o = json_object();
    json_object_set_new(o, "host", json_string(s->host));
    json_object_set_new(o, "port", json_integer(s->port));
    json_object_set_new(o, "threads", json_integer(s->threads));
    json_object_set_new(o, "connections_per_thread", json_integer(s->connections));
    json_object_set_new(o, "concurrency_per_connection", json_integer(s->concurrency));
    json_object_set_new(o, "ops", json_integer(s->ops));
    json_object_set_new(o, "duration_s", json_real(s->duration_s));
    json_object_set_new(o, "rate", json_real(s->rate));
    json_object_set_new(o, "mode", json_string(s->rate > 0 ? "open-loop" : "closed-loop"));
    json_object_set_new(o, "warmup_s", json_real(s->warmup_s));
    json_object_set_new(o, "workload", json_string(s->workload));
    json_object_set_new(o, "keys", json_integer(sh ? sh->keys : s->keys));
    json_object_set_new(o, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(o, "consistency", json_integer(s->consistency));
    json_object_set_new(o, "timeout_ms", json_integer(s->timeout_ms));
    json_object_set_new(o, "dist",
                        json_string(s->dist == ST_DIST_SEQ       ? "seq"
                                    : s->dist == ST_DIST_UNIFORM ? "uniform"
                                                                 : "default"));
    json_object_set_new(o, "value_size", json_integer(s->value_size));
    json_object_set_new(o, "blob_size", json_integer(s->blob_size));
    json_object_set_new(o, "dim", json_integer(s->dim));
    json_object_set_new(o, "queries", json_integer(s->queries));
    return o;
}

static void write_json(const st_settings *set, const st_shared *sh, const char *status,
                       const char *message, const totals *t, time_t started)
{
    if (!set->json) return;
    json_t *o = json_object();
    char when[64];
    struct tm tm;
    gmtime_r(&started, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(o, "tool", json_string("helenus-stress"));
    json_object_set_new(o, "version", json_string(STRESS_VERSION));
    json_object_set_new(o, "workload", json_string(set->workload));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "message", json_string(message ? message : ""));
    json_object_set_new(o, "started_at", json_string(when));
    json_object_set_new(o, "settings", settings_json(set, sh));
    if (t) {
        json_t *r = json_object();
        double el = t->elapsed_s > 0 ? t->elapsed_s : 1e-9;
        json_object_set_new(r, "ops", json_integer(t->ok));
        json_object_set_new(r, "errors", json_integer(t->errors));
        json_object_set_new(r, "timeouts", json_integer(t->timeouts));
        json_object_set_new(r, "warmup_ops", json_integer(t->warm_ok));
        json_object_set_new(r, "warmup_errors", json_integer(t->warm_err));
        json_object_set_new(r, "elapsed_s", json_real(t->elapsed_s));
        json_object_set_new(r, "ops_per_s", json_real(t->elapsed_s > 0 ? t->ok / el : 0));
        json_t *l = json_object();
        const cc_hist *h = &t->hist;
        json_object_set_new(l, "min", json_real(us(h->total ? h->min : 0)));
        json_object_set_new(l, "mean", json_real(round(cc_hist_mean(h) / 100.0) / 10.0));
        json_object_set_new(l, "p50", json_real(us(cc_hist_percentile(h, 50))));
        json_object_set_new(l, "p90", json_real(us(cc_hist_percentile(h, 90))));
        json_object_set_new(l, "p99", json_real(us(cc_hist_percentile(h, 99))));
        json_object_set_new(l, "p999", json_real(us(cc_hist_percentile(h, 99.9))));
        json_object_set_new(l, "max", json_real(us(h->max)));
        json_object_set_new(r, "latency_us", l);
        json_object_set_new(r, "latency_from",
                            json_string(set->rate > 0 ? "intended start" : "submission"));
        json_object_set_new(r, "max_schedule_lag_ms", json_real((double)t->max_lag_ns / 1e6));
        json_object_set_new(r, "rows_read", json_integer(t->ws.rows));
        json_object_set_new(r, "empty_reads", json_integer(t->ws.empty_reads));
        json_object_set_new(r, "bytes_read", json_integer(t->ws.bytes_read));
        json_object_set_new(r, "bytes_written", json_integer(t->ws.bytes_written));
        json_object_set_new(r, "check_failures", json_integer(t->ws.check_failures));
        double mb = (double)(t->ws.bytes_read + t->ws.bytes_written) / 1e6;
        json_object_set_new(r, "mb_per_s", json_real(t->elapsed_s > 0 ? mb / el : 0));
        if (strncmp(set->workload, "blob-", 5) == 0)
            json_object_set_new(r, "images_per_s", json_real(t->elapsed_s > 0 ? t->ok / el : 0));
        if (t->ws.recall_n)
            json_object_set_new(r, "recall_at_10",
                                json_real(t->ws.recall_sum / (double)t->ws.recall_n));
        json_object_set_new(r, "client_cpu_s", json_real(t->cpu_s));
        json_t *samples = json_array();
        for (int i = 0; i < t->nsamples; i++) {
            json_t *s = json_object();
            json_object_set_new(s, "code", json_integer(t->samples[i].code));
            json_object_set_new(s, "message", json_string(t->samples[i].msg));
            json_object_set_new(s, "count", json_integer(t->samples[i].count));
            json_array_append_new(samples, s);
        }
        json_object_set_new(r, "error_samples", samples);
        json_t *tl = json_array();
        size_t secs = (size_t)ceil(t->elapsed_s);
        for (size_t i = 0; i < secs && i < t->tl_len; i++) {
            json_t *s = json_object();
            json_object_set_new(s, "t", json_integer((json_int_t)i));
            json_object_set_new(s, "ops", json_integer(t->tl_ops[i]));
            json_object_set_new(s, "errors", json_integer(t->tl_err[i]));
            json_object_set_new(s, "max_ms", json_real((double)t->tl_max[i] / 1e6));
            json_array_append_new(tl, s);
        }
        json_object_set_new(r, "timeline", tl);
        json_t *hl = json_array(); /* percentile curve for plots */
        static const double pts[] = {0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100};
        for (size_t i = 0; i < HLN_ARRAY_LEN(pts); i++) {
            json_t *p = json_array();
            json_array_append_new(p, json_real(pts[i]));
            json_array_append_new(p, json_real(us(cc_hist_percentile(h, pts[i]))));
            json_array_append_new(hl, p);
        }
        json_object_set_new(r, "percentiles_us", hl);
        json_object_set_new(o, "results", r);
    }
    if (json_dump_file(o, set->json,
                       JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) != 0)
        fprintf(stderr, "helenus-stress: cannot write %s: %s\n", set->json, strerror(errno));
    json_decref(o);
}

static void print_summary(const st_settings *set, const totals *t)
{
    if (set->quiet) return;
    const cc_hist *h = &t->hist;
    double el = t->elapsed_s > 0 ? t->elapsed_s : 1e-9;
    printf("%s: %lld ops in %.2f s = %.0f ops/s, %lld errors (%lld timeouts)\n", set->workload,
           (long long)t->ok, t->elapsed_s, t->ok / el, (long long)t->errors,
           (long long)t->timeouts);
    printf("latency us (from %s): min %.1f mean %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f "
           "max %.1f\n",
           set->rate > 0 ? "intended start" : "submission", us(h->total ? h->min : 0),
           cc_hist_mean(h) / 1000.0, us(cc_hist_percentile(h, 50)), us(cc_hist_percentile(h, 90)),
           us(cc_hist_percentile(h, 99)), us(cc_hist_percentile(h, 99.9)), us(h->max));
    if (t->ws.rows || t->ws.bytes_written)
        printf("rows read %lld (empty reads %lld), MB/s %.1f (read %.1f MB, written %.1f MB)\n",
               (long long)t->ws.rows, (long long)t->ws.empty_reads,
               (double)(t->ws.bytes_read + t->ws.bytes_written) / 1e6 / el,
               (double)t->ws.bytes_read / 1e6, (double)t->ws.bytes_written / 1e6);
    if (strncmp(set->workload, "blob-", 5) == 0) printf("images/s %.0f\n", t->ok / el);
    if (t->ws.recall_n)
        printf("recall@10 %.4f over %lld queries\n", t->ws.recall_sum / (double)t->ws.recall_n,
               (long long)t->ws.recall_n);
    if (t->ws.check_failures)
        printf("results that failed the workload's check: %lld\n", (long long)t->ws.check_failures);
    if (set->rate > 0) printf("max schedule lag %.1f ms\n", (double)t->max_lag_ns / 1e6);
    for (int i = 0; i < t->nsamples; i++) {
        char code[32];
        if (t->samples[i].code >= 0)
            snprintf(code, sizeof code, "server error 0x%04X", (unsigned)t->samples[i].code);
        else
            snprintf(code, sizeof code, "client error %d", t->samples[i].code);
        printf("error x%lld: %s: %s\n", (long long)t->samples[i].count, code, t->samples[i].msg);
    }
}

/* ---- command line ------------------------------------------------------------------------------
 */

static void usage(FILE *f)
{
    fprintf(f, "Usage: helenus-stress --workload NAME [options]\n"
               "       helenus-stress --list\n"
               "\n"
               "  --host H            server address (default 127.0.0.1)\n"
               "  --port P            CQL port (default 9042)\n"
               "  --threads N         client threads, each with its own loop (default 1)\n"
               "  --connections N     connections per thread (default 1)\n"
               "  --concurrency N     requests in flight per connection, 1..32768 (default 128)\n"
               "  --ops N             measured operations (after warm-up)\n"
               "  --duration S        measured seconds (default 10 when --ops is not given)\n"
               "  --rate R            target ops/s (open loop; latency from intended start)\n"
               "  --warmup S          seconds of unmeasured warm-up (default 0)\n"
               "  --keys N            key space (default: per workload)\n"
               "  --dist seq|uniform  key choice (default: seq for writes, uniform for reads)\n"
               "  --seed N            seed for values and choices (default 42)\n"
               "  --consistency NAME  ONE (default), LOCAL_ONE, QUORUM, ALL, ...\n"
               "  --timeout-ms N      per-request timeout (default 12000)\n"
               "  --value-size N      bytes per standard1 column / feature value (default 34)\n"
               "  --blob-size N       bytes per blob, +-10%% (default 110000)\n"
               "  --dim N             vector dimension (default 384)\n"
               "  --queries N         vector-ann: distinct query vectors (default 100)\n"
               "  --no-schema         do not create the schema\n"
               "  --json FILE         write results and settings as JSON\n"
               "  --quiet             no summary on stdout\n"
               "\n"
               "Exit codes: 0 ok, 1 usage/internal error, 2 cannot connect (or every connection\n"
               "was lost), 3 the server rejected the workload's schema or statements\n"
               "(unsupported), 4 no operation succeeded.\n"
               "\n"
               "Workloads:\n");
    if (f == stdout) st_list_workloads();
}

static int64_t parse_int(const char *opt, const char *v, int64_t lo, int64_t hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    /* accept 1e6 and 1000000 alike */
    if (errno || *end || d != floor(d) || d < (double)lo || d > (double)hi)
        die_usage("%s: expected an integer in %lld..%lld, got '%s'", opt, (long long)lo,
                  (long long)hi, v);
    return (int64_t)d;
}

static double parse_num(const char *opt, const char *v, double lo)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || *end || !(d >= lo)) die_usage("%s: expected a number >= %g, got '%s'", opt, lo, v);
    return d;
}

static int parse_consistency(const char *v)
{
    static const struct {
        const char *n;
        int c;
    } t[] = {{"ANY", CC_ANY},
             {"ONE", CC_ONE},
             {"TWO", CC_TWO},
             {"THREE", CC_THREE},
             {"QUORUM", CC_QUORUM},
             {"ALL", CC_ALL},
             {"LOCAL_QUORUM", CC_LOCAL_QUORUM},
             {"EACH_QUORUM", CC_EACH_QUORUM},
             {"LOCAL_ONE", CC_LOCAL_ONE}};
    for (size_t i = 0; i < HLN_ARRAY_LEN(t); i++)
        if (strcasecmp(v, t[i].n) == 0) return t[i].c;
    die_usage("--consistency: unknown level '%s'", v);
}

static void parse_args(int argc, char **argv, st_settings *s)
{
    enum {
        O_HOST = 256,
        O_PORT,
        O_THREADS,
        O_CONN,
        O_CONC,
        O_OPS,
        O_DUR,
        O_RATE,
        O_WARM,
        O_WL,
        O_KEYS,
        O_DIST,
        O_SEED,
        O_JSON,
        O_CL,
        O_TIMEOUT,
        O_VSIZE,
        O_BSIZE,
        O_DIM,
        O_QUERIES,
        O_NOSCHEMA,
        O_QUIET,
        O_LIST,
        O_HELP
    };
    static const struct option opts[] = {{"host", required_argument, 0, O_HOST},
                                         {"port", required_argument, 0, O_PORT},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"connections", required_argument, 0, O_CONN},
                                         {"concurrency", required_argument, 0, O_CONC},
                                         {"ops", required_argument, 0, O_OPS},
                                         {"duration", required_argument, 0, O_DUR},
                                         {"rate", required_argument, 0, O_RATE},
                                         {"warmup", required_argument, 0, O_WARM},
                                         {"workload", required_argument, 0, O_WL},
                                         {"keys", required_argument, 0, O_KEYS},
                                         {"dist", required_argument, 0, O_DIST},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"json", required_argument, 0, O_JSON},
                                         {"consistency", required_argument, 0, O_CL},
                                         {"timeout-ms", required_argument, 0, O_TIMEOUT},
                                         {"value-size", required_argument, 0, O_VSIZE},
                                         {"blob-size", required_argument, 0, O_BSIZE},
                                         {"dim", required_argument, 0, O_DIM},
                                         {"queries", required_argument, 0, O_QUERIES},
                                         {"no-schema", no_argument, 0, O_NOSCHEMA},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"list", no_argument, 0, O_LIST},
                                         {"help", no_argument, 0, O_HELP},
                                         {0, 0, 0, 0}};
    memset(s, 0, sizeof *s);
    s->host = "127.0.0.1";
    s->port = 9042;
    s->threads = 1;
    s->connections = 1;
    s->concurrency = 128;
    s->seed = 42;
    s->consistency = CC_ONE;
    s->timeout_ms = 12000;
    s->value_size = 34;
    s->blob_size = 110000;
    s->dim = 384;
    s->queries = 100;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_HOST:
            s->host = optarg;
            break;
        case O_PORT:
            s->port = (int)parse_int("--port", optarg, 1, 65535);
            break;
        case O_THREADS:
            s->threads = (int)parse_int("--threads", optarg, 1, 256);
            break;
        case O_CONN:
            s->connections = (int)parse_int("--connections", optarg, 1, 1024);
            break;
        case O_CONC:
            s->concurrency = (int)parse_int("--concurrency", optarg, 1, 32768);
            break;
        case O_OPS:
            s->ops = parse_int("--ops", optarg, 1, INT64_MAX / 2);
            break;
        case O_DUR:
            s->duration_s = parse_num("--duration", optarg, 0.001);
            break;
        case O_RATE:
            s->rate = parse_num("--rate", optarg, 0.001);
            break;
        case O_WARM:
            s->warmup_s = parse_num("--warmup", optarg, 0);
            break;
        case O_WL:
            s->workload = optarg;
            break;
        case O_KEYS:
            s->keys = parse_int("--keys", optarg, 1, 10000000000LL);
            break;
        case O_DIST:
            if (strcmp(optarg, "seq") == 0)
                s->dist = ST_DIST_SEQ;
            else if (strcmp(optarg, "uniform") == 0)
                s->dist = ST_DIST_UNIFORM;
            else
                die_usage("--dist: expected seq or uniform, got '%s'", optarg);
            break;
        case O_SEED:
            s->seed = (uint64_t)parse_int("--seed", optarg, 0, INT64_MAX / 2);
            break;
        case O_JSON:
            s->json = optarg;
            break;
        case O_CL:
            s->consistency = parse_consistency(optarg);
            break;
        case O_TIMEOUT:
            s->timeout_ms = (int)parse_int("--timeout-ms", optarg, 0, 3600000);
            break;
        case O_VSIZE:
            s->value_size = (int)parse_int("--value-size", optarg, 1, 1 << 20);
            break;
        case O_BSIZE:
            s->blob_size = (int)parse_int("--blob-size", optarg, 10, 64 << 20);
            break;
        case O_DIM:
            s->dim = (int)parse_int("--dim", optarg, 1, 1000);
            break;
        case O_QUERIES:
            s->queries = (int)parse_int("--queries", optarg, 1, 1000000);
            break;
        case O_NOSCHEMA:
            s->no_schema = true;
            break;
        case O_QUIET:
            s->quiet = true;
            break;
        case O_LIST:
            printf("Workloads:\n");
            st_list_workloads();
            exit(EXIT_OK);
        case 'h':
        case O_HELP:
            usage(stdout);
            exit(EXIT_OK);
        default:
            usage(stderr);
            exit(EXIT_USAGE);
        }
    }
    if (optind < argc) die_usage("unexpected argument '%s'", argv[optind]);
    if (!s->workload) die_usage("--workload is required (--list shows them)");
    if (!s->ops && !s->duration_s) s->duration_s = 10;
    if (s->value_size > 1000) die_usage("--value-size: at most 1000 bytes");
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    st_settings set;
    parse_args(argc, argv, &set);
    time_t started = time(NULL);
    const st_workload *wl = st_find_workload(set.workload);
    if (!wl) die_usage("unknown workload '%s' (--list shows them)", set.workload);

    st_shared sh;
    hln_error err = {0};
    if (st_shared_init(&sh, &set, wl, &err)) {
        fprintf(stderr, "helenus-stress: %s\n", err.msg);
        return EXIT_USAGE;
    }

    /* schema and a check that every statement prepares, on one connection */
    char msg[2048] = "";
    int status = 0;
    cc_config cfg;
    cc_config_init(&cfg);
    cfg.host = set.host;
    cfg.port = set.port;
    cfg.request_timeout_ms = 60000; /* DDL can be slow on Cassandra */
    cc_client *c = NULL;
    if (cc_client_new(&cfg, NULL, &c, &err)) {
        snprintf(msg, sizeof msg, "%s", err.msg);
        status = EXIT_USAGE;
    } else if (cc_client_connect_sync(c, &err)) {
        snprintf(msg, sizeof msg, "%s", err.msg);
        status = EXIT_CONNECT;
    }
    if (!status && !set.no_schema) status = create_schema(c, wl, &set, msg, sizeof msg);
    cc_prepared *ps[8] = {0};
    if (!status) status = prepare_all(c, wl, &set, ps, msg, sizeof msg);
    for (size_t i = 0; i < HLN_ARRAY_LEN(ps); i++)
        cc_prepared_free(ps[i]);
    if (c) cc_client_free(c);
    if (!status && wl->setup && wl->setup(&sh, &err)) {
        snprintf(msg, sizeof msg, "%s", err.msg);
        status = EXIT_USAGE;
    }
    if (status) {
        const char *st = status == EXIT_UNSUPPORTED ? "unsupported"
                         : status == EXIT_CONNECT   ? "connect_failed"
                                                    : "failed";
        fprintf(stderr, "helenus-stress: %s: %s%s\n", set.workload,
                status == EXIT_UNSUPPORTED ? "unsupported by the server: " : "", msg);
        write_json(&set, &sh, st, msg, NULL, started);
        st_shared_free(&sh);
        return status;
    }

    /* the run */
    worker *ws = hln_calloc((size_t)set.threads, sizeof *ws);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)set.threads + 1);
    for (int i = 0; i < set.threads; i++) {
        ws[i].idx = i;
        ws[i].set = &set;
        ws[i].wl = wl;
        ws[i].sh = &sh;
        ws[i].barrier = &barrier;
        ws[i].tfd = -1;
        if (set.ops) ws[i].ops_target = set.ops / set.threads + (i < set.ops % set.threads);
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    }
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < set.threads && !status; i++)
        if (ws[i].status) {
            status = ws[i].status;
            snprintf(msg, sizeof msg, "%s", ws[i].msg);
        }
    for (int i = 0; i < set.threads && status; i++)
        if (!ws[i].status) ws[i].status = status; /* abort the others too */
    double cpu0 = cpu_seconds();
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < set.threads; i++)
        pthread_join(ws[i].th, NULL);
    pthread_barrier_destroy(&barrier);

    int rc = EXIT_OK;
    if (status) {
        fprintf(stderr, "helenus-stress: %s: %s\n", set.workload, msg);
        write_json(&set, &sh, status == EXIT_UNSUPPORTED ? "unsupported" : "connect_failed", msg,
                   NULL, started);
        rc = status;
    } else {
        totals t = {0};
        cc_hist_init(&t.hist, HIST_HIGHEST, 3);
        merge(&t, ws, set.threads);
        t.cpu_s = cpu_seconds() - cpu0;
        const char *st = "ok";
        bool lost = false;
        for (int i = 0; i < set.threads; i++)
            lost |= ws[i].lost;
        if (lost) {
            st = "connection_lost";
            rc = EXIT_CONNECT;
            snprintf(msg, sizeof msg, "the run stopped early: every connection to %s:%d was lost",
                     set.host, set.port);
            fprintf(stderr, "helenus-stress: %s: %s\n", set.workload, msg);
        } else if (t.ok == 0) {
            st = "failed";
            rc = EXIT_NOOPS;
            snprintf(msg, sizeof msg, "no operation succeeded%s%s", t.nsamples ? ": " : "",
                     t.nsamples ? t.samples[0].msg : "");
            fprintf(stderr, "helenus-stress: %s: %s\n", set.workload, msg);
        }
        print_summary(&set, &t);
        write_json(&set, &sh, st, rc ? msg : "", &t, started);
        cc_hist_free(&t.hist);
        hln_free(t.tl_ops);
        hln_free(t.tl_err);
        hln_free(t.tl_max);
    }
    for (int i = 0; i < set.threads; i++) {
        for (size_t j = 0; j < HLN_ARRAY_LEN(ws[i].ps); j++)
            cc_prepared_free(ws[i].ps[j]);
        cc_hist_free(&ws[i].hist);
        hln_free(ws[i].recs);
        hln_free(ws[i].tl_ops);
        hln_free(ws[i].tl_err);
        hln_free(ws[i].tl_max);
    }
    hln_free(ws);
    st_shared_free(&sh);
    return rc;
}
