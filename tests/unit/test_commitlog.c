/* modules: common storage */
/*
 * test_commitlog.c — durability through the commitlog. A "crash" is a
 * child process that opens the engine, writes, and _exit()s without
 * st_close (so nothing is flushed); the parent then reopens the directory
 * and checks what replay restored, after optionally damaging segments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage_testutil.h"
#include "storage/commitlog/commitlog.h"

typedef void (*child_fn)(st_engine *e, void *ud);

/* Runs fn against an engine in a child process that then dies without
 * closing it. Asserts the child got that far. */
static void crash_after(const char *dir, const st_options *o, child_fn fn, void *ud)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        st_engine *e = tu_open(dir, o);
        if (!e) _exit(2);
        fn(e, ud);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

#define CHILD_OK(x)                                                                                \
    do {                                                                                           \
        if ((x) != 0) _exit(3);                                                                    \
    } while (0)

static void write_many(st_engine *e, void *ud)
{
    int n = *(int *)ud;
    for (int i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof v, "value-%d", i);
        st_cell c[1] = {tu_cell(1, 100 + i, v)};
        CHILD_OK(tu_row(e, T1, i, "r", 100 + i, HLN_TS_NONE, c, 1));
    }
}

static void expect_many(st_engine *e, int n, int missing_from)
{
    for (int i = 0; i < n; i++) {
        char want[64];
        if (i >= missing_from)
            want[0] = '\0';
        else
            snprintf(want, sizeof want, "r*:1=value-%d", i);
        const char *got = tu_read(e, T1, i);
        if (strcmp(got, want) != 0) fprintf(stderr, "pk %d: got '%s' want '%s'\n", i, got, want);
        assert_string_equal(got, want);
    }
}

/* The path of the newest (highest seq) segment, static buffer. */
static const char *newest_segment(const char *dir)
{
    static char out[2048];
    char cl[1024];
    snprintf(cl, sizeof cl, "%s/commitlog", dir);
    DIR *d = opendir(cl);
    assert_non_null(d);
    unsigned long long best = 0;
    struct dirent *de;
    out[0] = '\0';
    while ((de = readdir(d)) != NULL) {
        unsigned long long seq;
        if (sscanf(de->d_name, "CommitLog-%llu.log", &seq) == 1 && seq >= best) {
            best = seq;
            snprintf(out, sizeof out, "%s/%s", cl, de->d_name);
        }
    }
    closedir(d);
    return out;
}

static void test_replay_after_crash(void **state)
{
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        char *dir = tu_mkdtemp("cl-crash");
        st_options o;
        st_options_default(&o);
        o.sync = mode == 1 ? ST_SYNC_BATCH : ST_SYNC_PERIODIC;
        /* the test counts sstables: a background compaction of the ones
           replay flushes (timing dependent) would make it flaky */
        o.compaction_disabled = true;
        int n = 50;
        crash_after(dir, &o, write_many, &n);
        char tdir[1024];
        snprintf(tdir, sizeof tdir, "%s/tables/110102030405060708090a0b0c0d0e0f", dir);
        assert_int_equal(tu_count_files(tdir, "-Data.db"), 0); /* nothing was flushed */
        if (mode == 2) o.memtable_flush_bytes = 2048;          /* replay itself has to flush */
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        expect_many(e, n, n);
        /* replay ends with a flush: the data is in sstables, one segment left */
        if (mode == 2)
            assert_true(tu_count_files(tdir, "-Data.db") >= 2);
        else
            assert_int_equal(tu_count_files(tdir, "-Data.db"), 1);
        char cl[1024];
        snprintf(cl, sizeof cl, "%s/commitlog", dir);
        /* retired segments are deleted by the janitor thread */
        assert_int_equal(tu_wait_count_files(cl, ".log", 1), 1);
        hln_error err;
        assert_int_equal(st_sync(e, &err), 0);
        assert_int_equal(tu_close(e), 0);
        e = tu_open(dir, &o);
        expect_many(e, n, n);
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* Crash twice in a row: the second run replays the first's log, then adds
 * its own; nothing is lost or duplicated. */
static void write_more(st_engine *e, void *ud)
{
    (void)ud;
    st_cell c[1] = {tu_cell(2, 500, "second")};
    CHILD_OK(tu_row(e, T1, 0, "r", HLN_TS_NONE, HLN_TS_NONE, c, 1));
}

static void test_double_crash(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cl-double");
    st_options o;
    st_options_default(&o);
    int n = 5;
    crash_after(dir, &o, write_many, &n);
    crash_after(dir, &o, write_more, NULL);
    st_engine *e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 0), "r*:1=value-0,2=second");
    assert_string_equal(tu_read(e, T1, 4), "r*:1=value-4");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

