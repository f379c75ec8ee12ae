"""Native protocol v5 (framing, lz4 frames) and v3/v4 body compression
(lz4, snappy): the Python driver with its default settings and with each
explicit version / compression, then raw sockets for what the driver never
sends (packed envelopes, corrupt frames, lying compressed lengths, stale
result metadata ids).

Frames on raw sockets are built and checked with the driver's own v5 codec
functions (cassandra.segment), an implementation independent of ours."""

import importlib.util
import logging
import socket
import struct
import time

import pytest
from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement
from cassandra.segment import CRC32_INITIAL, compute_crc24, compute_crc32

from conftest import unique_name
from test_bad_input import (ERR_PROTOCOL, OP_ERROR, OP_OPTIONS, OP_QUERY, OP_READY, OP_RESULT,
                            OP_STARTUP, OP_SUPPORTED, TIMEOUT, Raw, describe, error_of, frame,
                            string_map)

OP_PREPARE, OP_EXECUTE = 0x09, 0x0A
HAVE_LZ4 = importlib.util.find_spec("lz4") is not None
HAVE_SNAPPY = importlib.util.find_spec("snappy") is not None
DOWNGRADE_PREFIX = "Downgrading core protocol version from"


def need(compression):
    if compression == "lz4" and not HAVE_LZ4:
        pytest.fail("the lz4 module is not installed (scripts/install-deps.sh --test, tests/integration/requirements.txt)")
    if compression == "snappy" and not HAVE_SNAPPY:
        pytest.fail("the python-snappy module is not installed (scripts/install-deps.sh --test)")


# ---------------------------------------------------------------------------
# the driver


def test_default_connect_negotiates_v5(server, driver_logs):
    """Default settings: the driver steps 0x42 -> 0x41 -> 5 (as against
    Cassandra 5.0, which refuses the DSE versions too), then uses v5 framing
    and lz4 when the lz4 module is there. No other warning."""
    c = Cluster(["127.0.0.1"], port=server.port, connect_timeout=5,
                control_connection_timeout=5)
    with driver_logs(logging.WARNING) as logs:
        try:
            s = c.connect()
            assert s.execute("SELECT release_version FROM system.local").one()
            assert c.protocol_version == 5
            conn = c.control_connection._connection
            assert conn._is_checksumming_enabled
            assert conn._compression_type == ("lz4" if HAVE_LZ4 else None)
        finally:
            c.shutdown()
    msgs = [r.getMessage() for r in logs.records]
    bad = [m for m in msgs if not m.startswith(DOWNGRADE_PREFIX)]
    assert not bad, bad
    steps = [m for m in msgs if m.startswith(DOWNGRADE_PREFIX)]
    assert len(steps) <= 2, steps
    if steps:
        assert "from 65 to 5" in steps[-1], steps


VARIANTS = [(5, False), (5, "lz4"), (4, False), (4, "lz4"), (4, "snappy"), (3, "lz4"),
            (3, "snappy")]


@pytest.mark.parametrize("version,compression", VARIANTS,
                         ids=["v%d-%s" % (v, c or "none") for v, c in VARIANTS])
def test_workload(server, session, keyspace, connect, version, compression):
    """DDL, prepared statements, USE, a 1 MiB blob (several v5 frames each
    way), a result of > 128 KiB (unpaged and paged)."""
    need(compression)
    s = connect(server, protocol_version=version, compression=compression)
    conn = s.cluster.control_connection._connection
    assert s.cluster.protocol_version == version
    assert conn._compression_type == (compression or None)
    assert conn._is_checksumming_enabled == (version >= 5)
    tbl = unique_name("t")
    s.execute("CREATE TABLE %s.%s (k int, c int, v text, b blob, PRIMARY KEY (k, c))"
              % (keyspace, tbl))
    ins = s.prepare("INSERT INTO %s.%s (k, c, v, b) VALUES (?, ?, ?, ?)" % (keyspace, tbl))
    blob = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(1 << 20))
    s.execute(ins, (0, 0, "big", blob))
    sel = s.prepare("SELECT b FROM %s.%s WHERE k = ? AND c = ?" % (keyspace, tbl))
    assert s.execute(sel, (0, 0)).one().b == blob
    # 300 rows of 1000 characters in one partition: ~300 KB of rows
    for i in range(300):
        s.execute(ins, (1, i, ("%04d" % i) * 250, None))
    rows = list(s.execute(SimpleStatement("SELECT c, v FROM %s.%s WHERE k = 1"
                                          % (keyspace, tbl), fetch_size=None)))
    assert [r.c for r in rows] == list(range(300))
    assert all(r.v == ("%04d" % r.c) * 250 for r in rows)
    paged = list(s.execute(SimpleStatement("SELECT c FROM %s.%s WHERE k = 1" % (keyspace, tbl),
                                           fetch_size=70)))
    assert [r.c for r in paged] == list(range(300))
    s.execute("USE %s" % keyspace)
    assert len(list(s.execute("SELECT c FROM %s WHERE k = 1" % tbl))) == 300
    s.execute("DROP TABLE %s.%s" % (keyspace, tbl))


