/*
 * execInt.h — private interface shared by the exec module's files.
 *
 * What: the plan the analyzer produces (analyze.c), the per-request state
 * (exec.c), the coordinator's shard operations (coord.c), and the entry
 * points of each statement family's executor (ddl.c, dml.c, select.c).
 *
 * Flow of one request:
 *     exec.c    parse (cql_parse) -> ex_analyze -> values bound -> ex_run
 *     analyze.c statement + snapshot -> ex_plan (columns resolved, bind specs)
 *     ddl.c / dml.c / select.c: plan + values -> shard operations
 *     coord.c   operations dispatched (inline on this shard, by message to
 *               others), replies counted, then the statement's continuation
 *               builds the result and calls ex_finish.
 *
 * Invariants:
 *  1. A request's state (ex_state) and plan live in r->arena and are touched
 *     only on r->shard's thread.
 *  2. ex_finish calls r->done exactly once and is the last thing any code
 *     path does with r: after it, the caller may free r from another thread.
 *  3. An ex_op travels origin -> target -> origin by rt_post; while it is
 *     away, only the target touches it, and the origin touches nothing the
 *     op points at. Remote ops own an arena for their inputs and outputs,
 *     freed with the request.
 */
#ifndef HLN_EXEC_INT_H
#define HLN_EXEC_INT_H

#include "cql/cql.h"
#include "exec/exec.h"
#include "storage/storage.h"

/* ---- plan ------------------------------------------------------------- */

/* The restrictions WHERE puts on one column, merged (Cassandra's rules: an
 * equality excludes anything else; at most one lower and one upper bound). */
typedef struct ex_restr {
    const cql_term *eq;
    const cql_term *lo, *hi;
    bool lo_incl, hi_incl;
    const struct cql_relation *in; /* c IN (...) / IN ? */
    bool in_is_eq;                 /* the IN is on a non-key column: Cassandra names it an Equal */
    /* CONTAINS / CONTAINS KEY relations on the column, always filtered */
    const struct cql_relation *contains[8];
    int ncontains;
    /* m[k] = v relations on a map column, always filtered (or indexed) */
    const struct cql_relation *entries[8];
    int nentries;
} ex_restr;

/* A row filter: column index in t->cols, operator, term. Its value is bound
 * per execution into the executor's state (select.c), never into the plan. */
typedef struct ex_filter {
    int col;
    cql_op op;
    const cql_term *term;
    const cql_term *key;           /* m[key] = term (a map entry); NULL otherwise */
    const struct cql_relation *in; /* op IN: the relation (its list or marker) */
    int mc_n; /* op IN of the plan's (c1, .., cn) IN (mc_in), filtered: n; col is c1 */
    /* a multi-column slice (c1, .., cn) op (v1, .., vn) checked row by row
       (op < <= > >=; col is c1, mc_n is n): the tuple of the row's values
       compared with the terms' in the columns' value order, whatever their
       clustering order */
    cql_term *const *mc_terms;
    const cql_term *mc_tuple; /* or one marker for the whole tuple */
    unsigned fold;            /* EX_FOLD_*: text compared in the analyzed form of an
                                 index that serves the column (textfold.c) */
} ex_filter;

/* An assignment (INSERT value / UPDATE SET) or a deletion (DELETE c:
 * term NULL; DELETE c[key]: op ELEM, term NULL, key set).
 *   SET      c = term
 *   ADD      c = c + term (collections: elements added / appended)
 *   PREPEND  l = term + l
 *   SUB      c = c - term (set elements, map keys, list values removed)
 *   ELEM     c[key] = term (map entry, list element by index) */
typedef struct ex_assign {
    int col; /* index in t->cols */
    const cql_term *term;
    cql_assign_op op;
    const cql_term *key;
    int field; /* u.f = v, DELETE u.f on a non-frozen UDT: f's index; else -1 */
} ex_assign;

/* An IF condition of a conditional update (LWT): column op term, or
 * column[elem] op term, or column IN (in_list) / IN term (a marker). */
typedef struct ex_cond {
    int col; /* index in t->cols */
    cql_op op;
    const cql_term *term;
    cql_term *const *in_list;
    int nin;
    const cql_term *elem;
    int field; /* c.f op v: f's index in the UDT; else -1 */
} ex_cond;

/* What a conditional update checks before writing (cas.c). */
typedef enum ex_cas_kind {
    EX_CAS_NONE,
    EX_CAS_NOT_EXISTS, /* INSERT ... IF NOT EXISTS */
    EX_CAS_EXISTS,     /* UPDATE/DELETE ... IF EXISTS */
    EX_CAS_CONDS,      /* UPDATE/DELETE ... IF c = v AND ... */
} ex_cas_kind;

/* A selected expression: a column, a scalar function of one row, or an
 * aggregate over every row of the result. */
typedef enum ex_sel_kind {
    EX_SEL_COLUMN,     /* col */
    EX_SEL_TOKEN,      /* token(partition key) */
    EX_SEL_WRITETIME,  /* writetime(col): the cell's timestamp */
    EX_SEL_TTL,        /* ttl(col): the cell's remaining TTL in seconds */
    EX_SEL_FUNC,       /* a native scalar function of selectors (args[i].sub) */
    EX_SEL_CONST,      /* a constant term (args[0].term) bound to `type` */
    EX_SEL_OP,         /* args[0].sub op args[1].sub, of type `type`; op 'n': -args[0] */
    EX_SEL_CAST,       /* CAST(args[0].sub AS type) */
    EX_SEL_ELEM,       /* col[term]: an element of a set or map (args[0].term) */
    EX_SEL_FIELD,      /* col.f: field number `field` of a UDT */
    EX_SEL_TOJSON,     /* toJson(col): the column's value as JSON text */
    EX_SEL_COUNT_ROWS, /* count(*), COUNT(1) */
    EX_SEL_COUNT,      /* count(col): rows where col is not null */
    EX_SEL_MIN,        /* min(col) */
    EX_SEL_MAX,        /* max(col) */
    EX_SEL_SUM,        /* sum(col), numeric columns */
    EX_SEL_AVG,        /* avg(col), numeric columns */
} ex_sel_kind;

