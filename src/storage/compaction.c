/*
 * compaction.c — the compaction job (merge k sstables into one, or into
 * several of a bounded size for leveled compaction), its crash log, and
 * the background worker thread that runs jobs.
 *
 * What: cp_run walks the inputs' partition indexes in key order (a k-way
 * merge over k small sorted arrays: k is at most a few dozen, so the
 * smallest head is found by a linear scan). For each key it gathers the
 * partition deletion (newest), the range tombstones of every input (those
 * the partition deletion covers are dropped), and a row source per input
 * holding the key, merges the rows by clustering key and reconciles each
 * group with st_reconcile_row, then writes the partition. Blocks are read
 * into a per-partition arena that is reset after every partition, so
 * memory is bounded by the largest partition, not by the data set.
 *
 * Why these rules: a compaction must not change what any read returns,
 * whatever else (the memtable, sstables outside the job) holds. Keeping
 * every deletion (partition, range, row, column deletions, cell
 * tombstones) guarantees it: a deletion still shadows older data
 * elsewhere, and the data the job drops is exactly what a kept deletion or
 * a newer version in the job shadows. The exception is purging (below):
 * a deletion or expired cell past gc_grace_seconds goes when nothing it
 * could shadow can exist outside the job (Cassandra's overlap rule).
 * Expired cells that may not be purged yet are kept as they are, value
 * included: whether one has expired depends on the reader's clock
 * (st_read_cmd now_sec), and turning one into a tombstone would change how
 * it reconciles with an equal-timestamp expiring cell of a later expiry.
 *
 * The log (docs/formats/compaction-log.md) is a small text file,
 * compaction-<first output gen>.log in the table directory, naming every
 * output generation the job may use and, once all its outputs are
 * complete, marked done. Outputs split only between partitions (a
 * partition is never cut), when the current one holds max_out_bytes.
 *
 * Invariants:
 *  1. The output's partitions and rows come out in strictly increasing
 *     order because every input's are (sst reader invariant 2) and equal
 *     keys are merged into one.
 *  2. A job never frees or closes an input; the shard thread does that
 *     after installing the output.
 *  3. One job at a time per worker; the worker never touches engine state.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "storage/compaction.h"

static const st_bound UNBOUNDED = {NULL, 0, true};

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *gen_path(const char *dir, const char *fmt, uint64_t gen)
{
    char name[64];
    snprintf(name, sizeof(name), fmt, gen);
    return hln_path_join(dir, name);
}

cp_job *cp_job_new(const uint8_t table_id[16], const char *dir, sst_reader *const *in, size_t n,
                   uint64_t gen, uint32_t max_outs)
{
    cp_job *j = hln_calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->max_outs = max_outs ? max_outs : 1;
    j->outs = hln_calloc(j->max_outs, sizeof(*j->outs));
    if (!j->outs) {
        hln_free(j);
        return NULL;
    }
    memcpy(j->table_id, table_id, 16);
    j->in = hln_malloc(n * sizeof(*j->in));
    j->dir = hln_strdup(dir);
    j->out_path = gen_path(dir, "nb-%" PRIu64 "-Data.db", gen);
    j->log_path = gen_path(dir, "compaction-%" PRIu64 ".log", gen);
    if (!j->in || !j->dir || !j->out_path || !j->log_path) {
        cp_job_free(j);
        return NULL;
    }
    memcpy(j->in, in, n * sizeof(*in));
    j->nin = n;
    j->out_gen = gen;
    atomic_init(&j->cancel, false);
    return j;
}

void cp_job_free(cp_job *j)
{
    if (!j) return;
    hln_free(j->in);
    hln_free(j->outs);
    hln_free(j->others);
    hln_free(j->dir);
    hln_free(j->out_path);
    hln_free(j->log_path);
    hln_free(j);
}

/* ---- the log ---------------------------------------------------------------- */

/* The log (version 2): the outputs the job may write, its inputs, and,
 * once every output is complete, "done". */
static int write_log(const cp_job *j, bool done, hln_error *err)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_printf(&b, "helenus-compaction 2\n%s", done ? "done\n" : "");
    for (uint32_t i = 0; i < j->max_outs; i++)
        hln_buf_printf(&b, "output %" PRIu64 "\n", j->out_gen + i);
    for (size_t i = 0; i < j->nin; i++)
        hln_buf_printf(&b, "input %" PRIu64 "\n", j->in[i]->gen);
    hln_buf_printf(&b, "end\n");
    int rc = b.err ? hln_fail(err, HLN_ENOMEM, "out of memory")
                   : hln_write_file_durably(j->log_path, b.data, b.len, 0644, err);
    hln_buf_free(&b);
    return rc;
}

