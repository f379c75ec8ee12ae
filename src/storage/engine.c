/*
 * engine.c — the storage engine of one shard: tables, writes, reads, flush.
 *
 * What: st_engine (storage.h) ties the commitlog, one memtable per table and
 * each table's sstables together. On disk:
 *
 *     <dir>/commitlog/CommitLog-<seq>.log      the shard's write-ahead log
 *     <dir>/tables/<table id, 32 hex>/nb-<gen>-Data.db   one file per flush
 *
 * Writes: st_apply first checks the shard's memtable space (refusing the
 * write whole, HLN_EOVERLOADED, while the memtables fill
 * memtable_space_bytes: "memtable space" below), then encodes the mutation,
 * appends it to the commitlog (synced in batch mode), marks the table dirty
 * in the current segment, merges it into the table's memtable, and starts a
 * flush if that memtable has grown past memtable_flush_bytes (or the shard's
 * memtables past half their space) and none is running. That flush runs on
 * the shard's flush thread: the memtable is frozen (still read) and a fresh
 * one takes the writes (see "background flush" below); the write path never
 * waits for it. st_flush, st_close and commitlog relief flush synchronously.
 *
 * Flush and commitlog retirement: to flush table T, roll the commitlog to a
 * fresh segment (so every segment holding T's data is now an older one),
 * write T's memtable to a new sstable (temp file, fsync, rename, dir fsync),
 * open it, drop the memtable, and tell the commitlog that T is clean in all
 * older segments; a non-current segment with no dirty table left is deleted.
 * st_flush does that for every table (so afterwards only the fresh, empty
 * segment remains). If more than ST_MAX_SEGMENTS segments pile up (one hot
 * table keeps flushing while a cold one pins old segments), the tables
 * still dirty in the oldest segment are flushed.
 *
 * Open: load every table directory (skipping tables the exists callback says
 * were dropped), replay the commitlog into memtables (skipping mutations of
 * dropped tables), start a fresh segment, then flush everything so that the
 * replayed segments can be deleted. Corruption found by replay (a damaged
 * record the crash cannot explain, or a checksummed record that does not
 * decode) fails the open with HLN_ECORRUPT, discarding nothing, unless
 * ignore_replay_errors says to skip it and go on; a record of a mutation
 * version newer than this build fails it with HLN_EUNSUPPORTED, naming the
 * version.
 *
 * Reads: a point read merges the memtable partition and every sstable's
 * partition through row sources (storageInt.h, merge.c), with the
 * partition's deletion and range tombstones gathered from every source and
 * the read's clock (now_sec) for expiry; a scan walks the (token, pk) order
 * of the memtable and every sstable index in step, merging each partition
 * the same way.
 *
 * Batches: st_apply_batch logs its mutations as one commitlog record (a
 * batch record, docs/formats/mutation.md) before applying any, and replay
 * applies a batch record as a whole, so a batch is all-or-nothing on this
 * shard across a crash.
 *
 * Invariants:
 *  1. A table's data is in its memtable or its sstables, and every record of
 *     it not yet in an sstable is in a segment where it is marked dirty.
 *  2. A segment is deleted only after every table dirty in it has been
 *     flushed (sstable renamed and directory fsynced).
 *  3. Tables are kept sorted by id (binary search).
 *  4. Expiry is a read-time rule: reads and scans judge cells and markers
 *     by the command's now_sec (merge.c); nothing on the write or flush
 *     path looks at a clock. Compaction reads it once per job, on the shard
 *     thread, to decide what it may purge (gc_grace_seconds) and which
 *     sstables are fully expired; what it drops is what every read at that
 *     time or later sees as dead anyway, and nothing older it shadowed
 *     remains (the overlap rule of compaction.c).
 *  5. The shard's memtables (live and frozen) hold at most
 *     memtable_space_bytes plus the last accepted mutation: a write is
 *     admitted only below the space, and commitlog replay at open flushes
 *     the largest memtable whenever they reach it.
 *
 * Errors: st_apply can fail after the commitlog append (out of memory in
 * the memtable, or a failed flush); the mutation is then durable and will
 * be visible after a restart at the latest. Retrying it is harmless, as
 * applying a mutation twice is idempotent. HLN_EOVERLOADED (no memtable
 * space) is decided before the append: nothing of the write was logged.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/commitlog/commitlog.h"
#include "storage/compaction.h"
#include "storage/janitor.h"
#include "storage/memtable/memtable.h"
#include "storage/sstable/sstable.h"
#include "storage/storageInt.h"

/* Background threads yield to the shard's request loop on a busy core:
 * compaction can always wait; a flush only a little (a full memtable waits
 * for it), so it is lowered less. */
#define COMPACT_NICE 10
#define FLUSH_NICE 3

#define ST_MAX_SEGMENTS 32

typedef struct st_table {
    uint8_t id[16];
    char *dir;
    mt_table *mt;
    sst_reader **ssts; /* ascending generation */
    size_t nssts, capssts;
    uint64_t next_gen;
    uint64_t dirty_seq; /* segment last marked dirty in (cache), 0 = none */
    bool dir_durable;   /* t->dir exists and its entry in tables/ is fsynced */
    bool cp_failed;     /* the last compaction failed: none until the next flush */
    /* A memtable being written out by the flush thread (or whose background
       flush failed and is retried): read like the live one, immutable,
       freed once its sstable is in ssts and the commitlog is told. */
    mt_table *frozen;
    uint64_t frozen_before_seq; /* the segment current when it froze */
    /* st_flush_start: the live memtable, or the frozen one, must be written
       before the request is through (a live one becomes a frozen one) */
    bool want_live, want_frozen;
    uint8_t major; /* st_compact_start: MAJOR_WANTED, then MAJOR_RUNNING */
    /* TRUNCATE marker: its records in segments below this one are truncated
       data, never replayed (0: none) */
    uint64_t trunc_seg;
    /* counters since open (st_table_stats) */
    uint64_t n_flushes, bytes_flushed, n_compactions, bytes_compacted, bytes_cp_written;
    uint64_t n_reads, n_sst_reads; /* partition reads, and sstables they read from */
} st_table;

struct st_engine {
    char *dir, *tables_dir, *cl_dir;
    st_options o;
    st_table_exists_fn exists;
    void *ud;
    cl_log *cl;
    st_table **tables; /* sorted by id */
    size_t ntables, captables;
    hln_buf enc;
    hln_arena replay_arena;
    size_t replayed, skipped;
    cp_worker *cw;       /* started with the first compaction */
    cp_job *job;         /* the compaction running in the background, if any */
    cp_worker *fw;       /* the flush thread, started with the first background flush */
    struct fl_job *fjob; /* the flush running in the background, if any */
    st_janitor *jn;      /* deletes retired commitlog segments */
    size_t cp_next;      /* round-robin start among tables */
    bool closing;        /* st_close: no new compaction */
    /* a failed background flush is retried in the background, not before
       this (monotonic microseconds), so a full disk is not hammered */
    int64_t flush_retry_us;
    /* test hook HELENUS_TEST_FLUSH_STALL=<path>, read at open: while that
       file exists the flush thread waits before writing (at most a
       minute), as a disk that has fallen behind would make it */
    char *flush_stall;
    char *compact_stall; /* HELENUS_TEST_COMPACTION_STALL: the same for compactions */
    /* the first failure of a flush or major compaction that an operator's
       request waits for (st_flush_poll, st_compact_poll report it) */
    int flush_req_rc, major_rc;
    hln_error flush_req_err, major_err;
};

enum { MAJOR_WANTED = 1, MAJOR_RUNNING = 2 };

static const st_bound UNBOUNDED = {NULL, 0, true};

void st_options_default(st_options *o)
{
    memset(o, 0, sizeof(*o));
    o->sync = ST_SYNC_PERIODIC;
    o->sync_period_ms = 10000;
    o->memtable_flush_bytes = (size_t)64 << 20;
    o->memtable_space_bytes = (size_t)256 << 20;
    o->segment_bytes = (size_t)32 << 20;
    o->compaction_min_threshold = 0; /* each table's own */
}

void st_table_opts_default(st_table_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->codec = ST_CODEC_LZ4;
    o->chunk_bytes = 16 * 1024;
    o->gc_grace_sec = 864000;
    o->compaction_enabled = true;
    o->strategy = ST_STCS;
    o->min_threshold = 4;
    o->max_threshold = 32;
    o->window_sec = 86400;
    o->sstable_bytes = (uint64_t)160 << 20;
    o->fanout = 10;
    o->scaling = 2;
    o->tombstone_threshold = 0.2;
    o->tombstone_interval_sec = 86400;
}

/* The table's settings now (the owner's callback sees the current schema). */
static void table_opts(const st_engine *e, const uint8_t id[16], st_table_opts *o)
{
    st_table_opts_default(o);
    if (e->o.table_opts) e->o.table_opts(e->o.table_opts_ud, id, o);
}

static sst_write_opts write_opts(const st_table_opts *o)
{
    sst_write_opts w = {
        .codec = (sst_codec)o->codec, .level = o->level, .chunk_bytes = o->chunk_bytes};
    return w;
}

/* ---- tables -------------------------------------------------------------- */

static void id_hex(const uint8_t id[16], char out[33])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[id[i] >> 4];
        out[2 * i + 1] = hx[id[i] & 15];
    }
    out[32] = '\0';
}

static bool hex_id(const char *s, uint8_t id[16])
{
    if (strlen(s) != 32) return false;
    for (int i = 0; i < 32; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return false;
        if (i % 2 == 0)
            id[i / 2] = (uint8_t)(v << 4);
        else
            id[i / 2] |= (uint8_t)v;
    }
    return true;
}

/* "nb-<gen>-Data.db" -> gen */
static bool parse_data_name(const char *name, uint64_t *gen)
{
    static const char pre[] = "nb-", suf[] = "-Data.db";
    size_t n = strlen(name), lp = sizeof(pre) - 1, ls = sizeof(suf) - 1;
    if (n <= lp + ls || strncmp(name, pre, lp) != 0 || strcmp(name + n - ls, suf) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = lp; i < n - ls; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *gen = v;
    return true;
}

static char *data_path(const st_table *t, uint64_t gen)
{
    char name[64];
    snprintf(name, sizeof(name), "nb-%" PRIu64 "-Data.db", gen);
    return hln_path_join(t->dir, name);
}

static void table_free(st_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nssts; i++)
        sst_close(t->ssts[i]);
    hln_free(t->ssts);
    mt_free(t->mt);
    mt_free(t->frozen);
    hln_free(t->dir);
    hln_free(t);
}

static int table_add_sst(st_table *t, sst_reader *r)
{
    if (t->nssts == t->capssts) {
        size_t ncap = t->capssts ? t->capssts * 2 : 4;
        sst_reader **n = hln_realloc(t->ssts, ncap * sizeof(*n));
        if (!n) return HLN_ENOMEM;
        t->ssts = n;
        t->capssts = ncap;
    }
    t->ssts[t->nssts++] = r;
    return 0;
}

