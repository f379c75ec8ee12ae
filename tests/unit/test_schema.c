/* modules: common types schema */
/*
 * test_schema.c — snapshots, the catalog (DDL, errors, persistence) and the
 * system tables' definitions and generated rows.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "schema/schema.h"
#include "schema/schema_int.h"

/* ---- fixtures --------------------------------------------------------- */

typedef struct fx {
    char dir[512];
    hln_catalog *cat;
    size_t mem0;
} fx;

static void rm_tree(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    const char *base = getenv("HLN_TEST_TMP");
    if (!base) base = "/tmp";
    char mk[600];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", base);
    if (system(mk) != 0) return -1;
    snprintf(f->dir, sizeof f->dir, "%s/schema-XXXXXX", base);
    if (!mkdtemp(f->dir)) return -1;
    f->mem0 = hln_mem_in_use();
    hln_error err = {0};
    if (catalog_open(&f->cat, f->dir, &err) != 0) {
        fprintf(stderr, "catalog_open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    catalog_close(f->cat);
    assert_int_equal(hln_mem_in_use(), f->mem0);
    rm_tree(f->dir);
    free(f);
    return 0;
}

static void reopen(fx *f)
{
    catalog_close(f->cat);
    f->cat = NULL;
    hln_error err = {0};
    assert_int_equal(catalog_open(&f->cat, f->dir, &err), 0);
}

static hln_option O(const char *k, const char *v)
{
    return (hln_option){(char *)k, (char *)v};
}

static int mk_ks(fx *f, const char *name, bool ine, hln_error *err)
{
    hln_option repl[2] = {O("class", "SimpleStrategy"), O("replication_factor", "1")};
    hln_keyspace_spec ks = {name, repl, 2, true};
    return catalog_create_keyspace(f->cat, &ks, ine, err);
}

static const hln_type *T(const char *n)
{
    const hln_type *t = hln_type_by_name(n);
    assert_non_null(t);
    return t;
}

/* CREATE TABLE ks.name (k int, c2 text, v text, c1 bigint, s int static, a blob,
 *   PRIMARY KEY (k, c1, c2)) WITH CLUSTERING ORDER BY (c1 DESC) [opts] */
static int mk_table(fx *f, const char *ks, const char *name, const hln_option *opts, int nopts,
                    bool ine, hln_error *err)
{
    hln_column_spec cols[] = {
        {"k", T("int"), HLN_COL_PARTITION_KEY, 0, false},
        {"c2", T("text"), HLN_COL_CLUSTERING, 1, false},
        {"v", T("text"), HLN_COL_REGULAR, -1, false},
        {"c1", T("bigint"), HLN_COL_CLUSTERING, 0, true},
        {"s", T("int"), HLN_COL_STATIC, -1, false},
        {"a", T("blob"), HLN_COL_REGULAR, -1, false},
    };
    hln_table_spec t = {ks, name, cols, 6, opts, nopts, NULL, NULL, false, NULL, 0};
    return catalog_create_table(f->cat, &t, ine, err);
}

/* ---- reading serialized values ---------------------------------------- */

static int32_t be32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static void assert_text(hln_bytes v, const char *s)
{
    assert_int_equal(v.len, (int32_t)strlen(s));
    assert_memory_equal(v.p, s, strlen(s));
}

static int col_index(const hln_table *t, const char *name)
{
    const hln_column *c = table_column(t, name);
    assert_non_null(c);
    return (int)(c - t->cols);
}

/* Renders a serialized map<text,text> / set<text> as "k=v,k=v" / "a,b". */
static void render_coll(hln_bytes v, bool map, char *out, size_t cap)
{
    assert_true(v.len >= 4);
    int n = be32(v.p), off = 4;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        for (int part = 0; part < (map ? 2 : 1); part++) {
            int l = be32(v.p + off);
            off += 4;
            assert_true(l >= 0 && off + l <= v.len);
            size_t cur = strlen(out);
            snprintf(out + cur, cap - cur, "%s%.*s", part ? "=" : (i ? "," : ""), l,
                     (const char *)v.p + off);
            off += l;
        }
    }
    assert_int_equal(off, v.len);
}

/* ---- tests ------------------------------------------------------------ */

static void test_md5_and_system_ids(void **state)
{
    (void)state;
    static const struct {
        const char *in, *hex;
    } V[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        uint8_t d[16];
        char hex[33];
        hln_md5(V[i].in, strlen(V[i].in), NULL, 0, d);
        for (int j = 0; j < 16; j++)
            snprintf(hex + 2 * j, 3, "%02x", d[j]);
        assert_string_equal(hex, V[i].hex);
    }
    /* Cassandra's ids for its system tables (name-based uuids) */
    hln_error err = {0};
    hln_catalog *c;
    char dir[600];
    const char *base = getenv("HLN_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/schema-ids-%d", base ? base : "/tmp", (int)getpid());
    char nested[700];
    snprintf(nested, sizeof nested, "%s/a/b", dir); /* parents are created too */
    assert_int_equal(catalog_open(&c, nested, &err), 0);
    hln_schema *s = catalog_acquire(c);
    char id[37];
    hln_uuid_format(schema_table(s, "system", "local")->id, id);
    assert_string_equal(id, "7ad54392-bcdd-35a6-8417-4e047860b377");
    hln_uuid_format(schema_table(s, "system", "peers")->id, id);
    assert_string_equal(id, "37f71aca-7dc2-383b-a706-72528af04d4f");
    hln_uuid_format(schema_table(s, "system_schema", "tables")->id, id);
    assert_string_equal(id, "afddfb9d-bc1e-3068-8056-eed6c302ba09");
    schema_release(s);
    catalog_close(c);
    rm_tree(dir);
}

static void test_type_parse(void **state)
{
    (void)state;
    const hln_type *t = hln_type_parse("set<varchar>");
    assert_non_null(t);
    assert_int_equal(t->kind, HLN_T_SET);
    assert_string_equal(t->cql_name, "set<text>");
    assert_int_equal(t->nparams, 1);
    assert_ptr_equal(t->params[0], hln_type_by_name("text"));
    assert_ptr_equal(hln_type_parse("set< text >"), t);

    const hln_type *m = hln_type_parse("FROZEN<map<text,blob>>");
    assert_non_null(m);
    assert_int_equal(m->kind, HLN_T_MAP);
    assert_string_equal(m->cql_name, "frozen<map<text, blob>>");
    assert_ptr_equal(m->params[1], hln_type_by_name("blob"));
    assert_ptr_not_equal(m, hln_type_parse("map<text, blob>"));

    const hln_type *n = hln_type_parse("map<text, frozen<list<int>>>");
    assert_non_null(n);
    assert_string_equal(n->cql_name, "map<text, frozen<list<int>>>");
    assert_ptr_equal(hln_type_parse("int"), hln_type_by_name("int"));

    assert_null(hln_type_parse("map<text>"));
    assert_null(hln_type_parse("list<int"));
    assert_null(hln_type_parse("frozen<int>"));
    assert_null(hln_type_parse("nosuchtype"));
    assert_null(hln_type_parse("set<int> x"));
}

static void test_map_parse(void **state)
{
    (void)state;
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_option *kv;
    int n;
    assert_int_equal(schema_map_parse(&a, "{'b': 'x''y', 'a' : 4}", &kv, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(kv[0].key, "a");
    assert_string_equal(kv[0].value, "4");
    assert_string_equal(kv[1].value, "x'y");
    assert_string_equal(schema_map_format(&a, kv, n), "{'a': '4', 'b': 'x''y'}");
    assert_int_equal(schema_map_parse(&a, " { } ", &kv, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(schema_map_parse(&a, "{'a' 'b'}", &kv, &n), HLN_EINVAL);
    assert_int_equal(schema_map_parse(&a, "{'a': 'b'", &kv, &n), HLN_EINVAL);
    assert_int_equal(schema_map_parse(&a, "'a'", &kv, &n), HLN_EINVAL);
    hln_arena_free(&a);
}

static void test_keyspace_ddl(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    hln_schema *s0 = catalog_acquire(f->cat);

    assert_int_equal(mk_ks(f, "ks1", false, &err), 0);
    assert_int_equal(mk_ks(f, "ks1", true, &err), 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(mk_ks(f, "ks1", false, &err), HLN_EEXISTS);
    assert_int_equal(err.code, HLN_EEXISTS);
    assert_string_equal(err.msg, "Cannot add existing keyspace \"ks1\"");
    assert_string_equal(err.ks, "ks1");
    assert_string_equal(err.table, "");

    hln_schema *s = catalog_acquire(f->cat);
    const hln_keyspace *ks = schema_keyspace(s, "ks1");
    assert_non_null(ks);
    assert_false(ks->is_system);
    assert_true(ks->durable_writes);
    assert_int_equal(ks->nreplication, 2);
    assert_string_equal(ks->replication[0].key, "class");
    assert_string_equal(ks->replication[0].value, "org.apache.cassandra.locator.SimpleStrategy");
    assert_string_equal(ks->replication[1].key, "replication_factor");
    assert_memory_not_equal(s->version, s0->version, 16);
    /* the old snapshot is untouched */
    assert_null(schema_keyspace(s0, "ks1"));
    schema_release(s0);

    /* NetworkTopologyStrategy keeps its per-DC options, sorted */
    hln_option nts[3] = {O("dc2", "1"), O("class", "NetworkTopologyStrategy"), O("dc1", "3")};
    hln_keyspace_spec ks2 = {"ks2", nts, 3, false};
    assert_int_equal(catalog_create_keyspace(f->cat, &ks2, false, &err), 0);
    hln_schema *s2 = catalog_acquire(f->cat);
    ks = schema_keyspace(s2, "ks2");
    assert_int_equal(ks->nreplication, 3);
    assert_string_equal(ks->replication[0].value,
                        "org.apache.cassandra.locator.NetworkTopologyStrategy");
    assert_string_equal(ks->replication[1].key, "dc1");
    assert_string_equal(ks->replication[2].key, "dc2");
    assert_false(ks->durable_writes);
    /* user keyspaces follow the system ones, by name */
    assert_string_equal(s2->keyspaces[0]->name, "system");
    assert_string_equal(s2->keyspaces[1]->name, "system_schema");
    assert_string_equal(s2->keyspaces[2]->name, "system_virtual_schema");
    assert_string_equal(s2->keyspaces[3]->name, "system_auth");
    assert_string_equal(s2->keyspaces[4]->name, "system_views");
    assert_string_equal(s2->keyspaces[5]->name, "ks1");
    assert_string_equal(s2->keyspaces[6]->name, "ks2");
    schema_release(s2);
    schema_release(s);

    /* errors */
    assert_int_equal(mk_ks(f, "system", false, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "System keyspace 'system' is not user-modifiable");
    assert_int_equal(mk_ks(f, "system_schema", true, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "System keyspace 'system_schema' is not user-modifiable");
    assert_int_equal(mk_ks(f, "bad-name", false, &err), HLN_EINVAL);
    assert_string_equal(err.msg,
                        "Keyspace name must not be empty, more than 48 characters long, "
                        "or contain non-alphanumeric-underscore characters (got 'bad-name')");
    hln_option local[1] = {O("class", "LocalStrategy")};
    hln_keyspace_spec k3 = {"k3", local, 1, true};
    assert_int_equal(catalog_create_keyspace(f->cat, &k3, false, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Unable to use given strategy class: LocalStrategy is reserved "
                                 "for internal use.");
    hln_option nope[1] = {O("class", "NoSuchStrategy")};
    k3.replication = nope;
    assert_int_equal(catalog_create_keyspace(f->cat, &k3, false, &err), HLN_ECONFIG);
    assert_string_equal(err.msg, "Unable to find replication strategy class "
                                 "'org.apache.cassandra.locator.NoSuchStrategy'");
    /* Cassandra 5.0: SimpleStrategy without a factor gets default_keyspace_rf, 1 */
    hln_option norf[1] = {O("class", "SimpleStrategy")};
    hln_keyspace_spec k4 = {"k4", norf, 1, true};
    assert_int_equal(catalog_create_keyspace(f->cat, &k4, false, &err), 0);
    s = catalog_acquire(f->cat);
    const hln_keyspace *k4s = schema_keyspace(s, "k4");
    assert_non_null(k4s);
    assert_int_equal(k4s->nreplication, 2);
    assert_string_equal(k4s->replication[1].value, "1");
    schema_release(s);
    assert_int_equal(catalog_drop_keyspace(f->cat, "k4", false, NULL, NULL, &err), 0);
    hln_option extra[3] = {O("class", "SimpleStrategy"), O("replication_factor", "1"), O("x", "1")};
    k3.replication = extra;
    k3.nreplication = 3;
    assert_int_equal(catalog_create_keyspace(f->cat, &k3, false, &err), HLN_ECONFIG);
    assert_string_equal(err.msg, "Unrecognized strategy option {x} passed to SimpleStrategy for "
                                 "keyspace k3");
    hln_option badrf[2] = {O("class", "SimpleStrategy"), O("replication_factor", "three")};
    k3.replication = badrf;
    k3.nreplication = 2;
    assert_int_equal(catalog_create_keyspace(f->cat, &k3, false, &err), HLN_ECONFIG);
    assert_string_equal(err.msg, "For input string: \"three\"");
    k3.nreplication = 0;
    assert_int_equal(catalog_create_keyspace(f->cat, &k3, false, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Missing mandatory option 'replication'");
    /* nothing of that changed the schema */
    s = catalog_acquire(f->cat);
    assert_null(schema_keyspace(s, "k3"));
    assert_int_equal(s->nkeyspaces, 7); /* five system keyspaces and two */
    schema_release(s);

    /* drop */
    assert_int_equal(catalog_drop_keyspace(f->cat, "nope", false, NULL, NULL, &err), HLN_ENOTFOUND);
    assert_string_equal(err.msg, "Keyspace 'nope' doesn't exist");
    assert_int_equal(catalog_drop_keyspace(f->cat, "nope", true, NULL, NULL, &err), 1);
    assert_int_equal(catalog_drop_keyspace(f->cat, "system", true, NULL, NULL, &err),
                     HLN_EUNAUTHORIZED);
    assert_string_equal(err.msg, "system keyspace is not user-modifiable.");
    uint8_t(*ids)[16] = (void *)1;
    int nids = -1;
    assert_int_equal(catalog_drop_keyspace(f->cat, "ks2", false, &ids, &nids, &err), 0);
    assert_null(ids);
    assert_int_equal(nids, 0);
    s = catalog_acquire(f->cat);
    assert_null(schema_keyspace(s, "ks2"));
    assert_non_null(schema_keyspace(s, "ks1"));
    schema_release(s);
}

static void test_table_ddl(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), HLN_ENOTFOUND);
    assert_string_equal(err.msg, "Keyspace 'ks' doesn't exist");
    assert_int_equal(mk_ks(f, "ks", false, &err), 0);
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), 0);
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, true, &err), 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), HLN_EEXISTS);
    assert_string_equal(err.msg, "Cannot add already existing table \"t\" to keyspace \"ks\"");
    assert_string_equal(err.ks, "ks");
    assert_string_equal(err.table, "t");
    assert_int_equal(mk_table(f, "system", "t", NULL, 0, false, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "System keyspace 'system' is not user-modifiable");
    assert_int_equal(mk_table(f, "ks", "bad name", NULL, 0, false, &err), HLN_ECONFIG);
    assert_string_equal(err.msg,
                        "Table name must not be empty, more than 48 characters long, or "
                        "contain non-alphanumeric-underscore characters (got \"bad name\")");

    hln_schema *s = catalog_acquire(f->cat);
    const hln_table *t = schema_table(s, "ks", "t");
    assert_non_null(t);
    assert_false(t->is_virtual);
    assert_string_equal(t->ks, "ks");
    assert_int_equal(t->id[6] >> 4, 1); /* a time uuid */
    assert_ptr_equal(schema_table_by_id(s, t->id), t);
    assert_int_equal(t->ncols, 6);
    assert_int_equal(t->npk, 1);
    assert_int_equal(t->nck, 2);
    assert_int_equal(t->next_col_id, 6);
    /* pk, clustering by position, static, then regular by name */
    static const char *order[] = {"k", "c1", "c2", "s", "a", "v"};
    static const hln_column_kind kinds[] = {HLN_COL_PARTITION_KEY, HLN_COL_CLUSTERING,
                                            HLN_COL_CLUSTERING,    HLN_COL_STATIC,
                                            HLN_COL_REGULAR,       HLN_COL_REGULAR};
    static const int pos[] = {0, 0, 1, -1, -1, -1};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(t->cols[i].name, order[i]);
        assert_int_equal(t->cols[i].kind, kinds[i]);
        assert_int_equal(t->cols[i].position, pos[i]);
        assert_int_equal(t->cols[i].id, (uint32_t)i);
    }
    assert_true(table_column(t, "c1")->desc);
    assert_false(table_column(t, "c2")->desc);
    assert_ptr_equal(table_column(t, "c1")->type, hln_type_by_name("bigint"));
    assert_null(table_column(t, "nope"));
    /* defaults */
    assert_string_equal(table_option(t, "gc_grace_seconds"), "864000");
    assert_string_equal(table_option(t, "bloom_filter_fp_chance"), "0.01");
    assert_string_equal(table_option(t, "crc_check_chance"), "1.0");
    assert_string_equal(table_option(t, "comment"), "");
    assert_string_equal(table_option(t, "speculative_retry"), "99p");
    assert_string_equal(table_option(t, "read_repair"), "BLOCKING");
    assert_string_equal(table_option(t, "caching"),
                        "{'keys': 'ALL', 'rows_per_partition': 'NONE'}");
    assert_string_equal(
        table_option(t, "compaction"),
        "{'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', "
        "'max_threshold': '32', 'min_threshold': '4'}");
    assert_string_equal(table_option(t, "compression"),
                        "{'chunk_length_in_kb': '16', "
                        "'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}");
    assert_null(table_option(t, "cdc"));
    assert_null(table_option(t, "memtable"));
    schema_release(s);

    /* options given */
    hln_option opts[] = {
        O("comment", "it's"),
        O("compaction", "{'class': 'LeveledCompactionStrategy'}"),
        O("default_time_to_live", "3600"),
        O("compression", "{'enabled': 'false'}"),
        O("caching", "{'keys': 'none'}"),
        O("allow_auto_snapshot", "false"),
        O("incremental_backups", "true"),
    };
    assert_int_equal(mk_table(f, "ks", "t2", opts, 7, false, &err), 0);
    s = catalog_acquire(f->cat);
    t = schema_table(s, "ks", "t2");
    assert_string_equal(table_option(t, "comment"), "it's");
    assert_string_equal(table_option(t, "default_time_to_live"), "3600");
    assert_string_equal(table_option(t, "bloom_filter_fp_chance"), "0.1");
    assert_string_equal(table_option(t, "compaction"),
                        "{'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy', "
                        "'max_threshold': '32', 'min_threshold': '4'}");
    assert_string_equal(table_option(t, "compression"), "{'enabled': 'false'}");
    assert_string_equal(table_option(t, "caching"),
                        "{'keys': 'NONE', 'rows_per_partition': 'NONE'}");
    assert_string_equal(table_option(t, "allow_auto_snapshot"), "false");
    assert_null(table_option(t, "incremental_backups"));
    assert_memory_not_equal(t->id, schema_table(s, "ks", "t")->id, 16);
    /* tables sorted by name */
    const hln_keyspace *ks = schema_keyspace(s, "ks");
    assert_int_equal(ks->ntables, 2);
    assert_string_equal(ks->tables[0]->name, "t");
    assert_string_equal(ks->tables[1]->name, "t2");
    schema_release(s);

    /* option errors */
    hln_option bad1[] = {O("nope", "1")};
    assert_int_equal(mk_table(f, "ks", "t3", bad1, 1, false, &err), HLN_ESYNTAX);
    assert_string_equal(err.msg, "Unknown property 'nope'");
    hln_option bad2[] = {O("gc_grace_seconds", "x")};
    assert_int_equal(mk_table(f, "ks", "t3", bad2, 1, false, &err), HLN_ESYNTAX);
    assert_string_equal(err.msg, "Invalid integer value x for 'gc_grace_seconds'");
    hln_option bad3[] = {O("compaction", "{'min_threshold': '2'}")};
    assert_int_equal(mk_table(f, "ks", "t3", bad3, 1, false, &err), HLN_ECONFIG);
    assert_string_equal(err.msg, "Missing sub-option 'class' for the 'compaction' option");
    hln_option bad4[] = {O("bloom_filter_fp_chance", "zero")};
    assert_int_equal(mk_table(f, "ks", "t3", bad4, 1, false, &err), HLN_ESYNTAX);
    assert_string_equal(err.msg, "Invalid double value zero for 'bloom_filter_fp_chance'");
    hln_option bad5[] = {O("compression", "{'chunk_length_in_kb': '3', 'class': 'LZ4Compressor'}")};
    assert_int_equal(mk_table(f, "ks", "t3", bad5, 1, false, &err), HLN_ECONFIG);
    assert_string_equal(err.msg, "chunk_length_in_kb must be a power of 2");

    /* structure errors */
    hln_column_spec dup[] = {{"k", T("int"), HLN_COL_PARTITION_KEY, 0, false},
                             {"k", T("int"), HLN_COL_REGULAR, -1, false}};
    hln_table_spec ts = {"ks", "t3", dup, 2, NULL, 0, NULL, NULL, false, NULL, 0};
    assert_int_equal(catalog_create_table(f->cat, &ts, false, &err), HLN_EINVAL);
    assert_string_equal(err.msg, "Duplicate column 'k' declaration for table 'ks.t3'");
    hln_column_spec nopk[] = {{"k", T("int"), HLN_COL_REGULAR, -1, false}};
    ts.cols = nopk;
    ts.ncols = 1;
    assert_int_equal(catalog_create_table(f->cat, &ts, false, &err), HLN_EINVAL);
    assert_string_equal(err.msg,
                        "No PRIMARY KEY specifed for table 'ks.t3' (exactly one required)");
    s = catalog_acquire(f->cat);
    assert_null(schema_table(s, "ks", "t3"));
    schema_release(s);

    /* drop table */
    assert_int_equal(catalog_drop_table(f->cat, "ks", "zz", false, NULL, NULL, &err),
                     HLN_ENOTFOUND);
    assert_string_equal(err.msg, "Table 'ks.zz' doesn't exist");
    assert_int_equal(catalog_drop_table(f->cat, "nok", "zz", false, NULL, NULL, &err),
                     HLN_ENOTFOUND);
    assert_string_equal(err.msg, "Table 'nok.zz' doesn't exist");
    assert_int_equal(catalog_drop_table(f->cat, "ks", "zz", true, NULL, NULL, &err), 1);
    assert_int_equal(catalog_drop_table(f->cat, "system", "local", true, NULL, NULL, &err),
                     HLN_EINVAL);
    assert_string_equal(err.msg, "System keyspace 'system' is not user-modifiable");

    s = catalog_acquire(f->cat);
    uint8_t tid[16], t2id[16];
    memcpy(tid, schema_table(s, "ks", "t")->id, 16);
    memcpy(t2id, schema_table(s, "ks", "t2")->id, 16);
    uint8_t(*ids)[16] = NULL;
    int nids = 0;
    assert_int_equal(catalog_drop_table(f->cat, "ks", "t", false, &ids, &nids, &err), 0);
    assert_int_equal(nids, 1);
    assert_memory_equal(ids[0], tid, 16);
    hln_free(ids);
    /* the held snapshot still has the table and all of its memory */
    const hln_table *held = schema_table(s, "ks", "t");
    assert_non_null(held);
    assert_string_equal(held->cols[5].name, "v");
    hln_schema *s2 = catalog_acquire(f->cat);
    assert_null(schema_table(s2, "ks", "t"));
    assert_non_null(schema_table(s2, "ks", "t2"));
    assert_null(schema_table_by_id(s2, tid));
    schema_release(s);
    schema_release(s2);

    assert_int_equal(catalog_drop_keyspace(f->cat, "ks", false, &ids, &nids, &err), 0);
    assert_int_equal(nids, 1);
    assert_memory_equal(ids[0], t2id, 16);
    hln_free(ids);
}

/* A materialized view persists as a table flagged as a view of its base,
 * with WHERE text and restrictions; DROP TABLE of the base is refused while
 * it has views, DROP TABLE of the view too, DROP MATERIALIZED VIEW of a
 * table says it does not exist. */
static void test_views(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    assert_int_equal(mk_ks(f, "ks", false, &err), 0);
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), 0);
    hln_schema *s = catalog_acquire(f->cat);
    const hln_table *base = schema_table(s, "ks", "t");
    hln_column_spec cols[] = {
        {"v", T("text"), HLN_COL_PARTITION_KEY, 0, false},
        {"k", T("int"), HLN_COL_CLUSTERING, 0, false},
        {"c1", T("bigint"), HLN_COL_CLUSTERING, 1, true},
        {"c2", T("text"), HLN_COL_CLUSTERING, 2, false},
    };
    uint8_t one[4] = {0, 0, 0, 1};
    uint8_t *vals[1] = {one};
    uint32_t lens[1] = {4};
    hln_view_restr restr = {"k", ">", vals, lens, 1};
    hln_table_spec vs = {"ks",  "mv",   cols, 4, NULL, 0, base, "v IS NOT NULL AND k > 1",
                         false, &restr, 1};
    assert_int_equal(catalog_create_table(f->cat, &vs, false, &err), 0);
    uint8_t bid[16];
    memcpy(bid, base->id, 16);
    schema_release(s);

    reopen(f);
    s = catalog_acquire(f->cat);
    const hln_table *v = schema_table(s, "ks", "mv");
    assert_non_null(v);
    assert_true(v->is_view);
    assert_memory_equal(v->base_id, bid, 16);
    assert_string_equal(v->base_name, "t");
    assert_string_equal(v->view_where, "v IS NOT NULL AND k > 1");
    assert_false(v->include_all);
    assert_int_equal(v->nrestr, 1);
    assert_string_equal(v->restr[0].col, "k");
    assert_string_equal(v->restr[0].op, ">");
    assert_int_equal(v->restr[0].lens[0], 4);
    assert_memory_equal(v->restr[0].vals[0], one, 4);
    const hln_table *views[2];
    assert_int_equal(schema_views_of(s, schema_table(s, "ks", "t"), views, 2), 1);
    assert_ptr_equal(views[0], v);
    assert_int_equal(schema_views_of(s, v, views, 2), 0);
    schema_release(s);

    assert_int_equal(catalog_drop_table(f->cat, "ks", "t", false, NULL, NULL, &err), HLN_EINVAL);
    assert_string_equal(err.msg,
                        "Cannot drop a table when materialized views still depend on it (ks)");
    assert_int_equal(catalog_drop_table(f->cat, "ks", "mv", false, NULL, NULL, &err), HLN_EINVAL);
    assert_int_equal(catalog_drop_view(f->cat, "ks", "t", false, NULL, NULL, &err), HLN_ENOTFOUND);
    assert_string_equal(err.msg, "Materialized view 'ks.t' doesn't exist");
    assert_int_equal(catalog_drop_view(f->cat, "ks", "mv", false, NULL, NULL, &err), 0);
    assert_int_equal(catalog_drop_table(f->cat, "ks", "t", false, NULL, NULL, &err), 0);
}

static void test_persistence(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    assert_int_equal(mk_ks(f, "ks", false, &err), 0);
    hln_option opts[] = {O("comment", "persisted"), O("gc_grace_seconds", "10")};
    assert_int_equal(mk_table(f, "ks", "t", opts, 2, false, &err), 0);
    hln_column_spec cols[] = {
        {"id", T("uuid"), HLN_COL_PARTITION_KEY, 0, false},
        {"tags", hln_type_parse("frozen<set<text>>"), HLN_COL_REGULAR, -1, false},
    };
    hln_table_spec ts = {"ks", "u", cols, 2, NULL, 0, NULL, NULL, false, NULL, 0};
    assert_int_equal(catalog_create_table(f->cat, &ts, false, &err), 0);
    hln_option nts[2] = {O("class", "NetworkTopologyStrategy"), O("dc1", "2")};
    hln_keyspace_spec k2 = {"other", nts, 2, false};
    assert_int_equal(catalog_create_keyspace(f->cat, &k2, false, &err), 0);

    hln_schema *before = catalog_acquire(f->cat);
    uint8_t ver[16], tid[16], uid[16];
    memcpy(ver, before->version, 16);
    memcpy(tid, schema_table(before, "ks", "t")->id, 16);
    memcpy(uid, schema_table(before, "ks", "u")->id, 16);
    schema_release(before);

    reopen(f);
    hln_schema *s = catalog_acquire(f->cat);
    assert_memory_equal(s->version, ver, 16);
    assert_int_equal(s->nkeyspaces, 7); /* five system keyspaces and two */
    const hln_table *t = schema_table(s, "ks", "t");
    assert_non_null(t);
    assert_memory_equal(t->id, tid, 16);
    assert_int_equal(t->ncols, 6);
    assert_int_equal(t->npk, 1);
    assert_int_equal(t->nck, 2);
    assert_int_equal(t->next_col_id, 6);
    static const char *order[] = {"k", "c1", "c2", "s", "a", "v"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(t->cols[i].name, order[i]);
        assert_int_equal(t->cols[i].id, (uint32_t)i);
    }
    assert_true(table_column(t, "c1")->desc);
    assert_int_equal(table_column(t, "c2")->position, 1);
    assert_ptr_equal(table_column(t, "a")->type, hln_type_by_name("blob"));
    assert_string_equal(table_option(t, "comment"), "persisted");
    assert_string_equal(table_option(t, "gc_grace_seconds"), "10");
    assert_string_equal(
        table_option(t, "compaction"),
        "{'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', "
        "'max_threshold': '32', 'min_threshold': '4'}");
    const hln_table *u = schema_table(s, "ks", "u");
    assert_memory_equal(u->id, uid, 16);
    assert_string_equal(table_column(u, "tags")->type->cql_name, "frozen<set<text>>");
    assert_ptr_equal(table_column(u, "tags")->type, hln_type_parse("frozen<set<text>>"));
    const hln_keyspace *o = schema_keyspace(s, "other");
    assert_false(o->durable_writes);
    assert_string_equal(o->replication[0].value,
                        "org.apache.cassandra.locator.NetworkTopologyStrategy");
    assert_string_equal(o->replication[1].key, "dc1");
    assert_string_equal(o->replication[1].value, "2");
    /* system keyspaces are rebuilt, not persisted */
    assert_non_null(schema_table(s, "system", "local"));
    schema_release(s);

    /* a dropped table stays dropped; the version moves on and persists */
    assert_int_equal(catalog_drop_table(f->cat, "ks", "t", false, NULL, NULL, &err), 0);
    s = catalog_acquire(f->cat);
    memcpy(ver, s->version, 16);
    schema_release(s);
    reopen(f);
    s = catalog_acquire(f->cat);
    assert_memory_equal(s->version, ver, 16);
    assert_null(schema_table(s, "ks", "t"));
    assert_non_null(schema_table(s, "ks", "u"));
    schema_release(s);

    /* a stale temp file from an interrupted write is ignored */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/schema/schema.json.tmp", f->dir);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs("{garbage", fp);
    fclose(fp);
    reopen(f);
    s = catalog_acquire(f->cat);
    assert_memory_equal(s->version, ver, 16);
    schema_release(s);
    assert_int_equal(access(tmp, F_OK), -1);
}

/* ALTER TABLE through the catalog: new columns get fresh ids (never a
 * dropped one's), dropped columns persist, a stale base version is refused
 * with HLN_EAGAIN; ALTER KEYSPACE; a file without dropped_columns loads. */
static void test_alter(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    assert_int_equal(mk_ks(f, "ks", false, &err), 0);
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), 0);
    hln_schema *s0 = catalog_acquire(f->cat);
    const hln_table *t0 = schema_table(s0, "ks", "t");
    assert_int_equal(t0->next_col_id, 6);
    uint32_t v_id = table_column(t0, "v")->id;

    /* DROP v, ADD w and v again */
    hln_column cols[8];
    int n = 0;
    for (int i = 0; i < t0->ncols; i++)
        if (strcmp(t0->cols[i].name, "v") != 0) cols[n++] = t0->cols[i];
    cols[n++] = (hln_column){
        .name = "w", .type = T("int"), .kind = HLN_COL_REGULAR, .position = -1, .id = UINT32_MAX};
    cols[n++] = (hln_column){
        .name = "v", .type = T("text"), .kind = HLN_COL_REGULAR, .position = -1, .id = UINT32_MAX};
    hln_dropped_column dr = {
        .name = "v", .type = T("text"), .kind = HLN_COL_REGULAR, .dropped_time = 1234567};
    hln_table_alter alt = {.ks = "ks",
                           .name = "t",
                           .cols = cols,
                           .ncols = n,
                           .opts = t0->opts,
                           .nopts = t0->nopts,
                           .dropped = &dr,
                           .ndropped = 1};
    memcpy(alt.based_on, s0->version, 16);
    assert_int_equal(catalog_alter_table(f->cat, &alt, &err), 0);
    /* the same alteration again is based on a stale snapshot */
    assert_int_equal(catalog_alter_table(f->cat, &alt, &err), HLN_EAGAIN);
    schema_release(s0);

    for (int round = 0; round < 2; round++) {
        hln_schema *s = catalog_acquire(f->cat);
        const hln_table *t = schema_table(s, "ks", "t");
        assert_int_equal(t->ncols, 7);
        assert_int_equal(t->next_col_id, 8);
        const hln_column *v = table_column(t, "v"), *w = table_column(t, "w");
        assert_non_null(v);
        assert_non_null(w);
        assert_int_not_equal(v->id, v_id); /* a new id: old cells never read */
        assert_true(v->id >= 6 && w->id >= 6 && v->id != w->id);
        assert_string_equal(v->type->cql_name, "text");
        /* regular columns sorted by name after pk, clustering, static */
        assert_string_equal(t->cols[t->ncols - 1].name, "w");
        assert_int_equal(t->ndropped, 1);
        assert_string_equal(t->dropped[0].name, "v");
        assert_int_equal(t->dropped[0].dropped_time, 1234567);
        schema_release(s);
        reopen(f);
    }

    /* ALTER KEYSPACE: a change, then the same again (1: nothing to do) */
    hln_option repl[2] = {O("class", "SimpleStrategy"), O("replication_factor", "3")};
    hln_keyspace_spec ks = {"ks", repl, 2, false};
    assert_int_equal(catalog_alter_keyspace(f->cat, &ks, &err), 0);
    assert_int_equal(catalog_alter_keyspace(f->cat, &ks, &err), 1);
    hln_keyspace_spec nope = {"nope", repl, 2, false};
    assert_int_equal(catalog_alter_keyspace(f->cat, &nope, &err), HLN_ENOTFOUND);
    assert_string_equal(err.msg, "Keyspace 'nope' doesn't exist");
    reopen(f);
    hln_schema *s = catalog_acquire(f->cat);
    const hln_keyspace *k = schema_keyspace(s, "ks");
    assert_false(k->durable_writes);
    assert_string_equal(k->replication[1].value, "3");
    schema_release(s);
}

/* CREATE / DROP INDEX through the catalog: unique names per keyspace,
 * fresh ids, persistence (format 2), a stale base version refused, indexes
 * gone with their table, a format 1 file (no indexes) still loads. */
static void test_indexes(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    assert_int_equal(mk_ks(f, "ks", false, &err), 0);
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), 0);
    assert_int_equal(mk_table(f, "ks", "t2", NULL, 0, false, &err), 0);
    hln_schema *s = catalog_acquire(f->cat);
    const hln_table *t = schema_table(s, "ks", "t");
    hln_option o1[] = {O("class_name", "sai"), O("target", "v")};
    hln_index ix = {.name = "t_v_idx",
                    .col_id = table_column(t, "v")->id,
                    .target = HLN_IX_SIMPLE,
                    .kind = HLN_IXK_SAI,
                    .opts = o1,
                    .nopts = 2};
    uint8_t v0[16];
    memcpy(v0, s->version, 16);
    assert_int_equal(catalog_create_index(f->cat, "ks", "t", &ix, v0, &err), 0);
    /* the name is taken in the whole keyspace; a stale version is refused */
    hln_schema *s1 = catalog_acquire(f->cat);
    assert_int_equal(catalog_create_index(f->cat, "ks", "t2", &ix, s1->version, &err), HLN_EEXISTS);
    assert_string_equal(err.msg, "Index 't_v_idx' already exists");
    hln_option o2[] = {O("class_name", "sai"), O("target", "a")};
    hln_index ix2 = {.name = "a_idx",
                     .col_id = table_column(t, "a")->id,
                     .target = HLN_IX_SIMPLE,
                     .kind = HLN_IXK_LEGACY,
                     .opts = o2 + 1,
                     .nopts = 1};
    assert_int_equal(catalog_create_index(f->cat, "ks", "t", &ix2, v0, &err), HLN_EAGAIN);
    assert_int_equal(catalog_create_index(f->cat, "ks", "t", &ix2, s1->version, &err), 0);
    schema_release(s1);
    schema_release(s);

    reopen(f);
    s = catalog_acquire(f->cat);
    t = schema_table(s, "ks", "t");
    assert_int_equal(t->nindexes, 2);
    assert_string_equal(t->indexes[0].name, "a_idx"); /* sorted by name */
    assert_int_equal(t->indexes[0].kind, HLN_IXK_LEGACY);
    assert_string_equal(t->indexes[1].name, "t_v_idx");
    assert_int_equal(t->indexes[1].col_id, table_column(t, "v")->id);
    assert_string_equal(index_option(&t->indexes[1], "class_name"), "sai");
    assert_string_equal(index_option(&t->indexes[1], "target"), "v");
    assert_ptr_equal(table_index_on(t, table_column(t, "v")->id), &t->indexes[1]);
    assert_memory_not_equal(t->indexes[0].id, t->indexes[1].id, 16);
    const hln_table *it = NULL;
    assert_ptr_equal(schema_index(s, "ks", "t_v_idx", &it), &t->indexes[1]);
    assert_ptr_equal(it, t);
    uint8_t id1[16];
    memcpy(id1, t->indexes[1].id, 16);
    schema_release(s);

    char tn[64];
    assert_int_equal(catalog_drop_index(f->cat, "ks", "t_v_idx", false, tn, &err), 0);
    assert_string_equal(tn, "t");
    assert_int_equal(catalog_drop_index(f->cat, "ks", "t_v_idx", true, tn, &err), 1);
    assert_int_equal(catalog_drop_index(f->cat, "ks", "t_v_idx", false, tn, &err), HLN_ENOTFOUND);
    assert_string_equal(err.msg, "Index 'ks.t_v_idx' doesn't exist'");
    s = catalog_acquire(f->cat);
    assert_int_equal(catalog_create_index(f->cat, "ks", "t", &ix, s->version, &err), 0);
    schema_release(s);
    s = catalog_acquire(f->cat);
    const hln_index *again = schema_index(s, "ks", "t_v_idx", NULL);
    assert_non_null(again);
    assert_memory_not_equal(again->id, id1, 16); /* ids are never reused */
    schema_release(s);

    /* DROP TABLE takes its indexes along */
    assert_int_equal(catalog_drop_table(f->cat, "ks", "t", false, NULL, NULL, &err), 0);
    s = catalog_acquire(f->cat);
    assert_null(schema_index(s, "ks", "t_v_idx", NULL));
    assert_null(schema_index(s, "ks", "a_idx", NULL));
    schema_release(s);

    /* a format 1 file loads */
    catalog_close(f->cat);
    f->cat = NULL;
    char path[700];
    snprintf(path, sizeof path, "%s/schema/schema.json", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"format\": 1, \"version\": \"2549ff12-e542-11f1-be12-8f8c57524c28\", "
          "\"keyspaces\": []}",
          fp);
    fclose(fp);
    assert_int_equal(catalog_open(&f->cat, f->dir, &err), 0);
}

