/*
 * dalibench.c — helenus-dali-bench: the access pattern of the DALI
 * Cassandra plugin (cassandra-dali-plugin 1.3.2), reproduced with our C
 * client, and a delaying TCP proxy to run it over a long link.
 *
 *   helenus-dali-bench read --port P --ids FILE [--host H] [--table T]
 *       [--batch-size B] [--prefetch N] [--io-threads C] [--epochs E]
 *   helenus-dali-bench proxy --listen P --target-port Q [--delay-ms D]
 *
 * read: what the plugin's BatchLoader does for each training step. The
 * sample ids (16-byte UUIDs, FILE holds them back to back) are cut into
 * batches of B in file order; a batch is B prepared
 * `SELECT data, label FROM T WHERE id = ?` requests (protocol v4,
 * consistency ONE), issued at once; 1 + N batches are in flight (the
 * plugin's prefetch_buffers = N, default 1, keeps 1 + N batch buffers),
 * and a batch is delivered when all its B answers are in, in order (the
 * plugin's default, ooo = false), upon which the next batch is issued. The
 * plugin's io_threads (default 2) are the C++ driver's I/O threads, one
 * connection each: here C connections on one loop. Prints one JSON line:
 * images, bytes of image data, seconds, images/s, Gb/s, batch latency
 * percentiles. Every answer must be one row with a non-empty blob, or the
 * run fails (a bench that miscounts errors as images measures nothing).
 *
 * proxy: accepts on 127.0.0.1:P, connects each client to 127.0.0.1:Q, and
 * forwards every chunk read in either direction D ms after it was read
 * (order kept: the delay is constant), so a connection through it sees a
 * round trip 2 D ms longer and otherwise the full bandwidth. tc netem is
 * not available in this machine's kernel; this is the bench's stand-in.
 *
 * Invariants: in read, at most (1 + N) * B requests are in flight, which
 * must fit the connections' stream ids (32768 each, as the plugin
 * enforces); in proxy, a chunk is freed once written, and a side that
 * closes closes its peer after the chunks already due to it are written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "client/client.h"

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

static int die(const char *what, const char *msg)
{
    fprintf(stderr, "helenus-dali-bench: %s: %s\n", what, msg);
    return 1;
}

/* ---- read ------------------------------------------------------------- */

typedef struct rd_batch {
    int64_t first; /* index of its first id */
    int n, done;
    double started;
} rd_batch;

typedef struct rd {
    cc_client *c;
    cc_prepared *ps;
    const uint8_t *ids;
    int64_t nids, total; /* ids in the file; requests to make (epochs * nids) */
    int64_t next;        /* next request index to issue */
    int64_t delivered;   /* images delivered in batch order */
    uint64_t bytes;
    int b, window; /* batch size; batches in flight */
    rd_batch *ring;
    int64_t head, tail; /* batches [head, tail) in flight, ring index % window */
    double *lat;
    int64_t nlat;
    int failed;
    char why[256];
    int pending_issue; /* requests of the newest batch not yet accepted */
} rd;

typedef struct rd_req {
    rd *r;
    int64_t batch;
} rd_req;

static void rd_issue(rd *r);

static void rd_done(cc_result *res, void *ud)
{
    rd_req *q = ud;
    rd *r = q->r;
    rd_batch *bt = &r->ring[q->batch % r->window];
    if (res->kind != CC_RES_ROWS || res->nrows != 1) {
        if (!r->failed)
            snprintf(r->why, sizeof r->why, "request failed: kind %d code %d %s rows %d", res->kind,
                     res->code, res->message ? res->message : "",
                     res->kind == CC_RES_ROWS ? res->nrows : -1);
        r->failed = 1;
    } else {
        hln_bytes d = cc_cell(res, 0, 0);
        if (d.len <= 0) {
            if (!r->failed) snprintf(r->why, sizeof r->why, "an image came back empty");
            r->failed = 1;
        } else {
            r->bytes += (uint64_t)d.len;
        }
    }
    free(q);
    bt->done++;
    /* deliver finished batches in order, then refill the window */
    while (r->head < r->tail) {
        rd_batch *h = &r->ring[r->head % r->window];
        if (h->done < h->n) break;
        r->lat[r->nlat++] = now_s() - h->started;
        r->delivered += h->n;
        r->head++;
    }
    rd_issue(r);
}

