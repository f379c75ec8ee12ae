"""Summarises the A/B runs of this directory (before: 04dd731, after: the
latency metrics commit): median ops/s and p99 per workload, and the ratio."""
import collections
import glob
import json
import statistics

res = collections.defaultdict(list)
for f in glob.glob("*.json"):
    v, rest = f.split("-", 1)
    w = rest.rsplit("-", 1)[0]
    r = json.load(open(f))["results"]
    res[(w, v)].append((r["ops_per_s"], r["latency_us"]["p99"]))
for w in ["standard1-write", "standard1-read", "feature-load", "feature-read"]:
    b, a = res[(w, "before")], res[(w, "after")]
    mb = statistics.median(x[0] for x in b)
    ma = statistics.median(x[0] for x in a)
    print("%-16s before %8.0f ops/s %-26s after %8.0f ops/s %-26s after/before %.3f   p99 us %6.0f -> %6.0f"
          % (w, mb, [round(x[0]) for x in sorted(b)], ma, [round(x[0]) for x in sorted(a)], ma / mb,
             statistics.median(x[1] for x in b), statistics.median(x[1] for x in a)))
