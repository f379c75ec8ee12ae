/*
 * select.c — SELECT: plan + values -> reads on the owning shards -> rows.
 *
 * What: three ways to get rows, one way to shape them.
 *  - Partition lookup (every partition key column given by =): one st_read
 *    on the shard owning the token, with a clustering slice built from the
 *    equality prefix and at most one range on the next column.
 *  - Range query (no partition key, or only part of it with ALLOW
 *    FILTERING): one st_scan of the whole ring on every shard. Shards own
 *    contiguous token ranges in order (engine.h), so concatenating their
 *    results in shard order is token order, as Cassandra returns them.
 *  - Virtual (system) tables: rows generated from the schema snapshot and
 *    node state (schema_virtual_rows), never storage.
 * Every row then goes through the row filters (restrictions storage could
 * not apply), per-partition limit, DISTINCT, the limit, and the projection.
 *
 * Slice bounds (storage.h semantics; each bound is a clustering prefix in
 * byte-comparable form): with equality prefix P and a range on column c,
 *     ascending c:  start = P+enc(lo) (>= or >), end = P+enc(hi) (<= or <)
 *     descending c: the encoding is inverted, so lo and hi trade places:
 *                   start = P+enc(hi), end = P+enc(lo)
 * and a missing side is P itself, inclusive ("every key starting with P";
 * empty = unbounded). ORDER BY opposite to the table's order reads the
 * slice in reverse.
 *
 * LIMIT is pushed down to storage when no row can be dropped after the read
 * (no filters, no DISTINCT, no per-partition limit), and enforced here in
 * any case. Paging is not implemented yet: page_size is ignored, every row
 * is returned in one result and paging_state stays NULL.
 *
 * Invariant: result cells point into r->arena or into op arenas, all of
 * which live until ex_request_free.
 */
#include <string.h>

#include "exec/execInt.h"

/* ---- binding ---------------------------------------------------------- */

