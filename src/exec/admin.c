/*
 * admin.c — the operator's verbs on a running node: flush, compact, and the
 * reports nodetool users read (tablestats, compactionstats, info), plus
 * the same figures as Prometheus text.
 *
 * What: each verb runs on every shard through engine_run_on_all (so it is
 * called off shard threads: the admin HTTP thread of server/admin_http.c,
 * or an embedding program's own thread) and sums what the shards report.
 * Tables are named by keyspace and table (either may be NULL: every user
 * table, or every table of the keyspace); system keyspaces are left out of
 * flush and compact unless named.
 *
 * Why here: these are engine operations over schema and storage; the
 * transport (HTTP, the embedded API) stays above, in server/.
 *
 * Flush, compact and snapshot never block a shard's request loop: the
 * shards hand the work to storage's flush and compaction threads
 * (st_flush_start, st_compact_start) and the calling thread asks them every
 * 2 ms until it is done (then a snapshot links the flushed files). A
 * major compaction of a big table takes as long as it takes; the shard
 * goes on serving reads and writes meanwhile, which it did not while the
 * merge ran on its own thread.
 *
 * Invariants: every storage call happens on the shard's own thread (inside
 * the run_on_all callback); a schema reference is held for the whole verb,
 * so the table list cannot change under it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exec/admin.h"
#include "exec/execInt.h"

typedef struct adm_table {
    const hln_table *t;
    st_table_stats sum;
    ex_table_lat lat; /* merged over the shards */
} adm_table;

enum { ADM_STATS, ADM_FLUSH, ADM_COMPACT, ADM_SNAPSHOT };

/* The phases of a verb that waits for background work: the shards start it
 * (PH_START), the calling thread asks them until it is done (PH_POLL), and
 * a snapshot then links its files (PH_LINK). */
enum { PH_START, PH_POLL, PH_LINK };

typedef struct adm_run {
    adm_table *tabs;
    int n;
    int verb;             /* ADM_* */
    const char *tag;      /* ADM_SNAPSHOT: the snapshot's name */
    const char *data_dir; /* ADM_SNAPSHOT */
    bool all;             /* ADM_FLUSH of every table, system ones too */
    int phase;            /* PH_* */
    int pending;          /* PH_POLL: shards (x tables) not done yet */
    int rc;
    hln_error err;
    uv_mutex_t mu;
    /* ADM_STATS, node-wide: the chunk caches, client connections */
    st_cache_stats cache;
    int clients;
    /* memtable space and the writes waiting for it (coord.c) */
    uint64_t mem_bytes, parked, parked_total, write_timeouts;
} adm_run;

static bool wanted(const hln_keyspace *k, const hln_table *t, const char *ks, const char *table)
{
    if (t->is_virtual) return false;
    if (ks && *ks) {
        if (strcmp(k->name, ks) != 0) return false;
    } else if (k->is_system) {
        return false;
    }
    return !(table && *table) || strcmp(t->name, table) == 0;
}

static int collect(const hln_schema *s, const char *ks, const char *table, adm_table **out, int *n,
                   hln_error *err)
{
    *out = NULL;
    *n = 0;
    int cap = 0;
    if (ks && *ks && !schema_keyspace(s, ks))
        return hln_fail(err, HLN_ENOTFOUND, "Keyspace [%s] does not exist.", ks);
    for (int i = 0; i < s->nkeyspaces; i++) {
        const hln_keyspace *k = s->keyspaces[i];
        for (int j = 0; j < k->ntables; j++) {
            if (!wanted(k, k->tables[j], ks, table)) continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                adm_table *nt = hln_realloc(*out, (size_t)cap * sizeof(*nt));
                if (!nt) {
                    hln_free(*out);
                    *out = NULL;
                    return hln_fail(err, HLN_ENOMEM, "out of memory");
                }
                *out = nt;
            }
            memset(&(*out)[*n], 0, sizeof(adm_table));
            (*out)[(*n)++].t = k->tables[j];
        }
    }
    if (table && *table && *n == 0)
        return hln_fail(err, HLN_ENOTFOUND, "Table [%s.%s] does not exist.", ks ? ks : "", table);
    return 0;
}

