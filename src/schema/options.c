/*
 * options.c — table options (WITH ...) and keyspace replication options.
 *
 * What: turns the options the analyzer hands over (key/value strings) into
 * the option set a table keeps: Cassandra 5.0's defaults for every option
 * system_schema.tables shows, overridden by the given ones, validated and
 * normalised the way Cassandra normalises them (class names fully
 * qualified, compaction thresholds filled in, booleans as true/false, ...).
 *
 * Option values are strings. Map-valued options (caching, compaction,
 * compression, extensions) are CQL map literals with quoted keys and values,
 * "{'keys': 'ALL', 'rows_per_partition': 'NONE'}", keys sorted; the analyzer
 * passes maps in the same form (bare, unquoted values such as numbers are
 * accepted). See docs/formats/schema.md.
 *
 * Invariants:
 *  1. The result is sorted by key, every key is one Cassandra knows, and
 *     every value parses as the type of its system_schema.tables column.
 *  2. allow_auto_snapshot, incremental_backups and memtable are kept only
 *     when they differ from the default, and cdc only when given, as
 *     Cassandra writes them to system_schema.tables.
 */
#include "schema/schema_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- map literals ----------------------------------------------------- */

static void ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

/* A quoted string ('' escapes a quote) or a bare token. */
static char *map_token(hln_arena *a, const char **pp)
{
    const char *p = *pp;
    if (*p == '\'') {
        hln_buf b;
        hln_buf_init(&b);
        p++;
        for (;;) {
            if (*p == 0) {
                hln_buf_free(&b);
                return NULL;
            }
            if (*p == '\'') {
                if (p[1] == '\'') {
                    hln_buf_u8(&b, '\'');
                    p += 2;
                    continue;
                }
                p++;
                break;
            }
            hln_buf_u8(&b, (uint8_t)*p++);
        }
        char *s = b.err ? NULL : hln_arena_strndup(a, b.len ? (const char *)b.data : "", b.len);
        hln_buf_free(&b);
        *pp = p;
        return s;
    }
    const char *start = p;
    while (*p && *p != ',' && *p != ':' && *p != '}' && *p != ' ' && *p != '\'')
        p++;
    if (p == start) return NULL;
    *pp = p;
    return hln_arena_strndup(a, start, (size_t)(p - start));
}

static int kv_order(const void *pa, const void *pb)
{
    return strcmp(((const hln_option *)pa)->key, ((const hln_option *)pb)->key);
}

int schema_map_parse(hln_arena *a, const char *text, hln_option **out, int *n)
{
    const char *p = text;
    int cap = 0, cnt = 0;
    hln_option *kv = NULL;
    *out = NULL;
    *n = 0;
    if (!p) return HLN_EINVAL;
    ws(&p);
    if (*p++ != '{') return HLN_EINVAL;
    ws(&p);
    if (*p == '}') {
        p++;
    } else {
        for (;;) {
            ws(&p);
            char *k = map_token(a, &p);
            ws(&p);
            if (!k || *p++ != ':') return HLN_EINVAL;
            ws(&p);
            char *v = map_token(a, &p);
            if (!v) return HLN_EINVAL;
            int dup = -1;
            for (int i = 0; i < cnt; i++)
                if (strcmp(kv[i].key, k) == 0) dup = i;
            if (dup >= 0) {
                kv[dup].value = v; /* the last definition wins */
            } else {
                if (cnt == cap) {
                    int ncap = cap ? cap * 2 : 8;
                    hln_option *nkv = hln_arena_alloc(a, sizeof *nkv * (size_t)ncap);
                    if (!nkv) return HLN_ENOMEM;
                    if (cnt) memcpy(nkv, kv, sizeof *kv * (size_t)cnt);
                    kv = nkv;
                    cap = ncap;
                }
                kv[cnt].key = k;
                kv[cnt].value = v;
                cnt++;
            }
            ws(&p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '}') {
                p++;
                break;
            }
            return HLN_EINVAL;
        }
    }
    ws(&p);
    if (*p) return HLN_EINVAL;
    if (cnt > 1) qsort(kv, (size_t)cnt, sizeof *kv, kv_order);
    *out = kv;
    *n = cnt;
    return 0;
}

static void quote(hln_buf *b, const char *s)
{
    hln_buf_u8(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') hln_buf_u8(b, '\'');
        hln_buf_u8(b, (uint8_t)*s);
    }
    hln_buf_u8(b, '\'');
}

char *schema_map_format(hln_arena *a, const hln_option *kv, int n)
{
    hln_option *sorted = NULL;
    if (n > 0) {
        sorted = hln_arena_memdup(a, kv, sizeof *kv * (size_t)n);
        if (!sorted) return NULL;
        qsort(sorted, (size_t)n, sizeof *sorted, kv_order);
    }
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u8(&b, '{');
    for (int i = 0; i < n; i++) {
        if (i) hln_buf_put(&b, ", ", 2);
        quote(&b, sorted[i].key);
        hln_buf_put(&b, ": ", 2);
        quote(&b, sorted[i].value);
    }
    hln_buf_u8(&b, '}');
    char *s = b.err ? NULL : hln_arena_strndup(a, (const char *)b.data, b.len);
    hln_buf_free(&b);
    return s;
}

