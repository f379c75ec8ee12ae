/*
 * mutation.c — the serialised form of a mutation, of a batch of mutations,
 * of one row and of one range tombstone.
 *
 * What: st_mutation_encode/decode (the commitlog record body, and the
 * message a mutation travels in between shards and, later, nodes),
 * st_batch_encode/decode (several mutations as one record: the body
 * st_apply_batch logs, so a batch replays all or nothing), and the row and
 * range tombstone codecs, st_row_encode/decode and st_rt_encode/decode,
 * which the sstable data blocks and index reuse unchanged. The byte layout
 * is in docs/formats/mutation.md.
 *
 * Why one row codec: a row means the same thing in the commitlog, in a
 * message and in an sstable; one encoder and one bounds-checked decoder is
 * one place to get right and to fuzz.
 *
 * Versions: the first byte of a record is its version (storageInt.h): 1
 * and 2 (mutation, batch) are the records without cell paths, column
 * deletions and expiring markers, read with row format 1, where those flag
 * bits are corruption; 3 and 4 are written and carry them (row format 2).
 * A byte above 4 is HLN_EUNSUPPORTED, so a newer build's record is
 * reported as such, never misread.
 *
 * Invariants:
 *  1. decode(encode(m)) == m field for field (values are not copied: the
 *     decoded pointers point into the input).
 *  2. The decoder never reads past its input (hln_rd), never allocates more
 *     than the input could describe (counts are checked against the bytes
 *     left before allocating), and rejects unknown flag bits with
 *     HLN_ECORRUPT, so a corrupt record cannot crash or exhaust memory.
 *  3. The decoder does not require rows sorted by ck nor cells by col_id:
 *     a record that was accepted into the commitlog must always replay. The
 *     memtable sorts and deduplicates on insert.
 */
#include <string.h>

#include "storage/storageInt.h"

enum {
    MUT_F_PDEL = 0x01,
    MUT_F_RTS = 0x02,
    MIN_RT_BYTES = 12,       /* two (vint len + flag) bounds + ts */
    MIN_MUTATION_BYTES = 28, /* version, id, token, vint pklen, flags, vint nrows */
    ROW_F_MARKER = 0x01,
    ROW_F_DEL = 0x02,
    ROW_F_MARKER_EXPIRING = 0x04, /* ST_ROWFMT_2: ttl and expiry follow the marker ts */
    CELL_F_TOMB = 0x01,
    CELL_F_EXPIRING = 0x02,
    CELL_F_PATH = 0x04,   /* ST_ROWFMT_2: vint pathlen + path bytes */
    CELL_F_COLDEL = 0x08, /* ST_ROWFMT_2: a column deletion: no ttl, path nor value */
    MIN_CELL_BYTES = 10,  /* vint col + flags + ts */
    MIN_CELL_BYTES3 = 3,  /* ST_ROWFMT_3: vint col + flags + vint ts delta */
    MIN_ROW_BYTES = 3,    /* vint cklen + flags + vint ncells */
};

static void put_i64(hln_buf *b, int64_t v)
{
    hln_buf_u64(b, (uint64_t)v);
}
static int64_t get_i64(hln_rd *r)
{
    return (int64_t)hln_rd_u64(r);
}

/* ---- the timestamp coding of ST_ROWFMT_3 --------------------------------------
 * Fields go through a `coder`: format 2 writes i64/u32 as they are, format 3
 * a zigzag vint of the difference from the previous value of its kind (all
 * arithmetic modulo 2^64, so every value round-trips) and ttls as vints. A
 * row's cells almost always share one timestamp, and neighbouring rows were
 * written microseconds apart: 1-3 bytes instead of 8. */
static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t z)
{
    return (int64_t)((z >> 1) ^ (~(z & 1) + 1));
}

static void put_delta(hln_buf *b, int64_t v, int64_t *prev)
{
    hln_buf_vint(b, zigzag((int64_t)((uint64_t)v - (uint64_t)*prev)));
    *prev = v;
}

