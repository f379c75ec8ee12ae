/*
 * auth.h — roles, passwords and permissions: the system_auth store.
 *
 * What: the state behind Cassandra's system_auth keyspace (roles with their
 * login and superuser flags, bcrypt password hashes and granted roles;
 * permissions granted to roles on resources), kept in memory and persisted
 * to <data>/auth/auth.json (docs/formats/auth.md). The CQL statements that
 * manage it (CREATE ROLE, GRANT, ...) live in exec/; the native protocol's
 * SASL PLAIN login lives in server/conn.c and calls auth_login here.
 *
 * Why a store of its own rather than tables in the shards' storage: roles
 * and permissions are read on every login and every statement, by every
 * shard, and written rarely. An in-memory copy behind a read-write lock
 * answers a permission check without a cross-shard read, and the file is
 * written like the schema catalog's (temp file, fsync, rename), so a change
 * is durable before the statement that made it returns.
 *
 * Resources are named as Cassandra names them: "data", "data/ks",
 * "data/ks/t" (keyspaces and tables), "roles", "roles/r". Permissions are a
 * bit mask in the order of Cassandra's Permission enum (AUTH_P_* below;
 * cql.h's CQL_PERM_* use the same bits).
 *
 * Thread safety: every function may be called from any thread. Readers
 * take a read lock; writers are serialised by a mutex, write the file, and
 * then swap the new state in under the write lock.
 *
 * bcrypt (auth_hash_password, auth_check_password, auth_login) is slow by
 * design (about 70 ms at cost 10): never call these on a shard's loop
 * thread; use uv_queue_work.
 */
#ifndef HLN_AUTH_H
#define HLN_AUTH_H

#include "common/common.h"

/* Permissions, in Cassandra's Permission enum order (its deprecated READ
 * and WRITE excluded). */
enum {
    AUTH_P_CREATE = 1u << 0,
    AUTH_P_ALTER = 1u << 1,
    AUTH_P_DROP = 1u << 2,
    AUTH_P_SELECT = 1u << 3,
    AUTH_P_MODIFY = 1u << 4,
    AUTH_P_AUTHORIZE = 1u << 5,
    AUTH_P_DESCRIBE = 1u << 6,
    AUTH_P_EXECUTE = 1u << 7,
    AUTH_P_UNMASK = 1u << 8,
    AUTH_P_SELECT_MASKED = 1u << 9,
};
#define AUTH_NPERMS 10
#define AUTH_P_ALL ((1u << AUTH_NPERMS) - 1)

/* "SELECT" for AUTH_P_SELECT (one bit), NULL for anything else. */
const char *auth_perm_name(unsigned perm);
/* The bit for a permission name (any case), 0 if unknown. */
unsigned auth_perm_parse(const char *name);

/* ---- resources ---------------------------------------------------------- */
#define AUTH_RESOURCE_MAX 256 /* enough for "data/<48>/<48>" and "roles/<role>" */

/* The permissions that may be granted on a resource (Cassandra's
 * applicablePermissions), 0 for a malformed name. */
unsigned auth_applicable(const char *resource);
/* Cassandra's printable form: "<all keyspaces>", "<keyspace ks>",
 * "<table ks.t>", "<all roles>", "<role r>". */
void auth_resource_display(const char *resource, char *out, size_t cap);
/* The parent of a resource ("data/ks/t" -> "data/ks" -> "data"); false at a
 * root. out may alias resource. */
bool auth_resource_parent(const char *resource, char *out, size_t cap);

/* ---- the store ------------------------------------------------------------ */
typedef struct hln_auth hln_auth;

typedef struct auth_role {
    char *name;
    bool can_login;
    bool is_superuser;
    char *salted_hash; /* NULL: no password */
    char **member_of;  /* roles granted to this role, sorted */
    int nmember_of;
} auth_role;

typedef struct auth_perm {
    char *role;
    char *resource;
    unsigned perms; /* AUTH_P_* */
} auth_perm;

/* Loads <data_dir>/auth/auth.json (an absent file is an empty store). When
 * default_superuser is set and no role exists, creates Cassandra's default
 * superuser cassandra/cassandra (bcrypt, cost `rounds`) and persists it. */
int auth_open(hln_auth **out, const char *data_dir, bool default_superuser, int rounds,
              hln_error *err);
void auth_close(hln_auth *a);
/* The bcrypt cost for new hashes (4..31). */
int auth_rounds(const hln_auth *a);

