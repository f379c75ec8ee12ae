/*
 * fuzz_cql.c — libFuzzer harness for the CQL parser (cql_parse).
 *
 * What: parses the input as one statement with a fresh arena, then walks
 * the resulting tree (every string read to its end) so that a tree pointing
 * at freed or uninitialised memory shows up under ASan/MSan, and checks the
 * parser's contract: success gives a statement whose bind markers are
 * numbered 0..n-1; failure gives one of the documented codes with a message.
 *
 * Why the walk: a parser can return a tree that merely looks right; reading
 * every node is what makes the sanitizers see a dangling or short string.
 * The corpus (tests/fuzz/corpus/fuzz_cql) is replayed by ordinary test runs
 * through tests/fuzz/replay_main.c.
 *
 * Invariants: no input may crash, hang, leak (the arena is freed), or
 * violate the checks below (they abort, which the fuzzer reports).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cql/cql.h"

static size_t sink;

static void str(const char *s)
{
    if (s) sink += strlen(s);
}

static void term(const cql_term *t, int n_binds)
{
    if (!t) return;
    str(t->text);
    str(t->bind_name);
    if (t->kind == CQL_TERM_BIND && (t->bind_index < 0 || t->bind_index >= n_binds)) abort();
    if (t->kind == CQL_TERM_LITERAL && !t->text) abort();
    if (t->nelems < 0 || (t->nelems > 0 && !t->elems)) abort();
    for (int i = 0; i < t->nelems; i++)
        term(t->elems[i], n_binds);
}

static void type(const cql_typeref *t)
{
    /* iterative over the first parameter, recursive (bounded by the
     * parser's stack) over the others */
    while (t) {
        str(t->name);
        for (int i = 1; i < t->nparams; i++)
            type(t->params[i]);
        t = t->nparams > 0 ? t->params[0] : NULL;
    }
}

static void props(const cql_property *p, int n)
{
    for (; p; p = p->next) {
        str(p->name);
        term(p->value, n);
        for (const cql_map_entry *e = p->map; e; e = e->next) {
            term(e->key, n);
            term(e->value, n);
        }
    }
}

static void names(const cql_name_list *l)
{
    for (; l; l = l->next)
        str(l->name);
}

static void rels(const cql_relation *r, int n)
{
    for (; r; r = r->next) {
        str(r->column);
        names(r->token_cols);
        if (!r->column == !r->token_cols) /* a column or a token(...), never both */
            abort();
        term(r->term, n);
    }
}

/* n: the markers of the whole statement (a BEGIN BATCH's numbers them
 * across its statements) */
