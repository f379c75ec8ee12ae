"""Malformed input on raw sockets. Each case must end in an ERROR frame or a
closed connection (never a hang, crash or sanitizer report), and afterwards a
normal driver session on another connection must still work. Every socket
operation is bounded (5 s)."""

import random
import socket
import struct
import time

import pytest
from cassandra.cluster import Cluster

import conftest
from conftest import HelenusServer

pytestmark = pytest.mark.badinput

TIMEOUT = 5.0
OP_ERROR, OP_STARTUP, OP_READY, OP_OPTIONS, OP_SUPPORTED, OP_QUERY, OP_RESULT = (
    0x00, 0x01, 0x02, 0x05, 0x06, 0x07, 0x08)
ERR_PROTOCOL = 0x000A


# ---------------------------------------------------------------------------
# raw protocol helpers


def string_map(d):
    out = struct.pack(">H", len(d))
    for k, v in d.items():
        kb, vb = k.encode(), v.encode()
        out += struct.pack(">H", len(kb)) + kb + struct.pack(">H", len(vb)) + vb
    return out


STARTUP_BODY = string_map({"CQL_VERSION": "3.0.0"})


def frame(version, opcode, body=b"", stream=0, flags=0, length=None):
    if length is None:
        length = len(body)
    return struct.pack(">BBhBI", version, flags, stream, opcode, length) + body


def query_body(cql, consistency=1):
    b = cql.encode()
    return struct.pack(">I", len(b)) + b + struct.pack(">HB", consistency, 0)


class Raw:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.s.settimeout(TIMEOUT)
        self.buf = b""
        self.eof = False

    def send(self, data):
        try:
            self.s.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.eof = True
            return False

    def _fill(self, deadline):
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.s.settimeout(remaining)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_frame(self, timeout=TIMEOUT):
        """Returns (version, flags, stream, opcode, body), or 'closed', or
        'timeout'."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                ver, flags, stream, op, ln = struct.unpack(">BBhBI", self.buf[:9])
                if len(self.buf) >= 9 + ln:
                    body = self.buf[9:9 + ln]
                    self.buf = self.buf[9 + ln:]
                    return ver, flags, stream, op, body
            if not self._fill(deadline):
                return "closed" if self.eof else "timeout"

    def read_until_eof(self, timeout=TIMEOUT):
        """All frames until EOF; the last element is 'closed' or 'timeout'."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_frame(max(0.0, deadline - time.monotonic()))
            out.append(f)
            if isinstance(f, str):
                return out

    def startup(self):
        self.send(frame(4, OP_STARTUP, STARTUP_BODY, stream=1))
        f = self.read_frame()
        assert not isinstance(f, str), "no reply to a valid v4 STARTUP: %s" % f
        assert f[0] == 0x84 and f[3] == OP_READY, "STARTUP reply %r" % (f[:4],)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def error_of(body):
    code, mlen = struct.unpack(">IH", body[:6])
    return code, body[6:6 + mlen].decode("utf-8", "replace")


def describe(f):
    if isinstance(f, str):
        return f
    ver, flags, stream, op, body = f
    s = "frame(ver=0x%02x flags=0x%02x stream=%d op=0x%02x len=%d)" % (ver, flags, stream, op,
                                                                       len(body))
    if op == OP_ERROR and len(body) >= 6:
        s += " error 0x%04x %r" % error_of(body)
    return s


def assert_error_or_closed(f, code=ERR_PROTOCOL, what=""):
    """f is an ERROR frame (with `code` when given) or 'closed'; never a
    timeout or a non-error reply."""
    assert f != "timeout", "%s: no ERROR and no close within %.0fs" % (what, TIMEOUT)
    if f == "closed":
        return None
    ver, _flags, _stream, op, body = f
    assert ver & 0x80, "%s: reply without the response bit: %s" % (what, describe(f))
    assert op == OP_ERROR, "%s: expected ERROR, got %s" % (what, describe(f))
    c, msg = error_of(body)
    if code is not None:
        assert c == code, "%s: error code 0x%04x (%r), want 0x%04x" % (what, c, msg, code)
    return c, msg


