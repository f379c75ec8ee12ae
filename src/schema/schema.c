/*
 * schema.c — immutable schema snapshots: construction, lookups, lifetime,
 * and the built-in system keyspaces.
 *
 * What: a snapshot (hln_schema) is a tree of keyspaces, tables and columns
 * allocated from one arena that the snapshot owns. Snapshots are built once
 * (by the catalog, for each DDL) and never modified after publication; any
 * number of threads read one concurrently without locks. A reference count
 * (C11 atomic) decides when the arena is freed.
 *
 * Why one arena per snapshot: a DDL copies the whole schema (it is small,
 * and DDL is rare), so a snapshot shares nothing with its predecessor and
 * freeing it is a single operation; no per-object reference counts.
 *
 * Column order (Cassandra's SELECT * order): partition key columns by
 * position, clustering columns by position, then static columns by name,
 * then regular columns by name. Names compare as Java's ByteBuffer does
 * (signed bytes), which equals strcmp for ASCII names.
 *
 * Invariants:
 *  1. A published snapshot is never written; refs counts its holders.
 *  2. Keyspaces are ordered: system keyspaces first (system, system_schema,
 *     system_virtual_schema), then user keyspaces by name; tables by name.
 *  3. System keyspaces and their tables exist in every snapshot; their
 *     tables are is_virtual and their ids are Cassandra's name-based ids.
 */
#include "schema/schema_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- lifetime --------------------------------------------------------- */

schema_snap *schema_snap_new(void)
{
    schema_snap *sn = hln_calloc(1, sizeof *sn);
    if (!sn) return NULL;
    atomic_init(&sn->s.refs, 1);
    hln_arena_init(&sn->arena, 16384);
    return sn;
}

void schema_snap_free(schema_snap *sn)
{
    if (!sn) return;
    hln_arena_free(&sn->arena);
    hln_free(sn);
}

void schema_retain(hln_schema *s)
{
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void schema_release(hln_schema *s)
{
    if (!s) return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        schema_snap_free((schema_snap *)s);
}

/* ---- lookups ---------------------------------------------------------- */

const hln_keyspace *schema_keyspace(const hln_schema *s, const char *ks)
{
    if (!s || !ks) return NULL;
    for (int i = 0; i < s->nkeyspaces; i++)
        if (strcmp(s->keyspaces[i]->name, ks) == 0) return s->keyspaces[i];
    return NULL;
}

const hln_table *schema_table(const hln_schema *s, const char *ks, const char *table)
{
    const hln_keyspace *k = schema_keyspace(s, ks);
    if (!k || !table) return NULL;
    for (int i = 0; i < k->ntables; i++)
        if (strcmp(k->tables[i]->name, table) == 0) return k->tables[i];
    return NULL;
}

const hln_table *schema_table_by_id(const hln_schema *s, const uint8_t id[16])
{
    if (!s || !id) return NULL;
    for (int i = 0; i < s->nkeyspaces; i++) {
        const hln_keyspace *k = s->keyspaces[i];
        for (int j = 0; j < k->ntables; j++)
            if (memcmp(k->tables[j]->id, id, 16) == 0) return k->tables[j];
    }
    return NULL;
}

const hln_column *table_column(const hln_table *t, const char *name)
{
    if (!t || !name) return NULL;
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0) return &t->cols[i];
    return NULL;
}

const hln_column *table_column_by_id(const hln_table *t, uint32_t id)
{
    for (int i = 0; t && i < t->ncols; i++)
        if (t->cols[i].id == id) return &t->cols[i];
    return NULL;
}

const char *table_option(const hln_table *t, const char *key)
{
    if (!t || !key) return NULL;
    for (int i = 0; i < t->nopts; i++)
        if (strcmp(t->opts[i].key, key) == 0) return t->opts[i].value;
    return NULL;
}

const hln_index *table_index_on(const hln_table *t, uint32_t col_id)
{
    if (!t) return NULL;
    for (int i = 0; i < t->nindexes; i++)
        if (t->indexes[i].col_id == col_id) return &t->indexes[i];
    return NULL;
}

const char *index_option(const hln_index *ix, const char *key)
{
    if (!ix || !key) return NULL;
    for (int i = 0; i < ix->nopts; i++)
        if (strcmp(ix->opts[i].key, key) == 0) return ix->opts[i].value;
    return NULL;
}

/* ---- names ------------------------------------------------------------ */

