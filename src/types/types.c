/*
 * types.c — the scalar CQL type descriptors, lookup, validation of
 * serialized values, the protocol [option] encoding, and partition-key
 * composition.
 *
 * What: one static hln_type per supported scalar type (ascii, bigint, blob,
 * boolean, counter, double, float, int, timestamp, uuid, text, varint,
 * timeuuid, inet, date, time, smallint, tinyint, decimal, duration).
 * Collections and vectors are interned by param.c; tuples and UDTs are not
 * supported yet: lookups return NULL for them.
 *
 * Why: every layer that touches a value (protocol binding, storage keys,
 * result rendering) needs the same notion of "a valid int" etc.; Cassandra's
 * serializers are the reference, so the length rules and messages follow
 * them: the older fixed types (int, bigint, double, ...) accept a 0-byte
 * "empty" value, the newer ones (smallint, tinyint, date, time) do not.
 *
 * Invariants:
 *  1. Descriptors are static, never freed; pointer equality means type
 *     equality for scalars ("varchar" and "text" are the same descriptor).
 *  2. hln_type_validate never reads outside [v, v+len).
 *  3. hln_pk_split(hln_pk_compose(x)) == x for n >= 1 components.
 */
#include "types/typesInt.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const hln_type T_ASCII = {HLN_T_ASCII, "ascii", 0, NULL, 0, false, 0};
static const hln_type T_BIGINT = {HLN_T_BIGINT, "bigint", 8, NULL, 0, false, 0};
static const hln_type T_BLOB = {HLN_T_BLOB, "blob", 0, NULL, 0, false, 0};
static const hln_type T_BOOLEAN = {HLN_T_BOOLEAN, "boolean", 1, NULL, 0, false, 0};
static const hln_type T_COUNTER = {HLN_T_COUNTER, "counter", 8, NULL, 0, false, 0};
static const hln_type T_DOUBLE = {HLN_T_DOUBLE, "double", 8, NULL, 0, false, 0};
static const hln_type T_FLOAT = {HLN_T_FLOAT, "float", 4, NULL, 0, false, 0};
static const hln_type T_INT = {HLN_T_INT, "int", 4, NULL, 0, false, 0};
static const hln_type T_TIMESTAMP = {HLN_T_TIMESTAMP, "timestamp", 8, NULL, 0, false, 0};
static const hln_type T_UUID = {HLN_T_UUID, "uuid", 16, NULL, 0, false, 0};
static const hln_type T_TEXT = {HLN_T_VARCHAR, "text", 0, NULL, 0, false, 0};
static const hln_type T_VARINT = {HLN_T_VARINT, "varint", 0, NULL, 0, false, 0};
static const hln_type T_TIMEUUID = {HLN_T_TIMEUUID, "timeuuid", 16, NULL, 0, false, 0};
static const hln_type T_INET = {HLN_T_INET, "inet", 0, NULL, 0, false, 0};
static const hln_type T_DATE = {HLN_T_DATE, "date", 4, NULL, 0, false, 0};
static const hln_type T_TIME = {HLN_T_TIME, "time", 8, NULL, 0, false, 0};
static const hln_type T_SMALLINT = {HLN_T_SMALLINT, "smallint", 2, NULL, 0, false, 0};
static const hln_type T_TINYINT = {HLN_T_TINYINT, "tinyint", 1, NULL, 0, false, 0};
static const hln_type T_DECIMAL = {HLN_T_DECIMAL, "decimal", 0, NULL, 0, false, 0};
static const hln_type T_DURATION = {HLN_T_DURATION, "duration", 0, NULL, 0, false, 0};

static const hln_type *const ALL[] = {
    &T_ASCII, &T_BIGINT,    &T_BLOB,     &T_BOOLEAN, &T_COUNTER, &T_DOUBLE,   &T_FLOAT,
    &T_INT,   &T_TIMESTAMP, &T_UUID,     &T_TEXT,    &T_VARINT,  &T_TIMEUUID, &T_INET,
    &T_DATE,  &T_TIME,      &T_SMALLINT, &T_TINYINT, &T_DECIMAL, &T_DURATION,
};