def test_v5_keyspace_on_statements(server, session, keyspace, connect):
    """v5 QUERY and PREPARE may name their keyspace (flags 0x80 / 0x01); it
    wins over the connection's."""
    session.execute("CREATE TABLE %s.kt (k int PRIMARY KEY, v int)" % keyspace)
    session.execute("INSERT INTO %s.kt (k, v) VALUES (1, 10)" % keyspace)
    s = connect(server, protocol_version=5)
    st = SimpleStatement("SELECT v FROM kt WHERE k = 1", keyspace=keyspace)
    assert s.execute(st).one().v == 10
    p = s.prepare("SELECT v FROM kt WHERE k = ?", keyspace=keyspace)
    assert s.execute(p, (1,)).one().v == 10
    s.execute("USE system")
    assert s.execute(p, (1,)).one().v == 10
    assert s.execute(st).one().v == 10


def test_v5_result_metadata_id_stable(server, session, keyspace, connect):
    """The result metadata id of PREPARED equals the one of the rows, so
    executions never report Metadata_changed."""
    session.execute("CREATE TABLE %s.md (k int PRIMARY KEY, v text)" % keyspace)
    s = connect(server, protocol_version=5)
    p = s.prepare("SELECT k, v FROM %s.md WHERE k = ?" % keyspace)
    mid = p.result_metadata_id
    assert mid and len(mid) == 16
    for i in range(5):
        s.execute("INSERT INTO %s.md (k, v) VALUES (%d, 'x')" % (keyspace, i))
        assert s.execute(p, (i,)).one().v == "x"
    assert p.result_metadata_id == mid


# ---------------------------------------------------------------------------
# raw v5 connections