int schema_name_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        signed char x = (signed char)*a, y = (signed char)*b;
        if (x != y || !x) {
            if (!x && !y) return 0;
            if (!x) return -1;
            if (!y) return 1;
            return x < y ? -1 : 1;
        }
    }
}

bool schema_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SCHEMA_NAME_LENGTH) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_';
        if (!ok) return false;
    }
    return true;
}

static const char *const SYSTEM_KS[] = {"system", "system_schema", "system_virtual_schema",
                                        "system_auth", "system_views"};

bool schema_is_system_keyspace_name(const char *ks)
{
    for (size_t i = 0; i < HLN_ARRAY_LEN(SYSTEM_KS); i++)
        if (strcasecmp(ks, SYSTEM_KS[i]) == 0) return true;
    return false;
}

bool schema_is_virtual_keyspace_name(const char *ks)
{
    return strcasecmp(ks, "system_virtual_schema") == 0 || strcasecmp(ks, "system_views") == 0;
}

static int system_rank(const char *ks)
{
    for (size_t i = 0; i < HLN_ARRAY_LEN(SYSTEM_KS); i++)
        if (strcmp(ks, SYSTEM_KS[i]) == 0) return (int)i;
    return (int)HLN_ARRAY_LEN(SYSTEM_KS);
}