static int bind_cond(ex_request *r, const cql_term *term, const hln_column *col, ex_value *v)
{
    int rc = ex_bind(r, term, col->type, col->name, v);
    if (rc) return rc;
    if (v->len == -1)
        return hln_fail(&r->err, HLN_EINVAL,
                        col->kind == HLN_COL_PARTITION_KEY
                            ? "Invalid null value for partition key part %s"
                            : "Invalid null value in condition for column %s",
                        col->name);
    if (v->len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value for column %s", col->name);
    return 0;
}

typedef struct sel {
    ex_request *r;
    const ex_plan *p;
    const hln_table *t;
    int32_t limit, pp_limit; /* 0: none */
    /* partition lookup */
    const uint8_t *pk;
    uint32_t pklen;
    int64_t token;
    st_bound start, end;
} sel;

static int put_comp(ex_request *r, const hln_column *col, const ex_value *v, hln_buf *b)
{
    hln_buf_u8(b, 0x40);
    int rc = hln_type_to_comparable(col->type, v->p, (size_t)v->len, col->desc, b);
    if (rc && !r->err.code)
        hln_fail(&r->err, rc, "cannot encode clustering value for %s", col->name);
    return rc;
}

static const uint8_t *arena_bytes(ex_request *r, const hln_buf *b)
{
    static const uint8_t empty[1];
    return b->len ? hln_arena_memdup(&r->arena, b->data, b->len) : empty;
}

/* Partition key, token and slice bounds of a partition lookup. */
static int bind_lookup(sel *s)
{
    ex_request *r = s->r;
    const ex_plan *p = s->p;
    const hln_table *t = s->t;
    const uint8_t *vals[64];
    size_t lens[64];
    if (t->npk > 64) return hln_fail(&r->err, HLN_EUNSUPPORTED, "too many partition key columns");
    for (int i = 0; i < t->npk; i++) {
        ex_value v;
        int rc = bind_cond(r, p->pk[i], &t->cols[i], &v);
        if (rc) return rc;
        vals[i] = v.p;
        lens[i] = (size_t)v.len;
    }
    hln_buf b;
    hln_buf_init(&b);
    hln_pk_compose(vals, lens, t->npk, &b);
    int rc = 0;
    if (b.len == 0) rc = hln_fail(&r->err, HLN_EINVAL, "Key may not be empty");
    s->pk = arena_bytes(r, &b);
    s->pklen = (uint32_t)b.len;
    s->token = hln_murmur3_token(b.data, b.len);
    hln_buf_reset(&b);

    /* equality prefix */
    for (int pos = 0; pos < p->nck_eq && !rc; pos++) {
        const hln_column *col = &t->cols[t->npk + pos];
        ex_value v;
        rc = bind_cond(r, p->ck[pos], col, &v);
        if (!rc) rc = put_comp(r, col, &v, &b);
    }
    const uint8_t *prefix = rc ? NULL : arena_bytes(r, &b);
    uint32_t plen = (uint32_t)b.len;
    st_bound whole = {prefix, plen, true};
    s->start = s->end = whole;
    if (!rc && p->nck_eq < t->nck && (p->lo || p->hi)) {
        const hln_column *col = &t->cols[t->npk + p->nck_eq];
        st_bound lo = whole, hi = whole;
        if (p->lo) {
            ex_value v;
            rc = bind_cond(r, p->lo, col, &v);
            if (!rc) rc = put_comp(r, col, &v, &b);
            lo = (st_bound){arena_bytes(r, &b), (uint32_t)b.len, p->lo_incl};
            hln_buf_reset(&b);
            hln_buf_put(&b, prefix, plen);
        }
        if (!rc && p->hi) {
            ex_value v;
            rc = bind_cond(r, p->hi, col, &v);
            if (!rc) rc = put_comp(r, col, &v, &b);
            hi = (st_bound){arena_bytes(r, &b), (uint32_t)b.len, p->hi_incl};
        }
        s->start = col->desc ? hi : lo;
        s->end = col->desc ? lo : hi;
    }
    if (!rc && (b.err || !s->pk || !s->start.key || !s->end.key))
        rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    hln_buf_free(&b);
    return rc;
}

static int bind_limits(sel *s)
{
    ex_request *r = s->r;
    bool present;
    int32_t v;
    int rc;
    if (s->p->limit) {
        if ((rc = ex_bind_int(r, s->p->limit, "limit", &v, &present)) != 0) return rc;
        if (present && v <= 0)
            return hln_fail(&r->err, HLN_EINVAL, "LIMIT must be strictly positive");
        if (present) s->limit = v;
    }
    if (s->p->pp_limit) {
        if ((rc = ex_bind_int(r, s->p->pp_limit, "per partition limit", &v, &present)) != 0)
            return rc;
        if (present && v <= 0)
            return hln_fail(&r->err, HLN_EINVAL, "PER PARTITION LIMIT must be strictly positive");
        if (present) s->pp_limit = v;
    }
    return 0;
}

static int bind_filters(ex_request *r, ex_plan *p)
{
    for (int i = 0; i < p->nfilters; i++) {
        ex_filter *f = &p->filters[i];
        int rc = bind_cond(r, f->term, &p->t->cols[f->col], &f->val);
        if (rc) return rc;
    }
    return 0;
}

/* ---- row shaping ------------------------------------------------------ */

typedef int (*getv_fn)(void *ctx, int ci, ex_value *out);

typedef struct shaper {
    ex_request *r;
    const ex_plan *p;
    ex_value *cells;
    int nrows, cap;
    int32_t limit, pp_limit;
    int in_part;
    bool full;
} shaper;

static bool match(const shaper *sh, getv_fn get, void *ctx, int *rc)
{
    const ex_plan *p = sh->p;
    for (int i = 0; i < p->nfilters; i++) {
        const ex_filter *f = &p->filters[i];
        ex_value v;
        if ((*rc = get(ctx, f->col, &v)) != 0) return false;
        if (v.len < 0) return false;
        int c = hln_type_compare(p->t->cols[f->col].type, v.p, (size_t)v.len, f->val.p,
                                 (size_t)f->val.len);
        bool ok = false;
        switch (f->op) {
        case CQL_OP_EQ:
            ok = c == 0;
            break;
        case CQL_OP_LT:
            ok = c < 0;
            break;
        case CQL_OP_LE:
            ok = c <= 0;
            break;
        case CQL_OP_GT:
            ok = c > 0;
            break;
        case CQL_OP_GE:
            ok = c >= 0;
            break;
        default:
            ok = false;
            break;
        }
        if (!ok) return false;
    }
    return true;
}

/* Offers one row of the current partition: filtered, counted, projected. */
static int offer(shaper *sh, getv_fn get, void *ctx)
{
    if (sh->full) return 0;
    if (sh->pp_limit && sh->in_part >= sh->pp_limit) return 0;
    if (sh->p->distinct && sh->in_part >= 1) return 0;
    int rc = 0;
    if (!match(sh, get, ctx, &rc)) return rc;
    if (sh->nrows >= sh->cap) return hln_fail(&sh->r->err, HLN_ESERVER, "row buffer overflow");
    ex_value *out = &sh->cells[(size_t)sh->nrows * (size_t)sh->p->nproj];
    for (int i = 0; i < sh->p->nproj; i++)
        if ((rc = get(ctx, sh->p->proj[i], &out[i])) != 0) return rc;
    sh->nrows++;
    sh->in_part++;
    if (sh->limit && sh->nrows >= sh->limit) sh->full = true;
    return 0;
}

static int shaper_init(shaper *sh, ex_request *r, const ex_plan *p, const sel *s, size_t max)
{
    memset(sh, 0, sizeof *sh);
    sh->r = r;
    sh->p = p;
    sh->limit = s->limit;
    sh->pp_limit = s->pp_limit;
    if (sh->limit && (size_t)sh->limit < max) max = (size_t)sh->limit;
    sh->cap = (int)max;
    sh->cells = hln_arena_alloc(&r->arena, sizeof *sh->cells * (max ? max : 1) *
                                               (size_t)(p->nproj ? p->nproj : 1));
    if (!sh->cells) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    return 0;
}

static void finish_rows(shaper *sh)
{
    ex_request *r = sh->r;
    const ex_plan *p = sh->p;
    if (p->reversed && p->t->is_virtual) {
        /* virtual rows come in table order; ORDER BY reversed them */
        int n = p->nproj;
        for (int a = 0, b = sh->nrows - 1; a < b; a++, b--)
            for (int i = 0; i < n; i++) {
                ex_value tmp = sh->cells[(size_t)a * (size_t)n + (size_t)i];
                sh->cells[(size_t)a * (size_t)n + (size_t)i] =
                    sh->cells[(size_t)b * (size_t)n + (size_t)i];
                sh->cells[(size_t)b * (size_t)n + (size_t)i] = tmp;
            }
    }
    ex_result *res = &r->result;
    res->kind = EX_ROWS;
    res->cols = p->cols;
    res->ncols = p->nproj;
    res->cells = sh->cells;
    res->nrows = sh->nrows;
    res->no_metadata = r->params.skip_metadata;
    ex_finish(r, 0);
}

/* ---- virtual tables --------------------------------------------------- */

typedef struct vctx {
    hln_bytes *row;
} vctx;

static int vget(void *ctx, int ci, ex_value *out)
{
    *out = ((vctx *)ctx)->row[ci];
    return 0;
}

static bool same_partition(const hln_table *t, hln_bytes *a, hln_bytes *b)
{
    for (int i = 0; i < t->npk; i++)
        if (a[i].len != b[i].len || (a[i].len > 0 && memcmp(a[i].p, b[i].p, (size_t)a[i].len)))
            return false;
    return true;
}

static void select_virtual(ex_request *r, sel *s)
{
    ex_state *st = ex_st(r);
    hln_bytes **rows = NULL;
    int nrows = 0;
    int rc =
        schema_virtual_rows(st->schema, &st->eng->node, s->t, &r->arena, &rows, &nrows, &r->err);
    shaper sh = {0};
    if (!rc) rc = shaper_init(&sh, r, s->p, s, (size_t)nrows);
    for (int i = 0; i < nrows && !rc && !sh.full; i++) {
        if (i == 0 || !same_partition(s->t, rows[i - 1], rows[i])) sh.in_part = 0;
        vctx c = {rows[i]};
        rc = offer(&sh, vget, &c);
    }
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    finish_rows(&sh);
}

/* ---- storage rows ----------------------------------------------------- */

typedef struct sctx {
    ex_request *r;
    const hln_table *t;
    const st_partition *part;
    const st_row *row;
    ex_value *pkv, *ckv;
    bool pk_done, ck_done;
    hln_buf scratch;
} sctx;

static int split_pk(sctx *c)
{
    const hln_table *t = c->t;
    const uint8_t *vals[64];
    size_t lens[64];
    if (t->npk > 64)
        return hln_fail(&c->r->err, HLN_EUNSUPPORTED, "too many partition key columns");
    if (t->npk == 1) {
        vals[0] = c->part->pk;
        lens[0] = c->part->pklen;
    } else if (hln_pk_split(c->part->pk, c->part->pklen, t->npk, vals, lens)) {
        return hln_corrupt(&c->r->err, "partition key", "cannot split a partition key of %u bytes",
                           (unsigned)c->part->pklen);
    }
    for (int i = 0; i < t->npk; i++)
        c->pkv[i] = (ex_value){vals[i], (int32_t)lens[i]};
    c->pk_done = true;
    return 0;
}

static int decode_ck(sctx *c)
{
    const hln_table *t = c->t;
    hln_rd rd;
    hln_rd_init(&rd, c->row->ck, c->row->cklen);
    for (int pos = 0; pos < t->nck; pos++) {
        const hln_column *col = &t->cols[t->npk + pos];
        if (hln_rd_left(&rd) == 0) {
            c->ckv[pos] = (ex_value){NULL, -1};
            continue;
        }
        uint8_t marker = hln_rd_u8(&rd);
        if (marker != 0x40)
            return hln_corrupt(&c->r->err, "clustering key", "bad component marker 0x%02x", marker);
        hln_buf_reset(&c->scratch);
        int rc = hln_type_from_comparable(col->type, &rd, col->desc, &c->scratch);
        if (rc)
            return hln_corrupt(&c->r->err, "clustering key", "cannot decode column %s", col->name);
        static const uint8_t empty[1];
        const uint8_t *p = c->scratch.len
                               ? hln_arena_memdup(&c->r->arena, c->scratch.data, c->scratch.len)
                               : empty;
        if (!p) return hln_fail(&c->r->err, HLN_ENOMEM, "out of memory");
        c->ckv[pos] = (ex_value){p, (int32_t)c->scratch.len};
    }
    c->ck_done = true;
    return 0;
}

static int sget(void *ctx, int ci, ex_value *out)
{
    sctx *c = ctx;
    const hln_column *col = &c->t->cols[ci];
    int rc;
    switch (col->kind) {
    case HLN_COL_PARTITION_KEY:
        if (!c->pk_done && (rc = split_pk(c)) != 0) return rc;
        *out = c->pkv[col->position];
        return 0;
    case HLN_COL_CLUSTERING:
        if (!c->ck_done && (rc = decode_ck(c)) != 0) return rc;
        *out = c->ckv[col->position];
        return 0;
    default: {
        const st_row *row = c->row;
        uint32_t lo = 0, hi = row->ncells;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (row->cells[mid].col_id < col->id)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < row->ncells && row->cells[lo].col_id == col->id &&
            !(row->cells[lo].flags & ST_CELL_TOMBSTONE)) {
            static const uint8_t empty[1];
            const st_cell *cell = &row->cells[lo];
            *out = (ex_value){cell->len ? cell->val : empty, (int32_t)cell->len};
        } else {
            *out = (ex_value){NULL, -1};
        }
        return 0;
    }
    }
}

