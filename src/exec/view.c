/*
 * view.c — keeping materialized views equal to the projection of their base.
 *
 * What: every mutation of a table that has views is applied here, on the
 * base partition's owning shard, instead of by a bare st_apply: the base
 * rows the mutation touches are read, the mutation is applied, the same
 * rows are read again, and for each view and each row the view row before
 * and after is computed (ex_view_apply). The difference comes back as view
 * mutations (ex_op.vmuts), which the coordinator (coord.c) dispatches to
 * the views' shards before the statement's continuation runs. Before the
 * base write, the write and tombstones of its rows' view rows before go to
 * this shard's batchlog; replay after a crash (ex_view_replay) re-applies
 * the write and recomputes the view rows, so views survive crashes at any
 * point. CREATE
 * MATERIALIZED VIEW builds a view from existing data with the same
 * projection, over a scan of the base on each shard (ex_view_build).
 *
 * Why read-apply-read on the owning shard: a shard thread runs one
 * operation at a time, so no other writer of the partition on this node
 * comes between the reads and the write; the view rows computed are those
 * of the base state the write produced, whatever the order in which
 * concurrent writers reached the shard (the serialisation cas.c relies
 * on). Reading again after the write lets storage reconcile timestamps,
 * TTLs and tombstones instead of a second implementation of the merge.
 *
 * Timestamps: view cells are written at a node-wide monotonic clock
 * (view_clock), not at the base cells' timestamps: a view row is written
 * whole each time — a row tombstone at T, then marker and cells at T + 1 —
 * so the newest computation wins over every earlier one, including a key
 * that moves away and back, or a base write with an old USING TIMESTAMP
 * (Cassandra needs shadowable tombstones for that). writetime() of a view
 * column is therefore when the view row was last written.
 *
 * TTL: a view cell keeps its base cell's TTL and expiry. When the view
 * key includes a regular base column, the view row (marker and every
 * cell) expires no later than that column's cell; otherwise the view
 * marker copies the base row marker, or, for a row alive only through
 * cells, lives as long as its longest-lived cell.
 *
 * Invariants:
 *  1. Runs on the owning shard's thread only (from op_exec and cas.c);
 *     reads only immutable schema objects of the op's snapshot.
 *  2. View mutations are allocated in the op's result arena, so the
 *     origin reads them after the reply like any result.
 *  3. A view row exists iff the base row is live, every view key column
 *     has a value, and the base key passes the view's WHERE restrictions.
 */
#include <stdatomic.h>
#include <string.h>

#include "exec/execInt.h"

#define VIEW_MAX 64 /* views per base table considered */

static _Atomic int64_t view_clock;

/* T with T > every earlier T + 1 on this node (the row tombstone's; T + 1
 * is the new row's timestamp). */
static int64_t view_ts(void)
{
    int64_t old = atomic_load(&view_clock), n;
    do {
        n = hln_now_micros();
        if (n < old + 2) n = old + 2;
    } while (!atomic_compare_exchange_weak(&view_clock, &old, n));
    return n - 1;
}

/* A base row's key values, decoded (serialized form, arena memory). */
typedef struct vkey {
    const uint8_t **v;
    size_t *l;
} vkey;

static int decode_keys(const hln_table *t, const uint8_t *pk, uint32_t pklen, const uint8_t *ck,
                       uint32_t cklen, hln_arena *a, vkey *out)
{
    int n = t->npk + t->nck;
    out->v = hln_arena_alloc(a, sizeof *out->v * (size_t)(n ? n : 1));
    out->l = hln_arena_alloc(a, sizeof *out->l * (size_t)(n ? n : 1));
    if (!out->v || !out->l) return HLN_ENOMEM;
    if (hln_pk_split(pk, pklen, t->npk, out->v, out->l)) return HLN_ECORRUPT;
    hln_rd rd;
    hln_rd_init(&rd, ck, cklen);
    for (int i = 0; i < t->nck; i++) {
        const hln_column *c = &t->cols[t->npk + i];
        if (hln_rd_left(&rd) == 0 || hln_rd_u8(&rd) != 0x40) return HLN_ECORRUPT;
        hln_buf b;
        hln_buf_init(&b);
        int rc = hln_type_from_comparable(c->type, &rd, c->desc, &b);
        if (!rc && b.err) rc = HLN_ENOMEM;
        static const uint8_t empty[1];
        out->v[t->npk + i] = rc ? NULL : b.len ? hln_arena_memdup(a, b.data, b.len) : empty;
        out->l[t->npk + i] = b.len;
        hln_buf_free(&b);
        if (rc) return rc;
        if (!out->v[t->npk + i]) return HLN_ENOMEM;
    }
    return 0;
}

