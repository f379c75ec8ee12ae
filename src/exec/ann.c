/*
 * ann.c — vector indexes on a shard: the storage-attached index's vector
 * part as it is built today, and the shard side of ANN queries.
 *
 * What: each shard keeps, per vector index (hln_index on a vector column,
 * keyed by the index's id), an HNSW graph (index/hnsw.c) of the vectors of
 * its own rows, each graph node labelled with its row's key (partition key
 * and clustering key) and a hash of the vector's bytes. Writes reach it
 * through storage's `applied` hook (st_options): every mutation applied on
 * the shard adds the vectors it writes. An ANN operation (EX_OP_ANN) asks
 * the graph for candidates and checks each against the row storage holds
 * now; the rows that pass go back to the coordinator (select.c), which
 * merges the shards' answers by similarity.
 *
 * Why check against storage: the graph only ever grows. An overwritten
 * vector, a deleted row or partition, an expired TTL, a write that lost to
 * a newer timestamp — all of them leave a node whose row no longer holds
 * that vector. Reading the row (which the answer needs anyway) and
 * comparing the vector's hash makes every such node invisible and marks it
 * deleted, so a deleted or expired row never comes back through the index,
 * whatever the sequence of writes, flushes and compactions.
 *
 * Lifecycle: the first ANN query a shard serves for an index starts its
 * build: a cursor walks the shard's rows of the table (memtable and
 * sstables, so it includes what commitlog replay restored) in slices of
 * BUILD_SLICE rows, one slice per message the shard posts to itself, so
 * reads and writes interleave with the build. Until the cursor is through,
 * the shard answers ANN queries by an exact scan of its rows (slow, never
 * wrong); writes meanwhile go into the graph when their row is behind the
 * cursor (rows ahead of it are picked up by the scan). Not persisted: a
 * restart builds again on first use (per-sstable segments written at
 * flush are the next step, docs/ARCHITECTURE.md "Indexes"). A graph whose
 * deleted nodes outnumber its live ones is dropped and built again. DROP
 * INDEX, DROP TABLE and TRUNCATE drop the shard's graphs (reconcile below
 * and ex_ann_drop_table).
 *
 * Invariants:
 *  1. Everything here runs on the owning shard's thread (the registry hangs
 *     off hln_shard.vix); storage calls the hook on that thread too.
 *  2. A graph node's key is the row's exact (pk, ck) bytes; a candidate is
 *     returned only if the row, read now, holds a vector with the node's
 *     hash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"
#include "index/hnsw.h"

enum { BUILD_SLICE = 256, SCAN_BATCH = 2048, EF_SEARCH = 128 };

typedef struct vent {
    uint64_t off; /* in keys: pk then ck */
    uint32_t pklen, cklen;
    uint64_t vhash;
} vent;

/* A resumable walk over one table's rows on a shard, in storage order
 * (token, partition key, clustering key). */
typedef struct rowscan {
    uint8_t table_id[16];
    bool have_pk; /* pk/token: the partition last read from */
    bool in_part; /* ... and it may go on after ck */
    bool done;
    int64_t token;
    uint8_t *pk, *ck; /* hln_malloc'ed copies */
    uint32_t pklen, cklen, pkcap, ckcap;
} rowscan;

typedef void (*row_fn)(void *ud, const st_partition *p, const st_row *row);

typedef struct ex_vix {
    uint8_t index_id[16], table_id[16];
    bool building; /* cur walks the rows not yet added */
    rowscan cur;
    uint32_t col_id;
    int dim, metric;
    ix_hnsw *g;
    vent *ents; /* by graph id */
    size_t nents, capents;
    uint8_t *keys;
    size_t keylen, keycap;
    float *tmp; /* decoded vector */
    struct ex_vix *next;
} ex_vix;

typedef struct ex_vix_set {
    rt_msg build_msg; /* the next build slice, posted to the shard itself */
    bool build_posted;
    hln_shard *shard;
    ex_vix *head;
} ex_vix_set;

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* Big-endian IEEE floats (a vector<float, n> value) into out; false when
 * the value has the wrong length. */
