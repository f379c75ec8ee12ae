/*
 * schema.h — keyspaces, tables and columns; the catalog that owns them.
 *
 * What: an immutable, reference-counted schema snapshot (hln_schema) and the
 * catalog (hln_catalog) that swaps in a new snapshot on each DDL, persists it
 * to <data>/schema/schema.json (jansson; write temp, fsync, rename), and
 * reloads it at start. System keyspaces (system, system_schema, system_auth
 * later) are part of every snapshot as virtual tables.
 *
 * Why immutable snapshots: every shard thread reads schema on every request;
 * a snapshot taken at the start of a request stays valid until released, so
 * readers never lock and DDL never waits for readers.
 *
 * Invariants:
 *  1. A snapshot never changes after publication; version (a time uuid)
 *     is new for each DDL, and equal snapshots in one process have equal
 *     versions (so drivers see schema agreement).
 *  2. Table ids and column ids are never reused; column ids are stable
 *     across restarts (storage keys cells by column id).
 *  3. DDL is serialised by the catalog's mutex; the file on disk is written
 *     before the new snapshot is published.
 */
#ifndef HLN_SCHEMA_H
#define HLN_SCHEMA_H

#include "common/common.h"
#include "types/types.h"

typedef enum hln_column_kind {
    HLN_COL_PARTITION_KEY,
    HLN_COL_CLUSTERING,
    HLN_COL_REGULAR,
    HLN_COL_STATIC,
} hln_column_kind;

typedef struct hln_column {
    char *name;
    const hln_type *type;
    hln_column_kind kind;
    int position; /* within the partition key or clustering key; -1 otherwise */
    bool desc;    /* clustering order DESC */
    uint32_t id;  /* stable id, storage's cell key */
} hln_column;

/* key = value pairs as Cassandra's system_schema shows them (strings). */
typedef struct hln_option {
    char *key;
    char *value;
} hln_option;

/* A column ALTER TABLE DROP removed (system_schema.dropped_columns). Its
 * column id is never reused, so its cells are never read again, even when
 * a column of the same name is added later (it gets a new id). */
typedef struct hln_dropped_column {
    char *name;
    const hln_type *type;
    hln_column_kind kind; /* HLN_COL_REGULAR or HLN_COL_STATIC */
    int64_t dropped_time; /* microseconds since the epoch */
} hln_dropped_column;

/* A secondary index on one column (CREATE [CUSTOM] INDEX; system_schema.indexes).
 * What it indexes of the column: the value (a scalar column, or a frozen
 * collection's or vector's value), a non-frozen collection's keys, values
 * or entries, or a frozen collection as a whole (FULL). */
typedef enum hln_index_target {
    HLN_IX_SIMPLE,  /* target "c"            */
    HLN_IX_KEYS,    /* "keys(m)"             */
    HLN_IX_VALUES,  /* "values(c)"           */
    HLN_IX_ENTRIES, /* "entries(m)"          */
    HLN_IX_FULL,    /* "full(f)"             */
} hln_index_target;

typedef enum hln_index_kind {
    HLN_IXK_SAI,    /* StorageAttachedIndex (kind CUSTOM, class_name set) */
    HLN_IXK_LEGACY, /* CREATE INDEX without USING: Cassandra's legacy 2i (kind COMPOSITES/KEYS) */
} hln_index_kind;

typedef struct hln_index {
    char *name;      /* unique within the keyspace */
    uint8_t id[16];  /* never reused: per-shard index state is keyed by it */
    uint32_t col_id; /* the indexed column's stable id */
    hln_index_target target;
    hln_index_kind kind;
    /* options as system_schema.indexes shows them (class_name, target,
       and the user's validated options such as similarity_function),
       sorted by key */
    hln_option *opts;
    int nopts;
} hln_index;

/* A restriction of a view's WHERE clause on a base primary key column
 * other than IS NOT NULL: column op value(s), values serialized in the
 * column's type. A base row is in the view only if every one holds. */
