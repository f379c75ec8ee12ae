/*
 * json.c — values as JSON text, the way Cassandra 5.0's toJson() and
 * SELECT JSON write them (AbstractType.toJSONString).
 *
 * What each type becomes (checked against Cassandra 5.0.9):
 *   int bigint smallint tinyint counter varint   a JSON number
 *   float double     Java's Float/Double.toString: 1.0, 2.25, 1.0E10, 1.0E-5
 *   boolean          true / false
 *   text ascii       a JSON string (", \ and control characters escaped)
 *   blob             "0x..." ; uuid timeuuid inet: their text in a string
 *   timestamp        "2024-01-02 03:04:05.678Z" ; date "2024-01-02" ;
 *                    time "03:04:05.123000000"
 *   list set vector  [a, b] ; map {"key": value} with keys as JSON strings
 *                    (a text key as is, other keys their JSON text)
 * An empty (0-byte) non-string value and a null are null.
 *
 * Invariant: never reads outside [v, v+len); malformed values render as
 * null rather than fail (they cannot be stored: bind validates them).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types/typesInt.h"

static void json_string(hln_buf *out, const uint8_t *s, size_t n)
{
    hln_buf_u8(out, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            hln_buf_u8(out, '\\');
            hln_buf_u8(out, c);
        } else if (c < 0x20) {
            static const char *const esc[] = {
                [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r"};
            if (c < 14 && esc[c])
                hln_buf_put(out, esc[c], 2);
            else
                hln_buf_printf(out, "\\u%04x", c);
        } else {
            hln_buf_u8(out, c);
        }
    }
    hln_buf_u8(out, '"');
}

/* Java's Double.toString / Float.toString: the shortest digits that read
 * back, decimal notation for 1e-3 <= |x| < 1e7 (with at least one digit
 * after the point), else d.dddE[-]n. */
void hln_java_double(hln_buf *out, double d, bool is_float)
{
    if (isnan(d) || isinf(d)) {
        hln_buf_put(out, "null", 4);
        return;
    }
    if (d == 0) {
        hln_buf_put(out, signbit(d) ? "-0.0" : "0.0", signbit(d) ? 4 : 3);
        return;
    }
    char buf[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (is_float ? (float)strtod(buf, NULL) == (float)d : strtod(buf, NULL) == d) break;
    }
    /* buf = [-]D.DDDe[+-]XX: digits and exponent */
    char digits[32];
    int nd = 0, exp10;
    const char *p = buf;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg) hln_buf_u8(out, '-');
    double a = fabs(d);
    if (a >= 1e-3 && a < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                hln_buf_u8(out, i < nd ? (uint8_t)digits[i] : '0');
            hln_buf_u8(out, '.');
            if (nd > exp10 + 1)
                hln_buf_put(out, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
            else
                hln_buf_u8(out, '0');
        } else {
            hln_buf_put(out, "0.", 2);
            for (int i = 0; i < -exp10 - 1; i++)
                hln_buf_u8(out, '0');
            hln_buf_put(out, digits, (size_t)nd);
        }
        return;
    }
    hln_buf_u8(out, (uint8_t)digits[0]);
    hln_buf_u8(out, '.');
    if (nd > 1)
        hln_buf_put(out, digits + 1, (size_t)(nd - 1));
    else
        hln_buf_u8(out, '0');
    hln_buf_printf(out, "E%d", exp10);
}

static void elements(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out);

