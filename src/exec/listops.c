/*
 * listops.c — the list operations that need the list as it is: l[i] = v,
 * DELETE l[i], l = l - [..].
 *
 * What: a list element's cell path is a time-based position (cells.c), so
 * "the i-th element" and "every element equal to x" only mean something
 * against the stored list. Building a statement (dml.c, cells.c) binds
 * these operations' values and leaves one ex_listop each in st->lops,
 * naming the row it reads; here they become cells once that row is known:
 *
 *  - plain writes, IN and BATCH: ex_listops_fetch reads every named row
 *    from its shard, then turns the operations into one mutation per row
 *    (st->lmuts) that the caller joins to its own before anything is
 *    written. This is Cassandra's read-before-write (the prefetched rows
 *    of ModificationStatement), with its consequence: an error (a null
 *    list, an index out of bound) anywhere fails the whole statement or
 *    batch with nothing written, and the read is not atomic with the
 *    write.
 *  - conditional writes: the operations travel with the read-check-write
 *    op (cas.c) and ex_listops_resolve reads the row on the owning shard
 *    in the same step, after the conditions held, so they are as
 *    linearizable as the rest of the transaction (Cassandra reads them in
 *    the Paxos round).
 *
 * Semantics (Cassandra 5.0's Lists.SetterByIndex, DiscarderByIndex,
 * Discarder): SET and DEL fail on a list that is null or an index out of
 * [0, size) ("List index i out of bound, list has size n"); SET with null
 * deletes the element; an unset value checks the index and writes nothing;
 * REMOVE tombstones every element equal to one of the values and does
 * nothing on a null list. Several operations of one statement or batch
 * all see the list before any of them.
 *
 * Invariants: ex_listops_cells reads nothing but its arguments, so it runs
 * the same on the origin and on a shard; everything it returns is arena
 * memory (or points into the operations' values).
 */
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

static const uint8_t EMPTY[1];
static const uint8_t STATIC_CK[1] = {0x40};

int ex_listop_push(ex_request *r, const ex_listop *op)
{
    ex_state *st = ex_st(r);
    if (st->nlops == st->caplops) {
        int cap = st->caplops ? 2 * st->caplops : 8;
        ex_listop *v = hln_arena_alloc(&r->arena, sizeof *v * (size_t)cap);
        if (!v) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (st->nlops) memcpy(v, st->lops, sizeof *v * (size_t)st->nlops);
        st->lops = v;
        st->caplops = cap;
    }
    st->lops[st->nlops++] = *op;
    return 0;
}

/* A row's live cells as a statement's operations see them: the stored
 * row with the statement's earlier writes applied, kept sorted by
 * (column, path). */
typedef struct view {
    st_cell *v;
    uint32_t n, cap;
} view;

static int cell_order(const st_cell *a, uint32_t col_id, const uint8_t *path, uint32_t plen)
{
    if (a->col_id != col_id) return a->col_id < col_id ? -1 : 1;
    uint32_t m = a->pathlen < plen ? a->pathlen : plen;
    int c = m ? memcmp(a->path, path, m) : 0;
    if (c) return c;
    return (a->pathlen > plen) - (a->pathlen < plen);
}

