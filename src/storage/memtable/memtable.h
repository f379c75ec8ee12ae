/*
 * memtable.h — one table's in-memory write buffer (private to storage).
 *
 * What: an ordered map (token, pk) -> partition, each partition holding its
 * partition tombstone, its range tombstones and an ordered map ck -> row
 * (marker, row tombstone, cells by (column id, path)). Both maps are skiplists whose nodes, keys
 * and values live in one arena owned by the memtable; the whole memtable is freed at once after it
 * has been flushed. See README.md beside this file.
 *
 * Ownership: everything an mt_ function returns points into the memtable and
 * stays valid until mt_free; the memtable is never modified during a read
 * (single shard thread), so a read may hold these pointers for its duration.
 */
#ifndef HLN_MT_MEMTABLE_H
#define HLN_MT_MEMTABLE_H

#include "storage/storageInt.h"

#define MT_MAX_HEIGHT 16

typedef struct mt_node {
    const uint8_t *key;
    uint32_t klen;
    uint32_t height;
    void *val;            /* mt_part or mt_row */
    struct mt_node *prev; /* level-0 predecessor, NULL for the first node */
    struct mt_node *next[];
} mt_node;

typedef struct mt_list {
    mt_node **head; /* head[level], cap entries */
    uint32_t height, cap;
    mt_node *tail;
    uint32_t count;
} mt_list;

typedef struct mt_row {
    st_row row;   /* ck, marker, deletion, cells sorted by st_cell_cmp (unique) */
    uint32_t cap; /* capacity of row.cells */
} mt_row;

typedef struct mt_part {
    const uint8_t *key; /* st_key_encode(token, pk) */
    uint32_t klen;
    int64_t token;
    const uint8_t *pk; /* key + 8 */
    uint32_t pklen;
    int64_t pdel_ts;
    st_range_tomb *rts; /* range tombstones, in arrival order, bounds distinct */
    uint32_t nrts, caprts;
    mt_list rows;
    mt_node *node;
} mt_part;

typedef struct mt_table mt_table;

/* NULL on ENOMEM. */
mt_table *mt_new(void);
void mt_free(mt_table *mt);

/* Merges m into the memtable (reconciling with what is there). 0 or
 * HLN_ENOMEM (the mutation may then be partly applied). */
int mt_apply(mt_table *mt, const st_mutation *m);

/* The oldest write timestamp ever applied to it (INT64_MAX when empty);
 * compaction purges nothing a deletion of the memtable could still need. */
int64_t mt_min_ts(const mt_table *mt);

/* Bytes allocated for the memtable's contents (the flush threshold). */
size_t mt_bytes(const mt_table *mt);
size_t mt_partition_count(const mt_table *mt);

/* Partition lookups; NULL when absent. */
const mt_part *mt_get(const mt_table *mt, const uint8_t *key, uint32_t klen);
const mt_part *mt_first(const mt_table *mt);
const mt_part *mt_next(const mt_part *p);
/* First partition whose key satisfies the monotone predicate. */
const mt_part *mt_seek(const mt_table *mt, st_key_pred pred, const void *ctx);

/* A row source (storageInt.h) over one memtable partition's slice. start and
 * end must outlive the iterator. */
typedef struct mt_rowit {
    st_rowsrc base;
    const mt_part *p;
    const st_bound *start, *end;
    bool reversed;
    const mt_node *cur;
} mt_rowit;

void mt_rowit_init(mt_rowit *it, const mt_part *p, const st_bound *start, const st_bound *end,
                   bool reversed);

#endif
