/*
 * select.c — SELECT: plan + values -> reads on the owning shards -> rows,
 * one page at a time.
 *
 * What: three ways to get rows, one way to shape them.
 *  - Partition lookup (every partition key column given by =): st_read on
 *    the shard owning the token, with a clustering slice built from the
 *    equality prefix and at most one range on the next column.
 *  - Range query (no partition key, part of it with ALLOW FILTERING, or a
 *    token(pk) range): st_scan of the token range (lo, hi], shard after
 *    shard. Shards own contiguous token ranges in order (runtime.h), so
 *    reading them in order is token order, as Cassandra returns rows.
 *  - Virtual (system) tables: rows generated from the schema snapshot and
 *    node state (schema_virtual_rows), never storage.
 * Every row then goes through the row filters (restrictions storage could
 * not apply, including those secondary indexes serve: m[k] = v compares
 * the map's value at k; an analyzed text index compares folded forms,
 * textfold.c),
 * per-partition limit, DISTINCT, LIMIT, the page size, and the
 * selectors (sel_value evaluates a selector tree: columns, token(),
 * writetime(), ttl(), functions, CAST, operators; or aggregates that fold
 * every row into one, of a column or an expression; an expression holding
 * aggregates, such as intAsBlob(sum(i)), is evaluated when its group ends
 * from the results of its aggregates, plan->agg_subs).
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
 * Reading in steps: a storage cursor says where the next read starts —
 * at the beginning of the range (START), after a clustering key inside a
 * partition (IN: an st_read whose start, or end when reversed, is that key,
 * exclusive), or after a whole partition (AFTER: st_scan's after_pk). Each
 * step sends ONE operation with a row limit ("want"), feeds what comes back
 * to the shaper, and moves the cursor past the last row storage returned;
 * a scan that returns fewer rows than asked has exhausted its shard and
 * moves to the next. Steps repeat until the page is full, LIMIT is
 * reached, or the range is exhausted. When nothing is dropped after the
 * read (no row filters), storage is asked for exactly the rows still
 * needed plus one, and the extra row tells whether more exist, so a last
 * page that is exactly full carries no paging state; with filters storage
 * is read in batches of at least MIN_BATCH rows.
 *
 * Paging state (opaque to clients; this layout is ours):
 *
 *   size   field
 *   1      version, 1
 *   8      query hash: MD5(keyspace.table, statement text, bound values)[0..8)
 *   1      kind: 0 storage position, 1 virtual table offset
 *   4      rows LIMIT still allows (i32, -1 = no limit)
 *   4      rows already returned from the current partition (i32; PER
 *          PARTITION LIMIT and DISTINCT hold across pages)
 *   kind 0: 8 token (i64) | vint pklen | pk | 1 has_ck | [vint cklen | ck]
 *   kind 1: 4 index of the next generated row (u32)
 *
 * The position is the last row returned (Cassandra's: partition key, its
 * token and the clustering key), so the next page resumes strictly after
 * it however the data changed in between: rows inserted before the
 * position are not returned, rows after it are, nothing is returned twice.
 * has_ck 0 means "after the whole partition" (tables without clustering
 * columns, DISTINCT, a satisfied per-partition limit). A state whose hash
 * does not match the statement is refused (HLN_EINVAL); one that does not
 * parse is a protocol error, as in Cassandra ("Invalid value for the paging
 * state"). Aggregates ignore paging (and LIMIT, as Cassandra): they read
 * everything and return one row.
 *
 * Invariants:
 *  1. Result cells point into r->arena or into op arenas, all of which live
 *     until ex_request_free (ops of earlier steps are kept).
 *  2. A step's continuation runs at most once per dispatch and never
 *     recurses: when ops complete inline, step() loops instead (see
 *     sel.frame), so a long filtered scan uses constant stack.
 *  3. The cursor only moves forward in (token, pk, ck) order (backward in
 *     ck for reversed reads), so a query terminates.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"
#include "index/hnsw.h"

#define MIN_BATCH 1000
#define PS_VERSION 1

enum { PS_STORAGE = 0, PS_VIRTUAL = 1 };
enum { C_START, C_IN, C_AFTER, C_DONE };

typedef struct agg {
    int64_t count;
    ex_value v;
    bool set;
    int64_t isum; /* sum/avg of integers (wrapping as Cassandra's long arithmetic) */
    double dsum;  /* sum/avg of float and double */
    int64_t n;    /* avg: the values counted */
    uint8_t *dec; /* decimal sum/avg so far (arena, deccap bytes); NULL: 0 */
    size_t declen, deccap;
} agg;

static const uint8_t DEC_ZERO[5] = {0, 0, 0, 0, 0};

/* The decimal sum/avg step of a with the value v (Cassandra's
 * DecimalSum/DecimalAvg: exact sums, the average streamed). */
static int agg_decimal(ex_request *r, agg *a, const ex_value *v, bool avg)
{
    const uint8_t *cur = a->dec ? a->dec : DEC_ZERO;
    size_t curlen = a->dec ? a->declen : sizeof DEC_ZERO;
    hln_buf b;
    hln_buf_init(&b);
    int rc = avg ? hln_decimal_avg_step(cur, curlen, v->p, (size_t)v->len, a->n + 1, &b)
                 : hln_decimal_add(cur, curlen, v->p, (size_t)v->len, &b);
    if (!rc && b.len > a->deccap) {
        size_t cap = b.len > 2 * a->deccap ? b.len : 2 * a->deccap;
        uint8_t *d = hln_arena_alloc(&r->arena, cap);
        if (!d) rc = HLN_ENOMEM;
        a->dec = d;
        a->deccap = d ? cap : 0;
    }
    if (!rc) {
        memcpy(a->dec, b.data, b.len);
        a->declen = b.len;
    }
    hln_buf_free(&b);
    if (rc == HLN_ENOMEM) return hln_fail(&r->err, rc, "out of memory");
    if (rc) return hln_fail(&r->err, HLN_EINVAL, "decimal %s out of range", avg ? "avg" : "sum");
    return 0;
}

/* One partition of a lookup, and one clustering slice of it: IN on key
 * columns makes several of each (the cartesian product of the values). */
typedef struct sel_key {
    const uint8_t *pk;
    uint32_t pklen;
    int64_t token;
} sel_key;

typedef struct sel_slice {
    st_bound start, end;
    const uint8_t *prefix; /* the equality/IN prefix every row of it starts with */
    uint32_t plen;
} sel_slice;

typedef struct sel {
    ex_request *r;
    const ex_plan *p;
    const hln_table *t;
    int32_t limit, pp_limit; /* bound values; 0: none */
    int32_t eff_pp;          /* rows per partition: pp_limit, or 1 with DISTINCT */
    int64_t now_sec;
    /* partition lookup: keys in (token, pk) order, slices in read order; the
       current pair (ki, si) is copied into pk/token/start/end */
    sel_key *keys;
    int nkeys, ki;
    size_t nkeys_given; /* the keys the IN lists name, duplicates counted */
    sel_slice *slices;
    int nslices, si;
    const uint8_t *pk;
    uint32_t pklen;
    int64_t token;
    st_bound start, end;
    /* range query: token range (lo, hi] and the shards holding it */
    int64_t lo, hi;
    int last_shard;
    /* reading */
    bool exact;   /* storage returns exactly what is emitted (no filters) */
    int32_t page; /* rows per page; 0 = everything in one result */
    int cstate;
    int shard;
    int64_t ctoken;
    const uint8_t *cpk, *cck;
    uint32_t cpklen, ccklen;
    uint32_t want;      /* limit of the operation in flight (0 = none) */
    bool op_read;       /* the operation in flight reads one partition */
    bool op_part_start; /* ... from its first row (a static-only row may follow) */
    int *frame;         /* step()'s loop flag while its dispatch runs */
    /* output */
    ex_value *cells;
    int nrows, cap;
    int32_t limit_left; /* rows LIMIT still allows; -1: no limit */
    int32_t in_part;    /* rows emitted from the current partition */
    bool have_part;
    int64_t part_token;
    const uint8_t *part_pk;
    uint32_t part_pklen;
    bool have_last; /* the last emitted row */
    int64_t last_token;
    const uint8_t *last_pk, *last_ck;
    uint32_t last_pklen, last_cklen;
    bool stop, limit_hit;
    /* ORDER BY with IN on several partitions, unpaged: the rows (or groups)
       of every partition are collected, then sorted by the ORDER BY
       columns (osort_rows); okeys holds those columns' values per row,
       gokey the current group's (its first row's) */
    bool osort;
    ex_value *okeys, *gokey;
    int okcap;
    bool group_paused; /* GROUP BY: a page of groups is full; the row that
                          opened the next group was not taken */
    int last_in_part;  /* GROUP BY: the groups taken in the last row's partition */
    bool part_closed;  /* the current partition is finished (its static-only row) */
    agg *aggs;
    agg *subaggs;    /* p->agg_subs' accumulations */
    ex_value *fvals; /* bound value of each p->filters[i] */
    ex_value *fkeys; /* and of its map key (m[key] = v filters) */
    ex_value **fins; /* IN filters: the values */
    int *nfins;
    bool agg_first;
    const uint8_t *gkey; /* GROUP BY: the key of the group being accumulated */
    size_t gkeylen;
    uint32_t vnext; /* virtual tables: index after the last emitted row */
    uint8_t qhash[8];
    /* ORDER BY ... ANN OF (p->ann): every matching row is projected with
       its similarity (ann_scores, beside cells); finish keeps the ann_k
       best. annq: the bound query vector, annrow: a row's, decoded */
    float *annq, *annrow, *ann_scores;
    int ann_k, ann_dim;
    /* a scan whose rows an index can name (an equality filter on a column
       with a term index): EX_OP_ISCAN instead of EX_OP_SCAN */
    ex_ann_op *iq;
} sel;

/* ---- binding ---------------------------------------------------------- */

/* Binds a restriction's term for col; receiver names the term in a type
 * error (NULL: the column), as "value(l)" names a CONTAINS term. */
static int bind_cond_as(ex_request *r, const cql_term *term, const hln_column *col,
                        const char *receiver, ex_value *v)
{
    int rc = ex_bind(r, term, col->type, receiver ? receiver : col->name, v);
    if (rc) return rc;
    if (v->len == -1)
        return hln_fail(&r->err, HLN_EINVAL,
                        col->kind == HLN_COL_PARTITION_KEY && term->kind != CQL_TERM_NULL
                            ? "Invalid null value for partition key part %s"
                            : "Invalid null value in condition for column %s",
                        col->name);
    if (v->len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value for column %s", col->name);
    return 0;
}

static int bind_cond(ex_request *r, const cql_term *term, const hln_column *col, ex_value *v)
{
    return bind_cond_as(r, term, col, NULL, v);
}

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
/* The values one key column takes: its equality, or its IN list (a
 * literal list, or one marker bound to a list). Arena memory. */
int ex_key_values(ex_request *r, const cql_term *eq, const cql_relation *in, const hln_column *col,
                  ex_value **out, int *n)
{
    if (!in) {
        *out = hln_arena_alloc(&r->arena, sizeof **out);
        if (!*out) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        *n = 1;
        return bind_cond(r, eq, col, *out);
    }
    if (in->in_list) {
        *n = in->nin;
        *out = hln_arena_alloc(&r->arena, sizeof **out * (size_t)(in->nin ? in->nin : 1));
        if (!*out) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int i = 0; i < in->nin; i++) {
            int rc = bind_cond(r, in->in_list[i], col, &(*out)[i]);
            if (rc) return rc;
        }
        return 0;
    }
    const hln_type *lt = hln_type_collection(HLN_T_LIST, &col->type, true);
    if (!lt) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    ex_value lv;
    int rc = ex_bind(r, in->term, lt, col->name, &lv);
    if (rc) return rc;
    if (lv.len == -1) return hln_fail(&r->err, HLN_EINVAL, "Invalid null value for IN restriction");
    if (lv.len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value for column %s", col->name);
    hln_rd rd;
    uint32_t cnt;
    if (hln_coll_begin(&rd, lv.p, (size_t)lv.len, &cnt))
        return hln_fail(&r->err, HLN_EINVAL, "Invalid list value for IN restriction");
    *out = hln_arena_alloc(&r->arena, sizeof **out * (cnt ? cnt : 1));
    if (!*out) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < cnt; i++) {
        if (hln_coll_next(&rd, &(*out)[i].p, &(*out)[i].len) || (*out)[i].len < 0)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid null value for IN restriction");
    }
    *n = (int)cnt;
    return 0;
}

#define MAX_CARTESIAN 65536

static int cmp_key(const void *pa, const void *pb)
{
    const sel_key *a = pa, *b = pb;
    if (a->token != b->token) return a->token < b->token ? -1 : 1;
    uint32_t m = a->pklen < b->pklen ? a->pklen : b->pklen;
    int c = memcmp(a->pk, b->pk, m);
    return c ? c : (a->pklen > b->pklen) - (a->pklen < b->pklen);
}

/* Cassandra returns the partitions of an IN in the order of the key values
 * (component by component, each in its type's order), not of tokens. */
static _Thread_local const hln_table *sort_table;

static int cmp_key_values(const void *pa, const void *pb)
{
    const sel_key *a = pa, *b = pb;
    const hln_table *t = sort_table;
    const uint8_t *av[64], *bv[64];
    size_t al[64], bl[64];
    if (t->npk > 64 || hln_pk_split(a->pk, a->pklen, t->npk, av, al) ||
        hln_pk_split(b->pk, b->pklen, t->npk, bv, bl))
        return cmp_key(pa, pb);
    for (int i = 0; i < t->npk; i++) {
        int c = hln_type_compare(t->cols[i].type, av[i], al[i], bv[i], bl[i]);
        if (c) return c;
    }
    return 0;
}

