/*
 * decimal.c — the decimal and duration types: literals, text rendering,
 * validation and (decimal) the comparable encoding.
 *
 * decimal (Cassandra's DecimalType, java.math.BigDecimal):
 *   serialisation  [i32 scale, big-endian][varint unscaled value, minimal
 *                  two's complement]; value = unscaled * 10^-scale. An empty
 *                  (0-byte) value is allowed; 1..3 bytes are not.
 *   literals       INTEGER and FLOAT tokens, parsed exactly as
 *                  new BigDecimal(text): "1.50" is 150 scale 2, "1e308" is 1
 *                  scale -308, "-0.0" is 0 scale 1 (no double rounding).
 *   text           BigDecimal.toString(): plain when scale >= 0 and the
 *                  adjusted exponent >= -6, else scientific ("1E+308",
 *                  "1E-21"), which is also what the Python driver prints.
 *   order          by numeric value (BigDecimal.compareTo): 1.0 == 1.00.
 *   comparable     0x00 empty | 0x02 zero | 0x03 E digits 0x00 (positive) |
 *                  0x01 ~(E digits 0x00) (negative), where the value is
 *                  0.d1d2..dn * 10^(E+1) with d1 != 0 and dn != 0 (trailing
 *                  zeros stripped), E as u64(E + 2^63) big-endian, each
 *                  digit d as the byte d+1. Equal values encode equally, so
 *                  a clustering key keeps one canonical form (order.c
 *                  invariant 2): no trailing fractional zeros, integers with
 *                  scale 0 (up to 32 trailing zeros, else a negative scale),
 *                  zero as 0 scale 0.
 *   arithmetic     for the sum/avg aggregates: BigDecimal.add (exact, the
 *                  larger scale) and Cassandra's streaming average
 *                  avg + (x - avg).divide(n, HALF_EVEN) (so 1, 2 average to 1).
 *                  Digit strings, quadratic in the number of digits.
 *
 * duration (Cassandra's DurationType, cql3.Duration):
 *   serialisation  three signed vints (zigzag + Cassandra's unsigned vint):
 *                  months (i32), days (i32), nanoseconds (i64), all of the
 *                  same sign.
 *   literals       the DURATION token: 1h30m, -2w, 1y2mo3w4d5h6m7s8ms9us10ns
 *                  (units y mo w d h m s ms us µs ns, any case, each at most
 *                  once, in that order), P1Y2M3DT4H5M6S, P2W,
 *                  P0001-02-03T04:05:06; INTEGER tokens are accepted by the
 *                  type and fail to convert, as in Cassandra.
 *   text           Duration.toString(): "1h30m", "-2w" is "-14d", "1y2mo".
 *   order          unsigned bytes (Cassandra: BYTE_ORDER); durations are
 *                  refused in primary keys, sets and map keys by the DDL.
 *
 * Invariants:
 *  1. A literal conversion appends nothing to out when it fails (the caller,
 *     text.c, truncates).
 *  2. The decimal comparable encoding is prefix-free and memcmp-ordered as
 *     BigDecimal.compareTo; decode(encode(v)) is v's canonical form.
 */
#include "types/typesInt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decimal: digits ---------------------------------------------------- */

/* Appends the decimal digits of |unscaled| (no sign, no leading zeros, "0"
 * for zero) to out; sets *neg. */
static void magnitude_digits(const uint8_t *v, size_t len, bool *neg, hln_buf *out)
{
    *neg = false;
    if (len == 0) { /* a scale alone: read as zero */
        hln_buf_u8(out, '0');
        return;
    }
    hln_buf tmp;
    hln_buf_init(&tmp);
    hln_varint_to_decimal(v, len, &tmp);
    if (tmp.err) {
        out->err = tmp.err;
        hln_buf_free(&tmp);
        return;
    }
    size_t off = 0;
    *neg = tmp.len > 0 && tmp.data[0] == '-';
    if (*neg) off = 1;
    hln_buf_put(out, tmp.data + off, tmp.len - off);
    hln_buf_free(&tmp);
}

static int32_t get_scale(const uint8_t *v)
{
    return (int32_t)((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3]);
}

