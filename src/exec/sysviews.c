/*
 * sysviews.c — the system_views virtual tables of a running node.
 *
 * What: settings, snapshots, disk_usage, max_partition_size, sstable_tasks,
 * caches, thread_pools, clients and the six latency tables (coordinator_ and
 * local_ read/write/scan_latency), with Cassandra 5.0's columns
 * (src/schema/schema.c defines them). Rows are made for each read from
 * the node's state at that moment.
 *
 * How: most of that state belongs to the shards (storage statistics,
 * latency histograms, chunk caches, connections), and only a shard's
 * thread may read its own. A read of such a table first sends one
 * EX_OP_STATS op to every shard (ex_sysviews_gather); each fills an
 * ex_shard_stats from its own state (ex_stats_exec); once all are back,
 * the rows are built on the coordinator from the ops' results
 * (ex_sysviews_rows). Settings and snapshots need no shard: they come from
 * the configuration and the snapshot directories.
 *
 * Invariants:
 *  1. Every op of a gather walks the same schema snapshot (the request's)
 *     in the same order (user keyspaces, then their tables), so table i of
 *     one shard's result is table i of every other's.
 *  2. Rows are sorted by the table's primary key (text by UTF-8 bytes),
 *     as Cassandra's virtual tables order them; all memory is the
 *     request's (or the op's) arena.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec/admin.h"
#include "exec/execInt.h"

/* ---- the tables a gather reports on ---------------------------------- */

static bool user_table(const hln_keyspace *k, const hln_table *t)
{
    return !k->is_system && !t->is_virtual;
}

static int count_tables(const hln_schema *s)
{
    int n = 0;
    for (int i = 0; i < s->nkeyspaces; i++)
        for (int j = 0; j < s->keyspaces[i]->ntables; j++)
            n += user_table(s->keyspaces[i], s->keyspaces[i]->tables[j]);
    return n;
}

int ex_stats_exec(hln_shard *sh, ex_op *op, hln_arena *a)
{
    const hln_schema *s = op->schema;
    ex_shard_stats *x = hln_arena_alloc(a, sizeof *x);
    int n = count_tables(s);
    if (!x) return HLN_ENOMEM;
    x->tabs = hln_arena_alloc(a, sizeof *x->tabs * (size_t)(n ? n : 1));
    if (!x->tabs) return HLN_ENOMEM;
    x->ntabs = n;
    int i = 0;
    for (int ki = 0; ki < s->nkeyspaces; ki++)
        for (int tj = 0; tj < s->keyspaces[ki]->ntables; tj++) {
            const hln_table *t = s->keyspaces[ki]->tables[tj];
            if (!user_table(s->keyspaces[ki], t)) continue;
            ex_shard_table *x_t = &x->tabs[i++];
            x_t->t = t;
            if (sh->store) x_t->has_storage = st_table_stats_get(sh->store, t->id, &x_t->st) == 0;
            ex_metrics_get(sh, t->id, &x_t->lat);
        }
    st_thread_cache_stats(&x->cache);
    int rc = ex_sai_building(sh, s, a, &x->building, &x->nbuilding);
    if (rc) return rc;
    hln_engine *e = sh->eng;
    if (e->net.shard_clients && (rc = e->net.shard_clients(sh, a, &x->clients, &x->nclients)))
        return rc;
    op->stats = x;
    return 0;
}

bool ex_sysviews_estimates(const hln_table *t)
{
    return !strcmp(t->ks, "system") &&
           (!strcmp(t->name, "size_estimates") || !strcmp(t->name, "table_estimates"));
}

bool ex_sysviews_needs_shards(const hln_table *t)
{
    return (!strcmp(t->ks, "system_views") && strcmp(t->name, "settings") != 0 &&
            strcmp(t->name, "snapshots") != 0) ||
           ex_sysviews_estimates(t);
}

void ex_sysviews_gather(ex_request *r, ex_then_fn then)
{
    ex_state *st = ex_st(r);
    for (int i = 0; i < st->eng->nshards; i++) {
        ex_op *op = ex_op_new(r, EX_OP_STATS, i);
        if (!op) {
            ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
            return;
        }
        op->schema = st->schema;
    }
    ex_dispatch(r, then);
}

