/*
 * order.c — Cassandra's ordering of serialized values (hln_type_compare) and
 * the byte-comparable encoding that reproduces it under memcmp
 * (hln_type_to_comparable / hln_type_from_comparable).
 *
 * Why both in one file: they must agree exactly (types.h invariant 1), so
 * each type's rule is written down twice side by side.
 *
 * Ordering (Cassandra's AbstractType.compare family); an empty (0-byte)
 * value sorts before every non-empty one for every type:
 *   int bigint counter timestamp time smallint tinyint  signed integers
 *   varint         signed arbitrary precision (two's complement, any length)
 *   date           unsigned 32-bit (day 2^31 is 1970-01-01)
 *   float double   Java Float.compare/Double.compare: -0.0 < 0.0, every NaN
 *                  equal to every other and greater than +Infinity
 *   boolean        false (0x00) < true (any other byte)
 *   decimal        numeric value (BigDecimal.compareTo: 1.0 == 1.00)
 *   blob text ascii inet duration   unsigned bytes, a prefix sorts first
 *   uuid           version nibble, then (v1) the 60-bit timestamp or (other
 *                  versions) the msb as unsigned, then the lsb as unsigned
 *   timeuuid       timestamp (msb reordered as time_hi|time_mid|time_low,
 *                  signed), then the lsb as a sequence of signed bytes
 *
 * Comparable encoding of one component (prefix-free, memcmp order = the
 * order above):
 *   fixed-size types   0x00 (empty) | 0x01 + fixed bytes, transformed:
 *       signed ints    big-endian with the sign bit flipped
 *       date           big-endian as is
 *       float/double   sign bit set: all bits inverted; else sign bit flipped
 *                      (NaN first canonicalised to 0x7fc00000 / 0x7ff8...)
 *       boolean        0x00 or 0x01
 *       uuid           version byte, msb (v1: reordered), lsb   (17 bytes)
 *       timeuuid       reordered msb with sign bit flipped, lsb bytes ^ 0x80
 *   blob text ascii inet  bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x00
 *   varint         0x00 empty | 0x01 + u32(~n) + n bytes (negative) |
 *                  0x02 + u32(n) + n bytes (>= 0), n bytes = the minimal
 *                  two's complement form
 *   decimal        sign tag, adjusted exponent, digits without trailing
 *                  zeros (decimal.c has the details)
 *   duration       none: durations cannot be clustering keys
 *   DESC: every byte of the above inverted.
 *
 * Invariants:
 *  1. compare(a,b) < 0 <=> memcmp(enc(a), enc(b)) < 0, and likewise == / >.
 *  2. decode(enc(v)) == v for every value in canonical form. Values that
 *     compare equal to a different byte string are canonicalised by the
 *     encoding, exactly as Cassandra treats them as the same clustering:
 *     boolean bytes other than 0/1 decode as 0x01, NaNs as the canonical
 *     NaN, non-minimal varints as minimal, decimals of one value as one
 *     form (1.00 and 1.0 as 1; decimal.c).
 *  3. Fixed-size values of the wrong length are refused (HLN_EINVAL) by the
 *     encoder; compare falls back to unsigned bytes for them.
 */
#include "types/typesInt.h"

