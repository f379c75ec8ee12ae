"""ALTER TABLE, ALTER KEYSPACE and TRUNCATE through the Python driver:
prepared statements across ALTER, dropped columns staying dropped, pushed
SCHEMA_CHANGE events, schema_version, and TRUNCATE surviving restarts and
kill -9 (2 shards)."""

import pytest
from cassandra import InvalidRequest, Unauthorized
from cassandra.protocol import ConfigurationException, SyntaxException

from conftest import unique_name
from test_protocol import Raw, _read_event, _register

SIMPLE = "{'class': 'SimpleStrategy', 'replication_factor': 1}"


def _version(session):
    return session.execute("SELECT schema_version FROM system.local").one().schema_version


def test_add_column_prepared_statements(cluster, session, keyspace):
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % keyspace)
    ins = session.prepare("INSERT INTO %s.t (k, v) VALUES (?, ?)" % keyspace)
    star = session.prepare("SELECT * FROM %s.t WHERE k = ?" % keyspace)
    session.execute(ins, (1, 10))
    assert list(session.execute(star, (1,)).one()) == [1, 10]
    v0 = _version(session)
    session.execute("ALTER TABLE %s.t ADD (w text, l list<int>)" % keyspace)
    assert _version(session) != v0
    tm = cluster.metadata.keyspaces[keyspace].tables["t"]
    assert list(tm.columns) == ["k", "l", "v", "w"]
    # the old prepared statements still work; SELECT * shows the new columns
    session.execute(ins, (2, 20))
    row = session.execute(star, (2,)).one()
    assert row._fields == ("k", "l", "v", "w")
    assert (row.k, row.v, row.w, row.l) == (2, 20, None, None)
    ins2 = session.prepare("INSERT INTO %s.t (k, v, w) VALUES (?, ?, ?)" % keyspace)
    session.execute(ins2, (3, 30, "x"))
    assert session.execute(star, (3,)).one().w == "x"
    assert "w text" in session.execute("DESCRIBE TABLE %s.t" % keyspace).one().create_statement


def test_drop_then_readd_shows_no_old_data(session, keyspace):
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int, w text)" % keyspace)
    for k in range(20):
        session.execute("INSERT INTO %s.t (k, v, w) VALUES (%d, %d, 'old')" % (keyspace, k, k))
    session.execute("ALTER TABLE %s.t DROP w" % keyspace)
    rows = list(session.execute("SELECT * FROM %s.t" % keyspace))
    assert len(rows) == 20 and rows[0]._fields == ("k", "v")
    d = session.execute("SELECT * FROM system_schema.dropped_columns WHERE keyspace_name = %s",
                        (keyspace,)).one()
    assert (d.table_name, d.column_name, d.kind, d.type) == ("t", "w", "regular", "text")
    assert d.dropped_time is not None
    session.execute("ALTER TABLE %s.t ADD w text" % keyspace)
    assert all(r.w is None for r in session.execute("SELECT * FROM %s.t" % keyspace))
    session.execute("INSERT INTO %s.t (k, w) VALUES (1, 'new')" % keyspace)
    assert session.execute("SELECT w FROM %s.t WHERE k = 1" % keyspace).one().w == "new"
    assert session.execute("SELECT w FROM %s.t WHERE k = 2" % keyspace).one().w is None


