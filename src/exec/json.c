/*
 * json.c — INSERT JSON: a JSON document turned into one value per column.
 *
 * What: the analyzer gives every column of the table a synthetic marker
 * (analyze.c, insert_json); here, at execution, the document is parsed
 * (jansson), each key matched to a column (a key naming a case-sensitive
 * column is written quoted, "\"Big\"", as CQL would quote it), and each
 * JSON value converted to the column type's serialisation, the way
 * Cassandra's fromJSONObject does: numbers or numeric strings for numeric
 * types, strings for text, dates, times, uuids, inet and "0x..." blobs,
 * arrays for lists, sets and vectors, objects for maps (keys are JSON
 * strings; for non-text key types their text is parsed again as JSON).
 * Columns the document leaves out are null (DEFAULT NULL) or untouched
 * (DEFAULT UNSET). The rest is an ordinary INSERT.
 *
 * ex_json_value does the same for one value: fromJson(text) in a term.
 *
 * Invariants: values live in r->arena; st->vals is replaced by a longer
 * array (real markers first), never written in place (it may belong to
 * the caller).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

static int from_json(ex_request *r, const hln_type *t, const char *col, json_t *j, hln_buf *out);

/* ---- integers beyond 64 bits ------------------------------------------------
 * Jackson reads them as BigInteger; jansson refuses them ("too big
 * integer"). So before parsing, every integer literal outside a string
 * that does not fit in 64 bits is rewritten as a JSON string holding
 * BIGINT_MARK and its digits; the conversions below treat such a string
 * as the number it was (exact for varint and decimal, rounded for
 * float/double, Cassandra's "got a BigInteger" error elsewhere). */
#define BIGINT_MARK "\x01"

static bool fits_i64(const char *p, size_t n)
{
    bool neg = *p == '-';
    const char *d = p + neg;
    size_t nd = n - neg;
    while (nd > 1 && *d == '0')
        d++, nd--;
    if (nd < 19) return true;
    if (nd > 19) return false;
    return memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* text rewritten into out (NUL-terminated) when it has big integers;
 * false (out untouched) when it has none. */
static bool mark_bigints(const char *text, size_t len, hln_buf *out)
{
    bool in_str = false, any = false;
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) continue;
        size_t j = i + (c == '-');
        bool integer = true;
        while (j < len && ((text[j] >= '0' && text[j] <= '9') || text[j] == '.' || text[j] == 'e' ||
                           text[j] == 'E' || text[j] == '+' || text[j] == '-')) {
            if (text[j] == '.' || text[j] == 'e' || text[j] == 'E') integer = false;
            j++;
        }
        if (integer && j > i + (c == '-') && !fits_i64(text + i, j - i)) {
            hln_buf_put(out, text + from, i - from);
            hln_buf_put(out, "\"\\u0001", 7);
            hln_buf_put(out, text + i, j - i);
            hln_buf_u8(out, '"');
            from = j;
            any = true;
        }
        i = j - 1;
    }
    if (!any) return false;
    hln_buf_put(out, text + from, len - from);
    hln_buf_u8(out, 0);
    return true;
}

/* Parses JSON text as Jackson would read it (big integers marked). */
static json_t *load_json(const char *text, size_t len, json_error_t *je)
{
    hln_buf b;
    hln_buf_init(&b);
    json_t *j = mark_bigints(text, len, &b) && !b.err
                    ? json_loadb((const char *)b.data, b.len - 1, JSON_DECODE_ANY, je)
                    : json_loadb(text, len, JSON_DECODE_ANY, je);
    hln_buf_free(&b);
    return j;
}

/* The digits of a big integer marked by mark_bigints, or NULL. */
static const char *big_int(json_t *j)
{
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    return s && s[0] == BIGINT_MARK[0] ? s + 1 : NULL;
}

/* A JSON value as Jackson prints it in messages (free() the result). */
static char *json_text(json_t *j)
{
    const char *b = big_int(j);
    if (b) {
        char *c = malloc(strlen(b) + 1);
        if (c) strcpy(c, b);
        return c;
    }
    return json_dumps(j, JSON_ENCODE_ANY);
}

