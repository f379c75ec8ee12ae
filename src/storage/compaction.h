/*
 * compaction.h — merging a table's sstables into one (private to storage).
 *
 * What: a compaction job names some sstables of one table (its inputs) and
 * an output path; cp_run merges the inputs partition by partition and row
 * by row (st_reconcile_row) into the output, dropping the versions that
 * newer data or kept deletions shadow, and opens the result. A worker
 * thread per engine runs one job at a time in the background; the shard
 * thread chooses jobs (size-tiered, engine.c) and installs finished ones.
 *
 * Crash safety: before anything is written the job leaves a compaction log
 * (docs/formats/compaction-log.md) naming the outputs it may write and its
 * inputs, written durably (temp + fsync + rename + directory fsync). Each
 * output appears under its final name only complete and synced
 * (sst_writer); once all are, the log is replaced (atomically, durably) by
 * one marked done. So after a crash, cp_recover finds: a done log — the
 * inputs are obsolete and are deleted; a log not done — the job did not
 * finish: the outputs it names that exist are deleted and the inputs stay
 * (temp files go as any *.tmp). The log is deleted last, once the inputs
 * are gone. (Version 1 logs, of one output, are still recovered: there the
 * output's existence meant done.)
 *
 * Threads: cp_run reads its input readers (immutable; pread, no shared
 * state) while the shard thread keeps reading them too; the shard thread
 * must not close an input before the job has finished (engine.c waits for
 * the job on drop and close). A job touches no engine or table state.
 */
#ifndef HLN_STORAGE_COMPACTION_H
#define HLN_STORAGE_COMPACTION_H

#include <stdatomic.h>

#include "storage/sstable/sstable.h"

typedef struct cp_job {
    /* set by the shard thread before submitting */
    uint8_t table_id[16];
    sst_reader **in; /* inputs, owned by the table while the job runs */
    size_t nin;
    char *dir;      /* the table directory */
    char *out_path; /* the first output sstable */
    uint64_t out_gen;
    /* Outputs: generations out_gen .. out_gen + max_outs - 1 are the job's
       (all named in its log). With max_out_bytes set, an output is closed
       once it holds that many uncompressed bytes and the next partition
       starts the next one (leveled compaction's sstable_size_in_mb); the
       last reserved output takes whatever is left. */
    uint64_t max_out_bytes; /* 0: one output */
    uint32_t max_outs;
    char *log_path; /* the compaction log */
    /* Purging (the overlap rule, compaction.c): a deletion or an expired
       cell may be dropped when gc_grace has passed (its second < gc_before)
       and nothing it could shadow can exist outside the job: its timestamp
       is below the oldest timestamp of every other sstable that may hold
       the partition and of the memtables (mem_min_ts, taken when the job
       was made). others are the table's sstables outside the job, open
       until the job is installed. */
    bool purge;
    int64_t now_sec, gc_before;
    sst_reader **others;
    size_t nothers;
    int64_t mem_min_ts;
    bool drop_only;        /* inputs hold nothing live or needed: write no rows */
    sst_write_opts wopts;  /* codec of the output */
    _Atomic uint64_t *bps; /* compaction_throughput (storage.h), NULL: none */
    uint32_t bps_share;
    atomic_bool cancel;
    bool background;   /* run by the worker (installed by poll), not st_compact */
    bool major;        /* asked for by st_compact_start */
    const char *stall; /* test hook HELENUS_TEST_COMPACTION_STALL (engine.c), or NULL */
    /* progress, for system_views.sstable_tasks: uncompressed bytes written
       so far (the worker stores, the shard loads) of at most total_bytes,
       the inputs' uncompressed size; started_us: wall clock at submission */
    _Atomic uint64_t progress_bytes;
    uint64_t total_bytes;
    int64_t started_us;
    bool retire; /* resubmitted after install: delete and close the inputs */
    /* results, valid once the job is done */
    int rc; /* 0, HLN_ECANCELED when cancelled, or the error */
    hln_error err;
    sst_reader **outs; /* the opened outputs, in key order; outs[0] may be empty */
    uint32_t nouts;
    uint64_t parts_in, parts_out, bytes_in, bytes_out;
    uint64_t purged; /* deletions and expired cells dropped */
    double seconds;
} cp_job;

/* A job for table t_dir merging in[0..n) into generation gen of dir;
 * copies the input array. NULL when out of memory. */
cp_job *cp_job_new(const uint8_t table_id[16], const char *dir, sst_reader *const *in, size_t n,
                   uint64_t gen, uint32_t max_outs);
void cp_job_free(cp_job *j); /* does not close inputs or output */
/* Test hooks (HELENUS_TEST_FLUSH_STALL, _COMPACTION_STALL): waits while the
 * file path exists, at most a minute, as a disk that has fallen behind. */
void cp_test_stall(const char *path);

/* Runs the job on the calling thread: writes the log, merges, finishes and
 * opens the output. On failure or cancellation the temp output and the log
 * are removed and job->rc says why. Returns job->rc. */
int cp_run(cp_job *j);
/* cp_run for a worker; for a job marked retire, cp_retire_inputs and
 * closing the inputs instead. */
void cp_run_job(void *job);

/* After a successful job has been installed (inputs no longer used): deletes
 * the input files and then the log. Errors are logged, not returned: a
 * leftover input is deleted again at the next open. */
void cp_retire_inputs(cp_job *j);

/* Finishes whatever compaction logs in the table directory dir say (see
 * above). Run before the directory's sstables are loaded. */
int cp_recover(const char *dir, hln_error *err);

/* ---- a background worker: one thread running one job at a time ----
 * Used for compactions (run = cp_run_job) and for memtable flushes
 * (engine.c). The job is opaque to the worker. */
typedef struct cp_worker cp_worker;

/* run(job) runs on the worker thread; done(ud) is called there after each
 * job finishes (the shard uses it to wake its loop) and may be NULL. name
 * is the thread's name (at most 15 characters). nice (0-19) lowers the
 * thread's scheduling priority, so that on a busy core the shard's request
 * loop runs first (Cassandra runs its compaction threads at low priority
 * too); 0 leaves it as the shard's. */
int cp_worker_start(cp_worker **out, const char *name, int nice, void (*run)(void *job),
                    void (*done)(void *ud), void *ud, hln_error *err);
/* Hands job to the worker; at most one job at a time. */
void cp_worker_submit(cp_worker *w, void *job);
/* The finished job (taken), or NULL if none is running or it is still
 * running. Non-blocking. */
void *cp_worker_poll(cp_worker *w);
/* Waits for the submitted job and takes it; NULL if none. */
void *cp_worker_wait(cp_worker *w);
/* Stops and joins the thread; a job still submitted must have been taken. */
void cp_worker_stop(cp_worker *w);

#endif