static int sst_gen_cmp(const void *a, const void *b)
{
    const sst_reader *x = *(sst_reader *const *)a, *y = *(sst_reader *const *)b;
    return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* ---- TRUNCATE marker -------------------------------------------------------
 * <table dir>/Truncated.txt holds "truncated-before-generation <N>\n" and
 * (since the second form) "truncated-before-segment <S>\n": every sstable
 * of the table with a generation below N holds truncated data (and is
 * deleted when found at open), new sstables get generations >= N, and the
 * table's records in commitlog segments below S are truncated data that
 * replay skips. It is written durably by st_truncate_table before it
 * deletes any sstable, after it rolled the commitlog (so S is where the
 * later writes go). It is kept (a few bytes) as long as the table: it makes
 * the generation floor survive the deletion of every sstable, and st_open
 * starts the commitlog's numbering above every marker's S, so a segment at
 * or above S is always a later one. */
#define TRUNCATED_NAME "Truncated.txt"

static int read_truncated(const char *dir, uint64_t *gen, uint64_t *seg, hln_error *err)
{
    *gen = *seg = 0;
    char *p = hln_path_join(dir, TRUNCATED_NAME);
    if (!p) return hln_fail(err, HLN_ENOMEM, "out of memory");
    FILE *f = fopen(p, "r");
    if (!f) {
        int rc =
            errno == ENOENT ? 0 : hln_fail(err, HLN_EIO, "cannot open %s: %s", p, strerror(errno));
        hln_free(p);
        return rc;
    }
    unsigned long long v = 0, sg = 0;
    int ok = fscanf(f, "truncated-before-generation %llu", &v) == 1;
    if (ok && fscanf(f, " truncated-before-segment %llu", &sg) != 1) sg = 0; /* the first form */
    fclose(f);
    int rc = ok ? 0 : hln_corrupt(err, p, "malformed TRUNCATE marker");
    hln_free(p);
    *gen = (uint64_t)v;
    *seg = (uint64_t)sg;
    return rc;
}

/* Creates the in-memory table and loads the sstables already in its
 * directory (removing leftover temp files). */
static int table_open(st_engine *e, const uint8_t id[16], st_table **out, hln_error *err)
{
    *out = NULL;
    char hex[33];
    id_hex(id, hex);
    st_table *t = hln_calloc(1, sizeof(*t));
    if (!t) return hln_fail(err, HLN_ENOMEM, "out of memory");
    memcpy(t->id, id, 16);
    t->next_gen = 1;
    t->dir = hln_path_join(e->tables_dir, hex);
    t->mt = mt_new();
    if (!t->dir || !t->mt) {
        table_free(t);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    int rc = cp_recover(t->dir, err);
    if (rc < 0) {
        table_free(t);
        return rc;
    }
    DIR *d = opendir(t->dir);
    if (!d) {
        if (errno == ENOENT) {
            *out = t;
            return 0;
        }
        int rc = hln_fail(err, HLN_EIO, "cannot open %s: %s", t->dir, strerror(errno));
        table_free(t);
        return rc;
    }
    /* a TRUNCATE marker: sstables below its generation are truncated data
       (a crash may have left some), and generations never go below it */
    uint64_t trunc_gen = 0;
    if ((rc = read_truncated(t->dir, &trunc_gen, &t->trunc_seg, err)) < 0) {
        closedir(d);
        table_free(t);
        return rc;
    }
    if (trunc_gen > t->next_gen) t->next_gen = trunc_gen;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        uint64_t gen;
        if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0) {
            char *p = hln_path_join(t->dir, de->d_name);
            if (p) {
                HLN_INFO("storage: removing unfinished sstable %s", p);
                unlink(p);
            }
            hln_free(p);
            continue;
        }
        if (!parse_data_name(de->d_name, &gen)) continue;
        char *p = hln_path_join(t->dir, de->d_name);
        if (p && gen < trunc_gen) { /* TRUNCATE was interrupted after its marker */
            HLN_INFO("storage: removing truncated sstable %s", p);
            if (unlink(p) < 0 && errno != ENOENT)
                rc = hln_fail(err, HLN_EIO, "cannot delete %s: %s", p, strerror(errno));
            hln_free(p);
            continue;
        }
        sst_reader *r = NULL;
        if (!p)
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        else
            rc = sst_open(&r, p, gen, id, err);
        hln_free(p);
        if (rc == 0 && table_add_sst(t, r) < 0) {
            sst_close(r);
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        }
        if (rc == 0 && gen >= t->next_gen) t->next_gen = gen + 1;
    }
    closedir(d);
    if (rc < 0) {
        table_free(t);
        return rc;
    }
    t->dir_durable = true; /* it was there before this run */
    if (t->nssts > 1) qsort(t->ssts, t->nssts, sizeof(*t->ssts), sst_gen_cmp);
    *out = t;
    return 0;
}

