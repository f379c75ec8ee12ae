/*
 * view_ddl.c — CREATE MATERIALIZED VIEW and DROP MATERIALIZED VIEW.
 *
 * What: validates a view definition against the request's snapshot in
 * Cassandra 5.0's order (CreateViewStatement.Raw.prepare, then apply: the
 * materialized_views_enabled switch, keyspace, base table, name clashes,
 * base kind, gc_grace_seconds, the SELECT list, the PRIMARY KEY, CLUSTERING
 * ORDER, the WHERE clause, the options), with its messages; hands the
 * catalog a table spec flagged as a view of the base (its own table id
 * and column ids; the columns carry the base columns' names and types);
 * answers SCHEMA_CHANGE CREATED TABLE with Cassandra's warning; then
 * builds the view from the base's existing rows before answering: rounds
 * of one EX_OP_VIEW_BUILD per shard not yet through (view.c: a page of
 * base rows from a cursor), whose view rows the coordinator writes before
 * the next round. The build is synchronous (the statement answers once the view
 * holds every existing row); writes that race it are computed later, so
 * they win. ALTER MATERIALIZED VIEW runs through ddl.c's ALTER TABLE WITH
 * path (ex_run_alter_view) with the view's option checks here.
 *
 * Helenus serves views by default (materialized_views_enabled: true):
 * view.c keeps them consistent on this node. With
 * `materialized_views_enabled: false` CREATE is refused with Cassandra's
 * error; existing views are still maintained, as in Cassandra.
 *
 * WHERE: IS NOT NULL on any column; =, <, <=, >, >= and IN with constants
 * on base primary key columns (Cassandra's rule: other columns only IS NOT
 * NULL), kept structured in the view's definition (hln_view_restr) for
 * view.c to check.
 *
 * Invariants:
 *  1. Nothing is written unless every check passed.
 *  2. The build ops read the snapshot that has the view (acquired after
 *     the catalog published it), released when the build is done; the
 *     build holds one page per shard at a time.
 */
#include <stdio.h>
#include <string.h>

#include "exec/execInt.h"

static const char *WARNING =
    "Materialized views are experimental and are not recommended for production use.";

static bool local_system(const char *ks)
{
    return !strcmp(ks, "system") || !strcmp(ks, "system_schema") ||
           !strcmp(ks, "system_virtual_schema") || !strcmp(ks, "system_views") ||
           !strcmp(ks, "system_auth") || !strcmp(ks, "system_distributed") ||
           !strcmp(ks, "system_traces");
}

static bool refs_duration(const hln_type *t)
{
    if (t->kind == HLN_T_DURATION) return true;
    for (int i = 0; i < t->nparams; i++)
        if (refs_duration(t->params[i])) return true;
    return false;
}

static const char *class_name(ex_request *r, const hln_type *t)
{
    hln_buf b;
    hln_buf_init(&b);
    hln_type_class_name(t, &b);
    const char *s = b.err ? "?" : hln_arena_strndup(&r->arena, (const char *)b.data, b.len);
    hln_buf_free(&b);
    return s ? s : "?";
}

static bool selected(const cql_selector *sel, const char *name)
{
    if (!sel) return true; /* SELECT * */
    for (; sel; sel = sel->next)
        if (!strcmp(sel->column, name)) return true;
    return false;
}

static bool in_names(const cql_name_list *l, const char *name)
{
    for (; l; l = l->next)
        if (!strcmp(l->name, name)) return true;
    return false;
}

static bool restricted(const cql_relation *w, const char *name)
{
    for (; w; w = w->next)
        if (w->column && !strcmp(w->column, name)) return true;
    return false;
}

int ex_view_check_options(ex_request *r, const hln_option *opts, int nopts, bool alter)
{
    for (int i = 0; i < nopts; i++) {
        if (alter && !strcmp(opts[i].key, "gc_grace_seconds") && !strcmp(opts[i].value, "0"))
            return hln_fail(&r->err, HLN_EINVAL,
                            "Cannot alter gc_grace_seconds of a materialized view to 0, since this "
                            "value is used to TTL undelivered updates. Setting gc_grace_seconds "
                            "too low might cause undelivered updates to expire before being "
                            "replayed.");
        if (alter && !strcmp(opts[i].key, "default_time_to_live") && strcmp(opts[i].value, "0"))
            return hln_fail(&r->err, HLN_EINVAL,
                            "Forbidden default_time_to_live detected for a materialized view. "
                            "Data in a materialized view always expire at the same time than the "
                            "corresponding data in the parent table. default_time_to_live must "
                            "be set to zero, see CASSANDRA-12868 for more information");
    }
    return 0;
}

