/* modules: common types cql auth */
/*
 * test_auth.c — the system_auth store: permission names and resources,
 * SASL PLAIN parsing, bcrypt against published jBCrypt vectors, logins,
 * roles and grants, persistence across reopen, and a corrupt file; and the
 * grammar of the role and permission statements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "cql/cql.h"

typedef struct fx {
    char dir[512];
    size_t mem0;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    const char *base = getenv("HLN_TEST_TMP");
    if (!base) base = "/tmp";
    char mk[600];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", base);
    if (system(mk) != 0) return -1;
    snprintf(f->dir, sizeof f->dir, "%s/auth-XXXXXX", base);
    if (!mkdtemp(f->dir)) return -1;
    f->mem0 = hln_mem_in_use();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", f->dir);
    assert_int_equal(hln_mem_in_use(), f->mem0);
    free(f);
    return 0;
}

/* A SASL PLAIN token "\0user\0password" (lengths explicit: NULs inside). */
static size_t token(uint8_t *out, const char *authz, const char *user, const char *pw)
{
    size_t n = 0;
    if (authz) {
        memcpy(out, authz, strlen(authz));
        n += strlen(authz);
    }
    out[n++] = 0;
    memcpy(out + n, user, strlen(user));
    n += strlen(user);
    out[n++] = 0;
    memcpy(out + n, pw, strlen(pw));
    return n + strlen(pw);
}

static void test_permissions_and_resources(void **state)
{
    HLN_UNUSED(state);
    assert_string_equal(auth_perm_name(AUTH_P_SELECT), "SELECT");
    assert_string_equal(auth_perm_name(AUTH_P_SELECT_MASKED), "SELECT_MASKED");
    assert_null(auth_perm_name(AUTH_P_SELECT | AUTH_P_MODIFY));
    assert_int_equal(auth_perm_parse("modify"), AUTH_P_MODIFY);
    assert_int_equal(auth_perm_parse("nope"), 0);

    assert_true(auth_applicable("data") & AUTH_P_CREATE);
    assert_true(auth_applicable("data/ks") & AUTH_P_CREATE);
    assert_false(auth_applicable("data/ks/t") & AUTH_P_CREATE);
    assert_true(auth_applicable("data/ks/t") & AUTH_P_SELECT);
    assert_false(auth_applicable("data/ks/t") & AUTH_P_DESCRIBE);
    assert_true(auth_applicable("roles") & AUTH_P_DESCRIBE);
    assert_int_equal(auth_applicable("roles/bob"), AUTH_P_ALTER | AUTH_P_DROP | AUTH_P_AUTHORIZE);
    assert_int_equal(auth_applicable("data/"), 0);
    assert_int_equal(auth_applicable("data/ks/t/x"), 0);
    assert_int_equal(auth_applicable("functions"), 0);

    char b[128];
    auth_resource_display("data", b, sizeof b);
    assert_string_equal(b, "<all keyspaces>");
    auth_resource_display("data/ks", b, sizeof b);
    assert_string_equal(b, "<keyspace ks>");
    auth_resource_display("data/ks/t", b, sizeof b);
    assert_string_equal(b, "<table ks.t>");
    auth_resource_display("roles", b, sizeof b);
    assert_string_equal(b, "<all roles>");
    auth_resource_display("roles/a/b", b, sizeof b);
    assert_string_equal(b, "<role a/b>");

    snprintf(b, sizeof b, "data/ks/t");
    assert_true(auth_resource_parent(b, b, sizeof b));
    assert_string_equal(b, "data/ks");
    assert_true(auth_resource_parent(b, b, sizeof b));
    assert_string_equal(b, "data");
    assert_false(auth_resource_parent(b, b, sizeof b));
    snprintf(b, sizeof b, "roles/a/b");
    assert_true(auth_resource_parent(b, b, sizeof b));
    assert_string_equal(b, "roles");
}

