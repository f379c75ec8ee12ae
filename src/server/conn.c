/*
 * conn.c — one client connection: frames in, requests through exec, frames
 * out.
 *
 * What: a connection lives on one shard's loop. Bytes are read into a
 * growable buffer; every complete frame is decoded (proto/) and either
 * answered at once (OPTIONS, STARTUP, REGISTER, errors) or turned into an
 * ex_request (QUERY, PREPARE, EXECUTE) whose done() callback encodes the
 * RESULT or ERROR on the request's stream. Many requests can be in flight
 * per connection; they are answered in completion order, as the protocol
 * allows (the stream id pairs them up).
 *
 * Output: responses are appended to the connection's write buffer and the
 * connection is marked dirty; the shard's prepare and check hooks
 * (server.c) hand each dirty buffer to one uv_write, so all responses
 * produced during one loop iteration leave in one write. When more than
 * HIGH_WATER bytes are queued and unwritten (the client is not consuming
 * its results) the connection stops reading and stops dispatching the
 * frames it has already read; both resume below LOW_WATER. Requests
 * already in flight still complete, so the bound is HIGH_WATER plus their
 * results.
 *
 * Protocol behaviour (Cassandra 5.0's where it is observable):
 *  - The first frame fixes the connection's protocol version. A version we
 *    do not serve (1, 2, 5, 6, DSE's 0x41/0x42, garbage) gets ERROR 0x000A
 *    "Invalid or unsupported protocol version (N); supported versions are
 *    (3/v3, 4/v4)" on the same stream, in version 4 (or in the client's own
 *    v1/v2 framing), and the connection is closed: drivers reconnect with a
 *    lower version. A later frame with another supported version gets a
 *    protocol error and is skipped.
 *  - A frame declaring a body above max_frame_bytes gets ERROR 0x2200
 *    "Request is too big: length N exceeds maximum allowed length M." and
 *    the connection is closed once it is written. (Cassandra instead reads
 *    and discards the whole declared body and then answers; we do not want
 *    to read hundreds of megabytes to say no.)
 *  - Before STARTUP only OPTIONS and STARTUP are accepted ("Unexpected
 *    message QUERY, expecting STARTUP or OPTIONS"); an unknown opcode or a
 *    malformed body gets ERROR 0x000A on its stream, and the connection
 *    goes on.
 *  - Compression is not offered (SUPPORTED lists COMPRESSION []), so a
 *    STARTUP asking for it, or a frame with the compression flag, is a
 *    protocol error. Tracing requests are executed without tracing.
 *  - BATCH is answered with ERROR 0x2200: exec has no batch support yet.
 *
 * Lifetime: a connection is reference counted (one reference for the open
 * socket, one per request in flight, one per uv_write in progress, one
 * while on the dirty list). Closing drops the socket's reference; a
 * request finishing after its connection closed still finds the struct,
 * sees `closing`, and drops its result. Everything runs on the shard's
 * thread, so the count is a plain int.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "exec/exec.h"
#include "proto/proto.h"
#include "server/server_int.h"

#define READ_CHUNK ((size_t)64 * 1024)
#define HIGH_WATER ((size_t)64 << 20)
#define LOW_WATER ((size_t)32 << 20)

enum { EV_TOPOLOGY = 1, EV_STATUS = 2, EV_SCHEMA = 4 };

struct conn {
    uv_tcp_t tcp;
    srv_shard *ss;
    int refs;
    bool closing;           /* uv_close called (or about to be) */
    bool close_after_write; /* fatal error queued: close once it is written */
    bool ready;             /* STARTUP done */
    bool reading;
    bool input_paused; /* frames left unprocessed: too much output queued */
    bool dirty;
    uint8_t version; /* 0 until the first valid frame */
    unsigned events; /* EV_* registered */
    char *keyspace;  /* USE; hln_malloc'd */
    hln_buf rbuf;    /* unread input is rbuf.data[roff .. rbuf.len) */
    size_t roff;
    size_t want;    /* bytes of the frame being received, 0 if unknown */
    hln_buf wbuf;   /* output not yet handed to uv_write */
    size_t writing; /* bytes in uv_write requests not yet completed */
    int inflight;
    conn *prev, *next; /* ss->conns */
    conn *dirty_next;  /* ss->dirty */
    char peer[64];
};

