/*
 * dataapiInt.h — the Data API module's private interfaces: running CQL
 * from the HTTP threads (cql.c) and executing one command (commands.c).
 *
 * Threads: everything here runs on a libmicrohttpd connection thread,
 * never on a shard thread; da_cql blocks that thread (and only it) until
 * the shard that ran the statement calls back.
 */
#ifndef HLN_DATAAPI_INT_H
#define HLN_DATAAPI_INT_H

#include <jansson.h>
#include <stdatomic.h>

#include "dataapi/dataapi.h"
#include "dataapi/document.h"
#include "exec/exec.h"
#include "exec/node.h"

/* One statement's result: the finished request (rows in req.result, which
 * live until da_res_free). */
typedef struct da_res da_res;
const ex_result *da_res_result(const da_res *r);
/* Cell (row, col) of a ROWS result. */
static inline ex_value da_res_cell(const da_res *r, int row, int col)
{
    const ex_result *x = da_res_result(r);
    return x->cells[row * x->ncols + col];
}
void da_res_free(da_res *r); /* NULL is a no-op */

/* What a command runs against: the engine, the logged-in role, where. */
typedef struct da_ctx {
    hln_engine *eng;
    atomic_uint *next_shard; /* round robin over the shards */
    const char *role;        /* NULL when authentication is off */
    const char *keyspace;    /* NULL at /v1 */
    const char *collection;  /* NULL at /v1/{keyspace} */
} da_ctx;

/* Runs one CQL statement with n values; page_size > 0 pages (paging: the
 * state to resume from, or NULL). On success *out is the result (free with
 * da_res_free); on failure e says why (errorCode from the CQL error) and
 * the CQL code is returned. */
int da_cql(da_ctx *cx, const char *cql, const ex_value *vals, int n, int32_t page_size,
           const uint8_t *paging, int32_t paging_len, da_res **out, da_err *e);

/* Executes the command object {"name": {...}}; returns the response body
 * (a new reference: {"status"?, "data"?, "errors"?}). */
json_t *da_execute(da_ctx *cx, json_t *command);

/* Whether s[0..n) may name a keyspace or collection: 1..48 of [A-Za-z0-9_]
 * (the Data API's rule, and always a valid unquoted CQL identifier). */
static inline bool da_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 48) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* A response of one error (new reference). */
json_t *da_error_response(const char *code, const char *msg);

#endif
