/*
 * describe.c — DESCRIBE statements, answered from the schema snapshot.
 *
 * What: Cassandra 4.0+ answers DESCRIBE on the server (DescribeStatement);
 * cqlsh 6.x sends the statement as a query and prints the rows. The forms:
 *
 *   DESCRIBE KEYSPACES          keyspace_name, type, name: every keyspace
 *   DESCRIBE TABLES             the same for tables (of the current keyspace,
 *                               else of every keyspace)
 *   DESCRIBE KEYSPACE [ks]      keyspace_name, type, name, create_statement:
 *                               the keyspace, then its tables
 *   DESCRIBE TABLE [ks.]t       the table, then its indexes
 *   DESCRIBE INDEX [ks.]i       the index (CREATE [CUSTOM] INDEX ...)
 *   DESCRIBE [FULL] SCHEMA      every user keyspace (FULL: every keyspace)
 *   DESCRIBE name               a keyspace, else a table of the current
 *                               keyspace (Cassandra's generic form)
 *   DESCRIBE CLUSTER            cluster, partitioner, snitch
 *
 * Result columns belong to the pseudo-table system.describe, all text.
 * Keyspaces and tables are listed sorted by name, as Cassandra's
 * SchemaElement.NAME_COMPARATOR sorts them; names are quoted when CQL needs
 * it.
 *
 * Why the text is so: create_statement is what Cassandra's
 * KeyspaceMetadata.toCqlString and TableMetadata.toCqlString print, byte for
 * byte, so that tools diffing DESCRIBE output see no difference, and it is
 * valid CQL that recreates the element: columns in create order (partition
 * key, clustering, statics, regulars; simple before non-frozen collections),
 * the PRIMARY KEY clause (inline for a single-column key), CLUSTERING ORDER
 * BY with every clustering column, then every table option in Cassandra's
 * order, falling back to Cassandra's default for options the table does not
 * keep (options.c keeps some only when they differ from the default).
 *
 * Not done: paging of the result (Cassandra pages by row offset; schemas
 * here are small), WITH INTERNALS, DESCRIBE ONLY KEYSPACE, the
 * range_ownership column of DESCRIBE CLUSTER, and the element kinds Helenus
 * has no schema for (functions, aggregates, views).
 *
 * Invariants:
 *  1. Runs on the request's shard without touching storage: the snapshot
 *     the request holds is the only input, so the answer is consistent.
 *  2. Every cell is non-null text allocated from the request's arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

/* The rows being built: cells row-major, ncols per row. */
typedef struct drows {
    ex_request *r;
    int ncols;
    ex_value *cells;
    int ncells, cap;
    bool nomem;
} drows;

static void cell(drows *d, const char *s, size_t n)
{
    if (d->nomem) return;
    if (d->ncells == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        ex_value *c = hln_arena_alloc(&d->r->arena, sizeof *c * (size_t)cap);
        if (!c) {
            d->nomem = true;
            return;
        }
        if (d->ncells) memcpy(c, d->cells, sizeof *c * (size_t)d->ncells);
        d->cells = c;
        d->cap = cap;
    }
    uint8_t *p = hln_arena_memdup(&d->r->arena, s, n ? n : 1);
    if (!p) {
        d->nomem = true;
        return;
    }
    d->cells[d->ncells].p = p;
    d->cells[d->ncells].len = (int32_t)n;
    d->ncells++;
}

static void cell_str(drows *d, const char *s)
{
    cell(d, s, strlen(s));
}

static const char *quote(drows *d, const char *name)
{
    return ex_quote(&d->r->arena, name);
}

/* A row of a listing: keyspace_name, type, name. */
static void list_row(drows *d, const char *ks, const char *type, const char *name)
{
    cell_str(d, quote(d, ks));
    cell_str(d, type);
    cell_str(d, quote(d, name));
}

/* ---- CQL text ------------------------------------------------------------ */

