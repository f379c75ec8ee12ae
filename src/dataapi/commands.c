/*
 * commands.c — the Data API's commands as CQL statements.
 *
 * What: da_execute takes one command object and answers it, running CQL
 * through da_cql (cql.c) and the document semantics of document.c.
 *
 *   /v1                findKeyspaces, createKeyspace, dropKeyspace
 *   /v1/{ks}           createCollection, findCollections, deleteCollection
 *   /v1/{ks}/{coll}    insertOne, insertMany, find, findOne, countDocuments,
 *                      estimatedDocumentCount, updateOne, updateMany,
 *                      replaceOne, deleteOne, deleteMany, findOneAndUpdate,
 *                      findOneAndReplace, findOneAndDelete
 *
 * The table of a collection (docs/ARCHITECTURE.md, "The Data API"):
 *
 *   CREATE TABLE "ks"."coll" (key text PRIMARY KEY, doc_json text
 *       [, query_vector_value vector<float, N>])
 *       WITH comment = '{"collection":{"name":..,"schema_version":1,"options":{..}}}'
 *   CREATE CUSTOM INDEX "coll_query_vector_value" ON "ks"."coll"
 *       (query_vector_value) USING 'StorageAttachedIndex'
 *       WITH OPTIONS = {'similarity_function': 'cosine'}
 *
 * key is the compact JSON of _id (da_id_key); doc_json the document
 * without $vector, which lives in query_vector_value: read only when a
 * sort, filter, projection or update needs it, kept as floats, and put
 * into the document as JSON only for a projection or an update naming
 * $vector. A row written from CQL without an _id in doc_json gets the
 * key's (its JSON, else the key as a string); writes back to a row read
 * go to that row's key.
 *
 * Reads: a filter on _id alone ({"_id": v}, $eq, $in) is point reads;
 * anything else a paged scan with the filter evaluated per document (a
 * plain find's pages resume at the token after the last key returned). A
 * $vector sort without a filter is the SAI index's ANN query (ORDER BY
 * ... ANN OF ? LIMIT k); with a filter every matching document is scored,
 * so the k best are exact. Writes: INSERT ... IF NOT EXISTS for inserts
 * (a duplicate _id is refused); updates, replacements and deletes are
 * conditional on the doc_json read (UPDATE/DELETE ... IF doc_json = ?),
 * and a document that changed meanwhile is read, matched and changed
 * again (modify_one), up to MAX_RETRIES times.
 *
 * Invariants: every response is {"status"?, "data"?, "errors"?} with
 * "errors" present only when something failed (astrapy raises on the key
 * alone); identifiers in CQL text are names the HTTP layer or this file
 * checked against [A-Za-z0-9_]{1,48}, so quoting them is enough.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataapi/dataapiInt.h"

enum {
    PAGE_DOCS = 20,     /* find's page size, as the Data API */
    MAX_VECTOR_K = 1000 /* documents a $vector sort returns at most */
};
enum { MAX_COUNT = 1000 }; /* countDocuments stops here: moreData */
enum { SCAN_PAGE = 1000 }; /* CQL rows per page of a scan */

/* ---- responses -------------------------------------------------------- */

static json_t *fail_resp(const da_err *e)
{
    return da_error_response(e->code[0] ? e->code : "SERVER_INTERNAL_ERROR",
                             e->msg[0] ? e->msg : "failed");
}

static json_t *status_resp(json_t *status)
{
    json_t *r = json_object();
    json_object_set_new(r, "status", status);
    return r;
}

static json_t *ok_resp(void)
{
    json_t *st = json_object();
    json_object_set_new(st, "ok", json_integer(1));
    return status_resp(st);
}

/* ---- names and values --------------------------------------------------- */

static bool name_ok(const char *s)
{
    return s && da_name_ok(s, strlen(s));
}

static ex_value val_text(const char *s)
{
    ex_value v = {(const uint8_t *)s, (int32_t)strlen(s)};
    return v;
}

static ex_value val_null(void)
{
    ex_value v = {NULL, -1};
    return v;
}

/* Big-endian float32s into buf (4 * n bytes). */
static void vec_serialise(const float *f, int n, uint8_t *buf)
{
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        buf[4 * i] = (uint8_t)(u >> 24);
        buf[4 * i + 1] = (uint8_t)(u >> 16);
        buf[4 * i + 2] = (uint8_t)(u >> 8);
        buf[4 * i + 3] = (uint8_t)u;
    }
}

