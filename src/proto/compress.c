/*
 * compress.c — the native protocol's compression: LZ4 and Snappy.
 *
 * What: the two algorithms a client may name in STARTUP's COMPRESSION
 * option, in the two shapes the protocol uses them:
 *  - v3/v4 compress each envelope body on its own (spec v4 section 5):
 *    lz4 is a 4-byte big-endian uncompressed length followed by a raw LZ4
 *    block (Cassandra's and the drivers' layout), snappy a raw Snappy
 *    buffer (which carries its own length). The envelope's flag 0x01 says
 *    a body is compressed.
 *  - v5 compresses whole frames with LZ4 (frame_v5.c), the lengths being in
 *    the frame header; px_lz4_compress / px_lz4_decompress are the raw block
 *    codec it uses. Snappy does not exist in v5.
 *
 * Why here, as pure functions: a compressed body is hostile input like any
 * other, and the decompressors are fuzzed (tests/fuzz/fuzz_frame_v5.c).
 *
 * Invariants:
 *  1. A decompressor never writes or allocates beyond the limit it is given
 *     (the connection's maximum frame size), whatever length the input
 *     claims: a Snappy buffer is validated before its output is allocated,
 *     and an LZ4 length claiming more than the block can expand to (an LZ4
 *     block grows at most 255-fold) is refused before any allocation.
 *  2. The output must be exactly as long as claimed; anything else is
 *     HLN_EPROTO ("corrupt or lying"), never a partial body.
 *  3. Compressors only fail through out->err (sticky ENOMEM).
 */
#include <lz4.h>
#include <snappy-c.h>
#include <string.h>
#include <strings.h>

#include "proto/proto.h"

int px_compression_parse(const char *name)
{
    if (!name) return -1;
    if (!strcasecmp(name, "lz4")) return PX_COMP_LZ4;
    if (!strcasecmp(name, "snappy")) return PX_COMP_SNAPPY;
    return -1;
}

/* ---- LZ4 raw blocks -------------------------------------------------- */

void px_lz4_compress(hln_buf *out, const void *in, size_t n)
{
    if (n > PX_COMP_MAX_INPUT) {
        out->err = HLN_ENOMEM; /* cannot happen below the frame limit */
        return;
    }
    int bound = LZ4_compressBound((int)n);
    if (hln_buf_reserve(out, (size_t)bound)) return;
    int got = LZ4_compress_default((const char *)in, (char *)out->data + out->len, (int)n, bound);
    if (got <= 0) {
        out->err = HLN_ENOMEM;
        return;
    }
    out->len += (size_t)got;
}

int px_lz4_decompress(const void *in, size_t n, void *out, size_t outlen, hln_error *err)
{
    if (n > PX_COMP_MAX_INPUT || outlen > PX_COMP_MAX_INPUT)
        return hln_fail(err, HLN_EPROTO, "LZ4 block too large");
    int got = LZ4_decompress_safe((const char *)in, (char *)out, (int)n, (int)outlen);
    if (got < 0) return hln_fail(err, HLN_EPROTO, "Corrupt LZ4 data (%zu compressed bytes)", n);
    if ((size_t)got != outlen)
        return hln_fail(err, HLN_EPROTO, "LZ4 data expanded to %d bytes but %zu were announced",
                        got, outlen);
    return 0;
}

/* The most an LZ4 block of n bytes can expand to: a match of 255*k + 19
 * bytes costs at least k + 3 bytes, so the ratio stays below 255. */
static size_t lz4_max_expansion(size_t n)
{
    return n > PX_COMP_MAX_INPUT / 255 ? PX_COMP_MAX_INPUT : n * 255 + 16;
}

/* ---- v3/v4 bodies ------------------------------------------------------ */

