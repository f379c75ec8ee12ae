/*
 * index_ddl.c — CREATE [CUSTOM] INDEX and DROP INDEX.
 *
 * What: validates an index definition against a fresh snapshot the way
 * Cassandra 5.0 does (CreateIndexStatement, IndexAttributes,
 * IndexMetadata.validate and StorageAttachedIndex.validateOptions, in that
 * order, with their messages), builds the hln_index the catalog persists
 * (schema.h: options exactly as system_schema.indexes shows them) and
 * answers SCHEMA_CHANGE UPDATED TABLE, as Cassandra does for index DDL.
 *
 * Which implementation: the reference node runs with
 * `default_secondary_index: sai`, so CREATE INDEX without USING, and
 * CREATE CUSTOM INDEX without USING, make a storage-attached index with
 * class_name 'sai'; USING 'sai', 'StorageAttachedIndex' (any case) or the
 * full class name make one with that class_name as written. USING
 * 'legacy_local_table' (any case, without CUSTOM) makes a legacy index
 * (kind COMPOSITES, options {target}). Both are served by the filtered scan
 * today (analyze.c decides which restrictions no longer need ALLOW
 * FILTERING); src/index/ builds the index structures.
 *
 * Optimistic like ALTER TABLE: validation reads snapshot s and the catalog
 * refuses the new definition with HLN_EAGAIN when another DDL was published
 * since, then everything is validated again against the newer one.
 *
 * Invariants:
 *  1. An index names its column by column id; an indexed column can be
 *     neither dropped nor renamed (ddl.c refuses both, as Cassandra does),
 *     so the column name in the option "target" stays true.
 *  2. Nothing is written unless every check passed; a duplicate under IF
 *     NOT EXISTS is a no-op (VOID), as in Cassandra.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec/execInt.h"

static const char *const TARGET_WORD[] = {"simple", "keys", "values", "entries", "full"};

static bool refs_duration(const hln_type *t)
{
    if (t->kind == HLN_T_DURATION) return true;
    for (int i = 0; i < t->nparams; i++)
        if (refs_duration(t->params[i])) return true;
    return false;
}

static bool frozen_collection(const hln_type *t)
{
    return hln_type_is_collection(t) && t->frozen;
}

/* The class names Cassandra resolves to StorageAttachedIndex. */
static bool sai_class(const char *cls)
{
    return !strcasecmp(cls, "sai") || !strcasecmp(cls, "StorageAttachedIndex") ||
           !strcmp(cls, "org.apache.cassandra.index.sai.StorageAttachedIndex");
}

/* The types SAI indexes (StorageAttachedIndex.SUPPORTED_TYPES), frozen
 * values and vectors. */
static bool sai_type_ok(const hln_type *t)
{
    switch (t->kind) {
    case HLN_T_ASCII:
    case HLN_T_BIGINT:
    case HLN_T_DATE:
    case HLN_T_DOUBLE:
    case HLN_T_FLOAT:
    case HLN_T_INT:
    case HLN_T_SMALLINT:
    case HLN_T_VARCHAR:
    case HLN_T_TIME:
    case HLN_T_TIMESTAMP:
    case HLN_T_TIMEUUID:
    case HLN_T_TINYINT:
    case HLN_T_UUID:
    case HLN_T_INET:
    case HLN_T_VARINT:
    case HLN_T_DECIMAL:
    case HLN_T_BOOLEAN:
    case HLN_T_VECTOR:
        return true;
    case HLN_T_TUPLE:
        return true; /* tuples are always frozen */
    default:
        return t->frozen;
    }
}

static bool is_text(const hln_type *t)
{
    return t->kind == HLN_T_VARCHAR || t->kind == HLN_T_ASCII;
}

static int bool_option(ex_request *r, const hln_index *ix, const char *key)
{
    const char *v = index_option(ix, key);
    if (!v) return 0;
    if (!*v) return hln_fail(&r->err, HLN_EINVAL, "Empty value for boolean option '%s'", key);
    if (strcasecmp(v, "true") && strcasecmp(v, "false"))
        return hln_fail(&r->err, HLN_EINVAL, "Illegal value for boolean option '%s': %s", key, v);
    return 0;
}

