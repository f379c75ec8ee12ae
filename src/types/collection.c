/*
 * collection.c — values of list, set and map types: reading and building
 * their serialisation, validation, Cassandra's ordering of frozen
 * collections, and their byte-comparable encoding.
 *
 * The serialisation (native protocol v3 and later, and Cassandra's own
 * frozen cells):
 *     [i32 n] then n elements, each [i32 len][len bytes]
 * a map has n entries of two elements (key, value). Sets and maps are
 * sorted by element (key) in the element type's order, without duplicates;
 * null elements (len < 0) are invalid.
 *
 * Ordering of frozen collections (CollectionType.compareListOrSet and
 * MapType.compareMaps): element by element (map: key, then value), and a
 * collection that is a prefix of another sorts first; an empty value
 * (0 bytes) sorts before everything, as for every type.
 *
 * Comparable encoding (prefix-free, memcmp order = the order above):
 *     0x00                             the empty value (0 bytes)
 *     0x01 { 0x01 enc(element) } 0x00  a collection (map: key and value
 *                                      encodings, one 0x01 per entry)
 * where enc() is the element type's own comparable encoding, which is
 * prefix-free, so the 0x01/0x00 separators decide every tie.
 *
 * Invariants: the functions here never read outside their inputs; a
 * malformed value gives HLN_EINVAL (validate) or HLN_ECORRUPT (decoding
 * stored keys), never a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "types/typesInt.h"

int hln_coll_begin(hln_rd *r, const uint8_t *v, size_t len, uint32_t *n)
{
    hln_rd_init(r, v, len);
    uint32_t c = hln_rd_u32(r);
    if (r->err) return HLN_EINVAL;
    *n = c;
    return 0;
}

int hln_coll_next(hln_rd *r, const uint8_t **e, int32_t *elen)
{
    int32_t l = (int32_t)hln_rd_u32(r);
    if (r->err) return HLN_EINVAL;
    if (l < 0) {
        *e = NULL;
        *elen = -1;
        return 0;
    }
    static const uint8_t empty[1];
    const uint8_t *p = l ? hln_rd_take(r, (size_t)l) : empty;
    if (!p || r->err) return HLN_EINVAL;
    *e = p;
    *elen = l;
    return 0;
}

int hln_coll_validate(const hln_type *t, const uint8_t *v, size_t len, hln_error *err)
{
    bool is_map = t->kind == HLN_T_MAP;
    const char *what = t->kind == HLN_T_LIST ? "list" : is_map ? "map" : "set";
    hln_rd r;
    uint32_t n;
    if (hln_coll_begin(&r, v, len, &n))
        return hln_fail(err, HLN_EINVAL, "Not enough bytes to read a %s", what);
    for (uint32_t i = 0; i < n; i++) {
        for (int part = 0; part < (is_map ? 2 : 1); part++) {
            const uint8_t *e;
            int32_t elen;
            if (hln_rd_left(&r) < 4 || hln_coll_next(&r, &e, &elen))
                return hln_fail(err, HLN_EINVAL, "Not enough bytes to read a %s", what);
            if (elen < 0) return hln_fail(err, HLN_EINVAL, "Null value read when not allowed");
            const hln_type *et = t->params[part];
            int rc = hln_type_validate(et, e, (size_t)elen, NULL, err);
            if (rc) return rc;
        }
    }
    if (hln_rd_left(&r) != 0)
        return hln_fail(err, HLN_EINVAL, "Unexpected extraneous bytes after %s value", what);
    return 0;
}

int hln_coll_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    bool is_map = t->kind == HLN_T_MAP;
    hln_rd ra, rb;
    uint32_t na, nb;
    if (hln_coll_begin(&ra, a, alen, &na) || hln_coll_begin(&rb, b, blen, &nb)) {
        size_t m = alen < blen ? alen : blen;
        int c = memcmp(a, b, m);
        return c ? c : (alen > blen) - (alen < blen);
    }
    uint32_t m = na < nb ? na : nb;
    for (uint32_t i = 0; i < m; i++) {
        for (int part = 0; part < (is_map ? 2 : 1); part++) {
            const uint8_t *ea, *eb;
            int32_t la, lb;
            if (hln_coll_next(&ra, &ea, &la) || hln_coll_next(&rb, &eb, &lb) || la < 0 || lb < 0)
                return 0; /* malformed: treat the rest as equal */
            int c = hln_type_compare(t->params[part], ea, (size_t)la, eb, (size_t)lb);
            if (c) return c;
        }
    }
    return (na > nb) - (na < nb);
}

