/*
 * vbench.c — helenus-vbench: vector search through the embedded API, for
 * bench/vector (the same data set the in-process libraries are measured on).
 *
 * Usage: helenus-vbench DATASET_DIR DATA_DIR [--shards N] [--filters 1] [--repeat R]
 *
 * DATASET_DIR holds what bench/vector/dataset.py writes: meta.json (n, nq,
 * dim, k), base.f32 (n x dim little-endian floats), query.f32 (nq x dim),
 * gt.i32 (nq x k exact neighbours by cosine). The program opens a fresh
 * Helenus data directory in-process (hln_open), creates a table with a
 * storage-attached vector index (cosine), inserts every base vector with a
 * bound INSERT (timed: insert throughput includes building the graph, as
 * the index exists first), waits until the load's compactions are done
 * (system_views.sstable_tasks empty), then runs every query once as
 * `SELECT id FROM t ORDER BY v ANN OF ? LIMIT k` (timed one at a time:
 * QPS of a single client, latency percentiles) and prints one JSON object:
 * insert rate, QPS, p50/p99 latency, recall@k, and the process's peak RSS;
 * after the close one more line with the data directory's disk use.
 *
 * --repeat R: the query set runs R times over (QPS and percentiles over
 * all R x nq queries; a steadier figure when the set is small).
 *
 * --filters 1: the table is CassIO's shape instead, with a metadata_s
 * map<text, text> indexed by entries(metadata_s), and every row carries
 * {'p10': y|n, 'p1': ..., 'p01': ...} true for 10%, 1% and 0.1% of the
 * rows (id % 10, % 100, % 1000 == 0). After the unfiltered queries, the
 * first 200 queries (times --repeat) run again as
 * `WHERE metadata_s['pX'] = 'y' ORDER BY v ANN OF ? LIMIT k` per share,
 * recall against a brute-force top k of the rows holding the term; one
 * more JSON line per share.
 *
 * Why through CQL text and hln_exec: that is what an embedded user calls;
 * the figure includes parsing, planning, the hop to the shard thread, the
 * graph search, the check of every candidate against storage and the
 * result rows, so it is the honest end-to-end number.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "helenus.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* du of the data directory after the close (nftw's callback) */
static long long du_bytes;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)path;
    (void)f;
    if (flag == FTW_F) du_bytes += (long long)st->st_blocks * 512;
    return 0;
}

static void *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vbench: cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "vbench: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static long meta_int(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p) {
        fprintf(stderr, "vbench: meta.json has no %s\n", key);
        exit(1);
    }
    return strtol(p + strlen(pat), NULL, 10);
}