typedef struct hln_view_restr {
    char *col; /* the base column's name */
    char *op;  /* "=", "<", "<=", ">", ">=" or "IN" */
    uint8_t **vals;
    uint32_t *lens;
    int nvals; /* 1, or the IN list's length */
} hln_view_restr;

typedef struct hln_table {
    uint8_t id[16];
    char *ks;
    char *name;
    hln_column *cols; /* pk columns (in order), clustering (in order), then the
                         rest sorted by name, as Cassandra orders them */
    int ncols;
    int npk, nck; /* cols[0..npk-1] = pk, cols[npk..npk+nck-1] = clustering */
    uint32_t next_col_id;
    hln_option *opts; /* comment, default_time_to_live, gc_grace_seconds, ... */
    int nopts;
    bool is_virtual;             /* system tables served by exec, not storage */
    hln_dropped_column *dropped; /* by name; NULL when none */
    int ndropped;
    hln_index *indexes; /* sorted by name; NULL when none */
    int nindexes;
    /* A materialized view (CREATE MATERIALIZED VIEW; system_schema.views):
       a table of its own (id, columns with their own ids, storage) whose
       rows exec keeps equal to the projection of the base table (exec/view.c).
       Its columns have the base columns' names and types. */
    bool is_view;
    uint8_t base_id[16];   /* the base table's id */
    char *base_name;       /* the base table's name (same keyspace) */
    char *view_where;      /* the WHERE clause as system_schema.views shows it */
    bool include_all;      /* SELECT *: include_all_columns */
    hln_view_restr *restr; /* WHERE restrictions other than IS NOT NULL */
    int nrestr;
} hln_table;

typedef struct hln_keyspace {
    char *name;
    hln_option *replication; /* "class" first, then strategy options */
    int nreplication;
    bool durable_writes;
    bool is_system;
    hln_table **tables;
    int ntables;
    /* user-defined types (CREATE TYPE): interned non-frozen descriptors,
       sorted by name */
    const hln_type **types;
    int ntypes;
} hln_keyspace;

typedef struct hln_schema {
    _Atomic int refs; /* C11 atomic; see schema_retain/schema_release */
    uint8_t version[16];
    uint64_t gen; /* 0 for the snapshot loaded at open, +1 for each DDL after */
    hln_keyspace **keyspaces;
    int nkeyspaces;
} hln_schema;

/* Lookups: NULL when absent. Names are compared exactly (already folded). */
const hln_keyspace *schema_keyspace(const hln_schema *s, const char *ks);
const hln_table *schema_table(const hln_schema *s, const char *ks, const char *table);
const hln_table *schema_table_by_id(const hln_schema *s, const uint8_t id[16]);
const hln_column *table_column(const hln_table *t, const char *name);
const hln_column *table_column_by_id(const hln_table *t, uint32_t id); /* hln_column.id */
const char *table_option(const hln_table *t, const char *key);         /* NULL if unset */
/* The first index of t on column col_id (any target), NULL when none. */
const hln_index *table_index_on(const hln_table *t, uint32_t col_id);
/* An index option's value, NULL if unset. */
const char *index_option(const hln_index *ix, const char *key);
/* A "{'k': 'v', ...}" map literal (a map-valued option such as compaction)
 * parsed into key/value pairs in arena a, sorted by key. Bare (unquoted)
 * values are accepted. HLN_EINVAL if malformed. */
int schema_map_parse(hln_arena *a, const char *text, hln_option **out, int *n);

void schema_retain(hln_schema *s);
void schema_release(hln_schema *s);

/* ---- catalog ---------------------------------------------------------- */
typedef struct hln_catalog hln_catalog;

/* Opens (creating if needed) <dir>/schema and loads the snapshot. */
int catalog_open(hln_catalog **out, const char *dir, hln_error *err);
void catalog_close(hln_catalog *c);
/* Returns the current snapshot with a reference the caller must release. */
hln_schema *catalog_acquire(hln_catalog *c);
/* The current snapshot's gen, without a lock: a snapshot whose gen differs
 * is no longer the current one (a DDL was published since). */
