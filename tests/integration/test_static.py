"""Static columns through the driver (answers as Cassandra 5.0.9 gave them
for the same statements): a partition's static values on every row, a
partition with static values and no rows as one row of nulls, writes of
statics with the partition key alone, range deletions that leave statics
alone, DISTINCT, filtering, and paging through all of it at several page
sizes, in lookups and in full scans."""

import pytest
from cassandra import InvalidRequest
from cassandra.query import SimpleStatement


@pytest.fixture
def st(session, keyspace):
    t = keyspace + ".s"
    session.execute("CREATE TABLE %s (k int, c int, s text static, v int, PRIMARY KEY (k, c))" % t)
    session.execute("INSERT INTO %s (k, c, s, v) VALUES (1, 1, 'a', 10)" % t)
    session.execute("INSERT INTO %s (k, c, v) VALUES (1, 2, 20)" % t)
    session.execute("INSERT INTO %s (k, s) VALUES (2, 'only')" % t)
    session.execute("UPDATE %s SET s = 'b' WHERE k = 3" % t)
    session.execute("INSERT INTO %s (k, c, v) VALUES (3, 5, 50)" % t)
    return t


def rows(session, q, fetch=5000):
    return [tuple(r) for r in session.execute(SimpleStatement(q, fetch_size=fetch))]


@pytest.mark.parametrize("fetch", [1, 2, 3, 5000])
def test_static_reads(session, st, fetch):
    assert sorted(rows(session, "SELECT k, c, s, v FROM %s" % st, fetch)) == [
        (1, 1, "a", 10), (1, 2, "a", 20), (2, None, "only", None), (3, 5, "b", 50)]
    assert rows(session, "SELECT k, c, s, v FROM %s WHERE k = 1" % st, fetch) == [
        (1, 1, "a", 10), (1, 2, "a", 20)]
    assert rows(session, "SELECT k, c, s, v FROM %s WHERE k = 1 ORDER BY c DESC" % st, fetch) == [
        (1, 2, "a", 20), (1, 1, "a", 10)]
    assert rows(session, "SELECT k, c, s, v FROM %s WHERE k = 2" % st, fetch) == [
        (2, None, "only", None)]
    assert rows(session, "SELECT * FROM %s WHERE k = 2 AND c = 2" % st, fetch) == []
    assert sorted(rows(session, "SELECT k, c, s, v FROM %s WHERE k IN (1, 2)" % st, fetch)) == [
        (1, 1, "a", 10), (1, 2, "a", 20), (2, None, "only", None)]
    assert sorted(rows(session, "SELECT DISTINCT k, s FROM %s" % st, fetch)) == [
        (1, "a"), (2, "only"), (3, "b")]
    assert rows(session, "SELECT count(*) FROM %s" % st, fetch) == [(4,)]


def test_static_writes(session, st):
    with pytest.raises(InvalidRequest, match="Some clustering keys are missing: c"):
        session.execute("INSERT INTO %s (k, s, v) VALUES (4, 'x', 1)" % st)
    session.execute("DELETE FROM %s WHERE k = 1 AND c < 2" % st)
    assert rows(session, "SELECT k, c, s, v FROM %s WHERE k = 1" % st) == [(1, 2, "a", 20)]
    session.execute("DELETE s FROM %s WHERE k = 1" % st)
    assert rows(session, "SELECT k, c, s, v FROM %s WHERE k = 1" % st) == [(1, 2, None, 20)]
    session.execute("UPDATE %s SET s = null WHERE k = 2" % st)
    assert rows(session, "SELECT * FROM %s WHERE k = 2" % st) == []
    assert rows(session, "SELECT k, c FROM %s WHERE s = 'b' ALLOW FILTERING" % st) == [(3, 5)]
    with pytest.raises(InvalidRequest, match="Static columns are only useful"):
        session.execute("CREATE TABLE %s_bad (k int PRIMARY KEY, s int static)" % st)


def test_static_survives_flush_and_restart(flushing_server, connect):
    srv, s = flushing_server
    s.execute("CREATE TABLE k1.t (k int, c int, s int static, v int, PRIMARY KEY (k, c))")
    for i in range(300):
        s.execute("INSERT INTO k1.t (k, c, s, v) VALUES (%d, %d, %d, %d)" % (i % 3, i, i, i))

    def check(sess):
        got = sorted((r.k, r.s) for r in sess.execute("SELECT DISTINCT k, s FROM k1.t"))
        assert got == [(0, 297), (1, 298), (2, 299)]
        assert len(list(sess.execute("SELECT * FROM k1.t WHERE k = 1"))) == 100

    check(s)
    srv.stop()
    srv.start()
    check(connect(srv))
