/*
 * functions.c — Cassandra 5.0's native scalar functions.
 *
 * What: a table of functions by name and argument types (overloads are
 * separate entries), each with its result type and an evaluator over
 * serialized values. Used in two places:
 *   - terms (exec.c, ex_bind): INSERT ... VALUES (now(), toTimestamp(now()),
 *     uuid()), WHERE t > minTimeuuid('2024-01-01'), nested calls included;
 *   - selectors (select.c): SELECT toDate(ts), similarity_cosine(v, [..]).
 *
 * Covered: now, currentTimeUUID, uuid, currentTimestamp, currentDate,
 * currentTime, toTimestamp, toDate, toUnixTimestamp, minTimeuuid,
 * maxTimeuuid, <type>AsBlob and blobAs<type> for every native type,
 * similarity_cosine / similarity_euclidean / similarity_dot_product on
 * vector<float, n>, abs, exp, log, log10, round (each numeric type; exp
 * and logs of decimal/varint not yet), the collection functions (map_keys,
 * map_values, collection_count/min/max/sum/avg) and mask functions
 * (mask_null, mask_default, mask_replace, mask_inner, mask_outer,
 * mask_hash), which are polymorphic (`poly` checks the argument types and
 * gives the result type), token() of arbitrary values, and fromJson() in
 * terms. CAST and the operators are in arith.c; aggregates in select.c.
 *
 * Resolution (ex_fn_resolve) follows Cassandra's FunctionResolver: an
 * unknown name is "Unknown function 'f'" (selectors) or "Unknown function
 * f called" (terms); with a single overload the argument count and each
 * argument's type are checked with Cassandra's messages; with several,
 * the best fit wins (exact types, then compatible ones: blob takes any
 * value, text takes ascii, timestamp and bigint take each other, date
 * takes int, varint takes the integers), constants fitting the overload's
 * type.
 *
 * Invariants: evaluators never read past their inputs and return HLN_EINVAL
 * with Cassandra's wording for bad values; results are r->arena memory.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "exec/execInt.h"

/* 100-ns intervals between 1582-10-15 (the uuid epoch) and 1970-01-01. */
#define UUID_EPOCH_OFFSET INT64_C(0x01B21DD213814000)

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int put(ex_request *r, const void *p, size_t n, ex_value *out)
{
    uint8_t *d = hln_arena_alloc(&r->arena, n ? n : 1);
    if (!d) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (n) memcpy(d, p, n);
    *out = (ex_value){d, (int32_t)n};
    return 0;
}

static int put_be(ex_request *r, uint64_t v, int n, ex_value *out)
{
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return put(r, b, (size_t)n, out);
}

/* The unix time in ms of a version 1 uuid. */
static int64_t uuid_ms(const uint8_t *u)
{
    uint64_t msb = be(u, 8);
    uint64_t ts = (msb & 0xFFF) << 48 | (msb >> 16 & 0xFFFF) << 32 | msb >> 32;
    return ((int64_t)ts - UUID_EPOCH_OFFSET) / 10000;
}

