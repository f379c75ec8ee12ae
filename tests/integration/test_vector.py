"""Vector search through the real server and the Python driver: CassIO's
shape of table (384-d embeddings, prepared writes and ANN queries with a
bound vector), recall against brute force, overwrites and deletes under
concurrent writers, and the index surviving flushes, clean restarts and
kill -9 (from its last checkpoint, caught up with the data, which the
commitlog keeps)."""

import glob
import math
import os
import random
import re
import time

import pytest
from cassandra.concurrent import execute_concurrent_with_args

DIM = 384


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def clustered(n, seed, centres=40):
    """n unit vectors around a few centres (embeddings cluster)."""
    rnd = random.Random(seed)
    cs = [[rnd.gauss(0, 1) for _ in range(DIM)] for _ in range(centres)]
    out = []
    for _ in range(n):
        c = cs[rnd.randrange(centres)]
        out.append(unit([x + rnd.gauss(0, 0.6) for x in c]))
    return out


def cos(a, b):
    return sum(x * y for x, y in zip(a, b))  # unit vectors


def exact_top(vecs, q, k):
    """ids (keys of vecs) of the k most cosine-similar vectors."""
    return [i for i, _ in sorted(vecs.items(), key=lambda kv: -cos(kv[1], q))[:k]]


def make_table(s, ks, index_first=True):
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
    s.execute("CREATE TABLE %s.chunks (row_id int PRIMARY KEY, body_blob text, "
              "metadata_s map<text, text>, vector vector<float, %d>)" % (ks, DIM))
    if index_first:
        make_index(s, ks)


def make_index(s, ks):
    s.execute("CREATE CUSTOM INDEX IF NOT EXISTS chunks_vector_idx ON %s.chunks (vector) "
              "USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'cosine'}"
              % ks)


def load(s, ks, vecs):
    ins = s.prepare("INSERT INTO %s.chunks (row_id, body_blob, metadata_s, vector) "
                    "VALUES (?, ?, ?, ?)" % ks)
    args = [(i, "chunk %d" % i, {"source": "s%d" % (i % 3)}, v) for i, v in vecs.items()]
    res = execute_concurrent_with_args(s, ins, args, concurrency=32, raise_on_first_error=True)
    assert all(ok for ok, _ in res)


def recall(s, ks, vecs, queries, k=10):
    ann = s.prepare("SELECT row_id FROM %s.chunks ORDER BY vector ANN OF ? LIMIT %d" % (ks, k))
    found = 0
    for q in queries:
        got = [r.row_id for r in s.execute(ann, (q,))]
        assert len(got) == min(k, len(vecs))
        assert len(set(got)) == len(got), "a row came back twice"
        found += len(set(got) & set(exact_top(vecs, q, k)))
    return found / (k * len(queries))


def test_ann_recall_prepared(session):
    ks = "vec_recall"
    make_table(session, ks)
    vecs = dict(enumerate(clustered(3000, 1)))
    load(session, ks, vecs)
    queries = clustered(40, 2)
    r = recall(session, ks, vecs, queries)
    assert r >= 0.95, "recall@10 %.3f" % r
    # the similarity Cassandra reports, in ANN order, best first
    q = queries[0]
    rows = list(session.execute(
        session.prepare("SELECT row_id, similarity_cosine(vector, ?) AS s FROM %s.chunks "
                        "ORDER BY vector ANN OF ? LIMIT 5" % ks), (q, q)))
    scores = [r.s for r in rows]
    assert scores == sorted(scores, reverse=True)
    for r in rows:
        assert abs(r.s - (1 + cos(vecs[r.row_id], q)) / 2) < 1e-4
    # a stored vector finds its own row first
    for i in (0, 17, 2999):
        got = session.execute(session.prepare(
            "SELECT row_id FROM %s.chunks ORDER BY vector ANN OF ? LIMIT 1" % ks),
            (vecs[i],)).one()
        assert got.row_id == i


def test_index_built_over_existing_data(session):
    ks = "vec_late"
    make_table(session, ks, index_first=False)
    vecs = dict(enumerate(clustered(1500, 3)))
    load(session, ks, vecs)
    make_index(session, ks)
    assert recall(session, ks, vecs, clustered(20, 4)) >= 0.95


