/*
 * ring.c — token allocation and replica placement (ring.h).
 *
 * The ring is one array of (token, node) entries sorted by token. The
 * owner (primary replica) of token t is the entry with the smallest token
 * >= t, wrapping to the first entry past the largest token; this is
 * Cassandra's TokenMetadata.firstToken rule, so "t belongs to (prev, tok]".
 *
 * SimpleStrategy walks the entries clockwise from the owner and takes the
 * first rf distinct nodes. NetworkTopologyStrategy walks once for all
 * datacenters: per DC it accepts a node whose rack it has not placed yet,
 * keeps a node of an already-placed rack aside (in walk order, each node
 * once) while the DC still has unplaced racks, and when the last rack is
 * placed fills up from the nodes kept aside; a DC is complete at
 * min(rf, nodes in the DC). This is the definition both Cassandra's
 * NetworkTopologyStrategy and the Python driver's token map implement.
 *
 * Token allocation (ring.h, invariant 2): nodes are processed in address
 * order, vnode i of a node hashes "<cluster>/<addr>/<i>"; a token that is
 * taken already moves up by one until free, so the result does not depend
 * on the order of the configured list.
 */
#include "cluster/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

typedef struct cx_entry {
    int64_t token;
    int node;
} cx_entry;

struct cx_ring {
    cx_node *nodes;
    size_t nnodes;
    cx_entry *ents; /* sorted by token */
    size_t nents;
    int64_t **node_tokens; /* per node, ascending */
};

int64_t cx_token_for(const char *cluster_name, const char *addr, unsigned i)
{
    char buf[3 * CX_NAME_MAX + 16];
    int n = snprintf(buf, sizeof buf, "%s/%s/%u", cluster_name, addr, i);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    return hln_murmur3_token(buf, (size_t)n);
}

static int cmp_ent(const void *a, const void *b)
{
    const cx_entry *x = a, *y = b;
    return x->token < y->token ? -1 : x->token > y->token;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int name_ok(const char *s)
{
    return s && s[0] && strlen(s) < CX_NAME_MAX;
}

static int taken(const cx_entry *e, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].token == t) return 1;
    return 0;
}

void cx_ring_free(cx_ring *r)
{
    if (!r) return;
    if (r->node_tokens)
        for (size_t i = 0; i < r->nnodes; i++)
            hln_free(r->node_tokens[i]);
    hln_free(r->node_tokens);
    hln_free(r->nodes);
    hln_free(r->ents);
    hln_free(r);
}

