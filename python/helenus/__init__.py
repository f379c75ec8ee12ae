"""
helenus — the Helenus database embedded in a Python process.

What: ``helenus.open(path)`` starts the Helenus engine (a
Cassandra-compatible database: CQL, storage, commitlog) inside this process
on a data directory and returns a ``Database``; statements run through the C
embedded API (libhelenus.so, loaded with ctypes) with no network in between.
``helenus.serve(path)`` also starts the real CQL server in-process, so
cassandra-driver (or cqlsh) can connect to the same data.

    import helenus
    with helenus.open("./data") as db:
        db.execute("CREATE KEYSPACE ks WITH replication = "
                   "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        db.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        db.execute("INSERT INTO ks.t (k, v) VALUES (?, ?)", (1, "one"))
        print(db.execute("SELECT * FROM ks.t WHERE k = ?", (1,)).one())

Why: tests, notebooks and single-process applications get Cassandra's data
model and CQL without running a server, and can still open the same
directory with ``helenus serve`` later (the files are the server's).

Invariants: one Database per data directory at a time (the engine locks
it); a Database is thread-safe; values cross the boundary in Cassandra's
serialisation (codecs.py), errors as ``helenus.Error`` subclasses with the
native protocol's codes (errors.py).
"""
from __future__ import annotations

from ._lib import LIB_PATH
from .codecs import Duration
from .database import UNSET, Database, PreparedStatement, ResultSet, Server
from .errors import (AlreadyExists, AuthenticationFailed, ConfigurationException, Error,
                     FunctionFailure, InvalidRequest, Overloaded, ProtocolError, ServerError,
                     SyntaxError, Unauthorized, Unprepared, WriteTimeout)

__all__ = ["open", "serve", "Database", "PreparedStatement", "ResultSet", "Server", "Duration",
           "UNSET", "Error", "ServerError", "ProtocolError", "AuthenticationFailed",
           "FunctionFailure", "SyntaxError", "Unauthorized", "InvalidRequest",
           "ConfigurationException", "AlreadyExists", "Unprepared", "Overloaded",
           "WriteTimeout", "LIB_PATH"]

__version__ = "0.1.0"


def open(path: str, shards: int = 1, sync: bool = False) -> Database:  # noqa: A001
    """Opens (creating if needed) the data directory path with the engine
    running in this process. sync: fsync every write before it returns
    (commitlog_sync: batch)."""
    return Database(path, shards=shards, sync=sync)


def serve(path: str, port: int = 0, host: str = "127.0.0.1", shards: int = 1) -> Server:
    """Opens path and starts the CQL server on host:port (port 0: any free
    one, see Server.port). Closing the Server closes the Database too."""
    db = Database(path, shards=shards)
    try:
        s = db.serve(port, host)
    except BaseException:
        db.close()
        raise
    s._owns_db = True
    return s