static void vec_deserialise(const uint8_t *p, int n, float *f)
{
    for (int i = 0; i < n; i++) {
        uint32_t u = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                     (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        memcpy(&f[i], &u, 4);
    }
}

static char *text_of(ex_value v)
{
    if (v.len < 0) return NULL;
    char *s = hln_malloc((size_t)v.len + 1);
    if (!s) return NULL;
    if (v.len) memcpy(s, v.p, (size_t)v.len);
    s[v.len] = 0;
    return s;
}

/* ---- collections ------------------------------------------------------ */

typedef struct coll_info {
    bool exists;       /* a table that is a collection */
    bool table_exists; /* a table of that name, collection or not */
    int dim;           /* 0: no vector */
    int metric;
    json_t *options; /* the collection's options (owned), {} when none */
} coll_info;

static void coll_info_free(coll_info *ci)
{
    json_decref(ci->options);
    ci->options = NULL;
}

/* The collection options a table comment carries, or NULL (new ref). */
static json_t *comment_options(const char *comment)
{
    if (!comment) return NULL;
    json_t *j = json_loads(comment, 0, NULL);
    json_t *c = json_object_get(j, "collection");
    json_t *o = json_is_object(c) ? json_object_get(c, "options") : NULL;
    json_t *out = json_is_object(c) ? (o ? json_incref(o) : json_object()) : NULL;
    json_decref(j);
    return out;
}

static void info_from_options(coll_info *ci)
{
    json_t *v = json_object_get(ci->options, "vector");
    json_t *d = json_object_get(v, "dimension");
    ci->dim = json_is_integer(d) ? (int)json_integer_value(d) : 0;
    json_t *m = json_object_get(v, "metric");
    ci->metric = json_is_string(m) ? da_metric_parse(json_string_value(m)) : DA_COSINE;
    if (ci->metric < 0) ci->metric = DA_COSINE;
}

static bool keyspace_exists(da_ctx *cx, const char *ks)
{
    da_res *r;
    da_err e;
    ex_value v = val_text(ks);
    if (da_cql(cx, "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", &v,
               1, 0, NULL, 0, &r, &e))
        return false;
    bool yes = da_res_result(r)->nrows > 0;
    da_res_free(r);
    return yes;
}

static int no_keyspace(da_err *e, const char *ks)
{
    return da_fail(e, HLN_ENOTFOUND, "KEYSPACE_DOES_NOT_EXIST",
                   "Unknown keyspace '%s', you must create it first", ks);
}

/* Looks collection name of cx->keyspace up (ci->exists false when there
 * is no such collection; a table that is not a collection counts as none). */
static int coll_lookup(da_ctx *cx, const char *name, coll_info *ci, da_err *e)
{
    memset(ci, 0, sizeof *ci);
    ex_value v[2] = {val_text(cx->keyspace), val_text(name)};
    da_res *r;
    int rc = da_cql(cx,
                    "SELECT comment FROM system_schema.tables WHERE keyspace_name = ? AND "
                    "table_name = ?",
                    v, 2, 0, NULL, 0, &r, e);
    if (rc) return rc;
    if (da_res_result(r)->nrows > 0) {
        ci->table_exists = true;
        char *comment = text_of(da_res_cell(r, 0, 0));
        ci->options = comment_options(comment);
        hln_free(comment);
        if (ci->options) {
            ci->exists = true;
            info_from_options(ci);
        }
    }
    da_res_free(r);
    return 0;
}

/* The collection of the URL, which must exist. */
static int coll_open(da_ctx *cx, coll_info *ci, da_err *e)
{
    int rc = coll_lookup(cx, cx->collection, ci, e);
    if (rc) return rc;
    if (ci->exists) return 0;
    if (!keyspace_exists(cx, cx->keyspace)) return no_keyspace(e, cx->keyspace);
    return da_fail(e, HLN_ENOTFOUND, "COLLECTION_NOT_EXIST",
                   "Collection does not exist, collection name: %s", cx->collection);
}

static json_t *cmd_create_collection(da_ctx *cx, json_t *args)
{
    da_err e = {0};
    const char *name = json_string_value(json_object_get(args, "name"));
    if (!name_ok(name)) {
        da_fail(&e, HLN_EINVAL, "INVALID_COLLECTION_NAME",
                "Invalid collection name: must be 1-48 letters, digits or underscores (got '%s')",
                name ? name : "");
        return fail_resp(&e);
    }
    json_t *opts = json_object_get(args, "options");
    if (opts && !json_is_object(opts) && !json_is_null(opts)) {
        da_fail(&e, HLN_EINVAL, "INVALID_CREATE_COLLECTION_OPTIONS",
                "The provided options are invalid: options must be an object");
        return fail_resp(&e);
    }
    /* the options kept: vector (dimension, metric), indexing, defaultId */
    json_t *keep = json_object();
    json_t *vec = json_object_get(opts, "vector");
    int dim = 0, metric = DA_COSINE;
    if (vec && !json_is_null(vec)) {
        json_t *d = json_object_get(vec, "dimension");
        json_t *m = json_object_get(vec, "metric");
        if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 8192) {
            json_decref(keep);
            da_fail(&e, HLN_EINVAL, "INVALID_CREATE_COLLECTION_OPTIONS",
                    "The provided options are invalid: vector dimension must be 1-8192");
            return fail_resp(&e);
        }
        dim = (int)json_integer_value(d);
        if (m && !json_is_null(m)) {
            metric = json_is_string(m) ? da_metric_parse(json_string_value(m)) : -1;
            if (metric < 0) {
                json_decref(keep);
                da_fail(&e, HLN_EINVAL, "INVALID_CREATE_COLLECTION_OPTIONS",
                        "The provided options are invalid: metric must be cosine, "
                        "dot_product or euclidean");
                return fail_resp(&e);
            }
        }
        if (json_object_get(vec, "service") && !json_is_null(json_object_get(vec, "service"))) {
            json_decref(keep);
            da_fail(&e, HLN_EUNSUPPORTED, "VECTORIZE_FEATURE_NOT_AVAILABLE",
                    "Vectorize (an embedding service) is not available on this server");
            return fail_resp(&e);
        }
        json_t *v = json_object();
        json_object_set_new(v, "dimension", json_integer(dim));
        json_object_set_new(v, "metric", json_string(da_metric_name(metric)));
        json_object_set_new(keep, "vector", v);
    }
    json_t *idx = json_object_get(opts, "indexing");
    if (json_is_object(idx)) json_object_set(keep, "indexing", idx);
    json_t *did = json_object_get(opts, "defaultId");
    if (json_is_object(did)) json_object_set(keep, "defaultId", did);

    coll_info ci;
    if (coll_lookup(cx, name, &ci, &e)) {
        json_decref(keep);
        return fail_resp(&e);
    }
    if (ci.exists) { /* idempotent with the same settings */
        bool same = ci.dim == dim && (!dim || ci.metric == metric);
        coll_info_free(&ci);
        json_decref(keep);
        if (same) return ok_resp();
        da_fail(&e, HLN_EEXISTS, "EXISTING_COLLECTION_DIFFERENT_SETTINGS",
                "Collection already exists with different settings: '%s'", name);
        return fail_resp(&e);
    }
    if (ci.table_exists) {
        json_decref(keep);
        da_fail(&e, HLN_EEXISTS, "EXISTING_TABLE_NOT_DATA_API_COLLECTION",
                "Table '%s' already exists and is not a Data API collection", name);
        return fail_resp(&e);
    }
    if (!keyspace_exists(cx, cx->keyspace)) {
        json_decref(keep);
        no_keyspace(&e, cx->keyspace);
        return fail_resp(&e);
    }
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "schema_version", json_integer(1));
    json_object_set_new(c, "options", keep);
    json_t *cm = json_object();
    json_object_set_new(cm, "collection", c);
    char *comment = json_dumps(cm, JSON_COMPACT);
    json_decref(cm);
    hln_buf q;
    hln_buf_init(&q);
    hln_buf_printf(&q,
                   "CREATE TABLE IF NOT EXISTS \"%s\".\"%s\" (key text PRIMARY KEY, doc_json text",
                   cx->keyspace, name);
    if (dim) hln_buf_printf(&q, ", query_vector_value vector<float, %d>", dim);
    hln_buf_printf(&q, ") WITH comment = '");
    for (const char *p = comment; p && *p; p++) { /* a CQL string: quotes doubled */
        if (*p == '\'') hln_buf_u8(&q, '\'');
        hln_buf_u8(&q, (uint8_t)*p);
    }
    hln_buf_printf(&q, "'");
    hln_buf_u8(&q, 0);
    free(comment);
    da_res *r = NULL;
    int rc = da_cql(cx, (const char *)q.data, NULL, 0, 0, NULL, 0, &r, &e);
    da_res_free(r);
    if (!rc && dim) {
        hln_buf_reset(&q);
        hln_buf_printf(&q,
                       "CREATE CUSTOM INDEX IF NOT EXISTS \"%s_query_vector_value\" ON "
                       "\"%s\".\"%s\" (query_vector_value) USING 'StorageAttachedIndex' WITH "
                       "OPTIONS = {'similarity_function': '%s'}",
                       name, cx->keyspace, name, da_metric_name(metric));
        hln_buf_u8(&q, 0);
        rc = da_cql(cx, (const char *)q.data, NULL, 0, 0, NULL, 0, &r, &e);
        da_res_free(r);
    }
    hln_buf_free(&q);
    return rc ? fail_resp(&e) : ok_resp();
}

static json_t *cmd_find_collections(da_ctx *cx, json_t *args)
{
    da_err e = {0};
    bool explain = json_is_true(json_object_get(json_object_get(args, "options"), "explain"));
    if (!keyspace_exists(cx, cx->keyspace)) {
        no_keyspace(&e, cx->keyspace);
        return fail_resp(&e);
    }
    ex_value v = val_text(cx->keyspace);
    da_res *r;
    if (da_cql(cx, "SELECT table_name, comment FROM system_schema.tables WHERE keyspace_name = ?",
               &v, 1, 0, NULL, 0, &r, &e))
        return fail_resp(&e);
    json_t *list = json_array();
    for (int i = 0; i < da_res_result(r)->nrows; i++) {
        char *name = text_of(da_res_cell(r, i, 0));
        char *comment = text_of(da_res_cell(r, i, 1));
        json_t *o = comment_options(comment);
        if (o && name) {
            if (explain) {
                json_t *d = json_object();
                json_object_set_new(d, "name", json_string(name));
                json_object_set(d, "options", o);
                json_array_append_new(list, d);
            } else {
                json_array_append_new(list, json_string(name));
            }
        }
        json_decref(o);
        hln_free(name);
        hln_free(comment);
    }
    da_res_free(r);
    json_t *st = json_object();
    json_object_set_new(st, "collections", list);
    return status_resp(st);
}