uint64_t catalog_generation(hln_catalog *c);

/* A keyspace as the analyzer hands it over (the catalog copies it). */
typedef struct hln_keyspace_spec {
    const char *name;
    const hln_option *replication;
    int nreplication;
    bool durable_writes;
} hln_keyspace_spec;

/* A table as the analyzer hands it over (the catalog copies it, assigns the
 * id and column ids, and orders the columns). */
typedef struct hln_column_spec {
    const char *name;
    const hln_type *type;
    hln_column_kind kind;
    int position;
    bool desc;
} hln_column_spec;

typedef struct hln_table_spec {
    const char *ks, *name;
    const hln_column_spec *cols;
    int ncols;
    const hln_option *opts;
    int nopts;
    /* CREATE MATERIALIZED VIEW: the base table (NULL for a table), the
       WHERE clause's text and whether every column was selected */
    const hln_table *view_of;
    const char *view_where;
    bool view_include_all;
    const hln_view_restr *view_restr;
    int nview_restr;
} hln_table_spec;

/* DDL. Each returns 0 when applied, 1 when it was a no-op because of
 * IF [NOT] EXISTS, or an error: HLN_EEXISTS (err->ks/table set, message
 * "Cannot add existing keyspace \"ks\"" / "Cannot add already existing table
 * \"t\" to keyspace \"ks\""), HLN_ENOTFOUND ("Keyspace 'ks' doesn't exist" /
 * "Table 'ks.t' doesn't exist"), HLN_EINVAL for system keyspaces.
 * On a drop, *dropped_ids (if not NULL) receives the ids of dropped tables
 * (hln_malloc'd array, caller frees) so storage can discard their data. */
int catalog_create_keyspace(hln_catalog *c, const hln_keyspace_spec *ks, bool if_not_exists,
                            hln_error *err);
int catalog_drop_keyspace(hln_catalog *c, const char *ks, bool if_exists,
                          uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err);
int catalog_create_table(hln_catalog *c, const hln_table_spec *t, bool if_not_exists,
                         hln_error *err);
int catalog_drop_table(hln_catalog *c, const char *ks, const char *table, bool if_exists,
                       uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err);
/* DROP TABLE refuses a view ("Cannot use DROP TABLE on a materialized view.
 * ...") and a base table with views ("Cannot drop a table when materialized
 * views still depend on it (ks)", the keyspace once per view, as Cassandra words it). DROP
 * MATERIALIZED VIEW: the view ks.view (a table that is not a view is "doesn't exist"),
 * HLN_ENOTFOUND "Materialized view 'ks.v' doesn't exist", 1 when absent with if_exists. */
int catalog_drop_view(hln_catalog *c, const char *ks, const char *view, bool if_exists,
                      uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err);
/* The views of base table t in snapshot s (pointers into s), at most max;
 * returns how many there are. */
int schema_views_of(const hln_schema *s, const hln_table *t, const hln_table **out, int max);

/* Table options, validated and normalised (defaults for what is not given;
 * docs/formats/schema.md), into arena a. CREATE TABLE's rules; ALTER TABLE
 * WITH passes the table's options with the given ones replacing them. */
int schema_table_options(hln_arena *a, const hln_option *given, int ngiven, bool has_counters,
                         hln_option **out, int *nout, hln_error *err);

/* ALTER TABLE: replaces table ks.name by the definition in `alt`, built by
 * exec from the snapshot whose version is `based_on`. cols (final list, in
 * any order: the catalog orders them), ids kept from the old table, new
 * columns with id UINT32_MAX (the catalog assigns next_col_id onwards);
 * opts: the final, already validated option list; dropped: the final
 * dropped-column list. Returns 0, or HLN_EAGAIN when the schema changed
 * since based_on (the caller re-validates against the new snapshot and
 * retries), or HLN_ENOTFOUND. */
