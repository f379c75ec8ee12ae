/*
 * exec.c — the exec module's entry points: QUERY, PREPARE, EXECUTE; the
 * engine-wide prepared statement cache; value binding; completion.
 *
 * What: each entry point takes a schema snapshot, parses the text into
 * r->arena, analyzes it (analyze.c), binds the request's values to the
 * statement's markers, and hands the plan to the executor of its family
 * (ddl.c, dml.c, select.c, batch.c for BEGIN BATCH; the BATCH message's
 * entry point, ex_batch, is in batch.c too). Executors finish through
 * ex_finish, which calls the caller's done() exactly once.
 *
 * Prepared statements: the id is MD5(keyspace at prepare time ++ query
 * text), as Cassandra computes it, so ids are stable across restarts and
 * nodes. The cache maps id -> (text, keyspace) under a mutex; EXECUTE first
 * asks its shard's cache of analyzed plans (plancache.c) for a plan of the
 * id valid for the request's snapshot, and only on a miss looks the text up
 * here, parses and analyzes it into a new cache entry. Either way a
 * statement follows schema changes without re-preparation (an entry is
 * valid for one snapshot), and authorisation and value binding run on every
 * execution. This map is unbounded for now; were entries ever removed from
 * it, the shards' plan caches would have to forget them too.
 *
 * Timestamps: a write without USING TIMESTAMP or a client timestamp gets
 * the shard's clock, made strictly increasing per shard thread, so two
 * writes issued in one microsecond on one shard keep their order.
 *
 * Invariants:
 *  1. done() is called once per request (ex_finish), and nothing touches r
 *     after it.
 *  2. The snapshot acquired at the start is released only by
 *     ex_request_free, so plan pointers into it stay valid for the whole
 *     request, including the result metadata.
 *  3. The prepared cache is only touched under its mutex; entries are never
 *     removed while the engine runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "exec/execInt.h"

/* ---- prepared statement cache ----------------------------------------- */

typedef struct prep_entry {
    uint8_t id[16];
    bool used;
    char *query; /* hln_malloc'd */
    size_t qlen;
    char *ks; /* hln_malloc'd, NULL when none */
} prep_entry;

typedef struct prep_cache {
    pthread_mutex_t mu;
    prep_entry *slots; /* open addressing, linear probing */
    size_t cap, n;
} prep_cache;

static size_t slot_of(const uint8_t id[16], size_t cap)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)(h & (cap - 1));
}

static prep_entry *cache_find(prep_cache *c, const uint8_t id[16])
{
    if (!c->cap) return NULL;
    for (size_t i = slot_of(id, c->cap);; i = (i + 1) & (c->cap - 1)) {
        prep_entry *e = &c->slots[i];
        if (!e->used) return NULL;
        if (!memcmp(e->id, id, 16)) return e;
    }
}

static int cache_grow(prep_cache *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 256;
    prep_entry *ns = hln_calloc(ncap, sizeof *ns);
    if (!ns) return HLN_ENOMEM;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].used) continue;
        size_t j = slot_of(c->slots[i].id, ncap);
        while (ns[j].used)
            j = (j + 1) & (ncap - 1);
        ns[j] = c->slots[i];
    }
    hln_free(c->slots);
    c->slots = ns;
    c->cap = ncap;
    return 0;
}

