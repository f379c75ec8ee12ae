"""Compaction through the real server: tiny memtables make every few hundred
writes a flush and every second flush a compaction (compaction_min_threshold
2), while overwrites and deletes keep arriving. Reads must always see the
newest acknowledged state, the number of sstables must stay bounded, and a
kill -9 at any moment (mid-compaction included) must lose nothing
acknowledged and bring back nothing deleted."""

import glob
import os
import threading
import time

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from conftest import AckTracker

pytestmark = pytest.mark.crash

KS = "cp"
NKEYS = 600


def write_config(tmp_path):
    p = tmp_path / "compaction.yaml"
    p.write_text("memtable_flush_threshold_bytes: 16KiB\n"
                 "compaction_min_threshold: 2\n")
    return str(p)


def sstables(srv):
    return glob.glob(os.path.join(srv.data_dir, "shard-*", "tables", "*", "nb-*-Data.db"))


def read_all(s):
    sel = s.prepare("SELECT k, v FROM %s.kv WHERE k = ?" % KS)
    res = execute_concurrent_with_args(s, sel, [(k,) for k in range(NKEYS)], concurrency=64)
    got = {}
    for k, (ok, r) in zip(range(NKEYS), res):
        assert ok, "read of %d failed: %r" % (k, r)
        row = r.one()
        if row is not None:
            got[k] = row.v
    return got


def write_round(s, ins, rnd, keys):
    tr = AckTracker(max_in_flight=128)
    for k in keys:
        tr.submit(s, ins, (k, "r%d-%d" % (rnd, k)), k)
    assert tr.drain(60)
    assert not tr.failed, "writes failed: %r" % tr.failed[:3]


def test_compaction_keeps_newest_and_deletions_across_kill9(make_server, connect, tmp_path):
    srv = make_server(sync="batch", config=write_config(tmp_path))
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % KS)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    dele = s.prepare("DELETE FROM %s.kv WHERE k = ?" % KS)
    deleted = set(range(0, NKEYS, 7))
    live = [k for k in range(NKEYS) if k not in deleted]

    # rounds of overwrites; the deleted keys are written once, then deleted
    write_round(s, ins, 0, range(NKEYS))
    for k in sorted(deleted):
        s.execute(dele, (k,))
    for rnd in range(1, 6):
        write_round(s, ins, rnd, live)
        want = {k: "r%d-%d" % (rnd, k) for k in live}
        assert read_all(s) == want, "round %d reads differ" % rnd
    log = srv.stderr_text()
    assert "storage: compacted" in log, "no compaction ran:\n" + srv.tail(30)
    n = len(sstables(srv))
    assert n <= 40, "%d sstables: compaction does not keep up" % n

    # round 6 in flight when the server is killed
    tr = AckTracker(max_in_flight=128)
    killed = threading.Event()

    def killer():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with tr.cv:
                if len(tr.acked) >= len(live) // 2:
                    break
            time.sleep(0.005)
        srv.kill()
        killed.set()

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    for k in live * 4:  # more than enough: the kill comes first
        if killed.is_set():
            break
        try:
            tr.submit(s, ins, (k, "r6-%d" % k), k, timeout=5)
        except AssertionError:
            break
    th.join(30)
    assert killed.is_set()
    tr.drain(30)
    s.cluster.shutdown()
    srv.check_sanitizers()

    srv.start()
    s = connect(srv)
    got = read_all(s)
    came_back = sorted(set(got) & deleted)
    assert not came_back, "deleted keys came back: %s" % came_back[:10]
    missing = [k for k in live if k not in got]
    assert not missing, "keys lost: %s" % missing[:10]
    for k in live:
        if k in tr.acked:
            assert got[k] == "r6-%d" % k, "acknowledged write of %d lost: %s" % (k, got[k])
        else:
            assert got[k] in ("r5-%d" % k, "r6-%d" % k), (k, got[k])

    # after a restart no compaction log or temp file is left behind
    time.sleep(0.5)
    srv.stop()
    leftovers = [p for p in glob.glob(os.path.join(srv.data_dir, "shard-*", "tables", "*", "*"))
                 if p.endswith(".log") or p.endswith(".tmp")]
    assert not leftovers, leftovers
    srv.check_sanitizers()
