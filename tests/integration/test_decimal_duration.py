"""decimal and duration through the Python driver.

What: both types as regular columns, inside collections, as bound values of
prepared statements (the driver sends decimal.Decimal and
cassandra.util.Duration objects and decodes the bytes itself, so scale and
unscaled value must be Cassandra's), in WHERE ... ALLOW FILTERING, decimal
as a clustering key (numeric order; equal values with other scales are the
same key, returned in Helenus' canonical form) and as a partition key, and
Cassandra's refusals for duration (keys, sets, map keys, slices).

tests/compat/cases/types_decimal.cql and types_duration.cql check the
literal forms against answers recorded from Cassandra 5.0.
"""

from decimal import Decimal

import pytest
from cassandra import InvalidRequest
from cassandra.util import Duration

DECIMALS = ["1.50", "-0.00125", "1E+308", "1E-400", "0.0", "-10",
            "123456789012345678901234567890.123456789", "0.000001", "-1.0E+3"]


@pytest.fixture
def tbl(session, keyspace):
    session.execute("CREATE TABLE %s.dd (k int PRIMARY KEY, m decimal, v duration, "
                    "lm list<decimal>, md map<text, duration>, fm frozen<map<decimal, text>>)"
                    % keyspace)
    return keyspace + ".dd"


def test_prepared_round_trip(session, tbl):
    ins = session.prepare("INSERT INTO %s (k, m, v) VALUES (?, ?, ?)" % tbl)
    sel = session.prepare("SELECT m, v FROM %s WHERE k = ?" % tbl)
    durs = [Duration(0, 0, 5400000000000), Duration(-2, -3, -4), Duration(14, 25, 18367008009010),
            Duration(0, 0, 0), Duration(2147483647, 2147483647, 9223372036854775807)]
    for i, text in enumerate(DECIMALS):
        d = durs[i % len(durs)]
        session.execute(ins, (i, Decimal(text), d))
        m, v = session.execute(sel, (i,)).one()
        assert str(m) == text  # same scale and unscaled value, not just equal
        assert v == d


def test_literals_match_bound_values(session, tbl):
    session.execute("INSERT INTO %s (k, m, v) VALUES (1, 1.50, 1h30m)" % tbl)
    session.execute("INSERT INTO %s (k, m, v) VALUES (2, 1e308, P1Y2M3DT4H5M6S)" % tbl)
    session.execute("INSERT INTO %s (k, m, v) VALUES (3, -0.0, -2w)" % tbl)
    session.execute("INSERT INTO %s (k, m, v) VALUES (4, 7, P0001-02-03T04:05:06)" % tbl)
    rows = {r.k: (str(r.m), r.v) for r in session.execute("SELECT k, m, v FROM %s" % tbl)}
    assert rows == {
        1: ("1.50", Duration(0, 0, 5400000000000)),
        2: ("1E+308", Duration(14, 3, 14706000000000)),
        3: ("0.0", Duration(0, -14, 0)),
        4: ("7", Duration(14, 3, 14706000000000)),
    }


def test_collections(session, tbl):
    session.execute("INSERT INTO %s (k, lm, md, fm) VALUES (1, [1.5, -2, 1e3], "
                    "{'a': 1h, 'b': -1d}, {2.5: 'x', -1: 'y'})" % tbl)
    ins = session.prepare("UPDATE %s SET lm = lm + ?, md['c'] = ? WHERE k = 1" % tbl)
    session.execute(ins, ([Decimal("0.10")], Duration(1, 2, 3)))
    r = session.execute("SELECT lm, md, fm FROM %s WHERE k = 1" % tbl).one()
    assert [str(x) for x in r.lm] == ["1.5", "-2", "1E+3", "0.10"]
    assert dict(r.md) == {"a": Duration(0, 0, 3600000000000), "b": Duration(0, -1, 0),
                          "c": Duration(1, 2, 3)}
    assert [(str(k), v) for k, v in r.fm.items()] == [("-1", "y"), ("2.5", "x")]  # by value