/* Index of the table with this id, or of where it would go (*found false). */
static size_t table_pos(const st_engine *e, const uint8_t id[16], bool *found)
{
    size_t lo = 0, hi = e->ntables;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(e->tables[mid]->id, id, 16);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static st_table *table_find(const st_engine *e, const uint8_t id[16])
{
    bool found;
    size_t i = table_pos(e, id, &found);
    return found ? e->tables[i] : NULL;
}

static int table_insert(st_engine *e, st_table *t)
{
    bool found;
    size_t i = table_pos(e, t->id, &found);
    if (found) return HLN_EEXISTS;
    if (e->ntables == e->captables) {
        size_t ncap = e->captables ? e->captables * 2 : 8;
        st_table **n = hln_realloc(e->tables, ncap * sizeof(*n));
        if (!n) return HLN_ENOMEM;
        e->tables = n;
        e->captables = ncap;
    }
    memmove(&e->tables[i + 1], &e->tables[i], (e->ntables - i) * sizeof(*e->tables));
    e->tables[i] = t;
    e->ntables++;
    return 0;
}

static int table_get(st_engine *e, const uint8_t id[16], st_table **out, hln_error *err)
{
    *out = table_find(e, id);
    if (*out) return 0;
    st_table *t;
    int rc = table_open(e, id, &t, err);
    if (rc < 0) return rc;
    if (table_insert(e, t) < 0) {
        table_free(t);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    *out = t;
    return 0;
}

/* ---- flush --------------------------------------------------------------- */

/* Copies row into out without what the row's own deletion, the partition's
 * deletion or one of its range tombstones shadows; false if nothing is
 * left. */
static bool purge_row(const st_row *in, const mt_part *p, st_row *out, st_cell *cells)
{
    int64_t pdel = p->pdel_ts;
    if (p->nrts) pdel = st_ts_max(pdel, st_rt_cover(p->rts, p->nrts, in->ck, in->cklen));
    int64_t shadow = st_ts_max(pdel, in->del_ts);
    *out = *in;
    out->cells = cells;
    out->ncells = 0;
    if (out->del_ts <= pdel) out->del_ts = HLN_TS_NONE;
    if (out->marker_ts <= shadow) out->marker_ts = HLN_TS_NONE;
    for (uint32_t i = 0; i < in->ncells; i++)
        if (in->cells[i].ts > shadow) cells[out->ncells++] = in->cells[i];
    return out->marker_ts != HLN_TS_NONE || out->del_ts != HLN_TS_NONE || out->ncells > 0;
}

static int write_memtable(const mt_table *mt, const uint8_t table_id[16], const char *path,
                          const sst_write_opts *wo, uint64_t *nparts, hln_error *err)
{
    sst_writer *w;
    int rc = sst_writer_open(&w, path, table_id, wo, err);
    if (rc < 0) return rc;
    st_cell *cells = NULL;
    uint32_t capcells = 0;
    *nparts = 0;
    for (const mt_part *p = mt_first(mt); p && rc == 0; p = mt_next(p)) {
        bool begun = false;
        if (p->pdel_ts != HLN_TS_NONE || p->nrts) {
            rc = sst_writer_begin_partition(w, p->key, p->klen, p->pdel_ts, err);
            if (rc == 0 && p->nrts) rc = sst_writer_range_tombs(w, p->rts, p->nrts, err);
            begun = true;
        }
        mt_rowit it;
        mt_rowit_init(&it, p, &UNBOUNDED, &UNBOUNDED, false);
        const st_row *row;
        while (rc == 0 && it.base.next(&it.base, &row, err) == 1) {
            if (row->ncells > capcells) {
                st_cell *nc = hln_realloc(cells, (size_t)row->ncells * sizeof(st_cell));
                if (!nc) {
                    rc = hln_fail(err, HLN_ENOMEM, "out of memory flushing");
                    break;
                }
                cells = nc;
                capcells = row->ncells;
            }
            st_row pr;
            if (!purge_row(row, p, &pr, cells)) continue;
            if (!begun) {
                rc = sst_writer_begin_partition(w, p->key, p->klen, p->pdel_ts, err);
                begun = true;
            }
            if (rc == 0) rc = sst_writer_row(w, &pr, err);
        }
        if (rc == 0 && begun) {
            rc = sst_writer_end_partition(w, err);
            (*nparts)++;
        }
    }
    hln_free(cells);
    if (rc < 0 || *nparts == 0) {
        sst_writer_abort(w);
        return rc;
    }
    return sst_writer_finish(w, err);
}

/* Creates t's directory (and makes its entry durable) before its first
 * sstable. */
static int table_dir_durable(st_engine *e, st_table *t, hln_error *err)
{
    if (t->dir_durable) return 0;
    int rc;
    if ((rc = hln_mkdirs(t->dir, err)) < 0 || (rc = hln_fsync_dir(e->tables_dir, err)) < 0)
        return rc;
    t->dir_durable = true;
    return 0;
}

/* ---- background flush ----------------------------------------------------
 * When a memtable passes the threshold on the write path, it is frozen (the
 * commitlog rolled first, so every record of it is in an older segment), a
 * fresh memtable takes the writes, and the flush thread writes the frozen
 * one to an sstable while reads keep merging it. The shard thread installs
 * the result between requests: the sstable joins the table, the frozen
 * memtable is freed, and the table is marked clean in the segments before
 * the freeze. One background flush at a time per shard: the next one starts
 * when it is installed (schedule_flush), never by waiting on the shard
 * thread; what bounds memory meanwhile is the memtable space. A failed
 * background flush keeps the frozen memtable (readable, still covered by
 * the commitlog); it is retried in the background a second later, or
 * synchronously by the next st_flush of the table, whose caller then sees
 * the error. */
typedef struct fl_job {
    uint8_t table_id[16];
    const mt_table *mt;
    char *path;
    uint64_t gen, before_seq;
    int rc;
    hln_error err;
    uint64_t nparts;
    sst_reader *out;
    sst_write_opts wopts;
    const char *stall; /* e->flush_stall */
} fl_job;

static void fl_job_free(fl_job *j)
{
    if (!j) return;
    hln_free(j->path);
    hln_free(j);
}

/* A job for t's frozen memtable (reserving a generation). */
static fl_job *fl_job_new(const st_engine *e, st_table *t)
{
    fl_job *j = hln_calloc(1, sizeof(*j));
    if (!j) return NULL;
    st_table_opts o;
    table_opts(e, t->id, &o);
    j->wopts = write_opts(&o);
    memcpy(j->table_id, t->id, 16);
    j->mt = t->frozen;
    j->gen = t->next_gen;
    j->before_seq = t->frozen_before_seq;
    j->stall = e->flush_stall;
    if (!(j->path = data_path(t, j->gen))) {
        hln_free(j);
        return NULL;
    }
    t->next_gen++;
    return j;
}

static void fl_run(void *arg)
{
    fl_job *j = arg;
    cp_test_stall(j->stall); /* the test hook: a flush that cannot get to the disk */
    j->rc = write_memtable(j->mt, j->table_id, j->path, &j->wopts, &j->nparts, &j->err);
    if (j->rc == 0 && j->nparts > 0) {
        j->rc = sst_open(&j->out, j->path, j->gen, j->table_id, &j->err);
        /* the memtable (and the commitlog) still hold everything: a file we
           cannot use must not be found at the next open */
        if (j->rc < 0) unlink(j->path);
    }
}

/* Swaps a finished flush in (or keeps the frozen memtable if it failed) and
 * frees the job; the error, if any, is j's. */
static int install_flush(st_engine *e, fl_job *j, hln_error *err)
{
    e->flush_retry_us = 0;
    st_table *t = table_find(e, j->table_id);
    int rc = j->rc;
    if (!t) { /* cannot happen: drop waits for the table's flush */
        sst_close(j->out);
        fl_job_free(j);
        return 0;
    }
    if (rc == 0 && j->out && table_add_sst(t, j->out) < 0) {
        sst_close(j->out);
        unlink(j->path);
        rc = hln_fail(&j->err, HLN_ENOMEM, "out of memory flushing");
    }
    if (rc == 0) {
        HLN_DEBUG("storage: flushed %zu bytes of memtable to %s", mt_bytes(t->frozen),
                  j->nparts ? j->path : "(nothing live)");
        t->n_flushes++;
        if (j->out) t->bytes_flushed += j->out->size;
        mt_free(t->frozen);
        t->frozen = NULL;
        if (j->nparts) t->cp_failed = false;
        rc = cl_mark_clean(e->cl, t->id, j->before_seq, &j->err);
        if (rc == 0) t->want_frozen = false;
    }
    if (rc < 0 && t->want_frozen) { /* the request waiting for it fails */
        t->want_frozen = false;
        if (e->flush_req_rc == 0) {
            e->flush_req_rc = rc;
            e->flush_req_err = j->err;
        }
    }
    if (rc < 0) {
        HLN_ERR("storage: flush of %s failed: %s (the data stays in memory and in the "
                "commitlog; the flush is retried)",
                t->dir, j->err.msg);
        e->flush_retry_us = hln_mono_nanos() / 1000 + 1000000;
        if (err) *err = j->err;
    }
    fl_job_free(j);
    return rc;
}

/* Waits for the background flush, if any, and installs it. */
static void settle_flush(st_engine *e)
{
    if (!e->fjob) return;
    fl_job *j = cp_worker_wait(e->fw);
    e->fjob = NULL;
    if (j) install_flush(e, j, NULL);
}

static void maybe_compact(st_engine *e);
static void major_failed(st_engine *e, st_table *t, int rc, const hln_error *err);
static int schedule_flush(st_engine *e, hln_error *err);
static int flush_table(st_engine *e, st_table *t, bool retire, hln_error *err);
static void poll_bg(st_engine *e);

static void poll_flush(st_engine *e)
{
    if (!e->fjob) return;
    fl_job *j = cp_worker_poll(e->fw);
    if (!j) return;
    e->fjob = NULL;
    install_flush(e, j, NULL);
    hln_error err = {0};
    if (schedule_flush(e, &err) < 0) HLN_ERR("storage: cannot start a flush: %s", err.msg);
    maybe_compact(e);
}

/* Writes t's frozen memtable on this thread (a failed background flush). */
static int flush_frozen_now(st_engine *e, st_table *t, hln_error *err)
{
    if (e->fjob && memcmp(e->fjob->table_id, t->id, 16) == 0) settle_flush(e);
    if (!t->frozen) return 0;
    fl_job *j = fl_job_new(e, t);
    if (!j) return hln_fail(err, HLN_ENOMEM, "out of memory flushing");
    fl_run(j);
    return install_flush(e, j, err);
}

/* The bytes held by every memtable of the shard, live and frozen (a loop
 * over the tables: a handful, and mt_bytes is a field). */
static size_t mem_used(const st_engine *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->ntables; i++) {
        const st_table *t = e->tables[i];
        n += mt_bytes(t->mt) + (t->frozen ? mt_bytes(t->frozen) : 0);
    }
    return n;
}

/* Freezes t's memtable and hands it to the flush thread (none may be
 * running, and t has no frozen memtable). */
static int start_flush(st_engine *e, st_table *t, hln_error *err)
{
    int rc;
    if (!e->fw && (rc = cp_worker_start(&e->fw, "hln-flush", FLUSH_NICE, fl_run,
                                        e->o.background_wake, e->o.background_ud, err)) < 0)
        return rc;
    if (!t->frozen) {
        if (cl_current_has_records(e->cl) && (rc = cl_roll(e->cl, err)) < 0) return rc;
        if ((rc = table_dir_durable(e, t, err)) < 0) return rc;
        mt_table *fresh = mt_new();
        if (!fresh) return hln_fail(err, HLN_ENOMEM, "out of memory flushing");
        t->frozen = t->mt;
        t->frozen_before_seq = cl_current_seq(e->cl);
        t->mt = fresh;
        if (t->want_live) {
            t->want_live = false;
            t->want_frozen = true;
        }
    }
    fl_job *j = fl_job_new(e, t);
    if (!j) return hln_fail(err, HLN_ENOMEM, "out of memory flushing"); /* retried later */
    e->fjob = j;
    cp_worker_submit(e->fw, j);
    return 0;
}

/* ---- memtable space ------------------------------------------------------
 * The write path never waits for the disk. One background flush runs per
 * shard at a time; when it finishes (poll_flush, on the shard thread) or a
 * write passes a threshold, schedule_flush starts the next one:
 *  1. a frozen memtable whose flush failed, again, once its retry time has
 *     come (it is still readable and still covered by the commitlog);
 *  2. else the largest live memtable over memtable_flush_bytes;
 *  3. else, when the shard's memtables hold more than half of
 *     memtable_space_bytes (Cassandra's memtable_cleanup_threshold with one
 *     flush writer), the largest live memtable, so that many tables below
 *     their own threshold cannot fill the space either.
 * A table whose memtable is over its threshold while another flush runs
 * keeps taking writes; what bounds memory is the space: while the
 * memtables hold memtable_space_bytes or more, st_write_ready is false and
 * st_apply refuses (HLN_EOVERLOADED) before logging anything, so a refused
 * write is never partly applied and an accepted one passes the bound by at
 * most its own size. The caller (exec/coord.c) parks refused writes and
 * retries them when a flush has finished, failing them with a write
 * timeout after write_request_timeout. */
static int schedule_flush(st_engine *e, hln_error *err)
{
    if (e->fjob || e->closing) return 0;
    size_t used = mem_used(e);
    bool cleanup = used > e->o.memtable_space_bytes / 2;
    st_table *best = NULL, *failed = NULL, *wanted = NULL;
    for (size_t i = 0; i < e->ntables; i++) {
        st_table *t = e->tables[i];
        if (t->frozen) {
            if (!failed || mt_bytes(t->frozen) > mt_bytes(failed->frozen)) failed = t;
            continue;
        }
        size_t b = mt_bytes(t->mt);
        if (t->want_live && mt_partition_count(t->mt) == 0) t->want_live = false;
        if (t->want_live && !wanted) wanted = t; /* an operator's flush goes first */
        if (mt_partition_count(t->mt) == 0 || (b < e->o.memtable_flush_bytes && !cleanup)) continue;
        if (!best || b > mt_bytes(best->mt)) best = t;
    }
    if (failed && hln_mono_nanos() / 1000 >= e->flush_retry_us)
        best = failed;
    else if (wanted)
        best = wanted;
    return best ? start_flush(e, best, err) : 0;
}

bool st_write_ready(st_engine *e)
{
    poll_bg(e);
    if (mem_used(e) < e->o.memtable_space_bytes) return true;
    hln_error err = {0};
    if (schedule_flush(e, &err) < 0) HLN_ERR("storage: cannot start a flush: %s", err.msg);
    return false;
}

int st_make_room(st_engine *e, hln_error *err)
{
    while (!st_write_ready(e)) {
        if (e->fjob) {
            settle_flush(e);
            continue;
        }
        st_table *best = NULL; /* no flush could start: one here and now */
        for (size_t i = 0; i < e->ntables; i++) {
            st_table *t = e->tables[i];
            size_t b = mt_bytes(t->mt) + (t->frozen ? mt_bytes(t->frozen) : 0);
            if (b &&
                (!best || b > mt_bytes(best->mt) + (best->frozen ? mt_bytes(best->frozen) : 0)))
                best = t;
        }
        if (!best) return 0;
        int rc = flush_table(e, best, true, err);
        if (rc < 0) return rc;
    }
    return 0;
}

size_t st_memtable_bytes(st_engine *e)
{
    poll_bg(e);
    return mem_used(e);
}

/* Writes t's memtable to a new sstable and swaps in an empty memtable. With
 * retire, first rolls the commitlog and afterwards marks t clean in every
 * older segment (deleting those left with no dirty table). */
static int flush_table(st_engine *e, st_table *t, bool retire, hln_error *err)
{
    int rc;
    /* a frozen memtable first: marking t clean below covers its segments */
    if ((e->fjob && memcmp(e->fjob->table_id, t->id, 16) == 0) || t->frozen) {
        if ((rc = flush_frozen_now(e, t, err)) < 0) return rc;
    }
    if (mt_partition_count(t->mt) > 0) {
        if (retire && cl_current_has_records(e->cl) && (rc = cl_roll(e->cl, err)) < 0) return rc;
        if ((rc = table_dir_durable(e, t, err)) < 0) return rc;
        mt_table *fresh = mt_new();
        if (!fresh) return hln_fail(err, HLN_ENOMEM, "out of memory flushing");
        uint64_t gen = t->next_gen;
        char *path = data_path(t, gen);
        uint64_t nparts = 0;
        st_table_opts o;
        table_opts(e, t->id, &o);
        sst_write_opts wo = write_opts(&o);
        if (!path)
            rc = hln_fail(err, HLN_ENOMEM, "out of memory flushing");
        else
            rc = write_memtable(t->mt, t->id, path, &wo, &nparts, err);
        sst_reader *r = NULL;
        if (rc == 0 && nparts > 0) {
            t->next_gen++;
            rc = sst_open(&r, path, gen, t->id, err);
            if (rc == 0 && table_add_sst(t, r) < 0) {
                sst_close(r);
                rc = hln_fail(err, HLN_ENOMEM, "out of memory flushing");
            }
            /* the memtable (and the commitlog) still hold everything: a file
               we cannot use must not be found at the next open */
            if (rc < 0) unlink(path);
        }
        if (rc < 0) {
            hln_free(path);
            mt_free(fresh);
            return rc;
        }
        if (nparts > 0) {
            t->cp_failed = false;
            t->n_flushes++;
            t->bytes_flushed += r->size;
        }
        HLN_DEBUG("storage: flushed %zu bytes of memtable to %s", mt_bytes(t->mt),
                  nparts ? path : "(nothing live)");
        hln_free(path);
        mt_free(t->mt);
        t->mt = fresh;
    }
    t->want_live = false;
    if (!retire) return 0;
    t->dirty_seq = 0;
    return cl_mark_clean(e->cl, t->id, cl_current_seq(e->cl), err);
}

/* Flushes the tables still dirty in the oldest segment while too many
 * segments are kept. A table with a frozen memtable is skipped, not waited
 * for: that memtable holds everything of it in the older segments, and its
 * background flush (or its retry) marks it clean there when installed, so
 * a disk that has fallen behind does not block the write path here. */
static int relieve_commitlog(st_engine *e, hln_error *err)
{
    if (cl_segment_count(e->cl) <= ST_MAX_SEGMENTS) return 0;
    const uint8_t(*ids)[16];
    size_t n;
    cl_oldest_dirty(e->cl, &ids, &n);
    if (n == 0) return 0;
    uint8_t(*copy)[16] = hln_malloc(n * 16);
    if (!copy) return hln_fail(err, HLN_ENOMEM, "out of memory");
    memcpy(copy, ids, n * 16);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        st_table *t = table_find(e, copy[i]);
        if (t && t->frozen) continue;
        if (t)
            rc = flush_table(e, t, true, err);
        else
            rc = cl_mark_clean(e->cl, copy[i], UINT64_MAX, err);
    }
    hln_free(copy);
    return rc;
}

int st_flush(st_engine *e, hln_error *err)
{
    for (size_t i = 0; i < e->ntables; i++) {
        int rc = flush_table(e, e->tables[i], true, err);
        if (rc < 0) return rc;
    }
    /* records of dropped tables may still sit in the current segment */
    if (cl_current_has_records(e->cl)) {
        int rc = cl_roll(e->cl, err);
        if (rc < 0) return rc;
    }
    int rc = cl_delete_clean(e->cl, err);
    if (rc == 0) maybe_compact(e); /* the new files may complete a bucket or window */
    return rc;
}

int st_flush_start(st_engine *e, const uint8_t *table_id, hln_error *err)
{
    poll_bg(e);
    e->flush_req_rc = 0;
    for (size_t i = 0; i < e->ntables; i++) {
        st_table *t = e->tables[i];
        if (table_id && memcmp(t->id, table_id, 16) != 0) continue;
        if (mt_partition_count(t->mt) > 0) t->want_live = true;
        if (t->frozen) t->want_frozen = true;
    }
    return schedule_flush(e, err);
}

