"""Collections and TTL through the Python driver against the real server.

What: list, set and map columns, frozen and non-frozen, as literals and as
bound values of prepared statements; every UPDATE operation on them
(overwrite, append, prepend, removal, element set and delete by key or
index), their merge with concurrent writes by timestamp, survival of
flushes (tiny memtables) and a restart, frozen collections as partition and
clustering keys, CONTAINS / CONTAINS KEY filtering, per-element
WRITETIME/TTL, and TTL expiry of cells and of whole rows.

The expected values follow Cassandra 5.0's semantics; the differential
suite (tests/compat/) checks the same statements against answers recorded
from Cassandra itself.
"""

import re
import time

import pytest
from cassandra import InvalidRequest
from cassandra.util import OrderedMapSerializedKey, SortedSet


def as_py(v):
    if isinstance(v, OrderedMapSerializedKey):
        return {as_py(k): as_py(x) for k, x in v.items()}
    if isinstance(v, SortedSet):
        return set(as_py(x) for x in v)
    if isinstance(v, (list, tuple)):
        return [as_py(x) for x in v]
    return v


@pytest.fixture
def tbl(session, keyspace):
    session.execute("CREATE TABLE %s.c (k int PRIMARY KEY, l list<int>, s set<text>, "
                    "m map<text, int>, fl frozen<list<int>>, fs frozen<set<int>>)" % keyspace)
    return keyspace + ".c"


def row(session, tbl, k=1, cols="l, s, m"):
    r = session.execute("SELECT %s FROM %s WHERE k = %d" % (cols, tbl, k)).one()
    return None if r is None else tuple(as_py(x) for x in r)


def test_literals_and_overwrite(session, tbl):
    session.execute("INSERT INTO %s (k, l, s, m) VALUES (1, [3, 1, 3], {'b', 'a', 'b'}, "
                    "{'z': 1, 'a': 2})" % tbl)
    assert row(session, tbl) == ([3, 1, 3], {"a", "b"}, {"a": 2, "z": 1})
    # overwriting replaces every element, it does not merge
    session.execute("UPDATE %s SET l = [9], s = {'c'}, m = {'q': 7} WHERE k = 1" % tbl)
    assert row(session, tbl) == ([9], {"c"}, {"q": 7})
    # an empty collection is null
    session.execute("UPDATE %s SET l = [], s = {}, m = {} WHERE k = 1" % tbl)
    assert row(session, tbl) == (None, None, None)


def test_operations(session, tbl):
    session.execute("INSERT INTO %s (k, l, s, m) VALUES (1, [1, 2], {'a'}, {'a': 1})" % tbl)
    session.execute("UPDATE %s SET l = l + [3, 4] WHERE k = 1" % tbl)
    session.execute("UPDATE %s SET l = [-1, 0] + l WHERE k = 1" % tbl)
    session.execute("UPDATE %s SET s = s + {'c', 'b'} WHERE k = 1" % tbl)
    session.execute("UPDATE %s SET m = m + {'b': 2, 'a': 10} WHERE k = 1" % tbl)
    session.execute("UPDATE %s SET m['c'] = 3 WHERE k = 1" % tbl)
    assert row(session, tbl) == ([-1, 0, 1, 2, 3, 4], {"a", "b", "c"},
                                 {"a": 10, "b": 2, "c": 3})
    session.execute("UPDATE %s SET l = l - [0, 3], s = s - {'a'}, m = m - {'b'} "
                    "WHERE k = 1" % tbl)
    assert row(session, tbl) == ([-1, 1, 2, 4], {"b", "c"}, {"a": 10, "c": 3})
    session.execute("UPDATE %s SET l[1] = 100 WHERE k = 1" % tbl)
    session.execute("DELETE l[0], m['a'] FROM %s WHERE k = 1" % tbl)
    assert row(session, tbl) == ([100, 2, 4], {"b", "c"}, {"c": 3})
    session.execute("UPDATE %s SET m['c'] = null WHERE k = 1" % tbl)
    session.execute("DELETE s FROM %s WHERE k = 1" % tbl)
    assert row(session, tbl) == ([100, 2, 4], None, None)
    with pytest.raises(InvalidRequest, match="List index 5 out of bound, list has size 3"):
        session.execute("UPDATE %s SET l[5] = 1 WHERE k = 1" % tbl)
    with pytest.raises(InvalidRequest, match="Attempted to set an element on a list which is "
                                             "null"):
        session.execute("UPDATE %s SET l[0] = 1 WHERE k = 2" % tbl)


