/*
 * proto.c — the CQL native protocol codec (v3 and v4 framing and messages).
 *
 * What: parses 9-byte frame headers, decodes the request bodies a server
 * receives (STARTUP, REGISTER, QUERY, PREPARE, EXECUTE, BATCH) and encodes the
 * response bodies it sends (ERROR, READY, SUPPORTED, RESULT, EVENT), as
 * doc/native_protocol_v4.spec in Apache Cassandra describes them. The
 * notation below is the spec's: [short] u16, [int] i32, [long] i64,
 * [string] = [short] n + n bytes, [long string] = [int] n + n bytes,
 * [bytes] = [int] n + n bytes (n < 0: null), [short bytes] = [short] n +
 * n bytes, [string list] = [short] n + n [string], [string map] = [short] n
 * + n ([string] key, [string] value), [option] = [short] id + params.
 *
 * Why pure functions over hln_rd / hln_buf: hostile bytes meet this code
 * first, so it must be fuzzable without sockets (tests/fuzz/fuzz_frame.c)
 * and unable to touch connection state.
 *
 * Frame header (v3, v4; all big-endian):
 *
 *   offset size field
 *   0      1    version (bit 7 = response direction)
 *   1      1    flags (0x01 compression, 0x02 tracing, 0x04 custom payload,
 *                      0x08 warning, 0x10 beta)
 *   2      2    stream id (i16; -1 for server-pushed EVENTs)
 *   4      1    opcode
 *   5      4    body length (u32)
 *
 * v1/v2 used an 8-byte header with a one-byte stream id. We serve neither,
 * but px_frame_begin can still write that header so that the "unsupported
 * version" ERROR reaches such a client in a form it can read (as Cassandra
 * does: it answers an old version in that version).
 *
 * Invariants:
 *  1. Every decoder reads through an hln_rd and checks every count against
 *     the bytes left before allocating, so a short or lying body gives
 *     HLN_EPROTO with a message, never a read past the end or a huge
 *     allocation.
 *  2. Decoded strings are copied into the caller's arena and NUL-terminated;
 *     [bytes] values and ids point into the body (which the caller keeps
 *     alive as long as the arena, e.g. by copying it into the arena first).
 *  3. Each encoder appends exactly one body to out; px_frame_begin/end wrap
 *     it in a header. Encoders never fail on their own: out->err (sticky
 *     ENOMEM) is the only failure, checked by the caller before sending.
 */
#include "proto/proto.h"

#include <inttypes.h>
#include <string.h>

#include "types/types.h"

/* ---- frame header ----------------------------------------------------- */

static const char supported_versions[] = "3/v3, 4/v4, 5/v5";

