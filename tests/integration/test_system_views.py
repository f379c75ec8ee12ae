"""system_views (Cassandra 5.0's virtual tables for operators), `helenus
admin tablehistograms` and `drain`, and the latency and client figures of
/metrics, against the real binary through the Python driver.

The figures are live, so the assertions are about what must hold whatever
the machine's speed: counts at least the operations made, percentiles
ordered, sizes at least what was written, the test's own connection
listed with the driver's STARTUP options."""

import os
import time
import urllib.request

import pytest
from cassandra.concurrent import execute_concurrent_with_args

KS = "sv"


@pytest.fixture
def node(make_server, connect, tmp_path):
    cfg = tmp_path / "metrics.yaml"
    cfg.write_text("metrics_enabled: true\n")
    srv = make_server(config=str(cfg))
    s = connect(srv)
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v text)" % KS)
    return srv, s


def load(s, n=500, size=100, first=0):
    """n rows of `size` random hex characters (incompressible, so the
    sizes on disk are what was written)"""
    ins = s.prepare("INSERT INTO %s.t (k, v) VALUES (?, ?)" % KS)
    execute_concurrent_with_args(s, ins, [(k, os.urandom(size // 2).hex())
                                          for k in range(first, first + n)],
                                 concurrency=32, raise_on_first_error=True)


def read(s, n=500):
    sel = s.prepare("SELECT v FROM %s.t WHERE k = ?" % KS)
    execute_concurrent_with_args(s, sel, [(k,) for k in range(n)], concurrency=32,
                                 raise_on_first_error=True)


def one(s, q, *args):
    rows = list(s.execute(q, args))
    assert len(rows) == 1, (q, rows)
    return rows[0]


def test_latency_tables(node):
    srv, s = node
    load(s)
    read(s)
    list(s.execute("SELECT * FROM %s.t" % KS))
    for name, at_least in [("coordinator_write_latency", 500), ("coordinator_read_latency", 500),
                           ("coordinator_scan_latency", 1), ("local_write_latency", 500),
                           ("local_read_latency", 500), ("local_scan_latency", 1)]:
        r = one(s, "SELECT * FROM system_views.%s WHERE keyspace_name = %%s AND table_name = %%s"
                % name, KS, "t")
        assert r.count >= at_least, (name, r)
        assert 0 <= r.p50th_ms <= r.p99th_ms <= r.max_ms, (name, r)
        assert r.max_ms > 0 and r.per_second > 0, (name, r)
    meta = s.execute("SELECT * FROM system_views.local_read_latency").column_names
    assert meta == ["keyspace_name", "table_name", "count", "max_ms", "p50th_ms", "p99th_ms",
                    "per_second"]


def test_disk_usage_max_partition_size_and_caches(node):
    srv, s = node
    load(s, n=300, size=10000)  # ~3 MB
    s.execute("CREATE TABLE %s.wide (p int, c int, v text, PRIMARY KEY (p, c))" % KS)
    ins = s.prepare("INSERT INTO %s.wide (p, c, v) VALUES (1, ?, ?)" % KS)
    execute_concurrent_with_args(s, ins, [(c, "w" * 1000) for c in range(3000)], concurrency=32,
                                 raise_on_first_error=True)
    srv.admin("flush", KS)
    du = one(s, "SELECT mebibytes FROM system_views.disk_usage WHERE keyspace_name = %s AND "
             "table_name = %s", KS, "t")
    assert du.mebibytes >= 1, du
    mp = one(s, "SELECT mebibytes FROM system_views.max_partition_size WHERE keyspace_name = %s "
             "AND table_name = %s", KS, "wide")
    assert mp.mebibytes >= 2, mp  # 3000 rows of 1000 bytes in one partition
    names = [(r.keyspace_name, r.table_name) for r in s.execute("SELECT * FROM system_views.disk_usage")]
    assert names == sorted(names) and (KS, "t") in names and (KS, "wide") in names
    before = one(s, "SELECT * FROM system_views.caches WHERE name = 'chunks'")
    read(s, 300)
    after = one(s, "SELECT * FROM system_views.caches WHERE name = 'chunks'")
    read(s, 300)  # the same chunks again: now from the cache
    again = one(s, "SELECT * FROM system_views.caches WHERE name = 'chunks'")
    assert after.request_count > before.request_count, (before, after)
    assert again.hit_count - after.hit_count >= (after.request_count - before.request_count) // 2, (
        after, again)
    assert again.hit_count <= again.request_count and 0 < again.hit_ratio <= 1
    assert again.capacity_bytes > 0 and 0 < again.size_bytes <= again.capacity_bytes


def test_clients_settings_thread_pools(node):
    srv, s = node
    s.execute("USE %s" % KS)
    load(s, n=50)
    rows = list(s.execute("SELECT * FROM system_views.clients"))
    mine = [r for r in rows if r.driver_name == "Apache Cassandra Python Driver"]
    assert len(mine) >= 1, rows
    assert all(str(r.address) == "127.0.0.1" and r.port > 0 for r in mine)
    assert any(r.request_count >= 50 for r in mine), mine
    assert all(r.connection_stage == "ready" and r.username == "anonymous" and
               r.ssl_enabled is False for r in mine)
    assert all(r.client_options["CQL_VERSION"] for r in mine)
    assert [(str(r.address), r.port) for r in rows] == sorted((str(r.address), r.port) for r in rows)

    settings = {r.name: r.value for r in s.execute("SELECT * FROM system_views.settings")}
    assert settings["compaction_throughput"] == "64MiB/s"
    assert settings["commitlog_sync"] == "periodic"
    assert settings["file_cache_size"] == "256MiB"
    assert settings["native_transport_port"] == str(srv.port)
    assert list(settings) == sorted(settings)
    assert one(s, "SELECT value FROM system_views.settings WHERE name = %s",
               "materialized_views_enabled").value == "true"
    srv.admin("setcompactionthroughput", "16")  # the value in force, not the yaml's
    assert one(s, "SELECT value FROM system_views.settings WHERE name = %s",
               "compaction_throughput").value == "16MiB/s"
    srv.admin("setcompactionthroughput", "64")

    pools = {r.name: r for r in s.execute("SELECT * FROM system_views.thread_pools")}
    assert set(pools) >= {"CompactionExecutor", "MemtableFlushWriter",
                          "Native-Transport-Requests"}
    assert pools["Native-Transport-Requests"].completed_tasks >= 50
    # the driver's schema metadata lists the keyspace as a virtual one
    assert s.cluster.metadata.keyspaces["system_views"].virtual


def test_sstable_tasks_shows_a_running_compaction(node):
    srv, s = node
    s.execute("CREATE TABLE %s.c (k int PRIMARY KEY, v text) WITH compaction = "
              "{'class': 'SizeTieredCompactionStrategy', 'min_threshold': '2'}" % KS)
    ins = s.prepare("INSERT INTO %s.c (k, v) VALUES (?, ?)" % KS)
    srv.admin("setcompactionthroughput", "1")  # 1 MiB/s: the compaction takes seconds
    try:
        for rnd in range(2):
            execute_concurrent_with_args(s, ins, [(k, "%d-%s" % (rnd, "y" * 2000))
                                                  for k in range(rnd, 3000, 2)],
                                         concurrency=32, raise_on_first_error=True)
            srv.admin("flush", KS, "c")
        seen = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not seen:
            seen = list(s.execute("SELECT * FROM system_views.sstable_tasks WHERE "
                                  "keyspace_name = %s", (KS,)))
            time.sleep(0.05)
        assert seen, "no compaction seen in sstable_tasks"
        t = seen[0]
        assert t.table_name == "c" and t.kind == "compaction" and t.unit == "bytes"
        assert t.sstables >= 2 and t.total > 0 and 0 <= t.progress <= t.total
        assert 0.0 <= t.completion_ratio <= 1.0
        assert t.task_id.version == 1
    finally:
        srv.admin("setcompactionthroughput", "0")


def test_tablehistograms_metrics_and_drain(node, connect):
    srv, s = node
    load(s)
    read(s)
    out = srv.admin("tablehistograms", KS, "t")
    lines = out.splitlines()
    assert lines[0] == "%s/t histograms" % KS
    assert lines[1].split() == ["Percentile", "Read", "Latency", "Write", "Latency", "Scan",
                                "Latency"]
    rows = {ln.split()[0]: [float(x) for x in ln.split()[1:]] for ln in lines[3:10]}
    assert list(rows) == ["50%", "75%", "95%", "98%", "99%", "Min", "Max"]
    for col in range(2):  # read and write: percentiles ordered, all within [min, max]
        seq = [rows[k][col] for k in ["Min", "50%", "75%", "95%", "98%", "99%", "Max"]]
        assert seq == sorted(seq) and seq[-1] > 0, (col, seq)
    assert srv.admin("tablehistograms", "%s.t" % KS).splitlines()[:3] == lines[:3]  # ks.table
    p = srv.admin("tablehistograms", KS, check=False)
    assert p.returncode == 1 and "requires keyspace and table name" in p.stderr
    p = srv.admin("tablehistograms", KS, "nope", check=False)
    assert p.returncode == 1 and "Table [%s.nope] does not exist." % KS in p.stdout + p.stderr

    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.admin_port(),
                                  timeout=10).read().decode()
    assert ('helenus_table_latency_seconds_count{keyspace="%s",table="t",op="read",'
            'scope="coordinator"}' % KS) in body
    assert "# TYPE helenus_table_latency_seconds summary" in body
    conns = [ln for ln in body.splitlines() if ln.startswith("helenus_client_connections ")]
    assert conns and int(conns[0].split()[1]) >= 1, conns

    # drain: the CQL port closes, every memtable is flushed; a restart
    # then has nothing to replay and all the data
    assert "Native Transport active: true" in srv.admin("info")
    srv.admin("drain")
    assert "Native Transport active: false" in srv.admin("info")
    import socket
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
    stats = srv.admin("tablestats", "%s.t" % KS)
    assert "Memtable data size: 0\n" in stats, stats
    s.cluster.shutdown()
    assert srv.stop() == 0, srv.tail()
    srv.start()
    s = connect(srv)
    assert one(s, "SELECT count(*) FROM %s.t" % KS).count == 500
    assert "replayed" not in srv.stderr_text(), srv.tail()


