/*
 * config.c — server configuration: defaults and the helenus.yaml reader.
 *
 * What: hln_config_default gives a configuration that works with no file at
 * all (./helenus-data, 127.0.0.1:9042, one shard per core); hln_config_load
 * overlays a YAML file that uses cassandra.yaml's key names wherever the
 * meaning is the same, so an operator can start from a cassandra.yaml.
 *
 * Keys read (everything else is ignored, listed once in the log):
 *
 *   data_file_directories        sequence; the first entry is the data dir
 *   data_directory               (helenus) the data dir as a plain string
 *   rpc_address                  address the CQL port listens on
 *   native_transport_port        CQL port
 *   admin_address, admin_port    (helenus) the admin HTTP port for
 *                                `helenus admin` and /metrics: 127.0.0.1,
 *                                7199 (-1 = off, 0 = any free port)
 *   data_api_address, data_api_port  (helenus) the Data API's HTTP port
 *                                (dataapi/): 127.0.0.1, -1 = off (the
 *                                default), 0 = any free port
 *   file_cache_size              decompressed sstable chunks kept in memory,
 *                                shared out to the shards (256MiB)
 *   compaction_throughput        e.g. 64MiB/s (the default), 0 = unthrottled;
 *                                compaction_throughput_mb_per_sec legacy
 *   metrics_enabled              (helenus) serve Prometheus text at
 *                                /metrics on the admin port (false)
 *   native_transport_max_frame_size        e.g. 16MiB (unit required)
 *   native_transport_max_frame_size_in_mb  legacy form, MiB
 *   native_transport_idle_timeout  e.g. 60s, 60000ms; 0 (default) = never
 *                                close idle connections; _in_ms legacy form
 *   native_transport_max_concurrent_requests_per_connection  (helenus)
 *                                requests one connection may have executing,
 *                                1-32768, default 128 (conn.c: flow control)
 *   commitlog_sync               periodic | batch
 *   commitlog_sync_period        e.g. 10000ms, 10s (unit required)
 *   commitlog_sync_period_in_ms  legacy form, milliseconds
 *   commitlog_segment_size       e.g. 32MiB; commitlog_segment_size_in_mb
 *   commitlog_ignore_replay_errors  true: replay skips corrupt commitlog data
 *                                (logged) instead of refusing to start
 *   memtable_flush_threshold_bytes  (helenus) flush a table's memtable above
 *                                this size; a number of bytes or e.g. 64MiB
 *   memtable_heap_space          the memory all memtables may hold, live and
 *                                being flushed, e.g. 512MiB (a bare number is
 *                                MiB; memtable_heap_space_in_mb legacy), shared
 *                                out evenly to the shards; at it, writes wait
 *                                for a flush (storage/README.md, "Memtable
 *                                space"). Default: a quarter of the heap
 *                                Cassandra would size for this machine's
 *                                memory (max(min(RAM/2, 1GiB), min(RAM/4,
 *                                8GiB)) / 4)
 *   write_request_timeout        e.g. 2000ms (the default): how long a write
 *                                waits for memtable space before it fails with
 *                                a WriteTimeout; write_request_timeout_in_ms
 *                                legacy
 *   auto_compaction              (helenus) true | false: compaction in the
 *                                background, by each table's strategy
 *                                (default true)
 *   compaction_min_threshold     (helenus) 2-32: overrides every table's
 *                                min_threshold (default: the table's own)
 *   materialized_views_enabled   true | false: CREATE MATERIALIZED VIEW
 *                                allowed (Helenus's default true; Cassandra
 *                                5.0 ships false). Existing views stay
 *                                maintained either way, as in Cassandra.
 *   cluster_name                 as system.local shows it
 *   datacenter, rack             (helenus; Cassandra reads them from
 *                                cassandra-rackdc.properties)
 *   shards                       (helenus) 0 = one per core
 *   authenticator                AllowAllAuthenticator | PasswordAuthenticator
 *                                (a class name, with or without the
 *                                org.apache.cassandra.auth. prefix, or a
 *                                mapping with class_name, as in 5.0)
 *   authorizer                   AllowAllAuthorizer | CassandraAuthorizer
 *   role_manager                 CassandraRoleManager (the only one)
 *   auth_bcrypt_rounds           (helenus) bcrypt cost of new password hashes,
 *                                4-31, default 10 (Cassandra's
 *                                -Dcassandra.auth_bcrypt_gensalt_log2_rounds)
 *   client_encryption_options    mapping: enabled, optional, keystore,
 *                                keystore_password, certificate, private_key,
 *                                truststore, require_client_auth, protocol,
 *                                cipher_suites, store_type (PEM only);
 *                                truststore_password, accepted_protocols,
 *                                ssl_context_factory and algorithm are read
 *                                and ignored. See docs/OPERATIONS.md.
 *
 * A key with an empty/null value keeps its default, as in Cassandra.
 * Malformed YAML or a bad value gives HLN_ECONFIG naming the key (or line).
 *
 * Why libyaml's document API: the file is small and read once, so a tree
 * is simpler than an event stream.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "exec/node.h"

#define MIB ((size_t)1 << 20)

/* Cassandra's default memtable_heap_space: a quarter of the heap its
 * cassandra-env.sh picks, max(min(RAM/2, 1GiB), min(RAM/4, 8GiB)). */
