/*
 * cells.c — non-frozen collections and UDTs as storage cells, both ways.
 *
 * What: turns the assignments of an INSERT/UPDATE/DELETE on a non-frozen
 * list, set or map into cells with paths (st_cell.path) and column
 * deletions (ST_CELL_COLDEL), and turns the live cells of such a column
 * back into the collection's serialized value for SELECT.
 *
 * Cell paths (byte-comparable, so storage keeps elements in CQL order):
 *   set  path = comparable(element), value empty
 *   map  path = comparable(key), value = the value
 *   list path = 16 bytes: be64(position ^ 2^63) || be64(tie), value = the
 *        element. Appends take position = a per-thread strictly increasing
 *        clock (microseconds), prepends position = -clock, so later appends
 *        sort after and later prepends before everything; the elements of
 *        one statement share the position and are ordered by tie =
 *        (index << 40 | 40 random bits), which also keeps two writers with
 *        the same clock reading apart. This is the role Cassandra's
 *        time-based list cell names play.
 *
 * Semantics (Cassandra's Lists/Sets/Maps operations):
 *   c = value        COLDEL at ts-1, then every element at ts (so the new
 *                    elements survive the deletion that clears the old)
 *   c = null, DELETE c   COLDEL at ts
 *   c = c + value    elements added (list: appended)
 *   l = value + l    elements prepended
 *   s = s - value    element tombstones;  m = m - {k}: key tombstones
 *   l = l - value    tombstones for every current element equal to one of
 *                    value's (an ex_listop: listops.c, once the row is read)
 *   m[k] = v         one cell (v null: a tombstone)
 *   l[i] = v, DELETE l[i]   the i-th current element's path (an ex_listop
 *                    too), "List index i out of bound" when absent
 *
 * Invariants: every cell, path and value is r->arena memory (or points into
 * bound values, which outlive the mutation); cells are returned sorted as
 * storage.h asks (by column, COLDEL first, then path).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

static const uint8_t EMPTY[1];

int ex_cells_push(ex_request *r, ex_cells *cv, const st_cell *c)
{
    if (cv->n == cv->cap) {
        uint32_t cap = cv->cap ? cv->cap * 2 : 8;
        st_cell *nv = hln_arena_alloc(&r->arena, sizeof *nv * cap);
        if (!nv) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (cv->n) memcpy(nv, cv->v, sizeof *nv * cv->n);
        cv->v = nv;
        cv->cap = cap;
    }
    cv->v[cv->n++] = *c;
    return 0;
}

static int cell_cmp(const void *pa, const void *pb)
{
    const st_cell *a = pa, *b = pb;
    if (a->col_id != b->col_id) return a->col_id < b->col_id ? -1 : 1;
    bool ad = a->flags & ST_CELL_COLDEL, bd = b->flags & ST_CELL_COLDEL;
    if (ad != bd) return ad ? -1 : 1;
    uint32_t m = a->pathlen < b->pathlen ? a->pathlen : b->pathlen;
    int c = m ? memcmp(a->path, b->path, m) : 0;
    if (c) return c;
    return (a->pathlen > b->pathlen) - (a->pathlen < b->pathlen);
}

void ex_cells_sort(ex_cells *cv)
{
    if (cv->n > 1) qsort(cv->v, cv->n, sizeof *cv->v, cell_cmp);
}

/* ---- paths ------------------------------------------------------------ */

static int comparable_path(ex_request *r, const hln_type *t, const uint8_t *v, int32_t len,
                           const uint8_t **path, uint32_t *plen)
{
    hln_buf b;
    hln_buf_init(&b);
    int rc = hln_type_to_comparable(t, v, (size_t)(len < 0 ? 0 : len), false, &b);
    if (!rc && b.err) rc = HLN_ENOMEM;
    if (!rc) {
        *path = hln_arena_memdup(&r->arena, b.data, b.len ? b.len : 1);
        *plen = (uint32_t)b.len;
        if (!*path) rc = HLN_ENOMEM;
    }
    hln_buf_free(&b);
    if (rc == HLN_ENOMEM) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (rc) return hln_fail(&r->err, HLN_EINVAL, "Invalid value for a collection element");
    return 0;
}

