/*
 * sai.c — storage-attached indexes on a shard: the structures exec keeps
 * beside each shard's data, and the shard side of the operations that use
 * them (EX_OP_ANN, EX_OP_ISCAN).
 *
 * What: per SAI index (hln_index, keyed by its id) each shard keeps either
 *  - a vector graph (index/hnsw.c) of the vectors of its own rows, each
 *    node labelled with its row's key (partition key, clustering key),
 *    token, write timestamp and a hash of the vector's bytes, plus a key
 *    map from a row to its newest node; or
 *  - a term table: term bytes (a regular column's value, or a map entry's
 *    comparable key || value) -> the keys of the rows written with it.
 * Writes reach them through storage's `applied` hook (st_options). An ANN
 * operation asks the graph for candidates (or, within one partition, takes
 * the partition's nodes from the graph's partition lists) and checks each
 * against the row storage holds now; an ISCAN looks a term up and reads the rows it names,
 * in storage order from the scan's position on; either way the rows go back
 * to the coordinator (select.c), which ranks or filters them.
 *
 * Why check against storage: the structures only ever grow. An overwritten
 * value, a deleted row or partition, an expired TTL, a write that lost to
 * a newer timestamp — all of them leave an entry whose row no longer holds
 * it. Reading the row (which the answer needs anyway) and checking it (the
 * vector's hash here; the query's filters at the coordinator) makes every
 * such entry invisible, so a deleted or expired row never comes back
 * through an index, whatever the sequence of writes, flushes and
 * compactions. Overwrites are also caught early: the key map marks a
 * vector's replaced node deleted at once, and a graph more than half
 * deleted is built again.
 *
 * Lifecycle: an index starts building when it is created (every shard is
 * told) or when a shard opens: a cursor walks the shard's rows of the
 * table (memtable and sstables) in slices of BUILD_SLICE rows, one slice
 * per message the shard posts to itself, so reads and writes interleave
 * with the build. Until the cursor is through, the shard answers ANN
 * queries by an exact scan of its rows and ISCANs by the plain scan (slow,
 * never wrong); writes meanwhile go in when their row is behind the
 * cursor (rows ahead of it come with the scan). A clean stop writes every
 * built index to a snapshot that the next start loads (below;
 * docs/formats/index-snapshot.md). A vector graph is also checkpointed to
 * a file each time it grows by a quarter, and a clean stop's file becomes
 * its checkpoint once loaded; a start after a crash loads the checkpoint
 * and walks the rows as a build does, confirming each loaded node whose
 * row still holds its vector and adding or replacing the rest; the nodes
 * not confirmed are deleted at the walk's end. So a crash costs a walk
 * (reads and hashes) plus the inserts since the checkpoint, not a whole
 * build. A checkpoint is written on libuv's thread pool, one per shard at
 * a time: the shard thread copies the keys and the graph's links
 * (ix_hnsw_freeze; the vectors are shared, never rewritten) and goes on.
 * Term tables have no checkpoints: a crash builds them again.
 * DROP INDEX, DROP TABLE and TRUNCATE drop the shard's structures and
 * files (reconcile and ex_ann_drop_table).
 *
 * Invariants:
 *  1. Everything here runs on the owning shard's thread (the registry hangs
 *     off hln_shard.vix); storage calls the hook on that thread too. The
 *     one exception, ckpt_work on the thread pool, reads only its job's
 *     own copies and the frozen graph.
 *  2. An entry's key is the row's exact (pk, ck) bytes; a vector candidate
 *     is returned only if the row, read now, holds a vector with the
 *     node's hash; a term candidate only if the row exists now (the
 *     coordinator applies the filters).
 *  3. A loaded file is never trusted for content: a clean stop's snapshot
 *     describes exactly the data it was written with and is loaded at
 *     most once as such (then it is a checkpoint or deleted); a
 *     checkpoint may name rows deleted, overwritten or lost since, and
 *     lack later ones, which the walk settles before the graph answers.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "exec/execInt.h"
#include "index/hnsw.h"

enum { BUILD_SLICE = 256, SCAN_BATCH = 2048, EF_SEARCH = 128 };
/* filtered ANN: rank the filter's c rows exactly while c^2 <= this * live
   (filtered_search) */
#define SCAN_FACTOR 2000.0

/* A row key an index entry stands for. */
typedef struct vent {
    uint64_t off; /* in keys: pk then ck */
    uint32_t pklen, cklen;
    uint64_t vhash; /* vector indexes: hash of the vector's bytes */
    int64_t token;
    int64_t ts; /* vector indexes: the vector cell's write timestamp */
} vent;

/* A term of a term index: its bytes (in terms) and the keys (ents ids) of
 * the rows that were written with it; open addressing on hash. */
typedef struct tslot {
    uint64_t hash; /* 0: empty */
    uint64_t off;
    uint32_t len;
    uint32_t n, cap;
    uint32_t *ids;
} tslot;

enum { IXS_VECTOR, IXS_TERMS };

/* A resumable walk over one table's rows on a shard, in storage order
 * (token, partition key, clustering key). */
typedef struct rowscan {
    uint8_t table_id[16];
    bool have_pk; /* pk/token: the partition last read from */
    bool in_part; /* ... and it may go on after ck */
    bool done;
    bool one_part; /* only the partition pk (in_part, from its first row while ck
                      is NULL): done when it is through */
    int64_t token;
    uint8_t *pk, *ck; /* hln_malloc'ed copies */
    uint32_t pklen, cklen, pkcap, ckcap;
} rowscan;

typedef void (*row_fn)(void *ud, const st_partition *p, const st_row *row);

/* One index on one shard: a vector graph or a term table. */
typedef struct ex_vix {
    uint8_t index_id[16], table_id[16];
    int kind;      /* IXS_VECTOR or IXS_TERMS */
    bool building; /* cur walks the rows not yet added */
    rowscan cur;
    uint32_t col_id;
    int dim, metric; /* vectors */
    ix_hnsw *g;
    int target; /* terms: HLN_IX_SIMPLE (the value) or HLN_IX_ENTRIES (path || value) */
    bool fold;  /* terms: ASCII case folded (case_sensitive: false) */
    tslot *slots;
    size_t nslots, nterms; /* nslots a power of two */
    uint8_t *terms;
    size_t termlen, termcap;
    vent *ents; /* by graph id (vectors) or key id (terms) */
    size_t nents, capents;
    uint8_t *keys;
    size_t keylen, keycap;
    float *tmp; /* decoded vector */
    /* vectors: row key -> its newest graph node (id + 1; 0 empty), so an
       overwrite marks the node it replaces deleted at once */
    uint32_t *kmap;
    size_t kslots, kcount;
    /* vectors, once a query has asked for one partition's rows (part_build):
       partition -> its newest node (id + 1; 0 empty), and each node -> the
       one added before it to its partition (id + 1; 0 none), so that such
       a query ranks the partition's vectors without reading its rows.
       NULL until then, and again after a failure to grow */
    uint32_t *pmap, *pprev;
    size_t pslots, pcount, pprevcap;
    bool reset_pending; /* mostly deleted nodes: build again (build_slices) */
    /* vectors, loaded from a checkpoint: the walk confirms each loaded node
       its row still holds (bit set); at the walk's end the others are
       deleted. NULL when not catching up. */
    uint64_t *seen;
    uint32_t seen_n;  /* nodes loaded (the bitmap's size) */
    size_t ckpt_n;    /* entries at the last checkpoint (or load) */
    uint64_t serial;  /* this graph's (vix_serials): a checkpoint names its graph by it */
    int64_t build_t0; /* µs: when the current build (walk) started */
    int64_t last_add; /* µs: when a node was last added */
    struct ex_vix *next;
} ex_vix;

typedef struct ex_vix_set {
    rt_msg build_msg; /* the next build slice, posted to the shard itself */
    bool build_posted;
    rt_msg ckpt_msg; /* checkpoints due (ckpt_due), posted likewise */
    bool ckpt_posted;
    bool loading; /* the shard is opening: new indexes look for snapshots */
    hln_shard *shard;
    ex_vix *head;
    struct ckpt_job *job; /* the checkpoint being written (one at a time), or NULL */
} ex_vix_set;

/* ex_vix.serial: a new one for each ex_vix and each clearing of one, so
 * that a checkpoint finishing after either no longer finds its graph */
static atomic_ullong vix_serials;

static void post_build(ex_vix_set *set);
static void post_ckpt(ex_vix_set *set);
static bool six_load(hln_shard *s, struct ex_vix *v);
static void six_unlink(hln_shard *s, const struct ex_vix *v);
static void clean_snapshots(hln_shard *s);
static void ckpt_orphan(struct ckpt_job *j);

/* Keys, terms and vector values (vent.vhash, saved in snapshots): XXH3,
 * some tens of bytes per cycle. It runs for every write of an indexed
 * column and for every candidate a query checks against its row; the
 * FNV-1a byte loop before it took about 2 us per 384-d vector there, a
 * tenth of a small graph's query (bench/results/20261208-0007-vector-hash). */
static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    return XXH3_64bits(p, n);
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

static void part_drop(ex_vix *v)
{
    hln_free(v->pmap);
    hln_free(v->pprev);
    v->pmap = v->pprev = NULL;
    v->pslots = v->pcount = v->pprevcap = 0;
}

