/*
 * sstable.h — immutable sorted table files (private to storage).
 *
 * What: a writer that streams partitions in key order into a new file
 * (temp name, fsync, rename, directory fsync) and a reader that loads the
 * file's partition index into memory at open and reads row blocks on demand,
 * verifying checksums. Format: docs/formats/sstable.md; algorithm and
 * invariants: README.md beside this file.
 *
 * Version 4 adds optional per-chunk compression of the data region (the
 * logical stream of blocks is unchanged; it is cut into chunks of
 * chunk_bytes, each compressed and checksummed on its own) and whole-file
 * statistics (timestamp range, deletion horizon) for tombstone purging and
 * time-window compaction. Both live in the checksummed index section.
 *
 * Ownership: an sst_reader owns its fd, index and chunk map; entries and
 * keys it returns live until sst_close. Row iterators decode blocks into
 * the read's arena, so rows they yield live as long as that arena. A
 * reader is immutable after sst_open: the shard thread and the compaction
 * thread read it concurrently (pread, no cache, no locks).
 */
#ifndef HLN_SST_SSTABLE_H
#define HLN_SST_SSTABLE_H

#include "storage/storageInt.h"

/* Rows are cut into blocks of about this many bytes (a single bigger row is
 * a block of its own): the granularity of the row index inside a partition,
 * as Cassandra's column_index_size (4 KiB in 5.0). A read of the latest 10
 * rows decodes one such block per sstable instead of 64 KiB (the size up to
 * format 5), and a block of 4 KiB usually lies inside one compressed chunk
 * (the cached path of sst_reader.c). */
#define SST_BLOCK_TARGET (4 * 1024)

/* On-disk constants (docs/formats/sstable.md). */
enum {
    SST_MAGIC = 0x484C4E53,        /* "HLNS", header */
    SST_FOOTER_MAGIC = 0x484C4E46, /* "HLNF", footer */
    /* versions: 1 = the first; 2 = range tombstones in the index; 3 = row
       records of ST_ROWFMT_2 (cell paths, column deletions, expiring row
       markers); 4 = compression (chunk map) and file statistics after the
       index entries, codec in the header's flags; 5 = row records of
       ST_ROWFMT_3 (delta-coded timestamps). 5 is written, 1 to 4 are still
       read. */
    SST_VERSION = 6,
    SST_VERSION_DELHIST = 6,
    SST_VERSION_PATHS = 3,
    SST_VERSION_CHUNKS = 4,
    SST_VERSION_ROWFMT3 = 5,
    SST_MIN_VERSION = 1,
    SST_HEADER_BYTES = 32,
    SST_FOOTER_BYTES = 48,
    SST_BLOCK_HDR = 8, /* u32 body length, u32 crc32(body) */
    /* version 5 index entry flags */
    SST_ENTRY_PDEL = 1,  /* a partition deletion timestamp follows */
    SST_ENTRY_RTS = 2,   /* range tombstones follow */
    SST_ENTRY_TOKEN = 4, /* the token is Murmur3 of the pk: only the pk is stored */
};

/* Compression of the data region (Cassandra's `compression` table option,
 * mapped by the caller). The ids are on disk (header flags, chunk map). */
typedef enum sst_codec {
    SST_CODEC_NONE = 0,
    SST_CODEC_LZ4 = 1,
    SST_CODEC_ZSTD = 2,
    SST_CODEC_SNAPPY = 3,
    SST_CODEC_DEFLATE = 4,
} sst_codec;
#define SST_CODEC_MAX SST_CODEC_DEFLATE

/* Chunk sizes: a power of two in [SST_CHUNK_MIN, SST_CHUNK_MAX]; 0 in the
 * options means SST_CHUNK_DEFAULT (Cassandra's chunk_length_in_kb 16). */
#define SST_CHUNK_MIN (4u * 1024)
#define SST_CHUNK_MAX (1024u * 1024)
#define SST_CHUNK_DEFAULT (16u * 1024)
#define SST_CHUNK_CRC 4 /* u32 crc32 of the stored bytes after each chunk */

typedef struct sst_write_opts {
    sst_codec codec;      /* NONE: data region stored as in version 3 */
    int level;            /* zstd level (0 = 3, Cassandra's default; ZSTD_minCLevel()..22),
                             deflate level (0 = 6; 1..9); ignored otherwise */
    uint32_t chunk_bytes; /* uncompressed chunk size; 0 = SST_CHUNK_DEFAULT */
    uint8_t lcs_level;    /* the file's level for leveled compaction (0: a flush) */
} sst_write_opts;

/* Whole-file statistics (version 4; conservative values for older files).
 * A "deletion second" of a deletion (cell tombstone, column deletion, row,
 * partition or range deletion) is floor(ts / 10^6); of an expiring cell or
 * row marker it is its expires. */
typedef struct sst_stats {
    int64_t min_ts, max_ts; /* over every timestamp in the file: row markers, cells (live,
                               tombstone, column deletion), row, partition and range
                               deletions; an empty file has min_ts = INT64_MAX,
                               max_ts = INT64_MIN. Older files: INT64_MIN, INT64_MAX */
    int64_t max_del_sec;    /* the latest deletion second; INT64_MIN if none
                               (INT64_MAX for older files) */
    int64_t min_del_sec;    /* the earliest deletion second; INT64_MAX if none
                               (INT64_MIN for older files) */
    bool all_dying;         /* every cell and row marker is a tombstone, a column deletion or
                               expiring: once now >= max_del_sec + gc_grace nothing in the
                               file can be live (false for older files) */
    /* version 6: how many deletions there are by deletion second (a
       streaming histogram of at most SST_HIST_BINS bins, ascending), and
       of how many timestamped items (cells, row markers, row, partition and
       range deletions): what tombstone_threshold compactions estimate the
       droppable share from. Older files: has_hist false. */
    bool has_hist;
    uint64_t nitems;
    uint32_t nbins;
    struct sst_hist_bin {
        int64_t sec;
        uint64_t n;
    } bins[64];
} sst_stats;
#define SST_HIST_BINS 64