/* Scalars only; hln_type_parse (param.c) handles parameterised names. */
const hln_type *hln_type_hint(const char *name)
{
    const hln_type *t = hln_type_by_name(name);
    return t ? t : strchr(name, '<') ? hln_type_parse(name) : NULL;
}

const hln_type *hln_type_by_name(const char *name)
{
    if (!name) return NULL;
    if (strcasecmp(name, "varchar") == 0) return &T_TEXT;
    for (size_t i = 0; i < HLN_ARRAY_LEN(ALL); i++)
        if (strcasecmp(name, ALL[i]->cql_name) == 0) return ALL[i];
    return NULL;
}

const hln_type *hln_type_by_kind(hln_type_kind kind)
{
    for (size_t i = 0; i < HLN_ARRAY_LEN(ALL); i++)
        if (ALL[i]->kind == kind) return ALL[i];
    return NULL;
}

bool hln_type_equal(const hln_type *a, const hln_type *b)
{
    if (a == b) return true;
    if (!a || !b || a->kind != b->kind || a->nparams != b->nparams || a->frozen != b->frozen)
        return false;
    if (a->kind == HLN_T_CUSTOM)
        return a->cql_name && b->cql_name && strcmp(a->cql_name, b->cql_name) == 0;
    for (int i = 0; i < a->nparams; i++)
        if (!hln_type_equal(a->params[i], b->params[i])) return false;
    return true;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int more;
        uint8_t lo = 0x80, hi = 0xBF; /* bounds of the first continuation byte */
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c == 0xE0) {
            more = 2, lo = 0xA0;
        } else if (c == 0xED) {
            more = 2, hi = 0x9F;
        } else if (c >= 0xE1 && c <= 0xEF) {
            more = 2;
        } else if (c == 0xF0) {
            more = 3, lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            more = 3;
        } else if (c == 0xF4) {
            more = 3, hi = 0x8F;
        } else {
            return false;
        }
        if (n - i - 1 < (size_t)more) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (int k = 2; k <= more; k++)
            if ((p[i + (size_t)k] & 0xC0) != 0x80) return false;
        i += (size_t)more + 1;
    }
    return true;
}

static int64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

