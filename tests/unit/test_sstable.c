/* modules: common storage */
/*
 * test_sstable.c — sstable files: every damaged byte is detected
 * (HLN_ECORRUPT at open or at read, never a crash or wrong data), also in
 * compressed files, truncation, a file in the wrong table's directory,
 * leftover temp files, the writer's ordering checks (through the private
 * sstable.h), format versions (committed version 3 files under data/),
 * compression round trips with every codec and two chunk sizes, and the
 * version 4 file statistics.
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

static void recompress(const char *path, const sst_write_opts *o);

static void check_every_byte(bool big, const sst_write_opts *opts)
{
    char *dir = tu_mkdtemp("sst-bytes");
    char *path = make_table(dir, big);
    if (opts) recompress(path, opts);
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
    check_every_byte(false, NULL);
}

static void test_every_byte_big(void **state)
{
    (void)state;
    check_every_byte(true, NULL);
}

static void test_every_byte_compressed(void **state)
{
    (void)state;
    sst_write_opts lz4 = {SST_CODEC_LZ4, 0, 4096, 0}, zstd = {SST_CODEC_ZSTD, 0, 4096, 0};
    check_every_byte(false, &lz4);
    check_every_byte(false, &zstd);
    check_every_byte(true, &lz4);
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
    assert_int_equal(sst_writer_open(&w, path, T1, NULL, &err), 0);
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
    assert_int_equal(sst_writer_open(&w, path, T1, NULL, &err), 0);
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
    assert_int_equal(sst_writer_open(&w, path, T1, NULL, &err), 0);
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

/* Copies a committed fixture (tests/unit/data/) into dir as the only
 * sstable of table T1; returns its path (malloc'd). */
