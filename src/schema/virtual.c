/*
 * virtual.c — rows of the system tables, generated from a snapshot.
 *
 * What: schema_virtual_rows produces every row of system.local, system.peers,
 * system.peers_v2, system.size_estimates, system.table_estimates, the
 * system_schema tables and the system_virtual_schema tables, as CQL values
 * serialised the way the native protocol carries them (v4: collections are
 * [i32 n] then [i32 len][bytes] per element, or per key and value).
 *
 * Why generated: these tables describe the schema and the node; computing
 * them from the snapshot on each read means they can never disagree with the
 * schema the request runs against.
 *
 * Row order follows Cassandra: system_schema partitions (keyspaces) come in
 * Murmur3 token order of the keyspace name, rows within a partition in
 * clustering order (UTF-8 byte order of table and column names); virtual
 * keyspace tables order partitions by key. Set elements and map keys are
 * sorted by their byte order (text).
 *
 * Invariants:
 *  1. Each row has t->ncols cells, in t->cols order; absent values are null
 *     (len -1).
 *  2. All memory is from the caller's arena.
 */
#include "schema/schema_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rows {
    hln_arena *a;
    const hln_table *t;
    hln_bytes **v;
    int n, cap;
    int err;
} rows;

static hln_bytes *row_new(rows *r)
{
    if (r->err) return NULL;
    if (r->n == r->cap) {
        int ncap = r->cap ? r->cap * 2 : 16;
        hln_bytes **nv = hln_arena_alloc(r->a, sizeof *nv * (size_t)ncap);
        if (!nv) {
            r->err = HLN_ENOMEM;
            return NULL;
        }
        if (r->n) memcpy(nv, r->v, sizeof *nv * (size_t)r->n);
        r->v = nv;
        r->cap = ncap;
    }
    hln_bytes *row = hln_arena_alloc(r->a, sizeof *row * (size_t)(r->t->ncols ? r->t->ncols : 1));
    if (!row) {
        r->err = HLN_ENOMEM;
        return NULL;
    }
    for (int i = 0; i < r->t->ncols; i++) {
        row[i].p = NULL;
        row[i].len = -1;
    }
    r->v[r->n++] = row;
    return row;
}

/* Sets column `name` of row to the n bytes at p (copied). */
static void put(rows *r, hln_bytes *row, const char *name, const void *p, size_t n)
{
    if (!row || r->err) return;
    const hln_column *c = table_column(r->t, name);
    if (!c) return;
    uint8_t *d = hln_arena_alloc(r->a, n ? n : 1);
    if (!d) {
        r->err = HLN_ENOMEM;
        return;
    }
    if (n) memcpy(d, p, n);
    row[c - r->t->cols].p = d;
    row[c - r->t->cols].len = (int32_t)n;
}

static void put_buf(rows *r, hln_bytes *row, const char *name, hln_buf *b)
{
    if (b->err)
        r->err = HLN_ENOMEM;
    else
        put(r, row, name, b->data, b->len);
    hln_buf_free(b);
}

static void put_text(rows *r, hln_bytes *row, const char *name, const char *s)
{
    if (s) put(r, row, name, s, strlen(s));
}

static void put_int(rows *r, hln_bytes *row, const char *name, int32_t v)
{
    uint8_t b[4] = {(uint8_t)((uint32_t)v >> 24), (uint8_t)((uint32_t)v >> 16),
                    (uint8_t)((uint32_t)v >> 8), (uint8_t)v};
    put(r, row, name, b, 4);
}

static void put_double(rows *r, hln_bytes *row, const char *name, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (56 - 8 * i));
    put(r, row, name, b, 8);
}

static void put_bool(rows *r, hln_bytes *row, const char *name, bool v)
{
    uint8_t b = v ? 1 : 0;
    put(r, row, name, &b, 1);
}