static void test_torn_tail(void **state)
{
    (void)state;
    st_options o;
    st_options_default(&o);
    int n = 20;
    /* the last record loses its last 3 bytes */
    {
        char *dir = tu_mkdtemp("cl-torn");
        crash_after(dir, &o, write_many, &n);
        const char *seg = newest_segment(dir);
        long size = tu_file_size(seg);
        assert_true(size > 100);
        assert_int_equal(truncate(seg, size - 3), 0);
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        expect_many(e, n, n - 1);
        assert_int_equal(tu_close(e), 0);
        e = tu_open(dir, &o);
        expect_many(e, n, n - 1);
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
    /* garbage after the last complete record: a few bytes, a zeroed page, random
       bytes (what the integration test appends), a large random tail (the
       forward scan for valid records must stay linear) */
    for (int kind = 0; kind < 4; kind++) {
        for (int batch = 0; batch < 2; batch++) {
            char *dir = tu_mkdtemp("cl-garbage");
            st_options ob = o;
            ob.sync = batch ? ST_SYNC_BATCH : ST_SYNC_PERIODIC;
            crash_after(dir, &ob, write_many, &n);
            const char *seg = newest_segment(dir);
            long size = tu_file_size(seg);
            size_t glen = kind == 0 ? 6 : kind == 1 ? 4096 : kind == 2 ? 333 : (size_t)1 << 20;
            uint8_t *g = calloc(1, glen);
            if (kind == 0) memcpy(g, "\x00\x00\x01\x00\xde\xad", 6);
            unsigned r = 7;
            for (size_t i = 0; kind >= 2 && i < glen; i++) {
                r = r * 1103515245u + 12345u;
                g[i] = (uint8_t)(r >> 16);
            }
            int fd = open(seg, O_WRONLY | O_APPEND);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, g, glen), (ssize_t)glen);
            close(fd);
            free(g);
            st_engine *e = tu_open(dir, &ob);
            assert_non_null(e);
            expect_many(e, n, n);
            assert_int_equal(tu_close(e), 0);
            assert_true(tu_file_size(seg) < 0 || tu_file_size(seg) <= size + 16);
            tu_cleanup(dir);
        }
    }
    /* a segment whose header itself is torn */
    {
        char *dir = tu_mkdtemp("cl-header");
        crash_after(dir, &o, write_many, &n);
        const char *seg = newest_segment(dir);
        assert_int_equal(truncate(seg, 10), 0);
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        expect_many(e, n, 0);
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* ---- reading segments back ----------------------------------------------- */

enum { MAXREC = 512, MAXSEG = 64, CL_HDR_SIZE = 24, REC_HDR = 16 };

/* A segment as written (format v2): its data records (pk = the first 4
 * bytes of the partition key, the file offset of the record and its body
 * length) and its end marker. */
typedef struct seginfo {
    int n;
    int pk[MAXREC];
    long off[MAXREC], len[MAXREC];
    long marker; /* offset of the end marker, -1 if none */
    long size;
} seginfo;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void read_segment(const char *path, seginfo *si)
{
    long size = tu_file_size(path);
    assert_true(size >= CL_HDR_SIZE);
    if (size < CL_HDR_SIZE || size > (1L << 30))
        return; /* unreachable after the assert; tells the optimiser the bound */
    uint8_t *buf = malloc((size_t)size);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
    close(fd);
    memset(si, 0, sizeof(*si));
    si->marker = -1;
    si->size = size;
    long off = CL_HDR_SIZE;
    hln_arena a;
    hln_arena_init(&a, 4096);
    while (off + REC_HDR <= size) {
        uint32_t len = be32(buf + off);
        if (len == 0) {
            si->marker = off;
            off += REC_HDR;
            continue;
        }
        assert_true(off + REC_HDR + (long)len <= size);
        assert_true(si->n < MAXREC);
        hln_rd r;
        hln_rd_init(&r, buf + off + REC_HDR, len);
        st_mutation m;
        assert_int_equal(st_mutation_decode(&r, &a, &m), 0);
        si->pk[si->n] = m.pk[0] << 24 | m.pk[1] << 16 | m.pk[2] << 8 | m.pk[3];
        si->off[si->n] = off;
        si->len[si->n] = len;
        si->n++;
        off += REC_HDR + (long)len;
    }
    assert_int_equal(off, size);
    hln_arena_free(&a);
    free(buf);
}

/* The segment files of dir's commitlog, oldest first. */
typedef struct seglist {
    int n;
    unsigned long long seq[MAXSEG];
    char path[MAXSEG][1400];
} seglist;

static void list_segments(const char *dir, seglist *sl)
{
    char cl[1024];
    snprintf(cl, sizeof cl, "%s/commitlog", dir);
    DIR *d = opendir(cl);
    assert_non_null(d);
    sl->n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long seq;
        if (sscanf(de->d_name, "CommitLog-%llu.log", &seq) != 1) continue;
        assert_true(sl->n < MAXSEG);
        int i = sl->n++;
        while (i > 0 && sl->seq[i - 1] > seq) {
            sl->seq[i] = sl->seq[i - 1];
            memcpy(sl->path[i], sl->path[i - 1], sizeof(sl->path[i]));
            i--;
        }
        sl->seq[i] = seq;
        snprintf(sl->path[i], sizeof(sl->path[i]), "%s/%s", cl, de->d_name);
    }
    closedir(d);
}

