/*
 * sst_writer.c — writes one sstable from partitions given in key order.
 *
 * What: streams the header, the row blocks of each partition, then the
 * partition index and the footer (docs/formats/sstable.md) into
 * <path>.tmp; at finish it fsyncs the file, renames it to <path> and fsyncs
 * the directory. Rows of a partition are cut into blocks of about
 * SST_BLOCK_TARGET bytes, each with its own crc32, and each block's first
 * and last clustering key go into the index so a slice read touches only
 * the blocks it needs.
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
    hln_buf block; /* rows of the open block */
    uint32_t block_rows;
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

int sst_writer_open(sst_writer **out, const char *path, const uint8_t table_id[16], hln_error *err)
{
    *out = NULL;
    sst_writer *w = hln_calloc(1, sizeof(*w));
    if (!w) return hln_fail(err, HLN_ENOMEM, "out of memory");
    w->fd = -1;
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
    hln_buf_u32(&w->out, 0); /* flags */
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
    w->written += w->out.len;
    hln_buf_reset(&w->out);
    return 0;
}

static int emit_block(sst_writer *w, hln_error *err)
{
    if (w->block_rows == 0) return 0;
    if (w->block.err || w->block.len > UINT32_MAX)
        return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
    uint64_t off = w->written + w->out.len;
    hln_buf_u32(&w->out, (uint32_t)w->block.len);
    hln_buf_u32(&w->out, hln_crc32(0, w->block.data, w->block.len));
    hln_buf_put(&w->out, w->block.data, w->block.len);
    hln_buf_vint(&w->pdesc, off);
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
    return w->pkey.err ? hln_fail(err, HLN_ENOMEM, "out of memory") : 0;
}

int sst_writer_range_tombs(sst_writer *w, const st_range_tomb *rts, uint32_t n, hln_error *err)
{
    if (!w->in_part || w->part_rows || w->pnrts)
        return hln_fail(err, HLN_ESERVER, "sstable writer misuse (range tombstones)");
    for (uint32_t i = 0; i < n; i++)
        st_rt_encode(&rts[i], &w->prts);
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
    }
    hln_buf_reset(&w->last_ck);
    if (row->cklen) hln_buf_put(&w->last_ck, row->ck, row->cklen);
    st_row_encode(row, &w->block);
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
    hln_buf_vint(&w->index, w->pkey.len);
    hln_buf_put(&w->index, w->pkey.data, w->pkey.len);
    buf_i64(&w->index, w->ppdel);
    hln_buf_vint(&w->index, w->pnrts);
    hln_buf_put(&w->index, w->prts.data, w->prts.len);
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
    if (rc == 0 && w->index.err) rc = hln_fail(err, HLN_ENOMEM, "out of memory writing %s", w->tmp);
    if (rc == 0) {
        uint64_t index_off = w->written + w->out.len;
        hln_buf_put(&w->out, w->index.data, w->index.len);
        size_t f0 = w->out.len;
        hln_buf_u64(&w->out, index_off);
        hln_buf_u64(&w->out, w->index.len);
        hln_buf_u64(&w->out, w->npart);
        hln_buf_u64(&w->out, w->nrows);
        hln_buf_u32(&w->out, hln_crc32(0, w->index.data, w->index.len));
        hln_buf_u32(&w->out, SST_VERSION);
        hln_buf_u32(&w->out, SST_FOOTER_MAGIC);
        if (!w->out.err) hln_buf_u32(&w->out, hln_crc32(0, w->out.data + f0, SST_FOOTER_BYTES - 4));
        rc = flush_out(w, err);
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
