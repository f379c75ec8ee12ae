#!/usr/bin/env bash
# run.sh — Feast (feast[cassandra] 0.67.0, its Cassandra online store,
# unchanged) on Helenus (release binary, 2 shards) and on Cassandra 5.0
# (bench/cassandra, stock settings), one after the other in the same run on
# the same machine. For each server: the feature repository of
# tests/integration/feast/feast_steps.py (entity driver, feature view
# driver_stats with 3 features, a parquet offline store of 2 rows per
# entity) is applied and materialised in one process, timed (entities/s and
# online-store rows/s: Feast writes one CQL row per entity and feature), then
# CALLS calls of get_online_features for PER_CALL random entities each are
# timed after 100 warm-up calls (p50/p99; every value returned is checked).
# Prints both and the ratios; writes bench/results/<UTC stamp>-feast/.
#
#   bench/feast/run.sh [ENTITIES (30000)] [CALLS (1000)] [PER_CALL (10)]
#   HELENUS_ONLY=1 bench/feast/run.sh ...   # skip the Cassandra peer
#   HELENUS_BIN=path/to/helenus bench/feast/run.sh ...  # default build/release
#
# Needs build/venv-feast (scripts/install-feast-deps.sh, run here) and, for
# the peer, bench/cassandra/setup.sh. Feast's client is Python on the same
# 2 cores as the server, so these are end-to-end client times: the
# materialisation figure is bounded by Feast's own per-row work as much as by
# the server. Servers listen on 127.0.0.1 only; both are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-30000}
CALLS=${2:-1000}
PER=${3:-10}
PY=build/venv-feast/bin/python
STEPS=tests/integration/feast/feast_steps.py
scripts/install-feast-deps.sh
HBIN=${HELENUS_BIN:-build/release/helenus}
if [ -z "${HELENUS_BIN:-}" ] && [ ! -x "$HBIN" ]; then ninja -C build/release helenus; fi
out=bench/results/$(date -u +%Y%m%d-%H%M%S)-feast
mkdir -p "$out"
run=$(mktemp -d /tmp/bench-feast.XXXXXX)
cleanup() {
  [ -n "${HPID:-}" ] && kill "$HPID" 2>/dev/null && wait "$HPID" 2>/dev/null || true
  [ -f "$run/cass/cassandra.pid" ] && bench/cassandra/stop.sh "$run/cass" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

measure() { # name port
  "$PY" - "$2" <<'PYEOF'
import sys
from cassandra.cluster import Cluster
c = Cluster(["127.0.0.1"], port=int(sys.argv[1]), protocol_version=4)
c.connect().execute("CREATE KEYSPACE IF NOT EXISTS feast_bench WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}")
c.shutdown()
PYEOF
  "$PY" "$STEPS" init "$run/repo-$1" --port "$2" --keyspace feast_bench --entities "$N" >/dev/null
  "$PY" "$STEPS" bench "$run/repo-$1" --entities "$N" --calls "$CALLS" --per-call "$PER" \
    2> "$run/$1.stderr" | tail -1 | tee "$out/$1.json"
  if grep -q "online store exception" "$run/$1.stderr"; then
    echo "Feast logged failed statements against $1:" >&2
    grep "online store exception" "$run/$1.stderr" | head >&2
    exit 1
  fi
}

HPORT=19352
"$HBIN" serve --data-dir "$run/helenus" --address 127.0.0.1 --port $HPORT --admin-port 0 \
  --shards 2 > "$run/helenus.log" 2>&1 &
HPID=$!
for _ in $(seq 100); do "$PY" bench/cassandra/cql_ready.py 127.0.0.1 $HPORT 2>/dev/null && break; sleep 0.1; done
echo "== Helenus ($HBIN)"
measure helenus $HPORT
kill "$HPID"; wait "$HPID" 2>/dev/null || true; HPID=

if [ -z "${HELENUS_ONLY:-}" ]; then
  bench/cassandra/setup.sh >/dev/null
  CPORT=19354
  bench/cassandra/start.sh "$run/cass" $CPORT >/dev/null
  echo "== Cassandra 5.0"
  measure cassandra $CPORT
  bench/cassandra/stop.sh "$run/cass" >/dev/null
fi
"$PY" - "$out" <<'PYEOF' | tee "$out/report.md"
import json, os, sys
out = sys.argv[1]
res = {n: json.load(open(os.path.join(out, n + ".json")))
       for n in ("helenus", "cassandra") if os.path.exists(os.path.join(out, n + ".json"))}
print("| server | entities | materialize s | entities/s | online rows/s | calls x entities "
      "| get_online_features p50 ms | p99 ms | wrong values |")
print("|---|---|---|---|---|---|---|---|---|")
for n, r in res.items():
    print("| %s | %d | %.1f | %.0f | %.0f | %d x %d | %.2f | %.2f | %d |" % (
        n, r["entities"], r["materialize_s"], r["materialize_entities_per_s"],
        r["materialize_rows_per_s"], r["calls"], r["per_call"], r["p50_ms"], r["p99_ms"],
        r["wrong_values"]))
if len(res) == 2:
    h, c = res["helenus"], res["cassandra"]
    print()
    print("Helenus / Cassandra: materialisation %.2fx (throughput), get_online_features "
          "p50 %.2fx, p99 %.2fx (Cassandra's latency / Helenus's)" % (
              h["materialize_rows_per_s"] / c["materialize_rows_per_s"],
              c["p50_ms"] / h["p50_ms"], c["p99_ms"] / h["p99_ms"]))
PYEOF