static int64_t get_delta(hln_rd *r, int64_t *prev)
{
    int64_t v = (int64_t)((uint64_t)*prev + (uint64_t)unzigzag(hln_rd_vint(r)));
    *prev = v;
    return v;
}

static void put_ts(hln_buf *b, int64_t v, st_rowctx *ctx)
{
    if (ctx)
        put_delta(b, v, &ctx->ts);
    else
        put_i64(b, v);
}

static void put_exp(hln_buf *b, int32_t ttl, int64_t exp, st_rowctx *ctx)
{
    if (ctx) {
        hln_buf_vint(b, (uint32_t)ttl);
        put_delta(b, exp, &ctx->exp);
    } else {
        hln_buf_u32(b, (uint32_t)ttl);
        put_i64(b, exp);
    }
}

static int64_t get_ts(hln_rd *r, st_rowctx *ctx)
{
    return ctx ? get_delta(r, &ctx->ts) : get_i64(r);
}

static void get_exp(hln_rd *r, int32_t *ttl, int64_t *exp, st_rowctx *ctx)
{
    if (ctx) {
        uint64_t t = hln_rd_vint(r);
        if (t > UINT32_MAX) r->err = HLN_ECORRUPT;
        *ttl = (int32_t)(uint32_t)t;
        *exp = get_delta(r, &ctx->exp);
    } else {
        *ttl = (int32_t)hln_rd_u32(r);
        *exp = get_i64(r);
    }
}

static void row_encode(const st_row *row, hln_buf *out, st_rowctx *ctx);

void st_row_encode(const st_row *row, hln_buf *out)
{
    row_encode(row, out, NULL);
}

void st_row_encode3(const st_row *row, hln_buf *out, st_rowctx *ctx)
{
    row_encode(row, out, ctx);
}

static void row_encode(const st_row *row, hln_buf *out, st_rowctx *ctx)
{
    hln_buf_vint(out, row->cklen);
    if (row->cklen) hln_buf_put(out, row->ck, row->cklen);
    uint8_t flags = 0;
    if (row->marker_ts != HLN_TS_NONE) {
        flags |= ROW_F_MARKER;
        if (row->marker_ttl != 0 || row->marker_expires != 0) flags |= ROW_F_MARKER_EXPIRING;
    }
    if (row->del_ts != HLN_TS_NONE) flags |= ROW_F_DEL;
    hln_buf_u8(out, flags);
    if (flags & ROW_F_MARKER) put_ts(out, row->marker_ts, ctx);
    if (flags & ROW_F_MARKER_EXPIRING) put_exp(out, row->marker_ttl, row->marker_expires, ctx);
    if (flags & ROW_F_DEL) put_ts(out, row->del_ts, ctx);
    hln_buf_vint(out, row->ncells);
    for (uint32_t i = 0; i < row->ncells; i++) {
        const st_cell *c = &row->cells[i];
        uint8_t cf = 0;
        if (c->flags & ST_CELL_COLDEL) {
            cf = CELL_F_COLDEL;
        } else {
            if (c->flags & ST_CELL_TOMBSTONE) cf |= CELL_F_TOMB;
            if (c->ttl != 0 || c->expires != 0) cf |= CELL_F_EXPIRING;
            if (c->pathlen) cf |= CELL_F_PATH;
        }
        hln_buf_vint(out, c->col_id);
        hln_buf_u8(out, cf);
        put_ts(out, c->ts, ctx);
        if (cf & CELL_F_EXPIRING) put_exp(out, c->ttl, c->expires, ctx);
        if (cf & CELL_F_PATH) {
            hln_buf_vint(out, c->pathlen);
            hln_buf_put(out, c->path, c->pathlen);
        }
        if (!(cf & (CELL_F_TOMB | CELL_F_COLDEL))) {
            hln_buf_vint(out, c->len);
            if (c->len) hln_buf_put(out, c->val, c->len);
        }
    }
}