static _Thread_local int64_t list_clock = INT64_MIN;
static _Thread_local uint64_t list_rand;

static int64_t next_list_position(void)
{
    int64_t now = hln_now_micros();
    if (now <= list_clock) now = list_clock + 1;
    list_clock = now;
    return now;
}

static uint64_t next_rand(void)
{
    if (!list_rand) list_rand = (uint64_t)hln_now_micros() * UINT64_C(0x9E3779B97F4A7C15) | 1;
    /* xorshift64 */
    list_rand ^= list_rand << 13;
    list_rand ^= list_rand >> 7;
    list_rand ^= list_rand << 17;
    return list_rand;
}

static const uint8_t *list_path(ex_request *r, int64_t pos, uint32_t index)
{
    uint8_t *p = hln_arena_alloc(&r->arena, 16);
    if (!p) return NULL;
    uint64_t u = (uint64_t)pos ^ UINT64_C(0x8000000000000000);
    uint64_t tie = (uint64_t)index << 40 | (next_rand() & ((UINT64_C(1) << 40) - 1));
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(u >> (56 - 8 * i));
        p[8 + i] = (uint8_t)(tie >> (56 - 8 * i));
    }
    return p;
}

/* ---- writing ---------------------------------------------------------- */

/* Cells for every element of the serialized collection v of column col
 * (type t), at ts with ttl; lists get positions from prepend/append. */
static int add_elements(ex_request *r, ex_cells *cv, const hln_column *col, const ex_value *v,
                        int64_t ts, int32_t ttl, int64_t now_sec, bool prepend)
{
    const hln_type *t = col->type;
    hln_rd rd;
    uint32_t n;
    if (hln_coll_begin(&rd, v->p, (size_t)v->len, &n))
        return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value for %s", col->name);
    int64_t pos = 0;
    if (t->kind == HLN_T_LIST) pos = prepend ? -next_list_position() : next_list_position();
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e, *val = EMPTY;
        int32_t elen, vlen = 0;
        if (hln_coll_next(&rd, &e, &elen) || elen < 0)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value for %s", col->name);
        st_cell c = {.col_id = col->id, .ts = ts};
        int rc;
        if (t->kind == HLN_T_LIST) {
            c.path = list_path(r, pos, i);
            c.pathlen = 16;
            if (!c.path) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            val = e;
            vlen = elen;
        } else {
            if ((rc = comparable_path(r, t->params[0], e, elen, &c.path, &c.pathlen)) != 0)
                return rc;
            if (t->kind == HLN_T_MAP) {
                if (hln_coll_next(&rd, &val, &vlen) || vlen < 0)
                    return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value for %s",
                                    col->name);
            }
        }
        c.val = vlen ? val : EMPTY;
        c.len = (uint32_t)vlen;
        if (ttl > 0) {
            c.ttl = ttl;
            c.expires = now_sec + ttl;
        }
        if ((rc = ex_cells_push(r, cv, &c)) != 0) return rc;
    }
    return 0;
}

static int push_coldel(ex_request *r, ex_cells *cv, uint32_t col_id, int64_t ts)
{
    st_cell c = {.col_id = col_id, .flags = ST_CELL_COLDEL, .ts = ts};
    return ex_cells_push(r, cv, &c);
}

static int push_tomb(ex_request *r, ex_cells *cv, uint32_t col_id, int64_t ts, const uint8_t *path,
                     uint32_t plen)
{
    st_cell c = {
        .col_id = col_id, .flags = ST_CELL_TOMBSTONE, .ts = ts, .path = path, .pathlen = plen};
    return ex_cells_push(r, cv, &c);
}

static int bind_index(ex_request *r, const hln_column *col, const cql_term *key, int32_t *idx)
{
    ex_value v;
    char name[300];
    snprintf(name, sizeof name, "idx(%s)", col->name);
    int rc = ex_bind(r, key, hln_type_by_kind(HLN_T_INT), name, &v);
    if (rc) return rc;
    if (v.len == -1) return hln_fail(&r->err, HLN_EINVAL, "Invalid null value for list index");
    if (v.len == -2) return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value for list index");
    if (v.len != 4) return hln_fail(&r->err, HLN_EINVAL, "Invalid list index");
    *idx =
        (int32_t)((uint32_t)v.p[0] << 24 | (uint32_t)v.p[1] << 16 | (uint32_t)v.p[2] << 8 | v.p[3]);
    return 0;
}