def test_filtering_equality(session, tbl):
    for k, m, v in [(1, "1.5", "1h30m"), (2, "1.50", "90m"), (3, "2", "1h")]:
        session.execute("INSERT INTO %s (k, m, v) VALUES (%d, %s, %s)" % (tbl, k, m, v))
    q = session.prepare("SELECT k FROM %s WHERE m = ? ALLOW FILTERING" % tbl)
    assert sorted(r.k for r in session.execute(q, (Decimal("1.500"),))) == [1, 2]  # compareTo
    q = session.prepare("SELECT k FROM %s WHERE v = ? ALLOW FILTERING" % tbl)
    assert sorted(r.k for r in session.execute(q, (Duration(0, 0, 5400000000000),))) == [1, 2]
    rows = session.execute("SELECT k FROM %s WHERE m > 1.5 ALLOW FILTERING" % tbl)
    assert [r.k for r in rows] == [3]
    with pytest.raises(InvalidRequest, match="Slice restrictions are not supported on duration "
                                             "columns"):
        session.execute("SELECT k FROM %s WHERE v > 1h ALLOW FILTERING" % tbl)


def test_decimal_clustering(session, keyspace):
    session.execute("CREATE TABLE %s.cd (p int, c decimal, v int, PRIMARY KEY (p, c))" % keyspace)
    session.execute("CREATE TABLE %s.cdd (p int, c decimal, PRIMARY KEY (p, c)) "
                    "WITH CLUSTERING ORDER BY (c DESC)" % keyspace)
    ins = session.prepare("INSERT INTO %s.cd (p, c, v) VALUES (0, ?, ?)" % keyspace)
    insd = session.prepare("INSERT INTO %s.cdd (p, c) VALUES (0, ?)" % keyspace)
    vals = ["99.999", "-10", "0.5", "1E-400", "1E+100", "-1E+100", "0", "1.5", "12"]
    for i, x in enumerate(vals):
        session.execute(ins, (Decimal(x), i))
        session.execute(insd, (Decimal(x),))
    want = sorted(vals, key=Decimal)
    got = [str(r.c) for r in session.execute("SELECT c FROM %s.cd WHERE p = 0" % keyspace)]
    assert got == want
    got = [str(r.c) for r in session.execute("SELECT c FROM %s.cdd WHERE p = 0" % keyspace)]
    assert got == want[::-1]
    # 1.50 is the key 1.5: an upsert of the same row, read back canonical
    session.execute(ins, (Decimal("1.50"), 100))
    rows = list(session.execute("SELECT c, v FROM %s.cd WHERE p = 0 AND c = 1.500" % keyspace))
    assert [(str(r.c), r.v) for r in rows] == [("1.5", 100)]
    rows = session.execute("SELECT c FROM %s.cd WHERE p = 0 AND c > 0.5 AND c <= 12" % keyspace)
    assert [str(r.c) for r in rows] == ["1.5", "12"]


def test_decimal_partition_key(session, keyspace):
    session.execute("CREATE TABLE %s.pd (k decimal PRIMARY KEY, v int)" % keyspace)
    ins = session.prepare("INSERT INTO %s.pd (k, v) VALUES (?, ?)" % keyspace)
    session.execute(ins, (Decimal("1.0"), 1))
    session.execute(ins, (Decimal("1.00"), 2))  # other bytes: another partition, as Cassandra
    rows = session.execute("SELECT k, v FROM %s.pd WHERE k = 1.00" % keyspace)
    assert [(str(r.k), r.v) for r in rows] == [("1.00", 2)]


@pytest.mark.parametrize("ddl,msg", [
    ("CREATE TABLE %s.x (k duration PRIMARY KEY)",
     "duration type is not supported for PRIMARY KEY column 'k'"),
    ("CREATE TABLE %s.x (k int, c duration, PRIMARY KEY (k, c))",
     "duration type is not supported for PRIMARY KEY column 'c'"),
    ("CREATE TABLE %s.x (k int, c frozen<list<duration>>, PRIMARY KEY (k, c))",
     "duration type is not supported for PRIMARY KEY column 'c'"),
    ("CREATE TABLE %s.x (k int PRIMARY KEY, s set<duration>)",
     "Durations are not allowed inside sets: set<duration>"),
    ("CREATE TABLE %s.x (k int PRIMARY KEY, s frozen<set<duration>>)",
     "Durations are not allowed inside sets: frozen<set<duration>>"),
    ("CREATE TABLE %s.x (k int PRIMARY KEY, m map<duration, int>)",
     "Durations are not allowed as map keys: map<duration, int>"),
])
def test_duration_refusals(session, keyspace, ddl, msg):
    with pytest.raises(InvalidRequest) as e:
        session.execute(ddl % keyspace)
    assert msg in str(e.value)


