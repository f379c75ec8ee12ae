/*
 * client.c — connections, stream ids, request/response matching, timeouts.
 *
 * What: the libuv half of the client. A cc_client owns `connections` TCP
 * connections to one node; each connection owns a table of `max_streams`
 * request slots indexed by stream id, a stack of free ids, an outgoing
 * buffer and a read buffer.
 *
 * How a request flows:
 *   submit (cc_query/cc_prepare/cc_execute)
 *     -> pick a ready connection with a free stream id (round robin)
 *     -> encode the frame straight into that connection's `out` buffer
 *   prepare/check hook of the loop (once per iteration)
 *     -> write `out` with one uv_write (double-buffered: while `wbuf` is
 *        being written, new frames go to `out`)
 *   read callback
 *     -> cut whole frames out of the read buffer, decode each in place into
 *        the client's reusable cc_result, free the stream id, run the
 *        request's callback.
 * Coalescing the writes of one loop iteration into one syscall is what lets
 * one client thread keep thousands of requests in flight cheaply.
 *
 * Invariants:
 *  1. A slot is FREE (its id is on the free stack), BUSY (a callback is
 *     owed) or ORPHAN (timed out: the callback ran with CC_ETIMEDOUT, but the
 *     id stays taken until the server answers or the connection dies, so a
 *     late answer can never be matched to a newer request).
 *  2. Every BUSY slot's callback runs exactly once: on its response, on
 *     timeout, or when its connection fails or the client closes.
 *  3. The stream id is released before the callback runs, so a callback can
 *     submit the next request on the capacity it just freed.
 *  4. Frames are decoded only inside the read callback, before the read
 *     buffer can move; results point into it only during the callback.
 *  5. Handshake requests (OPTIONS, STARTUP, USE) use the same slots, with
 *     internal callbacks; a connection takes user requests only when READY.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "client/clientInt.h"

enum { S_FREE = 0, S_BUSY, S_ORPHAN };
enum { C_INIT = 0, C_CONNECTING, C_HANDSHAKE, C_READY, C_DEAD };

typedef struct slot {
    cc_result_cb cb;
    void *ud;
    const cc_meta *rmeta; /* prepared result metadata for skip-metadata rows */
    int64_t sent_ns;
    int64_t deadline_ns; /* 0: none */
    uint8_t state;
} slot;

typedef struct conn {
    cc_client *c;
    int idx;
    int state;
    bool tcp_open; /* uv_tcp_init done and not yet closed */
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    bool writing;
    hln_buf out, wbuf, rbuf;
    slot *slots;
    uint16_t *free_ids;
    int nfree;
    int hwm; /* ids below this have been used at least once */
    int busy;
    int64_t deadline_ns; /* connect/handshake deadline */
} conn;

struct cc_client {
    cc_config cfg;
    char *host, *keyspace;
    uv_loop_t *loop;
    uv_loop_t own_loop;
    bool own;
    conn *conns;
    int nconns;
    int live;
    int in_flight;
    int rr;
    uv_prepare_t prep;
    uv_check_t check;
    uv_timer_t timer;
    bool started; /* handles initialised */
    int open_handles;
    bool closing;
    cc_connect_cb connect_cb;
    void *connect_ud;
    int connecting; /* connections not yet settled */
    int connect_status;
    char connect_msg[1024];
    cc_capacity_cb cap_cb;
    void *cap_ud;
    bool starved;
    cc_result res; /* reused for every callback */
    struct sockaddr_storage addr;
};

static void conn_fail(conn *k, int code, const char *msg);
static void flush(conn *k);

/* ---- config -------------------------------------------------------------- */

void cc_config_init(cc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 9042;
    cfg->connections = 1;
    cfg->max_streams = 1024;
    cfg->connect_timeout_ms = 5000;
    cfg->request_timeout_ms = 12000;
    cfg->max_out_bytes = 16u << 20;
    cfg->max_frame = 256u << 20;
}

/* ---- slots ------------------------------------------------------------- */

static int slot_take(conn *k)
{
    if (k->nfree == 0) return -1;
    int id = k->free_ids[--k->nfree];
    if (id >= k->hwm) k->hwm = id + 1;
    return id;
}

static void slot_release(conn *k, int id)
{
    k->slots[id].state = S_FREE;
    k->slots[id].cb = NULL;
    k->free_ids[k->nfree++] = (uint16_t)id;
}