static int str_order(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static int kv_order(const void *pa, const void *pb)
{
    return strcmp(((const hln_option *)pa)->key, ((const hln_option *)pb)->key);
}

/* set<text>/list<text>: sorted and deduplicated when `set`. */
static void put_strings(rows *r, hln_bytes *row, const char *name, const char **s, int n, bool set)
{
    const char **sorted = NULL;
    if (n > 0) {
        sorted = hln_arena_memdup(r->a, s, sizeof *s * (size_t)n);
        if (!sorted) {
            r->err = HLN_ENOMEM;
            return;
        }
        if (set) qsort(sorted, (size_t)n, sizeof *sorted, str_order);
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!set || m == 0 || strcmp(sorted[m - 1], sorted[i]) != 0) sorted[m++] = sorted[i];
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u32(&b, (uint32_t)m);
    for (int i = 0; i < m; i++)
        hln_buf_bytes(&b, sorted[i], (int32_t)strlen(sorted[i]));
    put_buf(r, row, name, &b);
}

/* map<text, text> or map<text, blob> (values "0x..."), from pairs. */
static void put_map(rows *r, hln_bytes *row, const char *name, const hln_option *kv, int n,
                    bool blob_values)
{
    hln_option *sorted = NULL;
    if (n > 0) {
        sorted = hln_arena_memdup(r->a, kv, sizeof *kv * (size_t)n);
        if (!sorted) {
            r->err = HLN_ENOMEM;
            return;
        }
        qsort(sorted, (size_t)n, sizeof *sorted, kv_order);
    }
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u32(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        hln_buf_bytes(&b, sorted[i].key, (int32_t)strlen(sorted[i].key));
        const char *v = sorted[i].value;
        if (!blob_values) {
            hln_buf_bytes(&b, v, (int32_t)strlen(v));
            continue;
        }
        /* blob values are kept as "0x..." text; one that is not valid hex is
           shown as its text bytes rather than guessed at */
        hln_buf raw;
        hln_buf_init(&raw);
        if (hln_type_from_literal(hln_type_by_name("blob"), HLN_LIT_HEX, v, name, &raw, NULL))
            hln_buf_bytes(&b, v, (int32_t)strlen(v));
        else
            hln_buf_bytes(&b, raw.data, (int32_t)raw.len);
        hln_buf_free(&raw);
    }
    put_buf(r, row, name, &b);
}

static void put_map_text(rows *r, hln_bytes *row, const char *name, const char *text, bool blobs)
{
    hln_option *kv;
    int n;
    int rc = schema_map_parse(r->a, text, &kv, &n);
    if (rc == HLN_ENOMEM)
        r->err = rc;
    else if (rc == 0)
        put_map(r, row, name, kv, n, blobs);
}

/* An option of t, as the value of the same-named column of type ty. */
static void put_option(rows *r, hln_bytes *row, const hln_column *col, const char *v)
{
    const hln_type *ty = col->type;
    switch (ty->kind) {
    case HLN_T_VARCHAR:
    case HLN_T_ASCII:
        put_text(r, row, col->name, v);
        break;
    case HLN_T_INT:
        put_int(r, row, col->name, (int32_t)strtol(v, NULL, 10));
        break;
    case HLN_T_DOUBLE:
        put_double(r, row, col->name, strtod(v, NULL));
        break;
    case HLN_T_BOOLEAN:
        put_bool(r, row, col->name, strcmp(v, "true") == 0);
        break;
    case HLN_T_MAP:
        put_map_text(r, row, col->name, v,
                     ty->nparams == 2 && ty->params[1] && ty->params[1]->kind == HLN_T_BLOB);
        break;
    default:
        break;
    }
}

/* ---- ordering of keyspaces -------------------------------------------- */

typedef struct ks_ref {
    const hln_keyspace *ks;
    int64_t token;
} ks_ref;

static int by_token(const void *pa, const void *pb)
{
    const ks_ref *a = pa, *b = pb;
    if (a->token != b->token) return a->token < b->token ? -1 : 1;
    return strcmp(a->ks->name, b->ks->name);
}

static int by_name(const void *pa, const void *pb)
{
    const ks_ref *a = pa, *b = pb;
    return strcmp(a->ks->name, b->ks->name);
}

/* The keyspaces listed by system_schema (virtual == false) or by
 * system_virtual_schema (virtual == true), in partition order. */
static ks_ref *listed_keyspaces(rows *r, const hln_schema *s, bool virtual, int *n)
{
    *n = 0;
    ks_ref *v = hln_arena_alloc(r->a, sizeof *v * (size_t)(s->nkeyspaces + 1));
    if (!v) {
        r->err = HLN_ENOMEM;
        return NULL;
    }
    for (int i = 0; i < s->nkeyspaces; i++) {
        const hln_keyspace *ks = s->keyspaces[i];
        if (schema_is_virtual_keyspace_name(ks->name) != virtual) continue;
        v[*n].ks = ks;
        v[*n].token = hln_murmur3_token(ks->name, strlen(ks->name));
        (*n)++;
    }
    qsort(v, (size_t)*n, sizeof *v, virtual ? by_name : by_token);
    return v;
}

static int tbl_order(const void *pa, const void *pb)
{
    return strcmp((*(const hln_table *const *)pa)->name, (*(const hln_table *const *)pb)->name);
}

static int col_name_order(const void *pa, const void *pb)
{
    return strcmp((*(const hln_column *const *)pa)->name, (*(const hln_column *const *)pb)->name);
}

/* ---- the tables ------------------------------------------------------- */

static void gen_local(rows *r, const hln_schema *s, const hln_node_info *node)
{
    hln_bytes *row = row_new(r);
    put_text(r, row, "key", "local");
    put_text(r, row, "bootstrapped", "COMPLETED");
    if (node->address_len == 4 || node->address_len == 16) {
        put(r, row, "broadcast_address", node->address, (size_t)node->address_len);
        put(r, row, "listen_address", node->address, (size_t)node->address_len);
        put(r, row, "rpc_address", node->address, (size_t)node->address_len);
    }
    put_int(r, row, "broadcast_port", 7000);
    put_int(r, row, "listen_port", 7000);
    put_int(r, row, "rpc_port", node->port);
    put_text(r, row, "cluster_name", node->cluster_name);
    put_text(r, row, "cql_version", node->cql_version);
    put_text(r, row, "data_center", node->datacenter);
    put_text(r, row, "rack", node->rack);
    if (node->bootstrapped_at > 0)
        put_int(r, row, "gossip_generation", (int32_t)(node->bootstrapped_at / 1000000));
    put(r, row, "host_id", node->host_id, 16);
    put_text(r, row, "native_protocol_version", node->native_protocol_version);
    put_text(r, row, "partitioner", node->partitioner);
    put_text(r, row, "release_version", node->release_version);
    put(r, row, "schema_version", s->version, 16);
    int nt = node->ntokens > 0 ? node->ntokens : 0;
    const char **toks = hln_arena_alloc(r->a, sizeof *toks * (size_t)(nt + 1));
    if (!toks) {
        r->err = HLN_ENOMEM;
        return;
    }
    for (int i = 0; i < nt; i++) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)node->tokens[i]);
        if (!(toks[i] = hln_arena_strdup(r->a, buf))) {
            r->err = HLN_ENOMEM;
            return;
        }
    }
    put_strings(r, row, "tokens", toks, nt, true);
}

