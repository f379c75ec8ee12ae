/*
 * sst_reader.c — opens an sstable, holds its index, reads row blocks.
 *
 * What: sst_open validates the header and footer, reads the index section,
 * verifies its crc32 and parses every entry and block descriptor once, so
 * that afterwards lookups are binary searches over an in-memory array and
 * every block offset is known to lie inside the data region. Row blocks are
 * read with pread when a slice needs them, their crc32 verified, and their
 * rows decoded into the read's arena (st_row_decode, shared with the
 * commitlog).
 *
 * Version 4: the index section starts with the file record (statistics,
 * then the compression record: codec, chunk size, logical data length and
 * the stored length of every chunk), validated completely at open; the
 * file offset of every chunk is precomputed. Block descriptors hold
 * logical offsets, so everything above load_block is the same with or
 * without compression; load_block reads the run of chunks covering a
 * block with one pread, checks each chunk's crc32, decompresses them into
 * the read's arena and then checks the block as before. Older versions
 * get conservative statistics (nothing is known, so nothing is purgeable).
 *
 * Why validate everything at open: a corrupt index is found once, loudly,
 * at startup instead of as wild reads later; block corruption (far more
 * data, not worth scanning at open) is caught by the per-block checksum.
 *
 * Invariants:
 *  1. Any inconsistency in the file yields HLN_ECORRUPT via hln_corrupt,
 *     naming the file; nothing in the file can make the reader read outside
 *     its buffers or allocate more than the file size justifies.
 *  2. Entries are in strictly increasing key order; block descriptors of a
 *     partition are in increasing ck order and rows inside a block strictly
 *     increase (checked when the block is decoded).
 *  3. With compression, the chunk map exactly tiles both the physical data
 *     region [32, index_off) and the logical one [32, data_end); every
 *     descriptor lies inside the logical one.
 *  4. Nothing in a reader changes after sst_open (the shard and compaction
 *     threads read concurrently); every read allocates in its own arena.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/sstable/sstable.h"

enum {
    MIN_ENTRY_BYTES = 1 + 8 + 8 + 1, /* vint klen, token, pdel, vint nblocks */
    MIN_DESC_BYTES = 5,              /* five vints */
    MIN_ENTRY_BYTES5 = 1 + 1 + 1,    /* version 5: flags, vint klen, vint nblocks (token implied) */
    MIN_DESC_BYTES5 = 4,             /* version 5: four vints (no offset) */
    MIN_RT_BYTES = 12,               /* st_rt_encode of two empty bounds */
};

/* every reader's uid (sst_reader.uid), process-wide */
static _Atomic uint64_t reader_uids = 1;

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

void sst_close(sst_reader *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    hln_free(r->index);
    hln_free(r->keys);
    hln_free(r->entries);
    hln_free(r->bloom);
    hln_free(r->chunks);
    hln_free(r->path);
    hln_free(r);
}

/* Parses one block descriptor; false if malformed. */
/* One block descriptor. Version 5 stores no offset: a block starts where
 * the previous one of the file ended (*next, advanced here); older
 * versions pass next NULL. */
static bool parse_desc(hln_rd *rd, uint64_t data_end, uint32_t hdr, sst_block *b, uint64_t *next)
{
    uint64_t off = next ? *next : hln_rd_vint(rd);
    uint64_t len = hln_rd_vint(rd), nrows = hln_rd_vint(rd);
    uint64_t fl = hln_rd_vint(rd);
    if (rd->err || fl > hln_rd_left(rd)) return false;
    b->first = fl ? hln_rd_take(rd, (size_t)fl) : NULL;
    uint64_t ll = hln_rd_vint(rd);
    if (rd->err || ll > hln_rd_left(rd)) return false;
    b->last = ll ? hln_rd_take(rd, (size_t)ll) : NULL;
    if (rd->err || len == 0 || len > UINT32_MAX || nrows == 0 || nrows > len ||
        off < SST_HEADER_BYTES || off > data_end || data_end - off < hdr + len)
        return false;
    b->off = off;
    if (next) *next = off + hdr + len;
    b->len = (uint32_t)len;
    b->nrows = (uint32_t)nrows;
    b->first_len = (uint32_t)fl;
    b->last_len = (uint32_t)ll;
    return st_bytes_cmp(b->first, b->first_len, b->last, b->last_len) <= 0;
}

/* The version 4 file record at the start of the index: statistics and the
 * compression record; leaves rd at the first entry. */
