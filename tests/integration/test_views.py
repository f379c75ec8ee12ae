"""
Materialized views against the real binary and the Python driver: the view
must equal the projection of its base exactly, after concurrent writers
overwrite and delete the same base rows from many connections and shards,
after TTLs run out, after a restart (clean and kill -9), after kill -9 in
the middle of the writes, and after a build from existing rows in pages.

What the projection is here: view by_v of base t (k, c, v, w) with PRIMARY
KEY (v, k, c), i.e. every base row whose v is not null, keyed by (v, k, c),
with w; view by_k with PRIMARY KEY (c, k) (base key columns only), with v.
"""

import random
import threading
import time

import pytest

KS = "mvt"
THREADS = 20
DURATION = 6.0  # seconds of concurrent writing
KEYS = 8  # base partitions
CKS = 4  # rows per partition


def setup(s):
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (k int, c int, v int, w text, PRIMARY KEY (k, c))" % KS)
    s.execute("CREATE MATERIALIZED VIEW %s.by_v AS SELECT k, c, v, w FROM %s.t WHERE v IS NOT NULL "
              "AND k IS NOT NULL AND c IS NOT NULL PRIMARY KEY (v, k, c)" % (KS, KS))
    s.execute("CREATE MATERIALIZED VIEW %s.by_k AS SELECT k, c, v FROM %s.t WHERE c IS NOT NULL "
              "AND k IS NOT NULL PRIMARY KEY (c, k)" % (KS, KS))


def base_rows(s):
    return {(r.k, r.c): (r.v, r.w) for r in s.execute("SELECT k, c, v, w FROM %s.t" % KS)}


def check_views(s):
    base = base_rows(s)
    want_v = sorted((v, k, c, w) for (k, c), (v, w) in base.items() if v is not None)
    got_v = sorted((r.v, r.k, r.c, r.w) for r in s.execute("SELECT v, k, c, w FROM %s.by_v" % KS))
    assert got_v == want_v, "by_v differs from the projection of t"
    want_k = sorted((c, k, v) for (k, c), (v, _) in base.items())
    got_k = sorted((r.c, r.k, r.v) for r in s.execute("SELECT c, k, v FROM %s.by_k" % KS))
    assert got_k == want_k, "by_k differs from the projection of t"
    return base


def writer(session, stop, errors, seed):
    rnd = random.Random(seed)
    ins = session.prepare("INSERT INTO %s.t (k, c, v, w) VALUES (?, ?, ?, ?)" % KS)
    upd = session.prepare("UPDATE %s.t SET v = ? WHERE k = ? AND c = ?" % KS)
    updw = session.prepare("UPDATE %s.t SET w = ? WHERE k = ? AND c = ?" % KS)
    delr = session.prepare("DELETE FROM %s.t WHERE k = ? AND c = ?" % KS)
    delp = session.prepare("DELETE FROM %s.t WHERE k = ?" % KS)
    delv = session.prepare("DELETE v FROM %s.t WHERE k = ? AND c = ?" % KS)
    try:
        while not stop.is_set():
            k, c = rnd.randrange(KEYS), rnd.randrange(CKS)
            op = rnd.random()
            if op < 0.35:
                session.execute(ins, (k, c, rnd.randrange(10), "w%d" % rnd.randrange(100)))
            elif op < 0.65:
                session.execute(upd, (rnd.randrange(10), k, c))
            elif op < 0.75:
                session.execute(updw, ("u%d" % rnd.randrange(100), k, c))
            elif op < 0.85:
                session.execute(delv, (k, c))
            elif op < 0.97:
                session.execute(delr, (k, c))
            else:
                session.execute(delp, (k,))
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(repr(e))


