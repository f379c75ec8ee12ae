/*
 * batch.c — BATCH: several INSERT/UPDATE/DELETE statements applied as one.
 *
 * What: every statement of the batch (CQL text, or a prepared id with its
 * values, or one statement of a BEGIN BATCH ... APPLY BATCH text) is
 * parsed, analyzed, authorized and bound exactly as a single statement
 * would be, and turned into its mutation (dml.c) — all of them before
 * anything is written, so a bad statement anywhere fails the whole batch
 * with nothing applied. The mutations are then grouped: those of one
 * partition (same table, same key) are concatenated into one st_mutation,
 * and the partitions of one shard go to that shard as ONE operation that
 * st_apply_batch writes as one commitlog record.
 *
 * Timestamps: a batch has one timestamp — the request's (the protocol's
 * default timestamp), else one taken from the shard's clock for the whole
 * batch — so its statements are ordered among themselves only by their
 * content, as in Cassandra; a statement's own USING TIMESTAMP still wins.
 *
 * What a batch guarantees (this node, N shards):
 *  - The statements of one partition are one st_mutation: atomic and
 *    isolated (readers of the partition see all of them or none).
 *  - Everything the batch writes on one shard — any number of partitions
 *    and tables — is one commitlog record applied in one step on the
 *    shard's thread: all-or-nothing across a crash, and no read on that
 *    shard sees a part of it.
 *  - A batch that spans shards is applied on each shard independently and
 *    in parallel; readers on different shards may briefly see one part
 *    before another.
 *  - A LOGGED batch that spans shards is first written whole to the
 *    coordinating shard's batchlog (batchlog.c; fsynced first under batch
 *    sync) and the entry is removed once every shard applied its part; a
 *    crash in between is repaired at the next start, which re-applies the
 *    entry with its original timestamps. So it is all-or-nothing
 *    eventually, as Cassandra's logged batches are.
 *  - An UNLOGGED batch, or one whose partitions all live on one shard,
 *    skips the batchlog (Cassandra skips it for single-partition batches):
 *    an UNLOGGED batch spanning shards can be left partly applied by a
 *    crash; the client, which got no answer, must retry (a retry with the
 *    same client timestamp is idempotent).
 *  - A batch with IF conditions (all on one partition of one table) is one
 *    read-check-write op on the owning shard (cas.c): every statement's
 *    conditions are checked on its row and the merged mutation applied
 *    only when all hold, atomically on that shard's thread.
 *  - Counter updates (a COUNTER batch, or an UNLOGGED one of counter
 *    updates only; Cassandra's rules refuse the rest) are each applied as
 *    the read-modify-write a single counter UPDATE is (cas.c), on the
 *    owning shard: every increment counts exactly once, but the batch is
 *    not isolated (a reader may see some increments before others), as
 *    Cassandra's counter batches are not.
 *
 *  - A statement with IN on key columns writes every combination, as it
 *    does alone; list operations that read the list (l[i] = v, DELETE
 *    l[i], l = l - [..]) have their rows read first (listops.c), each
 *    statement seeing the list as stored, not the batch's earlier writes
 *    (Cassandra's behaviour).
 *
 * Invariant: nothing is written until every statement has been built
 * (and every row list operations need has been read), so a failing
 * statement leaves no write behind.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/execInt.h"

typedef struct part_group {
    st_mutation m; /* the partition's mutations concatenated */
    int shard;
} part_group;

static bool same_partition(const st_mutation *a, const st_mutation *b)
{
    return a->token == b->token && a->pklen == b->pklen && !memcmp(a->table_id, b->table_id, 16) &&
           (a->pklen == 0 || !memcmp(a->pk, b->pk, a->pklen));
}

/* The partitions a batch writes, in the order first written. */
typedef struct groups {
    part_group *v;
    int n, cap;
    bool logged; /* a LOGGED batch */
} groups;

