/*
 * frame_v5.c — protocol v5's outer framing: frames around envelopes.
 *
 * What: from v5 on, once STARTUP has been answered (READY or
 * AUTHENTICATE), every byte of a connection travels in frames (the spec
 * calls them frames, Cassandra's code and the Python driver "segments").
 * The messages inside are v4-style envelopes (9-byte header, version 5).
 * Frame layout, all integers little endian:
 *
 *   uncompressed              lz4 (STARTUP asked for COMPRESSION lz4)
 *   3 bytes  header           5 bytes  header
 *            bits 0-16 payload         bits 0-16  payload length (as sent)
 *                  length              bits 17-33 uncompressed length,
 *            bit 17 self-contained                0 = sent uncompressed
 *                                      bit 34     self-contained
 *   3 bytes  CRC24 of header  3 bytes  CRC24 of header
 *   n bytes  payload          n bytes  payload (LZ4 block or raw)
 *   4 bytes  CRC32 of payload 4 bytes  CRC32 of the payload as sent
 *
 * CRC24: initial value 0x875060, polynomial 0x1974F0B, over the header's
 * bytes least significant first (Cassandra's net/Crc.java; the Python
 * driver's cassandra/segment.py computes the same). CRC32: zlib's, seeded
 * with the four bytes FA 2D 55 CA before the payload.
 *
 * A self-contained frame carries one or more whole envelopes. An envelope
 * larger than a frame's payload (PX_V5_MAX_PAYLOAD, 128 KiB - 1) is cut
 * into a run of non-self-contained frames that carry nothing else.
 *
 * Outbound (px_v5_frame_envelopes) packs the envelopes a connection
 * produced during one loop iteration into as few frames as possible.
 * Inbound (px_v5_in) turns frames back into the envelope stream that
 * server/conn.c parses exactly as it parses v4 input.
 *
 * Corruption, as Cassandra's CQLMessageHandler handles it: a bad header
 * CRC is fatal (nothing after it can be trusted); a bad payload CRC in a
 * self-contained frame loses that frame's requests only; in a later frame
 * of a multi-frame envelope it loses that envelope only (its remaining
 * frames are skipped by length); in the first frame of one it is fatal (its
 * size is unknown).
 *
 * Invariants:
 *  1. px_v5_in_take never reads beyond len, never allocates more than one
 *     frame's payload (decompression scratch <= 128 KiB) plus the envelope
 *     bytes actually received (the caller bounds envelopes by the maximum
 *     frame size through px_header_parse).
 *  2. in->env only ever gains whole envelopes from self-contained frames
 *     and, from non-self-contained frames, the consecutive pieces of one
 *     envelope; env_off never passes an incomplete envelope, so large_at >=
 *     env_off while a multi-frame envelope is incomplete.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"

#define CRC24_INIT 0x875060u
#define CRC24_POLY 0x1974F0Bu

uint32_t px_crc24(uint64_t v, int len)
{
    uint32_t crc = CRC24_INIT;
    while (len-- > 0) {
        crc ^= (uint32_t)(v & 0xFF) << 16;
        v >>= 8;
        for (int i = 0; i < 8; i++) {
            crc <<= 1;
            if (crc & 0x1000000u) crc ^= CRC24_POLY;
        }
    }
    return crc & 0xFFFFFFu;
}

uint32_t px_crc32_v5(const void *p, size_t n)
{
    static const uint8_t seed[4] = {0xFA, 0x2D, 0x55, 0xCA};
    return hln_crc32(hln_crc32(0, seed, sizeof seed), p, n);
}

static void put_le(hln_buf *out, uint64_t v, int n)
{
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    hln_buf_put(out, b, (size_t)n);
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- outbound ------------------------------------------------------------ */