/* pks 0..n-1 hold value-i, except the ones in lost[], which are gone. */
static void expect_all_but(st_engine *e, int n, const int *lost, int nlost)
{
    for (int i = 0; i < n; i++) {
        bool gone = false;
        for (int k = 0; k < nlost; k++)
            gone |= lost[k] == i;
        char want[64];
        if (gone)
            want[0] = '\0';
        else
            snprintf(want, sizeof want, "r*:1=value-%d", i);
        const char *got = tu_read(e, T1, i);
        if (strcmp(got, want) != 0) fprintf(stderr, "pk %d: got '%s' want '%s'\n", i, got, want);
        assert_string_equal(got, want);
    }
}

/* st_open must refuse with HLN_ECORRUPT (twice: a refusal changes nothing),
 * naming the file and, when off >= 0, the offset. */
static void expect_refused(const char *dir, const st_options *o, const char *path, long off,
                           int want_rc)
{
    long size = tu_file_size(path);
    for (int attempt = 0; attempt < 2; attempt++) {
        st_engine *e = (st_engine *)1;
        hln_error err;
        memset(&err, 0, sizeof err);
        assert_int_equal(st_open(&e, dir, o, NULL, NULL, &err), want_rc);
        assert_null(e);
        if (!strstr(err.msg, path)) fprintf(stderr, "message: %s\n", err.msg);
        assert_non_null(strstr(err.msg, path));
        if (off >= 0) {
            char at[64];
            snprintf(at, sizeof at, "offset %ld ", off);
            if (!strstr(err.msg, at)) fprintf(stderr, "message: %s (want %s)\n", err.msg, at);
            assert_non_null(strstr(err.msg, at));
        }
        assert_non_null(strstr(err.msg, "commitlog_ignore_replay_errors"));
        assert_int_equal(tu_file_size(path), size);
    }
}

/* Then, with ignore_replay_errors, the open succeeds and only lost[] is
 * missing; the next normal open is clean again (the replayed data was
 * flushed and the damaged segments retired). */
static void expect_ignored(const char *dir, const st_options *o, int n, const int *lost, int nlost)
{
    st_options oi = *o;
    oi.ignore_replay_errors = true;
    st_engine *e = tu_open(dir, &oi);
    assert_non_null(e);
    expect_all_but(e, n, lost, nlost);
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, o);
    assert_non_null(e);
    expect_all_but(e, n, lost, nlost);
    assert_int_equal(tu_close(e), 0);
}

/* The index of the record of si containing file offset off, -1 if none. */
static int record_at(const seginfo *si, long off)
{
    for (int i = 0; i < si->n; i++)
        if (off >= si->off[i] && off < si->off[i] + REC_HDR + si->len[i]) return i;
    return -1;
}

/* ---- corruption versus torn writes ------------------------------------------ */

/* Batch mode: every record was fsynced before it was acknowledged, so a
 * damaged record followed by valid ones is corruption, never a torn tail. */