/* Adds mutation m to the group of its partition (a new group if none). */
static int collect(ex_request *r, groups *gs, const st_mutation *m)
{
    int g = 0;
    while (g < gs->n && !same_partition(&gs->v[g].m, m))
        g++;
    if (g == gs->n) {
        if (gs->n == gs->cap) {
            int cap = gs->cap ? 2 * gs->cap : 8;
            part_group *v = hln_arena_alloc(&r->arena, sizeof *v * (size_t)cap);
            if (!v) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            if (gs->n) memcpy(v, gs->v, sizeof *v * (size_t)gs->n);
            gs->v = v;
            gs->cap = cap;
        }
        gs->v[g].m = *m;
        gs->v[g].m.rows = NULL;
        gs->v[g].m.nrows = 0;
        gs->v[g].m.rts = NULL;
        gs->v[g].m.nrts = 0;
        gs->v[g].m.pdel_ts = HLN_TS_NONE;
        gs->v[g].shard = rt_shard_for_token(ex_st(r)->eng->nshards, m->token);
        gs->n++;
    }
    return ex_mutation_join(r, &gs->v[g].m, m, 1);
}

/* Builds the statement in st->plan (values set) into gs: one mutation, or
 * one per combination of its IN values. */
static int build_one(ex_request *r, void *ctx)
{
    st_mutation *m = NULL;
    int rc = ex_dml_build(r, &m);
    return rc || !m ? rc : collect(r, ctx, m);
}

static int build_into(ex_request *r, groups *gs)
{
    if (ex_st(r)->plan->keys_have_in) return ex_dml_each_key(r, build_one, gs);
    return build_one(r, gs);
}

/* A statement of the batch once parsed and analyzed. */
typedef struct item_plan {
    const cql_stmt *stmt;
    const ex_plan *plan;
} item_plan;

/* Pass 1 for one item (Cassandra's order: find the statement, prepare
 * it, check the number of values). */
static int prepare_item(ex_request *r, const ex_batch_item *it, item_plan *out)
{
    const char *text = it->cql, *ks = r->params.keyspace;
    size_t len = it->cqllen;
    int rc;
    if (!it->cql) {
        const char *pks = NULL;
        if ((rc = ex_prepared_lookup(r, it->id, it->idlen, &text, &len, &pks)) != 0) return rc;
        ks = pks;
    }
    cql_stmt *stmt = NULL;
    if ((rc = cql_parse(text, len, &r->arena, &stmt, &r->err)) != 0) return rc;
    ex_st(r)->stmt = stmt;
    if ((rc = ex_analyze(r, stmt, ks, &out->plan)) != 0) return rc;
    if ((rc = ex_authorize(r, stmt, out->plan)) != 0) return rc; /* MODIFY (access.c) */
    out->stmt = stmt;
    if (it->nvalues != stmt->n_binds)
        return hln_fail(&r->err, HLN_EINVAL,
                        "There were %d markers(?) in CQL but %d bound variables", stmt->n_binds,
                        it->nvalues);
    return 0;
}

/* Pass 3: binds item's values and builds its mutation (NULL when it
 * writes nothing). */
static int build_item(ex_request *r, const ex_batch_item *it, const item_plan *ip, groups *gs)
{
    ex_state *st = ex_st(r);
    st->stmt = ip->stmt;
    st->plan = ip->plan;
    st->prepared = it->cql == NULL;
    st->vals = it->values;
    st->nvals = it->nvalues;
    int rc = ex_json_bind(r);
    return rc ? rc : build_into(r, gs);
}

static void batch_done(ex_request *r)
{
    int rc = ex_batch_error(r);
    if (!rc) r->result.kind = EX_VOID;
    ex_finish(r, rc);
}

/* A LOGGED batch spanning shards: the batchlog entry to remove once every
 * shard has applied its part (batchlog.c). */
typedef struct logged_state {
    char *entry;
    bool partial; /* test hook: dispatched to the first shard only */
} logged_state;

static void logged_batch_done(ex_request *r)
{
    logged_state *ls = ex_st(r)->xs;
    int rc = ex_batch_error(r);
    if (ls->partial) {
        ex_finish(
            r, hln_fail(&r->err, HLN_ESERVER, "batch stopped after the first shard (test hook)"));
        return;
    }
    /* on a failure the entry stays: the next start applies the whole batch */
    if (!rc) ex_batchlog_done(ls->entry);
    batch_done(r);
}