typedef struct hln_table_alter {
    const char *ks, *name;
    uint8_t based_on[16];
    const hln_column *cols;
    int ncols;
    const hln_option *opts;
    int nopts;
    const hln_dropped_column *dropped;
    int ndropped;
} hln_table_alter;
int catalog_alter_table(hln_catalog *c, const hln_table_alter *alt, hln_error *err);

/* CREATE / ALTER / DROP TYPE: sets the definition of the UDT ks.name to
 * def (a non-frozen descriptor from hln_type_udt; NULL drops it), in the
 * snapshot whose version is based_on (exec checked existence and use
 * there), and rebuilds every type and column of ks that uses it
 * (hln_type_refresh). 0, HLN_EAGAIN when the schema changed since
 * based_on, HLN_ENOTFOUND for a missing keyspace. */
const hln_type *schema_udt(const hln_schema *s, const char *ks, const char *name);
int catalog_set_type(hln_catalog *c, const char *ks, const char *name, const hln_type *def,
                     const uint8_t based_on[16], hln_error *err);

/* CREATE INDEX: adds ix (copied; the catalog gives it a new time uuid id)
 * to table ks.table, in the snapshot whose version is based_on (exec
 * validated the index there). 0, HLN_EEXISTS "Index 'name' already exists"
 * (index names are unique per keyspace), HLN_ENOTFOUND for a missing
 * keyspace or table, HLN_EAGAIN when the schema changed since based_on.
 * DROP INDEX: removes the index `name` of keyspace ks; table_out (if not
 * NULL) receives its table's name. 0, 1 when absent with if_exists,
 * HLN_ENOTFOUND "Index 'ks.name' doesn't exist'" (sic, Cassandra's text).
 * DROP TABLE and DROP KEYSPACE drop their indexes with them. */
int catalog_create_index(hln_catalog *c, const char *ks, const char *table, const hln_index *ix,
                         const uint8_t based_on[16], hln_error *err);
int catalog_drop_index(hln_catalog *c, const char *ks, const char *name, bool if_exists,
                       char table_out[64], hln_error *err);
/* The index `name` of keyspace ks and (if table is not NULL) its table. */
const hln_index *schema_index(const hln_schema *s, const char *ks, const char *name,
                              const hln_table **table);

/* ALTER KEYSPACE: new replication (validated as at CREATE; none given:
 * unchanged) and durable_writes. 0 applied, 1 when nothing would change
 * (no new version), HLN_ENOTFOUND "Keyspace 'ks' doesn't exist". */
int catalog_alter_keyspace(hln_catalog *c, const hln_keyspace_spec *ks, hln_error *err);

/* ---- system tables ----------------------------------------------------
 * system.local, system.peers, system.peers_v2 and system_schema.{keyspaces,
 * tables, columns, types, functions, aggregates, indexes, views, triggers,
 * dropped_columns} are virtual tables in every snapshot (is_virtual), with
 * the columns Cassandra 5.0 has. Their rows are generated on demand. */
typedef struct hln_node_info {
    uint8_t host_id[16];
    uint8_t address[16]; /* inet: 4 bytes (IPv4) or 16 */
    int address_len;
    int port; /* native port */
    const char *cluster_name, *datacenter, *rack;
    const char *release_version;         /* "5.0.2" */
    const char *cql_version;             /* "3.4.7" */
    const char *native_protocol_version; /* "4" */
    const char *partitioner;             /* org.apache.cassandra.dht.Murmur3Partitioner */
    const int64_t *tokens;
    int ntokens;
    int64_t bootstrapped_at; /* not used by drivers */
} hln_node_info;

/* Generates every row of virtual table t (a table of this snapshot with
 * is_virtual) into arena memory: *rows receives nrows arrays of t->ncols
 * values, serialized, in t->cols order; null cells have len -1.
 * HLN_ENOTFOUND if t is not a virtual table this module serves. */
int schema_virtual_rows(const hln_schema *s, const hln_node_info *node, const hln_table *t,
                        hln_arena *a, hln_bytes ***rows, int *nrows, hln_error *err);

#endif
