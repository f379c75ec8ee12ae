"""Vector search with metadata filters: the CassIO / LangChain table.

Text chunks with embeddings in a `vector<float, n>` column, metadata in a
`map<text, text>`, both indexed with StorageAttachedIndex, and the query
CassIO sends: `WHERE metadata_s['topic'] = ? ORDER BY vector ANN OF ?
LIMIT k`, with `similarity_cosine` in the select list.

The embedding here is a toy one (words hashed into 64 dimensions, then
normalised) so that the script needs nothing but the driver; a real
application computes 384-d all-MiniLM-L6-v2 embeddings instead and
declares `vector<float, 384>` (tests/integration/test_ecosystem.py runs
that through CassIO and LangChain).

Run: ./scripts/serve.sh, then python examples/vector_search.py
"""

import hashlib
import math

from _connect import connect, keyspace

DIM = 64
DOCS = [
    ("bio", "cells divide by mitosis and meiosis"),
    ("bio", "enzymes speed up reactions in living cells"),
    ("bio", "dna carries the genetic code of cells"),
    ("space", "the moon orbits the earth every month"),
    ("space", "mars has two small moons"),
    ("space", "jupiter is the largest planet of the solar system"),
    ("food", "bread rises because yeast makes gas"),
    ("food", "pasta cooks in salted boiling water"),
]


def embed(text):
    v = [0.0] * DIM
    for w in text.lower().split():
        h = hashlib.sha256(w.encode()).digest()
        v[h[0] % DIM] += 1.0 if h[1] & 1 else -1.0
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


cluster, session, _ = connect(__doc__.splitlines()[0])
keyspace(session, "vectors")
session.execute("""
    CREATE TABLE IF NOT EXISTS vectors.chunks (
        row_id text PRIMARY KEY,
        body_blob text,
        metadata_s map<text, text>,
        vector vector<float, %d>)""" % DIM)
session.execute("CREATE CUSTOM INDEX IF NOT EXISTS chunks_vector ON vectors.chunks (vector) "
                "USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'cosine'}")
session.execute("CREATE CUSTOM INDEX IF NOT EXISTS chunks_meta ON vectors.chunks "
                "(entries(metadata_s)) USING 'StorageAttachedIndex'")

ins = session.prepare("INSERT INTO vectors.chunks (row_id, body_blob, metadata_s, vector) "
                      "VALUES (?, ?, ?, ?)")
for i, (topic, text) in enumerate(DOCS):
    session.execute(ins, ("doc%d" % i, text, {"topic": topic, "n": str(i)}, embed(text)))

ann = session.prepare("SELECT row_id, body_blob, similarity_cosine(vector, ?) AS score "
                      "FROM vectors.chunks ORDER BY vector ANN OF ? LIMIT ?")
q = embed(DOCS[4][1])
hits = list(session.execute(ann, (q, q, 3)))
assert hits[0].row_id == "doc4" and abs(hits[0].score - 1.0) < 1e-5, hits
assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1)), hits
print("vector_search: nearest to %r: %s" % (DOCS[4][1], [(h.row_id, round(h.score, 3))
                                                         for h in hits]))

filtered = session.prepare("SELECT row_id, metadata_s FROM vectors.chunks "
                           "WHERE metadata_s[?] = ? ORDER BY vector ANN OF ? LIMIT ?")
hits = list(session.execute(filtered, ("topic", "bio", embed("living cells"), 10)))
assert sorted(h.row_id for h in hits) == ["doc0", "doc1", "doc2"], hits
assert all(h.metadata_s["topic"] == "bio" for h in hits)
print("vector_search: topic = bio, nearest to 'living cells': %s" % [h.row_id for h in hits])

session.execute("DELETE FROM vectors.chunks WHERE row_id = 'doc1'")
hits = list(session.execute(filtered, ("topic", "bio", embed("living cells"), 10)))
assert sorted(h.row_id for h in hits) == ["doc0", "doc2"], hits
print("vector_search: a deleted chunk no longer comes back through the index")
print("vector_search: ok")
cluster.shutdown()
