#!/usr/bin/env bash
# bench/latency/run.sh [--duration S] [--helenus BIN] [--name NAME]
#
# Steady latency under write load (issue 11, point 5): for standard1-write
# and iot-write, one fresh single-shard Helenus (pinned to CPU 0, the load
# generator to CPU 1 when there are two), first the closed-loop peak (10 s),
# then open loop at 50% and at 80% of it for S seconds each (default 30;
# latency from the intended start, so stalls count in full), on the same
# server: flushes, segment rolls and compactions happen during the runs.
# Writes bench/results/<UTC stamp>-NAME/ with report.md (p50/p99/p99.9/max
# against the targets: p99 <= 5 ms and p99.9 <= 20 ms at 50%, three times
# that at 80%), latency-over-time.svg (the worst latency of each second) and
# the raw JSON. Bounded: every stress run has its duration, and no workload
# starts after LATENCY_BENCH_LIMIT (900) s.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=30; BIN=""; NAME=latency
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --helenus) BIN="$(realpath "$2")"; shift 2 ;;
    --name) NAME="$2"; shift 2 ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/release helenus helenus-stress >/dev/null
[ -n "$BIN" ] || BIN="$PWD/build/release/helenus"
STRESS="$PWD/build/release/helenus-stress"
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="bench/results/$STAMP-$NAME"
WORK=$(mktemp -d /tmp/helenus-latbench.XXXXXX)
mkdir -p "$OUT/json"
SRV_CPU=""; CLI_CPU=""
if [ "$(nproc)" -ge 2 ]; then SRV_CPU="taskset -c 0"; CLI_CPU="taskset -c 1"; fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PID=""
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT
run() {
  local w=$1
  local P; P=$(port)
  rm -rf "$WORK/data"
  $SRV_CPU "$BIN" serve --data-dir "$WORK/data" --port "$P" --admin-port -1 --shards 1 \
    > "$OUT/helenus-$w.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$OUT/helenus-$w.log" && break; sleep 0.1; done
  $CLI_CPU "$STRESS" --workload "$w" --port "$P" --duration 10 --warmup 2 \
    --json "$OUT/json/$w-peak.json" > "$OUT/json/$w-peak.txt"
  local peak
  peak=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"]["ops_per_s"])' \
    "$OUT/json/$w-peak.json")
  for f in 50 80; do
    local rate
    rate=$(python3 -c "print(int($peak * $f / 100))")
    $CLI_CPU "$STRESS" --workload "$w" --port "$P" --duration "$DURATION" --warmup 2 \
      --rate "$rate" --json "$OUT/json/$w-$f.json" > "$OUT/json/$w-$f.txt"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}
START=$(date +%s)
for w in standard1-write iot-write; do
  run "$w"
  if [ $(( $(date +%s) - START )) -gt "${LATENCY_BENCH_LIMIT:-900}" ]; then
    echo "latency bench: over LATENCY_BENCH_LIMIT, stopping" >&2; break
  fi
done
python3 bench/latency/report.py "$OUT" \
  --header "Run $STAMP UTC, $("$BIN" --version), commit $(git rev-parse --short HEAD), $(nproc) CPUs, server pinned: ${SRV_CPU:-no}. Command: \`bench/latency/run.sh --duration $DURATION\`."
echo "done: $OUT/report.md"