static uint64_t default_memtable_space(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t ram = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 4096 * MIB;
    uint64_t a = ram / 2 < 1024 * MIB ? ram / 2 : 1024 * MIB;
    uint64_t b = ram / 4 < 8192 * MIB ? ram / 4 : 8192 * MIB;
    return (a > b ? a : b) / 4;
}

void hln_config_default(hln_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "%s", "./helenus-data");
    snprintf(c->listen_address, sizeof c->listen_address, "%s", "127.0.0.1");
    c->native_transport_port = 9042;
    snprintf(c->admin_address, sizeof c->admin_address, "%s", "127.0.0.1");
    c->admin_port = 7199;
    snprintf(c->data_api_address, sizeof c->data_api_address, "%s", "127.0.0.1");
    c->data_api_port = -1;
    c->compaction_bps = 64 * MIB; /* Cassandra 5.0's compaction_throughput */
    c->file_cache_bytes = 256 * MIB;
    c->memtable_space_bytes = default_memtable_space();
    c->write_timeout_ms = 2000; /* Cassandra's write_request_timeout */
    c->shards = 0;
    snprintf(c->cluster_name, sizeof c->cluster_name, "%s", "Test Cluster");
    snprintf(c->datacenter, sizeof c->datacenter, "%s", "datacenter1");
    snprintf(c->rack, sizeof c->rack, "%s", "rack1");
    st_options_default(&c->storage);
    c->max_frame_bytes = 16 * MIB; /* Cassandra's native_transport_max_frame_size: 16MiB */
    c->idle_timeout_ms = 0;        /* Cassandra 5.0: native_transport_idle_timeout: 0ms */
    c->max_requests_per_conn = 128;
    c->plan_cache_entries = 4096;
    c->auth_bcrypt_rounds = 10; /* jBCrypt's default, as Cassandra uses it */
    snprintf(c->tls.protocol, sizeof c->tls.protocol, "%s", "TLSv1.2");
}

/* ---- value parsers ----------------------------------------------------- */

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

/* "<digits><unit>" with an optional unit; *unit points at it ("" if none). */
static int split_quantity(const char *s, uint64_t *num, const char **unit)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    while (isspace((unsigned char)*end))
        end++;
    *num = v;
    *unit = end;
    return 0;
}

/* A data size: 123B, 4KiB, 16MiB, 1GiB; no unit means default_unit bytes
 * (0: a unit is required). */
static int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
    uint64_t n;
    const char *u;
    if (split_quantity(s, &n, &u)) return -1;
    uint64_t mul;
    if (!*u) {
        if (!default_unit) return -1;
        mul = default_unit;
    } else if (!strcasecmp(u, "B")) {
        mul = 1;
    } else if (!strcasecmp(u, "KiB")) {
        mul = 1024;
    } else if (!strcasecmp(u, "MiB")) {
        mul = MIB;
    } else if (!strcasecmp(u, "GiB")) {
        mul = 1024 * MIB;
    } else {
        return -1;
    }
    if (n > UINT64_MAX / mul) return -1;
    *out = n * mul;
    return 0;
}

/* A duration in milliseconds: 10000ms, 10s, 2m, 1h, 1d (also us, ns); no
 * unit means default_unit_ms (0: a unit is required). */