typedef struct write_req {
    uv_write_t req;
    conn *c;
    hln_buf buf;
} write_req;

typedef struct conn_req {
    ex_request r;
    conn *c;
    int16_t stream;
    uint8_t version;
    uint8_t opcode;
} conn_req;

static void conn_close(conn *c);
static void start_reading(conn *c);
static void process_input(conn *c);

/* ---- reference counting ------------------------------------------------ */

static void conn_ref(conn *c)
{
    c->refs++;
}

static void conn_unref(conn *c)
{
    if (--c->refs > 0) return;
    HLN_DEBUG("connection %s freed", c->peer);
    c->ss->live--;
    hln_buf_free(&c->rbuf);
    hln_buf_free(&c->wbuf);
    hln_free(c->keyspace);
    hln_free(c);
}

/* ---- output ------------------------------------------------------------- */

static size_t queued(const conn *c)
{
    return c->wbuf.len + c->writing;
}

static void mark_dirty(conn *c)
{
    if (c->closing) return;
    if (!c->dirty) {
        c->dirty = true;
        conn_ref(c);
        c->dirty_next = c->ss->dirty;
        c->ss->dirty = c;
    }
    if (c->reading && queued(c) > HIGH_WATER) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        HLN_DEBUG("connection %s: %zu bytes unsent, pausing reads", c->peer, queued(c));
    }
}

static void maybe_finish(conn *c)
{
    if (c->close_after_write && !c->closing && queued(c) == 0) conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    conn *c = w->c;
    c->writing -= w->buf.len;
    hln_buf_free(&w->buf);
    hln_free(w);
    if (status < 0 && !c->closing) {
        HLN_DEBUG("connection %s: write failed: %s", c->peer, uv_strerror(status));
        conn_close(c);
    }
    if (!c->closing && !c->close_after_write && queued(c) < LOW_WATER) {
        if (c->input_paused) {
            c->input_paused = false;
            HLN_DEBUG("connection %s: output drained, resuming", c->peer);
            process_input(c); /* the frames left in the read buffer */
        }
        if (!c->input_paused) start_reading(c);
    }
    maybe_finish(c);
    conn_unref(c);
}

static void flush(conn *c)
{
    if (c->closing || c->wbuf.len == 0) return;
    if (c->wbuf.err || c->wbuf.len > UINT32_MAX) {
        /* an encoder ran out of memory (or uv_buf_t cannot describe the
         * output): the stream is unusable */
        HLN_ERR("connection %s: cannot send %zu bytes of responses%s", c->peer, c->wbuf.len,
                c->wbuf.err ? ": out of memory" : "");
        conn_close(c);
        return;
    }
    write_req *w = hln_malloc(sizeof *w);
    if (!w) {
        conn_close(c);
        return;
    }
    w->c = c;
    w->buf = c->wbuf;
    hln_buf_init(&c->wbuf);
    uv_buf_t b = uv_buf_init((char *)w->buf.data, (unsigned)w->buf.len);
    c->writing += w->buf.len;
    conn_ref(c);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc) {
        c->writing -= w->buf.len;
        hln_buf_free(&w->buf);
        hln_free(w);
        conn_close(c);
        conn_unref(c);
    }
}

void conn_flush_dirty(srv_shard *ss)
{
    while (ss->dirty) {
        conn *c = ss->dirty;
        ss->dirty = c->dirty_next;
        c->dirty = false;
        flush(c);
        maybe_finish(c);
        conn_unref(c);
    }
}

/* Appends an ERROR frame on stream with message fmt. */
static void send_error_in(conn *c, uint8_t version, int16_t stream, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void send_error_in(conn *c, uint8_t version, int16_t stream, int code, const char *fmt, ...)
{
    hln_error err;
    memset(&err, 0, sizeof err);
    err.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.msg, sizeof err.msg, fmt, ap);
    va_end(ap);
    size_t off = px_frame_begin(&c->wbuf, version, 0, stream, PX_ERROR);
    px_encode_error(&c->wbuf, &err);
    px_frame_end(&c->wbuf, off);
    mark_dirty(c);
}

static void send_hln_error(conn *c, uint8_t version, int16_t stream, const hln_error *err)
{
    size_t off = px_frame_begin(&c->wbuf, version, 0, stream, PX_ERROR);
    px_encode_error(&c->wbuf, err);
    px_frame_end(&c->wbuf, off);
    mark_dirty(c);
}

