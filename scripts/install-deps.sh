#!/usr/bin/env bash
# Installs what building and testing Helenus needs, from Debian's packages and
# PyPI. Idempotent: a machine that already has everything does nothing.
set -euo pipefail
DEB_PKGS="build-essential cmake ninja-build pkg-config libuv1-dev lemon libcmocka-dev \
libjansson-dev libyaml-dev liblz4-dev zlib1g-dev clang-format python3 python3-pip"
missing=""
for p in $DEB_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
if [ "${1:-}" = "--test" ]; then
  python3 -c 'import cassandra, pytest' 2>/dev/null || \
    python3 -m pip install -q --disable-pip-version-check -r tests/integration/requirements.txt
fi
