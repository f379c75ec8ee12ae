/*
 * arith.c — arithmetic operators and CAST, as Cassandra 5.0 evaluates them.
 *
 * What:
 *   - ex_arith_type / ex_arith: a + b, a - b, a * b, a / b, a % b between
 *     numbers (OperationFcts): the result is the wider operand type, in the
 *     order decimal > double > float > varint > bigint (counter) > int >
 *     smallint > tinyint, except that varint with float or double is
 *     decimal; both operands are converted to it first and the operation is
 *     the Java one of that type (integer overflow wraps, INT_MIN / -1 is
 *     INT_MIN, x / 0 fails with "the operation 'int / int' failed: / by
 *     zero", floats follow IEEE); text + text concatenates; timestamp/date
 *     +- duration moves the instant.
 *   - varint is BigInteger (exact + - *, / truncating, % with the dividend's
 *     sign, "BigInteger divide by zero"); decimal is DecimalType's BigDecimal
 *     arithmetic: + - * exact, a / b at the scale
 *     max(32 - (a.precision - a.scale - b.precision + b.scale), a.scale,
 *     b.scale, 32) capped at 1000, HALF_UP, trailing zeros stripped;
 *     a % b is BigDecimal.remainder ("Division by zero", 0 % 0 "Division
 *     undefined"). Non-big operands of a decimal operation go through their
 *     double (BigDecimal.valueOf: the int 2 is 2.0).
 *   - ex_cast_ok / ex_cast: CAST(x AS type) (CastFcts): numbers to every
 *     number (Java's Number.intValue() and friends: low bits of the
 *     integer part, saturation from floating point, correctly rounded
 *     doubleValue/floatValue; decimal to varint is its longValue) and to
 *     text/ascii; every other native type but blob and duration to
 *     text/ascii (the value's toString: Java's Double.toString, ISO instants
 *     for timestamps); ascii to text; timeuuid to date and timestamp;
 *     timestamp to date and back.
 *   - ex_math: exp, log, log10, round of every number type; for decimal
 *     (and varint, whose result is the decimal one truncated) as
 *     ch.obermuhlner BigDecimalMath at max(32, precision of x) digits
 *     HALF_EVEN (exp(0) is 1, log(1) is 0, log10 of a power of ten is an
 *     exact quotient when the two logarithms big-math divides agree; x <= 0
 *     fails with "Natural log of number zero or less", an integral part
 *     beyond an int with "Overflow").
 *
 * How: an operand is read into a `num`: an int64 (integer types), a double
 * (float, double) or a GMP integer u with a scale (varint: scale 0,
 * decimal: u * 10^-scale). exp/log/log10 are computed with MPFR at enough
 * bits for the digits asked and rounded to them (ties to even).
 *
 * Invariants: null (or empty) operands give null; results are r->arena
 * memory; nothing reads past a value; every num is cleared (num_clear).
 */
#include <gmp.h>
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

typedef struct num {
    int k; /* 0: i (int64), 1: d (double), 2: u * 10^-scale */
    int64_t i;
    double d;
    mpz_t u;
    int32_t scale;
} num;

static void num_init(num *n)
{
    n->k = 0;
    n->i = 0;
    n->d = 0;
    n->scale = 0;
    mpz_init(n->u);
}

static void num_clear(num *n)
{
    mpz_clear(n->u);
}

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

static int too_big_fail(ex_request *r);
static _Thread_local bool too_big;

static int put(ex_request *r, const void *p, size_t n, ex_value *out)
{
    if (too_big) return too_big_fail(r);
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

static int bad_value(ex_request *r)
{
    return hln_fail(&r->err, HLN_EINVAL, "Invalid number value");
}

/* z = the two's complement big-endian integer p[0..n). */
static void z_read(mpz_t z, const uint8_t *p, int n)
{
    if (n <= 0) {
        mpz_set_ui(z, 0);
        return;
    }
    mpz_import(z, (size_t)n, 1, 1, 1, 0, p);
    if (p[0] & 0x80) {
        mpz_t t;
        mpz_init(t);
        mpz_setbit(t, (mp_bitcnt_t)8 * (mp_bitcnt_t)n);
        mpz_sub(z, z, t);
        mpz_clear(t);
    }
}

/* 0, or 1 when the value is not valid for t (len > 0). */
static int num_read(const hln_type *t, const uint8_t *p, int32_t len, num *n)
{
    n->k = 0;
    n->scale = 0;
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
        z_read(n->u, p, len);
        return 0;
    case HLN_T_DECIMAL:
        n->k = 2;
        if (len < 4) return 1;
        n->scale = (int32_t)(uint32_t)be(p, 4);
        z_read(n->u, p + 4, len - 4);
        return 0;
    default:
        return 1;
    }
}