bool ex_ann_decode(const uint8_t *p, int32_t len, int dim, float *out)
{
    if (len != 4 * dim) return false;
    for (int i = 0; i < dim; i++) {
        uint32_t u = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                     (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        memcpy(&out[i], &u, 4);
    }
    return true;
}

/* Java's Float.toString for the non-finite values the messages name. */
static const char *nonfinite_str(float f)
{
    return isnan(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity";
}

/* Cassandra's checks of a vector (the query's or a written one) for an
 * index of metric m. */
static int check_vector(hln_error *err, const float *v, int dim, int m)
{
    bool nonzero = false;
    for (int i = 0; i < dim; i++) {
        if (!isfinite(v[i]))
            return hln_fail(err, HLN_EINVAL, "non-finite value at vector[%d]=%s", i,
                            nonfinite_str(v[i]));
        nonzero |= v[i] != 0;
    }
    if (!nonzero && m == IX_COSINE)
        return hln_fail(err, HLN_EINVAL,
                        "Zero vectors cannot be indexed or queried with cosine similarity");
    return 0;
}

int ex_ann_check_vector(hln_error *err, const float *v, int dim, int metric)
{
    return check_vector(err, v, dim, metric);
}

int ex_ann_check_write(hln_error *err, const hln_table *t, const hln_column *col, const uint8_t *p,
                       int32_t len)
{
    for (int i = 0; i < t->nindexes; i++) {
        const hln_index *ix = &t->indexes[i];
        if (ix->col_id != col->id || ix->kind != HLN_IXK_SAI) continue;
        int dim = col->type->dim;
        float stackv[64], *v = dim <= 64 ? stackv : hln_malloc(sizeof(float) * (size_t)dim);
        if (!v) return hln_fail(err, HLN_ENOMEM, "out of memory");
        int rc = 0;
        if (ex_ann_decode(p, len, dim, v)) {
            const char *fn = index_option(ix, "similarity_function");
            int m = fn ? ix_metric_parse(fn) : IX_COSINE;
            rc = check_vector(err, v, dim, m < 0 ? IX_COSINE : m);
        }
        if (v != stackv) hln_free(v);
        return rc;
    }
    return 0;
}

static void vix_free(ex_vix *v)
{
    hln_free(v->cur.pk);
    hln_free(v->cur.ck);
    ix_hnsw_free(v->g);
    hln_free(v->ents);
    hln_free(v->keys);
    hln_free(v->tmp);
    hln_free(v);
}

static ex_vix_set *set_of(hln_shard *s)
{
    if (!s->vix) {
        ex_vix_set *set = hln_calloc(1, sizeof(ex_vix_set));
        if (set) set->shard = s;
        s->vix = set;
    }
    return s->vix;
}

void ex_ann_free(hln_shard *s)
{
    ex_vix_set *set = s->vix;
    if (!set) return;
    for (ex_vix *v = set->head, *n; v; v = n) {
        n = v->next;
        vix_free(v);
    }
    hln_free(set);
    s->vix = NULL;
}

void ex_ann_drop_table(hln_shard *s, const uint8_t table_id[16])
{
    ex_vix_set *set = s->vix;
    if (!set) return;
    for (ex_vix **pp = &set->head; *pp;) {
        ex_vix *v = *pp;
        if (!memcmp(v->table_id, table_id, 16)) {
            *pp = v->next;
            vix_free(v);
        } else {
            pp = &v->next;
        }
    }
}

/* Adds one row's vector cell (if it is a usable vector) under key (pk, ck). */
static void vix_add(ex_vix *v, const uint8_t *pk, uint32_t pklen, const st_row *row)
{
    const st_cell *cell = NULL;
    for (uint32_t i = 0; i < row->ncells; i++)
        if (row->cells[i].col_id == v->col_id && row->cells[i].pathlen == 0) {
            cell = &row->cells[i];
            break;
        }
    if (!cell || cell->flags) return;
    if (!ex_ann_decode(cell->val, (int32_t)cell->len, v->dim, v->tmp)) return;
    if (v->nents == v->capents) {
        size_t cap = v->capents ? v->capents * 2 : 1024;
        vent *e = hln_realloc(v->ents, sizeof *e * cap);
        if (!e) return;
        v->ents = e;
        v->capents = cap;
    }
    size_t need = v->keylen + pklen + row->cklen;
    if (need > v->keycap) {
        size_t cap = v->keycap ? v->keycap * 2 : 65536;
        while (cap < need)
            cap *= 2;
        uint8_t *k = hln_realloc(v->keys, cap);
        if (!k) return;
        v->keys = k;
        v->keycap = cap;
    }
    uint32_t id;
    if (ix_hnsw_add(v->g, v->tmp, &id)) return; /* NaN, infinite, zero under cosine */
    memcpy(v->keys + v->keylen, pk, pklen);
    if (row->cklen) memcpy(v->keys + v->keylen + pklen, row->ck, row->cklen); /* ck may be NULL */
    v->ents[id] = (vent){v->keylen, pklen, row->cklen, hash_bytes(cell->val, cell->len)};
    v->nents = id + 1;
    v->keylen = need;
}

/* ---- walking a table's rows --------------------------------------------- */

static int keep_copy(uint8_t **dst, uint32_t *cap, const uint8_t *src, uint32_t n)
{
    if (n > *cap || !*dst) {
        uint8_t *p = hln_realloc(*dst, n ? n : 1);
        if (!p) return HLN_ENOMEM;
        *dst = p;
        *cap = n ? n : 1;
    }
    if (n) memcpy(*dst, src, n);
    return 0;
}

/* Reads up to max more rows of c's table (arena a), calling fn on each in
 * storage order, and moves c past them; c->done once the table is through. */
static int rowscan_step(hln_shard *s, rowscan *c, uint32_t max, int64_t now_sec, hln_arena *a,
                        row_fn fn, void *ud, hln_error *err)
{
    if (c->done) return 0;
    st_partition *parts = NULL;
    int rc;
    if (c->in_part) {
        st_read_cmd rd = {
            .pk = c->pk, .pklen = c->pklen, .token = c->token, .limit = max, .now_sec = now_sec};
        memcpy(rd.table_id, c->table_id, 16);
        rd.start = (st_bound){c->ck, c->cklen, false};
        rd.end = (st_bound){NULL, 0, true};
        rc = st_read(s->store, &rd, a, &parts, err);
    } else {
        st_scan_cmd cmd = {.start_token = c->have_pk ? c->token : INT64_MIN,
                           .end_token = INT64_MAX,
                           .limit = max,
                           .now_sec = now_sec};
        memcpy(cmd.table_id, c->table_id, 16);
        if (c->have_pk) {
            cmd.after_pk = c->pk;
            cmd.after_pklen = c->pklen;
        }
        rc = st_scan(s->store, &cmd, a, &parts, err);
    }
    if (rc) return rc;
    uint32_t rows = 0;
    const st_partition *last = NULL;
    for (const st_partition *p = parts; p; p = p->next) {
        for (uint32_t i = 0; i < p->nrows; i++)
            fn(ud, p, &p->rows[i]);
        rows += p->nrows;
        if (p->nrows) last = p;
    }
    if (rows < max) {
        /* this partition (in_part) or the table (scan) is through */
        if (!c->in_part) c->done = true;
        c->in_part = false;
        return 0;
    }
    /* max rows: the last partition may go on after its last row */
    const st_row *lr = &last->rows[last->nrows - 1];
    if (keep_copy(&c->pk, &c->pkcap, last->pk, last->pklen) ||
        keep_copy(&c->ck, &c->ckcap, lr->ck, lr->cklen))
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    c->pklen = last->pklen;
    c->cklen = lr->cklen;
    c->token = last->token;
    c->have_pk = true;
    c->in_part = true;
    return 0;
}

/* Whether row (token, pk, ck) is behind the cursor: already walked. */
static bool rowscan_behind(const rowscan *c, int64_t token, const uint8_t *pk, uint32_t pklen,
                           const uint8_t *ck, uint32_t cklen)
{
    if (c->done) return true;
    if (!c->have_pk) return false;
    if (token != c->token) return token < c->token;
    uint32_t n = pklen < c->pklen ? pklen : c->pklen;
    int cmp = n ? memcmp(pk, c->pk, n) : 0;
    if (!cmp) cmp = pklen < c->pklen ? -1 : pklen > c->pklen;
    if (cmp) return cmp < 0;
    if (!c->in_part) return true; /* that partition was read whole */
    n = cklen < c->cklen ? cklen : c->cklen;
    cmp = n ? memcmp(ck, c->ck, n) : 0;
    if (!cmp) cmp = cklen < c->cklen ? -1 : cklen > c->cklen;
    return cmp <= 0;
}

static void add_row(void *ud, const st_partition *p, const st_row *row)
{
    vix_add(ud, p->pk, p->pklen, row);
}

void ex_ann_applied(void *ud, const st_mutation *m)
{
    hln_shard *s = ud;
    ex_vix_set *set = s->vix;
    if (!set) return;
    for (ex_vix *v = set->head; v; v = v->next) {
        if (memcmp(v->table_id, m->table_id, 16)) continue;
        for (uint32_t i = 0; i < m->nrows; i++) {
            const st_row *row = &m->rows[i];
            /* while building, rows ahead of the cursor come with the scan */
            if (v->building &&
                !rowscan_behind(&v->cur, m->token, m->pk, m->pklen, row->ck, row->cklen))
                continue;
            vix_add(v, m->pk, m->pklen, row);
        }
    }
}

static void build_slices(hln_shard *s);

static void on_build_msg(rt_shard *rs, rt_msg *m)
{
    HLN_UNUSED(m);
    hln_shard *s = engine_shard(rs);
    ex_vix_set *set = s->vix;
    if (!set) return;
    set->build_posted = false;
    build_slices(s);
}

static void post_build(ex_vix_set *set)
{
    if (set->build_posted) return;
    set->build_posted = true;
    set->build_msg.fn = on_build_msg;
    set->build_msg.next = NULL;
    engine_post(set->shard, &set->build_msg);
}

/* One slice of every graph still building; posts the next if any is left. */
static void build_slices(hln_shard *s)
{
    ex_vix_set *set = s->vix;
    bool more = false;
    int64_t now_sec = hln_now_micros() / 1000000;
    for (ex_vix *v = set->head; v; v = v->next) {
        if (!v->building) continue;
        hln_arena a;
        hln_arena_init(&a, 1 << 16);
        hln_error err = {0};
        int rc = rowscan_step(s, &v->cur, BUILD_SLICE, now_sec, &a, add_row, v, &err);
        hln_arena_free(&a);
        if (rc) {
            /* storage failed under us: start again later (queries stay exact) */
            HLN_WARN("vector index build on shard %d: %s; retrying", s->id, err.msg);
            v->cur.have_pk = v->cur.in_part = v->cur.done = false;
        }
        if (v->cur.done)
            v->building = false;
        else
            more = true;
    }
    if (more) post_build(set);
}

/* The shard's graph for the op's index: built now if missing (or too
 * stale); NULL with err set on failure. */
static ex_vix *vix_get(hln_shard *s, const ex_ann_op *q, int64_t now_sec, hln_error *err)
{
    ex_vix_set *set = set_of(s);
    if (!set) {
        hln_fail(err, HLN_ENOMEM, "out of memory");
        return NULL;
    }
    for (ex_vix **pp = &set->head; *pp; pp = &(*pp)->next) {
        ex_vix *v = *pp;
        if (memcmp(v->index_id, q->index_id, 16)) continue;
        uint32_t size = ix_hnsw_size(v->g), live = ix_hnsw_live(v->g);
        if (size < 1024 || live >= size / 2) return v;
        *pp = v->next; /* mostly dead: rebuild */
        vix_free(v);
        break;
    }
    ex_vix *v = hln_calloc(1, sizeof *v);
    if (!v) {
        hln_fail(err, HLN_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(v->index_id, q->index_id, 16);
    memcpy(v->table_id, q->table_id, 16);
    v->col_id = q->col_id;
    v->dim = q->dim;
    v->metric = q->metric;
    v->tmp = hln_malloc(sizeof(float) * (size_t)q->dim);
    if (!v->tmp || ix_hnsw_new(&v->g, q->dim, (ix_metric)q->metric, NULL)) {
        vix_free(v);
        hln_fail(err, HLN_ENOMEM, "out of memory");
        return NULL;
    }
    HLN_UNUSED(now_sec);
    memcpy(v->cur.table_id, q->table_id, 16);
    v->building = true;
    v->next = set->head;
    set->head = v;
    post_build(set);
    return v;
}

/* Drops graphs of indexes the snapshot no longer has (DROP INDEX). */
void ex_ann_reconcile(hln_shard *s, const hln_schema *schema)
{
    ex_vix_set *set = s->vix;
    if (!set) return;
    for (ex_vix **pp = &set->head; *pp;) {
        ex_vix *v = *pp;
        const hln_table *t = schema_table_by_id(schema, v->table_id);
        bool found = false;
        for (int i = 0; t && i < t->nindexes && !found; i++)
            found = !memcmp(t->indexes[i].id, v->index_id, 16);
        if (found) {
            pp = &v->next;
        } else {
            *pp = v->next;
            vix_free(v);
        }
    }
}

/* ---- exact search (while a graph is building) ------------------------------ */

typedef struct exact_ctx {
    const ex_ann_op *q;
    float *tmp;
    int n; /* best so far, nearest first */
    float *dist;
    uint8_t **key; /* pk then ck, hln_malloc'ed */
    uint32_t *pklen, *cklen;
    int64_t *token;
    bool nomem;
} exact_ctx;

static void exact_row(void *ud, const st_partition *p, const st_row *row)
{
    exact_ctx *x = ud;
    const ex_ann_op *q = x->q;
    const st_cell *cell = NULL;
    for (uint32_t i = 0; i < row->ncells; i++)
        if (row->cells[i].col_id == q->col_id && row->cells[i].pathlen == 0) {
            cell = &row->cells[i];
            break;
        }
    if (!cell || cell->flags || !ex_ann_decode(cell->val, (int32_t)cell->len, q->dim, x->tmp))
        return;
    float d = ix_distance((ix_metric)q->metric, q->q, x->tmp, q->dim);
    if (isnan(d)) return;
    if (x->n == q->k && d >= x->dist[x->n - 1]) return;
    int at = x->n < q->k ? x->n : q->k - 1;
    uint8_t *k = at < x->n ? x->key[at] : NULL; /* the evicted slot's buffer, reused */
    uint8_t *nk = hln_realloc(k, p->pklen + row->cklen ? p->pklen + row->cklen : 1);
    if (!nk) {
        x->nomem = true;
        return;
    }
    if (x->n < q->k) x->n++;
    while (at > 0 && x->dist[at - 1] > d) {
        x->dist[at] = x->dist[at - 1];
        x->key[at] = x->key[at - 1];
        x->pklen[at] = x->pklen[at - 1];
        x->cklen[at] = x->cklen[at - 1];
        x->token[at] = x->token[at - 1];
        at--;
    }
    memcpy(nk, p->pk, p->pklen);
    if (row->cklen) memcpy(nk + p->pklen, row->ck, row->cklen); /* ck may be NULL */
    x->dist[at] = d;
    x->key[at] = nk;
    x->pklen[at] = p->pklen;
    x->cklen[at] = row->cklen;
    x->token[at] = p->token;
}

/* The k nearest rows of the shard by a scan of every row: exact. */
static int exact_search(hln_shard *s, const ex_ann_op *q, hln_arena *a, st_partition **out,
                        hln_error *err)
{
    int k = q->k;
    exact_ctx x = {.q = q};
    x.tmp = hln_malloc(sizeof(float) * (size_t)q->dim);
    x.dist = hln_malloc(sizeof(float) * (size_t)k);
    x.key = hln_calloc((size_t)k, sizeof *x.key);
    x.pklen = hln_malloc(sizeof(uint32_t) * (size_t)k);
    x.cklen = hln_malloc(sizeof(uint32_t) * (size_t)k);
    x.token = hln_malloc(sizeof(int64_t) * (size_t)k);
    int rc = 0;
    if (!x.tmp || !x.dist || !x.key || !x.pklen || !x.cklen || !x.token)
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    rowscan c = {0};
    memcpy(c.table_id, q->table_id, 16);
    while (!rc && !c.done) {
        hln_arena t;
        hln_arena_init(&t, 1 << 16);
        rc = rowscan_step(s, &c, SCAN_BATCH, q->now_sec, &t, exact_row, &x, err);
        hln_arena_free(&t);
        if (!rc && x.nomem) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    hln_free(c.pk);
    hln_free(c.ck);
    st_partition *head = NULL, **tail = &head;
    for (int i = 0; !rc && i < x.n; i++) {
        st_read_cmd rd = {.pk = x.key[i],
                          .pklen = x.pklen[i],
                          .token = x.token[i],
                          .limit = 1,
                          .now_sec = q->now_sec};
        memcpy(rd.table_id, q->table_id, 16);
        const uint8_t *ck = x.key[i] + x.pklen[i];
        rd.start = rd.end = (st_bound){ck, x.cklen[i], true};
        /* copies into a: the key buffers are freed below */
        uint8_t *kc =
            hln_arena_memdup(a, x.key[i], x.pklen[i] + x.cklen[i] ? x.pklen[i] + x.cklen[i] : 1);
        if (!kc) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            break;
        }
        rd.pk = kc;
        rd.start.key = rd.end.key = kc + x.pklen[i];
        st_partition *p = NULL;
        if ((rc = st_read(s->store, &rd, a, &p, err)) != 0) break;
        if (!p || !p->nrows) continue;
        p->next = NULL;
        *tail = p;
        tail = &p->next;
    }
    for (int i = 0; x.key && i < x.n; i++)
        hln_free(x.key[i]);
    hln_free(x.tmp);
    hln_free(x.dist);
    hln_free(x.key);
    hln_free(x.pklen);
    hln_free(x.cklen);
    hln_free(x.token);
    if (rc) return rc;
    *out = head;
    return 0;
}

int ex_ann_search(hln_shard *s, ex_ann_op *q, hln_arena *a, st_partition **out, hln_error *err)
{
    *out = NULL;
    int64_t now_sec = q->now_sec;
    if (q->schema) ex_ann_reconcile(s, q->schema);
    ex_vix *v = vix_get(s, q, now_sec, err);
    if (!v) return err->code ? err->code : HLN_ENOMEM;
    if (v->building) return exact_search(s, q, a, out, err);
    uint32_t live = ix_hnsw_live(v->g);
    if (live == 0) return 0;
    int k = q->k;
    int want = k + k / 2 + 8;
    st_partition *head = NULL, **tail = &head;
    int found = 0;
    /* ids already looked at (checked or dropped), so a retry only reads new ones */
    uint8_t *seen = hln_calloc(ix_hnsw_size(v->g) ? ix_hnsw_size(v->g) : 1, 1);
    ix_hit *hits = NULL;
    int rc = seen ? 0 : hln_fail(err, HLN_ENOMEM, "out of memory");
    for (;;) {
        if (rc) break;
        if ((uint32_t)want > live) want = (int)live;
        ix_hit *h2 = hln_realloc(hits, sizeof *hits * (size_t)want);
        if (!h2) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            break;
        }
        hits = h2;
        int ef = want > EF_SEARCH ? want : EF_SEARCH;
        int n = ix_hnsw_search(v->g, q->q, want, ef, hits);
        if (n < 0) {
            rc = hln_fail(err, HLN_EINVAL,
                          "Zero and near-zero vectors cannot be indexed or queried with cosine "
                          "similarity");
            break;
        }
        for (int i = 0; i < n && found < k && !rc; i++) {
            uint32_t id = hits[i].id;
            if (seen[id]) continue;
            seen[id] = 1;
            const vent *e = &v->ents[id];
            st_read_cmd rd = {
                .pk = v->keys + e->off, .pklen = e->pklen, .limit = 1, .now_sec = now_sec};
            memcpy(rd.table_id, v->table_id, 16);
            rd.token = hln_murmur3_token(rd.pk, rd.pklen);
            const uint8_t *ck = v->keys + e->off + e->pklen;
            rd.start = (st_bound){ck, e->cklen, true};
            rd.end = (st_bound){ck, e->cklen, true};
            st_partition *p = NULL;
            if ((rc = st_read(s->store, &rd, a, &p, err)) != 0) break;
            bool ok = false;
            if (p && p->nrows == 1 && p->rows[0].cklen == e->cklen) {
                const st_row *row = &p->rows[0];
                for (uint32_t c = 0; c < row->ncells; c++)
                    if (row->cells[c].col_id == v->col_id && row->cells[c].pathlen == 0) {
                        ok = !row->cells[c].flags &&
                             hash_bytes(row->cells[c].val, row->cells[c].len) == e->vhash;
                        break;
                    }
            }
            if (!ok) {
                ix_hnsw_delete(v->g, id);
                continue;
            }
            /* a row re-written with the same vector has two live nodes: one answer */
            bool dup = false;
            for (st_partition *x = head; x && !dup; x = x->next)
                dup = x->pklen == p->pklen && !memcmp(x->pk, p->pk, p->pklen) &&
                      x->rows[0].cklen == p->rows[0].cklen &&
                      !memcmp(x->rows[0].ck, p->rows[0].ck, p->rows[0].cklen);
            if (dup) continue;
            p->next = NULL;
            *tail = p;
            tail = &p->next;
            found++;
        }
        live = ix_hnsw_live(v->g);
        if (rc || found >= k || n < want || (uint32_t)want >= live) break;
        want *= 2;
    }
    hln_free(seen);
    hln_free(hits);
    if (rc) return rc;
    *out = head;
    return 0;
}
