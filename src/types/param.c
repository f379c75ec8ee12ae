/*
 * param.c — parameterised type descriptors (list, set, map, frozen<>) and
 * the parser of type names.
 *
 * What: turns a CQL type name as system_schema shows it ("set<text>",
 * "frozen<map<text, text>>", "map<uuid, frozen<list<int>>>") into an
 * hln_type, and builds the same descriptors from parts for the DDL layer.
 * Scalars come from types.c (hln_type_by_name); parameterised types are
 * built from their parameters and interned by canonical name. Tuples
 * ("frozen<tuple<int, text>>") are always frozen, and so are their
 * components, as in Cassandra.
 *
 * Why interning: a column's type is compared on every bind and every
 * prepared-statement check; with one descriptor per canonical name, pointer
 * equality is type equality and descriptors can be shared by every schema
 * snapshot without reference counts.
 *
 * Invariants:
 *  1. Interned descriptors live in static storage, are never freed, and one
 *     canonical name maps to exactly one descriptor.
 *  2. The canonical name is Cassandra's asCQL3Type().toString() form:
 *     lower-case, ", " between parameters, frozen<> kept; inside a frozen
 *     type every nested collection is frozen too and the name says so once
 *     per level ("frozen<list<frozen<set<int>>>>"), as Cassandra prints it.
 *  3. The pool is bounded (POOL_MAX distinct parameterised types per
 *     process); past that, the constructors return NULL.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "types/types.h"

#define POOL_MAX 1024
#define TNAME_MAX 256

typedef struct pooled {
    hln_type t; /* first: a UDT's descriptor leads to its pooled entry */
    const hln_type *params[HLN_TUPLE_MAX];
    char name[TNAME_MAX];
    /* UDTs: interned by key (keyspace, name, fields and their types) since
       their CQL name alone does not identify them */
    char key[TNAME_MAX * 2];
    char ks[64], udt_name[64];
    char *fields[HLN_TUPLE_MAX];
    char fieldbuf[TNAME_MAX * 2];
} pooled;

static pooled pool[POOL_MAX];
static int npool;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

/* Returns the interned descriptor for (kind, params, frozen) named name. */
static const hln_type *intern(hln_type_kind kind, const hln_type *const *params, int nparams,
                              bool frozen, int dim, const char *name)
{
    const hln_type *found = NULL;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < npool; i++) {
        if (strcmp(pool[i].name, name) == 0) {
            found = &pool[i].t;
            break;
        }
    }
    if (!found && npool < POOL_MAX && strlen(name) < TNAME_MAX) {
        pooled *p = &pool[npool];
        snprintf(p->name, sizeof p->name, "%s", name);
        for (int i = 0; i < nparams; i++)
            p->params[i] = params[i];
        p->t.kind = kind;
        p->t.cql_name = p->name;
        p->t.fixed_len = 0;
        p->t.params = p->params;
        p->t.nparams = nparams;
        p->t.frozen = frozen;
        p->t.dim = dim;
        npool++;
        found = &p->t;
    }
    pthread_mutex_unlock(&pool_mu);
    return found;
}

const char *hln_udt_field(const hln_type *t, int i)
{
    if (!t || t->kind != HLN_T_UDT || i < 0 || i >= t->nparams) return "";
    return ((const pooled *)(const void *)t)->fields[i];
}

const char *hln_udt_ks(const hln_type *t)
{
    if (!t || t->kind != HLN_T_UDT) return "";
    return ((const pooled *)(const void *)t)->ks;
}

const char *hln_udt_name(const hln_type *t)
{
    if (!t || t->kind != HLN_T_UDT) return "";
    return ((const pooled *)(const void *)t)->udt_name;
}

const hln_type *hln_type_collection(hln_type_kind kind, const hln_type *const *params, bool frozen)
{
    int np = kind == HLN_T_MAP ? 2 : 1;
    if (kind != HLN_T_LIST && kind != HLN_T_SET && kind != HLN_T_MAP) return NULL;
    const hln_type *ps[2] = {params[0], np == 2 ? params[1] : NULL};
    for (int i = 0; i < np; i++) {
        if (!ps[i]) return NULL;
        if (frozen) ps[i] = hln_type_freeze(ps[i]);
        if (!ps[i]) return NULL;
    }
    const char *what = kind == HLN_T_LIST ? "list" : kind == HLN_T_SET ? "set" : "map";
    char name[TNAME_MAX];
    int w;
    if (np == 1)
        w = snprintf(name, sizeof name, "%s%s<%s>%s", frozen ? "frozen<" : "", what,
                     ps[0]->cql_name, frozen ? ">" : "");
    else
        w = snprintf(name, sizeof name, "%smap<%s, %s>%s", frozen ? "frozen<" : "", ps[0]->cql_name,
                     ps[1]->cql_name, frozen ? ">" : "");
    if (w < 0 || (size_t)w >= sizeof name) return NULL;
    return intern(kind, ps, np, frozen, 0, name);
}

