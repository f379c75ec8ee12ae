#!/usr/bin/env python3
"""dataset.py OUT_DIR [--n N] [--nq Q] [--dim D] [--k K] [--seed S] [--from-npy FILE]
                  [--queries-npy FILE]

Writes a vector data set for bench/vector: meta.json, base.f32 (n x dim
little-endian float32), query.f32 (nq x dim), gt.i32 (nq x k: the exact k
nearest base vectors of each query by cosine, computed by brute force).

Without --from-npy the vectors are synthetic ("SIFT-like generator"):
unit vectors around 2,000 Gaussian centres with per-point noise, the way
sentence embeddings cluster by topic; a real embedding set (an .npy of
shape (m, dim), e.g. written by tests/integration/embeddings.py) can be
given instead, then the first n rows are the base and queries are drawn
around random base points.
"""
import argparse
import json
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--from-npy")
    ap.add_argument("--queries-npy", help="held-out real queries (embed_corpus.py's query.npy)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    if a.from_npy:
        real = np.load(a.from_npy).astype(np.float32)
        base = real[: a.n]
        a.n, a.dim = base.shape
        if a.queries_npy:
            q = np.load(a.queries_npy).astype(np.float32)[: a.nq]
            a.nq = len(q)
            source = "%s, held-out queries %s" % (a.from_npy, os.path.basename(a.queries_npy))
        else:
            pick = base[rng.integers(0, a.n, a.nq)]
            q = pick + rng.normal(0, 0.05, pick.shape).astype(np.float32)
            source = os.path.basename(a.from_npy)
    else:
        centres = rng.normal(0, 1, (2000, a.dim)).astype(np.float32)
        base = centres[rng.integers(0, 2000, a.n)] + rng.normal(0, 0.7, (a.n, a.dim)).astype(np.float32)
        q = centres[rng.integers(0, 2000, a.nq)] + rng.normal(0, 0.7, (a.nq, a.dim)).astype(np.float32)
        source = "synthetic: 2000 Gaussian centres, noise 0.7, seed %d" % a.seed
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    gt = np.empty((a.nq, a.k), dtype=np.int32)
    for i in range(0, a.nq, 100):
        sims = q[i:i + 100] @ base.T
        top = np.argpartition(-sims, a.k, axis=1)[:, : a.k]
        order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
        gt[i:i + 100] = np.take_along_axis(top, order, axis=1)
    os.makedirs(a.out, exist_ok=True)
    base.astype("<f4").tofile(os.path.join(a.out, "base.f32"))
    q.astype("<f4").tofile(os.path.join(a.out, "query.f32"))
    gt.astype("<i4").tofile(os.path.join(a.out, "gt.i32"))
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump({"n": a.n, "nq": a.nq, "dim": a.dim, "k": a.k, "source": source}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
