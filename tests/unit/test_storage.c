/* modules: common storage */
/*
 * test_storage.c — the storage engine through its public API (storage.h):
 * mutation codec, reconciliation, tombstone shadowing across memtable and
 * sstables, slice bounds, reversed and limit, flush equivalence against a
 * reference model, scans, drop table, flush threshold and commitlog
 * retirement, partitions large enough to span many sstable blocks, range
 * tombstones (memtable, sstable, restart, scans) and atomic batches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage_testutil.h"
#include "storage/sstable/sstable.h"
#include "storage/storageInt.h"

/* ---- mutation codec ------------------------------------------------------ */

static void test_mutation_roundtrip(void **state)
{
    (void)state;
    st_cell c1[3] = {tu_cell(1, 100, "hello"), tu_tomb(2, 101), tu_cell(7, 102, "")};
    c1[2].ttl = 3600;
    c1[2].expires = 1700000000;
    st_cell c2[1] = {tu_cell(4000000000u, -5, "x")};
    st_row rows[2] = {
        {(const uint8_t *)"\x40"
                          "abc",
         4, 99, HLN_TS_NONE, c1, 3, 0, 0},
        {(const uint8_t *)"\x40"
                          "abd",
         4, HLN_TS_NONE, 98, c2, 1, 0, 0},
    };
    uint8_t pk[3] = {1, 2, 3};
    st_mutation m = {{0}, pk, 3, -123456789, 555, rows, 2, NULL, 0};
    memcpy(m.table_id, T1, 16);

    hln_buf b;
    hln_buf_init(&b);
    st_mutation_encode(&m, &b);
    assert_int_equal(b.err, 0);

    hln_arena a;
    hln_arena_init(&a, 1024);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    st_mutation d;
    assert_int_equal(st_mutation_decode(&r, &a, &d), 0);
    assert_int_equal(hln_rd_left(&r), 0);
    assert_memory_equal(d.table_id, T1, 16);
    assert_int_equal(d.pklen, 3);
    assert_memory_equal(d.pk, pk, 3);
    assert_true(d.token == -123456789);
    assert_true(d.pdel_ts == 555);
    assert_int_equal(d.nrows, 2);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(d.rows[i].cklen, rows[i].cklen);
        assert_memory_equal(d.rows[i].ck, rows[i].ck, rows[i].cklen);
        assert_true(d.rows[i].marker_ts == rows[i].marker_ts);
        assert_true(d.rows[i].del_ts == rows[i].del_ts);
        assert_int_equal(d.rows[i].ncells, rows[i].ncells);
        for (uint32_t j = 0; j < rows[i].ncells; j++) {
            const st_cell *x = &d.rows[i].cells[j], *y = &rows[i].cells[j];
            assert_int_equal(x->col_id, y->col_id);
            assert_int_equal(x->flags, y->flags);
            assert_true(x->ts == y->ts);
            assert_int_equal(x->ttl, y->ttl);
            assert_true(x->expires == y->expires);
            if (!(y->flags & ST_CELL_TOMBSTONE)) {
                assert_int_equal(x->len, y->len);
                if (y->len) assert_memory_equal(x->val, y->val, y->len);
            }
        }
    }

    /* an empty mutation (partition deletion only) */
    hln_buf_reset(&b);
    st_mutation e = {{0}, pk, 3, INT64_MIN + 1, 7, NULL, 0, NULL, 0};
    st_mutation_encode(&e, &b);
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(st_mutation_decode(&r, &a, &d), 0);
    assert_true(d.pdel_ts == 7 && d.nrows == 0 && d.token == INT64_MIN + 1);

    hln_arena_free(&a);
    hln_buf_free(&b);
}

static void test_mutation_decode_damaged(void **state)
{
    (void)state;
    st_cell c[2] = {tu_cell(1, 100, "hello world"), tu_tomb(2, 101)};
    st_row row = {(const uint8_t *)"ck", 2, 99, 98, c, 2, 0, 0};
    uint8_t pk[2] = {9, 9};
    st_mutation m = {{0}, pk, 2, 42, HLN_TS_NONE, &row, 1, NULL, 0};
    hln_buf b;
    hln_buf_init(&b);
    st_mutation_encode(&m, &b);
    hln_arena a;
    hln_arena_init(&a, 1024);
    /* every truncation fails cleanly */
    for (size_t n = 0; n < b.len; n++) {
        hln_rd r;
        hln_rd_init(&r, b.data, n);
        st_mutation d;
        assert_int_equal(st_mutation_decode(&r, &a, &d), HLN_ECORRUPT);
    }
    /* every single-byte change either decodes or fails cleanly */
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1 << bit);
            hln_rd r;
            hln_rd_init(&r, b.data, b.len);
            st_mutation d;
            int rc = st_mutation_decode(&r, &a, &d);
            /* a version byte above every known one says so */
            assert_true(rc == 0 || rc == HLN_ECORRUPT ||
                        (i == 0 && b.data[0] > 4 && rc == HLN_EUNSUPPORTED));
            b.data[i] ^= (uint8_t)(1 << bit);
            hln_arena_reset(&a);
        }
    }
    /* a bad version byte: unknown (0), a batch's, or newer than this build */
    hln_rd r;
    st_mutation d;
    const uint8_t bad[] = {0, 2, 4};
    for (size_t i = 0; i < sizeof bad; i++) {
        b.data[0] = bad[i];
        hln_rd_init(&r, b.data, b.len);
        assert_int_equal(st_mutation_decode(&r, &a, &d), HLN_ECORRUPT);
    }
    b.data[0] = 77;
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(st_mutation_decode(&r, &a, &d), HLN_EUNSUPPORTED);
    hln_arena_free(&a);
    hln_buf_free(&b);
}

/* ---- reconciliation and shadowing --------------------------------------- */

static st_options small_opts(void)
{
    st_options o;
    st_options_default(&o);
    o.sync = ST_SYNC_PERIODIC;
    tu_no_purge(&o); /* the model knows no gc_grace; purging has its own tests */
    return o;
}

static void test_memtable_merge(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-merge");
    st_options o = small_opts();
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    for (int pass = 0; pass < 2; pass++) {
        int pk = 1 + pass; /* pass 1 flushes between every write */
#define STEP(call)                                                                                 \
    do {                                                                                           \
        assert_int_equal((call), 0);                                                               \
        if (pass) assert_int_equal(tu_flush(e), 0);                                                \
    } while (0)
        st_cell a[2] = {tu_cell(1, 10, "v10"), tu_cell(3, 10, "c3")};
        STEP(tu_row(e, T1, pk, "r", 10, HLN_TS_NONE, a, 2));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v10,3=c3");
        st_cell older[1] = {tu_cell(1, 9, "v9")};
        STEP(tu_row(e, T1, pk, "r", HLN_TS_NONE, HLN_TS_NONE, older, 1));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v10,3=c3");
        st_cell newer[2] = {tu_cell(2, 11, "c2"), tu_cell(1, 11, "v11")}; /* unsorted on purpose */
        STEP(tu_row(e, T1, pk, "r", HLN_TS_NONE, HLN_TS_NONE, newer, 2));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v11,2=c2,3=c3");
        /* equal timestamps: the greater value wins, whatever the order */
        st_cell lo[1] = {tu_cell(2, 11, "a")}, hi[1] = {tu_cell(2, 11, "zz")};
        STEP(tu_row(e, T1, pk, "r", HLN_TS_NONE, HLN_TS_NONE, hi, 1));
        STEP(tu_row(e, T1, pk, "r", HLN_TS_NONE, HLN_TS_NONE, lo, 1));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v11,2=zz,3=c3");
        /* equal timestamps: the tombstone wins over live */
        st_cell t[1] = {tu_tomb(2, 11)}, again[1] = {tu_cell(2, 11, "zzz")};
        STEP(tu_row(e, T1, pk, "r", HLN_TS_NONE, HLN_TS_NONE, t, 1));
        STEP(tu_row(e, T1, pk, "r", HLN_TS_NONE, HLN_TS_NONE, again, 1));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v11,3=c3");
        /* a newer live cell beats the tombstone */
        st_cell back[1] = {tu_cell(2, 12, "back")};
        STEP(tu_row(e, T1, pk, "r", HLN_TS_NONE, HLN_TS_NONE, back, 1));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v11,2=back,3=c3");
        /* a row with cells but no marker, and an empty value */
        st_cell nm[1] = {tu_cell(5, 1, "")};
        STEP(tu_row(e, T1, pk, "s", HLN_TS_NONE, HLN_TS_NONE, nm, 1));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v11,2=back,3=c3 s:5=");
        /* a row with only a marker */
        STEP(tu_row(e, T1, pk, "t", 5, HLN_TS_NONE, NULL, 0));
        assert_string_equal(tu_read(e, T1, pk), "r*:1=v11,2=back,3=c3 s:5= t*");
#undef STEP
    }
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 1), "r*:1=v11,2=back,3=c3 s:5= t*");
    assert_string_equal(tu_read(e, T1, 2), "r*:1=v11,2=back,3=c3 s:5= t*");
    assert_string_equal(tu_read(e, T1, 3), "");
    assert_string_equal(tu_read(e, T2, 1), "");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* Runs the tombstone scenario, flushing after the steps whose bit is set in
 * mask, and closing/reopening after the steps whose bit is set in reopen. */
static void tombstone_scenario(unsigned mask, unsigned reopen)
{
    char *dir = tu_mkdtemp("st-tomb");
    st_options o = small_opts();
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    int step = 0;
#define STEP(call, expect)                                                                         \
    do {                                                                                           \
        assert_int_equal((call), 0);                                                               \
        if (mask & (1u << step)) assert_int_equal(tu_flush(e), 0);                                 \
        if (reopen & (1u << step)) {                                                               \
            assert_int_equal(tu_close(e), 0);                                                      \
            e = tu_open(dir, &o);                                                                  \
            assert_non_null(e);                                                                    \
        }                                                                                          \
        assert_string_equal(tu_read(e, T1, 1), (expect));                                          \
        step++;                                                                                    \
    } while (0)
    st_cell ca[2] = {tu_cell(1, 10, "x"), tu_cell(2, 10, "y")};
    STEP(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, ca, 2), "a*:1=x,2=y");
    st_cell cb[1] = {tu_cell(1, 10, "p")};
    STEP(tu_row(e, T1, 1, "b", 10, HLN_TS_NONE, cb, 1), "a*:1=x,2=y b*:1=p");
    /* cell tombstone */
    st_cell t2[1] = {tu_tomb(2, 11)};
    STEP(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, t2, 1), "a*:1=x b*:1=p");
    /* row tombstone */
    STEP(tu_row(e, T1, 1, "b", HLN_TS_NONE, 12, NULL, 0), "a*:1=x");
    /* older than the row tombstone: stays shadowed; equal: shadowed too */
    st_cell q[1] = {tu_cell(1, 11, "q")};
    STEP(tu_row(e, T1, 1, "b", 12, HLN_TS_NONE, q, 1), "a*:1=x");
    /* newer than the row tombstone: survives (the old marker does not) */
    st_cell r[1] = {tu_cell(1, 13, "r")};
    STEP(tu_row(e, T1, 1, "b", HLN_TS_NONE, HLN_TS_NONE, r, 1), "a*:1=x b:1=r");
    /* partition tombstone */
    STEP(tu_pdel(e, T1, 1, 20), "");
    st_cell old[1] = {tu_cell(1, 20, "old")};
    STEP(tu_row(e, T1, 1, "c", 15, HLN_TS_NONE, old, 1), "");
    st_cell nw[1] = {tu_cell(1, 25, "new")};
    STEP(tu_row(e, T1, 1, "c", 25, HLN_TS_NONE, nw, 1), "c*:1=new");
    /* a row tombstone at the same timestamp as the data shadows it */
    STEP(tu_row(e, T1, 1, "c", HLN_TS_NONE, 25, NULL, 0), "");
    st_cell d[1] = {tu_cell(2, 26, "d")};
    STEP(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, d, 1), "a:2=d");
#undef STEP
    /* other partitions are untouched by pk 1's partition tombstone */
    assert_string_equal(tu_read(e, T1, 2), "");
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 1), "a:2=d");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

static void test_tombstones(void **state)
{
    (void)state;
    unsigned masks[] = {0, 0x7FF, 0x555, 0x2AA, 0x041, 0x130};
    for (size_t i = 0; i < HLN_ARRAY_LEN(masks); i++)
        tombstone_scenario(masks[i], 0);
    tombstone_scenario(0x0F0, 0x24); /* with restarts mid-way */
}

/* ---- slices -------------------------------------------------------------- */

static void check_slices(st_engine *e)
{
    struct {
        tu_slice s;
        const char *expect;
    } cases[] = {
        {{NULL, true, NULL, true, false, 0}, "a1* a2* b1* b2* b3* c1*"},
        {{"b", true, NULL, true, false, 0}, "b1* b2* b3* c1*"},
        {{"b", false, NULL, true, false, 0}, "c1*"},
        {{NULL, true, "b", true, false, 0}, "a1* a2* b1* b2* b3*"},
        {{NULL, true, "b", false, false, 0}, "a1* a2*"},
        {{"b", true, "b", true, false, 0}, "b1* b2* b3*"},
        {{"b1", false, "c", false, false, 0}, "b2* b3*"},
        {{"b1", true, "b3", false, false, 0}, "b1* b2*"},
        {{"a2", true, "b2", true, false, 0}, "a2* b1* b2*"},
        {{"a", false, "c1", true, false, 0}, "b1* b2* b3* c1*"},
        {{"b", false, "b", true, false, 0}, ""},
        {{"zz", true, NULL, true, false, 0}, ""},
        {{NULL, true, "a", false, false, 0}, ""},
        {{NULL, true, NULL, true, true, 0}, "c1* b3* b2* b1* a2* a1*"},
        {{"b", true, "b", true, true, 0}, "b3* b2* b1*"},
        {{NULL, true, "b", false, true, 0}, "a2* a1*"},
        {{"b", false, NULL, true, true, 0}, "c1*"},
        {{"a2", false, "b3", false, true, 0}, "b2* b1*"},
        {{NULL, true, NULL, true, false, 2}, "a1* a2*"},
        {{NULL, true, NULL, true, true, 2}, "c1* b3*"},
        {{"b", true, NULL, true, false, 2}, "b1* b2*"},
        {{"b", true, "b", true, true, 2}, "b3* b2*"},
        {{NULL, true, NULL, true, false, 100}, "a1* a2* b1* b2* b3* c1*"},
        {{"b", true, "b", true, false, 1}, "b1*"},
    };
    for (size_t i = 0; i < HLN_ARRAY_LEN(cases); i++) {
        const char *got = tu_read_slice(e, T1, 1, &cases[i].s);
        if (strcmp(got, cases[i].expect) != 0)
            fprintf(stderr, "slice case %zu: got '%s' want '%s'\n", i, got, cases[i].expect);
        assert_string_equal(got, cases[i].expect);
    }
}

