"""loader_bench.py — helenus.loader's throughput on bench/dali's image table.

  loader_bench.py --port P [--procs K] [--epochs E] [--ranges R]
      [--fetch-size F] [--in-flight I] [--connections C] [--shuffle]
      [--transport wire|driver] [--unordered]

K processes (as K DataLoader workers: worker_id k of num_workers K) each
iterate TableLoader over dali.images (columns data, label) for E epochs
(set_epoch between them); the wall time runs from when every process has
connected (a barrier) until the last one is done. Prints one JSON line:
images, bytes, seconds, images_per_s, gbit_per_s and the settings. Every
epoch must yield exactly the table's row count with non-empty blobs, or
the run fails: a loader that drops rows does not get a figure.
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))


def work(a, k, barrier, out):
    from helenus.loader import TableLoader
    ld = TableLoader(["127.0.0.1"], a.port, "dali", "images", ["data", "label"],
                     ranges=a.ranges, worker_id=k, num_workers=a.procs,
                     fetch_size=a.fetch_size, in_flight=a.in_flight, shuffle=a.shuffle,
                     shuffle_buffer=a.shuffle_buffer, connections=a.connections,
                     transport=a.transport, ordered=not a.unordered)
    ld.session()  # connected before the clock starts
    barrier.wait()
    n = nbytes = 0
    for e in range(a.epochs):
        ld.set_epoch(e)
        for data, _label in ld:
            if not data:
                raise SystemExit("an empty image")
            n += 1
            nbytes += len(data)
    out.put((k, n, nbytes, time.time()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--ranges", type=int, default=64)
    ap.add_argument("--fetch-size", type=int, default=64)
    ap.add_argument("--in-flight", type=int, default=8)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--shuffle", action="store_true")
    ap.add_argument("--shuffle-buffer", type=int, default=2048)
    ap.add_argument("--transport", default="wire")
    ap.add_argument("--unordered", action="store_true")
    ap.add_argument("--expect", type=int, required=True, help="rows in the table")
    a = ap.parse_args()
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(a.procs + 1), ctx.Queue()
    ps = [ctx.Process(target=work, args=(a, k, barrier, out)) for k in range(a.procs)]
    for p in ps:
        p.start()
    barrier.wait(timeout=120)
    t0 = time.time()
    res = [out.get(timeout=1800) for _ in ps]
    for p in ps:
        p.join()
        if p.exitcode:
            raise SystemExit("a loader process failed (%s)" % p.exitcode)
    dt = max(r[3] for r in res) - t0
    n, nbytes = sum(r[1] for r in res), sum(r[2] for r in res)
    if n != a.expect * a.epochs:
        raise SystemExit("read %d rows, the table has %d x %d epochs" % (n, a.expect, a.epochs))
    print(json.dumps({"images": n, "bytes": nbytes, "seconds": round(dt, 4),
                      "images_per_s": round(n / dt, 1),
                      "gbit_per_s": round(nbytes * 8 / dt / 1e9, 4),
                      "procs": a.procs, "ranges": a.ranges, "fetch_size": a.fetch_size,
                      "in_flight": a.in_flight, "connections": a.connections,
                      "shuffle": a.shuffle, "transport": a.transport,
                      "ordered": not a.unordered,
                      "requests_in_flight": a.procs * a.in_flight}))


if __name__ == "__main__":
    main()
