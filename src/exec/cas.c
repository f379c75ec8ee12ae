/*
 * cas.c — counters and conditional updates (lightweight transactions) as
 * one read-modify-write on the shard that owns the partition.
 *
 * What: an UPDATE of a counter table, and an INSERT ... IF NOT EXISTS /
 * UPDATE or DELETE ... IF EXISTS / IF c = v AND ..., become ONE operation
 * (EX_OP_CAS) sent to the owning shard. There, in one step on that shard's
 * thread, the row is read, the conditions are evaluated against it, and
 * the mutation is applied only when they hold (counter cells, which carry
 * deltas, get the current value added first). No other request can touch
 * the partition in between: a shard runs one operation at a time. So
 * conditional writes are linearizable on this node, and counters never
 * lose an increment, which is what Cassandra's Paxos and counter locks
 * give a user.
 *
 * Why this shape: the origin builds everything that does not depend on the
 * current row (the mutation, the bound condition values) and the target
 * only decides. In the ring the same decision function runs in Paxos's
 * propose step on the coordinator, over the row its prepare step read from
 * a quorum; nothing here has to be rewritten, only where it runs.
 *
 * List operations that need the stored list (l[i] = v, DELETE l[i],
 * l = l - [..]) travel with the op as ex_listops and are resolved there,
 * after the conditions held and in the same step (listops.c); in a
 * conditional BATCH only the rows that conditions name are read (as in
 * Cassandra), the others' list operations see no list.
 *
 * Results (Cassandra's ModificationStatement.buildCasResultSet): a row
 * with the boolean column [applied]; when not applied, also the current
 * values: of every column for IF NOT EXISTS (when the row exists), of the
 * columns named in the conditions for IF c = ... (when the row exists).
 * Counter updates answer VOID.
 *
 * Invariants:
 *  1. ex_cas_exec runs on the owning shard only and reads nothing of the
 *     origin's request except immutable schema objects (the table and its
 *     column types, held by the request's snapshot) and, for local ops,
 *     the op's own inputs; remote ops carry copies (ex_cas_pack).
 *  2. A condition on a missing row or a null cell compares as null:
 *     "= null" holds, "!= v" holds, ordered comparisons fail.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

typedef struct cas_cond {
    const hln_column *col;
    cql_op op;
    ex_value v;   /* EQ, NE, LT..: the value (len -1: null) */
    ex_value *in; /* IN: the values */
    int nin;
    bool has_elem;
    ex_value elem; /* c[elem]: a map key, or a list index (int) */
    bool has_field;
    int field; /* c.f: the UDT field's index */
} cas_cond;

typedef struct ex_cas_op {
    ex_cas_kind kind;
    const hln_table *t;
    bool counter;
    cas_cond *conds;
    int nconds;
    bool statics;     /* some condition is on a static column: read the static row too */
    bool static_only; /* the write is to the static row only: it is the row */
    /* out */
    bool applied;
    const st_row *cur;   /* the row before the write (target arena), NULL: none */
    const st_row *scur;  /* the partition's static row before it, NULL: none */
    bool part_exists;    /* statics: the partition has a live row or static row */
    const st_row *first; /* static_only, no static row: the partition's first row */
    /* a conditional BATCH (one partition): the top op applies the merged
       mutation when every sub's conditions hold on its own row; each sub
       reads with `read` and keeps its key values for the result */
    struct ex_cas_op *subs;
    int nsubs;
    st_read_cmd read;
    ex_value *keyvals; /* npk + nck values of the sub's row */
    /* list operations that read the list (listops.c), resolved on the
       shard once the conditions held */
    ex_listop *lops;
    int nlops;
} ex_cas_op;

/* The bounds that admit the static row (clustering key "") only: every
 * real clustering key starts with the 0x40 component marker. */
static const uint8_t STATIC_CK[1] = {0x40};
static const st_bound STATIC_START = {STATIC_CK, 0, true}, STATIC_END = {STATIC_CK, 1, false};

static const uint8_t EMPTY[1];

/* ---- target side -------------------------------------------------------- */

static const st_cell *col_cells(const st_row *row, uint32_t col_id, uint32_t *n)
{
    *n = 0;
    if (!row) return NULL;
    uint32_t i = 0;
    while (i < row->ncells && row->cells[i].col_id < col_id)
        i++;
    uint32_t j = i;
    while (j < row->ncells && row->cells[j].col_id == col_id)
        j++;
    *n = j - i;
    return j > i ? &row->cells[i] : NULL;
}

/* The list index of an element condition l[i] (-1 when not a 4-byte int). */
static int32_t list_index(const cas_cond *c)
{
    if (c->elem.len != 4) return -1;
    return (int32_t)((uint32_t)c->elem.p[0] << 24 | (uint32_t)c->elem.p[1] << 16 |
                     (uint32_t)c->elem.p[2] << 8 | c->elem.p[3]);
}

