"""Clean restarts (SIGTERM, exit 0, start again on the same data dir): data,
deletions and schema survive, in the default periodic commitlog mode and in
batch mode; a connected driver reconnects and re-prepares."""

import signal
import subprocess
import time

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from conftest import AckTracker

pytestmark = pytest.mark.restart

KS = "rs"


def setup_schema(s):
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (p int, c int, v text, PRIMARY KEY (p, c)) "
              "WITH CLUSTERING ORDER BY (c DESC)" % KS)
    s.execute("CREATE TABLE %s.kv (k text PRIMARY KEY, v bigint)" % KS)


def write_rows(s, n):
    ins = s.prepare("INSERT INTO %s.t (p, c, v) VALUES (?, ?, ?)" % KS)
    res = execute_concurrent_with_args(s, ins, [(i % 37, i, "v%d" % i) for i in range(n)],
                                       concurrency=64, raise_on_first_error=True)
    assert all(ok for ok, _ in res)


def read_rows(s):
    sel = s.prepare("SELECT c, v FROM %s.t WHERE p = ?" % KS)
    got = {}
    for p in range(37):
        rows = list(s.execute(sel, (p,)))
        cs = [r.c for r in rows]
        assert cs == sorted(cs, reverse=True), "partition %d not in DESC order" % p
        for r in rows:
            got[r.c] = r.v
    return got


def clean_restart(srv, cluster=None):
    if cluster is not None:
        cluster.shutdown()
    rc = srv.stop()
    assert rc == 0, "exit code %r after SIGTERM\n%s" % (rc, srv.tail())
    srv.check_sanitizers()
    srv.start()


@pytest.mark.parametrize("sync", [None, "periodic", "batch"])
def test_clean_restart_keeps_data_and_schema(make_server, connect, sync):
    srv = make_server(sync=sync)
    s = connect(srv)
    setup_schema(s)
    write_rows(s, 1000)
    s.execute("INSERT INTO %s.kv (k, v) VALUES ('a', 1)" % KS)
    s.execute("INSERT INTO %s.kv (k, v) VALUES ('b', 2)" % KS)
    s.execute("UPDATE %s.kv SET v = 3 WHERE k = 'b'" % KS)
    s.execute("DELETE FROM %s.kv WHERE k = 'a'" % KS)
    s.execute("DELETE FROM %s.t WHERE p = 5" % KS)  # partition tombstone
    s.execute("DELETE FROM %s.t WHERE p = 6 AND c = 6" % KS)  # row tombstone
    s.execute("DELETE v FROM %s.t WHERE p = 7 AND c = 7" % KS)  # cell tombstone
    expected = {i: "v%d" % i for i in range(1000) if i % 37 != 5 and i != 6}
    expected[7] = None
    assert read_rows(s) == expected

    clean_restart(srv, s.cluster)

    s = connect(srv)
    tm = s.cluster.metadata.keyspaces[KS].tables["t"]
    assert [c.name for c in tm.partition_key] == ["p"]
    assert tm.columns["c"].is_reversed
    assert read_rows(s) == expected
    assert s.execute("SELECT v FROM %s.kv WHERE k = 'b'" % KS).one().v == 3
    assert s.execute("SELECT v FROM %s.kv WHERE k = 'a'" % KS).one() is None

    # keep writing after the restart, and restart again: both generations stay
    s.execute("INSERT INTO %s.t (p, c, v) VALUES (1, 100000, 'after')" % KS)
    s.execute("CREATE TABLE %s.later (k int PRIMARY KEY, v int)" % KS)
    s.execute("INSERT INTO %s.later (k, v) VALUES (1, 1)" % KS)
    expected[100000] = "after"
    clean_restart(srv, s.cluster)
    s = connect(srv)
    got = read_rows(s)
    assert got == expected
    assert s.execute("SELECT v FROM %s.later WHERE k = 1" % KS).one().v == 1


