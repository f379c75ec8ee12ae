/*
 * stress.h — shared between helenus-stress's runner (stress.c) and its
 * workloads (workloads.c). Private to the tool.
 */
#ifndef HLN_TOOLS_STRESS_H
#define HLN_TOOLS_STRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"

/* ---- a small, fast, seedable PRNG (xoshiro256**) ------------------------ */
typedef struct st_rng {
    uint64_t s[4];
} st_rng;

void st_rng_seed(st_rng *r, uint64_t seed);
uint64_t st_rand(st_rng *r);
double st_rand01(st_rng *r);              /* [0, 1) */
uint64_t st_below(st_rng *r, uint64_t n); /* [0, n), n > 0 */
double st_gauss(st_rng *r);               /* standard normal */
uint64_t st_mix64(uint64_t x);            /* a bijective 64-bit hash */

/* ---- settings ------------------------------------------------------------- */
enum { ST_DIST_DEFAULT = 0, ST_DIST_SEQ, ST_DIST_UNIFORM };

typedef struct st_settings {
    const char *host;
    int port;
    int connections; /* per thread */
    int concurrency; /* requests in flight per connection */
    int threads;
    int64_t ops;       /* measured ops (0: by duration) */
    double duration_s; /* measured seconds (0: by ops) */
    double rate;       /* target ops/s over all threads (0: closed loop) */
    double warmup_s;
    const char *workload;
    int64_t keys; /* 0: the workload's default */
    uint64_t seed;
    const char *json;
    int consistency;
    int timeout_ms;
    int dist;       /* ST_DIST_* */
    int value_size; /* standard1 column / feature value bytes */
    int blob_size;  /* blob-* bytes per image */
    int dim;        /* vector dimension */
    int queries;    /* vector-ann: distinct query vectors */
    bool no_schema; /* skip schema creation */
    bool quiet;
} st_settings;

/* ---- an operation ---------------------------------------------------------- */
#define ST_MAX_VALS 8

typedef struct st_op {
    int stmt; /* index into the workload's prepared statements */
    int nvals;
    hln_bytes vals[ST_MAX_VALS];
    bool is_read;
    int64_t tag;           /* workload data carried to check() (e.g. the query index) */
    uint8_t scratch[4096]; /* room for small values; big ones point into pools */
} st_op;

/* What a result check needs to know about its operation. */
typedef struct st_opinfo {
    bool is_read;
    int64_t tag;
} st_opinfo;

/* Data shared (read-only during the run) by every worker thread. */
typedef struct st_shared {
    const st_settings *set;
    int64_t keys;
    int64_t start_ms; /* wall clock at start, for time-series writes */
    uint8_t *pool;    /* random bytes for values */
    size_t pool_len;
    char *text; /* printable text for text values */
    size_t text_len;
    /* vector workloads */
    float *base;    /* keys x dim, unit length */
    float *qvecs;   /* queries x dim */
    int32_t *truth; /* queries x 10 ids, exact top-10 by cosine */
} st_shared;

/* Per-thread statistics the workloads add to. */
typedef struct st_wstats {
    int64_t rows;
    int64_t empty_reads;
    int64_t bytes_read;    /* value bytes in ROWS results */
    int64_t bytes_written; /* value bytes bound to writes */
    double recall_sum;
    int64_t recall_n;
    int64_t check_failures; /* results that did not look right */
} st_wstats;

typedef struct st_workload {
    const char *name;
    const char *summary;
    const char *const *schema; /* DDL, NULL-terminated */
    const char *const *stmts;  /* prepared, NULL-terminated */
    int64_t default_keys;
    bool reads;    /* mostly reads: default key distribution uniform */
    unsigned uses; /* bit i: stmts[i] is used (only those are prepared) */
    /* optional: build shared data after the schema exists (e.g. ground truth) */
    int (*setup)(st_shared *sh, hln_error *err);
    /* fills op for operation number opno (rng: the worker's) */
    void (*next)(const st_shared *sh, st_rng *rng, uint64_t opno, st_op *op);
    /* optional: looks at a successful result of op */
    void (*check)(const st_shared *sh, const st_opinfo *op, const cc_result *r, st_wstats *ws);
} st_workload;

const st_workload *st_find_workload(const char *name);
void st_list_workloads(void);
/* Builds the random pools every workload may use. */
int st_shared_init(st_shared *sh, const st_settings *set, const st_workload *w, hln_error *err);
void st_shared_free(st_shared *sh);
/* key index for op opno under the chosen distribution */
uint64_t st_pick_key(const st_shared *sh, st_rng *rng, uint64_t opno, bool reads);

#endif