/* The WHERE clause as system_schema.views shows it (WhereClause.toCQLString). */
static const char *where_text(ex_request *r, const cql_relation *w)
{
    hln_buf b;
    hln_buf_init(&b);
    static const char *const OPS[] = {"=", "<", "<=", ">", ">=", "!="};
    for (; w; w = w->next) {
        if (b.len) hln_buf_put(&b, " AND ", 5);
        const char *col = ex_quote(&r->arena, w->column);
        if (w->op == CQL_OP_IS_NOT_NULL) {
            hln_buf_printf(&b, "%s IS NOT NULL", col);
        } else if (w->op == CQL_OP_IN) {
            hln_buf_printf(&b, "%s IN (", col);
            for (int i = 0; i < w->nin; i++)
                hln_buf_printf(&b, "%s%s", i ? ", " : "", ex_term_str(&r->arena, w->in_list[i]));
            hln_buf_u8(&b, ')');
        } else if ((int)w->op <= (int)CQL_OP_NE) {
            hln_buf_printf(&b, "%s %s %s", col, OPS[w->op], ex_term_str(&r->arena, w->term));
        }
    }
    const char *s = b.err ? NULL : hln_arena_strndup(&r->arena, (const char *)b.data, b.len);
    hln_buf_free(&b);
    return s;
}

/* A restriction's value: a constant of the column's type. */
static int restr_value(ex_request *r, const hln_column *col, const cql_term *t, uint8_t **out,
                       uint32_t *len)
{
    if (!t || t->kind != CQL_TERM_LITERAL)
        return hln_fail(&r->err, HLN_EUNSUPPORTED,
                        "materialized view restrictions take constants only (got %s)",
                        t ? ex_term_str(&r->arena, t) : "?");
    hln_buf b;
    hln_buf_init(&b);
    int rc = hln_type_from_literal(col->type, t->lit, t->text, col->name, &b, &r->err);
    if (!rc && b.err) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    if (!rc) {
        *len = (uint32_t)b.len;
        *out = hln_arena_memdup(&r->arena, b.data, b.len ? b.len : 1);
        if (!*out) rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    }
    hln_buf_free(&b);
    return rc;
}

/* The restrictions other than IS NOT NULL (all on base key columns by now). */
static int restrictions(ex_request *r, const hln_table *t, const cql_relation *where,
                        hln_view_restr **out, int *nout)
{
    static const char *const OPS[] = {"=", "<", "<=", ">", ">="};
    int n = 0;
    for (const cql_relation *w = where; w; w = w->next)
        if (w->op != CQL_OP_IS_NOT_NULL) n++;
    *out = NULL;
    *nout = 0;
    if (!n) return 0;
    hln_view_restr *v = hln_arena_alloc(&r->arena, sizeof *v * (size_t)n);
    if (!v) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
    n = 0;
    for (const cql_relation *w = where; w; w = w->next) {
        if (w->op == CQL_OP_IS_NOT_NULL) continue;
        const hln_column *col = table_column(t, w->column);
        hln_view_restr *x = &v[n++];
        x->col = (char *)w->column;
        int nv = 1;
        const cql_term *const *terms = (const cql_term *const *)&w->term;
        if (w->op == CQL_OP_IN) {
            x->op = "IN";
            nv = w->nin;
            terms = (const cql_term *const *)w->in_list;
            if (!terms)
                return hln_fail(&r->err, HLN_EUNSUPPORTED,
                                "materialized view restrictions take constants only");
        } else if ((int)w->op <= (int)CQL_OP_GE) {
            x->op = (char *)OPS[w->op];
        } else {
            return hln_fail(&r->err, HLN_EINVAL,
                            "Unsupported restriction on %s in a "
                            "materialized view",
                            w->column);
        }
        x->nvals = nv;
        x->vals = hln_arena_alloc(&r->arena, sizeof *x->vals * (size_t)(nv + 1));
        x->lens = hln_arena_alloc(&r->arena, sizeof *x->lens * (size_t)(nv + 1));
        if (!x->vals || !x->lens) return hln_fail(&r->err, HLN_ENOMEM, "out of memory");
        for (int i = 0; i < nv; i++) {
            int rc = restr_value(r, col, terms[i], &x->vals[i], &x->lens[i]);
            if (rc) return rc;
        }
    }
    *out = v;
    *nout = n;
    return 0;
}

