/*
 * text.c — the two text conversions of CQL values: literals to serialized
 * values (hln_type_from_literal) and serialized values to the text cqlsh
 * shows (hln_type_format).
 *
 * Why together: both need the same calendar arithmetic (proleptic Gregorian
 * days <-> civil dates, as java.time does) and the same varint <-> decimal
 * conversions.
 *
 * Literal rules (Cassandra's Constants.Literal assignment rules):
 *   STRING   ascii, text, timestamp, date, time, inet
 *   INTEGER  tinyint, smallint, int, bigint, counter, varint, float, double,
 *            timestamp (ms), date (raw unsigned day, 2^31 = epoch), time (ns),
 *            decimal (exact), duration (accepted, and always "Unable to
 *            convert '1' to a duration", as Cassandra)
 *   FLOAT    float, double, decimal (exact: 1.50 keeps scale 2; NaN and
 *            Infinity fail "unable to make BigDecimal from 'NaN'")
 *   DURATION duration (1h30m, P1Y2M, P2W, P0001-02-03T04:05:06; decimal.c)
 *   BOOLEAN  boolean;   UUID  uuid, timeuuid (version 1 only);   HEX  blob
 * Any other pairing fails with Cassandra's
 *   Invalid <KIND> constant (<text>) for "<col>" of type <type>
 * and a value that does not parse or fit fails with the type's marshal
 * message ("Unable to make int from '3000000000'", ...).
 *
 * Timestamps without a zone are UTC (Cassandra uses the JVM zone, which is
 * UTC on servers); fractional seconds beyond milliseconds are truncated.
 *
 * Invariants:
 *  1. from_literal appends nothing to out when it fails.
 *  2. format never fails; a value of an unexpected length is shown as 0x hex.
 *
 * Rendering of decimal and duration (decimal.c): BigDecimal.toString
 * ("1.50", "1E+308") and Duration.toString ("1h30m", "-14d").
 */
#include "types/typesInt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- small parsers ---------------------------------------------------- */

