/*
 * storageInt.h — private declarations shared by the storage module's files
 * (engine.c, mutation.c, merge.c, commitlog/, memtable/, sstable/).
 *
 * What: the partition-key encoding, slice-bound predicates, cell
 * reconciliation, the row record codec shared by the commitlog and the
 * sstable blocks, and the row-source interface through which reads merge the
 * memtable and the sstables of one table.
 *
 * Partition keys: storage orders partitions by (token, pk bytes). Everywhere
 * inside storage a partition key is carried as ONE byte string
 *     key = be64(token XOR 0x8000000000000000) || pk
 * so that memcmp order on keys is exactly (token signed, pk unsigned-bytes)
 * order, the order Cassandra's DecoratedKey has. Memtable skiplists, sstable
 * indexes and the scan merge all compare keys with st_bytes_cmp only.
 *
 * Invariants:
 *  1. st_bytes_cmp is memcmp with "a proper prefix sorts first".
 *  2. The set of keys admitted by a start bound is upward closed and the set
 *     admitted by an end bound downward closed in st_bytes_cmp order, so a
 *     slice is one contiguous run and predicates are monotone (binary and
 *     skiplist searches rely on this).
 *  3. st_cell_supersedes is a strict total preference: for two different
 *     cells exactly one wins, whatever order they are met in, so merging
 *     sources in any order gives the same result.
 */
#ifndef HLN_STORAGE_INT_H
#define HLN_STORAGE_INT_H

#include "storage/storage.h"

#define ST_KEY_TOKEN_BYTES 8

/* Writes the partition key of (token, pk) to out (8 + pklen bytes). */
void st_key_encode(int64_t token, const uint8_t *pk, uint32_t pklen, uint8_t *out);
/* The token of an encoded partition key (klen >= 8). */
int64_t st_key_token(const uint8_t *key);

int st_bytes_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen);
bool st_bytes_has_prefix(const uint8_t *k, uint32_t klen, const uint8_t *p, uint32_t plen);

/* Slice-bound semantics of storage.h. */
bool st_start_admits(const st_bound *b, const uint8_t *k, uint32_t klen);
bool st_end_admits(const st_bound *b, const uint8_t *k, uint32_t klen);

/* A monotone predicate over partition keys (false ... false true ... true),
 * used to seek memtables and sstable indexes. */
typedef bool (*st_key_pred)(const uint8_t *key, uint32_t klen, const void *ctx);

/* The order of cells in a row (storage.h): col_id, then a column deletion
 * (ST_CELL_COLDEL) before every other cell of its column, then path
 * (st_bytes_cmp). 0 when a and b are versions of the same cell (the same
 * column and path, or both the column deletion of one column). */
int st_cell_cmp(const st_cell *a, const st_cell *b);

static inline bool st_cell_is_coldel(const st_cell *c)
{
    return (c->flags & ST_CELL_COLDEL) != 0;
}

/* True when c is dead at now_sec: a tombstone, a column deletion, or an
 * expiring cell with expires <= now_sec. */
static inline bool st_cell_dead(const st_cell *c, int64_t now_sec)
{
    return (c->flags & (ST_CELL_TOMBSTONE | ST_CELL_COLDEL)) != 0 ||
           (c->expires != 0 && c->expires <= now_sec);
}

/* True when row marker a (ts, ttl, expires) wins against marker b: the cell
 * rules of st_cell_supersedes (newer ts; on a tie the expiring one, then the
 * later expiry). */
bool st_marker_supersedes(int64_t ats, int32_t attl, int64_t aexp, int64_t bts, int32_t bttl,
                          int64_t bexp);

/* True when cell a wins reconciliation against cell b (same column):
 * newer timestamp; on equal timestamps a tombstone or expiring cell beats a
 * plain live one, a tombstone beats an expiring one, the later expiry wins,
 * then the greater value (unsigned bytes) wins. False when a and b are
 * equivalent. */
bool st_cell_supersedes(const st_cell *a, const st_cell *b);

/* Record versions (docs/formats/mutation.md): the first byte of a
 * mutation or batch record. 1 and 2 are the records before cell paths,
 * column deletions and expiring markers; 3 and 4 may carry them. Anything
 * above ST_BATCH_VERSION is newer than this build (HLN_EUNSUPPORTED). */
enum {
    ST_MUT_VERSION_1 = 1,
    ST_BATCH_VERSION_2 = 2,
    ST_MUT_VERSION = 3,
    ST_BATCH_VERSION = 4,
};

static inline bool st_record_is_batch(uint8_t first_byte)
{
    return first_byte == ST_BATCH_VERSION_2 || first_byte == ST_BATCH_VERSION;
}

/* The row record format: ST_ROWFMT_1 (mutation versions 1/2, sstable
 * versions 1/2: no paths, no column deletions, no expiring markers, those
 * flag bits are corrupt), ST_ROWFMT_2 (mutation 3/4, sstable 3/4) or
 * ST_ROWFMT_3 (sstable 5: format 2 with every timestamp and expiry time a
 * zigzag vint delta from the previous one in the block, ttls as vints:
 * st_rowctx carries the previous values, reset at each block). */
