/*
 * sst_writer.c — writes one sstable from partitions given in key order.
 *
 * What: streams the header, the row blocks of each partition, then the
 * partition index (preceded by the file statistics and the chunk map) and
 * the footer (docs/formats/sstable.md, version 4) into
 * <path>.tmp; at finish it fsyncs the file, renames it to <path> and
 * fsyncs the directory. Rows of a partition are cut into blocks of about
 * SST_BLOCK_TARGET bytes, each with its own crc32, and each block's first
 * and last clustering key go into the index so a slice read touches only
 * the blocks it needs.
 *
 * Compression: the blocks form a logical stream (logical offsets start at
 * the header size, exactly where an uncompressed file puts them, and block
 * descriptors hold logical offsets). With a codec that stream is cut into
 * chunks of chunk_bytes regardless of block and partition boundaries (small
 * partitions then share a chunk, which is what makes the ratio good); each
 * chunk is compressed, or kept raw when that does not make it smaller, and
 * written with a crc32 of the stored bytes. The chunk map (stored length
 * and raw flag per chunk) goes into the index, under the index CRC.
 *
 * Statistics: min/max timestamp, the earliest and latest deletion second
 * and whether every cell and marker is dying are folded in as partitions,
 * range tombstones and rows pass through (sstable.h, sst_stats).
 *
 * Why temp + rename: a reader (or a restart after a crash) sees either no
 * file or the whole, synced file, never a partial one. Leftover *.tmp files
 * are removed when the table is opened.
 *
 * Invariants:
 *  1. Partition keys strictly increase, and cks strictly increase within a
 *     partition; the writer checks both (HLN_ESERVER: a caller bug) because
 *     readers binary-search on them.
 *  2. Nothing is visible under <path> before every byte is on disk.
 *  3. `loff` is the logical offset of the next block byte; without a codec
 *     it equals the physical offset (written + out.len).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage/sstable/sstable.h"

#define OUT_FLUSH_BYTES (1024 * 1024)

struct sst_writer {
    char *path, *tmp, *dir;
    int fd;
    uint8_t table_id[16];
    hln_buf out; /* pending bytes, at file offset `written` */
    uint64_t written;
    uint64_t prev_off, prev_len; /* the last range written out (flush_out) */
    hln_buf block;               /* rows of the open block */
    uint32_t block_rows;
    st_rowctx rctx;   /* ST_ROWFMT_3 delta state of the open block */
    hln_buf first_ck; /* first ck of the open block */
    hln_buf last_ck;  /* last ck written in this partition */
    uint32_t part_rows;
    hln_buf pdesc; /* block descriptors of the open partition */
    uint32_t pnblocks;
    hln_buf pkey;
    int64_t ppdel;
    hln_buf prts; /* encoded range tombstones of the open partition */
    uint32_t pnrts;
    bool in_part, have_prev;
    hln_buf index;
    uint64_t npart, nrows;
    /* compression */
    sst_codec codec;
    int level;
    uint32_t chunk_bytes;
    uint64_t loff; /* logical offset of the next block byte */
    hln_buf pend;  /* logical bytes not yet cut into a chunk (< chunk_bytes) */
    uint8_t *zbuf; /* compressor output, sst_codec_bound(chunk_bytes) */
    size_t zcap;
    hln_buf cmap; /* chunk map entries: vint(stored_len << 1 | raw) */
    uint64_t nchunks;
    sst_stats st;
};

static void buf_i64(hln_buf *b, int64_t v)
{
    hln_buf_u64(b, (uint64_t)v);
}

static void writer_free(sst_writer *w)
{
    if (w->fd >= 0) close(w->fd);
    hln_free(w->path);
    hln_free(w->tmp);
    hln_free(w->dir);
    hln_buf_free(&w->out);
    hln_buf_free(&w->block);
    hln_buf_free(&w->first_ck);
    hln_buf_free(&w->last_ck);
    hln_buf_free(&w->pdesc);
    hln_buf_free(&w->pkey);
    hln_buf_free(&w->prts);
    hln_buf_free(&w->index);
    hln_buf_free(&w->pend);
    hln_buf_free(&w->cmap);
    hln_free(w->zbuf);
    hln_free(w);
}