/* Reads between min and max decimal digits at *p. */
static bool digits(const char **p, int min, int max, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (n < max && **p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n >= min;
}

/* -?[0-9]+ that fits in int64. */
static bool parse_i64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (neg || *s == '+') s++;
    if (!*s) return false;
    uint64_t v = 0;
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned dg = (unsigned)(*s - '0');
        if (v > (lim - dg) / 10) return false;
        v = v * 10 + dg;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool all_digits(const char *s)
{
    if (*s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* Fraction of a second, 1..9 digits, as nanoseconds. */
static bool fraction_ns(const char **p, int64_t *ns)
{
    int64_t v;
    const char *s = *p;
    if (!digits(p, 1, 9, &v)) return false;
    for (int n = (int)(*p - s); n < 9; n++)
        v *= 10;
    *ns = v;
    return true;
}

/* Zone: Z | [+-]HH | [+-]HHMM | [+-]HH:MM, as seconds east of UTC. */
static bool zone(const char **p, int64_t *secs)
{
    const char *s = *p;
    if (*s == 'Z' || *s == 'z') {
        *p = s + 1;
        *secs = 0;
        return true;
    }
    if (*s != '+' && *s != '-') return false;
    int sign = *s == '-' ? -1 : 1;
    s++;
    int64_t h, m = 0;
    if (!digits(&s, 2, 2, &h)) return false;
    if (*s == ':') s++;
    if (*s >= '0' && *s <= '9' && !digits(&s, 2, 2, &m)) return false;
    if (h > 18 || m > 59) return false;
    *secs = sign * (h * 3600 + m * 60);
    *p = s;
    return true;
}

/* yyyy-mm-dd with an optional sign on the year; returns days since epoch. */
static bool parse_date(const char **p, int64_t *days)
{
    const char *s = *p;
    bool neg = *s == '-';
    if (neg || *s == '+') s++;
    int64_t y, m, d;
    if (!digits(&s, 1, 9, &y) || *s++ != '-' || !digits(&s, 1, 2, &m) || *s++ != '-' ||
        !digits(&s, 1, 2, &d))
        return false;
    if (neg) y = -y;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m)) return false;
    *days = days_from_civil(y, (int)m, (int)d);
    *p = s;
    return true;
}

/* hh:mm[:ss[.fffffffff]] as nanoseconds of the day. */
static bool parse_clock(const char **p, bool need_seconds, int64_t *ns)
{
    const char *s = *p;
    int64_t h, m, sec = 0, frac = 0;
    if (!digits(&s, 1, 2, &h) || *s++ != ':' || !digits(&s, 1, 2, &m)) return false;
    if (*s == ':') {
        s++;
        if (!digits(&s, 1, 2, &sec)) return false;
        if (*s == '.') {
            s++;
            if (!fraction_ns(&s, &frac)) return false;
        }
    } else if (need_seconds) {
        return false;
    }
    if (h > 23 || m > 59 || sec > 59) return false;
    *ns = ((h * 60 + m) * 60 + sec) * INT64_C(1000000000) + frac;
    *p = s;
    return true;
}

static bool parse_timestamp(const char *s, int64_t *ms)
{
    if (all_digits(s)) return parse_i64(s, ms);
    int64_t days, ns = 0, off = 0;
    if (!parse_date(&s, &days)) return false;
    if (*s == ' ' || *s == 'T') {
        s++;
        if (!parse_clock(&s, false, &ns)) return false;
    }
    if (*s == ' ' && s[1]) /* "... 03:04:05 +0000": a space may precede the zone */
        s++;
    if (*s && !zone(&s, &off)) return false;
    if (*s) return false;
    if (days > INT64_C(106751990) || days < -INT64_C(106751990)) /* ms fit in int64 */
        return false;
    *ms = (days * 86400 - off) * 1000 + ns / 1000000;
    return true;
}

/* ---- varint <-> decimal ------------------------------------------------ */

/* Appends the minimal two's complement form of the decimal -?[0-9]+. */
bool hln_varint_from_decimal(const char *s, hln_buf *out)
{
    bool neg = *s == '-';
    if (neg) s++;
    size_t nd = strlen(s);
    if (nd == 0) return false;
    /* magnitude, big-endian, at most nd/2+2 bytes */
    size_t cap = nd / 2 + 2, n = 1;
    uint8_t *mag = hln_calloc(cap, 1);
    if (!mag) return false;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9') {
            hln_free(mag);
            return false;
        }
        unsigned carry = (unsigned)(*c - '0');
        for (size_t i = cap; i-- > cap - n;) {
            unsigned x = mag[i] * 10u + carry;
            mag[i] = (uint8_t)x;
            carry = x >> 8;
        }
        if (carry) {
            mag[cap - n - 1] = (uint8_t)carry;
            n++;
        }
    }
    uint8_t *m = mag + cap - n;
    if (neg) { /* two's complement negate in place */
        unsigned carry = 1;
        for (size_t i = n; i-- > 0;) {
            unsigned x = (uint8_t)~m[i] + carry;
            m[i] = (uint8_t)x;
            carry = x >> 8;
        }
    }
    /* sign byte if needed; then drop redundant leading bytes */
    size_t start = 0;
    if (!neg && (m[0] & 0x80)) {
        hln_buf_u8(out, 0x00);
    } else if (neg && !(m[0] & 0x80) && !(n == 1 && m[0] == 0)) {
        hln_buf_u8(out, 0xFF);
    } else {
        while (start + 1 < n && ((m[start] == 0x00 && !(m[start + 1] & 0x80)) ||
                                 (m[start] == 0xFF && (m[start + 1] & 0x80))))
            start++;
    }
    hln_buf_put(out, m + start, n - start);
    hln_free(mag);
    return true;
}

void hln_varint_to_decimal(const uint8_t *v, size_t len, hln_buf *out)
{
    uint8_t *m = hln_malloc(len);
    char *dig = hln_malloc(len * 3 + 2);
    if (!m || !dig) {
        hln_free(m);
        hln_free(dig);
        out->err = HLN_ENOMEM;
        return;
    }
    memcpy(m, v, len);
    bool neg = m[0] & 0x80;
    if (neg) {
        unsigned carry = 1;
        for (size_t i = len; i-- > 0;) {
            unsigned x = (uint8_t)~m[i] + carry;
            m[i] = (uint8_t)x;
            carry = x >> 8;
        }
    }
    size_t nd = 0, first = 0;
    do {
        unsigned rem = 0;
        for (size_t i = first; i < len; i++) {
            unsigned x = rem << 8 | m[i];
            m[i] = (uint8_t)(x / 10);
            rem = x % 10;
        }
        dig[nd++] = (char)('0' + rem);
        while (first < len && m[first] == 0)
            first++;
    } while (first < len);
    if (neg) hln_buf_u8(out, '-');
    while (nd > 0)
        hln_buf_u8(out, (uint8_t)dig[--nd]);
    hln_free(m);
    hln_free(dig);
}

