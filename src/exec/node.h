/*
 * engine.h — the runtime: configuration, shards, cross-shard messages.
 *
 * What: an hln_engine owns the catalog and N shards. Each shard is one
 * thread running its own libuv loop, with its own storage engine (one
 * st_engine: commitlog, memtables, sstables for the tokens it owns) and an
 * inbound message queue. The network listener (server.c) and the embedded
 * API (helenus.c) both sit on top of the same engine.
 *
 * Why shard-per-core: no locks on the data path; a partition's state lives
 * on exactly one thread. Work for a partition owned by another shard travels
 * as a message (hln_msg) and its reply comes back the same way.
 *
 * Invariants:
 *  1. shard_for_token() maps contiguous token ranges to shards in order
 *     (shard 0 owns the lowest tokens), so a scan over shards in order is a
 *     scan in token order.
 *  2. A message posted with shard_post() runs exactly once, on the target
 *     shard's thread, in posting order per (sender, target) pair.
 *  3. Only the owning shard's thread touches its st_engine.
 */
#ifndef HLN_ENGINE_H
#define HLN_ENGINE_H

#include <pthread.h>
#include <uv.h>

#include "common/common.h"
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
} hln_config;

void hln_config_default(hln_config *c);
/* Reads cassandra.yaml-style keys from a YAML file over c. */
int hln_config_load(hln_config *c, const char *path, hln_error *err);

typedef struct hln_engine hln_engine;
typedef struct hln_shard hln_shard;

typedef struct hln_msg {
    void (*fn)(hln_shard *self, struct hln_msg *m);
    struct hln_msg *next;
} hln_msg;

struct hln_shard {
    int id;
    hln_engine *eng;
    uv_loop_t loop;
    st_engine *store;
    pthread_t thread;
    /* inbound queue */
    pthread_mutex_t qlock;
    hln_msg *qhead, *qtail;
    uv_async_t wake;
    uv_async_t storage_wake; /* a background compaction finished: st_maintain */
    uv_timer_t sync_timer;
    void *server; /* per-shard network state (server.c), NULL when embedded */
    void *plans;  /* exec's cache of prepared plans (exec/plancache.c), shard-owned */
    bool stopping;
};

struct hln_engine {
    hln_config cfg;
    hln_catalog *catalog;
    int nshards;
    hln_shard *shards;
    hln_node_info node; /* what system.local / peers describe */
    int64_t tokens[16]; /* this node's tokens (num_tokens 16, evenly spaced) */
    int64_t started_at;
    void *prepared;        /* exec's prepared-statement cache */
    struct hln_auth *auth; /* roles and permissions (src/auth), opened by engine_start */
    /* set by server.c to hand new connections to shards and push events */
    void *server;
};

/* Opens the data directory, loads the schema, starts the shard threads
 * (each opens and replays its storage before the call returns). */
int engine_start(hln_engine **out, const hln_config *cfg, hln_error *err);
/* Stops every shard (flushes memtables, closes storage) and frees. */
int engine_stop(hln_engine *e, hln_error *err);

/* Runs m->fn on shard `to`'s thread. Thread-safe; never blocks on I/O. */
void shard_post(hln_shard *to, hln_msg *m);
/* The shard whose thread is calling, or NULL off shard threads. */
hln_shard *shard_current(void);
int shard_for_token(int nshards, int64_t token);

/* Posts fn to every shard and waits (off shard threads only). */
int engine_run_on_all(hln_engine *e, void (*fn)(hln_shard *s, void *ud), void *ud);

#endif
