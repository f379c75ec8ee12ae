#!/usr/bin/env bash
# run.sh — the DALI Cassandra plugin's access pattern (helenus-dali-bench
# read: prepared `SELECT data, label FROM dali.images WHERE id = ?` by UUID,
# protocol v4, batches in flight as the plugin keeps them) against Helenus
# and Cassandra 5.0 in the same run, each directly and through a proxy that
# adds 25 ms each way (50 ms round trip: helenus-dali-bench proxy, as tc
# netem is not in this kernel). Two settings: the plugin's defaults (batch
# 128, prefetch_buffers 1, io_threads 2: 256 requests in flight) and a deep
# prefetch for long links (batch 512, prefetch 48: 25,088 in flight).
# Images: gen_images.py (N JPEGs, 500x375, the same bytes for both servers).
# Each measurement: the median of REPS runs of EPOCHS passes over the ids.
#
#   bench/dali/run.sh [N_IMAGES (5000)] [EPOCHS (4)] [REPS (3)]
#   HELENUS_ONLY=1 bench/dali/run.sh ...
#
# Writes bench/results/<UTC stamp>-dali/ (results.json, report.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-5000}
EPOCHS=${2:-4}
REPS=${3:-3}
VENV=build/dali-venv
if ! $VENV/bin/python -c 'import PIL, numpy, cassandra' 2>/dev/null; then
  python3 -m venv $VENV
  $VENV/bin/pip install -q -r bench/dali/requirements.txt
fi
ninja -C build/release helenus helenus-dali-bench >/dev/null
B=build/release
out=bench/results/$(date -u +%Y%m%d-%H%M%S)-dali
mkdir -p "$out"
run=$(mktemp -d /tmp/bench-dali.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$run/cass/cassandra.pid" ] && bench/cassandra/stop.sh "$run/cass" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
CACHE=build/dali-cache-$N
: > "$out/results.jsonl"

measure() { # server port
  local server=$1 port=$2 pport=$(( $2 + 1 ))
  $B/helenus-dali-bench proxy --listen $pport --target-port "$port" --delay-ms 25 \
    2> "$run/proxy-$server.log" &
  PIDS+=($!)
  sleep 0.3
  for link in direct delayed; do
    p=$port; [ $link = delayed ] && p=$pport
    for cfg in "default 128 1" "deep 512 48"; do
      set -- $cfg
      for r in $(seq "$REPS"); do
        $B/helenus-dali-bench read --port "$p" --ids "$CACHE/ids.bin" --batch-size "$2" \
          --prefetch "$3" --io-threads 2 --epochs "$EPOCHS" |
          sed "s/^{/{\"server\": \"$server\", \"link\": \"$link\", \"setting\": \"$1\", /" \
          >> "$out/results.jsonl"
      done
    done
  done
}

HPORT=19462
$B/helenus serve --data-dir "$run/helenus" --port $HPORT --admin-port 19464 --shards 2 \
  > "$run/helenus.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do $VENV/bin/python bench/cassandra/cql_ready.py 127.0.0.1 $HPORT 2>/dev/null && break; sleep 0.1; done
$VENV/bin/python bench/dali/gen_images.py --port $HPORT --n "$N" --cache "$CACHE"
$B/helenus admin -p 19464 flush >/dev/null
echo "== Helenus"
measure helenus $HPORT
kill "${PIDS[@]}" 2>/dev/null || true; PIDS=()

if [ -z "${HELENUS_ONLY:-}" ]; then
  bench/cassandra/setup.sh >/dev/null
  CPORT=19472
  bench/cassandra/start.sh "$run/cass" $CPORT >/dev/null
  $VENV/bin/python bench/dali/gen_images.py --port $CPORT --n "$N" --cache "$CACHE"
  bench/cassandra/nodetool.sh "$run/cass" flush dali >/dev/null
  echo "== Cassandra 5.0"
  measure cassandra $CPORT
  bench/cassandra/stop.sh "$run/cass" >/dev/null
fi
$VENV/bin/python - "$out" "$N" "$EPOCHS" <<'PYEOF' | tee "$out/report.md"
import json, statistics, sys
out, n, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(out + "/results.jsonl")]
med = {}
for r in rows:
    med.setdefault((r["server"], r["link"], r["setting"]), []).append(r)
print("DALI-plugin pattern: %d images (%.0f KB average), %d epochs per run, median of runs\n"
      % (n, rows[0]["bytes"] / rows[0]["images"] / 1e3, epochs))
print("| link | setting | in flight | server | images/s | Gb/s | batch p50 ms | batch p99 ms |")
print("|---|---|---|---|---|---|---|---|")
res = {}
for (server, link, setting), rs in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
    m = sorted(rs, key=lambda r: r["images_per_s"])[len(rs) // 2]
    res[(server, link, setting)] = m
    print("| %s | %s | %d | %s | %.0f | %.2f | %.1f | %.1f |" % (
        link, setting, m["in_flight"], server, m["images_per_s"], m["gbit_per_s"],
        m["batch_p50_ms"], m["batch_p99_ms"]))
json.dump({"|".join(k): v for k, v in res.items()}, open(out + "/results.json", "w"), indent=1)
ratios = [(l, s, res[("helenus", l, s)]["images_per_s"] / res[("cassandra", l, s)]["images_per_s"])
          for (srv, l, s) in res if srv == "helenus" and ("cassandra", l, s) in res]
if ratios:
    print()
    for l, s, x in ratios:
        print("Helenus / Cassandra, %s link, %s setting: %.2fx images/s" % (l, s, x))
PYEOF
