"""Data API: JSON documents with vectors, through astrapy, no CQL.

Helenus serves the Data API (the JSON API of DataStax Astra and HCD) on a
port of its own when asked: `./scripts/serve.sh --data-api-port 8181`.
astrapy (`pip install astrapy`) then talks to it as to a self-hosted
deployment: `DataAPIClient(environment="hcd")`, the endpoint
http://127.0.0.1:8181 and a username/password token. The script runs the
Data API seed's snippet (insert documents with `$vector`, find sorted by
`$vector`, limit 10), a filter, an update and a count, and then reads the
same documents as rows of an ordinary table through CQL.

Run: ./scripts/serve.sh --data-api-port 8181, then
python examples/data_api.py [--data-api-port 8181]
"""

import sys

from astrapy import DataAPIClient
from astrapy.authentication import UsernamePasswordTokenProvider
from astrapy.constants import VectorMetric
from astrapy.info import CollectionDefinition

from _connect import connect, keyspace

port = 8181
if "--data-api-port" in sys.argv:  # ours; the rest goes to _connect
    i = sys.argv.index("--data-api-port")
    port = int(sys.argv[i + 1])
    del sys.argv[i:i + 2]
cluster, session, _ = connect(__doc__.splitlines()[0])
keyspace(session, "docs")

db = DataAPIClient(environment="hcd").get_database(
    "http://127.0.0.1:%d" % port, keyspace="docs",
    token=UsernamePasswordTokenProvider("cassandra", "cassandra"))
if "products" in db.list_collection_names():
    db.drop_collection("products")
products = db.create_collection("products", definition=CollectionDefinition.builder()
                                .with_vector_dimension(3)
                                .with_vector_metric(VectorMetric.COSINE).build())

products.insert_many([
    {"_id": "p1", "name": "red shoes", "price": 60, "tags": ["shoes"], "$vector": [1.0, 0.0, 0.1]},
    {"_id": "p2", "name": "blue shoes", "price": 80, "tags": ["shoes"], "$vector": [0.9, 0.2, 0.0]},
    {"_id": "p3", "name": "green hat", "price": 25, "tags": ["hats"], "$vector": [0.0, 1.0, 0.2]},
    {"_id": "p4", "name": "wool scarf", "price": 30, "tags": ["winter"], "$vector": [0.1, 0.4, 1.0]},
])

hits = list(products.find({}, sort={"$vector": [1.0, 0.0, 0.1]}, limit=10,
                          include_similarity=True))
# Data API cosine similarity is (1 + cos) / 2: 1 for the same direction
assert hits[0]["_id"] == "p1" and abs(hits[0]["$similarity"] - 1) < 1e-6, hits
assert [h["_id"] for h in hits][1] == "p2" and len(hits) == 4, hits
assert hits[0]["$similarity"] >= hits[1]["$similarity"] >= hits[-1]["$similarity"]
print("data_api: nearest to [1, 0, 0.1]: %s" % [(h["_id"], round(h["$similarity"], 3))
                                               for h in hits])

cheap = sorted(d["_id"] for d in products.find({"price": {"$lt": 50}}))
assert cheap == ["p3", "p4"], cheap
products.update_one({"_id": "p3"}, {"$set": {"price": 20}, "$push": {"tags": "sale"}})
p3 = products.find_one({"_id": "p3"})
assert p3["price"] == 20 and p3["tags"] == ["hats", "sale"], p3
assert products.count_documents({"tags": "shoes"}, upper_bound=100) == 2
print("data_api: filter, update and count answer as the Data API does")

rows = session.execute("SELECT key FROM docs.products")
assert len(list(rows)) == 4
print("data_api: the collection is the CQL table docs.products (4 rows)")
print("data_api: ok")
cluster.shutdown()
