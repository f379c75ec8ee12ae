/* modules: exec */
/*
 * test_arith.c — exec/arith.c: varint and decimal arithmetic beyond 128
 * bits (BigInteger/BigDecimal as Cassandra 5.0's DecimalType and
 * IntegerType), casts of big values, exp/log/log10 of decimal and varint.
 * The expected texts are Cassandra 5.0.9's answers (tests/compat/cases/
 * bignum.cql records the same and more end to end); these pin the module
 * on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "exec/execInt.h"

static ex_request req;

static int setup(void **state)
{
    (void)state;
    ex_request_init(&req, NULL, NULL, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ex_request_free(&req);
    return 0;
}

static const hln_type *ty(hln_type_kind k)
{
    return hln_type_by_kind(k);
}

/* A value of type k from a CQL literal. */
static ex_value val(hln_type_kind k, const char *lit)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_error e = {0};
    hln_lit_kind lk = strpbrk(lit, ".eE") && k != HLN_T_VARINT ? HLN_LIT_FLOAT : HLN_LIT_INTEGER;
    assert_int_equal(hln_type_from_literal(ty(k), lk, lit, "x", &b, &e), 0);
    uint8_t *p = hln_arena_alloc(&req.arena, b.len ? b.len : 1);
    memcpy(p, b.data, b.len);
    ex_value v = {p, (int32_t)b.len};
    hln_buf_free(&b);
    return v;
}

/* The value's text (cqlsh's rendering), in a static buffer. */
static const char *text(hln_type_kind k, ex_value v)
{
    static char s[4096];
    hln_buf b;
    hln_buf_init(&b);
    hln_type_format(ty(k), v.p, (size_t)v.len, &b);
    snprintf(s, sizeof s, "%.*s", (int)b.len, (const char *)b.data);
    hln_buf_free(&b);
    return s;
}

static const char *arith(char op, hln_type_kind ak, const char *a, hln_type_kind bk, const char *b)
{
    const hln_type *rt = ex_arith_type(op, ty(ak), ty(bk));
    assert_non_null(rt);
    ex_value out;
    if (ex_arith(&req, op, ty(ak), val(ak, a), ty(bk), val(bk, b), rt, &out)) return req.err.msg;
    return text(rt->kind, out);
}

static void test_varint(void **state)
{
    (void)state;
    const char *v = "123456789012345678901234567890123456789012345678901234567890";
    const char *w = "-98765432109876543210987654321098765432109876543";
    assert_string_equal(arith('+', HLN_T_VARINT, v, HLN_T_VARINT, w),
                        "123456789012246913469124691346912469134691246913469124691347");
    assert_string_equal(arith('*', HLN_T_VARINT, v, HLN_T_VARINT, w),
                        "-121932631137021795226185032733866788594511507391303155009130193568281894"
                        "52829607696997639644871231852004270");
    assert_string_equal(arith('/', HLN_T_VARINT, v, HLN_T_VARINT, w), "-1249999988609");
    assert_string_equal(arith('%', HLN_T_VARINT, v, HLN_T_VARINT, w),
                        "37037051103703705110370370511037037314838269203");
    assert_string_equal(arith('%', HLN_T_VARINT, "7", HLN_T_VARINT, "-3"), "1");
    assert_string_equal(
        arith('/', HLN_T_VARINT, "-170141183460469231731687303715884105728", HLN_T_INT, "-1"),
        "170141183460469231731687303715884105728");
    assert_string_equal(arith('/', HLN_T_VARINT, v, HLN_T_VARINT, "0"),
                        "the operation 'varint / varint' failed: BigInteger divide by zero");
    assert_string_equal(arith('*', HLN_T_BIGINT, "-3000000000", HLN_T_VARINT, v),
                        "-370370367037037036703703703670370370367037037036703703703670000000000");
}

