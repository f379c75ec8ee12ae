/*
 * coord.c — the coordinator: shard operations out, replies back.
 *
 * What: a statement's executor creates operations (apply a mutation, read a
 * partition slice, scan a token range, drop a table's data), each addressed
 * to the shard that owns the data, then dispatches them as one batch. Ops
 * for the request's own shard run inline; the others travel to their shard
 * as messages (rt_msg embedded in the op), run there, and come back as
 * messages. When the last reply is in, the batch's continuation runs on the
 * request's shard. A continuation may dispatch another batch (paging and
 * multi-step statements reuse this), or build the result and finish.
 *
 * Writes to tables with materialized views come back with view mutations
 * (exec/view.c): when the last reply is in, they are dispatched as a second
 * round to the views' shards, and the continuation runs after that, with
 * the first round's ops as the current ones (ops_done).
 *
 * Why one generic mechanism: BATCH, IN queries, paging and replication to
 * other nodes are all "send N operations, gather N replies"; only what is
 * sent and how replies are merged differs.
 *
 * Invariants:
 *  1. A remote op carries copies of its inputs in its own arena (mutations
 *     encoded with st_mutation_encode, decoded on the target), so nothing it
 *     reads on the target belongs to the origin's request arena. Its results
 *     are allocated in that same arena and read by the origin after the
 *     reply; the arena is freed with the request.
 *  2. The pending count is touched only on the origin thread: it starts at
 *     1 (held by the dispatcher), each remote op adds one, each reply and
 *     the end of dispatch remove one; the continuation runs when it hits 0.
 *     Replies cannot arrive before dispatch returns to the event loop,
 *     because they run on the origin thread.
 *  3. Only the target shard's thread touches its st_engine.
 *  4. A write (MUTATE, MUTATE_BATCH, CAS) runs only while its shard's
 *     storage has memtable space (st_write_ready); otherwise it is parked
 *     on that shard, untouched, and runs later or fails whole (below).
 *
 * Back-pressure: when the disk falls behind, a shard's memtables fill their
 * space (storage.h invariant 5) and storage refuses writes. The shard loop
 * must not wait (reads, and writes to other shards, go on), so a write op
 * that finds no room is parked on the shard it targets, oldest first, with
 * a deadline of write_request_timeout (Cassandra's 2000ms). The parked ops
 * are let through in order when a flush has finished (the storage wake of
 * node.c calls ex_park_retry) or on the shard's park timer (10 ms, running
 * only while ops wait); one whose deadline passes first fails with
 * HLN_EWRITETIMEOUT, Cassandra's WriteTimeout (0x1100, writeType SIMPLE or
 * BATCH, received 0 of 1), before anything of it was logged: a timed-out
 * write is not applied (a LOGGED batch's other shards may have applied
 * their parts; its batchlog entry then stays and is replayed at the next
 * start, as after a crash). A new write finds the queue non-empty and parks
 * behind it, so waiting writers are served first come, first served. What
 * waits is bounded by the connections' request limits (server/conn.c). A
 * parked op keeps its reply pending: the origin counts it like a remote op.
 */
#include <stdio.h>
#include <string.h>

#include "exec/execInt.h"

ex_op *ex_op_new(ex_request *r, ex_op_kind kind, int target)
{
    ex_state *st = ex_st(r);
    ex_op *op = hln_calloc(1, sizeof *op);
    if (!op) return NULL;
    op->r = r;
    op->origin = r->shard;
    op->target = target;
    op->kind = kind;
    op->schema = st->schema;
    op->remote = target != r->shard->id;
    if (op->remote) {
        hln_arena_init(&op->arena, 4096);
        hln_buf_init(&op->enc);
    }
    if (st->ops_tail)
        st->ops_tail->next = op;
    else
        st->ops = op;
    st->ops_tail = op;
    if (st->batch_tail)
        st->batch_tail->next_batch = op;
    else
        st->batch = op;
    st->batch_tail = op;
    return op;
}

