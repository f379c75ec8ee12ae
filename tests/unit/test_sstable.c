/* modules: common storage */
/*
 * test_sstable.c — sstable files: every damaged byte is detected
 * (HLN_ECORRUPT at open or at read, never a crash or wrong data),
 * truncation, a file in the wrong table's directory, leftover temp files,
 * and the writer's ordering checks (through the private sstable.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage_testutil.h"
#include "storage/sstable/sstable.h"

enum { NPK = 4 };

/* Writes a small table (a few partitions, tombstones, several blocks in one
 * partition) and flushes it; returns the data file path (malloc'd). */
static char *make_table(const char *dir, bool big)
{
    st_options o;
    st_options_default(&o);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    for (int pk = 0; pk < NPK; pk++) {
        st_cell c[2] = {tu_cell(1, 10, "alpha"), tu_tomb(2, 11)};
        assert_int_equal(tu_row(e, T1, pk, "a", 10, HLN_TS_NONE, c, 2), 0);
        assert_int_equal(tu_row(e, T1, pk, "b", HLN_TS_NONE, 12, NULL, 0), 0);
        /* the version 3 row format: paths, a column deletion, an expiring
           marker and cell */
        st_cell p[4] = {tu_coldel(3, 9), tu_pcell(3, "k1", 10, "one"), tu_ptomb(3, "k2", 10),
                        tu_expiring(tu_pcell(3, "k3", 10, "three"), 60, 5000)};
        st_row r = tu_xrow("c", 10, 5000, p, 4);
        assert_int_equal(tu_apply_row(e, T1, pk, &r), 0);
    }
    assert_int_equal(tu_pdel(e, T1, 3, 5), 0);
    if (big) {
        static char val[30001];
        memset(val, 'q', 30000);
        for (int i = 0; i < 8; i++) {
            char ck[8];
            snprintf(ck, sizeof ck, "c%d", i);
            st_cell c[1] = {tu_cell(1, 10, val)};
            assert_int_equal(tu_row(e, T1, 1, ck, 10, HLN_TS_NONE, c, 1), 0);
        }
    }
    assert_int_equal(tu_close(e), 0);
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/tables", dir);
    const char *p = tu_find_file(tdir, "-Data.db");
    assert_non_null(p);
    return strdup(p);
}

/* Opens dir and reads everything; returns 0 if all went well, else the
 * first error. */
static int read_all(const char *dir)
{
    st_options o;
    st_options_default(&o);
    st_engine *e = NULL;
    hln_error err;
    int rc = st_open(&e, dir, &o, NULL, NULL, &err);
    if (rc < 0) return rc;
    int first = 0;
    for (int pk = 0; pk < NPK && !first; pk++) {
        const char *got = tu_read(e, T1, pk);
        if (strncmp(got, "ERR", 3) == 0) first = atoi(got + 3);
        for (int rev = 0; rev < 2 && !first; rev++) {
            tu_slice s = {NULL, true, NULL, true, rev != 0, 0};
            got = tu_read_slice(e, T1, pk, &s);
            if (strncmp(got, "ERR", 3) == 0) first = atoi(got + 3);
        }
    }
    if (!first) {
        st_scan_cmd c;
        memset(&c, 0, sizeof c);
        memcpy(c.table_id, T1, 16);
        c.start_token = INT64_MIN;
        c.end_token = INT64_MAX;
        hln_arena a;
        hln_arena_init(&a, 4096);
        st_partition *p;
        first = st_scan(e, &c, &a, &p, &err);
        hln_arena_free(&a);
    }
    st_close(e, &err);
    return first;
}

static void check_every_byte(bool big)
{
    char *dir = tu_mkdtemp("sst-bytes");
    char *path = make_table(dir, big);
    assert_int_equal(read_all(dir), 0);
    long size = tu_file_size(path);
    assert_true(size > 80);
    /* for a big file, every byte of the first 2 KiB and the last 2 KiB, and
       a stride through the middle */
    long stride = big ? 997 : 1;
    for (long off = 0; off < size; off++) {
        if (big && off > 2048 && off < size - 2048 && off % stride != 0) continue;
        tu_flip_byte(path, off);
        int rc = read_all(dir);
        if (rc != HLN_ECORRUPT) fprintf(stderr, "flipping byte %ld of %ld: rc %d\n", off, size, rc);
        assert_int_equal(rc, HLN_ECORRUPT);
        tu_flip_byte(path, off);
    }
    assert_int_equal(read_all(dir), 0);
    free(path);
    tu_cleanup(dir);
}

