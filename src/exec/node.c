/*
 * node.c — the node engine: data directory, catalog, auth store, each
 * shard's storage, batchlog replay, start and stop. The threads, loops and
 * messages underneath are the runtime's (src/runtime).
 *
 * What: engine_start opens the data directory (creating it), checks and
 * records <data>/helenus.meta, opens the catalog and the auth store
 * (<data>/auth, src/auth), fills in what system.local describes about this
 * node, initialises exec, and starts the runtime with one shard per
 * configured core. On each shard's thread the runtime's start hook
 * (shard_open) opens that shard's storage engine (<data>/shard-<id>,
 * opened and replayed on that thread), an async handle the compaction
 * thread wakes, and, under periodic commitlog sync, a timer that fsyncs
 * the commitlog every sync_period_ms. Once every shard has replayed its
 * commitlog, engine_start re-applies the batchlog's pending LOGGED batches
 * (ex_batchlog_replay, exec/batchlog.c) before returning, so before any
 * request is accepted. engine_start returns once every shard is ready, or
 * stops the ones that started and fails cleanly.
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
 * commitlog and sstables hold exactly the token range rt_shard_for_token
 * gives it; starting with another count would hide data. Resharding is a
 * later issue, so a different --shards is refused with a clear error (0 =
 * "as recorded"). The host id is stable across restarts, as drivers expect.
 *
 * Stop: engine_stop calls the network layer's stop hook (if a server
 * registered one), then rt_stop: on each shard's thread the runtime's stop
 * hook (shard_close) closes the shard's network state, stops the sync
 * timer and closes storage (st_close flushes memtables). Then exec's state
 * and the network layer's are freed.
 *
 * Invariants:
 *  1. s->store is touched only on s's thread (storage.h invariant 4).
 *  2. An engine_priv's public part is its first member, so the hln_engine
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "exec/exec.h"

typedef struct engine_priv {
    hln_engine pub; /* first: see invariant 2 */
    int lock_fd;    /* <data>/helenus.lock, flock'ed while running; -1 if none */
} engine_priv;

hln_shard *engine_shard_current(void)
{
    rt_shard *s = rt_current();
    return s ? engine_shard(s) : NULL;
}

typedef struct run_all_node {
    void (*fn)(hln_shard *s, void *ud);
    void *ud;
} run_all_node;

static void run_all_node_fn(rt_shard *s, void *ud)
{
    run_all_node *ra = ud;
    ra->fn(engine_shard(s), ra->ud);
}

int engine_run_on_all(hln_engine *e, void (*fn)(hln_shard *s, void *ud), void *ud)
{
    run_all_node ra = {.fn = fn, .ud = ud};
    return rt_run_on_all(e->rt, run_all_node_fn, &ra);
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
    /* also the clock of compaction: sstables that expire while nothing is
       written, and strategies changed by ALTER TABLE, are looked at here */
    st_maintain(s->store);
    ex_sai_idle(s);
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
    /* a finished flush may have made room for parked writes */
    if (s->parked) ex_park_retry(s);
}

/* The runtime's stop hook, on s's thread. */
static void shard_close(rt_shard *rs, void *ud)
{
    hln_engine *e = ud;
    hln_shard *s = engine_shard(rs);
    if (s->server && e->net.shard_close) e->net.shard_close(s);
    uv_timer_stop(&s->sync_timer);
    if (!uv_is_closing((uv_handle_t *)&s->sync_timer))
        uv_close((uv_handle_t *)&s->sync_timer, NULL);
    ex_park_fail_all(s); /* writes still waiting for memtable space time out */
    uv_timer_stop(&s->park_timer);
    if (!uv_is_closing((uv_handle_t *)&s->park_timer))
        uv_close((uv_handle_t *)&s->park_timer, NULL);
    if (s->store) {
        ex_sai_save_all(s); /* before storage goes: nothing writes any more */
        s->close_rc = st_close(s->store, &s->close_err);
        s->store = NULL;
    }
    /* after st_close: the compaction thread is gone, nothing sends any more */
    uv_close((uv_handle_t *)&s->storage_wake, NULL);
}