static int cache_put(prep_cache *c, const uint8_t id[16], const char *q, size_t qlen,
                     const char *ks)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (cache_find(c, id)) goto out;
    if ((c->n + 1) * 4 > c->cap * 3 && (rc = cache_grow(c)) != 0) goto out;
    char *qc = hln_malloc(qlen + 1);
    char *kc = ks ? hln_strdup(ks) : NULL;
    if (!qc || (ks && !kc)) {
        hln_free(qc);
        hln_free(kc);
        rc = HLN_ENOMEM;
        goto out;
    }
    memcpy(qc, q, qlen);
    qc[qlen] = 0;
    size_t i = slot_of(id, c->cap);
    while (c->slots[i].used)
        i = (i + 1) & (c->cap - 1);
    prep_entry *e = &c->slots[i];
    memcpy(e->id, id, 16);
    e->used = true;
    e->query = qc;
    e->qlen = qlen;
    e->ks = kc;
    c->n++;
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Copies the entry's text and keyspace into arena memory. */
static bool cache_get(prep_cache *c, const uint8_t id[16], hln_arena *a, const char **q,
                      size_t *qlen, const char **ks)
{
    bool found = false;
    pthread_mutex_lock(&c->mu);
    prep_entry *e = cache_find(c, id);
    if (e) {
        *q = hln_arena_strndup(a, e->query, e->qlen);
        *qlen = e->qlen;
        *ks = e->ks ? hln_arena_strdup(a, e->ks) : NULL;
        found = *q && (!e->ks || *ks);
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

int ex_init(hln_engine *e, hln_error *err)
{
    prep_cache *c = hln_calloc(1, sizeof *c);
    if (!c) return hln_fail(err, HLN_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    e->prepared = c;
    return 0;
}

void ex_shutdown(hln_engine *e)
{
    prep_cache *c = e->prepared;
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++) {
        if (c->slots[i].used) {
            hln_free(c->slots[i].query);
            hln_free(c->slots[i].ks);
        }
    }
    hln_free(c->slots);
    pthread_mutex_destroy(&c->mu);
    /* the shard threads have stopped (or never started) */
    for (int i = 0; e->shards && i < e->nshards; i++) {
        ex_plan_cache_free(&e->shards[i]);
        ex_ann_free(&e->shards[i]);
        ex_metrics_free(&e->shards[i]);
    }
    hln_free(c);
    e->prepared = NULL;
}

/* ---- requests --------------------------------------------------------- */

void ex_request_init(ex_request *r, hln_shard *s, ex_done_fn done, void *ud)
{
    memset(r, 0, sizeof *r);
    r->shard = s;
    hln_arena_init(&r->arena, 16384);
    r->params.timestamp = HLN_TS_NONE;
    r->params.page_size = -1;
    r->done = done;
    r->ud = ud;
}

void ex_request_free(ex_request *r)
{
    ex_state *st = r->priv;
    if (st) {
        ex_ops_free(r);
        ex_cached_plan_unref(st->cplan); /* after the ops: they may point into it */
        if (st->schema) schema_release(st->schema);
        hln_free(st->dropped);
        r->priv = NULL;
    }
    hln_arena_free(&r->arena);
}

/* The coordinator latency of r's statement, by its table (metrics.c). */
static void record_latency(ex_request *r)
{
    const ex_state *st = r->priv;
    const ex_plan *p = st ? st->plan : NULL;
    if (!p || !p->t || p->t->is_virtual) return;
    int kind;
    switch (p->kind) {
    case CQL_SELECT:
        kind = p->pk_lookup ? EX_LAT_COORD_READ : EX_LAT_COORD_SCAN;
        break;
    case CQL_INSERT:
    case CQL_UPDATE:
    case CQL_DELETE:
        kind = EX_LAT_COORD_WRITE;
        break;
    default:
        return;
    }
    ex_metrics_record(r->shard, p->t->id, kind, st->t0);
}

void ex_finish(ex_request *r, int rc)
{
    record_latency(r);
    r->rc = rc;
    if (!rc && r->result.kind == EX_SCHEMA_CHANGE && r->priv)
        ex_access_schema_changed(r); /* creators' grants, dropped resources' grants */
    if (rc) {
        r->err.code = rc;
        if (!r->err.msg[0]) snprintf(r->err.msg, sizeof r->err.msg, "%s", hln_strerror(rc));
    }
    r->done(r);
}

ex_state *ex_start(ex_request *r)
{
    if (!r->shard || !r->shard->eng) {
        ex_finish(r, hln_fail(&r->err, HLN_ESERVER, "request has no shard"));
        return NULL;
    }
    ex_state *st = hln_arena_alloc(&r->arena, sizeof *st);
    if (!st) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return NULL;
    }
    st->eng = r->shard->eng;
    st->t0 = hln_mono_nanos();
    r->priv = st;
    st->schema = catalog_acquire(st->eng->catalog);
    if (!st->schema) {
        ex_finish(r, hln_fail(&r->err, HLN_ESERVER, "no schema"));
        return NULL;
    }
    return st;
}

/* ---- values ----------------------------------------------------------- */

/* A list literal bound to vector<type, n> (Cassandra's Vectors.Literal). */
static int bind_vector(ex_request *r, const cql_term *term, const hln_type *t, const char *col,
                       ex_value *out)
{
    if (term->nelems != t->dim)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Invalid vector literal for %s of type %s; expected %d elements, but "
                        "given %d",
                        col, t->cql_name, t->dim, term->nelems);
    const hln_type *et = t->params[0];
    const uint8_t **els = hln_arena_alloc(&r->arena, sizeof *els * (size_t)t->dim);
    int32_t *lens = hln_arena_alloc(&r->arena, sizeof *lens * (size_t)t->dim);
    if (!els || !lens) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < t->dim; i++) {
        const cql_term *e = term->elems[i];
        if (e->kind == CQL_TERM_NULL)
            return hln_fail(&r->err, HLN_EINVAL, "null is not supported inside vectors");
        ex_value v;
        int rc = ex_bind(r, e, et, col, &v);
        /* an integer constant for an integer type passes the assignment
           test and fails in the conversion, with the type's own message */
        bool int_ok = e->kind == CQL_TERM_LITERAL && e->lit == HLN_LIT_INTEGER &&
                      (et->kind == HLN_T_TINYINT || et->kind == HLN_T_SMALLINT ||
                       et->kind == HLN_T_INT || et->kind == HLN_T_BIGINT);
        if (rc == HLN_EINVAL && e->kind == CQL_TERM_LITERAL && !int_ok)
            return hln_fail(&r->err, HLN_EINVAL,
                            "Invalid vector literal for %s: value %s is not of type %s", col,
                            ex_term_str(&r->arena, e), et->cql_name);
        if (rc) return rc;
        if (v.len < 0) return hln_fail(&r->err, HLN_EINVAL, "null is not supported inside vectors");
        if (et->fixed_len && v.len != et->fixed_len)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid empty value inside a vector");
        els[i] = v.p;
        lens[i] = v.len;
    }
    hln_buf b;
    hln_buf_init(&b);
    int rc = hln_vector_build(t, els, lens, &b);
    if (!rc) {
        out->p = hln_arena_memdup(&r->arena, b.data, b.len);
        out->len = (int32_t)b.len;
        if (!out->p) rc = HLN_ENOMEM;
    }
    hln_buf_free(&b);
    if (rc) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    return 0;
}

