"""
test_backpressure.py — memtable space: when flushes cannot keep up, writes
wait and then time out instead of memtables growing without bound.

What: a server with a tiny memtable_heap_space (2MiB over 2 shards) and the
test hook HELENUS_TEST_FLUSH_STALL=<file> (the flush thread waits while the
file exists, as a disk that has fallen behind would). Checks that
  (a) the memtables stay within the space (admin tablestats) while writes
      keep coming;
  (b) a write beyond it is parked, not refused at once, and fails after
      write_request_timeout with a WriteTimeout (0x1100, writeType SIMPLE,
      BATCH for a batch, COUNTER for a counter update, CAS at SERIAL for a
      conditional write, 0 of 1 responses), and is not applied; reads of the same shard are served while it waits
      (the shard loop does not block);
  (c) a parked write goes through once the flush resumes, later writes all
      succeed, and every acknowledged row reads back, also after a restart.
Bounded in time: a few write timeouts of one second each.
"""
import re
import threading
import time

import pytest
from cassandra import ConsistencyLevel, WriteTimeout
from cassandra.policies import WriteType

KS = "bp"
SPACE = 2 << 20
SLACK = 64 << 10  # one mutation per shard, with memtable overhead
TIMEOUT_S = 1.0
VAL = "x" * 1000


def memtable_bytes(srv):
    out = srv.admin("tablestats", KS + ".t")
    return int(re.search(r"Memtable data size: (\d+)", out).group(1))


def watch(fut):
    """An Event set when the future completes (either way)."""
    ev = threading.Event()
    fut.add_callbacks(lambda _: ev.set(), lambda _: ev.set())
    return ev


def metrics(srv):
    out = srv.admin("metrics")
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(helenus_(?:memtable|write)\w*) (\d+)$", out, re.M)}


def read_all(s):
    return {(r.p, r.c): r.v for r in s.execute("SELECT p, c, v FROM %s.t" % KS)}