static void vix_clear(ex_vix *v)
{
    for (size_t i = 0; i < v->nslots; i++)
        hln_free(v->slots[i].ids);
    hln_free(v->slots);
    v->slots = NULL;
    v->nslots = v->nterms = 0;
    hln_free(v->terms);
    v->terms = NULL;
    v->termlen = v->termcap = 0;
    hln_free(v->ents);
    v->ents = NULL;
    v->nents = v->capents = 0;
    hln_free(v->keys);
    v->keys = NULL;
    v->keylen = v->keycap = 0;
    hln_free(v->kmap);
    v->kmap = NULL;
    v->kslots = v->kcount = 0;
    part_drop(v);
    hln_free(v->seen);
    v->seen = NULL;
    v->seen_n = 0;
    v->ckpt_n = 0;
    v->serial = atomic_fetch_add(&vix_serials, 1) + 1;
}

static void vix_free(ex_vix *v)
{
    hln_free(v->kmap);
    part_drop(v);
    for (size_t i = 0; i < v->nslots; i++)
        hln_free(v->slots[i].ids);
    hln_free(v->slots);
    hln_free(v->terms);
    hln_free(v->cur.pk);
    hln_free(v->cur.ck);
    ix_hnsw_free(v->g);
    hln_free(v->ents);
    hln_free(v->keys);
    hln_free(v->tmp);
    hln_free(v->seen);
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
    if (set->job) ckpt_orphan(set->job); /* it frees itself when the write is done */
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
            six_unlink(s, v); /* TRUNCATE, DROP TABLE: its rows are gone */
            vix_free(v);
        } else {
            pp = &v->next;
        }
    }
}

/* The live value cell (no path) of column col_id in row, or NULL. */
static const st_cell *live_value(const st_row *row, uint32_t col_id)
{
    for (uint32_t i = 0; i < row->ncells; i++)
        if (row->cells[i].col_id == col_id && row->cells[i].pathlen == 0)
            return row->cells[i].flags ? NULL : &row->cells[i];
    return NULL;
}

/* Appends key (pk, ck) to v's key store; its id, or -1 (out of memory). */
static int64_t put_key(ex_vix *v, int64_t token, const uint8_t *pk, uint32_t pklen,
                       const st_row *row, uint64_t vhash, int64_t ts, uint32_t id)
{
    if (id >= v->capents) {
        size_t cap = v->capents ? v->capents * 2 : 1024;
        while (cap <= id)
            cap *= 2;
        vent *e = hln_realloc(v->ents, sizeof *e * cap);
        if (!e) return -1;
        v->ents = e;
        v->capents = cap;
    }
    size_t need = v->keylen + pklen + row->cklen;
    if (need > v->keycap) {
        size_t cap = v->keycap ? v->keycap * 2 : 65536;
        while (cap < need)
            cap *= 2;
        uint8_t *k = hln_realloc(v->keys, cap);
        if (!k) return -1;
        v->keys = k;
        v->keycap = cap;
    }
    memcpy(v->keys + v->keylen, pk, pklen);
    if (row->cklen) /* no clustering key: ck may be NULL */
        memcpy(v->keys + v->keylen + pklen, row->ck, row->cklen);
    v->ents[id] = (vent){v->keylen, pklen, row->cklen, vhash, token, ts};
    if (id + 1 > v->nents) v->nents = id + 1;
    v->keylen = need;
    return id;
}

/* The slot of term t (hash h): its own, or the empty one where it goes. */
static tslot *term_slot(const ex_vix *v, const uint8_t *t, uint32_t len, uint64_t h)
{
    size_t mask = v->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        tslot *sl = &v->slots[i];
        if (!sl->hash) return sl;
        if (sl->hash == h && sl->len == len && (!len || !memcmp(v->terms + sl->off, t, len)))
            return sl;
    }
}

static uint64_t term_hash(const uint8_t *t, uint32_t len)
{
    uint64_t h = hash_bytes(t, len);
    return h ? h : 1;
}

/* Adds key id under term t. */
static int term_add(ex_vix *v, const uint8_t *t, uint32_t len, uint32_t id)
{
    if ((v->nterms + 1) * 2 > v->nslots) { /* keep at most half full */
        size_t n = v->nslots ? v->nslots * 2 : 1024;
        tslot *ns = hln_calloc(n, sizeof *ns);
        if (!ns) return HLN_ENOMEM;
        tslot *old = v->slots;
        size_t on = v->nslots;
        v->slots = ns;
        v->nslots = n;
        for (size_t i = 0; i < on; i++)
            if (old[i].hash) *term_slot(v, v->terms + old[i].off, old[i].len, old[i].hash) = old[i];
        hln_free(old);
    }
    uint64_t h = term_hash(t, len);
    tslot *sl = term_slot(v, t, len, h);
    if (!sl->hash) {
        if (v->termlen + len > v->termcap) {
            size_t cap = v->termcap ? v->termcap * 2 : 65536;
            while (cap < v->termlen + len)
                cap *= 2;
            uint8_t *nt = hln_realloc(v->terms, cap);
            if (!nt) return HLN_ENOMEM;
            v->terms = nt;
            v->termcap = cap;
        }
        if (len) memcpy(v->terms + v->termlen, t, len);
        *sl = (tslot){.hash = h, .off = v->termlen, .len = len};
        v->termlen += len;
        v->nterms++;
    }
    if (sl->n == sl->cap) {
        uint32_t cap = sl->cap ? sl->cap * 2 : 4;
        uint32_t *ids = hln_realloc(sl->ids, sizeof *ids * cap);
        if (!ids) return HLN_ENOMEM;
        sl->ids = ids;
        sl->cap = cap;
    }
    sl->ids[sl->n++] = id;
    return 0;
}

/* A term as the index keeps it: folded to lower case (ASCII and Latin-1, textfold.c) when the index
 * is case-insensitive (into buf, len bytes). */
static const uint8_t *fold_term(bool fold, const uint8_t *t, uint32_t len, uint8_t **buf)
{
    if (!fold) return t;
    uint8_t *b = hln_malloc(len ? len : 1);
    if (!b) return NULL;
    ex_fold_case(t, len, b); /* as the row filters fold (textfold.c) */
    *buf = b;
    return b;
}

static uint64_t key_hash(int64_t token, const uint8_t *ck, uint32_t cklen)
{
    /* the token is the partition key's hash already */
    uint64_t h = (uint64_t)token * 0x9E3779B97F4A7C15ull;
    return h ^ hash_bytes(ck, cklen);
}

static bool key_is(const ex_vix *v, uint32_t id, const uint8_t *pk, uint32_t pklen,
                   const uint8_t *ck, uint32_t cklen)
{
    const vent *e = &v->ents[id];
    const uint8_t *k = v->keys + e->off;
    return e->pklen == pklen && e->cklen == cklen && (!pklen || !memcmp(k, pk, pklen)) &&
           (!cklen || !memcmp(k + pklen, ck, cklen));
}

/* The index in a (non-empty) key map of row (pk, ck)'s slot, or of the
 * empty one where it goes. */
static size_t key_probe(const ex_vix *v, int64_t token, const uint8_t *pk, uint32_t pklen,
                        const uint8_t *ck, uint32_t cklen)
{
    size_t mask = v->kslots - 1;
    for (size_t i = key_hash(token, ck, cklen) & mask;; i = (i + 1) & mask) {
        uint32_t x = v->kmap[i];
        if (!x || key_is(v, x - 1, pk, pklen, ck, cklen)) return i;
    }
}

/* The key map slot of row (pk, ck): its own, or the empty one where it
 * goes; NULL when the map cannot grow. */
static uint32_t *key_slot(ex_vix *v, int64_t token, const uint8_t *pk, uint32_t pklen,
                          const uint8_t *ck, uint32_t cklen)
{
    if ((v->kcount + 1) * 2 > v->kslots) {
        size_t n = v->kslots ? v->kslots * 2 : 1024;
        uint32_t *nm = hln_calloc(n, sizeof *nm);
        if (!nm) return NULL;
        for (size_t i = 0; i < v->kslots; i++) {
            uint32_t x = v->kmap[i];
            if (!x) continue;
            const vent *e = &v->ents[x - 1];
            uint64_t h = key_hash(e->token, v->keys + e->off + e->pklen, e->cklen);
            size_t j = h & (n - 1);
            while (nm[j])
                j = (j + 1) & (n - 1);
            nm[j] = x;
        }
        hln_free(v->kmap);
        v->kmap = nm;
        v->kslots = n;
    }
    return &v->kmap[key_probe(v, token, pk, pklen, ck, cklen)];
}

/* Records node id as its row's current one (a row new to the map). */
static void key_put(ex_vix *v, uint32_t id)
{
    const vent *e = &v->ents[id];
    const uint8_t *k = v->keys + e->off;
    uint32_t *slot = key_slot(v, e->token, k, e->pklen, k + e->pklen, e->cklen);
    if (!slot) return;
    if (!*slot) v->kcount++;
    *slot = id + 1;
}

/* The index in a (non-empty) partition map of partition pk's slot, or of
 * the empty one where it goes. */
static size_t part_probe(const ex_vix *v, int64_t token, const uint8_t *pk, uint32_t pklen)
{
    size_t mask = v->pslots - 1;
    for (size_t i = ((uint64_t)token * 0x9E3779B97F4A7C15ull >> 17) & mask;; i = (i + 1) & mask) {
        uint32_t x = v->pmap[i];
        if (!x) return i;
        const vent *e = &v->ents[x - 1];
        if (e->token == token && e->pklen == pklen &&
            (!pklen || !memcmp(v->keys + e->off, pk, pklen)))
            return i;
    }
}

