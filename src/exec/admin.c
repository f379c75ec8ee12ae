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
 * Invariants: every storage call happens on the shard's own thread (inside
 * the run_on_all callback); a schema reference is held for the whole verb,
 * so the table list cannot change under it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "exec/admin.h"
#include "exec/execInt.h"

typedef struct adm_table {
    const hln_table *t;
    st_table_stats sum;
    bool seen;
} adm_table;

typedef struct adm_run {
    adm_table *tabs;
    int n;
    int verb; /* 0 stats, 1 flush, 2 compact */
    int rc;
    hln_error err;
    uv_mutex_t mu;
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

static void on_shard(hln_shard *s, void *ud)
{
    adm_run *r = ud;
    if (!s->store) return;
    hln_error err = {0};
    int rc = 0;
    if (r->verb == 1) rc = st_flush(s->store, &err);
    for (int i = 0; i < r->n && rc == 0; i++) {
        if (r->verb == 2) rc = st_compact(s->store, r->tabs[i].t->id, &err);
        st_table_stats st;
        if (rc == 0 && st_table_stats_get(s->store, r->tabs[i].t->id, &st) == 0) {
            uv_mutex_lock(&r->mu);
            adm_table *a = &r->tabs[i];
            a->seen = true;
            a->sum.sstables += st.sstables;
            a->sum.disk_bytes += st.disk_bytes;
            a->sum.raw_bytes += st.raw_bytes;
            a->sum.partitions += st.partitions;
            a->sum.rows += st.rows;
            a->sum.memtable_bytes += st.memtable_bytes;
            a->sum.compactions += st.compactions;
            a->sum.bytes_compacted += st.bytes_compacted;
            a->sum.bytes_written += st.bytes_written;
            a->sum.flushes += st.flushes;
            a->sum.bytes_flushed += st.bytes_flushed;
            a->sum.compacting |= st.compacting;
            uv_mutex_unlock(&r->mu);
        }
    }
    if (rc < 0) {
        uv_mutex_lock(&r->mu);
        if (r->rc == 0) {
            r->rc = rc;
            r->err = err;
        }
        uv_mutex_unlock(&r->mu);
    }
}

/* Runs verb over the named tables; on success r->tabs holds the sums. */
static int run(hln_engine *e, int verb, const char *ks, const char *table, adm_run *r,
               hln_schema **sp, hln_error *err)
{
    memset(r, 0, sizeof(*r));
    hln_schema *s = catalog_acquire(e->catalog);
    if (!s) return hln_fail(err, HLN_ESERVER, "no schema");
    int rc = collect(s, ks, table, &r->tabs, &r->n, err);
    if (rc < 0) {
        schema_release(s);
        return rc;
    }
    r->verb = verb;
    uv_mutex_init(&r->mu);
    rc = engine_run_on_all(e, on_shard, r);
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
    int rc = run(e, 1, ks, table, &r, &s, err);
    done(&r, s);
    return rc;
}

int ex_admin_compact(hln_engine *e, const char *ks, const char *table, hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, 2, ks, table, &r, &s, err);
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
    int rc = run(e, 0, ks, table, &r, &s, err);
    const char *cur = NULL;
    for (int i = 0; rc == 0 && i < r.n; i++) {
        const hln_table *t = r.tabs[i].t;
        const st_table_stats *st = &r.tabs[i].sum;
        if (!cur || strcmp(cur, t->ks) != 0) {
            hln_buf_printf(out, "Keyspace : %s\n", t->ks);
            cur = t->ks;
        }
        double ratio = st->raw_bytes ? (double)st->disk_bytes / (double)st->raw_bytes : -1.0;
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
                       "\n",
                       t->name, st->sstables, st->disk_bytes, st->disk_bytes, ratio, st->partitions,
                       st->memtable_bytes, strategy_name(t), st->compactions, st->bytes_compacted,
                       st->bytes_flushed,
                       st->bytes_flushed ? (double)st->bytes_written / (double)st->bytes_flushed
                                         : 0.0);
    }
    done(&r, s);
    if (rc == 0 && out->err) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    return rc;
}

int ex_admin_compactionstats(hln_engine *e, hln_buf *out, hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, 0, NULL, NULL, &r, &s, err);
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

int ex_admin_metrics(hln_engine *e, hln_buf *out, hln_error *err)
{
    adm_run r;
    hln_schema *s = NULL;
    int rc = run(e, 0, NULL, NULL, &r, &s, err);
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
