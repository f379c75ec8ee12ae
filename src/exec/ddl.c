/*
 * ddl.c — CREATE/DROP KEYSPACE, CREATE/DROP TABLE, USE.
 *
 * What: turns a DDL statement into a keyspace or table spec for the catalog
 * (schema.h), which validates what belongs to the schema (names, replication
 * and table options, their normalisation), persists, and publishes a new
 * snapshot. This file checks what the statement itself must satisfy, in
 * Cassandra 5.0's order: the raw statement (one PRIMARY KEY, no duplicate
 * declarations), then keyspace and table existence, then column types and
 * the primary key, then the clustering order. A drop also discards the
 * dropped tables' data on every shard (st_drop_table, one op per shard and
 * table through the coordinator).
 *
 * Results: SCHEMA_CHANGE (CREATED/DROPPED, KEYSPACE/TABLE) when the schema
 * changed, VOID when IF [NOT] EXISTS made it a no-op, SET_KEYSPACE for USE.
 *
 * Option values reach the catalog as strings: a term as its text, a map as
 * a CQL map literal "{'k': 'v', ...}" with quoted keys and values (the form
 * options.c parses; docs/formats/schema.md).
 *
 * Invariants:
 *  1. Catalog calls run on the request's shard thread; they block for the
 *     schema file's fsync (DDL is rare; a helper thread is a later change).
 *  2. Data of a dropped table is discarded only after the catalog has
 *     published the snapshot without it, so no new write can target it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec/execInt.h"

static const char *NATIVE_TYPES[] = {
    "ascii",  "bigint",    "blob",     "boolean", "counter", "date",     "decimal",
    "double", "duration",  "float",    "inet",    "int",     "smallint", "text",
    "time",   "timestamp", "timeuuid", "tinyint", "uuid",    "varchar",  "varint",
};

static void schema_change(ex_request *r, const char *change, const char *target, const char *ks,
                          const char *name)
{
    ex_result *res = &r->result;
    res->kind = EX_SCHEMA_CHANGE;
    res->change = change;
    res->target = target;
    res->sc_ks = hln_arena_strdup(&r->arena, ks);
    res->sc_name = name ? hln_arena_strdup(&r->arena, name) : NULL;
}

/* ---- option values ---------------------------------------------------- */

static void put_quoted(hln_buf *b, const char *s)
{
    hln_buf_u8(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') hln_buf_u8(b, '\'');
        hln_buf_u8(b, (uint8_t)*s);
    }
    hln_buf_u8(b, '\'');
}

static int term_text(ex_request *r, const cql_term *t, const char *prop, const char **out)
{
    if (!t || t->kind == CQL_TERM_BIND)
        return hln_fail(&r->err, HLN_ESYNTAX, "Bind variables are not allowed in property '%s'",
                        prop);
    if (t->kind == CQL_TERM_NULL)
        return hln_fail(&r->err, HLN_ESYNTAX, "Invalid null value for property '%s'", prop);
    *out = t->text ? t->text : "";
    return 0;
}

/* A property's value as the catalog takes it. */
static int prop_value(ex_request *r, const cql_property *p, const char **out)
{
    if (!p->map && !p->value) { /* name = {} */
        *out = "{}";
        return 0;
    }
    if (!p->map) return term_text(r, p->value, p->name, out);
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u8(&b, '{');
    for (const cql_map_entry *e = p->map; e; e = e->next) {
        const char *k = NULL, *v = NULL;
        int rc = term_text(r, e->key, p->name, &k);
        if (!rc) rc = term_text(r, e->value, p->name, &v);
        if (rc) {
            hln_buf_free(&b);
            return rc;
        }
        if (e != p->map) hln_buf_put(&b, ", ", 2);
        put_quoted(&b, k);
        hln_buf_put(&b, ": ", 2);
        put_quoted(&b, v);
    }
    hln_buf_u8(&b, '}');
    *out = b.err ? NULL : hln_arena_strndup(&r->arena, (const char *)b.data, b.len);
    hln_buf_free(&b);
    return *out ? 0 : hln_fail(&r->err, HLN_ENOMEM, "out of memory");
}

static int parse_bool(ex_request *r, const char *v, const char *prop, bool *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0")) {
        *out = false;
        return 0;
    }
    return hln_fail(&r->err, HLN_ESYNTAX,
                    "Invalid boolean value %s for '%s'. Valid values are: [false, 1, no, true, "
                    "yes, 0]",
                    v, prop);
}

/* ---- continuation: data of dropped tables discarded ------------------- */