int st_flush_poll(st_engine *e, hln_error *err)
{
    poll_bg(e);
    if (e->flush_req_rc < 0) {
        int rc = e->flush_req_rc;
        if (err) *err = e->flush_req_err;
        e->flush_req_rc = 0;
        for (size_t i = 0; i < e->ntables; i++)
            e->tables[i]->want_live = e->tables[i]->want_frozen = false;
        return rc;
    }
    for (size_t i = 0; i < e->ntables; i++) {
        const st_table *t = e->tables[i];
        if (t->want_live || t->want_frozen) {
            int rc = e->fjob ? 0 : schedule_flush(e, err); /* a failed one waits for its retry */
            return rc < 0 ? rc : 0;
        }
    }
    /* as st_flush: records of dropped tables may sit in the current segment */
    int rc = cl_current_has_records(e->cl) ? cl_roll(e->cl, err) : 0;
    if (rc == 0) rc = cl_delete_clean(e->cl, err);
    if (rc == 0) maybe_compact(e);
    return rc < 0 ? rc : 1;
}

int st_sync(st_engine *e, hln_error *err)
{
    return cl_sync(e->cl, err);
}

/* ---- compaction ------------------------------------------------------------ */

/* Choosing what to compact, per table and by its strategy (st_table_opts).
 * Before any strategy: sstables that are fully expired (nothing in them can
 * be live, gc_grace has passed for all of it, and nothing older that they
 * could shadow is anywhere else: Cassandra's getFullyExpiredSSTables) are
 * dropped whole, without reading them. Then:
 *
 * Size-tiered: sstables sorted
 * by size fall into buckets of similar size (each within 0.5x..1.5x of the
 * bucket's mean; all files under 50 MiB share one bucket); the first
 * bucket, smallest files first, with at least min_threshold files gives up
 * to max_threshold of them to merge.
 *
 * Time-window: sstables fall into windows of window_sec by their newest
 * timestamp; the newest window is compacted size-tiered, an older window
 * with two or more files is merged whole (newest windows first), so each
 * past window ends as one sstable that expires and is dropped whole.
 *
 * Every job may purge (compaction.c, "purging"): the clock is read here, on
 * the shard thread, when the job is made. */
#define CP_SMALL_BYTES ((uint64_t)50 << 20)

static int size_cmp(const void *a, const void *b)
{
    const sst_reader *x = *(sst_reader *const *)a, *y = *(sst_reader *const *)b;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Size-tiered choice among sel[0..n) (reordered); the chosen files end up
 * at sel[0..k). */
static size_t pick_bucket(sst_reader **sel, size_t n, uint32_t min_threshold,
                          uint32_t max_threshold)
{
    if (n < min_threshold) return 0;
    qsort(sel, n, sizeof(*sel), size_cmp);
    size_t i = 0;
    while (i < n) {
        uint64_t sum = sel[i]->size;
        size_t j = i + 1;
        for (; j < n; j++) {
            uint64_t avg = sum / (j - i), sz = sel[j]->size;
            bool similar = sz >= avg / 2 && sz <= avg + avg / 2;
            bool small = sz < CP_SMALL_BYTES && avg < CP_SMALL_BYTES;
            if (!similar && !small) break;
            sum += sz;
        }
        if (j - i >= min_threshold) {
            size_t k = j - i < max_threshold ? j - i : max_threshold;
            memmove(sel, sel + i, k * sizeof(*sel));
            return k;
        }
        i = j;
    }
    return 0;
}

/* The TWCS window of r: its newest timestamp's window (files of formats
 * without statistics count as the newest). */
static int64_t twcs_window(const sst_reader *r, int64_t window_sec)
{
    if (r->stats.max_ts == INT64_MAX) return INT64_MAX;
    return st_floor_div(st_floor_div(r->stats.max_ts, 1000000), window_sec);
}

typedef struct win_sst {
    int64_t w;
    sst_reader *r;
} win_sst;

static int window_desc_cmp(const void *a, const void *b)
{
    const win_sst *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return size_cmp(&x->r, &y->r);
}

static size_t pick_twcs(sst_reader **sel, size_t n, const st_table_opts *o, uint32_t min_threshold,
                        uint32_t max_threshold)
{
    int64_t wsec = o->window_sec > 0 ? o->window_sec : 86400;
    win_sst *v = hln_malloc(n * sizeof(*v));
    if (!v) return 0;
    for (size_t i = 0; i < n; i++)
        v[i] = (win_sst){twcs_window(sel[i], wsec), sel[i]};
    qsort(v, n, sizeof(*v), window_desc_cmp); /* newest window first, small files first */
    for (size_t i = 0; i < n; i++)
        sel[i] = v[i].r;
    size_t i = 0, found = 0;
    bool newest = true;
    while (i < n && !found) {
        size_t j = i + 1;
        while (j < n && v[j].w == v[i].w)
            j++;
        size_t k = 0;
        if (newest)
            k = pick_bucket(sel + i, j - i, min_threshold, max_threshold);
        else if (j - i >= 2)
            k = j - i < max_threshold ? j - i : max_threshold;
        if (k) {
            memmove(sel, sel + i, k * sizeof(*sel));
            found = k;
        }
        newest = false;
        i = j;
    }
    hln_free(v);
    return found;
}

/* Leveled choice, as LCS: level 0 holds flushes (overlapping); every
 * level n >= 1 is a run of non-overlapping sstables of about
 * sstable_size_in_mb each (outputs split there, make_job), whose total
 * target is sstable_bytes * fanout^n. The most urgent of (L0: files / 4;
 * Ln: bytes / target) above 1 moves down: all of L0 (at most 32 files)
 * with the L1 files they overlap into L1; or from Ln the one file whose
 * overlap with L(n+1) is the smallest for its size (fewest bytes
 * rewritten per byte moved, where Cassandra walks the key space round
 * robin) with the L(n+1) files it overlaps, into L(n+1). Overlapping files
 * within one level n >= 1 (left by an older Helenus, which kept one file
 * per level, or by a strategy change) are first merged in place. A read
 * then touches the L0 files and at most one file per level. */
#define LCS_L0_TRIGGER 4
#define LCS_L0_MAX 32
#define LCS_MAX_LEVEL 8

static int lvl_of(const sst_reader *r)
{
    return r->lcs_level > LCS_MAX_LEVEL ? LCS_MAX_LEVEL : r->lcs_level;
}

static const sst_entry *first_key(const sst_reader *r)
{
    return &r->entries[0];
}

static const sst_entry *last_key(const sst_reader *r)
{
    return &r->entries[r->nentries - 1];
}

static int key_cmp(const sst_entry *a, const sst_entry *b)
{
    return st_bytes_cmp(a->key, a->klen, b->key, b->klen);
}

/* Does r overlap [lo, hi]? */
static bool overlaps(const sst_reader *r, const sst_entry *lo, const sst_entry *hi)
{
    return r->nentries && key_cmp(first_key(r), hi) <= 0 && key_cmp(last_key(r), lo) >= 0;
}

static int by_first_key(const void *a, const void *b)
{
    const sst_reader *x = *(sst_reader *const *)a, *y = *(sst_reader *const *)b;
    return key_cmp(first_key(x), first_key(y));
}

static size_t pick_leveled(sst_reader **sel, size_t n, uint64_t sstable_bytes, uint32_t fanout,
                           uint8_t *out_level)
{
    uint64_t bytes[LCS_MAX_LEVEL + 1] = {0};
    size_t count[LCS_MAX_LEVEL + 1] = {0};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) /* empty files hold no keys: any job takes them */
        if (sel[i]->nentries) sel[k++] = sel[i];
    n = k;
    for (size_t i = 0; i < n; i++) {
        bytes[lvl_of(sel[i])] += sel[i]->size;
        count[lvl_of(sel[i])]++;
    }
    sst_reader **v = hln_malloc((n ? n : 1) * sizeof(*v));
    if (!v) return 0;
    /* overlapping files within a level: the first such group, in place */
    for (int l = 1; l <= LCS_MAX_LEVEL; l++) {
        if (count[l] < 2) continue;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (lvl_of(sel[i]) == l) v[m++] = sel[i];
        qsort(v, m, sizeof(*v), by_first_key);
        for (size_t a = 0; a + 1 < m; a++) {
            const sst_entry *hi = last_key(v[a]);
            size_t b = a + 1;
            while (b < m && key_cmp(first_key(v[b]), hi) <= 0) {
                if (key_cmp(last_key(v[b]), hi) > 0) hi = last_key(v[b]);
                b++;
            }
            if (b - a < 2) continue;
            memmove(sel, v + a, (b - a) * sizeof(*sel));
            hln_free(v);
            *out_level = (uint8_t)l;
            return b - a;
        }
    }
    double best = 1.0;
    int from = -1;
    if (count[0] >= LCS_L0_TRIGGER) {
        best = (double)count[0] / LCS_L0_TRIGGER;
        from = 0;
    }
    double target = (double)sstable_bytes;
    for (int l = 1; l < LCS_MAX_LEVEL; l++) {
        target *= fanout;
        double score = (double)bytes[l] / target;
        if (score > best) {
            best = score;
            from = l;
        }
    }
    if (from < 0) {
        hln_free(v);
        return 0;
    }
    size_t m = 0;
    const sst_entry *lo = NULL, *hi = NULL;
    if (from == 0) { /* L0, oldest first, then the L1 files under them */
        for (size_t i = 0; i < n; i++)
            if (lvl_of(sel[i]) == 0) v[m++] = sel[i];
        qsort(v, m, sizeof(*v), sst_gen_cmp);
        if (m > LCS_L0_MAX) m = LCS_L0_MAX;
        for (size_t i = 0; i < m; i++) {
            if (!lo || key_cmp(first_key(v[i]), lo) < 0) lo = first_key(v[i]);
            if (!hi || key_cmp(last_key(v[i]), hi) > 0) hi = last_key(v[i]);
        }
    } else { /* the Ln file rewriting the fewest L(n+1) bytes per byte */
        double least = 0;
        sst_reader *pick = NULL;
        for (size_t i = 0; i < n; i++) {
            if (lvl_of(sel[i]) != from) continue;
            uint64_t under = 0;
            for (size_t x = 0; x < n; x++)
                if (lvl_of(sel[x]) == from + 1 &&
                    overlaps(sel[x], first_key(sel[i]), last_key(sel[i])))
                    under += sel[x]->size;
            double ratio = (double)under / (double)(sel[i]->size ? sel[i]->size : 1);
            if (!pick || ratio < least) {
                pick = sel[i];
                least = ratio;
            }
        }
        v[m++] = pick;
        lo = first_key(pick);
        hi = last_key(pick);
    }
    for (size_t i = 0; i < n; i++)
        if (lvl_of(sel[i]) == from + 1 && overlaps(sel[i], lo, hi)) v[m++] = sel[i];
    memcpy(sel, v, m * sizeof(*sel));
    hln_free(v);
    *out_level = (uint8_t)(from + 1);
    return m;
}

static int64_t memtables_min_ts(const st_table *t)
{
    int64_t m = mt_min_ts(t->mt);
    if (t->frozen && mt_min_ts(t->frozen) < m) m = mt_min_ts(t->frozen);
    return m;
}

static bool sst_dying(const sst_reader *r, int64_t gc_before)
{
    return r->stats.all_dying && r->stats.max_del_sec < gc_before;
}

