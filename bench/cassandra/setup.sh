#!/usr/bin/env bash
# setup.sh -- fetch a real Apache Cassandra 5.0 server into bench/cassandra/lib/.
#
# Apache publishes no binary tarball on Maven Central, but the server itself is
# there as org.apache.cassandra:cassandra-all. pom.xml depends on it; Maven's
# dependency plugin copies it and its whole runtime closure into lib/, which
# start.sh then uses as the class path. Nothing is compiled.
#
# Idempotent: when lib/ already holds a completed copy of the pinned version
# (the marker file is written last), it does nothing. Re-run with --force to
# fetch again. Needs mvn and network access to Maven Central.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

VERSION="$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' pom.xml)"
[ -n "$VERSION" ] || { echo "setup.sh: cannot read cassandra.version from pom.xml" >&2; exit 1; }
MARKER="lib/.complete-$VERSION"

if [ "${1:-}" != "--force" ] && [ -f "$MARKER" ] && [ -f "lib/cassandra-all-$VERSION.jar" ]; then
    echo "setup.sh: lib/ already holds Cassandra $VERSION ($(ls lib/*.jar | wc -l) jars)"
    exit 0
fi

command -v mvn >/dev/null || { echo "setup.sh: mvn not found" >&2; exit 1; }

rm -rf lib
mkdir -p lib
echo "setup.sh: resolving cassandra-all $VERSION and its runtime dependencies from Maven Central..."
# includeScope=runtime: what the server needs to run (compile + runtime scopes).
# cassandra-all is a direct dependency of pom.xml, so it is copied too.
timeout 900 mvn -q -B -Dstyle.color=never dependency:copy-dependencies \
    -DoutputDirectory=lib -DincludeScope=runtime
# Belt and braces: make sure the server jar itself is there.
if [ ! -f "lib/cassandra-all-$VERSION.jar" ]; then
    JAR="${HOME}/.m2/repository/org/apache/cassandra/cassandra-all/$VERSION/cassandra-all-$VERSION.jar"
    [ -f "$JAR" ] || timeout 600 mvn -q -B -Dstyle.color=never dependency:get \
        -Dartifact="org.apache.cassandra:cassandra-all:$VERSION" -Dtransitive=false
    cp "$JAR" lib/
fi

# The JIT hints file that bin/cassandra passes with -XX:CompileCommandFile
# ships inside the server jar; extract it next to the jars.
unzip -p "lib/cassandra-all-$VERSION.jar" META-INF/hotspot_compiler > lib/hotspot_compiler

ls lib/jamm-*.jar >/dev/null 2>&1 || { echo "setup.sh: jamm agent jar missing from lib/" >&2; exit 1; }
touch "$MARKER"
echo "setup.sh: done, $(ls lib/*.jar | wc -l) jars, $(du -sh lib | cut -f1) in $HERE/lib"
