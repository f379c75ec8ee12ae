/*
 * batchlog.c — the node-local batchlog: LOGGED batches spanning shards are
 * applied completely or not at all, eventually, across crashes.
 *
 * What: before a LOGGED batch whose partitions live on more than one shard
 * is dispatched, the coordinating shard writes the whole batch (every
 * partition's mutation, cells with their timestamps, encoded as one
 * st_batch_encode body) to an entry file of its own batchlog directory,
 * <data>/shard-<i>/batchlog/<timeuuid>.batch (docs/formats/batchlog.md).
 * Once every shard has acknowledged its part, the file is unlinked: that
 * unlink is the "done" record. At start-up (engine_start, after every
 * shard has replayed its commitlog and before anything is accepted),
 * ex_batchlog_replay re-applies every entry still on disk: its mutations
 * go to their owning shards with st_apply_batch, then the file is removed.
 *
 * Why files and not commitlog records: an entry must outlive the segments
 * it would be written in until it is done, and the commitlog retires
 * segments per table; a file per entry needs no retention rule at all (it
 * exists exactly while the batch is pending) and replay is a directory
 * listing. Entries are multi-shard LOGGED batches, and each write to a
 * table with materialized views (written before the write is applied by
 * the shard that owns the base partition, with tombstones of the view rows
 * before: ex_batchlog_write_shard from exec/view.c; removed by the
 * coordinator once every view shard applied the write's view mutations).
 * Replay is view-aware (ex_view_replay): a base mutation of a table with
 * views is applied with its view rows recomputed from the base as it is
 * then, in a second phase written on the views' shards.
 *
 * Why re-applying is safe: the mutations carry their original timestamps,
 * so applying them again writes the same cells; anything written later
 * (a DELETE, an overwrite) has a higher timestamp and still wins. A lost
 * unlink (crash right after it) therefore only costs a harmless replay.
 *
 * Durability: with commitlog_sync: batch the entry is written to a
 * temporary name, fsynced, renamed and the directory fsynced before the
 * first shard is sent anything (hln_write_file_durably). With periodic
 * sync it is written (not fsynced) before dispatch, the same discipline
 * as ordinary writes: a process crash never loses it, an OS crash can lose
 * it within the sync window, as it can lose the shards' own records.
 * A torn or damaged entry (bad magic, length or checksum) is one that
 * never became durable and was therefore, in batch mode, never
 * dispatched: replay logs it and removes it.
 *
 * Failures: when some shard fails its part, the entry is kept (the client
 * gets the error; the next start re-applies the batch, as Cassandra's
 * batchlog replays a failed logged batch). When re-application at start-up
 * fails on a shard, the entry is kept and the start goes on (logged).
 *
 * Invariant: an entry exists on disk from before any shard sees the batch
 * until after every shard has logged its part.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/execInt.h"

#define BL_MAGIC 0x484C424Cu /* "HLBL" */
#define BL_VERSION 1u
#define BL_HEADER 16

