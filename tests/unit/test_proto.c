/* modules: common types proto */
/*
 * test_proto.c — the native protocol codec: header parsing, request
 * decoding (QUERY/EXECUTE parameters, STARTUP, REGISTER), truncated and
 * malformed bodies, and byte-exact response encoding on small cases.
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

/* ---- helpers ---------------------------------------------------------- */

static void expect_bytes(const hln_buf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->err, 0);
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        print_error("got %zu bytes:", b->len);
        for (size_t i = 0; i < b->len; i++)
            print_error(" %02x", b->data[i]);
        print_error("\nwant %zu bytes:", n);
        for (size_t i = 0; i < n; i++)
            print_error(" %02x", want[i]);
        print_error("\n");
        fail();
    }
}

/* ---- headers ------------------------------------------------------------ */

static void test_header_good(void **state)
{
    (void)state;
    const uint8_t f[] = {0x04, 0x00, 0x00, 0x05, 0x05, 0x00, 0x00, 0x00, 0x2A};
    px_header h;
    hln_error err = {0};
    assert_int_equal(px_header_parse(f, sizeof f, MAXB, &h, &err), 0);
    assert_int_equal(h.version, 4);
    assert_false(h.response);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.stream, 5);
    assert_int_equal(h.opcode, PX_OPTIONS);
    assert_int_equal(h.length, 42);

    const uint8_t g[] = {0x83, 0x02, 0xFF, 0xFF, 0x0C, 0x00, 0x01, 0x00, 0x00};
    assert_int_equal(px_header_parse(g, sizeof g, MAXB, &h, &err), 0);
    assert_int_equal(h.version, 3);
    assert_true(h.response);
    assert_int_equal(h.flags, PX_FLAG_TRACING);
    assert_int_equal(h.stream, -1);
    assert_int_equal(h.opcode, PX_EVENT);
    assert_int_equal(h.length, 65536);
}

static void test_header_short(void **state)
{
    (void)state;
    const uint8_t f[] = {0x04, 0x00, 0x00, 0x05, 0x05, 0x00, 0x00, 0x00, 0x00};
    px_header h;
    hln_error err = {0};
    for (size_t n = 0; n < sizeof f; n++)
        assert_int_equal(px_header_parse(f, n, MAXB, &h, &err), HLN_EAGAIN);
}

