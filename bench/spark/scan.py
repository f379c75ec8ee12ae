"""scan.py — one server's Spark figures (bench/spark/run.sh runs it on
Helenus and on Cassandra 5.0 in the same run and compares them).

What it measures, through pyspark 3.5.9 and the Spark Cassandra Connector
3.5.1 (local[2], the jars of scripts/install-spark-deps.sh):
  * write: a DataFrame of N rows (id int, seq int, x double, y double,
    label int, payload text of 100 characters) generated in Spark and saved
    through the connector (its prepared, grouped, async inserts);
  * scan: the whole table read back through the connector's token-range
    splits and aggregated (sum of x, total payload length, so every column
    of every row is read), after the server has flushed; repeated, the
    median kept.
Prints one JSON object: rows, write_s, scan_s (every repetition), splits.
"""
import argparse
import json
import statistics
import subprocess
import time

from cassandra.cluster import Cluster

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--rows", type=int, default=1_000_000)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--jars", required=True)
ap.add_argument("--flush", required=True, help="shell command that flushes the server")
a = ap.parse_args()

s = Cluster(["127.0.0.1"], port=a.port, connect_timeout=30).connect()
s.default_timeout = 120
s.execute("DROP KEYSPACE IF EXISTS sb")
s.execute("CREATE KEYSPACE sb WITH replication = {'class': 'SimpleStrategy', "
          "'replication_factor': 1}")
s.execute("CREATE TABLE sb.pts (id int, seq int, x double, y double, label int, payload text, "
          "PRIMARY KEY (id, seq))")

from pyspark.sql import SparkSession  # noqa: E402

spark = (SparkSession.builder.master("local[2]").appName("bench-spark")
         .config("spark.jars", a.jars)
         .config("spark.ui.enabled", "false")
         .config("spark.driver.memory", "2g")
         .config("spark.cassandra.connection.host", "127.0.0.1")
         .config("spark.cassandra.connection.port", str(a.port))
         .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
src = spark.range(a.rows).selectExpr(
    "cast(id div 10 as int) as id", "cast(id % 10 as int) as seq",
    "rand(1) as x", "rand(2) as y", "cast(id % 2 as int) as label",
    "substr(repeat(sha2(cast(id as string), 256), 2), 1, 100) as payload")
t = time.monotonic()
src.write.format("org.apache.spark.sql.cassandra").options(keyspace="sb", table="pts") \
    .mode("append").save()
write_s = time.monotonic() - t
subprocess.run(a.flush, shell=True, check=True, stdout=subprocess.DEVNULL)

scans, splits = [], 0
for _ in range(a.reps):
    df = spark.read.format("org.apache.spark.sql.cassandra").options(keyspace="sb",
                                                                      table="pts").load()
    t = time.monotonic()
    r = df.selectExpr("count(*) as n", "sum(x) as sx", "sum(length(payload)) as pl").collect()[0]
    scans.append(time.monotonic() - t)
    splits = df.rdd.getNumPartitions()
    assert r.n == a.rows and r.pl == 100 * a.rows, r
print(json.dumps({"rows": a.rows, "write_s": write_s, "scan_s": scans,
                  "scan_median_s": statistics.median(scans), "splits": splits}))
spark.stop()
