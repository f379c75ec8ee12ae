/* modules: common client */
/*
 * test_client.c — the CQL client (src/client) without a real server:
 *  - request encoders produce byte-exact v4 frames;
 *  - the response decoder handles every RESULT kind, ERROR, warnings and
 *    tracing flags, all column type shapes, skip-metadata rows, and refuses
 *    truncated or inconsistent bodies without reading out of bounds;
 *  - cc_result_take and cc_prepared_new make copies independent of the
 *    frame buffer;
 *  - the histogram keeps 3 significant digits and merges;
 *  - the connection layer, against a tiny fake server on 127.0.0.1 run on
 *    the same libuv loop: handshake, many requests on several connections,
 *    back-pressure (HLN_EAGAIN, capacity callback), timeouts with orphaned
 *    stream ids, and a server that closes the connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/clientInt.h"
#include "client/hist.h"

/* ---- helpers ------------------------------------------------------------- */

static void put_string(hln_buf *b, const char *s)
{
    hln_buf_string(b, s);
}

/* A response frame: header (version 0x84) + body. */
static void response(hln_buf *out, uint8_t flags, int16_t stream, uint8_t opcode,
                     const hln_buf *body)
{
    hln_buf_u8(out, 0x84);
    hln_buf_u8(out, flags);
    hln_buf_u16(out, (uint16_t)stream);
    hln_buf_u8(out, opcode);
    hln_buf_u32(out, (uint32_t)body->len);
    hln_buf_put(out, body->data, body->len);
}

static int decode(const hln_buf *frame, const cc_meta *rmeta, cc_result *r)
{
    cc_frame_hdr h;
    assert_true(frame->len >= CC_HDR_LEN);
    cc_frame_header(frame->data, &h);
    assert_int_equal(h.len, frame->len - CC_HDR_LEN);
    return cc_decode_response(&h, frame->data + CC_HDR_LEN, rmeta, r);
}

static void expect_bytes(const hln_buf *b, size_t off, const uint8_t *want, size_t n)
{
    assert_true(b->len >= off + n);
    if (memcmp(b->data + off, want, n) != 0) {
        for (size_t i = 0; i < n; i++)
            print_error("%02x/%02x ", b->data[off + i], want[i]);
        print_error("\n");
        fail();
    }
}

/* ---- encoders ---------------------------------------------------------------- */

static void test_encode_options_startup(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    cc_enc_options(&b, 7);
    /* clang-format off */
    static const uint8_t opt[] = {
        0x04, 0, 0, 7, 0x05, 0, 0, 0, 0,
    };
    /* clang-format on */
    assert_int_equal(b.len, sizeof opt);
    expect_bytes(&b, 0, opt, sizeof opt);
    hln_buf_reset(&b);
    cc_enc_startup(&b, 1);
    /* clang-format off */
    static const uint8_t st[] = {
        0x04, 0, 0, 1, 0x01, 0, 0, 0, 22,
        0, 1, 0, 11, 'C', 'Q', 'L', '_', 'V', 'E', 'R', 'S', 'I', 'O', 'N',
        0, 5, '3', '.', '0', '.', '0',
    };
    /* clang-format on */
    assert_int_equal(b.len, sizeof st);
    expect_bytes(&b, 0, st, sizeof st);
    hln_buf_free(&b);
}

static void test_encode_query(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    uint8_t four[4];
    cc_put_int(four, 0x01020304);
    hln_bytes vals[3] = {cc_val(four, 4), cc_null(), {NULL, -2}};
    cc_params p;
    cc_params_init(&p);
    p.consistency = CC_LOCAL_ONE;
    p.page_size = 100;
    p.has_timestamp = true;
    p.timestamp = 0x1122334455667788LL;
    cc_enc_query(&b, 300, "SELECT 1", vals, 3, &p);
    /* clang-format off */
    static const uint8_t want[] = {
        0x04, 0, 0x01, 0x2C, 0x07, 0, 0, 0, 45,     /* header, body 45 */
        0, 0, 0, 8, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1',
        0, 0x0A,                                    /* LOCAL_ONE */
        0x01 | 0x04 | 0x20,                         /* values, page size, timestamp */
        0, 3,                                       /* 3 values */
        0, 0, 0, 4, 1, 2, 3, 4,                     /* int */
        0xFF, 0xFF, 0xFF, 0xFF,                     /* null */
        0xFF, 0xFF, 0xFF, 0xFE,                     /* unset */
        0, 0, 0, 100,                               /* page size */
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    };
    /* clang-format on */
    assert_int_equal(b.len, sizeof want);
    expect_bytes(&b, 0, want, sizeof want);
    hln_buf_free(&b);
}