static void put(hln_buf *b, const char *s)
{
    hln_buf_put(b, s, strlen(s));
}

/* 'text' with quotes doubled. */
static void put_quoted(hln_buf *b, const char *s)
{
    hln_buf_u8(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') hln_buf_u8(b, '\'');
        hln_buf_u8(b, (uint8_t)*s);
    }
    hln_buf_u8(b, '\'');
}

static void keyspace_cql(hln_buf *b, const hln_keyspace *k, drows *d)
{
    hln_buf_printf(b, "CREATE KEYSPACE %s WITH replication = {", quote(d, k->name));
    for (int i = 0; i < k->nreplication; i++) {
        if (i) put(b, ", ");
        put_quoted(b, k->replication[i].key);
        put(b, ": ");
        const char *v = k->replication[i].value ? k->replication[i].value : "";
        /* ReplicationParams.appendCqlTo: Cassandra's own strategies by short name */
        static const char LOC[] = "org.apache.cassandra.locator.";
        if (!strcmp(k->replication[i].key, "class") && !strncmp(v, LOC, sizeof LOC - 1))
            v += sizeof LOC - 1;
        put_quoted(b, v);
    }
    hln_buf_printf(b, "}  AND durable_writes = %s;", k->durable_writes ? "true" : "false");
}

/* Table options in TableParams.appendCqlTo's order; quoted: the value is
 * text (a string literal), else it is written as kept (numbers, booleans,
 * map literals). def: Cassandra's default, for options kept only when set. */
static const struct {
    const char *key;
    bool quoted;
    const char *def;
} TABLE_OPTS[] = {
    {"additional_write_policy", true, "99p"},
    {"allow_auto_snapshot", false, "true"},
    {"bloom_filter_fp_chance", false, "0.01"},
    {"caching", false, "{'keys': 'ALL', 'rows_per_partition': 'NONE'}"},
    {"cdc", false, "false"},
    {"comment", true, ""},
    {"compaction", false,
     "{'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', "
     "'max_threshold': '32', 'min_threshold': '4'}"},
    {"compression", false,
     "{'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}"},
    {"memtable", true, "default"},
    {"crc_check_chance", false, "1.0"},
    {"default_time_to_live", false, "0"},
    {"extensions", false, "{}"},
    {"gc_grace_seconds", false, "864000"},
    {"incremental_backups", false, "true"},
    {"max_index_interval", false, "2048"},
    {"memtable_flush_period_in_ms", false, "0"},
    {"min_index_interval", false, "128"},
    {"read_repair", true, "BLOCKING"},
    {"speculative_retry", true, "99p"},
};

/* A non-frozen collection or UDT: a "complex" column, which Cassandra
 * orders after the simple ones. */
static bool is_complex(const hln_column *c)
{
    return hln_type_is_multicell(c->type);
}

