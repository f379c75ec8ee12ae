/* modules: common types cql */
/*
 * test_parser.c — the CQL lexer and parser (src/cql): every supported
 * statement form and the tree it builds, literals and their kinds, identifier
 * folding and quoting, comments, bind-marker numbering, unreserved keywords
 * as names, and the errors: Cassandra-style messages with "line L:C" and the
 * offending token, lexical errors, and inputs too deep or too long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cql/cql.h"

static hln_arena arena;
static hln_error err;

static int setup(void **state)
{
    (void)state;
    hln_arena_init(&arena, 4096);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hln_arena_free(&arena);
    return 0;
}

/* Parses s, which must succeed, and checks its kind. */
static cql_stmt *ok(const char *s, cql_stmt_kind kind)
{
    cql_stmt *st = NULL;
    memset(&err, 0, sizeof(err));
    int rc = cql_parse(s, strlen(s), &arena, &st, &err);
    if (rc != 0) fail_msg("parse of [%s] failed: %d %s", s, rc, err.msg);
    assert_non_null(st);
    assert_int_equal(st->kind, kind);
    return st;
}

/* Parses s, which must fail with code; returns the message. */
static const char *bad_code(const char *s, size_t len, int code)
{
    cql_stmt *st = (cql_stmt *)1;
    memset(&err, 0, sizeof(err));
    int rc = cql_parse(s, len, &arena, &st, &err);
    if (rc != code)
        fail_msg("parse of [%s] gave %d (want %d): %s", s ? s : "(null)", rc, code, err.msg);
    assert_null(st);
    assert_int_equal(err.code, code);
    return err.msg;
}

static const char *bad(const char *s)
{
    return bad_code(s, strlen(s), HLN_ESYNTAX);
}

/* The message must start with prefix. */
static void bad_prefix(const char *s, const char *prefix)
{
    const char *m = bad(s);
    if (strncmp(m, prefix, strlen(prefix)) != 0)
        fail_msg("[%s]: message [%s] does not start with [%s]", s, m, prefix);
}

static void check_lit(const cql_term *t, hln_lit_kind kind, const char *text)
{
    assert_non_null(t);
    assert_int_equal(t->kind, CQL_TERM_LITERAL);
    assert_int_equal(t->lit, kind);
    assert_string_equal(t->text, text);
}

static void check_bind(const cql_term *t, int index, const char *name)
{
    assert_non_null(t);
    assert_int_equal(t->kind, CQL_TERM_BIND);
    assert_int_equal(t->bind_index, index);
    if (name)
        assert_string_equal(t->bind_name, name);
    else
        assert_null(t->bind_name);
}

static int count_names(const cql_name_list *l)
{
    int n = 0;
    for (; l; l = l->next)
        n++;
    return n;
}

/* ---- keyspaces --------------------------------------------------------- */

static void test_create_keyspace(void **state)
{
    (void)state;
    cql_stmt *s =
        ok("CREATE KEYSPACE IF NOT EXISTS Ks WITH replication = "
           "{'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = true",
           CQL_CREATE_KEYSPACE);
    const cql_create_keyspace *k = &s->u.create_keyspace;
    assert_string_equal(k->name, "ks");
    assert_true(k->if_not_exists);
    const cql_property *p = k->props;
    assert_non_null(p);
    assert_string_equal(p->name, "replication");
    assert_null(p->value);
    const cql_map_entry *e = p->map;
    check_lit(e->key, HLN_LIT_STRING, "class");
    check_lit(e->value, HLN_LIT_STRING, "SimpleStrategy");
    e = e->next;
    check_lit(e->key, HLN_LIT_STRING, "replication_factor");
    check_lit(e->value, HLN_LIT_INTEGER, "1");
    assert_null(e->next);
    p = p->next;
    assert_string_equal(p->name, "durable_writes");
    check_lit(p->value, HLN_LIT_BOOL, "true");
    assert_null(p->next);
    assert_int_equal(s->n_binds, 0);

    s = ok("create schema \"MyKs\" with replication = {};", CQL_CREATE_KEYSPACE);
    assert_string_equal(s->u.create_keyspace.name, "MyKs");
    assert_false(s->u.create_keyspace.if_not_exists);
    assert_null(s->u.create_keyspace.props->map);
    assert_null(s->u.create_keyspace.props->value);

    /* WITH is mandatory; a bind marker is no property value */
    bad_prefix("CREATE KEYSPACE ks", "line 0:-1 mismatched input '<EOF>' expecting K_WITH");
    bad("CREATE KEYSPACE ks WITH replication = ?");
}

static void test_drop_keyspace_and_use(void **state)
{
    (void)state;
    cql_stmt *s = ok("DROP KEYSPACE IF EXISTS Ks", CQL_DROP_KEYSPACE);
    assert_string_equal(s->u.drop.name.name, "ks");
    assert_null(s->u.drop.name.ks);
    assert_true(s->u.drop.if_exists);
    s = ok("drop keyspace ks;", CQL_DROP_KEYSPACE);
    assert_false(s->u.drop.if_exists);

    s = ok("USE \"MyKs\"", CQL_USE);
    assert_string_equal(s->u.use, "MyKs");
    s = ok("use MyKs ;", CQL_USE);
    assert_string_equal(s->u.use, "myks");
    bad("USE ks.t");
    bad("USE");
}

/* ---- tables ------------------------------------------------------------ */

static const cql_column_def *column(const cql_create_table *t, int i)
{
    const cql_column_def *c = t->columns;
    while (c && i-- > 0)
        c = c->next;
    assert_non_null(c);
    return c;
}