static const char *upper(ex_request *r, const char *s)
{
    char *u = hln_arena_strdup(&r->arena, s);
    for (char *p = u; p && *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return u ? u : s;
}

/* StorageAttachedIndex.validateOptions for index ix (col, of table t). */
static int sai_validate(ex_request *r, const hln_table *t, const hln_column *col,
                        const hln_index *ix, const char *targets_text, int ntargets)
{
    static const char *const VALID[] = {"target",
                                        "class_name",
                                        "maximum_node_connections",
                                        "construction_beam_width",
                                        "similarity_function",
                                        "optimize_for",
                                        "case_sensitive",
                                        "normalize",
                                        "ascii"};
    hln_buf b;
    hln_buf_init(&b);
    for (int i = 0; i < ix->nopts; i++) {
        bool ok = false;
        for (size_t k = 0; k < HLN_ARRAY_LEN(VALID); k++)
            ok |= !strcmp(ix->opts[i].key, VALID[k]);
        if (!ok) hln_buf_printf(&b, "%s%s", b.len ? ", " : "", ix->opts[i].key);
    }
    if (b.len) {
        int rc = hln_fail(&r->err, HLN_ECONFIG,
                          "Properties specified [%.*s] are not understood by StorageAttachedIndex",
                          (int)b.len, (const char *)b.data);
        hln_buf_free(&b);
        return rc;
    }
    hln_buf_free(&b);
    if (ntargets > 1)
        return hln_fail(&r->err, HLN_EINVAL,
                        "A storage-attached index cannot be created over multiple columns: %s",
                        targets_text);
    int same = 0;
    for (int i = 0; i < t->nindexes; i++)
        if (t->indexes[i].kind == HLN_IXK_SAI && t->indexes[i].col_id == ix->col_id &&
            t->indexes[i].target == ix->target)
            same++;
    if (same)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Cannot create more than one storage-attached index on the same column: %s",
                        col->name);
    static const char *const ANALYZER[] = {"case_sensitive", "normalize", "ascii"};
    bool analyzed = false;
    for (size_t k = 0; k < HLN_ARRAY_LEN(ANALYZER); k++)
        analyzed |= index_option(ix, ANALYZER[k]) != NULL;
    if (analyzed && (col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING)) {
        hln_buf m;
        hln_buf_init(&m);
        for (size_t k = 0; k < HLN_ARRAY_LEN(ANALYZER); k++) {
            const char *v = index_option(ix, ANALYZER[k]);
            if (v) hln_buf_printf(&m, "%s'%s': '%s'", m.len ? ", " : "", ANALYZER[k], v);
        }
        int rc = hln_fail(&r->err, HLN_EINVAL,
                          "Analysis options are not supported on primary key columns, but found "
                          "{%.*s}",
                          (int)m.len, (const char *)m.data);
        hln_buf_free(&m);
        return rc;
    }
    /* the indexed type: the element for collections (entries: key and value) */
    const hln_type *ty = col->type;
    const hln_type *sub[2] = {ty, NULL};
    if (hln_type_is_multicell(ty) && hln_type_is_collection(ty)) {
        if (ty->kind == HLN_T_MAP) {
            if (ix->target == HLN_IX_KEYS)
                sub[0] = ty->params[0];
            else if (ix->target == HLN_IX_VALUES)
                sub[0] = ty->params[1];
            else {
                sub[0] = ty->params[0];
                sub[1] = ty->params[1];
            }
        } else {
            sub[0] = ty->params[0];
        }
    }
    if (analyzed) {
        if (sub[1]) { /* entries: a composite of key and value, shown as its class */
            hln_buf cb;
            hln_buf_init(&cb);
            hln_buf_printf(&cb, "org.apache.cassandra.db.marshal.CompositeType(");
            hln_type_class_name(sub[0], &cb);
            hln_buf_u8(&cb, ',');
            hln_type_class_name(sub[1], &cb);
            hln_buf_u8(&cb, ')');
            int rc = hln_fail(&r->err, HLN_EINVAL, "CQL type '%.*s' cannot be analyzed.",
                              (int)cb.len, cb.err ? "" : (const char *)cb.data);
            hln_buf_free(&cb);
            return rc;
        }
        if (!is_text(sub[0]))
            return hln_fail(&r->err, HLN_EINVAL, "CQL type %s cannot be analyzed.",
                            sub[0]->cql_name);
        for (size_t k = 0; k < HLN_ARRAY_LEN(ANALYZER); k++) {
            int rc = bool_option(r, ix, ANALYZER[k]);
            if (rc) return rc;
        }
    }
    bool vector = ty->kind == HLN_T_VECTOR;
    static const char *const VOPTS[] = {"similarity_function", "maximum_node_connections",
                                        "construction_beam_width", "optimize_for"};
    for (size_t k = 0; k < HLN_ARRAY_LEN(VOPTS); k++)
        if (index_option(ix, VOPTS[k]) && !vector)
            return hln_fail(&r->err, HLN_EINVAL, "CQL type %s cannot have vector options",
                            sub[0]->cql_name);
    const char *sim = NULL;
    if (vector) {
        if (index_option(ix, "maximum_node_connections"))
            return hln_fail(&r->err, HLN_EINVAL,
                            "Maximum node connections cannot be set without enabling "
                            "SAI_VECTOR_ALLOW_CUSTOM_PARAMETERS");
        if (index_option(ix, "construction_beam_width"))
            return hln_fail(&r->err, HLN_EINVAL,
                            "Construction beam width cannot be set without enabling "
                            "SAI_VECTOR_ALLOW_CUSTOM_PARAMETERS");
        const char *v = index_option(ix, "similarity_function");
        if (v) {
            sim = upper(r, v);
            if (strcmp(sim, "EUCLIDEAN") && strcmp(sim, "DOT_PRODUCT") && strcmp(sim, "COSINE"))
                return hln_fail(&r->err, HLN_EINVAL,
                                "Similarity function %s was not recognized for index null. Valid "
                                "values are: EUCLIDEAN, DOT_PRODUCT, COSINE",
                                sim);
        }
        if ((v = index_option(ix, "optimize_for"))) {
            const char *o = upper(r, v);
            if (strcmp(o, "LATENCY") && strcmp(o, "RECALL"))
                return hln_fail(&r->err, HLN_EINVAL,
                                "optimize_for '%s' was not recognized for index null. Valid "
                                "values are: LATENCY, RECALL",
                                o);
        }
    }
    for (int k = 0; k < 2 && sub[k]; k++)
        if (!sai_type_ok(sub[k]))
            return hln_fail(&r->err, HLN_EINVAL, "Unsupported type: %s", sub[k]->cql_name);
    if (vector) {
        if (ty->params[0]->kind != HLN_T_FLOAT)
            return hln_fail(&r->err, HLN_EINVAL,
                            "SAI ANN indexes are only allowed on vector columns with float "
                            "elements");
        if (ty->dim == 1 && (!sim || !strcmp(sim, "COSINE")))
            return hln_fail(&r->err, HLN_EINVAL,
                            "Cosine similarity is not supported for single-dimension vectors");
    }
    return 0;
}