/* ---- helpers over small option lists ---------------------------------- */

static const char *kv_get(const hln_option *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0) return kv[i].value;
    return NULL;
}

/* Removes key from kv (order kept). */
static void kv_del(hln_option *kv, int *n, const char *key)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(kv[i].key, key) == 0) {
            memmove(&kv[i], &kv[i + 1], sizeof *kv * (size_t)(*n - i - 1));
            (*n)--;
            return;
        }
    }
}

/* Sets key (adding it if absent; kv must have room for one more). */
static void kv_set(hln_option *kv, int *n, char *key, char *value)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(kv[i].key, key) == 0) {
            kv[i].value = value;
            return;
        }
    }
    kv[*n].key = key;
    kv[*n].value = value;
    (*n)++;
}

/* A copy of kv with room for `extra` more entries. */
static hln_option *kv_grow(hln_arena *a, const hln_option *kv, int n, int extra)
{
    hln_option *d = hln_arena_alloc(a, sizeof *d * (size_t)(n + extra + 1));
    if (d && n) memcpy(d, kv, sizeof *d * (size_t)n);
    return d;
}

static bool parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || isspace((unsigned char)*s)) return false;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || isspace((unsigned char)*s)) return false;
    double v = strtod(s, &end);
    if (errno == ERANGE && v != 0) return false;
    if (*end) return false;
    *out = v;
    return true;
}

/* Shortest text that reads back as v, Java style ("1.0", "0.01"). */
static char *fmt_double(hln_arena *a, double v)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (isfinite(v) && !strpbrk(buf, ".eE")) strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    return hln_arena_strdup(a, buf);
}

static char *fmt_ll(hln_arena *a, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return hln_arena_strdup(a, buf);
}

/* Cassandra's PropertyDefinitions.getBoolean: 1, true or yes (any case). */
static bool truthy(const char *s)
{
    return strcasecmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0;
}

/* ---- table options ---------------------------------------------------- */

typedef enum optkind {
    O_TEXT,
    O_INT,
    O_DOUBLE,
    O_BOOL,
    O_CACHING,
    O_COMPACTION,
    O_COMPRESSION,
    O_EXTENSIONS,
    O_READ_REPAIR,
    O_MEMTABLE,
    O_IGNORED, /* accepted for compatibility, not kept */
} optkind;

typedef struct optdef {
    const char *key;
    const char *def; /* NULL: not kept unless given */
    optkind kind;
} optdef;

#define STCS "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy"

/* Sorted by key. */
static const optdef OPTS[] = {
    {"additional_write_policy", "99p", O_TEXT},
    {"allow_auto_snapshot", NULL, O_BOOL},
    {"bloom_filter_fp_chance", "0.01", O_DOUBLE},
    {"caching", "{'keys': 'ALL', 'rows_per_partition': 'NONE'}", O_CACHING},
    {"cdc", NULL, O_BOOL},
    {"comment", "", O_TEXT},
    {"compaction", "{'class': '" STCS "', 'max_threshold': '32', 'min_threshold': '4'}",
     O_COMPACTION},
    {"compression",
     "{'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}",
     O_COMPRESSION},
    {"crc_check_chance", "1.0", O_DOUBLE},
    {"dclocal_read_repair_chance", NULL, O_IGNORED},
    {"default_time_to_live", "0", O_INT},
    {"extensions", "{}", O_EXTENSIONS},
    {"gc_grace_seconds", "864000", O_INT},
    {"id", NULL, O_IGNORED}, /* handled by the catalog */
    {"incremental_backups", NULL, O_BOOL},
    {"max_index_interval", "2048", O_INT},
    {"memtable", NULL, O_MEMTABLE},
    {"memtable_flush_period_in_ms", "0", O_INT},
    {"min_index_interval", "128", O_INT},
    {"read_repair", "BLOCKING", O_READ_REPAIR},
    {"read_repair_chance", NULL, O_IGNORED},
    {"speculative_retry", "99p", O_TEXT},
};

static const optdef *find_opt(const char *key)
{
    for (size_t i = 0; i < HLN_ARRAY_LEN(OPTS); i++)
        if (strcmp(OPTS[i].key, key) == 0) return &OPTS[i];
    return NULL;
}

static const char *const COMPACTION_CLASSES[] = {
    "SizeTieredCompactionStrategy",
    "LeveledCompactionStrategy",
    "TimeWindowCompactionStrategy",
    "UnifiedCompactionStrategy",
};
static const char *const COMPRESSORS[] = {
    "LZ4Compressor", "SnappyCompressor", "DeflateCompressor", "ZstdCompressor", "NoopCompressor",
};