/* ---- non-frozen UDTs -----------------------------------------------------
 * One cell per non-null field, path = be16(field index) (Cassandra's
 * CellPath of the field position), so ALTER TYPE ADD (a new last index)
 * and RENAME (same index) leave stored cells valid:
 *   u = value        COLDEL at ts-1, then the non-null fields at ts
 *   u = null, DELETE u   COLDEL at ts
 *   u.f = v          the field's cell (v null: a tombstone)
 *   DELETE u.f       a tombstone for the field */

static const uint8_t *field_path(ex_request *r, int f)
{
    uint8_t *p = hln_arena_alloc(&r->arena, 2);
    if (p) {
        p[0] = (uint8_t)(f >> 8);
        p[1] = (uint8_t)f;
    }
    return p;
}

static int udt_cell(ex_request *r, ex_cells *cv, const hln_column *col, int f, const uint8_t *v,
                    int32_t len, int64_t ts, int32_t ttl, int64_t now_sec)
{
    const uint8_t *path = field_path(r, f);
    if (!path) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (len < 0) return push_tomb(r, cv, col->id, ts, path, 2);
    st_cell c = {.col_id = col->id,
                 .ts = ts,
                 .path = path,
                 .pathlen = 2,
                 .val = len ? v : EMPTY,
                 .len = (uint32_t)len};
    if (ttl > 0) {
        c.ttl = ttl;
        c.expires = now_sec + ttl;
    }
    return ex_cells_push(r, cv, &c);
}

static int udt_assign(ex_request *r, const ex_assign *a, const hln_column *col, int64_t ts,
                      int32_t ttl, int64_t now_sec, ex_cells *cv)
{
    const hln_type *t = col->type;
    ex_value v = {NULL, -1};
    int rc;
    if (a->field >= 0) {
        if (!a->term) return udt_cell(r, cv, col, a->field, NULL, -1, ts, 0, 0); /* DELETE u.f */
        char name[300];
        snprintf(name, sizeof name, "%s.%s", col->name, hln_udt_field(t, a->field));
        if ((rc = ex_bind(r, a->term, t->params[a->field], name, &v)) != 0) return rc;
        if (v.len == -2) return 0;
        return udt_cell(r, cv, col, a->field, v.p, v.len, ts, ttl, now_sec);
    }
    if (!a->term) return push_coldel(r, cv, col->id, ts); /* DELETE u */
    if ((rc = ex_bind(r, a->term, t, col->name, &v)) != 0) return rc;
    if (v.len == -2) return 0;
    if (v.len == -1) return push_coldel(r, cv, col->id, ts);
    const uint8_t *els[HLN_TUPLE_MAX];
    int32_t lens[HLN_TUPLE_MAX];
    int n = 0;
    if (hln_tuple_split(t, v.p, (size_t)v.len, els, lens, &n))
        return hln_fail(&r->err, HLN_EINVAL, "Invalid value for %s", col->name);
    if ((rc = push_coldel(r, cv, col->id, ts - 1)) != 0) return rc;
    for (int f = 0; f < n; f++)
        if (lens[f] >= 0 && (rc = udt_cell(r, cv, col, f, els[f], lens[f], ts, ttl, now_sec)) != 0)
            return rc;
    return 0;
}

