"""helenus.loader (python/helenus/loader.py), the training-data loader,
against the real server: it streams a table by token ranges over
cassandra-driver, split across ranks and DataLoader workers, shuffles
through a bounded buffer and resumes from a checkpoint.

What is checked, each on rows whose contents the test knows:
  * 2 ranks x 2 workers read every row exactly once, blobs byte for byte,
    with and without shuffling, with several ranges in flight per shard;
  * shuffling changes the order, not the multiset; the same seed gives the
    same order, another seed or epoch another one; a row comes out at most
    shuffle_buffer - 1 places before its turn in token order (the bound of a
    buffer of that size), and the buffer never holds more;
  * a checkpoint taken mid-epoch (JSON round trip) resumes to exactly the
    rows not yet yielded: shuffled or not, with wide partitions whose rows
    straddle pages, and merged from 4 shards into a resume by 3;
  * a table that does not exist, or a state of other settings, raises.
The plain iterator is what is tested here; torch's IterableDataset wrapper
is the same iterator (loader.py).
"""

import hashlib
import json
import os
import random
import sys
import uuid

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "python"))
from helenus.loader import TableLoader, merge_states  # noqa: E402

KS = "loaderks"
N = 1200


@pytest.fixture(scope="module")
def images(server, cluster):
    """dali.images' layout: N rows of (id uuid, label int, data blob), blobs
    of 1..6 KB of random bytes; returns {id: (label, sha256 of data)}."""
    s = cluster.connect()
    s.default_timeout = 30
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("DROP TABLE IF EXISTS %s.images" % KS)
    s.execute("CREATE TABLE %s.images (id uuid PRIMARY KEY, label int, data blob)" % KS)
    ins = s.prepare("INSERT INTO %s.images (id, label, data) VALUES (?, ?, ?)" % KS)
    rng = random.Random(7)
    rows, want = [], {}
    for i in range(N):
        u = uuid.UUID(int=rng.getrandbits(128), version=4)
        data = rng.randbytes(1000 + rng.randrange(5000))
        rows.append((u, i % 10, data))
        want[u] = (i % 10, hashlib.sha256(data).hexdigest())
    execute_concurrent_with_args(s, ins, rows, concurrency=32, raise_on_first_error=True)
    return want


@pytest.fixture(scope="module")
def wide(server, cluster):
    """A table of 40 partitions of 1..60 rows each (clustering column c):
    pages end inside partitions; returns the set of (p, c, sha of v)."""
    s = cluster.connect()
    s.default_timeout = 30
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("DROP TABLE IF EXISTS %s.wide" % KS)
    s.execute("CREATE TABLE %s.wide (p int, c int, v blob, PRIMARY KEY (p, c))" % KS)
    ins = s.prepare("INSERT INTO %s.wide (p, c, v) VALUES (?, ?, ?)" % KS)
    rng = random.Random(11)
    rows = [(p, c, rng.randbytes(64)) for p in range(40) for c in range(1 + (p * 7) % 60)]
    execute_concurrent_with_args(s, ins, rows, concurrency=32, raise_on_first_error=True)
    return {(p, c, hashlib.sha256(v).hexdigest()) for p, c, v in rows}


def loader(server, table="images", cols=("id", "label", "data"), **kw):
    kw.setdefault("ranges", 16)
    kw.setdefault("fetch_size", 50)
    kw.setdefault("in_flight", 3)
    return TableLoader(["127.0.0.1"], server.port, KS, table, list(cols), **kw)


def digest(rows):
    return [(u, lab, hashlib.sha256(d).hexdigest()) for u, lab, d in rows]