enum { ST_ROWFMT_1 = 1, ST_ROWFMT_2 = 2, ST_ROWFMT_3 = 3 };

typedef struct st_rowctx {
    int64_t ts, exp; /* the last timestamp and expiry time coded (0, 0 at a block start) */
} st_rowctx;

/* The row record (docs/formats/mutation.md), used in commitlog records and
 * sstable blocks alike; encode writes ST_ROWFMT_2, encode3 ST_ROWFMT_3
 * (ctx: the block's state). Decode points ck/values/paths into the reader's
 * input and allocates the cell array from a (ctx: needed for ST_ROWFMT_3,
 * else NULL); 0, HLN_ECORRUPT or HLN_ENOMEM. */
void st_row_encode(const st_row *row, hln_buf *out);
void st_row_encode3(const st_row *row, hln_buf *out, st_rowctx *ctx);
int st_row_decode(hln_rd *r, hln_arena *a, st_row *row, int rowfmt);
int st_row_decode3(hln_rd *r, hln_arena *a, st_row *row, st_rowctx *ctx);

/* The range tombstone record (docs/formats/mutation.md), used in mutations
 * and in the sstable index. Decode points the bounds into the input (an
 * empty bound gets a valid non-NULL pointer); 0 or HLN_ECORRUPT. */
void st_rt_encode(const st_range_tomb *rt, hln_buf *out);
int st_rt_decode(hln_rd *r, st_range_tomb *rt);

/* The newest range tombstone timestamp among rts[0..n) covering clustering
 * key ck, HLN_TS_NONE if none does. Linear in n: partitions are expected to
 * carry few range tombstones (an interval tree is a later optimisation). */
int64_t st_rt_cover(const st_range_tomb *rts, uint32_t n, const uint8_t *ck, uint32_t cklen);

/* ---- row sources -------------------------------------------------------- */

/* One source of rows of one partition (the memtable, or one sstable), already
 * restricted to a slice and walking in the read's direction. next() yields
 * rows in strictly increasing (decreasing when reversed) ck order: 1 with
 * *out set, 0 at the end, or a negative error. A yielded row stays valid
 * until the read finishes (memtable memory, or the read arena). */
typedef struct st_rowsrc st_rowsrc;
struct st_rowsrc {
    int (*next)(st_rowsrc *s, const st_row **out, hln_error *err);
    /* Optional (NULL: none): when the next row would have to be read from
       disk, true and a bound on its clustering key known without reading
       (forward: <= the next row's key; reversed: >=), so a merge that
       stops at its limit need not read the source at all. False when the
       source has rows at hand, is exhausted, or cannot tell. */
    bool (*peek)(st_rowsrc *s, const uint8_t **ck, uint32_t *cklen);
    bool stable; /* rows live in the caller's arena: no copy needed */
};

/* Merges the sources of one partition cell by cell (newest wins, tombstones
 * shadow per invariant 3 of storage.h: the partition deletion pdel_ts, the
 * range tombstones rts[0..nrts) of every source, row deletions, each
 * column's newest column deletion, cell tombstones; cells and markers with
 * 0 < expires <= now_sec are dead) and returns the live rows, in the
 * sources' direction, at most limit (0 = all) of them. Output rows, cells,
 * cks, paths and values are arena memory; output rows carry only live cells
 * (no tombstone, no column deletion), the marker (ts, ttl, expires) when it
 * is live (else marker_ts HLN_TS_NONE), and no deletion. */
int st_merge_rows(st_rowsrc **srcs, size_t nsrcs, int64_t pdel_ts, const st_range_tomb *rts,
                  uint32_t nrts, bool reversed, uint32_t limit, int64_t now_sec, hln_arena *a,
                  st_row **rows, uint32_t *nrows, hln_error *err);

/* Reconciles the m rows of one clustering key (one per source) for
 * compaction, keeping what a later read may still need: the newest marker,
 * the newest row deletion, each column's newest column deletion, each
 * (column, path)'s winning cell, tombstones and expired cells included
 * (expiry depends on the reader's clock, so it is not applied here).
 * Dropped: whatever the partition deletion pdel, a covering range tombstone
 * of rts[0..nrts), the row deletion or the column's deletion shadows (those
 * deletions are written out too, so nothing hidden comes back), a column
 * deletion the row's deletions already imply, and a row deletion that pdel
 * or a range tombstone already implies. cur needs m slots, cells room for the
 * sum of the rows' ncells; out points into same[] and cells (nothing is
 * copied). False when nothing is left of the row. */
bool st_reconcile_row(const st_row *const *same, uint32_t m, int64_t pdel, const st_range_tomb *rts,
                      uint32_t nrts, uint32_t *cur, st_cell *cells, st_row *out);

/* File helpers (mkdir -p, directory fsync, full reads/writes) are in common.h. */

static inline int64_t st_ts_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* a / b rounded toward minus infinity (b > 0): the second of a microsecond
 * timestamp, the time window of a second. */
static inline int64_t st_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

#endif