static json_t *cmd_delete_collection(da_ctx *cx, json_t *args)
{
    da_err e = {0};
    const char *name = json_string_value(json_object_get(args, "name"));
    if (!name_ok(name)) {
        da_fail(&e, HLN_EINVAL, "INVALID_REQUEST", "deleteCollection needs a collection name");
        return fail_resp(&e);
    }
    coll_info ci;
    if (coll_lookup(cx, name, &ci, &e)) return fail_resp(&e);
    bool exists = ci.exists;
    coll_info_free(&ci);
    if (exists) {
        char q[256];
        snprintf(q, sizeof q, "DROP TABLE IF EXISTS \"%s\".\"%s\"", cx->keyspace, name);
        da_res *r;
        if (da_cql(cx, q, NULL, 0, 0, NULL, 0, &r, &e)) return fail_resp(&e);
        da_res_free(r);
    }
    return ok_resp();
}

/* ---- keyspaces (/v1) ---------------------------------------------------- */

static json_t *cmd_find_keyspaces(da_ctx *cx)
{
    da_err e = {0};
    da_res *r;
    if (da_cql(cx, "SELECT keyspace_name FROM system_schema.keyspaces", NULL, 0, 0, NULL, 0, &r,
               &e))
        return fail_resp(&e);
    json_t *list = json_array();
    for (int i = 0; i < da_res_result(r)->nrows; i++) {
        char *n = text_of(da_res_cell(r, i, 0));
        if (n && strncmp(n, "system", 6)) json_array_append_new(list, json_string(n));
        hln_free(n);
    }
    da_res_free(r);
    json_t *st = json_object();
    json_object_set_new(st, "keyspaces", list);
    return status_resp(st);
}

static json_t *cmd_keyspace_ddl(da_ctx *cx, json_t *args, bool create)
{
    da_err e = {0};
    const char *name = json_string_value(json_object_get(args, "name"));
    if (!name_ok(name)) {
        da_fail(&e, HLN_EINVAL, "INVALID_REQUEST",
                "Keyspace name must be 1-48 letters, digits "
                "or underscores");
        return fail_resp(&e);
    }
    char q[512];
    if (create) {
        json_t *rep = json_object_get(json_object_get(args, "options"), "replication");
        json_t *rf = json_object_get(rep, "replication_factor");
        long n = json_is_integer(rf) ? (long)json_integer_value(rf) : 1;
        if (n < 1 || n > 64) n = 1;
        snprintf(q, sizeof q,
                 "CREATE KEYSPACE IF NOT EXISTS \"%s\" WITH replication = {'class': "
                 "'SimpleStrategy', 'replication_factor': %ld}",
                 name, n);
    } else {
        snprintf(q, sizeof q, "DROP KEYSPACE IF EXISTS \"%s\"", name);
    }
    da_res *r;
    if (da_cql(cx, q, NULL, 0, 0, NULL, 0, &r, &e)) return fail_resp(&e);
    da_res_free(r);
    return ok_resp();
}

/* ---- reading documents -------------------------------------------------- */

typedef struct drow {
    json_t *doc; /* with $vector put back */
    char *key;
    char *raw;  /* doc_json as stored: the condition of a write back */
    float *vec; /* query_vector_value, or NULL; put into doc as $vector
                   only when needed (attach_vector): the JSON of a long
                   vector costs more than the rest of a read */
    double sim;
} drow;

typedef struct dset {
    drow *v;
    size_t n, cap;
} dset;

static void dset_free(dset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->v[i].doc);
        hln_free(s->v[i].key);
        hln_free(s->v[i].raw);
        hln_free(s->v[i].vec);
    }
    hln_free(s->v);
    memset(s, 0, sizeof *s);
}

static int dset_push(dset *s, json_t *doc, char *key, char *raw, float *vec, double sim)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        drow *nv = hln_realloc(s->v, cap * sizeof *nv);
        if (!nv) return HLN_ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (drow){doc, key, raw, vec, sim};
    return 0;
}

/* What to read: the filter, and the sort (a $vector, or fields). */
typedef struct query {
    json_t *filter;
    json_t *sort_fields; /* {"f": 1|-1, ...} or NULL */
    float *qvec;         /* sort by similarity to this, or NULL */
    int qdim;
    size_t vector_k;       /* with qvec: how many */
    size_t max;            /* stop after this many matches (0: all); only without a sort */
    const char *after_key; /* a scan resumes after this key's token (find's pages) */
    bool filter_vector;    /* the filter names $vector: put it in before matching */
    bool need_vec;         /* the caller needs the vectors (projection, update) */
    bool read_vec;         /* load's: query_vector_value is read */
} query;

static void query_free(query *q)
{
    hln_free(q->qvec);
}

static bool empty_filter(json_t *f)
{
    return !f || json_is_null(f) || (json_is_object(f) && json_object_size(f) == 0);
}

/* Whether j (a filter, an update) names $vector anywhere. */
static bool mentions_vector(json_t *j)
{
    if (!j) return false;
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    bool yes = t && strstr(t, "\"$vector\"");
    free(t);
    return yes;
}

/* Whether a projection can show $vector. */
static bool projects_vector(json_t *p)
{
    return json_object_get(p, "*") || json_object_get(p, "$vector");
}

/* The _id value of a filter that names exactly one document, or NULL. */
static json_t *point_id(json_t *f)
{
    if (!json_is_object(f) || json_object_size(f) != 1) return NULL;
    json_t *v = json_object_get(f, "_id");
    if (!v) return NULL;
    if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "$eq"))
        v = json_object_get(v, "$eq");
    if (json_is_array(v)) return NULL;
    if (json_is_object(v)) {
        const char *k = json_object_iter_key(json_object_iter(v));
        if (json_object_size(v) != 1 ||
            (strcmp(k, "$uuid") && strcmp(k, "$objectId") && strcmp(k, "$date")))
            return NULL;
    }
    return v;
}

/* The _id values of a filter that names documents by id alone ({"_id":
 * v}, {"_id": {"$eq": v}}, {"_id": {"$in": [...]}}, up to 100), without
 * duplicates: a new array, or NULL (the filter needs a scan). */
