/*
 * http.c — the Data API's HTTP port (libmicrohttpd).
 *
 * What: POST /v1, /v1/{keyspace}, /v1/{keyspace}/{collection} with a JSON
 * command body; the answer is always JSON. Command errors are HTTP 200
 * with {"errors": [...]} (the Data API's convention, which astrapy turns
 * into DataAPIResponseException); transport-level problems are HTTP
 * errors with the same body shape: 401 without a valid Token header, 404
 * for another path, 405 for another method, 413 for a body over 16 MiB,
 * 400 for a body that is not one JSON command.
 *
 * Authentication: with PasswordAuthenticator the Token header must be
 * "Cassandra:" base64(user) ":" base64(password) (what astrapy's
 * UsernamePasswordTokenProvider sends); it is checked by auth_login like a
 * CQL login, and the role then authorises every statement a command runs.
 * Without authentication any non-empty token is accepted.
 *
 * Threads: MHD_USE_THREAD_PER_CONNECTION, so a command blocking on its
 * statements holds only its own connection's thread (astrapy's
 * insert_many keeps up to 20 requests in flight).
 *
 * Invariant: a connection's body buffer (struct upload) belongs to the
 * connection and is freed in the completion callback, also when the client
 * goes away mid-upload.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <sys/socket.h>

#include "auth/auth.h"
#include "dataapi/dataapiInt.h"

enum { MAX_BODY = 16 << 20 };

struct da_http {
    struct MHD_Daemon *d;
    hln_engine *eng;
    int port;
    atomic_uint next_shard;
};

typedef struct upload {
    hln_buf body;
    bool too_big;
} upload;

json_t *da_error_response(const char *code, const char *msg)
{
    json_t *err = json_object();
    json_object_set_new(err, "id", da_new_id()); /* names this occurrence, as the Data API's */
    json_object_set_new(err, "message", json_string(msg));
    json_object_set_new(err, "errorCode", json_string(code));
    bool server = !strcmp(code, "SERVER_INTERNAL_ERROR") || !strcmp(code, "CONCURRENCY_FAILURE");
    json_object_set_new(err, "family", json_string(server ? "SERVER" : "REQUEST"));
    json_object_set_new(err, "scope", json_string(""));
    json_object_set_new(err, "title", json_string(code));
    json_t *errs = json_array();
    json_array_append_new(errs, err);
    json_t *out = json_object();
    json_object_set_new(out, "errors", errs);
    return out;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_COPY);
    free(s);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *code,
                                   const char *msg)
{
    return reply_json(c, status, da_error_response(code, msg));
}

/* Decodes base64 s (n chars) into a NUL-terminated hln_malloc'd string. */
static char *b64_decode(const char *s, size_t n)
{
    if (n == 0 || n % 4 || n > 4096) return NULL;
    unsigned char *out = hln_malloc(n / 4 * 3 + 1);
    if (!out) return NULL;
    int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (got < 0) {
        hln_free(out);
        return NULL;
    }
    if (s[n - 1] == '=') got--;
    if (n >= 2 && s[n - 2] == '=') got--;
    out[got] = 0;
    if (strlen((char *)out) != (size_t)got) { /* NUL inside */
        hln_free(out);
        return NULL;
    }
    return (char *)out;
}

/* With authentication on: the role of a "Cassandra:b64(user):b64(pass)"
 * token (hln_malloc'd into *role), or a message in msg. */