/* The current value of a condition's target (column, or element). */
static int current(const cas_cond *c, const st_row *row, hln_arena *a, hln_error *err,
                   ex_value *out)
{
    const hln_column *col = c->col;
    uint32_t n;
    const st_cell *cells = col_cells(row, col->id, &n);
    *out = (ex_value){NULL, -1};
    if (!cells) return 0;
    if (c->has_elem) {
        const hln_type *t = col->type;
        if (!hln_type_is_multicell(t)) {
            /* a frozen collection: look inside its serialized value */
            hln_rd rd;
            uint32_t cnt;
            if (hln_coll_begin(&rd, cells[0].val, cells[0].len, &cnt)) return 0;
            int32_t idx = t->kind == HLN_T_LIST ? list_index(c) : -1;
            for (uint32_t i = 0; i < cnt; i++) {
                const uint8_t *k, *v;
                int32_t kl, vl;
                if (hln_coll_next(&rd, &k, &kl)) return 0;
                if (t->kind == HLN_T_LIST) {
                    if ((int32_t)i == idx) *out = (ex_value){k, kl};
                    continue;
                }
                if (hln_coll_next(&rd, &v, &vl)) return 0;
                if (kl >= 0 && hln_type_compare(t->params[0], k, (size_t)kl, c->elem.p,
                                                (size_t)c->elem.len) == 0)
                    *out = (ex_value){v, vl};
            }
            return 0;
        }
        if (t->kind == HLN_T_LIST) {
            int32_t idx = list_index(c);
            if (idx >= 0 && (uint32_t)idx < n)
                *out = (ex_value){cells[idx].len ? cells[idx].val : EMPTY, (int32_t)cells[idx].len};
            return 0;
        }
        hln_buf key;
        hln_buf_init(&key);
        int rc = hln_type_to_comparable(t->params[0], c->elem.p, (size_t)c->elem.len, false, &key);
        for (uint32_t i = 0; !rc && !key.err && i < n; i++)
            if (cells[i].pathlen == key.len && !memcmp(cells[i].path, key.data, key.len))
                *out = (ex_value){cells[i].len ? cells[i].val : EMPTY, (int32_t)cells[i].len};
        hln_buf_free(&key);
        return 0;
    }
    if (hln_type_is_multicell(col->type)) {
        int rc = ex_collection_value(a, err, col, cells, n, out);
        if (rc || !c->has_field) return rc;
    } else {
        *out = (ex_value){cells[0].len ? cells[0].val : EMPTY, (int32_t)cells[0].len};
    }
    if (c->has_field) { /* c.f: the field of the whole value */
        const uint8_t *els[HLN_TUPLE_MAX];
        int32_t lens[HLN_TUPLE_MAX];
        int nf = 0;
        ex_value whole = *out;
        *out = (ex_value){NULL, -1};
        if (whole.len > 0 &&
            !hln_tuple_split(col->type, whole.p, (size_t)whole.len, els, lens, &nf) &&
            c->field < nf)
            *out = (ex_value){els[c->field], lens[c->field]};
    }
    return 0;
}

static const hln_type *cond_type(const cas_cond *c)
{
    const hln_type *t = c->col->type;
    if (c->has_field) return t->params[c->field];
    if (!c->has_elem) return t;
    return t->kind == HLN_T_LIST ? t->params[0] : t->params[1];
}

static bool equal(const hln_type *t, const ex_value *a, const ex_value *b)
{
    if (a->len < 0 || b->len < 0) return a->len < 0 && b->len < 0;
    return hln_type_compare(t, a->p, (size_t)a->len, b->p, (size_t)b->len) == 0;
}

