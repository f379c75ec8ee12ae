/*
 * ddl.c — CREATE/DROP/ALTER KEYSPACE, CREATE/DROP/ALTER TABLE, TRUNCATE, USE.
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
 * ALTER TABLE / ALTER KEYSPACE validate against a fresh snapshot and hand
 * the catalog the complete new definition (optimistic: HLN_EAGAIN when
 * another DDL won, then validated again). DROP of a column relies on
 * column ids never being reused: the dropped column's cells stay in
 * storage but no current column has their id, so no read returns them,
 * even after a column of the same name is added (it gets a new id); the
 * drop is recorded (name, type, kind, time) for dropped_columns.
 *
 * TRUNCATE, and why not a truncation timestamp: a timestamp in the schema
 * with "ignore cells <= it" at read (and in compaction) would hide writes
 * made after the TRUNCATE with an older USING TIMESTAMP (Cassandra keeps
 * them: truncation is not a deletion) and would put a check in every read
 * path. Instead each shard discards the data physically and durably
 * (st_truncate_table: roll the commitlog, a durable marker naming the
 * first sstable generation and commitlog segment that survive, delete the
 * sstables below it), so replay after a crash or kill -9 brings nothing
 * back and nothing else needs to know.
 *
 * Results: SCHEMA_CHANGE (CREATED/DROPPED/UPDATED, KEYSPACE/TABLE) when the
 * schema changed, VOID when IF [NOT] EXISTS made it a no-op or an ALTER
 * changed nothing (Cassandra's empty diff) and for TRUNCATE, SET_KEYSPACE
 * for USE.
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

/* The WITH properties of CREATE/ALTER KEYSPACE into spec (replication
 * as given, durable_writes; *durable_given tells whether it was there). */
static int props_keyspace(ex_request *r, const cql_property *props, hln_keyspace_spec *spec,
                          bool *durable_given)
{
    int rc = 0;
    for (const cql_property *p = props; p && !rc; p = p->next) {
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
            spec->replication = o;
            spec->nreplication = n;
        } else if (!strcmp(p->name, "durable_writes")) {
            const char *v = NULL;
            rc = p->map
                     ? hln_fail(&r->err, HLN_ESYNTAX, "Invalid value for property 'durable_writes'")
                     : term_text(r, p->value, p->name, &v);
            if (!rc) rc = parse_bool(r, v, p->name, &spec->durable_writes);
            if (durable_given) *durable_given = true;
        } else {
            rc = hln_fail(&r->err, HLN_ESYNTAX, "Unknown property '%s'", p->name);
        }
    }
    return rc;
}