static int login(da_http *h, const char *token, char **role, char *msg, size_t cap)
{
    *role = NULL;
    const char *p = strncmp(token, "Cassandra:", 10) ? NULL : token + 10;
    const char *colon = p ? strchr(p, ':') : NULL;
    char *user = colon ? b64_decode(p, (size_t)(colon - p)) : NULL;
    char *pass = user ? b64_decode(colon + 1, strlen(colon + 1)) : NULL;
    if (!pass) {
        hln_free(user);
        snprintf(msg, cap,
                 "Role unauthorized for operation: the Token header must be "
                 "Cassandra:base64(username):base64(password)");
        return HLN_EAUTH;
    }
    size_t nu = strlen(user), np = strlen(pass);
    uint8_t *sasl = hln_malloc(nu + np + 2);
    int rc = HLN_ENOMEM;
    hln_error err = {0};
    if (sasl) {
        sasl[0] = 0;
        memcpy(sasl + 1, user, nu);
        sasl[1 + nu] = 0;
        memcpy(sasl + 2 + nu, pass, np);
        rc = auth_login(h->eng->auth, sasl, nu + np + 2, role, &err);
        hln_free(sasl);
    }
    if (rc) snprintf(msg, cap, "Role unauthorized for operation: %s", err.msg);
    hln_free(user);
    hln_free(pass);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    upload *u = *con_cls;
    if (!u) return;
    hln_buf_free(&u->body);
    hln_free(u);
    *con_cls = NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **con_cls)
{
    (void)version;
    da_http *h = cls;
    upload *u = *con_cls;
    if (!u) { /* the headers */
        u = hln_calloc(1, sizeof *u);
        if (!u) return MHD_NO;
        hln_buf_init(&u->body);
        *con_cls = u;
        return MHD_YES;
    }
    if (*data_size) { /* a piece of the body */
        if (u->body.len + *data_size > MAX_BODY)
            u->too_big = true;
        else
            hln_buf_put(&u->body, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST"))
        return reply_error(c, 405, "INVALID_REQUEST", "The Data API takes POST requests");
    if (u->too_big)
        return reply_error(c, 413, "INVALID_REQUEST", "Request body larger than 16 MiB");

    /* /v1[/keyspace[/collection]], a trailing slash tolerated */
    char ks[64] = "", coll[64] = "";
    const char *p = url;
    while (*p == '/')
        p++;
    if (strncmp(p, "v1", 2) || (p[2] && p[2] != '/'))
        return reply_error(c, 404, "INVALID_REQUEST", "Unknown path: expected /v1/{keyspace}");
    p += 2;
    char *parts[2] = {ks, coll};
    for (int i = 0; i < 3; i++) {
        while (*p == '/')
            p++;
        if (!*p) break;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (i == 2 || !da_name_ok(p, n))
            return reply_error(c, 404, "INVALID_REQUEST",
                               "Unknown path: expected /v1/{keyspace}/{collection}, names of "
                               "1-48 letters, digits and underscores");
        memcpy(parts[i], p, n);
        parts[i][n] = 0;
        p += n;
    }

    const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Token");
    if (!token || !*token)
        return reply_error(c, 401, "UNAUTHENTICATED_REQUEST",
                           "Role unauthorized for operation: Missing token, expecting one in "
                           "the Token header.");
    char *role = NULL;
    if (h->eng->cfg.password_auth) {
        char msg[sizeof(((hln_error *)0)->msg) + 64]; /* the auth error and the prefix */
        if (login(h, token, &role, msg, sizeof msg))
            return reply_error(c, 401, "UNAUTHENTICATED_REQUEST", msg);
    }

    json_error_t jerr;
    json_t *body = json_loadb(u->body.len ? (const char *)u->body.data : "", u->body.len,
                              JSON_REJECT_DUPLICATES, &jerr);
    enum MHD_Result res;
    if (!json_is_object(body) || json_object_size(body) != 1 ||
        !json_is_object(json_object_iter_value(json_object_iter(body)))) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 body ? "Request invalid: the body must be one command, {\"name\": {...}}"
                      : "Request invalid, cannot parse as JSON: %s",
                 jerr.text);
        res = reply_error(c, 400, "INVALID_REQUEST", msg);
    } else {
        da_ctx cx = {.eng = h->eng,
                     .next_shard = &h->next_shard,
                     .role = role,
                     .keyspace = ks[0] ? ks : NULL,
                     .collection = coll[0] ? coll : NULL};
        res = reply_json(c, 200, da_execute(&cx, body));
    }
    json_decref(body);
    hln_free(role);
    return res;
}

int da_http_start(da_http **out, hln_engine *e, hln_error *err)
{
    *out = NULL;
    if (e->cfg.data_api_port < 0) return 0; /* off */
    struct sockaddr_storage ss;
    int rc = engine_resolve(e->cfg.data_api_address, e->cfg.data_api_port, &ss, err);
    if (rc < 0) return rc;
    da_http *h = hln_calloc(1, sizeof(*h));
    if (!h) return hln_fail(err, HLN_ENOMEM, "out of memory");
    h->eng = e;
    atomic_init(&h->next_shard, 0);
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_END);
    if (!h->d) {
        hln_free(h);
        return hln_fail(err, HLN_EIO, "cannot listen for Data API requests on %s:%d",
                        e->cfg.data_api_address, e->cfg.data_api_port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : e->cfg.data_api_port;
    HLN_INFO("listening for Data API requests on %s:%d", e->cfg.data_api_address, h->port);
    *out = h;
    return 0;
}

int da_http_port(const da_http *h)
{
    return h ? h->port : 0;
}

void da_http_stop(da_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    hln_free(h);
}
