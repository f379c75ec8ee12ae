/*
 * arith.c — arithmetic operators and CAST, as Cassandra 5.0 evaluates them.
 *
 * What:
 *   - ex_arith_type / ex_arith: a + b, a - b, a * b, a / b, a % b between
 *     numbers (OperationFcts): the result is the wider operand type, in the
 *     order decimal > double > float > varint > bigint (counter) > int >
 *     smallint > tinyint; both operands are converted to it first and the
 *     operation is the Java one of that type (integer overflow wraps,
 *     INT_MIN / -1 is INT_MIN, x / 0 fails with "the operation 'int / int'
 *     failed: / by zero", floats follow IEEE); text + text concatenates;
 *     timestamp/date +- duration moves the instant.
 *   - ex_cast_ok / ex_cast: CAST(x AS type) (CastFcts): numbers to every
 *     number (Java's Number.intValue() and friends: truncation, saturation
 *     from floating point) and to text/ascii; every other native type but
 *     blob and duration to text/ascii (the value's toString: Java's
 *     Double.toString, ISO instants for timestamps); ascii to text;
 *     timeuuid to date and timestamp; timestamp to date and back.
 *
 * How: an operand is read into a `num`: an int64 (integer types), a double
 * (float, double) or a scaled __int128 (varint: scale 0, decimal); varint
 * and decimal values wider than 127 bits fail as unsupported. Decimal
 * arithmetic converts the other operand as Cassandra does
 * (BigDecimal.valueOf(double): the integer 2 is 2.0), adds and subtracts
 * exactly, and rounds products and quotients to 34 digits (DECIMAL128,
 * HALF_EVEN).
 *
 * Invariants: null (or empty) operands give null; results are r->arena
 * memory; nothing reads past a value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

typedef __int128 i128;

typedef struct num {
    int k; /* 0: i (int64), 1: d (double), 2: u * 10^-scale */
    int64_t i;
    double d;
    i128 u;
    int32_t scale;
} num;

static int rank(hln_type_kind k)
{
    switch (k) {
    case HLN_T_TINYINT:
        return 1;
    case HLN_T_SMALLINT:
        return 2;
    case HLN_T_INT:
        return 3;
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
        return 4;
    case HLN_T_VARINT:
        return 5;
    case HLN_T_FLOAT:
        return 6;
    case HLN_T_DOUBLE:
        return 7;
    case HLN_T_DECIMAL:
        return 8;
    default:
        return 0;
    }
}

static int width(hln_type_kind k)
{
    return k == HLN_T_TINYINT ? 1 : k == HLN_T_SMALLINT ? 2 : k == HLN_T_INT ? 4 : 8;
}

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

static int too_big(ex_request *r)
{
    return hln_fail(&r->err, HLN_EUNSUPPORTED,
                    "varint and decimal values beyond 127 bits are not supported in arithmetic "
                    "and casts yet");
}

static bool read_i128(const uint8_t *p, int n, i128 *out)
{
    if (n > 16) return false;
    i128 v = (n > 0 && (p[0] & 0x80)) ? -1 : 0;
    for (int i = 0; i < n; i++)
        v = (i128)((unsigned __int128)v << 8 | p[i]);
    *out = v;
    return true;
}