static void create_keyspace(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_create_keyspace *s = &st->stmt->u.create_keyspace;
    hln_keyspace_spec spec = {.name = s->name, .durable_writes = true};
    int rc = props_keyspace(r, s->props, &spec, NULL);
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

/* Cassandra's AbstractType.referencesDuration: t is or contains duration. */
static bool references_duration(const hln_type *t)
{
    if (t->kind == HLN_T_DURATION) return true;
    for (int i = 0; i < t->nparams; i++)
        if (references_duration(t->params[i])) return true;
    return false;
}

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
    if (!strcasecmp(n, "tuple") && tr->nparams > 0) {
        const hln_type *ps[HLN_TUPLE_MAX];
        if (tr->nparams > HLN_TUPLE_MAX)
            return hln_fail(&r->err, HLN_EUNSUPPORTED, "Column %s: type too complex", col);
        for (int i = 0; i < tr->nparams; i++) {
            int rc = resolve_type(r, ks, col, tr->params[i], &ps[i]);
            if (rc) return rc;
            if (ps[i]->kind == HLN_T_COUNTER)
                return hln_fail(&r->err, HLN_EINVAL, "Counters are not allowed inside tuples");
        }
        const hln_type *t = hln_type_tuple(ps, tr->nparams);
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
            if (ps[i]->kind == HLN_T_DURATION && k == HLN_T_SET)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Durations are not allowed inside sets: %s%s%s",
                                tr->frozen ? "frozen<" : "", t->cql_name, tr->frozen ? ">" : "");
            if (ps[i]->kind == HLN_T_DURATION && k == HLN_T_MAP && i == 0)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Durations are not allowed as map keys: %s%s%s",
                                tr->frozen ? "frozen<" : "", t->cql_name, tr->frozen ? ">" : "");
            if (!tr->frozen && ps[i]->kind == HLN_T_UDT && !ps[i]->frozen)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Non-frozen UDTs are not allowed inside collections: %s",
                                t->cql_name);
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
        const char *dot = strchr(n, '.');
        const char *uks = ks, *un = n;
        if (dot) {
            char *k2 = hln_arena_strndup(&r->arena, n, (size_t)(dot - n));
            if (!k2) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            uks = k2;
            un = dot + 1;
            if (strcmp(uks, ks))
                return hln_fail(&r->err, HLN_EINVAL,
                                "Statement on keyspace %s cannot refer to a user type in keyspace "
                                "%s; user types can only be used in the keyspace they are defined "
                                "in",
                                ks, uks);
        }
        const hln_type *u = schema_udt(ex_st(r)->schema, uks, un);
        if (u) {
            if (tr->frozen && !(u = hln_type_freeze(u)))
                return hln_fail(&r->err, HLN_EUNSUPPORTED, "Column %s: type too complex", col);
            *out = u;
            return 0;
        }
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
    int rc = resolve_type(r, ks, d->name, tr, out);
    return rc;
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
            if (cols[ci].type->kind == HLN_T_UDT && !cols[ci].type->frozen) {
                ex_finish(r, hln_fail(err, HLN_EINVAL,
                                      "Invalid non-frozen user-defined type \"%s.%s\" for "
                                      "PRIMARY KEY column '%s'",
                                      hln_udt_ks(cols[ci].type), hln_udt_name(cols[ci].type),
                                      l->name));
                return;
            }
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
            if (references_duration(cols[ci].type)) {
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

/* ---- ALTER TABLE ------------------------------------------------------
 * Validation runs against a fresh snapshot, in Cassandra 5.0's order
 * (AlterTableStatement and its AddColumns / DropColumns / RenameColumns /
 * AlterOptions), and builds the table's complete new definition for
 * catalog_alter_table. The catalog refuses it with HLN_EAGAIN when another
 * DDL was published in between; then the whole statement is re-validated
 * against the newer snapshot (a few times at most).
 *
 * DROP: a dropped column's id is never handed out again, so its cells are
 * never read again (reads look cells up by the ids of the current
 * columns), even after ADD of a column with the same name, which gets a new
 * id; the drop is recorded in the table's dropped columns with its time
 * (system_schema.dropped_columns). The dropped cells stay on disk until
 * compaction learns to purge them. */

/* Cassandra's preventSystemKSSchemaModification: applies without auth too */
static bool local_system_ks(const char *ks)
{
    return !strcmp(ks, "system") || !strcmp(ks, "system_schema") ||
           !strcmp(ks, "system_virtual_schema") || !strcmp(ks, "system_views");
}

static bool replicated_system_ks(const char *ks)
{
    return !strcmp(ks, "system_auth") || !strcmp(ks, "system_distributed") ||
           !strcmp(ks, "system_traces");
}

/* AbstractType.isSerializationCompatibleWith, for the types Helenus has:
 * the same type (varchar is text). */
static bool type_compatible(const hln_type *a, const hln_type *b)
{
    return a == b || !strcmp(a->cql_name, b->cql_name);
}

static const char *kind_upper(hln_column_kind k)
{
    return k == HLN_COL_STATIC ? "STATIC" : "REGULAR";
}

typedef struct alter_out {
    hln_column *cols;
    int ncols;
    hln_option *opts;
    int nopts;
    hln_dropped_column *dropped;
    int ndropped;
    bool changed;
} alter_out;

static int alter_add(ex_request *r, const cql_alter_table *a, const hln_table *t, alter_out *o)
{
    hln_error *err = &r->err;
    for (const cql_column_def *d = a->add; d; d = d->next) {
        const hln_type *ty;
        int rc = column_type(r, t->ks, d, &ty);
        if (rc) return rc;
        bool exists = false;
        for (int i = 0; i < o->ncols; i++)
            if (!strcmp(o->cols[i].name, d->name)) exists = true;
        if (exists) {
            if (!a->if_col)
                return hln_fail(err, HLN_EINVAL, "Column with name '%s' already exists", d->name);
            continue;
        }
        if (d->is_static && t->nck == 0)
            return hln_fail(err, HLN_EINVAL,
                            "Static columns are only useful (and thus allowed) if the table has at "
                            "least one clustering column");
        for (int i = 0; i < t->ndropped; i++) {
            const hln_dropped_column *dc = &t->dropped[i];
            if (strcmp(dc->name, d->name)) continue;
            if (!type_compatible(ty, dc->type))
                return hln_fail(err, HLN_EINVAL,
                                "Cannot add a column '%s' of type %s, incompatible with previously "
                                "dropped column '%s' of type %s",
                                d->name, ty->cql_name, dc->name, dc->type->cql_name);
            if ((dc->kind == HLN_COL_STATIC) != d->is_static)
                return hln_fail(err, HLN_EINVAL,
                                "Cannot re-add previously dropped column '%s' of kind %s, "
                                "incompatible with previous kind %s",
                                d->name, d->is_static ? "STATIC" : "REGULAR", kind_upper(dc->kind));
        }
        bool counter_table = false;
        for (int i = t->npk + t->nck; i < t->ncols; i++)
            counter_table |= t->cols[i].type->kind == HLN_T_COUNTER;
        for (int i = 0; counter_table && i < t->ndropped; i++)
            if (!strcmp(t->dropped[i].name, d->name))
                return hln_fail(err, HLN_EINVAL,
                                "Cannot re-add previously dropped counter column %s", d->name);
        /* TableMetadata.validate */
        if (ty->kind == HLN_T_COUNTER && !counter_table)
            return hln_fail(err, HLN_ECONFIG,
                            "%s.%s: Cannot have a counter column (\"%s\") in a non counter table",
                            t->ks, t->name, d->name);
        if (ty->kind != HLN_T_COUNTER && counter_table)
            return hln_fail(err, HLN_ECONFIG,
                            "%s.%s: Cannot have a non counter column (\"%s\") in a counter table",
                            t->ks, t->name, d->name);
        if (d->is_static && t->nck == 0)
            return hln_fail(err, HLN_EINVAL,
                            "Static columns are only useful (and thus allowed) if the table has "
                            "at least one clustering column");
        o->cols[o->ncols++] = (hln_column){.name = (char *)d->name,
                                           .type = ty,
                                           .kind = d->is_static ? HLN_COL_STATIC : HLN_COL_REGULAR,
                                           .position = -1,
                                           .id = UINT32_MAX};
        o->changed = true;
    }
    return 0;
}

/* "<what> column c because it has dependent secondary indexes (a,b)" */
static int dependent_indexes(hln_error *err, const char *what, const char *col, const hln_table *t,
                             uint32_t col_id)
{
    hln_buf ib;
    hln_buf_init(&ib);
    for (int i = 0; i < t->nindexes; i++)
        if (t->indexes[i].col_id == col_id)
            hln_buf_printf(&ib, "%s%s", ib.len ? "," : "", t->indexes[i].name);
    int rc =
        hln_fail(err, HLN_EINVAL, "%s column %s because it has dependent secondary indexes (%.*s)",
                 what, col, (int)ib.len, ib.err ? "" : (const char *)ib.data);
    hln_buf_free(&ib);
    return rc;
}

static int alter_drop(ex_request *r, const cql_alter_table *a, const hln_table *t, alter_out *o)
{
    hln_error *err = &r->err;
    int64_t when = hln_now_micros();
    if (a->drop_ts) {
        char *end = NULL;
        long long v = strtoll(a->drop_ts, &end, 10);
        if (!end || *end) return hln_fail(err, HLN_ESYNTAX, "Invalid timestamp %s", a->drop_ts);
        when = (int64_t)v;
    }
    for (const cql_name_list *n = a->drop; n; n = n->next) {
        const hln_column *c = table_column(t, n->name);
        if (!c) {
            if (!a->if_col)
                return hln_fail(err, HLN_EINVAL, "Column %s was not found in table '%s.%s'",
                                n->name, t->ks, t->name);
            continue;
        }
        if (c->kind == HLN_COL_PARTITION_KEY || c->kind == HLN_COL_CLUSTERING)
            return hln_fail(err, HLN_EINVAL, "Cannot drop PRIMARY KEY column %s", n->name);
        if (c->type->kind == HLN_T_UDT && !c->type->frozen)
            return hln_fail(err, HLN_EINVAL, "Cannot drop non-frozen column %s of user type %s",
                            n->name, hln_udt_name(c->type));
        if (table_index_on(t, c->id))
            return dependent_indexes(err, "Cannot drop", n->name, t, c->id);
        const hln_table *views[1];
        if (schema_views_of(ex_st(r)->schema, t, views, 1) > 0)
            return hln_fail(err, HLN_EINVAL,
                            "Cannot drop column %s on base table %s with materialized views",
                            n->name, t->name);
        int at = -1;
        for (int i = 0; i < o->ncols; i++)
            if (!strcmp(o->cols[i].name, n->name)) at = i;
        if (at < 0) continue; /* named twice */
        memmove(&o->cols[at], &o->cols[at + 1], sizeof *o->cols * (size_t)(o->ncols - at - 1));
        o->ncols--;
        int di = -1;
        for (int i = 0; i < o->ndropped; i++)
            if (!strcmp(o->dropped[i].name, n->name)) di = i;
        if (di < 0) di = o->ndropped++;
        /* UDTs recorded as the tuples they serialise as (Cassandra's
           expandUserTypes), so the record outlives a DROP TYPE */
        const hln_type *dt = hln_type_expand_udts(c->type);
        o->dropped[di] = (hln_dropped_column){.name = (char *)n->name,
                                              .type = dt ? dt : c->type,
                                              .kind = c->kind,
                                              .dropped_time = when};
        o->changed = true;
    }
    return 0;
}

static int alter_rename(ex_request *r, const cql_alter_table *a, const hln_table *t, alter_out *o)
{
    hln_error *err = &r->err;
    /* Raw.prepare resolves every old name first, IF EXISTS or not */
    for (const cql_name_list *f = a->from; f; f = f->next)
        if (!table_column(t, f->name))
            return hln_fail(err, HLN_EINVAL, "Undefined column name %s in table %s.%s", f->name,
                            t->ks, t->name);
    for (const cql_name_list *x = a->to; x; x = x->next)
        for (const cql_name_list *y = a->to; y != x; y = y->next)
            if (!strcmp(x->name, y->name))
                return hln_fail(err, HLN_ESERVER, "java.lang.IllegalArgumentException");
    const cql_name_list *to = a->to;
    for (const cql_name_list *f = a->from; f && to; f = f->next, to = to->next) {
        const hln_column *c = table_column(t, f->name);
        if (c->kind != HLN_COL_PARTITION_KEY && c->kind != HLN_COL_CLUSTERING)
            return hln_fail(err, HLN_EINVAL, "Cannot rename non PRIMARY KEY column %s", f->name);
        if (table_column(t, to->name))
            return hln_fail(err, HLN_EINVAL,
                            "Cannot rename column %s to %s in table '%s.%s'; another column with "
                            "that name already exists",
                            f->name, to->name, t->ks, t->name);
        if (table_index_on(t, c->id))
            return dependent_indexes(err, "Can't rename", f->name, t, c->id);
        for (int i = 0; i < o->ncols; i++)
            if (o->cols[i].id == c->id) o->cols[i].name = (char *)to->name;
        o->changed = true;
    }
    return 0;
}

static int alter_options(ex_request *r, const cql_alter_table *a, const hln_table *t, alter_out *o)
{
    hln_error *err = &r->err;
    int ngiven = 0;
    for (const cql_property *p = a->props; p; p = p->next) {
        for (const cql_property *q = a->props; q != p; q = q->next)
            if (!strcmp(q->name, p->name))
                return hln_fail(err, HLN_ESYNTAX, "Multiple definitions for property '%s'",
                                p->name);
        ngiven++;
    }
    /* the table's options, each given one replacing it, renormalised as
       CREATE TABLE does (TableAttributes.asAlteredTableParams) */
    hln_option *m = hln_arena_alloc(&r->arena, sizeof *m * (size_t)(t->nopts + ngiven + 1));
    if (!m) return hln_fail(err, HLN_ENOMEM, "out of memory");
    int n = 0;
    for (const cql_property *p = a->props; p; p = p->next) {
        const char *v = NULL;
        int rc = prop_value(r, p, &v);
        if (rc) return rc;
        if (!strcmp(p->name, "id")) {
            uint8_t id[16];
            if (hln_uuid_parse(v, id) < 0) return hln_fail(err, HLN_ECONFIG, "Invalid table id");
            return hln_fail(err, HLN_ECONFIG, "Cannot alter table id.");
        }
        m[n].key = (char *)p->name;
        m[n].value = (char *)v;
        n++;
    }
    for (int i = 0; i < t->nopts; i++) {
        bool given = false;
        for (int j = 0; j < ngiven; j++)
            given |= !strcmp(m[j].key, t->opts[i].key);
        if (!given) m[n++] = t->opts[i];
    }
    bool counters = false;
    for (int i = 0; i < t->ncols; i++)
        counters |= t->cols[i].type->kind == HLN_T_COUNTER;
    int rc = schema_table_options(&r->arena, m, n, counters, &o->opts, &o->nopts, err);
    if (rc == HLN_ENOMEM && err->code != HLN_ENOMEM) hln_fail(err, rc, "out of memory");
    if (rc) return rc;
    /* the same options again: an empty diff (VOID, no new version) */
    /* AlterOptions: the base of a view keeps a non-zero gc_grace_seconds */
    const hln_table *views[1];
    const char *gc = NULL;
    for (int i = 0; i < o->nopts; i++)
        if (!strcmp(o->opts[i].key, "gc_grace_seconds")) gc = o->opts[i].value;
    if (!t->is_view && gc && !strcmp(gc, "0") && schema_views_of(ex_st(r)->schema, t, views, 1) > 0)
        return hln_fail(err, HLN_EINVAL,
                        "Cannot alter gc_grace_seconds of the base table of a materialized view "
                        "to 0, since this value is used to TTL undelivered updates. Setting "
                        "gc_grace_seconds too low might cause undelivered updates to expire "
                        "before being replayed.");
    o->changed = o->nopts != t->nopts;
    for (int i = 0; !o->changed && i < o->nopts; i++) {
        const char *old = table_option(t, o->opts[i].key);
        o->changed = !old || strcmp(old, o->opts[i].value) != 0;
    }
    return 0;
}

/* One attempt: 0 done (result set), HLN_EAGAIN to retry, or an error. */
static int alter_table_once(ex_request *r, const hln_schema *s)
{
    ex_state *st = ex_st(r);
    const cql_alter_table *a = &st->stmt->u.alter_table;
    const char *ks = st->plan->ks;
    hln_error *err = &r->err;
    const hln_table *t = schema_table(s, ks, a->name.name);
    bool view_stmt = st->stmt->kind == CQL_ALTER_VIEW;
    if (view_stmt && t && !t->is_view) t = NULL;
    if (!t) {
        if (a->if_exists) {
            r->result.kind = EX_VOID;
            return 0;
        }
        if (view_stmt)
            return hln_fail(err, HLN_EINVAL, "Materialized view '%s.%s' doesn't exist", ks,
                            a->name.name);
        return hln_fail(err, HLN_EINVAL, "Table '%s.%s' doesn't exist", ks, a->name.name);
    }
    if (!view_stmt && t->is_view)
        return hln_fail(err, HLN_EINVAL,
                        "Cannot use ALTER TABLE on a materialized view; use ALTER MATERIALIZED "
                        "VIEW instead");
    int nadd = 0;
    for (const cql_column_def *d = a->add; d; d = d->next)
        nadd++;
    int ndrop = 0;
    for (const cql_name_list *n = a->drop; n; n = n->next)
        ndrop++;
    alter_out o = {0};
    o.cols = hln_arena_alloc(&r->arena, sizeof *o.cols * (size_t)(t->ncols + nadd + 1));
    o.dropped = hln_arena_alloc(&r->arena, sizeof *o.dropped * (size_t)(t->ndropped + ndrop + 1));
    if (!o.cols || !o.dropped) return hln_fail(err, HLN_ENOMEM, "out of memory");
    memcpy(o.cols, t->cols, sizeof *o.cols * (size_t)t->ncols);
    o.ncols = t->ncols;
    if (t->ndropped) memcpy(o.dropped, t->dropped, sizeof *o.dropped * (size_t)t->ndropped);
    o.ndropped = t->ndropped;
    o.opts = t->opts;
    o.nopts = t->nopts;
    int rc = 0;
    switch (a->kind) {
    case CQL_ALTER_ADD:
        rc = alter_add(r, a, t, &o);
        break;
    case CQL_ALTER_DROP:
        rc = alter_drop(r, a, t, &o);
        break;
    case CQL_ALTER_RENAME:
        rc = alter_rename(r, a, t, &o);
        break;
    case CQL_ALTER_OPTIONS:
        rc = alter_options(r, a, t, &o);
        if (!rc && view_stmt) rc = ex_view_check_options(r, o.opts, o.nopts, true);
        break;
    case CQL_ALTER_TYPE:
        rc = hln_fail(err, HLN_EINVAL, "Altering column types is no longer supported");
        break;
    case CQL_ALTER_DROP_COMPACT:
        rc = hln_fail(err, HLN_EINVAL,
                      "DROP COMPACT STORAGE is disabled. Enable in cassandra.yaml to use.");
        break;
    }
    if (rc) return rc;
    if (!o.changed) { /* Cassandra: an empty schema diff answers VOID */
        r->result.kind = EX_VOID;
        return 0;
    }
    hln_table_alter alt = {.ks = ks,
                           .name = t->name,
                           .cols = o.cols,
                           .ncols = o.ncols,
                           .opts = o.opts,
                           .nopts = o.nopts,
                           .dropped = o.dropped,
                           .ndropped = o.ndropped};
    memcpy(alt.based_on, s->version, 16);
    rc = catalog_alter_table(st->eng->catalog, &alt, err);
    if (rc) return rc;
    schema_change(r, "UPDATED", "TABLE", ks, t->name);
    return 0;
}

static void alter_table(ex_request *r)
{
    ex_state *st = ex_st(r);
    const char *ks = st->plan->ks;
    if (local_system_ks(ks)) {
        ex_finish(r,
                  hln_fail(&r->err, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.", ks));
        return;
    }
    if (replicated_system_ks(ks)) { /* PROTECTED_AUTH_RESOURCES and the like */
        ex_finish(r, hln_fail(&r->err, HLN_EUNAUTHORIZED, "Cannot ALTER <table %s.%s>", ks,
                              st->stmt->u.alter_table.name.name));
        return;
    }
    int rc = HLN_EAGAIN;
    for (int attempt = 0; rc == HLN_EAGAIN && attempt < 8; attempt++) {
        hln_schema *s = catalog_acquire(st->eng->catalog);
        rc = alter_table_once(r, s);
        schema_release(s);
    }
    if (rc == HLN_EAGAIN)
        rc = hln_fail(&r->err, HLN_ESERVER, "schema changed concurrently; retry the ALTER");
    ex_finish(r, rc);
}

/* ---- ALTER KEYSPACE --------------------------------------------------- */

static void alter_keyspace(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_create_keyspace *s = &st->stmt->u.create_keyspace;
    if (local_system_ks(s->name)) {
        ex_finish(r, hln_fail(&r->err, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.",
                              s->name));
        return;
    }
    hln_keyspace_spec spec = {.name = s->name};
    bool durable_given = false;
    int rc = props_keyspace(r, s->props, &spec, &durable_given);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    if (replicated_system_ks(s->name)) { /* accepted; nothing here replicates them */
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    hln_schema *cur = catalog_acquire(st->eng->catalog);
    const hln_keyspace *k = schema_keyspace(cur, s->name);
    if (k && !durable_given) spec.durable_writes = k->durable_writes;
    schema_release(cur);
    if (!k) {
        if (s->if_not_exists) { /* IF EXISTS */
            r->result.kind = EX_VOID;
            ex_finish(r, 0);
        } else {
            ex_finish(r, hln_fail(&r->err, HLN_EINVAL, "Keyspace '%s' doesn't exist", s->name));
        }
        return;
    }
    rc = catalog_alter_keyspace(st->eng->catalog, &spec, &r->err);
    if (rc == HLN_ENOTFOUND) rc = HLN_EINVAL;
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 1) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    schema_change(r, "UPDATED", "KEYSPACE", s->name, NULL);
    ex_finish(r, 0);
}

/* ---- TRUNCATE ----------------------------------------------------------
 * Every shard runs st_truncate_table (storage.h): it rolls its commitlog,
 * writes a durable marker naming the first sstable generation and the first
 * commitlog segment that survive (replay skips the table's records in the
 * older ones), and deletes the older sstables and the memtables; nothing is
 * flushed. So after the answer no shard holds the rows in memory, in a
 * commitlog record a restart (or kill -9) would replay, or in an sstable;
 * writes after the TRUNCATE go to newer generations and segments and are
 * kept. The schema does not change (no event). */

static void truncated(ex_request *r)
{
    int rc = ex_batch_error(r);
    if (!rc) r->result.kind = EX_VOID;
    ex_finish(r, rc);
}

static void truncate_table(ex_request *r)
{
    ex_state *st = ex_st(r);
    const hln_table *t = st->plan->t;
    if (t->is_view) {
        ex_finish(r, hln_fail(&r->err, HLN_EINVAL,
                              "Cannot TRUNCATE materialized view directly; must truncate base "
                              "table instead"));
        return;
    }
    if (t->is_virtual) {
        if (!strcmp(t->ks, "system_virtual_schema") || !strcmp(t->ks, "system_views")) {
            ex_finish(r, hln_fail(&r->err, HLN_EINVAL, "Truncation is not supported by table %s.%s",
                                  t->ks, t->name));
            return;
        }
        /* system, system_schema, system_auth: Cassandra truncates its local
           tables; these are generated from the schema, there is nothing */
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    for (int s = 0; s < st->eng->nshards; s++) {
        ex_op *op = ex_op_new(r, EX_OP_TRUNCATE, s);
        if (!op) {
            ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
            return;
        }
        memcpy(op->table_id, t->id, 16);
    }
    /* the base's views are truncated with it, as Cassandra does */
    const hln_table *views[64];
    int nv = schema_views_of(st->schema, t, views, 64);
    for (int v = 0; v < nv && v < 64; v++)
        for (int s = 0; s < st->eng->nshards; s++) {
            ex_op *op = ex_op_new(r, EX_OP_TRUNCATE, s);
            if (!op) {
                ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
                return;
            }
            memcpy(op->table_id, views[v]->id, 16);
        }
    ex_dispatch(r, truncated);
}

/* ---- CREATE / ALTER / DROP TYPE ----------------------------------------
 * As Cassandra 5.0's CreateTypeStatement, AlterTypeStatement (AddField,
 * RenameFields; AlterField is refused) and DropTypeStatement. Validation
 * runs against a fresh snapshot; the catalog applies the new definition
 * only if no other DDL came in between (HLN_EAGAIN: validate again), and
 * rebuilds the types and columns that use the type. */

/* The type of UDT field f (CreateTypeStatement / AddField's checks). */
static int field_type(ex_request *r, const char *ks, const cql_column_def *f, const hln_type **out)
{
    const cql_typeref *tr = f->type;
    int rc = resolve_type(r, ks, f->name, tr, out);
    if (rc == HLN_EINVAL && !strncmp(r->err.msg, "Unknown type ", 13) && tr->nparams == 0) {
        /* an unknown bare name reads as a (non-frozen) UDT reference there */
        r->err.msg[0] = 0;
        return hln_fail(&r->err, HLN_EINVAL, "A user type cannot contain non-frozen UDTs");
    }
    if (rc) return rc;
    if ((*out)->kind == HLN_T_COUNTER)
        return hln_fail(&r->err, HLN_EINVAL, "A user type cannot contain counters");
    if ((*out)->kind == HLN_T_UDT && !(*out)->frozen)
        return hln_fail(&r->err, HLN_EINVAL, "A user type cannot contain non-frozen UDTs");
    return 0;
}

static int udt_done(ex_request *r, int rc, const char *change, const char *ks, const char *name)
{
    if (rc < 0) return rc;
    if (rc == 1) {
        r->result.kind = EX_VOID;
        return 0;
    }
    schema_change(r, change, "TYPE", ks, name);
    return 0;
}

static int create_type_once(ex_request *r, hln_schema *s)
{
    ex_state *st = ex_st(r);
    const cql_create_table *c = &st->stmt->u.create_table;
    const char *ks = st->plan->ks, *name = c->name.name;
    st->schema = s;
    if (!schema_keyspace(s, ks))
        return hln_fail(&r->err, HLN_EINVAL, "Keyspace '%s' doesn't exist", ks);
    if (schema_udt(s, ks, name)) {
        if (c->if_not_exists) return 1;
        return hln_fail(&r->err, HLN_EINVAL, "A user type with name '%s' already exists", name);
    }
    const char *fields[HLN_TUPLE_MAX];
    const hln_type *types[HLN_TUPLE_MAX];
    int n = 0;
    for (const cql_column_def *f = c->columns; f; f = f->next) {
        for (int i = 0; i < n; i++)
            if (!strcmp(fields[i], f->name))
                return hln_fail(&r->err, HLN_EINVAL, "Duplicate field name '%s' in type '%s'",
                                f->name, name);
        if (n == HLN_TUPLE_MAX)
            return hln_fail(&r->err, HLN_EUNSUPPORTED,
                            "A user type may have at most %d fields here", HLN_TUPLE_MAX);
        int rc = field_type(r, ks, f, &types[n]);
        if (rc) return rc;
        fields[n++] = f->name;
    }
    const hln_type *def = hln_type_udt(ks, name, fields, types, n, false);
    if (!def) return hln_fail(&r->err, HLN_EUNSUPPORTED, "Type %s: too complex", name);
    return catalog_set_type(st->eng->catalog, ks, name, def, s->version, &r->err);
}

/* Tables using the UDT ks.name, "a, b" (NULL when none); likewise types. */
static const char *udt_users(ex_request *r, const hln_schema *s, const char *ks, const char *name,
                             bool tables, bool pk_only)
{
    const hln_keyspace *k = schema_keyspace(s, ks);
    hln_buf b;
    hln_buf_init(&b);
    /* tables in creation order, as Cassandra lists them: by their time uuid ids */
    const hln_type *tu = hln_type_by_kind(HLN_T_TIMEUUID);
    const hln_table *last = NULL;
    for (;;) {
        const hln_table *next = NULL;
        for (int i = 0; k && tables && i < k->ntables; i++) {
            const hln_table *t = k->tables[i];
            if (last && hln_type_compare(tu, t->id, 16, last->id, 16) <= 0) continue;
            if (next && hln_type_compare(tu, t->id, 16, next->id, 16) >= 0) continue;
            for (int j = 0; j < (pk_only ? t->npk : t->ncols); j++)
                if (hln_type_uses_udt(t->cols[j].type, ks, name)) {
                    next = t;
                    break;
                }
        }
        if (!next) break;
        hln_buf_printf(&b, "%s%s%s%s", b.len ? ", " : "", pk_only ? ks : "", pk_only ? "." : "",
                       next->name);
        last = next;
    }
    for (int i = 0; k && !tables && i < k->ntypes; i++) {
        const hln_type *t = k->types[i];
        if (!strcmp(hln_udt_name(t), name)) continue;
        for (int f = 0; f < t->nparams; f++)
            if (hln_type_uses_udt(t->params[f], ks, name)) {
                hln_buf_printf(&b, "%s%s", b.len ? ", " : "", hln_udt_name(t));
                break;
            }
    }
    const char *out = b.len ? hln_arena_strndup(&r->arena, (const char *)b.data, b.len) : NULL;
    hln_buf_free(&b);
    return out;
}

static int drop_type_once(ex_request *r, hln_schema *s)
{
    ex_state *st = ex_st(r);
    const cql_drop *d = &st->stmt->u.drop;
    const char *ks = st->plan->ks, *name = d->name.name;
    if (!schema_keyspace(s, ks)) {
        if (d->if_exists) return 1;
        return hln_fail(&r->err, HLN_EINVAL, "Keyspace '%s' doesn't exist", ks);
    }
    if (!schema_udt(s, ks, name)) {
        if (d->if_exists) return 1;
        return hln_fail(&r->err, HLN_EINVAL, "Type '%s.%s' doesn't exist", ks, name);
    }
    const char *users = udt_users(r, s, ks, name, false, false);
    if (users)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Cannot drop user type '%s.%s' as it is still used by user types %s", ks,
                        name, users);
    if ((users = udt_users(r, s, ks, name, true, false)))
        return hln_fail(&r->err, HLN_EINVAL,
                        "Cannot drop user type '%s.%s' as it is still used by tables %s", ks, name,
                        users);
    return catalog_set_type(st->eng->catalog, ks, name, NULL, s->version, &r->err);
}

static int alter_type_once(ex_request *r, hln_schema *s)
{
    ex_state *st = ex_st(r);
    const cql_alter_table *a = &st->stmt->u.alter_table;
    const char *ks = st->plan->ks, *name = a->name.name;
    st->schema = s;
    if (!schema_keyspace(s, ks))
        return hln_fail(&r->err, HLN_EINVAL, "Keyspace '%s' doesn't exist", ks);
    const hln_type *old = schema_udt(s, ks, name);
    if (!old) {
        if (a->if_exists) return 1;
        return hln_fail(&r->err, HLN_EINVAL, "Type %s.%s doesn't exist", ks, name);
    }
    const char *fields[HLN_TUPLE_MAX];
    const hln_type *types[HLN_TUPLE_MAX];
    int n = old->nparams;
    for (int i = 0; i < n; i++) {
        fields[i] = hln_udt_field(old, i);
        types[i] = old->params[i];
    }
    switch (a->kind) {
    case CQL_ALTER_ADD: {
        const cql_column_def *f = a->add;
        if (!f || f->next || f->is_static)
            return hln_fail(&r->err, HLN_ESYNTAX, "line 1:0 no viable alternative at input 'ADD'");
        for (int i = 0; i < n; i++)
            if (!strcmp(fields[i], f->name)) {
                if (a->if_col) return 1;
                return hln_fail(&r->err, HLN_EINVAL,
                                "Cannot add field %s to type %s.%s: a field with name %s already "
                                "exists",
                                f->name, ks, name, f->name);
            }
        if (n == HLN_TUPLE_MAX)
            return hln_fail(&r->err, HLN_EUNSUPPORTED,
                            "A user type may have at most %d fields here", HLN_TUPLE_MAX);
        int rc = field_type(r, ks, f, &types[n]);
        if (rc) return rc;
        if (hln_type_uses_udt(types[n], ks, name))
            return hln_fail(&r->err, HLN_EINVAL,
                            "Cannot add new field %s of type %s to user type %s.%s as it would "
                            "create a circular reference",
                            f->name, types[n]->cql_name, ks, name);
        const char *pk = udt_users(r, s, ks, name, true, true);
        if (pk) /* a new (null) field would change how keys serialise, so their tokens */
            return hln_fail(&r->err, HLN_EINVAL,
                            "Cannot add new field %s of type %s to user type %s.%s as the type is "
                            "being used in partition key by the following tables: %s",
                            f->name, types[n]->cql_name, ks, name, pk);
        fields[n++] = f->name;
        break;
    }
    case CQL_ALTER_RENAME: {
        const cql_name_list *from = a->from, *to = a->to;
        for (; from && to; from = from->next, to = to->next) {
            int at = -1;
            for (int i = 0; i < n; i++)
                if (!strcmp(fields[i], from->name)) at = i;
            if (at < 0) {
                if (a->if_col) continue;
                return hln_fail(&r->err, HLN_EINVAL, "Unkown field %s in user type %s.%s",
                                from->name, ks, name);
            }
            fields[at] = to->name;
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                if (!strcmp(fields[i], fields[j])) /* sic: Cassandra 5.0 names the keyspace here */
                    return hln_fail(&r->err, HLN_EINVAL, "Duplicate field name %s in type %s",
                                    fields[i], ks);
        break;
    }
    case CQL_ALTER_TYPE:
        return hln_fail(&r->err, HLN_EINVAL, "Altering field types is no longer supported");
    default:
        return hln_fail(&r->err, HLN_ESYNTAX, "line 1:0 no viable alternative at input 'ALTER'");
    }
    const hln_type *def = hln_type_udt(ks, name, fields, types, n, false);
    if (!def) return hln_fail(&r->err, HLN_EUNSUPPORTED, "Type %s: too complex", name);
    return catalog_set_type(st->eng->catalog, ks, name, def, s->version, &r->err);
}

static void udt_ddl(ex_request *r)
{
    ex_state *st = ex_st(r);
    const char *ks = st->plan->ks;
    cql_stmt_kind k = st->stmt->kind;
    if (local_system_ks(ks) || replicated_system_ks(ks)) {
        ex_finish(r,
                  hln_fail(&r->err, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.", ks));
        return;
    }
    hln_schema *orig = st->schema;
    int rc = HLN_EAGAIN;
    for (int attempt = 0; rc == HLN_EAGAIN && attempt < 8; attempt++) {
        hln_schema *s = catalog_acquire(st->eng->catalog);
        rc = k == CQL_CREATE_TYPE ? create_type_once(r, s)
             : k == CQL_DROP_TYPE ? drop_type_once(r, s)
                                  : alter_type_once(r, s);
        st->schema = orig;
        schema_release(s);
    }
    if (rc == HLN_EAGAIN)
        rc = hln_fail(&r->err, HLN_ESERVER, "schema changed concurrently; retry the statement");
    const char *name = k == CQL_CREATE_TYPE ? st->stmt->u.create_table.name.name
                       : k == CQL_DROP_TYPE ? st->stmt->u.drop.name.name
                                            : st->stmt->u.alter_table.name.name;
    rc = udt_done(r, rc,
                  k == CQL_CREATE_TYPE ? "CREATED"
                  : k == CQL_DROP_TYPE ? "DROPPED"
                                       : "UPDATED",
                  ks, name);
    ex_finish(r, rc);
}

void ex_run_alter_view(ex_request *r)
{
    alter_table(r);
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
    case CQL_CREATE_TYPE:
    case CQL_ALTER_UDT:
    case CQL_DROP_TYPE:
        udt_ddl(r);
        return;
    case CQL_DROP_TABLE:
        drop_table(r);
        return;
    case CQL_ALTER_TABLE:
        alter_table(r);
        return;
    case CQL_ALTER_KEYSPACE:
        alter_keyspace(r);
        return;
    case CQL_TRUNCATE:
        truncate_table(r);
        return;
    default:
        break;
    }
    ex_finish(r, hln_fail(&r->err, HLN_ESERVER, "not a DDL statement"));
}