static char *install_fixture(const char *dir, const char *name)
{
    char src[1024], tdir[1024], cmd[4096];
    snprintf(src, sizeof src, "%s/%s", HLN_TEST_DATA, name);
    snprintf(tdir, sizeof tdir, "%s/tables/110102030405060708090a0b0c0d0e0f", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/nb-1-Data.db'", tdir, src, tdir);
    assert_int_equal(system(cmd), 0);
    char *p = malloc(strlen(tdir) + 16);
    sprintf(p, "%s/nb-1-Data.db", tdir);
    return p;
}

/* Version 3 files, written by the build before version 4 (committed under
 * tests/unit/data/), and version 2 files (a version 3 file without paths,
 * column deletions or expiring markers, relabelled) are still read, with
 * conservative statistics; the version 3 row bits in a version 2 file are
 * corruption; a version newer than this build is refused, naming it; a
 * version 4 file relabelled 3 is corrupt. */
static void test_versions(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-version");
    st_options o;
    st_options_default(&o);
    char *path = install_fixture(dir, "sstable-v3-basic-Data.db");
    for (uint32_t v = 3; v >= 2; v--) {
        set_version(path, v);
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        assert_string_equal(tu_read(e, T1, 1), "a*:1=alpha,2=beta");
        assert_string_equal(tu_read_now(e, T1, 1, 6000), "a*:1=alpha");
        assert_int_equal(tu_close(e), 0);
        sst_reader *r;
        hln_error err;
        assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
        assert_int_equal(r->version, v);
        assert_int_equal(r->codec, SST_CODEC_NONE);
        assert_true(r->stats.min_ts == INT64_MIN && r->stats.max_ts == INT64_MAX);
        assert_true(r->stats.max_del_sec == INT64_MAX && r->stats.min_del_sec == INT64_MIN);
        assert_false(r->stats.all_dying);
        assert_true(r->data_bytes == r->raw_bytes && r->data_bytes == r->index_off - 32);
        sst_close(r);
    }

    set_version(path, 7);
    st_engine *e = (st_engine *)1;
    hln_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(st_open(&e, dir, &o, NULL, NULL, &err), HLN_EUNSUPPORTED);
    assert_null(e);
    if (!strstr(err.msg, "sstable format version 7 is newer than this build supports (6)"))
        fprintf(stderr, "message: %s\n", err.msg);
    assert_non_null(
        strstr(err.msg, "sstable format version 7 is newer than this build supports (6)"));
    assert_non_null(strstr(err.msg, path));
    set_version(path, 0);
    assert_int_equal(st_open(&e, dir, &o, NULL, NULL, &err), HLN_ECORRUPT);
    set_version(path, 3);
    assert_int_equal(read_all(dir), 0);
    free(path);
    tu_cleanup(dir);

    /* a version 3 file with paths reads as 3, is corrupt labelled 2 */
    dir = tu_mkdtemp("sst-version");
    path = install_fixture(dir, "sstable-v3-paths-Data.db");
    assert_int_equal(read_all(dir), 0);
    set_version(path, 2);
    assert_int_equal(read_all(dir), HLN_ECORRUPT);
    free(path);
    tu_cleanup(dir);

    /* a version 5 file (written by the build before version 6, committed
       under tests/unit/data/) reads, without a deletion histogram */
    dir = tu_mkdtemp("sst-version");
    path = install_fixture(dir, "sstable-v5-Data.db");
    sst_reader *r;
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_int_equal(r->version, 5);
    assert_false(r->stats.has_hist);
    assert_int_equal(sst_droppable(&r->stats, INT64_MAX), 0);
    assert_true(r->stats.min_ts == 1000 && r->stats.max_ts == 3000000);
    sst_close(r);
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_string_equal(tu_read(e, T1, 1), "a*:1=alpha,2=beta");
    assert_string_equal(tu_read(e, T1, 2), "b*:1=gamma");
    assert_string_equal(tu_read(e, T1, 3), "");
    assert_int_equal(tu_close(e), 0);
    free(path);
    tu_cleanup(dir);

    /* what this build writes is version 6; labelled 5 (no histogram), 4
       (timestamps read as 8-byte fields) or 3 (no file record), it is
       corrupt */
    dir = tu_mkdtemp("sst-version");
    path = make_table(dir, false);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_int_equal(r->version, 6);
    assert_true(r->stats.has_hist);
    sst_close(r);
    assert_int_equal(read_all(dir), 0);
    set_version(path, 5);
    assert_int_equal(read_all(dir), HLN_ECORRUPT);
    set_version(path, 4);
    assert_int_equal(read_all(dir), HLN_ECORRUPT);
    set_version(path, 3);
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
        tu_no_purge(&o); /* the column deletion stays */
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
        assert_int_equal(sst_writer_open(&w, path, T1, NULL, &err), 0);
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

/* ---- compression ---- */

/* Rewrites the sstable at path (every partition, range tombstone and row,
 * in order) with the given options, in place. */
static void recompress(const char *path, const sst_write_opts *o)
{
    sst_reader *r;
    sst_writer *w;
    hln_error err;
    char npath[1100];
    snprintf(npath, sizeof npath, "%s.new", path);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_int_equal(sst_writer_open(&w, npath, T1, o, &err), 0);
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_bound all = {NULL, 0, true};
    for (size_t i = 0; i < r->nentries; i++) {
        const sst_entry *e = &r->entries[i];
        assert_int_equal(sst_writer_begin_partition(w, e->key, e->klen, e->pdel_ts, &err), 0);
        st_range_tomb *rts;
        assert_int_equal(sst_entry_rts(r, e, &a, &rts, &err), 0);
        if (e->nrts) assert_int_equal(sst_writer_range_tombs(w, rts, e->nrts, &err), 0);
        sst_rowit it;
        assert_int_equal(sst_rowit_init(&it, r, e, &all, &all, false, &a, &err), 0);
        const st_row *row;
        int rc;
        while ((rc = it.base.next(&it.base, &row, &err)) == 1)
            assert_int_equal(sst_writer_row(w, row, &err), 0);
        assert_int_equal(rc, 0);
        assert_int_equal(sst_writer_end_partition(w, &err), 0);
        hln_arena_reset(&a);
    }
    assert_int_equal(sst_writer_finish(w, &err), 0);
    hln_arena_free(&a);
    sst_close(r);
    assert_int_equal(rename(npath, path), 0);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_int_equal(r->codec, o->codec);
    assert_true(o->codec == SST_CODEC_NONE || r->nchunks > 0);
    sst_close(r);
}

enum { RT_NPART = 2000, RT_BIG_ROWS = 300 };

static void rt_key(uint32_t i, uint8_t k[12])
{
    uint8_t pk[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    st_key_encode((int64_t)i * 7919 - 50000000, pk, 4, k);
}

/* A few thousand partitions: mostly one to five small rows, every 400th
 * one of RT_BIG_ROWS rows of ~1 KiB (several blocks), range tombstones,
 * partition deletions, tombstones, expiring and path cells; the values
 * are repetitive text. */
static void write_corpus(const char *path, const sst_write_opts *o)
{
    sst_writer *w;
    hln_error err;
    assert_int_equal(sst_writer_open(&w, path, T1, o, &err), 0);
    static char big[1100];
    for (size_t i = 0; i + 1 < sizeof big; i++)
        big[i] = "the quick brown fox jumps over the lazy dog "[i % 44];
    for (uint32_t i = 0; i < RT_NPART; i++) {
        uint8_t k[12];
        rt_key(i, k);
        int64_t pdel = i % 97 == 0 ? 1000 + (int64_t)i : HLN_TS_NONE;
        assert_int_equal(sst_writer_begin_partition(w, k, 12, pdel, &err), 0);
        if (i % 13 == 0) {
            st_range_tomb rt = {{(const uint8_t *)"r00003", 6, true},
                                {(const uint8_t *)"r00007", 6, false},
                                2000 + (int64_t)i};
            assert_int_equal(sst_writer_range_tombs(w, &rt, 1, &err), 0);
        }
        uint32_t nrows = i % 400 == 7 ? RT_BIG_ROWS : 1 + i % 5;
        if (i % 211 == 5) nrows = 0; /* only a deletion */
        for (uint32_t j = 0; j < nrows; j++) {
            char ck[16], v[128];
            snprintf(ck, sizeof ck, "r%05u", j);
            snprintf(v, sizeof v, "value %u of partition %u: lorem ipsum dolor sit amet", j, i);
            st_cell c[5];
            uint32_t n = 0;
            c[n++] = tu_cell(1, 100 + j, nrows == RT_BIG_ROWS ? big : v);
            if ((i + j) % 3 == 0) c[n++] = tu_tomb(2, 50);
            if ((i + j) % 4 == 1) {
                c[n++] = tu_coldel(3, 40);
                c[n++] = tu_pcell(3, "k1", 41, "element");
            }
            if ((i + j) % 5 == 2) c[n++] = tu_expiring(tu_cell(4, 60, v), 60, 7000 + j);
            st_row row = tu_xrow(ck, j % 7 == 3 ? HLN_TS_NONE : 99, j % 11 == 4 ? 8000 : 0, c, n);
            if (j % 17 == 9) row.del_ts = 30;
            assert_int_equal(sst_writer_row(w, &row, &err), 0);
        }
        assert_int_equal(sst_writer_end_partition(w, &err), 0);
    }
    assert_int_equal(sst_writer_finish(w, &err), 0);
}

static void dump_rows(const sst_reader *r, const sst_entry *e, const st_bound *start,
                      const st_bound *end, bool rev, hln_arena *a, hln_buf *out, uint64_t *nrows)
{
    hln_error err;
    sst_rowit it;
    assert_int_equal(sst_rowit_init(&it, r, e, start, end, rev, a, &err), 0);
    const st_row *row;
    int rc;
    while ((rc = it.base.next(&it.base, &row, &err)) == 1) {
        st_row_encode(row, out);
        (*nrows)++;
    }
    if (rc != 0) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    hln_buf_u8(out, 0xEE); /* end of a slice */
}

/* Everything a reader returns for the corpus, as bytes: per partition its
 * key, deletion, range tombstones and four slices (whole forward and
 * reversed, r00002..r00150 forward and reversed). */
static void dump_file(const char *path, hln_buf *out, uint64_t *nrows, sst_reader **keep)
{
    sst_reader *r;
    hln_error err;
    if (sst_open(&r, path, 1, T1, &err) != 0) fprintf(stderr, "%s\n", err.msg);
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_bound all = {NULL, 0, true};
    st_bound lo = {(const uint8_t *)"r00002", 6, true}, hi = {(const uint8_t *)"r00150", 6, false};
    assert_int_equal(r->nentries, RT_NPART);
    for (uint32_t i = 0; i < RT_NPART; i++) {
        uint8_t k[12];
        rt_key(i, k);
        const sst_entry *e = sst_get(r, k, 12);
        assert_non_null(e);
        hln_buf_put(out, e->key, e->klen);
        hln_buf_u64(out, (uint64_t)e->pdel_ts);
        st_range_tomb *rts;
        assert_int_equal(sst_entry_rts(r, e, &a, &rts, &err), 0);
        for (uint32_t t = 0; t < e->nrts; t++)
            st_rt_encode(&rts[t], out);
        dump_rows(r, e, &all, &all, false, &a, out, nrows);
        dump_rows(r, e, &all, &all, true, &a, out, nrows);
        dump_rows(r, e, &lo, &hi, false, &a, out, nrows);
        dump_rows(r, e, &lo, &hi, true, &a, out, nrows);
        hln_arena_reset(&a);
    }
    hln_arena_free(&a);
    assert_int_equal(out->err, 0);
    if (keep)
        *keep = r;
    else
        sst_close(r);
}

/* Every codec with 4 KiB and 64 KiB chunks returns exactly what the
 * uncompressed file returns; compressible data gets smaller. */
static void test_compression_roundtrip(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-codec");
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    write_corpus(path, NULL);
    long plain_size = tu_file_size(path);
    hln_buf ref;
    hln_buf_init(&ref);
    uint64_t ref_rows = 0;
    sst_reader *pr;
    dump_file(path, &ref, &ref_rows, &pr);
    assert_int_equal(pr->codec, SST_CODEC_NONE);
    assert_true(pr->raw_bytes == pr->data_bytes && pr->nchunks == 0);
    sst_stats pstats = pr->stats;
    uint64_t plain_raw = pr->raw_bytes;
    sst_close(pr);
    assert_true(ref_rows > 4 * RT_NPART);
    sst_codec codecs[] = {SST_CODEC_LZ4, SST_CODEC_ZSTD, SST_CODEC_SNAPPY, SST_CODEC_DEFLATE};
    uint32_t chunks[] = {4096, 65536};
    for (size_t c = 0; c < HLN_ARRAY_LEN(codecs); c++)
        for (size_t k = 0; k < HLN_ARRAY_LEN(chunks); k++) {
            char cpath[1100];
            snprintf(cpath, sizeof cpath, "%s/nb-%zu-Data.db", dir, 2 + c * 2 + k);
            sst_write_opts o = {codecs[c], 0, chunks[k], 0};
            write_corpus(cpath, &o);
            hln_buf got;
            hln_buf_init(&got);
            uint64_t rows = 0;
            sst_reader *r;
            dump_file(cpath, &got, &rows, &r);
            assert_int_equal(rows, ref_rows);
            assert_int_equal(got.len, ref.len);
            assert_memory_equal(got.data, ref.data, ref.len);
            assert_int_equal(r->codec, codecs[c]);
            assert_int_equal(r->chunk_bytes, chunks[k]);
            /* the same blocks without their 8-byte headers (version 5) */
            assert_true(r->raw_bytes < plain_raw && r->block_hdr == 0);
            assert_true(r->nchunks == (r->raw_bytes + chunks[k] - 1) / chunks[k]);
            assert_memory_equal(&r->stats, &pstats, sizeof pstats);
            double ratio = (double)r->data_bytes / (double)r->raw_bytes;
            if (getenv("HLN_TEST_LOG"))
                fprintf(stderr, "%s %u: %.3f\n", sst_codec_name(codecs[c]), chunks[k], ratio);
            assert_true(ratio < (codecs[c] == SST_CODEC_SNAPPY ? 0.7 : 0.6));
            assert_true(tu_file_size(cpath) < plain_size);
            sst_close(r);
            hln_buf_free(&got);
        }
    hln_buf_free(&ref);
    tu_cleanup(dir);
}

/* A damaged chunk fails the read that touches it, naming the file and the
 * chunk; the open and reads of other chunks still succeed. */
static void test_corrupt_chunk_message(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-chunkmsg");
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    sst_write_opts o = {SST_CODEC_LZ4, 0, 4096, 0};
    write_corpus(path, &o);
    sst_reader *r;
    hln_error err;
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_true(r->nchunks > 10);
    const sst_chunk *c = &r->chunks[r->nchunks / 2];
    long off = (long)c->off + (long)c->len / 2;
    sst_close(r);
    tu_flip_byte(path, off);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_bound all = {NULL, 0, true};
    int bad = 0, good = 0;
    for (size_t i = 0; i < r->nentries; i++) {
        sst_rowit it;
        assert_int_equal(sst_rowit_init(&it, r, &r->entries[i], &all, &all, false, &a, &err), 0);
        const st_row *row;
        int rc;
        while ((rc = it.base.next(&it.base, &row, &err)) == 1) {
        }
        if (rc == 0) {
            good++;
        } else {
            assert_int_equal(rc, HLN_ECORRUPT);
            assert_non_null(strstr(err.msg, path));
            assert_non_null(strstr(err.msg, "chunk"));
            bad++;
        }
        hln_arena_reset(&a);
    }
    assert_true(bad >= 1 && bad < 10);
    assert_true(good > RT_NPART - 10);
    hln_arena_free(&a);
    sst_close(r);
    tu_cleanup(dir);
}

/* Rewrites the header's flags (and its checksum). */
static void set_flags(const char *path, uint32_t v)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t h[32];
    assert_int_equal(pread(fd, h, 32, 0), 32);
    for (int i = 0; i < 4; i++)
        h[24 + i] = (uint8_t)(v >> (24 - 8 * i));
    uint32_t hc = hln_crc32(0, h, 28);
    for (int i = 0; i < 4; i++)
        h[28 + i] = (uint8_t)(hc >> (24 - 8 * i));
    assert_int_equal(pwrite(fd, h, 32, 0), 32);
    close(fd);
}

/* Bad options are refused; an unknown codec, or a header codec the index
 * disagrees with, is corruption. */
static void test_compression_options(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-codecopt");
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    sst_writer *w;
    hln_error err;
    sst_write_opts bad[] = {
        {(sst_codec)9, 0, 0, 0},       {SST_CODEC_LZ4, 0, 3000, 0},
        {SST_CODEC_LZ4, 0, 2048, 0},   {SST_CODEC_ZSTD, 0, 2u << 20, 0},
        {SST_CODEC_DEFLATE, 10, 0, 0}, {SST_CODEC_ZSTD, 99, 0, 0},
    };
    for (size_t i = 0; i < HLN_ARRAY_LEN(bad); i++)
        assert_int_equal(sst_writer_open(&w, path, T1, &bad[i], &err), HLN_EINVAL);
    sst_write_opts def = {SST_CODEC_DEFLATE, 0, 0, 0};
    write_corpus(path, &def);
    sst_reader *r;
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    assert_int_equal(r->chunk_bytes, SST_CHUNK_DEFAULT);
    assert_int_equal(r->level, 6);
    sst_close(r);
    set_flags(path, 7);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), HLN_ECORRUPT);
    assert_non_null(strstr(err.msg, "codec"));
    set_flags(path, SST_CODEC_LZ4);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), HLN_ECORRUPT);
    set_flags(path, SST_CODEC_NONE);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), HLN_ECORRUPT);
    set_flags(path, SST_CODEC_DEFLATE);
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    sst_close(r);
    tu_cleanup(dir);
}

