/*
 * codec.c — the client side of the CQL native protocol v4 frame codec.
 *
 * What: encoders for the requests the client sends (OPTIONS, STARTUP,
 * QUERY, PREPARE, EXECUTE) and one decoder for every response body it can
 * receive (ERROR, READY, SUPPORTED, RESULT of each kind, AUTHENTICATE).
 * Pure functions over buffers: no sockets, so the unit tests can feed them
 * hand-built frames.
 *
 * Why decode into a cc_result with pointers into the body: the rows of a
 * response are read once, in the callback, straight from the read buffer;
 * copying 110 KB blobs or thousands of cells per response would make the
 * load generator measure its own memcpy. Only strings that need a NUL
 * (names, messages) and the cell/column arrays go into the result's arena,
 * which is reset, not freed, between responses.
 *
 * Invariants:
 *  1. The decoder reads only within the h->len bytes it was given (hln_rd);
 *     any short or inconsistent field yields HLN_EPROTO and a result of
 *     kind CC_RES_ERROR whose message names the field.
 *  2. Counts from the wire are checked against the bytes left before any
 *     allocation sized by them (a hostile count cannot make us allocate
 *     more than the frame could describe).
 *  3. Encoders write a header with a zero length, append the body, then
 *     patch the length: one pass, no size precomputation.
 */
#include <stdio.h>
#include <string.h>

#include "client/clientInt.h"

/* ---- frame header ------------------------------------------------------ */