void hln_type_to_json(const hln_type *t, const uint8_t *v, int64_t len, hln_buf *out)
{
    if (len < 0) {
        hln_buf_put(out, "null", 4);
        return;
    }
    hln_type_kind k = t->kind;
    if (k == HLN_T_VARCHAR || k == HLN_T_ASCII) {
        json_string(out, v, (size_t)len);
        return;
    }
    if (len == 0 && k != HLN_T_BLOB) {
        hln_buf_put(out, "null", 4);
        return;
    }
    switch (k) {
    case HLN_T_TINYINT:
    case HLN_T_SMALLINT:
    case HLN_T_INT:
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
    case HLN_T_VARINT:
    case HLN_T_DECIMAL: /* BigDecimal.toString, unquoted: 1.5, 1E+2 */
    case HLN_T_BOOLEAN:
        hln_type_format(t, v, (size_t)len, out);
        if (k == HLN_T_BOOLEAN) { /* format gives True/False */
            out->len -= (size_t)(v[0] ? 4 : 5);
            hln_buf_put(out, v[0] ? "true" : "false", v[0] ? 4 : 5);
        }
        return;
    case HLN_T_FLOAT:
    case HLN_T_DOUBLE: {
        uint64_t bits = 0;
        for (int64_t i = 0; i < len; i++)
            bits = bits << 8 | v[i];
        double d;
        if (k == HLN_T_FLOAT && len == 4) {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, 4);
            d = f;
        } else if (len == 8) {
            memcpy(&d, &bits, 8);
        } else {
            hln_buf_put(out, "null", 4);
            return;
        }
        hln_java_double(out, d, k == HLN_T_FLOAT);
        return;
    }
    case HLN_T_TIMESTAMP:
    case HLN_T_TIME: {
        hln_buf tmp;
        hln_buf_init(&tmp);
        hln_type_format(t, v, (size_t)len, &tmp);
        if (k == HLN_T_TIMESTAMP && tmp.len > 11 && !memcmp(tmp.data + tmp.len - 5, "+0000", 5)) {
            /* 2024-01-02 03:04:05.678000+0000 -> 2024-01-02 03:04:05.678Z */
            size_t keep = tmp.len - 5 - 3;
            tmp.len = keep;
            hln_buf_u8(&tmp, 'Z');
        }
        json_string(out, tmp.data, tmp.len);
        hln_buf_free(&tmp);
        return;
    }
    case HLN_T_LIST:
    case HLN_T_SET:
    case HLN_T_MAP:
    case HLN_T_VECTOR:
        elements(t, v, (size_t)len, out);
        return;
    case HLN_T_TUPLE:
    case HLN_T_UDT: { /* [1, "a"]; {"f": 1, "g": null}: every component */
        const uint8_t *els[HLN_TUPLE_MAX];
        int32_t lens[HLN_TUPLE_MAX];
        int n = 0;
        bool udt = t->kind == HLN_T_UDT;
        if (hln_tuple_split(t, v, (size_t)len, els, lens, &n)) {
            hln_buf_put(out, "null", 4);
            return;
        }
        hln_buf_u8(out, udt ? '{' : '[');
        for (int i = 0; i < t->nparams; i++) {
            if (i) hln_buf_put(out, ", ", 2);
            if (udt) {
                const char *f = hln_udt_field(t, i);
                json_string(out, (const uint8_t *)f, strlen(f));
                hln_buf_put(out, ": ", 2);
            }
            hln_type_to_json(t->params[i], i < n ? els[i] : NULL, i < n ? lens[i] : -1, out);
        }
        hln_buf_u8(out, udt ? '}' : ']');
        return;
    }
    default: { /* blob, uuid, timeuuid, inet, date: their text as a string */
        hln_buf tmp;
        hln_buf_init(&tmp);
        hln_type_format(t, v, (size_t)len, &tmp);
        json_string(out, tmp.data, tmp.len);
        hln_buf_free(&tmp);
        return;
    }
    }
}

static void elements(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    if (t->kind == HLN_T_VECTOR) {
        const uint8_t *els[64];
        int32_t lens[64];
        if (t->dim > 64) {
            /* long vectors: split in a heap buffer */
            const uint8_t **he = malloc(sizeof *he * (size_t)t->dim);
            int32_t *hl = malloc(sizeof *hl * (size_t)t->dim);
            if (he && hl && !hln_vector_split(t, v, len, he, hl)) {
                hln_buf_u8(out, '[');
                for (int i = 0; i < t->dim; i++) {
                    if (i) hln_buf_put(out, ", ", 2);
                    hln_type_to_json(t->params[0], he[i], hl[i], out);
                }
                hln_buf_u8(out, ']');
            } else {
                hln_buf_put(out, "null", 4);
            }
            free(he);
            free(hl);
            return;
        }
        if (hln_vector_split(t, v, len, els, lens)) {
            hln_buf_put(out, "null", 4);
            return;
        }
        hln_buf_u8(out, '[');
        for (int i = 0; i < t->dim; i++) {
            if (i) hln_buf_put(out, ", ", 2);
            hln_type_to_json(t->params[0], els[i], lens[i], out);
        }
        hln_buf_u8(out, ']');
        return;
    }
    bool is_map = t->kind == HLN_T_MAP;
    hln_rd r;
    uint32_t n;
    if (hln_coll_begin(&r, v, len, &n)) {
        hln_buf_put(out, "null", 4);
        return;
    }
    hln_buf_u8(out, is_map ? '{' : '[');
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e;
        int32_t el;
        if (hln_coll_next(&r, &e, &el)) break;
        if (i) hln_buf_put(out, ", ", 2);
        if (is_map) {
            const hln_type *kt = t->params[0];
            if (kt->kind == HLN_T_VARCHAR || kt->kind == HLN_T_ASCII) {
                json_string(out, e, el < 0 ? 0 : (size_t)el);
            } else {
                /* MapType.toJSONString: a key not already a JSON string is quoted */
                hln_buf key;
                hln_buf_init(&key);
                hln_type_to_json(kt, e, el, &key);
                if (key.len && key.data[0] == '"')
                    hln_buf_put(out, key.data, key.len);
                else
                    json_string(out, key.data, key.len);
                hln_buf_free(&key);
            }
            hln_buf_put(out, ": ", 2);
            if (hln_coll_next(&r, &e, &el)) break;
            hln_type_to_json(t->params[1], e, el, out);
        } else {
            hln_type_to_json(t->params[0], e, el, out);
        }
    }
    hln_buf_u8(out, is_map ? '}' : ']');
}

void hln_json_string(hln_buf *out, const char *s)
{
    json_string(out, (const uint8_t *)s, strlen(s));
}

void hln_json_string_n(hln_buf *out, const uint8_t *s, size_t n, bool null)
{
    if (null)
        hln_buf_put(out, "null", 4);
    else
        json_string(out, s, n);
}