/* ---- row building ------------------------------------------------------ */

typedef ex_vrows rows;

hln_bytes *ex_vrow_new(ex_vrows *w)
{
    if (w->fail) return NULL;
    if (w->n == w->cap) {
        int ncap = w->cap ? w->cap * 2 : 16;
        hln_bytes **nv = hln_arena_alloc(&w->r->arena, sizeof *nv * (size_t)ncap);
        if (!nv) {
            w->fail = true;
            return NULL;
        }
        if (w->n) memcpy(nv, w->v, sizeof *nv * (size_t)w->n);
        w->v = nv;
        w->cap = ncap;
    }
    hln_bytes *row = hln_arena_alloc(&w->r->arena, sizeof *row * (size_t)w->t->ncols);
    if (!row) {
        w->fail = true;
        return NULL;
    }
    for (int i = 0; i < w->t->ncols; i++)
        row[i] = (hln_bytes){NULL, -1};
    w->v[w->n++] = row;
    return row;
}

void ex_vrow_set(ex_vrows *w, hln_bytes *row, const char *col, hln_bytes v)
{
    const hln_column *c = table_column(w->t, col);
    if (row && c) row[c - w->t->cols] = v;
}

/* col of row: a copy of the n bytes at p */
static void put(rows *w, hln_bytes *row, const char *col, const void *p, size_t n)
{
    if (!row || w->fail) return;
    uint8_t *d = hln_arena_alloc(&w->r->arena, n ? n : 1);
    if (!d) {
        w->fail = true;
        return;
    }
    if (n) memcpy(d, p, n);
    ex_vrow_set(w, row, col, (hln_bytes){d, (int32_t)n});
}

static void put_text(rows *w, hln_bytes *row, const char *col, const char *s)
{
    if (s) put(w, row, col, s, strlen(s));
}

static void put_be(rows *w, hln_bytes *row, const char *col, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    put(w, row, col, b, (size_t)bytes);
}

static void put_bigint(rows *w, hln_bytes *row, const char *col, int64_t v)
{
    put_be(w, row, col, (uint64_t)v, 8);
}

static void put_int(rows *w, hln_bytes *row, const char *col, int32_t v)
{
    put_be(w, row, col, (uint32_t)v, 4);
}

static void put_double(rows *w, hln_bytes *row, const char *col, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_be(w, row, col, u, 8);
}

static void put_bool(rows *w, hln_bytes *row, const char *col, bool v)
{
    uint8_t b = v;
    put(w, row, col, &b, 1);
}

/* frozen<map<text, text>>: [i32 n] then [i32 len][bytes] per key and value */
static void put_text_map(rows *w, hln_bytes *row, const char *col, const hln_option *kv, int n)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u32(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        hln_buf_u32(&b, (uint32_t)strlen(kv[i].key));
        hln_buf_put(&b, kv[i].key, strlen(kv[i].key));
        hln_buf_u32(&b, (uint32_t)strlen(kv[i].value));
        hln_buf_put(&b, kv[i].value, strlen(kv[i].value));
    }
    if (b.err)
        w->fail = true;
    else
        put(w, row, col, b.data, b.len);
    hln_buf_free(&b);
}

/* rows in primary key order: the key columns' bytes, in column order
 * (text by UTF-8 bytes, big-endian integers by value when non-negative,
 * inet by address bytes) */
static int cmp_rows(const void *pa, const void *pb, void *ud)
{
    const hln_table *sort_t = ud;
    const hln_bytes *a = *(hln_bytes *const *)pa, *b = *(hln_bytes *const *)pb;
    for (int i = 0; i < sort_t->ncols; i++) {
        if (sort_t->cols[i].kind != HLN_COL_PARTITION_KEY &&
            sort_t->cols[i].kind != HLN_COL_CLUSTERING)
            continue;
        int32_t la = a[i].len < 0 ? 0 : a[i].len, lb = b[i].len < 0 ? 0 : b[i].len;
        int c = memcmp(a[i].p ? a[i].p : (const uint8_t *)"", b[i].p ? b[i].p : (const uint8_t *)"",
                       (size_t)(la < lb ? la : lb));
        if (c) return c;
        if (la != lb) return la < lb ? -1 : 1;
    }
    return 0;
}

