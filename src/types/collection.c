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
#include <pthread.h>
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
    const uint8_t *prev = NULL;
    int32_t prevlen = 0;
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
            if (part == 0 && t->kind != HLN_T_LIST) {
                /* stored keys must be in order for comparisons to hold */
                if (prev && hln_type_compare(et, prev, (size_t)prevlen, e, (size_t)elen) >= 0)
                    return hln_fail(err, HLN_EINVAL,
                                    "Invalid %s value: elements are not sorted "
                                    "or not unique",
                                    what);
                prev = e;
                prevlen = elen;
            }
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

/* ---- building --------------------------------------------------------- */

typedef struct elref {
    const uint8_t *k, *v;
    int32_t klen, vlen;
    uint32_t order; /* position in the input, to let a later duplicate win */
} elref;

static const hln_type *sort_type;

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

static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

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
    /* qsort has no context argument in C11: the comparator's type is
       passed through a static guarded by a mutex (sorting is rare and short) */
    pthread_mutex_lock(&sort_mu);
    sort_type = t->params[0];
    if (n > 1) qsort(refs, n, sizeof *refs, cmp_elref);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* of equal keys the last in input order wins: it sorts last */
        if (i + 1 < n && cmp_elref(&(elref){refs[i].k, NULL, refs[i].klen, 0, 0},
                                   &(elref){refs[i + 1].k, NULL, refs[i + 1].klen, 0, 0}) == 0)
            continue;
        refs[kept++] = refs[i];
    }
    pthread_mutex_unlock(&sort_mu);
    hln_buf_u32(out, kept);
    for (uint32_t i = 0; i < kept; i++) {
        put_el(out, refs[i].k, refs[i].klen);
        if (is_map) put_el(out, refs[i].v, refs[i].vlen);
    }
    free(refs);
    return out->err;
}