void sst_writer_abort(sst_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    unlink(w->tmp);
    writer_free(w);
}

int sst_writer_open(sst_writer **out, const char *path, const uint8_t table_id[16],
                    const sst_write_opts *opts, hln_error *err)
{
    *out = NULL;
    sst_codec codec = opts ? opts->codec : SST_CODEC_NONE;
    uint32_t cb = opts && opts->chunk_bytes ? opts->chunk_bytes : SST_CHUNK_DEFAULT;
    int level = 0;
    if (!sst_codec_valid((uint32_t)codec))
        return hln_fail(err, HLN_EINVAL, "unknown sstable compression codec %d", (int)codec);
    if (sst_codec_level(codec, opts ? opts->level : 0, &level) < 0)
        return hln_fail(err, HLN_EINVAL, "compression level %d is out of range for %s", opts->level,
                        sst_codec_name(codec));
    if (codec != SST_CODEC_NONE && (cb < SST_CHUNK_MIN || cb > SST_CHUNK_MAX || (cb & (cb - 1))))
        return hln_fail(err, HLN_EINVAL,
                        "compression chunk size %u is not a power of two between %u and %u", cb,
                        SST_CHUNK_MIN, SST_CHUNK_MAX);
    sst_writer *w = hln_calloc(1, sizeof(*w));
    if (!w) return hln_fail(err, HLN_ENOMEM, "out of memory");
    w->fd = -1;
    w->codec = codec;
    w->level = level;
    w->chunk_bytes = codec == SST_CODEC_NONE ? 0 : cb;
    w->loff = SST_HEADER_BYTES;
    w->st.min_ts = INT64_MAX;
    w->st.max_ts = INT64_MIN;
    w->st.min_del_sec = INT64_MAX;
    w->st.max_del_sec = INT64_MIN;
    w->st.all_dying = true;
    hln_buf_init(&w->pend);
    hln_buf_init(&w->cmap);
    if (codec != SST_CODEC_NONE) {
        w->zcap = sst_codec_bound(codec, cb);
        w->zbuf = w->zcap ? hln_malloc(w->zcap) : NULL;
        if (!w->zbuf || hln_buf_reserve(&w->pend, cb) < 0) {
            writer_free(w);
            return hln_fail(err, HLN_ENOMEM, "out of memory");
        }
    }
    size_t n = strlen(path);
    w->path = hln_strdup(path);
    w->tmp = hln_malloc(n + 5);
    w->dir = hln_strdup(path);
    if (!w->path || !w->tmp || !w->dir) {
        writer_free(w);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    char *slash = strrchr(w->dir, '/');
    if (slash && slash != w->dir)
        *slash = '\0';
    else
        strcpy(w->dir, slash ? "/" : ".");
    memcpy(w->table_id, table_id, 16);
    hln_buf_init(&w->out);
    hln_buf_init(&w->block);
    hln_buf_init(&w->first_ck);
    hln_buf_init(&w->last_ck);
    hln_buf_init(&w->pdesc);
    hln_buf_init(&w->pkey);
    hln_buf_init(&w->prts);
    hln_buf_init(&w->index);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = hln_fail(err, HLN_EIO, "cannot create %s: %s", w->tmp, strerror(errno));
        writer_free(w);
        return rc;
    }
    /* header */
    size_t h0 = w->out.len;
    hln_buf_u32(&w->out, SST_MAGIC);
    hln_buf_u32(&w->out, SST_VERSION);
    hln_buf_put(&w->out, table_id, 16);
    /* flags: the codec (bits 0-7), the leveled-compaction level (8-15) */
    hln_buf_u32(&w->out, (uint32_t)codec | (uint32_t)(opts ? opts->lcs_level : 0) << 8);
    hln_buf_u32(&w->out, w->out.err ? 0 : hln_crc32(0, w->out.data + h0, SST_HEADER_BYTES - 4));
    if (w->out.err) {
        sst_writer_abort(w);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    *out = w;
    return 0;
}

static int flush_out(sst_writer *w, hln_error *err)
{
    if (w->out.err) return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
    int rc = hln_write_full(w->fd, w->out.data, w->out.len, w->tmp, err);
    if (rc < 0) return rc;
    /* Keep this writer's dirty pages to about two ranges: start the
       writeback of what was just written and wait for the range before it
       (RocksDB's bytes_per_sync). Flushes and compactions run on their own
       threads, so the wait is theirs; without it a big compaction fills the
       page cache with dirty data and the kernel then throttles every
       writer, the shard's commitlog appends included (100 ms stalls). The
       final fsync still makes the file durable. */
    if (w->prev_len)
        (void)sync_file_range(w->fd, (off64_t)w->prev_off, (off64_t)w->prev_len,
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER);
    (void)sync_file_range(w->fd, (off64_t)w->written, (off64_t)w->out.len, SYNC_FILE_RANGE_WRITE);
    w->prev_off = w->written;
    w->prev_len = w->out.len;
    w->written += w->out.len;
    hln_buf_reset(&w->out);
    return 0;
}

/* Writes one chunk of the logical stream: compressed if that makes it
 * smaller, else raw; then the crc32 of the stored bytes. */
static int emit_chunk(sst_writer *w, const uint8_t *p, size_t n, hln_error *err)
{
    size_t z = sst_codec_compress(w->codec, w->level, p, n, w->zbuf, w->zcap);
    bool raw = z == 0 || z >= n;
    const uint8_t *stored = raw ? p : w->zbuf;
    size_t len = raw ? n : z;
    hln_buf_put(&w->out, stored, len);
    hln_buf_u32(&w->out, hln_crc32c(0, stored, len)); /* version 5: CRC-32C */
    hln_buf_vint(&w->cmap, ((uint64_t)len << 1) | (raw ? 1 : 0));
    w->nchunks++;
    if (w->cmap.err) return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
    if (w->out.len >= OUT_FLUSH_BYTES) return flush_out(w, err);
    return 0;
}

/* Appends logical bytes: straight to the file without a codec, else cut
 * into chunks (the remainder waits in pend). */
static int put_logical(sst_writer *w, const uint8_t *p, size_t n, hln_error *err)
{
    w->loff += n;
    if (w->codec == SST_CODEC_NONE) {
        hln_buf_put(&w->out, p, n);
        return 0;
    }
    while (n > 0) {
        size_t take = w->chunk_bytes - w->pend.len;
        if (take > n) take = n;
        if (w->pend.len == 0 && take == w->chunk_bytes) {
            int rc = emit_chunk(w, p, take, err); /* a whole chunk, no copy */
            if (rc < 0) return rc;
        } else {
            hln_buf_put(&w->pend, p, take);
            if (w->pend.err) return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
            if (w->pend.len == w->chunk_bytes) {
                int rc = emit_chunk(w, w->pend.data, w->pend.len, err);
                if (rc < 0) return rc;
                hln_buf_reset(&w->pend);
            }
        }
        p += take;
        n -= take;
    }
    return 0;
}

static int emit_block(sst_writer *w, hln_error *err)
{
    if (w->block_rows == 0) return 0;
    if (w->block.err || w->block.len > UINT32_MAX)
        return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
    /* version 5: a compressed file's blocks have no header (each chunk's
       crc covers them, the descriptor has the length); the offset is
       implied, blocks follow each other in entry order */
    int rc = 0;
    if (w->codec == SST_CODEC_NONE) {
        uint8_t hdr[SST_BLOCK_HDR];
        uint32_t len = (uint32_t)w->block.len, crc = hln_crc32(0, w->block.data, w->block.len);
        for (int i = 0; i < 4; i++) {
            hdr[i] = (uint8_t)(len >> (24 - 8 * i));
            hdr[4 + i] = (uint8_t)(crc >> (24 - 8 * i));
        }
        rc = put_logical(w, hdr, sizeof hdr, err);
    }
    if (rc == 0) rc = put_logical(w, w->block.data, w->block.len, err);
    if (rc < 0) return rc;
    hln_buf_vint(&w->pdesc, w->block.len);
    hln_buf_vint(&w->pdesc, w->block_rows);
    hln_buf_vint(&w->pdesc, w->first_ck.len);
    hln_buf_put(&w->pdesc, w->first_ck.data, w->first_ck.len);
    hln_buf_vint(&w->pdesc, w->last_ck.len);
    hln_buf_put(&w->pdesc, w->last_ck.data, w->last_ck.len);
    w->pnblocks++;
    hln_buf_reset(&w->block);
    w->block_rows = 0;
    if (w->out.len >= OUT_FLUSH_BYTES) return flush_out(w, err);
    return 0;
}

/* ---- statistics ---- */

static void stat_ts(sst_writer *w, int64_t ts)
{
    if (ts == HLN_TS_NONE) return;
    w->st.nitems++;
    if (ts < w->st.min_ts) w->st.min_ts = ts;
    if (ts > w->st.max_ts) w->st.max_ts = ts;
}

/* sec into the streaming histogram (Ben-Haim and Tom-Tov, as Cassandra's
 * tombstone histogram): a bin per distinct second while there is room,
 * then the two closest bins merge into their weighted mean. */
static void hist_add(sst_stats *st, int64_t sec)
{
    uint32_t lo = 0, hi = st->nbins;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (st->bins[mid].sec < sec)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < st->nbins && st->bins[lo].sec == sec) {
        st->bins[lo].n++;
        return;
    }
    memmove(st->bins + lo + 1, st->bins + lo, sizeof(st->bins[0]) * (st->nbins - lo));
    st->bins[lo] = (struct sst_hist_bin){sec, 1};
    if (++st->nbins <= SST_HIST_BINS - 1) return;
    /* one bin too many (the array holds SST_HIST_BINS): merge the closest */
    uint32_t best = 0;
    for (uint32_t i = 1; i + 1 < st->nbins; i++)
        if (st->bins[i + 1].sec - st->bins[i].sec < st->bins[best + 1].sec - st->bins[best].sec)
            best = i;
    struct sst_hist_bin *a = &st->bins[best], *b = &st->bins[best + 1];
    uint64_t n = a->n + b->n;
    /* the weighted mean, without overflow: a + (b - a) * nb / n */
    a->sec += (int64_t)((double)(b->sec - a->sec) * ((double)b->n / (double)n));
    a->n = n;
    memmove(b, b + 1, sizeof(st->bins[0]) * (st->nbins - best - 2));
    st->nbins--;
}