static void test_encode_execute_and_prepare(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    cc_enc_prepare(&b, 2, "X");
    /* clang-format off */
    static const uint8_t prep[] = {
        0x04, 0, 0, 2, 0x09, 0, 0, 0, 5, 0, 0, 0, 1, 'X',
    };
    /* clang-format on */
    assert_int_equal(b.len, sizeof prep);
    expect_bytes(&b, 0, prep, sizeof prep);
    hln_buf_reset(&b);
    uint8_t id[2] = {0xAB, 0xCD};
    uint8_t v = 9;
    hln_bytes vals[1] = {cc_val(&v, 1)};
    cc_enc_execute(&b, 32767, id, 2, true, vals, 1, NULL);
    /* clang-format off */
    static const uint8_t ex[] = {
        0x04, 0, 0x7F, 0xFF, 0x0A, 0, 0, 0, 14, 0, 2, 0xAB, 0xCD,
        0, 1,                                       /* ONE */
        0x03,                                       /* values + skip metadata */
        0, 1, 0, 0, 0, 1, 9,
    };
    /* clang-format on */
    assert_int_equal(b.len, sizeof ex);
    expect_bytes(&b, 0, ex, sizeof ex);
    hln_buf_free(&b);
}

/* ---- decoder ------------------------------------------------------------------- */

static void test_decode_error(void **state)
{
    (void)state;
    hln_buf body, f;
    hln_buf_init(&body);
    hln_buf_init(&f);
    hln_buf_u32(&body, 0x2400);
    put_string(&body, "Cannot add already existing table \"t\" to keyspace \"ks\"");
    put_string(&body, "ks");
    put_string(&body, "t");
    response(&f, 0, 5, CC_OP_ERROR, &body);
    cc_result r;
    cc_result_init(&r);
    assert_int_equal(decode(&f, NULL, &r), 0);
    assert_int_equal(r.kind, CC_RES_ERROR);
    assert_int_equal(r.code, CC_ERR_ALREADY_EXISTS);
    assert_string_equal(r.message, "Cannot add already existing table \"t\" to keyspace \"ks\"");
    cc_result_fini(&r);
    hln_buf_free(&body);
    hln_buf_free(&f);
}

/* ROWS with a global table spec: (id int, name text, tags list<text>) */
static void build_rows(hln_buf *body, bool no_meta)
{
    hln_buf_u32(body, CC_RES_ROWS);
    hln_buf_u32(body, no_meta ? 0x04 : 0x01 | 0x02); /* global spec + more pages */
    hln_buf_u32(body, 3);
    if (!no_meta) {
        hln_buf_bytes(body, "PS", 2); /* paging state */
        put_string(body, "ks");
        put_string(body, "tbl");
        put_string(body, "id");
        hln_buf_u16(body, CC_T_INT);
        put_string(body, "name");
        hln_buf_u16(body, CC_T_VARCHAR);
        put_string(body, "tags");
        hln_buf_u16(body, CC_T_LIST);
        hln_buf_u16(body, CC_T_VARCHAR);
    }
    hln_buf_u32(body, 2); /* rows */
    uint8_t i1[4];
    cc_put_int(i1, 42);
    hln_buf_bytes(body, i1, 4);
    hln_buf_bytes(body, "alice", 5);
    hln_buf_bytes(body, NULL, -1);
    cc_put_int(i1, -7);
    hln_buf_bytes(body, i1, 4);
    hln_buf_bytes(body, "", 0);
    hln_buf_bytes(body, "\0\0\0\0", 4);
}