static int ks_order(const void *pa, const void *pb)
{
    const hln_keyspace *a = *(const hln_keyspace *const *)pa;
    const hln_keyspace *b = *(const hln_keyspace *const *)pb;
    int ra = a->is_system ? system_rank(a->name) : 99,
        rb = b->is_system ? system_rank(b->name) : 99;
    if (ra != rb) return ra < rb ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int table_order(const void *pa, const void *pb)
{
    const hln_table *a = *(const hln_table *const *)pa;
    const hln_table *b = *(const hln_table *const *)pb;
    return strcmp(a->name, b->name);
}

/* ---- building --------------------------------------------------------- */

int schema_snap_add_keyspace(schema_snap *sn, hln_keyspace *ks)
{
    hln_schema *s = &sn->s;
    hln_keyspace **arr = hln_arena_alloc(&sn->arena, sizeof *arr * (size_t)(s->nkeyspaces + 1));
    if (!arr) return HLN_ENOMEM;
    if (s->nkeyspaces) memcpy(arr, s->keyspaces, sizeof *arr * (size_t)s->nkeyspaces);
    arr[s->nkeyspaces] = ks;
    s->keyspaces = arr;
    s->nkeyspaces++;
    qsort(s->keyspaces, (size_t)s->nkeyspaces, sizeof *arr, ks_order);
    return 0;
}

static hln_option *copy_opts(hln_arena *a, const hln_option *o, int n)
{
    if (n == 0) return NULL;
    hln_option *d = hln_arena_alloc(a, sizeof *d * (size_t)n);
    if (!d) return NULL;
    for (int i = 0; i < n; i++) {
        d[i].key = hln_arena_strdup(a, o[i].key);
        d[i].value = hln_arena_strdup(a, o[i].value ? o[i].value : "");
        if (!d[i].key || !d[i].value) return NULL;
    }
    return d;
}

hln_table *schema_copy_table(schema_snap *sn, const hln_table *t)
{
    hln_arena *a = &sn->arena;
    hln_table *d = hln_arena_alloc(a, sizeof *d);
    if (!d) return NULL;
    *d = *t;
    d->ks = hln_arena_strdup(a, t->ks);
    d->name = hln_arena_strdup(a, t->name);
    d->cols = hln_arena_alloc(a, sizeof *d->cols * (size_t)t->ncols);
    if (!d->ks || !d->name || !d->cols) return NULL;
    for (int i = 0; i < t->ncols; i++) {
        d->cols[i] = t->cols[i];
        d->cols[i].name = hln_arena_strdup(a, t->cols[i].name);
        if (!d->cols[i].name) return NULL;
    }
    d->opts = copy_opts(a, t->opts, t->nopts);
    if (t->nopts && !d->opts) return NULL;
    if (t->ndropped && !(d->dropped = schema_copy_dropped(a, t->dropped, t->ndropped))) return NULL;
    if (t->nindexes && !(d->indexes = schema_copy_indexes(a, t->indexes, t->nindexes))) return NULL;
    if (t->is_view) {
        d->base_name = hln_arena_strdup(a, t->base_name);
        d->view_where = hln_arena_strdup(a, t->view_where);
        if (!d->base_name || !d->view_where) return NULL;
        if (t->nrestr && !(d->restr = schema_copy_restr(a, t->restr, t->nrestr))) return NULL;
    }
    return d;
}

hln_view_restr *schema_copy_restr(hln_arena *a, const hln_view_restr *v, int n)
{
    hln_view_restr *d = hln_arena_alloc(a, sizeof *d * (size_t)(n > 0 ? n : 1));
    if (!d) return NULL;
    for (int i = 0; i < n; i++) {
        d[i].col = hln_arena_strdup(a, v[i].col);
        d[i].op = hln_arena_strdup(a, v[i].op);
        d[i].nvals = v[i].nvals;
        d[i].vals = hln_arena_alloc(a, sizeof *d[i].vals * (size_t)(v[i].nvals + 1));
        d[i].lens = hln_arena_alloc(a, sizeof *d[i].lens * (size_t)(v[i].nvals + 1));
        if (!d[i].col || !d[i].op || !d[i].vals || !d[i].lens) return NULL;
        for (int j = 0; j < v[i].nvals; j++) {
            d[i].lens[j] = v[i].lens[j];
            d[i].vals[j] = hln_arena_memdup(a, v[i].vals[j], v[i].lens[j] ? v[i].lens[j] : 1);
            if (!d[i].vals[j]) return NULL;
        }
    }
    return d;
}

int schema_views_of(const hln_schema *s, const hln_table *t, const hln_table **out, int max)
{
    const hln_keyspace *k = t->is_view ? NULL : schema_keyspace(s, t->ks);
    int n = 0;
    for (int i = 0; k && i < k->ntables; i++) {
        const hln_table *v = k->tables[i];
        if (!v->is_view || memcmp(v->base_id, t->id, 16) != 0) continue;
        if (n < max) out[n] = v;
        n++;
    }
    return n;
}

hln_index *schema_copy_indexes(hln_arena *a, const hln_index *v, int n)
{
    hln_index *d = hln_arena_alloc(a, sizeof *d * (size_t)(n > 0 ? n : 1));
    if (!d) return NULL;
    for (int i = 0; i < n; i++) {
        d[i] = v[i];
        if (!(d[i].name = hln_arena_strdup(a, v[i].name))) return NULL;
        d[i].opts = copy_opts(a, v[i].opts, v[i].nopts);
        if (v[i].nopts && !d[i].opts) return NULL;
    }
    return d;
}

hln_dropped_column *schema_copy_dropped(hln_arena *a, const hln_dropped_column *v, int n)
{
    hln_dropped_column *d = hln_arena_alloc(a, sizeof *d * (size_t)(n > 0 ? n : 1));
    if (!d) return NULL;
    for (int i = 0; i < n; i++) {
        d[i] = v[i];
        if (!(d[i].name = hln_arena_strdup(a, v[i].name))) return NULL;
    }
    return d;
}

hln_keyspace *schema_copy_keyspace(schema_snap *sn, const hln_keyspace *ks)
{
    hln_arena *a = &sn->arena;
    hln_keyspace *d = hln_arena_alloc(a, sizeof *d);
    if (!d) return NULL;
    *d = *ks;
    d->name = hln_arena_strdup(a, ks->name);
    if (!d->name) return NULL;
    d->replication = copy_opts(a, ks->replication, ks->nreplication);
    if (ks->nreplication && !d->replication) return NULL;
    d->tables = NULL;
    d->types = NULL;
    if (ks->ntypes) {
        d->types = hln_arena_alloc(a, sizeof *d->types * (size_t)ks->ntypes);
        if (!d->types) return NULL;
        memcpy(d->types, ks->types, sizeof *d->types * (size_t)ks->ntypes);
    }
    if (ks->ntables) {
        d->tables = hln_arena_alloc(a, sizeof *d->tables * (size_t)ks->ntables);
        if (!d->tables) return NULL;
        for (int i = 0; i < ks->ntables; i++)
            if (!(d->tables[i] = schema_copy_table(sn, ks->tables[i]))) return NULL;
    }
    return d;
}

static int kind_rank(hln_column_kind k)
{
    switch (k) {
    case HLN_COL_PARTITION_KEY:
        return 0;
    case HLN_COL_CLUSTERING:
        return 1;
    case HLN_COL_STATIC:
        return 2;
    default:
        return 3;
    }
}

static int col_order(const void *pa, const void *pb)
{
    const hln_column *a = pa, *b = pb;
    int ra = kind_rank(a->kind), rb = kind_rank(b->kind);
    if (ra != rb) return ra < rb ? -1 : 1;
    if (ra <= 1 && a->position != b->position) return a->position < b->position ? -1 : 1;
    return schema_name_cmp(a->name, b->name);
}

void schema_sort_columns(hln_table *t)
{
    qsort(t->cols, (size_t)t->ncols, sizeof *t->cols, col_order);
}

int schema_table_from_spec(schema_snap *sn, const hln_table_spec *spec, const uint8_t id[16],
                           const hln_option *opts, int nopts, hln_table **out, hln_error *err)
{
    hln_arena *a = &sn->arena;
    int n = spec->ncols, npk = 0, nck = 0, nstatic = 0;
    if (n <= 0)
        return hln_fail(err, HLN_EINVAL,
                        "No PRIMARY KEY specifed for table '%s.%s' (exactly one required)",
                        spec->ks, spec->name);
    for (int i = 0; i < n; i++) {
        const hln_column_spec *c = &spec->cols[i];
        if (!c->name || !c->type)
            return hln_fail(err, HLN_EINVAL, "Column %d of table '%s.%s' has no name or type", i,
                            spec->ks, spec->name);
        for (int j = 0; j < i; j++)
            if (strcmp(spec->cols[j].name, c->name) == 0)
                return hln_fail(err, HLN_EINVAL,
                                "Duplicate column '%s' declaration for table '%s.%s'", c->name,
                                spec->ks, spec->name);
        if (c->kind == HLN_COL_PARTITION_KEY)
            npk++;
        else if (c->kind == HLN_COL_CLUSTERING)
            nck++;
        else if (c->kind == HLN_COL_STATIC)
            nstatic++;
    }
    if (npk == 0)
        return hln_fail(err, HLN_EINVAL,
                        "No PRIMARY KEY specifed for table '%s.%s' (exactly one required)",
                        spec->ks, spec->name);
    if (nstatic && nck == 0)
        return hln_fail(
            err, HLN_EINVAL,
            "Static columns are only useful (and thus allowed) if the table has at least "
            "one clustering column");
    /* key positions must be exactly 0..npk-1 and 0..nck-1 */
    for (int i = 0; i < n; i++) {
        const hln_column_spec *c = &spec->cols[i];
        int lim = c->kind == HLN_COL_PARTITION_KEY ? npk : c->kind == HLN_COL_CLUSTERING ? nck : -1;
        if (lim < 0) continue;
        if (c->position < 0 || c->position >= lim)
            return hln_fail(err, HLN_EINVAL, "Invalid key position %d for column '%s'", c->position,
                            c->name);
        for (int j = 0; j < i; j++)
            if (spec->cols[j].kind == c->kind && spec->cols[j].position == c->position)
                return hln_fail(err, HLN_EINVAL, "Duplicate key position %d for column '%s'",
                                c->position, c->name);
    }

    hln_table *t = hln_arena_alloc(a, sizeof *t);
    if (!t) return HLN_ENOMEM;
    memcpy(t->id, id, 16);
    t->ks = hln_arena_strdup(a, spec->ks);
    t->name = hln_arena_strdup(a, spec->name);
    t->cols = hln_arena_alloc(a, sizeof *t->cols * (size_t)n);
    if (!t->ks || !t->name || !t->cols) return HLN_ENOMEM;
    for (int i = 0; i < n; i++) {
        const hln_column_spec *c = &spec->cols[i];
        hln_column *d = &t->cols[i];
        d->name = hln_arena_strdup(a, c->name);
        if (!d->name) return HLN_ENOMEM;
        d->type = c->type;
        d->kind = c->kind;
        bool key = c->kind == HLN_COL_PARTITION_KEY || c->kind == HLN_COL_CLUSTERING;
        d->position = key ? c->position : -1;
        d->desc = c->kind == HLN_COL_CLUSTERING && c->desc;
    }
    qsort(t->cols, (size_t)n, sizeof *t->cols, col_order);
    for (int i = 0; i < n; i++)
        t->cols[i].id = (uint32_t)i;
    t->ncols = n;
    t->npk = npk;
    t->nck = nck;
    t->next_col_id = (uint32_t)n;
    t->opts = copy_opts(a, opts, nopts);
    if (nopts && !t->opts) return HLN_ENOMEM;
    t->nopts = nopts;
    t->is_virtual = false;
    if (spec->view_of) {
        t->is_view = true;
        memcpy(t->base_id, spec->view_of->id, 16);
        t->base_name = hln_arena_strdup(a, spec->view_of->name);
        t->view_where = hln_arena_strdup(a, spec->view_where ? spec->view_where : "");
        if (!t->base_name || !t->view_where) return HLN_ENOMEM;
        t->include_all = spec->view_include_all;
        if (spec->nview_restr) {
            t->restr = schema_copy_restr(a, spec->view_restr, spec->nview_restr);
            if (!t->restr) return HLN_ENOMEM;
            t->nrestr = spec->nview_restr;
        }
    }
    *out = t;
    return 0;
}

/* ---- system keyspaces -------------------------------------------------
 * Each table is written as Cassandra 5.0 declares it: its columns
 * ("name type, ..."), its partition key columns and its clustering columns.
 */
typedef struct sys_table_def {
    const char *ks, *name, *comment;
    const char *cols;
    const char *pk, *ck;
} sys_table_def;

#define LATENCY_COLS                                                                               \
    "keyspace_name text, table_name text, count bigint, max_ms double, p50th_ms double, "          \
    "p99th_ms double, per_second double"

static const sys_table_def SYS_TABLES[] = {
    {"system", "local", "information about the local node",
     "key text, bootstrapped text, broadcast_address inet, broadcast_port int, cluster_name text, "
     "cql_version text, data_center text, gossip_generation int, host_id uuid, listen_address "
     "inet, "
     "listen_port int, native_protocol_version text, partitioner text, rack text, "
     "release_version text, rpc_address inet, rpc_port int, schema_version uuid, "
     "tokens set<varchar>, truncated_at map<uuid, blob>",
     "key", ""},
    {"system", "peers", "information about known peers in the cluster",
     "peer inet, data_center text, host_id uuid, preferred_ip inet, rack text, release_version "
     "text, "
     "rpc_address inet, schema_version uuid, tokens set<varchar>",
     "peer", ""},
    {"system", "peers_v2", "information about known peers in the cluster",
     "peer inet, peer_port int, data_center text, host_id uuid, preferred_ip inet, "
     "preferred_port int, rack text, release_version text, native_address inet, native_port int, "
     "schema_version uuid, tokens set<varchar>",
     "peer", "peer_port"},
    {"system", "size_estimates",
     "per-table primary range size estimates, table is deprecated in favor of table_estimates",
     "keyspace_name text, table_name text, range_start text, range_end text, "
     "mean_partition_size bigint, partitions_count bigint",
     "keyspace_name", "table_name, range_start, range_end"},
    {"system", "table_estimates", "per-table range size estimates",
     "keyspace_name text, table_name text, range_type text, range_start text, range_end text, "
     "mean_partition_size bigint, partitions_count bigint",
     "keyspace_name", "table_name, range_type, range_start, range_end"},

    {"system_schema", "keyspaces", "keyspace definitions",
     "keyspace_name text, durable_writes boolean, replication frozen<map<text, text>>",
     "keyspace_name", ""},
    {"system_schema", "tables", "table definitions",
     "keyspace_name text, table_name text, allow_auto_snapshot boolean, "
     "bloom_filter_fp_chance double, caching frozen<map<text, text>>, comment text, "
     "compaction frozen<map<text, text>>, compression frozen<map<text, text>>, memtable text, "
     "crc_check_chance double, dclocal_read_repair_chance double, default_time_to_live int, "
     "extensions frozen<map<text, blob>>, flags frozen<set<text>>, gc_grace_seconds int, "
     "incremental_backups boolean, id uuid, max_index_interval int, "
     "memtable_flush_period_in_ms int, min_index_interval int, read_repair_chance double, "
     "speculative_retry text, additional_write_policy text, cdc boolean, read_repair text",
     "keyspace_name", "table_name"},
    {"system_schema", "columns", "column definitions",
     "keyspace_name text, table_name text, column_name text, clustering_order text, "
     "column_name_bytes blob, kind text, position int, type text",
     "keyspace_name", "table_name, column_name"},
    {"system_schema", "column_masks", "column dynamic data masks",
     "keyspace_name text, table_name text, column_name text, function_keyspace text, "
     "function_name text, function_argument_types frozen<list<text>>, "
     "function_argument_values frozen<list<text>>, function_argument_nulls frozen<list<boolean>>",
     "keyspace_name", "table_name, column_name"},
    {"system_schema", "triggers", "trigger definitions",
     "keyspace_name text, table_name text, trigger_name text, options frozen<map<text, text>>",
     "keyspace_name", "table_name, trigger_name"},
    {"system_schema", "dropped_columns", "dropped column registry",
     "keyspace_name text, table_name text, column_name text, dropped_time timestamp, kind text, "
     "type text",
     "keyspace_name", "table_name, column_name"},
    {"system_schema", "views", "view definitions",
     "keyspace_name text, view_name text, base_table_id uuid, base_table_name text, "
     "where_clause text, allow_auto_snapshot boolean, bloom_filter_fp_chance double, "
     "caching frozen<map<text, text>>, comment text, compaction frozen<map<text, text>>, "
     "compression frozen<map<text, text>>, memtable text, crc_check_chance double, "
     "dclocal_read_repair_chance double, default_time_to_live int, "
     "extensions frozen<map<text, blob>>, gc_grace_seconds int, incremental_backups boolean, "
     "id uuid, include_all_columns boolean, max_index_interval int, "
     "memtable_flush_period_in_ms int, min_index_interval int, read_repair_chance double, "
     "speculative_retry text, additional_write_policy text, cdc boolean, read_repair text",
     "keyspace_name", "view_name"},
    {"system_schema", "types", "user defined type definitions",
     "keyspace_name text, type_name text, field_names frozen<list<text>>, "
     "field_types frozen<list<text>>",
     "keyspace_name", "type_name"},
    {"system_schema", "functions", "user defined function definitions",
     "keyspace_name text, function_name text, argument_types frozen<list<text>>, "
     "argument_names frozen<list<text>>, body text, language text, return_type text, "
     "called_on_null_input boolean",
     "keyspace_name", "function_name, argument_types"},
    {"system_schema", "aggregates", "user defined aggregate definitions",
     "keyspace_name text, aggregate_name text, argument_types frozen<list<text>>, "
     "final_func text, initcond text, return_type text, state_func text, state_type text",
     "keyspace_name", "aggregate_name, argument_types"},
    {"system_schema", "indexes", "secondary index definitions",
     "keyspace_name text, table_name text, index_name text, kind text, "
     "options frozen<map<text, text>>",
     "keyspace_name", "table_name, index_name"},

    {"system_virtual_schema", "keyspaces", "virtual keyspace definitions", "keyspace_name text",
     "keyspace_name", ""},
    {"system_virtual_schema", "tables", "virtual table definitions",
     "keyspace_name text, table_name text, comment text", "keyspace_name", "table_name"},
    {"system_virtual_schema", "columns", "virtual column definitions",
     "keyspace_name text, table_name text, column_name text, clustering_order text, "
     "column_name_bytes blob, kind text, position int, type text",
     "keyspace_name", "table_name, column_name"},

    /* system_views: rows come from the running node (exec/sysviews.c) */
    {"system_views", "settings", "current settings", "name text, value text", "name", ""},
    {"system_views", "snapshots", "available snapshots",
     "name text, keyspace_name text, table_name text, created_at timestamp, ephemeral boolean, "
     "expires_at timestamp, size_on_disk bigint, true_size bigint",
     "name", "keyspace_name, table_name"},
    {"system_views", "disk_usage", "", "keyspace_name text, table_name text, mebibytes bigint",
     "keyspace_name, table_name", ""},
    {"system_views", "max_partition_size", "",
     "keyspace_name text, table_name text, mebibytes bigint", "keyspace_name, table_name", ""},
    {"system_views", "sstable_tasks", "current sstable tasks",
     "keyspace_name text, table_name text, task_id timeuuid, completion_ratio double, kind text, "
     "progress bigint, sstables int, target_directory text, total bigint, total_compressed "
     "bigint, unit text",
     "keyspace_name", "table_name, task_id"},
    {"system_views", "caches", "system caches",
     "name text, capacity_bytes bigint, entry_count int, hit_count bigint, hit_ratio double, "
     "recent_hit_rate_per_second bigint, recent_request_rate_per_second bigint, request_count "
     "bigint, size_bytes bigint",
     "name", ""},
    {"system_views", "sai_column_indexes", "Storage-attached column index metadata",
     "keyspace_name text, index_name text, table_name text, column_name text, "
     "is_queryable boolean, is_building boolean, is_string boolean, analyzer text",
     "keyspace_name", "index_name"},
    {"system_views", "thread_pools", "",
     "name text, active_tasks int, active_tasks_limit int, blocked_tasks bigint, "
     "blocked_tasks_all_time bigint, completed_tasks bigint, pending_tasks int",
     "name", ""},
    {"system_views", "clients", "currently connected clients",
     "address inet, port int, client_options frozen<map<text, text>>, connection_stage text, "
     "driver_name text, driver_version text, hostname text, keyspace_name text, "
     "protocol_version int, request_count bigint, ssl_cipher_suite text, ssl_enabled boolean, "
     "ssl_protocol text, username text",
     "address", "port"},
    {"system_views", "coordinator_read_latency", "", LATENCY_COLS, "keyspace_name, table_name", ""},
    {"system_views", "coordinator_scan_latency", "", LATENCY_COLS, "keyspace_name, table_name", ""},
    {"system_views", "coordinator_write_latency", "", LATENCY_COLS, "keyspace_name, table_name",
     ""},
    {"system_views", "local_read_latency", "", LATENCY_COLS, "keyspace_name, table_name", ""},
    {"system_views", "local_scan_latency", "", LATENCY_COLS, "keyspace_name, table_name", ""},
    {"system_views", "local_write_latency", "", LATENCY_COLS, "keyspace_name, table_name", ""},

    /* system_auth: rows come from the auth store (src/auth), not from here;
     * exec/access.c generates them */
    {"system_auth", "roles", "role definitions",
     "role text, can_login boolean, is_superuser boolean, member_of set<text>, salted_hash text",
     "role", ""},
    {"system_auth", "role_members", "role memberships lookup table", "role text, member text",
     "role", "member"},
    {"system_auth", "role_permissions", "permissions granted to db roles",
     "role text, resource text, permissions set<text>", "role", "resource"},
    {"system_auth", "resource_role_permissons_index",
     "index of db roles with permissions granted on a resource", "resource text, role text",
     "resource", "role"},
};

/* Splits s at top-level commas (not inside <>) into trimmed items in a.
 * Returns the number of items, or -1 on ENOMEM / too many. */
static int split_items(hln_arena *a, const char *s, char **items, int max)
{
    int n = 0, depth = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '<')
            depth++;
        else if (*p == '>')
            depth--;
        if ((*p == ',' && depth == 0) || *p == 0) {
            const char *b = start, *e = p;
            while (b < e && *b == ' ')
                b++;
            while (e > b && e[-1] == ' ')
                e--;
            if (e > b) {
                if (n == max) return -1;
                if (!(items[n++] = hln_arena_strndup(a, b, (size_t)(e - b)))) return -1;
            }
            if (*p == 0) break;
            start = p + 1;
        }
    }
    return n;
}