typedef struct parsed_log {
    int version;
    bool done; /* version 2: every output complete */
    uint64_t *outs, *ins;
    size_t nouts, nins;
} parsed_log;

static void parsed_free(parsed_log *l)
{
    hln_free(l->outs);
    hln_free(l->ins);
    memset(l, 0, sizeof(*l));
}

/* Reads lines "<word> <gen>\n" while they start with word. */
static bool parse_gens(const char **pp, const char *word, uint64_t **v, size_t *n)
{
    size_t wl = strlen(word), cap = 0;
    const char *p = *pp;
    while (strncmp(p, word, wl) == 0 && p[wl] == ' ') {
        p += wl + 1;
        char *end;
        errno = 0;
        unsigned long long g = strtoull(p, &end, 10);
        if (end == p || *end != '\n' || errno || *p == '-' || *p == '+') return false;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            uint64_t *nv = hln_realloc(*v, ncap * sizeof(*nv));
            if (!nv) return false;
            *v = nv;
            cap = ncap;
        }
        (*v)[(*n)++] = g;
        p = end + 1;
    }
    *pp = p;
    return true;
}

/* Parses a log of version 1 (one output) or 2. */
static bool parse_log(const char *text, parsed_log *l)
{
    memset(l, 0, sizeof(*l));
    const char *p = text;
    if (strncmp(p, "helenus-compaction 1\n", 21) == 0)
        l->version = 1;
    else if (strncmp(p, "helenus-compaction 2\n", 21) == 0)
        l->version = 2;
    else
        return false;
    p += 21;
    if (l->version == 2 && strncmp(p, "done\n", 5) == 0) {
        l->done = true;
        p += 5;
    }
    if (!parse_gens(&p, "output", &l->outs, &l->nouts) || l->nouts == 0 ||
        (l->version == 1 && l->nouts != 1) || !parse_gens(&p, "input", &l->ins, &l->nins) ||
        strcmp(p, "end\n") != 0) {
        parsed_free(l);
        return false;
    }
    return true;
}

static int read_small_file(const char *path, char **out, hln_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hln_fail(err, HLN_EIO, "cannot open %s: %s", path, strerror(errno));
    char *buf = hln_malloc(65537);
    if (!buf) {
        fclose(f);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, 65536, f);
    bool bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        hln_free(buf);
        return hln_corrupt(err, path, "compaction log unreadable or larger than 64 KiB");
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int recover_one(const char *dir, const char *name, hln_error *err)
{
    char *path = hln_path_join(dir, name);
    if (!path) return hln_fail(err, HLN_ENOMEM, "out of memory");
    char *text;
    int rc = read_small_file(path, &text, err);
    if (rc < 0) {
        hln_free(path);
        return rc;
    }
    parsed_log l;
    if (!parse_log(text, &l)) {
        hln_free(text);
        rc = hln_corrupt(err, path,
                         "compaction log does not parse (it is written atomically, so this is "
                         "damage); remove it by hand after checking that the sstables it names "
                         "are intact");
        hln_free(path);
        return rc;
    }
    hln_free(text);
    char *out = gen_path(dir, "nb-%" PRIu64 "-Data.db", l.outs[0]);
    if (!out) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    /* version 1: the output's presence meant the job was done */
    bool done = l.version == 1 ? rc == 0 && file_exists(out) : l.done;
    if (rc == 0 && done) {
        /* the outputs are complete: the inputs are obsolete */
        for (size_t i = 0; i < l.nins && rc == 0; i++) {
            char *ip = gen_path(dir, "nb-%" PRIu64 "-Data.db", l.ins[i]);
            if (!ip) {
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                break;
            }
            if (unlink(ip) == 0)
                HLN_INFO("storage: removed %s, compacted into %s before a crash", ip, out);
            else if (errno != ENOENT)
                rc = hln_fail(err, HLN_EIO, "cannot delete %s: %s", ip, strerror(errno));
            hln_free(ip);
        }
        if (rc == 0) rc = hln_fsync_dir(dir, err);
    } else if (rc == 0) {
        /* not finished: the outputs it did complete go, the inputs stay */
        for (size_t i = 0; i < l.nouts && rc == 0; i++) {
            char *op = gen_path(dir, "nb-%" PRIu64 "-Data.db", l.outs[i]);
            if (!op) {
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                break;
            }
            if (unlink(op) == 0)
                HLN_INFO("storage: removed %s, output of a compaction that did not finish", op);
            else if (errno != ENOENT)
                rc = hln_fail(err, HLN_EIO, "cannot delete %s: %s", op, strerror(errno));
            hln_free(op);
        }
        if (rc == 0) rc = hln_fsync_dir(dir, err);
        HLN_INFO("storage: compaction into %s did not finish; its inputs stay", out);
    }
    if (rc == 0 && unlink(path) < 0 && errno != ENOENT)
        rc = hln_fail(err, HLN_EIO, "cannot delete %s: %s", path, strerror(errno));
    if (rc == 0) rc = hln_fsync_dir(dir, err);
    hln_free(out);
    parsed_free(&l);
    hln_free(path);
    return rc;
}

int cp_recover(const char *dir, hln_error *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return hln_fail(err, HLN_EIO, "cannot open %s: %s", dir, strerror(errno));
    }
    /* collect first: recovery unlinks entries of the directory being read */
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 15 || strncmp(de->d_name, "compaction-", 11) != 0 ||
            strcmp(de->d_name + l - 4, ".log") != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            char **nn = hln_realloc(names, ncap * sizeof(*nn));
            if (!nn) {
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                break;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = hln_strdup(de->d_name))) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = recover_one(dir, names[i], err);
        hln_free(names[i]);
    }
    hln_free(names);
    return rc;
}