static void test_corrupt_mid_segment(void **state)
{
    (void)state;
    st_options o;
    st_options_default(&o);
    o.sync = ST_SYNC_BATCH;
    int n = 60;
    for (int where = 0; where < 3; where++) {
        char *dir = tu_mkdtemp("cl-mid");
        crash_after(dir, &o, write_many, &n);
        seglist sl;
        list_segments(dir, &sl);
        assert_int_equal(sl.n, 1);
        seginfo si;
        read_segment(sl.path[0], &si);
        assert_int_equal(si.n, n);
        assert_int_equal(si.marker, -1); /* the newest segment has none */
        int victim = n / 3;
        /* a body byte, the length, the synced mark */
        long at = si.off[victim] + (where == 0 ? REC_HDR + 5 : where == 1 ? 3 : 9);
        tu_flip_byte(sl.path[0], at);
        expect_refused(dir, &o, sl.path[0], si.off[victim], HLN_ECORRUPT);
        expect_ignored(dir, &o, n, &si.pk[victim], 1);
        tu_cleanup(dir);
    }
}

/* The integration scenario: one byte flipped a third of the way into each
 * of many segments, batch mode. */
static void test_corrupt_each_segment_third(void **state)
{
    (void)state;
    st_options o;
    st_options_default(&o);
    o.sync = ST_SYNC_BATCH;
    o.segment_bytes = 4096;
    int n = 300;
    char *dir = tu_mkdtemp("cl-third");
    crash_after(dir, &o, write_many, &n);
    seglist sl;
    list_segments(dir, &sl);
    assert_true(sl.n >= 4);
    int lost[MAXSEG], nlost = 0;
    for (int i = 0; i < sl.n; i++) {
        seginfo si;
        read_segment(sl.path[i], &si);
        assert_true(i + 1 == sl.n ? si.marker < 0 : si.marker == si.size - REC_HDR);
        int r = record_at(&si, si.size / 3);
        assert_true(r >= 0);
        lost[nlost++] = si.pk[r];
        tu_flip_byte(sl.path[i], si.size / 3);
    }
    /* the oldest damage is reported */
    expect_refused(dir, &o, sl.path[0], -1, HLN_ECORRUPT);
    expect_ignored(dir, &o, n, lost, nlost);
    tu_cleanup(dir);
}

/* Periodic mode: what was synced is protected like batch mode; damage in the
 * part written after the last sync is what an OS crash can leave (later
 * pages reached the disk, earlier ones did not): tolerated, and the valid
 * records after it are still replayed. */
typedef struct two_runs {
    int n1, n2;
} two_runs;

static void write_sync_write(st_engine *e, void *ud)
{
    const two_runs *t = ud;
    for (int i = 0; i < t->n1 + t->n2; i++) {
        if (i == t->n1) {
            hln_error err;
            CHILD_OK(st_sync(e, &err));
        }
        char v[32];
        snprintf(v, sizeof v, "value-%d", i);
        st_cell c[1] = {tu_cell(1, 100 + i, v)};
        CHILD_OK(tu_row(e, T1, i, "r", 100 + i, HLN_TS_NONE, c, 1));
    }
}

static void test_periodic_synced_and_unsynced(void **state)
{
    (void)state;
    st_options o;
    st_options_default(&o);
    two_runs t = {30, 20};
    int n = t.n1 + t.n2;
    for (int synced = 0; synced < 2; synced++) {
        char *dir = tu_mkdtemp("cl-periodic");
        crash_after(dir, &o, write_sync_write, &t);
        seglist sl;
        list_segments(dir, &sl);
        assert_int_equal(sl.n, 1);
        seginfo si;
        read_segment(sl.path[0], &si);
        assert_int_equal(si.n, n);
        int victim = synced ? 10 : 40;
        tu_flip_byte(sl.path[0], si.off[victim] + REC_HDR + 2);
        if (synced) {
            expect_refused(dir, &o, sl.path[0], si.off[victim], HLN_ECORRUPT);
            expect_ignored(dir, &o, n, &si.pk[victim], 1);
        } else {
            st_engine *e = tu_open(dir, &o);
            assert_non_null(e);
            expect_all_but(e, n, &si.pk[victim], 1);
            assert_int_equal(tu_close(e), 0);
        }
        tu_cleanup(dir);
    }
}

/* Older segments were synced and ended (end marker) before their successor
 * existed: any damage in them is corruption. */