static int holds(const cas_cond *c, const st_row *row, hln_arena *a, hln_error *err, bool *ok)
{
    ex_value cur;
    int rc = current(c, row, a, err, &cur);
    if (rc) return rc;
    const hln_type *t = cond_type(c);
    switch (c->op) {
    case CQL_OP_EQ:
        *ok = equal(t, &cur, &c->v);
        return 0;
    case CQL_OP_NE:
        *ok = !equal(t, &cur, &c->v);
        return 0;
    case CQL_OP_IN:
        *ok = false;
        for (int i = 0; i < c->nin && !*ok; i++)
            *ok = equal(t, &cur, &c->in[i]);
        return 0;
    case CQL_OP_CONTAINS:
    case CQL_OP_CONTAINS_KEY: { /* an element (map: value, or key) of the collection */
        bool key = c->op == CQL_OP_CONTAINS_KEY, is_map = t->kind == HLN_T_MAP;
        const hln_type *et = is_map && !key ? t->params[1] : t->params[0];
        hln_rd rd;
        uint32_t n;
        *ok = false;
        if (cur.len < 0 || hln_coll_begin(&rd, cur.p, (size_t)cur.len, &n)) return 0;
        for (uint32_t i = 0; i < n && !*ok; i++)
            for (int part = 0; part < (is_map ? 2 : 1); part++) {
                const uint8_t *x;
                int32_t xl;
                if (hln_coll_next(&rd, &x, &xl)) return 0;
                if ((!is_map || (part == 0) == key) && xl >= 0 &&
                    hln_type_compare(et, x, (size_t)xl, c->v.p, (size_t)c->v.len) == 0)
                    *ok = true;
            }
        return 0;
    }
    default:
        break;
    }
    if (cur.len < 0) {
        *ok = false;
        return 0;
    }
    int cmp = hln_type_compare(t, cur.p, (size_t)cur.len, c->v.p, (size_t)c->v.len);
    *ok = c->op == CQL_OP_LT   ? cmp < 0
          : c->op == CQL_OP_LE ? cmp <= 0
          : c->op == CQL_OP_GT ? cmp > 0
                               : cmp >= 0;
    return 0;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* m with every counter cell's delta replaced by current + delta, each
 * timestamped after the current cell's. */
static int add_counters(const st_mutation *m, const st_row *cur, hln_arena *a, st_mutation *out,
                        hln_error *err)
{
    *out = *m;
    if (m->nrows == 0) return 0;
    st_row *rows = hln_arena_alloc(a, sizeof *rows * m->nrows);
    if (!rows) return hln_fail(err, HLN_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < m->nrows; i++) {
        rows[i] = m->rows[i];
        st_cell *cells = hln_arena_alloc(a, sizeof *cells * (m->rows[i].ncells + 1));
        if (!cells) return hln_fail(err, HLN_ENOMEM, "out of memory");
        for (uint32_t j = 0; j < m->rows[i].ncells; j++) {
            cells[j] = m->rows[i].cells[j];
            if (cells[j].flags || cells[j].len != 8) continue;
            uint32_t n;
            const st_cell *c = col_cells(cur, cells[j].col_id, &n);
            uint64_t sum = be64(cells[j].val) + (c && c->len == 8 ? be64(c->val) : 0);
            /* the sum must win over the value it was computed from, whatever
               timestamp the request was given (writes taken on other shards
               may carry later ones): otherwise the increment is lost */
            if (c && c->ts >= cells[j].ts) cells[j].ts = c->ts + 1;
            uint8_t *v = hln_arena_alloc(a, 8);
            if (!v) return hln_fail(err, HLN_ENOMEM, "out of memory");
            for (int k = 0; k < 8; k++)
                v[k] = (uint8_t)(sum >> (56 - 8 * k));
            cells[j].val = v;
        }
        rows[i].cells = cells;
    }
    out->rows = rows;
    return 0;
}

/* One sub of a conditional batch: read its row, check its conditions. */
static int sub_check(ex_cas_op *sub, st_engine *s, hln_arena *a, hln_error *err, bool *ok)
{
    st_partition *part = NULL;
    int rc = st_read(s, &sub->read, a, &part, err);
    if (rc) return rc;
    const st_row *cur = part && part->nrows ? &part->rows[0] : NULL;
    sub->cur = cur;
    *ok = true;
    switch (sub->kind) {
    case EX_CAS_NONE:
        break;
    case EX_CAS_NOT_EXISTS:
        *ok = cur == NULL;
        break;
    case EX_CAS_EXISTS:
        *ok = cur != NULL;
        break;
    case EX_CAS_CONDS:
        for (int i = 0; i < sub->nconds && *ok; i++)
            if ((rc = holds(&sub->conds[i], cur, a, err, ok)) != 0) return rc;
        break;
    }
    return 0;
}

int ex_cas_exec(ex_op *op, st_engine *s, hln_arena *a, const st_mutation *m)
{
    ex_cas_op *cas = op->cas;
    if (cas->nsubs) {
        bool all = true;
        for (int i = 0; i < cas->nsubs; i++) {
            bool ok;
            int rc = sub_check(&cas->subs[i], s, a, &op->err, &ok);
            if (rc) return rc;
            all &= ok;
        }
        cas->applied = all;
        if (!all || !m) return 0;
        st_mutation full;
        if (cas->nlops) {
            int rc = ex_listops_resolve(s, m, cas->lops, cas->nlops, a, &op->err, &full);
            if (rc) return rc;
            m = &full;
        }
        return m->nrows + m->nrts + (m->pdel_ts != HLN_TS_NONE) > 0
                   ? ex_view_apply(op, s, a, m, 1, &op->err) /* views follow (view.c) */
                   : 0;
    }
    st_partition *part = NULL;
    int rc = st_read(s, &op->read, a, &part, &op->err);
    if (rc) return rc;
    const st_row *cur = part && part->nrows ? &part->rows[0] : NULL;
    cas->scur = NULL;
    cas->first = NULL;
    cas->part_exists = cur != NULL;
    if ((cas->statics || cas->static_only) && !cur) { /* anything in the partition? */
        st_read_cmd pr = op->read;
        pr.start = pr.end = (st_bound){NULL, 0, true};
        st_partition *pp = NULL;
        if ((rc = st_read(s, &pr, a, &pp, &op->err)) != 0) return rc;
        cas->part_exists = pp && pp->nrows;
        /* Cassandra answers a static-only condition on a partition without
           a static row with the first row's key (its other columns null) */
        if (cas->static_only && cas->part_exists) cas->first = &pp->rows[0];
    }
    if (cas->static_only) {
        cas->scur = cur;
    } else if (cas->statics) {
        st_read_cmd sr = op->read;
        sr.start = STATIC_START;
        sr.end = STATIC_END;
        st_partition *sp = NULL;
        if ((rc = st_read(s, &sr, a, &sp, &op->err)) != 0) return rc;
        cas->scur = sp && sp->nrows && sp->rows[0].cklen == 0 ? &sp->rows[0] : NULL;
    }
    bool ok = true;
    switch (cas->kind) {
    case EX_CAS_NONE:
        break;
    case EX_CAS_NOT_EXISTS:
        ok = cur == NULL;
        break;
    case EX_CAS_EXISTS:
        ok = cur != NULL;
        break;
    case EX_CAS_CONDS:
        for (int i = 0; i < cas->nconds && ok; i++)
            if ((rc = holds(&cas->conds[i],
                            cas->conds[i].col->kind == HLN_COL_STATIC ? cas->scur : cur, a,
                            &op->err, &ok)) != 0)
                return rc;
        break;
    }
    cas->applied = ok;
    cas->cur = cur;
    if (!ok) return 0;
    if (cas->counter) {
        st_mutation sum;
        if ((rc = add_counters(m, cur, a, &sum, &op->err)) != 0) return rc;
        return st_apply(s, &sum, &op->err); /* counter tables have no views */
    }
    st_mutation full;
    if (cas->nlops) {
        if ((rc = ex_listops_resolve(s, m, cas->lops, cas->nlops, a, &op->err, &full)) != 0)
            return rc;
        m = &full;
    }
    return ex_view_apply(op, s, a, m, 1, &op->err); /* the base's views follow (view.c) */
}

static int copy_value(hln_arena *a, ex_value *v)
{
    if (v->len <= 0) return 0;
    const uint8_t *p = hln_arena_memdup(a, v->p, (size_t)v->len);
    if (!p) return HLN_ENOMEM;
    v->p = p;
    return 0;
}

static const uint8_t *copy_b(hln_arena *a, const uint8_t *p, size_t n)
{
    return n ? hln_arena_memdup(a, p, n) : EMPTY;
}

static int pack_one(hln_arena *a, const ex_cas_op *src, ex_cas_op *c);

const char *ex_cas_write_type(const ex_op *op)
{
    const ex_cas_op *c = op->cas;
    if (!c) return "SIMPLE";
    if (c->kind != EX_CAS_NONE) return "CAS";
    return c->counter ? "COUNTER" : "SIMPLE";
}

int ex_cas_pack(ex_op *op)
{
    ex_cas_op *c = hln_arena_alloc(&op->arena, sizeof *c);
    if (!c) return HLN_ENOMEM;
    int rc = pack_one(&op->arena, op->cas, c);
    if (rc) return rc;
    op->cas = c;
    return 0;
}

static int pack_one(hln_arena *a, const ex_cas_op *src, ex_cas_op *c)
{
    *c = *src;
    if (src->nlops) {
        c->lops = hln_arena_memdup(a, src->lops, sizeof *c->lops * (size_t)src->nlops);
        if (!c->lops || ex_listops_pack(a, c->lops, c->nlops)) return HLN_ENOMEM;
    }
    if (src->nsubs) {
        c->subs = hln_arena_alloc(a, sizeof *c->subs * (size_t)src->nsubs);
        if (!c->subs) return HLN_ENOMEM;
        for (int i = 0; i < src->nsubs; i++) {
            ex_cas_op *d = &c->subs[i];
            if (pack_one(a, &src->subs[i], d)) return HLN_ENOMEM;
            d->read.pk = copy_b(a, d->read.pk, d->read.pklen);
            d->read.start.key = copy_b(a, d->read.start.key, d->read.start.len);
            d->read.end.key = copy_b(a, d->read.end.key, d->read.end.len);
            if (!d->read.pk || !d->read.start.key || !d->read.end.key) return HLN_ENOMEM;
        }
    }
    c->conds = hln_arena_alloc(a, sizeof *c->conds * (size_t)(src->nconds ? src->nconds : 1));
    if (!c->conds) return HLN_ENOMEM;
    for (int i = 0; i < src->nconds; i++) {
        cas_cond *d = &c->conds[i];
        *d = src->conds[i];
        if (copy_value(a, &d->v) || copy_value(a, &d->elem)) return HLN_ENOMEM;
        if (d->nin) {
            d->in = hln_arena_alloc(a, sizeof *d->in * (size_t)d->nin);
            if (!d->in) return HLN_ENOMEM;
            for (int j = 0; j < d->nin; j++) {
                d->in[j] = src->conds[i].in[j];
                if (copy_value(a, &d->in[j])) return HLN_ENOMEM;
            }
        }
    }
    return 0;
}

/* ---- origin side -------------------------------------------------------- */

/* The list operations built so far go with the op (resolved there). */
static void take_listops(ex_state *st, ex_cas_op *cas)
{
    cas->lops = st->lops;
    cas->nlops = st->nlops;
    st->lops = NULL;
    st->nlops = st->caplops = 0;
}

/* Binds one condition's values (Cassandra's ColumnCondition rules). */
static int bind_cond(ex_request *r, const ex_cond *x, const hln_column *col, cas_cond *out)
{
    *out = (cas_cond){.col = col, .op = x->op, .v = {NULL, -1}, .elem = {NULL, -1}};
    const hln_type *vt = col->type;
    int rc;
    if (x->field >= 0) {
        out->has_field = true;
        out->field = x->field;
        vt = col->type->params[x->field];
    }
    if (x->elem) {
        const hln_type *t = col->type;
        const hln_type *kt = t->kind == HLN_T_LIST ? hln_type_by_kind(HLN_T_INT) : t->params[0];
        if ((rc = ex_bind(r, x->elem, kt, col->name, &out->elem)) != 0) return rc;
        if (out->elem.len == -1)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid null value for %s element access",
                            t->kind == HLN_T_LIST ? "list" : "map");
        if (out->elem.len == -2)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid 'unset' value in condition");
        out->has_elem = true;
        vt = t->kind == HLN_T_LIST ? t->params[0] : t->params[1];
    }
    if (x->op == CQL_OP_IN) {
        if (x->in_list) {
            out->nin = x->nin;
            out->in = hln_arena_alloc(&r->arena, sizeof *out->in * (size_t)(x->nin ? x->nin : 1));
            if (!out->in) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            for (int i = 0; i < x->nin; i++) {
                if ((rc = ex_bind(r, x->in_list[i], vt, col->name, &out->in[i])) != 0) return rc;
                if (out->in[i].len == -2)
                    return hln_fail(&r->err, HLN_EINVAL, "Invalid 'unset' value in condition");
            }
            return 0;
        }
        ex_value lv;
        const hln_type *lt = hln_type_collection(HLN_T_LIST, &vt, true);
        if (!lt) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if ((rc = ex_bind(r, x->term, lt, col->name, &lv)) != 0) return rc;
        if (lv.len == -1) return hln_fail(&r->err, HLN_EINVAL, "Invalid null list in IN condition");
        if (lv.len == -2)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid 'unset' value in condition");
        hln_rd rd;
        uint32_t n;
        if (hln_coll_begin(&rd, lv.p, (size_t)lv.len, &n))
            return hln_fail(&r->err, HLN_EINVAL, "Invalid list value in IN condition");
        out->in = hln_arena_alloc(&r->arena, sizeof *out->in * (n ? n : 1));
        if (!out->in) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < n; i++) {
            if (hln_coll_next(&rd, &out->in[i].p, &out->in[i].len))
                return hln_fail(&r->err, HLN_EINVAL, "Invalid list value in IN condition");
        }
        out->nin = (int)n;
        return 0;
    }
    if (x->op == CQL_OP_CONTAINS || x->op == CQL_OP_CONTAINS_KEY) {
        /* the term is an element (key) of the collection, named as Cassandra
           names it: value(c) / key(c) */
        bool key = x->op == CQL_OP_CONTAINS_KEY;
        const hln_type *et = vt->kind == HLN_T_MAP && !key ? vt->params[1] : vt->params[0];
        char name[300];
        snprintf(name, sizeof name, "%s(%s)", key ? "key" : "value", col->name);
        if ((rc = ex_bind(r, x->term, et, name, &out->v)) != 0) return rc;
        if (out->v.len == -2)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid 'unset' value in condition");
        if (out->v.len == -1)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid comparison with null for operator \"%s\"",
                            key ? "CONTAINS KEY" : "CONTAINS");
        return 0;
    }
    if ((rc = ex_bind(r, x->term, vt, col->name, &out->v)) != 0) return rc;
    if (out->v.len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid 'unset' value in condition");
    if (out->v.len == -1 && x->op != CQL_OP_EQ && x->op != CQL_OP_NE) {
        const char *ops = x->op == CQL_OP_LT   ? "<"
                          : x->op == CQL_OP_LE ? "<="
                          : x->op == CQL_OP_GT ? ">"
                                               : ">=";
        return hln_fail(&r->err, HLN_EINVAL, "Invalid comparison with null for operator \"%s\"",
                        ops);
    }
    return 0;
}

