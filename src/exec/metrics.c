/*
 * metrics.c — request latencies per table, per shard.
 *
 * What: each shard keeps, for every table it served, six latency
 * histograms: coordinator read / write / scan (a statement, from the
 * moment exec starts it to its answer: Cassandra's coordinator_*_latency)
 * and local read / write / scan (the storage operation on the shard that
 * owns the data: local_*_latency). system_views, `helenus admin
 * tablehistograms` and /metrics read them.
 *
 * Why per shard and unlocked: the request path only touches its own
 * shard's map, so recording is a few arithmetic operations and no atomic;
 * readers run on the shard's thread too (an EX_OP_STATS op, or the admin
 * port's run on every shard) and merge shards afterwards.
 *
 * Histograms: microsecond values in log-linear buckets (values below 8 µs
 * exact, then four buckets per power of two: at most 19% wide), so a
 * percentile is reported as its bucket's midpoint. "Recent" figures, as
 * Cassandra's decaying reservoirs, cover the current and the previous
 * minute: every 60 s the current histogram becomes the previous one.
 * Counts since start are kept beside them.
 *
 * Invariants:
 *  1. Only s's thread touches s->metrics (record, get, free).
 *  2. An entry, once made, lives until the shard stops (a dropped table's
 *     figures stay; its id is never reused).
 */
#include <string.h>

#include "exec/execInt.h"

#define WINDOW_NS (60 * INT64_C(1000000000))

typedef struct mx_entry {
    uint8_t id[16];
    int64_t created, cur_start; /* mono ns */
    ex_hist cur[EX_LAT_KINDS], prev[EX_LAT_KINDS];
    uint64_t total[EX_LAT_KINDS];
} mx_entry;

typedef struct mx_map {
    mx_entry **slots; /* open addressing, cap a power of two */
    size_t cap, n;
    mx_entry *last; /* the last one looked up: most requests repeat a table */
} mx_map;

/* ---- histograms ---------------------------------------------------------- */

static int bucket_of(uint64_t us)
{
    if (us < 8) return (int)us;
    int e = 63 - __builtin_clzll(us); /* >= 3 */
    int i = 8 + (e - 3) * 4 + (int)((us >> (e - 2)) & 3);
    return i < EX_HIST_BUCKETS ? i : EX_HIST_BUCKETS - 1;
}

/* [lo, hi) of bucket i, in µs */
static void bucket_range(int i, double *lo, double *hi)
{
    if (i < 8) {
        *lo = i;
        *hi = i + 1;
        return;
    }
    int e = 3 + (i - 8) / 4, sub = (i - 8) % 4;
    double base = (double)(UINT64_C(1) << e), step = base / 4;
    *lo = base + sub * step;
    *hi = *lo + step;
}

void ex_hist_add(ex_hist *h, uint64_t us)
{
    h->b[bucket_of(us)]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us) h->max_us = us;
}

void ex_hist_merge(ex_hist *into, const ex_hist *h)
{
    for (int i = 0; i < EX_HIST_BUCKETS; i++)
        into->b[i] += h->b[i];
    into->count += h->count;
    into->sum_us += h->sum_us;
    if (h->max_us > into->max_us) into->max_us = h->max_us;
}

double ex_hist_quantile_us(const ex_hist *h, double q)
{
    if (!h->count) return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.5);
    if (want < 1) want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < EX_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            double lo, hi;
            bucket_range(i, &lo, &hi);
            double mid = i < 8 ? lo : (lo + hi) / 2;
            return mid > (double)h->max_us ? (double)h->max_us : mid;
        }
    }
    return (double)h->max_us;
}

/* ---- the shard's map ----------------------------------------------------- */

