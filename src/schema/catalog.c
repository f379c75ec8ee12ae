/*
 * catalog.c — the owner of the current schema snapshot: DDL and persistence.
 *
 * What: the catalog holds the published snapshot, applies DDL by building a
 * complete new snapshot, writes it to <dir>/schema/schema.json, and only then
 * publishes it. At open it loads that file (or creates it), adding the
 * built-in system keyspaces, which are never persisted.
 *
 * Why two mutexes: ddl_mu serialises DDL and is held across the file write
 * and fsyncs; ptr_mu guards only the pointer swap and the reference taken by
 * catalog_acquire, so readers never wait for a disk write.
 *
 * Durability (write-then-publish):
 *   1. write the JSON to schema.json.tmp, fsync it;
 *   2. rename over schema.json, fsync the directory;
 *   3. swap the snapshot pointer.
 * A crash before 2 leaves the old file (a stale .tmp is deleted at open); a
 * crash after 2 leaves the new one. A DDL whose write fails changes nothing.
 *
 * Cassandra's checks run in its order: system keyspace, keyspace name,
 * existence (IF [NOT] EXISTS turns the existence failure into a no-op that
 * returns 1), then the statement's own validation.
 *
 * Invariants:
 *  1. c->cur is only replaced while holding both ddl_mu and ptr_mu, and only
 *     after the file describing it is durable.
 *  2. Each applied DDL gets a new time uuid version, persisted with it, so a
 *     reopened catalog reports the same version.
 *  3. Table ids and index ids are new time uuids (never reused); index names
 *     are unique per keyspace; column ids are assigned at
 *     create and persisted.
 */
#include "schema/schema_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_FORMAT 2

struct hln_catalog {
    char *dir;  /* <data>/schema */
    char *path; /* <data>/schema/schema.json */
    char *tmp;  /* <data>/schema/schema.json.tmp */
    pthread_mutex_t ddl_mu, ptr_mu;
    hln_schema *cur;
    _Atomic uint64_t gen; /* cur->gen, readable without a lock */
};

/* ---- small helpers ---------------------------------------------------- */

static const char *kind_name(hln_column_kind k)
{
    switch (k) {
    case HLN_COL_PARTITION_KEY:
        return "partition_key";
    case HLN_COL_CLUSTERING:
        return "clustering";
    case HLN_COL_STATIC:
        return "static";
    default:
        return "regular";
    }
}

static int kind_parse(const char *s, hln_column_kind *k)
{
    static const struct {
        const char *n;
        hln_column_kind k;
    } K[] = {{"partition_key", HLN_COL_PARTITION_KEY},
             {"clustering", HLN_COL_CLUSTERING},
             {"static", HLN_COL_STATIC},
             {"regular", HLN_COL_REGULAR}};
    for (size_t i = 0; i < HLN_ARRAY_LEN(K); i++)
        if (strcmp(s, K[i].n) == 0) {
            *k = K[i].k;
            return 0;
        }
    return -1;
}

static void set_err_names(hln_error *err, const char *ks, const char *table)
{
    if (!err) return;
    snprintf(err->ks, sizeof err->ks, "%s", ks ? ks : "");
    snprintf(err->table, sizeof err->table, "%s", table ? table : "");
}

/* ---- JSON encoding ---------------------------------------------------- */

