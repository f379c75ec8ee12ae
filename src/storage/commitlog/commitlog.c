/*
 * commitlog.c — segments, records, replay, sync, and segment retirement.
 *
 * What: the write-ahead log of one shard (commitlog.h). A segment file is
 *
 *     header (24 bytes): magic "HLCL", version 3, seq, flags, crc32(header)
 *     record*:           u32 len, u64 synced, u32 crc32(len, synced, body), body
 *     end marker:        a record with len 0, written when the segment is closed
 *
 * all integers big-endian (docs/formats/commitlog.md). Records are appended
 * with one writev(2) each, so a process crash loses nothing that was
 * appended; an OS crash loses what was not yet fdatasynced: nothing in
 * batch mode (fdatasync before cl_append returns), at most one sync period
 * in periodic mode (the shard's timer calls cl_sync).
 *
 * Torn writes versus corruption. Every record carries "synced": how much of
 * its segment was known durable (fdatasync returned) when it was written. A
 * crash can only damage bytes that were not yet durable, so replay tells
 * the two apart by evidence found in the segment itself:
 *  - damage starting at offset X is corruption if a valid record after it
 *    has synced > X (X was durable before that record was written; in
 *    batch mode every record proves everything before it), or if it lies
 *    after the segment's end marker, or if the segment is not the newest
 *    and has no end marker (a closed segment always ends with one);
 *  - anything else is a torn write of the crash: the unsynced end of the
 *    newest segment (or, in an older segment, such a region already
 *    accepted by the start that closed it, which set the end marker's synced
 *    mark below it).
 * After damage, replay scans forward byte by byte for the next offset where
 * a valid record starts (checksum over header and body, synced mark within
 * [previous mark, own offset]); that is how "valid data follows" is known.
 * Corruption fails replay with HLN_ECORRUPT (hln_corrupt names the file and
 * offset) unless the caller passes ignore_errors (Cassandra's
 * cassandra.commitlog.ignorereplayerrors): then it is logged, the damaged
 * bytes are skipped and every valid record found is replayed.
 *
 * Ending segments: cl_roll fdatasyncs the segment, appends the end marker
 * (synced = its own offset: everything before it is durable), fdatasyncs
 * again, and only then creates the successor. The newest segment found at
 * open has no end marker (the process died with it current); cl_start ends
 * it before creating the new current one: a torn tail is truncated away,
 * the end marker's synced mark is put at the first torn region (so damage
 * there stays tolerated at later starts and damage before it does not), and
 * a segment with nothing valid at all (a crash while creating it) is
 * deleted instead.
 *
 * Retirement: each segment keeps the set of tables that appended to it. When
 * a table's memtable is flushed (after rolling to a new segment, see
 * engine.c), the table is removed from every older segment's set; a
 * non-current segment whose set becomes empty holds only flushed data and is
 * unlinked. Replaying an already-flushed record is harmless (reconciliation
 * is idempotent), so a lost unlink only costs replay time.
 *
 * Invariants:
 *  1. Records in a segment are never followed by garbage we wrote unless
 *     the synced mark of the next thing we write (record or end marker) is
 *     at or below that garbage: a failed append is truncated away, or (if
 *     that fails) the next append rolls to a new segment first, whose end
 *     marker carries the last good offset.
 *  2. A segment has a successor only once its end marker is durable;
 *     nothing is ever written after an end marker.
 *  3. Synced marks never decrease within a segment, and each is at most the
 *     offset of its own record.
 *  4. A new segment's header is fdatasynced and its directory entry fsynced
 *     before records go into it (so every record has synced >= 24).
 *  5. The current segment is never deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "storage/commitlog/commitlog.h"

/* periodic mode: appended bytes after which their writeback is started */
#define WRITEBACK_BYTES (1u << 20)

enum {
    CL_MAGIC = 0x484C434C, /* "HLCL" */
    /* 2: synced marks and end markers; 3: records may be mutations of
       version 3 and batches of version 4 (cell paths, column deletions,
       expiring markers). 3 is written, 2 and 3 are read. */
    CL_VERSION = 3,
    CL_MIN_VERSION = 2,
    CL_HDR = 24,
    CL_REC_HDR = 16, /* len, synced, crc */
};