void ex_ops_free(ex_request *r)
{
    ex_state *st = ex_st(r);
    ex_op *op = st->ops;
    while (op) {
        ex_op *next = op->next;
        if (op->remote) {
            hln_arena_free(&op->arena);
            hln_buf_free(&op->enc);
        }
        hln_free(op);
        op = next;
    }
    st->ops = st->ops_tail = st->batch = st->batch_tail = st->cur = NULL;
}

static int op_fail(ex_op *op, int rc)
{
    op->rc = rc;
    if (op->err.code == 0) {
        op->err.code = rc;
        if (!op->err.msg[0]) strcpy(op->err.msg, hln_strerror(rc));
    }
    return rc;
}

/* Runs op against shard sh's store, results in arena a. */
static void op_exec(ex_op *op, hln_shard *sh, hln_arena *a, const st_mutation *m)
{
    st_engine *s = sh->store;
    int rc = 0;
    if (!s) {
        op_fail(op, hln_fail(&op->err, HLN_ESERVER, "shard %d has no storage", op->target));
        return;
    }
    int64_t t0 = hln_mono_nanos();
    switch (op->kind) {
    case EX_OP_MUTATE:
        rc = ex_view_apply(op, s, a, m, 1, &op->err);
        if (m) ex_metrics_record(sh, m->table_id, EX_LAT_LOCAL_WRITE, t0);
        break;
    case EX_OP_MUTATE_BATCH:
        rc = op->nmuts ? ex_view_apply(op, s, a, op->muts, op->nmuts, &op->err) : 0;
        for (uint32_t i = 0; i < op->nmuts; i++)
            ex_metrics_record(sh, op->muts[i].table_id, EX_LAT_LOCAL_WRITE, t0);
        break;
    case EX_OP_VIEW_BUILD:
        rc = ex_view_build(op, s, a, &op->err);
        break;
    case EX_OP_READ:
        rc = st_read(s, &op->read, a, &op->parts, &op->err);
        ex_metrics_record(sh, op->read.table_id, EX_LAT_LOCAL_READ, t0);
        break;
    case EX_OP_SCAN:
        rc = st_scan(s, &op->scan, a, &op->parts, &op->err);
        ex_metrics_record(sh, op->scan.table_id, EX_LAT_LOCAL_SCAN, t0);
        break;
    case EX_OP_DROP:
        ex_ann_drop_table(sh, op->table_id);
        rc = st_drop_table(s, op->table_id, &op->err);
        break;
    case EX_OP_TRUNCATE:
        ex_ann_drop_table(sh, op->table_id);
        rc = st_truncate_table(s, op->table_id, &op->err);
        break;
    case EX_OP_ANN:
        rc = ex_ann_search(sh, op->ann, a, &op->parts, &op->err);
        break;
    case EX_OP_ISCAN:
        rc = ex_sai_scan(sh, op, a, &op->err);
        break;
    case EX_OP_CAS:
        rc = ex_cas_exec(op, s, a, m);
        break;
    case EX_OP_STATS:
        rc = ex_stats_exec(sh, op, a);
        break;
    }
    if (rc) op_fail(op, rc);
}

/* ---- back-pressure: parked writes ---------------------------------------- */

static void ops_done(ex_request *r);
static void op_reply(rt_shard *self, rt_msg *m);

static bool op_writes(const ex_op *op)
{
    return op->kind == EX_OP_MUTATE || op->kind == EX_OP_CAS ||
           (op->kind == EX_OP_MUTATE_BATCH && op->nmuts);
}

/* A parked op is done (run or failed): its reply goes back. */
static void op_finish_parked(ex_op *op)
{
    if (op->remote) {
        op->msg.fn = op_reply;
        op->msg.next = NULL;
        engine_post(op->origin, &op->msg);
        return;
    }
    ex_request *r = op->r;
    if (--ex_st(r)->pending == 0) ops_done(r);
}

/* A parked write's timeout, as Cassandra reports a write no replica
 * acknowledged: a conditional write as its Paxos round's timeout (type
 * CAS, the serial consistency, no contention), the others with the
 * statement's consistency. */
