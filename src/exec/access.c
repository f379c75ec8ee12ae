/*
 * access.c — authorisation of statements, and the role and permission
 * statements: CREATE/ALTER/DROP ROLE (and USER), GRANT, REVOKE, LIST
 * ROLES, LIST USERS, LIST PERMISSIONS; the rows of system_auth's tables.
 *
 * What: ex_authorize checks, for the analyzed statement, that the
 * request's role holds the permission Cassandra 5.0 requires (SELECT on
 * the table or a parent for SELECT; MODIFY for INSERT, UPDATE and DELETE;
 * CREATE on all keyspaces for CREATE KEYSPACE, on the keyspace for CREATE
 * TABLE; DROP on what is dropped). The role statements run here against
 * the auth store (src/auth), in Cassandra's order: permission checks
 * (checkAccess), then validation, then the change. Denials are
 * HLN_EUNAUTHORIZED (protocol error 0x2100) with Cassandra's messages.
 *
 * Who may do what follows Cassandra's ClientState: with no authenticator
 * (AllowAllAuthenticator) a connection is anonymous: it may run every data
 * statement but no role statement ("You have to be logged in and not
 * anonymous..."); with PasswordAuthenticator and AllowAllAuthorizer every
 * logged-in role may do everything except what needs superuser status;
 * with CassandraAuthorizer permissions are checked on the resource and its
 * parents (table, keyspace, all keyspaces), superusers hold them all, and
 * the system tables drivers read (system.local, system.peers,
 * system.peers_v2, system_schema.*, system_virtual_schema.*) are readable
 * by every role. Creating a keyspace, table or role grants its creator
 * every permission on it; dropping one forgets the grants on it.
 *
 * When: a statement analyzed for one request (QUERY, BATCH items) is
 * checked once; a prepared plan (plancache.c) remembers its verdict per
 * role for the schema snapshot and auth store version it was computed
 * under (ex_authorize_plan), so repeated EXECUTEs skip the store until a
 * GRANT, REVOKE, role change or DDL moves one of the two versions.
 *
 * Passwords are hashed with bcrypt off the shard's loop (uv_queue_work);
 * the request continues on its shard in the work's after-callback.
 *
 * Invariants:
 *  1. Everything runs on the request's shard thread, except hash_work.
 *  2. Results live in r->arena (copies of the auth store's state).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "auth/auth.h"
#include "exec/execInt.h"

/* cql.h's permission bits are auth.h's */
_Static_assert((unsigned)CQL_PERM_CREATE == (unsigned)AUTH_P_CREATE, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_ALTER == (unsigned)AUTH_P_ALTER, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_DROP == (unsigned)AUTH_P_DROP, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_SELECT == (unsigned)AUTH_P_SELECT, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_MODIFY == (unsigned)AUTH_P_MODIFY, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_AUTHORIZE == (unsigned)AUTH_P_AUTHORIZE,
               "permission bits differ");
_Static_assert((unsigned)CQL_PERM_DESCRIBE == (unsigned)AUTH_P_DESCRIBE, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_EXECUTE == (unsigned)AUTH_P_EXECUTE, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_UNMASK == (unsigned)AUTH_P_UNMASK, "permission bits differ");
_Static_assert((unsigned)CQL_PERM_SELECT_MASKED == (unsigned)AUTH_P_SELECT_MASKED,
               "permission bits differ");
_Static_assert((unsigned)CQL_PERM_ALL == (unsigned)AUTH_P_ALL, "permission bits differ");

#define ROLE_MANAGER "org.apache.cassandra.auth.CassandraRoleManager"

/* ---- helpers ------------------------------------------------------------ */

static hln_auth *store(ex_request *r)
{
    return ex_st(r)->eng->auth;
}

static const hln_config *cfg(ex_request *r)
{
    return &ex_st(r)->eng->cfg;
}