static int parse_duration_ms(const char *s, uint64_t default_unit_ms, uint64_t *out)
{
    uint64_t n;
    const char *u;
    if (split_quantity(s, &n, &u)) return -1;
    uint64_t mul = 0, div = 1;
    if (!*u) {
        if (!default_unit_ms) return -1;
        mul = default_unit_ms;
    } else if (!strcasecmp(u, "ns")) {
        mul = 1, div = 1000000;
    } else if (!strcasecmp(u, "us") || !strcmp(u, "\xc2\xb5s")) {
        mul = 1, div = 1000;
    } else if (!strcasecmp(u, "ms")) {
        mul = 1;
    } else if (!strcasecmp(u, "s")) {
        mul = 1000;
    } else if (!strcasecmp(u, "m")) {
        mul = 60000;
    } else if (!strcasecmp(u, "h")) {
        mul = 3600000;
    } else if (!strcasecmp(u, "d")) {
        mul = 86400000;
    } else {
        return -1;
    }
    if (n > UINT64_MAX / mul) return -1;
    *out = n * mul / div;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *v, const char *key, hln_error *err)
{
    if (strlen(v) >= cap)
        return hln_fail(err, HLN_ECONFIG, "%s: value is too long (at most %zu characters)", key,
                        cap - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* ---- the YAML tree ------------------------------------------------------ */

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* YAML's null: empty, ~, null */
static bool is_null(yaml_node_t *n)
{
    if (!n) return true;
    if (n->type != YAML_SCALAR_NODE) return false;
    const char *v = scalar(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    return !*v || !strcmp(v, "~") || !strcasecmp(v, "null");
}

typedef struct ignored {
    char list[400];
    int n;
} ignored;

static void note_ignored(ignored *ig, const char *key)
{
    HLN_DEBUG("config: ignoring key %s (not used by Helenus)", key);
    size_t used = strlen(ig->list);
    if (used + strlen(key) + 8 < sizeof ig->list)
        snprintf(ig->list + used, sizeof ig->list - used, "%s%s", ig->n ? ", " : "", key);
    else if (!strstr(ig->list, "..."))
        snprintf(ig->list + used, sizeof ig->list - used, ", ...");
    ig->n++;
}

static int bad(hln_error *err, const char *key, const char *v, const char *want)
{
    return hln_fail(err, HLN_ECONFIG, "Invalid value for %s: '%s' (expected %s)", key,
                    v ? v : "(not a scalar)", want);
}

/* true/false (also yes/no, as YAML 1.1 and Cassandra's loader read them). */
static int parse_bool(const char *v, bool *out)
{
    if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))) {
        *out = true;
        return 0;
    }
    if (v && (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))) {
        *out = false;
        return 0;
    }
    return -1;
}

/* A value in a mapping node, NULL when absent. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(yaml_document_get_node(doc, p->key));
        if (k && !strcmp(k, key)) return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* The class an authenticator/authorizer/role_manager key names: a scalar, or
 * (Cassandra 5.0's ParameterizedClass form) a mapping with class_name.
 * Cassandra's own package prefix is dropped. */
static const char *class_name(yaml_document_t *doc, yaml_node_t *val)
{
    const char *v = scalar(val);
    if (!v) v = scalar(map_get(doc, val, "class_name"));
    if (v && !strncmp(v, "org.apache.cassandra.auth.", 26)) v += 26;
    return v;
}

