/*
 * runtime.c — shard threads, their loops, inbound queues, start and stop.
 *
 * What: rt_new allocates the shards; rt_start starts one thread per shard.
 * Each thread initialises its libuv loop and the async handle that wakes
 * it for messages, runs the caller's start hook (the node engine opens the
 * shard's storage there, exec/node.c), reports to rt_start, and runs its
 * loop until stopped. rt_start returns once every shard has reported, or
 * stops the ones that started and fails cleanly.
 *
 * Messages: rt_post appends to the target's queue under a mutex and wakes
 * its loop with uv_async_send (which coalesces wakes); the target drains
 * the whole queue in one callback. This is an MPSC list; single-producer
 * rings per (sender, target) pair would keep the same contract (runtime.h
 * invariant 2: per-pair FIFO, exactly once) — docs/ARCHITECTURE.md has the
 * measurement that decided against them for now.
 *
 * Stop: rt_stop posts a stop message to each shard. On its thread it runs
 * the stop hook (the caller closes its handles: network, timers, storage),
 * marks the queue closed and closes the wake handle; the loop then ends
 * once its handles are closed (whatever is still open is closed by a
 * uv_walk), and the thread exits. Messages posted to a stopped shard are
 * dropped with a warning.
 *
 * Token routing: rt_shard_for_token splits the Murmur3 ring into nshards
 * contiguous ranges, shard 0 the lowest. Data directories depend on it (a
 * shard's commitlog and sstables hold exactly its range), so it must never
 * change for a given shard count.
 *
 * Invariants:
 *  1. s->stopping is written under s->qlock, so no uv_async_send can race
 *     with the close of s->wake.
 *  2. rt_start, rt_stop and rt_free run off shard threads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

struct rt_shard {
    int id;
    rt_runtime *rt;
    uv_loop_t loop;
    pthread_t thread;
    void *ud;
    /* inbound queue */
    pthread_mutex_t qlock;
    rt_msg *qhead, *qtail;
    uv_async_t wake;
    atomic_bool queued; /* qhead is not NULL (set under qlock, read without) */
    int64_t linger_ns;  /* rt_linger: shard thread only */
    bool stopping;
    /* lifecycle */
    rt_msg stop_msg;
    bool thread_started;
    int start_rc;
    hln_error start_err;
};

struct rt_runtime {
    int nshards;
    rt_shard *shards;
    rt_hooks hooks;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nreported; /* shards that finished starting (ok or not) */
};

static _Thread_local rt_shard *tl_shard;

rt_shard *rt_current(void)
{
    return tl_shard;
}

int rt_shard_for_token(int nshards, int64_t token)
{
    if (nshards <= 1) return 0;
    /* Flip the sign bit so INT64_MIN..INT64_MAX maps onto 0..2^64-1 in
     * order, then scale into [0, nshards): contiguous ranges, shard 0 lowest. */
    uint64_t u = (uint64_t)token ^ (1ULL << 63);
    return (int)(((unsigned __int128)u * (unsigned)nshards) >> 64);
}

int rt_nshards(const rt_runtime *rt)
{
    return rt->nshards;
}

rt_shard *rt_shard_at(rt_runtime *rt, int i)
{
    return &rt->shards[i];
}

int rt_shard_id(const rt_shard *s)
{
    return s->id;
}

rt_runtime *rt_shard_runtime(rt_shard *s)
{
    return s->rt;
}

uv_loop_t *rt_loop(rt_shard *s)
{
    return &s->loop;
}

void rt_set_ud(rt_shard *s, void *ud)
{
    s->ud = ud;
}

void *rt_ud(const rt_shard *s)
{
    return s->ud;
}

/* ---- messages --------------------------------------------------------- */

void rt_post(rt_shard *to, rt_msg *m)
{
    m->next = NULL;
    pthread_mutex_lock(&to->qlock);
    if (to->stopping) {
        pthread_mutex_unlock(&to->qlock);
        HLN_WARN("shard %d is stopped; dropping a message", to->id);
        return;
    }
    if (to->qtail)
        to->qtail->next = m;
    else
        to->qhead = m;
    to->qtail = m;
    atomic_store_explicit(&to->queued, true, memory_order_release);
    uv_async_send(&to->wake); /* under the lock: see invariant 1 */
    pthread_mutex_unlock(&to->qlock);
}

static bool is_stopping(rt_shard *s)
{
    pthread_mutex_lock(&s->qlock);
    bool stopped = s->stopping;
    pthread_mutex_unlock(&s->qlock);
    return stopped;
}

