"""
wire.py — a small CQL native-protocol v4 client for the loader's range
scans: prepared EXECUTEs with paging over a few plain sockets, many
requests in flight, the rows decoded straight from one receive buffer.

What: ``Connection(host, port)`` does STARTUP (no authentication, no
compression), ``prepare(query)`` returns a ``Prepared`` (id, column types,
whether this module can decode them), ``execute(prepared, values,
fetch_size, paging_state, callback)`` sends one EXECUTE and calls
``callback(rows, paging_state, error)`` on the connection's reader thread
when the answer is in. ``Pool`` spreads requests over several connections.

Why not cassandra-driver for this: profiling the driver on bench/dali's
table (65 KB blobs, pages of 64..256 rows) showed it spending its time in
growing and copying receive buffers (4 KB reads into a BytesIO, page
faults on every frame) and decompressing LZ4 frames of incompressible
JPEGs, about 3,000 rows/s per process; a frame read here is one
``recv_into`` a buffer of the frame's size, and a blob one slice of it.
The driver stays in use for everything else (schema, types this module
does not decode).

Invariants: protocol v4 only; a frame is received into the connection's
one reusable buffer and its handler, run before the next frame is read,
copies out what it keeps; a request's stream id is not reused before
its answer is in; every request gets exactly one callback (an error
answer, or the connection closing, is passed as ``error``); decoded types:
blob, ascii/text/varchar, int, bigint/counter, smallint, tinyint, boolean,
float, double, uuid/timeuuid — ``Prepared.decodable`` says whether a
statement's columns are all of them.
"""
from __future__ import annotations

import socket
import struct
import threading
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

VERSION = 0x04
OP_ERROR, OP_STARTUP, OP_READY, OP_AUTHENTICATE = 0x00, 0x01, 0x02, 0x03
OP_RESULT, OP_PREPARE, OP_EXECUTE = 0x08, 0x09, 0x0A
CONSISTENCY_ONE = 0x0001

_HDR = struct.Struct(">BBhBi")
_I32 = struct.Struct(">i")
_U16 = struct.Struct(">H")
_I64 = struct.Struct(">q")


def _uuid(b: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=b)


def _int(fmt: str) -> Callable[[bytes], Any]:
    s = struct.Struct(fmt)
    return lambda b: s.unpack(b)[0]


# type option id -> decoder of a cell's bytes (None: the bytes as they are)
_DECODERS: Dict[int, Optional[Callable[[bytes], Any]]] = {
    0x0003: None,                         # blob
    0x0001: lambda b: b.decode("ascii"),  # ascii
    0x000A: lambda b: b.decode("utf-8"),  # text
    0x000D: lambda b: b.decode("utf-8"),  # varchar
    0x0009: _int(">i"), 0x0002: _int(">q"), 0x0005: _int(">q"),  # int, bigint, counter
    0x0013: _int(">h"), 0x0014: _int(">b"),                      # smallint, tinyint
    0x0004: lambda b: b != b"\x00",                              # boolean
    0x0008: _int(">f"), 0x0007: _int(">d"),                      # float, double
    0x000C: _uuid, 0x000F: _uuid,                                # uuid, timeuuid
}


class CQLError(Exception):
    """An ERROR answer: ``code`` and ``message`` as the server sent them."""

    def __init__(self, code: int, message: str):
        super().__init__("CQL error 0x%04x: %s" % (code, message))
        self.code, self.message = code, message