/* ADM_SNAPSHOT on one shard: <data>/shard-<i>/snapshots/<tag>/<ks>.<table>-<id hex>/ */
static int snapshot_table(hln_shard *s, const adm_run *r, const hln_table *t, hln_error *err)
{
    char hex[33], dir[1600];
    for (int k = 0; k < 16; k++)
        snprintf(hex + 2 * k, 3, "%02x", t->id[k]);
    snprintf(dir, sizeof dir, "%s/shard-%d/snapshots/%s/%s.%s-%s", r->data_dir, s->id, r->tag,
             t->ks, t->name, hex);
    return st_snapshot(s->store, t->id, dir, err);
}

static void fail_run(adm_run *r, int rc, const hln_error *err)
{
    uv_mutex_lock(&r->mu);
    if (r->rc == 0) {
        r->rc = rc;
        r->err = *err;
    }
    uv_mutex_unlock(&r->mu);
}

/* Flush, compact and snapshot on one shard without blocking it: the
 * flushes and compactions run on the storage's background threads
 * (st_flush_start, st_compact_start) while the shard goes on serving;
 * PH_POLL counts what is not done yet. */
static void on_shard_bg(hln_shard *s, adm_run *r)
{
    hln_error err = {0};
    int rc = 0, pending = 0;
    switch (r->phase) {
    case PH_START:
        if (r->all) rc = st_flush_start(s->store, NULL, &err);
        for (int i = 0; i < r->n && !r->all && rc == 0; i++) {
            if (r->verb == ADM_COMPACT)
                st_compact_start(s->store, r->tabs[i].t->id); /* poll reports a failure */
            else
                rc = st_flush_start(s->store, r->tabs[i].t->id, &err);
        }
        break;
    case PH_POLL: /* each answers 1 done, 0 pending */
        if (r->verb != ADM_COMPACT) {
            rc = st_flush_poll(s->store, &err);
            pending += rc == 0;
        }
        for (int i = 0; i < r->n && r->verb == ADM_COMPACT && rc >= 0; i++) {
            rc = st_compact_poll(s->store, r->tabs[i].t->id, &err);
            pending += rc == 0;
        }
        break;
    case PH_LINK:
        for (int i = 0; i < r->n && rc == 0; i++)
            rc = snapshot_table(s, r, r->tabs[i].t, &err);
        break;
    }
    if (rc < 0) fail_run(r, rc, &err);
    uv_mutex_lock(&r->mu);
    r->pending += pending;
    uv_mutex_unlock(&r->mu);
}

static void on_shard(hln_shard *s, void *ud)
{
    adm_run *r = ud;
    if (!s->store) return;
    if (r->verb != ADM_STATS) {
        on_shard_bg(s, r);
        return;
    }
    hln_error err = {0};
    int rc = 0;
    for (int i = 0; i < r->n && rc == 0; i++) {
        st_table_stats st;
        if (rc == 0 && st_table_stats_get(s->store, r->tabs[i].t->id, &st) == 0) {
            ex_table_lat lat;
            bool has_lat = r->verb == ADM_STATS && ex_metrics_get(s, r->tabs[i].t->id, &lat);
            uv_mutex_lock(&r->mu);
            ex_stats_add(&r->tabs[i].sum, &st);
            if (has_lat) ex_table_lat_merge(&r->tabs[i].lat, &lat);
            uv_mutex_unlock(&r->mu);
        }
    }
    if (rc == 0 && r->verb == ADM_STATS) {
        st_cache_stats c;
        st_thread_cache_stats(&c);
        int nclients = 0;
        if (s->eng->net.shard_clients) {
            hln_arena a;
            hln_arena_init(&a, 4096);
            hln_client_info *ci;
            if (s->eng->net.shard_clients(s, &a, &ci, &nclients) != 0)
                rc = hln_fail(&err, HLN_ENOMEM, "out of memory listing connections");
            hln_arena_free(&a);
        }
        uv_mutex_lock(&r->mu);
        r->cache.capacity_bytes += c.capacity_bytes;
        r->cache.size_bytes += c.size_bytes;
        r->cache.requests += c.requests;
        r->cache.hits += c.hits;
        r->cache.entries += c.entries;
        r->clients += nclients;
        r->mem_bytes += st_memtable_bytes(s->store);
        r->parked += s->nparked;
        r->parked_total += s->parked_total;
        r->write_timeouts += s->write_timeouts;
        uv_mutex_unlock(&r->mu);
    }
    if (rc < 0) fail_run(r, rc, &err);
}