def test_filtered_ann_is_exact(session):
    """WHERE on an indexed metadata entry with ANN: CassIO's filtered search."""
    ks = "vec_filter"
    make_table(session, ks)
    session.execute("CREATE CUSTOM INDEX ON %s.chunks (entries(metadata_s)) "
                    "USING 'StorageAttachedIndex'" % ks)
    vecs = dict(enumerate(clustered(600, 5)))
    load(session, ks, vecs)
    sel = session.prepare("SELECT row_id FROM %s.chunks WHERE metadata_s['source'] = ? "
                          "ORDER BY vector ANN OF ? LIMIT 5" % ks)
    for q in clustered(10, 6):
        got = [r.row_id for r in session.execute(sel, ("s1", q))]
        want = exact_top({i: v for i, v in vecs.items() if i % 3 == 1}, q, 5)
        assert got == want


def test_filtered_ann_by_share(session):
    """Filters of every share, as the shards plan them: a term that most rows
    hold is walked through the graph with the filter (recall measured), a
    rare one is ranked exactly; rows whose term was overwritten or that were
    deleted never answer, and the answer stays k rows long."""
    ks = "vec_share"
    make_table(session, ks)
    session.execute("CREATE CUSTOM INDEX ON %s.chunks (entries(metadata_s)) "
                    "USING 'StorageAttachedIndex'" % ks)
    n = 8000
    vecs = dict(enumerate(clustered(n, 11)))
    tags = {i: {"most": "y" if i % 4 else "n", "rare": "y" if i % 100 == 7 else "n"}
            for i in vecs}
    ins = session.prepare("INSERT INTO %s.chunks (row_id, body_blob, metadata_s, vector) "
                          "VALUES (?, ?, ?, ?)" % ks)
    res = execute_concurrent_with_args(
        session, ins, [(i, "c", tags[i], v) for i, v in vecs.items()], concurrency=32,
        raise_on_first_error=True)
    assert all(ok for ok, _ in res)
    # a quarter of the 'most' rows move out of it, some rows go
    upd = session.prepare("UPDATE %s.chunks SET metadata_s['most'] = 'n' WHERE row_id = ?" % ks)
    dele = session.prepare("DELETE FROM %s.chunks WHERE row_id = ?" % ks)
    for i in range(1, n, 16):
        session.execute(upd, (i,))
        tags[i]["most"] = "n"
    for i in range(2, n, 50):
        session.execute(dele, (i,))
        del vecs[i]
    sel = session.prepare("SELECT row_id FROM %s.chunks WHERE metadata_s[?] = 'y' "
                          "ORDER BY vector ANN OF ? LIMIT 10" % ks)
    for key, floor in (("most", 0.95), ("rare", 1.0)):
        pool = {i: v for i, v in vecs.items() if tags[i][key] == "y"}
        found = 0
        queries = clustered(20, 12)
        for q in queries:
            got = [r.row_id for r in session.execute(sel, (key, q))]
            assert len(got) == 10 and len(set(got)) == 10
            assert all(i in pool for i in got), "a row without the term answered"
            found += len(set(got) & set(exact_top(pool, q, 10)))
        r = found / (10 * len(queries))
        assert r >= floor, "%s: recall@10 %.3f" % (key, r)


def test_overwrites_and_deletes_under_concurrent_writers(session):
    ks = "vec_churn"
    make_table(session, ks)
    old = dict(enumerate(clustered(800, 7)))
    load(session, ks, old)
    ann = session.prepare("SELECT row_id, vector FROM %s.chunks ORDER BY vector ANN OF ? LIMIT 3"
                          % ks)
    session.execute(ann, (old[0],))  # the graphs exist before the churn
    new = {i: v for i, v in zip(range(0, 800, 2), clustered(400, 8))}
    upd = session.prepare("UPDATE %s.chunks SET vector = ? WHERE row_id = ?" % ks)
    dele = session.prepare("DELETE FROM %s.chunks WHERE row_id = ?" % ks)
    args = [(upd, (v, i)) for i, v in new.items()] + [(dele, (i,)) for i in range(1, 800, 4)]
    random.Random(9).shuffle(args)
    from cassandra.concurrent import execute_concurrent
    res = execute_concurrent(session, args, concurrency=48, raise_on_first_error=True)
    assert all(ok for ok, _ in res)
    current = dict(old)
    current.update(new)
    for i in range(1, 800, 4):
        del current[i]
    for i in list(range(0, 40, 2)) + list(range(1, 40, 4)) + list(range(3, 40, 4)):
        rows = list(session.execute(ann, (old[i],)))
        for r in rows:
            # whatever comes back is a live row with its current vector
            assert r.row_id in current
            assert max(abs(a - b) for a, b in zip(r.vector, current[r.row_id])) < 1e-6
        ids = [r.row_id for r in rows]
        if i in current and i % 2 == 1:  # untouched: still found by its own vector
            assert ids[0] == i
        if i % 2 == 0:  # overwritten: found by its new vector
            assert session.execute(ann, (new[i],)).one().row_id == i
    assert recall(session, ks, current, clustered(15, 10)) >= 0.95