static void op_timeout(ex_op *op)
{
    const char *type = op->kind == EX_OP_MUTATE_BATCH ? "BATCH"
                       : op->kind == EX_OP_CAS        ? ex_cas_write_type(op)
                                                      : "SIMPLE";
    bool cas = !strcmp(type, "CAS");
    op_fail(op, hln_fail(&op->err, HLN_EWRITETIMEOUT,
                         cas ? "CAS operation timed out - encountered contentions: 0"
                             : "Operation timed out - received only 0 responses."));
    snprintf(op->err.table, sizeof op->err.table, "%s", type);
    /* the request's parameters are set before dispatch */
    uint16_t cl = !op->r ? 1
                  : cas  ? (op->r->params.serial_consistency ? op->r->params.serial_consistency
                                                             : 8 /* SERIAL */)
                         : op->r->params.consistency;
    op->err.id[0] = (uint8_t)(cl >> 8);
    op->err.id[1] = (uint8_t)cl;
}

static void park_tick(uv_timer_t *t)
{
    ex_park_retry(t->data);
}

static void park(ex_op *op, hln_shard *sh, hln_arena *a, const st_mutation *m)
{
    op->park_arena = a;
    op->park_m = NULL;
    if (m) {
        op->park_mut = *m;
        op->park_m = &op->park_mut;
    }
    op->park_deadline_ns = hln_mono_nanos() + (int64_t)sh->eng->cfg.write_timeout_ms * 1000 * 1000;
    op->park_next = NULL;
    if (sh->parked_tail)
        sh->parked_tail->park_next = op;
    else
        sh->parked = op;
    sh->parked_tail = op;
    sh->nparked++;
    sh->parked_total++;
    if (!uv_is_active((uv_handle_t *)&sh->park_timer)) {
        sh->park_timer.data = sh;
        uv_timer_start(&sh->park_timer, park_tick, 10, 10);
    }
}

void ex_park_retry(hln_shard *sh)
{
    if (sh->park_retrying) return; /* an op let through dispatched more */
    sh->park_retrying = true;
    while (sh->parked) {
        ex_op *op = sh->parked;
        bool expired = hln_mono_nanos() >= op->park_deadline_ns;
        if (!expired && !(sh->store && st_write_ready(sh->store))) break;
        sh->parked = op->park_next;
        if (!sh->parked) sh->parked_tail = NULL;
        sh->nparked--;
        if (expired) {
            op_timeout(op);
            sh->write_timeouts++;
        } else
            op_exec(op, sh, op->park_arena, op->park_m);
        op_finish_parked(op);
    }
    if (!sh->parked && uv_is_active((uv_handle_t *)&sh->park_timer)) uv_timer_stop(&sh->park_timer);
    sh->park_retrying = false;
}

void ex_park_fail_all(hln_shard *sh)
{
    sh->park_retrying = true;
    while (sh->parked) {
        ex_op *op = sh->parked;
        sh->parked = op->park_next;
        if (!sh->parked) sh->parked_tail = NULL;
        sh->nparked--;
        sh->write_timeouts++;
        op_timeout(op);
        op_finish_parked(op);
    }
    sh->park_retrying = false;
}

/* Runs op on sh now, or parks it (invariant 4); false when parked. */
static bool op_exec_or_park(ex_op *op, hln_shard *sh, hln_arena *a, const st_mutation *m)
{
    if (op_writes(op) && sh->store) {
        if (sh->parked) ex_park_retry(sh);
        if (sh->parked || !st_write_ready(sh->store)) {
            park(op, sh, a, m);
            return false;
        }
    }
    op_exec(op, sh, a, m);
    return true;
}

/* Every op of the dispatch is done. Writes that produced view mutations
 * (view.c) get a second round that applies them on the views' shards
 * before the continuation runs; the continuation then sees the first
 * round's ops as st->cur, with a failed view write reported as the
 * failure of the first op. */