static int literal(ex_request *r, const hln_type *t, hln_lit_kind k, const char *text,
                   const char *col, hln_buf *out)
{
    int rc = hln_type_from_literal(t, k, text, col, out, &r->err);
    if (rc == HLN_EINVAL) { /* Cassandra names the column first */
        char msg[sizeof r->err.msg];
        snprintf(msg, sizeof msg, "%s", r->err.msg);
        return hln_fail(&r->err, HLN_EINVAL, "Error decoding JSON value for %s: %s", col, msg);
    }
    return rc;
}

/* Jackson's name for the Java class of a JSON value. */
static const char *java_kind(json_t *j)
{
    if (big_int(j)) return "BigInteger";
    if (json_is_integer(j) &&
        (json_integer_value(j) > INT32_MAX || json_integer_value(j) < INT32_MIN))
        return "Long";
    return json_is_integer(j)   ? "Integer"
           : json_is_real(j)    ? "Double"
           : json_is_string(j)  ? "String"
           : json_is_boolean(j) ? "Boolean"
           : json_is_array(j)   ? "ArrayList"
                                : "LinkedHashMap";
}

static int bad(ex_request *r, const char *col, const char *what)
{
    return hln_fail(&r->err, HLN_EINVAL, "Error decoding JSON value for %s: %s", col, what);
}

/* j as Java's toString prints the object Jackson made of it: numbers as
 * Java prints them, strings bare, [a, b] lists, {k=v} maps. */
static void java_repr(json_t *j, hln_buf *out)
{
    if (big_int(j)) {
        hln_buf_put(out, big_int(j), strlen(big_int(j)));
    } else if (json_is_integer(j)) {
        hln_buf_printf(out, "%lld", (long long)json_integer_value(j));
    } else if (json_is_real(j)) {
        hln_java_double(out, json_real_value(j), false);
    } else if (json_is_string(j)) {
        hln_buf_put(out, json_string_value(j), json_string_length(j));
    } else if (json_is_boolean(j)) {
        hln_buf_put(out, json_is_true(j) ? "true" : "false", json_is_true(j) ? 4 : 5);
    } else if (json_is_array(j)) {
        hln_buf_u8(out, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i) hln_buf_put(out, ", ", 2);
            java_repr(json_array_get(j, i), out);
        }
        hln_buf_u8(out, ']');
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        bool first = true;
        hln_buf_u8(out, '{');
        json_object_foreach(j, k, v)
        {
            if (!first) hln_buf_put(out, ", ", 2);
            first = false;
            hln_buf_printf(out, "%s=", k);
            java_repr(v, out);
        }
        hln_buf_u8(out, '}');
    } else {
        hln_buf_put(out, "null", 4);
    }
}

/* Cassandra's "Expected <what>, but got a <class>: <value>". */
static int wrong(ex_request *r, const char *col, const char *what, json_t *j)
{
    hln_buf v;
    hln_buf_init(&v);
    java_repr(j, &v);
    int rc =
        hln_fail(&r->err, HLN_EINVAL, "Error decoding JSON value for %s: %s, but got a %s: %.*s",
                 col, what, java_kind(j), (int)v.len, v.err ? "?" : (const char *)v.data);
    hln_buf_free(&v);
    return rc;
}

/* A collection, tuple or UDT given as a JSON string: its text is parsed as
 * JSON again (Cassandra's fromJSONObject does the same). *tmp holds the
 * parsed value (json_decref it); NULL with an error when it does not parse. */
static int reparse(ex_request *r, const char *col, json_t **j, json_t **tmp)
{
    *tmp = NULL;
    if (!json_is_string(*j) || big_int(*j)) return 0;
    json_error_t je;
    const char *s = json_string_value(*j);
    *tmp = load_json(s, json_string_length(*j), &je);
    if (!*tmp)
        return hln_fail(&r->err, HLN_EINVAL,
                        "Error decoding JSON value for %s: Error decoding JSON string: %s", col,
                        je.text);
    *j = *tmp;
    return 0;
}