static int apply_tls(hln_tls_config *t, yaml_document_t *doc, yaml_node_t *map, ignored *ig,
                     hln_error *err)
{
    static const char *const K = "client_encryption_options";
    if (map->type != YAML_MAPPING_NODE)
        return bad(err, K, scalar(map), "a mapping (enabled: true, keystore: ..., ...)");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *key = scalar(yaml_document_get_node(doc, p->key));
        yaml_node_t *val = yaml_document_get_node(doc, p->value);
        if (!key) return hln_fail(err, HLN_ECONFIG, "%s: keys must be plain strings", K);
        if (is_null(val)) continue;
        const char *v = scalar(val);
        char full[128];
        snprintf(full, sizeof full, "%s.%s", K, key);
        int rc = 0;
        if (!strcmp(key, "enabled") || !strcmp(key, "optional")) {
            bool b;
            if (parse_bool(v, &b)) return bad(err, full, v, "true or false");
            if (key[0] == 'e')
                t->enabled = b;
            else
                t->optional = b;
        } else if (!strcmp(key, "require_client_auth")) {
            bool b;
            if (v && !strcasecmp(v, "optional"))
                t->require_client_auth = 2;
            else if (!parse_bool(v, &b))
                t->require_client_auth = b ? 1 : 0;
            else
                return bad(err, full, v, "true, false or optional");
        } else if (!strcmp(key, "keystore")) {
            rc = v ? copy_str(t->keystore, sizeof t->keystore, v, full, err)
                   : bad(err, full, v, "a path");
        } else if (!strcmp(key, "keystore_password")) {
            rc = v ? copy_str(t->keystore_password, sizeof t->keystore_password, v, full, err)
                   : bad(err, full, v, "a password");
        } else if (!strcmp(key, "certificate")) {
            rc = v ? copy_str(t->certificate, sizeof t->certificate, v, full, err)
                   : bad(err, full, v, "a PEM file or PEM text");
        } else if (!strcmp(key, "private_key")) {
            rc = v ? copy_str(t->private_key, sizeof t->private_key, v, full, err)
                   : bad(err, full, v, "a PEM file or PEM text");
        } else if (!strcmp(key, "truststore")) {
            rc = v ? copy_str(t->truststore, sizeof t->truststore, v, full, err)
                   : bad(err, full, v, "a path");
        } else if (!strcmp(key, "protocol")) {
            /* Cassandra's default "TLS" means: whatever the JVM allows */
            if (v && !strcasecmp(v, "TLS")) continue;
            if (!v || (strcasecmp(v, "TLSv1.2") && strcasecmp(v, "TLSv1.3")))
                return bad(err, full, v, "TLS, TLSv1.2 or TLSv1.3");
            rc = copy_str(t->protocol, sizeof t->protocol, v, full, err);
        } else if (!strcmp(key, "cipher_suites")) {
            /* a sequence of names, joined as OpenSSL's list syntax */
            t->cipher_suites[0] = 0;
            if (val->type != YAML_SEQUENCE_NODE) return bad(err, full, v, "a list of cipher names");
            for (yaml_node_item_t *it = val->data.sequence.items.start;
                 it < val->data.sequence.items.top; it++) {
                const char *name = scalar(yaml_document_get_node(doc, *it));
                size_t used = strlen(t->cipher_suites);
                if (!name || used + strlen(name) + 2 >= sizeof t->cipher_suites)
                    return bad(err, full, name, "a list of cipher names");
                snprintf(t->cipher_suites + used, sizeof t->cipher_suites - used, "%s%s",
                         used ? ":" : "", name);
            }
        } else if (!strcmp(key, "store_type")) {
            if (!v || strcasecmp(v, "PEM"))
                return bad(err, full, v, "PEM (Helenus reads PEM key and trust stores only)");
        } else if (!strcmp(key, "truststore_password") || !strcmp(key, "accepted_protocols") ||
                   !strcmp(key, "ssl_context_factory") || !strcmp(key, "algorithm")) {
            note_ignored(ig, full);
        } else {
            note_ignored(ig, full);
        }
        if (rc) return rc;
    }
    return 0;
}