static int parse_file_record(sst_reader *r, hln_rd *rd, uint32_t hdr_codec, hln_error *err)
{
    sst_stats *st = &r->stats;
    st->min_ts = (int64_t)hln_rd_u64(rd);
    st->max_ts = (int64_t)hln_rd_u64(rd);
    st->min_del_sec = (int64_t)hln_rd_u64(rd);
    st->max_del_sec = (int64_t)hln_rd_u64(rd);
    uint8_t sflags = hln_rd_u8(rd);
    if (rd->err) return hln_corrupt(err, r->path, "index too short for the file statistics");
    bool no_ts = st->min_ts == INT64_MAX && st->max_ts == INT64_MIN;
    bool no_del = st->min_del_sec == INT64_MAX && st->max_del_sec == INT64_MIN;
    if (sflags > 1 || (!no_ts && st->min_ts > st->max_ts) ||
        (!no_del && st->min_del_sec > st->max_del_sec) || (no_ts && !no_del))
        return hln_corrupt(err, r->path, "inconsistent file statistics");
    st->all_dying = sflags & 1;
    if (r->version >= SST_VERSION_DELHIST) {
        st->nitems = hln_rd_u64(rd);
        st->nbins = hln_rd_u8(rd);
        uint64_t total = 0;
        bool ok = st->nbins < SST_HIST_BINS && (st->nbins == 0) == no_del;
        for (uint32_t i = 0; ok && i < st->nbins; i++) {
            st->bins[i].sec = (int64_t)hln_rd_u64(rd);
            st->bins[i].n = hln_rd_u64(rd);
            ok = st->bins[i].n > 0 && (i == 0 || st->bins[i].sec > st->bins[i - 1].sec) &&
                 st->bins[i].sec >= st->min_del_sec && st->bins[i].sec <= st->max_del_sec;
            total += st->bins[i].n;
        }
        if (rd->err) return hln_corrupt(err, r->path, "index too short for the file statistics");
        if (!ok || total > st->nitems)
            return hln_corrupt(err, r->path, "inconsistent deletion histogram");
        st->has_hist = true;
    }

    uint8_t codec = hln_rd_u8(rd);
    r->level = (int32_t)hln_rd_u32(rd);
    uint32_t cb = hln_rd_u32(rd);
    uint64_t raw = hln_rd_u64(rd), nchunks = hln_rd_vint(rd);
    if (rd->err) return hln_corrupt(err, r->path, "index too short for the compression record");
    if (codec != hdr_codec)
        return hln_corrupt(err, r->path, "compression codec %u in the index, %u in the header",
                           codec, hdr_codec);
    r->codec = (sst_codec)codec;
    r->data_bytes = r->index_off - SST_HEADER_BYTES;
    r->raw_bytes = raw;
    if (codec == SST_CODEC_NONE) {
        if (cb != 0 || nchunks != 0 || raw != r->data_bytes)
            return hln_corrupt(err, r->path, "bad compression record for an uncompressed file");
        r->data_end = r->index_off;
        return 0;
    }
    if (cb < SST_CHUNK_MIN || cb > SST_CHUNK_MAX || (cb & (cb - 1)))
        return hln_corrupt(err, r->path, "bad compression chunk size %u", cb);
    r->chunk_bytes = cb;
    /* raw < 2^63 keeps 32 + raw and the chunk arithmetic below from overflowing */
    if (raw > (UINT64_MAX >> 1) || (raw + cb - 1) / cb != nchunks || nchunks > hln_rd_left(rd))
        return hln_corrupt(err, r->path,
                           "compression record: %llu chunks of %u bytes for %llu logical bytes",
                           (unsigned long long)nchunks, cb, (unsigned long long)raw);
    r->data_end = SST_HEADER_BYTES + raw;
    if (nchunks) {
        r->chunks = hln_calloc((size_t)nchunks, sizeof(sst_chunk));
        if (!r->chunks) return hln_fail(err, HLN_ENOMEM, "out of memory opening %s", r->path);
    }
    uint64_t off = SST_HEADER_BYTES;
    for (uint64_t i = 0; i < nchunks; i++) {
        uint64_t v = hln_rd_vint(rd), len = v >> 1;
        bool is_raw = v & 1;
        uint64_t want = i + 1 < nchunks ? cb : raw - i * cb;
        if (rd->err || len == 0 || (is_raw ? len != want : len >= want) ||
            r->index_off - off < len + SST_CHUNK_CRC)
            return hln_corrupt(err, r->path, "bad chunk map entry %llu", (unsigned long long)i);
        r->chunks[i].off = off;
        r->chunks[i].len = (uint32_t)len;
        r->chunks[i].raw = is_raw;
        off += len + SST_CHUNK_CRC;
    }
    if (off != r->index_off)
        return hln_corrupt(err, r->path, "chunks cover %llu bytes of a %llu-byte data region",
                           (unsigned long long)(off - SST_HEADER_BYTES),
                           (unsigned long long)r->data_bytes);
    r->nchunks = nchunks;
    return 0;
}