void px_v5_frame_write(hln_buf *out, const void *payload, size_t n, bool self_contained, bool lz4)
{
    if (n > PX_V5_MAX_PAYLOAD) { /* a caller bug: never produce a bad frame */
        out->err = HLN_ENOMEM;
        return;
    }
    if (!lz4) {
        uint64_t h = (uint64_t)n | (self_contained ? (uint64_t)1 << 17 : 0);
        put_le(out, h, 3);
        put_le(out, px_crc24(h, 3), 3);
        hln_buf_put(out, payload, n);
        put_le(out, px_crc32_v5(payload, n), 4);
        return;
    }
    size_t at = out->len;
    static const uint8_t zero[8];
    hln_buf_put(out, zero, sizeof zero); /* header, filled in below */
    if (out->err) return;
    size_t body = out->len;
    uint64_t ulen = n;
    if (n > 0) px_lz4_compress(out, payload, n);
    if (out->err) return;
    size_t clen = out->len - body;
    if (n == 0 || clen >= n) { /* not worth it: send as is, uncompressed length 0 */
        out->len = body;
        hln_buf_put(out, payload, n);
        if (out->err) return;
        clen = n;
        ulen = 0;
    }
    uint64_t h = (uint64_t)clen | ulen << 17 | (self_contained ? (uint64_t)1 << 34 : 0);
    uint32_t crc = px_crc24(h, 5);
    for (int i = 0; i < 5; i++)
        out->data[at + (size_t)i] = (uint8_t)(h >> (8 * i));
    for (int i = 0; i < 3; i++)
        out->data[at + 5 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    put_le(out, px_crc32_v5(out->data + body, clen), 4);
}

void px_v5_frame_envelopes(hln_buf *out, const uint8_t *env, size_t n, bool lz4)
{
    size_t off = 0, start = 0; /* [start, off): envelopes for the next self-contained frame */
    while (off < n && !out->err) {
        size_t left = n - off, elen = left;
        if (left >= PX_HEADER_LEN) {
            size_t blen = get_be32(env + off + 5);
            if (blen <= left - PX_HEADER_LEN) elen = PX_HEADER_LEN + blen;
        }
        if (elen > PX_V5_MAX_PAYLOAD) {
            if (off > start) px_v5_frame_write(out, env + start, off - start, true, lz4);
            for (size_t o = 0; o < elen; o += PX_V5_MAX_PAYLOAD) {
                size_t k = elen - o < PX_V5_MAX_PAYLOAD ? elen - o : PX_V5_MAX_PAYLOAD;
                px_v5_frame_write(out, env + off + o, k, false, lz4);
            }
            off += elen;
            start = off;
            continue;
        }
        if (off + elen - start > PX_V5_MAX_PAYLOAD) {
            px_v5_frame_write(out, env + start, off - start, true, lz4);
            start = off;
        }
        off += elen;
    }
    if (off > start) px_v5_frame_write(out, env + start, off - start, true, lz4);
}

/* ---- inbound ----------------------------------------------------------------- */

void px_v5_in_init(px_v5_in *in, bool lz4, size_t max_body)
{
    memset(in, 0, sizeof *in);
    in->lz4 = lz4;
    in->max_body = max_body;
    hln_buf_init(&in->env);
    hln_buf_init(&in->scratch);
}

void px_v5_in_free(px_v5_in *in)
{
    hln_buf_free(&in->env);
    hln_buf_free(&in->scratch);
    in->env_off = 0;
}

static int append(px_v5_in *in, const uint8_t *p, size_t n, hln_error *err)
{
    hln_buf_put(&in->env, p, n);
    if (in->env.err) {
        in->env.err = 0; /* not sticky here: the caller closes the connection */
        return hln_fail(err, HLN_ENOMEM, "Out of memory receiving a v5 frame");
    }
    return 0;
}

/* The payload of a self-contained frame must hold whole envelopes. An
 * envelope declaring more than max_body is let through: the caller's
 * px_header_parse answers it with "Request is too big". */
static int check_contained(const px_v5_in *in, const uint8_t *p, size_t n, hln_error *err)
{
    size_t off = 0;
    while (off < n) {
        if (n - off < PX_HEADER_LEN)
            return hln_fail(err, HLN_EPROTO,
                            "Invalid v5 frame: a self-contained frame ends inside an envelope "
                            "header");
        size_t blen = get_be32(p + off + 5);
        if (blen > in->max_body) return 0;
        if (blen > n - off - PX_HEADER_LEN)
            return hln_fail(err, HLN_EPROTO,
                            "Invalid v5 frame: a self-contained frame ends inside an envelope "
                            "(%zu of %zu body bytes)",
                            n - off - PX_HEADER_LEN, blen);
        off += PX_HEADER_LEN + blen;
    }
    return 0;
}

static int corrupt_payload(px_v5_in *in, bool self_contained, size_t contributes, uint32_t read,
                           uint32_t computed, hln_error *err)
{
    if (self_contained) {
        if (in->large_left || in->skipping)
            return hln_fail(err, HLN_EPROTO,
                            "Invalid v5 frame: self-contained frame inside a multi-frame envelope");
        in->corrupt_recovered++;
        return hln_fail(err, HLN_ECORRUPT,
                        "CRC32 mismatch on a self-contained v5 frame (read %08" PRIx32
                        ", computed %08" PRIx32 "): its messages are dropped",
                        read, computed);
    }
    if (!in->large_left && !in->skipping)
        return hln_fail(err, HLN_EPROTO,
                        "CRC32 mismatch on the first frame of a multi-frame v5 envelope (read "
                        "%08" PRIx32 ", computed %08" PRIx32 ")",
                        read, computed);
    if (contributes > in->large_left)
        return hln_fail(err, HLN_EPROTO,
                        "Invalid v5 frame: %zu bytes but only %zu are left of its envelope",
                        contributes, in->large_left);
    if (!in->skipping) {
        in->env.len = in->large_at; /* drop what was received of the envelope */
        in->skipping = true;
    }
    in->large_left -= contributes;
    if (!in->large_left) in->skipping = false;
    in->corrupt_recovered++;
    return hln_fail(err, HLN_ECORRUPT,
                    "CRC32 mismatch on a v5 frame of a multi-frame envelope (read %08" PRIx32
                    ", computed %08" PRIx32 "): the envelope is dropped",
                    read, computed);
}

int px_v5_in_take(px_v5_in *in, const uint8_t *p, size_t len, size_t *used, hln_error *err)
{
    int hb = in->lz4 ? 5 : 3; /* header bytes before the CRC24 */
    size_t hlen = (size_t)hb + 3;
    *used = hlen;
    if (len < hlen) return HLN_EAGAIN;
    uint64_t h = get_le(p, hb);
    uint32_t read24 = (uint32_t)get_le(p + hb, 3), want24 = px_crc24(h, hb);
    if (read24 != want24)
        return hln_fail(err, HLN_EPROTO,
                        "CRC24 mismatch on a v5 frame header (read %06" PRIx32
                        ", computed %06" PRIx32 ")",
                        read24, want24);
    size_t plen = (size_t)(h & PX_V5_MAX_PAYLOAD);
    size_t ulen = in->lz4 ? (size_t)((h >> 17) & PX_V5_MAX_PAYLOAD) : 0;
    bool sc = ((h >> (in->lz4 ? 34 : 17)) & 1) != 0;
    size_t flen = hlen + plen + 4;
    *used = flen;
    if (len < flen) return HLN_EAGAIN;
    in->frames++;
    const uint8_t *pl = p + hlen;
    uint32_t read32 = (uint32_t)get_le(pl + plen, 4), want32 = px_crc32_v5(pl, plen);
    if (read32 != want32) return corrupt_payload(in, sc, ulen ? ulen : plen, read32, want32, err);

    const uint8_t *data = pl;
    size_t dlen = plen;
    if (ulen) {
        hln_buf_reset(&in->scratch);
        if (hln_buf_reserve(&in->scratch, ulen)) {
            in->scratch.err = 0;
            return hln_fail(err, HLN_ENOMEM, "Out of memory decompressing a v5 frame");
        }
        int rc = px_lz4_decompress(pl, plen, in->scratch.data, ulen, err);
        if (rc) {
            char why[256];
            snprintf(why, sizeof why, "%.200s", err->msg);
            return hln_fail(err, HLN_EPROTO, "Invalid v5 frame: %s", why);
        }
        data = in->scratch.data;
        dlen = ulen;
    }

    if (sc) {
        if (in->large_left || in->skipping)
            return hln_fail(err, HLN_EPROTO,
                            "Invalid v5 frame: self-contained frame while %zu bytes of a "
                            "multi-frame envelope are due",
                            in->large_left);
        int rc = check_contained(in, data, dlen, err);
        return rc ? rc : append(in, data, dlen, err);
    }
    if (in->skipping || in->large_left) {
        if (dlen > in->large_left)
            return hln_fail(err, HLN_EPROTO,
                            "Invalid v5 frame: %zu bytes but only %zu are left of its envelope",
                            dlen, in->large_left);
        in->large_left -= dlen;
        if (in->skipping) {
            if (!in->large_left) in->skipping = false;
            return 0;
        }
        return append(in, data, dlen, err);
    }
    /* the first frame of a multi-frame envelope: its header gives the size */
    if (dlen < PX_HEADER_LEN)
        return hln_fail(err, HLN_EPROTO,
                        "Invalid v5 frame: a multi-frame envelope starts with %zu bytes, less "
                        "than an envelope header",
                        dlen);
    size_t blen = get_be32(data + 5);
    if (blen > in->max_body) return append(in, data, dlen, err); /* "Request is too big" */
    size_t total = PX_HEADER_LEN + blen;
    if (dlen > total)
        return hln_fail(err, HLN_EPROTO,
                        "Invalid v5 frame: a non-self-contained frame holds more than one "
                        "envelope");
    in->large_at = in->env.len;
    in->large_left = total - dlen;
    return append(in, data, dlen, err);
}

void px_v5_in_compact(px_v5_in *in)
{
    if (in->env_off == 0) return;
    if (in->env_off >= in->env.len) {
        in->env_off = 0;
        in->large_at = 0;
        hln_buf_reset(&in->env);
        if (in->env.cap > ((size_t)1 << 20)) { /* give back a large envelope's buffer */
            hln_buf_free(&in->env);
            hln_buf_init(&in->env);
        }
        return;
    }
    memmove(in->env.data, in->env.data + in->env_off, in->env.len - in->env_off);
    in->env.len -= in->env_off;
    in->large_at = in->large_at >= in->env_off ? in->large_at - in->env_off : 0;
    in->env_off = 0;
}