static int cmp_slice(const void *pa, const void *pb)
{
    const sel_slice *a = pa, *b = pb;
    uint32_t m = a->plen < b->plen ? a->plen : b->plen;
    int c = m ? memcmp(a->prefix, b->prefix, m) : 0;
    return c ? c : (a->plen > b->plen) - (a->plen < b->plen);
}

/* Loads the (ki, si) pair into the fields issue() reads. */
static void load_pos(sel *s)
{
    const sel_key *k = &s->keys[s->ki];
    s->pk = k->pk;
    s->pklen = k->pklen;
    s->token = k->token;
    s->start = s->slices[s->si].start;
    s->end = s->slices[s->si].end;
}

/* Moves to the next (key, slice) pair: the next slice of this partition,
 * or the first of the next partition (directly when the partition is done
 * for PER PARTITION LIMIT). False when none is left. */
static bool next_pos(sel *s, bool part_full)
{
    if (!part_full && s->si + 1 < s->nslices) {
        s->si++;
    } else {
        if (s->ki + 1 >= s->nkeys) return false;
        s->ki++;
        s->si = 0;
        s->in_part = 0;
        s->part_closed = false;
        s->have_part = false;
    }
    load_pos(s);
    s->cstate = C_START;
    return true;
}

static int bind_range(sel *s);

/* (c1, .., cn) IN ((v1, .., vn), ..): the components of each tuple, n per
 * tuple, into vals[] (arena). A literal tuple binds component by
 * component, so a wrong type names its column; a tuple marker, or an
 * element of the list bound to IN ?, binds as frozen<tuple<c1's type, ..>>
 * and is cut into its n components. A null component is an error. */
int ex_mc_bound_values(ex_request *r, const hln_table *t, int first, cql_term *const *terms,
                       const cql_term *tuple, int n, ex_value *out)
{
    const hln_column *cols = &t->cols[t->npk + first];
    int rc;
    if (!tuple) {
        for (int k = 0; k < n; k++)
            if ((rc = bind_cond(r, terms[k], &cols[k], &out[k])) != 0) return rc;
        return 0;
    }
    const hln_type *types[HLN_TUPLE_MAX];
    char name[300];
    size_t w = 0;
    if (n > HLN_TUPLE_MAX) return hln_fail(&r->err, HLN_EINVAL, "too many columns");
    name[w++] = '(';
    for (int k = 0; k < n; k++) {
        types[k] = cols[k].type;
        int m = snprintf(name + w, sizeof name - w, "%s%s", k ? "," : "", cols[k].name);
        w = m < 0 || (size_t)m >= sizeof name - w ? sizeof name - 2 : w + (size_t)m;
    }
    name[w++] = ')';
    name[w] = 0;
    hln_column tc = {.name = name, .type = hln_type_tuple(types, n), .kind = HLN_COL_REGULAR};
    if (!tc.type) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    ex_value whole;
    if ((rc = bind_cond(r, tuple, &tc, &whole)) != 0) return rc;
    hln_rd rd;
    hln_rd_init(&rd, whole.p, (size_t)(whole.len > 0 ? whole.len : 0));
    for (int k = 0; k < n; k++) {
        ex_value *v = &out[k];
        v->len = hln_rd_left(&rd) >= 4 ? (int32_t)hln_rd_u32(&rd) : -1;
        v->p = v->len >= 0 ? hln_rd_take(&rd, (size_t)v->len) : NULL;
        if (rd.err || v->len < 0)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid null value in condition for column %s",
                            cols[k].name);
    }
    return 0;
}

int ex_mc_in_values(ex_request *r, const ex_plan *p, ex_value **vals, int *ntuples)
{
    const hln_table *t = p->t;
    const cql_relation *in = p->mc_in;
    const int n = p->mc_in_n;
    hln_column tc = {.name = (char *)"in", .type = p->mc_in_type, .kind = HLN_COL_REGULAR};
    int nt = in->in_list ? in->nin : 0, rc;
    ex_value *tv = NULL;
    if (!in->in_list && (rc = ex_key_values(r, NULL, in, &tc, &tv, &nt)) != 0) return rc;
    if (nt > MAX_CARTESIAN)
        return hln_fail(&r->err, HLN_EINVAL, "IN restrictions select more than %d rows",
                        MAX_CARTESIAN);
    ex_value *out = hln_arena_alloc(&r->arena, sizeof *out * (size_t)(nt * n + 1));
    if (!out) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < nt; i++) {
        const cql_term *term = in->in_list ? in->in_list[i] : NULL;
        ex_value whole = tv ? tv[i] : (ex_value){0};
        if (term && term->kind != CQL_TERM_TUPLE && (rc = bind_cond(r, term, &tc, &whole)) != 0)
            return rc;
        hln_rd rd;
        hln_rd_init(&rd, whole.p, (size_t)(whole.len > 0 ? whole.len : 0));
        for (int k = 0; k < n; k++) {
            const hln_column *col = &t->cols[t->npk + k];
            ex_value *v = &out[i * n + k];
            *v = (ex_value){.len = -1};
            if (term && term->kind == CQL_TERM_TUPLE) {
                if (term->elems[k]->kind != CQL_TERM_NULL &&
                    (rc = bind_cond(r, term->elems[k], col, v)) != 0)
                    return rc;
            } else {
                v->len = hln_rd_left(&rd) >= 4 ? (int32_t)hln_rd_u32(&rd) : -1;
                if (v->len >= 0) v->p = hln_rd_take(&rd, (size_t)v->len);
                if (rd.err) v->len = -1;
            }
            if (v->len < 0)
                return hln_fail(&r->err, HLN_EINVAL, "Invalid null value for column %s", col->name);
        }
    }
    *vals = out;
    *ntuples = nt;
    return 0;
}

/* The clustering prefix of each tuple of mc_in, encoded, into pre[]. */
static int mc_in_prefixes(ex_request *r, const sel *s, hln_buf *b, ex_value **pre, int *npre)
{
    const ex_plan *p = s->p;
    ex_value *v;
    int n, rc = ex_mc_in_values(r, p, &v, &n);
    if (rc) return rc;
    *pre = hln_arena_alloc(&r->arena, sizeof **pre * (size_t)(n ? n : 1));
    if (!*pre) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        hln_buf_reset(b);
        for (int k = 0; k < p->mc_in_n && !rc; k++)
            rc = put_comp(r, &s->t->cols[s->t->npk + k], &v[i * p->mc_in_n + k], b);
        if (rc) return rc;
        (*pre)[i].p = arena_bytes(r, b);
        (*pre)[i].len = (int32_t)b->len;
        if (!(*pre)[i].p) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    *npre = n;
    return 0;
}

