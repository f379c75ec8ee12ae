/* modules: */
/*
 * test_embedded_api.c — the parts of include/helenus.h a binding uses:
 * prepared statements (hln_prepare, marker names, types and specs,
 * hln_stmt_exec and the packed value list), packed results and column
 * copies, the CQL error codes, one handle used from several threads at once
 * (with thread-local error messages and a shared session keyspace), and
 * hln_serve (a real listener answering OPTIONS with SUPPORTED on a raw
 * socket, refused once stopped).
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helenus.h"

static char datadir[512];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static hln_db *fresh_db(const char *name, int shards)
{
    const char *base = getenv("HLN_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(datadir, sizeof datadir, "%s/embedded-api-%s-%d", base, name, (int)getpid());
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    hln_open_options o = {.shards = shards};
    hln_db *db = NULL;
    int rc = hln_open(datadir, &o, &db);
    if (rc) fprintf(stderr, "hln_open: %s\n", hln_db_errmsg(db));
    assert_int_equal(rc, HLN_OK);
    return db;
}

static void run(hln_db *db, const char *cql)
{
    int rc = hln_exec(db, cql, NULL, 0, NULL);
    if (rc) fprintf(stderr, "%s: %s\n", cql, hln_db_errmsg(db));
    assert_int_equal(rc, HLN_OK);
}

static const char *KS = "CREATE KEYSPACE ks WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}";

static size_t put_i32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
    return 4;
}

static int32_t get_i32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static void test_prepared(void **state)
{
    (void)state;
    hln_db *db = fresh_db("prepared", 2);
    run(db, KS);
    run(db, "CREATE TYPE ks.pt (x int, y text)");
    run(db, "CREATE TABLE ks.t (k int, c int, v text, l list<int>, p frozen<pt>, "
            "e vector<float, 2>, PRIMARY KEY (k, c))");

    hln_stmt *ins = NULL;
    assert_int_equal(
        hln_prepare(db, "INSERT INTO ks.t (k, c, v, l, p, e) VALUES (?, ?, ?, ?, ?, ?)", &ins),
        HLN_OK);
    assert_int_equal(hln_stmt_binds(ins), 6);
    assert_string_equal(hln_stmt_bind_name(ins, 2), "v");
    assert_string_equal(hln_stmt_bind_type(ins, 0), "int");
    assert_string_equal(hln_stmt_bind_type(ins, 3), "list<int>");
    assert_null(hln_stmt_bind_name(ins, 6));
    char spec[128];
    assert_int_equal(hln_stmt_bind_spec(ins, 4, spec, sizeof spec),
                     (int)strlen("udt<ks.pt,x:int,y:text>"));
    assert_string_equal(spec, "udt<ks.pt,x:int,y:text>");
    hln_stmt_bind_spec(ins, 5, spec, sizeof spec);
    assert_string_equal(spec, "vector<float,2>");
    /* a short buffer is truncated and the needed length returned */
    char small[4];
    assert_int_equal(hln_stmt_bind_spec(ins, 3, small, sizeof small), 9);
    assert_string_equal(small, "lis");

    /* hln_value binding, then the packed list: k, c, v, l = [7], p = (1, 'a'), e */
    hln_value vals[6] = {hln_int(1), hln_int(1), hln_text("one"),
                         hln_null(), hln_null(), hln_null()};
    assert_int_equal(hln_stmt_exec(ins, vals, 6, NULL), HLN_OK);
    uint8_t buf[256];
    size_t n = 0;
    n += put_i32(buf + n, 4);
    n += put_i32(buf + n, 1);
    n += put_i32(buf + n, 4);
    n += put_i32(buf + n, 2);
    n += put_i32(buf + n, 3);
    memcpy(buf + n, "two", 3);
    n += 3;
    n += put_i32(buf + n, 12); /* list<int> [7] */
    n += put_i32(buf + n, 1);
    n += put_i32(buf + n, 4);
    n += put_i32(buf + n, 7);
    n += put_i32(buf + n, 13); /* pt {x: 1, y: 'a'} */
    n += put_i32(buf + n, 4);
    n += put_i32(buf + n, 1);
    n += put_i32(buf + n, 1);
    buf[n++] = 'a';
    n += put_i32(buf + n, 8); /* vector<float, 2> [1.0, -2.0] */
    memcpy(buf + n, "\x3f\x80\x00\x00\xc0\x00\x00\x00", 8);
    n += 8;
    assert_int_equal(hln_stmt_exec_packed(ins, buf, n, 6, NULL), HLN_OK);
    /* unset (-2) leaves v as it was; a malformed list is refused */
    size_t m = 0;
    m += put_i32(buf + m, 4);
    m += put_i32(buf + m, 1);
    m += put_i32(buf + m, 4);
    m += put_i32(buf + m, 2);
    for (int i = 0; i < 4; i++)
        m += put_i32(buf + m, -2);
    assert_int_equal(hln_stmt_exec_packed(ins, buf, m, 6, NULL), HLN_OK);
    assert_int_equal(hln_stmt_exec_packed(ins, buf, m - 1, 6, NULL), HLN_EPROTO);
    assert_int_equal(hln_stmt_exec_packed(ins, buf, m, 5, NULL), HLN_EPROTO); /* bytes left */
    assert_int_equal(hln_stmt_exec(ins, vals, 2, NULL), HLN_EINVAL);
    assert_non_null(strstr(hln_db_errmsg(db), "bound variables"));

    hln_stmt *sel = NULL;
    assert_int_equal(hln_prepare(db, "SELECT c, v, l, e FROM ks.t WHERE k = ?", &sel), HLN_OK);
    hln_value k = hln_int(1);
    hln_result *r = NULL;
    assert_int_equal(hln_stmt_exec(sel, &k, 1, &r), HLN_OK);
    assert_int_equal(hln_result_kind(r), 2);
    assert_int_equal(hln_result_rows(r), 2);
    assert_int_equal(hln_result_column_spec(r, 3, spec, sizeof spec), 15);
    assert_string_equal(spec, "vector<float,2>");
    /* the packed rows: [len][bytes] per cell, nulls -1 */
    const uint8_t *p;
    size_t len;
    assert_int_equal(hln_result_packed(r, (const void **)&p, &len), HLN_OK);
    size_t off = 0;
    int32_t c0 = get_i32(p + off);
    assert_int_equal(c0, 4);
    assert_int_equal(get_i32(p + 4), 1); /* c = 1 */
    off = 8;
    assert_int_equal(get_i32(p + off), 3); /* v = 'one' */
    assert_memory_equal(p + off + 4, "one", 3);
    off += 7;
    assert_int_equal(get_i32(p + off), -1); /* l null */
    off += 4;
    assert_int_equal(get_i32(p + off), -1); /* e null */
    off += 4;
    assert_int_equal(get_i32(p + off + 4), 2); /* second row: c = 2, v = 'two' (unset kept it) */
    off += 8;
    assert_int_equal(get_i32(p + off), 3);
    assert_memory_equal(p + off + 4, "two", 3);
    /* a column copy: vectors of 8 bytes, the null one zeroed and flagged */
    uint8_t vec[16], nulls[2];
    memset(vec, 0xAA, sizeof vec);
    assert_int_equal(hln_result_column_copy(r, 3, vec, 8, nulls), HLN_OK);
    assert_int_equal(nulls[0], 1);
    assert_int_equal(nulls[1], 0);
    assert_memory_equal(vec, "\0\0\0\0\0\0\0\0", 8);
    assert_memory_equal(vec + 8, "\x3f\x80\x00\x00\xc0\x00\x00\x00", 8);
    assert_int_equal(hln_result_column_copy(r, 1, vec, 8, nulls), HLN_EINVAL); /* text */
    assert_int_equal(hln_result_column_copy(r, 9, vec, 8, nulls), HLN_EINVAL);
    assert_true(hln_result_next(r));
    assert_int_equal(hln_result_int64(r, 0), 1);
    hln_result_free(r);

    /* the statement follows a schema change without re-preparation */
    run(db, "ALTER TABLE ks.t DROP l");
    assert_int_equal(hln_stmt_exec(sel, &k, 1, &r), HLN_EINVAL);
    hln_stmt_free(sel);
    hln_stmt_free(ins);

    /* errors of hln_prepare, and the protocol codes */
    hln_stmt *bad = (hln_stmt *)&bad;
    assert_int_equal(hln_prepare(db, "SELECT FROM", &bad), HLN_ESYNTAX);
    assert_null(bad);
    assert_int_equal(hln_cql_error_code(HLN_ESYNTAX), 0x2000);
    assert_int_equal(hln_cql_error_code(HLN_EEXISTS), 0x2400);
    assert_int_equal(hln_cql_error_code(HLN_ENOTFOUND), 0x2200);
    assert_int_equal(hln_cql_error_code(HLN_EIO), 0x0000);
    assert_int_equal(hln_close(db), HLN_OK);
}

