#!/usr/bin/env python3
"""disk.py -- the data set, loader, counter and measurer of the disk-use benchmark.

Used by bench/disk/run.sh; every subcommand talks to one server (Helenus or
Cassandra, it does not care which) on 127.0.0.1:PORT.

  disk.py load    --port P --rows N [--seed S] [--concurrency C] --json OUT
        creates keyspace diskbench and its three tables, then writes the same
        deterministic rows (a pure function of --rows and --seed) into them
  disk.py count   --port P --json OUT
        SELECT count(*) per table (per-token-range counts if that fails)
  disk.py ids     --port P --json OUT
        table name -> table id (system_schema.tables)
  disk.py measure --kind helenus|cassandra --data DIR --ids IDS.json --json OUT
        bytes on disk per table (see bench/README.md, "Disk use")
  disk.py verify  --port P --rows N [--seed S] [--sample K] --json OUT
        reads back K rows of each table and compares them with the generator
  disk.py report  --out DIR
        writes DIR/report.md from DIR/json/*.json and prints the table

The write timestamp of every row is fixed too (USING TIMESTAMP, 1 ms apart in
load order), so both servers store the very same cells, timestamps included.
"""
import argparse
import datetime
import json
import math
import os
import random
import struct
import sys
import time

KS = "diskbench"
TABLES = ["standard1", "events", "features"]

SCHEMA = [
    f"CREATE KEYSPACE IF NOT EXISTS {KS} WITH replication = "
    "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    # cassandra-stress standard1 (its column names and sizes)
    f'CREATE TABLE IF NOT EXISTS {KS}.standard1 (key blob PRIMARY KEY, '
    '"C0" blob, "C1" blob, "C2" blob, "C3" blob, "C4" blob)',
    # event log / time series: one partition per sensor and day, newest first
    f"CREATE TABLE IF NOT EXISTS {KS}.events (sensor text, day date, ts timestamp, "
    "value double, tags text, PRIMARY KEY ((sensor, day), ts)) "
    "WITH CLUSTERING ORDER BY (ts DESC)",
    # feature store: one partition per entity, features in a map, tags in a set
    f"CREATE TABLE IF NOT EXISTS {KS}.features (entity text PRIMARY KEY, "
    "features map<text, float>, tags set<text>)",
]

INSERT = {
    "standard1": f'INSERT INTO {KS}.standard1 (key, "C0", "C1", "C2", "C3", "C4") '
                 "VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "events": f"INSERT INTO {KS}.events (sensor, day, ts, value, tags) "
              "VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "features": f"INSERT INTO {KS}.features (entity, features, tags) "
                "VALUES (?, ?, ?) USING TIMESTAMP ?",
}

PKEY = {"standard1": "key", "events": "sensor, day", "features": "entity"}

# write timestamps: from 2026-01-01T00:00:00Z (microseconds), 1 ms apart in load order,
# each table starting one day after the previous one
T0_US = 1767225600 * 1000000
EVENT_DAYS = 4                 # days per sensor
EVENT_PER_DAY = 100            # readings per sensor and day (one every 864 s)
EVENT_DAY0 = datetime.date(2026, 1, 1)

FEATURE_NAMES = [f"{a}_{w}" for a in (
    "clicks", "views", "purchases", "sessions", "ctr", "cvr", "spend", "returns",
    "searches", "cart_adds", "dwell_s", "ratings", "logins", "shares", "reviews", "refunds")
    for w in ("1d", "7d", "30d", "90d")]                  # 64 names
TAG_VOCAB = [f"{k}:{v}" for k, vs in (
    ("segment", ("new", "casual", "regular", "premium", "churn_risk")),
    ("country", ("de", "fr", "us", "gb", "jp", "br", "in", "es")),
    ("device", ("ios", "android", "web", "tv")),
    ("plan", ("free", "basic", "plus", "pro")),
    ("cohort", tuple(f"2025w{w:02d}" for w in range(1, 20, 2)))) for v in vs]   # 31 tags
STATUS = ["ok"] * 19 + ["warn"]
UNITS = ["celsius", "kpa", "rpm", "volt", "ampere"]