/* Appended to every message that stops replay. */
#define IGNORE_HINT                                                                                \
    "replay stopped, nothing was discarded (to start anyway, skipping the damaged data, set "      \
    "commitlog_ignore_replay_errors: true)"

typedef struct cl_segment {
    uint64_t seq;
    char *path;
    uint8_t (*dirty)[16];
    size_t ndirty, capdirty;
} cl_segment;

struct cl_log {
    char *dir;
    size_t segment_bytes;
    bool batch;
    cl_segment **segs; /* ascending seq; the current one (if started) is last */
    size_t nsegs, capsegs;
    cl_segment *cur;
    int fd;
    uint64_t cur_size, cur_records;
    uint64_t synced_size; /* the prefix of the current segment known durable */
    uint64_t kicked_size; /* the prefix whose writeback has been started (periodic mode) */
    bool unsynced, need_roll, started, replayed;
    uint64_t next_seq;
    void (*del)(void *ud, char *path); /* cl_set_deleter */
    void *del_ud;
    /* what cl_start must do to the newest replayed segment before it may
       get a successor (set by cl_replay) */
    struct {
        cl_segment *seg; /* NULL: nothing */
        bool unlink;     /* nothing valid in it: delete it */
        bool truncate;   /* cut a torn tail at truncate_to first */
        uint64_t truncate_to, synced;
    } end;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

static void seg_free(cl_segment *s)
{
    if (!s) return;
    hln_free(s->path);
    hln_free(s->dirty);
    hln_free(s);
}

static cl_segment *seg_new(cl_log *l, uint64_t seq)
{
    char name[64];
    snprintf(name, sizeof(name), "CommitLog-%" PRIu64 ".log", seq);
    cl_segment *s = hln_calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->seq = seq;
    s->path = hln_path_join(l->dir, name);
    if (!s->path) {
        hln_free(s);
        return NULL;
    }
    return s;
}

static int segs_push(cl_log *l, cl_segment *s)
{
    if (l->nsegs == l->capsegs) {
        size_t ncap = l->capsegs ? l->capsegs * 2 : 8;
        cl_segment **ns = hln_realloc(l->segs, ncap * sizeof(*ns));
        if (!ns) return HLN_ENOMEM;
        l->segs = ns;
        l->capsegs = ncap;
    }
    l->segs[l->nsegs++] = s;
    return 0;
}

static int seg_cmp(const void *a, const void *b)
{
    const cl_segment *x = *(cl_segment *const *)a, *y = *(cl_segment *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* "CommitLog-<digits>.log" -> seq; false for any other name. */
static bool parse_name(const char *name, uint64_t *seq)
{
    static const char pre[] = "CommitLog-", suf[] = ".log";
    size_t n = strlen(name), lp = sizeof(pre) - 1, ls = sizeof(suf) - 1;
    if (n <= lp + ls || strncmp(name, pre, lp) != 0 || strcmp(name + n - ls, suf) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = lp; i < n - ls; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    return true;
}

int cl_open(cl_log **out, const char *dir, size_t segment_bytes, bool batch, hln_error *err)
{
    *out = NULL;
    cl_log *l = hln_calloc(1, sizeof(*l));
    if (!l || !(l->dir = hln_strdup(dir))) {
        hln_free(l);
        return hln_fail(err, HLN_ENOMEM, "out of memory opening the commitlog");
    }
    l->segment_bytes = segment_bytes ? segment_bytes : (size_t)32 << 20;
    l->batch = batch;
    l->fd = -1;
    l->next_seq = 1;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        cl_close(l, NULL);
        return hln_fail(err, HLN_EIO, "cannot open commitlog directory %s: %s", dir, strerror(e));
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        if (!parse_name(de->d_name, &seq)) continue;
        cl_segment *s = seg_new(l, seq);
        if (!s || segs_push(l, s) < 0) {
            seg_free(s);
            rc = hln_fail(err, HLN_ENOMEM, "out of memory opening the commitlog");
            break;
        }
        if (seq >= l->next_seq) l->next_seq = seq + 1;
    }
    closedir(d);
    if (rc < 0) {
        cl_close(l, NULL);
        return rc;
    }
    if (l->nsegs > 1) qsort(l->segs, l->nsegs, sizeof(*l->segs), seg_cmp);
    *out = l;
    return 0;
}

/* ---- records ------------------------------------------------------------- */

/* The header of a record of body/len (len 0: the end marker) written when
 * the segment was durable up to synced. */
static void rec_header(uint8_t hdr[CL_REC_HDR], const uint8_t *body, size_t len, uint64_t synced)
{
    put32(hdr, (uint32_t)len);
    put64(hdr + 4, synced);
    put32(hdr + 12, hln_crc32(hln_crc32(0, hdr, 12), body, len));
}

/* A valid record, or a bad region: damaged bytes [off, end) with why saying
 * what was wrong at off. */
typedef struct cl_item {
    size_t off, end;
    uint32_t len;    /* record: body length, 0 = end marker */
    uint64_t synced; /* record: its synced mark */
    const char *why; /* bad region */
    const char *ctx; /* bad region: NULL = torn write; else why it is corruption */
} cl_item;

/* Whether a valid record starts at off (< size): header and body inside the
 * file, floor <= synced mark <= off, checksum right. */
static bool rec_at(const uint8_t *buf, size_t size, size_t off, uint64_t floor, cl_item *it)
{
    if (size - off < CL_REC_HDR) {
        it->why = "record header is incomplete";
        return false;
    }
    uint32_t len = get32(buf + off);
    if (len > size - off - CL_REC_HDR) {
        it->why = "record length runs past the end of the segment";
        return false;
    }
    uint64_t synced = get64(buf + off + 4);
    if (synced < floor || synced < CL_HDR || synced > off) {
        it->why = "record has an impossible synced mark";
        return false;
    }
    if (hln_crc32(hln_crc32(0, buf + off, 12), buf + off + CL_REC_HDR, len) !=
        get32(buf + off + 12)) {
        it->why = "record checksum mismatch";
        return false;
    }
    it->off = off;
    it->end = off + CL_REC_HDR + len;
    it->len = len;
    it->synced = synced;
    it->why = it->ctx = NULL;
    return true;
}

/* Walks a segment's bytes as a sequence of valid records and bad regions. */
typedef struct walker {
    const uint8_t *buf;
    size_t size, off;
    uint64_t floor;      /* synced marks never decrease within a segment */
    const char *hdr_why; /* set: the header is bad, the first item is a bad region at 0 */
} walker;

/* The next item: 1 a valid record, 2 a bad region (up to the next offset
 * where a valid record starts, or to the end of the file), 0 at the end. */
static int walk_next(walker *w, cl_item *it)
{
    if (w->off >= w->size) return 0;
    size_t x = w->off;
    const char *why = w->hdr_why;
    if (why) {
        w->hdr_why = NULL;
    } else {
        if (rec_at(w->buf, w->size, x, w->floor, it)) {
            w->off = it->end;
            w->floor = it->synced;
            return 1;
        }
        why = it->why;
    }
    /* resynchronise: the first later offset where a whole valid record
       starts. The synced-mark bounds reject almost every offset before the
       checksum is computed (zeros and random bytes alike). */
    cl_item probe;
    size_t p = x + 1 > CL_HDR ? x + 1 : CL_HDR;
    while (p < w->size && !rec_at(w->buf, w->size, p, w->floor, &probe))
        p++;
    if (p > w->size) p = w->size;
    it->off = x;
    it->end = p;
    it->len = 0;
    it->synced = 0;
    it->why = why;
    it->ctx = NULL;
    w->off = p;
    return 2;
}

/* ---- replay -------------------------------------------------------------- */

typedef struct cl_regions {
    cl_item *v;
    size_t n, cap;
} cl_regions;

static int regions_push(cl_regions *r, const cl_item *it)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 4;
        cl_item *nv = hln_realloc(r->v, ncap * sizeof(*nv));
        if (!nv) return HLN_ENOMEM;
        r->v = nv;
        r->cap = ncap;
    }
    r->v[r->n++] = *it;
    return 0;
}

static int read_whole(const char *path, uint8_t **out, size_t *size, hln_error *err)
{
    *out = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hln_fail(err, HLN_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return hln_fail(err, HLN_EIO, "cannot stat %s: %s", path, strerror(e));
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = n ? hln_malloc(n) : NULL;
    if (n && !buf) {
        close(fd);
        return hln_fail(err, HLN_ENOMEM, "out of memory replaying %s", path);
    }
    int rc = n ? hln_pread_full(fd, buf, n, 0, path, err) : 0;
    close(fd);
    if (rc < 0) {
        hln_free(buf);
        return rc;
    }
    *out = buf;
    *size = n;
    return 0;
}

/* Replays one segment: classify (first pass), then either fail on the first
 * corruption or log the damage and hand every valid record to fn (second
 * pass, the same walk). For the newest segment, also decides how cl_start
 * ends it. */
static int replay_segment(cl_log *l, cl_segment *s, bool newest, bool ignore, cl_replay_fn fn,
                          void *ud, hln_error *err)
{
    uint8_t *buf;
    size_t size;
    int rc = read_whole(s->path, &buf, &size, err);
    if (rc < 0) return rc;

    walker w0 = {buf, size, CL_HDR, CL_HDR, NULL};
    bool hdr_fatal = false;
    if (size < CL_HDR) {
        w0.hdr_why = "segment header is incomplete";
    } else if (get32(buf) != CL_MAGIC || hln_crc32(0, buf, CL_HDR - 4) != get32(buf + CL_HDR - 4)) {
        w0.hdr_why = "bad segment header";
    } else if (get32(buf + 4) < CL_MIN_VERSION || get32(buf + 4) > CL_VERSION) {
        /* a whole, checksummed header of another format: not ours to parse */
        uint32_t v = get32(buf + 4);
        const char *how =
            v > CL_VERSION ? "newer than this build supports" : "older than this build supports";
        hln_free(buf);
        if (!ignore) {
            rc = hln_fail(err, HLN_EUNSUPPORTED,
                          "commitlog segment %s has format version %" PRIu32
                          ", %s (this build reads versions %d to %d); %s",
                          s->path, v, how, CL_MIN_VERSION, CL_VERSION, IGNORE_HINT);
            HLN_ERR("%s", err ? err->msg : "unsupported commitlog segment version");
            return rc;
        }
        HLN_ERR("commitlog %s: format version %" PRIu32 ", %s (this build reads versions %d to "
                "%d); skipping the whole segment (commitlog_ignore_replay_errors)",
                s->path, v, how, CL_MIN_VERSION, CL_VERSION);
        return 0; /* left as it is; never ended, never appended to */
    } else if (get64(buf + 8) != s->seq) {
        w0.hdr_why = "segment header names another sequence number";
        hdr_fatal = true; /* complete and checksummed: no crash wrote that */
    }
    if (w0.hdr_why) w0.off = 0;

    /* pass 1: the bad regions, the last valid record, the end marker */
    cl_regions bad = {NULL, 0, 0};
    cl_item it, last = {0};
    bool have_last = false, marker = false;
    size_t after_marker = SIZE_MAX, nvalid = 0;
    walker w = w0;
    int k;
    while ((k = walk_next(&w, &it)) != 0) {
        if (marker && after_marker == SIZE_MAX) {
            after_marker = it.off;
            if (k == 1) {
                /* a valid record after the end marker: flag it (it is still
                   replayed when errors are ignored) */
                cl_item after = {it.off, it.off, 0, 0, "a record follows the end marker", NULL};
                if (regions_push(&bad, &after) < 0) {
                    hln_free(buf);
                    hln_free(bad.v);
                    return hln_fail(err, HLN_ENOMEM, "out of memory replaying %s", s->path);
                }
            }
        }
        if (k == 1) {
            last = it;
            have_last = true;
            nvalid++;
            if (it.len == 0) marker = true;
        } else if (regions_push(&bad, &it) < 0) {
            hln_free(buf);
            hln_free(bad.v);
            return hln_fail(err, HLN_ENOMEM, "out of memory replaying %s", s->path);
        }
    }
    bool ended = marker && after_marker == SIZE_MAX;
    if (!newest && !ended && (bad.n == 0 || bad.v[bad.n - 1].end != size)) {
        /* a closed segment that simply stops: cut at a record boundary */
        cl_item miss = {size, size, 0, 0, "segment ends without its end marker", NULL};
        if (regions_push(&bad, &miss) < 0) {
            hln_free(buf);
            hln_free(bad.v);
            return hln_fail(err, HLN_ENOMEM, "out of memory replaying %s", s->path);
        }
    }

    /* classify */
    cl_item *first_bad = NULL, *first_torn = NULL;
    for (size_t i = 0; i < bad.n; i++) {
        cl_item *b = &bad.v[i];
        if (have_last && last.synced > b->off) /* then last.off > b->off too */
            b->ctx = "and records written after it was synced follow it";
        else if (b->off == 0 && hdr_fatal)
            b->ctx = "a complete header no crash could have written";
        else if (b->off == 0 && size > CL_HDR)
            b->ctx = "and the header was synced before anything after it was written";
        else if (b->off >= after_marker)
            b->ctx = "after the segment's end marker";
        else if (!newest && !ended && b->end == size)
            b->ctx = "in a closed segment, which must end with an end marker";
        if (b->ctx && !first_bad) first_bad = b;
        if (!b->ctx && !first_torn) first_torn = b;
    }
    if (first_bad && !ignore) {
        rc = hln_corrupt(err, s->path, "commitlog damaged at offset %zu (%s), %s; %s",
                         first_bad->off, first_bad->why, first_bad->ctx, IGNORE_HINT);
        hln_free(buf);
        hln_free(bad.v);
        return rc;
    }
    for (size_t i = 0; i < bad.n; i++) {
        cl_item *b = &bad.v[i];
        if (b->ctx) {
            hln_error tmp;
            hln_corrupt(&tmp, s->path,
                        "commitlog damaged at offset %zu (%s), %s; ignoring the replay error "
                        "(commitlog_ignore_replay_errors), %zu bytes skipped",
                        b->off, b->why, b->ctx, b->end - b->off);
        } else if (!newest) {
            HLN_WARN("commitlog %s: torn write at offset %zu (%s), accepted when the segment was "
                     "closed, skipping %zu bytes",
                     s->path, b->off, b->why, b->end - b->off);
        } else if (b->end == size) {
            HLN_WARN("commitlog %s: torn tail at offset %zu (%s), ignoring the last %zu bytes",
                     s->path, b->off, b->why, size - b->off);
        } else {
            HLN_WARN("commitlog %s: torn write at offset %zu (%s) in the part of the segment not "
                     "yet synced at the crash, skipping %zu bytes; the valid records after it "
                     "are replayed",
                     s->path, b->off, b->why, b->end - b->off);
        }
    }

    /* pass 2: replay */
    size_t nrec = 0;
    w = w0;
    while (rc == 0 && (k = walk_next(&w, &it)) != 0) {
        if (k != 1 || it.len == 0) continue;
        rc = fn(ud, buf + it.off + CL_REC_HDR, it.len, s->seq, s->path, it.off, err);
        nrec++;
    }
    if (rc == 0 && nrec) HLN_INFO("commitlog %s: replayed %zu records", s->path, nrec);

    if (rc == 0 && newest) {
        /* how cl_start ends this segment before giving it a successor */
        memset(&l->end, 0, sizeof(l->end));
        if (w0.hdr_why) {
            /* no more than a torn header: a crash while creating it; else
               (corrupt, ignored) leave it alone, it is retired once the
               replayed data is flushed */
            if (nvalid == 0 && size <= CL_HDR) {
                l->end.seg = s;
                l->end.unlink = true;
            }
        } else if (!marker) {
            l->end.seg = s;
            l->end.synced = first_torn ? first_torn->off : size;
            cl_item *tail = bad.n ? &bad.v[bad.n - 1] : NULL;
            if (tail && !tail->ctx && tail->end == size) {
                l->end.truncate = true;
                l->end.truncate_to = tail->off;
            }
        }
    }
    hln_free(buf);
    hln_free(bad.v);
    return rc;
}

int cl_replay(cl_log *l, bool ignore_errors, cl_replay_fn fn, void *ud, hln_error *err)
{
    memset(&l->end, 0, sizeof(l->end));
    for (size_t i = 0; i < l->nsegs; i++) {
        if (l->segs[i] == l->cur) continue;
        int rc = replay_segment(l, l->segs[i], i + 1 == l->nsegs, ignore_errors, fn, ud, err);
        if (rc < 0) return rc;
    }
    l->replayed = true;
    return 0;
}

/* Ends the newest replayed segment as replay decided (see replay_segment),
 * before cl_start creates its successor. */
static int end_replayed(cl_log *l, hln_error *err)
{
    cl_segment *s = l->end.seg;
    if (!s) return 0;
    if (l->end.unlink) {
        if (unlink(s->path) < 0 && errno != ENOENT)
            return hln_fail(err, HLN_EIO, "cannot delete %s: %s", s->path, strerror(errno));
        HLN_INFO("commitlog %s: deleted (nothing valid in it)", s->path);
        size_t j = 0;
        for (size_t i = 0; i < l->nsegs; i++)
            if (l->segs[i] != s) l->segs[j++] = l->segs[i];
        l->nsegs = j;
        seg_free(s);
        l->end.seg = NULL;
        return hln_fsync_dir(l->dir, err);
    }
    int fd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return hln_fail(err, HLN_EIO, "cannot open %s: %s", s->path, strerror(errno));
    int rc = 0;
    if (l->end.truncate && ftruncate(fd, (off_t)l->end.truncate_to) < 0)
        rc = hln_fail(err, HLN_EIO, "cannot truncate %s: %s", s->path, strerror(errno));
    uint8_t hdr[CL_REC_HDR];
    rec_header(hdr, NULL, 0, l->end.synced);
    if (rc == 0) rc = hln_write_full(fd, hdr, sizeof(hdr), s->path, err);
    if (rc == 0 && fdatasync(fd) < 0)
        rc = hln_fail(err, HLN_EIO, "fdatasync of %s failed: %s", s->path, strerror(errno));
    close(fd);
    if (rc == 0) l->end.seg = NULL;
    return rc;
}

/* Appends the end marker to the current segment (everything before
 * synced_size, which cl_sync just made the whole segment, is durable),
 * fdatasyncs and closes it. Never appended to again, even on failure. */
static int end_current(cl_log *l, hln_error *err)
{
    uint8_t hdr[CL_REC_HDR];
    rec_header(hdr, NULL, 0, l->synced_size);
    int rc = hln_write_full(l->fd, hdr, sizeof(hdr), l->cur->path, err);
    if (rc < 0) {
        /* keep the segment current; a half marker must not stay in front of
           later records (if it does, the next roll marks it torn) */
        if (ftruncate(l->fd, (off_t)l->cur_size) < 0) l->need_roll = true;
        return rc;
    }
    if (fdatasync(l->fd) < 0)
        rc = hln_fail(err, HLN_EIO, "fdatasync of %s failed: %s", l->cur->path, strerror(errno));
    close(l->fd);
    l->fd = -1;
    l->cur = NULL;
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

void cl_seq_floor(cl_log *l, uint64_t seq)
{
    if (seq > l->next_seq) l->next_seq = seq;
}

int cl_start(cl_log *l, hln_error *err)
{
    if (l->fd >= 0) return 0;
    if (!l->replayed && l->nsegs > 0)
        return hln_fail(err, HLN_ESERVER, "commitlog %s must be replayed before it is written",
                        l->dir);
    int rc = end_replayed(l, err);
    if (rc < 0) return rc;
    cl_segment *s = seg_new(l, l->next_seq);
    if (!s) return hln_fail(err, HLN_ENOMEM, "out of memory starting a commitlog segment");
    int fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        int rc = hln_fail(err, HLN_EIO, "cannot create %s: %s", s->path, strerror(e));
        seg_free(s);
        return rc;
    }
    uint8_t hdr[CL_HDR];
    put32(hdr, CL_MAGIC);
    put32(hdr + 4, CL_VERSION);
    put64(hdr + 8, s->seq);
    put32(hdr + 16, 0);
    put32(hdr + 20, hln_crc32(0, hdr, CL_HDR - 4));
    rc = hln_write_full(fd, hdr, sizeof(hdr), s->path, err);
    if (rc == 0 && fdatasync(fd) < 0)
        rc = hln_fail(err, HLN_EIO, "fdatasync of %s failed: %s", s->path, strerror(errno));
    if (rc == 0) rc = hln_fsync_dir(l->dir, err);
    if (rc == 0 && segs_push(l, s) < 0)
        rc = hln_fail(err, HLN_ENOMEM, "out of memory starting a commitlog segment");
    if (rc < 0) {
        close(fd);
        unlink(s->path);
        seg_free(s);
        return rc;
    }
    l->next_seq++;
    l->cur = s;
    l->fd = fd;
    l->cur_size = CL_HDR;
    l->synced_size = CL_HDR;
    l->kicked_size = CL_HDR;
    l->cur_records = 0;
    l->unsynced = false;
    l->need_roll = false;
    l->started = true;
    return 0;
}

int cl_sync(cl_log *l, hln_error *err)
{
    if (l->fd < 0 || !l->unsynced) return 0;
    if (fdatasync(l->fd) < 0)
        return hln_fail(err, HLN_EIO, "fdatasync of %s failed: %s", l->cur->path, strerror(errno));
    l->unsynced = false;
    l->synced_size = l->cur_size;
    return 0;
}

int cl_roll(cl_log *l, hln_error *err)
{
    if (l->fd >= 0) {
        int rc = cl_sync(l, err);
        if (rc == 0) rc = end_current(l, err);
        if (rc < 0) return rc;
    }
    return cl_start(l, err);
}

int cl_append(cl_log *l, const uint8_t *body, size_t len, hln_error *err)
{
    if (l->fd < 0) {
        /* never started, or a roll failed half way: try to start again */
        if (!l->started) return hln_fail(err, HLN_ESERVER, "commitlog is not open for writing");
        int rc = cl_start(l, err);
        if (rc < 0) return rc;
    }
    if (len == 0 || len > UINT32_MAX - CL_REC_HDR)
        return hln_fail(err, HLN_EINVAL, "commitlog record of %zu bytes", len);
    if (l->need_roll || (l->cur_records > 0 && l->cur_size + CL_REC_HDR + len > l->segment_bytes)) {
        int rc = cl_roll(l, err);
        if (rc < 0) return rc;
    }
    uint8_t hdr[CL_REC_HDR];
    rec_header(hdr, body, len, l->synced_size);
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)body, len}};
    size_t total = sizeof(hdr) + len, done = 0;
    while (done < total) {
        ssize_t w = writev(l->fd, iov, 2);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            if (ftruncate(l->fd, (off_t)l->cur_size) < 0) l->need_roll = true;
            return hln_fail(err, HLN_EIO, "commitlog write to %s failed: %s", l->cur->path,
                            strerror(e));
        }
        done += (size_t)w;
        /* advance the iovecs past what was written */
        size_t adv = (size_t)w;
        for (int i = 0; i < 2; i++) {
            size_t t = adv < iov[i].iov_len ? adv : iov[i].iov_len;
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + t;
            iov[i].iov_len -= t;
            adv -= t;
        }
    }
    l->cur_size += total;
    l->cur_records++;
    l->unsynced = true;
    if (l->batch) return cl_sync(l, err);
    /* periodic mode: start the writeback of every WRITEBACK_BYTES appended
       (sync_file_range does not wait for it), so the fdatasync of the sync
       timer and of a segment roll, which the shard thread waits for, finds
       little left to write (RocksDB's bytes_per_sync). Durability is what
       it was: only fdatasync moves synced_size. */
    if (l->cur_size - l->kicked_size >= WRITEBACK_BYTES) {
        (void)sync_file_range(l->fd, (off64_t)l->kicked_size,
                              (off64_t)(l->cur_size - l->kicked_size), SYNC_FILE_RANGE_WRITE);
        l->kicked_size = l->cur_size;
    }
    return 0;
}