static void test_slices(void **state)
{
    (void)state;
    static const char *cks[] = {"b1", "a1", "c1", "b15", "a2", "b2", "b3", "a15"};
    for (int mode = 0; mode < 3; mode++) {
        char *dir = tu_mkdtemp("st-slice");
        st_options o = small_opts();
        st_engine *e = tu_open(dir, &o);
        for (size_t i = 0; i < HLN_ARRAY_LEN(cks); i++) {
            bool dead = strlen(cks[i]) == 3; /* b15, a15: only a tombstone, never live */
            st_cell t[1] = {tu_tomb(1, 5)};
            if (dead)
                assert_int_equal(tu_row(e, T1, 1, cks[i], HLN_TS_NONE, HLN_TS_NONE, t, 1), 0);
            else
                assert_int_equal(tu_row(e, T1, 1, cks[i], 5, HLN_TS_NONE, NULL, 0), 0);
            /* mode 1: everything in sstables; mode 2: split over two
               sstables and the memtable */
            if (mode == 2 && (i == 3 || i == 5)) assert_int_equal(tu_flush(e), 0);
        }
        /* a neighbour partition must not leak in */
        assert_int_equal(tu_row(e, T1, 2, "a0", 5, HLN_TS_NONE, NULL, 0), 0);
        if (mode == 1) assert_int_equal(tu_flush(e), 0);
        check_slices(e);
        assert_int_equal(tu_close(e), 0);
        e = tu_open(dir, &o);
        check_slices(e);
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* ---- randomized: engine vs a reference model ----------------------------- */

enum { M_PKS = 3, M_CKS = 6, M_COLS = 3 };

typedef struct mcell {
    bool set, tomb;
    int64_t ts;
    char val[4];
} mcell;

typedef struct model {
    int64_t pdel[M_PKS];
    int64_t marker[M_PKS][M_CKS], rdel[M_PKS][M_CKS];
    mcell cell[M_PKS][M_CKS][M_COLS];
} model;

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

static void model_cell(mcell *m, bool tomb, int64_t ts, const char *v)
{
    bool wins;
    if (!m->set || ts != m->ts)
        wins = !m->set || ts > m->ts;
    else if (tomb != m->tomb)
        wins = tomb;
    else
        wins = !tomb && strcmp(v, m->val) > 0;
    if (wins) {
        m->set = true;
        m->tomb = tomb;
        m->ts = ts;
        snprintf(m->val, sizeof m->val, "%s", tomb ? "" : v);
    }
}

static void model_render(const model *m, int pk, const tu_slice *s, char *out, size_t cap)
{
    char rows[M_CKS][128];
    int n = 0;
    for (int c = 0; c < M_CKS; c++) {
        char ck[8];
        snprintf(ck, sizeof ck, "k%d", c);
        if (s && s->start && (s->sinc ? strcmp(ck, s->start) < 0 : strcmp(ck, s->start) <= 0))
            continue;
        if (s && s->end && (s->einc ? strcmp(ck, s->end) > 0 : strcmp(ck, s->end) >= 0)) continue;
        int64_t shadow = m->pdel[pk] > m->rdel[pk][c] ? m->pdel[pk] : m->rdel[pk][c];
        bool mk = m->marker[pk][c] != HLN_TS_NONE && m->marker[pk][c] > shadow;
        char cells[96] = "";
        size_t cl = 0;
        for (int k = 0; k < M_COLS; k++) {
            const mcell *x = &m->cell[pk][c][k];
            if (x->set && !x->tomb && x->ts > shadow)
                cl += (size_t)snprintf(cells + cl, sizeof cells - cl, "%s%d=%s", cl ? "," : "",
                                       k + 1, x->val);
        }
        if (!mk && !cl) continue;
        snprintf(rows[n++], sizeof rows[0], "%s%s%s%s", ck, mk ? "*" : "", cl ? ":" : "", cells);
    }
    out[0] = '\0';
    size_t o = 0;
    int lim = s && s->limit ? (int)s->limit : n;
    for (int i = 0; i < n && i < lim; i++) {
        int j = s && s->reversed ? n - 1 - i : i;
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? " " : "", rows[j]);
    }
}

static void model_check(st_engine *e, const model *m)
{
    char want[4096];
    for (int pk = 0; pk < M_PKS; pk++) {
        model_render(m, pk, NULL, want, sizeof want);
        const char *got = tu_read(e, T1, pk);
        if (strcmp(got, want) != 0) fprintf(stderr, "pk %d: got '%s' want '%s'\n", pk, got, want);
        assert_string_equal(got, want);
        for (int k = 0; k < 4; k++) {
            char sb[8], eb[8];
            snprintf(sb, sizeof sb, "k%u", rnd(M_CKS));
            snprintf(eb, sizeof eb, "k%u", rnd(M_CKS));
            tu_slice s = {rnd(3) ? sb : NULL, rnd(2), rnd(3) ? eb : NULL, rnd(2), rnd(2), rnd(3)};
            model_render(m, pk, &s, want, sizeof want);
            got = tu_read_slice(e, T1, pk, &s);
            if (strcmp(got, want) != 0)
                fprintf(stderr, "pk %d slice [%s%s,%s%s] rev %d lim %u: got '%s' want '%s'\n", pk,
                        s.start ? s.start : "-", s.sinc ? "" : "(x)", s.end ? s.end : "-",
                        s.einc ? "" : "(x)", s.reversed, s.limit, got, want);
            assert_string_equal(got, want);
        }
    }
}

/* With compact: background compaction as soon as 2 sstables exist, and
 * major compactions among the operations. */
static st_options purge_opts(int64_t gc_grace);

/* With purge: gc_grace_seconds 0, so compaction drops every deletion the
 * overlap rule lets it, and timestamps only grow (as a client's clock
 * does): the model, which never forgets a deletion, must still be what
 * every read returns; a deletion purged too early shows as data coming
 * back. */
static void random_run_ex(uint64_t seed, int nops, bool compact, bool purge)
{
    rng_state = seed;
    char *dir = tu_mkdtemp("st-rand");
    st_options o = purge ? purge_opts(0) : small_opts();
    o.memtable_flush_bytes = 4096 + rnd(8192); /* threshold flushes too */
    o.compaction_disabled = !compact;
    o.compaction_min_threshold = 2;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    model m;
    for (int p = 0; p < M_PKS; p++) {
        m.pdel[p] = HLN_TS_NONE;
        for (int c = 0; c < M_CKS; c++) {
            m.marker[p][c] = m.rdel[p][c] = HLN_TS_NONE;
            for (int k = 0; k < M_COLS; k++)
                m.cell[p][c][k].set = false;
        }
    }
    static const char *vals[] = {"a", "b", "c", "d"};
    for (int op = 0; op < nops; op++) {
        int pk = (int)rnd(M_PKS), c = (int)rnd(M_CKS);
        int64_t ts = purge ? 10 * (int64_t)(op + 1) : 1 + (int64_t)rnd(40);
        char ck[8];
        snprintf(ck, sizeof ck, "k%d", c);
        uint32_t r = rnd(100);
        if (r < 45) {
            st_cell cells[M_COLS];
            uint32_t n = 0;
            for (int k = 0; k < M_COLS; k++) {
                if (rnd(2)) continue;
                int64_t cts = ts + rnd(3);
                const char *v = vals[rnd(4)];
                cells[n++] = tu_cell((uint32_t)k + 1, cts, v);
                model_cell(&m.cell[pk][c][k], false, cts, v);
            }
            int64_t mk = rnd(2) ? ts : HLN_TS_NONE;
            if (mk > m.marker[pk][c]) m.marker[pk][c] = mk;
            assert_int_equal(tu_row(e, T1, pk, ck, mk, HLN_TS_NONE, cells, n), 0);
        } else if (r < 65) {
            int k = (int)rnd(M_COLS);
            st_cell t[1] = {tu_tomb((uint32_t)k + 1, ts)};
            model_cell(&m.cell[pk][c][k], true, ts, "");
            assert_int_equal(tu_row(e, T1, pk, ck, HLN_TS_NONE, HLN_TS_NONE, t, 1), 0);
        } else if (r < 80) {
            if (ts > m.rdel[pk][c]) m.rdel[pk][c] = ts;
            assert_int_equal(tu_row(e, T1, pk, ck, HLN_TS_NONE, ts, NULL, 0), 0);
        } else if (r < 85) {
            if (!purge)
                ts = 1 + rnd(20); /* partition deletions stay old-ish to keep data visible */
            if (ts > m.pdel[pk]) m.pdel[pk] = ts;
            assert_int_equal(tu_pdel(e, T1, pk, ts), 0);
        } else if (r < 93) {
            assert_int_equal(tu_flush(e), 0);
            hln_error err;
            if (compact && rnd(3) == 0) assert_int_equal(st_compact(e, T1, &err), 0);
            st_maintain(e);
        } else if (r < 96) {
            assert_int_equal(tu_close(e), 0);
            e = tu_open(dir, &o);
            assert_non_null(e);
        } else {
            model_check(e, &m);
        }
    }
    model_check(e, &m);
    assert_int_equal(tu_flush(e), 0);
    model_check(e, &m);
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    model_check(e, &m);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

static void random_run(uint64_t seed, int nops, bool compact)
{
    random_run_ex(seed, nops, compact, false);
}

static void test_random_vs_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++)
        random_run(seed * 7919, 300, false);
}

/* ---- compaction ------------------------------------------------------------ */

static int apply_rt(st_engine *e, int pk, const char *s, bool sinc, const char *end, bool einc,
                    int64_t ts);

static void test_compaction_random_vs_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++)
        random_run(seed * 104729, 400, true);
}

/* No zombies: deletions purged (gc_grace 0) under any mix of flushes,
 * background and major compactions and restarts never let data back. */
static void test_purge_random_vs_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++)
        random_run_ex(seed * 15485863, 500, true, true);
}

/* Waits (bounded) until the background compaction leaves at most want
 * sstables; returns the count. */
static size_t wait_sstables(st_engine *e, const uint8_t *tid, size_t want)
{
    size_t n = st_sstable_count(e, tid);
    for (int i = 0; i < 2000 && n > want; i++) {
        usleep(5000);
        st_maintain(e);
        n = st_sstable_count(e, tid);
    }
    return n;
}

