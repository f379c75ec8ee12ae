"""summary.py DIR -- medians of the before/after runs of bench/ab/run.sh in DIR
(files {before,after}-WORKLOAD-ROUND.json): ops/s and p99 per workload, and
the after/before ratio of the medians."""
import collections
import glob
import json
import os
import statistics
import sys

res = collections.defaultdict(list)
for f in glob.glob(os.path.join(sys.argv[1], "*.json")):
    v, rest = os.path.basename(f).split("-", 1)
    w = rest.rsplit("-", 1)[0]
    r = json.load(open(f))["results"]
    res[(w, v)].append((r["ops_per_s"], r["latency_us"]["p99"]))
for w in sorted({w for w, _ in res}):
    b, a = res[(w, "before")], res[(w, "after")]
    if not a or not b:
        continue
    mb = statistics.median(x[0] for x in b)
    ma = statistics.median(x[0] for x in a)
    print("%-16s before %8.0f ops/s %-26s after %8.0f ops/s %-26s after/before %.3f   p99 us %6.0f -> %6.0f"
          % (w, mb, [round(x[0]) for x in sorted(b)], ma, [round(x[0]) for x in sorted(a)], ma / mb,
             statistics.median(x[1] for x in b), statistics.median(x[1] for x in a)))
