"""DDL through the driver: keyspaces, tables, IF [NOT] EXISTS, error classes."""

import time

import pytest
from cassandra import AlreadyExists, InvalidRequest, Unauthorized
from cassandra.protocol import SyntaxException

from conftest import unique_name

SIMPLE = "{'class': 'SimpleStrategy', 'replication_factor': 1}"


def _dc(session):
    return session.execute("SELECT data_center FROM system.local").one().data_center


def test_create_drop_keyspace_simple(cluster, session):
    ks = unique_name()
    t0 = time.monotonic()
    session.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    assert time.monotonic() - t0 < 5.0
    km = cluster.metadata.keyspaces[ks]
    assert km.replication_strategy.name == "SimpleStrategy"
    assert km.durable_writes is True
    row = session.execute("SELECT keyspace_name, durable_writes, replication FROM "
                          "system_schema.keyspaces WHERE keyspace_name = %s", (ks,)).one()
    assert row is not None
    assert row.replication["class"] == "org.apache.cassandra.locator.SimpleStrategy"
    assert row.replication["replication_factor"] == "1"
    session.execute("DROP KEYSPACE %s" % ks)
    assert ks not in cluster.metadata.keyspaces
    assert session.execute("SELECT * FROM system_schema.keyspaces WHERE keyspace_name = %s",
                           (ks,)).one() is None


def test_create_drop_keyspace_nts(cluster, session):
    ks = unique_name()
    dc = _dc(session)
    session.execute("CREATE KEYSPACE %s WITH replication = "
                    "{'class': 'NetworkTopologyStrategy', '%s': 1} AND durable_writes = true"
                    % (ks, dc))
    km = cluster.metadata.keyspaces[ks]
    assert km.replication_strategy.name == "NetworkTopologyStrategy"
    assert km.replication_strategy.dc_replication_factors == {dc: 1}
    # the keyspace is usable
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % ks)
    session.execute("INSERT INTO %s.t (k, v) VALUES (1, 2)" % ks)
    assert session.execute("SELECT v FROM %s.t WHERE k = 1" % ks).one().v == 2
    session.execute("DROP KEYSPACE %s" % ks)
    assert ks not in cluster.metadata.keyspaces


def test_keyspace_if_not_exists_and_if_exists(cluster, session):
    ks = unique_name()
    session.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s" % (ks, SIMPLE))
    session.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s" % (ks, SIMPLE))
    assert ks in cluster.metadata.keyspaces
    with pytest.raises(AlreadyExists) as ei:
        session.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    assert ei.value.keyspace == ks
    session.execute("DROP KEYSPACE IF EXISTS %s" % ks)
    session.execute("DROP KEYSPACE IF EXISTS %s" % ks)
    with pytest.raises(InvalidRequest):
        session.execute("DROP KEYSPACE %s" % ks)
    assert ks not in cluster.metadata.keyspaces


def test_keyspace_name_case_insensitive_unquoted(cluster, session):
    ks = unique_name()
    session.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks.upper(), SIMPLE))
    assert ks in cluster.metadata.keyspaces
    with pytest.raises(AlreadyExists):
        session.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    session.execute("DROP KEYSPACE %s" % ks)


def test_create_table_variants(cluster, session, keyspace):
    ks = keyspace
    session.execute("CREATE TABLE %s.single (k int PRIMARY KEY, v text)" % ks)
    session.execute("CREATE TABLE %s.single2 (k text, v int, PRIMARY KEY (k))" % ks)
    session.execute("CREATE TABLE %s.comp (a int, b text, v int, PRIMARY KEY ((a, b)))" % ks)
    session.execute("CREATE TABLE %s.clus (p int, c1 int, c2 text, v int, "
                    "PRIMARY KEY (p, c1, c2))" % ks)
    session.execute("CREATE TABLE %s.rev (p int, c int, v int, PRIMARY KEY (p, c)) "
                    "WITH CLUSTERING ORDER BY (c DESC)" % ks)
    session.execute("CREATE TABLE %s.both (a int, b int, c int, d int, v int, "
                    "PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c ASC, d DESC)" % ks)
    tables = cluster.metadata.keyspaces[ks].tables
    assert set(tables) == {"single", "single2", "comp", "clus", "rev", "both"}
    assert [c.name for c in tables["single"].partition_key] == ["k"]
    assert tables["single"].clustering_key == []
    assert [c.name for c in tables["single2"].partition_key] == ["k"]
    assert [c.name for c in tables["comp"].partition_key] == ["a", "b"]
    assert [c.name for c in tables["clus"].clustering_key] == ["c1", "c2"]
    assert tables["rev"].columns["c"].is_reversed
    assert not tables["both"].columns["c"].is_reversed
    assert tables["both"].columns["d"].is_reversed
    rows = {r.column_name: (r.kind, r.position, r.clustering_order) for r in session.execute(
        "SELECT column_name, kind, position, clustering_order FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = 'both'", (ks,))}
    assert rows == {"a": ("partition_key", 0, "none"), "b": ("partition_key", 1, "none"),
                    "c": ("clustering", 0, "asc"), "d": ("clustering", 1, "desc"),
                    "v": ("regular", -1, "none")}
    for t in list(tables):
        session.execute("DROP TABLE %s.%s" % (ks, t))
    assert cluster.metadata.keyspaces[ks].tables == {}