static json_t *point_ids(json_t *f)
{
    json_t *one = point_id(f);
    json_t *out = json_array();
    if (one) {
        json_array_append(out, one);
        return out;
    }
    json_t *c = json_is_object(f) && json_object_size(f) == 1 ? json_object_get(f, "_id") : NULL;
    json_t *in = json_is_object(c) && json_object_size(c) == 1 ? json_object_get(c, "$in") : NULL;
    if (!json_is_array(in) || json_array_size(in) > 100) {
        json_decref(out);
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
    {
        json_t *probe = json_object();
        json_object_set(probe, "_id", v);
        bool ok = point_id(probe) != NULL;
        json_decref(probe);
        if (!ok) {
            json_decref(out);
            return NULL;
        }
        bool dup = false;
        size_t j;
        json_t *w;
        json_array_foreach(out, j, w)
        {
            if (json_equal(v, w)) dup = true;
        }
        if (!dup) json_array_append(out, v);
    }
    return out;
}

static int parse_sort(coll_info *ci, json_t *sort, query *q, da_err *e)
{
    if (!sort || json_is_null(sort) || (json_is_object(sort) && !json_object_size(sort))) return 0;
    if (!json_is_object(sort))
        return da_fail(e, HLN_EINVAL, "INVALID_SORT_CLAUSE", "Sort clause must be an object");
    if (json_object_get(sort, "$vectorize"))
        return da_fail(e, HLN_EUNSUPPORTED, "VECTORIZE_FEATURE_NOT_AVAILABLE",
                       "Vectorize (an embedding service) is not available on this server");
    json_t *v = json_object_get(sort, "$vector");
    if (v) {
        if (json_object_size(sort) != 1)
            return da_fail(e, HLN_EINVAL, "INVALID_SORT_CLAUSE",
                           "A $vector sort cannot be combined with other sort fields");
        if (!ci->dim)
            return da_fail(e, HLN_EINVAL, "VECTOR_SEARCH_NOT_SUPPORTED",
                           "Vector search is not enabled for the collection '%s'", "");
        int rc = da_vector_parse(v, &q->qvec, &q->qdim, e);
        if (rc) return rc;
        if (q->qdim != ci->dim)
            return da_fail(e, HLN_EINVAL, "VECTOR_SIZE_MISMATCH",
                           "Length of vector parameter different from declared '$vector' "
                           "dimension: root cause = (InvalidRequestException) Invalid vector "
                           "literal for query_vector_value of type vector<float, %d>; expected "
                           "%d elements, but given %d",
                           ci->dim, ci->dim, q->qdim);
        return 0;
    }
    const char *k;
    json_t *d;
    json_object_foreach(sort, k, d)
    {
        if (!json_is_integer(d) || (json_integer_value(d) != 1 && json_integer_value(d) != -1))
            return da_fail(e, HLN_EINVAL, "INVALID_SORT_CLAUSE_VALUE",
                           "Sort ordering value can only be `1` for ascending or `-1` for "
                           "descending (field '%s')",
                           k);
    }
    q->sort_fields = sort;
    return 0;
}

static _Thread_local json_t *sort_spec;

static int by_fields(const void *a, const void *b)
{
    const drow *x = a, *y = b;
    const char *k;
    json_t *d;
    json_object_foreach(sort_spec, k, d)
    {
        int c = da_value_compare(da_path_get(x->doc, k), da_path_get(y->doc, k));
        if (c) return json_integer_value(d) < 0 ? -c : c;
    }
    return 0;
}

static int by_similarity(const void *a, const void *b)
{
    const drow *x = a, *y = b;
    return x->sim > y->sim ? -1 : x->sim < y->sim;
}

/* One row (key, doc_json[, vector]) into out when it matches; *stop when
 * q->max is reached. */
static int take_row(coll_info *ci, query *q, da_res *r, int i, dset *out, da_err *e)
{
    ex_value kv = da_res_cell(r, i, 0), dv = da_res_cell(r, i, 1);
    if (dv.len < 0) return 0;
    json_t *doc = json_loadb((const char *)dv.p, (size_t)dv.len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0; /* written from CQL, not a document: skipped */
    }
    if (!json_object_get(doc, "_id")) { /* written from CQL without one: the key's */
        json_t *id = kv.len > 0
                         ? json_loadb((const char *)kv.p, (size_t)kv.len, JSON_DECODE_ANY, NULL)
                         : NULL;
        if (!id || json_is_array(id) || (json_is_object(id) && !da_is_value_wrapper(id))) {
            json_decref(id);
            id = kv.len > 0 ? json_stringn((const char *)kv.p, (size_t)kv.len) : json_string("");
        }
        json_t *with = json_object();
        json_object_set_new(with, "_id", id);
        json_object_update(with, doc);
        json_decref(doc);
        doc = with;
    }
    float *vec = NULL;
    if (q->read_vec) {
        ex_value vv = da_res_cell(r, i, 2);
        if (vv.len == 4 * ci->dim) {
            vec = hln_malloc((size_t)ci->dim * sizeof *vec);
            if (vec) {
                vec_deserialise(vv.p, ci->dim, vec);
                if (q->filter_vector)
                    json_object_set_new(doc, "$vector", da_vector_json(vec, ci->dim));
            }
        }
    }
    int m = da_filter_match(q->filter, doc, e);
    if (m <= 0 || (q->qvec && !vec)) {
        hln_free(vec);
        json_decref(doc);
        return m;
    }
    double sim = q->qvec ? da_similarity(ci->metric, q->qvec, vec, ci->dim) : 0;
    char *key = text_of(kv), *raw = text_of(dv);
    if (!key || !raw || dset_push(out, doc, key, raw, vec, sim)) {
        hln_free(key);
        hln_free(raw);
        hln_free(vec);
        json_decref(doc);
        return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    }
    return 1;
}

/* Reads the documents matching q, sorted as q says. */
static int load(da_ctx *cx, coll_info *ci, query *q, dset *out, da_err *e)
{
    memset(out, 0, sizeof *out);
    /* an invalid filter fails even on an empty collection */
    json_t *probe = json_object();
    int rc = da_filter_match(q->filter, probe, e);
    json_decref(probe);
    if (rc < 0) return rc;
    rc = 0;
    q->filter_vector = ci->dim && mentions_vector(q->filter);
    q->read_vec = ci->dim && (q->need_vec || q->qvec || q->filter_vector);
    hln_buf sql;
    hln_buf_init(&sql);
    hln_buf_printf(&sql, "SELECT key, doc_json%s FROM \"%s\".\"%s\"",
                   q->read_vec ? ", query_vector_value" : "", cx->keyspace, cx->collection);
    json_t *ids = point_ids(q->filter);
    size_t nids = ids ? json_array_size(ids) : 1;
    char *pkey = NULL;
    uint8_t *vbuf = NULL;
    ex_value vals[2];
    int nv = 0;
    bool ann = q->qvec && empty_filter(q->filter);
    if (ids) {
        hln_buf_printf(&sql, " WHERE key = ?");
        nv = 1; /* each id's key in turn */
    } else if (ann) {
        vbuf = hln_malloc((size_t)q->qdim * 4);
        if (!vbuf) {
            rc = da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
            goto out;
        }
        vec_serialise(q->qvec, q->qdim, vbuf);
        vals[nv++] = (ex_value){vbuf, (int32_t)q->qdim * 4};
        hln_buf_printf(&sql, " ORDER BY query_vector_value ANN OF ? LIMIT %zu", q->vector_k);
    } else if (q->after_key) {
        hln_buf_printf(&sql, " WHERE token(key) > token(?)");
        vals[nv++] = val_text(q->after_key);
    }
    hln_buf_u8(&sql, 0);
    uint8_t *state = NULL;
    int32_t state_len = 0;
    bool full = false;
    /* a scan that stops early starts with small pages, then grows them */
    int32_t psize = q->max && q->max < 200 && !q->qvec && !q->sort_fields ? 100 : SCAN_PAGE;
    for (size_t k = 0; k < nids && !rc && !full; k++) {
        if (ids) {
            hln_free(pkey);
            pkey = NULL;
            rc = da_id_key(json_array_get(ids, k), &pkey, e);
            if (rc) break;
            vals[0] = val_text(pkey);
        }
        for (;;) {
            da_res *r;
            rc = da_cql(cx, (const char *)sql.data, vals, nv, ann || ids ? 0 : psize, state,
                        state_len, &r, e);
            psize = psize * 2 < SCAN_PAGE ? psize * 2 : SCAN_PAGE;
            hln_free(state);
            state = NULL;
            if (rc) break;
            const ex_result *x = da_res_result(r);
            for (int i = 0; i < x->nrows && !full; i++) {
                rc = take_row(ci, q, r, i, out, e);
                if (rc < 0) break;
                rc = 0;
                full = q->max && !q->qvec && !q->sort_fields && out->n >= q->max;
            }
            if (!rc && !full && x->paging_state && x->paging_len > 0) {
                state = hln_malloc((size_t)x->paging_len);
                if (state) {
                    memcpy(state, x->paging_state, (size_t)x->paging_len);
                    state_len = x->paging_len;
                }
            }
            da_res_free(r);
            if (rc || !state) break;
        }
    }
    hln_free(state);
    if (rc) goto out;
    if (q->qvec) {
        if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, by_similarity);
        while (out->n > q->vector_k) {
            out->n--;
            json_decref(out->v[out->n].doc);
            hln_free(out->v[out->n].key);
            hln_free(out->v[out->n].raw);
            hln_free(out->v[out->n].vec);
        }
    } else if (q->sort_fields) {
        sort_spec = q->sort_fields;
        if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, by_fields);
        sort_spec = NULL;
    }