/* Each codec decompresses only to exactly the expected length, never
 * past it, and refuses truncated or damaged input; incompressible chunks
 * are stored raw and read back. */
static void test_codec_contract(void **state)
{
    (void)state;
    enum { N = 8192 };
    static uint8_t src[N], dst[N + 64], z[2 * N + 1024];
    for (size_t i = 0; i < N; i++)
        src[i] = (uint8_t)("abcabcabd"[i % 9] + (i / 1000));
    for (sst_codec c = SST_CODEC_LZ4; c <= SST_CODEC_MAX; c++) {
        int level;
        assert_int_equal(sst_codec_level(c, 0, &level), 0);
        size_t cap = sst_codec_bound(c, N);
        assert_true(cap > 0 && cap <= sizeof z);
        size_t zl = sst_codec_compress(c, level, src, N, z, cap);
        assert_true(zl > 0 && zl < N / 2);
        memset(dst, 0xAB, sizeof dst);
        assert_true(sst_codec_decompress(c, z, zl, dst, N));
        assert_memory_equal(dst, src, N);
        memset(dst, 0xAB, sizeof dst);
        assert_false(sst_codec_decompress(c, z, zl, dst, N - 1));
        for (size_t i = N - 1; i < sizeof dst; i++)
            assert_int_equal(dst[i], 0xAB); /* nothing written past want */
        assert_false(sst_codec_decompress(c, z, zl, dst, N + 1));
        assert_false(sst_codec_decompress(c, z, zl - 1, dst, N));
        assert_false(sst_codec_decompress(c, z, zl / 2, dst, N));
        memset(z, 0x11, 64);
        assert_false(sst_codec_decompress(c, z, zl, dst, N));
    }
    int lv;
    assert_true(sst_codec_level(SST_CODEC_ZSTD, 0, &lv) == 0 && lv == 3);
    assert_true(sst_codec_level(SST_CODEC_DEFLATE, 0, &lv) == 0 && lv == 6);
    assert_int_equal(sst_codec_level(SST_CODEC_DEFLATE, 10, &lv), -1);

    /* random values: chunks are stored raw */
    char *dir = tu_mkdtemp("sst-rawchunks");
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    sst_write_opts o = {SST_CODEC_LZ4, 0, 4096, 0};
    sst_writer *w;
    hln_error err;
    assert_int_equal(sst_writer_open(&w, path, T1, &o, &err), 0);
    uint64_t x = 88172645463325252ull;
    static char val[3001];
    uint8_t k[12];
    for (uint32_t i = 0; i < 50; i++) {
        for (size_t j = 0; j < 3000; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            val[j] = (char)(33 + x % 90);
        }
        rt_key(i, k);
        assert_int_equal(sst_writer_begin_partition(w, k, 12, HLN_TS_NONE, &err), 0);
        st_cell c[1] = {tu_cell(1, 5, val)};
        st_row row = tu_xrow("a", 5, 0, c, 1);
        assert_int_equal(sst_writer_row(w, &row, &err), 0);
        assert_int_equal(sst_writer_end_partition(w, &err), 0);
    }
    assert_int_equal(sst_writer_finish(w, &err), 0);
    sst_reader *r;
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    uint64_t raw = 0;
    for (uint64_t i = 0; i < r->nchunks; i++)
        raw += r->chunks[i].raw;
    /* printable random bytes (~6.5 bits of entropy a byte) are mostly
       beyond LZ4; the chunks it cannot shrink are stored raw */
    assert_true(raw > r->nchunks / 3);
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_bound all = {NULL, 0, true};
    for (size_t i = 0; i < r->nentries; i++) {
        sst_rowit it;
        assert_int_equal(sst_rowit_init(&it, r, &r->entries[i], &all, &all, false, &a, &err), 0);
        const st_row *row;
        assert_int_equal(it.base.next(&it.base, &row, &err), 1);
        assert_int_equal(row->cells[0].len, 3000);
        assert_int_equal(it.base.next(&it.base, &row, &err), 0);
        hln_arena_reset(&a);
    }
    hln_arena_free(&a);
    sst_close(r);
    tu_cleanup(dir);
}