static int elements(ex_request *r, const hln_type *t, const char *col, json_t *j, hln_buf *out)
{
    bool is_map = t->kind == HLN_T_MAP;
    size_t n = is_map ? json_object_size(j) : json_array_size(j);
    if (is_map ? !json_is_object(j) : !json_is_array(j))
        return wrong(r, col,
                     is_map                 ? "Expected a map"
                     : t->kind == HLN_T_SET ? "Expected a list (representing a set)"
                                            : "Expected a list",
                     j);
    if (t->kind == HLN_T_VECTOR && (int)n != t->dim) {
        hln_buf v;
        hln_buf_init(&v);
        java_repr(j, &v);
        int rc = hln_fail(&r->err, HLN_EINVAL,
                          "Error decoding JSON value for %s: List had incorrect size: expected %d "
                          "but given %zu; %.*s",
                          col, t->dim, n, (int)v.len, v.err ? "?" : (const char *)v.data);
        hln_buf_free(&v);
        return rc;
    }
    size_t per = is_map ? 2 : 1;
    const uint8_t **els = hln_arena_alloc(&r->arena, sizeof *els * (n * per + 1));
    int32_t *lens = hln_arena_alloc(&r->arena, sizeof *lens * (n * per + 1));
    if (!els || !lens) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    hln_buf e;
    hln_buf_init(&e);
    int rc = 0;
    size_t k = 0;
    if (is_map) {
        const char *key;
        json_t *val;
        json_object_foreach(j, key, val)
        {
            const hln_type *kt = t->params[0];
            json_t *kj;
            if (kt->kind == HLN_T_VARCHAR || kt->kind == HLN_T_ASCII)
                kj = json_string(key);
            else
                kj = load_json(key, strlen(key), NULL);
            if (!kj) kj = json_string(key);
            for (int part = 0; part < 2 && !rc; part++) {
                hln_buf_reset(&e);
                json_t *x = part ? val : kj;
                if (json_is_null(x)) {
                    rc = hln_fail(&r->err, HLN_EINVAL,
                                  "Error decoding JSON value for %s: Invalid null %s in map", col,
                                  part ? "value" : "key");
                    break;
                }
                rc = from_json(r, t->params[part], col, x, &e);
                if (!rc) {
                    els[k] = hln_arena_memdup(&r->arena, e.data, e.len ? e.len : 1);
                    lens[k++] = (int32_t)e.len;
                }
            }
            json_decref(kj);
            if (rc) break;
        }
    } else {
        for (size_t i = 0; i < n && !rc; i++) {
            json_t *x = json_array_get(j, i);
            if (json_is_null(x)) {
                rc = t->kind == HLN_T_VECTOR
                         ? hln_fail(&r->err, HLN_EINVAL, "null is not supported inside vectors")
                         : hln_fail(&r->err, HLN_EINVAL,
                                    "Error decoding JSON value for %s: Invalid null element in %s",
                                    col, t->kind == HLN_T_SET ? "set" : "list");
                break;
            }
            hln_buf_reset(&e);
            rc = from_json(r, t->params[0], col, x, &e);
            if (!rc) {
                els[k] = hln_arena_memdup(&r->arena, e.data, e.len ? e.len : 1);
                lens[k++] = (int32_t)e.len;
            }
        }
    }
    hln_buf_free(&e);
    if (rc) return rc;
    if (t->kind == HLN_T_VECTOR) {
        return hln_vector_build(t, els, lens, out) ? hln_fail(&r->err, HLN_ENOMEM, "out of memory")
                                                   : 0;
    }
    return hln_coll_build(t, els, lens, (uint32_t)n, out)
               ? hln_fail(&r->err, HLN_ENOMEM, "out of memory")
               : 0;
}

/* A tuple from a JSON list, a UDT from a JSON object (TupleType and
 * UserType.fromJSONObject); missing fields are null, a tuple must have
 * every component. */