static void test_decode_rows(void **state)
{
    (void)state;
    hln_buf body, f;
    hln_buf_init(&body);
    hln_buf_init(&f);
    build_rows(&body, false);
    response(&f, 0, 0, CC_OP_RESULT, &body);
    cc_result r;
    cc_result_init(&r);
    assert_int_equal(decode(&f, NULL, &r), 0);
    assert_int_equal(r.kind, CC_RES_ROWS);
    assert_int_equal(r.meta.ncols, 3);
    assert_int_equal(r.nrows, 2);
    assert_non_null(r.meta.cols);
    assert_string_equal(r.meta.cols[0].keyspace, "ks");
    assert_string_equal(r.meta.cols[2].table, "tbl");
    assert_string_equal(r.meta.cols[1].name, "name");
    assert_int_equal(r.meta.cols[2].type.id, CC_T_LIST);
    assert_int_equal(r.meta.cols[2].type.nsub, 1);
    assert_int_equal(r.meta.cols[2].type.sub[0].id, CC_T_VARCHAR);
    assert_int_equal(r.meta.paging_state_len, 2);
    assert_memory_equal(r.meta.paging_state, "PS", 2);
    assert_int_equal(cc_get_int(cc_cell(&r, 0, 0)), 42);
    assert_int_equal(cc_cell(&r, 0, 1).len, 5);
    assert_memory_equal(cc_cell(&r, 0, 1).p, "alice", 5);
    assert_int_equal(cc_cell(&r, 0, 2).len, -1);
    assert_int_equal(cc_get_int(cc_cell(&r, 1, 0)), -7);
    assert_int_equal(cc_cell(&r, 1, 1).len, 0);
    assert_int_equal(cc_result_column(&r, "tags"), 2);
    assert_int_equal(cc_result_column(&r, "nope"), -1);

    /* a kept copy survives the frame buffer */
    cc_result *t = cc_result_take(&r);
    assert_non_null(t);
    memset(f.data, 0xEE, f.len);
    assert_int_equal(t->nrows, 2);
    assert_string_equal(t->meta.cols[1].name, "name");
    assert_memory_equal(cc_cell(t, 0, 1).p, "alice", 5);
    cc_result_free(t);
    cc_result_fini(&r);
    hln_buf_free(&body);
    hln_buf_free(&f);
}

static void test_decode_rows_no_metadata(void **state)
{
    (void)state;
    /* the columns come from the prepared statement's result metadata */
    hln_buf body, f;
    hln_buf_init(&body);
    hln_buf_init(&f);
    build_rows(&body, false);
    response(&f, 0, 0, CC_OP_RESULT, &body);
    cc_result full;
    cc_result_init(&full);
    assert_int_equal(decode(&f, NULL, &full), 0);

    hln_buf b2, f2;
    hln_buf_init(&b2);
    hln_buf_init(&f2);
    build_rows(&b2, true);
    response(&f2, 0, 0, CC_OP_RESULT, &b2);
    cc_result r;
    cc_result_init(&r);
    assert_int_equal(decode(&f2, &full.meta, &r), 0);
    assert_ptr_equal(r.meta.cols, full.meta.cols);
    assert_int_equal(r.nrows, 2);
    assert_int_equal(cc_get_int(cc_cell(&r, 1, 0)), -7);
    /* without the prepared metadata: cells but no column specs */
    cc_result_clear(&r);
    assert_int_equal(decode(&f2, NULL, &r), 0);
    assert_null(r.meta.cols);
    assert_int_equal(r.meta.ncols, 3);
    assert_int_equal(r.nrows, 2);
    /* a taken copy of a skip-metadata result owns its column specs */
    cc_result_clear(&r);
    assert_int_equal(decode(&f2, &full.meta, &r), 0);
    cc_result *t = cc_result_take(&r);
    assert_non_null(t);
    assert_ptr_not_equal(t->meta.cols, full.meta.cols);
    cc_result_fini(&full);
    assert_string_equal(t->meta.cols[0].name, "id");
    cc_result_free(t);
    cc_result_fini(&r);
    hln_buf_free(&body);
    hln_buf_free(&f);
    hln_buf_free(&b2);
    hln_buf_free(&f2);
}

