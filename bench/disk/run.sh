#!/usr/bin/env bash
# bench/disk/run.sh -- disk use of the same rows in Helenus and in Cassandra 5.0.
#
#   bench/disk/run.sh [--rows N] [--seed S] [--concurrency C] [--name NAME]
#                     [--targets "helenus cassandra"] [--helenus BIN] [--keep-data]
#
# For each server in turn (Helenus, then Cassandra; one at a time): start it
# fresh in a work directory (loopback, its own ports), create keyspace
# diskbench with three tables (cassandra-stress standard1, an event log, a
# feature store; default table options), load the same deterministic rows
# (bench/disk/disk.py, N per table, fixed write timestamps), flush, major-compact,
# wait until no compaction is pending, check the row counts and read a sample
# back, record tablestats, then measure the bytes of each table's sstables and
# stop the server. Writes bench/results/<UTC stamp>-NAME/ (report.md, json/,
# tablestats/, logs/) and prints the table. See bench/README.md, "Disk use".
#
# Environment: DISK_PYTHON (a python3 that has cassandra-driver; default: the
# venv build/disk-venv, created with cassandra-driver from PyPI), CASS_HEAP
# (default 2G), DISK_LOAD_LIMIT (s per load, 1800), DISK_COMPACT_LIMIT (s for
# flush + compaction + settling per server, 1200).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
ROOT="$(dirname "$BENCH")"

ROWS=300000
SEED=42
CONC=128
NAME=disk
TARGETS="helenus cassandra"
HELENUS_BIN=""
KEEP=0
CMDLINE="bench/disk/run.sh $*"
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --concurrency) CONC="$2"; shift 2 ;;
        --name) NAME="$2"; shift 2 ;;
        --targets) TARGETS="$2"; shift 2 ;;
        --helenus) HELENUS_BIN="$(realpath "$2")"; shift 2 ;;
        --keep-data) KEEP=1; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ "$ROWS" =~ ^[0-9]+$ ]] && [ "$ROWS" -gt 0 ] || { echo "run.sh: bad --rows" >&2; exit 2; }

LOAD_LIMIT="${DISK_LOAD_LIMIT:-1800}"
COMPACT_LIMIT="${DISK_COMPACT_LIMIT:-1200}"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="$BENCH/results/$STAMP-$NAME"
mkdir -p "$OUT/json" "$OUT/logs" "$OUT/tablestats"
LOG="$OUT/logs/run.log"
WORK="$(mktemp -d /tmp/helenus-disk.XXXXXX)"
BUILD="$ROOT/build/release"
NCPU="$(nproc)"; [ "$NCPU" -gt 2 ] && NCPU=2

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

HPID=""
CASS_DIR=""
cleanup() {
    local rc=$?
    if [ -n "$HPID" ] && kill -0 "$HPID" 2>/dev/null; then
        kill -TERM "$HPID" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$HPID" 2>/dev/null || true
    fi
    if [ -n "$CASS_DIR" ]; then "$BENCH/cassandra/stop.sh" "$CASS_DIR" >> "$LOG" 2>&1 || true; fi
    if [ "$KEEP" = 0 ]; then rm -rf "$WORK"; else echo "run.sh: data kept in $WORK" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build -----------------------------------------------------------------------
if [ -z "$HELENUS_BIN" ]; then
    log "building helenus (Release) in $BUILD"
    nice cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >> "$LOG" 2>&1
    nice ninja -C "$BUILD" -j"$NCPU" helenus >> "$LOG" 2>&1 \
        || { echo "run.sh: build failed, see $LOG" >&2; grep -m3 'error' "$LOG" >&2; exit 1; }
    HELENUS_BIN="$BUILD/helenus"
fi

# ---- python with the driver ----------------------------------------------------------
PY="${DISK_PYTHON:-}"
if [ -z "$PY" ]; then
    VENV="$ROOT/build/disk-venv"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        python3 -m venv "$VENV" >> "$LOG" 2>&1
    fi
    if ! "$VENV/bin/python" -c "import cassandra" 2>/dev/null; then
        log "installing cassandra-driver into $VENV (PyPI)"
        "$VENV/bin/pip" install -q "cassandra-driver==3.30.1" >> "$LOG" 2>&1 \
            || { echo "run.sh: pip install cassandra-driver failed, see $LOG" >&2; exit 1; }
    fi
    PY="$VENV/bin/python"
fi
"$PY" -c "import cassandra" || { echo "run.sh: $PY has no cassandra-driver" >&2; exit 1; }
DISK="$HERE/disk.py"

# ---- Cassandra peer --------------------------------------------------------------------
if [[ " $TARGETS " == *" cassandra "* ]]; then
    "$BENCH/cassandra/setup.sh" >> "$LOG" 2>&1 \
        || { echo "run.sh: bench/cassandra/setup.sh failed, see $LOG" >&2; exit 1; }
fi

# ---- machine and versions ----------------------------------------------------------------
HELENUS_VERSION="$("$HELENUS_BIN" --version 2>&1 | head -n1)"
GIT_COMMIT="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
GIT_DIRTY="$(git -C "$ROOT" status --porcelain -- . ":!bench/results" 2>/dev/null | wc -l)"
CASS_VERSION="$(ls "$BENCH"/cassandra/lib/cassandra-all-*.jar 2>/dev/null | head -n1 \
    | sed 's/.*cassandra-all-\(.*\)\.jar/\1/' || true)"
SHARDS="$NCPU"
"$PY" - "$OUT/json/machine.json" <<PY
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
              if l.startswith("model name")), "")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