/* Cassandra's default index name: <table>_<column>_idx without non-word
 * characters, then _1, _2, ... until free in the keyspace. */
static const char *default_name(ex_request *r, const hln_schema *s, const char *ks,
                                const char *table, const char *column)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_printf(&b, "%s_%s_idx", table, column);
    size_t n = 0;
    for (size_t i = 0; i < b.len; i++) {
        char ch = (char)b.data[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '_')
            b.data[n++] = (uint8_t)ch;
    }
    char *base = hln_arena_strndup(&r->arena, (const char *)b.data, n);
    hln_buf_free(&b);
    if (!base || !schema_index(s, ks, base, NULL)) return base;
    for (int i = 1;; i++) {
        char *name = hln_arena_alloc(&r->arena, strlen(base) + 16);
        if (!name) return NULL;
        sprintf(name, "%s_%d", base, i);
        if (!schema_index(s, ks, name, NULL)) return name;
    }
}

static int option_cmp(const void *pa, const void *pb)
{
    return strcmp(((const hln_option *)pa)->key, ((const hln_option *)pb)->key);
}

/* The target as system_schema shows it: c, keys(c), values(c), ... */
static const char *target_text(ex_request *r, const char *col, hln_index_target tg)
{
    const char *q = ex_quote(&r->arena, col);
    if (tg == HLN_IX_SIMPLE) return q;
    size_t n = strlen(q) + 16;
    char *out = hln_arena_alloc(&r->arena, n);
    if (out) snprintf(out, n, "%s(%s)", TARGET_WORD[tg], q);
    return out;
}

