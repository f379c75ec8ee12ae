#!/usr/bin/env bash
# nodetool.sh RUN_DIR COMMAND [ARGS...]
#
# Runs Cassandra's nodetool (from the same lib/) against the peer started by
# start.sh RUN_DIR, over its local JMX port (read from RUN_DIR/ports).
# Examples: nodetool.sh RUN_DIR status; nodetool.sh RUN_DIR flush ks;
#           nodetool.sh RUN_DIR tablestats ks.t
# The JDK 17 module openings come from jvm17.options (the client needs the same
# ones). Its history file goes to RUN_DIR/.cassandra, not to ~/.cassandra.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 RUN_DIR COMMAND [ARGS...]" >&2; exit 2; }
RUN_DIR="$(realpath -m "$1")"; shift
JMX_PORT="$(sed -n 's/^jmx_port=//p' "$RUN_DIR/ports" 2>/dev/null || true)"
[ -n "$JMX_PORT" ] || { echo "nodetool.sh: no $RUN_DIR/ports; was the peer started with start.sh?" >&2; exit 1; }
OPTS=()
while IFS= read -r line; do
    case "$line" in --add-*|-Djdk.attach*) OPTS+=("$line") ;; esac
done < "$HERE/jvm17.options"
exec timeout "${CASS_NODETOOL_TIMEOUT:-300}" java -Xmx256m -Xss512k "${OPTS[@]}" \
    "-Dlogback.configurationFile=file://$HERE/logback-tools.xml" \
    "-Duser.home=$RUN_DIR" \
    -cp "$HERE/lib/*" org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$JMX_PORT" "$@"