static void test_create_table(void **state)
{
    (void)state;
    cql_stmt *s =
        ok("CREATE TABLE IF NOT EXISTS Ks.Events (\n"
           "  sensor uuid, day date, ts timestamp, v double STATIC,\n"
           "  tags set<text>, meta map<text, int>, l list<frozen<tuple<int, text>>>,\n"
           "  emb vector<float, 384>, f frozen<set<bigint>>,\n"
           "  PRIMARY KEY ((sensor, day), ts, v)\n"
           ") WITH CLUSTERING ORDER BY (ts DESC, v ASC) AND comment = 'c' AND "
           "compaction = {'class': 'TimeWindowCompactionStrategy'} AND gc_grace_seconds = 0",
           CQL_CREATE_TABLE);
    const cql_create_table *t = &s->u.create_table;
    assert_string_equal(t->name.ks, "ks");
    assert_string_equal(t->name.name, "events");
    assert_true(t->if_not_exists);
    assert_false(t->compact_storage);

    assert_string_equal(column(t, 0)->name, "sensor");
    assert_string_equal(column(t, 0)->type->name, "uuid");
    assert_int_equal(column(t, 0)->type->nparams, 0);
    assert_string_equal(column(t, 2)->type->name, "timestamp");
    assert_true(column(t, 3)->is_static);
    assert_false(column(t, 3)->primary_key);
    assert_false(column(t, 2)->is_static);

    const cql_typeref *ty = column(t, 4)->type;
    assert_string_equal(ty->name, "set");
    assert_int_equal(ty->nparams, 1);
    assert_string_equal(ty->params[0]->name, "text");
    assert_false(ty->frozen);

    ty = column(t, 5)->type;
    assert_string_equal(ty->name, "map");
    assert_int_equal(ty->nparams, 2);
    assert_string_equal(ty->params[0]->name, "text");
    assert_string_equal(ty->params[1]->name, "int");

    ty = column(t, 6)->type;
    assert_string_equal(ty->name, "list");
    assert_int_equal(ty->nparams, 1);
    assert_string_equal(ty->params[0]->name, "tuple");
    assert_true(ty->params[0]->frozen);
    assert_int_equal(ty->params[0]->nparams, 2);
    assert_string_equal(ty->params[0]->params[1]->name, "text");

    ty = column(t, 7)->type;
    assert_string_equal(ty->name, "vector");
    assert_int_equal(ty->nparams, 2);
    assert_string_equal(ty->params[0]->name, "float");
    assert_string_equal(ty->params[1]->name, "384");

    ty = column(t, 8)->type;
    assert_string_equal(ty->name, "set");
    assert_true(ty->frozen);
    assert_string_equal(ty->params[0]->name, "bigint");
    assert_null(column(t, 8)->next);

    assert_int_equal(count_names(t->pk), 2);
    assert_string_equal(t->pk->name, "sensor");
    assert_string_equal(t->pk->next->name, "day");
    assert_int_equal(count_names(t->ck), 2);
    assert_string_equal(t->ck->name, "ts");
    assert_string_equal(t->ck->next->name, "v");

    const cql_order *o = t->clustering_order;
    assert_string_equal(o->column, "ts");
    assert_true(o->desc);
    assert_string_equal(o->next->column, "v");
    assert_false(o->next->desc);
    assert_null(o->next->next);

    const cql_property *p = t->props;
    assert_string_equal(p->name, "comment");
    check_lit(p->value, HLN_LIT_STRING, "c");
    p = p->next;
    assert_string_equal(p->name, "compaction");
    check_lit(p->map->value, HLN_LIT_STRING, "TimeWindowCompactionStrategy");
    p = p->next;
    assert_string_equal(p->name, "gc_grace_seconds");
    check_lit(p->value, HLN_LIT_INTEGER, "0");
    assert_null(p->next);
}

static void test_create_table_forms(void **state)
{
    (void)state;
    /* inline key, unreserved keywords as column names, trailing comma */
    cql_stmt *s = ok("CREATE TABLE t (key int PRIMARY KEY, type text, value blob, ttl int, "
                     "timestamp bigint, time time, date date, text text, values int, static int,"
                     " json int, distinct int, frozen int, exists int, per int, as int,)",
                     CQL_CREATE_TABLE);
    const cql_create_table *t = &s->u.create_table;
    assert_null(t->name.ks);
    assert_string_equal(t->name.name, "t");
    assert_null(t->pk);
    assert_null(t->ck);
    assert_string_equal(column(t, 0)->name, "key");
    assert_true(column(t, 0)->primary_key);
    assert_string_equal(column(t, 3)->name, "ttl");
    assert_string_equal(column(t, 4)->type->name, "bigint");
    assert_string_equal(column(t, 5)->name, "time");
    assert_string_equal(column(t, 5)->type->name, "time");
    assert_string_equal(column(t, 8)->name, "values");
    assert_string_equal(column(t, 9)->name, "static");
    assert_false(column(t, 9)->is_static);
    assert_string_equal(column(t, 15)->name, "as");

    s = ok("CREATE TABLE t (a int, b int, PRIMARY KEY (a)) WITH COMPACT STORAGE", CQL_CREATE_TABLE);
    t = &s->u.create_table;
    assert_true(t->compact_storage);
    assert_string_equal(t->pk->name, "a");
    assert_null(t->pk->next);
    assert_null(t->ck);

    s = ok("CREATE COLUMNFAMILY t (a int, b int, c int, PRIMARY KEY ((a), b, c))",
           CQL_CREATE_TABLE);
    t = &s->u.create_table;
    assert_int_equal(count_names(t->pk), 1);
    assert_int_equal(count_names(t->ck), 2);
    assert_null(t->props);

    /* the key clause may come first; quoted names keep case */
    s = ok("CREATE TABLE \"T\" (PRIMARY KEY (\"K\"), \"K\" \"MyType\")", CQL_CREATE_TABLE);
    t = &s->u.create_table;
    assert_string_equal(t->name.name, "T");
    assert_string_equal(t->pk->name, "K");
    assert_string_equal(column(t, 0)->type->name, "MyType");

    /* WITH mixes options in any order */
    s = ok("CREATE TABLE t (a int, b int, PRIMARY KEY (a, b)) WITH x = 1 AND CLUSTERING ORDER BY "
           "(b DESC) AND COMPACT STORAGE AND y = 'z'",
           CQL_CREATE_TABLE);
    t = &s->u.create_table;
    assert_true(t->compact_storage);
    assert_true(t->clustering_order->desc);
    assert_string_equal(t->props->name, "x");
    assert_string_equal(t->props->next->name, "y");

    /* a second PRIMARY KEY is Cassandra's InvalidRequest, raised while parsing */
    const char *m = bad_code(
        "CREATE TABLE ks.t (k int PRIMARY KEY, v int, PRIMARY KEY (v))",
        strlen("CREATE TABLE ks.t (k int PRIMARY KEY, v int, PRIMARY KEY (v))"), HLN_EINVAL);
    assert_string_equal(m,
                        "Multiple PRIMARY KEY specified for table 'ks.t' (exactly one required)");
    bad_code("CREATE TABLE t (k int PRIMARY KEY, v int PRIMARY KEY)",
             strlen("CREATE TABLE t (k int PRIMARY KEY, v int PRIMARY KEY)"), HLN_EINVAL);

    /* direction is required in CLUSTERING ORDER BY; set is reserved */
    bad("CREATE TABLE t (a int, b int, PRIMARY KEY (a, b)) WITH CLUSTERING ORDER BY (b)");
    bad("CREATE TABLE t (set int PRIMARY KEY)");
    bad("CREATE TABLE t (a frozen<int, int> PRIMARY KEY)");
    bad("CREATE TABLE t ()");
    bad("CREATE TABLE t (a int PRIMARY KEY) WITH");
}

