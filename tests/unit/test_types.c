/* modules: common types */
/*
 * test_types.c — the CQL types module: lookup, validation, literals,
 * Cassandra ordering, the byte-comparable encoding (round trips, agreement
 * with compare, DESC inversion, prefix-freedom), text formatting, the
 * protocol [option], and partition-key composition.
 *
 * The ordering tests list each type's values in Cassandra's ascending order
 * (edge cases included: empty values, INT_MIN, -0.0, NaN, strings with 0x00
 * bytes, "a" < "a\0" < "ab", uuid versions, signed timeuuid lsb bytes) and
 * check every pair three ways: compare, ASC encodings, DESC encodings.
 * Random values then check the same agreement at scale.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "types/types.h"

/* ---- helpers ---------------------------------------------------------- */

typedef struct val {
    uint8_t b[64];
    size_t n;
} val;

static int sgn(int x)
{
    return (x > 0) - (x < 0);
}

static int bytecmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return sgn(c);
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static const hln_type *T(const char *name)
{
    const hln_type *t = hln_type_by_name(name);
    assert_non_null(t);
    return t;
}

static val raw(const void *p, size_t n)
{
    val v;
    assert_true(n <= sizeof v.b);
    if (n) memcpy(v.b, p, n);
    v.n = n;
    return v;
}

static val be(uint64_t x, size_t n)
{
    val v;
    v.n = n;
    for (size_t i = 0; i < n; i++)
        v.b[i] = (uint8_t)(x >> (8 * (n - 1 - i)));
    return v;
}

static val f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return be(u, 4);
}

static val f64(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return be(u, 8);
}

static val lit(const char *type, hln_lit_kind k, const char *text)
{
    hln_buf b;
    hln_error err = {0};
    hln_buf_init(&b);
    int rc = hln_type_from_literal(T(type), k, text, "k", &b, &err);
    if (rc) fail_msg("literal %s for %s: %s", text, type, err.msg);
    val v = raw(b.data, b.len);
    hln_buf_free(&b);
    return v;
}

static val uuidv(const char *s)
{
    val v;
    assert_int_equal(hln_uuid_parse(s, v.b), 0);
    v.n = 16;
    return v;
}

static void enc(const hln_type *t, const val *v, bool desc, hln_buf *out)
{
    hln_buf_reset(out);
    int rc = hln_type_to_comparable(t, v->b, v->n, desc, out);
    if (rc) fail_msg("to_comparable(%s, %zu bytes) = %d", t->cql_name, v->n, rc);
}

/* Decodes e and checks it gives want and consumes e exactly, also when
 * followed by more bytes. */
static void check_decode(const hln_type *t, const hln_buf *e, bool desc, const val *want)
{
    uint8_t tmp[256];
    assert_true(e->len + 3 <= sizeof tmp);
    memcpy(tmp, e->data, e->len);
    memcpy(tmp + e->len, "\x40\x00\xff", 3); /* a following component's bytes */
    hln_rd r;
    hln_rd_init(&r, tmp, e->len + 3);
    hln_buf out;
    hln_buf_init(&out);
    assert_int_equal(hln_type_from_comparable(t, &r, desc, &out), 0);
    assert_int_equal(r.off, e->len);
    assert_int_equal(out.len, want->n);
    if (want->n) assert_memory_equal(out.data, want->b, want->n);
    hln_buf_free(&out);
    /* a truncated encoding is refused, never over-read */
    for (size_t cut = 0; cut < e->len; cut++) {
        hln_rd_init(&r, e->data, cut);
        hln_buf_init(&out);
        assert_int_not_equal(hln_type_from_comparable(t, &r, desc, &out), 0);
        hln_buf_free(&out);
    }
}

/* vals[] are in strictly ascending Cassandra order. */
static void check_order(const char *type, const val *vals, size_t n)
{
    const hln_type *t = T(type);
    hln_buf *ea = hln_calloc(n, sizeof *ea), *ed = hln_calloc(n, sizeof *ed);
    assert_non_null(ea);
    assert_non_null(ed);
    for (size_t i = 0; i < n; i++) {
        hln_buf_init(&ea[i]);
        hln_buf_init(&ed[i]);
        enc(t, &vals[i], false, &ea[i]);
        enc(t, &vals[i], true, &ed[i]);
        assert_int_equal(ea[i].len, ed[i].len);
        for (size_t k = 0; k < ea[i].len; k++)
            assert_int_equal(ed[i].data[k], (uint8_t)~ea[i].data[k]);
        check_decode(t, &ea[i], false, &vals[i]);
        check_decode(t, &ed[i], true, &vals[i]);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j ? 1 : 0;
            int c = sgn(hln_type_compare(t, vals[i].b, vals[i].n, vals[j].b, vals[j].n));
            if (c != want) fail_msg("%s: compare(#%zu, #%zu) = %d, want %d", type, i, j, c, want);
            c = bytecmp(ea[i].data, ea[i].len, ea[j].data, ea[j].len);
            if (c != want)
                fail_msg("%s: asc encoding #%zu vs #%zu = %d, want %d", type, i, j, c, want);
            c = bytecmp(ed[i].data, ed[i].len, ed[j].data, ed[j].len);
            if (c != -want)
                fail_msg("%s: desc encoding #%zu vs #%zu = %d, want %d", type, i, j, c, -want);
            /* prefix-free */
            if (i != j && ea[i].len <= ea[j].len)
                assert_true(memcmp(ea[i].data, ea[j].data, ea[i].len) != 0);
            if (i != j && ed[i].len <= ed[j].len)
                assert_true(memcmp(ed[i].data, ed[j].data, ed[i].len) != 0);
        }
    }
    for (size_t i = 0; i < n; i++) {
        hln_buf_free(&ea[i]);
        hln_buf_free(&ed[i]);
    }
    hln_free(ea);
    hln_free(ed);
}

static void check_equal(const char *type, val a, val b)
{
    const hln_type *t = T(type);
    assert_int_equal(hln_type_compare(t, a.b, a.n, b.b, b.n), 0);
    hln_buf x, y;
    hln_buf_init(&x);
    hln_buf_init(&y);
    enc(t, &a, false, &x);
    enc(t, &b, false, &y);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    hln_buf_free(&x);
    hln_buf_free(&y);
}

/* ---- lookup ----------------------------------------------------------- */

static void test_lookup(void **state)
{
    (void)state;
    static const char *names[] = {"ascii",  "bigint",   "blob",     "boolean",   "counter",
                                  "double", "float",    "int",      "timestamp", "uuid",
                                  "text",   "varint",   "timeuuid", "inet",      "date",
                                  "time",   "smallint", "tinyint"};
    for (size_t i = 0; i < HLN_ARRAY_LEN(names); i++) {
        const hln_type *t = hln_type_by_name(names[i]);
        assert_non_null(t);
        assert_string_equal(t->cql_name, names[i]);
        assert_ptr_equal(hln_type_by_kind(t->kind), t);
        assert_null(t->params);
        assert_true(hln_type_equal(t, t));
    }
    assert_ptr_equal(hln_type_by_name("VARCHAR"), hln_type_by_name("text"));
    assert_string_equal(hln_type_by_name("varchar")->cql_name, "text");
    assert_ptr_equal(hln_type_by_name("Int"), hln_type_by_name("int"));
    assert_ptr_equal(hln_type_by_name("TIMEUUID"), hln_type_by_name("timeuuid"));
    assert_int_equal(hln_type_by_name("text")->kind, HLN_T_VARCHAR);
    assert_int_equal(hln_type_by_name("int")->fixed_len, 4);
    assert_int_equal(hln_type_by_name("text")->fixed_len, 0);
    assert_null(hln_type_by_name("nosuchtype"));
    assert_int_equal(hln_type_by_name("decimal")->kind, HLN_T_DECIMAL);
    assert_int_equal(hln_type_by_name("Duration")->kind, HLN_T_DURATION);
    assert_null(hln_type_by_name("tuple"));
    assert_null(hln_type_by_name(""));
    assert_null(hln_type_by_kind(HLN_T_LIST));
    assert_false(hln_type_equal(T("int"), T("bigint")));
    assert_true(hln_type_equal(T("varchar"), T("text")));
}

static void test_encode_option(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_type_encode_option(T("int"), &b);
    hln_type_encode_option(T("varchar"), &b);
    hln_type_encode_option(T("timeuuid"), &b);
    static const uint8_t want[] = {0x00, 0x09, 0x00, 0x0D, 0x00, 0x0F};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    hln_buf_free(&b);
}

/* ---- validation ------------------------------------------------------- */

static void expect_invalid(const char *type, const void *p, size_t n, const char *msg)
{
    hln_error err = {0};
    int rc = hln_type_validate(T(type), p, n, "k", &err);
    if (rc != HLN_EINVAL) fail_msg("%s: %zu bytes accepted", type, n);
    assert_string_equal(err.msg, msg);
}

static void expect_valid(const char *type, const void *p, size_t n)
{
    hln_error err = {0};
    if (hln_type_validate(T(type), p, n, NULL, &err))
        fail_msg("%s: %zu bytes refused: %s", type, n, err.msg);
}