int hln_coll_encode(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    if (len == 0) {
        hln_buf_u8(out, 0x00);
        return 0;
    }
    bool is_map = t->kind == HLN_T_MAP;
    hln_rd r;
    uint32_t n;
    if (hln_coll_begin(&r, v, len, &n)) return HLN_EINVAL;
    hln_buf_u8(out, 0x01);
    for (uint32_t i = 0; i < n; i++) {
        hln_buf_u8(out, 0x01);
        for (int part = 0; part < (is_map ? 2 : 1); part++) {
            const uint8_t *e;
            int32_t elen;
            if (hln_coll_next(&r, &e, &elen) || elen < 0) return HLN_EINVAL;
            int rc = hln_type_to_comparable(t->params[part], e, (size_t)elen, false, out);
            if (rc) return rc;
        }
    }
    if (hln_rd_left(&r) != 0) return HLN_EINVAL;
    hln_buf_u8(out, 0x00);
    return out->err;
}

int hln_coll_decode(const hln_type *t, hln_rd *r, bool desc, hln_buf *out)
{
    uint8_t tag;
    if (hln_type_take_byte(r, desc, &tag)) return HLN_ECORRUPT;
    if (tag == 0x00) return 0;
    if (tag != 0x01) return HLN_ECORRUPT;
    bool is_map = t->kind == HLN_T_MAP;
    size_t count_at = out->len;
    hln_buf_u32(out, 0);
    uint32_t n = 0;
    hln_buf el;
    hln_buf_init(&el);
    int rc = 0;
    for (;;) {
        if (hln_type_take_byte(r, desc, &tag)) {
            rc = HLN_ECORRUPT;
            break;
        }
        if (tag == 0x00) break;
        if (tag != 0x01) {
            rc = HLN_ECORRUPT;
            break;
        }
        for (int part = 0; part < (is_map ? 2 : 1) && !rc; part++) {
            hln_buf_reset(&el);
            rc = hln_type_from_comparable(t->params[part], r, desc, &el);
            if (!rc) {
                hln_buf_u32(out, (uint32_t)el.len);
                hln_buf_put(out, el.data, el.len);
            }
        }
        if (rc) break;
        n++;
    }
    hln_buf_free(&el);
    if (rc) return rc;
    if (out->err) return out->err;
    out->data[count_at] = (uint8_t)(n >> 24);
    out->data[count_at + 1] = (uint8_t)(n >> 16);
    out->data[count_at + 2] = (uint8_t)(n >> 8);
    out->data[count_at + 3] = (uint8_t)n;
    return 0;
}

/* ---- normalising ------------------------------------------------------ */

