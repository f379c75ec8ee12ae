/*
 * document.c — filters, updates, projections, ids and vectors of the Data
 * API over jansson values (document.h says what each function does).
 *
 * What the semantics are (the Data API's, which follow MongoDB's):
 *  - equality ({"f": v} or {"f": {"$eq": v}}) matches a value equal to v,
 *    or an array with an element equal to v; numbers are equal by value
 *    (1 == 1.0); a missing field equals null; $ne/$nin are the negations.
 *  - $gt/$gte/$lt/$lte compare a number with numbers, a string with
 *    strings, a {"$date": ms} with dates; other types never match; an array
 *    matches when one of its elements does.
 *  - $exists: the path is present (also when its value is null); $size: an
 *    array of that length; $all: an array holding every listed value.
 *  - $and/$or take non-empty arrays of filters, $not a filter; several keys
 *    of one filter object are and-ed.
 *  - update operators work on dotted paths, creating objects on the way
 *    ($set), and refuse to touch _id; an update applies to a copy, which
 *    replaces the document only when every operator succeeded.
 *  - sort order across types (da_value_compare): missing and null, then
 *    numbers, strings, objects, arrays, booleans, dates.
 *
 * Why jansson throughout: documents arrive as JSON and leave as JSON; the
 * stored form (doc_json) is jansson's compact dump, so what CQL shows is
 * the document itself.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dataapi/document.h"

int da_fail(da_err *e, int rc, const char *code, const char *fmt, ...)
{
    if (e) {
        snprintf(e->code, sizeof e->code, "%s", code);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- paths -------------------------------------------------------------- */

/* Copies the next segment of *p into seg (cap bytes); advances *p past the
 * dot. Returns false at the end. */
static bool next_seg(const char **p, char *seg, size_t cap)
{
    if (!*p) return false;
    const char *dot = strchr(*p, '.');
    size_t n = dot ? (size_t)(dot - *p) : strlen(*p);
    if (n >= cap) n = cap - 1;
    memcpy(seg, *p, n);
    seg[n] = 0;
    *p = dot ? dot + 1 : NULL;
    return true;
}

static bool all_digits(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

json_t *da_path_get(json_t *doc, const char *path)
{
    char seg[256];
    const char *p = path;
    json_t *cur = doc;
    while (cur && next_seg(&p, seg, sizeof seg)) {
        if (json_is_object(cur))
            cur = json_object_get(cur, seg);
        else if (json_is_array(cur) && all_digits(seg))
            cur = json_array_get(cur, (size_t)strtoul(seg, NULL, 10));
        else
            cur = NULL;
    }
    return cur;
}

int da_path_set(json_t *doc, const char *path, json_t *v, da_err *e)
{
    char seg[256];
    const char *p = path;
    json_t *cur = doc;
    while (next_seg(&p, seg, sizeof seg)) {
        bool last = p == NULL;
        if (json_is_object(cur)) {
            if (last) {
                json_object_set_new(cur, seg, v);
                return 0;
            }
            json_t *nx = json_object_get(cur, seg);
            if (!nx || json_is_null(nx)) {
                nx = json_object();
                json_object_set_new(cur, seg, nx);
            }
            cur = nx;
        } else if (json_is_array(cur) && all_digits(seg)) {
            size_t i = (size_t)strtoul(seg, NULL, 10);
            if (i > 100000) break;
            while (json_array_size(cur) <= i)
                json_array_append_new(cur, json_null());
            if (last) {
                json_array_set_new(cur, i, v);
                return 0;
            }
            json_t *nx = json_array_get(cur, i);
            if (json_is_null(nx)) {
                nx = json_object();
                json_array_set_new(cur, i, nx);
            }
            cur = nx;
        } else {
            break;
        }
    }
    json_decref(v);
    return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION_TARGET",
                   "Update operation target path '%s' goes through a value that is not an "
                   "object or array",
                   path);
}

/* Removes path (an array element becomes null); absent is fine. */
static void path_unset(json_t *doc, const char *path)
{
    const char *dot = strrchr(path, '.');
    json_t *parent = doc;
    const char *leaf = path;
    char head[1024];
    if (dot) {
        size_t n = (size_t)(dot - path);
        if (n >= sizeof head) return;
        memcpy(head, path, n);
        head[n] = 0;
        parent = da_path_get(doc, head);
        leaf = dot + 1;
    }
    if (json_is_object(parent)) {
        json_object_del(parent, leaf);
    } else if (json_is_array(parent) && all_digits(leaf)) {
        size_t i = (size_t)strtoul(leaf, NULL, 10);
        if (i < json_array_size(parent)) json_array_set_new(parent, i, json_null());
    }
}