def gen_standard1(n, seed):
    """cassandra-stress standard1: 10-byte key, five 34-byte random values."""
    rng = random.Random(seed * 1000003 + 1)
    for i in range(n):
        key = b"%010d" % i
        yield (key,) + tuple(rng.randbytes(34) for _ in range(5)) + (T0_US + i * 1000,)


def gen_events(n, seed):
    """n readings: sensors x EVENT_DAYS x EVENT_PER_DAY, written in time order per
    partition. value: a slow sine plus noise with 3 decimals (an 8-byte double
    that does not compress away); tags: short, repetitive key=value text."""
    rng = random.Random(seed * 1000003 + 2)
    per_sensor = EVENT_DAYS * EVENT_PER_DAY
    nsensors = max(1, math.ceil(n / per_sensor))
    i = 0
    for s in range(nsensors):
        sensor = f"sensor-{s:05d}"
        base = 15.0 + (s % 17)
        unit = UNITS[s % len(UNITS)]
        for d in range(EVENT_DAYS):
            day = EVENT_DAY0 + datetime.timedelta(days=d)
            day_ms = int(datetime.datetime(day.year, day.month, day.day,
                                           tzinfo=datetime.timezone.utc).timestamp() * 1000)
            for k in range(EVENT_PER_DAY):
                if i >= n:
                    return
                ts = day_ms + k * 864000 + rng.randrange(1000)
                value = round(base + 5.0 * math.sin((d * EVENT_PER_DAY + k) / 15.0)
                              + rng.gauss(0.0, 0.4), 3)
                tags = (f"site=plant-{s % 7},line={s % 13},unit={unit},"
                        f"status={rng.choice(STATUS)},fw=v2.{s % 4}.1")
                yield (sensor, day, ts, value, tags, T0_US + 86400 * 1000000 + i * 1000)
                i += 1


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def gen_features(n, seed):
    """entity user:NNNNNNNN, 8-24 features out of 64 names (float values), 0-4 tags."""
    rng = random.Random(seed * 1000003 + 3)
    for i in range(n):
        nf = rng.randint(8, 24)
        names = rng.sample(FEATURE_NAMES, nf)
        feats = {}
        for name in names:
            if name.startswith(("ctr", "cvr")):
                feats[name] = f32(round(rng.random(), 4))
            else:
                feats[name] = f32(float(int(rng.expovariate(1 / 40.0))))
        tags = set(rng.sample(TAG_VOCAB, rng.randint(0, 4)))
        yield (f"user:{i:08d}", feats, tags, T0_US + 2 * 86400 * 1000000 + i * 1000)


GEN = {"standard1": gen_standard1, "events": gen_events, "features": gen_features}


def connect(port, timeout=120.0):
    from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
    from cassandra.policies import RoundRobinPolicy
    prof = ExecutionProfile(request_timeout=timeout, load_balancing_policy=RoundRobinPolicy())
    cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4,
                      execution_profiles={EXEC_PROFILE_DEFAULT: prof},
                      connect_timeout=30, control_connection_timeout=30)
    return cluster, cluster.connect()


def run_chunk(s, ps, chunk, concurrency):
    """executes every row of chunk, `concurrency` in flight; raises on the first failure"""
    from cassandra.concurrent import execute_concurrent_with_args
    done = 0
    # results_generator: results are not kept; the generator must be drained for the
    # statements to be executed at all
    for ok, r in execute_concurrent_with_args(s, ps, chunk, concurrency=concurrency,
                                              raise_on_first_error=True,
                                              results_generator=True):
        if not ok:
            raise r
        done += 1
    if done != len(chunk):
        raise RuntimeError(f"{done} of {len(chunk)} statements executed")
    return done