static void gen_keyspaces(rows *r, const hln_schema *s, bool virtual)
{
    int n;
    ks_ref *ks = listed_keyspaces(r, s, virtual, &n);
    for (int i = 0; i < n && !r->err; i++) {
        hln_bytes *row = row_new(r);
        put_text(r, row, "keyspace_name", ks[i].ks->name);
        if (virtual) continue;
        put_bool(r, row, "durable_writes", ks[i].ks->durable_writes);
        put_map(r, row, "replication", ks[i].ks->replication, ks[i].ks->nreplication, false);
    }
}

static const hln_table **sorted_tables(rows *r, const hln_keyspace *ks)
{
    const hln_table **v = hln_arena_alloc(r->a, sizeof *v * (size_t)(ks->ntables + 1));
    if (!v) {
        r->err = HLN_ENOMEM;
        return NULL;
    }
    for (int i = 0; i < ks->ntables; i++)
        v[i] = ks->tables[i];
    qsort(v, (size_t)ks->ntables, sizeof *v, tbl_order);
    return v;
}

static void gen_tables(rows *r, const hln_schema *s, bool virtual)
{
    int n;
    ks_ref *ks = listed_keyspaces(r, s, virtual, &n);
    for (int i = 0; i < n && !r->err; i++) {
        const hln_table **tv = sorted_tables(r, ks[i].ks);
        for (int j = 0; tv && j < ks[i].ks->ntables && !r->err; j++) {
            const hln_table *t = tv[j];
            if (t->is_view) continue; /* in system_schema.views */
            hln_bytes *row = row_new(r);
            put_text(r, row, "keyspace_name", t->ks);
            put_text(r, row, "table_name", t->name);
            if (virtual) {
                put_text(r, row, "comment", table_option(t, "comment"));
                continue;
            }
            put(r, row, "id", t->id, 16);
            const char *flags[2] = {"compound", "counter"};
            bool counter = false;
            for (int c = 0; c < t->ncols; c++)
                if (t->cols[c].type->kind == HLN_T_COUNTER) counter = true;
            put_strings(r, row, "flags", flags, counter ? 2 : 1, true);
            put_double(r, row, "dclocal_read_repair_chance", 0.0);
            put_double(r, row, "read_repair_chance", 0.0);
            for (int c = 0; c < r->t->ncols; c++) {
                const hln_column *col = &r->t->cols[c];
                const char *v = table_option(t, col->name);
                if (v) put_option(r, row, col, v);
            }
        }
    }
}

