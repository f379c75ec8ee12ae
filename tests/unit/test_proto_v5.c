/* modules: common types proto */
/*
 * test_proto_v5.c — protocol v5 framing and the compression codecs.
 *
 * CRC24 / CRC32 known values and the exact bytes of a frame were computed
 * with the Python driver's own implementation (cassandra/segment.py:
 * compute_crc24, compute_crc32 with CRC32_INITIAL, SegmentCodec.encode),
 * which is independent of ours. Then: frame encode/decode round trips
 * (uncompressed and lz4), packing of small envelopes, splitting of large
 * ones, every corruption path of the deframer, the v3/v4 body codecs (lz4,
 * snappy) with lying lengths and garbage, and the v5 message changes
 * (int flags, keyspaces, result metadata ids).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "types/types.h"

#define MAXB ((size_t)(16u << 20) - PX_HEADER_LEN)

/* ---- helpers ------------------------------------------------------------ */

/* An envelope: 9-byte header (request, version 5, opcode QUERY) and a body
 * of n bytes derived from seed. */
static void put_envelope(hln_buf *b, int16_t stream, size_t n, unsigned seed)
{
    size_t off = b->len;
    hln_buf_u8(b, 5);
    hln_buf_u8(b, 0);
    hln_buf_u16(b, (uint16_t)stream);
    hln_buf_u8(b, PX_QUERY);
    hln_buf_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        hln_buf_u8(b, (uint8_t)((i * 7 + seed) ^ (i >> 9)));
    assert_int_equal(b->len, off + PX_HEADER_LEN + n);
}

/* Feeds all frames of wire[0..n) through a deframer; returns the number of
 * frames and leaves the envelopes in in->env. */
static int deframe_all(px_v5_in *in, const uint8_t *wire, size_t n)
{
    int frames = 0;
    size_t off = 0;
    while (off < n) {
        size_t used = 0;
        hln_error err = {0};
        int rc = px_v5_in_take(in, wire + off, n - off, &used, &err);
        if (rc) print_error("px_v5_in_take: %d %s\n", rc, err.msg);
        assert_int_equal(rc, 0);
        assert_true(used > 0 && used <= n - off);
        off += used;
        frames++;
    }
    return frames;
}

static void le3(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}

static void le4(uint8_t *p, uint32_t v)
{
    le3(p, v);
    p[3] = (uint8_t)(v >> 24);
}

/* Hand-made uncompressed frame with the given header word; crc fields are
 * computed unless bad_* says otherwise. */
static size_t raw_frame(uint8_t *out, const uint8_t *payload, size_t n, bool sc, bool bad24,
                        bool bad32)
{
    uint32_t h = (uint32_t)n | (sc ? 1u << 17 : 0);
    le3(out, h);
    le3(out + 3, px_crc24(h, 3) ^ (bad24 ? 1u : 0u));
    memcpy(out + 6, payload, n);
    le4(out + 6 + n, px_crc32_v5(payload, n) ^ (bad32 ? 0x80u : 0u));
    return 10 + n;
}

/* ---- CRCs ---------------------------------------------------------------- */

static void test_crc24_known(void **state)
{
    (void)state;
    /* cassandra.segment.compute_crc24(value, length) */
    assert_int_equal(px_crc24(0, 3), 0x7de777);
    assert_int_equal(px_crc24(5 | (1u << 17), 3), 0x9a9919);
    assert_int_equal(px_crc24(0x1FFFF | (1u << 17), 3), 0x474025);
    assert_int_equal(px_crc24(0x123456789AULL, 5), 0x40d313);
    assert_int_equal(px_crc24(0xFF, 1), 0x13bf41);
    assert_int_equal(px_crc24(0x0102030405060708ULL, 8), 0xf42882);
}

static void test_crc32_known(void **state)
{
    (void)state;
    /* cassandra.segment.compute_crc32(data, CRC32_INITIAL) */
    assert_int_equal(px_crc32_v5("", 0), 0x44777ed3);
    assert_int_equal(px_crc32_v5("123456789", 9), 0xe2a261a7);
    assert_int_equal(px_crc32_v5("hello, helenus", 14), 0x7035d170);
}

/* ---- frames out ------------------------------------------------------------ */

static void test_frame_bytes_match_driver(void **state)
{
    (void)state;
    /* SegmentCodec().encode(buf, OPTIONS envelope) in the Python driver */
    const uint8_t env[] = {0x05, 0x00, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00};
    const uint8_t want[] = {0x09, 0x00, 0x02, 0xa4, 0xc8, 0xc1, 0x05, 0x00, 0x00, 0x01,
                            0x05, 0x00, 0x00, 0x00, 0x00, 0xb5, 0x55, 0x74, 0x86};
    hln_buf b;
    hln_buf_init(&b);
    px_v5_frame_envelopes(&b, env, sizeof env, false);
    assert_int_equal(b.err, 0);
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    hln_buf_free(&b);
}

