"""Tuples and user-defined types through the Python driver.

What: tuple columns as literals and prepared binds (null components, keys,
clustering order, collections of tuples), the result metadata the driver
decodes them with ([option] 0x0031 / 0x0030), and user-defined types:
CREATE / ALTER / DROP TYPE, frozen UDT columns bound as registered classes
and as dicts, field selection, and the schema metadata the driver reads
(cluster.metadata.keyspaces[ks].user_types from system_schema.types).

The expected values and messages follow Cassandra 5.0.9 (checked by hand
against it).
"""

import pytest
from cassandra import InvalidRequest


def test_tuple_literals_and_binds(session, keyspace):
    session.execute("CREATE TABLE %s.tt (k int PRIMARY KEY, v tuple<int, text>, "
                    "l list<frozen<tuple<int, int>>>)" % keyspace)
    session.execute("INSERT INTO %s.tt (k, v, l) VALUES (1, (1, 'a'), [(1, 2)])" % keyspace)
    r = session.execute("SELECT v, l FROM %s.tt WHERE k = 1" % keyspace).one()
    assert r.v == (1, "a")
    assert list(r.l) == [(1, 2)]
    ins = session.prepare("INSERT INTO %s.tt (k, v) VALUES (?, ?)" % keyspace)
    session.execute(ins, (2, (5, None)))
    session.execute(ins, (3, (6, "x")))
    assert session.execute("SELECT v FROM %s.tt WHERE k = 2" % keyspace).one().v == (5, None)
    sel = session.prepare("SELECT k FROM %s.tt WHERE k = ?" % keyspace)
    assert session.execute(sel, (3,)).one().k == 3
    # a marker inside a tuple literal is bound to the component's type
    ins2 = session.prepare("INSERT INTO %s.tt (k, v) VALUES (?, (?, ?))" % keyspace)
    session.execute(ins2, (4, 7, "y"))
    assert session.execute("SELECT v FROM %s.tt WHERE k = 4" % keyspace).one().v == (7, "y")
    with pytest.raises(InvalidRequest, match="too many elements"):
        session.execute("INSERT INTO %s.tt (k, v) VALUES (5, (1, 'a', 2))" % keyspace)
    with pytest.raises(InvalidRequest, match="component 0 is not of type int"):
        session.execute("INSERT INTO %s.tt (k, v) VALUES (5, ('x', 'a'))" % keyspace)


def test_tuple_clustering(session, keyspace):
    session.execute("CREATE TABLE %s.tc (k int, c frozen<tuple<int, text>>, v int, "
                    "PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)" % keyspace)
    ins = session.prepare("INSERT INTO %s.tc (k, c, v) VALUES (0, ?, ?)" % keyspace)
    for i, c in enumerate([(2, "a"), (1, "b"), (1, None), (1, "a")]):
        session.execute(ins, (c, i))
    rows = [r.c for r in session.execute("SELECT c FROM %s.tc WHERE k = 0" % keyspace)]
    assert rows == [(2, "a"), (1, "b"), (1, "a"), (1, None)]
    sel = session.prepare("SELECT v FROM %s.tc WHERE k = 0 AND c = ?" % keyspace)
    assert session.execute(sel, ((1, "b"),)).one().v == 1


class Addr(object):
    def __init__(self, street=None, num=None, **more):
        self.street = street
        self.num = num
        for k, v in more.items():
            setattr(self, k, v)


def test_udt_schema_metadata(session, cluster, keyspace):
    session.execute("CREATE TYPE %s.addr (street text, num int)" % keyspace)
    session.execute("CREATE TYPE %s.person (name text, home frozen<addr>, tags list<text>)"
                    % keyspace)
    cluster.refresh_schema_metadata()
    types = cluster.metadata.keyspaces[keyspace].user_types
    assert set(types) == {"addr", "person"}
    assert types["addr"].field_names == ["street", "num"]
    assert types["addr"].field_types == ["text", "int"]
    assert types["person"].field_types == ["text", "frozen<addr>", "list<text>"]
    session.execute("ALTER TYPE %s.addr ADD zip text" % keyspace)
    session.execute("ALTER TYPE %s.addr RENAME zip TO zipcode" % keyspace)
    cluster.refresh_schema_metadata()
    assert cluster.metadata.keyspaces[keyspace].user_types["addr"].field_names == \
        ["street", "num", "zipcode"]
    with pytest.raises(InvalidRequest, match="still used by user types person"):
        session.execute("DROP TYPE %s.addr" % keyspace)
    session.execute("DROP TYPE %s.person" % keyspace)
    session.execute("DROP TYPE %s.addr" % keyspace)
    cluster.refresh_schema_metadata()
    assert cluster.metadata.keyspaces[keyspace].user_types == {}