static void stat_del_sec(sst_writer *w, int64_t sec)
{
    if (sec < w->st.min_del_sec) w->st.min_del_sec = sec;
    if (sec > w->st.max_del_sec) w->st.max_del_sec = sec;
    hist_add(&w->st, sec);
}

/* A deletion at ts: its timestamp and its second (floor(ts / 10^6)). */
static void stat_deletion(sst_writer *w, int64_t ts)
{
    if (ts == HLN_TS_NONE) return;
    stat_ts(w, ts);
    int64_t q = ts / 1000000;
    if (ts % 1000000 < 0) q--;
    stat_del_sec(w, q);
}

static void stat_row(sst_writer *w, const st_row *row)
{
    if (row->marker_ts != HLN_TS_NONE) {
        stat_ts(w, row->marker_ts);
        if (row->marker_expires != 0)
            stat_del_sec(w, row->marker_expires);
        else
            w->st.all_dying = false;
    }
    stat_deletion(w, row->del_ts);
    for (uint32_t i = 0; i < row->ncells; i++) {
        const st_cell *c = &row->cells[i];
        if (c->flags == ST_CELL_TOMBSTONE || c->flags == ST_CELL_COLDEL) {
            stat_deletion(w, c->ts);
            continue;
        }
        stat_ts(w, c->ts);
        if (c->expires != 0)
            stat_del_sec(w, c->expires);
        else
            w->st.all_dying = false;
    }
}