/* 0 created, 1 no-op (IF NOT EXISTS), or an error (HLN_EAGAIN: retry). */
static int create_index_once(ex_request *r, const hln_schema *s)
{
    ex_state *st = ex_st(r);
    const cql_create_index *c = &st->stmt->u.create_index;
    const char *ks = st->plan->ks;
    hln_error *err = &r->err;

    /* CreateIndexStatement.Raw.prepare: which implementation */
    bool custom = true, legacy = false;
    const char *cls = "sai";
    if (c->using) {
        if (!c->custom && !strcasecmp(c->using, "legacy_local_table")) {
            custom = false;
            legacy = true;
            cls = NULL;
        } else {
            cls = c->using;
        }
    }
    /* IndexAttributes: properties and options */
    const cql_property *options = NULL;
    for (const cql_property *p = c->props; p; p = p->next) {
        if (strcmp(p->name, "options") != 0)
            return hln_fail(err, HLN_ESYNTAX, "Unknown property '%s'", p->name);
        if (!p->map && p->value)
            return hln_fail(err, HLN_ESYNTAX, "Invalid value for property 'options'");
        options = p;
    }
    int nuser = 0;
    for (const cql_map_entry *e = options ? options->map : NULL; e; e = e->next)
        nuser++;
    if (!custom && nuser)
        return hln_fail(err, HLN_EINVAL, "Cannot specify options for a non-CUSTOM index");
    hln_option *opts = hln_arena_alloc(&r->arena, sizeof *opts * (size_t)(nuser + 2));
    if (!opts) return hln_fail(err, HLN_ENOMEM, "out of memory");
    int nopts = 0;
    for (const cql_map_entry *e = options ? options->map : NULL; e; e = e->next) {
        if (!e->key->text || !e->value->text || e->key->kind != CQL_TERM_LITERAL ||
            e->value->kind != CQL_TERM_LITERAL)
            return hln_fail(err, HLN_ESYNTAX, "Invalid value for property 'options'");
        const char *k = e->key->text;
        if (!strcmp(k, "class_name") || !strcmp(k, "target"))
            return hln_fail(err, HLN_EINVAL, "Cannot specify %s as a CUSTOM option", k);
        int at = -1;
        for (int i = 0; i < nopts; i++)
            if (!strcmp(opts[i].key, k)) at = i;
        if (at < 0) at = nopts++;
        opts[at] = (hln_option){.key = (char *)k, .value = (char *)e->value->text};
    }

    if (custom && !strcmp(cls, "org.apache.cassandra.index.sasi.SASIIndex"))
        return hln_fail(err, HLN_EINVAL,
                        "SASI indexes are disabled. Enable in cassandra.yaml to use.");

    /* keyspace, table, name */
    const hln_keyspace *k = schema_keyspace(s, ks);
    if (!k) return hln_fail(err, HLN_EINVAL, "Keyspace '%s' doesn't exist", ks);
    const hln_table *t = schema_table(s, ks, c->table.name);
    if (!t) return hln_fail(err, HLN_EINVAL, "Table '%s' doesn't exist", c->table.name);
    if (c->name && schema_index(s, ks, c->name, NULL)) {
        if (c->if_not_exists) return 1;
        return hln_fail(err, HLN_EINVAL, "Index '%s' already exists", c->name);
    }
    if (t->is_view)
        return hln_fail(err, HLN_EINVAL,
                        "Secondary indexes on materialized views aren't supported");
    for (int i = 0; i < t->ncols; i++)
        if (t->cols[i].type->kind == HLN_T_COUNTER)
            return hln_fail(err, HLN_EINVAL,
                            "Secondary indexes on counter tables aren't supported");

    /* targets */
    int ntargets = 0;
    const hln_column *col = NULL;
    hln_index_target tg = HLN_IX_SIMPLE;
    hln_buf tb;
    hln_buf_init(&tb);
    for (const cql_index_col *x = c->targets; x; x = x->next) {
        const hln_column *cc = table_column(t, x->column);
        if (!cc) {
            hln_buf_free(&tb);
            return hln_fail(err, HLN_EINVAL, "Undefined column name %s in table %s.%s", x->column,
                            ks, t->name);
        }
        hln_buf_printf(&tb, "%s%s", tb.len ? ", " : "", cc->name);
        if (!ntargets++) col = cc;
    }
    const char *targets_text =
        tb.len ? hln_arena_strndup(&r->arena, (const char *)tb.data, tb.len) : "";
    hln_buf_free(&tb);
    if (!ntargets && !custom)
        return hln_fail(err, HLN_EINVAL,
                        "Only CUSTOM indexes can be created without specifying a target column");
    if (!ntargets) return hln_fail(err, HLN_EINVAL, "Failed to retrieve target column for: ");
    if (ntargets > 1 && !custom)
        return hln_fail(err, HLN_EINVAL, "Only CUSTOM indexes support multiple columns");
    for (const cql_index_col *x = c->targets; x && ntargets > 1; x = x->next)
        for (const cql_index_col *y = c->targets; y != x; y = y->next)
            if (!strcmp(x->column, y->column))
                return hln_fail(err, HLN_EINVAL, "Duplicate column '%s' in index target list",
                                x->column);
    for (const cql_index_col *x = c->targets; x; x = x->next) {
        const hln_column *cc = table_column(t, x->column);
        const hln_type *ty = cc->type;
        hln_index_target xt = (hln_index_target)x->target; /* same order as cql_index_target */
        if (xt == HLN_IX_SIMPLE && hln_type_is_collection(ty)) xt = HLN_IX_VALUES;
        if (x == c->targets) tg = xt;
        if (refs_duration(ty)) {
            if (hln_type_is_collection(ty))
                return hln_fail(err, HLN_EINVAL,
                                "Secondary indexes are not supported on collections containing "
                                "durations");
            if (ty->kind == HLN_T_TUPLE)
                return hln_fail(err, HLN_EINVAL,
                                "Secondary indexes are not supported on tuples containing "
                                "durations");
            if (ty->kind == HLN_T_UDT)
                return hln_fail(err, HLN_EINVAL,
                                "Secondary indexes are not supported on UDTs containing durations");
            return hln_fail(err, HLN_EINVAL,
                            "Secondary indexes are not supported on duration columns");
        }
        if (cc->kind == HLN_COL_PARTITION_KEY && t->npk == 1)
            return hln_fail(err, HLN_EINVAL,
                            "Cannot create secondary index on the only partition key column %s",
                            cc->name);
        if (frozen_collection(ty) && xt != HLN_IX_FULL)
            return hln_fail(err, HLN_EINVAL,
                            "Cannot create %s() index on frozen column %s. Frozen collections are "
                            "immutable and must be fully indexed by using the 'full(%s)' modifier",
                            TARGET_WORD[xt], cc->name, cc->name);
        if (!frozen_collection(ty) && xt == HLN_IX_FULL)
            return hln_fail(err, HLN_EINVAL,
                            "full() indexes can only be created on frozen collections");
        if (!hln_type_is_collection(ty) && xt != HLN_IX_SIMPLE)
            return hln_fail(err, HLN_EINVAL,
                            "Cannot create %s() index on %s. Non-collection columns only support "
                            "simple indexes",
                            TARGET_WORD[xt], cc->name);
        if (!(ty->kind == HLN_T_MAP && hln_type_is_multicell(ty)) &&
            (xt == HLN_IX_KEYS || xt == HLN_IX_ENTRIES))
            return hln_fail(err, HLN_EINVAL,
                            "Cannot create index on %s of column %s with non-map type",
                            TARGET_WORD[xt], cc->name);
        if (ty->kind == HLN_T_UDT && !ty->frozen)
            return hln_fail(err, HLN_EINVAL, "Cannot create index on non-frozen UDT column %s",
                            cc->name);
    }

    /* the definition */
    hln_index ix = {.col_id = col->id, .target = tg, .kind = legacy ? HLN_IXK_LEGACY : HLN_IXK_SAI};
    ix.name = (char *)(c->name ? c->name : default_name(r, s, ks, t->name, col->name));
    if (!ix.name) return hln_fail(err, HLN_ENOMEM, "out of memory");
    if (ntargets == 1) {
        const char *tt = target_text(r, col->name, tg);
        if (!tt) return hln_fail(err, HLN_ENOMEM, "out of memory");
        opts[nopts++] = (hln_option){.key = "target", .value = (char *)tt};
    } else {
        opts[nopts++] = (hln_option){.key = "target", .value = (char *)targets_text};
    }
    if (custom) opts[nopts++] = (hln_option){.key = "class_name", .value = (char *)cls};
    qsort(opts, (size_t)nopts, sizeof *opts, option_cmp);
    ix.opts = opts;
    ix.nopts = nopts;

    /* IndexMetadata.equalsWithoutName: same kind and options */
    for (int i = 0; i < t->nindexes; i++) {
        const hln_index *o = &t->indexes[i];
        if (o->kind != ix.kind || o->nopts != ix.nopts) continue;
        bool same = true;
        for (int j = 0; j < ix.nopts && same; j++)
            same = !strcmp(o->opts[j].key, ix.opts[j].key) &&
                   !strcmp(o->opts[j].value, ix.opts[j].value);
        if (!same) continue;
        if (c->if_not_exists) return 1;
        return hln_fail(err, HLN_EINVAL, "Index %s is a duplicate of existing index %s", ix.name,
                        o->name);
    }

    /* IndexMetadata.validate: the name, the class, then its options */
    bool word = ix.name[0] != 0;
    for (const char *p = ix.name; *p; p++)
        word &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '_';
    if (!word) return hln_fail(err, HLN_ECONFIG, "Illegal index name %s", ix.name);
    if (custom) {
        if (!strcmp(cls, "org.apache.cassandra.index.internal.CassandraIndex"))
            return hln_fail(err, HLN_ESERVER,
                            "java.lang.RuntimeException: java.lang.NoSuchMethodException: "
                            "org.apache.cassandra.index.internal.CassandraIndex.<init>(org.apache."
                            "cassandra.db.ColumnFamilyStore,org.apache.cassandra.schema."
                            "IndexMetadata)");
        if (!sai_class(cls))
            return hln_fail(err, HLN_ECONFIG, "Unable to find custom indexer class '%s'", cls);
        int rc = sai_validate(r, t, col, &ix, targets_text, ntargets);
        if (rc) return rc;
    }
    int rc = catalog_create_index(st->eng->catalog, ks, t->name, &ix, s->version, err);
    if (rc == HLN_EEXISTS) r->err.code = rc = HLN_EINVAL; /* Cassandra: an InvalidRequest */
    if (rc) return rc;
    r->result.kind = EX_SCHEMA_CHANGE;
    r->result.change = "UPDATED";
    r->result.target = "TABLE";
    r->result.sc_ks = hln_arena_strdup(&r->arena, ks);
    r->result.sc_name = hln_arena_strdup(&r->arena, t->name);
    return 0;
}

