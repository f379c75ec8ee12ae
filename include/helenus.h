/*
 * helenus.h — embedding Helenus in a program.
 *
 * Open a data directory in-process, run CQL statements with bound values,
 * iterate the rows. The same engine the server runs (shard threads, storage,
 * commitlog) runs inside the calling process; there is no network listener
 * unless hln_serve starts one, and no second copy of anything.
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
 * Prepared statements: hln_prepare parses and analyzes a statement once (the
 * server's PREPARE); hln_stmt_exec runs it with values (the server's
 * EXECUTE: each shard keeps the analyzed plan in its plan cache, so nothing
 * is parsed again). The markers' names and types are queryable, so a
 * binding (python/) can serialise values itself; hln_stmt_exec_packed takes
 * them as the native protocol's value list.
 *
 * Values are always in their CQL serialised form (the native protocol's
 * [bytes] body: big-endian integers, UTF-8 text, collections as
 * [i32 n][i32 len][bytes]...): any CQL type can be bound.
 *
 * Ownership: every pointer a function returns into an hln_result (column
 * names, values, texts) stays valid until the next hln_result_next() or
 * hln_result_free() on that result (hln_result_packed's buffer: until
 * hln_result_free).
 *
 * Threads: a db handle may be used from several threads at once. Each
 * hln_exec / hln_stmt_exec call is its own request, posted to a shard
 * (round robin) and waited for on the calling thread; calls do not
 * serialise on the handle (a caller alone in flight spins briefly before it
 * sleeps, which saves a wake-up on short statements). The session keyspace (USE) belongs to the db
 * handle and is shared by its threads (read and replaced under a mutex).
 * hln_db_errmsg returns the message of the calling thread's last failed
 * call. A statement handle may be executed from several threads at once; a
 * result belongs to one thread at a time. hln_close must not race with
 * other calls on the handle.
 *
 * Errors: functions return HLN_OK (0) or a negative code; the codes are the
 * HLN_E* values (HLN_ESYNTAX, HLN_EINVAL, HLN_ENOTFOUND, HLN_EEXISTS, ...);
 * hln_cql_error_code maps one to the native protocol's error code.
 */
#ifndef HELENUS_H
#define HELENUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "helenus_codes.h"

/* The functions of this header are the only ones libhelenus.so exports. */
#if defined(__GNUC__)
#define HLN_EXPORT __attribute__((visibility("default")))
#else
#define HLN_EXPORT
#endif

typedef struct hln_db hln_db;
typedef struct hln_result hln_result;
typedef struct hln_stmt hln_stmt;

typedef struct hln_open_options {
    int shards;     /* 0: 1 shard */
    int sync_batch; /* 1: every write fsynced before hln_exec returns */
} hln_open_options;

/* A value to bind: its CQL serialised form. Use the helpers below. */
typedef struct hln_value {
    const void *data;
    int32_t len;     /* -1: null, -2: unset */
    uint8_t buf[16]; /* storage for the helpers' fixed-size values */
} hln_value;

HLN_EXPORT hln_value hln_int(int32_t v);
HLN_EXPORT hln_value hln_bigint(int64_t v);
HLN_EXPORT hln_value hln_double(double v);
HLN_EXPORT hln_value hln_bool(int v);
HLN_EXPORT hln_value hln_text(const char *s);           /* s must outlive the hln_exec call */
HLN_EXPORT hln_value hln_blob(const void *p, size_t n); /* p likewise */
HLN_EXPORT hln_value hln_null(void);

HLN_EXPORT int hln_open(const char *dir, const hln_open_options *opts, hln_db **out);
/* Stops the listener (if hln_serve started one), flushes and closes. */
HLN_EXPORT int hln_close(hln_db *db);
/* The calling thread's last error message ("" after a success). */
HLN_EXPORT const char *hln_db_errmsg(hln_db *db);
/* The native protocol error code of an HLN_E* code (0x2200 Invalid, 0x2000
 * SyntaxError, 0x2400 AlreadyExists, 0x0000 ServerError, ...). */
HLN_EXPORT int hln_cql_error_code(int rc);
/* Copies the session keyspace (USE) into buf (n bytes, NUL-terminated);
 * "" when none. Returns its length. */
HLN_EXPORT size_t hln_db_keyspace(hln_db *db, char *buf, size_t n);

/* Runs one statement with n bound values ('?' markers in order). On success
 * *out (if not NULL) receives a result the caller frees with hln_result_free,
 * also for statements that return no rows. */
HLN_EXPORT int hln_exec(hln_db *db, const char *cql, const hln_value *vals, int n,
                        hln_result **out);

/* Prepares one statement (parsed and analyzed once; the id is Cassandra's,
 * MD5 of the session keyspace and the text). The statement keeps the
 * keyspace it was prepared in. Free with hln_stmt_free. */
