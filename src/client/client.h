/*
 * client.h — an asynchronous C client for the CQL native protocol v4.
 *
 * What: a cc_client is a small pool of TCP connections to ONE node
 * (host:port), driven by one libuv loop. It performs the OPTIONS/STARTUP
 * handshake (protocol v4, no compression, no authentication), then carries
 * QUERY, PREPARE and EXECUTE requests with bound values. Each connection
 * keeps up to `max_streams` requests in flight (stream ids 0..32767); every
 * accepted request gets exactly one callback with the decoded response: rows
 * with their column specs and values, a prepared id, a schema change, or an
 * error code and message.
 *
 * Why: the load generator (helenus-stress) needs a client whose own cost is
 * small and known, the same against Helenus and against Apache Cassandra,
 * and the training-data loader needs a C client later. Both want many
 * requests in flight on few connections without a thread per request.
 *
 * Threads: a client belongs to one loop and one thread. Every function here
 * must be called on that thread, and callbacks run on it. To use several
 * cores, make one client (and one loop) per thread.
 *
 * The callback rule (as in libuv): a submit function that returns 0 runs its
 * callback exactly once, later, from the loop (never from inside the submit
 * call); a submit that returns an error never runs it.
 *
 * Back-pressure: when every connection has all of its stream ids in use (or
 * too many bytes waiting to be written), a submit returns HLN_EAGAIN at once.
 * The capacity callback (cc_client_on_capacity) tells the caller when a
 * stream id has become free again after such a refusal.
 *
 * Ownership: a cc_result passed to a callback is borrowed: it and everything
 * it points to (strings, cells) are valid until the callback returns, unless
 * the callback calls cc_result_take(), after which the caller owns a copy
 * and frees it with cc_result_free(). Values passed to submit functions are
 * copied into the outgoing frame before the call returns.
 */
#ifndef HLN_CLIENT_H
#define HLN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/common.h"

/* ---- client-side error codes (besides HLN_E*) ------------------------- */
enum {
    CC_ETIMEDOUT = -1001,  /* no response within request_timeout_ms */
    CC_ECLOSED = -1002,    /* the connection closed (or never opened) */
    CC_EHANDSHAKE = -1003, /* OPTIONS/STARTUP failed or asked to authenticate */
};
/* A message for an HLN_E* or CC_E* code. */
const char *cc_strerror(int code);

/* ---- CQL constants ---------------------------------------------------- */
enum {
    CC_ANY = 0x0000,
    CC_ONE = 0x0001,
    CC_TWO = 0x0002,
    CC_THREE = 0x0003,
    CC_QUORUM = 0x0004,
    CC_ALL = 0x0005,
    CC_LOCAL_QUORUM = 0x0006,
    CC_EACH_QUORUM = 0x0007,
    CC_SERIAL = 0x0008,
    CC_LOCAL_SERIAL = 0x0009,
    CC_LOCAL_ONE = 0x000A,
};

/* Option ids of column types (protocol spec section 4.2.5.2). */
enum {
    CC_T_CUSTOM = 0x00,
    CC_T_ASCII = 0x01,
    CC_T_BIGINT = 0x02,
    CC_T_BLOB = 0x03,
    CC_T_BOOLEAN = 0x04,
    CC_T_COUNTER = 0x05,
    CC_T_DECIMAL = 0x06,
    CC_T_DOUBLE = 0x07,
    CC_T_FLOAT = 0x08,
    CC_T_INT = 0x09,
    CC_T_TIMESTAMP = 0x0B,
    CC_T_UUID = 0x0C,
    CC_T_VARCHAR = 0x0D,
    CC_T_VARINT = 0x0E,
    CC_T_TIMEUUID = 0x0F,
    CC_T_INET = 0x10,
    CC_T_DATE = 0x11,
    CC_T_TIME = 0x12,
    CC_T_SMALLINT = 0x13,
    CC_T_TINYINT = 0x14,
    CC_T_DURATION = 0x15,
    CC_T_LIST = 0x20,
    CC_T_MAP = 0x21,
    CC_T_SET = 0x22,
    CC_T_UDT = 0x30,
    CC_T_TUPLE = 0x31,
};