static void test_decode_prepared_types(void **state)
{
    (void)state;
    hln_buf body, f;
    hln_buf_init(&body);
    hln_buf_init(&f);
    hln_buf_u32(&body, CC_RES_PREPARED);
    hln_buf_u16(&body, 4);
    hln_buf_put(&body, "\x01\x02\x03\x04", 4);
    /* bind metadata: global, 5 columns, pk_count 1 -> index 0 */
    hln_buf_u32(&body, 0x01);
    hln_buf_u32(&body, 5);
    hln_buf_u32(&body, 1);
    hln_buf_u16(&body, 0);
    put_string(&body, "ks");
    put_string(&body, "t");
    put_string(&body, "m");
    hln_buf_u16(&body, CC_T_MAP);
    hln_buf_u16(&body, CC_T_VARCHAR);
    hln_buf_u16(&body, CC_T_BIGINT);
    put_string(&body, "v");
    hln_buf_u16(&body, CC_T_CUSTOM);
    put_string(&body, "org.apache.cassandra.db.marshal.VectorType("
                      "org.apache.cassandra.db.marshal.FloatType, 3)");
    put_string(&body, "u");
    hln_buf_u16(&body, CC_T_UDT);
    put_string(&body, "ks");
    put_string(&body, "addr");
    hln_buf_u16(&body, 2);
    put_string(&body, "street");
    hln_buf_u16(&body, CC_T_VARCHAR);
    put_string(&body, "zip");
    hln_buf_u16(&body, CC_T_INT);
    put_string(&body, "tu");
    hln_buf_u16(&body, CC_T_TUPLE);
    hln_buf_u16(&body, 2);
    hln_buf_u16(&body, CC_T_UUID);
    hln_buf_u16(&body, CC_T_SET);
    hln_buf_u16(&body, CC_T_BLOB);
    put_string(&body, "d");
    hln_buf_u16(&body, CC_T_DURATION);
    /* result metadata: not global, 1 column */
    hln_buf_u32(&body, 0);
    hln_buf_u32(&body, 1);
    put_string(&body, "ks");
    put_string(&body, "t");
    put_string(&body, "x");
    hln_buf_u16(&body, CC_T_TIMESTAMP);
    response(&f, 0, 3, CC_OP_RESULT, &body);

    cc_result r;
    cc_result_init(&r);
    assert_int_equal(decode(&f, NULL, &r), 0);
    assert_int_equal(r.kind, CC_RES_PREPARED);
    assert_int_equal(r.prepared_id_len, 4);
    assert_int_equal(r.bind.ncols, 5);
    assert_int_equal(r.pk_count, 1);
    assert_int_equal(r.pk_index[0], 0);
    const cc_column *c = r.bind.cols;
    assert_int_equal(c[0].type.id, CC_T_MAP);
    assert_int_equal(c[0].type.sub[1].id, CC_T_BIGINT);
    assert_int_equal(c[1].type.id, CC_T_CUSTOM);
    assert_non_null(strstr(c[1].type.custom, "VectorType"));
    assert_string_equal(c[2].type.custom, "ks.addr");
    assert_string_equal(c[2].type.field_names[1], "zip");
    assert_int_equal(c[2].type.sub[1].id, CC_T_INT);
    assert_int_equal(c[3].type.nsub, 2);
    assert_int_equal(c[3].type.sub[1].sub[0].id, CC_T_BLOB);
    assert_int_equal(c[4].type.id, CC_T_DURATION);
    assert_int_equal(r.meta.ncols, 1);
    assert_string_equal(r.meta.cols[0].name, "x");

    cc_prepared *ps = cc_prepared_new(&r, "INSERT ...");
    assert_non_null(ps);
    memset(f.data, 0, f.len);
    cc_result_fini(&r);
    assert_int_equal(cc_prepared_bind_count(ps), 5);
    assert_string_equal(cc_prepared_bind_meta(ps)->cols[2].type.field_names[0], "street");
    assert_string_equal(cc_prepared_result_meta(ps)->cols[0].name, "x");
    assert_string_equal(cc_prepared_cql(ps), "INSERT ...");
    cc_prepared_free(ps);
    hln_buf_free(&body);
    hln_buf_free(&f);
}

static void test_decode_misc_results(void **state)
{
    (void)state;
    hln_buf body, f;
    hln_buf_init(&body);
    hln_buf_init(&f);
    cc_result r;
    cc_result_init(&r);

    hln_buf_u32(&body, CC_RES_SCHEMA_CHANGE);
    put_string(&body, "CREATED");
    put_string(&body, "TABLE");
    put_string(&body, "ks");
    put_string(&body, "t");
    response(&f, 0, 1, CC_OP_RESULT, &body);
    assert_int_equal(decode(&f, NULL, &r), 0);
    assert_int_equal(r.kind, CC_RES_SCHEMA_CHANGE);
    assert_string_equal(r.change, "CREATED");
    assert_string_equal(r.target, "TABLE");
    assert_string_equal(r.keyspace, "ks");
    assert_string_equal(r.name, "t");

    hln_buf_reset(&body);
    hln_buf_reset(&f);
    cc_result_clear(&r);
    hln_buf_u32(&body, CC_RES_SCHEMA_CHANGE);
    put_string(&body, "DROPPED");
    put_string(&body, "KEYSPACE");
    put_string(&body, "ks");
    response(&f, 0, 1, CC_OP_RESULT, &body);
    assert_int_equal(decode(&f, NULL, &r), 0);
    assert_string_equal(r.name, "");

    /* tracing id and warnings before a VOID */
    hln_buf_reset(&body);
    hln_buf_reset(&f);
    cc_result_clear(&r);
    hln_buf_put(&body, "0123456789abcdef", 16);
    hln_buf_u16(&body, 2);
    put_string(&body, "w1");
    put_string(&body, "w2");
    hln_buf_u32(&body, CC_RES_VOID);
    response(&f, CC_FL_TRACING | CC_FL_WARNING, 1, CC_OP_RESULT, &body);
    assert_int_equal(decode(&f, NULL, &r), 0);
    assert_int_equal(r.kind, CC_RES_VOID);
    assert_int_equal(r.nwarnings, 2);
    assert_string_equal(r.warnings[1], "w2");

    hln_buf_reset(&body);
    hln_buf_reset(&f);
    cc_result_clear(&r);
    hln_buf_u32(&body, CC_RES_SET_KEYSPACE);
    put_string(&body, "stress");
    response(&f, 0, 1, CC_OP_RESULT, &body);
    assert_int_equal(decode(&f, NULL, &r), 0);
    assert_int_equal(r.kind, CC_RES_SET_KEYSPACE);
    assert_string_equal(r.keyspace, "stress");

    cc_result_fini(&r);
    hln_buf_free(&body);
    hln_buf_free(&f);
}