out:
    if (rc) dset_free(out);
    json_decref(ids);
    hln_free(pkey);
    hln_free(vbuf);
    hln_buf_free(&sql);
    return rc;
}

/* Puts d's vector into its document as $vector (once). */
static void attach_vector(coll_info *ci, drow *d)
{
    if (d->vec && !json_object_get(d->doc, "$vector"))
        json_object_set_new(d->doc, "$vector", da_vector_json(d->vec, ci->dim));
}

/* The projected document for a response, with $similarity when asked. */
static json_t *shown(coll_info *ci, drow *d, json_t *projection, bool similarity, da_err *e)
{
    if (json_object_get(projection, "*") || json_object_get(projection, "$vector"))
        attach_vector(ci, d);
    json_t *o = da_project(d->doc, projection, e);
    if (o && similarity) json_object_set_new(o, "$similarity", json_real(d->sim));
    return o;
}

/* ---- writing documents -------------------------------------------------- */

/* Writes doc (its _id set) as its row. expect != NULL: only if the row's
 * doc_json is still expect (a lightweight transaction; *applied false when
 * another write came first); else if_not_exists: only when new (*applied
 * false when the key was taken); else unconditionally. */
static int write_doc(da_ctx *cx, coll_info *ci, json_t *doc, bool if_not_exists, const char *expect,
                     const char *row_key, bool set_vector, bool *applied, da_err *e)
{
    *applied = true;
    char *key = NULL;
    int rc = row_key ? ((key = hln_strdup(row_key))
                            ? 0
                            : da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory"))
                     : da_id_key(json_object_get(doc, "_id"), &key, e);
    if (rc) return rc;
    float *vec = NULL;
    int n = 0;
    json_t *vj = json_object_get(doc, "$vector");
    if (vj && !json_is_null(vj)) {
        if (!ci->dim) {
            hln_free(key);
            return da_fail(e, HLN_EINVAL, "VECTOR_SEARCH_NOT_SUPPORTED",
                           "Vector search is not enabled for the collection; a document "
                           "cannot have '$vector'");
        }
        rc = da_vector_parse(vj, &vec, &n, e);
        if (!rc && n != ci->dim)
            rc = da_fail(e, HLN_EINVAL, "VECTOR_SIZE_MISMATCH",
                         "Length of vector parameter different from declared '$vector' "
                         "dimension: expected %d elements, but given %d",
                         ci->dim, n);
        if (!rc && ci->metric == DA_COSINE) {
            double norm = 0;
            for (int i = 0; i < n; i++)
                norm += (double)vec[i] * vec[i];
            if (norm < 1e-12)
                rc = da_fail(e, HLN_EINVAL, "INVALID_VECTOR_VALUE",
                             "Zero and near-zero vectors cannot be indexed or queried with "
                             "cosine similarity");
        }
        if (rc) {
            hln_free(key);
            hln_free(vec);
            return rc;
        }
    }
    json_t *body = json_copy(doc);
    json_object_del(body, "$vector");
    json_object_del(body, "$similarity");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    uint8_t *vbuf = vec ? hln_malloc((size_t)n * 4) : NULL;
    if (!text || (vec && !vbuf)) {
        free(text);
        hln_free(key);
        hln_free(vec);
        hln_free(vbuf);
        return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    }
    if (vec) vec_serialise(vec, n, vbuf);
    ex_value vv = vec ? (ex_value){vbuf, (int32_t)n * 4} : val_null();
    ex_value vals[4];
    int nv = 0;
    char q[512];
    if (expect) {
        bool v = ci->dim && (set_vector || vj); /* else the stored vector stays */
        snprintf(q, sizeof q,
                 "UPDATE \"%s\".\"%s\" SET doc_json = ?%s WHERE key = ? IF doc_json = ?",
                 cx->keyspace, cx->collection, v ? ", query_vector_value = ?" : "");
        vals[nv++] = val_text(text);
        if (v) vals[nv++] = vv;
        vals[nv++] = val_text(key);
        vals[nv++] = val_text(expect);
    } else {
        snprintf(q, sizeof q, "INSERT INTO \"%s\".\"%s\" (key, doc_json%s) VALUES (?, ?%s)%s",
                 cx->keyspace, cx->collection, ci->dim ? ", query_vector_value" : "",
                 ci->dim ? ", ?" : "", if_not_exists ? " IF NOT EXISTS" : "");
        vals[nv++] = val_text(key);
        vals[nv++] = val_text(text);
        if (ci->dim) vals[nv++] = vv;
    }
    da_res *r;
    rc = da_cql(cx, q, vals, nv, 0, NULL, 0, &r, e);
    if (!rc && (if_not_exists || expect)) {
        const ex_result *x = da_res_result(r);
        ex_value a = x->nrows > 0 && x->ncols > 0 ? da_res_cell(r, 0, 0) : (ex_value){NULL, -1};
        *applied = a.len == 1 && a.p[0] != 0;
    }
    if (!rc) da_res_free(r);
    free(text);
    hln_free(key);
    hln_free(vec);
    hln_free(vbuf);
    return rc;
}

/* Deletes the row of key if its doc_json is still expect (*applied false
 * when another write came first). */
static int delete_key(da_ctx *cx, const char *key, const char *expect, bool *applied, da_err *e)
{
    char q[256];
    snprintf(q, sizeof q, "DELETE FROM \"%s\".\"%s\" WHERE key = ? IF doc_json = ?", cx->keyspace,
             cx->collection);
    ex_value v[2] = {val_text(key), val_text(expect)};
    da_res *r;
    int rc = da_cql(cx, q, v, 2, 0, NULL, 0, &r, e);
    if (!rc) {
        const ex_result *x = da_res_result(r);
        ex_value a = x->nrows > 0 && x->ncols > 0 ? da_res_cell(r, 0, 0) : (ex_value){NULL, -1};
        *applied = a.len == 1 && a.p[0] != 0;
        da_res_free(r);
    }
    return rc;
}

/* doc with _id first (a new id when it has none): a new reference. */
static json_t *with_id(json_t *doc)
{
    json_t *id = json_object_get(doc, "_id");
    json_t *out = json_object();
    json_object_set_new(out, "_id", id ? json_incref(id) : da_new_id());
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "_id")) json_object_set(out, k, v);
    }
    return out;
}

/* ---- document commands -------------------------------------------------- */