json.dump({
    "stamp": "$STAMP", "command": """$CMDLINE""", "rows_per_table": $ROWS, "seed": $SEED,
    "concurrency": $CONC, "targets": "$TARGETS".split(),
    "cpu_model": model, "cpus": os.cpu_count(), "mem_gib": round(int(mem) / 1048576, 1),
    "kernel": platform.release(), "os": sh(". /etc/os-release && echo \$PRETTY_NAME"),
    "cc": sh("cc --version | head -n1"), "java": sh("java -version 2>&1 | head -n1"),
    "python": platform.python_version(),
    "driver": sh("'$PY' -c 'import cassandra; print(cassandra.__version__)'"),
    "helenus_version": "$HELENUS_VERSION", "git_commit": "$GIT_COMMIT",
    "git_dirty_files": int("$GIT_DIRTY" or 0), "helenus_binary": "$HELENUS_BIN",
    "helenus_c_flags": sh("sed -n 's/^CMAKE_C_FLAGS:STRING=//p' '$BUILD/CMakeCache.txt'"),
    "helenus_shards": $SHARDS, "cassandra_version": "$CASS_VERSION",
    "cassandra_heap": os.environ.get("CASS_HEAP", "2G"),
    "loadavg_start": open("/proc/loadavg").read().split()[:3],
}, open(sys.argv[1], "w"), indent=2)
PY
log "results in $OUT; $ROWS rows per table, seed $SEED; work dir $WORK"

# ---- helpers ---------------------------------------------------------------------------------
now() { date +%s.%N; }
since() { "$PY" -c "import time; print(round(time.time() - $1, 2))"; }
free_port() {
    "$PY" - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}
# data files of one table dir pattern still waiting to be unlinked? wait until each
# directory holds at most one live sstable (bounded)
settle() {  # KIND DATA_DIR DEADLINE
    local kind="$1" data="$2" deadline="$3" n
    while :; do
        if [ "$kind" = helenus ]; then
            # more than one Data.db in some shard-N/tables/<id>/ ?
            n="$(find "$data" -path '*/tables/*' -name 'nb-*-Data.db' -printf '%h\n' 2>/dev/null \
                 | sort | uniq -d | wc -l)"
        else
            n="$(find "$data/diskbench" -maxdepth 2 -name '*-Data.db' -printf '%h\n' 2>/dev/null \
                 | sort | uniq -d | wc -l)"
        fi
        [ "$n" = 0 ] && return 0
        [ "$(date +%s)" -ge "$deadline" ] && { log "  $n table dirs still hold several sstables"; return 1; }
        sleep 2
    done
}
pending() {  # N from "pending tasks: N" (helenus) or "pending tasks   N" (nodetool 5.0) on stdin
    sed -n 's/^pending tasks:\{0,1\} *\([0-9]*\).*/\1/p' | head -n1
}
server_json() {  # TARGET key=value...
    local f="$OUT/json/$1-server.json"; shift
    "$PY" - "$f" "$@" <<'PY'
import json, os, sys
f = sys.argv[1]
d = json.load(open(f)) if os.path.exists(f) else {}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    try:
        v = json.loads(v)
    except ValueError:
        pass
    d[k] = v
json.dump(d, open(f, "w"), indent=2)
PY
}