/* ---- closing -------------------------------------------------------------- */

static void on_close(uv_handle_t *h)
{
    conn *c = h->data;
    conn_unref(c); /* the socket's reference */
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = true;
    HLN_DEBUG("connection %s closed (%d request(s) in flight)", c->peer, c->inflight);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->ss->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void conn_close_all(srv_shard *ss)
{
    while (ss->conns)
        conn_close(ss->conns);
}

/* ---- requests through exec ----------------------------------------------- */

static void on_request_done(ex_request *r)
{
    conn_req *q = r->ud;
    conn *c = q->c;
    if (!c->closing) {
        if (r->rc) {
            if (!r->err.code) r->err.code = r->rc;
            send_hln_error(c, q->version, q->stream, &r->err);
        } else {
            if (r->result.kind == EX_ROWS && r->params.skip_metadata) r->result.no_metadata = true;
            size_t off = px_frame_begin(&c->wbuf, q->version, 0, q->stream, PX_RESULT);
            px_encode_result(&c->wbuf, q->version, &r->result);
            px_frame_end(&c->wbuf, off);
            mark_dirty(c);
        }
    }
    if (!r->rc && r->result.kind == EX_SET_KEYSPACE && r->result.keyspace) {
        char *ks = hln_strdup(r->result.keyspace);
        if (ks) {
            hln_free(c->keyspace);
            c->keyspace = ks;
        }
    }
    if (!r->rc && r->result.kind == EX_SCHEMA_CHANGE && c->ss->srv)
        srv_broadcast_schema_event(c->ss->srv->eng, r->result.change, r->result.target,
                                   r->result.sc_ks, r->result.sc_name);
    c->inflight--;
    ex_request_free(r);
    hln_free(q);
    conn_unref(c);
}

static void run_request(conn *c, const px_header *h, const uint8_t *body, size_t len)
{
    conn_req *q = hln_calloc(1, sizeof *q);
    if (!q) {
        send_error_in(c, h->version, h->stream, HLN_ESERVER, "Out of memory");
        return;
    }
    q->c = c;
    q->stream = h->stream;
    q->version = h->version;
    q->opcode = h->opcode;
    ex_request *r = &q->r;
    ex_request_init(r, c->ss->shard, on_request_done, q);
    /* The request outlives the read buffer: give it its own copy of the
     * body, from which every decoded pointer is taken. */
    static const uint8_t empty[1];
    const uint8_t *copy = len ? hln_arena_memdup(&r->arena, body, len) : empty;
    hln_error err;
    memset(&err, 0, sizeof err);
    int rc = copy ? 0 : hln_fail(&err, HLN_ENOMEM, "Out of memory");
    hln_rd rd;
    hln_rd_init(&rd, copy, len);
    const char *cql = NULL;
    size_t cqllen = 0;
    const uint8_t *id = NULL;
    size_t idlen = 0;
    if (!rc) {
        if (h->opcode == PX_QUERY)
            rc = px_decode_query(&rd, h->version, &r->arena, &cql, &cqllen, &r->params, &err);
        else if (h->opcode == PX_PREPARE)
            rc = px_decode_prepare(&rd, h->version, &r->arena, &cql, &cqllen, &err);
        else
            rc = px_decode_execute(&rd, h->version, &r->arena, &id, &idlen, &r->params, &err);
    }
    if (!rc && c->keyspace) {
        r->params.keyspace = hln_arena_strdup(&r->arena, c->keyspace);
        if (!r->params.keyspace) rc = hln_fail(&err, HLN_ENOMEM, "Out of memory");
    }
    if (rc) {
        send_hln_error(c, h->version, h->stream, &err);
        ex_request_free(r);
        hln_free(q);
        return;
    }
    conn_ref(c);
    c->inflight++;
    /* done() may run before these return */
    if (h->opcode == PX_QUERY)
        ex_query(r, cql, cqllen);
    else if (h->opcode == PX_PREPARE)
        ex_prepare(r, cql, cqllen);
    else
        ex_execute(r, id, idlen);
}

/* ---- frames ------------------------------------------------------------------ */

static const char *opcode_name(uint8_t op)
{
    switch (op) {
    case PX_ERROR:
        return "ERROR";
    case PX_STARTUP:
        return "STARTUP";
    case PX_READY:
        return "READY";
    case PX_AUTHENTICATE:
        return "AUTHENTICATE";
    case PX_OPTIONS:
        return "OPTIONS";
    case PX_SUPPORTED:
        return "SUPPORTED";
    case PX_QUERY:
        return "QUERY";
    case PX_RESULT:
        return "RESULT";
    case PX_PREPARE:
        return "PREPARE";
    case PX_EXECUTE:
        return "EXECUTE";
    case PX_REGISTER:
        return "REGISTER";
    case PX_EVENT:
        return "EVENT";
    case PX_BATCH:
        return "BATCH";
    case PX_AUTH_CHALLENGE:
        return "AUTH_CHALLENGE";
    case PX_AUTH_RESPONSE:
        return "AUTH_RESPONSE";
    case PX_AUTH_SUCCESS:
        return "AUTH_SUCCESS";
    default:
        return NULL;
    }
}

static bool is_request_opcode(uint8_t op)
{
    return op == PX_STARTUP || op == PX_OPTIONS || op == PX_QUERY || op == PX_PREPARE ||
           op == PX_EXECUTE || op == PX_REGISTER || op == PX_BATCH || op == PX_AUTH_RESPONSE;
}

static void reply_simple(conn *c, const px_header *h, uint8_t opcode)
{
    size_t off = px_frame_begin(&c->wbuf, h->version, 0, h->stream, opcode);
    if (opcode == PX_SUPPORTED)
        px_encode_supported(&c->wbuf);
    else
        px_encode_ready(&c->wbuf);
    px_frame_end(&c->wbuf, off);
    mark_dirty(c);
}

/* The leading number of a version string ("3.4.7" -> 3), -1 if none. */
static int major_version(const char *v)
{
    if (*v < '0' || *v > '9') return -1;
    int n = 0;
    for (; *v >= '0' && *v <= '9'; v++)
        if (n < 100000) n = n * 10 + (*v - '0');
    return n;
}

static void handle_startup(conn *c, const px_header *h, hln_rd *rd)
{
    hln_arena a;
    hln_arena_init(&a, 1024);
    px_startup st;
    hln_error err;
    memset(&err, 0, sizeof err);
    if (px_decode_startup(rd, &a, &st, &err)) {
        send_hln_error(c, h->version, h->stream, &err);
        hln_arena_free(&a);
        return;
    }
    const char *cqlv = NULL, *compression = NULL;
    for (int i = 0; i < st.nopts; i++) {
        if (!strcasecmp(st.opts[i].key, "CQL_VERSION"))
            cqlv = st.opts[i].value;
        else if (!strcasecmp(st.opts[i].key, "COMPRESSION"))
            compression = st.opts[i].value;
    }
    if (!cqlv)
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Missing value CQL_VERSION in STARTUP message");
    else if (major_version(cqlv) < 0)
        send_error_in(c, h->version, h->stream, HLN_EPROTO, "Invalid version value: %s", cqlv);
    else if (major_version(cqlv) < 3)
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "CQL version %s is not supported by the binary protocol (supported version "
                      "are >= 3.0.0)",
                      cqlv);
    else if (compression && (!strcasecmp(compression, "lz4") || !strcasecmp(compression, "snappy")))
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "This instance does not support %s compression", compression);
    else if (compression)
        send_error_in(c, h->version, h->stream, HLN_EPROTO, "Unknown compression algorithm: %s",
                      compression);
    else {
        c->ready = true;
        reply_simple(c, h, PX_READY);
    }
    hln_arena_free(&a);
}