static void test_every_byte_small(void **state)
{
    (void)state;
    check_every_byte(false);
}

static void test_every_byte_big(void **state)
{
    (void)state;
    check_every_byte(true);
}

static void test_truncated(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-trunc");
    char *path = make_table(dir, true);
    long size = tu_file_size(path);
    long cuts[] = {0, 1, 31, 32, 79, size / 2, size - 48, size - 1};
    for (size_t i = 0; i < HLN_ARRAY_LEN(cuts); i++) {
        char *copy = malloc((size_t)size);
        int fd = open(path, O_RDONLY);
        assert_int_equal(pread(fd, copy, (size_t)size, 0), size);
        close(fd);
        assert_int_equal(truncate(path, cuts[i]), 0);
        assert_int_equal(read_all(dir), HLN_ECORRUPT);
        fd = open(path, O_WRONLY);
        assert_int_equal(pwrite(fd, copy, (size_t)size, 0), size);
        close(fd);
        free(copy);
    }
    assert_int_equal(read_all(dir), 0);
    free(path);
    tu_cleanup(dir);
}

static void test_wrong_table_dir(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-wrong");
    char *path = make_table(dir, false);
    char other[1024];
    snprintf(other, sizeof other, "%s/tables/220102030405060708090a0b0c0d0e0f", dir);
    assert_int_equal(mkdir(other, 0755), 0);
    char dst[1100];
    snprintf(dst, sizeof dst, "%s/nb-1-Data.db", other);
    assert_int_equal(link(path, dst), 0);
    st_options o;
    st_options_default(&o);
    st_engine *e = NULL;
    hln_error err;
    assert_int_equal(st_open(&e, dir, &o, NULL, NULL, &err), HLN_ECORRUPT);
    assert_non_null(strstr(err.msg, "another table"));
    free(path);
    tu_cleanup(dir);
}