/* The fully expired sstables of t into sel (Cassandra's rule, above). */
static size_t pick_expired(const st_table *t, int64_t gc_before, sst_reader **sel)
{
    int64_t min_ts = memtables_min_ts(t);
    for (size_t i = 0; i < t->nssts; i++) {
        const sst_reader *r = t->ssts[i];
        if (!sst_dying(r, gc_before) && r->stats.min_ts < min_ts) min_ts = r->stats.min_ts;
    }
    size_t k = 0;
    for (size_t i = 0; i < t->nssts; i++) {
        sst_reader *r = t->ssts[i];
        if (!r->compacting && sst_dying(r, gc_before) && r->stats.max_ts < min_ts) sel[k++] = r;
    }
    return k;
}

/* A job over t's sel[0..k), with the purge settings of now. */
static cp_job *make_job(const st_engine *e, st_table *t, sst_reader **sel, size_t k,
                        const st_table_opts *o, bool drop_only)
{
    /* leveled: outputs of sstable_size_in_mb (uncompressed) each; enough
       generations for what the inputs hold (the outputs never hold more),
       the last one taking any rest */
    bool leveled = o->strategy == ST_LCS || (o->strategy == ST_UCS && o->scaling < 0);
    uint64_t raw = 0;
    for (size_t i = 0; i < k; i++)
        raw += sel[i]->raw_bytes;
    uint64_t max_out = leveled && !drop_only && o->sstable_bytes ? o->sstable_bytes : 0;
    uint64_t outs = max_out ? raw / max_out + 2 : 1;
    if (outs > 4096) outs = 4096;
    cp_job *j = cp_job_new(t->id, t->dir, sel, k, t->next_gen, (uint32_t)outs);
    if (!j) return NULL;
    j->max_out_bytes = max_out;
    j->others = t->nssts > k ? hln_malloc((t->nssts - k) * sizeof(*j->others)) : NULL;
    if (t->nssts > k && !j->others) {
        cp_job_free(j);
        return NULL;
    }
    for (size_t i = 0; i < t->nssts; i++) {
        bool in = false;
        for (size_t x = 0; x < k && !in; x++)
            in = sel[x] == t->ssts[i];
        if (!in) j->others[j->nothers++] = t->ssts[i];
    }
    j->purge = true;
    j->now_sec = (int64_t)time(NULL);
    j->gc_before = j->now_sec - (o->gc_grace_sec > 0 ? o->gc_grace_sec : 0);
    j->mem_min_ts = memtables_min_ts(t);
    j->drop_only = drop_only;
    j->wopts = write_opts(o);
    j->bps = e->o.compaction_bps;
    j->bps_share = e->o.compaction_bps_share ? e->o.compaction_bps_share : 1;
    j->stall = e->compact_stall;
    t->next_gen += j->max_outs;
    j->started_us = hln_now_micros();
    for (size_t i = 0; i < k; i++) {
        j->in[i]->compacting = true;
        j->total_bytes += j->in[i]->raw_bytes;
    }
    return j;
}

/* Swaps a finished job's output in for its inputs (or, if it failed, makes
 * the inputs available again) and frees the job. */
static void install_job(st_engine *e, cp_job *j)
{
    if (j->retire) { /* back from deleting its inputs on the worker */
        cp_job_free(j);
        return;
    }
    st_table *t = table_find(e, j->table_id);
    if (j->rc == 0 && t && t->nssts + j->nouts > t->capssts) {
        size_t ncap = t->nssts + j->nouts;
        sst_reader **n = hln_realloc(t->ssts, ncap * sizeof(*n));
        if (n) {
            t->ssts = n;
            t->capssts = ncap;
        } else { /* undo it, as a failed job: the log first (it says done) */
            j->rc = hln_fail(&j->err, HLN_ENOMEM, "out of memory installing the outputs");
            hln_error e2 = {0};
            unlink(j->log_path);
            hln_fsync_dir(t->dir, &e2);
        }
    }
    if (j->rc == 0 && t) {
        if (j->major) t->major = 0; /* installed here; its inputs are deleted after */
        size_t k = 0;
        for (size_t i = 0; i < t->nssts; i++) {
            sst_reader *r = t->ssts[i];
            if (!r->compacting) t->ssts[k++] = r;
        }
        /* an empty output goes with the inputs */
        uint32_t used = 0;
        for (uint32_t i = 0; i < j->nouts; i++)
            if (j->outs[i]->nentries) {
                t->ssts[k++] = j->outs[i];
                used++;
            }
        t->nssts = k;
        if (k > 1) qsort(t->ssts, k, sizeof(*t->ssts), sst_gen_cmp);
        t->n_compactions++;
        t->bytes_compacted += j->bytes_in;
        t->bytes_cp_written += j->bytes_out;
        HLN_INFO("storage: compacted %zu sstables of %s (%" PRIu64 " bytes, %" PRIu64
                 " partitions) into %" PRIu32 " from generation %" PRIu64 " (%" PRIu64
                 " bytes, %" PRIu64 " partitions, %" PRIu64 " purged)%s in %.2f s",
                 j->nin, t->dir, j->bytes_in, j->parts_in, used, j->out_gen, j->bytes_out,
                 j->parts_out, j->purged, j->drop_only ? " (fully expired)" : "", j->seconds);
        /* Deleting the inputs goes back to the worker: the last close of a
           big unlinked file frees its blocks and took ~70 ms per file on the
           shard thread. The job stays e->job until then (no new compaction
           starts; close and drop wait for it). */
        if (j->background) {
            j->retire = true;
            e->job = j;
            cp_worker_submit(e->cw, j);
            return;
        }
        cp_retire_inputs(j);
        for (size_t i = 0; i < j->nin; i++)
            sst_close(j->in[i]);
    } else {
        if (j->rc != HLN_EAGAIN)
            HLN_ERR("storage: compaction of %zu sstables into %s failed: %s", j->nin, j->out_path,
                    j->err.msg);
        if (t) t->cp_failed = true;
        if (t && j->major) major_failed(e, t, j->rc, &j->err);
        for (size_t i = 0; i < j->nin; i++)
            j->in[i]->compacting = false;
        for (uint32_t i = 0; i < j->nouts; i++) { /* a vanished table (drop waits), or OOM */
            char name[64];
            snprintf(name, sizeof name, "nb-%" PRIu64 "-Data.db", j->outs[i]->gen);
            char *p = hln_path_join(j->dir, name);
            sst_close(j->outs[i]);
            if (p) unlink(p);
            hln_free(p);
        }
    }
    cp_job_free(j);
}

static size_t pick_strategy(const st_engine *e, st_table *t, const st_table_opts *o,
                            sst_reader **sel, uint8_t *level);

/* Tombstone compaction (Cassandra's worthDroppingTombstones): when the
 * strategy has nothing to do, the sstable with the largest share of
 * droppable deletions (deletion second before now - gc_grace, from its
 * histogram) above tombstone_threshold, written at least
 * tombstone_compaction_interval ago, is compacted alone, so a file that
 * never meets others (TTL'd data in a big size-tiered bucket, an old
 * level) still gives its space back. Unless unchecked_tombstone_compaction
 * is set, a file is skipped when its deletions could not go anyway:
 * another sstable overlapping its keys, or a memtable, holds data as old
 * as its newest deletion (the purge rule would keep them). The output
 * keeps the file's level. */
static size_t pick_tombstones(const st_table *t, const st_table_opts *o, sst_reader **sel,
                              uint8_t *level)
{
    int64_t now = (int64_t)time(NULL);
    int64_t gc_before = now - (o->gc_grace_sec > 0 ? o->gc_grace_sec : 0);
    int64_t mem_min = memtables_min_ts(t);
    sst_reader *best = NULL;
    double best_ratio = o->tombstone_threshold;
    for (size_t i = 0; i < t->nssts; i++) {
        sst_reader *r = t->ssts[i];
        if (r->compacting || !r->stats.has_hist || !r->stats.nitems || !r->nentries) continue;
        if (now - r->mtime_sec < o->tombstone_interval_sec) continue;
        double ratio = (double)sst_droppable(&r->stats, gc_before) / (double)r->stats.nitems;
        if (ratio <= best_ratio) continue;
        if (!o->unchecked_tombstone) {
            bool blocked = mem_min <= r->stats.max_ts;
            for (size_t x = 0; x < t->nssts && !blocked; x++) {
                const sst_reader *y = t->ssts[x];
                blocked = y != r && y->nentries && overlaps(y, first_key(r), last_key(r)) &&
                          y->stats.min_ts <= r->stats.max_ts;
            }
            if (blocked) continue;
        }
        best = r;
        best_ratio = ratio;
    }
    if (!best) return 0;
    sel[0] = best;
    *level = best->lcs_level;
    return 1;
}

/* What t should compact now, into sel (and the output's level); 0 if
 * nothing. */
static size_t pick_for_table(const st_engine *e, st_table *t, const st_table_opts *o,
                             sst_reader **sel, bool *drop_only, uint8_t *level)
{
    *drop_only = false;
    *level = 0;
    int64_t now = (int64_t)time(NULL);
    size_t k = pick_expired(t, now - (o->gc_grace_sec > 0 ? o->gc_grace_sec : 0), sel);
    if (k) {
        *drop_only = true;
        return k;
    }
    k = pick_strategy(e, t, o, sel, level);
    if (k) return k;
    return pick_tombstones(t, o, sel, level);
}

/* What t's strategy would compact now (0: nothing). */
static size_t pick_strategy(const st_engine *e, st_table *t, const st_table_opts *o,
                            sst_reader **sel, uint8_t *level)
{
    uint32_t min = e->o.compaction_min_threshold ? e->o.compaction_min_threshold : o->min_threshold;
    if (min < 2) min = 2;
    uint32_t max = o->max_threshold < min ? min : o->max_threshold;
    size_t n = 0;
    for (size_t i = 0; i < t->nssts; i++)
        if (!t->ssts[i]->compacting) sel[n++] = t->ssts[i];
    if (n < 2) return 0;
    if (o->strategy == ST_TWCS) return pick_twcs(sel, n, o, min, max);
    if (o->strategy == ST_LCS) return pick_leveled(sel, n, o->sstable_bytes, o->fanout, level);
    /* Unified: its scaling parameter W picks the shape, as in UCS: W < 0
       leveled with fanout 2 - W, W >= 0 tiered with threshold 2 + W (T4
       tiers by 4, L10 levels by 10); without UCS's sharding and density
       levels (README) */
    if (o->strategy == ST_UCS) {
        if (o->scaling < 0)
            return pick_leveled(sel, n, o->sstable_bytes, (uint32_t)(2 - o->scaling), level);
        uint32_t f = (uint32_t)(2 + o->scaling);
        return pick_bucket(sel, n, e->o.compaction_min_threshold ? min : f, max < f ? f : max);
    }
    return pick_bucket(sel, n, min, max);
}

/* Puts every sstable of t into one job (st_compact's), on this thread
 * (background false) or the compaction thread; NULL when out of memory. */
static cp_job *major_job(st_engine *e, st_table *t, bool background)
{
    st_table_opts o;
    table_opts(e, t->id, &o);
    cp_job *j = make_job(e, t, t->ssts, t->nssts, &o, false);
    if (!j) return NULL;
    if (o.strategy == ST_LCS || (o.strategy == ST_UCS && o.scaling < 0)) {
        uint8_t top = 1; /* everything in one file: the deepest level there is */
        for (size_t i = 0; i < j->nin; i++)
            if (j->in[i]->lcs_level > top) top = j->in[i]->lcs_level;
        j->wopts.lcs_level = top;
    }
    j->background = background;
    return j;
}

static void major_failed(st_engine *e, st_table *t, int rc, const hln_error *err)
{
    t->major = 0;
    if (e->major_rc == 0) {
        e->major_rc = rc;
        e->major_err = *err;
    }
}

/* Starts a major compaction an operator asked for (st_compact_start), if
 * one waits; true when one did start (or failed to). */
