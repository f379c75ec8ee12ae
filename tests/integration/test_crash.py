"""Crash recovery: kill -9 with `--commitlog-sync batch`, then restart on the
same data directory. In batch mode a write is acknowledged only after its
commitlog record is fsynced, so every acknowledged write must survive."""

import threading
import time

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from conftest import AckTracker

pytestmark = pytest.mark.crash

KS = "crash"
NPART = 50


def setup_schema(s):
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (p int, c int, v text, PRIMARY KEY (p, c))" % KS)
    s.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % KS)


def read_t(s):
    sel = s.prepare("SELECT c, v FROM %s.t WHERE p = ?" % KS)
    got = {}
    for p in range(NPART):
        for r in s.execute(sel, (p,)):
            assert r.c % NPART == p
            got[r.c] = r.v
    return got


def crash_and_restart(srv, cluster):
    srv.kill()
    cluster.shutdown()
    srv.check_sanitizers()
    srv.start()


def test_kill9_batch_every_acknowledged_row_survives(make_server, connect):
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.t (p, c, v) VALUES (?, ?, ?)" % KS)
    n = 2000
    # some synchronously, most concurrently
    for i in range(200):
        s.execute(ins, (i % NPART, i, "v%d" % i))
    tr = AckTracker(max_in_flight=128)
    for i in range(200, n):
        tr.submit(s, ins, (i % NPART, i, "v%d" % i), i)
    assert tr.drain(60)
    assert not tr.failed, "writes failed before the kill: %r" % tr.failed[:3]
    # a few overwrites and deletes, which must survive as well
    s.execute("UPDATE %s.t SET v = 'changed' WHERE p = 3 AND c = 3" % KS)
    s.execute("DELETE FROM %s.t WHERE p = 4 AND c = 4" % KS)
    s.execute("DELETE v FROM %s.t WHERE p = 5 AND c = 5" % KS)
    expected = {i: "v%d" % i for i in range(n)}
    expected[3] = "changed"
    del expected[4]
    expected[5] = None
    assert read_t(s) == expected

    crash_and_restart(srv, s.cluster)

    s = connect(srv)
    got = read_t(s)
    missing = sorted(set(expected) - set(got))
    assert not missing, "%d acknowledged rows lost after kill -9, e.g. %s" % (
        len(missing), missing[:10])
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, "rows differ after replay (got, want): %r" % dict(list(wrong.items())[:10])
    assert set(got) == set(expected), "deleted rows came back: %s" % sorted(
        set(got) - set(expected))


def write_until_killed(srv, s, stmt, params_of, first, tr, kill_after):
    """Writes params_of(i) for i = first, first + 1, ... through tr while a
    thread kills srv (kill -9) once kill_after writes were acknowledged
    (or after 20 s); returns the first i not submitted. Bounded: 40 s."""
    killed = threading.Event()

    def killer():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with tr.cv:
                if len(tr.acked) >= kill_after:
                    break
            time.sleep(0.005)
        srv.kill()
        killed.set()

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    i = first
    deadline = time.monotonic() + 40
    while not killed.is_set() and time.monotonic() < deadline:
        try:
            tr.submit(s, stmt, params_of(i), i, timeout=5)
        except AssertionError:
            break
        i += 1
    th.join(30)
    assert killed.is_set()
    return i


def test_kill9_during_async_write_load(make_server, connect):
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    tr = AckTracker(max_in_flight=128)
    # kill once a good number of writes were acknowledged
    write_until_killed(srv, s, ins, lambda i: (i, "v%d" % i), 0, tr, 1500)
    assert tr.drain(30), "requests in flight at the kill never completed"
    s.cluster.shutdown()
    srv.check_sanitizers()
    acked = sorted(tr.acked)
    assert len(acked) >= 1000, "only %d writes acknowledged before the kill" % len(acked)

    srv.start()
    s = connect(srv)
    sel = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KS)
    res = execute_concurrent_with_args(s, sel, [(k,) for k in acked], concurrency=64)
    lost = [k for k, (ok, r) in zip(acked, res) if not ok or r.one() is None]
    assert not lost, "%d of %d acknowledged writes lost after kill -9 under load, e.g. %s" % (
        len(lost), len(acked), lost[:10])
    bad = [k for k, (ok, r) in zip(acked, res) if ok and r.one() is not None
           and r.one().v != "v%d" % k]
    assert not bad
    # the node keeps working after recovery
    s.execute(ins, (10**9, "post"))
    assert s.execute(sel, (10**9,)).one().v == "post"