/* Appends [i32 scale][varint of (neg ? -digits : digits)]. */
static bool put_decimal(hln_buf *out, int32_t scale, bool neg, const char *digits, size_t nd)
{
    char *s = hln_malloc(nd + 2);
    if (!s) return false;
    size_t k = 0;
    while (k + 1 < nd && digits[k] == '0') /* leading zeros */
        k++;
    bool zero = nd - k == 1 && digits[k] == '0';
    size_t j = 0;
    if (neg && !zero) s[j++] = '-';
    memcpy(s + j, digits + k, nd - k);
    s[j + nd - k] = 0;
    hln_buf_u32(out, (uint32_t)scale);
    bool ok = hln_varint_from_decimal(s, out);
    hln_free(s);
    return ok;
}

/* new BigDecimal(s): [+-]?digits[.digits]([eE][+-]?digits)? with at least
 * one digit. */
bool hln_decimal_from_text(const char *s, hln_buf *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    size_t cap = strlen(p) + 1;
    char *dig = hln_malloc(cap);
    if (!dig) return false;
    size_t nd = 0;
    int64_t frac = 0;
    bool dot = false;
    for (; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.' && !dot) {
            dot = true;
        } else if (*p >= '0' && *p <= '9') {
            dig[nd++] = *p;
            if (dot) frac++;
        } else {
            hln_free(dig);
            return false;
        }
    }
    int64_t exp = 0;
    if (*p) { /* exponent */
        p++;
        bool eneg = false;
        if (*p == '-' || *p == '+') eneg = *p++ == '-';
        if (!*p) nd = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || exp > INT64_C(10000000000)) {
                nd = 0;
                break;
            }
            exp = exp * 10 + (*p - '0');
        }
        if (eneg) exp = -exp;
    }
    int64_t scale = frac - exp;
    bool ok = nd > 0 && scale >= INT32_MIN && scale <= INT32_MAX &&
              put_decimal(out, (int32_t)scale, neg, dig, nd);
    hln_free(dig);
    return ok;
}

void hln_decimal_format(const uint8_t *v, size_t len, hln_buf *out)
{
    int32_t scale = get_scale(v);
    hln_buf d;
    hln_buf_init(&d);
    bool neg = false;
    magnitude_digits(v + 4, len - 4, &neg, &d);
    if (d.err) {
        out->err = d.err;
        hln_buf_free(&d);
        return;
    }
    const char *c = (const char *)d.data;
    int64_t n = (int64_t)d.len;
    int64_t adjusted = -(int64_t)scale + (n - 1);
    if (neg) hln_buf_u8(out, '-');
    if (scale == 0) {
        hln_buf_put(out, c, (size_t)n);
    } else if (scale > 0 && adjusted >= -6) {
        if (n > scale) {
            hln_buf_put(out, c, (size_t)(n - scale));
            hln_buf_u8(out, '.');
            hln_buf_put(out, c + (n - scale), (size_t)scale);
        } else {
            hln_buf_put(out, "0.", 2);
            for (int64_t i = 0; i < scale - n; i++)
                hln_buf_u8(out, '0');
            hln_buf_put(out, c, (size_t)n);
        }
    } else {
        hln_buf_u8(out, (uint8_t)c[0]);
        if (n > 1) {
            hln_buf_u8(out, '.');
            hln_buf_put(out, c + 1, (size_t)(n - 1));
        }
        hln_buf_printf(out, "E%s%lld", adjusted > 0 ? "+" : "", (long long)adjusted);
    }
    hln_buf_free(&d);
}

/* ---- decimal: comparable encoding ---------------------------------------- */

int hln_decimal_encode(const uint8_t *v, size_t len, hln_buf *out)
{
    if (len == 0) {
        hln_buf_u8(out, 0x00);
        return 0;
    }
    if (len < 4) return HLN_EINVAL;
    int32_t scale = get_scale(v);
    hln_buf d;
    hln_buf_init(&d);
    bool neg = false;
    magnitude_digits(v + 4, len - 4, &neg, &d);
    if (d.err) {
        hln_buf_free(&d);
        return HLN_ENOMEM;
    }
    size_t n = d.len;
    if (n == 1 && d.data[0] == '0') {
        hln_buf_free(&d);
        hln_buf_u8(out, 0x02);
        return 0;
    }
    int64_t e = (int64_t)n - 1 - scale;
    while (n > 1 && d.data[n - 1] == '0')
        n--;
    size_t start = out->len;
    hln_buf_u8(out, neg ? 0x01 : 0x03);
    hln_buf_u64(out, (uint64_t)e ^ UINT64_C(0x8000000000000000));
    for (size_t i = 0; i < n; i++)
        hln_buf_u8(out, (uint8_t)(d.data[i] - '0' + 1));
    hln_buf_u8(out, 0x00);
    hln_buf_free(&d);
    if (neg && !out->err)
        for (size_t i = start + 1; i < out->len; i++)
            out->data[i] = (uint8_t)~out->data[i];
    return out->err;
}