static void test_compaction_shadowing(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cp-shadow");
    st_options o = small_opts();
    o.compaction_disabled = true;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    hln_error err;
    /* many versions of the same rows, one sstable each */
    for (int v = 0; v < 8; v++) {
        char val[16];
        snprintf(val, sizeof val, "v%d", v);
        for (int pk = 0; pk < 50; pk++) {
            st_cell c[2] = {tu_cell(1, 10 + v, val), tu_cell(2, 10 + v, val)};
            assert_int_equal(tu_row(e, T1, pk, "a", 10 + v, HLN_TS_NONE, c, 2), 0);
        }
        assert_int_equal(tu_flush(e), 0);
    }
    assert_int_equal(st_sstable_count(e, T1), 8);
    /* a row deletion, a cell tombstone, a partition deletion and a range
       tombstone, each in the last sstable */
    assert_int_equal(tu_row(e, T1, 1, "a", HLN_TS_NONE, 100, NULL, 0), 0);
    st_cell t[1] = {tu_tomb(2, 100)};
    assert_int_equal(tu_row(e, T1, 2, "a", HLN_TS_NONE, HLN_TS_NONE, t, 1), 0);
    assert_int_equal(tu_pdel(e, T1, 3, 100), 0);
    assert_int_equal(apply_rt(e, 4, "a", true, "a", true, 100), 0);
    assert_int_equal(tu_flush(e), 0);
    const char *dfile = tu_find_file(dir, "-Data.db");
    assert_non_null(dfile);
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s", dfile);
    *strrchr(tdir, '/') = '\0';
    long before = 0;
    for (int g = 1; g <= 9; g++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/nb-%d-Data.db", tdir, g);
        before += tu_file_size(p);
    }
    assert_int_equal(st_compact(e, T1, &err), 0);
    assert_int_equal(st_sstable_count(e, T1), 1);
    assert_int_equal(tu_count_files(tdir, "-Data.db"), 1);
    assert_int_equal(tu_count_files(tdir, ".log"), 0);
    char out[1100];
    snprintf(out, sizeof out, "%s/nb-10-Data.db", tdir);
    long after = tu_file_size(out);
    assert_true(after > 0 && after * 4 < before); /* 8 versions became 1 */
    assert_string_equal(tu_read(e, T1, 0), "a*:1=v7,2=v7");
    assert_string_equal(tu_read(e, T1, 1), "");
    assert_string_equal(tu_read(e, T1, 2), "a*:1=v7");
    assert_string_equal(tu_read(e, T1, 3), "");
    assert_string_equal(tu_read(e, T1, 4), "");
    /* the deletions were kept: older writes arriving now stay hidden, in the
       memtable, after a flush and after compacting them together */
    st_cell old[2] = {tu_cell(1, 50, "old"), tu_cell(2, 50, "old")};
    for (int pk = 1; pk <= 4; pk++)
        assert_int_equal(tu_row(e, T1, pk, "a", 50, HLN_TS_NONE, old, 2), 0);
    for (int round = 0; round < 4; round++) {
        if (round == 1) assert_int_equal(tu_flush(e), 0);
        if (round == 2) assert_int_equal(st_compact(e, T1, &err), 0);
        if (round == 3) {
            assert_int_equal(tu_close(e), 0);
            e = tu_open(dir, &o);
            assert_non_null(e);
        }
        assert_string_equal(tu_read(e, T1, 1), "");
        assert_string_equal(tu_read(e, T1, 2), "a*:1=old");
        assert_string_equal(tu_read(e, T1, 3), "");
        assert_string_equal(tu_read(e, T1, 4), "");
        assert_string_equal(tu_read(e, T1, 49), "a*:1=v7,2=v7");
    }
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

static void test_compaction_background(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cp-bg");
    st_options o = small_opts();
    o.compaction_min_threshold = 4;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    /* 16 flushes of overlapping data: size-tiered merges 4 at a time */
    for (int f = 0; f < 16; f++) {
        char val[16];
        snprintf(val, sizeof val, "f%d", f);
        for (int pk = f * 10; pk < f * 10 + 40; pk++) {
            st_cell c[1] = {tu_cell(1, 1 + f, val)};
            assert_int_equal(tu_row(e, T1, pk, "a", 1 + f, HLN_TS_NONE, c, 1), 0);
        }
        assert_int_equal(tu_flush(e), 0);
        st_maintain(e);
        /* reads while a job may be running */
        char want[32];
        snprintf(want, sizeof want, "a*:1=f%d", f);
        assert_string_equal(tu_read(e, T1, f * 10), want);
    }
    size_t n = wait_sstables(e, T1, 3);
    assert_true(n <= 3);
    for (int pk = 0; pk < 190; pk++) {
        int f = pk / 10 < 15 ? pk / 10 : 15; /* the last flush that wrote pk */
        char want[32];
        snprintf(want, sizeof want, "a*:1=f%d", f);
        assert_string_equal(tu_read(e, T1, pk), want);
    }
    /* a second table and a drop while jobs may run */
    for (int f = 0; f < 6; f++) {
        st_cell c[1] = {tu_cell(1, 1, "x")};
        assert_int_equal(tu_row(e, T2, f, "a", 1, HLN_TS_NONE, c, 1), 0);
        assert_int_equal(tu_flush(e), 0);
        st_maintain(e);
    }
    hln_error err;
    assert_int_equal(st_drop_table(e, T2, &err), 0);
    assert_string_equal(tu_read(e, T2, 1), "");
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_string_equal(tu_read(e, T1, 189), "a*:1=f15");
    assert_string_equal(tu_read(e, T1, 0), "a*:1=f0");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* Writes text to path. */
static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Three sstables of table T1 (gens 1..3) holding pk 1 with values a, b, c;
 * returns the table directory in tdir. */
static void three_sstables(const char *dir, char *tdir, size_t cap)
{
    st_options o = small_opts();
    o.compaction_disabled = true;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    const char *vals[] = {"a", "b", "c"};
    for (int g = 0; g < 3; g++) {
        st_cell c[1] = {tu_cell(1, 1 + g, vals[g])};
        assert_int_equal(tu_row(e, T1, 1, "k", 1 + g, HLN_TS_NONE, c, 1), 0);
        st_cell d[1] = {tu_cell(1, 1, vals[g])};
        assert_int_equal(tu_row(e, T1, 10 + g, "k", 1, HLN_TS_NONE, d, 1), 0);
        assert_int_equal(tu_flush(e), 0);
    }
    assert_int_equal(tu_close(e), 0);
    const char *dfile = tu_find_file(dir, "-Data.db");
    assert_non_null(dfile);
    snprintf(tdir, cap, "%s", dfile);
    *strrchr(tdir, '/') = '\0';
}

static void test_compaction_log_recovery(void **state)
{
    (void)state;
    st_options o = small_opts();
    o.compaction_disabled = true;
    char tdir[1024], path[1100];

    /* a log whose output exists: the inputs are obsolete and go */
    char *dir = tu_mkdtemp("cp-log1");
    three_sstables(dir, tdir, sizeof tdir);
    snprintf(path, sizeof path, "%s/compaction-3.log", tdir);
    put_file(path, "helenus-compaction 1\noutput 3\ninput 1\ninput 2\nend\n");
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    assert_int_equal(st_sstable_count(e, T1), 1);
    assert_int_equal(tu_count_files(tdir, ".log"), 0);
    assert_string_equal(tu_read(e, T1, 1), "k*:1=c");
    assert_string_equal(tu_read(e, T1, 10), ""); /* only in gen 1, "compacted" */
    assert_string_equal(tu_read(e, T1, 12), "k*:1=c");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);

    /* a log without its output: the job did not finish, the inputs stay */
    dir = tu_mkdtemp("cp-log2");
    three_sstables(dir, tdir, sizeof tdir);
    snprintf(path, sizeof path, "%s/compaction-9.log", tdir);
    put_file(path, "helenus-compaction 1\noutput 9\ninput 1\ninput 2\ninput 3\nend\n");
    snprintf(path, sizeof path, "%s/nb-9-Data.db.tmp", tdir);
    put_file(path, "partial");
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_int_equal(st_sstable_count(e, T1), 3);
    assert_int_equal(tu_count_files(tdir, ".log"), 0);
    assert_int_equal(tu_count_files(tdir, ".tmp"), 0);
    assert_string_equal(tu_read(e, T1, 10), "k*:1=a");
    /* a later compaction works and does not reuse a live generation */
    hln_error err;
    assert_int_equal(st_compact(e, T1, &err), 0);
    assert_int_equal(st_sstable_count(e, T1), 1);
    assert_string_equal(tu_read(e, T1, 1), "k*:1=c");
    assert_string_equal(tu_read(e, T1, 11), "k*:1=b");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);

    /* version 2, done: every output complete, the inputs go */
    dir = tu_mkdtemp("cp-log4");
    three_sstables(dir, tdir, sizeof tdir);
    snprintf(path, sizeof path, "%s/compaction-3.log", tdir);
    put_file(path, "helenus-compaction 2\ndone\noutput 3\ninput 1\ninput 2\nend\n");
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_int_equal(st_sstable_count(e, T1), 1);
    assert_int_equal(tu_count_files(tdir, ".log"), 0);
    assert_string_equal(tu_read(e, T1, 10), "");
    assert_string_equal(tu_read(e, T1, 12), "k*:1=c");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);

    /* version 2, not done: outputs it completed (gen 3 here) go, even
       though they exist, and the inputs stay */
    dir = tu_mkdtemp("cp-log5");
    three_sstables(dir, tdir, sizeof tdir);
    snprintf(path, sizeof path, "%s/compaction-3.log", tdir);
    put_file(path, "helenus-compaction 2\noutput 3\noutput 4\ninput 1\ninput 2\nend\n");
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_int_equal(st_sstable_count(e, T1), 2);
    assert_int_equal(tu_count_files(tdir, ".log"), 0);
    assert_string_equal(tu_read(e, T1, 10), "k*:1=a");
    assert_string_equal(tu_read(e, T1, 11), "k*:1=b");
    assert_string_equal(tu_read(e, T1, 12), "");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);

    /* a damaged log: refuse to guess */
    dir = tu_mkdtemp("cp-log3");
    three_sstables(dir, tdir, sizeof tdir);
    snprintf(path, sizeof path, "%s/compaction-4.log", tdir);
    put_file(path, "helenus-compaction 1\noutput 4\ninput 1\ninp");
    st_engine *bad = NULL;
    assert_int_equal(st_open(&bad, dir, &o, NULL, NULL, &err), HLN_ECORRUPT);
    assert_null(bad);
    assert_non_null(strstr(err.msg, "compaction-4.log"));
    assert_int_equal(tu_count_files(tdir, "-Data.db"), 3);
    tu_cleanup(dir);
}

/* ---- scans --------------------------------------------------------------- */

static const char *render_scan(st_engine *e, int64_t start, int64_t end, uint32_t limit,
                               const uint8_t *after, uint32_t after_len)
{
    static char buf[4096];
    st_scan_cmd c;
    memset(&c, 0, sizeof c);
    memcpy(c.table_id, T1, 16);
    c.start_token = start;
    c.end_token = end;
    c.limit = limit;
    c.after_pk = after;
    c.after_pklen = after_len;
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_partition *p = NULL;
    hln_error err;
    int rc = st_scan(e, &c, &a, &p, &err);
    buf[0] = '\0';
    size_t n = 0;
    if (rc < 0) snprintf(buf, sizeof buf, "ERR%d", rc);
    for (; rc == 0 && p; p = p->next) {
        assert_int_equal(p->pklen, 4);
        int pk = p->pk[0] << 24 | p->pk[1] << 16 | p->pk[2] << 8 | p->pk[3];
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d:", n ? "|" : "", pk);
        for (uint32_t i = 0; i < p->nrows; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%.*s", i ? "," : "",
                                  (int)p->rows[i].cklen, (const char *)p->rows[i].ck);
    }
    hln_arena_free(&a);
    return buf;
}

static void test_scan(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-scan");
    st_options o = small_opts();
    st_engine *e = tu_open(dir, &o);
    struct {
        int pk;
        int64_t tok;
    } parts[] = {{3, 500},           {2, -100}, {1, 500}, {4, INT64_MAX},
                 {5, INT64_MIN + 1}, {6, 0},    {7, 250}};
    for (size_t i = 0; i < HLN_ARRAY_LEN(parts); i++) {
        st_cell c[1] = {tu_cell(1, 10, "v")};
        assert_int_equal(tu_row_tok(e, T1, parts[i].pk, parts[i].tok, "a", 10, HLN_TS_NONE, c, 1),
                         0);
        if (i == 2) assert_int_equal(tu_flush(e), 0);
        assert_int_equal(tu_row_tok(e, T1, parts[i].pk, parts[i].tok, "b", 10, HLN_TS_NONE, c, 1),
                         0);
        if (i == 4) assert_int_equal(tu_flush(e), 0);
    }
    /* pk 7 is deleted as a whole; pk 6 loses row a */
    uint8_t pk7[4];
    tu_pk(7, pk7);
    st_mutation m = {{0}, pk7, 4, 250, 11, NULL, 0, NULL, 0};
    memcpy(m.table_id, T1, 16);
    hln_error err;
    assert_int_equal(st_apply(e, &m, &err), 0);
    assert_int_equal(tu_row_tok(e, T1, 6, 0, "a", HLN_TS_NONE, 11, NULL, 0), 0);
    /* another table does not leak in */
    assert_int_equal(tu_row(e, T2, 9, "z", 1, HLN_TS_NONE, NULL, 0), 0);

    for (int round = 0; round < 3; round++) {
        assert_string_equal(render_scan(e, INT64_MIN, INT64_MAX, 0, NULL, 0),
                            "5:a,b|2:a,b|6:b|1:a,b|3:a,b|4:a,b");
        assert_string_equal(render_scan(e, 0, 500, 0, NULL, 0), "1:a,b|3:a,b");
        assert_string_equal(render_scan(e, -100, 0, 0, NULL, 0), "6:b");
        assert_string_equal(render_scan(e, -101, 0, 0, NULL, 0), "2:a,b|6:b");
        assert_string_equal(render_scan(e, 500, INT64_MAX, 0, NULL, 0), "4:a,b");
        assert_string_equal(render_scan(e, 1, 499, 0, NULL, 0), "");
        assert_string_equal(render_scan(e, INT64_MIN, INT64_MAX, 3, NULL, 0), "5:a,b|2:a");
        assert_string_equal(render_scan(e, INT64_MIN, INT64_MAX, 5, NULL, 0), "5:a,b|2:a,b|6:b");
        /* wrapping range (500, -100] */
        assert_string_equal(render_scan(e, 500, -100, 0, NULL, 0), "4:a,b|5:a,b|2:a,b");
        /* resume after (500, pk 1) */
        uint8_t pk1[4];
        tu_pk(1, pk1);
        assert_string_equal(render_scan(e, 500, INT64_MAX, 0, pk1, 4), "3:a,b|4:a,b");
        if (round == 0) {
            assert_int_equal(tu_flush(e), 0);
        } else if (round == 1) {
            assert_int_equal(tu_close(e), 0);
            e = tu_open(dir, &o);
        }
    }
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* ---- drop table ---------------------------------------------------------- */

static void test_drop_table(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-drop");
    st_options o = small_opts();
    st_engine *e = tu_open(dir, &o);
    st_cell c[1] = {tu_cell(1, 10, "v")};
    assert_int_equal(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, c, 1), 0);
    assert_int_equal(tu_row(e, T2, 1, "a", 10, HLN_TS_NONE, c, 1), 0);
    assert_int_equal(tu_flush(e), 0);
    assert_int_equal(tu_row(e, T1, 2, "b", 10, HLN_TS_NONE, c, 1), 0);
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/tables/11010203040506070809", dir);
    /* the T1 directory exists before the drop */
    char full[1100];
    snprintf(full, sizeof full, "%s0a0b0c0d0e0f", tdir);
    assert_int_equal(tu_count_files(full, "-Data.db"), 1);
    hln_error err;
    assert_int_equal(st_drop_table(e, T1, &err), 0);
    assert_int_equal(access(full, F_OK), -1);
    assert_string_equal(tu_read(e, T1, 1), "");
    assert_string_equal(tu_read(e, T1, 2), "");
    assert_string_equal(tu_read(e, T2, 1), "a*:1=v");
    /* dropping an unknown table is fine */
    uint8_t none[16] = {0x99};
    assert_int_equal(st_drop_table(e, none, &err), 0);
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 1), "");
    assert_string_equal(tu_read(e, T1, 2), "");
    assert_string_equal(tu_read(e, T2, 1), "a*:1=v");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* ---- truncate ------------------------------------------------------------ */

/* TRUNCATE: rows in the memtable, in sstables and in the commitlog are gone
 * at once and after a crash (the child _exits without closing: its
 * commitlog is all there is); writes after it are kept; other tables keep
 * theirs. */
static void test_truncate_table(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-trunc");
    st_options o = small_opts();
    o.compaction_disabled = true;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        st_engine *e = tu_open(dir, &o);
        if (!e) _exit(2);
        hln_error err;
        st_cell c[1] = {tu_cell(1, 10, "old")};
        for (int pk = 0; pk < 50; pk++) {
            if (tu_row(e, T1, pk, "a", 10, HLN_TS_NONE, c, 1) != 0) _exit(3);
            if (pk == 20 && tu_flush(e) != 0) _exit(4); /* some in an sstable */
        }
        if (tu_row(e, T2, 1, "a", 10, HLN_TS_NONE, c, 1) != 0) _exit(5);
        if (st_truncate_table(e, T1, &err) != 0) _exit(6);
        if (strcmp(tu_read(e, T1, 1), "") || strcmp(tu_read(e, T1, 30), "")) _exit(7);
        if (st_sstable_count(e, T2) != 0) _exit(10); /* the other table was not flushed */
        st_cell n[1] = {tu_cell(1, 5, "new")};       /* an older timestamp is kept too */
        if (tu_row(e, T1, 7, "a", 5, HLN_TS_NONE, n, 1) != 0) _exit(8);
        if (st_sync(e, &err) != 0) _exit(9);
        _exit(0); /* crash */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    for (int pk = 0; pk < 50; pk++)
        assert_string_equal(tu_read(e, T1, pk), pk == 7 ? "a*:1=new" : "");
    assert_string_equal(tu_read(e, T2, 1), "a*:1=old");
    assert_int_equal(tu_close(e), 0);

    /* a crash after the marker, before the sstables went: the open finishes
       the job, and the generations continue above the marker */
    char tdir[1100];
    snprintf(tdir, sizeof tdir, "%s/tables/110102030405060708090a0b0c0d0e0f", dir);
    e = tu_open(dir, &o);
    assert_int_equal(tu_flush(e), 0);
    assert_int_equal(tu_close(e), 0);
    assert_true(tu_count_files(tdir, "-Data.db") >= 1);
    char marker[1200];
    snprintf(marker, sizeof marker, "%s/Truncated.txt", tdir);
    put_file(marker, "truncated-before-generation 1000\n");
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 7), "");
    assert_int_equal(tu_count_files(tdir, "-Data.db"), 0);
    st_cell c[1] = {tu_cell(1, 20, "later")};
    assert_int_equal(tu_row(e, T1, 8, "a", 20, HLN_TS_NONE, c, 1), 0);
    assert_int_equal(tu_close(e), 0);
    assert_non_null(tu_find_file(tdir, "nb-1000-Data.db"));
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 8), "a*:1=later");
    /* truncating a table this shard never saw is fine */
    hln_error err;
    uint8_t none[16] = {0x99};
    assert_int_equal(st_truncate_table(e, none, &err), 0);
    /* the marker's segment: writes after it in an emptied commitlog
       directory (its numbering would start again at 1) are still replayed */
    assert_int_equal(st_truncate_table(e, T1, &err), 0);
    assert_int_equal(tu_close(e), 0);
    char cldir[1100];
    snprintf(cldir, sizeof cldir, "%s/commitlog", dir);
    DIR *d = opendir(cldir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.') continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", cldir, de->d_name);
        assert_int_equal(unlink(p), 0);
    }
    closedir(d);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        st_engine *c = tu_open(dir, &o);
        if (!c) _exit(2);
        st_cell a[1] = {tu_cell(1, 30, "again")};
        if (tu_row(c, T1, 9, "a", 30, HLN_TS_NONE, a, 1) != 0) _exit(3);
        if (st_sync(c, &err) != 0) _exit(4);
        _exit(0); /* crash: the commitlog is all there is */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 9), "a*:1=again");
    assert_string_equal(tu_read(e, T1, 8), "");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* ---- flush threshold and commitlog retirement ---------------------------- */

