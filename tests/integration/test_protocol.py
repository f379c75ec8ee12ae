"""Native-protocol behaviour the drivers rely on: pipelined requests matched
by stream id, frames split across TCP segments, pushed SCHEMA_CHANGE events,
explicit protocol v3 and v4 sessions, consistency levels."""

import socket
import struct
import time

import pytest
from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement

from conftest import unique_name
from test_bad_input import (OP_ERROR, OP_QUERY, OP_RESULT, OP_STARTUP, STARTUP_BODY, Raw,
                            describe, error_of, frame, query_body)

OP_REGISTER, OP_EVENT = 0x0B, 0x0C


def test_pipelined_requests_matched_by_stream(server):
    r = Raw(server.port)
    try:
        r.startup()
        n = 300
        data = b"".join(frame(4, OP_QUERY, query_body(
            "SELECT key FROM system.local" if i % 3 else "SELEKT nonsense"), stream=i + 1)
            for i in range(n))
        r.send(data)
        seen = {}
        deadline = time.monotonic() + 15
        while len(seen) < n and time.monotonic() < deadline:
            f = r.read_frame(timeout=max(0.1, deadline - time.monotonic()))
            assert not isinstance(f, str), "after %d replies: %s" % (len(seen), f)
            assert f[2] not in seen, "stream %d answered twice" % f[2]
            seen[f[2]] = f
    finally:
        r.close()
    assert sorted(seen) == list(range(1, n + 1))
    for i in range(n):
        f = seen[i + 1]
        if i % 3:
            assert f[3] == OP_RESULT, describe(f)
        else:
            assert f[3] == OP_ERROR and error_of(f[4])[0] == 0x2000, describe(f)


def test_stream_ids_echoed_full_range(server):
    r = Raw(server.port)
    try:
        r.startup()
        for sid in (0, 1, 127, 128, 255, 256, 32767):
            r.send(frame(4, OP_QUERY, query_body("SELECT key FROM system.local"), stream=sid))
            f = r.read_frame()
            assert not isinstance(f, str), f
            assert f[2] == sid and f[3] == OP_RESULT, describe(f)
    finally:
        r.close()