/* An argument of a function selector: a column, a constant term bound
 * to the function's argument type, or a nested selector (sub). */
typedef struct ex_selarg {
    int col; /* index in t->cols, or -1 */
    const cql_term *term;
    const hln_type *type;     /* what the argument is bound/checked as */
    const struct ex_sel *sub; /* a nested selector (function call, arithmetic, cast) */
} ex_selarg;

typedef struct ex_sel {
    ex_sel_kind kind;
    int col;                /* index in t->cols; -1 for TOKEN and COUNT_ROWS */
    const struct ex_fn *fn; /* EX_SEL_FUNC */
    ex_selarg *args;
    int nargs;
    int field;            /* EX_SEL_FIELD */
    const hln_type *type; /* the result type (CONST, OP, CAST, FUNC) */
    char op;              /* EX_SEL_OP */
    bool max;             /* EX_SEL_WRITETIME: maxwritetime(c) */
    bool has_agg;         /* FUNC/OP/CAST: some argument is (or holds) an aggregate */
    int slot;             /* an aggregate (or a row value) inside such an expression: its
                             index in agg_subs, when slotted */
    bool slotted;
} ex_sel;

typedef struct ex_plan {
    const cql_stmt *stmt;
    cql_stmt_kind kind;
    const char *ks;     /* resolved keyspace (DDL, DML, SELECT, USE) */
    const hln_table *t; /* DML and SELECT */

    /* bind markers: one spec per marker (name, type), and for
       DML/SELECT the marker giving each partition key column */
    ex_colspec *binds;
    int nbinds;
    int *pk_indexes;
    int npk_indexes;

    /* DML and SELECT: equality terms of the partition key (t->npk entries,
       NULL where absent) and of the clustering prefix used for slicing */
    const cql_term **pk;
    const cql_term **ck; /* t->nck entries; ck[0..nck_eq-1] set */
    int nck_eq;
    /* SELECT: IN relations replacing the equality of a partition key column
       (pk_in, t->npk entries) or of a clustering prefix column (ck_in,
       t->nck entries); NULL where the column is restricted by = */
    const cql_relation **pk_in, **ck_in;
    bool pk_has_in;
    bool keys_have_in; /* UPDATE/DELETE: some key column restricted by IN */
    bool ordered;      /* ORDER BY given */
    /* SELECT: the ORDER BY columns (indexes in t->cols) and their
       directions, norder entries: the order the rows of several partitions
       (IN) are sorted into, when the query is not paged (select.c) */
    const int *order_cols;
    const bool *order_desc;
    int norder;
    /* SELECT: slice on clustering column nck_eq, if any */
    const cql_term *lo, *hi;
    bool lo_incl, hi_incl;
    /* SELECT: a multi-column slice (c1, c2, ...) > (...) on the first
       clustering columns, of one clustering order, read as one storage
       slice (otherwise it is a row filter, ex_filter.mc_terms): lo/hi
       tuples of mc_nlo/mc_nhi terms. DELETE: the slice (after the
       equality prefix ck[0..nck_eq)) whose rows a range deletion removes */
    cql_term *const *mc_lo, *const *mc_hi;
    const cql_term *mc_lo_tuple, *mc_hi_tuple; /* (c1, c2) > ?: the tuple's marker */
    int mc_nlo, mc_nhi;
    bool mc_lo_incl, mc_hi_incl;
    /* (c1, .., cn) IN (...): the relation (tuple terms or one list marker),
       n, and frozen<tuple<c1's type, ..>>; the n columns count in nck_eq */
    const cql_relation *mc_in;
    int mc_in_n;
    const hln_type *mc_in_type;
    ex_filter *filters; /* restrictions checked row by row */
    int nfilters;

    /* DML */
    ex_assign *assigns;
    int nassigns;
    const cql_term *ttl, *ts;
    bool row_marker; /* INSERT */
    /* some assignment needs the row's current cells first (list element by
       index, list removal: Cassandra's "read before write") */
    bool needs_read;
    /* INSERT/UPDATE/DELETE of static columns only, without clustering key:
       the mutation holds just the partition's static row */
    bool static_only;
    /* SELECT: the table has static columns (its static row, ck "", is
       read beside the rows and its cells attached to each of them) */
    bool has_static;
    /* a counter table: UPDATE's counter cells carry deltas, applied by a
       read-modify-write on the owning shard (cas.c) */
    bool counter;
    /* a conditional update (LWT), applied by the same read-modify-write */
    ex_cas_kind cas;
    ex_cond *conds;
    int nconds;
    /* DELETE: EX_DEL_RANGE deletes the rows of the clustering prefix
       ck[0..nck_eq) and, when lo/hi are set, of the slice on the next
       column (a range tombstone) */
    enum { EX_DEL_NONE, EX_DEL_PARTITION, EX_DEL_ROW, EX_DEL_CELLS, EX_DEL_RANGE } del;

    /* SELECT */
    bool pk_lookup; /* every partition key column given by = */
    bool reversed;
    bool distinct;
    const cql_term *limit, *pp_limit;
    int *proj; /* the column of each selector (sels[i].col; -1 when none) */
    int nproj;
    ex_colspec *cols; /* result metadata, nproj entries */
    ex_sel *sels;     /* what each result column is, nproj entries */
    bool aggregate;   /* some selector aggregates: one result row (per group) */
    /* the aggregates inside scalar expressions (intAsBlob(sum(i))): each
       accumulated like a selector, the expression evaluated on their
       results when the group ends; row values in such expressions
       (sum(i) + i) are here too, taken from the group's first row */
    const ex_sel **agg_subs;
    int nagg_subs;
    int group_cols; /* GROUP BY: the first group_cols primary-key columns, 0: none */
    /* SELECT JSON: each row becomes one text column [json] (json_col) */
    bool json;
    ex_colspec *json_col;
    /* INSERT JSON: the document's term; column i's value is synthetic
       marker json_base + i (exec/json.c fills them) */
    const cql_term *json_term;
    int json_base;
    bool json_unset; /* DEFAULT UNSET */
    /* SELECT on token(partition key): at most one equality or one bound
       per side, bigint terms; the query scans the token range */
    bool token_range;
    const cql_term *tok_eq, *tok_lo, *tok_hi;
    bool tok_lo_incl, tok_hi_incl;
    /* SELECT ... ORDER BY c ANN OF term LIMIT k (vector search, sai.c):
       rows ordered by the similarity of vector column ann_col to the bound
       vector under the metric (ix_metric) of its storage-attached index
       ann_ix; at most k (LIMIT, <= 1000) rows, one page */
    bool ann;
    int ann_col;
    const cql_term *ann_term;
    const hln_index *ann_ix;
    int ann_metric;

    /* BEGIN BATCH: one plan per statement (they share binds); ts is the
       batch's USING TIMESTAMP */
    struct ex_plan **children;
    int nchildren;
} ex_plan;