/* A collection literal bound to collection type t: every element bound to
 * its element type (nested literals recurse), then serialized, sets and
 * maps sorted and deduplicated (Lists/Sets/Maps.Literal in Cassandra). */
static int bind_collection(ex_request *r, const cql_term *term, const hln_type *t, const char *col,
                           ex_value *out)
{
    const char *what = term->kind == CQL_TERM_LIST  ? "list"
                       : term->kind == CQL_TERM_SET ? "set"
                                                    : "map";
    if (t && t->kind == HLN_T_VECTOR && term->kind == CQL_TERM_LIST)
        return bind_vector(r, term, t, col, out);
    bool ok = t && hln_type_is_collection(t);
    if (t && term->kind == CQL_TERM_LIST && t->kind != HLN_T_LIST)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Unexpected receiver type '%s'; only list and vector are expected",
                        t->cql_name);
    if (ok && term->kind == CQL_TERM_SET) ok = t->kind == HLN_T_SET;
    /* {} is an empty map literal that a set accepts too */
    if (ok && term->kind == CQL_TERM_MAP)
        ok = t->kind == HLN_T_MAP || (t->kind == HLN_T_SET && term->nelems == 0);
    /* {} reads as an empty set literal there (Cassandra's parser) */
    if (!ok && t && (t->kind == HLN_T_UDT || t->kind == HLN_T_TUPLE) &&
        term->kind == CQL_TERM_MAP && term->nelems == 0)
        what = "set";
    if (!ok)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid %s literal for %s of type %s", what, col,
                        t ? t->cql_name : "?");
    bool is_map = t->kind == HLN_T_MAP;
    int n = term->nelems;
    const uint8_t **els = hln_arena_alloc(&r->arena, sizeof *els * (size_t)(n ? n : 1));
    int32_t *lens = hln_arena_alloc(&r->arena, sizeof *lens * (size_t)(n ? n : 1));
    if (!els || !lens) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const cql_term *e = term->elems[i];
        bool key = is_map && i % 2 == 0;
        const hln_type *et = t->params[is_map && !key ? 1 : 0];
        if (e->kind == CQL_TERM_NULL)
            return hln_fail(&r->err, HLN_EINVAL, "null is not supported inside collections");
        ex_value v;
        int rc = ex_bind(r, e, et, col, &v);
        if (rc == HLN_EINVAL &&
            (e->kind == CQL_TERM_LITERAL || e->kind == CQL_TERM_TUPLE || e->kind == CQL_TERM_UDT)) {
            /* Cassandra names the literal instead of the constant's parse error */
            if (is_map)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Invalid map literal for %s: %s %s is not of "
                                "type %s",
                                col, key ? "key" : "value", ex_term_str(&r->arena, e),
                                et->cql_name);
            return hln_fail(&r->err, HLN_EINVAL,
                            "Invalid %s literal for %s: value %s is not of "
                            "type %s",
                            what, col, ex_term_str(&r->arena, e), et->cql_name);
        }
        if (rc) return rc;
        if (v.len == -2)
            return hln_fail(&r->err, HLN_EINVAL,
                            is_map && key ? "Invalid unset map key"
                                          : "Invalid unset value in "
                                            "collection");
        if (v.len == -1)
            return hln_fail(&r->err, HLN_EINVAL, "null is not supported inside collections");
        els[i] = v.p;
        lens[i] = v.len;
    }
    hln_buf b;
    hln_buf_init(&b);
    int rc = hln_coll_build(t, els, lens, (uint32_t)(is_map ? n / 2 : n), &b);
    if (!rc && b.len > INT32_MAX) rc = HLN_ETOOBIG;
    if (!rc) {
        static const uint8_t empty[1];
        out->p = b.len ? hln_arena_memdup(&r->arena, b.data, b.len) : empty;
        out->len = (int32_t)b.len;
        if (!out->p) rc = HLN_ENOMEM;
    }
    hln_buf_free(&b);
    if (rc == HLN_ETOOBIG) return hln_fail(&r->err, HLN_EINVAL, "collection too large");
    if (rc) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    return 0;
}