void cc_frame_header(const uint8_t *p, cc_frame_hdr *h)
{
    h->version = p[0];
    h->flags = p[1];
    h->stream = (int16_t)(uint16_t)(p[2] << 8 | p[3]);
    h->opcode = p[4];
    h->len = (uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
}

static size_t frame_begin(hln_buf *b, int16_t stream, uint8_t opcode)
{
    size_t start = b->len;
    hln_buf_u8(b, CC_VERSION);
    hln_buf_u8(b, 0);
    hln_buf_u16(b, (uint16_t)stream);
    hln_buf_u8(b, opcode);
    hln_buf_u32(b, 0);
    return start;
}

static void frame_end(hln_buf *b, size_t start)
{
    if (b->err) return;
    hln_buf_patch_u32(b, start + 5, (uint32_t)(b->len - start - CC_HDR_LEN));
}

/* ---- requests ------------------------------------------------------------ */

void cc_enc_options(hln_buf *b, int16_t stream)
{
    frame_end(b, frame_begin(b, stream, CC_OP_OPTIONS));
}

void cc_enc_startup(hln_buf *b, int16_t stream)
{
    size_t s = frame_begin(b, stream, CC_OP_STARTUP);
    hln_buf_u16(b, 1); /* [string map] with one entry */
    hln_buf_string(b, "CQL_VERSION");
    hln_buf_string(b, "3.0.0");
    frame_end(b, s);
}

/* <consistency><flags>[values][page_size][paging_state][serial][timestamp] */
static void query_params(hln_buf *b, bool skip_meta, const hln_bytes *vals, int n,
                         const cc_params *p)
{
    cc_params def;
    if (!p) {
        cc_params_init(&def);
        p = &def;
    }
    uint8_t flags = 0;
    if (n > 0) flags |= 0x01;
    if (skip_meta) flags |= 0x02;
    if (p->page_size > 0) flags |= 0x04;
    if (p->paging_state) flags |= 0x08;
    if (p->serial_consistency) flags |= 0x10;
    if (p->has_timestamp) flags |= 0x20;
    hln_buf_u16(b, p->consistency);
    hln_buf_u8(b, flags);
    if (n > 0) {
        hln_buf_u16(b, (uint16_t)n);
        for (int i = 0; i < n; i++)
            hln_buf_bytes(b, vals[i].p, vals[i].len < -2 ? -1 : vals[i].len);
    }
    if (p->page_size > 0) hln_buf_u32(b, (uint32_t)p->page_size);
    if (p->paging_state) hln_buf_bytes(b, p->paging_state, p->paging_state_len);
    if (p->serial_consistency) hln_buf_u16(b, p->serial_consistency);
    if (p->has_timestamp) hln_buf_u64(b, (uint64_t)p->timestamp);
}

void cc_enc_query(hln_buf *b, int16_t stream, const char *cql, const hln_bytes *vals, int n,
                  const cc_params *p)
{
    size_t s = frame_begin(b, stream, CC_OP_QUERY);
    hln_buf_long_string(b, cql, strlen(cql));
    query_params(b, false, vals, n, p);
    frame_end(b, s);
}

void cc_enc_prepare(hln_buf *b, int16_t stream, const char *cql)
{
    size_t s = frame_begin(b, stream, CC_OP_PREPARE);
    hln_buf_long_string(b, cql, strlen(cql));
    frame_end(b, s);
}

void cc_enc_execute(hln_buf *b, int16_t stream, const uint8_t *id, int32_t idlen, bool skip_meta,
                    const hln_bytes *vals, int n, const cc_params *p)
{
    size_t s = frame_begin(b, stream, CC_OP_EXECUTE);
    hln_buf_u16(b, (uint16_t)idlen);
    hln_buf_put(b, id, (size_t)idlen);
    query_params(b, skip_meta, vals, n, p);
    frame_end(b, s);
}

void cc_params_init(cc_params *p)
{
    memset(p, 0, sizeof *p);
    p->consistency = CC_ONE;
}

/* ---- results: lifecycle ------------------------------------------------- */

static void result_zero_public(cc_result *r)
{
    hln_arena a = r->arena_;
    uint8_t *body = r->body_;
    bool taken = r->taken_;
    memset(r, 0, sizeof *r);
    r->arena_ = a;
    r->body_ = body;
    r->taken_ = taken;
    r->message = "";
}

void cc_result_init(cc_result *r)
{
    memset(r, 0, sizeof *r);
    hln_arena_init(&r->arena_, 4096);
    r->message = "";
}

void cc_result_clear(cc_result *r)
{
    hln_arena_reset(&r->arena_);
    hln_free(r->body_);
    r->body_ = NULL;
    result_zero_public(r);
}

void cc_result_fini(cc_result *r)
{
    hln_arena_free(&r->arena_);
    hln_free(r->body_);
    r->body_ = NULL;
}

void cc_result_set_error(cc_result *r, int32_t code, const char *msg)
{
    r->kind = CC_RES_ERROR;
    r->code = code;
    char *m = hln_arena_strdup(&r->arena_, msg ? msg : cc_strerror(code));
    r->message = m ? m : "out of memory";
}

/* ---- decoding helpers ----------------------------------------------------- */

typedef struct dec {
    hln_rd rd;
    hln_arena *a;
    const char *what; /* the first field that failed, for the message */
    int depth;
} dec;

static void bad(dec *d, const char *what)
{
    if (!d->what) d->what = what;
    if (!d->rd.err) d->rd.err = HLN_EPROTO;
}

static const char *dstring(dec *d)
{
    uint16_t n = hln_rd_u16(&d->rd);
    const uint8_t *p = hln_rd_take(&d->rd, n);
    if (!p) {
        bad(d, "string");
        return "";
    }
    char *s = hln_arena_strndup(d->a, (const char *)p, n);
    if (!s) {
        bad(d, "out of memory");
        return "";
    }
    return s;
}

static int32_t dint(dec *d)
{
    return (int32_t)hln_rd_u32(&d->rd);
}

/* Checks that count items of at least `min` bytes each can fit in what is left. */
static bool count_ok(dec *d, int64_t count, size_t min, const char *what)
{
    if (count < 0 || (min && (uint64_t)count > hln_rd_left(&d->rd) / min)) {
        bad(d, what);
        return false;
    }
    return true;
}

static void dtype(dec *d, cc_type *t)
{
    memset(t, 0, sizeof *t);
    if (++d->depth > 32) {
        bad(d, "type nesting too deep");
        d->depth--;
        return;
    }
    t->id = hln_rd_u16(&d->rd);
    switch (t->id) {
    case CC_T_CUSTOM:
        t->custom = dstring(d);
        break;
    case CC_T_LIST:
    case CC_T_SET:
    case CC_T_MAP: {
        int n = t->id == CC_T_MAP ? 2 : 1;
        cc_type *sub = hln_arena_alloc(d->a, sizeof *sub * (size_t)n);
        if (!sub) {
            bad(d, "out of memory");
            break;
        }
        for (int i = 0; i < n; i++)
            dtype(d, &sub[i]);
        t->sub = sub;
        t->nsub = (uint16_t)n;
        break;
    }
    case CC_T_UDT: {
        const char *ks = dstring(d);
        const char *name = dstring(d);
        size_t kl = strlen(ks), nl = strlen(name);
        char *full = hln_arena_alloc(d->a, kl + nl + 2);
        if (!full) {
            bad(d, "out of memory");
            break;
        }
        memcpy(full, ks, kl);
        full[kl] = '.';
        memcpy(full + kl + 1, name, nl + 1);
        t->custom = full;
        uint16_t n = hln_rd_u16(&d->rd);
        if (!count_ok(d, n, 4, "udt field count")) break;
        cc_type *sub = hln_arena_alloc(d->a, sizeof *sub * (n ? n : 1));
        const char **names = hln_arena_alloc(d->a, sizeof *names * (n ? n : 1));
        if (!sub || !names) {
            bad(d, "out of memory");
            break;
        }
        for (uint16_t i = 0; i < n && !d->rd.err; i++) {
            names[i] = dstring(d);
            dtype(d, &sub[i]);
        }
        t->sub = sub;
        t->field_names = names;
        t->nsub = n;
        break;
    }
    case CC_T_TUPLE: {
        uint16_t n = hln_rd_u16(&d->rd);
        if (!count_ok(d, n, 2, "tuple size")) break;
        cc_type *sub = hln_arena_alloc(d->a, sizeof *sub * (n ? n : 1));
        if (!sub) {
            bad(d, "out of memory");
            break;
        }
        for (uint16_t i = 0; i < n && !d->rd.err; i++)
            dtype(d, &sub[i]);
        t->sub = sub;
        t->nsub = n;
        break;
    }
    default:
        if (t->id > CC_T_DURATION) bad(d, "unknown type id");
        break;
    }
    d->depth--;
}

/* Rows metadata (and prepared result metadata). with_pk: the v4 prepared
 * bind metadata, which carries pk_count and pk_index after columns_count. */
static void dmeta(dec *d, cc_meta *m, bool with_pk, int32_t *pk_count, const uint16_t **pk_index)
{
    memset(m, 0, sizeof *m);
    m->flags = dint(d);
    m->ncols = dint(d);
    if (!count_ok(d, m->ncols, 0, "column count")) return;
    if (with_pk) {
        int32_t pkc = dint(d);
        if (!count_ok(d, pkc, 2, "pk count")) return;
        uint16_t *pki = hln_arena_alloc(d->a, sizeof *pki * (size_t)(pkc ? pkc : 1));
        if (!pki) {
            bad(d, "out of memory");
            return;
        }
        for (int32_t i = 0; i < pkc; i++)
            pki[i] = hln_rd_u16(&d->rd);
        *pk_count = pkc;
        *pk_index = pki;
    }
    if (m->flags & 0x02) {
        int32_t n = dint(d);
        if (n >= 0) {
            m->paging_state = hln_rd_take(&d->rd, (size_t)n);
            m->paging_state_len = n;
            if (!m->paging_state) bad(d, "paging state");
        }
    }
    if (m->flags & 0x04) return; /* No_metadata: only the count */
    const char *gks = NULL, *gtable = NULL;
    if (m->flags & 0x01) {
        gks = dstring(d);
        gtable = dstring(d);
    }
    /* each column spec is at least a 2-byte name and a 2-byte type */
    if (!count_ok(d, m->ncols, 4, "column count")) return;
    cc_column *cols = hln_arena_alloc(d->a, sizeof *cols * (size_t)(m->ncols ? m->ncols : 1));
    if (!cols) {
        bad(d, "out of memory");
        return;
    }
    for (int32_t i = 0; i < m->ncols && !d->rd.err; i++) {
        if (gks) {
            cols[i].keyspace = gks;
            cols[i].table = gtable;
        } else {
            cols[i].keyspace = dstring(d);
            cols[i].table = dstring(d);
        }
        cols[i].name = dstring(d);
        dtype(d, &cols[i].type);
    }
    m->cols = cols;
}

static void drows(dec *d, cc_result *r, const cc_meta *result_meta)
{
    dmeta(d, &r->meta, false, NULL, NULL);
    if (d->rd.err) return;
    if (!r->meta.cols && result_meta && result_meta->cols && result_meta->ncols == r->meta.ncols)
        r->meta.cols = result_meta->cols;
    r->nrows = dint(d);
    int64_t ncells = (int64_t)r->nrows * r->meta.ncols;
    if (!count_ok(d, r->nrows, 0, "row count") || !count_ok(d, ncells, 4, "row count")) return;
    hln_bytes *cells = hln_arena_alloc(d->a, sizeof *cells * (size_t)(ncells ? ncells : 1));
    if (!cells) {
        bad(d, "out of memory");
        return;
    }
    for (int64_t i = 0; i < ncells; i++) {
        int32_t n = dint(d);
        cells[i].len = n < 0 ? -1 : n;
        cells[i].p = n > 0 ? hln_rd_take(&d->rd, (size_t)n) : NULL;
        if (n > 0 && !cells[i].p) {
            bad(d, "cell value");
            return;
        }
    }
    r->cells = cells;
}

static void dresult(dec *d, cc_result *r, const cc_meta *result_meta)
{
    int32_t kind = dint(d);
    switch (kind) {
    case CC_RES_VOID:
        r->kind = CC_RES_VOID;
        break;
    case CC_RES_ROWS:
        r->kind = CC_RES_ROWS;
        drows(d, r, result_meta);
        break;
    case CC_RES_SET_KEYSPACE:
        r->kind = CC_RES_SET_KEYSPACE;
        r->keyspace = dstring(d);
        break;
    case CC_RES_PREPARED: {
        r->kind = CC_RES_PREPARED;
        uint16_t n = hln_rd_u16(&d->rd);
        r->prepared_id = hln_rd_take(&d->rd, n);
        r->prepared_id_len = n;
        if (!r->prepared_id) {
            bad(d, "prepared id");
            break;
        }
        dmeta(d, &r->bind, true, &r->pk_count, &r->pk_index);
        if (!d->rd.err) dmeta(d, &r->meta, false, NULL, NULL);
        break;
    }
    case CC_RES_SCHEMA_CHANGE:
        r->kind = CC_RES_SCHEMA_CHANGE;
        r->change = dstring(d);
        r->target = dstring(d);
        r->keyspace = dstring(d);
        r->name = strcmp(r->target, "KEYSPACE") == 0 ? "" : dstring(d);
        /* FUNCTION/AGGREGATE also carry argument types: not needed here */
        break;
    default:
        bad(d, "unknown result kind");
        break;
    }
}

int cc_decode_response(const cc_frame_hdr *h, const uint8_t *body, const cc_meta *result_meta,
                       cc_result *r)
{
    dec d = {.a = &r->arena_};
    hln_rd_init(&d.rd, body, h->len);
    r->body_len = h->len;
    r->raw_ = body;
    r->rmeta_ = result_meta;
    r->hdr_[0] = h->version;
    r->hdr_[1] = h->flags;
    r->hdr_[2] = h->opcode;
    r->message = "";
    if (!(h->version & 0x80) || (h->version & 0x7F) != CC_VERSION) {
        cc_result_set_error(r, HLN_EPROTO, "response frame with an unexpected version byte");
        return HLN_EPROTO;
    }
    if (h->flags & CC_FL_COMPRESSION) {
        cc_result_set_error(r, HLN_EPROTO, "compressed response, but no compression was asked for");
        return HLN_EPROTO;
    }
    if (h->flags & CC_FL_TRACING) hln_rd_take(&d.rd, 16);
    if (h->flags & CC_FL_WARNING) {
        uint16_t n = hln_rd_u16(&d.rd);
        if (count_ok(&d, n, 2, "warning count")) {
            const char **w = hln_arena_alloc(d.a, sizeof *w * (n ? n : 1));
            if (!w) bad(&d, "out of memory");
            for (uint16_t i = 0; w && i < n && !d.rd.err; i++)
                w[i] = dstring(&d);
            r->warnings = w;
            r->nwarnings = n;
        }
    }
    if (h->flags & CC_FL_PAYLOAD) { /* [bytes map]: skipped */
        uint16_t n = hln_rd_u16(&d.rd);
        for (uint16_t i = 0; i < n && !d.rd.err; i++) {
            hln_rd_take(&d.rd, hln_rd_u16(&d.rd));
            int32_t l = dint(&d);
            if (l > 0) hln_rd_take(&d.rd, (size_t)l);
        }
    }
    switch (h->opcode) {
    case CC_OP_ERROR:
        r->kind = CC_RES_ERROR;
        r->code = dint(&d);
        r->message = dstring(&d);
        /* code-specific extra fields are not needed by callers today */
        break;
    case CC_OP_READY:
        r->kind = CC_RES_READY;
        break;
    case CC_OP_SUPPORTED:
        r->kind = CC_RES_SUPPORTED;
        break;
    case CC_OP_AUTHENTICATE:
        r->kind = CC_RES_OTHER;
        r->message = dstring(&d); /* the authenticator class */
        break;
    case CC_OP_RESULT:
        dresult(&d, r, result_meta);
        break;
    default:
        r->kind = CC_RES_OTHER;
        break;
    }
    if (d.rd.err) {
        char msg[160];
        snprintf(msg, sizeof msg, "malformed response (opcode 0x%02X): bad %s", h->opcode,
                 d.what ? d.what : "length");
        hln_arena_reset(&r->arena_);
        result_zero_public(r);
        r->body_len = h->len;
        r->hdr_[2] = h->opcode;
        cc_result_set_error(r, HLN_EPROTO, msg);
        return HLN_EPROTO;
    }
    return 0;
}

/* ---- deep copies ---------------------------------------------------------- */

static int type_copy(hln_arena *a, cc_type *dst, const cc_type *src)
{
    *dst = *src;
    if (src->custom && !(dst->custom = hln_arena_strdup(a, src->custom))) return HLN_ENOMEM;
    if (src->nsub) {
        cc_type *sub = hln_arena_alloc(a, sizeof *sub * src->nsub);
        if (!sub) return HLN_ENOMEM;
        for (uint16_t i = 0; i < src->nsub; i++)
            if (type_copy(a, &sub[i], &src->sub[i])) return HLN_ENOMEM;
        dst->sub = sub;
    }
    if (src->field_names) {
        const char **names = hln_arena_alloc(a, sizeof *names * (src->nsub ? src->nsub : 1));
        if (!names) return HLN_ENOMEM;
        for (uint16_t i = 0; i < src->nsub; i++)
            if (!(names[i] = hln_arena_strdup(a, src->field_names[i]))) return HLN_ENOMEM;
        dst->field_names = names;
    }
    return 0;
}

int cc_meta_copy(hln_arena *a, cc_meta *dst, const cc_meta *src)
{
    *dst = *src;
    if (src->paging_state && src->paging_state_len > 0 &&
        !(dst->paging_state =
              hln_arena_memdup(a, src->paging_state, (size_t)src->paging_state_len)))
        return HLN_ENOMEM;
    if (!src->cols) return 0;
    cc_column *cols = hln_arena_alloc(a, sizeof *cols * (size_t)(src->ncols ? src->ncols : 1));
    if (!cols) return HLN_ENOMEM;
    for (int32_t i = 0; i < src->ncols; i++) {
        const cc_column *s = &src->cols[i];
        if (!(cols[i].keyspace = hln_arena_strdup(a, s->keyspace)) ||
            !(cols[i].table = hln_arena_strdup(a, s->table)) ||
            !(cols[i].name = hln_arena_strdup(a, s->name)) || type_copy(a, &cols[i].type, &s->type))
            return HLN_ENOMEM;
    }
    dst->cols = cols;
    return 0;
}

/* ---- value helpers ---------------------------------------------------------- */

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int32_t cc_get_int(hln_bytes v)
{
    return v.len >= 4 ? (int32_t)(uint32_t)be(v.p, 4) : 0;
}
int64_t cc_get_bigint(hln_bytes v)
{
    return v.len >= 8 ? (int64_t)be(v.p, 8) : 0;
}

float cc_get_float(hln_bytes v)
{
    uint32_t u = v.len >= 4 ? (uint32_t)be(v.p, 4) : 0;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double cc_get_double(hln_bytes v)
{
    uint64_t u = v.len >= 8 ? be(v.p, 8) : 0;
    double f;
    memcpy(&f, &u, 8);
    return f;
}

void cc_put_int(uint8_t out[4], int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 3; i >= 0; i--, u >>= 8)
        out[i] = (uint8_t)u;
}

void cc_put_bigint(uint8_t out[8], int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        out[i] = (uint8_t)u;
}

void cc_put_float(uint8_t out[4], float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    cc_put_int(out, (int32_t)u);
}

void cc_put_double(uint8_t out[8], double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    cc_put_bigint(out, (int64_t)u);
}

const char *cc_strerror(int code)
{
    switch (code) {
    case CC_ETIMEDOUT:
        return "request timed out";
    case CC_ECLOSED:
        return "connection closed";
    case CC_EHANDSHAKE:
        return "handshake failed";
    default:
        return hln_strerror(code);
    }
}