/* ---- the tables ---------------------------------------------------------- */

static void setting_row(void *ud, const char *name, const char *value)
{
    rows *w = ud;
    hln_bytes *row = ex_vrow_new(w);
    put_text(w, row, "name", name);
    put_text(w, row, "value", value);
}

/* Every shard's result, in shard order. */
static int shard_results(ex_request *r, const ex_shard_stats **out, int max)
{
    int n = 0;
    for (const ex_op *op = ex_st(r)->cur; op && n < max; op = op->next_batch)
        if (op->kind == EX_OP_STATS && op->stats) out[n++] = op->stats;
    return n;
}

#define MAX_SHARDS 1024

static uint64_t mib(uint64_t bytes)
{
    return bytes / (1024 * 1024);
}

static void latency_rows(rows *w, const ex_shard_stats *const *sh, int nsh, int kind)
{
    for (int i = 0; nsh > 0 && i < sh[0]->ntabs; i++) {
        const hln_table *t = sh[0]->tabs[i].t;
        ex_table_lat sum;
        memset(&sum, 0, sizeof sum);
        for (int k = 0; k < nsh; k++)
            ex_table_lat_merge(&sum, &sh[k]->tabs[i].lat);
        const ex_hist *h = &sum.recent[kind];
        hln_bytes *row = ex_vrow_new(w);
        put_text(w, row, "keyspace_name", t->ks);
        put_text(w, row, "table_name", t->name);
        put_bigint(w, row, "count", (int64_t)sum.total[kind]);
        put_double(w, row, "max_ms", (double)h->max_us / 1000.0);
        put_double(w, row, "p50th_ms", ex_hist_quantile_us(h, 0.50) / 1000.0);
        put_double(w, row, "p99th_ms", ex_hist_quantile_us(h, 0.99) / 1000.0);
        put_double(w, row, "per_second", sum.window_s > 0 ? (double)h->count / sum.window_s : 0);
    }
}

/* a version-1 UUID for a compaction task: its start time and a node-local
 * sequence (shard, generation) as clock sequence and node */
static void task_id(uint8_t out[16], int64_t started_us, int shard, uint64_t gen)
{
    uint64_t ts = (uint64_t)(started_us * 10) + UINT64_C(0x01B21DD213814000);
    uint32_t lo = (uint32_t)ts;
    uint16_t mid = (uint16_t)(ts >> 32), hi = (uint16_t)(((ts >> 48) & 0x0FFF) | 0x1000);
    out[0] = (uint8_t)(lo >> 24);
    out[1] = (uint8_t)(lo >> 16);
    out[2] = (uint8_t)(lo >> 8);
    out[3] = (uint8_t)lo;
    out[4] = (uint8_t)(mid >> 8);
    out[5] = (uint8_t)mid;
    out[6] = (uint8_t)(hi >> 8);
    out[7] = (uint8_t)hi;
    out[8] = (uint8_t)(0x80 | ((shard >> 8) & 0x3F));
    out[9] = (uint8_t)shard;
    for (int i = 0; i < 6; i++)
        out[10 + i] = (uint8_t)(gen >> (8 * (5 - i)));
}

/* ---- size estimates -------------------------------------------------------
 * system.size_estimates and system.table_estimates: per table and per
 * primary token range of this node, how many partitions it holds and how
 * big they are on average. Cassandra records them every five minutes from
 * its sstables only; here they are made at each read from what the shards
 * hold at that moment, sstables and memtables both, so a table that was
 * just loaded (the Spark connector's first question) is not reported
 * empty. Partitions are Murmur3-hashed, so each shard's count spreads
 * evenly over the token range it owns (rt_shard_for_token): a node range
 * gets each shard's count in the proportion of their overlap. Like
 * Cassandra's, the counts are estimates: a partition in several sstables
 * (or in an sstable and a memtable) counts more than once. */

/* token -> position on the unsigned ring 0..2^64-1, in token order */
static uint64_t ring_pos(int64_t t)
{
    return (uint64_t)t ^ (1ULL << 63);
}

/* The shards' partitions and bytes that fall in the ring positions
 * (lo, hi] (lo < hi), for table i. */