static int view_reset(view *w, const st_row *cur, hln_arena *a, hln_error *err)
{
    w->n = 0;
    uint32_t need = cur ? cur->ncells : 0;
    if (need > w->cap) {
        w->cap = need + 8;
        if (!(w->v = hln_arena_alloc(a, sizeof *w->v * w->cap)))
            return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    if (need) memcpy(w->v, cur->cells, sizeof *w->v * need);
    w->n = need;
    return 0;
}

/* Applies one written cell to the view, as storage would reconcile it
 * (a later timestamp wins; at equal ones a tombstone does). */
static int view_apply(view *w, const st_cell *c, hln_arena *a, hln_error *err)
{
    if (c->flags & ST_CELL_COLDEL) { /* the column's cells up to c->ts go */
        uint32_t k = 0;
        for (uint32_t i = 0; i < w->n; i++)
            if (!(w->v[i].col_id == c->col_id && w->v[i].ts <= c->ts)) w->v[k++] = w->v[i];
        w->n = k;
        return 0;
    }
    uint32_t i = 0;
    while (i < w->n && cell_order(&w->v[i], c->col_id, c->path, c->pathlen) < 0)
        i++;
    bool same = i < w->n && cell_order(&w->v[i], c->col_id, c->path, c->pathlen) == 0;
    if (c->flags & ST_CELL_TOMBSTONE) {
        if (same && w->v[i].ts <= c->ts) {
            memmove(w->v + i, w->v + i + 1, sizeof *w->v * (w->n - i - 1));
            w->n--;
        }
        return 0;
    }
    if (same) {
        if (c->ts >= w->v[i].ts) w->v[i] = *c;
        return 0;
    }
    if (w->n == w->cap) {
        uint32_t nc = w->cap ? 2 * w->cap : 8;
        st_cell *nv = hln_arena_alloc(a, sizeof *nv * nc);
        if (!nv) return hln_fail(err, HLN_ENOMEM, "out of memory");
        if (w->n) memcpy(nv, w->v, sizeof *nv * w->n);
        w->v = nv;
        w->cap = nc;
    }
    memmove(w->v + i + 1, w->v + i, sizeof *w->v * (w->n - i));
    w->v[i] = *c;
    w->n++;
    return 0;
}

/* The live cells of col in the view. */
static const st_cell *column_run(const view *w, uint32_t col_id, uint32_t *n)
{
    uint32_t i = 0;
    while (i < w->n && w->v[i].col_id < col_id)
        i++;
    uint32_t j = i;
    while (j < w->n && w->v[j].col_id == col_id)
        j++;
    *n = j - i;
    return w->v + i;
}

static int push(hln_arena *a, hln_error *err, st_cell **v, uint32_t *n, uint32_t *cap,
                const st_cell *c)
{
    if (*n == *cap) {
        uint32_t nc = *cap ? 2 * *cap : 8;
        st_cell *nv = hln_arena_alloc(a, sizeof *nv * nc);
        if (!nv) return hln_fail(err, HLN_ENOMEM, "out of memory");
        if (*n) memcpy(nv, *v, sizeof *nv * *n);
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *c;
    return 0;
}

/* The cells one operation that reads writes, given the view w. */
static int op_cells(const ex_listop *op, const view *w, hln_arena *a, hln_error *err, st_cell **v,
                    uint32_t *nv, uint32_t *cap)
{
    uint32_t nrun;
    const st_cell *run = column_run(w, op->col_id, &nrun);
    st_cell c = {.col_id = op->col_id, .ts = op->ts, .flags = ST_CELL_TOMBSTONE};
    int rc = 0;
    if (op->kind == EX_LISTOP_REMOVE) {
        hln_rd rd;
        uint32_t ne;
        if (hln_coll_begin(&rd, op->v.p, (size_t)op->v.len, &ne))
            return hln_fail(err, HLN_EINVAL, "Invalid list value");
        for (uint32_t k = 0; k < ne && !rc; k++) {
            const uint8_t *e;
            int32_t elen;
            if (hln_coll_next(&rd, &e, &elen) || elen < 0)
                return hln_fail(err, HLN_EINVAL, "Invalid list value");
            for (uint32_t j = 0; j < nrun && !rc; j++)
                if (run[j].len == (uint32_t)elen &&
                    (!elen || !memcmp(run[j].val, e, (size_t)elen))) {
                    c.path = run[j].path;
                    c.pathlen = run[j].pathlen;
                    rc = push(a, err, v, nv, cap, &c);
                }
        }
        return rc;
    }
    if (nrun == 0)
        return hln_fail(err, HLN_EINVAL,
                        op->kind == EX_LISTOP_SET
                            ? "Attempted to set an element on a list which is null"
                            : "Attempted to delete an element from a list which is null");
    if (op->idx < 0 || (uint32_t)op->idx >= nrun)
        return hln_fail(err, HLN_EINVAL, "List index %d out of bound, list has size %u", op->idx,
                        nrun);
    if (op->kind == EX_LISTOP_SET && op->v.len == -2) return 0; /* unset: checked only */
    c.path = run[op->idx].path;
    c.pathlen = run[op->idx].pathlen;
    if (op->kind == EX_LISTOP_SET && op->v.len >= 0) {
        c.flags = 0;
        c.val = op->v.len ? op->v.p : EMPTY;
        c.len = (uint32_t)op->v.len;
        c.ttl = op->ttl;
        c.expires = op->expires;
    }
    return push(a, err, v, nv, cap, &c);
}

int ex_listops_cells(const ex_listop *ops, int n, const st_row *cur, hln_arena *a, hln_error *err,
                     st_cell **out, uint32_t *nout)
{
    st_cell *v = NULL;
    uint32_t nv = 0, cap = 0;
    view w = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const ex_listop *op = &ops[i];
        if (i == 0 || op->seq != ops[i - 1].seq) rc = view_reset(&w, cur, a, err);
        if (rc) break;
        if (op->kind == EX_LISTOP_CELLS) {
            for (uint32_t k = 0; k < op->ncells && !rc; k++)
                rc = view_apply(&w, &op->cells[k], a, err);
            continue;
        }
        uint32_t from = nv;
        rc = op_cells(op, &w, a, err, &v, &nv, &cap);
        for (uint32_t k = from; k < nv && !rc; k++)
            rc = view_apply(&w, &v[k], a, err);
    }
    if (rc) return rc;
    ex_cells cv = {v, nv, cap};
    ex_cells_sort(&cv);
    *out = v;
    *nout = nv;
    return 0;
}

static bool same_row(const ex_listop *x, const ex_listop *y)
{
    return x->token == y->token && x->pklen == y->pklen && x->is_static == y->is_static &&
           !memcmp(x->table_id, y->table_id, 16) && !memcmp(x->pk, y->pk, x->pklen) &&
           (x->is_static ||
            (x->cklen == y->cklen && (!x->cklen || !memcmp(x->ck, y->ck, x->cklen))));
}

/* The read of op's row: exactly its clustering key, or the static row. */
static void row_read(const ex_listop *op, st_read_cmd *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c->table_id, op->table_id, 16);
    c->pk = op->pk;
    c->pklen = op->pklen;
    c->token = op->token;
    if (op->is_static) {
        c->start = (st_bound){STATIC_CK, 0, true};
        c->end = (st_bound){STATIC_CK, 1, false};
    } else {
        c->start = c->end = (st_bound){op->cklen ? op->ck : EMPTY, op->cklen, true};
    }
    c->limit = 1;
    c->now_sec = hln_now_micros() / 1000000;
}

