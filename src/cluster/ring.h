/*
 * ring.h — the token ring: nodes, their tokens, and replica placement.
 *
 * What: a cx_ring is an immutable table of nodes (address, dc, rack) and
 * their Murmur3 tokens, sorted by token, built once from a static node
 * list (the first slice of issue 12 has no membership changes). It
 * answers "which nodes hold token t" for SimpleStrategy and
 * NetworkTopologyStrategy, with Cassandra's algorithms, so that a
 * driver's token map (which runs the same algorithms over system.peers)
 * agrees with the node's own placement.
 *
 * Why here: placement is pure metadata, below exec's coordinator and
 * above nothing but common/; the messaging and failure detector of
 * cluster/ will use node indexes of this table.
 *
 * Invariants:
 *  1. Tokens in the ring are distinct and sorted ascending.
 *  2. Token allocation depends only on (cluster_name, address, i), so every
 *     node given the same node list builds an identical ring.
 *  3. A ring is immutable after cx_ring_build; readers need no lock.
 */
#ifndef HLN_CLUSTER_RING_H
#define HLN_CLUSTER_RING_H

#include <stddef.h>
#include <stdint.h>

#define CX_NAME_MAX 64
#define CX_MAX_TOKENS 1024 /* per node */

/* One node as configured. tokens/ntokens: initial_token values (then
 * num_tokens is ignored); else num_tokens (1..CX_MAX_TOKENS) are derived. */
typedef struct cx_node_spec {
    const char *addr;
    const char *dc;
    const char *rack;
    unsigned num_tokens;
    const int64_t *tokens;
    size_t ntokens;
} cx_node_spec;

typedef struct cx_node {
    char addr[CX_NAME_MAX];
    char dc[CX_NAME_MAX];
    char rack[CX_NAME_MAX];
    size_t ntokens;
} cx_node;

typedef struct cx_ring cx_ring;

/* One NetworkTopologyStrategy datacenter factor. */
typedef struct cx_dc_rf {
    const char *dc;
    unsigned rf;
} cx_dc_rf;

/* The token of vnode i of the node at addr in cluster cluster_name:
 * Murmur3 of "<cluster_name>/<addr>/<i>" (before collision handling). */
int64_t cx_token_for(const char *cluster_name, const char *addr, unsigned i);

/* Builds the ring of n nodes. 0 and *out (free with cx_ring_free), or
 * HLN_EINVAL with a message in err (bad names, duplicate addresses or
 * initial tokens, token counts out of range) or HLN_ENOMEM. */
int cx_ring_build(const char *cluster_name, const cx_node_spec *nodes, size_t n, cx_ring **out,
                  char *err, size_t errlen);
void cx_ring_free(cx_ring *r);

size_t cx_ring_nodes(const cx_ring *r);
const cx_node *cx_ring_node(const cx_ring *r, size_t i);
/* Node i's tokens, ascending; *n gets their count. Owned by the ring. */
const int64_t *cx_ring_node_tokens(const cx_ring *r, size_t i, size_t *n);
/* Index of the node with this address, or -1. */
int cx_ring_find(const cx_ring *r, const char *addr);

/* Replicas of token t, primary first, as node indexes into out (at most
 * cap). Return the count: min(rf, nodes) for SimpleStrategy; for NTS the
 * sum over dcs of min(rf, nodes of that dc), dc by dc in walk order. */
size_t cx_replicas_simple(const cx_ring *r, int64_t t, unsigned rf, int *out, size_t cap);
size_t cx_replicas_nts(const cx_ring *r, int64_t t, const cx_dc_rf *dcs, size_t ndcs, int *out,
                       size_t cap);

#endif