static void test_drop_table(void **state)
{
    (void)state;
    cql_stmt *s = ok("DROP TABLE IF EXISTS Ks.\"Tab\"", CQL_DROP_TABLE);
    assert_string_equal(s->u.drop.name.ks, "ks");
    assert_string_equal(s->u.drop.name.name, "Tab");
    assert_true(s->u.drop.if_exists);
    s = ok("DROP TABLE t", CQL_DROP_TABLE);
    assert_null(s->u.drop.name.ks);
    assert_false(s->u.drop.if_exists);
    bad("DROP TABLE");
    bad("DROP TABLE a.b.c");
}

static void test_indexes(void **state)
{
    (void)state;
    cql_stmt *s = ok("CREATE CUSTOM INDEX IF NOT EXISTS \"Ix\" ON Ks.t (keys(m)) USING "
                     "'StorageAttachedIndex' WITH OPTIONS = {'case_sensitive': 'false'}",
                     CQL_CREATE_INDEX);
    const cql_create_index *c = &s->u.create_index;
    assert_true(c->custom);
    assert_true(c->if_not_exists);
    assert_string_equal(c->name, "Ix");
    assert_string_equal(c->table.ks, "ks");
    assert_string_equal(c->table.name, "t");
    assert_string_equal(c->using, "StorageAttachedIndex");
    assert_string_equal(c->targets->column, "m");
    assert_int_equal(c->targets->target, CQL_IXT_KEYS);
    assert_null(c->targets->next);
    assert_string_equal(c->props->name, "options");
    assert_non_null(c->props->map);
    s = ok("CREATE INDEX ON t (v)", CQL_CREATE_INDEX);
    c = &s->u.create_index;
    assert_false(c->custom);
    assert_null(c->name);
    assert_null(c->using);
    assert_int_equal(c->targets->target, CQL_IXT_SIMPLE);
    s = ok("create index on t (values(l), entries(m), full(f))", CQL_CREATE_INDEX);
    c = &s->u.create_index;
    assert_int_equal(c->targets->target, CQL_IXT_VALUES);
    assert_int_equal(c->targets->next->target, CQL_IXT_ENTRIES);
    assert_int_equal(c->targets->next->next->target, CQL_IXT_FULL);
    s = ok("CREATE INDEX ON t ()", CQL_CREATE_INDEX);
    assert_null(s->u.create_index.targets);
    /* custom and keys stay usable as names */
    s = ok("CREATE INDEX custom ON keys (keys)", CQL_CREATE_INDEX);
    assert_string_equal(s->u.create_index.name, "custom");
    assert_string_equal(s->u.create_index.table.name, "keys");
    s = ok("DROP INDEX IF EXISTS ks.i", CQL_DROP_INDEX);
    assert_string_equal(s->u.drop.name.ks, "ks");
    assert_true(s->u.drop.if_exists);
    s = ok("DESCRIBE INDEX ks.i", CQL_DESCRIBE);
    assert_int_equal(s->u.describe.what, CQL_DESC_INDEX);
    assert_string_equal(bad("CREATE INDEX ks.i ON t (v)"),
                        "line 1:15 mismatched input '.' expecting K_ON (CREATE INDEX ks[.]...)");
    bad("CREATE INDEX ON t v");
    bad("CREATE INDEX ON t (v) USING sai");
    /* m[k] = v in WHERE */
    s = ok("SELECT * FROM t WHERE m['a'] = 1", CQL_SELECT);
    assert_non_null(s->u.select.where->elem);
}

/* ---- DML ------------------------------------------------------------- */

static void test_insert(void **state)
{
    (void)state;
    cql_stmt *s = ok("INSERT INTO ks.t (k, \"V\", key) VALUES (1, 'x', ?) IF NOT EXISTS "
                     "USING TTL 3600 AND TIMESTAMP :ts;",
                     CQL_INSERT);
    const cql_insert *q = &s->u.insert;
    assert_string_equal(q->table.ks, "ks");
    assert_string_equal(q->table.name, "t");
    assert_int_equal(count_names(q->columns), 3);
    assert_string_equal(q->columns->next->name, "V");
    assert_string_equal(q->columns->next->next->name, "key");
    assert_int_equal(q->nvalues, 3);
    check_lit(q->values[0], HLN_LIT_INTEGER, "1");
    check_lit(q->values[1], HLN_LIT_STRING, "x");
    check_bind(q->values[2], 0, NULL);
    assert_true(q->if_not_exists);
    assert_false(q->json);
    check_lit(q->using.ttl, HLN_LIT_INTEGER, "3600");
    check_bind(q->using.timestamp, 1, "ts");
    assert_int_equal(s->n_binds, 2);
    assert_null(s->bind_names[0]);
    assert_string_equal(s->bind_names[1], "ts");

    s = ok("insert into t (a) values (null)", CQL_INSERT);
    q = &s->u.insert;
    assert_int_equal(q->values[0]->kind, CQL_TERM_NULL);
    assert_null(q->using.ttl);
    assert_null(q->using.timestamp);
    assert_false(q->if_not_exists);

    s = ok("INSERT INTO t (a) VALUES (1) USING TIMESTAMP 5 AND TTL 6", CQL_INSERT);
    check_lit(s->u.insert.using.timestamp, HLN_LIT_INTEGER, "5");
    check_lit(s->u.insert.using.ttl, HLN_LIT_INTEGER, "6");

    s = ok("INSERT INTO t JSON '{\"k\": 1}' IF NOT EXISTS", CQL_INSERT);
    q = &s->u.insert;
    assert_true(q->json);
    assert_null(q->columns);
    assert_int_equal(q->nvalues, 1);
    check_lit(q->values[0], HLN_LIT_STRING, "{\"k\": 1}");

    bad("INSERT INTO t (a) VALUES (1) USING TTL 'x'");
    bad("INSERT INTO t (a) VALUES (1) USING TTL 5 IF NOT EXISTS"); /* order is fixed */
    bad("INSERT INTO t () VALUES ()");
    bad("INSERT INTO t (a) VALUES");
}