/* Runs r's phases over the shards; a wait asks them every 2 ms (this is an
 * operator's thread, never a shard's). */
static int run_phases(hln_engine *e, adm_run *r)
{
    int rc = engine_run_on_all(e, on_shard, r);
    if (r->verb == ADM_STATS) return rc;
    while (rc == 0 && r->rc == 0) {
        r->phase = PH_POLL;
        r->pending = 0;
        if ((rc = engine_run_on_all(e, on_shard, r)) != 0 || r->rc || !r->pending) break;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc == 0 && r->rc == 0 && r->verb == ADM_SNAPSHOT) {
        r->phase = PH_LINK;
        rc = engine_run_on_all(e, on_shard, r);
    }
    return rc;
}

/* Runs verb over the named tables; on success r->tabs holds the sums. */
static int run(hln_engine *e, int verb, const char *ks, const char *table, const char *tag,
               adm_run *r, hln_schema **sp, hln_error *err)
{
    memset(r, 0, sizeof(*r));
    r->tag = tag;
    r->data_dir = e->cfg.data_dir;
    hln_schema *s = catalog_acquire(e->catalog);
    if (!s) return hln_fail(err, HLN_ESERVER, "no schema");
    int rc = collect(s, ks, table, &r->tabs, &r->n, err);
    if (rc < 0) {
        schema_release(s);
        return rc;
    }
    r->verb = verb;
    r->all = verb == ADM_FLUSH && !(ks && *ks) && !(table && *table);
    uv_mutex_init(&r->mu);
    rc = run_phases(e, r);
    uv_mutex_destroy(&r->mu);
    if (rc == 0 && r->rc < 0) {
        rc = r->rc;
        if (err) *err = r->err;
    } else if (rc < 0) {
        rc = hln_fail(err, rc, "cannot reach the shards");
    }
    *sp = s;
    return rc;
}

static void done(adm_run *r, hln_schema *s)
{
    hln_free(r->tabs);
    if (s) schema_release(s);
}

int ex_admin_flush(hln_engine *e, const char *ks, const char *table, hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, ADM_FLUSH, ks, table, NULL, &r, &s, err);
    done(&r, s);
    return rc;
}

int ex_admin_compact(hln_engine *e, const char *ks, const char *table, hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, ADM_COMPACT, ks, table, NULL, &r, &s, err);
    done(&r, s);
    return rc;
}

static const char *strategy_name(const hln_table *t)
{
    const char *c = table_option(t, "compaction");
    if (!c) return "SizeTieredCompactionStrategy";
    static const char *const names[] = {"LeveledCompactionStrategy", "TimeWindowCompactionStrategy",
                                        "UnifiedCompactionStrategy"};
    for (size_t i = 0; i < HLN_ARRAY_LEN(names); i++)
        if (strstr(c, names[i])) return names[i];
    return "SizeTieredCompactionStrategy";
}

int ex_admin_tablestats(hln_engine *e, const char *ks, const char *table, hln_buf *out,
                        hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, ADM_STATS, ks, table, NULL, &r, &s, err);
    const char *cur = NULL;
    for (int i = 0; rc == 0 && i < r.n; i++) {
        const hln_table *t = r.tabs[i].t;
        const st_table_stats *st = &r.tabs[i].sum;
        if (!cur || strcmp(cur, t->ks) != 0) {
            hln_buf_printf(out, "Keyspace : %s\n", t->ks);
            cur = t->ks;
        }
        /* as nodetool's: compressed row data over uncompressed (the
           partition index, kept beside them in the file, is not data) */
        double ratio = st->raw_bytes ? (double)st->data_bytes / (double)st->raw_bytes : -1.0;
        hln_buf_printf(out,
                       "\t\tTable: %s\n"
                       "\t\tSSTable count: %zu\n"
                       "\t\tSpace used (live): %" PRIu64 "\n"
                       "\t\tSpace used (total): %" PRIu64 "\n"
                       "\t\tSSTable Compression Ratio: %.5f\n"
                       "\t\tNumber of partitions (estimate): %" PRIu64 "\n"
                       "\t\tMemtable data size: %zu\n"
                       "\t\tCompaction strategy: %s\n"
                       "\t\tCompactions completed: %" PRIu64 "\n"
                       "\t\tBytes compacted: %" PRIu64 "\n"
                       "\t\tBytes flushed: %" PRIu64 "\n"
                       "\t\tWrite amplification: %.2f\n"
                       "\t\tSSTables per read: %.2f\n"
                       "\n",
                       t->name, st->sstables, st->disk_bytes, st->disk_bytes, ratio, st->partitions,
                       st->memtable_bytes, strategy_name(t), st->compactions, st->bytes_compacted,
                       st->bytes_flushed,
                       st->bytes_flushed ? (double)st->bytes_written / (double)st->bytes_flushed
                                         : 0.0,
                       st->reads ? (double)st->sstable_reads / (double)st->reads : 0.0);
    }
    done(&r, s);
    if (rc == 0 && out->err) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    return rc;
}

