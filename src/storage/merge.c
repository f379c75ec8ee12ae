/*
 * merge.c — ordering, slice bounds, reconciliation and the read-time merge.
 *
 * What: the small rules every part of storage agrees on (key encoding and
 * order, what a slice bound admits, which of two cells wins) and
 * st_merge_rows, which turns k row sources of one partition (the memtable
 * and each sstable) into the live rows a read returns.
 *
 * The merge: each source yields rows of the slice in the read's direction.
 * At every step the smallest (largest when reversed) clustering key among
 * the sources' heads is taken, the rows of all sources with that key are
 * combined — row deletion by maximum timestamp, the row marker and cells
 * by st_cell_supersedes, cell by cell in st_cell_cmp order, (column, path)
 * against (column, path), a column deletion against the column deletions
 * of its column — and then shadowed: with D = max(partition deletion,
 * newest range tombstone covering the row's clustering key, row deletion),
 * the marker is live iff its timestamp > D and it has not expired, and a
 * cell is live iff it is not a tombstone, has not expired (0 < expires <=
 * now_sec is expired) and its timestamp > max(D, its column's newest
 * column deletion) (storage.h invariant 3). Since a column's deletion sorts
 * before its cells in every source, the merged walk meets it first. A row
 * with a live marker or a live cell is emitted; the merge stops after
 * `limit` live rows, so a LIMIT query on a huge partition reads only what
 * it returns (plus dead rows between). A source whose next block is not
 * read yet offers the block's first key from the index instead of a row
 * (st_rowsrc.peek): it is read only when that key could be the smallest,
 * so a LIMIT read of a partition spread over many sstables reads the few
 * whose keys it returns (a latest-10 read of time series: usually one).
 *
 * Invariants:
 *  1. Reconciliation is order independent (storageInt.h invariant 3), so the
 *     result does not depend on how many sstables hold a partition or on the
 *     order they are consulted.
 *  2. Output memory is all arena memory: values from sources that are not
 *     "stable" (the memtable, which a later flush frees) are copied.
 *  3. Expiry depends on the read's clock only at the very end (is the
 *     winner live?); reconciliation never looks at the clock, so an
 *     expired cell still beats and shadows older versions of its cell, as
 *     a tombstone of its timestamp would, and compaction (which has no
 *     reader's clock) keeps expired cells unchanged.
 */
#include <string.h>

#include "storage/storageInt.h"

void st_key_encode(int64_t token, const uint8_t *pk, uint32_t pklen, uint8_t *out)
{
    uint64_t u = (uint64_t)token ^ UINT64_C(0x8000000000000000);
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)u;
        u >>= 8;
    }
    if (pklen) memcpy(out + ST_KEY_TOKEN_BYTES, pk, pklen);
}

int64_t st_key_token(const uint8_t *key)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | key[i];
    return (int64_t)(u ^ UINT64_C(0x8000000000000000));
}

int st_bytes_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

bool st_bytes_has_prefix(const uint8_t *k, uint32_t klen, const uint8_t *p, uint32_t plen)
{
    return klen >= plen && (plen == 0 || memcmp(k, p, plen) == 0);
}

bool st_start_admits(const st_bound *b, const uint8_t *k, uint32_t klen)
{
    if (b->inclusive) return st_bytes_cmp(k, klen, b->key, b->len) >= 0;
    return st_bytes_cmp(k, klen, b->key, b->len) > 0 &&
           !st_bytes_has_prefix(k, klen, b->key, b->len);
}

bool st_end_admits(const st_bound *b, const uint8_t *k, uint32_t klen)
{
    if (b->inclusive)
        return st_bytes_cmp(k, klen, b->key, b->len) <= 0 ||
               st_bytes_has_prefix(k, klen, b->key, b->len);
    return st_bytes_cmp(k, klen, b->key, b->len) < 0;
}

int64_t st_rt_cover(const st_range_tomb *rts, uint32_t n, const uint8_t *ck, uint32_t cklen)
{
    int64_t ts = HLN_TS_NONE;
    for (uint32_t i = 0; i < n; i++) {
        const st_range_tomb *rt = &rts[i];
        if (rt->ts > ts && st_start_admits(&rt->start, ck, cklen) &&
            st_end_admits(&rt->end, ck, cklen))
            ts = rt->ts;
    }
    return ts;
}

static bool cell_is_tomb(const st_cell *c)
{
    return (c->flags & (ST_CELL_TOMBSTONE | ST_CELL_COLDEL)) != 0;
}
static bool cell_is_expiring(const st_cell *c)
{
    return c->ttl != 0 || c->expires != 0;
}