static const st_cell *cells_of(const st_row *row, uint32_t col_id, uint32_t *n)
{
    uint32_t i = 0;
    while (i < row->ncells && row->cells[i].col_id < col_id)
        i++;
    uint32_t j = i;
    while (j < row->ncells && row->cells[j].col_id == col_id)
        j++;
    *n = j - i;
    return j > i ? &row->cells[i] : NULL;
}

/* A view row computed from a base row. */
typedef struct vrow {
    bool present;
    const uint8_t *pk, *ck;
    uint32_t pklen, cklen;
    int64_t token;
    st_row row; /* marker and cells (timestamps filled by the caller) */
} vrow;

/* Whether the base row's key values pass the view's WHERE restrictions
 * (all on base key columns). */
static bool passes(const hln_table *base, const hln_table *v, const vkey *k)
{
    for (int i = 0; i < v->nrestr; i++) {
        const hln_view_restr *x = &v->restr[i];
        const hln_column *bc = table_column(base, x->col);
        if (!bc) return false;
        int bi = (int)(bc - base->cols);
        if (bi >= base->npk + base->nck) return false;
        bool ok = false;
        for (int j = 0; j < x->nvals && !ok; j++) {
            int c = hln_type_compare(bc->type, k->v[bi], k->l[bi], x->vals[j], x->lens[j]);
            const char *op = x->op;
            ok = !strcmp(op, "=") || !strcmp(op, "IN") ? c == 0
                 : !strcmp(op, "<")                    ? c < 0
                 : !strcmp(op, "<=")                   ? c <= 0
                 : !strcmp(op, ">")                    ? c > 0
                 : !strcmp(op, ">=")                   ? c >= 0
                                                       : false;
        }
        if (!ok) return false;
    }
    return true;
}

/* The view row of base row `row` (live, from a read) of partition pk;
 * row NULL: none. */