static int cell_decode(hln_rd *r, st_cell *c, int rowfmt, st_rowctx *ctx)
{
    uint8_t known = CELL_F_TOMB | CELL_F_EXPIRING;
    if (rowfmt >= ST_ROWFMT_2) known |= CELL_F_PATH | CELL_F_COLDEL;
    uint64_t col = hln_rd_vint(r);
    uint8_t cf = hln_rd_u8(r);
    if (r->err || col > UINT32_MAX || (cf & ~known)) return HLN_ECORRUPT;
    /* a column deletion is only that: no tombstone, ttl, path or value */
    if ((cf & CELL_F_COLDEL) && cf != CELL_F_COLDEL) return HLN_ECORRUPT;
    c->col_id = (uint32_t)col;
    c->flags = (cf & CELL_F_COLDEL) ? ST_CELL_COLDEL : (cf & CELL_F_TOMB) ? ST_CELL_TOMBSTONE : 0;
    c->ts = get_ts(r, ctx);
    if (cf & CELL_F_EXPIRING) get_exp(r, &c->ttl, &c->expires, ctx);
    if (cf & CELL_F_PATH) {
        uint64_t plen = hln_rd_vint(r);
        if (r->err || plen == 0 || plen > hln_rd_left(r)) return HLN_ECORRUPT;
        c->pathlen = (uint32_t)plen;
        c->path = hln_rd_take(r, (size_t)plen);
    }
    if (!(cf & (CELL_F_TOMB | CELL_F_COLDEL))) {
        uint64_t len = hln_rd_vint(r);
        if (r->err || len > hln_rd_left(r)) return HLN_ECORRUPT;
        c->len = (uint32_t)len;
        c->val = len ? hln_rd_take(r, (size_t)len) : NULL;
    }
    return r->err ? HLN_ECORRUPT : 0;
}

static int row_decode(hln_rd *r, hln_arena *a, st_row *row, int rowfmt, st_rowctx *ctx);

int st_row_decode(hln_rd *r, hln_arena *a, st_row *row, int rowfmt)
{
    return row_decode(r, a, row, rowfmt == ST_ROWFMT_3 ? ST_ROWFMT_2 : rowfmt, NULL);
}

int st_row_decode3(hln_rd *r, hln_arena *a, st_row *row, st_rowctx *ctx)
{
    return row_decode(r, a, row, ST_ROWFMT_3, ctx);
}

static int row_decode(hln_rd *r, hln_arena *a, st_row *row, int rowfmt, st_rowctx *ctx)
{
    memset(row, 0, sizeof(*row));
    uint64_t cklen = hln_rd_vint(r);
    if (r->err || cklen > hln_rd_left(r)) return HLN_ECORRUPT;
    row->cklen = (uint32_t)cklen;
    row->ck = cklen ? hln_rd_take(r, (size_t)cklen) : NULL;
    uint8_t known = ROW_F_MARKER | ROW_F_DEL;
    if (rowfmt >= ST_ROWFMT_2) known |= ROW_F_MARKER_EXPIRING;
    uint8_t flags = hln_rd_u8(r);
    if (r->err || (flags & ~known)) return HLN_ECORRUPT;
    if ((flags & ROW_F_MARKER_EXPIRING) && !(flags & ROW_F_MARKER)) return HLN_ECORRUPT;
    row->marker_ts = (flags & ROW_F_MARKER) ? get_ts(r, ctx) : HLN_TS_NONE;
    if (flags & ROW_F_MARKER_EXPIRING) get_exp(r, &row->marker_ttl, &row->marker_expires, ctx);
    row->del_ts = (flags & ROW_F_DEL) ? get_ts(r, ctx) : HLN_TS_NONE;
    uint64_t ncells = hln_rd_vint(r);
    if (r->err || ncells > hln_rd_left(r) / (ctx ? MIN_CELL_BYTES3 : MIN_CELL_BYTES))
        return HLN_ECORRUPT;
    row->ncells = (uint32_t)ncells;
    if (ncells == 0) return 0;
    row->cells = hln_arena_alloc(a, (size_t)ncells * sizeof(st_cell));
    if (!row->cells) return HLN_ENOMEM;
    memset(row->cells, 0, (size_t)ncells * sizeof(st_cell));
    for (uint32_t i = 0; i < row->ncells; i++)
        if (cell_decode(r, &row->cells[i], rowfmt, ctx)) return HLN_ECORRUPT;
    return r->err ? HLN_ECORRUPT : 0;
}

