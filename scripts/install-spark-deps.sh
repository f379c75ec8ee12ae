#!/usr/bin/env bash
# Installs the Spark Cassandra Connector for tests/integration/test_spark.py
# and bench/spark: the jars of tests/integration/spark/pom.xml (the connector
# for Scala 2.12 / Spark 3.5 and its runtime dependencies, from Maven
# Central) copied into build/spark/jars, with the local Maven repository in
# build/spark/m2. pyspark itself is pinned in tests/integration/requirements.txt.
#
# Called by scripts/install-deps.sh --test after the conformance clients (whose
# script installs the JDK and Maven). Idempotent: keyed by a hash of the pom.
set -euo pipefail
cd "$(dirname "$0")/.."
D=$PWD/build/spark
POM=tests/integration/spark/pom.xml
k=$(sha256sum "$POM" | cut -c1-16)
if [ -f "$D/jars/.installed" ] && [ "$(cat "$D/jars/.installed")" = "$k" ]; then
  exit 0
fi
echo "spark: the Spark Cassandra Connector into build/spark/jars"
rm -rf "$D/jars"
mkdir -p "$D/jars"
mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$D/m2" -f "$POM" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$D/jars"
echo "$k" > "$D/jars/.installed"
