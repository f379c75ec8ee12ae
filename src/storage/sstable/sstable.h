/*
 * sstable.h — immutable sorted table files (private to storage).
 *
 * What: a writer that streams partitions in key order into a new file
 * (temp name, fsync, rename, directory fsync) and a reader that loads the
 * file's partition index into memory at open and reads row blocks on demand,
 * verifying checksums. Format: docs/formats/sstable.md; algorithm and
 * invariants: README.md beside this file.
 *
 * Ownership: an sst_reader owns its fd and index; entries and keys it
 * returns live until sst_close. Row iterators decode blocks into the read's
 * arena, so rows they yield live as long as that arena.
 */
#ifndef HLN_SST_SSTABLE_H
#define HLN_SST_SSTABLE_H

#include "storage/storageInt.h"

/* Rows are cut into blocks of about this many bytes (a single bigger row is
 * a block of its own). */
#define SST_BLOCK_TARGET (64 * 1024)

/* On-disk constants (docs/formats/sstable.md). */
enum {
    SST_MAGIC = 0x484C4E53,        /* "HLNS", header */
    SST_FOOTER_MAGIC = 0x484C4E46, /* "HLNF", footer */
    /* versions: 1 = the first; 2 = range tombstones in the index; 3 = row
       records of ST_ROWFMT_2 (cell paths, column deletions, expiring row
       markers). 3 is written, 1 and 2 are still read. */
    SST_VERSION = 3,
    SST_VERSION_PATHS = 3,
    SST_MIN_VERSION = 1,
    SST_HEADER_BYTES = 32,
    SST_FOOTER_BYTES = 48,
    SST_BLOCK_HDR = 8, /* u32 body length, u32 crc32(body) */
};

/* ---- writer ---- */
typedef struct sst_writer sst_writer;

/* Creates <path>.tmp for writing. */
int sst_writer_open(sst_writer **out, const char *path, const uint8_t table_id[16], hln_error *err);
/* Partitions must come in strictly increasing key order, rows of a partition
 * in strictly increasing ck order. */
int sst_writer_begin_partition(sst_writer *w, const uint8_t *key, uint32_t klen, int64_t pdel_ts,
                               hln_error *err);
/* The partition's range tombstones (at most once per partition, before
 * its rows); they go to the partition's index entry. */
int sst_writer_range_tombs(sst_writer *w, const st_range_tomb *rts, uint32_t n, hln_error *err);
int sst_writer_row(sst_writer *w, const st_row *row, hln_error *err);
int sst_writer_end_partition(sst_writer *w, hln_error *err);
/* Writes index and footer, fsyncs, renames to path, fsyncs the directory,
 * frees w. On error the temp file is removed and w freed too. */
int sst_writer_finish(sst_writer *w, hln_error *err);
/* Removes the temp file and frees w. NULL is a no-op. */
void sst_writer_abort(sst_writer *w);

/* ---- reader ---- */
typedef struct sst_entry {
    const uint8_t *key; /* encoded partition key, in the reader's index */
    uint32_t klen;
    uint32_t nblocks;
    int64_t pdel_ts;
    uint32_t nrts; /* range tombstones, decoded on demand (sst_entry_rts) */
    size_t rtoff;  /* offset of the first in the index */
    size_t boff;   /* offset of the block descriptors in the index */
} sst_entry;

typedef struct sst_reader {
    char *path;
    uint64_t gen;
    int fd;
    uint64_t size, index_off;
    uint8_t *index; /* the index section, checksum verified */
    size_t index_len;
    sst_entry *entries; /* ascending key order */
    size_t nentries;
    uint64_t nrows;
    uint32_t version; /* file format version (header and footer agree) */
    bool compacting;  /* an input of the running compaction (shard thread only) */
    /* Bloom filter over the partition keys, built from the index at open
       (nothing on disk): sst_get answers most absent keys without a search */
    uint64_t *bloom;
    uint64_t bloom_mask; /* bits - 1, bits a power of two */
} sst_reader;

/* Opens and validates (header, footer, index checksum and structure);
 * HLN_ECORRUPT through hln_corrupt on any inconsistency. */
int sst_open(sst_reader **out, const char *path, uint64_t gen, const uint8_t table_id[16],
             hln_error *err);
void sst_close(sst_reader *r);

/* False only if the key is certainly not in the file (the bloom filter;
 * about 1% of absent keys get true). */
bool sst_may_contain(const sst_reader *r, const uint8_t *key, uint32_t klen);
/* The entry with exactly this key, or NULL. Keys the bloom filter rules
 * out cost a few bit tests, no search. */
const sst_entry *sst_get(const sst_reader *r, const uint8_t *key, uint32_t klen);
/* Index of the first entry satisfying the monotone predicate (nentries if
 * none). */
size_t sst_seek(const sst_reader *r, st_key_pred pred, const void *ctx);
/* The range tombstones of entry e, decoded into arena a (bounds point into
 * the reader's index, valid until sst_close). 0 or HLN_ENOMEM. */
int sst_entry_rts(const sst_reader *r, const sst_entry *e, hln_arena *a, st_range_tomb **out,
                  hln_error *err);

/* Row source over one partition's slice (storageInt.h); blocks are read and
 * checked lazily, one at a time, into arena a. */
typedef struct sst_block {
    uint64_t off;
    uint32_t len, nrows;
    const uint8_t *first, *last;
    uint32_t first_len, last_len;
} sst_block;

typedef struct sst_rowit {
    st_rowsrc base;
    const sst_reader *r;
    const st_bound *start, *end;
    bool reversed, done;
    hln_arena *a;
    sst_block *blocks;
    uint32_t nblocks;
    int64_t bi;   /* current block */
    st_row *rows; /* rows of the current block */
    uint32_t nrows;
    int64_t ri; /* next row within the block */
} sst_rowit;

int sst_rowit_init(sst_rowit *it, const sst_reader *r, const sst_entry *e, const st_bound *start,
                   const st_bound *end, bool reversed, hln_arena *a, hln_error *err);

#endif
