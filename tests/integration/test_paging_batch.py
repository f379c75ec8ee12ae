"""Paging (page_size / paging_state, driver fetch_size) and BATCH (logged,
unlogged, prepared and unprepared statements mixed) through the Python
driver, against the shared 2-shard server; and (marked crash) batches and
range deletions replayed after kill -9."""

import struct

import pytest
from cassandra import InvalidRequest
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.metadata import Murmur3Token
from cassandra.query import BatchStatement, BatchType, SimpleStatement

ROWS = 20000
PARTS = 2000  # 10 rows each


def tok(k):
    return Murmur3Token.from_key(struct.pack(">i", k)).value


@pytest.fixture
def big(session, keyspace):
    t = "%s.big" % keyspace
    session.execute("CREATE TABLE %s (k int, c int, v text, PRIMARY KEY (k, c))" % t)
    ins = session.prepare("INSERT INTO %s (k, c, v) VALUES (?, ?, ?)" % t)
    res = execute_concurrent_with_args(
        session, ins, [(i // 10, i % 10, "v%d" % i) for i in range(ROWS)], concurrency=100)
    assert all(ok for ok, _ in res)
    return t


def test_fetch_size_20000_rows_with_inserts(session, big):
    """20,000 rows over 2 shards, 1000 per page, while other rows are
    written between pages: every row that existed before is returned
    exactly once, nothing twice, in token order."""
    ins = session.prepare("INSERT INTO %s (k, c, v) VALUES (?, ?, ?)" % big)
    rs = session.execute(SimpleStatement("SELECT k, c FROM %s" % big, fetch_size=1000))
    seen = []
    pages = 0
    extra = 0
    while True:
        page = rs.current_rows
        assert len(page) <= 1000
        seen.extend((r.k, r.c) for r in page)
        pages += 1
        # writes during paging: new partitions anywhere in the ring, and new
        # rows of partitions both already returned and still to come
        for i in range(20):
            session.execute(ins, (PARTS + pages * 100 + i, 0, "new"))
            session.execute(ins, ((pages * 37 + i * 101) % PARTS, 100 + pages, "new"))
            extra += 2
        if not rs.has_more_pages:
            break
        rs.fetch_next_page()
    assert pages >= ROWS // 1000
    assert len(seen) == len(set(seen)), "a row was returned twice"
    original = set((i // 10, i % 10) for i in range(ROWS))
    missing = original - set(seen)
    assert not missing, "%d original rows missing, e.g. %r" % (len(missing), sorted(missing)[:5])
    toks = [(tok(k), c) for k, c in seen]
    assert toks == sorted(toks), "rows not in (token, clustering) order"
    # the driver's transparent iteration sees the same
    n = sum(1 for _ in session.execute(SimpleStatement("SELECT k FROM %s" % big,
                                                       fetch_size=999)))
    assert n == ROWS + extra
    # aggregates ignore paging: one row
    rows = list(session.execute(SimpleStatement("SELECT count(*) FROM %s" % big,
                                                fetch_size=100)))
    assert len(rows) == 1 and rows[0][0] == ROWS + extra


def test_paging_state_resume_and_limit(session, keyspace):
    t = "%s.part" % keyspace
    session.execute("CREATE TABLE %s (k int, c int, v int, PRIMARY KEY (k, c)) "
                    "WITH CLUSTERING ORDER BY (c DESC)" % t)
    ins = session.prepare("INSERT INTO %s (k, c, v) VALUES (?, ?, ?)" % t)
    for c in range(250):
        session.execute(ins, (7, c, c))
    sel = session.prepare("SELECT c FROM %s WHERE k = ?" % t)
    sel.fetch_size = 100
    rs = session.execute(sel, (7,))
    assert [r.c for r in rs.current_rows] == list(range(249, 149, -1))
    assert rs.has_more_pages
    # a new request resumes from the paging state
    rs2 = session.execute(sel, (7,), paging_state=rs.paging_state)
    assert [r.c for r in rs2.current_rows] == list(range(149, 49, -1))
    rs3 = session.execute(sel, (7,), paging_state=rs2.paging_state)
    assert [r.c for r in rs3.current_rows] == list(range(49, -1, -1))
    assert not rs3.has_more_pages
    # ascending, a slice, and LIMIT across pages
    q = SimpleStatement("SELECT c FROM %s WHERE k = 7 AND c >= 10 ORDER BY c ASC LIMIT 35" % t,
                        fetch_size=10)
    got = [r.c for r in session.execute(q)]
    assert got == list(range(10, 45))
    # a paging state belongs to its query
    other = SimpleStatement("SELECT v FROM %s WHERE k = 7" % t, fetch_size=100)
    with pytest.raises(InvalidRequest, match="paging state"):
        session.execute(other, paging_state=rs.paging_state)
    # (a malformed paging state is a protocol error, as in Cassandra, which
    # makes the driver drop its connection: tested in tests/unit/test_exec.c)


def test_paging_distinct_and_token_ranges(session, big):
    parts = list(session.execute(SimpleStatement("SELECT DISTINCT k FROM %s" % big,
                                                 fetch_size=333)))
    assert len(parts) == PARTS
    assert sorted(r.k for r in parts) == list(range(PARTS))
    # Spark-style splits: token ranges covering the ring, each paged
    bounds = [-2**63, -2**62, 0, 2**62, 2**63 - 1]
    got = []
    for lo, hi in zip(bounds, bounds[1:]):
        st = SimpleStatement("SELECT k, c, token(k) FROM %s WHERE token(k) > %%s AND "
                             "token(k) <= %%s" % big, fetch_size=500)
        for r in session.execute(st, (lo, hi)):
            assert lo < r[2] <= hi
            assert r[2] == tok(r.k)
            got.append((r.k, r.c))
    assert len(got) == ROWS and len(set(got)) == ROWS


def test_paged_range_ending_at_a_partitions_token(session, keyspace):
    """A paged scan of (lo, hi] where hi is the token of a partition longer
    than a page: the pages inside that last partition resume up to hi and
    stop there (they once wrapped around the ring and returned the
    partitions after hi until the paging state was refused)."""
    t = "%s.edge" % keyspace
    session.execute("CREATE TABLE %s (k int, c int, PRIMARY KEY (k, c))" % t)
    ins = session.prepare("INSERT INTO %s (k, c) VALUES (?, ?)" % t)
    for k in range(6):
        for c in range(7):
            session.execute(ins, (k, c))
    order = sorted(range(6), key=tok)
    for i in range(6):
        hi = tok(order[i])
        for lo_i in (-1, 0, i - 1):
            lo = -2 ** 63 if lo_i < 0 else tok(order[lo_i])
            want = [(k, c) for k in order if lo < tok(k) <= hi for c in range(7)]
            for fs in (1, 3, 7, 8):
                q = SimpleStatement("SELECT k, c FROM %s WHERE token(k) > %d AND token(k) <= %d"
                                    % (t, lo, hi), fetch_size=fs)
                assert [tuple(r) for r in session.execute(q)] == want, (i, lo_i, fs)


def test_group_by_pages_hold_groups(session, keyspace):
    """GROUP BY pages count groups, not rows (as Cassandra 5.0): a group
    larger than the page comes whole, a group is never split between two
    pages, LIMIT and PER PARTITION LIMIT count groups across pages, and a
    page holding the last group has no paging state."""
    t = "%s.gb" % keyspace
    session.execute("CREATE TABLE %s (k int, c int, d int, v int, PRIMARY KEY (k, c, d))" % t)
    ins = session.prepare("INSERT INTO %s (k, c, d, v) VALUES (?, ?, ?, ?)" % t)
    # partition k has k + 1 groups c = 0..k, group c has 3 * c + 1 rows
    data = [(k, c, d, k + c + d) for k in range(8) for c in range(k + 1) for d in range(3 * c + 1)]
    res = execute_concurrent_with_args(session, ins, data, concurrency=50)
    assert all(ok for ok, _ in res)
    order = sorted(range(8), key=tok)
    groups = [(k, c, 3 * c + 1, sum(k + c + d for d in range(3 * c + 1)))
              for k in order for c in range(k + 1)]
    q = "SELECT k, c, count(*), sum(v) FROM %s GROUP BY k, c" % t
    for fs in (1, 2, 5, 7, 36, 1000):
        rs = session.execute(SimpleStatement(q, fetch_size=fs))
        pages = [list(map(tuple, rs.current_rows))]
        while rs.has_more_pages:
            rs.fetch_next_page()
            pages.append(list(map(tuple, rs.current_rows)))
        assert [g for p in pages for g in p] == groups, fs
        assert all(len(p) == fs for p in pages[:-1]) and 0 < len(pages[-1]) <= fs, (fs, pages)
    rs = list(session.execute(SimpleStatement(q + " LIMIT 10", fetch_size=3)))
    assert [tuple(r) for r in rs] == groups[:10]
    rs = list(session.execute(SimpleStatement(q + " PER PARTITION LIMIT 2", fetch_size=1)))
    assert [tuple(r) for r in rs] == [g for g in groups if g[1] < 2]
    one = "SELECT k, c, count(*) FROM %s WHERE k = 7 GROUP BY k, c" % t
    rs = list(session.execute(SimpleStatement(one, fetch_size=3)))
    assert [tuple(r) for r in rs] == [(7, c, 3 * c + 1) for c in range(8)]


def test_batches(session, keyspace):
    t = "%s.ev" % keyspace
    session.execute("CREATE TABLE %s (k int, seq int, note text, PRIMARY KEY (k, seq))" % t)
    ins = session.prepare("INSERT INTO %s (k, seq, note) VALUES (?, ?, ?)" % t)
    b = BatchStatement(batch_type=BatchType.LOGGED)
    for k in range(20):  # partitions on both shards
        b.add(ins, (k, 1, "p%d" % k))
        b.add(SimpleStatement("INSERT INTO %s (k, seq, note) VALUES (%%s, 2, %%s)" % t),
              (k, "s%d" % k))
    b.add(SimpleStatement("UPDATE %s SET note = 'updated' WHERE k = 3 AND seq = 1" % t))
    session.execute(b)
    rows = {(r.k, r.seq): r.note for r in session.execute("SELECT * FROM %s" % t)}
    assert len(rows) == 40
    assert rows[(3, 1)] == "updated" and rows[(4, 1)] == "p4" and rows[(19, 2)] == "s19"

    u = BatchStatement(batch_type=BatchType.UNLOGGED)
    u.add(ins, (100, 1, "a"))
    u.add(ins, (101, 1, "b"))
    u.add(SimpleStatement("DELETE FROM %s WHERE k = 0" % t))
    u.add(SimpleStatement("DELETE FROM %s WHERE k = 1 AND seq >= 2" % t))
    session.execute(u)
    assert [r.note for r in session.execute("SELECT note FROM %s WHERE k = 100" % t)] == ["a"]
    assert list(session.execute("SELECT * FROM %s WHERE k = 0" % t)) == []
    assert [r.seq for r in session.execute("SELECT seq FROM %s WHERE k = 1" % t)] == [1]

    # one timestamp for the whole batch: a delete beats an insert of it
    d = BatchStatement()
    d.add(ins, (200, 1, "x"))
    d.add(SimpleStatement("DELETE FROM %s WHERE k = 200" % t))
    session.execute(d)
    assert list(session.execute("SELECT * FROM %s WHERE k = 200" % t)) == []

    # only modifications, and a failing batch writes nothing
    bad = BatchStatement()
    bad.add(ins, (300, 1, "never"))
    bad.add(SimpleStatement("SELECT * FROM %s" % t))
    with pytest.raises(InvalidRequest, match="only UPDATE, INSERT and DELETE"):
        session.execute(bad)
    assert list(session.execute("SELECT * FROM %s WHERE k = 300" % t)) == []


@pytest.mark.crash
def test_batches_and_range_deletions_survive_kill9(make_server, connect):
    """Acknowledged batches (each shard's part is one commitlog record) and
    range tombstones are replayed after kill -9."""
    srv = make_server(sync="batch")
    s = connect(srv)
    s.execute("CREATE KEYSPACE kb WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("CREATE TABLE kb.t (k int, c int, v text, PRIMARY KEY (k, c))")
    ins = s.prepare("INSERT INTO kb.t (k, c, v) VALUES (?, ?, ?)")
    for round_ in range(10):
        b = BatchStatement(batch_type=BatchType.LOGGED if round_ % 2 else BatchType.UNLOGGED)
        for k in range(30):
            b.add(ins, (k, round_, "r%d" % round_))
        s.execute(b)
    d = BatchStatement()
    d.add(SimpleStatement("DELETE FROM kb.t WHERE k = 1 AND c >= 5"))
    d.add(SimpleStatement("DELETE FROM kb.t WHERE k = 2 AND c < 3"))
    s.execute(d)
    s.execute("DELETE FROM kb.t WHERE k = 3 AND c > 0 AND c <= 8")

    def state(sess):
        return sorted((r.k, r.c, r.v) for r in sess.execute(
            SimpleStatement("SELECT k, c, v FROM kb.t", fetch_size=77)))

    want = state(s)
    assert len(want) == 300 - 5 - 3 - 8
    srv.kill()
    s.cluster.shutdown()
    srv.check_sanitizers()
    srv.start()
    s = connect(srv)
    assert state(s) == want