uint64_t sst_writer_raw_bytes(const sst_writer *w)
{
    return w->loff - SST_HEADER_BYTES;
}

int sst_writer_begin_partition(sst_writer *w, const uint8_t *key, uint32_t klen, int64_t pdel_ts,
                               hln_error *err)
{
    if (w->in_part || klen < ST_KEY_TOKEN_BYTES)
        return hln_fail(err, HLN_ESERVER, "sstable writer misuse (begin partition)");
    if (w->have_prev && st_bytes_cmp(key, klen, w->pkey.data, (uint32_t)w->pkey.len) <= 0)
        return hln_fail(err, HLN_ESERVER, "sstable writer: partitions out of order");
    hln_buf_reset(&w->pkey);
    hln_buf_put(&w->pkey, key, klen);
    w->ppdel = pdel_ts;
    w->in_part = true;
    w->have_prev = true;
    w->part_rows = 0;
    w->pnblocks = 0;
    hln_buf_reset(&w->pdesc);
    hln_buf_reset(&w->last_ck);
    hln_buf_reset(&w->prts);
    w->pnrts = 0;
    stat_deletion(w, pdel_ts);
    return w->pkey.err ? hln_fail(err, HLN_ENOMEM, "out of memory") : 0;
}

int sst_writer_range_tombs(sst_writer *w, const st_range_tomb *rts, uint32_t n, hln_error *err)
{
    if (!w->in_part || w->part_rows || w->pnrts)
        return hln_fail(err, HLN_ESERVER, "sstable writer misuse (range tombstones)");
    for (uint32_t i = 0; i < n; i++) {
        st_rt_encode(&rts[i], &w->prts);
        stat_deletion(w, rts[i].ts);
    }
    w->pnrts = n;
    return w->prts.err ? hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp) : 0;
}