static int bind_lookup(sel *s)
{
    ex_request *r = s->r;
    const ex_plan *p = s->p;
    const hln_table *t = s->t;
    if (t->npk > 64 || t->nck > 64)
        return hln_fail(&r->err, HLN_EUNSUPPORTED, "too many key columns");
    ex_value *vals[64];
    int nv[64];
    size_t combos = 1;
    int rc = 0;
    for (int i = 0; i < t->npk && !rc; i++) {
        rc = ex_key_values(r, p->pk[i], p->pk_in ? p->pk_in[i] : NULL, &t->cols[i], &vals[i],
                           &nv[i]);
        if (!rc) combos *= (size_t)nv[i];
        if (combos > MAX_CARTESIAN)
            rc = hln_fail(&r->err, HLN_EINVAL, "IN restrictions select more than %d partitions",
                          MAX_CARTESIAN);
    }
    if (rc) return rc;
    s->nkeys_given = combos;
    s->keys = hln_arena_alloc(&r->arena, sizeof *s->keys * (combos ? combos : 1));
    if (!s->keys) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    hln_buf b;
    hln_buf_init(&b);
    for (size_t c = 0; c < combos && !rc; c++) {
        const uint8_t *kv[64];
        size_t kl[64];
        size_t rest = c;
        for (int i = t->npk - 1; i >= 0; i--) {
            const ex_value *v = &vals[i][rest % (size_t)nv[i]];
            rest /= (size_t)nv[i];
            kv[i] = v->p;
            kl[i] = (size_t)v->len;
        }
        hln_buf_reset(&b);
        hln_pk_compose(kv, kl, t->npk, &b);
        if (b.len == 0) rc = hln_fail(&r->err, HLN_EINVAL, "Key may not be empty");
        sel_key *k = &s->keys[s->nkeys++];
        k->pk = arena_bytes(r, &b);
        k->pklen = (uint32_t)b.len;
        k->token = hln_murmur3_token(b.data, b.len);
        if (!rc && !k->pk) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    if (!rc && p->token_range) { /* token bounds beside the key: they filter the keys */
        rc = bind_range(s);
        int w = 0;
        for (int i = 0; !rc && i < s->nkeys; i++)
            if (s->keys[i].token > s->lo && s->keys[i].token <= s->hi) s->keys[w++] = s->keys[i];
        if (!rc) s->nkeys = w;
    }
    if (!rc && s->nkeys > 1) { /* key order, without duplicates, as Cassandra */
        sort_table = t;
        qsort(s->keys, (size_t)s->nkeys, sizeof *s->keys, cmp_key_values);
        int w = 1;
        for (int i = 1; i < s->nkeys; i++)
            if (cmp_key(&s->keys[i], &s->keys[w - 1]) != 0) s->keys[w++] = s->keys[i];
        s->nkeys = w;
    }

    /* clustering prefixes (equality and IN), then the slice on the next column */
    combos = 1;
    ex_value *mpre = NULL; /* (c1, c2) IN ((..), ..): one prefix per tuple */
    int nmpre = 0, first = p->mc_in ? p->mc_in_n : 0;
    if (!rc && p->mc_in) {
        rc = mc_in_prefixes(r, s, &b, &mpre, &nmpre);
        combos = (size_t)nmpre;
    }
    for (int pos = first; pos < p->nck_eq && !rc; pos++) {
        const hln_column *col = &t->cols[t->npk + pos];
        rc = ex_key_values(r, p->ck[pos], p->ck_in ? p->ck_in[pos] : NULL, col, &vals[pos],
                           &nv[pos]);
        if (!rc) combos *= (size_t)nv[pos];
        if (combos > MAX_CARTESIAN)
            rc = hln_fail(&r->err, HLN_EINVAL, "IN restrictions select more than %d rows",
                          MAX_CARTESIAN);
    }
    if (!rc) {
        s->slices = hln_arena_alloc(&r->arena, sizeof *s->slices * (combos ? combos : 1));
        if (!s->slices) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < combos && !rc; c++) {
        size_t rest = c;
        int idx[64];
        for (int pos = p->nck_eq - 1; pos >= first; pos--) {
            idx[pos] = (int)(rest % (size_t)nv[pos]);
            rest /= (size_t)nv[pos];
        }
        hln_buf_reset(&b);
        if (mpre) hln_buf_put(&b, mpre[rest].p, (size_t)mpre[rest].len);
        for (int pos = first; pos < p->nck_eq && !rc; pos++)
            rc = put_comp(r, &t->cols[t->npk + pos], &vals[pos][idx[pos]], &b);
        if (rc) break;
        sel_slice *sl = &s->slices[s->nslices++];
        sl->prefix = arena_bytes(r, &b);
        sl->plen = (uint32_t)b.len;
        if (!sl->prefix) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    if (!rc && s->nslices > 1) { /* clustering order, without duplicates */
        qsort(s->slices, (size_t)s->nslices, sizeof *s->slices, cmp_slice);
        int w = 1;
        for (int i = 1; i < s->nslices; i++)
            if (cmp_slice(&s->slices[i], &s->slices[w - 1]) != 0) s->slices[w++] = s->slices[i];
        s->nslices = w;
        if (p->reversed)
            for (int a = 0, z = s->nslices - 1; a < z; a++, z--) {
                sel_slice tmp = s->slices[a];
                s->slices[a] = s->slices[z];
                s->slices[z] = tmp;
            }
    }
    if (!rc && (p->mc_nlo || p->mc_nhi)) { /* (c1, c2) > (..): one slice over the prefix */
        sel_slice *sl = &s->slices[0];
        st_bound lo = {sl->prefix, 0, true}, hi = lo;
        for (int side = 0; side < 2 && !rc; side++) {
            cql_term *const *vs = side ? p->mc_hi : p->mc_lo;
            int nv = side ? p->mc_nhi : p->mc_nlo;
            if (!nv) continue;
            hln_buf_reset(&b);
            ex_value v[64];
            if (nv > 64) rc = hln_fail(&r->err, HLN_EUNSUPPORTED, "too many key columns");
            if (!rc)
                rc = ex_mc_bound_values(r, t, 0, vs, side ? p->mc_hi_tuple : p->mc_lo_tuple, nv, v);
            for (int i = 0; i < nv && !rc; i++)
                rc = put_comp(r, &t->cols[t->npk + i], &v[i], &b);
            st_bound bd = {arena_bytes(r, &b), (uint32_t)b.len,
                           side ? p->mc_hi_incl : p->mc_lo_incl};
            if (!bd.key) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            if (side)
                hi = bd;
            else
                lo = bd;
        }
        bool desc = t->nck > 0 && t->cols[t->npk].desc;
        sl->start = desc ? hi : lo;
        sl->end = desc ? lo : hi;
        hln_buf_free(&b);
        if (rc) return rc;
        if (s->nkeys == 0) {
            s->cstate = C_DONE;
            return 0;
        }
        load_pos(s);
        return 0;
    }
    for (int i = 0; i < s->nslices && !rc; i++) {
        sel_slice *sl = &s->slices[i];
        st_bound whole = {sl->prefix, sl->plen, true};
        sl->start = sl->end = whole;
        if (p->nck_eq < t->nck && (p->lo || p->hi)) {
            const hln_column *col = &t->cols[t->npk + p->nck_eq];
            st_bound lo = whole, hi = whole;
            if (p->lo) {
                ex_value v;
                hln_buf_reset(&b);
                hln_buf_put(&b, sl->prefix, sl->plen);
                rc = bind_cond(r, p->lo, col, &v);
                if (!rc) rc = put_comp(r, col, &v, &b);
                lo = (st_bound){arena_bytes(r, &b), (uint32_t)b.len, p->lo_incl};
            }
            if (!rc && p->hi) {
                ex_value v;
                hln_buf_reset(&b);
                hln_buf_put(&b, sl->prefix, sl->plen);
                rc = bind_cond(r, p->hi, col, &v);
                if (!rc) rc = put_comp(r, col, &v, &b);
                hi = (st_bound){arena_bytes(r, &b), (uint32_t)b.len, p->hi_incl};
            }
            sl->start = col->desc ? hi : lo;
            sl->end = col->desc ? lo : hi;
            if (!rc && (!sl->start.key || !sl->end.key))
                rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        }
    }
    if (!rc && b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    hln_buf_free(&b);
    if (rc) return rc;
    if (s->nkeys == 0 || s->nslices == 0) {
        s->cstate = C_DONE; /* IN (): nothing to read */
        return 0;
    }
    load_pos(s);
    return 0;
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
            return hln_fail(&r->err, HLN_EINVAL, "LIMIT must be strictly positive"); /* sic */
        if (present) s->pp_limit = v;
    }
    return 0;
}

/* The filters' values for this execution, in s->fvals (r->arena): the plan
 * may be a cached one shared by every execution, so it is never written. */
static int bind_filters(sel *s)
{
    ex_request *r = s->r;
    const ex_plan *p = s->p;
    if (!p->nfilters) return 0;
    s->fvals = hln_arena_alloc(&r->arena, sizeof *s->fvals * (size_t)p->nfilters);
    s->fkeys = hln_arena_alloc(&r->arena, sizeof *s->fkeys * (size_t)p->nfilters);
    s->fins = hln_arena_alloc(&r->arena, sizeof *s->fins * (size_t)p->nfilters);
    s->nfins = hln_arena_alloc(&r->arena, sizeof *s->nfins * (size_t)p->nfilters);
    if (!s->fvals || !s->fkeys || !s->fins || !s->nfins)
        return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < p->nfilters; i++) {
        const ex_filter *f = &p->filters[i];
        const hln_column *col = &p->t->cols[f->col];
        if (f->mc_terms || f->mc_tuple) { /* (c1, .., cn) > (v1, .., vn): n values */
            s->fins[i] = hln_arena_alloc(&r->arena, sizeof *s->fins[i] * (size_t)f->mc_n);
            if (!s->fins[i]) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            s->nfins[i] = 1;
            int rc = ex_mc_bound_values(r, p->t, f->col - p->t->npk, f->mc_terms, f->mc_tuple,
                                        f->mc_n, s->fins[i]);
            if (rc) return rc;
            continue;
        }
        if (f->op == CQL_OP_IN && f->mc_n) { /* n values per tuple */
            int rc = ex_mc_in_values(r, p, &s->fins[i], &s->nfins[i]);
            if (rc) return rc;
            continue;
        }
        if (f->op == CQL_OP_IN) {
            int rc = ex_key_values(r, NULL, f->in, col, &s->fins[i], &s->nfins[i]);
            if (rc) return rc;
            continue;
        }
        if (f->key) { /* m[key] = value */
            hln_column kc = *col, vc = *col;
            kc.type = col->type->params[0];
            vc.type = col->type->params[1];
            int rc = bind_cond(r, f->key, &kc, &s->fkeys[i]);
            if (!rc) rc = bind_cond(r, f->term, &vc, &s->fvals[i]);
            if (rc) return rc;
            continue;
        }
        if (f->op == CQL_OP_CONTAINS || f->op == CQL_OP_CONTAINS_KEY) {
            /* the term is an element (key) of the collection */
            const hln_type *ct = col->type;
            hln_column ec = *col;
            bool key = f->op == CQL_OP_CONTAINS_KEY;
            ec.type = ct->kind == HLN_T_MAP && !key ? ct->params[1] : ct->params[0];
            char receiver[300];
            snprintf(receiver, sizeof receiver, "%s(%s)", key ? "key" : "value", col->name);
            int rc = bind_cond_as(r, f->term, &ec, receiver, &s->fvals[i]);
            if (rc) return rc;
            continue;
        }
        int rc = bind_cond(r, f->term, col, &s->fvals[i]);
        if (rc) return rc;
    }
    return 0;
}

static int bind_token(ex_request *r, const cql_term *term, int64_t *out)
{
    ex_value v;
    int rc = ex_bind(r, term, hln_type_by_kind(HLN_T_BIGINT), "partition key token", &v);
    if (rc) return rc;
    if (v.len == -1)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Invalid null value in condition for column partition key token");
    if (v.len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value for column partition key token");
    if (v.len != 8) return hln_fail(&r->err, HLN_EINVAL, "Invalid empty value of token");
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | v.p[i];
    *out = (int64_t)x;
    return 0;
}

/* The token range (lo, hi] of a range query; lo >= hi is empty. */
static int bind_range(sel *s)
{
    const ex_plan *p = s->p;
    s->lo = INT64_MIN;
    s->hi = INT64_MAX;
    if (!p->token_range) return 0;
    int64_t v;
    int rc;
    if (p->tok_eq) {
        if ((rc = bind_token(s->r, p->tok_eq, &v)) != 0) return rc;
        s->lo = v == INT64_MIN ? INT64_MIN : v - 1;
        s->hi = v;
    }
    if (p->tok_lo) {
        if ((rc = bind_token(s->r, p->tok_lo, &v)) != 0) return rc;
        s->lo = p->tok_lo_incl && v > INT64_MIN ? v - 1 : v;
    }
    if (p->tok_hi) {
        if ((rc = bind_token(s->r, p->tok_hi, &v)) != 0) return rc;
        if (p->tok_hi_incl)
            s->hi = v;
        else if (v == INT64_MIN)
            s->hi = INT64_MIN; /* < min: empty */
        else
            s->hi = v - 1;
    }
    return 0;
}

/* ---- values ------------------------------------------------------------ */

static int mk_int(ex_request *r, int64_t v, int bytes, ex_value *out)
{
    uint8_t *b = hln_arena_alloc(&r->arena, (size_t)bytes);
    if (!b) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = bytes - 1; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v = (int64_t)((uint64_t)v >> 8);
    }
    *out = (ex_value){b, bytes};
    return 0;
}

/* One row being offered: from storage (part/row) or generated (vrow). */
typedef struct rowctx {
    ex_request *r;
    const hln_table *t;
    int64_t now_sec;
    const st_partition *part;
    const st_row *row;
    const st_row *srow; /* the partition's static row, NULL when none */
    hln_bytes *vrow;
    ex_value *pkv, *ckv;
    bool pk_done, ck_done;
    hln_buf scratch;
    const ex_value *aggvals; /* a group's end: the results of p->agg_subs */
} rowctx;

static int split_pk(rowctx *c)
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

static int decode_ck(rowctx *c)
{
    int rc = ex_ck_decode(c->r, c->t, c->row->ck, c->row->cklen, &c->scratch, c->ckv);
    if (rc == 0) c->ck_done = true;
    return rc;
}

/* The first live cell of regular column col_id, or NULL; *n is the number
 * of its cells (the elements of a non-frozen collection, else 1). */
static const st_cell *find_cells(const st_row *row, uint32_t col_id, uint32_t *n)
{
    uint32_t lo = 0, hi = row->ncells;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (row->cells[mid].col_id < col_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t end = lo;
    while (end < row->ncells && row->cells[end].col_id == col_id)
        end++;
    *n = end - lo;
    return end > lo ? &row->cells[lo] : NULL;
}

/* The live cell of simple (or frozen) column col_id, or NULL. */
static const st_cell *find_cell(const st_row *row, uint32_t col_id)
{
    uint32_t n;
    const st_cell *c = find_cells(row, col_id, &n);
    return c && !(c->flags & ST_CELL_TOMBSTONE) ? c : NULL;
}

static int get(rowctx *c, int ci, ex_value *out)
{
    if (c->vrow) {
        *out = c->vrow[ci];
        return 0;
    }
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
        const st_row *row = col->kind == HLN_COL_STATIC ? c->srow : c->row;
        if (!row) {
            *out = (ex_value){NULL, -1};
            return 0;
        }
        if (hln_type_is_multicell(col->type)) {
            uint32_t n;
            const st_cell *first = find_cells(row, col->id, &n);
            return ex_collection_value(&c->r->arena, &c->r->err, col, first, first ? n : 0, out);
        }
        const st_cell *cell = find_cell(row, col->id);
        static const uint8_t empty[1];
        if (cell)
            *out = (ex_value){cell->len ? cell->val : empty, (int32_t)cell->len};
        else
            *out = (ex_value){NULL, -1};
        return 0;
    }
    }
}

static int row_token(rowctx *c, int64_t *tok)
{
    if (!c->vrow) {
        *tok = c->part->token;
        return 0;
    }
    const hln_table *t = c->t;
    const uint8_t *vals[64];
    size_t lens[64];
    if (t->npk > 64)
        return hln_fail(&c->r->err, HLN_EUNSUPPORTED, "too many partition key columns");
    for (int i = 0; i < t->npk; i++) {
        vals[i] = c->vrow[i].p;
        lens[i] = c->vrow[i].len > 0 ? (size_t)c->vrow[i].len : 0;
    }
    hln_buf_reset(&c->scratch);
    hln_pk_compose(vals, lens, t->npk, &c->scratch);
    if (c->scratch.err) return hln_fail(&c->r->err, HLN_ENOMEM, "out of memory");
    *tok = hln_murmur3_token(c->scratch.data, c->scratch.len);
    return 0;
}

static bool collection_contains(const hln_type *t, const ex_value *v, const ex_value *e, bool key,
                                unsigned fold);

/* writetime(c) / ttl(c) of a non-frozen collection: a list with one
 * timestamp (remaining TTL, null when none) per element, as Cassandra 5.0. */
