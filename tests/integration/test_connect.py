"""Connecting with an unmodified driver: protocol negotiation, system.local,
topology and schema metadata, schema agreement."""

import logging
import time
import uuid

import pytest
from cassandra.cluster import Cluster

# The driver starts at protocol DSE_V2 (0x42) and steps down on every
# "unsupported protocol version" ERROR: 0x42 -> 0x41 -> 5 (v6 is beta and
# skipped), as against Cassandra 5.0, which serves v5 too. Each step is
# logged by cassandra.cluster at WARNING ("Downgrading core protocol version
# from X to Y ...") unconditionally (cluster.py, protocol_downgrade), so those
# exact messages are the one expected exception to "no warnings on connect".
DOWNGRADE_PREFIX = "Downgrading core protocol version from"


def _unexpected(records):
    return [r for r in records if not r.getMessage().startswith(DOWNGRADE_PREFIX)]


def test_connect_default_settings_no_warnings_and_fast(server, driver_logs):
    # Cluster.__init__ itself warns "contact_points specified, but no
    # load_balancing_policy" (client-side, before any I/O), so the capture
    # starts at connect().
    c = Cluster(["127.0.0.1"], port=server.port)
    with driver_logs(logging.WARNING) as logs:
        t0 = time.monotonic()
        try:
            s = c.connect()
            row = s.execute("SELECT release_version FROM system.local").one()
            elapsed = time.monotonic() - t0
            assert row is not None
            assert c.protocol_version == 5, "negotiated protocol %r" % c.protocol_version
            t1 = time.monotonic()
            agreed = c.control_connection.wait_for_schema_agreement()
            agree_time = time.monotonic() - t1
        finally:
            c.shutdown()
    bad = _unexpected(logs.records)
    assert not bad, "driver logged warnings/errors on connect:\n" + "\n".join(
        "%s %s: %s" % (r.levelname, r.name, r.getMessage()) for r in bad)
    downgrades = [r.getMessage() for r in logs.records if r not in bad]
    # only the protocol steps the driver itself takes, ending at v5
    assert len(downgrades) <= 2, downgrades
    if downgrades:
        assert "from 65 to 5" in downgrades[-1], downgrades
    assert elapsed < 5.0, "connect + first query took %.2fs" % elapsed
    assert agreed is True
    assert agree_time < 2.0, "schema agreement check took %.2fs" % agree_time


def test_system_local(session):
    row = session.execute("SELECT * FROM system.local").one()
    assert row is not None
    assert row.key == "local"
    assert row.release_version.startswith("5.0"), row.release_version
    assert row.partitioner == "org.apache.cassandra.dht.Murmur3Partitioner"
    assert isinstance(row.host_id, uuid.UUID)
    assert isinstance(row.data_center, str) and row.data_center
    assert isinstance(row.rack, str) and row.rack
    assert row.cql_version.startswith("3.")
    assert isinstance(row.schema_version, uuid.UUID)
    toks = list(row.tokens)
    assert toks, "no tokens"
    for t in toks:
        v = int(t)
        assert -2**63 <= v < 2**63
    assert len(set(toks)) == len(toks)


def test_system_local_selected_columns(session):
    rows = list(session.execute(
        "SELECT release_version, partitioner, host_id, data_center, tokens "
        "FROM system.local WHERE key = 'local'"))
    assert len(rows) == 1
    assert rows[0].release_version.startswith("5.0")
    assert rows[0]._fields == ("release_version", "partitioner", "host_id", "data_center",
                               "tokens")


def test_system_peers_empty(session):
    # single node: peers tables exist and are empty
    assert list(session.execute("SELECT * FROM system.peers")) == []
    assert list(session.execute("SELECT * FROM system.peers_v2")) == []


def test_cluster_metadata_hosts_and_tokens(cluster, session):
    hosts = cluster.metadata.all_hosts()
    assert len(hosts) == 1
    h = hosts[0]
    local = session.execute("SELECT host_id, data_center, rack, tokens FROM system.local").one()
    assert h.host_id == local.host_id
    assert h.datacenter == local.data_center
    assert h.rack == local.rack
    assert h.is_up
    tm = cluster.metadata.token_map
    assert tm is not None
    assert len(tm.ring) == len(list(local.tokens))
    assert cluster.metadata.partitioner.endswith("Murmur3Partitioner")


def test_schema_metadata_after_ddl(cluster, session, keyspace):
    ks = keyspace
    t0 = time.monotonic()
    rs = session.execute(
        "CREATE TABLE %s.t (a int, b text, c int, d timestamp, v text, w blob, "
        "PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c DESC, d ASC)" % ks)
    assert time.monotonic() - t0 < 5.0
    assert rs.response_future.is_schema_agreed
    km = cluster.metadata.keyspaces[ks]
    assert km.replication_strategy.replication_factor == 1
    tm = km.tables["t"]
    assert set(tm.columns) == {"a", "b", "c", "d", "v", "w"}
    assert [c.name for c in tm.partition_key] == ["a", "b"]
    assert [c.name for c in tm.clustering_key] == ["c", "d"]
    assert tm.columns["c"].is_reversed is True
    assert tm.columns["d"].is_reversed is False
    types = {n: c.cql_type for n, c in tm.columns.items()}
    assert types == {"a": "int", "b": "text", "c": "int", "d": "timestamp", "v": "text",
                     "w": "blob"}
    cql = tm.export_as_string()
    assert "PRIMARY KEY ((a, b), c, d)" in cql
    assert "CLUSTERING ORDER BY (c DESC, d ASC)" in cql
    assert "system" in cluster.metadata.keyspaces
    assert "system_schema" in cluster.metadata.keyspaces

    session.execute("DROP TABLE %s.t" % ks)
    assert "t" not in cluster.metadata.keyspaces[ks].tables


