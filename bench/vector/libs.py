#!/usr/bin/env python3
"""libs.py DATASET_DIR [--m 16] [--efc 128] [--ef 128] [--repeat R] [--filters 1]

The in-process peers of bench/vector on the same data set and machine:
hnswlib and FAISS (IndexHNSWFlat, inner product on the unit vectors =
cosine), both single-threaded, built with the same graph parameters as
Helenus's index (M 16, ef_construction 128) and searched with the same
candidate list (ef 128), one query per call as an application asks. Prints
one JSON object per library: build time and rate, QPS, p50/p99 latency,
recall@k against the exact neighbours in gt.i32. --repeat R runs the query
set R times over (as helenus-vbench --repeat), for a steadier figure on a
small set.

--filters 1: then the filtered queries of helenus-vbench --filters, on the
same indexes: rows whose id % 10, % 100, % 1000 is 0 (10%, 1%, 0.1% of
them), the first 200 queries each, through each library's own filter API
(hnswlib: knn_query(filter=...), a Python callable per candidate; FAISS:
SearchParametersHNSW with an IDSelectorBitmap), at the same ef. Recall
against the exact top k of the rows that pass. One JSON line per library
and share, "filter" naming the share.
"""
import argparse
import json
import os
import time

import numpy as np


def load(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    n, nq, dim, k = meta["n"], meta["nq"], meta["dim"], meta["k"]
    base = np.fromfile(os.path.join(d, "base.f32"), dtype="<f4").reshape(n, dim)
    q = np.fromfile(os.path.join(d, "query.f32"), dtype="<f4").reshape(nq, dim)
    gt = np.fromfile(os.path.join(d, "gt.i32"), dtype="<i4").reshape(nq, k)
    return meta, base, q, gt


def measure(name, build, search, base, q, gt, k, repeat=1):
    t0 = time.perf_counter()
    build(base)
    build_s = time.perf_counter() - t0
    lat, found = [], 0
    t1 = time.perf_counter()
    for r in range(len(q) * repeat):
        i = r % len(q)
        a = time.perf_counter()
        ids = search(q[i:i + 1], k)
        lat.append(time.perf_counter() - a)
        found += len(set(int(x) for x in ids) & set(int(x) for x in gt[i]))
    total = time.perf_counter() - t1
    lat.sort()
    nrun = len(q) * repeat
    return {"engine": name, "n": len(base), "nq": nrun, "k": k, "build_s": round(build_s, 3),
            "insert_per_s": round(len(base) / build_s, 1), "qps": round(nrun / total, 1),
            "p50_ms": round(lat[len(lat) // 2] * 1e3, 3),
            "p99_ms": round(lat[(len(lat) * 99) // 100] * 1e3, 3),
            "recall": round(found / (nrun * k), 4)}


SHARES = (("10%", 10), ("1%", 100), ("0.1%", 1000))


def filtered(name, search_in, base, q, k, repeat):
    """search_in(v, k, mod) -> ids; one JSON line per share."""
    nq = min(len(q), 200)
    for share, mod in SHARES:
        ids = np.arange(0, len(base), mod)
        sims = q[:nq] @ base[ids].T
        top = min(k, len(ids))
        gt = [set(int(x) for x in ids[np.argsort(-sims[i])[:top]]) for i in range(nq)]
        lat, found = [], 0
        t1 = time.perf_counter()
        for r in range(nq * repeat):
            i = r % nq
            a = time.perf_counter()
            got = search_in(q[i:i + 1], top, mod)  # hnswlib refuses a k above the rows that pass
            lat.append(time.perf_counter() - a)
            found += len(set(int(x) for x in got if x >= 0) & gt[i])
        total = time.perf_counter() - t1
        lat.sort()
        n = nq * repeat
        print(json.dumps({"engine": name, "filter": share, "nq": n,
                          "qps": round(n / total, 1),
                          "p50_ms": round(lat[n // 2] * 1e3, 3),
                          "p99_ms": round(lat[(n * 99) // 100] * 1e3, 3),
                          "recall": round(found / (n * top), 4)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=128)
    ap.add_argument("--ef", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--filters", type=int, default=0)
    a = ap.parse_args()
    meta, base, q, gt = load(a.dataset)
    k = meta["k"]

    import hnswlib
    idx = {}

    def hb(b):
        p = hnswlib.Index(space="cosine", dim=b.shape[1])
        p.init_index(max_elements=len(b), M=a.m, ef_construction=a.efc)
        p.set_num_threads(1)
        p.add_items(b, np.arange(len(b)))
        p.set_ef(a.ef)
        idx["h"] = p

    def hs(v, kk):
        return idx["h"].knn_query(v, k=kk)[0][0]

    hname = "hnswlib " + hnswlib.__version__ if hasattr(hnswlib, "__version__") else "hnswlib"
    print(json.dumps(measure(hname, hb, hs, base, q, gt, k, a.repeat)), flush=True)
    if a.filters:
        filtered(hname, lambda v, kk, mod: idx["h"].knn_query(
            v, k=kk, filter=lambda i: i % mod == 0)[0][0], base, q, k, a.repeat)

    import faiss
    faiss.omp_set_num_threads(1)

    def fb(b):
        f = faiss.IndexHNSWFlat(b.shape[1], a.m, faiss.METRIC_INNER_PRODUCT)
        f.hnsw.efConstruction = a.efc
        f.add(b)
        f.hnsw.efSearch = a.ef
        idx["f"] = f

    def fs(v, kk):
        return idx["f"].search(v, kk)[1][0]

    print(json.dumps(measure("faiss " + faiss.__version__, fb, fs, base, q, gt, k, a.repeat)), flush=True)
    if a.filters:
        sels = {}
        for _, mod in SHARES:
            bits = np.zeros((len(base) + 7) // 8, dtype=np.uint8)
            ids = np.arange(0, len(base), mod)
            np.bitwise_or.at(bits, ids >> 3, (1 << (ids & 7)).astype(np.uint8))
            sel = faiss.IDSelectorBitmap(len(base), faiss.swig_ptr(bits))
            sels[mod] = (bits, sel, faiss.SearchParametersHNSW(sel=sel, efSearch=a.ef))

        def fsf(v, kk, mod):
            return idx["f"].search(v, kk, params=sels[mod][2])[1][0]

        filtered("faiss " + faiss.__version__, fsf, base, q, k, a.repeat)


if __name__ == "__main__":
    main()
