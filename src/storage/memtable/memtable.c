/*
 * memtable.c — skiplists of partitions and rows, arena allocated.
 *
 * What: the write buffer of one table (memtable.h). Partitions are kept in a
 * skiplist ordered by the encoded partition key (token, pk); each partition
 * keeps its rows in a second skiplist ordered by clustering bytes (memcmp).
 * A row keeps its cells in an array sorted by (column id, column deletion
 * first, path) (st_cell_cmp).
 *
 * Why skiplists: ordered iteration for flush and scans, O(log n) point
 * lookups, simple code, and nodes that never move (a read holds plain
 * pointers). Level 0 is doubly linked so reversed slices walk backwards
 * without materialising the slice. Heights are drawn with p = 1/4 from a
 * per-memtable xorshift generator (deterministic, no global state).
 *
 * Why one arena: a memtable is written, read, flushed, then thrown away as a
 * whole; per-node frees would be wasted work. Overwritten values and grown
 * cell arrays are not reclaimed; they count in mt_bytes, which is what the
 * flush threshold measures (like Cassandra's slab allocator accounting).
 *
 * Reconciliation on insert: row/partition deletions keep the maximum
 * timestamp; range tombstones are kept per partition in an array (two with
 * identical bounds merge, keeping the newer timestamp); the row marker and
 * a cell (keyed by column and path; a column deletion by its column)
 * replace the stored one only if they supersede it (st_cell_supersedes,
 * st_marker_supersedes). Shadowed data is NOT removed on insert:
 * tombstones and the data they cover both stay, and readers/flush apply
 * shadowing. This keeps insert O(log n) and the result independent of
 * arrival order. The one exception is a column deletion: it drops the
 * older cells of its column when stored, and a cell it already shadows is
 * not stored (the column deletion stays, so reads are unchanged; a
 * collection overwritten again and again does not pile up its elements).
 *
 * Invariants:
 *  1. In every list, level-0 keys are strictly increasing (st_bytes_cmp);
 *     node->prev is the level-0 predecessor and list->tail the last node.
 *  2. A row's cells are sorted by st_cell_cmp with no duplicates, whatever
 *     order the mutation listed them in, and no cell is shadowed by its
 *     column's deletion.
 *  3. Nothing is freed before mt_free.
 */
#include <string.h>

#include "storage/memtable/memtable.h"

struct mt_table {
    hln_arena arena;
    size_t bytes;
    uint64_t rng;
    mt_list parts;
    hln_buf scratch; /* encoded key of the mutation being applied */
    int64_t min_ts;  /* the oldest timestamp applied (INT64_MAX: none) */
};

typedef bool (*node_pred)(const mt_node *n, const void *ctx);

typedef struct keyref {
    const uint8_t *p;
    uint32_t n;
} keyref;

static void *mt_alloc(mt_table *mt, size_t n)
{
    void *p = hln_arena_alloc(&mt->arena, n);
    if (p) mt->bytes += (n + 7) & ~(size_t)7;
    return p;
}

mt_table *mt_new(void)
{
    mt_table *mt = hln_calloc(1, sizeof(*mt));
    if (!mt) return NULL;
    hln_arena_init(&mt->arena, 64 * 1024);
    hln_buf_init(&mt->scratch);
    mt->rng = UINT64_C(0x9E3779B97F4A7C15);
    mt->min_ts = INT64_MAX;
    return mt;
}

void mt_free(mt_table *mt)
{
    if (!mt) return;
    hln_arena_free(&mt->arena);
    hln_buf_free(&mt->scratch);
    hln_free(mt);
}

size_t mt_bytes(const mt_table *mt)
{
    return mt->bytes;
}
size_t mt_partition_count(const mt_table *mt)
{
    return mt->parts.count;
}

/* ---- skiplist ------------------------------------------------------------ */

static uint32_t rand_height(mt_table *mt)
{
    uint64_t x = mt->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    mt->rng = x;
    uint32_t h = 1;
    while (h < MT_MAX_HEIGHT && (x & 3) == 0) {
        h++;
        x >>= 2;
    }
    return h;
}