/* Writes the batchlog entry of a LOGGED batch spanning shards. The test
 * hook HELENUS_TEST_BATCHLOG_PARTIAL=1 then dispatches only the first
 * shard's part and never removes the entry: what a crash between shards
 * leaves behind (tests/unit/test_batchlog.c). */
static int log_batch(ex_request *r, const groups *gs)
{
    const part_group *groups = gs->v;
    int ngroups = gs->n;
    ex_state *st = ex_st(r);
    st_mutation *all = hln_arena_alloc(&r->arena, sizeof *all * (size_t)ngroups);
    logged_state *ls = hln_arena_alloc(&r->arena, sizeof *ls);
    if (!all || !ls) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int g = 0; g < ngroups; g++)
        all[g] = groups[g].m;
    int rc = ex_batchlog_write(r, all, (uint32_t)ngroups, &ls->entry);
    if (rc) return rc;
    const char *hook = getenv("HELENUS_TEST_BATCHLOG_PARTIAL");
    if (hook && !strcmp(hook, "1")) {
        ls->partial = true;
        st->batch->next_batch = NULL; /* the others stay in st->ops, freed with r */
        st->batch_tail = st->batch;
    }
    st->xs = ls;
    return 0;
}

/* One operation per shard holding groups, its partitions in statement
 * order; then VOID once every shard has applied its part. A LOGGED batch
 * whose partitions live on more than one shard is first recorded in the
 * batchlog; a single-shard or UNLOGGED batch is not (one commitlog record
 * per shard already makes a single shard's part atomic). */
