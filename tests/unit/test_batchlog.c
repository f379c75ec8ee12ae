/* modules: */
/*
 * test_batchlog.c — LOGGED batches spanning shards survive a crash between
 * shards (exec/batchlog.c).
 *
 * A "crash" is a child process that opens the embedded API with 2 shards,
 * writes, and _exit()s without hln_close (nothing flushed; the commitlogs
 * and batchlog entries stay as they are). The test hook
 * HELENUS_TEST_BATCHLOG_PARTIAL=1 makes the coordinator (shard 0) write the
 * batchlog entry and then apply only the first shard's part, which is the
 * state a crash between shards leaves. The parent reopens the directory;
 * start-up must re-apply the entry, with its original timestamps (so a
 * later DELETE still wins), and remove it.
 */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static void fresh_dir(const char *name)
{
    const char *base = getenv("HLN_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(datadir, sizeof datadir, "%s/batchlog-%s-%d", base, name, (int)getpid());
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static hln_db *open_db(int sync_batch)
{
    hln_open_options o = {.shards = 2, .sync_batch = sync_batch};
    hln_db *db = NULL;
    if (hln_open(datadir, &o, &db) != HLN_OK) return NULL;
    return db;
}

static int run(hln_db *db, const char *cql)
{
    return hln_exec(db, cql, NULL, 0, NULL);
}

/* Rows of ks.t, or -1 on error. */
static int64_t count_rows(hln_db *db)
{
    hln_result *res = NULL;
    if (hln_exec(db, "SELECT count(*) FROM ks.t", NULL, 0, &res) != HLN_OK) return -1;
    int64_t n = hln_result_next(res) ? hln_result_int64(res, 0) : -1;
    hln_result_free(res);
    return n;
}

/* Pending entries in every shard's batchlog. */
static int count_entries(void)
{
    int n = 0;
    for (int s = 0; s < 2; s++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/shard-%d/batchlog", datadir, s);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            n += de->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

/* k = 1..8: Murmur3 spreads them over both shards (checked below). */
static const char *batch8 = "BEGIN BATCH "
                            "INSERT INTO ks.t (k, v) VALUES (1, 'a'); "
                            "INSERT INTO ks.t (k, v) VALUES (2, 'a'); "
                            "INSERT INTO ks.t (k, v) VALUES (3, 'a'); "
                            "INSERT INTO ks.t (k, v) VALUES (4, 'a'); "
                            "INSERT INTO ks.t (k, v) VALUES (5, 'a'); "
                            "INSERT INTO ks.t (k, v) VALUES (6, 'a'); "
                            "INSERT INTO ks.t (k, v) VALUES (7, 'a'); "
                            "INSERT INTO ks.t (k, v) VALUES (8, 'a'); "
                            "APPLY BATCH";

#define CHILD_OK(code, x)                                                                          \
    do {                                                                                           \
        if (!(x)) _exit(code);                                                                     \
    } while (0)

static hln_db *child_schema(int sync_batch)
{
    hln_db *db = open_db(sync_batch);
    CHILD_OK(10, db);
    CHILD_OK(11, run(db, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
                         "'replication_factor': 1}") == HLN_OK);
    CHILD_OK(12, run(db, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)") == HLN_OK);
    return db;
}

/* The batch stopped after the first shard: partly applied, entry pending. */
static void child_partial_batch(hln_db *db)
{
    setenv("HELENUS_TEST_BATCHLOG_PARTIAL", "1", 1);
    CHILD_OK(20, run(db, batch8) != HLN_OK);
    unsetenv("HELENUS_TEST_BATCHLOG_PARTIAL");
    int64_t n = count_rows(db);
    CHILD_OK(21, n > 0 && n < 8); /* both shards hold some of the keys */
    CHILD_OK(22, count_entries() == 1);
}

static void wait_child(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void crash_between_shards(int sync_batch)
{
    fresh_dir(sync_batch ? "partial-b" : "partial-p");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hln_db *db = child_schema(sync_batch);
        child_partial_batch(db);
        _exit(0); /* crash: no hln_close */
    }
    wait_child(pid);
    assert_int_equal(count_entries(), 1);
    hln_db *db = open_db(sync_batch);
    assert_non_null(db);
    assert_int_equal(count_rows(db), 8); /* the whole batch */
    assert_int_equal(count_entries(), 0);
    assert_int_equal(hln_close(db), HLN_OK);
    db = open_db(sync_batch);
    assert_non_null(db);
    assert_int_equal(count_rows(db), 8);
    assert_int_equal(hln_close(db), HLN_OK);
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_crash_between_shards_batch_sync(void **state)
{
    (void)state;
    crash_between_shards(1);
}

static void test_crash_between_shards_periodic(void **state)
{
    (void)state;
    crash_between_shards(0);
}

/* A pending entry re-applied after the batch's partitions were deleted:
 * the original timestamps are older than the deletes, which still win. */
static void test_replay_does_not_resurrect(void **state)
{
    (void)state;
    fresh_dir("resurrect");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hln_db *db = child_schema(1);
        child_partial_batch(db);
        for (int k = 1; k <= 8; k++) {
            char q[64];
            snprintf(q, sizeof q, "DELETE FROM ks.t WHERE k = %d", k);
            CHILD_OK(30, run(db, q) == HLN_OK);
        }
        CHILD_OK(31, run(db, "INSERT INTO ks.t (k, v) VALUES (9, 'later')") == HLN_OK);
        CHILD_OK(32, count_rows(db) == 1);
        _exit(0);
    }
    wait_child(pid);
    assert_int_equal(count_entries(), 1);
    hln_db *db = open_db(1);
    assert_non_null(db);
    assert_int_equal(count_entries(), 0); /* re-applied */
    assert_int_equal(count_rows(db), 1);  /* but the deletes still win */
    assert_int_equal(hln_close(db), HLN_OK);
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A completed batch leaves no entry, so nothing is re-applied after a
 * crash; a delete made after it stays. */
static void test_completed_batch_not_reapplied(void **state)
{
    (void)state;
    fresh_dir("done");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hln_db *db = child_schema(1);
        CHILD_OK(40, run(db, batch8) == HLN_OK);
        CHILD_OK(41, count_entries() == 0);
        CHILD_OK(42, count_rows(db) == 8);
        for (int k = 1; k <= 4; k++) {
            char q[64];
            snprintf(q, sizeof q, "DELETE FROM ks.t WHERE k = %d", k);
            CHILD_OK(43, run(db, q) == HLN_OK);
        }
        _exit(0);
    }
    wait_child(pid);
    hln_db *db = open_db(1);
    assert_non_null(db);
    assert_int_equal(count_rows(db), 4);
    assert_int_equal(hln_close(db), HLN_OK);
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* UNLOGGED batches and LOGGED batches on one shard take the old path: the
 * hook (which only acts once an entry is written) does not touch them. */
static void test_unlogged_and_single_shard_skip_batchlog(void **state)
{
    (void)state;
    fresh_dir("skip");
    hln_db *db = open_db(0);
    assert_non_null(db);
    assert_int_equal(run(db, "CREATE KEYSPACE ks WITH replication = {'class': "
                             "'SimpleStrategy', 'replication_factor': 1}"),
                     HLN_OK);
    assert_int_equal(run(db, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)"), HLN_OK);
    setenv("HELENUS_TEST_BATCHLOG_PARTIAL", "1", 1);
    char q[1024];
    snprintf(q, sizeof q, "BEGIN UNLOGGED BATCH %s", batch8 + strlen("BEGIN BATCH "));
    assert_int_equal(run(db, q), HLN_OK);
    assert_int_equal(count_rows(db), 8);
    assert_int_equal(run(db, "BEGIN BATCH INSERT INTO ks.t (k, v) VALUES (1, 'b'); "
                             "UPDATE ks.t SET v = 'c' WHERE k = 1; APPLY BATCH"),
                     HLN_OK);
    assert_int_equal(run(db, batch8), HLN_ESERVER); /* spans shards: the hook stops it */
    unsetenv("HELENUS_TEST_BATCHLOG_PARTIAL");
    assert_int_equal(count_entries(), 1);
    assert_int_equal(hln_close(db), HLN_OK);
    db = open_db(0); /* a clean restart re-applies it too */
    assert_non_null(db);
    assert_int_equal(count_entries(), 0);
    assert_int_equal(hln_close(db), HLN_OK);
    nftw(datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_between_shards_batch_sync),
        cmocka_unit_test(test_crash_between_shards_periodic),
        cmocka_unit_test(test_replay_does_not_resurrect),
        cmocka_unit_test(test_completed_batch_not_reapplied),
        cmocka_unit_test(test_unlogged_and_single_shard_skip_batchlog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