/* ---- statistics ---- */

static sst_stats stats_of(const char *dir, const st_row *rows, uint32_t nrows, int64_t pdel,
                          const st_range_tomb *rt, const sst_write_opts *o)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/nb-1-Data.db", dir);
    sst_writer *w;
    hln_error err;
    assert_int_equal(sst_writer_open(&w, path, T1, o, &err), 0);
    uint8_t k[12];
    rt_key(1, k);
    assert_int_equal(sst_writer_begin_partition(w, k, 12, pdel, &err), 0);
    if (rt) assert_int_equal(sst_writer_range_tombs(w, rt, 1, &err), 0);
    for (uint32_t i = 0; i < nrows; i++)
        assert_int_equal(sst_writer_row(w, &rows[i], &err), 0);
    assert_int_equal(sst_writer_end_partition(w, &err), 0);
    assert_int_equal(sst_writer_finish(w, &err), 0);
    sst_reader *r;
    assert_int_equal(sst_open(&r, path, 1, T1, &err), 0);
    sst_stats s = r->stats;
    sst_close(r);
    return s;
}

/* A thousand expiring cells of distinct seconds (and a thousand live
 * ones): the histogram keeps at most SST_HIST_BINS - 1 bins, in ascending
 * order, holding every deletion; its estimate of those before a second is
 * close to the truth. */