int hln_decimal_decode(hln_rd *r, bool desc, hln_buf *out)
{
    uint8_t tag;
    if (hln_type_take_byte(r, desc, &tag)) return HLN_ECORRUPT;
    if (tag == 0x00) return 0;
    if (tag == 0x02) {
        const uint8_t zero[5] = {0, 0, 0, 0, 0};
        hln_buf_put(out, zero, 5);
        return out->err;
    }
    if (tag != 0x01 && tag != 0x03) return HLN_ECORRUPT;
    bool neg = tag == 0x01;
    uint64_t eu = 0;
    for (int i = 0; i < 8; i++) {
        uint8_t b;
        if (hln_type_take_byte(r, desc, &b)) return HLN_ECORRUPT;
        eu = eu << 8 | (uint8_t)(neg ? ~b : b);
    }
    int64_t e = (int64_t)(eu ^ UINT64_C(0x8000000000000000));
    hln_buf d;
    hln_buf_init(&d);
    for (;;) {
        uint8_t b;
        if (hln_type_take_byte(r, desc, &b)) {
            hln_buf_free(&d);
            return HLN_ECORRUPT;
        }
        if (neg) b = (uint8_t)~b;
        if (b == 0x00) break;
        if (b > 10) {
            hln_buf_free(&d);
            return HLN_ECORRUPT;
        }
        hln_buf_u8(&d, (uint8_t)('0' + b - 1));
    }
    if (d.len == 0 || d.data[0] == '0' || d.data[d.len - 1] == '0' || d.err) {
        hln_buf_free(&d);
        return HLN_ECORRUPT;
    }
    int64_t scale = (int64_t)d.len - 1 - e;
    /* canonical form: integers with scale 0 when that costs <= 32 zeros */
    int64_t pad = scale < 0 && scale >= -32 ? -scale : 0; /* each zero adds 1 to the scale */
    if (scale < INT32_MIN) pad = INT32_MIN - scale;
    if (pad > 64 || scale + pad > INT32_MAX) {
        hln_buf_free(&d);
        return HLN_ECORRUPT;
    }
    for (int64_t i = 0; i < pad; i++)
        hln_buf_u8(&d, '0');
    bool ok = !d.err && put_decimal(out, (int32_t)(scale + pad), neg, (const char *)d.data, d.len);
    hln_buf_free(&d);
    return ok ? out->err : HLN_ENOMEM;
}

/* Two's complement big-endian integers (len >= 1) compared by value. */
static int cmp_unscaled(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    while (an > 1 && ((a[0] == 0x00 && !(a[1] & 0x80)) || (a[0] == 0xFF && (a[1] & 0x80))))
        a++, an--;
    while (bn > 1 && ((b[0] == 0x00 && !(b[1] & 0x80)) || (b[0] == 0xFF && (b[1] & 0x80))))
        b++, bn--;
    bool aneg = a[0] & 0x80, bneg = b[0] & 0x80;
    if (aneg != bneg) return aneg ? -1 : 1;
    if (an != bn) return (an < bn) != aneg ? -1 : 1;
    int c = memcmp(a, b, an);
    return c < 0 ? -1 : c > 0;
}

int hln_decimal_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    /* the same scale (the common case): the unscaled values decide */
    if (alen > 4 && blen > 4 && memcmp(a, b, 4) == 0)
        return cmp_unscaled(a + 4, alen - 4, b + 4, blen - 4);
    hln_buf ea, eb;
    hln_buf_init(&ea);
    hln_buf_init(&eb);
    int c;
    if (hln_decimal_encode(a, alen, &ea) || hln_decimal_encode(b, blen, &eb)) {
        size_t n = alen < blen ? alen : blen; /* invalid values: any total order */
        c = n ? memcmp(a, b, n) : 0;
        if (!c) c = alen < blen ? -1 : alen > blen;
    } else {
        size_t n = ea.len < eb.len ? ea.len : eb.len;
        c = memcmp(ea.data, eb.data, n);
        if (!c) c = ea.len < eb.len ? -1 : ea.len > eb.len;
    }
    hln_buf_free(&ea);
    hln_buf_free(&eb);
    return c < 0 ? -1 : c > 0;
}

