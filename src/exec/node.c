/*
 * engine.c — the runtime: data directory, shard threads, cross-shard
 * messages, start and stop.
 *
 * What: engine_start opens the data directory (creating it), checks and
 * records <data>/helenus.meta, opens the catalog and the auth store
 * (<data>/auth, src/auth), fills in what
 * system.local describes about this node, initialises exec, and starts one
 * thread per shard. Each shard thread owns a libuv loop, an async handle
 * that wakes it for messages, its storage engine (<data>/shard-<id>, opened
 * and replayed on that thread), and, under periodic commitlog sync, a timer
 * that fsyncs the commitlog every sync_period_ms. Once every shard has
 * replayed its commitlog, engine_start re-applies the batchlog's pending
 * LOGGED batches (ex_batchlog_replay, exec/batchlog.c) before returning,
 * so before any request is accepted. engine_start returns once every
 * shard is ready, or stops the ones that started and fails cleanly.
 *
 * helenus.meta is a small text file, written atomically (temp file, fsync,
 * rename, fsync of the directory) on first start:
 *
 *     # helenus.meta: written at first start; do not edit
 *     shards=2
 *     host_id=8d0c0c5e-7f47-4a3c-9a43-1a2b3c4d5e6f
 *
 * While an engine runs it holds an exclusive flock on <data>/helenus.lock,
 * so a second server (or an embedded open) on the same directory fails
 * with a clear error instead of interleaving two commitlogs.
 *
 * The shard count is fixed for a data directory because every shard's
 * commitlog and sstables hold exactly the token range shard_for_token gives
 * it; starting with another count would hide data. Resharding is a later
 * issue, so a different --shards is refused with a clear error (0 = "as
 * recorded"). The host id is stable across restarts, as drivers expect.
 *
 * Messages: shard_post appends to the target's queue under a mutex and
 * wakes its loop with uv_async_send (which coalesces wakes); the target
 * drains the whole queue in one callback. This is an MPSC list; lock-free
 * SPSC rings per (sender, target) pair are a later optimisation that keeps
 * the same contract (engine.h invariant 2: per-pair FIFO, exactly once).
 *
 * Stop: engine_stop posts a stop message to each shard. On its thread it
 * closes the shard's network handles (server), marks the queue closed,
 * stops the sync timer and closes storage (st_close flushes memtables); the
 * loop then ends once its handles are closed, and the thread exits. Messages
 * posted to a stopped shard are dropped with a warning: their senders are
 * shutting down too.
 *
 * Invariants:
 *  1. s->store is touched only on s's thread (storage.h invariant 4).
 *  2. s->stopping is written under s->qlock, so no uv_async_send can race
 *     with the close of s->wake.
 *  3. An engine_priv's public part is its first member, so the hln_engine
 *     pointer handed out converts back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "exec/exec.h"
#include "server/server_int.h"

typedef struct shard_priv {
    hln_msg stop_msg;
    int open_rc; /* st_open result, reported to engine_start */
    hln_error open_err;
    int close_rc; /* st_close result, reported to engine_stop */
    hln_error close_err;
    bool thread_started;
} shard_priv;

typedef struct engine_priv {
    hln_engine pub; /* first: see invariant 3 */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nstarted;   /* shards that finished opening (ok or not) */
    shard_priv *sp; /* per shard, by id */
    int lock_fd;    /* <data>/helenus.lock, flock'ed while running; -1 if none */
} engine_priv;

static _Thread_local hln_shard *tl_shard;

hln_shard *shard_current(void)
{
    return tl_shard;
}

int shard_for_token(int nshards, int64_t token)
{
    if (nshards <= 1) return 0;
    /* Flip the sign bit so INT64_MIN..INT64_MAX maps onto 0..2^64-1 in
     * order, then scale into [0, nshards): contiguous ranges, shard 0 lowest. */
    uint64_t u = (uint64_t)token ^ (1ULL << 63);
    return (int)(((unsigned __int128)u * (unsigned)nshards) >> 64);
}

/* ---- messages --------------------------------------------------------- */

void shard_post(hln_shard *to, hln_msg *m)
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
    uv_async_send(&to->wake); /* under the lock: see invariant 2 */
    pthread_mutex_unlock(&to->qlock);
}

/* Runs the messages queued when the wake was noticed. Messages posted while
 * they run (also by themselves) wait for the next loop iteration: each
 * shard_post re-arms the async handle, so I/O is never starved. */