static int fail(ex_request *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ex_request *r, int code, const char *fmt, ...)
{
    char msg[sizeof r->err.msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hln_fail(&r->err, code, "%s", msg);
}

static int nomem(ex_request *r)
{
    return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
}

/* "data", "data/ks", "data/ks/t", "roles/r" in r->arena (NULL on ENOMEM). */
static char *resource_name(ex_request *r, const char *root, const char *a, const char *b)
{
    size_t n = strlen(root) + (a ? strlen(a) + 1 : 0) + (b ? strlen(b) + 1 : 0) + 1;
    char *s = hln_arena_alloc(&r->arena, n);
    if (!s) return NULL;
    snprintf(s, n, "%s%s%s%s%s", root, a ? "/" : "", a ? a : "", b ? "/" : "", b ? b : "");
    return s;
}

static const char *display(ex_request *r, const char *res)
{
    size_t cap = strlen(res) + 32;
    char *d = hln_arena_alloc(&r->arena, cap);
    if (!d) return res;
    auth_resource_display(res, d, cap);
    return d;
}

/* Cassandra's ensurePermission on a resource chain, when authorization is
 * on: "User U has no P permission on <R> or any of its parents". */
static int ensure(ex_request *r, unsigned perm, const char *res)
{
    if (!cfg(r)->authorization) return 0;
    const char *me = r->params.role;
    if (me && store(r) && auth_has_permission(store(r), me, perm, res)) return 0;
    return fail(r, HLN_EUNAUTHORIZED, "User %s has no %s permission on %s or any of its parents",
                me ? me : "anonymous", auth_perm_name(perm), display(r, res));
}

/* The same with the friendlier message the role statements use. */
static int ensure_role_stmt(ex_request *r, unsigned perm, const char *res)
{
    int rc = ensure(r, perm, res);
    if (rc == HLN_EUNAUTHORIZED)
        rc = fail(r, HLN_EUNAUTHORIZED,
                  "User %s does not have sufficient privileges to perform the requested operation",
                  r->params.role ? r->params.role : "anonymous");
    return rc;
}

static int ensure_not_anonymous(ex_request *r)
{
    if (r->params.role && store(r)) return 0;
    return fail(r, HLN_EUNAUTHORIZED,
                "You have to be logged in and not anonymous to perform this request");
}

/* The logged-in user's superuser status (anonymous: none). */
static bool user_is_super(ex_request *r)
{
    return r->params.role && store(r) && auth_is_superuser(store(r), r->params.role);
}

/* ---- authorisation of data statements --------------------------------- */

static bool is_local_system_ks(const char *ks)
{
    return !strcmp(ks, "system") || !strcmp(ks, "system_schema") ||
           !strcmp(ks, "system_virtual_schema");
}

/* Cassandra's preventSystemKSSchemaModification (applies to superusers too). */
static int protect_system(ex_request *r, const char *ks, unsigned perm, const char *res)
{
    if (is_local_system_ks(ks))
        return fail(r, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.", ks);
    if (!strcmp(ks, "system_auth")) {
        if (perm == AUTH_P_ALTER && !strchr(res + 5, '/')) return 0;
        return fail(r, HLN_EUNAUTHORIZED, "Cannot %s %s", auth_perm_name(perm), display(r, res));
    }
    return 0;
}

/* System tables every role may read (drivers and tools need them). */
static bool readable_system_table(const hln_table *t)
{
    if (!strcmp(t->ks, "system"))
        return !strcmp(t->name, "local") || !strcmp(t->name, "peers") ||
               !strcmp(t->name, "peers_v2");
    return !strcmp(t->ks, "system_schema") || !strcmp(t->ks, "system_virtual_schema");
}

/* A schema change: the system keyspaces' protection, then the permission. */
static int guard(ex_request *r, const char *ks, unsigned perm, const char *res)
{
    int rc = protect_system(r, ks, perm, res);
    return rc ? rc : ensure(r, perm, res);
}

int ex_authorize(ex_request *r, const cql_stmt *stmt, const ex_plan *p)
{
    const char *me = r->params.role;
    if (!me) return 0; /* anonymous: no authenticator, every data statement allowed */
    const char *res;
    switch (stmt->kind) {
    case CQL_SELECT:
        if (readable_system_table(p->t)) return 0;
        res = resource_name(r, "data", p->t->ks, p->t->name);
        return res ? ensure(r, AUTH_P_SELECT, res) : nomem(r);
    case CQL_INSERT:
    case CQL_UPDATE:
    case CQL_DELETE:
        res = resource_name(r, "data", p->t->ks, p->t->name);
        return res ? ensure(r, AUTH_P_MODIFY, res) : nomem(r);
    case CQL_CREATE_KEYSPACE:
        return ensure(r, AUTH_P_CREATE, "data");
    case CQL_DROP_KEYSPACE:
        res = resource_name(r, "data", p->ks, NULL);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_DROP, res);
    case CQL_CREATE_TABLE:
        res = resource_name(r, "data", p->ks, NULL);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_CREATE, res);
    case CQL_DROP_TABLE:
        res = resource_name(r, "data", p->ks, stmt->u.drop.name.name);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_DROP, res);
    case CQL_ALTER_TABLE:
        res = resource_name(r, "data", p->ks, stmt->u.alter_table.name.name);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_ALTER, res);
    case CQL_ALTER_KEYSPACE:
    case CQL_ALTER_UDT: /* AlterTypeStatement: ALTER on the keyspace */
        res = resource_name(r, "data", p->ks, NULL);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_ALTER, res);
    case CQL_CREATE_TYPE:
        res = resource_name(r, "data", p->ks, NULL);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_CREATE, res);
    case CQL_DROP_TYPE:
        res = resource_name(r, "data", p->ks, NULL);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_DROP, res);
    case CQL_TRUNCATE: /* TruncateStatement.authorize: MODIFY on the table */
        res = resource_name(r, "data", p->t->ks, p->t->name);
        return res ? ensure(r, AUTH_P_MODIFY, res) : nomem(r);
    case CQL_CREATE_INDEX: /* CreateIndexStatement.authorize: ALTER on the table */
        res = resource_name(r, "data", p->ks, stmt->u.create_index.table.name);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_ALTER, res);
    case CQL_CREATE_VIEW: /* CreateViewStatement.authorize: ALTER on the base table */
        res = resource_name(r, "data", p->ks, stmt->u.create_table.view_base.name);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_ALTER, res);
    case CQL_DROP_VIEW:
    case CQL_ALTER_VIEW: { /* ALTER on the base table, if the view exists */
        const cql_qname *q =
            stmt->kind == CQL_DROP_VIEW ? &stmt->u.drop.name : &stmt->u.alter_table.name;
        const hln_table *v = schema_table(ex_st(r)->schema, p->ks, q->name);
        if (!v || !v->is_view) return 0;
        res = resource_name(r, "data", p->ks, v->base_name);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_ALTER, res);
    }
    case CQL_DROP_INDEX: { /* DropIndexStatement: ALTER on the index's table, if any */
        const hln_table *it = NULL;
        if (!schema_index(ex_st(r)->schema, p->ks, stmt->u.drop.name.name, &it)) return 0;
        res = resource_name(r, "data", p->ks, it->name);
        if (!res) return nomem(r);
        return guard(r, p->ks, AUTH_P_ALTER, res);
    }
    case CQL_USE:
        return 0;
    case CQL_BATCH:
        /* BEGIN BATCH: MODIFY on the table of each statement */
        for (int i = 0; i < stmt->u.batch.nstmts; i++) {
            const cql_stmt *in = stmt->u.batch.stmts[i];
            const cql_qname *q = in->kind == CQL_INSERT   ? &in->u.insert.table
                                 : in->kind == CQL_UPDATE ? &in->u.update.table
                                 : in->kind == CQL_DELETE ? &in->u.del.table
                                                          : NULL;
            const char *ks = q && q->ks ? q->ks : r->params.keyspace;
            if (!q || !ks) continue; /* analysis refuses these */
            res = resource_name(r, "data", ks, q->name);
            int rc = res ? ensure(r, AUTH_P_MODIFY, res) : nomem(r);
            if (rc) return rc;
        }
        return 0;
    case CQL_CREATE_ROLE:
    case CQL_ALTER_ROLE:
    case CQL_DROP_ROLE:
    case CQL_LIST_ROLES:
    case CQL_GRANT_ROLE:
    case CQL_REVOKE_ROLE:
    case CQL_GRANT_PERMISSIONS:
    case CQL_REVOKE_PERMISSIONS:
    case CQL_LIST_PERMISSIONS:
        return 0; /* checked as they run (ex_run_access) */
    case CQL_DESCRIBE:
        return 0; /* Cassandra's DescribeStatement.authorize checks nothing */
    }
    /* a statement kind this file does not know: refuse rather than let it
     * through unchecked */
    return fail(r, HLN_EUNAUTHORIZED,
                "User %s may not run this statement: its permissions are "
                "not checked yet",
                me);
}