/* ---- duration ------------------------------------------------------------ */

static uint64_t zigzag(int64_t n)
{
    return (uint64_t)n << 1 ^ (uint64_t)(n >> 63);
}

static int64_t unzigzag(uint64_t n)
{
    return (int64_t)(n >> 1) ^ -(int64_t)(n & 1);
}

void hln_duration_build(int32_t months, int32_t days, int64_t nanos, hln_buf *out)
{
    hln_buf_vint(out, zigzag(months));
    hln_buf_vint(out, zigzag(days));
    hln_buf_vint(out, zigzag(nanos));
}

int hln_duration_split(const uint8_t *v, size_t len, int64_t *months, int64_t *days, int64_t *nanos)
{
    hln_rd r;
    hln_rd_init(&r, v, len);
    *months = unzigzag(hln_rd_vint(&r));
    *days = unzigzag(hln_rd_vint(&r));
    *nanos = unzigzag(hln_rd_vint(&r));
    return r.err ? HLN_EINVAL : 0;
}

int hln_duration_validate(const uint8_t *v, size_t len, hln_error *err)
{
    if (len < 3)
        return hln_fail(err, HLN_EINVAL, "Expected at least 3 bytes for a duration (%zu)", len);
    int64_t m, d, ns;
    if (hln_duration_split(v, len, &m, &d, &ns))
        return hln_fail(err, HLN_EINVAL, "Unexpected error");
    if (m < INT32_MIN || m > INT32_MAX)
        return hln_fail(err, HLN_EINVAL,
                        "The duration months must be a 32 bits integer but was: %lld",
                        (long long)m);
    if (d < INT32_MIN || d > INT32_MAX)
        return hln_fail(err, HLN_EINVAL,
                        "The duration days must be a 32 bits integer but was: %lld", (long long)d);
    if (!((m >= 0 && d >= 0 && ns >= 0) || (m <= 0 && d <= 0 && ns <= 0)))
        return hln_fail(err, HLN_EINVAL,
                        "The duration months, days and nanoseconds must be all of the same sign "
                        "(%lld, %lld, %lld)",
                        (long long)m, (long long)d, (long long)ns);
    return 0;
}

/* Cassandra's Duration.Builder: units in order, each at most once, totals
 * bounded. Unit indexes 1..10: years months weeks days hours minutes
 * seconds milliseconds microseconds nanoseconds. */
typedef struct dur_builder {
    int cur;
    int64_t months, days, nanos;
} dur_builder;

static const char *const UNIT_NAMES[] = {
    "",        "years",   "months",       "weeks",        "days",        "hours",
    "minutes", "seconds", "milliseconds", "microseconds", "nanoseconds",
};

static int dur_add(dur_builder *b, int unit, int64_t n, hln_error *err)
{
    if (unit == b->cur)
        return hln_fail(err, HLN_EINVAL, "Invalid duration. The %s are specified multiple times",
                        UNIT_NAMES[unit]);
    if (unit <= b->cur)
        return hln_fail(err, HLN_EINVAL, "Invalid duration. The %s should be after %s",
                        UNIT_NAMES[b->cur], UNIT_NAMES[unit]);
    b->cur = unit;
    static const int64_t NS[] = {0,
                                 0,
                                 0,
                                 0,
                                 0,
                                 INT64_C(3600000000000),
                                 INT64_C(60000000000),
                                 INT64_C(1000000000),
                                 INT64_C(1000000),
                                 INT64_C(1000),
                                 1};
    int64_t limit;
    const char *what;
    if (unit <= 2) {
        int64_t per = unit == 1 ? 12 : 1;
        limit = (INT32_MAX - b->months) / per, what = "months";
        if (n <= limit) b->months += n * per;
    } else if (unit <= 4) {
        int64_t per = unit == 3 ? 7 : 1;
        limit = (INT32_MAX - b->days) / per, what = "days";
        if (n <= limit) b->days += n * per;
    } else {
        limit = (INT64_MAX - b->nanos) / NS[unit], what = "nanoseconds";
        if (n <= limit) b->nanos += n * NS[unit];
    }
    if (n > limit)
        return hln_fail(err, HLN_EINVAL,
                        "Invalid duration. The total number of %s must be less or equal to %lld",
                        what, (long long)limit);
    return 0;
}