def as_set(want):
    return {(u, lab, h) for u, (lab, h) in want.items()}


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("transport", ["wire", "driver"])
def test_every_row_exactly_once_across_ranks_and_workers(server, images, shuffle, transport):
    got, per_shard = [], []
    for rank in range(2):
        for worker in range(2):
            ld = loader(server, rank=rank, world_size=2, worker_id=worker, num_workers=2,
                        shuffle=shuffle, shuffle_buffer=100, seed=3, transport=transport)
            rows = digest(ld)
            per_shard.append(len(rows))
            got.extend(rows)
    assert len(got) == N, (len(got), per_shard)
    assert set(got) == as_set(images)  # every id, its label and its exact blob
    assert all(n > N // 8 for n in per_shard), per_shard  # each shard did a share
    # the shards' ranges are disjoint and cover the ring, every epoch
    for epoch in range(3):
        owned = []
        for shard in range(4):
            ld = loader(server, rank=shard // 2, world_size=2, worker_id=shard % 2,
                        num_workers=2, shuffle=True, epoch=epoch)
            owned.extend(ld.my_ranges())
        assert sorted(owned) == list(range(16))


def test_shuffle_changes_order_not_rows_and_respects_the_buffer(server, images):
    plain = [r[0] for r in loader(server, in_flight=1)]
    again = [r[0] for r in loader(server, in_flight=1)]
    assert plain == again and len(plain) == N and set(plain) == set(images)

    def run(**kw):
        ld = loader(server, shuffle=True, **kw)
        out = [r[0] for r in ld]
        return out, ld.buffer_high_water

    a, hw = run(seed=1, shuffle_buffer=64)
    assert sorted(a) == sorted(plain) and len(a) == N
    assert a != plain and hw == 64
    b, _ = run(seed=1, shuffle_buffer=64)
    assert b == a  # seeded: the same order again
    c, _ = run(seed=2, shuffle_buffer=64)
    d, _ = run(seed=1, shuffle_buffer=64, epoch=1)
    assert c != a and d != a and sorted(c) == sorted(d) == sorted(plain)

    # One range read in token order: the row yielded j-th was among the
    # first j + B pulled, and rows do move by up to that much.
    B = 50
    pulled = [r[0] for r in loader(server, ranges=1, in_flight=1)]
    pos = {u: i for i, u in enumerate(pulled)}
    ld = loader(server, ranges=1, in_flight=1, shuffle=True, shuffle_buffer=B, seed=5)
    out = [r[0] for r in ld]
    assert sorted(out) == sorted(pulled)
    assert ld.buffer_high_water == B
    lead = max(pos[u] - j for j, u in enumerate(out))
    assert lead <= B - 1, lead
    assert lead >= B // 2, lead  # a buffer of B does carry rows that far
    assert max(j - pos[u] for j, u in enumerate(out)) > B  # and some wait long


def consume(it, n):
    out = []
    for row in it:
        out.append(row)
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("transport", ["wire", "driver"])
def test_resume_yields_exactly_the_rest(server, images, shuffle, transport):
    want = as_set(images)
    for cut in (1, 333, 777):
        ld = loader(server, shuffle=shuffle, shuffle_buffer=120, seed=9, in_flight=4,
                    transport=transport)
        first = digest(consume(iter(ld), cut))
        state = json.loads(json.dumps(ld.state_dict()))  # a checkpoint survives JSON
        assert state["done"] or state["cursors"]
        if shuffle:
            assert len(state["pending"]) == 119  # the buffer's rows, by identity
        ld2 = loader(server, shuffle=shuffle, shuffle_buffer=120, seed=9, in_flight=4,
                     transport=transport)
        ld2.load_state_dict(state)
        rest = digest(ld2)
        assert len(first) == cut and len(first) + len(rest) == N
        assert set(first).isdisjoint(rest) and set(first) | set(rest) == want
        assert ld2.state_dict()["done"] == list(range(16))
        # resuming twice from one checkpoint gives the same remainder
        ld3 = loader(server, shuffle=shuffle, shuffle_buffer=120, seed=9, in_flight=4)
        ld3.load_state_dict(state)
        assert sorted(digest(ld3)) == sorted(rest)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("transport", ["wire", "driver"])
def test_resume_inside_wide_partitions(server, wide, shuffle, transport):
    total = len(wide)
    for cut in (7, 201, 555, total - 3):
        ld = loader(server, "wide", ("p", "c", "v"), ranges=4, fetch_size=13, in_flight=2,
                    shuffle=shuffle, shuffle_buffer=30, transport=transport)
        first = [(p, c, hashlib.sha256(v).hexdigest()) for p, c, v in consume(iter(ld), cut)]
        state = json.loads(json.dumps(ld.state_dict()))
        ld2 = loader(server, "wide", ("p", "c", "v"), ranges=4, fetch_size=13, in_flight=2,
                     shuffle=shuffle, shuffle_buffer=30, transport=transport)
        ld2.load_state_dict(state)
        rest = [(p, c, hashlib.sha256(v).hexdigest()) for p, c, v in ld2]
        assert len(first) + len(rest) == total, (cut, len(first), len(rest))
        assert set(first) | set(rest) == wide and set(first).isdisjoint(rest)


def test_merged_checkpoint_of_4_shards_resumes_with_3(server, images):
    kw = dict(ranges=24, shuffle=True, shuffle_buffer=40, seed=4, epoch=2)
    first, states = [], []
    for shard in range(4):
        ld = loader(server, rank=shard // 2, world_size=2, worker_id=shard % 2, num_workers=2,
                    **kw)
        first.extend(digest(consume(iter(ld), 100 + 37 * shard)))
        states.append(ld.state_dict())
    merged = json.loads(json.dumps(merge_states(states)))
    rest = []
    for w in range(3):
        ld = loader(server, worker_id=w, num_workers=3, **kw)
        ld.load_state_dict(merged)
        rest.extend(digest(ld))
    assert len(first) + len(rest) == N
    assert set(first).isdisjoint(rest) and set(first) | set(rest) == as_set(images)


def test_unordered_reads_every_row_once_and_resumes(server, images):
    """ordered=False (pages taken as they come) keeps the guarantees."""
    want = as_set(images)
    rows = digest(loader(server, ordered=False, in_flight=8, shuffle=True, shuffle_buffer=64))
    assert len(rows) == N and set(rows) == want
    ld = loader(server, ordered=False, in_flight=8, shuffle=True, shuffle_buffer=64)
    first = digest(consume(iter(ld), 500))
    ld2 = loader(server, ordered=False, in_flight=8, shuffle=True, shuffle_buffer=64)
    ld2.load_state_dict(json.loads(json.dumps(ld.state_dict())))
    rest = digest(ld2)
    assert len(first) + len(rest) == N and set(first) | set(rest) == want


def test_wire_and_driver_agree_and_auto_falls_back(server, cluster, images):
    """The two transports give the same rows in the same order; a column
    type the wire decoder lacks (a list) makes auto use the driver, and
    transport='wire' refuse."""
    a = digest(loader(server, transport="wire"))
    b = digest(loader(server, transport="driver"))
    assert a == b and len(a) == N
    s = cluster.connect()
    s.execute("DROP TABLE IF EXISTS %s.lists" % KS)
    s.execute("CREATE TABLE %s.lists (k int PRIMARY KEY, xs list<int>)" % KS)
    for k in range(50):
        s.execute("INSERT INTO %s.lists (k, xs) VALUES (%%s, %%s)" % KS, (k, [k, k + 1]))
    got = sorted(loader(server, "lists", ("k", "xs"), transport="auto"))
    assert got == [(k, [k, k + 1]) for k in range(50)]
    with pytest.raises(TypeError, match="cannot decode"):
        list(loader(server, "lists", ("k", "xs"), transport="wire"))


def test_errors(server, images):
    with pytest.raises(ValueError, match="no table"):
        list(TableLoader(["127.0.0.1"], server.port, KS, "nonesuch"))
    ld = loader(server)
    st = ld.state_dict()
    with pytest.raises(ValueError):
        loader(server, ranges=8).load_state_dict(st)
    with pytest.raises(ValueError):
        loader(server, rank=2, world_size=2)