/* Cassandra caches permissions per role (roles_validity, permissions_
 * validity); here a prepared plan remembers the verdict itself, keyed by
 * the role (and the request's keyspace for BEGIN BATCH, whose unqualified
 * tables resolve against it), valid while the schema snapshot and the auth
 * store are unchanged: any GRANT, REVOKE, role change or DDL bumps one of
 * them, so no stale verdict outlives the change that would alter it. The
 * version is read before checking: a change racing the check leaves a
 * verdict under the older version, checked again next time. */
int ex_authorize_plan(ex_request *r, ex_cached_plan *cp, const cql_stmt *stmt, const ex_plan *p)
{
    const char *me = r->params.role;
    ex_state *st = ex_st(r);
    if (!me || !cp || !st->schema) return ex_authorize(r, stmt, p);
    const char *ks = stmt->kind == CQL_BATCH && r->params.keyspace ? r->params.keyspace : "";
    size_t rl = strlen(me), kl = strlen(ks), keylen = rl + 1 + kl;
    uint64_t av = auth_version(store(r));
    const uint8_t *sv = st->schema->version;
    ex_verdict *slot = NULL;
    for (int i = 0; i < EX_VERDICTS; i++) {
        ex_verdict *v = &cp->verdicts[i];
        if (!v->key || v->keylen != keylen || memcmp(v->key, me, rl) || v->key[rl] ||
            memcmp(v->key + rl + 1, ks, kl))
            continue;
        if (v->auth_version == av && !memcmp(v->schema_version, sv, 16)) {
            ex_plan_cache_count_auth(r->shard, true);
            if (!v->rc) return 0;
            return hln_fail(&r->err, v->rc, "%s", v->msg);
        }
        slot = v; /* stale: recomputed in place */
        break;
    }
    ex_plan_cache_count_auth(r->shard, false);
    int rc = ex_authorize(r, stmt, p);
    if (rc && rc != HLN_EUNAUTHORIZED) return rc; /* out of memory: not a verdict */
    if (!slot) {
        slot = &cp->verdicts[cp->next_verdict];
        cp->next_verdict = (cp->next_verdict + 1) % EX_VERDICTS;
    }
    hln_free(slot->key);
    hln_free(slot->msg);
    memset(slot, 0, sizeof *slot);
    char *key = hln_malloc(keylen + 1);
    char *msg = rc ? hln_strdup(r->err.msg) : NULL;
    if (!key || (rc && !msg)) { /* not remembered: checked again next time */
        hln_free(key);
        hln_free(msg);
        return rc;
    }
    memcpy(key, me, rl + 1);
    memcpy(key + rl + 1, ks, kl + 1);
    *slot = (ex_verdict){.key = key, .keylen = keylen, .auth_version = av, .rc = rc, .msg = msg};
    memcpy(slot->schema_version, sv, 16);
    return rc;
}

void ex_access_schema_changed(ex_request *r)
{
    const ex_result *res = &r->result;
    hln_auth *a = store(r);
    if (!a || !res->change || !res->target || !res->sc_ks) return;
    bool table = !strcmp(res->target, "TABLE");
    if (!table && strcmp(res->target, "KEYSPACE")) return;
    const char *name = resource_name(r, "data", res->sc_ks, table ? res->sc_name : NULL);
    if (!name) return;
    hln_error err = {0};
    int rc = 0;
    if (!strcmp(res->change, "CREATED")) {
        /* the creator gets every permission on it (not the anonymous user,
         * and not when no authorizer keeps grants) */
        if (r->params.role && cfg(r)->authorization)
            rc = auth_grant(a, r->params.role, name, auth_applicable(name), &err);
    } else if (!strcmp(res->change, "DROPPED")) {
        rc = auth_revoke_all_on(a, name, !table, &err);
    }
    if (rc) HLN_WARN("permissions on %s not updated: %s", name, err.msg);
}

/* ---- values ------------------------------------------------------------- */

static const uint8_t TRUE_B[1] = {1}, FALSE_B[1] = {0};

static ex_value v_text(const char *s)
{
    ex_value v = {(const uint8_t *)s, (int32_t)strlen(s)};
    return v;
}

static ex_value v_bool(bool b)
{
    ex_value v = {b ? TRUE_B : FALSE_B, 1};
    return v;
}

