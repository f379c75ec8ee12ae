"""
loader.py — a training-data loader that streams a table's rows (or blobs)
from Helenus (or Cassandra) over the network, for PyTorch's DataLoader, for
DALI's external source, or as a plain Python iterator.

What: ``TableLoader`` iterates the rows of ``keyspace.table`` as tuples of
the chosen columns. The Murmur3 ring is cut into ``ranges`` token ranges
(helenus.ring.token_slices, the slices ray_data.py reads too); each shard —
one (rank, world_size) training process times one (worker_id,
num_workers) DataLoader worker — reads the ranges whose index in the
epoch's range order is congruent to its shard number, each with a paged
``SELECT token(pk), cols ... WHERE token(pk) > lo AND token(pk) <= hi``.
``in_flight`` ranges are read at once (the next page of each is fetched
while the previous one is consumed), so a long link costs one round trip
per page per range, not per row. The requests go over helenus.wire (a
small protocol-v4 client, several times cassandra-driver's rate on large
blobs) when it decodes every selected column, else over cassandra-driver.
``shuffle=True`` permutes the range order per epoch (seeded) and passes the
rows through a bounded shuffle buffer of ``shuffle_buffer`` rows.
``state_dict()`` / ``load_state_dict()`` give and take a resume position;
``TorchIterableDataset(...)`` (``torch_dataset``) is the same as a
``torch.utils.data.IterableDataset`` that finds its worker and rank itself.

Why token ranges and not id lists: the DALI plugin's pattern (bench/dali)
asks for every sample by primary key, one request per image, so its rate
over a long link is requests-in-flight / round-trip; a range scan returns
``fetch_size`` rows per request, and the ranges split the table into
disjoint pieces without a list of keys to distribute first.

Why this order is deterministic (``ordered=True``, the default): pages are
taken from the active ranges in a fixed round-robin (a range's slot waits
for its own next page, the other ranges' pages are prefetched meanwhile),
and the shuffle draws come from a ``random.Random`` seeded by (seed, epoch,
shard): the same data, seed and settings give the same sequence in every
run.

Resume position (``state_dict()``): per range, done or a cursor — the token
of the last row *pulled* from it and how many rows with that token were
pulled (a partition may hold many rows, and tokens may collide) — plus the
(token, ordinal) identities of rows pulled but still waiting in the shuffle
buffer. ``load_state_dict`` then yields exactly the rows not yet yielded:
the buffered rows are fetched again by token, the unfinished ranges
continue from ``token(pk) >= cursor`` skipping the rows already pulled,
done ranges are not read. States of several shards can be merged
(``merge_states``) and loaded by a differently split set of shards, as
long as ``ranges``, ``seed`` and epoch are the same.

Invariants: within an epoch every row of the table is yielded by exactly
one shard, exactly once (given the table does not change meanwhile); at
most ``shuffle_buffer`` rows sit in the shuffle buffer, and at most
``in_flight * 2`` pages are held or requested at once; a failed request
raises out of the iterator (never a silently short epoch).

Needs cassandra-driver (imported when a loader first runs); torch only for
``TorchIterableDataset`` (not run by the tests: torch from PyPI needs the
CUDA stack; the wrapper only finds the worker and rank and delegates).
"""
from __future__ import annotations

import collections
import os
import random
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from .ring import MAX_TOKEN, pk_columns, range_of, range_select, token_slices

__all__ = ["TableLoader", "merge_states", "TorchIterableDataset", "torch_dataset"]

STATE_VERSION = 1
_PROFILE = "helenus_loader"

_sessions: Dict[tuple, Any] = {}
_sessions_lock = threading.Lock()