int sst_writer_row(sst_writer *w, const st_row *row, hln_error *err)
{
    if (!w->in_part)
        return hln_fail(err, HLN_ESERVER, "sstable writer misuse (row outside partition)");
    if (w->part_rows &&
        st_bytes_cmp(row->ck, row->cklen, w->last_ck.data, (uint32_t)w->last_ck.len) <= 0)
        return hln_fail(err, HLN_ESERVER, "sstable writer: rows out of order");
    for (uint32_t i = 1; i < row->ncells; i++)
        if (st_cell_cmp(&row->cells[i - 1], &row->cells[i]) >= 0)
            return hln_fail(err, HLN_ESERVER, "sstable writer: cells out of order");
    if (w->block_rows == 0) {
        hln_buf_reset(&w->first_ck);
        if (row->cklen) hln_buf_put(&w->first_ck, row->ck, row->cklen);
        w->rctx = (st_rowctx){0, 0}; /* each block decodes on its own */
    }
    hln_buf_reset(&w->last_ck);
    if (row->cklen) hln_buf_put(&w->last_ck, row->ck, row->cklen);
    st_row_encode3(row, &w->block, &w->rctx);
    stat_row(w, row);
    w->block_rows++;
    w->part_rows++;
    w->nrows++;
    if (w->block.err || w->first_ck.err || w->last_ck.err)
        return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
    if (w->block.len >= SST_BLOCK_TARGET) return emit_block(w, err);
    return 0;
}

int sst_writer_end_partition(sst_writer *w, hln_error *err)
{
    if (!w->in_part) return hln_fail(err, HLN_ESERVER, "sstable writer misuse (end partition)");
    int rc = emit_block(w, err);
    if (rc < 0) return rc;
    /* version 5: what most partitions lack costs one flags byte, and a
       token that is Murmur3 of the pk (every CQL table's) is recomputed at
       open instead of stored */
    const uint8_t *pk = w->pkey.data + ST_KEY_TOKEN_BYTES;
    size_t pklen = w->pkey.len - ST_KEY_TOKEN_BYTES;
    bool implied = hln_murmur3_token(pk, pklen) == st_key_token(w->pkey.data);
    uint8_t ef = (w->ppdel != HLN_TS_NONE ? SST_ENTRY_PDEL : 0) | (w->pnrts ? SST_ENTRY_RTS : 0) |
                 (implied ? SST_ENTRY_TOKEN : 0);
    hln_buf_u8(&w->index, ef);
    if (implied) {
        hln_buf_vint(&w->index, pklen);
        hln_buf_put(&w->index, pk, pklen);
    } else {
        hln_buf_vint(&w->index, w->pkey.len);
        hln_buf_put(&w->index, w->pkey.data, w->pkey.len);
    }
    if (ef & SST_ENTRY_PDEL) buf_i64(&w->index, w->ppdel);
    if (ef & SST_ENTRY_RTS) {
        hln_buf_vint(&w->index, w->pnrts);
        hln_buf_put(&w->index, w->prts.data, w->prts.len);
    }
    hln_buf_vint(&w->index, w->pnblocks);
    hln_buf_put(&w->index, w->pdesc.data, w->pdesc.len);
    w->npart++;
    w->in_part = false;
    if (w->index.err || w->pdesc.err)
        return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
    return 0;
}