def test_alter_errors(session, keyspace):
    session.execute("CREATE TABLE %s.t (k int, c int, v int, PRIMARY KEY (k, c))" % keyspace)
    cases = [
        ("ALTER TABLE %s.t ADD v int", InvalidRequest, "Column with name 'v' already exists"),
        ("ALTER TABLE %s.t DROP x", InvalidRequest, "Column x was not found in table '%s.t'"),
        ("ALTER TABLE %s.t DROP k", InvalidRequest, "Cannot drop PRIMARY KEY column k"),
        ("ALTER TABLE %s.t RENAME v TO w", InvalidRequest, "Cannot rename non PRIMARY KEY column v"),
        ("ALTER TABLE %s.nope ADD x int", InvalidRequest, "Table '%s.nope' doesn't exist"),
        ("ALTER TABLE %s.t WITH nope = 1", SyntaxException, "Unknown property 'nope'"),
        ("ALTER TABLE %s.t WITH gc_grace_seconds = -1", ConfigurationException,
         "gc_grace_seconds must be greater than or equal to 0 (got -1)"),
        ("ALTER TABLE %s.t ADD m map<int, list<int>>", InvalidRequest,
         "Non-frozen collections are not allowed inside collections: map<int, list<int>>"),
    ]
    for stmt, exc, msg in cases:
        with pytest.raises(exc) as ei:
            session.execute(stmt % keyspace)
        assert (msg % keyspace if "%s" in msg else msg) in str(ei.value), stmt
    with pytest.raises(Unauthorized, match="system keyspace is not user-modifiable."):
        session.execute("ALTER TABLE system.local ADD x int")
    session.execute("ALTER TABLE IF EXISTS %s.nope ADD x int" % keyspace)
    session.execute("ALTER TABLE %s.t RENAME c TO c2" % keyspace)
    assert session.execute("SELECT * FROM %s.t" % keyspace).column_names == ["k", "c2", "v"]


def test_alter_options_and_keyspace(cluster, session, keyspace):
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % keyspace)
    session.execute("ALTER TABLE %s.t WITH comment = 'hello' AND gc_grace_seconds = 5" % keyspace)
    r = session.execute("SELECT comment, gc_grace_seconds FROM system_schema.tables WHERE "
                        "keyspace_name = %s AND table_name = 't'", (keyspace,)).one()
    assert (r.comment, r.gc_grace_seconds) == ("hello", 5)
    assert cluster.metadata.keyspaces[keyspace].tables["t"].options["comment"] == "hello"
    session.execute("ALTER KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
                    "'replication_factor': 3} AND durable_writes = false" % keyspace)
    km = cluster.metadata.keyspaces[keyspace]
    assert km.durable_writes is False
    assert km.replication_strategy.replication_factor == 3
    with pytest.raises(InvalidRequest, match="Keyspace 'nope_x' doesn't exist"):
        session.execute("ALTER KEYSPACE nope_x WITH durable_writes = false")
    session.execute("ALTER KEYSPACE IF EXISTS nope_x WITH durable_writes = false")
    with pytest.raises(Unauthorized, match="system_schema keyspace is not user-modifiable."):
        session.execute("ALTER KEYSPACE system_schema WITH durable_writes = false")


def test_alter_events_pushed(server, session, keyspace):
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % keyspace)
    r = Raw(server.port)
    try:
        r.startup()
        _register(r, ["SCHEMA_CHANGE"])
        session.execute("ALTER TABLE %s.t ADD w int" % keyspace)
        assert _read_event(r) == ["SCHEMA_CHANGE", "UPDATED", "TABLE", keyspace, "t"]
        session.execute("ALTER KEYSPACE %s WITH durable_writes = false" % keyspace)
        assert _read_event(r) == ["SCHEMA_CHANGE", "UPDATED", "KEYSPACE", keyspace]
    finally:
        r.close()


def _fill(sess, n, start=0):
    ins = sess.prepare("INSERT INTO t (k, v) VALUES (?, ?)")
    for k in range(start, start + n):
        sess.execute(ins, (k, k))


def _keys(sess):
    return sorted(r.k for r in sess.execute("SELECT k FROM t"))


@pytest.mark.parametrize("how", ["restart", "kill"])
def test_truncate_two_shards_durable(make_server, connect, how):
    srv = make_server(shards=2)
    sess = connect(srv)
    ks = unique_name()
    sess.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    sess.set_keyspace(ks)
    sess.execute("CREATE TABLE t (k int PRIMARY KEY, v int)")
    sess.execute("CREATE TABLE other (k int PRIMARY KEY, v int)")
    sess.execute("INSERT INTO other (k, v) VALUES (1, 1)")
    _fill(sess, 200)
    assert len(_keys(sess)) == 200
    sess.execute("TRUNCATE t")
    assert _keys(sess) == []
    _fill(sess, 5, start=1000)
    assert _keys(sess) == list(range(1000, 1005))
    sess.cluster.shutdown()
    if how == "kill":
        srv.kill()
    else:
        srv.stop()
    srv.start()
    sess = connect(srv, ks)
    if how == "restart":  # the later writes were acknowledged and flushed at stop
        assert _keys(sess) == list(range(1000, 1005))
    else:  # periodic sync: the later writes may be lost, the truncated rows never come back
        assert set(_keys(sess)) <= set(range(1000, 1005))
    assert sess.execute("SELECT v FROM other WHERE k = 1").one().v == 1
    # truncate again, then restart again
    sess.execute("TRUNCATE TABLE %s.t" % ks)
    sess.cluster.shutdown()
    srv.kill()
    srv.start()
    sess = connect(srv, ks)
    assert _keys(sess) == []