/* Links node id (its entry written) into its partition's list. */
static int part_link(ex_vix *v, uint32_t id)
{
    if (id >= v->pprevcap) {
        size_t cap = v->pprevcap ? v->pprevcap : 1024;
        while (cap <= id)
            cap *= 2;
        uint32_t *np = hln_realloc(v->pprev, sizeof *np * cap);
        if (!np) return HLN_ENOMEM;
        v->pprev = np;
        v->pprevcap = cap;
    }
    if ((v->pcount + 1) * 2 > v->pslots) {
        size_t n = v->pslots ? v->pslots * 2 : 256;
        uint32_t *old = v->pmap;
        size_t on = v->pslots;
        if (!(v->pmap = hln_calloc(n, sizeof *v->pmap))) {
            v->pmap = old;
            return HLN_ENOMEM;
        }
        v->pslots = n;
        for (size_t i = 0; i < on; i++) {
            if (!old[i]) continue;
            const vent *e = &v->ents[old[i] - 1];
            v->pmap[part_probe(v, e->token, v->keys + e->off, e->pklen)] = old[i];
        }
        hln_free(old);
    }
    const vent *e = &v->ents[id];
    uint32_t *slot = &v->pmap[part_probe(v, e->token, v->keys + e->off, e->pklen)];
    if (!*slot) v->pcount++;
    v->pprev[id] = *slot;
    *slot = id + 1;
    return 0;
}

/* Builds the partition lists of every live node; false when out of memory. */
static bool part_build(ex_vix *v)
{
    if (v->pmap) return true;
    if (!(v->pmap = hln_calloc(256, sizeof *v->pmap))) return false;
    v->pslots = 256;
    uint32_t size = ix_hnsw_size(v->g);
    for (uint32_t id = 0; id < size; id++)
        if (!ix_hnsw_is_deleted(v->g, id) && part_link(v, id)) {
            part_drop(v);
            return false;
        }
    return true;
}

/* A graph with more than half its nodes deleted is built again. */
static bool mostly_deleted(const ex_vix *v)
{
    uint32_t size = ix_hnsw_size(v->g);
    return size >= 1024 && ix_hnsw_live(v->g) < size / 2;
}

/* Adds one row to v: its vector (if it is a usable one) or its terms.
 * walk: the row was read from storage by the build's walk, so it is what
 * storage holds now: the row's node is confirmed if it holds this vector
 * and replaced otherwise, whatever the timestamps (a checkpoint may name a
 * write the commitlog lost). Otherwise (a write) an older write loses. */
static void vix_add(ex_vix *v, int64_t token, const uint8_t *pk, uint32_t pklen, const st_row *row,
                    bool walk)
{
    if (v->kind == IXS_TERMS) {
        int64_t id = -1;
        for (uint32_t i = 0; i < row->ncells; i++) {
            const st_cell *c = &row->cells[i];
            if (c->col_id != v->col_id || c->flags) continue;
            if ((v->target == HLN_IX_SIMPLE) != (c->pathlen == 0)) continue;
            if (id < 0 && (id = put_key(v, token, pk, pklen, row, 0, 0, (uint32_t)v->nents)) < 0)
                goto nomem;
            uint8_t *buf = NULL, *cat = NULL;
            static const uint8_t empty[1];
            const uint8_t *t = c->len ? c->val : empty; /* '' may come with val NULL */
            uint32_t len = c->len;
            if (v->target == HLN_IX_ENTRIES) { /* path (the key, comparable) || value */
                cat = hln_malloc(c->pathlen + c->len);
                if (!cat) goto nomem;
                memcpy(cat, c->path, c->pathlen);
                if (c->len) memcpy(cat + c->pathlen, c->val, c->len);
                t = cat;
                len = c->pathlen + c->len;
            }
            const uint8_t *ft = fold_term(v->fold, t, len, &buf);
            int rc = ft ? term_add(v, ft, len, (uint32_t)id) : HLN_ENOMEM;
            hln_free(buf);
            hln_free(cat);
            if (rc) goto nomem;
        }
        return;
    }
    const st_cell *cell = live_value(row, v->col_id);
    if (!cell) return;
    if (!ex_ann_decode(cell->val, (int32_t)cell->len, v->dim, v->tmp)) return;
    /* the row's current node (a slot may name a node deleted since) */
    uint32_t *slot = key_slot(v, token, pk, pklen, row->ck, row->cklen);
    uint32_t cur = slot && *slot && !ix_hnsw_is_deleted(v->g, *slot - 1) ? *slot : 0;
    uint64_t vh = hash_bytes(cell->val, cell->len);
    if (cur && walk) {
        const vent *e = &v->ents[cur - 1];
        if (e->vhash == vh && e->ts == cell->ts) { /* already in: confirmed */
            if (v->seen && cur - 1 < v->seen_n) v->seen[(cur - 1) / 64] |= 1ull << ((cur - 1) % 64);
            return;
        }
    } else if (cur && v->ents[cur - 1].ts > cell->ts) {
        return; /* an older write loses, a newer one replaces the node */
    }
    uint32_t nid = ix_hnsw_size(v->g);
    if (put_key(v, token, pk, pklen, row, vh, cell->ts, nid) < 0) goto nomem;
    uint32_t id;
    int rc = ix_hnsw_add(v->g, v->tmp, &id);
    if (rc) { /* NaN, infinite, zero under cosine: not indexed, as Cassandra refuses them */
        v->nents = ix_hnsw_size(v->g);
        v->keylen -= pklen + row->cklen;
        if (rc == HLN_ENOMEM) goto nomem;
        return;
    }
    if (cur) ix_hnsw_delete(v->g, cur - 1);
    if (slot && *slot)
        *slot = id + 1;
    else
        key_put(v, id);
    if (v->pmap && part_link(v, id)) part_drop(v); /* the next such query builds them again */
    v->last_add = hln_now_micros();
    if (mostly_deleted(v)) v->reset_pending = true;
    return;
nomem:
    /* an entry this index lacks would hide its row from queries: answer
       without it (building) until it is built again */
    HLN_WARN("index on shard: out of memory adding a row; building it again");
    v->reset_pending = true;
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
        rd.start = c->ck ? (st_bound){c->ck, c->cklen, false} : (st_bound){NULL, 0, true};
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
        if (!c->in_part || c->one_part) c->done = true;
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

/* Row (pk, ck) of the table as storage holds it now: a one-row partition
 * in a, or NULL (never written, deleted, expired). */
static int read_row(hln_shard *s, const uint8_t table_id[16], int64_t token, const uint8_t *pk,
                    uint32_t pklen, const uint8_t *ck, uint32_t cklen, int64_t now_sec,
                    hln_arena *a, st_partition **out, hln_error *err)
{
    st_read_cmd rd = {.pk = pk, .pklen = pklen, .token = token, .limit = 1, .now_sec = now_sec};
    memcpy(rd.table_id, table_id, 16);
    rd.start = rd.end = (st_bound){ck, cklen, true};
    *out = NULL;
    int rc = st_read(s->store, &rd, a, out, err);
    if (!rc && *out && !(*out)->nrows) *out = NULL;
    return rc;
}

/* Unsigned bytes, a shorter prefix first (storage's order of keys). */
static int bytes_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (alen > blen) - (alen < blen);
}

/* Whether row (token, pk, ck) is behind the cursor: already walked. */
static bool rowscan_behind(const rowscan *c, int64_t token, const uint8_t *pk, uint32_t pklen,
                           const uint8_t *ck, uint32_t cklen)
{
    if (c->done) return true;
    if (!c->have_pk) return false;
    if (token != c->token) return token < c->token;
    int cmp = bytes_cmp(pk, pklen, c->pk, c->pklen);
    if (cmp) return cmp < 0;
    if (!c->in_part) return true; /* that partition was read whole */
    return bytes_cmp(ck, cklen, c->ck, c->cklen) <= 0;
}

static void add_row(void *ud, const st_partition *p, const st_row *row)
{
    vix_add(ud, p->token, p->pk, p->pklen, row, true);
}

/* Checkpoints (docs/formats/index-snapshot.md): a vector graph is written
 * beside the shard's data each time it has grown by a quarter (at least
 * ckpt_min() entries) since the last one, so that a start after a crash
 * loads it and adds only what is missing instead of building it all. */
static size_t ckpt_min(void)
{
    static size_t min;
    if (!min) {
        const char *e = getenv("HELENUS_TEST_INDEX_CHECKPOINT_MIN"); /* tests: small */
        long x = e ? atol(e) : 0;
        min = x > 0 ? (size_t)x : 10000;
    }
    return min;
}

/* A graph that gained nodes and then had none for IDLE_CKPT_US is due too,
 * so that a table loaded and then only read recovers from a complete
 * checkpoint; now: µs, or 0 where it cannot have gone quiet (a write). */
#define IDLE_CKPT_US 5000000
static bool ckpt_due(const ex_vix *v, int64_t now)
{
    if (v->kind != IXS_VECTOR || v->reset_pending || v->seen) return false;
    if (now && !v->building && v->nents > v->ckpt_n && now - v->last_add >= IDLE_CKPT_US)
        return true;
    size_t step = v->ckpt_n / 4 > ckpt_min() ? v->ckpt_n / 4 : ckpt_min();
    return v->nents >= v->ckpt_n + step;
}

/* The end of a walk that started from a checkpoint: loaded nodes the walk
 * did not confirm stand for rows deleted, overwritten or lost since. */