/* An authorisation verdict remembered by a prepared plan (access.c): the
 * result of ex_authorize for one role (and, for BEGIN BATCH, the request's
 * keyspace, which unqualified tables resolve against), valid while the
 * schema snapshot and the auth store's version (auth_version) are those it
 * was computed under. */
typedef struct ex_verdict {
    char *key; /* role NUL keyspace, hln_malloc'ed; NULL: free slot */
    size_t keylen;
    uint8_t schema_version[16];
    uint64_t auth_version;
    int rc;    /* 0 or HLN_EUNAUTHORIZED */
    char *msg; /* the denial's exact message, hln_malloc'ed; NULL when allowed */
} ex_verdict;
enum { EX_VERDICTS = 4 };

/* A prepared statement analyzed once for a schema snapshot (plancache.c):
 * text, keyspace, syntax tree and plan all in `arena`, which lives as long
 * as the last reference. Read-only once built, except `verdicts`, which
 * only the owning shard's thread touches. */
typedef struct ex_cached_plan {
    _Atomic int refs;
    hln_arena arena;
    hln_schema *schema; /* retained; the plan is valid for it only */
    const char *text;   /* arena */
    size_t textlen;
    const char *ks; /* arena, NULL when none */
    const cql_stmt *stmt;
    const ex_plan *plan;
    ex_verdict verdicts[EX_VERDICTS]; /* access.c: ex_authorize_plan */
    int next_verdict;                 /* round-robin replacement */
} ex_cached_plan;

/* The entry of id valid for snapshot `schema`, with a reference the caller
 * drops with ex_cached_plan_unref; NULL on a miss (an entry of another
 * snapshot is dropped). Shard thread only. */
ex_cached_plan *ex_plan_cache_get(hln_shard *s, const uint8_t id[16], const hln_schema *schema);
/* Caches cp (taking a reference of its own) under id, evicting the least
 * recently used entry when full. Shard thread only. */
void ex_plan_cache_put(hln_shard *s, const uint8_t id[16], ex_cached_plan *cp);
void ex_cached_plan_unref(ex_cached_plan *cp);
/* Drops every entry of the shard's cache (the shard has stopped). */
void ex_plan_cache_free(hln_shard *s);
/* Counts an authorisation of a cached plan: computed, or a remembered
 * verdict reused (ex_plan_cache_stats). Shard thread only. */
void ex_plan_cache_count_auth(hln_shard *s, bool reused);

/* ---- metrics.c: request latencies per table -------------------------- */

enum {
    EX_LAT_COORD_READ,  /* a single-partition SELECT, start to answer */
    EX_LAT_COORD_WRITE, /* INSERT, UPDATE, DELETE */
    EX_LAT_COORD_SCAN,  /* a SELECT over partitions */
    EX_LAT_LOCAL_READ,  /* the storage read on the owning shard */
    EX_LAT_LOCAL_WRITE, /* the storage write */
    EX_LAT_LOCAL_SCAN,  /* one page of a storage scan */
    EX_LAT_KINDS
};
#define EX_HIST_BUCKETS 160

typedef struct ex_hist {
    uint64_t count, sum_us, max_us;
    uint64_t b[EX_HIST_BUCKETS];
} ex_hist;

void ex_hist_add(ex_hist *h, uint64_t us);
void ex_hist_merge(ex_hist *into, const ex_hist *h);
/* The q-quantile (0..1) in µs: its bucket's midpoint, at most the max. */
double ex_hist_quantile_us(const ex_hist *h, double q);

/* One table's latencies (one shard's, or merged over shards). */
typedef struct ex_table_lat {
    ex_hist recent[EX_LAT_KINDS]; /* the current and the previous minute */
    uint64_t total[EX_LAT_KINDS]; /* operations since the shard started */
    double window_s;              /* the seconds recent covers */
} ex_table_lat;

/* On s's thread: one operation of kind on table_id that started at
 * start_ns (hln_mono_nanos) and ends now. */
void ex_metrics_record(hln_shard *s, const uint8_t table_id[16], int kind, int64_t start_ns);
/* On s's thread: s's figures for table_id; false (all zero) if none. */
bool ex_metrics_get(hln_shard *s, const uint8_t table_id[16], ex_table_lat *out);
void ex_table_lat_merge(ex_table_lat *into, const ex_table_lat *x);
/* Adds one shard's storage statistics of a table into sum (the running
 * compaction's progress fields are not summed). */
void ex_stats_add(st_table_stats *sum, const st_table_stats *x);
void ex_metrics_free(hln_shard *s);

/* ---- coordinator ------------------------------------------------------ */

typedef enum ex_op_kind {
    EX_OP_MUTATE,
    EX_OP_MUTATE_BATCH, /* muts[0..nmuts) applied with st_apply_batch */
    EX_OP_READ,
    EX_OP_SCAN,
    EX_OP_DROP,
    EX_OP_CAS,        /* read the row, check, maybe apply (cas.c): atomic on the target */
    EX_OP_TRUNCATE,   /* st_truncate_table(table_id) */
    EX_OP_ANN,        /* the target's nearest rows to a vector (sai.c) */
    EX_OP_ISCAN,      /* EX_OP_SCAN's rows, only those an index has under a term (sai.c) */
    EX_OP_VIEW_BUILD, /* the view rows of the target's base rows (view.c; table_id: the view) */
    EX_OP_STATS       /* the target's statistics for system_views (sysviews.c) */
} ex_op_kind;