def _session(hosts: Sequence[str], port: int, timeout: float) -> Any:
    """One driver session per (process, hosts, port), with a tuple-row
    profile; keyed by pid so that a forked DataLoader worker makes its own."""
    key = (os.getpid(), tuple(hosts), port)
    with _sessions_lock:
        s = _sessions.get(key)
        if s is None:
            from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
            from cassandra.query import tuple_factory
            prof = ExecutionProfile(row_factory=tuple_factory, request_timeout=timeout)
            cluster = Cluster(list(hosts), port=port, connect_timeout=15,
                              execution_profiles={EXEC_PROFILE_DEFAULT: prof})
            s = cluster.connect()
            _add_profile(s, timeout)
            _sessions[key] = s
        return s


def _add_profile(session: Any, timeout: float) -> None:
    from cassandra.cluster import ExecutionProfile
    from cassandra.query import tuple_factory
    if _PROFILE not in session.cluster.profile_manager.profiles:
        session.cluster.add_execution_profile(
            _PROFILE, ExecutionProfile(row_factory=tuple_factory, request_timeout=timeout))


def merge_states(states: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """One resume position from the ``state_dict()`` of several shards of
    the same epoch (say, every DataLoader worker of every rank)."""
    states = list(states)
    if not states:
        raise ValueError("no states to merge")
    first = states[0]
    out = {"version": STATE_VERSION, "ranges": first["ranges"], "seed": first["seed"],
           "epoch": first["epoch"], "done": [], "cursors": [], "pending": []}
    for st in states:
        for k in ("ranges", "seed", "epoch"):
            if st[k] != out[k]:
                raise ValueError("states of different %s: %r, %r" % (k, st[k], out[k]))
        out["done"].extend(st["done"])
        out["cursors"].extend(st["cursors"])
        out["pending"].extend(st["pending"])
    out["done"] = sorted(set(out["done"]))
    return out


class _Slot:
    """One range being read: its driver future, the pages that came back and
    not yet consumed, and the identity of the last row pulled."""

    __slots__ = ("index", "lo", "hi", "query", "conn", "paging", "future", "pages", "more",
                 "fetching", "error", "page", "pos", "last_token", "dup", "skip_token", "skip")

    def __init__(self, index: int):
        self.index = index
        self.lo = self.hi = 0
        self.query: Any = None
        self.conn = 0  # wire transport: its connection
        self.paging: Optional[bytes] = None  # wire transport: the next page's state
        self.future: Any = None  # driver transport
        self.pages: collections.deque = collections.deque()
        self.more = True  # the server may have more pages
        self.fetching = False  # a request is out
        self.error: Optional[BaseException] = None
        self.page: List[tuple] = []
        self.pos = 0
        self.last_token: Optional[int] = None
        self.dup = 0
        self.skip_token: Optional[int] = None  # resume: rows of this token to drop
        self.skip = 0


class TableLoader:
    """Streams the rows of ``keyspace.table`` by token ranges.

    Args:
        hosts, port: the server (ignored when ``session`` is given).
        keyspace, table: what to read.
        columns: the columns of each yielded tuple (default: all, in the
            table's order).
        ranges: how many token ranges the ring is cut into; checkpoints
            name ranges by index, so resume with the same value. More
            ranges than shards x in_flight keeps every shard busy.
        rank, world_size: this training process among the distributed ones.
        worker_id, num_workers: this DataLoader worker among its process's.
        fetch_size: rows per page (per request).
        in_flight: ranges read at once by this shard (each with one page
            being consumed and one requested or waiting).
        shuffle: permute the ranges per epoch and shuffle rows through a
            buffer of ``shuffle_buffer`` rows.
        seed, epoch: what the shuffles derive from (``set_epoch`` between
            epochs).
        transform: applied to each row tuple before it is yielded.
        session: a cassandra-driver session to use instead of making one.
        timeout: seconds per request.
        transport: "wire" reads the ranges with helenus.wire (protocol v4
            over ``connections`` sockets, no authentication: the fast
            path), "driver" with cassandra-driver (any type, any auth);
            "auto" takes wire when it decodes every selected column's type
            and no ``session`` is given. Schema lookups use the driver.
        connections: sockets of the wire transport.
        ordered: take the active ranges' pages in a fixed round robin, so
            that the sequence is the same in every run (default); False
            takes whichever range's page is in first (faster over a long
            link, where pages arrive out of turn). Either way every row
            comes exactly once and checkpoints are exact.
    """

    def __init__(self, hosts: Sequence[str] = ("127.0.0.1",), port: int = 9042,
                 keyspace: str = "", table: str = "",
                 columns: Optional[Sequence[str]] = None, *, ranges: int = 256,
                 rank: int = 0, world_size: int = 1, worker_id: int = 0, num_workers: int = 1,
                 fetch_size: int = 256, in_flight: int = 16, shuffle: bool = False,
                 shuffle_buffer: int = 8192, seed: int = 0, epoch: int = 0,
                 transform: Optional[Callable[[tuple], Any]] = None,
                 session: Any = None, timeout: float = 60.0, transport: str = "auto",
                 connections: int = 1, ordered: bool = True):
        if not keyspace or not table:
            raise ValueError("keyspace and table are required")
        if not (0 <= rank < world_size) or not (0 <= worker_id < num_workers):
            raise ValueError("need 0 <= rank < world_size and 0 <= worker_id < num_workers")
        if ranges < 1 or fetch_size < 1 or in_flight < 1 or shuffle_buffer < 0:
            raise ValueError("ranges, fetch_size, in_flight must be >= 1, shuffle_buffer >= 0")
        self.hosts, self.port = list(hosts), int(port)
        self.keyspace, self.table = keyspace, table
        self.columns = list(columns) if columns else None
        self.ranges = int(ranges)
        self.rank, self.world_size = int(rank), int(world_size)
        self.worker_id, self.num_workers = int(worker_id), int(num_workers)
        self.fetch_size, self.in_flight = int(fetch_size), int(in_flight)
        self.shuffle, self.shuffle_buffer = bool(shuffle), int(shuffle_buffer)
        self.seed, self.epoch = int(seed), int(epoch)
        self.transform = transform
        self.timeout = float(timeout)
        if transport not in ("auto", "wire", "driver"):
            raise ValueError("transport is 'auto', 'wire' or 'driver'")
        self.transport, self.connections = transport, int(connections)
        self.ordered = bool(ordered)
        self._user_session = session
        self._resume: Optional[Dict[str, Any]] = None
        self._stream: Optional[_Stream] = None
        self._prepared: Optional[tuple] = None  # (pid, wire pool, q_gt, q_ge): _statements
        self.buffer_high_water = 0  # the most rows the shuffle buffer held (last epoch)

    # -- shards and ranges ---------------------------------------------------

    @property
    def shard(self) -> int:
        """This loader's shard number among ``shards``."""
        return self.rank * self.num_workers + self.worker_id

    @property
    def shards(self) -> int:
        return self.world_size * self.num_workers

    def range_order(self) -> List[int]:
        """All range indices in this epoch's order (seeded when shuffling)."""
        order = list(range(self.ranges))
        if self.shuffle:
            random.Random("%d/%d/ranges" % (self.seed, self.epoch)).shuffle(order)
        return order

    def my_ranges(self) -> List[int]:
        """The ranges this shard reads this epoch, in reading order."""
        return [r for i, r in enumerate(self.range_order()) if i % self.shards == self.shard]

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration reads (changes both shuffles)."""
        self.epoch = int(epoch)

    # -- checkpoints -----------------------------------------------------------

    def state_dict(self) -> Dict[str, Any]:
        """The position after the rows yielded so far: a JSON-able dict for
        ``load_state_dict`` (this shard's ranges only; see merge_states)."""
        if self._stream is not None:
            return self._stream.state()
        if self._resume is not None:
            return dict(self._resume)
        return {"version": STATE_VERSION, "ranges": self.ranges, "seed": self.seed,
                "epoch": self.epoch, "done": [], "cursors": [], "pending": []}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """The next iteration resumes from ``state`` (its epoch becomes the
        loader's): it yields exactly the rows of this shard's ranges that
        the state does not count as yielded."""
        if state.get("version") != STATE_VERSION:
            raise ValueError("unknown loader state version %r" % state.get("version"))
        if state["ranges"] != self.ranges or state["seed"] != self.seed:
            raise ValueError("state of ranges=%r seed=%r, loader has ranges=%r seed=%r" % (
                state["ranges"], state["seed"], self.ranges, self.seed))
        self.epoch = int(state["epoch"])
        self._resume = {k: (list(v) if isinstance(v, list) else v) for k, v in state.items()}
        self._stream = None

    # -- iteration -------------------------------------------------------------

    def session(self) -> Any:
        if self._user_session is not None:
            _add_profile(self._user_session, self.timeout)
            return self._user_session
        return _session(self.hosts, self.port, self.timeout)

    def _statements(self, s: Any) -> Tuple[Any, Any, Any]:
        """(wire pool or None, the `>` and `>=` range statements), made on
        the first pass of this process and kept for the next epochs (over a
        long link, connecting and preparing again would cost round trips
        per epoch)."""
        c = self._prepared
        if c is not None and c[0] == os.getpid():
            return c[1], c[2], c[3]
        pk = pk_columns(s, self.keyspace, self.table)
        q_gt = range_select(self.keyspace, self.table, pk, self.columns, ">", "?",
                            with_token=True)
        q_ge = range_select(self.keyspace, self.table, pk, self.columns, ">=", "?",
                            with_token=True)
        pool: Any = None
        if self.transport != "driver" and not (self.transport == "auto" and self._user_session):
            from .wire import Pool
            pool = Pool(self.hosts[0], self.port, self.connections)
            gt, ge = pool.prepare(q_gt), pool.prepare(q_ge)
            if not gt[0].decodable:
                pool.close()
                pool = None
                if self.transport == "wire":
                    raise TypeError("transport='wire' cannot decode a column of %s.%s "
                                    "(types %r)" % (self.keyspace, self.table, gt[0].types))
        if pool is None:
            gt, ge = s.prepare(q_gt), s.prepare(q_ge)
        self._prepared = (os.getpid(), pool, gt, ge)
        return pool, gt, ge

    def close(self) -> None:
        """Closes the wire transport's sockets (the next pass reopens them)."""
        c, self._prepared = self._prepared, None
        if c is not None and c[1] is not None and c[0] == os.getpid():
            c[1].close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __iter__(self) -> Iterator[Any]:
        resume, self._resume = self._resume, None
        stream = _Stream(self, resume)
        self._stream = stream
        try:
            yield from stream.rows()
        finally:
            stream.close()
            self.buffer_high_water = stream.high_water


class _Stream:
    """One pass of one shard over its ranges (TableLoader.__iter__)."""

    def __init__(self, ld: TableLoader, resume: Optional[Dict[str, Any]]):
        self.ld = ld
        self.s = ld.session()
        self.slices = token_slices(ld.ranges)
        self.pool, self.q_gt, self.q_ge = ld._statements(self.s)
        self.cv = threading.Condition()
        self.mine = ld.my_ranges()
        mine = set(self.mine)
        self.done: List[int] = []
        cursors: Dict[int, Tuple[int, int]] = {}
        self.pending_ids: List[Tuple[int, int]] = []
        if resume is not None:
            self.done = [r for r in resume["done"] if r in mine]
            for r, t, k in resume["cursors"]:
                if r in mine:
                    cursors[r] = (t, k)
            self.pending_ids = [(t, k) for t, k in resume["pending"]
                                if range_of(self.slices, t) in mine]
        done = set(self.done)
        self.todo = collections.deque(r for r in self.mine if r not in done)
        self.cursors = cursors
        self.active: List[_Slot] = []
        self.rr = 0  # round-robin position in active
        self.buf: List[Tuple[int, int, tuple]] = []  # (token, ordinal, row)
        self.high_water = 0
        self.rng = random.Random("%d/%d/%d/rows" % (ld.seed, ld.epoch, ld.shard))
        self.closed = False

    # the driver's event-loop thread, or a wire connection's reader, calls these
    def _on_page(self, rows: List[tuple], slot: _Slot) -> None:
        with self.cv:
            slot.pages.append(rows)
            slot.more = bool(slot.future.has_more_pages)
            slot.fetching = False
            self._maybe_fetch(slot)
            self.cv.notify_all()

    def _on_wire(self, rows: Optional[List[tuple]], paging: Optional[bytes],
                 err: Optional[BaseException], slot: _Slot) -> None:
        with self.cv:
            slot.fetching = False
            if err is not None:
                slot.error = err
            else:
                slot.pages.append(rows)
                slot.paging = paging
                slot.more = paging is not None
                self._maybe_fetch(slot)
            self.cv.notify_all()

    def _on_error(self, exc: BaseException, slot: _Slot) -> None:
        with self.cv:
            slot.error = exc
            slot.fetching = False
            self.cv.notify_all()

    def _maybe_fetch(self, slot: _Slot) -> None:
        """Requests the slot's next page when fewer than one is waiting
        (called with cv held)."""
        if not self.closed and slot.more and not slot.fetching and not slot.pages:
            slot.fetching = True
            self._request(slot)

    def _request(self, slot: _Slot) -> None:
        """Sends the request for the slot's next (or first) page."""
        if self.pool is not None:
            from .wire import bigint
            conn = self.pool.conns[slot.conn]
            try:
                conn.execute(slot.query[slot.conn], [bigint(slot.lo), bigint(slot.hi)],
                             self.ld.fetch_size, slot.paging,
                             lambda rows, paging, err: self._on_wire(rows, paging, err, slot))
            except BaseException as e:
                slot.error, slot.fetching = e, False
        elif slot.future is None:
            st = slot.query.bind((slot.lo, slot.hi))
            st.fetch_size = self.ld.fetch_size
            slot.future = self.s.execute_async(st, execution_profile=_PROFILE)
            slot.future.add_callbacks(self._on_page, self._on_error, callback_args=(slot,),
                                      errback_args=(slot,))
        else:
            slot.future.start_fetching_next_page()

    def _open(self, r: int) -> _Slot:
        slot = _Slot(r)
        slot.lo, slot.hi = self.slices[r]
        if r in self.cursors:
            t, k = self.cursors[r]
            slot.query, slot.lo = self.q_ge, t
            slot.last_token, slot.dup = t, k
            slot.skip_token, slot.skip = t, k
        else:
            slot.query = self.q_ge if r == 0 else self.q_gt
        if self.pool is not None:
            slot.conn = self.pool.pick()
        with self.cv:
            slot.fetching = True
            self._request(slot)
        return slot

    def _fill(self) -> None:
        while len(self.active) < self.ld.in_flight and self.todo:
            self.active.append(self._open(self.todo.popleft()))

    def _pull(self) -> Optional[Tuple[int, int, tuple]]:
        """The next row with its identity (token, ordinal among the rows of
        that token); None when every range of the shard is exhausted. Each
        active range in turn gives one whole page."""
        while True:
            self._fill()
            if not self.active:
                return None
            self.rr %= len(self.active)
            slot = self.active[self.rr]
            if slot.pos >= len(slot.page):
                with self.cv:
                    if not self.ld.ordered and not slot.pages and slot.error is None \
                            and slot.fetching:
                        # unordered: the first range with a page in, not this one's turn
                        ready = self._ready()
                        while ready is None:
                            if not self.cv.wait(timeout=self.ld.timeout + 10):
                                raise TimeoutError("no page within %.0f s"
                                                   % (self.ld.timeout + 10))
                            ready = self._ready()
                        self.rr = ready
                        slot = self.active[ready]
                    while not slot.pages and slot.error is None and (slot.more or slot.fetching):
                        if not self.cv.wait(timeout=self.ld.timeout + 10):
                            raise TimeoutError("no page of range %d within %.0f s"
                                               % (slot.index, self.ld.timeout + 10))
                    if slot.error is not None:
                        raise slot.error
                    if not slot.pages:  # range exhausted: the next one takes its turn
                        self.active.pop(self.rr)
                        self.done.append(slot.index)
                        continue
                    slot.page, slot.pos = slot.pages.popleft(), 0
                    self._maybe_fetch(slot)
                if not slot.page:
                    continue
            row = slot.page[slot.pos]
            slot.pos += 1
            if slot.pos >= len(slot.page):
                self.rr += 1  # its page is used up: the next range's turn
                slot.page, slot.pos = [], 0
            t = row[0]
            if slot.skip and t == slot.skip_token:
                slot.skip -= 1
                continue
            slot.skip = 0
            if t == slot.last_token:
                slot.dup += 1
            else:
                slot.last_token, slot.dup = t, 1
            return t, slot.dup, row[1:]

    def _ready(self) -> Optional[int]:
        """The index in active of a range with a page waiting, an error, or
        nothing more to read (called with cv held); None if all wait."""
        n = len(self.active)
        for j in range(n):
            i = (self.rr + j) % n
            sl = self.active[i]
            if sl.pages or sl.error is not None or not (sl.more or sl.fetching):
                return i
        return None

    def _refetch_pending(self) -> List[Tuple[int, int, tuple]]:
        """The rows a resumed state had in its shuffle buffer, read again by
        token (many requests in flight)."""
        want: Dict[int, set] = {}
        for t, k in self.pending_ids:
            want.setdefault(t, set()).add(k)
        out: List[Tuple[int, int, tuple]] = []
        toks = sorted(want)
        step = self.ld.in_flight * 8
        for i in range(0, len(toks), step):
            slots = []
            for t in toks[i:i + step]:  # one token each, all pages
                slot = _Slot(-1)
                # [t, t + 1], not [t, t]: Helenus before 352bd6c paged a
                # range whose upper bound is the token of a partition longer
                # than a page past that bound (Cassandra does not); kept so
                # that older servers work too; rows of t + 1 are dropped below
                slot.lo, slot.hi = t, min(t + 1, MAX_TOKEN)
                slot.query = self.q_ge
                if self.pool is not None:
                    slot.conn = self.pool.pick()
                with self.cv:
                    slot.fetching = True
                    self._request(slot)
                slots.append((t, slot))
            for t, slot in slots:
                rows: List[tuple] = []
                while True:
                    with self.cv:
                        while not slot.pages and slot.error is None and slot.fetching:
                            if not self.cv.wait(timeout=self.ld.timeout + 10):
                                raise TimeoutError("no answer for token %d" % t)
                        if slot.error is not None:
                            raise slot.error
                        if slot.pages:
                            rows.extend(slot.pages.popleft())
                            self._maybe_fetch(slot)
                            continue
                        break
                for k, row in enumerate((r for r in rows if r[0] == t), 1):
                    if k in want[t]:
                        out.append((t, k, row[1:]))
        missing = len(self.pending_ids) - len(out)
        if missing:
            raise LookupError("%d buffered rows of the resumed state are gone" % missing)
        return out

    def rows(self) -> Iterator[Any]:
        tf = self.ld.transform
        cap = self.ld.shuffle_buffer if self.ld.shuffle else 0
        self._fill()  # the first requests go out before the refetch waits
        if self.pending_ids:  # rows a resumed state had buffered come first
            self.buf.extend(self._refetch_pending())
            self.pending_ids = []
        buf, rng = self.buf, self.rng
        if not cap:
            buf.sort(reverse=True)
            while buf:
                row = buf.pop()[2]
                yield tf(row) if tf else row
            while True:
                item = self._pull()
                if item is None:
                    return
                yield tf(item[2]) if tf else item[2]
        while True:
            while len(buf) < cap:
                item = self._pull()
                if item is None:
                    break
                buf.append(item)
            if len(buf) > self.high_water:
                self.high_water = len(buf)
            if not buf:
                return
            i = rng.randrange(len(buf))
            buf[i], buf[-1] = buf[-1], buf[i]
            row = buf.pop()[2]
            yield tf(row) if tf else row

    def state(self) -> Dict[str, Any]:
        ld = self.ld
        cursors = []
        for slot in self.active:
            if slot.last_token is not None:
                cursors.append([slot.index, slot.last_token, slot.dup])
            elif slot.index in self.cursors:
                t, k = self.cursors[slot.index]
                cursors.append([slot.index, t, k])
        active = {s.index for s in self.active}
        for r, (t, k) in self.cursors.items():  # resumed ranges not reopened yet
            if r not in active and r in self.todo:
                cursors.append([r, t, k])
        pending = [[t, k] for t, k, _ in self.buf] + [list(p) for p in self.pending_ids]
        return {"version": STATE_VERSION, "ranges": ld.ranges, "seed": ld.seed,
                "epoch": ld.epoch, "done": sorted(self.done), "cursors": cursors,
                "pending": pending}

    def close(self) -> None:
        with self.cv:
            self.closed = True



# ---- PyTorch -----------------------------------------------------------------

_torch_cls: Any = None


def _torch_class() -> Any:
    """The IterableDataset subclass, made on first use (torch imported then)."""
    global _torch_cls
    if _torch_cls is not None:
        return _torch_cls
    import torch.utils.data as tud

    class _HelenusIterableDataset(tud.IterableDataset):
        """A TableLoader as a torch IterableDataset: in each DataLoader
        worker it reads that worker's share (get_worker_info), and its rank
        and world size come from torch.distributed when that is
        initialized and they were not given. state_dict/load_state_dict
        (called in the worker by torchdata's StatefulDataLoader) are the
        TableLoader's."""

        def __init__(self, *args: Any, **kw: Any):
            super().__init__()
            self._args, self._kw = args, dict(kw)
            self._loader: Optional[TableLoader] = None
            self._state: Optional[Dict[str, Any]] = None
            self.epoch = int(kw.get("epoch", 0))

        def _make(self) -> TableLoader:
            kw = dict(self._kw)
            info = tud.get_worker_info()
            if info is not None:
                kw["worker_id"], kw["num_workers"] = info.id, info.num_workers
            if "rank" not in kw:
                import torch.distributed as dist
                if dist.is_available() and dist.is_initialized():
                    kw["rank"], kw["world_size"] = dist.get_rank(), dist.get_world_size()
            kw["epoch"] = self.epoch
            ld = TableLoader(*self._args, **kw)
            if self._state is not None:
                ld.load_state_dict(self._state)
                self._state = None
            return ld

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self) -> Iterator[Any]:
            self._loader = self._make()
            return iter(self._loader)

        def state_dict(self) -> Dict[str, Any]:
            if self._loader is not None:
                return self._loader.state_dict()
            return dict(self._state) if self._state else self._make().state_dict()

        def load_state_dict(self, state: Dict[str, Any]) -> None:
            self._state = dict(state)
            self._loader = None

    _torch_cls = _HelenusIterableDataset
    return _torch_cls


def torch_dataset(*args: Any, **kw: Any) -> Any:
    """A ``torch.utils.data.IterableDataset`` over TableLoader(*args, **kw)
    whose worker_id/num_workers (and rank/world_size under
    torch.distributed) are found when iterated."""
    return _torch_class()(*args, **kw)


def __getattr__(name: str) -> Any:  # TorchIterableDataset: the class, made lazily
    if name == "TorchIterableDataset":
        return _torch_class()
    raise AttributeError(name)