static void roundtrip(const size_t *sizes, int n, bool lz4, int want_frames)
{
    hln_buf env, wire;
    hln_buf_init(&env);
    hln_buf_init(&wire);
    for (int i = 0; i < n; i++)
        put_envelope(&env, (int16_t)i, sizes[i], (unsigned)i);
    px_v5_frame_envelopes(&wire, env.data, env.len, lz4);
    assert_int_equal(wire.err, 0);
    px_v5_in in;
    px_v5_in_init(&in, lz4, MAXB);
    int frames = deframe_all(&in, wire.data, wire.len);
    if (want_frames >= 0) assert_int_equal(frames, want_frames);
    assert_int_equal(in.env.len, env.len);
    assert_memory_equal(in.env.data, env.data, env.len);
    assert_int_equal(in.large_left, 0);
    px_v5_in_free(&in);
    hln_buf_free(&env);
    hln_buf_free(&wire);
}

static void test_frame_roundtrip_small(void **state)
{
    (void)state;
    const size_t one[] = {0};
    roundtrip(one, 1, false, 1);
    roundtrip(one, 1, true, 1);
    const size_t some[] = {10, 0, 1000, 5};
    roundtrip(some, 4, false, 1);
    roundtrip(some, 4, true, 1);
    /* exactly one full frame: 9 + 131062 = 131071 */
    const size_t full[] = {PX_V5_MAX_PAYLOAD - PX_HEADER_LEN};
    roundtrip(full, 1, false, 1);
    roundtrip(full, 1, true, 1);
}

static void test_frame_packing(void **state)
{
    (void)state;
    /* 100 envelopes of 2009 bytes = 200900 bytes: packed into 2 frames,
     * each holding whole envelopes (65 fit in 131071) */
    size_t sizes[100];
    for (int i = 0; i < 100; i++)
        sizes[i] = 2000;
    roundtrip(sizes, 100, false, 2);
    roundtrip(sizes, 100, true, 2);
}

static void test_frame_split_large(void **state)
{
    (void)state;
    /* 1 MiB envelope between two small ones: small, 9 pieces, small */
    const size_t sizes[] = {100, (size_t)1 << 20, 50};
    roundtrip(sizes, 3, false, 1 + 9 + 1);
    roundtrip(sizes, 3, true, 1 + 9 + 1);
    /* one byte more than a frame */
    const size_t over[] = {PX_V5_MAX_PAYLOAD - PX_HEADER_LEN + 1};
    roundtrip(over, 1, false, 2);

    /* the split frames are non-self-contained and full-sized but the last */
    hln_buf env, wire;
    hln_buf_init(&env);
    hln_buf_init(&wire);
    put_envelope(&env, 1, 300000, 3);
    px_v5_frame_envelopes(&wire, env.data, env.len, false);
    size_t off = 0, total = 0;
    int k = 0;
    while (off < wire.len) {
        uint32_t h = wire.data[off] | wire.data[off + 1] << 8 | (uint32_t)wire.data[off + 2] << 16;
        size_t plen = h & 0x1FFFF;
        assert_false(h & (1u << 17));
        if (total + plen < env.len) assert_int_equal(plen, PX_V5_MAX_PAYLOAD);
        total += plen;
        off += 10 + plen;
        k++;
    }
    assert_int_equal(k, 3);
    assert_int_equal(total, env.len);
    hln_buf_free(&env);
    hln_buf_free(&wire);
}

static void test_frame_lz4_compresses(void **state)
{
    (void)state;
    /* a compressible payload is sent compressed (uncompressed length set),
     * an incompressible one as is (uncompressed length 0) */
    uint8_t zeros[4000] = {0};
    hln_buf b;
    hln_buf_init(&b);
    px_v5_frame_write(&b, zeros, sizeof zeros, true, true);
    uint64_t h = 0;
    for (int i = 0; i < 5; i++)
        h |= (uint64_t)b.data[i] << (8 * i);
    assert_true((h & 0x1FFFF) < 100);
    assert_int_equal((h >> 17) & 0x1FFFF, sizeof zeros);
    assert_true((h >> 34) & 1);
    assert_int_equal(b.len, 8 + (h & 0x1FFFF) + 4);

    hln_buf_reset(&b);
    uint8_t noise[64];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (uint8_t)(x >> 16);
    }
    px_v5_frame_write(&b, noise, sizeof noise, false, true);
    h = 0;
    for (int i = 0; i < 5; i++)
        h |= (uint64_t)b.data[i] << (8 * i);
    assert_int_equal(h & 0x1FFFF, sizeof noise);
    assert_int_equal((h >> 17) & 0x1FFFF, 0);
    assert_false((h >> 34) & 1);
    assert_memory_equal(b.data + 8, noise, sizeof noise);
    hln_buf_free(&b);
}

