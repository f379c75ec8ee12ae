#!/usr/bin/env bash
# Installs the clients of the driver conformance matrix (tests/conformance/,
# run by tests/integration/test_conformance.py), each from its own registry,
# under build/conformance/ (never into the source tree or $HOME):
#
#   Python  lz4 into build/venv (PyPI; the driver and cqlsh come with
#           tests/integration/requirements.txt)
#   Node.js build/conformance/node/node_modules    npm ci, cache build/conformance/npm-cache
#   Java    build/conformance/m2                   Maven Central, -Dmaven.repo.local;
#           classes and jars in build/conformance/java/target
#   Go      build/conformance/go/{modcache,path,cache}, binary build/conformance/go/conform
#           (the Go module proxy; GOMODCACHE/GOPATH/GOCACHE under build/)
#
# Called by scripts/install-deps.sh --test (after build/venv exists).
# Idempotent: each client is keyed by a hash of its manifest and lock files,
# written next to what was installed; an unchanged client costs nothing. A
# client whose toolchain (node 20, JDK 17 + Maven, Go 1.22+) is missing is
# reported and left out; its tests then skip with a message naming this script.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
C=$ROOT/build/conformance
S=$ROOT/tests/conformance
mkdir -p "$C"

key() { cat "$@" | sha256sum | cut -c1-16; }
fresh() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# JDK and Maven are the Debian packages on the reference machine.
missing=""
for p in openjdk-17-jdk-headless maven; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
if [ -n "$missing" ] && ! { command -v javac && command -v mvn; } >/dev/null 2>&1; then
  echo "installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# Python: lz4 for the protocol v5 + lz4 run.
if ! build/venv/bin/python -c 'import cassandra, lz4.block' 2>/dev/null; then
  echo "conformance: installing Python lz4 into build/venv"
  build/venv/bin/pip install -q --disable-pip-version-check -r "$S/python/requirements.txt"
fi

# Node.js: the locked cassandra-driver.
if command -v node >/dev/null && command -v npm >/dev/null; then
  k=$(key "$S/node/package.json" "$S/node/package-lock.json")
  if ! fresh "$C/node/.installed" "$k" || [ ! -d "$C/node/node_modules/cassandra-driver" ]; then
    echo "conformance: npm ci (Node.js cassandra-driver) into build/conformance/node"
    rm -rf "$C/node"
    mkdir -p "$C/node"
    cp "$S/node/package.json" "$S/node/package-lock.json" "$C/node/"
    (cd "$C/node" && npm ci --no-audit --no-fund --loglevel=error --cache "$C/npm-cache")
    echo "$k" > "$C/node/.installed"
  fi
else
  echo "conformance: node/npm not found; the Node.js client will be skipped" >&2
fi

# Java: resolve the driver and the pinned plugins online once, then the
# test suite builds with mvn -o.
if command -v javac >/dev/null && command -v mvn >/dev/null; then
  k=$(key "$S/java/pom.xml")
  if ! fresh "$C/m2/.installed" "$k" || [ ! -d "$C/java/target/lib" ]; then
    echo "conformance: Maven (Java driver) into build/conformance/m2"
    mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$C/m2" -f "$S/java/pom.xml" compile
    echo "$k" > "$C/m2/.installed"
  fi
else
  echo "conformance: javac/mvn not found; the Java client will be skipped" >&2
fi

# Go: download the locked modules, build the binary once.
if command -v go >/dev/null; then
  export GOPATH="$C/go/path" GOMODCACHE="$C/go/modcache" GOCACHE="$C/go/cache"
  export GOFLAGS=-modcacherw GOTOOLCHAIN=local
  k=$(key "$S/go/go.mod" "$S/go/go.sum")
  if ! fresh "$C/go/.installed" "$k" || [ ! -d "$GOMODCACHE" ]; then
    echo "conformance: Go modules (gocql) into build/conformance/go"
    (cd "$S/go" && go mod download && go build -o "$C/go/conform" .)
    echo "$k" > "$C/go/.installed"
  fi
else
  echo "conformance: go not found; the Go client will be skipped" >&2
fi