static void test_validate(void **state)
{
    (void)state;
    const uint8_t z[20] = {0};
    struct {
        const char *type;
        size_t ok;
        bool empty_ok;
    } fixed[] = {
        {"int", 4, true},       {"bigint", 8, true},   {"counter", 8, true}, {"timestamp", 8, true},
        {"double", 8, true},    {"float", 4, true},    {"boolean", 1, true}, {"uuid", 16, true},
        {"smallint", 2, false}, {"tinyint", 1, false}, {"date", 4, false},   {"time", 8, false},
    };
    for (size_t i = 0; i < HLN_ARRAY_LEN(fixed); i++) {
        hln_error err = {0};
        const hln_type *t = T(fixed[i].type);
        expect_valid(fixed[i].type, z, fixed[i].ok);
        assert_int_equal(hln_type_validate(t, z, 0, NULL, &err) == 0, fixed[i].empty_ok);
        for (size_t n = 1; n < 20; n++)
            if (n != fixed[i].ok)
                assert_int_equal(hln_type_validate(t, z, n, NULL, &err), HLN_EINVAL);
    }
    expect_invalid("int", z, 3, "Expected 4 or 0 byte int (3)");
    expect_invalid("int", z, 5, "Expected 4 or 0 byte int (5)");
    expect_invalid("bigint", z, 4, "Expected 8 or 0 byte long (4)");
    expect_invalid("timestamp", z, 7, "Expected 8 or 0 byte long for date (7)");
    expect_invalid("double", z, 4, "Expected 8 or 0 byte value for a double (4)");
    expect_invalid("float", z, 8, "Expected 4 or 0 byte value for a float (8)");
    expect_invalid("boolean", z, 2, "Expected 1 or 0 byte value (2)");
    expect_invalid("uuid", z, 15, "UUID should be 16 or 0 bytes (15)");
    expect_invalid("timeuuid", z, 17, "UUID should be 16 or 0 bytes (17)");
    expect_invalid("smallint", z, 0, "Expected 2 bytes for a smallint (0)");
    expect_invalid("smallint", z, 4, "Expected 2 bytes for a smallint (4)");
    expect_invalid("tinyint", z, 2, "Expected 1 byte for a tinyint (2)");
    expect_invalid("date", z, 8, "Expected 4 byte long for date (8)");
    expect_invalid("time", z, 4, "Expected 8 byte long for time (4)");

    /* timeuuid: version 1 only */
    val v1 = uuidv("d2177dd0-eaa2-11de-a572-001b779c76e3");
    val v4 = uuidv("550e8400-e29b-41d4-a716-446655440000");
    expect_valid("timeuuid", v1.b, 16);
    expect_valid("timeuuid", z, 0);
    expect_invalid("timeuuid", v4.b, 16, "Invalid version for TimeUUID type.");
    expect_valid("uuid", v4.b, 16);
    expect_valid("uuid", v1.b, 16);

    /* time: nanoseconds within a day */
    val tmax = be(UINT64_C(86399999999999), 8), tover = be(UINT64_C(86400000000000), 8);
    val tneg = be(UINT64_MAX, 8);
    expect_valid("time", tmax.b, 8);
    hln_error err = {0};
    assert_int_equal(hln_type_validate(T("time"), tover.b, 8, NULL, &err), HLN_EINVAL);
    assert_int_equal(hln_type_validate(T("time"), tneg.b, 8, NULL, &err), HLN_EINVAL);

    /* inet */
    expect_valid("inet", z, 0);
    expect_valid("inet", z, 4);
    expect_valid("inet", z, 16);
    assert_int_equal(hln_type_validate(T("inet"), z, 5, NULL, &err), HLN_EINVAL);

    /* variable types */
    expect_valid("blob", z, 0);
    expect_valid("blob", "\xff\x00\x80", 3);
    expect_valid("varint", z, 0);
    expect_valid("varint", z, 17);

    /* text: strict UTF-8 */
    expect_valid("text", "", 0);
    expect_valid("text", "hello", 5);
    expect_valid("text", "a\0b", 3);
    expect_valid("text", "\xc3\xa9", 2);
    expect_valid("text", "\xe2\x82\xac", 3);
    expect_valid("text", "\xf0\x9f\x98\x80", 4);
    expect_valid("text", "\xf4\x8f\xbf\xbf", 4);
    expect_invalid("text", "\xff", 1, "String didn't validate.");
    expect_invalid("text", "\xc3", 1, "String didn't validate.");             /* truncated */
    expect_invalid("text", "\xc0\xaf", 2, "String didn't validate.");         /* overlong */
    expect_invalid("text", "\xe0\x80\xaf", 3, "String didn't validate.");     /* overlong */
    expect_invalid("text", "\xed\xa0\x80", 3, "String didn't validate.");     /* surrogate */
    expect_invalid("text", "\xf4\x90\x80\x80", 4, "String didn't validate."); /* > U+10FFFF */
    expect_invalid("text", "a\x80z", 3, "String didn't validate.");
    expect_invalid("varchar", "\xe2\x82", 2, "String didn't validate.");

    /* ascii: 7-bit */
    expect_valid("ascii", "hello\x7f\x00", 7);
    expect_invalid("ascii", "h\xc3\xa9", 3, "Invalid byte for ascii: -61");
}

/* ---- literals --------------------------------------------------------- */

static void expect_lit(const char *type, hln_lit_kind k, const char *text, const char *hex)
{
    val v = lit(type, k, text);
    char got[200] = {0};
    for (size_t i = 0; i < v.n; i++)
        snprintf(got + 2 * i, 3, "%02x", v.b[i]);
    if (strcmp(got, hex) != 0)
        fail_msg("literal '%s' as %s: got %s, want %s", text, type, got, hex);
    /* every literal that converts is a valid value */
    expect_valid(type, v.b, v.n);
}

static void expect_lit_err(const char *type, hln_lit_kind k, const char *text, const char *msg)
{
    hln_buf b;
    hln_error err = {0};
    hln_buf_init(&b);
    hln_buf_put(&b, "xy", 2);
    int rc = hln_type_from_literal(T(type), k, text, "k", &b, &err);
    if (rc != HLN_EINVAL) fail_msg("literal '%s' as %s: accepted (rc %d)", text, type, rc);
    assert_int_equal(err.code, HLN_EINVAL);
    assert_int_equal(b.len, 2); /* nothing appended */
    if (msg && strcmp(err.msg, msg) != 0)
        fail_msg("literal '%s' as %s: message \"%s\", want \"%s\"", text, type, err.msg, msg);
    hln_buf_free(&b);
}

static void test_literal_numbers(void **state)
{
    (void)state;
    expect_lit("int", HLN_LIT_INTEGER, "42", "0000002a");
    expect_lit("int", HLN_LIT_INTEGER, "-1", "ffffffff");
    expect_lit("int", HLN_LIT_INTEGER, "-2147483648", "80000000");
    expect_lit("int", HLN_LIT_INTEGER, "2147483647", "7fffffff");
    expect_lit_err("int", HLN_LIT_INTEGER, "2147483648", "Unable to make int from '2147483648'");
    expect_lit_err("int", HLN_LIT_INTEGER, "-2147483649", "Unable to make int from '-2147483649'");
    expect_lit_err("int", HLN_LIT_INTEGER, "99999999999999999999999", NULL);
    expect_lit("bigint", HLN_LIT_INTEGER, "-9223372036854775808", "8000000000000000");
    expect_lit("bigint", HLN_LIT_INTEGER, "9223372036854775807", "7fffffffffffffff");
    expect_lit_err("bigint", HLN_LIT_INTEGER, "9223372036854775808",
                   "Unable to make long from '9223372036854775808'");
    expect_lit("counter", HLN_LIT_INTEGER, "5", "0000000000000005");
    expect_lit("smallint", HLN_LIT_INTEGER, "-32768", "8000");
    expect_lit("smallint", HLN_LIT_INTEGER, "32767", "7fff");
    expect_lit_err("smallint", HLN_LIT_INTEGER, "32768", "Unable to make short from '32768'");
    expect_lit("tinyint", HLN_LIT_INTEGER, "-128", "80");
    expect_lit_err("tinyint", HLN_LIT_INTEGER, "128", "Unable to make byte from '128'");

    expect_lit("varint", HLN_LIT_INTEGER, "0", "00");
    expect_lit("varint", HLN_LIT_INTEGER, "-0", "00");
    expect_lit("varint", HLN_LIT_INTEGER, "1", "01");
    expect_lit("varint", HLN_LIT_INTEGER, "127", "7f");
    expect_lit("varint", HLN_LIT_INTEGER, "128", "0080");
    expect_lit("varint", HLN_LIT_INTEGER, "255", "00ff");
    expect_lit("varint", HLN_LIT_INTEGER, "256", "0100");
    expect_lit("varint", HLN_LIT_INTEGER, "-1", "ff");
    expect_lit("varint", HLN_LIT_INTEGER, "-128", "80");
    expect_lit("varint", HLN_LIT_INTEGER, "-129", "ff7f");
    expect_lit("varint", HLN_LIT_INTEGER, "-256", "ff00");
    expect_lit("varint", HLN_LIT_INTEGER, "-9223372036854775808", "8000000000000000");
    expect_lit("varint", HLN_LIT_INTEGER, "18446744073709551616", "010000000000000000");
    expect_lit("varint", HLN_LIT_INTEGER, "-18446744073709551616", "ff0000000000000000");
    expect_lit("varint", HLN_LIT_INTEGER, "123456789012345678901234567890",
               "018ee90ff6c373e0ee4e3f0ad2");
    expect_lit("varint", HLN_LIT_INTEGER, "-123456789012345678901234567890",
               "fe7116f0093c8c1f11b1c0f52e");

    expect_lit("float", HLN_LIT_FLOAT, "1.5", "3fc00000");
    expect_lit("float", HLN_LIT_INTEGER, "3", "40400000");
    expect_lit("float", HLN_LIT_FLOAT, "-0.0", "80000000");
    expect_lit("float", HLN_LIT_FLOAT, "NaN", "7fc00000");
    expect_lit("float", HLN_LIT_FLOAT, "Infinity", "7f800000");
    expect_lit("float", HLN_LIT_FLOAT, "-Infinity", "ff800000");
    expect_lit("double", HLN_LIT_FLOAT, "1.5", "3ff8000000000000");
    expect_lit("double", HLN_LIT_FLOAT, "0.1", "3fb999999999999a");
    expect_lit("double", HLN_LIT_FLOAT, "1e20", "4415af1d78b58c40");
    expect_lit("double", HLN_LIT_INTEGER, "-2", "c000000000000000");
    expect_lit("double", HLN_LIT_FLOAT, "NaN", "7ff8000000000000");
    expect_lit("double", HLN_LIT_FLOAT, "-Infinity", "fff0000000000000");

    /* kind mismatches, in Cassandra's words */
    expect_lit_err("int", HLN_LIT_STRING, "foo",
                   "Invalid STRING constant (foo) for \"k\" of type int");
    expect_lit_err("int", HLN_LIT_FLOAT, "1.5",
                   "Invalid FLOAT constant (1.5) for \"k\" of type int");
    expect_lit_err("bigint", HLN_LIT_BOOL, "true",
                   "Invalid BOOLEAN constant (true) for \"k\" of type bigint");
    expect_lit_err("int", HLN_LIT_HEX, "0x01", "Invalid HEX constant (0x01) for \"k\" of type int");
    expect_lit_err("varint", HLN_LIT_FLOAT, "1.0",
                   "Invalid FLOAT constant (1.0) for \"k\" of type varint");
    expect_lit_err("text", HLN_LIT_INTEGER, "1",
                   "Invalid INTEGER constant (1) for \"k\" of type text");
    expect_lit_err("varchar", HLN_LIT_INTEGER, "1",
                   "Invalid INTEGER constant (1) for \"k\" of type text");
    expect_lit_err("uuid", HLN_LIT_INTEGER, "1",
                   "Invalid INTEGER constant (1) for \"k\" of type uuid");
}