/* Expands a short class name with pkg; checks it is one of known[]. NULL if
 * not known. */
static char *qualify(hln_arena *a, const char *cls, const char *pkg, const char *const *known,
                     size_t nknown)
{
    char buf[256];
    if (strchr(cls, '.'))
        snprintf(buf, sizeof buf, "%s", cls);
    else
        snprintf(buf, sizeof buf, "%s.%s", pkg, cls);
    size_t pl = strlen(pkg);
    if (strncmp(buf, pkg, pl) != 0 || buf[pl] != '.') return NULL;
    for (size_t i = 0; i < nknown; i++)
        if (strcmp(buf + pl + 1, known[i]) == 0) return hln_arena_strdup(a, buf);
    return NULL;
}

static int map_arg(hln_arena *a, const char *key, const char *value, hln_option **kv, int *n,
                   hln_error *err)
{
    int rc = schema_map_parse(a, value, kv, n);
    if (rc == HLN_ENOMEM) return rc;
    if (rc < 0)
        return hln_fail(err, HLN_ESYNTAX, "Invalid value for property '%s'. It should be a map.",
                        key);
    return 0;
}

/* ---- the strategies' sub-options (Cassandra 5.0's validateOptions) ---- */

/* Java's Integer.parseInt / Long.parseLong: [+-]digits, nothing else. */
static bool java_int(const char *s, long long lo, long long hi, long long *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!*p) return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return false;
    return parse_int(s, lo, hi, out);
}

/* Java's Float.parseFloat: white space around, NaN, Infinity, decimal
 * forms with an optional exponent and f/F/d/D suffix (hex forms aside). */
static bool java_float(const char *s, double *out)
{
    while (*s && (unsigned char)*s <= ' ')
        s++;
    size_t n = strlen(s);
    while (n && (unsigned char)s[n - 1] <= ' ')
        n--;
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *p = buf + (buf[0] == '+' || buf[0] == '-');
    if (!strcmp(p, "NaN") || !strcmp(p, "Infinity")) {
        *out = !strcmp(p, "NaN") ? NAN : buf[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (n > 1 && strchr("fFdD", buf[n - 1])) buf[--n] = 0;
    bool digits = false;
    const char *q = p;
    while (isdigit((unsigned char)*q))
        q++, digits = true;
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q))
            q++, digits = true;
    }
    if (!digits) return false;
    if (*q == 'e' || *q == 'E') {
        q++;
        q += *q == '+' || *q == '-';
        if (!isdigit((unsigned char)*q)) return false;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (*q) return false;
    *out = strtod(buf, NULL);
    return true;
}

static int not_int(hln_error *err, const char *v, const char *key)
{
    return hln_fail(err, HLN_ECONFIG, "%s is not a parsable int (base10) for %s", v, key);
}

/* Java's String.hashCode, spread as HashMap spreads it. */
static uint32_t java_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = 31 * h + (uint32_t)(unsigned char)*s;
    return h ^ (h >> 16);
}

/* The options of d[0..n) no strategy of class cls understands: Cassandra's
 * error lists them as its HashMap iterates them (by bucket of a table
 * sized for the user's options). */
