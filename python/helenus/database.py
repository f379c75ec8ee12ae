"""
database.py — Database, PreparedStatement, ResultSet and Server: the
Python face of the embedded engine (include/helenus.h through ctypes).

What: ``Database`` owns one ``hln_db`` handle; ``execute`` runs a statement
(with parameters: prepared once per CQL text and session keyspace, then
executed with values serialised by codecs.py); ``prepare`` gives a
``PreparedStatement``; ``execute_async`` and ``aexecute`` run the same call
on a worker thread. A ``ResultSet`` keeps the C result and decodes rows
lazily from one packed copy of them, or columns straight into numpy arrays.
``Server`` is the real CQL listener (``hln_serve``) on a Database.

Threads: every C call releases the GIL (ctypes does) and blocks only the
calling thread while a shard thread runs the statement, so threads and the
async variants really run concurrently. ``aexecute`` never blocks the event
loop: the C call runs on the Database's thread pool and the coroutine awaits
its future.

Invariants:
  1. Every C object (result, statement) is freed exactly once: by its
     finalizer, or by Database.close, which frees what is still alive before
     the engine stops (a result or statement holds a schema snapshot the
     engine owns). Using one after close raises Error.
  2. close() must not race with calls still running on the Database.
  3. A ResultSet of a statement that returned no rows holds no C result.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import ctypes
import threading
import weakref
from ctypes import byref, c_int, c_size_t, c_void_p
from typing import Any, Iterator, Sequence

from . import codecs
from ._lib import LIB, hln_open_options, spec_string
from .errors import Error, error_for

_I32 = codecs._I32


class _Unset:
    """The UNSET marker: a bound value left as it is (native protocol -2)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()
_NULL = b"\xff\xff\xff\xff"
_UNSET_BYTES = b"\xff\xff\xff\xfe"

_OPEN: "weakref.WeakSet[Database]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for db in list(_OPEN):
        try:
            db.close()
        except Error:
            pass


def _raise(rc: int) -> None:
    msg = (LIB.hln_db_errmsg(None) or b"").decode("utf-8", "replace")
    raise error_for(LIB.hln_cql_error_code(rc), rc, msg or "error %d" % rc)


def _pack(codec_list: Sequence[codecs.Codec], values: Sequence[Any]) -> bytes:
    parts = []
    for v, c in zip(values, codec_list):
        if v is None:
            parts.append(_NULL)
        elif v is UNSET:
            parts.append(_UNSET_BYTES)
        else:
            b = c.encode(v)
            parts.append(_I32.pack(len(b)))
            parts.append(b)
    return b"".join(parts)


_NO_META: tuple = ([], [], [], [])
_META_CACHE: dict[bytes, tuple] = {}
_tls = threading.local()


def _meta(handle: int) -> tuple:
    """(names, types, specs, codecs) of a result, parsed once per shape."""
    buf = getattr(_tls, "buf", None)
    if buf is None:
        buf = _tls.buf = ctypes.create_string_buffer(4096)
    need = LIB.hln_result_meta(handle, buf, len(buf))
    if need < 0:
        _raise(need)
    if need >= len(buf):
        buf = _tls.buf = ctypes.create_string_buffer(need + 1)
        LIB.hln_result_meta(handle, buf, len(buf))
    key = buf.value
    m = _META_CACHE.get(key)
    if m is None:
        cols = [c.split("\x1f") for c in key.decode().split("\x1e")[:-1]]
        m = ([c[0] for c in cols], [c[1] for c in cols], [c[2] for c in cols],
             [codecs.codec_for(c[2]) for c in cols])
        if len(_META_CACHE) < 4096:
            _META_CACHE[key] = m
    return m