@pytest.mark.restart
def test_index_survives_flush_restart_and_kill(flushing_server, connect):
    srv, s = flushing_server
    ks = "k1"
    s.execute("CREATE TABLE k1.chunks (row_id int PRIMARY KEY, body_blob text, "
              "metadata_s map<text, text>, vector vector<float, %d>)" % DIM)
    make_index(s, ks)
    vecs = dict(enumerate(clustered(1200, 11)))
    load(s, ks, vecs)  # many sstables (4 KiB memtables)
    queries = clustered(15, 12)
    assert recall(s, ks, vecs, queries) >= 0.95
    s.cluster.shutdown()
    assert srv.stop() == 0
    # one copy of each graph on disk: the snapshot superseded the checkpoints
    left = [f for d in glob.glob(os.path.join(srv.data_dir, "shard-*", "indexes"))
            for f in os.listdir(d)]
    assert left and all(f.endswith(".six") for f in left), left
    srv.start()
    # a clean stop leaves each shard's graph as a snapshot, loaded at start
    # instead of building again (and kept as the graph's checkpoint)
    assert re.search(r"index loaded from \S+\.six ", srv.stderr_text()), srv.tail()
    s = connect(srv)
    assert recall(s, ks, vecs, queries) >= 0.95
    # acknowledged writes after the graphs exist, then kill -9: the clean
    # stop's file is loaded as a checkpoint and caught up with the data
    more = {i: v for i, v in zip(range(1200, 1500), clustered(300, 13))}
    load(s, ks, more)
    vecs.update(more)
    s.cluster.shutdown()
    srv.kill()
    srv.start()
    s = connect(srv)
    assert recall(s, ks, vecs, queries) >= 0.95
    one = s.prepare("SELECT row_id FROM k1.chunks ORDER BY vector ANN OF ? LIMIT 1")
    for i in (1200, 1333, 1499):
        assert s.execute(one, (vecs[i],)).one().row_id == i
    assert re.search(r"index loaded from \S+\.ckpt ", srv.stderr_text()), srv.tail()


def wait_for_log(srv, pattern, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, srv.stderr_text()):
            return
        time.sleep(0.1)
    pytest.fail("no %r in the server's log:\n%s" % (pattern, srv.tail()))


def checkpoint_server(make_server, connect, tmp_path, monkeypatch, ckpt_min, yaml):
    """A server whose graphs are checkpointed from ckpt_min entries on
    (the test hook), configured by yaml, with table k1.chunks and its
    index; (server, session)."""
    monkeypatch.setenv("HELENUS_TEST_INDEX_CHECKPOINT_MIN", str(ckpt_min))
    cfg = tmp_path / "helenus-ckpt.yaml"
    cfg.write_text(yaml)
    srv = make_server(config=str(cfg))
    s = connect(srv)
    s.execute("CREATE KEYSPACE k1 WITH replication = {'class': 'SimpleStrategy', "
              "'replication_factor': 1}")
    make_table(s, "k1")
    return srv, s