static int project(const hln_table *base, const hln_table *v, const uint8_t *pk, uint32_t pklen,
                   const st_row *row, hln_arena *a, vrow *out)
{
    memset(out, 0, sizeof *out);
    if (!row) return 0;
    vkey k;
    int rc = decode_keys(base, pk, pklen, row->ck, row->cklen, a, &k);
    if (rc) return rc;
    if (!passes(base, v, &k)) return 0;
    int nkey = v->npk + v->nck;
    const uint8_t **kv = hln_arena_alloc(a, sizeof *kv * (size_t)nkey);
    size_t *kl = hln_arena_alloc(a, sizeof *kl * (size_t)nkey);
    if (!kv || !kl) return HLN_ENOMEM;
    const st_cell *keycell = NULL; /* a regular base column in the view key */
    for (int i = 0; i < nkey; i++) {
        const hln_column *bc = table_column(base, v->cols[i].name);
        if (!bc) return 0; /* not in the base any more: no row */
        int bi = (int)(bc - base->cols);
        if (bi < base->npk + base->nck) {
            kv[i] = k.v[bi];
            kl[i] = k.l[bi];
            continue;
        }
        uint32_t n;
        const st_cell *c = cells_of(row, bc->id, &n);
        if (!c || n != 1 || c->pathlen) return 0; /* null: not in the view */
        static const uint8_t empty[1];
        kv[i] = c->len ? c->val : empty;
        kl[i] = c->len;
        keycell = c;
    }
    /* the view's keys */
    hln_buf b;
    hln_buf_init(&b);
    hln_pk_compose(kv, kl, v->npk, &b);
    if (b.err) {
        hln_buf_free(&b);
        return HLN_ENOMEM;
    }
    out->pklen = (uint32_t)b.len;
    out->pk = hln_arena_memdup(a, b.data, b.len ? b.len : 1);
    out->token = hln_murmur3_token(b.data, b.len);
    b.len = 0;
    for (int i = 0; i < v->nck; i++) {
        const hln_column *vc = &v->cols[v->npk + i];
        hln_buf_u8(&b, 0x40);
        rc = hln_type_to_comparable(vc->type, kv[v->npk + i], kl[v->npk + i], vc->desc, &b);
        if (rc) break;
    }
    if (!rc && b.err) rc = HLN_ENOMEM;
    if (!rc) {
        out->cklen = (uint32_t)b.len;
        out->ck = hln_arena_memdup(a, b.data, b.len ? b.len : 1);
    }
    hln_buf_free(&b);
    if (rc) return rc;
    if (!out->pk || !out->ck) return HLN_ENOMEM;

    /* liveness */
    int32_t cap_ttl = 0;
    int64_t cap_exp = 0;
    st_row *vr = &out->row;
    vr->ck = out->ck;
    vr->cklen = out->cklen;
    if (keycell) {
        cap_ttl = keycell->ttl;
        cap_exp = keycell->expires;
        vr->marker_ttl = cap_ttl;
        vr->marker_expires = cap_exp;
    } else if (row->marker_ts != HLN_TS_NONE) {
        vr->marker_ttl = row->marker_ttl;
        vr->marker_expires = row->marker_expires;
    } else {
        /* alive through its cells only: as long as the longest-lived one */
        int64_t last = 0;
        int32_t ttl = 0;
        for (uint32_t i = 0; i < row->ncells; i++) {
            if (row->cells[i].expires == 0) {
                last = 0;
                ttl = 0;
                break;
            }
            if (row->cells[i].expires > last) {
                last = row->cells[i].expires;
                ttl = row->cells[i].ttl;
            }
        }
        vr->marker_ttl = ttl;
        vr->marker_expires = last;
    }
    /* cells of the view's regular columns */
    vr->cells = hln_arena_alloc(a, sizeof *vr->cells * (size_t)(row->ncells ? row->ncells : 1));
    if (!vr->cells) return HLN_ENOMEM;
    for (int i = nkey; i < v->ncols; i++) {
        const hln_column *vc = &v->cols[i];
        const hln_column *bc = table_column(base, vc->name);
        if (!bc) continue;
        uint32_t n;
        const st_cell *c = cells_of(row, bc->id, &n);
        for (uint32_t j = 0; c && j < n; j++) {
            st_cell x = c[j];
            x.col_id = vc->id;
            if (cap_exp && (x.expires == 0 || x.expires > cap_exp)) {
                x.expires = cap_exp;
                x.ttl = cap_ttl;
            }
            vr->cells[vr->ncells++] = x;
        }
    }
    out->present = true;
    return 0;
}

/* Sorts cells by view column id (view columns are in a different order
 * than the base's): insertion sort, rows are small. Paths of one column
 * keep their order. */
static void sort_cells(st_row *r)
{
    for (uint32_t i = 1; i < r->ncells; i++) {
        st_cell x = r->cells[i];
        uint32_t j = i;
        while (j > 0 && r->cells[j - 1].col_id > x.col_id) {
            r->cells[j] = r->cells[j - 1];
            j--;
        }
        r->cells[j] = x;
    }
}

/* Growing list of view mutations in arena memory. */
typedef struct vlist {
    st_mutation *m;
    uint32_t n, cap;
} vlist;

static st_mutation *vlist_add(vlist *l, hln_arena *a)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        st_mutation *m = hln_arena_alloc(a, sizeof *m * cap);
        if (!m) return NULL;
        if (l->n) memcpy(m, l->m, sizeof *m * l->n);
        l->m = m;
        l->cap = cap;
    }
    st_mutation *m = &l->m[l->n++];
    memset(m, 0, sizeof *m);
    m->pdel_ts = HLN_TS_NONE;
    return m;
}

/* The view mutations taking view v from `before` to `after` (either may
 * be absent) for one base row. */
