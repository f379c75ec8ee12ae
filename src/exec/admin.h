/*
 * admin.h — operator verbs on a running engine (admin.c): nodetool's flush,
 * compact, tablestats, compactionstats, and Prometheus text.
 *
 * Called off shard threads only (they wait for every shard). ks and table
 * may be NULL or "": every user table, or every table of ks. Reports are
 * appended to out. Errors: HLN_ENOTFOUND for an unknown keyspace or table
 * (nodetool's wording), or the storage error of a shard.
 */
#ifndef HLN_EXEC_ADMIN_H
#define HLN_EXEC_ADMIN_H

#include "exec/node.h"

int ex_admin_flush(hln_engine *e, const char *ks, const char *table, hln_error *err);
int ex_admin_compact(hln_engine *e, const char *ks, const char *table, hln_error *err);
int ex_admin_tablestats(hln_engine *e, const char *ks, const char *table, hln_buf *out,
                        hln_error *err);
int ex_admin_compactionstats(hln_engine *e, hln_buf *out, hln_error *err);
/* nodetool tablehistograms ks table: local read/write/scan latency
 * percentiles over the last one to two minutes. */
int ex_admin_tablehistograms(hln_engine *e, const char *ks, const char *table, hln_buf *out,
                             hln_error *err);
int ex_admin_metrics(hln_engine *e, hln_buf *out, hln_error *err);
/* nodetool status for this node (load: bytes under the shards' tables/). */
int ex_admin_status(hln_engine *e, hln_buf *out, hln_error *err);
/* Snapshots (nodetool snapshot / listsnapshots / clearsnapshot): hard
 * links of every sstable of the named tables, per shard, under
 * <data>/shard-<i>/snapshots/<tag>/<ks>.<table>-<id>/ (tag: letters,
 * digits, _ - .; default the time in ms; an existing tag is HLN_EEXISTS
 * "Snapshot <tag> already exists."). clearsnapshot without a tag removes
 * every snapshot. Restore: docs/OPERATIONS.md, scripts/restore-snapshot.sh. */
int ex_admin_snapshot(hln_engine *e, const char *tag, const char *ks, const char *table,
                      hln_buf *out, hln_error *err);
int ex_admin_listsnapshots(hln_engine *e, hln_buf *out, hln_error *err);
/* Every snapshot by (tag, table), for listsnapshots and
 * system_views.snapshots; *out is hln_malloc'd (hln_free it). */
typedef struct ex_snapshot {
    char tag[256], keyspace[400], table[400];
    uint64_t bytes, true_bytes; /* size on disk; only the snapshot holds them */
    int64_t created_sec;        /* when it was taken (its directory's time) */
} ex_snapshot;
int ex_admin_snapshot_list(hln_engine *e, ex_snapshot **out, int *n);
int ex_admin_clearsnapshot(hln_engine *e, const char *tag, hln_buf *out, hln_error *err);
/* compaction_throughput now, in bytes per second for the node (0 =
 * unthrottled); set takes effect in running jobs too. */
uint64_t ex_admin_get_compaction_throughput(hln_engine *e);
void ex_admin_set_compaction_throughput(hln_engine *e, uint64_t bps);

#endif