def test_prepared_values(session, tbl):
    ins = session.prepare("INSERT INTO %s (k, l, s, m, fl, fs) VALUES (?, ?, ?, ?, ?, ?)" % tbl)
    session.execute(ins, (1, [5, 6], {"x", "y"}, {"k": 1}, [7, 7], {3, 1}))
    assert row(session, tbl, cols="l, s, m, fl, fs") == ([5, 6], {"x", "y"}, {"k": 1}, [7, 7],
                                                         {1, 3})
    add = session.prepare("UPDATE %s SET l = l + ?, m[?] = ? WHERE k = ?" % tbl)
    session.execute(add, ([8], "j", 2, 1))
    assert row(session, tbl, cols="l, m") == ([5, 6, 8], {"j": 2, "k": 1})
    # the markers' metadata names elements as Cassandra does
    names = [c.name for c in add.column_metadata]
    assert names == ["l", "key(m)", "value(m)", "k"]


def test_timestamps_merge_per_element(session, tbl):
    session.execute("UPDATE %s USING TIMESTAMP 100 SET m['a'] = 1, s = s + {'x'} "
                    "WHERE k = 1" % tbl)
    # an overwrite at 50 only clears what is older than it: nothing here
    session.execute("UPDATE %s USING TIMESTAMP 50 SET m = {'b': 2} WHERE k = 1" % tbl)
    assert row(session, tbl, cols="m") == ({"a": 1, "b": 2},)
    session.execute("UPDATE %s USING TIMESTAMP 200 SET m = {'c': 3} WHERE k = 1" % tbl)
    assert row(session, tbl, cols="m, s") == ({"c": 3}, {"x"})
    wt = session.execute("SELECT writetime(m), writetime(s) FROM %s WHERE k = 1" % tbl).one()
    assert list(wt[0]) == [200] and list(wt[1]) == [100]


def test_frozen_keys_and_contains(session, keyspace):
    t = keyspace + ".fk"
    session.execute("CREATE TABLE %s (k frozen<list<int>>, c frozen<set<int>>, "
                    "v map<text, int>, PRIMARY KEY (k, c))" % t)
    for c, v in (("{3}", 1), ("{1, 2}", 2), ("{}", 3), ("{1}", 4)):
        session.execute("INSERT INTO %s (k, c, v) VALUES ([1, 2], %s, {'n': %d})" % (t, c, v))
    rows = session.execute("SELECT c, v FROM %s WHERE k = [1, 2]" % t)
    assert [(as_py(r.c), as_py(r.v)) for r in rows] == [
        (set(), {"n": 3}), ({1}, {"n": 4}), ({1, 2}, {"n": 2}), ({3}, {"n": 1})]
    rows = session.execute("SELECT c FROM %s WHERE k = [1, 2] AND c > {1}" % t)
    assert [as_py(r.c) for r in rows] == [{1, 2}, {3}]
    rows = session.execute("SELECT c FROM %s WHERE v CONTAINS 2 ALLOW FILTERING" % t)
    assert [as_py(r.c) for r in rows] == [{1, 2}]
    rows = session.execute("SELECT c FROM %s WHERE v CONTAINS KEY 'n' ALLOW FILTERING" % t)
    assert len(list(rows)) == 4
    with pytest.raises(InvalidRequest, match="Invalid non-frozen collection type list<int> for "
                                             "PRIMARY KEY column 'k'"):
        session.execute("CREATE TABLE %s.bad (k list<int> PRIMARY KEY)" % keyspace)


def test_ttl_expiry(session, tbl):
    session.execute("INSERT INTO %s (k, l, s) VALUES (1, [1], {'a'}) USING TTL 1" % tbl)
    session.execute("INSERT INTO %s (k, l) VALUES (2, [2]) USING TTL 1" % tbl)
    session.execute("UPDATE %s SET s = s + {'b'} WHERE k = 2" % tbl)  # no TTL
    ttl = session.execute("SELECT ttl(l) FROM %s WHERE k = 1" % tbl).one()[0]
    assert list(ttl) == [1]
    time.sleep(2.2)
    # every cell and the row marker of row 1 expired: the row is gone
    assert row(session, tbl, 1) is None
    # row 2 keeps its live set element
    assert row(session, tbl, 2) == (None, {"b"}, None)


