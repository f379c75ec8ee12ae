/*
 * storage.h — the replica-side storage engine of one shard.
 *
 * What: an LSM tree per table per shard. Mutations go to the shard's
 * commitlog (checksummed records, replayed at open) and then to the table's
 * memtable; a memtable over the size threshold (and every memtable at close)
 * is flushed to an immutable sorted sstable. Reads merge memtable and
 * sstables cell by cell, newest timestamp wins, tombstones shadow older data.
 *
 * Storage knows nothing of CQL: tables are 16-byte ids, partition keys are
 * opaque serialized keys with their Murmur3 token, clustering keys are
 * byte-comparable strings (types.h) ordered by memcmp, cells are keyed by
 * column id. The structs here are plain and serialisable, so the same
 * mutation can cross shards now and nodes later.
 *
 * Slice bounds: a bound is a clustering prefix P. An inclusive start admits
 * every key >= P (all keys starting with P included); an exclusive start
 * admits keys > P that do not start with P. An inclusive end admits keys
 * <= P or starting with P; an exclusive end admits keys < P (and not P's
 * extensions). An empty bound (len 0, inclusive) is unbounded.
 *
 * Invariants:
 *  1. st_apply returns 0 only after the mutation is in the commitlog (and
 *     fsynced when sync is batch); a crash after that never loses it.
 *  2. Timestamps are microseconds; HLN_TS_NONE marks "no marker/deletion".
 *  3. A tombstone with timestamp T shadows every cell with timestamp <= T
 *     beneath it (partition > range of rows > row > cell), as in Cassandra.
 *  4. All functions run on the owning shard's thread; an st_engine is never
 *     shared between threads.
 *  5. Memtables are bounded: a shard's memtables (live and being flushed)
 *     never hold more than memtable_space_bytes plus one mutation; a write
 *     beyond it is refused whole (HLN_EOVERLOADED) before its commitlog
 *     append, and the caller decides whether to wait or fail.
 */
#ifndef HLN_STORAGE_H
#define HLN_STORAGE_H

#include <stdatomic.h>

#include "common/common.h"

#define HLN_TS_NONE INT64_MIN

/* Cell kinds (st_cell.flags).
 *  ST_CELL_TOMBSTONE  a deleted cell: value ignored; shadows older versions
 *                     of the same (column, path).
 *  ST_CELL_COLDEL     a column deletion ("complex deletion" in Cassandra):
 *                     deletes every cell of col_id, whatever its path, with
 *                     timestamp <= ts. Carries no path and no value. It is
 *                     how a non-frozen collection or UDT is overwritten
 *                     (COLDEL at ts-1, then the new elements at ts) or
 *                     deleted (COLDEL at ts). At most one per column per row
 *                     after reconciliation (the newest wins). */
enum { ST_CELL_TOMBSTONE = 1, ST_CELL_COLDEL = 2 };

/* A cell is keyed by (col_id, path). path is empty (len 0) for a simple
 * column; for an element of a non-frozen collection or a field of a
 * non-frozen UDT it is a byte-comparable key chosen by exec (list: time-
 * based element id, set/map: comparable encoding of the element/key, UDT:
 * field number), so storage orders elements with plain st_bytes_cmp.
 *
 * Order of cells in a row: by col_id; within a column a COLDEL first, then
 * by path (st_bytes_cmp). Storage never interprets paths or values.
 *
 * Expiry: a cell with expires != 0 is "expiring"; once expires <= the read's
 * now_sec it is dead and behaves exactly as a tombstone with the same ts
 * (it still shadows older versions; it is never returned as live). */
typedef struct st_cell {
    uint32_t col_id;
    uint8_t flags;   /* ST_CELL_TOMBSTONE or ST_CELL_COLDEL, or 0 (live) */
    int64_t ts;      /* write timestamp, microseconds */
    int32_t ttl;     /* seconds, 0 = none */
    int64_t expires; /* local expiry time (seconds since the epoch), 0 = none */
    const uint8_t *val;
    uint32_t len;
    const uint8_t *path; /* cell path, NULL when pathlen == 0 */
    uint32_t pathlen;
} st_cell;

