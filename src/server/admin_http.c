/*
 * admin_http.c — the node's operator port: nodetool-style verbs and
 * Prometheus text over HTTP, on loopback by default.
 *
 * What: a libmicrohttpd daemon (its own polling thread) answering
 *   GET  /metrics                      Prometheus text (metrics_enabled)
 *   GET  /tablestats?keyspace=&table=  nodetool tablestats
 *   GET  /tablehistograms?keyspace=&table=  nodetool tablehistograms
 *   GET  /compactionstats              nodetool compactionstats
 *   POST /drain                        nodetool drain
 *   GET  /info                         nodetool info (the basics)
 *   GET  /status                       nodetool status (this node)
 *   POST /flush?keyspace=&table=       nodetool flush
 *   POST /compact?keyspace=&table=     nodetool compact
 *   POST /snapshot?tag=&keyspace=&table=  nodetool snapshot
 *   GET  /listsnapshots                nodetool listsnapshots
 *   POST /clearsnapshot?tag=           nodetool clearsnapshot (no tag: all)
 *   GET  /getcompactionthroughput      nodetool getcompactionthroughput
 *   POST /setcompactionthroughput?value=MiB  nodetool setcompactionthroughput
 * `helenus admin VERB` (tools/admin.c) is the client. Answers are
 * text/plain; an error is 400 (bad request), 404 (unknown verb or table)
 * or 500 (a storage error), its body the message.
 *
 * Why HTTP and a library: Cassandra's nodetool speaks JMX to port 7199;
 * Helenus keeps the same port number and loopback default but a protocol
 * every tool (curl, Prometheus) already speaks, served by a well-kept
 * Debian library instead of hand-written socket code.
 *
 * Threads: handlers run on the daemon's thread, off the shard threads, and
 * reach storage only through exec/admin.c (engine_run_on_all).
 */
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "exec/admin.h"
#include "server/server.h"