static void table_cql(hln_buf *b, const hln_table *t, drows *d)
{
    bool single = t->npk == 1 && t->nck == 0;
    hln_buf_printf(b, "CREATE TABLE %s.%s (\n", quote(d, t->ks), quote(d, t->name));
    /* create order: key columns as kept, then statics and regulars, each
     * simple before complex (t->cols keeps the rest sorted by name) */
    const hln_column **order = hln_arena_alloc(&d->r->arena, sizeof *order * (size_t)t->ncols + 1);
    if (!order) {
        d->nomem = true;
        return;
    }
    int n = 0;
    for (int i = 0; i < t->npk + t->nck; i++)
        order[n++] = &t->cols[i];
    for (int pass = 0; pass < 4; pass++) {
        hln_column_kind kind = pass < 2 ? HLN_COL_STATIC : HLN_COL_REGULAR;
        bool complex = pass % 2 == 1;
        for (int i = t->npk + t->nck; i < t->ncols; i++)
            if (t->cols[i].kind == kind && is_complex(&t->cols[i]) == complex)
                order[n++] = &t->cols[i];
    }
    for (int i = 0; i < n; i++) {
        const hln_column *c = order[i];
        hln_buf_printf(b, "    %s %s", quote(d, c->name), c->type->cql_name);
        if (c->kind == HLN_COL_STATIC) put(b, " static");
        if (single && c->kind == HLN_COL_PARTITION_KEY) put(b, " PRIMARY KEY");
        if (!single || i + 1 < n) hln_buf_u8(b, ',');
        hln_buf_u8(b, '\n');
    }
    if (!single) {
        put(b, "    PRIMARY KEY (");
        if (t->npk > 1) hln_buf_u8(b, '(');
        for (int i = 0; i < t->npk; i++)
            hln_buf_printf(b, "%s%s", i ? ", " : "", quote(d, t->cols[i].name));
        if (t->npk > 1) hln_buf_u8(b, ')');
        for (int i = t->npk; i < t->npk + t->nck; i++)
            hln_buf_printf(b, ", %s", quote(d, t->cols[i].name));
        put(b, ")\n");
    }
    put(b, ") WITH ");
    if (t->nck > 0) {
        put(b, "CLUSTERING ORDER BY (");
        for (int i = t->npk; i < t->npk + t->nck; i++)
            hln_buf_printf(b, "%s%s %s", i > t->npk ? ", " : "", quote(d, t->cols[i].name),
                           t->cols[i].desc ? "DESC" : "ASC");
        put(b, ")\n    AND ");
    }
    for (size_t i = 0; i < HLN_ARRAY_LEN(TABLE_OPTS); i++) {
        const char *v = table_option(t, TABLE_OPTS[i].key);
        if (!v) v = TABLE_OPTS[i].def;
        if (i) put(b, "\n    AND ");
        hln_buf_printf(b, "%s = ", TABLE_OPTS[i].key);
        if (TABLE_OPTS[i].quoted)
            put_quoted(b, v);
        else
            put(b, v);
    }
    hln_buf_u8(b, ';');
}

/* IndexMetadata.toCqlString: CREATE CUSTOM INDEX n ON ks.t (target) USING
 * 'class' [WITH OPTIONS = {...}] for storage-attached indexes (the options
 * given, without class_name and target), CREATE INDEX n ON ks.t (target)
 * for legacy ones. */
static void index_cql(hln_buf *b, const hln_table *t, const hln_index *ix, drows *d)
{
    put(b, ix->kind == HLN_IXK_SAI ? "CREATE CUSTOM INDEX " : "CREATE INDEX ");
    put(b, quote(d, ix->name));
    put(b, " ON ");
    put(b, quote(d, t->ks));
    put(b, ".");
    put(b, quote(d, t->name));
    put(b, " (");
    const char *target = index_option(ix, "target");
    put(b, target ? target : "");
    put(b, ")");
    if (ix->kind == HLN_IXK_SAI) {
        const char *cls = index_option(ix, "class_name");
        put(b, " USING ");
        put_quoted(b, cls ? cls : "sai");
        int n = 0;
        for (int i = 0; i < ix->nopts; i++) {
            const char *key = ix->opts[i].key;
            if (!strcmp(key, "class_name") || !strcmp(key, "target")) continue;
            put(b, n++ ? ", " : " WITH OPTIONS = {");
            put_quoted(b, key);
            put(b, ": ");
            put_quoted(b, ix->opts[i].value);
        }
        if (n) put(b, "}");
    }
    put(b, ";");
}

static void index_row(drows *d, const hln_table *t, const hln_index *ix)
{
    hln_buf b;
    hln_buf_init(&b);
    index_cql(&b, t, ix, d);
    if (b.err) d->nomem = true;
    list_row(d, t->ks, "index", ix->name);
    cell(d, b.err ? "" : (const char *)b.data, b.err ? 0 : b.len);
    hln_buf_free(&b);
}

/* ViewMetadata.toCqlString: CREATE MATERIALIZED VIEW ks.v AS, the SELECT
 * (key columns, then the others by name; * for include_all_columns), FROM,
 * WHERE, PRIMARY KEY, then the options as a table's without
 * default_time_to_live. */
