/*
 * document.h — the Data API's document semantics over jansson values.
 *
 * What: everything the Data API decides about a JSON document without
 * touching storage: whether a filter matches it (da_filter_match), what an
 * update does to it (da_update_apply), what a projection leaves of it
 * (da_project), the order of a sort (da_sort_compare), the storage key of
 * an _id (da_id_key), vectors given as number lists or {"$binary": base64
 * of big-endian float32} (da_vector_parse) and their similarity scores.
 * commands.c builds the commands from these; tests/unit/test_dataapi.c
 * checks them alone.
 *
 * Why separate: the semantics are the part with the most cases (operators,
 * dotted paths, arrays) and the least context; pure functions over json_t
 * are easy to test exhaustively and cannot block a thread.
 *
 * Conventions: functions that can reject their input return 0 or a
 * negative HLN_E* code and fill a da_err with the Data API's errorCode and
 * message. json_t arguments are borrowed unless a comment says a new
 * reference is returned. Paths are dotted ("a.b.0.c"): a segment of digits
 * indexes an array.
 *
 * Invariants:
 *  1. A filter that da_filter_match accepts on one document it accepts on
 *     every document: every operator is checked whether or not its branch
 *     decides the result, so a scan never fails half-way on a bad filter.
 *  2. da_update_apply never changes _id (an update that tries is refused
 *     before anything is changed).
 */
#ifndef HLN_DATAAPI_DOCUMENT_H
#define HLN_DATAAPI_DOCUMENT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/common.h"

/* A Data API error: errorCode (e.g. "INVALID_FILTER_EXPRESSION") and message. */
typedef struct da_err {
    char code[64];
    char msg[512];
} da_err;

/* Fills e (if not NULL) and returns rc, so callers can `return da_fail(...)`. */
int da_fail(da_err *e, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* {"$date": n}, {"$uuid": s}, {"$objectId": s}, {"$binary": s}: a value
 * (not an operator object) in filters and ids. */
bool da_is_value_wrapper(json_t *v);

/* The value at a dotted path, or NULL when absent (borrowed). */
json_t *da_path_get(json_t *doc, const char *path);

/* Sets the value at a dotted path to v (a reference stolen, also on
 * failure), creating objects on the way. */
int da_path_set(json_t *doc, const char *path, json_t *v, da_err *e);

/* 1: doc matches filter (NULL or {} matches everything), 0: it does not,
 * negative: the filter is invalid (e filled). Operators: implicit equality,
 * $eq $ne $in $nin $gt $gte $lt $lte $exists $size $all, $and $or $not. */
int da_filter_match(json_t *filter, json_t *doc, da_err *e);

/* Applies update ($set $unset $inc $mul $min $max $push $addToSet $pop
 * $rename, and $setOnInsert when inserting) to doc in place; *modified is
 * set when the document changed. */
int da_update_apply(json_t *doc, json_t *update, bool inserting, bool *modified, da_err *e);

/* The document as projection shows it: a new reference. NULL/{}: everything
 * but $vector; {"*": 1}: everything; inclusions or exclusions of paths
 * (_id is included unless excluded, $vector and $similarity only when
 * asked for or with "*"); {"path": {"$slice": n | [skip, n]}} cuts an
 * array (and decides neither inclusion nor exclusion). */
json_t *da_project(json_t *doc, json_t *projection, da_err *e);
/* Checks a projection's shape (0 or negative with e filled). */
int da_project_check(json_t *projection, da_err *e);

/* Total order of the Data API's sorts over two values (missing = NULL
 * first): <0, 0, >0. */
int da_value_compare(json_t *a, json_t *b);

/* The storage key of an _id value (string, number, boolean, null, or the
 * {"$uuid"|"$objectId"|"$date": ...} wrappers): its compact JSON text,
 * hln_malloc'd. HLN_EINVAL for objects and arrays. */
int da_id_key(json_t *id, char **out, da_err *e);
/* A new document id: a random (version 4) UUID string. New reference. */
json_t *da_new_id(void);

/* A vector given as a list of numbers or {"$binary": base64 of big-endian
 * float32s}; *out is hln_malloc'd with *n floats. */
int da_vector_parse(json_t *v, float **out, int *n, da_err *e);
/* A JSON array of the floats (each as the shortest decimal that reads back
 * as the same float). New reference. */
json_t *da_vector_json(const float *v, int n);

enum { DA_COSINE = 0, DA_DOT_PRODUCT = 1, DA_EUCLIDEAN = 2 };
/* "cosine", "dot_product", "euclidean" (the Data API's and Cassandra's
 * names) -> DA_*, or -1. */
int da_metric_parse(const char *name);
const char *da_metric_name(int metric);
/* The normalised similarity of the Data API and Cassandra: cosine and dot
 * product (1 + x) / 2, euclidean 1 / (1 + d^2). */
double da_similarity(int metric, const float *a, const float *b, int n);

#endif