@pytest.mark.restart
def test_checkpoint_after_kill_is_caught_up(make_server, connect, tmp_path, monkeypatch):
    """Graphs checkpointed while rows are written, then deletes, overwrites
    and new rows, then kill -9: the start loads each shard's checkpoint and
    the walk confirms it against the data, so deleted rows never answer,
    overwritten ones answer under their new vector only, and new ones are
    found, through the graph once it has caught up."""
    srv, s = checkpoint_server(make_server, connect, tmp_path, monkeypatch, 300,
                               "memtable_flush_threshold_bytes: 4096\n")
    vecs = dict(enumerate(clustered(1500, 21)))
    load(s, "k1", vecs)
    wait_for_log(srv, r"index checkpoint of \d+ entries written")
    for i in range(50):
        s.execute("DELETE FROM k1.chunks WHERE row_id = %d" % i)
    old = {i: vecs.pop(i) for i in range(100)}
    renewed = {i: v for i, v in zip(range(50, 100), clustered(50, 22))}
    more = {i: v for i, v in zip(range(1500, 1700), clustered(200, 23))}
    load(s, "k1", {**renewed, **more})
    vecs.update(renewed)
    vecs.update(more)
    s.cluster.shutdown()
    srv.kill()
    srv.start()
    assert re.search(r"index loaded from \S+\.ckpt ", srv.stderr_text()), srv.tail()
    caught = r"index checkpoint caught up: (\d+) entries no longer in the data"
    wait_for_log(srv, "(?s)" + caught + ".*" + caught)  # both shards
    # exactly the deleted rows were dropped: every other loaded node was
    # confirmed (the overwritten ones replaced)
    assert sum(int(n) for n in re.findall(caught, srv.stderr_text())) == 50, srv.tail()
    s = connect(srv)
    assert recall(s, "k1", vecs, clustered(15, 24)) >= 0.95
    ten = s.prepare("SELECT row_id FROM k1.chunks ORDER BY vector ANN OF ? LIMIT 10")
    one = s.prepare("SELECT row_id FROM k1.chunks ORDER BY vector ANN OF ? LIMIT 1")
    for i in range(50):  # deleted: never back
        assert i not in [r.row_id for r in s.execute(ten, (old[i],))]
    for i in range(50, 100):  # overwritten: found under the new vector
        assert s.execute(one, (renewed[i],)).one().row_id == i
    for i in (1500, 1600, 1699):
        assert s.execute(one, (more[i],)).one().row_id == i


def test_rewrites_rebuild_the_graph(session):
    """Every row's vector rewritten twice: the replaced nodes are marked at
    once, the graph (mostly deleted) is built again in the background, and
    answers stay right before, during and after."""
    ks = "vec_rewrite"
    make_table(session, ks)
    vecs = dict(enumerate(clustered(1500, 21)))
    load(session, ks, vecs)
    queries = clustered(10, 22)
    for seed in (23, 24):
        vecs = dict(enumerate(clustered(1500, seed)))
        load(session, ks, vecs)
        assert recall(session, ks, vecs, queries) >= 0.95
    time.sleep(1.5)
    assert recall(session, ks, vecs, queries) >= 0.95


@pytest.mark.restart
def test_quiet_graph_is_checkpointed(make_server, connect, tmp_path, monkeypatch):
    """A graph that stops growing is checkpointed within the shard's clock
    plus 5 s, even far from its next growth checkpoint, so that kill -9
    after a load finds a complete checkpoint: the start loads it, the walk
    confirms every node, and every row answers."""
    srv, s = checkpoint_server(make_server, connect, tmp_path, monkeypatch,
                               1000000,  # no growth checkpoints
                               "commitlog_sync_period: 200ms\n")
    vecs = dict(enumerate(clustered(400, 31)))
    load(s, "k1", vecs)
    written = r"shard (\d): index checkpoint of (\d+) entries written"
    wait_for_log(srv, "(?s)" + written + ".*" + written, timeout=30)  # both shards
    assert sum(int(n) for _, n in re.findall(written, srv.stderr_text())) == 400, srv.tail()
    s.cluster.shutdown()
    srv.kill()
    srv.start()
    built = r"vector index built from its checkpoint: (\d+) entries"
    wait_for_log(srv, "(?s)" + built + ".*" + built)
    # nothing to add or drop: the graphs are the checkpoints' entries
    assert sum(int(n) for n in re.findall(built, srv.stderr_text())) == 400, srv.tail()
    assert "no longer in the data" not in srv.stderr_text()
    s = connect(srv)
    one = s.prepare("SELECT row_id FROM k1.chunks ORDER BY vector ANN OF ? LIMIT 1")
    for i in range(0, 400, 7):
        assert s.execute(one, (vecs[i],)).one().row_id == i