uint64_t cl_current_seq(const cl_log *l)
{
    return l->cur ? l->cur->seq : 0;
}
bool cl_current_has_records(const cl_log *l)
{
    return l->cur && l->cur_records > 0;
}
size_t cl_segment_count(const cl_log *l)
{
    return l->nsegs;
}

/* ---- dirty tables and retirement ---------------------------------------- */

int cl_mark_dirty(cl_log *l, uint64_t seq, const uint8_t id[16])
{
    cl_segment *s = NULL;
    if (seq == 0) {
        s = l->cur;
    } else {
        for (size_t i = 0; i < l->nsegs; i++)
            if (l->segs[i]->seq == seq) s = l->segs[i];
    }
    if (!s) return HLN_ENOTFOUND;
    for (size_t i = 0; i < s->ndirty; i++)
        if (memcmp(s->dirty[i], id, 16) == 0) return 0;
    if (s->ndirty == s->capdirty) {
        size_t ncap = s->capdirty ? s->capdirty * 2 : 4;
        uint8_t(*nd)[16] = hln_realloc(s->dirty, ncap * 16);
        if (!nd) return HLN_ENOMEM;
        s->dirty = nd;
        s->capdirty = ncap;
    }
    memcpy(s->dirty[s->ndirty++], id, 16);
    return 0;
}