typedef struct st_row {
    const uint8_t *ck; /* byte-comparable clustering key; len 0 for tables
                          without clustering columns (one row per partition) */
    uint32_t cklen;
    int64_t marker_ts; /* row marker (INSERT), HLN_TS_NONE if absent */
    int64_t del_ts;    /* row tombstone, HLN_TS_NONE if absent */
    st_cell *cells;    /* sorted as described at st_cell */
    uint32_t ncells;
    /* An expiring row marker (INSERT ... USING TTL, default_time_to_live):
       marker_expires != 0 is its local expiry time in seconds; from then on
       the marker is dead (the row vanishes once its cells are dead too).
       Reconciliation of two markers follows the cell rules. */
    int32_t marker_ttl;
    int64_t marker_expires;
} st_row;

typedef struct st_bound {
    const uint8_t *key;
    uint32_t len;
    bool inclusive;
} st_bound;

/* A range tombstone: deletes, with timestamp ts, every row of the partition
 * whose clustering key the slice [start, end] admits (the slice-bound
 * semantics above; DELETE ... WHERE pk = ? AND c1 = ? deletes the prefix
 * c1 as start = end = enc(c1), both inclusive). It shadows row markers and
 * cells with timestamp <= ts, like a row deletion of every row in range. */
typedef struct st_range_tomb {
    st_bound start, end;
    int64_t ts;
} st_range_tomb;

typedef struct st_mutation {
    uint8_t table_id[16];
    const uint8_t *pk;
    uint32_t pklen;
    int64_t token;
    int64_t pdel_ts; /* partition tombstone, HLN_TS_NONE if absent */
    st_row *rows;    /* sorted by ck */
    uint32_t nrows;
    st_range_tomb *rts; /* range tombstones, in any order; NULL when none */
    uint32_t nrts;
} st_mutation;

/* Serialises m (the commitlog record body and the cross-shard/cross-node
 * message). Format in docs/formats/mutation.md. */
void st_mutation_encode(const st_mutation *m, hln_buf *out);
/* Decodes into arena memory (pointers may point into the input buffer).
 * 0 or HLN_ECORRUPT. */
int st_mutation_decode(hln_rd *r, hln_arena *a, st_mutation *m);

/* A batch: n mutations (of any tables and partitions) serialised as one
 * record, the body st_apply_batch writes to the commitlog and the message a
 * shard's part of a BATCH travels in. Format in docs/formats/mutation.md.
 * Decoding allocates the array and everything in it from a. */
void st_batch_encode(const st_mutation *ms, uint32_t n, hln_buf *out);
int st_batch_decode(hln_rd *r, hln_arena *a, st_mutation **ms, uint32_t *n);

typedef struct st_read_cmd {
    uint8_t table_id[16];
    const uint8_t *pk;
    uint32_t pklen;
    int64_t token;
    st_bound start, end;
    bool reversed;   /* return rows in descending ck order */
    uint32_t limit;  /* max live rows, 0 = no limit */
    int64_t now_sec; /* the read's clock for TTL expiry (seconds); cells and
                        markers with 0 < expires <= now_sec are dead */
} st_read_cmd;

/* A live row after merging: only live cells (no tombstones, no COLDEL, no
 * expired cell), in st_cell order, with their ts/ttl/expires/path; ncells
 * may be 0 when only the row marker is live (a row that exists with all
 * regular columns null). */
typedef struct st_partition {
    const uint8_t *pk;
    uint32_t pklen;
    int64_t token;
    st_row *rows;
    uint32_t nrows;
    struct st_partition *next;
} st_partition;

typedef struct st_scan_cmd {
    uint8_t table_id[16];
    /* token range (start_token, end_token], as Cassandra's ranges; the
       full ring is (INT64_MIN, INT64_MAX] */
    int64_t start_token, end_token;
    /* resume after the partition (start_token, after_pk) when not NULL:
       partitions with token == start_token and pk > after_pk (unsigned
       bytes) are admitted too (paging); with start_token == end_token
       that is all it admits (not the wrapping full ring) */
    const uint8_t *after_pk;
    uint32_t after_pklen;
    uint32_t limit; /* max live rows, 0 = none */
    int64_t now_sec;
    uint32_t per_partition_limit; /* max live rows of each partition, 0 = none */
} st_scan_cmd;