static void on_wake(uv_async_t *h)
{
    hln_shard *s = h->data;
    pthread_mutex_lock(&s->qlock);
    hln_msg *m = s->qhead;
    s->qhead = s->qtail = NULL;
    pthread_mutex_unlock(&s->qlock);
    while (m) {
        hln_msg *next = m->next;
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
}

typedef struct run_all {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
    void (*fn)(hln_shard *s, void *ud);
    void *ud;
} run_all;

typedef struct run_all_msg {
    hln_msg m;
    run_all *ra;
} run_all_msg;

static void run_all_fn(hln_shard *s, hln_msg *m)
{
    run_all *ra = ((run_all_msg *)m)->ra;
    ra->fn(s, ra->ud);
    pthread_mutex_lock(&ra->mu);
    if (--ra->left == 0) pthread_cond_signal(&ra->cv);
    pthread_mutex_unlock(&ra->mu);
}

int engine_run_on_all(hln_engine *e, void (*fn)(hln_shard *s, void *ud), void *ud)
{
    if (shard_current()) return HLN_EINVAL; /* would wait for itself */
    run_all_msg *msgs = hln_calloc((size_t)e->nshards, sizeof *msgs);
    if (!msgs) return HLN_ENOMEM;
    run_all ra = {.left = e->nshards, .fn = fn, .ud = ud};
    pthread_mutex_init(&ra.mu, NULL);
    pthread_cond_init(&ra.cv, NULL);
    /* A stopped shard drops the message: count only the ones posted. */
    for (int i = 0; i < e->nshards; i++) {
        hln_shard *s = &e->shards[i];
        pthread_mutex_lock(&s->qlock);
        bool stopped = s->stopping;
        pthread_mutex_unlock(&s->qlock);
        if (stopped) {
            pthread_mutex_lock(&ra.mu);
            ra.left--;
            pthread_mutex_unlock(&ra.mu);
            continue;
        }
        msgs[i].m.fn = run_all_fn;
        msgs[i].ra = &ra;
        shard_post(s, &msgs[i].m);
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

static bool table_exists(void *ud, const uint8_t table_id[16])
{
    hln_engine *e = ud;
    hln_schema *s = catalog_acquire(e->catalog);
    bool found = s && schema_table_by_id(s, table_id) != NULL;
    if (s) schema_release(s);
    return found;
}

static void on_sync_timer(uv_timer_t *t)
{
    hln_shard *s = t->data;
    if (!s->store) return;
    hln_error err = {0};
    if (st_sync(s->store, &err)) HLN_ERR("shard %d: commitlog sync failed: %s", s->id, err.msg);
}

/* Runs on the compaction thread: only wakes the shard's loop. */
static void storage_wake_cb(void *ud)
{
    hln_shard *s = ud;
    uv_async_send(&s->storage_wake);
}

static void on_storage_wake(uv_async_t *h)
{
    hln_shard *s = h->data;
    if (s->store) st_maintain(s->store);
}

static void on_stop(hln_shard *s, hln_msg *m)
{
    HLN_UNUSED(m);
    engine_priv *ep = (engine_priv *)s->eng;
    shard_priv *sp = &ep->sp[s->id];
    if (s->server) srv_shard_close(s);
    pthread_mutex_lock(&s->qlock);
    s->stopping = true;
    pthread_mutex_unlock(&s->qlock);
    uv_timer_stop(&s->sync_timer);
    if (!uv_is_closing((uv_handle_t *)&s->sync_timer))
        uv_close((uv_handle_t *)&s->sync_timer, NULL);
    if (s->store) {
        sp->close_rc = st_close(s->store, &sp->close_err);
        s->store = NULL;
    }
    /* after st_close: the compaction thread is gone, nothing sends any more */
    uv_close((uv_handle_t *)&s->storage_wake, NULL);
    uv_close((uv_handle_t *)&s->wake, NULL);
}

static void report_started(engine_priv *ep)
{
    pthread_mutex_lock(&ep->mu);
    ep->nstarted++;
    pthread_cond_broadcast(&ep->cv);
    pthread_mutex_unlock(&ep->mu);
}

static void close_any(uv_handle_t *h, void *arg)
{
    HLN_UNUSED(arg);
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void *shard_main(void *arg)
{
    hln_shard *s = arg;
    engine_priv *ep = (engine_priv *)s->eng;
    shard_priv *sp = &ep->sp[s->id];
    hln_engine *e = s->eng;
    tl_shard = s;
    char name[16];
    snprintf(name, sizeof name, "hln-shard-%d", s->id);
    pthread_setname_np(pthread_self(), name);

    int rc = uv_loop_init(&s->loop);
    if (rc) {
        sp->open_rc = hln_fail(&sp->open_err, HLN_ESERVER, "shard %d: cannot create event loop: %s",
                               s->id, uv_strerror(rc));
        report_started(ep);
        return NULL;
    }
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    uv_async_init(&s->loop, &s->storage_wake, on_storage_wake);
    s->storage_wake.data = s;
    uv_timer_init(&s->loop, &s->sync_timer);
    s->sync_timer.data = s;

    char dir[1100];
    snprintf(dir, sizeof dir, "%s/shard-%d", e->cfg.data_dir, s->id);
    st_options so = e->cfg.storage;
    so.background_wake = storage_wake_cb;
    so.background_ud = s;
    sp->open_rc = st_open(&s->store, dir, &so, table_exists, e, &sp->open_err);
    if (sp->open_rc) {
        s->store = NULL;
        pthread_mutex_lock(&s->qlock);
        s->stopping = true;
        pthread_mutex_unlock(&s->qlock);
        uv_close((uv_handle_t *)&s->wake, NULL);
        uv_close((uv_handle_t *)&s->storage_wake, NULL);
        uv_close((uv_handle_t *)&s->sync_timer, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        report_started(ep);
        return NULL;
    }
    if (e->cfg.storage.sync == ST_SYNC_PERIODIC && e->cfg.storage.sync_period_ms > 0)
        uv_timer_start(&s->sync_timer, on_sync_timer, e->cfg.storage.sync_period_ms,
                       e->cfg.storage.sync_period_ms);
    HLN_DEBUG("shard %d ready (%s)", s->id, dir);
    report_started(ep);

    uv_run(&s->loop, UV_RUN_DEFAULT);

    /* Whatever is still open (handles of modules that did not close their
     * own) is closed here so the loop can be released. */
    uv_walk(&s->loop, close_any, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop)) HLN_WARN("shard %d: event loop still busy at exit", s->id);
    if (s->store) { /* stopped without the stop message: cannot happen, but never lose data */
        sp->close_rc = st_close(s->store, &sp->close_err);
        s->store = NULL;
    }
    tl_shard = NULL;
    return NULL;
}

/* ---- data directory ----------------------------------------------------- */

static int mkdir_p(const char *path, hln_error *err)
{
    char tmp[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return hln_fail(err, HLN_ECONFIG, "Invalid data directory '%s'", path);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST)
            return hln_fail(err, HLN_EIO, "Cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST)
        return hln_fail(err, HLN_EIO, "Cannot create directory %s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) || !S_ISDIR(st.st_mode))
        return hln_fail(err, HLN_EIO, "Data directory %s is not a directory", tmp);
    return 0;
}

typedef struct meta {
    int shards; /* 0: not recorded */
    uint8_t host_id[16];
    bool has_host_id;
} meta;

static int meta_read(const char *path, meta *m, bool *exists, hln_error *err)
{
    memset(m, 0, sizeof *m);
    *exists = false;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        return hln_fail(err, HLN_EIO, "Cannot read %s: %s", path, strerror(errno));
    }
    *exists = true;
    char line[256];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            fclose(f);
            return hln_corrupt(err, path, "line %d has no '='", lineno);
        }
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "shards")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n <= 0 || n > 1024) {
                fclose(f);
                return hln_corrupt(err, path, "bad shard count '%s'", v);
            }
            m->shards = (int)n;
        } else if (!strcmp(k, "host_id")) {
            if (hln_uuid_parse(v, m->host_id)) {
                fclose(f);
                return hln_corrupt(err, path, "bad host_id '%s'", v);
            }
            m->has_host_id = true;
        } /* other keys: written by a later version; keep going */
    }
    fclose(f);
    return 0;
}