/* little-endian host floats -> a vector<float, dim> value (big-endian) */
static void to_be(const float *v, int dim, unsigned char *out)
{
    for (int i = 0; i < dim; i++) {
        unsigned int u;
        memcpy(&u, &v[i], 4);
        out[4 * i] = (unsigned char)(u >> 24);
        out[4 * i + 1] = (unsigned char)(u >> 16);
        out[4 * i + 2] = (unsigned char)(u >> 8);
        out[4 * i + 3] = (unsigned char)u;
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define CHECK(db, call)                                                                            \
    do {                                                                                           \
        if ((call) != HLN_OK) {                                                                    \
            fprintf(stderr, "vbench: %s failed: %s\n", #call, hln_db_errmsg(db));                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct bf {
    float d;
    long id;
} bf;

static int cmp_bf(const void *a, const void *b)
{
    const bf *x = a, *y = b;
    return x->d > y->d ? -1 : x->d < y->d;
}

/* The filtered queries of --filters (base vectors are unit length). */
static void filtered(hln_db *db, const float *base, const float *qs, long n, long nq, long dim,
                     long k, unsigned char *buf, int repeat)
{
    static const struct {
        const char *key, *name;
        long mod;
    } shares[] = {{"p10", "10%", 10}, {"p1", "1%", 100}, {"p01", "0.1%", 1000}};
    long nrun = nq * repeat;
    double *lat = malloc(sizeof(double) * (size_t)nrun);
    bf *pool = malloc(sizeof(bf) * (size_t)(n / 10 + 1));
    for (int s = 0; s < 3; s++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT id FROM vb.t WHERE metadata_s['%s'] = 'y' ORDER BY v ANN OF ? LIMIT %ld",
                 shares[s].key, k);
        long found = 0, want = 0;
        double busy = 0; /* the queries' own time (the brute force is not timed) */
        for (long r = 0; r < nrun; r++) {
            long q = r % nq;
            const float *qv = qs + q * dim;
            to_be(qv, (int)dim, buf);
            hln_value v = hln_blob(buf, (size_t)dim * 4);
            hln_result *res;
            double a = now_s();
            CHECK(db, hln_exec(db, sql, &v, 1, &res));
            lat[r] = now_s() - a;
            busy += lat[r];
            double qn = 0;
            for (long j = 0; j < dim; j++)
                qn += (double)qv[j] * qv[j];
            long np = 0;
            for (long i = 0; i < n; i += shares[s].mod) {
                double d = 0;
                for (long j = 0; j < dim; j++)
                    d += (double)qv[j] * base[i * dim + j];
                pool[np++] = (bf){(float)(d / sqrt(qn)), i};
            }
            qsort(pool, (size_t)np, sizeof *pool, cmp_bf);
            long top = np < k ? np : k;
            want += top;
            while (hln_result_next(res)) {
                long id = (long)hln_result_int64(res, 0);
                for (long j = 0; j < top; j++)
                    if (pool[j].id == id) {
                        found++;
                        break;
                    }
            }
            hln_result_free(res);
        }
        qsort(lat, (size_t)nrun, sizeof *lat, cmp_d);
        printf("{\"engine\": \"helenus-embedded\", \"filter\": \"%s\", \"nq\": %ld, "
               "\"qps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
               "\"recall\": %.4f}\n",
               shares[s].name, nrun, (double)nrun / busy, lat[nrun / 2] * 1e3,
               lat[(nrun * 99) / 100] * 1e3, want ? (double)found / (double)want : 1.0);
        fflush(stdout);
    }
    free(lat);
    free(pool);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: helenus-vbench DATASET_DIR DATA_DIR [--shards N]\n");
        return 2;
    }
    const char *ds = argv[1], *dir = argv[2];
    int shards = 1, filters = 0, repeat = 1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--shards")) shards = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 1;
        if (!strcmp(argv[i], "--filters")) filters = atoi(argv[i + 1]);
    }
    size_t mlen, blen, qlen, glen;
    char *meta = slurp(ds, "meta.json", &mlen);
    meta = realloc(meta, mlen + 1);
    meta[mlen] = 0;
    long n = meta_int(meta, "n"), nq = meta_int(meta, "nq"), dim = meta_int(meta, "dim"),
         k = meta_int(meta, "k");
    float *base = slurp(ds, "base.f32", &blen);
    float *qs = slurp(ds, "query.f32", &qlen);
    int *gt = slurp(ds, "gt.i32", &glen);
    if (blen != (size_t)(n * dim * 4) || qlen != (size_t)(nq * dim * 4) ||
        glen != (size_t)(nq * k * 4)) {
        fprintf(stderr, "vbench: data files do not match meta.json\n");
        return 1;
    }
    hln_open_options o = {.shards = shards};
    hln_db *db;
    if (hln_open(dir, &o, &db) != HLN_OK) {
        fprintf(stderr, "vbench: open %s: %s\n", dir, hln_db_errmsg(db));
        return 1;
    }
    char sql[256];
    CHECK(db, hln_exec(db,
                       "CREATE KEYSPACE IF NOT EXISTS vb WITH replication = "
                       "{'class': 'SimpleStrategy', 'replication_factor': 1}",
                       NULL, 0, NULL));
    snprintf(sql, sizeof sql, "CREATE TABLE vb.t (id int PRIMARY KEY, v vector<float, %ld>%s)", dim,
             filters ? ", metadata_s map<text, text>" : "");
    CHECK(db, hln_exec(db, sql, NULL, 0, NULL));
    if (filters)
        CHECK(db, hln_exec(db,
                           "CREATE CUSTOM INDEX t_m ON vb.t (entries(metadata_s)) USING "
                           "'StorageAttachedIndex'",
                           NULL, 0, NULL));
    CHECK(db, hln_exec(db,
                       "CREATE CUSTOM INDEX t_v ON vb.t (v) USING 'StorageAttachedIndex' "
                       "WITH OPTIONS = {'similarity_function': 'cosine'}",
                       NULL, 0, NULL));
    unsigned char *buf = malloc((size_t)dim * 4);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        to_be(base + i * dim, (int)dim, buf);
        hln_value v[2] = {hln_int((int32_t)i), hln_blob(buf, (size_t)dim * 4)};
        if (filters) {
            char ins[256];
            snprintf(ins, sizeof ins,
                     "INSERT INTO vb.t (id, v, metadata_s) VALUES (?, ?, {'p10': '%c', 'p1': '%c', "
                     "'p01': '%c'})",
                     i % 10 ? 'n' : 'y', i % 100 ? 'n' : 'y', i % 1000 ? 'n' : 'y');
            CHECK(db, hln_exec(db, ins, v, 2, NULL));
        } else {
            CHECK(db, hln_exec(db, "INSERT INTO vb.t (id, v) VALUES (?, ?)", v, 2, NULL));
        }
    }
    double load_s = now_s() - t0;
    /* the queries start once the load's compactions are done (as a
       steady-state reader would find the node; on two cores a compaction
       running beside the queries would halve them) */
    double s0 = now_s();
    for (int quiet = 0; quiet < 2 && now_s() - s0 < 300;) {
        hln_result *tasks;
        CHECK(db, hln_exec(db, "SELECT task_id FROM system_views.sstable_tasks", NULL, 0, &tasks));
        quiet = hln_result_rows(tasks) ? 0 : quiet + 1;
        hln_result_free(tasks);
        if (quiet < 2) {
            struct timespec ts = {0, 500000000};
            nanosleep(&ts, NULL);
        }
    }
    double settle_s = now_s() - s0;
    snprintf(sql, sizeof sql, "SELECT id FROM vb.t ORDER BY v ANN OF ? LIMIT %ld", k);
    long nrun = nq * repeat;
    double *lat = malloc(sizeof(double) * (size_t)nrun);
    long found = 0;
    double q0 = now_s();
    for (long r = 0; r < nrun; r++) {
        long q = r % nq;
        to_be(qs + q * dim, (int)dim, buf);
        hln_value v = hln_blob(buf, (size_t)dim * 4);
        hln_result *res;
        double a = now_s();
        CHECK(db, hln_exec(db, sql, &v, 1, &res));
        lat[r] = now_s() - a;
        while (hln_result_next(res)) {
            int id = (int)hln_result_int64(res, 0);
            for (long j = 0; j < k; j++)
                if (gt[q * k + j] == id) {
                    found++;
                    break;
                }
        }
        hln_result_free(res);
    }
    double query_s = now_s() - q0;
    qsort(lat, (size_t)nrun, sizeof *lat, cmp_d);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\": \"helenus-embedded\", \"n\": %ld, \"dim\": %ld, \"nq\": %ld, \"k\": %ld, "
           "\"shards\": %d, \"insert_per_s\": %.1f, \"build_s\": %.3f, \"qps\": %.1f, "
           "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"recall\": %.4f, \"peak_rss_mb\": %.1f, "
           "\"settle_s\": %.1f}\n",
           n, dim, nrun, k, shards, (double)n / load_s, load_s, (double)nrun / query_s,
           lat[nrun / 2] * 1e3, lat[(nrun * 99) / 100] * 1e3, (double)found / (double)(nrun * k),
           (double)ru.ru_maxrss / 1024.0, settle_s);
    if (filters) filtered(db, base, qs, n, nq < 200 ? nq : 200, dim, k, buf, repeat);
    CHECK(db, hln_close(db));
    /* the disk a clean stop leaves: sstables (the rows, vectors included),
       the index snapshots, an empty commitlog */
    nftw(dir, du_one, 16, FTW_PHYS);
    printf("{\"engine\": \"helenus-embedded\", \"n\": %ld, \"disk_mb\": %.1f}\n", n,
           (double)du_bytes / (1024.0 * 1024.0));
    free(buf);
    free(lat);
    free(base);
    free(qs);
    free(gt);
    free(meta);
    return 0;
}