def cmd_load(a):
    cluster, s = connect(a.port)
    for q in SCHEMA:
        s.execute(q, timeout=120)
    out = {"rows_per_table": a.rows, "seed": a.seed, "concurrency": a.concurrency, "tables": {}}
    for t in TABLES:
        ps = s.prepare(INSERT[t])
        t0 = time.time()
        n = 0
        chunk = []
        for row in GEN[t](a.rows, a.seed):
            chunk.append(row)
            if len(chunk) >= 20000:
                n += run_chunk(s, ps, chunk, a.concurrency)
                chunk = []
        if chunk:
            n += run_chunk(s, ps, chunk, a.concurrency)
        dt = time.time() - t0
        out["tables"][t] = {"rows": n, "seconds": round(dt, 2), "rows_per_s": round(n / dt)}
        print(f"disk.py: {t}: {n} rows in {dt:.1f} s ({n / dt:.0f}/s)", flush=True)
    cluster.shutdown()
    json.dump(out, open(a.json, "w"), indent=2)


def token_ranges(parts):
    lo, hi = -(2 ** 63), 2 ** 63 - 1
    step = (hi - lo) // parts
    b = [lo + i * step for i in range(parts)] + [hi]
    return list(zip(b[:-1], b[1:]))


def cmd_count(a):
    cluster, s = connect(a.port, timeout=600.0)
    out = {}
    for t in TABLES:
        t0 = time.time()
        try:
            n = s.execute(f"SELECT count(*) FROM {KS}.{t}", timeout=600).one()[0]
            how = "count(*)"
        except Exception as e:  # noqa: BLE001 -- fall back, and say so
            print(f"disk.py: count(*) on {t} failed ({e}); counting by token range",
                  flush=True)
            n = 0
            rs = token_ranges(64)
            # the first range includes the minimum token
            for j, (lo, hi) in enumerate(rs):
                op = ">=" if j == 0 else ">"
                n += s.execute(f"SELECT count(*) FROM {KS}.{t} WHERE token({PKEY[t]}) {op} %s "
                               f"AND token({PKEY[t]}) <= %s", (lo, hi), timeout=600).one()[0]
            how = "64 token ranges"
        out[t] = {"rows": n, "method": how, "seconds": round(time.time() - t0, 2)}
        print(f"disk.py: {t}: {n} rows ({how}, {time.time() - t0:.1f} s)", flush=True)
    cluster.shutdown()
    json.dump(out, open(a.json, "w"), indent=2)


def cmd_verify(a):
    """Reads back a sample of rows of each table and compares them with the generator."""
    cluster, s = connect(a.port)
    rng = random.Random(12345)
    out = {}
    for t in TABLES:
        want = {}
        picks = set(rng.sample(range(a.rows), min(a.sample, a.rows)))
        for i, row in enumerate(GEN[t](a.rows, a.seed)):
            if i in picks:
                want[i] = row
        bad = 0
        for i, row in want.items():
            if t == "standard1":
                r = s.execute(f'SELECT key, "C0", "C1", "C2", "C3", "C4", writetime("C0") '
                              f"FROM {KS}.standard1 WHERE key = %s", (row[0],)).one()
                ok = r is not None and tuple(r) == row
            elif t == "events":
                r = s.execute(f"SELECT value, tags, writetime(value) FROM {KS}.events "
                              "WHERE sensor = %s AND day = %s AND ts = %s",
                              (row[0], row[1], row[2])).one()
                ok = r is not None and (r[0], r[1], r[2]) == (row[3], row[4], row[5])
            else:
                r = s.execute(f"SELECT features, tags FROM {KS}.features WHERE entity = %s",
                              (row[0],)).one()
                ok = (r is not None and dict(r[0] or {}) == row[1]
                      and set(r[1] or ()) == row[2])
            if not ok:
                bad += 1
                if bad <= 3:
                    print(f"disk.py: {t} row {i} differs: got {r}, want {row}", flush=True)
        out[t] = {"checked": len(want), "mismatches": bad}
        print(f"disk.py: verify {t}: {len(want)} rows read back, {bad} mismatches", flush=True)
    cluster.shutdown()
    json.dump(out, open(a.json, "w"), indent=2)


def cmd_ids(a):
    cluster, s = connect(a.port)
    rows = s.execute("SELECT table_name, id FROM system_schema.tables WHERE keyspace_name = %s",
                     (KS,))
    ids = {r.table_name: r.id.hex for r in rows}
    version = s.execute("SELECT release_version FROM system.local").one()[0]
    cluster.shutdown()
    json.dump({"ids": ids, "release_version": version}, open(a.json, "w"), indent=2)