static json_t *cmd_insert(da_ctx *cx, coll_info *ci, json_t *args, bool many)
{
    da_err e = {0};
    json_t *docs;
    json_t *single = NULL;
    if (many) {
        docs = json_object_get(args, "documents");
        if (!json_is_array(docs) || json_array_size(docs) == 0 || json_array_size(docs) > 1000) {
            da_fail(&e, HLN_EINVAL, "INVALID_REQUEST",
                    "insertMany needs 'documents': an array of 1-1000 documents");
            return fail_resp(&e);
        }
    } else {
        json_t *d = json_object_get(args, "document");
        if (!json_is_object(d)) {
            da_fail(&e, HLN_EINVAL, "INVALID_REQUEST", "insertOne needs a 'document' object");
            return fail_resp(&e);
        }
        single = json_array();
        json_array_append(single, d);
        docs = single;
    }
    json_t *opts = json_object_get(args, "options");
    bool ordered = json_is_true(json_object_get(opts, "ordered"));
    bool responses = json_is_true(json_object_get(opts, "returnDocumentResponses"));
    json_t *ids = json_array(), *resps = json_array(), *errors = json_array();
    bool stopped = false;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        json_t *rec = json_object();
        if (stopped) {
            json_t *id = json_object_get(d, "_id");
            json_object_set_new(rec, "_id", id ? json_incref(id) : json_null());
            json_object_set_new(rec, "status", json_string("SKIPPED"));
            json_array_append_new(resps, rec);
            continue;
        }
        da_err de = {0};
        int rc = 0;
        json_t *doc = NULL;
        if (!json_is_object(d))
            rc = da_fail(&de, HLN_EINVAL, "SHRED_BAD_DOCUMENT_TYPE",
                         "Bad document type to shred: document to shred must be a JSON "
                         "Object, instead got %s",
                         json_is_array(d) ? "ARRAY" : "a scalar");
        else
            doc = with_id(d);
        bool applied = true;
        if (!rc) rc = write_doc(cx, ci, doc, true, NULL, NULL, true, &applied, &de);
        if (!rc && !applied) {
            char *key = NULL;
            da_id_key(json_object_get(doc, "_id"), &key, NULL);
            rc = da_fail(&de, HLN_EEXISTS, "DOCUMENT_ALREADY_EXISTS",
                         "Failed to insert document with _id %s: Document already exists with "
                         "the given _id",
                         key ? key : "?");
            hln_free(key);
        }
        json_t *id = doc ? json_object_get(doc, "_id") : NULL;
        json_object_set_new(rec, "_id", id ? json_incref(id) : json_null());
        if (rc) {
            json_t *er = da_error_response(de.code, de.msg);
            json_t *one = json_array_get(json_object_get(er, "errors"), 0);
            json_object_set_new(rec, "status", json_string("ERROR"));
            json_object_set_new(rec, "errorsIdx",
                                json_integer((json_int_t)json_array_size(errors)));
            json_array_append(errors, one);
            json_decref(er);
            if (ordered) stopped = true;
        } else {
            json_object_set_new(rec, "status", json_string("OK"));
            json_array_append(ids, id);
        }
        json_array_append_new(resps, rec);
        json_decref(doc);
    }
    json_decref(single);
    json_t *st = json_object();
    if (responses)
        json_object_set_new(st, "documentResponses", resps);
    else {
        json_object_set_new(st, "insertedIds", ids);
        ids = NULL;
        json_decref(resps);
    }
    json_decref(ids);
    json_t *out = status_resp(st);
    if (json_array_size(errors))
        json_object_set_new(out, "errors", errors);
    else
        json_decref(errors);
    return out;
}

/* The query of a find-like command's filter and sort. */
static int make_query(coll_info *ci, json_t *args, query *q, da_err *e)
{
    memset(q, 0, sizeof *q);
    q->filter = json_object_get(args, "filter");
    if (q->filter && !json_is_object(q->filter) && !json_is_null(q->filter))
        return da_fail(e, HLN_EINVAL, "INVALID_FILTER_EXPRESSION", "Filter must be an object");
    return parse_sort(ci, json_object_get(args, "sort"), q, e);
}

static json_t *cmd_find(da_ctx *cx, coll_info *ci, json_t *args, bool one)
{
    da_err e = {0};
    query q;
    json_t *opts = json_object_get(args, "options");
    json_t *projection = json_object_get(args, "projection");
    if (make_query(ci, args, &q, &e) || da_project_check(projection, &e)) {
        query_free(&q);
        return fail_resp(&e);
    }
    json_t *lj = json_object_get(opts, "limit");
    json_t *sj = json_object_get(opts, "skip");
    json_t *pj = json_object_get(opts, "pageState");
    if ((lj && (!json_is_integer(lj) || json_integer_value(lj) < 0)) ||
        (sj && (!json_is_integer(sj) || json_integer_value(sj) < 0))) {
        query_free(&q);
        da_fail(&e, HLN_EINVAL, "INVALID_REQUEST", "limit and skip must be non-negative integers");
        return fail_resp(&e);
    }
    size_t limit = one ? 1 : lj && json_integer_value(lj) > 0 ? (size_t)json_integer_value(lj) : 0;
    size_t skip = sj ? (size_t)json_integer_value(sj) : 0;
    bool similarity = json_is_true(json_object_get(opts, "includeSimilarity"));
    bool sort_vector = json_is_true(json_object_get(opts, "includeSortVector"));
    /* Pages: a plain find streams in token order, its page state the count
     * returned so far and the last key ("k<n>:<key>"); a sorted one (or
     * one with skip) sorts every match and pages by offset ("o<n>"). A
     * vector sort answers in one page. */
    q.need_vec = projects_vector(projection);
    bool stream = !one && !q.qvec && !q.sort_fields && skip == 0;
    const char *ps = json_is_string(pj) ? json_string_value(pj) : "";
    size_t before = 0;
    char *endp = NULL;
    if (*ps) {
        before = strtoul(ps + 1, &endp, 10);
        if ((stream ? ps[0] != 'k' || *endp != ':' : ps[0] != 'o' || *endp) || endp == ps + 1) {
            query_free(&q);
            da_fail(&e, HLN_EINVAL, "INVALID_REQUEST", "Invalid pageState '%s'", ps);
            return fail_resp(&e);
        }
        if (stream) q.after_key = endp + 1;
    }
    size_t page = PAGE_DOCS;
    if (limit) page = limit > before ? limit - before : 0;
    if (page > PAGE_DOCS && !one) page = PAGE_DOCS;
    q.vector_k = limit && limit + skip < MAX_VECTOR_K ? limit + skip : MAX_VECTOR_K;
    if (stream)
        q.max = page + 1; /* one more: is there a next page? */
    else if (!q.qvec && !q.sort_fields && limit)
        q.max = skip + limit;
    dset s;
    if (page == 0) {
        memset(&s, 0, sizeof s);
    } else if (load(cx, ci, &q, &s, &e)) {
        query_free(&q);
        return fail_resp(&e);
    }
    size_t from, to;
    bool more;
    if (stream) {
        from = 0;
        to = s.n < page ? s.n : page;
        more = s.n > page;
    } else {
        size_t end = limit ? skip + limit : s.n;
        if (end > s.n) end = s.n;
        from = skip + before;
        to = end;
        if (!one && !q.qvec && to > from && to - from > PAGE_DOCS) to = from + PAGE_DOCS;
        more = !one && !q.qvec && to < end;
    }
    json_t *list = json_array();
    for (size_t i = from; i < to; i++) {
        json_t *o = shown(ci, &s.v[i], projection, similarity && q.qvec, &e);
        if (o) json_array_append_new(list, o);
    }
    json_t *data = json_object();
    if (one) {
        json_t *first = json_array_get(list, 0);
        json_object_set(data, "document", first ? first : json_null());
        json_decref(list);
    } else {
        json_object_set_new(data, "documents", list);
        if (more && to > from) {
            hln_buf st;
            hln_buf_init(&st);
            if (stream)
                hln_buf_printf(&st, "k%zu:%s", before + (to - from), s.v[to - 1].key);
            else
                hln_buf_printf(&st, "o%zu", to - skip);
            hln_buf_u8(&st, 0);
            json_object_set_new(data, "nextPageState", json_string((const char *)st.data));
            hln_buf_free(&st);
        } else {
            json_object_set_new(data, "nextPageState", json_null());
        }
    }
    json_t *out = json_object();
    json_object_set_new(out, "data", data);
    if (sort_vector && !one) {
        json_t *st = json_object();
        json_object_set_new(st, "sortVector",
                            q.qvec ? da_vector_json(q.qvec, q.qdim) : json_null());
        json_object_set_new(out, "status", st);
    }
    dset_free(&s);
    query_free(&q);
    return out;
}