void st_rt_encode(const st_range_tomb *rt, hln_buf *out)
{
    hln_buf_vint(out, rt->start.len);
    if (rt->start.len) hln_buf_put(out, rt->start.key, rt->start.len);
    hln_buf_u8(out, rt->start.inclusive ? 1 : 0);
    hln_buf_vint(out, rt->end.len);
    if (rt->end.len) hln_buf_put(out, rt->end.key, rt->end.len);
    hln_buf_u8(out, rt->end.inclusive ? 1 : 0);
    put_i64(out, rt->ts);
}

static int bound_decode(hln_rd *r, st_bound *b)
{
    static const uint8_t empty[1];
    uint64_t len = hln_rd_vint(r);
    if (r->err || len > hln_rd_left(r)) return HLN_ECORRUPT;
    b->len = (uint32_t)len;
    b->key = len ? hln_rd_take(r, (size_t)len) : empty;
    uint8_t incl = hln_rd_u8(r);
    if (r->err || incl > 1) return HLN_ECORRUPT;
    b->inclusive = incl == 1;
    return 0;
}

int st_rt_decode(hln_rd *r, st_range_tomb *rt)
{
    memset(rt, 0, sizeof(*rt));
    if (bound_decode(r, &rt->start) || bound_decode(r, &rt->end)) return HLN_ECORRUPT;
    rt->ts = get_i64(r);
    if (r->err || rt->ts == HLN_TS_NONE) return HLN_ECORRUPT;
    return 0;
}

void st_mutation_encode(const st_mutation *m, hln_buf *out)
{
    hln_buf_u8(out, ST_MUT_VERSION);
    hln_buf_put(out, m->table_id, 16);
    put_i64(out, m->token);
    hln_buf_vint(out, m->pklen);
    if (m->pklen) hln_buf_put(out, m->pk, m->pklen);
    uint8_t flags = m->pdel_ts != HLN_TS_NONE ? MUT_F_PDEL : 0;
    if (m->nrts) flags |= MUT_F_RTS;
    hln_buf_u8(out, flags);
    if (flags & MUT_F_PDEL) put_i64(out, m->pdel_ts);
    if (flags & MUT_F_RTS) {
        hln_buf_vint(out, m->nrts);
        for (uint32_t i = 0; i < m->nrts; i++)
            st_rt_encode(&m->rts[i], out);
    }
    hln_buf_vint(out, m->nrows);
    for (uint32_t i = 0; i < m->nrows; i++)
        st_row_encode(&m->rows[i], out);
}

/* A version byte newer than every record this build knows. */
static bool version_is_newer(uint8_t v)
{
    return v > ST_BATCH_VERSION;
}

/* Decodes a mutation whose version byte must be one of want (a batch's
 * members have their batch's generation). */