enum { DMG_BODY, DMG_LAST_RECORD, DMG_MARKER, DMG_CUT, DMG_AFTER_MARKER, DMG_HEADER, DMG_COUNT };

static void test_corrupt_older_segment(void **state)
{
    (void)state;
    st_options o;
    st_options_default(&o);
    o.segment_bytes = 1024;
    int n = 100;
    for (int dmg = 0; dmg < DMG_COUNT; dmg++) {
        char *dir = tu_mkdtemp("cl-older");
        crash_after(dir, &o, write_many, &n);
        seglist sl;
        list_segments(dir, &sl);
        assert_true(sl.n >= 4);
        const char *seg = sl.path[1]; /* an older segment, not the oldest */
        seginfo si;
        read_segment(seg, &si);
        assert_true(si.n >= 3);
        assert_int_equal(si.marker, si.size - REC_HDR);
        int lost[2], nlost = 0;
        long at = -1;
        switch (dmg) {
        case DMG_BODY: /* valid records follow */
            tu_flip_byte(seg, si.off[1] + REC_HDR + 7);
            lost[nlost++] = si.pk[1];
            at = si.off[1];
            break;
        case DMG_LAST_RECORD: /* only the end marker follows, and it proves it */
            tu_flip_byte(seg, si.off[si.n - 1] + REC_HDR + 1);
            lost[nlost++] = si.pk[si.n - 1];
            at = si.off[si.n - 1];
            break;
        case DMG_MARKER: /* no data is lost, but the segment cannot be trusted */
            tu_flip_byte(seg, si.marker + 13);
            at = si.marker;
            break;
        case DMG_CUT: /* truncated at a record boundary: no end marker */
            assert_int_equal(truncate(seg, si.off[si.n - 1]), 0);
            lost[nlost++] = si.pk[si.n - 1];
            break;
        case DMG_AFTER_MARKER: {
            int fd = open(seg, O_WRONLY | O_APPEND);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, "\0\0\0\0\0\0\0\0\0\0", 10), 10);
            close(fd);
            at = si.size;
            break;
        }
        case DMG_HEADER: /* the records are intact and still replayable */
            tu_flip_byte(seg, 2);
            at = 0;
            break;
        }
        expect_refused(dir, &o, seg, at, HLN_ECORRUPT);
        expect_ignored(dir, &o, n, lost, nlost);
        tu_cleanup(dir);
    }
}

/* The newest segment is ended at the next start before it gets a successor:
 * its torn tail is cut and the end marker put after the last good record.
 * If that start dies before the replayed data is flushed, the segment is an
 * older one at the following start, and must replay without complaint.
 * Simulated by running the commitlog's own open sequence directly. */
static int count_record(void *ud, const uint8_t *body, size_t len, uint64_t seq, const char *path,
                        uint64_t off, hln_error *err)
{
    (void)body, (void)len, (void)seq, (void)path, (void)off, (void)err;
    (*(int *)ud)++;
    return 0;
}