static void walk(const cql_stmt *s, int n)
{
    for (int i = 0; i < s->n_binds; i++)
        str(s->bind_names[i]);
    switch (s->kind) {
    case CQL_CREATE_KEYSPACE:
        str(s->u.create_keyspace.name);
        props(s->u.create_keyspace.props, n);
        break;
    case CQL_ALTER_KEYSPACE:
        str(s->u.create_keyspace.name);
        props(s->u.create_keyspace.props, n);
        break;
    case CQL_ALTER_UDT:
    case CQL_ALTER_VIEW:
    case CQL_ALTER_TABLE: {
        const cql_alter_table *a = &s->u.alter_table;
        str(a->name.ks);
        str(a->name.name);
        for (const cql_column_def *d = a->add; d; d = d->next) {
            str(d->name);
            type(d->type);
        }
        names(a->drop);
        names(a->from);
        names(a->to);
        props(a->props, n);
        str(a->drop_ts);
        break;
    }
    case CQL_CREATE_INDEX: {
        const cql_create_index *c = &s->u.create_index;
        str(c->table.ks);
        str(c->table.name);
        str(c->name);
        str(c->using);
        for (const cql_index_col *x = c->targets; x; x = x->next) {
            str(x->column);
            if (x->target > CQL_IXT_FULL) abort();
        }
        props(c->props, n);
        break;
    }
    case CQL_DROP_INDEX:
    case CQL_DROP_VIEW:
    case CQL_DROP_TYPE:
    case CQL_TRUNCATE:
    case CQL_DROP_KEYSPACE:
    case CQL_DROP_TABLE:
        str(s->u.drop.name.ks);
        str(s->u.drop.name.name);
        break;
    case CQL_USE:
        str(s->u.use);
        break;
    case CQL_DESCRIBE:
        if (s->u.describe.what > CQL_DESC_VIEW) abort();
        str(s->u.describe.name.ks);
        str(s->u.describe.name.name);
        break;
    case CQL_CREATE_TYPE:
    case CQL_CREATE_VIEW:
    case CQL_CREATE_TABLE: {
        const cql_create_table *c = &s->u.create_table;
        str(c->name.ks);
        str(c->name.name);
        str(c->view_base.ks);
        str(c->view_base.name);
        for (const cql_relation *w = c->view_where; w; w = w->next)
            str(w->column);
        for (const cql_column_def *d = c->columns; d; d = d->next) {
            str(d->name);
            type(d->type);
        }
        names(c->pk);
        names(c->ck);
        for (const cql_order *o = c->clustering_order; o; o = o->next)
            str(o->column);
        props(c->props, n);
        break;
    }
    case CQL_INSERT: {
        const cql_insert *q = &s->u.insert;
        str(q->table.name);
        names(q->columns);
        for (int i = 0; i < q->nvalues; i++)
            term(q->values[i], n);
        term(q->using.ttl, n);
        term(q->using.timestamp, n);
        break;
    }
    case CQL_UPDATE: {
        const cql_update *q = &s->u.update;
        str(q->table.name);
        for (const cql_assignment *a = q->set; a; a = a->next) {
            str(a->column);
            term(a->value, n);
            term(a->key, n);
            str(a->other);
        }
        rels(q->where, n);
        term(q->using.ttl, n);
        term(q->using.timestamp, n);
        break;
    }
    case CQL_DELETE:
        str(s->u.del.table.name);
        for (const cql_deletion *d = s->u.del.columns; d; d = d->next) {
            str(d->column);
            term(d->key, n);
        }
        rels(s->u.del.where, n);
        term(s->u.del.using.timestamp, n);
        break;
    case CQL_SELECT: {
        const cql_select *q = &s->u.select;
        str(q->table.ks);
        str(q->table.name);
        for (const cql_selector *x = q->selectors; x; x = x->next) {
            str(x->column);
            str(x->alias);
            str(x->func);
            for (const cql_selector *a = x->args; a; a = a->next) {
                str(a->column);
                term(a->term, n);
            }
        }
        rels(q->where, n);
        for (const cql_order *o = q->order_by; o; o = o->next)
            str(o->column);
        term(q->limit, n);
        term(q->per_partition_limit, n);
        break;
    }
    case CQL_CREATE_ROLE:
    case CQL_ALTER_ROLE:
    case CQL_DROP_ROLE:
        str(s->u.role.name);
        str(s->u.role.opts.password);
        str(s->u.role.opts.hashed_password);
        break;
    case CQL_LIST_ROLES:
    case CQL_GRANT_ROLE:
    case CQL_REVOKE_ROLE:
    case CQL_GRANT_PERMISSIONS:
    case CQL_REVOKE_PERMISSIONS:
    case CQL_LIST_PERMISSIONS:
        str(s->u.grant.role);
        str(s->u.grant.grantee);
        if (s->u.grant.has_resource) {
            str(s->u.grant.resource.name.ks);
            str(s->u.grant.resource.name.name);
        }
        break;
    case CQL_BATCH:
        term(s->u.batch.using.ttl, n);
        term(s->u.batch.using.timestamp, n);
        for (int i = 0; i < s->u.batch.nstmts; i++) {
            const cql_stmt *c = s->u.batch.stmts[i];
            if (c->kind != CQL_INSERT && c->kind != CQL_UPDATE && c->kind != CQL_DELETE) abort();
            walk(c, n);
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hln_arena arena;
    hln_error err;
    cql_stmt *stmt = NULL;

    hln_arena_init(&arena, 4096);
    memset(&err, 0, sizeof(err));
    int rc = cql_parse((const char *)data, size, &arena, &stmt, &err);
    if (rc == 0) {
        if (!stmt) abort();
        walk(stmt, stmt->n_binds);
    } else {
        if (stmt || err.code != rc || err.msg[0] == 0) abort();
        if (rc != HLN_ESYNTAX && rc != HLN_ENOMEM && rc != HLN_EINVAL && rc != HLN_EUNSUPPORTED)
            abort();
        sink += strlen(err.msg);
    }
    hln_arena_free(&arena);
    return 0;
}