def files_in(d):
    """regular files directly in d (snapshots/, backups/ and other subdirectories are not
    the table's live data)"""
    out = {}
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        if os.path.isfile(p):
            out[f] = os.path.getsize(p)
    return out


def helenus_split(paths):
    """Helenus Data.db = header (32 B), data region (the compressed chunks of the row
    blocks), index section (file record: statistics and chunk map; partition index),
    footer (48 B): the split, read from each footer (docs/formats/sstable.md).
    A diagnostic: None if some file does not parse."""
    out = {"header_footer": 0, "data_region": 0, "index_section": 0,
           "partitions": 0, "rows": 0}
    try:
        for p in paths:
            n = os.path.getsize(p)
            with open(p, "rb") as fh:
                fh.seek(n - 48)
                ft = fh.read(48)
            idx_off, idx_len, nparts, nrows = struct.unpack(">QQQQ", ft[:32])
            if ft[40:44] != b"HLNF" or idx_off + idx_len + 48 != n:
                return None
            out["header_footer"] += 32 + 48
            out["data_region"] += idx_off - 32
            out["index_section"] += idx_len
            out["partitions"] += nparts
            out["rows"] += nrows
    except Exception:  # noqa: BLE001
        return None
    return out


def cmd_measure(a):
    ids = json.load(open(a.ids))["ids"]
    res = {"kind": a.kind, "data_dir": a.data, "tables": {}}
    for t in TABLES:
        tid = ids[t]
        files = {}
        paths = []
        split = None
        if a.kind == "helenus":
            # DATA/shard-N/tables/<id hex>/nb-G-Data.db: data, index, statistics in one file
            for sh in sorted(os.listdir(a.data)):
                d = os.path.join(a.data, sh, "tables", tid)
                if sh.startswith("shard-") and os.path.isdir(d):
                    for f, n in files_in(d).items():
                        files[f"{sh}/{f}"] = n
                        if f.endswith("-Data.db"):
                            paths.append(os.path.join(d, f))
            counted = {f: n for f, n in files.items() if f.endswith("-Data.db")}
            split = helenus_split(paths)
        else:
            # DATA/<ks>/<table>-<id hex>/: every component of every live sstable
            d = os.path.join(a.data, KS, f"{t}-{tid}")
            files = files_in(d)
            counted = {f: n for f, n in files.items() if f.endswith((".db", ".txt", ".crc32"))}
        comps = {}
        for f, n in counted.items():
            c = f.rsplit("-", 1)[-1]
            comps[c] = comps.get(c, 0) + n
        gens = sorted({f.rsplit("-", 1)[0] for f in counted})  # [shard-N/]nb-G[-big]
        res["tables"][t] = {"id": tid, "bytes": sum(counted.values()),
                            "all_files_bytes": sum(files.values()),
                            "sstables": len(gens), "components": comps, "files": files}
        if split:
            res["tables"][t]["helenus_sections"] = split
    res["total_bytes"] = sum(v["bytes"] for v in res["tables"].values())
    res["total_all_files_bytes"] = sum(v["all_files_bytes"] for v in res["tables"].values())
    json.dump(res, open(a.json, "w"), indent=2)
    for t, v in res["tables"].items():
        print(f"disk.py: {a.kind} {t}: {v['bytes']} bytes in {v['sstables']} sstable(s)",
              flush=True)


# ---------------------------------------------------------------------------------------
def load_json(p, default=None):
    try:
        return json.load(open(p))
    except Exception:  # noqa: BLE001
        return default