static void test_flush_threshold(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-thresh");
    st_options o = small_opts();
    /* the test counts the flushed files: a background compaction merging
       them (it may, or not, depending on thread timing) would make it flaky */
    o.compaction_disabled = true;
    o.memtable_flush_bytes = 16 * 1024;
    o.segment_bytes = 8 * 1024;
    /* the write path does not wait for a running flush: what bounds the
       unflushed log is the memtable space (a refused write waits here for
       the flush to be installed, as exec's parked writes do) */
    o.memtable_space_bytes = 24 * 1024;
    st_engine *e = tu_open(dir, &o);
    char val[101];
    memset(val, 'v', 100);
    val[100] = '\0';
    char cl[1024], tdir[1024];
    snprintf(cl, sizeof cl, "%s/commitlog", dir);
    snprintf(tdir, sizeof tdir, "%s/tables/110102030405060708090a0b0c0d0e0f", dir);
    for (int i = 0; i < 600; i++) {
        char ck[16];
        snprintf(ck, sizeof ck, "r%04d", i);
        st_cell c[1] = {tu_cell(1, i, val)};
        int rc;
        for (int w = 0;
             (rc = tu_row(e, T1, i % 10, ck, i, HLN_TS_NONE, c, 1)) == HLN_EOVERLOADED && w < 10000;
             w++) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
            st_maintain(e);
        }
        assert_int_equal(rc, 0);
        /* flushed segments are retired as we go (deleted by the janitor
           thread, so allow it a moment) */
        assert_true(tu_wait_count_files(cl, ".log", 4) <= 4);
    }
    assert_true(tu_count_files(tdir, "-Data.db") >= 3);
    for (int pk = 0; pk < 10; pk++) {
        uint8_t pkb[4];
        tu_pk(pk, pkb);
        hln_arena a;
        hln_arena_init(&a, 4096);
        st_read_cmd c;
        memset(&c, 0, sizeof c);
        memcpy(c.table_id, T1, 16);
        c.pk = pkb;
        c.pklen = 4;
        c.token = tu_tok(pk);
        c.start.inclusive = c.end.inclusive = true;
        st_partition *p;
        hln_error err;
        assert_int_equal(st_read(e, &c, &a, &p, &err), 0);
        assert_non_null(p);
        assert_int_equal(p->nrows, 60);
        for (uint32_t i = 0; i < p->nrows; i++) {
            assert_int_equal(p->rows[i].ncells, 1);
            assert_int_equal(p->rows[i].cells[0].len, 100);
        }
        hln_arena_free(&a);
    }
    assert_int_equal(tu_flush(e), 0);
    assert_int_equal(tu_wait_count_files(cl, ".log", 1), 1);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* A cold table pins old segments; once too many pile up, it is flushed. */
static void test_commitlog_relief(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-relief");
    st_options o = small_opts();
    o.segment_bytes = 4096;
    st_engine *e = tu_open(dir, &o);
    char cl[1024];
    snprintf(cl, sizeof cl, "%s/commitlog", dir);
    assert_int_equal(tu_row(e, T2, 1, "cold", 1, HLN_TS_NONE, NULL, 0), 0);
    char val[101];
    memset(val, 'w', 100);
    val[100] = '\0';
    int max = 0;
    for (int i = 0; i < 2000; i++) {
        char ck[16];
        snprintf(ck, sizeof ck, "r%05d", i);
        st_cell c[1] = {tu_cell(1, i, val)};
        assert_int_equal(tu_row(e, T1, 1, ck, HLN_TS_NONE, HLN_TS_NONE, c, 1), 0);
        /* retired segments are deleted by the janitor thread, a little
           later: give it a moment before counting one as kept */
        int n = tu_wait_count_files(cl, ".log", 34);
        assert_true(n <= 34);
        if (n > max) max = n;
    }
    assert_true(max <= 34);
    assert_true(max >= 30);
    assert_string_equal(tu_read(e, T2, 1), "cold*");
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T2, 1), "cold*");
    tu_slice s = {"r01999", true, NULL, true, false, 0};
    assert_string_equal(tu_read_slice(e, T1, 1, &s),
                        "r01999:1="
                        "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"
                        "wwwwwwwwwwwwwwwwwwwwwwwwww");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* ---- big partitions: many blocks ----------------------------------------- */

/* The read merge leaves an sstable unread while the first key of its next
 * block (from the index) is beyond what the merge needs (st_rowsrc.peek):
 * a LIMIT read stops before touching most files. Five sstables and the
 * memtable hold interleaved rows of one partition in blocks of about two
 * rows, with overwrites and row deletions in later files; every slice,
 * direction and limit must return what a model says. */
#define LZ_ROWS 120
static void test_lazy_merge_many_sstables(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-lazy");
    st_options o = small_opts();
    o.compaction_disabled = true;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    static char pad[1500];
    memset(pad, 'p', sizeof pad - 1);
    char val[LZ_ROWS][16]; /* the model: col 1 of each live row, "" if none */
    memset(val, 0, sizeof val);
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < LZ_ROWS; i++) {
            bool write = i % 5 == round % 5 || (round == 4 && i % 7 == 0);
            bool del = round == 5 && i % 11 == 0;
            char ck[8], v[16];
            snprintf(ck, sizeof ck, "r%04d", i);
            if (del) {
                assert_int_equal(tu_row(e, T1, 1, ck, HLN_TS_NONE, 100 + round, NULL, 0), 0);
                val[i][0] = 0;
            } else if (write) {
                snprintf(v, sizeof v, "%d-%d", round, i);
                st_cell cells[2] = {tu_cell(1, 100 + round, v), tu_cell(2, 100 + round, pad)};
                assert_int_equal(tu_row(e, T1, 1, ck, 100 + round, HLN_TS_NONE, cells, 2), 0);
                snprintf(val[i], sizeof val[i], "%s", v);
            }
        }
        if (round < 5) assert_int_equal(tu_flush(e), 0); /* round 5 stays in the memtable */
    }
    assert_int_equal((int)st_sstable_count(e, T1), 5);
    static const uint32_t limits[] = {0, 1, 2, 3, 7, 10, 50};
    static const int starts[] = {-1, 0, 13, 59, 119};
    for (int rev = 0; rev < 2; rev++)
        for (size_t li = 0; li < HLN_ARRAY_LEN(limits); li++)
            for (size_t si = 0; si < HLN_ARRAY_LEN(starts); si++) {
                char sk[8];
                snprintf(sk, sizeof sk, "r%04d", starts[si]);
                const char *from = starts[si] >= 0 ? sk : NULL; /* the slice begins at sk */
                tu_slice sl = {rev ? NULL : from, true, rev ? from : NULL, true, rev, limits[li]};
                uint8_t pkb[4];
                st_read_cmd c = tu_read_cmd(T1, 1, pkb, &sl, 0);
                hln_arena a;
                hln_arena_init(&a, 4096);
                st_partition *p = NULL;
                hln_error err;
                assert_int_equal(st_read(e, &c, &a, &p, &err), 0);
                /* the model's rows, in the read's order */
                uint32_t want = 0, got = p ? p->nrows : 0;
                for (int k = 0; k < LZ_ROWS; k++) {
                    int i = rev ? LZ_ROWS - 1 - k : k;
                    if (!val[i][0] || (starts[si] >= 0 && (rev ? i > starts[si] : i < starts[si])))
                        continue;
                    if (limits[li] && want == limits[li]) break;
                    assert_true(want < got);
                    const st_row *r = &p->rows[want++];
                    char ck[8];
                    snprintf(ck, sizeof ck, "r%04d", i);
                    assert_int_equal(r->cklen, 5);
                    assert_memory_equal(r->ck, ck, 5);
                    assert_true(r->ncells >= 1);
                    assert_int_equal(r->cells[0].len, strlen(val[i]));
                    assert_memory_equal(r->cells[0].val, val[i], strlen(val[i]));
                }
                assert_int_equal(got, want);
                hln_arena_free(&a);
            }
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

static void test_large_partition(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-large");
    st_options o = small_opts();
    st_engine *e = tu_open(dir, &o);
    char val[201];
    memset(val, 'x', 200);
    val[200] = '\0';
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        char ck[16];
        snprintf(ck, sizeof ck, "r%05d", i);
        st_cell c[1] = {tu_cell(1, 10, val)};
        assert_int_equal(tu_row(e, T1, 1, ck, 10, HLN_TS_NONE, c, 1), 0);
    }
    assert_int_equal(tu_flush(e), 0);
    /* overwrite every 7th row in the memtable, delete every 11th */
    for (int i = 0; i < N; i += 7) {
        char ck[16];
        snprintf(ck, sizeof ck, "r%05d", i);
        st_cell c[1] = {tu_cell(1, 20, "new")};
        assert_int_equal(tu_row(e, T1, 1, ck, HLN_TS_NONE, HLN_TS_NONE, c, 1), 0);
    }
    for (int i = 0; i < N; i += 11) {
        char ck[16];
        snprintf(ck, sizeof ck, "r%05d", i);
        assert_int_equal(tu_row(e, T1, 1, ck, HLN_TS_NONE, 30, NULL, 0), 0);
    }
    for (int round = 0; round < 2; round++) {
        uint8_t pkb[4];
        tu_pk(1, pkb);
        struct {
            const char *s;
            bool si;
            const char *e;
            bool ei;
            bool rev;
            uint32_t limit;
            int first, last;
        } cases[] = {
            {NULL, true, NULL, true, false, 0, 0, N - 1},
            {"r01000", true, "r01999", true, false, 0, 1000, 1999},
            {"r01000", false, "r02000", false, true, 0, 1999, 1001},
            {NULL, true, "r02500", false, true, 5, 2499, 0},
            {"r00100", true, NULL, true, false, 3, 100, N - 1},
            {"r02990", true, NULL, true, true, 0, 2999, 2990},
        };
        for (size_t k = 0; k < HLN_ARRAY_LEN(cases); k++) {
            st_read_cmd c;
            memset(&c, 0, sizeof c);
            memcpy(c.table_id, T1, 16);
            c.pk = pkb;
            c.pklen = 4;
            c.token = tu_tok(1);
            c.start.inclusive = c.end.inclusive = true;
            if (cases[k].s) {
                c.start.key = (const uint8_t *)cases[k].s;
                c.start.len = 6;
                c.start.inclusive = cases[k].si;
            }
            if (cases[k].e) {
                c.end.key = (const uint8_t *)cases[k].e;
                c.end.len = 6;
                c.end.inclusive = cases[k].ei;
            }
            c.reversed = cases[k].rev;
            c.limit = cases[k].limit;
            hln_arena a;
            hln_arena_init(&a, 65536);
            st_partition *p;
            hln_error err;
            assert_int_equal(st_read(e, &c, &a, &p, &err), 0);
            assert_non_null(p);
            /* walk the expected keys, skipping deleted ones */
            int step = cases[k].rev ? -1 : 1;
            uint32_t got = 0;
            for (int i = cases[k].first;; i += step) {
                if (i % 11 != 0) {
                    assert_true(got < p->nrows);
                    char ck[16];
                    snprintf(ck, sizeof ck, "r%05d", i);
                    assert_int_equal(p->rows[got].cklen, 6);
                    if (memcmp(p->rows[got].ck, ck, 6) != 0)
                        fprintf(stderr, "case %zu row %u: got %.6s want %s\n", k, got,
                                (const char *)p->rows[got].ck, ck);
                    assert_memory_equal(p->rows[got].ck, ck, 6);
                    const char *want = i % 7 == 0 ? "new" : val;
                    assert_int_equal(p->rows[got].cells[0].len, strlen(want));
                    assert_memory_equal(p->rows[got].cells[0].val, want, strlen(want));
                    got++;
                }
                if (i == cases[k].last || (cases[k].limit && got == cases[k].limit)) break;
            }
            assert_int_equal(p->nrows, got);
            hln_arena_free(&a);
        }
        assert_int_equal(tu_flush(e), 0);
    }
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* A table without clustering columns: one row per partition, ck "". */
static void test_no_clustering(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("st-nock");
    st_options o = small_opts();
    st_engine *e = tu_open(dir, &o);
    st_cell c[1] = {tu_cell(1, 10, "v")};
    assert_int_equal(tu_row(e, T1, 1, "", 10, HLN_TS_NONE, c, 1), 0);
    assert_string_equal(tu_read(e, T1, 1), "*:1=v");
    assert_int_equal(tu_flush(e), 0);
    st_cell d[1] = {tu_cell(2, 11, "w")};
    assert_int_equal(tu_row(e, T1, 1, "", HLN_TS_NONE, HLN_TS_NONE, d, 1), 0);
    assert_string_equal(tu_read(e, T1, 1), "*:1=v,2=w");
    tu_slice rev = {NULL, true, NULL, true, true, 1};
    assert_string_equal(tu_read_slice(e, T1, 1, &rev), "*:1=v,2=w");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* ---- range tombstones and batches ----------------------------------------- */

static int apply_rt(st_engine *e, int pk, const char *s, bool sinc, const char *end, bool einc,
                    int64_t ts)
{
    uint8_t pkb[4];
    tu_pk(pk, pkb);
    st_range_tomb rt = {{(const uint8_t *)s, (uint32_t)strlen(s), sinc},
                        {(const uint8_t *)end, (uint32_t)strlen(end), einc},
                        ts};
    st_mutation m;
    memset(&m, 0, sizeof m);
    memcpy(m.table_id, T1, 16);
    m.pk = pkb;
    m.pklen = 4;
    m.token = tu_tok(pk);
    m.pdel_ts = HLN_TS_NONE;
    m.rts = &rt;
    m.nrts = 1;
    hln_error err;
    return st_apply(e, &m, &err);
}

static const char *scan_all(st_engine *e, uint32_t limit, uint32_t pp)
{
    static char buf[4096];
    st_scan_cmd c;
    memset(&c, 0, sizeof c);
    memcpy(c.table_id, T1, 16);
    c.start_token = INT64_MIN;
    c.end_token = INT64_MAX;
    c.limit = limit;
    c.per_partition_limit = pp;
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_partition *p = NULL;
    hln_error err;
    buf[0] = 0;
    assert_int_equal(st_scan(e, &c, &a, &p, &err), 0);
    for (; p; p = p->next) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "%s[%d:%s]", n ? " " : "",
                 p->pk[0] << 24 | p->pk[1] << 16 | p->pk[2] << 8 | p->pk[3], tu_render(p));
    }
    hln_arena_free(&a);
    return buf;
}

