#!/usr/bin/env bash
# stop.sh RUN_DIR
#
# Stops the Cassandra 5.0 peer started by start.sh RUN_DIR: SIGTERM to the PID
# in RUN_DIR/cassandra.pid (Cassandra's shutdown hook then drains: it stops
# the transports, flushes and closes the commit log), waits up to
# CASS_STOP_TIMEOUT seconds (default 60), then SIGKILL. Only that PID is
# signalled, and only if it still is a CassandraDaemon JVM for this RUN_DIR
# (guards against a stale pid file and PID reuse). Exit 0 when nothing runs.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 RUN_DIR" >&2; exit 2; }
RUN_DIR="$(realpath -m "$1")"
PIDFILE="$RUN_DIR/cassandra.pid"
TIMEOUT="${CASS_STOP_TIMEOUT:-60}"

if [ ! -s "$PIDFILE" ]; then
    echo "stop.sh: no pid file in $RUN_DIR, nothing to stop"
    exit 0
fi
PID="$(cat "$PIDFILE")"
[[ "$PID" =~ ^[0-9]+$ ]] || { echo "stop.sh: bad pid file $PIDFILE" >&2; exit 1; }

is_ours() {
    [ -r "/proc/$PID/cmdline" ] || return 1
    local cmd
    cmd="$(tr '\0' ' ' < "/proc/$PID/cmdline")"
    [[ "$cmd" == *org.apache.cassandra.service.CassandraDaemon* ]] \
        && [[ "$cmd" == *"-Dcassandra.config=file://$RUN_DIR/cassandra.yaml"* ]]
}

if ! is_ours; then
    echo "stop.sh: pid $PID is not running a peer for $RUN_DIR; removing stale pid file"
    rm -f "$PIDFILE"
    exit 0
fi

T0="$(date +%s.%N)"
kill -TERM "$PID" 2>/dev/null || true
deadline=$(( $(date +%s) + TIMEOUT ))
while is_ours && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
if is_ours; then
    echo "stop.sh: pid $PID still alive after ${TIMEOUT}s, sending SIGKILL" >&2
    kill -KILL "$PID" 2>/dev/null || true
    for _ in $(seq 50); do is_ours || break; sleep 0.1; done
fi
if is_ours; then
    echo "stop.sh: pid $PID survived SIGKILL" >&2
    exit 1
fi
rm -f "$PIDFILE"
echo "stop.sh: stopped pid $PID in $(python3 -c "import time; print(f'{time.time() - $T0:.1f}')") s"
