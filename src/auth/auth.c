/*
 * auth.c — the system_auth store: roles, bcrypt passwords, permissions,
 * persisted as <data>/auth/auth.json.
 *
 * What: an in-memory state (roles sorted by name, grants sorted by role
 * then resource) answering logins and permission checks, and the changes
 * the role and permission statements make. Cassandra keeps the same facts
 * in system_auth.roles (role, can_login, is_superuser, member_of,
 * salted_hash), system_auth.role_members and system_auth.role_permissions
 * (role, resource, permissions); exec/ shows them under those names.
 *
 * Why one JSON file: the data is tiny and changes rarely; a file written
 * as the schema catalog writes schema.json (temp file, fsync, rename, fsync
 * of the directory) makes every change atomic and durable before the
 * statement returns, and needs no replay. The format is in
 * docs/formats/auth.md.
 *
 * Concurrency: `cur` is replaced, never modified. Readers hold the read
 * lock while they look at it. A writer takes `wmu` (so writers are
 * serialised and may read `cur` without the read lock), builds a modified
 * copy, writes the file, then swaps the copy in under the write lock and
 * frees the old state: no reader can still hold it.
 *
 * Passwords: bcrypt through libxcrypt's crypt_r, hashes written with the
 * "$2a$" prefix and cost 10 as Cassandra's jBCrypt writes them (so hashes
 * move between Cassandra and Helenus with HASHED PASSWORD); $2b$ and $2y$
 * hashes verify too. Salts come from OpenSSL's RAND_bytes.
 *
 * Invariants:
 *  1. Every string in a state is hln_malloc'd and owned by that state.
 *  2. roles[] is sorted by name (strcmp) with unique names; perms[] is
 *     sorted by (role, resource), unique, and has no zero masks.
 *  3. member_of lists only existing roles and never forms a cycle (grants
 *     that would are refused; dropping a role removes it everywhere).
 */
#include "auth/auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- permissions and resources ----------------------------------------- */

static const char *const PERM_NAMES[AUTH_NPERMS] = {
    "CREATE",    "ALTER",    "DROP",    "SELECT", "MODIFY",
    "AUTHORIZE", "DESCRIBE", "EXECUTE", "UNMASK", "SELECT_MASKED",
};

const char *auth_perm_name(unsigned perm)
{
    for (int i = 0; i < AUTH_NPERMS; i++)
        if (perm == (1u << i)) return PERM_NAMES[i];
    return NULL;
}

unsigned auth_perm_parse(const char *name)
{
    for (int i = 0; i < AUTH_NPERMS; i++)
        if (!strcasecmp(name, PERM_NAMES[i])) return 1u << i;
    return 0;
}

#define DATA_PERMS                                                                                 \
    (AUTH_P_CREATE | AUTH_P_ALTER | AUTH_P_DROP | AUTH_P_SELECT | AUTH_P_MODIFY |                  \
     AUTH_P_AUTHORIZE | AUTH_P_UNMASK | AUTH_P_SELECT_MASKED)
#define TABLE_PERMS (DATA_PERMS & ~AUTH_P_CREATE)
#define ROLES_ROOT_PERMS                                                                           \
    (AUTH_P_CREATE | AUTH_P_ALTER | AUTH_P_DROP | AUTH_P_AUTHORIZE | AUTH_P_DESCRIBE)
#define ROLE_PERMS (AUTH_P_ALTER | AUTH_P_DROP | AUTH_P_AUTHORIZE)

unsigned auth_applicable(const char *r)
{
    if (!strcmp(r, "data")) return DATA_PERMS;
    if (!strncmp(r, "data/", 5)) {
        const char *ks = r + 5, *slash = strchr(ks, '/');
        if (!*ks || slash == ks) return 0;
        if (!slash) return DATA_PERMS;
        if (!slash[1] || strchr(slash + 1, '/')) return 0;
        return TABLE_PERMS;
    }
    if (!strcmp(r, "roles")) return ROLES_ROOT_PERMS;
    if (!strncmp(r, "roles/", 6) && r[6]) return ROLE_PERMS;
    return 0;
}

void auth_resource_display(const char *r, char *out, size_t cap)
{
    if (!strcmp(r, "data")) {
        snprintf(out, cap, "<all keyspaces>");
    } else if (!strncmp(r, "data/", 5)) {
        const char *ks = r + 5, *slash = strchr(ks, '/');
        if (slash)
            snprintf(out, cap, "<table %.*s.%s>", (int)(slash - ks), ks, slash + 1);
        else
            snprintf(out, cap, "<keyspace %s>", ks);
    } else if (!strcmp(r, "roles")) {
        snprintf(out, cap, "<all roles>");
    } else if (!strncmp(r, "roles/", 6)) {
        snprintf(out, cap, "<role %s>", r + 6);
    } else {
        snprintf(out, cap, "<%s>", r);
    }
}

bool auth_resource_parent(const char *r, char *out, size_t cap)
{
    size_t cut;
    if (!strncmp(r, "roles/", 6)) {
        cut = 5;
    } else if (!strncmp(r, "data/", 5)) {
        const char *last = strrchr(r, '/');
        cut = (size_t)(last - r);
    } else {
        return false;
    }
    if (cut >= cap) return false;
    memmove(out, r, cut);
    out[cut] = 0;
    return true;
}