static void test_leftover_tmp(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-tmp");
    char *path = make_table(dir, false);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* a half-written sstable of a later generation */
    int fd = open(tmp, O_WRONLY | O_CREAT, 0644);
    assert_int_equal(write(fd, "HLNSgarbage", 11), 11);
    close(fd);
    assert_int_equal(read_all(dir), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    free(path);
    tu_cleanup(dir);
}

static void test_writer_order_checks(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-writer");
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    sst_writer *w;
    hln_error err;
    uint8_t k1[9], k2[9];
    uint8_t one = 1, two = 2;
    st_key_encode(5, &two, 1, k1);
    st_key_encode(5, &one, 1, k2);
    assert_int_equal(sst_writer_open(&w, path, T1, &err), 0);
    assert_int_equal(sst_writer_begin_partition(w, k1, 9, HLN_TS_NONE, &err), 0);
    st_row r1 = {(const uint8_t *)"b", 1, 1, HLN_TS_NONE, NULL, 0, 0, 0};
    st_row r0 = {(const uint8_t *)"a", 1, 1, HLN_TS_NONE, NULL, 0, 0, 0};
    assert_int_equal(sst_writer_row(w, &r1, &err), 0);
    assert_int_equal(sst_writer_row(w, &r0, &err), HLN_ESERVER);
    assert_int_equal(sst_writer_row(w, &r1, &err), HLN_ESERVER);
    assert_int_equal(sst_writer_end_partition(w, &err), 0);
    /* (5, 0x01) sorts before (5, 0x02) */
    assert_int_equal(sst_writer_begin_partition(w, k2, 9, HLN_TS_NONE, &err), HLN_ESERVER);
    sst_writer_abort(w);
    assert_int_equal(tu_count_files(dir, ".tmp"), 0);
    assert_int_equal(tu_count_files(dir, "-Data.db"), 0);

    /* a well-formed file reads back through the reader API */
    assert_int_equal(sst_writer_open(&w, path, T1, &err), 0);
    assert_int_equal(sst_writer_begin_partition(w, k2, 9, 77, &err), 0);
    assert_int_equal(sst_writer_end_partition(w, &err), 0);
    assert_int_equal(sst_writer_begin_partition(w, k1, 9, HLN_TS_NONE, &err), 0);
    assert_int_equal(sst_writer_row(w, &r0, &err), 0);
    assert_int_equal(sst_writer_row(w, &r1, &err), 0);
    assert_int_equal(sst_writer_end_partition(w, &err), 0);
    assert_int_equal(sst_writer_finish(w, &err), 0);
    sst_reader *r;
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_int_equal(r->nentries, 2);
    const sst_entry *e2 = sst_get(r, k2, 9), *e1 = sst_get(r, k1, 9);
    assert_non_null(e1);
    assert_non_null(e2);
    assert_true(e2->pdel_ts == 77 && e2->nblocks == 0);
    assert_int_equal(e1->nblocks, 1);
    hln_arena a;
    hln_arena_init(&a, 4096);
    sst_rowit it;
    st_bound all = {NULL, 0, true};
    assert_int_equal(sst_rowit_init(&it, r, e1, &all, &all, true, &a, &err), 0);
    const st_row *row;
    assert_int_equal(it.base.next(&it.base, &row, &err), 1);
    assert_memory_equal(row->ck, "b", 1);
    assert_int_equal(it.base.next(&it.base, &row, &err), 1);
    assert_memory_equal(row->ck, "a", 1);
    assert_int_equal(it.base.next(&it.base, &row, &err), 0);
    hln_arena_free(&a);
    sst_close(r);
    assert_int_equal(sst_open(&r, path, 1, T2, &err), HLN_ECORRUPT);
    tu_cleanup(dir);
}

/* The bloom filter never hides a present key and rules out most absent
 * ones, also keys that share a token with a present key. */
static void test_bloom(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-bloom");
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    sst_writer *w;
    hln_error err;
    enum { N = 20000 };
    assert_int_equal(sst_writer_open(&w, path, T1, &err), 0);
    uint8_t k[12];
    for (uint32_t i = 0; i < N; i++) {
        uint8_t pk[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        st_key_encode((int64_t)i * 7919 - 50000000, pk, 4, k); /* increasing tokens */
        assert_int_equal(sst_writer_begin_partition(w, k, 12, 5, &err), 0);
        assert_int_equal(sst_writer_end_partition(w, &err), 0);
    }
    assert_int_equal(sst_writer_finish(w, &err), 0);
    sst_reader *r;
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_non_null(r->bloom);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t pk[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        st_key_encode((int64_t)i * 7919 - 50000000, pk, 4, k);
        assert_true(sst_may_contain(r, k, 12));
        assert_non_null(sst_get(r, k, 12));
    }
    uint32_t fp_other = 0, fp_same_token = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint8_t pk[4] = {0xEE, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        st_key_encode((int64_t)i * 7919 - 50000000 + 3, pk, 4, k); /* absent tokens */
        if (sst_may_contain(r, k, 12)) fp_other++;
        assert_null(sst_get(r, k, 12));
        st_key_encode((int64_t)i * 7919 - 50000000, pk, 4, k); /* a present token */
        if (sst_may_contain(r, k, 12)) fp_same_token++;
        assert_null(sst_get(r, k, 12));
    }
    /* ~1% expected; a broken filter answers true (or false) for everything */
    assert_true(fp_other < N / 30);
    assert_true(fp_same_token < N / 30);
    sst_close(r);
    tu_cleanup(dir);
}

/* Rewrites the version in the header and the footer of an sstable (and
 * their checksums), as a file of that version would have them. */
static void set_version(const char *path, uint32_t v)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    long size = tu_file_size(path);
    uint8_t h[32], f[48];
    assert_int_equal(pread(fd, h, 32, 0), 32);
    assert_int_equal(pread(fd, f, 48, size - 48), 48);
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (uint8_t)(v >> (24 - 8 * i));
        f[36 + i] = (uint8_t)(v >> (24 - 8 * i));
    }
    uint32_t hc = hln_crc32(0, h, 28), fc = hln_crc32(0, f, 44);
    for (int i = 0; i < 4; i++) {
        h[28 + i] = (uint8_t)(hc >> (24 - 8 * i));
        f[44 + i] = (uint8_t)(fc >> (24 - 8 * i));
    }
    assert_int_equal(pwrite(fd, h, 32, 0), 32);
    assert_int_equal(pwrite(fd, f, 48, size - 48), 48);
    close(fd);
}