/* The runtime's start hook, on s's thread: opens and replays its storage. */
static int shard_open(rt_shard *rs, void *ud, hln_error *err)
{
    hln_engine *e = ud;
    hln_shard *s = engine_shard(rs);
    s->loop = rt_loop(rs);
    uv_async_init(s->loop, &s->storage_wake, on_storage_wake);
    s->storage_wake.data = s;
    uv_timer_init(s->loop, &s->sync_timer);
    s->sync_timer.data = s;
    uv_timer_init(s->loop, &s->park_timer);
    s->park_timer.data = s;

    char dir[1100];
    snprintf(dir, sizeof dir, "%s/shard-%d", e->cfg.data_dir, s->id);
    st_options so = e->cfg.storage;
    so.background_wake = storage_wake_cb;
    so.background_ud = s;
    so.applied = ex_ann_applied; /* vector indexes follow the writes (exec/sai.c) */
    so.applied_ud = s;
    so.table_opts = ex_table_storage_opts; /* the tables' compression, compaction, gc_grace */
    so.table_opts_ud = e;
    so.compaction_bps = &e->compaction_bps; /* shared by the shards' jobs */
    so.compaction_bps_share = (uint32_t)e->nshards;
    so.chunk_cache_bytes = (size_t)(e->cfg.file_cache_bytes / (uint64_t)e->nshards);
    /* memtable_heap_space per shard: each shard bounds its own memtables
       (no counter shared between threads on the write path; the token
       split spreads writes evenly), at least 1 MiB */
    uint64_t space = e->cfg.memtable_space_bytes / (uint64_t)e->nshards;
    so.memtable_space_bytes = (size_t)(space < ((uint64_t)1 << 20) ? (uint64_t)1 << 20 : space);
    int rc = st_open(&s->store, dir, &so, table_exists, e, err);
    if (rc) {
        s->store = NULL; /* the runtime closes the handles */
        return rc;
    }
    /* indexes: loaded from the last clean stop's snapshots, or built in
       the background from the data just opened */
    hln_schema *sc = catalog_acquire(e->catalog);
    if (sc) {
        ex_sai_open(s, sc);
        schema_release(sc);
    }
    if (e->cfg.storage.sync == ST_SYNC_PERIODIC && e->cfg.storage.sync_period_ms > 0)
        uv_timer_start(&s->sync_timer, on_sync_timer, e->cfg.storage.sync_period_ms,
                       e->cfg.storage.sync_period_ms);
    HLN_DEBUG("shard %d ready (%s)", s->id, dir);
    return 0;
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

int engine_resolve(const char *host, int port, struct sockaddr_storage *out, hln_error *err)
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
    int rc = engine_resolve(e->cfg.listen_address, e->cfg.native_transport_port, &ss, err);
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

static void engine_free(engine_priv *ep)
{
    hln_engine *e = &ep->pub;
    if (e->server && e->net.destroy) e->net.destroy(e);
    rt_free(e->rt);
    hln_free(e->shards);
    if (e->catalog) catalog_close(e->catalog);
    auth_close(e->auth);
    if (ep->lock_fd >= 0) close(ep->lock_fd); /* releases the flock */
    hln_free(ep);
}

int engine_start(hln_engine **out, const hln_config *cfg, hln_error *err)
{
    *out = NULL;
    engine_priv *ep = hln_calloc(1, sizeof *ep);
    if (!ep) return hln_fail(err, HLN_ENOMEM, "Out of memory starting the engine");
    ep->lock_fd = -1;
    hln_engine *e = &ep->pub;
    e->cfg = *cfg;
    e->started_at = hln_now_micros();
    atomic_init(&e->compaction_bps, e->cfg.compaction_bps);

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

    rc = rt_new(&e->rt, e->nshards, err);
    e->shards = rc ? NULL : hln_calloc((size_t)e->nshards, sizeof *e->shards);
    if (!e->shards) {
        if (!rc) rc = hln_fail(err, HLN_ENOMEM, "Out of memory starting %d shards", e->nshards);
        ex_shutdown(e);
        engine_free(ep);
        return rc;
    }
    for (int i = 0; i < e->nshards; i++) {
        hln_shard *s = &e->shards[i];
        s->id = i;
        s->eng = e;
        s->rt = rt_shard_at(e->rt, i);
        rt_set_ud(s->rt, s);
    }
    rt_hooks hooks = {.start = shard_open, .stop = shard_close, .ud = e};
    rc = rt_start(e->rt, &hooks, err);
    /* Every shard has replayed its commitlog: finish the LOGGED batches a
     * crash interrupted (exec/batchlog.c), before any request is taken. */
    if (!rc) rc = ex_batchlog_replay(e, err);
    if (rc) {
        rt_stop(e->rt);
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
    if (e->server && e->net.stop) e->net.stop(e); /* stop accepting, close connections */
    rt_stop(e->rt);
    int rc = 0;
    for (int i = 0; i < e->nshards; i++) {
        hln_shard *s = &e->shards[i];
        if (s->close_rc && !rc) {
            rc = s->close_rc;
            if (err) {
                *err = s->close_err;
                err->code = rc;
            }
        }
        if (s->close_rc) HLN_ERR("shard %d: closing storage failed: %s", i, s->close_err.msg);
    }
    ex_shutdown(e);
    engine_free(ep);
    return rc;
}
