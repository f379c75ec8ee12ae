"""The Data API port (src/dataapi/, docs/ARCHITECTURE.md "The Data API"),
driven by astrapy unchanged (pinned in requirements.txt) the way it talks
to a self-hosted deployment: DataAPIClient(environment="hcd"), the
endpoint http://127.0.0.1:PORT, a UsernamePasswordTokenProvider token.

Covers the Data API seed's snippet (insert with $vector, find sorted by
$vector, limit 10), every command astrapy's Collection and Database use
for collections (create/list/drop, insert_one/insert_many, find/find_one
with the filter operators, update_one/update_many with $set/$unset/$inc/
$push, delete_one/delete_many, count_documents, find_one_and_update), the
Data API's error shape, and that the documents are rows of an ordinary
table readable from CQL.

astrapy is imported at module level on purpose: a venv without it fails
this file (collection error), it never skips.
"""

import json
import re
import struct
import time
import urllib.request

import pytest
from astrapy import DataAPIClient
from astrapy.authentication import UsernamePasswordTokenProvider
from astrapy.constants import ReturnDocument, VectorMetric
from astrapy.exceptions import DataAPIHttpException, DataAPIResponseException
from astrapy.info import CollectionDefinition
from cassandra.cluster import Cluster

from conftest import HelenusServer, data_api_port

KS = "dataapi_ks"