/* ---- values ------------------------------------------------------------- */

/* {"$date": n}, {"$uuid": s}, {"$objectId": s}, {"$binary": s}: a value,
 * not an operator object. */
bool da_is_value_wrapper(json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) != 1) return false;
    const char *k = json_object_iter_key(json_object_iter(v));
    return !strcmp(k, "$date") || !strcmp(k, "$uuid") || !strcmp(k, "$objectId") ||
           !strcmp(k, "$binary");
}

static bool is_date(json_t *v)
{
    return da_is_value_wrapper(v) && json_is_number(json_object_get(v, "$date"));
}

static int type_class(json_t *v)
{
    if (!v || json_is_null(v)) return 0;
    if (json_is_number(v)) return 1;
    if (json_is_string(v)) return 2;
    if (is_date(v)) return 6;
    if (json_is_object(v)) return 3;
    if (json_is_array(v)) return 4;
    return 5; /* boolean */
}

static int cmp_num(json_t *a, json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

int da_value_compare(json_t *a, json_t *b)
{
    int ca = type_class(a), cb = type_class(b);
    if (ca != cb) return ca < cb ? -1 : 1;
    switch (ca) {
    case 0:
        return 0;
    case 1:
        return cmp_num(a, b);
    case 2: {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return c < 0 ? -1 : c > 0;
    }
    case 5:
        return (int)json_is_true(a) - (int)json_is_true(b);
    case 6:
        return cmp_num(json_object_get(a, "$date"), json_object_get(b, "$date"));
    case 4: {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            int c = da_value_compare(json_array_get(a, i), json_array_get(b, i));
            if (c) return c;
        }
        return na < nb ? -1 : na > nb;
    }
    default: { /* objects: key by key, in document order */
        void *ia = json_object_iter(a), *ib = json_object_iter(b);
        while (ia && ib) {
            int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
            if (c) return c < 0 ? -1 : 1;
            c = da_value_compare(json_object_iter_value(ia), json_object_iter_value(ib));
            if (c) return c;
            ia = json_object_iter_next(a, ia);
            ib = json_object_iter_next(b, ib);
        }
        return ia ? 1 : ib ? -1 : 0;
    }
    }
}

