/*
 * dml.c — INSERT, UPDATE, DELETE: plan + values -> one st_mutation.
 *
 * What: binds the primary key, the assigned values, TTL and timestamp;
 * builds the partition key (hln_pk_compose), its token (Murmur3), and the
 * clustering key in byte-comparable form (0x40 + comparable value per
 * column, inverted for DESC columns); then sends the mutation to the shard
 * owning the token through the coordinator and answers VOID.
 *
 * Semantics (Cassandra's):
 *  - INSERT writes a row marker, so the row exists even if every regular
 *    column is null; UPDATE does not.
 *  - A null value writes a cell tombstone; an unset value (len -2) leaves
 *    the column untouched.
 *  - DELETE of a whole partition writes a partition tombstone, of a row a
 *    row tombstone, of columns cell tombstones, of a clustering prefix or
 *    of a slice of one (WHERE pk = ? AND c1 = ? AND c2 > ?) a range
 *    tombstone whose bounds are the slice's (as SELECT builds them).
 *  - The timestamp is USING TIMESTAMP, else the client's, else the shard's
 *    strictly increasing clock (exec.c).
 *  - TTL (USING TTL, else the table's default_time_to_live) is written on
 *    each cell and on INSERT's row marker as ttl/expires; expiry itself is
 *    storage's business (a row whose marker and cells all expired is gone).
 *  - Non-frozen collections become one cell per element plus column
 *    deletions (cells.c); operations that need the current list (l[i] = v,
 *    DELETE l[i], l = l - [..]) read the row first (listops.c), as
 *    Cassandra's read-before-write does; it is not atomic with the write
 *    (in a conditional update it is: cas.c resolves them on the shard).
 *
 * Invariant: the mutation and everything it points at are r->arena memory;
 * for another shard the coordinator encodes it into the op.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

#define MAX_TTL 630720000 /* 20 years, Cassandra's Attributes.MAX_TTL */
#define MAX_KEY 65535

static int bind_key(ex_request *r, const cql_term *term, const hln_column *col, bool pk,
                    ex_value *v)
{
    int rc = ex_bind(r, term, col->type, col->name, v);
    if (rc) return rc;
    if (v->len == -1 && (term->kind == CQL_TERM_NULL || ex_st(r)->plan->json))
        /* a literal null (or a key INSERT JSON left out), as Cassandra words it */
        return hln_fail(&r->err, HLN_EINVAL, "Invalid null value in condition for column %s",
                        col->name);
    if (v->len == -1)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid null value for %s key part %s",
                        pk ? "partition" : "clustering", col->name);
    if (v->len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value for column %s", col->name);
    return 0;
}

