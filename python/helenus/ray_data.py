"""
ray_data.py — Ray Data reads from and writes to a Helenus (or Cassandra)
table over the network, through cassandra-driver.

What: ``read_table(...)`` gives a ``ray.data.Dataset`` of a table's rows,
one read task per slice of the Murmur3 token ring; ``HelenusDatasink`` (or
``write_table(ds, ...)``) writes a Dataset's rows with prepared INSERTs,
many in flight per worker. This is the ingest-and-search pipeline of the
vector-loading seed without the seed's hand-written driver loops: read text,
embed it in ``map_batches``, write the vectors back, search them with ANN.

Why token ranges: a table's rows are spread over the ring by the hash of
their partition key, so ``token(pk) > lo AND token(pk) <= hi`` slices cut the
table into disjoint pieces of about equal size that any node answers with a
paged scan, and every row is in exactly one slice (the Spark connector reads
the same way). The first slice starts at the ring's minimum inclusively
(``token(pk) >= -2^63``): no row has a token below it.

Why the driver and not the embedded engine: Ray runs tasks in worker
processes, and a data directory belongs to one process; a server (``helenus
serve``, or ``helenus.serve()`` in the driver process) is what several
workers can share.

Invariants: each worker process keeps one driver session per (contact
points, port, keyspace) (module global, created on first use) and reuses it
for every task it runs; a write task returns only after every row it was
given is acknowledged, and raises if any insert failed (Ray then fails the
write).

Needs ``ray[data]`` and ``pyarrow`` (imported when called, so that ``import
helenus`` does not need Ray).
"""
from __future__ import annotations

import threading
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .ring import MAX_TOKEN, MIN_TOKEN, pk_columns as _pk_columns, quote as _quote
from .ring import range_select, token_slices

__all__ = ["read_table", "write_table", "HelenusDatasource", "HelenusDatasink",
           "token_slices", "MIN_TOKEN", "MAX_TOKEN"]

_sessions: Dict[tuple, Any] = {}
_sessions_lock = threading.Lock()


def _session(hosts: Sequence[str], port: int, keyspace: Optional[str]):
    key = (tuple(hosts), port, keyspace)
    with _sessions_lock:
        s = _sessions.get(key)
        if s is None:
            from cassandra.cluster import Cluster
            cluster = Cluster(list(hosts), port=port, connect_timeout=15)
            s = cluster.connect(keyspace)
            s.default_timeout = 60
            _sessions[key] = s
        return s


def _read_slice(hosts, port, keyspace, table, columns, pk, lo, hi, first, fetch_size):
    import pyarrow as pa
    from cassandra.query import SimpleStatement
    s = _session(hosts, port, None)
    q = range_select(keyspace, table, pk, columns, ">=" if first else ">")
    st = SimpleStatement(q, fetch_size=fetch_size)
    rs = s.execute(st, (lo, hi))
    names = None
    batch: List[Any] = []
    for row in rs:
        if names is None:
            names = list(row._fields)
        batch.append(tuple(row))
        if len(batch) >= fetch_size:
            yield pa.Table.from_pylist([dict(zip(names, r)) for r in batch])
            batch = []
    if batch:
        yield pa.Table.from_pylist([dict(zip(names, r)) for r in batch])


def read_table(hosts: Sequence[str], port: int, keyspace: str, table: str,
               columns: Optional[Sequence[str]] = None, slices: int = 8,
               fetch_size: int = 1000, **read_args):
    """The rows of keyspace.table as a ray.data.Dataset, read by ``slices``
    token-range tasks (paged by ``fetch_size``). Extra keyword arguments go
    to ``ray.data.read_datasource`` (concurrency, ...)."""
    import ray.data
    s = _session(hosts, port, None)
    pk = _pk_columns(s, keyspace, table)
    return ray.data.read_datasource(
        HelenusDatasource(list(hosts), port, keyspace, table, pk,
                          list(columns) if columns else None, slices, fetch_size),
        **read_args)


try:  # the classes subclass Ray's when Ray is there
    from ray.data import Datasink as _Datasink
    from ray.data import Datasource as _Datasource
except ImportError:  # pragma: no cover - without Ray, read_table/HelenusDatasink fail
    _Datasink = object
    _Datasource = object


class HelenusDatasource(_Datasource):
    """One ReadTask per token slice of the table (read_table builds it)."""

    def __init__(self, hosts, port, keyspace, table, pk, columns, slices, fetch_size):
        self.hosts, self.port, self.keyspace, self.table = hosts, port, keyspace, table
        self.pk, self.columns, self.slices, self.fetch_size = pk, columns, slices, fetch_size

    def estimate_inmemory_data_size(self) -> Optional[int]:
        return None

    def get_read_tasks(self, parallelism: int, per_task_row_limit: Optional[int] = None,
                       data_context: Any = None) -> list:
        from ray.data.block import BlockMetadata
        from ray.data.datasource import ReadTask
        tasks = []
        for i, (lo, hi) in enumerate(token_slices(self.slices)):
            args = (self.hosts, self.port, self.keyspace, self.table, self.columns, self.pk,
                    lo, hi, i == 0, self.fetch_size)
            meta = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None,
                                 input_files=None)
            tasks.append(ReadTask(lambda a=args: _read_slice(*a), meta))
        return tasks


class HelenusDatasink(_Datasink):
    """Writes each block's rows into keyspace.table with one prepared INSERT
    of the block's columns, ``concurrency`` inserts in flight per task
    (a list column, such as the embeddings of map_batches, binds to a
    ``vector<float, n>`` column as it is); ``ttl`` adds ``USING TTL``."""

    def __init__(self, hosts: Sequence[str], port: int, keyspace: str, table: str,
                 concurrency: int = 64, ttl: Optional[int] = None):
        self.hosts, self.port, self.keyspace, self.table = list(hosts), port, keyspace, table
        self.concurrency, self.ttl = concurrency, ttl

    def get_name(self) -> str:
        return "Helenus"

    def write(self, blocks: Iterable[Any], ctx: Any) -> int:
        from cassandra.concurrent import execute_concurrent_with_args
        s = _session(self.hosts, self.port, None)
        written = 0
        prepared: Dict[tuple, Any] = {}
        for block in blocks:
            table = block if hasattr(block, "to_pylist") else _to_arrow(block)
            names = tuple(table.column_names)
            if not names or table.num_rows == 0:
                continue
            stmt = prepared.get(names)
            if stmt is None:
                q = "INSERT INTO %s.%s (%s) VALUES (%s)%s" % (
                    _quote(self.keyspace), _quote(self.table),
                    ", ".join(_quote(c) for c in names), ", ".join("?" for _ in names),
                    " USING TTL %d" % self.ttl if self.ttl else "")
                stmt = prepared[names] = s.prepare(q)
            cols = [table.column(c).to_pylist() for c in names]
            rows = list(zip(*cols))
            res = execute_concurrent_with_args(s, stmt, rows, concurrency=self.concurrency,
                                               raise_on_first_error=True)
            written += sum(1 for ok, _ in res if ok)
        return written


def _to_arrow(block):
    import pyarrow as pa
    return pa.Table.from_pandas(block, preserve_index=False)


def write_table(ds, hosts: Sequence[str], port: int, keyspace: str, table: str,
                concurrency: int = 64, tasks: Optional[int] = None,
                ttl: Optional[int] = None) -> None:
    """ds.write_datasink(HelenusDatasink(...)), ``tasks`` write tasks at once."""
    ds.write_datasink(HelenusDatasink(hosts, port, keyspace, table, concurrency, ttl),
                      concurrency=tasks)