int px_header_parse(const uint8_t *p, size_t len, size_t max_body, px_header *h, hln_error *err)
{
    memset(h, 0, sizeof *h);
    if (len == 0) return HLN_EAGAIN;
    h->version = p[0] & 0x7F;
    h->response = (p[0] & 0x80) != 0;
    /* The version is checked on the first byte alone, before a whole header
     * is there: v1/v2 headers are only 8 bytes long, so a v2 client could
     * otherwise wait forever. Whatever else of the header has arrived is
     * filled in so the caller can answer on the right stream. */
    if (h->version < PX_MIN_VERSION || h->version > PX_MAX_VERSION) {
        if (len >= 2) h->flags = p[1];
        if (h->version < 3 && len >= 3)
            h->stream = (int8_t)p[2];
        else if (h->version >= 3 && len >= 4)
            h->stream = (int16_t)(uint16_t)(p[2] << 8 | p[3]);
        return hln_fail(err, HLN_EBADVERSION,
                        "Invalid or unsupported protocol version (%d); supported versions are (%s)",
                        h->version, supported_versions);
    }
    if (len < PX_HEADER_LEN) return HLN_EAGAIN;
    h->flags = p[1];
    h->stream = (int16_t)(uint16_t)(p[2] << 8 | p[3]);
    h->opcode = p[4];
    h->length = (uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
    if (h->length > max_body) {
        /* Cassandra reports whole-frame lengths (header included) against
         * native_transport_max_frame_size; max_body is that minus the header. */
        return hln_fail(err, HLN_ETOOBIG,
                        "Request is too big: length %" PRIu64
                        " exceeds maximum allowed length %" PRIu64 ".",
                        (uint64_t)h->length + PX_HEADER_LEN, (uint64_t)max_body + PX_HEADER_LEN);
    }
    return 0;
}

size_t px_frame_begin(hln_buf *out, uint8_t version, uint8_t flags, int16_t stream, uint8_t opcode)
{
    size_t off = out->len;
    hln_buf_u8(out, (uint8_t)(0x80 | (version & 0x7F)));
    hln_buf_u8(out, flags);
    if (version < 3)
        hln_buf_u8(out, (uint8_t)stream);
    else
        hln_buf_u16(out, (uint16_t)stream);
    hln_buf_u8(out, opcode);
    hln_buf_u32(out, 0);
    return off;
}

void px_frame_end(hln_buf *out, size_t frame_off)
{
    if (out->err || frame_off >= out->len) return;
    size_t hdr = (out->data[frame_off] & 0x7F) < 3 ? 8 : PX_HEADER_LEN;
    if (out->len < frame_off + hdr) return;
    hln_buf_patch_u32(out, frame_off + hdr - 4, (uint32_t)(out->len - frame_off - hdr));
}

/* ---- readers for the spec's notations -------------------------------- */

/* [string] copied into the arena, NUL-terminated; NULL on error (r->err set
 * by a short read, or by us on ENOMEM). */
static const char *rd_string(hln_rd *r, hln_arena *a)
{
    uint16_t n = hln_rd_u16(r);
    const uint8_t *p = hln_rd_take(r, n);
    if (!p) return NULL;
    char *s = hln_arena_strndup(a, (const char *)p, n);
    if (!s) r->err = HLN_ENOMEM;
    return s;
}

static const char *rd_long_string(hln_rd *r, hln_arena *a, size_t *lenp)
{
    int32_t n = (int32_t)hln_rd_u32(r);
    if (r->err) return NULL;
    if (n < 0) {
        r->err = HLN_EPROTO;
        return NULL;
    }
    const uint8_t *p = hln_rd_take(r, (size_t)n);
    if (!p) return NULL;
    char *s = hln_arena_strndup(a, (const char *)p, (size_t)n);
    if (!s) {
        r->err = HLN_ENOMEM;
        return NULL;
    }
    *lenp = (size_t)n;
    return s;
}

/* Turns a reader failure into the caller's error. */
static int rd_fail(const hln_rd *r, hln_error *err, const char *what)
{
    if (r->err == HLN_ENOMEM)
        return hln_fail(err, HLN_ENOMEM, "Out of memory decoding %s message", what);
    return hln_fail(err, HLN_EPROTO, "Invalid %s message: body is truncated or malformed", what);
}

/* ---- request bodies --------------------------------------------------- */

int px_decode_startup(hln_rd *r, hln_arena *a, px_startup *out, hln_error *err)
{
    out->opts = NULL;
    out->nopts = 0;
    uint16_t n = hln_rd_u16(r);
    if (r->err) return rd_fail(r, err, "STARTUP");
    if ((size_t)n * 4 > hln_rd_left(r))
        return hln_fail(err, HLN_EPROTO, "Invalid STARTUP message: %u options do not fit", n);
    px_kv *kv = n ? hln_arena_alloc(a, (size_t)n * sizeof *kv) : NULL;
    if (n && !kv) return hln_fail(err, HLN_ENOMEM, "Out of memory decoding STARTUP message");
    for (int i = 0; i < n; i++) {
        kv[i].key = rd_string(r, a);
        kv[i].value = rd_string(r, a);
        if (r->err) return rd_fail(r, err, "STARTUP");
    }
    out->opts = kv;
    out->nopts = n;
    return 0;
}

int px_decode_register(hln_rd *r, hln_arena *a, const char ***types, int *ntypes, hln_error *err)
{
    *types = NULL;
    *ntypes = 0;
    uint16_t n = hln_rd_u16(r);
    if (r->err) return rd_fail(r, err, "REGISTER");
    if ((size_t)n * 2 > hln_rd_left(r))
        return hln_fail(err, HLN_EPROTO, "Invalid REGISTER message: %u event types do not fit", n);
    const char **t = n ? hln_arena_alloc(a, (size_t)n * sizeof *t) : NULL;
    if (n && !t) return hln_fail(err, HLN_ENOMEM, "Out of memory decoding REGISTER message");
    for (int i = 0; i < n; i++) {
        t[i] = rd_string(r, a);
        if (r->err) return rd_fail(r, err, "REGISTER");
    }
    *types = t;
    *ntypes = n;
    return 0;
}

enum {
    QF_VALUES = 0x01,
    QF_SKIP_METADATA = 0x02,
    QF_PAGE_SIZE = 0x04,
    QF_PAGING_STATE = 0x08,
    QF_SERIAL_CONSISTENCY = 0x10,
    QF_TIMESTAMP = 0x20,
    QF_NAMES = 0x40,
    QF_KEYSPACE = 0x80,        /* v5 */
    QF_NOW_IN_SECONDS = 0x100, /* v5 */
};

#define CL_MAX 0x000A /* LOCAL_ONE, the highest consistency code */
#define CL_SERIAL 0x0008

/* <query_parameters> of QUERY and EXECUTE (spec 4.1.4). Sets every field of
 * p except keyspace, which only v5's With_keyspace flag sets (the caller
 * falls back to the connection's keyspace when it is still NULL). v5's
 * flags are an [int]; its <now_in_seconds> is read and ignored (a testing
 * aid of Cassandra's that exec has no use for). */
static int decode_params(hln_rd *r, uint8_t version, hln_arena *a, ex_params *p, const char *what,
                         hln_error *err)
{
    p->values = NULL;
    p->nvalues = 0;
    p->names = NULL;
    p->page_size = -1;
    p->paging_state = NULL;
    p->paging_len = 0;
    p->serial_consistency = CL_SERIAL;
    p->timestamp = HLN_TS_NONE;
    p->consistency = hln_rd_u16(r);
    uint32_t flags = version >= 5 ? hln_rd_u32(r) : hln_rd_u8(r);
    if (r->err) return rd_fail(r, err, what);
    if (p->consistency > CL_MAX)
        return hln_fail(err, HLN_EPROTO, "Unknown code %u for a consistency level", p->consistency);
    p->skip_metadata = (flags & QF_SKIP_METADATA) != 0;
    if (flags & QF_VALUES) {
        uint16_t n = hln_rd_u16(r);
        if (r->err) return rd_fail(r, err, what);
        bool named = (flags & QF_NAMES) != 0;
        /* each value takes at least its 4-byte length (plus a 2-byte name) */
        if ((size_t)n * (named ? 6 : 4) > hln_rd_left(r))
            return hln_fail(err, HLN_EPROTO, "Invalid %s message: %u values do not fit", what, n);
        if (n) {
            p->values = hln_arena_alloc(a, (size_t)n * sizeof *p->values);
            if (named) p->names = hln_arena_alloc(a, (size_t)n * sizeof *p->names);
            if (!p->values || (named && !p->names))
                return hln_fail(err, HLN_ENOMEM, "Out of memory decoding %s message", what);
        }
        for (int i = 0; i < n; i++) {
            if (named) p->names[i] = rd_string(r, a);
            int32_t len = (int32_t)hln_rd_u32(r);
            if (r->err) return rd_fail(r, err, what);
            if (len >= 0) {
                p->values[i].p = hln_rd_take(r, (size_t)len);
                if (!p->values[i].p) return rd_fail(r, err, what);
                p->values[i].len = len;
            } else if (version < 4 || len == -1) {
                /* v3 has no "unset": Cassandra reads any negative length as null */
                p->values[i].p = NULL;
                p->values[i].len = -1;
            } else if (len == -2) {
                p->values[i].p = NULL;
                p->values[i].len = -2;
            } else {
                return hln_fail(err, HLN_EPROTO, "Invalid ByteBuf length %" PRId32, len);
            }
        }
        p->nvalues = n;
    }
    if (flags & QF_PAGE_SIZE) {
        p->page_size = (int32_t)hln_rd_u32(r);
        if (r->err) return rd_fail(r, err, what);
        if (p->page_size == 0) return hln_fail(err, HLN_EPROTO, "The page size cannot be 0");
    }
    if (flags & QF_PAGING_STATE) {
        int32_t len = (int32_t)hln_rd_u32(r);
        if (r->err) return rd_fail(r, err, what);
        if (len >= 0) {
            p->paging_state = hln_rd_take(r, (size_t)len);
            if (!p->paging_state) return rd_fail(r, err, what);
            p->paging_len = len;
        }
    }
    if (flags & QF_SERIAL_CONSISTENCY) {
        p->serial_consistency = hln_rd_u16(r);
        if (r->err) return rd_fail(r, err, what);
        if (p->serial_consistency > CL_MAX)
            return hln_fail(err, HLN_EPROTO, "Unknown code %u for a consistency level",
                            p->serial_consistency);
    }
    if (flags & QF_TIMESTAMP) {
        int64_t ts = (int64_t)hln_rd_u64(r);
        if (r->err) return rd_fail(r, err, what);
        if (ts == INT64_MIN)
            return hln_fail(err, HLN_EPROTO,
                            "Out of bound timestamp, must be in [%" PRId64 ", %" PRId64
                            "] (got %" PRId64 ")",
                            INT64_MIN + 1, INT64_MAX, ts);
        p->timestamp = ts;
    }
    if (version >= 5 && (flags & QF_KEYSPACE)) {
        const char *ks = rd_string(r, a);
        if (!ks) return rd_fail(r, err, what);
        if (*ks) p->keyspace = ks;
    }
    if (version >= 5 && (flags & QF_NOW_IN_SECONDS)) {
        hln_rd_u32(r);
        if (r->err) return rd_fail(r, err, what);
    }
    return 0;
}

int px_decode_query(hln_rd *r, uint8_t version, hln_arena *a, const char **cql, size_t *cqllen,
                    ex_params *p, hln_error *err)
{
    *cql = rd_long_string(r, a, cqllen);
    if (!*cql) return rd_fail(r, err, "QUERY");
    return decode_params(r, version, a, p, "QUERY", err);
}

enum { PF_KEYSPACE = 0x01 }; /* PREPARE flags (v5) */

int px_decode_prepare_ks(hln_rd *r, uint8_t version, hln_arena *a, const char **cql, size_t *cqllen,
                         const char **keyspace, hln_error *err)
{
    if (keyspace) *keyspace = NULL;
    *cql = rd_long_string(r, a, cqllen);
    if (!*cql) return rd_fail(r, err, "PREPARE");
    if (version >= 5) { /* <flags>[<keyspace>] */
        uint32_t flags = hln_rd_u32(r);
        if (r->err) return rd_fail(r, err, "PREPARE");
        if (flags & PF_KEYSPACE) {
            const char *ks = rd_string(r, a);
            if (!ks) return rd_fail(r, err, "PREPARE");
            if (keyspace && *ks) *keyspace = ks;
        }
    }
    return 0;
}

int px_decode_prepare(hln_rd *r, uint8_t version, hln_arena *a, const char **cql, size_t *cqllen,
                      hln_error *err)
{
    return px_decode_prepare_ks(r, version, a, cql, cqllen, NULL, err);
}

int px_decode_execute_md(hln_rd *r, uint8_t version, hln_arena *a, const uint8_t **id,
                         size_t *idlen, const uint8_t **md_id, size_t *md_idlen, ex_params *p,
                         hln_error *err)
{
    if (md_id) {
        *md_id = NULL;
        *md_idlen = 0;
    }
    uint16_t n = hln_rd_u16(r);
    *id = hln_rd_take(r, n);
    if (!*id) return rd_fail(r, err, "EXECUTE");
    *idlen = n;
    if (version >= 5) { /* <result_metadata_id> */
        uint16_t m = hln_rd_u16(r);
        const uint8_t *mp = hln_rd_take(r, m);
        if (!mp) return rd_fail(r, err, "EXECUTE");
        if (md_id) {
            *md_id = mp;
            *md_idlen = m;
        }
    }
    return decode_params(r, version, a, p, "EXECUTE", err);
}

int px_decode_execute(hln_rd *r, uint8_t version, hln_arena *a, const uint8_t **id, size_t *idlen,
                      ex_params *p, hln_error *err)
{
    return px_decode_execute_md(r, version, a, id, idlen, NULL, NULL, p, err);
}

/* ---- response bodies -------------------------------------------------- */

uint16_t px_errcode_for(int hln_code)
{
    switch (hln_code) {
    case HLN_ESYNTAX:
        return PX_ERR_SYNTAX;
    case HLN_EINVAL:
    case HLN_ENOTFOUND:
    case HLN_EUNSUPPORTED:
    case HLN_ETOOBIG:
        return PX_ERR_INVALID;
    case HLN_EEXISTS:
        return PX_ERR_ALREADY_EXISTS;
    case HLN_EUNPREPARED:
        return PX_ERR_UNPREPARED;
    case HLN_EPROTO:
    case HLN_EBADVERSION:
        return PX_ERR_PROTOCOL;
    case HLN_ECONFIG:
        return PX_ERR_CONFIG;
    case HLN_EAUTH:
        return PX_ERR_BAD_CREDENTIALS;
    case HLN_EUNAUTHORIZED:
        return PX_ERR_UNAUTHORIZED;
    case HLN_EFUNCFAIL:
        return PX_ERR_FUNCTION_FAILURE;
    case HLN_EOVERLOADED:
        return PX_ERR_OVERLOADED;
    case HLN_EWRITETIMEOUT:
        return PX_ERR_WRITE_TIMEOUT;
    default:
        return PX_ERR_SERVER;
    }
}

static void put_string(hln_buf *out, const char *s)
{
    hln_buf_string(out, s ? s : "");
}

void px_encode_error(hln_buf *out, uint8_t version, const hln_error *err)
{
    uint16_t code = px_errcode_for(err->code);
    hln_buf_u32(out, code);
    /* msg is a fixed array; never trust it to be terminated */
    const char *msg = err->msg;
    size_t n = strnlen(msg, sizeof err->msg);
    bool cas = code == PX_ERR_WRITE_TIMEOUT && strnlen(err->table, sizeof err->table) == 3 &&
               !memcmp(err->table, "CAS", 3);
    if (cas && version < 5) {
        /* before v5 a CAS timeout is an ordinary one, worded as such
           (Cassandra's codec does the same) */
        msg = "Operation timed out - received only 0 responses.";
        n = strlen(msg);
    }
    hln_buf_u16(out, (uint16_t)n);
    hln_buf_put(out, msg, n);
    switch (code) {
    case PX_ERR_ALREADY_EXISTS: {
        size_t kn = strnlen(err->ks, sizeof err->ks), tn = strnlen(err->table, sizeof err->table);
        hln_buf_u16(out, (uint16_t)kn);
        hln_buf_put(out, err->ks, kn);
        hln_buf_u16(out, (uint16_t)tn);
        hln_buf_put(out, err->table, tn);
        break;
    }
    case PX_ERR_FUNCTION_FAILURE: {
        /* <keyspace><function><arg_types>: the function's name when the
           failing layer set it (err->table), no argument types */
        size_t tn = strnlen(err->table, sizeof err->table);
        hln_buf_u16(out, 6);
        hln_buf_put(out, "system", 6);
        hln_buf_u16(out, (uint16_t)tn);
        hln_buf_put(out, err->table, tn);
        hln_buf_u16(out, 0);
        break;
    }
    case PX_ERR_UNPREPARED:
        hln_buf_u16(out, (uint16_t)sizeof err->id);
        hln_buf_put(out, err->id, sizeof err->id);
        break;
    case PX_ERR_WRITE_TIMEOUT: {
        /* <cl><received><blockfor><writeType>[<contentions>]: a write that
           waited for memtable space (exec/coord.c) was acknowledged by no
           replica of the one it needed; the layer put the consistency in
           id[0..1] and the write type (SIMPLE, BATCH, COUNTER, CAS) in
           table. From v5 a CAS timeout also carries its contentions (none
           on one node), as Cassandra's codec writes them. */
        size_t tn = strnlen(err->table, sizeof err->table);
        hln_buf_u16(out, (uint16_t)(err->id[0] << 8 | err->id[1]));
        hln_buf_u32(out, 0);
        hln_buf_u32(out, 1);
        hln_buf_u16(out, (uint16_t)(tn ? tn : 6));
        hln_buf_put(out, tn ? err->table : "SIMPLE", tn ? tn : 6);
        if (cas && version >= 5) hln_buf_u16(out, 0);
        break;
    }
    default:
        /* px_errcode_for never yields the other codes with extras
         * (Unavailable, read timeouts, failures): they need replica counts
         * that a single node does not produce yet. Overloaded has none. */
        break;
    }
}

void px_encode_ready(hln_buf *out)
{
    HLN_UNUSED(out); /* empty body */
}

static void put_string_list(hln_buf *out, const char *const *v, int n)
{
    hln_buf_u16(out, (uint16_t)n);
    for (int i = 0; i < n; i++)
        put_string(out, v[i]);
}

void px_encode_supported(hln_buf *out)
{
    static const char *const cql[] = {"3.4.7"};
    static const char *const compressions[] = {"lz4", "snappy"};
    static const char *const versions[] = {"3/v3", "4/v4", "5/v5"};
    hln_buf_u16(out, 3);
    put_string(out, "CQL_VERSION");
    put_string_list(out, cql, 1);
    put_string(out, "COMPRESSION");
    put_string_list(out, compressions, 2);
    put_string(out, "PROTOCOL_VERSIONS");
    put_string_list(out, versions, 3);
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool all_in_one_table(const ex_colspec *c, int n)
{
    if (n <= 0) return false;
    for (int i = 1; i < n; i++)
        if (!same(c[i].ks, c[0].ks) || !same(c[i].table, c[0].table)) return false;
    return true;
}

static void put_type(hln_buf *out, const hln_type *t)
{
    if (t)
        hln_type_encode_option(t, out);
    else
        hln_buf_u16(out, HLN_T_BLOB); /* never expected: exec types every column */
}

/* The column specs: [<global_table_spec>] <col_spec_1>...<col_spec_n>. */
static void put_colspecs(hln_buf *out, const ex_colspec *c, int n, bool global)
{
    if (global) {
        put_string(out, c[0].ks);
        put_string(out, c[0].table);
    }
    for (int i = 0; i < n; i++) {
        if (!global) {
            put_string(out, c[i].ks);
            put_string(out, c[i].table);
        }
        put_string(out, c[i].name);
        put_type(out, c[i].type);
    }
}

enum {
    MF_GLOBAL = 0x0001,
    MF_MORE_PAGES = 0x0002,
    MF_NO_METADATA = 0x0004,
    MF_METADATA_CHANGED = 0x0008, /* v5 */
};

/* Rows <metadata> (spec 4.2.5.2); also the <result_metadata> of Prepared.
 * new_id (v5): the metadata changed since the client prepared; send it
 * (<new_metadata_id>) and the full column specs. */
static void put_rows_metadata(hln_buf *out, const ex_colspec *cols, int ncols,
                              const uint8_t *paging, int32_t paging_len, bool no_metadata,
                              const uint8_t *new_id)
{
    if (new_id) no_metadata = false;
    bool global = !no_metadata && all_in_one_table(cols, ncols);
    uint32_t flags = 0;
    if (global) flags |= MF_GLOBAL;
    if (paging) flags |= MF_MORE_PAGES;
    if (no_metadata) flags |= MF_NO_METADATA;
    if (new_id) flags |= MF_METADATA_CHANGED;
    hln_buf_u32(out, flags);
    hln_buf_u32(out, (uint32_t)(ncols > 0 ? ncols : 0));
    if (paging) hln_buf_bytes(out, paging, paging_len > 0 ? paging_len : 0);
    if (new_id) {
        hln_buf_u16(out, 16);
        hln_buf_put(out, new_id, 16);
    }
    if (!no_metadata) put_colspecs(out, cols, ncols, global);
}

void px_result_metadata_id(const ex_colspec *cols, int ncols, uint8_t out[16])
{
    /* Cassandra hashes each column's name and type; the table of each
     * column goes in too here, so a result that moves to another table
     * (a dropped and recreated one) gets a new id. Only equality matters:
     * clients treat the id as opaque. */
    hln_buf b;
    hln_buf_init(&b);
    for (int i = 0; cols && i < ncols; i++) {
        put_string(&b, cols[i].ks);
        put_string(&b, cols[i].table);
        put_string(&b, cols[i].name);
        put_type(&b, cols[i].type);
    }
    hln_md5(b.data, b.err ? 0 : b.len, NULL, 0, out);
    hln_buf_free(&b);
}

static void put_schema_change(hln_buf *out, const char *change, const char *target, const char *ks,
                              const char *name)
{
    put_string(out, change);
    put_string(out, target);
    put_string(out, ks);
    if (!target || strcmp(target, "KEYSPACE") == 0) return;
    put_string(out, name);
    if (strcmp(target, "FUNCTION") == 0 || strcmp(target, "AGGREGATE") == 0)
        put_string_list(out, NULL, 0); /* argument types: none known yet */
}

void px_encode_result(hln_buf *out, uint8_t version, const ex_result *res)
{
    px_encode_result_md(out, version, res, NULL, 0);
}

void px_encode_result_md(hln_buf *out, uint8_t version, const ex_result *res, const uint8_t *md_id,
                         size_t md_idlen)
{
    int kind = res->kind >= EX_VOID && res->kind <= EX_SCHEMA_CHANGE ? res->kind : EX_VOID;
    hln_buf_u32(out, (uint32_t)kind);
    switch (kind) {
    case EX_ROWS: {
        /* With skip_metadata the client asked for no column specs; with no
         * columns at all there is nothing to describe either. */
        uint8_t cur[16];
        const uint8_t *changed = NULL;
        if (version >= 5 && md_id) {
            px_result_metadata_id(res->cols, res->ncols, cur);
            if (md_idlen != sizeof cur || memcmp(md_id, cur, sizeof cur) != 0) changed = cur;
        }
        put_rows_metadata(out, res->cols, res->ncols, res->paging_state, res->paging_len,
                          res->no_metadata, changed);
        int nrows = res->nrows > 0 ? res->nrows : 0, ncols = res->ncols > 0 ? res->ncols : 0;
        hln_buf_u32(out, (uint32_t)nrows);
        size_t ncells = (size_t)nrows * (size_t)ncols;
        for (size_t i = 0; i < ncells; i++) {
            const ex_value *v = &res->cells[i];
            if (v->len >= 0)
                hln_buf_bytes(out, v->p, v->len);
            else
                hln_buf_u32(out, (uint32_t)-1); /* null (unset never leaves exec) */
        }
        break;
    }
    case EX_SET_KEYSPACE:
        put_string(out, res->keyspace);
        break;
    case EX_PREPARED: {
        hln_buf_u16(out, (uint16_t)sizeof res->id);
        hln_buf_put(out, res->id, sizeof res->id);
        if (version >= 5) { /* <result_metadata_id> */
            uint8_t mid[16];
            px_result_metadata_id(res->cols, res->ncols, mid);
            hln_buf_u16(out, sizeof mid);
            hln_buf_put(out, mid, sizeof mid);
        }
        int nb = res->nbinds > 0 ? res->nbinds : 0;
        bool global = all_in_one_table(res->binds, nb);
        hln_buf_u32(out, global ? MF_GLOBAL : 0);
        hln_buf_u32(out, (uint32_t)nb);
        if (version >= 4) {
            int npk = res->pk_indexes && res->npk_indexes > 0 ? res->npk_indexes : 0;
            hln_buf_u32(out, (uint32_t)npk);
            for (int i = 0; i < npk; i++)
                hln_buf_u16(out, (uint16_t)res->pk_indexes[i]);
        }
        put_colspecs(out, res->binds, nb, global);
        /* result metadata: No_metadata and 0 columns for non-SELECTs */
        if (res->ncols > 0)
            put_rows_metadata(out, res->cols, res->ncols, NULL, 0, false, NULL);
        else
            put_rows_metadata(out, NULL, 0, NULL, 0, true, NULL);
        break;
    }
    case EX_SCHEMA_CHANGE:
        put_schema_change(out, res->change, res->target, res->sc_ks, res->sc_name);
        break;
    case EX_VOID:
    default:
        break;
    }
}

void px_encode_node_event(hln_buf *out, const char *type, const char *change, const uint8_t *addr,
                          int addrlen, int port)
{
    put_string(out, type);
    put_string(out, change);
    hln_buf_u8(out, (uint8_t)addrlen);
    hln_buf_put(out, addr, (size_t)addrlen);
    hln_buf_u32(out, (uint32_t)port);
}

void px_encode_schema_event(hln_buf *out, const char *change, const char *target, const char *ks,
                            const char *name)
{
    put_string(out, "SCHEMA_CHANGE");
    put_schema_change(out, change, target, ks, name);
}

/* ---- BATCH ---------------------------------------------------------------- */

int px_decode_batch(hln_rd *r, uint8_t version, hln_arena *a, int *type, ex_batch_item **items,
                    int *nitems, ex_params *p, hln_error *err)
{
    *items = NULL;
    *nitems = 0;
    uint8_t t = hln_rd_u8(r);
    uint16_t n = hln_rd_u16(r);
    if (r->err) return rd_fail(r, err, "BATCH");
    if (t > 2) return hln_fail(err, HLN_EPROTO, "Invalid BATCH message type %u", t);
    /* each query takes at least kind, an empty id and a value count */
    if ((size_t)n * 5 > hln_rd_left(r))
        return hln_fail(err, HLN_EPROTO, "Invalid BATCH message: %u statements do not fit", n);
    ex_batch_item *it = n ? hln_arena_alloc(a, (size_t)n * sizeof *it) : NULL;
    if (n && !it) return hln_fail(err, HLN_ENOMEM, "Out of memory decoding BATCH message");
    for (int i = 0; i < n; i++) {
        uint8_t kind = hln_rd_u8(r);
        if (r->err) return rd_fail(r, err, "BATCH");
        if (kind == 0) {
            it[i].cql = rd_long_string(r, a, &it[i].cqllen);
            if (!it[i].cql) return rd_fail(r, err, "BATCH");
        } else if (kind == 1) {
            uint16_t idlen = hln_rd_u16(r);
            it[i].id = hln_rd_take(r, idlen);
            if (!it[i].id) return rd_fail(r, err, "BATCH");
            it[i].idlen = idlen;
        } else {
            return hln_fail(err, HLN_EPROTO,
                            "Invalid query kind in BATCH messages. Must be 0 or 1 but got %u",
                            kind);
        }
        uint16_t nv = hln_rd_u16(r);
        if (r->err) return rd_fail(r, err, "BATCH");
        if ((size_t)nv * 4 > hln_rd_left(r))
            return hln_fail(err, HLN_EPROTO, "Invalid BATCH message: %u values do not fit", nv);
        if (nv) {
            it[i].values = hln_arena_alloc(a, (size_t)nv * sizeof *it[i].values);
            if (!it[i].values)
                return hln_fail(err, HLN_ENOMEM, "Out of memory decoding BATCH message");
        }
        for (int j = 0; j < nv; j++) {
            int32_t len = (int32_t)hln_rd_u32(r);
            if (r->err) return rd_fail(r, err, "BATCH");
            ex_value *v = &it[i].values[j];
            if (len >= 0) {
                v->p = hln_rd_take(r, (size_t)len);
                if (!v->p) return rd_fail(r, err, "BATCH");
                v->len = len;
            } else if (version < 4 || len == -1) {
                v->p = NULL;
                v->len = -1;
            } else if (len == -2) {
                v->p = NULL;
                v->len = -2;
            } else {
                return hln_fail(err, HLN_EPROTO, "Invalid ByteBuf length %" PRId32, len);
            }
        }
        it[i].nvalues = nv;
    }
    int rc = decode_params(r, version, a, p, "BATCH", err);
    if (rc) return rc;
    *type = t;
    *items = it;
    *nitems = n;
    return 0;
}
