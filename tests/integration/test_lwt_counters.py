"""Lightweight transactions and counters through the Python driver.

What: INSERT ... IF NOT EXISTS, UPDATE/DELETE ... IF EXISTS and IF
conditions with the [applied] column and the current values Cassandra
returns when a condition fails; counter tables (increments, decrements,
the rules that forbid setting, TTLs, timestamps and INSERT on them); and
the concurrency guarantees: 50 concurrent clients doing compare-and-set
increments end at the exact count, and concurrent counter increments are
never lost. Both run against a 2-shard server, so most requests reach
their partition's shard by a cross-shard message.
"""

import threading
import time

import pytest
from cassandra import InvalidRequest


@pytest.fixture
def lwt(session, keyspace):
    session.execute("CREATE TABLE %s.l (k int, c int, v int, w text, m map<text, int>, "
                    "PRIMARY KEY (k, c))" % keyspace)
    return keyspace + ".l"


def test_insert_if_not_exists(session, lwt):
    r = session.execute("INSERT INTO %s (k, c, v, w) VALUES (1, 1, 10, 'x') IF NOT EXISTS" % lwt)
    assert r.was_applied
    r = session.execute("INSERT INTO %s (k, c, v, w) VALUES (1, 1, 11, 'y') IF NOT EXISTS" % lwt)
    assert not r.was_applied
    row = r.one()
    assert (row.k, row.c, row.v, row.w) == (1, 1, 10, "x")
    assert session.execute("SELECT v FROM %s WHERE k = 1 AND c = 1" % lwt).one().v == 10


def test_update_conditions(session, lwt):
    session.execute("INSERT INTO %s (k, c, v, w, m) VALUES (1, 1, 10, 'x', {'a': 1})" % lwt)
    r = session.execute("UPDATE %s SET v = 12 WHERE k = 1 AND c = 1 IF v = 10" % lwt)
    assert r.was_applied
    r = session.execute("UPDATE %s SET v = 13 WHERE k = 1 AND c = 1 IF v = 10" % lwt)
    assert not r.was_applied and r.one().v == 12
    assert session.execute("UPDATE %s SET v = 14 WHERE k = 1 AND c = 1 IF v > 5 AND w = 'x' "
                           "AND m['a'] = 1" % lwt).was_applied
    assert not session.execute("UPDATE %s SET v = 1 WHERE k = 1 AND c = 1 IF v IN (1, 2)"
                               % lwt).was_applied
    assert not session.execute("UPDATE %s SET v = 1 WHERE k = 1 AND c = 2 IF EXISTS"
                               % lwt).was_applied
    # a missing row: "= null" holds
    assert session.execute("UPDATE %s SET v = 1 WHERE k = 1 AND c = 3 IF v = null"
                           % lwt).was_applied
    assert session.execute("DELETE FROM %s WHERE k = 1 AND c = 1 IF v IN (1, 14)"
                           % lwt).was_applied
    assert session.execute("SELECT * FROM %s WHERE k = 1 AND c = 1" % lwt).one() is None
    prep = session.prepare("UPDATE %s SET w = ? WHERE k = ? AND c = ? IF w = ?" % lwt)
    assert session.execute(prep, ("b", 1, 3, None)).was_applied
    assert not session.execute(prep, ("c", 1, 3, "zz")).was_applied
    with pytest.raises(InvalidRequest, match="Cannot provide custom timestamp for conditional "
                                             "updates"):
        session.execute("UPDATE %s USING TIMESTAMP 5 SET v = 1 WHERE k = 1 AND c = 1 IF EXISTS"
                        % lwt)
    with pytest.raises(InvalidRequest, match="PRIMARY KEY column 'c' cannot have IF conditions"):
        session.execute("UPDATE %s SET v = 1 WHERE k = 1 AND c = 1 IF c = 1" % lwt)


def test_compare_and_set_50_clients(session, keyspace):
    """50 clients increment one value by compare-and-set; none is lost."""
    session.execute("CREATE TABLE %s.cas (k int PRIMARY KEY, v int)" % keyspace)
    session.execute("INSERT INTO %s.cas (k, v) VALUES (0, 0)" % keyspace)
    read = session.prepare("SELECT v FROM %s.cas WHERE k = 0" % keyspace)
    cas = session.prepare("UPDATE %s.cas SET v = ? WHERE k = 0 IF v = ?" % keyspace)
    clients, each = 50, 4
    deadline = time.monotonic() + 90
    errors, done = [], [0] * clients

    def client(i):
        try:
            while done[i] < each and time.monotonic() < deadline:
                cur = session.execute(read).one().v
                if session.execute(cas, (cur + 1, cur)).was_applied:
                    done[i] += 1
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert sum(done) == clients * each, "clients did not finish in time: %r" % done
    assert session.execute(read).one().v == clients * each