static int unknown_options(const char *cls, const hln_option *d, int n, hln_error *err)
{
    static const char *const common[] = {"class",
                                         "enabled",
                                         "min_threshold",
                                         "max_threshold",
                                         "tombstone_threshold",
                                         "tombstone_compaction_interval",
                                         "unchecked_tombstone_compaction",
                                         "log_all",
                                         "only_purge_repaired_tombstones",
                                         "provide_overlapping_tombstones"};
    static const char *const stcs[] = {"min_sstable_size", "bucket_low", "bucket_high"};
    static const char *const lcs[] = {"sstable_size_in_mb", "fanout_size",
                                      "single_sstable_uplevel"};
    static const char *const twcs[] = {
        "compaction_window_unit", "compaction_window_size", "timestamp_resolution",
        "expired_sstable_check_frequency_seconds", "unsafe_aggressive_sstable_expiration"};
    static const char *const ucs[] = {"scaling_parameters",
                                      "target_sstable_size",
                                      "base_shard_count",
                                      "min_sstable_size",
                                      "flush_size_override",
                                      "max_sstables_to_compact",
                                      "sstable_growth",
                                      "expired_sstable_check_frequency_seconds",
                                      "unsafe_aggressive_sstable_expiration",
                                      "overlap_inclusion_method",
                                      "survival_factor"};
    bool is_lcs = strstr(cls, "Leveled") != NULL, is_twcs = strstr(cls, "TimeWindow") != NULL,
         is_ucs = strstr(cls, "Unified") != NULL;
    const char *bad[64];
    uint32_t bucket[64];
    int nb = 0, nuser = 0;
    for (int i = 0; i < n; i++)
        nuser += strcmp(d[i].key, "class") != 0;
    uint32_t cap = 1;
    while ((double)cap < (double)nuser / 0.75 + 1)
        cap <<= 1;
    for (int i = 0; i < n && nb < 64; i++) {
        const char *k = d[i].key;
        bool known = false;
        for (size_t j = 0; j < HLN_ARRAY_LEN(common) && !known; j++)
            known = !strcmp(k, common[j]);
        for (size_t j = 0; !is_ucs && j < HLN_ARRAY_LEN(stcs) && !known; j++)
            known = !strcmp(k, stcs[j]);
        for (size_t j = 0; is_lcs && j < HLN_ARRAY_LEN(lcs) && !known; j++)
            known = !strcmp(k, lcs[j]);
        for (size_t j = 0; is_twcs && j < HLN_ARRAY_LEN(twcs) && !known; j++)
            known = !strcmp(k, twcs[j]);
        for (size_t j = 0; is_ucs && j < HLN_ARRAY_LEN(ucs) && !known; j++)
            known = !strcmp(k, ucs[j]);
        if (known) continue;
        /* insertion by bucket, keeping the user's order within one */
        uint32_t b = java_hash(k) & (cap - 1);
        int at = nb;
        while (at > 0 && bucket[at - 1] > b)
            at--;
        memmove(bad + at + 1, bad + at, sizeof *bad * (size_t)(nb - at));
        memmove(bucket + at + 1, bucket + at, sizeof *bucket * (size_t)(nb - at));
        bad[at] = k;
        bucket[at] = b;
        nb++;
    }
    if (!nb) return 0;
    char list[512];
    size_t off = 0;
    for (int i = 0; i < nb && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", bad[i]);
    const char *simple = strrchr(cls, '.');
    return hln_fail(err, HLN_ECONFIG, "Properties specified [%s] are not understood by %s", list,
                    simple ? simple + 1 : cls);
}

/* The values of the sub-options Cassandra checks, with its messages. */
static int check_strategy_options(const char *cls, const hln_option *d, int n, hln_error *err)
{
    const char *v;
    double f;
    long long x;
    if ((v = kv_get(d, n, "tombstone_threshold"))) {
        if (!java_float(v, &f)) return not_int(err, v, "tombstone_threshold");
        if (f < 0)
            return hln_fail(err, HLN_ECONFIG,
                            "tombstone_threshold must be greater than 0, but was %f",
                            (double)(float)f);
    }
    if ((v = kv_get(d, n, "tombstone_compaction_interval"))) {
        if (!java_int(v, INT64_MIN, INT64_MAX, &x))
            return not_int(err, v, "tombstone_compaction_interval");
        if (x < 0)
            return hln_fail(err, HLN_ECONFIG,
                            "tombstone_compaction_interval must be greater than 0, but was %lld",
                            x);
    }
    if ((v = kv_get(d, n, "unchecked_tombstone_compaction")) && strcasecmp(v, "true") != 0 &&
        strcasecmp(v, "false") != 0)
        return hln_fail(err, HLN_ECONFIG,
                        "'unchecked_tombstone_compaction' should be either 'true' or 'false', not "
                        "'%s'",
                        v);
    if (strstr(cls, "Leveled")) {
        if ((v = kv_get(d, n, "sstable_size_in_mb"))) {
            if (!java_int(v, INT32_MIN, INT32_MAX, &x))
                return not_int(err, v, "sstable_size_in_mb");
            if (x <= 0)
                return hln_fail(err, HLN_ECONFIG,
                                "sstable_size_in_mb must be larger than 0, but was %lld", x);
        }
        if ((v = kv_get(d, n, "fanout_size"))) {
            if (!java_int(v, INT32_MIN, INT32_MAX, &x)) return not_int(err, v, "fanout_size");
            if (x <= 0)
                return hln_fail(err, HLN_ECONFIG, "fanout_size must be larger than 0, but was %lld",
                                x);
        }
    }
    if (strstr(cls, "TimeWindow")) {
        if ((v = kv_get(d, n, "compaction_window_unit")) && strcmp(v, "MINUTES") != 0 &&
            strcmp(v, "HOURS") != 0 && strcmp(v, "DAYS") != 0)
            return hln_fail(err, HLN_ECONFIG, "%s is not valid for compaction_window_unit", v);
        if ((v = kv_get(d, n, "compaction_window_size"))) {
            if (!java_int(v, INT32_MIN, INT32_MAX, &x))
                return not_int(err, v, "compaction_window_size");
            if (x < 1)
                return hln_fail(err, HLN_ECONFIG,
                                "%s must be greater than 1 for compaction_window_size", v);
        }
    }
    if (strstr(cls, "Unified") && (v = kv_get(d, n, "scaling_parameters"))) {
        /* each comma-separated value: N | L<digits> | T<digits> | [+-]<digits> */
        const char *p = v;
        while (*p) {
            while (*p == ' ')
                p++;
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            while (len && p[len - 1] == ' ')
                len--;
            bool ok = len > 0;
            size_t i = 0;
            if (ok && len == 1 && p[0] == 'N') {
                i = 1;
            } else if (ok) {
                if (p[0] == 'L' || p[0] == 'T' || p[0] == '+' || p[0] == '-') i = 1;
                ok = i < len;
                for (size_t j = i; ok && j < len; j++)
                    ok = isdigit((unsigned char)p[j]);
                i = len;
            }
            if (!ok || i != len)
                return hln_fail(err, HLN_ECONFIG,
                                "Scaling parameter %.*s must match N|L[0-9]+|T[0-9]+|[+-]?[0-9]+",
                                (int)len, p);
            if (!e) break;
            p = e + 1;
        }
    }
    return unknown_options(cls, d, n, err);
}

static int norm_compaction(hln_arena *a, const char *value, char **out, bool *lcs, hln_error *err)
{
    hln_option *kv;
    int n;
    int rc = map_arg(a, "compaction", value, &kv, &n, err);
    if (rc < 0) return rc;
    const char *cls = kv_get(kv, n, "class");
    if (!cls)
        return hln_fail(err, HLN_ECONFIG, "Missing sub-option 'class' for the 'compaction' option");
    char *q = qualify(a, cls, "org.apache.cassandra.db.compaction", COMPACTION_CLASSES,
                      HLN_ARRAY_LEN(COMPACTION_CLASSES));
    if (!q) {
        char full[256];
        snprintf(full, sizeof full, "%s%s",
                 strchr(cls, '.') ? "" : "org.apache.cassandra.db.compaction.", cls);
        return hln_fail(err, HLN_ECONFIG, "Unable to find compaction strategy class '%s'", full);
    }
    hln_option *d = kv_grow(a, kv, n, 3);
    if (!d) return HLN_ENOMEM;
    kv_set(d, &n, "class", q);
    *lcs = strstr(q, ".LeveledCompactionStrategy") != NULL;
    bool thresholds = strstr(q, ".UnifiedCompactionStrategy") == NULL;
    if (thresholds) {
        if (!kv_get(d, n, "min_threshold")) kv_set(d, &n, "min_threshold", "4");
        if (!kv_get(d, n, "max_threshold")) kv_set(d, &n, "max_threshold", "32");
    }
    long long mn = 4, mx = 32;
    const char *names[2] = {"min_threshold", "max_threshold"};
    for (int i = 0; i < 2; i++) {
        const char *v = kv_get(d, n, names[i]);
        long long x;
        if (!v) continue;
        bool numeric = *v != 0;
        for (const char *p = v; *p; p++)
            if (!isdigit((unsigned char)*p)) numeric = false;
        if (!numeric || !parse_int(v, 0, 2147483647LL, &x))
            return hln_fail(err, HLN_ECONFIG,
                            "Invalid value %s for '%s' compaction sub-option - must be an integer",
                            v, names[i]);
        if (i == 0)
            mn = x;
        else
            mx = x;
    }
    if (mn <= 0 || mx <= 0)
        return hln_fail(err, HLN_ECONFIG,
                        "Disabling compaction by setting compaction thresholds to 0 has been "
                        "removed, set the compaction option 'enabled' to false instead.");
    if (mn <= 1)
        return hln_fail(err, HLN_ECONFIG,
                        "Min compaction threshold cannot be less than 2 (got %lld)", mn);
    if (mn > mx)
        return hln_fail(err, HLN_ECONFIG,
                        "Min compaction threshold (got %lld) cannot be greater than max compaction "
                        "threshold (got %lld)",
                        mn, mx);
    if ((rc = check_strategy_options(q, d, n, err)) < 0) return rc;
    *out = schema_map_format(a, d, n);
    return *out ? 0 : HLN_ENOMEM;
}

static int norm_compression(hln_arena *a, const char *value, char **out, hln_error *err)
{
    hln_option *kv;
    int n;
    int rc = map_arg(a, "compression", value, &kv, &n, err);
    if (rc < 0) return rc;
    hln_option *d = kv_grow(a, kv, n, 2);
    if (!d) return HLN_ENOMEM;
    const char *en = kv_get(d, n, "enabled");
    bool enabled = !en || strcasecmp(en, "true") == 0;
    if (n > 0 && enabled && !kv_get(d, n, "class"))
        return hln_fail(err, HLN_ECONFIG,
                        "Missing sub-option 'class' for the 'compression' option.");
    kv_del(d, &n, "enabled");
    if (!enabled && n > 0)
        return hln_fail(
            err, HLN_ECONFIG,
            "If the 'enabled' option is set to false no other options must be specified");
    if (n == 0) {
        /* {} or {'enabled': false}: no compression */
        static const hln_option off = {"enabled", "false"};
        *out = schema_map_format(a, &off, 1);
        return *out ? 0 : HLN_ENOMEM;
    }
    const char *cls = kv_get(d, n, "class");
    if (!*cls)
        return hln_fail(err, HLN_ECONFIG,
                        "The 'class' option must not be empty. To disable compression use "
                        "'enabled' : false");
    char *q = qualify(a, cls, "org.apache.cassandra.io.compress", COMPRESSORS,
                      HLN_ARRAY_LEN(COMPRESSORS));
    if (!q) {
        char full[256];
        snprintf(full, sizeof full, "%s%s",
                 strchr(cls, '.') ? "" : "org.apache.cassandra.io.compress.", cls);
        return hln_fail(err, HLN_ECONFIG, "Could not create Compression for type %s", full);
    }
    kv_set(d, &n, "class", q);
    const char *cl = kv_get(d, n, "chunk_length_in_kb");
    if (!cl) {
        kv_set(d, &n, "chunk_length_in_kb", "16");
    } else {
        long long x;
        if (!parse_int(cl, -2147483648LL, 2147483647LL, &x))
            return hln_fail(err, HLN_ECONFIG, "Invalid value for chunk_length_in_kb");
        if (x > 2147483647LL / 1024)
            return hln_fail(err, HLN_ECONFIG, "Value of chunk_length_in_kb is too large (%lld)", x);
        if (x <= 0)
            return hln_fail(err, HLN_ECONFIG, "Invalid negative or null chunk_length_in_kb");
        if (x & (x - 1))
            return hln_fail(err, HLN_ECONFIG, "chunk_length_in_kb must be a power of 2");
    }
    *out = schema_map_format(a, d, n);
    return *out ? 0 : HLN_ENOMEM;
}

static int norm_caching(hln_arena *a, const char *value, char **out, hln_error *err)
{
    hln_option *kv;
    int n;
    int rc = map_arg(a, "caching", value, &kv, &n, err);
    if (rc < 0) return rc;
    hln_option *d = kv_grow(a, kv, n, 2);
    if (!d) return HLN_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (strcmp(d[i].key, "keys") != 0 && strcmp(d[i].key, "rows_per_partition") != 0)
            return hln_fail(err, HLN_ECONFIG,
                            "Invalid caching sub-options %s: only 'keys' and 'rows_per_partition' "
                            "are allowed",
                            value);
    }
    const char *keys = kv_get(d, n, "keys");
    if (!keys) {
        kv_set(d, &n, "keys", "ALL");
    } else if (strcasecmp(keys, "ALL") == 0 || strcasecmp(keys, "NONE") == 0) {
        kv_set(d, &n, "keys", strcasecmp(keys, "ALL") == 0 ? "ALL" : "NONE");
    } else {
        return hln_fail(err, HLN_ECONFIG,
                        "Invalid value '%s' for caching sub-option 'keys': only 'ALL' and 'NONE' "
                        "are accepted",
                        keys);
    }
    const char *rows = kv_get(d, n, "rows_per_partition");
    long long x;
    if (!rows) {
        kv_set(d, &n, "rows_per_partition", "NONE");
    } else if (strcasecmp(rows, "ALL") == 0 || strcasecmp(rows, "NONE") == 0) {
        kv_set(d, &n, "rows_per_partition", strcasecmp(rows, "ALL") == 0 ? "ALL" : "NONE");
    } else if (!parse_int(rows, 0, 2147483647LL, &x)) {
        return hln_fail(err, HLN_ECONFIG,
                        "Invalid value '%s' for caching sub-option 'rows_per_partition': only "
                        "'ALL', 'NONE' or a positive integer are accepted",
                        rows);
    }
    *out = schema_map_format(a, d, n);
    return *out ? 0 : HLN_ENOMEM;
}