static void uuid_at(int64_t ms, bool max, uint8_t out[16])
{
    uint64_t ts = (uint64_t)(ms * 10000 + UUID_EPOCH_OFFSET + (max ? 9999 : 0));
    uint64_t msb =
        (ts & 0xFFFFFFFF) << 32 | (ts >> 32 & 0xFFFF) << 16 | 0x1000 | (ts >> 48 & 0xFFF);
    uint64_t lsb = max ? UINT64_C(0x7f7f7f7f7f7f7f7f) : UINT64_C(0x8080808080808080);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(msb >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(lsb >> (56 - 8 * i));
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* toDate: Cassandra's timeInMillisToDay truncates toward zero (a moment
 * on 1969-12-31 is day 0, 1970-01-01), unlike a calendar's floor. */
static int date_of_ms(ex_request *r, int64_t ms, ex_value *out)
{
    return put_be(r, (uint64_t)(ms / 86400000 + (INT64_C(1) << 31)), 4, out);
}

static int64_t ms_of_date(const uint8_t *d)
{
    return ((int64_t)be(d, 4) - (INT64_C(1) << 31)) * 86400000;
}

/* ---- evaluators ------------------------------------------------------- */

static int f_now(ex_request *r, const ex_value *a, ex_value *out)
{
    (void)a;
    uint8_t u[16];
    hln_uuid_time(u);
    return put(r, u, 16, out);
}

static int f_uuid(ex_request *r, const ex_value *a, ex_value *out)
{
    (void)a;
    uint8_t u[16];
    hln_uuid_random(u);
    return put(r, u, 16, out);
}

static int f_current_timestamp(ex_request *r, const ex_value *a, ex_value *out)
{
    (void)a;
    return put_be(r, (uint64_t)(hln_now_micros() / 1000), 8, out);
}

static int f_current_date(ex_request *r, const ex_value *a, ex_value *out)
{
    (void)a;
    return date_of_ms(r, hln_now_micros() / 1000, out);
}

static int f_current_time(ex_request *r, const ex_value *a, ex_value *out)
{
    (void)a;
    int64_t us = hln_now_micros();
    return put_be(r, (uint64_t)((us - floor_div(us, 86400000000) * 86400000000) * 1000), 8, out);
}

/* The argument conversions: a null argument gives null (Cassandra's
 * native functions are called on null input and return null). */
#define NULL_IN_NULL_OUT                                                                           \
    do {                                                                                           \
        if (a[0].len <= 0) {                                                                       \
            *out = (ex_value){NULL, -1};                                                           \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)

static int f_uuid_to_ts(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    return put_be(r, (uint64_t)uuid_ms(a[0].p), 8, out);
}

static int f_date_to_ts(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    return put_be(r, (uint64_t)ms_of_date(a[0].p), 8, out);
}

static int f_ts_to_ts(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    return put(r, a[0].p, 8, out);
}

static int f_uuid_to_date(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    return date_of_ms(r, uuid_ms(a[0].p), out);
}

static int f_ts_to_date(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    return date_of_ms(r, (int64_t)be(a[0].p, 8), out);
}

static int f_min_timeuuid(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    uint8_t u[16];
    uuid_at((int64_t)be(a[0].p, 8), false, u);
    return put(r, u, 16, out);
}

static int f_max_timeuuid(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    uint8_t u[16];
    uuid_at((int64_t)be(a[0].p, 8), true, u);
    return put(r, u, 16, out);
}

/* xAsBlob and blobAsX: the bytes are the value; blobAsX checks them. */
static int f_identity(ex_request *r, const ex_value *a, ex_value *out)
{
    (void)r;
    *out = a[0];
    return 0;
}

static float vec_elem(const uint8_t *p)
{
    uint32_t bits = (uint32_t)be(p, 4);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* similarity_*(vector<float, n>, vector<float, n>): Cassandra's
 * VectorSimilarityFunction values as floats (cosine and dot product mapped
 * to [0, 1] as (1 + x) / 2, euclidean as 1 / (1 + d^2)). */
static int similarity(ex_request *r, const ex_value *a, int kind, ex_value *out)
{
    if (a[0].len <= 0 || a[1].len <= 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    if (a[0].len != a[1].len || a[0].len % 4)
        return hln_fail(&r->err, HLN_EINVAL, "All arguments must have the same vector dimensions");
    int n = a[0].len / 4;
    /* float arithmetic in jvector's order (its scalar VectorUtil), which
       is what Cassandra 5.0 computes: the last bit of the result matches */
    float dot = 0, na = 0, nb = 0, d2 = 0;
    for (int i = 0; i < n; i++) {
        float x = (float)vec_elem(a[0].p + 4 * i), y = (float)vec_elem(a[1].p + 4 * i);
        dot += x * y;
        na += x * x;
        nb += y * y;
        float d = x - y;
        d2 += d * d;
    }
    float res;
    if (kind == 0) {
        if (na == 0 || nb == 0)
            return hln_fail(&r->err, HLN_EINVAL,
                            "Function system.similarity_cosine doesn't support all-zero vectors.");
        float cs = (float)((double)dot / sqrt((double)na * (double)nb));
        res = (1 + cs) / 2;
    } else if (kind == 1) {
        res = 1 / (1 + d2);
    } else {
        res = (1 + dot) / 2;
    }
    uint32_t bits;
    memcpy(&bits, &res, 4);
    return put_be(r, bits, 4, out);
}

static int f_sim_cosine(ex_request *r, const ex_value *a, ex_value *out)
{
    return similarity(r, a, 0, out);
}
static int f_sim_euclidean(ex_request *r, const ex_value *a, ex_value *out)
{
    return similarity(r, a, 1, out);
}
static int f_sim_dot(ex_request *r, const ex_value *a, ex_value *out)
{
    return similarity(r, a, 2, out);
}

/* abs(x) of each integer width and of float/double (Cassandra's
 * MathFunctions: the type's own arithmetic, so abs(INT_MIN) stays INT_MIN). */
static int abs_int(ex_request *r, const ex_value *a, int n, ex_value *out)
{
    NULL_IN_NULL_OUT;
    if (a[0].len != n) return hln_fail(&r->err, HLN_EINVAL, "Invalid argument for abs");
    uint64_t u = be(a[0].p, n);
    int shift = 64 - 8 * n;
    int64_t v = (int64_t)(u << shift) >> shift;
    if (v < 0) v = (int64_t)(0 - (uint64_t)v);
    return put_be(r, (uint64_t)v, n, out);
}
static int f_abs8(ex_request *r, const ex_value *a, ex_value *out)
{
    return abs_int(r, a, 1, out);
}
static int f_abs16(ex_request *r, const ex_value *a, ex_value *out)
{
    return abs_int(r, a, 2, out);
}
static int f_abs32(ex_request *r, const ex_value *a, ex_value *out)
{
    return abs_int(r, a, 4, out);
}
static int f_abs64(ex_request *r, const ex_value *a, ex_value *out)
{
    return abs_int(r, a, 8, out);
}
static int f_absfp(ex_request *r, const ex_value *a, ex_value *out)
{
    NULL_IN_NULL_OUT;
    uint8_t b[8];
    if (a[0].len != 4 && a[0].len != 8)
        return hln_fail(&r->err, HLN_EINVAL, "Invalid argument for abs");
    memcpy(b, a[0].p, (size_t)a[0].len);
    b[0] &= 0x7F; /* clear the sign bit */
    return put(r, b, (size_t)a[0].len, out);
}

/* exp, log, log10, round and abs of varint/decimal (arith.c), by type. */
static int t_exp(ex_request *r, const hln_type *const *at, const ex_value *a, int n, ex_value *out)
{
    (void)n;
    return ex_math(r, 0, at[0], a[0], out);
}
static int t_log(ex_request *r, const hln_type *const *at, const ex_value *a, int n, ex_value *out)
{
    (void)n;
    return ex_math(r, 1, at[0], a[0], out);
}
static int t_log10(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                   ex_value *out)
{
    (void)n;
    return ex_math(r, 2, at[0], a[0], out);
}
static int t_round(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                   ex_value *out)
{
    (void)n;
    return ex_math(r, 3, at[0], a[0], out);
}
static int t_absbig(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                    ex_value *out)
{
    (void)n;
    return ex_abs_big(r, at[0], a[0], out);
}

/* ---- collection functions (CollectionFcts) ------------------------------ */

static const hln_type *poly_fail(hln_error *err, const char *fmt, const ex_fn *f, const char *argn,
                                 const hln_type *t)
{
    hln_fail(err, HLN_EINVAL, fmt, f->name, argn, t ? t->cql_name : "?");
    return NULL;
}

static bool infer(const ex_fn *f, const hln_type **at, const char *const *argn, const char *what,
                  hln_error *err)
{
    if (at[0]) return true;
    hln_fail(err, HLN_EINVAL,
             "Cannot infer type of argument %s in call to function system.%s(%s): use type casts "
             "to disambiguate",
             argn[0], f->name, what);
    return false;
}

static const hln_type *p_map_kv(const ex_fn *f, const hln_type **at, const char *const *argn, int n,
                                hln_error *err)
{
    (void)n;
    if (!infer(f, at, argn, "map", err)) return NULL;
    if (at[0]->kind != HLN_T_MAP)
        return poly_fail(
            err, "Function system.%s requires a map argument, but found argument %s of type %s", f,
            argn[0], at[0]);
    bool keys = !strcmp(f->name, "map_keys");
    const hln_type *e = at[0]->params[keys ? 0 : 1];
    return hln_type_collection(keys ? HLN_T_SET : HLN_T_LIST, &e, false);
}

static const hln_type *p_count(const ex_fn *f, const hln_type **at, const char *const *argn, int n,
                               hln_error *err)
{
    (void)n;
    if (!infer(f, at, argn, "collection", err)) return NULL;
    if (!hln_type_is_collection(at[0]))
        return poly_fail(
            err,
            "Function system.%s requires a collection argument, but found argument %s of type %s",
            f, argn[0], at[0]);
    return hln_type_by_kind(HLN_T_INT);
}

static bool is_numeric(hln_type_kind k)
{
    switch (k) {
    case HLN_T_TINYINT:
    case HLN_T_SMALLINT:
    case HLN_T_INT:
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
    case HLN_T_VARINT:
    case HLN_T_FLOAT:
    case HLN_T_DOUBLE:
    case HLN_T_DECIMAL:
        return true;
    default:
        return false;
    }
}

static const hln_type *p_minmax(const ex_fn *f, const hln_type **at, const char *const *argn, int n,
                                hln_error *err)
{
    (void)n;
    if (!infer(f, at, argn, "collection", err)) return NULL;
    if (at[0]->kind != HLN_T_LIST && at[0]->kind != HLN_T_SET)
        return poly_fail(
            err,
            "Function system.%s requires a set or list argument, but found argument %s of type %s",
            f, argn[0], at[0]);
    return at[0]->params[0];
}

static const hln_type *p_sumavg(const ex_fn *f, const hln_type **at, const char *const *argn, int n,
                                hln_error *err)
{
    (void)n;
    if (!infer(f, at, argn, "collection", err)) return NULL;
    if ((at[0]->kind != HLN_T_LIST && at[0]->kind != HLN_T_SET) ||
        !is_numeric(at[0]->params[0]->kind))
        return poly_fail(err,
                         "Function system.%s requires a numeric set/list argument, but found "
                         "argument %s of type %s",
                         f, argn[0], at[0]);
    return at[0]->params[0];
}

/* The elements (map: keys and values alternating) of collection v. */
static int elements(ex_request *r, const ex_value *v, bool map, ex_value **els, int *n)
{
    hln_rd rd;
    uint32_t cnt;
    *n = 0;
    if (hln_coll_begin(&rd, v->p, (size_t)v->len, &cnt))
        return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value");
    size_t total = (size_t)cnt * (map ? 2 : 1);
    *els = hln_arena_alloc(&r->arena, sizeof **els * (total ? total : 1));
    if (!*els) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (size_t i = 0; i < total; i++) {
        const uint8_t *p;
        int32_t l;
        if (hln_coll_next(&rd, &p, &l))
            return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value");
        (*els)[i] = (ex_value){p, l};
    }
    *n = (int)total;
    return 0;
}

static int t_map_kv(ex_request *r, const hln_type *const *at, const ex_value *a, int nargs,
                    ex_value *out, bool keys)
{
    (void)nargs;
    *out = (ex_value){NULL, -1};
    if (a[0].len <= 0) return 0;
    ex_value *els;
    int n, rc = elements(r, &a[0], true, &els, &n);
    if (rc) return rc;
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u32(&b, (uint32_t)(n / 2));
    for (int i = keys ? 0 : 1; i < n; i += 2) {
        hln_buf_u32(&b, (uint32_t)els[i].len);
        if (els[i].len > 0) hln_buf_put(&b, els[i].p, (size_t)els[i].len);
    }
    (void)at;
    rc = b.err ? hln_fail(&r->err, HLN_ENOMEM, "out of memory") : put(r, b.data, b.len, out);
    hln_buf_free(&b);
    return rc;
}
static int t_map_keys(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                      ex_value *out)
{
    return t_map_kv(r, at, a, n, out, true);
}
static int t_map_values(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                        ex_value *out)
{
    return t_map_kv(r, at, a, n, out, false);
}

static int t_count(ex_request *r, const hln_type *const *at, const ex_value *a, int nargs,
                   ex_value *out)
{
    (void)nargs;
    (void)at;
    *out = (ex_value){NULL, -1};
    if (a[0].len <= 0) return 0;
    hln_rd rd;
    uint32_t cnt;
    if (hln_coll_begin(&rd, a[0].p, (size_t)a[0].len, &cnt))
        return hln_fail(&r->err, HLN_EINVAL, "Invalid collection value");
    return put_be(r, cnt, 4, out);
}

static int t_minmax(ex_request *r, const hln_type *const *at, const ex_value *a, int nargs,
                    ex_value *out, bool min)
{
    (void)nargs;
    *out = (ex_value){NULL, -1};
    if (a[0].len <= 0) return 0;
    ex_value *els;
    int n, rc = elements(r, &a[0], false, &els, &n);
    if (rc) return rc;
    const hln_type *et = at[0]->params[0];
    for (int i = 0; i < n; i++) {
        if (els[i].len < 0) continue;
        if (out->len >= 0) {
            int c = hln_type_compare(et, els[i].p, (size_t)els[i].len, out->p, (size_t)out->len);
            if (min ? c >= 0 : c <= 0) continue;
        }
        *out = els[i];
    }
    return 0;
}
static int t_min(ex_request *r, const hln_type *const *at, const ex_value *a, int n, ex_value *out)
{
    return t_minmax(r, at, a, n, out, true);
}
static int t_max(ex_request *r, const hln_type *const *at, const ex_value *a, int n, ex_value *out)
{
    return t_minmax(r, at, a, n, out, false);
}

static int t_sumavg(ex_request *r, const hln_type *const *at, const ex_value *a, int nargs,
                    ex_value *out, bool avg)
{
    (void)nargs;
    *out = (ex_value){NULL, -1};
    if (a[0].len <= 0) return 0;
    ex_value *els;
    int n, rc = elements(r, &a[0], false, &els, &n);
    if (rc) return rc;
    const hln_type *et = at[0]->params[0];
    if (avg) return ex_coll_avg(r, et, els, n, out);
    for (int i = 0; i < n; i++) {
        if (els[i].len < 0) continue;
        if (out->len < 0) {
            *out = els[i];
            continue;
        }
        if ((rc = ex_arith(r, '+', et, *out, et, els[i], et, out)) != 0) return rc;
    }
    return 0;
}
static int t_sum(ex_request *r, const hln_type *const *at, const ex_value *a, int n, ex_value *out)
{
    return t_sumavg(r, at, a, n, out, false);
}
static int t_avg(ex_request *r, const hln_type *const *at, const ex_value *a, int n, ex_value *out)
{
    return t_sumavg(r, at, a, n, out, true);
}

/* ---- mask functions (MaskingFcts) --------------------------------------- */

static const hln_type *p_mask1(const ex_fn *f, const hln_type **at, const char *const *argn, int n,
                               hln_error *err)
{
    if (!infer(f, at, argn, "any", err)) return NULL;
    if (!strcmp(f->name, "mask_replace") && n == 2 && !at[1]) at[1] = at[0];
    if (!strcmp(f->name, "mask_replace") && n == 2 && at[1] && at[1] != at[0]) {
        hln_fail(err, HLN_EINVAL,
                 "Type error: %s cannot be passed as argument 1 of function system.%s of type %s",
                 argn[1], f->name, at[0]->cql_name);
        return NULL;
    }
    return at[0];
}

static const hln_type *p_mask_text(const ex_fn *f, const hln_type **at, const char *const *argn,
                                   int n, hln_error *err)
{
    if (!infer(f, at, argn, "text", err)) return NULL;
    if (at[0]->kind != HLN_T_VARCHAR && at[0]->kind != HLN_T_ASCII)
        return poly_fail(err,
                         "Function system.%s requires an argument of type [text|varchar|ascii], "
                         "but found argument %s of type %s",
                         f, argn[0], at[0]);
    const hln_type *it = hln_type_by_kind(HLN_T_INT);
    for (int i = 1; i < n && i < 3; i++)
        if (!at[i]) at[i] = it;
    if (n > 3 && !at[3]) at[3] = hln_type_by_kind(HLN_T_VARCHAR);
    return at[0];
}

static const hln_type *p_mask_hash(const ex_fn *f, const hln_type **at, const char *const *argn,
                                   int n, hln_error *err)
{
    if (!infer(f, at, argn, "any", err)) return NULL;
    if (n > 1 && !at[1]) at[1] = hln_type_by_kind(HLN_T_VARCHAR);
    return hln_type_by_kind(HLN_T_BLOB);
}

static int t_mask_null(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                       ex_value *out)
{
    (void)r;
    (void)at;
    (void)a;
    (void)n;
    *out = (ex_value){NULL, -1};
    return 0;
}

/* The masked value of type t (AbstractType.getMaskedValue): zero, "****",
 * the empty collection; tuples, UDTs and vectors of their components'
 * masked values. */
static int mask_of(ex_request *r, const hln_type *t, ex_value *out)
{
    static const uint8_t zeros[16];
    switch (t->kind) {
    case HLN_T_VARCHAR:
    case HLN_T_ASCII:
        return put(r, "****", 4, out);
    case HLN_T_BLOB:
        return put(r, "", 0, out);
    case HLN_T_TINYINT:
    case HLN_T_BOOLEAN:
        return put(r, zeros, 1, out);
    case HLN_T_SMALLINT:
        return put(r, zeros, 2, out);
    case HLN_T_INT:
    case HLN_T_FLOAT:
    case HLN_T_INET:
        return put(r, zeros, 4, out);
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
    case HLN_T_DOUBLE:
    case HLN_T_TIMESTAMP:
    case HLN_T_TIME:
        return put(r, zeros, 8, out);
    case HLN_T_DATE:
        return put_be(r, UINT64_C(1) << 31, 4, out);
    case HLN_T_UUID:
        return put(r, zeros, 16, out);
    case HLN_T_TIMEUUID: { /* the smallest timeuuid of the epoch */
        uint8_t u[16];
        uuid_at(0, false, u);
        return put(r, u, 16, out);
    }
    case HLN_T_VARINT:
        return put(r, zeros, 1, out);
    case HLN_T_DECIMAL:
        return put(r, zeros, 5, out);
    case HLN_T_LIST:
    case HLN_T_SET:
    case HLN_T_MAP: /* the empty collection */
        return put(r, zeros, 4, out);
    case HLN_T_DURATION: /* 0mo0d0ns */
        return put(r, zeros, 3, out);
    case HLN_T_TUPLE:
    case HLN_T_UDT:
    case HLN_T_VECTOR: {
        int n = t->kind == HLN_T_VECTOR ? t->dim : t->nparams;
        const uint8_t **els = hln_arena_alloc(&r->arena, sizeof *els * (size_t)(n + 1));
        int32_t *lens = hln_arena_alloc(&r->arena, sizeof *lens * (size_t)(n + 1));
        if (!els || !lens) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++) {
            ex_value e;
            int rc = mask_of(r, t->kind == HLN_T_VECTOR ? t->params[0] : t->params[i], &e);
            if (rc) return rc;
            els[i] = e.p;
            lens[i] = e.len;
        }
        hln_buf b;
        hln_buf_init(&b);
        int rc = t->kind == HLN_T_VECTOR ? hln_vector_build(t, els, lens, &b)
                                         : hln_tuple_build(els, lens, n, &b);
        if (!rc && b.err) rc = HLN_ENOMEM;
        rc = rc ? hln_fail(&r->err, HLN_ENOMEM, "out of memory") : put(r, b.data, b.len, out);
        hln_buf_free(&b);
        return rc;
    }
    default:
        return hln_fail(&r->err, HLN_EFUNCFAIL,
                        "execution of 'system.mask_default[%s]' failed: "
                        "java.lang.UnsupportedOperationException: There isn't a defined masked "
                        "value for type %s",
                        t->cql_name, t->cql_name);
    }
}

static int t_mask_default(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                          ex_value *out)
{
    (void)a;
    (void)n;
    return mask_of(r, at[0], out);
}

static int t_mask_replace(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                          ex_value *out)
{
    (void)r;
    (void)at;
    *out = n > 1 ? a[1] : (ex_value){NULL, -1};
    return 0;
}

static int utf8_len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static int mask_text(ex_request *r, const hln_type *const *at, const ex_value *a, int nargs,
                     ex_value *out, bool inner)
{
    (void)at;
    *out = (ex_value){NULL, -1};
    int64_t lim[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        if (nargs > i + 1 && a[i + 1].len == 4) {
            int32_t v = (int32_t)be(a[i + 1].p, 4);
            lim[i] = v < 0 ? 0 : v;
        }
    const uint8_t *pad = (const uint8_t *)"*";
    int padlen = 1;
    if (nargs > 3 && a[3].len >= 0) {
        int chars = 0;
        for (int32_t i = 0; i < a[3].len; i += utf8_len(a[3].p[i]))
            chars++;
        if (chars != 1) {
            return hln_fail(&r->err, HLN_EINVAL,
                            "The padding argument for function system.%s should be "
                            "single-character, but '%.*s' has %d characters.",
                            inner ? "mask_inner" : "mask_outer", (int)a[3].len,
                            (const char *)a[3].p, chars);
        }
        pad = a[3].p;
        padlen = a[3].len;
    }
    if (a[0].len < 0) return 0;
    int64_t chars = 0;
    for (int32_t i = 0; i < a[0].len; i += utf8_len(a[0].p[i]))
        chars++;
    hln_buf b;
    hln_buf_init(&b);
    int64_t k = 0;
    for (int32_t i = 0; i < a[0].len; k++) {
        int l = utf8_len(a[0].p[i]);
        if (i + l > a[0].len) l = a[0].len - i;
        bool edge = k < lim[0] || k >= chars - lim[1];
        if (edge != inner)
            hln_buf_put(&b, pad, (size_t)padlen);
        else
            hln_buf_put(&b, a[0].p + i, (size_t)l);
        i += l;
    }
    int rc = b.err ? hln_fail(&r->err, HLN_ENOMEM, "out of memory") : put(r, b.data, b.len, out);
    hln_buf_free(&b);
    return rc;
}
static int t_mask_inner(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                        ex_value *out)
{
    return mask_text(r, at, a, n, out, true);
}
static int t_mask_outer(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                        ex_value *out)
{
    return mask_text(r, at, a, n, out, false);
}

static int t_mask_hash(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                       ex_value *out)
{
    (void)at;
    char alg[64] = "SHA-256";
    if (n > 1 && a[1].len >= 0)
        snprintf(alg, sizeof alg, "%.*s", a[1].len > 60 ? 60 : (int)a[1].len, (const char *)a[1].p);
    const EVP_MD *md = EVP_get_digestbyname(alg);
    if (!md) return hln_fail(&r->err, HLN_EINVAL, "Hash algorithm not found: %s", alg);
    *out = (ex_value){NULL, -1};
    if (a[0].len < 0) return 0;
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned hl = 0;
    if (!EVP_Digest(a[0].p, (size_t)a[0].len, h, &hl, md, NULL))
        return hln_fail(&r->err, HLN_ESERVER, "hash failed");
    return put(r, h, hl, out);
}

/* token(a, b, ...) of values other than the row's own partition key (a
 * regular column of the key's type): the Murmur3 token of their
 * partition-key composition. */
static int t_token(ex_request *r, const hln_type *const *at, const ex_value *a, int n,
                   ex_value *out)
{
    (void)at;
    const uint8_t **vals = hln_arena_alloc(&r->arena, sizeof *vals * (size_t)(n ? n : 1));
    size_t *lens = hln_arena_alloc(&r->arena, sizeof *lens * (size_t)(n ? n : 1));
    if (!vals || !lens) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (a[i].len < 0) {
            *out = (ex_value){NULL, -1};
            return 0;
        }
        vals[i] = a[i].p;
        lens[i] = (size_t)a[i].len;
    }
    hln_buf b;
    hln_buf_init(&b);
    hln_pk_compose(vals, lens, n, &b);
    int rc = b.err ? hln_fail(&r->err, HLN_ENOMEM, "out of memory")
                   : put_be(r, (uint64_t)hln_murmur3_token(b.data, b.len), 8, out);
    hln_buf_free(&b);
    return rc;
}

/* ---- the table -------------------------------------------------------- */

#define A0                                                                                         \
    {                                                                                              \
        0, 0, 0, 0                                                                                 \
    }
#define A1(x)                                                                                      \
    {                                                                                              \
        x, 0, 0, 0                                                                                 \
    }

static const ex_fn FNS[] = {
    {"now", 0, A0, HLN_T_TIMEUUID, f_now, false, NULL, NULL, 0},
    {"currenttimeuuid", 0, A0, HLN_T_TIMEUUID, f_now, false, NULL, NULL, 0},
    {"uuid", 0, A0, HLN_T_UUID, f_uuid, false, NULL, NULL, 0},
    {"currenttimestamp", 0, A0, HLN_T_TIMESTAMP, f_current_timestamp, false, NULL, NULL, 0},
    {"currentdate", 0, A0, HLN_T_DATE, f_current_date, false, NULL, NULL, 0},
    {"currenttime", 0, A0, HLN_T_TIME, f_current_time, false, NULL, NULL, 0},
    {"totimestamp", 1, A1(HLN_T_TIMEUUID), HLN_T_TIMESTAMP, f_uuid_to_ts, false, NULL, NULL, 0},
    {"totimestamp", 1, A1(HLN_T_DATE), HLN_T_TIMESTAMP, f_date_to_ts, false, NULL, NULL, 0},

    {"todate", 1, A1(HLN_T_TIMEUUID), HLN_T_DATE, f_uuid_to_date, false, NULL, NULL, 0},
    {"todate", 1, A1(HLN_T_TIMESTAMP), HLN_T_DATE, f_ts_to_date, false, NULL, NULL, 0},

    {"tounixtimestamp", 1, A1(HLN_T_TIMEUUID), HLN_T_BIGINT, f_uuid_to_ts, false, NULL, NULL, 0},
    {"tounixtimestamp", 1, A1(HLN_T_TIMESTAMP), HLN_T_BIGINT, f_ts_to_ts, false, NULL, NULL, 0},
    {"tounixtimestamp", 1, A1(HLN_T_DATE), HLN_T_BIGINT, f_date_to_ts, false, NULL, NULL, 0},
#define NUM_FNS(nm, te)                                                                            \
    {nm, 1, A1(HLN_T_INT), HLN_T_INT, NULL, false, NULL, te, 0},                                   \
        {nm, 1, A1(HLN_T_BIGINT), HLN_T_BIGINT, NULL, false, NULL, te, 0},                         \
        {nm, 1, A1(HLN_T_VARINT), HLN_T_VARINT, NULL, false, NULL, te, 0},                         \
        {nm, 1, A1(HLN_T_DOUBLE), HLN_T_DOUBLE, NULL, false, NULL, te, 0},                         \
        {nm, 1, A1(HLN_T_FLOAT), HLN_T_FLOAT, NULL, false, NULL, te, 0},                           \
        {nm, 1, A1(HLN_T_DECIMAL), HLN_T_DECIMAL, NULL, false, NULL, te, 0},                       \
        {nm, 1, A1(HLN_T_TINYINT), HLN_T_TINYINT, NULL, false, NULL, te, 0},                       \
        {nm, 1, A1(HLN_T_SMALLINT), HLN_T_SMALLINT, NULL, false, NULL, te, 0},                     \
    {                                                                                              \
        nm, 1, A1(HLN_T_COUNTER), HLN_T_COUNTER, NULL, false, NULL, te, 0                          \
    }
    {"abs", 1, A1(HLN_T_INT), HLN_T_INT, f_abs32, false, NULL, NULL, 0},
    {"abs", 1, A1(HLN_T_BIGINT), HLN_T_BIGINT, f_abs64, false, NULL, NULL, 0},
    {"abs", 1, A1(HLN_T_VARINT), HLN_T_VARINT, NULL, false, NULL, t_absbig, 0},
    {"abs", 1, A1(HLN_T_DOUBLE), HLN_T_DOUBLE, f_absfp, false, NULL, NULL, 0},
    {"abs", 1, A1(HLN_T_FLOAT), HLN_T_FLOAT, f_absfp, false, NULL, NULL, 0},
    {"abs", 1, A1(HLN_T_DECIMAL), HLN_T_DECIMAL, NULL, false, NULL, t_absbig, 0},
    {"abs", 1, A1(HLN_T_TINYINT), HLN_T_TINYINT, f_abs8, false, NULL, NULL, 0},
    {"abs", 1, A1(HLN_T_SMALLINT), HLN_T_SMALLINT, f_abs16, false, NULL, NULL, 0},
    {"abs", 1, A1(HLN_T_COUNTER), HLN_T_COUNTER, f_abs64, false, NULL, NULL, 0},
    NUM_FNS("exp", t_exp),
    NUM_FNS("log", t_log),
    NUM_FNS("log10", t_log10),
    NUM_FNS("round", t_round),
    /* polymorphic: argument kinds unused (poly checks them) */
    {"map_keys", 1, A0, HLN_T_SET, NULL, false, p_map_kv, t_map_keys, 0},
    {"map_values", 1, A0, HLN_T_LIST, NULL, false, p_map_kv, t_map_values, 0},
    {"collection_count", 1, A0, HLN_T_INT, NULL, false, p_count, t_count, 0},
    {"collection_min", 1, A0, HLN_T_CUSTOM, NULL, false, p_minmax, t_min, 0},
    {"collection_max", 1, A0, HLN_T_CUSTOM, NULL, false, p_minmax, t_max, 0},
    {"collection_sum", 1, A0, HLN_T_CUSTOM, NULL, false, p_sumavg, t_sum, 0},
    {"collection_avg", 1, A0, HLN_T_CUSTOM, NULL, false, p_sumavg, t_avg, 0},
    {"mask_null", 1, A0, HLN_T_CUSTOM, NULL, false, p_mask1, t_mask_null, 0},
    {"mask_default", 1, A0, HLN_T_CUSTOM, NULL, false, p_mask1, t_mask_default, 0},
    {"mask_replace", 2, A0, HLN_T_CUSTOM, NULL, false, p_mask1, t_mask_replace, 0},
    {"mask_inner", 4, A0, HLN_T_CUSTOM, NULL, false, p_mask_text, t_mask_inner, 3},
    {"mask_outer", 4, A0, HLN_T_CUSTOM, NULL, false, p_mask_text, t_mask_outer, 3},
    {"mask_hash", 2, A0, HLN_T_BLOB, NULL, false, p_mask_hash, t_mask_hash, 1},
    {"mintimeuuid", 1, A1(HLN_T_TIMESTAMP), HLN_T_TIMEUUID, f_min_timeuuid, false, NULL, NULL, 0},
    {"maxtimeuuid", 1, A1(HLN_T_TIMESTAMP), HLN_T_TIMEUUID, f_max_timeuuid, false, NULL, NULL, 0},
    {"similarity_cosine",
     2,
     {HLN_T_VECTOR, HLN_T_VECTOR, 0, 0},
     HLN_T_FLOAT,
     f_sim_cosine,
     false,
     NULL,
     NULL,
     0},
    {"similarity_euclidean",
     2,
     {HLN_T_VECTOR, HLN_T_VECTOR, 0, 0},
     HLN_T_FLOAT,
     f_sim_euclidean,
     false,
     NULL,
     NULL,
     0},
    {"similarity_dot_product",
     2,
     {HLN_T_VECTOR, HLN_T_VECTOR, 0, 0},
     HLN_T_FLOAT,
     f_sim_dot,
     false,
     NULL,
     NULL,
     0},
};

const ex_fn ex_token_fn = {"token", 5, A0, HLN_T_BIGINT, NULL, false, NULL, t_token, 1};

/* <type>AsBlob / blobAs<type>: built on first use from the native types. */
static const char *const BLOB_TYPES[] = {
    "ascii",     "bigint",   "boolean", "counter", "date",     "decimal", "double",
    "duration",  "float",    "inet",    "int",     "smallint", "text",    "time",
    "timestamp", "timeuuid", "tinyint", "uuid",    "varchar",  "varint",
};

static ex_fn blob_fns[2 * HLN_ARRAY_LEN(BLOB_TYPES)];
static char blob_names[2 * HLN_ARRAY_LEN(BLOB_TYPES)][32];
static pthread_once_t blob_once = PTHREAD_ONCE_INIT;

static void init_blob_fns(void)
{
    for (size_t i = 0; i < HLN_ARRAY_LEN(BLOB_TYPES); i++) {
        const hln_type *t = hln_type_by_name(BLOB_TYPES[i]);
        hln_type_kind k = t ? t->kind : HLN_T_BLOB;
        snprintf(blob_names[2 * i], sizeof blob_names[0], "%sasblob", BLOB_TYPES[i]);
        snprintf(blob_names[2 * i + 1], sizeof blob_names[0], "blobas%s", BLOB_TYPES[i]);
        blob_fns[2 * i] =
            (ex_fn){blob_names[2 * i], 1, A1(k), HLN_T_BLOB, f_identity, false, NULL, NULL, 0};
        blob_fns[2 * i + 1] = (ex_fn){
            blob_names[2 * i + 1], 1, A1(HLN_T_BLOB), k, f_identity, t != NULL, NULL, NULL, 0};
    }
}

int ex_fn_candidates(const char *name, const ex_fn **out, int max)
{
    pthread_once(&blob_once, init_blob_fns);
    int n = 0;
    for (size_t i = 0; i < HLN_ARRAY_LEN(FNS) && n < max; i++)
        if (!strcmp(FNS[i].name, name)) out[n++] = &FNS[i]; /* names are folded */
    for (size_t i = 0; i < HLN_ARRAY_LEN(blob_fns) && n < max; i++)
        if (blob_fns[i].name && !strcmp(blob_fns[i].name, name)) out[n++] = &blob_fns[i];
    return n;
}

int ex_fn_call(ex_request *r, const ex_fn *f, const hln_type *const *at, const ex_value *args,
               int nargs, ex_value *out)
{
    int rc = f->teval ? f->teval(r, at, args, nargs, out) : f->eval(r, args, out);
    if (rc || !f->check_result || out->len < 0) return rc;
    const hln_type *rt = hln_type_by_kind(f->ret);
    hln_error e = {0};
    if (rt && hln_type_validate(rt, out->p, (size_t)out->len, NULL, &e)) {
        hln_buf hex;
        hln_buf_init(&hex);
        hln_type_format(hln_type_by_kind(HLN_T_BLOB), args[0].p, (size_t)args[0].len, &hex);
        hln_buf_u8(&hex, 0);
        rc = hln_fail(&r->err, HLN_EINVAL,
                      "In call to function system.%s, value %s is not a valid binary "
                      "representation for type %s",
                      f->name, hex.err ? "?" : (const char *)hex.data, rt->cql_name);
        hln_buf_free(&hex);
    }
    return rc;
}

/* ---- resolution ---------------------------------------------------------- */

/* Whether a value of type `from` may be passed where `to` is expected
 * without being of that type (AbstractType.isValueCompatibleWith). */
static bool weakly_assignable(hln_type_kind to, const hln_type *from)
{
    hln_type_kind f = from->kind;
    switch (to) {
    case HLN_T_BLOB:
        return true;
    case HLN_T_VARCHAR:
        return f == HLN_T_ASCII;
    case HLN_T_TIMESTAMP:
        return f == HLN_T_BIGINT;
    case HLN_T_BIGINT:
        return f == HLN_T_TIMESTAMP;
    case HLN_T_DATE:
        return f == HLN_T_INT;
    case HLN_T_VARINT:
        return f == HLN_T_TINYINT || f == HLN_T_SMALLINT || f == HLN_T_INT || f == HLN_T_BIGINT;
    case HLN_T_UUID:
        return f == HLN_T_TIMEUUID;
    default:
        return false;
    }
}

/* 0: does not fit; 1: fits loosely (a constant, a compatible type); 2: exact. */
static int arg_score(hln_type_kind k, const ex_fnarg *a)
{
    if (a->type) {
        if (a->type->kind == k) return 2;
        return weakly_assignable(k, a->type) ? 1 : 0;
    }
    const cql_term *t = a->term;
    if (!t || t->kind != CQL_TERM_LITERAL) {
        if (t && (t->kind == CQL_TERM_LIST || t->kind == CQL_TERM_SET || t->kind == CQL_TERM_MAP))
            return k == HLN_T_VECTOR || k == HLN_T_LIST || k == HLN_T_SET || k == HLN_T_MAP;
        return 1; /* markers, null, arithmetic */
    }
    if (k == HLN_T_VECTOR) return 0;
    const hln_type *at = hln_type_by_kind(k);
    if (!at) return 0;
    hln_buf tmp;
    hln_buf_init(&tmp);
    hln_error e = {0};
    int ok = hln_type_from_literal(at, t->lit, t->text, "arg", &tmp, &e) == 0;
    hln_buf_free(&tmp);
    return ok;
}

static void signatures(hln_buf *b, const ex_fn *const *c, int n)
{
    hln_buf_put(b, " (known type signatures: ", 25);
    for (int i = 0; i < n; i++) {
        hln_buf_printf(b, "%ssystem.%s : (", i ? ", " : "", c[i]->name);
        for (int j = 0; j < c[i]->nargs; j++) {
            const hln_type *t = hln_type_by_kind(c[i]->args[j]);
            hln_buf_printf(b, "%s%s", j ? ", " : "", t ? t->cql_name : "vector<float, n>");
        }
        const hln_type *rt = hln_type_by_kind(c[i]->ret);
        hln_buf_printf(b, ") -> %s", rt ? rt->cql_name : "float");
    }
    hln_buf_u8(b, ')');
}

const ex_fn *ex_fn_resolve(const char *ks, const char *name, ex_fnarg *args, int nargs,
                           const hln_type *receiver, bool selector, const hln_type **ret,
                           hln_error *err)
{
    const ex_fn *cands[16];
    int n = ks && strcmp(ks, "system") ? 0 : ex_fn_candidates(name, cands, 16);
    *ret = NULL;
    if (n == 0) {
        if (selector)
            hln_fail(err, HLN_EINVAL, "Unknown function '%s%s%s'", ks ? ks : "", ks ? "." : "",
                     name);
        else
            hln_fail(err, HLN_EINVAL, "Unknown function %s%s%s called", ks ? ks : "", ks ? "." : "",
                     name);
        return NULL;
    }
    if (nargs > 4) nargs = 5; /* more than any function takes */
    if (cands[0]->poly) {
        const ex_fn *f = cands[0];
        int lo = f->min_args ? f->min_args : f->nargs;
        if (nargs < lo || nargs > f->nargs) {
            hln_fail(err, HLN_EINVAL,
                     "Invalid number of arguments in call to function system.%s: %d required but "
                     "%d provided",
                     f->name, f->nargs, nargs);
            return NULL;
        }
        const hln_type *at[4];
        const char *argn[4];
        for (int i = 0; i < nargs; i++) {
            at[i] = args[i].type;
            argn[i] = args[i].name ? args[i].name : "?";
        }
        const hln_type *rt = f->poly(f, at, argn, nargs, err);
        if (!rt) return NULL;
        for (int i = 0; i < nargs; i++) {
            if (args[i].type || !at[i]) continue;
            const cql_term *t = args[i].term;
            if (t && t->kind == CQL_TERM_LITERAL) {
                hln_buf tmp;
                hln_buf_init(&tmp);
                hln_error e = {0};
                int bad = hln_type_from_literal(at[i], t->lit, t->text, "arg", &tmp, &e);
                hln_buf_free(&tmp);
                if (bad) {
                    hln_fail(err, HLN_EINVAL,
                             "Type error: %s cannot be passed as argument %d of function system.%s "
                             "of type %s",
                             argn[i], i, f->name, at[i]->cql_name);
                    return NULL;
                }
            }
            args[i].type = at[i];
        }
        *ret = rt;
        return f;
    }
    const ex_fn *best = NULL;
    int best_score = -1;
    for (int i = 0; i < n; i++) {
        const ex_fn *f = cands[i];
        if (f->nargs != nargs) continue;
        int score = 0;
        for (int j = 0; j < nargs && score >= 0; j++) {
            int s = arg_score(f->args[j], &args[j]);
            score = s ? score + s : -1;
        }
        if (score < 0) continue;
        if (receiver && f->ret == receiver->kind) score++;
        if (score > best_score) {
            best = f;
            best_score = score;
        }
    }
    if (!best) {
        if (n == 1) {
            const ex_fn *f = cands[0];
            if (f->nargs != nargs) {
                hln_fail(err, HLN_EINVAL,
                         "Invalid number of arguments in call to function system.%s: %d required "
                         "but %d provided",
                         f->name, f->nargs, nargs);
                return NULL;
            }
            for (int j = 0; j < nargs; j++)
                if (!arg_score(f->args[j], &args[j])) {
                    const hln_type *at = hln_type_by_kind(f->args[j]);
                    hln_fail(err, HLN_EINVAL,
                             "Type error: %s cannot be passed as argument %d of function system.%s "
                             "of type %s",
                             args[j].name ? args[j].name : "?", j, f->name,
                             at ? at->cql_name : "vector<float, n>");
                    return NULL;
                }
        }
        hln_buf b;
        hln_buf_init(&b);
        hln_buf_printf(&b, "Invalid call to function %s, none of its type signatures match", name);
        signatures(&b, cands, n);
        hln_buf_u8(&b, 0);
        hln_fail(err, HLN_EINVAL, "%s", b.err ? "Invalid call" : (const char *)b.data);
        hln_buf_free(&b);
        return NULL;
    }
    for (int j = 0; j < nargs; j++)
        if (!args[j].type && best->args[j] != HLN_T_VECTOR)
            args[j].type = hln_type_by_kind(best->args[j]);
    *ret = hln_type_by_kind(best->ret);
    return best;
}

/* The type of a term used as a function argument, when it has one of its
 * own (a nested call); NULL for constants and markers. */
static const hln_type *term_type(ex_request *r, const cql_term *term, bool *failed)
{
    *failed = false;
    if (term->kind == CQL_TERM_HINT) {
        return hln_type_hint(term->text);
    }
    if (term->kind != CQL_TERM_FUNC || !strcmp(term->text, "fromjson")) return NULL;
    ex_fnarg args[5];
    int n = term->nelems > 5 ? 5 : term->nelems;
    for (int i = 0; i < n; i++) {
        args[i] = (ex_fnarg){term_type(r, term->elems[i], failed), term->elems[i],
                             ex_term_str(&r->arena, term->elems[i])};
        if (*failed) return NULL;
    }
    const hln_type *rt;
    if (!ex_fn_resolve(term->fn_ks, term->text, args, term->nelems, NULL, false, &rt, &r->err))
        *failed = true;
    return rt;
}

int ex_bind_function(ex_request *r, const cql_term *term, const hln_type *t, const char *col,
                     ex_value *out)
{
    if (!strcmp(term->text, "fromjson") && (!term->fn_ks || !strcmp(term->fn_ks, "system"))) {
        if (term->nelems != 1)
            return hln_fail(&r->err, HLN_EINVAL,
                            "Invalid number of arguments in call to function system.fromjson: 1 "
                            "required but %d provided",
                            term->nelems);
        const cql_term *a = term->elems[0];
        if (a->kind == CQL_TERM_LITERAL && a->lit != HLN_LIT_STRING)
            return hln_fail(&r->err, HLN_EINVAL,
                            "Function system.fromjson requires an argument of type text, but found "
                            "argument %s of type %s",
                            a->text, a->lit == HLN_LIT_INTEGER ? "int" : "double");
        if (!t)
            return hln_fail(&r->err, HLN_EINVAL,
                            "fromJson() cannot be used here: the receiver type is unknown");
        ex_value txt;
        int rc = ex_bind(r, a, hln_type_by_kind(HLN_T_VARCHAR), "arg0(system.fromjson)", &txt);
        if (rc) return rc;
        if (txt.len < 0) {
            *out = (ex_value){NULL, -1};
            return 0;
        }
        return ex_json_value(r, t, col, txt.p, (size_t)txt.len, out);
    }
    if (!strcmp(term->text, "token") && !term->fn_ks) {
        /* token(v1, ...) of the statement's table's partition key */
        const ex_plan *p = ex_st(r)->plan;
        const hln_table *tb = p ? p->t : NULL;
        if (!tb) return hln_fail(&r->err, HLN_EINVAL, "token() cannot be used here");
        if (term->nelems != tb->npk)
            return hln_fail(&r->err, HLN_EINVAL,
                            "Invalid number of arguments in call to function system.token: %d "
                            "required but %d provided",
                            tb->npk, term->nelems);
        if (t && t->kind != HLN_T_BIGINT)
            return hln_fail(&r->err, HLN_EINVAL,
                            "Type error: cannot assign result of function system.token (type "
                            "bigint) to %s (type %s)",
                            col, t->cql_name);
        ex_value *args = hln_arena_alloc(&r->arena, sizeof *args * (size_t)tb->npk);
        const hln_type **at = hln_arena_alloc(&r->arena, sizeof *at * (size_t)tb->npk);
        if (!args || !at) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int i = 0; i < tb->npk; i++) {
            at[i] = tb->cols[i].type;
            int rc = ex_bind(r, term->elems[i], at[i], tb->cols[i].name, &args[i]);
            if (rc) return rc;
            if (args[i].len < 0)
                return hln_fail(&r->err, HLN_EINVAL, "Invalid null value for partition key part %s",
                                tb->cols[i].name);
        }
        return t_token(r, at, args, tb->npk, out);
    }
    ex_fnarg fa[5];
    int n = term->nelems > 5 ? 5 : term->nelems;
    for (int i = 0; i < n; i++) {
        bool failed;
        fa[i] = (ex_fnarg){term_type(r, term->elems[i], &failed), term->elems[i],
                           ex_term_str(&r->arena, term->elems[i])};
        if (failed) return r->err.code ? r->err.code : HLN_EINVAL;
    }
    const hln_type *rt;
    const ex_fn *f =
        ex_fn_resolve(term->fn_ks, term->text, fa, term->nelems, t, false, &rt, &r->err);
    if (!f) return r->err.code ? r->err.code : HLN_EINVAL;
    if (f->args[0] == HLN_T_VECTOR)
        return hln_fail(&r->err, HLN_EINVAL, "Function system.%s is only supported in selections",
                        f->name);
    if (t && rt && t->kind != rt->kind && !(t->kind == HLN_T_UUID && rt->kind == HLN_T_TIMEUUID))
        return hln_fail(&r->err, HLN_EINVAL,
                        "Type error: cannot assign result of function system.%s (type %s) to %s "
                        "(type %s)",
                        f->name, rt->cql_name, col, t->cql_name);
    ex_value args[4];
    const hln_type *at[4];
    for (int i = 0; i < n && i < 4; i++) {
        at[i] = fa[i].type;
        char name[96];
        snprintf(name, sizeof name, "arg%d(system.%s)", i, f->name);
        int rc = ex_bind(r, term->elems[i], at[i], name, &args[i]);
        if (rc) return rc;
        if (args[i].len == -2) args[i] = (ex_value){NULL, -1};
    }
    return ex_fn_call(r, f, at, args, n, out);
}
