"""gen_images.py — the image table of bench/dali, loaded into one server.

  gen_images.py --port P --n N --cache DIR [--seed S]

The first call makes N JPEG images into DIR (images.bin: each image as a
4-byte big-endian length and its bytes; ids.bin: the 16-byte UUIDs back to
back, which helenus-dali-bench reads; labels in labels.bin, one byte each),
so that every server of a run gets the same bytes. Images are 500x375 RGB
(ImageNet's most common size), a smooth random field with fine noise,
JPEG quality 90 (Pillow): about 100 KB each, ImageNet's average.
Then the table dali.images (id uuid PRIMARY KEY, label int, data blob), the
cassandra-dali-plugin examples' layout, is created on the server at P and
filled with prepared INSERTs, 32 in flight.
"""
import argparse
import io
import os
import struct
import uuid

import numpy as np
from PIL import Image


def make(cache, n, seed):
    os.makedirs(cache, exist_ok=True)
    if os.path.exists(os.path.join(cache, "done")):
        return
    rng = np.random.default_rng(seed)
    with open(os.path.join(cache, "images.bin"), "wb") as im, \
            open(os.path.join(cache, "ids.bin"), "wb") as ids, \
            open(os.path.join(cache, "labels.bin"), "wb") as lab:
        for i in range(n):
            low = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
            img = Image.fromarray(low).resize((500, 375), Image.BICUBIC)
            a = np.asarray(img, dtype=np.int16) + rng.normal(0, 10, (375, 500, 3))
            img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=90)
            b = buf.getvalue()
            im.write(struct.pack(">I", len(b)) + b)
            ids.write(uuid.UUID(bytes=rng.bytes(16), version=4).bytes)
            lab.write(bytes([i % 10]))
    open(os.path.join(cache, "done"), "w").close()


def samples(cache):
    ids = open(os.path.join(cache, "ids.bin"), "rb").read()
    labels = open(os.path.join(cache, "labels.bin"), "rb").read()
    with open(os.path.join(cache, "images.bin"), "rb") as f:
        for i in range(len(ids) // 16):
            (n,) = struct.unpack(">I", f.read(4))
            yield uuid.UUID(bytes=ids[16 * i:16 * i + 16]), labels[i], f.read(n)


def load(port, cache):
    from cassandra.cluster import Cluster
    from cassandra.concurrent import execute_concurrent_with_args
    s = Cluster(["127.0.0.1"], port=port, connect_timeout=30).connect()
    s.default_timeout = 120
    s.execute("CREATE KEYSPACE IF NOT EXISTS dali WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("CREATE TABLE IF NOT EXISTS dali.images (id uuid PRIMARY KEY, label int, data blob)")
    ins = s.prepare("INSERT INTO dali.images (id, label, data) VALUES (?, ?, ?)")
    batch, total, nbytes = [], 0, 0
    for u, lab, data in samples(cache):
        batch.append((u, lab, data))
        nbytes += len(data)
        if len(batch) == 500:
            execute_concurrent_with_args(s, ins, batch, concurrency=32, raise_on_first_error=True)
            total += len(batch)
            batch = []
    if batch:
        execute_concurrent_with_args(s, ins, batch, concurrency=32, raise_on_first_error=True)
        total += len(batch)
    print("loaded %d images, %.1f MB" % (total, nbytes / 1e6))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", required=True)
    a = ap.parse_args()
    make(a.cache, a.n, a.seed)
    load(a.port, a.cache)