/* Every truncation of a valid body is refused cleanly, and so are hostile
 * counts. */
static void test_decode_malformed(void **state)
{
    (void)state;
    hln_buf body, f;
    hln_buf_init(&body);
    hln_buf_init(&f);
    build_rows(&body, false);
    cc_result r;
    cc_result_init(&r);
    for (size_t n = 0; n < body.len; n++) {
        hln_buf cut;
        hln_buf_init(&cut);
        hln_buf_put(&cut, body.data, n);
        hln_buf_reset(&f);
        response(&f, 0, 0, CC_OP_RESULT, &cut);
        cc_result_clear(&r);
        /* n == 0 gives an empty body: also malformed */
        assert_int_equal(decode(&f, NULL, &r), HLN_EPROTO);
        assert_int_equal(r.kind, CC_RES_ERROR);
        assert_true(r.code < 0);
        assert_non_null(strstr(r.message, "malformed"));
        hln_buf_free(&cut);
    }
    /* a row count far beyond the bytes present */
    hln_buf_reset(&body);
    hln_buf_u32(&body, CC_RES_ROWS);
    hln_buf_u32(&body, 0x04);
    hln_buf_u32(&body, 1000);
    hln_buf_u32(&body, 0x7FFFFFFF);
    hln_buf_reset(&f);
    response(&f, 0, 0, CC_OP_RESULT, &body);
    cc_result_clear(&r);
    assert_int_equal(decode(&f, NULL, &r), HLN_EPROTO);
    /* negative column count */
    hln_buf_reset(&body);
    hln_buf_u32(&body, CC_RES_ROWS);
    hln_buf_u32(&body, 0);
    hln_buf_u32(&body, 0xFFFFFFFF);
    hln_buf_reset(&f);
    response(&f, 0, 0, CC_OP_RESULT, &body);
    cc_result_clear(&r);
    assert_int_equal(decode(&f, NULL, &r), HLN_EPROTO);
    /* unknown result kind, unknown type id, wrong version byte */
    hln_buf_reset(&body);
    hln_buf_u32(&body, 99);
    hln_buf_reset(&f);
    response(&f, 0, 0, CC_OP_RESULT, &body);
    cc_result_clear(&r);
    assert_int_equal(decode(&f, NULL, &r), HLN_EPROTO);
    hln_buf_reset(&body);
    hln_buf_u32(&body, CC_RES_ROWS);
    hln_buf_u32(&body, 0x01);
    hln_buf_u32(&body, 1);
    put_string(&body, "k");
    put_string(&body, "t");
    put_string(&body, "c");
    hln_buf_u16(&body, 0x7777);
    hln_buf_u32(&body, 0);
    hln_buf_reset(&f);
    response(&f, 0, 0, CC_OP_RESULT, &body);
    cc_result_clear(&r);
    assert_int_equal(decode(&f, NULL, &r), HLN_EPROTO);
    f.data[0] = 0x04; /* a request, not a response */
    cc_result_clear(&r);
    assert_int_equal(decode(&f, NULL, &r), HLN_EPROTO);
    cc_result_fini(&r);
    hln_buf_free(&body);
    hln_buf_free(&f);
}