/* system_schema.views: a view's definition and its table options. */
static void gen_views(rows *r, const hln_schema *s)
{
    int n;
    ks_ref *ks = listed_keyspaces(r, s, false, &n);
    for (int i = 0; i < n && !r->err; i++) {
        const hln_table **tv = sorted_tables(r, ks[i].ks);
        for (int j = 0; tv && j < ks[i].ks->ntables && !r->err; j++) {
            const hln_table *t = tv[j];
            if (!t->is_view) continue;
            hln_bytes *row = row_new(r);
            put_text(r, row, "keyspace_name", t->ks);
            put_text(r, row, "view_name", t->name);
            put(r, row, "base_table_id", t->base_id, 16);
            put_text(r, row, "base_table_name", t->base_name);
            put_text(r, row, "where_clause", t->view_where);
            put_bool(r, row, "include_all_columns", t->include_all);
            put(r, row, "id", t->id, 16);
            put_double(r, row, "dclocal_read_repair_chance", 0.0);
            put_double(r, row, "read_repair_chance", 0.0);
            for (int c = 0; c < r->t->ncols; c++) {
                const hln_column *col = &r->t->cols[c];
                const char *v = table_option(t, col->name);
                if (v) put_option(r, row, col, v);
            }
        }
    }
}

static const char *kind_text(hln_column_kind k)
{
    switch (k) {
    case HLN_COL_PARTITION_KEY:
        return "partition_key";
    case HLN_COL_CLUSTERING:
        return "clustering";
    case HLN_COL_STATIC:
        return "static";
    default:
        return "regular";
    }
}