static int apply_key(hln_config *c, yaml_document_t *doc, const char *key, yaml_node_t *val,
                     ignored *ig, hln_error *err)
{
    if (is_null(val)) return 0; /* keep the default */
    const char *v = scalar(val);
    uint64_t u;
    int64_t i;

    if (!strcmp(key, "data_file_directories")) {
        if (val->type == YAML_SEQUENCE_NODE) {
            yaml_node_item_t *it = val->data.sequence.items.start;
            if (it == val->data.sequence.items.top) return 0;
            v = scalar(yaml_document_get_node(doc, *it));
        }
        if (!v || !*v) return bad(err, key, v, "a list of directories");
        return copy_str(c->data_dir, sizeof c->data_dir, v, key, err);
    }
    if (!strcmp(key, "data_directory")) {
        if (!v || !*v) return bad(err, key, v, "a directory");
        return copy_str(c->data_dir, sizeof c->data_dir, v, key, err);
    }
    if (!strcmp(key, "rpc_address")) {
        if (!v || !*v) return bad(err, key, v, "an address");
        return copy_str(c->listen_address, sizeof c->listen_address, v, key, err);
    }
    if (!strcmp(key, "file_cache_size") || !strcmp(key, "file_cache_size_in_mb")) {
        bool legacy = strstr(key, "_in_mb") != NULL;
        if (!v || parse_size(v, legacy ? MIB : 0, &u) || u > ((uint64_t)1 << 40))
            return bad(err, key, v, legacy ? "a number of MiB" : "a size such as 256MiB");
        c->file_cache_bytes = u;
        return 0;
    }
    if (!strcmp(key, "compaction_throughput") || !strcmp(key, "compaction_throughput_mb_per_sec")) {
        bool legacy = strstr(key, "_mb_per_sec") != NULL;
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%s", v ? v : "");
        size_t n = strlen(tmp);
        if (!legacy && n > 2 && !strcmp(tmp + n - 2, "/s")) tmp[n - 2] = '\0';
        u = 0;
        if (!v || (strcmp(tmp, "0") && parse_size(tmp, legacy ? MIB : 0, &u)) ||
            u > ((uint64_t)1 << 40))
            return bad(err, key, v,
                       legacy ? "a number of MiB per second" : "a rate such as 64MiB/s, or 0");
        c->compaction_bps = strcmp(tmp, "0") ? u : 0;
        return 0;
    }
    if (!strcmp(key, "admin_address")) {
        if (!v || !*v) return bad(err, key, v, "an address");
        return copy_str(c->admin_address, sizeof c->admin_address, v, key, err);
    }
    if (!strcmp(key, "admin_port")) {
        if (!v || parse_i64(v, &i) || i < -1 || i > 65535)
            return bad(err, key, v, "a port number 0-65535, or -1 for none");
        c->admin_port = (int)i;
        return 0;
    }
    if (!strcmp(key, "data_api_address")) {
        if (!v || !*v) return bad(err, key, v, "an address");
        return copy_str(c->data_api_address, sizeof c->data_api_address, v, key, err);
    }
    if (!strcmp(key, "data_api_port")) {
        if (!v || parse_i64(v, &i) || i < -1 || i > 65535)
            return bad(err, key, v, "a port number 0-65535, or -1 for none");
        c->data_api_port = (int)i;
        return 0;
    }
    if (!strcmp(key, "metrics_enabled")) {
        if (!v || (strcasecmp(v, "true") && strcasecmp(v, "false")))
            return bad(err, key, v, "true or false");
        c->metrics_enabled = !strcasecmp(v, "true");
        return 0;
    }
    if (!strcmp(key, "native_transport_port")) {
        if (!v || parse_i64(v, &i) || i < 0 || i > 65535)
            return bad(err, key, v, "a port number 0-65535");
        c->native_transport_port = (int)i;
        return 0;
    }
    if (!strcmp(key, "native_transport_max_frame_size") ||
        !strcmp(key, "native_transport_max_frame_size_in_mb")) {
        bool legacy = strstr(key, "_in_mb") != NULL;
        if (!v || (legacy ? parse_size(v, MIB, &u) : parse_size(v, 0, &u)) || u < 1024 ||
            u > ((uint64_t)1 << 31))
            return bad(err, key, v,
                       legacy ? "a number of MiB" : "a size between 1KiB and 2GiB, e.g. 16MiB");
        c->max_frame_bytes = (size_t)u;
        return 0;
    }
    if (!strcmp(key, "native_transport_idle_timeout") ||
        !strcmp(key, "native_transport_idle_timeout_in_ms")) {
        bool legacy = strstr(key, "_in_ms") != NULL;
        u = 0; /* a bare 0 (disabled) needs no unit */
        if (!v || (strcmp(v, "0") && parse_duration_ms(v, legacy ? 1 : 0, &u)) ||
            u > (uint64_t)INT32_MAX * 1000)
            return bad(err, key, v, legacy ? "milliseconds" : "a duration, e.g. 60s or 60000ms");
        c->idle_timeout_ms = u;
        return 0;
    }
    if (!strcmp(key, "native_transport_max_concurrent_requests_per_connection")) {
        if (!v || parse_i64(v, &i) || i < 1 || i > 32768)
            return bad(err, key, v, "a number of requests 1-32768");
        c->max_requests_per_conn = (int)i;
        return 0;
    }
    if (!strcmp(key, "prepared_plan_cache_entries")) {
        if (!v || parse_i64(v, &i) || i < 0 || i > 1048576)
            return bad(err, key, v, "a number of plans 0-1048576");
        c->plan_cache_entries = (int)i;
        return 0;
    }
    if (!strcmp(key, "commitlog_sync")) {
        if (v && !strcasecmp(v, "periodic"))
            c->storage.sync = ST_SYNC_PERIODIC;
        else if (v && !strcasecmp(v, "batch"))
            c->storage.sync = ST_SYNC_BATCH;
        else
            return bad(err, key, v, "periodic or batch");
        return 0;
    }
    if (!strcmp(key, "commitlog_ignore_replay_errors")) {
        if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "false")))
            c->storage.ignore_replay_errors = !strcasecmp(v, "true");
        else
            return bad(err, key, v, "true or false");
        return 0;
    }
    if (!strcmp(key, "commitlog_sync_period") || !strcmp(key, "commitlog_sync_period_in_ms")) {
        bool legacy = strstr(key, "_in_ms") != NULL;
        if (!v || parse_duration_ms(v, legacy ? 1 : 0, &u) || u == 0 || u > UINT32_MAX)
            return bad(err, key, v, legacy ? "milliseconds" : "a duration, e.g. 10000ms");
        c->storage.sync_period_ms = (uint32_t)u;
        return 0;
    }
    if (!strcmp(key, "commitlog_segment_size") || !strcmp(key, "commitlog_segment_size_in_mb")) {
        bool legacy = strstr(key, "_in_mb") != NULL;
        if (!v || parse_size(v, legacy ? MIB : 0, &u) || u < 64 * 1024 || u > ((uint64_t)1 << 31))
            return bad(err, key, v, "a size between 64KiB and 2GiB, e.g. 32MiB");
        c->storage.segment_bytes = (size_t)u;
        return 0;
    }
    if (!strcmp(key, "memtable_flush_threshold_bytes")) {
        if (!v || parse_size(v, 1, &u) || u < 4096 || u > SIZE_MAX / 2)
            return bad(err, key, v, "a size of at least 4KiB, e.g. 64MiB");
        c->storage.memtable_flush_bytes = (size_t)u;
        return 0;
    }
    if (!strcmp(key, "memtable_heap_space") || !strcmp(key, "memtable_heap_space_in_mb")) {
        if (!v || parse_size(v, MIB, &u) || u < MIB || u > ((uint64_t)1 << 44))
            return bad(err, key, v, "a size of at least 1MiB, e.g. 512MiB");
        c->memtable_space_bytes = u;
        return 0;
    }
    if (!strcmp(key, "write_request_timeout") || !strcmp(key, "write_request_timeout_in_ms")) {
        bool legacy = strstr(key, "_in_ms") != NULL;
        if (!v || parse_duration_ms(v, legacy ? 1 : 0, &u) || u == 0 || u > 86400000)
            return bad(err, key, v, legacy ? "milliseconds" : "a duration, e.g. 2000ms");
        c->write_timeout_ms = u;
        return 0;
    }
    if (!strcmp(key, "materialized_views_enabled")) {
        if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "false")))
            c->views_disabled = !strcasecmp(v, "false");
        else
            return bad(err, key, v, "true or false");
        return 0;
    }
    if (!strcmp(key, "auto_compaction")) {
        if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "false")))
            c->storage.compaction_disabled = !strcasecmp(v, "false");
        else
            return bad(err, key, v, "true or false");
        return 0;
    }
    if (!strcmp(key, "compaction_min_threshold")) {
        if (!v || parse_size(v, 1, &u) || u < 2 || u > 32) return bad(err, key, v, "2 to 32");
        c->storage.compaction_min_threshold = (uint32_t)u;
        return 0;
    }
    if (!strcmp(key, "cluster_name")) {
        if (!v) return bad(err, key, v, "a name");
        return copy_str(c->cluster_name, sizeof c->cluster_name, v, key, err);
    }
    if (!strcmp(key, "datacenter")) {
        if (!v || !*v) return bad(err, key, v, "a name");
        return copy_str(c->datacenter, sizeof c->datacenter, v, key, err);
    }
    if (!strcmp(key, "rack")) {
        if (!v || !*v) return bad(err, key, v, "a name");
        return copy_str(c->rack, sizeof c->rack, v, key, err);
    }
    if (!strcmp(key, "authenticator")) {
        const char *cls = class_name(doc, val);
        if (cls && !strcmp(cls, "AllowAllAuthenticator"))
            c->password_auth = false;
        else if (cls && !strcmp(cls, "PasswordAuthenticator"))
            c->password_auth = true;
        else
            return bad(err, key, cls, "AllowAllAuthenticator or PasswordAuthenticator");
        return 0;
    }
    if (!strcmp(key, "authorizer")) {
        const char *cls = class_name(doc, val);
        if (cls && !strcmp(cls, "AllowAllAuthorizer"))
            c->authorization = false;
        else if (cls && !strcmp(cls, "CassandraAuthorizer"))
            c->authorization = true;
        else
            return bad(err, key, cls, "AllowAllAuthorizer or CassandraAuthorizer");
        return 0;
    }
    if (!strcmp(key, "role_manager")) {
        const char *cls = class_name(doc, val);
        if (!cls || strcmp(cls, "CassandraRoleManager"))
            return bad(err, key, cls, "CassandraRoleManager");
        return 0;
    }
    if (!strcmp(key, "auth_bcrypt_rounds")) {
        if (!v || parse_i64(v, &i) || i < 4 || i > 31) return bad(err, key, v, "a number 4-31");
        c->auth_bcrypt_rounds = (int)i;
        return 0;
    }
    if (!strcmp(key, "client_encryption_options")) return apply_tls(&c->tls, doc, val, ig, err);
    if (!strcmp(key, "shards")) {
        if (!v || parse_i64(v, &i) || i < 0 || i > 1024)
            return bad(err, key, v, "a number of shards 0-1024 (0 = one per core)");
        c->shards = (int)i;
        return 0;
    }
    note_ignored(ig, key);
    return 0;
}

