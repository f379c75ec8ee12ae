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