static void view_cql(hln_buf *b, const hln_table *t, drows *d)
{
    hln_buf_printf(b, "CREATE MATERIALIZED VIEW %s.%s AS\n    SELECT ", quote(d, t->ks),
                   quote(d, t->name));
    if (t->include_all) {
        put(b, "*");
    } else {
        for (int i = 0; i < t->ncols; i++)
            hln_buf_printf(b, "%s%s", i ? ", " : "", quote(d, t->cols[i].name));
    }
    hln_buf_printf(b, "\n    FROM %s.%s\n    WHERE %s\n    PRIMARY KEY (", quote(d, t->ks),
                   quote(d, t->base_name), t->view_where);
    if (t->npk > 1) hln_buf_u8(b, '(');
    for (int i = 0; i < t->npk; i++)
        hln_buf_printf(b, "%s%s", i ? ", " : "", quote(d, t->cols[i].name));
    if (t->npk > 1) hln_buf_u8(b, ')');
    for (int i = t->npk; i < t->npk + t->nck; i++)
        hln_buf_printf(b, ", %s", quote(d, t->cols[i].name));
    put(b, ")\n WITH ");
    if (t->nck > 0) {
        put(b, "CLUSTERING ORDER BY (");
        for (int i = t->npk; i < t->npk + t->nck; i++)
            hln_buf_printf(b, "%s%s %s", i > t->npk ? ", " : "", quote(d, t->cols[i].name),
                           t->cols[i].desc ? "DESC" : "ASC");
        put(b, ")\n    AND ");
    }
    int n = 0;
    for (size_t i = 0; i < HLN_ARRAY_LEN(TABLE_OPTS); i++) {
        if (!strcmp(TABLE_OPTS[i].key, "default_time_to_live")) continue;
        const char *v = table_option(t, TABLE_OPTS[i].key);
        if (!v) v = TABLE_OPTS[i].def;
        if (n++) put(b, "\n    AND ");
        hln_buf_printf(b, "%s = ", TABLE_OPTS[i].key);
        if (TABLE_OPTS[i].quoted)
            put_quoted(b, v);
        else
            put(b, v);
    }
    hln_buf_u8(b, ';');
}

static void view_row(drows *d, const hln_table *t)
{
    hln_buf b;
    hln_buf_init(&b);
    view_cql(&b, t, d);
    if (b.err) d->nomem = true;
    list_row(d, t->ks, "materialized_view", t->name);
    cell(d, b.err ? "" : (const char *)b.data, b.err ? 0 : b.len);
    hln_buf_free(&b);
}

static void table_row(drows *d, const hln_keyspace *k, const hln_table *t);
static const hln_table **sorted_tables(drows *d, const hln_keyspace *k);

/* An element row: keyspace_name, type, name, create_statement; a table's
 * rows are followed by one per index (by name), then one per view of it
 * (by name), as Cassandra lists them. A view alone is its own row. */
static void element_row(drows *d, const hln_keyspace *k, const hln_table *t)
{
    if (t && t->is_view) {
        view_row(d, t);
        return;
    }
    table_row(d, k, t);
    for (int i = 0; t && i < t->nindexes; i++)
        index_row(d, t, &t->indexes[i]);
    const hln_table **ts = t ? sorted_tables(d, k) : NULL;
    for (int i = 0; ts && i < k->ntables; i++)
        if (ts[i]->is_view && !memcmp(ts[i]->base_id, t->id, 16)) view_row(d, ts[i]);
}

static void table_row(drows *d, const hln_keyspace *k, const hln_table *t)
{
    hln_buf b;
    hln_buf_init(&b);
    if (t)
        table_cql(&b, t, d);
    else
        keyspace_cql(&b, k, d);
    if (b.err) d->nomem = true;
    list_row(d, k->name, t ? "table" : "keyspace", t ? t->name : k->name);
    cell(d, b.err ? "" : (const char *)b.data, b.err ? 0 : b.len);
    hln_buf_free(&b);
}

