"""Native scalar functions in terms and selectors, as Cassandra 5.0 answers
them (checked statement by statement against a recorded Cassandra 5.0.9
session while writing this): now(), uuid(), toTimestamp/toDate/
toUnixTimestamp, minTimeuuid/maxTimeuuid, <type>AsBlob/blobAs<type>, the
vector similarity functions, and their type errors."""

import datetime
import uuid

import pytest
from cassandra import InvalidRequest


@pytest.fixture
def ftable(session, keyspace):
    t = keyspace + ".f"
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, u timeuuid, id uuid, ts timestamp, "
                    "d date, b blob, v vector<float, 3>)" % t)
    return t


def test_functions_in_terms(session, ftable):
    session.execute("INSERT INTO %s (k, u, id, ts, d, v) VALUES (1, now(), uuid(), "
                    "toTimestamp(now()), toDate(now()), [1.5, 2, -3])" % ftable)
    r = session.execute("SELECT u, id, ts, d FROM %s WHERE k = 1" % ftable).one()
    assert r.u.version == 1 and r.id.version == 4
    now = datetime.datetime.utcnow()
    assert abs((r.ts - now).total_seconds()) < 60
    prep = session.prepare("INSERT INTO %s (k, ts, d, b) VALUES (?, toTimestamp(?), ?, "
                           "intAsBlob(?))" % ftable)
    assert [c.name for c in prep.column_metadata][1] == "arg0(system.totimestamp)"
    tu = uuid.UUID("b4cc8000-a838-11ee-8080-808080808080")
    session.execute(prep, (2, tu, datetime.date(2024, 3, 4), 7))
    r = session.execute("SELECT toUnixTimestamp(ts), toDate(ts), blobAsInt(b), toTimestamp(d) "
                        "FROM %s WHERE k = 2" % ftable).one()
    assert r[0] == 1704067200000 and r[2] == 7
    assert r[3] == datetime.datetime(2024, 3, 4)
    r = session.execute("SELECT minTimeuuid('2024-01-01 00:00+0000'), "
                        "maxTimeuuid('2024-01-01 00:00+0000') FROM %s WHERE k = 2" % ftable).one()
    assert r[0] == tu and r[1] == uuid.UUID("b4cca70f-a838-11ee-7f7f-7f7f7f7f7f7f")
    rows = session.execute("SELECT k FROM %s WHERE u > minTimeuuid('2020-01-01 00:00+0000') "
                           "ALLOW FILTERING" % ftable)
    assert [x.k for x in rows] == [1]
    for stmt, msg in [
        ("INSERT INTO %s (k, ts) VALUES (3, now())" % ftable,
         "Type error: cannot assign result of function system.now (type timeuuid) to ts "
         "(type timestamp)"),
        ("INSERT INTO %s (k, u) VALUES (3, nosuch())" % ftable, "Unknown function nosuch called"),
        ("SELECT blobAsBigint(b) FROM %s WHERE k = 2" % ftable,
         "In call to function system.blobasbigint, value 0x00000007 is not a valid binary "
         "representation for type bigint"),
    ]:
        with pytest.raises(InvalidRequest) as e:
            session.execute(stmt)
        assert msg in str(e.value)


def test_similarity(session, ftable):
    session.execute("INSERT INTO %s (k, v) VALUES (1, [1.5, 2, -3])" % ftable)
    r = session.execute("SELECT similarity_cosine(v, [1, 2, 3]), similarity_euclidean(v, "
                        "[1, 2, 3]), similarity_dot_product(v, [1, 2, 3]) FROM %s WHERE k = 1"
                        % ftable)
    assert r.column_names == ["system.similarity_cosine(v, [1, 2, 3])",
                              "system.similarity_euclidean(v, [1, 2, 3])",
                              "system.similarity_dot_product(v, [1, 2, 3])"]
    # Cassandra 5.0.9's answers for the same row
    assert tuple(r.one()) == pytest.approx((0.38023245334625244, 0.02684563770890236, -1.25),
                                           rel=1e-6)