/* ---- literals --------------------------------------------------------- */

static const char *lit_name(hln_lit_kind k)
{
    switch (k) {
    case HLN_LIT_STRING:
        return "STRING";
    case HLN_LIT_INTEGER:
        return "INTEGER";
    case HLN_LIT_FLOAT:
        return "FLOAT";
    case HLN_LIT_BOOL:
        return "BOOLEAN";
    case HLN_LIT_UUID:
        return "UUID";
    case HLN_LIT_HEX:
        return "HEX";
    case HLN_LIT_DURATION:
        return "DURATION";
    }
    return "?";
}

static bool assignable(hln_type_kind t, hln_lit_kind k)
{
    switch (k) {
    case HLN_LIT_STRING:
        return t == HLN_T_ASCII || t == HLN_T_VARCHAR || t == HLN_T_TIMESTAMP || t == HLN_T_DATE ||
               t == HLN_T_TIME || t == HLN_T_INET;
    case HLN_LIT_INTEGER:
        return t == HLN_T_TINYINT || t == HLN_T_SMALLINT || t == HLN_T_INT || t == HLN_T_BIGINT ||
               t == HLN_T_COUNTER || t == HLN_T_VARINT || t == HLN_T_FLOAT || t == HLN_T_DOUBLE ||
               t == HLN_T_TIMESTAMP || t == HLN_T_DATE || t == HLN_T_TIME || t == HLN_T_DECIMAL ||
               t == HLN_T_DURATION;
    case HLN_LIT_FLOAT:
        return t == HLN_T_FLOAT || t == HLN_T_DOUBLE || t == HLN_T_DECIMAL;
    case HLN_LIT_DURATION:
        return t == HLN_T_DURATION;
    case HLN_LIT_BOOL:
        return t == HLN_T_BOOLEAN;
    case HLN_LIT_UUID:
        return t == HLN_T_UUID || t == HLN_T_TIMEUUID;
    case HLN_LIT_HEX:
        return t == HLN_T_BLOB;
    }
    return false;
}

static void put_be(hln_buf *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        hln_buf_u8(out, (uint8_t)(v >> (8 * i)));
}