static json_t *opts_json(const hln_option *o, int n)
{
    json_t *obj = json_object();
    if (!obj) return NULL;
    for (int i = 0; i < n; i++) {
        if (json_object_set_new(obj, o[i].key, json_string(o[i].value)) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static const char *const TARGET_NAMES[] = {"simple", "keys", "values", "entries", "full"};

/* "indexes": [{"name", "id", "column_id", "target", "kind", "options"}]
 * (written only when the table has indexes; NULL on ENOMEM). */
static json_t *indexes_json(const hln_table *t)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < t->nindexes; i++) {
        const hln_index *ix = &t->indexes[i];
        char id[37];
        hln_uuid_format(ix->id, id);
        json_t *opts = opts_json(ix->opts, ix->nopts);
        json_t *ji = opts ? json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "name", ix->name, "id", id,
                                      "column_id", (json_int_t)ix->col_id, "target",
                                      TARGET_NAMES[ix->target], "kind",
                                      ix->kind == HLN_IXK_SAI ? "sai" : "legacy", "options", opts)
                          : NULL;
        if (!ji || json_array_append_new(arr, ji) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *table_json(const hln_table *t)
{
    char id[37];
    hln_uuid_format(t->id, id);
    json_t *cols = json_array();
    for (int i = 0; cols && i < t->ncols; i++) {
        const hln_column *c = &t->cols[i];
        json_t *jc = json_pack("{s:s, s:I, s:s, s:s, s:i, s:b}", "name", c->name, "id",
                               (json_int_t)c->id, "type", c->type->cql_name, "kind",
                               kind_name(c->kind), "position", c->position, "desc", c->desc);
        if (!jc || json_array_append_new(cols, jc) < 0) {
            json_decref(cols);
            return NULL;
        }
    }
    json_t *opts = opts_json(t->opts, t->nopts);
    if (!cols || !opts) {
        json_decref(cols);
        json_decref(opts);
        return NULL;
    }
    json_t *jt = json_pack("{s:s, s:s, s:I, s:o, s:o}", "name", t->name, "id", id, "next_col_id",
                           (json_int_t)t->next_col_id, "columns", cols, "options", opts);
    if (jt && t->nindexes && json_object_set_new(jt, "indexes", indexes_json(t)) < 0) {
        json_decref(jt);
        return NULL;
    }
    if (jt && t->is_view) {
        char bid[37];
        hln_uuid_format(t->base_id, bid);
        json_t *jv = json_pack("{s:s, s:s, s:s, s:b}", "base_id", bid, "base_name", t->base_name,
                               "where", t->view_where, "include_all", t->include_all);
        json_t *jr = t->nrestr ? json_array() : NULL;
        for (int i = 0; jr && i < t->nrestr; i++) {
            json_t *vals = json_array();
            for (int j = 0; vals && j < t->restr[i].nvals; j++) {
                char *hex = hln_malloc(2 * (size_t)t->restr[i].lens[j] + 1);
                if (!hex) {
                    json_decref(vals);
                    vals = NULL;
                    break;
                }
                for (uint32_t b = 0; b < t->restr[i].lens[j]; b++)
                    snprintf(hex + 2 * b, 3, "%02x", t->restr[i].vals[j][b]);
                hex[2 * t->restr[i].lens[j]] = 0;
                json_array_append_new(vals, json_string(hex));
                hln_free(hex);
            }
            json_t *x = vals ? json_pack("{s:s, s:s, s:o}", "column", t->restr[i].col, "op",
                                         t->restr[i].op, "values", vals)
                             : NULL;
            if (!x || json_array_append_new(jr, x) < 0) {
                json_decref(jr);
                jr = NULL;
            }
        }
        if (jv && t->nrestr && (!jr || json_object_set_new(jv, "restrictions", jr) < 0)) {
            json_decref(jv);
            jv = NULL;
        }
        if (!jv || json_object_set_new(jt, "view", jv) < 0) {
            json_decref(jt);
            return NULL;
        }
    }
    if (!jt || t->ndropped == 0) return jt;
    /* written only when there is one, so files without ALTER stay as before */
    json_t *dr = json_array();
    for (int i = 0; dr && i < t->ndropped; i++) {
        const hln_dropped_column *d = &t->dropped[i];
        json_t *jd =
            json_pack("{s:s, s:s, s:s, s:I}", "name", d->name, "type", d->type->cql_name, "kind",
                      kind_name(d->kind), "dropped_time", (json_int_t)d->dropped_time);
        if (!jd || json_array_append_new(dr, jd) < 0) {
            json_decref(dr);
            dr = NULL;
        }
    }
    if (!dr || json_object_set_new(jt, "dropped_columns", dr) < 0) {
        json_decref(jt);
        return NULL;
    }
    return jt;
}

/* "types": [{"name": n, "fields": [{"name": f, "type": t}, ...]}, ...]
 * (written only when the keyspace has types). */
static json_t *types_json(const hln_keyspace *ks)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < ks->ntypes; i++) {
        const hln_type *t = ks->types[i];
        json_t *fs = json_array();
        for (int f = 0; fs && f < t->nparams; f++) {
            json_t *jf = json_pack("{s:s, s:s}", "name", hln_udt_field(t, f), "type",
                                   t->params[f]->cql_name);
            if (!jf || json_array_append_new(fs, jf) < 0) {
                json_decref(fs);
                fs = NULL;
            }
        }
        json_t *jt = fs ? json_pack("{s:s, s:o}", "name", hln_udt_name(t), "fields", fs) : NULL;
        if (!jt || json_array_append_new(arr, jt) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *schema_json(const hln_schema *s)
{
    char ver[37];
    hln_uuid_format(s->version, ver);
    json_t *kss = json_array();
    for (int i = 0; kss && i < s->nkeyspaces; i++) {
        const hln_keyspace *ks = s->keyspaces[i];
        if (ks->is_system) continue;
        json_t *tables = json_array();
        for (int j = 0; tables && j < ks->ntables; j++) {
            json_t *jt = table_json(ks->tables[j]);
            if (!jt || json_array_append_new(tables, jt) < 0) {
                json_decref(tables);
                tables = NULL;
            }
        }
        json_t *repl = opts_json(ks->replication, ks->nreplication);
        json_t *jk = NULL;
        if (tables && repl)
            jk = json_pack("{s:s, s:b, s:O, s:O}", "name", ks->name, "durable_writes",
                           ks->durable_writes, "replication", repl, "tables", tables);
        if (jk && ks->ntypes && json_object_set_new(jk, "types", types_json(ks)) < 0) {
            json_decref(jk);
            jk = NULL;
        }
        json_decref(tables);
        json_decref(repl);
        if (!jk || json_array_append_new(kss, jk) < 0) {
            json_decref(kss);
            return NULL;
        }
    }
    if (!kss) return NULL;
    return json_pack("{s:i, s:s, s:o}", "format", SCHEMA_FORMAT, "version", ver, "keyspaces", kss);
}

/* Writes s durably to c->path (see the file comment for the protocol). */
static int persist(hln_catalog *c, const hln_schema *s, hln_error *err)
{
    json_t *root = schema_json(s);
    if (!root) return hln_fail(err, HLN_ENOMEM, "out of memory encoding the schema");
    size_t flags = JSON_INDENT(1) | JSON_PRESERVE_ORDER;
    size_t len = json_dumpb(root, NULL, 0, flags);
    char *text = len ? hln_malloc(len + 1) : NULL;
    if (!text || json_dumpb(root, text, len, flags) != len) {
        json_decref(root);
        hln_free(text);
        return hln_fail(err, HLN_ENOMEM, "out of memory encoding the schema");
    }
    json_decref(root);
    text[len++] = '\n';

    int rc = hln_write_file_durably(c->path, text, len, 0644, err);
    hln_free(text);
    return rc;
}

/* ---- JSON decoding ---------------------------------------------------- */

static int option_order(const void *pa, const void *pb)
{
    return strcmp(((const hln_option *)pa)->key, ((const hln_option *)pb)->key);
}

static int opts_from_json(schema_snap *sn, json_t *obj, hln_option **out, int *n, const char *what,
                          hln_error *err)
{
    if (!json_is_object(obj))
        return hln_corrupt(err, "schema", "%s: options are not an object", what);
    size_t cnt = json_object_size(obj);
    *out = NULL;
    *n = 0;
    if (cnt == 0) return 0;
    hln_option *o = hln_arena_alloc(&sn->arena, sizeof *o * cnt);
    if (!o) return HLN_ENOMEM;
    const char *k;
    json_t *v;
    int i = 0;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v))
            return hln_corrupt(err, "schema", "%s: option %s is not a string", what, k);
        o[i].key = hln_arena_strdup(&sn->arena, k);
        o[i].value = hln_arena_strdup(&sn->arena, json_string_value(v));
        if (!o[i].key || !o[i].value) return HLN_ENOMEM;
        i++;
    }
    *out = o;
    *n = i;
    return 0;
}

/* "dropped_columns" (optional: absent in files written before ALTER TABLE
 * DROP existed, and when the table never dropped a column). */
static int dropped_from_json(schema_snap *sn, json_t *jd, hln_table *t, const hln_keyspace *ksd,
                             hln_error *err)
{
    if (!jd) return 0;
    if (!json_is_array(jd) || json_array_size(jd) > 100000)
        return hln_corrupt(err, "schema", "bad dropped_columns in %s.%s", t->ks, t->name);
    size_t n = json_array_size(jd);
    if (n == 0) return 0;
    t->dropped = hln_arena_alloc(&sn->arena, sizeof *t->dropped * n);
    if (!t->dropped) return HLN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *cn, *ty, *kind;
        json_int_t when;
        hln_dropped_column *d = &t->dropped[i];
        if (json_unpack(json_array_get(jd, i), "{s:s, s:s, s:s, s:I}", "name", &cn, "type", &ty,
                        "kind", &kind, "dropped_time", &when) < 0)
            return hln_corrupt(err, "schema", "malformed dropped column %zu of %s.%s", i, t->ks,
                               t->name);
        if (!(d->name = hln_arena_strdup(&sn->arena, cn))) return HLN_ENOMEM;
        if (!(d->type = hln_type_parse_in(ty, ksd->types, ksd->ntypes)))
            return hln_corrupt(err, "schema", "unknown type '%s' for dropped %s.%s.%s", ty, t->ks,
                               t->name, cn);
        if (kind_parse(kind, &d->kind) < 0 ||
            (d->kind != HLN_COL_REGULAR && d->kind != HLN_COL_STATIC))
            return hln_corrupt(err, "schema", "bad kind '%s' for dropped %s.%s.%s", kind, t->ks,
                               t->name, cn);
        d->dropped_time = (int64_t)when;
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->dropped[j].name, cn) == 0)
                return hln_corrupt(err, "schema", "duplicate dropped column %s in %s.%s", cn, t->ks,
                                   t->name);
    }
    t->ndropped = (int)n;
    return 0;
}

static int index_order(const void *pa, const void *pb)
{
    return strcmp(((const hln_index *)pa)->name, ((const hln_index *)pb)->name);
}

/* "indexes" (optional: absent in format 1 files and for tables without
 * indexes). Each names an existing column by id. */
static int indexes_from_json(schema_snap *sn, json_t *ji, hln_table *t, hln_error *err)
{
    if (!ji) return 0;
    if (!json_is_array(ji) || json_array_size(ji) > 100000)
        return hln_corrupt(err, "schema", "bad indexes in %s.%s", t->ks, t->name);
    size_t n = json_array_size(ji);
    if (n == 0) return 0;
    t->indexes = hln_arena_alloc(&sn->arena, sizeof *t->indexes * n);
    if (!t->indexes) return HLN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name, *id, *target, *kind;
        json_int_t cid;
        json_t *opts;
        hln_index *ix = &t->indexes[i];
        memset(ix, 0, sizeof *ix);
        if (json_unpack(json_array_get(ji, i), "{s:s, s:s, s:I, s:s, s:s, s:o}", "name", &name,
                        "id", &id, "column_id", &cid, "target", &target, "kind", &kind, "options",
                        &opts) < 0)
            return hln_corrupt(err, "schema", "malformed index %zu of %s.%s", i, t->ks, t->name);
        if (!(ix->name = hln_arena_strdup(&sn->arena, name))) return HLN_ENOMEM;
        if (hln_uuid_parse(id, ix->id) < 0)
            return hln_corrupt(err, "schema", "bad id for index %s of %s.%s", name, t->ks, t->name);
        bool found = false;
        for (int c = 0; c < t->ncols; c++)
            found |= cid >= 0 && t->cols[c].id == (uint32_t)cid;
        if (!found)
            return hln_corrupt(err, "schema", "index %s of %s.%s names no column", name, t->ks,
                               t->name);
        ix->col_id = (uint32_t)cid;
        int tg = -1;
        for (int k = 0; k < (int)HLN_ARRAY_LEN(TARGET_NAMES); k++)
            if (strcmp(target, TARGET_NAMES[k]) == 0) tg = k;
        if (tg < 0) return hln_corrupt(err, "schema", "bad target '%s' for index %s", target, name);
        ix->target = (hln_index_target)tg;
        if (strcmp(kind, "sai") == 0)
            ix->kind = HLN_IXK_SAI;
        else if (strcmp(kind, "legacy") == 0)
            ix->kind = HLN_IXK_LEGACY;
        else
            return hln_corrupt(err, "schema", "bad kind '%s' for index %s", kind, name);
        int rc = opts_from_json(sn, opts, &ix->opts, &ix->nopts, name, err);
        if (rc < 0) return rc;
        qsort(ix->opts, (size_t)ix->nopts, sizeof *ix->opts, option_order);
    }
    t->nindexes = (int)n;
    qsort(t->indexes, n, sizeof *t->indexes, index_order);
    return 0;
}