static void test_literal_other(void **state)
{
    (void)state;
    expect_lit("boolean", HLN_LIT_BOOL, "true", "01");
    expect_lit("boolean", HLN_LIT_BOOL, "FALSE", "00");
    expect_lit_err("boolean", HLN_LIT_STRING, "true",
                   "Invalid STRING constant (true) for \"k\" of type boolean");
    expect_lit_err("boolean", HLN_LIT_INTEGER, "1",
                   "Invalid INTEGER constant (1) for \"k\" of type boolean");

    expect_lit("text", HLN_LIT_STRING, "h\xc3\xa9", "68c3a9");
    expect_lit("text", HLN_LIT_STRING, "", "");
    expect_lit("varchar", HLN_LIT_STRING, "ab", "6162");
    expect_lit_err("text", HLN_LIT_STRING, "\xff", "String didn't validate.");
    expect_lit("ascii", HLN_LIT_STRING, "abc", "616263");
    expect_lit_err("ascii", HLN_LIT_STRING, "h\xc3\xa9", NULL);
    expect_lit_err("text", HLN_LIT_UUID, "550e8400-e29b-41d4-a716-446655440000",
                   "Invalid UUID constant (550e8400-e29b-41d4-a716-446655440000) for \"k\" of type "
                   "text");

    expect_lit("uuid", HLN_LIT_UUID, "550E8400-E29B-41D4-A716-446655440000",
               "550e8400e29b41d4a716446655440000");
    expect_lit("timeuuid", HLN_LIT_UUID, "d2177dd0-eaa2-11de-a572-001b779c76e3",
               "d2177dd0eaa211dea572001b779c76e3");
    expect_lit_err("timeuuid", HLN_LIT_UUID, "550e8400-e29b-41d4-a716-446655440000", NULL);
    /* Cassandra does not take a quoted string for a uuid */
    expect_lit_err("uuid", HLN_LIT_STRING, "550e8400-e29b-41d4-a716-446655440000",
                   "Invalid STRING constant (550e8400-e29b-41d4-a716-446655440000) for \"k\" of "
                   "type uuid");

    expect_lit("blob", HLN_LIT_HEX, "0xCAfe", "cafe");
    expect_lit("blob", HLN_LIT_HEX, "0x", "");
    expect_lit_err("blob", HLN_LIT_HEX, "0xabc", "cannot parse 'abc' as hex bytes");
    expect_lit_err("blob", HLN_LIT_STRING, "cafe",
                   "Invalid STRING constant (cafe) for \"k\" of type blob");
    expect_lit_err("blob", HLN_LIT_INTEGER, "1",
                   "Invalid INTEGER constant (1) for \"k\" of type blob");

    expect_lit("inet", HLN_LIT_STRING, "127.0.0.1", "7f000001");
    expect_lit("inet", HLN_LIT_STRING, "::1", "00000000000000000000000000000001");
    expect_lit("inet", HLN_LIT_STRING, "2001:db8::ff00:42:8329",
               "20010db8000000000000ff0000428329");
    expect_lit_err("inet", HLN_LIT_STRING, "nope", "Unable to make inet address from 'nope'");
    expect_lit_err("inet", HLN_LIT_STRING, "1.2.3.256", NULL);
}

static void test_literal_time(void **state)
{
    (void)state;
    /* timestamps: milliseconds since the epoch, UTC unless a zone is given */
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02", "0000018cc7785000"); /* 1704153600000 */
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 03:04:05", "0000018cc820d888");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02T03:04:05", "0000018cc820d888");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 03:04:05Z", "0000018cc820d888");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 03:04:05+0000", "0000018cc820d888");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02T03:04:05.123Z", "0000018cc820d903");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 03:04:05.123456+0000", "0000018cc820d903");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 04:04:05.123+01:00", "0000018cc820d903");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 02:04:05.123-0100", "0000018cc820d903");
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 03:04", "0000018cc820c500");
    expect_lit("timestamp", HLN_LIT_STRING, "1970-01-01 00:00:00", "0000000000000000");
    expect_lit("timestamp", HLN_LIT_STRING, "1969-12-31 23:59:59.999", "ffffffffffffffff");
    expect_lit("timestamp", HLN_LIT_STRING, "2000-02-29", "000000dd9aa6e000");
    expect_lit("timestamp", HLN_LIT_STRING, "1704164645123", "0000018cc820d903");
    expect_lit("timestamp", HLN_LIT_INTEGER, "1704164645123", "0000018cc820d903");
    expect_lit("timestamp", HLN_LIT_INTEGER, "-1", "ffffffffffffffff");
    expect_lit_err("timestamp", HLN_LIT_STRING, "2024-13-01",
                   "Unable to parse a date/time from '2024-13-01'");
    expect_lit_err("timestamp", HLN_LIT_STRING, "2023-02-29", NULL);
    expect_lit_err("timestamp", HLN_LIT_STRING, "2024-01-02 24:00:00", NULL);
    expect_lit_err("timestamp", HLN_LIT_STRING, "2024-01-02 03:04:05 junk", NULL);
    expect_lit_err("timestamp", HLN_LIT_STRING, "yesterday", NULL);
    expect_lit_err("timestamp", HLN_LIT_STRING, "2024-01-02 ", NULL);
    expect_lit("timestamp", HLN_LIT_STRING, "2024-01-02 03:04:05 +0000", "0000018cc820d888");
    expect_lit_err("timestamp", HLN_LIT_FLOAT, "1.5",
                   "Invalid FLOAT constant (1.5) for \"k\" of type timestamp");

    /* dates: unsigned days, 2^31 = 1970-01-01 */
    expect_lit("date", HLN_LIT_STRING, "1970-01-01", "80000000");
    expect_lit("date", HLN_LIT_STRING, "1969-12-31", "7fffffff");
    expect_lit("date", HLN_LIT_STRING, "2024-01-02", "80004d0c"); /* 19724 */
    expect_lit("date", HLN_LIT_STRING, "0001-01-01", "7ff506c6"); /* -719162 */
    expect_lit("date", HLN_LIT_INTEGER, "0", "00000000");
    expect_lit("date", HLN_LIT_STRING, "2147483648", "80000000");
    expect_lit_err("date", HLN_LIT_INTEGER, "4294967296", NULL);
    expect_lit_err("date", HLN_LIT_STRING, "2024-02-30",
                   "Unable to coerce '2024-02-30' to a formatted date (long)");

    /* times: nanoseconds of the day */
    expect_lit("time", HLN_LIT_STRING, "03:04:05.123", "00000a0ba4a206c0"); /* 11045123000000 */
    expect_lit("time", HLN_LIT_STRING, "00:00:00", "0000000000000000");
    expect_lit("time", HLN_LIT_STRING, "23:59:59.999999999", "00004e94914effff");
    expect_lit("time", HLN_LIT_INTEGER, "1", "0000000000000001");
    expect_lit_err("time", HLN_LIT_STRING, "24:00:00",
                   "(TimeType) Unable to coerce '24:00:00' to a formatted time (long)");
    expect_lit_err("time", HLN_LIT_STRING, "03:04", NULL);
    expect_lit_err("time", HLN_LIT_INTEGER, "86400000000000", NULL);
}

/* ---- ordering and comparable encoding -------------------------------- */

static void test_order_ints(void **state)
{
    (void)state;
    val ints[] = {
        raw("", 0),          be(0x80000000u, 4), be(0x80000001u, 4), be((uint32_t)-256, 4),
        be((uint32_t)-1, 4), be(0, 4),           be(1, 4),           be(255, 4),
        be(256, 4),          be(0x7fffffff, 4)};
    check_order("int", ints, HLN_ARRAY_LEN(ints));

    val longs[] = {raw("", 0),
                   be(UINT64_C(1) << 63, 8),
                   be((uint64_t)-4294967296LL, 8),
                   be(UINT64_MAX, 8),
                   be(0, 8),
                   be(1, 8),
                   be(UINT64_C(0x100000000), 8),
                   be(INT64_MAX, 8)};
    check_order("bigint", longs, HLN_ARRAY_LEN(longs));
    check_order("timestamp", longs, HLN_ARRAY_LEN(longs));
    check_order("counter", longs, HLN_ARRAY_LEN(longs));

    val shorts[] = {raw("", 0), be(0x8000, 2), be(0xffff, 2), be(0, 2), be(0x7fff, 2)};
    check_order("smallint", shorts, HLN_ARRAY_LEN(shorts));
    val bytes[] = {raw("", 0), be(0x80, 1), be(0xff, 1), be(0, 1), be(1, 1), be(0x7f, 1)};
    check_order("tinyint", bytes, HLN_ARRAY_LEN(bytes));

    val times[] = {raw("", 0), be(0, 8), be(1, 8), be(UINT64_C(86399999999999), 8)};
    check_order("time", times, HLN_ARRAY_LEN(times));

    /* date: unsigned, so "negative" int days (before 1970) still sort first */
    val dates[] = {raw("", 0),         be(0, 4),           be(1, 4),          be(0x7fffffff, 4),
                   be(0x80000000u, 4), be(0x80000001u, 4), be(0xffffffffu, 4)};
    check_order("date", dates, HLN_ARRAY_LEN(dates));

    val bools[] = {raw("", 0), be(0, 1), be(1, 1)};
    check_order("boolean", bools, HLN_ARRAY_LEN(bools));
    check_equal("boolean", be(1, 1), be(0x02, 1)); /* any non-zero byte is true */
    check_equal("boolean", be(1, 1), be(0xff, 1));

    val varints[] = {
        raw("", 0),
        lit("varint", HLN_LIT_INTEGER, "-123456789012345678901234567890"),
        lit("varint", HLN_LIT_INTEGER, "-18446744073709551616"),
        lit("varint", HLN_LIT_INTEGER, "-65536"),
        lit("varint", HLN_LIT_INTEGER, "-32769"),
        lit("varint", HLN_LIT_INTEGER, "-32768"),
        lit("varint", HLN_LIT_INTEGER, "-129"),
        lit("varint", HLN_LIT_INTEGER, "-128"),
        lit("varint", HLN_LIT_INTEGER, "-2"),
        lit("varint", HLN_LIT_INTEGER, "-1"),
        lit("varint", HLN_LIT_INTEGER, "0"),
        lit("varint", HLN_LIT_INTEGER, "1"),
        lit("varint", HLN_LIT_INTEGER, "127"),
        lit("varint", HLN_LIT_INTEGER, "128"),
        lit("varint", HLN_LIT_INTEGER, "255"),
        lit("varint", HLN_LIT_INTEGER, "256"),
        lit("varint", HLN_LIT_INTEGER, "32767"),
        lit("varint", HLN_LIT_INTEGER, "32768"),
        lit("varint", HLN_LIT_INTEGER, "18446744073709551616"),
        lit("varint", HLN_LIT_INTEGER, "123456789012345678901234567890"),
    };
    check_order("varint", varints, HLN_ARRAY_LEN(varints));
    /* non-minimal forms equal their minimal form */
    check_equal("varint", raw("\x00\x01", 2), be(1, 1));
    check_equal("varint", raw("\xff\xff\xff", 3), be(0xff, 1));
    check_equal("varint", raw("\x00\x00", 2), be(0, 1));
}

static void test_order_floats(void **state)
{
    (void)state;
    float fneg_nan;
    uint32_t nb = 0xffc00001u;
    memcpy(&fneg_nan, &nb, 4);
    val floats[] = {
        raw("", 0),   f32(-INFINITY), f32(-3.4028235e38f), f32(-1.0f),    f32(-1.17549435e-38f),
        f32(-1e-45f), f32(-0.0f),     f32(0.0f),           f32(1e-45f),   f32(1.17549435e-38f),
        f32(1.0f),    f32(1.5f),      f32(3.4028235e38f),  f32(INFINITY), f32(NAN)};
    check_order("float", floats, HLN_ARRAY_LEN(floats));
    check_equal("float", f32(NAN), f32(fneg_nan)); /* Float.compare: all NaNs equal */

    double dneg_nan;
    uint64_t db = UINT64_C(0xfff0000000000001);
    memcpy(&dneg_nan, &db, 8);
    val doubles[] = {raw("", 0),
                     f64(-INFINITY),
                     f64(-1.7976931348623157e308),
                     f64(-1.0),
                     f64(-2.2250738585072014e-308),
                     f64(-5e-324),
                     f64(-0.0),
                     f64(0.0),
                     f64(5e-324),
                     f64(2.2250738585072014e-308),
                     f64(0.1),
                     f64(1.0),
                     f64(1e20),
                     f64(1.7976931348623157e308),
                     f64(INFINITY),
                     f64(NAN)};
    check_order("double", doubles, HLN_ARRAY_LEN(doubles));
    check_equal("double", f64(NAN), f64(dneg_nan));
}