/* Number of decimal digits of |v| (BigDecimal.precision: 0 has 1). */
static long z_digits(const mpz_t v)
{
    if (mpz_sgn(v) == 0) return 1;
    size_t d = mpz_sizeinbase(v, 10); /* exact or one too many */
    mpz_t p;
    mpz_init(p);
    mpz_ui_pow_ui(p, 10, (unsigned long)(d - 1));
    if (mpz_cmpabs(v, p) < 0) d--;
    mpz_clear(p);
    return (long)d;
}

/* A result that would need more than this many digits (1E-2000000000 % 1,
 * a cast of 1E+2000000000) is refused: GMP would exhaust memory and abort
 * the process, where Cassandra only fails the query. z_mul_pow10 notes it
 * (computing 1 instead); every result is checked before it is written,
 * and every operation starts clear. */
#define MAX_WORK_DIGITS 1000000

static int too_big_fail(ex_request *r)
{
    too_big = false;
    return hln_fail(&r->err, HLN_EINVAL, "varint or decimal result too large (more than %d digits)",
                    MAX_WORK_DIGITS);
}

static void z_mul_pow10(mpz_t z, const mpz_t a, unsigned long k)
{
    if (k > MAX_WORK_DIGITS) { /* 1, not 0: nothing divides by it before the check */
        too_big = true;
        mpz_set_ui(z, 1);
        return;
    }
    mpz_t p;
    mpz_init(p);
    mpz_ui_pow_ui(p, 10, k);
    mpz_mul(z, a, p);
    mpz_clear(p);
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

/* out = the integer part of a scaled value (BigDecimal.toBigInteger). */
static void big_trunc(const num *n, mpz_t out)
{
    if (n->scale <= 0) {
        z_mul_pow10(out, n->u, (unsigned long)(-(int64_t)n->scale));
        return;
    }
    if ((long)n->scale > z_digits(n->u)) {
        mpz_set_ui(out, 0);
        return;
    }
    mpz_t p;
    mpz_init(p);
    mpz_ui_pow_ui(p, 10, (unsigned long)n->scale);
    mpz_tdiv_q(out, n->u, p);
    mpz_clear(p);
}

/* "<unscaled>e<-scale>", malloc'd (strtod and MPFR read it). */
static char *big_text(const num *n)
{
    char *s = mpz_get_str(NULL, 10, n->u);
    size_t l = strlen(s);
    char *t = malloc(l + 16);
    if (t) snprintf(t, l + 16, "%se%ld", s, -(long)n->scale);
    void (*ff)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &ff);
    ff(s, l + 1);
    return t;
}

/* BigDecimal/BigInteger doubleValue and floatValue: correctly rounded. */
static double big_double(const num *n, bool is_float)
{
    char *t = big_text(n);
    if (!t) return 0;
    double d = is_float ? (double)strtof(t, NULL) : strtod(t, NULL);
    free(t);
    return d;
}

/* Java's longValue: the low 64 bits of the integer part. */
static int64_t num_long(const num *n)
{
    if (n->k == 0) return n->i;
    if (n->k == 1) return d2l(n->d);
    if (n->scale <= -64) return 0; /* a multiple of 2^64 */
    mpz_t t;
    mpz_init(t);
    big_trunc(n, t);
    mpz_fdiv_r_2exp(t, t, 64);
    uint64_t v = (uint64_t)mpz_get_ui(t);
    mpz_clear(t);
    return (int64_t)v;
}