static void test_torn_segment_ended_at_restart(void **state)
{
    (void)state;
    st_options o;
    st_options_default(&o);
    int n = 20;
    for (int kind = 0; kind < 2; kind++) {
        char *dir = tu_mkdtemp("cl-ended");
        crash_after(dir, &o, write_many, &n);
        seglist sl;
        list_segments(dir, &sl);
        assert_int_equal(sl.n, 1);
        char old[1400];
        snprintf(old, sizeof old, "%s", sl.path[0]);
        seginfo si;
        read_segment(old, &si);
        int lost;
        if (kind == 0) { /* a torn tail */
            assert_int_equal(truncate(old, si.size - 3), 0);
            lost = si.pk[n - 1];
        } else { /* unsynced damage with records after it (periodic mode) */
            tu_flip_byte(old, si.off[7] + REC_HDR + 3);
            lost = si.pk[7];
        }
        char cl[1024];
        snprintf(cl, sizeof cl, "%s/commitlog", dir);
        cl_log *l = NULL;
        hln_error err;
        assert_int_equal(cl_open(&l, cl, 0, false, &err), 0);
        assert_int_equal(cl_start(l, &err), HLN_ESERVER); /* replay comes first */
        int count = 0;
        assert_int_equal(cl_replay(l, false, count_record, &count, &err), 0);
        assert_int_equal(count, n - 1);
        assert_int_equal(cl_start(l, &err), 0);
        assert_int_equal(cl_close(l, &err), 0);
        /* the old segment now ends with an end marker (after the cut tail) */
        seginfo ended;
        if (kind == 0) {
            read_segment(old, &ended);
            assert_int_equal(ended.n, n - 1);
            assert_int_equal(ended.marker, si.off[n - 1]);
            assert_int_equal(ended.size, si.off[n - 1] + REC_HDR);
        } else {
            assert_int_equal(tu_file_size(old), si.size + REC_HDR);
        }
        list_segments(dir, &sl);
        assert_int_equal(sl.n, 2);
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        expect_all_but(e, n, &lost, 1);
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* A complete, checksummed header of another format version is not parsed
 * (and not taken for a torn write). */
static void test_unknown_version(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cl-version");
    char cl[1024], seg[1100];
    snprintf(cl, sizeof cl, "%s/commitlog", dir);
    assert_int_equal(mkdir(cl, 0755), 0);
    snprintf(seg, sizeof seg, "%s/CommitLog-7.log", cl);
    uint8_t hdr[24] = {'H', 'L', 'C', 'L', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0};
    uint32_t crc = hln_crc32(0, hdr, 20);
    hdr[20] = (uint8_t)(crc >> 24), hdr[21] = (uint8_t)(crc >> 16);
    hdr[22] = (uint8_t)(crc >> 8), hdr[23] = (uint8_t)crc;
    int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    assert_int_equal(write(fd, "\0\0\0\5something", 13), 13);
    close(fd);
    st_options o;
    st_options_default(&o);
    expect_refused(dir, &o, seg, -1, HLN_EUNSUPPORTED);
    /* a version newer than this build's says so */
    hdr[7] = 4;
    crc = hln_crc32(0, hdr, 20);
    hdr[20] = (uint8_t)(crc >> 24), hdr[21] = (uint8_t)(crc >> 16);
    hdr[22] = (uint8_t)(crc >> 8), hdr[23] = (uint8_t)crc;
    fd = open(seg, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
    close(fd);
    st_engine *e = NULL;
    hln_error err;
    assert_int_equal(st_open(&e, dir, &o, NULL, NULL, &err), HLN_EUNSUPPORTED);
    if (!strstr(err.msg, "format version 4, newer than this build supports"))
        fprintf(stderr, "message: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "format version 4, newer than this build supports"));
    tu_cleanup(dir);
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes <dir>/commitlog/CommitLog-<seq>.log by hand: a header of the given
 * format version and one record holding body (no end marker: the newest
 * segment of a crashed process). Returns the path (static buffer). */
static const char *write_segment(const char *dir, uint64_t seq, uint32_t version,
                                 const uint8_t *body, uint32_t len)
{
    static char seg[1100];
    char cl[1024];
    snprintf(cl, sizeof cl, "%s/commitlog", dir);
    mkdir(cl, 0755);
    snprintf(seg, sizeof seg, "%s/CommitLog-%llu.log", cl, (unsigned long long)seq);
    uint8_t hdr[24] = {'H', 'L', 'C', 'L'};
    put32be(hdr + 4, version);
    put32be(hdr + 8, (uint32_t)(seq >> 32));
    put32be(hdr + 12, (uint32_t)seq);
    put32be(hdr + 20, hln_crc32(0, hdr, 20));
    uint8_t rec[16];
    put32be(rec, len);
    put32be(rec + 4, 0);
    put32be(rec + 8, 24); /* synced mark: the header */
    uint32_t crc = hln_crc32(0, rec, 12);
    put32be(rec + 12, hln_crc32(crc, body, len));
    int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hdr, 24), 24);
    assert_int_equal(write(fd, rec, 16), 16);
    assert_int_equal(write(fd, body, len), (ssize_t)len);
    close(fd);
    return seg;
}

/* The body of a version 1 mutation (the previous build's): pk 1, row "a"
 * with marker 10 and column 1 = "old" at 10. */
static void v1_body(hln_buf *b)
{
    uint8_t pk[4];
    tu_pk(1, pk);
    hln_buf_u8(b, 1);
    hln_buf_put(b, T1, 16);
    hln_buf_u64(b, (uint64_t)tu_tok(1));
    hln_buf_u8(b, 4);
    hln_buf_put(b, pk, 4);
    hln_buf_u8(b, 0); /* no partition deletion, no range tombstones */
    hln_buf_u8(b, 1); /* one row */
    hln_buf_u8(b, 1); /* cklen */
    hln_buf_put(b, "a", 1);
    hln_buf_u8(b, 0x01); /* marker */
    hln_buf_u64(b, 10);
    hln_buf_u8(b, 1); /* one cell */
    hln_buf_u8(b, 1); /* column 1 */
    hln_buf_u8(b, 0);
    hln_buf_u64(b, 10);
    hln_buf_u8(b, 3);
    hln_buf_put(b, "old", 3);
}

/* A version 2 segment holding a version 1 mutation (and a version 2 batch
 * of one) replays; a record of a mutation version newer than this build
 * stops the open with a message naming the version. */
static void test_old_and_newer_records(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    v1_body(&b);
    st_options o;
    st_options_default(&o);
    for (int batch = 0; batch < 2; batch++) {
        char *dir = tu_mkdtemp("cl-v2");
        hln_buf body;
        hln_buf_init(&body);
        if (batch) {
            hln_buf_u8(&body, 2);
            hln_buf_u8(&body, 1);
        }
        hln_buf_put(&body, b.data, b.len);
        write_segment(dir, 3, 2, body.data, (uint32_t)body.len);
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        assert_string_equal(tu_read(e, T1, 1), "a*:1=old");
        assert_int_equal(tu_close(e), 0);
        e = tu_open(dir, &o);
        assert_string_equal(tu_read(e, T1, 1), "a*:1=old");
        assert_int_equal(tu_close(e), 0);
        hln_buf_free(&body);
        tu_cleanup(dir);
    }
    /* mutation and batch versions above this build's, in a segment it reads */
    const uint8_t newer[] = {5, 9};
    for (size_t i = 0; i < sizeof newer; i++) {
        char *dir = tu_mkdtemp("cl-newer");
        b.data[0] = newer[i];
        const char *seg = write_segment(dir, 3, 3, b.data, (uint32_t)b.len);
        st_engine *e = (st_engine *)1;
        hln_error err;
        memset(&err, 0, sizeof err);
        assert_int_equal(st_open(&e, dir, &o, NULL, NULL, &err), HLN_EUNSUPPORTED);
        assert_null(e);
        char want[96];
        snprintf(want, sizeof want, "mutation format version %u, newer than this build supports",
                 newer[i]);
        if (!strstr(err.msg, want) || !strstr(err.msg, seg))
            fprintf(stderr, "message: %s\n", err.msg);
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, seg));
        tu_cleanup(dir);
    }
    hln_buf_free(&b);
}

static void write_paths_ttl(st_engine *e, void *ud)
{
    (void)ud;
    st_cell old[3] = {tu_cell(1, 10, "s"), tu_pcell(2, "e1", 10, "x"), tu_pcell(2, "e2", 10, "y")};
    CHILD_OK(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, old, 3));
    st_cell nw[3] = {tu_coldel(2, 19), tu_pcell(2, "e2", 20, "w"), tu_pcell(2, "e3", 20, "z")};
    CHILD_OK(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, nw, 3));
    st_cell t[1] = {tu_ptomb(2, "e3", 21)};
    CHILD_OK(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, t, 1));
    /* an expiring row (marker and cell) */
    st_cell x[1] = {tu_expiring(tu_cell(1, 10, "x"), 60, 900)};
    st_row r = tu_xrow("a", 10, 900, x, 1);
    CHILD_OK(tu_apply_row(e, T1, 2, &r));
    /* a batch overwriting pk 1's collection again and pk 3's */
    uint8_t pk1[4], pk3[4];
    tu_pk(1, pk1);
    tu_pk(3, pk3);
    st_cell b1[2] = {tu_coldel(2, 29), tu_pcell(2, "e9", 30, "nine")};
    st_cell b3[2] = {tu_coldel(2, 29), tu_pcell(2, "e8", 30, "eight")};
    st_row r1 = tu_xrow("a", HLN_TS_NONE, 0, b1, 2), r3 = tu_xrow("a", 30, 0, b3, 2);
    st_mutation ms[2];
    memset(ms, 0, sizeof ms);
    memcpy(ms[0].table_id, T1, 16);
    memcpy(ms[1].table_id, T1, 16);
    ms[0].pk = pk1, ms[0].pklen = 4, ms[0].token = tu_tok(1), ms[0].pdel_ts = HLN_TS_NONE;
    ms[1].pk = pk3, ms[1].pklen = 4, ms[1].token = tu_tok(3), ms[1].pdel_ts = HLN_TS_NONE;
    ms[0].rows = &r1, ms[0].nrows = 1;
    ms[1].rows = &r3, ms[1].nrows = 1;
    hln_error err;
    CHILD_OK(st_apply_batch(e, ms, 2, &err));
    if (ud) CHILD_OK(st_apply_batch(e, ms, 2, &err));
}

