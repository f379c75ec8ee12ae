/*
 * server_int.h — private to src/server: the state server.c and conn.c
 * share. Nothing outside src/server includes this.
 *
 * Ownership: e->server is an srv (server.c allocates it in server_start,
 * srv_destroy frees it after the shard threads have ended). Each shard's
 * s->server is that shard's srv_shard; only the shard's thread touches it,
 * apart from srv_destroy after the threads are joined.
 */
#ifndef HLN_SERVER_INT_H
#define HLN_SERVER_INT_H

#include <sys/socket.h>

#include "exec/node.h"
#include "server/server.h"

typedef struct conn conn;

typedef struct srv {
    hln_engine *eng;
    struct sockaddr_storage addr; /* what we listen on */
    int port;                     /* actually bound */
    unsigned next_shard;          /* round-robin cursor; shard 0's thread only */
    /* result of the bind on shard 0, reported back to server_start */
    int listen_rc;
    hln_error listen_err;
    struct tls_ctx *tls; /* client_encryption_options enabled (tls.h), else NULL */
} srv;

typedef struct srv_shard {
    hln_shard *shard;
    srv *srv;
    uv_tcp_t listener; /* shard 0 only */
    bool listening;
    /* responses produced during one loop iteration are written with one
     * uv_write per connection, from these two hooks */
    uv_prepare_t flush_prepare;
    uv_check_t flush_check;
    /* native_transport_idle_timeout: sweeps the connections a few times per
     * timeout (only when the timeout is set) */
    uv_timer_t idle_timer;
    bool idle_timer_on;
    conn *conns; /* open connections (doubly linked) */
    conn *dirty; /* connections with unsent output (singly linked) */
    bool closed; /* no new connections; handles closed */
    /* conn structs not yet freed: open, or closed with requests in flight */
    int live;
    uint64_t accepted;
} srv_shard;

/* ---- engine (exec/node.c, through hln_engine_net) -> server ------------ */
/* On s's thread: closes the listener and every connection of the shard and
 * the server's loop handles. Idempotent. */
void srv_shard_close(hln_shard *s);
/* After the shard threads have been joined: frees e->server and every
 * shard's srv_shard. */
void srv_destroy(hln_engine *e);

/* ---- server.c <-> conn.c ----------------------------------------------- */
/* On the shard's thread: adopts an accepted socket. */
void conn_adopt(srv_shard *ss, int fd);
/* Closes every connection of the shard. */
void conn_close_all(srv_shard *ss);
/* The shard's open connections, for system_views.clients (into a). */
int conn_list_clients(srv_shard *ss, hln_arena *a, hln_client_info **out, int *n);
/* Closes the connections that have neither received nor sent anything for
 * timeout_ms and have no request executing (native_transport_idle_timeout). */
void conn_sweep_idle(srv_shard *ss, uint64_t timeout_ms);
/* Writes out the pending output of every dirty connection. */
void conn_flush_dirty(srv_shard *ss);
/* Event types a connection REGISTERs for (bit mask). */
enum { EV_TOPOLOGY = 1, EV_STATUS = 2, EV_SCHEMA = 4 };

/* Queues an EVENT frame with body on every ready connection of ss that
 * registered for type (one of EV_*). */
void conn_push_event(srv_shard *ss, unsigned type, const uint8_t *body, size_t len);
/* From any shard thread: sends a SCHEMA_CHANGE event to every registered
 * connection on every shard. */
void srv_broadcast_schema_event(hln_engine *e, const char *change, const char *target,
                                const char *ks, const char *name);

#endif