int st_cell_cmp(const st_cell *a, const st_cell *b)
{
    if (a->col_id != b->col_id) return a->col_id < b->col_id ? -1 : 1;
    bool ad = st_cell_is_coldel(a), bd = st_cell_is_coldel(b);
    if (ad || bd) return ad == bd ? 0 : ad ? -1 : 1;
    return st_bytes_cmp(a->path, a->pathlen, b->path, b->pathlen);
}

bool st_cell_supersedes(const st_cell *a, const st_cell *b)
{
    if (a->ts != b->ts) return a->ts > b->ts;
    bool at = cell_is_tomb(a), bt = cell_is_tomb(b);
    bool ad = at || cell_is_expiring(a), bd = bt || cell_is_expiring(b);
    if (ad != bd) return ad;
    if (ad) {
        if (at != bt) return at;
        if (a->expires != b->expires) return a->expires > b->expires;
    }
    if (at && bt) return false;
    return st_bytes_cmp(a->val, a->len, b->val, b->len) > 0;
}

bool st_marker_supersedes(int64_t ats, int32_t attl, int64_t aexp, int64_t bts, int32_t bttl,
                          int64_t bexp)
{
    st_cell a = {.ts = ats, .ttl = attl, .expires = aexp};
    st_cell b = {.ts = bts, .ttl = bttl, .expires = bexp};
    return st_cell_supersedes(&a, &b);
}

/* The winning marker among same[0..m) (the highest ts; on a tie the
 * expiring one, then the later expiry); *out gets marker_ts HLN_TS_NONE
 * when no row has one. Only the marker fields of *out are set. */
static void marker_winner(const st_row *const *same, uint32_t m, st_row *out)
{
    out->marker_ts = HLN_TS_NONE;
    out->marker_ttl = 0;
    out->marker_expires = 0;
    for (uint32_t j = 0; j < m; j++) {
        const st_row *r = same[j];
        if (r->marker_ts == HLN_TS_NONE) continue;
        if (out->marker_ts == HLN_TS_NONE ||
            st_marker_supersedes(r->marker_ts, r->marker_ttl, r->marker_expires, out->marker_ts,
                                 out->marker_ttl, out->marker_expires)) {
            out->marker_ts = r->marker_ts;
            out->marker_ttl = r->marker_ttl;
            out->marker_expires = r->marker_expires;
        }
    }
}

/* ---- the merge ----------------------------------------------------------- */

typedef struct outvec {
    st_row *rows;
    uint32_t n, cap;
} outvec;

static int outvec_push(outvec *v, hln_arena *a, const st_row *r)
{
    if (v->n == v->cap) {
        uint32_t ncap = v->cap ? v->cap * 2 : 8;
        st_row *nr = hln_arena_alloc(a, (size_t)ncap * sizeof(st_row));
        if (!nr) return HLN_ENOMEM;
        if (v->n) memcpy(nr, v->rows, (size_t)v->n * sizeof(st_row));
        v->rows = nr;
        v->cap = ncap;
    }
    v->rows[v->n++] = *r;
    return 0;
}

/* Empty cks and values are returned as a valid pointer, never NULL, so
 * callers may memcpy them without a special case. */
static const uint8_t empty_bytes[1];

static const uint8_t *copy_bytes(hln_arena *a, const uint8_t *p, uint32_t n, bool stable, int *rc)
{
    if (n == 0) return empty_bytes;
    if (stable) return p;
    const uint8_t *q = hln_arena_memdup(a, p, n);
    if (!q) *rc = HLN_ENOMEM;
    return q;
}

/* The next cell among the cursors cur[] over the cells of same[0..m), in
 * st_cell order: advances every cursor past the smallest cell key (column,
 * column deletion first, path) and returns that key's winning version
 * (st_cell_supersedes), its source in *src; NULL when every cursor is at
 * its end. A column's deletion is returned before any cell of the column. */
static const st_cell *next_cell(const st_row *const *same, uint32_t m, uint32_t *cur, uint32_t *src)
{
    const st_cell *key = NULL;
    for (uint32_t j = 0; j < m; j++) {
        if (cur[j] < same[j]->ncells) {
            const st_cell *c = &same[j]->cells[cur[j]];
            if (!key || st_cell_cmp(c, key) < 0) key = c;
        }
    }
    if (!key) return NULL;
    const st_cell *win = NULL;
    for (uint32_t j = 0; j < m; j++) {
        while (cur[j] < same[j]->ncells && st_cell_cmp(&same[j]->cells[cur[j]], key) == 0) {
            const st_cell *c = &same[j]->cells[cur[j]];
            if (!win || st_cell_supersedes(c, win)) {
                win = c;
                *src = j;
            }
            cur[j]++;
        }
    }
    return win;
}