static int convert(const hln_type *t, hln_lit_kind kind, const char *s, hln_buf *out,
                   hln_error *err)
{
    int64_t iv;
    switch (t->kind) {
    case HLN_T_TINYINT:
        if (!parse_i64(s, &iv) || iv < INT8_MIN || iv > INT8_MAX)
            return hln_fail(err, HLN_EINVAL, "Unable to make byte from '%s'", s);
        put_be(out, (uint64_t)iv, 1);
        return 0;
    case HLN_T_SMALLINT:
        if (!parse_i64(s, &iv) || iv < INT16_MIN || iv > INT16_MAX)
            return hln_fail(err, HLN_EINVAL, "Unable to make short from '%s'", s);
        put_be(out, (uint64_t)iv, 2);
        return 0;
    case HLN_T_INT:
        if (!parse_i64(s, &iv) || iv < INT32_MIN || iv > INT32_MAX)
            return hln_fail(err, HLN_EINVAL, "Unable to make int from '%s'", s);
        put_be(out, (uint64_t)iv, 4);
        return 0;
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
        if (!parse_i64(s, &iv))
            return hln_fail(err, HLN_EINVAL, "Unable to make long from '%s'", s);
        put_be(out, (uint64_t)iv, 8);
        return 0;
    case HLN_T_VARINT:
        if (!hln_varint_from_decimal(s, out))
            return hln_fail(err, HLN_EINVAL, "Unable to make java.math.BigInteger from '%s'", s);
        return 0;
    case HLN_T_DECIMAL:
        if (!hln_decimal_from_text(s, out))
            return hln_fail(err, HLN_EINVAL, "unable to make BigDecimal from '%s'", s);
        return 0;
    case HLN_T_DURATION:
        return hln_duration_from_text(s, out, err);
    case HLN_T_FLOAT:
    case HLN_T_DOUBLE: {
        char *end;
        errno = 0;
        double d = t->kind == HLN_T_FLOAT ? (double)strtof(s, &end) : strtod(s, &end);
        if (end == s || *end)
            return hln_fail(err, HLN_EINVAL, "Unable to make %s from '%s'",
                            t->kind == HLN_T_FLOAT ? "float" : "double", s);
        if (t->kind == HLN_T_FLOAT) {
            float f = (float)d;
            uint32_t bits;
            memcpy(&bits, &f, 4);
            put_be(out, bits, 4);
        } else {
            uint64_t bits;
            memcpy(&bits, &d, 8);
            put_be(out, bits, 8);
        }
        return 0;
    }
    case HLN_T_BOOLEAN:
        if (strcasecmp(s, "true") == 0)
            hln_buf_u8(out, 1);
        else if (strcasecmp(s, "false") == 0)
            hln_buf_u8(out, 0);
        else
            return hln_fail(err, HLN_EINVAL, "Unable to make boolean from '%s'", s);
        return 0;
    case HLN_T_UUID:
    case HLN_T_TIMEUUID: {
        uint8_t u[16];
        if (hln_uuid_parse(s, u))
            return hln_fail(err, HLN_EINVAL, "Unable to make UUID from '%s'", s);
        if (t->kind == HLN_T_TIMEUUID && (u[6] & 0xF0) != 0x10)
            return hln_fail(err, HLN_EINVAL, "TimeUUID supports only version 1 UUIDs");
        hln_buf_put(out, u, 16);
        return 0;
    }
    case HLN_T_BLOB: {
        const char *h = s + 2; /* the lexer hands us 0x... */
        if (strncasecmp(s, "0x", 2) != 0)
            return hln_fail(err, HLN_EINVAL, "cannot parse '%s' as hex bytes", s);
        size_t n = strlen(h);
        for (size_t i = 0; i < n; i++)
            if (hln_hex_digit(h[i]) < 0)
                return hln_fail(err, HLN_EINVAL, "cannot parse '%s' as hex bytes", h);
        if (n % 2) /* Cassandra: a hex string must have an even length */
            return hln_fail(err, HLN_EINVAL, "cannot parse '%s' as hex bytes", h);
        for (size_t i = 0; i < n; i += 2)
            hln_buf_u8(out, (uint8_t)(hln_hex_digit(h[i]) << 4 | hln_hex_digit(h[i + 1])));
        return 0;
    }
    case HLN_T_ASCII:
        for (const char *c = s; *c; c++)
            if ((uint8_t)*c & 0x80)
                return hln_fail(err, HLN_EINVAL,
                                "Invalid ASCII character in string literal: "
                                "java.nio.charset.UnmappableCharacterException: Input length = 1");
        hln_buf_put(out, s, strlen(s));
        return 0;
    case HLN_T_VARCHAR: {
        size_t n = strlen(s);
        if (hln_type_validate(t, (const uint8_t *)s, n, NULL, err)) return HLN_EINVAL;
        hln_buf_put(out, s, n);
        return 0;
    }
    case HLN_T_TIMESTAMP: {
        int64_t ms;
        if (kind == HLN_LIT_INTEGER) {
            if (!parse_i64(s, &ms))
                return hln_fail(err, HLN_EINVAL, "Unable to make long from '%s'", s);
        } else if (!parse_timestamp(s, &ms)) {
            return hln_fail(err, HLN_EINVAL, "Unable to parse a date/time from '%s'", s);
        }
        put_be(out, (uint64_t)ms, 8);
        return 0;
    }
    case HLN_T_DATE: {
        int64_t days;
        if (all_digits(s)) {
            if (!parse_i64(s, &days) || days < 0 || days > (int64_t)UINT32_MAX)
                return hln_fail(err, HLN_EINVAL,
                                "Unable to make unsigned int (for date) from: '%s'", s);
            put_be(out, (uint64_t)days, 4);
            return 0;
        }
        const char *p = s;
        if (!parse_date(&p, &days) || *p)
            return hln_fail(err, HLN_EINVAL, "Unable to coerce '%s' to a formatted date (long)", s);
        days += INT64_C(1) << 31;
        if (days < 0 || days > (int64_t)UINT32_MAX)
            return hln_fail(err, HLN_EINVAL, "Input date %s is out of bounds", s);
        put_be(out, (uint64_t)days, 4);
        return 0;
    }
    case HLN_T_TIME: {
        int64_t ns;
        if (all_digits(s)) {
            if (!parse_i64(s, &ns) || ns < 0 || ns > INT64_C(86399999999999))
                return hln_fail(err, HLN_EINVAL, "Unable to make long (for time) from: '%s'", s);
        } else {
            const char *p = s;
            while (*p == ' ')
                p++;
            if (!parse_clock(&p, true, &ns) || *p)
                return hln_fail(err, HLN_EINVAL,
                                "(TimeType) Unable to coerce '%s' to a formatted time (long)", s);
        }
        put_be(out, (uint64_t)ns, 8);
        return 0;
    }
    case HLN_T_INET: {
        uint8_t a[16];
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!*s)
            ; /* '' is the empty value, as Cassandra takes it */
        else if (inet_pton(AF_INET, s, a) == 1)
            hln_buf_put(out, a, 4);
        else if (inet_pton(AF_INET6, s, a) == 1 && !memcmp(a, v4mapped, 12))
            hln_buf_put(out, a + 12, 4); /* Java's InetAddress makes it the IPv4 address */
        else if (inet_pton(AF_INET6, s, a) == 1)
            hln_buf_put(out, a, 16);
        else
            return hln_fail(err, HLN_EINVAL, "Unable to make inet address from '%s'", s);
        return 0;
    }
    default:
        return hln_fail(err, HLN_EUNSUPPORTED, "Type %s is not supported yet", t->cql_name);
    }
}