/* Well-known CQL error codes (ERROR responses). */
enum {
    CC_ERR_SERVER = 0x0000,
    CC_ERR_PROTOCOL = 0x000A,
    CC_ERR_BAD_CREDENTIALS = 0x0100,
    CC_ERR_UNAVAILABLE = 0x1000,
    CC_ERR_OVERLOADED = 0x1001,
    CC_ERR_IS_BOOTSTRAPPING = 0x1002,
    CC_ERR_TRUNCATE = 0x1003,
    CC_ERR_WRITE_TIMEOUT = 0x1100,
    CC_ERR_READ_TIMEOUT = 0x1200,
    CC_ERR_READ_FAILURE = 0x1300,
    CC_ERR_FUNCTION_FAILURE = 0x1400,
    CC_ERR_WRITE_FAILURE = 0x1500,
    CC_ERR_SYNTAX = 0x2000,
    CC_ERR_UNAUTHORIZED = 0x2100,
    CC_ERR_INVALID = 0x2200,
    CC_ERR_CONFIG = 0x2300,
    CC_ERR_ALREADY_EXISTS = 0x2400,
    CC_ERR_UNPREPARED = 0x2500,
};

/* ---- decoded responses ------------------------------------------------ */

/* A column type. For CUSTOM, `custom` is the class name (e.g. a Cassandra
 * VectorType); for UDT, `custom` is "keyspace.name" and field_names[i]
 * names sub[i]; LIST/SET have one sub, MAP two, TUPLE and UDT nsub. */
typedef struct cc_type {
    uint16_t id;
    uint16_t nsub;
    const char *custom;
    const struct cc_type *sub;
    const char *const *field_names;
} cc_type;

typedef struct cc_column {
    const char *keyspace, *table, *name;
    cc_type type;
} cc_column;

/* Rows metadata (also the bind and result metadata of a prepared statement). */
typedef struct cc_meta {
    int32_t flags; /* protocol flags: 1 global spec, 2 more pages, 4 no metadata */
    int32_t ncols;
    const cc_column *cols;       /* NULL when the response had no metadata and no
                                    prepared statement supplied it */
    const uint8_t *paging_state; /* NULL when there are no more pages */
    int32_t paging_state_len;
} cc_meta;

enum {
    CC_RES_ERROR = 0,
    CC_RES_VOID = 1,
    CC_RES_ROWS = 2,
    CC_RES_SET_KEYSPACE = 3,
    CC_RES_PREPARED = 4,
    CC_RES_SCHEMA_CHANGE = 5,
    CC_RES_READY = 0x100,     /* READY (handshake; not seen by callers) */
    CC_RES_SUPPORTED = 0x101, /* SUPPORTED (handshake; not seen by callers) */
    CC_RES_OTHER = 0x102,     /* an opcode the client does not decode */
};

typedef struct cc_result {
    int kind; /* CC_RES_* */
    /* CC_RES_ERROR: `code` is the CQL error code (>= 0) from the server, or
     * a negative HLN_E* or CC_E* code for a failure seen by the client
     * (timeout, closed connection, undecodable response). */
    int32_t code;
    const char *message; /* "" unless an error */
    int64_t latency_ns;  /* request written to the buffer -> response decoded */
    /* CC_RES_ROWS (and CC_RES_PREPARED: the result metadata) */
    cc_meta meta;
    int32_t nrows;
    const hln_bytes *cells; /* row-major, nrows * meta.ncols; len -1 = null */
    /* CC_RES_PREPARED */
    const uint8_t *prepared_id;
    int32_t prepared_id_len;
    cc_meta bind; /* bind markers */
    int32_t pk_count;
    const uint16_t *pk_index;
    /* CC_RES_SCHEMA_CHANGE: change ("CREATED"...), target ("TABLE"...),
     * keyspace, name ("" for a keyspace); CC_RES_SET_KEYSPACE: keyspace */
    const char *change, *target, *keyspace, *name;
    /* server warnings (v4 warning flag) */
    int32_t nwarnings;
    const char *const *warnings;
    size_t body_len; /* bytes of the response body */

    /* private to the client */
    hln_arena arena_;
    uint8_t *body_;        /* owned copy of the body (taken results) */
    const uint8_t *raw_;   /* the body decoded from */
    const cc_meta *rmeta_; /* the prepared result metadata used, or NULL */
    uint8_t hdr_[3];       /* version, flags, opcode of the response */
    bool taken_;
} cc_result;