/* ---- the build and the answer ------------------------------------------
 * The build walks every shard's base rows in pages (EX_OP_VIEW_BUILD, view.c),
 * all shards in parallel, one page per shard per round; each round's view
 * rows are written (coord.c's view round) before the next is read. Only
 * the cursors survive a round (the ops and their arenas are freed), so
 * memory stays one page per shard whatever the size of the base. */

typedef struct build_state {
    hln_schema *schema; /* the snapshot with the view */
    uint8_t view_id[16];
    struct {
        bool done;
        int64_t token;
        uint8_t *pk; /* hln_malloc'd; NULL: from the start */
        uint32_t pklen;
    } * cur;
    int n;
} build_state;

static void build_free(ex_request *r)
{
    ex_state *st = ex_st(r);
    build_state *b = st->xs;
    if (!b) return;
    for (int i = 0; i < b->n; i++)
        hln_free(b->cur[i].pk);
    hln_free(b->cur);
    schema_release(b->schema);
    hln_free(b);
    st->xs = NULL;
}

static void build_step(ex_request *r)
{
    ex_state *st = ex_st(r);
    build_state *b = st->xs;
    int rc = ex_batch_error(r);
    /* the cursors the last round left */
    for (ex_op *op = st->cur; !rc && op; op = op->next_batch) {
        if (op->kind != EX_OP_VIEW_BUILD) continue;
        int i = op->target;
        hln_free(b->cur[i].pk);
        b->cur[i].pk = NULL;
        b->cur[i].done = op->build_done;
        if (op->build_done) continue;
        b->cur[i].token = op->build_token;
        b->cur[i].pklen = op->build_pklen;
        b->cur[i].pk = hln_malloc(op->build_pklen ? op->build_pklen : 1);
        if (!b->cur[i].pk) {
            rc = hln_fail(&r->err, HLN_ENOMEM, "out of memory");
            break;
        }
        memcpy(b->cur[i].pk, op->build_pk, op->build_pklen);
    }
    if (rc) {
        build_free(r);
        ex_finish(r, rc);
        return;
    }
    ex_ops_free(r); /* the last round's pages */
    int sent = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->cur[i].done) continue;
        ex_op *op = ex_op_new(r, EX_OP_VIEW_BUILD, i);
        if (!op) {
            build_free(r);
            ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
            return;
        }
        op->schema = b->schema;
        memcpy(op->table_id, b->view_id, 16);
        op->scan.start_token = INT64_MIN;
        if (b->cur[i].pk) {
            op->scan.start_token = b->cur[i].token;
            op->scan.after_pk = b->cur[i].pk;
            op->scan.after_pklen = b->cur[i].pklen;
        }
        sent++;
    }
    if (!sent) {
        build_free(r);
        ex_finish(r, 0);
        return;
    }
    ex_dispatch(r, build_step);
}

/* Builds view `name` of ks from the base's rows on every shard. */
static void build(ex_request *r, const char *ks, const char *name)
{
    ex_state *st = ex_st(r);
    hln_schema *s = catalog_acquire(st->eng->catalog);
    const hln_table *v = schema_table(s, ks, name);
    build_state *b = hln_calloc(1, sizeof *b);
    if (b) b->cur = hln_calloc((size_t)st->eng->nshards, sizeof *b->cur);
    if (!v || !v->is_view || !b || !b->cur) { /* dropped meanwhile, or no memory */
        int rc = v && v->is_view ? hln_fail(&r->err, HLN_ENOMEM, "out of memory") : 0;
        if (b) hln_free(b->cur);
        hln_free(b);
        schema_release(s);
        ex_finish(r, rc);
        return;
    }
    b->schema = s;
    b->n = st->eng->nshards;
    memcpy(b->view_id, v->id, 16);
    st->xs = b;
    st->cur = NULL; /* no round yet */
    build_step(r);
}

