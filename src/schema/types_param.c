/*
 * types_param.c — descriptors for parameterised type names (collections).
 *
 * What: turns a CQL type name as system_schema shows it ("set<text>",
 * "frozen<map<text, text>>", "map<uuid, blob>") into an hln_type. Scalars
 * come from the types module (hln_type_by_name); list, set, map and frozen<>
 * are built here from their parameters and interned by canonical name.
 *
 * Why here: the system tables have collection columns, and a persisted table
 * definition names its column types as text; the types module supports only
 * scalars so far. When it grows a parser for parameterised types, this file
 * should defer to it.
 *
 * Invariants:
 *  1. Interned descriptors live in static storage, are never freed, and one
 *     canonical name maps to exactly one descriptor (so pointer equality
 *     implies type equality).
 *  2. The canonical name is Cassandra's asCQL3Type().toString() form:
 *     lower-case, ", " between parameters, frozen<> kept.
 *  3. The pool is bounded (POOL_MAX distinct parameterised types per process);
 *     past that, schema_type_parse returns NULL.
 */
#include "schema/schema_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define POOL_MAX 512
#define TNAME_MAX 192

typedef struct pooled {
    hln_type t;
    const hln_type *params[2];
    char name[TNAME_MAX];
} pooled;

static pooled pool[POOL_MAX];
static int npool;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

/* Returns the interned descriptor for (kind, params, name), creating it. */
static const hln_type *intern(hln_type_kind kind, const hln_type *const *params, int nparams,
                              const char *name)
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
        npool++;
        found = &p->t;
    }
    pthread_mutex_unlock(&pool_mu);
    return found;
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
    if (n == 0 || depth > 8) return NULL;
    skip_ws(c);
    if (c->s[c->i] != '<') return hln_type_by_name(ident);
    c->i++;

    const hln_type *params[2] = {NULL, NULL};
    int np = 0;
    for (;;) {
        if (np == 2) return NULL;
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

    char name[TNAME_MAX];
    int w;
    if (strcmp(ident, "frozen") == 0) {
        const hln_type *in = params[0];
        if (np != 1 || in->nparams == 0) return NULL; /* only collections can be frozen here */
        if (strncmp(in->cql_name, "frozen<", 7) == 0) return in;
        w = snprintf(name, sizeof name, "frozen<%s>", in->cql_name);
        if (w < 0 || (size_t)w >= sizeof name) return NULL;
        return intern(in->kind, in->params, in->nparams, name);
    }
    hln_type_kind kind;
    if (strcmp(ident, "list") == 0 && np == 1)
        kind = HLN_T_LIST;
    else if (strcmp(ident, "set") == 0 && np == 1)
        kind = HLN_T_SET;
    else if (strcmp(ident, "map") == 0 && np == 2)
        kind = HLN_T_MAP;
    else
        return NULL;
    if (np == 1)
        w = snprintf(name, sizeof name, "%s<%s>", ident, params[0]->cql_name);
    else
        w = snprintf(name, sizeof name, "map<%s, %s>", params[0]->cql_name, params[1]->cql_name);
    if (w < 0 || (size_t)w >= sizeof name) return NULL;
    return intern(kind, params, np, name);
}

const hln_type *schema_type_parse(const char *name)
{
    if (!name) return NULL;
    cursor c = {name, 0};
    const hln_type *t = parse(&c, 0);
    if (!t) return NULL;
    skip_ws(&c);
    return c.s[c.i] == 0 ? t : NULL;
}
