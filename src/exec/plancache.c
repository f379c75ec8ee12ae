/*
 * plancache.c — per-shard cache of analyzed plans of prepared statements.
 *
 * What: EXECUTE of a prepared id used to copy the statement's text out of
 * the engine-wide prepared map, then lex, parse and analyze it on every
 * call. This cache keeps, per shard, the result of that work for the ids
 * recently executed there: the text and keyspace, the syntax tree and the
 * plan, all in one arena owned by the entry, plus a reference to the schema
 * snapshot the plan was analyzed against. The hot path of a prepared
 * point read becomes: hash lookup, pointer compare of the snapshot,
 * authorisation, value binding, execution.
 *
 * Why per shard and not in the engine-wide map: a shard's thread is the
 * only one touching its cache, so lookups take no lock and share no cache
 * lines with other cores; the engine-wide id -> text map (exec.c) stays the
 * source of truth, and a miss falls back to it.
 *
 * Validity: an entry is valid for exactly one schema snapshot. It holds a
 * reference to it, so its pointer cannot be reused by a later snapshot
 * while the entry lives, and a lookup compares it with the request's
 * snapshot pointer: any DDL publishes a new snapshot, and the next
 * EXECUTE on each shard re-analyzes (and so follows the new schema or
 * fails the way a fresh analysis fails: no stale plan is ever run).
 *
 * Per execution versus cached: the plan holds terms (literal text or marker
 * index), never values (analyze.c, invariant 4). Values, limits, filter
 * values, timestamps and mutations are bound into the request's arena by
 * the executors; the plan is const to them. Authorisation (access.c,
 * ex_authorize_plan) is remembered in the entry per role: a verdict is
 * reused while the schema snapshot and the auth store's version are the
 * ones it was computed under, so GRANT, REVOKE, role changes and DDL all
 * make the next execution check again.
 *
 * Lifetime: an entry is reference-counted (atomic: a request may be freed
 * on another thread than its shard's). The cache holds one reference, each
 * request using it another (ex_state.cplan, dropped by ex_request_free),
 * so a plan evicted or invalidated while a request still runs on it (a
 * cross-shard read in flight) stays alive until that request is freed.
 *
 * Bound: at most cfg.plan_cache_entries entries per shard (default 4096,
 * 0 disables caching), evicted least recently used first. Buckets are a
 * fixed power of two, chained.
 *
 * Invariants:
 *  1. A shard's cache is touched only on that shard's thread, except by
 *     ex_plan_cache_free once the shard thread has stopped.
 *  2. Nothing in an entry points into a request's arena or values.
 *  3. An entry is used only by a request whose snapshot is entry->schema.
 */
#include <stdatomic.h>
#include <string.h>

#include "exec/execInt.h"

typedef struct pc_node {
    uint8_t id[16];
    ex_cached_plan *cp;
    struct pc_node *hnext;       /* bucket chain */
    struct pc_node *prev, *next; /* LRU list, most recent first */
} pc_node;

typedef struct pc_cache {
    pc_node **buckets;
    size_t nbuckets; /* power of two */
    int n, max;
    pc_node *head, *tail;
    ex_plan_cache_stats stats;
} pc_cache;

void ex_cached_plan_unref(ex_cached_plan *cp)
{
    if (!cp) return;
    if (atomic_fetch_sub(&cp->refs, 1) != 1) return;
    if (cp->schema) schema_release(cp->schema);
    for (int i = 0; i < EX_VERDICTS; i++) {
        hln_free(cp->verdicts[i].key);
        hln_free(cp->verdicts[i].msg);
    }
    hln_arena_free(&cp->arena);
    hln_free(cp);
}