static void select_done(ex_request *r)
{
    ex_state *st = ex_st(r);
    int rc = ex_batch_error(r);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    const ex_plan *p = st->plan;
    const hln_table *t = p->t;
    size_t max = 0;
    for (ex_op *op = st->cur; op; op = op->next_batch)
        for (const st_partition *part = op->parts; part; part = part->next)
            max += p->distinct ? 1 : part->nrows;
    shaper sh;
    rc = shaper_init(&sh, r, p, st->xs, max);
    sctx c = {.r = r, .t = t};
    hln_buf_init(&c.scratch);
    c.pkv = hln_arena_alloc(&r->arena, sizeof *c.pkv * (size_t)(t->npk ? t->npk : 1));
    c.ckv = hln_arena_alloc(&r->arena, sizeof *c.ckv * (size_t)(t->nck ? t->nck : 1));
    if (!rc && (!c.pkv || !c.ckv)) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (ex_op *op = st->cur; op && !rc && !sh.full; op = op->next_batch) {
        for (const st_partition *part = op->parts; part && !rc && !sh.full; part = part->next) {
            c.part = part;
            c.pk_done = false;
            sh.in_part = 0;
            for (uint32_t i = 0; i < part->nrows && !rc && !sh.full; i++) {
                c.row = &part->rows[i];
                c.ck_done = false;
                rc = offer(&sh, sget, &c);
            }
        }
    }
    hln_buf_free(&c.scratch);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    finish_rows(&sh);
}