static int table_from_json(schema_snap *sn, const hln_keyspace *ksd, json_t *jt, hln_table **out,
                           hln_error *err)
{
    const char *ksname = ksd->name;
    hln_arena *a = &sn->arena;
    const char *name = NULL, *id = NULL;
    json_int_t next = -1;
    json_t *cols = NULL, *opts = NULL;
    if (json_unpack(jt, "{s:s, s:s, s:I, s:o, s:o}", "name", &name, "id", &id, "next_col_id", &next,
                    "columns", &cols, "options", &opts) < 0 ||
        !json_is_array(cols))
        return hln_corrupt(err, "schema", "malformed table in keyspace %s", ksname);
    hln_table *t = hln_arena_alloc(a, sizeof *t);
    if (!t) return HLN_ENOMEM;
    t->ks = hln_arena_strdup(a, ksname);
    t->name = hln_arena_strdup(a, name);
    if (!t->ks || !t->name) return HLN_ENOMEM;
    if (!schema_name_valid(name) || hln_uuid_parse(id, t->id) < 0)
        return hln_corrupt(err, "schema", "bad name or id for table %s.%s", ksname, name);
    if (next < 0 || next > UINT32_MAX)
        return hln_corrupt(err, "schema", "bad next_col_id for table %s.%s", ksname, name);
    t->next_col_id = (uint32_t)next;
    size_t n = json_array_size(cols);
    if (n == 0 || n > 100000)
        return hln_corrupt(err, "schema", "table %s.%s has no columns", ksname, name);
    t->cols = hln_arena_alloc(a, sizeof *t->cols * n);
    if (!t->cols) return HLN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *cn, *ty, *kind;
        json_int_t cid;
        int pos, desc;
        hln_column *c = &t->cols[i];
        if (json_unpack(json_array_get(cols, i), "{s:s, s:I, s:s, s:s, s:i, s:b}", "name", &cn,
                        "id", &cid, "type", &ty, "kind", &kind, "position", &pos, "desc",
                        &desc) < 0)
            return hln_corrupt(err, "schema", "malformed column %zu of %s.%s", i, ksname, name);
        c->name = hln_arena_strdup(a, cn);
        if (!c->name) return HLN_ENOMEM;
        c->type = hln_type_parse_in(ty, ksd->types, ksd->ntypes);
        if (!c->type)
            return hln_corrupt(err, "schema", "unknown type '%s' for %s.%s.%s", ty, ksname, name,
                               cn);
        if (kind_parse(kind, &c->kind) < 0)
            return hln_corrupt(err, "schema", "unknown kind '%s' for %s.%s.%s", kind, ksname, name,
                               cn);
        if (cid < 0 || cid >= next)
            return hln_corrupt(err, "schema", "bad id for %s.%s.%s", ksname, name, cn);
        c->id = (uint32_t)cid;
        c->position = pos;
        c->desc = desc != 0;
        for (size_t j = 0; j < i; j++)
            if (t->cols[j].id == c->id || strcmp(t->cols[j].name, c->name) == 0)
                return hln_corrupt(err, "schema", "duplicate column %s in %s.%s", cn, ksname, name);
        /* the file is written in column order: check it */
        if (c->kind == HLN_COL_PARTITION_KEY) {
            if (t->npk != (int)i || pos != t->npk)
                return hln_corrupt(err, "schema", "bad partition key order in %s.%s", ksname, name);
            t->npk++;
        } else if (c->kind == HLN_COL_CLUSTERING) {
            if (t->npk + t->nck != (int)i || pos != t->nck)
                return hln_corrupt(err, "schema", "bad clustering order in %s.%s", ksname, name);
            t->nck++;
        } else if (pos != -1) {
            return hln_corrupt(err, "schema", "bad position for %s.%s.%s", ksname, name, cn);
        }
    }
    t->ncols = (int)n;
    if (t->npk == 0)
        return hln_corrupt(err, "schema", "table %s.%s has no partition key", ksname, name);
    int rc = opts_from_json(sn, opts, &t->opts, &t->nopts, name, err);
    if (rc < 0) return rc;
    if ((rc = dropped_from_json(sn, json_object_get(jt, "dropped_columns"), t, ksd, err)) < 0)
        return rc;
    if ((rc = indexes_from_json(sn, json_object_get(jt, "indexes"), t, err)) < 0) return rc;
    json_t *jv = json_object_get(jt, "view");
    if (jv) {
        const char *bid, *bname, *where;
        int all;
        if (json_unpack(jv, "{s:s, s:s, s:s, s:b}", "base_id", &bid, "base_name", &bname, "where",
                        &where, "include_all", &all) < 0 ||
            hln_uuid_parse(bid, t->base_id) < 0)
            return hln_corrupt(err, "schema", "malformed view definition of %s.%s", ksname, name);
        t->is_view = true;
        t->include_all = all != 0;
        t->base_name = hln_arena_strdup(a, bname);
        t->view_where = hln_arena_strdup(a, where);
        if (!t->base_name || !t->view_where) return HLN_ENOMEM;
        json_t *jr = json_object_get(jv, "restrictions");
        size_t nr = json_is_array(jr) ? json_array_size(jr) : 0;
        if (nr) {
            t->restr = hln_arena_alloc(a, sizeof *t->restr * nr);
            if (!t->restr) return HLN_ENOMEM;
            for (size_t i = 0; i < nr; i++) {
                const char *col, *op;
                json_t *vals;
                hln_view_restr *x = &t->restr[i];
                if (json_unpack(json_array_get(jr, i), "{s:s, s:s, s:o}", "column", &col, "op", &op,
                                "values", &vals) < 0 ||
                    !json_is_array(vals))
                    return hln_corrupt(err, "schema", "malformed view restriction of %s.%s", ksname,
                                       name);
                x->col = hln_arena_strdup(a, col);
                x->op = hln_arena_strdup(a, op);
                x->nvals = (int)json_array_size(vals);
                x->vals = hln_arena_alloc(a, sizeof *x->vals * (size_t)(x->nvals + 1));
                x->lens = hln_arena_alloc(a, sizeof *x->lens * (size_t)(x->nvals + 1));
                if (!x->col || !x->op || !x->vals || !x->lens) return HLN_ENOMEM;
                for (int j = 0; j < x->nvals; j++) {
                    const char *hex = json_string_value(json_array_get(vals, (size_t)j));
                    size_t hl = hex ? strlen(hex) : 1;
                    if (!hex || hl % 2)
                        return hln_corrupt(err, "schema", "bad view restriction value in %s.%s",
                                           ksname, name);
                    x->lens[j] = (uint32_t)(hl / 2);
                    x->vals[j] = hln_arena_alloc(a, hl / 2 + 1);
                    if (!x->vals[j]) return HLN_ENOMEM;
                    for (size_t b = 0; b < hl / 2; b++) {
                        int hi = hln_hex_digit(hex[2 * b]), lo = hln_hex_digit(hex[2 * b + 1]);
                        if (hi < 0 || lo < 0)
                            return hln_corrupt(err, "schema", "bad view restriction value in %s.%s",
                                               ksname, name);
                        x->vals[j][b] = (uint8_t)(hi << 4 | lo);
                    }
                }
            }
            t->nrestr = (int)nr;
        }
    }
    t->is_virtual = false;
    *out = t;
    return 0;
}