/* Runs a callback with the client's shared result, then clears it. */
static void deliver(cc_client *c, cc_result_cb cb, void *ud)
{
    if (cb) cb(&c->res, ud);
    cc_result_clear(&c->res);
}

static void deliver_error(cc_client *c, cc_result_cb cb, void *ud, int code, const char *msg)
{
    cc_result_clear(&c->res);
    cc_result_set_error(&c->res, code, msg);
    deliver(c, cb, ud);
}

static void capacity_freed(cc_client *c)
{
    if (c->starved && c->cap_cb && !c->closing) {
        c->starved = false;
        c->cap_cb(c, c->cap_ud);
    }
}

/* Fails every BUSY slot of k with code; ORPHAN slots are released. */
static void fail_slots(conn *k, int code, const char *msg)
{
    cc_client *c = k->c;
    for (int id = 0; id < k->hwm; id++) {
        slot *s = &k->slots[id];
        if (s->state == S_FREE) continue;
        bool owed = s->state == S_BUSY;
        cc_result_cb cb = s->cb;
        void *ud = s->ud;
        slot_release(k, id);
        if (owed) {
            k->busy--;
            c->in_flight--;
            deliver_error(c, cb, ud, code, msg);
        }
    }
}

/* ---- handles and teardown ------------------------------------------------ */

static void client_release(cc_client *c)
{
    for (int i = 0; i < c->nconns; i++) {
        conn *k = &c->conns[i];
        hln_buf_free(&k->out);
        hln_buf_free(&k->wbuf);
        hln_buf_free(&k->rbuf);
        hln_free(k->slots);
        hln_free(k->free_ids);
    }
    hln_free(c->conns);
    cc_result_fini(&c->res);
    hln_free(c->host);
    hln_free(c->keyspace);
    bool own = c->own;
    if (own) {
        uv_loop_close(&c->own_loop);
    }
    hln_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    cc_client *c = h->data;
    if (h->type == UV_TCP) {
        conn *k = h->data;
        c = k->c;
    }
    if (--c->open_handles == 0 && c->closing && !c->own) client_release(c);
}

static void conn_close_handle(conn *k)
{
    if (!k->tcp_open) return;
    k->tcp_open = false;
    uv_close((uv_handle_t *)&k->tcp, on_handle_closed);
}

/* A connection has finished its handshake, one way or the other. */
static void settle(conn *k, int status, const char *msg)
{
    cc_client *c = k->c;
    if (c->connecting <= 0) return;
    if (status && !c->connect_status) {
        c->connect_status = status;
        snprintf(c->connect_msg, sizeof c->connect_msg, "%s", msg);
    }
    if (--c->connecting == 0 && c->connect_cb) {
        cc_connect_cb cb = c->connect_cb;
        c->connect_cb = NULL;
        cb(c, c->connect_status, c->connect_status ? c->connect_msg : "", c->connect_ud);
    }
}

static void conn_fail(conn *k, int code, const char *msg)
{
    if (k->state == C_DEAD) return;
    int was = k->state;
    k->state = C_DEAD;
    if (was == C_READY) k->c->live--;
    fail_slots(k, code, msg);
    conn_close_handle(k);
    if (was != C_READY) settle(k, code, msg);
}

/* ---- writing ------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    conn *k = req->data;
    k->writing = false;
    hln_buf_reset(&k->wbuf);
    if (status < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "write failed: %s", uv_strerror(status));
        conn_fail(k, CC_ECLOSED, msg);
        return;
    }
    if (k->out.len) flush(k);
}

static void flush(conn *k)
{
    if (k->writing || k->out.len == 0 || k->state == C_DEAD || !k->tcp_open) return;
    hln_buf t = k->wbuf;
    k->wbuf = k->out;
    k->out = t;
    hln_buf_reset(&k->out);
    uv_buf_t b = uv_buf_init((char *)k->wbuf.data, (unsigned)k->wbuf.len);
    k->wreq.data = k;
    int rc = uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &b, 1, on_write);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "write failed: %s", uv_strerror(rc));
        conn_fail(k, CC_ECLOSED, msg);
        return;
    }
    k->writing = true;
}

static void flush_all(cc_client *c)
{
    for (int i = 0; i < c->nconns; i++)
        flush(&c->conns[i]);
}

static void on_prepare(uv_prepare_t *h)
{
    flush_all(h->data);
}
static void on_check(uv_check_t *h)
{
    flush_all(h->data);
}

/* ---- reading ------------------------------------------------------------- */