void px_body_compress(int comp, hln_buf *out, const void *in, size_t n)
{
    if (comp == PX_COMP_LZ4) {
        hln_buf_u32(out, (uint32_t)n);
        px_lz4_compress(out, in, n);
    } else if (comp == PX_COMP_SNAPPY) {
        size_t bound = snappy_max_compressed_length(n);
        if (hln_buf_reserve(out, bound)) return;
        size_t got = bound;
        if (snappy_compress((const char *)in, n, (char *)out->data + out->len, &got) != SNAPPY_OK) {
            out->err = HLN_ENOMEM;
            return;
        }
        out->len += got;
    } else {
        hln_buf_put(out, in, n);
    }
}

int px_body_decompress(int comp, const void *in, size_t n, size_t max, hln_buf *out, hln_error *err)
{
    const uint8_t *p = in;
    if (comp == PX_COMP_LZ4) {
        if (n < 4) return hln_fail(err, HLN_EPROTO, "Invalid LZ4 compressed body: %zu bytes", n);
        size_t want = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (want > max)
            return hln_fail(err, HLN_EPROTO,
                            "LZ4 compressed body announces %zu bytes, more than the %zu allowed",
                            want, max);
        if (want > lz4_max_expansion(n - 4))
            return hln_fail(err, HLN_EPROTO,
                            "LZ4 compressed body of %zu bytes cannot expand to the %zu announced",
                            n - 4, want);
        if (hln_buf_reserve(out, want ? want : 1))
            return hln_fail(err, HLN_ENOMEM, "Out of memory decompressing a body");
        int rc = px_lz4_decompress(p + 4, n - 4, out->data + out->len, want, err);
        if (rc) return rc;
        out->len += want;
        return 0;
    }
    if (comp == PX_COMP_SNAPPY) {
        size_t want = 0;
        if (snappy_uncompressed_length((const char *)p, n, &want) != SNAPPY_OK)
            return hln_fail(err, HLN_EPROTO, "Corrupt Snappy data (%zu bytes)", n);
        if (want > max)
            return hln_fail(err, HLN_EPROTO,
                            "Snappy compressed body announces %zu bytes, more than the %zu allowed",
                            want, max);
        if (snappy_validate_compressed_buffer((const char *)p, n) != SNAPPY_OK)
            return hln_fail(err, HLN_EPROTO, "Corrupt Snappy data (%zu bytes)", n);
        if (hln_buf_reserve(out, want ? want : 1))
            return hln_fail(err, HLN_ENOMEM, "Out of memory decompressing a body");
        size_t got = want;
        if (snappy_uncompress((const char *)p, n, (char *)out->data + out->len, &got) !=
                SNAPPY_OK ||
            got != want)
            return hln_fail(err, HLN_EPROTO, "Corrupt Snappy data (%zu bytes)", n);
        out->len += want;
        return 0;
    }
    if (n > max) return hln_fail(err, HLN_EPROTO, "Body of %zu bytes is too large", n);
    hln_buf_put(out, in, n);
    return out->err ? hln_fail(err, HLN_ENOMEM, "Out of memory") : 0;
}

void px_compress_envelopes(int comp, hln_buf *out, const uint8_t *env, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t left = n - off;
        const uint8_t *h = env + off;
        if (left < PX_HEADER_LEN) { /* never produced by our encoders */
            hln_buf_put(out, h, left);
            return;
        }
        size_t blen = (size_t)h[5] << 24 | (size_t)h[6] << 16 | (size_t)h[7] << 8 | h[8];
        if (blen > left - PX_HEADER_LEN) blen = left - PX_HEADER_LEN;
        if (blen == 0 || comp == PX_COMP_NONE) {
            hln_buf_put(out, h, PX_HEADER_LEN + blen);
        } else {
            size_t at = out->len;
            hln_buf_put(out, h, PX_HEADER_LEN);
            if (out->err) return;
            out->data[at + 1] |= PX_FLAG_COMPRESSION;
            px_body_compress(comp, out, h + PX_HEADER_LEN, blen);
            if (out->err) return;
            hln_buf_patch_u32(out, at + 5, (uint32_t)(out->len - at - PX_HEADER_LEN));
        }
        off += PX_HEADER_LEN + blen;
    }
}
