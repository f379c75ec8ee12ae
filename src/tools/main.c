/*
 * main.c — the `helenus` command.
 *
 *   helenus serve [--data-dir DIR] [--address ADDR] [--port N] [--shards N]
 *                 [--config FILE] [--commitlog-sync batch|periodic]
 *                 [--log-level debug|info|warn|error] [--admin-port N]
 *                 [--data-api-port N]
 *   helenus --version
 *   helenus help
 *
 * Configuration is layered: built-in defaults, then the YAML file (--config,
 * or ./helenus.yaml when it exists), then command-line flags.
 *
 * serve prints exactly one line to stderr once clients can connect:
 *   Helenus <version> listening on <addr>:<port> (<n> shards, data in <dir>)
 * (tests wait for "listening on"; with the Data API on, a line
 * "Data API listening on <addr>:<port>" comes first), runs until SIGINT or SIGTERM, then stops
 * accepting, closes connections, flushes storage and exits 0. A startup
 * failure (bad flag, bad config, port in use, locked data) prints one
 * "helenus: ..." line and exits 1.
 *
 * Open files: every client connection is a descriptor, so serve raises its
 * soft RLIMIT_NOFILE to the hard limit before anything starts (as a
 * service manager's LimitNOFILE would) and warns when even that leaves
 * fewer than NOFILE_WANTED descriptors: below it, a few thousand clients
 * plus the sstables and commitlog segments can run out, and accept then
 * fails with "too many open files".
 *
 * Signals: SIGINT and SIGTERM are blocked before any thread starts, so every
 * thread inherits the mask and only the main thread, in sigwait, receives
 * them. SIGPIPE is ignored: a client closing its socket while we write is an
 * ordinary write error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataapi/dataapi.h"
#include "exec/node.h"
#include "server/server.h"
#include "tools/admin.h"

#ifndef HELENUS_VERSION
#define HELENUS_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
    fprintf(f, "Usage:\n"
               "  helenus serve [options]   run the CQL server\n"
               "  helenus admin VERB ...    nodetool-style verbs (flush, compact,\n"
               "                            tablestats, ...) against a running node\n"
               "  helenus --version         print the version\n"
               "  helenus help              print this help\n"
               "\n"
               "serve options:\n"
               "  --data-dir DIR            data directory (default ./helenus-data)\n"
               "  --address ADDR            address to listen on (default 127.0.0.1)\n"
               "  --port N                  CQL native protocol port (default 9042)\n"
               "  --shards N                shards (threads); 0 = one per core (default)\n"
               "  --config FILE             YAML configuration, cassandra.yaml key names\n"
               "                            (default ./helenus.yaml if it exists)\n"
               "  --commitlog-sync MODE     periodic (default) or batch\n"
               "  --admin-port N            admin HTTP port for `helenus admin` (default 7199,\n"
               "                            0 = any free port, -1 = off)\n"
               "  --data-api-port N         Data API HTTP port (astrapy; default -1 = off,\n"
               "                            0 = any free port)\n"
               "  --log-level LEVEL         debug, info (default), warn or error\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "helenus: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

typedef struct flags {
    const char *data_dir, *address, *port, *shards, *config, *sync, *log_level, *admin_port,
        *data_api_port;
} flags;

static int parse_flags(int argc, char **argv, flags *f)
{
    memset(f, 0, sizeof *f);
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--data-dir", offsetof(flags, data_dir)},
        {"--address", offsetof(flags, address)},
        {"--port", offsetof(flags, port)},
        {"--shards", offsetof(flags, shards)},
        {"--config", offsetof(flags, config)},
        {"--commitlog-sync", offsetof(flags, sync)},
        {"--log-level", offsetof(flags, log_level)},
        {"--admin-port", offsetof(flags, admin_port)},
        {"--data-api-port", offsetof(flags, data_api_port)},
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        size_t k;
        for (k = 0; k < HLN_ARRAY_LEN(opts); k++) {
            size_t n = strlen(opts[k].name);
            if (!strncmp(a, opts[k].name, n) && (a[n] == 0 || a[n] == '=')) {
                if (a[n] == '=')
                    val = a + n + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return fail("option %s needs a value", opts[k].name);
                break;
            }
        }
        if (k == HLN_ARRAY_LEN(opts)) {
            fail("unknown option '%s'", a);
            usage(stderr);
            return 1;
        }
        *(const char **)((char *)f + opts[k].off) = val;
    }
    return 0;
}

/* Descriptors we would like to have: ~10,000 client connections plus
 * storage files and the process's own. */
#define NOFILE_WANTED ((rlim_t)10240)

