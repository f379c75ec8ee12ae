#!/usr/bin/env bash
# start.sh RUN_DIR PORT [periodic|batch|group] [CPU_LIST]
#
# Starts the Apache Cassandra 5.0 benchmark peer: one node, loopback only, CQL
# on 127.0.0.1:PORT, every file under RUN_DIR. Returns once CQL answers (or
# fails after CASS_START_TIMEOUT seconds, killing what it started), leaving the
# server running in the background with its PID in RUN_DIR/cassandra.pid.
# Stop it with stop.sh RUN_DIR.
#
#   RUN_DIR   run directory (created); holds cassandra.yaml, data/, system.log,
#             gc.log, stdout.log, cassandra.pid, ports
#   PORT      CQL native transport port
#   mode      commitlog_sync: periodic (default, 10 s period as stock),
#             batch (fsync before acknowledging), group (fsync before
#             acknowledging, at most every CASS_GROUP_WINDOW)
#   CPU_LIST  optional `taskset -c` list to pin the JVM to, e.g. 1 or 0-1
#
# Environment (all optional):
#   CASS_HEAP            heap size for -Xms/-Xmx (default 2G)
#   CASS_STORAGE_PORT    inter-node port (default 17000 + PORT % 1000)
#   CASS_JMX_PORT        local JMX port (default 18000 + PORT % 1000)
#   CASS_GROUP_WINDOW    commitlog_sync_group_window for group mode (default 10ms)
#   CASS_START_TIMEOUT   seconds to wait for CQL (default 180)
#   CASS_EXTRA_YAML      file appended to the generated cassandra.yaml
#   CASS_EXTRA_JVM_OPTS  extra JVM flags (word-split)
#
# The JVM is started the way Cassandra's own bin/cassandra would start it on
# JDK 17 (flags in jvm17.options), minus the parts that only make sense for an
# installed package. See bench/README.md, "The Cassandra 5.0 peer".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { echo "usage: $0 RUN_DIR PORT [periodic|batch|group] [CPU_LIST]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 4 ] || usage
RUN_DIR="$(realpath -m "$1")"
PORT="$2"
SYNC="${3:-periodic}"
CPUS="${4:-}"
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -gt 0 ] && [ "$PORT" -lt 65536 ] || usage

HEAP="${CASS_HEAP:-2G}"
STORAGE_PORT="${CASS_STORAGE_PORT:-$((17000 + PORT % 1000))}"
JMX_PORT="${CASS_JMX_PORT:-$((18000 + PORT % 1000))}"
GROUP_WINDOW="${CASS_GROUP_WINDOW:-10ms}"
TIMEOUT="${CASS_START_TIMEOUT:-180}"

die() { echo "start.sh: $*" >&2; exit 1; }

# ---- preconditions -------------------------------------------------------
LIB="$HERE/lib"
CASS_JAR="$(ls "$LIB"/cassandra-all-*.jar 2>/dev/null | head -n1 || true)"
JAMM_JAR="$(ls "$LIB"/jamm-*.jar 2>/dev/null | head -n1 || true)"
[ -n "$CASS_JAR" ] && [ -n "$JAMM_JAR" ] && ls "$LIB"/.complete-* >/dev/null 2>&1 \
    || die "lib/ is not set up; run $HERE/setup.sh first"
command -v java >/dev/null || die "java not found"
JAVA_MAJOR="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
[ "$JAVA_MAJOR" = "17" ] || echo "start.sh: warning: java $JAVA_MAJOR, this set-up is for JDK 17" >&2
if [ -n "$CPUS" ]; then command -v taskset >/dev/null || die "taskset not found"; fi

case "$SYNC" in
    periodic) SYNC_YAML=$'commitlog_sync: periodic\ncommitlog_sync_period: 10000ms' ;;
    # 5.0 has no batch window any more (commitlog_sync_batch_window_in_ms is gone
    # from Config); batch mode just syncs before acknowledging.
    batch)    SYNC_YAML='commitlog_sync: batch' ;;
    group)    SYNC_YAML=$'commitlog_sync: group\ncommitlog_sync_group_window: '"$GROUP_WINDOW" ;;
    *) usage ;;
esac

PIDFILE="$RUN_DIR/cassandra.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    die "a peer already runs for $RUN_DIR (pid $(cat "$PIDFILE")); stop.sh it first"
fi
port_busy() {  # is something listening on 127.0.0.1:$1 ?
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}
for p in "$PORT" "$STORAGE_PORT" "$JMX_PORT"; do
    if port_busy "$p"; then die "port $p on 127.0.0.1 is already in use"; fi
done

# ---- run directory and configuration -------------------------------------
mkdir -p "$RUN_DIR"/data/{data,commitlog,saved_caches,hints,cdc_raw} "$RUN_DIR/triggers"
rm -f "$PIDFILE"
YAML="$RUN_DIR/cassandra.yaml"
SYNC_ESC="$(printf '%s' "$SYNC_YAML" | sed ':a;N;$!ba;s/\n/\\n/g')"
sed -e "s|@RUN_DIR@|$RUN_DIR|g" \
    -e "s|@NATIVE_PORT@|$PORT|g" \
    -e "s|@STORAGE_PORT@|$STORAGE_PORT|g" \
    -e "s|@COMMITLOG_SYNC@|$SYNC_ESC|" \
    "$HERE/cassandra.yaml.in" > "$YAML"
