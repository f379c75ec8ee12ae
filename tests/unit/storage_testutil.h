/*
 * storage_testutil.h — helpers shared by the storage unit tests
 * (test_storage.c, test_commitlog.c, test_sstable.c): temp directories,
 * building one-row mutations, reading slices, and rendering a partition as
 * a short string ("ck*:col=val,col=val ck2:..." where * marks a live row
 * marker) so expectations read as one assert_string_equal.
 */
#ifndef HLN_STORAGE_TESTUTIL_H
#define HLN_STORAGE_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/storage.h"

static __attribute__((unused))
const uint8_t T1[16] = {0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static __attribute__((unused))
const uint8_t T2[16] = {0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* ---- temp dirs ---- */

static __attribute__((unused)) int rm_cb(const char *p, const struct stat *sb, int flag,
                                         struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static __attribute__((unused)) void tu_rmrf(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Creates a fresh directory; the caller frees the string (free()). */
static __attribute__((unused)) char *tu_mkdtemp(const char *tag)
{
    const char *base = getenv("HLN_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    char *p = malloc(strlen(base) + strlen(tag) + 16);
    sprintf(p, "%s/%s-XXXXXX", base, tag);
    if (!mkdtemp(p)) {
        perror("mkdtemp");
        abort();
    }
    return p;
}

static __attribute__((unused)) void tu_cleanup(char *dir)
{
    tu_rmrf(dir);
    free(dir);
}

/* Number of entries in dir whose name ends with suffix. */
static __attribute__((unused)) int tu_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    size_t ls = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= ls && strcmp(de->d_name + l - ls, suffix) == 0) n++;
    }
    closedir(d);
    return n;
}

/* Files are deleted by background threads: waits (bounded, 5 s) until at
 * most max files in dir end with suffix; returns the last count. */
static __attribute__((unused)) int tu_wait_count_files(const char *dir, const char *suffix, int max)
{
    int n = tu_count_files(dir, suffix);
    for (int i = 0; i < 1000 && n > max; i++) {
        usleep(5000);
        n = tu_count_files(dir, suffix);
    }
    return n;
}

/* Path of the first file under dir (recursively one level of table dirs)
 * whose name ends with suffix; static buffer. */
static __attribute__((unused)) const char *tu_find_file(const char *dir, const char *suffix)
{
    static char out[1024];
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *de;
    const char *res = NULL;
    size_t ls = strlen(suffix);
    while (!res && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        size_t l = strlen(de->d_name);
        snprintf(out, sizeof out, "%s/%s", dir, de->d_name);
        if (l >= ls && strcmp(de->d_name + l - ls, suffix) == 0) {
            res = out;
            break;
        }
        struct stat st;
        if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
            char sub[1024];
            snprintf(sub, sizeof sub, "%s", out);
            res = tu_find_file(sub, suffix);
        }
    }
    closedir(d);
    return res;
}

static __attribute__((unused)) long tu_file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static __attribute__((unused)) void tu_flip_byte(const char *p, long off)
{
    int fd = open(p, O_RDWR);
    uint8_t b;
    if (fd < 0 || pread(fd, &b, 1, off) != 1) abort();
    b ^= 0x5A;
    if (pwrite(fd, &b, 1, off) != 1) abort();
    close(fd);
}

/* ---- keys ---- */

static __attribute__((unused)) void tu_pk(int pk, uint8_t out[4])
{
    out[0] = (uint8_t)(pk >> 24);
    out[1] = (uint8_t)(pk >> 16);
    out[2] = (uint8_t)(pk >> 8);
    out[3] = (uint8_t)pk;
}

/* Tokens are chosen by the tests: pk * 1000 unless they say otherwise. */
static __attribute__((unused)) int64_t tu_tok(int pk)
{
    return (int64_t)pk * 1000;
}

/* ---- cells and mutations ---- */

static __attribute__((unused)) st_cell tu_cell(uint32_t col, int64_t ts, const char *v)
{
    st_cell c;
    memset(&c, 0, sizeof c);
    c.col_id = col;
    c.ts = ts;
    c.val = (const uint8_t *)v;
    c.len = (uint32_t)strlen(v);
    return c;
}

static __attribute__((unused)) st_cell tu_tomb(uint32_t col, int64_t ts)
{
    st_cell c;
    memset(&c, 0, sizeof c);
    c.col_id = col;
    c.ts = ts;
    c.flags = ST_CELL_TOMBSTONE;
    return c;
}

/* An element of a non-frozen collection: col with cell path `path`. */
static __attribute__((unused)) st_cell tu_pcell(uint32_t col, const char *path, int64_t ts,
                                                const char *v)
{
    st_cell c = tu_cell(col, ts, v);
    c.path = (const uint8_t *)path;
    c.pathlen = (uint32_t)strlen(path);
    return c;
}

static __attribute__((unused)) st_cell tu_ptomb(uint32_t col, const char *path, int64_t ts)
{
    st_cell c = tu_tomb(col, ts);
    c.path = (const uint8_t *)path;
    c.pathlen = (uint32_t)strlen(path);
    return c;
}

/* A column deletion (every cell of col with timestamp <= ts). */
static __attribute__((unused)) st_cell tu_coldel(uint32_t col, int64_t ts)
{
    st_cell c;
    memset(&c, 0, sizeof c);
    c.col_id = col;
    c.ts = ts;
    c.flags = ST_CELL_COLDEL;
    return c;
}

/* c made expiring: ttl seconds, dead from `expires` on. */
static __attribute__((unused)) st_cell tu_expiring(st_cell c, int32_t ttl, int64_t expires)
{
    c.ttl = ttl;
    c.expires = expires;
    return c;
}

/* Applies one whole row (any marker, expiring or not) to partition pk. */
static __attribute__((unused)) int tu_apply_row(st_engine *e, const uint8_t *tid, int pk,
                                                const st_row *r)
{
    uint8_t pkb[4];
    tu_pk(pk, pkb);
    st_mutation m;
    memset(&m, 0, sizeof m);
    memcpy(m.table_id, tid, 16);
    m.pk = pkb;
    m.pklen = 4;
    m.token = tu_tok(pk);
    m.pdel_ts = HLN_TS_NONE;
    m.rows = (st_row *)r;
    m.nrows = 1;
    hln_error err;
    return st_apply(e, &m, &err);
}

/* A row (ck a C string) with a marker that expires at marker_expires (0 =
 * a plain marker), no deletion. */
static __attribute__((unused)) st_row tu_xrow(const char *ck, int64_t marker,
                                              int64_t marker_expires, st_cell *cells, uint32_t n)
{
    st_row r;
    memset(&r, 0, sizeof r);
    r.ck = (const uint8_t *)ck;
    r.cklen = (uint32_t)strlen(ck);
    r.marker_ts = marker;
    r.del_ts = HLN_TS_NONE;
    r.marker_ttl = marker_expires ? 60 : 0;
    r.marker_expires = marker_expires;
    r.cells = cells;
    r.ncells = n;
    return r;
}

/* Applies one row (ck a C string) with the given marker, deletion, cells. */
static __attribute__((unused)) int tu_row_tok(st_engine *e, const uint8_t *tid, int pk,
                                              int64_t token, const char *ck, int64_t marker,
                                              int64_t del, st_cell *cells, uint32_t n)
{
    uint8_t pkb[4];
    tu_pk(pk, pkb);
    st_row r;
    memset(&r, 0, sizeof r);
    r.ck = (const uint8_t *)ck;
    r.cklen = (uint32_t)strlen(ck);
    r.marker_ts = marker;
    r.del_ts = del;
    r.cells = cells;
    r.ncells = n;
    st_mutation m;
    memset(&m, 0, sizeof m);
    memcpy(m.table_id, tid, 16);
    m.pk = pkb;
    m.pklen = 4;
    m.token = token;
    m.pdel_ts = HLN_TS_NONE;
    m.rows = &r;
    m.nrows = 1;
    hln_error err;
    return st_apply(e, &m, &err);
}

static __attribute__((unused)) int tu_row(st_engine *e, const uint8_t *tid, int pk, const char *ck,
                                          int64_t marker, int64_t del, st_cell *cells, uint32_t n)
{
    return tu_row_tok(e, tid, pk, tu_tok(pk), ck, marker, del, cells, n);
}

static __attribute__((unused)) int tu_pdel(st_engine *e, const uint8_t *tid, int pk, int64_t ts)
{
    uint8_t pkb[4];
    tu_pk(pk, pkb);
    st_mutation m;
    memset(&m, 0, sizeof m);
    memcpy(m.table_id, tid, 16);
    m.pk = pkb;
    m.pklen = 4;
    m.token = tu_tok(pk);
    m.pdel_ts = ts;
    hln_error err;
    return st_apply(e, &m, &err);
}

/* ---- reads ---- */

static __attribute__((unused)) void tu_render_row(const st_row *r, char *out, size_t cap)
{
    size_t n = strlen(out);
    n += (size_t)snprintf(out + n, cap - n, "%s%.*s%s%s", n ? " " : "", (int)r->cklen,
                          (const char *)r->ck, r->marker_ts != HLN_TS_NONE ? "*" : "",
                          r->ncells ? ":" : "");
    for (uint32_t i = 0; i < r->ncells && n < cap; i++) {
        const st_cell *c = &r->cells[i];
        n += (size_t)snprintf(out + n, cap - n, "%s%u", i ? "," : "", c->col_id);
        if (c->pathlen && n < cap)
            n += (size_t)snprintf(out + n, cap - n, "[%.*s]", (int)c->pathlen,
                                  (const char *)c->path);
        if (n < cap)
            n += (size_t)snprintf(out + n, cap - n, "=%.*s", (int)c->len, (const char *)c->val);
    }
}

/* Renders p's rows into a static buffer ("" when p is NULL). */
static __attribute__((unused)) const char *tu_render(const st_partition *p)
{
    static char buf[1 << 16];
    buf[0] = '\0';
    for (uint32_t i = 0; p && i < p->nrows; i++)
        tu_render_row(&p->rows[i], buf, sizeof buf);
    return buf;
}

typedef struct tu_slice {
    const char *start;
    bool sinc;
    const char *end;
    bool einc;
    bool reversed;
    uint32_t limit;
} tu_slice;

/* The read command of pk (its key bytes in pkb, which must outlive it)
 * with the slice (NULL slice = everything) at clock now_sec (0: nothing has
 * expired). */
static __attribute__((unused)) st_read_cmd tu_read_cmd(const uint8_t *tid, int pk, uint8_t pkb[4],
                                                       const tu_slice *s, int64_t now_sec)
{
    tu_pk(pk, pkb);
    st_read_cmd c;
    memset(&c, 0, sizeof c);
    memcpy(c.table_id, tid, 16);
    c.pk = pkb;
    c.pklen = 4;
    c.token = tu_tok(pk);
    c.start.inclusive = c.end.inclusive = true;
    c.now_sec = now_sec;
    if (s) {
        if (s->start) {
            c.start.key = (const uint8_t *)s->start;
            c.start.len = (uint32_t)strlen(s->start);
            c.start.inclusive = s->sinc;
        }
        if (s->end) {
            c.end.key = (const uint8_t *)s->end;
            c.end.len = (uint32_t)strlen(s->end);
            c.end.inclusive = s->einc;
        }
        c.reversed = s->reversed;
        c.limit = s->limit;
    }
    return c;
}

/* Reads pk with the slice at clock now_sec (as tu_read_cmd); returns the
 * rendering, or "ERR<code>". */
static __attribute__((unused)) const char *
tu_read_slice_at(st_engine *e, const uint8_t *tid, int pk, const tu_slice *s, int64_t now_sec)
{
    static char errbuf[32];
    uint8_t pkb[4];
    st_read_cmd c = tu_read_cmd(tid, pk, pkb, s, now_sec);
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_partition *p = NULL;
    hln_error err;
    int rc = st_read(e, &c, &a, &p, &err);
    const char *res;
    if (rc < 0) {
        snprintf(errbuf, sizeof errbuf, "ERR%d", rc);
        res = errbuf;
    } else {
        res = tu_render(p);
    }
    hln_arena_free(&a);
    return res;
}

static __attribute__((unused)) const char *tu_read_slice(st_engine *e, const uint8_t *tid, int pk,
                                                         const tu_slice *s)
{
    return tu_read_slice_at(e, tid, pk, s, 0);
}

static __attribute__((unused)) const char *tu_read(st_engine *e, const uint8_t *tid, int pk)
{
    return tu_read_slice(e, tid, pk, NULL);
}

/* Reads all of pk at clock now_sec. */
static __attribute__((unused)) const char *tu_read_now(st_engine *e, const uint8_t *tid, int pk,
                                                       int64_t now_sec)
{
    return tu_read_slice_at(e, tid, pk, NULL, now_sec);
}

/* Scans the whole ring at now_sec: "pk:rendering|pk:rendering" (pk as the
 * int of its 4 bytes), or "ERR<code>". */
static __attribute__((unused)) const char *
tu_scan_now(st_engine *e, const uint8_t *tid, uint32_t limit, uint32_t pp_limit, int64_t now_sec)
{
    static char out[1 << 16];
    st_scan_cmd c;
    memset(&c, 0, sizeof c);
    memcpy(c.table_id, tid, 16);
    c.start_token = INT64_MIN;
    c.end_token = INT64_MAX;
    c.limit = limit;
    c.per_partition_limit = pp_limit;
    c.now_sec = now_sec;
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_partition *p = NULL;
    hln_error err;
    int rc = st_scan(e, &c, &a, &p, &err);
    out[0] = '\0';
    if (rc < 0) snprintf(out, sizeof out, "ERR%d", rc);
    for (size_t n = 0; rc == 0 && p; p = p->next) {
        int pk = p->pklen == 4 ? (p->pk[0] << 24 | p->pk[1] << 16 | p->pk[2] << 8 | p->pk[3]) : -1;
        char rows[1 << 12];
        rows[0] = '\0';
        for (uint32_t i = 0; i < p->nrows; i++)
            tu_render_row(&p->rows[i], rows, sizeof rows);
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%d:%s", n ? "|" : "", pk, rows);
        if (n >= sizeof out) break;
    }
    hln_arena_free(&a);
    return out;
}

/* A table_opts callback with a gc_grace_seconds no test timestamp outlives:
 * compaction purges nothing (tests of shadowing that write older data after
 * a deletion and expect it to stay hidden, as it does until gc_grace). */
static __attribute__((unused)) void tu_no_purge_cb(void *ud, const uint8_t id[16],
                                                   st_table_opts *out)
{
    (void)ud;
    (void)id;
    st_table_opts_default(out);
    out->gc_grace_sec = INT64_MAX / 4;
}

static __attribute__((unused)) void tu_no_purge(st_options *o)
{
    o->table_opts = tu_no_purge_cb;
}

static __attribute__((unused)) st_engine *tu_open(const char *dir, const st_options *o)
{
    st_engine *e = NULL;
    hln_error err;
    int rc = st_open(&e, dir, o, NULL, NULL, &err);
    if (rc < 0) {
        fprintf(stderr, "st_open(%s): %d %s\n", dir, rc, err.msg);
        return NULL;
    }
    return e;
}

static __attribute__((unused)) int tu_close(st_engine *e)
{
    hln_error err;
    int rc = st_close(e, &err);
    if (rc < 0) fprintf(stderr, "st_close: %d %s\n", rc, err.msg);
    return rc;
}

static __attribute__((unused)) int tu_flush(st_engine *e)
{
    hln_error err;
    int rc = st_flush(e, &err);
    if (rc < 0) fprintf(stderr, "st_flush: %d %s\n", rc, err.msg);
    return rc;
}

#endif