/* The value of regular column col in the row before the write. */
static int row_value(ex_request *r, const st_row *row, const hln_column *col, ex_value *out)
{
    uint32_t n;
    const st_cell *cells = col_cells(row, col->id, &n);
    if (!cells) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    if (hln_type_is_multicell(col->type))
        return ex_collection_value(&r->arena, &r->err, col, cells, n, out);
    *out = (ex_value){cells[0].len ? cells[0].val : EMPTY, (int32_t)cells[0].len};
    return 0;
}

static const uint8_t TRUE_V[1] = {1}, FALSE_V[1] = {0};

/* Clustering column col of row, decoded from its comparable key. */
static int ck_value(ex_request *r, const hln_table *t, const st_row *row, const hln_column *col,
                    ex_value *out)
{
    ex_value *v = hln_arena_alloc(&r->arena, sizeof *v * (size_t)t->nck);
    if (!v) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    hln_buf b;
    hln_buf_init(&b);
    int rc = ex_ck_decode(r, t, row->ck, row->cklen, &b, v);
    hln_buf_free(&b);
    if (rc == 0) *out = v[col->position];
    return rc;
}

/* The [applied] result, with the current values when not applied. */
static int cas_result(ex_request *r, const ex_cas_op *cas)
{
    const ex_plan *p = ex_st(r)->plan;
    const hln_table *t = cas->t;
    ex_result *res = &r->result;
    int cols[1024];
    int n = 0;
    if (!cas->applied && (cas->cur || ((cas->statics || cas->first) && cas->part_exists))) {
        if (cas->kind == EX_CAS_NOT_EXISTS || cas->kind == EX_CAS_EXISTS) {
            for (int i = 0; i < t->ncols && n < 1024; i++)
                cols[n++] = i;
        } else {
            /* the columns named in conditions, in the order they are named,
               regular columns before static ones (as Cassandra lists them) */
            for (int pass = 0; pass < 2; pass++)
                for (int j = 0; j < p->nconds && n < 1024; j++) {
                    bool st = t->cols[p->conds[j].col].kind == HLN_COL_STATIC;
                    if (st != (pass == 1)) continue;
                    bool seen = false;
                    for (int k = 0; k < n; k++)
                        seen |= cols[k] == p->conds[j].col;
                    if (!seen) cols[n++] = p->conds[j].col;
                }
        }
    }
    res->kind = EX_ROWS;
    res->ncols = n + 1;
    res->nrows = 1;
    res->cols = hln_arena_alloc(&r->arena, sizeof *res->cols * (size_t)res->ncols);
    res->cells = hln_arena_alloc(&r->arena, sizeof *res->cells * (size_t)res->ncols);
    if (!res->cols || !res->cells) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    res->cols[0] = (ex_colspec){t->ks, t->name, "[applied]", hln_type_by_kind(HLN_T_BOOLEAN)};
    res->cells[0] = (ex_value){cas->applied ? TRUE_V : FALSE_V, 1};
    for (int i = 0; i < n; i++) {
        const hln_column *col = &t->cols[cols[i]];
        res->cols[i + 1] = (ex_colspec){t->ks, t->name, col->name, col->type};
        ex_value *v = &res->cells[i + 1];
        int rc;
        if (col->kind == HLN_COL_PARTITION_KEY)
            rc = ex_bind(r, p->pk[col->position], col->type, col->name, v);
        else if (col->kind == HLN_COL_CLUSTERING && cas->first)
            rc = ck_value(r, t, cas->first, col, v);
        else if (col->kind == HLN_COL_CLUSTERING)
            rc = ex_bind(r, p->ck[col->position], col->type, col->name, v);
        else
            rc = row_value(r, col->kind == HLN_COL_STATIC ? cas->scur : cas->cur, col, v);
        if (rc) return rc;
    }
    return 0;
}