static void test_corrupt_file(void **state)
{
    fx *f = *state;
    catalog_close(f->cat);
    f->cat = NULL;
    char path[700];
    snprintf(path, sizeof path, "%s/schema/schema.json", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"format\": 1, \"version\": \"nope\", \"keyspaces\": []}", fp);
    fclose(fp);
    hln_error err = {0};
    assert_int_equal(catalog_open(&f->cat, f->dir, &err), HLN_ECORRUPT);
    assert_null(f->cat);
    assert_int_equal(err.code, HLN_ECORRUPT);
    unlink(path);
    assert_int_equal(catalog_open(&f->cat, f->dir, &err), 0);
}

static void test_system_tables(void **state)
{
    fx *f = *state;
    hln_schema *s = catalog_acquire(f->cat);
    static const char *const names[][2] = {
        {"system", "local"},
        {"system", "peers"},
        {"system", "peers_v2"},
        {"system", "size_estimates"},
        {"system_schema", "keyspaces"},
        {"system_schema", "tables"},
        {"system_schema", "columns"},
        {"system_schema", "dropped_columns"},
        {"system_schema", "types"},
        {"system_schema", "functions"},
        {"system_schema", "aggregates"},
        {"system_schema", "indexes"},
        {"system_schema", "views"},
        {"system_schema", "triggers"},
        {"system_virtual_schema", "keyspaces"},
        {"system_virtual_schema", "tables"},
        {"system_virtual_schema", "columns"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const hln_table *t = schema_table(s, names[i][0], names[i][1]);
        assert_non_null(t);
        assert_true(t->is_virtual);
        assert_true(schema_keyspace(s, names[i][0])->is_system);
    }
    const hln_table *local = schema_table(s, "system", "local");
    assert_int_equal(local->ncols, 20);
    assert_string_equal(local->cols[0].name, "key");
    assert_string_equal(local->cols[1].name, "bootstrapped");
    assert_string_equal(local->cols[19].name, "truncated_at");
    assert_string_equal(table_column(local, "tokens")->type->cql_name, "set<text>");
    assert_int_equal(table_column(local, "tokens")->type->kind, HLN_T_SET);
    assert_string_equal(table_column(local, "truncated_at")->type->cql_name, "map<uuid, blob>");
    assert_string_equal(table_option(local, "comment"), "information about the local node");
    assert_string_equal(table_option(local, "gc_grace_seconds"), "0");

    const hln_table *peers2 = schema_table(s, "system", "peers_v2");
    assert_int_equal(peers2->npk, 1);
    assert_int_equal(peers2->nck, 1);
    assert_string_equal(peers2->cols[1].name, "peer_port");

    const hln_table *tables = schema_table(s, "system_schema", "tables");
    assert_int_equal(tables->ncols, 25);
    assert_int_equal(tables->npk, 1);
    assert_int_equal(tables->nck, 1);
    assert_string_equal(table_column(tables, "flags")->type->cql_name, "frozen<set<text>>");
    assert_string_equal(table_column(tables, "extensions")->type->cql_name,
                        "frozen<map<text, blob>>");
    assert_string_equal(table_column(tables, "caching")->type->cql_name, "frozen<map<text, text>>");
    assert_string_equal(table_option(tables, "gc_grace_seconds"), "604800");
    const hln_table *cols = schema_table(s, "system_schema", "columns");
    assert_int_equal(cols->nck, 2);
    assert_string_equal(cols->cols[2].name, "column_name");
    assert_string_equal(table_column(cols, "column_name_bytes")->type->cql_name, "blob");
    const hln_table *funcs = schema_table(s, "system_schema", "functions");
    assert_string_equal(funcs->cols[2].name, "argument_types");
    assert_string_equal(funcs->cols[2].type->cql_name, "frozen<list<text>>");
    schema_release(s);
}

static hln_node_info node_info(void)
{
    static const int64_t toks[] = {42, -7, 1000};
    hln_node_info n = {0};
    for (int i = 0; i < 16; i++)
        n.host_id[i] = (uint8_t)(i + 1);
    n.address[0] = 127;
    n.address[3] = 1;
    n.address_len = 4;
    n.port = 9042;
    n.cluster_name = "Test Cluster";
    n.datacenter = "datacenter1";
    n.rack = "rack1";
    n.release_version = "5.0.2";
    n.cql_version = "3.4.7";
    n.native_protocol_version = "4";
    n.partitioner = "org.apache.cassandra.dht.Murmur3Partitioner";
    n.tokens = toks;
    n.ntokens = 3;
    n.bootstrapped_at = 1700000000LL * 1000000;
    return n;
}

static void test_rows_local(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    hln_schema *s = catalog_acquire(f->cat);
    hln_node_info node = node_info();
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_bytes **rows;
    int n;
    const hln_table *t = schema_table(s, "system", "local");
    assert_int_equal(schema_virtual_rows(s, &node, t, &a, &rows, &n, &err), 0);
    assert_int_equal(n, 1);
    hln_bytes *r = rows[0];
    assert_text(r[col_index(t, "key")], "local");
    assert_text(r[col_index(t, "bootstrapped")], "COMPLETED");
    assert_text(r[col_index(t, "cluster_name")], "Test Cluster");
    assert_text(r[col_index(t, "data_center")], "datacenter1");
    assert_text(r[col_index(t, "partitioner")], "org.apache.cassandra.dht.Murmur3Partitioner");
    assert_text(r[col_index(t, "native_protocol_version")], "4");
    hln_bytes v = r[col_index(t, "rpc_address")];
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.p, node.address, 4);
    v = r[col_index(t, "rpc_port")];
    assert_int_equal(v.len, 4);
    assert_int_equal(be32(v.p), 9042);
    assert_int_equal(be32(r[col_index(t, "listen_port")].p), 7000);
    assert_int_equal(be32(r[col_index(t, "gossip_generation")].p), 1700000000);
    v = r[col_index(t, "host_id")];
    assert_int_equal(v.len, 16);
    assert_memory_equal(v.p, node.host_id, 16);
    v = r[col_index(t, "schema_version")];
    assert_int_equal(v.len, 16);
    assert_memory_equal(v.p, s->version, 16);
    char buf[256];
    render_coll(r[col_index(t, "tokens")], false, buf, sizeof buf);
    assert_string_equal(buf, "-7,1000,42"); /* a set<text>: sorted as text */
    assert_int_equal(r[col_index(t, "truncated_at")].len, -1);

    /* peers are empty, and every system table has a generator */
    assert_int_equal(
        schema_virtual_rows(s, &node, schema_table(s, "system", "peers_v2"), &a, &rows, &n, &err),
        0);
    assert_int_equal(n, 0);
    for (int k = 0; k < s->nkeyspaces; k++) {
        const hln_keyspace *ks = s->keyspaces[k];
        /* system_auth's rows come from the auth store, system_views's from
           the running node, both through exec */
        bool auth = !strcmp(ks->name, "system_auth") || !strcmp(ks->name, "system_views");
        for (int j = 0; ks->is_system && j < ks->ntables; j++)
            assert_int_equal(schema_virtual_rows(s, &node, ks->tables[j], &a, &rows, &n, &err),
                             auth ? HLN_ENOTFOUND : 0);
    }
    hln_arena_free(&a);
    schema_release(s);
}