const hln_type *hln_type_vector(const hln_type *elem, int dim)
{
    if (!elem || dim < 1) return NULL;
    char name[TNAME_MAX];
    int w = snprintf(name, sizeof name, "vector<%s, %d>", elem->cql_name, dim);
    if (w < 0 || (size_t)w >= sizeof name) return NULL;
    const hln_type *ps[1] = {hln_type_freeze(elem)};
    if (!ps[0]) return NULL;
    return intern(HLN_T_VECTOR, ps, 1, true, dim, name);
}

const hln_type *hln_type_freeze(const hln_type *t)
{
    if (!t || !hln_type_is_collection(t) || t->frozen) return t;
    return hln_type_collection(t->kind, t->params, true);
}

const hln_type *hln_type_tuple(const hln_type *const *params, int n)
{
    if (n < 1 || n > HLN_TUPLE_MAX) return NULL;
    const hln_type *ps[HLN_TUPLE_MAX];
    char name[TNAME_MAX];
    size_t w = (size_t)snprintf(name, sizeof name, "frozen<tuple<");
    for (int i = 0; i < n; i++) {
        ps[i] = hln_type_freeze(params[i]);
        if (!ps[i]) return NULL;
        int k = snprintf(name + w, sizeof name - w, "%s%s", i ? ", " : "", ps[i]->cql_name);
        if (k < 0 || (size_t)k >= sizeof name - w) return NULL;
        w += (size_t)k;
    }
    if (w + 2 >= sizeof name) return NULL;
    memcpy(name + w, ">>", 3);
    return intern(HLN_T_TUPLE, ps, n, true, 0, name);
}

typedef struct cursor {
    const char *s;
    size_t i;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n')
        c->i++;
}

static const hln_type *parse(cursor *c, int depth)
{
    char ident[32];
    size_t n = 0;
    skip_ws(c);
    while (isalnum((unsigned char)c->s[c->i]) || c->s[c->i] == '_') {
        if (n + 1 >= sizeof ident) return NULL;
        ident[n++] = (char)tolower((unsigned char)c->s[c->i]);
        c->i++;
    }
    ident[n] = 0;
    if (n == 0 || depth > 16) return NULL;
    skip_ws(c);
    if (c->s[c->i] != '<') return hln_type_by_name(ident);
    c->i++;

    if (strcmp(ident, "vector") == 0) {
        /* vector<type, n> */
        const hln_type *et = parse(c, depth + 1);
        skip_ws(c);
        if (!et || c->s[c->i] != ',') return NULL;
        c->i++;
        skip_ws(c);
        long dim = 0;
        int digits = 0;
        while (isdigit((unsigned char)c->s[c->i]) && digits < 9) {
            dim = dim * 10 + (c->s[c->i] - '0');
            c->i++;
            digits++;
        }
        skip_ws(c);
        if (!digits || c->s[c->i] != '>') return NULL;
        c->i++;
        return hln_type_vector(et, (int)dim);
    }
    const hln_type *params[HLN_TUPLE_MAX] = {NULL};
    int np = 0;
    for (;;) {
        if (np == HLN_TUPLE_MAX) return NULL;
        params[np] = parse(c, depth + 1);
        if (!params[np]) return NULL;
        np++;
        skip_ws(c);
        if (c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->s[c->i] == '>') {
            c->i++;
            break;
        }
        return NULL;
    }
    if (strcmp(ident, "frozen") == 0) {
        if (np != 1 || !(hln_type_is_collection(params[0]) || params[0]->kind == HLN_T_TUPLE))
            return NULL;
        return hln_type_freeze(params[0]);
    }
    if (strcmp(ident, "tuple") == 0) return hln_type_tuple(params, np);
    if (strcmp(ident, "list") == 0 && np == 1)
        return hln_type_collection(HLN_T_LIST, params, false);
    if (strcmp(ident, "set") == 0 && np == 1) return hln_type_collection(HLN_T_SET, params, false);
    if (strcmp(ident, "map") == 0 && np == 2) return hln_type_collection(HLN_T_MAP, params, false);
    return NULL;
}

const hln_type *hln_type_parse(const char *name)
{
    if (!name) return NULL;
    cursor c = {name, 0};
    const hln_type *t = parse(&c, 0);
    if (!t) return NULL;
    skip_ws(&c);
    return c.s[c.i] == 0 ? t : NULL;
}
