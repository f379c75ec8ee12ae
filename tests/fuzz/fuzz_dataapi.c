/*
 * fuzz_dataapi.c — libFuzzer harness for the Data API's document semantics
 * (src/dataapi/document.c).
 *
 * What: the input is JSON text; when it is an object, its members "doc",
 * "filter", "update", "projection", "a" and "b" (any of them may be
 * missing or of the wrong type) drive every function of document.h: the
 * filter is evaluated twice, the update applied to a copy, the projection
 * taken, the _id turned into a key, the $vector parsed, a and b compared.
 *
 * Checks (abort on violation, which the fuzzer reports): a filter gives
 * the same answer twice and an error comes with an errorCode; a failed
 * update leaves the document exactly as it was, a successful one never
 * changes _id; the comparison is antisymmetric and reflexive; a parsed
 * vector has a positive length. The corpus (tests/fuzz/corpus/
 * fuzz_dataapi) is replayed by ordinary test runs.
 *
 * Invariants: no input may crash, hang or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataapi/document.h"

static int sign(int c)
{
    return c < 0 ? -1 : c > 0;
}

static char *dump(json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!json_is_object(in)) {
        json_decref(in);
        return 0;
    }
    json_t *doc = json_object_get(in, "doc");
    json_t *filter = json_object_get(in, "filter");
    json_t *update = json_object_get(in, "update");
    json_t *projection = json_object_get(in, "projection");
    da_err e = {0};
    if (json_is_object(doc)) {
        int r1 = da_filter_match(filter, doc, &e);
        if (r1 < 0 && !e.code[0]) abort();
        int r2 = da_filter_match(filter, doc, NULL);
        if (r1 != r2) abort();

        json_t *copy = json_deep_copy(doc);
        char *before = dump(copy);
        bool modified = false;
        int rc = da_update_apply(copy, update, false, &modified, &e);
        char *after = dump(copy);
        if (rc < 0 && strcmp(before, after)) abort();
        if (rc == 0 && !modified && strcmp(before, after)) abort();
        if (rc == 0) {
            json_t *id0 = json_object_get(doc, "_id"), *id1 = json_object_get(copy, "_id");
            if ((id0 == NULL) != (id1 == NULL)) abort();
            if (id0 && !json_equal(id0, id1)) abort();
        }
        free(before);
        free(after);
        json_decref(copy);

        json_t *p = da_project(doc, projection, &e);
        if (!p && da_project_check(projection, NULL) == 0) abort();
        json_decref(p);

        char *key = NULL;
        if (da_id_key(json_object_get(doc, "_id"), &key, &e) == 0 && !key) abort();
        hln_free(key);

        float *v = NULL;
        int n = 0;
        json_t *vj = json_object_get(doc, "$vector");
        if (vj && da_vector_parse(vj, &v, &n, &e) == 0) {
            if (n <= 0 || !v) abort();
            json_t *back = da_vector_json(v, n);
            if ((int)json_array_size(back) != n) abort();
            json_decref(back);
            for (int m = 0; m < 3; m++)
                (void)da_similarity(m, v, v, n);
        }
        hln_free(v);
    }
    json_t *a = json_object_get(in, "a"), *b = json_object_get(in, "b");
    if (sign(da_value_compare(a, b)) != -sign(da_value_compare(b, a))) abort();
    if (da_value_compare(a, a) != 0) abort();
    json_decref(in);
    return 0;
}