static int bl_dir(const hln_engine *e, int shard, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/shard-%d/batchlog", e->cfg.data_dir, shard);
    return w > 0 && (size_t)w < n ? 0 : HLN_ECONFIG;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int ex_batchlog_write(ex_request *r, const st_mutation *ms, uint32_t n, char **path_out)
{
    return ex_batchlog_write_shard(ex_st(r)->eng, r->shard->id, ms, n, &r->arena, path_out,
                                   &r->err);
}

int ex_batchlog_write_shard(hln_engine *e, int shard, const st_mutation *ms, uint32_t n,
                            hln_arena *a, char **path_out, hln_error *err)
{
    char dir[1100], path[1200], id[37];
    uint8_t u[16];
    if (bl_dir(e, shard, dir, sizeof dir))
        return hln_fail(err, HLN_ECONFIG, "batchlog path too long");
    hln_uuid_time(u);
    hln_uuid_format(u, id);
    snprintf(path, sizeof path, "%s/%s.batch", dir, id);

    hln_buf b;
    hln_buf_init(&b);
    uint8_t hdr[BL_HEADER] = {0};
    hln_buf_put(&b, hdr, sizeof hdr);
    st_batch_encode(ms, n, &b);
    if (b.err) {
        hln_buf_free(&b);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    uint32_t len = (uint32_t)(b.len - BL_HEADER);
    put32(b.data, BL_MAGIC);
    put32(b.data + 4, BL_VERSION);
    put32(b.data + 8, len);
    uint32_t crc = hln_crc32(0, b.data, 12);
    crc = hln_crc32(crc, b.data + BL_HEADER, len);
    put32(b.data + 12, crc);

    int rc = 0;
    if (e->cfg.storage.sync == ST_SYNC_BATCH) {
        rc = hln_write_file_durably(path, b.data, b.len, 0644, err);
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            rc = hln_fail(err, HLN_EIO, "Cannot create batchlog entry %s: %s", path,
                          strerror(errno));
        else {
            rc = hln_write_full(fd, b.data, b.len, path, err);
            close(fd);
            if (rc) unlink(path);
        }
    }
    hln_buf_free(&b);
    if (rc) return rc;
    *path_out = hln_arena_strdup(a, path);
    if (!*path_out) {
        unlink(path); /* nothing was dispatched yet */
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    return 0;
}

void ex_batchlog_done(const char *path)
{
    /* No directory fsync: a lost unlink only re-applies the batch at the
     * next start, which is harmless (same cells, same timestamps). */
    if (unlink(path) && errno != ENOENT)
        HLN_WARN("cannot remove batchlog entry %s: %s", path, strerror(errno));
}

/* ---- replay at start-up ------------------------------------------------ */

typedef struct bl_apply {
    st_mutation **ms; /* per shard */
    uint32_t *n;
    int *rc;
    hln_error *err;
    /* views: the snapshot, each shard's arena and the view mutations its
       part produced (ex_view_replay), then each shard's share of them */
    const hln_schema *schema;
    hln_arena *arenas;
    st_mutation **vm;
    uint32_t *nvm;
    st_mutation **vin;
    uint32_t *nvin;
} bl_apply;

/* Phase 1 on each shard: its part, view-aware (a base write of a table
 * with views also rewrites the view rows of the base as it is now). */
static void apply_on_shard(hln_shard *s, void *ud)
{
    bl_apply *ba = ud;
    int i = s->id;
    if (!ba->n[i]) return;
    if (!s->store) {
        ba->rc[i] = hln_fail(&ba->err[i], HLN_ESERVER, "shard %d has no storage", i);
        return;
    }
    /* start-up, before any request: waiting for memtable space is fine */
    if ((ba->rc[i] = st_make_room(s->store, &ba->err[i])) != 0) return;
    ba->rc[i] = ex_view_replay(ba->schema, s->store, &ba->arenas[i], ba->ms[i], ba->n[i],
                               &ba->vm[i], &ba->nvm[i], &ba->err[i]);
}

/* Phase 2 on each shard: the view mutations that belong to it. */
static void apply_views_on_shard(hln_shard *s, void *ud)
{
    bl_apply *ba = ud;
    int i = s->id;
    if (!ba->nvin[i] || ba->rc[i]) return;
    if (!s->store) {
        ba->rc[i] = hln_fail(&ba->err[i], HLN_ESERVER, "shard %d has no storage", i);
        return;
    }
    if ((ba->rc[i] = st_make_room(s->store, &ba->err[i])) != 0) return;
    ba->rc[i] = st_apply_batch(s->store, ba->vin[i], ba->nvin[i], &ba->err[i]);
}

static bool table_exists(hln_engine *e, const uint8_t id[16])
{
    hln_schema *s = catalog_acquire(e->catalog);
    bool found = s && schema_table_by_id(s, id) != NULL;
    if (s) schema_release(s);
    return found;
}

/* Reads and checks one entry; *ok false when it is torn or damaged. */
static int read_entry(const char *path, uint8_t **data, size_t *len, bool *ok, hln_error *err)
{
    *data = NULL;
    *ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hln_fail(err, HLN_EIO, "Cannot open batchlog entry %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb)) {
        close(fd);
        return hln_fail(err, HLN_EIO, "Cannot stat %s: %s", path, strerror(errno));
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *p = hln_malloc(n ? n : 1);
    if (!p) {
        close(fd);
        return hln_fail(err, HLN_ENOMEM, "out of memory");
    }
    int rc = n ? hln_pread_full(fd, p, n, 0, path, err) : 0;
    close(fd);
    if (rc) {
        hln_free(p);
        return rc;
    }
    if (n >= BL_HEADER && get32(p) == BL_MAGIC && get32(p + 4) == BL_VERSION &&
        get32(p + 8) == n - BL_HEADER) {
        uint32_t crc = hln_crc32(hln_crc32(0, p, 12), p + BL_HEADER, n - BL_HEADER);
        *ok = crc == get32(p + 12);
    }
    *data = p;
    *len = n;
    return 0;
}

/* Re-applies one entry on every shard; 0 when it is done with. */
static int replay_entry(hln_engine *e, const char *path)
{
    hln_error err = {0};
    uint8_t *data = NULL;
    size_t len = 0;
    bool ok = false;
    int rc = read_entry(path, &data, &len, &ok, &err);
    if (rc) {
        HLN_ERR("batchlog: %s", err.msg);
        return rc;
    }
    hln_arena a;
    hln_arena_init(&a, 4096);
    st_mutation *all = NULL;
    uint32_t nall = 0;
    if (ok) {
        hln_rd rd;
        hln_rd_init(&rd, data + BL_HEADER, len - BL_HEADER);
        ok = st_batch_decode(&rd, &a, &all, &nall) == 0;
    }
    if (!ok) {
        HLN_WARN("batchlog: %s is torn or damaged (never made durable, so never applied in "
                 "batch sync mode); removing it",
                 path);
        hln_arena_free(&a);
        hln_free(data);
        return 0;
    }
    int ns = e->nshards;
    bl_apply ba = {
        .ms = hln_arena_alloc(&a, sizeof *ba.ms * (size_t)ns),
        .n = hln_arena_alloc(&a, sizeof *ba.n * (size_t)ns),
        .rc = hln_arena_alloc(&a, sizeof *ba.rc * (size_t)ns),
        .err = hln_arena_alloc(&a, sizeof *ba.err * (size_t)ns),
    };
    rc = ba.ms && ba.n && ba.rc && ba.err ? 0 : HLN_ENOMEM;
    for (int s = 0; s < ns && !rc; s++) {
        ba.ms[s] = hln_arena_alloc(&a, sizeof **ba.ms * (nall ? nall : 1));
        if (!ba.ms[s]) rc = HLN_ENOMEM;
    }
    uint32_t skipped = 0;
    for (uint32_t i = 0; i < nall && !rc; i++) {
        if (!table_exists(e, all[i].table_id)) { /* dropped since */
            skipped++;
            continue;
        }
        int s = rt_shard_for_token(ns, all[i].token);
        ba.ms[s][ba.n[s]++] = all[i];
    }
    hln_schema *schema = catalog_acquire(e->catalog);
    ba.schema = schema;
    ba.arenas = hln_arena_alloc(&a, sizeof *ba.arenas * (size_t)ns);
    ba.vm = hln_arena_alloc(&a, sizeof *ba.vm * (size_t)ns);
    ba.nvm = hln_arena_alloc(&a, sizeof *ba.nvm * (size_t)ns);
    ba.vin = hln_arena_alloc(&a, sizeof *ba.vin * (size_t)ns);
    ba.nvin = hln_arena_alloc(&a, sizeof *ba.nvin * (size_t)ns);
    if (!rc && (!ba.arenas || !ba.vm || !ba.nvm || !ba.vin || !ba.nvin)) rc = HLN_ENOMEM;
    for (int s = 0; ba.arenas && s < ns; s++)
        hln_arena_init(&ba.arenas[s], 4096);
    if (!rc) rc = engine_run_on_all(e, apply_on_shard, &ba);
    /* the view mutations, to the shards of their partitions */
    uint32_t nv = 0;
    for (int s = 0; s < ns && !rc; s++)
        nv += ba.rc[s] ? 0 : ba.nvm[s];
    for (int s = 0; s < ns && !rc && nv; s++)
        if (!(ba.vin[s] = hln_arena_alloc(&a, sizeof **ba.vin * nv))) rc = HLN_ENOMEM;
    for (int s = 0; s < ns && !rc && nv; s++)
        for (uint32_t j = 0; !ba.rc[s] && j < ba.nvm[s]; j++) {
            int t = rt_shard_for_token(ns, ba.vm[s][j].token);
            ba.vin[t][ba.nvin[t]++] = ba.vm[s][j];
        }
    if (!rc && nv) rc = engine_run_on_all(e, apply_views_on_shard, &ba);
    for (int s = 0; ba.arenas && s < ns; s++)
        hln_arena_free(&ba.arenas[s]);
    schema_release(schema);
    for (int s = 0; s < ns && !rc; s++) {
        if (ba.rc[s]) {
            rc = ba.rc[s];
            HLN_ERR("batchlog: re-applying %s on shard %d failed (kept for the next start): %s",
                    path, s, ba.err[s].msg);
        }
    }
    if (!rc)
        HLN_INFO("batchlog: re-applied %s (%u mutation%s, %u of dropped tables skipped)", path,
                 nall - skipped, nall - skipped == 1 ? "" : "s", skipped);
    else if (rc == HLN_ENOMEM)
        HLN_ERR("batchlog: out of memory re-applying %s (kept for the next start)", path);
    hln_arena_free(&a);
    hln_free(data);
    return rc;
}

int ex_batchlog_replay(hln_engine *e, hln_error *err)
{
    for (int i = 0; i < e->nshards; i++) {
        char dir[1100];
        if (bl_dir(e, i, dir, sizeof dir))
            return hln_fail(err, HLN_ECONFIG, "batchlog path too long");
        struct stat sb;
        bool existed = stat(dir, &sb) == 0;
        int rc = hln_mkdirs(dir, err);
        if (!rc && !existed) { /* make the new directory's name durable */
            char parent[1100];
            snprintf(parent, sizeof parent, "%s/shard-%d", e->cfg.data_dir, i);
            rc = hln_fsync_dir(parent, err);
        }
        if (rc) return rc;
        DIR *d = opendir(dir);
        if (!d) return hln_fail(err, HLN_EIO, "Cannot list %s: %s", dir, strerror(errno));
        int replayed = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            size_t nl = strlen(de->d_name);
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (nl > 4 && !strcmp(de->d_name + nl - 4, ".tmp")) {
                unlink(path); /* an entry never renamed into place: never dispatched */
                continue;
            }
            if (nl <= 6 || strcmp(de->d_name + nl - 6, ".batch")) continue;
            if (replay_entry(e, path) == 0) {
                unlink(path);
                replayed++;
            }
        }
        closedir(d);
        if (replayed && (rc = hln_fsync_dir(dir, err)) != 0) return rc;
    }
    return 0;
}