/* What an EX_OP_STATS op brings back from its shard (sysviews.c): for each
 * user table of op->schema, in walk order, its storage statistics and
 * latencies; the shard's chunk cache; its client connections. */
typedef struct ex_shard_table {
    const hln_table *t; /* of op->schema */
    bool has_storage;
    st_table_stats st;
    ex_table_lat lat;
} ex_shard_table;

typedef struct ex_shard_stats {
    ex_shard_table *tabs;
    int ntabs;
    /* the storage-attached indexes this shard is still building (their
       graph or term table not through its walk yet): 16-byte ids */
    uint8_t *building;
    int nbuilding;
    st_cache_stats cache;
    hln_client_info *clients;
    int nclients;
} ex_shard_stats;

/* What an index operation asks a shard (sai.c): for EX_OP_ANN the k rows
 * nearest to q under the index's metric; for EX_OP_ISCAN the rows of the
 * scan (op->scan) written with term (the value, or for an entries index
 * comparable(key) || value). The fields up to `fold` describe the index
 * (ex_sai_describe). k 0: a warm-up, start building what is missing. */
typedef struct ex_ann_op {
    uint8_t table_id[16], index_id[16];
    uint32_t col_id;
    int dim, metric; /* a vector index */
    bool terms;      /* a term index: */
    int target;      /*   HLN_IX_SIMPLE or HLN_IX_ENTRIES */
    bool fold;       /*   case-insensitive */
    int k;
    int64_t now_sec;
    float *q; /* dim floats */
    const uint8_t *term;
    uint32_t termlen;
    const hln_schema *schema; /* the request's snapshot (held by it): stale graphs go */
    /* a vector query narrowed by a term (CassIO's metadata_s['k'] = ?): the
       term index and term the rows must hold (EX_OP_ANN, sai.c) */
    const struct ex_ann_op *filt;
    /* a vector query within one partition (WHERE pk = ? ORDER BY v ANN OF
       ..): its key, sent to the shard that owns it alone (ppk NULL: every
       row of the shard may answer) */
    const uint8_t *ppk;
    uint32_t ppklen;
    int64_t ptoken;
} ex_ann_op;

typedef struct ex_op {
    rt_msg msg; /* first member: the message is the op */
    ex_request *r;
    hln_shard *origin;
    int target;
    ex_op_kind kind;
    bool remote;
    hln_arena arena; /* remote ops only */
    /* inputs */
    const st_mutation *mut;
    const st_mutation *muts; /* EX_OP_MUTATE_BATCH */
    uint32_t nmuts;
    hln_buf enc; /* remote mutation (or batch), encoded */
    st_read_cmd read;
    st_scan_cmd scan;
    uint8_t table_id[16];
    struct ex_cas_op *cas;    /* EX_OP_CAS: conditions in, verdict out */
    ex_shard_stats *stats;    /* EX_OP_STATS: out */
    ex_ann_op *ann;           /* EX_OP_ANN */
    const hln_schema *schema; /* the request's snapshot (held by it): views of written tables */
    /* outputs */
    st_partition *parts;
    st_mutation *vmuts; /* view mutations the write produced (view.c), dispatched by coord.c */
    uint32_t nvmuts;
    char *vlog; /* the write's batchlog entry (view.c), removed once its views are applied */
    /* EX_OP_VIEW_BUILD: the page read (op->scan in: the cursor; out: where
       the next page starts, or build_done) */
    bool build_done;
    int64_t build_token;
    const uint8_t *build_pk;
    uint32_t build_pklen;
    int rc;
    hln_error err;
    struct ex_op *next;       /* every op of the request, for freeing */
    struct ex_op *next_batch; /* ops of the current dispatch, in creation order */
    /* a write parked for memtable space (coord.c, "back-pressure"): where
       it runs when it is let through, and until when it may wait */
    struct ex_op *park_next;
    hln_arena *park_arena;
    const st_mutation *park_m; /* &park_mut, or NULL (a batch: muts) */
    st_mutation park_mut;      /* a remote op's decoded mutation (op_run's stack) */
    int64_t park_deadline_ns;  /* hln_mono_nanos */
} ex_op;

typedef void (*ex_then_fn)(ex_request *r);

/* BatchStatement.validate's counter rules for a batch of type (0 logged,
 * 1 unlogged, 2 counter) over plans[0..n): Cassandra 5.0's errors. */
int ex_batch_counter_rules(hln_error *err, int type, const struct ex_plan *const *plans, int n);

/* A conditional BATCH (cas.c): begin with room for n statements; add each
 * statement (st->plan and values set: its mutation in *m, its conditions
 * kept); dispatch with the statements' mutations merged into one (one
 * partition), which finishes the request with Cassandra's result. */
struct ex_cas_op *ex_cas_batch_begin(ex_request *r, int n);
int ex_cas_batch_stmt(ex_request *r, struct ex_cas_op *top, st_mutation **m);
int ex_cas_batch_dispatch(ex_request *r, struct ex_cas_op *top, const st_mutation *m);

/* ---- storage-attached indexes on a shard (sai.c) ---------------------------------- */

/* EX_OP_ANN on shard s: verified nearest rows, one row per partition
 * entry, nearest first, in arena a */
int ex_ann_search(hln_shard *s, ex_ann_op *q, hln_arena *a, st_partition **out, hln_error *err);
void ex_ann_drop_table(hln_shard *s, const uint8_t table_id[16]);
void ex_ann_reconcile(hln_shard *s, const hln_schema *schema);
void ex_ann_warm_all(hln_shard *s, const hln_schema *schema);
/* The index's description for shard operations; false when no shard
 * structure serves it (legacy, static columns, analyzed text...). */
bool ex_sai_describe(const hln_table *t, const hln_index *ix, ex_ann_op *q);
/* The ids (16 bytes each, in a) of the storage-attached indexes of schema
 * that shard s is building: a graph or term table whose walk is not
 * through, or not made yet. Indexes served by a scan (no structure) are
 * never building. */