/* ---- state ---------------------------------------------------------------- */

typedef struct state {
    auth_role *roles;
    int nroles;
    auth_perm *perms;
    int nperms;
} state;

struct hln_auth {
    pthread_rwlock_t lock; /* readers of cur; the writer's swap */
    pthread_mutex_t wmu;   /* serialises writers */
    state *cur;
    char dir[1100];
    char path[1200];
    char tmp[1210];
    int rounds;
    _Atomic uint64_t version; /* bumped by every commit (auth_version) */
};

static void role_free(auth_role *r)
{
    hln_free(r->name);
    hln_free(r->salted_hash);
    for (int i = 0; i < r->nmember_of; i++)
        hln_free(r->member_of[i]);
    hln_free(r->member_of);
}

static void state_free(state *s)
{
    if (!s) return;
    for (int i = 0; i < s->nroles; i++)
        role_free(&s->roles[i]);
    for (int i = 0; i < s->nperms; i++) {
        hln_free(s->perms[i].role);
        hln_free(s->perms[i].resource);
    }
    hln_free(s->roles);
    hln_free(s->perms);
    hln_free(s);
}

/* strdup that keeps NULL; *fail set on ENOMEM */
static char *dup_or_null(const char *s, bool *fail)
{
    if (!s) return NULL;
    char *d = hln_strdup(s);
    if (!d) *fail = true;
    return d;
}

static state *state_copy(const state *s)
{
    state *n = hln_calloc(1, sizeof *n);
    if (!n) return NULL;
    bool fail = false;
    if (s->nroles) {
        n->roles = hln_calloc((size_t)s->nroles, sizeof *n->roles);
        if (!n->roles) fail = true;
    }
    for (int i = 0; i < s->nroles && !fail; i++) {
        const auth_role *o = &s->roles[i];
        auth_role *r = &n->roles[n->nroles++];
        r->can_login = o->can_login;
        r->is_superuser = o->is_superuser;
        r->name = dup_or_null(o->name, &fail);
        r->salted_hash = dup_or_null(o->salted_hash, &fail);
        if (o->nmember_of) {
            r->member_of = hln_calloc((size_t)o->nmember_of, sizeof *r->member_of);
            if (!r->member_of) {
                fail = true;
                break;
            }
            for (int j = 0; j < o->nmember_of; j++) {
                r->member_of[j] = dup_or_null(o->member_of[j], &fail);
                r->nmember_of++;
            }
        }
    }
    if (s->nperms && !fail) {
        n->perms = hln_calloc((size_t)s->nperms, sizeof *n->perms);
        if (!n->perms) fail = true;
    }
    for (int i = 0; i < s->nperms && !fail; i++) {
        auth_perm *p = &n->perms[n->nperms++];
        p->perms = s->perms[i].perms;
        p->role = dup_or_null(s->perms[i].role, &fail);
        p->resource = dup_or_null(s->perms[i].resource, &fail);
    }
    if (fail) {
        state_free(n);
        return NULL;
    }
    return n;
}

static int find_role(const state *s, const char *name)
{
    int lo = 0, hi = s->nroles - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(name, s->roles[mid].name);
        if (!c) return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

static int perm_cmp(const char *ra, const char *resa, const char *rb, const char *resb)
{
    int c = strcmp(ra, rb);
    return c ? c : strcmp(resa, resb);
}

/* Index of (role, resource), or -(insertion point) - 1. */
static int find_perm(const state *s, const char *role, const char *resource)
{
    int lo = 0, hi = s->nperms - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = perm_cmp(role, resource, s->perms[mid].role, s->perms[mid].resource);
        if (!c) return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -lo - 1;
}

static bool has_member_of(const auth_role *r, const char *name)
{
    for (int i = 0; i < r->nmember_of; i++)
        if (!strcmp(r->member_of[i], name)) return true;
    return false;
}

/* A growable list of role names (pointers into a state). */
typedef struct names {
    const char **v;
    int n, cap;
    bool fail;
} names;

static bool names_has(const names *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s)) return true;
    return false;
}

static void names_add(names *l, const char *s)
{
    if (l->fail || names_has(l, s)) return;
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 8;
        const char **nv = hln_realloc(l->v, sizeof *nv * (size_t)ncap);
        if (!nv) {
            l->fail = true;
            return;
        }
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = s;
}

/* Collects the roles granted to `role` (transitively when recursive). */
static void collect_roles(const state *s, const char *role, bool recursive, names *out)
{
    int i = find_role(s, role);
    if (i < 0) return;
    const auth_role *r = &s->roles[i];
    for (int j = 0; j < r->nmember_of; j++) {
        if (names_has(out, r->member_of[j])) continue;
        names_add(out, r->member_of[j]);
        if (recursive) collect_roles(s, r->member_of[j], true, out);
    }
}

/* ---- persistence ---------------------------------------------------------- */