/* Equality of the Data API: numbers by value, objects regardless of key order. */
static bool value_equal(json_t *a, json_t *b)
{
    if (!a || !b) return a == b;
    if (json_is_number(a) && json_is_number(b)) return cmp_num(a, b) == 0;
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
        {
            if (!value_equal(v, json_object_get(b, k))) return false;
        }
        return true;
    }
    if (json_is_array(a) && json_is_array(b)) {
        size_t n = json_array_size(a);
        if (n != json_array_size(b)) return false;
        for (size_t i = 0; i < n; i++)
            if (!value_equal(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    return json_equal(a, b);
}

/* ---- filters ------------------------------------------------------------ */

static int bad_filter(da_err *e, const char *fmt, const char *arg)
{
    return da_fail(e, HLN_EINVAL, "INVALID_FILTER_EXPRESSION", fmt, arg);
}

static bool eq_match(json_t *val, json_t *v)
{
    if (!val) return json_is_null(v);
    if (value_equal(val, v)) return true;
    if (json_is_array(val) && !json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(val, i, x)
        {
            if (value_equal(x, v)) return true;
        }
    }
    return false;
}

static bool comparable(json_t *v)
{
    return json_is_number(v) || json_is_string(v) || is_date(v);
}

/* op is one of $gt $gte $lt $lte; val a non-array value */
static bool cmp_match(json_t *val, const char *op, json_t *arg)
{
    if (type_class(val) != type_class(arg)) return false;
    int c = da_value_compare(val, arg);
    if (!strcmp(op, "$gt")) return c > 0;
    if (!strcmp(op, "$gte")) return c >= 0;
    if (!strcmp(op, "$lt")) return c < 0;
    return c <= 0;
}

static int match_op(json_t *val, const char *op, json_t *arg, da_err *e)
{
    if (!strcmp(op, "$eq")) return eq_match(val, arg);
    if (!strcmp(op, "$ne")) return !eq_match(val, arg);
    if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
        if (!json_is_array(arg)) return bad_filter(e, "'%s' operator must have an array value", op);
        bool any = false;
        size_t i;
        json_t *x;
        json_array_foreach(arg, i, x)
        {
            if (eq_match(val, x)) any = true;
        }
        return op[1] == 'i' ? any : !any;
    }
    if (!strcmp(op, "$gt") || !strcmp(op, "$gte") || !strcmp(op, "$lt") || !strcmp(op, "$lte")) {
        if (!comparable(arg))
            return bad_filter(e, "'%s' operator must have a number, string or date value", op);
        if (!val) return 0;
        if (json_is_array(val)) {
            size_t i;
            json_t *x;
            json_array_foreach(val, i, x)
            {
                if (cmp_match(x, op, arg)) return 1;
            }
            return 0;
        }
        return cmp_match(val, op, arg);
    }
    if (!strcmp(op, "$exists")) {
        if (!json_is_boolean(arg)) return bad_filter(e, "'%s' operator must have a boolean", op);
        return (val != NULL) == json_is_true(arg);
    }
    if (!strcmp(op, "$size")) {
        if (!json_is_integer(arg) || json_integer_value(arg) < 0)
            return bad_filter(e, "'%s' operator must have a non-negative integer value", op);
        return json_is_array(val) && json_array_size(val) == (size_t)json_integer_value(arg);
    }
    if (!strcmp(op, "$all")) {
        if (!json_is_array(arg)) return bad_filter(e, "'%s' operator must have an array value", op);
        if (!json_is_array(val)) return 0;
        size_t i;
        json_t *x;
        json_array_foreach(arg, i, x)
        {
            if (!eq_match(val, x)) return 0;
        }
        return 1;
    }
    return da_fail(e, HLN_EINVAL, "UNSUPPORTED_FILTER_OPERATION",
                   "Unsupported filter operator '%s'", op);
}

static int match_doc(json_t *filter, json_t *doc, da_err *e);

static int match_field(json_t *doc, const char *path, json_t *cond, da_err *e)
{
    if (!*path) return bad_filter(e, "Filter path must not be empty%s", "");
    json_t *val = da_path_get(doc, path);
    if (json_is_object(cond) && !da_is_value_wrapper(cond) && json_object_size(cond) > 0) {
        const char *first = json_object_iter_key(json_object_iter(cond));
        if (first[0] == '$') {
            int result = 1;
            const char *op;
            json_t *arg;
            json_object_foreach(cond, op, arg)
            {
                if (op[0] != '$')
                    return bad_filter(e, "Cannot mix operators and fields in the condition on '%s'",
                                      path);
                int r = match_op(val, op, arg, e);
                if (r < 0) return r;
                result = result && r;
            }
            return result;
        }
    }
    return eq_match(val, cond);
}

static int match_list(json_t *list, json_t *doc, bool any, const char *op, da_err *e)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return bad_filter(e, "'%s' operator must have a non-empty array of filters", op);
    int result = any ? 0 : 1;
    size_t i;
    json_t *sub;
    json_array_foreach(list, i, sub)
    {
        if (!json_is_object(sub))
            return bad_filter(e, "'%s' operator must have a non-empty array of filters", op);
        int r = match_doc(sub, doc, e);
        if (r < 0) return r;
        result = any ? (result || r) : (result && r);
    }
    return result;
}

static int match_doc(json_t *filter, json_t *doc, da_err *e)
{
    int result = 1;
    const char *k;
    json_t *v;
    json_object_foreach(filter, k, v)
    {
        int r;
        if (!strcmp(k, "$and")) {
            r = match_list(v, doc, false, k, e);
        } else if (!strcmp(k, "$or")) {
            r = match_list(v, doc, true, k, e);
        } else if (!strcmp(k, "$not")) {
            if (!json_is_object(v)) return bad_filter(e, "'%s' operator must have a filter", k);
            r = match_doc(v, doc, e);
            if (r >= 0) r = !r;
        } else if (k[0] == '$') {
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_FILTER_OPERATION",
                           "Unsupported filter operator '%s'", k);
        } else {
            r = match_field(doc, k, v, e);
        }
        if (r < 0) return r;
        result = result && r;
    }
    return result;
}

