/*
 * node.h — the node engine: configuration, data directory, catalog, auth
 * store, and each shard's storage, on top of the shard runtime.
 *
 * What: an hln_engine owns the catalog, the auth store, exec's prepared
 * map and an rt_runtime of N shards (src/runtime). Each runtime shard
 * carries an hln_shard in its user-data slot: its storage engine (one
 * st_engine: commitlog, memtables, sstables for the tokens it owns), the
 * commitlog sync timer, exec's cache of prepared plans, and the network
 * layer's per-shard state. The network listener (server/) and the embedded
 * API (embedded/) both sit on top of the same engine.
 *
 * Why in exec/: the engine is what exec runs against (catalog, auth,
 * storage per shard); putting it here keeps every dependency pointing
 * down: runtime and storage below, server and embedded above. The network
 * layer plugs in through hln_engine_net (hooks), so nothing here knows of
 * connections.
 *
 * Why shard-per-core: no locks on the data path; a partition's state lives
 * on exactly one thread. Work for a partition owned by another shard travels
 * as a message (rt_msg, runtime.h) and its reply comes back the same way.
 *
 * Invariants:
 *  1. Token -> shard is rt_shard_for_token (runtime.h invariant 1).
 *  2. Only the owning shard's thread touches its st_engine.
 *  3. e->shards[i].rt is runtime shard i, whose user-data slot is
 *     &e->shards[i].
 */
#ifndef HLN_NODE_H
#define HLN_NODE_H

#include <uv.h>

#include "common/common.h"
#include "runtime/runtime.h"
#include "schema/schema.h"
#include "storage/storage.h"

/* client_encryption_options (server/tls.c; docs/OPERATIONS.md). */
typedef struct hln_tls_config {
    bool enabled;
    bool optional;           /* serve TLS and plain text on the same port */
    int require_client_auth; /* 0 no, 1 yes, 2 optional (verify if sent) */
    char keystore[1024];     /* PEM: private key and certificate chain */
    char keystore_password[256];
    char certificate[1024];  /* (helenus) PEM certificate chain, path or inline */
    char private_key[1024];  /* (helenus) PEM private key, path or inline */
    char truststore[1024];   /* PEM CA bundle for client certificates */
    char protocol[32];       /* lowest TLS version accepted: TLSv1.2 (default), TLSv1.3 */
    char cipher_suites[512]; /* OpenSSL cipher list (TLS 1.2), "" = OpenSSL's default */
} hln_tls_config;

typedef struct hln_config {
    char data_dir[1024];       /* ./helenus-data */
    char listen_address[256];  /* rpc_address, 127.0.0.1 */
    int native_transport_port; /* 9042 */
    int shards;                /* 0 = number of cores */
    char cluster_name[128];    /* "Test Cluster" */
    char datacenter[64];       /* "datacenter1" */
    char rack[64];             /* "rack1" */
    st_options storage;        /* commitlog_sync, periods, thresholds */
    size_t max_frame_bytes;    /* native_transport_max_frame_size, 16 MiB */
    uint64_t idle_timeout_ms;  /* native_transport_idle_timeout, 0 = never */
    int max_requests_per_conn; /* (helenus) native_transport_max_concurrent_requests_
                                * per_connection, 128 */
    int plan_cache_entries;    /* (helenus) prepared_plan_cache_entries: analyzed
                                * plans of prepared statements kept per shard,
                                * 4096; 0 = none (exec/plancache.c) */
    /* authentication and authorisation (docs/OPERATIONS.md) */
    bool password_auth;     /* authenticator: PasswordAuthenticator */
    bool authorization;     /* authorizer: CassandraAuthorizer */
    int auth_bcrypt_rounds; /* (helenus) cost of new password hashes, 10 */
    hln_tls_config tls;     /* client_encryption_options */
    bool views_disabled;    /* materialized_views_enabled: false (default: enabled) */
    /* the admin port (server/admin_http.c; docs/OPERATIONS.md) */
    char admin_address[256]; /* (helenus) admin_address, 127.0.0.1 */
    int admin_port;          /* (helenus) admin_port, 7199; -1 = off, 0 = any */
    bool metrics_enabled;    /* (helenus) metrics_enabled: /metrics served (false) */
    /* the Data API's HTTP port (dataapi/; docs/OPERATIONS.md) */
    char data_api_address[256]; /* (helenus) data_api_address, 127.0.0.1 */
    int data_api_port;          /* (helenus) data_api_port, -1 = off (default), 0 = any */
    uint64_t compaction_bps;    /* compaction_throughput, 64MiB/s; 0 = unthrottled */
    uint64_t file_cache_bytes;  /* file_cache_size: decompressed sstable chunks, 256MiB */
    /* memtable_heap_space: every shard's memtables together (live and
       flushing), shared out evenly to the shards; default a quarter of
       Cassandra's default heap for this machine's memory (config.c) */
    uint64_t memtable_space_bytes;
    uint64_t write_timeout_ms; /* write_request_timeout: a write waits for memtable
                                  space this long, then times out (2000ms) */
} hln_config;