#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Sign-extends a big-endian two's complement value of 1..8 bytes. */
static int64_t get_signed(const uint8_t *p, size_t n)
{
    uint64_t v = (p[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* time_low|time_mid|time_hi_and_version -> time_hi_and_version|time_mid|time_low */
static uint64_t reorder(uint64_t msb)
{
    return msb << 48 | ((msb << 16) & UINT64_C(0xFFFF00000000)) | msb >> 32;
}

static uint64_t unreorder(uint64_t r)
{
    return (r & UINT64_C(0xFFFFFFFF)) << 32 | ((r >> 32) & 0xFFFF) << 16 | r >> 48;
}

/* Java's floatToIntBits/doubleToLongBits, as a key that orders like
 * Float.compare when compared as unsigned integers. */
static uint32_t float_key(uint32_t bits)
{
    if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu)) bits = 0x7FC00000u;
    return (bits & 0x80000000u) ? ~bits : bits ^ 0x80000000u;
}

static uint64_t double_key(uint64_t bits)
{
    const uint64_t exp = UINT64_C(0x7FF0000000000000), man = UINT64_C(0x000FFFFFFFFFFFFF);
    const uint64_t sign = UINT64_C(0x8000000000000000);
    if ((bits & exp) == exp && (bits & man)) bits = UINT64_C(0x7FF8000000000000);
    return (bits & sign) ? ~bits : bits ^ sign;
}

/* A varint's minimal two's complement form: redundant leading 0x00 / 0xFF
 * bytes dropped. Returns the start within v and sets *n. */
static const uint8_t *varint_min(const uint8_t *v, size_t len, size_t *n)
{
    while (len > 1 && ((v[0] == 0x00 && !(v[1] & 0x80)) || (v[0] == 0xFF && (v[1] & 0x80)))) {
        v++;
        len--;
    }
    *n = len;
    return v;
}

static int cmp_varint(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t an, bn;
    a = varint_min(a, alen, &an);
    b = varint_min(b, blen, &bn);
    bool aneg = a[0] & 0x80, bneg = b[0] & 0x80;
    if (aneg != bneg) return aneg ? -1 : 1;
    if (an != bn) return (an < bn) != aneg ? -1 : 1; /* longer = bigger magnitude */
    int c = memcmp(a, b, an);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}
static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

/* The expected length of a fixed-size type's non-empty values, else 0. */
static size_t fixed_len(hln_type_kind k)
{
    switch (k) {
    case HLN_T_BOOLEAN:
    case HLN_T_TINYINT:
        return 1;
    case HLN_T_SMALLINT:
        return 2;
    case HLN_T_INT:
    case HLN_T_FLOAT:
    case HLN_T_DATE:
        return 4;
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
    case HLN_T_TIMESTAMP:
    case HLN_T_TIME:
    case HLN_T_DOUBLE:
        return 8;
    case HLN_T_UUID:
    case HLN_T_TIMEUUID:
        return 16;
    default:
        return 0;
    }
}

static bool is_signed_int(hln_type_kind k)
{
    return k == HLN_T_INT || k == HLN_T_BIGINT || k == HLN_T_COUNTER || k == HLN_T_TIMESTAMP ||
           k == HLN_T_TIME || k == HLN_T_SMALLINT || k == HLN_T_TINYINT;
}

/* ---- compare ---------------------------------------------------------- */

int hln_type_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    if (alen == 0 || blen == 0) return (alen != 0) - (blen != 0);
    hln_type_kind k = t->kind;
    if (hln_type_is_collection(t)) return hln_coll_compare(t, a, alen, b, blen);
    if (k == HLN_T_VECTOR) return hln_vector_compare(t, a, alen, b, blen);
    if (k == HLN_T_DECIMAL) return hln_decimal_compare(a, alen, b, blen);
    if (k == HLN_T_TUPLE || k == HLN_T_UDT) return hln_tuple_compare(t, a, alen, b, blen);
    size_t fl = fixed_len(k);
    if (fl && (alen != fl || blen != fl))
        return cmp_bytes(a, alen, b, blen); /* invalid values: any total order */
    if (is_signed_int(k)) return cmp_i64(get_signed(a, fl), get_signed(b, fl));
    switch (k) {
    case HLN_T_DATE:
        return cmp_u64(get32(a), get32(b));
    case HLN_T_FLOAT:
        return cmp_u64(float_key(get32(a)), float_key(get32(b)));
    case HLN_T_DOUBLE:
        return cmp_u64(double_key(get64(a)), double_key(get64(b)));
    case HLN_T_BOOLEAN:
        return (a[0] != 0) - (b[0] != 0);
    case HLN_T_VARINT:
        return cmp_varint(a, alen, b, blen);
    case HLN_T_UUID: {
        uint64_t am = get64(a), bm = get64(b);
        int av = (int)(am >> 12 & 0xF), bv = (int)(bm >> 12 & 0xF);
        if (av != bv) return av < bv ? -1 : 1;
        int c = av == 1 ? cmp_u64(reorder(am), reorder(bm)) : cmp_u64(am, bm);
        return c ? c : cmp_u64(get64(a + 8), get64(b + 8));
    }
    case HLN_T_TIMEUUID: {
        int c = cmp_i64((int64_t)reorder(get64(a)), (int64_t)reorder(get64(b)));
        for (int i = 8; i < 16 && !c; i++)
            c = cmp_i64((int8_t)a[i], (int8_t)b[i]);
        return c;
    }
    default: /* blob, text, ascii, inet and anything else: unsigned bytes */
        return cmp_bytes(a, alen, b, blen);
    }
}