int cx_ring_build(const char *cluster_name, const cx_node_spec *nodes, size_t n, cx_ring **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    if (!name_ok(cluster_name)) {
        snprintf(err, errlen, "cluster_name must be 1..%d bytes", CX_NAME_MAX - 1);
        return HLN_EINVAL;
    }
    if (n == 0 || n > 4096) {
        snprintf(err, errlen, "a ring needs 1..4096 nodes, not %zu", n);
        return HLN_EINVAL;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const cx_node_spec *s = &nodes[i];
        if (!name_ok(s->addr) || !name_ok(s->dc) || !name_ok(s->rack)) {
            snprintf(err, errlen, "node %zu: address, dc and rack must be 1..%d bytes", i,
                     CX_NAME_MAX - 1);
            return HLN_EINVAL;
        }
        size_t k = s->ntokens ? s->ntokens : s->num_tokens;
        if (k == 0 || k > CX_MAX_TOKENS) {
            snprintf(err, errlen, "node %s: num_tokens must be 1..%d, not %zu", s->addr,
                     CX_MAX_TOKENS, k);
            return HLN_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(nodes[j].addr, s->addr) == 0) {
                snprintf(err, errlen, "node %s is listed twice", s->addr);
                return HLN_EINVAL;
            }
        total += k;
    }
    cx_ring *r = hln_calloc(1, sizeof *r);
    size_t *order = hln_malloc(n * sizeof *order);
    if (!r || !order) goto nomem;
    r->nodes = hln_calloc(n, sizeof *r->nodes);
    r->ents = hln_malloc(total * sizeof *r->ents);
    r->node_tokens = hln_calloc(n, sizeof *r->node_tokens);
    if (!r->nodes || !r->ents || !r->node_tokens) goto nomem;
    r->nnodes = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(r->nodes[i].addr, CX_NAME_MAX, "%s", nodes[i].addr);
        snprintf(r->nodes[i].dc, CX_NAME_MAX, "%s", nodes[i].dc);
        snprintf(r->nodes[i].rack, CX_NAME_MAX, "%s", nodes[i].rack);
        order[i] = i;
    }
    /* explicit tokens first: a duplicate among them is a configuration error */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < nodes[i].ntokens; j++) {
            int64_t t = nodes[i].tokens[j];
            if (taken(r->ents, r->nents, t)) {
                snprintf(err, errlen, "initial_token %lld of %s is used twice", (long long)t,
                         nodes[i].addr);
                cx_ring_free(r);
                hln_free(order);
                return HLN_EINVAL;
            }
            r->ents[r->nents++] = (cx_entry){t, (int)i};
        }
    }
    for (size_t i = 1; i < n; i++) /* by address; insertion sort, no global state */
        for (size_t j = i; j > 0 && strcmp(nodes[order[j - 1]].addr, nodes[order[j]].addr) > 0;
             j--) {
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    for (size_t oi = 0; oi < n; oi++) {
        size_t i = order[oi];
        if (nodes[i].ntokens) continue;
        for (unsigned v = 0; v < nodes[i].num_tokens; v++) {
            int64_t t = cx_token_for(cluster_name, nodes[i].addr, v);
            while (taken(r->ents, r->nents, t))
                t = t == INT64_MAX ? INT64_MIN + 1 : t + 1;
            r->ents[r->nents++] = (cx_entry){t, (int)i};
        }
    }
    hln_free(order);
    order = NULL;
    qsort(r->ents, r->nents, sizeof *r->ents, cmp_ent);
    for (size_t e = 0; e < r->nents; e++)
        r->nodes[r->ents[e].node].ntokens++;
    for (size_t i = 0; i < n; i++) {
        r->node_tokens[i] = hln_malloc(r->nodes[i].ntokens * sizeof(int64_t));
        if (!r->node_tokens[i]) goto nomem;
        r->nodes[i].ntokens = 0;
    }
    for (size_t e = 0; e < r->nents; e++) {
        cx_node *nd = &r->nodes[r->ents[e].node];
        r->node_tokens[r->ents[e].node][nd->ntokens++] = r->ents[e].token;
    }
    for (size_t i = 0; i < n; i++)
        qsort(r->node_tokens[i], r->nodes[i].ntokens, sizeof(int64_t), cmp_i64);
    *out = r;
    return 0;
nomem:
    hln_free(order);
    cx_ring_free(r);
    snprintf(err, errlen, "out of memory building the ring");
    return HLN_ENOMEM;
}

size_t cx_ring_nodes(const cx_ring *r)
{
    return r->nnodes;
}

const cx_node *cx_ring_node(const cx_ring *r, size_t i)
{
    return i < r->nnodes ? &r->nodes[i] : NULL;
}

const int64_t *cx_ring_node_tokens(const cx_ring *r, size_t i, size_t *n)
{
    *n = i < r->nnodes ? r->nodes[i].ntokens : 0;
    return i < r->nnodes ? r->node_tokens[i] : NULL;
}

int cx_ring_find(const cx_ring *r, const char *addr)
{
    for (size_t i = 0; i < r->nnodes; i++)
        if (strcmp(r->nodes[i].addr, addr) == 0) return (int)i;
    return -1;
}