static void rd_capacity(cc_client *c, void *ud)
{
    (void)c;
    rd_issue(ud);
}

/* Issues requests until the window is full or the epochs are used up. A
 * refused submit (no stream id or output buffer full) is retried from the
 * capacity callback. */
static void rd_issue(rd *r)
{
    while (!r->failed) {
        if (r->pending_issue == 0) {
            if (r->tail - r->head >= r->window || r->next >= r->total) return;
            rd_batch *bt = &r->ring[r->tail % r->window];
            int64_t left = r->total - r->next;
            bt->first = r->next;
            bt->n = left < r->b ? (int)left : r->b;
            bt->done = 0;
            bt->started = now_s();
            r->tail++;
            r->pending_issue = bt->n;
        }
        int64_t batch = r->tail - 1;
        rd_req *q = malloc(sizeof *q);
        if (!q) {
            r->failed = 1;
            snprintf(r->why, sizeof r->why, "out of memory");
            return;
        }
        q->r = r;
        q->batch = batch;
        const uint8_t *id = r->ids + 16 * (r->next % r->nids);
        hln_bytes v = cc_val(id, 16);
        int rc = cc_execute(r->c, r->ps, &v, 1, NULL, rd_done, q);
        if (rc == HLN_EAGAIN) {
            free(q);
            cc_client_on_capacity(r->c, rd_capacity, r);
            return;
        }
        if (rc) {
            free(q);
            r->failed = 1;
            snprintf(r->why, sizeof r->why, "submit failed: %s", cc_strerror(rc));
            return;
        }
        r->next++;
        r->pending_issue--;
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int64_t n, double p)
{
    if (n == 0) return 0;
    int64_t i = (int64_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static int cmd_read(int argc, char **argv)
{
    const char *host = "127.0.0.1", *ids_path = NULL, *table = "dali.images";
    int port = 9042, b = 128, prefetch = 1, conns = 2, epochs = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return die(a, "needs a value");
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--ids"))
            ids_path = v;
        else if (!strcmp(a, "--table"))
            table = v;
        else if (!strcmp(a, "--batch-size"))
            b = atoi(v);
        else if (!strcmp(a, "--prefetch"))
            prefetch = atoi(v);
        else if (!strcmp(a, "--io-threads"))
            conns = atoi(v);
        else if (!strcmp(a, "--epochs"))
            epochs = atoi(v);
        else
            return die(a, "unknown option");
        i++;
    }
    if (!ids_path) return die("read", "--ids FILE is required");
    if (b < 1 || prefetch < 0 || conns < 1 || epochs < 1) return die("read", "bad numbers");
    if ((int64_t)b * (1 + prefetch) > 32768LL * conns)
        return die("read", "batch-size * (1 + prefetch) must be <= 32768 * io-threads");
    FILE *f = fopen(ids_path, "rb");
    if (!f) return die(ids_path, "cannot open");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len <= 0 || len % 16) {
        fclose(f);
        return die(ids_path, "not a list of 16-byte UUIDs");
    }
    uint8_t *ids = malloc((size_t)len);
    if (!ids || fread(ids, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        return die(ids_path, "read failed");
    }
    fclose(f);

    cc_config cfg;
    cc_config_init(&cfg);
    cfg.host = host;
    cfg.port = port;
    cfg.connections = conns;
    cfg.max_streams = 32768;
    cfg.request_timeout_ms = 60000;
    cfg.max_out_bytes = 64u << 20;
    cc_client *c;
    hln_error err;
    if (cc_client_new(&cfg, NULL, &c, &err) || cc_client_connect_sync(c, &err))
        return die("connect", err.msg);
    char cql[512];
    snprintf(cql, sizeof cql, "SELECT data, label FROM %s WHERE id = ?", table);
    cc_prepared *ps;
    if (cc_prepare_sync(c, cql, &ps, &err)) return die("prepare", err.msg);

    rd r = {.c = c, .ps = ps, .ids = ids, .nids = len / 16, .b = b, .window = 1 + prefetch};
    r.total = r.nids * epochs;
    r.ring = calloc((size_t)r.window, sizeof *r.ring);
    r.lat = calloc((size_t)(r.total / b + 2), sizeof *r.lat);
    if (!r.ring || !r.lat) return die("read", "out of memory");
    double t0 = now_s();
    rd_issue(&r);
    while (!r.failed && r.delivered < r.total)
        cc_run_once(c);
    double secs = now_s() - t0;
    int ok = !r.failed;
    if (ok) {
        qsort(r.lat, (size_t)r.nlat, sizeof *r.lat, cmp_d);
        printf("{\"images\": %lld, \"bytes\": %llu, \"seconds\": %.4f, \"images_per_s\": %.1f, "
               "\"gbit_per_s\": %.4f, \"batch_size\": %d, \"prefetch\": %d, \"io_threads\": %d, "
               "\"in_flight\": %d, \"batch_p50_ms\": %.3f, \"batch_p99_ms\": %.3f}\n",
               (long long)r.delivered, (unsigned long long)r.bytes, secs,
               (double)r.delivered / secs, (double)r.bytes * 8 / secs / 1e9, b, prefetch, conns,
               b * r.window, pct(r.lat, r.nlat, 0.5) * 1e3, pct(r.lat, r.nlat, 0.99) * 1e3);
    }
    cc_client_on_capacity(c, NULL, NULL);
    cc_client_free(c);
    cc_prepared_free(ps);
    free(r.ring);
    free(r.lat);
    free(ids);
    return ok ? 0 : die("read", r.why);
}

/* ---- proxy ------------------------------------------------------------ */

typedef struct px_chunk {
    struct px_chunk *next;
    uint64_t due_ms;
    uv_buf_t buf;
} px_chunk;

typedef struct px_side px_side;
typedef struct px_conn px_conn;

/* One direction: bytes read from `from` are written to `to` after the delay. */
struct px_side {
    px_conn *conn;
    uv_tcp_t *to;
    px_chunk *head, *tail;
    uv_timer_t timer;
    int eof; /* the reading end closed: close the writing end once drained */
};

struct px_conn {
    uv_tcp_t client, server;
    px_side up, down; /* up: client -> server; down: server -> client */
    int closing, handles;
};

static uint64_t px_delay_ms = 25;
static int px_target_port;

static void px_conn_closed(uv_handle_t *h)
{
    px_conn *c = ((px_side *)h->data)->conn; /* every handle's data is its side */
    if (--c->handles == 0) {
        for (px_side *s = &c->up; s; s = s == &c->up ? &c->down : NULL)
            while (s->head) {
                px_chunk *k = s->head;
                s->head = k->next;
                free(k->buf.base);
                free(k);
            }
        free(c);
    }
}

static void px_close(px_conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->client, px_conn_closed);
    uv_close((uv_handle_t *)&c->server, px_conn_closed);
    uv_close((uv_handle_t *)&c->up.timer, px_conn_closed);
    uv_close((uv_handle_t *)&c->down.timer, px_conn_closed);
}

typedef struct px_write {
    uv_write_t req;
    px_chunk *chunk;
} px_write;

static void px_written(uv_write_t *req, int status)
{
    px_write *w = (px_write *)req;
    px_conn *c = req->data;
    free(w->chunk->buf.base);
    free(w->chunk);
    free(w);
    if (status < 0) px_close(c);
}

static void px_flush(uv_timer_t *t)
{
    px_side *s = t->data;
    px_conn *c = s->conn;
    if (c->closing) return;
    uint64_t now = uv_now(t->loop);
    while (s->head && s->head->due_ms <= now) {
        px_chunk *k = s->head;
        s->head = k->next;
        if (!s->head) s->tail = NULL;
        px_write *w = malloc(sizeof *w);
        if (!w) {
            px_close(c);
            return;
        }
        w->chunk = k;
        w->req.data = c;
        if (uv_write(&w->req, (uv_stream_t *)s->to, &k->buf, 1, px_written) < 0) {
            free(k->buf.base);
            free(k);
            free(w);
            px_close(c);
            return;
        }
    }
    if (s->head)
        uv_timer_start(&s->timer, px_flush, s->head->due_ms - now, 0);
    else if (s->eof)
        px_close(c);
}

static void px_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(256 * 1024);
    buf->len = buf->base ? 256 * 1024 : 0;
}