int da_filter_match(json_t *filter, json_t *doc, da_err *e)
{
    if (!filter || json_is_null(filter)) return 1;
    if (!json_is_object(filter)) return bad_filter(e, "Filter must be an object%s", "");
    return match_doc(filter, doc, e);
}

/* ---- updates ------------------------------------------------------------ */

static int bad_update(da_err *e, const char *fmt, const char *a)
{
    return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION_PARAM", fmt, a);
}

static json_t *number_op(json_t *cur, json_t *arg, bool mul)
{
    if (json_is_integer(cur) && json_is_integer(arg)) {
        json_int_t x = json_integer_value(cur), y = json_integer_value(arg);
        return json_integer(mul ? x * y : x + y);
    }
    double x = json_number_value(cur), y = json_number_value(arg);
    return json_real(mul ? x * y : x + y);
}

static int apply_one(json_t *w, const char *op, const char *path, json_t *arg, bool inserting,
                     da_err *e)
{
    json_t *cur = da_path_get(w, path);
    if (!strcmp(op, "$set") || !strcmp(op, "$setOnInsert")) {
        if (op[4] == 'O' && !inserting) return 0;
        return da_path_set(w, path, json_deep_copy(arg), e);
    }
    if (!strcmp(op, "$unset")) {
        path_unset(w, path);
        return 0;
    }
    if (!strcmp(op, "$inc") || !strcmp(op, "$mul")) {
        bool mul = op[1] == 'm';
        if (!json_is_number(arg)) return bad_update(e, "%s requires numeric parameter values", op);
        if (cur && !json_is_number(cur))
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION_TARGET",
                           "%s requires target to be a number; '%s' is not", op, path);
        json_t *zero = json_integer(0);
        json_t *nv = cur   ? number_op(cur, arg, mul)
                     : mul ? number_op(zero, arg, true)
                           : json_deep_copy(arg);
        json_decref(zero);
        return da_path_set(w, path, nv, e);
    }
    if (!strcmp(op, "$min") || !strcmp(op, "$max")) {
        int c = cur ? da_value_compare(arg, cur) : 0;
        if (!cur || (op[2] == 'i' ? c < 0 : c > 0))
            return da_path_set(w, path, json_deep_copy(arg), e);
        return 0;
    }
    if (!strcmp(op, "$push") || !strcmp(op, "$addToSet")) {
        json_t *items = NULL;
        long pos = -1;
        if (json_is_object(arg) && json_object_get(arg, "$each")) {
            items = json_object_get(arg, "$each");
            if (!json_is_array(items)) return bad_update(e, "%s $each requires an array", op);
            json_t *p = json_object_get(arg, "$position");
            if (p) {
                if (!json_is_integer(p) || op[1] != 'p')
                    return bad_update(e, "%s $position requires an integer", op);
                pos = (long)json_integer_value(p);
            }
        }
        if (cur && !json_is_array(cur))
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION_TARGET",
                           "%s requires target to be an array; '%s' is not", op, path);
        json_t *arr = cur ? json_deep_copy(cur) : json_array();
        json_t *one = json_array();
        if (!items) json_array_append(one, arg);
        json_t *list = items ? items : one;
        size_t i;
        json_t *x;
        long at = pos < 0 ? (long)json_array_size(arr) + 1 + pos : pos;
        if (at < 0) at = 0;
        if (at > (long)json_array_size(arr)) at = (long)json_array_size(arr);
        json_array_foreach(list, i, x)
        {
            if (op[1] == 'a') {
                bool have = false;
                size_t j;
                json_t *y;
                json_array_foreach(arr, j, y)
                {
                    if (value_equal(x, y)) have = true;
                }
                if (have) continue;
                json_array_append_new(arr, json_deep_copy(x));
            } else {
                json_array_insert_new(arr, (size_t)at++, json_deep_copy(x));
            }
        }
        json_decref(one);
        return da_path_set(w, path, arr, e);
    }
    if (!strcmp(op, "$pop")) {
        if (!json_is_integer(arg)) return bad_update(e, "%s requires 1 or -1", op);
        if (!cur) return 0;
        if (!json_is_array(cur))
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION_TARGET",
                           "%s requires target to be an array; '%s' is not", op, path);
        size_t n = json_array_size(cur);
        if (n) json_array_remove(cur, json_integer_value(arg) < 0 ? 0 : n - 1);
        return 0;
    }
    if (!strcmp(op, "$rename")) {
        if (!json_is_string(arg) || !*json_string_value(arg))
            return bad_update(e, "%s requires a non-empty string", op);
        if (!cur) return 0;
        json_t *v = json_incref(cur);
        path_unset(w, path);
        return da_path_set(w, json_string_value(arg), v, e);
    }
    if (!strcmp(op, "$currentDate")) {
        json_t *d = json_object();
        json_object_set_new(d, "$date", json_integer((json_int_t)(hln_now_micros() / 1000)));
        return da_path_set(w, path, d, e);
    }
    return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION",
                   "Unsupported update operator '%s'", op);
}