int ex_collection_assign(ex_request *r, const ex_assign *a, const hln_column *col, int64_t ts,
                         int32_t ttl, int64_t now_sec, ex_cells *cv)
{
    const hln_type *t = col->type;
    int rc;
    ex_value v = {NULL, -1};
    if (t->kind == HLN_T_UDT) return udt_assign(r, a, col, ts, ttl, now_sec, cv);
    switch (a->op) {
    case CQL_ASSIGN_SET:
        if (!a->term) return push_coldel(r, cv, col->id, ts); /* DELETE c */
        if ((rc = ex_bind(r, a->term, t, col->name, &v)) != 0) return rc;
        if (v.len == -2) return 0;
        if (v.len == -1) return push_coldel(r, cv, col->id, ts);
        if ((rc = push_coldel(r, cv, col->id, ts - 1)) != 0) return rc;
        return add_elements(r, cv, col, &v, ts, ttl, now_sec, false);
    case CQL_ASSIGN_ADD:
    case CQL_ASSIGN_PREPEND:
        if ((rc = ex_bind(r, a->term, t, col->name, &v)) != 0) return rc;
        if (v.len < 0) return 0; /* adding null or unset changes nothing */
        return add_elements(r, cv, col, &v, ts, ttl, now_sec, a->op == CQL_ASSIGN_PREPEND);
    case CQL_ASSIGN_SUB: {
        const hln_type *vt = t;
        if (t->kind == HLN_T_MAP) vt = hln_type_collection(HLN_T_SET, t->params, false);
        if (!vt) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if ((rc = ex_bind(r, a->term, vt, col->name, &v)) != 0) return rc;
        if (v.len < 0) return 0;
        hln_rd rd;
        uint32_t n;
        if (hln_coll_begin(&rd, v.p, (size_t)v.len, &n))
            return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value for %s", col->name);
        if (t->kind == HLN_T_LIST) { /* the elements equal to one of v's: once read */
            for (uint32_t i = 0; i < n; i++) {
                const uint8_t *e;
                int32_t elen;
                if (hln_coll_next(&rd, &e, &elen) || elen < 0)
                    return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value for %s",
                                    col->name);
            }
            ex_listop op = {.kind = EX_LISTOP_REMOVE, .col_id = col->id, .v = v, .ts = ts};
            return ex_listop_push(r, &op);
        }
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *e;
            int32_t elen;
            if (hln_coll_next(&rd, &e, &elen) || elen < 0)
                return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value for %s", col->name);
            const uint8_t *path;
            uint32_t plen;
            if ((rc = comparable_path(r, t->params[0], e, elen, &path, &plen)) != 0) return rc;
            if ((rc = push_tomb(r, cv, col->id, ts, path, plen)) != 0) return rc;
        }
        return 0;
    }
    case CQL_ASSIGN_ELEM:
        break;
    }
    /* one element: m[k] (= v | deleted), l[i] (= v | deleted) */
    const uint8_t *path;
    uint32_t plen;
    if (t->kind == HLN_T_LIST) { /* the idx-th element's path: once read */
        ex_listop op = {.kind = a->term ? EX_LISTOP_SET : EX_LISTOP_DEL,
                        .col_id = col->id,
                        .v = {NULL, -1},
                        .ts = ts};
        if ((rc = bind_index(r, col, a->key, &op.idx)) != 0) return rc;
        if (a->term) {
            char vname[300];
            snprintf(vname, sizeof vname, "value(%s)", col->name);
            if ((rc = ex_bind(r, a->term, t->params[0], vname, &op.v)) != 0) return rc;
            if (op.v.len >= 0 && ttl > 0) {
                op.ttl = ttl;
                op.expires = now_sec + ttl;
            }
        }
        return ex_listop_push(r, &op);
    } else {
        ex_value k;
        char kname[300];
        snprintf(kname, sizeof kname, "%s(%s)", t->kind == HLN_T_MAP ? "key" : "value", col->name);
        if ((rc = ex_bind(r, a->key, t->params[0], kname, &k)) != 0) return rc;
        if (k.len == -1)
            return hln_fail(&r->err, HLN_EINVAL,
                            t->kind == HLN_T_SET ? "Invalid null set element"
                                                 : "Invalid null map key");
        if (k.len == -2)
            return hln_fail(&r->err, HLN_EINVAL,
                            t->kind == HLN_T_SET ? "Invalid unset set element"
                                                 : "Invalid unset map key");
        if ((rc = comparable_path(r, t->params[0], k.p, k.len, &path, &plen)) != 0) return rc;
    }
    if (!a->term) return push_tomb(r, cv, col->id, ts, path, plen);
    const hln_type *vt = t->kind == HLN_T_LIST ? t->params[0] : t->params[1];
    char vname[300];
    snprintf(vname, sizeof vname, "value(%s)", col->name);
    if ((rc = ex_bind(r, a->term, vt, vname, &v)) != 0) return rc;
    if (v.len == -2) return 0;
    if (v.len == -1) return push_tomb(r, cv, col->id, ts, path, plen);
    st_cell c = {.col_id = col->id,
                 .ts = ts,
                 .path = path,
                 .pathlen = plen,
                 .val = v.len ? v.p : EMPTY,
                 .len = (uint32_t)v.len};
    if (ttl > 0) {
        c.ttl = ttl;
        c.expires = now_sec + ttl;
    }
    return ex_cells_push(r, cv, &c);
}

