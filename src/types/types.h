/*
 * types.h — CQL data types: descriptors, validation, ordering, literals,
 * text rendering, and the byte-comparable encoding used for clustering keys.
 *
 * What: a type descriptor (hln_type) per CQL type; functions over values in
 * their CQL wire serialisation (the [bytes] body of a value, big-endian, as
 * the native protocol and Cassandra's sstables carry them).
 *
 * Why the byte-comparable encoding: storage orders rows by clustering key
 * with plain memcmp, so storage never needs to know CQL types. Each
 * clustering component is written as
 *     0x40 (component present) + comparable(value)   [bytes inverted if DESC]
 * where comparable() is prefix-free and memcmp-ordered exactly as Cassandra
 * orders that type. A prefix of components is then a byte prefix, and a
 * slice bound "every key starting with P" is P itself (see storage.h).
 *
 * Invariants:
 *  1. hln_type_compare(t,a,b) < 0  <=>  memcmp(enc(a), enc(b)) < 0.
 *  2. decode(enc(v)) == v byte for byte.
 *  3. Descriptors returned by hln_type_by_name are static and never freed.
 */
#ifndef HLN_TYPES_H
#define HLN_TYPES_H

#include "common/common.h"

/* Kind values are the native protocol's [option] ids. */
typedef enum hln_type_kind {
    HLN_T_CUSTOM = 0x0000,
    HLN_T_ASCII = 0x0001,
    HLN_T_BIGINT = 0x0002,
    HLN_T_BLOB = 0x0003,
    HLN_T_BOOLEAN = 0x0004,
    HLN_T_COUNTER = 0x0005,
    HLN_T_DECIMAL = 0x0006,
    HLN_T_DOUBLE = 0x0007,
    HLN_T_FLOAT = 0x0008,
    HLN_T_INT = 0x0009,
    HLN_T_TIMESTAMP = 0x000B,
    HLN_T_UUID = 0x000C,
    HLN_T_VARCHAR = 0x000D, /* text */
    HLN_T_VARINT = 0x000E,
    HLN_T_TIMEUUID = 0x000F,
    HLN_T_INET = 0x0010,
    HLN_T_DATE = 0x0011,
    HLN_T_TIME = 0x0012,
    HLN_T_SMALLINT = 0x0013,
    HLN_T_TINYINT = 0x0014,
    HLN_T_DURATION = 0x0015,
    HLN_T_LIST = 0x0020,
    HLN_T_MAP = 0x0021,
    HLN_T_SET = 0x0022,
    HLN_T_UDT = 0x0030,
    HLN_T_TUPLE = 0x0031,
    /* Not a protocol id: vector<type, n> travels as the custom type
       org.apache.cassandra.db.marshal.VectorType(<element class>,n). */
    HLN_T_VECTOR = 0x1000,
} hln_type_kind;

/* A type. Scalar types are static singletons; parameterised types
 * (list, set, map, vectors, tuples, UDTs) are interned (param.c), so
 * pointer equality is type equality for them too; hln_type_equal also
 * compares structurally. UDTs keep their keyspace, name and field names
 * outside this struct (hln_udt_field and friends). */
typedef struct hln_type {
    hln_type_kind kind;
    const char *cql_name;           /* "int", "map<text, int>", "frozen<list<int>>": as
                                       system_schema shows it */
    int fixed_len;                  /* >0: every value has this length; 0: variable */
    const struct hln_type **params; /* list/set: element; map: key, value */
    int nparams;
    bool frozen; /* frozen<...>: one cell; else a collection is multi-cell */
    int dim;     /* vector<type, dim>: the number of elements; 0 otherwise */
} hln_type;

/* UDTs (kind HLN_T_UDT; params are the field types, in order): the name
 * of field i, the type's keyspace and name ("" for other kinds). */
const char *hln_udt_field(const hln_type *t, int i);
const char *hln_udt_ks(const hln_type *t);
const char *hln_udt_name(const hln_type *t);

