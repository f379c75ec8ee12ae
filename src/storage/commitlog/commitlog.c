/*
 * commitlog.c — segments, records, replay, sync, and segment retirement.
 *
 * What: the write-ahead log of one shard (commitlog.h). A segment file is
 *
 *     header (24 bytes): magic "HLCL", version, seq, flags, crc32(header)
 *     record*:           u32 len, u32 crc32(body), body (len bytes)
 *
 * all integers big-endian (docs/formats/commitlog.md). Records are appended
 * with one writev(2) each, so a process crash loses nothing that was
 * appended; an OS crash loses what was not yet fdatasynced: nothing in
 * batch mode (fdatasync before cl_append returns), at most one sync period
 * in periodic mode (the shard's timer calls cl_sync).
 *
 * Replay reads segments in seq order and stops a segment at the first record
 * whose header is truncated, whose length runs past the file, or whose
 * checksum fails. Only the newest segment can legitimately end that way (a
 * crash mid-append); a segment is fsynced before the next one is created,
 * so the same damage in an older segment is corruption: it is reported via
 * hln_corrupt and the rest of that segment is skipped, and replay goes on.
 *
 * Retirement: each segment keeps the set of tables that appended to it. When
 * a table's memtable is flushed (after rolling to a new segment, see
 * engine.c), the table is removed from every older segment's set; a
 * non-current segment whose set becomes empty holds only flushed data and is
 * unlinked. Replaying an already-flushed record is harmless (reconciliation
 * is idempotent), so a lost unlink only costs replay time.
 *
 * Invariants:
 *  1. Records in a segment are never followed by garbage we wrote: a failed
 *     append is truncated away, or (if that fails) the next append rolls to
 *     a new segment first.
 *  2. A segment is fdatasynced before its successor is created, and a new
 *     segment's directory entry is fsynced before records go into it.
 *  3. The current segment is never deleted.
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

enum {
    CL_MAGIC = 0x484C434C, /* "HLCL" */
    CL_VERSION = 1,
    CL_HDR = 24,
    CL_REC_HDR = 8,
};

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
    bool unsynced, need_roll, started;
    uint64_t next_seq;
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
    s->path = st_path_join(l->dir, name);
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

/* ---- replay -------------------------------------------------------------- */

static int replay_segment(cl_log *l, cl_segment *s, bool newest, cl_replay_fn fn, void *ud,
                          hln_error *err)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hln_fail(err, HLN_EIO, "cannot open %s: %s", s->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return hln_fail(err, HLN_EIO, "cannot stat %s: %s", s->path, strerror(e));
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = size ? hln_malloc(size) : NULL;
    if (size && !buf) {
        close(fd);
        return hln_fail(err, HLN_ENOMEM, "out of memory replaying %s", s->path);
    }
    int rc = size ? st_pread_full(fd, buf, size, 0, s->path, err) : 0;
    close(fd);
    if (rc < 0) {
        hln_free(buf);
        return rc;
    }
    HLN_UNUSED(l);

    const char *why = NULL;
    size_t off = 0, nrec = 0;
    if (size < CL_HDR) {
        why = "segment header is incomplete";
    } else if (get32(buf) != CL_MAGIC || get32(buf + 4) != CL_VERSION ||
               hln_crc32(0, buf, CL_HDR - 4) != get32(buf + CL_HDR - 4)) {
        why = "bad segment header";
    } else if (get64(buf + 8) != s->seq) {
        why = "segment header names another sequence number";
    } else {
        off = CL_HDR;
        while (off < size) {
            if (size - off < CL_REC_HDR) {
                why = "record header is incomplete";
                break;
            }
            uint32_t len = get32(buf + off), crc = get32(buf + off + 4);
            if (len == 0 || len > size - off - CL_REC_HDR) {
                why = "record length runs past the end of the segment";
                break;
            }
            const uint8_t *body = buf + off + CL_REC_HDR;
            if (hln_crc32(0, body, len) != crc) {
                why = "record checksum mismatch";
                break;
            }
            rc = fn(ud, body, len, s->seq, err);
            if (rc < 0) {
                hln_free(buf);
                return rc;
            }
            off += CL_REC_HDR + (size_t)len;
            nrec++;
        }
    }
    if (why) {
        if (newest) {
            HLN_WARN("commitlog %s: torn tail at offset %zu (%s), ignoring the last %zu bytes "
                     "(%zu records replayed)",
                     s->path, off, why, size - off, nrec);
        } else {
            hln_error tmp;
            hln_corrupt(&tmp, s->path,
                        "commitlog segment damaged at offset %zu (%s); skipping the rest of "
                        "the segment (%zu bytes, %zu records replayed)",
                        off, why, size - off, nrec);
        }
    } else if (nrec) {
        HLN_INFO("commitlog %s: replayed %zu records", s->path, nrec);
    }
    hln_free(buf);
    return 0;
}

int cl_replay(cl_log *l, cl_replay_fn fn, void *ud, hln_error *err)
{
    for (size_t i = 0; i < l->nsegs; i++) {
        if (l->segs[i] == l->cur) continue;
        int rc = replay_segment(l, l->segs[i], i + 1 == l->nsegs, fn, ud, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

int cl_start(cl_log *l, hln_error *err)
{
    if (l->fd >= 0) return 0;
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
    int rc = st_write_full(fd, hdr, sizeof(hdr), s->path, err);
    if (rc == 0 && fdatasync(fd) < 0)
        rc = hln_fail(err, HLN_EIO, "fdatasync of %s failed: %s", s->path, strerror(errno));
    if (rc == 0) rc = st_fsync_dir(l->dir, err);
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
    return 0;
}

int cl_roll(cl_log *l, hln_error *err)
{
    if (l->fd >= 0) {
        int rc = cl_sync(l, err);
        if (rc < 0) return rc;
        close(l->fd);
        l->fd = -1;
        l->cur = NULL;
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
    put32(hdr, (uint32_t)len);
    put32(hdr + 4, hln_crc32(0, body, len));
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

int cl_delete_clean(cl_log *l, hln_error *err)
{
    size_t j = 0, deleted = 0;
    int rc = 0;
    for (size_t i = 0; i < l->nsegs; i++) {
        cl_segment *s = l->segs[i];
        if (s != l->cur && s->ndirty == 0) {
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
    if (deleted && rc == 0) rc = st_fsync_dir(l->dir, err);
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