static void test_values(void **state)
{
    (void)state;
    uint8_t b[8];
    cc_put_bigint(b, -2);
    assert_int_equal(cc_get_bigint(cc_val(b, 8)), -2);
    cc_put_double(b, 3.25);
    assert_true(cc_get_double(cc_val(b, 8)) == 3.25);
    cc_put_float(b, -1.5f);
    assert_true(cc_get_float(cc_val(b, 4)) == -1.5f);
    assert_int_equal(b[0], 0xBF); /* big-endian IEEE 754 */
    assert_int_equal(cc_get_int(cc_null()), 0);
    assert_string_equal(cc_strerror(CC_ETIMEDOUT), "request timed out");
}

/* ---- histogram ---------------------------------------------------------------------- */

static void test_hist(void **state)
{
    (void)state;
    cc_hist h, g;
    assert_int_equal(cc_hist_init(&h, 3600LL * 1000000000LL, 3), 0);
    assert_int_equal(cc_hist_init(&g, 3600LL * 1000000000LL, 3), 0);
    assert_int_equal(cc_hist_percentile(&h, 50), 0);
    /* 1..100000 once each */
    for (int64_t v = 1; v <= 100000; v++)
        cc_hist_record(&h, v);
    assert_int_equal(h.total, 100000);
    int64_t p50 = cc_hist_percentile(&h, 50);
    int64_t p99 = cc_hist_percentile(&h, 99);
    int64_t p999 = cc_hist_percentile(&h, 99.9);
    assert_true(p50 >= 50000 && p50 <= 50000 + 50);
    assert_true(p99 >= 99000 && p99 <= 99000 + 99);
    assert_true(p999 >= 99900 && p999 <= 99900 + 100);
    assert_int_equal(cc_hist_percentile(&h, 100), 100000);
    assert_int_equal(cc_hist_percentile(&h, 0), 1);
    assert_true(cc_hist_mean(&h) > 50000.4 && cc_hist_mean(&h) < 50000.6);
    /* 3 significant digits everywhere in the range */
    for (int64_t v = 1; v < 3000000000000LL; v = v * 3 + 1) {
        int64_t lo = cc_hist_lowest_equivalent(&h, v), hi = cc_hist_highest_equivalent(&h, v);
        assert_true(lo <= v && v <= hi);
        assert_true((double)(hi - lo) <= (double)v / 1000.0 + 1);
    }
    /* exact below 2048 */
    assert_int_equal(cc_hist_highest_equivalent(&h, 2047), 2047);
    /* merge, clamp */
    cc_hist_record_n(&g, 5000000000LL, 10);
    cc_hist_record(&g, 7200LL * 1000000000LL); /* above the highest: clamped */
    assert_int_equal(g.clamped, 1);
    assert_int_equal(cc_hist_merge(&h, &g), 0);
    assert_int_equal(h.total, 100011);
    assert_int_equal(h.max, 7200LL * 1000000000LL);
    int64_t top = cc_hist_percentile(&h, 99.999);
    assert_true(top >= 4995000000LL && top <= 5005000000LL);
    cc_hist_reset(&g);
    assert_int_equal(g.total, 0);
    cc_hist h2;
    assert_int_equal(cc_hist_init(&h2, 1000, 2), 0);
    assert_int_equal(cc_hist_merge(&h, &h2), HLN_EINVAL);
    cc_hist_free(&h2);
    cc_hist_free(&h);
    cc_hist_free(&g);
}

/* ---- a fake server on the loop ---------------------------------------------------------- */

typedef struct fake_conn {
    uv_tcp_t tcp;
    hln_buf in;
    struct fake *srv;
    int held[64];
    int nheld;
    bool closed;
} fake_conn;

typedef struct fake {
    uv_tcp_t listener;
    int port;
    bool hold;   /* keep QUERY/EXECUTE unanswered */
    int queries; /* QUERY/EXECUTE frames seen */
    fake_conn *conns[8];
    int nconns;
} fake;

static void fake_free_conn(uv_handle_t *h)
{
    fake_conn *fc = h->data;
    hln_buf_free(&fc->in);
    hln_free(fc);
}

static void fake_written(uv_write_t *w, int status)
{
    (void)status;
    hln_free(w->data);
    hln_free(w);
}

static void fake_send(fake_conn *fc, int16_t stream, uint8_t op, const hln_buf *body)
{
    hln_buf f;
    hln_buf_init(&f);
    response(&f, 0, stream, op, body);
    uv_write_t *w = hln_malloc(sizeof *w);
    w->data = f.data;
    uv_buf_t b = uv_buf_init((char *)f.data, (unsigned)f.len);
    uv_write(w, (uv_stream_t *)&fc->tcp, &b, 1, fake_written);
}