def test_bad_literals(session, tbl):
    for lit, msg in [("NaN", "unable to make BigDecimal from 'NaN'"),
                     ("'1.5'", "Invalid STRING constant (1.5) for \"m\" of type decimal"),
                     ("1h", "Invalid DURATION constant (1h) for \"m\" of type decimal")]:
        with pytest.raises(InvalidRequest) as e:
            session.execute("INSERT INTO %s (k, m) VALUES (1, %s)" % (tbl, lit))
        assert msg in str(e.value)
    for lit, msg in [("1m1h", "Invalid duration. The minutes should be after hours"),
                     ("3000000000mo", "Invalid duration. The total number of months must be less "
                                      "or equal to 2147483647"),
                     ("1", "Unable to convert '1' to a duration")]:
        with pytest.raises(InvalidRequest) as e:
            session.execute("INSERT INTO %s (k, v) VALUES (1, %s)" % (tbl, lit))
        assert msg in str(e.value)


def test_conditions(session, tbl):
    session.execute("INSERT INTO %s (k, m, v) VALUES (1, 1.50, 1h)" % tbl)
    r = session.execute("UPDATE %s SET m = 2.5 WHERE k = 1 IF m = 1.5" % tbl).one()
    assert r[0] is True  # compareTo: 1.50 = 1.5
    r = session.execute("UPDATE %s SET m = 3.5 WHERE k = 1 IF m > 2" % tbl).one()
    assert r[0] is True
    r = session.execute("UPDATE %s SET v = 3h WHERE k = 1 IF v = 1h" % tbl).one()
    assert r[0] is True
    with pytest.raises(InvalidRequest, match=r"Slice conditions \( > \) are not supported on "
                                             r"durations"):
        session.execute("UPDATE %s SET v = 3h WHERE k = 1 IF v > 1h" % tbl)
    r = session.execute("SELECT m, v FROM %s WHERE k = 1" % tbl).one()
    assert (str(r.m), r.v) == ("3.5", Duration(0, 0, 3 * 3600 * 10**9))


def test_decimal_aggregates(session, keyspace):
    # answers recorded from Cassandra 5.0.9: exact sums, the streaming
    # average avg + (x - avg) / n rounded HALF_EVEN (so 1, 2 average to 1)
    session.execute("CREATE TABLE %s.ag (k int PRIMARY KEY, m decimal, v duration)" % keyspace)
    q = "SELECT sum(m), avg(m) FROM %s.ag" % keyspace
    assert [str(x) for x in session.execute(q).one()] == ["0", "0"]
    want = [("1", "3", "1"), ("2", "3", "1"), ("3", "3.10", "0.70"), ("4", "103.10", "25.52")]
    vals = {"1": "1", "2": "2", "3": "0.10", "4": "1e2"}
    for k, s, a in want:
        session.execute("INSERT INTO %s.ag (k, m) VALUES (%s, %s)" % (keyspace, k, vals[k]))
        if k != "1":
            assert [str(x) for x in session.execute(q).one()] == [s, a]
    session.execute("INSERT INTO %s.ag (k, v) VALUES (5, 1h)" % keyspace)
    session.execute("INSERT INTO %s.ag (k, v) VALUES (6, 1mo)" % keyspace)
    r = session.execute("SELECT min(v), max(v), count(v) FROM %s.ag" % keyspace).one()
    assert tuple(r) == (Duration(0, 0, 3600 * 10**9), Duration(1, 0, 0), 2)  # byte order