/* Soft RLIMIT_NOFILE := hard (an unlimited hard limit: the kernel's
 * fs.nr_open, which is what setrlimit accepts at most). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) {
        HLN_WARN("cannot read the open files limit: %s", strerror(errno));
        return;
    }
    rlim_t target = rl.rlim_max;
    if (target == RLIM_INFINITY) {
        target = 1048576;
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        unsigned long long v;
        if (f) {
            if (fscanf(f, "%llu", &v) == 1 && v > 0) target = (rlim_t)v;
            fclose(f);
        }
    }
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
        rl.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &rl)) {
            HLN_WARN("cannot raise the open files limit from %llu to %llu: %s",
                     (unsigned long long)before, (unsigned long long)target, strerror(errno));
            rl.rlim_cur = before;
        } else {
            HLN_INFO("raised the open files limit from %llu to %llu", (unsigned long long)before,
                     (unsigned long long)target);
        }
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < NOFILE_WANTED)
        HLN_WARN("the open files limit is %llu (hard limit %llu), below the %llu recommended: "
                 "about %llu client connections at most; raise it (ulimit -Hn, LimitNOFILE=, "
                 "/etc/security/limits.conf)",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                 (unsigned long long)NOFILE_WANTED,
                 rl.rlim_cur > 256 ? (unsigned long long)(rl.rlim_cur - 256) : 0ULL);
}

static int log_level(const char *s, int *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, names[i])) {
            *out = i;
            return 0;
        }
    if (!strcasecmp(s, "warning")) {
        *out = HLN_LOG_WARN;
        return 0;
    }
    return -1;
}

static int serve(int argc, char **argv)
{
    flags f;
    if (parse_flags(argc, argv, &f)) return 1;
    if (f.log_level) {
        int lvl;
        if (log_level(f.log_level, &lvl))
            return fail("--log-level must be debug, info, warn or error (got '%s')", f.log_level);
        hln_log_set_level(lvl);
    }

    hln_config cfg;
    hln_config_default(&cfg);
    hln_error err;
    memset(&err, 0, sizeof err);
    const char *config = f.config;
    struct stat st;
    if (!config && stat("helenus.yaml", &st) == 0) config = "helenus.yaml";
    if (config && hln_config_load(&cfg, config, &err)) return fail("%s", err.msg);

    if (f.data_dir) {
        if (!*f.data_dir || strlen(f.data_dir) >= sizeof cfg.data_dir)
            return fail("invalid --data-dir '%s'", f.data_dir);
        snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", f.data_dir);
    }
    if (f.address) {
        if (!*f.address || strlen(f.address) >= sizeof cfg.listen_address)
            return fail("invalid --address '%s'", f.address);
        snprintf(cfg.listen_address, sizeof cfg.listen_address, "%s", f.address);
    }
    long v;
    if (f.port) {
        if (parse_int(f.port, 0, 65535, &v))
            return fail("--port must be a number from 0 to 65535 (got '%s')", f.port);
        cfg.native_transport_port = (int)v;
    }
    if (f.admin_port) {
        if (parse_int(f.admin_port, -1, 65535, &v))
            return fail("--admin-port must be a number from 0 to 65535, or -1 (got '%s')",
                        f.admin_port);
        cfg.admin_port = (int)v;
    }
    if (f.data_api_port) {
        if (parse_int(f.data_api_port, -1, 65535, &v))
            return fail("--data-api-port must be a number from 0 to 65535, or -1 (got '%s')",
                        f.data_api_port);
        cfg.data_api_port = (int)v;
    }
    if (f.shards) {
        if (parse_int(f.shards, 0, 1024, &v))
            return fail("--shards must be a number from 0 to 1024 (got '%s')", f.shards);
        cfg.shards = (int)v;
    }
    if (f.sync) {
        if (!strcasecmp(f.sync, "batch"))
            cfg.storage.sync = ST_SYNC_BATCH;
        else if (!strcasecmp(f.sync, "periodic"))
            cfg.storage.sync = ST_SYNC_PERIODIC;
        else
            return fail("--commitlog-sync must be batch or periodic (got '%s')", f.sync);
    }

    raise_nofile();

    /* Before any thread exists: see the essay. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    hln_engine *eng;
    if (engine_start(&eng, &cfg, &err)) return fail("cannot start: %s", err.msg);
    if (server_start(eng, &err)) {
        fail("%s", err.msg);
        hln_error e2;
        memset(&e2, 0, sizeof e2);
        engine_stop(eng, &e2);
        return 1;
    }
    /* the admin port: a node that cannot bind it (another node on 7199)
       still serves CQL */
    admin_http *adm = NULL;
    if (admin_http_start(&adm, eng, &err))
        HLN_WARN("%s; `helenus admin` cannot reach this node", err.msg);
    /* the Data API (off by default): a port that cannot be bound is a
       start-up failure, since the operator asked for it */
    da_http *dapi = NULL;
    if (da_http_start(&dapi, eng, &err)) {
        fail("%s", err.msg);
        admin_http_stop(adm);
        server_stop(eng);
        hln_error e2;
        memset(&e2, 0, sizeof e2);
        engine_stop(eng, &e2);
        return 1;
    }
    if (dapi)
        fprintf(stderr, "Data API listening on %s:%d\n", cfg.data_api_address, da_http_port(dapi));
    fprintf(stderr, "Helenus %s listening on %s:%d (%d shard%s, data in %s, admin port %d)\n",
            HELENUS_VERSION, cfg.listen_address, server_port(eng), eng->nshards,
            eng->nshards == 1 ? "" : "s", cfg.data_dir, admin_http_port(adm));
    fflush(stderr);

    int sig = 0;
    while (sigwait(&stop_set, &sig) != 0)
        ;
    HLN_INFO("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    da_http_stop(dapi);
    admin_http_stop(adm);
    server_stop(eng);
    memset(&err, 0, sizeof err);
    if (engine_stop(eng, &err)) {
        fail("shutdown: %s", err.msg);
        return 1;
    }
    HLN_INFO("stopped cleanly");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("Helenus %s (CQL native protocol v4, CQL %s, Cassandra %s compatible)\n",
               HELENUS_VERSION, "3.4.7", "5.0");
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "serve")) return serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "admin")) return admin_main(argc - 2, argv + 2);
    fail("unknown command '%s'", cmd);
    usage(stderr);
    return 1;
}
