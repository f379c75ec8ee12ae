"""Feast's side of tests/integration/test_feast.py and bench/feast: run with
build/venv-feast's python (Feast 0.67.0 with its Cassandra online store, from
tests/integration/feast/requirements.txt), never with build/venv's.

Subcommands (each prints one JSON object as its last stdout line):
  init REPO --port P --keyspace KS --entities N
      writes a feature repository into REPO: feature_store.yaml (online store
      `type: cassandra` on 127.0.0.1:P, keyspace KS, which the caller
      creates, with --username/--password if given; offline store `type: file`; a local registry file), the
      definitions (repo.py: entity `driver`, feature view `driver_stats`
      over a parquet FileSource) and data/driver_stats.parquet;
  read REPO --entities N [--batch B]
      get_online_features for every entity 1..N in batches of B, plus a
      batch of ids that were never written, compared value by value with
      what `expected` says; prints the counts, the first mismatches and the
      online store's entity_key for a sample of ids (for the caller's CQL
      check);
  bench REPO --entities N [--calls C] [--per-call K]
      in one process: materialize timed (rows/s), then C calls of
      get_online_features for K random entities after a warm-up, p50/p99.

The data set is a pure function of the entity id (`expected`, `rows`): every
entity has an old row (2 days back) and a newer one (an hour back), both in
the parquet, and the online store must serve the newer one, so a
materialisation that picked the wrong row, or a store that returned another
entity's, fails the comparison. Invariants: nothing here is a mock, every
value read back is compared, the only network peer is the server on
127.0.0.1:P.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

# A fixed "now", so that repeated runs produce identical parquet files.
BASE = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
FEATURES = ("trips", "rating", "label")
PROJECT = "helenus_feast"
FV = "driver_stats"


def driver_id(i):
    return 100000 + i


def expected(i):
    """The values the online store must serve for entity i (the newer row)."""
    return {"trips": i * 7 + 3, "rating": i / 8.0 + 0.25, "label": "drv-%d-%x" % (i, i * 2654435761 % 2**32)}


def rows(n):
    """Both parquet rows of every entity: (id, event_ts, created, values)."""
    out = []
    for i in range(1, n + 1):
        out.append((driver_id(i), BASE - timedelta(days=2), BASE - timedelta(days=2),
                    {"trips": -i, "rating": -1.0, "label": "stale"}))
        ts = BASE - timedelta(hours=1) + timedelta(seconds=i % 600)
        out.append((driver_id(i), ts, ts, expected(i)))
    return out


YAML = """project: {project}
registry: data/registry.db
provider: local
online_store:
  type: cassandra
  hosts:
    - 127.0.0.1
  port: {port}
  keyspace: {keyspace}
  write_concurrency: {wc}
  read_concurrency: {rc}
{auth}offline_store:
  type: file