static int norm_extensions(hln_arena *a, const char *value, char **out, hln_error *err)
{
    hln_option *kv;
    int n;
    int rc = map_arg(a, "extensions", value, &kv, &n, err);
    if (rc < 0) return rc;
    for (int i = 0; i < n; i++) {
        const char *v = kv[i].value;
        bool ok = (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) && strlen(v) % 2 == 0;
        for (const char *p = v + 2; ok && *p; p++)
            ok = isxdigit((unsigned char)*p) != 0;
        if (!ok)
            return hln_fail(
                err, HLN_ESYNTAX,
                "Invalid value for property 'extensions': values must be blobs (0x...)");
    }
    *out = schema_map_format(a, kv, n);
    return *out ? 0 : HLN_ENOMEM;
}

/* TableParams.validate's range checks. */
static int check_range(const char *key, const char *text, double v, hln_error *err)
{
    if (strcmp(key, "bloom_filter_fp_chance") == 0 && (v <= 6.71e-05 || v > 1))
        return hln_fail(err, HLN_ECONFIG,
                        "bloom_filter_fp_chance must be larger than 6.71E-5 and less than or equal "
                        "to 1.0 (got %s)",
                        text);
    if (strcmp(key, "crc_check_chance") == 0 && (v < 0 || v > 1))
        return hln_fail(err, HLN_ECONFIG,
                        "crc_check_chance must be larger than or equal to 0 and smaller than or "
                        "equal to 1.0 (got %s)",
                        text);
    if ((strcmp(key, "default_time_to_live") == 0 || strcmp(key, "gc_grace_seconds") == 0 ||
         strcmp(key, "memtable_flush_period_in_ms") == 0) &&
        v < 0)
        return hln_fail(err, HLN_ECONFIG, "%s must be greater than or equal to 0 (got %s)", key,
                        text);
    if (strcmp(key, "default_time_to_live") == 0 && v > 630720000)
        return hln_fail(err, HLN_ECONFIG, "%s must be less than or equal to %d (got %s)", key,
                        630720000, text);
    if (strcmp(key, "min_index_interval") == 0 && v < 1)
        return hln_fail(err, HLN_ECONFIG, "%s must be greater than or equal to 1 (got %s)", key,
                        text);
    return 0;
}