/* AlterSchemaStatement: the node-local system keyspaces */
static bool local_system(const char *ks)
{
    return !strcmp(ks, "system") || !strcmp(ks, "system_schema") ||
           !strcmp(ks, "system_virtual_schema") || !strcmp(ks, "system_views");
}

static void create_index(ex_request *r)
{
    ex_state *st = ex_st(r);
    if (local_system(st->plan->ks)) {
        ex_finish(r, hln_fail(&r->err, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.",
                              st->plan->ks));
        return;
    }
    int rc = HLN_EAGAIN;
    for (int attempt = 0; rc == HLN_EAGAIN && attempt < 8; attempt++) {
        hln_schema *s = catalog_acquire(st->eng->catalog);
        rc = create_index_once(r, s);
        schema_release(s);
    }
    if (rc == HLN_EAGAIN)
        rc = hln_fail(&r->err, HLN_ESERVER, "schema changed concurrently; retry the statement");
    if (rc == 1) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    /* vector indexes start building on every shard (exec/sai.c) */
    ex_ann_warm_everywhere(r, rc);
}

static void drop_index(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_drop *d = &st->stmt->u.drop;
    const char *ks = st->plan->ks;
    char table[64];
    int rc = catalog_drop_index(st->eng->catalog, ks, d->name.name, d->if_exists, table, &r->err);
    if (rc == HLN_ENOTFOUND) r->err.code = rc = HLN_EINVAL;
    if (rc == 1) {
        r->result.kind = EX_VOID;
        rc = 0;
    } else if (rc == 0) {
        r->result.kind = EX_SCHEMA_CHANGE;
        r->result.change = "UPDATED";
        r->result.target = "TABLE";
        r->result.sc_ks = hln_arena_strdup(&r->arena, ks);
        r->result.sc_name = hln_arena_strdup(&r->arena, table);
    }
    ex_finish(r, rc);
}

void ex_run_index_ddl(ex_request *r)
{
    if (ex_st(r)->stmt->kind == CQL_CREATE_INDEX)
        create_index(r);
    else
        drop_index(r);
}
