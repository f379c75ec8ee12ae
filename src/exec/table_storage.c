/*
 * table_storage.c — a table's CQL options as storage settings.
 *
 * What: the st_options.table_opts callback (storage.h) every shard's
 * storage calls when it decides something for a table: the codec of a new
 * sstable, the next compaction, what a compaction may purge. It reads the
 * current schema, so ALTER TABLE ... WITH compression / compaction /
 * gc_grace_seconds takes effect at storage's next decision, on every shard,
 * with no message to send.
 *
 * Mapping (Cassandra 5.0's option names; the values were validated and
 * normalised by schema/options.c when the table was created or altered):
 *   compression  class LZ4Compressor (default) / ZstdCompressor
 *                (compression_level, default 3) / SnappyCompressor /
 *                DeflateCompressor / NoopCompressor; {'enabled': 'false'}
 *                is none; chunk_length_in_kb (16), a power of two between
 *                4 and 1024 (rounded down into that range)
 *   compaction   class SizeTiered / Leveled / TimeWindow / Unified;
 *                enabled; min_threshold, max_threshold; TWCS
 *                compaction_window_unit (MINUTES, HOURS, DAYS) and
 *                compaction_window_size; LCS sstable_size_in_mb, fanout_size;
 *                UCS scaling_parameters (its first value); every
 *                strategy's tombstone_threshold (0.2),
 *                tombstone_compaction_interval (86400 s) and
 *                unchecked_tombstone_compaction (false)
 *   gc_grace_seconds
 * Anything unreadable keeps the default (it cannot be, after validation).
 *
 * Invariants: runs on a shard thread; takes and releases one schema
 * reference; allocates only from a stack arena it frees.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec/execInt.h"

static const char *kv(const hln_option *o, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(o[i].key, key) == 0) return o[i].value;
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static long long num(const char *v, long long def)
{
    if (!v || !*v) return def;
    char *end;
    long long x = strtoll(v, &end, 10);
    return *end ? def : x;
}

static void map_compression(hln_arena *a, const char *text, st_table_opts *o)
{
    hln_option *m;
    int n;
    if (!text || schema_map_parse(a, text, &m, &n) < 0) return;
    const char *en = kv(m, n, "enabled");
    const char *cls = kv(m, n, "class");
    if ((en && strcasecmp(en, "false") == 0) || !cls) {
        o->codec = ST_CODEC_NONE;
        return;
    }
    if (ends_with(cls, "ZstdCompressor")) {
        o->codec = ST_CODEC_ZSTD;
        o->level = (int)num(kv(m, n, "compression_level"), 3);
    } else if (ends_with(cls, "SnappyCompressor")) {
        o->codec = ST_CODEC_SNAPPY;
    } else if (ends_with(cls, "DeflateCompressor")) {
        o->codec = ST_CODEC_DEFLATE;
    } else if (ends_with(cls, "NoopCompressor")) {
        o->codec = ST_CODEC_NONE;
    } else {
        o->codec = ST_CODEC_LZ4;
    }
    long long kb = num(kv(m, n, "chunk_length_in_kb"), 16);
    if (kb < 4) kb = 4;
    if (kb > 1024) kb = 1024;
    uint32_t p = 4;
    while (p * 2 <= (uint32_t)kb)
        p *= 2;
    o->chunk_bytes = p * 1024;
}

static void map_compaction(hln_arena *a, const char *text, st_table_opts *o)
{
    hln_option *m;
    int n;
    if (!text || schema_map_parse(a, text, &m, &n) < 0) return;
    const char *cls = kv(m, n, "class");
    if (cls && ends_with(cls, "LeveledCompactionStrategy"))
        o->strategy = ST_LCS;
    else if (cls && ends_with(cls, "TimeWindowCompactionStrategy"))
        o->strategy = ST_TWCS;
    else if (cls && ends_with(cls, "UnifiedCompactionStrategy"))
        o->strategy = ST_UCS;
    else
        o->strategy = ST_STCS;
    const char *en = kv(m, n, "enabled");
    o->compaction_enabled = !(en && strcasecmp(en, "false") == 0);
    long long mn = num(kv(m, n, "min_threshold"), o->min_threshold);
    long long mx = num(kv(m, n, "max_threshold"), o->max_threshold);
    if (mn >= 2 && mn <= 1000000) o->min_threshold = (uint32_t)mn;
    if (mx >= o->min_threshold && mx <= 1000000) o->max_threshold = (uint32_t)mx;
    const char *unit = kv(m, n, "compaction_window_unit");
    long long size = num(kv(m, n, "compaction_window_size"), 1);
    int64_t us = 86400;
    if (unit && strcasecmp(unit, "MINUTES") == 0) us = 60;
    if (unit && strcasecmp(unit, "HOURS") == 0) us = 3600;
    if (size >= 1 && size <= 1000000) o->window_sec = us * size;
    long long mb = num(kv(m, n, "sstable_size_in_mb"), 160);
    if (mb >= 1 && mb <= 1000000) o->sstable_bytes = (uint64_t)mb << 20;
    long long f = num(kv(m, n, "fanout_size"), 10);
    if (f >= 2 && f <= 1000) o->fanout = (uint32_t)f;
    const char *tt = kv(m, n, "tombstone_threshold");
    if (tt) {
        char *end;
        double x = strtod(tt, &end);
        if (end != tt && *end == 0 && x >= 0) o->tombstone_threshold = x;
    }
    long long ti = num(kv(m, n, "tombstone_compaction_interval"), o->tombstone_interval_sec);
    if (ti >= 0) o->tombstone_interval_sec = ti;
    const char *un = kv(m, n, "unchecked_tombstone_compaction");
    o->unchecked_tombstone = un && strcasecmp(un, "true") == 0;
    const char *sp = kv(m, n, "scaling_parameters");
    if (sp && (sp[0] == 'T' || sp[0] == 'L' || sp[0] == 'N')) {
        long long x = strtoll(sp + 1, NULL, 10);
        o->scaling = sp[0] == 'T' ? (int)x - 2 : sp[0] == 'L' ? 2 - (int)x : 0;
    }
}

void ex_table_storage_opts(void *ud, const uint8_t table_id[16], st_table_opts *o)
{
    hln_engine *e = ud;
    hln_schema *s = catalog_acquire(e->catalog);
    if (!s) return;
    const hln_table *t = schema_table_by_id(s, table_id);
    if (t) {
        hln_arena a;
        hln_arena_init(&a, 1024);
        map_compression(&a, table_option(t, "compression"), o);
        map_compaction(&a, table_option(t, "compaction"), o);
        long long gc = num(table_option(t, "gc_grace_seconds"), o->gc_grace_sec);
        if (gc >= 0) o->gc_grace_sec = gc;
        hln_arena_free(&a);
    }
    schema_release(s);
}
