/*
 * helenus.h — embedding Helenus in a program.
 *
 * Open a data directory in-process, run CQL statements with bound values,
 * iterate the rows. The same engine the server runs (shard threads, storage,
 * commitlog) runs inside the calling process; there is no network listener
 * and no second copy of anything.
 *
 *     hln_db *db;
 *     if (hln_open("./data", NULL, &db) != HLN_OK) { ... hln_db_errmsg(db) ... }
 *     hln_result *res;
 *     hln_value k = hln_int(1);
 *     hln_exec(db, "SELECT v FROM ks.t WHERE k = ?", &k, 1, &res);
 *     while (hln_result_next(res)) printf("%s\n", hln_result_text(res, 0, NULL));
 *     hln_result_free(res);
 *     hln_close(db);
 *
 * Ownership: every pointer a function returns into an hln_result (column
 * names, values, texts) stays valid until the next hln_result_next() or
 * hln_result_free() on that result. hln_db_errmsg() is valid until the next
 * call on the same db. A db handle may be used from one thread at a time.
 *
 * Errors: functions return HLN_OK (0) or a negative code; the codes are the
 * HLN_E* values (HLN_ESYNTAX, HLN_EINVAL, HLN_ENOTFOUND, HLN_EEXISTS, ...).
 */
#ifndef HELENUS_H
#define HELENUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "helenus_codes.h"

typedef struct hln_db hln_db;
typedef struct hln_result hln_result;

typedef struct hln_open_options {
    int shards;     /* 0: 1 shard */
    int sync_batch; /* 1: every write fsynced before hln_exec returns */
} hln_open_options;

/* A value to bind: its CQL serialised form. Use the helpers below. */
typedef struct hln_value {
    const void *data;
    int32_t len;     /* -1: null */
    uint8_t buf[16]; /* storage for the helpers' fixed-size values */
} hln_value;

hln_value hln_int(int32_t v);
hln_value hln_bigint(int64_t v);
hln_value hln_double(double v);
hln_value hln_bool(int v);
hln_value hln_text(const char *s);           /* s must outlive the hln_exec call */
hln_value hln_blob(const void *p, size_t n); /* p likewise */
hln_value hln_null(void);

int hln_open(const char *dir, const hln_open_options *opts, hln_db **out);
int hln_close(hln_db *db);
const char *hln_db_errmsg(hln_db *db);

/* Runs one statement with n bound values ('?' markers in order). On success
 * *out (if not NULL) receives a result the caller frees with hln_result_free,
 * also for statements that return no rows. */
int hln_exec(hln_db *db, const char *cql, const hln_value *vals, int n, hln_result **out);

int hln_result_columns(const hln_result *r);
const char *hln_result_column_name(const hln_result *r, int col);
const char *hln_result_column_type(const hln_result *r, int col); /* "int", "text", ... */
int hln_result_rows(const hln_result *r);
/* Advances to the next row; 1 if there is one, 0 at the end. */
int hln_result_next(hln_result *r);
/* The current row's raw serialised value; NULL (and *len = -1) for null. */
const void *hln_result_value(hln_result *r, int col, int32_t *len);
/* The current row's value as CQL text (as cqlsh shows it); "null" for null. */
const char *hln_result_text(hln_result *r, int col, size_t *len);
int64_t hln_result_int64(hln_result *r, int col); /* int, bigint, timestamp */
double hln_result_double(hln_result *r, int col);
void hln_result_free(hln_result *r);

#ifdef __cplusplus
}
#endif
#endif