int da_update_apply(json_t *doc, json_t *update, bool inserting, bool *modified, da_err *e)
{
    *modified = false;
    if (!json_is_object(update) || json_object_size(update) == 0)
        return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION",
                       "Update clause must be a non-empty object of update operators");
    const char *op, *path;
    json_t *args, *arg;
    json_object_foreach(update, op, args)
    {
        if (op[0] != '$')
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_OPERATION",
                           "Unsupported update operator '%s'", op);
        if (!json_is_object(args))
            return bad_update(e, "Update operator '%s' requires an object parameter", op);
        json_object_foreach(args, path, arg)
        {
            bool id = !strcmp(path, "_id") || !strncmp(path, "_id.", 4);
            if (id && !(inserting && !strcmp(op, "$setOnInsert")))
                return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_FOR_DOC_ID",
                               "Cannot use operator '%s' on the document id field '_id'", op);
            if (!strcmp(path, "$vector") && strcmp(op, "$set") && strcmp(op, "$unset") &&
                strcmp(op, "$setOnInsert"))
                return da_fail(e, HLN_EINVAL, "UNSUPPORTED_UPDATE_FOR_VECTOR",
                               "Cannot use operator '%s' with '$vector' property", op);
        }
    }
    json_t *w = json_deep_copy(doc);
    if (!w) return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    json_object_foreach(update, op, args){
        json_object_foreach(args, path, arg){int rc = apply_one(w, op, path, arg, inserting, e);
    if (rc < 0) {
        json_decref(w);
        return rc;
    }
}
}
*modified = !value_equal(w, doc);
if (*modified) {
    json_object_clear(doc);
    json_object_update(doc, w);
}
json_decref(w);
return 0;
}

/* ---- projections -------------------------------------------------------- */

/* {"$slice": n} (the first n, or the last -n) or {"$slice": [skip, n]}
 * (skip < 0: counted from the end): 1 with *skip and *count set, 0 when v
 * is not a $slice, negative (e filled) when malformed. */
static int slice_of(json_t *v, long *skip, long *count, da_err *e)
{
    json_t *a = json_is_object(v) && json_object_size(v) == 1 ? json_object_get(v, "$slice") : NULL;
    if (!a) return 0;
    if (json_is_integer(a)) {
        long n = (long)json_integer_value(a);
        *skip = n < 0 ? n : 0;
        *count = n < 0 ? -n : n;
        return 1;
    }
    if (json_is_array(a) && json_array_size(a) == 2 && json_is_integer(json_array_get(a, 0)) &&
        json_is_integer(json_array_get(a, 1)) && json_integer_value(json_array_get(a, 1)) > 0) {
        *skip = (long)json_integer_value(json_array_get(a, 0));
        *count = (long)json_integer_value(json_array_get(a, 1));
        return 1;
    }
    return da_fail(e, HLN_EINVAL, "UNSUPPORTED_PROJECTION_PARAM",
                   "$slice takes a number or an array [skip, limit] with limit > 0");
}

/* The array a cut as the slice says (a new array). */
static json_t *sliced(json_t *a, long skip, long count)
{
    long n = (long)json_array_size(a);
    long from = skip < 0 ? (skip < -n ? 0 : n + skip) : skip > n ? n : skip;
    long end = count > n - from ? n : from + count;
    json_t *out = json_array();
    for (long i = from; i < end; i++)
        json_array_append(out, json_array_get(a, (size_t)i));
    return out;
}

