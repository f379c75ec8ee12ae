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
 * produced during one loop iteration leave in one write.
 *
 * Flow control (what one connection can make the server hold): a
 * connection stops dispatching the frames it has read, and stops reading
 * (so its read buffer holds at most one read chunk or one frame), while
 *  - more than HIGH_WATER bytes of responses are queued and unwritten (the
 *    client is not consuming its results), or
 *  - max_requests (native_transport_max_concurrent_requests_per_connection)
 *    of its requests are executing, or
 *  - the queued bytes plus, for each executing request, the size of the
 *    largest response this connection produced recently (est_result: a
 *    maximum that decays by 1/256 per response) exceed HIGH_WATER;
 * and resumes when the executing requests fit again and the queued output
 * is below LOW_WATER. So a client that sends requests for large results and
 * never reads makes the server hold about HIGH_WATER bytes of output, plus
 * at most max_requests results for the first wave (before any result size
 * is known), plus one read chunk; then the socket's receive window fills
 * and the kernel pushes back on the client. All of this is per connection;
 * other connections are served meanwhile.
 *
 * Idle connections: with native_transport_idle_timeout set, a per-shard
 * timer (server.c) closes connections that neither received nor sent
 * anything for that long and have no request executing. Every accepted
 * socket has TCP keepalive on (KEEPALIVE_*), so a peer that vanished
 * without a FIN or RST (a half-open connection) is detected by the kernel
 * after about three minutes of silence even without an idle timeout.
 *
 * Protocol behaviour (Cassandra 5.0's where it is observable):
 *  - The first frame fixes the connection's protocol version. A version we
 *    do not serve (1, 2, 6, DSE's 0x41/0x42, garbage) gets ERROR 0x000A
 *    "Invalid or unsupported protocol version (N); supported versions are
 *    (3/v3, 4/v4, 5/v5)" on the same stream, in version 4 (or in the
 *    client's own v1/v2 framing), and the connection is closed: drivers
 *    reconnect with a lower version. A later frame with another supported
 *    version gets a protocol error and is skipped.
 *  - v5: OPTIONS, STARTUP and their answers travel unframed, as in v4; once
 *    READY (or, with authentication, AUTHENTICATE) is queued, start_transport
 *    switches the connection to v5 framing (proto/frame_v5.c): input frames
 *    are turned back into envelopes by a px_v5_in before the usual parsing,
 *    and the envelopes queued in wbuf are framed in flush(). Bytes queued
 *    before the switch (plain_len) leave as they are.
 *  - A frame declaring a body above max_frame_bytes gets ERROR 0x2200
 *    "Request is too big: length N exceeds maximum allowed length M." and
 *    the connection is closed once it is written. (Cassandra instead reads
 *    and discards the whole declared body and then answers; we do not want
 *    to read hundreds of megabytes to say no.)
 *  - Before STARTUP only OPTIONS and STARTUP are accepted ("Unexpected
 *    message QUERY, expecting STARTUP or OPTIONS"); an unknown opcode or a
 *    malformed body gets ERROR 0x000A on its stream, and the connection
 *    goes on.
 *  - Compression (STARTUP COMPRESSION lz4 or snappy; snappy not in v5) starts
 *    after READY too: v3/v4 bodies with the compression flag are
 *    decompressed on input, and every non-empty body queued after READY is
 *    compressed in flush(); v5 compresses whole frames with lz4 instead (its
 *    envelopes' compression flag is ignored, as the spec says). A compressed
 *    v3/v4 body without negotiated compression, or one that does not
 *    decompress, is a protocol error on its stream. Tracing requests are
 *    executed without tracing.
 *  - BATCH runs through ex_batch like QUERY/EXECUTE through theirs.
 *  - With authenticator: PasswordAuthenticator, STARTUP is answered with
 *    AUTHENTICATE (org.apache.cassandra.auth.PasswordAuthenticator); then
 *    only AUTH_RESPONSE is accepted ("Unexpected message QUERY, expecting
 *    SASL_RESPONSE"). Its SASL PLAIN token is checked on libuv's thread
 *    pool (bcrypt, src/auth) while the connection reads nothing more; the
 *    answer is AUTH_SUCCESS (null token) or ERROR 0x0100, after which the
 *    client may try again. Requests then carry the role to exec, which
 *    checks permissions (exec/access.c).
 *  - With client_encryption_options enabled, every byte goes through a
 *    TLS session (server/tls.c): ciphertext is read into tls_in and
 *    decrypted into rbuf; responses are encrypted as they are flushed.
 *    With optional: true the first byte decides: 0x16 (a TLS handshake)
 *    starts TLS, anything else is served as plain CQL.
 *
 * Lifetime: a connection is reference counted (one reference for the open
 * socket, one per request in flight, one per uv_write in progress, one
 * while on the dirty list). Closing drops the socket's reference; a
 * request finishing after its connection closed still finds the struct,
 * sees `closing`, and drops its result. Everything runs on the shard's
 * thread, so the count is a plain int.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "auth/auth.h"
#include "exec/exec.h"
#include "proto/proto.h"
#include "server/server_int.h"
#include "server/tls.h"

#define READ_CHUNK ((size_t)64 * 1024)
#define HIGH_WATER ((size_t)64 << 20)
#define LOW_WATER ((size_t)32 << 20)
/* TCP keepalive: first probe after 60 s of silence, then every 10 s; 6
 * unanswered probes close the socket. */
#define KEEPALIVE_IDLE_S 60
#define KEEPALIVE_INTVL_S 10
#define KEEPALIVE_CNT 6

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
    uint8_t version;     /* 0 until the first valid frame */
    uint8_t compression; /* PX_COMP_*, in force once READY is queued */
    bool framed;         /* v5 framing in force */
    size_t plain_len;    /* leading wbuf bytes to write as they are (up to READY) */
    px_v5_in v5in;       /* framed: input frames -> envelopes */
    unsigned events;     /* EV_* registered */
    char *keyspace;      /* USE; hln_malloc'd */
    hln_buf rbuf;        /* unread input is rbuf.data[roff .. rbuf.len) */
    size_t roff;
    size_t want;    /* bytes of the frame being received, 0 if unknown */
    hln_buf wbuf;   /* output not yet handed to uv_write */
    size_t writing; /* bytes in uv_write requests not yet completed */
    int inflight;
    int max_requests;     /* native_transport_max_concurrent_requests_per_connection */
    size_t est_result;    /* decaying maximum of the response sizes (flow control) */
    bool in_process;      /* process_input on the stack: do not re-enter */
    uint64_t last_active; /* loop time (ms) of the last read or completed write */
    conn *prev, *next;    /* ss->conns */
    conn *dirty_next;     /* ss->dirty */
    char peer[64];
    /* system_views.clients: the peer's address, the STARTUP options (key
     * and value strings, NUL-terminated, in a row), requests received */
    uint8_t peer_addr[16];
    int peer_addr_len, peer_port;
    hln_buf startup;
    int nstartup;
    uint64_t requests;
    /* authentication (PasswordAuthenticator): STARTUP answered with
     * AUTHENTICATE; only AUTH_RESPONSE until AUTH_SUCCESS */
    bool authenticating;
    bool auth_busy; /* a password check runs off the loop: input waits */
    char *role;     /* the logged-in role; hln_malloc'd */
    /* TLS (client_encryption_options): tls_in holds ciphertext read and
     * not yet decrypted, tls_out ciphertext not yet handed to uv_write */
    uint8_t tls_mode; /* TLS_OFF, TLS_ON, TLS_UNDECIDED (optional: first byte decides) */
    tls_conn *tls;
    hln_buf tls_in, tls_out;
};

enum { TLS_OFF, TLS_ON, TLS_UNDECIDED };

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
    bool has_md; /* v5 EXECUTE: the result metadata id the client holds */
    uint8_t md_id[16];
    uint16_t md_idlen;
} conn_req;

static void conn_close(conn *c);
static void start_reading(conn *c);
static void process_input(conn *c);
static void resume_input(conn *c);
static void pause_input(conn *c);

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
    px_v5_in_free(&c->v5in);
    hln_free(c->keyspace);
    hln_free(c->role);
    hln_buf_free(&c->startup);
    tls_conn_free(c->tls);
    hln_buf_free(&c->tls_in);
    hln_buf_free(&c->tls_out);
    hln_free(c);
}

/* ---- output ------------------------------------------------------------- */

static size_t queued(const conn *c)
{
    return c->wbuf.len + c->tls_out.len + c->writing;
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
    if (queued(c) > HIGH_WATER) pause_input(c);
}

static void maybe_finish(conn *c)
{
    if (c->close_after_write && !c->closing && queued(c) == 0) conn_close(c);
}

/* ---- flow control (see the essay) ------------------------------------------ */

/* What the connection's executing requests are expected to add to its
 * output. */
static size_t expected_output(const conn *c)
{
    size_t n = (size_t)(c->inflight > 0 ? c->inflight : 0);
    return c->est_result && n > SIZE_MAX / c->est_result ? SIZE_MAX : n * c->est_result;
}

/* true: dispatch no more frames for now */
static bool must_wait(const conn *c)
{
    size_t q = queued(c), e = expected_output(c);
    return q > HIGH_WATER || c->inflight >= c->max_requests || e > HIGH_WATER - q;
}

static bool may_resume(const conn *c)
{
    size_t q = queued(c), e = expected_output(c);
    return q < LOW_WATER && c->inflight < c->max_requests && e <= HIGH_WATER - q;
}

static void pause_input(conn *c)
{
    if (!c->input_paused)
        HLN_DEBUG("connection %s: %d request(s) executing, %zu bytes unsent: pausing input",
                  c->peer, c->inflight, queued(c));
    c->input_paused = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* After a request finished or output drained: dispatch the frames left in
 * the read buffer and read again, if the bounds allow. */
static void resume_input(conn *c)
{
    if (c->closing || c->close_after_write || c->in_process || !may_resume(c)) return;
    if (c->input_paused) {
        c->input_paused = false;
        HLN_DEBUG("connection %s: resuming input", c->peer);
        process_input(c);
    }
    if (!c->input_paused) start_reading(c);
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
    if (status >= 0) c->last_active = uv_now(c->tcp.loop);
    if (queued(c) < LOW_WATER) resume_input(c);
    maybe_finish(c);
    conn_unref(c);
}

/* Compression (v3/v4) or framing (v5) of the envelopes queued after
 * plain_len; on ENOMEM wbuf.err is set for flush to see. */
static void transform_output(conn *c)
{
    size_t plain = c->plain_len;
    c->plain_len = 0;
    if ((!c->framed && c->compression == PX_COMP_NONE) || c->wbuf.err || c->wbuf.len <= plain)
        return;
    hln_buf out;
    hln_buf_init(&out);
    hln_buf_put(&out, c->wbuf.data, plain);
    if (c->framed)
        px_v5_frame_envelopes(&out, c->wbuf.data + plain, c->wbuf.len - plain,
                              c->compression == PX_COMP_LZ4);
    else
        px_compress_envelopes(c->compression, &out, c->wbuf.data + plain, c->wbuf.len - plain);
    if (out.err) {
        hln_buf_free(&out);
        c->wbuf.err = HLN_ENOMEM;
        return;
    }
    hln_buf_free(&c->wbuf);
    c->wbuf = out;
}

static void flush(conn *c)
{
    if (c->closing || (c->wbuf.len == 0 && c->tls_out.len == 0)) return;
    transform_output(c); /* before TLS: frames / compressed bodies are what TLS carries */
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
    if (c->tls) {
        /* encrypt the responses after whatever TLS itself has to send */
        hln_error err;
        int rc =
            c->wbuf.len ? tls_conn_write(c->tls, c->wbuf.data, c->wbuf.len, &c->tls_out, &err) : 0;
        hln_buf_reset(&c->wbuf);
        if (c->wbuf.cap > 4 * READ_CHUNK) { /* give back a big response's buffer */
            hln_buf_free(&c->wbuf);
            hln_buf_init(&c->wbuf);
        }
        if (rc || c->tls_out.err || c->tls_out.len > UINT32_MAX) {
            HLN_DEBUG("connection %s: %s", c->peer, rc ? err.msg : "cannot encrypt responses");
            hln_free(w);
            conn_close(c);
            return;
        }
        w->buf = c->tls_out;
        hln_buf_init(&c->tls_out);
        if (w->buf.len == 0) { /* held back until the handshake is done */
            hln_buf_free(&w->buf);
            hln_free(w);
            return;
        }
    } else {
        w->buf = c->wbuf;
        hln_buf_init(&c->wbuf);
    }
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
    px_encode_error(&c->wbuf, version, &err);
    px_frame_end(&c->wbuf, off);
    mark_dirty(c);
}

static void send_hln_error(conn *c, uint8_t version, int16_t stream, const hln_error *err)
{
    size_t off = px_frame_begin(&c->wbuf, version, 0, stream, PX_ERROR);
    px_encode_error(&c->wbuf, version, err);
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
    size_t before = c->wbuf.len;
    if (!c->closing) {
        if (r->rc) {
            if (!r->err.code) r->err.code = r->rc;
            send_hln_error(c, q->version, q->stream, &r->err);
        } else {
            if (r->result.kind == EX_ROWS && r->params.skip_metadata) r->result.no_metadata = true;
            const char *warn = r->result.warning;
            size_t off = px_frame_begin(&c->wbuf, q->version, warn ? PX_FLAG_WARNING : 0, q->stream,
                                        PX_RESULT);
            if (warn) { /* [string list] of warnings before the body */
                size_t wl = strlen(warn);
                hln_buf_u16(&c->wbuf, 1);
                hln_buf_u16(&c->wbuf, (uint16_t)wl);
                hln_buf_put(&c->wbuf, warn, wl);
            }
            px_encode_result_md(&c->wbuf, q->version, &r->result, q->has_md ? q->md_id : NULL,
                                q->md_idlen);
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
    if (!c->closing) {
        size_t sz = c->wbuf.len > before ? c->wbuf.len - before : 0;
        c->est_result = sz >= c->est_result ? sz : c->est_result - c->est_result / 256;
    }
    ex_request_free(r);
    hln_free(q);
    resume_input(c);
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
    const uint8_t *id = NULL, *md_id = NULL;
    size_t idlen = 0, md_idlen = 0;
    ex_batch_item *items = NULL;
    int btype = 0, nitems = 0;
    if (!rc) {
        if (h->opcode == PX_QUERY)
            rc = px_decode_query(&rd, h->version, &r->arena, &cql, &cqllen, &r->params, &err);
        else if (h->opcode == PX_PREPARE)
            rc = px_decode_prepare_ks(&rd, h->version, &r->arena, &cql, &cqllen,
                                      &r->params.keyspace, &err);
        else if (h->opcode == PX_BATCH)
            rc = px_decode_batch(&rd, h->version, &r->arena, &btype, &items, &nitems, &r->params,
                                 &err);
        else
            rc = px_decode_execute_md(&rd, h->version, &r->arena, &id, &idlen, &md_id, &md_idlen,
                                      &r->params, &err);
    }
    if (!rc && md_id) { /* v5: remembered to tell the client if the metadata changed */
        q->has_md = true;
        q->md_idlen = (uint16_t)md_idlen;
        memcpy(q->md_id, md_id, md_idlen < sizeof q->md_id ? md_idlen : sizeof q->md_id);
    }
    /* v5 requests may name their keyspace; otherwise the connection's (USE) */
    if (!rc && c->keyspace && !r->params.keyspace) {
        r->params.keyspace = hln_arena_strdup(&r->arena, c->keyspace);
        if (!r->params.keyspace) rc = hln_fail(&err, HLN_ENOMEM, "Out of memory");
    }
    if (!rc && c->role) { /* exec checks its permissions */
        r->params.role = hln_arena_strdup(&r->arena, c->role);
        if (!r->params.role) rc = hln_fail(&err, HLN_ENOMEM, "Out of memory");
    }
    if (rc) {
        send_hln_error(c, h->version, h->stream, &err);
        ex_request_free(r);
        hln_free(q);
        return;
    }
    conn_ref(c);
    c->inflight++;
    c->requests++;
    /* done() may run before these return */
    if (h->opcode == PX_QUERY)
        ex_query(r, cql, cqllen);
    else if (h->opcode == PX_PREPARE)
        ex_prepare(r, cql, cqllen);
    else if (h->opcode == PX_BATCH)
        ex_batch(r, btype, items, nitems);
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

static size_t max_body_of(const conn *c)
{
    size_t max_frame = c->ss->srv ? c->ss->srv->eng->cfg.max_frame_bytes : ((size_t)16 << 20);
    return max_frame > PX_HEADER_LEN ? max_frame - PX_HEADER_LEN : 0;
}

/* Called right after READY (or AUTHENTICATE) is queued in answer to
 * STARTUP: what is queued so far leaves as it is; from the next message
 * on, compression (comp) and, for v5, framing apply in both directions. */
static void start_transport(conn *c, uint8_t version, int comp)
{
    c->plain_len = c->wbuf.len;
    c->compression = (uint8_t)comp;
    if (version >= 5 && !c->framed) {
        px_v5_in_init(&c->v5in, comp == PX_COMP_LZ4, max_body_of(c));
        c->framed = true;
    }
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
    int comp = PX_COMP_NONE;
    hln_buf_reset(&c->startup);
    c->nstartup = 0;
    for (int i = 0; i < st.nopts; i++) {
        hln_buf_put(&c->startup, st.opts[i].key, strlen(st.opts[i].key) + 1);
        hln_buf_put(&c->startup, st.opts[i].value, strlen(st.opts[i].value) + 1);
        c->nstartup++;
    }
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
    else if (compression && (comp = px_compression_parse(compression)) < 0)
        send_error_in(c, h->version, h->stream, HLN_EPROTO, "Unknown compression algorithm: %s",
                      compression);
    else if (comp == PX_COMP_SNAPPY && h->version >= 5)
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Snappy compression is not supported in protocol V5");
    else if (c->ss->srv && c->ss->srv->eng->cfg.password_auth) {
        /* PasswordAuthenticator: SASL PLAIN in AUTH_RESPONSE comes next */
        c->authenticating = true;
        size_t off = px_frame_begin(&c->wbuf, h->version, 0, h->stream, PX_AUTHENTICATE);
        hln_buf_string(&c->wbuf, "org.apache.cassandra.auth.PasswordAuthenticator");
        px_frame_end(&c->wbuf, off);
        mark_dirty(c);
        start_transport(c, h->version, comp);
    } else {
        c->ready = true;
        reply_simple(c, h, PX_READY);
        start_transport(c, h->version, comp);
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

/* ---- authentication (PasswordAuthenticator) ------------------------------ */

/* One AUTH_RESPONSE being checked on the thread pool: bcrypt is slow by
 * design, so the shard's loop must not wait for it. */
typedef struct auth_job {
    uv_work_t w;
    conn *c;
    hln_auth *store;
    int16_t stream;
    uint8_t version;
    uint8_t *token; /* the SASL PLAIN token; wiped before it is freed */
    size_t len;
    char *role;
    int rc;
    hln_error err;
} auth_job;

static void auth_job_free(auth_job *j)
{
    if (j->token) explicit_bzero(j->token, j->len);
    hln_free(j->token);
    hln_free(j->role);
    hln_free(j);
}

static void auth_work(uv_work_t *w)
{
    auth_job *j = w->data;
    j->rc = auth_login(j->store, j->token, j->len, &j->role, &j->err);
}

static void auth_done(uv_work_t *w, int status)
{
    auth_job *j = w->data;
    conn *c = j->c;
    c->auth_busy = false;
    if (!c->closing) {
        if (status) j->rc = hln_fail(&j->err, HLN_ESERVER, "Authentication was interrupted");
        if (j->rc == 0) {
            hln_free(c->role);
            c->role = j->role;
            j->role = NULL;
            c->authenticating = false;
            c->ready = true;
            size_t off = px_frame_begin(&c->wbuf, j->version, 0, j->stream, PX_AUTH_SUCCESS);
            hln_buf_u32(&c->wbuf, 0xFFFFFFFFu); /* [bytes] token: null, as Cassandra's PLAIN */
            px_frame_end(&c->wbuf, off);
            mark_dirty(c);
            HLN_DEBUG("connection %s: logged in as %s", c->peer, c->role);
        } else {
            /* 0x0100; the connection stays open and may try again */
            if (!j->err.code) j->err.code = j->rc;
            HLN_DEBUG("connection %s: %s", c->peer, j->err.msg);
            send_hln_error(c, j->version, j->stream, &j->err);
        }
        start_reading(c);
        process_input(c); /* frames that arrived meanwhile */
    }
    auth_job_free(j);
    conn_unref(c);
}

static void handle_auth_response(conn *c, const px_header *h, hln_rd *rd)
{
    int32_t n = (int32_t)hln_rd_u32(rd);
    const uint8_t *tok = n > 0 ? hln_rd_take(rd, (size_t)n) : NULL;
    if (rd->err) {
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Invalid AUTH_RESPONSE message: the token is truncated");
        return;
    }
    srv *sv = c->ss->srv;
    auth_job *j = hln_calloc(1, sizeof *j);
    if (j && n > 0) {
        j->token = hln_malloc((size_t)n);
        if (j->token) {
            memcpy(j->token, tok, (size_t)n);
            j->len = (size_t)n;
        }
    }
    if (!j || (n > 0 && !j->token) || !sv || !sv->eng->auth) {
        if (j) auth_job_free(j);
        send_error_in(c, h->version, h->stream, HLN_ESERVER, "Cannot authenticate: %s",
                      j ? "no auth store" : "out of memory");
        return;
    }
    j->w.data = j;
    j->c = c;
    j->store = sv->eng->auth;
    j->stream = h->stream;
    j->version = h->version;
    conn_ref(c);
    c->auth_busy = true;
    if (c->reading) { /* nothing more is read until the answer is out */
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    int rc = uv_queue_work(c->ss->shard->loop, &j->w, auth_work, auth_done);
    if (rc) {
        c->auth_busy = false;
        auth_job_free(j);
        send_error_in(c, h->version, h->stream, HLN_ESERVER, "Cannot authenticate: %s",
                      uv_strerror(rc));
        start_reading(c);
        conn_unref(c);
    }
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

static void dispatch_frame(conn *c, const px_header *h, const uint8_t *body)
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
    if (!c->ready && c->authenticating && h->opcode != PX_AUTH_RESPONSE) {
        send_error_in(c, h->version, h->stream, HLN_EPROTO,
                      "Unexpected message %s, expecting SASL_RESPONSE", name);
        return;
    }
    if (!c->ready && !c->authenticating && h->opcode != PX_OPTIONS && h->opcode != PX_STARTUP) {
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
    case PX_BATCH:
        run_request(c, h, rd.p + rd.off, hln_rd_left(&rd));
        break;
    default: /* AUTH_RESPONSE */
        if (c->authenticating)
            handle_auth_response(c, h, &rd);
        else
            send_error_in(c, h->version, h->stream, HLN_EPROTO,
                          "Unexpected message %s, the connection is already initialized", name);
        break;
    }
}

/* Decompresses a compressed v3/v4 body, then dispatches. In v5 the
 * envelope flag is deprecated and ignored (frames carry compression). */
static void handle_frame(conn *c, const px_header *h, const uint8_t *body)
{
    if (!(h->flags & PX_FLAG_COMPRESSION) || (c->compression == PX_COMP_NONE && h->version < 5)) {
        dispatch_frame(c, h, body); /* a flag without compression: refused there */
        return;
    }
    px_header hh = *h;
    hh.flags &= (uint8_t)~PX_FLAG_COMPRESSION;
    if (h->version >= 5) {
        dispatch_frame(c, &hh, body);
        return;
    }
    hln_buf plain;
    hln_buf_init(&plain);
    hln_error err;
    memset(&err, 0, sizeof err);
    if (px_body_decompress(c->compression, body, h->length, max_body_of(c), &plain, &err)) {
        send_hln_error(c, h->version, h->stream, &err);
    } else {
        static const uint8_t empty[1];
        hh.length = (uint32_t)plain.len;
        dispatch_frame(c, &hh, plain.len ? plain.data : empty);
    }
    hln_buf_free(&plain);
}

/* v5: moves one frame from the read buffer into the envelope stream.
 * Returns true if a frame was taken (or skipped as corrupt), false if more
 * input is needed (c->want set) or the connection is being closed. */
static bool pull_frame(conn *c)
{
    size_t avail = c->rbuf.len - c->roff, used = 0;
    hln_error err;
    memset(&err, 0, sizeof err);
    int rc =
        avail ? px_v5_in_take(&c->v5in, c->rbuf.data + c->roff, avail, &used, &err) : HLN_EAGAIN;
    if (rc == 0) {
        c->roff += used;
        return true;
    }
    if (rc == HLN_EAGAIN) {
        c->want = used > avail ? used - avail : 0;
        return false;
    }
    if (rc == HLN_ECORRUPT) { /* the frame is skipped, its requests lost (as Cassandra) */
        if (c->v5in.corrupt_recovered <= 10) HLN_WARN("connection %s: %s", c->peer, err.msg);
        c->roff += used;
        return true;
    }
    HLN_WARN("connection %s: %s; closing", c->peer, err.msg);
    send_hln_error(c, c->version, 0, &err);
    c->close_after_write = true;
    return false;
}

/* Parses and handles every complete frame in the read buffer. */
static void process_input(conn *c)
{
    size_t max_body = max_body_of(c);
    c->want = 0;
    c->in_process = true;
    while (!c->closing && !c->close_after_write) {
        if (c->auth_busy) break; /* the frames after AUTH_RESPONSE wait for its answer */
        if (must_wait(c)) {
            /* too much output queued or expected: stop executing (and
             * reading) until requests finish or the output drains */
            pause_input(c);
            break;
        }
        /* v5 framing: envelopes come out of c->v5in, fed frame by frame */
        bool framed = c->framed;
        hln_buf *src = framed ? &c->v5in.env : &c->rbuf;
        size_t *srcoff = framed ? &c->v5in.env_off : &c->roff;
        size_t avail = src->len - *srcoff;
        if (avail == 0 && framed) {
            if (pull_frame(c)) continue;
            break;
        }
        const uint8_t *p = src->data + *srcoff;
        px_header h;
        hln_error err;
        memset(&err, 0, sizeof err);
        int rc = px_header_parse(p, avail, max_body, &h, &err);
        if (rc == HLN_EAGAIN) {
            if (framed && pull_frame(c)) continue;
            break;
        }
        if (rc == HLN_EBADVERSION) {
            /* Answer in the client's framing if it is an old one we can
             * write, else in our highest version (or the one in use). */
            uint8_t v = (h.version == 1 || h.version == 2) ? h.version
                        : c->version                       ? c->version
                                                           : 4;
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
            if (framed) {
                if (pull_frame(c)) continue;
                break;
            }
            c->want = total - avail;
            break;
        }
        *srcoff += total;
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
    c->in_process = false;
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
    if (c->framed) px_v5_in_compact(&c->v5in);
}

/* ---- reading ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    HLN_UNUSED(suggested);
    conn *c = h->data;
    hln_buf *b = c->tls ? &c->tls_in : &c->rbuf; /* TLS: ciphertext goes aside */
    size_t need = !c->tls && c->want > READ_CHUNK ? c->want : READ_CHUNK;
    if (hln_buf_reserve(b, need)) {
        b->err = 0; /* not sticky for reads: the callback sees UV_ENOBUFS */
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)b->data + b->len, (unsigned)(b->cap - b->len));
}

/* TLS between the socket and the frames: in optional mode decides from the
 * first byte whether the client speaks TLS, then decrypts what was read
 * into rbuf and queues what TLS must answer. Returns false when the
 * connection is going away (a failed handshake, close_notify). */
static bool tls_input(conn *c)
{
    srv *sv = c->ss->srv;
    if (c->tls_mode == TLS_UNDECIDED) {
        if (c->rbuf.len == 0) return true;
        if (c->rbuf.data[0] != TLS_HANDSHAKE_BYTE) {
            c->tls_mode = TLS_OFF; /* a CQL frame: plain text on the TLS port */
            return true;
        }
        c->tls_mode = TLS_ON;
        c->tls = sv && sv->tls ? tls_conn_new(sv->tls) : NULL;
        if (!c->tls) {
            conn_close(c);
            return false;
        }
        hln_buf_free(&c->tls_in);
        c->tls_in = c->rbuf; /* what was read so far is the client's hello */
        hln_buf_init(&c->rbuf);
        c->roff = 0;
    }
    if (!c->tls) return true;
    hln_error err;
    int rc = tls_conn_read(c->tls, c->tls_in.data, c->tls_in.len, &c->rbuf, &c->tls_out, &err);
    hln_buf_reset(&c->tls_in);
    if (c->tls_in.cap > 4 * READ_CHUNK) {
        hln_buf_free(&c->tls_in);
        hln_buf_init(&c->tls_in);
    }
    if (rc) {
        if (rc < 0) HLN_DEBUG("connection %s: %s", c->peer, err.msg);
        c->close_after_write = true; /* after the alert, if any */
        mark_dirty(c);
        return false;
    }
    if (c->tls_out.len) mark_dirty(c);
    return true;
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
    c->last_active = uv_now(c->tcp.loop);
    if (c->close_after_write) return; /* a fatal error is on its way out: ignore further input */
    if (c->tls)
        c->tls_in.len += (size_t)nread;
    else
        c->rbuf.len += (size_t)nread;
    conn_ref(c); /* handlers may close the connection */
    if (c->tls_mode == TLS_OFF || tls_input(c)) process_input(c);
    conn_unref(c);
}

static void start_reading(conn *c)
{
    if (c->reading || c->closing || c->auth_busy || c->input_paused) return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
        HLN_WARN("connection %s: cannot read: %s", c->peer, uv_strerror(rc));
        conn_close(c);
        return;
    }
    c->reading = true;
}

/* TCP keepalive, so that half-open connections (the peer's host vanished)
 * are found and closed by the kernel. */
static void set_keepalive(conn *c, int fd)
{
    int rc = uv_tcp_keepalive(&c->tcp, 1, KEEPALIVE_IDLE_S);
    int intvl = KEEPALIVE_INTVL_S, cnt = KEEPALIVE_CNT;
    if (!rc && (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) ||
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt)))
        rc = uv_translate_sys_error(errno);
    if (rc) HLN_DEBUG("connection: cannot enable TCP keepalive: %s", uv_strerror(rc));
}

void conn_sweep_idle(srv_shard *ss, uint64_t timeout_ms)
{
    uint64_t now = uv_now(ss->shard->loop);
    conn *next;
    for (conn *c = ss->conns; c; c = next) {
        next = c->next;
        if (c->closing || c->inflight > 0 || c->auth_busy || now - c->last_active < timeout_ms)
            continue;
        HLN_DEBUG("connection %s: idle for %llu ms, closing", c->peer,
                  (unsigned long long)(now - c->last_active));
        conn_close(c);
    }
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
    c->max_requests = ss->srv ? ss->srv->eng->cfg.max_requests_per_conn : 128;
    if (c->max_requests < 1) c->max_requests = 1;
    c->last_active = uv_now(ss->shard->loop);
    ss->live++;
    hln_buf_init(&c->rbuf);
    hln_buf_init(&c->wbuf);
    hln_buf_init(&c->tls_in);
    hln_buf_init(&c->tls_out);
    srv *sv = ss->srv;
    if (sv && sv->tls) {
        /* TLS from the first byte, or (optional) TLS if the first byte is a
         * handshake, plain CQL otherwise */
        c->tls_mode = sv->eng->cfg.tls.optional ? TLS_UNDECIDED : TLS_ON;
        if (c->tls_mode == TLS_ON && !(c->tls = tls_conn_new(sv->tls))) {
            HLN_WARN("cannot start TLS for a new connection: out of memory");
            ss->live--;
            hln_buf_free(&c->tls_in);
            close(fd);
            hln_free(c);
            return;
        }
    }
    uv_tcp_init(ss->shard->loop, &c->tcp);
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
    set_keepalive(c, fd);
    struct sockaddr_storage peer;
    int len = sizeof peer;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) == 0) {
        char host[64] = "?";
        int port;
        if (peer.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&peer, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
            memcpy(c->peer_addr, &((struct sockaddr_in6 *)&peer)->sin6_addr, 16);
            c->peer_addr_len = 16;
        } else {
            uv_ip4_name((struct sockaddr_in *)&peer, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
            memcpy(c->peer_addr, &((struct sockaddr_in *)&peer)->sin_addr, 4);
            c->peer_addr_len = 4;
        }
        c->peer_port = port;
        snprintf(c->peer, sizeof c->peer, "%.40s:%d", host, port);
    }
    c->next = ss->conns;
    if (ss->conns) ss->conns->prev = c;
    ss->conns = c;
    ss->accepted++;
    HLN_DEBUG("connection %s opened on shard %d", c->peer, ss->shard->id);
    start_reading(c);
}

static int opt_order(const void *a, const void *b)
{
    return strcmp(((const hln_option *)a)->key, ((const hln_option *)b)->key);
}

int conn_list_clients(srv_shard *ss, hln_arena *a, hln_client_info **out, int *nout)
{
    int n = 0;
    for (conn *c = ss->conns; c; c = c->next)
        n += !c->closing && c->peer_addr_len > 0;
    hln_client_info *v = hln_arena_alloc(a, sizeof *v * (size_t)(n ? n : 1));
    if (!v) return HLN_ENOMEM;
    int k = 0;
    for (conn *c = ss->conns; c && k < n; c = c->next) {
        if (c->closing || c->peer_addr_len == 0) continue;
        hln_client_info *x = &v[k++];
        memcpy(x->address, c->peer_addr, 16);
        x->address_len = c->peer_addr_len;
        x->port = c->peer_port;
        x->stage = c->ready ? "ready" : c->authenticating ? "authenticating" : "established";
        x->protocol_version = c->version;
        x->request_count = c->requests;
        x->keyspace = c->keyspace ? hln_arena_strdup(a, c->keyspace) : NULL;
        x->username = c->role ? hln_arena_strdup(a, c->role) : NULL;
        x->ssl = c->tls != NULL;
        if (c->tls && tls_conn_established(c->tls)) {
            x->ssl_protocol = hln_arena_strdup(a, tls_conn_protocol(c->tls));
            x->ssl_cipher = hln_arena_strdup(a, tls_conn_cipher(c->tls));
        }
        x->options = NULL;
        x->noptions = 0;
        if (c->nstartup && !c->startup.err) {
            hln_option *o = hln_arena_alloc(a, sizeof *o * (size_t)c->nstartup);
            const char *p = (const char *)c->startup.data;
            for (int i = 0; o && i < c->nstartup; i++) {
                o[i].key = hln_arena_strdup(a, p);
                p += strlen(p) + 1;
                o[i].value = hln_arena_strdup(a, p);
                p += strlen(p) + 1;
                if (!strcmp(o[i].key, "DRIVER_NAME")) x->driver_name = o[i].value;
                if (!strcmp(o[i].key, "DRIVER_VERSION")) x->driver_version = o[i].value;
            }
            if (o) {
                qsort(o, (size_t)c->nstartup, sizeof *o, opt_order);
                x->options = o;
                x->noptions = c->nstartup;
            }
        }
    }
    *out = v;
    *nout = k;
    return 0;
}

void conn_push_event(srv_shard *ss, unsigned type, const uint8_t *body, size_t len)
{
    for (conn *c = ss->conns; c; c = c->next) {
        if (c->closing || c->close_after_write || !c->ready || !(c->events & type)) continue;
        size_t off = px_frame_begin(&c->wbuf, c->version, 0, -1, PX_EVENT);
        hln_buf_put(&c->wbuf, body, len);
        px_frame_end(&c->wbuf, off);
        mark_dirty(c);
    }
}