static bool start_major(st_engine *e)
{
    for (size_t i = 0; i < e->ntables; i++) {
        st_table *t = e->tables[i];
        if (t->major != MAJOR_WANTED) continue;
        hln_error err = {0};
        if (t->nssts == 0) { /* nothing to merge (flushed nothing, or truncated) */
            t->major = 0;
            continue;
        }
        int rc = e->cw ? 0
                       : cp_worker_start(&e->cw, "hln-compact", COMPACT_NICE, cp_run_job,
                                         e->o.background_wake, e->o.background_ud, &err);
        cp_job *j = rc < 0 ? NULL : major_job(e, t, true);
        if (!j) {
            if (rc == 0) rc = hln_fail(&err, HLN_ENOMEM, "out of memory");
            major_failed(e, t, rc, &err);
            return true;
        }
        j->major = true;
        t->major = MAJOR_RUNNING;
        e->job = j;
        cp_worker_submit(e->cw, j);
        return true;
    }
    return false;
}

static void maybe_compact(st_engine *e)
{
    if (e->closing || e->job) return;
    if (start_major(e)) return;
    if (e->o.compaction_disabled || e->ntables == 0) return;
    for (size_t step = 0; step < e->ntables; step++) {
        st_table *t = e->tables[(e->cp_next + step) % e->ntables];
        if (t->cp_failed || t->nssts == 0) continue;
        st_table_opts o;
        table_opts(e, t->id, &o);
        if (!o.compaction_enabled) continue;
        sst_reader **sel = hln_malloc(t->nssts * sizeof(*sel));
        if (!sel) return;
        bool drop_only;
        uint8_t level;
        size_t k = pick_for_table(e, t, &o, sel, &drop_only, &level);
        if (k == 0) {
            hln_free(sel);
            continue;
        }
        hln_error err = {0};
        if (!e->cw && cp_worker_start(&e->cw, "hln-compact", COMPACT_NICE, cp_run_job,
                                      e->o.background_wake, e->o.background_ud, &err) < 0) {
            HLN_ERR("storage: %s; compaction is off", err.msg);
            e->o.compaction_disabled = true;
            hln_free(sel);
            return;
        }
        cp_job *j = make_job(e, t, sel, k, &o, drop_only);
        hln_free(sel);
        if (!j) return;
        j->wopts.lcs_level = level;
        j->background = true;
        e->job = j;
        e->cp_next = (e->cp_next + step + 1) % e->ntables;
        cp_worker_submit(e->cw, j);
        return;
    }
}

/* Installs the background compaction if it has finished. */
static void poll_job(st_engine *e)
{
    if (!e->job) return;
    cp_job *j = cp_worker_poll(e->cw);
    if (!j) return;
    e->job = NULL;
    install_job(e, j);
    maybe_compact(e);
}

/* Cancels the background job (if cancel) or lets it finish, waits, and
 * installs what it did. */
static void finish_job(st_engine *e, bool cancel)
{
    while (e->job) { /* twice for a job that then deletes its inputs */
        if (cancel) atomic_store(&e->job->cancel, true);
        cp_job *j = cp_worker_wait(e->cw);
        e->job = NULL;
        if (j) install_job(e, j);
    }
}

/* Installs whatever the flush and compaction threads have finished. */
static void poll_bg(st_engine *e)
{
    poll_flush(e);
    poll_job(e);
}

void st_maintain(st_engine *e)
{
    if (!e) return;
    poll_bg(e);
    maybe_compact(e);
}

int st_compact(st_engine *e, const uint8_t table_id[16], hln_error *err)
{
    finish_job(e, false);
    st_table *t = table_find(e, table_id);
    if (!t || t->nssts == 0) return 0;
    cp_job *j = major_job(e, t, false);
    if (!j) return hln_fail(err, HLN_ENOMEM, "out of memory");
    int rc = cp_run(j);
    if (rc < 0) hln_fail(err, rc, "%s", j->err.msg);
    install_job(e, j);
    return rc;
}

void st_compact_start(st_engine *e, const uint8_t table_id[16])
{
    poll_bg(e);
    st_table *t = table_find(e, table_id);
    if (!t || t->nssts == 0) return;
    e->major_rc = 0;
    if (!t->major) t->major = MAJOR_WANTED;
    maybe_compact(e); /* now, unless a job runs */
}

int st_compact_poll(st_engine *e, const uint8_t table_id[16], hln_error *err)
{
    poll_bg(e);
    if (e->major_rc < 0) {
        int rc = e->major_rc;
        if (err) *err = e->major_err;
        e->major_rc = 0;
        return rc;
    }
    st_table *t = table_find(e, table_id);
    if (!t || !t->major) return 1;
    if (!e->job) maybe_compact(e);
    return 0;
}

size_t st_sstable_count(st_engine *e, const uint8_t table_id[16])
{
    st_table *t = table_find(e, table_id);
    return t ? t->nssts : 0;
}

int st_snapshot(st_engine *e, const uint8_t table_id[16], const char *dir, hln_error *err)
{
    poll_bg(e);
    st_table *t = table_find(e, table_id);
    int rc = hln_mkdirs(dir, err);
    if (rc < 0) return rc;
    for (size_t i = 0; t && i < t->nssts; i++) {
        const char *base = strrchr(t->ssts[i]->path, '/');
        char *dst = hln_path_join(dir, base ? base + 1 : t->ssts[i]->path);
        if (!dst) return hln_fail(err, HLN_ENOMEM, "out of memory");
        if (link(t->ssts[i]->path, dst) < 0 && errno != EEXIST)
            rc = hln_fail(err, HLN_EIO, "cannot link %s to %s: %s", t->ssts[i]->path, dst,
                          strerror(errno));
        hln_free(dst);
        if (rc < 0) return rc;
    }
    return hln_fsync_dir(dir, err);
}

void st_thread_cache_stats(st_cache_stats *out)
{
    sst_cache_stats c;
    sst_thread_cache_stats(&c);
    *out = (st_cache_stats){c.capacity_bytes, c.size_bytes, c.requests, c.hits, c.entries};
}

int st_table_stats_get(st_engine *e, const uint8_t table_id[16], st_table_stats *out)
{
    memset(out, 0, sizeof(*out));
    poll_bg(e);
    st_table *t = table_find(e, table_id);
    if (!t) return HLN_ENOTFOUND;
    out->sstables = t->nssts;
    for (size_t i = 0; i < t->nssts; i++) {
        const sst_reader *r = t->ssts[i];
        out->disk_bytes += r->size;
        out->raw_bytes += r->raw_bytes;
        out->data_bytes += r->data_bytes;
        out->partitions += r->nentries;
        out->rows += r->nrows;
        uint64_t mp = sst_max_partition_bytes(t->ssts[i]);
        if (mp > out->max_partition_bytes) out->max_partition_bytes = mp;
    }
    out->memtable_bytes = mt_bytes(t->mt) + (t->frozen ? mt_bytes(t->frozen) : 0);
    out->memtable_partitions =
        mt_partition_count(t->mt) + (t->frozen ? mt_partition_count(t->frozen) : 0);
    out->compactions = t->n_compactions;
    out->bytes_compacted = t->bytes_compacted;
    out->bytes_written = t->bytes_cp_written + t->bytes_flushed;
    out->flushes = t->n_flushes;
    out->bytes_flushed = t->bytes_flushed;
    out->compacting = e->job && memcmp(e->job->table_id, t->id, 16) == 0;
    if (out->compacting) {
        out->compact_progress = atomic_load_explicit(&e->job->progress_bytes, memory_order_relaxed);
        out->compact_total = e->job->total_bytes;
        out->compact_inputs = e->job->nin;
        out->compact_gen = e->job->out_gen;
        out->compact_started_us = e->job->started_us;
    }
    out->reads = t->n_reads;
    out->sstable_reads = t->n_sst_reads;
    return 0;
}

/* ---- open / close -------------------------------------------------------- */

static int replay_one(void *ud, const uint8_t *body, size_t len, uint64_t seq, const char *path,
                      uint64_t off, hln_error *err)
{
    st_engine *e = ud;
    hln_arena_reset(&e->replay_arena);
    hln_rd rd;
    hln_rd_init(&rd, body, len);
    st_mutation one, *ms = &one;
    uint32_t nm = 1;
    int rc = len > 0 && st_record_is_batch(body[0])
                 ? st_batch_decode(&rd, &e->replay_arena, &ms, &nm)
                 : st_mutation_decode(&rd, &e->replay_arena, &one);
    if (rc == HLN_ENOMEM) return hln_fail(err, rc, "out of memory replaying the commitlog");
    if (rc == HLN_EUNSUPPORTED && !e->o.ignore_replay_errors)
        return hln_fail(err, rc,
                        "%s: the record at offset %" PRIu64 " has mutation format version %u, "
                        "newer than this build supports (%d); replay stopped, nothing was "
                        "discarded",
                        path, off, (unsigned)body[0], ST_BATCH_VERSION);
    if (rc < 0 || hln_rd_left(&rd) != 0) {
        /* the checksum matched, so this is no torn write: as Cassandra, stop
           unless told to ignore replay errors */
        if (!e->o.ignore_replay_errors)
            return hln_corrupt(err, path,
                               "undecodable mutation at offset %" PRIu64 " (its checksum is "
                               "valid); replay stopped, nothing was discarded (to start anyway, "
                               "skipping it, set commitlog_ignore_replay_errors: true)",
                               off);
        hln_error tmp;
        hln_corrupt(&tmp, path,
                    "undecodable mutation at offset %" PRIu64 " (its checksum is valid); "
                    "ignoring the replay error (commitlog_ignore_replay_errors), skipped",
                    off);
        return 0;
    }
    for (uint32_t i = 0; i < nm; i++) {
        const st_mutation *m = &ms[i];
        if (e->exists && !e->exists(e->ud, m->table_id)) {
            e->skipped++;
            continue;
        }
        st_table *t;
        if ((rc = table_get(e, m->table_id, &t, err)) < 0) return rc;
        if (seq < t->trunc_seg) { /* written before a TRUNCATE of the table */
            e->skipped++;
            continue;
        }
        if (mt_apply(t->mt, m) < 0)
            return hln_fail(err, HLN_ENOMEM, "out of memory replaying the commitlog");
        if (cl_mark_dirty(e->cl, seq, m->table_id) < 0)
            return hln_fail(err, HLN_ENOMEM, "out of memory replaying the commitlog");
        e->replayed++;
        /* keep memory bounded: write big memtables out now; the segments
           stay (they are retired by the flush that ends st_open) */
        if (mt_bytes(t->mt) >= e->o.memtable_flush_bytes &&
            (rc = flush_table(e, t, false, err)) < 0)
            return rc;
        /* and within the shard's memtable space: the largest one goes */
        if (mem_used(e) >= e->o.memtable_space_bytes) {
            st_table *big = t;
            for (size_t k = 0; k < e->ntables; k++)
                if (mt_bytes(e->tables[k]->mt) > mt_bytes(big->mt)) big = e->tables[k];
            if ((rc = flush_table(e, big, false, err)) < 0) return rc;
        }
    }
    return 0;
}

static int load_tables(st_engine *e, hln_error *err)
{
    DIR *d = opendir(e->tables_dir);
    if (!d) return hln_fail(err, HLN_EIO, "cannot open %s: %s", e->tables_dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        uint8_t id[16];
        if (!hex_id(de->d_name, id)) continue;
        if (e->exists && !e->exists(e->ud, id)) {
            HLN_INFO("storage: not loading %s/%s (table no longer exists)", e->tables_dir,
                     de->d_name);
            continue;
        }
        st_table *t;
        rc = table_get(e, id, &t, err);
    }
    closedir(d);
    return rc;
}

static void engine_free(st_engine *e)
{
    settle_flush(e);
    cp_worker_stop(e->fw);
    e->fw = NULL;
    finish_job(e, true);
    cp_worker_stop(e->cw);
    e->cw = NULL;
    jn_stop(e->jn); /* after cl_close: the log queues nothing more */
    e->jn = NULL;
    for (size_t i = 0; i < e->ntables; i++)
        table_free(e->tables[i]);
    hln_free(e->tables);
    hln_buf_free(&e->enc);
    hln_arena_free(&e->replay_arena);
    hln_free(e->dir);
    hln_free(e->tables_dir);
    hln_free(e->cl_dir);
    hln_free(e->flush_stall);
    hln_free(e->compact_stall);
    hln_free(e);
}