static hln_bytes *find_row(hln_bytes **rows, int n, const hln_table *t, const char *c1,
                           const char *v1, const char *c2, const char *v2, const char *c3,
                           const char *v3)
{
    for (int i = 0; i < n; i++) {
        hln_bytes a = rows[i][col_index(t, c1)];
        if (a.len != (int32_t)strlen(v1) || memcmp(a.p, v1, strlen(v1)) != 0) continue;
        if (c2) {
            hln_bytes b = rows[i][col_index(t, c2)];
            if (b.len != (int32_t)strlen(v2) || memcmp(b.p, v2, strlen(v2)) != 0) continue;
        }
        if (c3) {
            hln_bytes b = rows[i][col_index(t, c3)];
            if (b.len != (int32_t)strlen(v3) || memcmp(b.p, v3, strlen(v3)) != 0) continue;
        }
        return rows[i];
    }
    return NULL;
}

static void test_rows_schema(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    assert_int_equal(mk_ks(f, "ks", false, &err), 0);
    assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), 0);
    hln_schema *s = catalog_acquire(f->cat);
    hln_node_info node = node_info();
    hln_arena a;
    hln_arena_init(&a, 0);
    hln_bytes **rows, *r;
    int n;
    char buf[512];

    /* keyspaces */
    const hln_table *t = schema_table(s, "system_schema", "keyspaces");
    assert_int_equal(schema_virtual_rows(s, &node, t, &a, &rows, &n, &err), 0);
    assert_int_equal(n, 4); /* system, system_schema, system_auth, ks */
    r = find_row(rows, n, t, "keyspace_name", "ks", NULL, NULL, NULL, NULL);
    assert_non_null(r);
    assert_int_equal(r[col_index(t, "durable_writes")].len, 1);
    assert_int_equal(r[col_index(t, "durable_writes")].p[0], 1);
    render_coll(r[col_index(t, "replication")], true, buf, sizeof buf);
    assert_string_equal(buf,
                        "class=org.apache.cassandra.locator.SimpleStrategy,replication_factor=1");
    r = find_row(rows, n, t, "keyspace_name", "system", NULL, NULL, NULL, NULL);
    render_coll(r[col_index(t, "replication")], true, buf, sizeof buf);
    assert_string_equal(buf, "class=org.apache.cassandra.locator.LocalStrategy");
    r = find_row(rows, n, t, "keyspace_name", "system_auth", NULL, NULL, NULL, NULL);
    render_coll(r[col_index(t, "replication")], true, buf, sizeof buf);
    assert_string_equal(buf,
                        "class=org.apache.cassandra.locator.SimpleStrategy,replication_factor=1");
    assert_null(
        find_row(rows, n, t, "keyspace_name", "system_virtual_schema", NULL, NULL, NULL, NULL));
    /* token order */
    for (int i = 1; i < n; i++) {
        hln_bytes p = rows[i - 1][0], q = rows[i][0];
        assert_true(hln_murmur3_token(p.p, (size_t)p.len) <= hln_murmur3_token(q.p, (size_t)q.len));
    }

    /* tables */
    t = schema_table(s, "system_schema", "tables");
    assert_int_equal(schema_virtual_rows(s, &node, t, &a, &rows, &n, &err), 0);
    r = find_row(rows, n, t, "keyspace_name", "ks", "table_name", "t", NULL, NULL);
    assert_non_null(r);
    const hln_table *ut = schema_table(s, "ks", "t");
    assert_int_equal(r[col_index(t, "id")].len, 16);
    assert_memory_equal(r[col_index(t, "id")].p, ut->id, 16);
    render_coll(r[col_index(t, "flags")], false, buf, sizeof buf);
    assert_string_equal(buf, "compound");
    assert_int_equal(be32(r[col_index(t, "gc_grace_seconds")].p), 864000);
    assert_int_equal(be32(r[col_index(t, "default_time_to_live")].p), 0);
    hln_bytes d = r[col_index(t, "bloom_filter_fp_chance")];
    assert_int_equal(d.len, 8);
    static const uint8_t dbl001[8] = {0x3f, 0x84, 0x7a, 0xe1, 0x47, 0xae, 0x14, 0x7b};
    assert_memory_equal(d.p, dbl001, 8);
    render_coll(r[col_index(t, "compaction")], true, buf, sizeof buf);
    assert_string_equal(buf,
                        "class=org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy,"
                        "max_threshold=32,min_threshold=4");
    render_coll(r[col_index(t, "caching")], true, buf, sizeof buf);
    assert_string_equal(buf, "keys=ALL,rows_per_partition=NONE");
    assert_int_equal(r[col_index(t, "extensions")].len, 4); /* empty map, not null */
    assert_text(r[col_index(t, "comment")], "");
    assert_text(r[col_index(t, "speculative_retry")], "99p");
    assert_text(r[col_index(t, "read_repair")], "BLOCKING");
    assert_int_equal(r[col_index(t, "cdc")].len, -1);
    assert_int_equal(r[col_index(t, "memtable")].len, -1);
    assert_non_null(
        find_row(rows, n, t, "keyspace_name", "system", "table_name", "local", NULL, NULL));
    r = find_row(rows, n, t, "keyspace_name", "system_schema", "table_name", "columns", NULL, NULL);
    assert_non_null(r);
    assert_text(r[col_index(t, "comment")], "column definitions");

    /* columns */
    t = schema_table(s, "system_schema", "columns");
    assert_int_equal(schema_virtual_rows(s, &node, t, &a, &rows, &n, &err), 0);
    struct {
        const char *col, *order, *kind, *type;
        int pos;
    } want[] = {
        {"k", "none", "partition_key", "int", 0}, {"c1", "desc", "clustering", "bigint", 0},
        {"c2", "asc", "clustering", "text", 1},   {"s", "none", "static", "int", -1},
        {"a", "none", "regular", "blob", -1},     {"v", "none", "regular", "text", -1},
    };
    int first = -1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        r = find_row(rows, n, t, "keyspace_name", "ks", "table_name", "t", "column_name",
                     want[i].col);
        assert_non_null(r);
        assert_text(r[col_index(t, "clustering_order")], want[i].order);
        assert_text(r[col_index(t, "kind")], want[i].kind);
        assert_text(r[col_index(t, "type")], want[i].type);
        assert_text(r[col_index(t, "column_name_bytes")], want[i].col);
        assert_int_equal(be32(r[col_index(t, "position")].p), want[i].pos);
    }
    /* within the partition, rows are in (table_name, column_name) order */
    for (int i = 0; i < n; i++)
        if (rows[i][0].len == 2 && memcmp(rows[i][0].p, "ks", 2) == 0) {
            first = i;
            break;
        }
    assert_true(first >= 0);
    static const char *names[] = {"a", "c1", "c2", "k", "s", "v"};
    for (int i = 0; i < 6; i++)
        assert_text(rows[first + i][col_index(t, "column_name")], names[i]);
    r = find_row(rows, n, t, "keyspace_name", "system", "table_name", "local", "column_name",
                 "tokens");
    assert_non_null(r);
    assert_text(r[col_index(t, "type")], "set<text>");
    r = find_row(rows, n, t, "keyspace_name", "system_schema", "table_name", "tables",
                 "column_name", "flags");
    assert_non_null(r);
    assert_text(r[col_index(t, "type")], "frozen<set<text>>");

    /* the virtual schema lists itself (3 tables) and system_views (15) */
    t = schema_table(s, "system_virtual_schema", "tables");
    assert_int_equal(schema_virtual_rows(s, &node, t, &a, &rows, &n, &err), 0);
    assert_int_equal(n, 18);
    assert_non_null(find_row(rows, n, t, "keyspace_name", "system_views", "table_name",
                             "local_read_latency", NULL, NULL));
    assert_non_null(find_row(rows, n, t, "keyspace_name", "system_views", "table_name",
                             "sai_column_indexes", NULL, NULL));
    r = find_row(rows, n, t, "keyspace_name", "system_virtual_schema", "table_name", "columns",
                 NULL, NULL);
    assert_non_null(r);
    assert_text(r[col_index(t, "comment")], "virtual column definitions");

    /* a user table is not virtual */
    assert_int_equal(schema_virtual_rows(s, &node, ut, &a, &rows, &n, &err), HLN_ENOTFOUND);
    hln_arena_free(&a);
    schema_release(s);
}