class ResultSet:
    """The result of one statement: rows (tuples) with column metadata.

    Iterating gives tuples in column order; ``rows`` is the list of them;
    ``dicts()`` the same as dicts; ``to_numpy(col)`` decodes one numeric,
    timestamp, boolean or ``vector<...>`` column into an array without
    Python objects per row.
    """

    def __init__(self, db: "Database", handle: int):
        self._db = db
        self.kind: int = LIB.hln_result_kind(handle)
        meta = _meta(handle) if self.kind == 2 else _NO_META
        self.column_names: list[str] = list(meta[0])
        self.column_types: list[str] = list(meta[1])
        self._specs: list[str] = meta[2]
        self._codecs: list[codecs.Codec] = meta[3]
        ncols = len(self._codecs)
        self._nrows: int = LIB.hln_result_rows(handle)
        self._rows: list[tuple] | None = None
        self._handle: int | None = None
        self._free = None
        if self.kind == 2 and ncols:
            self._handle = handle
            self._free = weakref.finalize(self, LIB.hln_result_free, handle)
            db._results.add(self)
        else:
            LIB.hln_result_free(handle)
            self._rows = []

    def _release(self) -> None:
        """Frees the C result (rows already decoded stay readable)."""
        if self._free is not None:
            if self._rows is None:
                try:
                    self._rows = self._decode()
                except Error:
                    self._rows = []
            self._free()
            self._free = None
            self._handle = None

    def _h(self) -> int:
        if self._handle is None:
            raise Error("the result was released (its Database is closed)")
        return self._handle

    def _decode(self) -> list[tuple]:
        h = self._h()
        data, n = c_void_p(), c_size_t()
        rc = LIB.hln_result_packed(h, byref(data), byref(n))
        if rc:
            _raise(rc)
        buf = ctypes.string_at(data, n.value)
        decs = [c.decode for c in self._codecs]
        unpack = _I32.unpack_from
        rows = []
        off = 0
        for _ in range(self._nrows):
            row = []
            for d in decs:
                ln = unpack(buf, off)[0]
                off += 4
                if ln < 0:
                    row.append(None)
                else:
                    row.append(d(buf[off:off + ln]))
                    off += ln
            rows.append(tuple(row))
        return rows

    @property
    def rows(self) -> list[tuple]:
        """Every row, as a tuple of Python values (decoded once)."""
        if self._rows is None:
            self._rows = self._decode()
        return self._rows

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def __len__(self) -> int:
        return self._nrows

    def __repr__(self) -> str:
        return "<ResultSet %d rows, columns %s>" % (self._nrows, self.column_names)

    def one(self) -> tuple | None:
        """The first row, or None when there is none."""
        return self.rows[0] if self._nrows else None

    def dicts(self) -> list[dict[str, Any]]:
        """Every row as a dict of column name to value."""
        names = self.column_names
        return [dict(zip(names, r)) for r in self.rows]

    def _col(self, column: int | str) -> int:
        if isinstance(column, str):
            try:
                return self.column_names.index(column)
            except ValueError:
                raise KeyError("no column %r (columns: %s)" % (column, self.column_names))
        if not 0 <= column < len(self.column_names):
            raise IndexError("column %d out of range" % column)
        return column

    def to_numpy(self, column: int | str):
        """One column as a numpy array, decoded from the raw big-endian bytes.

        Numeric columns give 1-D arrays (int32, int64, float32, ...),
        timestamp gives datetime64[ms], boolean gives bool, and a
        ``vector<float, n>`` (or double, int, bigint...) column gives a 2-D
        array of shape (rows, n). Nulls make a numpy.ma masked array.
        """
        import numpy as np
        i = self._col(column)
        c = self._codecs[i]
        if not c.width or not c.numpy:
            raise TypeError("column %s (%s) is not numeric" % (self.column_names[i],
                                                               self.column_types[i]))
        n = self._nrows
        raw = np.empty(n * c.width, dtype=np.uint8)
        nulls = np.empty(n, dtype=np.uint8)
        rc = LIB.hln_result_column_copy(self._h(), i, raw.ctypes.data, c.width,
                                        nulls.ctypes.data)
        if rc:
            _raise(rc)
        be = np.dtype(c.numpy)
        arr = np.frombuffer(raw, dtype=be)
        dim = c.width // be.itemsize
        if c.name.startswith("vector<"):
            arr = arr.reshape(n, dim)
        arr = arr.astype(be.newbyteorder("="))
        if self.column_types[i] == "timestamp":
            arr = arr.astype("datetime64[ms]")
        if nulls.any():
            mask = nulls.astype(bool)
            if arr.ndim == 2:
                mask = np.repeat(mask[:, None], arr.shape[1], axis=1)
            return np.ma.masked_array(arr, mask=mask)
        return arr

    def columns_numpy(self) -> dict[str, Any]:
        """Every column as a numpy array: numeric and vector columns through
        to_numpy, the others as object arrays of their Python values."""
        import numpy as np
        out = {}
        for i, name in enumerate(self.column_names):
            c = self._codecs[i]
            if c.width and c.numpy:
                out[name] = self.to_numpy(i)
            else:
                a = np.empty(self._nrows, dtype=object)
                a[:] = [r[i] for r in self.rows]
                out[name] = a
        return out

    def to_arrow(self):
        """The rows as a pyarrow.Table (pyarrow must be installed; it is not
        a dependency of this package)."""
        try:
            import pyarrow as pa
        except ImportError as e:
            raise ImportError("ResultSet.to_arrow needs pyarrow (pip install pyarrow)") from e
        cols = []
        for i, name in enumerate(self.column_names):
            c = self._codecs[i]
            if c.width and c.numpy:
                a = self.to_numpy(i)
                if getattr(a, "ndim", 1) == 2:
                    flat = pa.array(a.reshape(-1))
                    cols.append(pa.FixedSizeListArray.from_arrays(flat, a.shape[1]))
                else:
                    cols.append(pa.array(a))
            else:
                vals = [r[i] for r in self.rows]
                if self.column_types[i] in ("uuid", "timeuuid", "inet"):
                    vals = [None if v is None else str(v) for v in vals]
                cols.append(pa.array(vals))
        return pa.Table.from_arrays(cols, names=self.column_names)


