/*
 * exec.h — statement execution: analyzer and coordinator.
 *
 * What: takes CQL text (QUERY), a statement to prepare (PREPARE) or a
 * prepared id with values (EXECUTE); parses (cql/), binds names and types
 * against a schema snapshot, turns the statement into storage operations
 * (mutations, reads, scans) addressed to the shards that own their tokens,
 * sends them, gathers the replies, and builds the result: rows with column
 * metadata, a schema change, a keyspace switch, or a prepared id.
 *
 * Why here: this is the coordinator seam. Today the replicas of a token are
 * one shard of this node; with the ring, the same plan will address replicas
 * on other nodes with a consistency level.
 *
 * Invariants:
 *  1. done() is called exactly once per request, on the request's shard
 *     thread, possibly before ex_query/ex_prepare/ex_execute returns.
 *  2. Everything in r->result lives in r->arena until the request is freed;
 *     ex_request_free may run on any thread once done() has run (it touches
 *     only the request, atomic reference counts and the allocator), which
 *     the embedded API relies on.
 *  3. System tables (system, system_schema) are served from the schema
 *     snapshot and node state, never from storage.
 *  4. Paging (params.page_size > 0): a result holds at most page_size rows;
 *     result.paging_state is non-NULL when more rows may follow, and
 *     passing it back (params.paging_state) with the same statement and
 *     values resumes strictly after the last row returned. A paging state
 *     of another statement is rejected (HLN_EINVAL), a malformed one too
 *     (HLN_EPROTO, "Invalid value for the paging state").
 */
#ifndef HLN_EXEC_H
#define HLN_EXEC_H

#include "common/common.h"
#include "schema/schema.h"
#include "exec/node.h"
#include "types/types.h"

typedef hln_bytes ex_value; /* len -1: null, -2: unset */

enum { EX_CL_ANY = 0, EX_CL_ONE = 1, EX_CL_QUORUM = 4, EX_CL_LOCAL_ONE = 0x0A };

typedef struct ex_params {
    const char *keyspace; /* the connection's keyspace (USE), or NULL */
    ex_value *values;
    int nvalues;
    const char **names; /* named values, or NULL */
    uint16_t consistency;
    uint16_t serial_consistency;
    int32_t page_size; /* <= 0: no paging */
    const uint8_t *paging_state;
    int32_t paging_len;
    int64_t timestamp; /* HLN_TS_NONE: the server's clock */
    bool skip_metadata;
    const char *role; /* the logged-in role (authentication on), else NULL */
} ex_params;

/* Result kinds are the native protocol's RESULT kinds. */
enum { EX_VOID = 1, EX_ROWS = 2, EX_SET_KEYSPACE = 3, EX_PREPARED = 4, EX_SCHEMA_CHANGE = 5 };

typedef struct ex_colspec {
    const char *ks, *table, *name;
    const hln_type *type;
} ex_colspec;

typedef struct ex_result {
    int kind;
    /* ROWS (and PREPARED's result metadata) */
    ex_colspec *cols;
    int ncols;
    ex_value *cells; /* nrows * ncols, row-major */
    int nrows;
    const uint8_t *paging_state; /* NULL: no more pages */
    int32_t paging_len;
    bool no_metadata;
    /* SET_KEYSPACE */
    const char *keyspace;
    /* SCHEMA_CHANGE: change CREATED/UPDATED/DROPPED, target KEYSPACE/TABLE */
    const char *change, *target, *sc_ks, *sc_name;
    /* PREPARED */
    uint8_t id[16];
    ex_colspec *binds;
    int nbinds;
    int *pk_indexes;
    int npk_indexes;
    /* a client warning sent with the result (the frame's WARNING flag), or NULL */
    const char *warning;
} ex_result;

typedef struct ex_request ex_request;
typedef void (*ex_done_fn)(ex_request *r);

struct ex_request {
    hln_shard *shard; /* where the request runs and done() is called */
    hln_arena arena;
    ex_params params;
    ex_result result;
    hln_error err;
    int rc; /* 0 or HLN_E* when done() runs */
    ex_done_fn done;
    void *ud;
    void *priv; /* exec's state for the request */
};