static void test_header_bad_version(void **state)
{
    (void)state;
    px_header h;
    hln_error err = {0};
    const uint8_t v6[] = {0x06, 0x00, 0x00, 0x07, 0x05, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(px_header_parse(v6, sizeof v6, MAXB, &h, &err), HLN_EBADVERSION);
    assert_int_equal(err.code, HLN_EBADVERSION);
    assert_string_equal(err.msg, "Invalid or unsupported protocol version (6); supported "
                                 "versions are (3/v3, 4/v4, 5/v5)");
    assert_int_equal(h.version, 6);
    assert_int_equal(h.stream, 7);

    /* decided on the first byte alone: DSE's 0x42 */
    const uint8_t dse[] = {0x42};
    assert_int_equal(px_header_parse(dse, 1, MAXB, &h, &err), HLN_EBADVERSION);
    assert_int_equal(h.version, 66);
    assert_int_equal(h.stream, 0);
    assert_non_null(strstr(err.msg, "(66)"));

    /* v2: 8-byte header, one-byte stream */
    const uint8_t v2[] = {0x02, 0x00, 0x09, 0x05, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(px_header_parse(v2, sizeof v2, MAXB, &h, &err), HLN_EBADVERSION);
    assert_int_equal(h.version, 2);
    assert_int_equal(h.stream, 9);

    const uint8_t zero[] = {0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(px_header_parse(zero, sizeof zero, MAXB, &h, &err), HLN_EBADVERSION);
}

static void test_header_too_big(void **state)
{
    (void)state;
    px_header h;
    hln_error err = {0};
    /* 300,000,000 bytes = 0x11E1A300 */
    const uint8_t f[] = {0x04, 0x00, 0x00, 0x03, 0x07, 0x11, 0xE1, 0xA3, 0x00};
    assert_int_equal(px_header_parse(f, sizeof f, MAXB, &h, &err), HLN_ETOOBIG);
    assert_int_equal(h.stream, 3);
    assert_int_equal(h.length, 300000000u);
    assert_string_equal(err.msg, "Request is too big: length 300000009 exceeds maximum allowed "
                                 "length 16777216.");
    assert_int_equal(px_errcode_for(err.code), PX_ERR_INVALID);
    /* exactly at the limit is fine */
    const uint8_t g[] = {0x04, 0x00, 0x00, 0x03, 0x07, 0x00, 0xFF, 0xFF, 0xF7};
    assert_int_equal(px_header_parse(g, sizeof g, MAXB, &h, &err), 0);
}

/* ---- request bodies ----------------------------------------------------- */

/* QUERY "SELECT ?" ONE, flags values|page_size|paging_state|serial|timestamp,
 * values: int 42, null, unset; page 100; paging state ab cd ef;
 * serial LOCAL_SERIAL; timestamp 1234567890. */
static void build_query(hln_buf *b, uint8_t flags_extra, bool named)
{
    hln_buf_long_string(b, "SELECT ?", 8);
    hln_buf_u16(b, EX_CL_ONE);
    hln_buf_u8(b, (uint8_t)(0x01 | 0x04 | 0x08 | 0x10 | 0x20 | flags_extra | (named ? 0x40 : 0)));
    hln_buf_u16(b, 3);
    if (named) hln_buf_string(b, "a");
    const uint8_t v[4] = {0, 0, 0, 42};
    hln_buf_bytes(b, v, 4);
    if (named) hln_buf_string(b, "b");
    hln_buf_u32(b, (uint32_t)-1);
    if (named) hln_buf_string(b, "c");
    hln_buf_u32(b, (uint32_t)-2);
    hln_buf_u32(b, 100);
    const uint8_t ps[3] = {0xAB, 0xCD, 0xEF};
    hln_buf_bytes(b, ps, 3);
    hln_buf_u16(b, 0x0009);
    hln_buf_u64(b, 1234567890);
}

static void test_decode_query(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    build_query(&b, 0x02, false);
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const char *cql;
    size_t len;
    ex_params p;
    memset(&p, 0x5A, sizeof p);
    p.keyspace = "kept";
    hln_error err = {0};
    assert_int_equal(px_decode_query(&r, 4, &a, &cql, &len, &p, &err), 0);
    assert_int_equal(len, 8);
    assert_string_equal(cql, "SELECT ?");
    assert_string_equal(p.keyspace, "kept"); /* the decoder leaves it alone */
    assert_int_equal(p.consistency, EX_CL_ONE);
    assert_true(p.skip_metadata);
    assert_int_equal(p.nvalues, 3);
    assert_null(p.names);
    assert_int_equal(p.values[0].len, 4);
    assert_int_equal(p.values[0].p[3], 42);
    assert_int_equal(p.values[1].len, -1);
    assert_int_equal(p.values[2].len, -2);
    assert_int_equal(p.page_size, 100);
    assert_int_equal(p.paging_len, 3);
    assert_int_equal(p.paging_state[0], 0xAB);
    assert_int_equal(p.serial_consistency, 9);
    assert_true(p.timestamp == 1234567890);
    assert_int_equal(hln_rd_left(&r), 0);

    /* v3 has no unset: -2 reads as null */
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(px_decode_query(&r, 3, &a, &cql, &len, &p, &err), 0);
    assert_int_equal(p.values[2].len, -1);
    hln_buf_free(&b);
    hln_arena_free(&a);
}

static void test_decode_query_named(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    build_query(&b, 0, true);
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const char *cql;
    size_t len;
    ex_params p;
    hln_error err = {0};
    assert_int_equal(px_decode_query(&r, 4, &a, &cql, &len, &p, &err), 0);
    assert_false(p.skip_metadata);
    assert_int_equal(p.nvalues, 3);
    assert_non_null(p.names);
    assert_string_equal(p.names[0], "a");
    assert_string_equal(p.names[1], "b");
    assert_string_equal(p.names[2], "c");
    assert_int_equal(p.values[0].len, 4);
    assert_int_equal(p.values[1].len, -1);
    assert_int_equal(p.values[2].len, -2);
    hln_buf_free(&b);
    hln_arena_free(&a);
}

static void test_decode_query_defaults(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_long_string(&b, "USE ks", 6);
    hln_buf_u16(&b, EX_CL_LOCAL_ONE);
    hln_buf_u8(&b, 0);
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const char *cql;
    size_t len;
    ex_params p;
    memset(&p, 0x5A, sizeof p);
    hln_error err = {0};
    assert_int_equal(px_decode_query(&r, 4, &a, &cql, &len, &p, &err), 0);
    assert_string_equal(cql, "USE ks");
    assert_int_equal(p.consistency, EX_CL_LOCAL_ONE);
    assert_int_equal(p.nvalues, 0);
    assert_null(p.values);
    assert_null(p.names);
    assert_true(p.page_size <= 0);
    assert_null(p.paging_state);
    assert_int_equal(p.serial_consistency, 8); /* SERIAL */
    assert_true(p.timestamp == HLN_TS_NONE);
    assert_false(p.skip_metadata);
    hln_buf_free(&b);
    hln_arena_free(&a);
}

static void test_decode_execute(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    uint8_t id[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(0xA0 + i);
    hln_buf_u16(&b, 16);
    hln_buf_put(&b, id, 16);
    hln_buf_u16(&b, 0x0004); /* QUORUM */
    hln_buf_u8(&b, 0x01 | 0x02);
    hln_buf_u16(&b, 1);
    hln_buf_bytes(&b, "hi", 2);
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const uint8_t *gid;
    size_t idlen;
    ex_params p;
    hln_error err = {0};
    assert_int_equal(px_decode_execute(&r, 4, &a, &gid, &idlen, &p, &err), 0);
    assert_int_equal(idlen, 16);
    assert_memory_equal(gid, id, 16);
    assert_int_equal(p.consistency, EX_CL_QUORUM);
    assert_true(p.skip_metadata);
    assert_int_equal(p.nvalues, 1);
    assert_int_equal(p.values[0].len, 2);
    assert_memory_equal(p.values[0].p, "hi", 2);
    assert_true(p.timestamp == HLN_TS_NONE);
    hln_buf_free(&b);
    hln_arena_free(&a);
}

static void test_decode_prepare(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_long_string(&b, "INSERT INTO t (k) VALUES (?)", 28);
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const char *cql;
    size_t len;
    hln_error err = {0};
    assert_int_equal(px_decode_prepare(&r, 4, &a, &cql, &len, &err), 0);
    assert_int_equal(len, 28);
    assert_string_equal(cql, "INSERT INTO t (k) VALUES (?)");
    hln_buf_free(&b);
    hln_arena_free(&a);
}

static void test_decode_startup_register(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u16(&b, 2);
    hln_buf_string(&b, "CQL_VERSION");
    hln_buf_string(&b, "3.0.0");
    hln_buf_string(&b, "DRIVER_NAME");
    hln_buf_string(&b, "test");
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    px_startup st;
    hln_error err = {0};
    assert_int_equal(px_decode_startup(&r, &a, &st, &err), 0);
    assert_int_equal(st.nopts, 2);
    assert_string_equal(st.opts[0].key, "CQL_VERSION");
    assert_string_equal(st.opts[0].value, "3.0.0");
    assert_string_equal(st.opts[1].value, "test");

    hln_buf_reset(&b);
    hln_buf_u16(&b, 3);
    hln_buf_string(&b, "TOPOLOGY_CHANGE");
    hln_buf_string(&b, "STATUS_CHANGE");
    hln_buf_string(&b, "SCHEMA_CHANGE");
    hln_rd_init(&r, b.data, b.len);
    const char **types;
    int n;
    assert_int_equal(px_decode_register(&r, &a, &types, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(types[2], "SCHEMA_CHANGE");
    hln_buf_free(&b);
    hln_arena_free(&a);
}

/* Every proper prefix of a valid body must fail cleanly with EPROTO. */
static void test_truncated_bodies(void **state)
{
    (void)state;
    hln_buf q, e, s;
    hln_buf_init(&q);
    hln_buf_init(&e);
    hln_buf_init(&s);
    build_query(&q, 0, true);
    hln_buf_u16(&e, 2);
    hln_buf_put(&e, "id", 2);
    hln_buf_u16(&e, 1);
    hln_buf_u8(&e, 0x01 | 0x20);
    hln_buf_u16(&e, 1);
    hln_buf_bytes(&e, "abcd", 4);
    hln_buf_u64(&e, 7);
    hln_buf_u16(&s, 1);
    hln_buf_string(&s, "CQL_VERSION");
    hln_buf_string(&s, "3.0.0");
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_error err = {0};
    ex_params p;
    const char *cql;
    size_t len;
    const uint8_t *id;
    px_startup st;
    for (size_t n = 0; n < q.len; n++) {
        hln_rd r;
        hln_rd_init(&r, q.data, n);
        err.code = 0;
        assert_int_equal(px_decode_query(&r, 4, &a, &cql, &len, &p, &err), HLN_EPROTO);
        assert_int_equal(err.code, HLN_EPROTO);
        assert_true(err.msg[0] != 0);
    }
    for (size_t n = 0; n < e.len; n++) {
        hln_rd r;
        hln_rd_init(&r, e.data, n);
        assert_int_equal(px_decode_execute(&r, 4, &a, &id, &len, &p, &err), HLN_EPROTO);
    }
    for (size_t n = 0; n < s.len; n++) {
        hln_rd r;
        hln_rd_init(&r, s.data, n);
        assert_int_equal(px_decode_startup(&r, &a, &st, &err), HLN_EPROTO);
    }
    for (size_t n = 0; n < 4; n++) {
        hln_rd r;
        hln_rd_init(&r, q.data, n);
        assert_int_equal(px_decode_prepare(&r, 4, &a, &cql, &len, &err), HLN_EPROTO);
    }
    hln_buf_free(&q);
    hln_buf_free(&e);
    hln_buf_free(&s);
    hln_arena_free(&a);
}

static int decode_params_of(const uint8_t *tail, size_t n, hln_error *err)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_long_string(&b, "x", 1);
    hln_buf_put(&b, tail, n);
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    const char *cql;
    size_t len;
    ex_params p;
    int rc = px_decode_query(&r, 4, &a, &cql, &len, &p, err);
    hln_buf_free(&b);
    hln_arena_free(&a);
    return rc;
}

static void test_malformed_params(void **state)
{
    (void)state;
    hln_error err = {0};
    /* value length -3 */
    const uint8_t neg[] = {0, 1, 0x01, 0, 1, 0xFF, 0xFF, 0xFF, 0xFD};
    assert_int_equal(decode_params_of(neg, sizeof neg, &err), HLN_EPROTO);
    assert_string_equal(err.msg, "Invalid ByteBuf length -3");
    /* page size 0 */
    const uint8_t page0[] = {0, 1, 0x04, 0, 0, 0, 0};
    assert_int_equal(decode_params_of(page0, sizeof page0, &err), HLN_EPROTO);
    assert_string_equal(err.msg, "The page size cannot be 0");
    /* unknown consistency */
    const uint8_t cl[] = {0, 0x0B, 0x00};
    assert_int_equal(decode_params_of(cl, sizeof cl, &err), HLN_EPROTO);
    assert_string_equal(err.msg, "Unknown code 11 for a consistency level");
    /* 65535 values announced in a few bytes: refused before allocating */
    const uint8_t many[] = {0, 1, 0x01, 0xFF, 0xFF, 0, 0, 0, 0};
    assert_int_equal(decode_params_of(many, sizeof many, &err), HLN_EPROTO);
    /* timestamp Long.MIN_VALUE */
    const uint8_t ts[] = {0, 1, 0x20, 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(decode_params_of(ts, sizeof ts, &err), HLN_EPROTO);
    /* negative long string length */
    hln_arena a;
    hln_arena_init(&a, 0);
    const uint8_t negs[] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0};
    hln_rd r;
    hln_rd_init(&r, negs, sizeof negs);
    const char *cql;
    size_t len;
    ex_params p;
    assert_int_equal(px_decode_query(&r, 4, &a, &cql, &len, &p, &err), HLN_EPROTO);
    hln_arena_free(&a);
    /* a paging state given as null is no paging state */
    const uint8_t nullps[] = {0, 1, 0x08, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(decode_params_of(nullps, sizeof nullps, &err), 0);
}

/* ---- responses ----------------------------------------------------------- */

static void test_encode_ready_void(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    size_t off = px_frame_begin(&b, 4, 0, 3, PX_READY);
    px_encode_ready(&b);
    px_frame_end(&b, off);
    const uint8_t ready[] = {0x84, 0, 0, 3, 0x02, 0, 0, 0, 0};
    expect_bytes(&b, ready, sizeof ready);

    hln_buf_reset(&b);
    ex_result res;
    memset(&res, 0, sizeof res);
    res.kind = EX_VOID;
    off = px_frame_begin(&b, 4, 0, 0x1234, PX_RESULT);
    px_encode_result(&b, 4, &res);
    px_frame_end(&b, off);
    const uint8_t v[] = {0x84, 0, 0x12, 0x34, 0x08, 0, 0, 0, 4, 0, 0, 0, 1};
    expect_bytes(&b, v, sizeof v);

    /* two frames in one buffer; the second is v3 on stream -1 */
    off = px_frame_begin(&b, 3, 0, -1, PX_READY);
    px_frame_end(&b, off);
    assert_int_equal(b.len, sizeof v + 9);
    const uint8_t second[] = {0x83, 0, 0xFF, 0xFF, 0x02, 0, 0, 0, 0};
    assert_memory_equal(b.data + sizeof v, second, 9);
    hln_buf_free(&b);
}

static void test_encode_v2_error_header(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_error err = {0};
    hln_fail(&err, HLN_EBADVERSION, "v");
    size_t off = px_frame_begin(&b, 2, 0, 9, PX_ERROR);
    px_encode_error(&b, 4, &err);
    px_frame_end(&b, off);
    const uint8_t want[] = {0x82, 0, 9, 0x00, 0, 0, 0, 7, 0, 0, 0, 0x0A, 0, 1, 'v'};
    expect_bytes(&b, want, sizeof want);
    hln_buf_free(&b);
}

static void test_encode_errors(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_error err = {0};
    hln_fail(&err, HLN_EEXISTS, "dup");
    strcpy(err.ks, "ks");
    strcpy(err.table, "t");
    px_encode_error(&b, 4, &err);
    const uint8_t exists[] = {0, 0, 0x24, 0, 0, 3, 'd', 'u', 'p', 0, 2, 'k', 's', 0, 1, 't'};
    expect_bytes(&b, exists, sizeof exists);

    hln_buf_reset(&b);
    memset(&err, 0, sizeof err);
    hln_fail(&err, HLN_EEXISTS, "k");
    strcpy(err.ks, "ks");
    px_encode_error(&b, 4, &err); /* a keyspace: table is the empty string */
    const uint8_t ksexists[] = {0, 0, 0x24, 0, 0, 1, 'k', 0, 2, 'k', 's', 0, 0};
    expect_bytes(&b, ksexists, sizeof ksexists);

    hln_buf_reset(&b);
    memset(&err, 0, sizeof err);
    hln_fail(&err, HLN_EUNPREPARED, "u");
    for (int i = 0; i < 16; i++)
        err.id[i] = (uint8_t)i;
    px_encode_error(&b, 4, &err);
    uint8_t unp[4 + 3 + 2 + 16] = {0, 0, 0x25, 0, 0, 1, 'u', 0, 16};
    for (int i = 0; i < 16; i++)
        unp[9 + i] = (uint8_t)i;
    expect_bytes(&b, unp, sizeof unp);

    /* WriteTimeout (a write that waited for memtable space): <cl><received>
       <blockfor><writeType>; Overloaded has no extras */
    hln_buf_reset(&b);
    memset(&err, 0, sizeof err);
    hln_fail(&err, HLN_EWRITETIMEOUT, "w");
    strcpy(err.table, "BATCH");
    err.id[0] = 0;
    err.id[1] = 4; /* QUORUM */
    px_encode_error(&b, 4, &err);
    const uint8_t wto[] = {0, 0, 0x11, 0, 0, 1, 'w', 0,   4,   0,   0,   0,
                           0, 0, 0,    0, 1, 0, 5,   'B', 'A', 'T', 'C', 'H'};
    expect_bytes(&b, wto, sizeof wto);
    /* a conditional write's: type CAS, and from v5 its contentions */
    hln_buf_reset(&b);
    memset(&err, 0, sizeof err);
    hln_fail(&err, HLN_EWRITETIMEOUT, "w");
    strcpy(err.table, "CAS");
    err.id[1] = 8; /* SERIAL */
    px_encode_error(&b, 4, &err);
    /* (before v5 worded as an ordinary timeout) */
    static const char plain[] = "Operation timed out - received only 0 responses.";
    assert_int_equal(b.len, 4 + 2 + strlen(plain) + 2 + 8 + 2 + 3);
    assert_memory_equal(b.data + 6, plain, strlen(plain));
    const uint8_t cas4[] = {0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3, 'C', 'A', 'S'};
    assert_memory_equal(b.data + 6 + strlen(plain), cas4, sizeof cas4);
    hln_buf_reset(&b);
    px_encode_error(&b, 5, &err);
    const uint8_t cas5[] = {0, 0, 0x11, 0, 0, 1, 'w', 0,   8,   0,   0, 0,
                            0, 0, 0,    0, 1, 0, 3,   'C', 'A', 'S', 0, 0};
    expect_bytes(&b, cas5, sizeof cas5);
    hln_buf_reset(&b);
    memset(&err, 0, sizeof err);
    hln_fail(&err, HLN_EOVERLOADED, "o");
    px_encode_error(&b, 4, &err);
    const uint8_t ovl[] = {0, 0, 0x10, 0x01, 0, 1, 'o'};
    expect_bytes(&b, ovl, sizeof ovl);

    hln_buf_reset(&b);
    hln_fail(&err, HLN_ESYNTAX, "line 1:0 no viable alternative");
    px_encode_error(&b, 4, &err);
    assert_int_equal(b.len, 4 + 2 + strlen(err.msg));
    assert_int_equal(b.data[2], 0x20);
    hln_buf_free(&b);
}

static void test_errcode_for(void **state)
{
    (void)state;
    assert_int_equal(px_errcode_for(HLN_ESYNTAX), 0x2000);
    assert_int_equal(px_errcode_for(HLN_EINVAL), 0x2200);
    assert_int_equal(px_errcode_for(HLN_ENOTFOUND), 0x2200);
    assert_int_equal(px_errcode_for(HLN_EUNSUPPORTED), 0x2200);
    assert_int_equal(px_errcode_for(HLN_ETOOBIG), 0x2200);
    assert_int_equal(px_errcode_for(HLN_EEXISTS), 0x2400);
    assert_int_equal(px_errcode_for(HLN_EUNPREPARED), 0x2500);
    assert_int_equal(px_errcode_for(HLN_EPROTO), 0x000A);
    assert_int_equal(px_errcode_for(HLN_EBADVERSION), 0x000A);
    assert_int_equal(px_errcode_for(HLN_ECONFIG), 0x2300);
    assert_int_equal(px_errcode_for(HLN_EIO), 0x0000);
    assert_int_equal(px_errcode_for(HLN_ENOMEM), 0x0000);
    assert_int_equal(px_errcode_for(HLN_ECORRUPT), 0x0000);
    assert_int_equal(px_errcode_for(HLN_ESERVER), 0x0000);
}

static void test_encode_rows(void **state)
{
    (void)state;
    const hln_type *ti = hln_type_by_name("int"), *tt = hln_type_by_name("text");
    assert_non_null(ti);
    assert_non_null(tt);
    ex_colspec cols[2] = {{"ks", "t", "k", ti}, {"ks", "t", "v", tt}};
    const uint8_t one[4] = {0, 0, 0, 1};
    ex_value cells[4] = {{one, 4}, {(const uint8_t *)"a", 1}, {one, 4}, {NULL, -1}};
    ex_result res;
    memset(&res, 0, sizeof res);
    res.kind = EX_ROWS;
    res.cols = cols;
    res.ncols = 2;
    res.cells = cells;
    res.nrows = 2;
    hln_buf b;
    hln_buf_init(&b);
    px_encode_result(&b, 4, &res);
    /* clang-format off */
    const uint8_t want[] = {
        0, 0, 0, 2,                          /* Rows */
        0, 0, 0, 1, 0, 0, 0, 2,              /* flags: global tables spec; 2 columns */
        0, 2, 'k', 's', 0, 1, 't',           /* ks, table */
        0, 1, 'k', 0, 0x09,                  /* k int */
        0, 1, 'v', 0, 0x0D,                  /* v varchar */
        0, 0, 0, 2,                          /* 2 rows */
        0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, 'a',
        0, 0, 0, 4, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF,
    };
    /* clang-format on */
    expect_bytes(&b, want, sizeof want);

    /* columns of two tables, more pages: per-column specs, paging state */
    cols[1].table = "u";
    res.paging_state = (const uint8_t *)"\x01\x02";
    res.paging_len = 2;
    res.nrows = 0;
    hln_buf_reset(&b);
    px_encode_result(&b, 4, &res);
    /* clang-format off */
    const uint8_t want2[] = {
        0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,  /* has_more_pages; 2 columns */
        0, 0, 0, 2, 1, 2,                    /* paging state */
        0, 2, 'k', 's', 0, 1, 't', 0, 1, 'k', 0, 0x09,
        0, 2, 'k', 's', 0, 1, 'u', 0, 1, 'v', 0, 0x0D,
        0, 0, 0, 0,
    };
    /* clang-format on */
    expect_bytes(&b, want2, sizeof want2);

    /* skip_metadata: flags and count only */
    res.no_metadata = true;
    res.paging_state = NULL;
    res.nrows = 1;
    hln_buf_reset(&b);
    px_encode_result(&b, 4, &res);
    /* clang-format off */
    const uint8_t want3[] = {
        0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 1,
        0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, 'a',
    };
    /* clang-format on */
    expect_bytes(&b, want3, sizeof want3);
    hln_buf_free(&b);
}

static void test_encode_prepared(void **state)
{
    (void)state;
    const hln_type *ti = hln_type_by_name("int");
    ex_colspec binds[1] = {{"ks", "t", "k", ti}};
    ex_colspec cols[1] = {{"ks", "t", "v", ti}};
    int pk[1] = {0};
    ex_result res;
    memset(&res, 0, sizeof res);
    res.kind = EX_PREPARED;
    for (int i = 0; i < 16; i++)
        res.id[i] = (uint8_t)(0xF0 + i);
    res.binds = binds;
    res.nbinds = 1;
    res.pk_indexes = pk;
    res.npk_indexes = 1;
    res.cols = cols;
    res.ncols = 1;
    hln_buf b;
    hln_buf_init(&b);
    px_encode_result(&b, 4, &res);
    /* clang-format off */
    uint8_t want[] = {
        0, 0, 0, 4, 0, 16,
        0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7,
        0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF,
        0, 0, 0, 1, 0, 0, 0, 1,              /* global; 1 bind marker */
        0, 0, 0, 1, 0, 0,                    /* 1 pk index: 0 */
        0, 2, 'k', 's', 0, 1, 't', 0, 1, 'k', 0, 0x09,
        0, 0, 0, 1, 0, 0, 0, 1,              /* result metadata: global; 1 column */
        0, 2, 'k', 's', 0, 1, 't', 0, 1, 'v', 0, 0x09,
    };
    /* clang-format on */
    expect_bytes(&b, want, sizeof want);

    /* v3: no pk indexes; a non-SELECT: result metadata is No_metadata, 0 */
    res.ncols = 0;
    hln_buf_reset(&b);
    px_encode_result(&b, 3, &res);
    /* clang-format off */
    uint8_t want3[] = {
        0, 0, 0, 4, 0, 16,
        0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7,
        0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF,
        0, 0, 0, 1, 0, 0, 0, 1,
        0, 2, 'k', 's', 0, 1, 't', 0, 1, 'k', 0, 0x09,
        0, 0, 0, 4, 0, 0, 0, 0,
    };
    /* clang-format on */
    expect_bytes(&b, want3, sizeof want3);

    /* no bind markers */
    res.nbinds = 0;
    res.npk_indexes = 0;
    hln_buf_reset(&b);
    px_encode_result(&b, 4, &res);
    assert_int_equal(b.len, 4 + 18 + 12 + 8);
    const uint8_t tail[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0};
    assert_memory_equal(b.data + 22, tail, sizeof tail);
    hln_buf_free(&b);
}

static void test_encode_schema_change_and_keyspace(void **state)
{
    (void)state;
    ex_result res;
    memset(&res, 0, sizeof res);
    res.kind = EX_SCHEMA_CHANGE;
    res.change = "CREATED";
    res.target = "KEYSPACE";
    res.sc_ks = "ks";
    hln_buf b;
    hln_buf_init(&b);
    px_encode_result(&b, 4, &res);
    /* clang-format off */
    const uint8_t ks[] = {0, 0, 0, 5, 0, 7, 'C', 'R', 'E', 'A', 'T', 'E', 'D',
                          0, 8, 'K', 'E', 'Y', 'S', 'P', 'A', 'C', 'E', 0, 2, 'k', 's'};
    /* clang-format on */
    expect_bytes(&b, ks, sizeof ks);

    res.change = "DROPPED";
    res.target = "TABLE";
    res.sc_name = "t";
    hln_buf_reset(&b);
    px_encode_result(&b, 4, &res);
    /* clang-format off */
    const uint8_t tb[] = {0, 0, 0, 5, 0, 7, 'D', 'R', 'O', 'P', 'P', 'E', 'D',
                          0, 5, 'T', 'A', 'B', 'L', 'E', 0, 2, 'k', 's', 0, 1, 't'};
    /* clang-format on */
    expect_bytes(&b, tb, sizeof tb);

    hln_buf_reset(&b);
    px_encode_schema_event(&b, "UPDATED", "TABLE", "ks", "t");
    assert_int_equal(b.len, 15 + 9 + 7 + 4 + 3);
    assert_memory_equal(b.data, "\0\x0dSCHEMA_CHANGE\0\x07UPDATED", 24);

    /* TOPOLOGY_CHANGE / STATUS_CHANGE carry [inet]: size, address, int port */
    hln_buf_reset(&b);
    const uint8_t lo[4] = {127, 0, 0, 1};
    px_encode_node_event(&b, "STATUS_CHANGE", "UP", lo, 4, 9042);
    const uint8_t ne[] = {0,   13, 'S', 'T', 'A', 'T', 'U', 'S', '_', 'C', 'H', 'A', 'N',  'G',
                          'E', 0,  2,   'U', 'P', 4,   127, 0,   0,   1,   0,   0,   0x23, 0x52};
    expect_bytes(&b, ne, sizeof ne);

    memset(&res, 0, sizeof res);
    res.kind = EX_SET_KEYSPACE;
    res.keyspace = "ks";
    hln_buf_reset(&b);
    px_encode_result(&b, 4, &res);
    const uint8_t sk[] = {0, 0, 0, 3, 0, 2, 'k', 's'};
    expect_bytes(&b, sk, sizeof sk);
    hln_buf_free(&b);
}

static void test_encode_supported(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    px_encode_supported(&b);
    assert_int_equal(b.err, 0);
    /* read it back as a [string multimap] */
    hln_rd r;
    hln_rd_init(&r, b.data, b.len);
    assert_int_equal(hln_rd_u16(&r), 3);
    const char *keys[3] = {"CQL_VERSION", "COMPRESSION", "PROTOCOL_VERSIONS"};
    const char *vals[3] = {"3.4.7", "lz4,snappy", "3/v3,4/v4,5/v5"};
    for (int i = 0; i < 3; i++) {
        uint16_t kl = hln_rd_u16(&r);
        const uint8_t *k = hln_rd_take(&r, kl);
        assert_non_null(k);
        assert_int_equal(kl, strlen(keys[i]));
        assert_memory_equal(k, keys[i], kl);
        uint16_t n = hln_rd_u16(&r);
        char joined[64] = "";
        for (int j = 0; j < n; j++) {
            uint16_t vl = hln_rd_u16(&r);
            const uint8_t *v = hln_rd_take(&r, vl);
            assert_non_null(v);
            if (j) strcat(joined, ",");
            strncat(joined, (const char *)v, vl);
        }
        assert_string_equal(joined, vals[i]);
    }
    assert_int_equal(hln_rd_left(&r), 0);
    hln_buf_free(&b);
}

/* BATCH: mixed query kinds, values with null and unset, the trailing
 * parameters in v4 ([byte] flags) and v5 ([int] flags), every truncation,
 * and the Cassandra errors for a bad type or kind. */
static size_t batch_body(hln_buf *b, uint8_t version, uint8_t type, uint8_t kind2)
{
    static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    hln_buf_u8(b, type);
    hln_buf_u16(b, 2);
    hln_buf_u8(b, 0); /* a query string with one value */
    hln_buf_long_string(b, "INSERT INTO t (k) VALUES (?)", 28);
    hln_buf_u16(b, 1);
    hln_buf_bytes(b, "\x00\x00\x00\x07", 4);
    hln_buf_u8(b, kind2); /* a prepared id with a null and an unset value */
    hln_buf_u16(b, 16);
    hln_buf_put(b, id, 16);
    hln_buf_u16(b, 2);
    hln_buf_u32(b, (uint32_t)-1);
    hln_buf_u32(b, (uint32_t)-2);
    size_t trailer = b->len;
    hln_buf_u16(b, 0x0001); /* ONE */
    if (version >= 5)
        hln_buf_u32(b, 0x10 | 0x20);
    else
        hln_buf_u8(b, 0x10 | 0x20);
    hln_buf_u16(b, 0x0009); /* LOCAL_SERIAL */
    hln_buf_u64(b, 123456789);
    return trailer;
}

static void test_decode_batch(void **state)
{
    (void)state;
    for (uint8_t version = 4; version <= 5; version++) {
        hln_buf b;
        hln_buf_init(&b);
        batch_body(&b, version, 1, 1);
        hln_arena a;
        hln_arena_init(&a, 0);
        hln_rd r;
        hln_rd_init(&r, b.data, b.len);
        int type = -1, n = 0;
        ex_batch_item *it = NULL;
        ex_params p;
        memset(&p, 0, sizeof p);
        hln_error err = {0};
        assert_int_equal(px_decode_batch(&r, version, &a, &type, &it, &n, &p, &err), 0);
        assert_int_equal(hln_rd_left(&r), 0);
        assert_int_equal(type, 1);
        assert_int_equal(n, 2);
        assert_int_equal(it[0].cqllen, 28);
        assert_string_equal(it[0].cql, "INSERT INTO t (k) VALUES (?)");
        assert_null(it[0].id);
        assert_int_equal(it[0].nvalues, 1);
        assert_int_equal(it[0].values[0].len, 4);
        assert_int_equal(it[0].values[0].p[3], 7);
        assert_null(it[1].cql);
        assert_int_equal(it[1].idlen, 16);
        assert_int_equal(it[1].id[15], 16);
        assert_int_equal(it[1].nvalues, 2);
        assert_int_equal(it[1].values[0].len, -1);
        assert_int_equal(it[1].values[1].len, -2);
        assert_int_equal(p.consistency, EX_CL_ONE);
        assert_int_equal(p.serial_consistency, 0x0009);
        assert_true(p.timestamp == 123456789);
        /* every truncation is a protocol error, never a crash */
        for (size_t len = 0; len < b.len; len++) {
            hln_rd_init(&r, b.data, len);
            hln_error e2 = {0};
            assert_int_equal(px_decode_batch(&r, version, &a, &type, &it, &n, &p, &e2), HLN_EPROTO);
        }
        hln_buf_free(&b);
        hln_arena_free(&a);
    }
    struct {
        uint8_t type, kind;
        const char *msg;
    } bad[] = {
        {3, 1, "Invalid BATCH message type 3"},
        {0, 2, "Invalid query kind in BATCH messages. Must be 0 or 1 but got 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hln_buf b;
        hln_buf_init(&b);
        batch_body(&b, 4, bad[i].type, bad[i].kind);
        hln_arena a;
        hln_arena_init(&a, 0);
        hln_rd r;
        hln_rd_init(&r, b.data, b.len);
        int type, n;
        ex_batch_item *it;
        ex_params p;
        hln_error err = {0};
        assert_int_equal(px_decode_batch(&r, 4, &a, &type, &it, &n, &p, &err), HLN_EPROTO);
        assert_string_equal(err.msg, bad[i].msg);
        hln_buf_free(&b);
        hln_arena_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_good),
        cmocka_unit_test(test_header_short),
        cmocka_unit_test(test_header_bad_version),
        cmocka_unit_test(test_header_too_big),
        cmocka_unit_test(test_decode_query),
        cmocka_unit_test(test_decode_query_named),
        cmocka_unit_test(test_decode_query_defaults),
        cmocka_unit_test(test_decode_execute),
        cmocka_unit_test(test_decode_prepare),
        cmocka_unit_test(test_decode_batch),
        cmocka_unit_test(test_decode_startup_register),
        cmocka_unit_test(test_truncated_bodies),
        cmocka_unit_test(test_malformed_params),
        cmocka_unit_test(test_encode_ready_void),
        cmocka_unit_test(test_encode_v2_error_header),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_errcode_for),
        cmocka_unit_test(test_encode_rows),
        cmocka_unit_test(test_encode_prepared),
        cmocka_unit_test(test_encode_schema_change_and_keyspace),
        cmocka_unit_test(test_encode_supported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