/* A tuple literal (a, b, ...) bound to a tuple type (Tuples.Literal), or a
 * UDT literal {f: a, ...} bound to a UDT (UserTypes.Literal): missing
 * trailing components and missing fields are null. */
static int bind_tuple(ex_request *r, const cql_term *term, const hln_type *t, const char *col,
                      ex_value *out)
{
    bool udt = term->kind == CQL_TERM_UDT;
    /* a tuple literal binds to a UDT's fields by position (Tuples.Literal) */
    if (!t || (t->kind != (udt ? HLN_T_UDT : HLN_T_TUPLE) && (udt || t->kind != HLN_T_UDT)))
        return hln_fail(&r->err, HLN_EINVAL,
                        udt ? "Invalid user type literal for %s of type %s"
                            : "Invalid tuple type literal for %s of type %s",
                        col, t ? t->cql_name : "?");
    int n = t->nparams;
    if (!udt && term->nelems > n)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Invalid tuple literal for %s: too many elements. Type %s expects %d but "
                        "got %d",
                        col, t->cql_name, n, term->nelems);
    const uint8_t **els = hln_arena_alloc(&r->arena, sizeof *els * (size_t)n);
    int32_t *lens = hln_arena_alloc(&r->arena, sizeof *lens * (size_t)n);
    if (!els || !lens) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        lens[i] = -1, els[i] = NULL;
    for (int i = 0; i < term->nelems; i++) {
        int at = i;
        if (udt) {
            at = -1;
            for (int f = 0; f < n; f++)
                if (!strcmp(hln_udt_field(t, f), term->fields[i])) at = f;
            if (at < 0)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Unknown field '%s' in value of user defined type %s",
                                term->fields[i], hln_udt_name(t));
        }
        const cql_term *e = term->elems[i];
        const hln_type *et = t->params[at];
        ex_value v;
        int rc = ex_bind(r, e, et, col, &v);
        /* an integer constant for an integer type passes the assignment
           test and fails in the conversion, with the type's own message */
        bool int_ok = e->kind == CQL_TERM_LITERAL && e->lit == HLN_LIT_INTEGER &&
                      (et->kind == HLN_T_TINYINT || et->kind == HLN_T_SMALLINT ||
                       et->kind == HLN_T_INT || et->kind == HLN_T_BIGINT);
        if (rc == HLN_EINVAL && e->kind == CQL_TERM_LITERAL && !int_ok) {
            if (udt)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Invalid user type literal for %s: field %s is not of type %s", col,
                                term->fields[i], et->cql_name);
            return hln_fail(&r->err, HLN_EINVAL,
                            "Invalid tuple literal for %s: component %d is not of type %s", col, i,
                            et->cql_name);
        }
        if (rc) return rc;
        if (v.len == -2)
            return udt ? hln_fail(&r->err, HLN_EINVAL,
                                  "Invalid unset value for field '%s' of user defined type %s",
                                  term->fields[i], hln_udt_name(t))
                       : hln_fail(&r->err, HLN_EINVAL,
                                  "Invalid unset value for tuple field number %d", i);
        els[at] = v.p;
        lens[at] = v.len;
    }
    hln_buf b;
    hln_buf_init(&b);
    int rc = hln_tuple_build(els, lens, n, &b);
    if (!rc && b.len > INT32_MAX) rc = HLN_ETOOBIG;
    if (!rc) {
        out->p = hln_arena_memdup(&r->arena, b.data, b.len);
        out->len = (int32_t)b.len;
        if (!out->p) rc = HLN_ENOMEM;
    }
    hln_buf_free(&b);
    if (rc == HLN_ETOOBIG) return hln_fail(&r->err, HLN_EINVAL, "value too large");
    if (rc) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    return 0;
}