def test_restart_empty_and_dropped(make_server, connect):
    srv = make_server()
    clean_restart(srv)  # nothing written at all
    s = connect(srv)
    setup_schema(s)
    s.execute("INSERT INTO %s.kv (k, v) VALUES ('x', 1)" % KS)
    s.execute("DROP TABLE %s.kv" % KS)
    s.execute("CREATE KEYSPACE gone WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("DROP KEYSPACE gone")
    clean_restart(srv, s.cluster)
    s = connect(srv)
    md = s.cluster.metadata
    assert "gone" not in md.keyspaces
    assert "kv" not in md.keyspaces[KS].tables
    # the dropped table can be re-created empty
    s.execute("CREATE TABLE %s.kv (k text PRIMARY KEY, v bigint)" % KS)
    assert s.execute("SELECT * FROM %s.kv WHERE k = 'x'" % KS).one() is None


def test_driver_reconnects_and_reprepares(make_server, connect):
    srv = make_server()
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    sel = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KS)
    s.execute(ins, ("before", 1))
    rc = srv.stop()
    assert rc == 0
    srv.start()  # same port
    host = s.cluster.metadata.all_hosts()[0]
    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline:
        try:
            # the server forgot the prepared ids: it answers UNPREPARED and
            # the driver re-prepares transparently
            s.execute(ins, ("after", 2))
            break
        except Exception as e:  # host still marked down / reconnecting
            last = e
            time.sleep(0.5)
    else:
        pytest.fail("driver did not reconnect within 30 s: %r (host up: %s)" % (last, host.is_up))
    assert s.execute(sel, ("before",)).one().v == 1
    assert s.execute(sel, ("after",)).one().v == 2


def test_sigterm_under_load_exits_cleanly(make_server, connect):
    """SIGTERM while requests are in flight: exit 0, no sanitizer report,
    and every acknowledged write is there after the restart."""
    srv = make_server()
    s = connect(srv)
    setup_schema(s)
    ins = s.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
    tr = AckTracker(max_in_flight=64)
    i = 0
    t_end = time.monotonic() + 1.0
    while time.monotonic() < t_end or i < 300:
        tr.submit(s, ins, ("k%d" % i, i), i)
        i += 1
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.kill()
        pytest.fail("no exit within 30 s of SIGTERM under load\n" + srv.tail())
    srv.returncodes.append(rc)
    assert tr.drain(30), "in-flight requests never completed after the server exited"
    s.cluster.shutdown()
    assert rc == 0, "exit code %r after SIGTERM under load\n%s" % (rc, srv.tail())
    srv.check_sanitizers()
    assert len(tr.acked) >= 300
    srv.start()
    s = connect(srv)
    sel = s.prepare("SELECT v FROM %s.kv WHERE k = ?" % KS)
    keys = sorted(tr.acked)
    res = execute_concurrent_with_args(s, sel, [("k%d" % k,) for k in keys], concurrency=64)
    missing = [k for k, (ok, r) in zip(keys, res) if not ok or r.one() is None]
    assert not missing, "%d acknowledged writes lost, e.g. %s" % (len(missing), missing[:10])


@pytest.mark.parametrize("shards", [1, 3])
def test_odd_shard_counts(make_server, connect, shards):
    srv = make_server(shards=shards)
    s = connect(srv)
    setup_schema(s)
    write_rows(s, 500)
    expected = {i: "v%d" % i for i in range(500)}
    assert read_rows(s) == expected
    rows = list(s.execute("SELECT p FROM %s.t" % KS))
    assert len(rows) == 500
    clean_restart(srv, s.cluster)
    s = connect(srv)
    assert read_rows(s) == expected


@pytest.mark.beyond
def test_restart_with_different_shard_count(make_server, connect):
    """`--shards 0` means one shard per core, so moving a data directory to a
    bigger machine changes the shard count: the data must still be found (or
    the server must refuse to start, loudly)."""
    srv = make_server(shards=2)
    s = connect(srv)
    setup_schema(s)
    write_rows(s, 500)
    expected = {i: "v%d" % i for i in range(500)}
    s.cluster.shutdown()
    assert srv.stop() == 0
    srv.shards = 3
    try:
        srv.start()
    except AssertionError:
        assert srv.proc.returncode > 0, srv.tail()
        return  # refused, with a message
    s = connect(srv)
    got = read_rows(s)
    assert got == expected, "%d of 500 rows not found after 2 -> 3 shards" % (
        len(set(expected) - set(got)))