static int diff(const hln_table *v, const vrow *before, const vrow *after, hln_arena *a, vlist *out)
{
    if (!before->present && !after->present) return 0;
    int64_t T = view_ts();
    bool same = before->present && after->present && before->pklen == after->pklen &&
                before->cklen == after->cklen && !memcmp(before->pk, after->pk, after->pklen) &&
                !memcmp(before->ck, after->ck, after->cklen);
    if (before->present && !same) {
        st_mutation *m = vlist_add(out, a);
        st_row *r = hln_arena_alloc(a, sizeof *r);
        if (!m || !r) return HLN_ENOMEM;
        memcpy(m->table_id, v->id, 16);
        m->pk = before->pk;
        m->pklen = before->pklen;
        m->token = before->token;
        r->ck = before->ck;
        r->cklen = before->cklen;
        r->marker_ts = HLN_TS_NONE;
        r->del_ts = T;
        m->rows = r;
        m->nrows = 1;
    }
    if (after->present) {
        st_mutation *m = vlist_add(out, a);
        st_row *r = hln_arena_alloc(a, sizeof *r);
        if (!m || !r) return HLN_ENOMEM;
        memcpy(m->table_id, v->id, 16);
        m->pk = after->pk;
        m->pklen = after->pklen;
        m->token = after->token;
        *r = after->row;
        r->del_ts = T;
        r->marker_ts = T + 1;
        for (uint32_t i = 0; i < r->ncells; i++) {
            r->cells[i].ts = T + 1;
            r->cells[i].flags = 0;
        }
        sort_cells(r);
        m->rows = r;
        m->nrows = 1;
    }
    return 0;
}

/* What one base mutation needs read: the rows it names, or everything. */
static bool whole_partition(const hln_table *t, const st_mutation *m)
{
    return m->pdel_ts != HLN_TS_NONE || m->nrts > 0 || t->nck == 0 || m->nrows > 16;
}

/* The live rows of m's partition that m can affect, into *rows. */
static int read_rows(st_engine *s, const hln_table *t, const st_mutation *m, int64_t now_sec,
                     hln_arena *a, st_row **rows, uint32_t *nrows, hln_error *err)
{
    *rows = NULL;
    *nrows = 0;
    st_read_cmd cmd = {0};
    memcpy(cmd.table_id, m->table_id, 16);
    cmd.pk = m->pk;
    cmd.pklen = m->pklen;
    cmd.token = m->token;
    cmd.now_sec = now_sec;
    cmd.start.inclusive = cmd.end.inclusive = true;
    if (whole_partition(t, m)) {
        st_partition *p = NULL;
        int rc = st_read(s, &cmd, a, &p, err);
        if (rc) return rc;
        if (p) {
            *rows = p->rows;
            *nrows = p->nrows;
        }
        return 0;
    }
    st_row *out = hln_arena_alloc(a, sizeof *out * m->nrows);
    if (!out) return HLN_ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->nrows; i++) {
        if (m->rows[i].cklen == 0) continue; /* the static row */
        cmd.start.key = cmd.end.key = m->rows[i].ck;
        cmd.start.len = cmd.end.len = m->rows[i].cklen;
        st_partition *p = NULL;
        int rc = st_read(s, &cmd, a, &p, err);
        if (rc) return rc;
        for (uint32_t j = 0; p && j < p->nrows; j++)
            out[n++] = p->rows[j];
    }
    *rows = out;
    *nrows = n;
    return 0;
}

static int ck_cmp(const st_row *x, const st_row *y)
{
    uint32_t n = x->cklen < y->cklen ? x->cklen : y->cklen;
    int c = n ? memcmp(x->ck, y->ck, n) : 0;
    if (c) return c;
    return x->cklen < y->cklen ? -1 : x->cklen > y->cklen;
}

/* View mutations for every view of t, from the rows before and after
 * (both in clustering order, as storage returns them and mutations hold
 * them): a merge walk pairs the two versions of each row. */
static int diff_rows(const hln_table *t, const hln_table *const *views, int nv,
                     const st_mutation *m, const st_row *bef, uint32_t nb, const st_row *aft,
                     uint32_t na, hln_arena *a, vlist *out)
{
    uint32_t i = 0, j = 0;
    while (i < nb || j < na) {
        const st_row *b = i < nb ? &bef[i] : NULL, *f = j < na ? &aft[j] : NULL;
        if (b && f) {
            int c = ck_cmp(b, f);
            if (c < 0)
                f = NULL;
            else if (c > 0)
                b = NULL;
        }
        if (b) i++;
        if (f) j++;
        const st_row *row = b ? b : f;
        if (t->nck > 0 && row->cklen == 0) continue; /* static row */
        for (int vi = 0; vi < nv; vi++) {
            vrow vb, va;
            int rc = project(t, views[vi], m->pk, m->pklen, b, a, &vb);
            if (!rc) rc = project(t, views[vi], m->pk, m->pklen, f, a, &va);
            if (!rc) rc = diff(views[vi], &vb, &va, a, out);
            if (rc) return rc;
        }
    }
    return 0;
}

