"""Training-data loader: stream a table of image blobs into a training loop.

The access pattern of GPU training input pipelines (the DALI Cassandra
plugin's users): a table `(id uuid PRIMARY KEY, label int, data blob)`,
read once per epoch, split across data-parallel ranks and DataLoader
workers, shuffled, with many requests in flight, and resumable from a
checkpoint after a crash. `helenus.loader.TableLoader` (python/helenus,
`pip install ./python`) does this by token ranges; `torch_dataset()` wraps
it as a PyTorch IterableDataset when torch is installed.

The script writes 400 small fake images, reads them as 2 ranks x 2
workers and checks every image arrives exactly once, then stops a
shuffled epoch half way, resumes it from its checkpoint and checks the
rest arrives exactly once.

Run: ./scripts/serve.sh, pip install ./python, then
python examples/training_loader.py
"""

import hashlib
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from cassandra.concurrent import execute_concurrent_with_args  # noqa: E402
from helenus.loader import TableLoader  # noqa: E402

from _connect import connect, keyspace  # noqa: E402

N = 400
cluster, session, args = connect(__doc__.splitlines()[0])
keyspace(session, "training")
session.execute("CREATE TABLE IF NOT EXISTS training.images "
                "(id uuid PRIMARY KEY, label int, data blob)")
session.execute("TRUNCATE training.images")
ins = session.prepare("INSERT INTO training.images (id, label, data) VALUES (?, ?, ?)")
images = {uuid.uuid4(): os.urandom(1000 + 13 * i) for i in range(N)}
execute_concurrent_with_args(session, ins, [(u, i % 10, b) for i, (u, b) in
                                            enumerate(images.items())],
                             concurrency=64, raise_on_first_error=True)
digest = {u: hashlib.sha256(b).hexdigest() for u, b in images.items()}


def loader(**kw):
    return TableLoader([args.host], args.port, "training", "images", ["id", "label", "data"],
                       ranges=64, **kw)


# one epoch as 2 ranks x 2 DataLoader workers: every image exactly once
seen = []
for rank in range(2):
    for worker in range(2):
        ld = loader(rank=rank, world_size=2, worker_id=worker, num_workers=2)
        for id_, label, data in ld:
            assert hashlib.sha256(data).hexdigest() == digest[id_], id_
            seen.append(id_)
        ld.close()
assert sorted(seen) == sorted(images), (len(seen), len(set(seen)))
print("training_loader: 2 ranks x 2 workers read %d images, each once" % len(seen))

# a shuffled epoch stopped half way, resumed from its checkpoint
ld = loader(shuffle=True, shuffle_buffer=64, seed=7)
first = []
for id_, _, _ in ld:
    first.append(id_)
    if len(first) == N // 2:
        break
state = ld.state_dict()
ld.close()
ld = loader(shuffle=True, shuffle_buffer=64, seed=7)
ld.load_state_dict(state)
rest = [id_ for id_, _, _ in ld]
ld.close()
assert sorted(first + rest) == sorted(images), (len(first), len(rest))
print("training_loader: resumed after %d images, the other %d came once each"
      % (len(first), len(rest)))
print("training_loader: ok")
cluster.shutdown()