class RawV5(Raw):
    """A raw connection that speaks v5 framing once READY arrived."""

    def __init__(self, port, lz4=False):
        super().__init__(port)
        self.lz4 = lz4
        self.framed = False
        self.env = b""
        self.frames = []  # (self_contained, payload length) of every frame read

    def handshake(self, compression=None, flags=0):
        opts = {"CQL_VERSION": "3.0.0"}
        if compression:
            opts["COMPRESSION"] = compression
        self.send(frame(5, OP_STARTUP, string_map(opts), stream=1, flags=flags))
        f = self.read_frame()
        assert not isinstance(f, str), f
        assert f[0] == 0x85 and f[3] == OP_READY, describe(f)
        self.framed = True

    def segment(self, payload, self_contained=True, bad24=False, bad32=False, ulen=None):
        """One frame; with lz4 the payload is sent uncompressed (uncompressed
        length 0) unless ulen is given (then payload must be an LZ4 block)."""
        if self.lz4:
            u = ulen or 0
            h = len(payload) | (u << 17) | ((1 << 34) if self_contained else 0)
            hb = h.to_bytes(5, "little")
            crc = compute_crc24(h, 5)
        else:
            h = len(payload) | ((1 << 17) if self_contained else 0)
            hb = h.to_bytes(3, "little")
            crc = compute_crc24(h, 3)
        crc32 = compute_crc32(payload, CRC32_INITIAL)
        return (hb + (crc ^ (1 if bad24 else 0)).to_bytes(3, "little") + payload +
                (crc32 ^ (0x100 if bad32 else 0)).to_bytes(4, "little"))

    def envelopes(self, envs):
        """Frames as the driver does: one self-contained frame per envelope,
        or a run of non-self-contained frames for one above 128 KiB."""
        out = b""
        for e in envs:
            if len(e) <= 0x1FFFF:
                out += self.segment(e)
            else:
                for i in range(0, len(e), 0x1FFFF):
                    out += self.segment(e[i:i + 0x1FFFF], self_contained=False)
        return out

    def _take_frame(self):
        hl = 5 if self.lz4 else 3
        if len(self.buf) < hl + 3:
            return False
        h = int.from_bytes(self.buf[:hl], "little")
        assert int.from_bytes(self.buf[hl:hl + 3], "little") == compute_crc24(h, hl), \
            "bad CRC24 from the server"
        plen = h & 0x1FFFF
        total = hl + 3 + plen + 4
        if len(self.buf) < total:
            return False
        payload = self.buf[hl + 3:hl + 3 + plen]
        assert int.from_bytes(self.buf[hl + 3 + plen:total], "little") == \
            compute_crc32(payload, CRC32_INITIAL), "bad CRC32 from the server"
        if self.lz4:
            ulen, sc = (h >> 17) & 0x1FFFF, (h >> 34) & 1
            if ulen:
                import lz4.block
                payload = lz4.block.decompress(payload, uncompressed_size=ulen)
                assert len(payload) == ulen
        else:
            sc = (h >> 17) & 1
        self.buf = self.buf[total:]
        self.frames.append((bool(sc), len(payload)))
        self.env += payload
        return True

    def read_frame(self, timeout=TIMEOUT):
        if not self.framed:
            return super().read_frame(timeout)
        deadline = time.monotonic() + timeout
        while True:
            if len(self.env) >= 9:
                ver, flags, stream, op, ln = struct.unpack(">BBhBI", self.env[:9])
                if len(self.env) >= 9 + ln:
                    body = self.env[9:9 + ln]
                    self.env = self.env[9 + ln:]
                    return ver, flags, stream, op, body
            if self._take_frame():
                continue
            if not self._fill(deadline):
                return "closed" if self.eof else "timeout"


def qbody_v5(cql, values=None, consistency=1, flags=0, keyspace=None):
    b = cql.encode()
    if values is not None:
        flags |= 0x01
    if keyspace:
        flags |= 0x80
    out = struct.pack(">I", len(b)) + b + struct.pack(">HI", consistency, flags)
    if values is not None:
        out += struct.pack(">H", len(values))
        for v in values:
            out += struct.pack(">i", len(v)) + v
    if keyspace:
        out += struct.pack(">H", len(keyspace)) + keyspace.encode()
    return out


def read_until(r, streams, timeout=TIMEOUT):
    got = {}
    deadline = time.monotonic() + timeout
    while set(streams) - set(got):
        f = r.read_frame(max(0.05, deadline - time.monotonic()))
        assert not isinstance(f, str), "got %s; answered so far: %s" % (f, sorted(got))
        got[f[2]] = f
    return got


def test_raw_v5_handshake_options_and_framing(server):
    r = RawV5(server.port)
    try:
        # OPTIONS before STARTUP: unframed, in v5
        r.send(frame(5, OP_OPTIONS, b"", stream=3))
        f = r.read_frame()
        assert f[0] == 0x85 and f[2] == 3 and f[3] == OP_SUPPORTED, describe(f)
        assert b"5/v5" in f[4] and b"lz4" in f[4] and b"snappy" in f[4]
        r.handshake(flags=0x10)  # the beta flag is accepted: v5 is not beta
        r.send(r.envelopes([frame(5, OP_QUERY, qbody_v5("SELECT key FROM system.local"),
                                  stream=7)]))
        f = r.read_frame()
        assert f[0] == 0x85 and f[2] == 7 and f[3] == OP_RESULT, describe(f)
        assert r.frames == [(True, 9 + len(f[4]))]
        # OPTIONS after STARTUP is framed too
        r.send(r.envelopes([frame(5, OP_OPTIONS, b"", stream=8)]))
        f = r.read_frame()
        assert f[2] == 8 and f[3] == OP_SUPPORTED, describe(f)
    finally:
        r.close()