static int proj_mode(json_t *projection, da_err *e)
{
    /* 0: default, 1: include listed, 2: exclude listed, 3: everything ("*") */
    if (!projection || json_is_null(projection) || json_object_size(projection) == 0) return 0;
    if (!json_is_object(projection))
        return da_fail(e, HLN_EINVAL, "UNSUPPORTED_PROJECTION_PARAM",
                       "Projection must be an object");
    json_t *star = json_object_get(projection, "*");
    if (star) {
        if (json_object_size(projection) != 1)
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_PROJECTION_PARAM",
                           "Wildcard ('*') only allowed as the only root-level path");
        return json_is_true(star) || json_number_value(star) != 0 ? 3 : 4;
    }
    int mode = 0;
    const char *k;
    json_t *v;
    json_object_foreach(projection, k, v)
    {
        long sk, n;
        int sl = slice_of(v, &sk, &n, e);
        if (sl < 0) return sl;
        if (sl) continue; /* a slice decides neither inclusion nor exclusion */
        if (!json_is_boolean(v) && !json_is_number(v))
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_PROJECTION_PARAM",
                           "Unsupported projection parameter for '%s' (only true/false, 1/0 or "
                           "{\"$slice\": ...})",
                           k);
        if (!strcmp(k, "_id")) continue;
        int m = (json_is_true(v) || (json_is_number(v) && json_number_value(v) != 0)) ? 1 : 2;
        if (mode && m != mode)
            return da_fail(e, HLN_EINVAL, "UNSUPPORTED_PROJECTION_PARAM",
                           "Cannot mix inclusions and exclusions in a projection");
        mode = m;
    }
    if (!mode) mode = 2; /* only _id or slices given */
    return mode;
}

int da_project_check(json_t *projection, da_err *e)
{
    int m = proj_mode(projection, e);
    return m < 0 ? m : 0;
}

static bool truthy(json_t *v)
{
    return json_is_true(v) || (json_is_number(v) && json_number_value(v) != 0);
}

/* Cuts every array a $slice of the projection names. */
static void apply_slices(json_t *out, json_t *projection)
{
    const char *k;
    json_t *v;
    json_object_foreach(projection, k, v)
    {
        long sk, n;
        json_t *a = da_path_get(out, k);
        if (slice_of(v, &sk, &n, NULL) == 1 && json_is_array(a))
            da_path_set(out, k, sliced(a, sk, n), NULL);
    }
}

json_t *da_project(json_t *doc, json_t *projection, da_err *e)
{
    int mode = proj_mode(projection, e);
    if (mode < 0) return NULL;
    if (mode == 3) return json_deep_copy(doc);
    if (mode == 4) return json_object();
    json_t *idp = projection ? json_object_get(projection, "_id") : NULL;
    bool keep_id = !idp || truthy(idp);
    json_t *out;
    if (mode == 1) {
        out = json_object();
        json_t *id = json_object_get(doc, "_id");
        if (keep_id && id) json_object_set(out, "_id", id);
        const char *k;
        json_t *v;
        json_object_foreach(projection, k, v)
        {
            if (!strcmp(k, "_id")) continue;
            json_t *x = da_path_get(doc, k);
            if (x) da_path_set(out, k, json_deep_copy(x), NULL);
        }
        apply_slices(out, projection);
        return out;
    }
    out = json_deep_copy(doc);
    if (!keep_id) json_object_del(out, "_id");
    json_t *vp = projection ? json_object_get(projection, "$vector") : NULL;
    if (!vp || !truthy(vp)) json_object_del(out, "$vector");
    if (mode == 2) {
        const char *k;
        json_t *v;
        json_object_foreach(projection, k, v)
        {
            long sk, n;
            if (strcmp(k, "_id") && !slice_of(v, &sk, &n, NULL)) path_unset(out, k);
        }
    }
    apply_slices(out, projection);
    return out;
}

/* ---- ids ---------------------------------------------------------------- */

int da_id_key(json_t *id, char **out, da_err *e)
{
    *out = NULL;
    if (!id || json_is_array(id) || (json_is_object(id) && !da_is_value_wrapper(id)))
        return da_fail(e, HLN_EINVAL, "SHRED_BAD_DOCID_TYPE",
                       "Document field '_id' must be a string, number, boolean, null or a "
                       "$uuid/$objectId/$date value");
    char *s = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (!s) return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    *out = hln_strdup(s);
    free(s);
    return *out ? 0 : da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
}

json_t *da_new_id(void)
{
    uint8_t u[16];
    char s[37];
    hln_uuid_random(u);
    hln_uuid_format(u, s);
    return json_string(s);
}

/* ---- vectors ------------------------------------------------------------ */

enum { DA_MAX_DIMENSION = 8192 };

