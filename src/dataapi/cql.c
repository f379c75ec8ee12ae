/*
 * cql.c — running a CQL statement from a Data API thread.
 *
 * What: da_cql wraps the statement in an ex_request, posts it to a shard
 * (round robin, engine_post) where ex_query runs it exactly as a client's
 * QUERY would (authorisation for the request's role included), and waits
 * on a condition variable until done() fires on the shard.
 *
 * Why this way: exec's invariant 1 (done() on the request's shard thread)
 * and node.h's invariant 2 (storage only on its shard) leave two choices
 * for a thread that is not a shard's: post and wait, as the embedded API
 * does, or run its own loop. The HTTP threads have nothing else to do
 * while a command runs, so waiting is the simple, correct one; the shard
 * never waits for HTTP.
 *
 * Invariants: a da_res is freed only after done() ran and returned from
 * its last touch of the struct (the `posted` flag, stored after the
 * unlock); ex_request_free may then run on this thread (exec.h inv. 2).
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "dataapi/dataapiInt.h"

struct da_res {
    rt_msg msg;
    ex_request req;
    char *cql;
    size_t len;
    ex_value *vals;
    int nvals;
    const char *role;
    int32_t page_size;
    const uint8_t *paging;
    int32_t paging_len;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;          /* under mu */
    atomic_bool posted; /* done()'s last touch */
};

const ex_result *da_res_result(const da_res *r)
{
    return &r->req.result;
}

static void res_done(ex_request *rq)
{
    da_res *r = rq->ud;
    pthread_mutex_lock(&r->mu);
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    atomic_store_explicit(&r->posted, true, memory_order_release);
}

static void res_run(rt_shard *self, rt_msg *m)
{
    da_res *r = (da_res *)m;
    ex_request_init(&r->req, engine_shard(self), res_done, r);
    r->req.params.values = r->vals;
    r->req.params.nvalues = r->nvals;
    r->req.params.role = r->role;
    r->req.params.consistency = EX_CL_LOCAL_ONE;
    r->req.params.page_size = r->page_size;
    r->req.params.paging_state = r->paging;
    r->req.params.paging_len = r->paging_len;
    ex_query(&r->req, r->cql, r->len);
}

void da_res_free(da_res *r)
{
    if (!r) return;
    ex_request_free(&r->req);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    hln_free(r->cql);
    hln_free(r->vals);
    hln_free(r);
}

/* The Data API errorCode for a CQL failure. */
static const char *code_of(int rc)
{
    switch (rc) {
    case HLN_EAUTH:
        return "UNAUTHENTICATED_REQUEST";
    case HLN_EUNAUTHORIZED:
        return "UNAUTHORIZED_REQUEST";
    case HLN_ENOTFOUND:
    case HLN_EINVAL:
    case HLN_ESYNTAX:
        return "INVALID_QUERY";
    default:
        return "SERVER_INTERNAL_ERROR";
    }
}

int da_cql(da_ctx *cx, const char *cql, const ex_value *vals, int n, int32_t page_size,
           const uint8_t *paging, int32_t paging_len, da_res **out, da_err *e)
{
    *out = NULL;
    da_res *r = hln_calloc(1, sizeof *r);
    if (!r) return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    r->len = strlen(cql);
    r->cql = hln_strdup(cql);
    if (n > 0) r->vals = hln_calloc((size_t)n, sizeof *r->vals);
    if (!r->cql || (n > 0 && !r->vals)) {
        hln_free(r->cql);
        hln_free(r->vals);
        hln_free(r);
        return da_fail(e, HLN_ENOMEM, "SERVER_INTERNAL_ERROR", "out of memory");
    }
    if (n > 0) memcpy(r->vals, vals, (size_t)n * sizeof *vals);
    r->nvals = n;
    r->role = cx->role;
    r->page_size = page_size;
    r->paging = paging;
    r->paging_len = paging_len;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    atomic_init(&r->posted, false);
    r->msg.fn = res_run;
    unsigned k = atomic_fetch_add(cx->next_shard, 1);
    engine_post(&cx->eng->shards[k % (unsigned)cx->eng->nshards], &r->msg);
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    while (!atomic_load_explicit(&r->posted, memory_order_acquire))
        sched_yield();
    int rc = r->req.rc;
    if (rc) {
        da_fail(e, rc, code_of(rc), "%s", r->req.err.msg);
        da_res_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