def test_raw_v5_packed_and_pipelined(server):
    """Several envelopes in one self-contained frame; many requests in one
    write: all answered, small answers packed several to a frame."""
    r = RawV5(server.port)
    try:
        r.handshake()
        envs = [frame(5, OP_QUERY, qbody_v5("SELECT key FROM system.local"), stream=i)
                for i in range(1, 4)]
        r.send(r.segment(b"".join(envs)))
        got = read_until(r, [1, 2, 3])
        assert all(f[3] == OP_RESULT for f in got.values())
        envs = [frame(5, OP_QUERY, qbody_v5("SELECT key FROM system.local"), stream=i)
                for i in range(10, 210)]
        r.send(r.envelopes(envs))
        got = read_until(r, range(10, 210))
        assert all(f[3] == OP_RESULT for f in got.values())
        assert len(r.frames) < 1 + 200, "no packing of small responses: %d frames" % len(
            r.frames)
        assert all(sc for sc, _ in r.frames)
    finally:
        r.close()


def test_raw_v5_multi_frame_envelopes(server, session, keyspace):
    session.execute("CREATE TABLE %s.big (k int PRIMARY KEY, b blob)" % keyspace)
    value = bytes(range(256)) * 1600  # 400 KiB: 4 frames each way
    for lz4 in ([False, True] if HAVE_LZ4 else [False]):
        r = RawV5(server.port, lz4=lz4)
        try:
            r.handshake("lz4" if lz4 else None)
            ins = frame(5, OP_QUERY, qbody_v5("INSERT INTO %s.big (k, b) VALUES (?, ?)" % keyspace,
                                              [struct.pack(">i", 1), value]), stream=1)
            r.send(r.envelopes([ins]))
            f = r.read_frame()
            assert f[2] == 1 and f[3] == OP_RESULT, describe(f)
            r.frames.clear()
            r.send(r.envelopes([frame(5, OP_QUERY, qbody_v5(
                "SELECT b FROM %s.big WHERE k = 1" % keyspace), stream=2)]))
            f = r.read_frame()
            assert f[2] == 2 and f[3] == OP_RESULT, describe(f)
            assert value in f[4]
            assert len(r.frames) >= 4 and not any(sc for sc, _ in r.frames), r.frames
        finally:
            r.close()


def _expect_closed_after_error(r, what):
    fs = r.read_until_eof()
    assert fs[-1] == "closed", "%s: connection not closed: %s" % (what, fs)
    for f in fs[:-1]:
        assert f[3] == OP_ERROR and error_of(f[4])[0] in (ERR_PROTOCOL, 0), describe(f)


def test_raw_v5_bad_header_crc_closes(server):
    r = RawV5(server.port)
    try:
        r.handshake()
        r.send(r.segment(frame(5, OP_QUERY, qbody_v5("SELECT key FROM system.local"),
                               stream=4), bad24=True))
        _expect_closed_after_error(r, "bad CRC24")
    finally:
        r.close()


def test_raw_v5_bad_payload_crc_skips_frame(server):
    """As Cassandra: a self-contained frame failing its CRC32 is dropped
    with its requests; the connection goes on."""
    r = RawV5(server.port)
    try:
        r.handshake()
        q = qbody_v5("SELECT key FROM system.local")
        r.send(r.segment(frame(5, OP_QUERY, q, stream=5), bad32=True) +
               r.segment(frame(5, OP_QUERY, q, stream=6)))
        f = r.read_frame()
        assert f[2] == 6 and f[3] == OP_RESULT, describe(f)
        assert r.read_frame(timeout=0.5) == "timeout"
    finally:
        r.close()


def test_raw_v5_corrupt_first_frame_of_large_envelope_closes(server):
    r = RawV5(server.port)
    try:
        r.handshake()
        big = frame(5, OP_QUERY, qbody_v5("SELECT key FROM system.local", [b"x" * 300000]),
                    stream=1)
        r.send(r.segment(big[:0x1FFFF], self_contained=False, bad32=True))
        _expect_closed_after_error(r, "corrupt first frame of a large envelope")
    finally:
        r.close()


