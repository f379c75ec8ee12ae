#!/usr/bin/env bash
# Installs what is missing, builds Helenus (Release), and starts the server
# on 127.0.0.1:9042 with its data in ./helenus-data. Extra arguments go to
# `helenus serve` (see `helenus help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/release helenus
exec build/release/helenus serve "$@"