static int find_item(char **items, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(items[i], name) == 0) return i;
    return -1;
}

static int build_sys_table(schema_snap *sn, const sys_table_def *def, hln_table **out,
                           hln_error *err)
{
    hln_arena *a = &sn->arena;
    char *items[48], *pk[4], *ck[8];
    int n = split_items(a, def->cols, items, 48);
    int npk = split_items(a, def->pk, pk, 4);
    int nck = split_items(a, def->ck, ck, 8);
    if (n < 0 || npk < 0 || nck < 0)
        return hln_fail(err, HLN_ESERVER, "bad system table definition %s.%s", def->ks, def->name);
    hln_column_spec cols[48];
    for (int i = 0; i < n; i++) {
        char *sp = strchr(items[i], ' ');
        if (!sp) return hln_fail(err, HLN_ESERVER, "bad column in %s.%s", def->ks, def->name);
        *sp = 0;
        cols[i].name = items[i];
        cols[i].type = hln_type_parse(sp + 1);
        if (!cols[i].type)
            return hln_fail(err, HLN_ESERVER, "unknown type '%s' in %s.%s", sp + 1, def->ks,
                            def->name);
        cols[i].desc = false;
        int p;
        if ((p = find_item(pk, npk, items[i])) >= 0) {
            cols[i].kind = HLN_COL_PARTITION_KEY;
            cols[i].position = p;
        } else if ((p = find_item(ck, nck, items[i])) >= 0) {
            cols[i].kind = HLN_COL_CLUSTERING;
            cols[i].position = p;
        } else {
            cols[i].kind = HLN_COL_REGULAR;
            cols[i].position = -1;
        }
    }

    /* Options: the defaults, with the system tables' own comment, gc grace
     * and flush period (7 days for system_schema, 0 for system). */
    const char *gc = strcmp(def->ks, "system_schema") == 0 ? "604800"
                     : strcmp(def->ks, "system_auth") == 0 ? "7776000" /* 90 days */
                                                           : "0";
    hln_option given[3] = {
        {"comment", (char *)def->comment},
        {"gc_grace_seconds", (char *)gc},
        {"memtable_flush_period_in_ms", "3600000"},
    };
    hln_option *opts;
    int nopts;
    int rc = schema_table_options(a, given, 3, false, &opts, &nopts, err);
    if (rc < 0) return rc;

    hln_table_spec spec = {def->ks, def->name, cols, n, NULL, 0, NULL, NULL, false, NULL, 0};
    uint8_t id[16];
    char idname[128];
    size_t kl = strlen(def->ks), tl = strlen(def->name);
    memcpy(idname, def->ks, kl);
    memcpy(idname + kl, def->name, tl);
    hln_md5(idname, kl + tl, NULL, 0, id); /* java.util.UUID.nameUUIDFromBytes */
    id[6] = (uint8_t)((id[6] & 0x0F) | 0x30);
    id[8] = (uint8_t)((id[8] & 0x3F) | 0x80);
    rc = schema_table_from_spec(sn, &spec, id, opts, nopts, out, err);
    if (rc < 0) return rc;
    (*out)->is_virtual = true;
    return 0;
}