static int element_times(rowctx *c, const ex_sel *x, const hln_column *col, ex_value *out)
{
    uint32_t n = 0;
    const st_row *row = col->kind == HLN_COL_STATIC ? c->srow : c->row;
    const st_cell *first = c->vrow || !row ? NULL : find_cells(row, col->id, &n);
    *out = (ex_value){NULL, -1};
    if (!first) return 0;
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u32(&b, n);
    for (uint32_t i = 0; i < n; i++) {
        const st_cell *e = &first[i];
        if (x->kind == EX_SEL_WRITETIME) {
            hln_buf_u32(&b, 8);
            hln_buf_u64(&b, (uint64_t)e->ts);
            continue;
        }
        int64_t left = e->expires ? e->expires - c->now_sec : 0;
        if (left <= 0) {
            hln_buf_u32(&b, UINT32_MAX); /* null */
            continue;
        }
        hln_buf_u32(&b, 4);
        hln_buf_u32(&b, (uint32_t)(left > INT32_MAX ? INT32_MAX : left));
    }
    int rc = b.err ? hln_fail(&c->r->err, HLN_ENOMEM, "out of memory") : 0;
    if (!rc) {
        out->p = hln_arena_memdup(&c->r->arena, b.data, b.len);
        out->len = (int32_t)b.len;
        if (!out->p) rc = hln_fail(&c->r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

/* c[lo..hi]: the elements (entries) of set or map c between the bounds,
 * both included (a missing bound is open); null when none. */
static int slice_value(rowctx *c, const ex_sel *x, ex_value *out)
{
    ex_value whole, b[2];
    int rc;
    if ((rc = get(c, x->col, &whole)) != 0) return rc;
    *out = (ex_value){NULL, -1};
    for (int i = 0; i < 2; i++) {
        b[i] = (ex_value){NULL, -1};
        if (x->args[i].term && (rc = ex_bind(c->r, x->args[i].term, x->args[i].type,
                                             c->t->cols[x->col].name, &b[i])) != 0)
            return rc;
    }
    if (whole.len <= 0) return 0;
    const hln_type *t = c->t->cols[x->col].type;
    bool is_map = t->kind == HLN_T_MAP;
    hln_rd rd;
    uint32_t n;
    if (hln_coll_begin(&rd, whole.p, (size_t)whole.len, &n)) return 0;
    hln_buf o;
    hln_buf_init(&o);
    hln_buf_u32(&o, 0);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *k, *v = NULL;
        int32_t kl, vl = -1;
        if (hln_coll_next(&rd, &k, &kl)) break;
        if (is_map && hln_coll_next(&rd, &v, &vl)) break;
        if (kl < 0) continue;
        if (b[0].len >= 0 &&
            hln_type_compare(t->params[0], k, (size_t)kl, b[0].p, (size_t)b[0].len) < 0)
            continue;
        if (b[1].len >= 0 &&
            hln_type_compare(t->params[0], k, (size_t)kl, b[1].p, (size_t)b[1].len) > 0)
            continue;
        kept++;
        hln_buf_u32(&o, (uint32_t)kl);
        hln_buf_put(&o, k, (size_t)kl);
        if (is_map) {
            hln_buf_u32(&o, (uint32_t)vl);
            if (vl > 0) hln_buf_put(&o, v, (size_t)vl);
        }
    }
    rc = o.err ? hln_fail(&c->r->err, HLN_ENOMEM, "out of memory") : 0;
    if (!rc && kept) {
        for (int i = 0; i < 4; i++)
            o.data[i] = (uint8_t)(kept >> (24 - 8 * i));
        out->p = hln_arena_memdup(&c->r->arena, o.data, o.len);
        out->len = (int32_t)o.len;
        if (!out->p) rc = hln_fail(&c->r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&o);
    return rc;
}

/* The value of a non-aggregate selector (at a group's end, the result of
 * an aggregate inside an expression). */
static int sel_value(rowctx *c, const ex_sel *x, ex_value *out)
{
    int rc;
    if (c->aggvals && x->slotted) {
        *out = c->aggvals[x->slot];
        return 0;
    }
    if (x->kind >= EX_SEL_COUNT_ROWS)
        return hln_fail(&c->r->err, HLN_ESERVER, "aggregate outside a group");
    switch (x->kind) {
    case EX_SEL_TOKEN: {
        int64_t tok = 0;
        if ((rc = row_token(c, &tok)) != 0) return rc;
        return mk_int(c->r, tok, 8, out);
    }
    case EX_SEL_ELEM:
        if (x->nargs == 2) return slice_value(c, x, out);
        {
            ex_value whole, key;
            if ((rc = get(c, x->col, &whole)) != 0) return rc;
            char kname[300];
            snprintf(kname, sizeof kname, "%s(%s)",
                     c->t->cols[x->col].type->kind == HLN_T_MAP ? "key" : "value",
                     c->t->cols[x->col].name);
            if ((rc = ex_bind(c->r, x->args[0].term, x->args[0].type, kname, &key)) != 0) return rc;
            *out = (ex_value){NULL, -1};
            if (whole.len <= 0 || key.len < 0) return 0;
            const hln_type *t = c->t->cols[x->col].type;
            bool is_map = t->kind == HLN_T_MAP;
            hln_rd rd;
            uint32_t n;
            if (hln_coll_begin(&rd, whole.p, (size_t)whole.len, &n)) return 0;
            for (uint32_t i = 0; i < n; i++) {
                const uint8_t *k, *v = NULL;
                int32_t kl, vl = -1;
                if (hln_coll_next(&rd, &k, &kl)) return 0;
                if (is_map && hln_coll_next(&rd, &v, &vl)) return 0;
                if (kl >= 0 &&
                    hln_type_compare(t->params[0], k, (size_t)kl, key.p, (size_t)key.len) == 0) {
                    *out = is_map ? (ex_value){v, vl} : (ex_value){k, kl};
                    return 0;
                }
            }
            return 0;
        }
    case EX_SEL_FIELD: {
        ex_value whole;
        if ((rc = get(c, x->col, &whole)) != 0) return rc;
        *out = (ex_value){NULL, -1};
        const hln_type *t = c->t->cols[x->col].type;
        const uint8_t *els[HLN_TUPLE_MAX];
        int32_t lens[HLN_TUPLE_MAX];
        int n = 0;
        if (whole.len <= 0 || hln_tuple_split(t, whole.p, (size_t)whole.len, els, lens, &n))
            return 0;
        if (x->field < n) *out = (ex_value){els[x->field], lens[x->field]};
        return 0;
    }
    case EX_SEL_TOJSON: {
        ex_value v;
        const hln_type *vt;
        if (x->col < 0 && x->nargs == 1 && x->args[0].sub) { /* toJson(expression) */
            if ((rc = sel_value(c, x->args[0].sub, &v)) != 0) return rc;
            if (v.len == -2) v = (ex_value){NULL, -1};
            vt = x->args[0].type;
        } else {
            if ((rc = get(c, x->col, &v)) != 0) return rc;
            vt = c->t->cols[x->col].type;
        }
        hln_buf b;
        hln_buf_init(&b);
        hln_type_to_json(vt, v.p, v.len, &b);
        rc = b.err ? hln_fail(&c->r->err, HLN_ENOMEM, "out of memory") : 0;
        if (!rc) {
            out->p = hln_arena_memdup(&c->r->arena, b.data, b.len);
            out->len = (int32_t)b.len;
            if (!out->p) rc = hln_fail(&c->r->err, HLN_ENOMEM, "out of memory");
        }
        hln_buf_free(&b);
        return rc;
    }
    case EX_SEL_FUNC:
    case EX_SEL_OP:
    case EX_SEL_CAST: {
        ex_value sargs[5], *args = sargs;
        const hln_type *sat[5], **at = sat;
        if (x->nargs > 5) { /* token() of a wide partition key */
            args = hln_arena_alloc(&c->r->arena, sizeof *args * (size_t)x->nargs);
            at = hln_arena_alloc(&c->r->arena, sizeof *at * (size_t)x->nargs);
            if (!args || !at) return hln_fail(&c->r->err, HLN_ENOMEM, "out of memory");
        }
        for (int i = 0; i < x->nargs; i++) {
            const ex_selarg *a = &x->args[i];
            at[i] = a->type;
            if (a->sub)
                rc = sel_value(c, a->sub, &args[i]);
            else if (a->col >= 0)
                rc = get(c, a->col, &args[i]);
            else
                rc = ex_bind(c->r, a->term, a->type, x->fn ? x->fn->name : "?", &args[i]);
            if (rc) return rc;
            if (args[i].len == -2) args[i] = (ex_value){NULL, -1};
        }
        if (x->kind == EX_SEL_OP && x->op == 'n') return ex_negate(c->r, at[0], args[0], out);
        if (x->kind == EX_SEL_OP)
            return ex_arith(c->r, x->op, at[0], args[0], at[1], args[1], x->type, out);
        if (x->kind == EX_SEL_CAST) return ex_cast(c->r, at[0], args[0], x->type, out);
        return ex_fn_call(c->r, x->fn, at, args, x->nargs, out);
    }
    case EX_SEL_CONST:
        return ex_bind(c->r, x->args[0].term, x->type, "?", out);
    case EX_SEL_WRITETIME:
    case EX_SEL_TTL: {
        const hln_column *col = &c->t->cols[x->col];
        if (x->nargs == 1 && x->args[0].term) { /* writetime(c[k]) / ttl(c[k]) */
            ex_value key;
            *out = (ex_value){NULL, -1};
            char kname[300];
            snprintf(kname, sizeof kname, "%s(%s)", col->type->kind == HLN_T_MAP ? "key" : "value",
                     col->name);
            if ((rc = ex_bind(c->r, x->args[0].term, x->args[0].type, kname, &key)) != 0) return rc;
            const st_row *row = col->kind == HLN_COL_STATIC ? c->srow : c->row;
            if (!hln_type_is_multicell(col->type)) { /* frozen: the value's, if it holds k */
                const st_cell *cell =
                    c->vrow || !row || key.len < 0 ? NULL : find_cell(row, col->id);
                ex_value whole;
                if (!cell || (rc = get(c, x->col, &whole)) != 0 || whole.len < 0) return rc;
                if (!collection_contains(col->type, &whole, &key, true, 0)) return 0;
                if (x->kind == EX_SEL_WRITETIME) return mk_int(c->r, cell->ts, 8, out);
                if (cell->ttl == 0 && cell->expires == 0) return 0;
                int64_t left = cell->expires - c->now_sec;
                if (left <= 0) return 0;
                return mk_int(c->r, left > INT32_MAX ? INT32_MAX : left, 4, out);
            }
            uint32_t n = 0;
            const st_cell *first =
                c->vrow || !row || key.len < 0 ? NULL : find_cells(row, col->id, &n);
            if (!first) return 0;
            hln_buf kp;
            hln_buf_init(&kp);
            rc = hln_type_to_comparable(x->args[0].type, key.p, (size_t)key.len, false, &kp);
            const st_cell *hit = NULL;
            for (uint32_t i = 0; !rc && !kp.err && i < n && !hit; i++)
                if (!(first[i].flags & (ST_CELL_TOMBSTONE | ST_CELL_COLDEL)) &&
                    first[i].pathlen == kp.len &&
                    (kp.len == 0 || !memcmp(first[i].path, kp.data, kp.len)))
                    hit = &first[i];
            hln_buf_free(&kp);
            if (!hit) return 0;
            if (x->kind == EX_SEL_WRITETIME) return mk_int(c->r, hit->ts, 8, out);
            int64_t left = hit->expires ? hit->expires - c->now_sec : 0;
            if (left <= 0) return 0;
            return mk_int(c->r, left > INT32_MAX ? INT32_MAX : left, 4, out);
        }
        if (x->max && hln_type_is_multicell(col->type)) { /* maxwritetime: the latest element */
            uint32_t n = 0;
            const st_row *row = col->kind == HLN_COL_STATIC ? c->srow : c->row;
            const st_cell *first = c->vrow || !row ? NULL : find_cells(row, col->id, &n);
            *out = (ex_value){NULL, -1};
            if (!first) return 0;
            int64_t m = first[0].ts;
            for (uint32_t i = 1; i < n; i++)
                if (first[i].ts > m) m = first[i].ts;
            return mk_int(c->r, m, 8, out);
        }
        if (hln_type_is_multicell(col->type)) return element_times(c, x, col, out);
        const st_row *row = col->kind == HLN_COL_STATIC ? c->srow : c->row;
        const st_cell *cell = c->vrow || !row ? NULL : find_cell(row, col->id);
        *out = (ex_value){NULL, -1};
        if (!cell) return 0;
        if (x->kind == EX_SEL_WRITETIME) return mk_int(c->r, cell->ts, 8, out);
        if (cell->ttl == 0 && cell->expires == 0) return 0;
        int64_t left = cell->expires - c->now_sec;
        if (left <= 0) return 0;
        return mk_int(c->r, left > INT32_MAX ? INT32_MAX : left, 4, out);
    }
    default:
        return get(c, x->col, out);
    }
}

/* ---- the shaper ----------------------------------------------------------- */

/* True when serialized collection v of type t has element (key when key,
 * map value otherwise) e; fold: text compared analyzed (EX_FOLD_*). */
static bool collection_contains(const hln_type *t, const ex_value *v, const ex_value *e, bool key,
                                unsigned fold)
{
    bool is_map = t->kind == HLN_T_MAP;
    const hln_type *et = is_map && !key ? t->params[1] : t->params[0];
    hln_rd rd;
    uint32_t n;
    if (hln_coll_begin(&rd, v->p, (size_t)v->len, &n)) return false;
    for (uint32_t i = 0; i < n; i++) {
        for (int part = 0; part < (is_map ? 2 : 1); part++) {
            const uint8_t *x;
            int32_t xl;
            if (hln_coll_next(&rd, &x, &xl)) return false;
            bool want = !is_map || (part == 0) == key;
            if (want && xl >= 0 &&
                (fold ? ex_fold_equal(x, xl, e->p, e->len, fold)
                      : hln_type_compare(et, x, (size_t)xl, e->p, (size_t)e->len) == 0))
                return true;
        }
    }
    return false;
}

/* A row with no row marker whose live cells all belong to dropped columns
 * (ids no current column has): it no longer exists, as in Cassandra. */
static bool only_dropped_cells(const hln_table *t, const st_row *row)
{
    if (row->marker_ts != HLN_TS_NONE) return false;
    for (uint32_t i = 0; i < row->ncells; i++)
        for (int j = t->npk + t->nck; j < t->ncols; j++)
            if (t->cols[j].id == row->cells[i].col_id) return false;
    return true;
}

/* The value of key k in serialized map v (of type t), if any. */
static bool map_value(const hln_type *t, const ex_value *v, const ex_value *k, ex_value *out)
{
    hln_rd rd;
    uint32_t n;
    if (hln_coll_begin(&rd, v->p, (size_t)v->len, &n)) return false;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *kx, *vx;
        int32_t kl, vl;
        if (hln_coll_next(&rd, &kx, &kl) || hln_coll_next(&rd, &vx, &vl)) return false;
        if (kl >= 0 && hln_type_compare(t->params[0], kx, (size_t)kl, k->p, (size_t)k->len) == 0) {
            if (vl < 0) return false;
            out->p = vx;
            out->len = vl;
            return true;
        }
    }
    return false;
}

static bool match(const sel *s, rowctx *c, int *rc)
{
    const ex_plan *p = s->p;
    for (int i = 0; i < p->nfilters; i++) {
        const ex_filter *f = &p->filters[i];
        ex_value v;
        if ((*rc = get(c, f->col, &v)) != 0) return false;
        if (v.len < 0) return false;
        const ex_value *fv = &s->fvals[i];
        if (f->key) {
            ex_value mv;
            const hln_type *mt = p->t->cols[f->col].type;
            if (!map_value(mt, &v, &s->fkeys[i], &mv) ||
                hln_type_compare(mt->params[1], mv.p, (size_t)mv.len, fv->p, (size_t)fv->len))
                return false;
            continue;
        }
        int cmp = 0;
        if (f->mc_terms || f->mc_tuple) { /* (c1, .., cn) > (..): the first differing decides */
            for (int j = 0; j < f->mc_n && !cmp; j++) {
                const ex_value *tv = &s->fins[i][j];
                ex_value cv = v;
                if (j && ((*rc = get(c, f->col + j, &cv)) != 0 || cv.len < 0)) return false;
                cmp = hln_type_compare(p->t->cols[f->col + j].type, cv.p, (size_t)cv.len, tv->p,
                                       (size_t)tv->len);
            }
        } else if (f->op == CQL_OP_IN && f->mc_n) { /* (c1, .., cn) IN: one tuple equal */
            bool any = false;
            for (int k = 0; k < s->nfins[i] && !any; k++) {
                any = true;
                for (int j = 0; j < f->mc_n && any; j++) {
                    const ex_value *tv = &s->fins[i][k * f->mc_n + j];
                    ex_value cv = v;
                    if (j && ((*rc = get(c, f->col + j, &cv)) != 0 || cv.len < 0)) return false;
                    any = hln_type_compare(p->t->cols[f->col + j].type, cv.p, (size_t)cv.len, tv->p,
                                           (size_t)tv->len) == 0;
                }
            }
            if (!any) return false;
            continue;
        } else if (f->op == CQL_OP_IN) {
            bool any = false;
            for (int k = 0; k < s->nfins[i] && !any; k++)
                any = hln_type_compare(p->t->cols[f->col].type, v.p, (size_t)v.len, s->fins[i][k].p,
                                       (size_t)s->fins[i][k].len) == 0;
            if (!any) return false;
            continue;
        } else if (f->fold && f->op == CQL_OP_EQ) {
            if (!ex_fold_equal(v.p, v.len, fv->p, fv->len, f->fold)) return false;
            continue;
        } else if (f->op == CQL_OP_CONTAINS || f->op == CQL_OP_CONTAINS_KEY) {
            if (!collection_contains(p->t->cols[f->col].type, &v, fv, f->op == CQL_OP_CONTAINS_KEY,
                                     f->fold))
                return false;
            continue;
        } else {
            cmp = hln_type_compare(p->t->cols[f->col].type, v.p, (size_t)v.len, fv->p,
                                   (size_t)fv->len);
        }
        bool ok = false;
        switch (f->op) {
        case CQL_OP_EQ:
            ok = cmp == 0;
            break;
        case CQL_OP_LT:
            ok = cmp < 0;
            break;
        case CQL_OP_LE:
            ok = cmp <= 0;
            break;
        case CQL_OP_GT:
            ok = cmp > 0;
            break;
        case CQL_OP_GE:
            ok = cmp >= 0;
            break;
        default:
            ok = false;
            break;
        }
        if (!ok) return false;
    }
    return true;
}

/* Starts counting rows of partition (token, pk) unless it is the current. */
static void enter_partition(sel *s, int64_t token, const uint8_t *pk, uint32_t pklen)
{
    if (s->have_part && s->part_token == token && s->part_pklen == pklen &&
        (pklen == 0 || !memcmp(s->part_pk, pk, pklen)))
        return;
    s->have_part = true;
    s->part_token = token;
    s->part_pk = pk;
    s->part_pklen = pklen;
    s->in_part = 0;
    s->part_closed = false;
}

static bool part_done(const sel *s)
{
    return s->part_closed || (s->eff_pp && s->in_part >= s->eff_pp);
}

static int emit_group(sel *s);
static int group_key(sel *s, rowctx *c, hln_buf *out);

/* The input of an aggregate: its column, or its expression of the row. */
static int agg_input(rowctx *c, const ex_sel *x, ex_value *v)
{
    if (x->col < 0 && x->nargs && x->args[0].sub) {
        int rc = sel_value(c, x->args[0].sub, v);
        if (!rc && v->len == -2) *v = (ex_value){NULL, -1};
        return rc;
    }
    return get(c, x->col, v);
}

static const hln_type *agg_type(const ex_plan *p, const ex_sel *x)
{
    return x->col >= 0 ? p->t->cols[x->col].type : x->args[0].type;
}

/* One row's step of aggregate x into a. */
static int agg_step(sel *s, rowctx *c, const ex_sel *x, agg *a)
{
    const ex_plan *p = s->p;
    ex_value v;
    int rc;
    switch (x->kind) {
    case EX_SEL_COUNT_ROWS:
        a->count++;
        break;
    case EX_SEL_COUNT:
        if ((rc = agg_input(c, x, &v)) != 0) return rc;
        if (v.len >= 0) a->count++;
        break;
    case EX_SEL_MIN:
    case EX_SEL_MAX: {
        if ((rc = agg_input(c, x, &v)) != 0) return rc;
        if (v.len < 0) break;
        if (a->set) {
            int cmp =
                hln_type_compare(agg_type(p, x), v.p, (size_t)v.len, a->v.p, (size_t)a->v.len);
            if (x->kind == EX_SEL_MIN ? cmp >= 0 : cmp <= 0) break;
        }
        a->v = v;
        a->set = true;
        break;
    }
    case EX_SEL_SUM:
    case EX_SEL_AVG: {
        if ((rc = agg_input(c, x, &v)) != 0) return rc;
        if (v.len <= 0) break;
        hln_type_kind k = agg_type(p, x)->kind;
        if (k == HLN_T_VARINT) { /* exact: Cassandra sums varints as BigInteger */
            if (a->set) {
                const hln_type *vt = agg_type(p, x);
                if ((rc = ex_arith(s->r, '+', vt, a->v, vt, v, vt, &a->v)) != 0) return rc;
            } else {
                a->v = v;
                a->set = true;
            }
            a->n++;
            break;
        }
        if (k == HLN_T_DECIMAL) {
            if (v.len < 4) break;
            if ((rc = agg_decimal(s->r, a, &v, x->kind == EX_SEL_AVG)) != 0) return rc;
            a->n++;
            break;
        }
        uint64_t u = 0;
        for (int32_t b = 0; b < v.len && b < 8; b++)
            u = u << 8 | v.p[b];
        if (k == HLN_T_FLOAT && v.len == 4) {
            uint32_t bits = (uint32_t)u;
            float fl;
            memcpy(&fl, &bits, 4);
            a->dsum += fl;
        } else if (k == HLN_T_DOUBLE && v.len == 8) {
            double d;
            memcpy(&d, &u, 8);
            a->dsum += d;
        } else {
            if (v.len < 8 && (v.p[0] & 0x80)) u |= UINT64_MAX << (8 * v.len);
            a->isum = (int64_t)((uint64_t)a->isum + u);
        }
        a->n++;
        break;
    }
    default:
        break;
    }
    return 0;
}

/* The row just taken, where a paging state resumes (make_state). */
static void remember_last(sel *s, const rowctx *c)
{
    if (!c->part) return;
    s->have_last = true;
    s->last_token = c->part->token;
    s->last_pk = c->part->pk;
    s->last_pklen = c->part->pklen;
    s->last_ck = c->row->ck;
    s->last_cklen = c->row->cklen;
}

static int take_okey(sel *s, rowctx *c, ex_value *dst);

static int aggregate(sel *s, rowctx *c)
{
    const ex_plan *p = s->p;
    int rc;
    if (p->group_cols) {
        hln_buf k;
        hln_buf_init(&k);
        rc = group_key(s, c, &k);
        bool same = !rc && s->agg_first && k.len == s->gkeylen && !memcmp(k.data, s->gkey, k.len);
        /* PER PARTITION LIMIT counts groups: rows of the partition's later
           groups are passed over (in_part restarts with each partition) */
        if (!rc && !same && s->pp_limit > 0 && s->in_part >= s->pp_limit) {
            hln_buf_free(&k);
            return 0;
        }
        if (!rc && s->agg_first && !same) {
            rc = emit_group(s);
            /* a full page of groups: this row opens the next page's first
               group, so the paging state stays at the row before it */
            if (!rc && !s->stop && s->page && s->nrows >= s->page) {
                s->stop = true;
                s->group_paused = true;
            }
        }
        if (!rc && !same && !s->stop) s->in_part++;
        if (!rc && !same) {
            s->gkey = hln_arena_memdup(&s->r->arena, k.data, k.len ? k.len : 1);
            s->gkeylen = k.len;
            if (!s->gkey) rc = hln_fail(&s->r->err, HLN_ENOMEM, "out of memory");
        }
        hln_buf_free(&k);
        if (rc) return rc;
        if (s->stop) return 0;
    }
    if (s->osort && p->group_cols && !s->agg_first && (rc = take_okey(s, c, s->gokey)) != 0)
        return rc; /* the group's first row gives its ORDER BY values */
    for (int i = 0; i < p->nproj; i++) {
        const ex_sel *x = &p->sels[i];
        agg *a = &s->aggs[i];
        if (x->kind >= EX_SEL_COUNT_ROWS) {
            if ((rc = agg_step(s, c, x, a)) != 0) return rc;
        } else if (!x->has_agg && !s->agg_first) {
            /* a plain selector in an aggregate query: the first row's value */
            if ((rc = sel_value(c, x, &a->v)) != 0) return rc;
        }
    }
    for (int k = 0; k < p->nagg_subs; k++) {
        const ex_sel *x = p->agg_subs[k];
        if (x->kind >= EX_SEL_COUNT_ROWS)
            rc = agg_step(s, c, x, &s->subaggs[k]);
        else if (!s->agg_first) /* a row value: the group's first row's */
            rc = sel_value(c, x, &s->subaggs[k].v);
        if (rc) return rc;
    }
    s->agg_first = true;
    if (p->group_cols) { /* where the next page of groups resumes */
        remember_last(s, c);
        s->last_in_part = s->in_part;
    }
    return 0;
}

/* The ORDER BY columns' values of the row in c, copied into r->arena. */
static int take_okey(sel *s, rowctx *c, ex_value *dst)
{
    for (int i = 0; i < s->p->norder; i++) {
        ex_value v;
        int rc = get(c, s->p->order_cols[i], &v);
        if (rc) return rc;
        if (v.len > 0) {
            v.p = hln_arena_memdup(&s->r->arena, v.p, (size_t)v.len);
            if (!v.p) return hln_fail(&s->r->err, HLN_ENOMEM, "out of memory");
        }
        dst[i] = v;
    }
    return 0;
}

/* Room for the ORDER BY values of row s->nrows. */
static ex_value *okey_slot(sel *s)
{
    int n = s->p->norder;
    if (s->nrows >= s->okcap) {
        int ncap = s->okcap ? s->okcap * 2 : 64;
        ex_value *k = hln_arena_alloc(&s->r->arena, sizeof *k * (size_t)ncap * (size_t)n);
        if (!k) return NULL;
        if (s->nrows) memcpy(k, s->okeys, sizeof *k * (size_t)s->nrows * (size_t)n);
        s->okeys = k;
        s->okcap = ncap;
    }
    return &s->okeys[(size_t)s->nrows * (size_t)n];
}

static _Thread_local const sel *osort_sel; /* qsort's context, per shard thread */

typedef struct osort_slot {
    const ex_value *key;
    int row;
} osort_slot;

static int cmp_osort(const void *a, const void *b)
{
    const osort_slot *x = a, *y = b;
    const ex_plan *p = osort_sel->p;
    for (int i = 0; i < p->norder; i++) {
        const ex_value *u = &x->key[i], *v = &y->key[i];
        int c;
        if (u->len < 0 || v->len < 0)
            c = (u->len >= 0) - (v->len >= 0);
        else
            c = hln_type_compare(p->t->cols[p->order_cols[i]].type, u->p, (size_t)u->len, v->p,
                                 (size_t)v->len);
        if (c) return p->order_desc[i] ? -c : c;
    }
    return x->row - y->row; /* ties keep the partitions' order (a stable sort) */
}

/* Sorts the collected rows by the ORDER BY columns, as Cassandra sorts the
 * rows of several partitions (stable: equal values keep partition order,
 * and each partition's rows came in ORDER BY order), then applies LIMIT. */
static int osort_rows(sel *s)
{
    int n = s->nrows, np = s->p->nproj;
    if (n > 1) {
        osort_slot *sl = hln_malloc(sizeof *sl * (size_t)n);
        ex_value *cells =
            hln_arena_alloc(&s->r->arena, sizeof *cells * (size_t)n * (size_t)(np ? np : 1));
        if (!sl || !cells) {
            hln_free(sl);
            return hln_fail(&s->r->err, HLN_ENOMEM, "out of memory");
        }
        for (int i = 0; i < n; i++)
            sl[i] = (osort_slot){&s->okeys[(size_t)i * (size_t)s->p->norder], i};
        osort_sel = s;
        qsort(sl, (size_t)n, sizeof *sl, cmp_osort);
        for (int i = 0; i < n; i++)
            memcpy(&cells[(size_t)i * (size_t)np], &s->cells[(size_t)sl[i].row * (size_t)np],
                   sizeof *cells * (size_t)np);
        hln_free(sl);
        s->cells = cells;
    }
    if (s->limit > 0 && s->nrows > s->limit) s->nrows = s->limit;
    return 0;
}

/* Offers one row of the current partition: filtered, counted, projected. */
static int ann_keep(sel *s, int keep);

static int offer(sel *s, rowctx *c)
{
    const ex_plan *p = s->p;
    if (s->stop || part_done(s)) return 0;
    int rc = 0;
    if (!match(s, c, &rc)) return rc;
    float score = 0;
    if (p->ann) {
        /* rows without a (usable) vector are not candidates */
        ex_value v;
        if ((rc = get(c, p->ann_col, &v)) != 0) return rc;
        if (v.len < 0 || !ex_ann_decode(v.p, v.len, s->ann_dim, s->annrow)) return 0;
        score = ix_score((ix_metric)p->ann_metric,
                         ix_distance((ix_metric)p->ann_metric, s->annq, s->annrow, s->ann_dim));
        if (isnan(score)) return 0;
        if (s->nrows >= 4 * s->ann_k + 256 && (rc = ann_keep(s, s->ann_k)) != 0) return rc;
    }
    if (p->aggregate) return aggregate(s, c); /* GROUP BY counts groups in in_part */
    s->in_part++;
    if (s->nrows >= s->cap) {
        int ncap = s->cap ? s->cap * 2 : 64;
        ex_value *n = hln_arena_alloc(&s->r->arena,
                                      sizeof *n * (size_t)ncap * (size_t)(p->nproj ? p->nproj : 1));
        if (!n) return hln_fail(&s->r->err, HLN_ENOMEM, "out of memory");
        if (s->nrows) memcpy(n, s->cells, sizeof *n * (size_t)s->nrows * (size_t)p->nproj);
        s->cells = n;
        if (p->ann) {
            float *sc = hln_arena_alloc(&s->r->arena, sizeof *sc * (size_t)ncap);
            if (!sc) return hln_fail(&s->r->err, HLN_ENOMEM, "out of memory");
            if (s->nrows) memcpy(sc, s->ann_scores, sizeof *sc * (size_t)s->nrows);
            s->ann_scores = sc;
        }
        s->cap = ncap;
    }
    ex_value *out = &s->cells[(size_t)s->nrows * (size_t)p->nproj];
    for (int i = 0; i < p->nproj; i++)
        if ((rc = sel_value(c, &p->sels[i], &out[i])) != 0) return rc;
    if (s->osort) {
        ex_value *k = okey_slot(s);
        if (!k) return hln_fail(&s->r->err, HLN_ENOMEM, "out of memory");
        if ((rc = take_okey(s, c, k)) != 0) return rc;
    }
    if (p->ann) s->ann_scores[s->nrows] = score;
    s->nrows++;
    if (p->ann) return 0; /* LIMIT applies to the best rows, in finish() */
    remember_last(s, c);
    if (s->limit_left > 0 && --s->limit_left == 0) {
        s->stop = true;
        s->limit_hit = true;
    }
    if (s->page && s->nrows >= s->page) s->stop = true;
    return 0;
}

/* ---- paging state ----------------------------------------------------------- */

static void query_hash(ex_request *r, sel *s)
{
    ex_state *st = ex_st(r);
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_printf(&b, "%s.%s", s->t->ks, s->t->name);
    hln_buf_u8(&b, 0);
    if (st->text) hln_buf_put(&b, st->text, st->textlen);
    for (int i = 0; i < st->nvals; i++) {
        hln_buf_u32(&b, (uint32_t)st->vals[i].len);
        if (st->vals[i].len > 0) hln_buf_put(&b, st->vals[i].p, (size_t)st->vals[i].len);
    }
    uint8_t d[16];
    hln_md5(b.data, b.err ? 0 : b.len, NULL, 0, d);
    memcpy(s->qhash, d, 8);
    hln_buf_free(&b);
}

static int bad_state(ex_request *r)
{
    return hln_fail(&r->err, HLN_EPROTO, "Invalid value for the paging state");
}

/* Restores the position of params.paging_state (validated). */
static int resume(ex_request *r, sel *s)
{
    hln_rd rd;
    hln_rd_init(&rd, r->params.paging_state, (size_t)r->params.paging_len);
    uint8_t version = hln_rd_u8(&rd);
    const uint8_t *hash = hln_rd_take(&rd, 8);
    uint8_t kind = hln_rd_u8(&rd);
    int32_t left = (int32_t)hln_rd_u32(&rd);
    int32_t in_part = (int32_t)hln_rd_u32(&rd);
    if (rd.err || version != PS_VERSION || left < -1 || left == 0 || in_part < 0 ||
        kind > PS_VIRTUAL)
        return bad_state(r);
    if (memcmp(hash, s->qhash, 8) != 0)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Invalid value for the paging state: it belongs to another query");
    if ((kind == PS_VIRTUAL) != s->t->is_virtual) return bad_state(r);
    if (left > 0) s->limit_left = left;
    s->in_part = in_part;
    if (kind == PS_VIRTUAL) {
        s->vnext = hln_rd_u32(&rd);
        if (rd.err || hln_rd_left(&rd)) return bad_state(r);
        return 0;
    }
    int64_t token = (int64_t)hln_rd_u64(&rd);
    uint64_t pklen = hln_rd_vint(&rd);
    if (rd.err || pklen == 0 || pklen > hln_rd_left(&rd)) return bad_state(r);
    const uint8_t *pk = hln_rd_take(&rd, (size_t)pklen);
    uint8_t has_ck = hln_rd_u8(&rd);
    const uint8_t *ck = NULL;
    uint64_t cklen = 0;
    if (!rd.err && has_ck == 1) {
        cklen = hln_rd_vint(&rd);
        if (rd.err || cklen > hln_rd_left(&rd)) return bad_state(r);
        static const uint8_t empty[1];
        ck = cklen ? hln_rd_take(&rd, (size_t)cklen) : empty;
    }
    if (rd.err || has_ck > 1 || hln_rd_left(&rd)) return bad_state(r);
    s->have_part = true;
    s->part_token = s->ctoken = token;
    s->part_pk = s->cpk = pk;
    s->part_pklen = s->cpklen = (uint32_t)pklen;
    s->cck = ck;
    s->ccklen = (uint32_t)cklen;
    if (s->p->pk_lookup) {
        /* the key of the last row, then the slice it was in */
        sel_key last = {pk, (uint32_t)pklen, token};
        int ki = 0;
        while (ki < s->nkeys && cmp_key(&s->keys[ki], &last) != 0)
            ki++;
        if (ki == s->nkeys) return bad_state(r);
        s->ki = ki;
        s->si = 0;
        if (!has_ck) {
            s->si = s->nslices - 1;
            if (!next_pos(s, true)) s->cstate = C_DONE;
            return 0;
        }
        while (s->si < s->nslices && !(s->slices[s->si].plen <= cklen &&
                                       !memcmp(s->slices[s->si].prefix, ck, s->slices[s->si].plen)))
            s->si++;
        if (s->si == s->nslices) return bad_state(r);
        load_pos(s);
        s->cstate = C_IN;
    } else {
        if (token <= s->lo || token > s->hi) return bad_state(r);
        s->cstate = has_ck ? C_IN : C_AFTER;
        s->shard = rt_shard_for_token(ex_st(r)->eng->nshards, token);
    }
    return 0;
}

/* The paging state after the last emitted row (storage) or of the next
 * generated row (virtual), in r->arena. */
static int make_state(ex_request *r, sel *s)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u8(&b, PS_VERSION);
    hln_buf_put(&b, s->qhash, 8);
    hln_buf_u8(&b, s->t->is_virtual ? PS_VIRTUAL : PS_STORAGE);
    hln_buf_u32(&b, (uint32_t)(s->limit_left > 0 ? s->limit_left : -1));
    hln_buf_u32(&b, (uint32_t)(s->group_paused ? s->last_in_part : s->in_part));
    if (s->t->is_virtual) {
        hln_buf_u32(&b, s->vnext);
    } else {
        hln_buf_u64(&b, (uint64_t)s->last_token);
        hln_buf_vint(&b, s->last_pklen);
        hln_buf_put(&b, s->last_pk, s->last_pklen);
        /* a paused GROUP BY stands on the next group's partition: its last
           row says (a static-only row, no clustering key: partition done) */
        bool has_ck = s->t->nck > 0 && (s->group_paused ? s->last_cklen > 0 : !part_done(s));
        hln_buf_u8(&b, has_ck ? 1 : 0);
        if (has_ck) {
            hln_buf_vint(&b, s->last_cklen);
            if (s->last_cklen) hln_buf_put(&b, s->last_ck, s->last_cklen);
        }
    }
    int rc = 0;
    if (b.err) {
        rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    } else {
        r->result.paging_state = hln_arena_memdup(&r->arena, b.data, b.len);
        r->result.paging_len = (int32_t)b.len;
        if (!r->result.paging_state) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

/* ---- results -------------------------------------------------------------- */

/* sum/avg results in the column's type (Cassandra: an empty input gives 0;
 * integer averages truncate; integer sums wrap to the type's width). */
static int sum_value(ex_request *r, const hln_type *t, const agg *a, bool avg, ex_value *out)
{
    if (t->kind == HLN_T_VARINT) {
        static const uint8_t zero[1];
        if (!a->set) {
            *out = (ex_value){zero, 1};
            return 0;
        }
        if (!avg) {
            *out = a->v;
            return 0;
        }
        ex_value n;
        const hln_type *bt = hln_type_by_kind(HLN_T_BIGINT);
        int rc = mk_int(r, a->n, 8, &n);
        if (!rc) rc = ex_cast(r, bt, n, t, &n);
        if (!rc) rc = ex_arith(r, '/', t, a->v, t, n, t, out);
        return rc;
    }
    if (t->kind == HLN_T_DECIMAL) {
        const uint8_t *d = a->dec ? a->dec : DEC_ZERO;
        *out = (ex_value){d, (int32_t)(a->dec ? a->declen : sizeof DEC_ZERO)};
        return 0;
    }
    int bytes = t->kind == HLN_T_TINYINT    ? 1
                : t->kind == HLN_T_SMALLINT ? 2
                : t->kind == HLN_T_INT      ? 4
                                            : 8;
    if (t->kind == HLN_T_FLOAT || t->kind == HLN_T_DOUBLE) {
        double d = avg ? (a->n ? a->dsum / (double)a->n : 0) : a->dsum;
        uint64_t bits;
        if (t->kind == HLN_T_FLOAT) {
            float f = (float)d;
            uint32_t b32;
            memcpy(&b32, &f, 4);
            bits = b32;
            bytes = 4;
        } else {
            memcpy(&bits, &d, 8);
        }
        return mk_int(r, (int64_t)bits, bytes, out);
    }
    int64_t v = avg ? (a->n ? a->isum / a->n : 0) : a->isum;
    return mk_int(r, v, bytes, out);
}

/* The result of aggregate x (of result type t) accumulated in a. */
static int agg_final(ex_request *r, const ex_sel *x, const hln_type *t, const agg *a, ex_value *out)
{
    switch (x->kind) {
    case EX_SEL_COUNT_ROWS:
    case EX_SEL_COUNT:
        return mk_int(r, a->count, 8, out);
    case EX_SEL_MIN:
    case EX_SEL_MAX:
        *out = a->set ? a->v : (ex_value){NULL, -1};
        return 0;
    default:
        return sum_value(r, t, a, x->kind == EX_SEL_AVG, out);
    }
}

/* Appends the row of the aggregates accumulated so far (one group, or the
 * whole result) to s->cells and starts a new accumulation. */
static int emit_group(sel *s)
{
    ex_request *r = s->r;
    const ex_plan *p = s->p;
    if (s->nrows >= s->cap) {
        int ncap = s->cap ? s->cap * 2 : 16;
        ex_value *n = hln_arena_alloc(&r->arena,
                                      sizeof *n * (size_t)ncap * (size_t)(p->nproj ? p->nproj : 1));
        if (!n) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (s->nrows) memcpy(n, s->cells, sizeof *n * (size_t)s->nrows * (size_t)p->nproj);
        s->cells = n;
        s->cap = ncap;
    }
    ex_value *row = &s->cells[(size_t)s->nrows * (size_t)p->nproj];
    int rc = 0;
    ex_value *subv = NULL;
    if (p->nagg_subs) {
        subv = hln_arena_alloc(&r->arena, sizeof *subv * (size_t)p->nagg_subs);
        if (!subv) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int k = 0; k < p->nagg_subs && !rc; k++) {
            const ex_sel *x = p->agg_subs[k];
            if (x->kind >= EX_SEL_COUNT_ROWS)
                rc = agg_final(r, x, x->type, &s->subaggs[k], &subv[k]);
            else
                subv[k] = s->agg_first ? s->subaggs[k].v : (ex_value){NULL, -1};
        }
    }
    for (int i = 0; i < p->nproj && !rc; i++) {
        agg *a = &s->aggs[i];
        const ex_sel *x = &p->sels[i];
        if (x->kind >= EX_SEL_COUNT_ROWS) {
            rc = agg_final(r, x, p->cols[i].type, a, &row[i]);
        } else if (x->has_agg) {
            rowctx gc;
            memset(&gc, 0, sizeof gc);
            gc.r = r;
            gc.t = p->t;
            gc.aggvals = subv;
            rc = sel_value(&gc, x, &row[i]);
        } else {
            row[i] = s->agg_first ? a->v : (ex_value){NULL, -1};
        }
    }
    if (rc) return rc;
    if (s->osort && p->group_cols) {
        ex_value *k = okey_slot(s);
        if (!k) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        memcpy(k, s->gokey, sizeof *k * (size_t)p->norder);
    }
    s->nrows++;
    memset(s->aggs, 0, sizeof *s->aggs * (size_t)(p->nproj ? p->nproj : 1));
    if (p->nagg_subs) memset(s->subaggs, 0, sizeof *s->subaggs * (size_t)p->nagg_subs);
    s->agg_first = false;
    if (p->group_cols && s->limit_left > 0 && --s->limit_left == 0) { /* LIMIT counts groups */
        s->stop = true;
        s->limit_hit = true;
    }
    return 0;
}

/* The GROUP BY key of the row being offered: its partition key and the
 * values of the grouped clustering columns, in r->arena. */
static int group_key(sel *s, rowctx *c, hln_buf *out)
{
    const ex_plan *p = s->p;
    hln_buf_vint(out, c->part ? c->part->pklen : 0);
    if (c->part) hln_buf_put(out, c->part->pk, c->part->pklen);
    for (int ci = s->t->npk; ci < p->group_cols; ci++) {
        ex_value v;
        int rc = get(c, ci, &v);
        if (rc) return rc;
        hln_buf_u32(out, (uint32_t)v.len);
        if (v.len > 0) hln_buf_put(out, v.p, (size_t)v.len);
    }
    return out->err ? hln_fail(&s->r->err, HLN_ENOMEM, "out of memory") : 0;
}

/* SELECT JSON: each row's values become one JSON object, keyed by the
 * selection names (a column's quoted as CQL would quote it). */
static int json_rows(ex_request *r, sel *s)
{
    const ex_plan *p = s->p;
    ex_value *rows = hln_arena_alloc(&r->arena, sizeof *rows * (size_t)(s->nrows ? s->nrows : 1));
    if (!rows) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    hln_buf b;
    hln_buf_init(&b);
    int rc = 0;
    for (int i = 0; i < s->nrows && !rc; i++) {
        hln_buf_reset(&b);
        hln_buf_u8(&b, '{');
        for (int j = 0; j < p->nproj; j++) {
            const ex_value *v = &s->cells[(size_t)i * (size_t)p->nproj + (size_t)j];
            if (j) hln_buf_put(&b, ", ", 2);
            const char *name = p->cols[j].name;
            if (p->sels[j].kind == EX_SEL_COLUMN) name = ex_quote(&r->arena, name);
            hln_json_string(&b, name);
            hln_buf_put(&b, ": ", 2);
            if (p->sels[j].kind == EX_SEL_TOJSON) /* already JSON: a string of it */
                hln_json_string_n(&b, v->p, v->len < 0 ? 0 : (size_t)v->len, v->len < 0);
            else
                /* the value's own type (a result shown as a custom type,
                   LegacyTimeUUIDType, is still a timeuuid) */
                hln_type_to_json(p->sels[j].type && p->cols[j].type->kind == HLN_T_CUSTOM
                                     ? p->sels[j].type
                                     : p->cols[j].type,
                                 v->p, v->len, &b);
        }
        hln_buf_u8(&b, '}');
        if (b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (!rc) {
            rows[i].p = hln_arena_memdup(&r->arena, b.data, b.len);
            rows[i].len = (int32_t)b.len;
            if (!rows[i].p) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        }
    }
    hln_buf_free(&b);
    if (!rc) s->cells = rows;
    return rc;
}

/* ---- vector search (ORDER BY ... ANN OF) -------------------------------- */

static void finish(ex_request *r, sel *s, bool more);

typedef struct ann_slot {
    float score;
    int row;
} ann_slot;

static int cmp_ann(const void *a, const void *b)
{
    const ann_slot *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->row - y->row; /* ties: first seen first */
}

/* Orders the rows collected so far by similarity, best first, and keeps
 * the best `keep`. */
static int ann_keep(sel *s, int keep)
{
    int n = s->nrows, np = s->p->nproj;
    if (n == 0) return 0;
    ann_slot *sl = hln_malloc(sizeof *sl * (size_t)n);
    ex_value *cells =
        hln_arena_alloc(&s->r->arena, sizeof *cells * (size_t)s->cap * (size_t)(np ? np : 1));
    float *sc = hln_arena_alloc(&s->r->arena, sizeof *sc * (size_t)s->cap);
    if (!sl || !cells || !sc) {
        hln_free(sl);
        return hln_fail(&s->r->err, HLN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        sl[i] = (ann_slot){s->ann_scores[i], i};
    qsort(sl, (size_t)n, sizeof *sl, cmp_ann);
    if (keep > n) keep = n;
    for (int i = 0; i < keep; i++) {
        memcpy(&cells[(size_t)i * (size_t)np], &s->cells[(size_t)sl[i].row * (size_t)np],
               sizeof *cells * (size_t)np);
        sc[i] = sl[i].score;
    }
    hln_free(sl);
    s->cells = cells;
    s->ann_scores = sc;
    s->nrows = keep;
    return 0;
}

/* The query vector and LIMIT of an ANN query (Cassandra 5.0's errors). */
static int bind_ann(sel *s)
{
    ex_request *r = s->r;
    const ex_plan *p = s->p;
    const hln_column *col = &p->t->cols[p->ann_col];
    if (!s->limit)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Top-K queries must have a limit specified and the limit must be less "
                        "than the query page size");
    if (s->limit > 1000)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater "
                        "than 1000. LIMIT was %d",
                        (int)s->limit);
    ex_value v;
    int rc = ex_bind(r, p->ann_term, col->type, col->name, &v);
    if (rc) return rc;
    if (v.len == -1)
        return hln_fail(&r->err, HLN_EINVAL, "Unsupported null value for column %s", col->name);
    if (v.len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Unsupported unset value for column %s", col->name);
    s->ann_dim = col->type->dim;
    s->ann_k = s->limit;
    s->annq = hln_arena_alloc(&r->arena, sizeof(float) * (size_t)s->ann_dim);
    s->annrow = hln_arena_alloc(&r->arena, sizeof(float) * (size_t)s->ann_dim);
    if (!s->annq || !s->annrow) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!ex_ann_decode(v.p, v.len, s->ann_dim, s->annq))
        return hln_fail(&r->err, HLN_EINVAL, "Invalid vector value for column %s", col->name);
    return ex_ann_check_vector(&r->err, s->annq, s->ann_dim, p->ann_metric);
}

/* Through the index: every shard answers its nearest rows (EX_OP_ANN),
 * which are offered like read rows; finish() keeps the best k. */
static void ann_done(ex_request *r)
{
    ex_state *st = ex_st(r);
    sel *s = st->xs;
    int rc = ex_batch_error(r);
    rowctx c = {.r = r, .t = s->t, .now_sec = s->now_sec};
    hln_buf_init(&c.scratch);
    c.pkv = hln_arena_alloc(&r->arena, sizeof *c.pkv * (size_t)(s->t->npk ? s->t->npk : 1));
    c.ckv = hln_arena_alloc(&r->arena, sizeof *c.ckv * (size_t)(s->t->nck ? s->t->nck : 1));
    if (!rc && (!c.pkv || !c.ckv)) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (const ex_op *op = st->cur; op && !rc; op = op->next_batch)
        for (const st_partition *part = op->parts; part && !rc; part = part->next) {
            if (!part->nrows) continue;
            s->have_part = false;
            enter_partition(s, part->token, part->pk, part->pklen);
            c.part = part;
            c.pk_done = false;
            c.srow = NULL;
            c.row = &part->rows[0];
            c.ck_done = false;
            rc = offer(s, &c);
        }
    hln_buf_free(&c.scratch);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    finish(r, s, false);
}

/* part: the one partition a query names (its shard alone answers), or
 * NULL for the whole table (every shard). */
static void ann_run(ex_request *r, sel *s, const sel_key *part)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = s->p;
    ex_ann_op *q = hln_arena_alloc(&r->arena, sizeof *q);
    if (!q) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    memset(q, 0, sizeof *q);
    memcpy(q->table_id, p->t->id, 16);
    memcpy(q->index_id, p->ann_ix->id, 16);
    q->col_id = p->t->cols[p->ann_col].id;
    q->dim = s->ann_dim;
    q->metric = p->ann_metric;
    q->k = s->ann_k;
    q->now_sec = s->now_sec;
    q->q = s->annq;
    q->schema = st->schema;
    q->filt = s->iq;
    if (part) {
        q->ppk = part->pk;
        q->ppklen = part->pklen;
        q->ptoken = part->token;
    }
    int n = st->eng->nshards;
    for (int i = 0; i < n; i++) {
        if (part && i != rt_shard_for_token(n, part->token)) continue;
        ex_op *op = ex_op_new(r, EX_OP_ANN, i);
        if (!op) {
            ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
            return;
        }
        op->ann = q;
    }
    ex_dispatch(r, ann_done);
}

/* Builds the ROWS result (with a paging state when more may follow) and
 * finishes the request. */
static void finish(ex_request *r, sel *s, bool more)
{
    const ex_plan *p = s->p;
    ex_result *res = &r->result;
    int rc = 0;
    if (p->ann) {
        rc = ann_keep(s, s->ann_k);
        more = false;
    }
    if (p->aggregate && p->group_cols) {
        /* GROUP BY: every group was emitted as it closed; the last one now,
           unless the page filled (group_paused: more groups follow) */
        more = s->group_paused;
        if (s->agg_first && !more) rc = emit_group(s);
    } else if (p->aggregate) {
        s->nrows = 0;
        rc = emit_group(s);
        more = false;
    } else if (p->reversed && p->t->is_virtual) {
        /* virtual rows come in table order; ORDER BY reversed them */
        int n = p->nproj;
        for (int a = 0, b = s->nrows - 1; a < b; a++, b--)
            for (int i = 0; i < n; i++) {
                ex_value tmp = s->cells[(size_t)a * (size_t)n + (size_t)i];
                s->cells[(size_t)a * (size_t)n + (size_t)i] =
                    s->cells[(size_t)b * (size_t)n + (size_t)i];
                s->cells[(size_t)b * (size_t)n + (size_t)i] = tmp;
            }
    }
    if (!rc && s->osort) rc = osort_rows(s);
    if (!rc && more && s->page && s->nrows > 0) rc = make_state(r, s);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    if (!rc && p->json) rc = json_rows(r, s);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    res->kind = EX_ROWS;
    res->cols = p->json ? p->json_col : p->cols;
    res->ncols = p->json ? 1 : p->nproj;
    res->cells = s->cells;
    res->nrows = s->nrows;
    res->no_metadata = r->params.skip_metadata;
    ex_finish(r, 0);
}

/* ---- virtual tables --------------------------------------------------- */

static bool same_vpartition(const hln_table *t, hln_bytes *a, hln_bytes *b)
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
    int rc = !strcmp(s->t->ks, "system_auth")
                 ? ex_access_virtual_rows(r, s->t, &rows, &nrows) /* roles, permissions: access.c */
             : !strcmp(s->t->ks, "system_views") || ex_sysviews_estimates(s->t)
                 ? ex_sysviews_rows(r, s->t, &rows, &nrows) /* the running node: sysviews.c */
                 : schema_virtual_rows(st->schema, &st->eng->node, s->t, &r->arena, &rows, &nrows,
                                       &r->err);
    rowctx c = {.r = r, .t = s->t, .now_sec = s->now_sec};
    hln_buf_init(&c.scratch);
    if (!rc && s->vnext > (uint32_t)nrows) rc = bad_state(r);
    int i = (int)s->vnext, last = -1;
    for (; i < nrows && !rc && !s->stop; i++) {
        /* a resumed page continues the partition of row vnext - 1 */
        if (i == 0 || !same_vpartition(s->t, rows[i - 1], rows[i])) s->in_part = 0;
        c.vrow = rows[i];
        int before = s->nrows;
        rc = offer(s, &c);
        if (s->nrows > before) last = i;
    }
    hln_buf_free(&c.scratch);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    bool more = s->stop && !s->limit_hit && last + 1 < nrows;
    s->vnext = (uint32_t)(last + 1);
    finish(r, s, more);
}

static void select_virtual_gathered(ex_request *r)
{
    int rc = ex_batch_error(r);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    select_virtual(r, ex_st(r)->xs);
}

/* ---- storage reads, step by step ------------------------------------------ */

static void step(ex_request *r);

static sel *sel_of(ex_request *r)
{
    return ex_st(r)->xs;
}

/* Rows the next storage operation should return (0 = no limit). */
static uint32_t storage_want(const sel *s)
{
    if (s->p->aggregate) return 0;
    int64_t needed = 0;
    if (s->page) needed = s->page - s->nrows;
    if (s->limit_left > 0 && (!needed || s->limit_left < needed)) needed = s->limit_left;
    if (needed <= 0) return 0;
    if (s->exact) return (uint32_t)needed + 1;
    return needed < MIN_BATCH ? MIN_BATCH : (uint32_t)needed;
}

/* Creates the operation of the next step (the cursor says which). */
static int issue(ex_request *r, sel *s)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = s->p;
    uint32_t want = storage_want(s);
    bool push_pp = s->eff_pp && (s->exact || p->distinct);
    if (p->pk_lookup || s->cstate == C_IN) {
        bool lookup = p->pk_lookup;
        int64_t token = lookup ? s->token : s->ctoken;
        /* continuing after a static row (ck "") is starting the rows */
        bool after_static = s->cstate == C_IN && s->ccklen == 0;
        s->op_part_start = s->cstate != C_IN || after_static;
        if (p->has_static) {
            /* the partition's static row, in the same dispatch, first */
            ex_op *sop = ex_op_new(r, EX_OP_READ, rt_shard_for_token(st->eng->nshards, token));
            if (!sop) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            static const uint8_t first_ck[1] = {0x40};
            memcpy(sop->read.table_id, p->t->id, 16);
            sop->read.pk = lookup ? s->pk : s->cpk;
            sop->read.pklen = lookup ? s->pklen : s->cpklen;
            sop->read.token = token;
            sop->read.now_sec = s->now_sec;
            sop->read.start = (st_bound){first_ck, 0, true};
            sop->read.end = (st_bound){first_ck, 1, false}; /* only the key "" */
            sop->read.limit = 1;
        }
        ex_op *op = ex_op_new(r, EX_OP_READ, rt_shard_for_token(st->eng->nshards, token));
        if (!op) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        st_read_cmd *cmd = &op->read;
        memcpy(cmd->table_id, p->t->id, 16);
        cmd->pk = lookup ? s->pk : s->cpk;
        cmd->pklen = lookup ? s->pklen : s->cpklen;
        cmd->token = token;
        cmd->now_sec = s->now_sec;
        if (lookup) {
            cmd->start = s->start;
            cmd->end = s->end;
            cmd->reversed = p->reversed;
        } else {
            cmd->start = cmd->end = (st_bound){NULL, 0, true};
        }
        if (s->cstate == C_IN && !after_static) {
            st_bound after = {s->cck, s->ccklen, false};
            if (cmd->reversed)
                cmd->end = after;
            else
                cmd->start = after;
        }
        if (p->has_static && cmd->start.len == 0) {
            static const uint8_t first_ck[1] = {0x40};
            cmd->start = (st_bound){first_ck, 1, true}; /* rows only, not the static row */
        }
        if (push_pp) {
            uint32_t rest = s->in_part < s->eff_pp ? (uint32_t)(s->eff_pp - s->in_part) : 1;
            if (!want || rest < want) want = rest;
        }
        cmd->limit = want;
        s->op_read = true;
    } else {
        ex_op *op = ex_op_new(r, s->iq ? EX_OP_ISCAN : EX_OP_SCAN, s->shard);
        if (!op) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        op->ann = s->iq;
        st_scan_cmd *cmd = &op->scan;
        memcpy(cmd->table_id, p->t->id, 16);
        cmd->start_token = s->cstate == C_START ? s->lo : s->ctoken;
        cmd->end_token = s->hi;
        if (s->cstate == C_AFTER) {
            cmd->after_pk = s->cpk;
            cmd->after_pklen = s->cpklen;
        }
        cmd->limit = want;
        /* a static row counts as a row in storage */
        cmd->per_partition_limit = push_pp ? (uint32_t)s->eff_pp + (p->has_static ? 1 : 0) : 0;
        cmd->now_sec = s->now_sec;
        s->op_read = false;
    }
    s->want = want;
    return 0;
}