class _Reader:
    """Cursor over one frame body."""

    __slots__ = ("b", "p")

    def __init__(self, b: memoryview):
        self.b, self.p = b, 0

    def i32(self) -> int:
        v = _I32.unpack_from(self.b, self.p)[0]
        self.p += 4
        return v

    def u16(self) -> int:
        v = _U16.unpack_from(self.b, self.p)[0]
        self.p += 2
        return v

    def string(self) -> str:
        n = self.u16()
        v = bytes(self.b[self.p:self.p + n]).decode("utf-8")
        self.p += n
        return v

    def short_bytes(self) -> bytes:
        n = self.u16()
        v = bytes(self.b[self.p:self.p + n])
        self.p += n
        return v

    def bytes_(self) -> Optional[bytes]:
        n = self.i32()
        if n < 0:
            return None
        v = bytes(self.b[self.p:self.p + n])
        self.p += n
        return v

    def option(self) -> Tuple[int, bool]:
        """A type option: (id, whether _DECODERS has it); nested types are
        read past and reported undecodable."""
        t = self.u16()
        if t == 0x0000:
            self.string()
            return t, False
        if t in (0x0020, 0x0022):  # list, set
            self.option()
            return t, False
        if t == 0x0021:  # map
            self.option()
            self.option()
            return t, False
        if t == 0x0030:  # udt
            self.string()
            self.string()
            for _ in range(self.u16()):
                self.string()
                self.option()
            return t, False
        if t == 0x0031:  # tuple
            for _ in range(self.u16()):
                self.option()
            return t, False
        return t, t in _DECODERS

    def metadata(self) -> Tuple[int, Optional[bytes], List[Tuple[int, bool]]]:
        """Result metadata: (flags, paging state, [(type id, decodable)])."""
        flags = self.i32()
        n = self.i32()
        paging = self.bytes_() if flags & 0x0002 else None
        cols: List[Tuple[int, bool]] = []
        if not flags & 0x0004:
            glob = flags & 0x0001
            if glob:
                self.string()
                self.string()
            for _ in range(n):
                if not glob:
                    self.string()
                    self.string()
                self.string()
                cols.append(self.option())
        return flags, paging, cols


class Prepared:
    """A prepared statement: its id and result column types."""

    def __init__(self, qid: bytes, cols: List[Tuple[int, bool]]):
        self.id = qid
        self.types = [t for t, _ in cols]
        self.decodable = all(ok for _, ok in cols)
        self.decoders = [_DECODERS.get(t) for t in self.types]


Callback = Callable[[Optional[List[tuple]], Optional[bytes], Optional[BaseException]], None]