def cmd_report(a):
    J = os.path.join(a.out, "json")
    m = load_json(os.path.join(J, "machine.json"), {})
    srv = {k: {"load": load_json(os.path.join(J, f"{k}-load.json"), {}),
               "count": load_json(os.path.join(J, f"{k}-count.json"), {}),
               "verify": load_json(os.path.join(J, f"{k}-verify.json"), {}),
               "disk": load_json(os.path.join(J, f"{k}-disk.json"), {}),
               "ids": load_json(os.path.join(J, f"{k}-ids.json"), {}),
               "server": load_json(os.path.join(J, f"{k}-server.json"), {})}
           for k in ("helenus", "cassandra")}
    rows = m.get("rows_per_table", 0)

    def b(k, t):
        return srv[k]["disk"].get("tables", {}).get(t, {}).get("bytes")

    def cnt(k, t):
        return srv[k]["count"].get(t, {}).get("rows")

    def fmt(n):
        return "–" if n is None else f"{n:,}".replace(",", " ")

    lines = []
    P = lines.append
    P("# Disk use: Helenus vs Cassandra 5.0, same rows, flushed and major-compacted\n")
    P(f"Run {m.get('stamp', '?')} UTC on {m.get('cpu_model', '?')}, {m.get('cpus', '?')} CPUs, "
      f"{m.get('mem_gib', '?')} GiB ({m.get('os', '?')}, kernel {m.get('kernel', '?')}). "
      f"Command: `{m.get('command', 'bench/disk/run.sh').strip()}`.\n")
    P(f"Helenus: {m.get('helenus_version', '?')}, commit {m.get('git_commit', '?')[:12]}"
      f"{' + uncommitted changes' if m.get('git_dirty_files') else ''}, "
      f"{m.get('helenus_shards', '?')} shards, Release build. "
      f"Cassandra: {srv['cassandra']['ids'].get('release_version', m.get('cassandra_version', '?'))} "
      f"(stock peer of bench/cassandra/, BIG sstables, heap {m.get('cassandra_heap', '?')}), "
      f"{m.get('java', '')}.\n")
    P(f"Data: {fmt(rows)} rows per table, seed {m.get('seed', '?')}, the same rows and write "
      "timestamps on both servers; default table options on both (LZ4, 16 KiB chunks, "
      "size-tiered compaction). Loaded with the Python driver (prepared INSERTs, "
      f"{m.get('concurrency', '?')} in flight), then flush + major compaction on both, "
      "measured after compactions finished, with the server still running.\n")
    P("## Bytes on disk per table\n")
    P("| table | rows (Helenus / Cassandra) | Helenus bytes | Cassandra bytes | "
      "Helenus / Cassandra | Helenus B/row | Cassandra B/row | sstables (H / C) |")
    P("|---|---|---:|---:|---:|---:|---:|---|")
    th = tc = 0
    all_ok = True
    for t in TABLES + ["total"]:
        if t == "total":
            h, c = th, tc
            rh = sum(cnt("helenus", x) or 0 for x in TABLES)
            rc = sum(cnt("cassandra", x) or 0 for x in TABLES)
            ssts = ""
        else:
            h, c = b("helenus", t), b("cassandra", t)
            rh, rc = cnt("helenus", t), cnt("cassandra", t)
            th += h or 0
            tc += c or 0
            ssts = (f"{srv['helenus']['disk'].get('tables', {}).get(t, {}).get('sstables', '–')} / "
                    f"{srv['cassandra']['disk'].get('tables', {}).get(t, {}).get('sstables', '–')}")
        ratio = f"{h / c:.3f}" if h and c else "–"
        if h and c and h > c:
            all_ok = False
        bh = f"{h / rh:.1f}" if h and rh else "–"
        bc = f"{c / rc:.1f}" if c and rc else "–"
        name = f"**{t}**" if t == "total" else f"`{t}`"
        P(f"| {name} | {fmt(rh)} / {fmt(rc)} | {fmt(h)} | {fmt(c)} | {ratio} | {bh} | {bc} | "
          f"{ssts} |")
    P("")
    same = all(cnt("helenus", t) == cnt("cassandra", t) for t in TABLES)
    expected = all(cnt("helenus", t) == rows for t in TABLES)
    P(f"Row counts {'agree' if same else '**differ**'} between the servers"
      f"{' and equal the rows written' if same and expected else ''}"
      f" (`SELECT count(*)` per table). ")
    v = [f"{k}: " + ", ".join(f"{t} {srv[k]['verify'].get(t, {}).get('mismatches', '?')} of "
                              f"{srv[k]['verify'].get(t, {}).get('checked', '?')}"
                              for t in TABLES) for k in ("helenus", "cassandra")]
    P("Rows read back and compared with the generator (mismatches): " + "; ".join(v) + ".\n")
    P("Target: Helenus / Cassandra <= 1.0 on every table: "
      f"**{'met' if all_ok else 'not met'}**.\n")
    P("What is counted: Helenus, every `shard-*/tables/<table id>/nb-*-Data.db` (one file per "
      "sstable holds the row blocks, the partition index and the statistics; the bloom filter "
      "is built when a file is opened, not stored; after a major compaction each shard has one "
      "sstable per table, hence 2 with 2 shards); Cassandra, every "
      "component of the table's live sstables in `data/diskbench/<table>-<id>/` (Data, Index, "
      "Summary, Filter, Statistics, CompressionInfo, Digest, TOC), snapshots and backups "
      "excluded. Commit logs are not counted on either side.\n")
    P("## Components\n")
    for k in ("helenus", "cassandra"):
        for t in TABLES:
            comps = srv[k]["disk"].get("tables", {}).get(t, {}).get("components", {})
            if comps:
                P(f"- {k} `{t}`: " + ", ".join(f"{c} {fmt(n)}" for c, n in
                                               sorted(comps.items(), key=lambda x: -x[1])))
    for t in TABLES:
        sec = srv["helenus"]["disk"].get("tables", {}).get(t, {}).get("helenus_sections")
        if sec:
            rows_t = sec["rows"] or 1
            parts = sec["partitions"] or 1
            P(f"- helenus `{t}` inside Data.db: data region (compressed row blocks) "
              f"{fmt(sec['data_region'])} ({sec['data_region'] / rows_t:.1f} B/row), index "
              f"section (statistics, chunk map, partition index) {fmt(sec['index_section'])} "
              f"({sec['index_section'] / parts:.1f} B/partition, {fmt(sec['partitions'])} "
              f"partitions), header + footer {fmt(sec['header_footer'])}")
    P("")
    P("## Timings\n")
    P("| | Helenus | Cassandra |")
    P("|---|---:|---:|")
    for t in TABLES:
        P(f"| load `{t}` (rows/s) | "
          + " | ".join(fmt(srv[k]["load"].get("tables", {}).get(t, {}).get("rows_per_s"))
                       for k in ("helenus", "cassandra")) + " |")
    for t in TABLES:
        P(f"| `SELECT count(*)` `{t}` (s) | "
          + " | ".join(str(srv[k]["count"].get(t, {}).get("seconds", "–"))
                       for k in ("helenus", "cassandra")) + " |")
    for key, label in (("flush_s", "flush (s)"), ("compact_s", "major compaction (s)"),
                       ("startup_s", "start-up (s)")):
        P(f"| {label} | " + " | ".join(str(srv[k]["server"].get(key, "–"))
                                       for k in ("helenus", "cassandra")) + " |")
    P("")
    notes = os.path.join(a.out, "notes.md")
    if os.path.exists(notes):
        P(open(notes).read())
    P("## Files\n")
    P("`json/` (machine, per server: load, count, verify, ids, disk with every file and its "
      "size, server timings), `tablestats/` (`helenus admin tablestats diskbench` and "
      "`nodetool tablestats diskbench` after compaction), `logs/`.")
    text = "\n".join(lines) + "\n"
    open(os.path.join(a.out, "report.md"), "w").write(text)
    # the table, on stdout
    start = text.index("| table |")
    print(text[start:text.index("\n\n", start)])


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--concurrency", type=int, default=128)
    p.add_argument("--json", required=True)
    p = sub.add_parser("count")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--json", required=True)
    p = sub.add_parser("verify")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sample", type=int, default=500)
    p.add_argument("--json", required=True)
    p = sub.add_parser("ids")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--json", required=True)
    p = sub.add_parser("measure")
    p.add_argument("--kind", choices=["helenus", "cassandra"], required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--json", required=True)
    p = sub.add_parser("report")
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    {"load": cmd_load, "count": cmd_count, "verify": cmd_verify, "ids": cmd_ids,
     "measure": cmd_measure, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