/* True for list, set, map (frozen or not). */
static inline bool hln_type_is_collection(const hln_type *t)
{
    return t->kind == HLN_T_LIST || t->kind == HLN_T_SET || t->kind == HLN_T_MAP;
}
/* True when a value of t is stored as one cell per element (non-frozen
 * collections) or per field (non-frozen UDTs): Cassandra's isMultiCell. */
static inline bool hln_type_is_multicell(const hln_type *t)
{
    return (hln_type_is_collection(t) || t->kind == HLN_T_UDT) && !t->frozen;
}

/* Parses a type as system_schema and CQL write it ("int", "varchar",
 * "map<text, frozen<list<int>>>", "frozen<set<uuid>>"), case-insensitively,
 * into an interned descriptor (never freed). frozen<> freezes everything
 * inside it too. Non-frozen collections nested in collections are accepted
 * here (the DDL layer refuses them with Cassandra's message). NULL when the
 * text is not a type this build supports, or past the intern pool's bound. */
const hln_type *hln_type_parse(const char *name);
/* The collection type kind<params> (frozen or not), interned; NULL as above. */
const hln_type *hln_type_collection(hln_type_kind kind, const hln_type *const *params, bool frozen);
/* t with frozen set (recursively), interned. Scalars are returned as is. */
const hln_type *hln_type_freeze(const hln_type *t);
/* The most components a tuple (or fields a UDT) may have here. */
#define HLN_TUPLE_MAX 64
/* tuple<params...> (1..HLN_TUPLE_MAX components, frozen), interned; its
 * name is "frozen<tuple<int, text>>" as system_schema shows it. NULL past
 * the pool's bound. Serialisation (Cassandra's TupleType): per component
 * [i32 len][bytes], len -1 for null; a value may stop early (the missing
 * trailing components are null). */
const hln_type *hln_type_tuple(const hln_type *const *params, int n);
/* The UDT ks.name with the given fields (1..HLN_TUPLE_MAX), interned by
 * keyspace, name, field names and types and frozenness (its CQL name,
 * "address" or "frozen<address>", does not identify it). Frozen: the
 * field types are frozen too. Serialised like a tuple of its fields. */
const hln_type *hln_type_udt(const char *ks, const char *name, const char *const *fields,
                             const hln_type *const *types, int n, bool frozen);
/* hln_type_parse where a bare name may also be one of the UDTs udts
 * (system_schema's "frozen<address>"). */
const hln_type *hln_type_parse_in(const char *name, const hln_type *const *udts, int nudts);
/* t rebuilt with every UDT in it replaced by its definition among udts
 * (matched by keyspace and name; frozenness kept), recursively: after an
 * ALTER TYPE, the columns and types that use it. */
const hln_type *hln_type_refresh(const hln_type *t, const hln_type *const *udts, int nudts);
/* t with every UDT in it replaced by the tuple of its field types (what
 * system_schema.dropped_columns records). NULL past the pool's bound. */
const hln_type *hln_type_expand_udts(const hln_type *t);
/* True when t is, or contains, the UDT ks.name. */
bool hln_type_uses_udt(const hln_type *t, const char *ks, const char *name);
/* Splits a serialized tuple (or UDT) into at most t->nparams components
 * (pointers into v, lens -1 for null); *n receives how many were present.
 * HLN_EINVAL when malformed. */
int hln_tuple_split(const hln_type *t, const uint8_t *v, size_t len, const uint8_t **els,
                    int32_t *lens, int *n);
/* Appends the serialized tuple of n components (lens -1: null). */
int hln_tuple_build(const uint8_t *const *els, const int32_t *lens, int n, hln_buf *out);

/* vector<elem, dim> (dim >= 1), interned; NULL past the pool's bound.
 * Serialisation (Cassandra's VectorType): elements of a fixed-size type
 * back to back; of a variable-size type each as [unsigned vint len][bytes]. */