def test_kill9_with_flushed_and_unflushed_data(make_server, connect):
    """Generation 1 is flushed by a clean shutdown (sstables); generation 2
    (new rows, overwrites and deletions of generation 1) lives only in the
    commitlog when the server is killed. After replay, gen-2 tombstones
    must shadow gen-1 data and overwrites must win."""
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.t (p, c, v) VALUES (?, ?, ?)" % KS)
    execute_concurrent_with_args(s, ins, [(i % NPART, i, "g1-%d" % i) for i in range(500)],
                                 concurrency=64, raise_on_first_error=True)
    s.cluster.shutdown()
    assert srv.stop() == 0, srv.tail()
    srv.start()
    s = connect(srv)
    expected = {i: "g1-%d" % i for i in range(500)}
    assert read_t(s) == expected
    execute_concurrent_with_args(s, ins, [(i % NPART, i, "g2-%d" % i) for i in range(250, 750)],
                                 concurrency=64, raise_on_first_error=True)
    for i in range(250, 750):
        expected[i] = "g2-%d" % i
    s.execute("DELETE FROM %s.t WHERE p = 7" % KS)  # partition spanning both generations
    for i in [k for k in expected if k % NPART == 7]:
        del expected[i]
    s.execute("DELETE FROM %s.t WHERE p = 8 AND c = 8" % KS)
    del expected[8]
    s.execute("DELETE v FROM %s.t WHERE p = 9 AND c = 9" % KS)
    expected[9] = None
    assert read_t(s) == expected

    crash_and_restart(srv, s.cluster)
    s = connect(srv)
    assert read_t(s) == expected


def test_kill9_schema_is_durable(make_server, connect):
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    s.execute("CREATE TABLE %s.fresh (a int, b int, v int, PRIMARY KEY ((a), b)) "
              "WITH CLUSTERING ORDER BY (b DESC)" % KS)
    s.execute("INSERT INTO %s.fresh (a, b, v) VALUES (1, 2, 3)" % KS)
    s.execute("DROP TABLE %s.kv" % KS)
    crash_and_restart(srv, s.cluster)
    s = connect(srv)
    tables = s.cluster.metadata.keyspaces[KS].tables
    assert "fresh" in tables and "kv" not in tables
    assert tables["fresh"].columns["b"].is_reversed
    assert tuple(s.execute("SELECT * FROM %s.fresh WHERE a = 1" % KS).one()) == (1, 2, 3)


def test_repeated_kill9(make_server, connect):
    """Crash, replay, write more, crash again before any flush: replay of an
    already-replayed log must be idempotent and the new writes kept."""
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    expected = {}
    for rnd in range(3):
        for i in range(100):
            k = rnd * 1000 + i
            s.execute(ins, (k, "r%d" % rnd))
            expected[k] = "r%d" % rnd
        s.execute(ins, (0, "over%d" % rnd))  # overwrite the same key every round
        expected[0] = "over%d" % rnd
        crash_and_restart(srv, s.cluster)
        s = connect(srv)
        ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
        sel = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KS)
        res = execute_concurrent_with_args(s, sel, [(k,) for k in sorted(expected)],
                                           concurrency=64)
        got = {k: (r.one().v if ok and r.one() else None) for k, (ok, r) in
               zip(sorted(expected), res)}
        assert got == expected, "round %d" % rnd


