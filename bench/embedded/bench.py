"""
bench.py — the embedded Python API against cassandra-driver on the same
engine, in one process and one run.

What: opens a data directory with helenus.serve() (the engine plus the real
CQL server, in this process), loads a table of N rows with a 64-d float
vector and a SAI vector index, then measures, per round,
  * point reads (SELECT by primary key, prepared) one at a time: latency of
    each call, and the throughput of that sequential loop;
  * the same with T threads at once (throughput only);
  * ANN queries (ORDER BY emb ANN OF ? LIMIT 10, prepared), one at a time;
through the embedded API (db.prepare(...).execute) and through
cassandra-driver (session.execute of a prepared statement) against
127.0.0.1:server.port. Both paths read the same rows from the same engine,
so the difference is what the network path costs: the driver's Python
encoding and decoding, the socket, and the server's frame handling.

Why in one process: the same engine and the same cache state serve both;
nothing but the path differs. The driver's I/O thread and the engine's shard
thread share the machine's cores with the caller, as in an application that
embeds the server.

Output: a table on stdout and, with --out DIR, DIR/report.md and
DIR/results.json. Medians over --rounds rounds; ratios are driver/embedded
for latency (above 1: embedded is faster) and embedded/driver for
throughput.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
os.environ.setdefault("HELENUS_LIB", os.path.join(REPO, "build", "release", "libhelenus.so"))

import numpy as np  # noqa: E402

import helenus  # noqa: E402

KS = ("CREATE KEYSPACE b WITH replication = "
      "{'class': 'SimpleStrategy', 'replication_factor': 1}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def seq(call, args_list):
    """Latencies (µs) of each call, and ops/s of the whole loop."""
    lat = []
    t0 = time.perf_counter()
    for a in args_list:
        s = time.perf_counter_ns()
        call(a)
        lat.append((time.perf_counter_ns() - s) / 1000)
    el = time.perf_counter() - t0
    return lat, len(args_list) / el


def threaded(call, args_list, nthreads):
    chunks = [args_list[i::nthreads] for i in range(nthreads)]
    errs = []

    def run(ch):
        try:
            for a in ch:
                call(a)
        except Exception as e:  # noqa: BLE001
            errs.append(e)
    ths = [threading.Thread(target=run, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errs:
        raise errs[0]
    return len(args_list) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--reads", type=int, default=5000)
    ap.add_argument("--anns", type=int, default=500)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()

    from cassandra.cluster import Cluster

    tmp = tempfile.mkdtemp(prefix="hln-embedded-bench-")
    rng = np.random.default_rng(42)
    vecs = rng.standard_normal((a.rows, a.dim)).astype(np.float32)
    results = {}
    with helenus.serve(os.path.join(tmp, "data"), port=0, shards=a.shards) as srv:
        db = srv.db
        db.execute(KS)
        db.execute("CREATE TABLE b.t (k int PRIMARY KEY, v text, emb vector<float, %d>)" % a.dim)
        db.execute("CREATE CUSTOM INDEX ON b.t (emb) USING 'StorageAttachedIndex'")
        ins = db.prepare("INSERT INTO b.t (k, v, emb) VALUES (?, ?, ?)")
        t0 = time.perf_counter()
        for k in range(a.rows):
            ins.execute((k, "value %d" % k, vecs[k].tolist()))
        load_s = time.perf_counter() - t0

        cluster = Cluster(srv.contact_points, port=srv.port, connect_timeout=10,
                          control_connection_timeout=10)
        sess = cluster.connect()
        sess.default_timeout = 30
        e_read = db.prepare("SELECT k, v FROM b.t WHERE k = ?")
        d_read = sess.prepare("SELECT k, v FROM b.t WHERE k = ?")
        e_ann = db.prepare("SELECT k FROM b.t ORDER BY emb ANN OF ? LIMIT 10")
        d_ann = sess.prepare("SELECT k FROM b.t ORDER BY emb ANN OF ? LIMIT 10")
        keys = [(int(k),) for k in rng.integers(0, a.rows, a.reads)]
        qs = [(rng.standard_normal(a.dim).astype(np.float32).tolist(),) for _ in range(a.anns)]

        def e_pr(x):
            assert e_read.execute(x).one()[0] == x[0]

        def d_pr(x):
            assert sess.execute(d_read, x).one().k == x[0]

        def e_an(x):
            assert len(e_ann.execute(x).rows) == 10

        def d_an(x):
            assert len(list(sess.execute(d_ann, x))) == 10

        # warm-up: both paths, every statement
        seq(e_pr, keys[:500]), seq(d_pr, keys[:500]), seq(e_an, qs[:50]), seq(d_an, qs[:50])
        rounds = {k: [] for k in ("e_read", "d_read", "e_ann", "d_ann")}
        thr = {"e": [], "d": []}
        for _ in range(a.rounds):
            for name, fn, args in (("e_read", e_pr, keys), ("d_read", d_pr, keys),
                                   ("e_ann", e_an, qs), ("d_ann", d_an, qs)):
                rounds[name].append(seq(fn, args))
            thr["e"].append(threaded(e_pr, keys, a.threads))
            thr["d"].append(threaded(d_pr, keys, a.threads))
        cluster.shutdown()

    def summ(rs):
        lat = [x for r in rs for x in r[0]]
        return {"p50_us": statistics.median(lat), "p99_us": pct(lat, 0.99),
                "ops_s": statistics.median([r[1] for r in rs])}

    for k, v in rounds.items():
        results[k] = summ(v)
    results["e_read_threads_ops_s"] = statistics.median(thr["e"])
    results["d_read_threads_ops_s"] = statistics.median(thr["d"])
    rows = []

    def line(label, e, d):
        rows.append("| %s | %.1f / %.1f | %.1f / %.1f | %.2fx | %s | %s | %.2fx |" % (
            label, e["p50_us"], e["p99_us"], d["p50_us"], d["p99_us"],
            d["p50_us"] / e["p50_us"], format(round(e["ops_s"]), ","),
            format(round(d["ops_s"]), ","), e["ops_s"] / d["ops_s"]))
    line("point read, 1 caller", results["e_read"], results["d_read"])
    line("ANN LIMIT 10, 1 caller", results["e_ann"], results["d_ann"])
    et, dt = results["e_read_threads_ops_s"], results["d_read_threads_ops_s"]
    rows.append("| point read, %d threads | | | | %s | %s | %.2fx |" % (
        a.threads, format(round(et), ","), format(round(dt), ","), et / dt))
    head = ("| operation | embedded p50 / p99 µs | driver p50 / p99 µs | p50 driver/embedded "
            "| embedded ops/s | driver ops/s | ops/s embedded/driver |\n"
            "|---|---:|---:|---:|---:|---:|---:|")
    table = head + "\n" + "\n".join(rows)
    print(table)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        try:
            commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"],
                                    capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain"],
                                   capture_output=True, text=True).stdout.strip()
        except OSError:
            commit, dirty = "?", ""
        import cassandra
        meta = {
            "rows": a.rows, "dim": a.dim, "reads": a.reads, "anns": a.anns,
            "threads": a.threads, "rounds": a.rounds, "shards": a.shards,
            "load_seconds": load_s, "commit": commit + (" + uncommitted" if dirty else ""),
            "library": helenus.LIB_PATH, "python": platform.python_version(),
            "cassandra_driver": cassandra.__version__, "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
        }
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
        with open(os.path.join(a.out, "report.md"), "w") as f:
            f.write("# Embedded Python API vs cassandra-driver on helenus.serve()\n\n")
            f.write("Generated by `bench/embedded/run.sh` (bench/embedded/bench.py). One process: "
                    "helenus.serve() runs the engine and the CQL server; the embedded path calls "
                    "the engine through libhelenus.so (ctypes), the driver path goes through "
                    "cassandra-driver %s over 127.0.0.1. Same rows, same engine, same run. "
                    "Latencies: median and p99 over all %d rounds' calls; ops/s: median of the "
                    "rounds.\n\n" % (cassandra.__version__, a.rounds))
            f.write("Setup: %d rows (k int, v text, emb vector<float, %d>, SAI index on emb), "
                    "%d shard(s); %d point reads and %d ANN queries per round; %d threads for the "
                    "threaded row; %d CPUs, load average %.2f %.2f %.2f at the end; commit %s; "
                    "Python %s. Load of the rows through the embedded API: %.1f s.\n\n" % (
                        a.rows, a.dim, a.shards, a.reads, a.anns, a.threads, os.cpu_count(),
                        *os.getloadavg(), meta["commit"], meta["python"], load_s))
            f.write(table + "\n")


if __name__ == "__main__":
    main()