const hln_type *hln_type_vector(const hln_type *elem, int dim);
/* Appends the serialized vector of t's dim elements els/lens (none null). */
int hln_vector_build(const hln_type *t, const uint8_t *const *els, const int32_t *lens,
                     hln_buf *out);
/* Splits a serialized vector into its dim elements (pointers into v);
 * HLN_EINVAL when malformed. els/lens need t->dim slots. */
int hln_vector_split(const hln_type *t, const uint8_t *v, size_t len, const uint8_t **els,
                     int32_t *lens);

/* ---- collection values (the v3+ serialisation: [i32 n] then per element
 * [i32 len][bytes], maps key then value; sets and maps sorted by element/key
 * in the element type's order, without duplicates) ---- */

/* Reads the element count of a serialized collection; HLN_EINVAL when the
 * value is too short. On success r is positioned at the first element. */
int hln_coll_begin(hln_rd *r, const uint8_t *v, size_t len, uint32_t *n);
/* Reads one element ([i32 len][bytes]); len -1 for a null element. */
int hln_coll_next(hln_rd *r, const uint8_t **e, int32_t *elen);
/* Appends the serialized collection of n elements (for a map: 2n, key,
 * value alternating) taken from els/lens, sorting and deduplicating them by
 * the key type for sets and maps (a later duplicate key wins, as Cassandra's
 * literals do). HLN_ENOMEM on allocation failure. */
int hln_coll_build(const hln_type *t, const uint8_t *const *els, const int32_t *lens, uint32_t n,
                   hln_buf *out);
/* Appends the canonical form of a valid serialized collection of type t:
 * sets and maps sorted and deduplicated (the later duplicate wins), nested
 * collections likewise. Clients need not sort what they send (Cassandra
 * sorts it too), but storage keys and comparisons need one form.
 * HLN_EINVAL on malformed input, HLN_ENOMEM. */
int hln_coll_normalize(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out);

/* True when values of t may need hln_value_normalize (a set or map
 * somewhere inside). */
bool hln_type_needs_normalize(const hln_type *t);
/* Appends the canonical form of a valid serialized value of t: every set
 * and map inside it (collections, tuple components, UDT fields) sorted and
 * deduplicated as hln_coll_normalize does. HLN_EINVAL, HLN_ENOMEM. */
int hln_value_normalize(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out);

/* Looks a type up by CQL name, case-insensitively ("varchar" gives text).
 * NULL if unknown or not supported yet. */
const hln_type *hln_type_by_name(const char *name);
/* The type a hint names ("int", "list<int>", "frozen<map<text, int>>"):
 * hln_type_by_name, else hln_type_parse; NULL when neither knows it. */
const hln_type *hln_type_hint(const char *name);
const hln_type *hln_type_by_kind(hln_type_kind kind);
bool hln_type_equal(const hln_type *a, const hln_type *b);

/* Checks a serialized value (len bytes) is valid for t (length, UTF-8 for
 * text, ASCII for ascii). 0 or HLN_EINVAL with a message in Cassandra's
 * words, e.g. "Expected 4 or 0 byte int (3)". col names the column for the
 * message and may be NULL. */
int hln_type_validate(const hln_type *t, const uint8_t *v, size_t len, const char *col,
                      hln_error *err);

/* Cassandra's ordering of two serialized values of type t: <0, 0, >0. */
int hln_type_compare(const hln_type *t, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen);

/* Appends the comparable encoding of one component (without the 0x40 marker;
 * inverted when desc). */
int hln_type_to_comparable(const hln_type *t, const uint8_t *v, size_t len, bool desc,
                           hln_buf *out);
/* Reads one component's comparable encoding from r (without the marker) and
 * appends the serialized value to out. HLN_ECORRUPT on malformed input. */
int hln_type_from_comparable(const hln_type *t, hln_rd *r, bool desc, hln_buf *out);

