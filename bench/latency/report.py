"""report.py DIR [--header TEXT] -- the report of bench/latency/run.sh.

Reads DIR/json/<workload>-{peak,50,80}.json (helenus-stress output) and
writes DIR/report.md (the latency table against issue 11's targets) and
DIR/latency-over-time.svg (for each open-loop run, the worst latency of
every second, log scale), with no dependency beyond the standard library.
"""
import argparse
import json
import math
import os

WORKLOADS = ["standard1-write", "iot-write"]
TARGETS = {"50": (5.0, 20.0), "80": (15.0, 60.0)}  # p99, p99.9 in ms


def load(d, w, f):
    p = os.path.join(d, "json", "%s-%s.json" % (w, f))
    if not os.path.exists(p):
        return None
    return json.load(open(p))["results"]


def svg(series, path):
    W, H, L, B = 900, 420, 70, 50
    tmax = max((len(s) for _, s in series), default=1)
    vals = [v for _, s in series for v in s if v > 0]
    lo, hi = 0.1, max(vals + [1.0]) * 1.5
    ly = lambda v: H - B - (math.log10(max(v, lo)) - math.log10(lo)) / (
        math.log10(hi) - math.log10(lo)) * (H - B - 20)
    lx = lambda t: L + t * (W - L - 20) / max(tmax - 1, 1)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="14">worst latency of each second (ms, log scale), open loop</text>' % L]
    for v in [0.1, 1, 5, 10, 20, 100, 1000]:
        if v > hi:
            continue
        y = ly(v)
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (L, W - 20, y, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (L - 5, y + 4, v))
    out.append('<text x="%d" y="%d">seconds</text>' % (W // 2, H - 10))
    for i, (name, s) in enumerate(series):
        pts = " ".join("%.1f,%.1f" % (lx(t), ly(v)) for t, v in enumerate(s))
        c = colors[i % len(colors)]
        out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (c, pts))
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (L + 10, 34 + 16 * i, c, name))
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--header", default="")
    a = ap.parse_args()
    rows, series = [], []
    for w in WORKLOADS:
        peak = load(a.dir, w, "peak")
        if not peak:
            continue
        for f in ["50", "80"]:
            r = load(a.dir, w, f)
            if not r:
                continue
            lat = r["latency_us"]
            p99, p999 = lat["p99"] / 1000, lat["p999"] / 1000
            t99, t999 = TARGETS[f]
            ok = p99 <= t99 and p999 <= t999
            rows.append("| %s | %d%% | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f | %.1f | %s |" % (
                w, int(f), peak["ops_per_s"], r["ops_per_s"], lat["p50"] / 1000, p99, p999,
                lat["max"] / 1000, r.get("max_schedule_lag_ms", 0), "met" if ok else
                "missed (target p99 <= %g, p99.9 <= %g)" % (t99, t999)))
            series.append(("%s at %s%%" % (w, f), [x.get("max_ms", 0) for x in r["timeline"]]))
    svg(series, os.path.join(a.dir, "latency-over-time.svg"))
    with open(os.path.join(a.dir, "report.md"), "w") as f:
        f.write("# Steady latency under write load (Helenus)\n\n%s\n\n" % a.header)
        f.write("Open loop: latency from each operation's intended start (a stall delays\n"
                "every operation scheduled behind it). ms unless said otherwise.\n\n")
        f.write("| workload | rate (of peak) | peak ops/s | ops/s | p50 | p99 | p99.9 | max |"
                " max schedule lag | targets |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
        f.write("\n".join(rows) + "\n\n![latency over time](latency-over-time.svg)\n")
    print(open(os.path.join(a.dir, "report.md")).read())


if __name__ == "__main__":
    main()