/* Feeds the rows of the last operation to the shaper and moves the cursor;
 * then finishes, or asks step() for another round. */
static void step_done(ex_request *r)
{
    ex_state *st = ex_st(r);
    sel *s = st->xs;
    int *frame = s->frame;
    s->frame = NULL;
    int rc = ex_batch_error(r);
    const ex_plan *p = s->p;
    const ex_op *op = st->cur, *sop = NULL;
    if (op && op->next_batch) { /* the static row's read came first */
        sop = op;
        op = op->next_batch;
    }
    rowctx c = {.r = r, .t = s->t, .now_sec = s->now_sec};
    hln_buf_init(&c.scratch);
    c.pkv = hln_arena_alloc(&r->arena, sizeof *c.pkv * (size_t)(s->t->npk ? s->t->npk : 1));
    c.ckv = hln_arena_alloc(&r->arena, sizeof *c.ckv * (size_t)(s->t->nck ? s->t->nck : 1));
    if (!rc && (!c.pkv || !c.ckv)) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    /* static rows: read beside a partition's rows (sop), or the first row
       of each partition of a scan; a partition with static cells and no
       row is one row of nulls but for its key and statics, when the query
       does not restrict the clustering columns (Cassandra's rule) */
    bool statics = p->has_static && s->t->nck > 0;
    bool whole = p->nck_eq == 0 && !p->lo && !p->hi;
    const st_row *read_srow = NULL;
    if (sop && sop->parts && sop->parts->nrows && sop->parts->rows[0].cklen == 0)
        read_srow = &sop->parts->rows[0];
    uint32_t total = 0;
    for (const st_partition *part = op ? op->parts : NULL; part; part = part->next)
        total += part->nrows;
    bool exhausted = s->want == 0 || total < s->want;
    static const uint8_t no_ck[1];
    const st_row empty_row = {.ck = no_ck, .marker_ts = HLN_TS_NONE, .del_ts = HLN_TS_NONE};
    const st_partition *lastp = NULL;
    const st_row *lastr = NULL;
    bool consumed = true;
    if (!rc && statics && whole && s->op_read && s->op_part_start && read_srow &&
        read_srow->ncells > 0 && !(op && op->parts && op->parts->nrows) && !s->stop) {
        const st_partition *part = sop->parts;
        enter_partition(s, part->token, part->pk, part->pklen);
        c.part = part;
        c.srow = read_srow;
        c.row = &empty_row;
        rc = offer(s, &c);
        s->part_closed = true;
    }
    for (const st_partition *part = op ? op->parts : NULL; part && !rc; part = part->next) {
        if (!consumed) continue;
        if (s->stop) { /* do not enter it: in_part belongs to the last row emitted */
            consumed = part->nrows == 0;
            continue;
        }
        enter_partition(s, part->token, part->pk, part->pklen);
        c.part = part;
        c.pk_done = false;
        c.srow = read_srow;
        uint32_t first = 0;
        if (statics && !s->op_read && part->nrows && part->rows[0].cklen == 0) {
            c.srow = &part->rows[0];
            first = 1;
            lastp = part;
            lastr = c.srow;
            bool complete = part->next != NULL || exhausted;
            if (part->nrows == 1 && whole && complete && c.srow->ncells > 0) {
                c.row = &empty_row;
                c.ck_done = false;
                rc = offer(s, &c);
                s->part_closed = true;
            }
        }
        for (uint32_t i = first; i < part->nrows && !rc; i++) {
            if (s->stop) {
                consumed = false;
                break;
            }
            c.row = &part->rows[i];
            c.ck_done = false;
            lastp = part;
            lastr = c.row;
            if (only_dropped_cells(s->t, c.row)) continue; /* ALTER TABLE DROP (ddl.c) */
            rc = offer(s, &c);
        }
    }
    hln_buf_free(&c.scratch);
    if (rc) {
        if (frame) *frame = 2;
        ex_finish(r, rc);
        return;
    }
    bool more = false, done = false;
    if (s->stop) {
        done = true;
        if (s->limit_hit)
            more = false;
        else if (p->pk_lookup)
            more = ((!consumed || !exhausted) && !part_done(s)) ||
                   (!part_done(s) && s->si + 1 < s->nslices) || s->ki + 1 < s->nkeys;
        else if (!consumed || !exhausted || s->op_read)
            more = true;
        else
            more = s->shard < s->last_shard;
    } else if (p->pk_lookup) {
        if (exhausted || part_done(s) || !lastr) {
            done = !next_pos(s, part_done(s));
        } else {
            s->cstate = C_IN;
            s->cck = lastr->ck;
            s->ccklen = lastr->cklen;
        }
    } else if (s->op_read) {
        if (exhausted || part_done(s) || !lastr) {
            s->cstate = C_AFTER; /* cpk and ctoken stay: the partition just read */
        } else {
            s->cck = lastr->ck;
            s->ccklen = lastr->cklen;
        }
    } else if (exhausted) {
        if (++s->shard > s->last_shard)
            done = true;
        else
            s->cstate = C_START;
    } else {
        s->ctoken = lastp->token;
        s->cpk = lastp->pk;
        s->cpklen = lastp->pklen;
        if (s->t->nck == 0 || part_done(s)) {
            s->cstate = C_AFTER;
        } else {
            s->cstate = C_IN;
            s->cck = lastr->ck;
            s->ccklen = lastr->cklen;
        }
    }
    if (done) {
        if (frame) *frame = 2;
        finish(r, s, more);
        return;
    }
    if (frame) {
        *frame = 1; /* step() is below us on the stack: let it loop */
        return;
    }
    step(r);
}

