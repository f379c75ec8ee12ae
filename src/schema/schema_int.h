/*
 * schema_int.h — private interface shared by the schema module's files.
 *
 * What: the snapshot's private layout (a public hln_schema followed by the
 * arena that owns all of its memory), table construction from a spec, the
 * built-in system keyspaces, the parser/interner for parameterised type names
 * ("frozen<map<text, text>>"), table option normalisation, and a small MD5
 * used for Cassandra's name-based (version 3) system table ids.
 *
 * Invariants:
 *  1. Everything a snapshot points to lives in its arena (or is static), so
 *     freeing a snapshot is one hln_arena_free.
 *  2. Interned type descriptors are static storage and are never freed.
 */
#ifndef HLN_SCHEMA_INT_H
#define HLN_SCHEMA_INT_H

#include "schema/schema.h"

#define SCHEMA_NAME_LENGTH 48 /* Cassandra's SchemaConstants.NAME_LENGTH */

typedef struct schema_snap {
    hln_schema s; /* first member: an hln_schema * is a schema_snap * */
    hln_arena arena;
} schema_snap;

/* ---- snapshots (schema.c) --------------------------------------------- */

/* A new, empty snapshot with refs = 1 and a zero version. NULL on ENOMEM. */
schema_snap *schema_snap_new(void);
void schema_snap_free(schema_snap *sn);
/* Appends ks (already allocated in sn's arena) to sn, keeping system keyspaces
 * first and user keyspaces sorted by name. */
int schema_snap_add_keyspace(schema_snap *sn, hln_keyspace *ks);
/* Deep-copies ks into sn's arena. */
hln_keyspace *schema_copy_keyspace(schema_snap *sn, const hln_keyspace *ks);
hln_table *schema_copy_table(schema_snap *sn, const hln_table *t);
/* Copies n dropped-column entries into a (NULL on ENOMEM). */
hln_dropped_column *schema_copy_dropped(hln_arena *a, const hln_dropped_column *v, int n);
/* Copies n view restrictions into a (NULL on ENOMEM). */
hln_view_restr *schema_copy_restr(hln_arena *a, const hln_view_restr *v, int n);
/* Copies n index definitions (names and options too) into a (NULL on ENOMEM). */
hln_index *schema_copy_indexes(hln_arena *a, const hln_index *v, int n);
/* Orders t->cols as Cassandra does: partition key, clustering (by
 * position), static, regular (by name). */
void schema_sort_columns(hln_table *t);
/* Sorts a keyspace's tables by name. */
void schema_sort_tables(hln_keyspace *ks);
/* Adds the system keyspaces (system, system_schema, system_virtual_schema). */
int schema_add_system_keyspaces(schema_snap *sn, hln_error *err);
/* True for the keyspaces Cassandra lists in system_virtual_schema rather than
 * system_schema. */
bool schema_is_virtual_keyspace_name(const char *ks);
bool schema_is_system_keyspace_name(const char *ks);
bool schema_name_valid(const char *name);

/* Builds a table in sn's arena from spec: copies names, orders the columns
 * (partition key, clustering, static by name, regular by name), assigns
 * column ids 0..n-1 in that order. opts/nopts are copied as given (already
 * normalised). Validates structure (duplicate columns, positions). */
int schema_table_from_spec(schema_snap *sn, const hln_table_spec *spec, const uint8_t id[16],
                           const hln_option *opts, int nopts, hln_table **out, hln_error *err);

/* Cassandra's column comparison: name bytes as signed bytes (ByteBuffer). */
int schema_name_cmp(const char *a, const char *b);

/* ---- options (options.c) ---------------------------------------------- */

/* Renders pairs as the canonical map text (keys sorted). */
char *schema_map_format(hln_arena *a, const hln_option *kv, int n);

/* schema_table_options (schema.h) builds the full option list of a new
 * table: Cassandra 5.0's defaults overridden by the given options
 * (validated and normalised). Sorted by key. has_counters: whether the
 * table has counter columns (rejects a TTL). */
/* Validates and normalises replication options: class first (fully
 * qualified), then the strategy options sorted by key. */
int schema_replication(hln_arena *a, const char *ks, const hln_option *given, int ngiven,
                       hln_option **out, int *nout, hln_error *err);

#endif