def test_frame_split_byte_by_byte(server):
    r = Raw(server.port)
    try:
        data = frame(4, OP_STARTUP, STARTUP_BODY, stream=1) + frame(
            4, OP_QUERY, query_body("SELECT release_version FROM system.local"), stream=2)
        for i in range(len(data)):
            r.send(data[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.002)
        f1 = r.read_frame()
        f2 = r.read_frame()
    finally:
        r.close()
    assert f1[3] == 0x02 and f1[2] == 1, describe(f1)
    assert f2[3] == OP_RESULT and f2[2] == 2, describe(f2)
    assert b"5.0" in f2[4]


def _register(r, events, stream=1):
    body = struct.pack(">H", len(events))
    for e in events:
        body += struct.pack(">H", len(e)) + e.encode()
    r.send(frame(4, OP_REGISTER, body, stream=stream))
    f = r.read_frame()
    assert not isinstance(f, str) and f[3] == 0x02, "REGISTER reply %s" % describe(f)


def _read_event(r, timeout=5):
    f = r.read_frame(timeout=timeout)
    assert not isinstance(f, str), "no EVENT within %ss: %s" % (timeout, f)
    assert f[3] == OP_EVENT and f[2] == -1, describe(f)
    body = f[4]
    pos = 0
    out = []
    while pos < len(body):
        ln, = struct.unpack(">H", body[pos:pos + 2])
        out.append(body[pos + 2:pos + 2 + ln].decode())
        pos += 2 + ln
    return out


def test_schema_change_events_pushed(server, session):
    r = Raw(server.port)
    ks = unique_name()
    try:
        r.startup()
        _register(r, ["SCHEMA_CHANGE", "TOPOLOGY_CHANGE", "STATUS_CHANGE"])
        session.execute("CREATE KEYSPACE %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        assert _read_event(r) == ["SCHEMA_CHANGE", "CREATED", "KEYSPACE", ks]
        session.execute("CREATE TABLE %s.t (k int PRIMARY KEY)" % ks)
        assert _read_event(r) == ["SCHEMA_CHANGE", "CREATED", "TABLE", ks, "t"]
        session.execute("DROP TABLE %s.t" % ks)
        assert _read_event(r) == ["SCHEMA_CHANGE", "DROPPED", "TABLE", ks, "t"]
        session.execute("DROP KEYSPACE %s" % ks)
        assert _read_event(r) == ["SCHEMA_CHANGE", "DROPPED", "KEYSPACE", ks]
    finally:
        r.close()


def test_other_client_metadata_follows_ddl(server, session, keyspace):
    """A second driver learns about DDL made elsewhere through the pushed
    events (its control connection refreshes its metadata)."""
    c2 = Cluster(["127.0.0.1"], port=server.port, max_schema_agreement_wait=5)
    try:
        c2.connect()
        session.execute("CREATE TABLE %s.seen (k int PRIMARY KEY, v text)" % keyspace)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ksm = c2.metadata.keyspaces.get(keyspace)
            if ksm is not None and "seen" in ksm.tables:
                break
            time.sleep(0.1)
        else:
            pytest.fail("second client never saw table %s.seen" % keyspace)
    finally:
        c2.shutdown()


@pytest.mark.parametrize("version", [3, 4])
def test_explicit_protocol_version(server, version, keyspace, session):
    session.execute("CREATE TABLE %s.pv%d (k int, c int, v text, PRIMARY KEY (k, c))"
                    % (keyspace, version))
    c = Cluster(["127.0.0.1"], port=server.port, protocol_version=version,
                max_schema_agreement_wait=5)
    try:
        s = c.connect(keyspace)
        assert c.protocol_version == version
        ins = s.prepare("INSERT INTO pv%d (k, c, v) VALUES (?, ?, ?)" % version)
        for i in range(10):
            s.execute(ins, (1, i, "x%d" % i))
        sel = s.prepare("SELECT c, v FROM pv%d WHERE k = ? AND c > ?" % version)
        assert [r.c for r in s.execute(sel, (1, 6))] == [7, 8, 9]
        assert s.execute("SELECT release_version FROM system.local").one() \
            .release_version.startswith("5.0")
        st = SimpleStatement("SELECT c FROM pv%d WHERE k = 1" % version, fetch_size=3)
        assert [r.c for r in s.execute(st)] == list(range(10))
    finally:
        c.shutdown()


@pytest.mark.parametrize("cl", [ConsistencyLevel.ONE, ConsistencyLevel.LOCAL_ONE,
                                ConsistencyLevel.QUORUM, ConsistencyLevel.LOCAL_QUORUM,
                                ConsistencyLevel.ALL, ConsistencyLevel.ANY],
                         ids=lambda c: ConsistencyLevel.value_to_name[c])
def test_consistency_levels_rf1(session, keyspace, cl):
    session.execute("CREATE TABLE IF NOT EXISTS %s.cl (k int PRIMARY KEY, v int)" % keyspace)
    session.execute(SimpleStatement("INSERT INTO %s.cl (k, v) VALUES (%d, 1)" % (keyspace, cl),
                                    consistency_level=cl))
    if cl == ConsistencyLevel.ANY:
        return  # ANY is write-only
    row = session.execute(SimpleStatement("SELECT v FROM %s.cl WHERE k = %d" % (keyspace, cl),
                                          consistency_level=cl)).one()
    assert row.v == 1


def test_last_write_wins_rapid_sequences(session, keyspace):
    """Insert/delete/insert on one key back to back: the driver's client-side
    timestamps (or the server's) must order them as issued."""
    session.execute("CREATE TABLE %s.lww (k int PRIMARY KEY, v int)" % keyspace)
    ins = session.prepare("INSERT INTO %s.lww (k, v) VALUES (?, ?)" % keyspace)
    dele = session.prepare("DELETE FROM %s.lww WHERE k = ?" % keyspace)
    sel = session.prepare("SELECT v FROM %s.lww WHERE k = ?" % keyspace)
    for i in range(100):
        session.execute(ins, (1, i))
        session.execute(dele, (1,))
        assert session.execute(sel, (1,)).one() is None, "iteration %d: delete lost" % i
        session.execute(ins, (1, i + 1000))
        assert session.execute(sel, (1,)).one().v == i + 1000, "iteration %d" % i


def test_many_concurrent_raw_connections(server):
    conns = []
    try:
        for i in range(150):
            r = Raw(server.port)
            conns.append(r)
            r.send(frame(4, OP_STARTUP, STARTUP_BODY, stream=1) + frame(
                4, OP_QUERY, query_body("SELECT key FROM system.local"), stream=2))
        for r in conns:
            f1, f2 = r.read_frame(), r.read_frame()
            assert not isinstance(f1, str) and f1[3] == 0x02, describe(f1)
            assert not isinstance(f2, str) and f2[3] == OP_RESULT, describe(f2)
    finally:
        for r in conns:
            r.close()


def test_client_that_does_not_read(server):
    """5000 pipelined requests before reading a single reply: the server may
    apply backpressure but must answer them all."""
    r = Raw(server.port)
    try:
        r.startup()
        n = 5000
        q = query_body("SELECT * FROM system.local")
        data = b"".join(frame(4, OP_QUERY, q, stream=(i % 32000) + 1) for i in range(n))
        import threading
        err = []

        def sender():
            try:
                r.s.settimeout(30)
                r.s.sendall(data)
            except OSError as e:
                err.append(e)
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        time.sleep(1.0)  # let the server's output pile up
        got = 0
        deadline = time.monotonic() + 30
        while got < n and time.monotonic() < deadline:
            f = r.read_frame(timeout=max(0.1, deadline - time.monotonic()))
            assert not isinstance(f, str), "after %d of %d replies: %s" % (got, n, f)
            assert f[3] == OP_RESULT, describe(f)
            got += 1
        th.join(10)
        assert not err, err
        assert got == n
    finally:
        r.close()


def test_disconnect_with_requests_in_flight(server, session, keyspace):
    """Requests for partitions on every shard, then the client vanishes:
    replies coming back from other shards must find the connection gone
    without touching freed memory (ASan build catches it)."""
    session.execute("CREATE TABLE %s.fl (k int PRIMARY KEY, v text)" % keyspace)
    for round_ in range(15):
        r = Raw(server.port)
        try:
            r.startup()
            data = b"".join(frame(4, OP_QUERY, query_body(
                "INSERT INTO %s.fl (k, v) VALUES (%d, 'x')" % (keyspace, round_ * 1000 + i)
                if i % 2 else "SELECT * FROM %s.fl WHERE k = %d" % (keyspace, i)),
                stream=i + 1) for i in range(400))
            r.send(data)
            if round_ % 3 == 1:
                r.read_frame(timeout=1)  # some replies already under way
            # RST instead of FIN on some rounds
            if round_ % 2:
                r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            r.close()
    time.sleep(0.5)
    assert server.alive()
    server.check_sanitizers()
    assert session.execute("SELECT release_version FROM system.local").one()