/* 0, or 1 when too wide; the value must be valid for t (len > 0). */
static int num_read(const hln_type *t, const uint8_t *p, int32_t len, num *n)
{
    memset(n, 0, sizeof *n);
    switch (t->kind) {
    case HLN_T_TINYINT:
    case HLN_T_SMALLINT:
    case HLN_T_INT:
    case HLN_T_BIGINT:
    case HLN_T_COUNTER: {
        int w = len < 8 ? len : 8;
        uint64_t u = be(p, w);
        if (w < 8 && w > 0 && (p[0] & 0x80)) u |= UINT64_MAX << (8 * w);
        n->i = (int64_t)u;
        return 0;
    }
    case HLN_T_FLOAT: {
        uint32_t bits = (uint32_t)be(p, 4);
        float f;
        memcpy(&f, &bits, 4);
        n->k = 1;
        n->d = f;
        return 0;
    }
    case HLN_T_DOUBLE: {
        uint64_t bits = be(p, 8);
        memcpy(&n->d, &bits, 8);
        n->k = 1;
        return 0;
    }
    case HLN_T_VARINT:
        n->k = 2;
        return read_i128(p, len, &n->u) ? 0 : 1;
    case HLN_T_DECIMAL:
        n->k = 2;
        if (len < 4) return 1;
        n->scale = (int32_t)(uint32_t)be(p, 4);
        return read_i128(p + 4, len - 4, &n->u) ? 0 : 1;
    default:
        return 1;
    }
}

static const i128 I128_MAX = (i128)(((unsigned __int128)1 << 127) - 1);

static int digits(i128 v)
{
    unsigned __int128 m =
        v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    int d = 1;
    while (m >= 10) {
        m /= 10;
        d++;
    }
    return d;
}

static bool pow10_i128(int k, i128 *out)
{
    i128 p = 1;
    for (int i = 0; i < k; i++)
        if (__builtin_mul_overflow(p, 10, &p)) return false;
    *out = p;
    return true;
}