static json_t *cmd_count(da_ctx *cx, coll_info *ci, json_t *args, bool estimated)
{
    da_err e = {0};
    query q;
    if (make_query(ci, estimated ? NULL : args, &q, &e)) {
        query_free(&q);
        return fail_resp(&e);
    }
    q.max = estimated ? 0 : MAX_COUNT + 1;
    dset s;
    if (load(cx, ci, &q, &s, &e)) {
        query_free(&q);
        return fail_resp(&e);
    }
    json_t *st = json_object();
    if (!estimated && s.n > MAX_COUNT) {
        json_object_set_new(st, "count", json_integer(MAX_COUNT));
        json_object_set_new(st, "moreData", json_true());
    } else {
        json_object_set_new(st, "count", json_integer((json_int_t)s.n));
    }
    dset_free(&s);
    query_free(&q);
    return status_resp(st);
}

/* The fields an upsert's new document starts with: the filter's equalities. */
static void seed_from_filter(json_t *filter, json_t *doc)
{
    const char *k;
    json_t *v;
    json_object_foreach(filter, k, v)
    {
        if (!strcmp(k, "$and") && json_is_array(v)) {
            size_t i;
            json_t *sub;
            json_array_foreach(v, i, sub)
            {
                if (json_is_object(sub)) seed_from_filter(sub, doc);
            }
            continue;
        }
        if (k[0] == '$') continue;
        if (json_is_object(v) && json_object_size(v) > 0 && !da_is_value_wrapper(v) &&
            json_object_iter_key(json_object_iter(v))[0] == '$') {
            json_t *eq = json_object_get(v, "$eq");
            if (eq) da_path_set(doc, k, json_deep_copy(eq), NULL);
            continue;
        }
        da_path_set(doc, k, json_deep_copy(v), NULL);
    }
}

/* The kinds of modification: an update (operators), a replacement, a delete. */
enum { MOD_UPDATE, MOD_REPLACE, MOD_DELETE };

typedef struct mod_out {
    size_t matched, modified, deleted;
    json_t *upserted_id;    /* new ref or NULL */
    json_t *before, *after; /* of the first document (new refs) */
} mod_out;

enum { MAX_RETRIES = 10 }; /* a document changed under a write: read again */

/* Re-reads the row of d->key into d; *still false when it is gone or no
 * longer matches the filter. */
static int reread(da_ctx *cx, coll_info *ci, json_t *filter, bool need_vec, drow *d, bool *still,
                  da_err *e)
{
    *still = false;
    json_t *f = json_object();
    json_t *id = json_loads(d->key, JSON_DECODE_ANY, NULL);
    json_t *eq = json_object();
    json_object_set_new(eq, "$eq", id ? id : json_null());
    json_object_set_new(f, "_id", eq);
    query q = {.filter = f, .need_vec = need_vec};
    dset one;
    int rc = load(cx, ci, &q, &one, e);
    json_decref(f);
    if (rc) return rc;
    if (one.n == 1) {
        rc = da_filter_match(filter, one.v[0].doc, e);
        if (rc > 0) {
            *still = true;
            json_decref(d->doc);
            hln_free(d->raw);
            hln_free(d->vec);
            d->doc = one.v[0].doc;
            d->raw = one.v[0].raw;
            d->vec = one.v[0].vec;
            one.v[0].doc = NULL;
            one.v[0].raw = NULL;
            one.v[0].vec = NULL;
        }
        rc = rc < 0 ? rc : 0;
    }
    dset_free(&one);
    return rc;
}

/* One matched document: update, replace or delete it, conditional on its
 * stored text being what was read, so a concurrent write is never lost:
 * the document is read again, matched again and changed again. */
static int modify_one(da_ctx *cx, coll_info *ci, query *q, int kind, json_t *change, drow *d,
                      bool first, mod_out *mo, da_err *e)
{
    for (int attempt = 0;; attempt++) {
        attach_vector(ci, d); /* an update keeps (or changes) it */
        json_t *doc = json_deep_copy(d->doc);
        bool changed = false, applied = true;
        int rc = 0;
        if (kind == MOD_DELETE) {
            rc = delete_key(cx, d->key, d->raw, &applied, e);
        } else if (kind == MOD_UPDATE) {
            rc = da_update_apply(doc, change, false, &changed, e);
        } else {
            json_t *id = json_object_get(change, "_id");
            if (id && da_value_compare(id, json_object_get(doc, "_id")))
                rc = da_fail(e, HLN_EINVAL, "DOCUMENT_REPLACE_DIFFERENT_DOCID",
                             "The replace document and document resolved using filter have "
                             "different _id");
            json_t *nd = json_object();
            json_object_set(nd, "_id", json_object_get(doc, "_id"));
            json_object_update(nd, change);
            json_object_set(nd, "_id", json_object_get(doc, "_id"));
            changed = !json_equal(nd, doc);
            json_decref(doc);
            doc = nd;
        }
        if (!rc && changed)
            rc = write_doc(cx, ci, doc, false, d->raw, d->key, kind == MOD_REPLACE || q->read_vec,
                           &applied, e);
        if (rc || applied) {
            if (!rc) {
                mo->matched++;
                if (kind == MOD_DELETE) mo->deleted++;
                if (changed) mo->modified++;
                if (first) {
                    mo->before = json_deep_copy(d->doc);
                    mo->after = json_incref(doc);
                }
            }
            json_decref(doc);
            return rc;
        }
        json_decref(doc);
        if (attempt + 1 >= MAX_RETRIES)
            return da_fail(e, HLN_EIO, "CONCURRENCY_FAILURE",
                           "Unable to complete transaction due to concurrent transactions");
        bool still;
        rc = reread(cx, ci, q->filter, q->read_vec, d, &still, e);
        if (rc || !still) return rc;
    }
}

/* Applies one modification to the documents of q (at most `max`, 0 =
 * all); upsert inserts when nothing matched. */
static int modify(da_ctx *cx, coll_info *ci, query *q, int kind, json_t *change, bool upsert,
                  size_t max, mod_out *mo, da_err *e)
{
    memset(mo, 0, sizeof *mo);
    if (kind == MOD_UPDATE) { /* an invalid update fails before anything is read */
        json_t *probe = json_object();
        bool m;
        int rc = da_update_apply(probe, change, true, &m, e);
        json_decref(probe);
        if (rc) return rc;
    }
    if (kind == MOD_REPLACE) {
        if (!json_is_object(change))
            return da_fail(e, HLN_EINVAL, "INVALID_REQUEST", "The replacement must be a document");
        const char *k;
        json_t *v;
        json_object_foreach(change, k, v)
        {
            if (k[0] == '$' && strcmp(k, "$vector"))
                return da_fail(e, HLN_EINVAL, "INVALID_REQUEST",
                               "A replacement document cannot hold update operators ('%s')", k);
        }
    }
    if (max && !q->qvec && !q->sort_fields) q->max = max;
    if (q->qvec) q->vector_k = max ? max : MAX_VECTOR_K;
    dset s;
    int rc = load(cx, ci, q, &s, e);
    if (rc) return rc;
    size_t n = max && s.n > max ? max : s.n;
    for (size_t i = 0; i < n && !rc; i++)
        rc = modify_one(cx, ci, q, kind, change, &s.v[i], i == 0, mo, e);
    if (!rc && n == 0 && upsert && kind != MOD_DELETE) {
        json_t *doc = json_object();
        if (json_is_object(q->filter)) seed_from_filter(q->filter, doc);
        bool changed;
        if (kind == MOD_UPDATE)
            rc = da_update_apply(doc, change, true, &changed, e);
        else
            json_object_update(doc, change);
        if (!rc) {
            json_t *full = with_id(doc);
            bool applied;
            rc = write_doc(cx, ci, full, true, NULL, NULL, true, &applied, e);
            if (!rc && !applied)
                rc = da_fail(e, HLN_EEXISTS, "DOCUMENT_ALREADY_EXISTS",
                             "Document already exists with the given _id");
            if (!rc) {
                mo->upserted_id = json_incref(json_object_get(full, "_id"));
                mo->after = json_deep_copy(full);
            }
            json_decref(full);
        }
        json_decref(doc);
    }
    dset_free(&s);
    return rc;
}

