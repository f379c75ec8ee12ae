/*
 * sst_codec.c — the chunk codecs of sstable version 4 (LZ4, Zstandard,
 * Snappy, deflate), behind four functions with one contract.
 *
 * What: sst_codec_compress turns one chunk of the logical data stream into
 * its compressed form (or reports that it cannot); sst_codec_decompress
 * turns stored bytes back into exactly the chunk's logical length. Deflate
 * is zlib-wrapped (compress2 / uncompress2), so a chunk carries zlib's own
 * Adler-32 too; the others are their libraries' plain block formats.
 *
 * Why one small file: the writer and the reader both need the codecs, and
 * the libraries disagree on argument order, error reporting and size
 * types; here they are made alike once.
 *
 * Invariants:
 *  1. Decompression never writes past dst[want) and succeeds only if the
 *     input decodes to exactly `want` bytes and is consumed entirely; any
 *     other outcome is false (the caller reports corruption).
 *  2. No state: every call is independent (the shard and compaction
 *     threads decompress concurrently).
 */
#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "storage/sstable/sstable.h"

bool sst_codec_valid(uint32_t c)
{
    return c <= SST_CODEC_MAX;
}

const char *sst_codec_name(sst_codec c)
{
    switch (c) {
    case SST_CODEC_NONE:
        return "none";
    case SST_CODEC_LZ4:
        return "lz4";
    case SST_CODEC_ZSTD:
        return "zstd";
    case SST_CODEC_SNAPPY:
        return "snappy";
    case SST_CODEC_DEFLATE:
        return "deflate";
    }
    return "unknown";
}

int sst_codec_level(sst_codec c, int level, int *out)
{
    *out = 0;
    if (c == SST_CODEC_ZSTD) {
        if (level == 0) level = 3;
        if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) return -1;
        *out = level;
    } else if (c == SST_CODEC_DEFLATE) {
        if (level == 0) level = 6;
        if (level < 1 || level > 9) return -1;
        *out = level;
    }
    return 0;
}

size_t sst_codec_bound(sst_codec c, size_t n)
{
    switch (c) {
    case SST_CODEC_NONE:
        return n;
    case SST_CODEC_LZ4:
        return n > LZ4_MAX_INPUT_SIZE ? 0 : (size_t)LZ4_compressBound((int)n);
    case SST_CODEC_ZSTD:
        return ZSTD_compressBound(n);
    case SST_CODEC_SNAPPY:
        return snappy_max_compressed_length(n);
    case SST_CODEC_DEFLATE:
        return (size_t)compressBound((uLong)n);
    }
    return 0;
}

size_t sst_codec_compress(sst_codec c, int level, const uint8_t *src, size_t n, uint8_t *dst,
                          size_t cap)
{
    switch (c) {
    case SST_CODEC_NONE:
        return 0;
    case SST_CODEC_LZ4: {
        if (n > LZ4_MAX_INPUT_SIZE || cap > INT_MAX) return 0;
        int r = LZ4_compress_default((const char *)src, (char *)dst, (int)n, (int)cap);
        return r > 0 ? (size_t)r : 0;
    }
    case SST_CODEC_ZSTD: {
        size_t r = ZSTD_compress(dst, cap, src, n, level);
        return ZSTD_isError(r) ? 0 : r;
    }
    case SST_CODEC_SNAPPY: {
        size_t out = cap;
        if (snappy_compress((const char *)src, n, (char *)dst, &out) != SNAPPY_OK) return 0;
        return out;
    }
    case SST_CODEC_DEFLATE: {
        uLongf out = (uLongf)cap;
        if (compress2(dst, &out, src, (uLong)n, level) != Z_OK) return 0;
        return (size_t)out;
    }
    }
    return 0;
}

bool sst_codec_decompress(sst_codec c, const uint8_t *src, size_t n, uint8_t *dst, size_t want)
{
    switch (c) {
    case SST_CODEC_NONE:
        return false;
    case SST_CODEC_LZ4: {
        if (n > INT_MAX || want > INT_MAX) return false;
        int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)want);
        return r >= 0 && (size_t)r == want;
    }
    case SST_CODEC_ZSTD: {
        /* one frame of exactly n bytes, declaring (if at all) want bytes */
        if (ZSTD_findFrameCompressedSize(src, n) != n) return false;
        unsigned long long fs = ZSTD_getFrameContentSize(src, n);
        if (fs == ZSTD_CONTENTSIZE_ERROR || (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != want))
            return false;
        size_t r = ZSTD_decompress(dst, want, src, n);
        return !ZSTD_isError(r) && r == want;
    }
    case SST_CODEC_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK || len != want)
            return false;
        size_t out = want;
        return snappy_uncompress((const char *)src, n, (char *)dst, &out) == SNAPPY_OK &&
               out == want;
    }
    case SST_CODEC_DEFLATE: {
        uLongf out = (uLongf)want;
        uLong in = (uLong)n;
        return uncompress2(dst, &out, src, &in) == Z_OK && out == want && in == n;
    }
    }
    return false;
}