static int meta_write(const char *path, const meta *m, hln_error *err)
{
    char id[37], text[256];
    hln_uuid_format(m->host_id, id);
    int n = snprintf(text, sizeof text,
                     "# helenus.meta: written at first start; do not edit\nshards=%d\nhost_id=%s\n",
                     m->shards, id);
    return hln_write_file_durably(path, text, (size_t)n, 0644, err);
}

static int lock_data_dir(engine_priv *ep, hln_error *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/helenus.lock", ep->pub.cfg.data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return hln_fail(err, HLN_EIO, "Cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return hln_fail(err, HLN_EIO, "Data directory %s is in use by another Helenus process",
                            ep->pub.cfg.data_dir);
        return hln_fail(err, HLN_EIO, "Cannot lock %s: %s", path, strerror(e));
    }
    ep->lock_fd = fd;
    return 0;
}

/* Settles the shard count and host id of this data directory. */
static int open_meta(hln_engine *e, hln_error *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/helenus.meta", e->cfg.data_dir);
    meta m;
    bool exists;
    int rc = meta_read(path, &m, &exists, err);
    if (rc) return rc;
    int want = e->cfg.shards;
    if (m.shards) {
        if (want > 0 && want != m.shards)
            return hln_fail(err, HLN_ECONFIG,
                            "Data directory %s was created with %d shard%s; it cannot be opened "
                            "with %d (changing the shard count is not supported yet). Start with "
                            "--shards %d, or use a new data directory.",
                            e->cfg.data_dir, m.shards, m.shards == 1 ? "" : "s", want, m.shards);
        e->nshards = m.shards;
    } else {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        e->nshards = want > 0 ? want : (ncpu > 0 ? (int)(ncpu > 1024 ? 1024 : ncpu) : 1);
    }
    bool dirty = !exists || !m.shards || !m.has_host_id;
    m.shards = e->nshards;
    if (!m.has_host_id) hln_uuid_random(m.host_id);
    memcpy(e->node.host_id, m.host_id, 16);
    return dirty ? meta_write(path, &m, err) : 0;
}