def hammer(sessions):
    stop = threading.Event()
    errors = []
    threads = [threading.Thread(target=writer, args=(sessions[i % len(sessions)], stop, errors, i))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(DURATION)
    stop.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a writer did not stop"
    assert not errors, errors[:5]


@pytest.mark.restart
def test_concurrent_writers_then_restart(make_server, connect):
    srv = make_server(shards=2)
    s = connect(srv)
    setup(s)
    # several connections, so requests start on both shards
    sessions = [connect(srv) for _ in range(4)]
    hammer(sessions)
    base = check_views(s)
    assert base, "the writers left no rows at all"

    srv.restart()
    s = connect(srv)
    assert check_views(s) == base

    # more writes after the restart, then a crash
    hammer([connect(srv) for _ in range(2)])
    base = check_views(s)
    srv.restart(kill=True)
    s = connect(srv)
    assert check_views(s) == base


def test_build_from_existing_rows_and_ttl(make_server, connect):
    srv = make_server(shards=2)
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (k int, c int, v int, w text, PRIMARY KEY (k, c))" % KS)
    ins = s.prepare("INSERT INTO %s.t (k, c, v, w) VALUES (?, ?, ?, ?)" % KS)
    for i in range(500):
        s.execute(ins, (i % 50, i, i % 7 if i % 5 else None, "w%d" % i))
    s.execute("CREATE MATERIALIZED VIEW %s.by_v AS SELECT k, c, v, w FROM %s.t WHERE v IS NOT NULL "
              "AND k IS NOT NULL AND c IS NOT NULL PRIMARY KEY (v, k, c)" % (KS, KS))
    s.execute("CREATE MATERIALIZED VIEW %s.by_k AS SELECT k, c, v FROM %s.t WHERE c IS NOT NULL "
              "AND k IS NOT NULL PRIMARY KEY (c, k)" % (KS, KS))
    s.execute("CREATE MATERIALIZED VIEW %s.big_c AS SELECT k, c, w FROM %s.t WHERE k IN (1, 2, 3) "
              "AND c > 100 PRIMARY KEY (c, k)" % (KS, KS))
    check_views(s)  # built before CREATE answered
    check_big_c(s)
    # TTL: view rows expire with the base cells
    s.execute("INSERT INTO %s.t (k, c, v, w) VALUES (1000, 1, 1003, 'short') USING TTL 1" % KS)
    s.execute("UPDATE %s.t USING TTL 1 SET v = 1004 WHERE k = 1001 AND c = 1" % KS)
    assert len(list(s.execute("SELECT * FROM %s.by_v WHERE v = 1003 AND k = 1000" % KS))) == 1
    time.sleep(2.5)
    assert not list(s.execute("SELECT * FROM %s.by_v WHERE v = 1003 AND k = 1000" % KS))
    assert not list(s.execute("SELECT * FROM %s.by_v WHERE v = 1004" % KS))
    check_views(s)
    # LWT, a conditional batch and a logged batch over two partitions
    s.execute("UPDATE %s.t SET v = 1005 WHERE k = 3 AND c = 3 IF EXISTS" % KS)
    s.execute("BEGIN BATCH UPDATE %s.t SET v = 1006 WHERE k = 4 AND c = 4 IF EXISTS "
              "UPDATE %s.t SET w = 'cb' WHERE k = 4 AND c = 54 APPLY BATCH" % (KS, KS))
    s.execute("BEGIN BATCH UPDATE %s.t SET v = 1007 WHERE k = 5 AND c = 5 "
              "DELETE FROM %s.t WHERE k = 6 APPLY BATCH" % (KS, KS))
    assert len(list(s.execute("SELECT * FROM %s.by_v WHERE v = 1006" % KS))) == 1
    check_views(s)
    s.execute("UPDATE %s.t SET w = 'moved' WHERE k = 2 AND c = 502" % KS)
    s.execute("DELETE FROM %s.t WHERE k = 1" % KS)
    check_big_c(s)
    # the definitions (restrictions included) survive a restart
    srv.restart()
    s = connect(srv)
    check_views(s)
    check_big_c(s)
    s.execute("INSERT INTO %s.t (k, c, v, w) VALUES (3, 700, 1, 'after')" % KS)
    s.execute("INSERT INTO %s.t (k, c, v, w) VALUES (4, 700, 1, 'not in')" % KS)
    check_big_c(s)


def check_big_c(s):
    want = sorted((c, k, w) for (k, c), (_, w) in base_rows(s).items()
                  if k in (1, 2, 3) and c > 100)
    got = sorted((r.c, r.k, r.w) for r in s.execute("SELECT c, k, w FROM %s.big_c" % KS))
    assert got == want, "big_c differs from the filtered projection of t"


def test_build_in_pages(make_server, connect):
    """CREATE over more rows than one build page per shard (2048), with one
    partition larger than a page: every row is in the view."""
    from cassandra.concurrent import execute_concurrent_with_args
    srv = make_server(shards=2)
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (k int, c int, v int, w text, PRIMARY KEY (k, c))" % KS)
    ins = s.prepare("INSERT INTO %s.t (k, c, v, w) VALUES (?, ?, ?, ?)" % KS)
    rows = [(0, i, i % 11, "big%d" % i) for i in range(3000)]
    rows += [(k, 1, k % 13, "p%d" % k) for k in range(1, 6001)]
    res = execute_concurrent_with_args(s, ins, rows, concurrency=64, raise_on_first_error=True)
    assert all(ok for ok, _ in res)
    s.execute("CREATE MATERIALIZED VIEW %s.by_v AS SELECT k, c, v, w FROM %s.t WHERE v IS NOT NULL "
              "AND k IS NOT NULL AND c IS NOT NULL PRIMARY KEY (v, k, c)" % (KS, KS))
    s.execute("CREATE MATERIALIZED VIEW %s.by_k AS SELECT k, c, v FROM %s.t WHERE c IS NOT NULL "
              "AND k IS NOT NULL PRIMARY KEY (c, k)" % (KS, KS))
    base = check_views(s)
    assert len(base) == 9000


@pytest.mark.crash
@pytest.mark.parametrize("when", [1.5, 2.7])
def test_kill_during_writes(make_server, connect, when):
    """kill -9 while 20 writers overwrite and delete base rows: after the
    restart (commitlog and batchlog replay) the views equal the projection
    of the base exactly. Each write to a table with views is in its shard's
    batchlog, with the view rows it replaces, before it is applied."""
    srv = make_server(shards=2)
    s = connect(srv)
    setup(s)
    sessions = [connect(srv) for _ in range(4)]
    stop = threading.Event()
    errors = []
    threads = [threading.Thread(target=writer, args=(sessions[i % 4], stop, errors, i))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(when)
    srv.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a writer did not stop"
    srv.start()
    check_views(connect(srv))


def test_create_while_writing(make_server, connect):
    """CREATE MATERIALIZED VIEW (and a second one) while 20 writers keep
    overwriting the base: writes analysed before the view existed but
    applied after the build passed their rows still reach the view."""
    srv = make_server(shards=2)
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (k int, c int, v int, w text, PRIMARY KEY (k, c))" % KS)
    sessions = [connect(srv) for _ in range(4)]
    stop = threading.Event()
    errors = []
    threads = [threading.Thread(target=writer, args=(sessions[i % 4], stop, errors, i))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    s.execute("CREATE MATERIALIZED VIEW %s.by_v AS SELECT k, c, v, w FROM %s.t WHERE v IS NOT NULL "
              "AND k IS NOT NULL AND c IS NOT NULL PRIMARY KEY (v, k, c)" % (KS, KS))
    time.sleep(0.5)
    s.execute("CREATE MATERIALIZED VIEW %s.by_k AS SELECT k, c, v FROM %s.t WHERE c IS NOT NULL "
              "AND k IS NOT NULL PRIMARY KEY (c, k)" % (KS, KS))
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    check_views(s)