static void test_order_bytes(void **state)
{
    (void)state;
    val strs[] = {raw("", 0),        raw("\0", 1),   raw("\0\0", 2),  raw("\0\x01", 2),
                  raw("\0\xff", 2),  raw("\x01", 1), raw("a", 1),     raw("a\0", 2),
                  raw("a\0\0", 3),   raw("a\0b", 3), raw("a\x01", 2), raw("ab", 2),
                  raw("abc", 3),     raw("b", 1),    raw("\xff", 1),  raw("\xff\0", 2),
                  raw("\xff\xff", 2)};
    check_order("blob", strs, HLN_ARRAY_LEN(strs));
    /* text and ascii order by unsigned bytes too (valid strings only) */
    val texts[] = {raw("", 0),
                   raw("\0", 1),
                   raw("A", 1),
                   raw("Z", 1),
                   raw("a", 1),
                   raw("a\0", 2),
                   raw("ab", 2),
                   raw("b", 1),
                   raw("\x7f", 1),
                   raw("\xc3\xa9", 2),
                   raw("\xe2\x82\xac", 3),
                   raw("\xf0\x9f\x98\x80", 4)};
    check_order("text", texts, HLN_ARRAY_LEN(texts));
    check_order("ascii", texts, 9);
    val inets2[] = {raw("", 0),
                    lit("inet", HLN_LIT_STRING, "::1"),
                    lit("inet", HLN_LIT_STRING, "1.2.3.4"),
                    lit("inet", HLN_LIT_STRING, "10.0.0.1"),
                    lit("inet", HLN_LIT_STRING, "a00:1::"),
                    lit("inet", HLN_LIT_STRING, "255.255.255.255")};
    check_order("inet", inets2, HLN_ARRAY_LEN(inets2));

    /* the exact encodings of the header essay */
    hln_buf b;
    hln_buf_init(&b);
    val a0 = raw("a\0", 2);
    enc(T("text"), &a0, false, &b);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "a\x00\xff\x00\x00", 5);
    enc(T("text"), &a0, true, &b);
    assert_memory_equal(b.data, "\x9e\xff\x00\xff\xff", 5);
    val e = raw("", 0);
    enc(T("text"), &e, false, &b);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "\x00\x00", 2);
    enc(T("int"), &e, false, &b);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 0x00);
    val one = be(1, 4);
    enc(T("int"), &one, false, &b);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "\x01\x80\x00\x00\x01", 5);
    hln_buf_free(&b);
}

static void test_order_uuids(void **state)
{
    (void)state;
    /* uuid: version first; v1 by timestamp (not by raw msb), then lsb unsigned;
     * other versions by msb, then lsb, unsigned */
    val uuids[] = {
        raw("", 0),
        uuidv("ffffffff-ffff-0fff-ffff-ffffffffffff"), /* version 0 */
        uuidv("ffffffff-0000-1000-0000-000000000000"), /* v1, tiny timestamp */
        uuidv("00000000-0001-1000-0000-000000000000"), /* v1, larger */
        uuidv("00000000-0000-1001-0000-000000000000"), /* v1, larger: time_hi */
        uuidv("00000000-0000-1001-8000-000000000000"), /* same time, lsb unsigned */
        uuidv("00000000-0000-1001-ff00-000000000000"),
        uuidv("d2177dd0-eaa2-11de-a572-001b779c76e3"),
        uuidv("00000000-0000-4000-0000-000000000000"),
        uuidv("550e8400-e29b-41d4-a716-446655440000"),
        uuidv("550e8400-e29b-41d4-a716-446655440001"),
        uuidv("550e8400-e29b-41d4-f716-446655440000"),
        uuidv("ffffffff-ffff-4fff-ffff-ffffffffffff"),
        uuidv("00000000-0000-5000-0000-000000000000"),
    };
    check_order("uuid", uuids, HLN_ARRAY_LEN(uuids));

    /* timeuuid: timestamp, then lsb as signed bytes */
    val tuuids[] = {
        raw("", 0),
        uuidv("ffffffff-0000-1000-0000-000000000000"),
        uuidv("00000000-0001-1000-0000-000000000000"),
        uuidv("00000000-0000-1001-8000-000000000000"), /* lsb 0x80 < 0x00 < 0x7f */
        uuidv("00000000-0000-1001-ff00-000000000000"),
        uuidv("00000000-0000-1001-0080-000000000000"), /* second byte -128 */
        uuidv("00000000-0000-1001-0000-000000000000"),
        uuidv("00000000-0000-1001-0000-000000000001"),
        uuidv("00000000-0000-1001-0001-000000000000"),
        uuidv("00000000-0000-1001-7f00-000000000000"),
        uuidv("d2177dd0-eaa2-11de-a572-001b779c76e3"),
        uuidv("d2177dd1-eaa2-11de-a572-001b779c76e3"),
    };
    check_order("timeuuid", tuuids, HLN_ARRAY_LEN(tuuids));
}

/* deterministic xorshift64* */
static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(0x2545F4914F6CDD1D);
}

static val random_val(const hln_type *t)
{
    val v;
    uint64_t r = rnd();
    if (r % 23 == 0 && t->kind != HLN_T_TIME) /* some empties */
        return raw("", 0);
    switch (t->kind) {
    case HLN_T_VARCHAR:
    case HLN_T_ASCII:
    case HLN_T_BLOB:
    case HLN_T_INET:
    case HLN_T_VARINT: {
        v.n = (size_t)(rnd() % (t->kind == HLN_T_INET ? 17 : 12));
        if (t->kind == HLN_T_VARINT && v.n == 0) v.n = 1;
        for (size_t i = 0; i < v.n; i++) {
            uint64_t x = rnd();
            /* a small alphabet with 0x00 and 0xff, so prefixes and escapes are common */
            static const uint8_t alpha[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 'a', 'b'};
            v.b[i] = alpha[x % 8];
            if (t->kind == HLN_T_ASCII || t->kind == HLN_T_VARCHAR) v.b[i] &= 0x7f;
        }
        return v;
    }
    case HLN_T_FLOAT: {
        static const uint32_t special[] = {0,           0x80000000u, 0x7f800000u, 0xff800000u,
                                           0x7fc00000u, 0x00000001u, 0x3f800000u};
        uint32_t bits = (uint32_t)r;
        if (r % 3 == 0) bits = special[(r >> 8) % HLN_ARRAY_LEN(special)];
        return be(bits, 4);
    }
    case HLN_T_DOUBLE: {
        static const uint64_t special[] = {0, UINT64_C(0x8000000000000000),
                                           UINT64_C(0x7ff0000000000000),
                                           UINT64_C(0x3ff0000000000000)};
        uint64_t bits = rnd();
        if (r % 3 == 0) bits = special[(r >> 8) % HLN_ARRAY_LEN(special)];
        return be(bits, 8);
    }
    case HLN_T_TIME:
        return be(rnd() % UINT64_C(86400000000000), 8);
    case HLN_T_BOOLEAN:
        return be(r % 2, 1);
    case HLN_T_UUID:
    case HLN_T_TIMEUUID: {
        v.n = 16;
        uint64_t a = rnd(), b = rnd();
        if (r % 4 == 0) /* share the high bits so later bytes decide */
            a &= UINT64_C(0xFFFF0000FFFF0FFF);
        for (int i = 0; i < 8; i++) {
            v.b[i] = (uint8_t)(a >> (56 - 8 * i));
            v.b[8 + i] = (uint8_t)(b >> (56 - 8 * i));
        }
        int ver = t->kind == HLN_T_TIMEUUID ? 1 : (int)(rnd() % 3) * 3 + 1; /* 1, 4, 7 */
        v.b[6] = (uint8_t)((v.b[6] & 0x0F) | ver << 4);
        return v;
    }
    default: {
        size_t n = (size_t)t->fixed_len;
        uint64_t x = rnd();
        if (r % 5 == 0) x = (r % 2) ? x % 4 : (uint64_t)0 - x % 4; /* near zero */
        return be(x, n);
    }
    }
}

static void test_random_agreement(void **state)
{
    (void)state;
    static const char *types[] = {"int",  "bigint", "smallint", "tinyint", "timestamp", "time",
                                  "date", "float",  "double",   "boolean", "uuid",      "timeuuid",
                                  "text", "ascii",  "blob",     "inet",    "varint",    "counter"};
    hln_buf ea, eb, da, db;
    hln_buf_init(&ea);
    hln_buf_init(&eb);
    hln_buf_init(&da);
    hln_buf_init(&db);
    for (size_t ti = 0; ti < HLN_ARRAY_LEN(types); ti++) {
        const hln_type *t = T(types[ti]);
        for (int it = 0; it < 3000; it++) {
            val a = random_val(t), b = random_val(t);
            if (t->kind == HLN_T_INET && a.n != 0 && a.n != 4 && a.n != 16) a.n = 4;
            if (t->kind == HLN_T_INET && b.n != 0 && b.n != 4 && b.n != 16) b.n = 16;
            int c = sgn(hln_type_compare(t, a.b, a.n, b.b, b.n));
            assert_int_equal(c, -sgn(hln_type_compare(t, b.b, b.n, a.b, a.n)));
            enc(t, &a, false, &ea);
            enc(t, &b, false, &eb);
            enc(t, &a, true, &da);
            enc(t, &b, true, &db);
            int m = bytecmp(ea.data, ea.len, eb.data, eb.len);
            if (m != c) fail_msg("%s: compare %d but asc encodings %d", t->cql_name, c, m);
            assert_int_equal(bytecmp(da.data, da.len, db.data, db.len), -c);
            /* round trip for canonical values */
            hln_rd r;
            hln_buf out;
            hln_buf_init(&out);
            hln_rd_init(&r, ea.data, ea.len);
            assert_int_equal(hln_type_from_comparable(t, &r, false, &out), 0);
            assert_int_equal(hln_rd_left(&r), 0);
            assert_int_equal(hln_type_compare(t, out.data, out.len, a.b, a.n), 0);
            bool canonical =
                !(t->kind == HLN_T_VARINT || t->kind == HLN_T_FLOAT || t->kind == HLN_T_DOUBLE);
            if (canonical) {
                assert_int_equal(out.len, a.n);
                if (a.n) assert_memory_equal(out.data, a.b, a.n);
            }
            hln_buf_free(&out);
        }
    }
    hln_buf_free(&ea);
    hln_buf_free(&eb);
    hln_buf_free(&da);
    hln_buf_free(&db);
}

/* Two components, each with its own direction, concatenated with the 0x40
 * marker as storage writes them: memcmp of whole keys orders by the first
 * component (ASC), then the second (DESC). */