static void test_range_tombstones(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("rt");
    st_options o;
    st_options_default(&o);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    const char *cks[] = {"a1", "a2", "b1", "b2", "b3", "c1"};
    for (size_t i = 0; i < HLN_ARRAY_LEN(cks); i++) {
        assert_int_equal(tu_row(e, T1, 1, cks[i], 10, HLN_TS_NONE, NULL, 0), 0);
        assert_int_equal(tu_row(e, T1, 2, cks[i], 10, HLN_TS_NONE, NULL, 0), 0);
    }
    /* a prefix: every key starting with "b" */
    assert_int_equal(apply_rt(e, 1, "b", true, "b", true, 20), 0);
    assert_string_equal(tu_read(e, T1, 1), "a1* a2* c1*");
    /* newer data under it lives */
    assert_int_equal(tu_row(e, T1, 1, "b2", 30, HLN_TS_NONE, NULL, 0), 0);
    assert_string_equal(tu_read(e, T1, 1), "a1* a2* b2* c1*");
    tu_flush(e);
    /* a slice over the flushed data: (a1, c) exclusive both sides */
    assert_int_equal(apply_rt(e, 1, "a1", false, "c", false, 25), 0);
    /* an older one changes nothing */
    assert_int_equal(apply_rt(e, 1, "", true, "", true, 5), 0);
    const char *want = "a1* b2* c1*";
    assert_string_equal(tu_read(e, T1, 1), want);
    tu_slice rev = {NULL, true, NULL, true, true, 0};
    assert_string_equal(tu_read_slice(e, T1, 1, &rev), "c1* b2* a1*");
    tu_slice lim = {NULL, true, NULL, true, false, 2};
    assert_string_equal(tu_read_slice(e, T1, 1, &lim), "a1* b2*");
    assert_string_equal(tu_read(e, T1, 2), "a1* a2* b1* b2* b3* c1*");
    /* partition 2: an unbounded start */
    assert_int_equal(apply_rt(e, 2, "", true, "b2", true, 40), 0);
    const char *want2 = "b3* c1*";
    assert_string_equal(tu_read(e, T1, 2), want2);
    /* a partition holding nothing but a range tombstone */
    assert_int_equal(apply_rt(e, 3, "x", true, "y", true, 50), 0);
    assert_string_equal(tu_read(e, T1, 3), "");
    char expect_scan[256];
    snprintf(expect_scan, sizeof expect_scan, "%s", scan_all(e, 0, 0));
    for (int round = 0; round < 5; round++) {
        if (round == 1) tu_flush(e);
        if (round == 2 || round == 4) {
            assert_int_equal(tu_close(e), 0);
            e = tu_open(dir, &o);
            assert_non_null(e);
        }
        if (round == 3) { /* every sstable merged into one keeps the tombstones */
            hln_error cerr;
            assert_int_equal(st_compact(e, T1, &cerr), 0);
            assert_int_equal(st_sstable_count(e, T1), 1);
        }
        assert_string_equal(tu_read(e, T1, 1), want);
        assert_string_equal(tu_read(e, T1, 2), want2);
        assert_string_equal(tu_read(e, T1, 3), "");
        assert_string_equal(scan_all(e, 0, 0), expect_scan);
    }
    /* per-partition limit in scans */
    const char *pp = scan_all(e, 0, 1);
    assert_non_null(strstr(pp, "[1:a1*]"));
    assert_non_null(strstr(pp, "[2:b3*]"));
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

static void test_batch(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("batch");
    st_options o;
    st_options_default(&o);
    /* mutation + batch codec round trip, with range tombstones */
    uint8_t pk[4];
    tu_pk(9, pk);
    st_range_tomb rt = {{(const uint8_t *)"b", 1, true}, {NULL, 0, true}, 77};
    st_mutation ms[2];
    memset(ms, 0, sizeof ms);
    for (int i = 0; i < 2; i++) {
        memcpy(ms[i].table_id, i ? T2 : T1, 16);
        ms[i].pk = pk;
        ms[i].pklen = 4;
        ms[i].token = tu_tok(9);
        ms[i].pdel_ts = HLN_TS_NONE;
        ms[i].rts = &rt;
        ms[i].nrts = 1;
    }
    hln_buf b;
    hln_buf_init(&b);
    st_batch_encode(ms, 2, &b);
    hln_arena a;
    hln_arena_init(&a, 1024);
    hln_rd rd;
    hln_rd_init(&rd, b.data, b.len);
    st_mutation *dm;
    uint32_t dn;
    assert_int_equal(st_batch_decode(&rd, &a, &dm, &dn), 0);
    assert_int_equal(dn, 2);
    assert_int_equal(hln_rd_left(&rd), 0);
    assert_memory_equal(dm[1].table_id, T2, 16);
    assert_int_equal(dm[1].nrts, 1);
    assert_int_equal(dm[1].rts[0].ts, 77);
    assert_int_equal(dm[1].rts[0].start.len, 1);
    assert_true(dm[1].rts[0].start.inclusive);
    assert_int_equal(dm[1].rts[0].end.len, 0);
    /* every truncation fails cleanly */
    for (size_t n = 0; n < b.len; n++) {
        hln_rd_init(&rd, b.data, n);
        assert_int_not_equal(st_batch_decode(&rd, &a, &dm, &dn), 0);
    }
    hln_buf_free(&b);
    hln_arena_free(&a);

    /* a batch over two tables and two partitions, logged and then "crashed"
       (the child exits without closing): replay applies all of it */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        st_engine *e = tu_open(dir, &o);
        if (!e) _exit(2);
        st_cell c1 = tu_cell(1, 10, "one"), c2 = tu_cell(1, 10, "two");
        uint8_t pk1[4], pk2[4];
        tu_pk(1, pk1);
        tu_pk(2, pk2);
        st_row r1 = {(const uint8_t *)"r", 1, 10, HLN_TS_NONE, &c1, 1, 0, 0};
        st_row r2 = {(const uint8_t *)"r", 1, 10, HLN_TS_NONE, &c2, 1, 0, 0};
        st_mutation bm[2];
        memset(bm, 0, sizeof bm);
        memcpy(bm[0].table_id, T1, 16);
        memcpy(bm[1].table_id, T2, 16);
        bm[0].pk = pk1;
        bm[1].pk = pk2;
        bm[0].pklen = bm[1].pklen = 4;
        bm[0].token = tu_tok(1);
        bm[1].token = tu_tok(2);
        bm[0].pdel_ts = bm[1].pdel_ts = HLN_TS_NONE;
        bm[0].rows = &r1;
        bm[1].rows = &r2;
        bm[0].nrows = bm[1].nrows = 1;
        hln_error err;
        if (st_apply_batch(e, bm, 2, &err) != 0) _exit(3);
        if (st_apply_batch(e, bm, 0, &err) != 0) _exit(4);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    assert_string_equal(tu_read(e, T1, 1), "r*:1=one");
    assert_string_equal(tu_read(e, T2, 2), "r*:1=two");
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* ---- background flush ------------------------------------------------------ */

/* Memtables over the threshold are written out by the flush thread while
 * reads and scans go on: right after the write that freezes a memtable, its
 * rows must still be found (they are only in the frozen memtable then). */
static void test_background_flush_reads(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("bg-flush");
    st_options o = small_opts();
    o.memtable_flush_bytes = 256 * 1024;
    o.compaction_disabled = true;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    static char big[1001];
    memset(big, 'x', 1000);
    enum { N = 1500 };
    for (int i = 0; i < N; i++) {
        big[0] = (char)('a' + i % 26);
        st_cell c[1] = {tu_cell(1, 1 + i, big)};
        assert_int_equal(tu_row(e, T1, i, "k", 1 + i, HLN_TS_NONE, c, 1), 0);
        /* the first row (flushed long ago, or frozen) and the newest */
        const char *got = tu_read(e, T1, 0);
        assert_true(strncmp(got, "k*:1=a", 6) == 0);
        got = tu_read(e, T1, i);
        assert_true(strncmp(got, "k*:1=", 5) == 0 && got[5] == 'a' + i % 26);
        if (i % 97 == 0 || i == N - 1) {
            st_scan_cmd c;
            memset(&c, 0, sizeof c);
            memcpy(c.table_id, T1, 16);
            c.start_token = INT64_MIN;
            c.end_token = INT64_MAX;
            hln_arena a;
            hln_arena_init(&a, 1 << 16);
            st_partition *p = NULL;
            hln_error err;
            assert_int_equal(st_scan(e, &c, &a, &p, &err), 0);
            int parts = 0;
            for (; p; p = p->next, parts++)
                assert_true(p->token == tu_tok(parts) && p->nrows == 1);
            hln_arena_free(&a);
            assert_int_equal(parts, i + 1);
        }
        if (i == N / 2) { /* a restart in the middle: nothing in flight is lost */
            assert_int_equal(tu_close(e), 0);
            e = tu_open(dir, &o);
            assert_non_null(e);
        }
    }
    /* the restart's flush, and at least one background flush after it (no
       flush was running then); how many more depends on how fast the flush
       thread keeps up, as writes never wait for it (memtable space) */
    assert_true(st_sstable_count(e, T1) >= 2);
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_non_null(e);
    for (int i = 0; i < N; i += 37) {
        const char *got = tu_read(e, T1, i);
        assert_true(strncmp(got, "k*:1=", 5) == 0 && got[5] == 'a' + i % 26);
    }
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* ---- cell paths, column deletions, expiry ---------------------------------- */

static void expect_cells_equal(const st_row *x, const st_row *y)
{
    assert_int_equal(x->cklen, y->cklen);
    if (y->cklen) assert_memory_equal(x->ck, y->ck, y->cklen);
    assert_true(x->marker_ts == y->marker_ts);
    assert_int_equal(x->marker_ttl, y->marker_ttl);
    assert_true(x->marker_expires == y->marker_expires);
    assert_true(x->del_ts == y->del_ts);
    assert_int_equal(x->ncells, y->ncells);
    for (uint32_t j = 0; j < y->ncells; j++) {
        const st_cell *a = &x->cells[j], *b = &y->cells[j];
        assert_int_equal(a->col_id, b->col_id);
        assert_int_equal(a->flags, b->flags);
        assert_true(a->ts == b->ts);
        assert_int_equal(a->ttl, b->ttl);
        assert_true(a->expires == b->expires);
        assert_int_equal(a->pathlen, b->pathlen);
        if (b->pathlen) assert_memory_equal(a->path, b->path, b->pathlen);
        if (!b->flags) {
            assert_int_equal(a->len, b->len);
            if (b->len) assert_memory_equal(a->val, b->val, b->len);
        }
    }
}

static void test_paths_roundtrip(void **state)
{
    (void)state;
    st_cell c[5] = {tu_cell(1, 100, "simple"), tu_coldel(2, 99), tu_pcell(2, "k1", 100, "v1"),
                    tu_ptomb(2, "k2", 100), tu_expiring(tu_pcell(3, "\x01\x02", 101, "e"), 60, 77)};
    st_row rows[2] = {tu_xrow("a", 98, 1700000000, c, 5), tu_xrow("b", 5, 0, NULL, 0)};
    rows[0].marker_ttl = 3600;
    rows[1].del_ts = 4;
    uint8_t pk[3] = {1, 2, 3};
    st_mutation m = {{0}, pk, 3, 42, HLN_TS_NONE, rows, 2, NULL, 0};
    memcpy(m.table_id, T1, 16);
    hln_buf b;
    hln_buf_init(&b);
    st_mutation_encode(&m, &b);
    assert_int_equal(b.data[0], 3);
    hln_arena a;
    hln_arena_init(&a, 1024);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    st_mutation d;
    assert_int_equal(st_mutation_decode(&r, &a, &d), 0);
    assert_int_equal(hln_rd_left(&r), 0);
    assert_int_equal(d.nrows, 2);
    for (uint32_t i = 0; i < 2; i++)
        expect_cells_equal(&d.rows[i], &rows[i]);
    /* every truncation fails cleanly, every bit flip decodes or fails cleanly */
    for (size_t n = 0; n < b.len; n++) {
        hln_rd_init(&r, b.data, n);
        assert_int_equal(st_mutation_decode(&r, &a, &d), HLN_ECORRUPT);
    }
    for (size_t i = 1; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1 << bit);
            hln_rd_init(&r, b.data, b.len);
            int rc = st_mutation_decode(&r, &a, &d);
            assert_true(rc == 0 || rc == HLN_ECORRUPT);
            b.data[i] ^= (uint8_t)(1 << bit);
            hln_arena_reset(&a);
        }
    }
    /* the same as a batch (version 4) */
    hln_buf_reset(&b);
    st_batch_encode(&m, 1, &b);
    assert_int_equal(b.data[0], 4);
    hln_rd_init(&r, b.data, b.len);
    st_mutation *dm;
    uint32_t dn;
    assert_int_equal(st_batch_decode(&r, &a, &dm, &dn), 0);
    assert_int_equal(dn, 1);
    for (uint32_t i = 0; i < 2; i++)
        expect_cells_equal(&dm[0].rows[i], &rows[i]);
    /* newer than this build: refused as such */
    b.data[0] = 5;
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(st_batch_decode(&r, &a, &dm, &dn), HLN_EUNSUPPORTED);
    hln_arena_free(&a);
    hln_buf_free(&b);
}

static void put64(hln_buf *b, int64_t v)
{
    hln_buf_u64(b, (uint64_t)v);
}

/* A version 1 mutation as the previous build wrote it, byte by byte: pk
 * "pk", token 7, partition deletion 3, row "a" with marker 9 and two cells
 * (col 1 "x"; col 2 "y" expiring: ttl 60, expires 1000). row_flags and
 * cell_flags are OR-ed into the row's and the first cell's flags. */
static void encode_v1(hln_buf *b, uint8_t row_flags, uint8_t cell_flags)
{
    hln_buf_u8(b, 1);
    hln_buf_put(b, T1, 16);
    put64(b, 7);
    hln_buf_u8(b, 2);
    hln_buf_put(b, "pk", 2);
    hln_buf_u8(b, 0x01);
    put64(b, 3);
    hln_buf_u8(b, 1); /* nrows */
    hln_buf_u8(b, 1);
    hln_buf_put(b, "a", 1);
    hln_buf_u8(b, (uint8_t)(0x01 | row_flags));
    put64(b, 9);
    hln_buf_u8(b, 2); /* ncells */
    hln_buf_u8(b, 1);
    hln_buf_u8(b, cell_flags);
    put64(b, 10);
    hln_buf_u8(b, 1);
    hln_buf_put(b, "x", 1);
    hln_buf_u8(b, 2);
    hln_buf_u8(b, 0x02);
    put64(b, 11);
    hln_buf_u32(b, 60);
    put64(b, 1000);
    hln_buf_u8(b, 1);
    hln_buf_put(b, "y", 1);
}

static void test_old_version_records(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_arena a;
    hln_arena_init(&a, 1024);
    encode_v1(&b, 0, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    st_mutation d;
    assert_int_equal(st_mutation_decode(&r, &a, &d), 0);
    assert_int_equal(hln_rd_left(&r), 0);
    assert_true(d.token == 7 && d.pdel_ts == 3 && d.pklen == 2 && d.nrows == 1);
    assert_memory_equal(d.pk, "pk", 2);
    const st_row *row = &d.rows[0];
    assert_true(row->marker_ts == 9 && row->marker_expires == 0 && row->del_ts == HLN_TS_NONE);
    assert_int_equal(row->ncells, 2);
    assert_true(row->cells[0].col_id == 1 && row->cells[0].ts == 10 && row->cells[0].len == 1 &&
                row->cells[0].pathlen == 0 && row->cells[0].flags == 0);
    assert_true(row->cells[1].col_id == 2 && row->cells[1].ttl == 60 &&
                row->cells[1].expires == 1000 && row->cells[1].val[0] == 'y');
    /* a version 2 batch of that mutation */
    hln_buf bb;
    hln_buf_init(&bb);
    hln_buf_u8(&bb, 2);
    hln_buf_u8(&bb, 1);
    hln_buf_put(&bb, b.data, b.len);
    hln_rd_init(&r, bb.data, bb.len);
    st_mutation *dm;
    uint32_t dn;
    assert_int_equal(st_batch_decode(&r, &a, &dm, &dn), 0);
    assert_int_equal(dn, 1);
    assert_int_equal(dm[0].rows[0].ncells, 2);
    /* version 1 knows no paths, column deletions or expiring markers: those
       bits are corruption there, never misread */
    const uint8_t bad_cell[] = {0x04, 0x08};
    for (size_t i = 0; i < sizeof bad_cell; i++) {
        hln_buf_reset(&b);
        encode_v1(&b, 0, bad_cell[i]);
        hln_rd_init(&r, b.data, b.len);
        assert_int_equal(st_mutation_decode(&r, &a, &d), HLN_ECORRUPT);
    }
    hln_buf_reset(&b);
    encode_v1(&b, 0x04, 0);
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(st_mutation_decode(&r, &a, &d), HLN_ECORRUPT);
    /* a version 2 batch holds version 1 mutations only */
    hln_buf_reset(&bb);
    st_mutation m = d;
    hln_buf_reset(&b);
    encode_v1(&b, 0, 0);
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(st_mutation_decode(&r, &a, &m), 0);
    hln_buf_u8(&bb, 2);
    hln_buf_u8(&bb, 1);
    st_mutation_encode(&m, &bb); /* a version 3 mutation */
    hln_rd_init(&r, bb.data, bb.len);
    assert_int_equal(st_batch_decode(&r, &a, &dm, &dn), HLN_ECORRUPT);
    /* a version above every known one */
    b.data[0] = 9;
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(st_mutation_decode(&r, &a, &d), HLN_EUNSUPPORTED);
    hln_buf_free(&bb);
    hln_buf_free(&b);
    hln_arena_free(&a);
}

/* How the data of the collection scenarios reaches storage: all in the
 * memtable; old data flushed, new in the memtable; old and new in two
 * sstables written in either order; the same after a major compaction; and
 * after a restart. */
enum {
    MODE_MEM,
    MODE_OLD_FLUSHED,
    MODE_TWO,
    MODE_TWO_REV,
    MODE_TWO_COMPACT,
    MODE_REV_COMPACT,
    MODE_REOPEN,
    NMODES
};

typedef void (*writer_fn)(st_engine *e, bool newer);

/* Writes the old (newer=false) and the new part of a scenario as the mode
 * says and returns the engine to read from. */
static st_engine *write_mode(const char *dir, const st_options *o, int mode, writer_fn fn)
{
    st_engine *e = tu_open(dir, o);
    assert_non_null(e);
    hln_error err;
    bool rev = mode == MODE_TWO_REV || mode == MODE_REV_COMPACT;
    fn(e, rev);
    if (mode != MODE_MEM) assert_int_equal(tu_flush(e), 0);
    fn(e, !rev);
    if (mode == MODE_TWO || mode == MODE_TWO_REV || mode == MODE_TWO_COMPACT ||
        mode == MODE_REV_COMPACT) {
        assert_int_equal(tu_flush(e), 0);
        assert_int_equal(st_sstable_count(e, T1), 2);
    }
    if (mode == MODE_TWO_COMPACT || mode == MODE_REV_COMPACT) {
        assert_int_equal(st_compact(e, T1, &err), 0);
        assert_int_equal(st_sstable_count(e, T1), 1);
    }
    if (mode == MODE_REOPEN) {
        assert_int_equal(tu_close(e), 0);
        e = tu_open(dir, o);
        assert_non_null(e);
    }
    return e;
}

/* Column 1 simple, column 2 a collection. */
static void write_collections(st_engine *e, bool newer)
{
    if (!newer) {
        /* pk 1: elements at 10, then overwritten (pk 1) */
        st_cell c[3] = {tu_cell(1, 10, "s"), tu_pcell(2, "e1", 10, "x"),
                        tu_pcell(2, "e2", 10, "y")};
        assert_int_equal(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, c, 3), 0);
        /* pk 2: three elements, one deleted later */
        st_cell d[3] = {tu_pcell(2, "e1", 10, "x"), tu_pcell(2, "e2", 10, "y"),
                        tu_pcell(2, "e3", 10, "z")};
        assert_int_equal(tu_row(e, T1, 2, "a", 10, HLN_TS_NONE, d, 3), 0);
        /* pk 3: a collection deleted as a whole later; column 1 stays */
        assert_int_equal(tu_row(e, T1, 3, "a", 10, HLN_TS_NONE, c, 3), 0);
        /* pk 4: a row that has only the collection */
        assert_int_equal(tu_row(e, T1, 4, "a", HLN_TS_NONE, HLN_TS_NONE, c + 1, 2), 0);
        /* pk 5: elements newer than the column deletion that comes later */
        st_cell f[2] = {tu_pcell(2, "e1", 25, "x"), tu_pcell(2, "e9", 19, "old")};
        assert_int_equal(tu_row(e, T1, 5, "a", HLN_TS_NONE, HLN_TS_NONE, f, 2), 0);
    } else {
        /* the overwrite: COLDEL at 19 and the new elements at 20 */
        st_cell c[3] = {tu_coldel(2, 19), tu_pcell(2, "e2", 20, "w"), tu_pcell(2, "e3", 20, "z")};
        assert_int_equal(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, c, 3), 0);
        st_cell d[1] = {tu_ptomb(2, "e2", 11)};
        assert_int_equal(tu_row(e, T1, 2, "a", HLN_TS_NONE, HLN_TS_NONE, d, 1), 0);
        st_cell g[1] = {tu_coldel(2, 30)};
        assert_int_equal(tu_row(e, T1, 3, "a", HLN_TS_NONE, HLN_TS_NONE, g, 1), 0);
        assert_int_equal(tu_row(e, T1, 4, "a", HLN_TS_NONE, HLN_TS_NONE, g, 1), 0);
        /* unsorted, with duplicates and an older COLDEL, in one mutation */
        st_cell f[5] = {tu_pcell(2, "e3", 20, "z"), tu_coldel(2, 19), tu_pcell(2, "e0", 10, "no"),
                        tu_pcell(2, "e3", 21, "zz"), tu_coldel(2, 12)};
        assert_int_equal(tu_row(e, T1, 5, "a", HLN_TS_NONE, HLN_TS_NONE, f, 5), 0);
    }
}