static void test_update(void **state)
{
    (void)state;
    cql_stmt *s = ok("UPDATE ks.t USING TTL ? AND TIMESTAMP 7 SET v = 'x', n = -42, \"F\" = :f "
                     "WHERE k = 1 AND c >= ? IF EXISTS",
                     CQL_UPDATE);
    const cql_update *q = &s->u.update;
    assert_string_equal(q->table.ks, "ks");
    check_bind(q->using.ttl, 0, NULL);
    check_lit(q->using.timestamp, HLN_LIT_INTEGER, "7");
    const cql_assignment *a = q->set;
    assert_string_equal(a->column, "v");
    check_lit(a->value, HLN_LIT_STRING, "x");
    a = a->next;
    assert_string_equal(a->column, "n");
    check_lit(a->value, HLN_LIT_INTEGER, "-42");
    a = a->next;
    assert_string_equal(a->column, "F");
    check_bind(a->value, 1, "f");
    assert_null(a->next);
    const cql_relation *r = q->where;
    assert_string_equal(r->column, "k");
    assert_int_equal(r->op, CQL_OP_EQ);
    check_lit(r->term, HLN_LIT_INTEGER, "1");
    r = r->next;
    assert_string_equal(r->column, "c");
    assert_int_equal(r->op, CQL_OP_GE);
    check_bind(r->term, 2, NULL);
    assert_null(r->next);
    assert_true(q->if_exists);
    assert_int_equal(s->n_binds, 3);

    s = ok("update t set ttl = 1 where key = 2", CQL_UPDATE);
    assert_string_equal(s->u.update.set->column, "ttl");
    assert_string_equal(s->u.update.where->column, "key");
    assert_false(s->u.update.if_exists);
    assert_null(s->u.update.using.ttl);

    bad("UPDATE t SET v = 1"); /* WHERE is required */
    s = ok("UPDATE t SET v = 1 WHERE k = 1 IF v = 2 AND m['a'] > ? AND w IN (1, 2)", CQL_UPDATE);
    const cql_relation *cd = s->u.update.conds;
    assert_non_null(cd);
    assert_string_equal(cd->column, "v");
    check_lit(cd->term, HLN_LIT_INTEGER, "2");
    cd = cd->next;
    assert_int_equal(cd->op, CQL_OP_GT);
    check_lit(cd->elem, HLN_LIT_STRING, "a");
    check_bind(cd->term, 0, NULL);
    cd = cd->next;
    assert_int_equal(cd->op, CQL_OP_IN);
    assert_int_equal(cd->nin, 2);
    check_lit(cd->in_list[1], HLN_LIT_INTEGER, "2");
    assert_null(cd->next);
    assert_false(s->u.update.if_exists);
    bad("UPDATE t SET WHERE k = 1");
}

static void test_delete(void **state)
{
    (void)state;
    cql_stmt *s = ok("DELETE FROM t WHERE k = 1", CQL_DELETE);
    const cql_delete *q = &s->u.del;
    assert_null(q->columns);
    assert_string_equal(q->table.name, "t");
    assert_null(q->using.timestamp);
    assert_false(q->if_exists);

    s = ok("DELETE a, \"B\" FROM ks.t USING TIMESTAMP 99 WHERE k = ? AND c < 3 IF EXISTS",
           CQL_DELETE);
    q = &s->u.del;
    assert_non_null(q->columns);
    assert_non_null(q->columns->next);
    assert_null(q->columns->next->next);
    assert_string_equal(q->columns->next->column, "B");
    check_lit(q->using.timestamp, HLN_LIT_INTEGER, "99");
    check_bind(q->where->term, 0, NULL);
    assert_int_equal(q->where->next->op, CQL_OP_LT);
    assert_true(q->if_exists);

    bad("DELETE FROM t USING TTL 5 WHERE k = 1");
    bad("DELETE FROM t");
}