int ex_admin_compactionstats(hln_engine *e, hln_buf *out, hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, ADM_STATS, NULL, NULL, NULL, &r, &s, err);
    int pending = 0;
    for (int i = 0; rc == 0 && i < r.n; i++)
        pending += r.tabs[i].sum.compacting;
    if (rc == 0) {
        hln_buf_printf(out, "pending tasks: %d\n", pending);
        for (int i = 0; i < r.n; i++)
            if (r.tabs[i].sum.compacting)
                hln_buf_printf(out, "- %s.%s: 1\n", r.tabs[i].t->ks, r.tabs[i].t->name);
        hln_buf_printf(out, "\n");
    }
    done(&r, s);
    return rc;
}

int ex_admin_tablehistograms(hln_engine *e, const char *ks, const char *table, hln_buf *out,
                             hln_error *err)
{
    if (!ks || !*ks || !table || !*table)
        return hln_fail(err, HLN_EINVAL,
                        "tablehistograms requires keyspace and table name arguments");
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, ADM_STATS, ks, table, NULL, &r, &s, err);
    for (int i = 0; rc == 0 && i < r.n; i++) {
        const ex_table_lat *l = &r.tabs[i].lat;
        const ex_hist *h[3] = {&l->recent[EX_LAT_LOCAL_READ], &l->recent[EX_LAT_LOCAL_WRITE],
                               &l->recent[EX_LAT_LOCAL_SCAN]};
        hln_buf_printf(out,
                       "%s/%s histograms\n"
                       "%-10s%18s%18s%18s\n%-10s%18s%18s%18s\n",
                       r.tabs[i].t->ks, r.tabs[i].t->name, "Percentile", "Read Latency",
                       "Write Latency", "Scan Latency", "", "(micros)", "(micros)", "(micros)");
        static const struct {
            const char *label;
            double q;
        } rowsq[] = {{"50%", 0.5},  {"75%", 0.75}, {"95%", 0.95}, {"98%", 0.98},
                     {"99%", 0.99}, {"Min", 0.0},  {"Max", 1.0}};
        for (size_t k = 0; k < HLN_ARRAY_LEN(rowsq); k++) {
            hln_buf_printf(out, "%-10s", rowsq[k].label);
            for (int c = 0; c < 3; c++) {
                double v = rowsq[k].q >= 1.0 ? (double)h[c]->max_us
                                             : ex_hist_quantile_us(h[c], rowsq[k].q);
                hln_buf_printf(out, "%18.2f", v);
            }
            hln_buf_printf(out, "\n");
        }
        hln_buf_printf(out, "\n");
    }
    done(&r, s);
    if (rc == 0 && out->err) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    return rc;
}

