#!/usr/bin/env bash
# bench/vector/run.sh [--n N] [--nq Q] [--name NAME] [--from-npy FILE [--queries-npy FILE]]
#                     [--real N] [--repeat R] [--filters 1]
#
# --real N: N real all-MiniLM-L6-v2 embeddings of text chunks and 300
# held-out queries (embed_corpus.py, cached in build/vector-corpus; the
# first run embeds for minutes; it needs build/venv from
# scripts/install-deps.sh --test). --repeat R: each engine runs the query
# set R times over (steadier figures on a small set). --filters 1: also the
# CassIO-style filtered queries (10%, 1%, 0.1% of the rows) on every engine.
#
# Vector search in-process, side by side on one data set and machine:
# Helenus through its embedded API (helenus-vbench: CQL INSERTs and
# `ORDER BY v ANN OF ? LIMIT 10`, end to end) against hnswlib and FAISS
# (IndexHNSWFlat) called from Python, single-threaded, same graph
# parameters (M 16, ef_construction 128, ef 128). Writes
# bench/results/<UTC date>-<name>/ with the JSON of each engine and
# report.md (insert rate, QPS, p50/p99, recall@10, and the ratios to the
# libraries). The CQL comparison against Cassandra 5.0 is bench/run.sh's
# vector-load / vector-ann workloads.
#
# Installs what it needs: a Release build of helenus-vbench (cmake) and
# build/bench-venv with bench/vector/requirements.txt (pip).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N=100000; NQ=1000; NAME=vector-libs; NPY=""; QNPY=""; REPEAT=1; FILTERS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --n) N="$2"; shift 2 ;;
        --nq) NQ="$2"; shift 2 ;;
        --name) NAME="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --filters) FILTERS="$2"; shift 2 ;;
        --from-npy) NPY="$(realpath "$2")"; shift 2 ;;
        --queries-npy) QNPY="$(realpath "$2")"; shift 2 ;;
        --real) "$ROOT/build/venv/bin/python" "$ROOT/bench/vector/embed_corpus.py" "$ROOT/build/vector-corpus" --n "$2" --nq 300
                NPY="$ROOT/build/vector-corpus/base.npy"; QNPY="$ROOT/build/vector-corpus/query.npy"; shift 2 ;;
        *) echo "usage: $0 [--n N] [--nq Q] [--name NAME] [--from-npy FILE] [--queries-npy FILE] [--real N] [--repeat R] [--filters 1]" >&2; exit 2 ;;
    esac
done
VENV="$ROOT/build/bench-venv"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q -r "$ROOT/bench/vector/requirements.txt"
cmake -S "$ROOT" -B "$ROOT/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build/release" --target helenus-vbench >/dev/null
OUT="$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)-$NAME"
WORK="$(mktemp -d /tmp/helenus-vbench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
echo "vector bench: n=$N nq=$NQ, data in $WORK, results in $OUT" >&2
"$VENV/bin/python" "$ROOT/bench/vector/dataset.py" "$WORK/ds" --n "$N" --nq "$NQ" \
    ${NPY:+--from-npy "$NPY"} ${QNPY:+--queries-npy "$QNPY"}
cp "$WORK/ds/meta.json" "$OUT/dataset.json"
"$ROOT/build/release/helenus-vbench" "$WORK/ds" "$WORK/db" --shards 1 --repeat "$REPEAT" --filters "$FILTERS" | tee "$OUT/helenus.json"
"$VENV/bin/python" "$ROOT/bench/vector/libs.py" "$WORK/ds" --repeat "$REPEAT" --filters "$FILTERS" | tee "$OUT/libs.json"
"$VENV/bin/python" - "$OUT" <<'PY'
import json, os, platform, sys
out = sys.argv[1]
allrows = [json.loads(l) for f in ("helenus.json", "libs.json")
           for l in open(os.path.join(out, f)) if l.strip()]
rows = [r for r in allrows if "filter" not in r and "qps" in r]
disk = [r["disk_mb"] for r in allrows if "disk_mb" in r]
frows = [r for r in allrows if "filter" in r]
ds = json.load(open(os.path.join(out, "dataset.json")))
h = rows[0]
lines = ["# Vector search in-process: Helenus (embedded API) vs hnswlib and FAISS", "",
         "Data set: n=%d, dim=%d, %d queries (%d runs of the set), k=%d (%s). One thread "
         "each; graph M 16, ef_construction 128, ef 128. Machine: %s, %d CPUs." % (
             ds["n"], ds["dim"], ds["nq"], h["nq"] // ds["nq"], ds["k"], ds["source"],
             platform.machine(), os.cpu_count()), "",
         "| engine | insert/s | QPS | p50 ms | p99 ms | recall@%d | Helenus QPS ratio |" % ds["k"],
         "|---|---|---|---|---|---|---|"]
for r in rows:
    lines.append("| %s | %.0f | %.0f | %.3f | %.3f | %.4f | %.2f |" % (
        r["engine"], r["insert_per_s"], r["qps"], r["p50_ms"], r["p99_ms"], r["recall"],
        h["qps"] / r["qps"]))
if frows:
    lines += ["", "Filtered: `WHERE metadata_s['pX'] = 'y' ORDER BY v ANN OF ? LIMIT %d` on "
              "Helenus (an SAI index on entries(metadata_s); it picks an exact scan of the "
              "filter's rows or a filtered graph walk by their count), each library's own "
              "filter API on the others (hnswlib: a Python callable per candidate; FAISS: "
              "an IDSelectorBitmap), same ef; recall against the exact top %d of the rows "
              "that pass." % (ds["k"], ds["k"]), "",
              "| filter | engine | QPS | p50 ms | p99 ms | recall@%d | Helenus QPS ratio |"
              % ds["k"], "|---|---|---|---|---|---|---|"]
    for share in dict.fromkeys(r["filter"] for r in frows):
        fh = [r for r in frows if r["filter"] == share and r["engine"] == h["engine"]][0]
        for r in frows:
            if r["filter"] == share:
                lines.append("| %s | %s | %.0f | %.3f | %.3f | %.4f | %.2f |" % (
                    share, r["engine"], r["qps"], r["p50_ms"], r["p99_ms"], r["recall"],
                    fh["qps"] / r["qps"]))
lines += ["", "Helenus's figures are end to end through CQL text (parse, plan, shard hop, "
          "graph search, the check of every candidate against storage, result rows); its "
          "insert/s includes the commitlog and memtable. Peak RSS of helenus-vbench: %.0f MB%s."
          % (h.get("peak_rss_mb", 0),
             "; its data directory after a clean stop: %.0f MB (the rows, the index "
             "snapshot)" % disk[0] if disk else "")]
open(os.path.join(out, "report.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