def test_kill9_with_many_flushes_and_segments(make_server, connect, tmp_path):
    """Tiny memtables and commitlog segments: the write load spans many
    flushes (sstables) and segment rotations; overwrites and deletes cross
    those boundaries; kill -9, replay, then a clean restart: same data."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text("commitlog_segment_size: 64KiB\nmemtable_flush_threshold_bytes: 16KiB\n")
    srv = make_server(sync="batch", config=str(cfg))
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.t (p, c, v) VALUES (?, ?, ?)" % KS)
    dele = s.prepare("DELETE FROM %s.t WHERE p = ? AND c = ?" % KS)
    expected = {}
    tr = AckTracker(max_in_flight=64)
    for i in range(3000):
        tr.submit(s, ins, (i % NPART, i, "a%d-" % i + "x" * 100), ("w", i))
        expected[i] = "a%d-" % i + "x" * 100
    assert tr.drain(60) and not tr.failed, tr.failed[:3]
    for i in range(0, 3000, 7):  # overwrite every 7th
        s.execute(ins, (i % NPART, i, "b%d" % i))
        expected[i] = "b%d" % i
    for i in range(0, 3000, 11):  # delete every 11th
        s.execute(dele, (i % NPART, i))
        expected.pop(i, None)
    s.execute("DELETE FROM %s.t WHERE p = 13" % KS)
    for i in [k for k in expected if k % NPART == 13]:
        del expected[i]
    assert read_t(s) == expected

    crash_and_restart(srv, s.cluster)
    s = connect(srv)
    got = read_t(s)
    assert set(got) == set(expected), "missing %s, resurrected %s" % (
        sorted(set(expected) - set(got))[:10], sorted(set(got) - set(expected))[:10])
    assert got == expected

    s.cluster.shutdown()
    assert srv.stop() == 0, srv.tail()
    srv.start()
    s = connect(srv)
    assert read_t(s) == expected
    import os
    n_files = sum(len(fs) for _, _, fs in os.walk(srv.data_dir))
    assert n_files > 3


def _files(root, pred):
    import os
    out = []
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            if pred(p):
                out.append(p)
    return sorted(out)


def _commitlogs(srv):
    return _files(srv.data_dir, lambda p: "commitlog" in p.lower() and p.endswith(".log"))


def _sstables(srv):
    return _files(srv.data_dir, lambda p: p.endswith("-Data.db"))


def _crashed_by_signal(srv):
    return [rc for rc in srv.returncodes if rc is not None and rc < 0 and rc != -9]


def test_drop_recreate_table_then_kill9_no_resurrection(make_server, connect):
    """Mutations of a dropped table still sit in the commitlog; a new table
    with the same name must not receive them on replay."""
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    for i in range(200):
        s.execute(ins, (i, "old%d" % i))
    s.execute("DROP TABLE %s.kv" % KS)
    s.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % KS)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    for i in range(0, 200, 10):
        s.execute(ins, (i, "new%d" % i))
    s.execute("DROP KEYSPACE IF EXISTS other")
    crash_and_restart(srv, s.cluster)
    s = connect(srv)
    sel = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KS)
    got = {i: (s.execute(sel, (i,)).one() or [None])[0] for i in range(200)}
    want = {i: ("new%d" % i if i % 10 == 0 else None) for i in range(200)}
    assert got == want


def test_commitlog_garbage_tail_after_kill9(make_server, connect):
    """A torn/zeroed tail after the last complete record (what a crash can
    leave) is ignored on replay; every acknowledged write is kept."""
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    for i in range(300):
        s.execute(ins, (i, "v%d" % i))
    srv.kill()
    s.cluster.shutdown()
    logs = _commitlogs(srv)
    if not logs:
        pytest.fail("no commitlog files found under %s after 300 acknowledged writes"
                    % srv.data_dir)
    import random
    rnd = random.Random(7)
    for n, p in enumerate(logs):
        with open(p, "ab") as f:
            if n % 2:
                f.write(b"\x00" * 4096)
            else:
                f.write(bytes(rnd.getrandbits(8) for _ in range(333)))
    srv.start()
    s = connect(srv)
    sel = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KS)
    lost = [i for i in range(300) if s.execute(sel, (i,)).one() is None]
    assert not lost, "lost %d rows after a garbage tail, e.g. %s" % (len(lost), lost[:10])


@pytest.mark.parametrize("where", ["commitlog", "sstable"])
def test_corrupted_files_never_crash(make_server, connect, where):
    """Bytes flipped in the middle of a commitlog segment or an sstable: the
    server may refuse to start (non-zero exit with a message) or start and
    answer reads with errors, but it must not die on a signal or trip a
    sanitizer."""
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.t (p, c, v) VALUES (?, ?, ?)" % KS)
    for i in range(600):
        s.execute(ins, (i % NPART, i, "v%d-" % i + "y" * 50))
    if where == "sstable":
        s.cluster.shutdown()
        assert srv.stop() == 0  # flush to sstables
        files = _sstables(srv)
    else:
        srv.kill()
        s.cluster.shutdown()
        files = _commitlogs(srv)
    files = [f for f in files if __import__("os").path.getsize(f) > 200]
    if not files:
        pytest.fail("no %s files found under %s after the writes" % (where, srv.data_dir))
    import random
    rnd = random.Random(11)
    for p in files:
        with open(p, "r+b") as f:
            data = bytearray(f.read())
            for _ in range(8):
                i = rnd.randrange(len(data) // 4, len(data))
                data[i] ^= 0xFF
            f.seek(0)
            f.write(data)
    try:
        srv.start()
    except AssertionError:
        # refused to start: fine if it exited cleanly with a message
        assert srv.proc.returncode is not None and srv.proc.returncode > 0, srv.tail()
        assert srv.stderr_text().strip(), "exited without saying why"
        srv.check_sanitizers()
        return
    s = connect(srv)
    sel = s.prepare("SELECT c, v FROM %s.t WHERE p = ?" % KS)
    for p in range(NPART):
        try:
            list(s.execute(sel, (p,)))
        except Exception:
            pass  # an error reply is acceptable; a crash is not
    s.execute("INSERT INTO %s.kv (k, v) VALUES (1, 'alive')" % KS)
    assert srv.alive(), srv.tail()
    srv.check_sanitizers()
    assert not _crashed_by_signal(srv), srv.returncodes


@pytest.mark.beyond
def test_second_server_on_same_data_dir_refused(make_server, helenus_bin, tmp_path):
    import subprocess
    from conftest import free_port
    srv = make_server()
    log = tmp_path / "second.stderr"
    with open(log, "wb") as f:
        p = subprocess.Popen([helenus_bin, "serve", "--data-dir", srv.data_dir, "--address",
                              "127.0.0.1", "--port", str(free_port()), "--shards", "2"],
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while p.poll() is None and time.monotonic() < deadline:
            if "listening on" in log.read_text(errors="replace"):
                break
            time.sleep(0.05)
        started = p.poll() is None
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(10)
    assert not started, "a second server started on a data dir in use"
    assert p.returncode > 0, log.read_text(errors="replace")
    assert srv.alive()


@pytest.mark.beyond
def test_commitlog_mid_segment_corruption_not_silently_truncated(make_server, connect):
    """One flipped byte a third of the way into each commitlog segment, with
    hundreds of acknowledged (fsynced) records after it. Acceptable: refuse to
    start with a message (Cassandra's default: CommitLogReplayException unless
    cassandra.commitlog.ignorereplayerrors), or replay everything except the
    damaged record. Not acceptable: treat the rest of the segment as a torn
    tail and silently drop the acknowledged records that follow."""
    srv = make_server(sync="batch")
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    n = 600
    for i in range(n):
        s.execute(ins, (i, "v%d-" % i + "z" * 40))
    srv.kill()
    s.cluster.shutdown()
    logs = [p for p in _commitlogs(srv) if __import__("os").path.getsize(p) > 1000]
    if not logs:
        pytest.fail("no commitlog files found after the writes")
    for p in logs:
        with open(p, "r+b") as f:
            data = bytearray(f.read())
            i = len(data) // 3
            data[i] ^= 0x01
            f.seek(0)
            f.write(data)
    try:
        srv.start()
    except AssertionError:
        assert srv.proc.returncode is not None and srv.proc.returncode > 0, srv.tail()
        return  # refused to start, with a message in the log: acceptable
    s = connect(srv)
    sel = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KS)
    lost = [i for i in range(n) if s.execute(sel, (i,)).one() is None]
    assert len(lost) <= len(logs), (
        "%d acknowledged rows silently dropped after one flipped byte per segment "
        "(%d segments), e.g. %s\n%s" % (len(lost), len(logs), lost[:10], srv.tail(10)))


def test_kill9_logged_batch_between_shards_completed_at_restart(make_server, connect,
                                                                monkeypatch):
    """A LOGGED batch spanning both shards, stopped after the first shard's
    part (test hook: the state a crash between shards leaves), then kill -9:
    the restart re-applies it from the batchlog, with its original
    timestamps, so a row deleted after it stays deleted."""
    monkeypatch.setenv("HELENUS_TEST_BATCHLOG_PARTIAL", "1")
    srv = make_server(sync="batch")
    monkeypatch.delenv("HELENUS_TEST_BATCHLOG_PARTIAL")  # the restart runs without it
    s = connect(srv)
    setup_schema(s)
    body = " ".join("INSERT INTO %s.kv (k, v) VALUES (%d, 'b%d');" % (KS, k, k)
                    for k in range(16))
    with pytest.raises(Exception):
        s.execute("BEGIN BATCH " + body + " APPLY BATCH")
    got = {r.k for r in s.execute("SELECT k FROM %s.kv" % KS)}
    assert 0 < len(got) < 16, "the hook should leave the batch partly applied: %r" % got
    # UNLOGGED batches skip the batchlog (and the hook)
    s.execute("BEGIN UNLOGGED BATCH " + body.replace("VALUES (", "VALUES (1") + " APPLY BATCH")
    # a later delete of a row the batch left unapplied: must win over the replay
    missing = sorted(set(range(16)) - got)
    s.execute("DELETE FROM %s.kv WHERE k = %d" % (KS, missing[0]))

    crash_and_restart(srv, s.cluster)

    s = connect(srv)
    rows = {r.k: r.v for r in s.execute("SELECT k, v FROM %s.kv" % KS)}
    want = {k: "b%d" % k for k in range(16) if k != missing[0]}
    want.update({int("1%d" % k): "b%d" % k for k in range(16)})
    assert rows == want


STRATEGIES = {
    "stcs": "{'class': 'SizeTieredCompactionStrategy', 'min_threshold': '2'}",
    "lcs": "{'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': '1'}",
    "twcs": "{'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'MINUTES', "
            "'compaction_window_size': '1', 'min_threshold': '2'}",
    "ucs": "{'class': 'UnifiedCompactionStrategy', 'scaling_parameters': 'T2'}",
}
COMPRESSION = {
    "stcs": "{'class': 'LZ4Compressor'}",
    "lcs": "{'class': 'ZstdCompressor', 'compression_level': '1'}",
    "twcs": "{'class': 'SnappyCompressor', 'chunk_length_in_kb': '4'}",
    "ucs": "{'class': 'DeflateCompressor'}",
}


def _compactions(srv, table):
    import re
    out = srv.admin("tablestats", "%s.%s" % (KS, table))
    m = re.search(r"Compactions completed: (\d+)", out)
    assert m, out
    return int(m.group(1))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_kill9_under_compaction_every_strategy(make_server, connect, tmp_path, strategy):
    """Every compaction strategy, each with a compressor, gc_grace_seconds 0
    (so compaction purges tombstones as soon as the overlap rule allows):
    tiny memtables make the write load flush and compact all the time; the
    node is killed -9 in the middle of it. Every acknowledged write must be
    there after the restart, no deleted row may come back, and a compaction
    after the restart (which purges the tombstones) must not resurrect any."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text("commitlog_segment_size: 64KiB\nmemtable_flush_threshold_bytes: 16KiB\n")
    srv = make_server(sync="batch", config=str(cfg))
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (p int, c int, v text, PRIMARY KEY (p, c)) WITH compaction = %s "
              "AND compression = %s AND gc_grace_seconds = 0"
              % (KS, STRATEGIES[strategy], COMPRESSION[strategy]))
    ins = s.prepare("INSERT INTO %s.t (p, c, v) VALUES (?, ?, ?)" % KS)
    dele = s.prepare("DELETE FROM %s.t WHERE p = ? AND c = ?" % KS)
    pad = "x" * 120
    expected, deleted = {}, set()
    tr = AckTracker(max_in_flight=64)
    for i in range(2500):
        tr.submit(s, ins, (i % NPART, i, "a%d-%s" % (i, pad)), i)
        expected[i] = "a%d-%s" % (i, pad)
    assert tr.drain(60) and not tr.failed, tr.failed[:3]
    for i in range(0, 2500, 7):  # overwrites land in newer sstables
        s.execute(ins, (i % NPART, i, "b%d" % i))
        expected[i] = "b%d" % i
    for i in range(0, 2500, 11):  # tombstones over data in older sstables
        s.execute(dele, (i % NPART, i))
        expected.pop(i, None)
        deleted.add(i)
    ncomp = _compactions(srv, "t")
    assert ncomp > 0, "the load did not compact: the test would prove nothing"

    # more writes in flight while the node is killed
    tr2 = AckTracker(max_in_flight=64)
    i = write_until_killed(srv, s, ins, lambda i: (i % NPART, i, "c%d-%s" % (i, pad)), 2500, tr2,
                           800)
    assert tr2.drain(30)
    s.cluster.shutdown()
    srv.check_sanitizers()
    for k in tr2.acked:
        expected[k] = "c%d-%s" % (k, pad)
    issued = i

    def check(s, when):
        got = read_t(s)
        lost = sorted(k for k in expected if k not in got)
        assert not lost, "%s: %d acknowledged rows lost, e.g. %s" % (when, len(lost), lost[:10])
        wrong = sorted(k for k in expected if got[k] != expected[k])
        assert not wrong, "%s: rows differ, e.g. %s" % (when, [(k, got[k]) for k in wrong[:5]])
        back = sorted(k for k in deleted if k in got)
        assert not back, "%s: deleted rows came back: %s" % (when, back[:10])
        # writes in flight at the kill may or may not be there, but whole
        unknown = [k for k in got if k not in expected]
        assert all(2500 <= k < issued and got[k] == "c%d-%s" % (k, pad) for k in unknown), \
            "%s: unexpected rows %s" % (when, unknown[:10])

    srv.start()
    s = connect(srv)
    check(s, "after kill -9 and replay")
    srv.admin("flush", KS)
    srv.admin("compact", KS, "t")
    check(s, "after a purging compaction")
    s.cluster.shutdown()
    assert srv.stop() == 0, srv.tail()
    srv.start()
    s = connect(srv)
    check(s, "after a clean restart")