/* Prometheus summaries of the latencies: recent quantiles, total count */
static void latency_metrics(hln_buf *out, const adm_run *r)
{
    static const struct {
        int kind;
        const char *op, *scope;
    } K[] = {
        {EX_LAT_COORD_READ, "read", "coordinator"}, {EX_LAT_COORD_WRITE, "write", "coordinator"},
        {EX_LAT_COORD_SCAN, "scan", "coordinator"}, {EX_LAT_LOCAL_READ, "read", "local"},
        {EX_LAT_LOCAL_WRITE, "write", "local"},     {EX_LAT_LOCAL_SCAN, "scan", "local"},
    };
    hln_buf_printf(out, "# HELP helenus_table_latency_seconds request latency by table and "
                        "operation: quantiles over the last one to two minutes, count since "
                        "start\n# TYPE helenus_table_latency_seconds summary\n");
    for (int i = 0; i < r->n; i++)
        for (size_t k = 0; k < HLN_ARRAY_LEN(K); k++) {
            const ex_hist *h = &r->tabs[i].lat.recent[K[k].kind];
            char labels[600];
            snprintf(labels, sizeof labels, "keyspace=\"%s\",table=\"%s\",op=\"%s\",scope=\"%s\"",
                     r->tabs[i].t->ks, r->tabs[i].t->name, K[k].op, K[k].scope);
            static const double qs[] = {0.5, 0.95, 0.99};
            for (size_t q = 0; q < HLN_ARRAY_LEN(qs); q++)
                hln_buf_printf(out, "helenus_table_latency_seconds{%s,quantile=\"%g\"} %.6f\n",
                               labels, qs[q], ex_hist_quantile_us(h, qs[q]) / 1e6);
            hln_buf_printf(out, "helenus_table_latency_seconds_count{%s} %" PRIu64 "\n", labels,
                           r->tabs[i].lat.total[K[k].kind]);
        }
}

int ex_admin_metrics(hln_engine *e, hln_buf *out, hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, ADM_STATS, NULL, NULL, NULL, &r, &s, err);
    if (rc == 0) {
        static const struct {
            const char *name, *type, *help;
        } M[] = {
            {"helenus_table_sstables", "gauge", "sstables of the table (all shards)"},
            {"helenus_table_disk_bytes", "gauge", "bytes of the table's sstables on disk"},
            {"helenus_table_uncompressed_bytes", "gauge", "their data uncompressed"},
            {"helenus_table_memtable_bytes", "gauge", "bytes in memtables"},
            {"helenus_table_compactions_total", "counter", "compactions finished since start"},
            {"helenus_table_pending_compactions", "gauge", "compactions running now"},
            {"helenus_table_flushed_bytes_total", "counter", "bytes written by flushes"},
            {"helenus_table_written_bytes_total", "counter",
             "bytes written by flushes and compactions"},
        };
        for (size_t m = 0; m < HLN_ARRAY_LEN(M); m++) {
            hln_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", M[m].name, M[m].help, M[m].name,
                           M[m].type);
            for (int i = 0; i < r.n; i++) {
                const st_table_stats *st = &r.tabs[i].sum;
                uint64_t v[] = {st->sstables,       st->disk_bytes,   st->raw_bytes,
                                st->memtable_bytes, st->compactions,  st->compacting,
                                st->bytes_flushed,  st->bytes_written};
                hln_buf_printf(out, "%s{keyspace=\"%s\",table=\"%s\"} %" PRIu64 "\n", M[m].name,
                               r.tabs[i].t->ks, r.tabs[i].t->name, v[m]);
            }
        }
        latency_metrics(out, &r);
        hln_buf_printf(out,
                       "# HELP helenus_chunk_cache_requests_total reads of decompressed "
                       "sstable chunks through the cache\n"
                       "# TYPE helenus_chunk_cache_requests_total counter\n"
                       "helenus_chunk_cache_requests_total %" PRIu64 "\n"
                       "# HELP helenus_chunk_cache_hits_total of which found in the cache\n"
                       "# TYPE helenus_chunk_cache_hits_total counter\n"
                       "helenus_chunk_cache_hits_total %" PRIu64 "\n"
                       "# HELP helenus_chunk_cache_bytes bytes the chunk caches hold\n"
                       "# TYPE helenus_chunk_cache_bytes gauge\n"
                       "helenus_chunk_cache_bytes %" PRIu64 "\n"
                       "# HELP helenus_client_connections open CQL connections\n"
                       "# TYPE helenus_client_connections gauge\n"
                       "helenus_client_connections %d\n",
                       r.cache.requests, r.cache.hits, r.cache.size_bytes, r.clients);
        hln_buf_printf(out,
                       "# HELP helenus_memtable_bytes bytes in every memtable of the node, "
                       "taking writes or being flushed\n"
                       "# TYPE helenus_memtable_bytes gauge\n"
                       "helenus_memtable_bytes %" PRIu64 "\n"
                       "# HELP helenus_memtable_space_bytes memtable_heap_space: their bound\n"
                       "# TYPE helenus_memtable_space_bytes gauge\n"
                       "helenus_memtable_space_bytes %" PRIu64 "\n"
                       "# HELP helenus_writes_waiting writes waiting for memtable space now\n"
                       "# TYPE helenus_writes_waiting gauge\n"
                       "helenus_writes_waiting %" PRIu64 "\n"
                       "# HELP helenus_writes_delayed_total writes that waited for memtable "
                       "space\n"
                       "# TYPE helenus_writes_delayed_total counter\n"
                       "helenus_writes_delayed_total %" PRIu64 "\n"
                       "# HELP helenus_write_timeouts_total writes that timed out waiting for "
                       "memtable space (write_request_timeout)\n"
                       "# TYPE helenus_write_timeouts_total counter\n"
                       "helenus_write_timeouts_total %" PRIu64 "\n",
                       r.mem_bytes, e->cfg.memtable_space_bytes, r.parked, r.parked_total,
                       r.write_timeouts);
        hln_buf_printf(out, "# HELP helenus_shards shard threads\n# TYPE helenus_shards gauge\n");
        hln_buf_printf(out, "helenus_shards %d\n", e->nshards);
        hln_buf_printf(out, "# HELP helenus_uptime_seconds seconds since start\n"
                            "# TYPE helenus_uptime_seconds gauge\n");
        hln_buf_printf(out, "helenus_uptime_seconds %lld\n",
                       (long long)((hln_now_micros() - e->started_at) / 1000000));
    }
    done(&r, s);
    if (rc == 0 && out->err) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    return rc;
}