void cl_set_deleter(cl_log *l, void (*del)(void *ud, char *path), void *ud)
{
    l->del = del;
    l->del_ud = ud;
}

int cl_delete_clean(cl_log *l, hln_error *err)
{
    size_t j = 0, deleted = 0;
    int rc = 0;
    for (size_t i = 0; i < l->nsegs; i++) {
        cl_segment *s = l->segs[i];
        if (s != l->cur && s->ndirty == 0) {
            char *p = l->del ? hln_strdup(s->path) : NULL;
            if (p) { /* the deleter's thread unlinks it (no dir fsync needed:
                        a segment that comes back is replayed harmlessly) */
                l->del(l->del_ud, p);
                seg_free(s);
                continue;
            }
            if (unlink(s->path) < 0 && errno != ENOENT && rc == 0) {
                rc = hln_fail(err, HLN_EIO, "cannot delete %s: %s", s->path, strerror(errno));
                l->segs[j++] = s;
                continue;
            }
            HLN_DEBUG("commitlog: deleted flushed segment %s", s->path);
            seg_free(s);
            deleted++;
            continue;
        }
        l->segs[j++] = s;
    }
    l->nsegs = j;
    if (deleted && rc == 0) rc = hln_fsync_dir(l->dir, err);
    return rc;
}