def driver_still_works(srv):
    assert srv.alive(), "server died (rc %r)\n%s" % (srv.proc.returncode, srv.tail())
    c = Cluster(["127.0.0.1"], port=srv.port, connect_timeout=5, control_connection_timeout=5)
    try:
        s = c.connect()
        row = s.execute("SELECT release_version FROM system.local", timeout=5).one()
        assert row.release_version.startswith("5.0")
    finally:
        c.shutdown()
    srv.check_sanitizers()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def _bad_srv_state(helenus_bin, tmp_path_factory):
    """One server for the module, replaced when a test killed it (that test
    fails on its own); stopped cleanly and sanitizer-checked at the end."""
    state = {"srv": None, "all": [], "base": tmp_path_factory.mktemp("badinput"),
             "bin": helenus_bin}
    yield state
    problems = []
    for s in state["all"]:
        if s.alive():
            rc = s.stop()
            if rc != 0:
                problems.append("exit code %r after SIGTERM\n%s" % (rc, s.tail()))
        problems.extend(s.sanitizer_reports())
    assert not problems, "\n".join(problems)


@pytest.fixture
def srv(_bad_srv_state):
    st = _bad_srv_state
    s = st["srv"]
    if s is None or not s.alive() or s.sanitizer_reports():
        n = len(st["all"])
        s = HelenusServer(st["bin"], str(st["base"] / ("d%d" % n)), str(st["base"] / "logs"),
                          shards=2, name="bad%d" % n)
        s.start()
        st["srv"], st["all"] = s, st["all"] + [s]
    elif s not in conftest._TEST_SERVERS:
        conftest._TEST_SERVERS.append(s)
    return s


# ---------------------------------------------------------------------------
# cases


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes(srv, seed):
    rnd = random.Random(seed)
    data = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([1, 8, 9, 64, 512, 4096])))
    r = Raw(srv.port)
    try:
        r.send(data)
        try:
            r.s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        frames = r.read_until_eof()
    finally:
        r.close()
    assert frames[-1] == "closed", "connection not closed after random bytes + EOF: %s" % (
        [describe(f) for f in frames])
    for f in frames[:-1]:
        assert_error_or_closed(f, code=None, what="random bytes seed %d" % seed)
    driver_still_works(srv)


def test_random_garbage_after_startup(srv):
    rnd = random.Random(99)
    r = Raw(srv.port)
    try:
        r.startup()
        r.send(bytes(rnd.getrandbits(8) for _ in range(300)))
        r.s.shutdown(socket.SHUT_WR)
        frames = r.read_until_eof()
    finally:
        r.close()
    assert frames[-1] == "closed", [describe(f) for f in frames]
    for f in frames[:-1]:
        assert_error_or_closed(f, code=None, what="garbage after STARTUP")
    driver_still_works(srv)


@pytest.mark.parametrize("after_startup", [False, True], ids=["before-startup", "after-startup"])
@pytest.mark.parametrize("opcode", [0x55, 0xFF, 0x04, OP_RESULT, OP_READY])
def test_unknown_or_server_only_opcode(srv, opcode, after_startup):
    r = Raw(srv.port)
    try:
        if after_startup:
            r.startup()
        r.send(frame(4, opcode, b"", stream=5))
        f = r.read_frame()
        res = assert_error_or_closed(f, what="opcode 0x%02x" % opcode)
        if res is not None:
            assert f[2] == 5, "ERROR on stream %d, want 5" % f[2]
            assert f[0] == 0x84
    finally:
        r.close()
    driver_still_works(srv)


def test_truncated_body_then_close(srv):
    r = Raw(srv.port)
    try:
        r.startup()
        r.send(frame(4, OP_QUERY, b"\x00" * 10, stream=2, length=100))
        # the server is waiting for 90 more bytes: it must keep serving others
        driver_still_works(srv)
    finally:
        r.close()
    time.sleep(0.2)
    driver_still_works(srv)