def test_counters(session, keyspace):
    t = keyspace + ".cnt"
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, a counter, b counter)" % t)
    session.execute("UPDATE %s SET a = a + 5 WHERE k = 1" % t)
    session.execute("UPDATE %s SET a = a - 2, b = b + 1 WHERE k = 1" % t)
    row = session.execute("SELECT a, b FROM %s WHERE k = 1" % t).one()
    assert (row.a, row.b) == (3, 1)
    inc = session.prepare("UPDATE %s SET a = a + ? WHERE k = ?" % t)
    futures = [session.execute_async(inc, (1, i % 7)) for i in range(700)]
    for f in futures:
        f.result()
    got = {r.k: r.a for r in session.execute("SELECT k, a FROM %s" % t)}
    assert sum(got.values()) == 700 + 3
    assert got[1] == 100 + 3
    session.execute("DELETE FROM %s WHERE k = 2" % t)
    assert session.execute("SELECT a FROM %s WHERE k = 2" % t).one() is None
    for stmt, msg in [
        ("INSERT INTO %s (k, a) VALUES (9, 1)" % t,
         "INSERT statements are not allowed on counter tables, use UPDATE instead"),
        ("UPDATE %s SET a = 3 WHERE k = 1" % t,
         r"Cannot set the value of counter column a \(counters can only be "
         r"incremented/decremented, not set\)"),
        ("UPDATE %s USING TTL 3 SET a = a + 1 WHERE k = 1" % t,
         "Cannot provide custom TTL for counter updates"),
        ("UPDATE %s USING TIMESTAMP 3 SET a = a + 1 WHERE k = 1" % t,
         "Cannot provide custom timestamp for counter updates"),
        ("CREATE TABLE %s_mix (k int PRIMARY KEY, a counter, b int)" % t,
         "Cannot mix counter and non counter columns in the same table"),
    ]:
        with pytest.raises(InvalidRequest, match=msg):
            session.execute(stmt)


def test_counter_batches_through_the_protocol(session, keyspace):
    """COUNTER and UNLOGGED batches of prepared counter UPDATEs (the BATCH
    message), from concurrent clients: every increment counts once; the
    batch kinds Cassandra refuses are refused with its words."""
    from cassandra.query import BatchStatement, BatchType
    t = keyspace + ".cb"
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, c counter, d counter)" % t)
    session.execute("CREATE TABLE %s_plain (k int PRIMARY KEY, v int)" % t)
    inc = session.prepare("UPDATE %s SET c = c + ?, d = d + 1 WHERE k = ?" % t)
    plain = session.prepare("UPDATE %s_plain SET v = 1 WHERE k = ?" % t)
    errors = []

    def client(n):
        try:
            for i in range(40):
                b = BatchStatement(batch_type=BatchType.COUNTER if i % 2 else BatchType.UNLOGGED)
                for k in range(5):
                    b.add(inc, (k + 1, k))
                session.execute(b)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    rows = {r.k: (r.c, r.d) for r in session.execute("SELECT k, c, d FROM %s" % t)}
    assert rows == {k: (8 * 40 * (k + 1), 8 * 40) for k in range(5)}
    b = BatchStatement(batch_type=BatchType.LOGGED)
    b.add(inc, (1, 0))
    with pytest.raises(InvalidRequest, match="Cannot include a counter statement in a logged batch"):
        session.execute(b)
    b = BatchStatement(batch_type=BatchType.UNLOGGED)
    b.add(inc, (1, 0))
    b.add(plain, (1,))
    with pytest.raises(InvalidRequest,
                       match="Counter and non-counter mutations cannot exist in the same batch"):
        session.execute(b)
    b = BatchStatement(batch_type=BatchType.COUNTER)
    b.add(plain, (1,))
    with pytest.raises(InvalidRequest, match="Cannot include non-counter statement in a counter batch"):
        session.execute(b)
    assert session.execute("SELECT c FROM %s WHERE k = 0" % t).one().c == 320


def test_conditional_batches_from_concurrent_clients(session, keyspace):
    """Compare-and-set through conditional BATCHes on two rows of one
    partition (both conditions must hold), from 10 clients: every applied
    batch moved both rows together, none was lost, and the rows never
    drifted apart."""
    t = keyspace + ".cbat"
    session.execute("CREATE TABLE %s (p int, c int, v int, PRIMARY KEY (p, c))" % t)
    session.execute("INSERT INTO %s (p, c, v) VALUES (1, 1, 0)" % t)
    session.execute("INSERT INTO %s (p, c, v) VALUES (1, 2, 0)" % t)
    get = session.prepare("SELECT c, v FROM %s WHERE p = 1" % t)
    cas = session.prepare(
        "BEGIN BATCH UPDATE %s SET v = ? WHERE p = 1 AND c = 1 IF v = ?; "
        "UPDATE %s SET v = ? WHERE p = 1 AND c = 2 IF v = ?; APPLY BATCH" % (t, t))
    applied = []
    errors = []

    def client():
        try:
            done = 0
            while done < 15:
                rows = {r.c: r.v for r in session.execute(get)}
                a, b = rows[1], rows[2]
                if session.execute(cas, (a + 1, a, b + 1, b)).one()[0]:
                    done += 1
            applied.append(done)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(90)
    assert not errors, errors
    rows = {r.c: r.v for r in session.execute(get)}
    assert rows == {1: 150, 2: 150}


def test_list_element_compare_and_set_from_concurrent_clients(session, keyspace):
    """Compare-and-set on a list element (IF l[1] = ? ... SET l[1] = ?) and
    a conditional append-then-remove, from 12 clients: the element update
    is resolved on the shard in the same step as the condition, so no
    increment is lost and the list keeps its length."""
    t = keyspace + ".lcas"
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, l list<int>, n int)" % t)
    session.execute("INSERT INTO %s (k, l, n) VALUES (1, [-1, 0, -1], 0)" % t)
    get = session.prepare("SELECT l, n FROM %s WHERE k = 1" % t)
    cas = session.prepare("UPDATE %s SET l[1] = ?, n = ? WHERE k = 1 IF l[1] = ?" % t)
    clients, each = 12, 10
    deadline = time.monotonic() + 90
    errors, done = [], [0] * clients

    def client(i):
        try:
            while done[i] < each and time.monotonic() < deadline:
                cur = session.execute(get).one().l[1]
                if session.execute(cas, (cur + 1, cur + 1, cur)).was_applied:
                    done[i] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    assert sum(done) == clients * each, "clients did not finish in time: %r" % done
    row = session.execute(get).one()
    assert row.l == [-1, clients * each, -1]
    assert row.n == clients * each