def test_sai_column_indexes_shows_a_build(session):
    """system_views.sai_column_indexes (as Cassandra 5.0 has it; tools poll
    is_queryable before they query): an index created on a table that holds
    rows is_building until every shard's walk is through, and is_queryable
    throughout, because Helenus answers by a scan meanwhile."""
    ks = "vec_sysview"
    make_table(session, ks, index_first=False)
    vecs = dict(enumerate(clustered(3000, 31)))
    load(session, ks, vecs)
    make_index(session, ks)
    q = ("SELECT index_name, column_name, table_name, is_queryable, is_building, is_string, "
         "analyzer FROM system_views.sai_column_indexes WHERE keyspace_name = '%s'" % ks)
    first = session.execute(q).one()
    assert (first.index_name, first.column_name, first.table_name) == \
        ("chunks_vector_idx", "vector", "chunks")
    assert first.is_building and first.is_queryable, first
    assert first.is_string and first.analyzer == "NoOpAnalyzer"
    ann = session.prepare("SELECT row_id FROM %s.chunks ORDER BY vector ANN OF ? LIMIT 1" % ks)
    assert session.execute(ann, (vecs[7],)).one().row_id == 7  # during the build
    deadline = time.monotonic() + 120
    while session.execute(q).one().is_building:
        assert time.monotonic() < deadline, "the build did not finish"
        time.sleep(0.05)
    assert session.execute(q).one().is_queryable
    assert session.execute(ann, (vecs[2999],)).one().row_id == 2999


def test_partition_ann_ranks_the_partitions_rows(session):
    """WHERE pk = ? ORDER BY v ANN OF ?: the shard ranks the partition's
    vectors from the graph's memory (its partition lists, built at the first
    such query and kept up to date by later writes); the answers are exact
    and a deleted, overwritten or expired row never comes back."""
    ks = "vec_part"
    session.execute("CREATE KEYSPACE %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
    session.execute("CREATE TABLE %s.ev (p int, c int, v vector<float, %d>, "
                    "PRIMARY KEY (p, c))" % (ks, DIM))
    session.execute("CREATE CUSTOM INDEX ON %s.ev (v) USING 'StorageAttachedIndex'" % ks)
    ins = session.prepare("INSERT INTO %s.ev (p, c, v) VALUES (?, ?, ?)" % ks)
    vecs = {}  # (p, c) -> vector, what the table holds
    rows = [((i % 20, i), v) for i, v in enumerate(clustered(3000, 31))]
    res = execute_concurrent_with_args(session, ins, [(p, c, v) for (p, c), v in rows],
                                       concurrency=32, raise_on_first_error=True)
    assert all(ok for ok, _ in res)
    vecs.update(rows)
    sel = session.prepare("SELECT c FROM %s.ev WHERE p = ? ORDER BY v ANN OF ? LIMIT 10" % ks)

    def check(parts, queries):
        for p in parts:
            mine = {c: v for (pp, c), v in vecs.items() if pp == p}
            for q in queries:
                got = [r.c for r in session.execute(sel, (p, q))]
                assert got == exact_top(mine, q, 10), "partition %d" % p

    queries = clustered(5, 32)
    check(range(0, 20, 3), queries)
    # writes after the lists exist: overwrites, deletes, a TTL, a new partition
    q = queries[0]
    top = [r.c for r in session.execute(sel, (3, q))]
    for c in top[:4]:
        session.execute("DELETE FROM %s.ev WHERE p = 3 AND c = %d" % (ks, c))
        del vecs[(3, c)]
    far = unit([-x for x in q])
    for c in top[4:7]:
        session.execute(ins, (3, c, far))
        vecs[(3, c)] = far
    session.execute(session.prepare(
        "INSERT INTO %s.ev (p, c, v) VALUES (?, ?, ?) USING TTL 1" % ks), (3, 5000, q))
    assert [r.c for r in session.execute(sel, (3, q))][0] == 5000
    new = clustered(40, 33)
    for j, v in enumerate(new):
        session.execute(ins, (77, j, v))
        vecs[(77, j)] = v
    time.sleep(2.1)  # the TTL row expires
    check([3, 77], queries)
    session.execute("DELETE FROM %s.ev WHERE p = 5" % ks)
    assert list(session.execute(sel, (5, q))) == []
    assert list(session.execute(sel, (999, q))) == []  # a partition never written
    # fewer rows than LIMIT: all of them, nearest first
    session.execute(ins, (500, 1, q))
    session.execute(ins, (500, 2, far))
    assert [r.c for r in session.execute(sel, (500, q))] == [1, 2]