/* ---- frames in: partial input and corruption --------------------------------- */

static void test_in_partial(void **state)
{
    (void)state;
    hln_buf env, wire;
    hln_buf_init(&env);
    hln_buf_init(&wire);
    put_envelope(&env, 1, 100, 1);
    px_v5_frame_envelopes(&wire, env.data, env.len, false);
    px_v5_in in;
    px_v5_in_init(&in, false, MAXB);
    hln_error err = {0};
    size_t used;
    for (size_t n = 0; n < wire.len; n++) {
        assert_int_equal(px_v5_in_take(&in, wire.data, n, &used, &err), HLN_EAGAIN);
        assert_int_equal(used, n < 6 ? 6 : wire.len);
    }
    assert_int_equal(px_v5_in_take(&in, wire.data, wire.len, &used, &err), 0);
    assert_int_equal(used, wire.len);
    assert_int_equal(in.env.len, env.len);
    px_v5_in_free(&in);
    hln_buf_free(&env);
    hln_buf_free(&wire);
}

static void test_in_bad_crc(void **state)
{
    (void)state;
    hln_buf env;
    hln_buf_init(&env);
    put_envelope(&env, 1, 40, 1);
    uint8_t f[100];
    hln_error err = {0};
    size_t used;
    px_v5_in in;
    px_v5_in_init(&in, false, MAXB);

    /* header CRC24 mismatch: fatal */
    size_t n = raw_frame(f, env.data, env.len, true, true, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), HLN_EPROTO);
    assert_non_null(strstr(err.msg, "CRC24"));

    /* payload CRC32 mismatch on a self-contained frame: skipped */
    n = raw_frame(f, env.data, env.len, true, false, true);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), HLN_ECORRUPT);
    assert_int_equal(used, n);
    assert_int_equal(in.env.len, 0);
    assert_int_equal(in.corrupt_recovered, 1);
    /* and the next good frame goes through */
    n = raw_frame(f, env.data, env.len, true, false, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), 0);
    assert_int_equal(in.env.len, env.len);

    /* a bit flipped anywhere in the header: the CRC24 catches it */
    for (int bit = 0; bit < 24; bit++) {
        n = raw_frame(f, env.data, env.len, true, false, false);
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rc = px_v5_in_take(&in, f, n, &used, &err);
        assert_true(rc == HLN_EPROTO || rc == HLN_EAGAIN);
        if (rc == HLN_EAGAIN) fail_msg("bit %d: flipped header accepted", bit);
    }
    px_v5_in_free(&in);
    hln_buf_free(&env);
}

static void test_in_large_corruption(void **state)
{
    (void)state;
    hln_buf env, wire;
    hln_buf_init(&env);
    hln_buf_init(&wire);
    put_envelope(&env, 7, 300000, 5); /* 3 non-self-contained frames */
    px_v5_frame_envelopes(&wire, env.data, env.len, false);
    size_t f1 = 10 + PX_V5_MAX_PAYLOAD, f2 = f1;
    hln_error err = {0};
    size_t used;

    /* first frame corrupt: fatal */
    px_v5_in in;
    px_v5_in_init(&in, false, MAXB);
    wire.data[100] ^= 1;
    assert_int_equal(px_v5_in_take(&in, wire.data, wire.len, &used, &err), HLN_EPROTO);
    wire.data[100] ^= 1;
    px_v5_in_free(&in);

    /* second frame corrupt: the envelope is dropped, the third frame is
     * skipped, and a following self-contained frame is delivered */
    px_v5_in_init(&in, false, MAXB);
    hln_buf small;
    hln_buf_init(&small);
    put_envelope(&small, 8, 10, 9);
    px_v5_frame_envelopes(&wire, small.data, small.len, false);
    wire.data[f1 + 200] ^= 1;
    size_t off = 0;
    assert_int_equal(px_v5_in_take(&in, wire.data, wire.len, &used, &err), 0);
    off += used;
    assert_int_equal(in.env.len, PX_V5_MAX_PAYLOAD);
    assert_int_equal(px_v5_in_take(&in, wire.data + off, wire.len - off, &used, &err),
                     HLN_ECORRUPT);
    assert_int_equal(used, f2);
    off += used;
    assert_int_equal(in.env.len, 0);
    assert_true(in.skipping);
    assert_int_equal(px_v5_in_take(&in, wire.data + off, wire.len - off, &used, &err), 0);
    off += used;
    assert_false(in.skipping);
    assert_int_equal(in.large_left, 0);
    assert_int_equal(in.env.len, 0);
    assert_int_equal(px_v5_in_take(&in, wire.data + off, wire.len - off, &used, &err), 0);
    off += used;
    assert_int_equal(off, wire.len);
    assert_int_equal(in.env.len, small.len);
    assert_memory_equal(in.env.data, small.data, small.len);
    px_v5_in_free(&in);
    hln_buf_free(&small);
    hln_buf_free(&env);
    hln_buf_free(&wire);
}