def test_sum_avg(session, keyspace):
    """sum/avg in the column's type: integer sums wrap, integer averages
    truncate, no rows give 0 (Cassandra 5.0.9's answers for these rows)."""
    t = keyspace + ".agg"
    session.execute("CREATE TABLE %s (k int, c int, i int, b bigint, t tinyint, f float, "
                    "d double, s text, PRIMARY KEY (k, c))" % t)
    session.execute("INSERT INTO %s (k, c, i, b, t, f, d) VALUES (1, 1, 2147483647, 5, 100, 1.5, "
                    "0.1)" % t)
    session.execute("INSERT INTO %s (k, c, i, b, t, f, d) VALUES (1, 2, 2, -7, 100, 2.25, 0.2)"
                    % t)
    session.execute("INSERT INTO %s (k, c, i) VALUES (1, 3, 4)" % t)
    r = session.execute("SELECT sum(i), avg(i), sum(b), avg(b), sum(t), avg(t), sum(f), avg(f), "
                        "sum(d), avg(d) FROM %s WHERE k = 1" % t).one()
    assert tuple(r) == (-2147483643, 715827884, -2, -1, -56, 100, 3.75, 1.875,
                        0.30000000000000004, 0.15000000000000002)
    assert tuple(session.execute("SELECT sum(i), avg(i), avg(d) FROM %s WHERE k = 9"
                                 % t).one()) == (0, 0, 0.0)
    with pytest.raises(InvalidRequest, match="Invalid call to function sum, none of its type "
                                             "signatures match"):
        session.execute("SELECT sum(s) FROM %s WHERE k = 1" % t)


def test_group_by(session, keyspace):
    """GROUP BY on primary-key prefixes (Cassandra 5.0.9's answers for these
    rows): per-group aggregates, the first row of each group for plain
    selectors, LIMIT counting groups, no group for no rows, and the errors."""
    t = keyspace + ".g"
    session.execute("CREATE TABLE %s (k int, c1 int, c2 int, v int, PRIMARY KEY (k, c1, c2))" % t)
    for row in [(1, 1, 1, 10), (1, 1, 2, 20), (1, 2, 1, 30), (2, 1, 1, 40), (3, 5, 5, 50)]:
        session.execute("INSERT INTO %s (k, c1, c2, v) VALUES (%d, %d, %d, %d)" % ((t,) + row))
    got = sorted(tuple(r) for r in session.execute("SELECT k, count(*), sum(v) FROM %s GROUP BY k"
                                                   % t))
    assert got == [(1, 3, 60), (2, 1, 40), (3, 1, 50)]
    got = [tuple(r) for r in session.execute("SELECT k, c1, count(*), max(v) FROM %s WHERE k = 1 "
                                             "GROUP BY k, c1" % t)]
    assert got == [(1, 1, 2, 20), (1, 2, 1, 30)]
    got = [tuple(r) for r in session.execute("SELECT k, c1, c2 FROM %s WHERE k = 1 GROUP BY k, c1"
                                             % t)]
    assert got == [(1, 1, 1), (1, 2, 1)]
    assert len(list(session.execute("SELECT k, count(*) FROM %s GROUP BY k LIMIT 2" % t))) == 2
    assert list(session.execute("SELECT count(*) FROM %s WHERE k = 9 GROUP BY k" % t)) == []
    for q, msg in [("GROUP BY c1", "Group by currently only support groups of columns following "
                                   "their declared order in the PRIMARY KEY"),
                   ("GROUP BY v", "Group by is currently only supported on the columns of the "
                                  "PRIMARY KEY, got v")]:
        with pytest.raises(InvalidRequest) as e:
            session.execute("SELECT k FROM %s %s" % (t, q))
        assert msg in str(e.value)