uint64_t ex_admin_get_compaction_throughput(hln_engine *e)
{
    return atomic_load(&e->compaction_bps);
}

void ex_admin_set_compaction_throughput(hln_engine *e, uint64_t bps)
{
    atomic_store(&e->compaction_bps, bps);
}

/* ---- snapshots ------------------------------------------------------------------
 * <data>/shard-<i>/snapshots/<tag>/<ks>.<table>-<id hex>/nb-<gen>-Data.db,
 * hard links made by st_snapshot on each shard's thread. Listing and
 * clearing only read and remove those directories (no storage state). */

static bool tag_ok(const char *tag)
{
    if (!tag || !*tag || tag[0] == '.' || strlen(tag) > 200) return false;
    for (const char *p = tag; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')) return false;
    return true;
}

static bool snapshot_exists(hln_engine *e, const char *tag)
{
    for (int i = 0; i < e->nshards; i++) {
        char p[1400];
        snprintf(p, sizeof p, "%s/shard-%d/snapshots/%s", e->cfg.data_dir, i, tag);
        struct stat st;
        if (stat(p, &st) == 0) return true;
    }
    return false;
}

int ex_admin_snapshot(hln_engine *e, const char *tag, const char *ks, const char *table,
                      hln_buf *out, hln_error *err)
{
    char deftag[32];
    if (!tag || !*tag) {
        snprintf(deftag, sizeof deftag, "%lld", (long long)(hln_now_micros() / 1000));
        tag = deftag;
    }
    if (!tag_ok(tag))
        return hln_fail(err, HLN_EINVAL,
                        "Snapshot name must be letters, digits, '_', '-' or '.' (got '%s')", tag);
    if (snapshot_exists(e, tag))
        return hln_fail(err, HLN_EEXISTS, "Snapshot %s already exists.", tag);
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, ADM_SNAPSHOT, ks, table, tag, &r, &s, err);
    if (rc == 0)
        hln_buf_printf(out,
                       "Requested creating snapshot(s) for [%s] with snapshot name [%s]\n"
                       "Snapshot directory: %s\n",
                       ks && *ks ? ks : "all keyspaces", tag, tag);
    done(&r, s);
    return rc;
}

typedef struct snap_entry {
    char tag[256], table[400];
    uint64_t bytes, true_bytes;
    int64_t mtime, created;
} snap_entry;

typedef struct snap_list {
    snap_entry *v;
    int n, cap;
} snap_list;