void cp_retire_inputs(cp_job *j)
{
    hln_error err = {0};
    for (size_t i = 0; i < j->nin; i++) {
        char *p = gen_path(j->dir, "nb-%" PRIu64 "-Data.db", j->in[i]->gen);
        if (p && unlink(p) < 0 && errno != ENOENT)
            HLN_ERR("storage: cannot delete compacted %s: %s (deleted at the next start)", p,
                    strerror(errno));
        hln_free(p);
    }
    /* the inputs must be gone for good before the log that explains them */
    if (hln_fsync_dir(j->dir, &err) < 0) {
        HLN_ERR("storage: %s (the compaction log stays for the next start)", err.msg);
        return;
    }
    if (unlink(j->log_path) < 0 && errno != ENOENT)
        HLN_ERR("storage: cannot delete %s: %s", j->log_path, strerror(errno));
    /* an empty output (everything purged) was never installed */
    for (uint32_t i = 0; i < j->nouts; i++)
        if (j->outs[i] && j->outs[i]->nentries == 0) {
            char *p = gen_path(j->dir, "nb-%" PRIu64 "-Data.db", j->outs[i]->gen);
            sst_close(j->outs[i]);
            j->outs[i] = NULL;
            if (p && unlink(p) < 0 && errno != ENOENT)
                HLN_ERR("storage: cannot delete %s: %s", p, strerror(errno));
            hln_free(p);
        }
}

/* ---- the merge ---------------------------------------------------------------- */

typedef struct cp_state {
    cp_job *j;
    hln_arena a;
    size_t *pos;           /* next entry of each input */
    const sst_entry **hit; /* the inputs' entries of the current key */
    sst_rowit *its;
    st_rowsrc **srcs;
    const st_row **head, **same;
    uint32_t *cur, *which;
    st_cell *cells;
    size_t capcells;
    uint64_t raw_done; /* uncompressed bytes of the outputs already finished */
} cp_state;

/* ---- purging -------------------------------------------------------------------
 * Cassandra's rule: a tombstone (or an expired cell, which reads as one)
 * may go once it is older than gc_grace_seconds and nothing it shadows can
 * be anywhere the job does not see. Within the job st_reconcile_row has
 * already dropped what it shadows; outside, an sstable that may hold the
 * partition (key range and bloom filter) or a memtable could hold an older
 * version, so the timestamp must be below their oldest timestamp
 * (max_purgeable). A deletion's second is its timestamp's (Helenus keeps
 * no separate local deletion time); an expired cell's is its write time
 * (expires - ttl), as Cassandra's converted tombstone. */