static int tuple_json(ex_request *r, const hln_type *t, const char *col, json_t *j, hln_buf *out)
{
    bool udt = t->kind == HLN_T_UDT;
    if (udt ? !json_is_object(j) : !json_is_array(j)) {
        char *txt = json_dumps(j, JSON_ENCODE_ANY);
        int rc = hln_fail(&r->err, HLN_EINVAL,
                          udt ? "Error decoding JSON value for %s: Expected a map, but got a %s: %s"
                              : "Error decoding JSON value for %s: Expected a list representation "
                                "of a tuple, but got a %s: %s",
                          col, java_kind(j), txt ? txt : "?");
        free(txt);
        return rc;
    }
    json_t *vals[HLN_TUPLE_MAX] = {NULL};
    if (udt) {
        const char *key;
        json_t *val;
        json_object_foreach(j, key, val)
        {
            int at = -1;
            for (int f = 0; f < t->nparams; f++)
                if (!strcmp(hln_udt_field(t, f), key)) at = f;
            if (at < 0)
                return hln_fail(&r->err, HLN_EINVAL,
                                "Error decoding JSON value for %s: Unknown field '%s' in value of "
                                "user defined type %s",
                                col, key, hln_udt_name(t));
            vals[at] = val;
        }
    } else {
        if (json_array_size(j) > (size_t)t->nparams) {
            /* the list as Java prints it: [1, a, 2] */
            hln_buf l;
            hln_buf_init(&l);
            hln_buf_u8(&l, '[');
            for (size_t i = 0; i < json_array_size(j); i++) {
                json_t *x = json_array_get(j, i);
                char *txt = json_is_string(x) ? NULL : json_dumps(x, JSON_ENCODE_ANY);
                hln_buf_printf(&l, "%s%s", i ? ", " : "",
                               json_is_string(x) ? json_string_value(x)
                               : txt             ? txt
                                                 : "?");
                free(txt);
            }
            hln_buf_u8(&l, ']');
            hln_buf_u8(&l, 0);
            int rc = hln_fail(&r->err, HLN_EINVAL,
                              "Error decoding JSON value for %s: Tuple contains extra items "
                              "(expected %d): %s",
                              col, t->nparams, l.err ? "?" : (const char *)l.data);
            hln_buf_free(&l);
            return rc;
        }
        if (json_array_size(j) < (size_t)t->nparams) {
            hln_buf l;
            hln_buf_init(&l);
            java_repr(j, &l);
            int rc = hln_fail(&r->err, HLN_EINVAL,
                              "Error decoding JSON value for %s: Tuple is missing items (expected "
                              "%d): %.*s",
                              col, t->nparams, (int)l.len, l.err ? "?" : (const char *)l.data);
            hln_buf_free(&l);
            return rc;
        }
        for (size_t i = 0; i < json_array_size(j); i++)
            vals[i] = json_array_get(j, i);
    }
    hln_buf e;
    hln_buf_init(&e);
    int rc = 0;
    for (int i = 0; i < t->nparams && !rc; i++) {
        if (!vals[i] || json_is_null(vals[i])) {
            hln_buf_u32(out, UINT32_MAX);
            continue;
        }
        hln_buf_reset(&e);
        rc = from_json(r, t->params[i], col, vals[i], &e);
        if (!rc) {
            hln_buf_u32(out, (uint32_t)e.len);
            hln_buf_put(out, e.data, e.len);
        }
    }
    hln_buf_free(&e);
    if (!rc && out->err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    return rc;
}

static int from_json(ex_request *r, const hln_type *t, const char *col, json_t *j, hln_buf *out)
{
    char num[64];
    json_t *tmp = NULL;
    int rc;
    switch (t->kind) {
    case HLN_T_TUPLE:
    case HLN_T_UDT:
        if ((rc = reparse(r, col, &j, &tmp)) != 0) return rc;
        rc = tuple_json(r, t, col, j, out);
        json_decref(tmp);
        return rc;
    case HLN_T_LIST:
    case HLN_T_SET:
    case HLN_T_MAP:
    case HLN_T_VECTOR:
        if ((rc = reparse(r, col, &j, &tmp)) != 0) return rc;
        rc = elements(r, t, col, j, out);
        json_decref(tmp);
        return rc;
    case HLN_T_TINYINT:
    case HLN_T_SMALLINT:
    case HLN_T_INT:
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
    case HLN_T_VARINT:
        if (json_is_integer(j)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
            return literal(r, t, HLN_LIT_INTEGER, num, col, out);
        }
        if (big_int(j) && t->kind == HLN_T_VARINT)
            return literal(r, t, HLN_LIT_INTEGER, big_int(j), col, out);
        if (json_is_string(j) && !big_int(j))
            return literal(r, t, HLN_LIT_INTEGER, json_string_value(j), col, out);
        if (t->kind == HLN_T_VARINT && json_is_real(j)) {
            /* IntegerType.fromJSONObject: new BigInteger(the Double's text) */
            hln_buf d;
            hln_buf_init(&d);
            hln_java_double(&d, json_real_value(j), false);
            int rc2 = hln_fail(&r->err, HLN_EINVAL,
                               "Error decoding JSON value for %s: Value '%.*s' is not a valid "
                               "representation of a varint value",
                               col, (int)d.len, d.err ? "?" : (const char *)d.data);
            hln_buf_free(&d);
            return rc2;
        }
        {
            char *txt = json_text(j);
            int rc2 = hln_fail(&r->err, HLN_EINVAL,
                               "Error decoding JSON value for %s: Expected %s value, but got a "
                               "%s: %s",
                               col,
                               t->kind == HLN_T_INT        ? "an int"
                               : t->kind == HLN_T_BIGINT   ? "a bigint"
                               : t->kind == HLN_T_SMALLINT ? "a smallint"
                               : t->kind == HLN_T_TINYINT  ? "a tinyint"
                                                           : "an integer",
                               java_kind(j), txt ? txt : "?");
            free(txt);
            return rc2;
        }
    case HLN_T_FLOAT:
    case HLN_T_DOUBLE:
        if (json_is_number(j) || big_int(j)) {
            snprintf(num, sizeof num, "%.17g",
                     big_int(j) ? strtod(big_int(j), NULL) : json_number_value(j));
            if (!strchr(num, '.') && !strchr(num, 'e') && !strchr(num, 'n') && !strchr(num, 'i'))
                strcat(num, ".0");
            return literal(r, t, HLN_LIT_FLOAT, num, col, out);
        }
        if (json_is_string(j)) return literal(r, t, HLN_LIT_FLOAT, json_string_value(j), col, out);
        return bad(r, col, "Expected a number");
    case HLN_T_DURATION:
        if (json_is_string(j) && !big_int(j))
            return literal(r, t, HLN_LIT_DURATION, json_string_value(j), col, out);
        return wrong(r, col, "Expected a string representation of a duration", j);
    case HLN_T_DECIMAL: /* DecimalType.fromJSONObject: new BigDecimal(the value's text) */
        if (json_is_integer(j)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
            return literal(r, t, HLN_LIT_INTEGER, num, col, out);
        }
        if (big_int(j)) return literal(r, t, HLN_LIT_INTEGER, big_int(j), col, out);
        if (json_is_real(j)) { /* Jackson's Double: its Double.toString text */
            hln_buf d;
            hln_buf_init(&d);
            hln_java_double(&d, json_real_value(j), false);
            hln_buf_u8(&d, 0);
            int rc2 = d.err ? hln_fail(&r->err, HLN_ENOMEM, "out of memory")
                            : literal(r, t, HLN_LIT_FLOAT, (const char *)d.data, col, out);
            hln_buf_free(&d);
            return rc2;
        }
        if (json_is_string(j)) {
            const char *s = json_string_value(j);
            if (!*s) return 0; /* the empty value */
            hln_error e = {0};
            if (hln_type_from_literal(t, HLN_LIT_FLOAT, s, col, out, &e) == 0) return 0;
            return hln_fail(&r->err, HLN_EINVAL,
                            "Error decoding JSON value for %s: Value '%s' is not a valid "
                            "representation of a decimal value",
                            col, s);
        }
        {
            char *txt = json_text(j);
            int rc2 = hln_fail(&r->err, HLN_EINVAL,
                               "Error decoding JSON value for %s: Value '%s' is not a valid "
                               "representation of a decimal value",
                               col, txt ? txt : "?");
            free(txt);
            return rc2;
        }
    case HLN_T_BOOLEAN:
        if (json_is_boolean(j)) {
            hln_buf_u8(out, json_is_true(j) ? 1 : 0);
            return 0;
        }
        if (json_is_string(j) && !big_int(j))
            return literal(r, t, HLN_LIT_BOOL, json_string_value(j), col, out);
        return wrong(r, col, "Expected a boolean value", j);
    case HLN_T_TIMESTAMP:
        if (json_is_integer(j)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
            return literal(r, t, HLN_LIT_INTEGER, num, col, out);
        }
        if (json_is_string(j) && !big_int(j))
            return literal(r, t, HLN_LIT_STRING, json_string_value(j), col, out);
        return wrong(r, col, "Expected a long or a datestring representation of a timestamp value",
                     j);
    case HLN_T_BLOB:
        if (json_is_string(j) && !big_int(j))
            return literal(r, t, HLN_LIT_HEX, json_string_value(j), col, out);
        {
            /* BytesType.fromJSONObject casts to String: Java's ClassCastException */
            static const char *const cls[] = {"java.lang.Integer",   "java.lang.Long",
                                              "java.lang.Double",    "java.lang.Boolean",
                                              "java.util.ArrayList", "java.util.LinkedHashMap",
                                              "java.math.BigInteger"};
            const char *k = java_kind(j);
            const char *c = !strcmp(k, "Integer")      ? cls[0]
                            : !strcmp(k, "Long")       ? cls[1]
                            : !strcmp(k, "Double")     ? cls[2]
                            : !strcmp(k, "Boolean")    ? cls[3]
                            : !strcmp(k, "ArrayList")  ? cls[4]
                            : !strcmp(k, "BigInteger") ? cls[6]
                                                       : cls[5];
            hln_buf v;
            hln_buf_init(&v);
            java_repr(j, &v);
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Error decoding JSON value for %s: Value '%.*s' is not a valid blob "
                          "representation: class %s cannot be cast to class java.lang.String (%s "
                          "and java.lang.String are in module java.base of loader 'bootstrap')",
                          col, (int)v.len, v.err ? "?" : (const char *)v.data, c, c);
            hln_buf_free(&v);
            return rc;
        }
    case HLN_T_UUID:
    case HLN_T_TIMEUUID:
        if (json_is_string(j) && !big_int(j))
            return literal(r, t, HLN_LIT_UUID, json_string_value(j), col, out);
        return wrong(r, col,
                     t->kind == HLN_T_TIMEUUID ? "Expected a string representation of a timeuuid"
                                               : "Expected a string representation of a uuid",
                     j);
    default: /* text, ascii, date, time, inet, ... from a string */
        if (json_is_string(j) && !big_int(j))
            return literal(r, t, HLN_LIT_STRING, json_string_value(j), col, out);
        return wrong(r, col,
                     t->kind == HLN_T_ASCII  ? "Expected an ascii string"
                     : t->kind == HLN_T_DATE ? "Expected a string representation of a date value"
                     : t->kind == HLN_T_TIME ? "Expected a string representation of a time value"
                     : t->kind == HLN_T_INET ? "Expected a string representation of an inet value"
                                             : "Expected a UTF-8 string",
                     j);
    }
}