def test_truncated_body_before_startup_then_close(srv):
    r = Raw(srv.port)
    try:
        r.send(frame(4, OP_STARTUP, STARTUP_BODY[:5], stream=0, length=100))
    finally:
        r.close()
    time.sleep(0.2)
    driver_still_works(srv)


def test_header_claims_more_then_valid_frame(srv):
    """A QUERY header claiming 100 bytes, 10 bytes of it, then a valid OPTIONS
    frame: the OPTIONS bytes are swallowed as body (no reply yet); once the
    body is complete (81 more bytes) the malformed QUERY gets an ERROR (or the
    connection closes); a following OPTIONS then gets SUPPORTED if the
    connection is still open."""
    r = Raw(srv.port)
    try:
        r.startup()
        bogus = b"\x7f\xff\xff\xff" + b"SELECT"  # long string longer than the body
        r.send(frame(4, OP_QUERY, bogus, stream=3, length=100))
        r.send(frame(4, OP_OPTIONS, b"", stream=4))
        f = r.read_frame(timeout=1.5)
        if f != "timeout":
            # replying before the body is complete is acceptable only as a
            # protocol ERROR or a close
            assert_error_or_closed(f, what="incomplete body")
        else:
            driver_still_works(srv)
            r.send(b"\x00" * (100 - 10 - 9))
            f = r.read_frame()
            res = assert_error_or_closed(f, what="malformed QUERY body")
            if res is not None:
                assert f[2] == 3, describe(f)
                r.send(frame(4, OP_OPTIONS, b"", stream=6))
                f = r.read_frame()
                assert f == "closed" or (f[3] == OP_SUPPORTED and f[2] == 6), describe(f)
    finally:
        r.close()
    driver_still_works(srv)


@pytest.mark.parametrize("after_startup", [False, True], ids=["before-startup", "after-startup"])
def test_huge_frame_length(srv, after_startup):
    r = Raw(srv.port)
    rss0 = rss_kb(srv.proc.pid)
    try:
        if after_startup:
            r.startup()
        length = 300 * 1024 * 1024
        r.send(frame(4, OP_QUERY, query_body("SELECT * FROM system.local"), stream=7,
                     length=length))
        r.send(b"\x00" * 65536)
        f = r.read_frame()
        # Cassandra answers an over-long frame with Invalid (0x2200) "Request
        # is too big: length N exceeds maximum allowed length M."
        res = assert_error_or_closed(f, code=None, what="300 MB frame header")
        if res is not None:
            code, msg = res
            assert code in (0x2200, ERR_PROTOCOL), describe(f)
            assert f[2] == 7 or f[2] == 0, describe(f)
    finally:
        r.close()
    rss1 = rss_kb(srv.proc.pid)
    assert rss1 - rss0 < 100 * 1024, "RSS grew by %d kB after a 300 MB frame header" % (
        rss1 - rss0)
    driver_still_works(srv)


@pytest.mark.parametrize("version,flags", [(6, 0), (6, 0x10), (0x41, 0), (0x42, 0), (0x7f, 0)],
                         ids=["v6", "v6-beta", "dse-v1", "dse-v2", "v127"])
def test_unsupported_protocol_version_startup(srv, version, flags):
    r = Raw(srv.port)
    try:
        r.send(frame(version, OP_STARTUP, STARTUP_BODY, stream=0, flags=flags))
        f = r.read_frame()
        assert not isinstance(f, str), "STARTUP v%#x: got %s, want ERROR 0x000A" % (version, f)
        ver, _fl, stream, op, body = f
        assert op == OP_ERROR, describe(f)
        code, msg = error_of(body)
        assert code == ERR_PROTOCOL, describe(f)
        # the Python driver steps down only if it finds this exact phrase
        assert "unsupported protocol version" in msg, msg
        assert ver & 0x80, describe(f)
        assert (ver & 0x7f) in (4, version), "reply header version %#x" % ver
        assert stream == 0
    finally:
        r.close()
    driver_still_works(srv)