static void test_in_misaligned(void **state)
{
    (void)state;
    hln_buf env;
    hln_buf_init(&env);
    put_envelope(&env, 1, 40, 1);
    uint8_t f[200];
    hln_error err = {0};
    size_t used;
    px_v5_in in;
    px_v5_in_init(&in, false, MAXB);

    /* a self-contained frame ending inside an envelope body / header */
    size_t n = raw_frame(f, env.data, env.len - 1, true, false, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), HLN_EPROTO);
    n = raw_frame(f, env.data, 5, true, false, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), HLN_EPROTO);
    /* a non-self-contained frame holding more than its envelope */
    uint8_t two[120];
    memcpy(two, env.data, env.len);
    memcpy(two + env.len, env.data, 10);
    n = raw_frame(f, two, env.len + 10, false, false, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), HLN_EPROTO);
    /* a multi-frame envelope starting with less than a header */
    n = raw_frame(f, env.data, 4, false, false, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), HLN_EPROTO);
    /* a self-contained frame in the middle of a multi-frame envelope */
    n = raw_frame(f, env.data, 20, false, false, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), 0);
    assert_int_equal(in.large_left, env.len - 20);
    size_t m = raw_frame(f, env.data, env.len, true, false, false);
    assert_int_equal(px_v5_in_take(&in, f, m, &used, &err), HLN_EPROTO);
    /* an envelope declaring more than the limit is passed on for the
     * caller's "Request is too big" */
    px_v5_in_free(&in);
    px_v5_in_init(&in, false, 1000);
    uint8_t hdr[9] = {5, 0, 0, 1, PX_QUERY, 0x10, 0, 0, 0};
    n = raw_frame(f, hdr, 9, true, false, false);
    assert_int_equal(px_v5_in_take(&in, f, n, &used, &err), 0);
    hln_error herr = {0};
    px_header h;
    assert_int_equal(px_header_parse(in.env.data, in.env.len, in.max_body, &h, &herr), HLN_ETOOBIG);
    px_v5_in_free(&in);
    hln_buf_free(&env);
}

static void test_in_lying_lz4(void **state)
{
    (void)state;
    uint8_t zeros[3000] = {0};
    hln_buf b;
    hln_buf_init(&b);
    px_v5_frame_write(&b, zeros, sizeof zeros, true, true); /* compressed */
    uint64_t h = 0;
    for (int i = 0; i < 5; i++)
        h |= (uint64_t)b.data[i] << (8 * i);
    size_t clen = h & 0x1FFFF;
    hln_error err = {0};
    size_t used;
    px_v5_in in;
    px_v5_in_init(&in, true, MAXB);

    /* announce more (and less) than the block expands to: fatal */
    const size_t lies[] = {sizeof zeros + 1, sizeof zeros - 1, PX_V5_MAX_PAYLOAD};
    for (size_t i = 0; i < HLN_ARRAY_LEN(lies); i++) {
        uint64_t l = clen | (uint64_t)lies[i] << 17 | (uint64_t)1 << 34;
        for (int k = 0; k < 5; k++)
            b.data[k] = (uint8_t)(l >> (8 * k));
        uint32_t c = px_crc24(l, 5);
        for (int k = 0; k < 3; k++)
            b.data[5 + k] = (uint8_t)(c >> (8 * k));
        assert_int_equal(px_v5_in_take(&in, b.data, b.len, &used, &err), HLN_EPROTO);
        assert_non_null(strstr(err.msg, "LZ4"));
    }
    /* corrupt LZ4 data with a valid CRC32 */
    uint8_t junk[40];
    memset(junk, 0xF0, sizeof junk);
    hln_buf_reset(&b);
    uint64_t l = sizeof junk | (uint64_t)500 << 17 | (uint64_t)1 << 34;
    uint8_t hb[8];
    for (int k = 0; k < 5; k++)
        hb[k] = (uint8_t)(l >> (8 * k));
    uint32_t c = px_crc24(l, 5);
    for (int k = 0; k < 3; k++)
        hb[5 + k] = (uint8_t)(c >> (8 * k));
    hln_buf_put(&b, hb, 8);
    hln_buf_put(&b, junk, sizeof junk);
    uint8_t t[4];
    le4(t, px_crc32_v5(junk, sizeof junk));
    hln_buf_put(&b, t, 4);
    assert_int_equal(px_v5_in_take(&in, b.data, b.len, &used, &err), HLN_EPROTO);
    px_v5_in_free(&in);
    hln_buf_free(&b);
}