static double num_double(const num *n)
{
    return n->k == 0 ? (double)n->i : n->k == 1 ? n->d : big_double(n, false);
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

/* out = n as a decimal num; ints go through their double as Cassandra's
 * arithmetic does (via_double), or exactly (casts). 1 for NaN/infinity. */
static int num_big(const num *n, const hln_type *t, bool via_double, num *out)
{
    if (n->k == 2) {
        mpz_set(out->u, n->u);
        out->scale = n->scale;
        out->k = 2;
        return 0;
    }
    if (n->k == 1) return double_big(n->d, t->kind == HLN_T_FLOAT, out);
    if (via_double) return double_big((double)n->i, false, out);
    out->k = 2;
    out->scale = 0;
    mpz_set_si(out->u, (long)n->i);
    return 0;
}

/* Writes v as minimal two's complement bytes after prefix. */
static int put_z(ex_request *r, const mpz_t v, const uint8_t *prefix, int plen, ex_value *out)
{
    if (too_big) return too_big_fail(r);
    mpz_t m;
    mpz_init(m);
    size_t nb;
    if (mpz_sgn(v) >= 0) {
        nb = mpz_sizeinbase(v, 2) / 8 + 1;
    } else {
        mpz_com(m, v); /* -v - 1 */
        nb = mpz_sizeinbase(m, 2) / 8 + 1;
    }
    mpz_fdiv_r_2exp(m, v, (mp_bitcnt_t)(8 * nb));
    uint8_t *d = hln_arena_alloc(&r->arena, nb + (size_t)plen);
    if (!d) {
        mpz_clear(m);
        return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    if (plen) memcpy(d, prefix, (size_t)plen);
    memset(d + plen, 0, nb);
    if (mpz_sgn(m)) {
        size_t cnt = (mpz_sizeinbase(m, 2) + 7) / 8;
        mpz_export(d + plen + (nb - cnt), NULL, 1, 1, 1, 0, m);
    }
    mpz_clear(m);
    *out = (ex_value){d, (int32_t)(nb + (size_t)plen)};
    return 0;
}

static int put_big(ex_request *r, const num *n, hln_type_kind k, ex_value *out)
{
    if (k == HLN_T_VARINT) return put_z(r, n->u, NULL, 0, out);
    uint8_t sc[4];
    for (int i = 0; i < 4; i++)
        sc[i] = (uint8_t)((uint32_t)n->scale >> (24 - 8 * i));
    return put_z(r, n->u, sc, 4, out);
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

static int nan_fail(ex_request *r, double d)
{
    return hln_fail(&r->err, HLN_EFUNCFAIL, "%s cannot be converted into a decimal",
                    isnan(d) ? "A NaN" : "An infinite number");
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
        return put_double(r,
                          n->k == 1   ? n->d
                          : n->k == 0 ? (double)(float)n->i
                                      : big_double(n, true),
                          true, out);
    case HLN_T_DOUBLE:
        return put_double(r, num_double(n), false, out);
    case HLN_T_VARINT: {
        num b;
        num_init(&b);
        int rc = 0;
        if (from->kind == HLN_T_DECIMAL) { /* BigInteger.valueOf(longValue()) */
            mpz_set_si(b.u, (long)num_long(n));
        } else if (num_big(n, from, false, &b)) {
            rc = nan_fail(r, n->d);
        } else {
            big_trunc(&b, b.u);
            b.scale = 0;
        }
        if (!rc) rc = put_big(r, &b, k, out);
        num_clear(&b);
        return rc;
    }
    case HLN_T_DECIMAL: {
        num b;
        num_init(&b);
        int rc = num_big(n, from, false, &b) ? nan_fail(r, n->d) : put_big(r, &b, k, out);
        num_clear(&b);
        return rc;
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
    if (ra && rb) {
        /* BigInteger with a floating point number is a BigDecimal */
        if ((a->kind == HLN_T_VARINT && (rb == 6 || rb == 7)) ||
            (b->kind == HLN_T_VARINT && (ra == 6 || ra == 7)))
            return hln_type_by_kind(HLN_T_DECIMAL);
        return ra >= rb ? (a->kind == HLN_T_COUNTER ? hln_type_by_kind(HLN_T_BIGINT) : a)
                        : (b->kind == HLN_T_COUNTER ? hln_type_by_kind(HLN_T_BIGINT) : b);
    }
    if (op == '+' && is_text(a->kind) && is_text(b->kind))
        return a->kind == HLN_T_ASCII && b->kind == HLN_T_ASCII ? a
                                                                : hln_type_by_kind(HLN_T_VARCHAR);
    if ((op == '+' || op == '-') && (a->kind == HLN_T_TIMESTAMP || a->kind == HLN_T_DATE) &&
        b->kind == HLN_T_DURATION)
        return a;
    return NULL;
}

/* Brings a and b to the larger scale (exactly). */
static void align(num *a, num *b)
{
    if (a->scale < b->scale) {
        z_mul_pow10(a->u, a->u, (unsigned long)((int64_t)b->scale - a->scale));
        a->scale = b->scale;
    } else if (b->scale < a->scale) {
        z_mul_pow10(b->u, b->u, (unsigned long)((int64_t)a->scale - b->scale));
        b->scale = a->scale;
    }
}

static int div_zero(ex_request *r, char op, const hln_type *at, const hln_type *bt)
{
    return hln_fail(&r->err, HLN_EFUNCFAIL, "the operation '%s %c %s' failed: / by zero",
                    at->cql_name, op, bt->cql_name);
}

static int op_fail(ex_request *r, char op, const hln_type *at, const hln_type *bt, const char *why)
{
    return hln_fail(&r->err, HLN_EFUNCFAIL, "the operation '%s %c %s' failed: %s", at->cql_name, op,
                    bt->cql_name, why);
}

/* Strips trailing zeros of the unscaled value while the scale stays above
 * floor (stripZerosToMatchScale); a zero keeps its scale. */
static void strip_to(num *n, int64_t floor)
{
    if (mpz_sgn(n->u) == 0) return;
    while ((int64_t)n->scale > floor && mpz_divisible_ui_p(n->u, 10)) {
        mpz_divexact_ui(n->u, n->u, 10);
        n->scale--;
    }
}

/* q = round(nu / den) HALF_UP (ties away from zero); den != 0; q may be
 * nu (not den). */
static void div_half_up(mpz_t q, const mpz_t nu, const mpz_t den)
{
    mpz_t rem, twice;
    mpz_inits(rem, twice, NULL);
    bool neg = (mpz_sgn(nu) < 0) != (mpz_sgn(den) < 0); /* before q overwrites nu */
    mpz_tdiv_qr(q, rem, nu, den);
    mpz_mul_2exp(twice, rem, 1);
    if (mpz_cmpabs(twice, den) >= 0) {
        if (neg)
            mpz_sub_ui(q, q, 1);
        else
            mpz_add_ui(q, q, 1);
    }
    mpz_clears(rem, twice, NULL);
}

/* DecimalType's MathContext(10000) (HALF_UP) for + - *: a result of
 * more digits is rounded to 10000. */
#define MAX_DIGITS 10000

static void round_max(num *n)
{
    long d = z_digits(n->u);
    if (d <= MAX_DIGITS) return;
    mpz_t p;
    mpz_init(p);
    mpz_ui_pow_ui(p, 10, (unsigned long)(d - MAX_DIGITS));
    div_half_up(n->u, n->u, p);
    mpz_clear(p);
    n->scale -= (int32_t)(d - MAX_DIGITS);
    if (z_digits(n->u) > MAX_DIGITS) { /* 999.. rounded up to 1000.. */
        mpz_divexact_ui(n->u, n->u, 10);
        n->scale--;
    }
}

/* BigDecimal.add's preAlign under MathContext(10000): an operand wholly
 * below the result's last digit counts only as a sticky 1 there (so
 * 1 + 1E-2000000000 does not spell out two billion digits). */
static void pre_align(num *a, num *b)
{
    if (a->scale == b->scale) return;
    if (mpz_sgn(a->u) == 0 || mpz_sgn(b->u) == 0) {
        /* the other operand at the larger scale, within 10000 digits */
        num *z = mpz_sgn(a->u) == 0 ? a : b, *x = z == a ? b : a;
        if (mpz_sgn(x->u) == 0 || x->scale >= z->scale) return;
        int64_t room = MAX_DIGITS - z_digits(x->u), pad = (int64_t)z->scale - x->scale;
        if (pad > room) {
            pad = room > 0 ? room : 0;
            z->scale = (int32_t)(x->scale + pad);
        }
        return;
    }
    num *big = a->scale < b->scale ? a : b, *small = big == a ? b : a;
    int64_t est = (int64_t)big->scale - z_digits(big->u) + MAX_DIGITS;
    int64_t high = (int64_t)small->scale - z_digits(small->u) + 1;
    if (high > (int64_t)big->scale + 2 && high > est + 2) {
        int64_t sc = (big->scale > est ? big->scale : est) + 3;
        if (sc > INT32_MAX) return;
        mpz_set_si(small->u, mpz_sgn(small->u));
        small->scale = (int32_t)sc;
    }
}

/* The BigDecimal/BigInteger operation; a and b are modified. */
static int big_op(ex_request *r, char op, num *a, num *b, const hln_type *at, const hln_type *bt,
                  hln_type_kind rk, ex_value *out)
{
    num res;
    num_init(&res);
    res.k = 2;
    int rc = 0;
    switch (op) {
    case '+':
    case '-':
        if (rk == HLN_T_DECIMAL) pre_align(a, b);
        align(a, b);
        if (op == '+')
            mpz_add(res.u, a->u, b->u);
        else
            mpz_sub(res.u, a->u, b->u);
        res.scale = a->scale;
        if (rk == HLN_T_DECIMAL) round_max(&res);
        break;
    case '*': {
        int64_t s = (int64_t)a->scale + b->scale;
        if ((s > INT32_MAX || s < INT32_MIN) && (mpz_sgn(a->u) == 0 || mpz_sgn(b->u) == 0))
            s = s > 0 ? INT32_MAX : INT32_MIN; /* checkScale saturates a zero's */
        if (s > INT32_MAX || s < INT32_MIN) {
            rc = op_fail(r, op, at, bt, s > 0 ? "Underflow" : "Overflow");
            break;
        }
        mpz_mul(res.u, a->u, b->u);
        res.scale = (int32_t)s;
        if (rk == HLN_T_DECIMAL) round_max(&res);
        break;
    }
    case '/':
    case '%':
        if (rk == HLN_T_VARINT) {
            if (mpz_sgn(b->u) == 0) {
                rc = op_fail(r, op, at, bt, "BigInteger divide by zero");
                break;
            }
            if (op == '/')
                mpz_tdiv_q(res.u, a->u, b->u);
            else
                mpz_tdiv_r(res.u, a->u, b->u);
            break;
        }
        if (op == '/') {
            if (mpz_sgn(b->u) == 0) {
                rc = op_fail(r, op, at, bt, "BigInteger divide by zero");
                break;
            }
            /* DecimalType.divide: the scale from the first digit's
               predicted position, HALF_UP, then stripTrailingZeros */
            int64_t pa = z_digits(a->u), pb = z_digits(b->u);
            int64_t first = (pa - a->scale) - (pb - b->scale);
            int64_t sc = 32 - first;
            if (sc < a->scale) sc = a->scale;
            if (sc < b->scale) sc = b->scale;
            if (sc < 32) sc = 32;
            if (sc > 1000) sc = 1000;
            int64_t sh = sc - a->scale + b->scale;
            mpz_t nu, den;
            mpz_inits(nu, den, NULL);
            if (sh >= 0) {
                z_mul_pow10(nu, a->u, (unsigned long)sh);
                mpz_set(den, b->u);
            } else {
                mpz_set(nu, a->u);
                z_mul_pow10(den, b->u, (unsigned long)-sh);
            }
            div_half_up(res.u, nu, den);
            mpz_clears(nu, den, NULL);
            res.scale = (int32_t)sc;
            if (mpz_sgn(res.u) == 0)
                res.scale = 0;
            else
                strip_to(&res, INT64_MIN);
            break;
        }
        /* BigDecimal.remainder: a - q * b with q the integral quotient at
           the scale divideToIntegralValue gives it */
        if (mpz_sgn(b->u) == 0) {
            rc = op_fail(r, op, at, bt,
                         mpz_sgn(a->u) == 0 ? "Division undefined" : "Division by zero");
            break;
        }
        {
            int64_t pref = (int64_t)a->scale - b->scale;
            num q;
            num_init(&q);
            q.k = 2;
            /* trunc(a / b) exactly: a.u * 10^b.scale / (b.u * 10^a.scale) */
            mpz_t nu, den;
            mpz_inits(nu, den, NULL);
            int32_t ms = a->scale < b->scale ? a->scale : b->scale;
            z_mul_pow10(nu, a->u, (unsigned long)((int64_t)b->scale - ms));
            z_mul_pow10(den, b->u, (unsigned long)((int64_t)a->scale - ms));
            if (mpz_cmpabs(nu, den) < 0) {
                mpz_set_ui(q.u, 0);
                q.scale = (int32_t)pref;
            } else {
                mpz_tdiv_q(q.u, nu, den);
                q.scale = 0;
                strip_to(&q, pref);
                if (q.scale < pref) {
                    z_mul_pow10(q.u, q.u, (unsigned long)(pref - q.scale));
                    q.scale = (int32_t)pref;
                }
            }
            mpz_clears(nu, den, NULL);
            /* q * b, then a - that */
            num qb;
            num_init(&qb);
            qb.k = 2;
            mpz_mul(qb.u, q.u, b->u);
            qb.scale = q.scale + b->scale;
            align(a, &qb);
            mpz_sub(res.u, a->u, qb.u);
            res.scale = a->scale;
            num_clear(&q);
            num_clear(&qb);
        }
        break;
    }
    if (!rc) rc = put_big(r, &res, rk, out);
    num_clear(&res);
    return rc;
}
int ex_arith(ex_request *r, char op, const hln_type *at, ex_value a, const hln_type *bt, ex_value b,
             const hln_type *res, ex_value *out)
{
    too_big = false;
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
    num_init(&x);
    num_init(&y);
    int rc = 0;
    if (num_read(at, a.p, a.len, &x) || num_read(bt, b.p, b.len, &y)) {
        rc = bad_value(r);
        goto done;
    }
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
            rc = put_double(r, vf, true, out);
            break;
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
        rc = put_double(r, v, false, out);
        break;
    }
    case HLN_T_VARINT:
    case HLN_T_DECIMAL: {
        num p, q;
        num_init(&p);
        num_init(&q);
        bool vd = rk == HLN_T_DECIMAL;
        if (num_big(&x, at, vd, &p))
            rc = op_fail(r, op, at, bt,
                         isnan(x.d) ? "A NaN cannot be converted into a decimal"
                                    : "An infinite number cannot be converted into a decimal");
        else if (num_big(&y, bt, vd, &q))
            rc = op_fail(r, op, at, bt,
                         isnan(y.d) ? "A NaN cannot be converted into a decimal"
                                    : "An infinite number cannot be converted into a decimal");
        if (!rc && !vd) { /* BigInteger.valueOf(longValue()) of the others */
            if (x.k != 2) mpz_set_si(p.u, (long)num_long(&x));
            if (y.k != 2) mpz_set_si(q.u, (long)num_long(&y));
            p.scale = q.scale = 0;
        }
        if (!rc) rc = big_op(r, op, &p, &q, at, bt, rk, out);
        num_clear(&p);
        num_clear(&q);
        break;
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
            if (q == 0) {
                rc = div_zero(r, op, at, bt);
                goto done;
            }
            if (q == -1)
                v = op == '/' ? 0 - (uint64_t)p : 0;
            else
                v = (uint64_t)(op == '/' ? p / q : p % q);
            break;
        }
        rc = put_be(r, v, w, out);
        break;
    }
    }
done:
    num_clear(&x);
    num_clear(&y);
    return rc;
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
    too_big = false;
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
            num_init(&n);
            num_read(from, v.p, v.len, &n);
            num_clear(&n);
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
        num_init(&n);
        int rc = num_read(from, v.p, v.len, &n) ? bad_value(r) : num_write(r, &n, from, t, out);
        num_clear(&n);
        return rc;
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
    /* SimpleDateSerializer.timeInMillisToDay: TimeUnit.toDays truncates
       toward zero, so 1969-12-31 12:00 is 1970-01-01 (as Cassandra says) */
    int64_t day = ms / 86400000;
    return put_be(r, (uint64_t)(day + (INT64_C(1) << 31)), 4, out);
}

/* ---- math functions on any numeric type (functions.c's table) ---------- */

static int arith_fail(ex_request *r, const char *why)
{
    return hln_fail(&r->err, HLN_ESERVER, "java.lang.ArithmeticException: %s", why);
}

/* res = y rounded to p significant digits, ties to even (p digits kept,
 * trailing zeros too, as BigDecimal.round leaves them). */
static int mpfr_to_num(ex_request *r, mpfr_t y, long p, num *res)
{
    mpfr_exp_t e;
    char *s = mpfr_get_str(NULL, &e, 10, (size_t)p, y, MPFR_RNDN);
    if (!s) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    int64_t sc = (int64_t)p - (int64_t)e;
    int rc = 0;
    if (sc > INT32_MAX)
        rc = arith_fail(r, "Underflow");
    else if (sc < INT32_MIN)
        rc = arith_fail(r, "Overflow");
    else {
        mpz_set_str(res->u, s, 10);
        res->scale = (int32_t)sc;
        res->k = 2;
    }
    mpfr_free_str(s);
    return rc;
}

/* The p digits of v (> 0) rounded to nearest: *d and the exponent e with
 * v ~ 0.d * 10^e. */
static void mpfr_digits(mpfr_t v, long p, mpz_t d, mpfr_exp_t *e)
{
    char *s = mpfr_get_str(NULL, e, 10, (size_t)p, v, MPFR_RNDN);
    mpz_set_str(d, s, 10);
    mpfr_free_str(s);
}

/* log10(10^k) as big-math gives it: the quotient of its two logarithms at
 * p + 2 digits, exact (k at the preferred scale) when k * ln 10 and ln 10
 * round alike, else k to p digits. */
static int log10_pow10(ex_request *r, long k, long p, mpfr_prec_t bits, num *res)
{
    long q = p + 2;
    mpfr_t l1, lk;
    mpfr_inits2(bits, l1, lk, (mpfr_ptr)0);
    mpfr_set_ui(l1, 10, MPFR_RNDN);
    mpfr_log(l1, l1, MPFR_RNDN);
    mpfr_mul_ui(lk, l1, (unsigned long)labs(k), MPFR_RNDN);
    mpz_t d1, dk;
    mpz_inits(d1, dk, NULL);
    mpfr_exp_t e1, ek;
    mpfr_digits(l1, q, d1, &e1);
    mpfr_digits(lk, q, dk, &ek);
    z_mul_pow10(dk, dk, (unsigned long)(ek - e1));
    mpz_mul_ui(d1, d1, (unsigned long)labs(k));
    int rc = 0;
    if (mpz_cmp(dk, d1) == 0) {
        mpz_set_si(res->u, k);
        res->scale = 0;
        res->k = 2;
        strip_to(res, (int64_t)e1 - (int64_t)ek);
    } else {
        mpfr_set_si(lk, k, MPFR_RNDN);
        rc = mpfr_to_num(r, lk, p, res);
    }
    mpz_clears(d1, dk, NULL);
    mpfr_clears(l1, lk, (mpfr_ptr)0);
    return rc;
}

/* exp/log/log10 (fn 0/1/2) of a decimal x, as DecimalType does. */
static int big_fn(ex_request *r, int fn, const num *x, num *res)
{
    int sg = mpz_sgn(x->u);
    if (fn && sg <= 0)
        return arith_fail(r, fn == 1 ? "Natural log of number zero or less"
                                     : "Log10 of number zero or less");
    long p = z_digits(x->u);
    if (p < 32) p = 32;
    if (p > 10000) p = 10000;
    res->k = 2;
    res->scale = 0;
    if (fn == 0 && sg == 0) { /* BigDecimal.ONE */
        mpz_set_ui(res->u, 1);
        return 0;
    }
    /* x = 10^k? (the unscaled value stripped of its zeros is 1) */
    num s;
    num_init(&s);
    mpz_set(s.u, x->u);
    s.scale = x->scale;
    strip_to(&s, INT64_MIN);
    bool pow10 = mpz_cmp_ui(s.u, 1) == 0;
    int64_t k = -(int64_t)s.scale;
    num_clear(&s);
    if (fn == 0) {
        mpz_t t;
        mpz_init(t);
        big_trunc(x, t);
        bool fits = mpz_fits_sint_p(t);
        mpz_clear(t);
        if (!fits) return arith_fail(r, "Overflow");
    }
    if (fn && pow10 && k == 0) { /* log(1) is ZERO; log10(1) 0 / ln 10 */
        mpz_set_ui(res->u, 0);
        res->scale = fn == 1 ? 0 : (int32_t) - (p + 1);
        return 0;
    }
    mpfr_exp_t emax = mpfr_get_emax(), emin = mpfr_get_emin();
    mpfr_set_emax(mpfr_get_emax_max());
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_prec_t bits = (mpfr_prec_t)((double)(2 * p + 40) * 3.3219280948873623) + 64;
    int rc;
    if (fn == 2 && pow10) {
        rc = log10_pow10(r, (long)k, p, bits, res);
    } else {
        char *txt = big_text(x);
        mpfr_t v;
        mpfr_init2(v, bits);
        if (!txt) {
            rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        } else {
            mpfr_set_str(v, txt, 10, MPFR_RNDN);
            free(txt);
            if (fn == 0)
                mpfr_exp(v, v, MPFR_RNDN);
            else if (fn == 1)
                mpfr_log(v, v, MPFR_RNDN);
            else
                mpfr_log10(v, v, MPFR_RNDN);
            rc = mpfr_zero_p(v)  ? arith_fail(r, "Underflow")
                 : mpfr_inf_p(v) ? arith_fail(r, "Overflow")
                                 : mpfr_to_num(r, v, p, res);
        }
        mpfr_clear(v);
    }
    mpfr_set_emax(emax);
    mpfr_set_emin(emin);
    /* MPFR keeps the constants it computed (log 2, ...) in a cache per
       thread, never freed when a shard thread ends: drop them (these
       functions are rare; recomputing is cheap next to the 34 digits) */
    mpfr_free_cache();
    return rc;
}

int ex_math(ex_request *r, int fn, const hln_type *t, ex_value v, ex_value *out)
{
    too_big = false;
    if (v.len <= 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    num n;
    num_init(&n);
    int rc = 0;
    if (num_read(t, v.p, v.len, &n)) {
        rc = bad_value(r);
        goto done;
    }
    hln_type_kind k = t->kind;
    if (fn == 3) { /* round */
        if (k == HLN_T_DOUBLE) {
            rc = put_double(r, (double)d2l(floor(n.d + 0.5)), false, out);
        } else if (k == HLN_T_FLOAT) {
            float f = (float)n.d;
            rc = put_double(r, (double)(float)d2i(floorf(f + 0.5f)), true, out);
        } else if (k == HLN_T_DECIMAL && n.scale > 0) { /* setScale(0, HALF_UP) */
            if ((long)n.scale > z_digits(n.u) + 1) {
                mpz_set_ui(n.u, 0);
            } else {
                mpz_t p;
                mpz_init(p);
                mpz_ui_pow_ui(p, 10, (unsigned long)n.scale);
                div_half_up(n.u, n.u, p);
                mpz_clear(p);
            }
            n.scale = 0;
            rc = put_big(r, &n, HLN_T_DECIMAL, out);
        } else if (k == HLN_T_DECIMAL && n.scale < 0) { /* setScale(0): 1E+2 is 100 */
            z_mul_pow10(n.u, n.u, (unsigned long)(-(int64_t)n.scale));
            n.scale = 0;
            rc = put_big(r, &n, HLN_T_DECIMAL, out);
        } else {
            *out = v; /* integers and decimals of scale 0 round to themselves */
        }
        goto done;
    }
    if (k == HLN_T_DECIMAL || k == HLN_T_VARINT) {
        num res;
        num_init(&res);
        rc = big_fn(r, fn, &n, &res);
        if (!rc && k == HLN_T_VARINT) { /* BigDecimal.toBigInteger */
            big_trunc(&res, res.u);
            res.scale = 0;
        }
        if (!rc) rc = put_big(r, &res, k, out);
        num_clear(&res);
        goto done;
    }
    double x = num_double(&n);
    double y = fn == 0 ? exp(x) : fn == 1 ? log(x) : log10(x);
    if (k == HLN_T_FLOAT) {
        float xf = (float)n.d;
        float yf = (float)(fn == 0   ? exp((double)xf)
                           : fn == 1 ? log((double)xf)
                                     : log10((double)xf));
        rc = put_double(r, yf, true, out);
    } else if (k == HLN_T_DOUBLE) {
        rc = put_double(r, y, false, out);
    } else {
        int64_t iv = (k == HLN_T_BIGINT || k == HLN_T_COUNTER) ? d2l(y) : d2i(y);
        rc = put_be(r, (uint64_t)iv, width(k), out);
    }
done:
    num_clear(&n);
    return rc;
}

/* abs of varint and decimal */
int ex_abs_big(ex_request *r, const hln_type *t, ex_value v, ex_value *out)
{
    too_big = false;
    if (v.len <= 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    num n;
    num_init(&n);
    int rc = num_read(t, v.p, v.len, &n) ? bad_value(r) : 0;
    if (!rc) {
        mpz_abs(n.u, n.u);
        rc = put_big(r, &n, t->kind, out);
    }
    num_clear(&n);
    return rc;
}

/* collection_avg: the mean of the non-null elements, in the element type
 * (integers: the exact sum divided, truncated; decimal: at the sum's
 * scale, HALF_EVEN; floating point: the double mean). */
int ex_coll_avg(ex_request *r, const hln_type *et, const ex_value *els, int n, ex_value *out)
{
    too_big = false;
    *out = (ex_value){NULL, -1};
    int m = 0, rc = 0;
    hln_type_kind k = et->kind;
    double dsum = 0;
    num acc, x;
    num_init(&acc);
    num_init(&x);
    acc.k = 2;
    for (int i = 0; i < n && !rc; i++) {
        if (els[i].len <= 0) continue;
        if (num_read(et, els[i].p, els[i].len, &x)) {
            rc = bad_value(r);
            break;
        }
        m++;
        if (k == HLN_T_FLOAT || k == HLN_T_DOUBLE) {
            dsum += x.d;
            continue;
        }
        if (x.k == 0) {
            x.k = 2;
            mpz_set_si(x.u, (long)x.i);
            x.scale = 0;
        }
        align(&acc, &x);
        mpz_add(acc.u, acc.u, x.u);
    }
    if (rc || !m) goto done;
    if (k == HLN_T_FLOAT || k == HLN_T_DOUBLE) {
        rc = put_double(r, dsum / m, k == HLN_T_FLOAT, out);
        goto done;
    }
    mpz_t q, rem;
    mpz_inits(q, rem, NULL);
    mpz_tdiv_qr_ui(q, rem, acc.u, (unsigned long)m);
    if (k == HLN_T_DECIMAL) {
        mpz_abs(rem, rem);
        mpz_mul_2exp(rem, rem, 1);
        int c = mpz_cmp_ui(rem, (unsigned long)m);
        if (c > 0 || (c == 0 && mpz_odd_p(q))) {
            if (mpz_sgn(acc.u) < 0)
                mpz_sub_ui(q, q, 1);
            else
                mpz_add_ui(q, q, 1);
        }
        mpz_set(acc.u, q);
        rc = put_big(r, &acc, HLN_T_DECIMAL, out);
    } else if (k == HLN_T_VARINT) {
        mpz_set(acc.u, q);
        acc.scale = 0;
        rc = put_big(r, &acc, HLN_T_VARINT, out);
    } else {
        mpz_fdiv_r_2exp(q, q, 64);
        rc = put_be(r, (uint64_t)mpz_get_ui(q), width(k), out);
    }
    mpz_clears(q, rem, NULL);
done:
    num_clear(&acc);
    num_clear(&x);
    return rc;
}

/* -x (the _negate function of Cassandra 5.0): the type's own negation
 * (integers wrap: -INT_MIN is INT_MIN). */
int ex_negate(ex_request *r, const hln_type *t, ex_value v, ex_value *out)
{
    too_big = false;
    if (v.len <= 0) {
        *out = (ex_value){NULL, -1};
        return 0;
    }
    num n;
    num_init(&n);
    int rc = 0;
    if (num_read(t, v.p, v.len, &n)) {
        rc = bad_value(r);
    } else {
        switch (t->kind) {
        case HLN_T_FLOAT:
        case HLN_T_DOUBLE:
            rc = put_double(r, -n.d, t->kind == HLN_T_FLOAT, out);
            break;
        case HLN_T_VARINT:
        case HLN_T_DECIMAL:
            mpz_neg(n.u, n.u);
            rc = put_big(r, &n, t->kind, out);
            break;
        default:
            rc = put_be(r, 0 - (uint64_t)n.i, width(t->kind), out);
        }
    }
    num_clear(&n);
    return rc;
}