static void fake_void(fake_conn *fc, int16_t stream)
{
    hln_buf body;
    hln_buf_init(&body);
    hln_buf_u32(&body, CC_RES_VOID);
    fake_send(fc, stream, CC_OP_RESULT, &body);
    hln_buf_free(&body);
}

static void fake_release(fake *s)
{
    for (int i = 0; i < s->nconns; i++) {
        fake_conn *fc = s->conns[i];
        if (fc->closed) continue;
        for (int j = 0; j < fc->nheld; j++)
            fake_void(fc, (int16_t)fc->held[j]);
        fc->nheld = 0;
    }
}

static void fake_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    fake_conn *fc = h->data;
    (void)sz;
    hln_buf_reserve(&fc->in, 65536);
    *b = uv_buf_init((char *)fc->in.data + fc->in.len, (unsigned)(fc->in.cap - fc->in.len));
}

static void fake_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    fake_conn *fc = st->data;
    (void)b;
    if (n < 0) {
        if (!fc->closed) {
            fc->closed = true;
            uv_close((uv_handle_t *)&fc->tcp, fake_free_conn);
        }
        return;
    }
    fc->in.len += (size_t)n;
    size_t off = 0;
    while (fc->in.len - off >= CC_HDR_LEN) {
        cc_frame_hdr h;
        cc_frame_header(fc->in.data + off, &h);
        if (fc->in.len - off - CC_HDR_LEN < h.len) break;
        hln_buf body;
        hln_buf_init(&body);
        if (h.opcode == CC_OP_OPTIONS) {
            hln_buf_u16(&body, 0);
            fake_send(fc, h.stream, CC_OP_SUPPORTED, &body);
        } else if (h.opcode == CC_OP_STARTUP) {
            fake_send(fc, h.stream, CC_OP_READY, &body);
        } else {
            fc->srv->queries++;
            if (fc->srv->hold && fc->nheld < 64)
                fc->held[fc->nheld++] = h.stream;
            else
                fake_void(fc, h.stream);
        }
        hln_buf_free(&body);
        off += CC_HDR_LEN + h.len;
    }
    memmove(fc->in.data, fc->in.data + off, fc->in.len - off);
    fc->in.len -= off;
}

static void fake_accept(uv_stream_t *l, int status)
{
    fake *s = l->data;
    assert_int_equal(status, 0);
    fake_conn *fc = hln_calloc(1, sizeof *fc);
    fc->srv = s;
    uv_tcp_init(l->loop, &fc->tcp);
    fc->tcp.data = fc;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&fc->tcp), 0);
    uv_read_start((uv_stream_t *)&fc->tcp, fake_alloc, fake_read);
    if (s->nconns < 8) s->conns[s->nconns++] = fc;
}

static void fake_start(uv_loop_t *loop, fake *s)
{
    memset(s, 0, sizeof *s);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, fake_accept), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
}

static void fake_stop(fake *s)
{
    for (int i = 0; i < s->nconns; i++)
        if (!s->conns[i]->closed) {
            s->conns[i]->closed = true;
            uv_close((uv_handle_t *)&s->conns[i]->tcp, fake_free_conn);
        }
    uv_close((uv_handle_t *)&s->listener, NULL);
}

typedef struct tally {
    int done, ok, errors, timeouts, closed, capacity_calls;
} tally;

static void count_cb(cc_result *r, void *ud)
{
    tally *t = ud;
    t->done++;
    if (r->kind == CC_RES_VOID)
        t->ok++;
    else if (r->kind == CC_RES_ERROR) {
        t->errors++;
        t->timeouts += r->code == CC_ETIMEDOUT;
        t->closed += r->code == CC_ECLOSED;
    }
}

static void cap_cb(cc_client *c, void *ud)
{
    (void)c;
    ((tally *)ud)->capacity_calls++;
}

/* Runs the loop until cond or ~5 s. */
#define RUN_UNTIL(loop, cond)                                                                      \
    do {                                                                                           \
        int64_t dl_ = hln_mono_nanos() + 5000000000LL;                                             \
        while (!(cond) && hln_mono_nanos() < dl_)                                                  \
            uv_run(loop, UV_RUN_NOWAIT);                                                           \
        assert_true(cond);                                                                         \
    } while (0)