class PreparedStatement:
    """A statement parsed and analyzed once; ``execute(params)`` binds values
    (a sequence in marker order, or a dict by marker name) by the markers'
    types and runs it."""

    def __init__(self, db: "Database", cql: str, handle: int):
        self._db = db
        self.query = cql
        self._handle: int | None = handle
        n = LIB.hln_stmt_binds(handle)
        self.bind_names: list[str] = [
            (LIB.hln_stmt_bind_name(handle, i) or b"").decode() for i in range(n)]
        self.bind_types: list[str] = [
            (LIB.hln_stmt_bind_type(handle, i) or b"").decode() for i in range(n)]
        self._codecs = [codecs.codec_for(spec_string(LIB.hln_stmt_bind_spec, handle, i))
                        for i in range(n)]
        self._free = weakref.finalize(self, LIB.hln_stmt_free, handle)
        db._stmts.add(self)

    def _release(self) -> None:
        self._free()
        self._handle = None

    def bind(self, params: Sequence[Any] | dict[str, Any] | None) -> bytes:
        """The native protocol value list of params (what execute sends)."""
        n = len(self._codecs)
        if params is None:
            params = ()
        if isinstance(params, dict):
            missing = [k for k in self.bind_names if k not in params]
            if missing:
                raise KeyError("no value for marker(s) %s" % ", ".join(missing))
            params = [params[k] for k in self.bind_names]
        elif len(params) != n:
            raise error_for(0x2200, -2, "there were %d markers(?) in CQL but %d bound "
                            "variables" % (n, len(params)))
        return _pack(self._codecs, params)

    def execute(self, params: Sequence[Any] | dict[str, Any] | None = None) -> ResultSet:
        """Runs the statement with params; returns its ResultSet."""
        if self._handle is None:
            raise Error("the statement was released (its Database is closed)")
        values = self.bind(params)
        out = c_void_p()
        rc = LIB.hln_stmt_exec_packed(self._handle, values, len(values), len(self._codecs),
                                      byref(out))
        if rc:
            _raise(rc)
        return ResultSet(self._db, out.value)

    def execute_async(self, params=None) -> "concurrent.futures.Future[ResultSet]":
        """execute on the Database's thread pool."""
        return self._db._pool().submit(self.execute, params)

    async def aexecute(self, params=None) -> ResultSet:
        """execute without blocking the event loop."""
        return await asyncio.wrap_future(self.execute_async(params))


