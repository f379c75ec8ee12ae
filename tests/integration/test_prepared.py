"""Prepared statements: binds, result metadata, partition-key indexes for
token-aware routing, and agreement between the driver's Murmur3 tokens and
the server's."""

import struct

import pytest
from cassandra import InvalidRequest
from cassandra.cluster import Cluster
from cassandra.metadata import Murmur3Token
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, SimpleStatement


@pytest.fixture
def t(session, keyspace):
    session.execute("CREATE TABLE %s.t (k int, c int, v text, PRIMARY KEY (k, c))" % keyspace)
    session.execute("CREATE TABLE %s.comp (a int, b text, c int, v int, "
                    "PRIMARY KEY ((a, b), c))" % keyspace)
    return keyspace


def test_prepare_bind_execute(session, t):
    ins = session.prepare("INSERT INTO %s.t (k, c, v) VALUES (?, ?, ?)" % t)
    assert [c.name for c in ins.column_metadata] == ["k", "c", "v"]
    for i in range(20):
        session.execute(ins, (i % 4, i, "v%d" % i))
    sel = session.prepare("SELECT c, v FROM %s.t WHERE k = ? AND c >= ? LIMIT ?" % t)
    rows = list(session.execute(sel, (1, 5, 2)))
    assert [tuple(r) for r in rows] == [(5, "v5"), (9, "v9")]
    # bind by name
    rows = list(session.execute(sel, {"k": 2, "c": 0, "[limit]": 10}))
    assert [r.c for r in rows] == [2, 6, 10, 14, 18]
    # the same statement prepared twice yields the same id
    again = session.prepare("INSERT INTO %s.t (k, c, v) VALUES (?, ?, ?)" % t)
    assert again.query_id == ins.query_id
    upd = session.prepare("UPDATE %s.t SET v = ? WHERE k = ? AND c = ?" % t)
    session.execute(upd, ("changed", 0, 4))
    dele = session.prepare("DELETE FROM %s.t WHERE k = ? AND c = ?" % t)
    session.execute(dele, (0, 8))
    rows = list(session.execute(sel, (0, 0, 100)))
    assert [tuple(r) for r in rows] == [(0, "v0"), (4, "changed"), (12, "v12"), (16, "v16")]


def test_prepared_result_metadata(session, t):
    sel = session.prepare("SELECT v, c FROM %s.t WHERE k = ?" % t)
    # (keyspace, table, name, type) tuples
    assert [c[2] for c in sel.result_metadata] == ["v", "c"]
    assert [c[0] for c in sel.result_metadata] == [t, t]
    assert [c[1] for c in sel.result_metadata] == ["t", "t"]


def test_routing_key_single_pk(cluster, session, t):
    ins = session.prepare("INSERT INTO %s.t (k, c, v) VALUES (?, ?, ?)" % t)
    assert ins.routing_key_indexes == [0]
    b = ins.bind((12345, 1, "x"))
    assert b.routing_key == struct.pack(">i", 12345)
    sel = session.prepare("SELECT v FROM %s.t WHERE c = ? AND k = ?" % t)
    # pk is the second marker here: the PREPARED metadata's pk_indexes says so
    assert sel.routing_key_indexes == [1]
    assert sel.bind((1, 777)).routing_key == struct.pack(">i", 777)


def test_routing_key_composite_pk(session, t):
    ins = session.prepare("INSERT INTO %s.comp (c, b, a, v) VALUES (?, ?, ?, ?)" % t)
    assert ins.routing_key_indexes == [2, 1]
    b = ins.bind((1, "xy", 7, 0))
    ka, kb = struct.pack(">i", 7), b"xy"
    want = struct.pack(">H", len(ka)) + ka + b"\x00" + struct.pack(">H", len(kb)) + kb + b"\x00"
    assert b.routing_key == want


def test_token_map_and_server_tokens_agree(cluster, session, t):
    tm = cluster.metadata.token_map
    assert tm is not None
    host = cluster.metadata.all_hosts()[0]
    ins = session.prepare("INSERT INTO %s.t (k, c, v) VALUES (?, ?, ?)" % t)
    for k in (0, 1, -1, 42, 2**31 - 1, -2**31):
        b = ins.bind((k, 0, "x"))
        session.execute(b)
        driver_token = Murmur3Token.from_key(b.routing_key)
        assert tm.get_replicas(t, driver_token) == [host]


@pytest.mark.beyond
def test_server_token_function_matches_driver(session, t):
    ins = session.prepare("INSERT INTO %s.t (k, c, v) VALUES (?, ?, ?)" % t)
    tok = session.prepare("SELECT token(k) FROM %s.t WHERE k = ?" % t)
    for k in (0, 1, -1, 42, 2**31 - 1, -2**31):
        b = ins.bind((k, 0, "x"))
        session.execute(b)
        driver_token = Murmur3Token.from_key(b.routing_key)
        row = session.execute(tok, (k,)).one()
        assert row[0] == driver_token.value, "token(%d): server %r driver %r" % (
            k, row[0], driver_token.value)