def test_writes_wait_then_time_out_while_flushes_stall(make_server, connect, tmp_path,
                                                       monkeypatch):
    stall = tmp_path / "flush.stall"
    stall.write_text("")
    cfg = tmp_path / "bp.yaml"
    cfg.write_text("memtable_heap_space: 2MiB\n"
                   "memtable_flush_threshold_bytes: 256KiB\n"
                   "metrics_enabled: true\n"
                   "write_request_timeout: %dms\n" % int(TIMEOUT_S * 1000))
    monkeypatch.setenv("HELENUS_TEST_FLUSH_STALL", str(stall))
    srv = make_server(config=str(cfg))
    monkeypatch.delenv("HELENUS_TEST_FLUSH_STALL")  # the restart runs without it
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (p int, c int, v text, PRIMARY KEY (p, c))" % KS)
    s.execute("CREATE TABLE %s.n (p int PRIMARY KEY, n counter)" % KS)
    settings = {r.name: r.value for r in s.execute("SELECT * FROM system_views.settings")}
    assert settings["memtable_heap_space"] == "2MiB"
    assert settings["write_request_timeout"] == "%dms" % int(TIMEOUT_S * 1000)
    ins = s.prepare("INSERT INTO %s.t (p, c, v) VALUES (?, ?, ?)" % KS)
    acked, refused = {}, set()
    full = []  # partitions whose shard was full

    # (a), (b): write until a few writes have timed out
    i = 0
    while len(refused) < 3 and i < 20000:
        p = i % 64
        t0 = time.monotonic()
        try:
            s.execute(ins, (p, i, VAL))
            acked[(p, i)] = VAL
        except WriteTimeout as e:
            waited = time.monotonic() - t0
            assert waited >= TIMEOUT_S * 0.8, "refused after %.2fs, not parked" % waited
            assert e.write_type == WriteType.SIMPLE
            assert e.received_responses == 0 and e.required_responses == 1
            refused.add((p, i))
            full.append(p)
        i += 1
        if i % 200 == 0:
            assert memtable_bytes(srv) <= SPACE + SLACK
    assert refused, "no write was held back within %d writes" % i
    assert memtable_bytes(srv) <= SPACE + SLACK

    # (b) while a write waits on a full shard, a read of that shard is served
    p_full = full[-1]
    fut = s.execute_async(ins, (p_full, 10 ** 6, VAL))
    done = watch(fut)
    time.sleep(0.05)
    t0 = time.monotonic()
    n = s.execute("SELECT count(*) FROM %s.t WHERE p = %d" % (KS, p_full)).one()[0]
    assert time.monotonic() - t0 < TIMEOUT_S / 2
    assert n == sum(1 for (p, _) in acked if p == p_full)
    assert not done.is_set(), "the write should still be waiting"
    with pytest.raises(WriteTimeout):
        fut.result()
    refused.add((p_full, 10 ** 6))
    # a shard's part of a batch waits the same way, and says BATCH
    with pytest.raises(WriteTimeout) as ei:
        s.execute("BEGIN UNLOGGED BATCH "
                  "INSERT INTO %s.t (p, c, v) VALUES (%d, 2000001, 'b');"
                  "INSERT INTO %s.t (p, c, v) VALUES (%d, 2000002, 'b'); APPLY BATCH"
                  % (KS, p_full, KS, p_full))
    assert ei.value.write_type == WriteType.BATCH
    refused |= {(p_full, 2000001), (p_full, 2000002)}
    # a counter update (a read-modify-write on the shard) waits too, and
    # says COUNTER
    with pytest.raises(WriteTimeout) as ei:
        s.execute("UPDATE %s.n SET n = n + 1 WHERE p = %d" % (KS, p_full))
    assert ei.value.write_type == WriteType.COUNTER
    # a conditional write times out as Cassandra's Paxos round does: CAS, at
    # the serial consistency, worded for protocol v5
    with pytest.raises(WriteTimeout) as ei:
        s.execute("INSERT INTO %s.t (p, c, v) VALUES (%d, 3000001, 'c') IF NOT EXISTS"
                  % (KS, p_full))
    assert ei.value.write_type == WriteType.CAS
    assert ei.value.consistency == ConsistencyLevel.SERIAL
    assert ei.value.received_responses == 0 and ei.value.required_responses == 1
    if s.cluster.protocol_version >= 5:
        assert "CAS operation timed out - encountered contentions: 0" in str(ei.value)
    refused.add((p_full, 3000001))
    assert memtable_bytes(srv) <= SPACE + SLACK

    m = metrics(srv)
    assert m["helenus_memtable_space_bytes"] == SPACE
    assert m["helenus_memtable_bytes"] <= SPACE + SLACK
    # one per refused row, but the batch (two rows) is one op, and the counter update one more
    assert m["helenus_write_timeouts_total"] == len(refused)
    assert m["helenus_writes_delayed_total"] >= m["helenus_write_timeouts_total"]
    assert m["helenus_writes_waiting"] == 0

    # (c) a parked write goes through once the disk catches up
    fut = s.execute_async(ins, (p_full, 10 ** 6 + 1, VAL))
    done = watch(fut)
    time.sleep(0.2)
    assert not done.is_set()
    stall.unlink()
    fut.result()
    acked[(p_full, 10 ** 6 + 1)] = VAL
    for j in range(i, i + 3000):
        s.execute(ins, (j % 64, j, VAL))
        acked[(j % 64, j)] = VAL
    assert memtable_bytes(srv) <= SPACE + SLACK
    got = read_all(s)
    assert not (set(got) & refused), "timed-out writes were applied"
    assert got == acked
    assert s.execute("SELECT n FROM %s.n WHERE p = %d" % (KS, p_full)).one() is None
    s.execute("UPDATE %s.n SET n = n + 1 WHERE p = %d" % (KS, p_full))
    assert s.execute("SELECT n FROM %s.n WHERE p = %d" % (KS, p_full)).one().n == 1

    s.cluster.shutdown()
    assert srv.stop() == 0, srv.tail()
    srv.start()
    s = connect(srv)
    assert read_all(s) == acked