/* ---- sorted views of the snapshot ------------------------------------------ */

static int ks_cmp(const void *x, const void *y)
{
    return strcmp((*(const hln_keyspace *const *)x)->name, (*(const hln_keyspace *const *)y)->name);
}

static int tbl_cmp(const void *x, const void *y)
{
    return strcmp((*(const hln_table *const *)x)->name, (*(const hln_table *const *)y)->name);
}

static const hln_keyspace **sorted_keyspaces(drows *d, const hln_schema *s)
{
    const hln_keyspace **v =
        hln_arena_alloc(&d->r->arena, sizeof *v * (size_t)(s->nkeyspaces ? s->nkeyspaces : 1));
    if (!v) {
        d->nomem = true;
        return NULL;
    }
    for (int i = 0; i < s->nkeyspaces; i++)
        v[i] = s->keyspaces[i];
    qsort(v, (size_t)s->nkeyspaces, sizeof *v, ks_cmp);
    return v;
}

static const hln_table **sorted_tables(drows *d, const hln_keyspace *k)
{
    const hln_table **v =
        hln_arena_alloc(&d->r->arena, sizeof *v * (size_t)(k->ntables ? k->ntables : 1));
    if (!v) {
        d->nomem = true;
        return NULL;
    }
    for (int i = 0; i < k->ntables; i++)
        v[i] = k->tables[i];
    qsort(v, (size_t)k->ntables, sizeof *v, tbl_cmp);
    return v;
}

/* CREATE TYPE ks.t (\n    f type,\n    ...\n); as Cassandra's UserType.toCqlString */
static void type_row(drows *d, const hln_keyspace *k, const hln_type *t)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_printf(&b, "CREATE TYPE %s.%s (\n", quote(d, k->name), quote(d, hln_udt_name(t)));
    for (int i = 0; i < t->nparams; i++)
        hln_buf_printf(&b, "    %s %s%s\n", quote(d, hln_udt_field(t, i)), t->params[i]->cql_name,
                       i + 1 < t->nparams ? "," : "");
    put(&b, ");");
    if (b.err) d->nomem = true;
    list_row(d, k->name, "type", hln_udt_name(t));
    cell(d, b.err ? "" : (const char *)b.data, b.err ? 0 : b.len);
    hln_buf_free(&b);
}

/* The keyspace's types by name, each after the types it uses. */
static void type_rows(drows *d, const hln_keyspace *k)
{
    if (k->ntypes == 0) return;
    bool *done = hln_arena_alloc(&d->r->arena, (size_t)k->ntypes);
    if (!done) {
        d->nomem = true;
        return;
    }
    for (int left = k->ntypes; left > 0;) {
        int before = left;
        for (int i = 0; i < k->ntypes; i++) {
            if (done[i]) continue;
            bool ready = true;
            for (int j = 0; j < k->ntypes && ready; j++)
                if (j != i && !done[j])
                    for (int f = 0; f < k->types[i]->nparams && ready; f++)
                        ready = !hln_type_uses_udt(k->types[i]->params[f], k->name,
                                                   hln_udt_name(k->types[j]));
            if (!ready) continue;
            type_row(d, k, k->types[i]);
            done[i] = true;
            left--;
            break; /* the first ready one by name, then look again */
        }
        if (left == before) return; /* a cycle cannot happen; never loop */
    }
}

/* The keyspace, its types, then each of its tables. */
static void keyspace_elements(drows *d, const hln_keyspace *k)
{
    element_row(d, k, NULL);
    type_rows(d, k);
    const hln_table **ts = sorted_tables(d, k);
    for (int i = 0; ts && i < k->ntables; i++)
        if (!ts[i]->is_view) element_row(d, k, ts[i]); /* views follow their base */
}

