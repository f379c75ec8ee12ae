"""
bench/vector/recovery.py — how long a vector index takes to be usable
again after kill -9, from its checkpoint against from the data alone.

What: starts the real `helenus serve` (loopback, 2 shards), creates
CassIO's table shape with an SAI vector index, loads N vectors (random
unit vectors around 40 centres, 384-d) with prepared INSERTs through the
Python driver, then alternately, `--repeats` times each:

  ckpt     kill -9, restart, time until every shard logs "vector index
           built" (the checkpoint loaded, walked and caught up);
  rebuild  kill -9, delete the checkpoints, restart, time likewise (the
           graph built from the data, as every crash did before the
           checkpoints).

Both are measured on the same binary, data and machine in one run; the
report gives the medians and their ratio, plus the load's insert rate and
the time the load spent writing checkpoints (parsed from the log).

Usage: build/venv/bin/python bench/vector/recovery.py --bin build/release/helenus
       [--n 100000] [--repeats 2] [--out bench/results/<date>-vector-recovery]
Needs build/venv (scripts/install-deps.sh --test): cassandra-driver, numpy.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

import numpy as np
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARDS = 2
DIM = 384


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data, logdir):
        self.binary, self.data, self.logdir = binary, data, logdir
        self.port = free_port()
        self.proc = None
        self.n = 0

    def start(self):
        self.n += 1
        self.log = os.path.join(self.logdir, "server.%d.log" % self.n)
        argv = [self.binary, "serve", "--data-dir", self.data, "--address", "127.0.0.1",
                "--port", str(self.port), "--shards", str(SHARDS), "--admin-port", "0"]
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.t0 = time.monotonic()
        self.wait_log(r"listening for CQL clients", 120)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.text())) >= count:
                return time.monotonic()
            if self.proc.poll() is not None:
                raise SystemExit("server exited:\n" + self.text()[-3000:])
            time.sleep(0.02)
        raise SystemExit("timed out waiting for %r:\n%s" % (pattern, self.text()[-3000:]))

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def vectors(n, seed):
    rnd = np.random.default_rng(seed)
    cs = rnd.normal(size=(40, DIM)).astype(np.float32)
    v = cs[rnd.integers(0, 40, n)] + rnd.normal(scale=0.6, size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--quiet", type=float, default=16.0,
                    help="seconds without writes before each kill (0: kill at once)")
    a = ap.parse_args()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = a.out or os.path.join(ROOT, "bench", "results", stamp + "-vector-recovery")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="hln-recovery-")
    srv = Server(os.path.abspath(a.bin), os.path.join(work, "data"), out)
    try:
        srv.start()
        c = Cluster(["127.0.0.1"], port=srv.port, connect_timeout=10)
        s = c.connect()
        s.default_timeout = 60
        s.execute("CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', "
                  "'replication_factor': 1}")
        s.execute("CREATE TABLE r.chunks (row_id int PRIMARY KEY, body_blob text, "
                  "metadata_s map<text, text>, vector vector<float, %d>)" % DIM)
        s.execute("CREATE CUSTOM INDEX ON r.chunks (vector) USING 'StorageAttachedIndex'")
        ins = s.prepare("INSERT INTO r.chunks (row_id, body_blob, vector) VALUES (?, ?, ?)")
        vs = vectors(a.n, 7)
        t0 = time.monotonic()
        for lo in range(0, a.n, 10000):
            args = [(i, "chunk %d" % i, vs[i].tolist()) for i in range(lo, min(a.n, lo + 10000))]
            execute_concurrent_with_args(s, ins, args, concurrency=64, raise_on_first_error=True)
        load_s = time.monotonic() - t0
        c.shutdown()
        load_log = srv.text()
        cks = [(int(a), int(b)) for a, b in re.findall(
            r"index checkpoint of \d+ entries written in (\d+) ms \((\d+) ms of it on the shard",
            load_log)]
        ck_ms = [a for a, _ in cks]
        stall_ms = [b for _, b in cks]
        times = {"ckpt": [], "rebuild": []}
        built = r"vector index built"
        for _ in range(a.repeats):
            for mode in ("ckpt", "rebuild"):
                # a quiet graph is checkpointed within the shard's clock
                # (10 s) plus 5 s: kill after that, as a crash of a table
                # loaded and then read would find it
                time.sleep(a.quiet)
                srv.kill()
                idx = [os.path.join(srv.data, "shard-%d" % i, "indexes") for i in range(SHARDS)]
                have = [f for d in idx if os.path.isdir(d) for f in os.listdir(d)
                        if f.endswith(".ckpt")]
                if mode == "ckpt" and len(have) < SHARDS:
                    raise SystemExit("no checkpoint on every shard: %s" % have)
                if mode == "rebuild":
                    for d in idx:
                        shutil.rmtree(d, ignore_errors=True)
                t = time.monotonic()
                srv.start()
                done = srv.wait_log(built, 3600, count=SHARDS)
                times[mode].append(done - t)
                text = srv.text()
                if mode == "ckpt" and "built from its checkpoint" not in text:
                    raise SystemExit("the checkpoint was not used:\n" + text[-3000:])
        med = {m: statistics.median(v) for m, v in times.items()}
        res = {"n": a.n, "shards": SHARDS, "dim": DIM, "load_s": load_s,
               "inserts_per_s": a.n / load_s, "checkpoints": len(ck_ms),
               "checkpoint_ms_total": sum(ck_ms), "checkpoint_ms_max": max(ck_ms or [0]),
               "checkpoint_stall_ms_total": sum(stall_ms),
               "checkpoint_stall_ms_max": max(stall_ms or [0]),
               "restart_s": times, "median_s": med,
               "ratio_rebuild_over_ckpt": med["rebuild"] / med["ckpt"]}
        with open(os.path.join(out, "recovery.json"), "w") as f:
            json.dump(res, f, indent=1)
        lines = [
            "# Vector index recovery after kill -9 (%d vectors, %d-d, %d shards)" % (a.n, DIM,
                                                                                   SHARDS),
            "",
            "`build/venv/bin/python bench/vector/recovery.py --bin %s --n %d --repeats %d "
            "--quiet %g`" % (a.bin, a.n, a.repeats, a.quiet),
            "",
            "Each kill came %.0f s after the load or the previous restart's build."
            % a.quiet,
            "",
            "Load: %.0f inserts/s through the Python driver (%.1f s); %d checkpoints written "
            "during it, %d ms in all, the longest %d ms (on the thread pool); the shard "
            "threads were stalled %d ms in all by them, at most %d ms at once (the copy of "
            "keys and links)."
            % (res["inserts_per_s"], load_s, len(ck_ms), sum(ck_ms), res["checkpoint_ms_max"],
               sum(stall_ms), res["checkpoint_stall_ms_max"]),
            "",
            "| restart until every shard's graph answers | runs (s) | median (s) |",
            "|---|---|---:|",
            "| from the checkpoint (caught up by the walk) | %s | %.2f |"
            % (", ".join("%.2f" % x for x in times["ckpt"]), med["ckpt"]),
            "| from the data alone (checkpoints deleted) | %s | %.2f |"
            % (", ".join("%.2f" % x for x in times["rebuild"]), med["rebuild"]),
            "",
            "Rebuild / checkpoint: **%.1f×**." % res["ratio_rebuild_over_ckpt"],
        ]
        with open(os.path.join(out, "report.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
