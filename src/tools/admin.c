/*
 * admin.c — `helenus admin VERB [args]`: nodetool's everyday verbs against a
 * running node's admin port (server/admin_http.c).
 *
 * What: maps nodetool-style arguments to one HTTP/1.0 request to
 * host:port (127.0.0.1:7199 unless -h/-p say otherwise), prints the body,
 * and exits 0 on HTTP 200, 1 otherwise (the body is the error message, as
 * nodetool prints it). Verbs: flush [ks [table...]], compact [ks
 * [table...]], tablestats [ks[.table]], tablehistograms ks table,
 * compactionstats, drain, info, status, snapshots, compaction throughput,
 * metrics.
 *
 * Why a hand-written client: one request and one response over loopback;
 * a library would add a dependency for forty lines of socket code.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/admin.h"

static int request(const char *host, const char *port, const char *method, const char *path)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0) {
        fprintf(stderr, "helenus admin: cannot resolve %s: %s\n", host, gai_strerror(g));
        return 1;
    }
    int fd = -1;
    for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
        if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        fprintf(stderr,
                "helenus admin: cannot connect to %s:%s (is the node running, with admin_port "
                "set?)\n",
                host, port);
        return 1;
    }
    char req[2048];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: %s\r\nContent-Length: 0\r\n\r\n",
                     method, path, host);
    if (n < 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) {
        close(fd);
        fprintf(stderr, "helenus admin: cannot send the request\n");
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t r;
    while (buf && (r = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)r;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf) return 1;
    buf[len] = '\0';
    int status = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/%*s %d", &status) != 1 || !body) {
        fprintf(stderr, "helenus admin: malformed answer from %s:%s\n", host, port);
        free(buf);
        return 1;
    }
    body += 4;
    fputs(body, status == 200 ? stdout : stderr);
    free(buf);
    return status == 200 ? 0 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: helenus admin [-h HOST] [-p PORT] VERB [args]\n"
               "  flush [keyspace [table ...]]     write memtables to sstables\n"
               "  compact [keyspace [table ...]]   major compaction (purges what it may)\n"
               "  tablestats [keyspace[.table]]    per-table statistics\n"
               "  tablehistograms ks table         local latency percentiles\n"
               "  drain                            stop the CQL port, flush every table\n"
               "  compactionstats                  running compactions\n"
               "  getcompactionthroughput          the compaction_throughput limit\n"
               "  setcompactionthroughput MIB      set it (MiB/s for the node, 0 = none)\n"
               "  info                             the node\n"
               "  status                           nodetool status (this node)\n"
               "  snapshot [-t TAG] [ks] [--table t]  hard-link snapshot of sstables\n"
               "  listsnapshots                    snapshots and their sizes\n"
               "  clearsnapshot [-t TAG | --all]   remove snapshots\n"
               "  metrics                          Prometheus text (metrics_enabled)\n");
}

/* Appends ?keyspace=..&table=.. (names are CQL identifiers: no escaping
 * beyond refusing what would need it). */
