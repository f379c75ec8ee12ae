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
 * vector<float, n>, abs. Not yet: collection functions, mask functions,
 * exp/log/round, CAST, arithmetic, aggregates other than count/min/max.
 *
 * Invariants: evaluators never read past their inputs and return HLN_EINVAL
 * with Cassandra's wording for bad values; results are r->arena memory.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
    memcpy(d, p, n);
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

static int date_of_ms(ex_request *r, int64_t ms, ex_value *out)
{
    return put_be(r, (uint64_t)(floor_div(ms, 86400000) + (INT64_C(1) << 31)), 4, out);
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
                            "Function system.similarity_cosine doesn't support all-zero vectors");
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

/* ---- the table -------------------------------------------------------- */

#define A0                                                                                         \
    {                                                                                              \
        0, 0                                                                                       \
    }
#define A1(x)                                                                                      \
    {                                                                                              \
        x, 0                                                                                       \
    }

static const ex_fn FNS[] = {
    {"now", 0, A0, HLN_T_TIMEUUID, f_now, false},
    {"currenttimeuuid", 0, A0, HLN_T_TIMEUUID, f_now, false},
    {"uuid", 0, A0, HLN_T_UUID, f_uuid, false},
    {"currenttimestamp", 0, A0, HLN_T_TIMESTAMP, f_current_timestamp, false},
    {"currentdate", 0, A0, HLN_T_DATE, f_current_date, false},
    {"currenttime", 0, A0, HLN_T_TIME, f_current_time, false},
    {"totimestamp", 1, A1(HLN_T_TIMEUUID), HLN_T_TIMESTAMP, f_uuid_to_ts, false},
    {"totimestamp", 1, A1(HLN_T_DATE), HLN_T_TIMESTAMP, f_date_to_ts, false},

    {"todate", 1, A1(HLN_T_TIMEUUID), HLN_T_DATE, f_uuid_to_date, false},
    {"todate", 1, A1(HLN_T_TIMESTAMP), HLN_T_DATE, f_ts_to_date, false},

    {"tounixtimestamp", 1, A1(HLN_T_TIMEUUID), HLN_T_BIGINT, f_uuid_to_ts, false},
    {"tounixtimestamp", 1, A1(HLN_T_TIMESTAMP), HLN_T_BIGINT, f_ts_to_ts, false},
    {"tounixtimestamp", 1, A1(HLN_T_DATE), HLN_T_BIGINT, f_date_to_ts, false},
    {"abs", 1, A1(HLN_T_TINYINT), HLN_T_TINYINT, f_abs8, false},
    {"abs", 1, A1(HLN_T_SMALLINT), HLN_T_SMALLINT, f_abs16, false},
    {"abs", 1, A1(HLN_T_INT), HLN_T_INT, f_abs32, false},
    {"abs", 1, A1(HLN_T_BIGINT), HLN_T_BIGINT, f_abs64, false},
    {"abs", 1, A1(HLN_T_COUNTER), HLN_T_COUNTER, f_abs64, false},
    {"abs", 1, A1(HLN_T_FLOAT), HLN_T_FLOAT, f_absfp, false},
    {"abs", 1, A1(HLN_T_DOUBLE), HLN_T_DOUBLE, f_absfp, false},
    {"mintimeuuid", 1, A1(HLN_T_TIMESTAMP), HLN_T_TIMEUUID, f_min_timeuuid, false},
    {"maxtimeuuid", 1, A1(HLN_T_TIMESTAMP), HLN_T_TIMEUUID, f_max_timeuuid, false},
    {"similarity_cosine", 2, {HLN_T_VECTOR, HLN_T_VECTOR}, HLN_T_FLOAT, f_sim_cosine, false},
    {"similarity_euclidean", 2, {HLN_T_VECTOR, HLN_T_VECTOR}, HLN_T_FLOAT, f_sim_euclidean, false},
    {"similarity_dot_product", 2, {HLN_T_VECTOR, HLN_T_VECTOR}, HLN_T_FLOAT, f_sim_dot, false},
};

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
        blob_fns[2 * i] = (ex_fn){blob_names[2 * i], 1, A1(k), HLN_T_BLOB, f_identity, false};
        blob_fns[2 * i + 1] =
            (ex_fn){blob_names[2 * i + 1], 1, A1(HLN_T_BLOB), k, f_identity, t != NULL};
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

