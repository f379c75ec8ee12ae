/* modules: dataapi common */
/*
 * test_dataapi.c — the Data API's document semantics (src/dataapi/
 * document.c) without a server: the filter evaluator case by case
 * (equality on scalars, arrays and nested paths, numbers by value, the
 * comparison and existence operators, $and/$or/$not, invalid filters
 * refused even when their branch does not decide), the update operators
 * (and that a failing update leaves the document as it was), projections,
 * _id keys, vectors in both encodings and the similarity scores.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataapi/document.h"

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    if (!j) fail_msg("bad test JSON %s: %s", text, err.text);
    return j;
}

static const char *DOC = "{\"_id\": \"a\", \"name\": \"Ada\", \"age\": 36, \"h\": 1.5,"
                         " \"tags\": [\"math\", \"eng\"], \"addr\": {\"city\": \"London\","
                         " \"zip\": null}, \"when\": {\"$date\": 1000}, \"ok\": true,"
                         " \"grid\": [[1, 2], [3]]}";

/* match(filter) on DOC: 1, 0, or the negative error */
static int match(const char *filter)
{
    json_t *d = J(DOC), *f = J(filter);
    da_err e = {0};
    int r = da_filter_match(f, d, &e);
    json_decref(d);
    json_decref(f);
    return r;
}

static void test_equality(void **state)
{
    (void)state;
    assert_int_equal(match("{}"), 1);
    assert_int_equal(match("{\"name\": \"Ada\"}"), 1);
    assert_int_equal(match("{\"name\": \"ada\"}"), 0);
    assert_int_equal(match("{\"age\": 36.0}"), 1); /* numbers by value */
    assert_int_equal(match("{\"age\": {\"$eq\": 36}}"), 1);
    assert_int_equal(match("{\"tags\": \"eng\"}"), 1); /* an element of the array */
    assert_int_equal(match("{\"tags\": [\"math\", \"eng\"]}"), 1);
    assert_int_equal(match("{\"tags\": [\"eng\", \"math\"]}"), 0); /* arrays: in order */
    assert_int_equal(match("{\"addr.city\": \"London\"}"), 1);
    assert_int_equal(match("{\"addr\": {\"zip\": null, \"city\": \"London\"}}"), 1);
    assert_int_equal(match("{\"grid.0.1\": 2}"), 1);
    assert_int_equal(match("{\"missing\": null}"), 1);
    assert_int_equal(match("{\"addr.zip\": null}"), 1);
    assert_int_equal(match("{\"when\": {\"$date\": 1000}}"), 1);
    assert_int_equal(match("{\"name\": \"Ada\", \"age\": 37}"), 0); /* keys are and-ed */
    assert_int_equal(match("{\"name\": {\"$ne\": \"Bob\"}}"), 1);
    assert_int_equal(match("{\"tags\": {\"$ne\": \"eng\"}}"), 0);
    assert_int_equal(match("{\"ok\": true}"), 1);
}

static void test_in_and_comparisons(void **state)
{
    (void)state;
    assert_int_equal(match("{\"name\": {\"$in\": [\"Bob\", \"Ada\"]}}"), 1);
    assert_int_equal(match("{\"name\": {\"$in\": []}}"), 0);
    assert_int_equal(match("{\"tags\": {\"$in\": [\"eng\"]}}"), 1);
    assert_int_equal(match("{\"name\": {\"$nin\": [\"Ada\"]}}"), 0);
    assert_int_equal(match("{\"age\": {\"$gt\": 35}}"), 1);
    assert_int_equal(match("{\"age\": {\"$gt\": 36}}"), 0);
    assert_int_equal(match("{\"age\": {\"$gte\": 36, \"$lte\": 36}}"), 1);
    assert_int_equal(match("{\"h\": {\"$lt\": 2}}"), 1);
    assert_int_equal(match("{\"age\": {\"$lt\": \"z\"}}"), 0); /* other types never */
    assert_int_equal(match("{\"name\": {\"$gt\": \"Ab\"}}"), 1);
    assert_int_equal(match("{\"tags\": {\"$gt\": \"f\"}}"), 1); /* "math" */
    assert_int_equal(match("{\"when\": {\"$gte\": {\"$date\": 999}}}"), 1);
    assert_int_equal(match("{\"when\": {\"$gt\": 999}}"), 0);
    assert_int_equal(match("{\"missing\": {\"$lt\": 5}}"), 0);
}

