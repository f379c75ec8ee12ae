/*
 * dataapi.h — the Data API: JSON documents over HTTP, as astrapy speaks it.
 *
 * What: an HTTP port (libmicrohttpd, off by default: data_api_port -1)
 * answering POST /v1 (keyspace commands), /v1/{keyspace} (collection
 * commands) and /v1/{keyspace}/{collection} (document commands) with the
 * Data API's JSON shapes; collections are CQL tables (docs/ARCHITECTURE.md,
 * "The Data API").
 *
 * Threads: the daemon runs a thread per HTTP connection; a command runs
 * CQL statements on the shards by message and waits on its own thread, so
 * no shard loop ever blocks on HTTP.
 */
#ifndef HLN_DATAAPI_H
#define HLN_DATAAPI_H

#include "common/common.h"
#include "exec/node.h"

typedef struct da_http da_http;

/* Starts the port on e->cfg.data_api_address:data_api_port; *out is NULL
 * (and 0 returned) when the port is off. */
int da_http_start(da_http **out, hln_engine *e, hln_error *err);
/* The bound port (0 for NULL). */
int da_http_port(const da_http *h);
/* Stops the daemon (waits for its connection threads) and frees; NULL is a
 * no-op. Call before the engine stops. */
void da_http_stop(da_http *h);

#endif
