#!/usr/bin/env bash
# bench/ab/run.sh BEFORE_BIN AFTER_BIN OUT_DIR [ROUNDS] [WORKLOADS]
#
# A hot-path before/after comparison of two helenus binaries on this
# machine: ROUNDS (default 3) rounds, each starting BEFORE then AFTER on a
# fresh 2-shard data directory and running every workload of WORKLOADS
# (default "standard1-write standard1-read feature-load feature-read") for
# 6 s closed loop after 1 s of warm-up; alternating keeps the machine's
# drift out of the ratio. Writes OUT_DIR/{before,after}-WORKLOAD-ROUND.json
# and OUT_DIR/summary.txt (bench/ab/summary.py: medians and after/before).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 3 ] || { sed -n '2,10p' "$0"; exit 2; }
BEFORE=$(realpath "$1"); AFTER=$(realpath "$2"); OUT=$3
ROUNDS=${4:-3}; WORKLOADS=${5:-"standard1-write standard1-read feature-load feature-read"}
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/release helenus-stress >/dev/null
STRESS="$PWD/build/release/helenus-stress"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/helenus-ab.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for round in $(seq "$ROUNDS"); do
  for v in before after; do
    bin=$BEFORE; [ $v = after ] && bin=$AFTER
    rm -rf "$WORK/data"
    "$bin" serve --data-dir "$WORK/data" --port "$PORT" --admin-port -1 --shards 2 > "$WORK/$v.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/$v.log" && break; sleep 0.1; done
    for w in $WORKLOADS; do
      "$STRESS" --workload "$w" --port "$PORT" --duration 6 --warmup 1 \
        --json "$OUT/$v-$w-$round.json" > "$OUT/$v-$w-$round.txt" 2>&1
    done
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  done
done
python3 bench/ab/summary.py "$OUT" | tee "$OUT/summary.txt"