/* Literal kinds as the CQL lexer classifies them. */
typedef enum hln_lit_kind {
    HLN_LIT_STRING,   /* 'text' (already unescaped) or $$text$$ */
    HLN_LIT_INTEGER,  /* -?[0-9]+ */
    HLN_LIT_FLOAT,    /* -?[0-9]+.[0-9]*([eE]...)?, NaN, Infinity */
    HLN_LIT_BOOL,     /* true/false (text holds "true"/"false") */
    HLN_LIT_UUID,     /* 8-4-4-4-12 hex */
    HLN_LIT_HEX,      /* 0x... (text holds the whole token, with 0x) */
    HLN_LIT_DURATION, /* 1h30m, -2w, P1Y2M, P2W, P0001-02-03T04:05:06 */
} hln_lit_kind;

/* Converts a literal to the serialized value of type t, appended to out.
 * HLN_EINVAL with Cassandra's wording on a mismatch, e.g.
 * "Invalid STRING constant (foo) for \"k\" of type int". */
int hln_type_from_literal(const hln_type *t, hln_lit_kind kind, const char *text, const char *col,
                          hln_buf *out, hln_error *err);

/* Appends the CQL literal rendering of a value (as cqlsh prints it:
 * text unquoted, blobs as 0x..., timestamps as '2024-01-02 03:04:05.000000+0000'). */
void hln_type_format(const hln_type *t, const uint8_t *v, size_t len, hln_buf *out);

/* Appends the JSON text of a value (len -1: null), as Cassandra's toJson()
 * and SELECT JSON write it (json.c). */
void hln_type_to_json(const hln_type *t, const uint8_t *v, int64_t len, hln_buf *out);
/* Java's Double.toString (Float.toString when is_float) of d ("null" for
 * NaN and infinities, as JSON has neither). */
void hln_java_double(hln_buf *out, double d, bool is_float);
/* Appends s as a JSON string literal (quoted, escaped). */
void hln_json_string(hln_buf *out, const char *s);
/* Appends n bytes as a JSON string literal, or null. */
void hln_json_string_n(hln_buf *out, const uint8_t *s, size_t n, bool null);

/* Appends Cassandra's marshal class name of t (custom type options). */
void hln_type_class_name(const hln_type *t, hln_buf *out);
/* Appends the native protocol [option] for t (id + params; a vector as
 * the custom type VectorType(...)). */
void hln_type_encode_option(const hln_type *t, hln_buf *out);

/* Partition keys: the serialized key whose Murmur3 hash is the token.
 * One component: the value itself. Several: for each, u16 length, the value,
 * a 0x00 end-of-component byte (Cassandra's CompositeType). */
void hln_pk_compose(const uint8_t *const *vals, const size_t *lens, int n, hln_buf *out);
/* Splits a composite key into n components (pointers into key). 0 or HLN_ECORRUPT. */
int hln_pk_split(const uint8_t *key, size_t len, int n, const uint8_t **vals, size_t *lens);

/* decimal arithmetic for the sum and avg aggregates (valid values, >= 4
 * bytes): BigDecimal.add (the result has the larger scale), and Cassandra's
 * streaming average step avg + (x - avg) / n (n >= 1, the quotient rounded
 * HALF_EVEN at the scale of x - avg). HLN_EINVAL when scales overflow. */
int hln_decimal_add(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, hln_buf *out);
int hln_decimal_avg_step(const uint8_t *avg, size_t alen, const uint8_t *x, size_t xlen, int64_t n,
                         hln_buf *out);

/* duration values: three zigzag vints (months, days, nanoseconds). split
 * fails (HLN_EINVAL) on truncated input; it does not check the signs. */
void hln_duration_build(int32_t months, int32_t days, int64_t nanos, hln_buf *out);
int hln_duration_split(const uint8_t *v, size_t len, int64_t *months, int64_t *days,
                       int64_t *nanos);

#endif