entity_key_serialization_version: 3
"""

REPO_PY = '''# Written by tests/integration/feast/feast_steps.py init: the definitions
# `feast apply` registers (entity driver, feature view driver_stats).
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String
from feast.value_type import ValueType

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)

source = FileSource(
    name="driver_stats_source",
    path="data/driver_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

driver_stats = FeatureView(
    name="{fv}",
    entities=[driver],
    ttl=timedelta(days=3650),
    schema=[Field(name="trips", dtype=Int64), Field(name="rating", dtype=Float64),
            Field(name="label", dtype=String)],
    online=True,
    source=source,
)
'''


def cmd_init(a):
    import pandas as pd

    os.makedirs(os.path.join(a.repo, "data"), exist_ok=True)
    with open(os.path.join(a.repo, "feature_store.yaml"), "w") as f:
        f.write(YAML.format(project=PROJECT, port=a.port, keyspace=a.keyspace,
                            wc=a.write_concurrency, rc=a.read_concurrency,
                            auth=("  username: %s\n  password: %s\n" % (a.username, a.password)
                                  if a.username else "")))
    with open(os.path.join(a.repo, "repo.py"), "w") as f:
        f.write(REPO_PY.replace("{fv}", FV))
    rs = rows(a.entities)
    df = pd.DataFrame({
        "driver_id": pd.Series([r[0] for r in rs], dtype="int64"),
        "event_timestamp": pd.to_datetime([r[1] for r in rs], utc=True),
        "created": pd.to_datetime([r[2] for r in rs], utc=True),
        "trips": pd.Series([r[3]["trips"] for r in rs], dtype="int64"),
        "rating": pd.Series([r[3]["rating"] for r in rs], dtype="float64"),
        "label": [r[3]["label"] for r in rs],
    })
    df.to_parquet(os.path.join(a.repo, "data", "driver_stats.parquet"), index=False)
    print(json.dumps({"repo": a.repo, "parquet_rows": len(df), "project": PROJECT,
                      "table": "%s_%s" % (PROJECT, FV),
                      "materialize_start": (BASE - timedelta(days=3)).isoformat(),
                      "materialize_end": (BASE + timedelta(minutes=1)).isoformat()}))


def entity_key_hex(i):
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    k = EntityKey(join_keys=["driver_id"], entity_values=[Value(int64_val=driver_id(i))])
    return serialize_entity_key(k, entity_key_serialization_version=3).hex()


def online(store, ids):
    refs = ["%s:%s" % (FV, f) for f in FEATURES]
    return store.get_online_features(
        features=refs, entity_rows=[{"driver_id": driver_id(i)} for i in ids]).to_dict()


def cmd_read(a):
    from feast import FeatureStore

    store = FeatureStore(repo_path=a.repo)
    checked, mismatches, missing_ok = 0, [], 0
    t0 = time.monotonic()
    ids = list(range(1, a.entities + 1))
    for s in range(0, len(ids), a.batch):
        batch = ids[s:s + a.batch]
        d = online(store, batch)
        if d["driver_id"] != [driver_id(i) for i in batch]:
            mismatches.append({"batch_start": batch[0], "driver_id": d["driver_id"][:5]})
            continue
        for j, i in enumerate(batch):
            want = expected(i)
            got = {f: d[f][j] for f in FEATURES}
            checked += 1
            if got != want:
                mismatches.append({"id": i, "want": want, "got": got})
    # entities that were never materialised come back as None, not as
    # someone else's features
    never = [a.entities + 1 + k for k in range(5)]
    d = online(store, never)
    for j in range(len(never)):
        if all(d[f][j] is None for f in FEATURES):
            missing_ok += 1
        else:
            mismatches.append({"id": never[j], "want": None, "got": {f: d[f][j] for f in FEATURES}})
    sample = sorted(set([1, 2, a.entities // 2, a.entities] +
                        random.Random(7).sample(ids, min(20, len(ids)))))
    print(json.dumps({"checked": checked, "mismatches": mismatches[:10],
                      "mismatch_count": len(mismatches), "missing_ok": missing_ok,
                      "read_s": time.monotonic() - t0,
                      "sample": {str(i): {"entity_key": entity_key_hex(i), "values": expected(i)}
                                 for i in sample}}))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def cmd_bench(a):
    import importlib.util

    from feast import FeatureStore

    store = FeatureStore(repo_path=a.repo)
    spec = importlib.util.spec_from_file_location("repo_defs", os.path.join(a.repo, "repo.py"))
    defs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(defs)
    t0 = time.monotonic()
    store.apply([defs.driver, defs.driver_stats])
    apply_s = time.monotonic() - t0
    t0 = time.monotonic()
    store.materialize(start_date=BASE - timedelta(days=3), end_date=BASE + timedelta(minutes=1))
    mat_s = time.monotonic() - t0
    rnd = random.Random(11)
    ids = list(range(1, a.entities + 1))
    bad = 0
    for _ in range(a.warmup):
        online(store, rnd.sample(ids, a.per_call))
    lat = []
    for _ in range(a.calls):
        batch = rnd.sample(ids, a.per_call)
        t = time.perf_counter()
        d = online(store, batch)
        lat.append(time.perf_counter() - t)
        for j, i in enumerate(batch):
            if {f: d[f][j] for f in FEATURES} != expected(i):
                bad += 1
    print(json.dumps({"entities": a.entities, "online_rows": a.entities * len(FEATURES),
                      "apply_s": apply_s, "materialize_s": mat_s,
                      "materialize_entities_per_s": a.entities / mat_s,
                      "materialize_rows_per_s": a.entities * len(FEATURES) / mat_s,
                      "calls": a.calls, "per_call": a.per_call, "wrong_values": bad,
                      "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
                      "mean_ms": sum(lat) / len(lat) * 1e3}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("init")
    i.add_argument("repo")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--keyspace", required=True)
    i.add_argument("--entities", type=int, required=True)
    i.add_argument("--write-concurrency", type=int, default=100)
    i.add_argument("--read-concurrency", type=int, default=100)
    i.add_argument("--username")
    i.add_argument("--password")
    r = sub.add_parser("read")
    r.add_argument("repo")
    r.add_argument("--entities", type=int, required=True)
    r.add_argument("--batch", type=int, default=100)
    b = sub.add_parser("bench")
    b.add_argument("repo")
    b.add_argument("--entities", type=int, required=True)
    b.add_argument("--calls", type=int, default=1000)
    b.add_argument("--per-call", type=int, default=10)
    b.add_argument("--warmup", type=int, default=100)
    a = p.parse_args()
    {"init": cmd_init, "read": cmd_read, "bench": cmd_bench}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
