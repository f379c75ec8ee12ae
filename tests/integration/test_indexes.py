"""Secondary indexes through the Python driver: prepared statements across
CREATE/DROP INDEX (plans analyzed again on the new schema version), bound
values in indexed restrictions (m[?] = ?), driver metadata, and index
definitions surviving kill -9."""

import pytest
from cassandra import InvalidRequest

FILTERING = "might involve data filtering"


def _version(session):
    return session.execute("SELECT schema_version FROM system.local").one().schema_version


def test_prepared_across_index_ddl(cluster, session, keyspace):
    session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v int, m map<text, int>)" % keyspace)
    for i in range(6):
        session.execute("INSERT INTO %s.t (k, v, m) VALUES (%d, %d, {'a': %d})"
                        % (keyspace, i, i % 2, i))
    with pytest.raises(InvalidRequest, match=FILTERING):
        session.prepare("SELECT k FROM %s.t WHERE v = ?" % keyspace)
    v0 = _version(session)
    session.execute("CREATE INDEX ON %s.t (v)" % keyspace)
    session.execute("CREATE INDEX ON %s.t (entries(m))" % keyspace)
    assert _version(session) != v0
    by_v = session.prepare("SELECT k FROM %s.t WHERE v = ?" % keyspace)
    assert sorted(r.k for r in session.execute(by_v, (1,))) == [1, 3, 5]
    by_entry = session.prepare("SELECT k FROM %s.t WHERE m[?] = ?" % keyspace)
    assert [r.k for r in session.execute(by_entry, ("a", 4))] == [4]
    # paging through an indexed query
    rows = list(session.execute(session.prepare("SELECT k FROM %s.t WHERE v = ?" % keyspace)
                                .bind((0,)), timeout=10))
    assert sorted(r.k for r in rows) == [0, 2, 4]
    tm = cluster.metadata.keyspaces[keyspace].tables["t"]
    assert sorted(tm.indexes) == ["t_m_idx", "t_v_idx"]
    session.execute("DROP INDEX %s.t_v_idx" % keyspace)
    # the prepared statement is analyzed again: the index is gone
    with pytest.raises(InvalidRequest, match=FILTERING):
        session.execute(by_v, (1,))


def test_indexes_survive_kill9(make_server, connect):
    srv = make_server(sync="batch")
    s = connect(srv)
    s.execute("CREATE KEYSPACE ix WITH replication = {'class': 'SimpleStrategy', "
              "'replication_factor': 1}")
    s.execute("CREATE TABLE ix.t (k int PRIMARY KEY, v text)")
    s.execute("CREATE CUSTOM INDEX vi ON ix.t (v) USING 'StorageAttachedIndex' "
              "WITH OPTIONS = {'case_sensitive': 'false'}")
    s.execute("INSERT INTO ix.t (k, v) VALUES (1, 'Hello')")
    srv.kill()
    s.cluster.shutdown()
    srv.check_sanitizers()
    srv.start()
    s = connect(srv)
    row = s.execute("SELECT index_name, kind, options FROM system_schema.indexes "
                    "WHERE keyspace_name = 'ix'").one()
    assert (row.index_name, row.kind) == ("vi", "CUSTOM")
    assert row.options == {"case_sensitive": "false", "class_name": "StorageAttachedIndex",
                           "target": "v"}
    assert [r.k for r in s.execute("SELECT k FROM ix.t WHERE v = 'HELLO'")] == [1]