static void test_deletion_histogram(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-hist");
    enum { N = 1000 };
    static st_row rows[N];
    static st_cell cells[N][2];
    static char cks[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(cks[i], sizeof cks[i], "r%04d", i);
        cells[i][0] = tu_expiring(tu_cell(1, 1000 + i, "x"), 60, 10000 + (i * 7919) % N);
        cells[i][1] = tu_cell(2, 1000 + i, "live");
        rows[i] = tu_xrow(cks[i], HLN_TS_NONE, 0, cells[i], 2);
    }
    sst_stats s = stats_of(dir, rows, N, HLN_TS_NONE, NULL, NULL);
    assert_true(s.has_hist && s.nitems == 2 * N);
    assert_true(s.nbins > 8 && s.nbins < SST_HIST_BINS);
    uint64_t total = 0;
    for (uint32_t i = 0; i < s.nbins; i++) {
        total += s.bins[i].n;
        if (i) assert_true(s.bins[i].sec > s.bins[i - 1].sec);
    }
    assert_int_equal(total, N);
    uint64_t half = sst_droppable(&s, 10000 + N / 2);
    assert_true(half > N / 2 - N / 10 && half < N / 2 + N / 10);
    assert_int_equal(sst_droppable(&s, 10000), 0);
    assert_int_equal(sst_droppable(&s, 10000 + N), N);
    tu_cleanup(dir);
}