void rt_linger(rt_shard *s, int64_t ns)
{
    if (ns > s->linger_ns) s->linger_ns = ns;
}

/* After a batch that asked to linger: polls the queue flag for up to that
 * long. True when a message came (the caller drains again). */
static bool linger(rt_shard *s)
{
    int64_t ns = s->linger_ns;
    s->linger_ns = 0;
    return ns > 0 && hln_spin_until(&s->queued, hln_mono_nanos() + ns);
}

/* Runs the messages queued when the wake was noticed. Messages posted while
 * they run (also by themselves) wait for the next loop iteration: each
 * rt_post re-arms the async handle, so I/O is never starved. A batch that
 * asked to linger (rt_linger) is followed by the polling of linger() and,
 * when a message comes meanwhile, one more batch (libuv's wake for it then
 * finds the queue empty): a lingering shard delays its I/O by at most the
 * linger time, during which it was idle anyway. */
static void on_wake(uv_async_t *h)
{
    rt_shard *s = h->data;
    do {
        pthread_mutex_lock(&s->qlock);
        rt_msg *m = s->qhead;
        s->qhead = s->qtail = NULL;
        atomic_store_explicit(&s->queued, false, memory_order_relaxed);
        pthread_mutex_unlock(&s->qlock);
        while (m) {
            rt_msg *next = m->next;
            m->fn(s, m); /* may free m */
            m = next;
            if (s->stopping && m) {
                /* only the stop message itself sets stopping */
                int dropped = 0;
                for (; m; m = m->next)
                    dropped++;
                HLN_WARN("shard %d stopped with %d message(s) still queued", s->id, dropped);
                return;
            }
        }
    } while (!s->stopping && linger(s));
}

typedef struct run_all {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
    void (*fn)(rt_shard *s, void *ud);
    void *ud;
} run_all;

typedef struct run_all_msg {
    rt_msg m;
    run_all *ra;
} run_all_msg;

static void run_all_fn(rt_shard *s, rt_msg *m)
{
    run_all *ra = ((run_all_msg *)m)->ra;
    ra->fn(s, ra->ud);
    pthread_mutex_lock(&ra->mu);
    if (--ra->left == 0) pthread_cond_signal(&ra->cv);
    pthread_mutex_unlock(&ra->mu);
}

int rt_run_on_all(rt_runtime *rt, void (*fn)(rt_shard *s, void *ud), void *ud)
{
    if (rt_current()) return HLN_EINVAL; /* would wait for itself */
    run_all_msg *msgs = hln_calloc((size_t)rt->nshards, sizeof *msgs);
    if (!msgs) return HLN_ENOMEM;
    run_all ra = {.left = rt->nshards, .fn = fn, .ud = ud};
    pthread_mutex_init(&ra.mu, NULL);
    pthread_cond_init(&ra.cv, NULL);
    /* A stopped shard drops the message: count only the ones posted. */
    for (int i = 0; i < rt->nshards; i++) {
        rt_shard *s = &rt->shards[i];
        if (!s->thread_started || is_stopping(s)) {
            pthread_mutex_lock(&ra.mu);
            ra.left--;
            pthread_mutex_unlock(&ra.mu);
            continue;
        }
        msgs[i].m.fn = run_all_fn;
        msgs[i].ra = &ra;
        rt_post(s, &msgs[i].m);
    }
    pthread_mutex_lock(&ra.mu);
    while (ra.left > 0)
        pthread_cond_wait(&ra.cv, &ra.mu);
    pthread_mutex_unlock(&ra.mu);
    pthread_mutex_destroy(&ra.mu);
    pthread_cond_destroy(&ra.cv);
    hln_free(msgs);
    return 0;
}

/* ---- shard threads ----------------------------------------------------- */

static void on_stop(rt_shard *s, rt_msg *m)
{
    HLN_UNUSED(m);
    rt_runtime *rt = s->rt;
    if (rt->hooks.stop) rt->hooks.stop(s, rt->hooks.ud);
    pthread_mutex_lock(&s->qlock);
    s->stopping = true;
    pthread_mutex_unlock(&s->qlock);
    uv_close((uv_handle_t *)&s->wake, NULL);
}