/* Cell paths, column deletions and expiring markers survive a crash
 * (commitlog replay), in plain records and in batches. */
static void test_replay_paths_ttl(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cl-paths");
    st_options o;
    st_options_default(&o);
    o.sync = ST_SYNC_BATCH;
    crash_after(dir, &o, write_paths_ttl, NULL);
    for (int round = 0; round < 2; round++) {
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        assert_string_equal(tu_read(e, T1, 1), "a*:1=s,2[e9]=nine");
        assert_string_equal(tu_read_now(e, T1, 2, 800), "a*:1=x");
        assert_string_equal(tu_read_now(e, T1, 2, 900), "");
        assert_string_equal(tu_read(e, T1, 3), "a*:2[e8]=eight");
        assert_int_equal(tu_close(e), 0);
    }
    tu_cleanup(dir);
}

static bool only_t1(void *ud, const uint8_t id[16])
{
    (void)ud;
    return memcmp(id, T1, 16) == 0;
}

static void write_two_tables(st_engine *e, void *ud)
{
    bool drop = ud != NULL;
    st_cell c[1] = {tu_cell(1, 10, "v")};
    CHILD_OK(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, c, 1));
    CHILD_OK(tu_row(e, T2, 1, "a", 10, HLN_TS_NONE, c, 1));
    if (drop) {
        hln_error err;
        CHILD_OK(st_drop_table(e, T2, &err));
    }
    CHILD_OK(tu_row(e, T1, 2, "a", 10, HLN_TS_NONE, c, 1));
}