static ex_value v_null(void)
{
    ex_value v = {NULL, -1};
    return v;
}

/* set<text> (or a frozen one) as the protocol carries it; NULL when empty. */
static ex_value v_set(ex_request *r, char **items, int n, bool *fail_)
{
    if (n == 0) return v_null();
    hln_buf b;
    hln_buf_init(&b);
    hln_buf_u32(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        hln_buf_u32(&b, (uint32_t)strlen(items[i]));
        hln_buf_put(&b, items[i], strlen(items[i]));
    }
    ex_value v = v_null();
    if (!b.err) {
        v.p = hln_arena_memdup(&r->arena, b.data, b.len);
        v.len = (int32_t)b.len;
    }
    if (b.err || !v.p) *fail_ = true;
    hln_buf_free(&b);
    return v;
}

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The permission names of a mask, sorted as a set<text> keeps them. */
static int perm_names(ex_request *r, unsigned mask, char ***out)
{
    char **v = hln_arena_alloc(&r->arena, sizeof *v * AUTH_NPERMS);
    if (!v) return -1;
    int n = 0;
    for (int i = 0; i < AUTH_NPERMS; i++)
        if (mask & (1u << i)) v[n++] = (char *)auth_perm_name(1u << i);
    qsort(v, (size_t)n, sizeof *v, str_cmp);
    *out = v;
    return n;
}

/* A ROWS result with the given columns (all of keyspace ks, table tbl). */
static int rows_begin(ex_request *r, const char *ks, const char *tbl, const char *const *names,
                      const hln_type *const *types, int ncols, int nrows)
{
    ex_result *res = &r->result;
    res->kind = EX_ROWS;
    res->cols = hln_arena_alloc(&r->arena, sizeof *res->cols * (size_t)ncols);
    res->cells =
        hln_arena_alloc(&r->arena, sizeof *res->cells * (size_t)(ncols * (nrows ? nrows : 1)));
    if (!res->cols || !res->cells) return nomem(r);
    for (int i = 0; i < ncols; i++) {
        res->cols[i].ks = ks;
        res->cols[i].table = tbl;
        res->cols[i].name = names[i];
        res->cols[i].type = types[i];
    }
    res->ncols = ncols;
    res->nrows = 0;
    return 0;
}

static void finish_void(ex_request *r)
{
    r->result.kind = EX_VOID;
    ex_finish(r, 0);
}

/* map<text, text>: the type of system_schema.keyspaces.replication (a
 * frozen map; frozenness is not on the wire in a result's metadata). */
static const hln_type *text_map_type(ex_request *r)
{
    const hln_column *c =
        table_column(schema_table(ex_st(r)->schema, "system_schema", "keyspaces"), "replication");
    return c ? c->type : NULL;
}

/* ---- bcrypt off the loop -------------------------------------------------- */

typedef void (*hashed_fn)(ex_request *r, const char *hash);

typedef struct hash_job {
    uv_work_t w;
    ex_request *r;
    hln_auth *a;
    const char *password;
    char hash[128];
    int rc;
    hln_error err;
    hashed_fn then;
} hash_job;

static void hash_work(uv_work_t *w)
{
    hash_job *j = w->data;
    j->rc = auth_hash_password(j->password, auth_rounds(j->a), j->hash, sizeof j->hash, &j->err);
}

static void hash_after(uv_work_t *w, int status)
{
    hash_job *j = w->data;
    ex_request *r = j->r;
    if (status) {
        ex_finish(r, hln_fail(&r->err, HLN_ESERVER, "password hashing cancelled"));
        return;
    }
    if (j->rc) {
        r->err = j->err;
        ex_finish(r, j->rc);
        return;
    }
    j->then(r, j->hash);
}

/* Hashes password (NULL: then(r, NULL) at once) and continues with then. */
static void with_hash(ex_request *r, const char *password, hashed_fn then)
{
    if (!password) {
        then(r, NULL);
        return;
    }
    hash_job *j = hln_arena_alloc(&r->arena, sizeof *j);
    if (!j) {
        ex_finish(r, nomem(r));
        return;
    }
    j->w.data = j;
    j->r = r;
    j->a = store(r);
    j->password = password;
    j->then = then;
    int rc = uv_queue_work(r->shard->loop, &j->w, hash_work, hash_after);
    if (rc) ex_finish(r, fail(r, HLN_ESERVER, "cannot hash the password: %s", uv_strerror(rc)));
}

/* ---- CREATE / ALTER / DROP ROLE ----------------------------------------- */

static const cql_role_stmt *role_stmt(ex_request *r)
{
    return &ex_st(r)->stmt->u.role;
}

/* RoleOptions.validate against what CassandraRoleManager supports. */
static int check_opts(ex_request *r, const cql_role_opts *o)
{
    bool pw = cfg(r)->password_auth;
    if (o->has_options) return fail(r, HLN_EINVAL, "%s doesn't support OPTIONS", ROLE_MANAGER);
    if (o->password && !pw) return fail(r, HLN_EINVAL, "%s doesn't support PASSWORD", ROLE_MANAGER);
    if (o->hashed_password && !pw)
        return fail(r, HLN_EINVAL, "%s doesn't support HASHED_PASSWORD", ROLE_MANAGER);
    if (o->password && o->hashed_password)
        return fail(r, HLN_EINVAL,
                    "Properties 'PASSWORD' and 'HASHED_PASSWORD' are mutually "
                    "exclusive");
    if (o->hashed_password && !auth_is_bcrypt_hash(o->hashed_password))
        return fail(r, HLN_EINVAL, "Invalid hashed password value. Please use jBcrypt.");
    return 0;
}

static bool opts_empty(const cql_role_opts *o)
{
    return !o->password && !o->hashed_password && o->login < 0 && o->superuser < 0 &&
           !o->has_options;
}