static int64_t max_purgeable(const cp_job *j, const uint8_t *key, uint32_t klen)
{
    int64_t m = j->mem_min_ts;
    for (size_t i = 0; i < j->nothers; i++) {
        const sst_reader *r = j->others[i];
        if (r->stats.min_ts >= m || r->nentries == 0) continue;
        const sst_entry *lo = &r->entries[0], *hi = &r->entries[r->nentries - 1];
        if (st_bytes_cmp(key, klen, lo->key, lo->klen) < 0 ||
            st_bytes_cmp(key, klen, hi->key, hi->klen) > 0 || !sst_may_contain(r, key, klen))
            continue;
        m = r->stats.min_ts;
    }
    return m;
}

static bool del_purgeable(const cp_job *j, int64_t ts, int64_t maxp)
{
    return ts != HLN_TS_NONE && ts < maxp && st_floor_div(ts, 1000000) < j->gc_before;
}

static bool expired_purgeable(const cp_job *j, int64_t ts, int32_t ttl, int64_t expires,
                              int64_t maxp)
{
    return expires != 0 && expires <= j->now_sec && ts < maxp && expires - ttl < j->gc_before;
}

/* Drops from a reconciled row what may be purged; false if nothing is
 * left. cells is out's own copy (st_reconcile_row's buffer). */
static bool purge_row(cp_job *j, st_row *out, int64_t maxp)
{
    if (del_purgeable(j, out->del_ts, maxp)) {
        out->del_ts = HLN_TS_NONE;
        j->purged++;
    }
    if (out->marker_ts != HLN_TS_NONE &&
        expired_purgeable(j, out->marker_ts, out->marker_ttl, out->marker_expires, maxp)) {
        out->marker_ts = HLN_TS_NONE;
        out->marker_ttl = 0;
        out->marker_expires = 0;
        j->purged++;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < out->ncells; i++) {
        const st_cell *c = &out->cells[i];
        bool drop = (c->flags & (ST_CELL_TOMBSTONE | ST_CELL_COLDEL))
                        ? del_purgeable(j, c->ts, maxp)
                        : expired_purgeable(j, c->ts, c->ttl, c->expires, maxp);
        if (drop)
            j->purged++;
        else
            out->cells[k++] = *c;
    }
    out->ncells = k;
    return out->marker_ts != HLN_TS_NONE || out->del_ts != HLN_TS_NONE || out->ncells > 0;
}