static void test_client_against_fake(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake s;
    fake_start(&loop, &s);
    cc_config cfg;
    cc_config_init(&cfg);
    cfg.port = s.port;
    cfg.connections = 3;
    cfg.max_streams = 4;
    cfg.request_timeout_ms = 200;
    cc_client *c;
    hln_error err;
    assert_int_equal(cc_client_new(&cfg, &loop, &c, &err), 0);
    assert_int_equal(cc_query(c, "x", NULL, 0, NULL, count_cb, NULL), CC_ECLOSED);
    assert_int_equal(cc_client_connect_sync(c, &err), 0);
    assert_int_equal(cc_client_live(c), 3);
    assert_int_equal(cc_client_capacity(c), 12);

    /* many requests, spread over the connections */
    tally t = {0};
    int sent = 0;
    while (sent < 200) {
        int rc = cc_query(c, "INSERT", NULL, 0, NULL, count_cb, &t);
        if (rc == HLN_EAGAIN) {
            uv_run(&loop, UV_RUN_ONCE);
            continue;
        }
        assert_int_equal(rc, 0);
        sent++;
    }
    RUN_UNTIL(&loop, t.done == 200);
    assert_int_equal(t.ok, 200);
    assert_int_equal(cc_client_in_flight(c), 0);

    /* back-pressure: 12 streams, the 13th is refused */
    s.hold = true;
    memset(&t, 0, sizeof t);
    cc_client_on_capacity(c, cap_cb, &t);
    for (int i = 0; i < 12; i++)
        assert_int_equal(cc_query(c, "Q", NULL, 0, NULL, count_cb, &t), 0);
    assert_int_equal(cc_query(c, "Q", NULL, 0, NULL, count_cb, &t), HLN_EAGAIN);
    assert_int_equal(cc_client_capacity(c), 0);
    assert_int_equal(cc_client_in_flight(c), 12);
    RUN_UNTIL(&loop, s.queries >= 212);
    assert_int_equal(t.done, 0); /* callbacks never run inside submit */
    fake_release(&s);
    RUN_UNTIL(&loop, t.done == 12);
    assert_int_equal(t.ok, 12);
    assert_true(t.capacity_calls >= 1);
    assert_int_equal(cc_client_capacity(c), 12);

    /* timeouts: the ids stay taken (orphaned) until the late answer */
    memset(&t, 0, sizeof t);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cc_query(c, "slow", NULL, 0, NULL, count_cb, &t), 0);
    RUN_UNTIL(&loop, t.done == 3);
    assert_int_equal(t.timeouts, 3);
    assert_int_equal(cc_client_in_flight(c), 0);
    assert_int_equal(cc_client_capacity(c), 9);
    fake_release(&s);
    RUN_UNTIL(&loop, cc_client_capacity(c) == 12);
    assert_int_equal(t.done, 3); /* late answers do not run callbacks again */

    /* the server drops the connections: in-flight requests fail */
    memset(&t, 0, sizeof t);
    for (int i = 0; i < 6; i++)
        assert_int_equal(cc_query(c, "Q", NULL, 0, NULL, count_cb, &t), 0);
    RUN_UNTIL(&loop, s.queries >= 221);
    fake_stop(&s);
    RUN_UNTIL(&loop, t.done == 6);
    assert_int_equal(t.closed, 6);
    assert_int_equal(cc_client_live(c), 0);
    assert_int_equal(cc_query(c, "Q", NULL, 0, NULL, count_cb, &t), CC_ECLOSED);

    cc_client_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_client_connect_refused(void **state)
{
    (void)state;
    /* a port nobody listens on: bind one, close it, connect to it */
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake s;
    fake_start(&loop, &s);
    int port = s.port;
    fake_stop(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    cc_config cfg;
    cc_config_init(&cfg);
    cfg.port = port;
    cfg.connections = 2;
    cc_client *c;
    hln_error err;
    assert_int_equal(cc_client_new(&cfg, NULL, &c, &err), 0); /* owned loop */
    int rc = cc_client_connect_sync(c, &err);
    assert_int_equal(rc, CC_ECLOSED);
    assert_non_null(strstr(err.msg, "cannot connect"));
    cc_client_free(c);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* invalid configurations */
    cfg.max_streams = 40000;
    assert_int_equal(cc_client_new(&cfg, NULL, &c, &err), HLN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_options_startup),
        cmocka_unit_test(test_encode_query),
        cmocka_unit_test(test_encode_execute_and_prepare),
        cmocka_unit_test(test_decode_error),
        cmocka_unit_test(test_decode_rows),
        cmocka_unit_test(test_decode_rows_no_metadata),
        cmocka_unit_test(test_decode_prepared_types),
        cmocka_unit_test(test_decode_misc_results),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_hist),
        cmocka_unit_test(test_client_against_fake),
        cmocka_unit_test(test_client_connect_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