load_and_check() {  # TARGET PORT
    local t="$1" port="$2"
    log "[$t] loading $ROWS rows per table"
    timeout --kill-after=10 "$LOAD_LIMIT" nice "$PY" "$DISK" load --port "$port" --rows "$ROWS" \
        --seed "$SEED" --concurrency "$CONC" --json "$OUT/json/$t-load.json" 2>&1 | tee -a "$LOG"
    [ "${PIPESTATUS[0]}" = 0 ] || { log "[$t] load failed"; return 1; }
}

after_compaction() {  # TARGET PORT DATA_DIR
    local t="$1" port="$2" data="$3"
    log "[$t] counting rows"
    timeout 900 "$PY" "$DISK" count --port "$port" --json "$OUT/json/$t-count.json" 2>&1 | tee -a "$LOG"
    log "[$t] reading a sample back"
    timeout 900 "$PY" "$DISK" verify --port "$port" --rows "$ROWS" --seed "$SEED" --sample 500 \
        --json "$OUT/json/$t-verify.json" 2>&1 | tee -a "$LOG"
    timeout 120 "$PY" "$DISK" ids --port "$port" --json "$OUT/json/$t-ids.json"
    "$PY" "$DISK" measure --kind "$t" --data "$data" --ids "$OUT/json/$t-ids.json" \
        --json "$OUT/json/$t-disk.json" 2>&1 | tee -a "$LOG"
    ( cd "$data/.." && find . -type f -printf '%s\t%p\n' | sort -k2 ) > "$OUT/logs/$t-files.txt"
}

# ---- Helenus ---------------------------------------------------------------------------------
run_helenus() {
    local dir="$WORK/helenus" port aport t0 rc
    rm -rf "$dir"; mkdir -p "$dir"
    port="$(free_port)"; aport="$(free_port)"
    log "[helenus] starting: CQL 127.0.0.1:$port, admin $aport, $SHARDS shards, data $dir/data"
    t0="$(now)"
    "$HELENUS_BIN" serve --data-dir "$dir/data" --address 127.0.0.1 --port "$port" \
        --admin-port "$aport" --shards "$SHARDS" > "$OUT/logs/helenus.log" 2>&1 < /dev/null &
    HPID=$!
    local n=0
    until "$PY" "$BENCH/cassandra/cql_ready.py" 127.0.0.1 "$port"; do
        kill -0 "$HPID" 2>/dev/null || { log "[helenus] died at start-up"; return 1; }
        n=$((n + 1)); [ "$n" -lt 600 ] || { log "[helenus] no CQL after 60 s"; return 1; }
        sleep 0.1
    done
    server_json helenus status=ok "startup_s=$(since "$t0")" "shards=$SHARDS"
    local ADM=("$HELENUS_BIN" admin -p "$aport")
    load_and_check helenus "$port" || return 1
    log "[helenus] flush"
    t0="$(now)"
    timeout "$COMPACT_LIMIT" "${ADM[@]}" flush diskbench >> "$LOG" 2>&1 \
        || { log "[helenus] admin flush failed (exit $?)"; return 1; }
    server_json helenus "flush_s=$(since "$t0")"
    "${ADM[@]}" tablestats diskbench > "$OUT/tablestats/helenus-after-flush.txt" 2>&1 || true
    log "[helenus] major compaction"
    t0="$(now)"
    timeout "$COMPACT_LIMIT" "${ADM[@]}" compact diskbench >> "$LOG" 2>&1 \
        || { log "[helenus] admin compact failed (exit $?)"; return 1; }
    local deadline=$(( $(date +%s) + COMPACT_LIMIT )) p
    while :; do
        p="$("${ADM[@]}" compactionstats 2>>"$LOG" | pending)"
        [ "$p" = 0 ] && break
        [ "$(date +%s)" -ge "$deadline" ] && { log "[helenus] compactions still pending: $p"; break; }
        sleep 2
    done
    settle helenus "$dir/data" "$deadline" || true
    server_json helenus "compact_s=$(since "$t0")"
    "${ADM[@]}" compactionstats > "$OUT/tablestats/helenus-compactionstats.txt" 2>&1 || true
    "${ADM[@]}" tablestats diskbench > "$OUT/tablestats/helenus.txt" 2>&1 || true
    "${ADM[@]}" info > "$OUT/tablestats/helenus-info.txt" 2>&1 || true
    after_compaction helenus "$port" "$dir/data"
    log "[helenus] stopping"
    t0="$(now)"
    kill -TERM "$HPID" 2>/dev/null || true
    for _ in $(seq 1500); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$HPID" 2>/dev/null; then
        log "[helenus] still running 300 s after SIGTERM: SIGKILL"
        kill -KILL "$HPID" 2>/dev/null || true
    fi
    rc=0; wait "$HPID" 2>/dev/null || rc=$?
    HPID=""
    server_json helenus "stop_s=$(since "$t0")" "exit_code=$rc"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
}