/* Tracks the column deletion of the column being walked: the timestamp
 * that shadows the cells of that column (HLN_TS_NONE when it has none). */
typedef struct coltrack {
    bool any;
    uint32_t col;
    int64_t del;
} coltrack;

static int64_t coltrack_step(coltrack *t, const st_cell *c)
{
    if (!t->any || c->col_id != t->col) {
        t->any = true;
        t->col = c->col_id;
        t->del = HLN_TS_NONE;
    }
    return t->del;
}

/* Combines the m rows (same ck) in same[] into *out; *live tells whether it
 * has anything live under the partition deletion pdel at now_sec. */
static int merge_one(const st_row **same, const bool *stable, uint32_t m, int64_t pdel,
                     const st_range_tomb *rts, uint32_t nrts, int64_t now_sec, hln_arena *a,
                     uint32_t *cur, st_row *out, bool *live)
{
    int64_t del = HLN_TS_NONE;
    size_t total = 0;
    for (uint32_t j = 0; j < m; j++) {
        del = st_ts_max(del, same[j]->del_ts);
        total += same[j]->ncells;
        cur[j] = 0;
    }
    int64_t shadow = st_ts_max(pdel, del);
    if (nrts) shadow = st_ts_max(shadow, st_rt_cover(rts, nrts, same[0]->ck, same[0]->cklen));
    int rc = 0;
    memset(out, 0, sizeof(*out));
    out->del_ts = HLN_TS_NONE;
    marker_winner(same, m, out);
    bool marker_dead = out->marker_ts == HLN_TS_NONE || out->marker_ts <= shadow ||
                       (out->marker_expires != 0 && out->marker_expires <= now_sec);
    if (marker_dead) {
        out->marker_ts = HLN_TS_NONE;
        out->marker_ttl = 0;
        out->marker_expires = 0;
    }
    st_cell *cells = NULL;
    uint32_t nout = 0;
    if (total) {
        cells = hln_arena_alloc(a, total * sizeof(st_cell));
        if (!cells) return HLN_ENOMEM;
    }
    const st_cell *win;
    uint32_t src = 0;
    coltrack ct = {0};
    while ((win = next_cell(same, m, cur, &src)) != NULL) {
        int64_t coldel = coltrack_step(&ct, win);
        if (st_cell_is_coldel(win)) {
            ct.del = win->ts;
            continue;
        }
        if (st_cell_dead(win, now_sec) || win->ts <= st_ts_max(shadow, coldel)) continue;
        st_cell *o = &cells[nout++];
        *o = *win;
        o->flags = 0;
        o->val = copy_bytes(a, win->val, win->len, stable[src], &rc);
        o->path = win->pathlen ? copy_bytes(a, win->path, win->pathlen, stable[src], &rc) : NULL;
        if (rc) return rc;
    }
    *live = out->marker_ts != HLN_TS_NONE || nout > 0;
    if (!*live) return 0;
    out->cells = nout ? cells : NULL;
    out->ncells = nout;
    out->cklen = same[0]->cklen;
    out->ck = copy_bytes(a, same[0]->ck, same[0]->cklen, stable[0], &rc);
    return rc;
}