int ex_sai_building(hln_shard *s, const hln_schema *schema, hln_arena *a, uint8_t **ids, int *n);
/* EX_OP_ISCAN on shard s: op->parts */
int ex_sai_scan(hln_shard *s, ex_op *op, hln_arena *a, hln_error *err);
/* After DDL that made indexes: every shard starts building them (the
 * request finishes with rc once they all have). */
void ex_ann_warm_everywhere(ex_request *r, int rc);
void ex_ann_free(hln_shard *s);
/* A vector written into an indexed column: Cassandra 5.0's SAI refuses
 * non-finite components and, under cosine, zero vectors. */
int ex_ann_check_vector(hln_error *err, const float *v, int dim, int metric);
int ex_ann_check_write(hln_error *err, const hln_table *t, const hln_column *col, const uint8_t *p,
                       int32_t len);
/* a vector<float, dim> value into floats; false on a wrong length */
bool ex_ann_decode(const uint8_t *p, int32_t len, int dim, float *out);

/* ---- request state ---------------------------------------------------- */

typedef struct ex_state {
    hln_engine *eng;
    int64_t t0;         /* hln_mono_nanos at ex_start: the coordinator latency's start */
    hln_schema *schema; /* acquired at start, released with the request */
    const cql_stmt *stmt;
    const ex_plan *plan;          /* read-only: may be a cached plan (plancache.c) */
    struct ex_cached_plan *cplan; /* the cached plan held, or NULL */
    const ex_value *vals;         /* bound values by marker index (names resolved) */
    /* UPDATE/DELETE with IN on key columns: the values of the combination
       being built, npk + nck entries (used where the plan has an IN) */
    const ex_value *key_vals;
    int nvals;
    bool prepared;    /* EXECUTE (affects the bind-count message) */
    const char *text; /* the statement's text (paging states are tied to it) */
    size_t textlen;
    /* coordinator */
    ex_op *ops, *ops_tail;     /* all ops */
    ex_op *batch, *batch_tail; /* ops created since the last dispatch */
    ex_op *cur;                /* ops of the last dispatch (next_batch) */
    int pending;
    ex_then_fn then;
    /* a dispatch whose writes produced view mutations: they are sent in a
       second round, then cur and then are restored (coord.c) */
    bool view_round;
    ex_op *view_saved;
    ex_then_fn view_then;
    void *xs; /* the executor's own state (select.c: bound limits) */
    /* list operations waiting for their row (listops.c), and the
       mutations ex_listops_fetch made of them */
    struct ex_listop *lops;
    int nlops, caplops;
    st_mutation *lmuts;
    int nlmuts;
    uint32_t lseq;
    ex_then_fn lthen;
    /* DDL: ids of dropped tables (hln_malloc'd) */
    uint8_t (*dropped)[16];
    int ndropped;
} ex_state;

static inline ex_state *ex_st(ex_request *r)
{
    return (ex_state *)r->priv;
}

/* Completes the request: sets r->rc (and r->err when rc != 0 and nothing
 * filled it) and calls r->done. Must be the last use of r. */
void ex_finish(ex_request *r, int rc);
/* Sets up the request's state (schema snapshot); on failure finishes the
 * request and returns NULL. */
ex_state *ex_start(ex_request *r);
/* Analyzes stmt (default keyspace ks) into st->plan and binds the values
 * (positional, or by name when names is not NULL) into st->vals. */
int ex_prepare_statement(ex_request *r, const cql_stmt *stmt, const char *ks, ex_value *values,
                         int nvalues, const char **names);
/* The text and keyspace of a prepared statement, copied into r->arena; on
 * an unknown id fills r->err (HLN_EUNPREPARED with the id) and returns it. */
int ex_prepared_lookup(ex_request *r, const uint8_t *id, size_t idlen, const char **text,
                       size_t *len, const char **ks);

/* ---- analyze.c -------------------------------------------------------- */

/* Resolves stmt against st->schema with default keyspace ks (may be NULL).
 * On success *out is arena memory. Errors carry Cassandra's wording. */
int ex_analyze(ex_request *r, const cql_stmt *stmt, const char *ks, const ex_plan **out);
/* The same, with the plan allocated in arena a (a cached plan's: every
 * pointer in the plan is into a, stmt, ks or r's snapshot). */
int ex_analyze_in(ex_request *r, hln_arena *a, const cql_stmt *stmt, const char *ks,
                  const ex_plan **out);

/* A term as Cassandra prints it in messages: 'text', 42, ?, :name, null,
 * [1, 2], {'a': 1}. Arena memory. */
const char *ex_term_str(hln_arena *a, const cql_term *t);

/* Cassandra's ColumnIdentifier.maybeQuote: the name as is when it is a
 * plain lower-case identifier, else double-quoted. Arena memory. */
const char *ex_quote(hln_arena *a, const char *name);

/* ---- values (exec.c) -------------------------------------------------- */

/* Binds a term to a serialized value of type t for column col (messages).
 * NULL literal -> len -1; unset bound value -> len -2. Bound values are
 * validated with hln_type_validate. The value lives in r->arena or in the
 * caller's value buffers. */
int ex_bind(ex_request *r, const cql_term *term, const hln_type *t, const char *col, ex_value *out);
/* A bound int (LIMIT, TTL); *present false when unset. */
int ex_bind_int(ex_request *r, const cql_term *term, const char *what, int32_t *out, bool *present);

/* The next write timestamp of this shard: hln_now_micros(), made strictly
 * increasing per shard thread. */
int64_t ex_next_timestamp(void);

/* ---- sysviews.c: system_views ------------------------------------------- */

/* Rows of a virtual table being built in r's arena (sysviews.c, and the
 * system_auth tables of access.c): every cell null until set. */
typedef struct ex_vrows {
    ex_request *r;
    const hln_table *t;
    hln_bytes **v;
    int n, cap;
    bool fail; /* out of memory: stop, report HLN_ENOMEM */
} ex_vrows;
hln_bytes *ex_vrow_new(ex_vrows *x);
/* column col of row := v (not copied; NULL row or unknown col: nothing) */
void ex_vrow_set(ex_vrows *x, hln_bytes *row, const char *col, hln_bytes v);