static int create_view_checks(ex_request *r, hln_table_spec *spec)
{
    ex_state *st = ex_st(r);
    const cql_create_table *c = &st->stmt->u.create_table;
    const char *ks = st->plan->ks, *vn = c->name.name, *tn = c->view_base.name;
    hln_error *err = &r->err;
    const hln_schema *s = st->schema;

    if (c->view_base.ks && strcmp(c->view_base.ks, ks))
        return hln_fail(err, HLN_EINVAL,
                        "Cannot create a materialized view on a table in a different keyspace");
    if (st->stmt->n_binds)
        return hln_fail(err, HLN_EINVAL,
                        "Bind variables are not allowed in CREATE MATERIALIZED VIEW statements");
    if (st->eng->cfg.views_disabled)
        return hln_fail(err, HLN_EINVAL,
                        "Materialized views are disabled. Enable in cassandra.yaml to use.");
    if (local_system(ks))
        return hln_fail(err, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.", ks);
    if (!schema_keyspace(s, ks))
        return hln_fail(err, HLN_EINVAL, "Keyspace '%s' doesn't exist", ks);
    const hln_table *t = schema_table(s, ks, tn);
    if (!t || t->is_view) /* Cassandra looks among tables, which views are not */
        return hln_fail(err, HLN_EINVAL, "Base table '%s' doesn't exist", tn);
    const hln_table *same = schema_table(s, ks, vn);
    if (same && !same->is_view)
        return hln_fail(err, HLN_EINVAL,
                        "Cannot create materialized view '%s' - a table with the same name "
                        "already exists",
                        vn);
    if (same) {
        if (c->if_not_exists) return 1;
        snprintf(err->ks, sizeof err->ks, "%s", ks);
        snprintf(err->table, sizeof err->table, "%s", vn);
        return hln_fail(err, HLN_EEXISTS,
                        "Cannot add already existing table \"%s\" to keyspace \"%s\"", vn, ks);
    }
    for (int i = 0; i < t->ncols; i++)
        if (t->cols[i].type->kind == HLN_T_COUNTER)
            return hln_fail(err, HLN_EINVAL,
                            "Materialized views are not supported on counter tables");
    if (t->is_view)
        return hln_fail(err, HLN_EINVAL,
                        "Materialized views cannot be created against other materialized views");
    const char *gc = table_option(t, "gc_grace_seconds");
    if (gc && !strcmp(gc, "0"))
        return hln_fail(err, HLN_EINVAL,
                        "Cannot create materialized view '%s' for base table '%s' with "
                        "gc_grace_seconds of 0, since this value is used to TTL undelivered "
                        "updates. Setting gc_grace_seconds too low might cause undelivered "
                        "updates to expire before being replayed.",
                        vn, tn);

    /* SELECT clause */
    for (const cql_selector *x = c->view_sel; x; x = x->next) {
        bool plain = x->column && !x->func && !x->elem && !x->field && !x->cast && !x->op &&
                     !x->term && !x->paren;
        if (x->alias)
            return hln_fail(err, HLN_EINVAL,
                            "Cannot use aliases when defining a materialized view (got %s AS %s)",
                            x->column ? x->column : "?", x->alias);
        if (!plain)
            return hln_fail(err, HLN_EINVAL,
                            "Can only select columns by name when defining a materialized view "
                            "(got %s)",
                            x->column ? x->column
                            : x->func ? x->func
                                      : "?");
        if (!table_column(t, x->column))
            return hln_fail(err, HLN_EINVAL, "Undefined column name %s in table %s.%s", x->column,
                            ks, tn);
    }
    for (int i = 0; i < t->ncols; i++)
        if (t->cols[i].kind == HLN_COL_STATIC && selected(c->view_sel, t->cols[i].name))
            return hln_fail(err, HLN_EINVAL,
                            "Cannot include static column '%s' in materialized view '%s'",
                            t->cols[i].name, vn);

    /* PRIMARY KEY and CLUSTERING ORDER BY */
    const cql_name_list *pk = c->pk, *ck = c->ck;
    if (!pk)
        return hln_fail(err, HLN_EINVAL,
                        "Must provide at least one partition key column for materialized view "
                        "'%s'",
                        vn);
    for (int part = 0; part < 2; part++)
        for (const cql_name_list *l = part ? ck : pk; l; l = l->next) {
            const hln_column *col = table_column(t, l->name);
            if (!col || !selected(c->view_sel, l->name))
                return hln_fail(err, HLN_EINVAL,
                                "Unknown column '%s' referenced in PRIMARY KEY for materialized "
                                "view '%s'",
                                l->name, vn);
            bool dup = false;
            for (const cql_name_list *m = pk; m && m != l; m = m->next)
                dup |= !strcmp(m->name, l->name);
            for (const cql_name_list *m = ck; part && m && m != l; m = m->next)
                dup |= !strcmp(m->name, l->name);
            if (dup)
                return hln_fail(err, HLN_EINVAL,
                                "Duplicate column '%s' in PRIMARY KEY clause for materialized "
                                "view '%s'",
                                l->name, vn);
            if (hln_type_is_multicell(col->type)) {
                if (col->type->kind == HLN_T_UDT)
                    return hln_fail(err, HLN_EINVAL,
                                    "Invalid non-frozen user-defined type '%s' for PRIMARY KEY "
                                    "column '%s'",
                                    class_name(r, col->type), l->name);
                return hln_fail(err, HLN_EINVAL,
                                "Invalid non-frozen collection type '%s' for PRIMARY KEY column "
                                "'%s'",
                                class_name(r, col->type), l->name);
            }
            if (col->type->kind == HLN_T_COUNTER)
                return hln_fail(err, HLN_EINVAL,
                                "counter type is not supported for PRIMARY KEY column '%s'",
                                l->name);
            if (refs_duration(col->type))
                return hln_fail(err, HLN_EINVAL,
                                "duration type is not supported for PRIMARY KEY column '%s'",
                                l->name);
        }
    if (c->clustering_order) {
        const cql_name_list *l = ck;
        const cql_order *o = c->clustering_order;
        for (; l && o; l = l->next, o = o->next)
            if (strcmp(l->name, o->column)) break;
        if (l || o)
            return hln_fail(err, HLN_EINVAL,
                            "Clustering key columns must exactly match columns in CLUSTERING "
                            "ORDER BY directive");
    }
    {
        hln_buf b;
        hln_buf_init(&b);
        for (int i = 0; i < t->npk + t->nck; i++)
            if (!in_names(pk, t->cols[i].name) && !in_names(ck, t->cols[i].name))
                hln_buf_printf(&b, "%s%s", b.len ? ", " : "", t->cols[i].name);
        if (b.len) {
            int rc = hln_fail(err, HLN_EINVAL,
                              "Cannot create materialized view '%s' without primary key columns "
                              "%.*s from base table '%s'",
                              vn, (int)b.len, (const char *)b.data, tn);
            hln_buf_free(&b);
            return rc;
        }
        int nreg = 0;
        for (int part = 0; part < 2; part++)
            for (const cql_name_list *l = part ? ck : pk; l; l = l->next) {
                const hln_column *col = table_column(t, l->name);
                if (col->kind != HLN_COL_PARTITION_KEY && col->kind != HLN_COL_CLUSTERING) {
                    hln_buf_printf(&b, "%s%s", b.len ? ", " : "", l->name);
                    nreg++;
                }
            }
        if (nreg > 1) {
            int rc = hln_fail(err, HLN_EINVAL,
                              "Cannot include more than one non-primary key column in "
                              "materialized view primary key (got %.*s)",
                              (int)b.len, (const char *)b.data);
            hln_buf_free(&b);
            return rc;
        }
        hln_buf_free(&b);
    }

    /* WHERE clause */
    for (const cql_relation *w = c->view_where; w; w = w->next)
        if (w->token_cols)
            return hln_fail(err, HLN_EINVAL,
                            "Cannot use token relation when defining a materialized view");
    for (const cql_relation *w = c->view_where; w; w = w->next) {
        if (!w->column || !table_column(t, w->column))
            return hln_fail(err, HLN_EINVAL, "Undefined column name %s",
                            w->column ? w->column : "?");
    }
    {
        hln_buf b;
        hln_buf_init(&b);
        for (int part = 0; part < 2; part++)
            for (const cql_name_list *l = part ? ck : pk; l; l = l->next)
                if (!restricted(c->view_where, l->name))
                    hln_buf_printf(&b, "%s%s", b.len ? ", " : "", l->name);
        if (b.len) {
            int rc = hln_fail(err, HLN_EINVAL,
                              "Primary key columns %.*s must be restricted with 'IS NOT NULL' or "
                              "otherwise",
                              (int)b.len, (const char *)b.data);
            hln_buf_free(&b);
            return rc;
        }
        hln_buf_free(&b);
    }

    {
        hln_buf b;
        hln_buf_init(&b);
        for (const cql_relation *w = c->view_where; w; w = w->next) {
            const hln_column *bc = table_column(t, w->column);
            if (w->op != CQL_OP_IS_NOT_NULL && bc->kind != HLN_COL_PARTITION_KEY &&
                bc->kind != HLN_COL_CLUSTERING)
                hln_buf_printf(&b, "%s%s", b.len ? "," : "", w->column);
        }
        if (b.len) {
            int rc = hln_fail(err, HLN_EINVAL,
                              "Non-primary key columns can only be restricted with 'IS NOT NULL' "
                              "(got: %.*s restricted illegally)",
                              (int)b.len, (const char *)b.data);
            hln_buf_free(&b);
            return rc;
        }
        hln_buf_free(&b);
    }
    hln_view_restr *restr;
    int nrestr;
    int rrc = restrictions(r, t, c->view_where, &restr, &nrestr);
    if (rrc) return rrc;

    /* options */
    int nprops = 0;
    for (const cql_property *p = c->props; p; p = p->next)
        nprops++;
    hln_option *opts = hln_arena_alloc(&r->arena, sizeof *opts * (size_t)(nprops ? nprops : 1));
    if (!opts) return hln_fail(err, HLN_ENOMEM, "out of memory");
    int i = 0;
    for (const cql_property *p = c->props; p; p = p->next, i++) {
        if (p->map || !p->value) {
            /* a map option: as CREATE TABLE renders it */
            hln_buf b;
            hln_buf_init(&b);
            hln_buf_u8(&b, '{');
            for (const cql_map_entry *e = p->map; e; e = e->next) {
                if (e != p->map) hln_buf_put(&b, ", ", 2);
                hln_buf_printf(&b, "'%s': '%s'", e->key->text ? e->key->text : "",
                               e->value->text ? e->value->text : "");
            }
            hln_buf_u8(&b, '}');
            opts[i].value = hln_arena_strndup(&r->arena, (const char *)b.data, b.len);
            hln_buf_free(&b);
        } else {
            if (p->value->kind == CQL_TERM_BIND)
                return hln_fail(err, HLN_ESYNTAX, "Bind variables are not allowed in property '%s'",
                                p->name);
            opts[i].value = (char *)(p->value->text ? p->value->text : "");
        }
        opts[i].key = (char *)p->name;
        if (!opts[i].value) return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    for (i = 0; i < nprops; i++)
        if (!strcmp(opts[i].key, "default_time_to_live"))
            return hln_fail(err, HLN_EINVAL,
                            "Cannot set default_time_to_live for a materialized view. Data in a "
                            "materialized view always expire at the same time than the "
                            "corresponding data in the parent table.");

    /* the view's columns */
    int n = 0;
    for (int j = 0; j < t->ncols; j++)
        if (selected(c->view_sel, t->cols[j].name)) n++;
    hln_column_spec *cols = hln_arena_alloc(&r->arena, sizeof *cols * (size_t)(n ? n : 1));
    if (!cols) return hln_fail(err, HLN_ENOMEM, "out of memory");
    n = 0;
    for (int j = 0; j < t->ncols; j++) {
        const hln_column *bc = &t->cols[j];
        if (!selected(c->view_sel, bc->name)) continue;
        hln_column_spec *d = &cols[n++];
        *d = (hln_column_spec){
            .name = bc->name, .type = bc->type, .kind = HLN_COL_REGULAR, .position = -1};
        int pos = 0;
        for (const cql_name_list *l = pk; l; l = l->next, pos++)
            if (!strcmp(l->name, bc->name)) {
                d->kind = HLN_COL_PARTITION_KEY;
                d->position = pos;
            }
        pos = 0;
        for (const cql_name_list *l = ck; l; l = l->next, pos++)
            if (!strcmp(l->name, bc->name)) {
                d->kind = HLN_COL_CLUSTERING;
                d->position = pos;
                d->desc = bc->kind == HLN_COL_CLUSTERING && bc->desc;
                for (const cql_order *o = c->clustering_order; o; o = o->next)
                    if (!strcmp(o->column, bc->name)) d->desc = o->desc;
            }
    }
    const char *wt = where_text(r, c->view_where);
    if (!wt) return hln_fail(err, HLN_ENOMEM, "out of memory");
    *spec = (hln_table_spec){.ks = ks,
                             .name = vn,
                             .cols = cols,
                             .ncols = n,
                             .opts = opts,
                             .nopts = nprops,
                             .view_of = t,
                             .view_where = wt,
                             .view_include_all = c->view_sel == NULL,
                             .view_restr = restr,
                             .nview_restr = nrestr};
    return 0;
}

static void create_view(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_create_table *c = &st->stmt->u.create_table;
    hln_table_spec spec;
    int rc = create_view_checks(r, &spec);
    if (rc == 0) rc = catalog_create_table(st->eng->catalog, &spec, c->if_not_exists, &r->err);
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 1) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    r->result.kind = EX_SCHEMA_CHANGE;
    r->result.change = "CREATED";
    r->result.target = "TABLE";
    r->result.sc_ks = hln_arena_strdup(&r->arena, st->plan->ks);
    r->result.sc_name = hln_arena_strdup(&r->arena, c->name.name);
    r->result.warning = WARNING;
    build(r, st->plan->ks, c->name.name);
}

static void dropped(ex_request *r)
{
    ex_finish(r, ex_batch_error(r));
}

static void drop_view(ex_request *r)
{
    ex_state *st = ex_st(r);
    const cql_drop *d = &st->stmt->u.drop;
    const char *ks = st->plan->ks;
    if (local_system(ks)) {
        ex_finish(r,
                  hln_fail(&r->err, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.", ks));
        return;
    }
    int rc = catalog_drop_view(st->eng->catalog, ks, d->name.name, d->if_exists, &st->dropped,
                               &st->ndropped, &r->err);
    if (rc == HLN_ENOTFOUND) r->err.code = rc = HLN_EINVAL;
    if (rc < 0) {
        ex_finish(r, rc);
        return;
    }
    if (rc == 1) {
        r->result.kind = EX_VOID;
        ex_finish(r, 0);
        return;
    }
    r->result.kind = EX_SCHEMA_CHANGE;
    r->result.change = "DROPPED";
    r->result.target = "TABLE";
    r->result.sc_ks = hln_arena_strdup(&r->arena, ks);
    r->result.sc_name = hln_arena_strdup(&r->arena, d->name.name);
    for (int i = 0; i < st->ndropped; i++)
        for (int s = 0; s < st->eng->nshards; s++) {
            ex_op *op = ex_op_new(r, EX_OP_DROP, s);
            if (!op) {
                ex_finish(r, hln_fail(&r->err, HLN_ENOMEM, "out of memory"));
                return;
            }
            memcpy(op->table_id, st->dropped[i], 16);
        }
    ex_dispatch(r, dropped);
}

void ex_run_view_ddl(ex_request *r)
{
    switch (ex_st(r)->stmt->kind) {
    case CQL_CREATE_VIEW:
        create_view(r);
        return;
    case CQL_DROP_VIEW:
        drop_view(r);
        return;
    default:
        ex_run_alter_view(r);
        return;
    }
}