static void create_role_hashed(ex_request *r, const char *hash)
{
    const cql_role_stmt *s = role_stmt(r);
    auth_role_opts o = {s->opts.login, s->opts.superuser, hash ? hash : s->opts.hashed_password};
    int rc = auth_create_role(store(r), s->name, &o, s->if_exists, &r->err);
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 0 && cfg(r)->authorization && r->params.role) {
        /* the creator may alter, drop and grant the new role */
        const char *res = resource_name(r, "roles", s->name, NULL);
        hln_error err = {0};
        if (!res || auth_grant(store(r), r->params.role, res, auth_applicable(res), &err))
            HLN_WARN("role %s created, but its permissions for %s were not granted: %s", s->name,
                     r->params.role, err.msg);
    }
    finish_void(r);
}

static void create_role(ex_request *r)
{
    const cql_role_stmt *s = role_stmt(r);
    /* checkAccess */
    int rc = ensure_role_stmt(r, AUTH_P_CREATE, "roles");
    if (!rc && s->opts.superuser == 1 && !user_is_super(r))
        rc = fail(r, HLN_EUNAUTHORIZED, "Only superusers can create a role with superuser status");
    /* validate */
    if (!rc) rc = check_opts(r, &s->opts);
    if (!rc && !s->name[0]) rc = fail(r, HLN_EINVAL, "Role name can't be an empty string");
    if (!rc) rc = ensure_not_anonymous(r);
    if (!rc && !s->if_exists && auth_role_exists(store(r), s->name))
        rc = fail(r, HLN_EINVAL, "%s already exists", s->name);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    if (s->if_exists && auth_role_exists(store(r), s->name)) {
        finish_void(r);
        return;
    }
    with_hash(r, s->opts.password, create_role_hashed);
}

static void alter_role_hashed(ex_request *r, const char *hash)
{
    const cql_role_stmt *s = role_stmt(r);
    auth_role_opts o = {s->opts.login, s->opts.superuser, hash ? hash : s->opts.hashed_password};
    int rc = auth_alter_role(store(r), s->name, &o, &r->err);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    finish_void(r);
}

static void alter_role(ex_request *r)
{
    const cql_role_stmt *s = role_stmt(r);
    const char *me = r->params.role;
    bool exists = store(r) && auth_role_exists(store(r), s->name);
    if (s->if_exists && !exists && me) {
        finish_void(r);
        return;
    }
    /* checkAccess */
    int rc = 0;
    bool super = user_is_super(r);
    if (s->opts.superuser >= 0 && me) {
        char **mine;
        int n;
        if (auth_roles_of(store(r), me, true, true, &r->arena, &mine, &n)) {
            ex_finish(r, nomem(r));
            return;
        }
        for (int i = 0; i < n && !rc; i++)
            if (!strcmp(mine[i], s->name))
                rc = fail(r, HLN_EUNAUTHORIZED,
                          "You aren't allowed to alter your own superuser "
                          "status or that of a role granted to you");
    }
    if (!rc && s->opts.superuser >= 0 && !super)
        rc = fail(r, HLN_EUNAUTHORIZED, "Only superusers are allowed to alter superuser status");
    if (!rc && !super) {
        if (me && !strcmp(me, s->name)) {
            /* a role may change its own password, nothing else */
            const char *what = s->opts.login >= 0    ? "LOGIN"
                               : s->opts.has_options ? "OPTIONS"
                                                     : NULL;
            if (what) rc = fail(r, HLN_EUNAUTHORIZED, "You aren't allowed to alter %s", what);
        } else {
            const char *res = resource_name(r, "roles", s->name, NULL);
            rc = res ? ensure_role_stmt(r, AUTH_P_ALTER, res) : nomem(r);
        }
    }
    /* validate */
    if (!rc) rc = check_opts(r, &s->opts);
    if (!rc && opts_empty(&s->opts)) rc = fail(r, HLN_EINVAL, "ALTER [ROLE|USER] can't be empty");
    if (!rc) rc = ensure_not_anonymous(r);
    if (!rc && !exists) rc = fail(r, HLN_EINVAL, "%s doesn't exist", s->name);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    with_hash(r, s->opts.password, alter_role_hashed);
}

static void drop_role(ex_request *r)
{
    const cql_role_stmt *s = role_stmt(r);
    const char *res = resource_name(r, "roles", s->name, NULL);
    if (!res) {
        ex_finish(r, nomem(r));
        return;
    }
    bool exists = store(r) && auth_role_exists(store(r), s->name);
    int rc = ensure_role_stmt(r, AUTH_P_DROP, res);
    if (!rc && exists && auth_is_superuser(store(r), s->name) && !user_is_super(r))
        rc = fail(r, HLN_EUNAUTHORIZED, "Only superusers can drop a role with superuser status");
    if (!rc) rc = ensure_not_anonymous(r);
    if (!rc && !s->if_exists && !exists) rc = fail(r, HLN_EINVAL, "%s doesn't exist", s->name);
    if (!rc && !strcmp(r->params.role, s->name))
        rc = fail(r, HLN_EINVAL, "Cannot DROP primary role for current login");
    if (!rc) rc = auth_drop_role(store(r), s->name, s->if_exists, &r->err);
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    finish_void(r);
}

/* ---- GRANT / REVOKE role -------------------------------------------------- */