typedef enum st_sync_mode { ST_SYNC_PERIODIC, ST_SYNC_BATCH } st_sync_mode;

/* Per-table storage settings, from the table's CQL options (exec maps
 * `compression`, `compaction` and `gc_grace_seconds`; st_table_opts_default
 * gives Cassandra 5.0's defaults). Storage asks for them through
 * st_options.table_opts whenever it decides something (the codec of a
 * flush or compaction output, the next compaction, what a compaction may
 * purge), so ALTER TABLE takes effect at the next decision. */
typedef enum st_codec {
    ST_CODEC_NONE = 0, /* compression {'enabled': false} or NoopCompressor */
    ST_CODEC_LZ4 = 1,  /* LZ4Compressor, the default */
    ST_CODEC_ZSTD = 2, /* ZstdCompressor, compression_level (3) */
    ST_CODEC_SNAPPY = 3,
    ST_CODEC_DEFLATE = 4,
} st_codec;

typedef enum st_strategy {
    ST_STCS = 0, /* SizeTieredCompactionStrategy */
    ST_LCS = 1,  /* LeveledCompactionStrategy */
    ST_TWCS = 2, /* TimeWindowCompactionStrategy */
    ST_UCS = 3,  /* UnifiedCompactionStrategy */
} st_strategy;

typedef struct st_table_opts {
    st_codec codec;
    int level;            /* zstd level; 0 = the codec's default */
    uint32_t chunk_bytes; /* chunk_length_in_kb * 1024 (16 KiB) */
    int64_t gc_grace_sec; /* gc_grace_seconds (864000) */
    bool compaction_enabled;
    st_strategy strategy;
    uint32_t min_threshold, max_threshold; /* 4, 32 */
    int64_t window_sec;                    /* TWCS: unit * size (1 day) */
    uint64_t sstable_bytes;                /* LCS: sstable_size_in_mb (160 MiB) */
    uint32_t fanout;                       /* LCS: fanout_size (10) */
    int scaling;                           /* UCS: scaling_parameters W (T4 = 2) */
    /* single-sstable tombstone compactions (every strategy): a file older
       than tombstone_compaction_interval whose droppable deletions are
       more than tombstone_threshold of its items is compacted alone */
    double tombstone_threshold;     /* 0.2 */
    int64_t tombstone_interval_sec; /* 86400 */
    bool unchecked_tombstone;       /* unchecked_tombstone_compaction (false) */
} st_table_opts;

void st_table_opts_default(st_table_opts *o);
typedef void (*st_table_opts_fn)(void *ud, const uint8_t table_id[16], st_table_opts *out);

typedef struct st_options {
    /* file_cache_size / shards: the shard thread's cache of decompressed
       sstable chunks (set by st_open on the calling thread; 0: 32 MiB) */
    size_t chunk_cache_bytes;
    st_sync_mode sync;
    uint32_t sync_period_ms;     /* periodic: fsync at least this often (10000) */
    size_t memtable_flush_bytes; /* flush a table's memtable above this (64 MiB) */
    /* The shard's memtable space (memtable_heap_space / shards, 256 MiB):
       the bound on the bytes of all its memtables, live ones and those
       frozen for a flush. Above half of it the largest memtable is flushed
       (Cassandra's memtable_cleanup_threshold); at it, st_apply refuses
       writes with HLN_EOVERLOADED until a flush has finished (engine.c,
       "memtable space"). */
    size_t memtable_space_bytes;
    size_t segment_bytes; /* commitlog segment size (32 MiB) */
    /* commitlog_ignore_replay_errors (false): when replay finds corruption
       (damage a crash cannot explain, docs/formats/commitlog.md), log it,
       skip the damaged bytes and replay every valid record after them,
       instead of failing st_open with HLN_ECORRUPT. Cassandra's
       -Dcassandra.commitlog.ignorereplayerrors=true. */
    bool ignore_replay_errors;
    /* Compaction in the background (compaction.c), by each table's
       strategy: a worker thread merges sstables the strategy picks. Off
       for every table with compaction_disabled. compaction_min_threshold,
       when not 0, overrides every table's min_threshold (a server setting
       for tests and small machines). */
    bool compaction_disabled;
    uint32_t compaction_min_threshold;
    /* compaction_throughput: a job writes at most *compaction_bps /
       compaction_bps_share bytes per second (Cassandra's limit is per node,
       shared here by the shards' jobs); NULL or 0: unthrottled. The value
       may change while jobs run (setcompactionthroughput). */
    _Atomic uint64_t *compaction_bps;
    uint32_t compaction_bps_share;
    /* The tables' settings (st_table_opts); NULL: the defaults for all. */
    st_table_opts_fn table_opts;
    void *table_opts_ud;
    /* Called on the compaction thread when a background job has finished;
       the owner should then call st_maintain on the shard thread (soon, not
       necessarily at once: reads and writes poll for finished jobs too). */
    void (*background_wake)(void *ud);
    void *background_ud;
    /* Called on the shard thread after each mutation of st_apply and
       st_apply_batch is in the commitlog and its memtable (not for
       commitlog replay at open): structures kept beside the data, such as
       exec's vector indexes, follow the writes. NULL: none. */
    void (*applied)(void *ud, const st_mutation *m);
    void *applied_ud;
} st_options;