static int target(char *out, size_t cap, const char *verb, const char *ks, const char *table)
{
    for (const char *p = ks ? ks : ""; *p; p++)
        if (*p == '&' || *p == '?' || *p == ' ' || *p == '#' || *p == '%') return -1;
    for (const char *p = table ? table : ""; *p; p++)
        if (*p == '&' || *p == '?' || *p == ' ' || *p == '#' || *p == '%') return -1;
    int n = snprintf(out, cap, "/%s%s%s%s%s", verb, ks ? "?keyspace=" : "", ks ? ks : "",
                     table ? "&table=" : "", table ? table : "");
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int admin_main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "7199";
    int i = 0;
    while (i < argc && argv[i][0] == '-') {
        if ((!strcmp(argv[i], "-h") || !strcmp(argv[i], "--host")) && i + 1 < argc)
            host = argv[++i];
        else if ((!strcmp(argv[i], "-p") || !strcmp(argv[i], "--port")) && i + 1 < argc)
            port = argv[++i];
        else {
            usage(stderr);
            return 1;
        }
        i++;
    }
    if (i >= argc) {
        usage(stderr);
        return 1;
    }
    const char *verb = argv[i++];
    char path[1024];
    if (!strcmp(verb, "flush") || !strcmp(verb, "compact")) {
        const char *ks = i < argc ? argv[i++] : NULL;
        if (i >= argc) {
            if (target(path, sizeof path, verb, ks, NULL) < 0) return 1;
            return request(host, port, "POST", path);
        }
        for (; i < argc; i++) {
            if (target(path, sizeof path, verb, ks, argv[i]) < 0) return 1;
            int rc = request(host, port, "POST", path);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(verb, "tablestats") || !strcmp(verb, "cfstats")) {
        char ks[256] = "", *table = NULL;
        if (i < argc) {
            snprintf(ks, sizeof ks, "%s", argv[i]);
            char *dot = strchr(ks, '.');
            if (dot) {
                *dot = '\0';
                table = dot + 1;
            }
        }
        if (target(path, sizeof path, "tablestats", *ks ? ks : NULL, table) < 0) return 1;
        return request(host, port, "GET", path);
    }
    if (!strcmp(verb, "tablehistograms") || !strcmp(verb, "cfhistograms")) {
        /* nodetool's forms: "ks table" or "ks.table" */
        char ks[256] = "", *table = NULL;
        if (i < argc) snprintf(ks, sizeof ks, "%s", argv[i++]);
        char *dot = strchr(ks, '.');
        if (dot) {
            *dot = '\0';
            table = dot + 1;
        } else if (i < argc) {
            table = argv[i++];
        }
        if (!*ks || !table || !*table || i < argc) {
            fprintf(stderr, "helenus admin: tablehistograms requires keyspace and table name "
                            "arguments\n");
            return 1;
        }
        if (target(path, sizeof path, "tablehistograms", ks, table) < 0) return 1;
        return request(host, port, "GET", path);
    }
    if (!strcmp(verb, "snapshot") || !strcmp(verb, "clearsnapshot")) {
        const char *tag = NULL, *ks = NULL, *table = NULL;
        for (; i < argc; i++) {
            if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--tag")) && i + 1 < argc)
                tag = argv[++i];
            else if (!strcmp(argv[i], "--all"))
                tag = NULL;
            else if (!strcmp(argv[i], "--table") && i + 1 < argc)
                table = argv[++i];
            else if (!ks)
                ks = argv[i];
            else {
                usage(stderr);
                return 1;
            }
        }
        for (const char *p = tag ? tag : ""; *p; p++)
            if (*p == '&' || *p == '?' || *p == ' ' || *p == '#' || *p == '%') return 1;
        if (target(path, sizeof path, verb, ks, table) < 0) return 1;
        if (tag) {
            size_t n = strlen(path);
            snprintf(path + n, sizeof path - n, "%stag=%s", strchr(path, '?') ? "&" : "?", tag);
        }
        return request(host, port, "POST", path);
    }
    if (!strcmp(verb, "setcompactionthroughput")) {
        if (i >= argc) {
            fprintf(stderr, "helenus admin: setcompactionthroughput needs a value in MiB/s\n");
            return 1;
        }
        for (const char *p = argv[i]; *p; p++)
            if (*p < '0' || *p > '9') {
                fprintf(stderr, "helenus admin: '%s' is not a number of MiB/s\n", argv[i]);
                return 1;
            }
        snprintf(path, sizeof path, "/setcompactionthroughput?value=%s", argv[i]);
        return request(host, port, "POST", path);
    }
    if (!strcmp(verb, "compactionstats") || !strcmp(verb, "info") || !strcmp(verb, "metrics") ||
        !strcmp(verb, "status") || !strcmp(verb, "listsnapshots") ||
        !strcmp(verb, "getcompactionthroughput")) {
        snprintf(path, sizeof path, "/%s", verb);
        return request(host, port, "GET", path);
    }
    if (!strcmp(verb, "drain")) return request(host, port, "POST", "/drain");
    fprintf(stderr, "helenus admin: unknown verb '%s'\n", verb);
    usage(stderr);
    return 1;
}