static void apply_groups(ex_request *r, const groups *gs)
{
    ex_state *st = ex_st(r);
    const part_group *groups = gs->v;
    int ngroups = gs->n;
    int nshards_used = 0;
    for (int s = 0; s < st->eng->nshards; s++) {
        uint32_t cnt = 0;
        for (int g = 0; g < ngroups; g++)
            cnt += groups[g].shard == s;
        if (!cnt) continue;
        nshards_used++;
        st_mutation *ms = hln_arena_alloc(&r->arena, sizeof *ms * cnt);
        ex_op *op = ms ? ex_op_new(r, EX_OP_MUTATE_BATCH, s) : NULL;
        if (!op) {
            ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
            return;
        }
        uint32_t k = 0;
        for (int g = 0; g < ngroups; g++)
            if (groups[g].shard == s) ms[k++] = groups[g].m;
        op->muts = ms;
        op->nmuts = cnt;
    }
    if (!st->batch) { /* nothing to write */
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    if (gs->logged && nshards_used > 1) {
        int rc = log_batch(r, gs);
        if (rc) {
            ex_finish(r, rc); /* nothing was dispatched */
            return;
        }
        ex_dispatch(r, logged_batch_done);
        return;
    }
    ex_dispatch(r, batch_done);
}

/* The rows the batch's list operations read arrived: their cells join
 * their partitions' groups (st->xs), then everything is written. */
static void lists_read(ex_request *r)
{
    ex_state *st = ex_st(r);
    groups *gs = st->xs;
    int rc = 0;
    for (int i = 0; i < st->nlmuts && !rc; i++)
        rc = collect(r, gs, &st->lmuts[i]);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    apply_groups(r, gs);
}

/* Every statement is built into gs: read what list operations need, then
 * write. */
static void write_groups(ex_request *r, groups *gs)
{
    ex_state *st = ex_st(r);
    if (!st->nlops) {
        apply_groups(r, gs);
        return;
    }
    st->xs = gs;
    ex_listops_fetch(r, lists_read);
}

/* A counter update of a batch: one read-modify-write op per row (cas.c),
 * one per combination of its IN values. */
static int counter_one(ex_request *r, void *ctx)
{
    HLN_UNUSED(ctx);
    return ex_cas_op_add(r);
}

static int counter_add(ex_request *r)
{
    if (ex_st(r)->plan->keys_have_in) return ex_dml_each_key(r, counter_one, NULL);
    return ex_cas_op_add(r);
}

/* A statement of a conditional batch with IN on key columns: Cassandra
 * 5.0's errors (the partition key's is its IllegalArgumentException,
 * answered as a server error). */
static int cas_in_rules(ex_request *r)
{
    const ex_plan *p = ex_st(r)->plan;
    if (p->pk_has_in)
        return hln_fail(&r->err, HLN_ESERVER,
                        "java.lang.IllegalArgumentException: Batch with conditions cannot span "
                        "multiple partitions (you cannot use IN on the partition key)");
    if (p->keys_have_in)
        return hln_fail(&r->err, HLN_EINVAL,
                        "IN on the clustering key columns is not supported with conditional %s",
                        p->kind == CQL_DELETE ? "deletions" : "updates");
    return 0;
}

int ex_batch_counter_rules(hln_error *err, int type, const ex_plan *const *plans, int n)
{
    bool counters = false, others = false;
    for (int i = 0; i < n; i++) {
        if (plans[i]->counter)
            counters = true;
        else
            others = true;
    }
    if (type == EX_BATCH_COUNTER && others)
        return hln_fail(err, HLN_EINVAL, "Cannot include non-counter statement in a counter batch");
    if (counters && others)
        return hln_fail(err, HLN_EINVAL,
                        "Counter and non-counter mutations cannot exist in the same batch");
    if (type == EX_BATCH_LOGGED && counters)
        return hln_fail(err, HLN_EINVAL, "Cannot include a counter statement in a logged batch");
    return 0;
}

void ex_batch(ex_request *r, int type, const ex_batch_item *items, int n)
{
    ex_state *st = ex_start(r);
    if (!st) return;
    if (type < EX_BATCH_LOGGED || type > EX_BATCH_COUNTER || n < 0 || (n && !items)) {
        ex_finish(r, hln_fail(&r->err, HLN_EPROTO, "Invalid BATCH message"));
        return;
    }
    /* one timestamp for every statement without USING TIMESTAMP */
    if (r->params.timestamp == HLN_TS_NONE) r->params.timestamp = ex_next_timestamp();
    groups *gs = hln_arena_alloc(&r->arena, sizeof *gs);
    item_plan *plans = hln_arena_alloc(&r->arena, sizeof *plans * (size_t)(n ? n : 1));
    if (!gs || !plans) {
        ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
        return;
    }
    *gs = (groups){.logged = type == EX_BATCH_LOGGED};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = prepare_item(r, &items[i], &plans[i]);
    for (int i = 0; i < n && !rc; i++) {
        cql_stmt_kind k = plans[i].stmt->kind;
        if (k != CQL_INSERT && k != CQL_UPDATE && k != CQL_DELETE)
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Invalid statement in batch: only UPDATE, INSERT and DELETE statements "
                          "are allowed.");
    }
    for (int i = 0; i < n && !rc; i++)
        rc = ex_authorize(r, plans[i].stmt, plans[i].plan);
    const ex_plan **pl = hln_arena_alloc(&r->arena, sizeof *pl * (size_t)(n ? n : 1));
    if (!rc && !pl) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    for (int i = 0; i < n && !rc; i++)
        pl[i] = plans[i].plan;
    if (!rc) rc = ex_batch_counter_rules(&r->err, type, pl, n);
    bool conditional = false;
    for (int i = 0; i < n && !rc; i++)
        conditional |= pl[i]->cas != EX_CAS_NONE;
    if (!rc && conditional) {
        struct ex_cas_op *top = ex_cas_batch_begin(r, n);
        if (!top) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int i = 0; i < n && !rc; i++) {
            st->stmt = plans[i].stmt;
            st->plan = plans[i].plan;
            st->prepared = items[i].cql == NULL;
            st->vals = items[i].values;
            st->nvals = items[i].nvalues;
            st_mutation *m = NULL;
            rc = ex_json_bind(r);
            if (!rc) rc = cas_in_rules(r);
            if (!rc) rc = ex_cas_batch_stmt(r, top, &m);
            if (!rc && m) rc = collect(r, gs, m);
        }
        if (!rc && gs->n > 1)
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Batch with conditions cannot span multiple partitions");
        if (!rc) rc = ex_cas_batch_dispatch(r, top, gs->n ? &gs->v[0].m : NULL);
        if (rc) ex_finish(r, rc);
        return;
    }
    if (!rc && n && plans[0].plan->counter) {
        /* counter updates: one read-modify-write op each (cas.c) */
        for (int i = 0; i < n && !rc; i++) {
            st->stmt = plans[i].stmt;
            st->plan = plans[i].plan;
            st->prepared = items[i].cql == NULL;
            st->vals = items[i].values;
            st->nvals = items[i].nvalues;
            rc = counter_add(r);
        }
        if (rc) {
            ex_finish(r, rc);
            return;
        }
        ex_dispatch(r, batch_done);
        return;
    }
    for (int i = 0; i < n && !rc; i++)
        rc = build_item(r, &items[i], &plans[i], gs);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    write_groups(r, gs);
}

