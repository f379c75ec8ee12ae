/*
 * commitlog.h — a shard's write-ahead log (private to storage).
 *
 * What: append-only segment files <dir>/CommitLog-<seq>.log holding
 * checksummed records (docs/formats/commitlog.md), replayed at open, synced
 * per record (batch) or when the owner calls cl_sync (periodic). Each
 * segment remembers which tables wrote into it ("dirty" tables); a segment
 * that is not the current one and has no dirty table left is deleted. See
 * README.md beside this file.
 *
 * Usage: cl_open (lists segments) -> cl_replay -> cl_start (opens a fresh
 * current segment) -> cl_append / cl_mark_dirty / cl_mark_clean ... ->
 * cl_close.
 */
#ifndef HLN_CL_COMMITLOG_H
#define HLN_CL_COMMITLOG_H

#include "storage/storageInt.h"

typedef struct cl_log cl_log;

/* Per-record replay callback: body/len is one record body (valid during the
 * call), seq the segment it came from, path that segment's file and off the
 * record's offset in it (for error messages). A negative return aborts
 * replay. */
typedef int (*cl_replay_fn)(void *ud, const uint8_t *body, size_t len, uint64_t seq,
                            const char *path, uint64_t off, hln_error *err);

/* Lists the segments in dir (which must exist). Nothing is written. */
int cl_open(cl_log **out, const char *dir, size_t segment_bytes, bool batch, hln_error *err);
/* Replays every listed segment in seq order (docs/formats/commitlog.md,
 * "Replay"). Damage that a crash can explain (a torn write in the part of a
 * segment no record proves was synced) is logged and skipped. Any other
 * damage is corruption: HLN_ECORRUPT through hln_corrupt naming the file and
 * offset, unless ignore_errors, in which case it is logged, the damaged
 * bytes are skipped and every valid record found after them is replayed.
 * Must be called (once) before cl_start when segments exist. */
int cl_replay(cl_log *l, bool ignore_errors, cl_replay_fn fn, void *ud, hln_error *err);
/* Creates the current segment (seq one past every existing one). The first
 * call after cl_replay first ends the newest replayed segment: appends its
 * end marker and fdatasyncs it (or deletes it when nothing in it is valid),
 * so that it may acquire a successor. */
int cl_start(cl_log *l, hln_error *err);

/* Appends one record to the current segment, rolling over first when it
 * would grow past segment_bytes; fdatasyncs before returning in batch mode. */
int cl_append(cl_log *l, const uint8_t *body, size_t len, hln_error *err);
/* fdatasyncs the current segment if anything was written since last sync. */
int cl_sync(cl_log *l, hln_error *err);
/* Syncs the current segment, appends its end marker, syncs again, closes it
 * and starts a new one. */
int cl_roll(cl_log *l, hln_error *err);

uint64_t cl_current_seq(const cl_log *l);
/* Before cl_start: the segments created from now on are numbered at least
 * seq (storage keeps them above its TRUNCATE markers'). */
void cl_seq_floor(cl_log *l, uint64_t seq);
bool cl_current_has_records(const cl_log *l);
size_t cl_segment_count(const cl_log *l);

/* Records that table id has data in segment seq (the current one when seq
 * is 0). */
int cl_mark_dirty(cl_log *l, uint64_t seq, const uint8_t id[16]);
/* Table id's data in segments with seq < before_seq is flushed: forget it
 * there, then delete every non-current segment with no dirty table left. */
int cl_mark_clean(cl_log *l, const uint8_t id[16], uint64_t before_seq, hln_error *err);
/* From now on, segments cl_delete_clean retires go to del(ud, path) (which
 * takes ownership of the hln_malloc'd path and deletes the file, e.g. on
 * another thread) instead of being unlinked here. */
void cl_set_deleter(cl_log *l, void (*del)(void *ud, char *path), void *ud);
/* Deletes every non-current segment with no dirty table. */
int cl_delete_clean(cl_log *l, hln_error *err);
/* The dirty tables of the oldest non-current segment (n = 0 if none); the
 * array is valid until the next cl_ call. */
void cl_oldest_dirty(const cl_log *l, const uint8_t (**ids)[16], size_t *n);

/* Syncs and closes; segments stay on disk. NULL is a no-op. */
int cl_close(cl_log *l, hln_error *err);

#endif