void st_options_default(st_options *o);

typedef struct st_engine st_engine;

/* Callback storage uses at open to ask whether a table still exists
 * (mutations for dropped tables are skipped during replay). */
typedef bool (*st_table_exists_fn)(void *ud, const uint8_t table_id[16]);

/* Opens the shard's storage under dir (created if needed): loads sstables,
 * replays the commitlog. */
int st_open(st_engine **out, const char *dir, const st_options *opts, st_table_exists_fn exists,
            void *ud, hln_error *err);
/* Flushes every memtable, syncs and closes. */
int st_close(st_engine *e, hln_error *err);

/* HLN_EOVERLOADED, with nothing logged or applied, while the shard's
 * memtables fill memtable_space_bytes (st_write_ready false). */
int st_apply(st_engine *e, const st_mutation *m, hln_error *err);
/* Applies n mutations atomically with respect to crashes: they are written
 * as ONE commitlog record, so a restart replays all of them or none (and no
 * read on this shard sees some without the others, as everything runs on
 * the shard's thread). Otherwise as st_apply. n == 0 is a no-op. */
int st_apply_batch(st_engine *e, const st_mutation *ms, uint32_t n, hln_error *err);
/* Reads one partition slice; result rows are arena memory. *out is NULL
 * when the partition has no live rows. */
int st_read(st_engine *e, const st_read_cmd *cmd, hln_arena *a, st_partition **out, hln_error *err);
/* Reads partitions of a token range in (token, pk) order; arena memory. */
int st_scan(st_engine *e, const st_scan_cmd *cmd, hln_arena *a, st_partition **out, hln_error *err);

/* Memtable space (back-pressure): true when the shard's memtables hold less
 * than memtable_space_bytes, so that st_apply and st_apply_batch accept a
 * write (which may then pass the bound by its own size). When false, a
 * background flush has been started if one can be, and the caller should
 * hold the write (never block the loop) and ask again once st_maintain has
 * run (the background_wake of a finished flush) or a little later. Never
 * blocks; installs finished background work first. */
bool st_write_ready(st_engine *e);
/* Waits on the calling thread (flushing synchronously if need be) until
 * st_write_ready: for start-up work such as batchlog replay, never for a
 * request. */
int st_make_room(st_engine *e, hln_error *err);
/* The bytes held by the shard's memtables now, live and frozen. */
size_t st_memtable_bytes(st_engine *e);

int st_flush(st_engine *e, hln_error *err); /* flush all memtables now */
/* Flushing without blocking the shard (nodetool flush, snapshot):
 * st_flush_start marks the memtables of table_id (NULL: every table), as
 * they are now, for the background flush, which writes them one after
 * another before anything the thresholds pick; st_flush_poll answers 1
 * once they are all written and the commitlog segments only they held are
 * deleted, 0 while some are pending, < 0 (err) when one failed (it stays in
 * memory and is retried, as any failed flush). */