/* Runs steps until one is left in flight (a remote shard answers later) or
 * the request is finished. */
static void step(ex_request *r)
{
    for (;;) {
        sel *s = sel_of(r);
        int flag = 0; /* 0: in flight, 1: run another step, 2: finished */
        int rc = issue(r, s);
        if (rc) {
            ex_finish(r, rc);
            return;
        }
        s->frame = &flag;
        ex_dispatch(r, step_done);
        if (flag == 2) return; /* r may be gone */
        if (flag == 0) {
            s->frame = NULL; /* step_done will run from the loop, later */
            return;
        }
    }
}

/* Types whose equal values are equal bytes, so a term table keyed by the
 * bytes finds every row the filter accepts. */
static bool bytes_equality(const hln_type *t)
{
    switch (t->kind) {
    case HLN_T_ASCII:
    case HLN_T_VARCHAR:
    case HLN_T_INT:
    case HLN_T_BIGINT:
    case HLN_T_SMALLINT:
    case HLN_T_TINYINT:
    case HLN_T_UUID:
    case HLN_T_TIMEUUID:
    case HLN_T_TIMESTAMP:
    case HLN_T_DATE:
    case HLN_T_TIME:
    case HLN_T_BOOLEAN:
    case HLN_T_INET:
    case HLN_T_BLOB:
        return true;
    default:
        return false;
    }
}

