"""DML through the driver: every walking-skeleton type as literal and as a
bound value, INSERT/UPDATE/DELETE, and SELECT shapes (column lists, key
equality, clustering ranges, ORDER BY, LIMIT, composite partition keys,
DESC clustering order)."""

import datetime
import struct
import uuid

import pytest
from cassandra import InvalidRequest
from cassandra.metadata import Murmur3Token
from cassandra.protocol import SyntaxException
from cassandra.util import datetime_from_timestamp

from conftest import unique_name


def f32(x):
    return struct.unpack(">f", struct.pack(">f", x))[0]


TS = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000)
U1 = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
TU1 = uuid.UUID("e7a6a4d0-a2f3-11ee-8c90-0242ac120002")  # version 1

# (type, CQL literal, expected Python value, usable as a key)
CASES = [
    ("int", "42", 42, True),
    ("int", "-2147483648", -2147483648, True),
    ("int", "2147483647", 2147483647, True),
    ("bigint", "-9223372036854775808", -9223372036854775808, True),
    ("bigint", "1234567890123", 1234567890123, True),
    ("text", "'h\u00e9llo ''world'''", "h\u00e9llo 'world'", True),
    ("text", "''", "", False),
    ("varchar", "'abc'", "abc", True),
    ("varchar", "'\u65e5\u672c\u8a9e'", "\u65e5\u672c\u8a9e", True),
    ("blob", "0xdeadbeef", b"\xde\xad\xbe\xef", True),
    ("blob", "0x00ff00", b"\x00\xff\x00", True),
    ("blob", "0x", b"", False),
    ("boolean", "true", True, True),
    ("boolean", "false", False, True),
    ("double", "3.141592653589793", 3.141592653589793, True),
    ("double", "-1.5e300", -1.5e300, True),
    ("double", "0.0", 0.0, True),
    ("float", "3.14", f32(3.14), True),
    ("float", "-0.5", -0.5, True),
    ("float", "1e10", f32(1e10), True),
    ("timestamp", "'2024-01-02 03:04:05.678+0000'", TS, True),
    ("timestamp", "1704164645678", TS, True),
    ("timestamp", "'1969-12-31 23:59:59.000+0000'",
     datetime.datetime(1969, 12, 31, 23, 59, 59), True),
    # the driver decodes timestamps through a float: compare with what it
    # makes of the exact millisecond value
    ("timestamp", "'9999-12-31 23:59:59.999+0000'",
     datetime_from_timestamp(253402300799999 / 1000.0), True),
    ("timestamp", "'2024-01-02 05:04:05.678+0200'", TS, True),
    ("timestamp", "'2024-01-02T03:04:05.678Z'", TS, True),
    ("uuid", str(U1), U1, True),
    ("timeuuid", str(TU1), TU1, True),
]
TYPES = sorted({c[0] for c in CASES})


def case_id(c):
    return "%s:%s" % (c[0], c[1][:20])


