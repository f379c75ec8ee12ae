/* modules: common storage */
/*
 * test_backpressure.c — memtable space (storage.h invariant 5): a shard's
 * memtables never grow without bound when the disk falls behind.
 *
 * The test hook HELENUS_TEST_FLUSH_STALL=<file> (read by st_open) makes the
 * flush thread wait while the file exists, as a disk that cannot keep up
 * would. With it, writes are accepted until the shard's memtables hold
 * memtable_space_bytes, then refused with HLN_EOVERLOADED while nothing of
 * them is logged or applied; reads keep working; once the file is gone the
 * flush finishes, writes are accepted again, and every acknowledged row
 * reads back, also after a restart. A second test shows the cleanup rule:
 * many tables each far below memtable_flush_bytes still get flushed (the
 * largest first) when together they fill the space, so writes go on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage_testutil.h"

#define SPACE (128 * 1024)
#define SLACK 4096 /* one mutation of this test, with its memtable overhead */
#define NPK 16

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (at most 10 s) until the engine accepts writes again. */
static bool wait_ready(st_engine *e)
{
    for (int i = 0; i < 1000; i++) {
        st_maintain(e);
        if (st_write_ready(e)) return true;
        sleep_ms(10);
    }
    return false;
}

static int put(st_engine *e, const uint8_t *tid, int i, const char *val)
{
    char ck[16];
    snprintf(ck, sizeof ck, "r%05d", i);
    st_cell c[1] = {tu_cell(1, i + 1, val)};
    return tu_row(e, tid, i % NPK, ck, i + 1, HLN_TS_NONE, c, 1);
}

/* The number of rows pk has now (each written row is one). */
static int rows_of(st_engine *e, const uint8_t *tid, int pk)
{
    uint8_t pkb[4];
    st_read_cmd c = tu_read_cmd(tid, pk, pkb, NULL, 0);
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_partition *p = NULL;
    hln_error err;
    int rc = st_read(e, &c, &a, &p, &err);
    int n = rc < 0 ? -1 : p ? (int)p->nrows : 0;
    hln_arena_free(&a);
    return n;
}

/* Rows acknowledged per partition must be exactly what reads return. */
static void check_rows(st_engine *e, const int acked[NPK])
{
    for (int pk = 0; pk < NPK; pk++)
        assert_int_equal(rows_of(e, T1, pk), acked[pk]);
}

static void test_writes_refused_while_flush_stalls(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-bp");
    char stall[1200];
    snprintf(stall, sizeof stall, "%s.stall", dir);
    FILE *f = fopen(stall, "w");
    assert_non_null(f);
    fclose(f);
    setenv("HELENUS_TEST_FLUSH_STALL", stall, 1);
    st_options o;
    st_options_default(&o);
    o.compaction_disabled = true;
    o.memtable_flush_bytes = 32 * 1024;
    o.memtable_space_bytes = SPACE;
    st_engine *e = tu_open(dir, &o);
    unsetenv("HELENUS_TEST_FLUSH_STALL"); /* read at open */
    assert_non_null(e);
    char val[201];
    memset(val, 'v', 200);
    val[200] = '\0';
    int acked[NPK] = {0};
    int i = 0, refused = -1;
    for (; i < 100000; i++) {
        int rc = put(e, T1, i, val);
        if (rc == HLN_EOVERLOADED) {
            refused = i;
            break;
        }
        assert_int_equal(rc, 0);
        acked[i % NPK]++;
        assert_true(st_memtable_bytes(e) <= SPACE + SLACK);
    }
    /* (b) refused, at the bound, not before half of it */
    assert_true(refused > 0);
    assert_true(st_memtable_bytes(e) >= SPACE);
    assert_true(st_memtable_bytes(e) <= SPACE + SLACK);
    /* still refused while the flush is stuck; memory stays where it is;
       reads are served and a refused row was not applied */
    size_t held = st_memtable_bytes(e);
    for (int k = 0; k < 50; k++) {
        assert_int_equal(put(e, T1, refused, val), HLN_EOVERLOADED);
        assert_false(st_write_ready(e));
        sleep_ms(2);
    }
    assert_true(st_memtable_bytes(e) == held);
    check_rows(e, acked);
    /* (c) the disk catches up: the flush ends, writes are accepted again */
    unlink(stall);
    assert_true(wait_ready(e));
    int total = refused + 3000;
    for (i = refused; i < total; i++) {
        int rc;
        while ((rc = put(e, T1, i, val)) == HLN_EOVERLOADED)
            assert_true(wait_ready(e));
        assert_int_equal(rc, 0);
        acked[i % NPK]++;
        assert_true(st_memtable_bytes(e) <= SPACE + SLACK);
    }
    check_rows(e, acked);
    assert_int_equal(tu_close(e), 0);
    /* and after a restart */
    e = tu_open(dir, &o);
    assert_non_null(e);
    check_rows(e, acked);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* Eight tables, each far below memtable_flush_bytes: together they fill
 * the space, and the largest memtable is flushed (cleanup) instead of
 * every write being refused for ever. */
static void test_cleanup_flushes_largest(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-bp-clean");
    st_options o;
    st_options_default(&o);
    o.compaction_disabled = true;
    o.memtable_flush_bytes = (size_t)64 << 20;
    o.memtable_space_bytes = SPACE;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    uint8_t tids[8][16];
    for (int t = 0; t < 8; t++) {
        memcpy(tids[t], T1, 16);
        tids[t][15] = (uint8_t)(0x40 + t);
    }
    char val[201];
    memset(val, 'w', 200);
    val[200] = '\0';
    int waits = 0;
    for (int i = 0; i < 4000; i++) {
        int rc;
        while ((rc = put(e, tids[i % 8], i, val)) == HLN_EOVERLOADED) {
            waits++;
            assert_true(wait_ready(e));
        }
        assert_int_equal(rc, 0);
        assert_true(st_memtable_bytes(e) <= SPACE + SLACK);
    }
    size_t flushed = 0;
    for (int t = 0; t < 8; t++)
        flushed += st_sstable_count(e, tids[t]);
    assert_true(flushed > 0);
    for (int t = 0; t < 8; t++)
        for (int pk = 0; pk < NPK; pk++) {
            /* row i went to table i % 8 and partition i % 16 */
            int expect = 0;
            for (int i = 0; i < 4000; i++)
                expect += i % 8 == t && i % NPK == pk;
            assert_int_equal(rows_of(e, tids[t], pk), expect);
        }
    (void)waits;
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_refused_while_flush_stalls),
        cmocka_unit_test(test_cleanup_flushes_largest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