static void report_started(rt_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    rt->nreported++;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

static void close_any(uv_handle_t *h, void *arg)
{
    HLN_UNUSED(arg);
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Closes whatever is still open on the loop and releases it. */
static void drain_loop(rt_shard *s)
{
    uv_walk(&s->loop, close_any, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop)) HLN_WARN("shard %d: event loop still busy at exit", s->id);
}

static void *shard_main(void *arg)
{
    rt_shard *s = arg;
    rt_runtime *rt = s->rt;
    tl_shard = s;
    char name[16];
    snprintf(name, sizeof name, "hln-shard-%d", s->id);
    pthread_setname_np(pthread_self(), name);

    int rc = uv_loop_init(&s->loop);
    if (rc) {
        s->start_rc = hln_fail(&s->start_err, HLN_ESERVER, "shard %d: cannot create event loop: %s",
                               s->id, uv_strerror(rc));
        pthread_mutex_lock(&s->qlock);
        s->stopping = true;
        pthread_mutex_unlock(&s->qlock);
        tl_shard = NULL;
        report_started(rt);
        return NULL;
    }
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    if (rt->hooks.start) s->start_rc = rt->hooks.start(s, rt->hooks.ud, &s->start_err);
    if (s->start_rc) {
        pthread_mutex_lock(&s->qlock);
        s->stopping = true;
        pthread_mutex_unlock(&s->qlock);
        drain_loop(s); /* closes wake and the hook's handles */
        tl_shard = NULL;
        report_started(rt);
        return NULL;
    }
    report_started(rt);

    uv_run(&s->loop, UV_RUN_DEFAULT);

    /* Whatever is still open (handles of modules that did not close their
     * own) is closed here so the loop can be released. */
    drain_loop(s);
    tl_shard = NULL;
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

int rt_new(rt_runtime **out, int nshards, hln_error *err)
{
    *out = NULL;
    if (nshards < 1 || nshards > 1024)
        return hln_fail(err, HLN_EINVAL, "Invalid shard count %d", nshards);
    rt_runtime *rt = hln_calloc(1, sizeof *rt);
    if (rt) rt->shards = hln_calloc((size_t)nshards, sizeof *rt->shards);
    if (!rt || !rt->shards) {
        hln_free(rt);
        return hln_fail(err, HLN_ENOMEM, "Out of memory starting %d shards", nshards);
    }
    rt->nshards = nshards;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    for (int i = 0; i < nshards; i++) {
        rt_shard *s = &rt->shards[i];
        s->id = i;
        s->rt = rt;
        pthread_mutex_init(&s->qlock, NULL);
        atomic_init(&s->queued, false);
    }
    *out = rt;
    return 0;
}

int rt_start(rt_runtime *rt, const rt_hooks *hooks, hln_error *err)
{
    if (hooks) rt->hooks = *hooks;
    int rc = 0, launched = 0;
    for (int i = 0; i < rt->nshards; i++) {
        rt_shard *s = &rt->shards[i];
        int prc = pthread_create(&s->thread, NULL, shard_main, s);
        if (prc) {
            rc = hln_fail(err, HLN_ESERVER, "Cannot start shard thread %d: %s", i, strerror(prc));
            break;
        }
        s->thread_started = true;
        launched++;
    }
    pthread_mutex_lock(&rt->mu);
    while (rt->nreported < launched)
        pthread_cond_wait(&rt->cv, &rt->mu);
    pthread_mutex_unlock(&rt->mu);
    for (int i = 0; i < launched && !rc; i++) {
        if (rt->shards[i].start_rc) {
            rc = rt->shards[i].start_rc;
            if (err) {
                *err = rt->shards[i].start_err;
                err->code = rc;
            }
        }
    }
    if (rc) rt_stop(rt);
    return rc;
}

void rt_stop(rt_runtime *rt)
{
    if (!rt) return;
    for (int i = 0; i < rt->nshards; i++) {
        rt_shard *s = &rt->shards[i];
        if (!s->thread_started || is_stopping(s)) continue;
        s->stop_msg.fn = on_stop;
        rt_post(s, &s->stop_msg);
    }
    for (int i = 0; i < rt->nshards; i++) {
        rt_shard *s = &rt->shards[i];
        if (!s->thread_started) continue;
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
}

void rt_free(rt_runtime *rt)
{
    if (!rt) return;
    for (int i = 0; i < rt->nshards; i++)
        pthread_mutex_destroy(&rt->shards[i].qlock);
    hln_free(rt->shards);
    pthread_mutex_destroy(&rt->mu);
    pthread_cond_destroy(&rt->cv);
    hln_free(rt);
}