/* ---- comparable encoding ---------------------------------------------- */

static void put_escaped(hln_buf *out, const uint8_t *v, size_t len)
{
    size_t run = 0; /* start of the pending run without 0x00 */
    for (size_t i = 0; i < len; i++) {
        if (v[i] == 0x00) {
            hln_buf_put(out, v + run, i - run);
            hln_buf_u8(out, 0x00);
            hln_buf_u8(out, 0xFF);
            run = i + 1;
        }
    }
    hln_buf_put(out, v + run, len - run);
    hln_buf_u8(out, 0x00);
    hln_buf_u8(out, 0x00);
}

static int encode(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    hln_type_kind k = t->kind;
    if (hln_type_is_collection(t)) return hln_coll_encode(t, v, len, out);
    if (k == HLN_T_VECTOR) return hln_vector_encode(t, v, len, out);
    if (k == HLN_T_DECIMAL) return hln_decimal_encode(v, len, out);
    if (k == HLN_T_TUPLE || k == HLN_T_UDT) return hln_tuple_encode(t, v, len, out);
    size_t fl = fixed_len(k);
    if (fl) {
        if (len == 0) {
            hln_buf_u8(out, 0x00);
            return 0;
        }
        if (len != fl) return HLN_EINVAL;
        uint8_t x[17];
        size_t n = fl;
        memcpy(x, v, fl);
        if (is_signed_int(k)) {
            x[0] ^= 0x80;
        } else if (k == HLN_T_FLOAT) {
            uint32_t key = float_key(get32(v));
            x[0] = (uint8_t)(key >> 24), x[1] = (uint8_t)(key >> 16);
            x[2] = (uint8_t)(key >> 8), x[3] = (uint8_t)key;
        } else if (k == HLN_T_DOUBLE) {
            put64(x, double_key(get64(v)));
        } else if (k == HLN_T_BOOLEAN) {
            x[0] = v[0] != 0;
        } else if (k == HLN_T_UUID) {
            uint64_t msb = get64(v);
            int ver = (int)(msb >> 12 & 0xF);
            x[0] = (uint8_t)ver;
            put64(x + 1, ver == 1 ? reorder(msb) : msb);
            memcpy(x + 9, v + 8, 8);
            n = 17;
        } else if (k == HLN_T_TIMEUUID) {
            put64(x, reorder(get64(v)) ^ UINT64_C(0x8000000000000000));
            for (int i = 8; i < 16; i++)
                x[i] ^= 0x80;
        } /* date: as is */
        hln_buf_u8(out, 0x01);
        hln_buf_put(out, x, n);
        return 0;
    }
    if (k == HLN_T_VARINT) {
        if (len == 0) {
            hln_buf_u8(out, 0x00);
            return 0;
        }
        size_t n;
        const uint8_t *m = varint_min(v, len, &n);
        if (n > UINT32_MAX) return HLN_ETOOBIG;
        bool neg = m[0] & 0x80;
        hln_buf_u8(out, neg ? 0x01 : 0x02);
        hln_buf_u32(out, neg ? ~(uint32_t)n : (uint32_t)n);
        hln_buf_put(out, m, n);
        return 0;
    }
    switch (k) {
    case HLN_T_BLOB:
    case HLN_T_ASCII:
    case HLN_T_VARCHAR:
    case HLN_T_INET:
        put_escaped(out, v, len);
        return 0;
    default:
        return HLN_EUNSUPPORTED;
    }
}

int hln_type_to_comparable(const hln_type *t, const uint8_t *v, size_t len, bool desc, hln_buf *out)
{
    size_t start = out->len;
    int rc = encode(t, v, len, out);
    if (rc) {
        if (!out->err) out->len = start;
        return rc;
    }
    if (out->err) return out->err;
    if (desc)
        for (size_t i = start; i < out->len; i++)
            out->data[i] = (uint8_t)~out->data[i];
    return 0;
}

/* Reads n bytes into dst, undoing the DESC inversion. */
static int take(hln_rd *r, bool desc, uint8_t *dst, size_t n)
{
    const uint8_t *p = hln_rd_take(r, n);
    if (!p) return HLN_ECORRUPT;
    for (size_t i = 0; i < n; i++)
        dst[i] = desc ? (uint8_t)~p[i] : p[i];
    return 0;
}