int hln_type_from_literal(const hln_type *t, hln_lit_kind kind, const char *text, const char *col,
                          hln_buf *out, hln_error *err)
{
    if (!t || !text) return hln_fail(err, HLN_EINVAL, "Invalid literal");
    if (!assignable(t->kind, kind))
        return hln_fail(err, HLN_EINVAL, "Invalid %s constant (%s) for \"%s\" of type %s",
                        lit_name(kind), text, col ? col : "", t->cql_name);
    size_t start = out->len;
    int rc = convert(t, kind, text, out, err);
    if (rc) {
        if (!out->err) out->len = start;
        return rc;
    }
    if (out->err) return hln_fail(err, out->err, "Out of memory");
    return 0;
}

/* ---- format ----------------------------------------------------------- */

static uint64_t be_get(const uint8_t *v, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | v[i];
    return x;
}

static void put_hex(hln_buf *out, const uint8_t *v, size_t len)
{
    static const char hx[] = "0123456789abcdef";
    hln_buf_put(out, "0x", 2);
    for (size_t i = 0; i < len; i++) {
        hln_buf_u8(out, (uint8_t)hx[v[i] >> 4]);
        hln_buf_u8(out, (uint8_t)hx[v[i] & 15]);
    }
}

static void put_double(hln_buf *out, double d, bool is_float)
{
    if (isnan(d)) {
        hln_buf_put(out, "NaN", 3);
        return;
    }
    if (isinf(d)) {
        hln_buf_printf(out, "%sInfinity", d < 0 ? "-" : "");
        return;
    }
    char buf[40];
    int max = is_float ? 9 : 17;
    int prec = 1;
    for (; prec <= max; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (is_float ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d) break;
    }
    /* Shortest round-trip digits, but never exponent form for a whole number
     * that fits the type's precision: 50.0 prints "50", as cqlsh shows it. */
    int intdigits = fabs(d) >= 1 ? (int)floor(log10(fabs(d))) + 1 : 0;
    if (intdigits > prec) {
        prec = intdigits < max ? intdigits : max;
        snprintf(buf, sizeof buf, "%.*g", prec, d);
    }
    hln_buf_put(out, buf, strlen(buf));
}