/* ---- threads ---------------------------------------------------------- */

typedef struct worker {
    hln_db *db;
    hln_stmt *ins, *sel;
    int id, failures;
} worker;

enum { NTHREADS = 6, NOPS = 300 };

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < NOPS; i++) {
        hln_value v[3] = {hln_int(w->id), hln_int(i), hln_bigint((int64_t)w->id * 100000 + i)};
        if (hln_stmt_exec(w->ins, v, 3, NULL) != HLN_OK) w->failures++;
        hln_result *r = NULL;
        if (hln_stmt_exec(w->sel, v, 2, &r) != HLN_OK || !hln_result_next(r) ||
            hln_result_int64(r, 0) != (int64_t)w->id * 100000 + i)
            w->failures++;
        hln_result_free(r);
        if (i % 10 == 0) {
            /* a failing statement: this thread's message, whatever the others do */
            char q[64];
            snprintf(q, sizeof q, "SELECT * FROM ks.missing_%d", w->id);
            int rc = hln_exec(w->db, q, NULL, 0, NULL);
            if (rc != HLN_ENOTFOUND && rc != HLN_EINVAL) w->failures++;
            char want[32];
            snprintf(want, sizeof want, "missing_%d", w->id);
            if (!strstr(hln_db_errmsg(w->db), want)) w->failures++;
            /* USE: a table named without keyspace resolves in the shared one */
            if (hln_exec(w->db, "USE ks", NULL, 0, NULL) != HLN_OK) w->failures++;
            if (hln_exec(w->db, "SELECT count(*) FROM th", NULL, 0, NULL) != HLN_OK) w->failures++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    hln_db *db = fresh_db("threads", 2);
    run(db, KS);
    run(db, "CREATE TABLE ks.th (k int, c int, v bigint, PRIMARY KEY (k, c))");
    hln_stmt *ins, *sel;
    assert_int_equal(hln_prepare(db, "INSERT INTO ks.th (k, c, v) VALUES (?, ?, ?)", &ins), HLN_OK);
    assert_int_equal(hln_prepare(db, "SELECT v FROM ks.th WHERE k = ? AND c = ?", &sel), HLN_OK);
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){.db = db, .ins = ins, .sel = sel, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    char ks[8];
    assert_int_equal(hln_db_keyspace(db, ks, sizeof ks), 2);
    assert_string_equal(ks, "ks");
    hln_result *r;
    assert_int_equal(hln_exec(db, "SELECT count(*) FROM ks.th", NULL, 0, &r), HLN_OK);
    assert_true(hln_result_next(r));
    assert_int_equal(hln_result_int64(r, 0), NTHREADS * NOPS);
    hln_result_free(r);
    hln_stmt_free(ins);
    hln_stmt_free(sel);
    assert_int_equal(hln_close(db), HLN_OK);
}

/* ---- hln_serve -------------------------------------------------------- */

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_serve(void **state)
{
    (void)state;
    hln_db *db = fresh_db("serve", 1);
    int port = 0;
    assert_int_equal(hln_serve(db, NULL, 0, &port), HLN_OK);
    assert_true(port > 0);
    assert_int_equal(hln_serve(db, NULL, 0, NULL), HLN_EINVAL); /* once per handle */
    int fd = dial(port);
    assert_true(fd >= 0);
    /* OPTIONS, protocol v4, stream 1 -> SUPPORTED (opcode 0x06) */
    const uint8_t options[9] = {0x04, 0, 0, 1, 0x05, 0, 0, 0, 0};
    assert_int_equal(write(fd, options, sizeof options), 9);
    uint8_t head[9];
    size_t got = 0;
    while (got < sizeof head) {
        ssize_t k = read(fd, head + got, sizeof head - got);
        assert_true(k > 0);
        got += (size_t)k;
    }
    assert_int_equal(head[0], 0x84);
    assert_int_equal(head[3], 1);
    assert_int_equal(head[4], 0x06);
    close(fd);
    /* the embedded API keeps working beside the server */
    run(db, KS);
    hln_serve_stop(db);
    hln_serve_stop(db); /* idempotent */
    assert_int_equal(dial(port), -1);
    run(db, "CREATE TABLE ks.after (k int PRIMARY KEY)");
    assert_int_equal(hln_close(db), HLN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepared),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