int ex_fn_call(ex_request *r, const ex_fn *f, const ex_value *args, ex_value *out)
{
    int rc = f->eval(r, args, out);
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

/* The result type of a function-call term, when it can be told without a
 * receiver (its first overload of the right arity whose arguments fit). */
static const ex_fn *resolve(ex_request *r, const cql_term *term, const hln_type *receiver)
{
    const ex_fn *cands[8];
    int n = ex_fn_candidates(term->text, cands, 8);
    if (n == 0) {
        hln_fail(&r->err, HLN_EINVAL, "Unknown function %s called", term->text);
        return NULL;
    }
    const ex_fn *best = NULL;
    for (int i = 0; i < n && !best; i++) {
        const ex_fn *f = cands[i];
        if (f->nargs != term->nelems) continue;
        bool ok = true;
        for (int j = 0; j < f->nargs && ok; j++) {
            const cql_term *a = term->elems[j];
            if (a->kind == CQL_TERM_FUNC) {
                const ex_fn *g = resolve(r, a, NULL);
                if (!g) return NULL;
                ok = g->ret == f->args[j];
            } else if (a->kind == CQL_TERM_LITERAL) {
                /* a constant picks the overloads whose argument type takes it */
                const hln_type *at = hln_type_by_kind(f->args[j]);
                hln_buf tmp;
                hln_buf_init(&tmp);
                hln_error e = {0};
                ok = at && hln_type_from_literal(at, a->lit, a->text, "arg", &tmp, &e) == 0;
                hln_buf_free(&tmp);
            }
        }
        /* with several fitting overloads, prefer one whose result the
           receiver takes */
        if (ok && receiver && f->ret != receiver->kind) {
            for (int k = i + 1; k < n; k++)
                if (cands[k]->nargs == term->nelems && cands[k]->ret == receiver->kind) {
                    ok = false;
                    break;
                }
        }
        if (ok) best = f;
    }
    if (!best) {
        hln_fail(&r->err, HLN_EINVAL,
                 "Invalid call to function %s, none of its type signatures "
                 "match (arguments given: %d)",
                 term->text, term->nelems);
        return NULL;
    }
    return best;
}

int ex_bind_function(ex_request *r, const cql_term *term, const hln_type *t, const char *col,
                     ex_value *out)
{
    const ex_fn *f = resolve(r, term, t);
    if (!f) return r->err.code ? r->err.code : HLN_EINVAL;
    if (f->args[0] == HLN_T_VECTOR)
        return hln_fail(&r->err, HLN_EINVAL, "Function system.%s is only supported in selections",
                        f->name);
    const hln_type *rt = hln_type_by_kind(f->ret);
    if (t && rt && t->kind != rt->kind && !(t->kind == HLN_T_UUID && f->ret == HLN_T_TIMEUUID))
        return hln_fail(&r->err, HLN_EINVAL,
                        "Type error: cannot assign result of function system.%s (type %s) to %s "
                        "(type %s)",
                        f->name, rt->cql_name, col, t->cql_name);
    ex_value args[2];
    for (int i = 0; i < f->nargs; i++) {
        const hln_type *at = hln_type_by_kind(f->args[i]);
        char name[96];
        snprintf(name, sizeof name, "arg%d(system.%s)", i, f->name);
        int rc = ex_bind(r, term->elems[i], at, name, &args[i]);
        if (rc) return rc;
        if (args[i].len == -2) args[i] = (ex_value){NULL, -1};
    }
    return ex_fn_call(r, f, args, out);
}