def test_token_aware_policy_routes(server, t):
    c = Cluster(["127.0.0.1"], port=server.port, max_schema_agreement_wait=5,
                load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()))
    try:
        s = c.connect(t)
        ins = s.prepare("INSERT INTO t (k, c, v) VALUES (?, ?, ?)")
        sel = s.prepare("SELECT v FROM t WHERE k = ? AND c = ?")
        for i in range(50):
            s.execute(ins, (1000 + i, i, "r%d" % i))
        for i in range(50):
            rs = s.execute(sel, (1000 + i, i))
            assert rs.one().v == "r%d" % i
    finally:
        c.shutdown()


def test_prepare_errors(session, t):
    with pytest.raises(InvalidRequest):
        session.prepare("SELECT * FROM %s.nosuch WHERE k = ?" % t)
    with pytest.raises(InvalidRequest):
        session.prepare("SELECT nosuch FROM %s.t WHERE k = ?" % t)


def test_prepared_statement_invalid_after_drop(session, t):
    session.execute("CREATE TABLE %s.gone (k int PRIMARY KEY, v int)" % t)
    ins = session.prepare("INSERT INTO %s.gone (k, v) VALUES (?, ?)" % t)
    session.execute(ins, (1, 1))
    session.execute("DROP TABLE %s.gone" % t)
    with pytest.raises(InvalidRequest):
        session.execute(ins, (2, 2))


def test_simple_statement_with_values(session, t):
    session.execute(SimpleStatement("INSERT INTO %s.t (k, c, v) VALUES (%%s, %%s, %%s)" % t),
                    (50, 1, "it's"))
    assert session.execute("SELECT v FROM %s.t WHERE k = 50 AND c = 1" % t).one().v == "it's"


@pytest.mark.beyond
def test_logged_batch_of_prepared_single_partition(session, t):
    ins = session.prepare("INSERT INTO %s.t (k, c, v) VALUES (?, ?, ?)" % t)
    b = BatchStatement()
    for i in range(10):
        b.add(ins, (60, i, "b%d" % i))
    session.execute(b)
    assert len(list(session.execute("SELECT * FROM %s.t WHERE k = 60" % t))) == 10


def _prepared_pk_indexes(port, cql):
    """PREPARE on a raw v4 connection; returns (bind column names, pk_indexes)
    from the PREPARED result's metadata, as the server sent them (the driver
    would otherwise fall back to computing them from schema metadata)."""
    from test_bad_input import Raw, frame
    r = Raw(port)
    try:
        r.startup()
        b = cql.encode()
        r.send(frame(4, 0x09, struct.pack(">I", len(b)) + b, stream=3))
        f = r.read_frame()
        assert not isinstance(f, str), f
        ver, _fl, stream, op, body = f
        assert op == 0x08, "PREPARE reply opcode 0x%02x body %r" % (op, body[:80])
    finally:
        r.close()
    kind, = struct.unpack(">i", body[:4])
    assert kind == 4  # Prepared
    idlen, = struct.unpack(">H", body[4:6])
    pos = 6 + idlen
    flags, ncols, npk = struct.unpack(">iii", body[pos:pos + 12])
    pos += 12
    pk = list(struct.unpack(">%dH" % npk, body[pos:pos + 2 * npk]))
    pos += 2 * npk
    names = []
    if flags & 0x0001:  # global table spec
        for _ in range(2):
            ln, = struct.unpack(">H", body[pos:pos + 2])
            pos += 2 + ln
    for _ in range(ncols):
        if not flags & 0x0001:
            for _ in range(2):
                ln, = struct.unpack(">H", body[pos:pos + 2])
                pos += 2 + ln
        ln, = struct.unpack(">H", body[pos:pos + 2])
        names.append(body[pos + 2:pos + 2 + ln].decode())
        pos += 2 + ln
        typ, = struct.unpack(">H", body[pos:pos + 2])
        pos += 2
        assert typ < 0x20 or typ == 0x30, "unexpected bind type 0x%x in this test" % typ
    return names, pk


def test_server_sends_pk_indexes(server, t):
    names, pk = _prepared_pk_indexes(
        server.port, "INSERT INTO %s.comp (c, b, a, v) VALUES (?, ?, ?, ?)" % t)
    assert names == ["c", "b", "a", "v"]
    assert pk == [2, 1]
    names, pk = _prepared_pk_indexes(server.port, "SELECT v FROM %s.t WHERE c = ? AND k = ?" % t)
    assert names == ["c", "k"] and pk == [1]
    # not every pk column bound: no pk indexes
    names, pk = _prepared_pk_indexes(server.port, "SELECT v FROM %s.t WHERE k = 1 AND c = ?" % t)
    assert names == ["c"] and pk == []
