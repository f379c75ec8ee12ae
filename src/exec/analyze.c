/*
 * analyze.c — the analyzer: syntax tree + schema snapshot -> plan.
 *
 * What: resolves keyspace, table and column names against the request's
 * snapshot, checks each statement the way Cassandra 5.0 does (same checks,
 * same order where it shows, same messages), gives every bind marker its
 * specification (keyspace, table, name, type — what PREPARE returns), and
 * sorts the WHERE clause into what the executors need: partition key
 * equalities, a clustering prefix and slice for storage, and row filters.
 *
 * Why check in Cassandra's order: drivers and applications match error
 * messages, and a statement with two problems must report the one
 * Cassandra reports. The order followed is SelectStatement.prepare:
 * table, selection, ORDER BY columns, WHERE (merging per column as
 * relations are added), partition key, clustering, other columns, DISTINCT,
 * ORDER BY validity, then the "needs filtering" check for range queries.
 * Secondary indexes (see "secondary indexes" below) turn restrictions that
 * would need ALLOW FILTERING into index restrictions; they are executed as
 * row filters all the same.
 *
 * Values are not bound here: terms stay terms (literal text or marker
 * index), so the same plan serves PREPARE (no values) and execution.
 *
 * Invariants:
 *  1. Everything in the plan is memory of the arena it is analyzed into
 *     (r->arena, or a cached plan's own arena: plancache.c), of the
 *     statement's syntax tree, or of the snapshot (which the request, or the
 *     cached plan, holds). Nothing of the request's values or its arena:
 *     a cached plan outlives the request that analyzed it.
 *  2. After success, binds[i].type is set for every marker i of the
 *     statement.
 *  3. Virtual (system) tables never need ALLOW FILTERING: every restriction
 *     on them becomes a row filter.
 *  4. Nothing after analysis writes to a plan: executors keep what they
 *     bind per execution (values, limits, filter values) in r->arena.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec/execInt.h"
#include "index/hnsw.h"

#define ALLOW_FILTERING_MSG                                                                        \
    "Cannot execute this query as it might involve data filtering and thus may have "              \
    "unpredictable performance. If you want to execute this query despite the performance "        \
    "unpredictability, use ALLOW FILTERING"

typedef struct actx {
    ex_request *r;
    ex_plan *p;
    const cql_stmt *stmt;
    const char *ks; /* default keyspace */
    hln_arena *a;
    hln_error *err;
    const hln_schema *s;
    ex_restr tok; /* WHERE token(pk) relations, merged */
    bool has_tok;
    const cql_relation *mc_lo, *mc_hi; /* multi-column slice bounds */
    const cql_relation *mc_in;         /* (c1, c2) IN (...) */
    int mc_in_n;                       /* its columns */
    const hln_type *mc_in_type;        /* frozen<tuple<their types>> */
    bool mc_lo_incl, mc_hi_incl;
    bool mc_mixed;                /* the slice's columns are not all in one clustering order */
    int mc_first;                 /* the slice's first column (its position among the clustering) */
    int agg_depth;                /* selectors: inside an aggregate's argument */
    const cql_selector *bad_elem; /* a function argument l[i] of no type (sel_arg) */
    bool fn_args;                 /* sel_arg is taking a function's arguments */
} actx;

const char *ex_quote(hln_arena *a, const char *name)
{
    bool plain = name[0] >= 'a' && name[0] <= 'z';
    for (const char *q = name; plain && *q; q++)
        plain = (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_';
    if (plain) return name;
    size_t n = strlen(name);
    char *out = hln_arena_alloc(a, 2 * n + 3);
    if (!out) return name;
    char *w = out;
    *w++ = '"';
    for (const char *q = name; *q; q++) {
        if (*q == '"') *w++ = '"';
        *w++ = *q;
    }
    *w++ = '"';
    *w = 0;
    return out;
}

static void *alloc(actx *c, size_t n)
{
    return hln_arena_alloc(c->a, n ? n : 1);
}

static int nomem(actx *c)
{
    return hln_fail(c->err, HLN_ENOMEM, "out of memory");
}

static const char *table_str(actx *c, const hln_table *t)
{
    const char *k = ex_quote(c->a, t->ks), *n = ex_quote(c->a, t->name);
    size_t len = strlen(k) + strlen(n) + 2;
    char *s = hln_arena_alloc(c->a, len);
    if (!s) return t->name;
    snprintf(s, len, "%s.%s", k, n);
    return s;
}

/* ---- bind specifications ---------------------------------------------- */

static void spec(actx *c, const cql_term *term, const char *name, const hln_type *type)
{
    if (!term || term->kind != CQL_TERM_BIND) return;
    int i = term->bind_index;
    if (i < 0 || i >= c->p->nbinds) return;
    ex_colspec *sp = &c->p->binds[i];
    sp->ks = c->p->t ? c->p->t->ks : c->ks;
    sp->table = c->p->t ? c->p->t->name : NULL;
    sp->name = term->bind_name ? term->bind_name : name;
    sp->type = type;
}

/* The name Cassandra gives a marker inside a collection literal or an
 * element operation: "value(c)", "key(c)", "idx(c)". */
static const char *elem_name(actx *c, const char *what, const char *col)
{
    size_t n = strlen(what) + strlen(col) + 3;
    char *s = hln_arena_alloc(c->a, n);
    if (!s) return col;
    snprintf(s, n, "%s(%s)", what, col);
    return s;
}

/* Specs for the markers of term bound to type (recursing into collection
 * literals, whose elements' markers are named value(c) / key(c)). */
static void spec_typed(actx *c, const cql_term *term, const char *name, const hln_type *type)
{
    if (!term) return;
    if (term->kind == CQL_TERM_BIND) {
        spec(c, term, name, type);
        return;
    }
    if (term->kind == CQL_TERM_OP) {
        for (int i = 0; i < term->nelems; i++)
            spec_typed(c, term->elems[i], name, type);
        return;
    }
    if (term->kind == CQL_TERM_HINT) { /* (type) ?: the hint's type */
        const hln_type *ht = hln_type_hint(term->text);
        spec_typed(c, term->elems[0], name, ht ? ht : type);
        return;
    }
    if (term->kind == CQL_TERM_FUNC && !strcmp(term->text, "fromjson")) {
        for (int i = 0; i < term->nelems; i++)
            spec_typed(c, term->elems[i], "arg0(system.fromjson)", hln_type_by_kind(HLN_T_VARCHAR));
        return;
    }
    if (term->kind == CQL_TERM_FUNC && !strcmp(term->text, "token") && c->p->t) {
        /* token(?, ...): the partition key columns' types */
        const hln_table *t = c->p->t;
        for (int i = 0; i < term->nelems && i < t->npk; i++)
            spec_typed(c, term->elems[i], t->cols[i].name, t->cols[i].type);
        return;
    }
    if (term->kind == CQL_TERM_FUNC) {
        const ex_fn *cands[8];
        int n = ex_fn_candidates(term->text, cands, 8);
        for (int k = 0; k < n; k++) {
            if (cands[k]->nargs != term->nelems) continue;
            for (int i = 0; i < term->nelems; i++) {
                char buf[96];
                snprintf(buf, sizeof buf, "arg%d(system.%s)", i, cands[k]->name);
                const char *an = hln_arena_strdup(c->a, buf);
                spec_typed(c, term->elems[i], an ? an : name, hln_type_by_kind(cands[k]->args[i]));
            }
            break;
        }
        return;
    }
    if (term->kind == CQL_TERM_TUPLE || term->kind == CQL_TERM_UDT) {
        /* components are named c[0], c[1]... and fields c.f (Tuples and
           UserTypes.fieldSpecOf) */
        bool udt = term->kind == CQL_TERM_UDT;
        for (int i = 0; i < term->nelems; i++) {
            const hln_type *et = NULL;
            char buf[160];
            if (udt) {
                snprintf(buf, sizeof buf, "%s.%s", name, term->fields[i]);
                for (int f = 0; type && type->kind == HLN_T_UDT && f < type->nparams; f++)
                    if (!strcmp(hln_udt_field(type, f), term->fields[i])) et = type->params[f];
            } else {
                snprintf(buf, sizeof buf, "%s[%d]", name, i);
                if (type && type->kind == HLN_T_TUPLE && i < type->nparams) et = type->params[i];
            }
            const char *en = hln_arena_strdup(c->a, buf);
            spec_typed(c, term->elems[i], en ? en : name, et);
        }
        return;
    }
    if (term->kind != CQL_TERM_LIST && term->kind != CQL_TERM_SET && term->kind != CQL_TERM_MAP)
        return;
    if (!type || !hln_type_is_collection(type)) return;
    bool is_map = type->kind == HLN_T_MAP && term->kind == CQL_TERM_MAP;
    for (int i = 0; i < term->nelems; i++) {
        bool key = is_map && i % 2 == 0;
        const hln_type *et = type->params[is_map && !key ? 1 : 0];
        spec_typed(c, term->elems[i], elem_name(c, key ? "key" : "value", name), et);
    }
}

static void spec_col(actx *c, const cql_term *term, const hln_column *col)
{
    spec_typed(c, term, col->name, col->type);
}

/* ---- names ------------------------------------------------------------ */

static int resolve_table(actx *c, const cql_qname *q, const hln_table **out)
{
    const char *ks = q->ks ? q->ks : c->ks;
    if (!ks)
        return hln_fail(c->err, HLN_EINVAL,
                        "No keyspace has been specified. USE a keyspace, or explicitly specify "
                        "keyspace.tablename");
    if (!q->name || !q->name[0]) return hln_fail(c->err, HLN_EINVAL, "non-empty table is required");
    if (!schema_keyspace(c->s, ks))
        return hln_fail(c->err, HLN_ENOTFOUND, "keyspace %s does not exist", ks);
    const hln_table *t = schema_table(c->s, ks, q->name);
    if (!t) return hln_fail(c->err, HLN_ENOTFOUND, "table %s does not exist", q->name);
    *out = t;
    c->p->t = t;
    c->p->ks = t->ks;
    return 0;
}

static int column(actx *c, const char *name, int *idx)
{
    const hln_table *t = c->p->t;
    const hln_column *col = table_column(t, name);
    if (!col)
        return hln_fail(c->err, HLN_EINVAL, "Undefined column name %s in table %s",
                        ex_quote(c->a, name), table_str(c, t));
    *idx = (int)(col - t->cols);
    return 0;
}

/* "a, b": the columns in [from, to) that WHERE does not restrict. */
static const char *missing_list(actx *c, const ex_restr *rs, int from, int to)
{
    const hln_table *t = c->p->t;
    hln_buf b;
    hln_buf_init(&b);
    for (int i = from; i < to; i++) {
        if (rs[i].eq || rs[i].lo || rs[i].hi) continue;
        hln_buf_printf(&b, "%s%s", b.len ? ", " : "", t->cols[i].name);
    }
    const char *s = b.len ? hln_arena_strndup(c->a, (const char *)b.data, b.len) : "";
    hln_buf_free(&b);
    return s ? s : "";
}

/* ---- WHERE ------------------------------------------------------------ */

/* t is or contains duration (Cassandra's AbstractType.referencesDuration). */
static bool references_duration(const hln_type *t)
{
    if (t->kind == HLN_T_DURATION) return true;
    for (int i = 0; i < t->nparams; i++)
        if (references_duration(t->params[i])) return true;
    return false;
}

static const char *op_str(cql_op op)
{
    switch (op) {
    case CQL_OP_EQ:
        return "=";
    case CQL_OP_LT:
        return "<";
    case CQL_OP_LE:
        return "<=";
    case CQL_OP_GT:
        return ">";
    case CQL_OP_GE:
        return ">=";
    case CQL_OP_NE:
        return "!=";
    case CQL_OP_IN:
        return "IN";
    case CQL_OP_CONTAINS:
        return "CONTAINS";
    case CQL_OP_CONTAINS_KEY:
        return "CONTAINS KEY";
    case CQL_OP_IS_NOT_NULL:
        return "IS NOT";
    }
    return "?";
}

static const char *term_str(actx *c, const cql_term *t)
{
    return ex_term_str(c->a, t);
}

static void term_render(hln_buf *b, const cql_term *t)
{
    switch (t->kind) {
    case CQL_TERM_NULL:
        hln_buf_put(b, "null", 4);
        return;
    case CQL_TERM_BIND:
        if (t->bind_name)
            hln_buf_printf(b, ":%s", t->bind_name);
        else
            hln_buf_u8(b, '?');
        return;
    case CQL_TERM_LITERAL:
        if (t->lit == HLN_LIT_STRING)
            hln_buf_printf(b, "'%s'", t->text);
        else
            hln_buf_put(b, t->text, strlen(t->text));
        return;
    case CQL_TERM_FUNC:
        hln_buf_printf(b, "system.%s(", t->text);
        for (int i = 0; i < t->nelems; i++) {
            if (i) hln_buf_put(b, ", ", 2);
            term_render(b, t->elems[i]);
        }
        hln_buf_u8(b, ')');
        return;
    case CQL_TERM_LIST:
    case CQL_TERM_SET:
    case CQL_TERM_MAP:
        hln_buf_u8(b, t->kind == CQL_TERM_LIST ? '[' : '{');
        for (int i = 0; i < t->nelems; i++) {
            if (i) hln_buf_put(b, t->kind == CQL_TERM_MAP && i % 2 ? ": " : ", ", 2);
            term_render(b, t->elems[i]);
        }
        hln_buf_u8(b, t->kind == CQL_TERM_LIST ? ']' : '}');
        return;
    case CQL_TERM_TUPLE:
    case CQL_TERM_UDT:
        hln_buf_u8(b, t->kind == CQL_TERM_TUPLE ? '(' : '{');
        for (int i = 0; i < t->nelems; i++) {
            if (i) hln_buf_put(b, ", ", 2);
            if (t->kind == CQL_TERM_UDT) hln_buf_printf(b, "%s: ", t->fields[i]);
            term_render(b, t->elems[i]);
        }
        hln_buf_u8(b, t->kind == CQL_TERM_TUPLE ? ')' : '}');
        return;
    case CQL_TERM_HINT:
        hln_buf_printf(b, "(%s)", t->text);
        term_render(b, t->elems[0]);
        return;
    case CQL_TERM_OP:
        if (t->nelems == 1) {
            hln_buf_u8(b, '-');
            term_render(b, t->elems[0]);
            return;
        }
        term_render(b, t->elems[0]);
        hln_buf_printf(b, " %c ", t->op);
        term_render(b, t->elems[1]);
        return;
    }
}

const char *ex_term_str(hln_arena *a, const cql_term *t)
{
    hln_buf b;
    hln_buf_init(&b);
    term_render(&b, t);
    hln_buf_u8(&b, 0);
    const char *s = b.err ? "?" : hln_arena_strdup(a, (const char *)b.data);
    hln_buf_free(&b);
    return s ? s : "?";
}

/* "a, b": the partition key columns. */
static const char *pk_list(actx *c)
{
    const hln_table *t = c->p->t;
    hln_buf b;
    hln_buf_init(&b);
    for (int i = 0; i < t->npk; i++)
        hln_buf_printf(&b, "%s%s", i ? ", " : "", t->cols[i].name);
    const char *s = b.len ? hln_arena_strndup(c->a, (const char *)b.data, b.len) : "";
    hln_buf_free(&b);
    return s ? s : "";
}

/* Merges an equality or a one-sided range relation into the restriction x
 * of what (a column name, or the partition key list of token()), with
 * Cassandra's error wording; noun is "Column" or "Columns". */
static int merge_bound(actx *c, ex_restr *x, const cql_relation *rel, const char *what,
                       const char *noun)
{
    if (x->eq)
        return hln_fail(c->err, HLN_EINVAL,
                        "%s cannot be restricted by more than one relation if it includes an "
                        "Equal",
                        what);
    if (x->in)
        return hln_fail(c->err, HLN_EINVAL,
                        "%s cannot be restricted by more than one relation if it includes %s", what,
                        x->in_is_eq ? "an Equal" : "a IN");
    if (rel->op == CQL_OP_EQ) {
        if (x->lo || x->hi)
            return hln_fail(c->err, HLN_EINVAL,
                            "%s \"%s\" cannot be restricted by both an equality and an "
                            "inequality relation",
                            noun, what);
        x->eq = rel->term;
        return 0;
    }
    bool lower = rel->op == CQL_OP_GT || rel->op == CQL_OP_GE;
    if (lower ? x->lo != NULL : x->hi != NULL)
        return hln_fail(c->err, HLN_EINVAL,
                        "More than one restriction was found for the %s bound on %s",
                        lower ? "start" : "end", what);
    if (lower) {
        x->lo = rel->term;
        x->lo_incl = rel->op == CQL_OP_GE;
    } else {
        x->hi = rel->term;
        x->hi_incl = rel->op == CQL_OP_LE;
    }
    return 0;
}

/* token(a, b) op term: the columns must be the partition key, in order;
 * relations merge as a column's do (Cassandra's TokenRestriction). */
static int add_token_relation(actx *c, const cql_relation *rel)
{
    const hln_table *t = c->p->t;
    int n = 0, rc;
    for (const cql_name_list *l = rel->token_cols; l; l = l->next)
        n++;
    int *idx = hln_arena_alloc(c->a, sizeof(int) * (size_t)(n ? n : 1));
    if (!idx) return hln_fail(c->err, HLN_ENOMEM, "out of memory");
    n = 0;
    for (const cql_name_list *l = rel->token_cols; l; l = l->next) {
        int ci = 0;
        if ((rc = column(c, l->name, &ci)) != 0) return rc;
        idx[n++] = ci;
    }
    /* Cassandra's checks, in its order: every partition key column, no
     * duplicate, nothing else, the key's order */
    bool all = true, dup = false, only = true, in_order = n == t->npk;
    for (int k = 0; k < t->npk; k++) {
        bool found = false;
        for (int i = 0; i < n; i++)
            found |= idx[i] == k;
        all &= found;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++)
            dup |= idx[i] == idx[j];
        only &= t->cols[idx[i]].kind == HLN_COL_PARTITION_KEY;
        in_order &= idx[i] == i;
    }
    if (!all)
        return hln_fail(c->err, HLN_EINVAL,
                        "The token() function must be applied to all partition key components or "
                        "none of them");
    if (dup)
        return hln_fail(c->err, HLN_EINVAL,
                        "The token() function contains duplicate partition key components");
    if (!only)
        return hln_fail(c->err, HLN_EINVAL,
                        "The token() function must contains only partition key components");
    if (!in_order)
        return hln_fail(c->err, HLN_EINVAL,
                        "The token function arguments must be in the partition key order: %s",
                        pk_list(c));
    spec_typed(c, rel->term, "partition key token", hln_type_by_kind(HLN_T_BIGINT));
    const char *cols = pk_list(c);
    switch (rel->op) {
    case CQL_OP_EQ:
    case CQL_OP_GT:
    case CQL_OP_GE:
    case CQL_OP_LT:
    case CQL_OP_LE:
        if ((rc = merge_bound(c, &c->tok, rel, cols, "Columns")) != 0) return rc;
        break;
    default:
        return hln_fail(c->err, HLN_EINVAL, "Unsupported \"%s\" relation on token(%s)",
                        op_str(rel->op), cols);
    }
    c->has_tok = true;
    return 0;
}

/* A second multi-column relation beside (c1, .., cn) IN: Cassandra names
 * the columns last first, joined by " ,". */