/* Logs a build page's view mutations in this shard's batchlog, so a crash
 * before they are all applied re-applies them at the next start (their
 * timestamps are fixed, so replaying them after newer view writes changes
 * nothing). A failure to log is reported and the page goes on unlogged. */
static void log_view_updates(ex_op *op, hln_arena *a)
{
    if (!op->nvmuts) return;
    hln_engine *e = op->origin->eng;
    hln_error lerr = {0};
    if (ex_batchlog_write_shard(e, op->target, op->vmuts, op->nvmuts, a, &op->vlog, &lerr)) {
        op->vlog = NULL;
        HLN_WARN("views: cannot log view updates (%s); applying them unlogged", lerr.msg);
    }
}

/* The view-aware apply of ms[0..n) on shard `shard` (engine e, storage s):
 * read before, [log], apply, read after, diff into *out. With log, the
 * base mutations and the view tombstones of the rows before are written to
 * the shard's batchlog first (*vlog: the entry), so a crash at any point
 * after that is repaired at the next start by replaying the entry
 * (ex_view_replay): the base applied again, the old view rows deleted, the
 * view rows of the base as it is then written. */
static int view_apply(const hln_schema *schema, hln_engine *e, int shard, bool log, st_engine *s,
                      hln_arena *a, const st_mutation *ms, uint32_t n, vlist *out, char **vlog,
                      hln_error *err)
{
    /* which mutations have views */
    const hln_table **tabs = NULL;
    bool any = false;
    for (uint32_t i = 0; schema && i < n; i++) {
        const hln_table *t = schema_table_by_id(schema, ms[i].table_id);
        const hln_table *vs[1];
        if (!t || t->is_view || schema_views_of(schema, t, vs, 1) == 0) continue;
        if (!tabs) {
            tabs = hln_arena_alloc(a, sizeof *tabs * n);
            if (!tabs) return hln_fail(err, HLN_ENOMEM, "out of memory");
        }
        tabs[i] = t;
        any = true;
    }
    if (!any) return n == 1 ? st_apply(s, ms, err) : st_apply_batch(s, ms, n, err);

    int64_t now_sec = hln_now_micros() / 1000000;
    st_row **bef = hln_arena_alloc(a, sizeof *bef * n);
    uint32_t *nb = hln_arena_alloc(a, sizeof *nb * n);
    if (!bef || !nb) return hln_fail(err, HLN_ENOMEM, "out of memory");
    vlist pre = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (!tabs[i]) continue;
        int rc = read_rows(s, tabs[i], &ms[i], now_sec, a, &bef[i], &nb[i], err);
        if (rc) return rc;
        if (!log) continue;
        const hln_table *views[VIEW_MAX];
        int nv = schema_views_of(schema, tabs[i], views, VIEW_MAX);
        if (nv > VIEW_MAX) nv = VIEW_MAX;
        /* the view rows of the rows before, as tombstones (no rows after) */
        rc = diff_rows(tabs[i], views, nv, &ms[i], bef[i], nb[i], NULL, 0, a, &pre);
        if (rc) return hln_fail(err, rc, "cannot compute view rows");
    }
    if (log) {
        st_mutation *ent = hln_arena_alloc(a, sizeof *ent * (n + pre.n));
        if (!ent) return hln_fail(err, HLN_ENOMEM, "out of memory");
        memcpy(ent, ms, sizeof *ent * n);
        if (pre.n) memcpy(ent + n, pre.m, sizeof *ent * pre.n);
        hln_error lerr = {0};
        if (ex_batchlog_write_shard(e, shard, ent, n + pre.n, a, vlog, &lerr)) {
            *vlog = NULL;
            HLN_WARN("views: cannot log a write to a table with views (%s); applying it unlogged",
                     lerr.msg);
        }
    }
    int rc = n == 1 ? st_apply(s, ms, err) : st_apply_batch(s, ms, n, err);
    if (rc) return rc;
    for (uint32_t i = 0; i < n; i++) {
        if (!tabs[i]) continue;
        st_row *aft;
        uint32_t na;
        if ((rc = read_rows(s, tabs[i], &ms[i], now_sec, a, &aft, &na, err)) != 0) return rc;
        const hln_table *views[VIEW_MAX];
        int nv = schema_views_of(schema, tabs[i], views, VIEW_MAX);
        if (nv > VIEW_MAX) nv = VIEW_MAX;
        rc = diff_rows(tabs[i], views, nv, &ms[i], bef[i], nb[i], aft, na, a, out);
        if (rc) return hln_fail(err, rc, "cannot compute view rows");
    }
    return 0;
}