static void ops_done(ex_request *r)
{
    ex_state *st = ex_st(r);
    if (st->view_round) {
        st->view_round = false;
        ex_op *first = st->view_saved;
        for (ex_op *op = st->cur; op && first; op = op->next_batch)
            if (op->rc && !first->rc) {
                first->rc = op->rc;
                first->err = op->err;
            }
        st->cur = st->view_saved;
        st->then = st->view_then;
        /* every view shard applied its part: the entries can go (a failed
           part leaves them, to be applied again at the next start) */
        for (ex_op *op = st->view_saved; op && !(first && first->rc); op = op->next_batch)
            if (op->vlog) ex_batchlog_done(op->vlog);
        st->then(r);
        return;
    }
    bool any = false;
    for (ex_op *op = st->cur; op && !any; op = op->next_batch)
        any = op->nvmuts > 0 && !op->rc;
    if (!any) {
        /* writes to tables with views that changed no view row: their
           batchlog entries are done with (a failed write keeps its own) */
        for (ex_op *op = st->cur; op; op = op->next_batch)
            if (op->vlog && !op->rc) ex_batchlog_done(op->vlog);
        st->then(r);
        return;
    }
    ex_op *saved = st->cur;
    ex_then_fn then = st->then;
    for (ex_op *op = saved; op; op = op->next_batch) {
        for (uint32_t i = 0; !op->rc && i < op->nvmuts; i++) {
            const st_mutation *vm = &op->vmuts[i];
            ex_op *nop =
                ex_op_new(r, EX_OP_MUTATE, rt_shard_for_token(st->eng->nshards, vm->token));
            if (!nop) {
                if (!saved->rc) op_fail(saved, hln_fail(&saved->err, HLN_ENOMEM, "out of memory"));
                break;
            }
            nop->mut = vm;
        }
    }
    st->view_round = true;
    st->view_saved = saved;
    st->view_then = then;
    ex_dispatch(r, then);
}

/* Back on the origin shard. */
static void op_reply(rt_shard *self, rt_msg *m)
{
    HLN_UNUSED(self);
    ex_op *op = (ex_op *)m;
    ex_request *r = op->r;
    ex_state *st = ex_st(r);
    if (--st->pending == 0) ops_done(r);
}

/* On the target shard. */
static void op_run(rt_shard *rself, rt_msg *m)
{
    hln_shard *self = engine_shard(rself);
    ex_op *op = (ex_op *)m;
    if (op->kind == EX_OP_MUTATE_BATCH) {
        hln_rd rd;
        hln_rd_init(&rd, op->enc.data, op->enc.len);
        st_mutation *ms = NULL;
        uint32_t n = 0;
        int rc = st_batch_decode(&rd, &op->arena, &ms, &n);
        if (rc) {
            op_fail(op, hln_fail(&op->err, rc, "cannot decode batch"));
        } else {
            op->muts = ms;
            op->nmuts = n;
            if (!op_exec_or_park(op, self, &op->arena, NULL)) return;
        }
    } else if (op->kind == EX_OP_MUTATE || op->kind == EX_OP_CAS) {
        hln_rd rd;
        hln_rd_init(&rd, op->enc.data, op->enc.len);
        st_mutation mut;
        int rc = st_mutation_decode(&rd, &op->arena, &mut);
        if (rc)
            op_fail(op, hln_fail(&op->err, rc, "cannot decode mutation"));
        else if (!op_exec_or_park(op, self, &op->arena, &mut))
            return;
    } else {
        op_exec(op, self, &op->arena, NULL);
    }
    op->msg.fn = op_reply;
    op->msg.next = NULL;
    engine_post(op->origin, &op->msg);
}

static const uint8_t *copy_bytes(hln_arena *a, const uint8_t *p, size_t n)
{
    static const uint8_t empty[1];
    return n ? hln_arena_memdup(a, p, n) : empty;
}