static int mc_twice(actx *c, int n)
{
    const hln_table *t = c->p->t;
    hln_buf nm;
    hln_buf_init(&nm);
    for (int i = n - 1; i >= 0; i--)
        hln_buf_printf(&nm, "%s%s", i < n - 1 ? " ," : "", t->cols[t->npk + i].name);
    hln_buf_u8(&nm, 0);
    int rc = hln_fail(c->err, HLN_EINVAL,
                      "%s cannot be restricted by more than one relation if it includes an Equal",
                      nm.err ? "?" : (const char *)nm.data);
    hln_buf_free(&nm);
    return rc;
}

/* The plan takes actx's (c1, .., cn) IN, once no single-column relation
 * restricts c1 .. cn as well (Cassandra counts the IN as an Equal). */
static bool restricted(const ex_restr *x);
static int mc_in_take(actx *c, const ex_restr *rs)
{
    ex_plan *p = c->p;
    const hln_table *t = p->t;
    for (int pos = 0; pos < c->mc_in_n; pos++)
        if (restricted(&rs[t->npk + pos]))
            return hln_fail(c->err, HLN_EINVAL,
                            "%s cannot be restricted by more than one relation if it includes an "
                            "Equal",
                            t->cols[t->npk + pos].name);
    p->mc_in = c->mc_in;
    p->mc_in_n = c->mc_in_n;
    p->mc_in_type = c->mc_in_type;
    return 0;
}

/* The tuple of clustering columns first .. first + n - 1 as one value:
 * its type frozen<tuple<..>> and Cassandra's name for it, "(c1,c2)". */
static int tuple_spec(actx *c, int first, int n, const char *text, const hln_type **tt,
                      const char **tname)
{
    const hln_table *t = c->p->t;
    const hln_type *types[HLN_TUPLE_MAX];
    if (n > HLN_TUPLE_MAX) return hln_fail(c->err, HLN_EINVAL, "too many columns in %s", text);
    hln_buf nm;
    hln_buf_init(&nm);
    hln_buf_u8(&nm, '(');
    for (int i = 0; i < n; i++) {
        types[i] = t->cols[t->npk + first + i].type;
        hln_buf_printf(&nm, "%s%s", i ? "," : "", t->cols[t->npk + first + i].name);
    }
    hln_buf_u8(&nm, ')');
    hln_buf_u8(&nm, 0);
    *tname = nm.err ? NULL : hln_arena_strdup(c->a, (const char *)nm.data);
    hln_buf_free(&nm);
    *tt = hln_type_tuple(types, n);
    return *tt && *tname ? 0 : nomem(c);
}

/* (c1, ..., cn) IN ((v1, ..., vn), ...) (Cassandra's MultiColumnRelation
 * IN): a list of clustering prefixes of the first n clustering columns
 * (checked by the caller). The values are tuple literals whose elements
 * are the columns' values, tuple markers "(c1,c2)", or one marker for the
 * whole list "in(c1,c2)" of type list<frozen<tuple<...>>>. */
static int add_multi_in(actx *c, const cql_relation *rel, int n, const char *text)
{
    const hln_table *t = c->p->t;
    if (c->mc_in) return mc_twice(c, n);
    const hln_type *tt;
    const char *tname;
    int rc = tuple_spec(c, 0, n, text, &tt, &tname);
    if (rc) return rc;
    if (!rel->in_list) { /* IN ?: the whole list */
        const hln_type *lt = hln_type_collection(HLN_T_LIST, &tt, false);
        char lbuf[1100];
        snprintf(lbuf, sizeof lbuf, "in%s", tname);
        const char *lname = hln_arena_strdup(c->a, lbuf);
        if (!lt || !lname) return nomem(c);
        spec_typed(c, rel->term, lname, lt);
    }
    for (int i = 0; rel->in_list && i < rel->nin; i++) {
        const cql_term *v = rel->in_list[i];
        if (v->kind == CQL_TERM_BIND) {
            spec_typed(c, v, tname, tt);
            continue;
        }
        if (v->kind != CQL_TERM_TUPLE)
            return hln_fail(c->err, HLN_EINVAL, "Invalid %s value for %s: a tuple is expected",
                            term_str(c, v), text);
        if (v->nelems != n)
            return hln_fail(c->err, HLN_EINVAL,
                            "Expected %d elements in value tuple, but got %d: %s", n, v->nelems,
                            term_str(c, v));
        for (int k = 0; k < n; k++)
            spec_col(c, v->elems[k], &t->cols[t->npk + k]);
    }
    c->mc_in = rel;
    c->mc_in_n = n;
    c->mc_in_type = tt;
    return 0;
}

/* Adds one relation to the per-column restrictions rs (t->ncols entries),
 * merging as Cassandra's restriction sets do. */
/* (c1, c2) op (v1, v2) (Cassandra's MultiColumnRelation): the columns are
 * the first clustering columns in order; = is the equalities, a slice
 * bounds the clustering prefix as a whole. */