static void gen_columns(rows *r, const hln_schema *s, bool virtual)
{
    int n;
    ks_ref *ks = listed_keyspaces(r, s, virtual, &n);
    for (int i = 0; i < n && !r->err; i++) {
        const hln_table **tv = sorted_tables(r, ks[i].ks);
        for (int j = 0; tv && j < ks[i].ks->ntables && !r->err; j++) {
            const hln_table *t = tv[j];
            const hln_column **cv = hln_arena_alloc(r->a, sizeof *cv * (size_t)(t->ncols + 1));
            if (!cv) {
                r->err = HLN_ENOMEM;
                return;
            }
            for (int c = 0; c < t->ncols; c++)
                cv[c] = &t->cols[c];
            qsort(cv, (size_t)t->ncols, sizeof *cv, col_name_order);
            for (int c = 0; c < t->ncols && !r->err; c++) {
                const hln_column *col = cv[c];
                hln_bytes *row = row_new(r);
                put_text(r, row, "keyspace_name", t->ks);
                put_text(r, row, "table_name", t->name);
                put_text(r, row, "column_name", col->name);
                put_text(r, row, "clustering_order",
                         col->kind == HLN_COL_CLUSTERING ? (col->desc ? "desc" : "asc") : "none");
                put(r, row, "column_name_bytes", col->name, strlen(col->name));
                put_text(r, row, "kind", kind_text(col->kind));
                bool key = col->kind == HLN_COL_PARTITION_KEY || col->kind == HLN_COL_CLUSTERING;
                put_int(r, row, "position", key ? col->position : -1);
                put_text(r, row, "type", col->type->cql_name);
            }
        }
    }
}

static int dropped_name_order(const void *pa, const void *pb)
{
    return strcmp(((const hln_dropped_column *)pa)->name, ((const hln_dropped_column *)pb)->name);
}

/* system_schema.dropped_columns: one row per column ALTER TABLE DROP removed
 * (keyspace_name, table_name, column_name, dropped_time, kind, type). */
static void gen_dropped_columns(rows *r, const hln_schema *s)
{
    int n;
    ks_ref *ks = listed_keyspaces(r, s, false, &n);
    for (int i = 0; i < n && !r->err; i++) {
        const hln_table **tv = sorted_tables(r, ks[i].ks);
        for (int j = 0; tv && j < ks[i].ks->ntables && !r->err; j++) {
            const hln_table *t = tv[j];
            if (t->ndropped == 0) continue;
            hln_dropped_column *dv = hln_arena_alloc(r->a, sizeof *dv * (size_t)t->ndropped);
            if (!dv) {
                r->err = HLN_ENOMEM;
                return;
            }
            memcpy(dv, t->dropped, sizeof *dv * (size_t)t->ndropped);
            qsort(dv, (size_t)t->ndropped, sizeof *dv, dropped_name_order);
            for (int c = 0; c < t->ndropped && !r->err; c++) {
                hln_bytes *row = row_new(r);
                put_text(r, row, "keyspace_name", t->ks);
                put_text(r, row, "table_name", t->name);
                put_text(r, row, "column_name", dv[c].name);
                int64_t ms = dv[c].dropped_time / 1000;
                uint8_t b[8];
                for (int k = 0; k < 8; k++)
                    b[k] = (uint8_t)((uint64_t)ms >> (56 - 8 * k));
                put(r, row, "dropped_time", b, 8);
                put_text(r, row, "kind", kind_text(dv[c].kind));
                put_text(r, row, "type", dv[c].type->cql_name);
            }
        }
    }
}

/* system_schema.indexes: one row per index (keyspace, table, index name
 * order); kind CUSTOM for storage-attached indexes, COMPOSITES for the
 * legacy ones; options as stored (class_name, target, given options). */
static void gen_indexes(rows *r, const hln_schema *s)
{
    int n;
    ks_ref *ks = listed_keyspaces(r, s, false, &n);
    for (int i = 0; i < n && !r->err; i++) {
        const hln_table **tv = sorted_tables(r, ks[i].ks);
        for (int j = 0; tv && j < ks[i].ks->ntables && !r->err; j++) {
            const hln_table *t = tv[j];
            for (int x = 0; x < t->nindexes && !r->err; x++) {
                const hln_index *ix = &t->indexes[x];
                hln_bytes *row = row_new(r);
                put_text(r, row, "keyspace_name", t->ks);
                put_text(r, row, "table_name", t->name);
                put_text(r, row, "index_name", ix->name);
                put_text(r, row, "kind", ix->kind == HLN_IXK_SAI ? "CUSTOM" : "COMPOSITES");
                put_map(r, row, "options", ix->opts, ix->nopts, false);
            }
        }
    }
}