class Database:
    """An open data directory: the engine runs in this process.

    Use as a context manager or call close(). Safe to use from several
    threads at once (each call is its own request on the engine).
    """

    def __init__(self, path: str, shards: int = 1, sync: bool = False,
                 workers: int | None = None):
        self.path = path
        self._results: "weakref.WeakSet[ResultSet]" = weakref.WeakSet()
        self._stmts: "weakref.WeakSet[PreparedStatement]" = weakref.WeakSet()
        self._cache: dict[tuple[str, str], PreparedStatement] = {}
        self._lock = threading.Lock()
        self._workers = workers or max(4, 2 * shards)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._server: Server | None = None
        opts = hln_open_options(shards, 1 if sync else 0)
        h = c_void_p()
        rc = LIB.hln_open(path.encode(), byref(opts), byref(h))
        if rc:
            msg = (LIB.hln_db_errmsg(h) or b"").decode("utf-8", "replace")
            LIB.hln_close(h)
            raise error_for(LIB.hln_cql_error_code(rc), rc, msg)
        self._h: int | None = h.value
        _OPEN.add(self)

    # -- lifecycle --------------------------------------------------------

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Stops a server started on it, frees every result and statement
        still alive, flushes and closes the engine. Idempotent."""
        if self._h is None:
            return
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for rs in list(self._results):
            rs._release()
        for st in list(self._stmts):
            st._release()
        self._cache.clear()
        h, self._h = self._h, None
        _OPEN.discard(self)
        rc = LIB.hln_close(h)
        if rc:
            _raise(rc)

    def _handle(self) -> int:
        if self._h is None:
            raise Error("the database is closed")
        return self._h

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    self._workers, thread_name_prefix="helenus")
            return self._executor

    @property
    def keyspace(self) -> str | None:
        """The session keyspace (USE), or None."""
        buf = ctypes.create_string_buffer(256)
        n = LIB.hln_db_keyspace(self._handle(), buf, 256)
        if n >= 256:
            buf = ctypes.create_string_buffer(n + 1)
            LIB.hln_db_keyspace(self._handle(), buf, n + 1)
        return buf.value.decode() or None

    # -- statements -------------------------------------------------------

    def prepare(self, cql: str) -> PreparedStatement:
        """Parses and analyzes cql once (in the current session keyspace)."""
        out = c_void_p()
        rc = LIB.hln_prepare(self._handle(), cql.encode(), byref(out))
        if rc:
            _raise(rc)
        return PreparedStatement(self, cql, out.value)

    def _prepared(self, cql: str) -> PreparedStatement:
        key = (self.keyspace or "", cql)
        st = self._cache.get(key)
        if st is None:
            st = self.prepare(cql)
            with self._lock:
                st = self._cache.setdefault(key, st)
        return st

    def execute(self, cql: str, params: Sequence[Any] | dict[str, Any] | None = None
                ) -> ResultSet:
        """Runs one CQL statement. With params ('?' or ':name' markers), the
        statement is prepared once per text and keyspace and executed with
        the values serialised by the markers' types."""
        if params is not None:
            return self._prepared(cql).execute(params)
        out = c_void_p()
        rc = LIB.hln_exec(self._handle(), cql.encode(), None, 0, byref(out))
        if rc:
            _raise(rc)
        return ResultSet(self, out.value)

    def execute_async(self, cql: str, params=None) -> "concurrent.futures.Future[ResultSet]":
        """execute on a worker thread; returns a concurrent.futures.Future."""
        return self._pool().submit(self.execute, cql, params)

    async def aexecute(self, cql: str, params=None) -> ResultSet:
        """execute from asyncio: the C call runs off the event loop thread."""
        return await asyncio.wrap_future(self.execute_async(cql, params))

    # -- the CQL server ---------------------------------------------------

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> "Server":
        """Starts the CQL server on this Database (once per Database)."""
        actual = c_int(0)
        rc = LIB.hln_serve(self._handle(), host.encode(), port, byref(actual))
        if rc:
            _raise(rc)
        self._server = Server(self, host, actual.value, owns_db=False)
        return self._server


class Server:
    """The real CQL server (the one ``helenus serve`` runs) inside this
    process, on a Database: drivers connect to ``contact_points``:``port``.
    """

    def __init__(self, db: Database, host: str, port: int, owns_db: bool):
        self.db = db
        self.host = host
        self.port = port
        self._owns_db = owns_db
        self._stopped = False

    @property
    def contact_points(self) -> list[str]:
        return [self.host]

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stop(self) -> None:
        """Stops accepting and closes every connection (the db stays open)."""
        if not self._stopped and not self.db.closed:
            LIB.hln_serve_stop(self.db._handle())
        self._stopped = True

    def close(self) -> None:
        """Stops the server, and closes the Database if serve() opened it."""
        self.stop()
        if self._owns_db:
            self.db.close()