def test_schema_agreement_is_immediate(cluster, session, keyspace):
    t0 = time.monotonic()
    session.execute("CREATE TABLE %s.agree (k int PRIMARY KEY, v int)" % keyspace)
    session.execute("DROP TABLE %s.agree" % keyspace)
    assert time.monotonic() - t0 < 5.0
    t0 = time.monotonic()
    assert cluster.control_connection.wait_for_schema_agreement() is True
    assert time.monotonic() - t0 < 2.0


def test_use_keyspace_and_connect_with_keyspace(server, connect, session, keyspace):
    session.execute("CREATE TABLE %s.u (k int PRIMARY KEY, v text)" % keyspace)
    s2 = connect(server, keyspace)
    s2.execute("INSERT INTO u (k, v) VALUES (1, 'one')")
    assert s2.execute("SELECT v FROM u WHERE k = 1").one().v == "one"
    s2.execute("USE system")
    assert s2.execute("SELECT key FROM local").one().key == "local"


def test_options_supported_lists_v4(server):
    # raw OPTIONS -> SUPPORTED with CQL_VERSION, PROTOCOL_VERSIONS including
    # 4/v4 and 5/v5, COMPRESSION lz4 and snappy
    import socket
    import struct
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        s.sendall(struct.pack(">BBhBI", 4, 0, 1, 0x05, 0))
        hdr = b""
        while len(hdr) < 9:
            chunk = s.recv(9 - len(hdr))
            assert chunk, "connection closed"
            hdr += chunk
        ver, flags, stream, op, ln = struct.unpack(">BBhBI", hdr)
        body = b""
        while len(body) < ln:
            chunk = s.recv(ln - len(body))
            assert chunk
            body += chunk
    finally:
        s.close()
    assert ver == 0x84 and stream == 1 and op == 0x06, (ver, stream, op)
    # string multimap
    n, = struct.unpack(">H", body[:2])
    pos, mm = 2, {}
    for _ in range(n):
        kl, = struct.unpack(">H", body[pos:pos + 2])
        k = body[pos + 2:pos + 2 + kl].decode()
        pos += 2 + kl
        cnt, = struct.unpack(">H", body[pos:pos + 2])
        pos += 2
        vals = []
        for _ in range(cnt):
            vl, = struct.unpack(">H", body[pos:pos + 2])
            vals.append(body[pos + 2:pos + 2 + vl].decode())
            pos += 2 + vl
        mm[k] = vals
    assert "CQL_VERSION" in mm and mm["CQL_VERSION"]
    assert "4/v4" in mm.get("PROTOCOL_VERSIONS", []), mm
    assert "5/v5" in mm.get("PROTOCOL_VERSIONS", []), mm
    assert mm.get("COMPRESSION") == ["lz4", "snappy"], mm


def test_no_driver_warnings_during_workload(server, driver_logs):
    """DDL, DML, prepared statements, paging, schema refreshes and errors
    through a fresh driver: nothing logged at WARNING or above besides the
    protocol step-down."""
    from cassandra import InvalidRequest
    from cassandra.query import SimpleStatement
    c = Cluster(["127.0.0.1"], port=server.port, max_schema_agreement_wait=5)
    ks = "warn_%d" % (time.time_ns() % 10**9)
    with driver_logs(logging.WARNING) as logs:
        try:
            s = c.connect()
            s.execute("CREATE KEYSPACE %s WITH replication = "
                      "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
            s.execute("CREATE TABLE %s.t (k int, c int, v text, PRIMARY KEY (k, c))" % ks)
            ins = s.prepare("INSERT INTO %s.t (k, c, v) VALUES (?, ?, ?)" % ks)
            for i in range(200):
                s.execute(ins, (i % 5, i, "v"))
            st = SimpleStatement("SELECT * FROM %s.t WHERE k = 1" % ks, fetch_size=7)
            assert len(list(s.execute(st))) == 40
            try:
                s.execute("SELECT * FROM %s.nosuch" % ks)
            except InvalidRequest:
                pass
            c.refresh_schema_metadata()
            c.refresh_nodes()
            schema = c.metadata.export_schema_as_string()
            assert "CREATE TABLE %s.t" % ks in schema
            s.execute("DROP KEYSPACE %s" % ks)
        finally:
            c.shutdown()
    bad = _unexpected(logs.records)
    assert not bad, "\n".join("%s %s: %s" % (r.levelname, r.name, r.getMessage()) for r in bad)


@pytest.mark.beyond
def test_table_options_accepted_and_visible(cluster, session, keyspace):
    session.execute(
        "CREATE TABLE %s.opts (k int PRIMARY KEY, v text) WITH comment = 'features' "
        "AND gc_grace_seconds = 3600 AND default_time_to_live = 0 "
        "AND compaction = {'class': 'SizeTieredCompactionStrategy'} "
        "AND compression = {'class': 'LZ4Compressor', 'chunk_length_in_kb': '16'} "
        "AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'} "
        "AND bloom_filter_fp_chance = 0.01" % keyspace)
    opts = cluster.metadata.keyspaces[keyspace].tables["opts"].options
    assert opts["comment"] == "features"
    assert opts["gc_grace_seconds"] == 3600
    assert "SizeTieredCompactionStrategy" in opts["compaction"]["class"]
