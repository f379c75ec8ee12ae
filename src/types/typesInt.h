/*
 * typesInt.h — private declarations shared by the types module's files
 * (types.c, order.c, text.c, param.c, collection.c, decimal.c).
 */
#ifndef HLN_TYPES_INT_H
#define HLN_TYPES_INT_H

#include "types/types.h"

/* collection.c: the collection cases of hln_type_validate, hln_type_compare
 * and the comparable encoding (see the essay there). */
int hln_coll_validate(const hln_type *t, const uint8_t *v, size_t len, hln_error *err);
int hln_coll_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen);
int hln_coll_encode(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out);
int hln_coll_decode(const hln_type *t, hln_rd *r, bool desc, hln_buf *out);

/* collection.c: vectors (see types.h). */
int hln_vector_validate(const hln_type *t, const uint8_t *v, size_t len, hln_error *err);
int hln_vector_encode(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out);
int hln_vector_decode(const hln_type *t, hln_rd *r, bool desc, hln_buf *out);
int hln_vector_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen);

/* text.c: varint <-> decimal text ("-123"), minimal two's complement. */
bool hln_varint_from_decimal(const char *s, hln_buf *out);
void hln_varint_to_decimal(const uint8_t *v, size_t len, hln_buf *out);

/* decimal.c: decimal and duration (see the essay there). */
bool hln_decimal_from_text(const char *s, hln_buf *out);
void hln_decimal_format(const uint8_t *v, size_t len, hln_buf *out); /* len >= 4 */
int hln_decimal_encode(const uint8_t *v, size_t len, hln_buf *out);
int hln_decimal_decode(hln_rd *r, bool desc, hln_buf *out);
int hln_decimal_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
int hln_duration_validate(const uint8_t *v, size_t len, hln_error *err);
int hln_duration_from_text(const char *input, hln_buf *out, hln_error *err);
void hln_duration_format(const uint8_t *v, size_t len, hln_buf *out);
/* collection.c: tuples and UDTs (see the essay there). */
int hln_tuple_validate(const hln_type *t, const uint8_t *v, size_t len, hln_error *err);
int hln_tuple_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                      size_t blen);
int hln_tuple_encode(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out);
int hln_tuple_decode(const hln_type *t, hln_rd *r, bool desc, hln_buf *out);

/* order.c: reads one byte of a comparable encoding, undoing DESC inversion. */
int hln_type_take_byte(hln_rd *r, bool desc, uint8_t *b);

#endif