/* A bound value with every set and map inside it in canonical form
 * (hln_value_normalize). */
static int normalize_bound(ex_request *r, const hln_type *t, ex_value *v)
{
    if (v->len == 0) return 0;
    hln_buf b;
    hln_buf_init(&b);
    int rc = hln_value_normalize(t, v->p, (size_t)v->len, &b);
    if (!rc && b.err) rc = HLN_ENOMEM;
    if (!rc) {
        v->p = hln_arena_memdup(&r->arena, b.data, b.len);
        v->len = (int32_t)b.len;
        if (!v->p) rc = HLN_ENOMEM;
    }
    hln_buf_free(&b);
    if (rc == HLN_ENOMEM) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (rc) return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value");
    return 0;
}

/* a op b in a term: both operands bound as the receiver's type (a
 * duration on the right of timestamp/date +- d), then the operation
 * (arith.c); a one-element tuple (x) is x. */
static int bind_op(ex_request *r, const cql_term *term, const hln_type *t, const char *col,
                   ex_value *out)
{
    const cql_term *ops[2];
    for (int i = 0; i < term->nelems && i < 2; i++) {
        ops[i] = term->elems[i];
        while (ops[i]->kind == CQL_TERM_TUPLE && ops[i]->nelems == 1)
            ops[i] = ops[i]->elems[0];
    }
    hln_type_kind k = t ? t->kind : HLN_T_CUSTOM;
    const hln_type *rt = t;
    if (term->nelems == 2 && (k == HLN_T_TIMESTAMP || k == HLN_T_DATE))
        rt = hln_type_by_kind(HLN_T_DURATION);
    if (!t || k == HLN_T_COUNTER || !ex_arith_type(term->op, t, rt)) {
        if (term->nelems == 1)
            return hln_fail(&r->err, HLN_EINVAL, "the '-' operation is not supported on %s",
                            ex_term_str(&r->arena, ops[0]));
        return hln_fail(&r->err, HLN_EINVAL,
                        "the '%c' operation is not supported between %s and %s", term->op,
                        ex_term_str(&r->arena, ops[0]), ex_term_str(&r->arena, ops[1]));
    }
    ex_value a, b;
    int rc;
    if (term->nelems == 1) {
        hln_buf z;
        hln_buf_init(&z);
        rc = hln_type_from_literal(t, HLN_LIT_INTEGER, "0", col, &z, &r->err);
        a.p = rc ? NULL : hln_arena_memdup(&r->arena, z.data, z.len ? z.len : 1);
        a.len = (int32_t)z.len;
        hln_buf_free(&z);
        if (rc) return rc;
        if (!a.p) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if ((rc = ex_bind(r, ops[0], t, col, &b)) != 0) return rc;
    } else {
        if ((rc = ex_bind(r, ops[0], t, col, &a)) != 0) return rc;
        if ((rc = ex_bind(r, ops[1], rt, col, &b)) != 0) return rc;
    }
    if (a.len == -2 || b.len == -2)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid unset value in an operation on %s", col);
    return ex_arith(r, term->nelems == 1 ? '-' : term->op, t, a, rt, b, t, out);
}