static void test_multi_component(void **state)
{
    (void)state;
    const hln_type *tt = T("text"), *ti = T("int");
    val firsts[] = {raw("", 0), raw("a", 1), raw("a\0", 2), raw("ab", 2)};
    val seconds[] = {be(0x80000000u, 4), be(0, 4), be(7, 4)};
    hln_buf keys[12];
    int k = 0;
    for (int i = 0; i < 4; i++) {
        for (int j = 2; j >= 0; j--) { /* DESC: largest second component first */
            hln_buf_init(&keys[k]);
            hln_buf_u8(&keys[k], 0x40);
            assert_int_equal(hln_type_to_comparable(tt, firsts[i].b, firsts[i].n, false, &keys[k]),
                             0);
            hln_buf_u8(&keys[k], 0x40);
            assert_int_equal(hln_type_to_comparable(ti, seconds[j].b, seconds[j].n, true, &keys[k]),
                             0);
            k++;
        }
    }
    for (int a = 0; a < 12; a++)
        for (int b = 0; b < 12; b++)
            assert_int_equal(bytecmp(keys[a].data, keys[a].len, keys[b].data, keys[b].len),
                             a < b   ? -1
                             : a > b ? 1
                                     : 0);
    /* decode one key back */
    hln_rd r;
    hln_rd_init(&r, keys[5].data, keys[5].len);
    hln_buf o1, o2;
    hln_buf_init(&o1);
    hln_buf_init(&o2);
    assert_int_equal(hln_rd_u8(&r), 0x40);
    assert_int_equal(hln_type_from_comparable(tt, &r, false, &o1), 0);
    assert_int_equal(hln_rd_u8(&r), 0x40);
    assert_int_equal(hln_type_from_comparable(ti, &r, true, &o2), 0);
    assert_int_equal(hln_rd_left(&r), 0);
    assert_int_equal(o1.len, 1);
    assert_memory_equal(o1.data, "a", 1);
    assert_int_equal(o2.len, 4);
    assert_memory_equal(o2.data, seconds[0].b, 4);
    hln_buf_free(&o1);
    hln_buf_free(&o2);
    for (int i = 0; i < 12; i++)
        hln_buf_free(&keys[i]);
}

static void test_comparable_errors(void **state)
{
    (void)state;
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_put(&b, "zz", 2);
    /* wrong fixed length: refused, nothing appended */
    assert_int_equal(hln_type_to_comparable(T("int"), (const uint8_t *)"abc", 3, false, &b),
                     HLN_EINVAL);
    assert_int_equal(b.len, 2);
    hln_buf_free(&b);

    struct {
        const char *type;
        const char *bytes;
        size_t n;
    } bad[] = {
        {"int", "\x02\x00\x00\x00\x00", 5},        /* bad tag */
        {"boolean", "\x01\x05", 2},                /* not 0/1 */
        {"text", "a\x00\x07", 3},                  /* bad escape */
        {"varint", "\x03", 1},                     /* bad tag */
        {"varint", "\x02\x00\x00\x00\x00", 5},     /* zero length */
        {"varint", "\x02\x00\x00\x00\x01\x80", 6}, /* sign disagrees with tag */
        {"uuid", "\x01\x04\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
         18}, /* version byte disagrees */
    };
    for (size_t i = 0; i < HLN_ARRAY_LEN(bad); i++) {
        hln_rd r;
        hln_rd_init(&r, bad[i].bytes, bad[i].n);
        hln_buf out;
        hln_buf_init(&out);
        if (hln_type_from_comparable(T(bad[i].type), &r, false, &out) == 0)
            fail_msg("bad encoding #%zu for %s accepted", i, bad[i].type);
        hln_buf_free(&out);
    }
}

/* ---- format ----------------------------------------------------------- */

static void expect_fmt(const char *type, val v, const char *want)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_type_format(T(type), v.b, v.n, &b);
    hln_buf_u8(&b, 0);
    if (strcmp((const char *)b.data, want) != 0)
        fail_msg("format %s: got \"%s\", want \"%s\"", type, (const char *)b.data, want);
    hln_buf_free(&b);
}

static void test_format(void **state)
{
    (void)state;
    expect_fmt("int", be((uint32_t)-42, 4), "-42");
    expect_fmt("int", be(0x80000000u, 4), "-2147483648");
    expect_fmt("int", raw("", 0), "");
    expect_fmt("bigint", be(UINT64_C(1) << 63, 8), "-9223372036854775808");
    expect_fmt("counter", be(12, 8), "12");
    expect_fmt("smallint", be(0x8000, 2), "-32768");
    expect_fmt("tinyint", be(0xff, 1), "-1");
    expect_fmt("varint", lit("varint", HLN_LIT_INTEGER, "-129"), "-129");
    expect_fmt("varint", lit("varint", HLN_LIT_INTEGER, "0"), "0");
    expect_fmt("varint", raw("\x00\x00\x01", 3), "1");
    expect_fmt("varint", lit("varint", HLN_LIT_INTEGER, "-123456789012345678901234567890"),
               "-123456789012345678901234567890");
    expect_fmt("varint", lit("varint", HLN_LIT_INTEGER, "18446744073709551616"),
               "18446744073709551616");
    expect_fmt("float", f32(1.5f), "1.5");
    expect_fmt("float", f32(0.1f), "0.1");
    expect_fmt("float", f32(-3.0f), "-3");
    expect_fmt("float", f32(NAN), "NaN");
    expect_fmt("float", f32(-INFINITY), "-Infinity");
    expect_fmt("double", f64(0.1), "0.1");
    expect_fmt("double", f64(1e20), "1e+20");
    expect_fmt("double", f64(1.0 / 3), "0.3333333333333333");
    expect_fmt("double", f64(INFINITY), "Infinity");
    expect_fmt("double", f64(-0.0), "-0");
    expect_fmt("boolean", be(1, 1), "True");
    expect_fmt("boolean", be(0, 1), "False");
    expect_fmt("text", raw("h\xc3\xa9 'x'", 7), "h\xc3\xa9 'x'");
    expect_fmt("ascii", raw("abc", 3), "abc");
    expect_fmt("blob", raw("\xca\xfe\x00", 3), "0xcafe00");
    expect_fmt("blob", raw("", 0), "0x");
    expect_fmt("uuid", uuidv("550E8400-E29B-41D4-A716-446655440000"),
               "550e8400-e29b-41d4-a716-446655440000");
    expect_fmt("timeuuid", uuidv("d2177dd0-eaa2-11de-a572-001b779c76e3"),
               "d2177dd0-eaa2-11de-a572-001b779c76e3");
    expect_fmt("timestamp", be(UINT64_C(1704164645123), 8), "2024-01-02 03:04:05.123000+0000");
    expect_fmt("timestamp", be(0, 8), "1970-01-01 00:00:00.000000+0000");
    expect_fmt("timestamp", be(UINT64_MAX, 8), "1969-12-31 23:59:59.999000+0000");
    expect_fmt("timestamp", lit("timestamp", HLN_LIT_STRING, "2000-02-29 12:00:00"),
               "2000-02-29 12:00:00.000000+0000");
    expect_fmt("timestamp", lit("timestamp", HLN_LIT_STRING, "0001-01-01"),
               "0001-01-01 00:00:00.000000+0000");
    expect_fmt("date", be(0x80004d0cu, 4), "2024-01-02");
    expect_fmt("date", be(0x7fffffffu, 4), "1969-12-31");
    expect_fmt("time", be(UINT64_C(11045123000000), 8), "03:04:05.123000000");
    expect_fmt("time", be(0, 8), "00:00:00.000000000");
    expect_fmt("inet", lit("inet", HLN_LIT_STRING, "127.0.0.1"), "127.0.0.1");
    /* Java's getHostAddress, as CAST(i AS text) and toJson print it */
    expect_fmt("inet", lit("inet", HLN_LIT_STRING, "::1"), "0:0:0:0:0:0:0:1");
    expect_fmt("inet", lit("inet", HLN_LIT_STRING, "2001:db8:0:0:0:ff00:42:8329"),
               "2001:db8:0:0:0:ff00:42:8329");

    /* dates and timestamps round-trip through text over a wide range */
    for (int64_t day = -800000; day <= 3000000; day += 997) {
        val d = be((uint64_t)(day + (INT64_C(1) << 31)), 4);
        hln_buf b;
        hln_buf_init(&b);
        hln_type_format(T("date"), d.b, d.n, &b);
        hln_buf_u8(&b, 0);
        val back;
        bool civil = day >= -719162 && day <= 2932896; /* years 1..9999 */
        if (civil) {
            back = lit("date", HLN_LIT_STRING, (const char *)b.data);
            assert_int_equal(back.n, 4);
            assert_memory_equal(back.b, d.b, 4);
        }

        int64_t ms = day * 86400000 + (day % 86400) * 1000 + 123;
        val ts = be((uint64_t)ms, 8);
        hln_buf_reset(&b);
        hln_type_format(T("timestamp"), ts.b, ts.n, &b);
        hln_buf_u8(&b, 0);
        if (civil) {
            back = lit("timestamp", HLN_LIT_STRING, (const char *)b.data);
            assert_memory_equal(back.b, ts.b, 8);
        }
        hln_buf_free(&b);
    }
}

/* ---- partition keys --------------------------------------------------- */

/* ---- parameterised types and collection values ----------------------- */

static void test_param_types(void **state)
{
    (void)state;
    const hln_type *l = hln_type_parse("list<int>");
    assert_non_null(l);
    assert_int_equal(l->kind, HLN_T_LIST);
    assert_false(l->frozen);
    assert_true(hln_type_is_multicell(l));
    assert_ptr_equal(l, hln_type_parse("LIST< int >"));
    assert_string_equal(l->cql_name, "list<int>");
    const hln_type *m = hln_type_parse("map<varchar, frozen<list<int>>>");
    assert_non_null(m);
    assert_string_equal(m->cql_name, "map<text, frozen<list<int>>>");
    assert_true(m->params[1]->frozen);
    /* freezing is deep and named once per level, as Cassandra prints it */
    const hln_type *f = hln_type_parse("frozen<list<set<int>>>");
    assert_non_null(f);
    assert_string_equal(f->cql_name, "frozen<list<frozen<set<int>>>>");
    assert_true(f->frozen && f->params[0]->frozen);
    assert_ptr_equal(hln_type_freeze(l), hln_type_parse("frozen<list<int>>"));
    assert_false(hln_type_equal(l, hln_type_freeze(l)));
    assert_null(hln_type_parse("frozen<int>"));
    assert_null(hln_type_parse("map<int>"));
    assert_null(hln_type_parse("list<int"));
    assert_null(hln_type_parse("list<nosuch>"));
}

/* Serializes a list of n ints (or a set: the caller passes them sorted). */
static size_t ints_coll(uint8_t *out, const int32_t *v, int n)
{
    size_t o = 0;
    out[o++] = 0, out[o++] = 0, out[o++] = 0, out[o++] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        out[o++] = 0, out[o++] = 0, out[o++] = 0, out[o++] = 4;
        uint32_t u = (uint32_t)v[i];
        out[o++] = (uint8_t)(u >> 24), out[o++] = (uint8_t)(u >> 16);
        out[o++] = (uint8_t)(u >> 8), out[o++] = (uint8_t)u;
    }
    return o;
}