void ex_run_select(ex_request *r)
{
    ex_state *st = ex_st(r);
    ex_plan *p = st->plan;
    sel *s = hln_arena_alloc(&r->arena, sizeof *s);
    if (!s) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    s->r = r;
    s->p = p;
    s->t = p->t;
    int rc = bind_limits(s);
    if (!rc && p->pk_lookup) rc = bind_lookup(s);
    if (!rc) rc = bind_filters(r, p);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    if (p->t->is_virtual) {
        select_virtual(r, s);
        return;
    }
    st->xs = s;
    bool exact = p->nfilters == 0 && !p->distinct && !s->pp_limit;
    int64_t now_sec = hln_now_micros() / 1000000;
    if (p->pk_lookup) {
        ex_op *op = ex_op_new(r, EX_OP_READ, shard_for_token(st->eng->nshards, s->token));
        if (!op) {
            ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
            return;
        }
        st_read_cmd *cmd = &op->read;
        memcpy(cmd->table_id, p->t->id, 16);
        cmd->pk = s->pk;
        cmd->pklen = s->pklen;
        cmd->token = s->token;
        cmd->start = s->start;
        cmd->end = s->end;
        cmd->reversed = p->reversed;
        cmd->now_sec = now_sec;
        if (p->distinct)
            cmd->limit = 1;
        else if (p->nfilters == 0) {
            uint32_t lim = (uint32_t)s->limit;
            if (s->pp_limit && (!lim || (uint32_t)s->pp_limit < lim)) lim = (uint32_t)s->pp_limit;
            cmd->limit = lim;
        }
    } else {
        for (int i = 0; i < st->eng->nshards; i++) {
            ex_op *op = ex_op_new(r, EX_OP_SCAN, i);
            if (!op) {
                ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
                return;
            }
            st_scan_cmd *cmd = &op->scan;
            memcpy(cmd->table_id, p->t->id, 16);
            cmd->start_token = INT64_MIN;
            cmd->end_token = INT64_MAX;
            cmd->limit = exact ? (uint32_t)s->limit : 0;
            cmd->now_sec = now_sec;
        }
    }
    ex_dispatch(r, select_done);
}