static void dropped_done(ex_request *r)
{
    int rc = ex_batch_error(r);
    ex_finish(r, rc);
}

/* Posts st_drop_table for every dropped id to every shard, then finishes
 * (the SCHEMA_CHANGE result is already set). */
static void drop_data(ex_request *r)
{
    ex_state *st = ex_st(r);
    for (int i = 0; i < st->ndropped; i++) {
        for (int s = 0; s < st->eng->nshards; s++) {
            ex_op *op = ex_op_new(r, EX_OP_DROP, s);
            if (!op) {
                ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
                return;
            }
            memcpy(op->table_id, st->dropped[i], 16);
        }
    }
    ex_dispatch(r, dropped_done);
}

/* ---- keyspaces -------------------------------------------------------- */

static void create_keyspace(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_create_keyspace *s = &st->stmt->u.create_keyspace;
    hln_keyspace_spec spec = {.name = s->name, .durable_writes = true};
    int rc = 0;
    for (const cql_property *p = s->props; p && !rc; p = p->next) {
        if (!strcmp(p->name, "replication")) {
            if (!p->map) {
                rc = hln_fail(&r->err, HLN_ESYNTAX,
                              "Invalid value for property 'replication'. It should be a map.");
                break;
            }
            int n = 0;
            for (const cql_map_entry *e = p->map; e; e = e->next)
                n++;
            hln_option *o = hln_arena_alloc(&r->arena, sizeof *o * (size_t)(n ? n : 1));
            if (!o) {
                rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
                break;
            }
            int i = 0;
            for (const cql_map_entry *e = p->map; e && !rc; e = e->next, i++) {
                const char *k = NULL, *v = NULL;
                rc = term_text(r, e->key, p->name, &k);
                if (!rc) rc = term_text(r, e->value, p->name, &v);
                o[i].key = (char *)k;
                o[i].value = (char *)v;
            }
            spec.replication = o;
            spec.nreplication = n;
        } else if (!strcmp(p->name, "durable_writes")) {
            const char *v = NULL;
            rc = p->map
                     ? hln_fail(&r->err, HLN_ESYNTAX, "Invalid value for property 'durable_writes'")
                     : term_text(r, p->value, p->name, &v);
            if (!rc) rc = parse_bool(r, v, p->name, &spec.durable_writes);
        } else {
            rc = hln_fail(&r->err, HLN_ESYNTAX, "Unknown property '%s'", p->name);
        }
    }
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    rc = catalog_create_keyspace(st->eng->catalog, &spec, s->if_not_exists, &r->err);
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 1)
        r->result.kind = EX_VOID;
    else
        schema_change(r, "CREATED", "KEYSPACE", s->name, NULL);
    ex_finish(r, 0);
}

static void drop_keyspace(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_drop *s = &st->stmt->u.drop;
    int rc = catalog_drop_keyspace(st->eng->catalog, s->name.name, s->if_exists, &st->dropped,
                                   &st->ndropped, &r->err);
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 1) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    schema_change(r, "DROPPED", "KEYSPACE", s->name.name, NULL);
    drop_data(r);
}

static void use_keyspace(ex_request *r)
{
    ex_state *st = ex_st(r);
    const char *ks = st->stmt->u.use;
    if (!schema_keyspace(st->schema, ks)) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOTFOUND, "Keyspace '%s' does not exist", ks));
        return;
    }
    r->result.kind = EX_SET_KEYSPACE;
    r->result.keyspace = hln_arena_strdup(&r->arena, ks);
    ex_finish(r, 0);
}

/* ---- tables ----------------------------------------------------------- */

/* The descriptor of a written type (recursing into parameters), with
 * Cassandra's errors for what CQL3Type.Raw refuses. */