static void cas_done(ex_request *r)
{
    int rc = ex_batch_error(r);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    ex_state *st = ex_st(r);
    const ex_op *op = st->cur;
    if (st->plan->cas == EX_CAS_NONE) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    ex_finish(r, cas_result(r, op->cas));
}

int ex_cas_op_add(ex_request *r)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = st->plan;
    st_mutation *m = NULL;
    int rc = ex_dml_mutation(r, &m);
    ex_cas_op *cas = rc ? NULL : hln_arena_alloc(&r->arena, sizeof *cas);
    if (!rc && !cas) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!rc) {
        *cas = (ex_cas_op){
            .kind = p->cas, .t = p->t, .counter = p->counter, .static_only = p->static_only};
        for (int i = 0; i < p->nconds; i++)
            cas->statics |= p->t->cols[p->conds[i].col].kind == HLN_COL_STATIC;
        cas->conds = hln_arena_alloc(&r->arena, sizeof *cas->conds * (size_t)(p->nconds + 1));
        if (!cas->conds) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int i = 0; !rc && i < p->nconds; i++)
            rc = bind_cond(r, &p->conds[i], &p->t->cols[p->conds[i].col], &cas->conds[i]);
        cas->nconds = p->nconds;
        take_listops(st, cas);
    }
    if (!rc && !m) {
        /* every value unset: still check (and report) the conditions */
        m = hln_arena_alloc(&r->arena, sizeof *m);
        if (!m) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (!rc) {
            memcpy(m->table_id, p->t->id, 16);
            m->pdel_ts = HLN_TS_NONE;
            rc = ex_dml_key(r, &m->pk, &m->pklen);
            m->token = hln_murmur3_token(m->pk, m->pklen);
        }
    }
    if (rc) return rc;
    ex_op *op = ex_op_new(r, EX_OP_CAS, rt_shard_for_token(st->eng->nshards, m->token));
    if (!op) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    op->mut = m;
    op->cas = cas;
    st_read_cmd *c = &op->read;
    memcpy(c->table_id, p->t->id, 16);
    c->pk = m->pk;
    c->pklen = m->pklen;
    c->token = m->token;
    const uint8_t *ck;
    uint32_t cklen;
    if ((rc = ex_dml_ck(r, &ck, &cklen)) != 0) return rc;
    c->start = (st_bound){ck, cklen, true};
    c->end = (st_bound){ck, cklen, true};
    if (p->static_only) { /* the static row itself */
        c->start = STATIC_START;
        c->end = STATIC_END;
    }
    c->limit = 1;
    c->now_sec = hln_now_micros() / 1000000;
    return 0;
}