def test_grafana_dashboard_reads_exported_metrics(node):
    """docs/grafana/helenus-dashboard.json is valid JSON and every metric
    its queries name is one /metrics exports (a renamed metric fails
    here, not silently on an operator's screen)."""
    import json
    import re
    srv, s = node
    load(s, n=20)
    read(s, 20)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "grafana",
                        "helenus-dashboard.json")
    with open(path) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    used = set(re.findall(r"\bhelenus_[a-z_]+", " ".join(exprs)))
    assert len(used) >= 10, used
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.admin_port(),
                                  timeout=10).read().decode()
    exported = {ln.split("{")[0].split(" ")[0] for ln in body.splitlines()
                if ln and not ln.startswith("#")}
    assert used <= exported, "dashboard metrics not exported: %s" % sorted(used - exported)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_snapshots_table(node):
    """system_views.snapshots lists what `helenus admin snapshot` took,
    with the sizes listsnapshots reports."""
    srv, s = node
    load(s, n=200, size=2000)
    assert list(s.execute("SELECT * FROM system_views.snapshots")) == []
    before = int(time.time())
    srv.admin("snapshot", "-t", "nightly", KS)
    rows = list(s.execute("SELECT * FROM system_views.snapshots"))
    assert [(r.name, r.keyspace_name, r.table_name) for r in rows] == [("nightly", KS, "t")], rows
    r = rows[0]
    assert r.size_on_disk > 200 * 1000 and r.true_size == 0  # hard links: the data still holds them
    assert r.ephemeral is False and r.expires_at is None
    assert before - 5 <= r.created_at.timestamp() <= time.time() + 5, r.created_at
    listed = srv.admin("listsnapshots")
    assert "nightly" in listed and str(r.size_on_disk) in listed
    srv.admin("clearsnapshot", "-t", "nightly")
    assert list(s.execute("SELECT * FROM system_views.snapshots WHERE name = 'nightly'")) == []


