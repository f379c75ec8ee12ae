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

#include "server/engine.h"

/* Binds e->cfg.listen_address:native_transport_port on shard 0's loop and
 * starts accepting. Returns once listening, or an error (HLN_EIO with
 * "Cannot listen on ADDR:PORT: address already in use" and the like).
 * With port 0 the kernel picks one: see server_port. */
int server_start(hln_engine *e, hln_error *err);
/* The port actually bound (differs from the configured one only for 0). */
int server_port(const hln_engine *e);
/* Stops accepting and closes every connection; waits until each shard has
 * done so. Idempotent. Call from outside the shard threads. */
void server_stop(hln_engine *e);

#endif