if [ -n "${CASS_EXTRA_YAML:-}" ]; then
    { echo; echo "# ---- appended from $CASS_EXTRA_YAML ----"; cat "$CASS_EXTRA_YAML"; } >> "$YAML"
fi
printf 'native_transport_port=%s\nstorage_port=%s\njmx_port=%s\ncommitlog_sync=%s\ncpus=%s\nheap=%s\n' \
    "$PORT" "$STORAGE_PORT" "$JMX_PORT" "$SYNC" "${CPUS:-all}" "$HEAP" > "$RUN_DIR/ports"

# ---- JVM command line ----------------------------------------------------
JVM_OPTS=()
while IFS= read -r line; do
    case "$line" in -*) JVM_OPTS+=("$line") ;; esac
done < "$HERE/jvm17.options"
JVM_OPTS+=(
    "-Xms$HEAP" "-Xmx$HEAP"
    # JIT hints shipped in the server jar (setup.sh extracts them); "quiet" only
    # stops the JVM echoing each of them to stdout
    "-XX:CompileCommand=quiet"
    "-XX:CompileCommandFile=$LIB/hotspot_compiler"
    "-javaagent:$JAMM_JAR"
    "-XX:OnOutOfMemoryError=kill -9 %p"
    "-XX:HeapDumpPath=$RUN_DIR"
    "-Xlog:gc=info,heap*=trace,age*=debug,safepoint=info,promotion*=trace:file=$RUN_DIR/gc.log:time,uptime,pid,tid,level:filecount=3,filesize=10485760"
    "-Dcassandra.jmx.local.port=$JMX_PORT"
    "-Dcassandra.config=file://$YAML"
    "-Dcassandra.storagedir=$RUN_DIR/data"
    "-Dcassandra.logdir=$RUN_DIR"
    "-Dcassandra.triggers_dir=$RUN_DIR/triggers"
    "-Dlogback.configurationFile=file://$HERE/logback.xml"
    # keep stdout/stderr open (JVM crashes and early errors go to stdout.log)
    "-Dcassandra-foreground=yes"
    # single node: nothing to wait for
    "-Dcassandra.skip_wait_for_gossip_to_settle=0"
    "-Dcassandra.ring_delay_ms=1000"
)
if [ -n "${CASS_EXTRA_JVM_OPTS:-}" ]; then
    read -r -a extra <<< "$CASS_EXTRA_JVM_OPTS"
    JVM_OPTS+=("${extra[@]}")
fi
CMD=(java "${JVM_OPTS[@]}" -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon)
if [ -n "$CPUS" ]; then CMD=(taskset -c "$CPUS" "${CMD[@]}"); fi
printf '%q ' "${CMD[@]}" > "$RUN_DIR/command"; echo >> "$RUN_DIR/command"

# cassandra-env.sh does this too: fewer glibc malloc arenas, less RSS.
export MALLOC_ARENA_MAX=4
# bin/cassandra preloads jemalloc when the system has it; do the same (Cassandra
# logs a start-up warning otherwise). Not installed on the reference machine.
for lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 \
           /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2; do
    if [ -f "$lib" ]; then
        export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" CASSANDRA_LIBJEMALLOC="$lib"; break
    fi
done

# ---- launch --------------------------------------------------------------
# In its own session (so it outlives the caller's process group); the shell
# writes its own PID and then execs taskset/java, so the PID stays the JVM's.
T0="$(date +%s.%N)"
cd "$RUN_DIR"
setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" "${CMD[@]}" \
    > "$RUN_DIR/stdout.log" 2>&1 < /dev/null &
for _ in $(seq 50); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
[ -s "$PIDFILE" ] || die "no pid file appeared"
PID="$(cat "$PIDFILE")"

echo "start.sh: Cassandra $(basename "$CASS_JAR" .jar | sed 's/cassandra-all-//') pid $PID," \
     "CQL 127.0.0.1:$PORT, storage $STORAGE_PORT, JMX $JMX_PORT, commitlog $SYNC," \
     "cpus ${CPUS:-all}, heap $HEAP, run dir $RUN_DIR"

deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "start.sh: Cassandra exited during start-up; last lines of the logs:" >&2
        grep -v '^CompileCommand' "$RUN_DIR/stdout.log" | tail -n 20 >&2 || true
        grep -E '^(ERROR|WARN)' "$RUN_DIR/system.log" 2>/dev/null | tail -n 10 >&2 || true
        rm -f "$PIDFILE"
        exit 1
    fi
    if python3 "$HERE/cql_ready.py" 127.0.0.1 "$PORT"; then break; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "start.sh: CQL not answering after ${TIMEOUT}s; stopping pid $PID" >&2
        "$HERE/stop.sh" "$RUN_DIR" >&2 || true
        exit 1
    fi
    sleep 0.5
done
T1="$(date +%s.%N)"
STARTUP="$(python3 -c "print(f'{$T1 - $T0:.1f}')")"
echo "$STARTUP" > "$RUN_DIR/startup_seconds"
echo "start.sh: CQL answers on 127.0.0.1:$PORT after ${STARTUP} s"
