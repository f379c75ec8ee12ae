/*
 * fuzz_frame_v5.c — libFuzzer harness for protocol v5 framing and the
 * compression codecs.
 *
 * The first input byte picks what the rest is fed to:
 *   0  v5 frames, uncompressed format: px_v5_in_take frame after frame (as
 *      server/conn.c does), every complete envelope that comes out parsed
 *      with px_header_parse and its QUERY / PREPARE / EXECUTE body decoded
 *      as v5; then the envelopes are framed again and deframed, which must
 *      give back the same bytes;
 *   1  the same with the lz4 frame format;
 *   2  a v3/v4 lz4 body (px_body_decompress), and a compress / decompress
 *      round trip of the input;
 *   3  the same with snappy.
 * Everything a decoder hands out is read back so ASan sees any pointer that
 * escaped its buffer; a failed round trip traps.
 *
 * Corpus: tests/fuzz/corpus/fuzz_frame_v5/ (valid self-contained and
 * multi-frame envelopes, lz4 variants, bad CRC24 / CRC32, lying lengths,
 * v4 lz4 and snappy bodies), written by tests/fuzz/make_corpus_v5.py and
 * replayed by ctest through fuzz/replay_main.c.
 */
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"

#define MAX_BODY ((size_t)1 << 20)

static volatile unsigned sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    sink += s;
}

static void decode_envelope(const px_header *h, const uint8_t *body)
{
    hln_arena a;
    hln_arena_init(&a, 4096);
    hln_rd r;
    hln_rd_init(&r, body, h->length);
    hln_error err;
    memset(&err, 0, sizeof err);
    ex_params p;
    memset(&p, 0, sizeof p);
    const char *cql, *ks;
    size_t len;
    int rc = 0;
    switch (h->opcode) {
    case PX_QUERY:
        rc = px_decode_query(&r, h->version, &a, &cql, &len, &p, &err);
        if (!rc) touch(cql, len + 1);
        break;
    case PX_PREPARE:
        rc = px_decode_prepare_ks(&r, h->version, &a, &cql, &len, &ks, &err);
        if (!rc) {
            touch(cql, len + 1);
            if (ks) touch(ks, strlen(ks));
        }
        break;
    case PX_EXECUTE: {
        const uint8_t *id, *md;
        size_t idlen, mdlen;
        rc = px_decode_execute_md(&r, h->version, &a, &id, &idlen, &md, &mdlen, &p, &err);
        if (!rc) {
            touch(id, idlen);
            if (md) touch(md, mdlen);
        }
        break;
    }
    default:
        break;
    }
    if (!rc) {
        for (int i = 0; i < p.nvalues; i++)
            if (p.values[i].len > 0) touch(p.values[i].p, (size_t)p.values[i].len);
        if (p.keyspace) touch(p.keyspace, strlen(p.keyspace));
    } else if (err.code != HLN_EPROTO && err.code != HLN_ENOMEM) {
        __builtin_trap();
    }
    hln_arena_free(&a);
}

static void deframe(const uint8_t *data, size_t size, bool lz4)
{
    px_v5_in in;
    px_v5_in_init(&in, lz4, MAX_BODY);
    hln_buf envs; /* every complete envelope, for the re-framing check */
    hln_buf_init(&envs);
    size_t off = 0;
    while (off < size) {
        size_t used = 0;
        hln_error err;
        memset(&err, 0, sizeof err);
        int rc = px_v5_in_take(&in, data + off, size - off, &used, &err);
        if (rc == HLN_EAGAIN || rc == HLN_EPROTO || rc == HLN_ENOMEM) break;
        if (rc != 0 && rc != HLN_ECORRUPT) __builtin_trap();
        if (used == 0 || used > size - off) __builtin_trap();
        off += used;
        /* consume the complete envelopes, as conn.c does */
        for (;;) {
            size_t avail = in.env.len - in.env_off;
            if (!avail) break;
            const uint8_t *p = in.env.data + in.env_off;
            px_header h;
            if (px_header_parse(p, avail, MAX_BODY, &h, &err)) break;
            if (avail < PX_HEADER_LEN + (size_t)h.length) break;
            decode_envelope(&h, p + PX_HEADER_LEN);
            hln_buf_put(&envs, p, PX_HEADER_LEN + h.length);
            in.env_off += PX_HEADER_LEN + h.length;
        }
        px_v5_in_compact(&in);
    }
    px_v5_in_free(&in);

    /* framing what came out and deframing it again is the identity */
    if (!envs.err && envs.len) {
        hln_buf wire;
        hln_buf_init(&wire);
        px_v5_frame_envelopes(&wire, envs.data, envs.len, lz4);
        px_v5_in again;
        px_v5_in_init(&again, lz4, MAX_BODY);
        for (size_t o = 0; !wire.err && o < wire.len;) {
            size_t used = 0;
            hln_error err;
            memset(&err, 0, sizeof err);
            if (px_v5_in_take(&again, wire.data + o, wire.len - o, &used, &err)) __builtin_trap();
            o += used;
        }
        if (!wire.err && !again.env.err &&
            (again.env.len != envs.len || memcmp(again.env.data, envs.data, envs.len) != 0))
            __builtin_trap();
        px_v5_in_free(&again);
        hln_buf_free(&wire);
    }
    hln_buf_free(&envs);
}

static void bodies(const uint8_t *data, size_t size, int comp)
{
    hln_buf out;
    hln_buf_init(&out);
    hln_error err;
    memset(&err, 0, sizeof err);
    int rc = px_body_decompress(comp, data, size, MAX_BODY, &out, &err);
    if (rc == 0) {
        if (out.len > MAX_BODY) __builtin_trap();
        touch(out.data, out.len);
    } else if (rc != HLN_EPROTO && rc != HLN_ENOMEM) {
        __builtin_trap();
    }
    /* compress and decompress the input itself */
    hln_buf z, back;
    hln_buf_init(&z);
    hln_buf_init(&back);
    px_body_compress(comp, &z, data, size);
    if (!z.err) {
        rc = px_body_decompress(comp, z.data, z.len, MAX_BODY, &back, &err);
        if (size <= MAX_BODY &&
            (rc != 0 || back.len != size || (size && memcmp(back.data, data, size) != 0)))
            __builtin_trap();
    }
    hln_buf_free(&z);
    hln_buf_free(&back);
    hln_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0] & 3;
    data++;
    size--;
    switch (mode) {
    case 0:
    case 1:
        deframe(data, size, mode == 1);
        break;
    case 2:
        bodies(data, size, PX_COMP_LZ4);
        break;
    default:
        bodies(data, size, PX_COMP_SNAPPY);
        break;
    }
    return 0;
}