@pytest.fixture(scope="module")
def ks(session):
    name = unique_name("dml")
    session.execute("CREATE KEYSPACE %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % name)
    for t in TYPES:
        session.execute("CREATE TABLE %s.v_%s (k int PRIMARY KEY, v %s)" % (name, t, t))
        session.execute("CREATE TABLE %s.k_%s (k %s, c %s, v %s, PRIMARY KEY (k, c))"
                        % (name, t, t, t, t))
    yield name
    session.execute("DROP KEYSPACE %s" % name)


_counter = [0]


def next_key():
    _counter[0] += 1
    return _counter[0]


# ---------------------------------------------------------------------------
# types


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_type_literal_value(session, ks, case):
    typ, lit, expected, _ = case
    k = next_key()
    session.execute("INSERT INTO %s.v_%s (k, v) VALUES (%d, %s)" % (ks, typ, k, lit))
    row = session.execute("SELECT v FROM %s.v_%s WHERE k = %d" % (ks, typ, k)).one()
    assert row is not None
    assert row.v == expected and type(row.v) is type(expected), (row.v, expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_type_prepared_value(session, ks, case):
    typ, _lit, expected, _ = case
    k = next_key()
    ins = session.prepare("INSERT INTO %s.v_%s (k, v) VALUES (?, ?)" % (ks, typ))
    sel = session.prepare("SELECT v FROM %s.v_%s WHERE k = ?" % (ks, typ))
    session.execute(ins, (k, expected))
    row = session.execute(sel, (k,)).one()
    assert row is not None
    assert row.v == expected, (row.v, expected)
    # and the literal form reads back the same bytes
    row2 = session.execute("SELECT v FROM %s.v_%s WHERE k = %d" % (ks, typ, k)).one()
    assert row2.v == expected


@pytest.mark.parametrize("case", [c for c in CASES if c[3]], ids=case_id)
def test_type_as_partition_and_clustering_key(session, ks, case):
    typ, lit, expected, _ = case
    session.execute("INSERT INTO %s.k_%s (k, c, v) VALUES (%s, %s, %s)" % (ks, typ, lit, lit, lit))
    rows = list(session.execute("SELECT k, c, v FROM %s.k_%s WHERE k = %s AND c = %s"
                                % (ks, typ, lit, lit)))
    assert len(rows) == 1
    assert rows[0] == (expected, expected, expected)
    sel = session.prepare("SELECT k, c, v FROM %s.k_%s WHERE k = ? AND c = ?" % (ks, typ))
    rows = list(session.execute(sel, (expected, expected)))
    assert len(rows) == 1 and rows[0] == (expected, expected, expected)


CLUSTER_ORDER = {
    "int": ["-5", "-1", "0", "3", "1000000"],
    "bigint": ["-9223372036854775808", "-1", "0", "1", "9223372036854775807"],
    "text": ["''", "'A'", "'a'", "'ab'", "'b'", "'\u00e9'"],
    "blob": ["0x", "0x00", "0x0000", "0x01", "0x7f", "0x80", "0xff"],
    "boolean": ["false", "true"],
    "double": ["-1e300", "-2.5", "-0.0001", "0.0", "1e-300", "2.5", "1e300"],
    "float": ["-1e30", "-2.5", "0.0", "0.25", "2.5", "1e30"],
    "timestamp": ["-1000", "0", "1", "1704164645678"],
    "uuid": ["00000000-0000-0000-0000-000000000000", "123e4567-e89b-12d3-a456-426614174000",
             "ffffffff-ffff-ffff-ffff-ffffffffffff"],
}


@pytest.mark.parametrize("typ", sorted(CLUSTER_ORDER))
def test_clustering_sort_order_by_type(session, ks, typ):
    """Rows come back in the type's CQL comparison order (byte-comparable
    clustering encoding), whatever order they were inserted in."""
    lits = CLUSTER_ORDER[typ]
    k = {"int": "7", "bigint": "7", "text": "'order'", "varchar": "'order'", "blob": "0x07",
         "boolean": "true", "double": "7.0", "float": "7.0", "timestamp": "7",
         "uuid": "00000000-0000-0000-0000-000000000007"}[typ]
    for lit in reversed(lits):
        session.execute("INSERT INTO %s.k_%s (k, c, v) VALUES (%s, %s, %s)"
                        % (ks, typ, k, lit, lit))
    for lit in lits[::2]:
        session.execute("INSERT INTO %s.k_%s (k, c, v) VALUES (%s, %s, %s)"
                        % (ks, typ, k, lit, lit))
    rows = list(session.execute("SELECT c, v FROM %s.k_%s WHERE k = %s" % (ks, typ, k)))
    got = [r.c for r in rows]
    want = [session.execute("SELECT v FROM %s.k_%s WHERE k = %s AND c = %s"
                            % (ks, typ, k, lit)).one().v for lit in lits]
    assert got == want
    assert len(set(map(repr, got))) == len(lits)
    rows = list(session.execute("SELECT c FROM %s.k_%s WHERE k = %s ORDER BY c DESC"
                                % (ks, typ, k)))
    assert [r.c for r in rows] == want[::-1]


def test_all_types_in_one_row(session, ks):
    session.execute("CREATE TABLE %s.every (k int PRIMARY KEY, i int, bi bigint, t text, "
                    "vc varchar, b blob, bo boolean, d double, f float, ts timestamp, u uuid, "
                    "tu timeuuid)" % ks)
    session.execute("INSERT INTO %s.every (k, i, bi, t, vc, b, bo, d, f, ts, u, tu) VALUES "
                    "(1, 1, 2, 'three', 'four', 0x05, true, 6.5, 7.25, "
                    "'2024-01-02 03:04:05.678+0000', %s, %s)" % (ks, U1, TU1))
    row = session.execute("SELECT * FROM %s.every WHERE k = 1" % ks).one()
    assert row._asdict() == dict(k=1, i=1, bi=2, t="three", vc="four", b=b"\x05", bo=True,
                                 d=6.5, f=7.25, ts=TS, u=U1, tu=TU1)
    ins = session.prepare("INSERT INTO %s.every (k, i, bi, t, vc, b, bo, d, f, ts, u, tu) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" % ks)
    tu = uuid.uuid1()
    vals = (2, -1, -2, "x" * 1000, "", b"\x00" * 300, False, -0.125, f32(0.1), TS, U1, tu)
    session.execute(ins, vals)
    row = session.execute("SELECT k, i, bi, t, vc, b, bo, d, f, ts, u, tu FROM %s.every "
                          "WHERE k = 2" % ks).one()
    assert tuple(row) == vals


def test_nulls_and_missing_columns(session, ks):
    session.execute("CREATE TABLE %s.nulls (k int PRIMARY KEY, a int, b text)" % ks)
    session.execute("INSERT INTO %s.nulls (k) VALUES (1)" % ks)
    session.execute("INSERT INTO %s.nulls (k, a, b) VALUES (2, null, null)" % ks)
    ins = session.prepare("INSERT INTO %s.nulls (k, a, b) VALUES (?, ?, ?)" % ks)
    session.execute(ins, (3, None, "x"))
    rows = {r.k: (r.a, r.b) for r in (session.execute(
        "SELECT * FROM %s.nulls WHERE k = %d" % (ks, k)).one() for k in (1, 2, 3))}
    assert rows == {1: (None, None), 2: (None, None), 3: (None, "x")}


BAD_LITERALS = [
    "INSERT INTO %s.v_int (k, v) VALUES (1, 'abc')",
    "INSERT INTO %s.v_int (k, v) VALUES (1, 2147483648)",
    "INSERT INTO %s.v_uuid (k, v) VALUES (1, 'not-a-uuid')",
    "INSERT INTO %s.v_boolean (k, v) VALUES (1, 1)",
    "INSERT INTO %s.v_blob (k, v) VALUES (1, 'text')",
    # a version-4 uuid is not a timeuuid
    "INSERT INTO %s.v_timeuuid (k, v) VALUES (1, 550e8400-e29b-41d4-a716-446655440000)",
    "INSERT INTO %s.v_bigint (k, v) VALUES (1, 9223372036854775808)",
    "INSERT INTO %s.v_blob (k, v) VALUES (1, 0xabc)",  # odd number of hex digits
    "INSERT INTO %s.v_int (k, nosuch) VALUES (1, 1)",
    "INSERT INTO %s.v_int (v) VALUES (1)",  # missing key
    "INSERT INTO %s.v_timestamp (k, v) VALUES (1, 'yesterday-ish')",
]


@pytest.mark.parametrize("stmt", BAD_LITERALS, ids=lambda s: s.split("VALUES ")[-1][:40])
def test_bad_literal_is_invalid_request(session, ks, stmt):
    with pytest.raises((InvalidRequest, SyntaxException)):
        session.execute(stmt % ks)


# ---------------------------------------------------------------------------
# statements and SELECT shapes


@pytest.fixture
def ev(session, ks):
    t = "%s.%s" % (ks, unique_name("ev"))
    session.execute("CREATE TABLE %s (p int, c int, v text, w int, PRIMARY KEY (p, c))" % t)
    for p in (1, 2):
        for c in range(10):
            session.execute("INSERT INTO %s (p, c, v, w) VALUES (%d, %d, 'v%d', %d)"
                            % (t, p, c, c, c * 10))
    return t


def cs(rows):
    return [r.c for r in rows]


def test_select_star_and_column_list(session, ev):
    rows = list(session.execute("SELECT * FROM %s WHERE p = 1" % ev))
    assert len(rows) == 10
    assert rows[0]._fields == ("p", "c", "v", "w")
    assert rows[3] == (1, 3, "v3", 30)
    rows = list(session.execute("SELECT w, c FROM %s WHERE p = 2" % ev))
    assert rows[0]._fields == ("w", "c")
    assert [tuple(r) for r in rows] == [(c * 10, c) for c in range(10)]


def test_select_clustering_equality_and_ranges(session, ev):
    q = "SELECT c FROM %s WHERE p = 1 AND %%s" % ev
    expect = {
        "c = 3": [3],
        "c = 42": [],
        "c < 3": [0, 1, 2],
        "c <= 3": [0, 1, 2, 3],
        "c > 7": [8, 9],
        "c >= 7": [7, 8, 9],
        "c > 2 AND c < 6": [3, 4, 5],
        "c >= 2 AND c <= 6": [2, 3, 4, 5, 6],
        "c > 2 AND c <= 6": [3, 4, 5, 6],
        "c >= 2 AND c < 6": [2, 3, 4, 5],
        "c > 6 AND c < 2": [],
        "c >= 5 AND c <= 5": [5],
        "c < -1": [],
        "c > 100": [],
    }
    for where, want in expect.items():
        assert cs(session.execute(q % where)) == want, where


def test_order_by_and_limit(session, ev):
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 ORDER BY c ASC" % ev)) == \
        list(range(10))
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 ORDER BY c DESC" % ev)) == \
        list(range(9, -1, -1))
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 LIMIT 3" % ev)) == [0, 1, 2]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 ORDER BY c DESC LIMIT 3" % ev)) == \
        [9, 8, 7]
    assert cs(session.execute(
        "SELECT c FROM %s WHERE p = 1 AND c > 2 AND c <= 6 ORDER BY c DESC LIMIT 2" % ev)) == [6, 5]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 AND c >= 8 LIMIT 5" % ev)) == [8, 9]
    with pytest.raises(InvalidRequest):
        session.execute("SELECT c FROM %s WHERE p = 1 LIMIT 0" % ev)
    with pytest.raises(InvalidRequest):
        session.execute("SELECT c FROM %s WHERE p = 1 ORDER BY v DESC" % ev)


