"""Write and read amplification of each compaction strategy on Helenus.

For every strategy (SizeTiered, Leveled, TimeWindow, Unified T4 and L4) two
tables get the same rows: `std_<s>` like cassandra-stress standard1 (random
10-byte keys, five 34-byte values, a third of the writes overwriting earlier
keys) and `iot_<s>` (readings clustered by time in sensor partitions). The
server flushes every 1 MiB of memtable, so the strategy has work to do.
After the writes settle (no compaction running), random point reads run
against each table. `helenus admin tablestats` then gives, per table:
write amplification = (bytes flushed + bytes written by compactions) /
bytes flushed, read amplification = sstables read per partition read, the
sstable count and the space used.

Usage: strategies.py --port P --admin-port A --helenus BIN --out DIR [--rows N]
"""
import argparse
import json
import os
import random
import re
import subprocess
import time

from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args

STRATEGIES = [
    ("stcs", "{'class': 'SizeTieredCompactionStrategy'}"),
    ("lcs", "{'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': '2'}"),
    ("twcs", "{'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'MINUTES', "
             "'compaction_window_size': '1'}"),
    ("ucs_t4", "{'class': 'UnifiedCompactionStrategy', 'scaling_parameters': 'T4'}"),
    ("ucs_l4", "{'class': 'UnifiedCompactionStrategy', 'scaling_parameters': 'L4'}"),
]


def admin(a, *args):
    p = subprocess.run([a.helenus, "admin", "-p", str(a.admin_port)] + list(args),
                       capture_output=True, text=True, timeout=600)
    if p.returncode:
        raise SystemExit("helenus admin %s: %s" % (" ".join(args), p.stderr))
    return p.stdout


def settle(a, limit=600):
    t0 = time.time()
    quiet = 0
    while time.time() - t0 < limit:
        out = admin(a, "compactionstats")
        quiet = quiet + 1 if "pending tasks: 0" in out else 0
        if quiet >= 4:
            return time.time() - t0
        time.sleep(0.5)
    raise SystemExit("compactions did not settle in %d s" % limit)


def stats(a, table):
    out = admin(a, "tablestats", "bench." + table)
    def num(label):
        m = re.search(re.escape(label) + r": ([-0-9.]+)", out)
        return float(m.group(1)) if m else None
    return {"sstables": num("SSTable count"), "bytes": num("Space used (live)"),
            "write_amplification": num("Write amplification"),
            "sstables_per_read": num("SSTables per read"),
            "compactions": num("Compactions completed"), "raw": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--admin-port", type=int, required=True)
    ap.add_argument("--helenus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--reads", type=int, default=5000)
    a = ap.parse_args()
    rnd = random.Random(7)
    c = Cluster(["127.0.0.1"], port=a.port, connect_timeout=10)
    s = c.connect()
    s.default_timeout = 60
    s.execute("CREATE KEYSPACE IF NOT EXISTS bench WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    keys = [rnd.randbytes(10) for _ in range(a.rows * 2 // 3)]
    std_rows = []
    for i in range(a.rows):
        k = keys[i] if i < len(keys) else keys[rnd.randrange(len(keys))]
        std_rows.append((k,) + tuple(rnd.randbytes(34) for _ in range(5)))
    sensors = 100
    now = int(time.time() * 1000)
    iot_rows = [("s%03d" % (i % sensors), now - (a.rows - i) * 10, rnd.random(),
                 "site=%d,kind=temp" % (i % 7)) for i in range(a.rows)]
    results = {}
    for name, comp in STRATEGIES:
        s.execute("CREATE TABLE bench.std_%s (key blob PRIMARY KEY, c0 blob, c1 blob, c2 blob, "
                  "c3 blob, c4 blob) WITH compaction = %s" % (name, comp))
        s.execute("CREATE TABLE bench.iot_%s (sensor text, ts timestamp, value double, tags text, "
                  "PRIMARY KEY (sensor, ts)) WITH CLUSTERING ORDER BY (ts DESC) AND "
                  "compaction = %s" % (name, comp))
        t0 = time.time()
        ins = s.prepare("INSERT INTO bench.std_%s (key, c0, c1, c2, c3, c4) VALUES (?, ?, ?, ?, ?, ?)"
                        % name)
        for ok, r in execute_concurrent_with_args(s, ins, std_rows, concurrency=128):
            assert ok, r
        ins = s.prepare("INSERT INTO bench.iot_%s (sensor, ts, value, tags) VALUES (?, ?, ?, ?)"
                        % name)
        for ok, r in execute_concurrent_with_args(s, ins, iot_rows, concurrency=128):
            assert ok, r
        load_s = time.time() - t0
        admin(a, "flush", "bench")
        settle_s = settle(a)
        sel = s.prepare("SELECT * FROM bench.std_%s WHERE key = ?" % name)
        t0 = time.time()
        for ok, r in execute_concurrent_with_args(
                s, sel, [(keys[rnd.randrange(len(keys))],) for _ in range(a.reads)], concurrency=64):
            assert ok and r.one() is not None, r
        std_read_s = time.time() - t0
        sel = s.prepare("SELECT * FROM bench.iot_%s WHERE sensor = ? LIMIT 10" % name)
        t0 = time.time()
        for ok, r in execute_concurrent_with_args(
                s, sel, [("s%03d" % rnd.randrange(sensors),) for _ in range(a.reads)],
                concurrency=64):
            assert ok and len(list(r)) == 10, r
        iot_read_s = time.time() - t0
        results[name] = {
            "compaction": comp, "load_s": load_s, "settle_s": settle_s,
            "standard1": dict(stats(a, "std_" + name), reads_per_s=a.reads / std_read_s),
            "iot": dict(stats(a, "iot_" + name), reads_per_s=a.reads / iot_read_s),
        }
        print("%-7s std WA %.2f RA %.2f sst %d | iot WA %.2f RA %.2f sst %d" % (
            name, results[name]["standard1"]["write_amplification"],
            results[name]["standard1"]["sstables_per_read"], results[name]["standard1"]["sstables"],
            results[name]["iot"]["write_amplification"], results[name]["iot"]["sstables_per_read"],
            results[name]["iot"]["sstables"]), flush=True)
    c.shutdown()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "strategies.json"), "w") as f:
        json.dump({"rows": a.rows, "reads": a.reads, "results": results}, f, indent=1)
    lines = ["| strategy | workload | write amplification | sstables per read | sstables | bytes | "
             "point reads/s |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, _ in STRATEGIES:
        for w in ("standard1", "iot"):
            r = results[name][w]
            lines.append("| %s | %s | %.2f | %.2f | %d | %d | %.0f |" % (
                name, w, r["write_amplification"], r["sstables_per_read"], r["sstables"],
                r["bytes"], r["reads_per_s"]))
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