/* The row a read of op's row returned (NULL: none). */
static const st_row *row_of(const ex_listop *op, const st_partition *part)
{
    if (!part || !part->nrows) return NULL;
    const st_row *row = &part->rows[0];
    if (op->is_static) return row->cklen == 0 ? row : NULL;
    return row;
}

/* One row's mutation for the operations of ops equal to ops[first]'s row. */
static int row_mutation(const ex_listop *ops, int n, int first, const st_row *cur, hln_arena *a,
                        hln_error *err, st_mutation *out, bool *done)
{
    ex_listop *mine = hln_arena_alloc(a, sizeof *mine * (size_t)n);
    st_row *row = hln_arena_alloc(a, sizeof *row);
    if (!mine || !row) return hln_fail(err, HLN_ENOMEM, "out of memory");
    int k = 0;
    for (int i = first; i < n; i++)
        if (!done[i] && same_row(&ops[first], &ops[i])) {
            mine[k++] = ops[i];
            done[i] = true;
        }
    const ex_listop *op = &ops[first];
    *row = (st_row){.ck = op->is_static ? STATIC_CK
                          : op->cklen   ? op->ck
                                        : EMPTY,
                    .cklen = op->is_static ? 0 : op->cklen,
                    .marker_ts = HLN_TS_NONE,
                    .del_ts = HLN_TS_NONE};
    int rc = ex_listops_cells(mine, k, cur, a, err, &row->cells, &row->ncells);
    if (rc) return rc;
    *out = (st_mutation){.pk = op->pk,
                         .pklen = op->pklen,
                         .token = op->token,
                         .pdel_ts = HLN_TS_NONE,
                         .rows = row,
                         .nrows = row->ncells ? 1 : 0};
    memcpy(out->table_id, op->table_id, 16);
    return 0;
}