int st_open(st_engine **out, const char *dir, const st_options *opts, st_table_exists_fn exists,
            void *ud, hln_error *err)
{
    *out = NULL;
    if (!dir || !*dir) return hln_fail(err, HLN_EINVAL, "no storage directory given");
    st_engine *e = hln_calloc(1, sizeof(*e));
    if (!e) return hln_fail(err, HLN_ENOMEM, "out of memory");
    /* this (the shard's) thread reads its sstables: its chunk cache */
    sst_thread_cache_bytes(opts && opts->chunk_cache_bytes ? opts->chunk_cache_bytes
                                                           : (size_t)32 << 20);
    st_options_default(&e->o);
    if (opts) {
        e->o.sync = opts->sync;
        if (opts->sync_period_ms) e->o.sync_period_ms = opts->sync_period_ms;
        if (opts->memtable_flush_bytes) e->o.memtable_flush_bytes = opts->memtable_flush_bytes;
        if (opts->memtable_space_bytes) e->o.memtable_space_bytes = opts->memtable_space_bytes;
        if (opts->segment_bytes) e->o.segment_bytes = opts->segment_bytes;
        e->o.ignore_replay_errors = opts->ignore_replay_errors;
        e->o.compaction_disabled = opts->compaction_disabled;
        if (opts->compaction_min_threshold)
            e->o.compaction_min_threshold = opts->compaction_min_threshold;
        e->o.background_wake = opts->background_wake;
        e->o.background_ud = opts->background_ud;
        e->o.applied = opts->applied;
        e->o.applied_ud = opts->applied_ud;
        e->o.table_opts = opts->table_opts;
        e->o.compaction_bps = opts->compaction_bps;
        e->o.compaction_bps_share = opts->compaction_bps_share;
        e->o.table_opts_ud = opts->table_opts_ud;
    }
    e->exists = exists;
    e->ud = ud;
    const char *stall = getenv("HELENUS_TEST_FLUSH_STALL");
    if (stall && *stall) e->flush_stall = hln_strdup(stall);
    stall = getenv("HELENUS_TEST_COMPACTION_STALL");
    if (stall && *stall) e->compact_stall = hln_strdup(stall);
    hln_buf_init(&e->enc);
    hln_arena_init(&e->replay_arena, 64 * 1024);
    e->dir = hln_strdup(dir);
    e->tables_dir = hln_path_join(dir, "tables");
    e->cl_dir = hln_path_join(dir, "commitlog");
    int rc = 0;
    if (!e->dir || !e->tables_dir || !e->cl_dir) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    if (rc == 0) rc = hln_mkdirs(e->tables_dir, err);
    if (rc == 0) rc = hln_mkdirs(e->cl_dir, err);
    if (rc == 0) rc = hln_fsync_dir(e->dir, err);
    if (rc == 0) rc = load_tables(e, err);
    if (rc == 0)
        rc = cl_open(&e->cl, e->cl_dir, e->o.segment_bytes, e->o.sync == ST_SYNC_BATCH, err);
    if (rc == 0) {
        hln_error jerr = {0};
        if (jn_start(&e->jn, &jerr) == 0)
            cl_set_deleter(e->cl, jn_unlink, e->jn);
        else /* segments are then deleted on this thread */
            HLN_WARN("storage: %s", jerr.msg);
    }
    if (rc == 0) rc = cl_replay(e->cl, e->o.ignore_replay_errors, replay_one, e, err);
    if (rc == 0) { /* segment numbers stay above every TRUNCATE marker's */
        uint64_t floor = 0;
        for (size_t i = 0; i < e->ntables; i++)
            if (e->tables[i]->trunc_seg > floor) floor = e->tables[i]->trunc_seg;
        cl_seq_floor(e->cl, floor);
        rc = cl_start(e->cl, err);
    }
    if (rc == 0) rc = st_flush(e, err);
    hln_arena_reset(&e->replay_arena);
    if (rc < 0) {
        cl_close(e->cl, NULL);
        engine_free(e);
        return rc;
    }
    if (e->replayed || e->skipped)
        HLN_INFO("storage %s: replayed %zu mutations, skipped %zu of dropped tables", dir,
                 e->replayed, e->skipped);
    maybe_compact(e);
    *out = e;
    return 0;
}

int st_close(st_engine *e, hln_error *err)
{
    if (!e) return 0;
    e->closing = true;
    settle_flush(e);
    cp_worker_stop(e->fw);
    e->fw = NULL;
    finish_job(e, true);
    cp_worker_stop(e->cw);
    e->cw = NULL;
    int rc = st_flush(e, err);
    int rc2 = cl_close(e->cl, rc < 0 ? NULL : err);
    engine_free(e);
    return rc < 0 ? rc : rc2;
}

/* ---- writes -------------------------------------------------------------- */

/* Logs the record in e->enc (one mutation or a batch of n) and applies
 * ms[0..n) to their memtables. */
static int apply_logged(st_engine *e, const st_mutation *ms, uint32_t n, hln_error *err)
{
    if (e->enc.err) return hln_fail(err, HLN_ENOMEM, "out of memory encoding a mutation");
    size_t max = e->o.segment_bytes / 2;
    if (e->enc.len > max)
        return hln_fail(err, HLN_EINVAL, "Rejected an oversized mutation (%zu/%zu)", e->enc.len,
                        max);
    /* memtable space: refused before anything is logged (schedule_flush) */
    if (mem_used(e) >= e->o.memtable_space_bytes && !st_write_ready(e))
        return hln_fail(err, HLN_EOVERLOADED,
                        "Memtable space of this shard is full (%zu of %zu bytes) while flushes "
                        "are pending; write refused",
                        mem_used(e), e->o.memtable_space_bytes);
    /* every table first, so that a failure leaves nothing logged */
    st_table *one = NULL, **ts = &one;
    if (n > 1 && !(ts = hln_malloc((size_t)n * sizeof(*ts))))
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = table_get(e, ms[i].table_id, &ts[i], err);
    if (rc == 0) rc = cl_append(e->cl, e->enc.data, e->enc.len, err);
    uint64_t seq = cl_current_seq(e->cl);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        st_table *t = ts[i];
        if (t->dirty_seq != seq) {
            if (cl_mark_dirty(e->cl, 0, t->id) < 0) {
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                break;
            }
            t->dirty_seq = seq;
        }
        if (mt_apply(t->mt, &ms[i]) < 0)
            rc = hln_fail(err, HLN_ENOMEM, "out of memory applying a mutation");
    }
    if (rc == 0 && e->o.applied)
        for (uint32_t i = 0; i < n; i++)
            e->o.applied(e->o.applied_ud, &ms[i]);
    /* flushing may replace a table's memtable: only after every apply */
    if (ts != &one) hln_free(ts);
    if (rc < 0) return rc;
    poll_bg(e);
    if ((rc = schedule_flush(e, err)) < 0) return rc;
    return relieve_commitlog(e, err);
}

int st_apply(st_engine *e, const st_mutation *m, hln_error *err)
{
    if (!m || (m->pklen && !m->pk) || (m->nrts && !m->rts))
        return hln_fail(err, HLN_EINVAL, "invalid mutation");
    hln_buf_reset(&e->enc);
    st_mutation_encode(m, &e->enc);
    return apply_logged(e, m, 1, err);
}

int st_apply_batch(st_engine *e, const st_mutation *ms, uint32_t n, hln_error *err)
{
    if (n == 0) return 0;
    if (!ms) return hln_fail(err, HLN_EINVAL, "invalid batch");
    for (uint32_t i = 0; i < n; i++)
        if ((ms[i].pklen && !ms[i].pk) || (ms[i].nrts && !ms[i].rts))
            return hln_fail(err, HLN_EINVAL, "invalid mutation");
    if (n == 1) return st_apply(e, ms, err);
    hln_buf_reset(&e->enc);
    st_batch_encode(ms, n, &e->enc);
    return apply_logged(e, ms, n, err);
}

int st_drop_table(st_engine *e, const uint8_t table_id[16], hln_error *err)
{
    /* the jobs read the table's memory and files: stop them first */
    if (e->fjob && memcmp(e->fjob->table_id, table_id, 16) == 0) settle_flush(e);
    if (e->job && memcmp(e->job->table_id, table_id, 16) == 0) finish_job(e, true);
    bool found;
    size_t i = table_pos(e, table_id, &found);
    char hex[33];
    id_hex(table_id, hex);
    char *dir = hln_path_join(e->tables_dir, hex);
    if (!dir) return hln_fail(err, HLN_ENOMEM, "out of memory");
    if (found) {
        st_table *t = e->tables[i];
        memmove(&e->tables[i], &e->tables[i + 1], (e->ntables - i - 1) * sizeof(*e->tables));
        e->ntables--;
        table_free(t);
    }
    int rc = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char *p = hln_path_join(dir, de->d_name);
            if (!p) {
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                break;
            }
            if (unlink(p) < 0 && errno != ENOENT && rc == 0)
                rc = hln_fail(err, HLN_EIO, "cannot delete %s: %s", p, strerror(errno));
            hln_free(p);
        }
        closedir(d);
        if (rc == 0 && rmdir(dir) < 0 && errno != ENOENT)
            rc = hln_fail(err, HLN_EIO, "cannot remove %s: %s", dir, strerror(errno));
        if (rc == 0) rc = hln_fsync_dir(e->tables_dir, err);
    } else if (errno != ENOENT) {
        rc = hln_fail(err, HLN_EIO, "cannot open %s: %s", dir, strerror(errno));
    }
    hln_free(dir);
    if (rc < 0) return rc;
    /* its records are dead: segments holding only them can go */
    return cl_mark_clean(e->cl, table_id, UINT64_MAX, err);
}