/* Of the file's items, how many are deletions (or expiring) whose second
 * is before gc_before: the histogram's estimate (whole bins below it; a
 * merged bin stands at its mean second); 0 without a histogram. */
uint64_t sst_droppable(const sst_stats *st, int64_t gc_before);

/* ---- codecs (sst_codec.c) ---- */
bool sst_codec_valid(uint32_t c);
const char *sst_codec_name(sst_codec c);
/* The level a codec compresses with (0 = its default); -1 if out of range. */
int sst_codec_level(sst_codec c, int level, int *out);
/* Capacity the compressor needs for n input bytes (0: too big). */
size_t sst_codec_bound(sst_codec c, size_t n);
/* The compressed length written to dst[0, cap), 0 on failure. */
size_t sst_codec_compress(sst_codec c, int level, const uint8_t *src, size_t n, uint8_t *dst,
                          size_t cap);
/* True iff src[0, n) decodes to exactly want bytes (written to dst, never
 * more). */
bool sst_codec_decompress(sst_codec c, const uint8_t *src, size_t n, uint8_t *dst, size_t want);

/* ---- writer ---- */
typedef struct sst_writer sst_writer;

/* Creates <path>.tmp for writing. opts NULL = no compression; a bad codec,
 * level or chunk size is HLN_EINVAL. */
int sst_writer_open(sst_writer **out, const char *path, const uint8_t table_id[16],
                    const sst_write_opts *opts, hln_error *err);
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
/* Bytes of row data written so far (uncompressed; for throttling). */
uint64_t sst_writer_raw_bytes(const sst_writer *w);

/* ---- reader ---- */
typedef struct sst_entry {
    const uint8_t *key; /* encoded partition key, in the reader's index */
    uint32_t klen;
    uint32_t nblocks;
    int64_t pdel_ts;
    uint32_t nrts; /* range tombstones, decoded on demand (sst_entry_rts) */
    size_t rtoff;  /* offset of the first in the index */
    size_t boff;   /* offset of the block descriptors in the index */
    uint64_t off0; /* version 5: file offset of the first block (offsets are implied) */
} sst_entry;

/* One compressed chunk of the data region (version 4, codec != NONE):
 * chunk i holds the logical bytes [32 + i * chunk_bytes, ...) and is
 * stored at file offset off as len bytes plus a u32 crc32 of them. */
typedef struct sst_chunk {
    uint64_t off;
    uint32_t len;
    bool raw; /* stored uncompressed (compression did not make it smaller) */
} sst_chunk;

typedef struct sst_reader {
    char *path;
    uint64_t gen;
    int fd;
    uint64_t size, index_off;
    /* the data region: physical bytes [32, index_off) on disk (data_bytes),
       logical (uncompressed) bytes [32, data_end) that block descriptors
       address (raw_bytes = data_end - 32); equal without compression */
    uint64_t data_end, data_bytes, raw_bytes;
    sst_codec codec;
    int level;            /* as written (informational) */
    uint8_t lcs_level;    /* leveled compaction's level (header flags bits 8-15) */
    uint32_t chunk_bytes; /* 0 without compression */
    sst_chunk *chunks;    /* nchunks, file offsets precomputed at open */
    uint64_t nchunks;
    sst_stats stats;
    int64_t mtime_sec;  /* the file's modification time at open: when it was written */
    uint64_t uid;       /* unique among every reader this process opened (chunk cache key) */
    uint8_t *index;     /* the index section, checksum verified */
    uint8_t *keys;      /* version 5: the entries' keys, rebuilt at open (tokens not stored) */
    uint32_t block_hdr; /* bytes before each block's body: 8, or 0 (version 5 compressed:
                           the chunk's crc covers the block) */
    size_t index_len;
    sst_entry *entries; /* ascending key order */
    size_t nentries;
    uint64_t nrows;
    uint32_t version; /* file format version (header and footer agree) */
    bool compacting;  /* an input of the running compaction (shard thread only) */
    /* Bloom filter over the partition keys, built from the index at open
       (nothing on disk): sst_get answers most absent keys without a search */
    uint64_t *bloom;
    uint64_t bloom_mask;     /* bits - 1, bits a power of two */
    uint64_t max_part_bytes; /* sst_max_partition_bytes, once computed (+1; 0: not yet) */
} sst_reader;

/* The largest partition's logical (uncompressed) bytes: from the implied
 * block offsets of version 5, 0 for older files. Computed on first use. */
uint64_t sst_max_partition_bytes(sst_reader *r);

/* The size of the calling thread's cache of decompressed chunks
 * (sst_reader.c), taken at its first compressed read; 0 (the default) is a
 * small one for streaming readers such as compaction. */
void sst_thread_cache_bytes(size_t bytes);

/* The calling thread's chunk cache, for system_views.caches (all zero
 * before its first compressed read). */
typedef struct sst_cache_stats {
    uint64_t capacity_bytes, size_bytes, requests, hits;
    size_t entries;
} sst_cache_stats;
void sst_thread_cache_stats(sst_cache_stats *out);

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
    /* compressed files: the stored chunks of the current block, reused from
       block to block (rows point into the decompressed bytes, not here) */
    uint8_t *zbuf;
    size_t zcap;
} sst_rowit;

int sst_rowit_init(sst_rowit *it, const sst_reader *r, const sst_entry *e, const st_bound *start,
                   const st_bound *end, bool reversed, hln_arena *a, hln_error *err);

#endif