int hln_type_validate(const hln_type *t, const uint8_t *v, size_t len, const char *col,
                      hln_error *err)
{
    HLN_UNUSED(col); /* Cassandra's marshal messages do not name the column */
    if (!t) return hln_fail(err, HLN_EINVAL, "Unknown type");
    switch (t->kind) {
    case HLN_T_ASCII:
        for (size_t i = 0; i < len; i++)
            if (v[i] & 0x80)
                return hln_fail(err, HLN_EINVAL, "Invalid byte for ascii: %d", (int)(int8_t)v[i]);
        return 0;
    case HLN_T_VARCHAR:
        if (!utf8_valid(v, len)) return hln_fail(err, HLN_EINVAL, "String didn't validate.");
        return 0;
    case HLN_T_BLOB:
    case HLN_T_VARINT:
        return 0;
    case HLN_T_INT:
        if (len != 4 && len != 0)
            return hln_fail(err, HLN_EINVAL, "Expected 4 or 0 byte int (%zu)", len);
        return 0;
    case HLN_T_BIGINT:
    case HLN_T_COUNTER:
        if (len != 8 && len != 0)
            return hln_fail(err, HLN_EINVAL, "Expected 8 or 0 byte long (%zu)", len);
        return 0;
    case HLN_T_TIMESTAMP:
        if (len != 8 && len != 0)
            return hln_fail(err, HLN_EINVAL, "Expected 8 or 0 byte long for date (%zu)", len);
        return 0;
    case HLN_T_DOUBLE:
        if (len != 8 && len != 0)
            return hln_fail(err, HLN_EINVAL, "Expected 8 or 0 byte value for a double (%zu)", len);
        return 0;
    case HLN_T_FLOAT:
        if (len != 4 && len != 0)
            return hln_fail(err, HLN_EINVAL, "Expected 4 or 0 byte value for a float (%zu)", len);
        return 0;
    case HLN_T_BOOLEAN:
        if (len != 1 && len != 0)
            return hln_fail(err, HLN_EINVAL, "Expected 1 or 0 byte value (%zu)", len);
        return 0;
    case HLN_T_UUID:
    case HLN_T_TIMEUUID:
        if (len != 16 && len != 0)
            return hln_fail(err, HLN_EINVAL, "UUID should be 16 or 0 bytes (%zu)", len);
        if (t->kind == HLN_T_TIMEUUID && len == 16 && (v[6] & 0xF0) != 0x10)
            return hln_fail(err, HLN_EINVAL, "Invalid version for TimeUUID type.");
        return 0;
    case HLN_T_SMALLINT:
        if (len != 2)
            return hln_fail(err, HLN_EINVAL, "Expected 2 bytes for a smallint (%zu)", len);
        return 0;
    case HLN_T_TINYINT:
        if (len != 1) return hln_fail(err, HLN_EINVAL, "Expected 1 byte for a tinyint (%zu)", len);
        return 0;
    case HLN_T_DATE:
        if (len != 4) return hln_fail(err, HLN_EINVAL, "Expected 4 byte long for date (%zu)", len);
        return 0;
    case HLN_T_TIME: {
        if (len != 8) return hln_fail(err, HLN_EINVAL, "Expected 8 byte long for time (%zu)", len);
        int64_t ns = be64(v);
        if (ns < 0 || ns > INT64_C(86399999999999))
            return hln_fail(err, HLN_EINVAL,
                            "Time value must be between 0 and 86399999999999 nanoseconds (%lld)",
                            (long long)ns);
        return 0;
    }
    case HLN_T_LIST:
    case HLN_T_SET:
    case HLN_T_MAP:
        return hln_coll_validate(t, v, len, err);
    case HLN_T_VECTOR:
        return hln_vector_validate(t, v, len, err);
    case HLN_T_DECIMAL:
        if (len != 0 && len < 4)
            return hln_fail(err, HLN_EINVAL, "Expected 0 or at least 4 bytes (%zu)", len);
        return 0;
    case HLN_T_DURATION:
        return hln_duration_validate(v, len, err);
    case HLN_T_TUPLE:
    case HLN_T_UDT:
        return hln_tuple_validate(t, v, len, err);
    case HLN_T_INET:
        if (len != 0 && len != 4 && len != 16)
            return hln_fail(err, HLN_EINVAL, "Expected 4 or 16 byte inetaddress; got %zu bytes",
                            len);
        return 0;
    default:
        return hln_fail(err, HLN_EUNSUPPORTED, "Type %s is not supported yet",
                        t->cql_name ? t->cql_name : "?");
    }
}

/* Cassandra's marshal class of t (AbstractType.toString()), for custom
 * type options: "org.apache.cassandra.db.marshal.Int32Type",
 * "...ListType(...Int32Type)", "...FrozenType(...)", "...VectorType(...,3)". */
static void class_name(const hln_type *t, bool unfrozen, hln_buf *out);

void hln_type_class_name(const hln_type *t, hln_buf *out)
{
    class_name(t, false, out);
}

/* unfrozen: a vector's element, which Cassandra names without FrozenType */
static void class_name(const hln_type *t, bool unfrozen, hln_buf *out)
{
    static const struct {
        hln_type_kind k;
        const char *cls;
    } names[] = {
        {HLN_T_ASCII, "AsciiType"},
        {HLN_T_BIGINT, "LongType"},
        {HLN_T_BLOB, "BytesType"},
        {HLN_T_BOOLEAN, "BooleanType"},
        {HLN_T_COUNTER, "CounterColumnType"},
        {HLN_T_DECIMAL, "DecimalType"},
        {HLN_T_DOUBLE, "DoubleType"},
        {HLN_T_FLOAT, "FloatType"},
        {HLN_T_INT, "Int32Type"},
        {HLN_T_TIMESTAMP, "TimestampType"},
        {HLN_T_UUID, "UUIDType"},
        {HLN_T_VARCHAR, "UTF8Type"},
        {HLN_T_VARINT, "IntegerType"},
        {HLN_T_TIMEUUID, "TimeUUIDType"},
        {HLN_T_INET, "InetAddressType"},
        {HLN_T_DATE, "SimpleDateType"},
        {HLN_T_TIME, "TimeType"},
        {HLN_T_SMALLINT, "ShortType"},
        {HLN_T_TINYINT, "ByteType"},
        {HLN_T_DURATION, "DurationType"},
        {HLN_T_LIST, "ListType"},
        {HLN_T_SET, "SetType"},
        {HLN_T_MAP, "MapType"},
        {HLN_T_VECTOR, "VectorType"},
        {HLN_T_TUPLE, "TupleType"},
        {HLN_T_UDT, "UserType"},
    };
    const char *pfx = "org.apache.cassandra.db.marshal.";
    bool frozen = hln_type_is_collection(t) && t->frozen && !unfrozen;
    if (frozen) hln_buf_printf(out, "%sFrozenType(", pfx);
    const char *cls = "BytesType";
    for (size_t i = 0; i < HLN_ARRAY_LEN(names); i++)
        if (names[i].k == t->kind) cls = names[i].cls;
    hln_buf_printf(out, "%s%s", pfx, cls);
    if (t->nparams > 0) {
        hln_buf_u8(out, '(');
        for (int i = 0; i < t->nparams; i++) {
            if (i) hln_buf_u8(out, ',');
            class_name(t->params[i], t->kind == HLN_T_VECTOR, out);
        }
        if (t->kind == HLN_T_VECTOR) hln_buf_printf(out, ",%d", t->dim);
        hln_buf_u8(out, ')');
    }
    if (frozen) hln_buf_u8(out, ')');
}