/* Java's (long) of a double: truncation, NaN 0, saturation. */
static int64_t d2l(double d)
{
    if (isnan(d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

static int64_t d2i(double d)
{
    if (isnan(d)) return 0;
    if (d >= 2147483647.0) return INT32_MAX;
    if (d <= -2147483648.0) return INT32_MIN;
    return (int64_t)d;
}

/* Truncates a scaled value to an integer (BigDecimal.toBigInteger). */
static bool big_trunc(const num *n, i128 *out)
{
    if (n->scale <= 0) {
        i128 p;
        if (!pow10_i128(-n->scale, &p)) return false;
        return !__builtin_mul_overflow(n->u, p, out);
    }
    i128 p;
    if (!pow10_i128(n->scale, &p)) {
        *out = 0;
        return true;
    }
    *out = n->u / p;
    return true;
}

static double big_double(const num *n)
{
    char buf[80];
    unsigned __int128 m =
        n->u < 0 ? (unsigned __int128)0 - (unsigned __int128)n->u : (unsigned __int128)n->u;
    char d[48];
    int nd = 0;
    do {
        d[nd++] = (char)('0' + (int)(m % 10));
        m /= 10;
    } while (m);
    int o = 0;
    if (n->u < 0) buf[o++] = '-';
    while (nd)
        buf[o++] = d[--nd];
    snprintf(buf + o, sizeof buf - (size_t)o, "e%d", -(int)n->scale);
    return strtod(buf, NULL);
}

static int64_t num_long(const num *n)
{
    if (n->k == 0) return n->i;
    if (n->k == 1) return d2l(n->d);
    i128 v;
    if (!big_trunc(n, &v)) return 0;
    return (int64_t)(uint64_t)(unsigned __int128)v;
}

static double num_double(const num *n)
{
    return n->k == 0 ? (double)n->i : n->k == 1 ? n->d : big_double(n);
}

/* Java's Double.toString of d as a decimal num (BigDecimal.valueOf). */
static int double_big(double d, bool is_float, num *out)
{
    if (isnan(d) || isinf(d)) return 1;
    const hln_type *ft = hln_type_by_kind(is_float ? HLN_T_FLOAT : HLN_T_DOUBLE);
    uint8_t raw[8];
    int w = is_float ? 4 : 8;
    if (is_float) {
        float f = (float)d;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        for (int i = 0; i < 4; i++)
            raw[i] = (uint8_t)(bits >> (24 - 8 * i));
    } else {
        uint64_t bits;
        memcpy(&bits, &d, 8);
        for (int i = 0; i < 8; i++)
            raw[i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    hln_buf txt, dec;
    hln_buf_init(&txt);
    hln_buf_init(&dec);
    hln_type_to_json(ft, raw, w, &txt);
    hln_buf_u8(&txt, 0);
    hln_error e = {0};
    int rc = txt.err ? 1 : 0;
    if (!rc)
        rc = hln_type_from_literal(hln_type_by_kind(HLN_T_DECIMAL), HLN_LIT_FLOAT,
                                   (const char *)txt.data, "x", &dec, &e)
                 ? 1
                 : 0;
    if (!rc) rc = num_read(hln_type_by_kind(HLN_T_DECIMAL), dec.data, (int32_t)dec.len, out);
    hln_buf_free(&txt);
    hln_buf_free(&dec);
    return rc;
}

/* n as a decimal num; ints go through their double as Cassandra's
 * arithmetic does (via_double), or exactly (casts). */
static int num_big(const num *n, const hln_type *t, bool via_double, num *out)
{
    if (n->k == 2) {
        *out = *n;
        return 0;
    }
    if (n->k == 1) return double_big(n->d, t->kind == HLN_T_FLOAT, out);
    if (via_double) return double_big((double)n->i, false, out);
    memset(out, 0, sizeof *out);
    out->k = 2;
    out->u = n->i;
    return 0;
}

static int put_i128(ex_request *r, i128 v, const uint8_t *prefix, int plen, ex_value *out)
{
    uint8_t b[4 + 17];
    if (plen) memcpy(b, prefix, (size_t)plen);
    uint8_t t[16];
    for (int i = 0; i < 16; i++)
        t[i] = (uint8_t)((unsigned __int128)v >> (8 * (15 - i)));
    int s = 0;
    while (s < 15 && ((t[s] == 0 && !(t[s + 1] & 0x80)) || (t[s] == 0xFF && (t[s + 1] & 0x80))))
        s++;
    memcpy(b + plen, t + s, (size_t)(16 - s));
    return put(r, b, (size_t)(plen + 16 - s), out);
}

static int put_big(ex_request *r, const num *n, hln_type_kind k, ex_value *out)
{
    if (k == HLN_T_VARINT) return put_i128(r, n->u, NULL, 0, out);
    uint8_t sc[4];
    for (int i = 0; i < 4; i++)
        sc[i] = (uint8_t)((uint32_t)n->scale >> (24 - 8 * i));
    return put_i128(r, n->u, sc, 4, out);
}

static int put_double(ex_request *r, double d, bool is_float, ex_value *out)
{
    if (is_float) {
        float f = (float)d;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        return put_be(r, bits, 4, out);
    }
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return put_be(r, bits, 8, out);
}

/* Writes n as a value of numeric type k (conversions as Java's
 * Number.intValue(), longValue() and the like). */
static int num_write(ex_request *r, const num *n, const hln_type *from, hln_type_kind k,
                     ex_value *out)
{
    switch (k) {
    case HLN_T_TINYINT:
    case HLN_T_SMALLINT:
    case HLN_T_INT:
    case HLN_T_BIGINT:
    case HLN_T_COUNTER: {
        int64_t v = n->k == 1 && k != HLN_T_BIGINT && k != HLN_T_COUNTER ? d2i(n->d) : num_long(n);
        return put_be(r, (uint64_t)v, width(k), out);
    }
    case HLN_T_FLOAT:
        return put_double(r, n->k == 1 ? n->d : (double)(float)num_double(n), true, out);
    case HLN_T_DOUBLE:
        return put_double(r, num_double(n), false, out);
    case HLN_T_VARINT: {
        num b;
        if (num_big(n, from, false, &b)) return too_big(r);
        i128 v;
        if (!big_trunc(&b, &v)) return too_big(r);
        b.u = v;
        b.scale = 0;
        return put_big(r, &b, k, out);
    }
    case HLN_T_DECIMAL: {
        num b;
        if (num_big(n, from, false, &b)) return too_big(r);
        return put_big(r, &b, k, out);
    }
    default:
        return hln_fail(&r->err, HLN_EINVAL, "not a number type");
    }
}

/* ---- arithmetic ------------------------------------------------------- */

static bool is_text(hln_type_kind k)
{
    return k == HLN_T_VARCHAR || k == HLN_T_ASCII;
}

const hln_type *ex_arith_type(char op, const hln_type *a, const hln_type *b)
{
    if (!a || !b) return NULL;
    int ra = rank(a->kind), rb = rank(b->kind);
    if (ra && rb)
        return ra >= rb ? (a->kind == HLN_T_COUNTER ? hln_type_by_kind(HLN_T_BIGINT) : a)
                        : (b->kind == HLN_T_COUNTER ? hln_type_by_kind(HLN_T_BIGINT) : b);
    if (op == '+' && is_text(a->kind) && is_text(b->kind))
        return a->kind == HLN_T_ASCII && b->kind == HLN_T_ASCII ? a
                                                                : hln_type_by_kind(HLN_T_VARCHAR);
    if ((op == '+' || op == '-') && (a->kind == HLN_T_TIMESTAMP || a->kind == HLN_T_DATE) &&
        b->kind == HLN_T_DURATION)
        return a;
    return NULL;
}

/* Decimal (u, scale) rounded to 34 digits, HALF_EVEN. */
static void round34(num *n)
{
    while (digits(n->u) > 34) {
        i128 q = n->u / 10, rem = n->u % 10;
        if (rem < 0) rem = -rem;
        bool up = rem > 5 || (rem == 5 && (q % 2 != 0));
        /* (a remainder of exactly 5 with more digits dropped earlier is
           treated as a tie: the loop drops one digit at a time) */
        if (up) q += n->u < 0 ? -1 : 1;
        n->u = q;
        n->scale--;
    }
}

static bool align(num *a, num *b)
{
    while (a->scale < b->scale) {
        if (__builtin_mul_overflow(a->u, 10, &a->u)) return false;
        a->scale++;
    }
    while (b->scale < a->scale) {
        if (__builtin_mul_overflow(b->u, 10, &b->u)) return false;
        b->scale++;
    }
    return true;
}

static int div_zero(ex_request *r, char op, const hln_type *at, const hln_type *bt)
{
    return hln_fail(&r->err, HLN_EFUNCFAIL, "the operation '%s %c %s' failed: / by zero",
                    at->cql_name, op, bt->cql_name);
}

static int dec_op(ex_request *r, char op, num a, num b, const hln_type *at, const hln_type *bt,
                  hln_type_kind rk, ex_value *out)
{
    num res = {.k = 2};
    bool ok = true;
    switch (op) {
    case '+':
    case '-':
        ok = align(&a, &b);
        if (ok)
            ok = op == '+' ? !__builtin_add_overflow(a.u, b.u, &res.u)
                           : !__builtin_sub_overflow(a.u, b.u, &res.u);
        res.scale = a.scale;
        break;
    case '*':
        ok = !__builtin_mul_overflow(a.u, b.u, &res.u);
        res.scale = a.scale + b.scale;
        if (rk == HLN_T_DECIMAL) round34(&res);
        break;
    case '/':
    case '%': {
        if (b.u == 0) /* BigDecimal's division fails in BigInteger too */
            return hln_fail(&r->err, HLN_EFUNCFAIL,
                            "the operation '%s %c %s' failed: BigInteger divide by zero",
                            at->cql_name, op, bt->cql_name);
        if (rk == HLN_T_VARINT) {
            res.u = op == '/' ? a.u / b.u : a.u % b.u;
            break;
        }
        if (op == '%') { /* BigDecimal.remainder: a - trunc(a / b) * b, exact */
            ok = align(&a, &b);
            res.u = ok ? a.u % b.u : 0;
            res.scale = a.scale;
            break;
        }
        /* BigDecimal.divide(b, DECIMAL128): the exact quotient at the
           preferred scale a.scale - b.scale when there is one with at most
           34 digits, else 34 digits rounded HALF_EVEN */
        i128 num_u = a.u;
        int k = 0;
        for (;;) {
            i128 q = num_u / b.u, rem = num_u % b.u;
            if (rem == 0 || digits(q) >= 35) {
                res.u = q;
                res.scale = a.scale - b.scale + k;
                if (rem != 0) {
                    /* q has 35 digits: round the last one off */
                    i128 r2 = rem < 0 ? -rem : rem, bb = b.u < 0 ? -b.u : b.u;
                    i128 last = q % 10;
                    if (last < 0) last = -last;
                    res.u = q / 10;
                    res.scale--;
                    bool up = last > 5 || (last == 5 && (r2 != 0 || (res.u % 2 != 0)));
                    (void)bb;
                    if (up) res.u += (q < 0) ? -1 : 1;
                } else {
                    round34(&res);
                }
                break;
            }
            if (__builtin_mul_overflow(num_u, 10, &num_u)) return too_big(r);
            k++;
        }
        break;
    }
    }
    if (!ok) return too_big(r);
    return put_big(r, &res, rk, out);
}

int ex_arith(ex_request *r, char op, const hln_type *at, ex_value a, const hln_type *bt, ex_value b,
             const hln_type *res, ex_value *out)
{
    if (a.len < 0 || b.len < 0 || (a.len == 0 && !is_text(at->kind)) ||
        (b.len == 0 && !is_text(bt->kind))) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    hln_type_kind rk = res->kind;
    if (is_text(rk)) {
        uint8_t *d = hln_arena_alloc(&r->arena, (size_t)a.len + (size_t)b.len + 1);
        if (!d) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        if (a.len) memcpy(d, a.p, (size_t)a.len);
        if (b.len) memcpy(d + a.len, b.p, (size_t)b.len);
        *out = (ex_value){d, a.len + b.len};
        return 0;
    }
    if (rk == HLN_T_TIMESTAMP || rk == HLN_T_DATE) {
        int64_t months, days, nanos;
        if (hln_duration_split(b.p, (size_t)b.len, &months, &days, &nanos))
            return hln_fail(&r->err, HLN_EINVAL, "Invalid duration");
        int sign = op == '-' ? -1 : 1;
        int64_t ms = rk == HLN_T_TIMESTAMP ? (int64_t)be(a.p, 8)
                                           : ((int64_t)be(a.p, 4) - (INT64_C(1) << 31)) * 86400000;
        if (months) {
            /* calendar months: move the civil date, clamp the day */
            int64_t day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
            int64_t rem = ms - day * 86400000;
            int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
            int64_t doe = z - era * 146097;
            int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
            int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
            int64_t m = mp < 10 ? mp + 3 : mp - 9;
            y += m <= 2;
            int64_t tm = y * 12 + (m - 1) + sign * months;
            y = tm >= 0 ? tm / 12 : -((-tm + 11) / 12);
            m = tm - y * 12 + 1;
            static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            int64_t dim =
                mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 1 : 0);
            if (d > dim) d = dim;
            y -= m <= 2;
            era = (y >= 0 ? y : y - 399) / 400;
            yoe = y - era * 400;
            doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
            doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            day = era * 146097 + doe - 719468;
            ms = day * 86400000 + rem;
        }
        ms += sign * (days * 86400000 + nanos / 1000000);
        if (rk == HLN_T_TIMESTAMP) return put_be(r, (uint64_t)ms, 8, out);
        int64_t day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
        return put_be(r, (uint64_t)(day + (INT64_C(1) << 31)), 4, out);
    }
    num x, y;
    if (num_read(at, a.p, a.len, &x) || num_read(bt, b.p, b.len, &y)) return too_big(r);
    switch (rk) {
    case HLN_T_FLOAT:
    case HLN_T_DOUBLE: {
        bool fl = rk == HLN_T_FLOAT;
        double p = num_double(&x), q = num_double(&y), v = 0;
        if (fl) {
            float pf = (float)p, qf = (float)q, vf = 0;
            switch (op) {
            case '+':
                vf = pf + qf;
                break;
            case '-':
                vf = pf - qf;
                break;
            case '*':
                vf = pf * qf;
                break;
            case '/':
                vf = pf / qf;
                break;
            default:
                vf = fmodf(pf, qf);
                break;
            }
            return put_double(r, vf, true, out);
        }
        switch (op) {
        case '+':
            v = p + q;
            break;
        case '-':
            v = p - q;
            break;
        case '*':
            v = p * q;
            break;
        case '/':
            v = p / q;
            break;
        default:
            v = fmod(p, q);
            break;
        }
        return put_double(r, v, false, out);
    }
    case HLN_T_VARINT:
    case HLN_T_DECIMAL: {
        num p, q;
        bool vd = rk == HLN_T_DECIMAL;
        if (num_big(&x, at, vd, &p) || num_big(&y, bt, vd, &q)) return too_big(r);
        if (!vd) {
            i128 t;
            if (!big_trunc(&p, &t)) return too_big(r);
            p.u = t;
            p.scale = 0;
            if (!big_trunc(&q, &t)) return too_big(r);
            q.u = t;
            q.scale = 0;
        }
        return dec_op(r, op, p, q, at, bt, rk, out);
    }
    default: {
        int64_t p = num_long(&x), q = num_long(&y);
        int w = width(rk);
        if (w < 8) { /* Java converts to the result type first */
            int sh = 64 - 8 * w;
            p = (int64_t)((uint64_t)p << sh) >> sh;
            q = (int64_t)((uint64_t)q << sh) >> sh;
        }
        uint64_t v = 0;
        switch (op) {
        case '+':
            v = (uint64_t)p + (uint64_t)q;
            break;
        case '-':
            v = (uint64_t)p - (uint64_t)q;
            break;
        case '*':
            v = (uint64_t)p * (uint64_t)q;
            break;
        case '/':
        case '%':
            if (q == 0) return div_zero(r, op, at, bt);
            if (q == -1)
                v = op == '/' ? 0 - (uint64_t)p : 0;
            else
                v = (uint64_t)(op == '/' ? p / q : p % q);
            break;
        }
        return put_be(r, v, w, out);
    }
    }
}

/* ---- CAST ------------------------------------------------------------- */

bool ex_cast_ok(const hln_type *from, const hln_type *to)
{
    hln_type_kind f = from->kind, t = to->kind;
    if (rank(f) && rank(t) && t != HLN_T_COUNTER) return true;
    if (t == HLN_T_VARCHAR || t == HLN_T_ASCII) {
        if (f == HLN_T_VARCHAR) return false;
        if (f == HLN_T_ASCII) return t == HLN_T_VARCHAR;
        switch (f) {
        case HLN_T_INET:
        case HLN_T_BOOLEAN:
        case HLN_T_TIMEUUID:
        case HLN_T_TIMESTAMP:
        case HLN_T_DATE:
        case HLN_T_TIME:
        case HLN_T_UUID:
            return true;
        default:
            return rank(f) != 0;
        }
    }
    if (f == HLN_T_TIMEUUID) return t == HLN_T_DATE || t == HLN_T_TIMESTAMP;
    if (f == HLN_T_TIMESTAMP) return t == HLN_T_DATE;
    if (f == HLN_T_DATE) return t == HLN_T_TIMESTAMP;
    return false;
}

int ex_cast(ex_request *r, const hln_type *from, ex_value v, const hln_type *to, ex_value *out)
{
    hln_type_kind f = from->kind, t = to->kind;
    if (v.len < 0 || (v.len == 0 && f != HLN_T_VARCHAR && f != HLN_T_ASCII)) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    if (t == HLN_T_VARCHAR || t == HLN_T_ASCII) {
        if (f == HLN_T_ASCII || f == HLN_T_VARCHAR) {
            *out = v;
            return 0;
        }
        hln_buf b;
        hln_buf_init(&b);
        if (f == HLN_T_FLOAT || f == HLN_T_DOUBLE) {
            num n;
            num_read(from, v.p, v.len, &n);
            if (isnan(n.d))
                hln_buf_put(&b, "NaN", 3);
            else if (isinf(n.d))
                hln_buf_printf(&b, "%sInfinity", n.d < 0 ? "-" : "");
            else
                hln_type_to_json(from, v.p, v.len, &b);
        } else {
            hln_type_to_json(from, v.p, v.len, &b);
        }
        size_t s = 0, e = b.len;
        if (e >= 2 && b.data[0] == '"') {
            s = 1;
            e--;
        }
        if (f == HLN_T_TIMESTAMP) /* Instant.toString: 2024-01-02T03:04:05.678Z */
            for (size_t i = s; i < e; i++)
                if (b.data[i] == ' ') b.data[i] = 'T';
        int rc =
            b.err ? hln_fail(&r->err, HLN_ENOMEM, "out of memory") : put(r, b.data + s, e - s, out);
        hln_buf_free(&b);
        return rc;
    }
    if (rank(f)) {
        num n;
        if (num_read(from, v.p, v.len, &n)) return too_big(r);
        return num_write(r, &n, from, t, out);
    }
    /* the time conversions: the same as toDate / toTimestamp */
    int64_t ms;
    if (f == HLN_T_TIMEUUID) {
        uint64_t msb = be(v.p, 8);
        uint64_t ts = (msb & 0xFFF) << 48 | (msb >> 16 & 0xFFFF) << 32 | msb >> 32;
        ms = ((int64_t)ts - INT64_C(0x01B21DD213814000)) / 10000;
    } else if (f == HLN_T_TIMESTAMP) {
        ms = (int64_t)be(v.p, 8);
    } else {
        ms = ((int64_t)be(v.p, 4) - (INT64_C(1) << 31)) * 86400000;
    }
    if (t == HLN_T_TIMESTAMP) return put_be(r, (uint64_t)ms, 8, out);
    int64_t day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    return put_be(r, (uint64_t)(day + (INT64_C(1) << 31)), 4, out);
}

/* ---- math functions on any numeric type (functions.c's table) ---------- */

int ex_math(ex_request *r, int fn, const hln_type *t, ex_value v, ex_value *out)
{
    if (v.len <= 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    num n;
    if (num_read(t, v.p, v.len, &n)) return too_big(r);
    hln_type_kind k = t->kind;
    if (fn == 3) { /* round */
        if (k == HLN_T_DOUBLE) return put_double(r, (double)d2l(floor(n.d + 0.5)), false, out);
        if (k == HLN_T_FLOAT) {
            float f = (float)n.d;
            return put_double(r, (double)(float)d2i(floorf(f + 0.5f)), true, out);
        }
        if (k == HLN_T_DECIMAL) { /* setScale(0, HALF_UP) */
            if (n.scale <= 0) {
                *out = v;
                return 0;
            }
            i128 p;
            if (!pow10_i128(n.scale, &p)) {
                n.u = 0;
            } else {
                i128 q = n.u / p, rem = n.u % p;
                if (rem < 0) rem = -rem;
                if (rem * 2 >= p) q += n.u < 0 ? -1 : 1;
                n.u = q;
            }
            n.scale = 0;
            return put_big(r, &n, HLN_T_DECIMAL, out);
        }
        *out = v; /* integers round to themselves */
        return 0;
    }
    if (k == HLN_T_DECIMAL || k == HLN_T_VARINT)
        return hln_fail(&r->err, HLN_EUNSUPPORTED,
                        "exp, log and log10 of varint and decimal are not supported yet");
    double x = num_double(&n);
    double y = fn == 0 ? exp(x) : fn == 1 ? log(x) : log10(x);
    if (k == HLN_T_FLOAT) {
        float xf = (float)n.d;
        float yf = (float)(fn == 0   ? exp((double)xf)
                           : fn == 1 ? log((double)xf)
                                     : log10((double)xf));
        return put_double(r, yf, true, out);
    }
    if (k == HLN_T_DOUBLE) return put_double(r, y, false, out);
    int64_t iv = (k == HLN_T_BIGINT || k == HLN_T_COUNTER) ? d2l(y) : d2i(y);
    return put_be(r, (uint64_t)iv, width(k), out);
}

/* abs of varint and decimal */
int ex_abs_big(ex_request *r, const hln_type *t, ex_value v, ex_value *out)
{
    if (v.len <= 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    num n;
    if (num_read(t, v.p, v.len, &n)) return too_big(r);
    if (n.u < 0) {
        if (n.u == -I128_MAX - 1) return too_big(r);
        n.u = -n.u;
    }
    return put_big(r, &n, t->kind, out);
}

/* collection_avg: the mean of the non-null elements, in the element type
 * (integers: the exact sum divided, truncated; decimal: at the sum's
 * scale, HALF_EVEN; floating point: the double mean). */
int ex_coll_avg(ex_request *r, const hln_type *et, const ex_value *els, int n, ex_value *out)
{
    *out = (ex_value){NULL, -1};
    int m = 0;
    hln_type_kind k = et->kind;
    double dsum = 0;
    num acc = {.k = 2};
    for (int i = 0; i < n; i++) {
        if (els[i].len <= 0) continue;
        num x;
        if (num_read(et, els[i].p, els[i].len, &x)) return too_big(r);
        m++;
        if (k == HLN_T_FLOAT || k == HLN_T_DOUBLE) {
            dsum += x.d;
            continue;
        }
        if (x.k == 0) {
            x.k = 2;
            x.u = x.i;
            x.scale = 0;
        }
        if (!align(&acc, &x) || __builtin_add_overflow(acc.u, x.u, &acc.u)) return too_big(r);
    }
    if (!m) return 0;
    if (k == HLN_T_FLOAT || k == HLN_T_DOUBLE)
        return put_double(r, dsum / m, k == HLN_T_FLOAT, out);
    i128 q = acc.u / m, rem = acc.u % m;
    if (k == HLN_T_DECIMAL) {
        if (rem < 0) rem = -rem;
        if (rem * 2 > m || (rem * 2 == m && q % 2 != 0)) q += acc.u < 0 ? -1 : 1;
        acc.u = q;
        return put_big(r, &acc, HLN_T_DECIMAL, out);
    }
    acc.u = q;
    acc.scale = 0;
    if (k == HLN_T_VARINT) return put_big(r, &acc, HLN_T_VARINT, out);
    return put_be(r, (uint64_t)(unsigned __int128)q, width(k), out);
}

/* -x (the _negate function of Cassandra 5.0): the type's own negation
 * (integers wrap: -INT_MIN is INT_MIN). */
int ex_negate(ex_request *r, const hln_type *t, ex_value v, ex_value *out)
{
    if (v.len <= 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    num n;
    if (num_read(t, v.p, v.len, &n)) return too_big(r);
    switch (t->kind) {
    case HLN_T_FLOAT:
    case HLN_T_DOUBLE:
        return put_double(r, -n.d, t->kind == HLN_T_FLOAT, out);
    case HLN_T_VARINT:
    case HLN_T_DECIMAL:
        if (n.u == -I128_MAX - 1) return too_big(r);
        n.u = -n.u;
        return put_big(r, &n, t->kind, out);
    default:
        return put_be(r, 0 - (uint64_t)n.i, width(t->kind), out);
    }
}