static void handle_register(conn *c, const px_header *h, hln_rd *rd)
{
    hln_arena a;
    hln_arena_init(&a, 1024);
    const char **types;
    int n;
    hln_error err;
    memset(&err, 0, sizeof err);
    if (px_decode_register(rd, &a, &types, &n, &err)) {
        send_hln_error(c, h->version, h->stream, &err);
        hln_arena_free(&a);
        return;
    }
    unsigned ev = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(types[i], "TOPOLOGY_CHANGE"))
            ev |= EV_TOPOLOGY;
        else if (!strcmp(types[i], "STATUS_CHANGE"))
            ev |= EV_STATUS;
        else if (!strcmp(types[i], "SCHEMA_CHANGE"))
            ev |= EV_SCHEMA;
        else {
            send_error_in(c, h->version, h->stream, HLN_EPROTO, "Invalid value '%s' for Type",
                          types[i]);
            hln_arena_free(&a);
            return;
        }
    }
    c->events |= ev;
    reply_simple(c, h, PX_READY);
    hln_arena_free(&a);
}

/* [bytes map] of a frame with the custom payload flag: skipped. */
static int skip_custom_payload(hln_rd *rd)
{
    uint16_t n = hln_rd_u16(rd);
    for (int i = 0; i < n && !rd->err; i++) {
        uint16_t kl = hln_rd_u16(rd);
        hln_rd_take(rd, kl);
        int32_t vl = (int32_t)hln_rd_u32(rd);
        if (vl > 0) hln_rd_take(rd, (size_t)vl);
    }
    return rd->err;
}