static void px_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    px_side *s = stream->data;
    px_conn *c = s->conn;
    if (n <= 0) {
        free(buf->base);
        if (n == 0) return;
        s->eof = 1; /* EOF or error: forward what is queued, then close */
        uv_read_stop(stream);
        if (!s->head) px_close(c);
        return;
    }
    px_chunk *k = malloc(sizeof *k);
    if (!k) {
        free(buf->base);
        px_close(c);
        return;
    }
    k->next = NULL;
    k->due_ms = uv_now(stream->loop) + px_delay_ms;
    k->buf = uv_buf_init(buf->base, (unsigned)n);
    int was_empty = s->head == NULL;
    if (s->tail)
        s->tail->next = k;
    else
        s->head = k;
    s->tail = k;
    if (was_empty) uv_timer_start(&s->timer, px_flush, px_delay_ms, 0);
}

static void px_connected(uv_connect_t *req, int status)
{
    px_conn *c = req->data;
    free(req);
    if (status < 0 || c->closing) {
        px_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->client, px_alloc, px_read);
    uv_read_start((uv_stream_t *)&c->server, px_alloc, px_read);
}

static void px_accept(uv_stream_t *listener, int status)
{
    if (status < 0) return;
    uv_loop_t *loop = listener->loop;
    px_conn *c = calloc(1, sizeof *c);
    if (!c) return;
    uv_tcp_init(loop, &c->client);
    uv_tcp_init(loop, &c->server);
    uv_timer_init(loop, &c->up.timer);
    uv_timer_init(loop, &c->down.timer);
    c->handles = 4;
    c->client.data = &c->up;
    c->server.data = &c->down;
    c->up.conn = c->down.conn = c;
    c->up.to = &c->server;
    c->down.to = &c->client;
    c->up.timer.data = &c->up;
    c->down.timer.data = &c->down;
    uv_tcp_nodelay(&c->client, 1);
    uv_tcp_nodelay(&c->server, 1);
    if (uv_accept(listener, (uv_stream_t *)&c->client) < 0) {
        px_close(c);
        return;
    }
    struct sockaddr_in to;
    uv_ip4_addr("127.0.0.1", px_target_port, &to);
    uv_connect_t *req = malloc(sizeof *req);
    if (!req) {
        px_close(c);
        return;
    }
    req->data = c;
    if (uv_tcp_connect(req, &c->server, (const struct sockaddr *)&to, px_connected) < 0) {
        free(req);
        px_close(c);
    }
}