int ex_bind(ex_request *r, const cql_term *term, const hln_type *t, const char *col, ex_value *out)
{
    ex_state *st = ex_st(r);
    switch (term->kind) {
    case CQL_TERM_LIST:
    case CQL_TERM_SET:
    case CQL_TERM_MAP:
        return bind_collection(r, term, t, col, out);
    case CQL_TERM_FUNC:
        return ex_bind_function(r, term, t, col, out);
    case CQL_TERM_OP:
        return bind_op(r, term, t, col, out);
    case CQL_TERM_HINT: { /* (type) x: x as that type, which the receiver must be */
        const hln_type *ht = hln_type_hint(term->text);
        if (!ht && strchr(term->text, '<') && strncmp(term->text, "frozen<", 7) != 0)
            /* a name Helenus does not know inside a collection: Cassandra
               takes it for a (non-frozen) user type */
            return hln_fail(&r->err, HLN_EINVAL,
                            "Non-frozen UDTs are not allowed inside collections: %s", term->text);
        if (!ht) {
            const ex_plan *p = st->plan;
            return hln_fail(&r->err, HLN_EINVAL, "Unknown type %s.%s", p && p->t ? p->t->ks : "?",
                            term->text);
        }
        /* a collection or tuple hint must be the receiver's type exactly
           (frozenness included); a native one its kind */
        bool composite = hln_type_is_collection(ht) || ht->kind == HLN_T_TUPLE;
        if (t && (composite ? !hln_type_equal(t, ht) : t->kind != ht->kind))
            return hln_fail(&r->err, HLN_EINVAL, "Cannot assign value %s to %s of type %s",
                            ex_term_str(&r->arena, term), col, t->cql_name);
        return ex_bind(r, term->elems[0], t ? t : ht, col, out);
    }
    case CQL_TERM_TUPLE:
    case CQL_TERM_UDT:
        return bind_tuple(r, term, t, col, out);
    case CQL_TERM_NULL:
        out->p = NULL;
        out->len = -1;
        return 0;
    case CQL_TERM_BIND: {
        int i = term->bind_index;
        if (i < 0 || i >= st->nvals)
            return hln_fail(&r->err, HLN_EINVAL, "Invalid amount of bind variables");
        *out = st->vals[i];
        if (out->len >= 0) {
            int rc = hln_type_validate(t, out->p, (size_t)out->len, col, &r->err);
            if (rc || !hln_type_needs_normalize(t)) return rc;
            return normalize_bound(r, t, out);
        }
        if (out->len < -2)
            return hln_fail(&r->err, HLN_EPROTO, "Invalid value length %d", (int)out->len);
        return 0;
    }
    case CQL_TERM_LITERAL: {
        if (t && t->kind == HLN_T_TUPLE) {
            /* a constant for a tuple is its first component (TupleType.fromString) */
            ex_value v;
            int rc = ex_bind(r, term, t->params[0], col, &v);
            if (rc) return rc;
            const uint8_t *els[1] = {v.p};
            int32_t lens[1] = {v.len};
            hln_buf b;
            hln_buf_init(&b);
            rc = hln_tuple_build(els, lens, 1, &b);
            out->p = rc ? NULL : hln_arena_memdup(&r->arena, b.data, b.len);
            out->len = (int32_t)b.len;
            hln_buf_free(&b);
            return out->p ? 0 : hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        }
        hln_buf b;
        hln_buf_init(&b);
        int rc = hln_type_from_literal(t, term->lit, term->text, col, &b, &r->err);
        if (!rc && b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (!rc) {
            static const uint8_t empty[1];
            out->p = b.len ? hln_arena_memdup(&r->arena, b.data, b.len) : empty;
            out->len = (int32_t)b.len;
            if (!out->p) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        }
        hln_buf_free(&b);
        return rc;
    }
    }
    return hln_fail(&r->err, HLN_EUNSUPPORTED, "Unsupported term");
}

int ex_bind_int(ex_request *r, const cql_term *term, const char *what, int32_t *out, bool *present)
{
    ex_value v = {NULL, -1};
    int rc = ex_bind(r, term, hln_type_by_kind(HLN_T_INT), what, &v);
    if (rc) return rc;
    *present = false;
    if (v.len == -2) return 0;
    if (v.len == -1) return hln_fail(&r->err, HLN_EINVAL, "Invalid null value of %s", what);
    if (v.len != 4) return hln_fail(&r->err, HLN_EINVAL, "Invalid empty value of %s", what);
    *out = (int32_t)((uint32_t)v.p[0] << 24 | (uint32_t)v.p[1] << 16 | (uint32_t)v.p[2] << 8 |
                     (uint32_t)v.p[3]);
    *present = true;
    return 0;
}

static _Thread_local int64_t last_ts = INT64_MIN;

int64_t ex_next_timestamp(void)
{
    int64_t now = hln_now_micros();
    if (now <= last_ts) now = last_ts + 1;
    last_ts = now;
    return now;
}

/* Orders the values by marker: positional as given, or by name (each
 * marker's bind spec name) when names are given. */
static int resolve_values(ex_request *r, ex_value *values, int nvalues, const char **names)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = st->plan;
    int n = st->stmt->n_binds;
    if (names && nvalues > 0) {
        ex_value *v = hln_arena_alloc(&r->arena, sizeof *v * (size_t)(n ? n : 1));
        if (!v) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        int found = 0;
        for (int i = 0; i < n; i++) {
            const char *name = p->binds[i].name;
            for (int j = 0; j < nvalues; j++) {
                if (names[j] && name && !strcmp(names[j], name)) {
                    v[i] = values[j];
                    found++;
                    break;
                }
            }
        }
        st->vals = v;
        st->nvals = found;
        if (found != n) goto mismatch;
        return 0;
    }
    st->vals = values;
    st->nvals = nvalues;
    if (st->nvals != n) goto mismatch;
    return 0;
mismatch:
    if (st->prepared)
        return hln_fail(&r->err, HLN_EINVAL,
                        "there were %d markers(?) in CQL but %d bound variables", n, st->nvals);
    return hln_fail(&r->err, HLN_EINVAL, "Invalid amount of bind variables");
}