/* Builds the serialized partition key of the plan's pk terms. */
static int build_pk(ex_request *r, const ex_plan *p, const uint8_t **key, uint32_t *klen)
{
    const hln_table *t = p->t;
    const uint8_t *vals[64];
    size_t lens[64];
    if (t->npk > 64) return hln_fail(&r->err, HLN_EUNSUPPORTED, "too many partition key columns");
    const ex_value *kv = ex_st(r)->key_vals;
    for (int i = 0; i < t->npk; i++) {
        ex_value v;
        int rc = 0;
        if (p->pk_in && p->pk_in[i]) {
            if (!kv)
                return hln_fail(&r->err, HLN_EUNSUPPORTED,
                                "IN restrictions in BATCH statements are not supported yet");
            v = kv[i];
        } else {
            rc = bind_key(r, p->pk[i], &t->cols[i], true, &v);
        }
        if (rc) return rc;
        if (t->npk > 1 && v.len > MAX_KEY)
            return hln_fail(&r->err, HLN_EINVAL, "Key length of %d is longer than maximum of %d",
                            (int)v.len, MAX_KEY);
        vals[i] = v.p;
        lens[i] = (size_t)v.len;
    }
    hln_buf b;
    hln_buf_init(&b);
    hln_pk_compose(vals, lens, t->npk, &b);
    int rc = 0;
    if (b.err)
        rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    else if (b.len == 0)
        rc = hln_fail(&r->err, HLN_EINVAL, "Key may not be empty");
    else if (b.len > MAX_KEY)
        rc = hln_fail(&r->err, HLN_EINVAL, "Key length of %zu is longer than maximum of %d", b.len,
                      MAX_KEY);
    if (!rc) {
        *key = hln_arena_memdup(&r->arena, b.data, b.len);
        *klen = (uint32_t)b.len;
        if (!*key) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

/* Appends 0x40 + comparable(v) for clustering column col. */
static int put_ck(ex_request *r, const hln_column *col, const ex_value *v, hln_buf *out)
{
    hln_buf_u8(out, 0x40);
    int rc = hln_type_to_comparable(col->type, v->p, (size_t)v->len, col->desc, out);
    if (rc && !r->err.code)
        hln_fail(&r->err, rc, "cannot encode clustering value for %s", col->name);
    return rc;
}

/* The clustering key of the first n clustering columns (DML: all of them). */
static int build_ck(ex_request *r, const ex_plan *p, int n, const uint8_t **key, uint32_t *klen)
{
    const hln_table *t = p->t;
    hln_buf b;
    hln_buf_init(&b);
    int rc = 0;
    for (int pos = 0; pos < n && !rc; pos++) {
        const hln_column *col = &t->cols[t->npk + pos];
        ex_value v;
        const ex_value *kv = ex_st(r)->key_vals;
        if (p->ck_in && p->ck_in[pos]) {
            if (!kv)
                rc = hln_fail(&r->err, HLN_EUNSUPPORTED,
                              "IN restrictions in BATCH statements are not supported yet");
            else
                v = kv[t->npk + pos];
        } else {
            rc = bind_key(r, p->ck[pos], col, false, &v);
        }
        if (!rc) rc = put_ck(r, col, &v, &b);
    }
    if (!rc && b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!rc) {
        static const uint8_t empty[1];
        *key = b.len ? hln_arena_memdup(&r->arena, b.data, b.len) : empty;
        *klen = (uint32_t)b.len;
        if (!*key) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

static int bind_timestamp(ex_request *r, const ex_plan *p, int64_t *ts)
{
    if (p->ts) {
        ex_value v;
        int rc = ex_bind(r, p->ts, hln_type_by_kind(HLN_T_BIGINT), "[timestamp]", &v);
        if (rc) return rc;
        if (v.len == -1) return hln_fail(&r->err, HLN_EINVAL, "Invalid null value of timestamp");
        if (v.len >= 0) {
            if (v.len != 8)
                return hln_fail(&r->err, HLN_EINVAL, "Invalid empty value of timestamp");
            uint64_t x = 0;
            for (int i = 0; i < 8; i++)
                x = x << 8 | v.p[i];
            *ts = (int64_t)x;
            if (*ts == INT64_MIN)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Out of bound timestamp, must be in [%lld, %lld]",
                                (long long)INT64_MIN + 1, (long long)INT64_MAX);
            return 0;
        }
    }
    if (r->params.timestamp != HLN_TS_NONE) {
        *ts = r->params.timestamp;
        return 0;
    }
    *ts = ex_next_timestamp();
    return 0;
}

/* Cassandra 5.0 (expiration-date overflow policy REJECT): a local
 * expiration time past 2038-01-19T03:14:06Z (INT32_MAX - 1) is refused. */
static int check_expiry(ex_request *r, const ex_plan *p, int32_t ttl)
{
    if (ttl <= 0 || hln_now_micros() / 1000000 + ttl <= INT64_C(2147483646)) return 0;
    return hln_fail(&r->err, HLN_EINVAL,
                    "Request on table %s.%s with ttl of %d seconds exceeds maximum supported "
                    "expiration date of 2038-01-19T03:14:06+00:00. In order to avoid this use a "
                    "lower TTL, change the expiration date overflow policy or upgrade to a "
                    "version where this limitation is fixed. See CASSANDRA-14092 and "
                    "CASSANDRA-14227 for more details.",
                    p->t->ks, p->t->name, (int)ttl);
}

static int bind_ttl(ex_request *r, const ex_plan *p, int32_t *ttl)
{
    *ttl = 0;
    const char *def = table_option(p->t, "default_time_to_live");
    if (def) *ttl = (int32_t)strtol(def, NULL, 10);
    if (!p->ttl) return check_expiry(r, p, *ttl);
    int32_t v;
    bool present;
    int rc = ex_bind_int(r, p->ttl, "TTL", &v, &present);
    if (rc) return rc;
    if (!present) return 0;
    if (v < 0)
        return hln_fail(&r->err, HLN_EINVAL, "A TTL must be greater or equal to 0, but was %d",
                        (int)v);
    if (v > MAX_TTL)
        return hln_fail(&r->err, HLN_EINVAL, "ttl is too large. requested (%d) maximum (%d)",
                        (int)v, MAX_TTL);
    *ttl = v;
    return check_expiry(r, p, v);
}

static void dml_done(ex_request *r)
{
    int rc = ex_batch_error(r);
    if (!rc) r->result.kind = EX_VOID;
    ex_finish(r, rc);
}

/* One bound of a range deletion's slice: prefix ++ 0x40 comparable(v). */
static int slice_bound(ex_request *r, const hln_column *col, const cql_term *term,
                       const uint8_t *prefix, uint32_t plen, bool incl, st_bound *out)
{
    ex_value v;
    int rc = ex_bind(r, term, col->type, col->name, &v);
    if (rc) return rc;
    if (v.len == -1)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid null value in condition for column %s",
                        col->name);
    if (v.len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value for column %s", col->name);
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_put(&b, prefix, plen);
    rc = put_ck(r, col, &v, &b);
    if (!rc && b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!rc) {
        out->key = hln_arena_memdup(&r->arena, b.data, b.len);
        out->len = (uint32_t)b.len;
        out->inclusive = incl;
        if (!out->key) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

/* The range tombstone of DELETE ... WHERE pk = ? AND c1 = ? [AND c2 > ?]:
 * the prefix's rows, or the slice of them on the next column. Bounds as in
 * select.c: a missing side is the prefix itself, inclusive, and a DESC
 * column's encoding is inverted so its lo and hi trade places. */
static int build_range(ex_request *r, const ex_plan *p, int64_t ts, st_range_tomb **out)
{
    const hln_table *t = p->t;
    st_range_tomb *rt = hln_arena_alloc(&r->arena, sizeof *rt);
    if (!rt) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    const uint8_t *prefix;
    uint32_t plen;
    int rc = build_ck(r, p, p->nck_eq, &prefix, &plen);
    if (rc) return rc;
    st_bound whole = {prefix, plen, true}, lo = whole, hi = whole;
    if (p->lo || p->hi) {
        const hln_column *col = &t->cols[t->npk + p->nck_eq];
        if (p->lo && (rc = slice_bound(r, col, p->lo, prefix, plen, p->lo_incl, &lo)) != 0)
            return rc;
        if (p->hi && (rc = slice_bound(r, col, p->hi, prefix, plen, p->hi_incl, &hi)) != 0)
            return rc;
        if (col->desc) {
            st_bound x = lo;
            lo = hi;
            hi = x;
        }
    }
    /* an unbounded start would cover the static row (ck ""): every real
       clustering key starts with the 0x40 component marker */
    static const uint8_t first_ck[1] = {0x40};
    if (lo.len == 0) lo = (st_bound){first_ck, 1, true};
    rt->start = lo;
    rt->end = hi;
    rt->ts = ts;
    *out = rt;
    return 0;
}

/* ---- DELETE ... WHERE (c1, .., cn) > (..): multi-column ranges ---------- */

/* One bound tuple of a multi-column slice, encoded: the clustering
 * components of its values one after the other in key, off[i] the end of
 * the first i (off[0] = 0), vals[i] the values. */
typedef struct mc_side {
    const uint8_t *key;
    uint32_t off[65];
    ex_value vals[64];
    int n;
    bool incl;
} mc_side;

static int mc_side_bind(ex_request *r, const hln_table *t, const uint8_t *pre, uint32_t plen,
                        int first, cql_term *const *vs, const cql_term *tuple, int n, bool incl,
                        mc_side *sd)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_put(&b, pre, plen);
    sd->n = n;
    sd->incl = incl;
    sd->off[0] = plen;
    int rc = n ? ex_mc_bound_values(r, t, first, vs, tuple, n, sd->vals) : 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = put_ck(r, &t->cols[t->npk + first + i], &sd->vals[i], &b);
        sd->off[i + 1] = (uint32_t)b.len;
    }
    if (!rc && b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!rc) {
        sd->key = b.len ? hln_arena_memdup(&r->arena, b.data, b.len) : (const uint8_t *)"";
        if (!sd->key) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

/* Adds the range [start, end] (storage order) to m's tombstones. */
static void mc_add(st_mutation *m, st_bound start, st_bound end, int64_t ts)
{
    /* an unbounded start would cover the static row (ck ""): every real
       clustering key starts with the 0x40 component marker */
    static const uint8_t first_ck[1] = {0x40};
    if (start.len == 0) start = (st_bound){first_ck, 1, true};
    st_range_tomb *rt = &m->rts[m->nrts++];
    rt->start = start;
    rt->end = end;
    rt->ts = ts;
}

/* The rows under prefix pre (plen bytes) whose column col lies between
 * a and b, both exclusive (NULL: unbounded), as one range: a DESC column's
 * encoding is inverted, so its bounds trade places. */
static void mc_between(st_mutation *m, const hln_column *col, const uint8_t *pre, uint32_t plen,
                       const st_bound *a, const st_bound *b, int64_t ts)
{
    st_bound whole = {pre, plen, true};
    st_bound lo = a ? *a : whole, hi = b ? *b : whole;
    if (col->desc)
        mc_add(m, hi, lo, ts);
    else
        mc_add(m, lo, hi, ts);
}

/* The rows above side lo from its component k on (the components before
 * k fixed): column i > v_i under the prefix v_0 .. v_i-1, for each i >= k,
 * then the prefix of all n when inclusive. hi: likewise below. */
static void mc_one_side(st_mutation *m, const hln_column *cols, const mc_side *sd, bool above,
                        int k, int64_t ts)
{
    for (int i = k; i < sd->n; i++) {
        st_bound x = {sd->key, sd->off[i + 1], false};
        mc_between(m, &cols[i], sd->key, sd->off[i], above ? &x : NULL, above ? NULL : &x, ts);
    }
    if (sd->incl) {
        st_bound all = {sd->key, sd->off[sd->n], true};
        mc_add(m, all, all, ts);
    }
}

/* DELETE ... WHERE pk = ? AND (c1, .., cn) > (..) [AND (c1, ..) < (..)]:
 * the rows whose tuple of values lies between the bounds, in the columns'
 * value order as Cassandra compares them. Columns of one clustering order
 * make that one range of the storage order; of mixed order (c1 ASC, c2
 * DESC: (1, 3) is stored before (1, 2)) it is the union of ranges of one
 * column each: (c1, c2) > (1, 2) is c1 = 1 AND c2 > 2, or c1 > 1. */
static int build_mc_ranges(ex_request *r, const ex_plan *p, int64_t ts, st_mutation *m)
{
    const hln_table *t = p->t;
    mc_side *lo = hln_arena_alloc(&r->arena, sizeof *lo);
    mc_side *hi = hln_arena_alloc(&r->arena, sizeof *hi);
    if (!lo || !hi) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (p->mc_nlo > 64 || p->mc_nhi > 64)
        return hln_fail(&r->err, HLN_EUNSUPPORTED, "too many key columns");
    const uint8_t *pre; /* c1 = ? .. before the tuple's columns */
    uint32_t plen;
    int first = p->nck_eq;
    int rc = build_ck(r, p, first, &pre, &plen);
    if (!rc)
        rc = mc_side_bind(r, t, pre, plen, first, p->mc_lo, p->mc_lo_tuple, p->mc_nlo,
                          p->mc_lo_incl, lo);
    if (!rc)
        rc = mc_side_bind(r, t, pre, plen, first, p->mc_hi, p->mc_hi_tuple, p->mc_nhi,
                          p->mc_hi_incl, hi);
    if (rc) return rc;
    const hln_column *cols = &t->cols[t->npk + first]; /* the tuple's */
    int n = lo->n > hi->n ? lo->n : hi->n;
    m->rts = hln_arena_alloc(&r->arena, sizeof *m->rts * (size_t)(lo->n + hi->n + 3));
    if (!m->rts) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    m->nrts = 0;
    const hln_column *c0 = &cols[0];
    bool uniform = true;
    for (int i = 1; i < n; i++)
        uniform &= cols[i].desc == c0->desc;
    st_bound whole = {pre, plen, true}; /* the prefix: every row of it */
    if (uniform) {
        st_bound a = lo->n ? (st_bound){lo->key, lo->off[lo->n], lo->incl} : whole;
        st_bound b = hi->n ? (st_bound){hi->key, hi->off[hi->n], hi->incl} : whole;
        if (c0->desc)
            mc_add(m, b, a, ts);
        else
            mc_add(m, a, b, ts);
        return 0;
    }
    if (!lo->n || !hi->n) {
        mc_one_side(m, cols, lo->n ? lo : hi, lo->n > 0, 0, ts);
        return 0;
    }
    int j = 0; /* the components both bounds share */
    while (j < lo->n && j < hi->n &&
           hln_type_compare(cols[j].type, lo->vals[j].p, (size_t)lo->vals[j].len, hi->vals[j].p,
                            (size_t)hi->vals[j].len) == 0)
        j++;
    if (j == lo->n && j == hi->n) { /* (..) >= x AND (..) <= x */
        st_bound all = {lo->key, lo->off[j], true};
        if (lo->incl && hi->incl) mc_add(m, all, all, ts);
    } else if (j == lo->n) { /* lo is a prefix of hi */
        if (lo->incl) mc_one_side(m, cols, hi, false, j, ts);
    } else if (j == hi->n) {
        if (hi->incl) mc_one_side(m, cols, lo, true, j, ts);
    } else if (hln_type_compare(cols[j].type, lo->vals[j].p, (size_t)lo->vals[j].len, hi->vals[j].p,
                                (size_t)hi->vals[j].len) < 0) {
        /* column j = lo's value and the rest above lo's; column j between
           the two; column j = hi's and the rest below hi's */
        mc_one_side(m, cols, lo, true, j + 1, ts);
        st_bound a = {lo->key, lo->off[j + 1], false}, b = {hi->key, hi->off[j + 1], false};
        mc_between(m, &cols[j], lo->key, lo->off[j], &a, &b, ts);
        mc_one_side(m, cols, hi, false, j + 1, ts);
    }
    return 0;
}

int ex_dml_build(ex_request *r, st_mutation **out)
{
    const ex_plan *p = ex_st(r)->plan;
    if (p->counter)
        return hln_fail(&r->err, HLN_EUNSUPPORTED,
                        "Counter updates in a BATCH are not supported "
                        "yet");
    if (p->cas != EX_CAS_NONE)
        return hln_fail(&r->err, HLN_EUNSUPPORTED,
                        "Conditional BATCH statements are not "
                        "supported yet");
    return ex_dml_mutation(r, out);
}

int ex_dml_mutation(ex_request *r, st_mutation **out)
{
    const ex_plan *p = ex_st(r)->plan;
    const hln_table *t = p->t;
    int64_t ts;
    int32_t ttl = 0;
    int rc = bind_timestamp(r, p, &ts);
    if (!rc && p->kind != CQL_DELETE) rc = bind_ttl(r, p, &ttl);
    st_mutation *m = hln_arena_alloc(&r->arena, sizeof *m);
    if (!rc && !m) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (rc) return rc;
    memcpy(m->table_id, t->id, 16);
    m->pdel_ts = HLN_TS_NONE;
    if ((rc = build_pk(r, p, &m->pk, &m->pklen)) != 0) return rc;
    m->token = hln_murmur3_token(m->pk, m->pklen);

    *out = NULL;
    if (p->kind == CQL_DELETE && p->del == EX_DEL_PARTITION) {
        m->pdel_ts = ts;
        *out = m;
        return 0;
    }
    if (p->kind == CQL_DELETE && p->del == EX_DEL_RANGE && (p->mc_nlo || p->mc_nhi)) {
        if ((rc = build_mc_ranges(r, p, ts, m)) != 0) return rc;
        *out = m;
        return 0;
    }
    if (p->kind == CQL_DELETE && p->del == EX_DEL_RANGE) {
        if ((rc = build_range(r, p, ts, &m->rts)) != 0) return rc;
        m->nrts = 1;
        *out = m;
        return 0;
    }
    st_row *row = hln_arena_alloc(&r->arena, sizeof *row);
    if (!row) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if ((rc = build_ck(r, p, p->nck_eq, &row->ck, &row->cklen)) != 0) return rc;
    int64_t now_sec = hln_now_micros() / 1000000;
    bool marker = p->row_marker && !p->static_only; /* static rows carry no marker */
    row->marker_ts = marker ? ts : HLN_TS_NONE;
    if (marker && ttl > 0) {
        row->marker_ttl = ttl;
        row->marker_expires = now_sec + ttl;
    }
    row->del_ts = p->kind == CQL_DELETE && p->del == EX_DEL_ROW ? ts : HLN_TS_NONE;
    ex_cells rcv = {0}, scv = {0}; /* the row's cells, the static row's */
    ex_state *st = ex_st(r);
    int lops0 = st->nlops;
    st->lseq++;
    for (int i = 0; i < p->nassigns; i++) {
        const ex_assign *a = &p->assigns[i];
        const hln_column *col = &t->cols[a->col];
        ex_cells *cvp = col->kind == HLN_COL_STATIC && !p->static_only ? &scv : &rcv;
        if (hln_type_is_multicell(col->type)) {
            int n0 = st->nlops;
            uint32_t c0 = cvp->n;
            if ((rc = ex_collection_assign(r, a, col, ts, ttl, now_sec, cvp)) != 0) return rc;
            if (col->type->kind == HLN_T_LIST && st->nlops == n0 && cvp->n > c0) {
                /* what the operation wrote, for the later ones that read */
                st_cell *cp = hln_arena_memdup(&r->arena, cvp->v + c0, sizeof *cp * (cvp->n - c0));
                if (!cp) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
                ex_listop lo = {
                    .kind = EX_LISTOP_CELLS, .col_id = col->id, .cells = cp, .ncells = cvp->n - c0};
                if ((rc = ex_listop_push(r, &lo)) != 0) return rc;
            }
            for (int k = n0; k < st->nlops; k++) { /* the row the list operation reads */
                ex_listop *lo = &st->lops[k];
                memcpy(lo->table_id, t->id, 16);
                lo->pk = m->pk;
                lo->pklen = m->pklen;
                lo->token = m->token;
                lo->is_static = col->kind == HLN_COL_STATIC;
                lo->ck = row->ck;
                lo->cklen = lo->is_static ? 0 : row->cklen;
                lo->seq = st->lseq;
            }
            continue;
        }
        st_cell cell = {.col_id = col->id, .ts = ts};
        if (col->type->kind == HLN_T_COUNTER && a->term) {
            /* a delta; cas.c adds the current value on the owning shard */
            ex_value v;
            if ((rc = ex_bind(r, a->term, col->type, col->name, &v)) != 0) return rc;
            if (v.len == -2) continue;
            if (v.len != 8)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Invalid null value for counter increment/decrement");
            uint64_t d = 0;
            for (int k = 0; k < 8; k++)
                d = d << 8 | v.p[k];
            if (a->op == CQL_ASSIGN_SUB) d = (uint64_t)0 - d;
            /* SET c = c + 1, c = c + 1: the increments add up (Cassandra) */
            st_cell *prev = NULL;
            for (uint32_t k = 0; k < cvp->n; k++)
                if (cvp->v[k].col_id == col->id && cvp->v[k].len == 8 && !cvp->v[k].flags)
                    prev = &cvp->v[k];
            if (prev) {
                uint64_t pd = 0;
                for (int k = 0; k < 8; k++)
                    pd = pd << 8 | prev->val[k];
                d += pd;
            }
            uint8_t *dv = hln_arena_alloc(&r->arena, 8);
            if (!dv) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            for (int k = 0; k < 8; k++)
                dv[k] = (uint8_t)(d >> (56 - 8 * k));
            cell.val = dv;
            cell.len = 8;
            if (prev) {
                prev->val = dv;
                continue;
            }
            if ((rc = ex_cells_push(r, cvp, &cell)) != 0) return rc;
            continue;
        }
        if (a->term) {
            ex_value v;
            if ((rc = ex_bind(r, a->term, col->type, col->name, &v)) != 0) return rc;
            if (v.len == -2) continue;
            if (v.len == -1) {
                cell.flags = ST_CELL_TOMBSTONE;
            } else {
                if (col->type->kind == HLN_T_VECTOR &&
                    (rc = ex_ann_check_write(&r->err, t, col, v.p, v.len)) != 0)
                    return rc;
                cell.val = v.p;
                cell.len = (uint32_t)v.len;
                if (ttl > 0) {
                    cell.ttl = ttl;
                    cell.expires = now_sec + ttl;
                }
            }
        } else {
            cell.flags = ST_CELL_TOMBSTONE;
        }
        if ((rc = ex_cells_push(r, cvp, &cell)) != 0) return rc;
    }
    bool reads = false; /* CELLS only matter to operations that read */
    for (int k = lops0; k < st->nlops; k++)
        reads |= st->lops[k].kind != EX_LISTOP_CELLS;
    if (!reads) st->nlops = lops0;
    ex_cells_sort(&rcv);
    row->cells = rcv.v;
    row->ncells = rcv.n;
    st_row *rows = hln_arena_alloc(&r->arena, sizeof *rows * 2);
    if (!rows) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (scv.n) { /* the static row (clustering key "") sorts first */
        ex_cells_sort(&scv);
        rows[m->nrows++] = (st_row){.ck = row->ck,
                                    .cklen = 0,
                                    .marker_ts = HLN_TS_NONE,
                                    .del_ts = HLN_TS_NONE,
                                    .cells = scv.v,
                                    .ncells = scv.n};
    }
    if (row->ncells > 0 || row->marker_ts != HLN_TS_NONE || row->del_ts != HLN_TS_NONE)
        rows[m->nrows++] = *row;
    if (m->nrows) m->rows = rows;
    if (m->nrows || st->nlops) *out = m; /* list operations write to it once read */
    return 0;
}

/* Finishes a DML request whose mutation was built (rc, m): sends m to its
 * shard, or answers VOID when every value was unset (m NULL). */
static void apply(ex_request *r, int rc, st_mutation *m)
{
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    if (!m) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    ex_op *op = ex_op_new(r, EX_OP_MUTATE, rt_shard_for_token(ex_st(r)->eng->nshards, m->token));
    if (!op) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    op->mut = m;
    ex_dispatch(r, dml_done);
}

/* The rows the list operations read arrived: their cells join m (kept
 * in st->xs) as the partition's one mutation. */
static void dml_lists_done(ex_request *r)
{
    ex_state *st = ex_st(r);
    st_mutation *m = st->xs;
    int rc = ex_mutation_join(r, m, st->lmuts, st->nlmuts);
    apply(r, rc, m);
}

int ex_mutation_join(ex_request *r, st_mutation *x, const st_mutation *ms, int n)
{
    for (int i = 0; i < n; i++) {
        const st_mutation *m = &ms[i];
        x->pdel_ts = x->pdel_ts > m->pdel_ts ? x->pdel_ts : m->pdel_ts;
        if (m->nrows) {
            st_row *rows = hln_arena_alloc(&r->arena, sizeof *rows * (x->nrows + m->nrows));
            if (!rows) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            if (x->nrows) memcpy(rows, x->rows, sizeof *rows * x->nrows);
            memcpy(rows + x->nrows, m->rows, sizeof *rows * m->nrows);
            x->rows = rows;
            x->nrows += m->nrows;
        }
        if (m->nrts) {
            st_range_tomb *rts = hln_arena_alloc(&r->arena, sizeof *rts * (x->nrts + m->nrts));
            if (!rts) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            if (x->nrts) memcpy(rts, x->rts, sizeof *rts * x->nrts);
            memcpy(rts + x->nrts, m->rts, sizeof *rts * m->nrts);
            x->rts = rts;
            x->nrts += m->nrts;
        }
    }
    return 0;
}

int ex_dml_each_key(ex_request *r, int (*fn)(ex_request *r, void *ctx), void *ctx)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = st->plan;
    const hln_table *t = p->t;
    int nkeys = t->npk + p->nck_eq;
    if (nkeys > 64) return hln_fail(&r->err, HLN_EUNSUPPORTED, "too many key columns");
    ex_value *vals[64];
    int nv[64];
    size_t combos = 1;
    int rc = 0;
    /* (c1, .., cn) IN: one dimension of whole tuples, at c1's place */
    ex_value *mv = NULL;
    int nmv = 0;
    if (p->mc_in) {
        rc = ex_mc_in_values(r, p, &mv, &nmv);
        combos = (size_t)nmv;
    }
    for (int i = 0; i < nkeys && !rc; i++) {
        bool pkc = i < t->npk;
        const cql_relation *in = pkc ? (p->pk_in ? p->pk_in[i] : NULL) : p->ck_in[i - t->npk];
        const cql_term *eq = pkc ? p->pk[i] : p->ck[i - t->npk];
        if (!in || (mv && in == p->mc_in)) {
            /* bound where used (build_pk/build_ck), with their own messages */
            vals[i] = NULL;
            nv[i] = 1;
            continue;
        }
        rc = ex_key_values(r, eq, in, &t->cols[i], &vals[i], &nv[i]);
        for (int k = 0; !rc && k < nv[i]; k++)
            if (vals[i][k].len < 0)
                rc = hln_fail(&r->err, HLN_EINVAL, "Invalid null value in condition for column %s",
                              t->cols[i].name);
        combos *= (size_t)nv[i];
        if (combos > 65536)
            rc = hln_fail(&r->err, HLN_EINVAL, "IN restrictions select more than 65536 rows");
    }
    if (rc) return rc;
    ex_value *kv = hln_arena_alloc(&r->arena, sizeof *kv * (size_t)(t->npk + t->nck + 1));
    if (!kv) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    st->key_vals = kv;
    for (size_t c = 0; c < combos && !rc; c++) {
        size_t rest = c;
        for (int i = nkeys - 1; i >= 0; i--) {
            if (vals[i]) kv[i] = vals[i][rest % (size_t)nv[i]];
            rest /= (size_t)nv[i];
        }
        for (int k = 0; mv && k < p->mc_in_n; k++) /* what is left of c is the tuple */
            kv[t->npk + k] = mv[rest * (size_t)p->mc_in_n + (size_t)k];
        rc = fn(r, ctx);
    }
    st->key_vals = NULL;
    return rc;
}

/* The mutations of an UPDATE/DELETE with IN, one per key combination. */
typedef struct in_muts {
    st_mutation **v;
    int n, cap;
} in_muts;

static int in_build(ex_request *r, void *ctx)
{
    in_muts *im = ctx;
    if (ex_st(r)->plan->counter) return ex_cas_op_add(r);
    st_mutation *m = NULL;
    int rc = ex_dml_build(r, &m);
    if (rc || !m) return rc;
    if (im->n == im->cap) {
        int cap = im->cap ? 2 * im->cap : 16;
        st_mutation **v = hln_arena_alloc(&r->arena, sizeof *v * (size_t)cap);
        if (!v) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (im->n) memcpy(v, im->v, sizeof *v * (size_t)im->n);
        im->v = v;
        im->cap = cap;
    }
    im->v[im->n++] = m;
    return 0;
}

/* Sends the IN combinations' mutations (st->xs), each joined by the
 * cells its list operations made (st->lmuts, same partition and row). */
static void in_send(ex_request *r)
{
    ex_state *st = ex_st(r);
    in_muts *im = st->xs;
    int rc = 0;
    for (int l = 0; l < st->nlmuts && !rc; l++) {
        const st_mutation *lm = &st->lmuts[l];
        for (int i = 0; i < im->n; i++) {
            st_mutation *m = im->v[i];
            if (m->token == lm->token && m->pklen == lm->pklen &&
                !memcmp(m->table_id, lm->table_id, 16) && !memcmp(m->pk, lm->pk, m->pklen)) {
                rc = ex_mutation_join(r, m, lm, 1);
                break;
            }
        }
    }
    for (int i = 0; i < im->n && !rc; i++) {
        st_mutation *m = im->v[i];
        if (m->nrows + m->nrts == 0 && m->pdel_ts == HLN_TS_NONE) continue;
        ex_op *op = ex_op_new(r, EX_OP_MUTATE, rt_shard_for_token(st->eng->nshards, m->token));
        if (!op) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (op) op->mut = m;
    }
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    ex_dispatch(r, dml_done); /* no op (IN ()): answers at once */
}

/* UPDATE/DELETE with IN on key columns: one write per combination of the
 * key values (Cassandra writes each partition, as an unlogged batch
 * would), all dispatched at once once every list operation's row was
 * read; counters through their read-modify-write per row. Conditional
 * updates refuse IN (ex_run_dml). */
static int run_in(ex_request *r)
{
    ex_state *st = ex_st(r);
    in_muts *im = hln_arena_alloc(&r->arena, sizeof *im);
    if (!im) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    *im = (in_muts){0};
    int rc = ex_dml_each_key(r, in_build, im);
    if (rc) return rc;
    if (st->plan->counter) {
        ex_dispatch(r, dml_done);
        return 0;
    }
    st->xs = im;
    ex_listops_fetch(r, in_send);
    return 0;
}

int ex_dml_key(ex_request *r, const uint8_t **pk, uint32_t *pklen)
{
    return build_pk(r, ex_st(r)->plan, pk, pklen);
}

int ex_dml_ck(ex_request *r, const uint8_t **ck, uint32_t *cklen)
{
    const ex_plan *p = ex_st(r)->plan;
    return build_ck(r, p, p->nck_eq, ck, cklen);
}

void ex_run_dml(ex_request *r)
{
    ex_state *st = ex_st(r);
    st_mutation *m = NULL;
    if (st->plan->json) {
        int rc = ex_json_bind(r);
        if (rc) {
            ex_finish(r, rc);
            return;
        }
    }
    if (st->plan->keys_have_in && st->plan->cas != EX_CAS_NONE) {
        const char *what = st->plan->kind == CQL_DELETE ? "deletions" : "updates";
        ex_finish(r, st->plan->pk_has_in
                         ? hln_fail(&r->err, HLN_EINVAL,
                                    "IN on the partition key is not supported with conditional %s",
                                    what)
                         : hln_fail(&r->err, HLN_EINVAL,
                                    "IN on the clustering key columns is not supported with "
                                    "conditional %s",
                                    what));
        return;
    }
    if (st->plan->keys_have_in) {
        int rc = run_in(r);
        if (rc) ex_finish(r, rc);
        return;
    }
    if (st->plan->counter || st->plan->cas != EX_CAS_NONE) {
        ex_run_cas(r);
        return;
    }
    int rc = ex_dml_build(r, &m);
    if (!rc && st->nlops) { /* list operations read the row first */
        st->xs = m;
        ex_listops_fetch(r, dml_lists_done);
        return;
    }
    apply(r, rc, m);
}