static void test_select(void **state)
{
    (void)state;
    cql_stmt *s = ok("SELECT * FROM t", CQL_SELECT);
    const cql_select *q = &s->u.select;
    assert_true(q->star);
    assert_null(q->selectors);
    assert_false(q->distinct);
    assert_false(q->json);
    assert_null(q->where);
    assert_null(q->order_by);
    assert_null(q->limit);
    assert_null(q->per_partition_limit);
    assert_false(q->allow_filtering);

    s = ok("SELECT JSON DISTINCT a AS x, b, \"C\" as \"Y\" FROM ks.t WHERE a = 1 AND b != 2 AND "
           "c <= 3 AND d > 4 AND e < 5 AND f >= 6 ORDER BY b DESC, c, d ASC PER PARTITION LIMIT 2 "
           "LIMIT ? ALLOW FILTERING;",
           CQL_SELECT);
    q = &s->u.select;
    assert_true(q->json);
    assert_true(q->distinct);
    assert_false(q->star);
    const cql_selector *x = q->selectors;
    assert_string_equal(x->column, "a");
    assert_string_equal(x->alias, "x");
    x = x->next;
    assert_string_equal(x->column, "b");
    assert_null(x->alias);
    x = x->next;
    assert_string_equal(x->column, "C");
    assert_string_equal(x->alias, "Y");
    assert_null(x->next);
    assert_string_equal(q->table.ks, "ks");
    static const cql_op ops[] = {CQL_OP_EQ, CQL_OP_NE, CQL_OP_LE, CQL_OP_GT, CQL_OP_LT, CQL_OP_GE};
    const cql_relation *r = q->where;
    for (size_t i = 0; i < HLN_ARRAY_LEN(ops); i++, r = r->next) {
        assert_non_null(r);
        assert_int_equal(r->op, ops[i]);
    }
    assert_null(r);
    const cql_order *o = q->order_by;
    assert_true(o->desc);
    assert_false(o->next->desc);
    assert_false(o->next->next->desc);
    assert_string_equal(o->next->next->column, "d");
    check_lit(q->per_partition_limit, HLN_LIT_INTEGER, "2");
    check_bind(q->limit, 0, NULL);
    assert_true(q->allow_filtering);

    /* json and distinct are also column names */
    s = ok("SELECT json FROM t", CQL_SELECT);
    assert_false(s->u.select.json);
    assert_string_equal(s->u.select.selectors->column, "json");
    s = ok("SELECT json, distinct FROM t", CQL_SELECT);
    assert_false(s->u.select.json);
    assert_false(s->u.select.distinct);
    assert_string_equal(s->u.select.selectors->next->column, "distinct");
    s = ok("SELECT JSON json FROM t", CQL_SELECT);
    assert_true(s->u.select.json);
    assert_string_equal(s->u.select.selectors->column, "json");
    s = ok("SELECT DISTINCT distinct FROM t", CQL_SELECT);
    assert_true(s->u.select.distinct);
    s = ok("SELECT distinct AS d FROM t", CQL_SELECT);
    assert_false(s->u.select.distinct);
    assert_string_equal(s->u.select.selectors->alias, "d");
    s = ok("SELECT JSON * FROM t", CQL_SELECT);
    assert_true(s->u.select.json);
    assert_true(s->u.select.star);
    s = ok("select key, value, ttl, timestamp, type from t where time > 1 limit 5", CQL_SELECT);
    assert_string_equal(s->u.select.selectors->next->next->next->column, "timestamp");
    check_lit(s->u.select.limit, HLN_LIT_INTEGER, "5");

    bad("SELECT FROM t");
    bad("SELECT * FROM t LIMIT 'x'");
    /* function selectors and token() relations */
    s = ok("SELECT COUNT(*), count(1) AS n, token(a, \"B\"), writetime(v), ttl(v), now() FROM t "
           "WHERE token(a, b) > ? AND token(a, b) <= -5",
           CQL_SELECT);
    x = s->u.select.selectors;
    assert_string_equal(x->func, "count");
    assert_true(x->star_arg);
    assert_null(x->column);
    x = x->next;
    assert_string_equal(x->func, "count");
    assert_string_equal(x->alias, "n");
    check_lit(x->args->term, HLN_LIT_INTEGER, "1");
    x = x->next;
    assert_string_equal(x->func, "token");
    assert_string_equal(x->args->column, "a");
    assert_string_equal(x->args->next->column, "B");
    x = x->next;
    assert_string_equal(x->func, "writetime");
    assert_string_equal(x->args->column, "v");
    x = x->next;
    assert_string_equal(x->func, "ttl");
    x = x->next;
    assert_string_equal(x->func, "now");
    assert_null(x->args);
    assert_false(x->star_arg);
    r = s->u.select.where;
    assert_null(r->column);
    assert_string_equal(r->token_cols->name, "a");
    assert_string_equal(r->token_cols->next->name, "b");
    assert_int_equal(r->op, CQL_OP_GT);
    check_bind(r->term, 0, NULL);
    assert_int_equal(r->next->op, CQL_OP_LE);
    r = ok("SELECT * FROM t WHERE token(a) > token(?)", CQL_SELECT)->u.select.where;
    assert_int_equal(r->term->kind, CQL_TERM_FUNC); /* token(values) as a term */
    assert_string_equal(r->term->text, "token");
    check_bind(r->term->elems[0], 0, NULL);
    bad("SELECT token FROM t"); /* reserved */
    bad("SELECT * FROM t ORDER BY");
    bad("SELECT * FROM t LIMIT 1 WHERE k = 1");
}

static void test_in(void **state)
{
    (void)state;
    cql_stmt *s = ok("SELECT * FROM t WHERE k IN (5)", CQL_SELECT);
    assert_int_equal(s->u.select.where->op, CQL_OP_IN);
    assert_int_equal(s->u.select.where->nin, 1);
    check_lit(s->u.select.where->in_list[0], HLN_LIT_INTEGER, "5");
    s = ok("SELECT * FROM t WHERE k IN ? AND c IN :cs", CQL_SELECT);
    assert_int_equal(s->u.select.where->op, CQL_OP_IN);
    check_bind(s->u.select.where->term, 0, NULL);
    check_bind(s->u.select.where->next->term, 1, "cs");
    s = ok("SELECT * FROM t WHERE k IN (1, 2)", CQL_SELECT);
    assert_int_equal(s->u.select.where->nin, 2);
    assert_null(s->u.select.where->term);
    /* user-defined functions: Cassandra 5.0's answer with UDFs disabled */
    const char *fn = "CREATE OR REPLACE FUNCTION ks.f (x int) RETURNS NULL ON NULL INPUT "
                     "RETURNS int LANGUAGE java AS 'return x;'";
    bad_code(fn, strlen(fn), HLN_EINVAL);
    s = ok("SELECT * FROM t WHERE k IN ()", CQL_SELECT);
    assert_int_equal(s->u.select.where->nin, 0);
    assert_non_null(s->u.select.where->in_list);
}

/* ---- lexical details ----------------------------------------------------- */

static const cql_term *value0(const char *lit)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "INSERT INTO t (a) VALUES (%s)", lit);
    cql_stmt *s = ok(buf, CQL_INSERT);
    return s->u.insert.values[0];
}