def test_update_upsert_and_overwrite(session, ev):
    session.execute("UPDATE %s SET v = 'x', w = 5 WHERE p = 1 AND c = 3" % ev)
    assert tuple(session.execute("SELECT v, w FROM %s WHERE p = 1 AND c = 3" % ev).one()) == \
        ("x", 5)
    session.execute("UPDATE %s SET w = 6 WHERE p = 1 AND c = 3" % ev)
    assert tuple(session.execute("SELECT v, w FROM %s WHERE p = 1 AND c = 3" % ev).one()) == \
        ("x", 6)
    # UPDATE of a missing row creates it
    session.execute("UPDATE %s SET v = 'new' WHERE p = 3 AND c = 1" % ev)
    assert tuple(session.execute("SELECT * FROM %s WHERE p = 3" % ev).one()) == (3, 1, "new", None)
    # INSERT over an existing row: last write wins, unset columns kept
    session.execute("INSERT INTO %s (p, c, v) VALUES (1, 4, 'again')" % ev)
    assert tuple(session.execute("SELECT v, w FROM %s WHERE p = 1 AND c = 4" % ev).one()) == \
        ("again", 40)
    # writes with explicit timestamps: the older one loses
    session.execute("INSERT INTO %s (p, c, v) VALUES (5, 0, 'newer') USING TIMESTAMP 2000" % ev)
    session.execute("INSERT INTO %s (p, c, v) VALUES (5, 0, 'older') USING TIMESTAMP 1000" % ev)
    assert session.execute("SELECT v FROM %s WHERE p = 5 AND c = 0" % ev).one().v == "newer"