int ex_view_apply(ex_op *op, st_engine *s, hln_arena *a, const st_mutation *ms, uint32_t n,
                  hln_error *err)
{
    vlist out = {0};
    const hln_schema *schema = op ? op->schema : NULL;
    hln_engine *e = op ? op->origin->eng : NULL;
    /* A request analysed before a DDL (CREATE or DROP MATERIALIZED VIEW
       among them) may reach the shard after it was published: its views
       are those of the current snapshot, so a write that lands after a
       view's build scanned this shard still updates the view, and none
       goes to a dropped one. Checked without a lock; the current snapshot
       is taken only when the request's is not it. */
    hln_schema *fresh = NULL;
    if (schema && e && schema->gen != catalog_generation(e->catalog)) {
        fresh = catalog_acquire(e->catalog);
        schema = fresh;
    }
    int rc = view_apply(schema, e, op ? op->target : 0, op != NULL, s, a, ms, n, &out,
                        op ? &op->vlog : NULL, err);
    if (fresh) schema_release(fresh);
    if (rc) return rc;
    if (op) {
        op->vmuts = out.m;
        op->nvmuts = out.n;
    }
    return 0;
}

int ex_view_replay(const hln_schema *schema, st_engine *s, hln_arena *a, const st_mutation *ms,
                   uint32_t n, st_mutation **vm, uint32_t *nvm, hln_error *err)
{
    vlist out = {0};
    int rc = view_apply(schema, NULL, 0, false, s, a, ms, n, &out, NULL, err);
    *vm = out.m;
    *nvm = rc ? 0 : out.n;
    return rc;
}

#define BUILD_PAGE 2048 /* base rows per build step on a shard */

int ex_view_build(ex_op *op, st_engine *s, hln_arena *a, hln_error *err)
{
    op->build_done = true;
    const hln_table *v = schema_table_by_id(op->schema, op->table_id);
    const hln_table *t = v && v->is_view ? schema_table_by_id(op->schema, v->base_id) : NULL;
    if (!t) return 0; /* dropped meanwhile */
    st_scan_cmd cmd = op->scan;
    memcpy(cmd.table_id, t->id, 16);
    cmd.end_token = INT64_MAX;
    cmd.now_sec = hln_now_micros() / 1000000;
    cmd.limit = BUILD_PAGE;
    st_partition *p = NULL;
    int rc = st_scan(s, &cmd, a, &p, err);
    if (rc) return rc;
    uint32_t rows = 0, nparts = 0;
    st_partition *last = NULL, *prev = NULL;
    for (st_partition *x = p; x; x = x->next) {
        rows += x->nrows;
        nparts++;
        prev = last;
        last = x;
    }
    if (rows >= BUILD_PAGE && last) {
        /* the page may have cut the last partition short: it is read
           whole, alone, when it is the only one, else next time */
        op->build_done = false;
        if (nparts > 1) {
            prev->next = NULL;
            last = prev;
        } else {
            st_read_cmd rd = {0};
            memcpy(rd.table_id, t->id, 16);
            rd.pk = last->pk;
            rd.pklen = last->pklen;
            rd.token = last->token;
            rd.start.inclusive = rd.end.inclusive = true;
            rd.now_sec = cmd.now_sec;
            st_partition *whole = NULL;
            if ((rc = st_read(s, &rd, a, &whole, err)) != 0) return rc;
            if (whole) last->rows = whole->rows, last->nrows = whole->nrows;
        }
        op->build_token = last->token;
        op->build_pk = last->pk;
        op->build_pklen = last->pklen;
    }
    vlist out = {0};
    const hln_table *views[1] = {v};
    for (; p; p = p->next) {
        st_mutation m = {0};
        m.pk = p->pk;
        m.pklen = p->pklen;
        rc = diff_rows(t, views, 1, &m, NULL, 0, p->rows, p->nrows, a, &out);
        if (rc) return hln_fail(err, rc, "cannot compute view rows");
    }
    op->vmuts = out.m;
    op->nvmuts = out.n;
    log_view_updates(op, a);
    return 0;
}