def test_raw_v5_misaligned_self_contained_frame_closes(server):
    r = RawV5(server.port)
    try:
        r.handshake()
        env = frame(5, OP_QUERY, qbody_v5("SELECT key FROM system.local"), stream=1)
        r.send(r.segment(env[:-3]))
        _expect_closed_after_error(r, "self-contained frame ending inside an envelope")
    finally:
        r.close()


def test_raw_v5_lz4_lying_lengths_close(server):
    need("lz4")
    import lz4.block
    env = frame(5, OP_QUERY, qbody_v5("SELECT key FROM system.local WHERE key = '%s'"
                                      % ("a" * 300)), stream=1)
    block = lz4.block.compress(env, store_size=False)
    for lie in (len(env) + 1, len(env) - 1, 0x1FFFF):
        r = RawV5(server.port, lz4=True)
        try:
            r.handshake("lz4")
            r.send(r.segment(block, ulen=lie))
            _expect_closed_after_error(r, "uncompressed length %d for %d" % (lie, len(env)))
        finally:
            r.close()
    # and the truth works
    r = RawV5(server.port, lz4=True)
    try:
        r.handshake("lz4")
        r.send(r.segment(block, ulen=len(env)))
        f = r.read_frame()
        assert f[2] == 1 and f[3] == OP_RESULT, describe(f)
    finally:
        r.close()


def test_raw_v5_request_too_big(server):
    r = RawV5(server.port)
    try:
        r.handshake()
        hdr = struct.pack(">BBhBI", 5, 0, 9, OP_QUERY, 300 * 1000 * 1000)
        r.send(r.segment(hdr + b"\x00" * 100, self_contained=False))
        fs = r.read_until_eof()
        assert fs[-1] == "closed"
        assert fs[0][3] == OP_ERROR and error_of(fs[0][4])[0] == 0x2200, describe(fs[0])
        assert "Request is too big" in error_of(fs[0][4])[1]
    finally:
        r.close()


def _prepared_ids(body):
    kind, n = struct.unpack(">IH", body[:6])
    assert kind == 4
    qid = body[6:6 + n]
    m, = struct.unpack(">H", body[6 + n:8 + n])
    return qid, body[8 + n:8 + n + m]


def _execute_body(qid, mdid, values, skip_metadata=True):
    flags = 0x01 | (0x02 if skip_metadata else 0)
    out = struct.pack(">H", len(qid)) + qid + struct.pack(">H", len(mdid)) + mdid
    out += struct.pack(">HIH", 1, flags, len(values))
    for v in values:
        out += struct.pack(">i", len(v)) + v
    return out


def test_raw_v5_metadata_changed(server, session, keyspace):
    """EXECUTE with the current result metadata id and skip_metadata: rows
    without metadata. With another id: Metadata_changed, the current id and
    the full metadata (Cassandra's behaviour for stale prepared metadata)."""
    session.execute("CREATE TABLE %s.mc (k int PRIMARY KEY, v text)" % keyspace)
    session.execute("INSERT INTO %s.mc (k, v) VALUES (1, 'one')" % keyspace)
    r = RawV5(server.port)
    try:
        r.handshake()
        cql = b"SELECT k, v FROM %s.mc WHERE k = ?" % keyspace.encode()
        r.send(r.envelopes([frame(5, OP_PREPARE, struct.pack(">I", len(cql)) + cql +
                                  struct.pack(">I", 0), stream=1)]))
        f = r.read_frame()
        assert f[3] == OP_RESULT, describe(f)
        qid, mdid = _prepared_ids(f[4])
        assert len(mdid) == 16
        k1 = struct.pack(">i", 1)
        r.send(r.envelopes([frame(5, OP_EXECUTE, _execute_body(qid, mdid, [k1]), stream=2)]))
        f = r.read_frame()
        assert f[3] == OP_RESULT, describe(f)
        flags, = struct.unpack(">I", f[4][4:8])
        assert flags & 0x04 and not flags & 0x08, hex(flags)
        r.send(r.envelopes([frame(5, OP_EXECUTE, _execute_body(qid, b"\x00" * 16, [k1]),
                                  stream=3)]))
        f = r.read_frame()
        assert f[3] == OP_RESULT, describe(f)
        flags, ncols = struct.unpack(">II", f[4][4:12])
        assert flags & 0x08 and not flags & 0x04, hex(flags)
        n, = struct.unpack(">H", f[4][12:14])
        assert f[4][14:14 + n] == mdid
        assert b"one" in f[4] and b"mc" in f[4]
    finally:
        r.close()