/* One element inside a collection: strings quoted as CQL literals. */
static void format_element(const hln_type *t, const uint8_t *v, int32_t len, hln_buf *out)
{
    if (len < 0) {
        hln_buf_put(out, "null", 4);
        return;
    }
    bool quote = t->kind == HLN_T_VARCHAR || t->kind == HLN_T_ASCII || t->kind == HLN_T_TIMESTAMP ||
                 t->kind == HLN_T_DATE || t->kind == HLN_T_TIME || t->kind == HLN_T_INET;
    if (!quote) {
        hln_type_format(t, v, (size_t)len, out);
        return;
    }
    hln_buf tmp;
    hln_buf_init(&tmp);
    hln_type_format(t, v, (size_t)len, &tmp);
    hln_buf_u8(out, '\'');
    for (size_t i = 0; i < tmp.len; i++) {
        if (tmp.data[i] == '\'') hln_buf_u8(out, '\'');
        hln_buf_u8(out, tmp.data[i]);
    }
    hln_buf_u8(out, '\'');
    hln_buf_free(&tmp);
}

/* list [a, b], set {a, b}, map {k: v}, in the protocol v4 collection
 * serialisation ([i32 n] then [i32 len][bytes] per element). Malformed
 * input falls back to hex. */
static bool format_collection(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    bool is_map = t->kind == HLN_T_MAP;
    if (t->nparams < (is_map ? 2 : 1)) return false;
    hln_rd r;
    hln_rd_init(&r, v, len);
    uint32_t n = hln_rd_u32(&r);
    hln_buf tmp;
    hln_buf_init(&tmp);
    hln_buf_u8(&tmp, t->kind == HLN_T_LIST ? '[' : '{');
    for (uint32_t i = 0; i < n && !r.err; i++) {
        if (i) hln_buf_put(&tmp, ", ", 2);
        for (int part = 0; part < (is_map ? 2 : 1) && !r.err; part++) {
            int32_t elen = (int32_t)hln_rd_u32(&r);
            const uint8_t *e = elen > 0 ? hln_rd_take(&r, (size_t)elen) : v;
            if (part) hln_buf_put(&tmp, ": ", 2);
            if (!r.err) format_element(t->params[part], e, elen, &tmp);
        }
    }
    hln_buf_u8(&tmp, t->kind == HLN_T_LIST ? ']' : '}');
    bool ok = !r.err && hln_rd_left(&r) == 0 && !tmp.err;
    if (ok) hln_buf_put(out, tmp.data, tmp.len);
    hln_buf_free(&tmp);
    return ok;
}

/* vector [a, b]; malformed input falls back to hex. */
static bool format_vector(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    const uint8_t *els[64];
    int32_t lens[64];
    if (t->dim > 64 || hln_vector_split(t, v, len, els, lens)) return false;
    hln_buf_u8(out, '[');
    for (int i = 0; i < t->dim; i++) {
        if (i) hln_buf_put(out, ", ", 2);
        format_element(t->params[0], els[i], lens[i], out);
    }
    hln_buf_u8(out, ']');
    return true;
}

/* tuple (a, null, 'b'); UDT {f: 1, g: null}; malformed input falls back
 * to hex. */
static bool format_tuple(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    const uint8_t *els[HLN_TUPLE_MAX];
    int32_t lens[HLN_TUPLE_MAX];
    int n = 0;
    bool udt = t->kind == HLN_T_UDT;
    if (hln_tuple_split(t, v, len, els, lens, &n)) return false;
    hln_buf_u8(out, udt ? '{' : '(');
    for (int i = 0; i < (udt ? t->nparams : n); i++) {
        if (i) hln_buf_put(out, ", ", 2);
        if (udt) hln_buf_printf(out, "%s: ", hln_udt_field(t, i));
        format_element(t->params[i], i < n ? els[i] : NULL, i < n ? lens[i] : -1, out);
    }
    hln_buf_u8(out, udt ? '}' : ')');
    return true;
}