def estimates(s, table="system.size_estimates", extra=""):
    return list(s.execute("SELECT * FROM %s WHERE keyspace_name = %%s AND table_name = 't'%s"
                          % (table, extra), (KS,)))


def test_size_estimates_cover_the_ring_and_count_the_partitions(node):
    """system.size_estimates (what the Spark connector reads to plan its
    splits): one row per primary range of the node's 16 tokens, the
    wrapping range unwrapped at the ring's minimum as Cassandra does, so
    the 17 ranges tile the ring; partition counts add up to what was
    written, before a flush (memtables count here, unlike Cassandra's
    five-minutely recorder) and after it; table_estimates has the same
    figures as 'primary' and 'local' rows."""
    srv, s = node
    assert estimates(s) and all(r.partitions_count == 0 for r in estimates(s))
    load(s, n=2000, size=100)
    for flushed in (False, True):
        if flushed:
            srv.admin("flush")
        rows = estimates(s)
        assert len(rows) == 17
        ranges = sorted((int(r.range_start), int(r.range_end)) for r in rows)
        assert ranges[0][0] == -2**63 and ranges[-1][1] == -2**63
        for (a0, b0), (a1, b1) in zip(ranges, ranges[1:]):
            assert b0 == a1 and a0 < b0
        total = sum(r.partitions_count for r in rows)
        assert abs(total - 2000) <= 17, (flushed, total)
        # each range holds its share of the ring (hash spread), loosely
        for r in rows:
            width = ((int(r.range_end) if int(r.range_end) != -2**63 else 2**63)
                     - int(r.range_start)) / 2**64
            assert abs(r.partitions_count - 2000 * width) <= 2000 * width * 0.5 + 2
        means = {r.mean_partition_size for r in rows}
        assert all(100 <= m < 4096 for m in means), means
    prim = estimates(s, "system.table_estimates", " AND range_type = 'primary'")
    local = estimates(s, "system.table_estimates", " AND range_type = 'local'")
    key = lambda r: (r.range_start, r.range_end, r.partitions_count, r.mean_partition_size)
    assert sorted(map(key, prim)) == sorted(map(key, local)) == sorted(map(key, estimates(s)))