int cl_mark_clean(cl_log *l, const uint8_t id[16], uint64_t before_seq, hln_error *err)
{
    for (size_t i = 0; i < l->nsegs; i++) {
        cl_segment *s = l->segs[i];
        if (s->seq >= before_seq) continue;
        for (size_t k = 0; k < s->ndirty; k++) {
            if (memcmp(s->dirty[k], id, 16) == 0) {
                memmove(s->dirty[k], s->dirty[s->ndirty - 1], 16);
                s->ndirty--;
                break;
            }
        }
    }
    return cl_delete_clean(l, err);
}

void cl_oldest_dirty(const cl_log *l, const uint8_t (**ids)[16], size_t *n)
{
    *ids = NULL;
    *n = 0;
    for (size_t i = 0; i < l->nsegs; i++) {
        cl_segment *s = l->segs[i];
        if (s != l->cur && s->ndirty) {
            *ids = (const uint8_t(*)[16])s->dirty;
            *n = s->ndirty;
            return;
        }
    }
}

int cl_close(cl_log *l, hln_error *err)
{
    if (!l) return 0;
    int rc = 0;
    if (l->fd >= 0) {
        rc = cl_sync(l, err);
        close(l->fd);
    }
    for (size_t i = 0; i < l->nsegs; i++)
        seg_free(l->segs[i]);
    hln_free(l->segs);
    hln_free(l->dir);
    hln_free(l);
    return rc;
}