def test_raw_startup_compression_errors(server):
    cases = [(5, "snappy", "Snappy compression is not supported in protocol V5"),
             (4, "zstd", "Unknown compression algorithm: zstd"),
             (5, "gzip", "Unknown compression algorithm: gzip")]
    for version, comp, msg in cases:
        r = Raw(server.port)
        try:
            r.send(frame(version, OP_STARTUP,
                         string_map({"CQL_VERSION": "3.0.0", "COMPRESSION": comp}), stream=2))
            f = r.read_frame()
            assert f[3] == OP_ERROR and f[2] == 2, describe(f)
            code, m = error_of(f[4])
            assert code == ERR_PROTOCOL and m == msg, (code, m)
            # still unframed and usable: a good STARTUP works
            r.send(frame(version, OP_STARTUP, string_map({"CQL_VERSION": "3.0.0"}), stream=3))
            f = r.read_frame()
            assert f[3] == OP_READY, describe(f)
        finally:
            r.close()


# ---------------------------------------------------------------------------
# raw v4 compressed bodies


def _v4_compressed_connection(server, comp):
    r = Raw(server.port)
    r.send(frame(4, OP_STARTUP, string_map({"CQL_VERSION": "3.0.0", "COMPRESSION": comp}),
                 stream=1))
    f = r.read_frame()
    assert f[3] == OP_READY and not f[1] & 0x01, describe(f)
    return r


def _v4_query(cql):
    b = cql.encode()
    return struct.pack(">I", len(b)) + b + struct.pack(">HB", 1, 0)


@pytest.mark.parametrize("comp", ["lz4", "snappy"])
def test_raw_v4_compressed_bodies(server, comp):
    need(comp)
    if comp == "lz4":
        import lz4.block

        def compress(b):
            return struct.pack(">I", len(b)) + lz4.block.compress(b, store_size=False)

        def decompress(b):
            n, = struct.unpack(">I", b[:4])
            return lz4.block.decompress(b[4:], uncompressed_size=n)

        lying = [struct.pack(">I", 10 ** 6) + b"\x10a",  # claims far more than it holds
                 struct.pack(">I", 1 << 30) + b"\x00",  # more than the frame limit
                 b"\x00\x00"]  # shorter than the length
    else:
        import snappy
        compress, decompress = snappy.compress, snappy.decompress
        lying = [b"\xff\xff\xff\xff\x0f\x00a", b"\x80\x80\x40\x00a", b"\xa5" * 20]
    r = _v4_compressed_connection(server, comp)
    try:
        body = _v4_query("SELECT key, release_version FROM system.local")
        r.send(frame(4, OP_QUERY, compress(body), stream=2, flags=0x01))
        f = r.read_frame()
        assert f[2] == 2 and f[3] == OP_RESULT and f[1] & 0x01, describe(f)
        assert b"local" in decompress(f[4])
        # an uncompressed body is fine too (the flag says which)
        r.send(frame(4, OP_QUERY, body, stream=3))
        f = r.read_frame()
        assert f[2] == 3 and f[3] == OP_RESULT, describe(f)
        for i, junk in enumerate(lying):
            r.send(frame(4, OP_QUERY, junk, stream=10 + i, flags=0x01))
            f = r.read_frame()
            assert f[2] == 10 + i and f[3] == OP_ERROR, describe(f)
            out = decompress(f[4]) if f[1] & 0x01 else f[4]
            assert error_of(out)[0] == ERR_PROTOCOL, error_of(out)
        # the connection survived
        r.send(frame(4, OP_QUERY, compress(body), stream=20, flags=0x01))
        f = r.read_frame()
        assert f[2] == 20 and f[3] == OP_RESULT, describe(f)
    finally:
        r.close()