int hln_coll_normalize(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    bool is_map = t->kind == HLN_T_MAP;
    int per = is_map ? 2 : 1;
    hln_rd r;
    uint32_t n;
    if (hln_coll_begin(&r, v, len, &n)) return HLN_EINVAL;
    if (n > len / 4) return HLN_EINVAL; /* every element takes at least 4 bytes */
    const uint8_t **els = malloc(sizeof *els * ((size_t)n * (size_t)per + 1));
    int32_t *lens = malloc(sizeof *lens * ((size_t)n * (size_t)per + 1));
    hln_buf *subs = calloc((size_t)n * (size_t)per + 1, sizeof *subs);
    int rc = els && lens && subs ? 0 : HLN_ENOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        for (int part = 0; part < per && !rc; part++, k++) {
            if (hln_coll_next(&r, &els[k], &lens[k]) || lens[k] < 0) {
                rc = HLN_EINVAL;
                break;
            }
            const hln_type *et = t->params[part];
            if (hln_type_needs_normalize(et) && lens[k] > 0) {
                /* nested collections are normalised first, so that equal
                   elements compare equal byte for byte */
                hln_buf_init(&subs[k]);
                rc = hln_value_normalize(et, els[k], (size_t)lens[k], &subs[k]);
                els[k] = subs[k].data;
                lens[k] = (int32_t)subs[k].len;
            }
        }
    }
    if (!rc) rc = hln_coll_build(t, els, lens, n, out);
    if (subs)
        for (size_t i = 0; i < k; i++)
            hln_buf_free(&subs[i]);
    free(els);
    free(lens);
    free(subs);
    return rc;
}

/* ---- building --------------------------------------------------------- */

typedef struct elref {
    const uint8_t *k, *v;
    int32_t klen, vlen;
    uint32_t order; /* position in the input, to let a later duplicate win */
} elref;

/* qsort takes no context in C11: the element type of the sort in progress,
 * per thread (the comparator never sorts again, so no reentrancy). */
static _Thread_local const hln_type *sort_type;

static int cmp_elref(const void *pa, const void *pb)
{
    const elref *a = pa, *b = pb;
    int c = hln_type_compare(sort_type, a->k, (size_t)(a->klen < 0 ? 0 : a->klen), b->k,
                             (size_t)(b->klen < 0 ? 0 : b->klen));
    if (c) return c;
    return (a->order > b->order) - (a->order < b->order);
}

static void put_el(hln_buf *out, const uint8_t *e, int32_t len)
{
    hln_buf_u32(out, (uint32_t)len);
    if (len > 0) hln_buf_put(out, e, (size_t)len);
}

int hln_coll_build(const hln_type *t, const uint8_t *const *els, const int32_t *lens, uint32_t n,
                   hln_buf *out)
{
    bool is_map = t->kind == HLN_T_MAP;
    if (t->kind == HLN_T_LIST) {
        hln_buf_u32(out, n);
        for (uint32_t i = 0; i < n; i++)
            put_el(out, els[i], lens[i]);
        return out->err;
    }
    elref *refs = n ? malloc(sizeof *refs * n) : NULL;
    if (n && !refs) return HLN_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ki = is_map ? 2 * i : i;
        refs[i] =
            (elref){els[ki], is_map ? els[ki + 1] : NULL, lens[ki], is_map ? lens[ki + 1] : 0, i};
    }
    sort_type = t->params[0];
    if (n > 1) qsort(refs, n, sizeof *refs, cmp_elref);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* of equal keys the last in input order wins: it sorts last */
        if (i + 1 < n &&
            hln_type_compare(sort_type, refs[i].k, (size_t)(refs[i].klen < 0 ? 0 : refs[i].klen),
                             refs[i + 1].k,
                             (size_t)(refs[i + 1].klen < 0 ? 0 : refs[i + 1].klen)) == 0)
            continue;
        refs[kept++] = refs[i];
    }
    hln_buf_u32(out, kept);
    for (uint32_t i = 0; i < kept; i++) {
        put_el(out, refs[i].k, refs[i].klen);
        if (is_map) put_el(out, refs[i].v, refs[i].vlen);
    }
    free(refs);
    return out->err;
}

/* ---- vectors ---------------------------------------------------------- */

int hln_vector_build(const hln_type *t, const uint8_t *const *els, const int32_t *lens,
                     hln_buf *out)
{
    const hln_type *et = t->params[0];
    for (int i = 0; i < t->dim; i++) {
        if (lens[i] < 0) return HLN_EINVAL;
        if (!et->fixed_len) hln_buf_vint(out, (uint64_t)lens[i]);
        hln_buf_put(out, els[i], (size_t)lens[i]);
    }
    return out->err;
}