def test_truncate_errors(session, keyspace):
    with pytest.raises(InvalidRequest, match="table nope does not exist"):
        session.execute("TRUNCATE %s.nope" % keyspace)
    with pytest.raises(InvalidRequest, match="keyspace nope_x does not exist"):
        session.execute("TRUNCATE nope_x.t")
    with pytest.raises(InvalidRequest,
                       match="Truncation is not supported by table system_virtual_schema.tables"):
        session.execute("TRUNCATE system_virtual_schema.tables")


def test_v5_result_metadata_id_changes_after_add(server, connect, keyspace):
    """v5: an EXECUTE of SELECT * prepared before ALTER ADD carries the old
    result_metadata_id; the server answers with METADATA_CHANGED and the new
    columns (the driver updates its prepared statement)."""
    sess = connect(server, protocol_version=5)
    sess.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % keyspace)
    star = sess.prepare("SELECT * FROM %s.t WHERE k = ?" % keyspace)
    old_id = star.result_metadata_id
    sess.execute("INSERT INTO %s.t (k, v) VALUES (1, 1)" % keyspace)
    assert sess.execute(star, (1,)).one()._fields == ("k", "v")
    sess.execute("ALTER TABLE %s.t ADD w text" % keyspace)
    sess.execute("INSERT INTO %s.t (k, v, w) VALUES (2, 2, 'x')" % keyspace)
    row = sess.execute(star, (2,)).one()
    assert row._fields == ("k", "v", "w") and row.w == "x"
    # the id of the statement prepared now is another one
    assert sess.prepare("SELECT * FROM %s.t WHERE k = ?" % keyspace).result_metadata_id != old_id


def test_alter_and_truncate_permissions(make_server, connect, tmp_path):
    """CassandraAuthorizer: ALTER needs ALTER on the table (keyspace),
    TRUNCATE needs MODIFY on the table."""
    from cassandra.auth import PlainTextAuthProvider
    from test_auth import write_config
    srv = make_server(config=write_config(tmp_path))
    admin = connect(srv, auth_provider=PlainTextAuthProvider("cassandra", "cassandra"))
    ks = unique_name()
    admin.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    admin.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int)" % ks)
    admin.execute("CREATE ROLE bob WITH PASSWORD = 'pw' AND LOGIN = true")
    bob = connect(srv, auth_provider=PlainTextAuthProvider("bob", "pw"))
    with pytest.raises(Unauthorized,
                       match="User bob has no ALTER permission on <table %s.t> or any of its "
                             "parents" % ks):
        bob.execute("ALTER TABLE %s.t ADD w int" % ks)
    with pytest.raises(Unauthorized,
                       match="User bob has no ALTER permission on <keyspace %s> or any of its "
                             "parents" % ks):
        bob.execute("ALTER KEYSPACE %s WITH durable_writes = false" % ks)
    with pytest.raises(Unauthorized,
                       match="User bob has no MODIFY permission on <table %s.t> or any of its "
                             "parents" % ks):
        bob.execute("TRUNCATE %s.t" % ks)
    admin.execute("GRANT ALTER ON TABLE %s.t TO bob" % ks)
    admin.execute("GRANT MODIFY ON TABLE %s.t TO bob" % ks)
    bob.execute("ALTER TABLE %s.t ADD w int" % ks)
    bob.execute("TRUNCATE %s.t" % ks)