int st_truncate_table(st_engine *e, const uint8_t table_id[16], hln_error *err)
{
    /* the jobs read the table's memory and files: its own stop first */
    if (e->fjob && memcmp(e->fjob->table_id, table_id, 16) == 0) settle_flush(e);
    if (e->job && memcmp(e->job->table_id, table_id, 16) == 0) finish_job(e, true);
    st_table *t;
    int rc = table_get(e, table_id, &t, err);
    if (rc < 0) return rc;
    /* 1. the table's records end with the current segment: later writes go
       to the next one, S */
    if (cl_current_has_records(e->cl) && (rc = cl_roll(e->cl, err)) < 0) return rc;
    uint64_t seg = cl_current_seq(e->cl);
    /* 2. the marker: sstables below next_gen and records below S are
       truncated data */
    if ((rc = table_dir_durable(e, t, err)) < 0) return rc;
    char text[128];
    int n =
        snprintf(text, sizeof text,
                 "truncated-before-generation %" PRIu64 "\ntruncated-before-segment %" PRIu64 "\n",
                 t->next_gen, seg);
    char *mp = hln_path_join(t->dir, TRUNCATED_NAME);
    if (!mp) return hln_fail(err, HLN_ENOMEM, "out of memory");
    rc = hln_write_file_durably(mp, text, (size_t)n, 0644, err);
    hln_free(mp);
    if (rc < 0) return rc;
    t->trunc_seg = seg;
    /* 3. delete them (a crash in between: table_open finishes the job) and
       the memtables; the segments that only the table kept can go */
    for (size_t i = 0; i < t->nssts; i++) {
        char *p = data_path(t, t->ssts[i]->gen);
        sst_close(t->ssts[i]);
        if (p && unlink(p) < 0 && errno != ENOENT && rc == 0)
            rc = hln_fail(err, HLN_EIO, "cannot delete %s: %s", p, strerror(errno));
        hln_free(p);
    }
    t->nssts = 0;
    mt_table *fresh = mt_new();
    if (!fresh) return hln_fail(err, HLN_ENOMEM, "out of memory");
    mt_free(t->mt);
    t->mt = fresh;
    mt_free(t->frozen); /* a failed flush's, being retried */
    t->frozen = NULL;
    t->want_live = t->want_frozen = false;
    t->dirty_seq = 0;
    if (rc == 0) rc = hln_fsync_dir(t->dir, err);
    if (rc == 0) rc = cl_mark_clean(e->cl, t->id, seg, err);
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

/* Range tombstones of one partition gathered from its sources. */
typedef struct rtvec {
    st_range_tomb *v;
    uint32_t n, cap;
} rtvec;

static int rtvec_add(rtvec *rv, hln_arena *a, const st_range_tomb *rts, uint32_t n)
{
    if (n == 0) return 0;
    if (rv->n + n > rv->cap) {
        uint32_t ncap = rv->cap ? rv->cap : 4;
        while (ncap < rv->n + n)
            ncap *= 2;
        st_range_tomb *nv = hln_arena_alloc(a, (size_t)ncap * sizeof(*nv));
        if (!nv) return HLN_ENOMEM;
        if (rv->n) memcpy(nv, rv->v, (size_t)rv->n * sizeof(*nv));
        rv->v = nv;
        rv->cap = ncap;
    }
    memcpy(rv->v + rv->n, rts, (size_t)n * sizeof(*rts));
    rv->n += n;
    return 0;
}

/* Adds the range tombstones of sstable entry se. The memtable's are added
 * by reference: memtable memory outlives the read. */
static int rtvec_add_sst(rtvec *rv, hln_arena *a, const sst_reader *r, const sst_entry *se,
                         hln_error *err)
{
    if (se->nrts == 0) return 0;
    st_range_tomb *rts;
    int rc = sst_entry_rts(r, se, a, &rts, err);
    if (rc == 0 && rtvec_add(rv, a, rts, se->nrts) < 0)
        rc = hln_fail(err, HLN_ENOMEM, "out of memory reading");
    return rc;
}

int st_read(st_engine *e, const st_read_cmd *cmd, hln_arena *a, st_partition **out, hln_error *err)
{
    *out = NULL;
    if (!cmd || (cmd->pklen && !cmd->pk)) return hln_fail(err, HLN_EINVAL, "invalid read command");
    poll_bg(e);
    st_table *t = table_find(e, cmd->table_id);
    if (!t) return 0;
    uint32_t klen = ST_KEY_TOKEN_BYTES + cmd->pklen;
    uint8_t *key = hln_arena_alloc(a, klen);
    st_rowsrc **srcs = hln_arena_alloc(a, (t->nssts + 2) * sizeof(*srcs));
    sst_rowit *sits = t->nssts ? hln_arena_alloc(a, t->nssts * sizeof(*sits)) : NULL;
    if (!key || !srcs || (t->nssts && !sits))
        return hln_fail(err, HLN_ENOMEM, "out of memory reading");
    st_key_encode(cmd->token, cmd->pk, cmd->pklen, key);
    size_t n = 0;
    int64_t pdel = HLN_TS_NONE;
    rtvec rv = {0};
    mt_rowit mit[2];
    const mt_table *mts[2] = {t->mt, t->frozen};
    for (int m = 0; m < 2; m++) {
        const mt_part *p = mts[m] ? mt_get(mts[m], key, klen) : NULL;
        if (!p) continue;
        pdel = st_ts_max(pdel, p->pdel_ts);
        if (rtvec_add(&rv, a, p->rts, p->nrts) < 0)
            return hln_fail(err, HLN_ENOMEM, "out of memory reading");
        mt_rowit_init(&mit[m], p, &cmd->start, &cmd->end, cmd->reversed);
        srcs[n++] = &mit[m].base;
    }
    t->n_reads++;
    for (size_t i = 0; i < t->nssts; i++) {
        const sst_entry *se = sst_get(t->ssts[i], key, klen);
        if (!se) continue;
        t->n_sst_reads++;
        pdel = st_ts_max(pdel, se->pdel_ts);
        int rc = rtvec_add_sst(&rv, a, t->ssts[i], se, err);
        if (rc == 0)
            rc = sst_rowit_init(&sits[i], t->ssts[i], se, &cmd->start, &cmd->end, cmd->reversed, a,
                                err);
        if (rc < 0) return rc;
        srcs[n++] = &sits[i].base;
    }
    if (n == 0) return 0;
    st_row *rows;
    uint32_t nrows;
    int rc = st_merge_rows(srcs, n, pdel, rv.v, rv.n, cmd->reversed, cmd->limit, cmd->now_sec, a,
                           &rows, &nrows, err);
    if (rc < 0 || nrows == 0) return rc;
    st_partition *part = hln_arena_alloc(a, sizeof(*part));
    if (!part) return hln_fail(err, HLN_ENOMEM, "out of memory reading");
    part->pk = key + ST_KEY_TOKEN_BYTES;
    part->pklen = cmd->pklen;
    part->token = cmd->token;
    part->rows = rows;
    part->nrows = nrows;
    *out = part;
    return 0;
}

/* Lower end of a scan: keys after (token, after_pk), or every key. */
typedef struct scan_lo {
    bool all;
    int64_t token;
    const uint8_t *after;
    uint32_t after_len;
    bool has_after;
} scan_lo;

static bool scan_lo_pred(const uint8_t *key, uint32_t klen, const void *ctx)
{
    const scan_lo *lo = ctx;
    if (lo->all) return true;
    int64_t tk = st_key_token(key);
    if (tk != lo->token) return tk > lo->token;
    if (!lo->has_after) return false;
    return st_bytes_cmp(key + ST_KEY_TOKEN_BYTES, klen - ST_KEY_TOKEN_BYTES, lo->after,
                        lo->after_len) > 0;
}

typedef struct scan_out {
    st_partition *head, *tail;
    uint32_t rows;
} scan_out;

static int scan_range(st_table *t, const scan_lo *lo, int64_t end_token, uint32_t limit,
                      uint32_t pp_limit, int64_t now_sec, hln_arena *a, scan_out *so,
                      hln_error *err)
{
    size_t ns = t->nssts;
    size_t *pos = hln_arena_alloc(a, (ns + 1) * sizeof(*pos));
    st_rowsrc **srcs = hln_arena_alloc(a, (ns + 2) * sizeof(*srcs));
    sst_rowit *sits = ns ? hln_arena_alloc(a, ns * sizeof(*sits)) : NULL;
    if (!pos || !srcs || (ns && !sits)) return hln_fail(err, HLN_ENOMEM, "out of memory scanning");
    /* the live memtable and the one being flushed, if any */
    const mt_part *mps[2] = {mt_seek(t->mt, scan_lo_pred, lo),
                             t->frozen ? mt_seek(t->frozen, scan_lo_pred, lo) : NULL};
    for (size_t i = 0; i < ns; i++)
        pos[i] = sst_seek(t->ssts[i], scan_lo_pred, lo);
    while (!limit || so->rows < limit) {
        /* the smallest key not past the end among all cursors */
        const uint8_t *key = NULL;
        uint32_t klen = 0;
        for (int m = 0; m < 2; m++) {
            const mt_part *mp = mps[m];
            if (!mp) continue;
            if (st_key_token(mp->key) > end_token) {
                mps[m] = NULL;
                continue;
            }
            if (!key || st_bytes_cmp(mp->key, mp->klen, key, klen) < 0) {
                key = mp->key;
                klen = mp->klen;
            }
        }
        for (size_t i = 0; i < ns; i++) {
            const sst_reader *r = t->ssts[i];
            if (pos[i] >= r->nentries) continue;
            const sst_entry *se = &r->entries[pos[i]];
            if (st_key_token(se->key) > end_token) {
                pos[i] = r->nentries;
                continue;
            }
            if (!key || st_bytes_cmp(se->key, se->klen, key, klen) < 0) {
                key = se->key;
                klen = se->klen;
            }
        }
        if (!key) break;
        size_t n = 0;
        int64_t pdel = HLN_TS_NONE;
        rtvec rv = {0};
        mt_rowit mit[2];
        bool mt_hit[2] = {false, false};
        for (int m = 0; m < 2; m++) {
            const mt_part *mp = mps[m];
            if (!mp || st_bytes_cmp(mp->key, mp->klen, key, klen) != 0) continue;
            mt_hit[m] = true;
            pdel = st_ts_max(pdel, mp->pdel_ts);
            if (rtvec_add(&rv, a, mp->rts, mp->nrts) < 0)
                return hln_fail(err, HLN_ENOMEM, "out of memory scanning");
            mt_rowit_init(&mit[m], mp, &UNBOUNDED, &UNBOUNDED, false);
            srcs[n++] = &mit[m].base;
        }
        for (size_t i = 0; i < ns; i++) {
            const sst_reader *r = t->ssts[i];
            if (pos[i] >= r->nentries) continue;
            const sst_entry *se = &r->entries[pos[i]];
            if (st_bytes_cmp(se->key, se->klen, key, klen) != 0) continue;
            pdel = st_ts_max(pdel, se->pdel_ts);
            int rc = rtvec_add_sst(&rv, a, r, se, err);
            if (rc == 0)
                rc = sst_rowit_init(&sits[i], r, se, &UNBOUNDED, &UNBOUNDED, false, a, err);
            if (rc < 0) return rc;
            srcs[n++] = &sits[i].base;
            pos[i]++;
        }
        st_row *rows;
        uint32_t nrows;
        uint32_t want = limit ? limit - so->rows : 0;
        if (pp_limit && (!want || pp_limit < want)) want = pp_limit;
        int rc =
            st_merge_rows(srcs, n, pdel, rv.v, rv.n, false, want, now_sec, a, &rows, &nrows, err);
        if (rc < 0) return rc;
        if (nrows) {
            st_partition *part = hln_arena_alloc(a, sizeof(*part));
            uint8_t *pk = hln_arena_memdup(a, key, klen); /* key may be memtable memory */
            if (!part || !pk) return hln_fail(err, HLN_ENOMEM, "out of memory scanning");
            part->pk = pk + ST_KEY_TOKEN_BYTES;
            part->pklen = klen - ST_KEY_TOKEN_BYTES;
            part->token = st_key_token(key);
            part->rows = rows;
            part->nrows = nrows;
            if (so->tail)
                so->tail->next = part;
            else
                so->head = part;
            so->tail = part;
            so->rows += nrows;
        }
        for (int m = 0; m < 2; m++)
            if (mt_hit[m]) mps[m] = mt_next(mps[m]);
    }
    return 0;
}

int st_scan(st_engine *e, const st_scan_cmd *cmd, hln_arena *a, st_partition **out, hln_error *err)
{
    *out = NULL;
    if (!cmd) return hln_fail(err, HLN_EINVAL, "invalid scan command");
    poll_bg(e);
    st_table *t = table_find(e, cmd->table_id);
    if (!t) return 0;
    scan_out so = {0};
    scan_lo lo = {false, cmd->start_token, cmd->after_pk, cmd->after_pklen, cmd->after_pk != NULL};
    int rc;
    /* (t, after_pk) up to t itself is the rest of token t (paging inside a
       range that ends at t), not a wrapping range */
    if (cmd->start_token < cmd->end_token ||
        (cmd->after_pk && cmd->start_token == cmd->end_token)) {
        rc = scan_range(t, &lo, cmd->end_token, cmd->limit, cmd->per_partition_limit, cmd->now_sec,
                        a, &so, err);
    } else {
        /* a wrapping range (start >= end): (start, max] then [min, end] */
        rc = scan_range(t, &lo, INT64_MAX, cmd->limit, cmd->per_partition_limit, cmd->now_sec, a,
                        &so, err);
        scan_lo all = {true, 0, NULL, 0, false};
        if (rc == 0 && (!cmd->limit || so.rows < cmd->limit))
            rc = scan_range(t, &all, cmd->end_token, cmd->limit, cmd->per_partition_limit,
                            cmd->now_sec, a, &so, err);
    }
    if (rc < 0) return rc;
    *out = so.head;
    return 0;
}