int schema_table_options(hln_arena *a, const hln_option *given, int ngiven, bool has_counters,
                         hln_option **out, int *nout, hln_error *err)
{
    const char *val[HLN_ARRAY_LEN(OPTS)] = {0};
    bool set[HLN_ARRAY_LEN(OPTS)] = {0};
    bool lcs = false;

    for (int i = 0; i < ngiven; i++) {
        const optdef *d = find_opt(given[i].key);
        if (!d) return hln_fail(err, HLN_ESYNTAX, "Unknown property '%s'", given[i].key);
        size_t idx = (size_t)(d - OPTS);
        if (set[idx])
            return hln_fail(err, HLN_ESYNTAX, "Multiple definitions for property '%s'", d->key);
        set[idx] = true;
        val[idx] = given[i].value ? given[i].value : "";
    }

    hln_option *o = hln_arena_alloc(a, sizeof *o * HLN_ARRAY_LEN(OPTS));
    if (!o) return HLN_ENOMEM;
    int n = 0;
    long long min_ii = 128, max_ii = 2048;
    for (size_t i = 0; i < HLN_ARRAY_LEN(OPTS); i++) {
        const optdef *d = &OPTS[i];
        const char *v = set[i] ? val[i] : d->def;
        char *nv = NULL;
        long long x;
        double dv;
        int rc;
        if (d->kind == O_IGNORED || !v) continue;
        switch (d->kind) {
        case O_TEXT:
            nv = hln_arena_strdup(a, v);
            break;
        case O_INT:
            if (!parse_int(v, -2147483648LL, 2147483647LL, &x))
                return hln_fail(err, HLN_ESYNTAX, "Invalid integer value %s for '%s'", v, d->key);
            if ((rc = check_range(d->key, v, (double)x, err)) < 0) return rc;
            if (strcmp(d->key, "min_index_interval") == 0) min_ii = x;
            if (strcmp(d->key, "max_index_interval") == 0) max_ii = x;
            if (strcmp(d->key, "default_time_to_live") == 0 && x > 0 && has_counters)
                return hln_fail(err, HLN_EINVAL,
                                "Cannot set default_time_to_live on a table with counters");
            nv = fmt_ll(a, x);
            break;
        case O_DOUBLE:
            if (!parse_double(v, &dv))
                return hln_fail(err, HLN_ESYNTAX, "Invalid double value %s for '%s'", v, d->key);
            if ((rc = check_range(d->key, v, dv, err)) < 0) return rc;
            nv = fmt_double(a, dv);
            break;
        case O_BOOL:
            /* allow_auto_snapshot / incremental_backups: kept only when false */
            if (truthy(v) && strcmp(d->key, "cdc") != 0) continue;
            nv = hln_arena_strdup(a, truthy(v) ? "true" : "false");
            break;
        case O_CACHING:
            if ((rc = norm_caching(a, v, &nv, err)) < 0) return rc;
            break;
        case O_COMPACTION:
            if ((rc = norm_compaction(a, v, &nv, &lcs, err)) < 0) return rc;
            break;
        case O_COMPRESSION:
            if ((rc = norm_compression(a, v, &nv, err)) < 0) return rc;
            break;
        case O_EXTENSIONS:
            if ((rc = norm_extensions(a, v, &nv, err)) < 0) return rc;
            break;
        case O_READ_REPAIR:
            if (strcasecmp(v, "BLOCKING") == 0)
                nv = hln_arena_strdup(a, "BLOCKING");
            else if (strcasecmp(v, "NONE") == 0)
                nv = hln_arena_strdup(a, "NONE");
            else
                return hln_fail(err, HLN_ECONFIG, "Invalid value '%s' for option 'read_repair'", v);
            break;
        case O_MEMTABLE:
            if (strcmp(v, "default") == 0) continue; /* the default memtable is not written */
            nv = hln_arena_strdup(a, v);
            break;
        case O_IGNORED:
            continue;
        }
        if (!nv) return HLN_ENOMEM;
        o[n].key = (char *)d->key;
        o[n].value = nv;
        n++;
    }
    if (max_ii < min_ii)
        return hln_fail(err, HLN_ECONFIG,
                        "max_index_interval must be greater than or equal to min_index_interval "
                        "(%lld) (got %lld)",
                        min_ii, max_ii);
    /* LeveledCompactionStrategy's default bloom filter chance is 0.1 */
    if (lcs && !set[find_opt("bloom_filter_fp_chance") - OPTS]) {
        for (int i = 0; i < n; i++)
            if (strcmp(o[i].key, "bloom_filter_fp_chance") == 0)
                o[i].value = hln_arena_strdup(a, "0.1");
    }
    for (int i = 0; i < n; i++) {
        o[i].key = hln_arena_strdup(a, o[i].key);
        if (!o[i].key || !o[i].value) return HLN_ENOMEM;
    }
    *out = o;
    *nout = n;
    return 0;
}