int st_flush_start(st_engine *e, const uint8_t *table_id, hln_error *err);
int st_flush_poll(st_engine *e, hln_error *err);
int st_sync(st_engine *e, hln_error *err); /* fsync the commitlog now */
int st_drop_table(st_engine *e, const uint8_t table_id[16], hln_error *err);
/* TRUNCATE: discards every row of the table on this shard, durably; the
 * table stays and later writes are kept. Rolls the commitlog and writes a
 * durable marker naming the first sstable generation and commitlog segment
 * that survive (replay skips the table's older records, so a restart
 * cannot bring them back), then deletes the table's sstables and memtables
 * (engine.c). Flushes nothing. */
int st_truncate_table(st_engine *e, const uint8_t table_id[16], hln_error *err);

/* Installs a finished background compaction (the new sstable replaces its
 * inputs, which are deleted) and starts the next one if a table needs it.
 * Cheap when nothing has finished. */
void st_maintain(st_engine *e);
/* Major compaction: waits for a running job, then merges every sstable of
 * the table into one (a single sstable is rewritten too, dropping what it
 * may purge), on the calling (shard) thread. */
int st_compact(st_engine *e, const uint8_t table_id[16], hln_error *err);
/* The same on the compaction thread (nodetool compact): st_compact_start
 * asks for it (it runs once the job in progress, if any, is installed,
 * before any the strategy picks, and also when automatic compaction is
 * off); st_compact_poll answers 1 once it is installed, 0 while it is
 * waiting or running, < 0 (err) when it failed. */
void st_compact_start(st_engine *e, const uint8_t table_id[16]);
int st_compact_poll(st_engine *e, const uint8_t table_id[16], hln_error *err);
/* The number of sstables the table has now (0 for an unknown table). */
size_t st_sstable_count(st_engine *e, const uint8_t table_id[16]);

/* Snapshot (nodetool snapshot): hard-links every sstable the table has now
 * into dir (created; the same file system as the data) and fsyncs dir; the
 * caller flushes first (the admin verb: st_flush_start, st_flush_poll). The links stay valid
 * whatever compaction, DROP or TRUNCATE do later, and take no space until the originals are gone. A
 * table this shard never saw links nothing. */
int st_snapshot(st_engine *e, const uint8_t table_id[16], const char *dir, hln_error *err);

/* What a table holds on this shard, for operators (nodetool tablestats,
 * system_views, /metrics). */
typedef struct st_table_stats {
    size_t sstables;
    uint64_t disk_bytes;        /* sstable files */
    uint64_t raw_bytes;         /* their row data uncompressed */
    uint64_t data_bytes;        /* their row data as stored (compressed) */
    uint64_t partitions;        /* sum over sstables (a partition in k files counts k times) */
    uint64_t rows;              /* likewise */
    size_t memtable_bytes;      /* live and frozen memtables */
    size_t memtable_partitions; /* likewise (a partition in both counts twice) */
    uint64_t compactions, bytes_compacted, bytes_written; /* since open */
    uint64_t flushes, bytes_flushed;
    uint64_t reads, sstable_reads; /* partition reads (st_read) and the sstables they
                                      read from: read amplification = sstable_reads / reads */
    bool compacting;
    /* the running compaction, when compacting (system_views.sstable_tasks) */
    uint64_t compact_progress, compact_total; /* uncompressed bytes */
    size_t compact_inputs;
    uint64_t compact_gen;         /* its output's generation */
    int64_t compact_started_us;   /* wall clock */
    uint64_t max_partition_bytes; /* largest partition of the sstables (uncompressed) */
} st_table_stats;
/* 0, or HLN_ENOTFOUND for a table this shard has never seen. */
int st_table_stats_get(st_engine *e, const uint8_t table_id[16], st_table_stats *out);

/* The calling thread's cache of decompressed sstable chunks
 * (file_cache_size; all zero before its first compressed read). */
typedef struct st_cache_stats {
    uint64_t capacity_bytes, size_bytes, requests, hits;
    size_t entries;
} st_cache_stats;
void st_thread_cache_stats(st_cache_stats *out);

#endif