/* Version 2 files (no paths, no column deletions, no expiring markers)
 * are still read; the version 3 row bits in a version 2 file are
 * corruption; a version newer than this build is refused, naming it. */
static void test_versions(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-version");
    st_options o;
    st_options_default(&o);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    st_cell c[2] = {tu_cell(1, 10, "alpha"), tu_expiring(tu_cell(2, 11, "beta"), 60, 5000)};
    assert_int_equal(tu_row(e, T1, 1, "a", 10, 5, c, 2), 0);
    assert_int_equal(tu_pdel(e, T1, 2, 5), 0);
    assert_int_equal(tu_close(e), 0);
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/tables", dir);
    char *path = strdup(tu_find_file(tdir, "-Data.db"));
    set_version(path, 2);
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_string_equal(tu_read(e, T1, 1), "a*:1=alpha,2=beta");
    assert_string_equal(tu_read_now(e, T1, 1, 6000), "a*:1=alpha");
    assert_int_equal(tu_close(e), 0);

    set_version(path, 4);
    e = (st_engine *)1;
    hln_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(st_open(&e, dir, &o, NULL, NULL, &err), HLN_EUNSUPPORTED);
    assert_null(e);
    if (!strstr(err.msg, "sstable format version 4 is newer than this build supports (3)"))
        fprintf(stderr, "message: %s\n", err.msg);
    assert_non_null(
        strstr(err.msg, "sstable format version 4 is newer than this build supports (3)"));
    assert_non_null(strstr(err.msg, path));
    set_version(path, 0);
    assert_int_equal(st_open(&e, dir, &o, NULL, NULL, &err), HLN_ECORRUPT);
    set_version(path, 3);
    assert_int_equal(read_all(dir), 0);
    free(path);
    tu_cleanup(dir);

    /* a version 3 file with paths, labelled version 2 */
    dir = tu_mkdtemp("sst-version");
    path = make_table(dir, false);
    assert_int_equal(read_all(dir), 0);
    set_version(path, 2);
    assert_int_equal(read_all(dir), HLN_ECORRUPT);
    free(path);
    tu_cleanup(dir);
}

/* The cells of the only row of partition pk in the table's only sstable,
 * rendered as "col[path]@ts=val" with "D" for a column deletion and "T"
 * for a tombstone. */
static const char *file_cells(const char *dir, int pk)
{
    static char out[1024];
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/tables", dir);
    const char *p = tu_find_file(tdir, "-Data.db");
    assert_non_null(p);
    sst_reader *r;
    hln_error err;
    assert_int_equal(sst_open(&r, p, 1, T1, &err), 0);
    uint8_t pkb[4], key[12];
    tu_pk(pk, pkb);
    st_key_encode(tu_tok(pk), pkb, 4, key);
    const sst_entry *se = sst_get(r, key, 12);
    assert_non_null(se);
    hln_arena a;
    hln_arena_init(&a, 4096);
    sst_rowit it;
    st_bound all = {NULL, 0, true};
    assert_int_equal(sst_rowit_init(&it, r, se, &all, &all, false, &a, &err), 0);
    const st_row *row;
    assert_int_equal(it.base.next(&it.base, &row, &err), 1);
    out[0] = '\0';
    size_t n = 0;
    for (uint32_t i = 0; i < row->ncells; i++) {
        const st_cell *c = &row->cells[i];
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%u[%.*s]@%lld%s%.*s", i ? " " : "",
                              c->col_id, (int)c->pathlen, (const char *)c->path, (long long)c->ts,
                              c->flags == ST_CELL_COLDEL      ? "D"
                              : c->flags == ST_CELL_TOMBSTONE ? "T"
                                                              : "=",
                              (int)c->len, (const char *)c->val);
    }
    assert_int_equal(it.base.next(&it.base, &row, &err), 0);
    hln_arena_free(&a);
    sst_close(r);
    return out;
}