void hln_config_default(hln_config *c);
/* Reads cassandra.yaml-style keys from a YAML file over c. */
int hln_config_load(hln_config *c, const char *path, hln_error *err);
/* Calls fn(name, value) for each setting system_views.settings shows, in
 * name order, with Cassandra's names and value syntax (64MiB/s, 10000ms). */
typedef void (*hln_setting_fn)(void *ud, const char *name, const char *value);
void hln_config_settings(const hln_config *c, hln_setting_fn fn, void *ud);

typedef struct hln_engine hln_engine;
typedef struct hln_shard hln_shard;

struct hln_shard {
    int id;
    hln_engine *eng;
    rt_shard *rt;    /* the runtime's shard: thread, loop, inbound queue */
    uv_loop_t *loop; /* rt_loop(rt): shard thread only */
    st_engine *store;
    uv_async_t storage_wake; /* a background compaction finished: st_maintain */
    uv_timer_t sync_timer;
    void *server;  /* per-shard network state (server/), NULL when embedded */
    void *plans;   /* exec's cache of prepared plans (exec/plancache.c), shard-owned */
    void *vix;     /* exec's index structures (exec/sai.c), shard-owned */
    void *metrics; /* exec's latencies per table (exec/metrics.c), shard-owned */
    int close_rc;  /* st_close result, reported to engine_stop */
    hln_error close_err;
    /* writes waiting for memtable space (exec/coord.c, back-pressure),
       oldest first; the timer retries and expires them while any wait */
    struct ex_op *parked, *parked_tail;
    bool park_retrying;
    uv_timer_t park_timer;
    size_t nparked;                        /* waiting now */
    uint64_t parked_total, write_timeouts; /* since start (/metrics) */
};

/* One client connection, as system_views.clients shows it. */
typedef struct hln_client_info {
    uint8_t address[16];
    int address_len; /* 4 or 16 */
    int port;
    const char *stage; /* "established", "authenticating", "ready" */
    const char *driver_name, *driver_version, *keyspace, *username; /* NULL: unknown */
    const hln_option *options; /* the STARTUP options, sorted by key */
    int noptions;
    int protocol_version;
    uint64_t request_count;
    bool ssl;
    const char *ssl_protocol, *ssl_cipher;
} hln_client_info;

/* What the network layer (server/) registers on the engine so engine_stop
 * can close it without the engine depending on it. */
typedef struct hln_engine_net {
    void (*stop)(hln_engine *e);       /* off shard threads: close every connection */
    void (*shard_close)(hln_shard *s); /* on s's thread, as it stops */
    void (*destroy)(hln_engine *e);    /* after the shard threads are joined */
    /* on s's thread: the connections s serves, into arena a */
    int (*shard_clients)(hln_shard *s, hln_arena *a, hln_client_info **out, int *n);
} hln_engine_net;

struct hln_engine {
    hln_config cfg;
    hln_catalog *catalog;
    int nshards;
    hln_shard *shards;
    rt_runtime *rt;
    hln_node_info node; /* what system.local / peers describe */
    int64_t tokens[16]; /* this node's tokens (num_tokens 16, evenly spaced) */
    int64_t started_at;
    _Atomic uint64_t compaction_bps; /* now (setcompactionthroughput), for every shard */
    void *prepared;                  /* exec's prepared-statement cache */
    struct hln_auth *auth;           /* roles and permissions (src/auth), opened by engine_start */
    /* set by server/ to hand new connections to shards and push events */
    void *server;
    hln_engine_net net;
};

/* Opens the data directory, loads the schema, starts the shard threads
 * (each opens and replays its storage before the call returns). */
int engine_start(hln_engine **out, const hln_config *cfg, hln_error *err);
/* Stops every shard (flushes memtables, closes storage) and frees. */
int engine_stop(hln_engine *e, hln_error *err);

/* The node shard of a runtime shard (its user-data slot). */
static inline hln_shard *engine_shard(rt_shard *s)
{
    return (hln_shard *)rt_ud(s);
}
/* The node shard whose thread is calling, or NULL off shard threads. */
hln_shard *engine_shard_current(void);
/* Runs m->fn on shard `to`'s thread (rt_post). */
static inline void engine_post(hln_shard *to, rt_msg *m)
{
    rt_post(to->rt, m);
}

/* Posts fn to every shard and waits (off shard threads only). */
int engine_run_on_all(hln_engine *e, void (*fn)(hln_shard *s, void *ud), void *ud);

/* Resolves a numeric or host-name address (IPv4 or IPv6) with a port. */
struct sockaddr_storage;
int engine_resolve(const char *host, int port, struct sockaddr_storage *out, hln_error *err);

#endif