int ex_prepare_statement(ex_request *r, const cql_stmt *stmt, const char *ks, ex_value *values,
                         int nvalues, const char **names)
{
    ex_state *st = ex_st(r);
    st->stmt = stmt;
    int rc = ex_analyze(r, stmt, ks, &st->plan);
    if (!rc) rc = ex_authorize(r, stmt, st->plan); /* access.c */
    if (!rc) rc = resolve_values(r, values, nvalues, names);
    return rc;
}

/* Runs the analyzed statement in st->stmt / st->plan: authorises it for the
 * request's role (once for a statement analyzed for this request; for a
 * prepared plan, by the verdict it remembers while role, schema and auth
 * store are unchanged: access.c), binds the request's values, hands it to
 * its executor. */
static void run_plan(ex_request *r)
{
    ex_state *st = ex_st(r);
    const ex_params *pa = &r->params;
    const cql_stmt *stmt = st->stmt;
    int rc = ex_authorize_plan(r, st->cplan, stmt, st->plan); /* access.c */
    if (!rc) rc = resolve_values(r, pa->values, pa->nvalues, pa->names);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    switch (stmt->kind) {
    case CQL_CREATE_KEYSPACE:
    case CQL_DROP_KEYSPACE:
    case CQL_USE:
    case CQL_CREATE_TABLE:
    case CQL_DROP_TABLE:
    case CQL_ALTER_TABLE:
    case CQL_ALTER_KEYSPACE:
    case CQL_TRUNCATE:
    case CQL_CREATE_TYPE:
    case CQL_ALTER_UDT:
    case CQL_DROP_TYPE:
        ex_run_ddl(r);
        return;
    case CQL_CREATE_INDEX:
    case CQL_DROP_INDEX:
        ex_run_index_ddl(r);
        return;
    case CQL_CREATE_VIEW:
    case CQL_DROP_VIEW:
    case CQL_ALTER_VIEW:
        ex_run_view_ddl(r);
        return;
    case CQL_INSERT:
    case CQL_UPDATE:
    case CQL_DELETE:
        ex_run_dml(r);
        return;
    case CQL_SELECT:
        ex_run_select(r);
        return;
    case CQL_BATCH:
        ex_run_text_batch(r);
        return;
    case CQL_CREATE_ROLE:
    case CQL_ALTER_ROLE:
    case CQL_DROP_ROLE:
    case CQL_LIST_ROLES:
    case CQL_GRANT_ROLE:
    case CQL_REVOKE_ROLE:
    case CQL_GRANT_PERMISSIONS:
    case CQL_REVOKE_PERMISSIONS:
    case CQL_LIST_PERMISSIONS:
        ex_run_access(r);
        return;
    case CQL_DESCRIBE:
        ex_run_describe(r);
        return;
    }
    ex_finish(r, hln_fail(&r->err, HLN_EUNSUPPORTED, "statement not supported yet"));
}

/* Analyzes stmt (default keyspace ks), binds the values and runs it. */
static void run_statement(ex_request *r, const cql_stmt *stmt, const char *ks)
{
    ex_state *st = ex_st(r);
    st->stmt = stmt;
    int rc = ex_analyze(r, stmt, ks, &st->plan);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    run_plan(r);
}

/* Statements whose plans are cached: what runs on the hot path, and whose
 * executors only read the plan. DDL, USE and role statements are rare and
 * change what they would be cached against. */
static bool cacheable(cql_stmt_kind k)
{
    return k == CQL_SELECT || k == CQL_INSERT || k == CQL_UPDATE || k == CQL_DELETE ||
           k == CQL_BATCH;
}

/* A miss: the statement's text and keyspace copied into a new entry's own
 * arena, parsed and analyzed there against st->schema (which it retains).
 * On success *out holds the request's reference. */