static void test_decimal(void **state)
{
    (void)state;
    assert_string_equal(arith('/', HLN_T_DECIMAL, "10", HLN_T_DECIMAL, "3"),
                        "3.33333333333333333333333333333333");
    assert_string_equal(arith('/', HLN_T_DECIMAL, "0.001", HLN_T_DECIMAL, "1e-7"), "1E+4");
    assert_string_equal(arith('/', HLN_T_DECIMAL, "1e-50", HLN_T_DECIMAL, "1e50"), "1E-100");
    assert_string_equal(arith('%', HLN_T_DECIMAL,
                              "12345678901234567890123456789012345678901234567890.123456789",
                              HLN_T_DECIMAL, "-0.000000000000000000000000000000000000000123"),
                        "3E-41");
    assert_string_equal(arith('%', HLN_T_SMALLINT, "-4", HLN_T_DECIMAL, "3"), "-1.0");
    assert_string_equal(arith('*', HLN_T_DECIMAL, "1.0000000000000000000000000000000000000001",
                              HLN_T_DECIMAL, "1.0000000000000000000000000000000000000001"),
                        "1.000000000000000000000000000000000000000200000000000000000000000000000000"
                        "00000001");
    assert_string_equal(arith('-', HLN_T_DECIMAL, "1.0000000000000000000000000000000000000001",
                              HLN_T_DECIMAL, "1.0000000000000000000000000000000000000001"),
                        "0E-40");
    /* varint with a double is a decimal; ints go through their double */
    assert_string_equal(arith('+', HLN_T_VARINT, "7", HLN_T_DOUBLE, "-0.1"), "6.9");
    assert_string_equal(arith('/', HLN_T_FLOAT, "3.0", HLN_T_VARINT, "7"),
                        "0.42857142857142857142857142857143");
    assert_string_equal(arith('/', HLN_T_DECIMAL, "0", HLN_T_DECIMAL, "0.00"),
                        "the operation 'decimal / decimal' failed: BigInteger divide by zero");
    assert_string_equal(arith('%', HLN_T_DECIMAL, "0", HLN_T_DECIMAL, "0.00"),
                        "the operation 'decimal % decimal' failed: Division undefined");
    assert_string_equal(arith('%', HLN_T_DECIMAL, "5.5", HLN_T_INT, "0"),
                        "the operation 'decimal % int' failed: Division by zero");
}

static const char *cast(hln_type_kind fk, const char *v, hln_type_kind tk)
{
    ex_value out;
    if (ex_cast(&req, ty(fk), val(fk, v), ty(tk), &out)) return req.err.msg;
    return text(tk, out);
}

static void test_cast(void **state)
{
    (void)state;
    const char *v = "123456789012345678901234567890123456789012345678901234567890";
    assert_string_equal(cast(HLN_T_VARINT, v, HLN_T_INT), "-834729262");
    assert_string_equal(cast(HLN_T_VARINT, v, HLN_T_BIGINT), "-8300149958212908334");
    assert_string_equal(cast(HLN_T_VARINT, v, HLN_T_TINYINT), "-46");
    assert_string_equal(cast(HLN_T_VARINT, v, HLN_T_DOUBLE), "1.2345678901234567e+59");
    assert_string_equal(cast(HLN_T_VARINT, v, HLN_T_FLOAT), "Infinity");
    assert_string_equal(cast(HLN_T_DECIMAL, "1e50", HLN_T_VARINT), "-5376172055173529600");
    assert_string_equal(cast(HLN_T_DECIMAL, "-1.23e-40", HLN_T_VARINT), "0");
}

static const char *math(int fn, hln_type_kind k, const char *v)
{
    ex_value out;
    if (ex_math(&req, fn, ty(k), val(k, v), &out)) return req.err.msg;
    return text(k, out);
}

static void test_exp_log(void **state)
{
    (void)state;
    assert_string_equal(math(0, HLN_T_DECIMAL, "1"), "2.7182818284590452353602874713527");
    assert_string_equal(math(0, HLN_T_DECIMAL, "0.00"), "1");
    assert_string_equal(math(0, HLN_T_DECIMAL, "100"), "2.6881171418161354484126255515800E+43");
    assert_string_equal(math(1, HLN_T_DECIMAL, "1"), "0");
    assert_string_equal(math(1, HLN_T_DECIMAL, "1.0000000000000000000000000000000000000001"),
                        "9.9999999999999999999999999999999999999995E-41");
    assert_string_equal(math(2, HLN_T_DECIMAL, "10"), "1");
    assert_string_equal(math(2, HLN_T_DECIMAL, "100"), "2");
    assert_string_equal(math(2, HLN_T_DECIMAL, "1e50"), "5E+1");
    assert_string_equal(math(2, HLN_T_DECIMAL, "0.001"), "-3.0000000000000000000000000000000");
    assert_string_equal(math(1, HLN_T_DECIMAL, "-1"),
                        "java.lang.ArithmeticException: Natural log of number zero or less");
    assert_string_equal(math(0, HLN_T_DECIMAL, "1e50"), "java.lang.ArithmeticException: Overflow");
    assert_string_equal(math(0, HLN_T_VARINT, "100"),
                        "26881171418161354484126255515800000000000000");
    assert_string_equal(
        math(1, HLN_T_VARINT, "123456789012345678901234567890123456789012345678901234567890"),
        "136");
    assert_string_equal(math(3, HLN_T_DECIMAL, "-0.5"), "-1");
    assert_string_equal(math(3, HLN_T_DECIMAL, "1e3"), "1000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_exp_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