static void mod_out_free(mod_out *mo)
{
    json_decref(mo->upserted_id);
    json_decref(mo->before);
    json_decref(mo->after);
}

static json_t *update_status(mod_out *mo)
{
    json_t *st = json_object();
    if (mo->upserted_id) json_object_set(st, "upsertedId", mo->upserted_id);
    json_object_set_new(st, "matchedCount", json_integer((json_int_t)mo->matched));
    json_object_set_new(st, "modifiedCount", json_integer((json_int_t)mo->modified));
    return st;
}

/* updateOne, updateMany, replaceOne, deleteOne, deleteMany */
static json_t *cmd_modify(da_ctx *cx, coll_info *ci, json_t *args, int kind, bool many)
{
    da_err e = {0};
    query q;
    if (make_query(ci, args, &q, &e)) {
        query_free(&q);
        return fail_resp(&e);
    }
    json_t *change = kind == MOD_UPDATE    ? json_object_get(args, "update")
                     : kind == MOD_REPLACE ? json_object_get(args, "replacement")
                                           : NULL;
    bool upsert = json_is_true(json_object_get(json_object_get(args, "options"), "upsert"));
    q.need_vec = kind == MOD_UPDATE && mentions_vector(change);
    mod_out mo;
    int rc = modify(cx, ci, &q, kind, change, upsert, many ? 0 : 1, &mo, &e);
    query_free(&q);
    json_t *out;
    if (rc) {
        out = fail_resp(&e);
    } else if (kind == MOD_DELETE) {
        json_t *st = json_object();
        json_object_set_new(st, "deletedCount", json_integer((json_int_t)mo.deleted));
        out = status_resp(st);
    } else {
        out = status_resp(update_status(&mo));
    }
    mod_out_free(&mo);
    return out;
}

/* findOneAndUpdate, findOneAndReplace, findOneAndDelete */
static json_t *cmd_find_one_and(da_ctx *cx, coll_info *ci, json_t *args, int kind)
{
    da_err e = {0};
    query q;
    json_t *projection = json_object_get(args, "projection");
    if (make_query(ci, args, &q, &e) || da_project_check(projection, &e)) {
        query_free(&q);
        return fail_resp(&e);
    }
    json_t *opts = json_object_get(args, "options");
    json_t *change = kind == MOD_UPDATE    ? json_object_get(args, "update")
                     : kind == MOD_REPLACE ? json_object_get(args, "replacement")
                                           : NULL;
    bool upsert = json_is_true(json_object_get(opts, "upsert"));
    const char *rd = json_string_value(json_object_get(opts, "returnDocument"));
    bool after = rd && !strcmp(rd, "after");
    q.need_vec = (kind == MOD_UPDATE && mentions_vector(change)) || projects_vector(projection);
    mod_out mo;
    int rc = modify(cx, ci, &q, kind, change, upsert, 1, &mo, &e);
    query_free(&q);
    if (rc) {
        mod_out_free(&mo);
        return fail_resp(&e);
    }
    json_t *shown_doc = kind != MOD_DELETE && after ? mo.after : mo.matched ? mo.before : NULL;
    json_t *data = json_object();
    json_t *p = shown_doc ? da_project(shown_doc, projection, &e) : NULL;
    json_object_set_new(data, "document", p ? p : json_null());
    json_t *st;
    if (kind == MOD_DELETE) {
        st = json_object();
        json_object_set_new(st, "deletedCount", json_integer((json_int_t)mo.deleted));
    } else {
        st = update_status(&mo);
    }
    json_t *out = json_object();
    json_object_set_new(out, "data", data);
    json_object_set_new(out, "status", st);
    mod_out_free(&mo);
    return out;
}

/* ---- dispatch ----------------------------------------------------------- */

static json_t *unknown(const char *name, const char *where)
{
    da_err e;
    da_fail(&e, HLN_EINVAL, "NO_COMMAND_MATCHED",
            "Unable to find the provided command: \"%s\" (at %s)", name, where);
    return fail_resp(&e);
}

json_t *da_execute(da_ctx *cx, json_t *command)
{
    void *it = json_object_iter(command);
    const char *name = json_object_iter_key(it);
    json_t *args = json_object_iter_value(it);
    if (!cx->keyspace) {
        if (!strcmp(name, "findKeyspaces") || !strcmp(name, "findNamespaces"))
            return cmd_find_keyspaces(cx);
        if (!strcmp(name, "createKeyspace") || !strcmp(name, "createNamespace"))
            return cmd_keyspace_ddl(cx, args, true);
        if (!strcmp(name, "dropKeyspace") || !strcmp(name, "dropNamespace"))
            return cmd_keyspace_ddl(cx, args, false);
        return unknown(name, "/v1");
    }
    if (!cx->collection) {
        if (!strcmp(name, "createCollection")) return cmd_create_collection(cx, args);
        if (!strcmp(name, "findCollections")) return cmd_find_collections(cx, args);
        if (!strcmp(name, "deleteCollection")) return cmd_delete_collection(cx, args);
        return unknown(name, "the keyspace level");
    }
    static const char *const known[] = {
        "insertOne",         "insertMany",      "find",
        "findOne",           "countDocuments",  "estimatedDocumentCount",
        "updateOne",         "updateMany",      "replaceOne",
        "deleteOne",         "deleteMany",      "findOneAndUpdate",
        "findOneAndReplace", "findOneAndDelete"};
    bool ok = false;
    for (size_t i = 0; i < HLN_ARRAY_LEN(known); i++)
        if (!strcmp(name, known[i])) ok = true;
    if (!ok) return unknown(name, "the collection level");
    da_err e = {0};
    coll_info ci;
    if (coll_open(cx, &ci, &e)) {
        coll_info_free(&ci);
        return fail_resp(&e);
    }
    json_t *out;
    if (!strcmp(name, "insertOne"))
        out = cmd_insert(cx, &ci, args, false);
    else if (!strcmp(name, "insertMany"))
        out = cmd_insert(cx, &ci, args, true);
    else if (!strcmp(name, "find"))
        out = cmd_find(cx, &ci, args, false);
    else if (!strcmp(name, "findOne"))
        out = cmd_find(cx, &ci, args, true);
    else if (!strcmp(name, "countDocuments"))
        out = cmd_count(cx, &ci, args, false);
    else if (!strcmp(name, "estimatedDocumentCount"))
        out = cmd_count(cx, &ci, args, true);
    else if (!strcmp(name, "updateOne"))
        out = cmd_modify(cx, &ci, args, MOD_UPDATE, false);
    else if (!strcmp(name, "updateMany"))
        out = cmd_modify(cx, &ci, args, MOD_UPDATE, true);
    else if (!strcmp(name, "replaceOne"))
        out = cmd_modify(cx, &ci, args, MOD_REPLACE, false);
    else if (!strcmp(name, "deleteOne"))
        out = cmd_modify(cx, &ci, args, MOD_DELETE, false);
    else if (!strcmp(name, "deleteMany"))
        out = cmd_modify(cx, &ci, args, MOD_DELETE, true);
    else if (!strcmp(name, "findOneAndUpdate"))
        out = cmd_find_one_and(cx, &ci, args, MOD_UPDATE);
    else if (!strcmp(name, "findOneAndReplace"))
        out = cmd_find_one_and(cx, &ci, args, MOD_REPLACE);
    else
        out = cmd_find_one_and(cx, &ci, args, MOD_DELETE);
    coll_info_free(&ci);
    return out;
}
