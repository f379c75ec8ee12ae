"""pipeline.py — run by test_loader_dali.py in build/dali-venv-test: a real
NVIDIA DALI CPU pipeline fed from Helenus through helenus.loader.

  pipeline.py --port P --n N --batch B

1. makes N JPEGs with Pillow, image i of (32 + 8 (i % 5)) x (48 + 8 (i % 7))
   pixels, a colour gradient, and inserts them into dalitest.images
   (id uuid PRIMARY KEY, label int, data blob) with label = i;
2. reads the table back with helenus.loader.TableLoader (shuffled through
   a bounded buffer, 2 connections, the wire transport) in batches of B
   and feeds them to ``fn.external_source`` (batch mode, uint8 encoded
   images and int32 labels), decoded by ``fn.decoders.image(device="cpu")``;
3. prints one JSON line: every label decoded (each once), the decoded
   shape per label, the expected shape per label, batches run.
The test asserts on that; this script asserts nothing itself beyond DALI
raising on a bad image.
"""
import argparse
import io
import json
import os
import sys
import uuid

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "python"))


def shape_of(i):
    return (32 + 8 * (i % 5), 48 + 8 * (i % 7), 3)


def fill(port, n):
    from cassandra.cluster import Cluster
    from cassandra.concurrent import execute_concurrent_with_args
    s = Cluster(["127.0.0.1"], port=port, connect_timeout=15).connect()
    s.default_timeout = 30
    s.execute("CREATE KEYSPACE IF NOT EXISTS dalitest WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("DROP TABLE IF EXISTS dalitest.images")
    s.execute("CREATE TABLE dalitest.images (id uuid PRIMARY KEY, label int, data blob)")
    ins = s.prepare("INSERT INTO dalitest.images (id, label, data) VALUES (?, ?, ?)")
    rows = []
    for i in range(n):
        h, w, _ = shape_of(i)
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, (i * 37) % 256)], -1)
        buf = io.BytesIO()
        Image.fromarray(a.astype(np.uint8)).save(buf, format="JPEG", quality=90)
        rows.append((uuid.uuid4(), i, buf.getvalue()))
    execute_concurrent_with_args(s, ins, rows, concurrency=32, raise_on_first_error=True)
    s.cluster.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    fill(a.port, a.n)

    from nvidia.dali import fn, pipeline_def, types
    from helenus.loader import TableLoader

    ld = TableLoader(["127.0.0.1"], a.port, "dalitest", "images", ["data", "label"],
                     ranges=16, fetch_size=32, in_flight=4, shuffle=True, shuffle_buffer=64,
                     seed=1, transport="wire")

    def batches():
        jpegs, labels = [], []
        for data, label in ld:
            jpegs.append(np.frombuffer(data, dtype=np.uint8))
            labels.append(np.array([label], dtype=np.int32))
            if len(jpegs) == a.batch:
                yield jpegs, labels
                jpegs, labels = [], []
        if jpegs:
            yield jpegs, labels

    @pipeline_def(batch_size=a.batch, num_threads=2, device_id=None, prefetch_queue_depth=2)
    def pipe():
        jpegs, labels = fn.external_source(source=batches, num_outputs=2, batch=True,
                                           dtype=[types.UINT8, types.INT32])
        images = fn.decoders.image(jpegs, device="cpu", output_type=types.RGB)
        return images, labels

    p = pipe()
    p.build()
    shapes, order, nbatches = {}, [], 0
    while True:
        try:
            images, labels = p.run()
        except StopIteration:
            break
        nbatches += 1
        for k in range(len(labels)):
            lab = int(np.array(labels[k])[0])
            img = np.array(images[k])
            order.append(lab)
            shapes[lab] = list(img.shape)
            # the gradient survives decoding: red rises left to right
            assert img[:, -1, 0].mean() > img[:, 0, 0].mean() + 100, lab
    print(json.dumps({"labels": order, "shapes": {str(k): v for k, v in shapes.items()},
                      "expected": {str(i): list(shape_of(i)) for i in range(a.n)},
                      "batches": nbatches}))


if __name__ == "__main__":
    main()