static void test_stats(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-stats");
    sst_write_opts lz4 = {SST_CODEC_LZ4, 0, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        const sst_write_opts *o = pass ? &lz4 : NULL;
        /* only expiring cells, tombstones and deletions: all dying */
        st_cell c1[3] = {tu_expiring(tu_cell(1, 5000000, "x"), 60, 1700), tu_tomb(2, 7500000),
                         tu_coldel(3, 2000001)};
        st_cell c2[1] = {tu_expiring(tu_pcell(3, "p", 4000000, "y"), 60, 900)};
        st_row rows[3] = {tu_xrow("a", HLN_TS_NONE, 0, c1, 3),
                          tu_xrow("b", 3000000, 2500, c2, 1), /* expiring marker */
                          tu_xrow("c", HLN_TS_NONE, 0, NULL, 0)};
        rows[2].del_ts = 9000000; /* row deletion: second 9 */
        st_range_tomb rt = {{NULL, 0, true}, {(const uint8_t *)"a", 1, true}, -1500000};
        sst_stats s = stats_of(dir, rows, 3, 12999999, &rt, o);
        assert_true(s.all_dying);
        assert_true(s.min_ts == -1500000);
        assert_true(s.max_ts == 12999999);
        assert_true(s.max_del_sec == 2500); /* the expiring marker */
        assert_true(s.min_del_sec == -2);   /* floor(-1.5) */
        /* the deletion histogram: one bin per second, of 8 items */
        assert_true(s.has_hist && s.nitems == 8 && s.nbins == 8);
        static const int64_t secs[8] = {-2, 2, 7, 9, 12, 900, 1700, 2500};
        for (int i = 0; i < 8; i++)
            assert_true(s.bins[i].sec == secs[i] && s.bins[i].n == 1);
        assert_int_equal(sst_droppable(&s, 10), 4);
        assert_int_equal(sst_droppable(&s, -2), 0);
        assert_int_equal(sst_droppable(&s, INT64_MAX), 8);

        /* no range tombstone, no partition deletion: the row deletion and
           the tombstones are the deletion seconds */
        c1[0] = tu_tomb(1, 5000000);
        c2[0] = tu_tomb(3, 4000000);
        rows[1] = tu_xrow("b", HLN_TS_NONE, 0, c2, 1);
        s = stats_of(dir, rows, 3, HLN_TS_NONE, NULL, o);
        assert_true(s.all_dying);
        assert_true(s.min_ts == 2000001 && s.max_ts == 9000000);
        assert_true(s.max_del_sec == 9 && s.min_del_sec == 2);

        /* one live non-expiring cell */
        c2[0] = tu_cell(3, 4000000, "live");
        s = stats_of(dir, rows, 3, HLN_TS_NONE, NULL, o);
        assert_false(s.all_dying);
        assert_true(s.max_del_sec == 9 && s.min_ts == 2000001);
        /* one live non-expiring row marker */
        c2[0] = tu_tomb(3, 4000000);
        rows[1] = tu_xrow("b", 3000000, 0, c2, 1);
        s = stats_of(dir, rows, 3, HLN_TS_NONE, NULL, o);
        assert_false(s.all_dying);

        /* only a partition deletion; and nothing at all */
        s = stats_of(dir, NULL, 0, 42000000, NULL, o);
        assert_true(s.all_dying && s.min_ts == 42000000 && s.max_ts == 42000000);
        assert_true(s.max_del_sec == 42 && s.min_del_sec == 42);
        s = stats_of(dir, NULL, 0, HLN_TS_NONE, NULL, o);
        assert_true(s.all_dying && s.min_ts == INT64_MAX && s.max_ts == INT64_MIN);
        assert_true(s.max_del_sec == INT64_MIN && s.min_del_sec == INT64_MAX);
    }
    tu_cleanup(dir);
}