class Connection:
    """One socket, protocol v4, a reader thread dispatching answers."""

    def __init__(self, host: str, port: int, timeout: float = 15.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.settimeout(None)
        self.lock = threading.Lock()  # stream ids and waiting handlers
        self.send_lock = threading.Lock()  # whole frames onto the socket
        self.free = list(range(32767, 0, -1))
        self.waiting: Dict[int, Tuple[Callable[[int, memoryview], None], Callable]] = {}
        self.closed: Optional[BaseException] = None
        self.prepared: Dict[str, Prepared] = {}
        self.rbuf = bytearray(1 << 16)
        self.thread = threading.Thread(target=self._run, name="helenus-wire", daemon=True)
        self.thread.start()
        ev = threading.Event()
        out: List[Any] = []

        def ready(op: int, body: memoryview) -> None:
            out.append((op, bytes(body)))
            ev.set()

        startup = struct.pack(">H", 1) + _string("CQL_VERSION") + _string("3.0.0")
        self._send(OP_STARTUP, startup, ready)
        if not ev.wait(timeout):
            raise TimeoutError("no answer to STARTUP from %s:%d" % (host, port))
        op, body = out[0]
        if op == OP_AUTHENTICATE:
            raise ConnectionError("the server asks for authentication; the loader's wire "
                                  "transport has none (use transport='driver')")
        if op != OP_READY:
            raise _error(op, memoryview(body))

    def _send(self, op: int, body: bytes, handler: Callable[[int, memoryview], None]) -> None:
        with self.lock:
            if self.closed is not None:
                raise ConnectionError("connection closed: %s" % self.closed)
            if not self.free:
                raise RuntimeError("more than 32767 requests in flight on one connection")
            sid = self.free.pop()
            self.waiting[sid] = (handler, None)
        with self.send_lock:
            self.sock.sendall(_HDR.pack(VERSION, 0, sid, op, len(body)) + body)

    def _recv_exact(self, n: int) -> memoryview:
        """The next n bytes, in the connection's receive buffer (reused: a
        handler must copy out what it keeps before the next frame)."""
        if len(self.rbuf) < n:
            self.rbuf = bytearray(max(n, 2 * len(self.rbuf)))
        mv = memoryview(self.rbuf)[:n]
        got = 0
        while got < n:
            k = self.sock.recv_into(mv[got:], n - got)
            if k == 0:
                raise ConnectionError("server closed the connection")
            got += k
        return mv

    def _run(self) -> None:
        try:
            while True:
                ver, _flags, sid, op, n = _HDR.unpack(bytes(self._recv_exact(9)))
                body = self._recv_exact(n) if n else memoryview(b"")
                if ver & 0x7F != VERSION:
                    raise ConnectionError("protocol version %#x in an answer" % ver)
                with self.lock:
                    handler, _ = self.waiting.pop(sid, (None, None))
                    self.free.append(sid)
                if handler is not None:
                    handler(op, body)
        except BaseException as e:  # the socket closed or broke: fail what waits
            with self.lock:
                self.closed = e
                waiting, self.waiting = self.waiting, {}
            for handler, _ in waiting.values():
                handler(-1, memoryview(str(e).encode()))

    def prepare(self, query: str, timeout: float = 30.0) -> Prepared:
        p = self.prepared.get(query)
        if p is not None:
            return p
        ev = threading.Event()
        out: List[Any] = []

        def done(op: int, body: memoryview) -> None:
            out.append((op, memoryview(bytes(body))))
            ev.set()

        q = query.encode("utf-8")
        self._send(OP_PREPARE, _I32.pack(len(q)) + q, done)
        if not ev.wait(timeout):
            raise TimeoutError("no answer to PREPARE")
        op, body = out[0]
        if op != OP_RESULT:
            raise _error(op, body)
        r = _Reader(body)
        if r.i32() != 0x0004:
            raise ConnectionError("PREPARE answered with another result kind")
        qid = r.short_bytes()
        flags, n, npk = r.i32(), r.i32(), r.i32()  # the bind variables' metadata
        for _ in range(npk):
            r.u16()
        glob = flags & 0x0001
        if glob:
            r.string()
            r.string()
        for _ in range(n):
            if not glob:
                r.string()
                r.string()
            r.string()
            r.option()
        _f, _p, cols = r.metadata()
        p = self.prepared[query] = Prepared(qid, cols)
        return p

    def execute(self, p: Prepared, values: Sequence[bytes], fetch_size: int,
                paging_state: Optional[bytes], callback: Callback) -> None:
        """Sends EXECUTE (consistency ONE, skip_metadata); callback(rows,
        next paging state or None, None) or callback(None, None, error)."""
        flags = 0x01 | 0x02 | 0x04 | (0x08 if paging_state is not None else 0)
        parts = [_U16.pack(len(p.id)), p.id, _U16.pack(CONSISTENCY_ONE), bytes([flags]),
                 _U16.pack(len(values))]
        for v in values:
            parts += [_I32.pack(len(v)), v]
        parts.append(_I32.pack(fetch_size))
        if paging_state is not None:
            parts += [_I32.pack(len(paging_state)), paging_state]
        decoders = p.decoders

        def done(op: int, body: memoryview) -> None:
            try:
                if op != OP_RESULT:
                    raise _error(op, body)
                rows, paging = _rows(body, decoders)
            except BaseException as e:
                callback(None, None, e)
                return
            callback(rows, paging, None)

        self._send(OP_EXECUTE, b"".join(parts), done)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return _U16.pack(len(b)) + b


def _error(op: int, body: memoryview) -> BaseException:
    if op == -1:
        return ConnectionError(bytes(body).decode("utf-8", "replace"))
    if op == OP_ERROR:
        r = _Reader(body)
        code = r.i32()
        return CQLError(code, r.string())
    return ConnectionError("unexpected opcode %#x" % op)


def _rows(body: memoryview, decoders: List[Optional[Callable[[bytes], Any]]]
          ) -> Tuple[List[tuple], Optional[bytes]]:
    """A RESULT frame's rows (kind ROWS, metadata skipped) and paging state."""
    r = _Reader(body)
    if r.i32() != 0x0002:
        raise ConnectionError("EXECUTE of a SELECT answered with another result kind")
    _flags, paging, _cols = r.metadata()
    nrows = r.i32()
    b, p = body, r.p
    unpack = _I32.unpack_from
    out: List[tuple] = []
    for _ in range(nrows):
        row = []
        for dec in decoders:
            n = unpack(b, p)[0]
            p += 4
            if n < 0:
                row.append(None)
                continue
            v = bytes(b[p:p + n])
            p += n
            row.append(v if dec is None else dec(v))
        out.append(tuple(row))
    return out, paging


class Pool:
    """Several connections to one server; requests go round robin."""

    def __init__(self, host: str, port: int, connections: int = 2):
        self.conns = [Connection(host, port) for _ in range(max(1, connections))]
        self.next = 0

    def prepare(self, query: str) -> List[Prepared]:
        return [c.prepare(query) for c in self.conns]

    def pick(self) -> int:
        i = self.next % len(self.conns)
        self.next += 1
        return i

    def close(self) -> None:
        for c in self.conns:
            c.close()


def bigint(v: int) -> bytes:
    """A bigint bind value (a token)."""
    return _I64.pack(v)