static json_t *state_to_json(const state *s)
{
    json_t *root = json_object(), *roles = json_array(), *perms = json_array();
    if (!root || !roles || !perms) goto fail;
    json_object_set_new(root, "version", json_integer(1));
    for (int i = 0; i < s->nroles; i++) {
        const auth_role *r = &s->roles[i];
        json_t *o = json_object(), *m = json_array();
        if (!o || !m) {
            json_decref(o);
            json_decref(m);
            goto fail;
        }
        json_object_set_new(o, "role", json_string(r->name));
        json_object_set_new(o, "can_login", json_boolean(r->can_login));
        json_object_set_new(o, "is_superuser", json_boolean(r->is_superuser));
        json_object_set_new(o, "salted_hash",
                            r->salted_hash ? json_string(r->salted_hash) : json_null());
        for (int j = 0; j < r->nmember_of; j++)
            json_array_append_new(m, json_string(r->member_of[j]));
        json_object_set_new(o, "member_of", m);
        json_array_append_new(roles, o);
    }
    for (int i = 0; i < s->nperms; i++) {
        const auth_perm *p = &s->perms[i];
        json_t *o = json_object(), *l = json_array();
        if (!o || !l) {
            json_decref(o);
            json_decref(l);
            goto fail;
        }
        json_object_set_new(o, "role", json_string(p->role));
        json_object_set_new(o, "resource", json_string(p->resource));
        for (int b = 0; b < AUTH_NPERMS; b++)
            if (p->perms & (1u << b)) json_array_append_new(l, json_string(PERM_NAMES[b]));
        json_object_set_new(o, "permissions", l);
        json_array_append_new(perms, o);
    }
    json_object_set_new(root, "roles", roles);
    json_object_set_new(root, "role_permissions", perms);
    return root;
fail:
    json_decref(root);
    json_decref(roles);
    json_decref(perms);
    return NULL;
}

static int persist(hln_auth *a, const state *s, hln_error *err)
{
    json_t *root = state_to_json(s);
    if (!root) return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", a->path);
    size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER;
    size_t len = json_dumpb(root, NULL, 0, flags);
    char *text = len ? hln_malloc(len + 1) : NULL;
    if (!text || json_dumpb(root, text, len, flags) != len) {
        json_decref(root);
        hln_free(text);
        return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", a->path);
    }
    json_decref(root);
    text[len++] = '\n';
    int rc = hln_write_file_durably(a->path, text, len, 0600, err);
    hln_free(text);
    return rc;
}

static int role_cmp(const void *x, const void *y)
{
    return strcmp(((const auth_role *)x)->name, ((const auth_role *)y)->name);
}

static int perm_sort_cmp(const void *x, const void *y)
{
    const auth_perm *a = x, *b = y;
    return perm_cmp(a->role, a->resource, b->role, b->resource);
}

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int load(hln_auth *a, state *s, hln_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(a->path, 0, &je);
    if (!root) {
        if (access(a->path, F_OK) && errno == ENOENT) return 0; /* a new store */
        return hln_corrupt(err, a->path, "line %d: %s", je.line, je.text);
    }
    int rc = 0;
    json_t *roles = json_object_get(root, "roles"),
           *perms = json_object_get(root, "role_permissions");
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        rc = hln_corrupt(err, a->path, "unknown version");
        goto out;
    }
    if ((roles && !json_is_array(roles)) || (perms && !json_is_array(perms))) {
        rc = hln_corrupt(err, a->path, "roles and role_permissions must be arrays");
        goto out;
    }
    size_t nr = roles ? json_array_size(roles) : 0, np = perms ? json_array_size(perms) : 0;
    if (nr) s->roles = hln_calloc(nr, sizeof *s->roles);
    if (np) s->perms = hln_calloc(np, sizeof *s->perms);
    if ((nr && !s->roles) || (np && !s->perms)) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory reading %s", a->path);
        goto out;
    }
    for (size_t i = 0; i < nr && !rc; i++) {
        json_t *o = json_array_get(roles, i);
        const char *name = json_is_object(o) ? jstr(o, "role") : NULL;
        json_t *hash = json_is_object(o) ? json_object_get(o, "salted_hash") : NULL;
        json_t *m = json_is_object(o) ? json_object_get(o, "member_of") : NULL;
        if (!name || (hash && !json_is_string(hash) && !json_is_null(hash)) ||
            (m && !json_is_array(m))) {
            rc = hln_corrupt(err, a->path, "malformed role #%zu", i + 1);
            break;
        }
        auth_role *r = &s->roles[s->nroles++];
        bool fail = false;
        r->name = dup_or_null(name, &fail);
        r->can_login = json_is_true(json_object_get(o, "can_login"));
        r->is_superuser = json_is_true(json_object_get(o, "is_superuser"));
        r->salted_hash = json_is_string(hash) ? dup_or_null(json_string_value(hash), &fail) : NULL;
        size_t nm = m ? json_array_size(m) : 0;
        if (nm && !(r->member_of = hln_calloc(nm, sizeof *r->member_of))) fail = true;
        for (size_t j = 0; j < nm && !fail; j++) {
            json_t *e = json_array_get(m, j);
            if (!json_is_string(e)) {
                rc = hln_corrupt(err, a->path, "malformed member_of of role %s", name);
                break;
            }
            r->member_of[r->nmember_of++] = dup_or_null(json_string_value(e), &fail);
        }
        if (fail && !rc) rc = hln_fail(err, HLN_ENOMEM, "out of memory reading %s", a->path);
        if (!rc && r->nmember_of > 1)
            qsort(r->member_of, (size_t)r->nmember_of, sizeof *r->member_of, str_cmp);
    }
    for (size_t i = 0; i < np && !rc; i++) {
        json_t *o = json_array_get(perms, i);
        const char *role = json_is_object(o) ? jstr(o, "role") : NULL;
        const char *res = json_is_object(o) ? jstr(o, "resource") : NULL;
        json_t *l = json_is_object(o) ? json_object_get(o, "permissions") : NULL;
        if (!role || !res || !json_is_array(l) || !auth_applicable(res)) {
            rc = hln_corrupt(err, a->path, "malformed permission entry #%zu", i + 1);
            break;
        }
        unsigned mask = 0;
        for (size_t j = 0; j < json_array_size(l); j++) {
            json_t *e = json_array_get(l, j);
            unsigned b = json_is_string(e) ? auth_perm_parse(json_string_value(e)) : 0;
            if (!b) {
                rc = hln_corrupt(err, a->path, "unknown permission in entry #%zu", i + 1);
                break;
            }
            mask |= b;
        }
        if (rc || !mask) continue;
        auth_perm *p = &s->perms[s->nperms++];
        bool fail = false;
        p->role = dup_or_null(role, &fail);
        p->resource = dup_or_null(res, &fail);
        p->perms = mask;
        if (fail) rc = hln_fail(err, HLN_ENOMEM, "out of memory reading %s", a->path);
    }
    if (!rc) {
        if (s->nroles > 1) qsort(s->roles, (size_t)s->nroles, sizeof *s->roles, role_cmp);
        if (s->nperms > 1) qsort(s->perms, (size_t)s->nperms, sizeof *s->perms, perm_sort_cmp);
        for (int i = 1; i < s->nroles && !rc; i++)
            if (!strcmp(s->roles[i - 1].name, s->roles[i].name))
                rc = hln_corrupt(err, a->path, "role %s appears twice", s->roles[i].name);
        for (int i = 1; i < s->nperms && !rc; i++)
            if (!perm_sort_cmp(&s->perms[i - 1], &s->perms[i]))
                rc = hln_corrupt(err, a->path, "permissions of %s on %s appear twice",
                                 s->perms[i].role, s->perms[i].resource);
    }