static int merge_partition(cp_state *s, sst_writer *w, const uint8_t *key, uint32_t klen,
                           hln_error *err)
{
    cp_job *j = s->j;
    size_t n = 0;
    int64_t pdel = HLN_TS_NONE;
    for (size_t i = 0; i < j->nin; i++) {
        if (!s->hit[i]) continue;
        pdel = st_ts_max(pdel, s->hit[i]->pdel_ts);
    }
    /* range tombstones of every input that the partition deletion does not
       already imply */
    st_range_tomb *rts = NULL;
    uint32_t nrts = 0, caprts = 0;
    int rc = 0;
    for (size_t i = 0; i < j->nin && rc == 0; i++) {
        const sst_entry *se = s->hit[i];
        if (!se) continue;
        if (se->nrts) {
            st_range_tomb *v;
            if ((rc = sst_entry_rts(j->in[i], se, &s->a, &v, err)) < 0) break;
            for (uint32_t k = 0; k < se->nrts; k++) {
                if (v[k].ts <= pdel) continue;
                if (nrts == caprts) {
                    uint32_t ncap = caprts ? caprts * 2 : 8;
                    st_range_tomb *nv = hln_arena_alloc(&s->a, (size_t)ncap * sizeof(*nv));
                    if (!nv) return hln_fail(err, HLN_ENOMEM, "out of memory compacting");
                    if (nrts) memcpy(nv, rts, (size_t)nrts * sizeof(*nv));
                    rts = nv;
                    caprts = ncap;
                }
                rts[nrts++] = v[k];
            }
        }
        rc = sst_rowit_init(&s->its[i], j->in[i], se, &UNBOUNDED, &UNBOUNDED, false, &s->a, err);
        if (rc == 0) s->srcs[n++] = &s->its[i].base;
    }
    if (rc < 0) return rc;
    /* what is written: the deletions that may not be purged yet (all of
       them still shadow the rows merged below) */
    int64_t maxp = j->purge ? max_purgeable(j, key, klen) : INT64_MIN;
    int64_t wpdel = pdel;
    st_range_tomb *wrts = rts;
    uint32_t nwrts = nrts;
    if (j->purge) {
        if (del_purgeable(j, pdel, maxp)) {
            wpdel = HLN_TS_NONE;
            j->purged++;
        }
        if (nrts) {
            wrts = hln_arena_alloc(&s->a, (size_t)nrts * sizeof(*wrts));
            if (!wrts) return hln_fail(err, HLN_ENOMEM, "out of memory compacting");
            nwrts = 0;
            for (uint32_t k = 0; k < nrts; k++)
                if (del_purgeable(j, rts[k].ts, maxp))
                    j->purged++;
                else
                    wrts[nwrts++] = rts[k];
        }
    }
    bool begun = false;
    if (wpdel != HLN_TS_NONE || nwrts) {
        rc = sst_writer_begin_partition(w, key, klen, wpdel, err);
        if (rc == 0 && nwrts) rc = sst_writer_range_tombs(w, wrts, nwrts, err);
        if (rc < 0) return rc;
        begun = true;
    }
    for (size_t i = 0; i < n; i++) {
        rc = s->srcs[i]->next(s->srcs[i], &s->head[i], err);
        if (rc < 0) return rc;
        if (rc == 0) s->head[i] = NULL;
    }
    for (;;) {
        const st_row *best = NULL;
        for (size_t i = 0; i < n; i++)
            if (s->head[i] && (!best || st_bytes_cmp(s->head[i]->ck, s->head[i]->cklen, best->ck,
                                                     best->cklen) < 0))
                best = s->head[i];
        if (!best) break;
        uint32_t m = 0;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            if (s->head[i] &&
                st_bytes_cmp(s->head[i]->ck, s->head[i]->cklen, best->ck, best->cklen) == 0) {
                s->same[m] = s->head[i];
                s->which[m] = (uint32_t)i;
                total += s->head[i]->ncells;
                m++;
            }
        }
        if (total > s->capcells) {
            st_cell *nc = hln_realloc(s->cells, total * sizeof(*nc));
            if (!nc) return hln_fail(err, HLN_ENOMEM, "out of memory compacting");
            s->cells = nc;
            s->capcells = total;
        }
        st_row out;
        if (st_reconcile_row(s->same, m, pdel, rts, nrts, s->cur, s->cells, &out) &&
            (!j->purge || purge_row(j, &out, maxp))) {
            if (!begun) {
                if ((rc = sst_writer_begin_partition(w, key, klen, wpdel, err)) < 0) return rc;
                begun = true;
            }
            if ((rc = sst_writer_row(w, &out, err)) < 0) return rc;
        }
        for (uint32_t k = 0; k < m; k++) {
            size_t i = s->which[k];
            rc = s->srcs[i]->next(s->srcs[i], &s->head[i], err);
            if (rc < 0) return rc;
            if (rc == 0) s->head[i] = NULL;
        }
    }
    if (begun) {
        if ((rc = sst_writer_end_partition(w, err)) < 0) return rc;
        j->parts_out++;
    }
    return 0;
}

/* compaction_throughput: sleeps (in short steps, so a cancel is seen) while
 * the job is ahead of its byte budget since t0. */
static void throttle(const cp_job *j, uint64_t written, double t0)
{
    uint64_t bps = j->bps ? atomic_load_explicit(j->bps, memory_order_relaxed) : 0;
    if (!bps) return;
    double rate = (double)bps / j->bps_share;
    double ahead = (double)written / rate - (mono_seconds() - t0);
    while (ahead > 0.001 && !atomic_load_explicit(&j->cancel, memory_order_relaxed)) {
        double step = ahead < 0.05 ? ahead : 0.05;
        struct timespec ts = {0, (long)(step * 1e9)};
        nanosleep(&ts, NULL);
        ahead -= step;
    }
}

/* Finishes the output being written (it becomes outs[nouts]) and, if
 * more, opens the next one in *w. */
