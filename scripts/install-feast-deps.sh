#!/usr/bin/env bash
# Installs Feast (feast[cassandra], PyPI) for tests/integration/test_feast.py
# and bench/feast into a virtualenv of its own, build/venv-feast: Feast pins
# wide ranges of pandas, pyarrow, numpy, pydantic... that need not agree with
# build/venv's pins (tests/integration/requirements.txt), so the two stay
# apart. The test runs Feast's steps in this venv through
# tests/integration/feast/feast_steps.py.
#
# Called by scripts/install-deps.sh --test next to install-spark-deps.sh.
# Idempotent: keyed by a hash of tests/integration/feast/requirements.txt
# (every package pinned exactly), written last into build/venv-feast/.installed;
# a venv whose key differs (or that is half-made) is rebuilt from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
V=$PWD/build/venv-feast
REQ=tests/integration/feast/requirements.txt
k=$(sha256sum "$REQ" | cut -c1-16)
if [ -f "$V/.installed" ] && [ "$(cat "$V/.installed")" = "$k" ] && [ -x "$V/bin/feast" ]; then
  exit 0
fi
echo "feast: feast[cassandra] and its pinned dependencies into build/venv-feast"
rm -rf "$V"
mkdir -p build
python3 -m venv "$V"
"$V/bin/pip" install -q --disable-pip-version-check -r "$REQ"
"$V/bin/python" -c 'import feast, cassandra; print("feast", feast.__version__)'
echo "$k" > "$V/.installed"
