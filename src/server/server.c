/*
 * server.c — the CQL listener: bind, accept, hand connections to shards,
 * broadcast schema events, shut down.
 *
 * What: server_start sets up every shard's network state (an srv_shard with
 * its flush hooks) and binds the listening socket on shard 0's loop, on
 * shard 0's thread. Each accepted socket is detached from shard 0's loop
 * (its descriptor is duplicated and the temporary handle closed) and posted
 * round-robin to a shard, which adopts it with uv_tcp_open; from then on the
 * connection lives entirely on that shard (conn.c).
 *
 * Why hand over descriptors rather than one listener per shard with
 * SO_REUSEPORT: the kernel's reuseport hashing spreads connections unevenly
 * for the few long-lived connections a driver opens, and one listener keeps
 * "port in use" errors simple. Shard 0 does a little more work per accept;
 * accepts are rare compared to requests.
 *
 * Invariants:
 *  1. The listener and the round-robin cursor are touched only on shard 0.
 *  2. A connection never moves between shards after adoption.
 *  3. After srv_shard_close(s), s accepts no connection: an adoption message
 *     arriving later closes the descriptor.
 *  4. server_stop returns only when every connection struct has been freed
 *     (all requests finished) or after DRAIN_TIMEOUT_MS, so engine_stop
 *     rarely finds work in flight.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "proto/proto.h"
#include "server/server_int.h"
#include "server/tls.h"

/* Connections a burst of clients can have waiting for accept (the kernel
 * caps it at net.core.somaxconn). */
#define LISTEN_BACKLOG 4096

static srv_shard *ss_of(hln_shard *s)
{
    return s->server;
}

/* ---- accepting --------------------------------------------------------- */

typedef struct adopt_msg {
    rt_msg m;
    int fd;
} adopt_msg;

static void adopt_fn(rt_shard *rs, rt_msg *m)
{
    hln_shard *s = engine_shard(rs);
    adopt_msg *am = (adopt_msg *)m;
    srv_shard *ss = ss_of(s);
    if (!ss || ss->closed)
        close(am->fd);
    else
        conn_adopt(ss, am->fd);
    hln_free(am);
}

static void free_handle(uv_handle_t *h)
{
    hln_free(h);
}

static void on_connection(uv_stream_t *listener, int status)
{
    srv_shard *ss = listener->data;
    if (status < 0) {
        HLN_WARN("accept failed: %s", uv_strerror(status));
        return;
    }
    uv_tcp_t *tmp = hln_malloc(sizeof *tmp);
    if (!tmp) return;
    uv_tcp_init(listener->loop, tmp);
    int rc = uv_accept(listener, (uv_stream_t *)tmp);
    uv_os_fd_t fd = -1;
    if (!rc) rc = uv_fileno((uv_handle_t *)tmp, &fd);
    int nfd = rc ? -1 : dup(fd);
    uv_close((uv_handle_t *)tmp, free_handle);
    if (nfd < 0) {
        HLN_WARN("accept failed: %s", rc ? uv_strerror(rc) : strerror(errno));
        return;
    }
    hln_engine *e = ss->srv->eng;
    int target = (int)(ss->srv->next_shard++ % (unsigned)e->nshards);
    adopt_msg *am = hln_malloc(sizeof *am);
    if (!am) {
        close(nfd);
        return;
    }
    am->m.fn = adopt_fn;
    am->fd = nfd;
    engine_post(&e->shards[target], &am->m);
}

/* ---- per-shard setup and teardown --------------------------------------- */

static void on_flush_hook(uv_handle_t *h)
{
    conn_flush_dirty(h->data);
}
static void on_prepare(uv_prepare_t *h)
{
    on_flush_hook((uv_handle_t *)h);
}
static void on_check(uv_check_t *h)
{
    on_flush_hook((uv_handle_t *)h);
}

static void on_idle_timer(uv_timer_t *t)
{
    srv_shard *ss = t->data;
    conn_sweep_idle(ss, ss->srv->eng->cfg.idle_timeout_ms);
}