static int finish_output(cp_state *s, sst_writer **w, bool more, hln_error *err)
{
    cp_job *j = s->j;
    uint64_t gen = j->out_gen + j->nouts;
    char *path = gen_path(j->dir, "nb-%" PRIu64 "-Data.db", gen);
    if (!path) return hln_fail(err, HLN_ENOMEM, "out of memory");
    s->raw_done += sst_writer_raw_bytes(*w);
    int rc = sst_writer_finish(*w, err); /* frees *w, also on error */
    *w = NULL;
    if (rc == 0) rc = sst_open(&j->outs[j->nouts], path, gen, j->table_id, err);
    if (rc == 0) {
        j->bytes_out += j->outs[j->nouts]->size;
        j->nouts++;
    } else {
        unlink(path);
    }
    hln_free(path);
    if (rc == 0 && more) {
        char *next = gen_path(j->dir, "nb-%" PRIu64 "-Data.db", gen + 1);
        if (!next) return hln_fail(err, HLN_ENOMEM, "out of memory");
        rc = sst_writer_open(w, next, j->table_id, &j->wopts, err);
        hln_free(next);
    }
    return rc;
}

static int merge_all(cp_state *s, sst_writer **wp, hln_error *err)
{
    cp_job *j = s->j;
    double t0 = mono_seconds();
    for (;;) {
        uint64_t written = s->raw_done + sst_writer_raw_bytes(*wp);
        throttle(j, written, t0);
        atomic_store_explicit(&j->progress_bytes, written, memory_order_relaxed);
        if (atomic_load_explicit(&j->cancel, memory_order_relaxed))
            return hln_fail(err, HLN_EAGAIN, "compaction cancelled");
        const uint8_t *key = NULL;
        uint32_t klen = 0;
        for (size_t i = 0; i < j->nin; i++) {
            if (s->pos[i] >= j->in[i]->nentries) continue;
            const sst_entry *se = &j->in[i]->entries[s->pos[i]];
            if (!key || st_bytes_cmp(se->key, se->klen, key, klen) < 0) {
                key = se->key;
                klen = se->klen;
            }
        }
        if (!key) return 0;
        for (size_t i = 0; i < j->nin; i++) {
            s->hit[i] = NULL;
            if (s->pos[i] >= j->in[i]->nentries) continue;
            const sst_entry *se = &j->in[i]->entries[s->pos[i]];
            if (st_bytes_cmp(se->key, se->klen, key, klen) == 0) {
                s->hit[i] = se;
                s->pos[i]++;
                j->parts_in++;
            }
        }
        /* a full output ends before the next partition, so outputs split at
           partition boundaries and never end empty */
        int rc = 0;
        if (j->max_out_bytes && j->nouts + 1 < j->max_outs &&
            sst_writer_raw_bytes(*wp) >= j->max_out_bytes)
            rc = finish_output(s, wp, true, err);
        if (rc == 0) rc = merge_partition(s, *wp, key, klen, err);
        hln_arena_reset(&s->a);
        if (rc < 0) return rc;
    }
}

int cp_run(cp_job *j)
{
    double t0 = mono_seconds();
    hln_error *err = &j->err;
    memset(err, 0, sizeof(*err));
    j->nouts = 0;
    j->parts_in = j->parts_out = j->bytes_in = j->bytes_out = 0;
    for (size_t i = 0; i < j->nin; i++)
        j->bytes_in += j->in[i]->size;
    size_t n = j->nin;
    cp_state s = {.j = j};
    hln_arena_init(&s.a, 256 * 1024);
    s.pos = hln_calloc(n, sizeof(*s.pos));
    s.hit = hln_calloc(n, sizeof(*s.hit));
    s.its = hln_calloc(n, sizeof(*s.its));
    s.srcs = hln_calloc(n, sizeof(*s.srcs));
    s.head = hln_calloc(n, sizeof(*s.head));
    s.same = hln_calloc(n, sizeof(*s.same));
    s.cur = hln_calloc(n, sizeof(*s.cur));
    s.which = hln_calloc(n, sizeof(*s.which));
    int rc = 0;
    if (!s.pos || !s.hit || !s.its || !s.srcs || !s.head || !s.same || !s.cur || !s.which)
        rc = hln_fail(err, HLN_ENOMEM, "out of memory compacting");
    bool logged = false;
    if (rc == 0 && (rc = write_log(j, false, err)) == 0) logged = true;
    sst_writer *w = NULL;
    if (rc == 0) rc = sst_writer_open(&w, j->out_path, j->table_id, &j->wopts, err);
    if (rc == 0 && !j->drop_only) rc = merge_all(&s, &w, err);
    /* The first output is written even when nothing is left (purged, or a
       drop-only job); installing deletes an empty one after the inputs. */
    if (rc == 0) rc = finish_output(&s, &w, false, err);
    /* every output complete and synced: the inputs are obsolete from here */
    if (rc == 0) rc = write_log(j, true, err);
    if (w) sst_writer_abort(w);
    if (rc < 0) {
        /* the inputs stay authoritative: the log goes first (it may already
           say done), then the outputs */
        if (logged) {
            hln_error e2 = {0};
            unlink(j->log_path);
            hln_fsync_dir(j->dir, &e2);
        }
        for (uint32_t i = 0; i < j->nouts; i++) {
            char *p = gen_path(j->dir, "nb-%" PRIu64 "-Data.db", j->outs[i]->gen);
            sst_close(j->outs[i]);
            j->outs[i] = NULL;
            if (p) unlink(p);
            hln_free(p);
        }
        j->nouts = 0;
    }
    hln_free(s.pos);
    hln_free(s.hit);
    hln_free(s.its);
    hln_free(s.srcs);
    hln_free(s.head);
    hln_free(s.same);
    hln_free(s.cur);
    hln_free(s.which);
    hln_free(s.cells);
    hln_arena_free(&s.a);
    j->rc = rc;
    j->seconds = mono_seconds() - t0;
    return rc;
}