static int resolve_type(ex_request *r, const char *ks, const char *col, const cql_typeref *tr,
                        const hln_type **out)
{
    const char *n = tr->name;
    bool coll = !strcasecmp(n, "list") || !strcasecmp(n, "set") || !strcasecmp(n, "map");
    if (!strcasecmp(n, "vector") && tr->nparams == 2 && tr->params[1]->nparams == 0) {
        const hln_type *et;
        int rc = resolve_type(r, ks, col, tr->params[0], &et);
        if (rc) return rc;
        const char *ds = tr->params[1]->name;
        char *end;
        long dim = strtol(ds, &end, 10);
        if (*end || end == ds)
            return hln_fail(&r->err, HLN_ESYNTAX, "Invalid vector dimension %s", ds);
        if (dim <= 0)
            return hln_fail(&r->err, HLN_EINVAL,
                            "vectors may only have positive dimensions; given %ld", dim);
        const hln_type *t = dim <= 1000000 ? hln_type_vector(et, (int)dim) : NULL;
        if (!t) return hln_fail(&r->err, HLN_EUNSUPPORTED, "Column %s: type too complex", col);
        *out = t;
        return 0;
    }
    if (!coll && (tr->nparams > 0 || !strcasecmp(n, "tuple") || !strcasecmp(n, "vector")))
        return hln_fail(&r->err, HLN_EUNSUPPORTED, "Column %s: tuple types are not supported yet",
                        col);
    if (coll) {
        int want = !strcasecmp(n, "map") ? 2 : 1;
        if (tr->nparams != want)
            return hln_fail(&r->err, HLN_ESYNTAX, "Invalid %s type: expected %d parameter%s", n,
                            want, want == 1 ? "" : "s");
        const hln_type *ps[2] = {NULL, NULL};
        for (int i = 0; i < want; i++) {
            int rc = resolve_type(r, ks, col, tr->params[i], &ps[i]);
            if (rc) return rc;
        }
        hln_type_kind k = !strcasecmp(n, "list")  ? HLN_T_LIST
                          : !strcasecmp(n, "set") ? HLN_T_SET
                                                  : HLN_T_MAP;
        const hln_type *t = hln_type_collection(k, ps, false);
        if (!t) return hln_fail(&r->err, HLN_EUNSUPPORTED, "Column %s: type too complex", col);
        for (int i = 0; i < want; i++) {
            if (ps[i]->kind == HLN_T_COUNTER)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Counters are not allowed inside collections: %s", t->cql_name);
            if (!tr->frozen && hln_type_is_multicell(ps[i]))
                return hln_fail(&r->err, HLN_EINVAL,
                                "Non-frozen collections are not allowed inside collections: %s",
                                t->cql_name);
        }
        if (tr->frozen) t = hln_type_freeze(t);
        if (!t) return hln_fail(&r->err, HLN_EUNSUPPORTED, "Column %s: type too complex", col);
        *out = t;
        return 0;
    }
    const hln_type *t = hln_type_by_name(n);
    if (!t) {
        for (size_t i = 0; i < HLN_ARRAY_LEN(NATIVE_TYPES); i++)
            if (!strcasecmp(n, NATIVE_TYPES[i]))
                return hln_fail(&r->err, HLN_EUNSUPPORTED,
                                "Column %s: type %s is not supported yet", col, NATIVE_TYPES[i]);
        return hln_fail(&r->err, HLN_EINVAL, "Unknown type %s.%s", ks, n);
    }
    if (tr->frozen) /* Cassandra's parser refuses this: a syntax error */
        return hln_fail(&r->err, HLN_ESYNTAX,
                        "frozen<> is only allowed on collections, tuples, and user-defined types "
                        "(got %s)",
                        t->cql_name);
    *out = t;
    return 0;
}

/* A column's type; EINVAL/EUNSUPPORTED with a message when not usable. */
static int column_type(ex_request *r, const char *ks, const cql_column_def *d, const hln_type **out)
{
    const cql_typeref *tr = d->type;
    if (!tr || !tr->name) return hln_fail(&r->err, HLN_EINVAL, "Column %s has no type", d->name);
    return resolve_type(r, ks, d->name, tr, out);
}

static int name_in(const cql_name_list *l, const char *name)
{
    for (; l; l = l->next)
        if (!strcmp(l->name, name)) return 1;
    return 0;
}