static void grant_role(ex_request *r, bool grant)
{
    const cql_grant *g = &ex_st(r)->stmt->u.grant;
    const char *res = resource_name(r, "roles", g->role, NULL);
    if (!res) {
        ex_finish(r, nomem(r));
        return;
    }
    int rc = ensure_role_stmt(r, AUTH_P_AUTHORIZE, res);
    if (!rc) rc = ensure_not_anonymous(r);
    if (!rc && !auth_role_exists(store(r), g->role))
        rc = fail(r, HLN_EINVAL, "%s doesn't exist", g->role);
    if (!rc && !auth_role_exists(store(r), g->grantee))
        rc = fail(r, HLN_EINVAL, "%s doesn't exist", g->grantee);
    if (!rc)
        rc = grant ? auth_grant_role(store(r), g->role, g->grantee, &r->err)
                   : auth_revoke_role(store(r), g->role, g->grantee, &r->err);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    finish_void(r);
}

/* ---- GRANT / REVOKE / LIST permissions -------------------------------------- */

/* The resource a statement names, as a store name; checks it exists. */
static int statement_resource(ex_request *r, const cql_resource *res, const char **out,
                              const char *missing_fmt)
{
    const hln_schema *sc = ex_st(r)->schema;
    const char *name = NULL;
    bool exists = true;
    switch (res->kind) {
    case CQL_RES_ALL_KEYSPACES:
        name = "data";
        break;
    case CQL_RES_KEYSPACE:
        name = resource_name(r, "data", res->name.name, NULL);
        exists = schema_keyspace(sc, res->name.name) != NULL;
        break;
    case CQL_RES_TABLE: {
        const char *ks = res->name.ks ? res->name.ks : r->params.keyspace;
        if (!ks)
            return fail(r, HLN_EINVAL,
                        "No keyspace has been specified. USE a keyspace, or "
                        "explicitly specify keyspace.tablename");
        name = resource_name(r, "data", ks, res->name.name);
        exists = schema_table(sc, ks, res->name.name) != NULL;
        break;
    }
    case CQL_RES_ALL_ROLES:
        name = "roles";
        break;
    case CQL_RES_ROLE:
        name = resource_name(r, "roles", res->name.name, NULL);
        exists = auth_role_exists(store(r), res->name.name);
        break;
    }
    if (!name) return nomem(r);
    if (!exists) return fail(r, HLN_EINVAL, missing_fmt, display(r, name));
    *out = name;
    return 0;
}

/* Cassandra's filterPermissions: the requested ones the resource supports. */
static int applicable_perms(ex_request *r, const cql_grant *g, const char *res, unsigned *out)
{
    *out = g->perms & auth_applicable(res);
    if (!*out)
        return fail(r, HLN_ESYNTAX,
                    "Resource type %s does not support any of the requested "
                    "permissions",
                    strncmp(res, "roles", 5) ? "DataResource" : "RoleResource");
    return 0;
}

static void grant_permissions(ex_request *r, bool grant)
{
    const cql_grant *g = &ex_st(r)->stmt->u.grant;
    const char *res = NULL;
    unsigned perms = 0;
    /* validate */
    int rc = ensure_not_anonymous(r);
    if (!rc && !auth_role_exists(store(r), g->grantee))
        rc = fail(r, HLN_EINVAL, "Role %s doesn't exist", g->grantee);
    if (!rc) rc = statement_resource(r, &g->resource, &res, "Resource %s doesn't exist");
    if (!rc) rc = applicable_perms(r, g, res, &perms);
    /* checkAccess: AUTHORIZE, and each permission granted, on the resource */
    if (!rc) rc = ensure(r, AUTH_P_AUTHORIZE, res);
    for (int i = 0; i < AUTH_NPERMS && !rc; i++)
        if (perms & (1u << i)) rc = ensure(r, 1u << i, res);
    if (!rc && !cfg(r)->authorization)
        rc = fail(r, HLN_EINVAL, "%s operation is not supported by AllowAllAuthorizer",
                  grant ? "GRANT" : "REVOKE");
    if (!rc)
        rc = grant ? auth_grant(store(r), g->grantee, res, perms, &r->err)
                   : auth_revoke(store(r), g->grantee, res, perms, &r->err);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    finish_void(r);
}

typedef struct detail {
    const char *role, *resource;
    int perm; /* bit index */
} detail;

static int detail_cmp(const void *x, const void *y)
{
    const detail *a = x, *b = y;
    int c = strcmp(a->role, b->role);
    if (!c) c = strcmp(a->resource, b->resource);
    return c ? c : a->perm - b->perm;
}

static bool in_list(char **v, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return true;
    return false;
}