int ex_listops_resolve(st_engine *s, const st_mutation *m, const ex_listop *ops, int n,
                       hln_arena *a, hln_error *err, st_mutation *out)
{
    *out = *m;
    bool *done = hln_arena_alloc(a, sizeof *done * (size_t)(n ? n : 1));
    st_row *rows = hln_arena_alloc(a, sizeof *rows * (m->nrows + (uint32_t)n));
    if (!done || !rows) return hln_fail(err, HLN_ENOMEM, "out of memory");
    memset(done, 0, sizeof *done * (size_t)(n ? n : 1));
    if (m->nrows) memcpy(rows, m->rows, sizeof *rows * m->nrows);
    out->rows = rows;
    for (int i = 0; i < n; i++) {
        if (done[i]) continue;
        st_read_cmd c;
        row_read(&ops[i], &c);
        st_partition *part = NULL;
        int rc = ops[i].no_read ? 0 : st_read(s, &c, a, &part, err);
        st_mutation rm;
        if (!rc) rc = row_mutation(ops, n, i, row_of(&ops[i], part), a, err, &rm, done);
        if (rc) return rc;
        if (rm.nrows) rows[out->nrows++] = rm.rows[0];
    }
    return 0;
}

int ex_listops_pack(hln_arena *a, ex_listop *ops, int n)
{
    for (int i = 0; i < n; i++) {
        ex_listop *op = &ops[i];
        if (op->v.len > 0 && !(op->v.p = hln_arena_memdup(a, op->v.p, (size_t)op->v.len)))
            return HLN_ENOMEM;
        if (op->pklen && !(op->pk = hln_arena_memdup(a, op->pk, op->pklen))) return HLN_ENOMEM;
        if (op->cklen && !(op->ck = hln_arena_memdup(a, op->ck, op->cklen))) return HLN_ENOMEM;
        if (op->ncells) {
            st_cell *cs = hln_arena_memdup(a, op->cells, sizeof *cs * op->ncells);
            if (!cs) return HLN_ENOMEM;
            for (uint32_t k = 0; k < op->ncells; k++) {
                if (cs[k].pathlen && !(cs[k].path = hln_arena_memdup(a, cs[k].path, cs[k].pathlen)))
                    return HLN_ENOMEM;
                if (cs[k].len && !(cs[k].val = hln_arena_memdup(a, cs[k].val, cs[k].len)))
                    return HLN_ENOMEM;
            }
            op->cells = cs;
        }
    }
    return 0;
}

/* ---- origin side: read first, then build -------------------------------- */

static void fetch_done(ex_request *r)
{
    ex_state *st = ex_st(r);
    int rc = ex_batch_error(r);
    int n = st->nlops;
    bool *done = rc ? NULL : hln_arena_alloc(&r->arena, sizeof *done * (size_t)n);
    st_mutation *lm = rc ? NULL : hln_arena_alloc(&r->arena, sizeof *lm * (size_t)n);
    if (!rc && (!done || !lm)) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (done) memset(done, 0, sizeof *done * (size_t)n);
    int nm = 0;
    const ex_op *op = st->cur; /* one read per row, in the order of the rows' first op */
    for (int i = 0; i < n && !rc; i++) {
        if (done[i]) continue;
        if (!op) {
            rc = hln_fail(&r->err, HLN_ESERVER, "list operation lost its read");
            break;
        }
        rc = row_mutation(st->lops, n, i, row_of(&st->lops[i], op->parts), &r->arena, &r->err,
                          &lm[nm], done);
        if (!rc && lm[nm].nrows) nm++;
        op = op->next_batch;
    }
    st->nlops = 0;
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    st->lmuts = lm;
    st->nlmuts = nm;
    st->lthen(r);
}

void ex_listops_fetch(ex_request *r, ex_then_fn then)
{
    ex_state *st = ex_st(r);
    st->lmuts = NULL;
    st->nlmuts = 0;
    if (!st->nlops) {
        then(r);
        return;
    }
    int n = st->nlops;
    bool *seen = hln_arena_alloc(&r->arena, sizeof *seen * (size_t)n);
    if (!seen) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    memset(seen, 0, sizeof *seen * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (seen[i]) continue;
        for (int j = i; j < n; j++)
            if (!seen[j] && same_row(&st->lops[i], &st->lops[j])) seen[j] = true;
        ex_op *op =
            ex_op_new(r, EX_OP_READ, rt_shard_for_token(st->eng->nshards, st->lops[i].token));
        if (!op) {
            ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
            return;
        }
        row_read(&st->lops[i], &op->read);
    }
    st->lthen = then;
    ex_dispatch(r, fetch_done);
}