static bool dur_number(const char **p, int64_t *n)
{
    const char *s = *p;
    int64_t v = 0;
    if (*s < '0' || *s > '9') return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - (*s - '0')) / 10) return false;
        v = v * 10 + (*s - '0');
    }
    *p = s;
    *n = v;
    return true;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The unit symbol at *p (case-insensitive, Cassandra's alternation order:
 * y mo w d h s ms us µs ns m); its index or 0. */
static int dur_unit(const char **p)
{
    const char *s = *p;
    int a = lower((unsigned char)s[0]), b = a ? lower((unsigned char)s[1]) : 0;
    int u = 0, l = 1;
    if (a == 'y')
        u = 1;
    else if (a == 'm' && b == 'o')
        u = 2, l = 2;
    else if (a == 'w')
        u = 3;
    else if (a == 'd')
        u = 4;
    else if (a == 'h')
        u = 5;
    else if (a == 's')
        u = 7;
    else if (a == 'm' && b == 's')
        u = 8, l = 2;
    else if (a == 'u' && b == 's')
        u = 9, l = 2;
    else if ((unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xB5 && lower(s[2]) == 's')
        u = 9, l = 3;
    else if (a == 'n' && b == 's')
        u = 10, l = 2;
    else if (a == 'm')
        u = 6;
    if (u) *p = s + l;
    return u;
}

/* ISO 8601 P[nY][nM][nD][T[nH][nM][nS]]: designators map to unit indexes. */
static int iso_designators(const char *s, dur_builder *b, hln_error *err, bool *bad)
{
    static const char date_d[] = {'Y', 'M', 'D'}, time_d[] = {'H', 'M', 'S'};
    static const int date_u[] = {1, 2, 4}, time_u[] = {5, 6, 7};
    const char *p = s + 1;
    int i = 0;
    while (*p && *p != 'T') {
        int64_t n;
        if (!dur_number(&p, &n)) return *bad = true, 0;
        while (i < 3 && *p != date_d[i])
            i++;
        if (i == 3) return *bad = true, 0;
        int rc = dur_add(b, date_u[i++], n, err);
        if (rc) return rc;
        p++;
    }
    if (*p == 'T') {
        p++;
        i = 0;
        while (*p) {
            int64_t n;
            if (!dur_number(&p, &n)) return *bad = true, 0;
            while (i < 3 && *p != time_d[i])
                i++;
            if (i == 3) return *bad = true, 0;
            int rc = dur_add(b, time_u[i++], n, err);
            if (rc) return rc;
            p++;
        }
    }
    return 0;
}

/* P0001-02-03T04:05:06 */
static int iso_alternative(const char *s, dur_builder *b, hln_error *err, bool *bad)
{
    static const int widths[] = {4, 2, 2, 2, 2, 2}, units[] = {1, 2, 4, 5, 6, 7};
    static const char seps[] = {'-', '-', 'T', ':', ':', 0};
    const char *p = s + 1;
    int64_t vals[6];
    for (int f = 0; f < 6; f++) {
        int64_t v = 0;
        for (int k = 0; k < widths[f]; k++, p++) {
            if (*p < '0' || *p > '9') return *bad = true, 0;
            v = v * 10 + (*p - '0');
        }
        if (*p != seps[f]) return *bad = true, 0;
        if (seps[f]) p++;
        vals[f] = v;
    }
    for (int f = 0; f < 6; f++) {
        int rc = dur_add(b, units[f], vals[f], err);
        if (rc) return rc;
    }
    return 0;
}

/* Duration.from(text). */
int hln_duration_from_text(const char *input, hln_buf *out, hln_error *err)
{
    bool neg = input[0] == '-';
    const char *s = neg ? input + 1 : input;
    dur_builder b = {0, 0, 0, 0};
    bool bad = false;
    int rc = 0;
    size_t n = strlen(s);
    if (s[0] == 'P') {
        if (n > 1 && s[n - 1] == 'W') {
            const char *p = s + 1;
            int64_t w;
            if (!dur_number(&p, &w) || *p != 'W' || p[1])
                bad = true;
            else
                rc = dur_add(&b, 3, w, err);
        } else if (strchr(s, '-')) {
            rc = iso_alternative(s, &b, err, &bad);
        } else {
            rc = iso_designators(s, &b, err, &bad);
        }
    } else {
        const char *p = s;
        if (!*p) bad = true;
        while (*p && !rc && !bad) {
            int64_t v;
            if (!dur_number(&p, &v)) {
                bad = true;
                break;
            }
            int u = dur_unit(&p);
            if (!u) {
                bad = true;
                break;
            }
            rc = dur_add(&b, u, v, err);
        }
    }
    if (rc) return rc;
    if (bad) return hln_fail(err, HLN_EINVAL, "Unable to convert '%s' to a duration", s);
    if (neg) b.months = -b.months, b.days = -b.days, b.nanos = -b.nanos;
    hln_duration_build((int32_t)b.months, (int32_t)b.days, b.nanos, out);
    return out->err;
}

static uint64_t dur_append(hln_buf *out, uint64_t dividend, uint64_t divisor, const char *unit)
{
    if (dividend == 0 || dividend < divisor) return dividend;
    hln_buf_printf(out, "%llu%s", (unsigned long long)(dividend / divisor), unit);
    return dividend % divisor;
}

static uint64_t uabs(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Duration.toString(). */
void hln_duration_format(const uint8_t *v, size_t len, hln_buf *out)
{
    int64_t m, d, ns;
    if (hln_duration_split(v, len, &m, &d, &ns)) return;
    if (m < 0 || d < 0 || ns < 0) hln_buf_u8(out, '-');
    uint64_t rem = dur_append(out, uabs(m), 12, "y");
    dur_append(out, rem, 1, "mo");
    dur_append(out, uabs(d), 1, "d");
    if (ns != 0) {
        rem = dur_append(out, uabs(ns), UINT64_C(3600000000000), "h");
        rem = dur_append(out, rem, UINT64_C(60000000000), "m");
        rem = dur_append(out, rem, UINT64_C(1000000000), "s");
        rem = dur_append(out, rem, UINT64_C(1000000), "ms");
        rem = dur_append(out, rem, UINT64_C(1000), "us");
        dur_append(out, rem, 1, "ns");
    }
}

/* ---- decimal arithmetic (sum and avg aggregates) ------------------------ */

/* A decimal as sign, magnitude digits (most significant first, no leading
 * zeros, "0" for zero) and scale. */
typedef struct dnum {
    bool neg;
    char *d;
    size_t n;
    int64_t scale;
} dnum;

static bool dnum_read(const uint8_t *v, size_t len, dnum *x)
{
    hln_buf b;
    hln_buf_init(&b);
    x->neg = false;
    x->scale = len >= 4 ? get_scale(v) : 0;
    if (len >= 4)
        magnitude_digits(v + 4, len - 4, &x->neg, &b);
    else
        hln_buf_u8(&b, '0');
    hln_buf_u8(&b, 0);
    if (b.err) {
        hln_buf_free(&b);
        return false;
    }
    x->d = (char *)b.data; /* owned: freed with hln_free */
    x->n = b.len - 1;
    return true;
}

/* x's magnitude times 10^k (k >= 0), in place. */
static bool dnum_shift(dnum *x, int64_t k)
{
    if (k <= 0 || (x->n == 1 && x->d[0] == '0')) {
        x->scale += k;
        return true;
    }
    if (k > 1000000) return false;
    char *d = hln_malloc(x->n + (size_t)k + 1);
    if (!d) return false;
    memcpy(d, x->d, x->n);
    memset(d + x->n, '0', (size_t)k);
    d[x->n + (size_t)k] = 0;
    hln_free(x->d);
    x->d = d;
    x->n += (size_t)k;
    x->scale += k;
    return true;
}

static int mag_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn) return an < bn ? -1 : 1;
    int c = memcmp(a, b, an);
    return c < 0 ? -1 : c > 0;
}