/* First node satisfying the monotone pred (NULL if none); update[l] receives
 * the last node before it on each level l < height (NULL = the head). */
static mt_node *sl_search(const mt_list *l, node_pred pred, const void *ctx, mt_node **update)
{
    mt_node *x = NULL;
    for (int lvl = (int)l->height - 1; lvl >= 0; lvl--) {
        mt_node *nx = x ? x->next[lvl] : l->head[lvl];
        while (nx && !pred(nx, ctx)) {
            x = nx;
            nx = x->next[lvl];
        }
        if (update) update[lvl] = x;
    }
    if (x) return x->next[0];
    return l->height ? l->head[0] : NULL;
}

static mt_node *sl_insert(mt_table *mt, mt_list *l, mt_node **update, const uint8_t *key,
                          uint32_t klen, void *val)
{
    uint32_t h = rand_height(mt);
    if (h > l->cap) {
        uint32_t ncap = l->cap ? l->cap : 4;
        while (ncap < h)
            ncap *= 2;
        if (ncap > MT_MAX_HEIGHT) ncap = MT_MAX_HEIGHT;
        mt_node **nh = mt_alloc(mt, ncap * sizeof(*nh));
        if (!nh) return NULL;
        if (l->cap) memcpy(nh, l->head, l->cap * sizeof(*nh));
        l->head = nh;
        l->cap = ncap;
    }
    mt_node *n = mt_alloc(mt, sizeof(mt_node) + h * sizeof(mt_node *));
    if (!n) return NULL;
    for (uint32_t lvl = l->height; lvl < h; lvl++)
        update[lvl] = NULL;
    if (h > l->height) l->height = h;
    n->key = key;
    n->klen = klen;
    n->height = h;
    n->val = val;
    for (uint32_t lvl = 0; lvl < h; lvl++) {
        if (update[lvl]) {
            n->next[lvl] = update[lvl]->next[lvl];
            update[lvl]->next[lvl] = n;
        } else {
            n->next[lvl] = l->head[lvl];
            l->head[lvl] = n;
        }
    }
    n->prev = update[0];
    if (n->next[0])
        n->next[0]->prev = n;
    else
        l->tail = n;
    l->count++;
    return n;
}

static bool pred_ge(const mt_node *n, const void *ctx)
{
    const keyref *k = ctx;
    return st_bytes_cmp(n->key, n->klen, k->p, k->n) >= 0;
}

/* ---- writes -------------------------------------------------------------- */

/* Copies c into dst (the value and path into the arena), normalised: a
 * column deletion carries nothing but column and timestamp, a tombstone no
 * value. */
static int cell_store(mt_table *mt, st_cell *dst, const st_cell *c)
{
    *dst = *c;
    if (c->flags & ST_CELL_COLDEL) {
        dst->flags = ST_CELL_COLDEL;
        dst->ttl = 0;
        dst->expires = 0;
        dst->path = NULL;
        dst->pathlen = 0;
    } else {
        dst->flags = c->flags & ST_CELL_TOMBSTONE;
    }
    if (dst->flags) {
        dst->val = NULL;
        dst->len = 0;
    } else if (c->len) {
        uint8_t *v = mt_alloc(mt, c->len);
        if (!v) return HLN_ENOMEM;
        memcpy(v, c->val, c->len);
        dst->val = v;
    } else {
        dst->val = NULL;
    }
    if (dst->pathlen) {
        uint8_t *q = mt_alloc(mt, dst->pathlen);
        if (!q) return HLN_ENOMEM;
        memcpy(q, c->path, c->pathlen);
        dst->path = q;
    } else {
        dst->path = NULL;
    }
    return 0;
}

