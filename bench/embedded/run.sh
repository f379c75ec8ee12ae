#!/usr/bin/env bash
# run.sh — the embedded Python API vs cassandra-driver on helenus.serve()
# (bench.py says what is measured). Needs build/release/libhelenus.so and a
# venv with cassandra-driver and numpy (build/venv, scripts/install-deps.sh
# --test). Writes bench/results/<UTC stamp>-embedded-python/.
#
#   bench/embedded/run.sh [bench.py options: --rows N --reads N --anns N ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f build/release/libhelenus.so ] || ninja -C build/release helenus_shared
PY=${PYTHON:-build/venv/bin/python}
out=bench/results/$(date -u +%Y%m%d-%H%M%S)-embedded-python
"$PY" bench/embedded/bench.py --out "$out" "$@"
echo "report: $out/report.md"