static snap_entry *snap_find(snap_list *l, const char *tag, const char *table)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].tag, tag) && !strcmp(l->v[i].table, table)) return &l->v[i];
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 16;
        snap_entry *nv = hln_realloc(l->v, (size_t)nc * sizeof(*nv));
        if (!nv) return NULL;
        l->v = nv;
        l->cap = nc;
    }
    snap_entry *se = &l->v[l->n++];
    memset(se, 0, sizeof(*se));
    snprintf(se->tag, sizeof se->tag, "%s", tag);
    snprintf(se->table, sizeof se->table, "%s", table);
    return se;
}

/* Every snapshot directory's files, summed by (tag, table). */
static int snap_scan(hln_engine *e, snap_list *l)
{
    for (int i = 0; i < e->nshards; i++) {
        char root[1400];
        snprintf(root, sizeof root, "%s/shard-%d/snapshots", e->cfg.data_dir, i);
        DIR *d = opendir(root);
        if (!d) continue;
        struct dirent *tg;
        while ((tg = readdir(d)) != NULL) {
            if (tg->d_name[0] == '.') continue;
            char tdir[1700];
            snprintf(tdir, sizeof tdir, "%s/%s", root, tg->d_name);
            DIR *d2 = opendir(tdir);
            if (!d2) continue;
            struct dirent *tb;
            while ((tb = readdir(d2)) != NULL) {
                if (tb->d_name[0] == '.') continue;
                char fdir[2000];
                snprintf(fdir, sizeof fdir, "%s/%s", tdir, tb->d_name);
                snap_entry *se = snap_find(l, tg->d_name, tb->d_name);
                if (!se) {
                    closedir(d2);
                    closedir(d);
                    return HLN_ENOMEM;
                }
                struct stat dst; /* the table's snapshot directory: made by the snapshot */
                if (stat(fdir, &dst) == 0 && (!se->created || (int64_t)dst.st_mtime < se->created))
                    se->created = (int64_t)dst.st_mtime;
                DIR *d3 = opendir(fdir);
                struct dirent *f;
                while (d3 && (f = readdir(d3)) != NULL) {
                    if (f->d_name[0] == '.') continue;
                    char fp[2300];
                    snprintf(fp, sizeof fp, "%s/%s", fdir, f->d_name);
                    struct stat st;
                    if (stat(fp, &st) != 0) continue;
                    se->bytes += (uint64_t)st.st_size;
                    if (st.st_nlink == 1) se->true_bytes += (uint64_t)st.st_size;
                    if ((int64_t)st.st_mtime > se->mtime) se->mtime = (int64_t)st.st_mtime;
                }
                if (d3) closedir(d3);
            }
            closedir(d2);
        }
        closedir(d);
    }
    return 0;
}

int ex_admin_snapshot_list(hln_engine *e, ex_snapshot **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    snap_list l = {0};
    ex_snapshot *v = NULL;
    if (snap_scan(e, &l) < 0 || (l.n && !(v = hln_calloc((size_t)l.n, sizeof *v)))) {
        hln_free(l.v);
        return HLN_ENOMEM;
    }
    for (int i = 0; i < l.n; i++) {
        /* <ks>.<table>-<id hex> */
        char ks[400];
        snprintf(ks, sizeof ks, "%s", l.v[i].table);
        char *dot = strchr(ks, '.'), *dash = strrchr(ks, '-');
        const char *tname = "";
        if (dot) {
            *dot = '\0';
            tname = dot + 1;
            if (dash && dash > dot) *dash = '\0';
        }
        snprintf(v[i].tag, sizeof v[i].tag, "%s", l.v[i].tag);
        snprintf(v[i].keyspace, sizeof v[i].keyspace, "%s", ks);
        snprintf(v[i].table, sizeof v[i].table, "%s", tname);
        v[i].bytes = l.v[i].bytes;
        v[i].true_bytes = l.v[i].true_bytes;
        v[i].created_sec = l.v[i].created;
    }
    hln_free(l.v);
    *out = v;
    *nout = l.n;
    return 0;
}