static void catchup_done(ex_vix *v)
{
    uint32_t dropped = 0;
    for (uint32_t id = 0; id < v->seen_n; id++)
        if (!(v->seen[id / 64] >> (id % 64) & 1) && !ix_hnsw_is_deleted(v->g, id)) {
            ix_hnsw_delete(v->g, id);
            dropped++;
        }
    hln_free(v->seen);
    v->seen = NULL;
    v->seen_n = 0;
    if (dropped) HLN_INFO("index checkpoint caught up: %u entries no longer in the data", dropped);
    if (mostly_deleted(v)) v->reset_pending = true;
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
            vix_add(v, m->token, m->pk, m->pklen, row, false);
        }
        if (v->reset_pending) post_build(set);
        if (ckpt_due(v, 0)) post_ckpt(set);
    }
}

static void build_slices(hln_shard *s);

/* Starts v over: empty, building from the first row again. */
static int vix_reset(ex_vix *v)
{
    vix_clear(v);
    if (v->kind == IXS_VECTOR) {
        ix_hnsw_free(v->g);
        v->g = NULL;
        if (ix_hnsw_new(&v->g, v->dim, (ix_metric)v->metric, NULL)) return HLN_ENOMEM;
    }
    v->cur.have_pk = v->cur.in_part = v->cur.done = false;
    v->building = true;
    v->reset_pending = false;
    v->build_t0 = hln_now_micros();
    return 0;
}

static void on_build_msg(rt_shard *rs, rt_msg *m)
{
    HLN_UNUSED(m);
    hln_shard *s = engine_shard(rs);
    ex_vix_set *set = s->vix;
    if (!set) return;
    set->build_posted = false;
    build_slices(s);
}

/* Posts m (one of set's own messages) to the shard unless it is queued. */
static void post_once(ex_vix_set *set, rt_msg *m, bool *posted, void (*fn)(rt_shard *, rt_msg *))
{
    if (*posted) return;
    *posted = true;
    m->fn = fn;
    m->next = NULL;
    engine_post(set->shard, m);
}

static void post_build(ex_vix_set *set)
{
    post_once(set, &set->build_msg, &set->build_posted, on_build_msg);
}