static int cmd_proxy(int argc, char **argv)
{
    int listen_port = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return die(a, "needs a value");
        if (!strcmp(a, "--listen"))
            listen_port = atoi(v);
        else if (!strcmp(a, "--target-port"))
            px_target_port = atoi(v);
        else if (!strcmp(a, "--delay-ms"))
            px_delay_ms = (uint64_t)atoll(v);
        else
            return die(a, "unknown option");
        i++;
    }
    if (listen_port <= 0 || px_target_port <= 0)
        return die("proxy", "--listen and --target-port are required");
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t l;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &l);
    uv_ip4_addr("127.0.0.1", listen_port, &addr);
    int rc = uv_tcp_bind(&l, (const struct sockaddr *)&addr, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&l, 128, px_accept);
    if (rc) return die("listen", uv_strerror(rc));
    fprintf(stderr, "helenus-dali-bench proxy: 127.0.0.1:%d -> 127.0.0.1:%d, +%llu ms each way\n",
            listen_port, px_target_port, (unsigned long long)px_delay_ms);
    return uv_run(loop, UV_RUN_DEFAULT);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "read")) return cmd_read(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "proxy")) return cmd_proxy(argc, argv);
    fprintf(stderr, "usage: helenus-dali-bench read --port P --ids FILE [--host H] [--table T]\n"
                    "           [--batch-size B] [--prefetch N] [--io-threads C] [--epochs E]\n"
                    "       helenus-dali-bench proxy --listen P --target-port Q [--delay-ms D]\n");
    return 2;
}