static void test_collection_values(void **state)
{
    (void)state;
    hln_error err = {0};
    const hln_type *set = hln_type_parse("frozen<set<int>>");
    const hln_type *list = hln_type_parse("frozen<list<int>>");
    uint8_t a[128], b[128];
    int32_t va[] = {1, 2}, vb[] = {2, 1};
    size_t na = ints_coll(a, va, 2), nb = ints_coll(b, vb, 2);
    assert_int_equal(hln_type_validate(set, a, na, NULL, &err), 0);
    assert_int_equal(hln_type_validate(list, b, nb, NULL, &err), 0);
    /* clients may send sets unsorted (Cassandra sorts them): valid, and
       normalising gives the sorted form */
    assert_int_equal(hln_type_validate(set, b, nb, NULL, &err), 0);
    hln_buf norm;
    hln_buf_init(&norm);
    assert_int_equal(hln_coll_normalize(set, b, nb, &norm), 0);
    assert_int_equal(norm.len, na);
    assert_memory_equal(norm.data, a, na);
    hln_buf_free(&norm);
    assert_int_equal(hln_type_validate(set, a, na - 1, NULL, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Not enough bytes to read a set");
    a[na] = 0;
    assert_int_equal(hln_type_validate(set, a, na + 1, NULL, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Unexpected extraneous bytes after set value");

    /* building sorts and deduplicates sets and maps (the later key wins) */
    uint8_t e1[4] = {0, 0, 0, 9}, e2[4] = {0, 0, 0, 3}, e3[4] = {0, 0, 0, 7};
    const uint8_t *els[] = {e1, e2, e1, e3};
    int32_t lens[] = {4, 4, 4, 4};
    hln_buf out;
    hln_buf_init(&out);
    assert_int_equal(hln_coll_build(set, els, lens, 4, &out), 0);
    int32_t want[] = {3, 7, 9};
    uint8_t w[128];
    size_t nw = ints_coll(w, want, 3);
    assert_int_equal(out.len, nw);
    assert_memory_equal(out.data, w, nw);
    hln_buf_reset(&out);
    const hln_type *map = hln_type_parse("frozen<map<int, int>>");
    assert_int_equal(hln_coll_build(map, els, lens, 2, &out), 0); /* {9: 3, 9: 7} */
    hln_rd r;
    uint32_t n;
    const uint8_t *e;
    int32_t el;
    assert_int_equal(hln_coll_begin(&r, out.data, out.len, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(hln_coll_next(&r, &e, &el), 0);
    assert_memory_equal(e, e1, 4);
    assert_int_equal(hln_coll_next(&r, &e, &el), 0);
    assert_memory_equal(e, e3, 4);
    hln_buf_free(&out);
}

/* Frozen collections order element by element, a prefix first; the
 * comparable encoding agrees, ASC and DESC, and round-trips. */
static void test_collection_order(void **state)
{
    (void)state;
    const hln_type *list = hln_type_parse("frozen<list<int>>");
    int32_t vals[][3] = {{0}, {-5}, {-5, 0}, {-5, 1}, {0, 0}, {0, 0, 0}, {1}, {INT32_MAX}};
    int lens[] = {0, 1, 2, 2, 2, 3, 1, 1};
    int nv = 8;
    uint8_t ser[8][64];
    size_t sn[8];
    for (int i = 0; i < nv; i++)
        sn[i] = ints_coll(ser[i], vals[i], lens[i]);
    for (int desc = 0; desc < 2; desc++) {
        for (int i = 0; i < nv; i++) {
            for (int j = 0; j < nv; j++) {
                int want = sgn(i - j);
                assert_int_equal(sgn(hln_type_compare(list, ser[i], sn[i], ser[j], sn[j])), want);
                hln_buf x, y;
                hln_buf_init(&x);
                hln_buf_init(&y);
                assert_int_equal(hln_type_to_comparable(list, ser[i], sn[i], desc, &x), 0);
                assert_int_equal(hln_type_to_comparable(list, ser[j], sn[j], desc, &y), 0);
                int c = sgn(bytecmp(x.data, x.len, y.data, y.len));
                assert_int_equal(c, desc ? -want : want);
                hln_rd r;
                hln_rd_init(&r, x.data, x.len);
                hln_buf back;
                hln_buf_init(&back);
                assert_int_equal(hln_type_from_comparable(list, &r, desc, &back), 0);
                assert_int_equal(hln_rd_left(&r), 0);
                assert_int_equal(back.len, sn[i]);
                assert_memory_equal(back.data, ser[i], sn[i]);
                hln_buf_free(&back);
                hln_buf_free(&x);
                hln_buf_free(&y);
            }
        }
    }
    /* the empty value sorts before every collection, the empty one included */
    assert_true(hln_type_compare(list, ser[0], 0, ser[0], sn[0]) < 0);
}

/* A tuple<int, text> value: a null int when a < -1000, a null text when
 * t is NULL; ncomp components written. */
static size_t tuple_val(uint8_t *out, int32_t a, const char *t, int ncomp)
{
    size_t n = 0;
    if (ncomp >= 1) {
        if (a < -1000) {
            memset(out + n, 0xFF, 4);
            n += 4;
        } else {
            out[n] = 0, out[n + 1] = 0, out[n + 2] = 0, out[n + 3] = 4;
            n += 4;
            for (int i = 0; i < 4; i++)
                out[n + (size_t)i] = (uint8_t)((uint32_t)a >> (24 - 8 * i));
            n += 4;
        }
    }
    if (ncomp >= 2) {
        if (!t) {
            memset(out + n, 0xFF, 4);
            n += 4;
        } else {
            size_t l = strlen(t);
            out[n] = 0, out[n + 1] = 0, out[n + 2] = 0, out[n + 3] = (uint8_t)l;
            n += 4;
            memcpy(out + n, t, l);
            n += l;
        }
    }
    return n;
}

/* Tuples: the name, null components first, (1) equal to (1, null), the
 * comparable encoding agreeing ASC and DESC and round-tripping full-arity
 * values, validation messages. */
static void test_tuple(void **state)
{
    (void)state;
    const hln_type *t = hln_type_parse("tuple<int, varchar>");
    assert_non_null(t);
    assert_int_equal(t->kind, HLN_T_TUPLE);
    assert_string_equal(t->cql_name, "frozen<tuple<int, text>>");
    assert_ptr_equal(t, hln_type_parse("frozen<tuple<int, text>>"));
    const hln_type *l = hln_type_parse("list<tuple<int, list<int>>>");
    assert_non_null(l);
    assert_string_equal(l->cql_name, "list<frozen<tuple<int, frozen<list<int>>>>>");
    assert_null(hln_type_parse("tuple<>"));

    /* in order */
    struct {
        int32_t a;
        const char *t;
    } vals[] = {{-2000, NULL}, {-2000, "a"}, {-5, NULL}, {-5, ""}, {-5, "a"},
                {-5, "ab"},    {0, NULL},    {0, "z"},   {7, "a"}};
    int nv = 9;
    uint8_t ser[9][32];
    size_t sn[9];
    for (int i = 0; i < nv; i++)
        sn[i] = tuple_val(ser[i], vals[i].a, vals[i].t, 2);
    for (int desc = 0; desc < 2; desc++) {
        for (int i = 0; i < nv; i++) {
            hln_error err = {0};
            assert_int_equal(hln_type_validate(t, ser[i], sn[i], NULL, &err), 0);
            for (int j = 0; j < nv; j++) {
                int want = sgn(i - j);
                assert_int_equal(sgn(hln_type_compare(t, ser[i], sn[i], ser[j], sn[j])), want);
                hln_buf x, y;
                hln_buf_init(&x);
                hln_buf_init(&y);
                assert_int_equal(hln_type_to_comparable(t, ser[i], sn[i], desc, &x), 0);
                assert_int_equal(hln_type_to_comparable(t, ser[j], sn[j], desc, &y), 0);
                assert_int_equal(sgn(bytecmp(x.data, x.len, y.data, y.len)), desc ? -want : want);
                hln_rd r;
                hln_rd_init(&r, x.data, x.len);
                hln_buf back;
                hln_buf_init(&back);
                assert_int_equal(hln_type_from_comparable(t, &r, desc, &back), 0);
                assert_int_equal(hln_rd_left(&r), 0);
                assert_int_equal(back.len, sn[i]);
                assert_memory_equal(back.data, ser[i], sn[i]);
                hln_buf_free(&back);
                hln_buf_free(&x);
                hln_buf_free(&y);
            }
        }
    }
    /* a value with a missing trailing component equals one with a null */
    uint8_t s1[16], s2[16];
    size_t n1 = tuple_val(s1, 3, NULL, 1), n2 = tuple_val(s2, 3, NULL, 2);
    assert_int_equal(hln_type_compare(t, s1, n1, s2, n2), 0);
    hln_buf x, y;
    hln_buf_init(&x);
    hln_buf_init(&y);
    assert_int_equal(hln_type_to_comparable(t, s1, n1, false, &x), 0);
    assert_int_equal(hln_type_to_comparable(t, s2, n2, false, &y), 0);
    assert_int_equal(bytecmp(x.data, x.len, y.data, y.len), 0);
    hln_buf_free(&x);
    hln_buf_free(&y);
    /* the empty value first */
    assert_true(hln_type_compare(t, ser[0], 0, ser[0], sn[0]) < 0);

    /* validation */
    hln_error err = {0};
    uint8_t bad[] = {0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 9, 'x'};
    assert_int_equal(hln_type_validate(t, bad, sizeof bad, NULL, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Not enough bytes to read 1th component");
    uint8_t three[] = {0, 0, 0, 4, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    assert_int_equal(hln_type_validate(t, three, sizeof three, NULL, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Invalid remaining data after end of tuple value");
    uint8_t badint[] = {0, 0, 0, 3, 0, 0, 1};
    assert_int_equal(hln_type_validate(t, badint, sizeof badint, NULL, &err), HLN_EINVAL);

    /* format */
    hln_buf f;
    hln_buf_init(&f);
    hln_type_format(t, ser[1], sn[1], &f);
    hln_buf_u8(&f, 0);
    assert_string_equal((const char *)f.data, "(null, 'a')");
    hln_buf_free(&f);

    /* protocol option: 0x0031, count, components */
    hln_buf o;
    hln_buf_init(&o);
    hln_type_encode_option(t, &o);
    uint8_t want_opt[] = {0x00, 0x31, 0x00, 0x02, 0x00, 0x09, 0x00, 0x0D};
    assert_int_equal(o.len, sizeof want_opt);
    assert_memory_equal(o.data, want_opt, sizeof want_opt);
    hln_buf_free(&o);
}

/* UDTs: interned by keyspace, name and fields; parsed by name among given
 * definitions; refreshed after an ALTER; [option] 0x0030. */
static void test_udt(void **state)
{
    (void)state;
    const hln_type *it = hln_type_by_name("int"), *tx = hln_type_by_name("text");
    const char *f2[] = {"a", "b"};
    const hln_type *t2[] = {it, tx};
    const hln_type *u = hln_type_udt("ks", "pt", f2, t2, 2, false);
    assert_non_null(u);
    assert_int_equal(u->kind, HLN_T_UDT);
    assert_string_equal(u->cql_name, "pt");
    assert_false(u->frozen);
    assert_string_equal(hln_udt_field(u, 1), "b");
    assert_string_equal(hln_udt_ks(u), "ks");
    assert_string_equal(hln_udt_name(u), "pt");
    assert_ptr_equal(u, hln_type_udt("ks", "pt", f2, t2, 2, false));
    /* same name, other keyspace or fields: another type */
    assert_ptr_not_equal(u, hln_type_udt("ks2", "pt", f2, t2, 2, false));
    const char *g2[] = {"a", "c"};
    assert_ptr_not_equal(u, hln_type_udt("ks", "pt", g2, t2, 2, false));
    const hln_type *fu = hln_type_freeze(u);
    assert_string_equal(fu->cql_name, "frozen<pt>");
    assert_true(fu->frozen);

    /* parsing system_schema's names with the keyspace's types */
    const hln_type *defs[] = {u};
    assert_null(hln_type_parse("frozen<pt>"));
    assert_ptr_equal(hln_type_parse_in("frozen<pt>", defs, 1), fu);
    assert_ptr_equal(hln_type_parse_in("pt", defs, 1), u);
    const hln_type *l = hln_type_parse_in("list<frozen<pt>>", defs, 1);
    assert_non_null(l);
    assert_ptr_equal(l->params[0], fu);
    assert_true(hln_type_uses_udt(l, "ks", "pt"));
    assert_false(hln_type_uses_udt(l, "ks", "other"));

    /* ALTER TYPE ADD c: what used the type follows it */
    const char *f3[] = {"a", "b", "c"};
    const hln_type *t3[] = {it, tx, it};
    const hln_type *u3 = hln_type_udt("ks", "pt", f3, t3, 3, false);
    const hln_type *defs3[] = {u3};
    const hln_type *l3 = hln_type_refresh(l, defs3, 1);
    assert_non_null(l3);
    assert_string_equal(l3->cql_name, "list<frozen<pt>>");
    assert_int_equal(l3->params[0]->nparams, 3);
    assert_true(l3->params[0]->frozen);
    assert_ptr_equal(hln_type_refresh(it, defs3, 1), it);

    /* a value written before the ALTER reads with c null */
    uint8_t v[] = {0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 1, 'x'};
    hln_error err = {0};
    assert_int_equal(hln_type_validate(u3, v, sizeof v, NULL, &err), 0);
    hln_buf f;
    hln_buf_init(&f);
    hln_type_format(u3, v, sizeof v, &f);
    hln_buf_u8(&f, 0);
    assert_string_equal((const char *)f.data, "{a: 7, b: 'x', c: null}");
    hln_buf_free(&f);
    uint8_t extra[] = {0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 1, 'x', 0, 0, 0, 0};
    assert_int_equal(hln_type_validate(u, extra, sizeof extra, NULL, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Invalid remaining data after end of UDT value");

    /* [option]: 0x0030, keyspace, name, n, (field name, type) */
    hln_buf o;
    hln_buf_init(&o);
    hln_type_encode_option(fu, &o);
    uint8_t want[] = {0x00, 0x30, 0, 2,   'k',  's',  0, 2, 'p', 't',  0,
                      2,    0,    1, 'a', 0x00, 0x09, 0, 1, 'b', 0x00, 0x0D};
    assert_int_equal(o.len, sizeof want);
    assert_memory_equal(o.data, want, sizeof want);
    hln_buf_free(&o);
}

static void test_collection_format(void **state)
{
    (void)state;
    const hln_type *m = hln_type_parse("map<text, frozen<list<int>>>");
    int32_t v[] = {1, 2};
    uint8_t l[64];
    size_t ln = ints_coll(l, v, 2);
    const uint8_t *els[] = {(const uint8_t *)"it's", l};
    int32_t lens[] = {4, (int32_t)ln};
    hln_buf b, t;
    hln_buf_init(&b);
    hln_buf_init(&t);
    assert_int_equal(hln_coll_build(m, els, lens, 1, &b), 0);
    hln_type_format(m, b.data, b.len, &t);
    hln_buf_u8(&t, 0);
    assert_string_equal((const char *)t.data, "{'it''s': [1, 2]}");
    hln_buf_reset(&t);
    hln_type_encode_option(m, &t);
    /* map (0x21), text (0x0d), list (0x20) of int (0x09) */
    uint8_t want[] = {0x00, 0x21, 0x00, 0x0d, 0x00, 0x20, 0x00, 0x09};
    assert_int_equal(t.len, sizeof want);
    assert_memory_equal(t.data, want, sizeof want);
    hln_buf_free(&b);
    hln_buf_free(&t);
}

static void test_pk(void **state)
{
    (void)state;
    hln_buf k;
    hln_buf_init(&k);
    const uint8_t *vals[3] = {(const uint8_t *)"abc", (const uint8_t *)"", (const uint8_t *)"\0"};
    size_t lens[3] = {3, 0, 1};

    hln_pk_compose(vals, lens, 1, &k); /* one component: the value itself */
    assert_int_equal(k.len, 3);
    assert_memory_equal(k.data, "abc", 3);
    const uint8_t *out[3];
    size_t outl[3];
    assert_int_equal(hln_pk_split(k.data, k.len, 1, out, outl), 0);
    assert_ptr_equal(out[0], k.data);
    assert_int_equal(outl[0], 3);

    hln_buf_reset(&k);
    hln_pk_compose(vals, lens, 3, &k);
    static const uint8_t want[] = {0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(k.len, sizeof want);
    assert_memory_equal(k.data, want, sizeof want);
    assert_int_equal(hln_pk_split(k.data, k.len, 3, out, outl), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(outl[i], lens[i]);
        if (lens[i]) assert_memory_equal(out[i], vals[i], lens[i]);
    }
    /* malformed: truncated anywhere, trailing garbage, bad end-of-component byte,
     * wrong component count */
    for (size_t cut = 0; cut < k.len; cut++)
        assert_int_equal(hln_pk_split(k.data, cut, 3, out, outl), HLN_ECORRUPT);
    assert_int_equal(hln_pk_split(k.data, k.len, 2, out, outl), HLN_ECORRUPT);
    hln_buf_u8(&k, 0);
    assert_int_equal(hln_pk_split(k.data, k.len, 3, out, outl), HLN_ECORRUPT);
    k.len--;
    k.data[5] = 1;
    assert_int_equal(hln_pk_split(k.data, k.len, 3, out, outl), HLN_ECORRUPT);
    assert_int_equal(hln_pk_split(k.data, k.len, 0, out, outl), HLN_ECORRUPT);
    hln_buf_free(&k);
}

/* ---- decimal and duration -------------------------------------------- */

static void test_decimal_literals(void **state)
{
    (void)state;
    /* [i32 scale][varint unscaled], exactly as new BigDecimal(text) */
    expect_lit("decimal", HLN_LIT_FLOAT, "1.5", "000000010f");
    expect_lit("decimal", HLN_LIT_FLOAT, "1.50", "000000020096");
    expect_lit("decimal", HLN_LIT_FLOAT, "-0.0", "0000000100");
    expect_lit("decimal", HLN_LIT_FLOAT, "-0.00", "0000000200");
    expect_lit("decimal", HLN_LIT_INTEGER, "1", "0000000001");
    expect_lit("decimal", HLN_LIT_INTEGER, "100", "0000000064");
    expect_lit("decimal", HLN_LIT_INTEGER, "128", "000000000080");
    expect_lit("decimal", HLN_LIT_INTEGER, "-128", "0000000080");
    expect_lit("decimal", HLN_LIT_INTEGER, "-1", "00000000ff");
    expect_lit("decimal", HLN_LIT_FLOAT, "1e308", "fffffecc01");
    expect_lit("decimal", HLN_LIT_FLOAT, "1e-400", "0000019001");
    expect_lit("decimal", HLN_LIT_FLOAT, "1.23E-5", "000000077b");
    expect_lit("decimal", HLN_LIT_FLOAT, "-1.25E-3", "0000000583");
    expect_lit("decimal", HLN_LIT_FLOAT, "1.0e+3", "fffffffe0a");
    expect_lit("decimal", HLN_LIT_FLOAT, "0.1", "0000000101");
    expect_lit("decimal", HLN_LIT_FLOAT, "123456789012345678901234567890.123456789",
               "000000095ce0e9a56015fec5aadfa328ae398115");
    expect_lit_err("decimal", HLN_LIT_FLOAT, "NaN", "unable to make BigDecimal from 'NaN'");
    expect_lit_err("decimal", HLN_LIT_FLOAT, "-Infinity",
                   "unable to make BigDecimal from '-Infinity'");
    expect_lit_err("decimal", HLN_LIT_FLOAT, "1e-3000000000",
                   "unable to make BigDecimal from '1e-3000000000'");
    expect_lit_err("decimal", HLN_LIT_STRING, "1.5",
                   "Invalid STRING constant (1.5) for \"k\" of type decimal");
    expect_lit_err("decimal", HLN_LIT_BOOL, "true",
                   "Invalid BOOLEAN constant (true) for \"k\" of type decimal");
    expect_lit_err("decimal", HLN_LIT_DURATION, "1h",
                   "Invalid DURATION constant (1h) for \"k\" of type decimal");
    expect_lit_err("decimal", HLN_LIT_HEX, "0x00000001",
                   "Invalid HEX constant (0x00000001) for \"k\" of type decimal");
    /* validation: empty or at least the scale */
    expect_valid("decimal", (const uint8_t *)"", 0);
    expect_valid("decimal", (const uint8_t *)"\0\0\0\1", 4);
    expect_invalid("decimal", (const uint8_t *)"\0\0\1", 3, "Expected 0 or at least 4 bytes (3)");
}

static void test_decimal_format(void **state)
{
    (void)state;
    static const char *const same[] = {
        "1.5",      "1.50",     "0.1",       "1",       "100",
        "-0.00125", "0.000001", "1E-7",      "1E+308",  "1E-21",
        "1E-400",   "1.0E+3",   "-1.5",      "0.0",     "0.00",
        "12.345",   "-10",      "0.0000123", "0.00100", "123456789012345678901234567890.123456789",
    };
    for (size_t i = 0; i < HLN_ARRAY_LEN(same); i++)
        expect_fmt("decimal", lit("decimal", HLN_LIT_FLOAT, same[i]), same[i]);
    expect_fmt("decimal", lit("decimal", HLN_LIT_FLOAT, "-0.0"), "0.0");
    expect_fmt("decimal", lit("decimal", HLN_LIT_FLOAT, "1e2"), "1E+2");
    expect_fmt("decimal", lit("decimal", HLN_LIT_FLOAT, "0.000000000000000000001"), "1E-21");
    expect_fmt("decimal", lit("decimal", HLN_LIT_FLOAT, "12e-1"), "1.2");
}

static void test_decimal_order(void **state)
{
    (void)state;
    /* canonical forms (what the comparable encoding decodes to), ascending */
    static const char *const asc[] = {
        "-1E+100",
        "-1E+33",
        "-100",
        "-1.5",
        "-1.0000000000000000000001",
        "-1",
        "-0.001",
        "-1E-400",
        "0",
        "1E-400",
        "0.001",
        "0.5",
        "1",
        "1.0000000000000000000001",
        "1.5",
        "2",
        "10",
        "99.999",
        "100",
        "12345678901234567890123456789012",
        "1E+33",
        "1E+100",
    };
    val v[HLN_ARRAY_LEN(asc) + 1];
    v[0] = raw("", 0);
    for (size_t i = 0; i < HLN_ARRAY_LEN(asc); i++)
        v[i + 1] = lit("decimal", HLN_LIT_FLOAT, asc[i]);
    check_order("decimal", v, HLN_ARRAY_LEN(v));

    /* equal values with other scales: compare equal, encode equally, decode
       to the canonical form */
    static const char *const eq[][2] = {
        {"1.0", "1"},
        {"1.00", "1"},
        {"1e2", "100"},
        {"-10.0", "-10"},
        {"0.00", "0"},
        {"-0.0", "0"},
        {"1e-0", "1"},
        {"1.50", "1.5"},
        {"100E+30", "100000000000000000000000000000000"},
        {"0.0010", "0.001"},
        {"1E+32", "100000000000000000000000000000000"},
    };
    const hln_type *t = T("decimal");
    hln_buf a, b;
    hln_buf_init(&a);
    hln_buf_init(&b);
    for (size_t i = 0; i < HLN_ARRAY_LEN(eq); i++) {
        val x = lit("decimal", HLN_LIT_FLOAT, eq[i][0]);
        val y = lit("decimal", HLN_LIT_FLOAT, eq[i][1]);
        if (hln_type_compare(t, x.b, x.n, y.b, y.n) != 0) fail_msg("%s != %s", eq[i][0], eq[i][1]);
        enc(t, &x, false, &a);
        enc(t, &y, false, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        check_decode(t, &a, false, &y);
        enc(t, &x, true, &a);
        check_decode(t, &a, true, &y);
    }
    /* a scale without unscaled bytes reads as zero */
    val sc = raw("\0\0\0\1", 4), z = lit("decimal", HLN_LIT_INTEGER, "0");
    assert_int_equal(hln_type_compare(t, sc.b, sc.n, z.b, z.n), 0);
    expect_fmt("decimal", sc, "0.0");
    /* a non-minimal unscaled value compares as its value */
    val nm = raw("\0\0\0\1\0\0\x0f", 7);
    val ok = lit("decimal", HLN_LIT_FLOAT, "1.5");
    assert_int_equal(hln_type_compare(t, nm.b, nm.n, ok.b, ok.n), 0);
    /* invalid values are refused by the encoder */
    assert_int_equal(hln_type_to_comparable(t, (const uint8_t *)"\0\0", 2, false, &a), HLN_EINVAL);
    hln_buf_free(&a);
    hln_buf_free(&b);
}

/* Random decimals (scales -3..3, small and large unscaled values, many
 * equal values with different scales): compare agrees with the encodings. */
static void test_decimal_random(void **state)
{
    (void)state;
    const hln_type *t = T("decimal");
    uint64_t seed = 0x9E3779B97F4A7C15u;
    enum { N = 300 };
    static val v[N];
    static hln_buf e[N];
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int scale = (int)(seed >> 60 & 7) - 3;
        int64_t u = (int64_t)(seed >> 8) % ((seed >> 7 & 1) ? 1000 : INT64_C(100000000000000));
        char txt[64];
        snprintf(txt, sizeof txt, "%lldE%d", (long long)u, -scale);
        v[i] = lit("decimal", HLN_LIT_FLOAT, txt);
        hln_buf_init(&e[i]);
        enc(t, &v[i], false, &e[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int c = sgn(hln_type_compare(t, v[i].b, v[i].n, v[j].b, v[j].n));
            int m = bytecmp(e[i].data, e[i].len, e[j].data, e[j].len);
            if (c != m) fail_msg("decimal #%d vs #%d: compare %d, encodings %d", i, j, c, m);
        }
    for (int i = 0; i < N; i++)
        hln_buf_free(&e[i]);
}

static void test_duration(void **state)
{
    (void)state;
    expect_lit("duration", HLN_LIT_DURATION, "1h30m", "0000fc09d29229e000");
    expect_lit("duration", HLN_LIT_DURATION, "90m", "0000fc09d29229e000");
    expect_lit("duration", HLN_LIT_DURATION, "-2w", "001b00");
    expect_lit("duration", HLN_LIT_DURATION, "1y2mo3w4d5h6m7s8ms9us10ns", "1c32fc2168cdf9d664");
    expect_lit("duration", HLN_LIT_DURATION, "1Y2MO3W4D5H6M7S8MS9US10NS", "1c32fc2168cdf9d664");
    expect_lit("duration", HLN_LIT_DURATION, "P1Y2M3DT4H5M6S", "1c06fc1ac003cfe800");
    expect_lit("duration", HLN_LIT_DURATION, "P0001-02-03T04:05:06", "1c06fc1ac003cfe800");
    expect_lit("duration", HLN_LIT_DURATION, "P2W", "001c00");
    expect_lit("duration", HLN_LIT_DURATION, "-2mo", "030000");
    expect_lit("duration", HLN_LIT_DURATION, "1\xc2\xb5s", "000087d0");
    expect_lit("duration", HLN_LIT_DURATION, "1us", "000087d0");
    expect_lit("duration", HLN_LIT_DURATION, "1Y", "180000");
    expect_lit("duration", HLN_LIT_DURATION, "PT0S", "000000");
    expect_lit("duration", HLN_LIT_DURATION, "0s", "000000");
    expect_lit("duration", HLN_LIT_DURATION, "-1ns", "000001");
    expect_lit("duration", HLN_LIT_DURATION, "2147483647mo", "f0fffffffe0000");
    expect_lit_err("duration", HLN_LIT_INTEGER, "1", "Unable to convert '1' to a duration");
    expect_lit_err("duration", HLN_LIT_INTEGER, "-0", "Unable to convert '0' to a duration");
    expect_lit_err("duration", HLN_LIT_STRING, "1h",
                   "Invalid STRING constant (1h) for \"k\" of type duration");
    expect_lit_err("duration", HLN_LIT_HEX, "0x000000",
                   "Invalid HEX constant (0x000000) for \"k\" of type duration");
    expect_lit_err("int", HLN_LIT_DURATION, "1h",
                   "Invalid DURATION constant (1h) for \"k\" of type int");
    expect_lit_err("duration", HLN_LIT_DURATION, "1m1h",
                   "Invalid duration. The minutes should be after hours");
    expect_lit_err("duration", HLN_LIT_DURATION, "1h1h",
                   "Invalid duration. The hours are specified multiple times");
    expect_lit_err("duration", HLN_LIT_DURATION, "1mo1y",
                   "Invalid duration. The months should be after years");
    expect_lit_err("duration", HLN_LIT_DURATION, "3000000000mo",
                   "Invalid duration. The total number of months must be less or equal to "
                   "2147483647");
    expect_lit_err("duration", HLN_LIT_DURATION, "1y2147483647mo",
                   "Invalid duration. The total number of months must be less or equal to "
                   "2147483635");
    expect_lit_err("duration", HLN_LIT_DURATION, "P1M2Y",
                   "Unable to convert 'P1M2Y' to a duration");
    /* validation (DurationSerializer) */
    expect_invalid("duration", (const uint8_t *)"\0\0", 2,
                   "Expected at least 3 bytes for a duration (2)");
    expect_invalid("duration", (const uint8_t *)"\x02\x01\x00", 3,
                   "The duration months, days and nanoseconds must be all of the same sign (1, -1, "
                   "0)");
    expect_invalid("duration", (const uint8_t *)"\xf1\x00\x00\x00\x00\x00\x00", 7,
                   "The duration months must be a 32 bits integer but was: 2147483648");
    /* Duration.toString */
    expect_fmt("duration", lit("duration", HLN_LIT_DURATION, "1h30m"), "1h30m");
    expect_fmt("duration", lit("duration", HLN_LIT_DURATION, "-2w"), "-14d");
    expect_fmt("duration", lit("duration", HLN_LIT_DURATION, "P1Y2M3DT4H5M6S"), "1y2mo3d4h5m6s");
    expect_fmt("duration", lit("duration", HLN_LIT_DURATION, "1y2mo3w4d5h6m7s8ms9us10ns"),
               "1y2mo25d5h6m7s8ms9us10ns");
    expect_fmt("duration", lit("duration", HLN_LIT_DURATION, "-1ns"), "-1ns");
    expect_fmt("duration", lit("duration", HLN_LIT_DURATION, "0s"), "");
    /* order: unsigned bytes, as Cassandra's DurationType */
    val a = lit("duration", HLN_LIT_DURATION, "1y"), b = lit("duration", HLN_LIT_DURATION, "2y");
    assert_true(hln_type_compare(T("duration"), a.b, a.n, b.b, b.n) < 0);
}

static val dec_op(const char *a, const char *b, int64_t n)
{
    val x = lit("decimal", HLN_LIT_FLOAT, a), y = lit("decimal", HLN_LIT_FLOAT, b);
    hln_buf out;
    hln_buf_init(&out);
    int rc = n ? hln_decimal_avg_step(x.b, x.n, y.b, y.n, n, &out)
               : hln_decimal_add(x.b, x.n, y.b, y.n, &out);
    assert_int_equal(rc, 0);
    val r = raw(out.data, out.len);
    hln_buf_free(&out);
    return r;
}

static void test_decimal_arithmetic(void **state)
{
    (void)state;
    /* BigDecimal.add: exact, the larger scale */
    expect_fmt("decimal", dec_op("1.50", "-0.25", 0), "1.25");
    expect_fmt("decimal", dec_op("1.25", "1e2", 0), "101.25");
    expect_fmt("decimal", dec_op("1e2", "1.25", 0), "101.25");
    expect_fmt("decimal", dec_op("-1.5", "1.5", 0), "0.0");
    expect_fmt("decimal", dec_op("-1", "0.25", 0), "-0.75");
    expect_fmt("decimal", dec_op("99999999999999999999", "1", 0), "100000000000000000000");
    expect_fmt("decimal", dec_op("1e2", "1e3", 0), "1.1E+3");
    /* avg + (x - avg) / n, HALF_EVEN at the scale of x - avg */
    expect_fmt("decimal", dec_op("0", "1", 1), "1");
    expect_fmt("decimal", dec_op("1", "2", 2), "1"); /* 1 + 0.5 -> 1 + 0 */
    expect_fmt("decimal", dec_op("1", "4", 2), "3"); /* 1 + 1.5 -> 1 + 2 */
    expect_fmt("decimal", dec_op("1", "0.10", 3), "0.70");
    expect_fmt("decimal", dec_op("0.70", "1e2", 4), "25.52");
    expect_fmt("decimal", dec_op("0", "-3", 2), "-2"); /* -1.5 -> -2 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_encode_option),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_literal_numbers),
        cmocka_unit_test(test_literal_other),
        cmocka_unit_test(test_literal_time),
        cmocka_unit_test(test_order_ints),
        cmocka_unit_test(test_order_floats),
        cmocka_unit_test(test_order_bytes),
        cmocka_unit_test(test_order_uuids),
        cmocka_unit_test(test_random_agreement),
        cmocka_unit_test(test_multi_component),
        cmocka_unit_test(test_comparable_errors),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_decimal_literals),
        cmocka_unit_test(test_decimal_format),
        cmocka_unit_test(test_decimal_order),
        cmocka_unit_test(test_decimal_random),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_decimal_arithmetic),
        cmocka_unit_test(test_pk),
        cmocka_unit_test(test_param_types),
        cmocka_unit_test(test_collection_values),
        cmocka_unit_test(test_collection_order),
        cmocka_unit_test(test_collection_format),
        cmocka_unit_test(test_tuple),
        cmocka_unit_test(test_udt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