/* A range query with an equality filter that a term index serves reads
 * only the rows the index names (EX_OP_ISCAN); every filter still checks
 * each row, so the index only has to name a superset. */
static int plan_iscan(sel *s)
{
    const ex_plan *p = s->p;
    const hln_table *t = p->t;
    ex_request *r = s->r;
    if (p->pk_lookup || t->is_virtual || p->has_static || !p->nfilters) return 0;
    for (int i = 0; i < p->nfilters; i++) {
        const ex_filter *f = &p->filters[i];
        if (f->op != CQL_OP_EQ || s->fvals[i].len < 0) continue;
        const hln_column *col = &t->cols[f->col];
        const hln_type *vt =
            f->key ? (col->type->kind == HLN_T_MAP ? col->type->params[1] : NULL) : col->type;
        if (!vt || !bytes_equality(vt)) continue;
        for (int x = 0; x < t->nindexes; x++) {
            ex_ann_op q;
            if (t->indexes[x].col_id != col->id || !ex_sai_describe(t, &t->indexes[x], &q) ||
                !q.terms || (q.target == HLN_IX_ENTRIES) != (f->key != NULL))
                continue;
            hln_buf b;
            hln_buf_init(&b);
            if (f->key && hln_type_to_comparable(
                              col->type->params[0], s->fkeys[i].p,
                              (size_t)(s->fkeys[i].len < 0 ? 0 : s->fkeys[i].len), false, &b)) {
                hln_buf_free(&b);
                continue;
            }
            hln_buf_put(&b, s->fvals[i].p, (size_t)s->fvals[i].len);
            ex_ann_op *iq = hln_arena_alloc(&r->arena, sizeof *iq);
            /* an empty term ('') leaves b.data NULL */
            uint8_t *term =
                b.len ? hln_arena_memdup(&r->arena, b.data, b.len) : hln_arena_alloc(&r->arena, 1);
            bool bad = b.err;
            uint32_t len = (uint32_t)b.len;
            hln_buf_free(&b);
            if (!iq || !term || bad) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            *iq = q;
            iq->term = term;
            iq->termlen = len;
            iq->now_sec = s->now_sec;
            iq->schema = ex_st(r)->schema;
            s->iq = iq;
            return 0;
        }
    }
    return 0;
}