static void test_sasl_plain(void **state)
{
    HLN_UNUSED(state);
    uint8_t t[64];
    char *u, *p;
    hln_error err = {0};
    size_t n = token(t, NULL, "cassandra", "secret");
    assert_int_equal(auth_sasl_plain(t, n, &u, &p, &err), 0);
    assert_string_equal(u, "cassandra");
    assert_string_equal(p, "secret");
    hln_free(u);
    hln_free(p);
    n = token(t, "authz", "bob", "pw");
    assert_int_equal(auth_sasl_plain(t, n, &u, &p, &err), 0);
    assert_string_equal(u, "bob");
    assert_string_equal(p, "pw");
    hln_free(u);
    hln_free(p);

    assert_int_equal(auth_sasl_plain((const uint8_t *)"userpass", 8, &u, &p, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "Password must not be null");
    n = token(t, NULL, "bob", "");
    assert_int_equal(auth_sasl_plain(t, n, &u, &p, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "Password must not be null");
    n = token(t, NULL, "", "pw");
    assert_int_equal(auth_sasl_plain(t, n, &u, &p, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "Authentication ID must not be null");
    assert_int_equal(auth_sasl_plain((const uint8_t *)"\0pw", 3, &u, &p, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "Authentication ID must not be null");
    assert_int_equal(auth_sasl_plain((const uint8_t *)"a\0b\0c\0d", 7, &u, &p, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "Credential format error: username or password is empty or "
                                 "contains NUL(\\0) character");
    assert_int_equal(auth_sasl_plain(t, 0, &u, &p, &err), HLN_EAUTH);
}

static void test_bcrypt(void **state)
{
    HLN_UNUSED(state);
    /* jBCrypt's published test vectors (Cassandra hashes with jBCrypt) */
    assert_true(
        auth_check_password("", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."));
    assert_true(
        auth_check_password("abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"));
    assert_true(
        auth_check_password("abcdefghijklmnopqrstuvwxyz",
                            "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC"));
    assert_true(
        auth_check_password("", "$2a$10$k1wbIrmNyFAPwPVPSVa/zecw2BCEnBwVS2GbrmgzxFUOqW9dk4TCW"));
    assert_false(
        auth_check_password("abd", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"));
    assert_false(auth_check_password("abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu"));
    assert_false(auth_check_password("abc", "plaintext"));
    assert_false(auth_check_password("abc", NULL));

    /* our own hashes: Cassandra's format, cost 10 by default */
    char h[128];
    hln_error err = {0};
    assert_int_equal(auth_hash_password("cassandra", 10, h, sizeof h, &err), 0);
    assert_int_equal(strlen(h), 60);
    assert_memory_equal(h, "$2a$10$", 7);
    assert_true(auth_is_bcrypt_hash(h));
    assert_true(auth_check_password("cassandra", h));
    assert_false(auth_check_password("Cassandra", h));
    char h2[128];
    assert_int_equal(auth_hash_password("cassandra", 4, h2, sizeof h2, &err), 0);
    assert_memory_equal(h2, "$2a$04$", 7);
    assert_string_not_equal(h, h2); /* random salts */
    assert_true(auth_check_password("cassandra", h2));
    assert_false(auth_is_bcrypt_hash("$2a$10$short"));
    assert_false(
        auth_is_bcrypt_hash("$1$10$k1wbIrmNyFAPwPVPSVa/zecw2BCEnBwVS2GbrmgzxFUOqW9dk4TCW"));
}

static void test_default_superuser_and_login(void **state)
{
    fx *f = *state;
    hln_auth *a;
    hln_error err = {0};
    assert_int_equal(auth_open(&a, f->dir, true, 4, &err), 0);
    assert_true(auth_role_exists(a, "cassandra"));
    assert_true(auth_is_superuser(a, "cassandra"));
    uint8_t t[64];
    char *role;
    size_t n = token(t, NULL, "cassandra", "cassandra");
    assert_int_equal(auth_login(a, t, n, &role, &err), 0);
    assert_string_equal(role, "cassandra");
    hln_free(role);
    n = token(t, NULL, "cassandra", "wrong");
    assert_int_equal(auth_login(a, t, n, &role, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "Provided username cassandra and/or password are incorrect");
    n = token(t, NULL, "nobody", "cassandra");
    assert_int_equal(auth_login(a, t, n, &role, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "Provided username nobody and/or password are incorrect");

    /* a role without LOGIN */
    char h[128];
    assert_int_equal(auth_hash_password("pw", 4, h, sizeof h, &err), 0);
    auth_role_opts o = {0, -1, h};
    assert_int_equal(auth_create_role(a, "nologin", &o, false, &err), 0);
    n = token(t, NULL, "nologin", "pw");
    assert_int_equal(auth_login(a, t, n, &role, &err), HLN_EAUTH);
    assert_string_equal(err.msg, "nologin is not permitted to log in");
    auth_close(a);

    /* reopening keeps the roles and does not recreate the default one */
    assert_int_equal(auth_open(&a, f->dir, true, 4, &err), 0);
    assert_true(auth_role_exists(a, "nologin"));
    assert_int_equal(auth_drop_role(a, "cassandra", false, &err), 0);
    auth_close(a);
    assert_int_equal(auth_open(&a, f->dir, true, 4, &err), 0);
    assert_false(auth_role_exists(a, "cassandra")); /* roles exist: no default */
    auth_close(a);
}

static void test_roles_and_grants(void **state)
{
    fx *f = *state;
    hln_auth *a;
    hln_error err = {0};
    assert_int_equal(auth_open(&a, f->dir, false, 4, &err), 0);
    assert_false(auth_role_exists(a, "cassandra"));
    auth_role_opts login = {1, -1, NULL};
    assert_int_equal(auth_create_role(a, "alice", &login, false, &err), 0);
    assert_int_equal(auth_create_role(a, "alice", &login, false, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "alice already exists");
    assert_int_equal(auth_create_role(a, "alice", &login, true, &err), 1);
    auth_role_opts none = {-1, -1, NULL};
    assert_int_equal(auth_create_role(a, "readers", &none, false, &err), 0);
    assert_int_equal(auth_create_role(a, "admins", &none, false, &err), 0);
    assert_int_equal(auth_alter_role(a, "ghost", &none, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "ghost doesn't exist");

    /* permissions on a table, its keyspace, all keyspaces */
    assert_false(auth_has_permission(a, "alice", AUTH_P_SELECT, "data/ks/t"));
    assert_int_equal(auth_grant(a, "alice", "data/ks/t", AUTH_P_SELECT, &err), 0);
    assert_true(auth_has_permission(a, "alice", AUTH_P_SELECT, "data/ks/t"));
    assert_false(auth_has_permission(a, "alice", AUTH_P_SELECT, "data/ks/u"));
    assert_false(auth_has_permission(a, "alice", AUTH_P_MODIFY, "data/ks/t"));
    assert_int_equal(auth_grant(a, "readers", "data/ks", AUTH_P_SELECT | AUTH_P_MODIFY, &err), 0);
    assert_false(auth_has_permission(a, "alice", AUTH_P_MODIFY, "data/ks/t"));
    assert_int_equal(auth_grant(a, "ghost", "data", AUTH_P_SELECT, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Role ghost doesn't exist");

    /* role membership: inherited permissions and superuser status */
    assert_int_equal(auth_grant_role(a, "readers", "alice", &err), 0);
    assert_true(auth_has_permission(a, "alice", AUTH_P_MODIFY, "data/ks/t"));
    assert_int_equal(auth_permissions(a, "alice", "data/ks"), AUTH_P_SELECT | AUTH_P_MODIFY);
    assert_int_equal(auth_grant_role(a, "readers", "alice", &err), HLN_EINVAL);
    assert_string_equal(err.msg, "alice is a member of readers");
    assert_int_equal(auth_grant_role(a, "alice", "readers", &err), HLN_EINVAL);
    assert_string_equal(err.msg, "alice is a member of readers"); /* would be a cycle */
    assert_int_equal(auth_grant_role(a, "admins", "readers", &err), 0);
    assert_int_equal(auth_grant_role(a, "alice", "admins", &err), HLN_EINVAL);
    assert_false(auth_is_superuser(a, "alice"));
    auth_role_opts su = {-1, 1, NULL};
    assert_int_equal(auth_alter_role(a, "admins", &su, &err), 0);
    assert_true(auth_is_superuser(a, "alice")); /* alice -> readers -> admins */
    assert_true(auth_has_permission(a, "alice", AUTH_P_DROP, "data/other"));
    assert_int_equal(auth_permissions(a, "alice", "data/ks/t") & AUTH_P_CREATE, 0);

    hln_arena ar;
    hln_arena_init(&ar, 4096);
    char **v;
    int n;
    assert_int_equal(auth_roles_of(a, "alice", true, true, &ar, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "admins");
    assert_string_equal(v[1], "alice");
    assert_string_equal(v[2], "readers");
    assert_int_equal(auth_roles_of(a, "alice", false, false, &ar, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "readers");

    assert_int_equal(auth_revoke_role(a, "admins", "alice", &err), HLN_EINVAL);
    assert_string_equal(err.msg, "alice is not a member of admins");
    assert_int_equal(auth_revoke_role(a, "readers", "alice", &err), 0);
    assert_false(auth_is_superuser(a, "alice"));
    assert_false(auth_has_permission(a, "alice", AUTH_P_MODIFY, "data/ks/t"));

    /* revoking a bit keeps the others; revoking the last removes the row */
    assert_int_equal(auth_revoke(a, "readers", "data/ks", AUTH_P_MODIFY, &err), 0);
    assert_int_equal(auth_permissions(a, "readers", "data/ks"),
                     AUTH_P_SELECT | AUTH_P_MODIFY | AUTH_P_CREATE | AUTH_P_ALTER | AUTH_P_DROP |
                         AUTH_P_AUTHORIZE | AUTH_P_UNMASK | AUTH_P_SELECT_MASKED);
    assert_int_equal(auth_revoke_role(a, "admins", "readers", &err), 0);
    assert_int_equal(auth_permissions(a, "readers", "data/ks"), AUTH_P_SELECT);
    assert_int_equal(auth_grant(a, "alice", "data/ks", AUTH_P_ALTER, &err), 0);
    assert_int_equal(auth_grant(a, "alice", "roles/readers", AUTH_P_ALTER, &err), 0);

    auth_perm *p;
    assert_int_equal(auth_list_perms(a, &ar, &p, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(p[0].role, "alice");
    assert_string_equal(p[0].resource, "data/ks");
    assert_string_equal(p[1].resource, "data/ks/t");
    assert_string_equal(p[2].resource, "roles/readers");
    assert_string_equal(p[3].role, "readers");

    /* a dropped keyspace takes its tables' grants along */
    assert_int_equal(auth_revoke_all_on(a, "data/ks", true, &err), 0);
    assert_int_equal(auth_list_perms(a, &ar, &p, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(p[0].resource, "roles/readers");
    /* a dropped role takes the grants on it along */
    assert_int_equal(auth_drop_role(a, "readers", false, &err), 0);
    assert_int_equal(auth_list_perms(a, &ar, &p, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(auth_drop_role(a, "readers", true, &err), 1);
    assert_int_equal(auth_drop_role(a, "readers", false, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "readers doesn't exist");

    /* persisted */
    assert_int_equal(auth_grant(a, "alice", "data", AUTH_P_SELECT, &err), 0);
    assert_int_equal(auth_grant_role(a, "admins", "alice", &err), 0);
    auth_close(a);
    assert_int_equal(auth_open(&a, f->dir, false, 4, &err), 0);
    auth_role *r;
    assert_int_equal(auth_list_roles(a, &ar, &r, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].name, "admins");
    assert_true(r[0].is_superuser);
    assert_false(r[0].can_login);
    assert_string_equal(r[1].name, "alice");
    assert_true(r[1].can_login);
    assert_int_equal(r[1].nmember_of, 1);
    assert_string_equal(r[1].member_of[0], "admins");
    assert_true(auth_has_permission(a, "alice", AUTH_P_SELECT, "data/x/y"));
    hln_arena_free(&ar);
    auth_close(a);
}

static void test_corrupt_file(void **state)
{
    fx *f = *state;
    char path[700];
    snprintf(path, sizeof path, "%s/auth", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/auth/auth.json", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"version\": 1, \"roles\": [{\"role\": 3}]}", fp);
    fclose(fp);
    hln_auth *a = NULL;
    hln_error err = {0};
    assert_int_equal(auth_open(&a, f->dir, true, 4, &err), HLN_ECORRUPT);
    assert_null(a);
    fp = fopen(path, "w");
    fputs("{not json", fp);
    fclose(fp);
    assert_int_equal(auth_open(&a, f->dir, true, 4, &err), HLN_ECORRUPT);
}

/* ---- the statements' grammar --------------------------------------------- */

static cql_stmt *parse(hln_arena *a, const char *q)
{
    cql_stmt *s = NULL;
    hln_error err = {0};
    int rc = cql_parse(q, strlen(q), a, &s, &err);
    if (rc) fail_msg("%s: %s", q, err.msg);
    return s;
}

static const char *parse_error(hln_arena *a, const char *q)
{
    static hln_error err;
    cql_stmt *s = NULL;
    memset(&err, 0, sizeof err);
    assert_int_not_equal(cql_parse(q, strlen(q), a, &s, &err), 0);
    return err.msg;
}

static void test_grammar(void **state)
{
    HLN_UNUSED(state);
    hln_arena a;
    hln_arena_init(&a, 4096);
    cql_stmt *s = parse(&a, "CREATE ROLE IF NOT EXISTS Alice WITH PASSWORD = 'p''w' AND LOGIN = "
                            "true AND SUPERUSER = False");
    assert_int_equal(s->kind, CQL_CREATE_ROLE);
    assert_string_equal(s->u.role.name, "alice"); /* identifiers fold */
    assert_true(s->u.role.if_exists);
    assert_string_equal(s->u.role.opts.password, "p'w");
    assert_int_equal(s->u.role.opts.login, 1);
    assert_int_equal(s->u.role.opts.superuser, 0);
    s = parse(&a, "CREATE ROLE 'Mixed Case'");
    assert_string_equal(s->u.role.name, "Mixed Case");
    assert_int_equal(s->u.role.opts.login, -1);
    s = parse(&a, "create role \"Quoted\" with hashed password = "
                  "'$2a$10$k1wbIrmNyFAPwPVPSVa/zecw2BCEnBwVS2GbrmgzxFUOqW9dk4TCW'");
    assert_string_equal(s->u.role.name, "Quoted");
    assert_non_null(s->u.role.opts.hashed_password);
    assert_string_equal(parse_error(&a, "CREATE ROLE r WITH LOGIN = true AND LOGIN = false"),
                        "Multiple definition for property 'LOGIN'");
    s = parse(&a, "ALTER ROLE bob WITH PASSWORD = 'x'");
    assert_int_equal(s->kind, CQL_ALTER_ROLE);
    s = parse(&a, "DROP ROLE IF EXISTS bob;");
    assert_int_equal(s->kind, CQL_DROP_ROLE);
    assert_true(s->u.role.if_exists);

    s = parse(&a, "CREATE USER Dave WITH PASSWORD 'pw' SUPERUSER");
    assert_int_equal(s->kind, CQL_CREATE_ROLE);
    assert_true(s->u.role.user_form);
    assert_string_equal(s->u.role.name, "Dave"); /* USER keeps the case */
    assert_int_equal(s->u.role.opts.login, 1);
    assert_int_equal(s->u.role.opts.superuser, 1);
    s = parse(&a, "ALTER USER dave WITH PASSWORD 'pw2'");
    assert_int_equal(s->u.role.opts.superuser, -1);
    s = parse(&a, "DROP USER IF EXISTS dave");
    assert_int_equal(s->kind, CQL_DROP_ROLE);

    s = parse(&a, "GRANT SELECT ON TABLE ks.t TO alice");
    assert_int_equal(s->kind, CQL_GRANT_PERMISSIONS);
    assert_int_equal(s->u.grant.perms, CQL_PERM_SELECT);
    assert_int_equal(s->u.grant.resource.kind, CQL_RES_TABLE);
    assert_string_equal(s->u.grant.resource.name.ks, "ks");
    assert_string_equal(s->u.grant.resource.name.name, "t");
    assert_string_equal(s->u.grant.grantee, "alice");
    s = parse(&a, "GRANT ALL PERMISSIONS ON KEYSPACE ks TO alice");
    assert_true(s->u.grant.all);
    assert_int_equal(s->u.grant.resource.kind, CQL_RES_KEYSPACE);
    s = parse(&a, "GRANT MODIFY PERMISSION ON t TO alice");
    assert_null(s->u.grant.resource.name.ks);
    s = parse(&a, "REVOKE ALL ON ALL KEYSPACES FROM alice");
    assert_int_equal(s->kind, CQL_REVOKE_PERMISSIONS);
    assert_int_equal(s->u.grant.resource.kind, CQL_RES_ALL_KEYSPACES);
    s = parse(&a, "GRANT DESCRIBE ON ALL ROLES TO alice");
    assert_int_equal(s->u.grant.resource.kind, CQL_RES_ALL_ROLES);
    s = parse(&a, "GRANT AUTHORIZE ON ROLE bob TO alice");
    assert_int_equal(s->u.grant.resource.kind, CQL_RES_ROLE);
    assert_string_equal(s->u.grant.resource.name.name, "bob");
    s = parse(&a, "GRANT readers TO alice");
    assert_int_equal(s->kind, CQL_GRANT_ROLE);
    assert_string_equal(s->u.grant.role, "readers");
    s = parse(&a, "REVOKE readers FROM alice");
    assert_int_equal(s->kind, CQL_REVOKE_ROLE);

    s = parse(&a, "LIST ROLES");
    assert_int_equal(s->kind, CQL_LIST_ROLES);
    assert_null(s->u.grant.grantee);
    assert_true(s->u.grant.recursive);
    s = parse(&a, "LIST ROLES OF alice NORECURSIVE");
    assert_string_equal(s->u.grant.grantee, "alice");
    assert_false(s->u.grant.recursive);
    s = parse(&a, "LIST USERS");
    assert_true(s->u.grant.users);
    s = parse(&a, "LIST ALL PERMISSIONS ON ks.t OF alice");
    assert_int_equal(s->kind, CQL_LIST_PERMISSIONS);
    assert_true(s->u.grant.has_resource);
    assert_string_equal(s->u.grant.grantee, "alice");
    s = parse(&a, "LIST SELECT");
    assert_false(s->u.grant.has_resource);

    /* the new unreserved keywords still work as names */
    s = parse(&a, "SELECT role, login, password, list, options FROM users");
    assert_int_equal(s->kind, CQL_SELECT);
    s = parse(&a, "CREATE TABLE roles (role text PRIMARY KEY, permissions set<text>)");
    assert_int_equal(s->kind, CQL_CREATE_TABLE);
    /* and the reserved ones do not */
    parse_error(&a, "SELECT grant FROM t");
    parse_error(&a, "GRANT SELECT ON KEYSPACE ks TO");
    hln_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permissions_and_resources),
        cmocka_unit_test(test_sasl_plain),
        cmocka_unit_test(test_bcrypt),
        cmocka_unit_test(test_grammar),
        cmocka_unit_test_setup_teardown(test_default_superuser_and_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles_and_grants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