/* ---- conditional BATCH ---------------------------------------------------- */

ex_cas_op *ex_cas_batch_begin(ex_request *r, int n)
{
    ex_cas_op *top = hln_arena_alloc(&r->arena, sizeof *top);
    if (!top) return NULL;
    *top = (ex_cas_op){.kind = EX_CAS_CONDS};
    top->subs = hln_arena_alloc(&r->arena, sizeof *top->subs * (size_t)(n ? n : 1));
    return top->subs ? top : NULL;
}

int ex_cas_batch_stmt(ex_request *r, ex_cas_op *top, st_mutation **m)
{
    const ex_plan *p = ex_st(r)->plan;
    *m = NULL;
    if (p->counter)
        return hln_fail(&r->err, HLN_EINVAL, "Cannot mix counter and non counter updates");
    if (top->t && top->t != p->t)
        return hln_fail(&r->err, HLN_EINVAL, "Batch with conditions cannot span multiple tables");
    top->t = p->t;
    int rc = ex_dml_mutation(r, m);
    if (rc || p->cas == EX_CAS_NONE) return rc;
    ex_cas_op *sub = &top->subs[top->nsubs++];
    *sub = (ex_cas_op){.kind = p->cas, .t = p->t};
    sub->conds = hln_arena_alloc(&r->arena, sizeof *sub->conds * (size_t)(p->nconds + 1));
    if (!sub->conds) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < p->nconds; i++)
        rc = bind_cond(r, &p->conds[i], &p->t->cols[p->conds[i].col], &sub->conds[i]);
    sub->nconds = p->nconds;
    st_read_cmd *c = &sub->read;
    memcpy(c->table_id, p->t->id, 16);
    if (!rc) rc = ex_dml_key(r, &c->pk, &c->pklen);
    c->token = hln_murmur3_token(c->pk, c->pklen);
    const uint8_t *ck = NULL;
    uint32_t cklen = 0;
    if (!rc) rc = ex_dml_ck(r, &ck, &cklen);
    c->start = c->end = (st_bound){ck, cklen, true};
    c->limit = 1;
    c->now_sec = hln_now_micros() / 1000000;
    /* CQL3CasRequest: one kind of condition per row */
    for (int i = 0; !rc && i < top->nsubs - 1; i++) {
        const ex_cas_op *o = &top->subs[i];
        if (o->read.start.len != cklen || (cklen && memcmp(o->read.start.key, ck, cklen))) continue;
        bool ne = o->kind == EX_CAS_NOT_EXISTS, nn = sub->kind == EX_CAS_NOT_EXISTS;
        if (ne == nn) continue;
        if (o->kind == EX_CAS_EXISTS || sub->kind == EX_CAS_EXISTS)
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Cannot mix IF EXISTS and IF NOT EXISTS conditions for the same row");
        else
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Cannot mix IF conditions and IF NOT EXISTS for the same row");
    }
    const hln_table *t = p->t;
    sub->keyvals = hln_arena_alloc(&r->arena, sizeof *sub->keyvals * (size_t)(t->npk + t->nck + 1));
    if (!rc && !sub->keyvals) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < t->npk + t->nck; i++) {
        const hln_column *col = &t->cols[i];
        const cql_term *term = i < t->npk ? p->pk[i] : p->ck ? p->ck[i - t->npk] : NULL;
        sub->keyvals[i] = (ex_value){NULL, -1};
        if (term) rc = ex_bind(r, term, col->type, col->name, &sub->keyvals[i]);
    }
    return rc;
}