def test_delete_column_row_partition(session, ev):
    session.execute("DELETE v FROM %s WHERE p = 1 AND c = 4" % ev)
    assert tuple(session.execute("SELECT * FROM %s WHERE p = 1 AND c = 4" % ev).one()) == \
        (1, 4, None, 40)
    session.execute("DELETE v, w FROM %s WHERE p = 1 AND c = 6" % ev)
    # the row was INSERTed, so its row marker keeps it alive with null cells
    assert tuple(session.execute("SELECT * FROM %s WHERE p = 1 AND c = 6" % ev).one()) == \
        (1, 6, None, None)
    session.execute("DELETE FROM %s WHERE p = 1 AND c = 5" % ev)
    assert session.execute("SELECT * FROM %s WHERE p = 1 AND c = 5" % ev).one() is None
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1" % ev)) == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    session.execute("DELETE FROM %s WHERE p = 2" % ev)
    assert list(session.execute("SELECT * FROM %s WHERE p = 2" % ev)) == []
    # p = 1 untouched by the partition delete
    assert len(list(session.execute("SELECT * FROM %s WHERE p = 1" % ev))) == 9
    # writing after a partition delete works (newer timestamp)
    session.execute("INSERT INTO %s (p, c, v) VALUES (2, 1, 'back')" % ev)
    assert [tuple(r) for r in session.execute("SELECT p, c, v FROM %s WHERE p = 2" % ev)] == \
        [(2, 1, "back")]
    # deleting a missing row / partition is not an error
    session.execute("DELETE FROM %s WHERE p = 99 AND c = 1" % ev)
    session.execute("DELETE FROM %s WHERE p = 99" % ev)