static int build_plan(ex_request *r, const char *q, size_t qlen, const char *ks,
                      ex_cached_plan **out)
{
    ex_state *st = ex_st(r);
    ex_cached_plan *cp = hln_calloc(1, sizeof *cp);
    if (!cp) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    atomic_init(&cp->refs, 1);
    hln_arena_init(&cp->arena, 4096);
    schema_retain(st->schema);
    cp->schema = st->schema;
    cp->textlen = qlen;
    cp->text = hln_arena_strndup(&cp->arena, q, qlen);
    cp->ks = ks ? hln_arena_strdup(&cp->arena, ks) : NULL;
    int rc = 0;
    if (!cp->text || (ks && !cp->ks)) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    cql_stmt *stmt = NULL;
    if (!rc) rc = cql_parse(cp->text, qlen, &cp->arena, &stmt, &r->err);
    if (!rc) {
        cp->stmt = stmt;
        st->stmt = stmt; /* the analyzer's context */
        rc = ex_analyze_in(r, &cp->arena, stmt, cp->ks, &cp->plan);
    }
    if (rc) {
        st->stmt = NULL; /* it was in cp's arena */
        ex_cached_plan_unref(cp);
        return rc;
    }
    *out = cp;
    return 0;
}

/* ---- entry points ----------------------------------------------------- */

void ex_query(ex_request *r, const char *cql, size_t len)
{
    ex_state *st = ex_start(r);
    if (!st) return;
    st->text = cql;
    st->textlen = len;
    cql_stmt *stmt = NULL;
    int rc = cql_parse(cql, len, &r->arena, &stmt, &r->err);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    run_statement(r, stmt, r->params.keyspace);
}

void ex_prepare(ex_request *r, const char *cql, size_t len)
{
    ex_state *st = ex_start(r);
    if (!st) return;
    prep_cache *c = st->eng->prepared;
    if (!c) {
        ex_finish(r, hln_fail(&r->err, HLN_ESERVER, "prepared statement cache not initialised"));
        return;
    }
    cql_stmt *stmt = NULL;
    int rc = cql_parse(cql, len, &r->arena, &stmt, &r->err);
    if (!rc) {
        st->stmt = stmt;
        rc = ex_analyze(r, stmt, r->params.keyspace, &st->plan);
    }
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    const ex_plan *p = st->plan;
    ex_result *res = &r->result;
    const char *ks = r->params.keyspace;
    hln_md5(ks, ks ? strlen(ks) : 0, cql, len, res->id);
    rc = cache_put(c, res->id, cql, len, ks);
    if (rc) {
        ex_finish(r, hln_fail(&r->err, rc, "out of memory"));
        return;
    }
    res->kind = EX_PREPARED;
    res->binds = p->binds;
    res->nbinds = p->nbinds;
    res->pk_indexes = p->pk_indexes;
    res->npk_indexes = p->npk_indexes;
    if (stmt->kind == CQL_SELECT) {
        res->cols = p->json ? p->json_col : p->cols;
        res->ncols = p->json ? 1 : p->nproj;
    } else {
        res->no_metadata = true;
    }
    ex_finish(r, 0);
}

int ex_prepared_lookup(ex_request *r, const uint8_t *id, size_t idlen, const char **text,
                       size_t *len, const char **ks)
{
    ex_state *st = ex_st(r);
    prep_cache *c = st->eng->prepared;
    uint8_t key[16] = {0};
    memcpy(key, id, idlen < 16 ? idlen : 16);
    *text = *ks = NULL;
    *len = 0;
    if (c && idlen == 16 && cache_get(c, key, &r->arena, text, len, ks)) return 0;
    char hex[2 * 64 + 1];
    size_t n = idlen < 64 ? idlen : 64;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    hex[2 * n] = 0;
    int rc = hln_fail(&r->err, HLN_EUNPREPARED,
                      "Prepared query with ID %s not found (either the query was not "
                      "prepared on this host (maybe the host has been restarted?) or you "
                      "have prepared too many queries and it has been evicted from the "
                      "internal cache)",
                      hex);
    memcpy(r->err.id, key, 16);
    return rc;
}

void ex_execute(ex_request *r, const uint8_t *id, size_t idlen)
{
    ex_state *st = ex_start(r);
    if (!st) return;
    st->prepared = true;
    ex_cached_plan *cp = idlen == 16 ? ex_plan_cache_get(r->shard, id, st->schema) : NULL;
    if (!cp) {
        const char *q = NULL, *ks = NULL;
        size_t qlen = 0;
        int rc = ex_prepared_lookup(r, id, idlen, &q, &qlen, &ks);
        if (!rc) rc = build_plan(r, q, qlen, ks, &cp);
        if (rc) {
            ex_finish(r, rc);
            return;
        }
        if (cacheable(cp->stmt->kind)) ex_plan_cache_put(r->shard, id, cp);
    }
    st->cplan = cp; /* the request's reference, dropped by ex_request_free */
    st->text = cp->text;
    st->textlen = cp->textlen;
    st->stmt = cp->stmt;
    st->plan = cp->plan;
    run_plan(r);
}
