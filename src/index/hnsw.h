/*
 * hnsw.h — an in-memory HNSW graph over float vectors (the vector part of
 * storage-attached indexes).
 *
 * What: Malkov & Yashunin's hierarchical navigable small world graph. Each
 * vector gets a dense id (0, 1, 2, ... in insertion order); a search returns
 * the ids of (approximately) the k nearest vectors, nearest first. Removal
 * marks an id deleted: it still routes searches but is never returned (the
 * graph is rebuilt, not repaired, when too much of it is deleted; the
 * caller decides when).
 *
 * Metrics (Cassandra's similarity functions, and the "distance" this
 * module orders by, smaller is nearer):
 *     cosine       vectors normalised at insert;  dist = 1 - a.b
 *                  score (1 + cos) / 2
 *     dot_product  dist = -a.b                     score (1 + a.b) / 2
 *     euclidean    dist = |a - b|^2                score 1 / (1 + |a - b|^2)
 *
 * Why our own code rather than hnswlib or FAISS: both are C++ (FAISS's C
 * API is not in Debian's package), and the index has to live inside a
 * shard's single thread, keyed by our ids, with deletion marks and memory
 * accounting; the graph is ~400 lines. bench/vector compares it with both
 * libraries on the same data (docs/ARCHITECTURE.md, "Indexes").
 *
 * Invariants:
 *  1. Not thread-safe: one graph belongs to one shard thread (a search
 *     uses the graph's scratch space).
 *  2. Every neighbour list holds ids < size, never the node itself, at most
 *     2M entries at level 0 and M above; the entry point is a node of the
 *     top level.
 *  3. Insertion is deterministic for a given seed and input order.
 */
#ifndef HLN_INDEX_HNSW_H
#define HLN_INDEX_HNSW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ix_metric { IX_COSINE, IX_DOT, IX_EUCLIDEAN } ix_metric;

typedef struct ix_hnsw ix_hnsw;

typedef struct ix_hit {
    uint32_t id;
    float dist;
} ix_hit;

typedef struct ix_hnsw_params {
    int M;               /* links per node above level 0 (2M at level 0); default 16 */
    int ef_construction; /* candidate list while inserting; default 128 */
    uint64_t seed;       /* level draws; default fixed */
    bool exact;          /* walk by full-precision distances, no 8-bit codes (for dims >= 32
                            the default walks by codes and reranks exactly) */
} ix_hnsw_params;

/* A new empty graph for dim-dimensional vectors; p NULL: defaults.
 * HLN_EINVAL for a dim outside 1..8192, HLN_ENOMEM. */
int ix_hnsw_new(ix_hnsw **out, int dim, ix_metric metric, const ix_hnsw_params *p);
void ix_hnsw_free(ix_hnsw *h);

/* Adds v (copied), its id in *id. HLN_EINVAL for a non-finite component
 * or, under cosine, a zero vector (Cassandra refuses both); HLN_ENOMEM. */
int ix_hnsw_add(ix_hnsw *h, const float *v, uint32_t *id);

/* Marks id deleted (idempotent). */
void ix_hnsw_delete(ix_hnsw *h, uint32_t id);
bool ix_hnsw_is_deleted(const ix_hnsw *h, uint32_t id);

/* Up to k nearest live vectors to q into out[0..k), nearest first, using a
 * candidate list of max(ef, k). Returns how many were found, or -1 when q is
 * unusable (non-finite, zero under cosine) or memory ran out. */
int ix_hnsw_search(ix_hnsw *h, const float *q, int k, int ef, ix_hit *out);
/* The same, returning only ids whose bit is set in allow (bit id & 7 of
 * byte id >> 3, size() bits): the others still route the walk, as deleted
 * ones do, so a filter that keeps a fair share of the graph finds its
 * nearest; for a very selective filter an exact scan of the allowed ids
 * is the better plan (the caller chooses). */
int ix_hnsw_search_in(ix_hnsw *h, const float *q, int k, int ef, ix_hit *out, const uint8_t *allow);

/* Exact ranking of a given set: c[0..n) holds ids (their dist ignored);
 * moves the nearest to q to the front, nearest first, with exact
 * distances, and returns how many are so ranked: the keep nearest (all n
 * when n <= keep) of the candidates measured exactly, which are all n,
 * or (when the graph has codes and n > 2 * keep + 64) the 2 * keep + 64
 * nearest by codes; the rest follow in no order. Call again on what
 * follows, with a larger keep, for more. -1 when q is unusable or memory
 * ran out. */
int ix_hnsw_rank(ix_hnsw *h, const float *q, ix_hit *c, int n, int keep);
uint32_t ix_hnsw_size(const ix_hnsw *h); /* ids handed out */
uint32_t ix_hnsw_live(const ix_hnsw *h); /* size minus deleted */
int ix_hnsw_dim(const ix_hnsw *h);
ix_metric ix_hnsw_metric(const ix_hnsw *h);
size_t ix_hnsw_memory(const ix_hnsw *h); /* bytes held */
/* The stored vector of id (normalised under cosine). */
const float *ix_hnsw_vector(const ix_hnsw *h, uint32_t id);

/* Serialisation (docs/formats/vector-index.md): the whole graph through
 * caller-supplied writers/readers (the caller frames and checksums the
 * file). save: 0 or the writer's error. load: a graph equal to the saved
 * one, or HLN_ECORRUPT for anything inconsistent (links out of range,
 * sizes that do not add up, another version or byte order) and HLN_ENOMEM. */
typedef int (*ix_write_fn)(void *ud, const void *p, size_t n);
typedef int (*ix_read_fn)(void *ud, void *p, size_t n);
int ix_hnsw_save(const ix_hnsw *h, ix_write_fn w, void *ud);
int ix_hnsw_load(ix_hnsw **out, ix_read_fn r, void *ud);

/* A frozen copy of the graph as it is now, to be saved on another thread
 * while the graph goes on changing on its own: the links, levels and
 * deletion marks are copied (about 140 bytes a node at M 16), the vectors
 * are shared, not copied (a node's vector is written once, when it is
 * added; a graph that must grow its array while a frozen copy holds the
 * old one moves to a new array). ix_hnsw_freeze runs on the graph's
 * thread; ix_hnsw_frozen_save (the bytes ix_hnsw_save writes) and
 * ix_hnsw_frozen_free on any thread, after or without the graph's free. */
typedef struct ix_hnsw_frozen ix_hnsw_frozen;
int ix_hnsw_freeze(ix_hnsw *h, ix_hnsw_frozen **out);
int ix_hnsw_frozen_save(const ix_hnsw_frozen *f, ix_write_fn w, void *ud);
uint32_t ix_hnsw_frozen_size(const ix_hnsw_frozen *f);
void ix_hnsw_frozen_free(ix_hnsw_frozen *f);

/* Exact helpers shared with brute-force search: the distance of a and b
 * under m (cosine computed in full, no normalisation needed), and the
 * similarity score Cassandra reports for a distance (see above). For
 * cosine, a distance from ix_distance and one from the graph agree. */
float ix_distance(ix_metric m, const float *a, const float *b, int dim);
float ix_score(ix_metric m, float dist);
/* Parses Cassandra's similarity_function option value (case-insensitive
 * "cosine", "dot_product", "euclidean"); -1 when unknown. */
int ix_metric_parse(const char *s);

#endif