static void list_permissions(ex_request *r)
{
    const cql_grant *g = &ex_st(r)->stmt->u.grant;
    hln_auth *a = store(r);
    const char *res = NULL;
    int rc = ensure_not_anonymous(r);
    if (!rc && g->has_resource) rc = statement_resource(r, &g->resource, &res, "%s doesn't exist");
    if (!rc && g->grantee && !auth_role_exists(a, g->grantee))
        rc = fail(r, HLN_EINVAL, "<role %s> doesn't exist", g->grantee);
    if (!rc && !cfg(r)->authorization)
        rc = fail(r, HLN_EINVAL,
                  "LIST PERMISSIONS operation is not supported by "
                  "AllowAllAuthorizer");
    /* who may look: superusers, and a role at its own (and inherited) grants */
    char **roles = NULL;
    int nroles = 0;
    if (!rc && !user_is_super(r)) {
        char **mine;
        int n;
        if (auth_roles_of(a, r->params.role, true, true, &r->arena, &mine, &n)) rc = nomem(r);
        if (!rc && (!g->grantee || !in_list(mine, n, g->grantee)))
            rc = fail(r, HLN_EUNAUTHORIZED, "You are not authorized to view %s's permissions",
                      g->grantee ? g->grantee : "everyone");
    }
    if (!rc && g->grantee && auth_roles_of(a, g->grantee, true, true, &r->arena, &roles, &nroles))
        rc = nomem(r);
    /* the resources: the one named and, unless NORECURSIVE, its parents */
    char **resources = NULL;
    int nres = 0;
    if (!rc && res) {
        resources = hln_arena_alloc(&r->arena, sizeof *resources * 4);
        char *cur = hln_arena_strdup(&r->arena, res);
        if (!resources || !cur) rc = nomem(r);
        while (!rc && cur && nres < 4) {
            resources[nres++] = cur;
            if (!g->recursive) break;
            char *up = hln_arena_strdup(&r->arena, cur);
            if (!up) rc = nomem(r);
            cur = up && auth_resource_parent(up, up, strlen(up) + 1) ? up : NULL;
        }
    }
    auth_perm *grants = NULL;
    int ngrants = 0;
    if (!rc && auth_list_perms(a, &r->arena, &grants, &ngrants)) rc = nomem(r);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    detail *d = hln_arena_alloc(&r->arena, sizeof *d * (size_t)(ngrants * AUTH_NPERMS + 1));
    if (!d) {
        ex_finish(r, nomem(r));
        return;
    }
    int nd = 0;
    for (int i = 0; i < ngrants; i++) {
        const auth_perm *p = &grants[i];
        if (g->grantee && !in_list(roles, nroles, p->role)) continue;
        if (res && !in_list(resources, nres, p->resource)) continue;
        for (int b = 0; b < AUTH_NPERMS; b++)
            if ((p->perms & g->perms) & (1u << b)) d[nd++] = (detail){p->role, p->resource, b};
    }
    if (nd == 0) {
        finish_void(r);
        return;
    }
    qsort(d, (size_t)nd, sizeof *d, detail_cmp);
    static const char *const names[] = {"role", "username", "resource", "permission"};
    const hln_type *text = hln_type_by_kind(HLN_T_VARCHAR);
    const hln_type *types[] = {text, text, text, text};
    rc = rows_begin(r, "system_auth", "permissions", names, types, 4, nd);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    ex_value *c = r->result.cells;
    for (int i = 0; i < nd; i++, c += 4) {
        c[0] = v_text(d[i].role);
        c[1] = v_text(d[i].role);
        c[2] = v_text(display(r, d[i].resource));
        c[3] = v_text(auth_perm_name(1u << d[i].perm));
    }
    r->result.nrows = nd;
    ex_finish(r, 0);
}

/* ---- LIST ROLES / LIST USERS ------------------------------------------------ */

static void list_roles(ex_request *r)
{
    const cql_grant *g = &ex_st(r)->stmt->u.grant;
    hln_auth *a = store(r);
    int rc = ensure_not_anonymous(r);
    if (!rc && g->grantee && !auth_role_exists(a, g->grantee))
        rc = fail(r, HLN_EINVAL, "<role %s> doesn't exist", g->grantee);
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    /* DESCRIBE on <all roles> (every logged-in role has it without an
     * authorizer) lists any role; otherwise a role sees its own */
    bool describe_all =
        !cfg(r)->authorization || (auth_permissions(a, r->params.role, "roles") & AUTH_P_DESCRIBE);
    char **names = NULL;
    int n = 0;
    bool all = false;
    if (describe_all && !g->grantee) {
        all = true;
    } else if (describe_all || !g->grantee) {
        rc = auth_roles_of(a, g->grantee ? g->grantee : r->params.role, g->recursive, true,
                           &r->arena, &names, &n);
    } else {
        char **mine;
        int nm;
        rc = auth_roles_of(a, r->params.role, true, true, &r->arena, &mine, &nm);
        if (!rc && !in_list(mine, nm, g->grantee))
            rc = fail(r, HLN_EUNAUTHORIZED, "You are not authorized to view roles granted to %s ",
                      g->grantee);
        if (!rc) rc = auth_roles_of(a, g->grantee, g->recursive, true, &r->arena, &names, &n);
    }
    auth_role *roles = NULL;
    int nroles = 0;
    if (!rc) rc = auth_list_roles(a, &r->arena, &roles, &nroles);
    if (rc) {
        if (rc == HLN_ENOMEM && !r->err.msg[0]) nomem(r);
        ex_finish(r, rc);
        return;
    }
    /* roles come sorted by name: keep the listed ones (and for LIST USERS
     * the ones that can log in) */
    int keep = 0;
    for (int i = 0; i < nroles; i++) {
        bool listed = all || in_list(names, n, roles[i].name);
        if (listed && (!g->users || roles[i].can_login)) roles[keep++] = roles[i];
    }
    if (keep == 0 && !g->users) {
        finish_void(r);
        return;
    }
    const hln_type *text = hln_type_by_kind(HLN_T_VARCHAR);
    const hln_type *boolean = hln_type_by_kind(HLN_T_BOOLEAN);
    if (g->users) {
        static const char *const cn[] = {"name", "super", "datacenters"};
        const hln_type *types[] = {text, boolean, text};
        rc = rows_begin(r, "system_auth", "users", cn, types, 3, keep);
    } else {
        static const char *const cn[] = {"role", "super", "login", "options", "datacenters"};
        const hln_type *map = text_map_type(r);
        const hln_type *types[] = {text, boolean, boolean, map, text};
        rc = map ? rows_begin(r, "system_auth", "roles", cn, types, 5, keep)
                 : fail(r, HLN_ESERVER, "no map<text, text> type");
    }
    if (rc) {
        ex_finish(r, rc);
        return;
    }
    static const uint8_t empty_map[4] = {0, 0, 0, 0};
    ex_value *c = r->result.cells;
    for (int i = 0; i < keep; i++) {
        if (g->users) {
            c[0] = v_text(roles[i].name);
            c[1] = v_bool(auth_is_superuser(a, roles[i].name));
            c[2] = v_text("ALL");
            c += 3;
        } else {
            c[0] = v_text(roles[i].name);
            c[1] = v_bool(roles[i].is_superuser);
            c[2] = v_bool(roles[i].can_login);
            c[3] = (ex_value){empty_map, 4};
            c[4] = v_text("ALL");
            c += 5;
        }
    }
    r->result.nrows = keep;
    ex_finish(r, 0);
}