/* Makes a remote op self-contained (invariant 1). */
static int op_pack(ex_op *op)
{
    hln_arena *a = &op->arena;
    switch (op->kind) {
    case EX_OP_MUTATE:
        st_mutation_encode(op->mut, &op->enc);
        if (op->enc.err) return HLN_ENOMEM;
        return 0;
    case EX_OP_MUTATE_BATCH:
        st_batch_encode(op->muts, op->nmuts, &op->enc);
        if (op->enc.err) return HLN_ENOMEM;
        op->muts = NULL; /* the target decodes its own copy */
        op->nmuts = 0;
        return 0;
    case EX_OP_READ:
        op->read.pk = copy_bytes(a, op->read.pk, op->read.pklen);
        op->read.start.key = copy_bytes(a, op->read.start.key, op->read.start.len);
        op->read.end.key = copy_bytes(a, op->read.end.key, op->read.end.len);
        if (!op->read.pk || !op->read.start.key || !op->read.end.key) return HLN_ENOMEM;
        return 0;
    case EX_OP_SCAN:
        if (op->scan.after_pk) {
            op->scan.after_pk = copy_bytes(a, op->scan.after_pk, op->scan.after_pklen);
            if (!op->scan.after_pk) return HLN_ENOMEM;
        }
        return 0;
    case EX_OP_DROP:
    case EX_OP_TRUNCATE:
    case EX_OP_VIEW_BUILD:
    case EX_OP_STATS:
        return 0;
    case EX_OP_ISCAN:
    case EX_OP_ANN: {
        if (op->scan.after_pk) {
            op->scan.after_pk = copy_bytes(a, op->scan.after_pk, op->scan.after_pklen);
            if (!op->scan.after_pk) return HLN_ENOMEM;
        }
        ex_ann_op *q = hln_arena_memdup(a, op->ann, sizeof *q);
        if (!q) return HLN_ENOMEM;
        if (q->termlen) {
            q->term = copy_bytes(a, q->term, q->termlen);
            if (!q->term) return HLN_ENOMEM;
        }
        if (q->ppk) {
            q->ppk = copy_bytes(a, q->ppk, q->ppklen);
            if (!q->ppk) return HLN_ENOMEM;
        }
        if (q->dim > 0) { /* a warm-up op (k 0) has no vector */
            q->q = hln_arena_memdup(a, op->ann->q, sizeof(float) * (size_t)q->dim);
            if (!q->q) return HLN_ENOMEM;
        }
        op->ann = q;
        return 0;
    }
    case EX_OP_CAS:
        st_mutation_encode(op->mut, &op->enc);
        if (op->enc.err) return HLN_ENOMEM;
        op->read.pk = copy_bytes(a, op->read.pk, op->read.pklen);
        op->read.start.key = copy_bytes(a, op->read.start.key, op->read.start.len);
        op->read.end.key = copy_bytes(a, op->read.end.key, op->read.end.len);
        if (!op->read.pk || !op->read.start.key || !op->read.end.key) return HLN_ENOMEM;
        return ex_cas_pack(op);
    }
    return 0;
}

void ex_dispatch(ex_request *r, ex_then_fn then)
{
    ex_state *st = ex_st(r);
    ex_op *batch = st->batch;
    st->batch = st->batch_tail = NULL;
    st->cur = batch;
    st->then = then;
    st->pending = 1;
    ex_op *next;
    for (ex_op *op = batch; op; op = next) {
        next = op->next_batch; /* read before a post hands op to its target */
        if (!op->remote) {
            if (!op_exec_or_park(op, r->shard, &r->arena, op->mut)) st->pending++;
            continue;
        }
        int rc = op_pack(op);
        if (rc) {
            op_fail(op, hln_fail(&op->err, rc, "out of memory"));
            continue;
        }
        st->pending++;
        op->msg.fn = op_run;
        op->msg.next = NULL;
        engine_post(&st->eng->shards[op->target], &op->msg);
    }
    if (--st->pending == 0) ops_done(r);
}

int ex_batch_error(ex_request *r)
{
    for (ex_op *op = ex_st(r)->cur; op; op = op->next_batch) {
        if (op->rc) {
            r->err = op->err;
            return op->rc;
        }
    }
    return 0;
}