out:
    json_decref(root);
    return rc;
}

/* ---- open / close ------------------------------------------------------- */

static int mkdir_one(const char *d, hln_error *err)
{
    if (mkdir(d, 0700) && errno != EEXIST)
        return hln_fail(err, HLN_EIO, "cannot create directory %s: %s", d, strerror(errno));
    return 0;
}

/* Applies `s` as the new state: persists it, swaps it in, frees the old.
 * Called with wmu held. On failure s is freed and the state unchanged. */
static int commit(hln_auth *a, state *s, hln_error *err)
{
    int rc = persist(a, s, err);
    if (rc) {
        state_free(s);
        return rc;
    }
    pthread_rwlock_wrlock(&a->lock);
    state *old = a->cur;
    a->cur = s;
    atomic_fetch_add(&a->version, 1); /* under the lock: readers of the new state see it */
    pthread_rwlock_unlock(&a->lock);
    state_free(old);
    return 0;
}

uint64_t auth_version(const hln_auth *a)
{
    return a ? atomic_load(&((hln_auth *)a)->version) : 0;
}

int auth_open(hln_auth **out, const char *data_dir, bool default_superuser, int rounds,
              hln_error *err)
{
    *out = NULL;
    hln_auth *a = hln_calloc(1, sizeof *a);
    if (!a) return hln_fail(err, HLN_ENOMEM, "out of memory opening the auth store");
    if (rounds < 4 || rounds > 31) rounds = 10;
    a->rounds = rounds;
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->wmu, NULL);
    int rc = 0;
    if ((size_t)snprintf(a->dir, sizeof a->dir, "%s/auth", data_dir) >= sizeof a->dir)
        rc = hln_fail(err, HLN_ECONFIG, "data directory path too long: %s", data_dir);
    snprintf(a->path, sizeof a->path, "%s/auth.json", a->dir);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp", a->path);
    if (!rc) rc = mkdir_one(a->dir, err);
    if (!rc) {
        unlink(a->tmp); /* an interrupted write: the rename never happened */
        a->cur = hln_calloc(1, sizeof *a->cur);
        if (!a->cur) rc = hln_fail(err, HLN_ENOMEM, "out of memory opening the auth store");
    }
    if (!rc) rc = load(a, a->cur, err);
    if (!rc && default_superuser && a->cur->nroles == 0) {
        char hash[128];
        rc = auth_hash_password("cassandra", rounds, hash, sizeof hash, err);
        auth_role_opts o = {1, 1, hash};
        if (!rc) rc = auth_create_role(a, "cassandra", &o, true, err);
        if (!rc) HLN_INFO("Created default superuser role 'cassandra'");
    }
    if (rc) {
        auth_close(a);
        return rc;
    }
    HLN_DEBUG("auth store %s: %d role(s), %d grant(s)", a->path, a->cur->nroles, a->cur->nperms);
    *out = a;
    return 0;
}

void auth_close(hln_auth *a)
{
    if (!a) return;
    state_free(a->cur);
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->wmu);
    hln_free(a);
}

int auth_rounds(const hln_auth *a)
{
    return a->rounds;
}

/* ---- bcrypt --------------------------------------------------------------- */