int ex_admin_listsnapshots(hln_engine *e, hln_buf *out, hln_error *err)
{
    ex_snapshot *v;
    int n;
    if (ex_admin_snapshot_list(e, &v, &n) < 0) return hln_fail(err, HLN_ENOMEM, "out of memory");
    if (n == 0) {
        hln_buf_printf(out, "Snapshot Details: \nThere are no snapshots\n");
    } else {
        hln_buf_printf(out, "Snapshot Details: \n%-20s %-20s %-30s %-14s %-14s\n", "Snapshot name",
                       "Keyspace name", "Column family name", "True size", "Size on disk");
        uint64_t total = 0;
        for (int i = 0; i < n; i++) {
            hln_buf_printf(out, "%-20s %-20s %-30s %-14llu %-14llu\n", v[i].tag, v[i].keyspace,
                           v[i].table, (unsigned long long)v[i].true_bytes,
                           (unsigned long long)v[i].bytes);
            total += v[i].true_bytes;
        }
        hln_buf_printf(out, "\nTotal TrueDiskSpaceUsed: %llu bytes\n", (unsigned long long)total);
    }
    hln_free(v);
    return out->err ? hln_fail(err, HLN_ENOMEM, "out of memory") : 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int ex_admin_clearsnapshot(hln_engine *e, const char *tag, hln_buf *out, hln_error *err)
{
    if (tag && *tag && !tag_ok(tag))
        return hln_fail(err, HLN_EINVAL, "Invalid snapshot name '%s'", tag);
    for (int i = 0; i < e->nshards; i++) {
        char p[1400];
        if (tag && *tag)
            snprintf(p, sizeof p, "%s/shard-%d/snapshots/%s", e->cfg.data_dir, i, tag);
        else
            snprintf(p, sizeof p, "%s/shard-%d/snapshots", e->cfg.data_dir, i);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
            return hln_fail(err, HLN_EIO, "cannot remove %s: %s", p, strerror(errno));
    }
    hln_buf_printf(out, "Requested clearing snapshot(s) for [%s]\n",
                   tag && *tag ? tag : "all snapshots");
    return out->err ? hln_fail(err, HLN_ENOMEM, "out of memory") : 0;
}

/* ---- status -------------------------------------------------------------------- */

static uint64_t du_total; /* nftw has no context: guarded by du_mu */
static uv_mutex_t du_mu;
static uv_once_t du_once = UV_ONCE_INIT;
static void du_init(void)
{
    uv_mutex_init(&du_mu);
}

static int du_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)p;
    (void)ftw;
    if (flag == FTW_F) du_total += (uint64_t)sb->st_size;
    return 0;
}

static void human(uint64_t b, char out[32])
{
    static const char *u[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, 32, "%llu bytes", (unsigned long long)b);
    else
        snprintf(out, 32, "%.2f %s", v, u[i]);
}

int ex_admin_status(hln_engine *e, hln_buf *out, hln_error *err)
{
    uv_once(&du_once, du_init);
    uint64_t load = 0;
    uv_mutex_lock(&du_mu);
    for (int i = 0; i < e->nshards; i++) {
        char p[1400];
        snprintf(p, sizeof p, "%s/shard-%d/tables", e->cfg.data_dir, i);
        du_total = 0;
        struct stat st;
        if (stat(p, &st) == 0) nftw(p, du_cb, 16, FTW_PHYS);
        load += du_total;
    }
    uv_mutex_unlock(&du_mu);
    char id[37], addr[300] = "127.0.0.1", l[32];
    hln_uuid_format(e->node.host_id, id);
    if (e->node.address_len == 4)
        snprintf(addr, sizeof addr, "%u.%u.%u.%u", e->node.address[0], e->node.address[1],
                 e->node.address[2], e->node.address[3]);
    else if (e->node.address_len == 16)
        snprintf(addr, sizeof addr, "%s", e->cfg.listen_address);
    human(load, l);
    hln_buf_printf(out,
                   "Datacenter: %s\n"
                   "%.*s\n"
                   "Status=Up/Down\n"
                   "|/ State=Normal/Leaving/Joining/Moving\n"
                   "--  %-15s %-12s %-7s %-17s %-37s %s\n"
                   "UN  %-15s %-12s %-7d %-17s %-37s %s\n\n",
                   e->cfg.datacenter, (int)strlen(e->cfg.datacenter) + 12,
                   "==================================================================", "Address",
                   "Load", "Tokens", "Owns (effective)", "Host ID", "Rack", addr, l,
                   e->node.ntokens, "100.0%", id, e->cfg.rack);
    return out->err ? hln_fail(err, HLN_ENOMEM, "out of memory") : 0;
}