/* ---- replication ------------------------------------------------------ */

static int check_rf(const char *v, hln_error *err)
{
    long long x;
    bool digits = *v != 0;
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p) && !(p == v && *p == '-')) digits = false;
    if (!digits || !parse_int(v, -2147483648LL, 2147483647LL, &x))
        /* Cassandra passes Java's NumberFormatException text through */
        return hln_fail(err, HLN_ECONFIG, "For input string: \"%s\"", v);
    if (x < 0)
        return hln_fail(err, HLN_ECONFIG, "Replication factor must be non-negative; found %s", v);
    return 0;
}

int schema_replication(hln_arena *a, const char *ks, const hln_option *given, int ngiven,
                       hln_option **out, int *nout, hln_error *err)
{
    const char *cls = kv_get(given, ngiven, "class");
    if (!cls) return hln_fail(err, HLN_ECONFIG, "Missing replication strategy class");
    char full[256];
    snprintf(full, sizeof full, "%s%s", strchr(cls, '.') ? "" : "org.apache.cassandra.locator.",
             cls);
    if (strcmp(full, "org.apache.cassandra.locator.LocalStrategy") == 0)
        return hln_fail(
            err, HLN_EINVAL,
            "Unable to use given strategy class: LocalStrategy is reserved for internal "
            "use.");
    if (strcmp(full, "org.apache.cassandra.locator.OldNetworkTopologyStrategy") == 0)
        return hln_fail(err, HLN_ECONFIG,
                        "The support for the OldNetworkTopologyStrategy has been removed in C* "
                        "version 4.0. The keyspace strategy should be switch to "
                        "NetworkTopologyStrategy");
    bool simple = strcmp(full, "org.apache.cassandra.locator.SimpleStrategy") == 0;
    bool nts = strcmp(full, "org.apache.cassandra.locator.NetworkTopologyStrategy") == 0;
    if (!simple && !nts)
        return hln_fail(err, HLN_ECONFIG, "Unable to find replication strategy class '%s'", full);

    hln_option *o = hln_arena_alloc(a, sizeof *o * (size_t)(ngiven + 1));
    if (!o) return HLN_ENOMEM;
    int n = 0;
    o[n].key = hln_arena_strdup(a, "class");
    o[n].value = hln_arena_strdup(a, full);
    if (!o[n].key || !o[n].value) return HLN_ENOMEM;
    n++;
    for (int i = 0; i < ngiven; i++) {
        if (strcmp(given[i].key, "class") == 0) continue;
        const char *v = given[i].value ? given[i].value : "";
        if (simple && strcmp(given[i].key, "replication_factor") != 0)
            return hln_fail(err, HLN_ECONFIG,
                            "Unrecognized strategy option {%s} passed to SimpleStrategy for "
                            "keyspace %s",
                            given[i].key, ks);
        int rc = check_rf(v, err);
        if (rc < 0) return rc;
        bool dup = false;
        for (int j = 1; j < n; j++)
            if (strcmp(o[j].key, given[i].key) == 0) {
                o[j].value = hln_arena_strdup(a, v);
                dup = true;
            }
        if (dup) continue;
        o[n].key = hln_arena_strdup(a, given[i].key);
        o[n].value = hln_arena_strdup(a, v);
        if (!o[n].key || !o[n].value) return HLN_ENOMEM;
        n++;
    }
    if (simple && n == 1) {
        /* Cassandra 5.0 fills in default_keyspace_rf (1) */
        o[n].key = hln_arena_strdup(a, "replication_factor");
        o[n].value = hln_arena_strdup(a, "1");
        if (!o[n].key || !o[n].value) return HLN_ENOMEM;
        n++;
    }
    if (n > 2) qsort(o + 1, (size_t)(n - 1), sizeof *o, kv_order);
    *out = o;
    *nout = n;
    return 0;
}
