/*
 * runner.c — golden CQL tests: statements in, expected rows and errors out.
 *
 * Usage: golden_runner FILE.cql DATADIR
 * Runs every statement of FILE.cql through the embedded API on a fresh
 * DATADIR (2 shards, so cross-shard paths run) and compares the transcript
 * with FILE.out. With HLN_GOLDEN_UPDATE=1 it writes FILE.out instead (review
 * the diff before committing it: the .out file is the specification).
 *
 * File syntax: statements end with ';' at the end of a line; lines starting
 * with "--" are comments, except the directive "-- @restart", which closes
 * and reopens the database (everything acknowledged must survive).
 *
 * Transcript: "> statement" then either "OK", "ERROR 0xCODE: message", or a
 * table: header "a | b", one line per row, "(N rows)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "helenus.h"
#include "proto/proto.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    if (len) *len = got;
    return s;
}

static void run_stmt(hln_db *db, const char *stmt, hln_buf *out)
{
    hln_buf_printf(out, "> %s\n", stmt);
    hln_result *res = NULL;
    int rc = hln_exec(db, stmt, NULL, 0, &res);
    if (rc) {
        hln_buf_printf(out, "ERROR 0x%04X: %s\n", px_errcode_for(rc), hln_db_errmsg(db));
        return;
    }
    int ncols = hln_result_columns(res);
    if (ncols == 0) {
        hln_buf_printf(out, "OK\n");
        hln_result_free(res);
        return;
    }
    for (int c = 0; c < ncols; c++)
        hln_buf_printf(out, "%s%s", c ? " | " : "", hln_result_column_name(res, c));
    hln_buf_printf(out, "\n");
    int rows = 0;
    while (hln_result_next(res)) {
        for (int c = 0; c < ncols; c++)
            hln_buf_printf(out, "%s%s", c ? " | " : "", hln_result_text(res, c, NULL));
        hln_buf_printf(out, "\n");
        rows++;
    }
    hln_buf_printf(out, "(%d rows)\n", rows);
    hln_result_free(res);
}

static int open_db(const char *dir, hln_db **db)
{
    hln_open_options o = {.shards = 2, .sync_batch = 0};
    int rc = hln_open(dir, &o, db);
    if (rc) {
        fprintf(stderr, "hln_open(%s): %s\n", dir, hln_db_errmsg(*db));
        hln_close(*db);
    }
    return rc;
}

/* Compares the transcript with the .out file (or writes it when
 * HLN_GOLDEN_UPDATE is set). 0 when they match. */
static int check(const char *expected_path, const hln_buf *out, const char *name)
{
    if (getenv("HLN_GOLDEN_UPDATE")) {
        FILE *f = fopen(expected_path, "wb");
        if (!f || fwrite(out->data, 1, out->len, f) != out->len) {
            perror(expected_path);
            return 1;
        }
        fclose(f);
        printf("wrote %s\n", expected_path);
        return 0;
    }
    size_t elen;
    char *expected = slurp(expected_path, &elen);
    if (!expected) {
        fprintf(stderr, "missing %s (run with HLN_GOLDEN_UPDATE=1 to create it)\n", expected_path);
        return 1;
    }
    if (elen == out->len && memcmp(expected, out->data, elen) == 0) {
        printf("golden %s: ok\n", name);
        free(expected);
        return 0;
    }
    /* Show the first differing line. */
    const char *a = expected, *b = (const char *)out->data;
    size_t i = 0, line = 1;
    while (i < elen && i < out->len && a[i] == b[i]) {
        if (a[i] == '\n') line++;
        i++;
    }
    size_t ls = i;
    while (ls > 0 && a[ls - 1] != '\n')
        ls--;
    fprintf(stderr, "golden %s: differs at line %zu\n--- expected\n%.*s\n+++ actual\n%.*s\n", name,
            line, (int)strcspn(a + ls, "\n"), a + ls, (int)strcspn(b + ls, "\n"), b + ls);
    fprintf(stderr, "full actual transcript:\n%.*s", (int)out->len, b);
    free(expected);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE.cql DATADIR\n", argv[0]);
        return 2;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", argv[2], argv[2]);
    if (system(cmd) != 0) return 2;
    char *src = slurp(argv[1], NULL);
    if (!src) {
        perror(argv[1]);
        return 2;
    }
    hln_db *db;
    if (open_db(argv[2], &db)) return 1;

    hln_buf out, stmt;
    hln_buf_init(&out);
    hln_buf_init(&stmt);
    for (char *line = strtok(src, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (stmt.len == 0 && strncmp(line, "--", 2) == 0) {
            if (strstr(line, "@restart")) {
                hln_buf_printf(&out, "-- @restart\n");
                if (hln_close(db) != HLN_OK || open_db(argv[2], &db)) return 1;
            }
            continue;
        }
        if (!*line) continue;
        if (stmt.len) hln_buf_u8(&stmt, ' ');
        size_t n = strlen(line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\r'))
            n--;
        hln_buf_put(&stmt, line, n);
        if (n && line[n - 1] == ';') {
            hln_buf_u8(&stmt, 0);
            run_stmt(db, (const char *)stmt.data, &out);
            hln_buf_reset(&stmt);
        }
    }
    if (hln_close(db) != HLN_OK) {
        fprintf(stderr, "hln_close failed\n");
        return 1;
    }

    char expected_path[4200];
    snprintf(expected_path, sizeof expected_path, "%.*s.out", (int)(strlen(argv[1]) - 4), argv[1]);
    hln_buf_free(&stmt);
    free(src);
    int rc = check(expected_path, &out, argv[1]);
    hln_buf_free(&out);
    return rc;
}