static int add_multi_relation(actx *c, ex_restr *rs, const cql_relation *rel)
{
    const hln_table *t = c->p->t;
    int n = 0;
    hln_buf txt;
    hln_buf_init(&txt);
    hln_buf_u8(&txt, '(');
    for (const cql_name_list *l = rel->mcols; l; l = l->next, n++)
        hln_buf_printf(&txt, "%s%s", n ? ", " : "", l->name);
    hln_buf_printf(&txt, ") %s (", op_str(rel->op));
    for (int i = 0; i < rel->nin; i++)
        hln_buf_printf(&txt, "%s%s", i ? ", " : "", term_str(c, rel->in_list[i]));
    hln_buf_u8(&txt, ')');
    hln_buf_u8(&txt, 0);
    const char *text = txt.err ? "?" : hln_arena_strdup(c->a, (const char *)txt.data);
    hln_buf_free(&txt);
    int pos = 0, rc, first = 0;
    bool desc = false;
    for (const cql_name_list *l = rel->mcols; l; l = l->next, pos++) {
        int ci;
        if ((rc = column(c, l->name, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        if (col->kind != HLN_COL_CLUSTERING)
            return hln_fail(c->err, HLN_EINVAL,
                            "Multi-column relations can only be applied to clustering columns but "
                            "was applied to: %s",
                            col->name);
        if (pos == 0) first = col->position;
        if (col->position != pos + first)
            return hln_fail(c->err, HLN_EINVAL,
                            "Clustering columns must appear in the PRIMARY KEY order in "
                            "multi-column relations: %s",
                            text ? text : "?");
        if (pos == 0) desc = col->desc;
        if (col->desc != desc && rel->op != CQL_OP_IN && rel->op != CQL_OP_EQ)
            c->mc_mixed = true; /* not one storage slice: a row filter (ex_select_plan) */
    }
    if (rel->op == CQL_OP_IN && first > 0) /* consecutive, but after a gap */
        return hln_fail(c->err, HLN_EINVAL,
                        "PRIMARY KEY column \"%s\" cannot be restricted as preceding column "
                        "\"%s\" is not restricted",
                        t->cols[t->npk + first].name, t->cols[t->npk].name);
    if (rel->op == CQL_OP_IN) return add_multi_in(c, rel, n, text);
    if (!rel->in_list && rel->op == CQL_OP_EQ) { /* (c1, c2) = ?: an IN of that one tuple */
        cql_relation *in = alloc(c, sizeof *in);
        cql_term **one = alloc(c, sizeof *one);
        if (!in || !one) return nomem(c);
        *one = rel->term;
        *in = *rel;
        in->op = CQL_OP_IN;
        in->in_list = one;
        in->nin = 1;
        in->term = NULL;
        return add_multi_in(c, in, n, text);
    }
    if (!rel->in_list) { /* (c1, c2) > ?: one marker of type frozen<tuple<..>>, "(c1,c2)" */
        const hln_type *tt;
        const char *tname;
        int rc = tuple_spec(c, first, n, text, &tt, &tname);
        if (rc) return rc;
        spec_typed(c, rel->term, tname, tt);
    } else if (rel->nin != n) {
        hln_buf v;
        hln_buf_init(&v);
        for (int i = 0; i < rel->nin; i++)
            hln_buf_printf(&v, "%s%s", i ? ", " : "", term_str(c, rel->in_list[i]));
        int r2 =
            hln_fail(c->err, HLN_EINVAL, "Expected %d elements in value tuple, but got %d: (%.*s)",
                     n, rel->nin, (int)v.len, v.err ? "" : (const char *)v.data);
        hln_buf_free(&v);
        return r2;
    }
    for (int i = 0; rel->in_list && i < n; i++)
        spec_col(c, rel->in_list[i], &t->cols[t->npk + first + i]);
    switch (rel->op) {
    case CQL_OP_EQ:
        for (int i = 0; i < n; i++) {
            const hln_column *col = &t->cols[t->npk + first + i];
            cql_relation one = {.column = col->name, .op = CQL_OP_EQ, .term = rel->in_list[i]};
            if ((rc = merge_bound(c, &rs[t->npk + first + i], &one, col->name, "Column")))
                return rc;
        }
        return 0;
    case CQL_OP_GT:
    case CQL_OP_GE:
    case CQL_OP_LT:
    case CQL_OP_LE:
        for (int i = 0; i < n; i++) /* c = ? came first (mc_slice_check: after) */
            if (rs[t->npk + first + i].eq || rs[t->npk + first + i].in)
                return hln_fail(c->err, HLN_EINVAL,
                                "%s cannot be restricted by more than one relation if it includes "
                                "%s",
                                t->cols[t->npk + first + i].name,
                                rs[t->npk + first + i].eq ? "an Equal" : "a IN");
        if ((c->mc_lo || c->mc_hi) && c->mc_first != first)
            return hln_fail(c->err, HLN_EINVAL,
                            "Column \"%s\" cannot be restricted by two inequalities not starting "
                            "with the same column",
                            t->cols[t->npk + (first > c->mc_first ? first : c->mc_first)].name);
        c->mc_first = first;
        break;
    default:
        break;
    }
    switch (rel->op) {
    case CQL_OP_GT:
    case CQL_OP_GE:
        if (c->mc_lo)
            return hln_fail(c->err, HLN_EINVAL,
                            "More than one restriction was found for the start bound on %s",
                            t->cols[t->npk + first].name);
        c->mc_lo = rel;
        c->mc_lo_incl = rel->op == CQL_OP_GE;
        return 0;
    case CQL_OP_LT:
    case CQL_OP_LE:
        if (c->mc_hi)
            return hln_fail(c->err, HLN_EINVAL,
                            "More than one restriction was found for the end bound on %s",
                            t->cols[t->npk + first].name);
        c->mc_hi = rel;
        c->mc_hi_incl = rel->op == CQL_OP_LE;
        return 0;
    default:
        return hln_fail(c->err, HLN_EUNSUPPORTED, "Unsupported multi-column relation %s",
                        text ? text : "?");
    }
}

static int add_relation(actx *c, ex_restr *rs, const cql_relation *rel)
{
    if (rel->token_cols) return add_token_relation(c, rel);
    if (rel->mcols) return add_multi_relation(c, rs, rel);
    int ci = 0;
    int rc = column(c, rel->column, &ci);
    if (rc) return rc;
    const hln_column *col = &c->p->t->cols[ci];
    ex_restr *x = &rs[ci];
    if (rel->elem) { /* m[k] = v */
        const hln_type *ty = col->type;
        if (ty->kind != HLN_T_MAP)
            return hln_fail(c->err, HLN_EINVAL, "Column %s cannot be used as a map", col->name);
        if (rel->op != CQL_OP_EQ)
            return hln_fail(c->err, HLN_EINVAL, "Only EQ relations are supported on map entries");
        if (x->nentries == (int)HLN_ARRAY_LEN(x->entries))
            return hln_fail(c->err, HLN_EUNSUPPORTED, "Too many map entry relations on %s",
                            col->name);
        spec_typed(c, rel->elem, elem_name(c, "key", col->name), ty->params[0]);
        spec_typed(c, rel->term, elem_name(c, "value", col->name), ty->params[1]);
        x->entries[x->nentries++] = rel;
        return 0;
    }
    if (rel->op == CQL_OP_CONTAINS || rel->op == CQL_OP_CONTAINS_KEY) {
        bool key = rel->op == CQL_OP_CONTAINS_KEY;
        const hln_type *ty = col->type;
        if (!hln_type_is_collection(ty) || (key && ty->kind != HLN_T_MAP))
            return hln_fail(c->err, HLN_EINVAL, "Cannot use %s on non-%s column %s",
                            key ? "CONTAINS KEY" : "CONTAINS", key ? "map" : "collection",
                            col->name);
        if (x->ncontains == (int)HLN_ARRAY_LEN(x->contains))
            return hln_fail(c->err, HLN_EUNSUPPORTED, "Too many CONTAINS relations on %s",
                            col->name);
        const hln_type *et = ty->kind == HLN_T_MAP && !key ? ty->params[1] : ty->params[0];
        spec_typed(c, rel->term, elem_name(c, key ? "key" : "value", col->name), et);
        x->contains[x->ncontains++] = rel;
        return 0;
    }
    if (hln_type_is_multicell(col->type)) /* IN too: only frozen values compare whole */
        return hln_fail(c->err, HLN_EINVAL,
                        "Collection column '%s' (%s) cannot be restricted by a '%s' relation",
                        col->name, col->type->cql_name, op_str(rel->op));
    if (references_duration(col->type) && rel->op != CQL_OP_EQ && rel->op != CQL_OP_IN &&
        rel->op != CQL_OP_NE)
        return hln_fail(c->err, HLN_EINVAL,
                        "Slice restrictions are not supported on duration columns");
    spec_col(c, rel->term, col);
    switch (rel->op) {
    case CQL_OP_EQ:
    case CQL_OP_GT:
    case CQL_OP_GE:
    case CQL_OP_LT:
    case CQL_OP_LE:
        return merge_bound(c, x, rel, col->name, "Column");
    case CQL_OP_NE:
        return hln_fail(c->err, HLN_EINVAL, "Unsupported \"!=\" relation: %s %s %s", col->name,
                        op_str(rel->op), term_str(c, rel->term));
    case CQL_OP_IN: {
        if (col->kind != HLN_COL_PARTITION_KEY && col->kind != HLN_COL_CLUSTERING) {
            /* no index serves IN: without ALLOW FILTERING, Cassandra's refusal;
               with it (or on a system table), a row filter. UPDATE and DELETE
               refuse it with every other non-key relation (mod_keys) */
            bool sel = c->stmt->kind == CQL_SELECT;
            if (sel && !c->stmt->u.select.allow_filtering && !c->p->t->is_virtual)
                return hln_fail(c->err, HLN_EINVAL, ALLOW_FILTERING_MSG);
            for (int i = 0; rel->in_list && i < rel->nin; i++)
                if (rel->in_list[i]->kind == CQL_TERM_NULL)
                    return hln_fail(c->err, HLN_EINVAL, "Unsupported null value for column %s",
                                    col->name);
            x->in_is_eq = true;
        }
        if (x->eq)
            return hln_fail(c->err, HLN_EINVAL,
                            "%s cannot be restricted by more than one relation if it includes an "
                            "Equal",
                            col->name);
        if (x->in || x->lo || x->hi)
            return hln_fail(c->err, HLN_EINVAL,
                            "%s cannot be restricted by more than one relation if it includes %s",
                            col->name, x->in_is_eq ? "an Equal" : "a IN");
        if (rel->in_list) {
            for (int i = 0; i < rel->nin; i++)
                spec_typed(c, rel->in_list[i], col->name, col->type);
        } else {
            const hln_type *lt = hln_type_collection(HLN_T_LIST, &col->type, true);
            if (!lt) return nomem(c);
            spec_typed(c, rel->term, elem_name(c, "in", col->name), lt);
        }
        x->in = rel;
        return 0;
    }
    default:
        break;
    }
    return hln_fail(c->err, HLN_EUNSUPPORTED, "Unsupported relation");
}

static bool restricted(const ex_restr *x)
{
    return x->eq || x->in || x->lo || x->hi || x->ncontains || x->nentries;
}

/* The WHERE clause into per-column restrictions; mod names the
 * modification statement ("UPDATE", "DELETE") or is NULL for SELECT. */
static int where(actx *c, const cql_relation *rel, const char *mod, ex_restr **out)
{
    ex_restr *rs = alloc(c, sizeof *rs * (size_t)c->p->t->ncols);
    if (!rs) return nomem(c);
    for (const cql_relation *x = rel; mod && x; x = x->next)
        if (x->op == CQL_OP_CONTAINS || x->op == CQL_OP_CONTAINS_KEY)
            return hln_fail(c->err, HLN_EINVAL, "Cannot use %s with %s", mod,
                            x->op == CQL_OP_CONTAINS ? "CONTAINS" : "CONTAINS KEY");
    for (; rel; rel = rel->next) {
        int rc = add_relation(c, rs, rel);
        if (rc) return rc;
    }
    if (c->has_tok) {
        /* Cassandra 5.0 takes token bounds beside a whole-key lookup (the
         * bounds then filter the keys); any other mix is refused */
        bool all_eq = true, any = false;
        for (int i = 0; i < c->p->t->npk; i++) {
            all_eq &= (rs[i].eq || rs[i].in) && !rs[i].lo && !rs[i].hi;
            any |= rs[i].eq || rs[i].in || rs[i].lo || rs[i].hi;
        }
        if (any && !all_eq)
            return hln_fail(c->err, HLN_EINVAL,
                            "Columns \"%s\" cannot be restricted by both a normal relation "
                            "and a token relation",
                            pk_list(c));
    }
    *out = rs;
    return 0;
}

/* ---- secondary indexes -------------------------------------------------
 * Which restrictions an index serves, as Cassandra 5.0 plans them
 * (StatementRestrictions with IndexRestrictions; IndexTermType.supports for
 * storage-attached indexes, CassandraIndex.supportsOperator for legacy
 * ones). A query whose restrictions that would need filtering are all
 * served by storage-attached indexes, or that has exactly one such
 * restriction served by a legacy index, runs without ALLOW FILTERING.
 * It is executed by the filtered scan, which returns the same rows in the
 * same (token) order. */

/* The analysis (EX_FOLD_*) of an index serving text column col (or its
 * collection's text values); 0 when none. */
static unsigned analyzed_column(const hln_table *t, const hln_column *col)
{
    const hln_type *ty = col->type;
    if (hln_type_is_multicell(ty) && hln_type_is_collection(ty))
        ty = ty->params[ty->kind == HLN_T_MAP ? 1 : 0];
    if (ty->kind != HLN_T_VARCHAR && ty->kind != HLN_T_ASCII) return 0;
    for (int i = 0; i < t->nindexes; i++) {
        const hln_index *ix = &t->indexes[i];
        if (ix->col_id != col->id || ix->kind != HLN_IXK_SAI) continue;
        const char *cs = index_option(ix, "case_sensitive"), *as = index_option(ix, "ascii");
        unsigned f = (cs && !strcasecmp(cs, "false") ? EX_FOLD_CASE : 0) |
                     (as && !strcasecmp(as, "true") ? EX_FOLD_ASCII : 0);
        if (f) return f;
    }
    return 0;
}

enum { IX_EQ, IX_RANGE, IX_CONTAINS, IX_CONTAINS_KEY, IX_ENTRY };

/* SAI's literal types: only = (no ranges) */
static bool sai_literal(const hln_type *t)
{
    return t->kind == HLN_T_VARCHAR || t->kind == HLN_T_ASCII || t->kind == HLN_T_BOOLEAN ||
           t->kind == HLN_T_TUPLE || t->kind == HLN_T_UDT || t->frozen;
}

static bool serves(const hln_index *ix, const hln_column *col, int op)
{
    switch (ix->target) {
    case HLN_IX_SIMPLE:
        if (op == IX_EQ) return true;
        return op == IX_RANGE && ix->kind == HLN_IXK_SAI && !sai_literal(col->type) &&
               col->type->kind != HLN_T_VECTOR;
    case HLN_IX_FULL:
        return op == IX_EQ;
    case HLN_IX_VALUES:
        return op == IX_CONTAINS;
    case HLN_IX_KEYS:
        return op == IX_CONTAINS_KEY;
    case HLN_IX_ENTRIES:
        return op == IX_ENTRY;
    }
    return false;
}

static bool served_by(const hln_table *t, const hln_column *col, int op, hln_index_kind kind)
{
    for (int i = 0; i < t->nindexes; i++)
        if (t->indexes[i].col_id == col->id && t->indexes[i].kind == kind &&
            serves(&t->indexes[i], col, op))
            return true;
    return false;
}

/* The restriction's parts served by indexes of `kind`; *parts: how many. */
static int served_parts(const hln_table *t, const hln_column *col, const ex_restr *x,
                        hln_index_kind kind, int *parts)
{
    int n = 0, ok = 0;
    if (x->in) n++; /* never served */
    if (x->eq) n++, ok += served_by(t, col, IX_EQ, kind);
    if (x->lo || x->hi) n++, ok += served_by(t, col, IX_RANGE, kind);
    for (int i = 0; i < x->ncontains; i++) {
        n++;
        ok += served_by(t, col,
                        x->contains[i]->op == CQL_OP_CONTAINS_KEY ? IX_CONTAINS_KEY : IX_CONTAINS,
                        kind);
    }
    for (int i = 0; i < x->nentries; i++)
        n++, ok += served_by(t, col, IX_ENTRY, kind);
    *parts = n;
    return ok;
}

/* Whether indexes serve every restriction of rs that would otherwise need
 * ALLOW FILTERING (*used), and Cassandra's error for an indexed vector. */
static int index_plan(actx *c, const ex_restr *rs, bool pk_lookup, bool *used)
{
    const hln_table *t = c->p->t;
    *used = false;
    if (!t->nindexes) return 0;
    for (int i = 0; i < t->ncols; i++) {
        const hln_column *col = &t->cols[i];
        if (!restricted(&rs[i]) || col->type->kind != HLN_T_VECTOR) continue;
        for (int j = 0; j < t->nindexes; j++)
            if (t->indexes[j].col_id == col->id && t->indexes[j].kind == HLN_IXK_SAI)
                return hln_fail(c->err, HLN_EINVAL, "Vector indexes only support ANN queries");
    }
    for (int i = 0; i < t->ncols; i++)
        if (rs[i].eq && rs[i].eq->kind == CQL_TERM_NULL && table_index_on(t, t->cols[i].id))
            return hln_fail(c->err, HLN_EINVAL, "Unsupported null value for column %s",
                            t->cols[i].name);
    bool pk_any = false;
    for (int i = 0; i < t->npk; i++)
        pk_any |= restricted(&rs[i]);
    bool need[t->ncols > 0 ? t->ncols : 1];
    int nneed = 0;
    for (int i = 0; i < t->ncols; i++) {
        need[i] = false;
        if (!restricted(&rs[i])) continue;
        const hln_column *col = &t->cols[i];
        if (col->kind == HLN_COL_PARTITION_KEY)
            need[i] = !pk_lookup && pk_any;
        else if (col->kind != HLN_COL_CLUSTERING)
            need[i] = true;
    }
    if (pk_lookup) { /* an EQ/IN prefix, then one slice, go to storage */
        bool done = false;
        for (int pos = 0; pos < t->nck; pos++) {
            const ex_restr *x = &rs[t->npk + pos];
            if (!restricted(x)) {
                done = true;
                continue;
            }
            if (done || x->ncontains || x->nentries) {
                need[t->npk + pos] = true;
                continue;
            }
            if (!x->eq && !x->in) done = true;
        }
    } else {
        for (int pos = 0; pos < t->nck; pos++)
            need[t->npk + pos] = restricted(&rs[t->npk + pos]);
    }
    bool all_sai = true;
    int legacy_parts = 0, legacy_ok = 0;
    for (int i = 0; i < t->ncols; i++) {
        if (!need[i]) continue;
        nneed++;
        int parts, lp;
        if (served_parts(t, &t->cols[i], &rs[i], HLN_IXK_SAI, &parts) != parts) all_sai = false;
        legacy_ok += served_parts(t, &t->cols[i], &rs[i], HLN_IXK_LEGACY, &lp);
        legacy_parts += lp;
    }
    if (!nneed) return 0;
    *used = all_sai || (legacy_parts == 1 && legacy_ok == 1);
    return 0;
}

/* Appends the restrictions of column ci as row filters. */
static int add_filters(actx *c, const ex_restr *x, int ci)
{
    ex_plan *p = c->p;
    int n = (x->eq != NULL) + (x->in != NULL) + (x->lo != NULL) + (x->hi != NULL) + x->ncontains +
            x->nentries;
    if (!n) return 0;
    ex_filter *f = alloc(c, sizeof *f * (size_t)(p->nfilters + n));
    if (!f) return nomem(c);
    if (p->nfilters) memcpy(f, p->filters, sizeof *f * (size_t)p->nfilters);
    unsigned fold = analyzed_column(p->t, &p->t->cols[ci]);
    if (x->eq)
        f[p->nfilters++] = (ex_filter){.col = ci, .op = CQL_OP_EQ, .term = x->eq, .fold = fold};
    if (x->in) f[p->nfilters++] = (ex_filter){.col = ci, .op = CQL_OP_IN, .in = x->in};
    for (int i = 0; i < x->nentries; i++)
        f[p->nfilters++] = (ex_filter){
            .col = ci, .op = CQL_OP_EQ, .term = x->entries[i]->term, .key = x->entries[i]->elem};
    if (x->lo)
        f[p->nfilters++] =
            (ex_filter){.col = ci, .op = x->lo_incl ? CQL_OP_GE : CQL_OP_GT, .term = x->lo};
    if (x->hi)
        f[p->nfilters++] =
            (ex_filter){.col = ci, .op = x->hi_incl ? CQL_OP_LE : CQL_OP_LT, .term = x->hi};
    for (int i = 0; i < x->ncontains; i++)
        f[p->nfilters++] = (ex_filter){.col = ci,
                                       .op = x->contains[i]->op,
                                       .term = x->contains[i]->term,
                                       .fold = x->contains[i]->op == CQL_OP_CONTAINS ? fold : 0};
    p->filters = f;
    return 0;
}

/* The CONTAINS and m[k] = v restrictions of column ci as row filters (a
 * clustering column whose = or slice goes to storage keeps these). */
static int add_element_filters(actx *c, const ex_restr *x, int ci)
{
    ex_restr only = {0};
    memcpy(only.contains, x->contains, sizeof only.contains);
    only.ncontains = x->ncontains;
    memcpy(only.entries, x->entries, sizeof only.entries);
    only.nentries = x->nentries;
    return add_filters(c, &only, ci);
}

/* Cassandra's merge-time check on clustering restrictions: a column after
 * one restricted by a slice cannot be restricted (unless filtering). */
static int clustering_slice_order(actx *c, const ex_restr *rs)
{
    const hln_table *t = c->p->t;
    int prev = -1;
    for (int pos = 0; pos < t->nck; pos++) {
        int ci = t->npk + pos;
        if (!restricted(&rs[ci])) continue;
        if (prev >= 0 && !rs[prev].eq && !rs[prev].in)
            return hln_fail(c->err, HLN_EINVAL,
                            "Clustering column \"%s\" cannot be restricted (preceding column "
                            "\"%s\" is restricted by a non-EQ relation)",
                            t->cols[ci].name, t->cols[prev].name);
        prev = ci;
    }
    return 0;
}

/* The restricted clustering columns must be a prefix (unless filtering). */
static int clustering_prefix(actx *c, const ex_restr *rs)
{
    const hln_table *t = c->p->t;
    int k = 0; /* index among restricted columns */
    for (int pos = 0; pos < t->nck; pos++) {
        int ci = t->npk + pos;
        if (!restricted(&rs[ci]) && !(c->mc_in && pos < c->mc_in_n)) continue;
        if (pos != k)
            return hln_fail(c->err, HLN_EINVAL,
                            "PRIMARY KEY column \"%s\" cannot be restricted as preceding column "
                            "\"%s\" is not restricted",
                            t->cols[ci].name, t->cols[t->npk + k].name);
        k++;
    }
    return 0;
}

/* The columns of a multi-column relation (c1, .., cn). */
static int mc_ncols(const cql_relation *rel)
{
    int n = 0;
    for (const cql_name_list *l = rel->mcols; l; l = l->next)
        n++;
    return n;
}

/* A multi-column slice (c_f, .., c_f+n-1) > (..) beside the single-column
 * relations rs, as Cassandra 5.0 merges them: the columns before c_f
 * restricted by = or IN (a slice on them cannot be used for filtering), a
 * slice on c_f itself merged with the tuple's bound of the other side,
 * none on the tuple's other columns, and the columns after the tuple only
 * when filtering. */
static int mc_slice_check(actx *c, const ex_restr *rs, bool filtering)
{
    const hln_table *t = c->p->t;
    int first = c->mc_first, n = 0;
    if (c->mc_lo) n = mc_ncols(c->mc_lo);
    if (c->mc_hi && mc_ncols(c->mc_hi) > n) n = mc_ncols(c->mc_hi);
    const char *name = t->cols[t->npk + first].name;
    for (int pos = 0; pos < first; pos++) {
        const ex_restr *x = &rs[t->npk + pos];
        if (x->eq || x->in) continue;
        if (filtering)
            return hln_fail(c->err, HLN_EINVAL,
                            "Multi-column slice restrictions cannot be used for filtering.");
        if (!restricted(x))
            return hln_fail(c->err, HLN_EINVAL,
                            "PRIMARY KEY column \"%s\" cannot be restricted as preceding column "
                            "\"%s\" is not restricted",
                            name, t->cols[t->npk + pos].name);
        return hln_fail(c->err, HLN_EINVAL,
                        "Clustering column \"%s\" cannot be restricted (preceding column \"%s\" "
                        "is restricted by a non-EQ relation)",
                        name, t->cols[t->npk + pos].name);
    }
    for (int pos = first; pos < t->nck; pos++) {
        const ex_restr *x = &rs[t->npk + pos];
        const char *cn = t->cols[t->npk + pos].name;
        if (!restricted(x)) continue;
        if (pos >= first + n) {
            if (filtering) continue;
            return hln_fail(c->err, HLN_EINVAL,
                            "Clustering column \"%s\" cannot be restricted (preceding column "
                            "\"%s\" is restricted by a non-EQ relation)",
                            cn, name);
        }
        if (x->eq || x->in) /* (Cassandra's words when the tuple's relation comes first) */
            return hln_fail(c->err, HLN_EINVAL,
                            "Column \"%s\" cannot be restricted by both an equality and an "
                            "inequality relation",
                            cn);
        if (x->ncontains || x->nentries || (pos > first && !x->lo && !x->hi))
            return hln_fail(c->err, HLN_EINVAL,
                            "Column \"%s\" cannot be restricted by both a multi-column and a "
                            "single-column relation",
                            cn);
        if (pos > first)
            return hln_fail(c->err, HLN_EINVAL,
                            "Column \"%s\" cannot be restricted by two inequalities not starting "
                            "with the same column",
                            cn);
        if (x->lo && c->mc_lo)
            return hln_fail(c->err, HLN_EINVAL,
                            "More than one restriction was found for the start bound on %s", cn);
        if (x->hi && c->mc_hi)
            return hln_fail(c->err, HLN_EINVAL,
                            "More than one restriction was found for the end bound on %s", cn);
    }
    return 0;
}

/* pk[] from the equalities; pk_indexes when every one is a marker. */
static int set_pk_terms(actx *c, const ex_restr *rs)
{
    ex_plan *p = c->p;
    const hln_table *t = p->t;
    p->pk = alloc(c, sizeof *p->pk * (size_t)t->npk);
    p->pk_indexes = alloc(c, sizeof *p->pk_indexes * (size_t)t->npk);
    if (!p->pk || !p->pk_indexes) return nomem(c);
    bool all_binds = true;
    p->pk_in = alloc(c, sizeof *p->pk_in * (size_t)t->npk);
    if (!p->pk_in) return nomem(c);
    for (int i = 0; i < t->npk; i++) {
        p->pk_in[i] = rs[i].in;
        p->pk_has_in |= rs[i].in != NULL;
        p->pk[i] = rs[i].eq;
        if (!rs[i].eq || rs[i].eq->kind != CQL_TERM_BIND)
            all_binds = false;
        else
            p->pk_indexes[i] = rs[i].eq->bind_index;
    }
    p->npk_indexes = all_binds ? t->npk : 0;
    return 0;
}

/* ---- SELECT ----------------------------------------------------------- */

/* The one column argument of func(col); its index in *ci. */
static int one_column_arg(actx *c, const cql_selector *sel, const char *fname, int *ci)
{
    int n = 0;
    for (const cql_selector *a = sel->args; a; a = a->next)
        n++;
    if (sel->star_arg || n != 1 || !sel->args->column)
        return hln_fail(c->err, HLN_EINVAL,
                        "Invalid number of arguments in call to function %s: 1 required but %d "
                        "provided",
                        fname, sel->star_arg ? 1 : n);
    int rc = column(c, sel->args->column, ci);
    if (rc || !sel->args->elem) return rc;
    /* c[k] arguments are sub-selectors of their callers (agg_arg, toJson,
       writetime): one reaching here is not an element of a set or map */
    const hln_column *col = &c->p->t->cols[*ci];
    if (!hln_type_is_collection(col->type))
        return hln_fail(c->err, HLN_EINVAL,
                        "Invalid element selection: %s is of type %s is not a collection",
                        col->name, col->type->cql_name);
    if (col->type->kind == HLN_T_LIST)
        return hln_fail(c->err, HLN_EINVAL,
                        "Element selection is only allowed on sets and maps, but %s is a list",
                        col->name);
    return hln_fail(c->err, HLN_EUNSUPPORTED, "Function %s of a collection element", fname);
}

static const char *fmt_name(actx *c, const char *fmt, const char *arg)
{
    size_t n = strlen(fmt) + strlen(arg) + 1;
    char *out = hln_arena_alloc(c->a, n);
    if (!out) return arg;
    snprintf(out, n, fmt, arg);
    return out;
}

static int selector(actx *c, const cql_selector *sel, ex_sel *out, ex_colspec *spec_out);
static const hln_type *literal_type(const cql_term *t);

/* A constant (or marker, or null) that a value of type t can be made of. */
static bool literal_fits(const cql_term *tm, const hln_type *t)
{
    if (!tm || tm->kind != CQL_TERM_LITERAL) return true;
    hln_buf tmp;
    hln_buf_init(&tmp);
    hln_error e = {0};
    bool ok = hln_type_from_literal(t, tm->lit, tm->text, "arg", &tmp, &e) == 0;
    hln_buf_free(&tmp);
    return ok;
}

static bool is_literal_sel(const cql_selector *a)
{
    return !a->func && !a->column && !a->op && !a->cast && a->term;
}

/* A constant's text in a selector's column name (null as NULL). */
static const char *lit_name(actx *c, const cql_term *t)
{
    return t->kind == CQL_TERM_NULL ? "NULL" : term_str(c, t);
}

/* An argument of a function, operator or cast: a constant (typed later)
 * or a nested selector. */
/* (type) constant in a selector: a constant of that type (EX_SEL_CONST). */
static int hint_selector(actx *c, const cql_term *term, ex_sel *out, ex_colspec *spec_out)
{
    const hln_table *t = c->p->t;
    const hln_type *ht = hln_type_hint(term->text);
    if (!ht) return hln_fail(c->err, HLN_EINVAL, "Unknown type %s.%s", t->ks, term->text);
    ex_selarg *arg = alloc(c, sizeof *arg);
    if (!arg) return nomem(c);
    *arg = (ex_selarg){-1, term, ht, NULL};
    spec_typed(c, term, term_str(c, term), ht);
    *out = (ex_sel){.kind = EX_SEL_CONST, .col = -1, .args = arg, .nargs = 1, .type = ht};
    *spec_out = (ex_colspec){t->ks, t->name, term_str(c, term), ht};
    return 0;
}

static int sel_arg(actx *c, const cql_selector *a, ex_selarg *out, ex_fnarg *fa)
{
    if (is_literal_sel(a) && a->term->kind != CQL_TERM_HINT) {
        *out = (ex_selarg){-1, a->term, NULL, NULL};
        *fa = (ex_fnarg){NULL, a->term, lit_name(c, a->term)};
        return 0;
    }
    ex_sel *sub = alloc(c, sizeof *sub);
    if (!sub) return nomem(c);
    ex_colspec spec;
    int ci, rc;
    if (c->fn_args && !a->func && a->elem && !a->slice && a->column && !column(c, a->column, &ci)) {
        const hln_type *ty = c->p->t->cols[ci].type;
        if (ty->kind != HLN_T_SET && ty->kind != HLN_T_MAP) {
            /* l[i], v[k]: Cassandra gives the element of a list (or of no
               collection) no type a function takes, so the function's
               signatures refuse it first; the element's own error follows
               when one takes it (function_selector) */
            const char *ks = term_str(c, a->elem);
            size_t nl = strlen(c->p->t->cols[ci].name) + strlen(ks) + 3;
            char *nm = hln_arena_alloc(c->a, nl);
            if (!nm) return nomem(c);
            snprintf(nm, nl, "%s[%s]", c->p->t->cols[ci].name, ks);
            const hln_type *none = hln_type_by_kind(HLN_T_DURATION);
            *out = (ex_selarg){-1, NULL, none, NULL};
            *fa = (ex_fnarg){none, NULL, nm};
            if (!c->bad_elem) c->bad_elem = a;
            return 0;
        }
    }
    rc = selector(c, a, sub, &spec);
    if (rc) return rc;
    if (sub->kind >= EX_SEL_COUNT_ROWS && c->agg_depth)
        return hln_fail(c->err, HLN_EINVAL,
                        "aggregate functions cannot be used as arguments of aggregate functions");
    bool col = sub->kind == EX_SEL_COLUMN;
    *out = (ex_selarg){col ? sub->col : -1, NULL, sub->type, col ? NULL : sub};
    *fa = (ex_fnarg){sub->type, NULL, spec.name};
    return 0;
}

static const char *paren_name(actx *c, const cql_selector *sel, const char *name)
{
    return sel->paren ? fmt_name(c, "(%s)", name) : name;
}

/* A native scalar function of selectors (functions.c). The result column
 * is named system.f(args), arguments by their own names. */
static int function_selector(actx *c, const cql_selector *sel, ex_sel *out, ex_colspec *spec_out)
{
    const hln_table *t = c->p->t;
    if (!strcmp(sel->func, "fromjson") && (!sel->func_ks || !strcmp(sel->func_ks, "system")))
        return hln_fail(c->err, HLN_EINVAL,
                        "fromjson() cannot be used in the selection clause of a SELECT statement");
    int nargs = 0;
    for (const cql_selector *a = sel->args; a; a = a->next)
        nargs++;
    if (sel->star_arg) {
        const ex_fn *cands[2];
        if (ex_fn_candidates(sel->func, cands, 2) == 0)
            return hln_fail(c->err, HLN_EINVAL, "Unknown function '%s'", sel->func);
        return hln_fail(c->err, HLN_EINVAL,
                        "Invalid number of arguments in call to function system.%s",
                        cands[0]->name);
    }
    if (nargs > 5) nargs = 5;
    ex_selarg *args = alloc(c, sizeof *args * (size_t)(nargs ? nargs : 1));
    ex_fnarg fa[5];
    if (!args) return nomem(c);
    int i = 0, rc;
    for (const cql_selector *a = sel->args; a && i < nargs; a = a->next, i++) {
        c->fn_args = true;
        rc = sel_arg(c, a, &args[i], &fa[i]);
        c->fn_args = false;
        if (rc) return rc;
    }
    const ex_fn *cand[1];
    if (ex_fn_candidates(sel->func, cand, 1) == 1 && cand[0]->args[0] == HLN_T_VECTOR &&
        (!sel->func_ks || !strcmp(sel->func_ks, "system"))) {
        /* similarity_*(vector<float, n>, vector<float, n>)
           (VectorFcts): two float vectors of one dimension, list
           literals taking the other argument's type */
        if (nargs != 2)
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid number of arguments for function system.%s(vector<float, n>, "
                            "vector<float, n>)",
                            cand[0]->name);
        int dim = 0;
        for (int j = 0; j < 2; j++) {
            const hln_type *at = args[j].type;
            const cql_term *tm = args[j].term;
            /* a list literal or a marker takes the other argument's type */
            bool list = !at && tm && (tm->kind == CQL_TERM_LIST || tm->kind == CQL_TERM_BIND);
            if (at && at->kind == HLN_T_VECTOR && at->params[0]->kind == HLN_T_FLOAT) {
                if (dim && at->dim != dim)
                    return hln_fail(c->err, HLN_EINVAL,
                                    "All arguments must have the same vector dimensions");
                dim = at->dim;
                continue;
            }
            if (list) continue;
            const hln_type *lt = at ? at : tm ? literal_type(tm) : NULL;
            return hln_fail(c->err, HLN_EINVAL,
                            "Function system.%s requires a float vector argument, but found "
                            "argument %s of type %s",
                            cand[0]->name, fa[j].name, lt ? lt->cql_name : "?");
        }
        for (int j = 0; j < 2; j++) {
            if (args[j].type || args[j].term->kind == CQL_TERM_BIND) continue;
            int n = args[j].term->nelems;
            if (dim && n != dim)
                return hln_fail(c->err, HLN_EINVAL,
                                "All arguments must have the same vector dimensions");
            dim = n;
        }
        const hln_type *vt = dim > 0 ? hln_type_vector(hln_type_by_kind(HLN_T_FLOAT), dim) : NULL;
        if (!vt) return hln_fail(c->err, HLN_EINVAL, "Invalid vector dimension");
        for (int j = 0; j < 2; j++)
            if (!fa[j].type) fa[j].type = vt;
    }
    const hln_type *rt;
    const cql_selector *bad = c->bad_elem;
    c->bad_elem = NULL;
    const ex_fn *f = ex_fn_resolve(sel->func_ks, sel->func, fa, nargs, NULL, true, &rt, c->err);
    if (!f) return c->err->code ? c->err->code : HLN_EINVAL;
    if (bad) { /* a function that takes it: the element selection's error */
        ex_sel x;
        ex_colspec xs;
        rc = selector(c, bad, &x, &xs);
        return rc ? rc : hln_fail(c->err, HLN_EINVAL, "Invalid element selection");
    }
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_printf(&b, "system.%s(", f->name);
    for (int j = 0; j < nargs; j++) {
        if (!args[j].type) args[j].type = fa[j].type;
        if (args[j].term)
            spec_typed(c, args[j].term,
                       /* Cassandra 5.0 names a vector function's marker so */
                       f->args[0] == HLN_T_VECTOR ? "[selection]" : f->name, args[j].type);
        hln_buf_printf(&b, "%s%s", j ? ", " : "", fa[j].name);
    }
    hln_buf_u8(&b, ')');
    const char *name = b.err ? "?" : hln_arena_strndup(c->a, (const char *)b.data, b.len);
    hln_buf_free(&b);
    *out =
        (ex_sel){.kind = EX_SEL_FUNC, .col = -1, .fn = f, .args = args, .nargs = nargs, .type = rt};
    *spec_out = (ex_colspec){t->ks, t->name, name ? name : "?", rt};
    return 0;
}

/* The type a constant operand takes in arithmetic: int, bigint or varint
 * for integers (the smallest that holds it), double for floats, text,
 * duration, boolean. */
static const hln_type *literal_type(const cql_term *t)
{
    if (t->kind != CQL_TERM_LITERAL) return NULL;
    switch (t->lit) {
    case HLN_LIT_INTEGER: {
        char *end;
        errno = 0;
        long long v = strtoll(t->text, &end, 10);
        if (errno || *end) return hln_type_by_kind(HLN_T_VARINT);
        return hln_type_by_kind(v >= INT32_MIN && v <= INT32_MAX ? HLN_T_INT : HLN_T_BIGINT);
    }
    case HLN_LIT_FLOAT:
        return hln_type_by_kind(HLN_T_DOUBLE);
    case HLN_LIT_STRING:
        return hln_type_by_kind(HLN_T_VARCHAR);
    case HLN_LIT_DURATION:
        return hln_type_by_kind(HLN_T_DURATION);
    case HLN_LIT_BOOL:
        return hln_type_by_kind(HLN_T_BOOLEAN);
    default:
        return NULL;
    }
}

/* a + b, a - b, a * b, a / b, a % b in a selector; -a. */
static int op_selector(actx *c, const cql_selector *sel, ex_sel *out, ex_colspec *spec_out)
{
    const hln_table *t = c->p->t;
    if (sel->op == 'n') {
        ex_selarg *arg = alloc(c, sizeof *arg);
        if (!arg) return nomem(c);
        ex_fnarg fa;
        int rc = sel_arg(c, sel->args, arg, &fa);
        if (rc) return rc;
        if (!arg->type)
            return hln_fail(c->err, HLN_EINVAL,
                            "Cannot infer type for term %s in selection clause (try using a cast "
                            "to force a type)",
                            fa.name);
        if (!ex_arith_type('-', arg->type, arg->type) || !strcmp(arg->type->cql_name, "text") ||
            arg->type->kind == HLN_T_ASCII || arg->type->kind == HLN_T_VARCHAR ||
            arg->type->kind == HLN_T_TIMESTAMP ||
            arg->type->kind == HLN_T_DATE) { /* Cassandra's overloads: one per number type */
            static const hln_type_kind nums[] = {HLN_T_TINYINT, HLN_T_SMALLINT, HLN_T_INT,
                                                 HLN_T_BIGINT,  HLN_T_FLOAT,    HLN_T_DOUBLE,
                                                 HLN_T_DECIMAL, HLN_T_VARINT,   HLN_T_COUNTER};
            hln_buf b;
            hln_buf_init(&b);
            hln_buf_printf(&b, "Invalid call to function system._negate, none of its type "
                               "signatures match (known type signatures: ");
            for (size_t i = 0; i < HLN_ARRAY_LEN(nums); i++) {
                const char *n = hln_type_by_kind(nums[i])->cql_name;
                hln_buf_printf(&b, "%ssystem.\"_negate\" : (%s) -> %s", i ? ", " : "", n, n);
            }
            hln_buf_u8(&b, ')');
            hln_buf_u8(&b, 0);
            rc = hln_fail(c->err, HLN_EINVAL, "%s", b.err ? "Invalid call" : (const char *)b.data);
            hln_buf_free(&b);
            return rc;
        }
        *out = (ex_sel){
            .kind = EX_SEL_OP, .col = -1, .args = arg, .nargs = 1, .type = arg->type, .op = 'n'};
        *spec_out = (ex_colspec){t->ks, t->name, fmt_name(c, "-%s", fa.name), arg->type};
        return 0;
    }
    ex_selarg *args = alloc(c, sizeof *args * 2);
    if (!args) return nomem(c);
    ex_fnarg fa[2];
    int rc;
    const cql_selector *l = sel->args, *r = l->next;
    if ((rc = sel_arg(c, l, &args[0], &fa[0])) != 0) return rc;
    if ((rc = sel_arg(c, r, &args[1], &fa[1])) != 0) return rc;
    for (int i = 0; i < 2; i++) {
        if (args[i].type) continue;
        const hln_type *other = args[1 - i].type;
        const hln_type *lt = literal_type(args[i].term);
        if (lt && lt->kind == HLN_T_VARCHAR) /* a string takes the other side's text type */
            lt = other && (other->kind == HLN_T_VARCHAR || other->kind == HLN_T_ASCII)
                     ? other
                     : hln_type_by_kind(HLN_T_ASCII);
        if (other && ((lt && lt->kind != HLN_T_DURATION &&
                       (other->kind == HLN_T_TIMESTAMP || other->kind == HLN_T_DATE)) ||
                      args[i].term->kind == CQL_TERM_NULL))
            return hln_fail(c->err, HLN_EINVAL,
                            "Ambiguous '%c' operation with args %s and %s: use type hint to "
                            "disambiguate, example '(int) ?'",
                            sel->op, fa[0].name, fa[1].name);
        if (!lt) lt = other;
        if (!lt)
            return hln_fail(c->err, HLN_EINVAL,
                            "Cannot infer type for term %s in selection clause (try using a cast "
                            "to force a type)",
                            fa[i].name);
        args[i].type = lt;
        spec_typed(c, args[i].term, fa[i].name, lt);
    }
    const hln_type *res = ex_arith_type(sel->op, args[0].type, args[1].type);
    bool timey = args[0].type->kind == HLN_T_TIMESTAMP || args[0].type->kind == HLN_T_DATE;
    if (!res && timey && args[1].sub && args[1].sub->kind == EX_SEL_CONST)
        return hln_fail(c->err, HLN_EINVAL,
                        "Ambiguous '%c' operation with args %s and %s: use type hint to "
                        "disambiguate, example '(int) ?'",
                        sel->op, fa[0].name, fa[1].name);
    if (!res)
        return hln_fail(c->err, HLN_EINVAL, "the '%c' operation is not supported between %s and %s",
                        sel->op, fa[0].name, fa[1].name);
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_printf(&b, "%s %c %s", fa[0].name, sel->op, fa[1].name);
    const char *name = b.err ? "?" : hln_arena_strndup(c->a, (const char *)b.data, b.len);
    hln_buf_free(&b);
    *out = (ex_sel){
        .kind = EX_SEL_OP, .col = -1, .args = args, .nargs = 2, .type = res, .op = sel->op};
    *spec_out = (ex_colspec){t->ks, t->name, name ? name : "?", res};
    return 0;
}

/* The first column the selection names (in selector order, depth first),
 * else dflt. */
static const char *first_column_in(const cql_selector *s)
{
    for (; s; s = s->next) {
        if (s->column) return s->column;
        const char *c = first_column_in(s->args);
        if (c) return c;
    }
    return NULL;
}

static const char *first_column(const cql_selector *s, const char *dflt)
{
    const char *c = first_column_in(s);
    return c ? c : dflt;
}

/* CAST(x AS type): Cassandra 5.0's cast functions (arith.c). */
static int cast_selector(actx *c, const cql_selector *sel, ex_sel *out, ex_colspec *spec_out)
{
    const hln_table *t = c->p->t;
    ex_selarg *args = alloc(c, sizeof *args);
    if (!args) return nomem(c);
    ex_fnarg fa;
    int rc = sel_arg(c, sel->args, &args[0], &fa);
    if (rc) return rc;
    if (!args[0].type)
        return hln_fail(c->err, HLN_EINVAL,
                        "Cannot infer type for term %s in selection clause (try using a cast to "
                        "force a type)",
                        fa.name);
    static const char *const targets[] = {"tinyint", "smallint", "int",     "bigint",
                                          "float",   "double",   "decimal", "varint",
                                          "ascii",   "text",     "date",    "timestamp"};
    const hln_type *to = hln_type_by_name(sel->cast);
    if (!to || hln_type_is_collection(to))
        return hln_fail(c->err, HLN_ESYNTAX, "line 1:0 no viable alternative at input '%s'",
                        sel->cast);
    if (to->kind == args[0].type->kind && strcmp(sel->cast, "varchar") != 0) {
        /* a cast to the value's own type is the value */
        if (args[0].sub) {
            *out = *args[0].sub;
        } else {
            *out = (ex_sel){.kind = EX_SEL_COLUMN, .col = args[0].col};
        }
        *spec_out = (ex_colspec){t->ks, t->name, fa.name, to};
        return 0;
    }
    bool known = false;
    for (size_t i = 0; i < HLN_ARRAY_LEN(targets); i++)
        if (!strcmp(targets[i], sel->cast)) known = true;
    if (!known) /* Cassandra names the first column of the selection here */
        return hln_fail(c->err, HLN_EINVAL, "%s cannot be cast to %s",
                        first_column(c->stmt->u.select.selectors, fa.name), sel->cast);
    if (!ex_cast_ok(args[0].type, to)) {
        /* Cassandra's overload resolution also takes an argument of a
           value-compatible type (the same bytes): a timestamp for a bigint
           or varint parameter, a bigint for a timestamp, an int for a date;
           one such signature is used, several are ambiguous */
        const hln_type *from = args[0].type;
        hln_type_kind subs[2];
        int nsubs = 0;
        if (from->kind == HLN_T_TIMESTAMP) {
            subs[nsubs++] = HLN_T_BIGINT;
            subs[nsubs++] = HLN_T_VARINT;
        } else if (from->kind == HLN_T_BIGINT) {
            subs[nsubs++] = HLN_T_TIMESTAMP;
        } else if (from->kind == HLN_T_INT) {
            subs[nsubs++] = HLN_T_DATE;
        }
        const hln_type *cand[2];
        int ncand = 0;
        for (int i = 0; i < nsubs; i++) {
            const hln_type *st = hln_type_by_kind(subs[i]);
            if (st && st->kind != to->kind && ex_cast_ok(st, to)) cand[ncand++] = st;
        }
        if (ncand == 1) {
            args[0].type = cand[0]; /* the same bytes, read as that type */
            *out = (ex_sel){.kind = EX_SEL_CAST, .col = -1, .args = args, .nargs = 1, .type = to};
            size_t nl = strlen(fa.name) + strlen(sel->cast) + 12;
            char *nm = hln_arena_alloc(c->a, nl);
            if (!nm) return nomem(c);
            snprintf(nm, nl, "cast(%s as %s)", fa.name, sel->cast);
            *spec_out = (ex_colspec){t->ks, t->name, nm, to};
            return 0;
        }
        if (ncand > 1)
            return hln_fail(c->err, HLN_EINVAL,
                            "Ambiguous call to function system.cast_as_%s (can be matched by "
                            "following signatures: system.cast_as_%s : (%s) -> %s, "
                            "system.cast_as_%s : (%s) -> %s): use type casts to disambiguate",
                            sel->cast, sel->cast, cand[0]->cql_name, to->cql_name, sel->cast,
                            cand[1]->cql_name, to->cql_name);
    }
    if (!ex_cast_ok(args[0].type, to)) { /* Cassandra lists the casts that exist */
        hln_buf b;
        hln_buf_init(&b);
        hln_buf_printf(&b,
                       "Invalid call to function system.cast_as_%s, none of its type signatures "
                       "match (known type signatures: ",
                       sel->cast);
        int listed = 0;
        for (int k = 0; k < 0x100; k++) {
            const hln_type *from = hln_type_by_kind((hln_type_kind)k);
            if (!from || (int)from->kind != k || from->kind == to->kind || !ex_cast_ok(from, to))
                continue;
            hln_buf_printf(&b, "%ssystem.cast_as_%s : (%s) -> %s", listed++ ? ", " : "", sel->cast,
                           from->cql_name, to->cql_name);
        }
        hln_buf_u8(&b, ')');
        hln_buf_u8(&b, 0);
        rc = hln_fail(c->err, HLN_EINVAL, "%s", b.err ? "Invalid call" : (const char *)b.data);
        hln_buf_free(&b);
        return rc;
    }
    *out = (ex_sel){.kind = EX_SEL_CAST, .col = -1, .args = args, .nargs = 1, .type = to};
    size_t nl = strlen(fa.name) + strlen(sel->cast) + 12;
    char *nm = hln_arena_alloc(c->a, nl);
    if (!nm) return nomem(c);
    snprintf(nm, nl, "cast(%s as %s)", fa.name, sel->cast);
    *spec_out = (ex_colspec){t->ks, t->name, nm, to};
    return 0;
}

static int selector1(actx *c, const cql_selector *sel, ex_sel *out, ex_colspec *spec_out);
/* The one argument of an aggregate: a column (*ci >= 0), or an
 * expression of the row (*arg: a function call, arithmetic, a cast); its
 * type and name. */
static int agg_arg(actx *c, const cql_selector *sel, const char *fname, int *ci, ex_selarg **arg,
                   const hln_type **ty, const char **nm)
{
    const cql_selector *a = sel->args;
    *arg = NULL;
    if (!sel->star_arg && a && !a->next && (a->func || a->op || a->cast || a->elem)) {
        ex_sel *sub = alloc(c, sizeof *sub);
        ex_selarg *x = alloc(c, sizeof *x);
        if (!sub || !x) return nomem(c);
        ex_colspec spec;
        c->agg_depth++;
        int rc = selector(c, a, sub, &spec);
        c->agg_depth--;
        if (rc) return rc;
        if (sub->kind >= EX_SEL_COUNT_ROWS || sub->has_agg)
            return hln_fail(c->err, HLN_EINVAL,
                            "aggregate functions cannot be used as arguments of aggregate "
                            "functions");
        *x = (ex_selarg){-1, NULL, sub->type, sub};
        *arg = x;
        *ci = -1;
        *ty = sub->type;
        *nm = spec.name;
        return 0;
    }
    int rc = one_column_arg(c, sel, fname, ci);
    if (rc) return rc;
    *ty = c->p->t->cols[*ci].type;
    *nm = c->p->t->cols[*ci].name;
    return 0;
}

static int selector(actx *c, const cql_selector *sel, ex_sel *out, ex_colspec *spec_out)
{
    int rc;
    if (sel->op)
        rc = op_selector(c, sel, out, spec_out);
    else if (sel->cast)
        rc = cast_selector(c, sel, out, spec_out);
    else if (is_literal_sel(sel) && sel->term->kind == CQL_TERM_HINT)
        rc = hint_selector(c, sel->term, out, spec_out);
    else if (is_literal_sel(sel))
        rc = hln_fail(c->err, HLN_EINVAL,
                      "Cannot infer type for term %s in selection clause (try using a cast to "
                      "force a type)",
                      lit_name(c, sel->term));
    else
        rc = selector1(c, sel, out, spec_out);
    if (rc) return rc;
    if (!out->type) out->type = spec_out->type;
    if (out->kind == EX_SEL_FUNC || out->kind == EX_SEL_OP || out->kind == EX_SEL_CAST)
        for (int i = 0; i < out->nargs; i++)
            if (out->args[i].sub &&
                (out->args[i].sub->kind >= EX_SEL_COUNT_ROWS || out->args[i].sub->has_agg))
                out->has_agg = true;
    spec_out->name = paren_name(c, sel, spec_out->name);
    /* Cassandra 5.0 declares the timeuuid results of blobAsTimeuuid, the
       mask functions and min/max with the deprecated TimeUUIDType, which
       reaches clients as the custom type LegacyTimeUUIDType (a blob to
       drivers); the value is the same */
    static const hln_type legacy = {
        HLN_T_CUSTOM, "org.apache.cassandra.db.marshal.LegacyTimeUUIDType", 0, NULL, 0, false, 0};
    if (spec_out->type && spec_out->type->kind == HLN_T_TIMEUUID &&
        ((out->kind == EX_SEL_FUNC && out->fn &&
          (!strcmp(out->fn->name, "blobastimeuuid") || !strncmp(out->fn->name, "mask_", 5))) ||
         out->kind == EX_SEL_MIN || out->kind == EX_SEL_MAX))
        spec_out->type = &legacy;
    return 0;
}

static int selector1(actx *c, const cql_selector *sel, ex_sel *out, ex_colspec *spec_out)
{
    const hln_table *t = c->p->t;
    int rc, ci = -1;
    if (!sel->func && sel->field) {
        if ((rc = column(c, sel->column, &ci)) != 0) return rc;
        const hln_type *ty = t->cols[ci].type;
        if (ty->kind != HLN_T_UDT)
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid field selection: %s of type %s is not a user type",
                            t->cols[ci].name, ty->cql_name);
        int fi = -1;
        for (int i = 0; i < ty->nparams; i++)
            if (!strcmp(hln_udt_field(ty, i), sel->field)) fi = i;
        if (fi < 0)
            return hln_fail(c->err, HLN_EINVAL, "%s of type %s has no field %s", t->cols[ci].name,
                            ty->cql_name, sel->field);
        *out = (ex_sel){.kind = EX_SEL_FIELD, .col = ci, .field = fi};
        size_t nl = strlen(t->cols[ci].name) + strlen(sel->field) + 2;
        char *nm = hln_arena_alloc(c->a, nl);
        if (!nm) return nomem(c);
        snprintf(nm, nl, "%s.%s", t->cols[ci].name, sel->field);
        *spec_out = (ex_colspec){t->ks, t->name, nm, ty->params[fi]};
        return 0;
    }
    if (!sel->func && sel->slice) {
        /* c[a..b]: the elements (map entries) of a set or map from a to b,
           both included, either side open */
        if ((rc = column(c, sel->column, &ci)) != 0) return rc;
        const hln_type *ty = t->cols[ci].type;
        if (!hln_type_is_collection(ty))
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid slice selection: %s of type %s is not a collection",
                            t->cols[ci].name, ty->cql_name);
        if (ty->kind == HLN_T_LIST)
            return hln_fail(c->err, HLN_EINVAL,
                            "Slice selection is only allowed on sets and maps, but %s is a list",
                            t->cols[ci].name);
        ex_selarg *arg = alloc(c, sizeof *arg * 2);
        if (!arg) return nomem(c);
        arg[0] = (ex_selarg){-1, sel->elem, ty->params[0], NULL};
        arg[1] = (ex_selarg){-1, sel->elem_hi, ty->params[0], NULL};
        spec_typed(c, sel->elem, t->cols[ci].name, ty->params[0]);
        spec_typed(c, sel->elem_hi, t->cols[ci].name, ty->params[0]);
        *out = (ex_sel){.kind = EX_SEL_ELEM, .col = ci, .args = arg, .nargs = 2};
        const char *lo = sel->elem ? term_str(c, sel->elem) : "";
        const char *hi = sel->elem_hi ? term_str(c, sel->elem_hi) : "";
        size_t n = strlen(t->cols[ci].name) + strlen(lo) + strlen(hi) + 6;
        char *full = hln_arena_alloc(c->a, n);
        if (!full) return nomem(c);
        snprintf(full, n, "%s[%s..%s]", t->cols[ci].name, lo, hi);
        *spec_out = (ex_colspec){t->ks, t->name, full, ty};
        return 0;
    }
    if (!sel->func && sel->elem) {
        if ((rc = column(c, sel->column, &ci)) != 0) return rc;
        const hln_type *ty = t->cols[ci].type;
        if (!hln_type_is_collection(ty))
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid element selection: %s is of type %s is not a collection",
                            t->cols[ci].name, ty->cql_name);
        if (ty->kind == HLN_T_LIST)
            return hln_fail(c->err, HLN_EINVAL,
                            "Element selection is only allowed on sets and maps, but %s is a list",
                            t->cols[ci].name);
        ex_selarg *arg = alloc(c, sizeof *arg);
        if (!arg) return nomem(c);
        *arg = (ex_selarg){-1, sel->elem, ty->params[0], NULL};
        spec_typed(c, sel->elem, t->cols[ci].name, ty->params[0]);
        *out = (ex_sel){.kind = EX_SEL_ELEM, .col = ci, .args = arg, .nargs = 1};
        const char *name = fmt_name(c, "%s", t->cols[ci].name); /* then "[elem]" appended below */
        size_t n = strlen(name) + strlen(term_str(c, sel->elem)) + 3;
        char *full = hln_arena_alloc(c->a, n);
        if (!full) return nomem(c);
        snprintf(full, n, "%s[%s]", name, term_str(c, sel->elem));
        *spec_out = (ex_colspec){t->ks, t->name, full,
                                 ty->kind == HLN_T_MAP ? ty->params[1] : ty->params[0]};
        return 0;
    }
    if (!sel->func) {
        if ((rc = column(c, sel->column, &ci)) != 0) return rc;
        *out = (ex_sel){.kind = EX_SEL_COLUMN, .col = ci};
        *spec_out = (ex_colspec){t->ks, t->name, t->cols[ci].name, t->cols[ci].type};
        return 0;
    }
    const char *f = sel->func;
    const hln_type *bigint = hln_type_by_kind(HLN_T_BIGINT);
    if (sel->func_ks && strcmp(sel->func_ks, "system") != 0)
        return function_selector(c, sel, out, spec_out);
    if (!strcmp(f, "token")) {
        /* TokenFct: one argument per partition key column, of its type;
           the row's own key columns in order are its token */
        int n = 0;
        for (const cql_selector *a = sel->args; a; a = a->next)
            n++;
        if (sel->star_arg || n != t->npk)
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid number of arguments in call to function system.token: %d "
                            "required but %d provided",
                            t->npk, sel->star_arg ? 1 : n);
        ex_selarg *args = alloc(c, sizeof *args * (size_t)(n ? n : 1));
        if (!args) return nomem(c);
        hln_buf b;
        hln_buf_init(&b);
        bool own = true;
        int i = 0;
        for (const cql_selector *a = sel->args; a; a = a->next, i++) {
            ex_fnarg fa;
            if ((rc = sel_arg(c, a, &args[i], &fa)) != 0) {
                hln_buf_free(&b);
                return rc;
            }
            const hln_type *pt = t->cols[i].type;
            if (args[i].type ? args[i].type->kind != pt->kind : !literal_fits(args[i].term, pt)) {
                hln_buf_free(&b);
                return hln_fail(c->err, HLN_EINVAL,
                                "Type error: %s cannot be passed as argument %d of function "
                                "system.token of type %s",
                                fa.name, i, pt->cql_name);
            }
            if (!args[i].type) {
                args[i].type = pt;
                spec_typed(c, args[i].term, "token", pt);
            }
            if (args[i].col != i) own = false;
            hln_buf_printf(&b, "%s%s", i ? ", " : "", fa.name);
        }
        const char *names = b.len ? hln_arena_strndup(c->a, (const char *)b.data, b.len) : "";
        hln_buf_free(&b);
        if (own)
            *out = (ex_sel){.kind = EX_SEL_TOKEN, .col = -1};
        else
            *out = (ex_sel){.kind = EX_SEL_FUNC,
                            .col = -1,
                            .fn = &ex_token_fn,
                            .args = args,
                            .nargs = n,
                            .type = bigint};
        *spec_out = (ex_colspec){t->ks, t->name,
                                 fmt_name(c, "system.token(%s)", names ? names : ""), bigint};
        return 0;
    }
    if (!strcmp(f, "count")) {
        if (sel->star_arg ||
            (sel->args && !sel->args->next && sel->args->term &&
             sel->args->term->kind == CQL_TERM_LITERAL && sel->args->term->lit == HLN_LIT_INTEGER &&
             !strcmp(sel->args->term->text, "1"))) {
            *out = (ex_sel){.kind = EX_SEL_COUNT_ROWS, .col = -1};
            *spec_out = (ex_colspec){t->ks, t->name, "count", bigint};
            return 0;
        }
        if (sel->args && !sel->args->next && sel->args->term)
            return hln_fail(c->err, HLN_ESYNTAX, "Only COUNT(1) is supported, got COUNT(%s)",
                            sel->args->term->text ? sel->args->term->text : "?");
        ex_selarg *arg;
        const hln_type *ty;
        const char *nm;
        if ((rc = agg_arg(c, sel, "system.count", &ci, &arg, &ty, &nm)) != 0) return rc;
        *out = (ex_sel){.kind = EX_SEL_COUNT, .col = ci, .args = arg, .nargs = arg ? 1 : 0};
        *spec_out = (ex_colspec){t->ks, t->name, fmt_name(c, "system.count(%s)", nm), bigint};
        return 0;
    }
    if (!strcmp(f, "min") || !strcmp(f, "max")) {
        bool is_min = f[1] == 'i';
        ex_selarg *arg;
        const hln_type *ty;
        const char *nm;
        if ((rc = agg_arg(c, sel, is_min ? "system.min" : "system.max", &ci, &arg, &ty, &nm)) != 0)
            return rc;
        *out = (ex_sel){
            .kind = is_min ? EX_SEL_MIN : EX_SEL_MAX, .col = ci, .args = arg, .nargs = arg ? 1 : 0};
        *spec_out = (ex_colspec){t->ks, t->name,
                                 fmt_name(c, is_min ? "system.min(%s)" : "system.max(%s)", nm), ty};
        return 0;
    }
    if (!strcmp(f, "tojson")) {
        const cql_selector *a = sel->args;
        if (!sel->star_arg && a && !a->next && (a->func || a->op || a->cast || a->elem)) {
            /* toJson(expression), toJson(m[k]) */
            ex_selarg *arg = alloc(c, sizeof *arg);
            if (!arg) return nomem(c);
            ex_fnarg fa;
            c->fn_args = true;
            rc = sel_arg(c, a, arg, &fa);
            c->fn_args = false;
            if (rc) return rc;
            if (c->bad_elem) { /* l[i]: toJson takes any type, the element's error */
                const cql_selector *bad = c->bad_elem;
                ex_sel x;
                ex_colspec xs;
                c->bad_elem = NULL;
                rc = selector(c, bad, &x, &xs);
                return rc ? rc : hln_fail(c->err, HLN_EINVAL, "Invalid element selection");
            }
            if (arg->sub) /* (CAST(c AS its own type) is the column c) */
                *out = (ex_sel){.kind = EX_SEL_TOJSON, .col = -1, .args = arg, .nargs = 1};
            else
                *out = (ex_sel){.kind = EX_SEL_TOJSON, .col = arg->col};
            *spec_out = (ex_colspec){t->ks, t->name, fmt_name(c, "system.tojson(%s)", fa.name),
                                     hln_type_by_kind(HLN_T_VARCHAR)};
            return 0;
        }
        if ((rc = one_column_arg(c, sel, "system.tojson", &ci)) != 0) return rc;
        *out = (ex_sel){.kind = EX_SEL_TOJSON, .col = ci};
        *spec_out = (ex_colspec){t->ks, t->name, fmt_name(c, "system.tojson(%s)", t->cols[ci].name),
                                 hln_type_by_kind(HLN_T_VARCHAR)};
        return 0;
    }
    if (!strcmp(f, "sum") || !strcmp(f, "avg")) {
        bool sum = f[0] == 's';
        ex_selarg *arg;
        const hln_type *ty;
        const char *nm;
        if ((rc = agg_arg(c, sel, sum ? "system.sum" : "system.avg", &ci, &arg, &ty, &nm)) != 0)
            return rc;
        switch (ty->kind) {
        case HLN_T_VARINT:
        case HLN_T_TINYINT:
        case HLN_T_SMALLINT:
        case HLN_T_INT:
        case HLN_T_BIGINT:
        case HLN_T_COUNTER:
        case HLN_T_FLOAT:
        case HLN_T_DOUBLE:
        case HLN_T_DECIMAL:
            break;
        default:
            /* Cassandra lists the overloads in this order */
            return hln_fail(
                c->err, HLN_EINVAL,
                sum ? "Invalid call to function sum, none of its type signatures match (known "
                      "type signatures: system.sum : (double) -> double, system.sum : (counter) "
                      "-> counter, system.sum : (float) -> float, system.sum : (smallint) -> "
                      "smallint, system.sum : (varint) -> varint, system.sum : (tinyint) -> "
                      "tinyint, system.sum : (int) -> int, system.sum : (bigint) -> bigint, "
                      "system.sum : (decimal) -> decimal)"
                    : "Invalid call to function avg, none of its type signatures match (known "
                      "type signatures: system.avg : (decimal) -> decimal, system.avg : (float) "
                      "-> float, system.avg : (double) -> double, system.avg : (counter) -> "
                      "counter, system.avg : (varint) -> varint, system.avg : (tinyint) -> "
                      "tinyint, system.avg : (int) -> int, system.avg : (bigint) -> bigint, "
                      "system.avg : (smallint) -> smallint)");
        }
        *out = (ex_sel){
            .kind = sum ? EX_SEL_SUM : EX_SEL_AVG, .col = ci, .args = arg, .nargs = arg ? 1 : 0};
        *spec_out = (ex_colspec){t->ks, t->name,
                                 fmt_name(c, sum ? "system.sum(%s)" : "system.avg(%s)", nm), ty};
        return 0;
    }
    if (!strcmp(f, "maxwritetime") && !(sel->args && !sel->star_arg && sel->args->elem)) {
        if ((rc = one_column_arg(c, sel, f, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        if (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)
            return hln_fail(c->err, HLN_EINVAL,
                            "Cannot use selection function maxwritetime on PRIMARY KEY part %s",
                            col->name);
        *out = (ex_sel){.kind = EX_SEL_WRITETIME, .col = ci, .max = true};
        *spec_out =
            (ex_colspec){t->ks, t->name, fmt_name(c, "maxwritetime(%s)", col->name), bigint};
        return 0;
    }
    if ((!strcmp(f, "writetime") || !strcmp(f, "ttl") || !strcmp(f, "maxwritetime")) &&
        !sel->star_arg && sel->args && !sel->args->next && sel->args->column && sel->args->elem) {
        /* writetime(c[k]) / maxwritetime(c[k]) / ttl(c[k]): one element of
           a set or map (of a frozen one: the whole value's, when it holds
           the element) */
        bool wt = f[0] != 't', mx = f[0] == 'm';
        if ((rc = column(c, sel->args->column, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        const hln_type *ty = col->type;
        if (!hln_type_is_collection(ty))
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid element selection: %s is of type %s is not a collection",
                            col->name, ty->cql_name);
        if (ty->kind == HLN_T_LIST)
            return hln_fail(c->err, HLN_EINVAL,
                            "Element selection is only allowed on sets and maps, but %s is a list",
                            col->name);
        ex_selarg *arg = alloc(c, sizeof *arg);
        if (!arg) return nomem(c);
        *arg = (ex_selarg){-1, sel->args->elem, ty->params[0], NULL};
        spec_typed(c, sel->args->elem, col->name, ty->params[0]);
        *out = (ex_sel){.kind = wt ? EX_SEL_WRITETIME : EX_SEL_TTL,
                        .col = ci,
                        .args = arg,
                        .nargs = 1,
                        .max = mx};
        const char *ks = term_str(c, sel->args->elem);
        size_t nl = strlen(col->name) + strlen(ks) + 20;
        char *nm = hln_arena_alloc(c->a, nl);
        if (!nm) return nomem(c);
        snprintf(nm, nl, "%s(%s[%s])", f, col->name, ks);
        *spec_out = (ex_colspec){t->ks, t->name, nm, wt ? bigint : hln_type_by_kind(HLN_T_INT)};
        return 0;
    }
    if (!strcmp(f, "writetime") || !strcmp(f, "ttl")) {
        bool wt = f[0] == 'w';
        if ((rc = one_column_arg(c, sel, f, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        if (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)
            return hln_fail(c->err, HLN_EINVAL,
                            "Cannot use selection function %s on PRIMARY KEY part %s",
                            wt ? "writetime" : "ttl", col->name);
        *out = (ex_sel){.kind = wt ? EX_SEL_WRITETIME : EX_SEL_TTL, .col = ci};
        const hln_type *rt = wt ? bigint : hln_type_by_kind(HLN_T_INT);
        /* 5.0: one timestamp / TTL per element of a non-frozen collection */
        if (hln_type_is_multicell(col->type) && !(rt = hln_type_collection(HLN_T_LIST, &rt, true)))
            return nomem(c);
        *spec_out = (ex_colspec){t->ks, t->name,
                                 fmt_name(c, wt ? "writetime(%s)" : "ttl(%s)", col->name), rt};
        return 0;
    }
    return function_selector(c, sel, out, spec_out);
}

/* Gives each aggregate inside expression x, and each value of the row
 * there (read from the group's first row), its slot in p->agg_subs. */
static int add_slot(actx *c, ex_sel *sub)
{
    ex_plan *p = c->p;
    const ex_sel **n = alloc(c, sizeof *n * (size_t)(p->nagg_subs + 1));
    if (!n) return nomem(c);
    if (p->nagg_subs) memcpy(n, p->agg_subs, sizeof *n * (size_t)p->nagg_subs);
    sub->slot = p->nagg_subs;
    sub->slotted = true;
    n[p->nagg_subs++] = sub;
    p->agg_subs = n;
    return 0;
}

static int collect_aggs(actx *c, ex_sel *x)
{
    for (int i = 0; i < x->nargs; i++) {
        ex_selarg *a = &x->args[i];
        int rc = 0;
        if (!a->sub) {
            if (a->col < 0) continue;
            ex_sel *col = alloc(c, sizeof *col);
            if (!col) return nomem(c);
            *col = (ex_sel){.kind = EX_SEL_COLUMN, .col = a->col, .type = a->type};
            a->sub = col;
            a->col = -1;
            rc = add_slot(c, col);
        } else {
            ex_sel *sub = (ex_sel *)a->sub; /* this analysis allocated it */
            if (sub->has_agg)
                rc = collect_aggs(c, sub);
            else if (sub->kind != EX_SEL_CONST)
                rc = add_slot(c, sub);
        }
        if (rc) return rc;
    }
    return 0;
}

/* ORDER BY c ANN OF term: c a vector column with a storage-attached index;
 * no other ordering, aggregate, per-partition limit, DISTINCT or IN on the
 * partition key; every restricted column outside the primary key indexed
 * too (Cassandra 5.0's rules and words; the LIMIT is checked when bound,
 * select.c). Sets p->ann and what the executor needs. */
static int ann_order(actx *c, const cql_select *s, const ex_restr *rs)
{
    ex_plan *p = c->p;
    const hln_table *t = p->t;
    const cql_order *ann = NULL;
    for (const cql_order *o = s->order_by; o; o = o->next)
        if (o->ann) ann = o;
    if (!ann) return 0;
    if (s->order_by->next)
        return hln_fail(c->err, HLN_EINVAL, "ANN ordering does not support any other ordering");
    int ci, rc;
    if ((rc = column(c, ann->column, &ci)) != 0) return rc;
    const hln_column *col = &t->cols[ci];
    if (col->type->kind != HLN_T_VECTOR)
        return hln_fail(c->err, HLN_EINVAL,
                        "Unexpected receiver type '%s'; only list and vector are expected",
                        col->type->cql_name);
    spec_col(c, ann->ann, col);
    const hln_index *ix = NULL;
    for (int i = 0; i < t->nindexes; i++)
        if (t->indexes[i].col_id == col->id && t->indexes[i].kind == HLN_IXK_SAI)
            ix = &t->indexes[i];
    if (!ix)
        return hln_fail(c->err, HLN_EINVAL,
                        "ANN ordering by vector requires the column to be indexed");
    if (p->aggregate)
        return hln_fail(c->err, HLN_EINVAL, "Top-K queries can not be run with aggregation");
    if (s->per_partition_limit)
        return hln_fail(c->err, HLN_EINVAL, "Top-K queries do not support per-partition limits");
    if (s->distinct)
        return hln_fail(c->err, HLN_EINVAL,
                        "SELECT DISTINCT with WHERE clause only supports restriction by "
                        "partition key and/or static columns.");
    for (int i = 0; i < t->npk; i++)
        if (rs[i].in)
            return hln_fail(c->err, HLN_EINVAL,
                            "Select on indexed columns and with IN clause for the PRIMARY KEY are "
                            "not supported");
    for (int i = t->npk + t->nck; i < t->ncols; i++)
        if (restricted(&rs[i]) && !table_index_on(t, t->cols[i].id))
            return hln_fail(c->err, HLN_EINVAL,
                            "ANN ordering by vector requires all restricted column(s) to be "
                            "indexed");
    const char *fn = index_option(ix, "similarity_function");
    int m = fn ? ix_metric_parse(fn) : IX_COSINE;
    p->ann = true;
    p->ann_col = ci;
    p->ann_term = ann->ann;
    p->ann_ix = ix;
    p->ann_metric = m < 0 ? IX_COSINE : m;
    return 0;
}

static int an_select(actx *c)
{
    const cql_select *s = &c->stmt->u.select;
    ex_plan *p = c->p;
    const hln_table *t;
    int rc = resolve_table(c, &s->table, &t);
    if (rc) return rc;
    if (s->json) {
        p->json = true;
        p->json_col = alloc(c, sizeof *p->json_col);
        if (!p->json_col) return nomem(c);
        *p->json_col = (ex_colspec){t->ks, t->name, "[json]", hln_type_by_kind(HLN_T_VARCHAR)};
    }

    /* selection */
    int n = 0;
    if (s->star) {
        n = t->ncols;
    } else {
        for (const cql_selector *sel = s->selectors; sel; sel = sel->next)
            n++;
    }
    p->proj = alloc(c, sizeof *p->proj * (size_t)n);
    p->cols = alloc(c, sizeof *p->cols * (size_t)n);
    p->sels = alloc(c, sizeof *p->sels * (size_t)n);
    if (!p->proj || !p->cols || !p->sels) return nomem(c);
    p->nproj = n;
    if (s->star) {
        for (int i = 0; i < n; i++) {
            p->proj[i] = i;
            p->sels[i] = (ex_sel){.kind = EX_SEL_COLUMN, .col = i};
            p->cols[i] = (ex_colspec){t->ks, t->name, t->cols[i].name, t->cols[i].type};
        }
    } else {
        int i = 0;
        for (const cql_selector *sel = s->selectors; sel; sel = sel->next, i++) {
            if ((rc = selector(c, sel, &p->sels[i], &p->cols[i])) != 0) return rc;
            if (p->sels[i].has_agg) {
                if ((rc = collect_aggs(c, &p->sels[i])) != 0) return rc;
                p->aggregate = true;
            }
            p->proj[i] = p->sels[i].col;
            if (sel->alias) p->cols[i].name = sel->alias;
            if (p->sels[i].kind >= EX_SEL_COUNT_ROWS) p->aggregate = true;
        }
    }

    /* ORDER BY columns must exist */
    for (const cql_order *o = s->order_by; o; o = o->next) {
        int ci;
        if ((rc = column(c, o->column, &ci)) != 0) return rc;
    }

    /* WHERE */
    ex_restr *rs;
    if ((rc = where(c, s->where, NULL, &rs)) != 0) return rc;
    /* GROUP BY: primary key columns in their order; a column between two
       of them (or before the first) may be left out only when restricted
       by = (it is one value); the groups are then those of the prefix up
       to the last column named, which must not end inside the partition
       key (Cassandra's checks, in its order) */
    int next_pk = 0;
    for (const cql_name_list *g = s->group_by; g; g = g->next) {
        int ci;
        if ((rc = column(c, g->name, &ci)) != 0) return rc;
        if (t->cols[ci].kind != HLN_COL_PARTITION_KEY && t->cols[ci].kind != HLN_COL_CLUSTERING)
            return hln_fail(c->err, HLN_EINVAL,
                            "Group by is currently only supported on the columns of the PRIMARY "
                            "KEY, got %s",
                            t->cols[ci].name);
        bool skipped_ok = ci >= next_pk;
        for (int k = next_pk; k < ci && skipped_ok; k++)
            skipped_ok = rs[k].eq != NULL;
        if (!skipped_ok)
            return hln_fail(c->err, HLN_EINVAL,
                            "Group by currently only support groups of columns following their "
                            "declared order in the PRIMARY KEY");
        next_pk = ci + 1;
    }
    p->group_cols = next_pk;
    if (p->group_cols) {
        if (p->group_cols < t->npk)
            return hln_fail(c->err, HLN_EINVAL,
                            "Group by is not supported on only a part of the partition key");
        p->aggregate = true;
    }

    bool filtering = s->allow_filtering || t->is_virtual;
    if ((rc = ann_order(c, s, rs)) != 0) return rc;
    if (p->ann) filtering = true; /* ann_order allowed the restrictions */
    if (c->has_tok) {
        if (t->is_virtual)
            return hln_fail(c->err, HLN_EUNSUPPORTED,
                            "token() restrictions on system tables are not supported yet");
        p->token_range = true;
        p->tok_eq = c->tok.eq;
        p->tok_lo = c->tok.lo;
        p->tok_hi = c->tok.hi;
        p->tok_lo_incl = c->tok.lo_incl;
        p->tok_hi_incl = c->tok.hi_incl;
    }

    /* partition key */
    int npk_eq = 0;
    bool pk_any = false;
    for (int i = 0; i < t->npk; i++) {
        npk_eq += rs[i].eq != NULL || rs[i].in != NULL;
        pk_any |= restricted(&rs[i]);
    }
    p->pk_lookup = npk_eq == t->npk;
    p->ordered = s->order_by != NULL;
    bool indexed = false;
    if (!t->is_virtual && (rc = index_plan(c, rs, p->pk_lookup, &indexed)) != 0) return rc;
    for (int i = 0; indexed && i < t->npk; i++)
        if (rs[i].in)
            return hln_fail(c->err, HLN_EINVAL,
                            "Select on indexed columns and with IN clause for the PRIMARY KEY are "
                            "not supported");
    if (indexed) filtering = true; /* the filters execute what the indexes serve */
    if (c->mc_in) {                /* the columns after the tuple's may have their own relations */
        if (c->mc_lo || c->mc_hi) return mc_twice(c, c->mc_in_n);
        if ((rc = mc_in_take(c, rs)) != 0) return rc;
        if (!p->pk_lookup && !filtering) return hln_fail(c->err, HLN_EINVAL, ALLOW_FILTERING_MSG);
        if (!p->pk_lookup) { /* a row filter over the tuple of columns */
            ex_filter *f = alloc(c, sizeof *f * (size_t)(p->nfilters + 1));
            if (!f) return nomem(c);
            if (p->nfilters) memcpy(f, p->filters, sizeof *f * (size_t)p->nfilters);
            f[p->nfilters++] =
                (ex_filter){.col = t->npk, .op = CQL_OP_IN, .in = c->mc_in, .mc_n = c->mc_in_n};
            p->filters = f;
        }
    }
    if (c->mc_lo || c->mc_hi) {
        if ((rc = mc_slice_check(c, rs, filtering)) != 0) return rc;
        if (!p->pk_lookup && !filtering) return hln_fail(c->err, HLN_EINVAL, ALLOW_FILTERING_MSG);
        bool single = c->mc_first > 0; /* other relations on the clustering columns */
        for (int pos = 0; pos < t->nck; pos++)
            single |= restricted(&rs[t->npk + pos]);
        if (!p->pk_lookup || c->mc_mixed || single) {
            /* A scan of every partition, or columns of mixed clustering
               order (whose tuples' order is not the storage's: (1, 3) comes
               before (1, 2) when c2 is DESC): the bounds become row filters,
               in the columns' value order as Cassandra compares them. */
            for (int side = 0; side < 2; side++) {
                const cql_relation *b = side ? c->mc_hi : c->mc_lo;
                if (!b) continue;
                ex_filter *f = alloc(c, sizeof *f * (size_t)(p->nfilters + 1));
                if (!f) return nomem(c);
                if (p->nfilters) memcpy(f, p->filters, sizeof *f * (size_t)p->nfilters);
                f[p->nfilters++] = (ex_filter){.col = t->npk + c->mc_first,
                                               .op = b->op,
                                               .mc_n = mc_ncols(b),
                                               .mc_terms = (cql_term *const *)b->in_list,
                                               .mc_tuple = b->in_list ? NULL : b->term};
                p->filters = f;
            }
        } else if (c->mc_lo) {
            p->mc_lo = (cql_term *const *)c->mc_lo->in_list;
            p->mc_lo_tuple = c->mc_lo->in_list ? NULL : c->mc_lo->term;
            p->mc_nlo = mc_ncols(c->mc_lo);
            p->mc_lo_incl = c->mc_lo_incl;
        }
        if (c->mc_hi && p->pk_lookup && !c->mc_mixed && !single) {
            p->mc_hi = (cql_term *const *)c->mc_hi->in_list;
            p->mc_hi_tuple = c->mc_hi->in_list ? NULL : c->mc_hi->term;
            p->mc_nhi = mc_ncols(c->mc_hi);
            p->mc_hi_incl = c->mc_hi_incl;
        }
    }
    for (int i = 0; i < t->ncols; i++)
        p->has_static |= t->cols[i].kind == HLN_COL_STATIC;
    for (int i = 0; i < t->ncols; i++) /* then IN is a row filter */
        if (rs[i].in && !p->pk_lookup && !filtering)
            return hln_fail(c->err, HLN_EINVAL, ALLOW_FILTERING_MSG);
    if (!p->pk_lookup && pk_any) {
        if (!filtering) return hln_fail(c->err, HLN_EINVAL, ALLOW_FILTERING_MSG);
        for (int i = 0; i < t->npk; i++)
            if ((rc = add_filters(c, &rs[i], i)) != 0) return rc;
    }
    if (p->pk_lookup && (rc = set_pk_terms(c, rs)) != 0) return rc;

    /* clustering */
    bool ck_any = false;
    for (int pos = 0; pos < t->nck; pos++)
        ck_any |= restricted(&rs[t->npk + pos]);
    ck_any |= c->mc_lo || c->mc_hi;
    if (!filtering) {
        for (int pos = 0; pos < t->nck; pos++)
            if (rs[t->npk + pos].ncontains)
                return hln_fail(c->err, HLN_EINVAL,
                                "Clustering columns can only be restricted with CONTAINS with a "
                                "secondary index or filtering");
        if ((rc = clustering_slice_order(c, rs)) != 0) return rc;
        if ((rc = clustering_prefix(c, rs)) != 0) return rc;
    }
    p->ck = alloc(c, sizeof *p->ck * (size_t)(t->nck ? t->nck : 1));
    if (!p->ck) return nomem(c);
    if (p->pk_lookup) {
        /* equality prefix and one slice go to storage; the rest is filtered */
        int pos = p->mc_in ? p->mc_in_n : 0; /* select.c binds mc_in's prefixes */
        p->ck_in = alloc(c, sizeof *p->ck_in * (size_t)(t->nck ? t->nck : 1));
        if (!p->ck_in) return nomem(c);
        while (pos < t->nck && (rs[t->npk + pos].eq || rs[t->npk + pos].in)) {
            p->ck[pos] = rs[t->npk + pos].eq;
            p->ck_in[pos] = rs[t->npk + pos].in;
            if ((rc = add_element_filters(c, &rs[t->npk + pos], t->npk + pos)) != 0) return rc;
            pos++;
        }
        p->nck_eq = pos;
        if (pos < t->nck) {
            const ex_restr *x = &rs[t->npk + pos];
            p->lo = x->lo;
            p->lo_incl = x->lo_incl;
            p->hi = x->hi;
            p->hi_incl = x->hi_incl;
            if ((rc = add_element_filters(c, x, t->npk + pos)) != 0) return rc;
            pos++;
        }
        for (; pos < t->nck; pos++)
            if ((rc = add_filters(c, &rs[t->npk + pos], t->npk + pos)) != 0) return rc;
    } else {
        for (int pos = 0; pos < t->nck; pos++)
            if ((rc = add_filters(c, &rs[t->npk + pos], t->npk + pos)) != 0) return rc;
    }

    /* other columns */
    bool other_any = false, regular_any = false;
    for (int i = t->npk + t->nck; i < t->ncols; i++) {
        other_any |= restricted(&rs[i]);
        regular_any |= restricted(&rs[i]) && t->cols[i].kind != HLN_COL_STATIC;
    }
    if (other_any) {
        if (!filtering) return hln_fail(c->err, HLN_EINVAL, ALLOW_FILTERING_MSG);
        for (int i = t->npk + t->nck; i < t->ncols; i++)
            if ((rc = add_filters(c, &rs[i], i)) != 0) return rc;
    }

    /* DISTINCT */
    p->distinct = s->distinct;
    if (s->distinct) {
        if (s->per_partition_limit)
            return hln_fail(c->err, HLN_EINVAL,
                            "PER PARTITION LIMIT is not allowed with SELECT DISTINCT queries");
        if (ck_any || regular_any)
            return hln_fail(c->err, HLN_EINVAL,
                            "SELECT DISTINCT with WHERE clause only supports restriction by "
                            "partition key and/or static columns.");
        for (int i = 0; i < n; i++) {
            if (p->proj[i] < 0) continue; /* token(pk), count(*) */
            const hln_column *col = &t->cols[p->proj[i]];
            if (col->kind != HLN_COL_PARTITION_KEY && col->kind != HLN_COL_STATIC)
                return hln_fail(c->err, HLN_EINVAL,
                                "SELECT DISTINCT queries must only request partition key columns "
                                "and/or static columns (not %s)",
                                col->name);
        }
        /* ORDER BY with IN of several values sorts after the reads: Cassandra
           selects the ORDER BY columns too, which DISTINCT refuses */
        bool post_order = false;
        for (int i = 0; s->order_by && i < t->npk; i++)
            post_order |= rs[i].in && (!rs[i].in->in_list || rs[i].in->nin > 1);
        for (const cql_order *o = post_order ? s->order_by : NULL; o; o = o->next) {
            const hln_column *col = table_column(t, o->column);
            if (col && col->kind != HLN_COL_PARTITION_KEY && col->kind != HLN_COL_STATIC)
                return hln_fail(c->err, HLN_EINVAL,
                                "SELECT DISTINCT queries must only request partition key columns "
                                "and/or static columns (not %s)",
                                col->name);
        }
        if (!p->pk_lookup) {
            for (int k = 0; k < t->npk; k++) {
                bool found = false;
                for (int i = 0; i < n; i++)
                    found |= p->proj[i] == k;
                if (!found)
                    return hln_fail(c->err, HLN_EINVAL,
                                    "SELECT DISTINCT queries must request all the partition key "
                                    "columns (missing %s)",
                                    t->cols[k].name);
            }
        }
    }

    /* ORDER BY */
    if (s->order_by && indexed && !p->ann)
        return hln_fail(c->err, HLN_EINVAL,
                        "ORDER BY with 2ndary indexes is not supported, except for ANN queries.");
    if (s->order_by && !p->ann) {
        if (!p->pk_lookup)
            return hln_fail(c->err, HLN_EINVAL,
                            "ORDER BY is only supported when the partition key is restricted by "
                            "an EQ or an IN.");
        int next = 0, decided = -1, norder = 0;
        for (const cql_order *o = s->order_by; o; o = o->next)
            norder++;
        int *ocols = alloc(c, sizeof *ocols * (size_t)norder);
        bool *odesc = alloc(c, sizeof *odesc * (size_t)norder);
        if (!ocols || !odesc) return nomem(c);
        p->order_cols = ocols;
        p->order_desc = odesc;
        for (const cql_order *o = s->order_by; o; o = o->next) {
            const hln_column *col = table_column(t, o->column);
            ocols[p->norder] = (int)(col - t->cols);
            odesc[p->norder++] = o->desc;
            if (col->kind != HLN_COL_CLUSTERING)
                return hln_fail(c->err, HLN_EINVAL,
                                "Order by is currently only supported on the clustered columns of "
                                "the PRIMARY KEY, got %s",
                                col->name);
            while (next != col->position) {
                if (next > col->position || !rs[t->npk + next].eq)
                    return hln_fail(c->err, HLN_EINVAL,
                                    "Order by currently only supports the ordering of columns "
                                    "following their declared order in the PRIMARY KEY");
                next++;
            }
            next++;
            int rev = o->desc != col->desc;
            if (decided >= 0 && decided != rev)
                return hln_fail(c->err, HLN_EINVAL, "Unsupported order by relation");
            decided = rev;
        }
        p->reversed = decided == 1;
    }

    /* range queries with clustering restrictions filter */
    if (!p->pk_lookup && ck_any && !filtering)
        return hln_fail(c->err, HLN_EINVAL, ALLOW_FILTERING_MSG);

    if (t->is_virtual) {
        /* every restriction is a row filter on generated rows */
        p->nfilters = 0;
        p->pk_lookup = false;
        p->nck_eq = 0;
        p->lo = p->hi = NULL;
        for (int i = 0; i < t->ncols; i++)
            if ((rc = add_filters(c, &rs[i], i)) != 0) return rc;
    }

    /* a null value restricting a non-key column (bound at execution in
       Cassandra, so after every check above) */
    for (int i = t->npk + t->nck; i < t->ncols && !t->is_virtual; i++) {
        const ex_restr *x = &rs[i];
        bool null = x->eq && x->eq->kind == CQL_TERM_NULL;
        for (int k = 0; k < x->ncontains; k++)
            null |= x->contains[k]->term && x->contains[k]->term->kind == CQL_TERM_NULL;
        if (null)
            return hln_fail(c->err, HLN_EINVAL, "Unsupported null value for column %s",
                            t->cols[i].name);
    }
    p->limit = s->limit;
    p->pp_limit = s->per_partition_limit;
    spec(c, s->limit, "[limit]", hln_type_by_kind(HLN_T_INT));
    spec(c, s->per_partition_limit, "[per_partition_limit]", hln_type_by_kind(HLN_T_INT));
    return 0;
}

/* ---- INSERT / UPDATE / DELETE ----------------------------------------- */

static int check_modifiable(actx *c, const hln_table *t)
{
    if (t->is_virtual)
        return hln_fail(c->err, HLN_EINVAL, "%s keyspace is not user-modifiable.", t->ks);
    if (t->is_view)
        return hln_fail(c->err, HLN_EINVAL, "Cannot directly modify a materialized view");
    return 0;
}

static int using_clause(actx *c, const cql_using *u, bool allow_ttl)
{
    ex_plan *p = c->p;
    if (u->ttl && !allow_ttl)
        return hln_fail(c->err, HLN_EINVAL, "TTL attribute is not allowed for deletes");
    p->ttl = u->ttl;
    p->ts = u->timestamp;
    spec(c, u->timestamp, "[timestamp]", hln_type_by_kind(HLN_T_BIGINT));
    spec(c, u->ttl, "[ttl]", hln_type_by_kind(HLN_T_INT));
    return 0;
}

/* Partition and clustering key checks shared by the modification
 * statements (StatementRestrictions for INSERT/UPDATE/DELETE). */
static int mod_keys(actx *c, ex_restr *rs, const char *type, bool allow_ck_slices)
{
    ex_plan *p = c->p;
    const hln_table *t = p->t;
    int rc;
    /* IN on key columns: UPDATE and DELETE write each combination (exec
       enumerates them, dml.c) */
    if ((c->mc_lo || c->mc_hi) && !allow_ck_slices) /* UPDATE (DELETE: a range, below) */
        return hln_fail(c->err, HLN_EINVAL,
                        "Slice restrictions are not supported on the clustering columns in %s "
                        "statements",
                        type);
    if (c->mc_in) { /* c1 .. cn take the tuples' values (run_in enumerates them) */
        if ((rc = mc_in_take(c, rs)) != 0) return rc;
        for (int pos = 0; pos < c->mc_in_n; pos++)
            rs[t->npk + pos].in = c->mc_in;
    }
    /* partition key: every part, by equality */
    bool pk_missing = false, pk_slice = false;
    for (int i = 0; i < t->npk; i++) {
        pk_missing |= !restricted(&rs[i]);
        pk_slice |= !rs[i].eq && !rs[i].in && restricted(&rs[i]);
    }
    if (pk_missing)
        return hln_fail(c->err, HLN_EINVAL, "Some partition key parts are missing: %s",
                        missing_list(c, rs, 0, t->npk));
    if (c->has_tok)
        return hln_fail(c->err, HLN_EINVAL,
                        "Only EQ and IN relation are supported on the partition key (unless you "
                        "use the token() function) for %s statements",
                        type);
    if (pk_slice)
        return hln_fail(c->err, HLN_EINVAL,
                        "Only EQ and IN relation are supported on the partition key (unless you "
                        "use the token() function) for %s statements",
                        type);
    if ((rc = set_pk_terms(c, rs)) != 0) return rc;
    /* clustering */
    if ((rc = clustering_slice_order(c, rs)) != 0) return rc;
    bool ck_slice = false;
    for (int pos = 0; pos < t->nck; pos++) {
        const ex_restr *x = &rs[t->npk + pos];
        ck_slice |= !x->eq && !x->in && restricted(x);
    }
    if (!allow_ck_slices) {
        if (ck_slice)
            return hln_fail(c->err, HLN_EINVAL,
                            "Slice restrictions are not supported on the clustering columns in %s "
                            "statements",
                            type);
        bool ck_missing = false, ck_any = false;
        for (int pos = 0; pos < t->nck; pos++) {
            ck_missing |= !restricted(&rs[t->npk + pos]);
            ck_any |= restricted(&rs[t->npk + pos]);
        }
        /* statics alone may be written with the partition key only */
        bool statics = p->nassigns > 0 && !ck_any;
        for (int i = 0; i < p->nassigns && statics; i++)
            statics = t->cols[p->assigns[i].col].kind == HLN_COL_STATIC;
        bool only_statics = p->nassigns > 0 && ck_any && !strcmp(type, "UPDATE");
        for (int i = 0; i < p->nassigns && only_statics; i++)
            only_statics = t->cols[p->assigns[i].col].kind == HLN_COL_STATIC;
        if (only_statics)
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid restrictions on clustering columns since the UPDATE statement "
                            "modifies only static columns");
        if (statics) {
            p->static_only = true;
            ck_missing = false;
        }
        if (ck_missing)
            return hln_fail(c->err, HLN_EINVAL, "Some clustering keys are missing: %s",
                            missing_list(c, rs, t->npk, t->npk + t->nck));
    } else if ((c->mc_lo || c->mc_hi) && (rc = mc_slice_check(c, rs, false)) != 0) {
        return rc;
    } else if ((rc = clustering_prefix(c, rs)) != 0) {
        return rc;
    }
    if (c->mc_lo || c->mc_hi) { /* DELETE: (c1, .., cn) > (..) deletes a range (dml.c) */
        /* c1 < ? beside (c1, c2) > (..) is the other side's bound (c1) < (?)
           (mc_slice_check refused the rest) */
        const ex_restr *x = &rs[t->npk + c->mc_first];
        if (x->lo) {
            p->mc_lo = (cql_term *const *)&x->lo;
            p->mc_nlo = 1;
            p->mc_lo_incl = x->lo_incl;
        }
        if (x->hi) {
            p->mc_hi = (cql_term *const *)&x->hi;
            p->mc_nhi = 1;
            p->mc_hi_incl = x->hi_incl;
        }
        for (int pos = c->mc_first + 1; pos < t->nck; pos++)
            if (restricted(&rs[t->npk + pos]))
                return hln_fail(c->err, HLN_EINVAL,
                                "Column \"%s\" cannot be restricted by both a multi-column and a "
                                "single-column relation",
                                t->cols[t->npk + pos].name);
        if (c->mc_lo) {
            p->mc_lo = (cql_term *const *)c->mc_lo->in_list;
            p->mc_lo_tuple = c->mc_lo->in_list ? NULL : c->mc_lo->term;
            p->mc_nlo = mc_ncols(c->mc_lo);
            p->mc_lo_incl = c->mc_lo_incl;
        }
        if (c->mc_hi) {
            p->mc_hi = (cql_term *const *)c->mc_hi->in_list;
            p->mc_hi_tuple = c->mc_hi->in_list ? NULL : c->mc_hi->term;
            p->mc_nhi = mc_ncols(c->mc_hi);
            p->mc_hi_incl = c->mc_hi_incl;
        }
    }
    p->ck = alloc(c, sizeof *p->ck * (size_t)(t->nck ? t->nck : 1));
    p->ck_in = alloc(c, sizeof *p->ck_in * (size_t)(t->nck ? t->nck : 1));
    if (!p->ck || !p->ck_in) return nomem(c);
    int pos = 0;
    while (pos < t->nck && (rs[t->npk + pos].eq || rs[t->npk + pos].in)) {
        p->ck[pos] = rs[t->npk + pos].eq;
        p->ck_in[pos] = rs[t->npk + pos].in;
        p->keys_have_in |= rs[t->npk + pos].in != NULL;
        pos++;
    }
    p->nck_eq = pos;
    p->keys_have_in |= p->pk_has_in;
    /* other columns cannot be in WHERE */
    hln_buf b;
    hln_buf_init(&b);
    for (int i = t->npk + t->nck; i < t->ncols; i++)
        if (restricted(&rs[i])) hln_buf_printf(&b, "%s%s", b.len ? ", " : "", t->cols[i].name);
    if (b.len) {
        rc = hln_fail(c->err, HLN_EINVAL, "Non PRIMARY KEY columns found in where clause: %.*s ",
                      (int)b.len, (const char *)b.data);
        hln_buf_free(&b);
        return rc;
    }
    hln_buf_free(&b);
    return 0;
}

/* A counter table: its regular columns are counters (CREATE TABLE refuses
 * a mix). */
static bool counter_table(const hln_table *t)
{
    for (int i = t->npk + t->nck; i < t->ncols; i++)
        if (t->cols[i].type->kind == HLN_T_COUNTER) return true;
    return false;
}

/* The IF clause of an UPDATE/DELETE (or INSERT's IF NOT EXISTS): checks
 * Cassandra's rules and records the conditions in the plan. */
static int conditions(actx *c, ex_cas_kind kind, const cql_relation *conds, const cql_using *u)
{
    ex_plan *p = c->p;
    const hln_table *t = p->t;
    if (kind == EX_CAS_NONE) return 0;
    /* IN on key columns: refused when the statement runs (dml.c, batch.c),
       as Cassandra's validate() does, so it still prepares */
    for (const cql_relation *x = conds; x; x = x->next) {
        const hln_column *col = table_column(t, x->column);
        if (col && col->type->kind == HLN_T_COUNTER)
            return hln_fail(c->err, HLN_EINVAL, "Conditions on counters are not supported");
    }
    if (counter_table(t))
        return hln_fail(c->err, HLN_EINVAL,
                        "Conditional updates are not supported on counter "
                        "tables");
    if (u->timestamp)
        return hln_fail(c->err, HLN_EINVAL,
                        "Cannot provide custom timestamp for conditional updates");
    p->cas = kind;
    int n = 0;
    for (const cql_relation *x = conds; x; x = x->next)
        n++;
    p->conds = alloc(c, sizeof *p->conds * (size_t)(n ? n : 1));
    if (!p->conds) return nomem(c);
    for (const cql_relation *x = conds; x; x = x->next) {
        int ci, rc;
        if ((rc = column(c, x->column, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        if (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)
            return hln_fail(c->err, HLN_EINVAL, "PRIMARY KEY column '%s' cannot have IF conditions",
                            col->name);
        const hln_type *vt = col->type;
        int field = -1;
        if (x->field) {
            if (col->type->kind != HLN_T_UDT)
                return hln_fail(c->err, HLN_EINVAL,
                                "Invalid field selection: %s of type %s is not a user type",
                                col->name, col->type->cql_name);
            for (int f = 0; f < col->type->nparams; f++)
                if (!strcmp(hln_udt_field(col->type, f), x->field)) field = f;
            if (field < 0)
                return hln_fail(c->err, HLN_EINVAL, "Unknown field %s for column %s", x->field,
                                col->name);
            vt = col->type->params[field];
            size_t nl = strlen(col->name) + strlen(x->field) + 2;
            char *nm = hln_arena_alloc(c->a, nl);
            if (!nm) return nomem(c);
            snprintf(nm, nl, "%s.%s", col->name, x->field);
            if (x->op == CQL_OP_IN)
                for (int i = 0; i < x->nin; i++)
                    spec_typed(c, x->in_list[i], nm, vt);
            else
                spec_typed(c, x->term, nm, vt);
        } else if (x->elem) {
            const hln_type *ty = col->type;
            if (!hln_type_is_collection(ty))
                return hln_fail(c->err, HLN_EINVAL,
                                "Invalid element access syntax for non-collection column %s",
                                col->name);
            if (ty->kind == HLN_T_SET)
                return hln_fail(c->err, HLN_EINVAL,
                                "Invalid element access syntax for set column %s", col->name);
            spec_typed(c, x->elem, elem_name(c, ty->kind == HLN_T_LIST ? "idx" : "key", col->name),
                       ty->kind == HLN_T_LIST ? hln_type_by_kind(HLN_T_INT) : ty->params[0]);
            vt = ty->kind == HLN_T_LIST ? ty->params[0] : ty->params[1];
            spec_typed(c, x->term, elem_name(c, "value", col->name), vt);
            for (int i = 0; x->op == CQL_OP_IN && i < x->nin; i++) /* m[k] IN (...) */
                spec_typed(c, x->in_list[i], elem_name(c, "value", col->name), vt);
        } else if (x->op == CQL_OP_CONTAINS || x->op == CQL_OP_CONTAINS_KEY) {
            /* l CONTAINS v, m CONTAINS KEY k: an element (key) of the
               collection, frozen or not (cas.c) */
            bool key = x->op == CQL_OP_CONTAINS_KEY;
            if (!hln_type_is_collection(vt))
                return hln_fail(c->err, HLN_EINVAL, "Cannot use %s on non-collection column %s",
                                key ? "CONTAINS KEY" : "CONTAINS", col->name);
            if (key && vt->kind != HLN_T_MAP)
                return hln_fail(c->err, HLN_EINVAL, "Cannot use CONTAINS KEY on non-map column %s",
                                col->name);
            spec_typed(c, x->term, elem_name(c, key ? "key" : "value", col->name),
                       vt->kind == HLN_T_MAP && !key ? vt->params[1] : vt->params[0]);
        } else if (x->op == CQL_OP_IN && x->in_list) {
            for (int i = 0; i < x->nin; i++)
                spec_typed(c, x->in_list[i], col->name, vt);
        } else if (x->op == CQL_OP_IN) {
            const hln_type *lt = hln_type_collection(HLN_T_LIST, &vt, true);
            if (!lt) return nomem(c);
            spec_typed(c, x->term, elem_name(c, "in", col->name), lt);
        } else {
            spec_typed(c, x->term, col->name, vt);
        }
        if ((x->op == CQL_OP_GT || x->op == CQL_OP_GE || x->op == CQL_OP_LT ||
             x->op == CQL_OP_LE) &&
            references_duration(vt))
            return hln_fail(c->err, HLN_EINVAL,
                            "Slice conditions ( %s ) are not supported on durations",
                            op_str(x->op));
        p->conds[p->nconds++] =
            (ex_cond){ci, x->op, x->term, (cql_term *const *)x->in_list, x->nin, x->elem, field};
    }
    return 0;
}

/* INSERT JSON: every column of the table gets a synthetic marker, numbered
 * after the statement's own, whose value exec fills from the document at
 * execution (exec/json.c); the rest is an ordinary INSERT of all columns. */
static int insert_json(actx *c, const hln_table *t)
{
    const cql_insert *s = &c->stmt->u.insert;
    ex_plan *p = c->p;
    p->json = true;
    p->json_unset = s->json_default_unset;
    p->json_term = s->values[0];
    p->json_base = c->stmt->n_binds;
    spec(c, s->values[0], "[json]", hln_type_by_kind(HLN_T_VARCHAR));
    ex_restr *rs = alloc(c, sizeof *rs * (size_t)t->ncols);
    p->assigns = alloc(c, sizeof *p->assigns * (size_t)t->ncols);
    cql_term *terms = alloc(c, sizeof *terms * (size_t)t->ncols);
    if (!rs || !p->assigns || !terms) return nomem(c);
    for (int ci = 0; ci < t->ncols; ci++) {
        terms[ci] = (cql_term){.kind = CQL_TERM_BIND, .bind_index = p->json_base + ci};
        const hln_column *col = &t->cols[ci];
        if (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)
            rs[ci].eq = &terms[ci];
        else
            p->assigns[p->nassigns++] = (ex_assign){ci, &terms[ci], CQL_ASSIGN_SET, NULL, -1};
    }
    int rc = mod_keys(c, rs, "INSERT", false);
    if (rc) return rc;
    p->npk_indexes = 0; /* the key is inside the document: no routing markers */
    p->row_marker = true;
    if ((rc = using_clause(c, &s->using, true)) != 0) return rc;
    return conditions(c, s->if_not_exists ? EX_CAS_NOT_EXISTS : EX_CAS_NONE, NULL, &s->using);
}

static int an_insert(actx *c)
{
    const cql_insert *s = &c->stmt->u.insert;
    ex_plan *p = c->p;
    const hln_table *t;
    int rc = resolve_table(c, &s->table, &t);
    if (rc) return rc;
    if ((rc = check_modifiable(c, t)) != 0) return rc;
    if (counter_table(t))
        return hln_fail(c->err, HLN_EINVAL,
                        "INSERT statements are not allowed on counter tables, use UPDATE instead");
    if (s->json) return insert_json(c, t);
    int n = 0;
    for (const cql_name_list *l = s->columns; l; l = l->next)
        n++;
    if (n == 0) return hln_fail(c->err, HLN_EINVAL, "No columns provided to INSERT");
    if (n != s->nvalues) return hln_fail(c->err, HLN_EINVAL, "Unmatched column names/values");
    for (const cql_name_list *l = s->columns; l; l = l->next)
        for (const cql_name_list *m = l->next; m; m = m->next)
            if (!strcmp(l->name, m->name))
                return hln_fail(c->err, HLN_EINVAL, "The column names contains duplicates");
    ex_restr *rs = alloc(c, sizeof *rs * (size_t)t->ncols);
    p->assigns = alloc(c, sizeof *p->assigns * (size_t)n);
    if (!rs || !p->assigns) return nomem(c);
    int i = 0;
    for (const cql_name_list *l = s->columns; l; l = l->next, i++) {
        int ci;
        if ((rc = column(c, l->name, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        const cql_term *term = s->values[i];
        spec_col(c, term, col);
        if (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)
            rs[ci].eq = term;
        else
            p->assigns[p->nassigns++] = (ex_assign){ci, term, CQL_ASSIGN_SET, NULL, -1};
    }
    if ((rc = mod_keys(c, rs, "INSERT", false)) != 0) return rc;
    p->row_marker = true;
    if ((rc = using_clause(c, &s->using, true)) != 0) return rc;
    return conditions(c, s->if_not_exists ? EX_CAS_NOT_EXISTS : EX_CAS_NONE, NULL, &s->using);
}

/* The text Cassandra shows for an operation in its messages. */
static const char *op_text(actx *c, const cql_assignment *a)
{
    const char *v = term_str(c, a->value), *col = ex_quote(c->a, a->column);
    char buf[512];
    switch (a->op) {
    case CQL_ASSIGN_ADD:
        snprintf(buf, sizeof buf, "%s = %s + %s", col, col, v);
        break;
    case CQL_ASSIGN_PREPEND:
        /* sic: Cassandra 5.0 prints a prepend with a minus sign */
        snprintf(buf, sizeof buf, "%s = %s - %s", col, v, col);
        break;
    case CQL_ASSIGN_SUB:
        snprintf(buf, sizeof buf, "%s = %s - %s", col, col, v);
        break;
    case CQL_ASSIGN_ELEM:
        snprintf(buf, sizeof buf, "%s[%s] = %s", col, term_str(c, a->key), v);
        break;
    default:
        snprintf(buf, sizeof buf, "%s = %s", col, v);
        break;
    }
    const char *out = hln_arena_strdup(c->a, buf);
    return out ? out : "?";
}

/* Checks one UPDATE assignment against its column (Cassandra's
 * Operation.RawUpdate.prepare) and records its markers' specs. */
static int update_op(actx *c, const cql_assignment *a, const hln_column *col)
{
    const hln_type *t = col->type;
    ex_plan *p = c->p;
    if (a->op == CQL_ASSIGN_SET) {
        if (t->kind == HLN_T_COUNTER && a->value && a->value->kind == CQL_TERM_NULL)
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid null value for counter increment/decrement");
        if (t->kind == HLN_T_COUNTER)
            return hln_fail(c->err, HLN_EINVAL,
                            "Cannot set the value of counter column %s (counters can only be "
                            "incremented/decremented, not set)",
                            col->name);
        spec_col(c, a->value, col);
        return 0;
    }
    if (a->op != CQL_ASSIGN_ELEM && strcmp(a->other, a->column) != 0) {
        /* Cassandra's parser words these as recognition errors */
        if (a->op == CQL_ASSIGN_PREPEND)
            return hln_fail(c->err, HLN_ESYNTAX,
                            "Only expressions of the form X = <value> + X are supported.");
        return hln_fail(c->err, HLN_ESYNTAX,
                        "Only expressions of the form X = X %s<value> are "
                        "supported.",
                        a->op == CQL_ASSIGN_ADD ? "+" : "-");
    }
    if (a->op == CQL_ASSIGN_ELEM) {
        if (!hln_type_is_collection(t))
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid operation (%s) for non collection column %s", op_text(c, a),
                            col->name);
        if (t->frozen)
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid operation (%s) for frozen collection column %s", op_text(c, a),
                            col->name);
        if (t->kind == HLN_T_SET)
            return hln_fail(c->err, HLN_EINVAL, "Invalid operation (%s) for set column %s",
                            op_text(c, a), col->name);
        if (t->kind == HLN_T_LIST) {
            spec_typed(c, a->key, elem_name(c, "idx", col->name), hln_type_by_kind(HLN_T_INT));
            spec_typed(c, a->value, elem_name(c, "value", col->name), t->params[0]);
            p->needs_read = true;
        } else {
            spec_typed(c, a->key, elem_name(c, "key", col->name), t->params[0]);
            spec_typed(c, a->value, elem_name(c, "value", col->name), t->params[1]);
        }
        return 0;
    }
    if (a->op == CQL_ASSIGN_PREPEND && t->kind != HLN_T_LIST)
        return hln_fail(c->err, HLN_EINVAL, "Invalid operation (%s) for non list column %s",
                        op_text(c, a), col->name);
    if (t->kind == HLN_T_COUNTER) {
        spec_col(c, a->value, col);
        return 0;
    }
    if (t->kind == HLN_T_UDT || t->kind == HLN_T_TUPLE) /* a UserType is a TupleType there */
        return hln_fail(c->err, HLN_EINVAL, "Invalid operation (%s) for tuple column %s",
                        op_text(c, a), col->name);
    if (!hln_type_is_collection(t))
        return hln_fail(c->err, HLN_EINVAL, "Invalid operation (%s) for non counter column %s",
                        op_text(c, a), col->name);
    if (t->frozen)
        return hln_fail(c->err, HLN_EINVAL,
                        "Invalid operation (%s) for frozen collection column %s", op_text(c, a),
                        col->name);
    const cql_term *v = a->value;
    bool not_coll = v->kind == CQL_TERM_LIST || v->kind == CQL_TERM_LITERAL ||
                    v->kind == CQL_TERM_TUPLE || v->kind == CQL_TERM_UDT;
    if (a->op == CQL_ASSIGN_SUB && t->kind == HLN_T_MAP &&
        (not_coll || (v->kind == CQL_TERM_MAP && v->nelems > 0)))
        return hln_fail(c->err, HLN_EINVAL,
                        "Value for a map substraction has to be a set, but was: '%s'",
                        term_str(c, v));
    if (a->op == CQL_ASSIGN_ADD && t->kind == HLN_T_MAP) {
        /* Maps.Literal.testAssignment: a map literal whose constants fit */
        bool bad = not_coll || v->kind == CQL_TERM_SET;
        for (int i = 0; !bad && v->kind == CQL_TERM_MAP && i < v->nelems; i++)
            bad = !literal_fits(v->elems[i], t->params[i % 2]);
        if (bad)
            return hln_fail(c->err, HLN_EINVAL,
                            "Value for a map addition has to be a map, but was: '%s'",
                            term_str(c, v));
    }
    if (a->op == CQL_ASSIGN_SUB && t->kind == HLN_T_MAP) {
        /* m - {k, ...}: a set of keys */
        const hln_type *keys = hln_type_collection(HLN_T_SET, t->params, false);
        if (!keys) return nomem(c);
        spec_typed(c, a->value, col->name, keys);
        return 0;
    }
    if (a->op == CQL_ASSIGN_ADD && t->kind == HLN_T_MAP && a->value->kind == CQL_TERM_SET)
        return hln_fail(c->err, HLN_EINVAL,
                        "Value for a map addition has to be a map, but was: '%s'",
                        term_str(c, a->value));
    if (a->op == CQL_ASSIGN_SUB && t->kind == HLN_T_LIST) p->needs_read = true;
    spec_col(c, a->value, col);
    return 0;
}

static int an_update(actx *c)
{
    const cql_update *s = &c->stmt->u.update;
    ex_plan *p = c->p;
    const hln_table *t;
    int rc = resolve_table(c, &s->table, &t);
    if (rc) return rc;
    if ((rc = check_modifiable(c, t)) != 0) return rc;
    if (counter_table(t)) {
        if (s->using.timestamp)
            return hln_fail(c->err, HLN_EINVAL,
                            "Cannot provide custom timestamp for counter updates");
        if (s->using.ttl)
            return hln_fail(c->err, HLN_EINVAL, "Cannot provide custom TTL for counter updates");
        p->counter = true;
    }
    if ((rc = using_clause(c, &s->using, true)) != 0) return rc;
    int n = 0;
    for (const cql_assignment *a = s->set; a; a = a->next)
        n++;
    p->assigns = alloc(c, sizeof *p->assigns * (size_t)n);
    if (!p->assigns) return nomem(c);
    for (const cql_assignment *a = s->set; a; a = a->next) {
        int ci;
        if ((rc = column(c, a->column, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        if (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)
            return hln_fail(c->err, HLN_EINVAL, "PRIMARY KEY part %s found in SET part", col->name);
        int field = -1;
        if (a->field) {
            /* Operation.SetField: on non-frozen UDTs only */
            bool udt = col->type->kind == HLN_T_UDT;
            if (!udt || col->type->frozen)
                return hln_fail(c->err, HLN_EINVAL,
                                "Invalid operation (%s.%s = %s) for %s column %s", col->name,
                                a->field, term_str(c, a->value), udt ? "frozen UDT" : "non-UDT",
                                col->name);
            for (int f = 0; f < col->type->nparams; f++)
                if (!strcmp(hln_udt_field(col->type, f), a->field)) field = f;
            if (field < 0)
                return hln_fail(c->err, HLN_EINVAL, "UDT column %s does not have a field named %s",
                                col->name, a->field);
        }
        for (int j = 0; j < p->nassigns; j++) {
            /* Cassandra's parser (addRawUpdate, Operation.isCompatibleWith):
               a column set whole (c = v) takes no other operation; a UDT
               field is set once; element operations, additions and
               removals combine (c = c + 1, c = c + 1 add up; l[0] = x,
               l = l - [y] apply in order) */
            const ex_assign *o = &p->assigns[j];
            if (o->col != ci) continue;
            bool whole = a->op == CQL_ASSIGN_SET && field < 0,
                 owhole = o->op == CQL_ASSIGN_SET && o->field < 0;
            bool same_field = field >= 0 && o->field == field;
            if (whole || owhole || same_field)
                return hln_fail(c->err, HLN_ESYNTAX, "Multiple incompatible setting of column %s",
                                col->name);
        }
        if (field >= 0) {
            /* the marker is named u.f, typed as the field (UserTypes.fieldSpecOf) */
            size_t nl = strlen(col->name) + strlen(a->field) + 2;
            char *nm = hln_arena_alloc(c->a, nl);
            if (!nm) return nomem(c);
            snprintf(nm, nl, "%s.%s", col->name, a->field);
            spec_typed(c, a->value, nm, col->type->params[field]);
        } else if ((rc = update_op(c, a, col)) != 0) {
            return rc;
        }
        p->assigns[p->nassigns++] = (ex_assign){ci, a->value, a->op, a->key, field};
    }
    ex_restr *rs;
    if ((rc = where(c, s->where, "UPDATE", &rs)) != 0) return rc;
    if ((rc = mod_keys(c, rs, "UPDATE", false)) != 0) return rc;
    return conditions(c,
                      s->if_exists ? EX_CAS_EXISTS
                      : s->conds   ? EX_CAS_CONDS
                                   : EX_CAS_NONE,
                      s->conds, &s->using);
}

static int an_delete(actx *c)
{
    const cql_delete *s = &c->stmt->u.del;
    ex_plan *p = c->p;
    const hln_table *t;
    int rc = resolve_table(c, &s->table, &t);
    if (rc) return rc;
    if ((rc = check_modifiable(c, t)) != 0) return rc;
    if (counter_table(t) && s->using.timestamp)
        return hln_fail(c->err, HLN_EINVAL, "Cannot provide custom timestamp for counter updates");
    int n = 0;
    for (const cql_deletion *l = s->columns; l; l = l->next)
        n++;
    p->assigns = alloc(c, sizeof *p->assigns * (size_t)n);
    if (!p->assigns) return nomem(c);
    for (const cql_deletion *l = s->columns; l; l = l->next) {
        int ci;
        if ((rc = column(c, l->column, &ci)) != 0) return rc;
        const hln_column *col = &t->cols[ci];
        if (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)
            return hln_fail(c->err, HLN_EINVAL,
                            "Invalid identifier %s for deletion (should not be a PRIMARY KEY "
                            "part)",
                            col->name);
        int field = -1;
        if (l->field) {
            if (col->type->kind != HLN_T_UDT)
                return hln_fail(c->err, HLN_EINVAL,
                                "Invalid field deletion operation for non-UDT column %s",
                                col->name);
            if (col->type->frozen)
                return hln_fail(c->err, HLN_EINVAL,
                                "Frozen UDT column %s does not support field deletions", col->name);
            for (int f = 0; f < col->type->nparams; f++)
                if (!strcmp(hln_udt_field(col->type, f), l->field)) field = f;
            if (field < 0)
                return hln_fail(c->err, HLN_EINVAL, "UDT column %s does not have a field named %s",
                                col->name, l->field);
        }
        if (l->key) {
            const hln_type *ty = col->type;
            if (!hln_type_is_collection(ty))
                return hln_fail(c->err, HLN_EINVAL,
                                "Invalid deletion operation for non collection column %s",
                                col->name);
            if (ty->frozen)
                return hln_fail(c->err, HLN_EINVAL,
                                "Invalid deletion operation for frozen collection column %s",
                                col->name);
            if (ty->kind == HLN_T_LIST) {
                spec_typed(c, l->key, elem_name(c, "idx", col->name), hln_type_by_kind(HLN_T_INT));
                p->needs_read = true;
            } else {
                spec_typed(c, l->key,
                           elem_name(c, ty->kind == HLN_T_MAP ? "key" : "value", col->name),
                           ty->params[0]);
            }
            p->assigns[p->nassigns++] = (ex_assign){ci, NULL, CQL_ASSIGN_ELEM, l->key, -1};
            continue;
        }
        bool dup = false;
        for (int j = 0; j < p->nassigns; j++)
            dup |= p->assigns[j].col == ci && !p->assigns[j].key && p->assigns[j].field == field;
        if (!dup) p->assigns[p->nassigns++] = (ex_assign){ci, NULL, CQL_ASSIGN_SET, NULL, field};
    }
    if ((rc = using_clause(c, &s->using, false)) != 0) return rc;
    ex_restr *rs;
    if ((rc = where(c, s->where, "DELETE", &rs)) != 0) return rc;
    if ((rc = mod_keys(c, rs, "DELETE", true)) != 0) return rc;
    bool ck_any = p->mc_nlo || p->mc_nhi;
    for (int pos = 0; pos < t->nck; pos++)
        ck_any |= restricted(&rs[t->npk + pos]);
    bool full_row = p->nck_eq == t->nck;
    bool statics = p->nassigns > 0 && !ck_any && t->nck > 0;
    for (int i = 0; i < p->nassigns && statics; i++)
        statics = t->cols[p->assigns[i].col].kind == HLN_COL_STATIC;
    if (statics) {
        p->static_only = true;
        p->del = EX_DEL_CELLS;
    } else if (p->nassigns) {
        if (!full_row)
            return hln_fail(c->err, HLN_EINVAL,
                            "Range deletions are not supported for specific columns");
        p->del = EX_DEL_CELLS;
    } else if (!ck_any && t->nck > 0) {
        p->del = EX_DEL_PARTITION;
    } else if (full_row) {
        p->del = t->nck ? EX_DEL_ROW : EX_DEL_PARTITION;
    } else {
        /* a clustering prefix, maybe with a slice on the next column */
        p->del = EX_DEL_RANGE;
        const ex_restr *x = &rs[t->npk + p->nck_eq];
        p->lo = x->lo;
        p->lo_incl = x->lo_incl;
        p->hi = x->hi;
        p->hi_incl = x->hi_incl;
    }
    if ((s->if_exists || s->conds) && p->del != EX_DEL_ROW && p->del != EX_DEL_CELLS &&
        !(p->del == EX_DEL_PARTITION && t->nck == 0))
        return hln_fail(c->err, HLN_EINVAL,
                        "DELETE statements must restrict all PRIMARY KEY columns with equality "
                        "relations in order to delete non static columns");
    return conditions(c,
                      s->if_exists ? EX_CAS_EXISTS
                      : s->conds   ? EX_CAS_CONDS
                                   : EX_CAS_NONE,
                      s->conds, &s->using);
}

/* ---- BEGIN BATCH ------------------------------------------------------ */

/* Each statement is analyzed on its own plan; the plans share the batch's
 * bind specifications (markers are numbered across the batch). */
static int an_batch(actx *c)
{
    const cql_batch *b = &c->stmt->u.batch;
    ex_plan *p = c->p;
    if (b->using.ttl)
        return hln_fail(c->err, HLN_EINVAL, "Global TTL on the BATCH statement is not supported.");
    p->ts = b->using.timestamp;
    spec(c, p->ts, "[timestamp]", hln_type_by_kind(HLN_T_BIGINT));
    p->children = alloc(c, sizeof *p->children * (size_t)(b->nstmts ? b->nstmts : 1));
    if (!p->children) return nomem(c);
    for (int i = 0; i < b->nstmts; i++) {
        const cql_stmt *cs = b->stmts[i];
        ex_plan *cp = alloc(c, sizeof *cp);
        if (!cp) return nomem(c);
        cp->stmt = cs;
        cp->kind = cs->kind;
        cp->binds = p->binds;
        cp->nbinds = p->nbinds;
        actx cc = *c;
        cc.p = cp;
        cc.stmt = cs;
        cc.has_tok = false;
        memset(&cc.tok, 0, sizeof cc.tok);
        int rc;
        switch (cs->kind) {
        case CQL_INSERT:
            rc = an_insert(&cc);
            break;
        case CQL_UPDATE:
            rc = an_update(&cc);
            break;
        case CQL_DELETE:
            rc = an_delete(&cc);
            break;
        default:
            rc = hln_fail(c->err, HLN_EINVAL,
                          "Invalid statement in batch: only UPDATE, INSERT and DELETE statements "
                          "are allowed.");
            break;
        }
        if (rc) return rc;
        if (p->ts && cp->ts)
            return hln_fail(c->err, HLN_EINVAL,
                            "Timestamp must be set either on BATCH or individual statements");
        p->children[p->nchildren++] = cp;
    }
    return ex_batch_counter_rules(c->err, b->type, (const ex_plan *const *)p->children,
                                  p->nchildren);
}

/* ---- DDL -------------------------------------------------------------- */

static int ddl_keyspace(actx *c, const cql_qname *q)
{
    const char *ks = q->ks ? q->ks : c->ks;
    if (!ks)
        return hln_fail(c->err, HLN_EINVAL,
                        "No keyspace has been specified. USE a keyspace, or explicitly specify "
                        "keyspace.tablename");
    c->p->ks = ks;
    return 0;
}

/* ---- entry ------------------------------------------------------------ */

int ex_analyze(ex_request *r, const cql_stmt *stmt, const char *ks, const ex_plan **out)
{
    return ex_analyze_in(r, &r->arena, stmt, ks, out);
}

int ex_analyze_in(ex_request *r, hln_arena *a, const cql_stmt *stmt, const char *ks,
                  const ex_plan **out)
{
    ex_state *st = ex_st(r);
    ex_plan *p = hln_arena_alloc(a, sizeof *p);
    if (!p) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    actx c = {.r = r, .p = p, .stmt = stmt, .ks = ks, .a = a, .err = &r->err, .s = st->schema};
    p->stmt = stmt;
    p->kind = stmt->kind;
    p->nbinds = stmt->n_binds;
    if (p->nbinds > 0) {
        p->binds = alloc(&c, sizeof *p->binds * (size_t)p->nbinds);
        if (!p->binds) return nomem(&c);
    }
    int rc = 0;
    switch (stmt->kind) {
    case CQL_CREATE_KEYSPACE:
        p->ks = stmt->u.create_keyspace.name;
        break;
    case CQL_DROP_KEYSPACE:
        p->ks = stmt->u.drop.name.name;
        break;
    case CQL_USE:
        p->ks = stmt->u.use;
        break;
    case CQL_CREATE_TABLE:
        rc = ddl_keyspace(&c, &stmt->u.create_table.name);
        break;
    case CQL_DROP_TABLE:
        rc = ddl_keyspace(&c, &stmt->u.drop.name);
        break;
    case CQL_ALTER_TABLE:
    case CQL_ALTER_UDT:
        rc = ddl_keyspace(&c, &stmt->u.alter_table.name);
        break;
    case CQL_CREATE_TYPE:
        rc = ddl_keyspace(&c, &stmt->u.create_table.name);
        break;
    case CQL_DROP_TYPE:
    case CQL_DROP_INDEX:
        rc = ddl_keyspace(&c, &stmt->u.drop.name);
        break;
    case CQL_CREATE_INDEX:
        rc = ddl_keyspace(&c, &stmt->u.create_index.table);
        break;
    case CQL_CREATE_VIEW: /* CreateViewStatement.Raw.prepare refuses markers */
        rc = ddl_keyspace(&c, &stmt->u.create_table.name);
        if (!rc && stmt->n_binds)
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Bind variables are not allowed in CREATE MATERIALIZED VIEW statements");
        break;
    case CQL_DROP_VIEW:
        rc = ddl_keyspace(&c, &stmt->u.drop.name);
        break;
    case CQL_ALTER_VIEW:
        rc = ddl_keyspace(&c, &stmt->u.alter_table.name);
        break;
    case CQL_ALTER_KEYSPACE:
        p->ks = stmt->u.create_keyspace.name;
        break;
    case CQL_TRUNCATE: /* Schema.validateTable: the table must exist */
        rc = resolve_table(&c, &stmt->u.drop.name, &p->t);
        break;
    case CQL_INSERT:
        rc = an_insert(&c);
        break;
    case CQL_UPDATE:
        rc = an_update(&c);
        break;
    case CQL_DELETE:
        rc = an_delete(&c);
        break;
    case CQL_SELECT:
        rc = an_select(&c);
        break;
    case CQL_BATCH:
        rc = an_batch(&c);
        break;
    case CQL_CREATE_ROLE:
    case CQL_ALTER_ROLE:
    case CQL_DROP_ROLE:
    case CQL_LIST_ROLES:
    case CQL_GRANT_ROLE:
    case CQL_REVOKE_ROLE:
    case CQL_GRANT_PERMISSIONS:
    case CQL_REVOKE_PERMISSIONS:
    case CQL_LIST_PERMISSIONS:
        break; /* nothing to resolve: exec/access.c checks names as it runs */
    case CQL_DESCRIBE:
        p->ks = ks; /* the current keyspace; describe.c resolves names as it runs */
        break;
    }
    if (rc) return rc;
    for (int i = 0; i < p->nbinds; i++)
        if (!p->binds[i].type)
            return hln_fail(&r->err, HLN_EINVAL, "Bind variables are not supported here");
    *out = p;
    return 0;
}