int hln_config_load(hln_config *c, const char *path, hln_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hln_fail(err, HLN_ECONFIG, "Cannot read configuration file %s: %s", path,
                        strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return hln_fail(err, HLN_ENOMEM, "Out of memory reading %s", path);
    }
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = hln_fail(err, HLN_ECONFIG, "%s:%zu:%zu: malformed YAML: %s", path,
                      parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                      parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        fclose(f);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    ignored ig = {{0}, 0};
    if (!root || is_null(root)) {
        /* an empty file: nothing to override */
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = hln_fail(err, HLN_ECONFIG, "%s: expected a mapping of keys to values at the top level",
                      path);
    } else {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top && !rc; p++) {
            const char *key = scalar(yaml_document_get_node(&doc, p->key));
            if (!key) {
                rc = hln_fail(err, HLN_ECONFIG, "%s: keys must be plain strings", path);
                break;
            }
            rc = apply_key(c, &doc, key, yaml_document_get_node(&doc, p->value), &ig, err);
        }
    }
    if (!rc && c->authorization && !c->password_auth)
        rc = hln_fail(err, HLN_ECONFIG,
                      "%s: AllowAllAuthenticator can't be used with CassandraAuthorizer", path);
    const hln_tls_config *t = &c->tls;
    if (!rc && t->enabled && !t->keystore[0] && !(t->certificate[0] && t->private_key[0]))
        rc = hln_fail(err, HLN_ECONFIG,
                      "%s: client_encryption_options needs keystore (a PEM file with the private "
                      "key and the certificate chain) or certificate and private_key",
                      path);
    if (!rc && t->enabled && t->require_client_auth && !t->truststore[0])
        rc = hln_fail(err, HLN_ECONFIG,
                      "%s: client_encryption_options.require_client_auth needs a truststore (a "
                      "PEM file of the CA certificates that sign client certificates)",
                      path);
    if (!rc && ig.n)
        HLN_INFO("config: %s: ignored %d key%s not used by Helenus: %s", path, ig.n,
                 ig.n == 1 ? "" : "s", ig.list);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* ---- system_views.settings --------------------------------------------- */

/* Cassandra 5.0's DataStorageSpec text: the largest unit that divides. */
static void size_text(char *out, size_t n, uint64_t bytes, const char *suffix)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
    int u = 0;
    while (u < 3 && bytes && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, n, "%" PRIu64 "%s%s", bytes, units[u], suffix);
}