static void test_in_compact(void **state)
{
    (void)state;
    hln_buf env, wire;
    hln_buf_init(&env);
    hln_buf_init(&wire);
    put_envelope(&env, 1, 10, 1);
    put_envelope(&env, 2, 200000, 2);
    px_v5_frame_envelopes(&wire, env.data, env.len, false);
    px_v5_in in;
    px_v5_in_init(&in, false, MAXB);
    size_t used;
    hln_error err = {0};
    /* first frame: the small envelope whole + the start of the large one?
     * no: a large envelope never shares a frame, so two frames follow */
    assert_int_equal(px_v5_in_take(&in, wire.data, wire.len, &used, &err), 0);
    assert_int_equal(in.env.len, 19);
    size_t off = used;
    assert_int_equal(px_v5_in_take(&in, wire.data + off, wire.len - off, &used, &err), 0);
    off += used;
    assert_int_equal(in.large_at, 19);
    in.env_off = 19; /* the caller consumed the small envelope */
    px_v5_in_compact(&in);
    assert_int_equal(in.large_at, 0);
    assert_int_equal(in.env_off, 0);
    assert_int_equal(px_v5_in_take(&in, wire.data + off, wire.len - off, &used, &err), 0);
    assert_int_equal(in.large_left, 0);
    assert_int_equal(in.env.len, env.len - 19);
    assert_memory_equal(in.env.data, env.data + 19, env.len - 19);
    in.env_off = in.env.len;
    px_v5_in_compact(&in);
    assert_int_equal(in.env.len, 0);
    px_v5_in_free(&in);
    hln_buf_free(&env);
    hln_buf_free(&wire);
}

/* ---- v3/v4 body compression ------------------------------------------------------ */

static void body_roundtrip(int comp, size_t n)
{
    hln_buf in, z, out;
    hln_buf_init(&in);
    hln_buf_init(&z);
    hln_buf_init(&out);
    for (size_t i = 0; i < n; i++)
        hln_buf_u8(&in, (uint8_t)(i % 251 < 100 ? 'a' : i * 13));
    px_body_compress(comp, &z, in.data, n);
    assert_int_equal(z.err, 0);
    hln_error err = {0};
    assert_int_equal(px_body_decompress(comp, z.data, z.len, MAXB, &out, &err), 0);
    assert_int_equal(out.len, n);
    if (n) assert_memory_equal(out.data, in.data, n);
    /* a limit below the size is refused before anything is allocated */
    if (n > 10) {
        hln_buf_free(&out);
        assert_int_equal(px_body_decompress(comp, z.data, z.len, n - 1, &out, &err), HLN_EPROTO);
        assert_int_equal(out.cap, 0);
    }
    hln_buf_free(&in);
    hln_buf_free(&z);
    hln_buf_free(&out);
}

static void test_body_roundtrips(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 100, 70000, 1000000};
    for (size_t i = 0; i < HLN_ARRAY_LEN(sizes); i++) {
        body_roundtrip(PX_COMP_LZ4, sizes[i]);
        body_roundtrip(PX_COMP_SNAPPY, sizes[i]);
    }
    assert_int_equal(px_compression_parse("lz4"), PX_COMP_LZ4);
    assert_int_equal(px_compression_parse("LZ4"), PX_COMP_LZ4);
    assert_int_equal(px_compression_parse("Snappy"), PX_COMP_SNAPPY);
    assert_int_equal(px_compression_parse("zstd"), -1);
    assert_int_equal(px_compression_parse(""), -1);
}

static void test_body_lz4_rejects(void **state)
{
    (void)state;
    hln_buf z, out;
    hln_buf_init(&z);
    hln_buf_init(&out);
    hln_error err = {0};
    uint8_t data[1000];
    memset(data, 'x', sizeof data);
    px_body_compress(PX_COMP_LZ4, &z, data, sizeof data);
    /* shorter than the length prefix */
    assert_int_equal(px_body_decompress(PX_COMP_LZ4, z.data, 3, MAXB, &out, &err), HLN_EPROTO);
    /* lying length: one more, one less */
    z.data[3]++;
    assert_int_equal(px_body_decompress(PX_COMP_LZ4, z.data, z.len, MAXB, &out, &err), HLN_EPROTO);
    z.data[3] -= 2;
    assert_int_equal(px_body_decompress(PX_COMP_LZ4, z.data, z.len, MAXB, &out, &err), HLN_EPROTO);
    z.data[3]++;
    /* a huge claim for a tiny block: refused without allocating it */
    uint8_t lie[] = {0x00, 0xF0, 0x00, 0x00, 0x10, 'a'};
    hln_buf_free(&out);
    assert_int_equal(px_body_decompress(PX_COMP_LZ4, lie, sizeof lie, MAXB, &out, &err),
                     HLN_EPROTO);
    assert_int_equal(out.cap, 0);
    /* above the limit */
    uint8_t big[] = {0x7F, 0xFF, 0xFF, 0xFF, 0x00};
    assert_int_equal(px_body_decompress(PX_COMP_LZ4, big, sizeof big, MAXB, &out, &err),
                     HLN_EPROTO);
    assert_int_equal(out.cap, 0);
    /* truncated block */
    assert_int_equal(px_body_decompress(PX_COMP_LZ4, z.data, z.len - 2, MAXB, &out, &err),
                     HLN_EPROTO);
    /* garbage */
    uint8_t junk[64];
    memset(junk, 0xFF, sizeof junk);
    junk[0] = 0;
    junk[1] = 0;
    junk[2] = 1;
    junk[3] = 0;
    assert_int_equal(px_body_decompress(PX_COMP_LZ4, junk, sizeof junk, MAXB, &out, &err),
                     HLN_EPROTO);
    hln_buf_free(&z);
    hln_buf_free(&out);
}