void hln_type_format(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    hln_type_kind k = t->kind;
    if ((k == HLN_T_TUPLE || k == HLN_T_UDT) && len > 0 && format_tuple(t, v, len, out)) return;
    if (k == HLN_T_VECTOR && len > 0 && format_vector(t, v, len, out)) return;
    if ((k == HLN_T_LIST || k == HLN_T_SET || k == HLN_T_MAP) && len > 0 &&
        format_collection(t, v, len, out))
        return;
    if (k == HLN_T_VARCHAR || k == HLN_T_ASCII) {
        hln_buf_put(out, v, len);
        return;
    }
    if (k == HLN_T_BLOB) {
        put_hex(out, v, len);
        return;
    }
    if (len == 0) return; /* an empty value of a non-string type shows as nothing */
    switch (k) {
    case HLN_T_TINYINT:
    case HLN_T_SMALLINT:
    case HLN_T_INT:
    case HLN_T_BIGINT:
    case HLN_T_COUNTER: {
        size_t n = k == HLN_T_TINYINT ? 1 : k == HLN_T_SMALLINT ? 2 : k == HLN_T_INT ? 4 : 8;
        if (len != n) break;
        uint64_t u = be_get(v, n);
        if (n < 8 && (v[0] & 0x80)) u |= UINT64_MAX << (8 * n);
        hln_buf_printf(out, "%lld", (long long)(int64_t)u);
        return;
    }
    case HLN_T_VARINT:
        hln_varint_to_decimal(v, len, out);
        return;
    case HLN_T_DECIMAL:
        if (len >= 4) {
            hln_decimal_format(v, len, out);
            return;
        }
        break;
    case HLN_T_DURATION:
        if (hln_duration_validate(v, len, NULL) == 0) {
            hln_duration_format(v, len, out);
            return;
        }
        break;
    case HLN_T_FLOAT:
        if (len == 4) {
            uint32_t bits = (uint32_t)be_get(v, 4);
            float f;
            memcpy(&f, &bits, 4);
            put_double(out, f, true);
            return;
        }
        break;
    case HLN_T_DOUBLE:
        if (len == 8) {
            uint64_t bits = be_get(v, 8);
            double d;
            memcpy(&d, &bits, 8);
            put_double(out, d, false);
            return;
        }
        break;
    case HLN_T_BOOLEAN:
        if (len == 1) {
            hln_buf_printf(out, "%s", v[0] ? "True" : "False");
            return;
        }
        break;
    case HLN_T_UUID:
    case HLN_T_TIMEUUID:
        if (len == 16) {
            char s[37];
            hln_uuid_format(v, s);
            hln_buf_put(out, s, 36);
            return;
        }
        break;
    case HLN_T_TIMESTAMP:
        if (len == 8) {
            int64_t ms = (int64_t)be_get(v, 8);
            int64_t days = floor_div(ms, 86400000), y;
            int64_t rem = ms - days * 86400000;
            int m, d;
            civil_from_days(days, &y, &m, &d);
            if (y < 1 || y > 9999) { /* cqlsh shows such values as the raw number */
                hln_buf_printf(out, "%lld", (long long)ms);
                return;
            }
            hln_buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d.%06d+0000", (int)y, m, d,
                           (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                           (int)(rem % 1000) * 1000);
            return;
        }
        break;
    case HLN_T_DATE:
        if (len == 4) {
            int64_t days = (int64_t)be_get(v, 4) - (INT64_C(1) << 31), y;
            int m, d;
            civil_from_days(days, &y, &m, &d);
            if (y < 1 || y > 9999) {
                hln_buf_printf(out, "%lld", (long long)days);
                return;
            }
            hln_buf_printf(out, "%04d-%02d-%02d", (int)y, m, d);
            return;
        }
        break;
    case HLN_T_TIME:
        if (len == 8) {
            int64_t ns = (int64_t)be_get(v, 8);
            if (ns < 0 || ns > INT64_C(86399999999999)) {
                hln_buf_printf(out, "%lld", (long long)ns);
                return;
            }
            int64_t s = ns / 1000000000;
            hln_buf_printf(out, "%02d:%02d:%02d.%09d", (int)(s / 3600), (int)(s / 60 % 60),
                           (int)(s % 60), (int)(ns % 1000000000));
            return;
        }
        break;
    case HLN_T_INET:
        if (len == 16) { /* Java's getHostAddress: eight groups, none elided */
            for (int g = 0; g < 8; g++)
                hln_buf_printf(out, g ? ":%x" : "%x", (unsigned)(v[2 * g] << 8 | v[2 * g + 1]));
            return;
        }
        if (len == 4) {
            char s[INET6_ADDRSTRLEN];
            if (inet_ntop(AF_INET, v, s, sizeof s)) {
                hln_buf_put(out, s, strlen(s));
                return;
            }
        }
        break;
    default:
        break;
    }
    put_hex(out, v, len);
}