/* Whether reading t needs every shard's statistics first. */
bool ex_sysviews_needs_shards(const hln_table *t);
/* system.size_estimates / table_estimates: made from the shards' statistics
 * by ex_sysviews_rows, like system_views. */
bool ex_sysviews_estimates(const hln_table *t);
/* Sends EX_OP_STATS to every shard; then(r) once all are back. */
void ex_sysviews_gather(ex_request *r, ex_then_fn then);
/* On the target: the shard's statistics into op->stats (arena a). */
int ex_stats_exec(hln_shard *sh, ex_op *op, hln_arena *a);
/* Every row of system_views table t (after a gather, when it needs one). */
int ex_sysviews_rows(ex_request *r, const hln_table *t, hln_bytes ***rows, int *nrows);

/* ---- coord.c ---------------------------------------------------------- */

/* A new operation for shard `target` in the current batch (NULL on ENOMEM). */
ex_op *ex_op_new(ex_request *r, ex_op_kind kind, int target);
/* Runs the batch: local ops inline, remote ones by message; calls then(r) on
 * r->shard's thread once every op has completed (possibly before returning).
 * then() must check op results with ex_batch_error. */
void ex_dispatch(ex_request *r, ex_then_fn then);
/* The first failed op's code (its error copied into r->err), or 0. */
int ex_batch_error(ex_request *r);
/* Frees every op of the request. */
void ex_ops_free(ex_request *r);

/* ---- cells.c: non-frozen collections as cells -------------------------- */

/* A growable array of cells in r->arena. */
typedef struct ex_cells {
    st_cell *v;
    uint32_t n, cap;
} ex_cells;
int ex_cells_push(ex_request *r, ex_cells *cv, const st_cell *c);
/* Sorts as storage.h orders cells: column, COLDEL first, path. */
void ex_cells_sort(ex_cells *cv);
/* The cells of one assignment or deletion a on the multi-cell column col
 * (cur: the row's current state for read-before-write operations, may be
 * NULL). Errors carry Cassandra's wording. */
int ex_collection_assign(ex_request *r, const ex_assign *a, const hln_column *col, int64_t ts,
                         int32_t ttl, int64_t now_sec, ex_cells *cv);

/* ---- list operations that read the current list (listops.c) -------------
 * l[i] = v, DELETE l[i] and l = l - [..] need the list as it is before
 * the write: building the statement binds their values and leaves an
 * ex_listop in st->lops (the row it belongs to included); they become cells
 * once the row has been read: on the origin for plain writes and BATCHes
 * (ex_listops_fetch, as Cassandra reads before it writes), on the owning
 * shard inside the read-check-write step for conditional ones (cas.c). */
typedef enum { EX_LISTOP_SET, EX_LISTOP_DEL, EX_LISTOP_REMOVE, EX_LISTOP_CELLS } ex_listop_kind;

/* The operations of one statement on one row apply in order, each seeing
 * the list as the earlier ones left it (Cassandra's UpdateParameters show
 * a statement its own pending writes); so the other operations of that
 * statement on its lists are kept too, as CELLS (the cells they wrote).
 * Statements (seq) do not see each other's writes. */
typedef struct ex_listop {
    ex_listop_kind kind;
    uint32_t seq; /* the statement, numbered within the request */
    uint32_t col_id;
    const st_cell *cells; /* CELLS: what an operation that did not read wrote */
    uint32_t ncells;
    bool no_read; /* a conditional batch's row without conditions: it is not
                     read (Cassandra reads only the rows conditions name) */
    int32_t idx;  /* SET, DEL: the index */
    ex_value v;   /* SET: the element (-1 null: delete it, -2 unset: only check);
                     REMOVE: the serialized list of values to remove */
    int64_t ts;
    int32_t ttl;
    int64_t expires;
    /* the row: table, partition, clustering key (static: the static row) */
    uint8_t table_id[16];
    const uint8_t *pk, *ck;
    uint32_t pklen, cklen;
    int64_t token;
    bool is_static;
} ex_listop;

/* Appends op (its row filled in later by ex_dml_mutation). */
int ex_listop_push(ex_request *r, const ex_listop *op);
/* The cells ops[0..n) (all of one row) make, given that row's current
 * state cur (live cells only; NULL: no row), into *out and *nout (arena a,
 * sorted). Cassandra's errors: a null list, an index out of bound. */
int ex_listops_cells(const ex_listop *ops, int n, const st_row *cur, hln_arena *a, hln_error *err,
                     st_cell **out, uint32_t *nout);
/* m plus the cells of ops[0..n) read from the store s now (the owning
 * shard, in one step with the write), into *out (arena a). */
int ex_listops_resolve(st_engine *s, const st_mutation *m, const ex_listop *ops, int n,
                       hln_arena *a, hln_error *err, st_mutation *out);
/* Origin side: reads every row st->lops names, then calls then with
 * st->lmuts[0..st->nlmuts) holding one mutation per row with its resolved
 * cells (st->lops emptied), or finishes the request on an error. With no
 * listop it calls then at once. */
void ex_listops_fetch(ex_request *r, ex_then_fn then);
/* Copies ops into arena a (a remote op carries its own). */
int ex_listops_pack(hln_arena *a, ex_listop *ops, int n);
/* The serialized value of multi-cell column col from its n live cells (a
 * run of a merged row, in path order); len -1 when n is 0. */
/* The clustering column values of ck (storage's comparable encoding) into
 * out[0..t->nck), in r's arena (null past a prefix); scratch is reused. */
int ex_ck_decode(ex_request *r, const hln_table *t, const uint8_t *ck, uint32_t cklen,
                 hln_buf *scratch, ex_value *out);
int ex_collection_value(hln_arena *a, hln_error *err, const hln_column *col, const st_cell *cells,
                        uint32_t n, ex_value *out);

/* ---- functions.c: native scalar functions -------------------------------- */