static void create_table(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_create_table *s = &st->stmt->u.create_table;
    const char *ks = st->plan->ks, *tn = s->name.name;
    hln_error *err = &r->err;
    int rc = 0;
    char full[160];
    snprintf(full, sizeof full, "%s.%s", ks, tn);

    /* raw statement: declarations and exactly one PRIMARY KEY */
    int ncols = 0, ninline = 0;
    const cql_column_def *inline_pk = NULL;
    for (const cql_column_def *d = s->columns; d; d = d->next) {
        for (const cql_column_def *e = s->columns; e != d; e = e->next)
            if (!strcmp(e->name, d->name)) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Duplicate column '%s' declaration for table '%s'", d->name,
                                      tn));
                return;
            }
        if (d->primary_key) {
            ninline++;
            inline_pk = d;
        }
        ncols++;
    }
    if (ninline + (s->pk != NULL) > 1) {
        ex_finish(r, hln_fail(err, HLN_EINVAL,
                              "Multiple PRIMARY KEY specified for table '%s' (exactly one "
                              "required)",
                              full));
        return;
    }
    if (ninline + (s->pk != NULL) == 0) {
        ex_finish(r, hln_fail(err, HLN_EINVAL,
                              "No PRIMARY KEY specifed for table '%s' (exactly one required)", tn));
        return;
    }
    if (s->compact_storage) {
        ex_finish(r, hln_fail(err, HLN_EINVAL,
                              "Compact tables are not allowed in Cassandra starting with 4.0 "
                              "version. Use `ALTER ... DROP COMPACT STORAGE` command supplied in "
                              "3.x/3.11 Cassandra in order to migrate off Compact Storage."));
        return;
    }

    /* keyspace and table existence */
    if (!schema_keyspace(st->schema, ks)) {
        ex_finish(r, hln_fail(err, HLN_ENOTFOUND, "Keyspace '%s' doesn't exist", ks));
        return;
    }
    if (schema_table(st->schema, ks, tn)) {
        if (s->if_not_exists) {
            r->result.kind = EX_VOID;
            ex_finish(r, 0);
            return;
        }
        rc = hln_fail(err, HLN_EEXISTS,
                      "Cannot add already existing table \"%s\" to keyspace \"%s\"", tn, ks);
        snprintf(err->ks, sizeof err->ks, "%s", ks);
        snprintf(err->table, sizeof err->table, "%s", tn);
        ex_finish(r, rc);
        return;
    }

    /* columns and types */
    hln_column_spec *cols = hln_arena_alloc(&r->arena, sizeof *cols * (size_t)(ncols ? ncols : 1));
    if (!cols) {
        ex_finish(r, hln_fail(err, HLN_ENOMEM, "out of memory"));
        return;
    }
    int i = 0;
    bool has_static = false, has_counter = false;
    for (const cql_column_def *d = s->columns; d; d = d->next, i++) {
        cols[i] = (hln_column_spec){.name = d->name, .kind = HLN_COL_REGULAR, .position = -1};
        if ((rc = column_type(r, ks, d, &cols[i].type)) != 0) {
            ex_finish(r, rc);
            return;
        }
        if (d->is_static) {
            cols[i].kind = HLN_COL_STATIC;
            has_static = true;
        }
        has_counter |= cols[i].type->kind == HLN_T_COUNTER;
    }

    /* primary key */
    cql_name_list inl = {inline_pk ? inline_pk->name : NULL, NULL};
    const cql_name_list *pk = s->pk ? s->pk : &inl;
    const cql_name_list *ck = s->pk ? s->ck : NULL;
    int npk = 0, nck = 0;
    for (int part = 0; part < 2; part++) {
        int pos = 0;
        for (const cql_name_list *l = part ? ck : pk; l; l = l->next, pos++) {
            int ci = -1;
            for (int j = 0; j < ncols; j++)
                if (!strcmp(cols[j].name, l->name)) ci = j;
            if (ci < 0) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Unknown column '%s' referenced in PRIMARY KEY for table "
                                      "'%s'",
                                      l->name, tn));
                return;
            }
            if (cols[ci].kind == HLN_COL_PARTITION_KEY || cols[ci].kind == HLN_COL_CLUSTERING) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Duplicate column '%s' in PRIMARY KEY clause for table '%s'",
                                      l->name, full));
                return;
            }
            hln_type_kind k = cols[ci].type->kind;
            if (hln_type_is_multicell(cols[ci].type)) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Invalid non-frozen collection type %s for PRIMARY KEY "
                                      "column '%s'",
                                      cols[ci].type->cql_name, l->name));
                return;
            }
            if (k == HLN_T_COUNTER) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "counter type is not supported for PRIMARY KEY column '%s'",
                                      l->name));
                return;
            }
            if (k == HLN_T_DURATION) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "duration type is not supported for PRIMARY KEY column '%s'",
                                      l->name));
                return;
            }
            if (cols[ci].kind == HLN_COL_STATIC) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Static column '%s' cannot be part of the PRIMARY KEY",
                                      l->name));
                return;
            }
            cols[ci].kind = part ? HLN_COL_CLUSTERING : HLN_COL_PARTITION_KEY;
            cols[ci].position = pos;
        }
        if (part)
            nck = pos;
        else
            npk = pos;
    }

    /* clustering order */
    int nord = 0;
    for (const cql_order *o = s->clustering_order; o; o = o->next) {
        for (const cql_order *p = s->clustering_order; p != o; p = p->next)
            if (!strcmp(p->column, o->column)) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Duplicate column '%s' in CLUSTERING ORDER BY clause for "
                                      "table '%s'",
                                      o->column, tn));
                return;
            }
        nord++;
    }
    {
        hln_buf b;
        hln_buf_init(&b);
        for (const cql_order *o = s->clustering_order; o; o = o->next)
            if (!name_in(ck, o->column)) hln_buf_printf(&b, "%s%s", b.len ? ", " : "", o->column);
        if (b.len) {
            rc = hln_fail(err, HLN_EINVAL,
                          "Only clustering key columns can be defined in CLUSTERING ORDER "
                          "directive: [%.*s] are not clustering columns",
                          (int)b.len, (const char *)b.data);
            hln_buf_free(&b);
            ex_finish(r, rc);
            return;
        }
        hln_buf_free(&b);
    }
    {
        const cql_name_list *c = ck;
        for (const cql_order *o = s->clustering_order; o; o = o->next, c = c ? c->next : NULL) {
            if (!c) break;
            if (strcmp(o->column, c->name)) {
                bool later = false;
                for (const cql_order *p = o->next; p; p = p->next)
                    later |= !strcmp(p->column, c->name);
                if (later)
                    rc = hln_fail(err, HLN_EINVAL,
                                  "The order of columns in the CLUSTERING ORDER directive must "
                                  "match that of the clustering columns (%s must appear before "
                                  "%s)",
                                  c->name, o->column);
                else
                    rc = hln_fail(err, HLN_EINVAL, "Missing CLUSTERING ORDER for column %s",
                                  c->name);
                ex_finish(r, rc);
                return;
            }
            for (int j = 0; j < ncols; j++)
                if (!strcmp(cols[j].name, c->name)) cols[j].desc = o->desc;
        }
    }
    HLN_UNUSED(npk);
    if (nck == 0 && has_static) {
        ex_finish(r, hln_fail(err, HLN_EINVAL,
                              "Static columns are only useful (and thus allowed) if the table has "
                              "at least one clustering column"));
        return;
    }
    if (has_counter) {
        for (int j = 0; j < ncols; j++)
            if (cols[j].kind != HLN_COL_PARTITION_KEY && cols[j].kind != HLN_COL_CLUSTERING &&
                cols[j].type->kind != HLN_T_COUNTER) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Cannot mix counter and non counter columns in the same "
                                      "table"));
                return;
            }
    }

    /* properties */
    int nprops = 0;
    for (const cql_property *p = s->props; p; p = p->next)
        nprops++;
    hln_option *opts = hln_arena_alloc(&r->arena, sizeof *opts * (size_t)(nprops ? nprops : 1));
    if (!opts) {
        ex_finish(r, hln_fail(err, HLN_ENOMEM, "out of memory"));
        return;
    }
    i = 0;
    for (const cql_property *p = s->props; p; p = p->next, i++) {
        const char *v = NULL;
        if ((rc = prop_value(r, p, &v)) != 0) {
            ex_finish(r, rc);
            return;
        }
        opts[i].key = (char *)p->name;
        opts[i].value = (char *)v;
    }

    hln_table_spec spec = {
        .ks = ks, .name = tn, .cols = cols, .ncols = ncols, .opts = opts, .nopts = nprops};
    rc = catalog_create_table(st->eng->catalog, &spec, s->if_not_exists, err);
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 1)
        r->result.kind = EX_VOID;
    else
        schema_change(r, "CREATED", "TABLE", ks, tn);
    ex_finish(r, 0);
}

static void drop_table(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_drop *s = &st->stmt->u.drop;
    const char *ks = st->plan->ks;
    int rc = catalog_drop_table(st->eng->catalog, ks, s->name.name, s->if_exists, &st->dropped,
                                &st->ndropped, &r->err);
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 1) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    schema_change(r, "DROPPED", "TABLE", ks, s->name.name);
    drop_data(r);
}

void ex_run_ddl(ex_request *r)
{
    switch (ex_st(r)->stmt->kind) {
    case CQL_CREATE_KEYSPACE:
        create_keyspace(r);
        return;
    case CQL_DROP_KEYSPACE:
        drop_keyspace(r);
        return;
    case CQL_USE:
        use_keyspace(r);
        return;
    case CQL_CREATE_TABLE:
        create_table(r);
        return;
    case CQL_DROP_TABLE:
        drop_table(r);
        return;
    default:
        break;
    }
    ex_finish(r, hln_fail(&r->err, HLN_ESERVER, "not a DDL statement"));
}
