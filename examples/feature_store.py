"""Feature store: online features served by entity key.

What a Feast-style online store does against Cassandra: one row per
entity with its features (scalars and a `map<text, float>` of sparse
features), written concurrently with a TTL so stale features age out, and
read back with a prepared `SELECT ... WHERE entity_key = ?` on the hot
path. The script loads 2,000 entities, reads 1,000 at random one at a
time (the latency a model server sees) and then all of them with 64
requests in flight (throughput), checks every value, and prints both.

Run: ./scripts/serve.sh, then python examples/feature_store.py
"""

import random
import statistics
import time

from cassandra.concurrent import execute_concurrent_with_args

from _connect import connect, keyspace

N = 2000
cluster, session, _ = connect(__doc__.splitlines()[0])
keyspace(session, "features")
session.execute("""
    CREATE TABLE IF NOT EXISTS features.driver_stats (
        entity_key text PRIMARY KEY,
        conv_rate float,
        acc_rate float,
        avg_daily_trips int,
        sparse map<text, float>,
        event_ts timestamp)
    WITH default_time_to_live = 86400""")


def features(i):
    rnd = random.Random(i)
    return (round(rnd.random(), 3), round(rnd.random(), 3), rnd.randrange(100),
            {"zone_%d" % z: float(z) for z in range(i % 4)})


# materialise: prepared INSERTs, 64 in flight, each with its own TTL of a day
ins = session.prepare("INSERT INTO features.driver_stats (entity_key, conv_rate, acc_rate, "
                      "avg_daily_trips, sparse, event_ts) VALUES (?, ?, ?, ?, ?, "
                      "toTimestamp(now())) USING TTL 86400")
t0 = time.perf_counter()
execute_concurrent_with_args(session, ins, [("driver_%d" % i,) + features(i) for i in range(N)],
                             concurrency=64, raise_on_first_error=True)
load_s = time.perf_counter() - t0

# serve: one prepared point read per entity, 32 in flight
get = session.prepare("SELECT conv_rate, acc_rate, avg_daily_trips, sparse, TTL(conv_rate) "
                      "FROM features.driver_stats WHERE entity_key = ?")
def check(k, row):
    conv, acc, trips, sparse = features(k)
    assert row is not None, "driver_%d missing" % k
    assert (round(row.conv_rate, 3), round(row.acc_rate, 3), row.avg_daily_trips) == \
        (conv, acc, trips), (k, row)
    assert dict(row.sparse or {}) == sparse, (k, row.sparse)
    assert 0 < row.ttl_conv_rate <= 86400


# latency: one request at a time, as one model server thread asks
lat = []
for k in (random.randrange(N) for _ in range(1000)):
    start = time.perf_counter()
    row = session.execute(get, ("driver_%d" % k,)).one()
    lat.append(time.perf_counter() - start)
    check(k, row)
lat.sort()

# throughput: every entity once, 64 requests in flight
keys = list(range(N))
t0 = time.perf_counter()
results = execute_concurrent_with_args(session, get, [("driver_%d" % k,) for k in keys],
                                       concurrency=64, raise_on_first_error=True)
read_s = time.perf_counter() - t0
for k, (ok, rs) in zip(keys, results):
    assert ok, rs
    check(k, rs.one())

print("feature_store: loaded %d entities in %.2f s (%.0f rows/s)" % (N, load_s, N / load_s))
print("feature_store: point reads one at a time: p50 %.3f ms, p99 %.3f ms" % (
    statistics.median(lat) * 1e3, lat[int(len(lat) * 0.99)] * 1e3))
print("feature_store: %d reads with 64 in flight: %.0f reads/s" % (N, N / read_s))
print("feature_store: ok")
cluster.shutdown()