struct admin_http {
    struct MHD_Daemon *d;
    hln_engine *eng;
    int port;
    atomic_bool drained; /* /drain ran: no CQL port any more */
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static unsigned status_of(int rc)
{
    return rc == HLN_ENOTFOUND ? 404 : rc == HLN_EINVAL || rc == HLN_EEXISTS ? 400 : 500;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    admin_http *h = cls;
    if (*con_cls == NULL) { /* the headers: wait for the (empty) body */
        *con_cls = h;
        return MHD_YES;
    }
    *upload_size = 0;
    bool post = strcmp(method, "POST") == 0;
    if (!post && strcmp(method, "GET") != 0) return reply(c, 405, "GET or POST\n", 11);
    const char *ks = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "keyspace");
    const char *table = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "table");
    hln_buf out;
    hln_buf_init(&out);
    hln_error err = {0};
    int rc = 0;
    if (!strcmp(url, "/metrics") && !post) {
        if (!h->eng->cfg.metrics_enabled) {
            hln_buf_free(&out);
            return reply(c, 404, "metrics_enabled is false\n", 25);
        }
        rc = ex_admin_metrics(h->eng, &out, &err);
    } else if (!strcmp(url, "/tablestats") && !post) {
        rc = ex_admin_tablestats(h->eng, ks, table, &out, &err);
    } else if (!strcmp(url, "/tablehistograms") && !post) {
        rc = ex_admin_tablehistograms(h->eng, ks, table, &out, &err);
    } else if (!strcmp(url, "/compactionstats") && !post) {
        rc = ex_admin_compactionstats(h->eng, &out, &err);
    } else if (!strcmp(url, "/info") && !post) {
        char id[37];
        hln_uuid_format(h->eng->node.host_id, id);
        hln_buf_printf(&out,
                       "ID                     : %s\n"
                       "Gossip active          : false\n"
                       "Native Transport active: %s\n"
                       "Uptime (seconds)       : %lld\n"
                       "Data Center            : %s\n"
                       "Rack                   : %s\n"
                       "Shards                 : %d\n"
                       "Data directory         : %s\n",
                       id, atomic_load(&h->drained) ? "false" : "true",
                       (long long)((hln_now_micros() - h->eng->started_at) / 1000000),
                       h->eng->cfg.datacenter, h->eng->cfg.rack, h->eng->nshards,
                       h->eng->cfg.data_dir);
    } else if (!strcmp(url, "/getcompactionthroughput") && !post) {
        uint64_t b = ex_admin_get_compaction_throughput(h->eng);
        hln_buf_printf(&out, "Current compaction throughput: %llu MiB/s\n",
                       (unsigned long long)(b >> 20));
    } else if (!strcmp(url, "/setcompactionthroughput") && post) {
        const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "value");
        char *end = NULL;
        unsigned long long mib = v ? strtoull(v, &end, 10) : 0;
        if (!v || !*v || *end || mib > (1ULL << 20)) {
            rc = hln_fail(&err, HLN_EINVAL, "setcompactionthroughput needs a number of MiB/s");
        } else {
            ex_admin_set_compaction_throughput(h->eng, (uint64_t)mib << 20);
        }
    } else if (!strcmp(url, "/status") && !post) {
        rc = ex_admin_status(h->eng, &out, &err);
    } else if (!strcmp(url, "/snapshot") && post) {
        const char *tag = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tag");
        rc = ex_admin_snapshot(h->eng, tag, ks, table, &out, &err);
    } else if (!strcmp(url, "/listsnapshots") && !post) {
        rc = ex_admin_listsnapshots(h->eng, &out, &err);
    } else if (!strcmp(url, "/clearsnapshot") && post) {
        const char *tag = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tag");
        rc = ex_admin_clearsnapshot(h->eng, tag, &out, &err);
    } else if (!strcmp(url, "/drain") && post) {
        /* nodetool drain: stop the CQL port (clients are disconnected),
           then flush every table, so a restart replays nothing */
        atomic_store(&h->drained, true);
        server_stop(h->eng);
        rc = ex_admin_flush(h->eng, NULL, NULL, &err);
    } else if (!strcmp(url, "/flush") && post) {
        rc = ex_admin_flush(h->eng, ks, table, &err);
    } else if (!strcmp(url, "/compact") && post) {
        rc = ex_admin_compact(h->eng, ks, table, &err);
    } else {
        hln_buf_free(&out);
        return reply(c, 404, "unknown verb (or wrong method)\n", 31);
    }
    enum MHD_Result res;
    if (rc < 0) {
        char msg[600];
        int n = snprintf(msg, sizeof msg, "%s\n", err.msg[0] ? err.msg : "failed");
        res = reply(c, status_of(rc), msg, (size_t)n);
    } else {
        res = reply(c, 200, out.len ? (const char *)out.data : "", out.len);
    }
    hln_buf_free(&out);
    return res;
}

int admin_http_start(admin_http **out, hln_engine *e, hln_error *err)
{
    *out = NULL;
    if (e->cfg.admin_port < 0) return 0; /* off */
    struct sockaddr_storage ss;
    int rc = engine_resolve(e->cfg.admin_address, e->cfg.admin_port, &ss, err);
    if (rc < 0) return rc;
    admin_http *h = hln_calloc(1, sizeof(*h));
    if (!h) return hln_fail(err, HLN_ENOMEM, "out of memory");
    h->eng = e;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                            MHD_OPTION_END);
    if (!h->d) {
        hln_free(h);
        return hln_fail(err, HLN_EIO, "cannot listen for admin requests on %s:%d",
                        e->cfg.admin_address, e->cfg.admin_port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : e->cfg.admin_port;
    HLN_INFO("listening for admin requests on %s:%d%s", e->cfg.admin_address, h->port,
             e->cfg.metrics_enabled ? " (/metrics on)" : "");
    *out = h;
    return 0;
}

int admin_http_port(const admin_http *h)
{
    return h ? h->port : 0;
}

void admin_http_stop(admin_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    hln_free(h);
}