def test_select_json(session, keyspace):
    """SELECT JSON and toJson() (Cassandra 5.0.9's text for the same row)."""
    t = keyspace + ".j"
    session.execute('CREATE TABLE %s (k int PRIMARY KEY, "Big" text, b blob, bo boolean, '
                    "d double, ts timestamp, dt date, tm time, l list<int>, s set<text>, "
                    "mi map<int, text>, v vector<float, 2>)" % t)
    session.execute('INSERT INTO %s (k, "Big", b, bo, d, ts, dt, tm, l, s, mi, v) VALUES '
                    "(1, 'a\"b\\c', 0xcafe, true, 1.5, '2024-01-02 03:04:05.678+0000', "
                    "'2024-01-02', '03:04:05.123', [1, 2], {'x', 'y'}, {5: 'e'}, [0.5, 1])" % t)
    r = session.execute("SELECT JSON * FROM %s WHERE k = 1" % t)
    assert r.column_names == ["[json]"]
    assert r.one()[0] == ('{"k": 1, "\\"Big\\"": "a\\"b\\\\c", "b": "0xcafe", "bo": true, '
                          '"d": 1.5, "dt": "2024-01-02", "l": [1, 2], "mi": {"5": "e"}, '
                          '"s": ["x", "y"], "tm": "03:04:05.123000000", '
                          '"ts": "2024-01-02 03:04:05.678Z", "v": [0.5, 1.0]}')
    r = session.execute('SELECT JSON k, "Big" AS q, toJson(l) FROM %s WHERE k = 1' % t).one()
    assert r[0] == '{"k": 1, "q": "a\\"b\\\\c", "system.tojson(l)": "[1, 2]"}'
    assert session.execute("SELECT toJson(ts) FROM %s WHERE k = 1" % t).one()[0] == \
        '"2024-01-02 03:04:05.678Z"'


def test_insert_json(session, keyspace):
    """INSERT JSON with DEFAULT NULL / DEFAULT UNSET and its errors
    (Cassandra 5.0.9's answers for the same statements)."""
    t = keyspace + ".ij"
    session.execute('CREATE TABLE %s (k int, c text, "Big" int, v double, l list<int>, '
                    "m map<int, text>, s set<text>, PRIMARY KEY (k, c))" % t)
    session.execute("INSERT INTO %s JSON '{\"k\": 1, \"c\": \"a\", \"\\\"Big\\\"\": 5, "
                    "\"v\": 1.5, \"l\": [1, 2], \"m\": {\"3\": \"x\"}, \"s\": [\"b\", \"a\"]}'" % t)
    prep = session.prepare("INSERT INTO %s JSON ?" % t)
    session.execute(prep, ('{"k": "2", "c": "b", "v": "2.5"}',))
    r = session.execute("SELECT JSON * FROM %s WHERE k = 1" % t).one()[0]
    assert r == ('{"k": 1, "c": "a", "\\"Big\\"": 5, "l": [1, 2], "m": {"3": "x"}, '
                 '"s": ["a", "b"], "v": 1.5}')
    assert tuple(session.execute("SELECT k, v FROM %s WHERE k = 2" % t).one()) == (2, 2.5)
    session.execute("INSERT INTO %s JSON '{\"k\": 1, \"c\": \"a\", \"l\": [9]}' DEFAULT UNSET" % t)
    r = session.execute("SELECT v, l FROM %s WHERE k = 1" % t).one()
    assert (r.v, list(r.l)) == (1.5, [9])
    session.execute("INSERT INTO %s JSON '{\"k\": 1, \"c\": \"a\", \"l\": [9]}'" % t)
    assert session.execute("SELECT v FROM %s WHERE k = 1" % t).one().v is None
    for doc, msg in [('{"k": 1, "c": "a", "Big": 1}',
                      "JSON values map contains unrecognized column: big"),
                     ('{"k": 1}', "Invalid null value in condition for column c"),
                     ('{"k": "x", "c": "a"}',
                      "Error decoding JSON value for k: Unable to make int from 'x'"),
                     ('{"k": 1.5, "c": "a"}', "Error decoding JSON value for k: Expected an int "
                                              "value, but got a Double: 1.5")]:
        with pytest.raises(InvalidRequest) as e:
            session.execute(prep, (doc,))
        assert msg in str(e.value)