void cp_test_stall(const char *path)
{
    for (int i = 0; path && i < 6000 && access(path, F_OK) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void cp_run_job(void *job)
{
    cp_job *j = job;
    if (j->retire) {
        cp_retire_inputs(j);
        for (size_t i = 0; i < j->nin; i++)
            sst_close(j->in[i]);
        return;
    }
    cp_test_stall(j->stall);
    cp_run(j);
}

/* ---- the worker ------------------------------------------------------------------ */

struct cp_worker {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *job; /* submitted, not yet taken */
    bool running, finished, stop;
    void (*run)(void *job);
    void (*done)(void *ud);
    void *ud;
    char name[16];
    int nice;
};

static void *worker_main(void *arg)
{
    cp_worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    /* Linux: the nice value of one thread (its tid); failure is harmless */
    if (w->nice > 0) (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), w->nice);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !(w->job && !w->running && !w->finished))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) break;
        void *j = w->job;
        w->running = true;
        pthread_mutex_unlock(&w->mu);
        w->run(j);
        pthread_mutex_lock(&w->mu);
        w->running = false;
        w->finished = true;
        pthread_cond_broadcast(&w->cv);
        if (w->done) {
            pthread_mutex_unlock(&w->mu);
            w->done(w->ud);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int cp_worker_start(cp_worker **out, const char *name, int nice, void (*run)(void *job),
                    void (*done)(void *ud), void *ud, hln_error *err)
{
    *out = NULL;
    cp_worker *w = hln_calloc(1, sizeof(*w));
    if (!w) return hln_fail(err, HLN_ENOMEM, "out of memory");
    snprintf(w->name, sizeof w->name, "%s", name);
    w->nice = nice;
    w->run = run;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->done = done;
    w->ud = ud;
    int e = pthread_create(&w->th, NULL, worker_main, w);
    if (e) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        hln_free(w);
        return hln_fail(err, HLN_ESERVER, "cannot start the compaction thread: %s", strerror(e));
    }
    *out = w;
    return 0;
}

void cp_worker_submit(cp_worker *w, void *j)
{
    pthread_mutex_lock(&w->mu);
    w->job = j;
    w->finished = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *take_locked(cp_worker *w)
{
    void *j = w->job;
    w->job = NULL;
    w->finished = false;
    return j;
}

void *cp_worker_poll(cp_worker *w)
{
    pthread_mutex_lock(&w->mu);
    void *j = w->job && w->finished ? take_locked(w) : NULL;
    pthread_mutex_unlock(&w->mu);
    return j;
}

void *cp_worker_wait(cp_worker *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->job && !w->finished)
        pthread_cond_wait(&w->cv, &w->mu);
    void *j = w->job ? take_locked(w) : NULL;
    pthread_mutex_unlock(&w->mu);
    return j;
}

void cp_worker_stop(cp_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    hln_free(w);
}