static void test_literals(void **state)
{
    (void)state;
    check_lit(value0("'it''s'"), HLN_LIT_STRING, "it's");
    check_lit(value0("''"), HLN_LIT_STRING, "");
    check_lit(value0("''''"), HLN_LIT_STRING, "'");
    check_lit(value0("'a\nb -- not a comment'"), HLN_LIT_STRING, "a\nb -- not a comment");
    check_lit(value0("$$it's $ a \"pg\" string$$"), HLN_LIT_STRING, "it's $ a \"pg\" string");
    check_lit(value0("$$$$"), HLN_LIT_STRING, "");
    check_lit(value0("'h\xc3\xa9llo'"), HLN_LIT_STRING, "h\xc3\xa9llo");
    check_lit(value0("0"), HLN_LIT_INTEGER, "0");
    check_lit(value0("-17"), HLN_LIT_INTEGER, "-17");
    check_lit(value0("123456789012345678901234567890"), HLN_LIT_INTEGER,
              "123456789012345678901234567890");
    check_lit(value0("1.5"), HLN_LIT_FLOAT, "1.5");
    check_lit(value0("-0.25"), HLN_LIT_FLOAT, "-0.25");
    check_lit(value0("1."), HLN_LIT_FLOAT, "1.");
    check_lit(value0("1e10"), HLN_LIT_FLOAT, "1e10");
    check_lit(value0("-2.5E-3"), HLN_LIT_FLOAT, "-2.5E-3");
    check_lit(value0("3e+2"), HLN_LIT_FLOAT, "3e+2");
    check_lit(value0("NaN"), HLN_LIT_FLOAT, "NaN");
    check_lit(value0("nan"), HLN_LIT_FLOAT, "NaN");
    check_lit(value0("-NaN"), HLN_LIT_FLOAT, "NaN");
    check_lit(value0("Infinity"), HLN_LIT_FLOAT, "Infinity");
    check_lit(value0("-infinity"), HLN_LIT_FLOAT, "-Infinity");
    check_lit(value0("TRUE"), HLN_LIT_BOOL, "true");
    check_lit(value0("False"), HLN_LIT_BOOL, "false");
    check_lit(value0("123e4567-e89b-12d3-a456-426614174000"), HLN_LIT_UUID,
              "123e4567-e89b-12d3-a456-426614174000");
    check_lit(value0("ABCDEF01-e89b-12d3-a456-426614174000"), HLN_LIT_UUID,
              "ABCDEF01-e89b-12d3-a456-426614174000");
    check_lit(value0("0xCAFEbabe"), HLN_LIT_HEX, "0xCAFEbabe");
    check_lit(value0("0x"), HLN_LIT_HEX, "0x");
    assert_int_equal(value0("NULL")->kind, CQL_TERM_NULL);
    assert_int_equal(value0("null")->kind, CQL_TERM_NULL);

    /* literal positions are byte offsets into the statement */
    assert_int_equal(value0("'x'")->pos, (int)strlen("INSERT INTO t (a) VALUES ("));

    /* unary minus on a term (Cassandra 5.0's termAddition): 0 - 5 */
    assert_int_equal(value0("- 5")->kind, CQL_TERM_OP);
    bad("INSERT INTO t (a) VALUES (.5)");
    bad("INSERT INTO t (a) VALUES (1x)");    /* 1 then the identifier x */
    bad("INSERT INTO t (a) VALUES (1h-1m)"); /* 1h then the duration -1m */
    bad("INSERT INTO t (a) VALUES (P1M2Y)"); /* an identifier: P1M is shorter */
    bad("INSERT INTO t (a) VALUES (PT)");    /* P and PT alone are identifiers */

    /* durations: the unit form (longest match, any case) and ISO 8601 */
    check_lit(value0("1h"), HLN_LIT_DURATION, "1h");
    check_lit(value0("1h30m"), HLN_LIT_DURATION, "1h30m");
    check_lit(value0("-2w"), HLN_LIT_DURATION, "-2w");
    check_lit(value0("1y2mo3w4d5h6m7s8ms9us10ns"), HLN_LIT_DURATION, "1y2mo3w4d5h6m7s8ms9us10ns");
    check_lit(value0("1MO2MS3NS"), HLN_LIT_DURATION, "1MO2MS3NS");
    check_lit(value0("1\xc2\xb5s"), HLN_LIT_DURATION, "1\xc2\xb5s");
    check_lit(value0("P1Y2M3DT4H5M6S"), HLN_LIT_DURATION, "P1Y2M3DT4H5M6S");
    check_lit(value0("PT0S"), HLN_LIT_DURATION, "PT0S");
    check_lit(value0("P1YT"), HLN_LIT_DURATION, "P1YT");
    check_lit(value0("P2W"), HLN_LIT_DURATION, "P2W");
    check_lit(value0("-P2W"), HLN_LIT_DURATION, "-P2W");
    check_lit(value0("P0001-02-03T04:05:06"), HLN_LIT_DURATION, "P0001-02-03T04:05:06");
    check_lit(value0("-P0001-02-03T04:05:06"), HLN_LIT_DURATION, "-P0001-02-03T04:05:06");
    /* not durations */
    check_lit(value0("1e5"), HLN_LIT_FLOAT, "1e5");
    check_lit(value0("1d2e4567-e89b-12d3-a456-426614174000"), HLN_LIT_UUID,
              "1d2e4567-e89b-12d3-a456-426614174000");
}

static void test_identifiers(void **state)
{
    (void)state;
    cql_stmt *s = ok("SeLeCt MixedCase, \"MixedCase\", \"with \"\"quotes\"\"\", \"select\", "
                     "\"\xc3\xa9t\xc3\xa9\" FrOm KS.Tab",
                     CQL_SELECT);
    const cql_selector *x = s->u.select.selectors;
    assert_string_equal(x->column, "mixedcase");
    x = x->next;
    assert_string_equal(x->column, "MixedCase");
    x = x->next;
    assert_string_equal(x->column, "with \"quotes\"");
    x = x->next;
    assert_string_equal(x->column, "select");
    x = x->next;
    assert_string_equal(x->column, "\xc3\xa9t\xc3\xa9");
    assert_string_equal(s->u.select.table.ks, "ks");
    assert_string_equal(s->u.select.table.name, "tab");

    s = ok("select a_1, b2_ from t", CQL_SELECT);
    assert_string_equal(s->u.select.selectors->next->column, "b2_");

    /* reserved words are not identifiers; "" is no name */
    bad_prefix("SELECT from FROM t", "line 1:7 ");
    bad("SELECT * FROM select");
    bad("CREATE TABLE t (token int PRIMARY KEY)");
    bad("CREATE TABLE t (k int PRIMARY KEY, order int)");
    bad("SELECT \"\" FROM t");
    bad("SELECT _a FROM t");
}

static void test_comments(void **state)
{
    (void)state;
    cql_stmt *s = ok("-- leading\n/* block\n comment */ SELECT /**/ a // to end of line\n"
                     "FROM t -- trailing, no newline",
                     CQL_SELECT);
    assert_string_equal(s->u.select.selectors->column, "a");
    s = ok("SELECT a FROM t; ; -- done\n", CQL_SELECT);
    s = ok("SELECT a FROM t /* a * b ** / */;", CQL_SELECT);
    s = ok("\r\n\tSELECT\ta\r\nFROM\tt\r\n", CQL_SELECT);
    assert_string_equal(s->u.select.table.name, "t");
}

