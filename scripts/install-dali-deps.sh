#!/usr/bin/env bash
# Installs NVIDIA DALI for tests/integration/test_loader_dali.py: a venv
# (build/dali-venv-test) with the pins of tests/integration/dali/requirements.txt
# from PyPI (nvidia-dali-cuda120, whose CPU operators run without a GPU,
# cassandra-driver for helenus.loader, Pillow to make the test's JPEGs).
# A venv of its own because DALI is ~1 GB and pins its own numpy range.
#
# Called by scripts/install-deps.sh --test. Idempotent: keyed by a hash of
# the requirements file.
set -euo pipefail
cd "$(dirname "$0")/.."
V=build/dali-venv-test
REQ=tests/integration/dali/requirements.txt
k=$(sha256sum "$REQ" | cut -c1-16)
if [ -f "$V/.installed" ] && [ "$(cat "$V/.installed")" = "$k" ]; then
  exit 0
fi
echo "dali: nvidia-dali and helenus.loader's driver into $V"
mkdir -p build
rm -rf "$V"
python3 -m venv "$V"
"$V/bin/pip" install -q --disable-pip-version-check -r "$REQ"
echo "$k" > "$V/.installed"
