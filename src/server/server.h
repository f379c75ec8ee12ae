/*
 * server.h — the CQL network listener on top of an engine.
 *
 * What: one listening TCP socket, owned by shard 0's loop; each accepted
 * connection is handed round-robin to a shard, whose thread then owns it
 * for its whole life (reads, frames, requests through exec/, writes).
 * The embedded API uses the same engine without any of this.
 *
 * Lifetime: engine_start, then server_start; on shutdown server_stop (stop
 * accepting, close connections) then engine_stop (flush storage). engine_stop
 * also closes the network and frees the server if server_stop was skipped.
 */
#ifndef HLN_SERVER_H
#define HLN_SERVER_H

#include "exec/node.h"

/* Binds e->cfg.listen_address:native_transport_port on shard 0's loop and
 * starts accepting. Returns once listening, or an error (HLN_EIO with
 * "Cannot listen on ADDR:PORT: address already in use" and the like).
 * With port 0 the kernel picks one: see server_port. */
int server_start(hln_engine *e, hln_error *err);
/* The port actually bound (differs from the configured one only for 0). */
int server_port(const hln_engine *e);

/* From any thread: pushes a TOPOLOGY_CHANGE (change NEW_NODE, REMOVED_NODE,
 * MOVED_NODE) or STATUS_CHANGE (UP, DOWN) event about the node at addr
 * (4 or 16 bytes) and CQL port to every connection that registered for it.
 * The cluster layer calls it when nodes join, leave, go up or down; a single
 * node has no such changes to report. */
void server_node_event(hln_engine *e, bool topology, const char *change, const uint8_t *addr,
                       int addrlen, int port);
/* Stops accepting and closes every connection; waits until each shard has
 * done so. Idempotent. Call from outside the shard threads. */
void server_stop(hln_engine *e);

/* The admin port (admin_http.c): nodetool-style verbs and /metrics over
 * HTTP on admin_address:admin_port (127.0.0.1:7199; admin_port -1 = off,
 * 0 = any free port). *out stays NULL when off. */
typedef struct admin_http admin_http;
int admin_http_start(admin_http **out, hln_engine *e, hln_error *err);
int admin_http_port(const admin_http *h);
void admin_http_stop(admin_http *h); /* NULL is a no-op */

#endif