static void expect_collections(st_engine *e)
{
    assert_string_equal(tu_read(e, T1, 1), "a*:1=s,2[e2]=w,2[e3]=z");
    assert_string_equal(tu_read(e, T1, 2), "a*:2[e1]=x,2[e3]=z");
    assert_string_equal(tu_read(e, T1, 3), "a*:1=s");
    assert_string_equal(tu_read(e, T1, 4), "");
    assert_string_equal(tu_read(e, T1, 5), "a:2[e1]=x,2[e3]=zz");
    tu_slice rev = {NULL, true, NULL, true, true, 0};
    assert_string_equal(tu_read_slice(e, T1, 1, &rev), "a*:1=s,2[e2]=w,2[e3]=z");
    assert_string_equal(tu_scan_now(e, T1, 0, 0, 0),
                        "1:a*:1=s,2[e2]=w,2[e3]=z|2:a*:2[e1]=x,2[e3]=z|3:a*:1=s|"
                        "5:a:2[e1]=x,2[e3]=zz");
}

static void test_collection_overwrite(void **state)
{
    (void)state;
    for (int mode = 0; mode < NMODES; mode++) {
        char *dir = tu_mkdtemp("st-coll");
        st_options o = small_opts();
        o.compaction_disabled = true;
        st_engine *e = write_mode(dir, &o, mode, write_collections);
        expect_collections(e);
        /* the column deletions keep hiding older elements arriving late, in
           the memtable, flushed, compacted and after a restart */
        st_cell late[2] = {tu_pcell(2, "e1", 15, "late"), tu_pcell(2, "e7", 19, "late")};
        assert_int_equal(tu_row(e, T1, 1, "a", HLN_TS_NONE, HLN_TS_NONE, late, 2), 0);
        assert_int_equal(tu_row(e, T1, 3, "a", HLN_TS_NONE, HLN_TS_NONE, late, 2), 0);
        for (int round = 0; round < 4; round++) {
            hln_error err;
            if (round == 1) assert_int_equal(tu_flush(e), 0);
            if (round == 2) assert_int_equal(st_compact(e, T1, &err), 0);
            if (round == 3) {
                assert_int_equal(tu_close(e), 0);
                e = tu_open(dir, &o);
                assert_non_null(e);
            }
            expect_collections(e);
        }
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* now = 1000; "expired" means expires 900, "alive" expires 2000. */
static void write_ttl(st_engine *e, bool newer)
{
    if (!newer) {
        /* pk 1: an expiring marker and an expiring cell, both expired */
        st_cell c[1] = {tu_expiring(tu_cell(1, 10, "x"), 60, 900)};
        st_row r = tu_xrow("a", 10, 900, c, 1);
        assert_int_equal(tu_apply_row(e, T1, 1, &r), 0);
        /* pk 2: the same, plus a cell that does not expire */
        st_cell d[2] = {tu_expiring(tu_cell(1, 10, "x"), 60, 900), tu_cell(2, 10, "y")};
        r = tu_xrow("a", 10, 900, d, 2);
        assert_int_equal(tu_apply_row(e, T1, 2, &r), 0);
        /* pk 3: an old plain value */
        st_cell f[1] = {tu_cell(1, 10, "old")};
        assert_int_equal(tu_row(e, T1, 3, "a", HLN_TS_NONE, HLN_TS_NONE, f, 1), 0);
        /* pk 4: a live expiring marker, an expired collection element */
        st_cell g[2] = {tu_expiring(tu_pcell(2, "k", 10, "gone"), 60, 900),
                        tu_expiring(tu_pcell(2, "l", 10, "here"), 60, 2000)};
        r = tu_xrow("a", 10, 2000, g, 2);
        assert_int_equal(tu_apply_row(e, T1, 4, &r), 0);
        /* pk 5: a plain marker at 10 */
        assert_int_equal(tu_row(e, T1, 5, "a", 10, HLN_TS_NONE, NULL, 0), 0);
        /* pk 6: an expired marker at 10 */
        r = tu_xrow("a", 10, 900, NULL, 0);
        assert_int_equal(tu_apply_row(e, T1, 6, &r), 0);
    } else {
        /* pk 3: a newer value that has expired hides the old one */
        st_cell f[1] = {tu_expiring(tu_cell(1, 20, "new"), 60, 900)};
        assert_int_equal(tu_row(e, T1, 3, "a", HLN_TS_NONE, HLN_TS_NONE, f, 1), 0);
        /* pk 5: an expired marker of the same timestamp wins the tie */
        st_row r = tu_xrow("a", 10, 900, NULL, 0);
        assert_int_equal(tu_apply_row(e, T1, 5, &r), 0);
        /* pk 6: a newer plain marker wins */
        assert_int_equal(tu_row(e, T1, 6, "a", 11, HLN_TS_NONE, NULL, 0), 0);
    }
}

static void expect_ttl(st_engine *e)
{
    /* before anything expired */
    assert_string_equal(tu_read_now(e, T1, 1, 800), "a*:1=x");
    assert_string_equal(tu_read_now(e, T1, 2, 800), "a*:1=x,2=y");
    assert_string_equal(tu_read_now(e, T1, 3, 800), "a:1=new");
    assert_string_equal(tu_read_now(e, T1, 4, 800), "a*:2[k]=gone,2[l]=here");
    assert_string_equal(tu_read_now(e, T1, 5, 800), "a*");
    assert_string_equal(tu_read_now(e, T1, 6, 800), "a*");
    /* at 1000 (and exactly at the expiry second, 900) */
    for (int64_t now = 900; now <= 1000; now += 100) {
        assert_string_equal(tu_read_now(e, T1, 1, now), "");
        assert_string_equal(tu_read_now(e, T1, 2, now), "a:2=y");
        assert_string_equal(tu_read_now(e, T1, 3, now), "");
        assert_string_equal(tu_read_now(e, T1, 4, now), "a*:2[l]=here");
        assert_string_equal(tu_read_now(e, T1, 5, now), "");
        assert_string_equal(tu_read_now(e, T1, 6, now), "a*");
    }
    assert_string_equal(tu_read_now(e, T1, 4, 2000), "");
    assert_string_equal(tu_scan_now(e, T1, 0, 0, 1000), "2:a:2=y|4:a*:2[l]=here|6:a*");
    /* live cells and markers keep their ttl and expiry */
    uint8_t pkb[4];
    tu_pk(4, pkb);
    st_read_cmd c;
    memset(&c, 0, sizeof c);
    memcpy(c.table_id, T1, 16);
    c.pk = pkb;
    c.pklen = 4;
    c.token = tu_tok(4);
    c.start.inclusive = c.end.inclusive = true;
    c.now_sec = 1000;
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_partition *p = NULL;
    hln_error err;
    assert_int_equal(st_read(e, &c, &a, &p, &err), 0);
    assert_non_null(p);
    assert_int_equal(p->nrows, 1);
    const st_row *r = &p->rows[0];
    assert_true(r->marker_ts == 10 && r->marker_ttl == 60 && r->marker_expires == 2000);
    assert_int_equal(r->ncells, 1);
    assert_true(r->cells[0].ttl == 60 && r->cells[0].expires == 2000 && r->cells[0].ts == 10 &&
                r->cells[0].flags == 0 && r->cells[0].pathlen == 1 && r->cells[0].path[0] == 'l');
    hln_arena_free(&a);
}

static void test_ttl_expiry(void **state)
{
    (void)state;
    for (int mode = 0; mode < NMODES; mode++) {
        char *dir = tu_mkdtemp("st-ttl");
        st_options o = small_opts();
        o.compaction_disabled = true;
        st_engine *e = write_mode(dir, &o, mode, write_ttl);
        expect_ttl(e);
        hln_error err;
        assert_int_equal(tu_flush(e), 0);
        assert_int_equal(st_compact(e, T1, &err), 0);
        expect_ttl(e); /* compaction keeps what a reader of an earlier clock needs */
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* Scans count live rows only: dead rows (expired, or whose only column was
 * deleted) between live ones count toward neither limit. */
static void write_scan_rows(st_engine *e, bool newer)
{
    for (int pk = 1; pk <= 3; pk++) {
        if (!newer) {
            st_cell x[1] = {tu_expiring(tu_cell(1, 10, "x"), 60, 900)};
            st_row r = tu_xrow("a", 10, 900, x, 1);
            assert_int_equal(tu_apply_row(e, T1, pk, &r), 0);
            st_cell y[1] = {tu_cell(1, 10, "b")};
            assert_int_equal(tu_row(e, T1, pk, "b", HLN_TS_NONE, HLN_TS_NONE, y, 1), 0);
            st_cell z[2] = {tu_pcell(2, "k", 10, "c"), tu_pcell(2, "l", 10, "c")};
            assert_int_equal(tu_row(e, T1, pk, "c", HLN_TS_NONE, HLN_TS_NONE, z, 2), 0);
            st_cell w[1] = {tu_cell(1, 10, "d")};
            assert_int_equal(tu_row(e, T1, pk, "d", HLN_TS_NONE, HLN_TS_NONE, w, 1), 0);
        } else {
            st_cell z[1] = {tu_coldel(2, 10)};
            assert_int_equal(tu_row(e, T1, pk, "c", HLN_TS_NONE, HLN_TS_NONE, z, 1), 0);
        }
    }
}

static void test_scan_paths_ttl(void **state)
{
    (void)state;
    for (int mode = 0; mode < NMODES; mode++) {
        char *dir = tu_mkdtemp("st-scan2");
        st_options o = small_opts();
        o.compaction_disabled = true;
        st_engine *e = write_mode(dir, &o, mode, write_scan_rows);
        assert_string_equal(tu_scan_now(e, T1, 0, 0, 1000),
                            "1:b:1=b d:1=d|2:b:1=b d:1=d|3:b:1=b d:1=d");
        assert_string_equal(tu_scan_now(e, T1, 0, 1, 1000), "1:b:1=b|2:b:1=b|3:b:1=b");
        assert_string_equal(tu_scan_now(e, T1, 3, 0, 1000), "1:b:1=b d:1=d|2:b:1=b");
        assert_string_equal(tu_scan_now(e, T1, 2, 1, 1000), "1:b:1=b|2:b:1=b");
        assert_string_equal(tu_scan_now(e, T1, 2, 1, 800), "1:a*:1=x|2:a*:1=x");
        /* reads count the same way */
        tu_slice lim = {NULL, true, NULL, true, false, 2};
        assert_string_equal(tu_read_slice_at(e, T1, 2, &lim, 1000), "b:1=b d:1=d");
        tu_slice rlim = {NULL, true, NULL, true, true, 1};
        assert_string_equal(tu_read_slice_at(e, T1, 2, &rlim, 1000), "d:1=d");
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* ---- collections and TTL against a reference model ------------------------- */

enum { X_PKS = 4, X_CKS = 3, X_PATHS = 4 };

/* A version of a cell (or marker: val ""), with its expiry (0 = none). */
typedef struct xcell {
    bool set, tomb;
    int64_t ts, expires;
    char val[4];
} xcell;

typedef struct xrow {
    xcell marker;
    int64_t rdel, coldel;
    xcell simple;        /* column 1 */
    xcell elem[X_PATHS]; /* column 2, path "p<i>" */
} xrow;

typedef struct xmodel {
    int64_t pdel[X_PKS];
    xrow row[X_PKS][X_CKS];
} xmodel;

/* st_cell_supersedes, restated */
static void xcell_put(xcell *m, bool tomb, int64_t ts, int64_t expires, const char *v)
{
    bool wins;
    if (!m->set || ts != m->ts) {
        wins = !m->set || ts > m->ts;
    } else {
        bool ad = tomb || expires != 0, bd = m->tomb || m->expires != 0;
        if (ad != bd)
            wins = ad;
        else if (ad && tomb != m->tomb)
            wins = tomb;
        else if (ad && expires != m->expires)
            wins = expires > m->expires;
        else if (tomb && m->tomb)
            wins = false;
        else
            wins = strcmp(v, m->val) > 0;
    }
    if (wins) {
        m->set = true;
        m->tomb = tomb;
        m->ts = ts;
        m->expires = expires;
        snprintf(m->val, sizeof m->val, "%s", tomb ? "" : v);
    }
}

static int64_t xmax(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static bool xcell_live(const xcell *c, int64_t shadow, int64_t now)
{
    return c->set && !c->tomb && c->ts > shadow && !(c->expires && c->expires <= now);
}

/* The live rows of pk at now, rendered as tu_render_row does, in rows[]. */
static int xmodel_rows(const xmodel *m, int pk, int64_t now, char rows[X_CKS][160])
{
    int n = 0;
    for (int c = 0; c < X_CKS; c++) {
        const xrow *r = &m->row[pk][c];
        int64_t shadow = xmax(m->pdel[pk], r->rdel);
        bool mk = xcell_live(&r->marker, shadow, now);
        char cells[128] = "";
        size_t cl = 0;
        if (xcell_live(&r->simple, shadow, now))
            cl += (size_t)snprintf(cells + cl, sizeof cells - cl, "1=%s", r->simple.val);
        for (int p = 0; p < X_PATHS; p++)
            if (xcell_live(&r->elem[p], xmax(shadow, r->coldel), now))
                cl += (size_t)snprintf(cells + cl, sizeof cells - cl, "%s2[p%d]=%s", cl ? "," : "",
                                       p, r->elem[p].val);
        if (!mk && !cl) continue;
        snprintf(rows[n++], 160, "k%d%s%s%s", c, mk ? "*" : "", cl ? ":" : "", cells);
    }
    return n;
}

static void xmodel_check(st_engine *e, const xmodel *m)
{
    static const int64_t nows[] = {0, 30, 50, 1000};
    char rows[X_CKS][160], want[2048];
    for (size_t t = 0; t < HLN_ARRAY_LEN(nows); t++) {
        int64_t now = nows[t];
        for (int pk = 0; pk < X_PKS; pk++) {
            int n = xmodel_rows(m, pk, now, rows);
            for (int rev = 0; rev < 2; rev++) {
                size_t o = 0;
                want[0] = '\0';
                for (int i = 0; i < n; i++)
                    o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", i ? " " : "",
                                          rows[rev ? n - 1 - i : i]);
                tu_slice s = {NULL, true, NULL, true, rev != 0, 0};
                const char *got = tu_read_slice_at(e, T1, pk, &s, now);
                if (strcmp(got, want) != 0)
                    fprintf(stderr, "pk %d now %lld rev %d: got '%s' want '%s'\n", pk,
                            (long long)now, rev, got, want);
                assert_string_equal(got, want);
            }
        }
        /* scans, with a per-partition limit and a limit */
        for (uint32_t pp = 0; pp <= 2; pp++) {
            for (uint32_t lim = 0; lim <= 4; lim += 2) {
                size_t o = 0;
                uint32_t left = lim ? lim : UINT32_MAX;
                want[0] = '\0';
                for (int pk = 0; pk < X_PKS && left; pk++) {
                    int n = xmodel_rows(m, pk, now, rows);
                    if (pp && n > (int)pp) n = (int)pp;
                    if ((uint32_t)n > left) n = (int)left;
                    if (n == 0) continue;
                    left -= (uint32_t)n;
                    o += (size_t)snprintf(want + o, sizeof want - o, "%s%d:", o ? "|" : "", pk);
                    for (int i = 0; i < n; i++)
                        o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", i ? " " : "",
                                              rows[i]);
                }
                const char *got = tu_scan_now(e, T1, lim, pp, now);
                if (strcmp(got, want) != 0)
                    fprintf(stderr, "scan now %lld pp %u lim %u: got '%s' want '%s'\n",
                            (long long)now, pp, lim, got, want);
                assert_string_equal(got, want);
            }
        }
    }
}

static void xrandom_run(uint64_t seed, int nops)
{
    rng_state = seed;
    char *dir = tu_mkdtemp("st-xrand");
    st_options o = small_opts();
    o.memtable_flush_bytes = 4096 + rnd(8192);
    o.compaction_min_threshold = 2;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    static xmodel m;
    memset(&m, 0, sizeof m);
    for (int p = 0; p < X_PKS; p++) {
        m.pdel[p] = HLN_TS_NONE;
        for (int c = 0; c < X_CKS; c++)
            m.row[p][c].rdel = m.row[p][c].coldel = HLN_TS_NONE;
    }
    static const char *vals[] = {"a", "b", "c"};
    static const int64_t exps[] = {0, 0, 30, 50, 2000};
    for (int op = 0; op < nops; op++) {
        int pk = (int)rnd(X_PKS), c = (int)rnd(X_CKS);
        xrow *xr = &m.row[pk][c];
        int64_t ts = 1 + rnd(40);
        char ck[8];
        snprintf(ck, sizeof ck, "k%d", c);
        char paths[X_PATHS][4];
        for (int p = 0; p < X_PATHS; p++)
            snprintf(paths[p], sizeof paths[p], "p%d", p);
        uint32_t r = rnd(100);
        st_cell cells[2 + X_PATHS];
        uint32_t n = 0;
        if (r < 50) {
            /* an insert or update: maybe a marker, column 1, some elements,
               maybe replacing the collection (COLDEL at ts - 1), some of it
               expiring; cells in a random order */
            bool overwrite = rnd(4) == 0;
            if (overwrite) {
                cells[n++] = tu_coldel(2, ts - 1);
                if (ts - 1 > xr->coldel) xr->coldel = ts - 1;
            }
            if (rnd(2)) {
                const char *v = vals[rnd(3)];
                int64_t ex = exps[rnd(5)];
                cells[n++] = tu_expiring(tu_cell(1, ts, v), ex ? 60 : 0, ex);
                xcell_put(&xr->simple, false, ts, ex, v);
            }
            for (int p = 0; p < X_PATHS; p++) {
                if (rnd(2)) continue;
                const char *v = vals[rnd(3)];
                int64_t ex = exps[rnd(5)];
                cells[n++] = tu_expiring(tu_pcell(2, paths[p], ts, v), ex ? 60 : 0, ex);
                xcell_put(&xr->elem[p], false, ts, ex, v);
            }
            for (uint32_t i = n; i > 1; i--) {
                uint32_t j = rnd(i);
                st_cell t = cells[i - 1];
                cells[i - 1] = cells[j];
                cells[j] = t;
            }
            int64_t mk = HLN_TS_NONE, mex = exps[rnd(5)];
            if (rnd(2)) {
                mk = ts;
                xcell_put(&xr->marker, false, ts, mex, "");
            }
            st_row row = tu_xrow(ck, mk, mk == HLN_TS_NONE ? 0 : mex, cells, n);
            assert_int_equal(tu_apply_row(e, T1, pk, &row), 0);
        } else if (r < 62) {
            int p = (int)rnd(X_PATHS);
            cells[0] = tu_ptomb(2, paths[p], ts);
            xcell_put(&xr->elem[p], true, ts, 0, "");
            assert_int_equal(tu_row(e, T1, pk, ck, HLN_TS_NONE, HLN_TS_NONE, cells, 1), 0);
        } else if (r < 70) {
            cells[0] = tu_tomb(1, ts);
            xcell_put(&xr->simple, true, ts, 0, "");
            assert_int_equal(tu_row(e, T1, pk, ck, HLN_TS_NONE, HLN_TS_NONE, cells, 1), 0);
        } else if (r < 76) {
            cells[0] = tu_coldel(2, ts);
            if (ts > xr->coldel) xr->coldel = ts;
            assert_int_equal(tu_row(e, T1, pk, ck, HLN_TS_NONE, HLN_TS_NONE, cells, 1), 0);
        } else if (r < 80) {
            if (ts > xr->rdel) xr->rdel = ts;
            assert_int_equal(tu_row(e, T1, pk, ck, HLN_TS_NONE, ts, NULL, 0), 0);
        } else if (r < 82) {
            ts = 1 + rnd(15);
            if (ts > m.pdel[pk]) m.pdel[pk] = ts;
            assert_int_equal(tu_pdel(e, T1, pk, ts), 0);
        } else if (r < 91) {
            assert_int_equal(tu_flush(e), 0);
            hln_error err;
            if (rnd(3) == 0) assert_int_equal(st_compact(e, T1, &err), 0);
            st_maintain(e);
        } else if (r < 94) {
            assert_int_equal(tu_close(e), 0);
            e = tu_open(dir, &o);
            assert_non_null(e);
        } else {
            xmodel_check(e, &m);
        }
    }
    xmodel_check(e, &m);
    hln_error err;
    assert_int_equal(tu_flush(e), 0);
    assert_int_equal(st_compact(e, T1, &err), 0);
    xmodel_check(e, &m);
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    xmodel_check(e, &m);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

static void test_collections_ttl_vs_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++)
        xrandom_run(seed * 15485863, 400);
}

/* ---- purging, fully expired sstables, time windows ------------------------- */

static st_table_opts g_topts; /* what the table_opts callback answers */

static void topts_cb(void *ud, const uint8_t id[16], st_table_opts *out)
{
    (void)ud;
    (void)id;
    *out = g_topts;
}

static st_options purge_opts(int64_t gc_grace)
{
    st_options o = small_opts();
    o.compaction_disabled = true;
    st_table_opts_default(&g_topts);
    g_topts.gc_grace_sec = gc_grace;
    o.table_opts = topts_cb;
    return o;
}

static int64_t now_us(void)
{
    return (int64_t)time(NULL) * 1000000;
}

/* TTL data (gc_grace_seconds 0): written, flushed into several sstables,
 * expired for real, compacted: no sstable is left, the directory holds no
 * data file, and nothing reads back. */
static void test_ttl_purge_to_nothing(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("purge-ttl");
    st_options o = purge_opts(0);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    int64_t now = (int64_t)time(NULL);
    for (int f = 0; f < 3; f++) {
        for (int pk = 0; pk < 300; pk++) {
            st_cell c[2] = {tu_expiring(tu_cell(1, now_us() + f, "some value"), 1, now + 1),
                            tu_expiring(tu_cell(2, now_us() + f, "another value"), 1, now + 1)};
            st_row r = tu_xrow("ck", now_us() + f, now + 1, c, 2);
            r.marker_ttl = 1;
            assert_int_equal(tu_apply_row(e, T1, pk, &r), 0);
        }
        assert_int_equal(tu_flush(e), 0);
    }
    assert_int_equal(st_sstable_count(e, T1), 3);
    assert_string_equal(tu_read_now(e, T1, 7, now), "ck*:1=some value,2=another value");
    sleep(2); /* expires at now + 1 */
    assert_string_equal(tu_read_now(e, T1, 7, (int64_t)time(NULL)), "");
    /* (tu_read reads at clock 0, where nothing has expired: "" from here on
       means the data is gone from the files) */
    hln_error err;
    assert_int_equal(st_compact(e, T1, &err), 0);
    assert_int_equal(st_sstable_count(e, T1), 0);
    assert_int_equal(tu_count_files(dir, "-Data.db"), 0);
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_non_null(e);
    assert_string_equal(tu_read(e, T1, 7), "");
    assert_int_equal(tu_count_files(dir, "-Data.db"), 0);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* Tombstone compaction: one sstable of size-tiered data (it never meets
 * three others), 60% of whose cells expire, compacts alone once they have
 * (tombstone_threshold 0.2, tombstone_compaction_interval 0): the expired
 * cells go, the live ones stay, and it is not compacted again. Not while
 * its share is under the threshold, nor while a memtable holds data as old
 * as its deletions (unless unchecked_tombstone_compaction). */
static void test_tombstone_compaction(void **state)
{
    (void)state;
    for (int pass = 0; pass < 3; pass++) {
        char *dir = tu_mkdtemp("tomb-cp");
        st_options o = purge_opts(0);
        o.compaction_disabled = false;
        g_topts.tombstone_interval_sec = 0;
        g_topts.tombstone_threshold = pass == 1 ? 0.9 : 0.2; /* pass 1: too few */
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        int64_t now = (int64_t)time(NULL);
        for (int pk = 0; pk < 200; pk++) {
            bool dies = pk % 5 < 3;
            st_cell c[1] = {dies ? tu_expiring(tu_cell(1, now_us(), "short lived"), 1, now + 1)
                                 : tu_cell(1, now_us(), "kept")};
            assert_int_equal(tu_row(e, T1, pk, "ck", HLN_TS_NONE, HLN_TS_NONE, c, 1), 0);
        }
        assert_int_equal(tu_flush(e), 0);
        if (pass == 2) { /* older data in the memtable: the deletions must stay */
            st_cell old[1] = {tu_cell(1, 5, "old")};
            assert_int_equal(tu_row(e, T1, 999, "ck", HLN_TS_NONE, HLN_TS_NONE, old, 1), 0);
        }
        st_table_stats before, after;
        assert_int_equal(st_table_stats_get(e, T1, &before), 0);
        sleep(2); /* the short-lived cells expire at now + 1 */
        for (int i = 0; i < 100; i++) {
            usleep(5000);
            st_maintain(e);
        }
        assert_int_equal(st_table_stats_get(e, T1, &after), 0);
        assert_int_equal(after.sstables, 1);
        if (pass == 0) {
            assert_int_equal(after.compactions, 1);
            assert_true(after.disk_bytes < before.disk_bytes);
        } else {
            assert_int_equal(after.compactions, 0);
        }
        assert_string_equal(tu_read_now(e, T1, 3, (int64_t)time(NULL)), "ck:1=kept");
        assert_string_equal(tu_read(e, T1, 0), pass == 0 ? "" : "ck:1=short lived");
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

/* A deletion older than gc_grace is kept while older data it shadows may
 * still exist outside the compaction (here: in the memtable), and dropped
 * with that data once both meet in one compaction. With the default
 * gc_grace (10 days) a fresh tombstone is never purged. */
static void test_purge_overlap_rule(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("purge-overlap");
    st_options o = purge_opts(0);
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    hln_error err;
    st_cell t[1] = {tu_tomb(1, 20)};
    assert_int_equal(tu_row(e, T1, 1, "a", HLN_TS_NONE, 30, t, 1), 0); /* row deletion too */
    assert_int_equal(tu_flush(e), 0);
    st_cell live[1] = {tu_cell(1, 10, "old")};
    assert_int_equal(tu_row(e, T1, 1, "a", 10, HLN_TS_NONE, live, 1), 0); /* memtable only */
    assert_int_equal(st_compact(e, T1, &err), 0);
    assert_int_equal(st_sstable_count(e, T1), 1); /* the deletions stay */
    assert_string_equal(tu_read(e, T1, 1), "");
    assert_int_equal(tu_flush(e), 0);
    assert_string_equal(tu_read(e, T1, 1), "");
    assert_int_equal(st_compact(e, T1, &err), 0); /* deletion and data meet: both go */
    assert_int_equal(st_sstable_count(e, T1), 0);
    assert_string_equal(tu_read(e, T1, 1), "");
    assert_int_equal(tu_close(e), 0);
    e = tu_open(dir, &o);
    assert_string_equal(tu_read(e, T1, 1), "");
    /* a fresh deletion under the default gc_grace stays */
    g_topts.gc_grace_sec = 864000;
    st_cell t2[1] = {tu_tomb(1, now_us())};
    assert_int_equal(tu_row(e, T1, 2, "a", HLN_TS_NONE, HLN_TS_NONE, t2, 1), 0);
    assert_int_equal(tu_flush(e), 0);
    assert_int_equal(st_compact(e, T1, &err), 0);
    assert_int_equal(st_sstable_count(e, T1), 1);
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* Time windows: sstables whose data falls in past windows are merged one
 * window at a time, the newest window size-tiered; an sstable of expired
 * data only is dropped whole. */
static void test_twcs_windows_and_expired_drop(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("twcs");
    st_options o = purge_opts(0);
    o.compaction_disabled = false;
    g_topts.strategy = ST_TWCS;
    g_topts.window_sec = 3600;
    st_engine *e = tu_open(dir, &o);
    assert_non_null(e);
    int64_t hour = 3600 * INT64_C(1000000), base = (now_us() / hour - 10) * hour;
    /* windows 0..2 (past, 3 flushes each) and the current hour (3 flushes) */
    for (int w = 0; w < 4; w++) {
        int64_t wts = w < 3 ? base + w * hour : now_us();
        for (int f = 0; f < 3; f++) {
            for (int pk = 0; pk < 20; pk++) {
                char ck[8];
                snprintf(ck, sizeof ck, "w%df%d", w, f);
                st_cell c[1] = {tu_cell(1, wts + f, "v")};
                assert_int_equal(tu_row(e, T1, pk, ck, wts + f, HLN_TS_NONE, c, 1), 0);
            }
            assert_int_equal(tu_flush(e), 0);
        }
    }
    /* three past windows become one sstable each; the newest keeps 3 (< 4) */
    assert_int_equal(wait_sstables(e, T1, 6), 6);
    const char *got = tu_read(e, T1, 5);
    assert_non_null(strstr(got, "w0f0"));
    assert_non_null(strstr(got, "w3f2"));
    /* an sstable of expired cells only, older than everything else: dropped */
    int64_t now = (int64_t)time(NULL);
    for (int pk = 100; pk < 120; pk++) {
        st_cell c[1] = {tu_expiring(tu_cell(1, base - 5 * hour, "gone"), 60, now - 10)};
        st_row r = tu_xrow("x", HLN_TS_NONE, 0, c, 1);
        assert_int_equal(tu_apply_row(e, T1, pk, &r), 0);
    }
    assert_int_equal(tu_flush(e), 0);
    assert_int_equal(wait_sstables(e, T1, 6), 6);
    assert_string_equal(tu_read(e, T1, 100), "");
    assert_non_null(strstr(tu_read(e, T1, 5), "w1f1"));
    assert_int_equal(tu_close(e), 0);
    tu_cleanup(dir);
}

/* The data files under dir, opened: their levels, key ranges and sizes. */
typedef struct lfile {
    int level;
    uint8_t lo[64], hi[64];
    uint32_t lol, hil;
    uint64_t raw;
} lfile;

static int level_files(const char *dir, lfile *out, int cap)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "find %s -name 'nb-*-Data.db'", dir);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[1100];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        line[strcspn(line, "\n")] = '\0';
        const char *base = strrchr(line, '/');
        uint64_t gen = strtoull(strstr(base, "nb-") + 3, NULL, 10);
        sst_reader *r = NULL;
        hln_error err = {0};
        assert_int_equal(sst_open(&r, line, gen, T1, &err), 0);
        assert_true(r->nentries > 0); /* empty outputs are never left behind */
        lfile *x = &out[n++];
        x->level = r->lcs_level;
        x->raw = r->raw_bytes;
        const sst_entry *a = &r->entries[0], *b = &r->entries[r->nentries - 1];
        assert_true(a->klen <= 64 && b->klen <= 64);
        memcpy(x->lo, a->key, a->klen);
        x->lol = a->klen;
        memcpy(x->hi, b->key, b->klen);
        x->hil = b->klen;
        sst_close(r);
    }
    pclose(f);
    return n;
}

/* Leveled (and UCS with a negative W): flushes pile into L0, four of them
 * go to L1 with the L1 files under them, a level over sstable_bytes *
 * fanout^n moves a file down; outputs split at sstable_bytes. At rest L0
 * holds fewer than four files, every other level is a run of
 * non-overlapping files of about sstable_bytes (one partition more at
 * most), the data went down more than one level, and every row reads
 * back. */
static void test_leveled_levels(void **state)
{
    (void)state;
    for (int ucs = 0; ucs < 2; ucs++) {
        char *dir = tu_mkdtemp("lcs");
        st_options o = purge_opts(864000);
        o.compaction_disabled = false;
        g_topts.strategy = ucs ? ST_UCS : ST_LCS;
        g_topts.sstable_bytes = 2048;
        g_topts.fanout = 2;
        g_topts.scaling = -2 + 0 * ucs; /* UCS L4: fanout 2 - (-2) = 4 */
        st_engine *e = tu_open(dir, &o);
        assert_non_null(e);
        for (int f = 0; f < 40; f++) {
            for (int i = 0; i < 30; i++) {
                char ck[16];
                snprintf(ck, sizeof ck, "c%03d", f);
                char v[64];
                snprintf(v, sizeof v, "value %016llx %d %d",
                         (unsigned long long)rnd(1u << 31) * 2654435761u, f, i);
                st_cell c[1] = {tu_cell(1, now_us(), v)};
                assert_int_equal(tu_row(e, T1, i, ck, now_us(), HLN_TS_NONE, c, 1), 0);
            }
            assert_int_equal(tu_flush(e), 0);
            for (int w = 0; w < 20; w++) { /* lets background jobs run */
                usleep(2000);
                st_maintain(e);
            }
        }
        for (int i = 0; i < 300; i++) {
            usleep(5000);
            st_maintain(e);
        }
        static lfile fs[512];
        int n = level_files(dir, fs, 512);
        int lv[16] = {0}, levels = 0, multi = 0;
        uint64_t biggest_partition = 40 * 64 * 2; /* rows x (value + key and cell overhead) */
        for (int x = 0; x < n; x++) {
            assert_true(fs[x].level < 16);
            lv[fs[x].level]++;
            if (fs[x].level > 0) assert_true(fs[x].raw <= 2048 + biggest_partition);
            for (int y = 0; y < n; y++) /* within a level n >= 1: no overlap */
                if (x != y && fs[x].level > 0 && fs[x].level == fs[y].level)
                    assert_true(st_bytes_cmp(fs[x].hi, fs[x].hil, fs[y].lo, fs[y].lol) < 0 ||
                                st_bytes_cmp(fs[y].hi, fs[y].hil, fs[x].lo, fs[x].lol) < 0);
        }
        assert_true(lv[0] < 4);
        for (int l = 1; l < 16; l++) {
            levels += lv[l] > 0;
            multi += lv[l] > 1;
        }
        if (levels < 2 || multi < 1)
            for (int l = 0; l < 8; l++)
                fprintf(stderr, "level %d: %d files\n", l, lv[l]);
        assert_true(levels >= 2); /* the data went down more than one level */
        assert_true(multi >= 1);  /* and a level was split into files */
        for (int i = 0; i < 30; i += 7) {
            const char *got = tu_read(e, T1, i);
            assert_non_null(strstr(got, "c000*:1=value"));
            assert_non_null(strstr(got, "c039*:1=value"));
        }
        assert_int_equal(tu_close(e), 0);
        /* reopened: the same rows */
        e = tu_open(dir, &o);
        assert_non_null(e);
        for (int i = 0; i < 30; i += 7) {
            const char *got = tu_read(e, T1, i);
            assert_non_null(strstr(got, "c000*:1=value"));
            assert_non_null(strstr(got, "c039*:1=value"));
        }
        assert_int_equal(tu_close(e), 0);
        tu_cleanup(dir);
    }
}

int main(void)
{
    hln_log_set_level(getenv("HLN_TEST_LOG") ? HLN_LOG_DEBUG : HLN_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutation_roundtrip),
        cmocka_unit_test(test_mutation_decode_damaged),
        cmocka_unit_test(test_memtable_merge),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_random_vs_model),
        cmocka_unit_test(test_compaction_random_vs_model),
        cmocka_unit_test(test_purge_random_vs_model),
        cmocka_unit_test(test_compaction_shadowing),
        cmocka_unit_test(test_compaction_background),
        cmocka_unit_test(test_compaction_log_recovery),
        cmocka_unit_test(test_background_flush_reads),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_drop_table),
        cmocka_unit_test(test_truncate_table),
        cmocka_unit_test(test_flush_threshold),
        cmocka_unit_test(test_commitlog_relief),
        cmocka_unit_test(test_large_partition),
        cmocka_unit_test(test_lazy_merge_many_sstables),
        cmocka_unit_test(test_no_clustering),
        cmocka_unit_test(test_range_tombstones),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_paths_roundtrip),
        cmocka_unit_test(test_old_version_records),
        cmocka_unit_test(test_collection_overwrite),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_scan_paths_ttl),
        cmocka_unit_test(test_collections_ttl_vs_model),
        cmocka_unit_test(test_ttl_purge_to_nothing),
        cmocka_unit_test(test_purge_overlap_rule),
        cmocka_unit_test(test_twcs_windows_and_expired_drop),
        cmocka_unit_test(test_leveled_levels),
        cmocka_unit_test(test_tombstone_compaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