/* ST_ROWFMT_3 codes timestamps and expiry times as deltas: extreme values
 * and large jumps between neighbours round-trip exactly. */
static void test_delta_timestamps_extremes(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-delta");
    st_options o;
    st_options_default(&o);
    o.compaction_disabled = true;
    tu_no_purge(&o);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    st_cell c[5] = {tu_cell(1, INT64_MIN + 3, "a"), tu_cell(2, INT64_MAX, "b"),
                    tu_expiring(tu_cell(3, -1, "c"), INT32_MAX, INT64_MAX),
                    tu_expiring(tu_cell(4, 0, "d"), 1, INT64_MIN + 5), tu_tomb(5, 1)};
    st_row r = tu_xrow("a", INT64_MIN + 2, INT64_MAX - 1, c, 5);
    r.marker_ttl = 7;
    r.del_ts = INT64_MIN + 1;
    assert_int_equal(tu_apply_row(e, T1, 1, &r), 0);
    assert_int_equal(tu_flush(e), 0);
    assert_string_equal(file_cells(dir, 1), "1[]@-9223372036854775805=a 2[]@9223372036854775807=b "
                                            "3[]@-1=c 4[]@0=d 5[]@1T");
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/tables", dir);
    sst_reader *rd;
    hln_error err;
    assert_int_equal(sst_open(&rd, tu_find_file(tdir, "-Data.db"), 1, T1, &err), 0);
    uint8_t pkb[4], key[12];
    tu_pk(1, pkb);
    st_key_encode(tu_tok(1), pkb, 4, key);
    const sst_entry *en = sst_get(rd, key, 12);
    assert_non_null(en);
    hln_arena a;
    hln_arena_init(&a, 4096);
    sst_rowit it;
    static const st_bound all = {NULL, 0, true};
    assert_int_equal(sst_rowit_init(&it, rd, en, &all, &all, false, &a, &err), 0);
    const st_row *row;
    assert_int_equal(it.base.next(&it.base, &row, &err), 1);
    assert_true(row->marker_ts == INT64_MIN + 2 && row->marker_ttl == 7 &&
                row->marker_expires == INT64_MAX - 1 && row->del_ts == INT64_MIN + 1);
    assert_true(row->cells[2].ttl == INT32_MAX && row->cells[2].expires == INT64_MAX);
    assert_true(row->cells[3].ttl == 1 && row->cells[3].expires == INT64_MIN + 5);
    hln_arena_free(&a);
    sst_close(rd);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* Version 5 stores no token that is Murmur3 of the pk (what every CQL
 * table has): keys are rebuilt at open, and partitions with other tokens
 * (here every seventh) keep theirs; all are found again, in order. */
static void test_implied_tokens(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sst-tokens");
    st_options o;
    st_options_default(&o);
    o.compaction_disabled = true;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    for (int pk = 0; pk < 500; pk++) {
        uint8_t pkb[4];
        tu_pk(pk, pkb);
        int64_t tok = pk % 7 ? hln_murmur3_token(pkb, 4) : tu_tok(pk);
        st_cell c[1] = {tu_cell(1, 10, "v")};
        assert_int_equal(tu_row_tok(e, T1, pk, tok, "a", 10, HLN_TS_NONE, c, 1), 0);
    }
    assert_int_equal(tu_close(e), 0); /* flushes */
    e = tu_open(dir, &o);
    assert_non_null(e);
    for (int pk = 0; pk < 500; pk++) {
        uint8_t pkb[4];
        tu_pk(pk, pkb);
        st_read_cmd c;
        memset(&c, 0, sizeof c);
        memcpy(c.table_id, T1, 16);
        c.pk = pkb;
        c.pklen = 4;
        c.token = pk % 7 ? hln_murmur3_token(pkb, 4) : tu_tok(pk);
        c.start = c.end = (st_bound){NULL, 0, true};
        hln_arena a;
        hln_arena_init(&a, 1024);
        st_partition *p = NULL;
        hln_error err;
        assert_int_equal(st_read(e, &c, &a, &p, &err), 0);
        assert_non_null(p);
        assert_int_equal(p->nrows, 1);
        hln_arena_free(&a);
    }
    const char *all = tu_scan_now(e, T1, 0, 0, 0); /* every partition, in token order */
    int n = 1;
    for (const char *q = all; *q; q++)
        n += *q == '|';
    assert_int_equal(n, 500);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);

    /* one partition with a one-byte key alone: its entry is 8 bytes */
    dir = tu_mkdtemp("sst-tokens1");
    e = tu_open(dir, &o);
    assert_non_null(e);
    st_cell c1[1] = {tu_cell(1, 10, "v")};
    st_row r1 = tu_xrow("", 10, 0, c1, 1);
    st_mutation m;
    memset(&m, 0, sizeof m);
    memcpy(m.table_id, T1, 16);
    m.pk = (const uint8_t *)"a";
    m.pklen = 1;
    m.token = hln_murmur3_token("a", 1);
    m.pdel_ts = HLN_TS_NONE;
    m.rows = &r1;
    m.nrows = 1;
    hln_error err;
    assert_int_equal(st_apply(e, &m, &err), 0);
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

int main(void)
{
    hln_log_set_level(getenv("HLN_TEST_LOG") ? HLN_LOG_DEBUG : HLN_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_small),
        cmocka_unit_test(test_every_byte_big),
        cmocka_unit_test(test_every_byte_compressed),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_table_dir),
        cmocka_unit_test(test_leftover_tmp),
        cmocka_unit_test(test_writer_order_checks),
        cmocka_unit_test(test_bloom),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_coldel_drops_shadowed),
        cmocka_unit_test(test_delta_timestamps_extremes),
        cmocka_unit_test(test_implied_tokens),
        cmocka_unit_test(test_writer_cell_order),
        cmocka_unit_test(test_compression_roundtrip),
        cmocka_unit_test(test_corrupt_chunk_message),
        cmocka_unit_test(test_compression_options),
        cmocka_unit_test(test_codec_contract),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_deletion_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