def test_row_created_by_update_disappears_when_cells_deleted(session, ev):
    # no row marker: Cassandra drops the row once all its cells are deleted
    session.execute("UPDATE %s SET v = 'u' WHERE p = 7 AND c = 7" % ev)
    session.execute("DELETE v FROM %s WHERE p = 7 AND c = 7" % ev)
    assert session.execute("SELECT * FROM %s WHERE p = 7 AND c = 7" % ev).one() is None


def test_multi_clustering_slices(session, ks):
    t = "%s.mc" % ks
    session.execute("CREATE TABLE %s (p int, a int, b text, v int, PRIMARY KEY (p, a, b))" % t)
    for a in range(3):
        for b in "xyz":
            session.execute("INSERT INTO %s (p, a, b, v) VALUES (1, %d, '%s', %d)"
                            % (t, a, b, a * 10 + ord(b) - ord("x")))
    r = lambda q: [(x.a, x.b) for x in session.execute(q)]  # noqa: E731
    assert r("SELECT a, b FROM %s WHERE p = 1" % t) == [(a, b) for a in range(3) for b in "xyz"]
    assert r("SELECT a, b FROM %s WHERE p = 1 AND a = 1" % t) == [(1, "x"), (1, "y"), (1, "z")]
    assert r("SELECT a, b FROM %s WHERE p = 1 AND a = 1 AND b > 'x'" % t) == [(1, "y"), (1, "z")]
    assert r("SELECT a, b FROM %s WHERE p = 1 AND a = 2 AND b <= 'y'" % t) == [(2, "x"), (2, "y")]
    assert r("SELECT a, b FROM %s WHERE p = 1 AND a >= 1" % t) == \
        [(a, b) for a in (1, 2) for b in "xyz"]
    assert r("SELECT a, b FROM %s WHERE p = 1 AND a < 1" % t) == [(0, "x"), (0, "y"), (0, "z")]
    assert r("SELECT a, b FROM %s WHERE p = 1 AND a = 1 AND b = 'y'" % t) == [(1, "y")]
    assert r("SELECT a, b FROM %s WHERE p = 1 ORDER BY a DESC, b DESC LIMIT 4" % t) == \
        [(2, "z"), (2, "y"), (2, "x"), (1, "z")]
    # a range on b without a on the previous column is not allowed
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM %s WHERE p = 1 AND b > 'x'" % t)


@pytest.mark.beyond
def test_range_deletion(session, ks):
    t = "%s.rdel" % ks
    session.execute("CREATE TABLE %s (p int, a int, b text, PRIMARY KEY (p, a, b))" % t)
    for a in range(4):
        for b in "xyz":
            session.execute("INSERT INTO %s (p, a, b) VALUES (1, %d, '%s')" % (t, a, b))
    r = lambda q: [(x.a, x.b) for x in session.execute(q)]  # noqa: E731
    # deleting a whole clustering prefix (range tombstone)
    session.execute("DELETE FROM %s WHERE p = 1 AND a = 1" % t)
    assert r("SELECT a, b FROM %s WHERE p = 1" % t) == [(a, b) for a in (0, 2, 3) for b in "xyz"]
    # a slice
    session.execute("DELETE FROM %s WHERE p = 1 AND a = 2 AND b > 'x'" % t)
    session.execute("DELETE FROM %s WHERE p = 1 AND a >= 3" % t)
    assert r("SELECT a, b FROM %s WHERE p = 1" % t) == [(0, "x"), (0, "y"), (0, "z"), (2, "x")]


def test_composite_partition_key(session, ks):
    t = "%s.cpk" % ks
    session.execute("CREATE TABLE %s (a int, b text, c int, v text, PRIMARY KEY ((a, b), c))" % t)
    for a in range(4):
        for b in ("x", "y"):
            for c in range(3):
                session.execute("INSERT INTO %s (a, b, c, v) VALUES (%d, '%s', %d, '%d%s%d')"
                                % (t, a, b, c, a, b, c))
    rows = list(session.execute("SELECT a, b, c, v FROM %s WHERE a = 2 AND b = 'y'" % t))
    assert [tuple(r) for r in rows] == [(2, "y", c, "2y%d" % c) for c in range(3)]
    assert session.execute("SELECT v FROM %s WHERE a = 3 AND b = 'x' AND c = 1" % t).one().v == \
        "3x1"
    assert list(session.execute("SELECT * FROM %s WHERE a = 9 AND b = 'x'" % t)) == []
    sel = session.prepare("SELECT c FROM %s WHERE a = ? AND b = ? AND c >= ?" % t)
    assert cs(session.execute(sel, (1, "x", 1))) == [1, 2]
    session.execute("DELETE FROM %s WHERE a = 1 AND b = 'x'" % t)
    assert list(session.execute("SELECT * FROM %s WHERE a = 1 AND b = 'x'" % t)) == []
    assert len(list(session.execute("SELECT * FROM %s WHERE a = 1 AND b = 'y'" % t))) == 3
    # a partial partition key needs ALLOW FILTERING (refused)
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM %s WHERE a = 1" % t)