static int udt_order(const void *pa, const void *pb)
{
    return strcmp(hln_udt_name(*(const hln_type *const *)pa),
                  hln_udt_name(*(const hln_type *const *)pb));
}

/* "types" (optional). A type's fields may use types listed after it (an
 * ALTER TYPE ADD can refer to a later type), so types are resolved in
 * passes until none is left. */
static int types_from_json(schema_snap *sn, hln_keyspace *ks, json_t *jt, hln_error *err)
{
    if (!jt) return 0;
    size_t n = json_array_size(jt);
    if (!json_is_array(jt) || n > 10000)
        return hln_corrupt(err, "schema", "bad types in keyspace %s", ks->name);
    if (n == 0) return 0;
    ks->types = hln_arena_alloc(&sn->arena, sizeof *ks->types * n);
    bool *done = hln_arena_alloc(&sn->arena, n);
    if (!ks->types || !done) return HLN_ENOMEM;
    memset(done, 0, n);
    for (size_t left = n; left > 0;) {
        size_t before = left;
        for (size_t i = 0; i < n; i++) {
            if (done[i]) continue;
            const char *name;
            json_t *fs;
            if (json_unpack(json_array_get(jt, i), "{s:s, s:o}", "name", &name, "fields", &fs) <
                    0 ||
                !json_is_array(fs) || json_array_size(fs) < 1 ||
                json_array_size(fs) > HLN_TUPLE_MAX)
                return hln_corrupt(err, "schema", "malformed type %zu in keyspace %s", i, ks->name);
            const char *fields[HLN_TUPLE_MAX];
            const hln_type *types[HLN_TUPLE_MAX];
            size_t nf = json_array_size(fs);
            bool ok = true;
            for (size_t f = 0; f < nf && ok; f++) {
                const char *ty;
                if (json_unpack(json_array_get(fs, f), "{s:s, s:s}", "name", &fields[f], "type",
                                &ty) < 0)
                    return hln_corrupt(err, "schema", "malformed field of type %s.%s", ks->name,
                                       name);
                types[f] = hln_type_parse_in(ty, ks->types, ks->ntypes);
                ok = types[f] != NULL;
            }
            if (!ok) continue;
            const hln_type *t = hln_type_udt(ks->name, name, fields, types, (int)nf, false);
            if (!t) return hln_corrupt(err, "schema", "bad type %s.%s", ks->name, name);
            ks->types[ks->ntypes++] = t;
            done[i] = true;
            left--;
        }
        if (left == before)
            return hln_corrupt(err, "schema", "unresolvable types in keyspace %s", ks->name);
    }
    qsort(ks->types, (size_t)ks->ntypes, sizeof *ks->types, udt_order);
    return 0;
}

static int keyspace_from_json(schema_snap *sn, json_t *jk, hln_error *err)
{
    hln_arena *a = &sn->arena;
    const char *name = NULL;
    int durable = 1;
    json_t *repl = NULL, *tables = NULL;
    if (json_unpack(jk, "{s:s, s:b, s:o, s:o}", "name", &name, "durable_writes", &durable,
                    "replication", &repl, "tables", &tables) < 0 ||
        !json_is_array(tables))
        return hln_corrupt(err, "schema", "malformed keyspace entry");
    if (!schema_name_valid(name) || schema_is_system_keyspace_name(name) ||
        schema_keyspace(&sn->s, name))
        return hln_corrupt(err, "schema", "bad or duplicate keyspace name '%s'", name);
    hln_keyspace *ks = hln_arena_alloc(a, sizeof *ks);
    if (!ks || !(ks->name = hln_arena_strdup(a, name))) return HLN_ENOMEM;
    ks->durable_writes = durable != 0;
    int rc = opts_from_json(sn, repl, &ks->replication, &ks->nreplication, name, err);
    if (rc < 0) return rc;
    /* "class" first */
    for (int i = 1; i < ks->nreplication; i++) {
        if (strcmp(ks->replication[i].key, "class") == 0) {
            hln_option tmp = ks->replication[i];
            memmove(&ks->replication[1], &ks->replication[0], sizeof tmp * (size_t)i);
            ks->replication[0] = tmp;
        }
    }
    if (ks->nreplication == 0 || strcmp(ks->replication[0].key, "class") != 0)
        return hln_corrupt(err, "schema", "keyspace %s has no replication class", name);
    if ((rc = types_from_json(sn, ks, json_object_get(jk, "types"), err)) < 0) return rc;
    size_t nt = json_array_size(tables);
    if (nt) {
        ks->tables = hln_arena_alloc(a, sizeof *ks->tables * nt);
        if (!ks->tables) return HLN_ENOMEM;
    }
    for (size_t i = 0; i < nt; i++) {
        rc = table_from_json(sn, ks, json_array_get(tables, i), &ks->tables[i], err);
        if (rc < 0) return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ks->tables[j]->name, ks->tables[i]->name) == 0)
                return hln_corrupt(err, "schema", "duplicate table %s.%s", name,
                                   ks->tables[i]->name);
        if (schema_table_by_id(&sn->s, ks->tables[i]->id))
            return hln_corrupt(err, "schema", "duplicate table id for %s.%s", name,
                               ks->tables[i]->name);
        ks->ntables++;
    }
    schema_sort_tables(ks);
    return schema_snap_add_keyspace(sn, ks);
}

static int load(hln_catalog *c, schema_snap *sn, hln_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(c->path, 0, &jerr);
    if (!root) return hln_corrupt(err, "schema", "%s: %s (line %d)", c->path, jerr.text, jerr.line);
    int rc = 0;
    int format = 0;
    const char *ver = NULL;
    json_t *kss = NULL;
    if (json_unpack(root, "{s:i, s:s, s:o}", "format", &format, "version", &ver, "keyspaces",
                    &kss) < 0 ||
        !json_is_array(kss))
        rc = hln_corrupt(err, "schema", "%s: missing format, version or keyspaces", c->path);
    else if (format != 1 && format != SCHEMA_FORMAT) /* 1: before indexes; loads as is */
        rc = hln_corrupt(err, "schema", "%s: unsupported format %d", c->path, format);
    else if (hln_uuid_parse(ver, sn->s.version) < 0)
        rc = hln_corrupt(err, "schema", "%s: bad version '%s'", c->path, ver);
    for (size_t i = 0; rc == 0 && i < json_array_size(kss); i++)
        rc = keyspace_from_json(sn, json_array_get(kss, i), err);
    json_decref(root);
    return rc;
}

/* ---- open/close/acquire ----------------------------------------------- */

int catalog_open(hln_catalog **out, const char *dir, hln_error *err)
{
    *out = NULL;
    hln_catalog *c = hln_calloc(1, sizeof *c);
    if (!c) return hln_fail(err, HLN_ENOMEM, "out of memory");
    c->dir = hln_path_join(dir, "schema");
    c->path = c->dir ? hln_path_join(c->dir, "schema.json") : NULL;
    c->tmp = c->dir ? hln_path_join(c->dir, "schema.json.tmp") : NULL;
    pthread_mutex_init(&c->ddl_mu, NULL);
    pthread_mutex_init(&c->ptr_mu, NULL);
    int rc = 0;
    schema_snap *sn = NULL;
    if (!c->dir || !c->path || !c->tmp) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = hln_mkdirs(dir, err)) < 0 || (rc = hln_mkdirs(c->dir, err)) < 0) goto fail;
    unlink(c->tmp); /* an interrupted write: the rename never happened */

    sn = schema_snap_new();
    if (!sn) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = schema_add_system_keyspaces(sn, err)) < 0) goto fail;
    if (access(c->path, F_OK) == 0) {
        if ((rc = load(c, sn, err)) < 0) goto fail;
    } else {
        hln_uuid_time(sn->s.version);
        if ((rc = persist(c, &sn->s, err)) < 0) goto fail;
    }
    c->cur = &sn->s;
    *out = c;
    return 0;