static void test_replay_skips_dropped(void **state)
{
    (void)state;
    for (int drop = 0; drop < 2; drop++) {
        char *dir = tu_mkdtemp("cl-dropped");
        st_options o;
        st_options_default(&o);
        crash_after(dir, &o, write_two_tables, drop ? (void *)1 : NULL);
        st_engine *e = NULL;
        hln_error err;
        assert_int_equal(st_open(&e, dir, &o, only_t1, NULL, &err), 0);
        assert_string_equal(tu_read(e, T1, 1), "a*:1=v");
        assert_string_equal(tu_read(e, T1, 2), "a*:1=v");
        assert_string_equal(tu_read(e, T2, 1), "");
        assert_int_equal(tu_close(e), 0);
        /* the skipped records are gone for good */
        e = tu_open(dir, &o);
        assert_string_equal(tu_read(e, T2, 1), "");
        assert_string_equal(tu_read(e, T1, 2), "a*:1=v");
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

static void test_oversized_mutation(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cl-big");
    st_options o;
    st_options_default(&o);
    o.segment_bytes = 4096;
    st_engine *e = tu_open(dir, &o);
    char *big = malloc(3000);
    memset(big, 'b', 2999);
    big[2999] = '\0';
    st_cell c[1] = {tu_cell(1, 10, big)};
    assert_int_equal(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, c, 1), HLN_EINVAL);
    assert_string_equal(tu_read(e, T1, 1), "");
    big[1500] = '\0';
    c[0] = tu_cell(1, 10, big);
    assert_int_equal(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, c, 1), 0);
    free(big);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

int main(void)
{
    hln_log_set_level(getenv("HLN_TEST_LOG") ? HLN_LOG_DEBUG : HLN_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_after_crash),
        cmocka_unit_test(test_double_crash),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_corrupt_mid_segment),
        cmocka_unit_test(test_corrupt_each_segment_third),
        cmocka_unit_test(test_periodic_synced_and_unsynced),
        cmocka_unit_test(test_corrupt_older_segment),
        cmocka_unit_test(test_torn_segment_ended_at_restart),
        cmocka_unit_test(test_unknown_version),
        cmocka_unit_test(test_old_and_newer_records),
        cmocka_unit_test(test_replay_paths_ttl),
        cmocka_unit_test(test_replay_skips_dropped),
        cmocka_unit_test(test_oversized_mutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