/* index of the first entry with token >= t, wrapping to 0 */
static size_t first_entry(const cx_ring *r, int64_t t)
{
    size_t lo = 0, hi = r->nents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->ents[mid].token < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == r->nents ? 0 : lo;
}

static int contains(const int *a, size_t n, int v)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == v) return 1;
    return 0;
}

size_t cx_replicas_simple(const cx_ring *r, int64_t t, unsigned rf, int *out, size_t cap)
{
    size_t want = rf < r->nnodes ? rf : r->nnodes, got = 0;
    if (want > cap) want = cap;
    size_t start = first_entry(r, t);
    for (size_t k = 0; k < r->nents && got < want; k++) {
        int nd = r->ents[(start + k) % r->nents].node;
        if (!contains(out, got, nd)) out[got++] = nd;
    }
    return got;
}

/* per-DC state of the NTS walk */
typedef struct nts_dc {
    const char *dc;
    size_t want;   /* min(rf, nodes in the dc) */
    size_t nracks; /* distinct racks in the dc */
    size_t got;    /* replicas placed */
    size_t placed; /* racks placed */
    const char **racks_placed;
    int *skipped;
    size_t nskipped;
} nts_dc;

size_t cx_replicas_nts(const cx_ring *r, int64_t t, const cx_dc_rf *dcs, size_t ndcs, int *out,
                       size_t cap)
{
    nts_dc *st = hln_calloc(ndcs ? ndcs : 1, sizeof *st);
    const char **racks = hln_calloc(r->nnodes * (ndcs ? ndcs : 1), sizeof *racks);
    int *skipped = hln_calloc(r->nnodes * (ndcs ? ndcs : 1), sizeof *skipped);
    size_t got = 0;
    if (!st || !racks || !skipped) goto done;
    size_t total_want = 0;
    for (size_t d = 0; d < ndcs; d++) {
        st[d].dc = dcs[d].dc;
        st[d].racks_placed = racks + d * r->nnodes;
        st[d].skipped = skipped + d * r->nnodes;
        size_t nodes = 0;
        const char **seen = st[d].racks_placed; /* scratch: count racks */
        for (size_t i = 0; i < r->nnodes; i++) {
            if (strcmp(r->nodes[i].dc, dcs[d].dc) != 0) continue;
            nodes++;
            size_t k = 0;
            while (k < st[d].nracks && strcmp(seen[k], r->nodes[i].rack) != 0)
                k++;
            if (k == st[d].nracks) seen[st[d].nracks++] = r->nodes[i].rack;
        }
        st[d].want = dcs[d].rf < nodes ? dcs[d].rf : nodes;
        total_want += st[d].want;
    }
    size_t start = first_entry(r, t);
    for (size_t k = 0; k < r->nents && got < total_want && got < cap; k++) {
        int nd = r->ents[(start + k) % r->nents].node;
        const cx_node *node = &r->nodes[nd];
        nts_dc *s = NULL;
        for (size_t d = 0; d < ndcs; d++)
            if (strcmp(st[d].dc, node->dc) == 0) {
                s = &st[d];
                break;
            }
        if (!s || s->got >= s->want || contains(out, got, nd)) continue;
        int rack_placed = 0;
        for (size_t i = 0; i < s->placed; i++)
            if (strcmp(s->racks_placed[i], node->rack) == 0) rack_placed = 1;
        if (rack_placed && s->placed < s->nracks) {
            if (!contains(s->skipped, s->nskipped, nd)) s->skipped[s->nskipped++] = nd;
            continue;
        }
        out[got++] = nd;
        s->got++;
        if (!rack_placed) {
            s->racks_placed[s->placed++] = node->rack;
            if (s->placed == s->nracks) {
                for (size_t i = 0; i < s->nskipped && s->got < s->want && got < cap; i++) {
                    out[got++] = s->skipped[i];
                    s->got++;
                }
                s->nskipped = 0;
            }
        }
    }
done:
    hln_free(st);
    hln_free(racks);
    hln_free(skipped);
    return got;
}