def test_desc_clustering_order(session, ks):
    t = "%s.rev" % ks
    session.execute("CREATE TABLE %s (p int, c int, v int, PRIMARY KEY (p, c)) "
                    "WITH CLUSTERING ORDER BY (c DESC)" % t)
    for c in (5, 1, 9, 3, 7, 0, 2):
        session.execute("INSERT INTO %s (p, c, v) VALUES (1, %d, %d)" % (t, c, c))
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1" % t)) == [9, 7, 5, 3, 2, 1, 0]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 ORDER BY c ASC" % t)) == \
        [0, 1, 2, 3, 5, 7, 9]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 ORDER BY c DESC" % t)) == \
        [9, 7, 5, 3, 2, 1, 0]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 AND c > 2" % t)) == [9, 7, 5, 3]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 AND c >= 2 AND c < 7" % t)) == [5, 3, 2]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 LIMIT 2" % t)) == [9, 7]
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1 ORDER BY c ASC LIMIT 2" % t)) == [0, 1]


def test_mixed_clustering_order(session, ks):
    t = "%s.mixed" % ks
    session.execute("CREATE TABLE %s (p int, a int, b int, PRIMARY KEY (p, a, b)) "
                    "WITH CLUSTERING ORDER BY (a ASC, b DESC)" % t)
    for a in (2, 1):
        for b in (1, 3, 2):
            session.execute("INSERT INTO %s (p, a, b) VALUES (0, %d, %d)" % (t, a, b))
    got = [(r.a, r.b) for r in session.execute("SELECT a, b FROM %s WHERE p = 0" % t)]
    assert got == [(1, 3), (1, 2), (1, 1), (2, 3), (2, 2), (2, 1)]
    got = [(r.a, r.b) for r in session.execute(
        "SELECT a, b FROM %s WHERE p = 0 ORDER BY a DESC, b ASC" % t)]
    assert got == [(2, 1), (2, 2), (2, 3), (1, 1), (1, 2), (1, 3)]


def test_many_partitions_across_shards(session, ks):
    t = "%s.many" % ks
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, v int)" % t)
    ins = session.prepare("INSERT INTO %s (k, v) VALUES (?, ?)" % t)
    from cassandra.concurrent import execute_concurrent_with_args
    res = execute_concurrent_with_args(session, ins, [(i, i * 3) for i in range(300)],
                                       concurrency=50)
    assert all(ok for ok, _ in res)
    sel = session.prepare("SELECT v FROM %s WHERE k = ?" % t)
    res = execute_concurrent_with_args(session, sel, [(i,) for i in range(300)], concurrency=50)
    assert [r.one().v for ok, r in res] == [i * 3 for i in range(300)]


def test_full_scan_in_token_order(session, ks):
    t = "%s.scan" % ks
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, v int)" % t)
    for i in range(100):
        session.execute("INSERT INTO %s (k, v) VALUES (%d, %d)" % (t, i, i))
    rows = list(session.execute("SELECT k, v FROM %s" % t))
    assert sorted(r.k for r in rows) == list(range(100))
    toks = [Murmur3Token.from_key(struct.pack(">i", r.k)).value for r in rows]
    assert toks == sorted(toks), "full scan not in token order"


@pytest.mark.beyond
def test_token_function(session, ks):
    t = "%s.tokf" % ks
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, v int)" % t)
    for i in range(20):
        session.execute("INSERT INTO %s (k, v) VALUES (%d, %d)" % (t, i, i))
    rows = list(session.execute("SELECT k, token(k) FROM %s LIMIT 10" % t))
    assert len(rows) == 10
    for r in rows:
        assert r[1] == Murmur3Token.from_key(struct.pack(">i", r.k)).value