static void test_exists_size_all(void **state)
{
    (void)state;
    assert_int_equal(match("{\"addr.zip\": {\"$exists\": true}}"), 1); /* null is present */
    assert_int_equal(match("{\"nope\": {\"$exists\": true}}"), 0);
    assert_int_equal(match("{\"nope\": {\"$exists\": false}}"), 1);
    assert_int_equal(match("{\"tags\": {\"$size\": 2}}"), 1);
    assert_int_equal(match("{\"name\": {\"$size\": 3}}"), 0);
    assert_int_equal(match("{\"tags\": {\"$all\": [\"eng\", \"math\"]}}"), 1);
    assert_int_equal(match("{\"tags\": {\"$all\": [\"eng\", \"art\"]}}"), 0);
}

static void test_logic(void **state)
{
    (void)state;
    assert_int_equal(match("{\"$and\": [{\"name\": \"Ada\"}, {\"age\": 36}]}"), 1);
    assert_int_equal(match("{\"$and\": [{\"name\": \"Ada\"}, {\"age\": 35}]}"), 0);
    assert_int_equal(match("{\"$or\": [{\"name\": \"Bob\"}, {\"age\": 36}]}"), 1);
    assert_int_equal(match("{\"$or\": [{\"name\": \"Bob\"}, {\"age\": 35}]}"), 0);
    assert_int_equal(match("{\"$not\": {\"name\": \"Bob\"}}"), 1);
    assert_int_equal(match("{\"$or\": [{\"$and\": [{\"age\": {\"$gt\": 30}}, {\"tags\": "
                           "\"eng\"}]}, {\"name\": \"x\"}]}"),
                     1);
    assert_int_equal(match("{\"name\": \"Ada\", \"$or\": [{\"ok\": false}, {\"h\": 1.5}]}"), 1);
}

static void expect_error(const char *filter, const char *code)
{
    json_t *d = J(DOC), *f = J(filter);
    da_err e = {0};
    int r = da_filter_match(f, d, &e);
    assert_true(r < 0);
    assert_string_equal(e.code, code);
    json_decref(d);
    json_decref(f);
}

static void test_invalid_filters(void **state)
{
    (void)state;
    expect_error("{\"age\": {\"$bogus\": 1}}", "UNSUPPORTED_FILTER_OPERATION");
    expect_error("{\"$nor\": []}", "UNSUPPORTED_FILTER_OPERATION");
    expect_error("{\"$and\": []}", "INVALID_FILTER_EXPRESSION");
    expect_error("{\"$or\": {\"a\": 1}}", "INVALID_FILTER_EXPRESSION");
    expect_error("{\"age\": {\"$in\": 3}}", "INVALID_FILTER_EXPRESSION");
    expect_error("{\"age\": {\"$gt\": [1]}}", "INVALID_FILTER_EXPRESSION");
    expect_error("{\"age\": {\"$exists\": 1}}", "INVALID_FILTER_EXPRESSION");
    expect_error("{\"age\": {\"$gt\": 1, \"x\": 2}}", "INVALID_FILTER_EXPRESSION");
    /* invariant 1: refused although the first branch already decides */
    expect_error("{\"$or\": [{\"name\": \"Ada\"}, {\"age\": {\"$bad\": 1}}]}",
                 "UNSUPPORTED_FILTER_OPERATION");
    expect_error("{\"name\": \"Bob\", \"age\": {\"$bad\": 1}}", "UNSUPPORTED_FILTER_OPERATION");
}

/* applies update to doc; returns the result's compact sorted JSON */
static char *updated(const char *doc, const char *update, bool inserting, bool *modified, int *rc,
                     char *code)
{
    json_t *d = J(doc), *u = J(update);
    da_err e = {0};
    *rc = da_update_apply(d, u, inserting, modified, &e);
    if (code) strcpy(code, e.code);
    char *s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    json_decref(u);
    return s;
}