static void test_binds(void **state)
{
    (void)state;
    cql_stmt *s = ok("UPDATE t USING TIMESTAMP :ts SET a = ?, b = :Bee, c = :\"Cee\" "
                     "WHERE k = ? AND c IN ?",
                     CQL_UPDATE);
    assert_int_equal(s->n_binds, 6);
    assert_string_equal(s->bind_names[0], "ts");
    assert_null(s->bind_names[1]);
    assert_string_equal(s->bind_names[2], "bee");
    assert_string_equal(s->bind_names[3], "Cee");
    assert_null(s->bind_names[4]);
    assert_null(s->bind_names[5]);
    check_bind(s->u.update.using.timestamp, 0, "ts");
    check_bind(s->u.update.set->value, 1, NULL);
    check_bind(s->u.update.set->next->next->value, 3, "Cee");
    check_bind(s->u.update.where->next->term, 5, NULL);

    /* the same name twice gives two markers; keywords are fine names */
    s = ok("SELECT * FROM t WHERE a = :key AND b = :key AND c = : ttl LIMIT :limit2", CQL_SELECT);
    assert_int_equal(s->n_binds, 4);
    assert_string_equal(s->bind_names[0], "key");
    assert_string_equal(s->bind_names[1], "key");
    assert_string_equal(s->bind_names[2], "ttl");
    check_bind(s->u.select.limit, 3, "limit2");

    s = ok("SELECT * FROM t", CQL_SELECT);
    assert_int_equal(s->n_binds, 0);

    bad("SELECT * FROM ?");
    /* a marker is a selector (the analyzer refuses it: no type) */
    ok("SELECT ? FROM t", CQL_SELECT);
    bad("SELECT * FROM t WHERE a = :");
}

/* ---- errors ---------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
    (void)state;
    /* these four are Cassandra 5.0's messages, verbatim */
    assert_string_equal(bad("CAN I HAZ CQL"),
                        "line 1:0 no viable alternative at input 'CAN' ([CAN]...)");
    assert_string_equal(bad("INSERT INTO things(id,n) VALUES()"),
                        "line 1:32 no viable alternative at input ')' "
                        "(... things(id,n) VALUES([)])");
    assert_string_equal(bad("SELECT"), "line 0:-1 no viable alternative at input '<EOF>'");
    assert_string_equal(bad("SELECT * FORM t"),
                        "line 1:9 mismatched input 'FORM' expecting K_FROM (SELECT * [FORM]...)");
    assert_string_equal(bad("SELECT * FROM t x"),
                        "line 1:16 no viable alternative at input 'x' (SELECT * FROM [t] x)");
    assert_string_equal(bad("SELECT * FROM t; SELECT * FROM t"),
                        "line 1:17 mismatched input 'SELECT' expecting EOF "
                        "(SELECT * FROM t; [SELECT]...)");
    /* the snippet starts ten ANTLR tokens back, white space included */
    assert_string_equal(bad("SELECT a, b, c, d, e FROM t x"),
                        "line 1:28 no viable alternative at input 'x' (...c, d, e FROM [t] x)");
    assert_string_equal(bad("SELECT a,b,c,d,e,f,g\nFROM t x"),
                        "line 2:7 no viable alternative at input 'x' (...d,e,f,gFROM [t] x)");
    bad_prefix("SELCT * FROM t", "line 1:0 no viable alternative at input 'SELCT'");
    bad_prefix("SELECT * FROM t WHERE", "line 0:-1 no viable alternative at input '<EOF>'");
    bad_prefix("INSERT INTO t (a) VALUES (1", "line 0:-1 mismatched input '<EOF>' expecting ')'");
    bad_prefix("SELECT a FROM t LIMIT 5 WHERE a = 1",
               "line 1:24 mismatched input 'WHERE' expecting EOF");
    /* lines are 1-based, columns 0-based, tabs count one */
    bad_prefix("SELECT a\nFROM t\n\tWHERE a = 1 AND", "line 0:-1 ");
    bad_prefix("SELECT a\nFROM t\n\tWHERE a == 1", "line 3:10 no viable alternative at input '='");
    bad_prefix("SELECT a\r\n  FROM t LIMIT x", "line 2:15 ");
    /* columns count characters (UTF-16 units), not bytes */
    bad_prefix("SELECT \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\" x FROM t", "line 1:14 ");
    /* strings and quoted names are shown by their value */
    bad_prefix("SELECT * FROM t WHERE 'k' = 1", "line 1:22 no viable alternative at input 'k'");
    bad_prefix("SELECT * FROM t t2", "line 1:16 no viable alternative at input 't2'");

    /* ANTLR's view of the error (Cassandra 5.0.9's answers): the snippet
     * brackets where the failed decision started and ends where the parser
     * had read; after optional parts the one token that must come */
    assert_string_equal(bad("UPDATE kv SET a = 1;"),
                        "line 1:19 mismatched input ';' expecting K_WHERE");
    assert_string_equal(bad("DELETE FROM ks.kv;"),
                        "line 1:17 mismatched input ';' expecting K_WHERE (DELETE FROM ks.kv[;])");
    assert_string_equal(
        bad("SELECT * FROM t WHERE a = ks.b;"),
        "line 1:30 no viable alternative at input ';' (...FROM t WHERE a = [ks].b...)");
    assert_string_equal(bad("UPDATE t SET a = a x WHERE k = 1;"),
                        "line 1:19 no viable alternative at input 'x' (UPDATE t SET a = [a] x...)");
    assert_string_equal(bad("CREATE KEYSPACE k WITH replication = x;"),
                        "line 1:37 no viable alternative at input 'x' "
                        "(CREATE KEYSPACE k WITH [replication] =...)");
    assert_string_equal(bad("SELECT a AS b c FROM t;"),
                        "line 1:14 mismatched input 'c' expecting K_FROM (SELECT a AS b [c]...)");
    assert_string_equal(bad("INSERT INTO t (a, b) VALUES 1, 2;"),
                        "line 1:28 mismatched input '1' expecting '(' (... (a, b) VALUES [1]...)");
    assert_string_equal(bad("BEGIN BATCH x;"),
                        "line 1:12 mismatched input 'x' expecting K_APPLY (BEGIN BATCH [x]...)");
    /* numbers and UUIDs: the lexer's DFA never backs up */
    assert_string_equal(bad("INSERT INTO mi (k, u) VALUES (20, 12345678-1);"),
                        "line 1:44 mismatched character ')' expecting set null");
    assert_string_equal(bad("INSERT INTO mi (k, u) VALUES (20, 1e);"),
                        "line 1:36 no viable alternative at character ')'");
    assert_string_equal(bad("INSERT INTO mi (k, u) VALUES (20, 1e+);"),
                        "line 1:37 required (...)+ loop did not match anything at character ')'");

    /* empty and blank input */
    assert_string_equal(bad(""), "line 0:-1 no viable alternative at input '<EOF>'");
    bad_code(NULL, 0, HLN_ESYNTAX);
    bad("   \n\t ");
    bad("-- only a comment");
    bad(";");

    /* lexical errors */
    assert_string_equal(bad("SELECT 'abc"), "line 1:11 mismatched character '<EOF>' expecting '''");
    assert_string_equal(bad("SELECT \"abc"),
                        "line 1:11 mismatched character '<EOF>' expecting '\"'");
    assert_string_equal(bad("SELECT $$abc$"),
                        "line 1:13 mismatched character '<EOF>' expecting '$'");
    assert_string_equal(bad("SELECT a /* x"),
                        "line 1:13 mismatched character '<EOF>' expecting '*'");
    assert_string_equal(bad("SELECT a FROM t WHERE k = @"),
                        "line 1:26 no viable alternative at character '@'");
    assert_string_equal(bad("SELECT a FROM t WHERE k ! 1"),
                        "line 1:24 no viable alternative at character '!'");
    assert_string_equal(bad("select \xc3\xa9 from t"),
                        "line 1:7 no viable alternative at character '\xc3\xa9'");
    bad("SELECT $ FROM t");
    /* an earlier parse error wins over a later lexical one */
    bad_prefix("SELECT * FORM t WHERE 'oops", "line 1:9 mismatched input 'FORM'");

    /* NUL bytes are rejected, also inside strings */
    static const char nul[] = "SELECT * FROM t WHERE k = 'a\0b'";
    assert_string_equal(bad_code(nul, sizeof(nul) - 1, HLN_ESYNTAX),
                        "line 1:28 no viable alternative at character '\\u0000'");
    /* the text need not be NUL-terminated: only len bytes are read */
    bad_code("SELECT * FROM t", 8, HLN_ESYNTAX);
    {
        cql_stmt *st = NULL;
        assert_int_equal(cql_parse("SELECT * FROM tXXXX", 15, &arena, &st, &err), 0);
        assert_string_equal(st->u.select.table.name, "t");
    }
}