static void handle_frame(conn *c, const px_header *h, const uint8_t *body)
{
    const char *name = opcode_name(h->opcode);
    if (h->response || !name || !is_request_opcode(h->opcode)) {
        if (name && h->response)
            send_error_in(c, h->version, h->stream, HLN_EPROTO,
                          "Wrong protocol direction (expected REQUEST, got RESPONSE) for opcode "
                          "%d (%s)",
                          h->opcode, name);
        else
            send_error_in(c, h->version, h->stream, HLN_EPROTO, "Unknown opcode %d", h->opcode);
        return;
    }
    if (h->flags & PX_FLAG_COMPRESSION) {
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Compressed frame received but no compression was negotiated");
        return;
    }
    hln_rd rd;
    hln_rd_init(&rd, body, h->length);
    if ((h->flags & PX_FLAG_CUSTOM_PAYLOAD) && h->version >= 4 && skip_custom_payload(&rd)) {
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Invalid %s message: malformed custom payload", name);
        return;
    }
    if (!c->ready && h->opcode != PX_OPTIONS && h->opcode != PX_STARTUP) {
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Unexpected message %s, expecting STARTUP or OPTIONS", name);
        return;
    }
    switch (h->opcode) {
    case PX_OPTIONS:
        reply_simple(c, h, PX_SUPPORTED);
        break;
    case PX_STARTUP:
        if (c->ready)
            send_error_in(c, h->version, h->stream, HLN_EPROTO,
                          "Unexpected message STARTUP, the connection is already initialized");
        else
            handle_startup(c, h, &rd);
        break;
    case PX_REGISTER:
        handle_register(c, h, &rd);
        break;
    case PX_QUERY:
    case PX_PREPARE:
    case PX_EXECUTE:
        run_request(c, h, rd.p + rd.off, hln_rd_left(&rd));
        break;
    case PX_BATCH:
        send_error_in(c, h->version, h->stream, HLN_EUNSUPPORTED,
                      "BATCH messages are not supported yet by Helenus");
        break;
    default: /* AUTH_RESPONSE: no authenticator is configured */
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Unexpected message %s, the connection is already initialized", name);
        break;
    }
}