static void listen_on_shard(srv_shard *ss)
{
    srv *sv = ss->srv;
    uv_loop_t *loop = ss->shard->loop;
    uv_tcp_init(loop, &ss->listener);
    ss->listener.data = ss;
    char host[INET6_ADDRSTRLEN] = "?";
    if (sv->addr.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&sv->addr, host, sizeof host);
    else
        uv_ip6_name((struct sockaddr_in6 *)&sv->addr, host, sizeof host);
    int rc = uv_tcp_bind(&ss->listener, (const struct sockaddr *)&sv->addr, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&ss->listener, LISTEN_BACKLOG, on_connection);
    if (rc) {
        sv->listen_rc = hln_fail(&sv->listen_err, HLN_EIO, "Cannot listen on %s:%d: %s", host,
                                 sv->eng->cfg.native_transport_port, uv_strerror(rc));
        uv_close((uv_handle_t *)&ss->listener, NULL);
        return;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (uv_tcp_getsockname(&ss->listener, (struct sockaddr *)&bound, &len) == 0)
        sv->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                    : ((struct sockaddr_in6 *)&bound)->sin6_port);
    ss->listening = true;
}

static void setup_shard(hln_shard *s, void *ud)
{
    srv *sv = ud;
    srv_shard *ss = hln_calloc(1, sizeof *ss);
    if (!ss) {
        if (s->id == 0) sv->listen_rc = hln_fail(&sv->listen_err, HLN_ENOMEM, "Out of memory");
        return;
    }
    ss->shard = s;
    ss->srv = sv;
    uv_prepare_init(s->loop, &ss->flush_prepare);
    uv_check_init(s->loop, &ss->flush_check);
    ss->flush_prepare.data = ss->flush_check.data = ss;
    uv_prepare_start(&ss->flush_prepare, on_prepare);
    uv_check_start(&ss->flush_check, on_check);
    /* the hooks alone must not keep the loop alive */
    uv_unref((uv_handle_t *)&ss->flush_prepare);
    uv_unref((uv_handle_t *)&ss->flush_check);
    uint64_t idle = sv->eng->cfg.idle_timeout_ms;
    if (idle) {
        /* a connection is closed between timeout and timeout + period */
        uint64_t period = idle / 4 < 10 ? 10 : idle / 4 > 1000 ? 1000 : idle / 4;
        uv_timer_init(s->loop, &ss->idle_timer);
        ss->idle_timer.data = ss;
        uv_timer_start(&ss->idle_timer, on_idle_timer, period, period);
        uv_unref((uv_handle_t *)&ss->idle_timer);
        ss->idle_timer_on = true;
    }
    s->server = ss;
    if (s->id == 0) listen_on_shard(ss);
}

static int shard_clients(hln_shard *s, hln_arena *a, hln_client_info **out, int *n)
{
    *out = NULL;
    *n = 0;
    return s->server ? conn_list_clients(s->server, a, out, n) : 0;
}

void srv_shard_close(hln_shard *s)
{
    srv_shard *ss = ss_of(s);
    if (!ss || ss->closed) return;
    ss->closed = true;
    if (ss->listening) {
        uv_close((uv_handle_t *)&ss->listener, NULL);
        ss->listening = false;
    }
    conn_close_all(ss);
    conn_flush_dirty(ss); /* drops the dirty list's references */
    uv_close((uv_handle_t *)&ss->flush_prepare, NULL);
    uv_close((uv_handle_t *)&ss->flush_check, NULL);
    if (ss->idle_timer_on) {
        uv_close((uv_handle_t *)&ss->idle_timer, NULL);
        ss->idle_timer_on = false;
    }
}

static void close_shard(hln_shard *s, void *ud)
{
    HLN_UNUSED(ud);
    srv_shard_close(s);
}