static void test_limits(void **state)
{
    (void)state;
    /* deep type nesting overflows the parser stack: a syntax error */
    size_t depth = 2000;
    size_t cap = depth * 12 + 64;
    char *buf = malloc(cap);
    assert_non_null(buf);
    strcpy(buf, "CREATE TABLE t (a ");
    for (size_t i = 0; i < depth; i++)
        strcat(buf, "frozen<");
    strcat(buf, "int");
    for (size_t i = 0; i < depth; i++)
        strcat(buf, ">");
    strcat(buf, " PRIMARY KEY)");
    const char *m = bad(buf);
    assert_non_null(strstr(m, "too deeply nested"));
    free(buf);

    /* moderate nesting is fine */
    cql_stmt *s = ok("CREATE TABLE t (a list<list<list<list<list<list<list<list<int>>>>>>>> "
                     "PRIMARY KEY)",
                     CQL_CREATE_TABLE);
    assert_string_equal(s->u.create_table.columns->type->params[0]->params[0]->name, "list");

    /* long lists are left-recursive: no stack growth */
    size_t ncols = 5000;
    cap = ncols * 24 + 64;
    buf = malloc(cap);
    assert_non_null(buf);
    size_t len = (size_t)sprintf(buf, "CREATE TABLE t (k int PRIMARY KEY");
    for (size_t i = 0; i < ncols; i++)
        len += (size_t)sprintf(buf + len, ", c%zu int", i);
    strcpy(buf + len, ")");
    s = ok(buf, CQL_CREATE_TABLE);
    int n = 0;
    for (const cql_column_def *c = s->u.create_table.columns; c; c = c->next)
        n++;
    assert_int_equal(n, (int)ncols + 1);

    len = (size_t)sprintf(buf, "SELECT * FROM t WHERE k = ?");
    for (size_t i = 0; i < 3000; i++)
        len += (size_t)sprintf(buf + len, " AND c = ?");
    s = ok(buf, CQL_SELECT);
    assert_int_equal(s->n_binds, 3001);
    const cql_relation *r = s->u.select.where;
    for (int i = 0; i < 3001; i++, r = r->next)
        assert_int_equal(r->term->bind_index, i);
    free(buf);

    /* a very long error token is cut in the message */
    buf = malloc(3000);
    assert_non_null(buf);
    strcpy(buf, "SELECT * FROM t ");
    memset(buf + 16, 'x', 2000);
    buf[2016] = 0;
    m = bad(buf);
    assert_true(strlen(m) < sizeof(err.msg));
    assert_non_null(strstr(m, "no viable alternative at input 'xxx"));
    free(buf);
}

/* Random mutations of valid statements never crash and always answer with
 * a tree or a documented error. */
static void test_mutations(void **state)
{
    (void)state;
    static const char *seeds[] = {
        "CREATE TABLE ks.t (a int, b text, c list<int>, PRIMARY KEY ((a), b)) WITH "
        "CLUSTERING ORDER BY (b DESC) AND x = {'a': 1}",
        "INSERT INTO t (a, b) VALUES (?, 'x''y') IF NOT EXISTS USING TTL 5",
        "SELECT JSON DISTINCT a AS b FROM t WHERE a IN (1) ORDER BY c PER PARTITION LIMIT 1",
        "UPDATE t SET a = :a WHERE b = $$x$$ IF EXISTS",
        "DELETE a FROM t USING TIMESTAMP 1 WHERE b = 0x12 /* c */",
    };
    const char alphabet[] = "()<>,;.*=?:'\"$-/ \n{}aZ09eE";
    unsigned seed = 12345;
    char buf[512];
    for (int round = 0; round < 20000; round++) {
        const char *src = seeds[round % HLN_ARRAY_LEN(seeds)];
        size_t n = strlen(src);
        memcpy(buf, src, n);
        int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
        for (int e = 0; e < edits; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % (n ? n : 1);
            seed = seed * 1103515245u + 12345u;
            switch ((seed >> 16) % 3) {
            case 0: /* replace */
                buf[at] = alphabet[(seed >> 4) % (sizeof(alphabet) - 1)];
                break;
            case 1: /* delete */
                if (n > 0) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            default: /* truncate */
                n = at;
                break;
            }
        }
        cql_stmt *st = NULL;
        hln_error e;
        memset(&e, 0, sizeof(e));
        int rc = cql_parse(buf, n, &arena, &st, &e);
        if (rc == 0) {
            assert_non_null(st);
        } else {
            assert_null(st);
            assert_int_equal(e.code, rc);
            assert_true(e.msg[0] != 0);
            assert_true(rc == HLN_ESYNTAX || rc == HLN_EINVAL || rc == HLN_EUNSUPPORTED);
        }
        if (round % 1000 == 999) hln_arena_reset(&arena);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_keyspace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_keyspace_and_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_table_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identifiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