int sst_writer_finish(sst_writer *w, hln_error *err)
{
    int rc = 0;
    if (w->in_part)
        rc = hln_fail(err, HLN_ESERVER, "sstable writer misuse (finish inside a partition)");
    if (rc == 0 && w->codec != SST_CODEC_NONE && w->pend.len > 0) {
        rc = emit_chunk(w, w->pend.data, w->pend.len, err); /* the last, shorter chunk */
        hln_buf_reset(&w->pend);
    }
    if (rc == 0) {
        /* the index section: statistics and the compression record (the
           "file record"), then the entries; one crc32 over all of it */
        hln_buf *o = &w->out;
        uint64_t index_off = w->written + o->len;
        buf_i64(o, w->st.min_ts);
        buf_i64(o, w->st.max_ts);
        buf_i64(o, w->st.min_del_sec);
        buf_i64(o, w->st.max_del_sec);
        hln_buf_u8(o, w->st.all_dying ? 1 : 0);
        hln_buf_u64(o, w->st.nitems); /* version 6: the deletion histogram */
        hln_buf_u8(o, (uint8_t)w->st.nbins);
        for (uint32_t i = 0; i < w->st.nbins; i++) {
            buf_i64(o, w->st.bins[i].sec);
            hln_buf_u64(o, w->st.bins[i].n);
        }
        hln_buf_u8(o, (uint8_t)w->codec);
        hln_buf_u32(o, (uint32_t)w->level);
        hln_buf_u32(o, w->chunk_bytes);
        hln_buf_u64(o, w->loff - SST_HEADER_BYTES);
        hln_buf_vint(o, w->nchunks);
        hln_buf_put(o, w->cmap.data, w->cmap.len);
        if (o->err || w->index.err || w->cmap.err)
            rc = hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
        if (rc == 0) {
            size_t head = (size_t)(w->written + o->len - index_off);
            uint32_t icrc = hln_crc32(0, o->data + o->len - head, head);
            icrc = hln_crc32(icrc, w->index.data, w->index.len);
            hln_buf_put(o, w->index.data, w->index.len);
            size_t f0 = o->len;
            hln_buf_u64(o, index_off);
            hln_buf_u64(o, head + w->index.len);
            hln_buf_u64(o, w->npart);
            hln_buf_u64(o, w->nrows);
            hln_buf_u32(o, icrc);
            hln_buf_u32(o, SST_VERSION);
            hln_buf_u32(o, SST_FOOTER_MAGIC);
            if (!o->err) hln_buf_u32(o, hln_crc32(0, o->data + f0, SST_FOOTER_BYTES - 4));
            rc = flush_out(w, err);
        }
    }
    if (rc == 0 && fsync(w->fd) < 0)
        rc = hln_fail(err, HLN_EIO, "fsync of %s failed: %s", w->tmp, strerror(errno));
    if (rc == 0) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) < 0)
            rc = hln_fail(err, HLN_EIO, "close of %s failed: %s", w->tmp, strerror(errno));
    }
    if (rc == 0 && rename(w->tmp, w->path) < 0)
        rc = hln_fail(err, HLN_EIO, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
    if (rc == 0) rc = hln_fsync_dir(w->dir, err);
    if (rc < 0) {
        sst_writer_abort(w);
        return rc;
    }
    writer_free(w);
    return 0;
}