static void range_estimate(const ex_shard_stats *const *sh, int nsh, int i, uint64_t lo,
                           uint64_t hi, long double *parts, long double *bytes)
{
    *parts = 0;
    *bytes = 0;
    const long double ring = 18446744073709551616.0L; /* 2^64 */
    for (int k = 0; k < nsh; k++) {
        /* shard k owns [k * 2^64 / nsh, (k + 1) * 2^64 / nsh) */
        long double s_lo = ring * k / nsh, s_hi = ring * (k + 1) / nsh;
        long double a = (long double)lo > s_lo ? (long double)lo : s_lo;
        long double b = (long double)hi < s_hi ? (long double)hi : s_hi;
        if (b <= a) continue;
        const st_table_stats *x = &sh[k]->tabs[i].st;
        long double share = (b - a) / (s_hi - s_lo);
        *parts += share * (long double)(x->partitions + x->memtable_partitions);
        *bytes += share * (long double)(x->raw_bytes + x->memtable_bytes);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void estimate_rows(rows *w, const hln_node_info *node, const ex_shard_stats *const *sh,
                          int nsh, bool table_estimates)
{
    int nt = node->ntokens;
    if (nt <= 0 || nsh <= 0) return;
    int64_t *tok = hln_arena_alloc(&w->r->arena, sizeof *tok * (size_t)nt);
    if (!tok) {
        w->fail = true;
        return;
    }
    memcpy(tok, node->tokens, sizeof *tok * (size_t)nt);
    qsort(tok, (size_t)nt, sizeof *tok, cmp_i64);
    /* The primary ranges (tok[j-1], tok[j]], and the wrapping one
     * (tok[nt-1], tok[0]] unwrapped as Cassandra does into
     * (tok[nt-1], min] (to the ring's end) and (min, tok[0]]. */
    for (int i = 0; i < sh[0]->ntabs; i++) {
        const hln_table *tb = sh[0]->tabs[i].t;
        for (int j = 0; j <= nt; j++) {
            int64_t start = j == 0 ? INT64_MIN : tok[j - 1];
            int64_t end = j == nt ? INT64_MIN : tok[j];
            uint64_t lo = ring_pos(start), hi = j == nt ? UINT64_MAX : ring_pos(end);
            if (j == 0 && tok[0] == INT64_MIN) continue; /* an empty (min, min] */
            long double parts, bytes;
            range_estimate(sh, nsh, i, lo, hi, &parts, &bytes);
            char s_start[24], s_end[24];
            snprintf(s_start, sizeof s_start, "%lld", (long long)start);
            snprintf(s_end, sizeof s_end, "%lld", (long long)end);
            int64_t count = (int64_t)(parts + 0.5L);
            int64_t mean = parts > 0 ? (int64_t)(bytes / parts + 0.5L) : 0;
            /* table_estimates: the primary ranges, and the local ones (all
               ranges this node replicates: the same on a single node) */
            for (int kind = 0; kind < (table_estimates ? 2 : 1); kind++) {
                hln_bytes *row = ex_vrow_new(w);
                put_text(w, row, "keyspace_name", tb->ks);
                put_text(w, row, "table_name", tb->name);
                if (table_estimates) put_text(w, row, "range_type", kind ? "local" : "primary");
                put_text(w, row, "range_start", s_start);
                put_text(w, row, "range_end", s_end);
                put_bigint(w, row, "mean_partition_size", mean);
                put_bigint(w, row, "partitions_count", count);
            }
        }
    }
}

/* ---- sai_column_indexes ----------------------------------------------- */

static bool building_anywhere(const ex_shard_stats *const *sh, int nsh, const uint8_t id[16])
{
    for (int k = 0; k < nsh; k++)
        for (int i = 0; i < sh[k]->nbuilding; i++)
            if (!memcmp(sh[k]->building + 16 * (size_t)i, id, 16)) return true;
    return false;
}

/* is_string, as Cassandra 5.0 answers it (tests/compat/cases/sai_views.cql):
 * true for text, ascii, boolean, vectors, frozen and composite values (a
 * map's entries), judged on the element a collection index holds (keys(m)
 * the key, values() the element or value); false for numbers, times,
 * uuids. */
static bool sai_literal(const hln_column *col, const hln_index *ix)
{
    const hln_type *ty = col->type;
    if (hln_type_is_collection(ty) && !ty->frozen) {
        if (ix->target == HLN_IX_ENTRIES) return true;
        ty = ix->target == HLN_IX_KEYS || ty->kind != HLN_T_MAP ? ty->params[0] : ty->params[1];
    }
    if (ty->frozen || ty->kind == HLN_T_UDT || ty->kind == HLN_T_TUPLE) return true;
    return ty->kind == HLN_T_VARCHAR || ty->kind == HLN_T_ASCII || ty->kind == HLN_T_BOOLEAN ||
           ty->kind == HLN_T_VECTOR;
}

static bool option_true(const hln_index *ix, const char *key, bool dflt)
{
    const char *v = index_option(ix, key);
    return v ? !strcasecmp(v, "true") : dflt;
}

/* Cassandra's analyzer description: NoOpAnalyzer unless one of the
 * analysis options is given, then the non-tokenizing analyzer with all
 * three. rows' arena holds the text. */
static const char *sai_analyzer(rows *w, const hln_index *ix)
{
    if (!index_option(ix, "case_sensitive") && !index_option(ix, "normalize") &&
        !index_option(ix, "ascii"))
        return "NoOpAnalyzer";
    char buf[96];
    snprintf(buf, sizeof buf, "NonTokenizingAnalyzer{caseSensitive=%s, normalized=%s, ascii=%s}",
             option_true(ix, "case_sensitive", true) ? "true" : "false",
             option_true(ix, "normalize", false) ? "true" : "false",
             option_true(ix, "ascii", false) ? "true" : "false");
    char *s = hln_arena_strndup(&w->r->arena, buf, strlen(buf));
    if (!s) w->fail = true;
    return s;
}

/* One row per storage-attached index of a user table. is_queryable is
 * always true: while a shard builds, its queries are answered by a scan
 * (Cassandra refuses them until the build is done); is_building says
 * whether any shard is still building. */
static void sai_index_rows(rows *w, const hln_schema *schema, const ex_shard_stats *const *sh,
                           int nsh)
{
    for (int ki = 0; ki < schema->nkeyspaces; ki++) {
        const hln_keyspace *k = schema->keyspaces[ki];
        for (int tj = 0; tj < k->ntables; tj++) {
            const hln_table *t = k->tables[tj];
            if (!user_table(k, t)) continue;
            for (int i = 0; i < t->nindexes; i++) {
                const hln_index *ix = &t->indexes[i];
                const hln_column *col = table_column_by_id(t, ix->col_id);
                if (ix->kind != HLN_IXK_SAI || !col) continue;
                hln_bytes *row = ex_vrow_new(w);
                put_text(w, row, "keyspace_name", k->name);
                put_text(w, row, "index_name", ix->name);
                put_text(w, row, "table_name", t->name);
                put_text(w, row, "column_name", col->name);
                put_bool(w, row, "is_queryable", true);
                put_bool(w, row, "is_building", building_anywhere(sh, nsh, ix->id));
                put_bool(w, row, "is_string", sai_literal(col, ix));
                put_text(w, row, "analyzer", sai_analyzer(w, ix));
            }
        }
    }
}

int ex_sysviews_rows(ex_request *r, const hln_table *t, hln_bytes ***out, int *nout)
{
    ex_state *st = ex_st(r);
    rows w = {.r = r, .t = t};
    const ex_shard_stats *sh[MAX_SHARDS];
    int nsh = shard_results(r, sh, MAX_SHARDS);
    const char *name = t->name;
    if (ex_sysviews_estimates(t)) {
        estimate_rows(&w, &st->eng->node, sh, nsh, name[0] == 't');
    } else if (!strcmp(name, "settings")) {
        /* what is in force: setcompactionthroughput changes the limit live */
        hln_config now = st->eng->cfg;
        now.compaction_bps = atomic_load(&st->eng->compaction_bps);
        hln_config_settings(&now, setting_row, &w);
    } else if (!strcmp(name, "snapshots")) {
        ex_snapshot *v = NULL;
        int n = 0;
        if (ex_admin_snapshot_list(st->eng, &v, &n) < 0) w.fail = true;
        for (int i = 0; !w.fail && i < n; i++) {
            hln_bytes *row = ex_vrow_new(&w);
            put_text(&w, row, "name", v[i].tag);
            put_text(&w, row, "keyspace_name", v[i].keyspace);
            put_text(&w, row, "table_name", v[i].table);
            put_bigint(&w, row, "created_at", v[i].created_sec * 1000); /* timestamp: ms */
            put_bool(&w, row, "ephemeral", false);
            put_bigint(&w, row, "size_on_disk", (int64_t)v[i].bytes);
            put_bigint(&w, row, "true_size", (int64_t)v[i].true_bytes);
        }
        hln_free(v);
    } else if (!strcmp(name, "disk_usage") || !strcmp(name, "max_partition_size")) {
        bool disk = name[0] == 'd';
        for (int i = 0; nsh > 0 && i < sh[0]->ntabs; i++) {
            const hln_table *tb = sh[0]->tabs[i].t;
            uint64_t v = 0;
            for (int k = 0; k < nsh; k++) {
                const st_table_stats *x = &sh[k]->tabs[i].st;
                if (disk)
                    v += x->disk_bytes;
                else if (x->max_partition_bytes > v)
                    v = x->max_partition_bytes;
            }
            hln_bytes *row = ex_vrow_new(&w);
            put_text(&w, row, "keyspace_name", tb->ks);
            put_text(&w, row, "table_name", tb->name);
            put_bigint(&w, row, "mebibytes", (int64_t)mib(v));
        }
    } else if (!strcmp(name, "sstable_tasks")) {
        for (int i = 0; nsh > 0 && i < sh[0]->ntabs; i++) {
            const hln_table *tb = sh[0]->tabs[i].t;
            for (int k = 0; k < nsh; k++) {
                const st_table_stats *x = &sh[k]->tabs[i].st;
                if (!x->compacting) continue;
                hln_bytes *row = ex_vrow_new(&w);
                uint8_t id[16];
                task_id(id, x->compact_started_us, k, x->compact_gen);
                char dir[1300];
                snprintf(dir, sizeof dir, "%s/shard-%d/tables", st->eng->cfg.data_dir, k);
                put_text(&w, row, "keyspace_name", tb->ks);
                put_text(&w, row, "table_name", tb->name);
                put(&w, row, "task_id", id, 16);
                double total = (double)x->compact_total;
                put_double(&w, row, "completion_ratio",
                           total > 0 ? (double)x->compact_progress / total : 1.0);
                put_text(&w, row, "kind", "compaction");
                put_bigint(&w, row, "progress", (int64_t)x->compact_progress);
                put_int(&w, row, "sstables", (int32_t)x->compact_inputs);
                put_text(&w, row, "target_directory", dir);
                put_bigint(&w, row, "total", (int64_t)x->compact_total);
                put_bigint(&w, row, "total_compressed", (int64_t)x->compact_total);
                put_text(&w, row, "unit", "bytes");
            }
        }
    } else if (!strcmp(name, "caches")) {
        /* the chunk cache (file_cache_size) is Cassandra's "chunks" */
        st_cache_stats c = {0};
        for (int k = 0; k < nsh; k++) {
            c.capacity_bytes += sh[k]->cache.capacity_bytes;
            c.size_bytes += sh[k]->cache.size_bytes;
            c.requests += sh[k]->cache.requests;
            c.hits += sh[k]->cache.hits;
            c.entries += sh[k]->cache.entries;
        }
        hln_bytes *row = ex_vrow_new(&w);
        put_text(&w, row, "name", "chunks");
        put_bigint(&w, row, "capacity_bytes", (int64_t)c.capacity_bytes);
        put_int(&w, row, "entry_count", (int32_t)c.entries);
        put_bigint(&w, row, "hit_count", (int64_t)c.hits);
        put_double(&w, row, "hit_ratio", c.requests ? (double)c.hits / (double)c.requests : NAN);
        put_bigint(&w, row, "recent_hit_rate_per_second", 0);
        put_bigint(&w, row, "recent_request_rate_per_second", 0);
        put_bigint(&w, row, "request_count", (int64_t)c.requests);
        put_bigint(&w, row, "size_bytes", (int64_t)c.size_bytes);
    } else if (!strcmp(name, "thread_pools")) {
        /* Helenus's threads: a request loop per shard, and per shard one
           flush and one compaction worker */
        int compacting = 0;
        uint64_t compactions = 0, flushes = 0, reqs = 0;
        for (int k = 0; k < nsh; k++)
            for (int i = 0; i < sh[k]->ntabs; i++) {
                compacting += sh[k]->tabs[i].st.compacting;
                compactions += sh[k]->tabs[i].st.compactions;
                flushes += sh[k]->tabs[i].st.flushes;
                for (int q = 0; q < EX_LAT_KINDS; q++)
                    if (q <= EX_LAT_COORD_SCAN) reqs += sh[k]->tabs[i].lat.total[q];
            }
        struct {
            const char *name;
            int active, limit;
            uint64_t done;
        } pools[] = {
            {"CompactionExecutor", compacting, nsh, compactions},
            {"MemtableFlushWriter", 0, nsh, flushes},
            {"Native-Transport-Requests", 0, nsh, reqs},
        };
        for (size_t i = 0; i < HLN_ARRAY_LEN(pools); i++) {
            hln_bytes *row = ex_vrow_new(&w);
            put_text(&w, row, "name", pools[i].name);
            put_int(&w, row, "active_tasks", pools[i].active);
            put_int(&w, row, "active_tasks_limit", pools[i].limit);
            put_bigint(&w, row, "blocked_tasks", 0);
            put_bigint(&w, row, "blocked_tasks_all_time", 0);
            put_bigint(&w, row, "completed_tasks", (int64_t)pools[i].done);
            put_int(&w, row, "pending_tasks", 0);
        }
    } else if (!strcmp(name, "sai_column_indexes")) {
        sai_index_rows(&w, st->schema, sh, nsh);
    } else if (!strcmp(name, "clients")) {
        for (int k = 0; k < nsh; k++)
            for (int i = 0; i < sh[k]->nclients; i++) {
                const hln_client_info *c = &sh[k]->clients[i];
                hln_bytes *row = ex_vrow_new(&w);
                put(&w, row, "address", c->address, (size_t)c->address_len);
                put_int(&w, row, "port", c->port);
                put_text_map(&w, row, "client_options", c->options, c->noptions);
                put_text(&w, row, "connection_stage", c->stage);
                put_text(&w, row, "driver_name", c->driver_name);
                put_text(&w, row, "driver_version", c->driver_version);
                put_text(&w, row, "hostname",
                         c->address_len == 4 && c->address[0] == 127 && c->address[1] == 0 &&
                                 c->address[2] == 0 && c->address[3] == 1
                             ? "localhost"
                             : NULL);
                put_text(&w, row, "keyspace_name", c->keyspace);
                put_int(&w, row, "protocol_version", c->protocol_version);
                put_bigint(&w, row, "request_count", (int64_t)c->request_count);
                put_text(&w, row, "ssl_cipher_suite", c->ssl_cipher);
                put_bool(&w, row, "ssl_enabled", c->ssl);
                put_text(&w, row, "ssl_protocol", c->ssl_protocol);
                put_text(&w, row, "username", c->username ? c->username : "anonymous");
            }
    } else {
        static const struct {
            const char *name;
            int kind;
        } lat[] = {
            {"coordinator_read_latency", EX_LAT_COORD_READ},
            {"coordinator_write_latency", EX_LAT_COORD_WRITE},
            {"coordinator_scan_latency", EX_LAT_COORD_SCAN},
            {"local_read_latency", EX_LAT_LOCAL_READ},
            {"local_write_latency", EX_LAT_LOCAL_WRITE},
            {"local_scan_latency", EX_LAT_LOCAL_SCAN},
        };
        size_t i = 0;
        while (i < HLN_ARRAY_LEN(lat) && strcmp(lat[i].name, name) != 0)
            i++;
        if (i == HLN_ARRAY_LEN(lat))
            return hln_fail(&r->err, HLN_ENOTFOUND, "no rows for system_views.%s", name);
        latency_rows(&w, sh, nsh, lat[i].kind);
    }
    if (w.fail) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (w.n > 1) qsort_r(w.v, (size_t)w.n, sizeof *w.v, cmp_rows, (void *)t);
    *out = w.v;
    *nout = w.n;
    return 0;
}