/* Parses and handles every complete frame in the read buffer. */
static void process_input(conn *c)
{
    size_t max_frame = c->ss->srv ? c->ss->srv->eng->cfg.max_frame_bytes : ((size_t)16 << 20);
    size_t max_body = max_frame > PX_HEADER_LEN ? max_frame - PX_HEADER_LEN : 0;
    c->want = 0;
    while (!c->closing && !c->close_after_write) {
        if (queued(c) > HIGH_WATER) {
            /* the client is not reading its results: stop executing its
             * requests until on_write sees the output drain */
            c->input_paused = true;
            break;
        }
        const uint8_t *p = c->rbuf.data + c->roff;
        size_t avail = c->rbuf.len - c->roff;
        px_header h;
        hln_error err;
        memset(&err, 0, sizeof err);
        int rc = px_header_parse(p, avail, max_body, &h, &err);
        if (rc == HLN_EAGAIN) break;
        if (rc == HLN_EBADVERSION) {
            /* Answer in the client's framing if it is an old one we can
             * write, else in our highest version (or the one in use). */
            uint8_t v = (h.version == 1 || h.version == 2) ? h.version
                        : c->version                       ? c->version
                                                           : PX_MAX_VERSION;
            HLN_DEBUG("connection %s: %s", c->peer, err.msg);
            send_hln_error(c, v, h.stream, &err);
            c->close_after_write = true;
            break;
        }
        if (rc == HLN_ETOOBIG) {
            HLN_WARN("connection %s: %s", c->peer, err.msg);
            send_hln_error(c, h.version, h.stream, &err);
            c->close_after_write = true;
            break;
        }
        size_t total = PX_HEADER_LEN + (size_t)h.length;
        if (avail < total) {
            c->want = total - avail;
            break;
        }
        c->roff += total;
        if (!c->version) {
            c->version = h.version;
        } else if (h.version != c->version) {
            send_error_in(c, c->version, h.stream, HLN_EPROTO,
                          "Invalid message version. Got %d/v%d but previous messages on this "
                          "connection had version %d/v%d",
                          h.version, h.version, c->version, c->version);
            continue;
        }
        handle_frame(c, &h, p + PX_HEADER_LEN);
    }
    /* keep the unread tail at the front of the buffer */
    if (c->roff == c->rbuf.len) {
        c->roff = 0;
        hln_buf_reset(&c->rbuf);
        if (c->rbuf.cap > 4 * READ_CHUNK) { /* give back a big frame's buffer */
            hln_buf_free(&c->rbuf);
            hln_buf_init(&c->rbuf);
        }
    } else if (c->roff > 0) {
        memmove(c->rbuf.data, c->rbuf.data + c->roff, c->rbuf.len - c->roff);
        c->rbuf.len -= c->roff;
        c->roff = 0;
    }
}

/* ---- reading ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    HLN_UNUSED(suggested);
    conn *c = h->data;
    size_t need = c->want > READ_CHUNK ? c->want : READ_CHUNK;
    if (hln_buf_reserve(&c->rbuf, need)) {
        c->rbuf.err = 0; /* not sticky for reads: the callback sees UV_ENOBUFS */
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->rbuf.data + c->rbuf.len, (unsigned)(c->rbuf.cap - c->rbuf.len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    HLN_UNUSED(buf);
    conn *c = s->data;
    if (nread < 0) {
        if (nread != UV_EOF)
            HLN_DEBUG("connection %s: read failed: %s", c->peer, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing) return;
    if (c->close_after_write) return; /* a fatal error is on its way out: ignore further input */
    c->rbuf.len += (size_t)nread;
    conn_ref(c); /* handlers may close the connection */
    process_input(c);
    conn_unref(c);
}

static void start_reading(conn *c)
{
    if (c->reading || c->closing) return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
        HLN_WARN("connection %s: cannot read: %s", c->peer, uv_strerror(rc));
        conn_close(c);
        return;
    }
    c->reading = true;
}

void conn_adopt(srv_shard *ss, int fd)
{
    conn *c = hln_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->ss = ss;
    c->refs = 1;
    ss->live++;
    hln_buf_init(&c->rbuf);
    hln_buf_init(&c->wbuf);
    uv_tcp_init(&ss->shard->loop, &c->tcp);
    c->tcp.data = c;
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc) {
        HLN_WARN("cannot adopt connection: %s", uv_strerror(rc));
        close(fd);
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage peer;
    int len = sizeof peer;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) == 0) {
        char host[64] = "?";
        int port;
        if (peer.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&peer, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&peer, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
        }
        snprintf(c->peer, sizeof c->peer, "%.40s:%d", host, port);
    }
    c->next = ss->conns;
    if (ss->conns) ss->conns->prev = c;
    ss->conns = c;
    ss->accepted++;
    HLN_DEBUG("connection %s opened on shard %d", c->peer, ss->shard->id);
    start_reading(c);
}

void conn_push_schema_event(srv_shard *ss, const uint8_t *body, size_t len)
{
    for (conn *c = ss->conns; c; c = c->next) {
        if (c->closing || c->close_after_write || !c->ready || !(c->events & EV_SCHEMA)) continue;
        size_t off = px_frame_begin(&c->wbuf, c->version, 0, -1, PX_EVENT);
        hln_buf_put(&c->wbuf, body, len);
        px_frame_end(&c->wbuf, off);
        mark_dirty(c);
    }
}