void ex_run_access(ex_request *r)
{
    if (!store(r)) {
        ex_finish(r, fail(r, HLN_ESERVER, "the auth store is not open"));
        return;
    }
    switch (ex_st(r)->stmt->kind) {
    case CQL_CREATE_ROLE:
        create_role(r);
        return;
    case CQL_ALTER_ROLE:
        alter_role(r);
        return;
    case CQL_DROP_ROLE:
        drop_role(r);
        return;
    case CQL_LIST_ROLES:
        list_roles(r);
        return;
    case CQL_GRANT_ROLE:
        grant_role(r, true);
        return;
    case CQL_REVOKE_ROLE:
        grant_role(r, false);
        return;
    case CQL_GRANT_PERMISSIONS:
        grant_permissions(r, true);
        return;
    case CQL_REVOKE_PERMISSIONS:
        grant_permissions(r, false);
        return;
    case CQL_LIST_PERMISSIONS:
        list_permissions(r);
        return;
    default:
        break;
    }
    ex_finish(r, fail(r, HLN_ESERVER, "not a role or permission statement"));
}

/* ---- system_auth tables ------------------------------------------------------ */

typedef ex_vrows vrows;

static void vput(vrows *x, hln_bytes *row, const char *col, ex_value v)
{
    ex_vrow_set(x, row, col, v);
}

/* Partitions in token order (Murmur3 of the key), as Cassandra scans them. */
typedef struct keyed {
    int64_t token;
    const char *key, *ck;
    int idx;
} keyed;

static int keyed_cmp(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    if (a->token != b->token) return a->token < b->token ? -1 : 1;
    int c = strcmp(a->key, b->key);
    if (!c && a->ck && b->ck) c = strcmp(a->ck, b->ck);
    return c;
}

static keyed key_of(const char *key, const char *ck, int idx)
{
    keyed k = {hln_murmur3_token(key, strlen(key)), key, ck, idx};
    return k;
}

int ex_access_virtual_rows(ex_request *r, const hln_table *t, hln_bytes ***rows, int *nrows)
{
    *rows = NULL;
    *nrows = 0;
    hln_auth *a = store(r);
    if (!a) return 0;
    auth_role *roles;
    auth_perm *perms;
    int nr, np;
    if (auth_list_roles(a, &r->arena, &roles, &nr) || auth_list_perms(a, &r->arena, &perms, &np))
        return nomem(r);
    vrows x = {.r = r, .t = t};
    int nk = 0;
    for (int i = 0; i < nr; i++)
        nk += 1 + roles[i].nmember_of;
    keyed *k = hln_arena_alloc(&r->arena, sizeof *k * (size_t)(nk + np + 1));
    if (!k) return nomem(r);
    int n = 0;
    if (!strcmp(t->name, "roles")) {
        for (int i = 0; i < nr; i++)
            k[n++] = key_of(roles[i].name, NULL, i);
        qsort(k, (size_t)n, sizeof *k, keyed_cmp);
        for (int i = 0; i < n; i++) {
            const auth_role *ro = &roles[k[i].idx];
            hln_bytes *row = ex_vrow_new(&x);
            vput(&x, row, "role", v_text(ro->name));
            vput(&x, row, "can_login", v_bool(ro->can_login));
            vput(&x, row, "is_superuser", v_bool(ro->is_superuser));
            vput(&x, row, "member_of", v_set(r, ro->member_of, ro->nmember_of, &x.fail));
            vput(&x, row, "salted_hash", ro->salted_hash ? v_text(ro->salted_hash) : v_null());
        }
    } else if (!strcmp(t->name, "role_members")) {
        /* role -> its members: the inverse of member_of */
        for (int i = 0; i < nr; i++)
            for (int j = 0; j < roles[i].nmember_of; j++)
                k[n++] = key_of(roles[i].member_of[j], roles[i].name, i);
        qsort(k, (size_t)n, sizeof *k, keyed_cmp);
        for (int i = 0; i < n; i++) {
            hln_bytes *row = ex_vrow_new(&x);
            vput(&x, row, "role", v_text(k[i].key));
            vput(&x, row, "member", v_text(k[i].ck));
        }
    } else if (!strcmp(t->name, "role_permissions") ||
               !strcmp(t->name, "resource_role_permissons_index")) {
        bool index = t->name[1] == 'e'; /* resource_... */
        for (int i = 0; i < np; i++)
            k[n++] = index ? key_of(perms[i].resource, perms[i].role, i)
                           : key_of(perms[i].role, perms[i].resource, i);
        qsort(k, (size_t)n, sizeof *k, keyed_cmp);
        for (int i = 0; i < n; i++) {
            const auth_perm *p = &perms[k[i].idx];
            hln_bytes *row = ex_vrow_new(&x);
            vput(&x, row, "role", v_text(p->role));
            vput(&x, row, "resource", v_text(p->resource));
            if (!index) {
                char **pn;
                int c = perm_names(r, p->perms, &pn);
                if (c < 0)
                    x.fail = true;
                else
                    vput(&x, row, "permissions", v_set(r, pn, c, &x.fail));
            }
        }
    } else {
        return fail(r, HLN_ENOTFOUND, "no rows for system_auth.%s", t->name);
    }
    if (x.fail) return nomem(r);
    *rows = x.v;
    *nrows = x.n;
    return 0;
}