static int get_byte(hln_rd *r, bool desc, uint8_t *b)
{
    return take(r, desc, b, 1);
}

int hln_type_take_byte(hln_rd *r, bool desc, uint8_t *b)
{
    return take(r, desc, b, 1);
}

int hln_type_from_comparable(const hln_type *t, hln_rd *r, bool desc, hln_buf *out)
{
    hln_type_kind k = t->kind;
    if (hln_type_is_collection(t)) return hln_coll_decode(t, r, desc, out);
    if (k == HLN_T_VECTOR) return hln_vector_decode(t, r, desc, out);
    if (k == HLN_T_DECIMAL) return hln_decimal_decode(r, desc, out);
    if (k == HLN_T_TUPLE || k == HLN_T_UDT) return hln_tuple_decode(t, r, desc, out);
    size_t fl = fixed_len(k);
    uint8_t tag;
    if (fl) {
        if (get_byte(r, desc, &tag)) return HLN_ECORRUPT;
        if (tag == 0x00) return 0; /* empty value */
        if (tag != 0x01) return HLN_ECORRUPT;
        uint8_t x[17];
        if (take(r, desc, x, k == HLN_T_UUID ? 17 : fl)) return HLN_ECORRUPT;
        if (is_signed_int(k)) {
            x[0] ^= 0x80;
        } else if (k == HLN_T_FLOAT) {
            uint32_t key = get32(x);
            uint32_t bits = (key & 0x80000000u) ? key ^ 0x80000000u : ~key;
            x[0] = (uint8_t)(bits >> 24), x[1] = (uint8_t)(bits >> 16);
            x[2] = (uint8_t)(bits >> 8), x[3] = (uint8_t)bits;
        } else if (k == HLN_T_DOUBLE) {
            uint64_t key = get64(x);
            const uint64_t sign = UINT64_C(0x8000000000000000);
            put64(x, (key & sign) ? key ^ sign : ~key);
        } else if (k == HLN_T_BOOLEAN) {
            if (x[0] > 1) return HLN_ECORRUPT;
        } else if (k == HLN_T_UUID) {
            uint64_t m = get64(x + 1);
            if (x[0] == 1) m = unreorder(m);
            if ((m >> 12 & 0xF) != x[0]) return HLN_ECORRUPT;
            put64(x, m);
            memmove(x + 8, x + 9, 8);
        } else if (k == HLN_T_TIMEUUID) {
            put64(x, unreorder(get64(x) ^ UINT64_C(0x8000000000000000)));
            for (int i = 8; i < 16; i++)
                x[i] ^= 0x80;
        }
        hln_buf_put(out, x, fl);
        return out->err;
    }
    if (k == HLN_T_VARINT) {
        if (get_byte(r, desc, &tag)) return HLN_ECORRUPT;
        if (tag == 0x00) return 0;
        if (tag != 0x01 && tag != 0x02) return HLN_ECORRUPT;
        uint8_t nb[4];
        if (take(r, desc, nb, 4)) return HLN_ECORRUPT;
        uint32_t n = get32(nb);
        if (tag == 0x01) n = ~n;
        if (n == 0 || n > hln_rd_left(r)) return HLN_ECORRUPT;
        size_t start = out->len;
        if (hln_buf_reserve(out, n)) return out->err ? out->err : HLN_ENOMEM;
        if (take(r, desc, out->data + start, n)) return HLN_ECORRUPT;
        out->len += n;
        bool neg = out->data[start] & 0x80;
        if (neg != (tag == 0x01)) return HLN_ECORRUPT;
        return 0;
    }
    switch (k) {
    case HLN_T_BLOB:
    case HLN_T_ASCII:
    case HLN_T_VARCHAR:
    case HLN_T_INET:
        for (;;) {
            uint8_t c, e;
            if (get_byte(r, desc, &c)) return HLN_ECORRUPT;
            if (c != 0x00) {
                hln_buf_u8(out, c);
                continue;
            }
            if (get_byte(r, desc, &e)) return HLN_ECORRUPT;
            if (e == 0x00) return out->err;
            if (e != 0xFF) return HLN_ECORRUPT;
            hln_buf_u8(out, 0x00);
        }
    default:
        return HLN_EUNSUPPORTED;
    }
}