/* The first position in cells[0..n) whose key is >= c's (st_cell_cmp). */
static uint32_t cell_lower_bound(const st_cell *cells, uint32_t n, const st_cell *c)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (st_cell_cmp(&cells[mid], c) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* After the column deletion at cells[at] was stored: removes the cells of
 * its column it shadows (they follow it). */
static void drop_shadowed(mt_row *r, uint32_t at)
{
    st_cell *cells = r->row.cells;
    uint32_t n = r->row.ncells, w = at + 1, i = at + 1;
    for (; i < n && cells[i].col_id == cells[at].col_id; i++)
        if (cells[i].ts > cells[at].ts) cells[w++] = cells[i];
    if (w == i) return;
    memmove(&cells[w], &cells[i], (size_t)(n - i) * sizeof(st_cell));
    r->row.ncells = n - (i - w);
}

static int row_put_cell(mt_table *mt, mt_row *r, const st_cell *in)
{
    st_cell c = *in;
    if (c.flags & ST_CELL_COLDEL) c.flags = ST_CELL_COLDEL; /* st_cell_cmp ignores its path */
    bool coldel = st_cell_is_coldel(&c);
    st_cell *cells = r->row.cells;
    uint32_t n = r->row.ncells;
    uint32_t lo = cell_lower_bound(cells, n, &c);
    if (!coldel) {
        /* a cell the column's deletion already shadows is not stored */
        st_cell key = {.col_id = c.col_id, .flags = ST_CELL_COLDEL};
        uint32_t d = cell_lower_bound(cells, n, &key);
        if (d < n && st_cell_cmp(&cells[d], &key) == 0 && cells[d].ts >= c.ts) return 0;
    }
    if (lo < n && st_cell_cmp(&cells[lo], &c) == 0) {
        if (!st_cell_supersedes(&c, &cells[lo])) return 0;
        int rc = cell_store(mt, &cells[lo], &c);
        if (rc == 0 && coldel) drop_shadowed(r, lo);
        return rc;
    }
    if (n == r->cap) {
        uint32_t ncap = r->cap ? r->cap * 2 : 4;
        st_cell *nc = mt_alloc(mt, (size_t)ncap * sizeof(st_cell));
        if (!nc) return HLN_ENOMEM;
        if (n) memcpy(nc, cells, (size_t)n * sizeof(st_cell));
        r->row.cells = cells = nc;
        r->cap = ncap;
    }
    if (lo < n) memmove(&cells[lo + 1], &cells[lo], (size_t)(n - lo) * sizeof(st_cell));
    int rc = cell_store(mt, &cells[lo], &c);
    if (rc < 0) {
        memmove(&cells[lo], &cells[lo + 1], (size_t)(n - lo) * sizeof(st_cell));
        return rc;
    }
    r->row.ncells = n + 1;
    if (coldel) drop_shadowed(r, lo);
    return 0;
}

static int row_apply(mt_table *mt, mt_part *p, const st_row *in)
{
    mt_node *update[MT_MAX_HEIGHT];
    keyref k = {in->ck, in->cklen};
    mt_node *n = sl_search(&p->rows, pred_ge, &k, update);
    mt_row *r;
    if (n && st_bytes_cmp(n->key, n->klen, in->ck, in->cklen) == 0) {
        r = n->val;
    } else {
        r = mt_alloc(mt, sizeof(*r));
        if (!r) return HLN_ENOMEM;
        uint8_t *ck = NULL;
        if (in->cklen) {
            ck = mt_alloc(mt, in->cklen);
            if (!ck) return HLN_ENOMEM;
            memcpy(ck, in->ck, in->cklen);
        }
        r->row.ck = ck;
        r->row.cklen = in->cklen;
        r->row.marker_ts = HLN_TS_NONE;
        r->row.del_ts = HLN_TS_NONE;
        if (in->ncells) {
            r->row.cells = mt_alloc(mt, (size_t)in->ncells * sizeof(st_cell));
            if (!r->row.cells) return HLN_ENOMEM;
            r->cap = in->ncells;
        }
        if (!sl_insert(mt, &p->rows, update, ck, in->cklen, r)) return HLN_ENOMEM;
    }
    if (in->marker_ts != HLN_TS_NONE &&
        (r->row.marker_ts == HLN_TS_NONE ||
         st_marker_supersedes(in->marker_ts, in->marker_ttl, in->marker_expires, r->row.marker_ts,
                              r->row.marker_ttl, r->row.marker_expires))) {
        r->row.marker_ts = in->marker_ts;
        r->row.marker_ttl = in->marker_ttl;
        r->row.marker_expires = in->marker_expires;
    }
    r->row.del_ts = st_ts_max(r->row.del_ts, in->del_ts);
    for (uint32_t i = 0; i < in->ncells; i++) {
        int rc = row_put_cell(mt, r, &in->cells[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

static bool same_bound(const st_bound *a, const st_bound *b)
{
    return a->inclusive == b->inclusive && st_bytes_cmp(a->key, a->len, b->key, b->len) == 0;
}

static const uint8_t *copy_key(mt_table *mt, const uint8_t *p, uint32_t n)
{
    static const uint8_t empty[1];
    if (n == 0) return empty;
    uint8_t *q = mt_alloc(mt, n);
    if (q) memcpy(q, p, n);
    return q;
}

/* Adds a range tombstone; one with the same bounds as a stored one only
 * raises its timestamp. */
static int part_add_rt(mt_table *mt, mt_part *p, const st_range_tomb *rt)
{
    for (uint32_t i = 0; i < p->nrts; i++) {
        st_range_tomb *x = &p->rts[i];
        if (same_bound(&x->start, &rt->start) && same_bound(&x->end, &rt->end)) {
            x->ts = st_ts_max(x->ts, rt->ts);
            return 0;
        }
    }
    if (p->nrts == p->caprts) {
        uint32_t ncap = p->caprts ? p->caprts * 2 : 2;
        st_range_tomb *n = mt_alloc(mt, (size_t)ncap * sizeof(*n));
        if (!n) return HLN_ENOMEM;
        if (p->nrts) memcpy(n, p->rts, (size_t)p->nrts * sizeof(*n));
        p->rts = n;
        p->caprts = ncap;
    }
    st_range_tomb c = *rt;
    c.start.key = copy_key(mt, rt->start.key, rt->start.len);
    c.end.key = copy_key(mt, rt->end.key, rt->end.len);
    if (!c.start.key || !c.end.key) return HLN_ENOMEM;
    p->rts[p->nrts++] = c;
    return 0;
}

static int64_t ts_min(int64_t a, int64_t b)
{
    return b != HLN_TS_NONE && b < a ? b : a;
}

/* The oldest timestamp in m (INT64_MAX if none): what compaction's purge
 * must not outlive (engine.c, compaction.c). */
static int64_t mutation_min_ts(const st_mutation *m)
{
    int64_t t = ts_min(INT64_MAX, m->pdel_ts);
    for (uint32_t i = 0; i < m->nrts; i++)
        t = ts_min(t, m->rts[i].ts);
    for (uint32_t i = 0; i < m->nrows; i++) {
        const st_row *r = &m->rows[i];
        t = ts_min(ts_min(t, r->marker_ts), r->del_ts);
        for (uint32_t k = 0; k < r->ncells; k++)
            t = ts_min(t, r->cells[k].ts);
    }
    return t;
}

int64_t mt_min_ts(const mt_table *mt)
{
    return mt->min_ts;
}

int mt_apply(mt_table *mt, const st_mutation *m)
{
    int64_t mts = mutation_min_ts(m);
    if (mts < mt->min_ts) mt->min_ts = mts;
    uint32_t klen = ST_KEY_TOKEN_BYTES + m->pklen;
    hln_buf_reset(&mt->scratch);
    if (hln_buf_reserve(&mt->scratch, klen) < 0) return HLN_ENOMEM;
    st_key_encode(m->token, m->pk, m->pklen, mt->scratch.data);
    keyref k = {mt->scratch.data, klen};
    mt_node *update[MT_MAX_HEIGHT];
    mt_node *n = sl_search(&mt->parts, pred_ge, &k, update);
    mt_part *p;
    if (n && st_bytes_cmp(n->key, n->klen, k.p, k.n) == 0) {
        p = n->val;
    } else {
        p = mt_alloc(mt, sizeof(*p));
        uint8_t *key = mt_alloc(mt, klen);
        if (!p || !key) return HLN_ENOMEM;
        memcpy(key, k.p, klen);
        p->key = key;
        p->klen = klen;
        p->token = m->token;
        p->pk = key + ST_KEY_TOKEN_BYTES;
        p->pklen = m->pklen;
        p->pdel_ts = HLN_TS_NONE;
        p->node = sl_insert(mt, &mt->parts, update, key, klen, p);
        if (!p->node) return HLN_ENOMEM;
    }
    p->pdel_ts = st_ts_max(p->pdel_ts, m->pdel_ts);
    for (uint32_t i = 0; i < m->nrts; i++) {
        int rc = part_add_rt(mt, p, &m->rts[i]);
        if (rc < 0) return rc;
    }
    for (uint32_t i = 0; i < m->nrows; i++) {
        int rc = row_apply(mt, p, &m->rows[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- reads --------------------------------------------------------------- */

const mt_part *mt_get(const mt_table *mt, const uint8_t *key, uint32_t klen)
{
    keyref k = {key, klen};
    mt_node *n = sl_search(&mt->parts, pred_ge, &k, NULL);
    if (n && st_bytes_cmp(n->key, n->klen, key, klen) == 0) return n->val;
    return NULL;
}

const mt_part *mt_first(const mt_table *mt)
{
    return mt->parts.height && mt->parts.head[0] ? mt->parts.head[0]->val : NULL;
}

const mt_part *mt_next(const mt_part *p)
{
    mt_node *n = p->node->next[0];
    return n ? n->val : NULL;
}

typedef struct keypred {
    st_key_pred fn;
    const void *ctx;
} keypred;

static bool pred_key(const mt_node *n, const void *ctx)
{
    const keypred *kp = ctx;
    return kp->fn(n->key, n->klen, kp->ctx);
}

const mt_part *mt_seek(const mt_table *mt, st_key_pred pred, const void *ctx)
{
    keypred kp = {pred, ctx};
    mt_node *n = sl_search(&mt->parts, pred_key, &kp, NULL);
    return n ? n->val : NULL;
}

static bool pred_start(const mt_node *n, const void *ctx)
{
    return st_start_admits(ctx, n->key, n->klen);
}

static bool pred_past_end(const mt_node *n, const void *ctx)
{
    return !st_end_admits(ctx, n->key, n->klen);
}

static int rowit_next(st_rowsrc *s, const st_row **out, hln_error *err)
{
    HLN_UNUSED(err);
    mt_rowit *it = (mt_rowit *)s;
    const mt_node *n = it->cur;
    if (!n) return 0;
    if (!it->reversed) {
        if (!st_end_admits(it->end, n->key, n->klen)) {
            it->cur = NULL;
            return 0;
        }
        it->cur = n->next[0];
    } else {
        if (!st_start_admits(it->start, n->key, n->klen)) {
            it->cur = NULL;
            return 0;
        }
        it->cur = n->prev;
    }
    *out = &((const mt_row *)n->val)->row;
    return 1;
}

void mt_rowit_init(mt_rowit *it, const mt_part *p, const st_bound *start, const st_bound *end,
                   bool reversed)
{
    memset(it, 0, sizeof(*it));
    it->base.next = rowit_next;
    it->base.stable = false;
    it->p = p;
    it->start = start;
    it->end = end;
    it->reversed = reversed;
    if (!reversed) {
        it->cur = sl_search(&p->rows, pred_start, start, NULL);
    } else {
        mt_node *past = sl_search(&p->rows, pred_past_end, end, NULL);
        it->cur = past ? past->prev : p->rows.tail;
    }
}