/* Initialises r for use on shard s (arena, defaults). */
void ex_request_init(ex_request *r, hln_shard *s, ex_done_fn done, void *ud);
/* Frees the arena and whatever exec held for the request. */
void ex_request_free(ex_request *r);

void ex_query(ex_request *r, const char *cql, size_t len);
void ex_prepare(ex_request *r, const char *cql, size_t len);
void ex_execute(ex_request *r, const uint8_t *id, size_t idlen);

/* One statement of a BATCH: CQL text (cql != NULL) or a prepared id, with
 * its values (names: NULL, or one per value). Everything must live until
 * done() runs (the protocol decoder puts it in r->arena). */
typedef struct ex_batch_item {
    const char *cql;
    size_t cqllen;
    const uint8_t *id;
    size_t idlen;
    ex_value *values;
    int nvalues;
    const char **names;
} ex_batch_item;

enum { EX_BATCH_LOGGED = 0, EX_BATCH_UNLOGGED = 1, EX_BATCH_COUNTER = 2 };

/* BATCH: INSERT/UPDATE/DELETE statements applied with one timestamp (the
 * request's, else one server timestamp for all; USING TIMESTAMP on a
 * statement wins). The mutations are grouped per partition and per shard,
 * and each shard's part is applied atomically (one commitlog record); a
 * LOGGED batch spanning shards is first recorded in the batchlog, so it is
 * all-or-nothing across crashes (batch.c, batchlog.c). Result: VOID. */
void ex_batch(ex_request *r, int type, const ex_batch_item *items, int n);

/* Start-up step of the batchlog (batchlog.c, docs/formats/batchlog.md):
 * creates every shard's batchlog directory and re-applies every pending
 * entry (a LOGGED batch spanning shards that was not acknowledged by all of
 * them before a crash) on its owning shards, then removes it. Runs after
 * every shard has replayed its commitlog and before any request, from a
 * thread that is not a shard's. */
int ex_batchlog_replay(hln_engine *e, hln_error *err);

/* Counters of a shard's cache of prepared plans (plancache.c). Read on the
 * shard's thread, or while it runs nothing (tests). */
typedef struct ex_plan_cache_stats {
    uint64_t hits, misses, evictions, invalidations;
    /* authorisations of prepared plans: checked against the auth store, or
     * answered by the plan's remembered verdict (access.c) */
    uint64_t auth_checks, auth_reused;
    int entries;
} ex_plan_cache_stats;
void ex_plan_cache_stats_get(hln_shard *s, ex_plan_cache_stats *out);

/* Engine-wide state of exec (prepared cache). */
int ex_init(hln_engine *e, hln_error *err);
/* storage's `applied` hook (st_options; ud: the hln_shard): keeps the
 * shard's index structures current (sai.c) */
struct st_mutation;
void ex_ann_applied(void *ud, const struct st_mutation *m);
/* The st_options.table_opts callback (ud: the hln_engine): a table's
 * compression, compaction and gc_grace_seconds as storage settings
 * (table_storage.c). */
void ex_table_storage_opts(void *ud, const uint8_t table_id[16], struct st_table_opts *o);
/* As a shard opens (sai.c): its indexes of the schema snapshot, loaded from
 * the snapshots the last clean stop wrote or built in the background. */
void ex_sai_open(hln_shard *s, const struct hln_schema *schema);
/* As a shard stops cleanly: every built index written beside its data. */
void ex_sai_save_all(hln_shard *s);
/* The shard's periodic clock: checkpoints graphs that went quiet. */
void ex_sai_idle(hln_shard *s);
/* Back-pressure (coord.c), on s's thread: lets parked writes through once
 * storage has room again (after st_maintain), and fails those whose
 * write_request_timeout has passed; ex_park_fail_all fails every one (the
 * shard is stopping). */
void ex_park_retry(hln_shard *s);
void ex_park_fail_all(hln_shard *s);
void ex_shutdown(hln_engine *e);

#endif