/* A cell of a ROWS result (row-major): no bounds check beyond an assert. */
static inline hln_bytes cc_cell(const cc_result *r, int32_t row, int32_t col)
{
    return r->cells[(size_t)row * (size_t)r->meta.ncols + (size_t)col];
}

/* Inside a callback: keep the result. Returns an owned copy (free it with
 * cc_result_free) or NULL on ENOMEM. */
cc_result *cc_result_take(cc_result *r);
void cc_result_free(cc_result *r);

/* Index of the column called `name` in r->meta, or -1. */
int cc_result_column(const cc_result *r, const char *name);

/* ---- value helpers (big-endian wire encodings) -------------------------- */
int32_t cc_get_int(hln_bytes v);    /* int: 4 bytes (0 when null/short) */
int64_t cc_get_bigint(hln_bytes v); /* bigint, timestamp, counter: 8 bytes */
float cc_get_float(hln_bytes v);
double cc_get_double(hln_bytes v);
void cc_put_int(uint8_t out[4], int32_t v);
void cc_put_bigint(uint8_t out[8], int64_t v);
void cc_put_float(uint8_t out[4], float v);
void cc_put_double(uint8_t out[8], double v);
static inline hln_bytes cc_val(const void *p, size_t n)
{
    hln_bytes b = {(const uint8_t *)p, (int32_t)n};
    return b;
}
static inline hln_bytes cc_null(void)
{
    hln_bytes b = {NULL, -1};
    return b;
}

/* ---- the client --------------------------------------------------------- */

typedef struct cc_client cc_client;
typedef struct cc_prepared cc_prepared;

typedef void (*cc_result_cb)(cc_result *res, void *ud);
/* status: 0 when every connection is ready, else an HLN_E* or CC_E* code with
 * `msg` saying why (the client stays usable with the connections that
 * succeeded if any did: cc_client_live() tells how many). */
typedef void (*cc_connect_cb)(cc_client *c, int status, const char *msg, void *ud);
typedef void (*cc_capacity_cb)(cc_client *c, void *ud);

typedef struct cc_config {
    const char *host;       /* numeric address or name; default "127.0.0.1" */
    int port;               /* default 9042 */
    int connections;        /* default 1 */
    int max_streams;        /* requests in flight per connection, 1..32768; default 1024 */
    int connect_timeout_ms; /* default 5000 */
    int request_timeout_ms; /* default 12000; 0 = none */
    const char *keyspace;   /* USE this keyspace on every connection (NULL: none) */
    size_t max_out_bytes;   /* per connection: refuse (EAGAIN) above this; default 16 MiB */
    size_t max_frame;       /* largest response body accepted; default 256 MiB */
} cc_config;

void cc_config_init(cc_config *cfg);

/* Creates a client. loop NULL: the client creates and owns a loop (use
 * cc_client_loop() and cc_run*()); else it uses the caller's loop. Nothing
 * connects until cc_client_connect. */
int cc_client_new(const cc_config *cfg, uv_loop_t *loop, cc_client **out, hln_error *err);
uv_loop_t *cc_client_loop(cc_client *c);