def test_large_values(session, ks):
    t = "%s.big" % ks
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, b blob, s text)" % t)
    ins = session.prepare("INSERT INTO %s (k, b, s) VALUES (?, ?, ?)" % t)
    blob = bytes(range(256)) * 4096 * 2  # 2 MiB
    text = "\u00e9t\u00e9 " * 50000  # ~300 KB of UTF-8
    session.execute(ins, (1, blob, text))
    row = session.execute("SELECT b, s FROM %s WHERE k = 1" % t).one()
    assert row.b == blob and row.s == text
    # a literal of 256 KiB in the query string itself
    lit = b"\xab" * 262144
    session.execute("INSERT INTO %s (k, b) VALUES (2, 0x%s)" % (t, lit.hex()))
    assert session.execute("SELECT b FROM %s WHERE k = 2" % t).one().b == lit


def test_large_partition_and_paging(session, ks):
    """12000 rows in one partition, read with the default page size (5000)
    and with fetch_size 100: all rows, in order, whether or not the server
    pages."""
    t = "%s.wide" % ks
    session.execute("CREATE TABLE %s (p int, c int, v text, PRIMARY KEY (p, c))" % t)
    ins = session.prepare("INSERT INTO %s (p, c, v) VALUES (?, ?, ?)" % t)
    from cassandra.concurrent import execute_concurrent_with_args
    from cassandra.query import SimpleStatement
    n = 12000
    res = execute_concurrent_with_args(session, ins, [(1, i, "x" * 20) for i in range(n)],
                                       concurrency=100)
    assert all(ok for ok, _ in res)
    assert cs(session.execute("SELECT c FROM %s WHERE p = 1" % t)) == list(range(n))
    st = SimpleStatement("SELECT c FROM %s WHERE p = 1" % t, fetch_size=100)
    assert cs(session.execute(st)) == list(range(n))
    st = SimpleStatement("SELECT c FROM %s WHERE p = 1 ORDER BY c DESC" % t, fetch_size=777)
    assert cs(session.execute(st)) == list(range(n - 1, -1, -1))
    st = SimpleStatement("SELECT c FROM %s WHERE p = 1 AND c >= 5000 LIMIT 3000" % t,
                         fetch_size=1000)
    assert cs(session.execute(st)) == list(range(5000, 8000))


def test_full_scan_paged_across_shards(session, ks):
    """Every partition exactly once, in token order, when the scan is paged
    (the paging state has to carry the position across shard boundaries)."""
    from cassandra.concurrent import execute_concurrent_with_args
    from cassandra.query import SimpleStatement
    t = "%s.scanp" % ks
    session.execute("CREATE TABLE %s (k int, c int, v int, PRIMARY KEY (k, c))" % t)
    ins = session.prepare("INSERT INTO %s (k, c, v) VALUES (?, ?, ?)" % t)
    keys = list(range(-700, 700))
    rows = [(k, c, k * 10 + c) for k in keys for c in range(3)]
    res = execute_concurrent_with_args(session, ins, rows, concurrency=100)
    assert all(ok for ok, _ in res)
    for fs in (None, 1000, 97):
        st = SimpleStatement("SELECT k, c, v FROM %s" % t, fetch_size=fs)
        got = [tuple(r) for r in session.execute(st)]
        assert sorted(got) == sorted(rows), "fetch_size %s: %d rows, want %d" % (
            fs, len(got), len(rows))
        toks = [Murmur3Token.from_key(struct.pack(">i", r[0])).value for r in got]
        assert toks == sorted(toks), "fetch_size %s: not in token order" % fs
    st = SimpleStatement("SELECT k FROM %s LIMIT 10" % t)
    assert len(list(session.execute(st))) == 10


def test_select_on_empty_table_has_columns(session, ks):
    t = "%s.empty" % ks
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, a text, b int)" % t)
    rs = session.execute("SELECT * FROM %s WHERE k = 1" % t)
    assert rs.column_names == ["k", "a", "b"]
    assert list(rs) == []
    rs = session.execute("SELECT * FROM %s" % t)
    assert list(rs) == []


@pytest.mark.beyond
def test_double_special_literals(session, ks):
    import math
    session.execute("INSERT INTO %s.v_double (k, v) VALUES (900001, NaN)" % ks)
    session.execute("INSERT INTO %s.v_double (k, v) VALUES (900002, Infinity)" % ks)
    session.execute("INSERT INTO %s.v_double (k, v) VALUES (900003, -Infinity)" % ks)
    vals = [session.execute("SELECT v FROM %s.v_double WHERE k = %d" % (ks, k)).one().v
            for k in (900001, 900002, 900003)]
    assert math.isnan(vals[0]) and vals[1] == math.inf and vals[2] == -math.inf