/* |a| + |b| or |a| - |b| (|a| >= |b|) into a new string. */
static char *mag_addsub(const char *a, size_t an, const char *b, size_t bn, bool sub, size_t *rn)
{
    size_t cap = an + 2;
    char *r = hln_malloc(cap);
    if (!r) return NULL;
    int carry = 0;
    size_t k = cap - 1;
    r[k] = 0;
    for (size_t i = 0; i < an; i++) {
        int x = a[an - 1 - i] - '0', y = i < bn ? b[bn - 1 - i] - '0' : 0;
        int s = sub ? x - y - carry : x + y + carry;
        carry = sub ? s < 0 : s > 9;
        if (sub && s < 0) s += 10;
        if (!sub && s > 9) s -= 10;
        r[--k] = (char)('0' + s);
    }
    if (carry && !sub) r[--k] = '1';
    while (r[k] == '0' && r[k + 1]) /* leading zeros */
        k++;
    *rn = cap - 1 - k;
    memmove(r, r + k, *rn + 1);
    return r;
}

static int dnum_write(const dnum *x, hln_buf *out)
{
    if (x->scale < INT32_MIN || x->scale > INT32_MAX) return HLN_EINVAL;
    return put_decimal(out, (int32_t)x->scale, x->neg, x->d, x->n) ? out->err : HLN_ENOMEM;
}