int srv_resolve(const char *host, int port, struct sockaddr_storage *out, hln_error *err)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (uv_ip4_addr(host, port, a4) == 0) return 0;
    if (uv_ip6_addr(host, port, a6) == 0) return 0;
    /* a host name (e.g. "localhost" as cassandra.yaml ships it) */
    uv_getaddrinfo_t req;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    uv_loop_t loop;
    if (uv_loop_init(&loop)) return hln_fail(err, HLN_ESERVER, "Cannot resolve '%s'", host);
    int rc = uv_getaddrinfo(&loop, &req, NULL, host, NULL, &hints);
    if (rc == 0 && req.addrinfo) {
        memcpy(out, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
        if (out->ss_family == AF_INET)
            a4->sin_port = htons((uint16_t)port);
        else
            a6->sin6_port = htons((uint16_t)port);
        uv_freeaddrinfo(req.addrinfo);
    }
    uv_loop_close(&loop);
    if (rc)
        return hln_fail(err, HLN_ECONFIG, "Cannot resolve address '%s': %s", host, uv_strerror(rc));
    return 0;
}

static int fill_node(hln_engine *e, hln_error *err)
{
    hln_node_info *n = &e->node;
    struct sockaddr_storage ss;
    int rc = srv_resolve(e->cfg.listen_address, e->cfg.native_transport_port, &ss, err);
    if (rc) return rc;
    if (ss.ss_family == AF_INET) {
        memcpy(n->address, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        n->address_len = 4;
    } else {
        memcpy(n->address, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
        n->address_len = 16;
    }
    n->port = e->cfg.native_transport_port;
    n->cluster_name = e->cfg.cluster_name;
    n->datacenter = e->cfg.datacenter;
    n->rack = e->cfg.rack;
    n->release_version = "5.0.2";
    n->cql_version = "3.4.7";
    n->native_protocol_version = "4";
    n->partitioner = "org.apache.cassandra.dht.Murmur3Partitioner";
    /* 16 tokens evenly spaced over the ring, each in the middle of its
     * sixteenth (so none is the ring's minimum token, which Cassandra never
     * assigns). */
    const int nt = (int)HLN_ARRAY_LEN(e->tokens);
    for (int i = 0; i < nt; i++)
        e->tokens[i] = (int64_t)(((uint64_t)i << 60) + (1ULL << 59) - (1ULL << 63));
    n->tokens = e->tokens;
    n->ntokens = nt;
    n->bootstrapped_at = e->started_at;
    return 0;
}

/* ---- start / stop -------------------------------------------------------- */

static void stop_threads(engine_priv *ep)
{
    hln_engine *e = &ep->pub;
    for (int i = 0; i < e->nshards; i++) {
        hln_shard *s = &e->shards[i];
        if (!ep->sp[i].thread_started) continue;
        pthread_mutex_lock(&s->qlock);
        bool stopped = s->stopping;
        pthread_mutex_unlock(&s->qlock);
        if (!stopped) {
            ep->sp[i].stop_msg.fn = on_stop;
            shard_post(s, &ep->sp[i].stop_msg);
        }
    }
    for (int i = 0; i < e->nshards; i++) {
        if (!ep->sp[i].thread_started) continue;
        pthread_join(e->shards[i].thread, NULL);
        ep->sp[i].thread_started = false;
    }
}

static void engine_free(engine_priv *ep)
{
    hln_engine *e = &ep->pub;
    if (e->server) srv_destroy(e);
    if (e->shards) {
        for (int i = 0; i < e->nshards; i++)
            pthread_mutex_destroy(&e->shards[i].qlock);
        hln_free(e->shards);
    }
    if (e->catalog) catalog_close(e->catalog);
    auth_close(e->auth);
    hln_free(ep->sp);
    if (ep->lock_fd >= 0) close(ep->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&ep->mu);
    pthread_cond_destroy(&ep->cv);
    hln_free(ep);
}

int engine_start(hln_engine **out, const hln_config *cfg, hln_error *err)
{
    *out = NULL;
    engine_priv *ep = hln_calloc(1, sizeof *ep);
    if (!ep) return hln_fail(err, HLN_ENOMEM, "Out of memory starting the engine");
    pthread_mutex_init(&ep->mu, NULL);
    pthread_cond_init(&ep->cv, NULL);
    ep->lock_fd = -1;
    hln_engine *e = &ep->pub;
    e->cfg = *cfg;
    e->started_at = hln_now_micros();

    int rc = mkdir_p(e->cfg.data_dir, err);
    if (!rc) rc = lock_data_dir(ep, err);
    if (!rc) rc = open_meta(e, err);
    if (!rc) rc = fill_node(e, err);
    if (!rc) rc = catalog_open(&e->catalog, e->cfg.data_dir, err);
    /* roles and permissions; the default superuser is made when passwords
     * are checked and no role exists yet */
    if (!rc)
        rc = auth_open(&e->auth, e->cfg.data_dir, e->cfg.password_auth, e->cfg.auth_bcrypt_rounds,
                       err);
    if (rc) {
        engine_free(ep);
        return rc;
    }
    rc = ex_init(e, err);
    if (rc) {
        engine_free(ep);
        return rc;
    }

    e->shards = hln_calloc((size_t)e->nshards, sizeof *e->shards);
    ep->sp = hln_calloc((size_t)e->nshards, sizeof *ep->sp);
    if (!e->shards || !ep->sp) {
        ex_shutdown(e);
        engine_free(ep);
        return hln_fail(err, HLN_ENOMEM, "Out of memory starting %d shards", e->nshards);
    }
    for (int i = 0; i < e->nshards; i++) {
        hln_shard *s = &e->shards[i];
        s->id = i;
        s->eng = e;
        pthread_mutex_init(&s->qlock, NULL);
    }
    int launched = 0;
    for (int i = 0; i < e->nshards; i++) {
        int prc = pthread_create(&e->shards[i].thread, NULL, shard_main, &e->shards[i]);
        if (prc) {
            rc = hln_fail(err, HLN_ESERVER, "Cannot start shard thread %d: %s", i, strerror(prc));
            break;
        }
        ep->sp[i].thread_started = true;
        launched++;
    }
    pthread_mutex_lock(&ep->mu);
    while (ep->nstarted < launched)
        pthread_cond_wait(&ep->cv, &ep->mu);
    pthread_mutex_unlock(&ep->mu);
    for (int i = 0; i < launched && !rc; i++) {
        if (ep->sp[i].open_rc) {
            rc = ep->sp[i].open_rc;
            if (err) {
                *err = ep->sp[i].open_err;
                err->code = rc;
            }
        }
    }
    /* Every shard has replayed its commitlog: finish the LOGGED batches a
     * crash interrupted (exec/batchlog.c), before any request is taken. */
    if (!rc) rc = ex_batchlog_replay(e, err);
    if (rc) {
        stop_threads(ep);
        ex_shutdown(e);
        engine_free(ep);
        return rc;
    }
    HLN_INFO("engine started: %d shard%s, data in %s", e->nshards, e->nshards == 1 ? "" : "s",
             e->cfg.data_dir);
    *out = e;
    return 0;
}

int engine_stop(hln_engine *e, hln_error *err)
{
    if (!e) return 0;
    engine_priv *ep = (engine_priv *)e;
    server_stop(e); /* no-op if there is no server or it is stopped */
    stop_threads(ep);
    int rc = 0;
    for (int i = 0; i < e->nshards; i++) {
        if (ep->sp[i].close_rc && !rc) {
            rc = ep->sp[i].close_rc;
            if (err) {
                *err = ep->sp[i].close_err;
                err->code = rc;
            }
        }
        if (ep->sp[i].close_rc)
            HLN_ERR("shard %d: closing storage failed: %s", i, ep->sp[i].close_err.msg);
    }
    ex_shutdown(e);
    engine_free(ep);
    return rc;
}