static void check_update(const char *doc, const char *update, const char *want, bool mod)
{
    bool m;
    int rc;
    char *got = updated(doc, update, false, &m, &rc, NULL);
    assert_int_equal(rc, 0);
    json_t *w = J(want);
    char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got, ws);
    assert_int_equal(m, mod);
    free(ws);
    free(got);
    json_decref(w);
}

static void test_updates(void **state)
{
    (void)state;
    check_update("{\"_id\":1,\"a\":1}", "{\"$set\":{\"b\":2}}", "{\"_id\":1,\"a\":1,\"b\":2}",
                 true);
    check_update("{\"_id\":1}", "{\"$set\":{\"x.y.z\":1}}", "{\"_id\":1,\"x\":{\"y\":{\"z\":1}}}",
                 true);
    check_update("{\"_id\":1,\"a\":1}", "{\"$set\":{\"a\":1}}", "{\"_id\":1,\"a\":1}", false);
    check_update("{\"_id\":1,\"a\":1,\"b\":2}", "{\"$unset\":{\"a\":\"\",\"zz\":\"\"}}",
                 "{\"_id\":1,\"b\":2}", true);
    check_update("{\"_id\":1,\"n\":1}", "{\"$inc\":{\"n\":2,\"m\":5}}",
                 "{\"_id\":1,\"n\":3,\"m\":5}", true);
    check_update("{\"_id\":1,\"n\":1}", "{\"$inc\":{\"n\":0.5}}", "{\"_id\":1,\"n\":1.5}", true);
    check_update("{\"_id\":1,\"n\":3}", "{\"$mul\":{\"n\":2}}", "{\"_id\":1,\"n\":6}", true);
    check_update("{\"_id\":1,\"n\":3}", "{\"$min\":{\"n\":5},\"$max\":{\"m\":1}}",
                 "{\"_id\":1,\"n\":3,\"m\":1}", true);
    check_update("{\"_id\":1}", "{\"$push\":{\"l\":1}}", "{\"_id\":1,\"l\":[1]}", true);
    check_update("{\"_id\":1,\"l\":[1]}", "{\"$push\":{\"l\":{\"$each\":[2,3]}}}",
                 "{\"_id\":1,\"l\":[1,2,3]}", true);
    check_update("{\"_id\":1,\"l\":[1,4]}", "{\"$push\":{\"l\":{\"$each\":[2,3],\"$position\":1}}}",
                 "{\"_id\":1,\"l\":[1,2,3,4]}", true);
    check_update("{\"_id\":1,\"l\":[1,2]}", "{\"$addToSet\":{\"l\":2}}", "{\"_id\":1,\"l\":[1,2]}",
                 false);
    check_update("{\"_id\":1,\"l\":[1,2,3]}", "{\"$pop\":{\"l\":-1}}", "{\"_id\":1,\"l\":[2,3]}",
                 true);
    check_update("{\"_id\":1,\"a\":7}", "{\"$rename\":{\"a\":\"b\"}}", "{\"_id\":1,\"b\":7}", true);
    /* $setOnInsert only when inserting */
    check_update("{\"_id\":1}", "{\"$setOnInsert\":{\"a\":1}}", "{\"_id\":1}", false);
    bool m;
    int rc;
    char *s = updated("{}", "{\"$setOnInsert\":{\"_id\":5,\"a\":1}}", true, &m, &rc, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(s, "{\"_id\":5,\"a\":1}");
    free(s);
}

static void test_update_errors_change_nothing(void **state)
{
    (void)state;
    bool m;
    int rc;
    char code[64];
    char *s = updated("{\"_id\":1,\"a\":\"x\"}", "{\"$set\":{\"b\":1},\"$inc\":{\"a\":1}}", false,
                      &m, &rc, code);
    assert_true(rc < 0);
    assert_string_equal(code, "UNSUPPORTED_UPDATE_OPERATION_TARGET");
    assert_string_equal(s, "{\"_id\":1,\"a\":\"x\"}"); /* $set not applied either */
    free(s);
    s = updated("{\"_id\":1}", "{\"$set\":{\"_id\":2}}", false, &m, &rc, code);
    assert_true(rc < 0);
    assert_string_equal(code, "UNSUPPORTED_UPDATE_FOR_DOC_ID");
    free(s);
    s = updated("{\"_id\":1}", "{\"$frobnicate\":{\"a\":1}}", false, &m, &rc, code);
    assert_true(rc < 0);
    assert_string_equal(code, "UNSUPPORTED_UPDATE_OPERATION");
    free(s);
    s = updated("{\"_id\":1}", "{\"$inc\":{\"a\":\"1\"}}", false, &m, &rc, code);
    assert_true(rc < 0);
    free(s);
}

static char *projected(const char *doc, const char *projection)
{
    json_t *d = J(doc), *p = projection ? J(projection) : NULL;
    da_err e = {0};
    json_t *o = da_project(d, p, &e);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : strdup(e.code);
    json_decref(o);
    json_decref(d);
    json_decref(p);
    return s;
}

static void test_projection(void **state)
{
    (void)state;
    const char *doc = "{\"_id\":1,\"a\":1,\"b\":{\"c\":2,\"d\":3},\"$vector\":[1]}";
    struct {
        const char *proj, *want;
    } cases[] = {
        {NULL, "{\"_id\":1,\"a\":1,\"b\":{\"c\":2,\"d\":3}}"},
        {"{}", "{\"_id\":1,\"a\":1,\"b\":{\"c\":2,\"d\":3}}"},
        {"{\"*\":1}", "{\"$vector\":[1],\"_id\":1,\"a\":1,\"b\":{\"c\":2,\"d\":3}}"},
        {"{\"a\":1}", "{\"_id\":1,\"a\":1}"},
        {"{\"b.c\":true,\"_id\":0}", "{\"b\":{\"c\":2}}"},
        {"{\"a\":0}", "{\"_id\":1,\"b\":{\"c\":2,\"d\":3}}"},
        {"{\"_id\":0}", "{\"a\":1,\"b\":{\"c\":2,\"d\":3}}"},
        {"{\"$vector\":1}", "{\"$vector\":[1],\"_id\":1}"},
        {"{\"a\":1,\"b\":0}", "UNSUPPORTED_PROJECTION_PARAM"},
        {"{\"a\":{\"$slice\":\"x\"}}", "UNSUPPORTED_PROJECTION_PARAM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = projected(doc, cases[i].proj);
        assert_string_equal(s, cases[i].want);
        free(s);
    }
}

static void test_slices(void **state)
{
    (void)state;
    const char *doc = "{\"_id\":1,\"l\":[1,2,3,4,5],\"m\":\"x\"}";
    struct {
        const char *proj, *want;
    } cases[] = {
        {"{\"l\":{\"$slice\":2}}", "{\"_id\":1,\"l\":[1,2],\"m\":\"x\"}"},
        {"{\"l\":{\"$slice\":-2}}", "{\"_id\":1,\"l\":[4,5],\"m\":\"x\"}"},
        {"{\"l\":{\"$slice\":[1,2]}}", "{\"_id\":1,\"l\":[2,3],\"m\":\"x\"}"},
        {"{\"l\":{\"$slice\":[-2,9]}}", "{\"_id\":1,\"l\":[4,5],\"m\":\"x\"}"},
        {"{\"l\":{\"$slice\":[9,2]}}", "{\"_id\":1,\"l\":[],\"m\":\"x\"}"},
        {"{\"l\":{\"$slice\":[0,9223372036854775807]}}",
         "{\"_id\":1,\"l\":[1,2,3,4,5],\"m\":\"x\"}"},
        {"{\"l\":{\"$slice\":1},\"m\":0}", "{\"_id\":1,\"l\":[1]}"},
        {"{\"l\":{\"$slice\":1},\"m\":1}", "{\"_id\":1,\"l\":[1],\"m\":\"x\"}"},
        {"{\"m\":{\"$slice\":1}}", "{\"_id\":1,\"l\":[1,2,3,4,5],\"m\":\"x\"}"},
        {"{\"l\":{\"$slice\":[1,0]}}", "UNSUPPORTED_PROJECTION_PARAM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = projected(doc, cases[i].proj);
        assert_string_equal(s, cases[i].want);
        free(s);
    }
}

static void test_ids(void **state)
{
    (void)state;
    char *k;
    da_err e;
    json_t *v = J("\"abc\"");
    assert_int_equal(da_id_key(v, &k, &e), 0);
    assert_string_equal(k, "\"abc\"");
    hln_free(k);
    json_decref(v);
    v = J("5");
    assert_int_equal(da_id_key(v, &k, &e), 0);
    assert_string_equal(k, "5");
    hln_free(k);
    json_decref(v);
    v = J("{\"$uuid\":\"u\"}");
    assert_int_equal(da_id_key(v, &k, &e), 0);
    hln_free(k);
    json_decref(v);
    v = J("[1]");
    assert_true(da_id_key(v, &k, &e) < 0);
    json_decref(v);
    json_t *id = da_new_id();
    assert_int_equal(strlen(json_string_value(id)), 36);
    json_decref(id);
}

static void test_vectors(void **state)
{
    (void)state;
    float *f;
    int n;
    da_err e;
    json_t *v = J("[0.5, 1, -2]");
    assert_int_equal(da_vector_parse(v, &f, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_true(f[0] == 0.5f && f[1] == 1.0f && f[2] == -2.0f);
    hln_free(f);
    json_decref(v);
    /* big-endian float32 0.5, 0.25 = 3f000000 3e800000 */
    v = J("{\"$binary\": \"PwAAAD6AAAA=\"}");
    assert_int_equal(da_vector_parse(v, &f, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_true(f[0] == 0.5f && f[1] == 0.25f);
    json_t *back = da_vector_json(f, n);
    char *s = json_dumps(back, JSON_COMPACT);
    assert_string_equal(s, "[0.5,0.25]");
    free(s);
    json_decref(back);
    hln_free(f);
    json_decref(v);
    float tenth = 0.1f;
    back = da_vector_json(&tenth, 1);
    assert_true(json_real_value(json_array_get(back, 0)) == 0.1); /* shortest form */
    json_decref(back);
    v = J("{\"$binary\": \"PwAA\"}"); /* 3 bytes: not whole floats */
    assert_true(da_vector_parse(v, &f, &n, &e) < 0);
    json_decref(v);
    v = J("[1, \"x\"]");
    assert_true(da_vector_parse(v, &f, &n, &e) < 0);
    json_decref(v);
    v = J("[]");
    assert_true(da_vector_parse(v, &f, &n, &e) < 0);
    json_decref(v);

    float a[2] = {1, 0}, b[2] = {0, 1}, c[2] = {2, 0};
    assert_true(fabs(da_similarity(DA_COSINE, a, c, 2) - 1.0) < 1e-9);
    assert_true(fabs(da_similarity(DA_COSINE, a, b, 2) - 0.5) < 1e-9);
    assert_true(fabs(da_similarity(DA_DOT_PRODUCT, a, c, 2) - 1.5) < 1e-9);
    assert_true(fabs(da_similarity(DA_EUCLIDEAN, a, c, 2) - 0.5) < 1e-9);
    assert_int_equal(da_metric_parse("dot_product"), DA_DOT_PRODUCT);
    assert_int_equal(da_metric_parse("manhattan"), -1);
}

static void test_sort_order(void **state)
{
    (void)state;
    const char *order[] = {"null",      "-1",  "2.5",   "3",    "\"a\"",        "\"b\"",
                           "{\"k\":1}", "[1]", "false", "true", "{\"$date\":5}"};
    size_t n = sizeof order / sizeof order[0];
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *x = J(order[i]), *y = J(order[i + 1]);
        assert_true(da_value_compare(x, y) < 0);
        assert_true(da_value_compare(y, x) > 0);
        assert_int_equal(da_value_compare(x, x), 0);
        json_decref(x);
        json_decref(y);
    }
    assert_true(da_value_compare(NULL, NULL) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equality),
        cmocka_unit_test(test_in_and_comparisons),
        cmocka_unit_test(test_exists_size_all),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_invalid_filters),
        cmocka_unit_test(test_updates),
        cmocka_unit_test(test_update_errors_change_nothing),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_sort_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