/* One slice of every graph still building; posts the next if any is left. */
static void build_slices(hln_shard *s)
{
    ex_vix_set *set = s->vix;
    bool more = false;
    int64_t now_sec = hln_now_micros() / 1000000;
    for (ex_vix **pp = &set->head; *pp;) {
        ex_vix *v = *pp;
        if (v->reset_pending && vix_reset(v)) { /* out of memory: let it go */
            *pp = v->next;
            vix_free(v);
            continue;
        }
        pp = &v->next;
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
        if (v->cur.done) {
            v->building = false;
            if (v->kind == IXS_VECTOR)
                HLN_INFO("shard %d: vector index built%s: %zu entries in %.2f s", s->id,
                         v->seen ? " from its checkpoint" : "", v->nents,
                         (double)(hln_now_micros() - v->build_t0) / 1e6);
            if (v->seen) catchup_done(v);
            if (v->reset_pending) more = true;
        } else {
            more = true;
        }
        if (ckpt_due(v, 0)) post_ckpt(set);
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
        if (v->kind == IXS_TERMS) return v;
        if (mostly_deleted(v) && !v->building) { /* built again */
            if (vix_reset(v)) {
                *pp = v->next;
                vix_free(v);
                break;
            }
            post_build(set);
        }
        return v;
    }
    ex_vix *v = hln_calloc(1, sizeof *v);
    if (!v) {
        hln_fail(err, HLN_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(v->index_id, q->index_id, 16);
    memcpy(v->table_id, q->table_id, 16);
    v->serial = atomic_fetch_add(&vix_serials, 1) + 1;
    v->col_id = q->col_id;
    v->kind = q->terms ? IXS_TERMS : IXS_VECTOR;
    v->target = q->target;
    v->fold = q->fold;
    v->dim = q->dim;
    v->metric = q->metric;
    if (v->kind == IXS_VECTOR && (!(v->tmp = hln_malloc(sizeof(float) * (size_t)q->dim)) ||
                                  ix_hnsw_new(&v->g, q->dim, (ix_metric)q->metric, NULL))) {
        vix_free(v);
        hln_fail(err, HLN_ENOMEM, "out of memory");
        return NULL;
    }
    HLN_UNUSED(now_sec);
    memcpy(v->cur.table_id, q->table_id, 16);
    v->next = set->head;
    set->head = v;
    if (set->loading && six_load(s, v)) return v; /* as the last clean stop left it */
    /* otherwise built by the walk (from its checkpoint, if it has one) */
    v->building = true;
    v->build_t0 = hln_now_micros();
    post_build(set);
    return v;
}

/* Starts building (in the background) every vector index of the snapshot
 * the shard has no graph for: at start-up and after CREATE INDEX, so that
 * writes feed the graph from then on and the first query finds it built. */
bool ex_sai_describe(const hln_table *t, const hln_index *ix, ex_ann_op *q)
{
    if (ix->kind != HLN_IXK_SAI) return false;
    const hln_column *col = table_column_by_id(t, ix->col_id);
    /* regular columns: key columns' values are in the keys, not in cells */
    if (!col || col->kind != HLN_COL_REGULAR) return false;
    memset(q, 0, sizeof *q);
    memcpy(q->table_id, t->id, 16);
    memcpy(q->index_id, ix->id, 16);
    q->col_id = col->id;
    if (col->type->kind == HLN_T_VECTOR) {
        const char *fn = index_option(ix, "similarity_function");
        int m = fn ? ix_metric_parse(fn) : IX_COSINE;
        q->dim = col->type->dim;
        q->metric = m < 0 ? IX_COSINE : m;
        return true;
    }
    /* term tables: a scalar (or frozen) value, or a map's entries; the
       analyzed options (normalize, ascii) are not applied by a table yet */
    const char *norm = index_option(ix, "normalize"), *ascii = index_option(ix, "ascii");
    if ((norm && !strcasecmp(norm, "true")) || (ascii && !strcasecmp(ascii, "true"))) return false;
    bool multi = hln_type_is_multicell(col->type);
    if (ix->target == HLN_IX_ENTRIES && multi && col->type->kind == HLN_T_MAP)
        q->target = HLN_IX_ENTRIES;
    else if ((ix->target == HLN_IX_SIMPLE || ix->target == HLN_IX_FULL) && !multi)
        q->target = HLN_IX_SIMPLE;
    else
        return false;
    const char *cs = index_option(ix, "case_sensitive");
    q->fold = cs && !strcasecmp(cs, "false");
    q->terms = true;
    return true;
}

int ex_sai_building(hln_shard *s, const hln_schema *schema, hln_arena *a, uint8_t **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    int cap = 0;
    for (int ki = 0; ki < schema->nkeyspaces; ki++)
        for (int tj = 0; tj < schema->keyspaces[ki]->ntables; tj++) {
            const hln_table *t = schema->keyspaces[ki]->tables[tj];
            for (int i = 0; i < t->nindexes; i++) {
                ex_ann_op q;
                if (!ex_sai_describe(t, &t->indexes[i], &q)) continue;
                const ex_vix_set *set = s->vix;
                const ex_vix *v = set ? set->head : NULL;
                while (v && memcmp(v->index_id, q.index_id, 16))
                    v = v->next;
                if (v && !v->building && !v->reset_pending) continue;
                if (*n == cap) {
                    int ncap = cap ? 2 * cap : 8;
                    uint8_t *nv = hln_arena_alloc(a, 16 * (size_t)ncap);
                    if (!nv) return HLN_ENOMEM;
                    if (*n) memcpy(nv, *ids, 16 * (size_t)*n);
                    *ids = nv;
                    cap = ncap;
                }
                memcpy(*ids + 16 * (size_t)(*n)++, q.index_id, 16);
            }
        }
    return 0;
}

/* Starts building (in the background) every index of the snapshot the
 * shard has no table or graph for: at start-up and after CREATE INDEX, so
 * that writes feed it from then on and the first query finds it built. */
void ex_sai_open(hln_shard *s, const hln_schema *schema)
{
    ex_vix_set *set = set_of(s);
    if (!set) return;
    set->loading = true;
    ex_ann_warm_all(s, schema);
    set->loading = false;
    clean_snapshots(s);
}

void ex_ann_warm_all(hln_shard *s, const hln_schema *schema)
{
    for (int k = 0; k < schema->nkeyspaces; k++) {
        const hln_keyspace *ks = schema->keyspaces[k];
        for (int ti = 0; ti < ks->ntables; ti++) {
            const hln_table *t = ks->tables[ti];
            for (int i = 0; i < t->nindexes; i++) {
                ex_ann_op q;
                if (!ex_sai_describe(t, &t->indexes[i], &q)) continue;
                hln_error err = {0};
                if (!vix_get(s, &q, 0, &err))
                    HLN_WARN("index %s on shard %d: %s", t->indexes[i].name, s->id, err.msg);
            }
        }
    }
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
            six_unlink(s, v); /* DROP INDEX */
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
    const uint8_t *fterm; /* q->filt: the folded term a row must hold */
    uint32_t ftlen;
} exact_ctx;

static bool row_has_term(const ex_ann_op *f, const st_row *row, const uint8_t *ft, uint32_t len);

static void exact_row(void *ud, const st_partition *p, const st_row *row)
{
    exact_ctx *x = ud;
    const ex_ann_op *q = x->q;
    if (q->filt && !row_has_term(q->filt, row, x->fterm, x->ftlen)) return;
    const st_cell *cell = live_value(row, q->col_id);
    if (!cell || !ex_ann_decode(cell->val, (int32_t)cell->len, q->dim, x->tmp)) return;
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

/* The k nearest rows of the shard by a scan of every row (holding the
 * filter's term ft, if any): exact. */
static int exact_search(hln_shard *s, const ex_ann_op *q, const uint8_t *ft, uint32_t ftlen,
                        hln_arena *a, st_partition **out, hln_error *err)
{
    int k = q->k;
    exact_ctx x = {.q = q, .fterm = ft, .ftlen = ftlen};
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
    if (!rc && q->ppk) { /* the one partition's rows */
        if (keep_copy(&c.pk, &c.pkcap, q->ppk, q->ppklen))
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        c.pklen = q->ppklen;
        c.token = q->ptoken;
        c.have_pk = c.in_part = c.one_part = true;
    }
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
        /* copies into a: the key buffers are freed below */
        uint8_t *kc =
            hln_arena_memdup(a, x.key[i], x.pklen[i] + x.cklen[i] ? x.pklen[i] + x.cklen[i] : 1);
        if (!kc) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            break;
        }
        st_partition *p = NULL;
        if ((rc = read_row(s, q->table_id, x.token[i], kc, x.pklen[i], kc + x.pklen[i], x.cklen[i],
                           q->now_sec, a, &p, err)) != 0)
            break;
        if (!p) continue;
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

/* ---- answering from the graph ------------------------------------------- */

/* Whether row holds term ft (folded as the term index folds, len bytes)
 * in f's column: its value, or one map entry's comparable key || value. */
static bool row_has_term(const ex_ann_op *f, const st_row *row, const uint8_t *ft, uint32_t len)
{
    for (uint32_t i = 0; i < row->ncells; i++) {
        const st_cell *c = &row->cells[i];
        if (c->col_id != f->col_id || c->flags) continue;
        if ((f->target == HLN_IX_SIMPLE) != (c->pathlen == 0)) continue;
        if (c->pathlen + c->len != len) continue;
        uint8_t *cat = hln_malloc(len ? len : 1), *buf = NULL;
        if (!cat) return true; /* the coordinator filters every row again */
        if (c->pathlen) memcpy(cat, c->path, c->pathlen);
        if (c->len) memcpy(cat + c->pathlen, c->val, c->len);
        const uint8_t *t = fold_term(f->fold, cat, len, &buf);
        bool eq = !t || !len || !memcmp(t, ft, len);
        hln_free(buf);
        hln_free(cat);
        if (eq) return true;
    }
    return false;
}

/* The answer being gathered on a shard: verified rows, nearest first. */
typedef struct ann_acc {
    st_partition *head, **tail;
    int found;
} ann_acc;

/* Reads node id's row and keeps it when it still holds the node's vector
 * (and the filter's term); a node whose row moved on is marked deleted. */
static int take_hit(hln_shard *s, const ex_ann_op *q, ex_vix *v, uint32_t id, const uint8_t *ft,
                    uint32_t ftlen, hln_arena *a, ann_acc *acc, hln_error *err)
{
    const vent *e = &v->ents[id];
    const uint8_t *k = v->keys + e->off;
    st_partition *p = NULL;
    int rc = read_row(s, v->table_id, e->token, k, e->pklen, k + e->pklen, e->cklen, q->now_sec, a,
                      &p, err);
    if (rc) return rc;
    const st_cell *cell =
        p && p->rows[0].cklen == e->cklen ? live_value(&p->rows[0], v->col_id) : NULL;
    if (!cell || hash_bytes(cell->val, cell->len) != e->vhash) {
        ix_hnsw_delete(v->g, id);
        return 0;
    }
    if (q->filt && !row_has_term(q->filt, &p->rows[0], ft, ftlen)) return 0;
    /* a row re-written with the same vector has two live nodes: one answer */
    for (st_partition *x = acc->head; x; x = x->next)
        if (x->pklen == p->pklen && !memcmp(x->pk, p->pk, p->pklen) &&
            x->rows[0].cklen == p->rows[0].cklen &&
            !memcmp(x->rows[0].ck, p->rows[0].ck, p->rows[0].cklen))
            return 0;
    p->next = NULL;
    *acc->tail = p;
    acc->tail = &p->next;
    acc->found++;
    return 0;
}

/* Row (pk, ck)'s current node in a vector index, if it has one. */
static bool key_find(const ex_vix *v, int64_t token, const uint8_t *pk, uint32_t pklen,
                     const uint8_t *ck, uint32_t cklen, uint32_t *id)
{
    if (!v->kslots) return false;
    uint32_t x = v->kmap[key_probe(v, token, pk, pklen, ck, cklen)];
    if (!x) return false;
    *id = x - 1;
    return true;
}

/* Graph search for the k nearest rows, retried with more candidates while
 * too few survive the check; allow (a bitmap over node ids, or NULL for
 * every node) names the nodes that may answer, and a node's bit is
 * cleared once it has been looked at, so a retry only reads new ones.
 * navail: how many bits allow has set (the live count without one). */
static int graph_search(hln_shard *s, const ex_ann_op *q, ex_vix *v, uint8_t *allow,
                        uint32_t navail, const uint8_t *ft, uint32_t ftlen, hln_arena *a,
                        ann_acc *acc, hln_error *err)
{
    int k = q->k;
    int want = k + k / 2 + 8;
    uint32_t size = ix_hnsw_size(v->g);
    uint8_t *own = NULL;
    if (!allow) { /* every live node may answer: a bitmap of those not yet looked at */
        if (!(own = hln_malloc(size / 8 + 1))) return hln_fail(err, HLN_ENOMEM, "out of memory");
        memset(own, 0xff, size / 8 + 1);
        allow = own;
    }
    ix_hit *hits = NULL;
    int rc = 0;
    for (;;) {
        if ((uint32_t)want > navail) want = (int)navail;
        if (want <= 0) break;
        ix_hit *h2 = hln_realloc(hits, sizeof *hits * (size_t)want);
        if (!h2) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            break;
        }
        hits = h2;
        int ef = want > EF_SEARCH ? want : EF_SEARCH;
        int n = ix_hnsw_search_in(v->g, q->q, want, ef, hits, allow);
        if (n < 0) {
            rc = hln_fail(err, HLN_EINVAL,
                          "Zero and near-zero vectors cannot be indexed or queried with cosine "
                          "similarity");
            break;
        }
        for (int i = 0; i < n && acc->found < k && !rc; i++) {
            uint32_t id = hits[i].id;
            allow[id >> 3] &= (uint8_t) ~(1u << (id & 7));
            navail--;
            rc = take_hit(s, q, v, id, ft, ftlen, a, acc, err);
        }
        if (rc || acc->found >= k || n < want || navail == 0) break;
        want *= 2;
    }
    hln_free(hits);
    hln_free(own);
    return rc;
}

/* The k nearest of the c candidate nodes cand, ranked from the graph's
 * memory: by their codes, the nearest of those exactly (ix_hnsw_rank), and
 * more of them when too many fail the check against their rows. */
static int rank_take(hln_shard *s, const ex_ann_op *q, ex_vix *v, ix_hit *cand, uint32_t c,
                     const uint8_t *ft, uint32_t ftlen, hln_arena *a, ann_acc *acc, hln_error *err)
{
    int rc = 0;
    int keep = q->k + q->k / 2 + 8;
    for (uint32_t done = 0; !rc && acc->found < q->k && done < c; keep *= 4) {
        int m = ix_hnsw_rank(v->g, q->q, cand + done, (int)(c - done), keep);
        if (m < 0) return hln_fail(err, HLN_ENOMEM, "out of memory");
        for (int i = 0; i < m && acc->found < q->k && !rc; i++)
            rc = take_hit(s, q, v, cand[done + i].id, ft, ftlen, a, acc, err);
        done += (uint32_t)m;
    }
    return rc;
}

/* A vector query within one partition: its live nodes (the partition
 * lists, built at the first such query) are the candidates, ranked
 * exactly; no row of the partition is read but the answers. Lists that
 * cannot be built (out of memory) leave the partition to an exact scan. */
static int part_search(hln_shard *s, const ex_ann_op *q, ex_vix *v, hln_arena *a, ann_acc *acc,
                       hln_error *err)
{
    if (!part_build(v)) return exact_search(s, q, NULL, 0, a, &acc->head, err);
    uint32_t size = ix_hnsw_size(v->g), c = 0, cap = 0;
    ix_hit *cand = NULL;
    for (uint32_t x = v->pmap[part_probe(v, q->ptoken, q->ppk, q->ppklen)]; x;
         x = v->pprev[x - 1]) {
        uint32_t id = x - 1;
        if (id >= size || ix_hnsw_is_deleted(v->g, id)) continue;
        if (c == cap) {
            cap = cap ? cap * 2 : 256;
            ix_hit *n = hln_realloc(cand, sizeof *cand * cap);
            if (!n) {
                hln_free(cand);
                return hln_fail(err, HLN_ENOMEM, "out of memory");
            }
            cand = n;
        }
        cand[c++] = (ix_hit){id, 0};
    }
    int rc = c ? rank_take(s, q, v, cand, c, NULL, 0, a, acc, err) : 0;
    hln_free(cand);
    return rc;
}

/* A vector query narrowed by a term: the nodes of the rows the term index
 * names are the candidates. Few of them (an estimated exact scan cheaper
 * than the walk, see below): their vectors are ranked exactly, straight
 * from the graph's memory, so a selective filter loses nothing. Many: the
 * graph is walked with them as the allowed set. */
static int filtered_search(hln_shard *s, const ex_ann_op *q, ex_vix *v, ex_vix *tv,
                           const uint8_t *ft, uint32_t ftlen, hln_arena *a, ann_acc *acc,
                           hln_error *err)
{
    const tslot *sl = tv->nslots ? term_slot(tv, ft, ftlen, term_hash(ft, ftlen)) : NULL;
    if (!sl || !sl->hash) return 0;
    uint32_t size = ix_hnsw_size(v->g);
    uint8_t *allow = hln_calloc(size / 8 + 1, 1);
    ix_hit *cand = hln_malloc(sizeof *cand * (sl->n ? sl->n : 1));
    if (!allow || !cand) {
        hln_free(allow);
        hln_free(cand);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    uint32_t c = 0;
    for (uint32_t i = 0; i < sl->n; i++) {
        const vent *e = &tv->ents[sl->ids[i]];
        const uint8_t *k = tv->keys + e->off;
        uint32_t id;
        if (!key_find(v, e->token, k, e->pklen, k + e->pklen, e->cklen, &id) || id >= size ||
            ix_hnsw_is_deleted(v->g, id) || ((allow[id >> 3] >> (id & 7)) & 1))
            continue;
        allow[id >> 3] |= (uint8_t)(1u << (id & 7));
        cand[c++] = (ix_hit){id, 0};
    }
    /* A walk with the filter costs about 0.5 ms / share (share: c / live;
       it visits that many more nodes), the scan about 0.23 us per
       candidate (bench/vector --filters, 100,000 x 384: 10% scanned
       2.3 ms, walked 4.9 ms): the scan wins while c * c <= SCAN_FACTOR *
       live (14% of 100,000 vectors, 4.5% of a million); small sets always
       scan. */
    double live = (double)ix_hnsw_live(v->g);
    int rc = 0;
    if (c <= 2048 || (double)c * (double)c <= SCAN_FACTOR * live)
        rc = rank_take(s, q, v, cand, c, ft, ftlen, a, acc, err);
    else {
        rc = graph_search(s, q, v, allow, c, ft, ftlen, a, acc, err);
    }
    hln_free(allow);
    hln_free(cand);
    return rc;
}

int ex_ann_search(hln_shard *s, ex_ann_op *q, hln_arena *a, st_partition **out, hln_error *err)
{
    *out = NULL;
    if (q->schema) ex_ann_reconcile(s, q->schema);
    if (q->k == 0) { /* a warm-up (CREATE INDEX): start what is missing */
        if (q->schema) ex_ann_warm_all(s, q->schema);
        return 0;
    }
    ex_vix *v = vix_get(s, q, q->now_sec, err);
    if (!v) return err->code ? err->code : HLN_ENOMEM;
    ex_vix *tv = NULL;
    uint8_t *buf = NULL;
    const uint8_t *ft = NULL;
    uint32_t ftlen = 0;
    if (q->filt) {
        if (!(tv = vix_get(s, q->filt, q->now_sec, err))) return err->code ? err->code : HLN_ENOMEM;
        ftlen = q->filt->termlen;
        if (!(ft = fold_term(q->filt->fold, q->filt->term, ftlen, &buf)))
            return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    int rc = 0;
    ann_acc acc = {NULL, &acc.head, 0};
    if (v->building || v->reset_pending || (tv && (tv->building || tv->reset_pending)))
        rc = exact_search(s, q, ft, ftlen, a, &acc.head, err);
    else if (q->ppk)
        rc = part_search(s, q, v, a, &acc, err);
    else if (tv)
        rc = filtered_search(s, q, v, tv, ft, ftlen, a, &acc, err);
    else if (ix_hnsw_live(v->g) > 0)
        rc = graph_search(s, q, v, NULL, ix_hnsw_live(v->g), NULL, 0, a, &acc, err);
    hln_free(buf);
    if (rc) return rc;
    *out = acc.head;
    return 0;
}

/* ---- term lookups (EX_OP_ISCAN) ------------------------------------------- */

static _Thread_local const ex_vix *sort_vix;

/* storage order: token, then partition key bytes, then clustering key */
static int cmp_ids(const void *a, const void *b)
{
    const vent *x = &sort_vix->ents[*(const uint32_t *)a],
               *y = &sort_vix->ents[*(const uint32_t *)b];
    if (x->token != y->token) return x->token < y->token ? -1 : 1;
    const uint8_t *kx = sort_vix->keys + x->off, *ky = sort_vix->keys + y->off;
    int c = bytes_cmp(kx, x->pklen, ky, y->pklen);
    return c ? c : bytes_cmp(kx + x->pklen, x->cklen, ky + y->pklen, y->cklen);
}

/* Whether key e comes after the scan's start: (start_token, after_pk). */
static bool after_start(const ex_vix *v, const vent *e, const st_scan_cmd *cmd)
{
    if (e->token > cmd->end_token) return false;
    if (e->token > cmd->start_token) return true;
    if (e->token < cmd->start_token || !cmd->after_pk) return false;
    return bytes_cmp(v->keys + e->off, e->pklen, cmd->after_pk, cmd->after_pklen) > 0;
}

int ex_sai_scan(hln_shard *s, ex_op *op, hln_arena *a, hln_error *err)
{
    ex_ann_op *q = op->ann;
    st_scan_cmd *cmd = &op->scan;
    op->parts = NULL;
    if (q->schema) ex_ann_reconcile(s, q->schema);
    ex_vix *v = vix_get(s, q, cmd->now_sec, err);
    if (!v) return err->code ? err->code : HLN_ENOMEM;
    /* still building (or to be built again): the plain scan (the coordinator
       filters either way) */
    if (v->building || v->reset_pending) return st_scan(s->store, cmd, a, &op->parts, err);
    uint8_t *buf = NULL;
    const uint8_t *t = fold_term(v->fold, q->term, q->termlen, &buf);
    if (!t) return hln_fail(err, HLN_ENOMEM, "out of memory");
    const tslot *sl = v->nslots ? term_slot(v, t, q->termlen, term_hash(t, q->termlen)) : NULL;
    hln_free(buf);
    if (!sl || !sl->hash) return 0;
    uint32_t *ids = hln_malloc(sizeof *ids * (sl->n ? sl->n : 1));
    if (!ids) return hln_fail(err, HLN_ENOMEM, "out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < sl->n; i++)
        if (after_start(v, &v->ents[sl->ids[i]], cmd)) ids[n++] = sl->ids[i];
    sort_vix = v;
    qsort(ids, n, sizeof *ids, cmp_ids);
    st_partition *head = NULL, **tail = &head, *cur = NULL;
    uint32_t rows = 0, cap = 0;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        if (i && !cmp_ids(&ids[i - 1], &ids[i])) continue; /* written twice */
        if (cmd->limit && rows >= cmd->limit) break;
        const vent *e = &v->ents[ids[i]];
        const uint8_t *k = v->keys + e->off;
        st_partition *p = NULL;
        if ((rc = read_row(s, v->table_id, e->token, k, e->pklen, k + e->pklen, e->cklen,
                           cmd->now_sec, a, &p, err)) != 0)
            break;
        if (!p) continue; /* deleted or expired since */
        if (cur && cur->token == p->token && cur->pklen == p->pklen &&
            !memcmp(cur->pk, p->pk, p->pklen)) {
            if (cur->nrows == cap) { /* rows of one partition, in clustering order */
                st_row *nr = hln_arena_alloc(a, sizeof *nr * cap * 2);
                if (!nr) {
                    rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                    break;
                }
                memcpy(nr, cur->rows, sizeof *nr * cur->nrows);
                cur->rows = nr;
                cap *= 2;
            }
            cur->rows[cur->nrows++] = p->rows[0];
        } else {
            st_row *nr = hln_arena_alloc(a, sizeof *nr * 4);
            if (!nr) {
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                break;
            }
            nr[0] = p->rows[0];
            p->rows = nr;
            p->nrows = 1;
            p->next = NULL;
            cap = 4;
            *tail = cur = p;
            tail = &p->next;
        }
        rows++;
    }
    hln_free(ids);
    if (rc) return rc;
    op->parts = head;
    return 0;
}

/* ---- snapshots and checkpoints (docs/formats/index-snapshot.md) ----------
 * <data>/shard-<i>/indexes/<index id>.six: written (fsynced) by a clean
 * stop for every built index; the next start loads it instead of building.
 * <index id>.ckpt: a vector graph's checkpoint, written (not fsynced)
 * while it grows, or the .six renamed once loaded; loaded after a crash
 * and caught up by the walk. Both have the same format. */

/* version 2: vent.vhash is XXH3 (version 1's FNV-1a files are refused,
 * so the index is built from the data once) */
enum { SIX_VERSION = 2 };
static const char SIX_MAGIC[8] = {'H', 'L', 'N', 'S', 'I', 'X', 0, 0};

typedef struct sixio {
    FILE *f;
    uint32_t crc;
} sixio;

static int six_write(void *ud, const void *p, size_t n)
{
    sixio *x = ud;
    if (n && fwrite(p, 1, n, x->f) != n) return HLN_EIO;
    x->crc = hln_crc32(x->crc, p, n);
    return 0;
}

static int six_read(void *ud, void *p, size_t n)
{
    sixio *x = ud;
    if (n && fread(p, 1, n, x->f) != n) return HLN_ECORRUPT;
    x->crc = hln_crc32(x->crc, p, n);
    return 0;
}

static int six_dir(hln_shard *s, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/shard-%d/indexes", s->eng->cfg.data_dir, s->id);
    return w > 0 && (size_t)w < n ? 0 : HLN_ECONFIG;
}

static void hex16(const uint8_t id[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* What a file's front describes (copied, so that a checkpoint written on
 * another thread never reads the ex_vix). */
typedef struct six_head {
    uint32_t kind, col;
    int32_t target, dim, metric;
    uint8_t fold;
    uint8_t index_id[16], table_id[16];
} six_head;

static six_head head_of(const ex_vix *v)
{
    six_head h = {(uint32_t)v->kind, v->col_id, v->target, v->dim, v->metric, v->fold, {0}, {0}};
    memcpy(h.index_id, v->index_id, 16);
    memcpy(h.table_id, v->table_id, 16);
    return h;
}

/* The fields before the terms or the graph (every kind). */
static int six_write_front(sixio *x, const six_head *h, const vent *ents, uint64_t nents,
                           const uint8_t *keys, uint64_t keylen)
{
    uint32_t ver = SIX_VERSION;
    int rc;
    if ((rc = six_write(x, SIX_MAGIC, 8)) || (rc = six_write(x, &ver, 4)) ||
        (rc = six_write(x, &h->kind, 4)) || (rc = six_write(x, h->index_id, 16)) ||
        (rc = six_write(x, h->table_id, 16)) || (rc = six_write(x, &h->col, 4)) ||
        (rc = six_write(x, &h->target, 4)) || (rc = six_write(x, &h->dim, 4)) ||
        (rc = six_write(x, &h->metric, 4)) || (rc = six_write(x, &h->fold, 1)) ||
        (rc = six_write(x, &nents, 8)) || (rc = six_write(x, ents, sizeof(vent) * nents)) ||
        (rc = six_write(x, &keylen, 8)) || (rc = six_write(x, keys, keylen)))
        return rc;
    return 0;
}

static int six_save_one(sixio *x, void *ud)
{
    const ex_vix *v = ud;
    six_head h = head_of(v);
    int rc = six_write_front(x, &h, v->ents, v->nents, v->keys, v->keylen);
    if (rc) return rc;
    if (v->kind == IXS_TERMS) {
        uint64_t nterms = v->nterms;
        if ((rc = six_write(x, &nterms, 8))) return rc;
        for (size_t i = 0; i < v->nslots; i++) {
            const tslot *sl = &v->slots[i];
            if (!sl->hash) continue;
            if ((rc = six_write(x, &sl->len, 4)) ||
                (rc = six_write(x, v->terms + sl->off, sl->len)) ||
                (rc = six_write(x, &sl->n, 4)) || (rc = six_write(x, sl->ids, 4 * (size_t)sl->n)))
                return rc;
        }
    } else if ((rc = ix_hnsw_save(v->g, six_write, x))) {
        return rc;
    }
    uint32_t crc = x->crc;
    return six_write(x, &crc, 4);
}

/* dir (the shard's index directory) and path, <dir>/<index id>.<ext>. */
static int six_path(hln_shard *s, const uint8_t index_id[16], const char *ext, char *dir, size_t dn,
                    char *path, size_t pn)
{
    if (six_dir(s, dir, dn)) return HLN_ECONFIG;
    char hex[33];
    hex16(index_id, hex);
    int w = snprintf(path, pn, "%s/%s.%s", dir, hex, ext);
    return w > 0 && (size_t)w < pn ? 0 : HLN_ECONFIG;
}

/* Writes body's bytes to path (in dir, created if need be) through
 * path.tmp and a rename. durable: fsynced (the file and the directory)
 * before the rename. Any thread. */
static int six_write_to(const char *dir, const char *path, bool durable,
                        int (*body)(sixio *x, void *ud), void *ud)
{
    if (mkdir(dir, 0755) && errno != EEXIST) {
        HLN_WARN("cannot create %s: %s; indexes will be built again at start", dir,
                 strerror(errno));
        return HLN_EIO;
    }
    char tmp[1310];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sixio x = {fopen(tmp, "wb"), 0};
    int rc = x.f ? body(&x, ud) : HLN_EIO;
    if (x.f && fflush(x.f)) rc = HLN_EIO;
    if (x.f && durable && !rc && fsync(fileno(x.f))) rc = HLN_EIO;
    if (x.f && fclose(x.f) && !rc) rc = HLN_EIO;
    if (!rc && rename(tmp, path)) rc = HLN_EIO;
    if (rc) {
        HLN_WARN("cannot write %s: %s; the index will be built again at start", tmp,
                 strerror(errno));
        unlink(tmp);
        return rc;
    }
    if (durable) hln_fsync_dir(dir, NULL);
    return 0;
}

void ex_sai_save_all(hln_shard *s)
{
    ex_vix_set *set = s->vix;
    if (!set) return;
    for (ex_vix *v = set->head; v; v = v->next) {
        if (v->building || v->reset_pending) continue; /* incomplete: its checkpoint stays */
        char dir[1200], path[1300];
        if (six_path(s, v->index_id, "six", dir, sizeof dir, path, sizeof path) ||
            six_write_to(dir, path, true, six_save_one, v))
            continue;
        /* the snapshot supersedes the checkpoint (it becomes the next one
           once loaded): one copy of the graph on disk, not two */
        if (!six_path(s, v->index_id, "ckpt", dir, sizeof dir, path, sizeof path)) unlink(path);
    }
}

/* A checkpoint being written on libuv's thread pool. The shard thread
 * only copies what changes (the keys, the graph's links: ix_hnsw_freeze)
 * and hands the vectors over shared; the thread pool writes the file. */
typedef struct ckpt_job {
    uv_work_t req;
    ex_vix_set *set; /* NULL once the shard's indexes are freed (ex_ann_free) */
    uint64_t serial; /* the ex_vix it saves */
    six_head head;
    vent *ents;
    uint64_t nents;
    uint8_t *keys;
    uint64_t keylen;
    ix_hnsw_frozen *g;
    char dir[1200], path[1300];
    int rc;
    int64_t t0, stall_us;
} ckpt_job;

static void ckpt_orphan(ckpt_job *j)
{
    j->set = NULL;
}

static void ckpt_job_free(ckpt_job *j)
{
    ix_hnsw_frozen_free(j->g);
    hln_free(j->ents);
    hln_free(j->keys);
    hln_free(j);
}

static int ckpt_body(sixio *x, void *ud)
{
    ckpt_job *j = ud;
    int rc = six_write_front(x, &j->head, j->ents, j->nents, j->keys, j->keylen);
    if (!rc) rc = ix_hnsw_frozen_save(j->g, six_write, x);
    uint32_t crc = x->crc;
    return rc ? rc : six_write(x, &crc, 4);
}

static void ckpt_work(uv_work_t *req)
{
    ckpt_job *j = req->data;
    j->rc = six_write_to(j->dir, j->path, false, ckpt_body, j);
}

static void ckpt_after(uv_work_t *req, int status)
{
    HLN_UNUSED(status);
    ckpt_job *j = req->data;
    ex_vix_set *set = j->set;
    if (set) {
        set->job = NULL;
        ex_vix *v = set->head;
        while (v && v->serial != j->serial)
            v = v->next;
        if (!v) {
            unlink(j->path); /* dropped or truncated meanwhile: nothing to save */
        } else if (!j->rc) {
            HLN_INFO("shard %d: index checkpoint of %llu entries written in %lld ms (%lld ms of "
                     "it on the shard thread)",
                     set->shard->id, (unsigned long long)j->nents,
                     (long long)(hln_now_micros() - j->t0) / 1000, (long long)j->stall_us / 1000);
        }
        post_ckpt(set); /* any that came due meanwhile */
    }
    ckpt_job_free(j);
}

/* Starts the checkpoint of v on the thread pool: 0, or why not. */
static int ckpt_start(rt_shard *rs, hln_shard *s, ex_vix_set *set, ex_vix *v)
{
    ckpt_job *j = hln_calloc(1, sizeof *j);
    if (!j) return HLN_ENOMEM;
    j->t0 = hln_now_micros();
    j->set = set;
    j->serial = v->serial;
    j->head = head_of(v);
    j->nents = v->nents;
    j->keylen = v->keylen;
    j->ents = hln_malloc(sizeof(vent) * (v->nents ? v->nents : 1));
    j->keys = hln_malloc(v->keylen ? v->keylen : 1);
    int rc = !j->ents || !j->keys ? HLN_ENOMEM : ix_hnsw_freeze(v->g, &j->g);
    if (!rc) rc = six_path(s, v->index_id, "ckpt", j->dir, sizeof j->dir, j->path, sizeof j->path);
    if (!rc) {
        memcpy(j->ents, v->ents, sizeof(vent) * v->nents);
        if (v->keylen) memcpy(j->keys, v->keys, v->keylen);
        j->req.data = j;
        rc = uv_queue_work(rt_loop(rs), &j->req, ckpt_work, ckpt_after) ? HLN_EIO : 0;
    }
    if (rc) {
        ckpt_job_free(j);
        return rc;
    }
    j->stall_us = hln_now_micros() - j->t0;
    set->job = j;
    return 0;
}

/* Starts the checkpoint that is due, if none is being written (one at a
 * time per shard: ckpt_after looks again). Not fsynced, on purpose: a
 * checkpoint only saves work. One torn by a power failure fails its CRC
 * at start, and the index is built from the data; one that is merely old
 * is caught up by the walk. */
static void on_ckpt_msg(rt_shard *rs, rt_msg *m)
{
    HLN_UNUSED(m);
    hln_shard *s = engine_shard(rs);
    ex_vix_set *set = s->vix;
    if (!set) return;
    set->ckpt_posted = false;
    if (set->job) return;
    int64_t now = hln_now_micros();
    for (ex_vix *v = set->head; v; v = v->next) {
        if (!ckpt_due(v, now)) continue;
        v->ckpt_n = v->nents; /* failed too: try again after as many more */
        int rc = ckpt_start(rs, s, set, v);
        if (!rc) return;
        HLN_WARN("shard %d: cannot start an index checkpoint: %s", s->id, hln_strerror(rc));
    }
}

/* The shard's clock (the commitlog's periodic sync): graphs gone quiet. */
void ex_sai_idle(hln_shard *s)
{
    ex_vix_set *set = s->vix;
    if (!set) return;
    int64_t now = hln_now_micros();
    for (ex_vix *v = set->head; v; v = v->next)
        if (ckpt_due(v, now)) post_ckpt(set);
}

static void post_ckpt(ex_vix_set *set)
{
    post_once(set, &set->ckpt_msg, &set->ckpt_posted, on_ckpt_msg);
}

/* DROP INDEX, DROP TABLE, TRUNCATE: the index's files go with it. */
static void six_unlink(hln_shard *s, const ex_vix *v)
{
    char dir[1200], path[1300];
    if (!six_path(s, v->index_id, "six", dir, sizeof dir, path, sizeof path)) unlink(path);
    if (!six_path(s, v->index_id, "ckpt", dir, sizeof dir, path, sizeof path)) unlink(path);
}

/* Loads v (an empty index, described already) from its snapshot file.
 * 0 when loaded; otherwise v is left empty and the caller builds it. */
static int six_load_one(ex_vix *v, FILE *f)
{
    sixio x = {f, 0};
    char magic[8];
    uint32_t ver, kind, col;
    int32_t target, dim, metric;
    uint8_t fold, iid[16], tid[16];
    uint64_t nents, keylen;
    int rc;
    if ((rc = six_read(&x, magic, 8)) || (rc = six_read(&x, &ver, 4)) ||
        (rc = six_read(&x, &kind, 4)) || (rc = six_read(&x, iid, 16)) ||
        (rc = six_read(&x, tid, 16)) || (rc = six_read(&x, &col, 4)) ||
        (rc = six_read(&x, &target, 4)) || (rc = six_read(&x, &dim, 4)) ||
        (rc = six_read(&x, &metric, 4)) || (rc = six_read(&x, &fold, 1)) ||
        (rc = six_read(&x, &nents, 8)))
        return rc;
    if (memcmp(magic, SIX_MAGIC, 8) || ver != SIX_VERSION || kind != (uint32_t)v->kind ||
        memcmp(iid, v->index_id, 16) || memcmp(tid, v->table_id, 16) || col != v->col_id ||
        target != v->target || dim != v->dim || metric != v->metric || fold != v->fold ||
        nents > UINT32_MAX)
        return HLN_ECORRUPT;
    part_drop(v);
    if (!(v->ents = hln_malloc(sizeof(vent) * (nents ? nents : 1)))) return HLN_ENOMEM;
    v->nents = v->capents = nents;
    if ((rc = six_read(&x, v->ents, sizeof(vent) * nents)) || (rc = six_read(&x, &keylen, 8)))
        return rc;
    if (keylen > ((uint64_t)1 << 40)) return HLN_ECORRUPT;
    if (!(v->keys = hln_malloc(keylen ? keylen : 1))) return HLN_ENOMEM;
    v->keylen = v->keycap = keylen;
    if ((rc = six_read(&x, v->keys, keylen))) return rc;
    for (uint64_t i = 0; i < nents; i++)
        if (v->ents[i].off + v->ents[i].pklen + v->ents[i].cklen > keylen) return HLN_ECORRUPT;
    if (v->kind == IXS_TERMS) {
        uint64_t nterms;
        if ((rc = six_read(&x, &nterms, 8))) return rc;
        uint8_t *t = NULL;
        for (uint64_t i = 0; i < nterms && !rc; i++) {
            uint32_t len, n;
            if ((rc = six_read(&x, &len, 4))) break;
            if (len > (1u << 26) || !(t = hln_realloc(t, len ? len : 1))) {
                rc = HLN_ECORRUPT;
                break;
            }
            if ((rc = six_read(&x, t, len)) || (rc = six_read(&x, &n, 4))) break;
            for (uint32_t j = 0; j < n && !rc; j++) {
                uint32_t id;
                if ((rc = six_read(&x, &id, 4))) break;
                if (id >= nents)
                    rc = HLN_ECORRUPT;
                else
                    rc = term_add(v, t, len, id);
            }
        }
        hln_free(t);
        if (rc) return rc;
    } else {
        ix_hnsw *g = NULL;
        if ((rc = ix_hnsw_load(&g, six_read, &x))) return rc;
        if (ix_hnsw_size(g) != nents || ix_hnsw_dim(g) != v->dim) {
            ix_hnsw_free(g);
            return HLN_ECORRUPT;
        }
        ix_hnsw_free(v->g);
        v->g = g;
        for (uint32_t id = 0; id < nents; id++) /* the rows' current nodes */
            if (!ix_hnsw_is_deleted(g, id)) key_put(v, id);
    }
    uint32_t want = x.crc, crc;
    if ((rc = six_read(&x, &crc, 4))) return rc;
    return crc == want ? 0 : HLN_ECORRUPT;
}

/* Loads v from <dir>/<hex>.<ext>: 0, or why not (v is then empty). */
static int six_load_path(hln_shard *s, ex_vix *v, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return HLN_ENOTFOUND;
    int rc = six_load_one(v, f);
    fclose(f);
    if (rc) {
        HLN_WARN("index file %s unusable (%s); building the index from the data", path,
                 hln_strerror(rc));
        unlink(path);
        vix_reset(v);
        return rc;
    }
    HLN_INFO("shard %d: index loaded from %s (%zu entries)", s->id, path, v->nents);
    return 0;
}

/* At start: v as the last clean stop left it (true: built); otherwise,
 * for a vector graph, its last checkpoint, loaded and left to the build's
 * walk to confirm and complete (false, with v->seen set); otherwise false
 * with v empty. A clean stop's file of a graph becomes its checkpoint
 * (renamed), so that a crash later starts from it; a term table's is
 * deleted once read (term tables are cheap to build and not checkpointed). */
static bool six_load(hln_shard *s, ex_vix *v)
{
    char dir[1200], six[1300], ckpt[1300];
    if (six_path(s, v->index_id, "six", dir, sizeof dir, six, sizeof six) ||
        six_path(s, v->index_id, "ckpt", dir, sizeof dir, ckpt, sizeof ckpt))
        return false;
    if (!six_load_path(s, v, six)) {
        if (v->kind == IXS_VECTOR && !rename(six, ckpt)) {
            hln_fsync_dir(dir, NULL);
        } else {
            unlink(six); /* used once: a crash from here on builds again */
        }
        v->ckpt_n = v->nents;
        return true;
    }
    if (v->kind != IXS_VECTOR || six_load_path(s, v, ckpt)) return false;
    uint32_t n = ix_hnsw_size(v->g);
    if (!(v->seen = hln_calloc((n + 63) / 64 + 1, sizeof(uint64_t)))) {
        vix_reset(v);
        return false;
    }
    v->seen_n = n;
    v->ckpt_n = v->nents;
    return false;
}

/* At start, after every index looked for its files: whatever is left
 * other than the checkpoints of the graphs loaded belongs to indexes that
 * no longer exist, or is a write a crash interrupted. */
static void clean_snapshots(hln_shard *s)
{
    char dir[1200], path[1600], keep[40], hex[33];
    if (six_dir(s, dir, sizeof dir)) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        bool kept = false;
        for (ex_vix *v = s->vix ? ((ex_vix_set *)s->vix)->head : NULL; v && !kept; v = v->next) {
            if (v->kind != IXS_VECTOR) continue;
            hex16(v->index_id, hex);
            snprintf(keep, sizeof keep, "%s.ckpt", hex);
            kept = !strcmp(de->d_name, keep);
        }
        if (kept) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

/* ---- CREATE INDEX: warm every shard -------------------------------------- */

static void warm_done(ex_request *r)
{
    ex_state *st = ex_st(r);
    hln_schema *ns = st->xs;
    st->xs = NULL;
    if (ns) schema_release(ns);
    ex_finish(r, 0); /* a shard that could not start building retries at first use */
}

void ex_ann_warm_everywhere(ex_request *r, int rc)
{
    ex_state *st = ex_st(r);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    hln_schema *ns = catalog_acquire(st->eng->catalog);
    ex_ann_op *q = hln_arena_alloc(&r->arena, sizeof *q);
    if (!ns || !q) {
        if (ns) schema_release(ns);
        ex_finish(r, 0);
        return;
    }
    memset(q, 0, sizeof *q);
    q->schema = ns;
    st->xs = ns;
    for (int i = 0; i < st->eng->nshards; i++) {
        ex_op *op = ex_op_new(r, EX_OP_ANN, i);
        if (!op) break;
        op->ann = q;
    }
    ex_dispatch(r, warm_done);
}