static int cmp_sub_ck(const void *a, const void *b)
{
    const ex_cas_op *x = *(ex_cas_op *const *)a, *y = *(ex_cas_op *const *)b;
    uint32_t n = x->read.start.len < y->read.start.len ? x->read.start.len : y->read.start.len;
    int c = n ? memcmp(x->read.start.key, y->read.start.key, n) : 0;
    if (c) return c;
    return (x->read.start.len > y->read.start.len) - (x->read.start.len < y->read.start.len);
}

/* The batch's [applied]; when not applied, the current row of every
 * statement with conditions (that exists), in clustering order, with the
 * key columns and the columns conditions name (all columns for IF [NOT]
 * EXISTS), as Cassandra returns them. */
static void cas_batch_done(ex_request *r)
{
    int rc = ex_batch_error(r);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    const ex_cas_op *top = ex_st(r)->cur->cas;
    const hln_table *t = top->t;
    ex_result *res = &r->result;
    bool want[1024] = {false}, all = false;
    int nrows = 0;
    const ex_cas_op **rows = hln_arena_alloc(&r->arena, sizeof *rows * (size_t)(top->nsubs + 1));
    if (!rows) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    if (!top->applied)
        for (int i = 0; i < top->nsubs; i++) {
            const ex_cas_op *sub = &top->subs[i];
            all |= sub->kind == EX_CAS_NOT_EXISTS || sub->kind == EX_CAS_EXISTS;
            for (int j = 0; j < sub->nconds; j++)
                for (int c = 0; c < t->ncols && c < 1024; c++)
                    if (&t->cols[c] == sub->conds[j].col) want[c] = true;
            bool dup = false;
            for (int k = 0; k < nrows && !dup; k++)
                dup = !cmp_sub_ck(&rows[k], &sub);
            if (sub->cur && !dup) rows[nrows++] = sub;
        }
    qsort(rows, (size_t)nrows, sizeof *rows, cmp_sub_ck);
    int cols[1024], n = 0;
    if (!top->applied)
        for (int c = 0; c < t->ncols && c < 1024; c++)
            if (all || want[c] || c < t->npk + t->nck) cols[n++] = c;
    res->kind = EX_ROWS;
    res->ncols = n + 1;
    res->nrows = top->applied ? 1 : (nrows ? nrows : 1);
    res->cols = hln_arena_alloc(&r->arena, sizeof *res->cols * (size_t)res->ncols);
    res->cells =
        hln_arena_alloc(&r->arena, sizeof *res->cells * (size_t)res->ncols * (size_t)res->nrows);
    if (!res->cols || !res->cells) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    res->cols[0] = (ex_colspec){t ? t->ks : "", t ? t->name : "", "[applied]",
                                hln_type_by_kind(HLN_T_BOOLEAN)};
    for (int i = 0; i < n; i++)
        res->cols[i + 1] =
            (ex_colspec){t->ks, t->name, t->cols[cols[i]].name, t->cols[cols[i]].type};
    for (int k = 0; k < res->nrows; k++) {
        ex_value *row = &res->cells[(size_t)k * (size_t)res->ncols];
        row[0] = (ex_value){top->applied ? TRUE_V : FALSE_V, 1};
        for (int i = 0; i < n; i++) {
            const hln_column *col = &t->cols[cols[i]];
            if (!nrows) {
                row[i + 1] = (ex_value){NULL, -1};
            } else if (cols[i] < t->npk + t->nck) {
                row[i + 1] = rows[k]->keyvals[cols[i]];
            } else if ((rc = row_value(r, rows[k]->cur, col, &row[i + 1])) != 0) {
                ex_finish(r, rc);
                return;
            }
        }
    }
    res->no_metadata = r->params.skip_metadata;
    ex_finish(r, 0);
}