/* system_schema.types: one row per UDT (keyspace, then type name order). */
static void gen_types(rows *r, const hln_schema *s)
{
    int n;
    ks_ref *ks = listed_keyspaces(r, s, false, &n);
    for (int i = 0; i < n && !r->err; i++) {
        for (int j = 0; j < ks[i].ks->ntypes && !r->err; j++) {
            const hln_type *t = ks[i].ks->types[j];
            const char **names = hln_arena_alloc(r->a, sizeof *names * (size_t)t->nparams);
            const char **types = hln_arena_alloc(r->a, sizeof *types * (size_t)t->nparams);
            if (!names || !types) {
                r->err = HLN_ENOMEM;
                return;
            }
            for (int f = 0; f < t->nparams; f++) {
                names[f] = hln_udt_field(t, f);
                types[f] = t->params[f]->cql_name;
            }
            hln_bytes *row = row_new(r);
            put_text(r, row, "keyspace_name", ks[i].ks->name);
            put_text(r, row, "type_name", hln_udt_name(t));
            put_strings(r, row, "field_names", names, t->nparams, false);
            put_strings(r, row, "field_types", types, t->nparams, false);
        }
    }
}

int schema_virtual_rows(const hln_schema *s, const hln_node_info *node, const hln_table *t,
                        hln_arena *a, hln_bytes ***out, int *nrows, hln_error *err)
{
    *out = NULL;
    *nrows = 0;
    if (!t || !t->is_virtual)
        return hln_fail(err, HLN_ENOTFOUND, "%s.%s is not a system table", t ? t->ks : "?",
                        t ? t->name : "?");
    rows r = {.a = a, .t = t};
    const char *ks = t->ks, *name = t->name;
    if (strcmp(ks, "system") == 0) {
        if (strcmp(name, "local") == 0) {
            if (!node) return hln_fail(err, HLN_ESERVER, "no node information for system.local");
            gen_local(&r, s, node);
        } else if (strcmp(name, "peers") != 0 && strcmp(name, "peers_v2") != 0 &&
                   strcmp(name, "size_estimates") != 0 && strcmp(name, "table_estimates") != 0) {
            return hln_fail(err, HLN_ENOTFOUND, "no rows for system.%s", name);
        }
    } else if (strcmp(ks, "system_schema") == 0 || strcmp(ks, "system_virtual_schema") == 0) {
        bool virtual = strcmp(ks, "system_virtual_schema") == 0;
        if (strcmp(name, "keyspaces") == 0)
            gen_keyspaces(&r, s, virtual);
        else if (strcmp(name, "tables") == 0)
            gen_tables(&r, s, virtual);
        else if (strcmp(name, "columns") == 0)
            gen_columns(&r, s, virtual);
        else if (!virtual && strcmp(name, "dropped_columns") == 0)
            gen_dropped_columns(&r, s);
        else if (!virtual && strcmp(name, "types") == 0)
            gen_types(&r, s);
        else if (!virtual && strcmp(name, "indexes") == 0)
            gen_indexes(&r, s);
        else if (!virtual && strcmp(name, "views") == 0)
            gen_views(&r, s);
        else if (virtual)
            return hln_fail(err, HLN_ENOTFOUND, "no rows for %s.%s", ks, name);
        /* other system_schema tables: no functions, aggregates, triggers */
    } else {
        return hln_fail(err, HLN_ENOTFOUND, "%s.%s is not a system table", ks, name);
    }
    if (r.err) return hln_fail(err, r.err, "out of memory generating %s.%s", ks, name);
    *out = r.v;
    *nrows = r.n;
    return 0;
}