def test_old_protocol_versions(srv):
    """v1/v2 clients (8-byte header) get an ERROR or a close, not a hang."""
    for version in (1, 2):
        r = Raw(srv.port)
        try:
            # v1/v2 header: version, flags, stream (1 byte), opcode, length
            r.send(struct.pack(">BBbBI", version, 0, 0, OP_STARTUP, len(STARTUP_BODY))
                   + STARTUP_BODY)
            r.s.shutdown(socket.SHUT_WR)
            data = b""
            deadline = time.monotonic() + TIMEOUT
            while r._fill(deadline):
                pass
            assert r.eof, "v%d STARTUP: no close within %.0fs" % (version, TIMEOUT)
            data = r.buf
            if data:
                # whatever the header layout, it is an ERROR carrying 0x000A
                assert b"\x00\x00\x00\x0a" in data[:20], data[:64]
        finally:
            r.close()
    driver_still_works(srv)


def test_many_connections_open_and_close(srv):
    socks = []
    try:
        for _ in range(50):
            socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT))
        for i, s in enumerate(socks):
            if i % 2:
                s.sendall(frame(4, OP_OPTIONS, b"", stream=1))
    finally:
        for s in socks:
            s.close()
    driver_still_works(srv)


def test_startup_with_bad_body(srv):
    cases = [
        b"",  # no map at all
        b"\x00\x01\x00\x0bCQL_VERSION",  # key without value
        string_map({"CQL_VERSION": "2.0.0"}),  # Cassandra refuses CQL < 3
        string_map({"CQL_VERSION": "not.a.version"}),
        string_map({"DRIVER_NAME": "x"}),  # CQL_VERSION missing
        string_map({"CQL_VERSION": "3.0.0", "COMPRESSION": "zstd-nonexistent"}),
        b"\xff\xff" + b"\x00" * 10,  # 65535 entries claimed
    ]
    for body in cases:
        r = Raw(srv.port)
        try:
            r.send(frame(4, OP_STARTUP, body, stream=1))
            f = r.read_frame()
            assert_error_or_closed(f, code=None, what="STARTUP body %r" % body[:20])
        finally:
            r.close()
    driver_still_works(srv)


def test_query_before_startup(srv):
    r = Raw(srv.port)
    try:
        r.send(frame(4, OP_QUERY, query_body("SELECT * FROM system.local"), stream=1))
        f = r.read_frame()
        assert_error_or_closed(f, what="QUERY before STARTUP")
    finally:
        r.close()
    driver_still_works(srv)


def test_random_frames_with_valid_headers(srv):
    """Valid v4 headers with the right lengths and random bodies for every
    request opcode, after STARTUP: each gets an ERROR (any code) or a
    RESULT, or the connection closes; no crash."""
    rnd = random.Random(1234)
    for opcode in (OP_QUERY, 0x09, 0x0A, 0x0B, 0x0D, OP_OPTIONS, OP_STARTUP, 0x0F):
        for _ in range(5):
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
            r = Raw(srv.port)
            try:
                r.startup()
                r.send(frame(4, opcode, body, stream=9))
                f = r.read_frame()
                assert f != "timeout", "opcode 0x%02x body %s: no reply" % (opcode, body.hex())
                if f != "closed":
                    assert f[3] in (OP_ERROR, OP_RESULT, OP_SUPPORTED, OP_READY), describe(f)
            finally:
                r.close()
        assert srv.alive(), "server died on opcode 0x%02x\n%s" % (opcode, srv.tail())
    driver_still_works(srv)


def test_compressed_flag_without_compression(srv):
    r = Raw(srv.port)
    try:
        r.startup()
        # Cassandra ignores the flag when no compression was negotiated; either
        # way this body is malformed (long string longer than the body)
        r.send(frame(4, OP_QUERY, b"\x7f\xff\xff\xff" + b"\x00" * 28, stream=2, flags=0x01))
        f = r.read_frame()
        assert_error_or_closed(f, code=None, what="compression flag, none negotiated")
    finally:
        r.close()
    driver_still_works(srv)