int ex_cas_batch_dispatch(ex_request *r, ex_cas_op *top, const st_mutation *m)
{
    if (!m) return hln_fail(&r->err, HLN_EINVAL, "Batch with conditions has no statement");
    /* every statement's list operations, resolved on the shard; Cassandra
       reads only the rows that conditions name (CQL3CasRequest), so the
       others see no list */
    ex_state *st = ex_st(r);
    for (int i = 0; i < st->nlops; i++) {
        ex_listop *lo = &st->lops[i];
        bool read = false;
        for (int k = 0; k < top->nsubs && !read; k++) {
            const ex_cas_op *sub = &top->subs[k];
            if (lo->is_static) {
                for (int j = 0; j < sub->nconds && !read; j++)
                    read = sub->conds[j].col->kind == HLN_COL_STATIC;
            } else {
                read = sub->read.start.len == lo->cklen &&
                       (!lo->cklen || !memcmp(sub->read.start.key, lo->ck, lo->cklen));
            }
        }
        lo->no_read = !read;
    }
    take_listops(st, top);
    ex_op *op = ex_op_new(r, EX_OP_CAS, rt_shard_for_token(ex_st(r)->eng->nshards, m->token));
    if (!op) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    op->mut = m;
    op->cas = top;
    /* the op's own read is unused: point it at the partition */
    memcpy(op->read.table_id, m->table_id, 16);
    op->read.pk = m->pk;
    op->read.pklen = m->pklen;
    op->read.token = m->token;
    ex_dispatch(r, cas_batch_done);
    return 0;
}

void ex_run_cas(ex_request *r)
{
    int rc = ex_cas_op_add(r);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    ex_dispatch(r, cas_done);
}