fail:
    if (rc == HLN_ENOMEM && err && err->code != HLN_ENOMEM)
        hln_fail(err, HLN_ENOMEM, "out of memory");
    schema_snap_free(sn);
    catalog_close(c);
    return rc;
}

void catalog_close(hln_catalog *c)
{
    if (!c) return;
    schema_release(c->cur);
    pthread_mutex_destroy(&c->ddl_mu);
    pthread_mutex_destroy(&c->ptr_mu);
    hln_free(c->dir);
    hln_free(c->path);
    hln_free(c->tmp);
    hln_free(c);
}

hln_schema *catalog_acquire(hln_catalog *c)
{
    pthread_mutex_lock(&c->ptr_mu);
    hln_schema *s = c->cur;
    schema_retain(s);
    pthread_mutex_unlock(&c->ptr_mu);
    return s;
}

/* Persists sn, then publishes it. Called with ddl_mu held; consumes sn. */
static int commit(hln_catalog *c, schema_snap *sn, hln_error *err)
{
    hln_uuid_time(sn->s.version);
    int rc = persist(c, &sn->s, err);
    if (rc < 0) {
        schema_snap_free(sn);
        return rc;
    }
    pthread_mutex_lock(&c->ptr_mu);
    hln_schema *old = c->cur;
    sn->s.gen = old->gen + 1;
    c->cur = &sn->s;
    atomic_store(&c->gen, sn->s.gen);
    pthread_mutex_unlock(&c->ptr_mu);
    schema_release(old);
    return 0;
}

uint64_t catalog_generation(hln_catalog *c)
{
    return atomic_load(&c->gen);
}

/* A new snapshot holding copies of every keyspace of s except `skip`. */
static schema_snap *copy_except(const hln_schema *s, const char *skip)
{
    schema_snap *sn = schema_snap_new();
    if (!sn) return NULL;
    for (int i = 0; i < s->nkeyspaces; i++) {
        if (skip && strcmp(s->keyspaces[i]->name, skip) == 0) continue;
        hln_keyspace *k = schema_copy_keyspace(sn, s->keyspaces[i]);
        if (!k || schema_snap_add_keyspace(sn, k) < 0) {
            schema_snap_free(sn);
            return NULL;
        }
    }
    return sn;
}

/* The checks every DDL on keyspace ks starts with (AlterSchemaStatement). */
static int check_keyspace_name(const char *ks, hln_error *err)
{
    if (!ks || !*ks)
        return hln_fail(err, HLN_EINVAL,
                        "No keyspace has been specified. USE a keyspace, or "
                        "explicitly specify keyspace.tablename");
    if (schema_is_system_keyspace_name(ks))
        return hln_fail(err, HLN_EINVAL, "System keyspace '%s' is not user-modifiable", ks);
    if (!schema_name_valid(ks))
        return hln_fail(err, HLN_EINVAL,
                        "Keyspace name must not be empty, more than %d characters long, or contain "
                        "non-alphanumeric-underscore characters (got '%s')",
                        SCHEMA_NAME_LENGTH, ks);
    return 0;
}

/* ---- DDL -------------------------------------------------------------- */