/* Opens all connections and handshakes; cb runs once when all are settled. */
int cc_client_connect(cc_client *c, cc_connect_cb cb, void *ud);
/* Runs the loop until connected (not from inside a callback on this loop). */
int cc_client_connect_sync(cc_client *c, hln_error *err);

/* Connections that are ready now. */
int cc_client_live(const cc_client *c);
/* Requests that can be submitted now without HLN_EAGAIN (stream ids free on
 * live connections). */
int cc_client_capacity(const cc_client *c);
/* Requests in flight (submitted, callback not yet run). */
int cc_client_in_flight(const cc_client *c);
/* cb runs (on the loop) each time a request completes after a submit was
 * refused with HLN_EAGAIN, until a submit succeeds again. NULL to clear. */
void cc_client_on_capacity(cc_client *c, cc_capacity_cb cb, void *ud);

/* Closes every connection: requests in flight get CC_ECLOSED callbacks, then
 * memory is released. With an owned loop this runs the loop until done and
 * returns with everything freed; with a borrowed loop the memory is freed
 * from a close callback, so keep running that loop. Not from inside a
 * callback of this client when the loop is owned. */
void cc_client_free(cc_client *c);

/* ---- requests ----------------------------------------------------------- */

/* Query parameters; pass NULL for the defaults (consistency ONE, no paging
 * limit, no timestamp). */
typedef struct cc_params {
    uint16_t consistency;
    int32_t page_size;           /* <= 0: not sent (server default) */
    const uint8_t *paging_state; /* from a previous page's meta, or NULL */
    int32_t paging_state_len;
    uint16_t serial_consistency; /* 0: not sent */
    bool has_timestamp;
    int64_t timestamp; /* microseconds, when has_timestamp */
} cc_params;

void cc_params_init(cc_params *p);

/* QUERY: cql with `n` positional values (n may be 0). */
int cc_query(cc_client *c, const char *cql, const hln_bytes *vals, int n, const cc_params *p,
             cc_result_cb cb, void *ud);
/* PREPARE: the callback receives a CC_RES_PREPARED result; make a statement
 * handle from it with cc_prepared_new. */
int cc_prepare(cc_client *c, const char *cql, cc_result_cb cb, void *ud);
/* EXECUTE a prepared statement with `n` values (must equal its bind count).
 * When the statement returns rows, the request asks the server to skip the
 * metadata and the ROWS result reuses the statement's column specs. The
 * statement must outlive the request. */
int cc_execute(cc_client *c, const cc_prepared *ps, const hln_bytes *vals, int n,
               const cc_params *p, cc_result_cb cb, void *ud);

/* A statement handle from a CC_RES_PREPARED result (copies what it needs). */
cc_prepared *cc_prepared_new(const cc_result *prepared, const char *cql);
void cc_prepared_free(cc_prepared *ps);
int cc_prepared_bind_count(const cc_prepared *ps);
const cc_meta *cc_prepared_bind_meta(const cc_prepared *ps);
const cc_meta *cc_prepared_result_meta(const cc_prepared *ps);
const char *cc_prepared_cql(const cc_prepared *ps);

/* ---- synchronous helpers (run the loop until the response arrives; not
 * from inside a callback on this loop) ----------------------------------- */

/* On success *out is an owned result (cc_result_free), which may be an
 * ERROR result: the return value is 0 whenever a response arrived, and
 * (*out)->kind tells what it was. A client-side failure returns its code
 * with err filled and *out NULL. */
int cc_query_sync(cc_client *c, const char *cql, const hln_bytes *vals, int n, const cc_params *p,
                  cc_result **out, hln_error *err);
/* Prepares; returns 0 with *out set, or an error: a server ERROR response
 * becomes HLN_EINVAL with err->msg "<code hex>: <message>". */
int cc_prepare_sync(cc_client *c, const char *cql, cc_prepared **out, hln_error *err);

/* Runs the loop once (UV_RUN_ONCE) / without blocking (UV_RUN_NOWAIT). */
int cc_run_once(cc_client *c);
int cc_run_nowait(cc_client *c);

#endif