static void type_names(drows *d, const hln_keyspace *k)
{
    for (int i = 0; i < k->ntypes; i++) /* already by name */
        list_row(d, k->name, "type", hln_udt_name(k->types[i]));
}

static void table_names(drows *d, const hln_keyspace *k)
{
    const hln_table **ts = sorted_tables(d, k);
    for (int i = 0; ts && i < k->ntables; i++)
        if (!ts[i]->is_view) list_row(d, k->name, "table", ts[i]->name);
}

/* ---- statement ------------------------------------------------------------ */

static const char *const LIST_COLS[] = {"keyspace_name", "type", "name", "create_statement"};
static const char *const CLUSTER_COLS[] = {"cluster", "partitioner", "snitch"};

static int keyspace_of(ex_request *r, const char *ks, const hln_keyspace **out)
{
    *out = schema_keyspace(ex_st(r)->schema, ks);
    if (!*out) return hln_fail(&r->err, HLN_EINVAL, "'%s' not found in keyspaces", ks);
    return 0;
}

/* Fills d for the statement; ncols receives the result's width. */
static int describe(ex_request *r, const cql_describe *q, drows *d)
{
    const hln_schema *s = ex_st(r)->schema;
    const char *cur = ex_st(r)->plan->ks; /* the current keyspace, or NULL */
    const hln_keyspace *k = NULL;
    const hln_keyspace **all = NULL;
    const char *ks = q->name.ks ? q->name.ks : cur;
    int rc;
    switch (q->what) {
    case CQL_DESC_KEYSPACES:
        d->ncols = 3;
        if (!(all = sorted_keyspaces(d, s))) return 0;
        for (int i = 0; i < s->nkeyspaces; i++)
            list_row(d, all[i]->name, "keyspace", all[i]->name);
        return 0;
    case CQL_DESC_TABLES:
        d->ncols = 3;
        if (cur) {
            if ((rc = keyspace_of(r, cur, &k))) return rc;
            table_names(d, k);
            return 0;
        }
        if (!(all = sorted_keyspaces(d, s))) return 0;
        for (int i = 0; i < s->nkeyspaces; i++)
            table_names(d, all[i]);
        return 0;
    case CQL_DESC_CLUSTER: {
        d->ncols = 3;
        cell_str(d, ex_st(r)->eng->cfg.cluster_name);
        cell_str(d, "Murmur3Partitioner");
        cell_str(d, "SimpleSnitch");
        return 0;
    }
    case CQL_DESC_SCHEMA:
    case CQL_DESC_FULL_SCHEMA:
        d->ncols = 4;
        if (!(all = sorted_keyspaces(d, s))) return 0;
        for (int i = 0; i < s->nkeyspaces; i++)
            if (q->what == CQL_DESC_FULL_SCHEMA || !all[i]->is_system) keyspace_elements(d, all[i]);
        return 0;
    case CQL_DESC_KEYSPACE:
        d->ncols = 4;
        ks = q->name.name ? q->name.name : cur;
        if (!ks)
            return hln_fail(&r->err, HLN_EINVAL, "No keyspace specified and no current keyspace");
        if ((rc = keyspace_of(r, ks, &k))) return rc;
        keyspace_elements(d, k);
        return 0;
    case CQL_DESC_GENERIC:
        /* a keyspace, else a table (cqlsh's help: in this order) */
        d->ncols = 4;
        if (!q->name.ks && (k = schema_keyspace(s, q->name.name))) {
            keyspace_elements(d, k);
            return 0;
        }
        if (!q->name.ks && !strcmp(q->name.name, "types")) { /* DESCRIBE TYPES */
            d->ncols = 3;
            if (cur) {
                if ((rc = keyspace_of(r, cur, &k))) return rc;
                type_names(d, k);
                return 0;
            }
            if (!(all = sorted_keyspaces(d, s))) return 0;
            for (int i = 0; i < s->nkeyspaces; i++)
                type_names(d, all[i]);
            return 0;
        }
        if (!ks) ks = q->name.name;
        if ((rc = keyspace_of(r, ks, &k))) return rc;
        {
            const hln_table *t = schema_table(s, ks, q->name.name), *it = NULL;
            const hln_index *ix = t ? NULL : schema_index(s, ks, q->name.name, &it);
            if (ix) {
                index_row(d, it, ix);
                return 0;
            }
            if (!t)
                return hln_fail(&r->err, HLN_EINVAL, "'%s' not found in keyspace '%s'",
                                q->name.name, ks);
            element_row(d, k, t);
        }
        return 0;
    case CQL_DESC_TYPE:
        d->ncols = 4;
        if (!ks)
            return hln_fail(&r->err, HLN_EINVAL, "No keyspace specified and no current keyspace");
        if ((rc = keyspace_of(r, ks, &k))) return rc;
        {
            const hln_type *t = schema_udt(s, ks, q->name.name);
            if (!t)
                return hln_fail(&r->err, HLN_EINVAL, "User defined type '%s' not found in '%s'",
                                q->name.name, ks);
            type_row(d, k, t);
        }
        return 0;
    case CQL_DESC_INDEX:
        d->ncols = 4;
        if (!ks)
            return hln_fail(&r->err, HLN_EINVAL, "No keyspace specified and no current keyspace");
        if ((rc = keyspace_of(r, ks, &k))) return rc;
        {
            const hln_table *it = NULL;
            const hln_index *ix = schema_index(s, ks, q->name.name, &it);
            if (!ix)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Table for existing index '%s' not found in '%s'", q->name.name,
                                ks);
            index_row(d, it, ix);
        }
        return 0;
    case CQL_DESC_VIEW:
        d->ncols = 4;
        if (!ks)
            return hln_fail(&r->err, HLN_EINVAL, "No keyspace specified and no current keyspace");
        if ((rc = keyspace_of(r, ks, &k))) return rc;
        {
            const hln_table *t = schema_table(s, ks, q->name.name);
            if (!t || !t->is_view)
                return hln_fail(&r->err, HLN_EINVAL, "Materialized view '%s' not found in '%s'",
                                q->name.name, ks);
            view_row(d, t);
        }
        return 0;
    case CQL_DESC_TABLE:
        d->ncols = 4;
        if (!ks)
            return hln_fail(&r->err, HLN_EINVAL, "No keyspace specified and no current keyspace");
        if ((rc = keyspace_of(r, ks, &k))) return rc;
        {
            const hln_table *t = schema_table(s, ks, q->name.name);
            if (!t || t->is_view) /* a view is DESCRIBE MATERIALIZED VIEW's */
                return hln_fail(&r->err, HLN_EINVAL, "Table '%s' not found in keyspace '%s'",
                                q->name.name, ks);
            element_row(d, k, t);
        }
        return 0;
    }
    return hln_fail(&r->err, HLN_EUNSUPPORTED, "DESCRIBE form not supported");
}

void ex_run_describe(ex_request *r)
{
    const cql_describe *q = &ex_st(r)->stmt->u.describe;
    drows d = {.r = r};
    int rc = describe(r, q, &d);
    if (!rc && d.nomem) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    ex_result *res = &r->result;
    res->kind = EX_ROWS;
    res->ncols = d.ncols;
    res->cols = hln_arena_alloc(&r->arena, sizeof *res->cols * (size_t)d.ncols);
    if (!res->cols) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    const char *const *names = q->what == CQL_DESC_CLUSTER ? CLUSTER_COLS : LIST_COLS;
    for (int i = 0; i < d.ncols; i++) {
        res->cols[i].ks = "system";
        res->cols[i].table = "describe";
        res->cols[i].name = names[i];
        res->cols[i].type = hln_type_by_kind(HLN_T_VARCHAR);
    }
    res->cells = d.cells;
    res->nrows = d.ncols ? d.ncells / d.ncols : 0;
    ex_finish(r, 0);
}