static int parse_index(sst_reader *r, uint64_t npart, uint32_t hdr_flags, hln_error *err)
{
    hln_rd rd;
    hln_rd_init(&rd, r->index, r->index_len);
    if (r->version >= SST_VERSION_CHUNKS) {
        int rc = parse_file_record(r, &rd, hdr_flags, err);
        if (rc < 0) return rc;
    } else {
        r->stats.min_ts = INT64_MIN;
        r->stats.max_ts = INT64_MAX;
        r->stats.min_del_sec = INT64_MIN;
        r->stats.max_del_sec = INT64_MAX;
        r->stats.all_dying = false;
        r->data_end = r->index_off;
        r->data_bytes = r->raw_bytes = r->index_off - SST_HEADER_BYTES;
    }
    bool v5 = r->version >= SST_VERSION_ROWFMT3;
    r->block_hdr = v5 && r->codec != SST_CODEC_NONE ? 0 : SST_BLOCK_HDR;
    uint64_t next = SST_HEADER_BYTES; /* version 5: where the next block starts */
    if (npart > hln_rd_left(&rd) / (v5 ? MIN_ENTRY_BYTES5 : MIN_ENTRY_BYTES))
        return hln_corrupt(err, r->path, "footer claims %llu partitions in a %zu-byte index",
                           (unsigned long long)npart, r->index_len);
    if (npart) {
        r->entries = hln_calloc((size_t)npart, sizeof(sst_entry));
        if (!r->entries) return hln_fail(err, HLN_ENOMEM, "out of memory opening %s", r->path);
    }
    /* version 5: keys whose token is not stored are rebuilt here (each at
       most 8 bytes longer than what the index holds for it) */
    uint8_t *kp = NULL;
    if (v5 && npart) {
        if (r->index_len > SIZE_MAX / 2 - (size_t)npart * ST_KEY_TOKEN_BYTES)
            return hln_corrupt(err, r->path, "index too large");
        r->keys = hln_malloc(r->index_len + (size_t)npart * ST_KEY_TOKEN_BYTES);
        if (!r->keys) return hln_fail(err, HLN_ENOMEM, "out of memory opening %s", r->path);
        kp = r->keys;
    }
    for (uint64_t i = 0; i < npart; i++) {
        sst_entry *e = &r->entries[i];
        uint8_t ef = v5 ? hln_rd_u8(&rd) : SST_ENTRY_PDEL | SST_ENTRY_RTS;
        if (ef & ~(SST_ENTRY_PDEL | SST_ENTRY_RTS | SST_ENTRY_TOKEN))
            return hln_corrupt(err, r->path, "bad flags in index entry %llu",
                               (unsigned long long)i);
        uint64_t klen = hln_rd_vint(&rd);
        bool implied = (ef & SST_ENTRY_TOKEN) != 0;
        if (rd.err || (!implied && klen < ST_KEY_TOKEN_BYTES) || klen > hln_rd_left(&rd))
            return hln_corrupt(err, r->path, "bad key length in index entry %llu",
                               (unsigned long long)i);
        const uint8_t *kb = hln_rd_take(&rd, (size_t)klen);
        if (v5) {
            if (implied) {
                st_key_encode(hln_murmur3_token(kb, (size_t)klen), kb, (uint32_t)klen, kp);
                klen += ST_KEY_TOKEN_BYTES;
            } else if (klen) {
                memcpy(kp, kb, (size_t)klen);
            }
            e->key = kp;
            kp += klen;
        } else {
            e->key = kb;
        }
        e->klen = (uint32_t)klen;
        e->pdel_ts = (ef & SST_ENTRY_PDEL) ? (int64_t)hln_rd_u64(&rd) : HLN_TS_NONE;
        if (v5 && (ef & SST_ENTRY_PDEL) && e->pdel_ts == HLN_TS_NONE)
            return hln_corrupt(err, r->path, "bad partition deletion in index entry %llu",
                               (unsigned long long)i);
        if (r->version >= 2 && (ef & SST_ENTRY_RTS)) {
            uint64_t nrts = hln_rd_vint(&rd);
            if (v5 && nrts == 0)
                return hln_corrupt(err, r->path, "empty range tombstone list in entry %llu",
                                   (unsigned long long)i);
            if (rd.err || nrts > hln_rd_left(&rd) / MIN_RT_BYTES)
                return hln_corrupt(err, r->path, "bad range tombstone count in index entry %llu",
                                   (unsigned long long)i);
            e->nrts = (uint32_t)nrts;
            e->rtoff = rd.off;
            for (uint64_t k = 0; k < nrts; k++) {
                st_range_tomb rt;
                if (st_rt_decode(&rd, &rt))
                    return hln_corrupt(err, r->path, "bad range tombstone %llu of entry %llu",
                                       (unsigned long long)k, (unsigned long long)i);
            }
        }
        uint64_t nb = hln_rd_vint(&rd);
        if (rd.err || nb > hln_rd_left(&rd) / (v5 ? MIN_DESC_BYTES5 : MIN_DESC_BYTES))
            return hln_corrupt(err, r->path, "bad block count in index entry %llu",
                               (unsigned long long)i);
        e->nblocks = (uint32_t)nb;
        e->boff = rd.off;
        e->off0 = next;
        if (i > 0 && st_bytes_cmp(e->key, e->klen, e[-1].key, e[-1].klen) <= 0)
            return hln_corrupt(err, r->path, "index entries out of order at %llu",
                               (unsigned long long)i);
        sst_block prev = {0};
        for (uint64_t b = 0; b < nb; b++) {
            sst_block cur;
            if (!parse_desc(&rd, r->data_end, r->block_hdr, &cur, v5 ? &next : NULL))
                return hln_corrupt(err, r->path, "bad block descriptor %llu of entry %llu",
                                   (unsigned long long)b, (unsigned long long)i);
            if (b > 0 && st_bytes_cmp(cur.first, cur.first_len, prev.last, prev.last_len) <= 0)
                return hln_corrupt(err, r->path, "blocks out of order in entry %llu",
                                   (unsigned long long)i);
            prev = cur;
        }
    }
    if (rd.err || hln_rd_left(&rd) != 0)
        return hln_corrupt(err, r->path, "index has %zu trailing bytes", hln_rd_left(&rd));
    if (v5 && next != r->data_end)
        return hln_corrupt(err, r->path, "blocks cover %llu of %llu data bytes",
                           (unsigned long long)(next - SST_HEADER_BYTES),
                           (unsigned long long)(r->data_end - SST_HEADER_BYTES));
    r->nentries = (size_t)npart;
    return 0;
}

