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
int ex_admin_metrics(hln_engine *e, hln_buf *out, hln_error *err);
/* compaction_throughput now, in bytes per second for the node (0 =
 * unthrottled); set takes effect in running jobs too. */
uint64_t ex_admin_get_compaction_throughput(hln_engine *e);
void ex_admin_set_compaction_throughput(hln_engine *e, uint64_t bps);

#endif