static pc_cache *cache_of(hln_shard *s)
{
    if (s->plans) return s->plans;
    int max = s->eng ? s->eng->cfg.plan_cache_entries : 0;
    if (max <= 0) return NULL;
    pc_cache *c = hln_calloc(1, sizeof *c);
    if (!c) return NULL;
    size_t nb = 16;
    while (nb < (size_t)max)
        nb *= 2;
    c->buckets = hln_calloc(nb, sizeof *c->buckets);
    if (!c->buckets) {
        hln_free(c);
        return NULL;
    }
    c->nbuckets = nb;
    c->max = max;
    s->plans = c;
    return c;
}

static pc_node **bucket_of(pc_cache *c, const uint8_t id[16])
{
    uint64_t h;
    memcpy(&h, id, sizeof h); /* the id is an MD5: its bytes are uniform */
    return &c->buckets[h & (c->nbuckets - 1)];
}

static void lru_unlink(pc_cache *c, pc_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        c->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        c->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_push_front(pc_cache *c, pc_node *n)
{
    n->prev = NULL;
    n->next = c->head;
    if (c->head) c->head->prev = n;
    c->head = n;
    if (!c->tail) c->tail = n;
}

static void remove_node(pc_cache *c, pc_node *n)
{
    for (pc_node **pp = bucket_of(c, n->id); *pp; pp = &(*pp)->hnext) {
        if (*pp == n) {
            *pp = n->hnext;
            break;
        }
    }
    lru_unlink(c, n);
    ex_cached_plan_unref(n->cp);
    hln_free(n);
    c->n--;
}

ex_cached_plan *ex_plan_cache_get(hln_shard *s, const uint8_t id[16], const hln_schema *schema)
{
    pc_cache *c = s->plans;
    if (!c) return NULL;
    for (pc_node *n = *bucket_of(c, id); n; n = n->hnext) {
        if (memcmp(n->id, id, 16)) continue;
        if (n->cp->schema != schema) {
            /* analyzed against another snapshot: never used again (snapshots
             * only move forward, and this one is not the request's) */
            remove_node(c, n);
            c->stats.invalidations++;
            break;
        }
        if (c->head != n) {
            lru_unlink(c, n);
            lru_push_front(c, n);
        }
        c->stats.hits++;
        atomic_fetch_add(&n->cp->refs, 1);
        return n->cp;
    }
    c->stats.misses++;
    return NULL;
}

void ex_plan_cache_put(hln_shard *s, const uint8_t id[16], ex_cached_plan *cp)
{
    pc_cache *c = cache_of(s);
    if (!c) return;
    for (pc_node *n = *bucket_of(c, id); n; n = n->hnext) {
        if (!memcmp(n->id, id, 16)) {
            remove_node(c, n); /* replaced by the newer analysis */
            break;
        }
    }
    while (c->n >= c->max && c->tail) {
        remove_node(c, c->tail);
        c->stats.evictions++;
    }
    pc_node *n = hln_calloc(1, sizeof *n);
    if (!n) return; /* not cached: the request still holds its reference */
    memcpy(n->id, id, 16);
    n->cp = cp;
    atomic_fetch_add(&cp->refs, 1);
    pc_node **b = bucket_of(c, id);
    n->hnext = *b;
    *b = n;
    lru_push_front(c, n);
    c->n++;
}

void ex_plan_cache_stats_get(hln_shard *s, ex_plan_cache_stats *out)
{
    pc_cache *c = s->plans;
    memset(out, 0, sizeof *out);
    if (!c) return;
    *out = c->stats;
    out->entries = c->n;
}

void ex_plan_cache_count_auth(hln_shard *s, bool reused)
{
    pc_cache *c = s->plans;
    if (!c) return; /* caching disabled: nothing to report to */
    if (reused)
        c->stats.auth_reused++;
    else
        c->stats.auth_checks++;
}

void ex_plan_cache_free(hln_shard *s)
{
    pc_cache *c = s->plans;
    if (!c) return;
    while (c->head)
        remove_node(c, c->head);
    hln_free(c->buckets);
    hln_free(c);
    s->plans = NULL;
}
