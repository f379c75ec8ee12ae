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
        assert_int_equal(tu_count_files(cl, ".log"), 1);
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
    /* garbage after the last complete record */
    {
        char *dir = tu_mkdtemp("cl-garbage");
        crash_after(dir, &o, write_many, &n);
        const char *seg = newest_segment(dir);
        int fd = open(seg, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "\x00\x00\x01\x00\xde\xad", 6), 6);
        close(fd);
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        expect_many(e, n, n);
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
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

/* Decodes the pks (first 4 bytes, big-endian) of every record of a segment
 * and the file offset of each record. */
static int segment_records(const char *path, int *pks, long *offs, int max)
{
    long size = tu_file_size(path);
    uint8_t *buf = malloc((size_t)size);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
    close(fd);
    int n = 0;
    long off = 24;
    hln_arena a;
    hln_arena_init(&a, 4096);
    while (off + 8 <= size && n < max) {
        uint32_t len = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                       (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        hln_rd r;
        hln_rd_init(&r, buf + off + 8, len);
        st_mutation m;
        assert_int_equal(st_mutation_decode(&r, &a, &m), 0);
        pks[n] = m.pk[0] << 24 | m.pk[1] << 16 | m.pk[2] << 8 | m.pk[3];
        offs[n] = off;
        n++;
        off += 8 + (long)len;
    }
    hln_arena_free(&a);
    free(buf);
    return n;
}

static void test_corrupt_older_segment(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cl-midcorrupt");
    st_options o;
    st_options_default(&o);
    o.segment_bytes = 1024;
    int n = 100;
    crash_after(dir, &o, write_many, &n);
    /* the oldest segment */
    char cl[1024];
    snprintf(cl, sizeof cl, "%s/commitlog", dir);
    int nseg = tu_count_files(cl, ".log");
    assert_true(nseg >= 4);
    char first[2048];
    unsigned long long lo = ~0ULL;
    DIR *d = opendir(cl);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long seq;
        if (sscanf(de->d_name, "CommitLog-%llu.log", &seq) == 1 && seq < lo) {
            lo = seq;
            snprintf(first, sizeof first, "%s/%s", cl, de->d_name);
        }
    }
    closedir(d);
    int pks[64];
    long offs[64];
    int nrec = segment_records(first, pks, offs, 64);
    assert_true(nrec >= 4);
    /* damage a body byte of the third record */
    tu_flip_byte(first, offs[2] + 8 + 10);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    for (int i = 0; i < n; i++) {
        bool lost = false;
        for (int k = 2; k < nrec; k++)
            lost |= pks[k] == i;
        char want[64];
        if (lost)
            want[0] = '\0';
        else
            snprintf(want, sizeof want, "r*:1=value-%d", i);
        assert_string_equal(tu_read(e, T1, i), want);
    }
    assert_int_equal(tu_close(e), 0);
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
        cmocka_unit_test(test_corrupt_older_segment),
        cmocka_unit_test(test_replay_skips_dropped),
        cmocka_unit_test(test_oversized_mutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