/* ---- reading ---------------------------------------------------------- */

int ex_collection_value(hln_arena *a, hln_error *err, const hln_column *col, const st_cell *cells,
                        uint32_t n, ex_value *out)
{
    const hln_type *t = col->type;
    if (n == 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    if (t->kind == HLN_T_UDT) {
        /* every field, those without a cell null */
        const uint8_t *els[HLN_TUPLE_MAX];
        int32_t lens[HLN_TUPLE_MAX];
        for (int f = 0; f < t->nparams; f++)
            lens[f] = -1, els[f] = NULL;
        for (uint32_t i = 0; i < n; i++) {
            const st_cell *c = &cells[i];
            int f = c->pathlen == 2 ? c->path[0] << 8 | c->path[1] : -1;
            if (f < 0 || f >= t->nparams)
                return hln_corrupt(err, "cell path", "bad field path in %s", col->name);
            els[f] = c->len ? c->val : EMPTY;
            lens[f] = (int32_t)c->len;
        }
        hln_buf b;
        hln_buf_init(&b);
        int rc = hln_tuple_build(els, lens, t->nparams, &b);
        out->p = rc || b.err ? NULL : hln_arena_memdup(a, b.data, b.len);
        out->len = (int32_t)b.len;
        hln_buf_free(&b);
        return out->p ? 0 : hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    hln_buf b, el;
    hln_buf_init(&b);
    hln_buf_init(&el);
    hln_buf_u32(&b, n);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        const st_cell *c = &cells[i];
        if (t->kind != HLN_T_LIST) {
            hln_rd rd;
            hln_rd_init(&rd, c->path, c->pathlen);
            hln_buf_reset(&el);
            rc = hln_type_from_comparable(t->params[0], &rd, false, &el);
            if (!rc && hln_rd_left(&rd) != 0) rc = HLN_ECORRUPT;
            if (rc) break;
            hln_buf_u32(&b, (uint32_t)el.len);
            hln_buf_put(&b, el.data, el.len);
        }
        if (t->kind != HLN_T_SET) {
            hln_buf_u32(&b, c->len);
            hln_buf_put(&b, c->val, c->len);
        }
    }
    if (!rc && b.err) rc = HLN_ENOMEM;
    if (!rc) {
        out->p = hln_arena_memdup(a, b.data, b.len);
        out->len = (int32_t)b.len;
        if (!out->p) rc = HLN_ENOMEM;
    }
    hln_buf_free(&b);
    hln_buf_free(&el);
    if (rc == HLN_ENOMEM) return hln_fail(err, HLN_ENOMEM, "out of memory");
    if (rc) return hln_corrupt(err, "cell path", "cannot decode an element of %s", col->name);
    return 0;
}

int ex_ck_decode(ex_request *r, const hln_table *t, const uint8_t *ck, uint32_t cklen,
                 hln_buf *scratch, ex_value *out)
{
    hln_rd rd;
    hln_rd_init(&rd, ck, cklen);
    for (int pos = 0; pos < t->nck; pos++) {
        const hln_column *col = &t->cols[t->npk + pos];
        if (hln_rd_left(&rd) == 0) {
            out[pos] = (ex_value){NULL, -1};
            continue;
        }
        uint8_t marker = hln_rd_u8(&rd);
        if (marker != 0x40)
            return hln_corrupt(&r->err, "clustering key", "bad component marker 0x%02x", marker);
        hln_buf_reset(scratch);
        if (hln_type_from_comparable(col->type, &rd, col->desc, scratch) != 0)
            return hln_corrupt(&r->err, "clustering key", "cannot decode column %s", col->name);
        static const uint8_t empty[1];
        const uint8_t *p =
            scratch->len ? hln_arena_memdup(&r->arena, scratch->data, scratch->len) : empty;
        if (!p) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        out[pos] = (ex_value){p, (int32_t)scratch->len};
    }
    return 0;
}
