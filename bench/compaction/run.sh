#!/usr/bin/env bash
# bench/compaction/run.sh [--rows N] [--helenus BIN] [--name NAME]
#
# Write and read amplification of every compaction strategy on Helenus
# (bench/compaction/strategies.py says what is measured): one fresh
# single-shard server (memtables flushed every 1 MiB, compaction unthrottled),
# five strategies x two workloads (standard1, iot), then
# bench/results/<UTC stamp>-NAME/report.md with the table and the raw JSON.
# Bounded: the whole run is killed after COMPACTION_BENCH_LIMIT (1800) s.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=60000; BIN=""; NAME=compaction
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --helenus) BIN="$(realpath "$2")"; shift 2 ;;
    --name) NAME="$2"; shift 2 ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
if [ -z "$BIN" ]; then
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C build/release helenus >/dev/null
  BIN="$PWD/build/release/helenus"
fi
PY="${DISK_PYTHON:-build/disk-venv/bin/python}"
if ! "$PY" -c 'import cassandra' 2>/dev/null; then
  python3 -m venv build/disk-venv
  build/disk-venv/bin/pip install -q 'cassandra-driver==3.30.1'
  PY=build/disk-venv/bin/python
fi
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="bench/results/$STAMP-$NAME"
WORK=$(mktemp -d /tmp/helenus-cpbench.XXXXXX)
mkdir -p "$OUT"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port); A=$(port)
printf 'memtable_flush_threshold_bytes: 1MiB\ncompaction_throughput: 0\n' > "$WORK/helenus.yaml"
"$BIN" serve --data-dir "$WORK/data" --port "$P" --admin-port "$A" --shards 1 \
  --config "$WORK/helenus.yaml" > "$OUT/helenus.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for i in $(seq 100); do grep -q "listening on" "$OUT/helenus.log" && break; sleep 0.1; done
timeout "${COMPACTION_BENCH_LIMIT:-1800}" "$PY" bench/compaction/strategies.py --port "$P" \
  --admin-port "$A" --helenus "$BIN" --out "$OUT/json" --rows "$ROWS" | tee "$OUT/run.log"
{
  echo "# Compaction strategies: write and read amplification (Helenus)"
  echo
  echo "Run $STAMP UTC, $("$BIN" --version), commit $(git rev-parse --short HEAD),"
  echo "$(nproc) CPUs. $ROWS rows per table, one shard, memtables flushed every 1 MiB,"
  echo "compaction unthrottled. Command: \`bench/compaction/run.sh --rows $ROWS\`."
  echo
  echo "Write amplification = (bytes flushed + bytes written by compactions) / bytes"
  echo "flushed; sstables per read = sstables a partition read took rows from (after"
  echo "bloom filters), over 5 000 random point reads once compactions settled."
  echo
  cat "$OUT/json/table.md"
} > "$OUT/report.md"
echo "done: $OUT/report.md"