static void handle_frame(conn *k, const cc_frame_hdr *h, const uint8_t *body)
{
    cc_client *c = k->c;
    if (h->stream < 0) return; /* EVENT: we never REGISTER, ignore */
    if (h->stream >= k->hwm || k->slots[h->stream].state == S_FREE) {
        char msg[96];
        snprintf(msg, sizeof msg, "response on stream %d, which has no request", h->stream);
        conn_fail(k, HLN_EPROTO, msg);
        return;
    }
    slot *s = &k->slots[h->stream];
    if (s->state == S_ORPHAN) {
        slot_release(k, h->stream);
        capacity_freed(c);
        return;
    }
    cc_result_cb cb = s->cb;
    void *ud = s->ud;
    const cc_meta *rmeta = s->rmeta;
    int64_t sent = s->sent_ns;
    slot_release(k, h->stream);
    k->busy--;
    c->in_flight--;
    cc_result_clear(&c->res);
    cc_decode_response(h, body, rmeta, &c->res);
    c->res.latency_ns = hln_mono_nanos() - sent;
    deliver(c, cb, ud);
    capacity_freed(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *k = h->data;
    (void)suggested;
    size_t want = 64 * 1024;
    if (k->rbuf.len >= CC_HDR_LEN) {
        cc_frame_hdr fh;
        cc_frame_header(k->rbuf.data, &fh);
        size_t need = CC_HDR_LEN + (size_t)fh.len;
        if (fh.len <= k->c->cfg.max_frame && need > k->rbuf.len && need - k->rbuf.len > want)
            want = need - k->rbuf.len;
    }
    if (hln_buf_reserve(&k->rbuf, want)) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init((char *)k->rbuf.data + k->rbuf.len, (unsigned)(k->rbuf.cap - k->rbuf.len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *k = st->data;
    cc_client *c = k->c;
    (void)buf;
    if (nread < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "connection to %s:%d lost: %s", c->host, c->cfg.port,
                 nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
        conn_fail(k, CC_ECLOSED, msg);
        return;
    }
    k->rbuf.len += (size_t)nread;
    size_t off = 0;
    while (k->state != C_DEAD && !c->closing && k->rbuf.len - off >= CC_HDR_LEN) {
        cc_frame_hdr h;
        cc_frame_header(k->rbuf.data + off, &h);
        if (h.len > c->cfg.max_frame) {
            char msg[96];
            snprintf(msg, sizeof msg, "response frame of %u bytes exceeds the limit", h.len);
            conn_fail(k, HLN_EPROTO, msg);
            return;
        }
        if (k->rbuf.len - off - CC_HDR_LEN < h.len) break;
        handle_frame(k, &h, k->rbuf.data + off + CC_HDR_LEN);
        off += CC_HDR_LEN + h.len;
    }
    if (k->state == C_DEAD) return;
    if (off) {
        memmove(k->rbuf.data, k->rbuf.data + off, k->rbuf.len - off);
        k->rbuf.len -= off;
    }
}

/* ---- submitting ------------------------------------------------------------- */

enum { REQ_QUERY, REQ_PREPARE, REQ_EXECUTE, REQ_OPTIONS, REQ_STARTUP };

typedef struct req {
    int type;
    const char *cql;
    const cc_prepared *ps;
    const hln_bytes *vals;
    int n;
    const cc_params *p;
} req;

struct cc_prepared {
    uint8_t *id;
    int32_t idlen;
    cc_meta bind, result;
    char *cql;
    hln_arena arena;
};

/* Encodes rq on k with a fresh stream id. Returns 0 or HLN_EAGAIN/ENOMEM. */
static int conn_send(conn *k, const req *rq, cc_result_cb cb, void *ud)
{
    cc_client *c = k->c;
    int id = slot_take(k);
    if (id < 0) return HLN_EAGAIN;
    size_t before = k->out.len;
    const cc_meta *rmeta = NULL;
    switch (rq->type) {
    case REQ_QUERY:
        cc_enc_query(&k->out, (int16_t)id, rq->cql, rq->vals, rq->n, rq->p);
        break;
    case REQ_PREPARE:
        cc_enc_prepare(&k->out, (int16_t)id, rq->cql);
        break;
    case REQ_EXECUTE: {
        bool skip = rq->ps->result.ncols > 0 && rq->ps->result.cols;
        if (skip) rmeta = &rq->ps->result;
        cc_enc_execute(&k->out, (int16_t)id, rq->ps->id, rq->ps->idlen, skip, rq->vals, rq->n,
                       rq->p);
        break;
    }
    case REQ_OPTIONS:
        cc_enc_options(&k->out, (int16_t)id);
        break;
    case REQ_STARTUP:
        cc_enc_startup(&k->out, (int16_t)id);
        break;
    }
    if (k->out.err) {
        k->out.err = 0;
        k->out.len = before;
        slot_release(k, id);
        return HLN_ENOMEM;
    }
    slot *s = &k->slots[id];
    s->state = S_BUSY;
    s->cb = cb;
    s->ud = ud;
    s->rmeta = rmeta;
    s->sent_ns = hln_mono_nanos();
    s->deadline_ns = c->cfg.request_timeout_ms > 0
                         ? s->sent_ns + (int64_t)c->cfg.request_timeout_ms * 1000000
                         : 0;
    k->busy++;
    c->in_flight++;
    return 0;
}

static int submit(cc_client *c, const req *rq, cc_result_cb cb, void *ud)
{
    if (c->closing || c->live == 0) return CC_ECLOSED;
    for (int i = 0; i < c->nconns; i++) {
        int j = (c->rr + i) % c->nconns;
        conn *k = &c->conns[j];
        if (k->state != C_READY || k->nfree == 0 || k->out.len >= c->cfg.max_out_bytes) continue;
        int rc = conn_send(k, rq, cb, ud);
        if (rc == 0) {
            c->rr = j + 1;
            return 0;
        }
        if (rc != HLN_EAGAIN) return rc;
    }
    c->starved = true;
    return HLN_EAGAIN;
}

int cc_query(cc_client *c, const char *cql, const hln_bytes *vals, int n, const cc_params *p,
             cc_result_cb cb, void *ud)
{
    if (!cql || n < 0 || n > 0xFFFF || (n && !vals)) return HLN_EINVAL;
    req rq = {.type = REQ_QUERY, .cql = cql, .vals = vals, .n = n, .p = p};
    return submit(c, &rq, cb, ud);
}

int cc_prepare(cc_client *c, const char *cql, cc_result_cb cb, void *ud)
{
    if (!cql) return HLN_EINVAL;
    req rq = {.type = REQ_PREPARE, .cql = cql};
    return submit(c, &rq, cb, ud);
}

int cc_execute(cc_client *c, const cc_prepared *ps, const hln_bytes *vals, int n,
               const cc_params *p, cc_result_cb cb, void *ud)
{
    if (!ps || n < 0 || n > 0xFFFF || (n && !vals)) return HLN_EINVAL;
    req rq = {.type = REQ_EXECUTE, .ps = ps, .vals = vals, .n = n, .p = p};
    return submit(c, &rq, cb, ud);
}

/* ---- handshake ------------------------------------------------------------- */

static void hs_step(cc_result *r, void *ud);

static void hs_send(conn *k, const req *rq)
{
    int rc = conn_send(k, rq, hs_step, k);
    if (rc) conn_fail(k, CC_EHANDSHAKE, "cannot send the handshake request");
}

/* One callback for every handshake response: OPTIONS -> SUPPORTED,
 * STARTUP -> READY (or AUTHENTICATE), USE -> SET_KEYSPACE. */
static void hs_step(cc_result *r, void *ud)
{
    conn *k = ud;
    cc_client *c = k->c;
    char msg[700];
    if (k->state != C_HANDSHAKE) return;
    if (r->kind == CC_RES_ERROR) {
        snprintf(msg, sizeof msg, "handshake with %s:%d failed: %s%s", c->host, c->cfg.port,
                 r->code >= 0 ? "server error: " : "", r->message);
        conn_fail(k, r->code < 0 ? r->code : CC_EHANDSHAKE, msg);
        return;
    }
    if (r->kind == CC_RES_SUPPORTED) {
        req rq = {.type = REQ_STARTUP};
        hs_send(k, &rq);
        return;
    }
    if (r->kind == CC_RES_OTHER && r->hdr_[2] == CC_OP_AUTHENTICATE) {
        snprintf(msg, sizeof msg,
                 "%s:%d requires authentication (%s), which this client does "
                 "not support",
                 c->host, c->cfg.port, r->message);
        conn_fail(k, CC_EHANDSHAKE, msg);
        return;
    }
    if (r->kind == CC_RES_READY && c->keyspace) {
        char q[300];
        snprintf(q, sizeof q, "USE \"%s\"", c->keyspace);
        req rq = {.type = REQ_QUERY, .cql = q};
        hs_send(k, &rq);
        return;
    }
    if (r->kind == CC_RES_READY || r->kind == CC_RES_SET_KEYSPACE) {
        k->state = C_READY;
        c->live++;
        settle(k, 0, "");
        capacity_freed(c);
        return;
    }
    snprintf(msg, sizeof msg, "unexpected handshake response (opcode 0x%02X)", r->hdr_[2]);
    conn_fail(k, CC_EHANDSHAKE, msg);
}

static void on_connect(uv_connect_t *creq, int status)
{
    conn *k = creq->data;
    cc_client *c = k->c;
    if (k->state != C_CONNECTING) return;
    if (status < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "cannot connect to %s:%d: %s", c->host, c->cfg.port,
                 uv_strerror(status));
        conn_fail(k, CC_ECLOSED, msg);
        return;
    }
    k->state = C_HANDSHAKE;
    int rc = uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (rc < 0) {
        conn_fail(k, CC_ECLOSED, uv_strerror(rc));
        return;
    }
    req rq = {.type = REQ_OPTIONS};
    hs_send(k, &rq);
}

/* ---- timers ----------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    cc_client *c = t->data;
    int64_t now = hln_mono_nanos();
    for (int i = 0; i < c->nconns && !c->closing; i++) {
        conn *k = &c->conns[i];
        if ((k->state == C_CONNECTING || k->state == C_HANDSHAKE) && k->deadline_ns &&
            now > k->deadline_ns) {
            char msg[160];
            snprintf(msg, sizeof msg, "connecting to %s:%d timed out after %d ms", c->host,
                     c->cfg.port, c->cfg.connect_timeout_ms);
            conn_fail(k, CC_ETIMEDOUT, msg);
            continue;
        }
        if (k->state != C_READY || k->busy == 0) continue;
        for (int id = 0; id < k->hwm && k->state == C_READY; id++) {
            slot *s = &k->slots[id];
            if (s->state != S_BUSY || !s->deadline_ns || now <= s->deadline_ns) continue;
            s->state = S_ORPHAN;
            cc_result_cb cb = s->cb;
            void *ud = s->ud;
            s->cb = NULL;
            k->busy--;
            c->in_flight--;
            char msg[96];
            snprintf(msg, sizeof msg, "no response within %d ms", c->cfg.request_timeout_ms);
            deliver_error(c, cb, ud, CC_ETIMEDOUT, msg);
        }
    }
}

/* ---- lifecycle ---------------------------------------------------------------- */

int cc_client_new(const cc_config *cfg, uv_loop_t *loop, cc_client **out, hln_error *err)
{
    cc_config def;
    if (!cfg) {
        cc_config_init(&def);
        cfg = &def;
    }
    if (cfg->connections < 1 || cfg->connections > 1024)
        return hln_fail(err, HLN_EINVAL, "connections must be 1..1024 (got %d)", cfg->connections);
    if (cfg->max_streams < 1 || cfg->max_streams > 32768)
        return hln_fail(err, HLN_EINVAL, "max_streams must be 1..32768 (got %d)", cfg->max_streams);
    if (cfg->port < 1 || cfg->port > 65535)
        return hln_fail(err, HLN_EINVAL, "port must be 1..65535 (got %d)", cfg->port);
    cc_client *c = hln_calloc(1, sizeof *c);
    if (!c) return hln_fail(err, HLN_ENOMEM, "out of memory");
    c->cfg = *cfg;
    c->host = hln_strdup(cfg->host ? cfg->host : "127.0.0.1");
    c->keyspace = cfg->keyspace ? hln_strdup(cfg->keyspace) : NULL;
    c->nconns = cfg->connections;
    c->conns = hln_calloc((size_t)c->nconns, sizeof *c->conns);
    cc_result_init(&c->res);
    bool ok = c->host && c->conns && (!cfg->keyspace || c->keyspace);
    for (int i = 0; ok && i < c->nconns; i++) {
        conn *k = &c->conns[i];
        k->c = c;
        k->idx = i;
        k->slots = hln_calloc((size_t)cfg->max_streams, sizeof *k->slots);
        k->free_ids = hln_malloc(sizeof *k->free_ids * (size_t)cfg->max_streams);
        if (!k->slots || !k->free_ids) {
            ok = false;
            break;
        }
        /* lowest ids on top of the stack: ids are reused densely (hwm stays low) */
        for (int id = 0; id < cfg->max_streams; id++)
            k->free_ids[id] = (uint16_t)(cfg->max_streams - 1 - id);
        k->nfree = cfg->max_streams;
    }
    if (!ok) {
        client_release(c);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    if (!loop) {
        int rc = uv_loop_init(&c->own_loop);
        if (rc < 0) {
            client_release(c);
            return hln_fail(err, HLN_EIO, "uv_loop_init: %s", uv_strerror(rc));
        }
        c->own = true;
        loop = &c->own_loop;
    }
    c->loop = loop;
    /* handles */
    uv_prepare_init(loop, &c->prep);
    uv_check_init(loop, &c->check);
    uv_timer_init(loop, &c->timer);
    c->prep.data = c->check.data = c->timer.data = c;
    uv_prepare_start(&c->prep, on_prepare);
    uv_check_start(&c->check, on_check);
    uv_unref((uv_handle_t *)&c->prep);
    uv_unref((uv_handle_t *)&c->check);
    uv_unref((uv_handle_t *)&c->timer);
    c->open_handles = 3;
    c->started = true;
    *out = c;
    return 0;
}

uv_loop_t *cc_client_loop(cc_client *c)
{
    return c->loop;
}

static int resolve(cc_client *c, hln_error *err)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&c->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&c->addr;
    if (uv_ip4_addr(c->host, c->cfg.port, a4) == 0) return 0;
    if (uv_ip6_addr(c->host, c->cfg.port, a6) == 0) return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(c->host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return hln_fail(err, HLN_EINVAL, "cannot resolve %s: %s", c->host, gai_strerror(rc));
    memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
    if (res->ai_family == AF_INET)
        a4->sin_port = htons((uint16_t)c->cfg.port);
    else
        a6->sin6_port = htons((uint16_t)c->cfg.port);
    freeaddrinfo(res);
    return 0;
}

int cc_client_connect(cc_client *c, cc_connect_cb cb, void *ud)
{
    hln_error err;
    if (c->closing || c->connecting || c->conns[0].state != C_INIT) return HLN_EINVAL;
    if (resolve(c, &err)) return HLN_EINVAL;
    c->connect_cb = cb;
    c->connect_ud = ud;
    c->connect_status = 0;
    c->connecting = c->nconns;
    uv_timer_start(&c->timer, on_timer, 50, 50);
    int64_t deadline = hln_mono_nanos() + (int64_t)c->cfg.connect_timeout_ms * 1000000;
    for (int i = 0; i < c->nconns; i++) {
        conn *k = &c->conns[i];
        k->state = C_CONNECTING;
        k->deadline_ns = c->cfg.connect_timeout_ms > 0 ? deadline : 0;
        uv_tcp_init(c->loop, &k->tcp);
        k->tcp.data = k;
        k->tcp_open = true;
        c->open_handles++;
        uv_tcp_nodelay(&k->tcp, 1);
        k->creq.data = k;
        int rc = uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&c->addr, on_connect);
        if (rc < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "cannot connect to %s:%d: %s", c->host, c->cfg.port,
                     uv_strerror(rc));
            conn_fail(k, CC_ECLOSED, msg);
        }
    }
    return 0;
}

typedef struct sync_state {
    bool done;
    int status;
    char msg[1024];
    cc_result *res;
} sync_state;

static void sync_connected(cc_client *c, int status, const char *msg, void *ud)
{
    sync_state *s = ud;
    (void)c;
    s->done = true;
    s->status = status;
    snprintf(s->msg, sizeof s->msg, "%s", msg);
}

static int run_until(cc_client *c, const bool *done)
{
    while (!*done) {
        uv_run(c->loop, UV_RUN_ONCE);
        if (!*done && !uv_loop_alive(c->loop)) return CC_ECLOSED;
    }
    return 0;
}

int cc_client_connect_sync(cc_client *c, hln_error *err)
{
    sync_state s = {0};
    int rc = cc_client_connect(c, sync_connected, &s);
    if (rc) return hln_fail(err, rc, "cannot start connecting to %s:%d", c->host, c->cfg.port);
    if (run_until(c, &s.done))
        return hln_fail(err, CC_ECLOSED, "the loop stopped before connecting");
    if (s.status && c->live == 0) return hln_fail(err, s.status, "%s", s.msg);
    return 0;
}

int cc_client_live(const cc_client *c)
{
    return c->live;
}
int cc_client_in_flight(const cc_client *c)
{
    return c->in_flight;
}

int cc_client_capacity(const cc_client *c)
{
    int n = 0;
    for (int i = 0; i < c->nconns; i++)
        if (c->conns[i].state == C_READY && c->conns[i].out.len < c->cfg.max_out_bytes)
            n += c->conns[i].nfree;
    return n;
}

void cc_client_on_capacity(cc_client *c, cc_capacity_cb cb, void *ud)
{
    c->cap_cb = cb;
    c->cap_ud = ud;
}

void cc_client_free(cc_client *c)
{
    if (!c || c->closing) return;
    c->closing = true;
    for (int i = 0; i < c->nconns; i++) {
        conn *k = &c->conns[i];
        if (k->state != C_DEAD && k->state != C_INIT) {
            int was = k->state;
            if (was == C_READY) c->live--;
            k->state = C_DEAD;
            fail_slots(k, CC_ECLOSED, "client closed");
            if (was != C_READY) settle(k, CC_ECLOSED, "client closed");
        }
        conn_close_handle(k);
    }
    if (c->started) {
        uv_close((uv_handle_t *)&c->prep, on_handle_closed);
        uv_close((uv_handle_t *)&c->check, on_handle_closed);
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    }
    if (c->own) {
        while (c->open_handles > 0)
            uv_run(c->loop, UV_RUN_ONCE);
        client_release(c);
    } else if (c->open_handles == 0) {
        client_release(c);
    }
}

/* ---- prepared statements --------------------------------------------------------- */

cc_prepared *cc_prepared_new(const cc_result *r, const char *cql)
{
    if (!r || r->kind != CC_RES_PREPARED) return NULL;
    cc_prepared *ps = hln_calloc(1, sizeof *ps);
    if (!ps) return NULL;
    hln_arena_init(&ps->arena, 4096);
    ps->idlen = r->prepared_id_len;
    ps->id = hln_arena_memdup(&ps->arena, r->prepared_id, (size_t)r->prepared_id_len);
    ps->cql = hln_arena_strdup(&ps->arena, cql ? cql : "");
    if (!ps->id || !ps->cql || cc_meta_copy(&ps->arena, &ps->bind, &r->bind) ||
        cc_meta_copy(&ps->arena, &ps->result, &r->meta)) {
        cc_prepared_free(ps);
        return NULL;
    }
    return ps;
}

void cc_prepared_free(cc_prepared *ps)
{
    if (!ps) return;
    hln_arena_free(&ps->arena);
    hln_free(ps);
}

int cc_prepared_bind_count(const cc_prepared *ps)
{
    return ps->bind.ncols;
}
const cc_meta *cc_prepared_bind_meta(const cc_prepared *ps)
{
    return &ps->bind;
}
const cc_meta *cc_prepared_result_meta(const cc_prepared *ps)
{
    return &ps->result;
}
const char *cc_prepared_cql(const cc_prepared *ps)
{
    return ps->cql;
}

/* ---- results kept beyond their callback --------------------------------------------- */

cc_result *cc_result_take(cc_result *r)
{
    cc_result *t = hln_malloc(sizeof *t);
    if (!t) return NULL;
    cc_result_init(t);
    t->taken_ = true;
    if (!r->raw_ || (r->kind == CC_RES_ERROR && r->code < 0)) {
        /* a client-side result: only the code and message matter */
        t->kind = r->kind;
        t->code = r->code;
        t->latency_ns = r->latency_ns;
        t->message = hln_arena_strdup(&t->arena_, r->message ? r->message : "");
        if (!t->message) {
            cc_result_free(t);
            return NULL;
        }
        return t;
    }
    t->body_ = hln_malloc(r->body_len ? r->body_len : 1);
    if (!t->body_) {
        cc_result_free(t);
        return NULL;
    }
    memcpy(t->body_, r->raw_, r->body_len);
    cc_frame_hdr h = {.version = r->hdr_[0],
                      .flags = r->hdr_[1],
                      .opcode = r->hdr_[2],
                      .len = (uint32_t)r->body_len};
    cc_decode_response(&h, t->body_, r->rmeta_, t);
    t->latency_ns = r->latency_ns;
    /* columns borrowed from a prepared statement are copied: the copy must
     * not depend on the statement's lifetime */
    if (r->rmeta_ && t->meta.cols == r->rmeta_->cols) {
        cc_meta m;
        if (cc_meta_copy(&t->arena_, &m, &t->meta)) {
            cc_result_free(t);
            return NULL;
        }
        t->meta = m;
    }
    t->rmeta_ = NULL;
    return t;
}

void cc_result_free(cc_result *r)
{
    if (!r || !r->taken_) return;
    cc_result_fini(r);
    hln_free(r);
}

int cc_result_column(const cc_result *r, const char *name)
{
    if (!r->meta.cols) return -1;
    for (int32_t i = 0; i < r->meta.ncols; i++)
        if (strcmp(r->meta.cols[i].name, name) == 0) return i;
    return -1;
}

/* ---- synchronous helpers ---------------------------------------------------------------- */

static void sync_result(cc_result *r, void *ud)
{
    sync_state *s = ud;
    s->done = true;
    s->res = cc_result_take(r);
    if (!s->res) s->status = HLN_ENOMEM;
}

int cc_query_sync(cc_client *c, const char *cql, const hln_bytes *vals, int n, const cc_params *p,
                  cc_result **out, hln_error *err)
{
    sync_state s = {0};
    *out = NULL;
    int rc;
    while ((rc = cc_query(c, cql, vals, n, p, sync_result, &s)) == HLN_EAGAIN)
        uv_run(c->loop, UV_RUN_ONCE);
    if (rc) return hln_fail(err, rc, "cannot send the query: %s", cc_strerror(rc));
    if (run_until(c, &s.done))
        return hln_fail(err, CC_ECLOSED, "the loop stopped before the response");
    if (s.status) return hln_fail(err, s.status, "out of memory");
    if (s.res->kind == CC_RES_ERROR && s.res->code < 0) {
        rc = hln_fail(err, s.res->code, "%s", s.res->message);
        cc_result_free(s.res);
        return rc;
    }
    *out = s.res;
    return 0;
}

int cc_prepare_sync(cc_client *c, const char *cql, cc_prepared **out, hln_error *err)
{
    sync_state s = {0};
    *out = NULL;
    int rc;
    while ((rc = cc_prepare(c, cql, sync_result, &s)) == HLN_EAGAIN)
        uv_run(c->loop, UV_RUN_ONCE);
    if (rc) return hln_fail(err, rc, "cannot send PREPARE: %s", cc_strerror(rc));
    if (run_until(c, &s.done))
        return hln_fail(err, CC_ECLOSED, "the loop stopped before the response");
    if (s.status) return hln_fail(err, s.status, "out of memory");
    cc_result *r = s.res;
    if (r->kind == CC_RES_ERROR) {
        if (r->code < 0)
            rc = hln_fail(err, r->code, "%s", r->message);
        else
            rc =
                hln_fail(err, HLN_EINVAL, "server error 0x%04X: %s", (unsigned)r->code, r->message);
        cc_result_free(r);
        return rc;
    }
    if (r->kind != CC_RES_PREPARED) {
        cc_result_free(r);
        return hln_fail(err, HLN_EPROTO, "PREPARE answered with result kind %d", r->kind);
    }
    *out = cc_prepared_new(r, cql);
    cc_result_free(r);
    return *out ? 0 : hln_fail(err, HLN_ENOMEM, "out of memory");
}

int cc_run_once(cc_client *c)
{
    return uv_run(c->loop, UV_RUN_ONCE);
}
int cc_run_nowait(cc_client *c)
{
    return uv_run(c->loop, UV_RUN_NOWAIT);
}