def test_survive_flush_and_restart(flushing_server, connect):
    srv, s = flushing_server
    s.execute("CREATE TABLE k1.t (k int PRIMARY KEY, l list<int>, m map<int, text>)")
    for i in range(200):
        s.execute("UPDATE k1.t SET l = l + [%d], m[%d] = 'v%d' WHERE k = %d" % (i, i, i, i % 5))
    s.execute("UPDATE k1.t SET m = {0: 'reset'} WHERE k = 0")
    s.execute("DELETE l FROM k1.t WHERE k = 1")

    def check(sess):
        got = {r.k: (as_py(r.l), as_py(r.m)) for r in sess.execute("SELECT k, l, m FROM k1.t")}
        assert got[0] == ([i for i in range(200) if i % 5 == 0], {0: "reset"})
        assert got[1] == (None, {i: "v%d" % i for i in range(200) if i % 5 == 1})
        assert got[4] == ([i for i in range(200) if i % 5 == 4],
                          {i: "v%d" % i for i in range(200) if i % 5 == 4})

    check(s)
    srv.stop()
    srv.start()
    check(connect(srv))


def test_vectors(session, keyspace):
    """vector<float, n> as CassIO stores embeddings: literals, prepared
    binding (the driver sees Cassandra's VectorType custom type), 384
    dimensions, vectors of variable-size elements, and Cassandra's errors."""
    t = keyspace + ".vec"
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, v vector<float, 3>, "
                    "t vector<text, 2>, e vector<float, 384>)" % t)
    session.execute("INSERT INTO %s (k, v, t) VALUES (1, [1.5, 2, -3], ['a', 'bc'])" % t)
    ins = session.prepare("INSERT INTO %s (k, v, e) VALUES (?, ?, ?)" % t)
    emb = [i / 512.0 for i in range(384)]
    session.execute(ins, (2, [0.5, 0.25, 1.0], emb))
    got = {r.k: r for r in session.execute("SELECT k, v, t, e FROM %s" % t)}
    assert list(got[1].v) == [1.5, 2.0, -3.0] and list(got[1].t) == ["a", "bc"]
    assert list(got[2].v) == [0.5, 0.25, 1.0] and list(got[2].e) == emb
    typ = session.execute("SELECT type FROM system_schema.columns WHERE keyspace_name = %s AND "
                          "table_name = 'vec' AND column_name = 'e'", (keyspace,)).one().type
    assert typ == "vector<float, 384>"
    for stmt, msg in [
        ("INSERT INTO %s (k, v) VALUES (3, [1, 2])" % t,
         "Invalid vector literal for v of type vector<float, 3>; expected 3 elements, but given 2"),
        ("INSERT INTO %s (k, v) VALUES (3, [1, null, 3])" % t, "null is not supported inside vectors"),
        ("INSERT INTO %s (k, v) VALUES (3, ['a', 2, 3])" % t,
         "Invalid vector literal for v: value 'a' is not of type float"),
        ("CREATE TABLE %s_bad (k int PRIMARY KEY, v vector<float, 0>)" % t,
         "vectors may only have positive dimensions; given 0"),
    ]:
        with pytest.raises(InvalidRequest, match=re.escape(msg)):
            session.execute(stmt)


def test_element_selection(session, keyspace):
    t = keyspace + ".el"
    session.execute("CREATE TABLE %s (k int PRIMARY KEY, l list<int>, s set<text>, "
                    "m map<text, int>, fm frozen<map<int, text>>)" % t)
    session.execute("INSERT INTO %s (k, l, s, m, fm) VALUES (1, [1, 2], {'a', 'b'}, "
                    "{'x': 1, 'y': 2}, {3: 'c'})" % t)
    r = session.execute("SELECT m['x'], m['z'], s['a'], s['q'], fm[3] FROM %s WHERE k = 1" % t)
    assert r.column_names == ["m['x']", "m['z']", "s['a']", "s['q']", "fm[3]"]
    assert tuple(r.one()) == (1, None, "a", None, "c")
    with pytest.raises(InvalidRequest, match="Element selection is only allowed on sets and "
                                             "maps, but l is a list"):
        session.execute("SELECT l[0] FROM %s WHERE k = 1" % t)
    with pytest.raises(InvalidRequest, match=re.escape('Invalid INTEGER constant (1) for '
                                                       '"key(m)" of type text')):
        session.execute("SELECT m[1] FROM %s WHERE k = 1" % t)