static void test_body_snappy_rejects(void **state)
{
    (void)state;
    hln_buf z, out;
    hln_buf_init(&z);
    hln_buf_init(&out);
    hln_error err = {0};
    uint8_t data[1000];
    memset(data, 'y', sizeof data);
    px_body_compress(PX_COMP_SNAPPY, &z, data, sizeof data);
    /* truncated */
    assert_int_equal(px_body_decompress(PX_COMP_SNAPPY, z.data, z.len - 1, MAXB, &out, &err),
                     HLN_EPROTO);
    /* a claimed length (varint 0xFFFFFFFF0F = 4 GiB) far above the limit,
     * and a plausible one the data does not fill: no allocation */
    uint8_t lie[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 'a'};
    assert_int_equal(px_body_decompress(PX_COMP_SNAPPY, lie, sizeof lie, MAXB, &out, &err),
                     HLN_EPROTO);
    uint8_t lie2[] = {0x80, 0x80, 0x40, 0x00, 'a'}; /* 1 MiB announced, one literal byte */
    assert_int_equal(px_body_decompress(PX_COMP_SNAPPY, lie2, sizeof lie2, MAXB, &out, &err),
                     HLN_EPROTO);
    assert_int_equal(out.cap, 0);
    uint8_t junk[32];
    memset(junk, 0xA5, sizeof junk);
    assert_int_equal(px_body_decompress(PX_COMP_SNAPPY, junk, sizeof junk, MAXB, &out, &err),
                     HLN_EPROTO);
    hln_buf_free(&z);
    hln_buf_free(&out);
}

static void test_compress_envelopes(void **state)
{
    (void)state;
    for (int comp = PX_COMP_LZ4; comp <= PX_COMP_SNAPPY; comp++) {
        hln_buf env, z;
        hln_buf_init(&env);
        hln_buf_init(&z);
        put_envelope(&env, 1, 0, 0);
        put_envelope(&env, 2, 5000, 1);
        put_envelope(&env, -1, 30, 2);
        px_compress_envelopes(comp, &z, env.data, env.len);
        assert_int_equal(z.err, 0);
        /* read it back */
        size_t off = 0, eoff = 0;
        int k = 0;
        while (off < z.len) {
            px_header h, eh;
            hln_error err = {0};
            assert_int_equal(px_header_parse(z.data + off, z.len - off, MAXB, &h, &err), 0);
            assert_int_equal(px_header_parse(env.data + eoff, env.len - eoff, MAXB, &eh, &err), 0);
            assert_int_equal(h.stream, eh.stream);
            assert_int_equal(h.flags & PX_FLAG_COMPRESSION, eh.length ? PX_FLAG_COMPRESSION : 0);
            hln_buf body;
            hln_buf_init(&body);
            if (eh.length)
                assert_int_equal(
                    px_body_decompress(comp, z.data + off + 9, h.length, MAXB, &body, &err), 0);
            assert_int_equal(body.len, eh.length);
            if (eh.length) assert_memory_equal(body.data, env.data + eoff + 9, eh.length);
            hln_buf_free(&body);
            off += 9 + h.length;
            eoff += 9 + eh.length;
            k++;
        }
        assert_int_equal(k, 3);
        assert_int_equal(eoff, env.len);
        hln_buf_free(&env);
        hln_buf_free(&z);
    }
}

/* ---- v5 message bodies --------------------------------------------------------- */

