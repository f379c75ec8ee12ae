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

static bool same_udt(const pooled *p, const char *ks, const char *uname, const char *const *fields,
                     int n)
{
    if (strcmp(p->ks, ks) || strcmp(p->udt_name, uname)) return false;
    for (int i = 0; i < n; i++)
        if (strcmp(p->fields[i], fields[i])) return false;
    return true;
}

/* Returns the interned descriptor for (kind, params, frozen, dim and, for
 * a UDT, its keyspace, name and field names) named name. Lookup is
 * structural (parameters are interned, so pointer comparison suffices):
 * a name like "frozen<address>" does not identify a UDT on its own. */
static const hln_type *intern_udt(hln_type_kind kind, const hln_type *const *params, int nparams,
                                  bool frozen, int dim, const char *name, const char *ks,
                                  const char *uname, const char *const *fields)
{
    const hln_type *found = NULL;
    bool udt = kind == HLN_T_UDT;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < npool && !found; i++) {
        const pooled *p = &pool[i];
        if (p->t.kind != kind || p->t.nparams != nparams || p->t.frozen != frozen ||
            p->t.dim != dim || strcmp(p->name, name))
            continue;
        bool same = true;
        for (int j = 0; j < nparams && same; j++)
            same = p->params[j] == params[j];
        if (same && udt) same = same_udt(p, ks, uname, fields, nparams);
        if (same) found = &p->t;
    }
    size_t flen = 0;
    for (int i = 0; udt && i < nparams; i++)
        flen += strlen(fields[i]) + 1;
    if (!found && npool < POOL_MAX && strlen(name) < TNAME_MAX && flen <= sizeof pool[0].fieldbuf &&
        (!udt || (strlen(ks) < sizeof pool[0].ks && strlen(uname) < sizeof pool[0].udt_name))) {
        pooled *p = &pool[npool];
        snprintf(p->name, sizeof p->name, "%s", name);
        for (int i = 0; i < nparams; i++)
            p->params[i] = params[i];
        if (udt) {
            snprintf(p->ks, sizeof p->ks, "%s", ks);
            snprintf(p->udt_name, sizeof p->udt_name, "%s", uname);
            size_t off = 0;
            for (int i = 0; i < nparams; i++) {
                size_t l = strlen(fields[i]) + 1;
                memcpy(p->fieldbuf + off, fields[i], l);
                p->fields[i] = p->fieldbuf + off;
                off += l;
            }
        }
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

static const hln_type *intern(hln_type_kind kind, const hln_type *const *params, int nparams,
                              bool frozen, int dim, const char *name)
{
    return intern_udt(kind, params, nparams, frozen, dim, name, NULL, NULL, NULL);
}

const hln_type *hln_type_udt(const char *ks, const char *name, const char *const *fields,
                             const hln_type *const *types, int n, bool frozen)
{
    if (!ks || !name || n < 1 || n > HLN_TUPLE_MAX) return NULL;
    const hln_type *ps[HLN_TUPLE_MAX];
    for (int i = 0; i < n; i++) {
        ps[i] = frozen ? hln_type_freeze(types[i]) : types[i];
        if (!ps[i] || !fields[i]) return NULL;
    }
    char cname[TNAME_MAX];
    int w = snprintf(cname, sizeof cname, frozen ? "frozen<%s>" : "%s", name);
    if (w < 0 || (size_t)w >= sizeof cname) return NULL;
    return intern_udt(HLN_T_UDT, ps, n, frozen, 0, cname, ks, name, fields);
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
    if (t && t->kind == HLN_T_UDT && !t->frozen) {
        const pooled *p = (const pooled *)(const void *)t;
        return hln_type_udt(p->ks, p->udt_name, (const char *const *)p->fields, t->params,
                            t->nparams, true);
    }
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
    const hln_type *const *udts; /* the UDTs a bare name may name */
    int nudts;
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
    if (c->s[c->i] != '<') {
        const hln_type *t = hln_type_by_name(ident);
        for (int i = 0; !t && i < c->nudts; i++)
            if (!strcmp(hln_udt_name(c->udts[i]), ident)) t = c->udts[i];
        return t;
    }
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
        if (np != 1 || !(hln_type_is_collection(params[0]) || params[0]->kind == HLN_T_TUPLE ||
                         params[0]->kind == HLN_T_UDT))
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
    return hln_type_parse_in(name, NULL, 0);
}

const hln_type *hln_type_parse_in(const char *name, const hln_type *const *udts, int nudts)
{
    if (!name) return NULL;
    cursor c = {name, 0, udts, nudts};
    const hln_type *t = parse(&c, 0);
    if (!t) return NULL;
    skip_ws(&c);
    return c.s[c.i] == 0 ? t : NULL;
}

const hln_type *hln_type_refresh(const hln_type *t, const hln_type *const *udts, int nudts)
{
    if (!t || t->nparams == 0) return t;
    const hln_type *ps[HLN_TUPLE_MAX];
    if (t->kind == HLN_T_UDT) {
        const hln_type *def = NULL;
        for (int i = 0; i < nudts; i++)
            if (!strcmp(hln_udt_ks(udts[i]), hln_udt_ks(t)) &&
                !strcmp(hln_udt_name(udts[i]), hln_udt_name(t)))
                def = udts[i];
        if (!def) def = t; /* dropped: kept as it was */
        const char *fields[HLN_TUPLE_MAX];
        for (int i = 0; i < def->nparams; i++) {
            fields[i] = hln_udt_field(def, i);
            if (!(ps[i] = hln_type_refresh(def->params[i], udts, nudts))) return NULL;
        }
        return hln_type_udt(hln_udt_ks(def), hln_udt_name(def), fields, ps, def->nparams,
                            t->frozen);
    }
    for (int i = 0; i < t->nparams; i++)
        if (!(ps[i] = hln_type_refresh(t->params[i], udts, nudts))) return NULL;
    switch (t->kind) {
    case HLN_T_TUPLE:
        return hln_type_tuple(ps, t->nparams);
    case HLN_T_VECTOR:
        return hln_type_vector(ps[0], t->dim);
    default:
        return hln_type_collection(t->kind, ps, t->frozen);
    }
}

bool hln_type_uses_udt(const hln_type *t, const char *ks, const char *name)
{
    if (!t) return false;
    if (t->kind == HLN_T_UDT && !strcmp(hln_udt_ks(t), ks) && !strcmp(hln_udt_name(t), name))
        return true;
    for (int i = 0; i < t->nparams; i++)
        if (hln_type_uses_udt(t->params[i], ks, name)) return true;
    return false;
}

const hln_type *hln_type_expand_udts(const hln_type *t)
{
    if (!t || t->nparams == 0) return t;
    const hln_type *ps[HLN_TUPLE_MAX];
    for (int i = 0; i < t->nparams; i++)
        if (!(ps[i] = hln_type_expand_udts(t->params[i]))) return NULL;
    switch (t->kind) {
    case HLN_T_UDT:
    case HLN_T_TUPLE:
        return hln_type_tuple(ps, t->nparams);
    case HLN_T_VECTOR:
        return hln_type_vector(ps[0], t->dim);
    default:
        return hln_type_collection(t->kind, ps, t->frozen);
    }
}