/* a + b (or a - b): BigDecimal.add/subtract, the scale is the larger one. */
static bool dnum_add(dnum *a, dnum *b, bool sub, dnum *r)
{
    int64_t s = a->scale > b->scale ? a->scale : b->scale;
    if (!dnum_shift(a, s - a->scale) || !dnum_shift(b, s - b->scale)) return false;
    bool bneg = sub ? !b->neg : b->neg;
    if (b->n == 1 && b->d[0] == '0') bneg = false;
    if (a->neg == bneg) { /* the longer operand first */
        r->d = a->n >= b->n ? mag_addsub(a->d, a->n, b->d, b->n, false, &r->n)
                            : mag_addsub(b->d, b->n, a->d, a->n, false, &r->n);
        r->neg = a->neg;
    } else if (mag_cmp(a->d, a->n, b->d, b->n) >= 0) {
        r->d = mag_addsub(a->d, a->n, b->d, b->n, true, &r->n);
        r->neg = a->neg;
    } else {
        r->d = mag_addsub(b->d, b->n, a->d, a->n, true, &r->n);
        r->neg = bneg;
    }
    r->scale = s;
    if (r->d && r->n == 1 && r->d[0] == '0') r->neg = false;
    return r->d != NULL;
}

int hln_decimal_add(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, hln_buf *out)
{
    dnum x = {0}, y = {0}, r = {0};
    int rc = HLN_ENOMEM;
    if (dnum_read(a, alen, &x) && dnum_read(b, blen, &y)) {
        rc = HLN_EINVAL;
        if (dnum_add(&x, &y, false, &r)) rc = dnum_write(&r, out);
    }
    hln_free(x.d);
    hln_free(y.d);
    hln_free(r.d);
    return rc;
}

/* Cassandra's streaming decimal average step:
 * avg + (x - avg).divide(n, HALF_EVEN), the quotient keeping its scale. */
int hln_decimal_avg_step(const uint8_t *avg, size_t alen, const uint8_t *x, size_t xlen, int64_t n,
                         hln_buf *out)
{
    dnum a = {0}, v = {0}, diff = {0}, a2 = {0}, q = {0}, r = {0};
    int rc = HLN_ENOMEM;
    if (n < 1 || !dnum_read(avg, alen, &a) || !dnum_read(x, xlen, &v) || !dnum_read(avg, alen, &a2))
        goto done;
    rc = HLN_EINVAL;
    if (!dnum_add(&v, &a, true, &diff)) goto done;
    /* q = diff / n, rounded half-even at diff's scale */
    q.d = hln_malloc(diff.n + 1);
    if (!q.d) goto done;
    unsigned __int128 rem = 0;
    size_t qn = 0;
    for (size_t i = 0; i < diff.n; i++) {
        rem = rem * 10 + (unsigned)(diff.d[i] - '0');
        int digit = (int)(rem / (uint64_t)n);
        rem %= (uint64_t)n;
        if (qn || digit) q.d[qn++] = (char)('0' + digit);
    }
    if (!qn) q.d[qn++] = '0';
    q.d[qn] = 0;
    q.n = qn;
    q.neg = diff.neg;
    q.scale = diff.scale;
    unsigned __int128 twice = rem * 2;
    bool odd = (q.d[qn - 1] - '0') & 1;
    if (twice > (uint64_t)n || (twice == (uint64_t)n && odd)) {
        size_t nn;
        char *up = mag_addsub(q.d, q.n, "1", 1, false, &nn);
        if (!up) goto done;
        hln_free(q.d);
        q.d = up;
        q.n = nn;
    }
    if (q.n == 1 && q.d[0] == '0') q.neg = false;
    if (!dnum_add(&a2, &q, false, &r)) goto done;
    rc = dnum_write(&r, out);
done:
    hln_free(a.d);
    hln_free(v.d);
    hln_free(diff.d);
    hln_free(a2.d);
    hln_free(q.d);
    hln_free(r.d);
    return rc;
}
