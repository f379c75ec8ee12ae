#!/usr/bin/env bash
# bench/vector/ab.sh BEFORE_VBENCH AFTER_VBENCH DATASET_DIR OUT_DIR [ROUNDS] [REPEAT]
#
# A before/after comparison of two helenus-vbench binaries (the embedded
# API's vector insert and ANN path) on one bench/vector data set: ROUNDS
# (default 7) rounds, each running BEFORE then AFTER on a fresh data
# directory, the query set REPEAT times over (default 10); alternating
# keeps the machine's drift out of the ratio. A BEFORE binary is built from
# an older commit in a worktree (git worktree add /tmp/before <sha>; copy
# today's src/tools/vbench.c there if the old one lacks --repeat). A data
# set is what bench/vector/dataset.py writes (bench/vector/run.sh shows
# how, --from-npy for the real embeddings). Writes OUT_DIR/runs.jsonl (one
# line per run, "build": before|after) and OUT_DIR/summary.txt: medians of
# insert/s, QPS, p50, p99 and recall, and after/before.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,14p' "$0"; exit 2; }
BEFORE=$(realpath "$1"); AFTER=$(realpath "$2"); DS=$(realpath "$3"); OUT=$4
ROUNDS=${5:-7}; REPEAT=${6:-10}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/helenus-vab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
: > "$OUT/runs.jsonl"
for round in $(seq "$ROUNDS"); do
  for v in before after; do
    bin=$BEFORE; [ $v = after ] && bin=$AFTER
    rm -rf "$WORK/db"
    "$bin" "$DS" "$WORK/db" --shards 1 --repeat "$REPEAT" 2>/dev/null |
      head -1 | sed "s/^{/{\"build\": \"$v\", \"round\": $round, /" >> "$OUT/runs.jsonl"
  done
done
python3 - "$OUT" <<'PY'
import json, os, statistics as st, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
keys = ("insert_per_s", "qps", "p50_ms", "p99_ms", "recall")
med = {v: {k: st.median(r[k] for r in rows if r["build"] == v) for k in keys}
       for v in ("before", "after")}
lines = ["%d rounds, n=%d, %d queries per run" % (
    len(rows) // 2, rows[0]["n"], rows[0]["nq"]),
    "%-12s %12s %12s %s" % ("median", "before", "after", "after/before")]
for k in keys:
    b, a = med["before"][k], med["after"][k]
    lines.append("%-12s %12.4g %12.4g %8.2f" % (k, b, a, a / b if b else 0))
open(os.path.join(out, "summary.txt"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
