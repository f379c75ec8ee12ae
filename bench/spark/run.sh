#!/usr/bin/env bash
# run.sh — Spark through the Spark Cassandra Connector: a DataFrame of N rows
# written and the whole table scanned back (scan.py says exactly what), on
# Helenus (release binary, 2 shards) and on Cassandra 5.0 (bench/cassandra),
# one after the other in the same run on the same machine; prints both and
# the ratios, writes bench/results/<UTC stamp>-spark/.
#
#   bench/spark/run.sh [ROWS (default 1000000)] [REPS (default 3)]
#   HELENUS_ONLY=1 bench/spark/run.sh ...   # skip the Cassandra peer
#
# Needs build/venv with pyspark (scripts/install-deps.sh --test), the
# connector's jars (scripts/install-spark-deps.sh) and, for the peer,
# bench/cassandra/setup.sh. Servers listen on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROWS=${1:-1000000}
REPS=${2:-3}
PY=${PYTHON:-build/venv/bin/python}
scripts/install-spark-deps.sh
JARS=$(ls "$ROOT"/build/spark/jars/*.jar | paste -sd, -)
[ -x build/release/helenus ] || ninja -C build/release helenus
out=bench/results/$(date -u +%Y%m%d-%H%M%S)-spark
mkdir -p "$out"
run=$(mktemp -d /tmp/bench-spark.XXXXXX)
cleanup() {
  [ -n "${HPID:-}" ] && kill "$HPID" 2>/dev/null && wait "$HPID" 2>/dev/null || true
  [ -f "$run/cass/cassandra.pid" ] && bench/cassandra/stop.sh "$run/cass" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

HPORT=19342 HADMIN=19343
build/release/helenus serve --data-dir "$run/helenus" --port $HPORT --admin-port $HADMIN \
  --shards 2 > "$run/helenus.log" 2>&1 &
HPID=$!
for _ in $(seq 100); do "$PY" bench/cassandra/cql_ready.py 127.0.0.1 $HPORT 2>/dev/null && break; sleep 0.1; done
echo "== Helenus"
"$PY" bench/spark/scan.py --port $HPORT --rows "$ROWS" --reps "$REPS" --jars "$JARS" \
  --flush "build/release/helenus admin -p $HADMIN flush" | tail -1 | tee "$out/helenus.json"
kill "$HPID"; wait "$HPID" 2>/dev/null || true; HPID=

if [ -z "${HELENUS_ONLY:-}" ]; then
  bench/cassandra/setup.sh >/dev/null
  CPORT=19344
  bench/cassandra/start.sh "$run/cass" $CPORT >/dev/null
  echo "== Cassandra 5.0"
  "$PY" bench/spark/scan.py --port $CPORT --rows "$ROWS" --reps "$REPS" --jars "$JARS" \
    --flush "bench/cassandra/nodetool.sh $run/cass flush sb" | tail -1 | tee "$out/cassandra.json"
  bench/cassandra/stop.sh "$run/cass" >/dev/null
fi
"$PY" - "$out" <<'PYEOF' | tee "$out/report.md"
import json, os, sys
out = sys.argv[1]
res = {n: json.load(open(os.path.join(out, n + ".json")))
       for n in ("helenus", "cassandra") if os.path.exists(os.path.join(out, n + ".json"))}
print("| server | rows | write s | write rows/s | scan s (median) | scan rows/s | splits |")
print("|---|---|---|---|---|---|---|")
for n, r in res.items():
    print("| %s | %d | %.1f | %.0f | %.2f | %.0f | %d |" % (
        n, r["rows"], r["write_s"], r["rows"] / r["write_s"], r["scan_median_s"],
        r["rows"] / r["scan_median_s"], r["splits"]))
if len(res) == 2:
    h, c = res["helenus"], res["cassandra"]
    print()
    print("Helenus / Cassandra: write %.2fx, scan %.2fx (throughput ratios)" % (
        c["write_s"] / h["write_s"], c["scan_median_s"] / h["scan_median_s"]))
PYEOF
