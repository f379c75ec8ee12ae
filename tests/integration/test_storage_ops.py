"""Storage for production, through the real server and `helenus admin`:
compression per table (every codec Cassandra 5.0 names, ALTER taking effect
at the next write of files), TTL data purged to nothing once expired with
gc_grace_seconds 0, deletions that never come back through flush, compaction
and restart, time-window tables, and the admin verbs' output and errors."""

import glob
import os
import subprocess
import time

import pytest

KS = "ops"

TEXT = ("the quick brown fox jumps over the lazy dog while the feature store serves "
        "embeddings and event logs roll over with their time to live; ")


def table_dir_files(srv, s, table):
    tid = s.execute("SELECT id FROM system_schema.tables WHERE keyspace_name = %s AND "
                    "table_name = %s", (KS, table)).one().id
    pat = os.path.join(srv.data_dir, "shard-*", "tables", tid.hex, "nb-*-Data.db")
    return glob.glob(pat)


def disk_bytes(srv, s, table):
    return sum(os.path.getsize(f) for f in table_dir_files(srv, s, table))


@pytest.fixture
def ops(make_server, connect):
    srv = make_server()
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    return srv, s


def load(s, table, n=3000):
    ins = s.prepare("INSERT INTO %s.%s (k, c, v) VALUES (?, ?, ?)" % (KS, table))
    futs = []
    for k in range(n // 10):
        for c in range(10):
            futs.append(s.execute_async(ins, (k, c, TEXT * 4 + str(k * 10 + c))))
    for f in futs:
        f.result()  # an insert that failed fails the test here


def test_compression_codecs_and_alter(ops, connect):
    srv, s = ops
    opts = {
        "lz4": "{'class': 'LZ4Compressor'}",
        "zstd": "{'class': 'ZstdCompressor', 'compression_level': '3'}",
        "snappy": "{'class': 'SnappyCompressor', 'chunk_length_in_kb': '64'}",
        "deflate": "{'class': 'DeflateCompressor'}",
        "plain": "{'enabled': 'false'}",
    }
    for name, o in opts.items():
        s.execute("CREATE TABLE %s.%s (k int, c int, v text, PRIMARY KEY (k, c)) "
                  "WITH compression = %s" % (KS, name, o))
        load(s, name)
    srv.admin("flush", KS)
    srv.admin("compact", KS)
    sizes = {n: disk_bytes(srv, s, n) for n in opts}
    for n in opts:
        if n != "plain":
            assert sizes[n] < sizes["plain"] * 0.5, sizes
    for n in opts:
        rows = list(s.execute("SELECT v FROM %s.%s WHERE k = 7" % (KS, n)))
        assert [r.v for r in rows] == [TEXT * 4 + str(70 + c) for c in range(10)]
        assert s.execute("SELECT count(*) FROM %s.%s" % (KS, n)).one()[0] == 3000
    # ALTER: the next files are written with the new codec
    s.execute("ALTER TABLE %s.plain WITH compression = {'class': 'ZstdCompressor'}" % KS)
    srv.admin("compact", KS, "plain")
    assert disk_bytes(srv, s, "plain") < sizes["plain"] * 0.5
    s.execute("ALTER TABLE %s.lz4 WITH compression = {'enabled': 'false'}" % KS)
    srv.admin("compact", KS, "lz4")
    assert disk_bytes(srv, s, "lz4") > sizes["lz4"] * 2
    stats = srv.admin("tablestats", KS + ".zstd")
    assert "Table: zstd" in stats and "SSTable Compression Ratio: 0." in stats, stats
    # restart: everything reads back from the compressed files
    srv.stop()
    srv.start()
    s = connect(srv)
    for n in opts:
        assert s.execute("SELECT count(*) FROM %s.%s" % (KS, n)).one()[0] == 3000


def test_ttl_data_purged_to_nothing(ops):
    srv, s = ops
    s.execute("CREATE TABLE %s.events (k int, c int, v text, PRIMARY KEY (k, c)) "
              "WITH gc_grace_seconds = 0" % KS)
    ins = s.prepare("INSERT INTO %s.events (k, c, v) VALUES (?, ?, ?) USING TTL 2" % KS)
    for k in range(200):
        for c in range(5):
            s.execute(ins, (k, c, TEXT))
        if k % 50 == 49:
            srv.admin("flush", KS, "events")
    assert table_dir_files(srv, s, "events")  # (size-tiered may have merged them)
    assert s.execute("SELECT count(*) FROM %s.events" % KS).one()[0] == 1000
    time.sleep(3)
    assert s.execute("SELECT count(*) FROM %s.events" % KS).one()[0] == 0
    srv.admin("compact", KS, "events")
    assert table_dir_files(srv, s, "events") == []
    assert "SSTable count: 0" in srv.admin("tablestats", KS + ".events")


def test_deleted_rows_never_come_back(ops, connect):
    srv, s = ops
    s.execute("CREATE TABLE %s.kv (k int, c int, v text, PRIMARY KEY (k, c)) "
              "WITH gc_grace_seconds = 0" % KS)
    ins = s.prepare("INSERT INTO %s.kv (k, c, v) VALUES (?, ?, ?)" % KS)
    for k in range(100):
        for c in range(4):
            s.execute(ins, (k, c, "v"))
    srv.admin("flush", KS, "kv")
    # partition, row, range and cell deletions, each in its own file
    for k in range(0, 100, 4):
        s.execute("DELETE FROM %s.kv WHERE k = %d" % (KS, k))
    srv.admin("flush", KS, "kv")
    for k in range(1, 100, 4):
        s.execute("DELETE FROM %s.kv WHERE k = %d AND c = 1" % (KS, k))
    srv.admin("flush", KS, "kv")
    for k in range(2, 100, 4):
        s.execute("DELETE FROM %s.kv WHERE k = %d AND c >= 2" % (KS, k))
    for k in range(3, 100, 4):
        s.execute("DELETE v FROM %s.kv WHERE k = %d AND c = 0" % (KS, k))

    def expect(sess):
        rows = {(r.k, r.c): r.v for r in sess.execute("SELECT k, c, v FROM %s.kv" % KS)}
        want = {}
        for k in range(100):
            for c in range(4):
                if k % 4 == 0 or (k % 4 == 1 and c == 1) or (k % 4 == 2 and c >= 2):
                    continue
                want[(k, c)] = None if (k % 4 == 3 and c == 0) else "v"
        assert rows == want

    expect(s)
    srv.admin("compact", KS, "kv")  # tombstones purged together with what they shadow
    expect(s)
    srv.admin("flush", KS, "kv")
    srv.admin("compact", KS, "kv")
    expect(s)
    srv.stop()
    srv.start()
    expect(connect(srv))


def test_time_window_table_and_strategy_alter(ops):
    srv, s = ops
    s.execute("CREATE TABLE %s.ts (k int, t timestamp, v text, PRIMARY KEY (k, t)) "
              "WITH CLUSTERING ORDER BY (t DESC) AND compaction = {'class': "
              "'TimeWindowCompactionStrategy', 'compaction_window_unit': 'MINUTES', "
              "'compaction_window_size': '1'} AND default_time_to_live = 3600" % KS)
    ins = s.prepare("INSERT INTO %s.ts (k, t, v) VALUES (?, ?, ?) USING TIMESTAMP ?" % KS)
    now = int(time.time() * 1e6)
    # five past windows of two flushes each
    for w in range(5):
        for f in range(2):
            ts = now - (10 - w) * 60 * 1000000 + f
            for k in range(20):
                s.execute(ins, (k, (ts // 1000) + 7 * f + k, "w%d" % w, ts))
            srv.admin("flush", KS, "ts")
    # each shard ends with one file per past window; the newest window (two
    # files, under min_threshold 4) is size-tiered and keeps both
    want = (4 + 2) * srv.shards
    deadline = time.time() + 30
    while time.time() < deadline and len(table_dir_files(srv, s, "ts")) > want:
        time.sleep(0.2)
    files = table_dir_files(srv, s, "ts")
    assert len(files) == want, files
    assert s.execute("SELECT count(*) FROM %s.ts" % KS).one()[0] == 200
    s.execute("ALTER TABLE %s.ts WITH compaction = {'class': 'LeveledCompactionStrategy', "
              "'sstable_size_in_mb': '10'}" % KS)
    assert "LeveledCompactionStrategy" in srv.admin("tablestats", KS + ".ts")


def test_admin_verbs_and_errors(ops):
    srv, s = ops
    s.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % KS)
    s.execute("INSERT INTO %s.t (k, v) VALUES (1, 1)" % KS)
    srv.admin("flush")
    out = srv.admin("tablestats", KS)
    assert "Keyspace : ops" in out and "Table: t" in out and "SSTable count: " in out
    assert "pending tasks:" in srv.admin("compactionstats")
    assert "Data Center" in srv.admin("info")
    p = srv.admin("flush", "nope", check=False)
    assert p.returncode == 1 and "Keyspace [nope] does not exist." in p.stderr
    p = srv.admin("compact", KS, "nope", check=False)
    assert p.returncode == 1 and "does not exist" in p.stderr
    p = srv.admin("metrics", check=False)  # metrics_enabled is false by default
    assert p.returncode == 1 and "metrics_enabled" in p.stderr
    p = srv.admin("frobnicate", check=False)
    assert p.returncode == 1
    assert srv.admin("getcompactionthroughput") == "Current compaction throughput: 64 MiB/s\n"
    srv.admin("setcompactionthroughput", "16")
    assert srv.admin("getcompactionthroughput") == "Current compaction throughput: 16 MiB/s\n"
    assert srv.admin("setcompactionthroughput", "x", check=False).returncode == 1


def test_metrics_endpoint(make_server, connect, tmp_path):
    cfg = tmp_path / "m.yaml"
    cfg.write_text("metrics_enabled: true\n")
    srv = make_server(config=str(cfg))
    s = connect(srv)
    s.execute("CREATE KEYSPACE m WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("CREATE TABLE m.t (k int PRIMARY KEY, v int)")
    s.execute("INSERT INTO m.t (k, v) VALUES (1, 1)")
    srv.admin("flush", "m")
    import urllib.request
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.admin_port(),
                                  timeout=10).read().decode()
    assert "# TYPE helenus_table_sstables gauge" in body
    assert 'helenus_table_sstables{keyspace="m",table="t"} ' in body
    assert "helenus_shards 2" in body


def test_snapshot_list_clear_and_restore(ops, connect):
    srv, s = ops
    s.execute("CREATE TABLE %s.snap (k int PRIMARY KEY, v text)" % KS)
    s.execute("CREATE TABLE %s.other (k int PRIMARY KEY, v text)" % KS)
    for k in range(300):
        s.execute("INSERT INTO %s.snap (k, v) VALUES (%d, 'v%d')" % (KS, k, k))
    s.execute("INSERT INTO %s.other (k, v) VALUES (1, 'o')" % KS)
    before = sorted((r.k, r.v) for r in s.execute("SELECT k, v FROM %s.snap" % KS))
    out = srv.admin("snapshot", "-t", "before", KS)
    assert "snapshot name [before]" in out
    p = srv.admin("snapshot", "-t", "before", KS, check=False)
    assert p.returncode == 1 and "Snapshot before already exists." in p.stderr
    assert srv.admin("snapshot", "-t", "bad/name", check=False).returncode == 1
    listing = srv.admin("listsnapshots")
    assert "before" in listing and "snap" in listing and "other" in listing, listing
    # the table changes after the snapshot; compaction rewrites its files
    for k in range(0, 300, 2):
        s.execute("DELETE FROM %s.snap WHERE k = %d" % (KS, k))
    for k in range(300, 400):
        s.execute("INSERT INTO %s.snap (k, v) VALUES (%d, 'new')" % (KS, k))
    srv.admin("flush", KS)
    srv.admin("compact", KS)
    assert s.execute("SELECT count(*) FROM %s.snap" % KS).one()[0] == 250
    srv.admin("snapshot", "-t", "later", KS, "--table", "other")
    srv.stop()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "..", "scripts", "restore-snapshot.sh")
    r = subprocess.run([script, srv.data_dir, "before", KS, "snap"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "restored %s.snap" % KS in r.stdout
    srv.start()
    s = connect(srv)
    after = sorted((r.k, r.v) for r in s.execute("SELECT k, v FROM %s.snap" % KS))
    assert after == before
    assert s.execute("SELECT v FROM %s.other WHERE k = 1" % KS).one().v == "o"
    # snapshots outlive DROP TABLE; clearsnapshot removes one tag, then all
    s.execute("DROP TABLE %s.other" % KS)
    assert "later" in srv.admin("listsnapshots")
    srv.admin("clearsnapshot", "-t", "before")
    listing = srv.admin("listsnapshots")
    assert "before" not in listing and "later" in listing
    srv.admin("clearsnapshot", "--all")
    assert "There are no snapshots" in srv.admin("listsnapshots")
    assert "UN  127.0.0.1" in srv.admin("status")


def test_corrupt_chunk_is_reported_and_the_rest_stays_readable(make_server, connect):
    from cassandra.cluster import NoHostAvailable
    srv = make_server(shards=1)
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.c (k int PRIMARY KEY, v text)" % KS)
    for k in range(2000):
        s.execute("INSERT INTO %s.c (k, v) VALUES (%d, '%s')" % (KS, k, ("x%d" % k) * 50))
    srv.admin("flush", KS)
    (f,) = table_dir_files(srv, s, "c")
    size = os.path.getsize(f)
    with open(f, "r+b") as fh:  # one flipped byte inside one compressed chunk
        fh.seek(size // 3)
        b = fh.read(1)
        fh.seek(size // 3)
        fh.write(bytes([b[0] ^ 0xFF]))
    ok, bad, msgs = 0, 0, set()
    for k in range(2000):
        try:
            row = s.execute("SELECT v FROM %s.c WHERE k = %d" % (KS, k)).one()
            assert row.v == ("x%d" % k) * 50
            ok += 1
        except NoHostAvailable as e:  # the server's error, retried nowhere else
            bad += 1
            msgs.add(str(e))
    # one 16 KiB chunk holds a few dozen of these rows: only they fail
    assert 0 < bad < 200 and ok + bad == 2000, (ok, bad)
    assert all(f in m and "checksum mismatch" in m for m in msgs), msgs
    assert srv.alive()


def test_big_blob_written_read_flushed_compacted(make_server, connect, tmp_path):
    # 16 MiB of value does not fit Cassandra's default 16 MiB request limit
    # either (nor its max mutation size, half a commitlog segment); both take
    # it with bigger native_transport_max_frame_size and commitlog_segment_size
    cfg = tmp_path / "big.yaml"
    cfg.write_text("native_transport_max_frame_size: 64MiB\ncommitlog_segment_size: 64MiB\n")
    srv = make_server(config=str(cfg))
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.blobs (id uuid PRIMARY KEY, data blob)" % KS)
    import uuid
    ins = s.prepare("INSERT INTO %s.blobs (id, data) VALUES (?, ?)" % KS)
    sel = s.prepare("SELECT data FROM %s.blobs WHERE id = ?" % KS)
    ids = [uuid.uuid4() for _ in range(3)]
    blobs = [os.urandom(15 << 20) + bytes(1 << 20), bytes(range(256)) * 65536, b""]
    for i, b in zip(ids, blobs):
        s.execute(ins, (i, b), timeout=60)
    for i, b in zip(ids, blobs):
        assert s.execute(sel, (i,), timeout=60).one().data == b
    srv.admin("flush", KS)
    srv.admin("compact", KS)
    for i, b in zip(ids, blobs):
        assert s.execute(sel, (i,), timeout=60).one().data == b


def test_multi_column_range_deletions_survive_flush(ops, connect):
    """DELETE ... WHERE (c1, c2) > (..): one range tombstone when the
    columns share one clustering order, several (one per column) when they
    do not; either way the rows deleted are the tuples beyond the bound in
    value order, before and after flush, compaction and restart."""
    srv, s = ops
    s.execute("CREATE TABLE %s.mx (k int, c1 int, c2 int, c3 int, v int, "
              "PRIMARY KEY (k, c1, c2, c3)) WITH CLUSTERING ORDER BY (c1 ASC, c2 DESC, c3 ASC)"
              % KS)
    s.execute("CREATE TABLE %s.up (k int, c1 int, c2 int, c3 int, v int, "
              "PRIMARY KEY (k, c1, c2, c3))" % KS)
    keys = [(a, b, c) for a in (1, 2) for b in (1, 2, 3) for c in (1, 2)]
    dels = [((1, 2), True, None, False), ((1, 2, 1), False, (2, 1, 2), True),
            (None, False, (2, 2), False), ((1, 1), False, (2, 2, 2), False),
            ((1,), True, (1, 3), False), ((2, 2), False, (1, 2), False)]
    for table in ("mx", "up"):
        ins = s.prepare("INSERT INTO %s.%s (k, c1, c2, c3, v) VALUES (?, ?, ?, ?, 0)"
                        % (KS, table))
        for k in range(len(dels)):
            for ck in keys:
                s.execute(ins, (k,) + ck)
    srv.admin("flush", KS)
    for k, (lo, lo_incl, hi, hi_incl) in enumerate(dels):
        where = []
        if lo:
            where.append("(%s) %s (%s)" % (", ".join("c%d" % (i + 1) for i in range(len(lo))),
                                           ">=" if lo_incl else ">", ", ".join(map(str, lo))))
        if hi:
            where.append("(%s) %s (%s)" % (", ".join("c%d" % (i + 1) for i in range(len(hi))),
                                           "<=" if hi_incl else "<", ", ".join(map(str, hi))))
        for table in ("mx", "up"):
            s.execute("DELETE FROM %s.%s WHERE k = %d AND %s" % (KS, table, k, " AND ".join(where)))

    def kept(k):
        lo, lo_incl, hi, hi_incl = dels[k]
        out = set()
        for ck in keys:
            ok = True
            if lo:
                p = ck[:len(lo)]
                ok &= p > lo or (lo_incl and p == lo)
            if hi:
                p = ck[:len(hi)]
                ok &= p < hi or (hi_incl and p == hi)
            if not ok:
                out.add(ck)
        return out

    def expect(sess):
        for table in ("mx", "up"):
            for k in range(len(dels)):
                rows = sess.execute("SELECT c1, c2, c3 FROM %s.%s WHERE k = %d" % (KS, table, k))
                assert {(r.c1, r.c2, r.c3) for r in rows} == kept(k), (table, k)

    expect(s)
    srv.admin("flush", KS)
    expect(s)
    srv.admin("compact", KS, "mx")
    expect(s)
    srv.stop()
    srv.start()
    expect(connect(srv))


@pytest.mark.parametrize("verb", ["flush", "compact", "snapshot"])
def test_admin_work_does_not_block_the_shard(make_server, connect, tmp_path, monkeypatch, verb):
    """nodetool flush, compact and snapshot run on storage's background
    threads: while one of them cannot get to the disk (the test hooks
    HELENUS_TEST_FLUSH_STALL / _COMPACTION_STALL hold it), the one shard
    keeps answering reads and writes, and the verb returns once the work
    is done, with its effect in place."""
    stall = tmp_path / "stall"
    hook = "HELENUS_TEST_COMPACTION_STALL" if verb == "compact" else "HELENUS_TEST_FLUSH_STALL"
    monkeypatch.setenv(hook, str(stall))
    srv = make_server(shards=1)
    monkeypatch.delenv(hook)
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.kv (k int, c int, v text, PRIMARY KEY (k, c)) WITH "
              "compaction = {'class': 'SizeTieredCompactionStrategy', 'enabled': 'false'}" % KS)
    load(s, "kv", 500)
    if verb == "compact":  # three sstables to merge (the flushes run unstalled)
        for _ in range(2):
            srv.admin("flush", KS, "kv")
            load(s, "kv", 200)
        srv.admin("flush", KS, "kv")
        assert len(table_dir_files(srv, s, "kv")) == 3
    stall.write_text("")
    args = {"flush": ["flush", KS, "kv"], "compact": ["compact", KS, "kv"],
            "snapshot": ["snapshot", "-t", "held", KS]}[verb]
    p = subprocess.Popen([srv.binary, "admin", "-p", str(srv.admin_port())] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        assert p.poll() is None, "the verb did not wait for its stalled work"
        sel = s.prepare("SELECT v FROM %s.kv WHERE k = ? AND c = ?" % KS)
        ins = s.prepare("INSERT INTO %s.kv (k, c, v) VALUES (?, ?, ?)" % KS)
        worst = 0.0
        for i in range(50):  # the shard serves while the work is held
            t0 = time.monotonic()
            assert s.execute(sel, (i, 3)).one() is not None
            s.execute(ins, (10000 + i, 0, "during"))
            worst = max(worst, time.monotonic() - t0)
        assert worst < 0.25, "a request waited %.3f s behind the %s" % (worst, verb)
        assert p.poll() is None
    finally:
        stall.unlink()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    files = table_dir_files(srv, s, "kv")
    # compact: the three merged into one; flush, snapshot: the memtable as it
    # was, written by the background flush (the writes since stay in memory)
    assert len(files) == 1
    if verb == "snapshot":
        snap = glob.glob(os.path.join(srv.data_dir, "shard-*", "snapshots", "held", "*",
                                      "*-Data.db"))
        assert len(snap) == 1 and os.path.samefile(snap[0], files[0])
    assert s.execute("SELECT count(*) FROM %s.kv" % KS).one()[0] == 550