void ex_run_text_batch(ex_request *r)
{
    ex_state *st = ex_st(r);
    const ex_plan *p = st->plan;
    int rc = 0;
    if (p->ts) {
        ex_value v;
        rc = ex_bind(r, p->ts, hln_type_by_kind(HLN_T_BIGINT), "[timestamp]", &v);
        if (!rc && v.len == -1)
            rc = hln_fail(&r->err, HLN_EINVAL, "Invalid null value of timestamp");
        else if (!rc && v.len >= 0 && v.len != 8)
            rc = hln_fail(&r->err, HLN_EINVAL, "Invalid empty value of timestamp");
        if (!rc && v.len == 8) {
            uint64_t x = 0;
            for (int i = 0; i < 8; i++)
                x = x << 8 | v.p[i];
            r->params.timestamp = (int64_t)x;
        }
    }
    if (!rc && r->params.timestamp == HLN_TS_NONE) r->params.timestamp = ex_next_timestamp();
    int n = p->nchildren;
    groups *gs = hln_arena_alloc(&r->arena, sizeof *gs);
    if (!rc && !gs) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (gs) *gs = (groups){.logged = p->stmt->u.batch.type == EX_BATCH_LOGGED};
    bool conditional = false;
    for (int i = 0; i < n; i++)
        conditional |= p->children[i]->cas != EX_CAS_NONE;
    if (!rc && conditional && p->ts)
        rc = hln_fail(&r->err, HLN_EINVAL, "Cannot provide custom timestamp for conditional BATCH");
    if (!rc && conditional) {
        struct ex_cas_op *top = ex_cas_batch_begin(r, n);
        if (!top) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int i = 0; i < n && !rc; i++) {
            st->plan = p->children[i];
            st->stmt = p->children[i]->stmt;
            const ex_value *vals = st->vals;
            int nvals = st->nvals;
            st_mutation *m = NULL;
            rc = ex_json_bind(r);
            if (!rc) rc = cas_in_rules(r);
            if (!rc) rc = ex_cas_batch_stmt(r, top, &m);
            st->vals = vals;
            st->nvals = nvals;
            if (!rc && m) rc = collect(r, gs, m);
        }
        if (!rc && gs->n > 1)
            rc = hln_fail(&r->err, HLN_EINVAL,
                          "Batch with conditions cannot span multiple partitions");
        if (!rc) rc = ex_cas_batch_dispatch(r, top, gs->n ? &gs->v[0].m : NULL);
        /* the result names the table: keep the child plan current */
        if (rc) {
            st->plan = p;
            st->stmt = p->stmt;
            ex_finish(r, rc);
        }
        return;
    }
    if (!rc && n && p->children[0]->counter) {
        /* counter updates: one read-modify-write op each (cas.c) */
        for (int i = 0; i < n && !rc; i++) {
            st->plan = p->children[i];
            st->stmt = p->children[i]->stmt;
            rc = counter_add(r);
        }
        st->plan = p;
        st->stmt = p->stmt;
        if (rc) {
            ex_finish(r, rc);
            return;
        }
        ex_dispatch(r, batch_done);
        return;
    }
    for (int i = 0; i < n && !rc; i++) {
        st->plan = p->children[i];
        st->stmt = p->children[i]->stmt;
        const ex_value *vals = st->vals;
        int nvals = st->nvals;
        rc = ex_json_bind(r);            /* INSERT JSON: its columns' values after the batch's */
        if (!rc) rc = build_into(r, gs); /* st->vals: the batch's, markers numbered across it */
        st->vals = vals;
        st->nvals = nvals;
    }
    st->plan = p;
    st->stmt = p->stmt;
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    write_groups(r, gs);
}