# ---- Cassandra -------------------------------------------------------------------------------
run_cassandra() {
    local dir="$WORK/cassandra" port t0
    rm -rf "$dir"
    port="$(free_port)"
    local NT=("$BENCH/cassandra/nodetool.sh" "$dir")
    log "[cassandra] starting: CQL 127.0.0.1:$port, data $dir"
    CASS_DIR="$dir"
    if ! "$BENCH/cassandra/start.sh" "$dir" "$port" periodic > "$OUT/logs/cassandra-start.log" 2>&1; then
        log "[cassandra] did not start: $(tail -n 3 "$OUT/logs/cassandra-start.log" | tr '\n' ' ')"
        return 1
    fi
    server_json cassandra status=ok "startup_s=$(cat "$dir/startup_seconds")"
    load_and_check cassandra "$port" || return 1
    log "[cassandra] nodetool flush"
    t0="$(now)"
    CASS_NODETOOL_TIMEOUT="$COMPACT_LIMIT" "${NT[@]}" flush diskbench >> "$LOG" 2>&1 \
        || { log "[cassandra] nodetool flush failed"; return 1; }
    server_json cassandra "flush_s=$(since "$t0")"
    "${NT[@]}" tablestats diskbench > "$OUT/tablestats/cassandra-after-flush.txt" 2>&1 || true
    log "[cassandra] nodetool compact"
    t0="$(now)"
    CASS_NODETOOL_TIMEOUT="$COMPACT_LIMIT" "${NT[@]}" compact diskbench >> "$LOG" 2>&1 \
        || { log "[cassandra] nodetool compact failed"; return 1; }
    local deadline=$(( $(date +%s) + COMPACT_LIMIT )) p
    while :; do
        p="$("${NT[@]}" compactionstats 2>>"$LOG" | pending)"
        [ "$p" = 0 ] && break
        [ "$(date +%s)" -ge "$deadline" ] && { log "[cassandra] compactions still pending: $p"; break; }
        sleep 3
    done
    settle cassandra "$dir/data/data" "$deadline" || true
    server_json cassandra "compact_s=$(since "$t0")"
    "${NT[@]}" compactionstats > "$OUT/tablestats/cassandra-compactionstats.txt" 2>&1 || true
    "${NT[@]}" tablestats diskbench > "$OUT/tablestats/cassandra.txt" 2>&1 || true
    after_compaction cassandra "$port" "$dir/data/data"
    log "[cassandra] stopping"
    t0="$(now)"
    "$BENCH/cassandra/stop.sh" "$dir" >> "$LOG" 2>&1 || true
    CASS_DIR=""
    server_json cassandra "stop_s=$(since "$t0")"
    cp "$dir/system.log" "$OUT/logs/cassandra-system.log" 2>/dev/null || true
    [ "$KEEP" = 1 ] || rm -rf "$dir"
}

STATUS=0
for t in $TARGETS; do
    case "$t" in
        helenus) run_helenus || { STATUS=1; server_json helenus status=failed; } ;;
        cassandra) run_cassandra || { STATUS=1; server_json cassandra status=failed; } ;;
        *) log "unknown target $t"; STATUS=2 ;;
    esac
done

"$PY" - "$OUT/json/machine.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
log "writing the report"
"$PY" "$DISK" report --out "$OUT" | tee -a "$LOG"
log "done: $OUT/report.md"
exit "$STATUS"