HLN_EXPORT int hln_prepare(hln_db *db, const char *cql, hln_stmt **out);
HLN_EXPORT int hln_stmt_binds(const hln_stmt *s); /* number of markers */
HLN_EXPORT const char *hln_stmt_bind_name(const hln_stmt *s, int i);
HLN_EXPORT const char *hln_stmt_bind_type(const hln_stmt *s, int i); /* CQL name */
/* The marker's type spelled out for a serialiser (see hln_result_column_spec). */
HLN_EXPORT int hln_stmt_bind_spec(const hln_stmt *s, int i, char *buf, size_t n);
/* Runs the prepared statement with n values. */
HLN_EXPORT int hln_stmt_exec(hln_stmt *s, const hln_value *vals, int n, hln_result **out);
/* Likewise, the n values given as the native protocol's value list: per
 * value [i32 big-endian length][bytes] back to back, length -1 for null and
 * -2 for unset; len is the size of the whole list. The list need only live
 * for the call. */
HLN_EXPORT int hln_stmt_exec_packed(hln_stmt *s, const void *values, size_t len, int n,
                                    hln_result **out);
HLN_EXPORT void hln_stmt_free(hln_stmt *s);

/* Starts the CQL server (the one `helenus serve` runs) on this db's engine,
 * on host (NULL: "127.0.0.1") and port (0: one the kernel picks);
 * *actual_port (if not NULL) receives the bound port. Once per handle; the
 * process then ignores SIGPIPE if it did not handle it (a client closing its
 * socket while the server writes must not kill the process). */
HLN_EXPORT int hln_serve(hln_db *db, const char *host, int port, int *actual_port);
/* Stops accepting and closes the server's connections (idempotent). */
HLN_EXPORT void hln_serve_stop(hln_db *db);

/* The result kind: 1 void, 2 rows, 3 set keyspace, 5 schema change (the
 * native protocol's RESULT kinds). */
HLN_EXPORT int hln_result_kind(const hln_result *r);
HLN_EXPORT int hln_result_columns(const hln_result *r);
HLN_EXPORT const char *hln_result_column_name(const hln_result *r, int col);
/* "int", "text", "frozen<list<int>>", "vector<float, 3>", "address" ... */
HLN_EXPORT const char *hln_result_column_type(const hln_result *r, int col);
/* The column's type spelled out for a deserialiser, into buf (n bytes,
 * NUL-terminated); returns the length it needs (like snprintf), or a
 * negative code. Scalars by CQL name ("int", "text", "timeuuid", ...);
 * list<T>, set<T>, map<K,V>, tuple<A,B,...>, vector<T,n>, and UDTs as
 * udt<ks.name,field:T,...>; frozen is left out, no spaces. */
HLN_EXPORT int hln_result_column_spec(const hln_result *r, int col, char *buf, size_t n);
/* Every column's metadata in one string, for a binding to parse (and cache)
 * once per shape: per column "name\x1ftype\x1fspec\x1e" (type as
 * hln_result_column_type, spec as hln_result_column_spec). Written into buf
 * (n bytes, NUL-terminated); returns the length it needs, or a negative
 * code. */
HLN_EXPORT int hln_result_meta(const hln_result *r, char *buf, size_t n);
HLN_EXPORT int hln_result_rows(const hln_result *r);
/* Advances to the next row; 1 if there is one, 0 at the end. */
HLN_EXPORT int hln_result_next(hln_result *r);
/* The current row's raw serialised value; NULL (and *len = -1) for null. */
HLN_EXPORT const void *hln_result_value(hln_result *r, int col, int32_t *len);
/* The current row's value as CQL text (as cqlsh shows it); "null" for null. */
HLN_EXPORT const char *hln_result_text(hln_result *r, int col, size_t *len);
HLN_EXPORT int64_t hln_result_int64(hln_result *r, int col); /* int, bigint, timestamp */
HLN_EXPORT double hln_result_double(hln_result *r, int col);
/* Every row at once, as the native protocol's ROWS body carries them: per
 * row, per column, [i32 big-endian length][bytes] (-1: null). *data stays
 * valid until hln_result_free. */
HLN_EXPORT int hln_result_packed(hln_result *r, const void **data, size_t *len);
/* Copies column col of every row into dst, width bytes per row, back to
 * back (a numeric or vector column of a fixed-size type: an array a reader
 * views in place). A null value is written as zeros and, when nulls is not
 * NULL, flagged nulls[row] = 1 (else 0). HLN_EINVAL when a non-null value
 * is not width bytes long. */
HLN_EXPORT int hln_result_column_copy(hln_result *r, int col, void *dst, size_t width,
                                      uint8_t *nulls);
HLN_EXPORT void hln_result_free(hln_result *r);

#ifdef __cplusplus
}
#endif
#endif