static uint64_t id_hash(const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = a ^ (b * UINT64_C(0x9E3779B97F4A7C15));
    h = (h ^ (h >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    h = (h ^ (h >> 27)) * UINT64_C(0x94D049BB133111EB);
    return h ^ (h >> 31);
}

static mx_entry **slot_for(mx_map *m, const uint8_t id[16])
{
    size_t i = (size_t)id_hash(id) & (m->cap - 1);
    while (m->slots[i] && memcmp(m->slots[i]->id, id, 16) != 0)
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

static int grow(mx_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    mx_entry **old = m->slots;
    size_t ocap = m->cap;
    m->slots = hln_calloc(ncap, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return HLN_ENOMEM;
    }
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i]) *slot_for(m, old[i]->id) = old[i];
    hln_free(old);
    return 0;
}

/* The entry of id, made if create; NULL if absent (or out of memory). */
static mx_entry *lookup(hln_shard *s, const uint8_t id[16], bool create)
{
    mx_map *m = s->metrics;
    if (m && m->last && memcmp(m->last->id, id, 16) == 0) return m->last;
    if (!m) {
        if (!create || !(m = s->metrics = hln_calloc(1, sizeof *m))) return NULL;
    }
    if (m->cap) {
        mx_entry *e = *slot_for(m, id);
        if (e) return m->last = e;
    }
    if (!create) return NULL;
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0) return NULL;
    mx_entry *e = hln_calloc(1, sizeof *e);
    if (!e) return NULL;
    memcpy(e->id, id, 16);
    e->created = e->cur_start = hln_mono_nanos();
    *slot_for(m, id) = e;
    m->n++;
    return m->last = e;
}

/* Moves the minute window along to now. */
static void rotate(mx_entry *e, int64_t now)
{
    if (now - e->cur_start < WINDOW_NS) return;
    if (now - e->cur_start < 2 * WINDOW_NS)
        memcpy(e->prev, e->cur, sizeof e->cur);
    else
        memset(e->prev, 0, sizeof e->prev);
    memset(e->cur, 0, sizeof e->cur);
    e->cur_start = now - (now - e->cur_start) % WINDOW_NS;
}

void ex_metrics_record(hln_shard *s, const uint8_t table_id[16], int kind, int64_t start_ns)
{
    if (!s || kind < 0 || kind >= EX_LAT_KINDS) return;
    mx_entry *e = lookup(s, table_id, true);
    if (!e) return; /* out of memory: the figure is lost, the request is not */
    int64_t now = hln_mono_nanos();
    rotate(e, now);
    ex_hist_add(&e->cur[kind], now > start_ns ? (uint64_t)(now - start_ns) / 1000 : 0);
    e->total[kind]++;
}

bool ex_metrics_get(hln_shard *s, const uint8_t table_id[16], ex_table_lat *out)
{
    memset(out, 0, sizeof *out);
    mx_entry *e = lookup(s, table_id, false);
    if (!e) return false;
    int64_t now = hln_mono_nanos();
    rotate(e, now);
    for (int k = 0; k < EX_LAT_KINDS; k++) {
        out->recent[k] = e->cur[k];
        ex_hist_merge(&out->recent[k], &e->prev[k]);
        out->total[k] = e->total[k];
    }
    double w = (double)(now - e->cur_start) / 1e9 + (e->created < e->cur_start ? 60.0 : 0.0);
    out->window_s = w < 1.0 ? 1.0 : w;
    return true;
}

void ex_table_lat_merge(ex_table_lat *into, const ex_table_lat *x)
{
    for (int k = 0; k < EX_LAT_KINDS; k++) {
        ex_hist_merge(&into->recent[k], &x->recent[k]);
        into->total[k] += x->total[k];
    }
    if (x->window_s > into->window_s) into->window_s = x->window_s;
}

void ex_metrics_free(hln_shard *s)
{
    mx_map *m = s->metrics;
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++)
        hln_free(m->slots[i]);
    hln_free(m->slots);
    hln_free(m);
    s->metrics = NULL;
}

void ex_stats_add(st_table_stats *sum, const st_table_stats *x)
{
    sum->sstables += x->sstables;
    sum->disk_bytes += x->disk_bytes;
    sum->raw_bytes += x->raw_bytes;
    sum->data_bytes += x->data_bytes;
    sum->partitions += x->partitions;
    sum->rows += x->rows;
    sum->memtable_bytes += x->memtable_bytes;
    sum->memtable_partitions += x->memtable_partitions;
    sum->compactions += x->compactions;
    sum->bytes_compacted += x->bytes_compacted;
    sum->bytes_written += x->bytes_written;
    sum->flushes += x->flushes;
    sum->bytes_flushed += x->bytes_flushed;
    sum->compacting |= x->compacting;
    sum->reads += x->reads;
    sum->sstable_reads += x->sstable_reads;
    if (x->max_partition_bytes > sum->max_partition_bytes)
        sum->max_partition_bytes = x->max_partition_bytes;
}