bool auth_is_bcrypt_hash(const char *s)
{
    /* $2a$NN$ + 53 characters of [./A-Za-z0-9] */
    if (strlen(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$') return false;
    if (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') return false;
    if (s[4] < '0' || s[4] > '3' || s[5] < '0' || s[5] > '9') return false;
    for (int i = 7; i < 60; i++) {
        char c = s[i];
        bool ok = c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

int auth_hash_password(const char *password, int rounds, char *out, size_t cap, hln_error *err)
{
    unsigned char rnd[16];
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return hln_fail(err, HLN_ESERVER, "cannot get random bytes for a password salt");
    if (!crypt_gensalt_rn("$2a$", (unsigned long)rounds, (const char *)rnd, (int)sizeof rnd, salt,
                          (int)sizeof salt))
        return hln_fail(err, HLN_ESERVER, "cannot make a bcrypt salt: %s", strerror(errno));
    struct crypt_data *cd = hln_calloc(1, sizeof *cd);
    if (!cd) return hln_fail(err, HLN_ENOMEM, "out of memory hashing a password");
    const char *h = crypt_r(password, salt, cd);
    int rc = 0;
    if (!h || h[0] != '$' || strlen(h) >= cap)
        rc = hln_fail(err, HLN_ESERVER, "bcrypt failed");
    else
        memcpy(out, h, strlen(h) + 1);
    OPENSSL_cleanse(cd, sizeof *cd);
    hln_free(cd);
    return rc;
}

bool auth_check_password(const char *password, const char *hash)
{
    if (!hash || !auth_is_bcrypt_hash(hash)) {
        if (hash) HLN_WARN("invalid password hash encountered, rejecting user");
        return false;
    }
    struct crypt_data *cd = hln_calloc(1, sizeof *cd);
    if (!cd) return false;
    const char *h = crypt_r(password, hash, cd);
    bool ok = h && strlen(h) == 60 && CRYPTO_memcmp(h, hash, 60) == 0;
    OPENSSL_cleanse(cd, sizeof *cd);
    hln_free(cd);
    return ok;
}

/* ---- login ---------------------------------------------------------------- */

int auth_sasl_plain(const uint8_t *tok, size_t n, char **user, char **password, hln_error *err)
{
    *user = *password = NULL;
    const uint8_t *u = NULL, *p = NULL;
    size_t ulen = 0, plen = 0, end = n;
    /* from the end, as Cassandra's PlainTextSaslAuthenticator: the password
     * follows the last NUL, the user the one before; a third NUL is an
     * error (the optional authzid before the first NUL is ignored) */
    for (size_t i = n; i-- > 0;) {
        if (tok[i] != 0) continue;
        if (!p) {
            p = tok + i + 1;
            plen = end - i - 1;
        } else if (!u) {
            u = tok + i + 1;
            ulen = end - i - 1;
        } else {
            return hln_fail(err, HLN_EAUTH,
                            "Credential format error: username or password is empty or contains "
                            "NUL(\\0) character");
        }
        end = i;
    }
    if (!p || plen == 0) return hln_fail(err, HLN_EAUTH, "Password must not be null");
    if (!u || ulen == 0) return hln_fail(err, HLN_EAUTH, "Authentication ID must not be null");
    *user = hln_malloc(ulen + 1);
    *password = hln_malloc(plen + 1);
    if (!*user || !*password) {
        hln_free(*user);
        hln_free(*password);
        *user = *password = NULL;
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    memcpy(*user, u, ulen);
    (*user)[ulen] = 0;
    memcpy(*password, p, plen);
    (*password)[plen] = 0;
    return 0;
}

int auth_login(hln_auth *a, const uint8_t *tok, size_t n, char **role, hln_error *err)
{
    *role = NULL;
    char *user, *password;
    int rc = auth_sasl_plain(tok, n, &user, &password, err);
    if (rc) return rc;
    /* copy what is needed out of the lock: bcrypt is slow */
    char hash[128] = "";
    bool found = false, can_login = false;
    pthread_rwlock_rdlock(&a->lock);
    int i = find_role(a->cur, user);
    if (i >= 0) {
        const auth_role *r = &a->cur->roles[i];
        found = r->salted_hash && strlen(r->salted_hash) < sizeof hash;
        if (found) snprintf(hash, sizeof hash, "%s", r->salted_hash);
        can_login = r->can_login;
    }
    pthread_rwlock_unlock(&a->lock);
    if (!found || !auth_check_password(password, hash))
        rc = hln_fail(err, HLN_EAUTH, "Provided username %s and/or password are incorrect", user);
    else if (!can_login)
        rc = hln_fail(err, HLN_EAUTH, "%s is not permitted to log in", user);
    OPENSSL_cleanse(password, strlen(password));
    hln_free(password);
    if (rc)
        hln_free(user);
    else
        *role = user;
    return rc;
}

/* ---- queries ---------------------------------------------------------------- */

bool auth_role_exists(hln_auth *a, const char *role)
{
    pthread_rwlock_rdlock(&a->lock);
    bool found = find_role(a->cur, role) >= 0;
    pthread_rwlock_unlock(&a->lock);
    return found;
}

/* With the read lock held: role and every role granted to it. */
static bool all_roles(const state *s, const char *role, names *l)
{
    names_add(l, role);
    collect_roles(s, role, true, l);
    return !l->fail;
}

static bool is_super_locked(const state *s, const char *role)
{
    names l = {0};
    all_roles(s, role, &l);
    bool super = false;
    for (int i = 0; i < l.n && !super; i++) {
        int k = find_role(s, l.v[i]);
        super = k >= 0 && s->roles[k].is_superuser;
    }
    hln_free(l.v);
    return super;
}

bool auth_is_superuser(hln_auth *a, const char *role)
{
    pthread_rwlock_rdlock(&a->lock);
    bool super = is_super_locked(a->cur, role);
    pthread_rwlock_unlock(&a->lock);
    return super;
}

static unsigned perms_locked(const state *s, const names *roles, const char *resource)
{
    unsigned m = 0;
    for (int i = 0; i < roles->n; i++) {
        int k = find_perm(s, roles->v[i], resource);
        if (k >= 0) m |= s->perms[k].perms;
    }
    return m;
}

unsigned auth_permissions(hln_auth *a, const char *role, const char *resource)
{
    pthread_rwlock_rdlock(&a->lock);
    unsigned m;
    if (find_role(a->cur, role) < 0) {
        m = 0;
    } else if (is_super_locked(a->cur, role)) {
        m = auth_applicable(resource);
    } else {
        names l = {0};
        all_roles(a->cur, role, &l);
        m = perms_locked(a->cur, &l, resource);
        hln_free(l.v);
    }
    pthread_rwlock_unlock(&a->lock);
    return m;
}

bool auth_has_permission(hln_auth *a, const char *role, unsigned perm, const char *resource)
{
    size_t cap = strlen(resource) + 1;
    char *r = hln_malloc(cap);
    if (!r) return false;
    memcpy(r, resource, cap);
    pthread_rwlock_rdlock(&a->lock);
    bool ok = false;
    if (find_role(a->cur, role) >= 0) {
        if (is_super_locked(a->cur, role)) {
            ok = (auth_applicable(r) & perm) != 0;
        } else {
            names l = {0};
            all_roles(a->cur, role, &l);
            do {
                ok = (perms_locked(a->cur, &l, r) & perm) != 0;
            } while (!ok && auth_resource_parent(r, r, cap));
            hln_free(l.v);
        }
    }
    pthread_rwlock_unlock(&a->lock);
    hln_free(r);
    return ok;
}

static char *adup(hln_arena *ar, const char *s, bool *fail)
{
    if (!s) return NULL;
    char *d = hln_arena_strdup(ar, s);
    if (!d) *fail = true;
    return d;
}

int auth_list_roles(hln_auth *a, hln_arena *ar, auth_role **out, int *n)
{
    bool fail = false;
    pthread_rwlock_rdlock(&a->lock);
    const state *s = a->cur;
    auth_role *v = hln_arena_alloc(ar, sizeof *v * (size_t)(s->nroles ? s->nroles : 1));
    if (!v) fail = true;
    for (int i = 0; i < s->nroles && !fail; i++) {
        const auth_role *o = &s->roles[i];
        auth_role *r = &v[i];
        r->name = adup(ar, o->name, &fail);
        r->can_login = o->can_login;
        r->is_superuser = o->is_superuser;
        r->salted_hash = adup(ar, o->salted_hash, &fail);
        r->nmember_of = o->nmember_of;
        r->member_of = hln_arena_alloc(ar, sizeof(char *) * (size_t)(o->nmember_of + 1));
        if (!r->member_of) fail = true;
        for (int j = 0; j < o->nmember_of && !fail; j++)
            r->member_of[j] = adup(ar, o->member_of[j], &fail);
    }
    *out = v;
    *n = s->nroles;
    pthread_rwlock_unlock(&a->lock);
    return fail ? HLN_ENOMEM : 0;
}

int auth_list_perms(hln_auth *a, hln_arena *ar, auth_perm **out, int *n)
{
    bool fail = false;
    pthread_rwlock_rdlock(&a->lock);
    const state *s = a->cur;
    auth_perm *v = hln_arena_alloc(ar, sizeof *v * (size_t)(s->nperms ? s->nperms : 1));
    if (!v) fail = true;
    for (int i = 0; i < s->nperms && !fail; i++) {
        v[i].role = adup(ar, s->perms[i].role, &fail);
        v[i].resource = adup(ar, s->perms[i].resource, &fail);
        v[i].perms = s->perms[i].perms;
    }
    *out = v;
    *n = s->nperms;
    pthread_rwlock_unlock(&a->lock);
    return fail ? HLN_ENOMEM : 0;
}

int auth_roles_of(hln_auth *a, const char *role, bool recursive, bool include_self, hln_arena *ar,
                  char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    names l = {0};
    bool fail = false;
    pthread_rwlock_rdlock(&a->lock);
    if (find_role(a->cur, role) >= 0) {
        if (include_self) names_add(&l, role);
        collect_roles(a->cur, role, recursive, &l);
    }
    char **v = hln_arena_alloc(ar, sizeof *v * (size_t)(l.n + 1));
    if (!v || l.fail) fail = true;
    for (int i = 0; i < l.n && !fail; i++)
        v[i] = adup(ar, l.v[i], &fail);
    pthread_rwlock_unlock(&a->lock);
    hln_free(l.v);
    if (fail) return HLN_ENOMEM;
    qsort(v, (size_t)l.n, sizeof *v, str_cmp);
    *out = v;
    *n = l.n;
    return 0;
}

/* ---- changes ------------------------------------------------------------------ */

/* Starts a change: takes wmu and returns a copy of the current state. */
static state *begin(hln_auth *a, hln_error *err)
{
    pthread_mutex_lock(&a->wmu);
    state *s = state_copy(a->cur);
    if (!s) {
        pthread_mutex_unlock(&a->wmu);
        hln_fail(err, HLN_ENOMEM, "out of memory changing roles");
    }
    return s;
}

/* Ends a change: commits s when rc is 0 (and changed), else discards it. */
static int end(hln_auth *a, state *s, int rc, bool changed, hln_error *err)
{
    if (rc == 0 && changed)
        rc = commit(a, s, err);
    else
        state_free(s);
    pthread_mutex_unlock(&a->wmu);
    return rc;
}

static int apply_opts(auth_role *r, const auth_role_opts *o)
{
    if (o->login >= 0) r->can_login = o->login != 0;
    if (o->superuser >= 0) r->is_superuser = o->superuser != 0;
    if (o->salted_hash) {
        char *h = hln_strdup(o->salted_hash);
        if (!h) return HLN_ENOMEM;
        hln_free(r->salted_hash);
        r->salted_hash = h;
    }
    return 0;
}

int auth_create_role(hln_auth *a, const char *role, const auth_role_opts *o, bool if_not_exists,
                     hln_error *err)
{
    state *s = begin(a, err);
    if (!s) return HLN_ENOMEM;
    int rc = 0;
    bool changed = false;
    if (find_role(s, role) >= 0) {
        rc = if_not_exists ? 1 : hln_fail(err, HLN_EINVAL, "%s already exists", role);
    } else {
        auth_role *nv = hln_realloc(s->roles, sizeof *nv * (size_t)(s->nroles + 1));
        if (!nv) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        } else {
            s->roles = nv;
            auth_role r = {0};
            r.name = hln_strdup(role);
            if (!r.name || apply_opts(&r, o)) {
                role_free(&r);
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            } else {
                int at = 0;
                while (at < s->nroles && strcmp(s->roles[at].name, role) < 0)
                    at++;
                memmove(&s->roles[at + 1], &s->roles[at], sizeof r * (size_t)(s->nroles - at));
                s->roles[at] = r;
                s->nroles++;
                changed = true;
            }
        }
    }
    int erc = end(a, s, rc < 0 ? rc : 0, changed, err);
    return erc ? erc : rc;
}

int auth_alter_role(hln_auth *a, const char *role, const auth_role_opts *o, hln_error *err)
{
    state *s = begin(a, err);
    if (!s) return HLN_ENOMEM;
    int i = find_role(s, role), rc = 0;
    if (i < 0)
        rc = hln_fail(err, HLN_EINVAL, "%s doesn't exist", role);
    else if (apply_opts(&s->roles[i], o))
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    return end(a, s, rc, true, err);
}

/* Removes permission entries matching pred; returns how many. */
static int remove_perms(state *s, bool (*pred)(const auth_perm *p, const void *ud), const void *ud)
{
    int w = 0, removed = 0;
    for (int i = 0; i < s->nperms; i++) {
        if (pred(&s->perms[i], ud)) {
            hln_free(s->perms[i].role);
            hln_free(s->perms[i].resource);
            removed++;
        } else {
            s->perms[w++] = s->perms[i];
        }
    }
    s->nperms = w;
    return removed;
}

static bool perm_of_role(const auth_perm *p, const void *ud)
{
    const char *const *x = ud; /* role, resource "roles/<role>" */
    return !strcmp(p->role, x[0]) || !strcmp(p->resource, x[1]);
}

static void remove_member_of(auth_role *r, const char *name)
{
    int w = 0;
    for (int j = 0; j < r->nmember_of; j++) {
        if (!strcmp(r->member_of[j], name))
            hln_free(r->member_of[j]);
        else
            r->member_of[w++] = r->member_of[j];
    }
    r->nmember_of = w;
}

int auth_drop_role(hln_auth *a, const char *role, bool if_exists, hln_error *err)
{
    state *s = begin(a, err);
    if (!s) return HLN_ENOMEM;
    int i = find_role(s, role), rc = 0;
    bool changed = false;
    if (i < 0) {
        rc = if_exists ? 1 : hln_fail(err, HLN_EINVAL, "%s doesn't exist", role);
    } else {
        size_t rl = strlen(role) + 7;
        char *res = hln_malloc(rl);
        if (!res) return end(a, s, hln_fail(err, HLN_ENOMEM, "out of memory"), false, err);
        snprintf(res, rl, "roles/%s", role);
        const char *x[2] = {role, res};
        remove_perms(s, perm_of_role, x);
        hln_free(res);
        for (int k = 0; k < s->nroles; k++)
            if (k != i) remove_member_of(&s->roles[k], role);
        role_free(&s->roles[i]);
        memmove(&s->roles[i], &s->roles[i + 1], sizeof *s->roles * (size_t)(s->nroles - i - 1));
        s->nroles--;
        changed = true;
    }
    int erc = end(a, s, rc < 0 ? rc : 0, changed, err);
    return erc ? erc : rc;
}

static bool in_roles_of(const state *s, const char *role, const char *what)
{
    names l = {0};
    collect_roles(s, role, true, &l);
    bool found = names_has(&l, what);
    hln_free(l.v);
    return found;
}

int auth_grant_role(hln_auth *a, const char *role, const char *grantee, hln_error *err)
{
    state *s = begin(a, err);
    if (!s) return HLN_ENOMEM;
    int rc = 0, gi = find_role(s, grantee);
    if (find_role(s, role) < 0)
        rc = hln_fail(err, HLN_EINVAL, "%s doesn't exist", role);
    else if (gi < 0)
        rc = hln_fail(err, HLN_EINVAL, "%s doesn't exist", grantee);
    else if (!strcmp(role, grantee) || in_roles_of(s, grantee, role))
        rc = hln_fail(err, HLN_EINVAL, "%s is a member of %s", grantee, role);
    else if (in_roles_of(s, role, grantee))
        rc = hln_fail(err, HLN_EINVAL, "%s is a member of %s", role, grantee);
    if (!rc) {
        auth_role *g = &s->roles[gi];
        char **nv = hln_realloc(g->member_of, sizeof *nv * (size_t)(g->nmember_of + 1));
        char *d = hln_strdup(role);
        if (nv) g->member_of = nv;
        if (!nv || !d) {
            hln_free(d);
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        } else {
            g->member_of[g->nmember_of++] = d;
            qsort(g->member_of, (size_t)g->nmember_of, sizeof *g->member_of, str_cmp);
        }
    }
    return end(a, s, rc, true, err);
}

int auth_revoke_role(hln_auth *a, const char *role, const char *grantee, hln_error *err)
{
    state *s = begin(a, err);
    if (!s) return HLN_ENOMEM;
    int rc = 0, gi = find_role(s, grantee);
    if (find_role(s, role) < 0)
        rc = hln_fail(err, HLN_EINVAL, "%s doesn't exist", role);
    else if (gi < 0)
        rc = hln_fail(err, HLN_EINVAL, "%s doesn't exist", grantee);
    else if (!has_member_of(&s->roles[gi], role))
        rc = hln_fail(err, HLN_EINVAL, "%s is not a member of %s", grantee, role);
    else
        remove_member_of(&s->roles[gi], role);
    return end(a, s, rc, true, err);
}

static int change_perms(hln_auth *a, const char *grantee, const char *resource, unsigned perms,
                        bool grant, hln_error *err)
{
    if (!auth_applicable(resource))
        return hln_fail(err, HLN_EINVAL, "%s is not a valid resource name", resource);
    state *s = begin(a, err);
    if (!s) return HLN_ENOMEM;
    int rc = 0;
    bool changed = false;
    if (find_role(s, grantee) < 0) {
        rc = hln_fail(err, HLN_EINVAL, "Role %s doesn't exist", grantee);
    } else {
        int k = find_perm(s, grantee, resource);
        if (k >= 0) {
            unsigned m = grant ? (s->perms[k].perms | perms) : (s->perms[k].perms & ~perms);
            changed = m != s->perms[k].perms;
            s->perms[k].perms = m;
            if (!m) {
                hln_free(s->perms[k].role);
                hln_free(s->perms[k].resource);
                memmove(&s->perms[k], &s->perms[k + 1],
                        sizeof *s->perms * (size_t)(s->nperms - k - 1));
                s->nperms--;
            }
        } else if (grant && perms) {
            int at = -k - 1;
            auth_perm *nv = hln_realloc(s->perms, sizeof *nv * (size_t)(s->nperms + 1));
            char *r = hln_strdup(grantee), *res = hln_strdup(resource);
            if (nv) s->perms = nv;
            if (!nv || !r || !res) {
                hln_free(r);
                hln_free(res);
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            } else {
                memmove(&s->perms[at + 1], &s->perms[at], sizeof *nv * (size_t)(s->nperms - at));
                s->perms[at] = (auth_perm){r, res, perms};
                s->nperms++;
                changed = true;
            }
        }
    }
    return end(a, s, rc, changed, err);
}

int auth_grant(hln_auth *a, const char *grantee, const char *resource, unsigned perms,
               hln_error *err)
{
    return change_perms(a, grantee, resource, perms, true, err);
}

int auth_revoke(hln_auth *a, const char *grantee, const char *resource, unsigned perms,
                hln_error *err)
{
    return change_perms(a, grantee, resource, perms, false, err);
}

static bool perm_on(const auth_perm *p, const void *ud)
{
    const char *const *x = ud; /* resource, "1" when children too */
    size_t n = strlen(x[0]);
    if (!strcmp(p->resource, x[0])) return true;
    return x[1] && !strncmp(p->resource, x[0], n) && p->resource[n] == '/';
}

int auth_revoke_all_on(hln_auth *a, const char *resource, bool children, hln_error *err)
{
    const char *x[2] = {resource, children ? "1" : NULL};
    /* a cheap look first: most drops have no grants */
    bool any = false;
    pthread_rwlock_rdlock(&a->lock);
    for (int i = 0; i < a->cur->nperms && !any; i++)
        any = perm_on(&a->cur->perms[i], x);
    pthread_rwlock_unlock(&a->lock);
    if (!any) return 0;
    state *s = begin(a, err);
    if (!s) return HLN_ENOMEM;
    bool changed = remove_perms(s, perm_on, x) > 0;
    return end(a, s, 0, changed, err);
}