/* ---- passwords (slow: see above) ------------------------------------------ */
/* A "$2a$<rounds>$..." bcrypt hash of password into out (cap >= 64). */
int auth_hash_password(const char *password, int rounds, char *out, size_t cap, hln_error *err);
/* Whether password matches hash (a bcrypt hash, $2a$/$2b$/$2y$); false for
 * a malformed hash. */
bool auth_check_password(const char *password, const char *hash);
/* Whether s looks like a bcrypt hash (for HASHED PASSWORD). */
bool auth_is_bcrypt_hash(const char *s);

/* SASL PLAIN ([authzid] NUL authcid NUL password) split as Cassandra does;
 * *user and *password are hln_malloc'd. HLN_EAUTH with Cassandra's message
 * when malformed. */
int auth_sasl_plain(const uint8_t *tok, size_t n, char **user, char **password, hln_error *err);
/* The whole login of a SASL PLAIN token: parse, look the role up, check
 * the password, check LOGIN. On success *role is the hln_malloc'd role
 * name. Failures are HLN_EAUTH: "Provided username U and/or password are
 * incorrect", "U is not permitted to log in", or a format error. */
int auth_login(hln_auth *a, const uint8_t *tok, size_t n, char **role, hln_error *err);

/* ---- queries ------------------------------------------------------------------ */
/* A number that changes whenever roles, memberships or grants change (each
 * committed change increments it). Verdicts computed from the store stay
 * valid while it is unchanged (exec/access.c caches them per prepared plan). */
uint64_t auth_version(const hln_auth *a);
bool auth_role_exists(hln_auth *a, const char *role);
/* Superuser status of the role or of any role granted to it. */
bool auth_is_superuser(hln_auth *a, const char *role);
/* The permissions role holds on exactly this resource (granted to it or to
 * a role granted to it; every applicable one for a superuser). */
unsigned auth_permissions(hln_auth *a, const char *role, const char *resource);
/* Whether role holds perm on resource or any of its parents. */
bool auth_has_permission(hln_auth *a, const char *role, unsigned perm, const char *resource);
/* Copies (into arena memory) every role, sorted by name. */
int auth_list_roles(hln_auth *a, hln_arena *ar, auth_role **out, int *n);
/* Copies every grant, sorted by role then resource. */
int auth_list_perms(hln_auth *a, hln_arena *ar, auth_perm **out, int *n);
/* The roles granted to role (directly, or also transitively), and role
 * itself when include_self; sorted, arena memory. */
int auth_roles_of(hln_auth *a, const char *role, bool recursive, bool include_self, hln_arena *ar,
                  char ***out, int *n);

/* ---- changes (persisted before they return) ---------------------------------- */
typedef struct auth_role_opts {
    int login;               /* -1: unchanged / default false */
    int superuser;           /* -1: unchanged / default false */
    const char *salted_hash; /* NULL: unchanged / none */
} auth_role_opts;

/* 0 created; 1 when it existed and if_not_exists; HLN_EINVAL "R already
 * exists". */
int auth_create_role(hln_auth *a, const char *role, const auth_role_opts *o, bool if_not_exists,
                     hln_error *err);
/* HLN_EINVAL "R doesn't exist". */
int auth_alter_role(hln_auth *a, const char *role, const auth_role_opts *o, hln_error *err);
/* Drops the role, its grants, its memberships and the permissions on it.
 * 0 dropped; 1 absent and if_exists; HLN_EINVAL "R doesn't exist". */
int auth_drop_role(hln_auth *a, const char *role, bool if_exists, hln_error *err);
/* GRANT role TO grantee / REVOKE role FROM grantee, with Cassandra's
 * errors ("G is a member of R", "G is not a member of R"). */
int auth_grant_role(hln_auth *a, const char *role, const char *grantee, hln_error *err);
int auth_revoke_role(hln_auth *a, const char *role, const char *grantee, hln_error *err);
/* Adds / removes permission bits of grantee on resource. */
int auth_grant(hln_auth *a, const char *grantee, const char *resource, unsigned perms,
               hln_error *err);
int auth_revoke(hln_auth *a, const char *grantee, const char *resource, unsigned perms,
                hln_error *err);
/* Removes every grant on resource, and with children also on the resources
 * below it (a dropped keyspace's tables). No-op when there is none. */
int auth_revoke_all_on(hln_auth *a, const char *resource, bool children, hln_error *err);

#endif
