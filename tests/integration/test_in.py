"""IN relations on partition and clustering columns through the driver.

Cassandra 5.0 returns the partitions of a partition-key IN in the order of
the key values (not of their tokens), without duplicates, each partition's rows in clustering order (IN values on
clustering columns are sorted and deduplicated too), and pages through them
like any other query; these tests check that for several page sizes, with
PER PARTITION LIMIT, LIMIT, prepared `IN ?` markers, composite keys and
ORDER BY (refused with Cassandra's message when paging).
"""

import pytest
from cassandra import InvalidRequest
from cassandra.metadata import Murmur3Token
from cassandra.query import SimpleStatement


@pytest.fixture
def grid(session, keyspace):
    t = keyspace + ".g"
    session.execute("CREATE TABLE %s (k int, c int, d text, v int, PRIMARY KEY (k, c, d))" % t)
    ins = session.prepare("INSERT INTO %s (k, c, d, v) VALUES (?, ?, ?, ?)" % t)
    for k in range(6):
        for c in range(5):
            for d in ("a", "b"):
                session.execute(ins, (k, c, d, k * 100 + c))
    return t


def token(k):
    return Murmur3Token.from_key(k.to_bytes(4, "big", signed=True)).value


def rows(session, q, fetch_size=5000, params=None):
    st = SimpleStatement(q, fetch_size=fetch_size) if params is None else q
    return [tuple(r) for r in session.execute(st, params)]


def expected(ks, cs, ds=("a", "b"), ppl=None):
    out = []
    for k in sorted(set(ks)):
        part = [(k, c, d) for c in sorted(set(cs)) for d in ds]
        out.extend(part[:ppl] if ppl else part)
    return out


@pytest.mark.parametrize("fetch", [1, 2, 3, 7, 5000])
def test_in_paging(session, grid, fetch):
    q = "SELECT k, c, d FROM %s WHERE k IN (5, 0, 3, 0) AND c IN (4, 1, 2, 1)" % grid
    assert rows(session, q, fetch) == expected([5, 0, 3], [4, 1, 2])
    q += " PER PARTITION LIMIT 3"
    assert rows(session, q, fetch) == expected([5, 0, 3], [4, 1, 2], ppl=3)
    q = "SELECT k, c, d FROM %s WHERE k IN (1, 2) LIMIT 7" % grid
    assert rows(session, q, fetch) == expected([1, 2], range(5))[:7]


def test_in_markers_and_order(session, grid):
    prep = session.prepare("SELECT k, c, d FROM %s WHERE k IN ? AND c IN ? AND d = ?" % grid)
    assert rows(session, prep, params=([4, 2], [3, 0], "b")) == expected([4, 2], [3, 0], ("b",))
    assert rows(session, prep, params=([], [1], "a")) == []
    q = "SELECT k, c, d FROM %s WHERE k = 2 AND c IN (1, 3) ORDER BY c DESC" % grid
    assert rows(session, q) == [(2, 3, "b"), (2, 3, "a"), (2, 1, "b"), (2, 1, "a")]
    with pytest.raises(InvalidRequest, match="Cannot page queries with both ORDER BY and a IN "
                                             "restriction on the partition key"):
        rows(session, "SELECT k FROM %s WHERE k IN (1, 2) ORDER BY c DESC" % grid)
    assert session.execute("SELECT count(*) FROM %s WHERE k IN (1, 2, 3)" % grid).one()[0] == 30


def test_in_writes(session, grid):
    """UPDATE and DELETE with IN on key columns write every combination;
    conditional updates refuse IN with Cassandra's message."""
    session.execute("UPDATE %s SET v = -1 WHERE k IN (1, 2) AND c IN (0, 4) AND d = 'a'" % grid)
    got = sorted(tuple(r) for r in session.execute("SELECT k, c FROM %s WHERE k IN (1, 2) AND "
                                                   "c IN (0, 4) AND d = 'a' AND v = -1 "
                                                   "ALLOW FILTERING" % grid))
    assert got == [(1, 0), (1, 4), (2, 0), (2, 4)]
    session.execute("DELETE FROM %s WHERE k IN (3, 4)" % grid)
    assert rows(session, "SELECT k FROM %s WHERE k IN (3, 4)" % grid) == []
    prep = session.prepare("DELETE FROM %s WHERE k = ? AND c IN ?" % grid)
    session.execute(prep, (5, [1, 2]))
    assert sorted(r[0] for r in rows(session, "SELECT c FROM %s WHERE k = 5" % grid)) == [
        0, 0, 3, 3, 4, 4]
    with pytest.raises(InvalidRequest, match="IN on the partition key is not supported with "
                                             "conditional updates"):
        session.execute("UPDATE %s SET v = 1 WHERE k IN (1, 2) AND c = 1 AND d = 'a' IF v = 1"
                        % grid)