def test_table_if_not_exists_and_if_exists(cluster, session, keyspace):
    ks = keyspace
    ddl = "CREATE TABLE %s %s.t (k int PRIMARY KEY, v int)"
    session.execute(ddl % ("", ks))
    session.execute(ddl % ("IF NOT EXISTS", ks))
    with pytest.raises(AlreadyExists) as ei:
        session.execute(ddl % ("", ks))
    assert ei.value.keyspace == ks and ei.value.table == "t"
    session.execute("DROP TABLE %s.t" % ks)
    session.execute("DROP TABLE IF EXISTS %s.t" % ks)
    with pytest.raises(InvalidRequest):
        session.execute("DROP TABLE %s.t" % ks)


def test_unknown_keyspace_and_table_errors(session, keyspace):
    missing = unique_name("nosuch")
    with pytest.raises(InvalidRequest):
        session.execute("CREATE TABLE %s.t (k int PRIMARY KEY)" % missing)
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM %s.t" % missing)
    with pytest.raises(InvalidRequest):
        session.execute("INSERT INTO %s.t (k) VALUES (1)" % missing)
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM %s.nosuch WHERE k = 1" % keyspace)
    with pytest.raises(InvalidRequest):
        session.execute("INSERT INTO %s.nosuch (k) VALUES (1)" % keyspace)
    with pytest.raises(InvalidRequest):
        session.execute("USE %s" % missing)


def test_invalid_table_definitions(session, keyspace):
    ks = keyspace
    bad = [
        "CREATE TABLE %s.b1 (k int, v int)",  # no primary key
        "CREATE TABLE %s.b2 (k int PRIMARY KEY, v int, PRIMARY KEY (k))",  # two
        "CREATE TABLE %s.b3 (k int, v int, PRIMARY KEY (nosuch))",
        "CREATE TABLE %s.b4 (k int PRIMARY KEY, k text)",  # duplicate column
        "CREATE TABLE %s.b5 (k nosuchtype PRIMARY KEY)",
        "CREATE TABLE %s.b6 (k int, c int, PRIMARY KEY (k, c)) "
        "WITH CLUSTERING ORDER BY (k DESC)",  # not a clustering column
    ]
    for stmt in bad:
        with pytest.raises((InvalidRequest, SyntaxException)):
            session.execute(stmt % ks)


@pytest.mark.parametrize("stmt,where", [
    ("SELEKT * FROM system.local", "line 1:0"),
    ("SELECT * FROM system.local WHERE", None),
    ("CREATE TABLE (k int PRIMARY KEY)", "line 1:13"),
    ("SELECT * FROM system.local WHERE key = 'local' AND AND", "line 1:"),
    ("SELECT * FROM", None),
    ("INSERT INTO system.local (key) VALUES ('a'", None),
])
def test_syntax_error(session, stmt, where):
    with pytest.raises(SyntaxException) as ei:
        session.execute(stmt)
    assert type(ei.value).error_code == 0x2000
    msg = str(ei.value)
    if where is None:
        # an error at end of input: Cassandra (ANTLR) reports the EOF token
        # as "line 0:-1 ... at input '<EOF>'"; a position on line 1 is fine too
        assert "line 1:" in msg or "line 0:-1" in msg, msg
    else:
        assert where in msg, msg


def test_drop_keyspace_with_tables_and_data(cluster, session):
    ks = unique_name()
    session.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % ks)
    for i in range(50):
        session.execute("INSERT INTO %s.t (k, v) VALUES (%d, %d)" % (ks, i, i))
    session.execute("DROP KEYSPACE %s" % ks)
    assert ks not in cluster.metadata.keyspaces
    # re-creating gives an empty table (no resurrected data)
    session.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % ks)
    for i in range(50):
        assert session.execute("SELECT v FROM %s.t WHERE k = %d" % (ks, i)).one() is None
    session.execute("DROP KEYSPACE %s" % ks)


def test_system_keyspaces_are_protected(session):
    # Cassandra answers Unauthorized ("Cannot DROP <keyspace system>")
    with pytest.raises((InvalidRequest, Unauthorized)):
        session.execute("DROP KEYSPACE system")
    with pytest.raises((InvalidRequest, Unauthorized)):
        session.execute("CREATE TABLE system.mine (k int PRIMARY KEY)")