typedef struct ex_fn {
    const char *name; /* lower case, without the "system." keyspace */
    int nargs;
    hln_type_kind args[4]; /* HLN_T_VECTOR: a vector<float, n> of the other argument's n */
    hln_type_kind ret;
    int (*eval)(ex_request *r, const ex_value *args, ex_value *out);
    bool check_result; /* blobAs<type>: the bytes must be a valid <type> */
    /* polymorphic functions (collection and mask functions): `poly`
       checks the argument types (at[i] NULL: an untyped constant, named
       argn[i]) and gives the result type, or NULL with err set; `teval`
       evaluates knowing the argument types. min_args: optional trailing
       arguments (mask_inner's padding) */
    const hln_type *(*poly)(const struct ex_fn *f, const hln_type **at, const char *const *argn,
                            int nargs, hln_error *err);
    int (*teval)(ex_request *r, const hln_type *const *at, const ex_value *args, int nargs,
                 ex_value *out);
    int min_args;
} ex_fn;

/* An argument of a function call being resolved: its type, or NULL for a
 * constant or marker (term) that takes the chosen overload's type; its
 * text for messages. */
typedef struct ex_fnarg {
    const hln_type *type;
    const cql_term *term;
    const char *name;
} ex_fnarg;

/* Picks the function ks.name (ks NULL or "system") for these arguments as
 * Cassandra's FunctionResolver does: exact argument types first, then
 * compatible ones (blob takes anything, text takes ascii...), constants
 * fitting; with a receiver, an overload returning its type. Fills the
 * type of untyped arguments and *ret; NULL with err set in Cassandra's
 * words (unknown function, number of arguments, type error, no matching
 * signature). selector: the selection-clause wording of "Unknown
 * function". */
const ex_fn *ex_fn_resolve(const char *ks, const char *name, ex_fnarg *args, int nargs,
                           const hln_type *receiver, bool selector, const hln_type **ret,
                           hln_error *err);

/* token(...) of arbitrary values of the partition key's types (a selector
 * such as token(c) on a regular column). */
extern const ex_fn ex_token_fn;

/* The overloads of a function name (case-insensitive), at most max. */
int ex_fn_candidates(const char *name, const ex_fn **out, int max);
/* Binds a function-call term: picks the overload its arguments fit,
 * binds them, calls it, and checks the result fits receiver type t (NULL:
 * any). Errors in Cassandra's words. */
int ex_bind_function(ex_request *r, const cql_term *term, const hln_type *t, const char *col,
                     ex_value *out);
/* Calls f (arguments already bound to its argument types). */
int ex_fn_call(ex_request *r, const ex_fn *f, const hln_type *const *at, const ex_value *args,
               int nargs, ex_value *out);
/* Arithmetic (Cassandra 5.0's OperationFcts): the result type of a op b
 * (NULL: not supported), and its evaluation (null operands give null;
 * division by zero fails with HLN_EFUNCFAIL in Cassandra's words). */
const hln_type *ex_arith_type(char op, const hln_type *a, const hln_type *b);
int ex_arith(ex_request *r, char op, const hln_type *at, ex_value a, const hln_type *bt, ex_value b,
             const hln_type *res, ex_value *out);
/* CAST(v AS to) (Cassandra 5.0's CastFcts): whether the conversion exists,
 * and the conversion. */
bool ex_cast_ok(const hln_type *from, const hln_type *to);
/* exp (fn 0), log (1), log10 (2), round (3) of a number of type t, in t
 * (MathFunctions); abs of a varint or decimal. */
/* json.c: fromJson(text) for receiver type t (JSON null: null). */
int ex_json_value(ex_request *r, const hln_type *t, const char *col, const uint8_t *text,
                  size_t len, ex_value *out);
int ex_math(ex_request *r, int fn, const hln_type *t, ex_value v, ex_value *out);
int ex_abs_big(ex_request *r, const hln_type *t, ex_value v, ex_value *out);
/* -v of numeric type t. */
int ex_negate(ex_request *r, const hln_type *t, ex_value v, ex_value *out);
/* collection_avg of elements els[0..n) of numeric type et. */
int ex_coll_avg(ex_request *r, const hln_type *et, const ex_value *els, int n, ex_value *out);
int ex_cast(ex_request *r, const hln_type *from, ex_value v, const hln_type *to, ex_value *out);

/* select.c: the values one key column takes: its equality, or its IN list
 * (literals, or one marker bound to a list); r->arena memory. */
/* The tuples of plan p's (c1, .., cn) IN: n = p->mc_in_n components per
 * tuple, tuple after tuple, in *vals (arena); *ntuples tuples. */
/* The n values of a multi-column slice's bound (c_first, ..) > (v1, .., vn)
 * into out[n]: its terms bound one by one, or its one tuple marker (tuple)
 * split; a null element is an error, as Cassandra's. */
int ex_mc_bound_values(ex_request *r, const hln_table *t, int first, cql_term *const *terms,
                       const cql_term *tuple, int n, ex_value *out);
int ex_mc_in_values(ex_request *r, const ex_plan *p, ex_value **vals, int *ntuples);
int ex_key_values(ex_request *r, const cql_term *eq, const cql_relation *in, const hln_column *col,
                  ex_value **out, int *n);

/* ---- json.c: INSERT JSON ---------------------------------------------------- */

/* For an INSERT JSON plan: decodes the document and extends st->vals with
 * one value per table column (null or unset where the document has none).
 * Errors in Cassandra's words. A no-op for other plans. */
int ex_json_bind(ex_request *r);

/* ---- cas.c: counters and conditional updates --------------------------- */

/* The target-side half of EX_OP_CAS: reads op->read, evaluates op->cas
 * against the current row, and when it holds applies m (counter deltas
 * added to the current values first). Runs on the owning shard's thread,
 * so nothing else touches the partition in between. */
int ex_cas_exec(ex_op *op, st_engine *s, hln_arena *a, const st_mutation *m);
/* Copies op->cas into the op's arena (remote ops, coord.c invariant 1). */
int ex_cas_pack(ex_op *op);
/* The native protocol's write type of an EX_OP_CAS op that timed out:
 * "CAS" for a conditional write, "COUNTER" for a counter update, "SIMPLE"
 * for the other reads-before-write (list element operations). */