int server_start(hln_engine *e, hln_error *err)
{
    if (e->server) return hln_fail(err, HLN_EINVAL, "The server is already started");
    srv *sv = hln_calloc(1, sizeof *sv);
    if (!sv) return hln_fail(err, HLN_ENOMEM, "Out of memory");
    sv->eng = e;
    int rc = engine_resolve(e->cfg.listen_address, e->cfg.native_transport_port, &sv->addr, err);
    /* TLS (client_encryption_options): one context for every shard */
    if (!rc && e->cfg.tls.enabled) rc = tls_ctx_new(&sv->tls, &e->cfg.tls, err);
    if (rc) {
        hln_free(sv);
        return rc;
    }
    e->server = sv;
    /* so engine_stop closes the network first and frees it last */
    e->net = (hln_engine_net){.stop = server_stop,
                              .shard_close = srv_shard_close,
                              .destroy = srv_destroy,
                              .shard_clients = shard_clients};
    rc = engine_run_on_all(e, setup_shard, sv);
    if (!rc && sv->listen_rc) rc = sv->listen_rc;
    if (!rc)
        for (int i = 0; i < e->nshards; i++)
            if (!e->shards[i].server) rc = hln_fail(&sv->listen_err, HLN_ENOMEM, "Out of memory");
    if (rc) {
        if (err) *err = sv->listen_err;
        engine_run_on_all(e, close_shard, NULL);
        return rc; /* engine_stop frees what was set up */
    }
    e->node.port = sv->port;
    HLN_INFO("listening for CQL clients on %s:%d%s", e->cfg.listen_address, sv->port,
             !sv->tls              ? ""
             : e->cfg.tls.optional ? " (TLS optional)"
                                   : " (TLS)");
    return 0;
}

int server_port(const hln_engine *e)
{
    const srv *sv = e->server;
    return sv ? sv->port : 0;
}

void server_stop(hln_engine *e)
{
    if (e && e->server) engine_run_on_all(e, close_shard, NULL);
}

void srv_destroy(hln_engine *e)
{
    for (int i = 0; i < e->nshards && e->shards; i++) {
        hln_free(e->shards[i].server);
        e->shards[i].server = NULL;
    }
    srv *sv = e->server;
    if (sv) tls_ctx_free(sv->tls);
    hln_free(e->server);
    e->server = NULL;
}

/* ---- events --------------------------------------------------------------- */

typedef struct event_msg {
    rt_msg m;
    unsigned type; /* EV_* */
    size_t len;
    uint8_t body[];
} event_msg;

static void event_fn(rt_shard *rs, rt_msg *m)
{
    hln_shard *s = engine_shard(rs);
    event_msg *em = (event_msg *)m;
    srv_shard *ss = ss_of(s);
    if (ss && !ss->closed) conn_push_event(ss, em->type, em->body, em->len);
    hln_free(em);
}

/* Posts an encoded EVENT body to every shard, which pushes it to its
 * connections registered for type. */
static void broadcast(hln_engine *e, unsigned type, hln_buf *body)
{
    if (!body->err) {
        for (int i = 0; i < e->nshards; i++) {
            event_msg *em = hln_malloc(sizeof *em + body->len);
            if (!em) break;
            em->m.fn = event_fn;
            em->type = type;
            em->len = body->len;
            memcpy(em->body, body->data, body->len);
            engine_post(&e->shards[i], &em->m);
        }
    }
    hln_buf_free(body);
}

void srv_broadcast_schema_event(hln_engine *e, const char *change, const char *target,
                                const char *ks, const char *name)
{
    hln_buf body;
    hln_buf_init(&body);
    px_encode_schema_event(&body, change, target, ks, name);
    broadcast(e, EV_SCHEMA, &body);
}

void server_node_event(hln_engine *e, bool topology, const char *change, const uint8_t *addr,
                       int addrlen, int port)
{
    hln_buf body;
    hln_buf_init(&body);
    px_encode_node_event(&body, topology ? "TOPOLOGY_CHANGE" : "STATUS_CHANGE", change, addr,
                         addrlen, port);
    broadcast(e, topology ? EV_TOPOLOGY : EV_STATUS, &body);
}