void hln_config_settings(const hln_config *c, hln_setting_fn fn, void *ud)
{
    char v[1100];
#define SET(name, ...)                                                                             \
    do {                                                                                           \
        snprintf(v, sizeof v, __VA_ARGS__);                                                        \
        fn(ud, name, v);                                                                           \
    } while (0)
    SET("auth_bcrypt_rounds", "%d", c->auth_bcrypt_rounds);
    SET("authenticator", "org.apache.cassandra.auth.%s",
        c->password_auth ? "PasswordAuthenticator" : "AllowAllAuthenticator");
    SET("authorizer", "org.apache.cassandra.auth.%s",
        c->authorization ? "CassandraAuthorizer" : "AllowAllAuthorizer");
    SET("auto_compaction", "%s", c->storage.compaction_disabled ? "false" : "true");
    SET("client_encryption_options.enabled", "%s", c->tls.enabled ? "true" : "false");
    SET("client_encryption_options.optional", "%s", c->tls.optional ? "true" : "false");
    SET("client_encryption_options.protocol", "%s", c->tls.protocol[0] ? c->tls.protocol : "TLS");
    SET("client_encryption_options.require_client_auth", "%s",
        c->tls.require_client_auth == 1   ? "true"
        : c->tls.require_client_auth == 2 ? "optional"
                                          : "false");
    SET("cluster_name", "%s", c->cluster_name);
    /* a failed commitlog write fails the writes, the node stays up */
    SET("commit_failure_policy", "ignore");
    SET("commitlog_directory", "%s/shard-*/commitlog", c->data_dir);
    size_text(v, sizeof v, c->storage.segment_bytes, "");
    fn(ud, "commitlog_segment_size", v);
    SET("commitlog_sync", "%s", c->storage.sync == ST_SYNC_BATCH ? "batch" : "periodic");
    SET("commitlog_sync_period", "%" PRIu32 "ms", c->storage.sync_period_ms);
    if (c->compaction_bps)
        size_text(v, sizeof v, c->compaction_bps, "/s");
    else
        snprintf(v, sizeof v, "0MiB/s");
    fn(ud, "compaction_throughput", v);
    SET("concurrent_compactors", "%d", 1); /* per shard */
    SET("data_file_directories", "[%s]", c->data_dir);
    SET("datacenter", "%s", c->datacenter);
    /* a full disk or a damaged chunk fails the operations that need it */
    SET("disk_failure_policy", "best_effort");
    SET("endpoint_snitch", "SimpleSnitch");
    size_text(v, sizeof v, c->file_cache_bytes, "");
    fn(ud, "file_cache_size", v);
    SET("materialized_views_enabled", "%s", c->views_disabled ? "false" : "true");
    size_text(v, sizeof v, c->storage.memtable_flush_bytes, "");
    fn(ud, "memtable_flush_threshold_bytes", v);
    size_text(v, sizeof v, c->memtable_space_bytes, "");
    fn(ud, "memtable_heap_space", v);
    SET("metrics_enabled", "%s", c->metrics_enabled ? "true" : "false");
    size_text(v, sizeof v, c->max_frame_bytes, "");
    fn(ud, "native_transport_max_frame_size", v);
    SET("native_transport_idle_timeout", "%" PRIu64 "ms", c->idle_timeout_ms);
    SET("native_transport_max_concurrent_requests_per_connection", "%d", c->max_requests_per_conn);
    SET("native_transport_port", "%d", c->native_transport_port);
    SET("num_tokens", "16");
    SET("partitioner", "org.apache.cassandra.dht.Murmur3Partitioner");
    SET("rack", "%s", c->rack);
    SET("role_manager", "org.apache.cassandra.auth.CassandraRoleManager");
    SET("rpc_address", "%s", c->listen_address);
    SET("shards", "%d", c->shards);
    SET("user_defined_functions_enabled", "false");
    SET("write_request_timeout", "%" PRIu64 "ms", c->write_timeout_ms);
#undef SET
}