int da_vector_parse(json_t *v, float **out, int *n, da_err *e)
{
    *out = NULL;
    *n = 0;
    if (json_is_array(v)) {
        size_t len = json_array_size(v);
        if (len == 0 || len > DA_MAX_DIMENSION)
            return da_fail(e, HLN_EINVAL, "SHRED_BAD_VECTOR_SIZE",
                           "$vector value can't be an empty array or longer than %d",
                           DA_MAX_DIMENSION);
        float *f = hln_malloc(len * sizeof *f);
        if (!f) return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!json_is_number(x) || !isfinite(json_number_value(x))) {
                hln_free(f);
                return da_fail(e, HLN_EINVAL, "SHRED_BAD_VECTOR_VALUE",
                               "$vector value needs to be an array of numbers");
            }
            f[i] = (float)json_number_value(x);
        }
        *out = f;
        *n = (int)len;
        return 0;
    }
    json_t *b =
        json_is_object(v) && json_object_size(v) == 1 ? json_object_get(v, "$binary") : NULL;
    if (!json_is_string(b))
        return da_fail(e, HLN_EINVAL, "SHRED_BAD_VECTOR_VALUE",
                       "$vector value needs to be an array of numbers or {\"$binary\": ...}");
    const char *s = json_string_value(b);
    size_t slen = strlen(s);
    if (slen % 4 || slen == 0 || slen > (size_t)DA_MAX_DIMENSION * 6)
        return da_fail(e, HLN_EINVAL, "SHRED_BAD_BINARY_VECTOR_VALUE",
                       "Invalid content in EJSON $binary wrapper: not valid Base64");
    unsigned char *raw = hln_malloc(slen / 4 * 3 + 1);
    if (!raw) return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    int got = EVP_DecodeBlock(raw, (const unsigned char *)s, (int)slen);
    if (got >= 0) {
        if (slen >= 1 && s[slen - 1] == '=') got--;
        if (slen >= 2 && s[slen - 2] == '=') got--;
    }
    if (got <= 0 || got % 4) {
        hln_free(raw);
        return da_fail(e, HLN_EINVAL, "SHRED_BAD_BINARY_VECTOR_VALUE",
                       "Invalid content in EJSON $binary wrapper: not a whole number of "
                       "float32 values");
    }
    int cnt = got / 4;
    float *f = hln_malloc((size_t)cnt * sizeof *f);
    if (!f) {
        hln_free(raw);
        return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    }
    for (int i = 0; i < cnt; i++) {
        uint32_t u = (uint32_t)raw[4 * i] << 24 | (uint32_t)raw[4 * i + 1] << 16 |
                     (uint32_t)raw[4 * i + 2] << 8 | raw[4 * i + 3];
        memcpy(&f[i], &u, 4);
        if (!isfinite(f[i])) {
            hln_free(raw);
            hln_free(f);
            return da_fail(e, HLN_EINVAL, "SHRED_BAD_VECTOR_VALUE",
                           "$vector values must be finite numbers");
        }
    }
    hln_free(raw);
    *out = f;
    *n = cnt;
    return 0;
}

json_t *da_vector_json(const float *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        char buf[32];
        double d = v[i];
        for (int p = 6; p <= 9; p++) {
            snprintf(buf, sizeof buf, "%.*g", p, (double)v[i]);
            d = strtod(buf, NULL);
            if ((float)d == v[i]) break;
        }
        json_array_append_new(a, json_real(d));
    }
    return a;
}

int da_metric_parse(const char *name)
{
    if (!name) return -1;
    if (!strcmp(name, "cosine")) return DA_COSINE;
    if (!strcmp(name, "dot_product")) return DA_DOT_PRODUCT;
    if (!strcmp(name, "euclidean")) return DA_EUCLIDEAN;
    return -1;
}

const char *da_metric_name(int metric)
{
    return metric == DA_DOT_PRODUCT ? "dot_product"
           : metric == DA_EUCLIDEAN ? "euclidean"
                                    : "cosine";
}

double da_similarity(int metric, const float *a, const float *b, int n)
{
    double dot = 0, na = 0, nb = 0, d2 = 0;
    for (int i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
        d2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    if (metric == DA_DOT_PRODUCT) return (1 + dot) / 2;
    if (metric == DA_EUCLIDEAN) return 1 / (1 + d2);
    if (na == 0 || nb == 0) return 0;
    return (1 + dot / sqrt(na * nb)) / 2;
}