def test_udt_values(session, cluster, keyspace):
    session.execute("CREATE TYPE %s.addr (street text, num int)" % keyspace)
    session.execute("CREATE TABLE %s.ut (k int PRIMARY KEY, a frozen<addr>, "
                    "l list<frozen<addr>>)" % keyspace)
    session.execute("INSERT INTO %s.ut (k, a) VALUES (1, {street: 'main', num: 3})" % keyspace)
    # without a registered class the driver returns a named tuple
    r = session.execute("SELECT a FROM %s.ut WHERE k = 1" % keyspace).one()
    assert r.a.street == "main" and r.a.num == 3
    r = session.execute("SELECT a.num, a.street FROM %s.ut WHERE k = 1" % keyspace).one()
    assert tuple(r) == (3, "main")
    cluster.register_user_type(keyspace, "addr", Addr)
    ins = session.prepare("INSERT INTO %s.ut (k, a, l) VALUES (?, ?, ?)" % keyspace)
    session.execute(ins, (2, Addr("elm", None), [Addr("x", 1), Addr(None, 2)]))
    r = session.execute("SELECT a, l FROM %s.ut WHERE k = 2" % keyspace).one()
    assert isinstance(r.a, Addr)
    assert (r.a.street, r.a.num) == ("elm", None)
    assert [(x.street, x.num) for x in r.l] == [("x", 1), (None, 2)]
    # markers inside a UDT literal are named and typed after the fields
    ins2 = session.prepare("INSERT INTO %s.ut (k, a) VALUES (?, {street: ?, num: ?})" % keyspace)
    session.execute(ins2, (3, "oak", 9))
    r = session.execute("SELECT a FROM %s.ut WHERE k = 3" % keyspace).one()
    assert (r.a.street, r.a.num) == ("oak", 9)
    with pytest.raises(InvalidRequest, match="Unknown field 'nope' in value of user defined type addr"):
        session.execute("INSERT INTO %s.ut (k, a) VALUES (4, {nope: 1})" % keyspace)
    # an added field reads as null in existing values
    session.execute("ALTER TYPE %s.addr ADD zip text" % keyspace)
    r = session.execute("SELECT a FROM %s.ut WHERE k = 3" % keyspace).one()
    assert (r.a.street, r.a.num, r.a.zip) == ("oak", 9, None)


def test_udt_clustering_and_key(session, keyspace):
    session.execute("CREATE TYPE %s.pt (x int, y int)" % keyspace)
    session.execute("CREATE TABLE %s.uk (k frozen<pt>, c frozen<pt>, v int, PRIMARY KEY (k, c))"
                    % keyspace)
    ins = session.prepare("INSERT INTO %s.uk (k, c, v) VALUES ({x: 0, y: 0}, ?, ?)" % keyspace)
    for i, (x, y) in enumerate([(2, 1), (1, 5), (1, -1)]):
        session.execute(ins, ((x, y), i))
    rows = session.execute("SELECT c FROM %s.uk WHERE k = {x: 0, y: 0}" % keyspace)
    assert [(r.c.x, r.c.y) for r in rows] == [(1, -1), (1, 5), (2, 1)]


def test_non_frozen_udt(session, cluster, keyspace):
    session.execute("CREATE TYPE %s.nf (a int, b text)" % keyspace)
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, u nf)" % keyspace)
    cluster.refresh_schema_metadata()
    assert cluster.metadata.keyspaces[keyspace].tables["t"].columns["u"].cql_type == "nf"
    ins = session.prepare("INSERT INTO %s.t (k, u) VALUES (?, ?)" % keyspace)
    session.execute(ins, (1, (1, "x")))
    upd = session.prepare("UPDATE %s.t SET u.b = ? WHERE k = ?" % keyspace)
    assert upd.column_metadata[0].name == "u.b"
    session.execute(upd, ("y", 1))
    r = session.execute("SELECT u FROM %s.t WHERE k = 1" % keyspace).one()
    assert (r.u.a, r.u.b) == (1, "y")
    session.execute("DELETE u.a FROM %s.t WHERE k = 1" % keyspace)
    r = session.execute("SELECT u FROM %s.t WHERE k = 1" % keyspace).one()
    assert (r.u.a, r.u.b) == (None, "y")
    # overwriting the whole value clears the fields it does not set
    session.execute("UPDATE %s.t SET u = {a: 5} WHERE k = 1" % keyspace)
    r = session.execute("SELECT u FROM %s.t WHERE k = 1" % keyspace).one()
    assert (r.u.a, r.u.b) == (5, None)
    with pytest.raises(InvalidRequest, match="does not have a field named nope"):
        session.execute("UPDATE %s.t SET u.nope = 1 WHERE k = 1" % keyspace)


def test_bound_sets_inside_tuples_are_normalised(session, keyspace):
    # the driver sends the set's elements in the order given; the key must
    # still equal the literal {1, 2, 3}
    session.execute("CREATE TABLE %s.ts (k int, c frozen<tuple<int, set<int>>>, v int, "
                    "PRIMARY KEY (k, c))" % keyspace)
    ins = session.prepare("INSERT INTO %s.ts (k, c, v) VALUES (0, ?, 1)" % keyspace)
    session.execute(ins, ((1, [3, 1, 2, 3]),))
    r = session.execute("SELECT c, v FROM %s.ts WHERE k = 0 AND c = (1, {1, 2, 3})"
                        % keyspace).one()
    assert r.v == 1
    assert sorted(r.c[1]) == [1, 2, 3]