@pytest.fixture(scope="module")
def dapi(helenus_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("dataapi-server")
    s = HelenusServer(helenus_bin, str(base / "data"), str(base / "logs"), shards=2,
                      extra_args=["--data-api-port", "0"], name="dataapi")
    s.start()
    port = data_api_port(s)
    cluster = Cluster(["127.0.0.1"], port=s.port, connect_timeout=10)
    session = cluster.connect()
    session.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    yield s, port, session
    cluster.shutdown()
    was_alive = s.alive()
    rc = s.stop()
    s.check_sanitizers()
    assert was_alive and rc == 0, "Data API server: rc %r\n%s" % (rc, s.tail())


def database(port, keyspace=KS):
    client = DataAPIClient(environment="hcd")
    return client.get_database("http://127.0.0.1:%d" % port,
                               token=UsernamePasswordTokenProvider("cassandra", "cassandra"),
                               keyspace=keyspace)


def vector_collection(db, name, dim=3, metric=VectorMetric.COSINE):
    d = (CollectionDefinition.builder().with_vector_dimension(dim)
         .with_vector_metric(metric).build())
    return db.create_collection(name, definition=d)


def raw(port, path, body, token="x"):
    """One raw POST; returns (HTTP status, parsed JSON body)."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Token": token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ---------------------------------------------------------------------------


def test_seed_snippet_vector_search(dapi):
    """The Data API seed: insert documents with $vector, find sorted by
    $vector with limit 10, similarities in order."""
    _, port, _ = dapi
    db = database(port)
    coll = vector_collection(db, "seed_docs", dim=5)
    docs = []
    for i in range(40):
        v = [1.0, i / 10.0, (i % 7) / 7.0, 0.5, -0.25 * (i % 3)]
        docs.append({"_id": "doc%02d" % i, "text": "document %d" % i, "n": i, "$vector": v})
    res = coll.insert_many(docs)
    assert sorted(res.inserted_ids) == sorted(d["_id"] for d in docs)

    q = [1.0, 0.3, 0.4, 0.5, 0.0]
    hits = list(coll.find({}, sort={"$vector": q}, limit=10, include_similarity=True))
    assert len(hits) == 10
    sims = [h["$similarity"] for h in hits]
    assert sims == sorted(sims, reverse=True)

    def cosine(a, b):
        dot = sum(x * y for x, y in zip(a, b))
        na = sum(x * x for x in a) ** 0.5
        nb = sum(x * x for x in b) ** 0.5
        return (1 + dot / (na * nb)) / 2

    expected = sorted(docs, key=lambda d: -cosine(d["$vector"], q))[:10]
    assert [h["_id"] for h in hits] == [d["_id"] for d in expected]
    for h, d in zip(hits, expected):
        assert h["$similarity"] == pytest.approx(cosine(d["$vector"], q), abs=1e-5)
        assert h["text"] == d["text"]
        assert "$vector" not in h  # excluded unless projected

    # the vector comes back when projected; a filter is honoured
    # the same through the other self-hosted environments astrapy knows
    for env in ("other", "dse"):
        other = DataAPIClient(environment=env).get_database(
            "http://127.0.0.1:%d" % port, keyspace=KS,
            token=UsernamePasswordTokenProvider("cassandra", "cassandra"))
        again = other.get_collection("seed_docs").find({}, sort={"$vector": q}, limit=10)
        assert [h["_id"] for h in again] == [h["_id"] for h in hits]

    top = coll.find_one({"n": {"$gt": 30}}, sort={"$vector": q},
                        projection={"*": True}, include_similarity=True)
    best = max((d for d in docs if d["n"] > 30), key=lambda d: cosine(d["$vector"], q))
    assert top["_id"] == best["_id"]
    assert list(top["$vector"]) == pytest.approx(best["$vector"], abs=1e-6)


def test_collections_create_list_drop(dapi):
    _, port, _ = dapi
    db = database(port)
    vector_collection(db, "coll_a", dim=4, metric=VectorMetric.DOT_PRODUCT)
    db.create_collection("coll_plain")
    names = db.list_collection_names()
    assert "coll_a" in names and "coll_plain" in names
    descs = {c.name: c for c in db.list_collections()}
    assert descs["coll_a"].definition.vector.dimension == 4
    assert descs["coll_a"].definition.vector.metric == "dot_product"
    assert descs["coll_plain"].definition.vector is None
    # creating again with the same settings is fine, with others it is not
    vector_collection(db, "coll_a", dim=4, metric=VectorMetric.DOT_PRODUCT)
    with pytest.raises(DataAPIResponseException) as ei:
        vector_collection(db, "coll_a", dim=5)
    assert ei.value.error_descriptors[0].error_code == "EXISTING_COLLECTION_DIFFERENT_SETTINGS"
    db.drop_collection("coll_a")
    db.drop_collection("coll_plain")
    names = db.list_collection_names()
    assert "coll_a" not in names and "coll_plain" not in names


def test_insert_and_find_filters(dapi):
    _, port, _ = dapi
    db = database(port)
    coll = db.create_collection("people")
    r = coll.insert_one({"_id": "ada", "name": "Ada", "age": 36, "tags": ["math", "eng"],
                         "addr": {"city": "London"}})
    assert r.inserted_id == "ada"
    gen = coll.insert_one({"name": "Nameless"})  # a generated id
    assert isinstance(gen.inserted_id, str) and len(gen.inserted_id) == 36
    coll.insert_many([
        {"_id": "alan", "name": "Alan", "age": 41, "tags": ["math"], "addr": {"city": "Wilmslow"}},
        {"_id": "grace", "name": "Grace", "age": 85, "tags": ["navy", "eng"]},
        {"_id": "linus", "name": "Linus", "age": 28.5},
    ], ordered=True)
    with pytest.raises(Exception) as ei:
        coll.insert_one({"_id": "ada", "name": "again"})
    assert "DOCUMENT_ALREADY_EXISTS" in str(ei.value)

    def ids(flt, **kw):
        return sorted(d["_id"] for d in coll.find(flt, **kw))

    assert coll.find_one({"_id": "ada"})["addr"] == {"city": "London"}
    assert coll.find_one({"_id": "nobody"}) is None
    assert ids({"name": "Alan"}) == ["alan"]
    assert ids({"name": {"$eq": "Grace"}}) == ["grace"]
    assert ids({"tags": "eng"}) == ["ada", "grace"]  # an array holding the value
    assert ids({"addr.city": "London"}) == ["ada"]
    assert ids({"_id": {"$in": ["ada", "linus", "zz"]}}) == ["ada", "linus"]
    assert ids({"_id": {"$in": ["ada", "ada"]}}) == ["ada"]  # point reads, once each
    assert ids({"_id": {"$in": []}}) == []
    assert ids({"age": {"$gt": 36}}) == ["alan", "grace"]
    assert ids({"age": {"$gte": 36, "$lt": 85}}) == ["ada", "alan"]
    assert ids({"age": {"$lt": 30}}) == ["linus"]
    assert ids({"addr": {"$exists": True}}) == ["ada", "alan"]
    assert ids({"age": {"$exists": False}}) == [gen.inserted_id]
    assert ids({"$and": [{"tags": "math"}, {"age": {"$gt": 40}}]}) == ["alan"]
    assert ids({"$or": [{"name": "Linus"}, {"tags": "navy"}]}) == ["grace", "linus"]
    assert ids({"$or": [{"$and": [{"age": {"$gt": 30}}, {"tags": "eng"}]}, {"_id": "linus"}]}) \
        == ["ada", "grace", "linus"]
    assert ids({"name": {"$ne": "Ada"}, "age": {"$exists": True}}) == ["alan", "grace", "linus"]
    # projection and field sort
    d = coll.find_one({"_id": "alan"}, projection={"name": True})
    assert d == {"_id": "alan", "name": "Alan"}
    d = coll.find_one({"_id": "ada"}, projection={"tags": {"$slice": -1}, "addr": False})
    assert d == {"_id": "ada", "name": "Ada", "age": 36, "tags": ["eng"]}
    ages = [x["age"] for x in coll.find({"age": {"$exists": True}}, sort={"age": -1})]
    assert ages == [85, 41, 36, 28.5]
    assert coll.count_documents({}, upper_bound=100) == 5
    assert coll.count_documents({"tags": "math"}, upper_bound=100) == 2
    # a bad operator is the Data API's error
    with pytest.raises(DataAPIResponseException) as ei:
        coll.find_one({"age": {"$bogus": 1}})
    assert ei.value.error_descriptors[0].error_code == "UNSUPPORTED_FILTER_OPERATION"


def test_pagination_over_many_documents(dapi):
    _, port, _ = dapi
    db = database(port)
    coll = db.create_collection("many")
    coll.insert_many([{"_id": i, "i": i, "even": i % 2 == 0} for i in range(130)])
    assert sorted(d["_id"] for d in coll.find({})) == list(range(130))
    assert len(list(coll.find({"even": True}))) == 65
    assert len(list(coll.find({}, limit=25))) == 25
    assert len(list(coll.find({"even": False}, limit=33))) == 33
    # sorted finds page by offset over every match
    assert [d["i"] for d in coll.find({}, sort={"i": -1})] == list(range(129, -1, -1))
    assert [d["i"] for d in coll.find({"even": True}, sort={"i": 1}, skip=5, limit=30)] \
        == list(range(10, 70, 2))
    # the raw pages: 20 documents, then a page state until the end
    st, body = raw(port, "/v1/%s/many" % KS, {"find": {"filter": {"i": {"$gte": 0}}}})
    assert st == 200 and len(body["data"]["documents"]) == 20
    state = body["data"]["nextPageState"]
    seen = [d["_id"] for d in body["data"]["documents"]]
    while state:
        st, body = raw(port, "/v1/%s/many" % KS,
                       {"find": {"filter": {"i": {"$gte": 0}}, "options": {"pageState": state}}})
        seen += [d["_id"] for d in body["data"]["documents"]]
        state = body["data"]["nextPageState"]
    assert sorted(seen) == list(range(130)) and len(seen) == 130
    assert coll.count_documents({"i": {"$lt": 100}}, upper_bound=1000) == 100


def test_updates(dapi):
    _, port, _ = dapi
    db = database(port)
    coll = db.create_collection("counters")
    coll.insert_many([{"_id": "a", "n": 1, "grp": "x", "log": []},
                      {"_id": "b", "n": 5, "grp": "x", "drop": True},
                      {"_id": "c", "n": 9, "grp": "y"}])
    r = coll.update_one({"_id": "a"}, {"$inc": {"n": 10}, "$set": {"meta.seen": True},
                                       "$push": {"log": "first"}})
    assert r.update_info["n"] == 1 and r.update_info["nModified"] == 1
    assert coll.find_one({"_id": "a"}) == {"_id": "a", "n": 11, "grp": "x", "log": ["first"],
                                           "meta": {"seen": True}}
    coll.update_one({"_id": "a"}, {"$push": {"log": {"$each": ["2", "3"]}}})
    assert coll.find_one({"_id": "a"})["log"] == ["first", "2", "3"]
    r = coll.update_many({"grp": "x"}, {"$unset": {"drop": ""}, "$set": {"grp": "z"}})
    assert r.update_info["n"] == 2 and r.update_info["nModified"] == 2
    assert coll.count_documents({"grp": "z"}, upper_bound=10) == 2
    assert "drop" not in coll.find_one({"_id": "b"})
    # nothing matched: no change; with upsert: a new document from the filter
    r = coll.update_one({"_id": "none"}, {"$set": {"n": 0}})
    assert r.update_info["n"] == 0
    r = coll.update_one({"_id": "new", "grp": "w"}, {"$set": {"n": 3}}, upsert=True)
    assert r.update_info["upserted"] == "new"
    assert coll.find_one({"_id": "new"}) == {"_id": "new", "grp": "w", "n": 3}
    # find_one_and_update: the document before (default) or after
    before = coll.find_one_and_update({"_id": "c"}, {"$inc": {"n": 1}})
    assert before["n"] == 9
    after = coll.find_one_and_update({"_id": "c"}, {"$inc": {"n": 1}},
                                     return_document=ReturnDocument.AFTER,
                                     projection={"n": True})
    assert after == {"_id": "c", "n": 11}
    assert coll.find_one_and_update({"_id": "zzz"}, {"$set": {"n": 1}}) is None
    # _id cannot change
    with pytest.raises(DataAPIResponseException):
        coll.update_one({"_id": "c"}, {"$set": {"_id": "d"}})


def test_vector_updates_and_deletes(dapi):
    _, port, session = dapi
    db = database(port)
    coll = vector_collection(db, "vdel", dim=2, metric=VectorMetric.EUCLIDEAN)
    coll.insert_many([{"_id": i, "k": i % 3, "$vector": [float(i), 0.0]} for i in range(9)])
    hits = list(coll.find({}, sort={"$vector": [4.2, 0.0]}, limit=3, include_similarity=True))
    assert [h["_id"] for h in hits] == [4, 5, 3]
    assert hits[0]["$similarity"] == pytest.approx(1 / (1 + 0.2 ** 2), abs=1e-5)
    # a $vector moved by $set is found there
    coll.update_one({"_id": 0}, {"$set": {"$vector": [4.1, 0.0]}})
    assert coll.find_one({}, sort={"$vector": [4.1, 0.0]})["_id"] == 0
    # updates that do not name $vector keep it (only doc_json is written)
    coll.update_one({"_id": 5}, {"$set": {"x": 1}})
    coll.update_many({"k": 2}, {"$inc": {"c": 1}})
    d5 = coll.find_one({"_id": 5}, projection={"*": True})
    assert list(d5["$vector"]) == [5.0, 0.0] and d5["x"] == 1 and d5["c"] == 1
    assert list(coll.find_one({"_id": 8}, projection={"$vector": 1})["$vector"]) == [8.0, 0.0]
    after = coll.find_one_and_update({"_id": 2}, {"$set": {"y": 2}}, projection={"*": True},
                                     return_document=ReturnDocument.AFTER)
    assert list(after["$vector"]) == [2.0, 0.0] and after["y"] == 2
    # a replacement without $vector has none; $unset removes it
    coll.replace_one({"_id": 6}, {"k": 0, "replaced": True})
    assert "$vector" not in coll.find_one({"_id": 6}, projection={"*": True})
    assert coll.find_one({}, sort={"$vector": [6.0, 0.0]})["_id"] in (5, 7)
    coll.update_one({"_id": 8}, {"$unset": {"$vector": ""}})
    assert "$vector" not in coll.find_one({"_id": 8}, projection={"*": True})
    coll.update_one({"_id": 6}, {"$set": {"$vector": [6.0, 0.0]}})
    coll.update_one({"_id": 8}, {"$set": {"$vector": [8.0, 0.0]}})
    r = coll.delete_one({"_id": 4})
    assert r.deleted_count == 1
    assert coll.delete_one({"_id": 4}).deleted_count == 0
    r = coll.delete_many({"k": 1})
    assert r.deleted_count == 2  # 1 and 7 (4 is gone already)
    remaining = sorted(d["_id"] for d in coll.find({}))
    assert remaining == [0, 2, 3, 5, 6, 8]
    assert coll.count_documents({}, upper_bound=100) == 6
    # wrong dimension: the Data API's error
    with pytest.raises(DataAPIResponseException):
        coll.insert_one({"$vector": [1.0, 2.0, 3.0]})
    coll.delete_many({})
    assert coll.count_documents({}, upper_bound=100) == 0


def test_documents_are_cql_rows(dapi):
    _, port, session = dapi
    db = database(port)
    coll = vector_collection(db, "visible", dim=3)
    coll.insert_one({"_id": "k1", "title": "hello", "n": 7, "$vector": [0.25, 0.5, 1.0]})
    row = session.execute("SELECT key, doc_json, query_vector_value FROM %s.visible "
                          "WHERE key = %%s" % KS, ['"k1"']).one()
    assert row is not None
    assert json.loads(row.doc_json) == {"_id": "k1", "title": "hello", "n": 7}
    assert list(row.query_vector_value) == [0.25, 0.5, 1.0]
    # the table and its SAI vector index are ordinary schema
    idx = session.execute("SELECT options FROM system_schema.indexes WHERE keyspace_name = %s "
                          "AND table_name = 'visible'", [KS]).one()
    assert idx.options["class_name"] == "StorageAttachedIndex"
    assert idx.options["similarity_function"] == "cosine"
    # a row written from CQL is a document for the Data API
    session.execute("INSERT INTO %s.visible (key, doc_json, query_vector_value) "
                    "VALUES ('\"k2\"', '{\"_id\":\"k2\",\"title\":\"from cql\"}', "
                    "[1.0, 0.0, 0.0])" % KS)
    assert coll.find_one({"title": "from cql"})["_id"] == "k2"
    assert coll.find_one({}, sort={"$vector": [1.0, 0.0, 0.0]})["_id"] == "k2"
    # without an _id in doc_json (a plain key): the key is the _id, and
    # updates go back to that row
    session.execute("INSERT INTO %s.visible (key, doc_json) VALUES ('plain', '{\"v\":1}')" % KS)
    assert coll.find_one({"v": 1}) == {"_id": "plain", "v": 1}
    coll.update_one({"v": 1}, {"$set": {"v": 2}})
    row = session.execute("SELECT doc_json FROM %s.visible WHERE key = 'plain'" % KS).one()
    assert json.loads(row.doc_json) == {"_id": "plain", "v": 2}
    assert coll.count_documents({}, upper_bound=10) == 3


def test_error_shapes(dapi):
    _, port, _ = dapi
    db = database(port)
    with pytest.raises(DataAPIResponseException) as ei:
        db.get_collection("no_such_collection").find_one({})
    assert ei.value.error_descriptors[0].error_code == "COLLECTION_NOT_EXIST"
    # the raw shape: HTTP 200, {"errors": [{"message", "errorCode", ...}]}
    status, body = raw(port, "/v1/%s/no_such_collection" % KS, {"findOne": {}})
    assert status == 200
    assert body["errors"][0]["errorCode"] == "COLLECTION_NOT_EXIST"
    assert "no_such_collection" in body["errors"][0]["message"]
    assert body["errors"][0]["family"] == "REQUEST" and len(body["errors"][0]["id"]) == 36
    status, body = raw(port, "/v1/%s/x" % KS, {"findOne": {}}, token=None)
    assert status == 401 and body["errors"][0]["errorCode"] == "UNAUTHENTICATED_REQUEST"
    status, body = raw(port, "/v1/%s" % KS, {"noSuchCommand": {}})
    assert status == 200 and body["errors"][0]["errorCode"] == "NO_COMMAND_MATCHED"
    status, body = raw(port, "/v1/nokeyspace", {"findCollections": {}})
    assert body["errors"][0]["errorCode"] == "KEYSPACE_DOES_NOT_EXIST"
    with pytest.raises(DataAPIResponseException):
        database(port, keyspace="nokeyspace").create_collection("c")


def test_binary_vectors_as_astrapy_sends_them(dapi):
    """astrapy sends $vector as {"$binary": base64(big-endian float32)} by
    default; a raw list works too (checked through the raw port)."""
    _, port, _ = dapi
    db = database(port)
    vector_collection(db, "binvec", dim=2)
    b64 = __import__("base64").b64encode(struct.pack(">2f", 0.5, 0.25)).decode()
    st, body = raw(port, "/v1/%s/binvec" % KS,
                   {"insertOne": {"document": {"_id": "b", "$vector": {"$binary": b64}}}})
    assert st == 200 and body["status"]["insertedIds"] == ["b"], body
    st, body = raw(port, "/v1/%s/binvec" % KS,
                   {"find": {"sort": {"$vector": [0.5, 0.25]}, "projection": {"$vector": 1},
                             "options": {"includeSimilarity": True, "limit": 1}}})
    doc = body["data"]["documents"][0]
    assert doc["$vector"] == [0.5, 0.25] and doc["$similarity"] == pytest.approx(1.0)


def test_password_authentication(make_server, tmp_path):
    cfg = tmp_path / "auth.yaml"
    # the port from helenus.yaml this time (data_api_port), not the flag
    cfg.write_text("authenticator: PasswordAuthenticator\nauthorizer: CassandraAuthorizer\n"
                   "role_manager: CassandraRoleManager\ndata_api_port: 0\n")
    srv = make_server(config=str(cfg))
    port = data_api_port(srv)
    client = DataAPIClient(environment="hcd")
    good = client.get_database("http://127.0.0.1:%d" % port,
                               token=UsernamePasswordTokenProvider("cassandra", "cassandra"))
    good.get_database_admin().create_keyspace("authks")
    db = client.get_database("http://127.0.0.1:%d" % port, keyspace="authks",
                             token=UsernamePasswordTokenProvider("cassandra", "cassandra"))
    coll = db.create_collection("c")
    coll.insert_one({"_id": 1})
    assert coll.count_documents({}, upper_bound=10) == 1
    bad = client.get_database("http://127.0.0.1:%d" % port, keyspace="authks",
                              token=UsernamePasswordTokenProvider("cassandra", "wrong"))
    with pytest.raises(DataAPIHttpException):
        bad.get_collection("c").find_one({})


def test_concurrent_updates_lose_nothing(dapi):
    """Updates are conditional writes of the document read (IF doc_json =
    ...), retried on a conflict: concurrent $inc on one document add up."""
    from concurrent.futures import ThreadPoolExecutor
    _, port, _ = dapi
    db = database(port)
    coll = db.create_collection("contended")
    coll.insert_one({"_id": "c", "n": 0, "seen": []})

    def bump(i):
        try:
            coll.update_one({"_id": "c"}, {"$inc": {"n": 1}, "$push": {"seen": i}})
            return 1
        except DataAPIResponseException as e:
            assert e.error_descriptors[0].error_code == "CONCURRENCY_FAILURE", e
            return 0

    with ThreadPoolExecutor(max_workers=6) as ex:
        done = sum(ex.map(bump, range(60)))
    doc = coll.find_one({"_id": "c"})
    assert done > 0
    assert doc["n"] == done and len(doc["seen"]) == done
    # concurrent deletes of the same documents: each deleted once
    coll.insert_many([{"_id": "d%d" % i, "g": 1} for i in range(30)])
    with ThreadPoolExecutor(max_workers=4) as ex:
        counts = list(ex.map(lambda _: coll.delete_many({"g": 1}).deleted_count, range(4)))
    assert sum(counts) == 30


def test_replace_delete_and_more(dapi):
    """The rest of astrapy's Collection: replace_one, find_one_and_replace,
    find_one_and_delete, estimated_document_count, distinct (client side
    over find), insert_many unordered with a duplicate inside, and a CQL
    table that is not a collection."""
    from astrapy.exceptions import CollectionInsertManyException
    _, port, session = dapi
    db = database(port)
    coll = db.create_collection("misc")
    coll.insert_many([{"_id": i, "c": "red" if i % 2 else "blue", "n": i} for i in range(6)])
    r = coll.replace_one({"_id": 1}, {"c": "green", "new": True})
    assert r.update_info["nModified"] == 1
    assert coll.find_one({"_id": 1}) == {"_id": 1, "c": "green", "new": True}
    r = coll.replace_one({"_id": 99}, {"c": "none"}, upsert=True)
    assert r.update_info["upserted"] == 99
    old = coll.find_one_and_replace({"_id": 2}, {"c": "black"})
    assert old == {"_id": 2, "c": "blue", "n": 2}
    gone = coll.find_one_and_delete({"c": "black"})
    assert gone == {"_id": 2, "c": "black"}
    assert coll.find_one({"_id": 2}) is None
    assert coll.estimated_document_count() == 6
    assert sorted(coll.distinct("c")) == ["blue", "green", "none", "red"]
    with pytest.raises(CollectionInsertManyException) as ei:
        coll.insert_many([{"_id": 100}, {"_id": 3}, {"_id": 101}])
    assert sorted(ei.value.inserted_ids) == [100, 101]
    # an ordinary CQL table of the same name is not taken over
    session.execute("CREATE TABLE %s.plain (k int PRIMARY KEY, v text)" % KS)
    with pytest.raises(DataAPIResponseException) as ei:
        db.create_collection("plain")
    assert ei.value.error_descriptors[0].error_code == "EXISTING_TABLE_NOT_DATA_API_COLLECTION"
    assert "plain" not in db.list_collection_names()
    db.drop_collection("plain")  # not a collection: left alone
    assert session.execute("SELECT * FROM system_schema.tables WHERE keyspace_name = %s "
                           "AND table_name = 'plain'", [KS]).one() is not None


def test_off_by_default(make_server):
    srv = make_server()
    assert "Data API listening" not in srv.stderr_text()


def test_random_commands_keep_the_server_alive(dapi):
    """Seeded random commands (wrong types, unknown operators, bad
    vectors, odd paths) at every level: each answer is JSON in the Data
    API's shape, and the server stays up (the module's teardown checks
    the sanitizers). Found a qsort of an empty result once."""
    import random
    srv, port, _ = dapi
    rnd = random.Random(13)
    raw(port, "/v1/%s" % KS, {"createCollection": {
        "name": "fuzzv", "options": {"vector": {"dimension": 2, "metric": "dot_product"}}}})
    raw(port, "/v1/%s" % KS, {"createCollection": {"name": "fuzzp"}})
    paths = ["a", "b", "a.b", "a.0", "l", "_id", "$vector", "n", ""]
    ops = ["$eq", "$ne", "$in", "$nin", "$gt", "$lt", "$exists", "$size", "$all", "$and",
           "$or", "$not", "$bogus", "$set", "$unset", "$inc", "$push", "$pop", "$rename",
           "$setOnInsert", "$min"]

    def val(d=0):
        r = rnd.random()
        if d > 2 or r < 0.35:
            return rnd.choice([1, -2.5, "s", "", None, True, 7, 0.1, "k1", 3])
        if r < 0.45:
            return {"$date": rnd.randint(0, 100)}
        if r < 0.5:
            return {"$binary": rnd.choice(["PwAAAD6AAAA=", "AAAA", "!!", ""])}
        if r < 0.75:
            return [val(d + 1) for _ in range(rnd.randint(0, 3))]
        return {rnd.choice(paths + ops): val(d + 1) for _ in range(rnd.randint(0, 3))}

    cmds = ["insertOne", "insertMany", "find", "findOne", "countDocuments", "updateOne",
            "updateMany", "replaceOne", "deleteOne", "deleteMany", "findOneAndUpdate",
            "findOneAndReplace", "findOneAndDelete", "createCollection", "findCollections",
            "nope"]
    keys = ["document", "documents", "filter", "sort", "projection", "update", "replacement",
            "options", "name"]
    opts = ["limit", "skip", "pageState", "includeSimilarity", "upsert", "returnDocument",
            "ordered"]
    for _ in range(400):
        args = {}
        for _ in range(rnd.randint(0, 4)):
            k = rnd.choice(keys)
            if k == "options":
                args[k] = {rnd.choice(opts): rnd.choice([1, 0, -1, 5, True, "after", 'k3:"x"',
                                                         "o5", None, 10 ** 12])
                           for _ in range(rnd.randint(0, 3))}
            elif k == "documents":
                args[k] = [{"_id": val(2), "$vector": rnd.choice([[1, 2], [0.5], None]),
                            "a": val()} for _ in range(rnd.randint(0, 3))]
            elif k == "sort":
                args[k] = rnd.choice([{"$vector": [1, 0]}, {"a": 1}, {"a": 2}, val()])
            else:
                args[k] = val()
        path = rnd.choice(["/v1/%s/fuzzv" % KS, "/v1/%s/fuzzp" % KS, "/v1/%s" % KS, "/v1",
                           "/v1/%s/nope" % KS])
        st, body = raw(port, path, {rnd.choice(cmds): args})
        assert st in (200, 400) and isinstance(body, dict), (st, body)
        assert set(body) <= {"status", "data", "errors"}, body
        if "errors" in body:
            assert body["errors"][0]["errorCode"] and body["errors"][0]["message"], body
    assert srv.alive()
    # the empty sorted result that once crashed
    st, body = raw(port, "/v1/%s/fuzzp" % KS, {"find": {"filter": {"zz": 1}, "sort": {"a": 1}}})
    assert st == 200 and body["data"]["documents"] == []


def test_async_client(dapi):
    """astrapy's asyncio classes speak the same commands."""
    import asyncio
    _, port, _ = dapi

    async def run():
        db = DataAPIClient(environment="hcd").get_async_database(
            "http://127.0.0.1:%d" % port, keyspace=KS,
            token=UsernamePasswordTokenProvider("cassandra", "cassandra"))
        d = CollectionDefinition.builder().with_vector_dimension(2).build()
        coll = await db.create_collection("async_docs", definition=d)
        await coll.insert_many([{"_id": i, "$vector": [1.0, i / 10.0]} for i in range(1, 30)])
        hits = await coll.find({}, sort={"$vector": [1.0, 0.0]}, limit=3).to_list()
        n = await coll.count_documents({"_id": {"$lt": 10}}, upper_bound=100)
        await coll.update_one({"_id": 1}, {"$set": {"t": "x"}})
        one = await coll.find_one({"t": "x"})
        await db.drop_collection("async_docs")
        return [h["_id"] for h in hits], n, one["_id"]

    assert asyncio.run(run()) == ([1, 2, 3], 9, 1)