int ex_json_value(ex_request *r, const hln_type *t, const char *col, const uint8_t *text,
                  size_t len, ex_value *out)
{
    json_error_t je;
    json_t *j = load_json((const char *)text, len, &je);
    if (!j)
        return hln_fail(&r->err, HLN_EFUNCFAIL,
                        "execution of 'system.fromjson[text]' failed: Could not decode JSON "
                        "string '%.*s': %s",
                        (int)(len > 200 ? 200 : len), (const char *)text, je.text);
    if (json_is_null(j)) {
        json_decref(j);
        *out = (ex_value){NULL, -1};
        return 0;
    }
    hln_buf b;
    hln_buf_init(&b);
    int rc = from_json(r, t, col, j, &b);
    json_decref(j);
    char pre[300];
    snprintf(pre, sizeof pre, "Error decoding JSON value for %s: ", col);
    size_t pl = strlen(pre);
    if (rc == HLN_EINVAL && !hln_type_is_collection(t) && !strncmp(r->err.msg, pre, pl)) {
        /* a scalar that does not convert: Cassandra's function failure */
        char rest[sizeof r->err.msg];
        snprintf(rest, sizeof rest, "%s", r->err.msg + pl);
        rc = hln_fail(&r->err, HLN_EFUNCFAIL,
                      "org.apache.cassandra.serializers.MarshalException: %s", rest);
    }
    if (!rc && b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!rc) {
        static const uint8_t empty[1];
        out->p = b.len ? hln_arena_memdup(&r->arena, b.data, b.len) : empty;
        out->len = (int32_t)b.len;
        if (!out->p) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

/* The column a document key names: quoted keys keep their case. */
static int key_column(const hln_table *t, const char *key)
{
    char name[256];
    size_t n = strlen(key);
    if (n >= 2 && key[0] == '"' && key[n - 1] == '"') {
        size_t w = 0;
        for (size_t i = 1; i + 1 < n && w + 1 < sizeof name; i++) {
            if (key[i] == '"' && key[i + 1] == '"') i++;
            name[w++] = key[i];
        }
        name[w] = 0;
    } else { /* an unquoted name folds to lower case, as a CQL identifier */
        size_t w = 0;
        for (; key[w] && w + 1 < sizeof name; w++)
            name[w] = (char)(key[w] >= 'A' && key[w] <= 'Z' ? key[w] + 32 : key[w]);
        name[w] = 0;
    }
    const hln_column *c = table_column(t, name);
    return c ? (int)(c - t->cols) : -1;
}

int ex_json_bind(ex_request *r)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = st->plan;
    if (!p->json || !p->json_term) return 0;
    const hln_table *t = p->t;
    ex_value doc;
    int rc = ex_bind(r, p->json_term, hln_type_by_kind(HLN_T_VARCHAR), "[json]", &doc);
    if (rc) return rc;
    if (doc.len < 0) return hln_fail(&r->err, HLN_EINVAL, "Got null for INSERT JSON values");
    json_error_t je;
    json_t *root = load_json((const char *)doc.p, (size_t)doc.len, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return hln_fail(&r->err, HLN_EINVAL, "Could not decode JSON string as a map: %s",
                        root ? "not a JSON object" : je.text);
    }
    int n = p->json_base + t->ncols;
    ex_value *vals = hln_arena_alloc(&r->arena, sizeof *vals * (size_t)n);
    if (!vals) {
        json_decref(root);
        return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < p->json_base && i < st->nvals; i++)
        vals[i] = st->vals[i];
    for (int ci = 0; ci < t->ncols; ci++) {
        bool key =
            t->cols[ci].kind == HLN_COL_PARTITION_KEY || t->cols[ci].kind == HLN_COL_CLUSTERING;
        vals[p->json_base + ci] = (ex_value){NULL, p->json_unset && !key ? -2 : -1};
    }
    const char *k;
    json_t *v;
    hln_buf b;
    hln_buf_init(&b);
    json_object_foreach(root, k, v)
    {
        int ci = key_column(t, k);
        if (ci < 0) {
            char folded[256];
            size_t w = 0;
            for (; k[w] && w + 1 < sizeof folded; w++)
                folded[w] = (char)(k[w] >= 'A' && k[w] <= 'Z' ? k[w] + 32 : k[w]);
            folded[w] = 0;
            rc = hln_fail(&r->err, HLN_EINVAL, "JSON values map contains unrecognized column: %s",
                          k[0] == '"' ? k : folded);
            break;
        }
        if (json_is_null(v)) {
            vals[p->json_base + ci] = (ex_value){NULL, -1};
            continue;
        }
        hln_buf_reset(&b);
        if ((rc = from_json(r, t->cols[ci].type, t->cols[ci].name, v, &b)) != 0) break;
        if (b.err) {
            rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            break;
        }
        static const uint8_t empty[1];
        const uint8_t *copy = b.len ? hln_arena_memdup(&r->arena, b.data, b.len) : empty;
        if (!copy) {
            rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            break;
        }
        vals[p->json_base + ci] = (ex_value){copy, (int32_t)b.len};
    }
    hln_buf_free(&b);
    json_decref(root);
    if (rc) return rc;
    st->vals = vals;
    st->nvals = n;
    return 0;
}