void hln_type_encode_option(const hln_type *t, hln_buf *out)
{
    if (t->kind == HLN_T_VECTOR) {
        hln_buf cls;
        hln_buf_init(&cls);
        hln_type_class_name(t, &cls);
        hln_buf_u8(&cls, 0);
        hln_buf_u16(out, (uint16_t)HLN_T_CUSTOM);
        hln_buf_string(out, cls.err ? "" : (const char *)cls.data);
        hln_buf_free(&cls);
        return;
    }
    hln_buf_u16(out, (uint16_t)t->kind);
    switch (t->kind) {
    case HLN_T_CUSTOM:
        hln_buf_string(out, t->cql_name ? t->cql_name : "");
        break;
    case HLN_T_LIST:
    case HLN_T_SET:
    case HLN_T_MAP:
        /* element (and value) types follow, as params */
        for (int i = 0; i < t->nparams; i++)
            hln_type_encode_option(t->params[i], out);
        break;
    case HLN_T_TUPLE: /* [short n] then n [option]s */
        hln_buf_u16(out, (uint16_t)t->nparams);
        for (int i = 0; i < t->nparams; i++)
            hln_type_encode_option(t->params[i], out);
        break;
    case HLN_T_UDT: /* ks, name, [short n] then n (name, [option]) */
        hln_buf_string(out, hln_udt_ks(t));
        hln_buf_string(out, hln_udt_name(t));
        hln_buf_u16(out, (uint16_t)t->nparams);
        for (int i = 0; i < t->nparams; i++) {
            hln_buf_string(out, hln_udt_field(t, i));
            hln_type_encode_option(t->params[i], out);
        }
        break;
    default:
        break; /* scalars: the id alone; tuples/UDTs come with their issue */
    }
}

/* ---- partition keys (CompositeType) ------------------------------------ */

void hln_pk_compose(const uint8_t *const *vals, const size_t *lens, int n, hln_buf *out)
{
    if (n == 1) {
        hln_buf_put(out, vals[0], lens[0]);
        return;
    }
    /* The caller guarantees each component is at most 65535 bytes (Cassandra
     * rejects longer key components before hashing). */
    for (int i = 0; i < n; i++) {
        hln_buf_u16(out, (uint16_t)lens[i]);
        hln_buf_put(out, vals[i], lens[i]);
        hln_buf_u8(out, 0x00);
    }
}

int hln_pk_split(const uint8_t *key, size_t len, int n, const uint8_t **vals, size_t *lens)
{
    if (n < 1) return HLN_ECORRUPT;
    if (n == 1) {
        vals[0] = key;
        lens[0] = len;
        return 0;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (len - off < 2) return HLN_ECORRUPT;
        size_t l = (size_t)key[off] << 8 | key[off + 1];
        off += 2;
        if (len - off < l + 1) return HLN_ECORRUPT;
        vals[i] = key + off;
        lens[i] = l;
        off += l;
        if (key[off] != 0x00) return HLN_ECORRUPT;
        off++;
    }
    return off == len ? 0 : HLN_ECORRUPT;
}