static int mutation_decode(hln_rd *r, hln_arena *a, st_mutation *m, uint8_t want1, uint8_t want2)
{
    memset(m, 0, sizeof(*m));
    uint8_t version = hln_rd_u8(r);
    if (r->err) return HLN_ECORRUPT;
    if (version_is_newer(version)) return HLN_EUNSUPPORTED;
    if (version != want1 && version != want2) return HLN_ECORRUPT;
    int rowfmt = version == ST_MUT_VERSION_1 ? ST_ROWFMT_1 : ST_ROWFMT_2;
    const uint8_t *id = hln_rd_take(r, 16);
    if (!id) return HLN_ECORRUPT;
    memcpy(m->table_id, id, 16);
    m->token = get_i64(r);
    uint64_t pklen = hln_rd_vint(r);
    if (r->err || pklen > hln_rd_left(r)) return HLN_ECORRUPT;
    m->pklen = (uint32_t)pklen;
    m->pk = pklen ? hln_rd_take(r, (size_t)pklen) : NULL;
    uint8_t flags = hln_rd_u8(r);
    if (r->err || (flags & ~(MUT_F_PDEL | MUT_F_RTS))) return HLN_ECORRUPT;
    m->pdel_ts = (flags & MUT_F_PDEL) ? get_i64(r) : HLN_TS_NONE;
    if (flags & MUT_F_RTS) {
        uint64_t nrts = hln_rd_vint(r);
        if (r->err || nrts == 0 || nrts > hln_rd_left(r) / MIN_RT_BYTES) return HLN_ECORRUPT;
        m->rts = hln_arena_alloc(a, (size_t)nrts * sizeof(st_range_tomb));
        if (!m->rts) return HLN_ENOMEM;
        m->nrts = (uint32_t)nrts;
        for (uint32_t i = 0; i < m->nrts; i++)
            if (st_rt_decode(r, &m->rts[i])) return HLN_ECORRUPT;
    }
    uint64_t nrows = hln_rd_vint(r);
    if (r->err || nrows > hln_rd_left(r) / MIN_ROW_BYTES) return HLN_ECORRUPT;
    m->nrows = (uint32_t)nrows;
    if (nrows) {
        m->rows = hln_arena_alloc(a, (size_t)nrows * sizeof(st_row));
        if (!m->rows) return HLN_ENOMEM;
        for (uint32_t i = 0; i < m->nrows; i++) {
            int rc = st_row_decode(r, a, &m->rows[i], rowfmt);
            if (rc < 0) return rc;
        }
    }
    return r->err ? HLN_ECORRUPT : 0;
}

int st_mutation_decode(hln_rd *r, hln_arena *a, st_mutation *m)
{
    return mutation_decode(r, a, m, ST_MUT_VERSION_1, ST_MUT_VERSION);
}

void st_batch_encode(const st_mutation *ms, uint32_t n, hln_buf *out)
{
    hln_buf_u8(out, ST_BATCH_VERSION);
    hln_buf_vint(out, n);
    for (uint32_t i = 0; i < n; i++)
        st_mutation_encode(&ms[i], out);
}

int st_batch_decode(hln_rd *r, hln_arena *a, st_mutation **ms, uint32_t *n)
{
    *ms = NULL;
    *n = 0;
    uint8_t version = hln_rd_u8(r);
    if (r->err) return HLN_ECORRUPT;
    if (version_is_newer(version)) return HLN_EUNSUPPORTED;
    if (version != ST_BATCH_VERSION_2 && version != ST_BATCH_VERSION) return HLN_ECORRUPT;
    /* a version 2 batch holds version 1 mutations, a version 4 one version 3 */
    uint8_t member = version == ST_BATCH_VERSION_2 ? ST_MUT_VERSION_1 : ST_MUT_VERSION;
    uint64_t cnt = hln_rd_vint(r);
    if (r->err || cnt > hln_rd_left(r) / MIN_MUTATION_BYTES) return HLN_ECORRUPT;
    if (cnt == 0) return 0;
    st_mutation *v = hln_arena_alloc(a, (size_t)cnt * sizeof(*v));
    if (!v) return HLN_ENOMEM;
    for (uint64_t i = 0; i < cnt; i++) {
        int rc = mutation_decode(r, a, &v[i], member, member);
        if (rc < 0) return rc;
    }
    *ms = v;
    *n = (uint32_t)cnt;
    return r->err ? HLN_ECORRUPT : 0;
}