int hln_vector_split(const hln_type *t, const uint8_t *v, size_t len, const uint8_t **els,
                     int32_t *lens)
{
    const hln_type *et = t->params[0];
    hln_rd r;
    hln_rd_init(&r, v, len);
    for (int i = 0; i < t->dim; i++) {
        uint64_t n = et->fixed_len ? (uint64_t)et->fixed_len : hln_rd_vint(&r);
        if (r.err || n > hln_rd_left(&r) || n > INT32_MAX) return HLN_EINVAL;
        static const uint8_t empty[1];
        els[i] = n ? hln_rd_take(&r, (size_t)n) : empty;
        lens[i] = (int32_t)n;
        if (!els[i]) return HLN_EINVAL;
    }
    return hln_rd_left(&r) == 0 ? 0 : HLN_EINVAL;
}

/* The vector cases of validate, compare and the comparable encoding. */
int hln_vector_validate(const hln_type *t, const uint8_t *v, size_t len, hln_error *err)
{
    const hln_type *et = t->params[0];
    if (len == 0) return hln_fail(err, HLN_EINVAL, "Invalid empty vector value");
    if (et->fixed_len) {
        size_t want = (size_t)et->fixed_len * (size_t)t->dim;
        if (len != want)
            return hln_fail(err, HLN_EINVAL, "Expected %zu bytes for a %s, but got %zu", want,
                            t->cql_name, len);
    }
    const uint8_t **els = malloc(sizeof *els * (size_t)t->dim);
    int32_t *lens = malloc(sizeof *lens * (size_t)t->dim);
    int rc = els && lens ? 0 : hln_fail(err, HLN_ENOMEM, "out of memory");
    if (!rc && hln_vector_split(t, v, len, els, lens))
        rc = hln_fail(err, HLN_EINVAL, "Not enough bytes to read a %s", t->cql_name);
    for (int i = 0; !rc && i < t->dim; i++)
        rc = hln_type_validate(et, els[i], (size_t)lens[i], NULL, err);
    free(els);
    free(lens);
    return rc;
}

int hln_vector_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen)
{
    const hln_type *et = t->params[0];
    const uint8_t *ea[64], *eb[64];
    int32_t la[64], lb[64];
    if (t->dim > 64 || hln_vector_split(t, a, alen, ea, la) ||
        hln_vector_split(t, b, blen, eb, lb)) {
        size_t m = alen < blen ? alen : blen;
        int c = memcmp(a, b, m);
        return c ? c : (alen > blen) - (alen < blen);
    }
    for (int i = 0; i < t->dim; i++) {
        int c = hln_type_compare(et, ea[i], (size_t)la[i], eb[i], (size_t)lb[i]);
        if (c) return c;
    }
    return 0;
}

int hln_vector_encode(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    if (len == 0) {
        hln_buf_u8(out, 0x00);
        return 0;
    }
    const uint8_t *els[64];
    int32_t lens[64];
    if (t->dim > 64 || hln_vector_split(t, v, len, els, lens)) return HLN_EINVAL;
    hln_buf_u8(out, 0x01);
    for (int i = 0; i < t->dim; i++) {
        int rc = hln_type_to_comparable(t->params[0], els[i], (size_t)lens[i], false, out);
        if (rc) return rc;
    }
    return out->err;
}

int hln_vector_decode(const hln_type *t, hln_rd *r, bool desc, hln_buf *out)
{
    uint8_t tag;
    if (hln_type_take_byte(r, desc, &tag)) return HLN_ECORRUPT;
    if (tag == 0x00) return 0;
    if (tag != 0x01 || t->dim > 64) return HLN_ECORRUPT;
    hln_buf el;
    hln_buf_init(&el);
    int rc = 0;
    for (int i = 0; i < t->dim && !rc; i++) {
        hln_buf_reset(&el);
        rc = hln_type_from_comparable(t->params[0], r, desc, &el);
        if (!rc) {
            if (!t->params[0]->fixed_len) hln_buf_vint(out, el.len);
            hln_buf_put(out, el.data, el.len);
        }
    }
    hln_buf_free(&el);
    return rc ? rc : out->err;
}