static void test_v5_query_flags(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_long_string(&b, "SELECT 1", 8);
    hln_buf_u16(&b, 0x0001);                     /* ONE */
    hln_buf_u32(&b, 0x01 | 0x04 | 0x80 | 0x100); /* values, page size, keyspace, now */
    hln_buf_u16(&b, 1);
    hln_buf_bytes(&b, "\x00\x00\x00\x2A", 4);
    hln_buf_u32(&b, 50);
    hln_buf_string(&b, "ks5");
    hln_buf_u32(&b, 1700000000);
    hln_arena a;
    hln_arena_init(&a, 1024);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const char *cql;
    size_t len;
    ex_params p;
    memset(&p, 0, sizeof p);
    hln_error err = {0};
    assert_int_equal(px_decode_query(&r, 5, &a, &cql, &len, &p, &err), 0);
    assert_string_equal(cql, "SELECT 1");
    assert_int_equal(p.nvalues, 1);
    assert_int_equal(p.page_size, 50);
    assert_string_equal(p.keyspace, "ks5");
    assert_int_equal(hln_rd_left(&r), 0);
    /* the same body read as v4 sees flags 0 (a byte there) and nothing else */
    hln_rd_init(&r, b.data, b.len);
    memset(&p, 0, sizeof p);
    assert_int_equal(px_decode_query(&r, 4, &a, &cql, &len, &p, &err), 0);
    assert_int_equal(p.nvalues, 0);
    assert_null(p.keyspace);
    /* truncated after the keyspace flag */
    hln_rd_init(&r, b.data, b.len - 6);
    memset(&p, 0, sizeof p);
    assert_int_equal(px_decode_query(&r, 5, &a, &cql, &len, &p, &err), HLN_EPROTO);
    hln_arena_free(&a);
    hln_buf_free(&b);
}

static void test_v5_prepare_execute(void **state)
{
    (void)state;
    hln_arena a;
    hln_arena_init(&a, 1024);
    hln_error err = {0};
    hln_buf b;
    hln_buf_init(&b);
    /* PREPARE <query><flags: keyspace><keyspace> */
    hln_buf_long_string(&b, "SELECT v FROM t", 15);
    hln_buf_u32(&b, 0x01);
    hln_buf_string(&b, "myks");
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const char *cql, *ks;
    size_t len;
    assert_int_equal(px_decode_prepare_ks(&r, 5, &a, &cql, &len, &ks, &err), 0);
    assert_string_equal(cql, "SELECT v FROM t");
    assert_string_equal(ks, "myks");
    /* no flags at all is malformed in v5 (Cassandra reads them always) */
    hln_rd_init(&r, b.data, 4 + 15);
    assert_int_equal(px_decode_prepare_ks(&r, 5, &a, &cql, &len, &ks, &err), HLN_EPROTO);
    hln_rd_init(&r, b.data, 4 + 15);
    assert_int_equal(px_decode_prepare_ks(&r, 4, &a, &cql, &len, &ks, &err), 0);
    assert_null(ks);

    /* EXECUTE <id><result_metadata_id><params> */
    hln_buf_reset(&b);
    uint8_t id[16], md[16];
    memset(id, 0x11, sizeof id);
    memset(md, 0x22, sizeof md);
    hln_buf_u16(&b, 16);
    hln_buf_put(&b, id, 16);
    hln_buf_u16(&b, 16);
    hln_buf_put(&b, md, 16);
    hln_buf_u16(&b, 0x0004); /* QUORUM */
    hln_buf_u32(&b, 0x02);   /* skip metadata */
    hln_rd_init(&r, b.data, b.len);
    const uint8_t *gid, *gmd;
    size_t idlen, mdlen;
    ex_params p;
    memset(&p, 0, sizeof p);
    assert_int_equal(px_decode_execute_md(&r, 5, &a, &gid, &idlen, &gmd, &mdlen, &p, &err), 0);
    assert_int_equal(idlen, 16);
    assert_memory_equal(gid, id, 16);
    assert_int_equal(mdlen, 16);
    assert_memory_equal(gmd, md, 16);
    assert_true(p.skip_metadata);
    assert_int_equal(p.consistency, 4);
    assert_null(p.keyspace);
    /* without the metadata id: the params are misread, the body too short */
    hln_buf_reset(&b);
    hln_buf_u16(&b, 16);
    hln_buf_put(&b, id, 16);
    hln_buf_u16(&b, 0x0004);
    hln_buf_u32(&b, 0);
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(px_decode_execute_md(&r, 5, &a, &gid, &idlen, &gmd, &mdlen, &p, &err),
                     HLN_EPROTO);
    hln_buf_free(&b);
    hln_arena_free(&a);
}