int st_merge_rows(st_rowsrc **srcs, size_t nsrcs, int64_t pdel_ts, const st_range_tomb *rts,
                  uint32_t nrts, bool reversed, uint32_t limit, int64_t now_sec, hln_arena *a,
                  st_row **rows, uint32_t *nrows, hln_error *err)
{
    *rows = NULL;
    *nrows = 0;
    if (nsrcs == 0) return 0;
    const st_row **head = hln_arena_alloc(a, nsrcs * sizeof(*head));
    const st_row **same = hln_arena_alloc(a, nsrcs * sizeof(*same));
    bool *stable = hln_arena_alloc(a, nsrcs * sizeof(*stable));
    uint32_t *cur = hln_arena_alloc(a, nsrcs * sizeof(*cur));
    uint32_t *which = hln_arena_alloc(a, nsrcs * sizeof(*which));
    /* lazy[i]: source i's next row is not read yet, only bounded by
       lk[i] (st_rowsrc.peek); it is read once that bound could be the
       smallest key, so a limit reached first spares the read */
    bool *lazy = hln_arena_alloc(a, nsrcs * sizeof(*lazy));
    const uint8_t **lk = hln_arena_alloc(a, nsrcs * sizeof(*lk));
    uint32_t *lkl = hln_arena_alloc(a, nsrcs * sizeof(*lkl));
    if (!head || !same || !stable || !cur || !which || !lazy || !lk || !lkl)
        return hln_fail(err, HLN_ENOMEM, "out of memory merging rows");
    for (size_t i = 0; i < nsrcs; i++) {
        head[i] = NULL;
        lazy[i] = srcs[i]->peek && srcs[i]->peek(srcs[i], &lk[i], &lkl[i]);
        if (lazy[i]) continue;
        int rc = srcs[i]->next(srcs[i], &head[i], err);
        if (rc < 0) return rc;
        if (rc == 0) head[i] = NULL;
    }
    outvec v = {0};
    for (;;) {
        /* the smallest key among heads and lazy bounds; on a tie a lazy
           source wins, so a row is only taken once every source that could
           hold its key has been read */
        long bi = -1;
        const uint8_t *bk = NULL;
        uint32_t bkl = 0;
        for (size_t i = 0; i < nsrcs; i++) {
            if (!lazy[i] && !head[i]) continue;
            const uint8_t *k = lazy[i] ? lk[i] : head[i]->ck;
            uint32_t kl = lazy[i] ? lkl[i] : head[i]->cklen;
            int c = bi < 0 ? -1 : st_bytes_cmp(k, kl, bk, bkl);
            if (bi < 0 || (reversed ? c > 0 : c < 0) || (c == 0 && lazy[i] && !lazy[bi])) {
                bi = (long)i;
                bk = k;
                bkl = kl;
            }
        }
        if (bi < 0) break;
        if (lazy[bi]) {
            lazy[bi] = false;
            int rc = srcs[bi]->next(srcs[bi], &head[bi], err);
            if (rc < 0) return rc;
            if (rc == 0) head[bi] = NULL;
            continue;
        }
        const st_row *best = head[bi];
        uint32_t m = 0;
        for (size_t i = 0; i < nsrcs; i++) {
            if (head[i] && st_bytes_cmp(head[i]->ck, head[i]->cklen, best->ck, best->cklen) == 0) {
                same[m] = head[i];
                stable[m] = srcs[i]->stable;
                which[m] = (uint32_t)i;
                m++;
            }
        }
        st_row out;
        bool live = false;
        int rc = merge_one(same, stable, m, pdel_ts, rts, nrts, now_sec, a, cur, &out, &live);
        if (rc == 0 && live) rc = outvec_push(&v, a, &out);
        if (rc < 0) return hln_fail(err, rc, "out of memory merging rows");
        if (live && limit && v.n >= limit) break;
        for (uint32_t j = 0; j < m; j++) {
            uint32_t i = which[j];
            head[i] = NULL;
            lazy[i] = srcs[i]->peek && srcs[i]->peek(srcs[i], &lk[i], &lkl[i]);
            if (lazy[i]) continue;
            rc = srcs[i]->next(srcs[i], &head[i], err);
            if (rc < 0) return rc;
            if (rc == 0) head[i] = NULL;
        }
    }
    *rows = v.rows;
    *nrows = v.n;
    return 0;
}

/* ---- reconciliation for compaction ---------------------------------------- */

bool st_reconcile_row(const st_row *const *same, uint32_t m, int64_t pdel, const st_range_tomb *rts,
                      uint32_t nrts, uint32_t *cur, st_cell *cells, st_row *out)
{
    int64_t del = HLN_TS_NONE;
    for (uint32_t j = 0; j < m; j++) {
        del = st_ts_max(del, same[j]->del_ts);
        cur[j] = 0;
    }
    /* what covers the row from above: a row deletion not newer than that is
       redundant and goes */
    int64_t above = pdel;
    if (nrts) above = st_ts_max(above, st_rt_cover(rts, nrts, same[0]->ck, same[0]->cklen));
    if (del <= above) del = HLN_TS_NONE;
    int64_t shadow = st_ts_max(above, del);
    memset(out, 0, sizeof(*out));
    out->ck = same[0]->ck;
    out->cklen = same[0]->cklen;
    out->del_ts = del;
    marker_winner(same, m, out);
    /* an expired marker is kept: expiry is the reader's clock's business */
    if (out->marker_ts != HLN_TS_NONE && out->marker_ts <= shadow) {
        out->marker_ts = HLN_TS_NONE;
        out->marker_ttl = 0;
        out->marker_expires = 0;
    }
    uint32_t nout = 0, src;
    const st_cell *win;
    coltrack ct = {0};
    /* the winner is the newest: if it is shadowed, so is every version */
    while ((win = next_cell(same, m, cur, &src)) != NULL) {
        int64_t coldel = coltrack_step(&ct, win);
        if (win->ts <= st_ts_max(shadow, coldel)) continue;
        if (st_cell_is_coldel(win)) ct.del = win->ts;
        cells[nout++] = *win;
    }
    out->cells = nout ? cells : NULL;
    out->ncells = nout;
    return out->marker_ts != HLN_TS_NONE || out->del_ts != HLN_TS_NONE || nout > 0;
}