@pytest.mark.beyond
def test_unset_bind_values(session, ks):
    from cassandra.query import UNSET_VALUE
    t = "%s.unset" % ks
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, a int, b int)" % t)
    ins = session.prepare("INSERT INTO %s (k, a, b) VALUES (?, ?, ?)" % t)
    session.execute(ins, (1, 1, 1))
    session.execute(ins, (1, 2, UNSET_VALUE))
    assert tuple(session.execute("SELECT a, b FROM %s WHERE k = 1" % t).one()) == (2, 1)


@pytest.mark.beyond
def test_quoted_identifiers(cluster, session, ks):
    session.execute('CREATE TABLE %s."MixedCase" ("Key" int PRIMARY KEY, "Val" text, '
                    'plain int)' % ks)
    session.execute('INSERT INTO %s."MixedCase" ("Key", "Val", PLAIN) VALUES (1, \'x\', 2)' % ks)
    row = session.execute('SELECT "Key", "Val", plain FROM %s."MixedCase" WHERE "Key" = 1'
                          % ks).one()
    assert tuple(row) == (1, "x", 2)
    tm = cluster.metadata.keyspaces[ks].tables["MixedCase"]
    assert set(tm.columns) == {"Key", "Val", "plain"}
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM %s.mixedcase WHERE key = 1" % ks)


def test_multi_column_slices_with_tuple_markers(session, ks):
    """(c1, c2) > ? binds the whole tuple (frozen<tuple<..>>, named
    "(c1,c2)" as Cassandra names it), in SELECT (one storage slice, or a
    row filter over mixed clustering orders and scans) and DELETE (range
    tombstones); (c1, c2) = ? is the one tuple. The expected rows are what
    Cassandra 5.0.9 answered to the same statements."""
    session.execute("CREATE TABLE %s.mct (k int, c1 int, c2 int, v int, PRIMARY KEY (k, c1, c2)) "
                    "WITH CLUSTERING ORDER BY (c1 ASC, c2 DESC)" % ks)
    ins = session.prepare("INSERT INTO %s.mct (k, c1, c2, v) VALUES (?, ?, ?, 0)" % ks)
    for k in range(3):
        for a in range(3):
            for b in range(3):
                session.execute(ins, (k, a, b))

    def rows(q, args):
        p = session.prepare(q % ks)
        return p, sorted((r.k, r.c1, r.c2) for r in session.execute(p, args))

    p, got = rows("SELECT k, c1, c2 FROM %s.mct WHERE k = ? AND (c1, c2) > ?", (0, (1, 1)))
    assert [(c.name, c.type.cql_parameterized_type()) for c in p.column_metadata] == \
        [("k", "int"), ("(c1,c2)", "frozen<tuple<int, int>>")]
    assert got == [(0, 1, 2), (0, 2, 0), (0, 2, 1), (0, 2, 2)]
    assert rows("SELECT k, c1, c2 FROM %s.mct WHERE k = ? AND (c1, c2) = ?", (0, (1, 1)))[1] == \
        [(0, 1, 1)]
    assert rows("SELECT k, c1, c2 FROM %s.mct WHERE k = ? AND (c1) <= ?", (0, (1,)))[1] == \
        [(0, a, b) for a in (0, 1) for b in (0, 1, 2)]
    assert rows("SELECT k, c1, c2 FROM %s.mct WHERE k = ? AND c1 = ? AND (c2) < ?",
                (0, 1, (2,)))[1] == [(0, 1, 0), (0, 1, 1)]
    assert rows("SELECT k, c1, c2 FROM %s.mct WHERE (c1, c2) > ? AND (c1, c2) <= ? "
                "ALLOW FILTERING", ((1, 1), (2, 0)))[1] == \
        sorted([(k, 1, 2) for k in range(3)] + [(k, 2, 0) for k in range(3)])
    p = session.prepare("SELECT k, c1, c2 FROM %s.mct WHERE k = ? AND (c1, c2) > ?" % ks)
    with pytest.raises(InvalidRequest, match="Invalid null value in condition for column c2"):
        session.execute(p, (0, (1, None)))
    session.execute(session.prepare("DELETE FROM %s.mct WHERE k = ? AND (c1, c2) >= ?" % ks),
                    (2, (2, 1)))
    session.execute(session.prepare("DELETE FROM %s.mct WHERE k = ? AND (c1, c2) = ?" % ks),
                    (2, (0, 0)))
    assert rows("SELECT k, c1, c2 FROM %s.mct WHERE k = ?", (2,))[1] == \
        [(2, 0, 1), (2, 0, 2), (2, 1, 0), (2, 1, 1), (2, 1, 2), (2, 2, 0)]
