#!/bin/sh
# check-layers.sh — fails when a module includes a header of a module it
# may not depend on (docs/ARCHITECTURE.md, "Layers"). ctest runs it
# (layers.includes), and once on a planted violation to show it can fail
# (layers.selftest).
#
#   scripts/check-layers.sh [ROOT]     checks ROOT/src (default: the repo)
#   scripts/check-layers.sh --self-test
#
# The table is the only place to change when a module or an edge is added;
# keep it in step with the target_link_libraries lines of CMakeLists.txt.
# A module may include its own headers and those of the modules listed.
set -eu

ALLOWED='
common:
types: common
cql: types common
schema: types common
auth: common
runtime: common
storage: common
index: common
cluster: runtime storage schema types common
exec: cluster runtime index storage schema auth cql types common
proto: exec cluster runtime index storage schema auth cql types common
server: proto exec cluster runtime index storage schema auth cql types common
dataapi: exec cluster runtime index storage schema auth cql types common
embedded: server proto exec cluster runtime index storage schema auth cql types common
client: common
tools: server dataapi embedded proto exec cluster runtime index storage schema auth cql types common client
'

allowed_for() {
    printf '%s\n' "$ALLOWED" | sed -n "s/^$1:\(.*\)\$/\1/p"
}

check() {
    root=$1
    bad=0
    for dir in "$root"/src/*/; do
        mod=$(basename "$dir")
        if ! printf '%s\n' "$ALLOWED" | grep -q "^$mod:"; then
            echo "check-layers: module src/$mod is not in the table of scripts/check-layers.sh" >&2
            bad=1
            continue
        fi
        ok=" $mod $(allowed_for "$mod") "
        # every #include "dir/..." line of the module's sources and headers
        hits=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[A-Za-z0-9_]+/' \
                   --include='*.c' --include='*.h' --include='*.y' "$dir" || true)
        [ -n "$hits" ] || continue
        while IFS= read -r line; do
            dep=$(printf '%s\n' "$line" | sed -E 's/^[^:]*:[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*"([A-Za-z0-9_]+)\/.*/\1/')
            case "$ok" in
            *" $dep "*) ;;
            *)
                echo "check-layers: ${line#"$root"/}: $mod may not include $dep/ (allowed: $(allowed_for "$mod"))" >&2
                bad=1
                ;;
            esac
        done <<HITS
$hits
HITS
    done
    return $bad
}

if [ "${1:-}" = "--self-test" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/src/runtime" "$tmp/src/exec"
    printf '#include "common/common.h"\n' >"$tmp/src/runtime/ok.c"
    printf '#include "runtime/runtime.h"\n' >"$tmp/src/exec/ok.c"
    check "$tmp" || { echo "check-layers self-test: a clean tree was refused" >&2; exit 1; }
    printf '#include "exec/exec.h"\n' >"$tmp/src/runtime/bad.c"
    if check "$tmp" 2>/dev/null; then
        echo "check-layers self-test: runtime/ including exec/ was not caught" >&2
        exit 1
    fi
    echo "check-layers self-test: ok (the planted violation was caught)"
    exit 0
fi

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
check "$root"
echo "check-layers: every #include follows the layers"