/* ---- tuples ------------------------------------------------------------
 * Serialisation (TupleType): per component [i32 len][bytes], len -1 for
 * null; a value may have fewer components than its type, the missing
 * trailing ones being null.
 *
 * Ordering (TupleType.compareCustom): component by component, null before
 * every value; missing trailing components are equal to nulls.
 *
 * Comparable encoding:
 *     0x00                                   the empty value (0 bytes)
 *     0x01 { 0x01 | 0x02 enc(component) } 0x00
 * with the trailing null components left out, so that (1) and (1, null)
 * encode alike, as they compare equal; decoding gives every component of
 * the type back (the left-out ones as nulls), the form literals and drivers
 * produce. */

int hln_tuple_split(const hln_type *t, const uint8_t *v, size_t len, const uint8_t **els,
                    int32_t *lens, int *n)
{
    hln_rd r;
    hln_rd_init(&r, v, len);
    int i = 0;
    while (hln_rd_left(&r) > 0) {
        if (i >= t->nparams) return HLN_EINVAL;
        if (hln_coll_next(&r, &els[i], &lens[i])) return HLN_EINVAL;
        i++;
    }
    *n = i;
    return 0;
}

int hln_tuple_build(const uint8_t *const *els, const int32_t *lens, int n, hln_buf *out)
{
    for (int i = 0; i < n; i++)
        put_el(out, els[i], lens[i] < 0 ? -1 : lens[i]);
    return out->err;
}

int hln_tuple_validate(const hln_type *t, const uint8_t *v, size_t len, hln_error *err)
{
    bool udt = t->kind == HLN_T_UDT;
    hln_rd r;
    hln_rd_init(&r, v, len);
    for (int i = 0; i < t->nparams && hln_rd_left(&r) > 0; i++) {
        const char *fname = udt ? hln_udt_field(t, i) : "";
        if (hln_rd_left(&r) < 4)
            return udt ? hln_fail(err, HLN_EINVAL, "Not enough bytes to read size of %dth field %s",
                                  i, fname)
                       : hln_fail(err, HLN_EINVAL,
                                  "Not enough bytes to read size of %dth component", i);
        int32_t l = (int32_t)hln_rd_u32(&r);
        if (l < 0) continue;
        if ((size_t)l > hln_rd_left(&r))
            return udt ? hln_fail(err, HLN_EINVAL, "Not enough bytes to read %dth field %s", i,
                                  fname)
                       : hln_fail(err, HLN_EINVAL, "Not enough bytes to read %dth component", i);
        const uint8_t *e = l ? hln_rd_take(&r, (size_t)l) : v;
        int rc = hln_type_validate(t->params[i], e, (size_t)l, NULL, err);
        if (rc) return rc;
    }
    if (hln_rd_left(&r) != 0)
        return hln_fail(err, HLN_EINVAL,
                        udt ? "Invalid remaining data after end of UDT value"
                            : "Invalid remaining data after end of tuple value");
    return 0;
}

int hln_tuple_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                      size_t blen)
{
    const uint8_t *ea[HLN_TUPLE_MAX], *eb[HLN_TUPLE_MAX];
    int32_t la[HLN_TUPLE_MAX], lb[HLN_TUPLE_MAX];
    int na = 0, nb = 0;
    if (hln_tuple_split(t, a, alen, ea, la, &na) || hln_tuple_split(t, b, blen, eb, lb, &nb)) {
        size_t m = alen < blen ? alen : blen;
        int c = memcmp(a, b, m);
        return c ? c : (alen > blen) - (alen < blen);
    }
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int32_t xa = i < na ? la[i] : -1, xb = i < nb ? lb[i] : -1;
        if (xa < 0 || xb < 0) {
            if ((xa < 0) != (xb < 0)) return xa < 0 ? -1 : 1;
            continue;
        }
        int c = hln_type_compare(t->params[i], ea[i], (size_t)xa, eb[i], (size_t)xb);
        if (c) return c;
    }
    return 0;
}