int schema_add_system_keyspaces(schema_snap *sn, hln_error *err)
{
    hln_arena *a = &sn->arena;
    for (size_t k = 0; k < HLN_ARRAY_LEN(SYSTEM_KS); k++) {
        hln_keyspace *ks = hln_arena_alloc(a, sizeof *ks);
        hln_option *repl = hln_arena_alloc(a, sizeof *repl * 2);
        if (!ks || !repl) return HLN_ENOMEM;
        ks->name = hln_arena_strdup(a, SYSTEM_KS[k]);
        /* system_auth is replicated in Cassandra (SimpleStrategy, RF 1 by
         * default); the others are local */
        bool replicated = strcmp(SYSTEM_KS[k], "system_auth") == 0;
        repl[0].key = hln_arena_strdup(a, "class");
        repl[0].value =
            hln_arena_strdup(a, replicated ? "org.apache.cassandra.locator.SimpleStrategy"
                                           : "org.apache.cassandra.locator.LocalStrategy");
        repl[1].key = hln_arena_strdup(a, "replication_factor");
        repl[1].value = hln_arena_strdup(a, "1");
        if (!ks->name || !repl[0].key || !repl[0].value || !repl[1].key || !repl[1].value)
            return HLN_ENOMEM;
        ks->replication = repl;
        ks->nreplication = replicated ? 2 : 1;
        ks->durable_writes = true;
        ks->is_system = true;
        int nt = 0;
        for (size_t i = 0; i < HLN_ARRAY_LEN(SYS_TABLES); i++)
            if (strcmp(SYS_TABLES[i].ks, SYSTEM_KS[k]) == 0) nt++;
        ks->tables = hln_arena_alloc(a, sizeof *ks->tables * (size_t)nt);
        if (!ks->tables) return HLN_ENOMEM;
        for (size_t i = 0; i < HLN_ARRAY_LEN(SYS_TABLES); i++) {
            if (strcmp(SYS_TABLES[i].ks, SYSTEM_KS[k]) != 0) continue;
            int rc = build_sys_table(sn, &SYS_TABLES[i], &ks->tables[ks->ntables], err);
            if (rc < 0) return rc;
            ks->ntables++;
        }
        qsort(ks->tables, (size_t)ks->ntables, sizeof *ks->tables, table_order);
        int rc = schema_snap_add_keyspace(sn, ks);
        if (rc < 0) return rc;
    }
    return 0;
}

void schema_sort_tables(hln_keyspace *ks)
{
    if (ks->ntables > 1) qsort(ks->tables, (size_t)ks->ntables, sizeof *ks->tables, table_order);
}

const hln_type *schema_udt(const hln_schema *s, const char *ks, const char *name)
{
    const hln_keyspace *k = schema_keyspace(s, ks);
    for (int i = 0; k && i < k->ntypes; i++)
        if (!strcmp(hln_udt_name(k->types[i]), name)) return k->types[i];
    return NULL;
}