int catalog_create_keyspace(hln_catalog *c, const hln_keyspace_spec *spec, bool if_not_exists,
                            hln_error *err)
{
    int rc = check_keyspace_name(spec->name, err);
    if (rc < 0) return rc;
    if (spec->nreplication <= 0)
        return hln_fail(err, HLN_EINVAL, "Missing mandatory option 'replication'");
    bool has_class = false;
    for (int i = 0; i < spec->nreplication; i++)
        if (strcmp(spec->replication[i].key, "class") == 0) has_class = true;
    if (!has_class) return hln_fail(err, HLN_ECONFIG, "Missing replication strategy class");

    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    if (schema_keyspace(cur, spec->name)) {
        if (if_not_exists) {
            rc = 1;
        } else {
            set_err_names(err, spec->name, "");
            rc = hln_fail(err, HLN_EEXISTS, "Cannot add existing keyspace \"%s\"", spec->name);
        }
        goto out;
    }
    sn = copy_except(cur, NULL);
    if (!sn) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    hln_keyspace *ks = hln_arena_alloc(&sn->arena, sizeof *ks);
    if (!ks || !(ks->name = hln_arena_strdup(&sn->arena, spec->name))) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = schema_replication(&sn->arena, spec->name, spec->replication, spec->nreplication,
                            &ks->replication, &ks->nreplication, err);
    if (rc < 0) goto out;
    ks->durable_writes = spec->durable_writes;
    if ((rc = schema_snap_add_keyspace(sn, ks)) < 0) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = commit(c, sn, err);
    sn = NULL;
out:
    if (rc == HLN_ENOMEM && err && err->code != HLN_ENOMEM)
        hln_fail(err, HLN_ENOMEM, "out of memory");
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

static int collect_ids(const hln_keyspace *ks, const hln_table *only, uint8_t (**ids)[16], int *n,
                       hln_error *err)
{
    if (ids) *ids = NULL;
    if (n) *n = 0;
    if (!ids) return 0;
    int cnt = only ? 1 : ks->ntables;
    if (cnt == 0) return 0;
    uint8_t(*arr)[16] = hln_malloc(sizeof *arr * (size_t)cnt);
    if (!arr) return hln_fail(err, HLN_ENOMEM, "out of memory");
    if (only)
        memcpy(arr[0], only->id, 16);
    else
        for (int i = 0; i < cnt; i++)
            memcpy(arr[i], ks->tables[i]->id, 16);
    *ids = arr;
    if (n) *n = cnt;
    return 0;
}

int catalog_drop_keyspace(hln_catalog *c, const char *ks, bool if_exists,
                          uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err)
{
    if (dropped_ids) *dropped_ids = NULL;
    if (ndropped) *ndropped = 0;
    if (ks && schema_is_system_keyspace_name(ks)) /* DropKeyspaceStatement: Unauthorized */
        return hln_fail(err, HLN_EUNAUTHORIZED, "%s keyspace is not user-modifiable.", ks);
    int rc = check_keyspace_name(ks, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    const hln_keyspace *k = schema_keyspace(cur, ks);
    if (!k) {
        rc = if_exists ? 1 : hln_fail(err, HLN_ENOTFOUND, "Keyspace '%s' doesn't exist", ks);
        goto out;
    }
    uint8_t(*ids)[16] = NULL;
    int nids = 0;
    if ((rc = collect_ids(k, NULL, dropped_ids ? &ids : NULL, &nids, err)) < 0) goto out;
    schema_snap *sn = copy_except(cur, ks);
    if (!sn) {
        hln_free(ids);
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = commit(c, sn, err);
    if (rc < 0) {
        hln_free(ids);
    } else if (dropped_ids) {
        *dropped_ids = ids;
        if (ndropped) *ndropped = nids;
    }
out:
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

int catalog_create_table(hln_catalog *c, const hln_table_spec *spec, bool if_not_exists,
                         hln_error *err)
{
    int rc = check_keyspace_name(spec->ks, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    const hln_keyspace *k = schema_keyspace(cur, spec->ks);
    if (!k) {
        rc = hln_fail(err, HLN_ENOTFOUND, "Keyspace '%s' doesn't exist", spec->ks);
        goto out;
    }
    if (spec->name && schema_table(cur, spec->ks, spec->name)) {
        if (if_not_exists) {
            rc = 1;
        } else {
            set_err_names(err, spec->ks, spec->name);
            rc = hln_fail(err, HLN_EEXISTS,
                          "Cannot add already existing table \"%s\" to keyspace \"%s\"", spec->name,
                          spec->ks);
        }
        goto out;
    }
    sn = copy_except(cur, spec->ks);
    if (!sn) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }

    /* options (and WITH ID = '...') */
    bool counters = false;
    for (int i = 0; i < spec->ncols; i++)
        if (spec->cols[i].type && spec->cols[i].type->kind == HLN_T_COUNTER) counters = true;
    hln_option *opts;
    int nopts;
    if ((rc = schema_table_options(&sn->arena, spec->opts, spec->nopts, counters, &opts, &nopts,
                                   err)) < 0)
        goto out;
    uint8_t id[16];
    hln_uuid_time(id);
    for (int i = 0; i < spec->nopts; i++) {
        if (strcmp(spec->opts[i].key, "id") != 0) continue;
        if (!spec->opts[i].value || hln_uuid_parse(spec->opts[i].value, id) < 0) {
            rc = hln_fail(err, HLN_ECONFIG, "Invalid table id");
            goto out;
        }
        if (schema_table_by_id(cur, id)) {
            rc = hln_fail(err, HLN_EINVAL, "Table id %s is already in use", spec->opts[i].value);
            goto out;
        }
    }
    if (!schema_name_valid(spec->name)) {
        rc = hln_fail(err, HLN_ECONFIG,
                      "Table name must not be empty, more than %d characters long, or contain "
                      "non-alphanumeric-underscore characters (got \"%s\")",
                      SCHEMA_NAME_LENGTH, spec->name ? spec->name : "");
        goto out;
    }
    hln_table *t;
    if ((rc = schema_table_from_spec(sn, spec, id, opts, nopts, &t, err)) < 0) goto out;

    hln_keyspace *nk = schema_copy_keyspace(sn, k);
    hln_table **tables = hln_arena_alloc(&sn->arena, sizeof *tables * (size_t)(k->ntables + 1));
    if (!nk || !tables) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    if (k->ntables) memcpy(tables, nk->tables, sizeof *tables * (size_t)k->ntables);
    tables[k->ntables] = t;
    nk->tables = tables;
    nk->ntables = k->ntables + 1;
    schema_sort_tables(nk);
    if ((rc = schema_snap_add_keyspace(sn, nk)) < 0) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = commit(c, sn, err);
    sn = NULL;
out:
    if (rc == HLN_ENOMEM && err && err->code != HLN_ENOMEM)
        hln_fail(err, HLN_ENOMEM, "out of memory");
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

static int drop_table(hln_catalog *c, const char *ks, const char *table, bool if_exists, bool view,
                      uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err);

int catalog_drop_table(hln_catalog *c, const char *ks, const char *table, bool if_exists,
                       uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err)
{
    return drop_table(c, ks, table, if_exists, false, dropped_ids, ndropped, err);
}

int catalog_drop_view(hln_catalog *c, const char *ks, const char *view, bool if_exists,
                      uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err)
{
    return drop_table(c, ks, view, if_exists, true, dropped_ids, ndropped, err);
}

static int drop_table(hln_catalog *c, const char *ks, const char *table, bool if_exists, bool view,
                      uint8_t (**dropped_ids)[16], int *ndropped, hln_error *err)
{
    if (dropped_ids) *dropped_ids = NULL;
    if (ndropped) *ndropped = 0;
    int rc = check_keyspace_name(ks, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    uint8_t(*ids)[16] = NULL;
    int nids = 0;
    const hln_keyspace *k = schema_keyspace(cur, ks);
    const hln_table *t = table ? schema_table(cur, ks, table) : NULL;
    if (view && t && !t->is_view) t = NULL;
    if (!t) {
        rc = if_exists ? 1
             : view    ? hln_fail(err, HLN_ENOTFOUND, "Materialized view '%s.%s' doesn't exist", ks,
                               table ? table : "")
                       : hln_fail(err, HLN_ENOTFOUND, "Table '%s.%s' doesn't exist", ks,
                               table ? table : "");
        goto out;
    }
    if (!view && t->is_view) {
        rc = hln_fail(err, HLN_EINVAL,
                      "Cannot use DROP TABLE on a materialized view. Please use DROP "
                      "MATERIALIZED VIEW instead.");
        goto out;
    }
    if (!view) {
        const hln_table *vs[64];
        int nv = schema_views_of(cur, t, vs, 64);
        if (nv > 0) {
            char names[512];
            size_t at = 0;
            names[0] = 0;
            for (int i = 0; i < nv && i < 64 && at < sizeof names; i++)
                at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? "," : "",
                                       vs[i]->ks); /* sic: Cassandra names the keyspace */
            rc = hln_fail(err, HLN_EINVAL,
                          "Cannot drop a table when materialized views still depend on it (%s)",
                          names);
            goto out;
        }
    }
    if ((rc = collect_ids(k, t, dropped_ids ? &ids : NULL, &nids, err)) < 0) goto out;
    sn = copy_except(cur, ks);
    hln_keyspace *nk = sn ? hln_arena_alloc(&sn->arena, sizeof *nk) : NULL;
    if (!nk) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    *nk = *k;
    nk->name = hln_arena_strdup(&sn->arena, k->name);
    nk->replication = NULL;
    nk->types = NULL; /* k's array lives in the old snapshot's arena */
    if (k->ntypes) {
        nk->types = hln_arena_alloc(&sn->arena, sizeof *nk->types * (size_t)k->ntypes);
        if (!nk->types) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(nk->types, k->types, sizeof *nk->types * (size_t)k->ntypes);
    }
    nk->tables = hln_arena_alloc(&sn->arena, sizeof *nk->tables * (size_t)k->ntables);
    hln_option *repl = hln_arena_alloc(&sn->arena, sizeof *repl * (size_t)k->nreplication);
    if (!nk->name || !nk->tables || !repl) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < k->nreplication; i++) {
        repl[i].key = hln_arena_strdup(&sn->arena, k->replication[i].key);
        repl[i].value = hln_arena_strdup(&sn->arena, k->replication[i].value);
        if (!repl[i].key || !repl[i].value) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            goto out;
        }
    }
    nk->replication = repl;
    nk->ntables = 0;
    for (int i = 0; i < k->ntables; i++) {
        if (k->tables[i] == t) continue;
        if (!(nk->tables[nk->ntables++] = schema_copy_table(sn, k->tables[i]))) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = schema_snap_add_keyspace(sn, nk)) < 0) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = commit(c, sn, err);
    sn = NULL;
    if (rc == 0 && dropped_ids) {
        *dropped_ids = ids;
        ids = NULL;
        if (ndropped) *ndropped = nids;
    }
out:
    hln_free(ids);
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

/* ---- ALTER ------------------------------------------------------------ */

static int dropped_order(const void *pa, const void *pb)
{
    return strcmp(((const hln_dropped_column *)pa)->name, ((const hln_dropped_column *)pb)->name);
}

/* A column name as CQL text: bare when a plain lower-case identifier,
 * else double-quoted (ColumnIdentifier.maybeQuote, keywords aside). */
static char *quoted_name(hln_arena *a, const char *n)
{
    bool plain = (*n >= 'a' && *n <= 'z');
    for (const char *p = n; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (plain) return hln_arena_strdup(a, n);
    size_t len = strlen(n);
    char *q = hln_arena_alloc(a, 2 * len + 3), *o = q;
    if (!q) return NULL;
    *o++ = '"';
    for (const char *p = n; *p; p++) {
        if (*p == '"') *o++ = '"';
        *o++ = *p;
    }
    *o++ = '"';
    *o = 0;
    return q;
}

/* The views of base t (new definition; old: the previous one) follow an
 * ALTER TABLE as Cassandra's do: a renamed primary key column is renamed
 * in them (and in their WHERE clause), a column added to the base is added
 * to the views that select every column (include_all_columns). A view's
 * columns are tied to the base's by name (exec/view.c). */
static int views_follow(hln_arena *a, hln_keyspace *nk, const hln_table *old, const hln_table *t)
{
    for (int i = 0; i < nk->ntables; i++) {
        hln_table *v = nk->tables[i];
        if (!v->is_view || memcmp(v->base_id, t->id, 16) != 0) continue;
        bool renamed = false;
        for (int j = 0; j < old->ncols; j++) {
            const hln_column *oc = &old->cols[j];
            const hln_column *nc = NULL;
            for (int m = 0; m < t->ncols; m++)
                if (t->cols[m].id == oc->id) nc = &t->cols[m];
            if (!nc || !strcmp(nc->name, oc->name)) continue;
            for (int m = 0; m < v->ncols; m++)
                if (!strcmp(v->cols[m].name, oc->name)) {
                    if (!(v->cols[m].name = hln_arena_strdup(a, nc->name))) return HLN_ENOMEM;
                    renamed = true;
                }
        }
        if (renamed) {
            /* the WHERE clause: each relation ("<column> ...", joined by
               " AND ") starts with its column, as CQL text */
            hln_buf b;
            hln_buf_init(&b);
            const char *w = v->view_where;
            while (*w) {
                const char *end = strstr(w, " AND ");
                size_t len = end ? (size_t)(end - w) : strlen(w);
                size_t tok = 0; /* the leading column token */
                if (w[0] == '"') {
                    tok = 1;
                    while (tok < len && !(w[tok] == '"' && (tok + 1 >= len || w[tok + 1] != '"')))
                        tok += w[tok] == '"' ? 2 : 1;
                    if (tok < len) tok++;
                } else {
                    while (tok < len && w[tok] != ' ')
                        tok++;
                }
                const char *name = NULL;
                for (int j = 0; j < old->ncols && !name; j++) {
                    char *qo = quoted_name(a, old->cols[j].name);
                    if (!qo) return HLN_ENOMEM;
                    if (strlen(qo) != tok || strncmp(qo, w, tok)) continue;
                    for (int m = 0; m < t->ncols; m++)
                        if (t->cols[m].id == old->cols[j].id)
                            name = quoted_name(a, t->cols[m].name);
                    if (!name) name = qo;
                }
                if (b.len) hln_buf_put(&b, " AND ", 5);
                if (name) {
                    hln_buf_put(&b, name, strlen(name));
                    hln_buf_put(&b, w + tok, len - tok);
                } else {
                    hln_buf_put(&b, w, len);
                }
                w += len;
                if (end) w += 5;
            }
            char *nw = b.err ? NULL : hln_arena_strndup(a, (const char *)b.data, b.len);
            hln_buf_free(&b);
            if (!nw) return HLN_ENOMEM;
            v->view_where = nw;
            /* the restrictions name base columns */
            if (v->nrestr && !(v->restr = schema_copy_restr(a, v->restr, v->nrestr)))
                return HLN_ENOMEM;
            for (int r = 0; r < v->nrestr; r++)
                for (int j = 0; j < old->ncols; j++) {
                    if (strcmp(old->cols[j].name, v->restr[r].col)) continue;
                    for (int m = 0; m < t->ncols; m++)
                        if (t->cols[m].id == old->cols[j].id &&
                            !(v->restr[r].col = hln_arena_strdup(a, t->cols[m].name)))
                            return HLN_ENOMEM;
                    break;
                }
        }
        if (!v->include_all) continue;
        int nadd = 0;
        for (int m = 0; m < t->ncols; m++)
            if (!table_column(old, t->cols[m].name) && !table_column(v, t->cols[m].name) &&
                t->cols[m].kind == HLN_COL_REGULAR)
                nadd++;
        if (!nadd) continue;
        hln_column *cols = hln_arena_alloc(a, sizeof *cols * (size_t)(v->ncols + nadd));
        if (!cols) return HLN_ENOMEM;
        memcpy(cols, v->cols, sizeof *cols * (size_t)v->ncols);
        int n = v->ncols;
        for (int m = 0; m < t->ncols; m++) {
            const hln_column *bc = &t->cols[m];
            if (table_column(old, bc->name) || table_column(v, bc->name) ||
                bc->kind != HLN_COL_REGULAR)
                continue;
            cols[n] = *bc;
            cols[n].position = -1;
            cols[n].id = v->next_col_id++;
            n++;
        }
        v->cols = cols;
        v->ncols = n;
        schema_sort_columns(v);
    }
    return 0;
}

int catalog_alter_table(hln_catalog *c, const hln_table_alter *alt, hln_error *err)
{
    int rc = check_keyspace_name(alt->ks, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    const hln_keyspace *k = schema_keyspace(cur, alt->ks);
    const hln_table *old = schema_table(cur, alt->ks, alt->name);
    if (!k || !old) {
        rc = hln_fail(err, HLN_ENOTFOUND, "Table '%s.%s' doesn't exist", alt->ks, alt->name);
        goto out;
    }
    if (memcmp(cur->version, alt->based_on, 16) != 0) {
        rc = HLN_EAGAIN; /* another DDL won the race: exec re-validates */
        goto out;
    }
    if (alt->ncols <= 0 || alt->ncols > 100000) {
        rc = hln_fail(err, HLN_EINVAL, "a table needs columns");
        goto out;
    }
    sn = copy_except(cur, alt->ks);
    hln_keyspace *nk = sn ? schema_copy_keyspace(sn, k) : NULL;
    if (!nk) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    hln_arena *a = &sn->arena;
    hln_table *t = NULL;
    for (int i = 0; i < nk->ntables; i++)
        if (strcmp(nk->tables[i]->name, alt->name) == 0) t = nk->tables[i];
    t->cols = hln_arena_alloc(a, sizeof *t->cols * (size_t)alt->ncols);
    if (!t->cols) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    t->npk = t->nck = 0;
    for (int i = 0; i < alt->ncols; i++) {
        hln_column *d = &t->cols[i];
        *d = alt->cols[i];
        if (!(d->name = hln_arena_strdup(a, alt->cols[i].name))) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            goto out;
        }
        if (d->kind == HLN_COL_PARTITION_KEY) t->npk++;
        if (d->kind == HLN_COL_CLUSTERING) t->nck++;
        if (d->kind != HLN_COL_PARTITION_KEY && d->kind != HLN_COL_CLUSTERING) d->position = -1;
        if (d->id == UINT32_MAX) d->id = t->next_col_id++; /* new column: a new id, never reused */
    }
    t->ncols = alt->ncols;
    schema_sort_columns(t);
    t->opts = NULL;
    t->nopts = 0;
    if (alt->nopts) {
        t->opts = hln_arena_alloc(a, sizeof *t->opts * (size_t)alt->nopts);
        if (!t->opts) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            goto out;
        }
        for (int i = 0; i < alt->nopts; i++) {
            t->opts[i].key = hln_arena_strdup(a, alt->opts[i].key);
            t->opts[i].value = hln_arena_strdup(a, alt->opts[i].value);
            if (!t->opts[i].key || !t->opts[i].value) {
                rc = hln_fail(err, HLN_ENOMEM, "out of memory");
                goto out;
            }
        }
        t->nopts = alt->nopts;
    }
    t->dropped = NULL;
    t->ndropped = 0;
    if (alt->ndropped) {
        if (!(t->dropped = schema_copy_dropped(a, alt->dropped, alt->ndropped))) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory");
            goto out;
        }
        t->ndropped = alt->ndropped;
        qsort(t->dropped, (size_t)t->ndropped, sizeof *t->dropped, dropped_order);
    }
    if ((rc = views_follow(a, nk, old, t)) < 0) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = schema_snap_add_keyspace(sn, nk)) < 0) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = commit(c, sn, err);
    sn = NULL;
out:
    if (rc == HLN_ENOMEM && err && err->code != HLN_ENOMEM)
        hln_fail(err, HLN_ENOMEM, "out of memory");
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

int catalog_alter_keyspace(hln_catalog *c, const hln_keyspace_spec *spec, hln_error *err)
{
    int rc = check_keyspace_name(spec->name, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    const hln_keyspace *k = schema_keyspace(cur, spec->name);
    if (!k) {
        rc = hln_fail(err, HLN_ENOTFOUND, "Keyspace '%s' doesn't exist", spec->name);
        goto out;
    }
    sn = copy_except(cur, spec->name);
    hln_keyspace *nk = sn ? schema_copy_keyspace(sn, k) : NULL;
    if (!nk) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    if (spec->nreplication > 0) {
        bool has_class = false;
        for (int i = 0; i < spec->nreplication; i++)
            if (strcmp(spec->replication[i].key, "class") == 0) has_class = true;
        if (!has_class) {
            rc = hln_fail(err, HLN_ECONFIG, "Missing replication strategy class");
            goto out;
        }
        rc = schema_replication(&sn->arena, spec->name, spec->replication, spec->nreplication,
                                &nk->replication, &nk->nreplication, err);
        if (rc < 0) goto out;
    }
    nk->durable_writes = spec->durable_writes;
    bool same = nk->durable_writes == k->durable_writes && nk->nreplication == k->nreplication;
    for (int i = 0; same && i < k->nreplication; i++)
        same = !strcmp(nk->replication[i].key, k->replication[i].key) &&
               !strcmp(nk->replication[i].value, k->replication[i].value);
    if (same) { /* an empty diff: nothing to write (Cassandra answers VOID) */
        rc = 1;
        goto out;
    }
    if ((rc = schema_snap_add_keyspace(sn, nk)) < 0) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = commit(c, sn, err);
    sn = NULL;
out:
    if (rc == HLN_ENOMEM && err && err->code != HLN_ENOMEM)
        hln_fail(err, HLN_ENOMEM, "out of memory");
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

/* ---- user-defined types ----------------------------------------------- */

int catalog_set_type(hln_catalog *c, const char *ks, const char *name, const hln_type *def,
                     const uint8_t based_on[16], hln_error *err)
{
    int rc = check_keyspace_name(ks, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    const hln_keyspace *k = schema_keyspace(cur, ks);
    if (memcmp(cur->version, based_on, 16) != 0) {
        rc = HLN_EAGAIN;
        goto out;
    }
    if (!k) {
        rc = hln_fail(err, HLN_ENOTFOUND, "Keyspace '%s' doesn't exist", ks);
        goto out;
    }
    if (!(sn = copy_except(cur, ks))) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    hln_keyspace *nk = schema_copy_keyspace(sn, k);
    const hln_type **types = hln_arena_alloc(&sn->arena, sizeof *types * (size_t)(k->ntypes + 1));
    if (!nk || !types) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    int n = 0;
    for (int i = 0; i < k->ntypes; i++)
        if (strcmp(hln_udt_name(k->types[i]), name)) types[n++] = k->types[i];
    if (def) types[n++] = def;
    /* every other type and every column that uses the type follow it */
    for (int i = 0; i < n; i++) {
        const hln_type *t = hln_type_refresh(types[i], types, n);
        if (!t) {
            rc = hln_fail(err, HLN_EUNSUPPORTED, "type too complex");
            goto out;
        }
        types[i] = t;
    }
    qsort(types, (size_t)n, sizeof *types, udt_order);
    nk->types = types;
    nk->ntypes = n;
    for (int i = 0; i < nk->ntables; i++) {
        hln_table *t = nk->tables[i];
        for (int j = 0; j < t->ncols; j++) {
            const hln_type *ty = hln_type_refresh(t->cols[j].type, types, n);
            if (!ty) {
                rc = hln_fail(err, HLN_EUNSUPPORTED, "type too complex");
                goto out;
            }
            t->cols[j].type = ty;
        }
    }
    if ((rc = schema_snap_add_keyspace(sn, nk)) < 0) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    rc = commit(c, sn, err);
    sn = NULL;
out:
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

/* ---- indexes ---------------------------------------------------------- */

/* The index named `name` in keyspace k, and its table; NULL when none. */
static const hln_index *find_index(const hln_keyspace *k, const char *name, const hln_table **tab)
{
    for (int i = 0; k && i < k->ntables; i++)
        for (int j = 0; j < k->tables[i]->nindexes; j++)
            if (strcmp(k->tables[i]->indexes[j].name, name) == 0) {
                if (tab) *tab = k->tables[i];
                return &k->tables[i]->indexes[j];
            }
    return NULL;
}

const hln_index *schema_index(const hln_schema *s, const char *ks, const char *name,
                              const hln_table **table)
{
    return find_index(schema_keyspace(s, ks), name, table);
}

/* A copy of the current snapshot in which keyspace ks is a private copy;
 * *t is its table `table`. NULL on ENOMEM. */
static schema_snap *copy_for_table(const hln_schema *cur, const hln_keyspace *k, const char *table,
                                   hln_table **t)
{
    schema_snap *sn = copy_except(cur, k->name);
    hln_keyspace *nk = sn ? schema_copy_keyspace(sn, k) : NULL;
    if (!nk || schema_snap_add_keyspace(sn, nk) < 0) {
        schema_snap_free(sn);
        return NULL;
    }
    *t = NULL;
    for (int i = 0; i < nk->ntables; i++)
        if (strcmp(nk->tables[i]->name, table) == 0) *t = nk->tables[i];
    return sn;
}

int catalog_create_index(hln_catalog *c, const char *ks, const char *table, const hln_index *ix,
                         const uint8_t based_on[16], hln_error *err)
{
    int rc = check_keyspace_name(ks, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    const hln_keyspace *k = schema_keyspace(cur, ks);
    hln_table *t = NULL;
    if (!k) {
        rc = hln_fail(err, HLN_ENOTFOUND, "Keyspace '%s' doesn't exist", ks);
        goto out;
    }
    if (!schema_table(cur, ks, table)) {
        rc = hln_fail(err, HLN_ENOTFOUND, "Table '%s' doesn't exist", table);
        goto out;
    }
    if (find_index(k, ix->name, NULL)) {
        rc = hln_fail(err, HLN_EEXISTS, "Index '%s' already exists", ix->name);
        goto out;
    }
    if (memcmp(cur->version, based_on, 16) != 0) {
        rc = HLN_EAGAIN; /* another DDL won the race: exec re-validates */
        goto out;
    }
    if (!(sn = copy_for_table(cur, k, table, &t)) || !t) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    hln_index *arr = hln_arena_alloc(&sn->arena, sizeof *arr * (size_t)(t->nindexes + 1));
    hln_index *nx = arr ? schema_copy_indexes(&sn->arena, ix, 1) : NULL;
    if (!nx) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    hln_uuid_time(nx->id); /* never reused: index state is keyed by it */
    int at = 0;
    while (at < t->nindexes && strcmp(t->indexes[at].name, nx->name) < 0)
        at++;
    if (at) memcpy(arr, t->indexes, sizeof *arr * (size_t)at);
    arr[at] = *nx;
    if (t->nindexes > at)
        memcpy(&arr[at + 1], &t->indexes[at], sizeof *arr * (size_t)(t->nindexes - at));
    t->indexes = arr;
    t->nindexes++;
    rc = commit(c, sn, err);
    sn = NULL;
out:
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

int catalog_drop_index(hln_catalog *c, const char *ks, const char *name, bool if_exists,
                       char table_out[64], hln_error *err)
{
    if (table_out) table_out[0] = 0;
    int rc = check_keyspace_name(ks, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&c->ddl_mu);
    const hln_schema *cur = c->cur;
    schema_snap *sn = NULL;
    const hln_keyspace *k = schema_keyspace(cur, ks);
    const hln_table *ot = NULL;
    hln_table *t = NULL;
    if (!find_index(k, name, &ot)) {
        rc = if_exists ? 1 : hln_fail(err, HLN_ENOTFOUND, "Index '%s.%s' doesn't exist'", ks, name);
        goto out;
    }
    if (!(sn = copy_for_table(cur, k, ot->name, &t)) || !t) {
        rc = hln_fail(err, HLN_ENOMEM, "out of memory");
        goto out;
    }
    int n = 0;
    for (int i = 0; i < t->nindexes; i++)
        if (strcmp(t->indexes[i].name, name) != 0) t->indexes[n++] = t->indexes[i];
    t->nindexes = n;
    if (!n) t->indexes = NULL;
    if (table_out) snprintf(table_out, 64, "%s", ot->name);
    rc = commit(c, sn, err);
    sn = NULL;
out:
    schema_snap_free(sn);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}