/* ---- bloom filter -------------------------------------------------------------
 * About 10 bits per key and 7 probes (~1% false positives). The probes come
 * from one 64-bit hash by double hashing; the hash is the key's token (a
 * Murmur3 hash already, the first 8 bytes of every key) mixed with the
 * rest of the key, through a 64-bit finaliser so that all bits matter. */
#define BLOOM_BITS_PER_KEY 10
#define BLOOM_PROBES 7

static uint64_t bloom_hash(const uint8_t *key, uint32_t klen)
{
    uint64_t h = 0;
    for (uint32_t i = 0; i < klen && i < 8; i++)
        h = (h << 8) | key[i];
    for (uint32_t i = 8; i < klen; i++)
        h = (h ^ key[i]) * UINT64_C(0x100000001b3); /* FNV-1a over the pk bytes */
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static void bloom_build(sst_reader *r)
{
    if (r->nentries == 0) return;
    uint64_t bits = 64;
    while (bits < (uint64_t)r->nentries * BLOOM_BITS_PER_KEY)
        bits <<= 1;
    r->bloom = hln_calloc((size_t)(bits / 64), sizeof(uint64_t));
    if (!r->bloom) return; /* no filter: sst_get searches every time */
    r->bloom_mask = bits - 1;
    for (size_t i = 0; i < r->nentries; i++) {
        uint64_t h = bloom_hash(r->entries[i].key, r->entries[i].klen);
        uint64_t a = h, b = (h >> 32) | 1;
        for (int j = 0; j < BLOOM_PROBES; j++, a += b)
            r->bloom[(a & r->bloom_mask) >> 6] |= UINT64_C(1) << (a & 63);
    }
}

bool sst_may_contain(const sst_reader *r, const uint8_t *key, uint32_t klen)
{
    if (!r->bloom) return true;
    uint64_t h = bloom_hash(key, klen);
    uint64_t a = h, b = (h >> 32) | 1;
    for (int j = 0; j < BLOOM_PROBES; j++, a += b)
        if (!(r->bloom[(a & r->bloom_mask) >> 6] & (UINT64_C(1) << (a & 63)))) return false;
    return true;
}

uint64_t sst_droppable(const sst_stats *st, int64_t gc_before)
{
    if (!st->has_hist) return 0;
    uint64_t n = 0;
    for (uint32_t i = 0; i < st->nbins && st->bins[i].sec < gc_before; i++)
        n += st->bins[i].n;
    return n;
}

int sst_open(sst_reader **out, const char *path, uint64_t gen, const uint8_t table_id[16],
             hln_error *err)
{
    *out = NULL;
    sst_reader *r = hln_calloc(1, sizeof(*r));
    if (!r || !(r->path = hln_strdup(path))) {
        hln_free(r);
        return hln_fail(err, HLN_ENOMEM, "out of memory opening %s", path);
    }
    r->gen = gen;
    r->uid = atomic_fetch_add(&reader_uids, 1);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (r->fd < 0) {
        rc = hln_fail(err, HLN_EIO, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(r->fd, &st) < 0) {
        rc = hln_fail(err, HLN_EIO, "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    r->size = (uint64_t)st.st_size;
    r->mtime_sec = (int64_t)st.st_mtime; /* written once: the file's creation */
    if (r->size < SST_HEADER_BYTES + SST_FOOTER_BYTES) {
        rc = hln_corrupt(err, path, "file is too short (%llu bytes)", (unsigned long long)r->size);
        goto fail;
    }
    uint8_t h[SST_HEADER_BYTES], f[SST_FOOTER_BYTES];
    if ((rc = hln_pread_full(r->fd, h, sizeof(h), 0, path, err)) < 0 ||
        (rc = hln_pread_full(r->fd, f, sizeof(f), r->size - SST_FOOTER_BYTES, path, err)) < 0)
        goto fail;
    r->version = get32(h + 4);
    if (get32(h) != SST_MAGIC || get32(h + 28) != hln_crc32(0, h, SST_HEADER_BYTES - 4)) {
        rc = hln_corrupt(err, path, "bad sstable header");
        goto fail;
    }
    /* a whole, checksummed header: its version is what it says */
    if (r->version > SST_VERSION) {
        rc = hln_fail(err, HLN_EUNSUPPORTED,
                      "%s: sstable format version %u is newer than this build supports (%d)", path,
                      r->version, SST_VERSION);
        HLN_ERR("%s", err ? err->msg : "sstable format version too new");
        goto fail;
    }
    if (r->version < SST_MIN_VERSION) {
        rc = hln_corrupt(err, path, "sstable format version %u is unknown", r->version);
        goto fail;
    }
    if (r->version >= SST_VERSION_CHUNKS &&
        (!sst_codec_valid(get32(h + 24) & 0xff) || (get32(h + 24) >> 16) != 0)) {
        rc = hln_corrupt(err, path, "unknown compression codec or flags %#x", get32(h + 24));
        goto fail;
    }
    if (r->version >= SST_VERSION_CHUNKS) r->lcs_level = (uint8_t)(get32(h + 24) >> 8);
    if (memcmp(h + 8, table_id, 16) != 0) {
        rc = hln_corrupt(err, path, "sstable belongs to another table");
        goto fail;
    }
    if (get32(f + 44) != hln_crc32(0, f, SST_FOOTER_BYTES - 4) ||
        get32(f + 40) != SST_FOOTER_MAGIC || get32(f + 36) != r->version) {
        rc = hln_corrupt(err, path, "bad sstable footer");
        goto fail;
    }
    r->index_off = get64(f);
    uint64_t ilen = get64(f + 8), npart = get64(f + 16);
    r->nrows = get64(f + 24);
    if (r->index_off < SST_HEADER_BYTES || r->index_off > r->size - SST_FOOTER_BYTES ||
        ilen != r->size - SST_FOOTER_BYTES - r->index_off) {
        rc = hln_corrupt(err, path, "footer index position is inconsistent with the file size");
        goto fail;
    }
    r->index_len = (size_t)ilen;
    if (ilen) {
        r->index = hln_malloc((size_t)ilen);
        if (!r->index) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory opening %s", path);
            goto fail;
        }
        if ((rc = hln_pread_full(r->fd, r->index, (size_t)ilen, r->index_off, path, err)) < 0)
            goto fail;
    }
    if (hln_crc32(0, r->index, r->index_len) != get32(f + 32)) {
        rc = hln_corrupt(err, path, "index checksum mismatch");
        goto fail;
    }
    if ((rc = parse_index(r, npart, get32(h + 24) & 0xff, err)) < 0) goto fail;
    bloom_build(r);
    *out = r;
    return 0;
fail:
    sst_close(r);
    return rc;
}

const sst_entry *sst_get(const sst_reader *r, const uint8_t *key, uint32_t klen)
{
    if (!sst_may_contain(r, key, klen)) return NULL;
    size_t lo = 0, hi = r->nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = st_bytes_cmp(r->entries[mid].key, r->entries[mid].klen, key, klen);
        if (c == 0) return &r->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t sst_seek(const sst_reader *r, st_key_pred pred, const void *ctx)
{
    size_t lo = 0, hi = r->nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pred(r->entries[mid].key, r->entries[mid].klen, ctx))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int sst_entry_rts(const sst_reader *r, const sst_entry *e, hln_arena *a, st_range_tomb **out,
                  hln_error *err)
{
    *out = NULL;
    if (e->nrts == 0) return 0;
    st_range_tomb *v = hln_arena_alloc(a, (size_t)e->nrts * sizeof(*v));
    if (!v) return hln_fail(err, HLN_ENOMEM, "out of memory reading %s", r->path);
    hln_rd rd;
    hln_rd_init(&rd, r->index, r->index_len);
    rd.off = e->rtoff;
    for (uint32_t i = 0; i < e->nrts; i++)
        if (st_rt_decode(&rd, &v[i])) /* checked at open */
            return hln_corrupt(err, r->path, "bad range tombstone");
    *out = v;
    return 0;
}

/* ---- the chunk cache ------------------------------------------------------------
 * A scan reads partition after partition; a chunk of 16 KiB holds dozens of
 * small ones, and decompressing it again for each cost 20x the scan time of
 * an uncompressed file. Each thread (shard threads, the compaction and
 * flush threads) keeps its last few decompressed chunks, keyed by the
 * reader's uid (never reused, so a closed reader's chunks are never found)
 * and the chunk number; no locks, nothing shared. Blocks are copied out of
 * it into the read's arena, so rows never point into the cache.
 *
 * It is also what keeps point reads of hot data fast (Cassandra's chunk
 * cache, file_cache_size, plays the same part): a miss costs a pread, a
 * CRC32 and an LZ4 pass over the whole chunk (~15 us for 16 KiB here),
 * a hit one memcpy of the block. Sets of 4 ways, LRU within a set; a
 * thread's cache holds what sst_thread_cache_bytes asked for before its
 * first read (shard threads: file_cache_size / shards, set by exec; other
 * threads, compaction's streaming reads: CC_SMALL_SETS sets, 1 MiB);
 * chunks above CC_MAX_CHUNK bypass it. Checksums are verified when a chunk
 * is read from disk, as Cassandra does. */
#define CC_WAYS 4
#define CC_SMALL_SETS 16
#define CC_MAX_CHUNK (64 * 1024)

typedef struct cc_slot {
    uint64_t uid, chunk, stamp;
    uint8_t *buf;
    size_t cap, len;
} cc_slot;

typedef struct chunk_cache {
    uint64_t clock;
    uint64_t requests, hits; /* since the thread's first read (system_views.caches) */
    size_t entries, bytes;   /* slots filled, bytes their buffers hold */
    size_t nsets;            /* a power of two */
    cc_slot s[];             /* nsets * CC_WAYS */
} chunk_cache;

static _Thread_local size_t cc_want_bytes; /* 0: the small default */

void sst_thread_cache_bytes(size_t bytes)
{
    cc_want_bytes = bytes;
}

static pthread_key_t cc_key;
static pthread_once_t cc_once = PTHREAD_ONCE_INIT;

static void cc_free(void *p)
{
    chunk_cache *c = p;
    for (size_t i = 0; c && i < c->nsets * CC_WAYS; i++)
        hln_free(c->s[i].buf);
    hln_free(c);
}

static void cc_init(void)
{
    pthread_key_create(&cc_key, cc_free);
}

uint64_t sst_max_partition_bytes(sst_reader *r)
{
    if (r->max_part_bytes) return r->max_part_bytes - 1;
    uint64_t m = 0;
    if (r->version >= 5)
        for (size_t i = 0; i < r->nentries; i++) {
            uint64_t end = i + 1 < r->nentries ? r->entries[i + 1].off0 : r->data_end;
            if (end > r->entries[i].off0 && end - r->entries[i].off0 > m)
                m = end - r->entries[i].off0;
        }
    r->max_part_bytes = m + 1;
    return m;
}

void sst_thread_cache_stats(sst_cache_stats *out)
{
    pthread_once(&cc_once, cc_init);
    const chunk_cache *c = pthread_getspecific(cc_key);
    memset(out, 0, sizeof *out);
    if (!c) return;
    out->capacity_bytes = c->nsets * CC_WAYS * (uint64_t)SST_CHUNK_DEFAULT;
    out->entries = c->entries;
    out->size_bytes = c->bytes;
    out->requests = c->requests;
    out->hits = c->hits;
}

static chunk_cache *cc_get(void)
{
    pthread_once(&cc_once, cc_init);
    chunk_cache *c = pthread_getspecific(cc_key);
    if (c) return c;
    /* sets for the wanted bytes at 16 KiB chunks, a power of two */
    size_t sets = CC_SMALL_SETS;
    while (cc_want_bytes && sets < ((size_t)1 << 20) &&
           sets * 2 * CC_WAYS * (size_t)SST_CHUNK_DEFAULT <= cc_want_bytes)
        sets *= 2;
    c = hln_calloc(1, sizeof(*c) + sets * CC_WAYS * sizeof(cc_slot));
    if (!c) return NULL; /* no cache: read through */
    c->nsets = sets;
    if (pthread_setspecific(cc_key, c) != 0) {
        hln_free(c);
        return NULL;
    }
    return c;
}

/* ---- row blocks ---------------------------------------------------------- */

/* The logical bytes [off, off + n) of a compressed file, into the read's
 * arena: one pread of the run of chunks covering them (into the
 * iterator's reused buffer), each chunk's crc32 checked, then decompressed
 * (or copied, if stored raw). A block smaller than a chunk touches one
 * chunk, or two when it straddles a chunk boundary. */
/* Verifies and decompresses chunk i from its stored bytes src into dst
 * (want bytes). */
static int unpack_chunk(const sst_reader *r, uint64_t i, const uint8_t *src, uint8_t *dst,
                        size_t want, hln_error *err)
{
    const sst_chunk *c = &r->chunks[i];
    uint32_t crc =
        r->version >= SST_VERSION_ROWFMT3 ? hln_crc32c(0, src, c->len) : hln_crc32(0, src, c->len);
    if (crc != get32(src + c->len))
        return hln_corrupt(err, r->path, "chunk %llu at offset %llu: checksum mismatch",
                           (unsigned long long)i, (unsigned long long)c->off);
    if (c->raw)
        memcpy(dst, src, want); /* len == want, checked at open */
    else if (!sst_codec_decompress(r->codec, src, c->len, dst, want))
        return hln_corrupt(
            err, r->path, "chunk %llu at offset %llu does not decompress (%s) to %zu bytes",
            (unsigned long long)i, (unsigned long long)c->off, sst_codec_name(r->codec), want);
    return 0;
}

/* A block inside one chunk, through this thread's chunk cache. */
static int read_cached(sst_rowit *it, chunk_cache *cc, uint64_t ci, uint64_t off, size_t n,
                       const uint8_t **out, hln_error *err)
{
    const sst_reader *r = it->r;
    uint64_t cb = r->chunk_bytes;
    size_t want = (size_t)(ci == r->nchunks - 1 ? r->raw_bytes - ci * cb : cb);
    /* a full 64-bit mix (splitmix64's finaliser): a product's middle bits
       alone put a thousand chunks of one file in a hundred sets */
    uint64_t h = r->uid * UINT64_C(0x9E3779B97F4A7C15) + ci;
    h = (h ^ (h >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    h = (h ^ (h >> 27)) * UINT64_C(0x94D049BB133111EB);
    h ^= h >> 31;
    cc_slot *set = &cc->s[(h & (cc->nsets - 1)) * CC_WAYS];
    cc_slot *hit = NULL, *lru = &set[0];
    for (int i = 0; i < CC_WAYS; i++) {
        cc_slot *s = &set[i];
        if (s->buf && s->uid == r->uid && s->chunk == ci) hit = s;
        if (s->stamp < lru->stamp) lru = s;
    }
    cc->requests++;
    cc->hits += hit != NULL;
    if (!hit) {
        const sst_chunk *c = &r->chunks[ci];
        size_t plen = (size_t)c->len + SST_CHUNK_CRC;
        if (plen > it->zcap) {
            size_t cap = it->zcap * 2 > plen ? it->zcap * 2 : plen;
            it->zbuf = hln_arena_alloc(it->a, cap);
            it->zcap = it->zbuf ? cap : 0;
        }
        if (lru->cap < want) {
            cc->entries -= lru->buf != NULL;
            cc->bytes -= lru->cap;
            hln_free(lru->buf);
            lru->buf = hln_malloc(want);
            lru->cap = lru->buf ? want : 0;
            cc->entries += lru->buf != NULL;
            cc->bytes += lru->cap;
        }
        if (!it->zbuf || !lru->buf)
            return hln_fail(err, HLN_ENOMEM, "out of memory reading %s", r->path);
        lru->uid = 0; /* invalid until filled */
        int rc = hln_pread_full(r->fd, it->zbuf, plen, c->off, r->path, err);
        if (rc == 0) rc = unpack_chunk(r, ci, it->zbuf, lru->buf, want, err);
        if (rc < 0) return rc;
        lru->uid = r->uid;
        lru->chunk = ci;
        lru->len = want;
        hit = lru;
    }
    hit->stamp = ++cc->clock;
    uint8_t *dst = hln_arena_alloc(it->a, n);
    if (!dst) return hln_fail(err, HLN_ENOMEM, "out of memory reading %s", r->path);
    memcpy(dst, hit->buf + (off - SST_HEADER_BYTES - ci * cb), n);
    *out = dst;
    return 0;
}

static int read_chunks(sst_rowit *it, uint64_t off, size_t n, const uint8_t **out, hln_error *err)
{
    const sst_reader *r = it->r;
    uint64_t cb = r->chunk_bytes;
    uint64_t c0 = (off - SST_HEADER_BYTES) / cb, c1 = (off + n - 1 - SST_HEADER_BYTES) / cb;
    if (c1 >= r->nchunks) /* descriptors are inside data_end, checked at open */
        return hln_corrupt(err, r->path, "block at offset %llu is past the last chunk",
                           (unsigned long long)off);
    chunk_cache *cc = c0 == c1 && cb <= CC_MAX_CHUNK ? cc_get() : NULL;
    if (cc) return read_cached(it, cc, c0, off, n, out, err);
    const sst_chunk *first = &r->chunks[c0], *last = &r->chunks[c1];
    uint64_t plen = last->off + last->len + SST_CHUNK_CRC - first->off;
    uint64_t lstart = SST_HEADER_BYTES + c0 * cb;
    uint64_t llen =
        (c1 == r->nchunks - 1 ? r->data_end : SST_HEADER_BYTES + (c1 + 1) * cb) - lstart;
    if (plen > it->zcap) {
        size_t cap = it->zcap * 2 > plen ? it->zcap * 2 : (size_t)plen;
        it->zbuf = hln_arena_alloc(it->a, cap);
        it->zcap = it->zbuf ? cap : 0;
    }
    uint8_t *pbuf = it->zbuf, *lbuf = hln_arena_alloc(it->a, (size_t)llen);
    if (!pbuf || !lbuf) return hln_fail(err, HLN_ENOMEM, "out of memory reading %s", r->path);
    int rc = hln_pread_full(r->fd, pbuf, (size_t)plen, first->off, r->path, err);
    if (rc < 0) return rc;
    uint8_t *dst = lbuf;
    for (uint64_t i = c0; i <= c1; i++) {
        const sst_chunk *c = &r->chunks[i];
        size_t want = (size_t)(i == r->nchunks - 1 ? r->raw_bytes - i * cb : cb);
        if ((rc = unpack_chunk(r, i, pbuf + (c->off - first->off), dst, want, err)) < 0) return rc;
        dst += want;
    }
    *out = lbuf + (off - lstart);
    return 0;
}

static int load_block(sst_rowit *it, const sst_block *b, hln_error *err)
{
    const sst_reader *r = it->r;
    const uint8_t *buf = NULL;
    st_row *rows = hln_arena_alloc(it->a, (size_t)b->nrows * sizeof(st_row));
    if (!rows) return hln_fail(err, HLN_ENOMEM, "out of memory reading %s", r->path);
    int rc;
    if (r->codec != SST_CODEC_NONE) {
        rc = read_chunks(it, b->off, (size_t)b->len + r->block_hdr, &buf, err);
    } else {
        uint8_t *p = hln_arena_alloc(it->a, (size_t)b->len + SST_BLOCK_HDR);
        if (!p) return hln_fail(err, HLN_ENOMEM, "out of memory reading %s", r->path);
        rc = hln_pread_full(r->fd, p, (size_t)b->len + SST_BLOCK_HDR, b->off, r->path, err);
        buf = p;
    }
    if (rc < 0) return rc;
    if (r->block_hdr) {
        if (get32(buf) != b->len)
            return hln_corrupt(err, r->path, "block at offset %llu: length %u, index says %u",
                               (unsigned long long)b->off, get32(buf), b->len);
        if (hln_crc32(0, buf + SST_BLOCK_HDR, b->len) != get32(buf + 4))
            return hln_corrupt(err, r->path, "block at offset %llu: checksum mismatch",
                               (unsigned long long)b->off);
    }
    hln_rd rd;
    hln_rd_init(&rd, buf + r->block_hdr, b->len);
    st_rowctx ctx = {0, 0};
    for (uint32_t i = 0; i < b->nrows; i++) {
        if (r->version >= SST_VERSION_ROWFMT3)
            rc = st_row_decode3(&rd, it->a, &rows[i], &ctx);
        else
            rc = st_row_decode(&rd, it->a, &rows[i],
                               r->version >= SST_VERSION_PATHS ? ST_ROWFMT_2 : ST_ROWFMT_1);
        if (rc == HLN_ENOMEM) return hln_fail(err, rc, "out of memory reading %s", r->path);
        if (rc < 0)
            return hln_corrupt(err, r->path, "block at offset %llu: undecodable row %u",
                               (unsigned long long)b->off, i);
        if (i > 0 &&
            st_bytes_cmp(rows[i].ck, rows[i].cklen, rows[i - 1].ck, rows[i - 1].cklen) <= 0)
            return hln_corrupt(err, r->path, "block at offset %llu: rows out of order",
                               (unsigned long long)b->off);
        for (uint32_t k = 1; k < rows[i].ncells; k++)
            if (st_cell_cmp(&rows[i].cells[k - 1], &rows[i].cells[k]) >= 0)
                return hln_corrupt(err, r->path,
                                   "block at offset %llu: cells out of order in row %u",
                                   (unsigned long long)b->off, i);
    }
    if (hln_rd_left(&rd) != 0 ||
        st_bytes_cmp(rows[0].ck, rows[0].cklen, b->first, b->first_len) != 0 ||
        st_bytes_cmp(rows[b->nrows - 1].ck, rows[b->nrows - 1].cklen, b->last, b->last_len) != 0)
        return hln_corrupt(err, r->path, "block at offset %llu does not match its index entry",
                           (unsigned long long)b->off);
    it->rows = rows;
    it->nrows = b->nrows;
    it->ri = it->reversed ? (int64_t)b->nrows - 1 : 0;
    return 0;
}

static int rowit_next(st_rowsrc *s, const st_row **out, hln_error *err)
{
    sst_rowit *it = (sst_rowit *)s;
    for (;;) {
        if (it->done) return 0;
        if (it->ri >= 0 && it->ri < (int64_t)it->nrows) {
            const st_row *row = &it->rows[it->ri];
            it->ri += it->reversed ? -1 : 1;
            if (!it->reversed) {
                if (!st_start_admits(it->start, row->ck, row->cklen)) continue;
                if (!st_end_admits(it->end, row->ck, row->cklen)) {
                    it->done = true;
                    return 0;
                }
            } else {
                if (!st_end_admits(it->end, row->ck, row->cklen)) continue;
                if (!st_start_admits(it->start, row->ck, row->cklen)) {
                    it->done = true;
                    return 0;
                }
            }
            *out = row;
            return 1;
        }
        /* the next block, if it can hold rows of the slice */
        if (it->bi < 0 || it->bi >= (int64_t)it->nblocks) {
            it->done = true;
            return 0;
        }
        const sst_block *b = &it->blocks[it->bi];
        if (!it->reversed ? !st_end_admits(it->end, b->first, b->first_len)
                          : !st_start_admits(it->start, b->last, b->last_len)) {
            it->done = true;
            return 0;
        }
        it->bi += it->reversed ? -1 : 1;
        int rc = load_block(it, b, err);
        if (rc < 0) {
            it->done = true;
            return rc;
        }
    }
}

/* The block the next row comes from is not read yet: its first key
 * (forward) or last key (reversed) bounds that row's, from the index. */
static bool rowit_peek(st_rowsrc *s, const uint8_t **ck, uint32_t *cklen)
{
    sst_rowit *it = (sst_rowit *)s;
    if (it->done || (it->ri >= 0 && it->ri < (int64_t)it->nrows)) return false;
    if (it->bi < 0 || it->bi >= (int64_t)it->nblocks) return false;
    const sst_block *b = &it->blocks[it->bi];
    if (!it->reversed ? !st_end_admits(it->end, b->first, b->first_len)
                      : !st_start_admits(it->start, b->last, b->last_len))
        return false; /* next() ends without reading */
    *ck = !it->reversed ? b->first : b->last;
    *cklen = !it->reversed ? b->first_len : b->last_len;
    return true;
}

int sst_rowit_init(sst_rowit *it, const sst_reader *r, const sst_entry *e, const st_bound *start,
                   const st_bound *end, bool reversed, hln_arena *a, hln_error *err)
{
    memset(it, 0, sizeof(*it));
    it->base.next = rowit_next;
    it->base.peek = rowit_peek;
    it->base.stable = true;
    it->r = r;
    it->start = start;
    it->end = end;
    it->reversed = reversed;
    it->a = a;
    it->nblocks = e->nblocks;
    if (e->nblocks == 0) {
        it->done = true;
        return 0;
    }
    it->blocks = hln_arena_alloc(a, (size_t)e->nblocks * sizeof(sst_block));
    if (!it->blocks) return hln_fail(err, HLN_ENOMEM, "out of memory reading %s", r->path);
    hln_rd rd;
    hln_rd_init(&rd, r->index, r->index_len);
    rd.off = e->boff;
    uint64_t next = e->off0;
    for (uint32_t i = 0; i < e->nblocks; i++)
        if (!parse_desc(&rd, r->data_end, r->block_hdr, &it->blocks[i],
                        r->version >= SST_VERSION_ROWFMT3 ? &next : NULL))
            return hln_corrupt(err, r->path, "bad block descriptor"); /* checked at open */
    /* forward: first block whose last ck the start admits; reversed: last
     * block whose first ck the end admits (both predicates are monotone) */
    uint32_t lo = 0, hi = e->nblocks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const sst_block *b = &it->blocks[mid];
        bool p = !reversed ? st_start_admits(start, b->last, b->last_len)
                           : !st_end_admits(end, b->first, b->first_len);
        if (p)
            hi = mid;
        else
            lo = mid + 1;
    }
    it->bi = !reversed ? (int64_t)lo : (int64_t)lo - 1;
    return 0;
}