int hln_tuple_encode(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    if (len == 0) {
        hln_buf_u8(out, 0x00);
        return 0;
    }
    const uint8_t *els[HLN_TUPLE_MAX];
    int32_t lens[HLN_TUPLE_MAX];
    int n = 0;
    if (hln_tuple_split(t, v, len, els, lens, &n)) return HLN_EINVAL;
    while (n > 0 && lens[n - 1] < 0)
        n--;
    hln_buf_u8(out, 0x01);
    for (int i = 0; i < n; i++) {
        if (lens[i] < 0) {
            hln_buf_u8(out, 0x01);
            continue;
        }
        hln_buf_u8(out, 0x02);
        int rc = hln_type_to_comparable(t->params[i], els[i], (size_t)lens[i], false, out);
        if (rc) return rc;
    }
    hln_buf_u8(out, 0x00);
    return out->err;
}

int hln_tuple_decode(const hln_type *t, hln_rd *r, bool desc, hln_buf *out)
{
    uint8_t tag;
    if (hln_type_take_byte(r, desc, &tag)) return HLN_ECORRUPT;
    if (tag == 0x00) return 0;
    if (tag != 0x01) return HLN_ECORRUPT;
    hln_buf el;
    hln_buf_init(&el);
    int rc = 0, i = 0;
    for (;; i++) {
        if (hln_type_take_byte(r, desc, &tag)) {
            rc = HLN_ECORRUPT;
            break;
        }
        if (tag == 0x00) break;
        if (i >= t->nparams || (tag != 0x01 && tag != 0x02)) {
            rc = HLN_ECORRUPT;
            break;
        }
        if (tag == 0x01) {
            hln_buf_u32(out, UINT32_MAX);
            continue;
        }
        hln_buf_reset(&el);
        rc = hln_type_from_comparable(t->params[i], r, desc, &el);
        if (rc) break;
        hln_buf_u32(out, (uint32_t)el.len);
        hln_buf_put(out, el.data, el.len);
    }
    hln_buf_free(&el);
    for (; !rc && i < t->nparams; i++)
        hln_buf_u32(out, UINT32_MAX);
    return rc ? rc : out->err;
}

/* ---- normalising any value -------------------------------------------- */

bool hln_type_needs_normalize(const hln_type *t)
{
    if (!t) return false;
    if (t->kind == HLN_T_SET || t->kind == HLN_T_MAP) return true;
    if (t->kind == HLN_T_VECTOR) return false; /* elements are never sets or maps' keys */
    for (int i = 0; i < t->nparams; i++)
        if (hln_type_needs_normalize(t->params[i])) return true;
    return false;
}

int hln_value_normalize(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out)
{
    if (len == 0 || !hln_type_needs_normalize(t)) {
        hln_buf_put(out, v, len);
        return out->err;
    }
    if (hln_type_is_collection(t)) return hln_coll_normalize(t, v, len, out);
    if (t->kind != HLN_T_TUPLE && t->kind != HLN_T_UDT) {
        hln_buf_put(out, v, len);
        return out->err;
    }
    const uint8_t *els[HLN_TUPLE_MAX];
    int32_t lens[HLN_TUPLE_MAX];
    int n = 0;
    if (hln_tuple_split(t, v, len, els, lens, &n)) return HLN_EINVAL;
    int rc = 0;
    hln_buf el;
    hln_buf_init(&el);
    for (int i = 0; i < n && !rc; i++) {
        if (lens[i] <= 0 || !hln_type_needs_normalize(t->params[i])) {
            put_el(out, els[i], lens[i]);
            continue;
        }
        hln_buf_reset(&el);
        rc = hln_value_normalize(t->params[i], els[i], (size_t)lens[i], &el);
        if (!rc && el.err) rc = HLN_ENOMEM;
        if (!rc) put_el(out, el.data, (int32_t)el.len);
    }
    hln_buf_free(&el);
    return rc ? rc : out->err;
}