/* What a column deletion shadows is dropped when it is written out: by the
 * memtable (flush) and by compaction; the column deletion stays. */
static void test_coldel_drops_shadowed(void **state)
{
    (void)state;
    for (int split = 0; split < 2; split++) {
        char *dir = tu_mkdtemp("sst-coldel");
        st_options o;
        st_options_default(&o);
        o.compaction_disabled = true;
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        st_cell old[3] = {tu_cell(1, 10, "s"), tu_pcell(2, "e1", 10, "x"),
                          tu_pcell(2, "e2", 10, "y")};
        assert_int_equal(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, old, 3), 0);
        if (split) assert_int_equal(tu_flush(e), 0);
        st_cell nw[3] = {tu_pcell(2, "e3", 20, "z"), tu_coldel(2, 19), tu_pcell(2, "e2", 20, "w")};
        assert_int_equal(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, nw, 3), 0);
        st_cell late[1] = {tu_pcell(2, "e4", 18, "late")};
        assert_int_equal(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, late, 1), 0);
        assert_int_equal(tu_flush(e), 0);
        if (split) {
            assert_int_equal(st_sstable_count(e, T1), 2);
            hln_error err;
            assert_int_equal(st_compact(e, T1, &err), 0);
        }
        assert_int_equal(st_sstable_count(e, T1), 1);
        assert_string_equal(file_cells(dir, 1), "1[]@10=s 2[]@19D 2[e2]@20=w 2[e3]@20=z");
        assert_string_equal(tu_read(e, T1, 1), "a*:1=s,2[e2]=w,2[e3]=z");
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* The writer refuses cells out of (column, column deletion first, path)
 * order and duplicates. */
static void test_writer_cell_order(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-cellorder");
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    uint8_t k[9], one = 1;
    st_key_encode(5, &one, 1, k);
    st_cell good[5] = {tu_cell(1, 1, "a"), tu_coldel(2, 1), tu_pcell(2, "a", 1, "x"),
                       tu_pcell(2, "ab", 1, "x"), tu_pcell(3, "", 1, "x")};
    st_cell bad[][2] = {
        {tu_pcell(2, "b", 1, "x"), tu_pcell(2, "a", 1, "x")},
        {tu_pcell(2, "a", 1, "x"), tu_coldel(2, 1)},
        {tu_pcell(2, "a", 1, "x"), tu_pcell(2, "a", 2, "y")},
        {tu_coldel(2, 1), tu_coldel(2, 2)},
        {tu_cell(3, 1, "x"), tu_pcell(2, "a", 1, "x")},
    };
    for (size_t i = 0; i <= HLN_ARRAY_LEN(bad); i++) {
        sst_writer *w;
        hln_error err;
        assert_int_equal(sst_writer_open(&w, path, T1, &err), 0);
        assert_int_equal(sst_writer_begin_partition(w, k, 9, HLN_TS_NONE, &err), 0);
        st_row r = {(const uint8_t *)"a", 1, 1, HLN_TS_NONE, good, 5, 0, 0};
        if (i < HLN_ARRAY_LEN(bad)) {
            r.cells = bad[i];
            r.ncells = 2;
            assert_int_equal(sst_writer_row(w, &r, &err), HLN_ESERVER);
            sst_writer_abort(w);
            continue;
        }
        assert_int_equal(sst_writer_row(w, &r, &err), 0);
        assert_int_equal(sst_writer_end_partition(w, &err), 0);
        assert_int_equal(sst_writer_finish(w, &err), 0);
    }
    tu_cleanup(dir);
}

int main(void)
{
    hln_log_set_level(getenv("HLN_TEST_LOG") ? HLN_LOG_DEBUG : HLN_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_small),
        cmocka_unit_test(test_every_byte_big),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_table_dir),
        cmocka_unit_test(test_leftover_tmp),
        cmocka_unit_test(test_writer_order_checks),
        cmocka_unit_test(test_bloom),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_coldel_drops_shadowed),
        cmocka_unit_test(test_writer_cell_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