void ex_run_select(ex_request *r)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = st->plan;
    sel *s = hln_arena_alloc(&r->arena, sizeof *s);
    if (!s) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    s->r = r;
    s->p = p;
    s->t = p->t;
    s->now_sec = hln_now_micros() / 1000000;
    s->limit_left = -1;
    s->aggs = hln_arena_alloc(&r->arena, sizeof *s->aggs * (size_t)(p->nproj ? p->nproj : 1));
    s->subaggs =
        p->nagg_subs ? hln_arena_alloc(&r->arena, sizeof *s->subaggs * (size_t)p->nagg_subs) : NULL;
    int rc = s->aggs && (s->subaggs || !p->nagg_subs)
                 ? 0
                 : hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!rc) rc = bind_limits(s);
    if (!rc && p->pk_lookup) rc = bind_lookup(s);
    if (!rc && p->pk_has_in && p->ordered && !p->ann && s->nkeys_given > 1) {
        /* the rows of several partitions sorted after the reads (Cassandra:
           IN of more than one value, duplicates counted, with ORDER BY);
           such a query cannot be paged */
        if (r->params.page_size > 0)
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Cannot page queries with both ORDER BY and a IN restriction on the "
                          "partition key; you must either remove the ORDER BY or the IN and sort "
                          "client side, or disable paging for this query");
        else if (s->nkeys > 1 && (!p->aggregate || p->group_cols) && p->norder > 0) {
            s->osort = true;
            s->gokey = hln_arena_alloc(&r->arena, sizeof *s->gokey * (size_t)p->norder);
            if (!s->gokey) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        }
    }
    if (!rc && !p->pk_lookup) rc = bind_range(s);
    if (!rc) rc = bind_filters(s);
    if (!rc) rc = plan_iscan(s);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    st->xs = s;
    /* aggregates fold everything into one row: no paging, LIMIT ignored;
       GROUP BY pages and limits groups (emit_group, aggregate) */
    if (!p->aggregate || p->group_cols) {
        if (s->limit && !s->osort) s->limit_left = s->limit; /* osort: after sorting */
        if (r->params.page_size > 0) s->page = r->params.page_size;
    }
    s->eff_pp = p->distinct ? 1 : p->aggregate ? 0 : s->pp_limit;
    s->exact = p->nfilters == 0;
    if (p->ann) {
        /* every candidate is read; LIMIT and paging apply to the best */
        if ((rc = bind_ann(s)) != 0) {
            ex_finish(r, rc);
            return;
        }
        s->limit_left = -1;
        s->page = 0;
        s->exact = false;
        /* through the graph: alone, or narrowed by the one equality a term
           index serves (CassIO's metadata_s['k'] = ?; the shards choose
           between walking with the filter and ranking its rows exactly) */
        if (!p->pk_lookup && !p->token_range && (p->nfilters == 0 || (p->nfilters == 1 && s->iq))) {
            ann_run(r, s, NULL);
            return;
        }
        /* within one partition, all of its rows (WHERE pk = ?): the shard
           ranks the partition's vectors from the graph's memory instead of
           reading and decoding every row (sai.c) */
        if (p->pk_lookup && s->nkeys == 1 && s->cstate != C_DONE && !p->token_range &&
            p->nfilters == 0 && p->nck_eq == 0 && !p->lo && !p->hi && !p->mc_in && !p->mc_nlo &&
            !p->mc_nhi) {
            ann_run(r, s, &s->keys[0]);
            return;
        }
    }
    query_hash(r, s);
    if (s->page && r->params.paging_state && (rc = resume(r, s)) != 0) {
        ex_finish(r, rc);
        return;
    }
    if (p->t->is_virtual && ex_sysviews_needs_shards(p->t)) {
        ex_sysviews_gather(r, select_virtual_gathered); /* every shard's statistics first */
        return;
    }
    if (p->t->is_virtual) {
        select_virtual(r, s);
        return;
    }
    if (s->cstate == C_DONE) {
        finish(r, s, false);
        return;
    }
    if (!p->pk_lookup) {
        if (s->lo >= s->hi) { /* an empty token range */
            finish(r, s, false);
            return;
        }
        int n = st->eng->nshards;
        s->last_shard = rt_shard_for_token(n, s->hi);
        if (!r->params.paging_state || !s->page) s->shard = rt_shard_for_token(n, s->lo + 1);
    }
    step(r);
}