const char *ex_cas_write_type(const ex_op *op);
/* Runs a counter update or a conditional INSERT/UPDATE/DELETE. */
void ex_run_cas(ex_request *r);
/* Adds the EX_OP_CAS operation of the current plan and values (and
 * st->key_vals) to the batch being built, without dispatching it. */
int ex_cas_op_add(ex_request *r);

/* ---- executors -------------------------------------------------------- */

void ex_run_ddl(ex_request *r);       /* CREATE/DROP KEYSPACE/TABLE, USE */
void ex_run_dml(ex_request *r);       /* INSERT, UPDATE, DELETE */
void ex_run_select(ex_request *r);    /* SELECT */
void ex_run_describe(ex_request *r);  /* DESCRIBE (describe.c) */
void ex_run_index_ddl(ex_request *r); /* CREATE/DROP INDEX (index_ddl.c) */
/* CREATE / DROP / ALTER MATERIALIZED VIEW (view_ddl.c; ALTER through ddl.c) */
void ex_run_view_ddl(ex_request *r);
void ex_run_alter_view(ex_request *r);
/* A view's options (CREATE, ALTER): no default_time_to_live, no gc_grace 0. */
int ex_view_check_options(ex_request *r, const hln_option *opts, int nopts, bool alter);
/* view.c, on the owning shard: applies ms[0..n) (st_apply, or st_apply_batch
 * when n > 1) and, for tables with views, leaves the view mutations in
 * op->vmuts (arena a). */
int ex_view_apply(ex_op *op, st_engine *s, hln_arena *a, const st_mutation *ms, uint32_t n,
                  hln_error *err);
/* Batchlog replay on a shard (start-up): applies ms[0..n) as ex_view_apply
 * does, without logging, and returns the view mutations to apply on their
 * shards (arena a). */
int ex_view_replay(const hln_schema *schema, st_engine *s, hln_arena *a, const st_mutation *ms,
                   uint32_t n, st_mutation **vm, uint32_t *nvm, hln_error *err);
/* EX_OP_VIEW_BUILD: the view rows of one page of the shard's base rows
 * (from op->scan's cursor), in op->vmuts; the next cursor in op->build_*. */
int ex_view_build(ex_op *op, st_engine *s, hln_arena *a, hln_error *err);

/* SAI text analysis (textfold.c): case_sensitive = false, ascii = true. */
enum { EX_FOLD_CASE = 1, EX_FOLD_ASCII = 2 };
bool ex_fold_equal(const uint8_t *a, int32_t al, const uint8_t *b, int32_t bl, unsigned flags);
/* EX_FOLD_CASE alone, into out (len bytes: the folding keeps lengths), as
 * ex_fold_equal folds; for index term tables. */
void ex_fold_case(const uint8_t *in, uint32_t len, uint8_t *out);

/* ---- access.c: roles, permissions, authorisation ------------------------ */
/* Role and permission statements (CREATE/ALTER/DROP ROLE, GRANT, REVOKE,
 * LIST ROLES, LIST PERMISSIONS and the USER forms). */
void ex_run_access(ex_request *r);
/* Checks that the request's role may run the analyzed statement (nothing
 * when authorization is off or the request has no role). Unauthorized
 * errors carry Cassandra's wording. */
int ex_authorize(ex_request *r, const cql_stmt *stmt, const ex_plan *p);
/* ex_authorize for a prepared plan cp (NULL: no plan to remember it in,
 * plain ex_authorize): reuses the verdict cp remembers for the request's
 * role while neither the schema snapshot nor the auth store changed since,
 * else checks and remembers the result. Same codes and messages. */
int ex_authorize_plan(ex_request *r, ex_cached_plan *cp, const cql_stmt *stmt, const ex_plan *p);
/* After a successful schema change: grants the creator of a keyspace or
 * table its permissions, and forgets the grants on what was dropped. */
void ex_access_schema_changed(ex_request *r);
/* Rows of the system_auth tables, from the auth store (as
 * schema_virtual_rows for the other system tables). */
int ex_access_virtual_rows(ex_request *r, const hln_table *t, hln_bytes ***rows, int *nrows);

/* batchlog.c: writes the entry of a LOGGED batch spanning shards (all its
 * mutations) to the coordinating shard's batchlog, durably under batch sync,
 * before anything is dispatched; *path (r->arena) names it for
 * ex_batchlog_done, which removes it once every shard applied its part. */
int ex_batchlog_write(ex_request *r, const st_mutation *ms, uint32_t n, char **path);
/* The same into shard `shard`'s batchlog from any thread (the path in a,
 * errors in err): view updates are logged by the shard that computed them. */
int ex_batchlog_write_shard(hln_engine *e, int shard, const st_mutation *ms, uint32_t n,
                            hln_arena *a, char **path, hln_error *err);
void ex_batchlog_done(const char *path);

/* batch.c: BEGIN BATCH ... APPLY BATCH (st->plan has its children). */
void ex_run_text_batch(ex_request *r);

/* dml.c: the mutation of the analyzed INSERT/UPDATE/DELETE in st->plan with
 * the values in st->vals, in r->arena. *out is NULL when every value is
 * unset (nothing to write). List operations that read the list are left
 * in st->lops (listops.c). Refuses counter and conditional plans (BATCH). */
int ex_dml_build(ex_request *r, st_mutation **out);
/* The same for any plan (cas.c builds counter and conditional ones). */
int ex_dml_mutation(ex_request *r, st_mutation **out);
/* Appends the rows, range tombstones and deletion of ms[0..n) (the same
 * partition) to x; the arrays are copied into r->arena, rows shared. */
int ex_mutation_join(ex_request *r, st_mutation *x, const st_mutation *ms, int n);
/* Calls fn for every combination of the values of the IN restrictions on
 * the key columns of st->plan, with st->key_vals set to it. */
int ex_dml_each_key(ex_request *r, int (*fn)(ex_request *r, void *ctx), void *ctx);
/* The serialized partition key and the clustering key (the plan's equality
 * prefix) of the plan in st->plan with st->vals; r->arena memory. */
int ex_dml_key(ex_request *r, const uint8_t **pk, uint32_t *pklen);
int ex_dml_ck(ex_request *r, const uint8_t **ck, uint32_t *cklen);

#endif
