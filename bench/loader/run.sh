#!/usr/bin/env bash
# run.sh — helenus.loader (python/helenus/loader.py: token-range scans,
# many in flight) against the DALI plugin's access pattern
# (helenus-dali-bench read: one prepared SELECT by UUID per image) on the
# same data and the same Helenus server, directly and through the 50 ms
# round-trip proxy (helenus-dali-bench proxy, 25 ms each way), as
# bench/dali/run.sh measures it. The image table is bench/dali's
# (gen_images.py: N JPEGs of 500x375, dali.images), flushed before reading.
#
# Settings, each run REPS times, interleaved (the machine is shared: a
# neighbour's load then hits every setting alike), median reported:
#   dali default   batch 128, prefetch 1, io_threads 2 (256 requests in flight)
#   dali deep      batch 512, prefetch 48 (25,088 in flight)
#   loader 1w      1 process, 128 ranges, pages of 32, 16 ranges in flight
#   loader 2w      2 processes (as 2 DataLoader workers), each as 1w
#   loader deep    1 process, 128 ranges, pages of 64, all 128 ranges in flight
#                  (the whole table requested at once, as dali deep does)
# The loader runs use the wire transport over one connection per process,
# unordered page taking, no
# shuffle (the DALI pattern reads ids in file order), and count every row
# of every epoch or fail. Then the same on Cassandra 5.0 (bench/cassandra),
# unless HELENUS_ONLY is set.
#
#   bench/loader/run.sh [N_IMAGES (5000)] [EPOCHS (4)] [REPS (3)]
#   HELENUS_ONLY=1 bench/loader/run.sh ...
#
# Writes bench/results/<UTC stamp>-loader/ (results.jsonl, results.json, report.md).
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
PY=$VENV/bin/python
export OPENBLAS_NUM_THREADS=1 # numpy (imported by the driver) must not spin BLAS threads
out=bench/results/$(date -u +%Y%m%d-%H%M%S)-loader
mkdir -p "$out"
run=$(mktemp -d /tmp/bench-loader.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$run/cass/cassandra.pid" ] && bench/cassandra/stop.sh "$run/cass" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
CACHE=build/dali-cache-$N
: > "$out/results.jsonl"

tag() { sed "s/^{/{\"server\": \"$1\", \"link\": \"$2\", \"setting\": \"$3\", /" >> "$out/results.jsonl"; }
measure() { # server port: every setting, both links, REPS times interleaved
  local server=$1 port=$2 pport=$(( $2 + 1 ))
  $B/helenus-dali-bench proxy --listen $pport --target-port "$port" --delay-ms 25 \
    2> "$run/proxy-$server.log" &
  PIDS+=($!)
  sleep 0.3
  for r in $(seq "$REPS"); do
    for link in direct delayed; do
      p=$port; [ $link = delayed ] && p=$pport
      echo "== $server, rep $r, $link"
      for cfg in "dali-default 128 1" "dali-deep 512 48"; do
        set -- $cfg
        $B/helenus-dali-bench read --port $p --ids "$CACHE/ids.bin" --batch-size "$2" \
          --prefetch "$3" --io-threads 2 --epochs "$EPOCHS" | tag "$server" $link "$1"
      done
      for cfg in "loader-1w 1 128 32 16" "loader-2w 2 128 32 16" "loader-deep 1 128 64 128"; do
        set -- $cfg
        $PY bench/loader/loader_bench.py --port $p --expect "$N" --epochs "$EPOCHS" --procs "$2" \
          --ranges "$3" --fetch-size "$4" --in-flight "$5" --unordered | tag "$server" $link "$1"
      done
    done
  done
}

HPORT=19482
$B/helenus serve --data-dir "$run/helenus" --port $HPORT --admin-port 19484 --shards 2 \
  > "$run/helenus.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do $PY bench/cassandra/cql_ready.py 127.0.0.1 $HPORT 2>/dev/null && break; sleep 0.1; done
$PY bench/dali/gen_images.py --port $HPORT --n "$N" --cache "$CACHE"
$B/helenus admin -p 19484 flush >/dev/null
measure helenus $HPORT
kill "${PIDS[@]}" 2>/dev/null || true; PIDS=()

if [ -z "${HELENUS_ONLY:-}" ]; then
  bench/cassandra/setup.sh >/dev/null
  CPORT=19492
  bench/cassandra/start.sh "$run/cass" $CPORT >/dev/null
  $PY bench/dali/gen_images.py --port $CPORT --n "$N" --cache "$CACHE"
  bench/cassandra/nodetool.sh "$run/cass" flush dali >/dev/null
  measure cassandra $CPORT
  bench/cassandra/stop.sh "$run/cass" >/dev/null
fi

$PY - "$out" "$N" "$EPOCHS" <<'PYEOF' | tee "$out/report.md"
import json, sys
out, n, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(out + "/results.jsonl")]
by = {}
for r in rows:
    by.setdefault((r["server"], r["link"], r["setting"]), []).append(r)
print("helenus.loader vs the DALI-plugin pattern: %d images (%.0f KB average), "
      "%d epochs per run, median of %d runs\n"
      % (n, rows[0]["bytes"] / rows[0]["images"] / 1e3, epochs, len(by[next(iter(by))])))
print("| server | link | setting | requests in flight | images/s | Gb/s | runs (images/s) |")
print("|---|---|---|---|---|---|---|")
res = {}
for (server, link, setting), rs in by.items():
    m = sorted(rs, key=lambda r: r["images_per_s"])[len(rs) // 2]
    res["%s|%s|%s" % (server, link, setting)] = m
    fl = m.get("requests_in_flight", m.get("in_flight"))
    print("| %s | %s | %s | %s | %.0f | %.2f | %s |" % (
        server, link, setting, fl, m["images_per_s"], m["gbit_per_s"],
        ", ".join("%.0f" % r["images_per_s"] for r in rs)))
json.dump(res, open(out + "/results.json", "w"), indent=1)
print()
for server in sorted({k[0] for k in by}):
    for link in ("direct", "delayed"):
        pre = "%s|%s|" % (server, link)
        best = max((v for k, v in res.items() if k.startswith(pre + "loader")),
                   key=lambda v: v["images_per_s"])
        for d in ("dali-default", "dali-deep"):
            v = res.get(pre + d)
            if v:
                print("%s, %s link: best loader setting / %s: %.2fx images/s"
                      % (server, link, d, best["images_per_s"] / v["images_per_s"]))
PYEOF