/* Readers acquire, read and release snapshots while DDL swaps them. */
typedef struct reader_arg {
    hln_catalog *cat;
    atomic_int *stop;
    long reads, bad; /* no cmocka asserts off the main thread */
} reader_arg;

static void *reader(void *p)
{
    reader_arg *ra = p;
    while (!atomic_load(ra->stop)) {
        hln_schema *s = catalog_acquire(ra->cat);
        const hln_table *t = schema_table(s, "ks", "t");
        if (t) assert_string_equal(t->cols[0].name, "k");
        assert_non_null(schema_table(s, "system", "local"));
        schema_release(s);
        ra->reads++;
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    fx *f = *state;
    hln_error err = {0};
    atomic_int stop;
    atomic_init(&stop, 0);
    reader_arg ra[2] = {{f->cat, &stop, 0, 0}, {f->cat, &stop, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &ra[i]), 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mk_ks(f, "ks", false, &err), 0);
        assert_int_equal(mk_table(f, "ks", "t", NULL, 0, false, &err), 0);
        assert_int_equal(catalog_drop_keyspace(f->cat, "ks", false, NULL, NULL, &err), 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_true(ra[0].reads > 0 && ra[1].reads > 0);
    assert_int_equal(ra[0].bad + ra[1].bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_and_system_ids),
        cmocka_unit_test(test_type_parse),
        cmocka_unit_test(test_map_parse),
        cmocka_unit_test_setup_teardown(test_keyspace_ddl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_ddl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