def test_multi_column_in_prepared(session, grid):
    """(c, d) IN ? bound to a list of tuples, tuple markers, and markers
    inside tuple literals: the rows in clustering order, deduplicated; an
    UPDATE and a DELETE through (c, d) IN write exactly those rows."""
    want = [(2, 1, "a", 201), (2, 3, "b", 203), (2, 4, "a", 204)]
    tuples = [(4, "a"), (1, "a"), (3, "b"), (1, "a"), (9, "z")]
    whole = session.prepare("SELECT * FROM %s WHERE k = ? AND (c, d) IN ?" % grid)
    assert rows(session, whole, params=(2, tuples)) == want
    assert rows(session, whole, params=(2, [])) == []
    marks = session.prepare("SELECT * FROM %s WHERE k = ? AND (c, d) IN (?, ?, ?)" % grid)
    assert rows(session, marks, params=(2, (3, "b"), (4, "a"), (1, "a"))) == want
    inner = session.prepare("SELECT v FROM %s WHERE k IN ? AND (c, d) IN ((?, ?), (1, 'b'))" % grid)
    assert rows(session, inner, params=([3, 1], 0, "a")) == [(100,), (101,), (300,), (301,)]
    st = session.prepare("SELECT * FROM %s WHERE k = ? AND (c, d) IN ? AND v > ? ALLOW FILTERING"
                         % grid)
    assert rows(session, st, params=(2, tuples, 201)) == want[1:]
    for fs in (1, 2):
        page = SimpleStatement("SELECT * FROM %s WHERE k IN (2, 5) AND (c, d) IN "
                               "((4, 'a'), (1, 'a'), (3, 'b'))" % grid, fetch_size=fs)
        assert [tuple(r) for r in session.execute(page)] == want + [
            (5, 1, "a", 501), (5, 3, "b", 503), (5, 4, "a", 504)]
    with pytest.raises(InvalidRequest, match="Invalid null value for column d"):
        session.execute(whole, (2, [(1, None)]))
    upd = session.prepare("UPDATE %s SET v = ? WHERE k = ? AND (c, d) IN ?" % grid)
    session.execute(upd, (-1, 4, [(0, "b"), (2, "a")]))
    assert rows(session, "SELECT c, d, v FROM %s WHERE k = 4 AND v < 0 ALLOW FILTERING" % grid) \
        == [(0, "b", -1), (2, "a", -1)]
    session.execute("DELETE FROM %s WHERE k = 4 AND (c, d) IN ((0, 'b'), (3, 'a'))" % grid)
    assert rows(session, "SELECT c, d FROM %s WHERE k = 4 AND c IN (0, 3)" % grid) == [
        (0, "a"), (3, "b")]


def test_multi_column_in_filtering(session, grid):
    """Without the partition key, (c, d) IN filters every partition's rows
    (ALLOW FILTERING), and is refused without it as Cassandra does."""
    st = session.prepare("SELECT k, c, d FROM %s WHERE (c, d) IN ? ALLOW FILTERING" % grid)
    got = rows(session, st, params=([(4, "b"), (0, "a"), (7, "a")],))
    assert sorted(got) == sorted([(k, 0, "a") for k in range(6)] + [(k, 4, "b") for k in range(6)])
    assert sorted(rows(session, "SELECT k FROM %s WHERE (c, d) IN ((1, 'a')) AND v < 300 "
                       "ALLOW FILTERING" % grid, fetch_size=2)) == [(0,), (1,), (2,)]
    with pytest.raises(InvalidRequest, match="ALLOW FILTERING"):
        session.execute("SELECT * FROM %s WHERE (c, d) IN ((1, 'a'))" % grid)
