#!/usr/bin/env bash
# Installs what is missing, builds Debug, ASan+UBSan and Release, and runs every
# test: C unit, golden CQL and fuzz-corpus tests (ctest) in each build, then the
# integration suite (pytest, real binary, real drivers) against the ASan build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
jobs=$(nproc)
for cfg in debug asan release; do
  extra="-DCMAKE_BUILD_TYPE=Debug"
  [ $cfg = asan ] && extra="$extra -DHLN_SANITIZE=ON"
  [ $cfg = release ] && extra="-DCMAKE_BUILD_TYPE=Release"
  cmake -S . -B build/$cfg -G Ninja $extra >/dev/null
  ninja -C build/$cfg -j"$jobs"
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for cfg in debug asan release; do
  echo "== ctest ($cfg)"
  (cd build/$cfg && ctest --output-on-failure -j"$jobs") || status=1
done
echo "== pytest (integration, ASan binary)"
# cqlsh and the other Python conformance tools live in build/venv/bin: a test
# that looks a tool up on PATH must find it (a missing one fails, never skips).
export PATH="$PWD/build/venv/bin:$PATH"
HELENUS_BIN="$PWD/build/asan/helenus" build/venv/bin/python -m pytest -q tests/integration || status=1
exit $status