static void test_v5_result_metadata_id(void **state)
{
    (void)state;
    /* no columns: MD5 of nothing, as Cassandra's empty result metadata */
    uint8_t id[16];
    px_result_metadata_id(NULL, 0, id);
    const uint8_t empty_md5[16] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
                                   0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};
    assert_memory_equal(id, empty_md5, 16);

    ex_colspec cols[2] = {{"ks", "t", "k", hln_type_by_kind(HLN_T_INT)},
                          {"ks", "t", "v", hln_type_by_kind(HLN_T_VARCHAR)}};
    uint8_t a[16], b2[16];
    px_result_metadata_id(cols, 2, a);
    px_result_metadata_id(cols, 2, b2);
    assert_memory_equal(a, b2, 16);
    cols[1].type = hln_type_by_kind(HLN_T_BLOB);
    px_result_metadata_id(cols, 2, b2);
    assert_memory_not_equal(a, b2, 16);
    cols[1].type = hln_type_by_kind(HLN_T_VARCHAR);

    /* PREPARED in v5 carries it after the statement id */
    ex_result res;
    memset(&res, 0, sizeof res);
    res.kind = EX_PREPARED;
    memset(res.id, 0x33, sizeof res.id);
    res.cols = cols;
    res.ncols = 2;
    hln_buf out;
    hln_buf_init(&out);
    px_encode_result(&out, 5, &res);
    assert_int_equal(out.data[3], EX_PREPARED);
    assert_int_equal(out.data[4] << 8 | out.data[5], 16);
    assert_int_equal(out.data[22] << 8 | out.data[23], 16);
    assert_memory_equal(out.data + 24, a, 16);
    hln_buf_reset(&out);
    px_encode_result(&out, 4, &res); /* not in v4: bind metadata flags follow the id */
    assert_int_equal(out.data[22] << 8 | out.data[23], 0);

    /* Rows answering a v5 EXECUTE: same id -> as px_encode_result; other id
     * -> Metadata_changed + new id + full metadata even with no_metadata */
    ex_value cells[2] = {{(const uint8_t *)"\0\0\0\1", 4}, {(const uint8_t *)"x", 1}};
    memset(&res, 0, sizeof res);
    res.kind = EX_ROWS;
    res.cols = cols;
    res.ncols = 2;
    res.cells = cells;
    res.nrows = 1;
    res.no_metadata = true;
    hln_buf plain;
    hln_buf_init(&plain);
    px_encode_result(&plain, 5, &res);
    hln_buf_reset(&out);
    px_encode_result_md(&out, 5, &res, a, 16);
    assert_int_equal(out.len, plain.len);
    assert_memory_equal(out.data, plain.data, plain.len);
    assert_int_equal(out.data[7], 0x04); /* No_metadata */
    uint8_t other[16] = {0};
    hln_buf_reset(&out);
    px_encode_result_md(&out, 5, &res, other, 16);
    assert_int_equal(out.data[7], 0x08 | 0x01); /* Metadata_changed, global table spec */
    assert_int_equal(out.data[12] << 8 | out.data[13], 16);
    assert_memory_equal(out.data + 14, a, 16);
    assert_true(out.len > plain.len + 18);
    /* v4 ignores the id */
    hln_buf_reset(&out);
    hln_buf_reset(&plain);
    px_encode_result_md(&out, 4, &res, other, 16);
    px_encode_result(&plain, 4, &res);
    assert_int_equal(out.len, plain.len);
    hln_buf_free(&plain);
    hln_buf_free(&out);
}

static void test_v5_header_and_supported(void **state)
{
    (void)state;
    px_header h;
    hln_error err = {0};
    const uint8_t v5[] = {0x05, 0x10, 0x00, 0x07, 0x07, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(px_header_parse(v5, sizeof v5, MAXB, &h, &err), 0);
    assert_int_equal(h.version, 5);
    assert_int_equal(h.flags, PX_FLAG_BETA);
    const uint8_t v6[] = {0x06, 0x00, 0x00, 0x07, 0x07, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(px_header_parse(v6, sizeof v6, MAXB, &h, &err), HLN_EBADVERSION);
    assert_string_equal(err.msg, "Invalid or unsupported protocol version (6); supported "
                                 "versions are (3/v3, 4/v4, 5/v5)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc24_known),
        cmocka_unit_test(test_crc32_known),
        cmocka_unit_test(test_frame_bytes_match_driver),
        cmocka_unit_test(test_frame_roundtrip_small),
        cmocka_unit_test(test_frame_packing),
        cmocka_unit_test(test_frame_split_large),
        cmocka_unit_test(test_frame_lz4_compresses),
        cmocka_unit_test(test_in_partial),
        cmocka_unit_test(test_in_bad_crc),
        cmocka_unit_test(test_in_large_corruption),
        cmocka_unit_test(test_in_misaligned),
        cmocka_unit_test(test_in_lying_lz4),
        cmocka_unit_test(test_in_compact),
        cmocka_unit_test(test_body_roundtrips),
        cmocka_unit_test(test_body_lz4_rejects),
        cmocka_unit_test(test_body_snappy_rejects),
        cmocka_unit_test(test_compress_envelopes),
        cmocka_unit_test(test_v5_query_flags),
        cmocka_unit_test(test_v5_prepare_execute),
        cmocka_unit_test(test_v5_result_metadata_id),
        cmocka_unit_test(test_v5_header_and_supported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
