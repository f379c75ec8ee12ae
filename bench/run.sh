#!/usr/bin/env bash
# bench/run.sh quick|full [options]
#
# Runs every helenus-stress workload against Helenus and against an Apache
# Cassandra 5.0 peer on the same machine, with the same client, and writes
# bench/results/<UTC date>-<name>/: the raw JSON of every run, report.md
# (medians, Helenus/Cassandra ratios, machine, versions, settings,
# durability, pinning) and PNG plots. See bench/README.md, "Load generator
# and workloads".
#
# Options:
#   --name NAME          results directory suffix (default: the mode)
#   --sync MODE          periodic (default, both servers' default) or batch
#   --targets "A B"      helenus and/or cassandra (default both)
#   --workloads "W ..."  measured workloads (default: all of them)
#   --work DIR           where the servers' data directories go
#                        (default /tmp/helenus-bench.<pid>; removed at the end)
#   --keep-data          do not remove the data directories
#   --helenus BIN        use this helenus binary instead of building one
#                        (the report records it; it should be a Release build)
#
# Environment: CASS_HEAP (peer heap, default 2G), BENCH_CONNECTIONS (4),
# BENCH_CONCURRENCY (64), BENCH_CLIENT_THREADS (1); BENCH_WARMUP,
# BENCH_DURATION, BENCH_REPS override the mode's values (for smoke tests);
# BENCH_RUN_SLACK, BENCH_OPS_LIMIT, BENCH_MIN_FREE_GB, BENCH_STOP_LIMIT bound
# each run, the disk use and the Helenus stop (see below).
#
# What happens, per target (helenus, then cassandra):
#   1. start the server pinned to its CPUs (taskset), fresh data directory;
#      time from spawn to the first answered query (bench/probe.py);
#      idle RSS 5 s later;
#   2. load phase: each data set is written once (recorded as load_*.json);
#   3. each workload: REPS closed-loop runs (after a warm-up) -> max ops/s
#      and latencies; then, for the sweep workloads, open-loop runs at
#      fractions of that target's median max ops/s (latency vs throughput);
#   4. peak RSS (sampled every 0.5 s), data size on disk, stop time.
# The client runs pinned to the other CPUs. Only processes this script
# started are stopped (by PID), also on Ctrl-C.
set -euo pipefail

usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 2; }
[ $# -ge 1 ] || usage
MODE="$1"; shift
case "$MODE" in quick|full) ;; -h|--help) usage ;; *) usage ;; esac

NAME="$MODE"; SYNC=periodic; TARGETS="helenus cassandra"; WORKLOADS=""; WORK=""; KEEP=0
HELENUS_BIN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --name) NAME="$2"; shift 2 ;;
        --sync) SYNC="$2"; shift 2 ;;
        --targets) TARGETS="$2"; shift 2 ;;
        --workloads) WORKLOADS="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --keep-data) KEEP=1; shift ;;
        --helenus) HELENUS_BIN="$(realpath "$2")"; shift 2 ;;
        *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
done
case "$SYNC" in periodic|batch) ;; *) echo "run.sh: --sync periodic|batch" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
BUILD="$ROOT/build/bench"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="$BENCH/results/$STAMP-$NAME"
WORK="${WORK:-/tmp/helenus-bench.$$}"
mkdir -p "$OUT"/{json,logs} "$WORK"
LOG="$OUT/logs/run.log"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# disk: the data directory's size and the free space left on its file system
# (closed-loop writes grow the data set with the server's speed)
free_gb() { df -P -k "$WORK" | awk 'NR == 2 {printf "%.1f\n", $4 / 1048576}'; }
disk_note() { echo "data dir $(du -sk "$1" 2>/dev/null | awk '{printf "%.2f", $1 / 1048576}') GiB, $(free_gb) GiB free"; }
disk_low() { awk -v f="$(free_gb)" -v m="$MIN_FREE_GB" 'BEGIN {exit !(f < m)}'; }

# ---- mode parameters ----------------------------------------------------------
# SWEEP_WORKLOADS: open-loop runs at SWEEP_FRACTIONS of the workload's median
# closed-loop max; "workload:f1,f2" gives a workload its own fractions.
# feature-read is swept at 0.5 in both modes: "throughput and latency at 50 %
# of the peak rate" is the figure asked for the feature-serving workload.
if [ "$MODE" = quick ]; then
    # ~11 min on the 2-core reference machine (both targets)
    WARMUP=3; DURATION=5; REPS=3
    SWEEP_FRACTIONS="0.25 0.5 0.8"
    SWEEP_WORKLOADS="standard1-read standard1-write feature-read:0.5"
    K_STD=100000; K_FEAT=5000; K_IOT=1000; K_BLOB=500; K_VEC=2000
else
    # ~75 min on the 2-core reference machine (both targets): per target
    # 11 timed workloads x 5 x 25 s + 6 sweeps x 5 fractions x 25 s + loads
    WARMUP=5; DURATION=20; REPS=5
    SWEEP_FRACTIONS="0.1 0.3 0.5 0.7 0.9"
    SWEEP_WORKLOADS="standard1-read standard1-write standard1-mixed feature-read iot-write iot-read"
    K_STD=1000000; K_FEAT=50000; K_IOT=10000; K_BLOB=5000; K_VEC=10000
fi
WARMUP="${BENCH_WARMUP:-$WARMUP}"; DURATION="${BENCH_DURATION:-$DURATION}"; REPS="${BENCH_REPS:-$REPS}"
ALL_WORKLOADS="standard1-write standard1-read standard1-mixed feature-load feature-read fmap-write fmap-read iot-write iot-read blob-load blob-read vector-load vector-ann vfilt-ann1 vfilt-ann10 vfilt-part proto-local"
WORKLOADS="${WORKLOADS:-$ALL_WORKLOADS}"
CONNS="${BENCH_CONNECTIONS:-4}"
# Vector workloads run with 2 requests in flight: Cassandra 5.0.9 fails
# concurrent SAI vector inserts once more writers than jvector's per-graph
# pool limit (2) meet ("Number of outstanding pooled objects has gone beyond
# the limit of 2", CASSANDRA-21644); with 256 in flight most inserts failed
# and the index missed most rows. Same settings for both servers.
VEC_CLIENT=(--connections 1 --concurrency 2)
# Vector queries (vector-ann, vfilt-ann*, vfilt-part) are not limited by
# that bug: they run with BENCH_VEC_QUERY_CONNECTIONS (2) x
# BENCH_VEC_QUERY_CONCURRENCY (16) in flight, enough to keep either server's
# one core busy, so that ops/s is throughput and not one request's round
# trip. BENCH_VEC_QUERY_CONCURRENCY=2 with CONNECTIONS=1 gives the earlier
# latency-bound setting (1 x 2).
VEC_QUERY_CLIENT=(--connections "${BENCH_VEC_QUERY_CONNECTIONS:-2}"
                  --concurrency "${BENCH_VEC_QUERY_CONCURRENCY:-16}")
CONC="${BENCH_CONCURRENCY:-64}"
THREADS="${BENCH_CLIENT_THREADS:-1}"
# bounds: a timed run is killed WARMUP + DURATION + BENCH_RUN_SLACK (120) s after
# its start, an ops-bound one (loads, blob-load) after BENCH_OPS_LIMIT (1800) s; no
# write workload starts with less than BENCH_MIN_FREE_GB (10) GiB free on the
# data directory's file system
RUN_LIMIT_S=$((WARMUP + DURATION + ${BENCH_RUN_SLACK:-120}))
OPS_LIMIT_S="${BENCH_OPS_LIMIT:-1800}"
MIN_FREE_GB="${BENCH_MIN_FREE_GB:-10}"

sweep_fractions_of() {  # WORKLOAD -> its sweep fractions (empty: not swept)
    local e
    for e in $SWEEP_WORKLOADS; do
        if [ "$e" = "$1" ]; then echo "$SWEEP_FRACTIONS"; return; fi
        if [ "${e%%:*}" = "$1" ] && [ "$e" != "${e%%:*}" ]; then echo "${e#*:}" | tr ',' ' '; return; fi
    done
}

keys_of() {
    case "$1" in
        standard1-*) echo "$K_STD" ;; feature-*) echo "$K_FEAT" ;; iot-*) echo "$K_IOT" ;;
        fmap-*) echo "$K_FEAT" ;;
        blob-*) echo "$K_BLOB" ;; vector-*|vfilt-*) echo "$K_VEC" ;; proto-*) echo 1 ;;
    esac
}

# ---- CPU pinning ----------------------------------------------------------------
NCPU="$(nproc)"
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
    HALF=$((NCPU / 2))
    range() { if [ "$1" = "$2" ]; then echo "$1"; else echo "$1-$2"; fi; }
    CLIENT_CPUS="$(range 0 $((HALF - 1)))"
    SERVER_CPUS="$(range "$HALF" $((NCPU - 1)))"
    SERVER_NCPU=$((NCPU - HALF))
    PINNING="server on CPUs $SERVER_CPUS, client on CPUs $CLIENT_CPUS (taskset)"
else
    CLIENT_CPUS=""; SERVER_CPUS=""; SERVER_NCPU="$NCPU"
    PINNING="none (1 CPU or no taskset): server and client share the CPUs"
fi
pin() { if [ -n "$1" ]; then echo "taskset -c $1"; fi; }

# ---- cleanup: only what we started ------------------------------------------------
HPID=""; CASS_DIR=""; SAMPLER=""
cleanup() {
    set +e
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    if [ -n "$HPID" ] && kill -0 "$HPID" 2>/dev/null; then
        kill -TERM "$HPID"; for _ in $(seq 100); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$HPID" 2>/dev/null
    fi
    [ -n "$CASS_DIR" ] && "$BENCH/cassandra/stop.sh" "$CASS_DIR" >/dev/null 2>&1
    if [ "$KEEP" = 0 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build -------------------------------------------------------------------------
BUILD_TARGETS="helenus helenus-stress"
[ -n "$HELENUS_BIN" ] && BUILD_TARGETS="helenus-stress"
log "building $BUILD_TARGETS (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >> "$LOG" 2>&1
# shellcheck disable=SC2086
ninja -C "$BUILD" -j"$NCPU" $BUILD_TARGETS >> "$LOG" 2>&1 \
    || { echo "run.sh: build failed, see $LOG" >&2; grep -m3 'error' "$LOG" >&2; exit 1; }
STRESS="$BUILD/helenus-stress"
HELENUS_BIN="${HELENUS_BIN:-$BUILD/helenus}"

# ---- python for the report ------------------------------------------------------------
PY=python3
if [ ! -x "$BENCH/.venv/bin/python" ]; then
    log "creating bench/.venv with matplotlib (PyPI)"
    python3 -m venv "$BENCH/.venv" >> "$LOG" 2>&1 || true
fi
if [ -x "$BENCH/.venv/bin/python" ]; then
    if ! "$BENCH/.venv/bin/python" -c "import matplotlib" 2>/dev/null; then
        "$BENCH/.venv/bin/pip" install -q matplotlib >> "$LOG" 2>&1 \
            || log "warning: pip install matplotlib failed; the report will have no plots"
    fi
    PY="$BENCH/.venv/bin/python"
fi

# ---- Cassandra peer ---------------------------------------------------------------------
if [[ " $TARGETS " == *" cassandra "* ]]; then
    if [ ! -x "$BENCH/cassandra/setup.sh" ]; then
        log "bench/cassandra/ is missing: the Cassandra peer is skipped"
        TARGETS="${TARGETS/cassandra/}"
    elif ! "$BENCH/cassandra/setup.sh" >> "$LOG" 2>&1; then
        log "bench/cassandra/setup.sh failed (see $LOG): the Cassandra peer is skipped"
        TARGETS="${TARGETS/cassandra/}"
    fi
fi

# ---- machine and versions ----------------------------------------------------------------
HELENUS_VERSION="$("$HELENUS_BIN" --version 2>&1 | head -n1)"
GIT_COMMIT="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
GIT_DIRTY="$(git -C "$ROOT" status --porcelain -- . ":!bench/results" 2>/dev/null | wc -l)"
CASS_VERSION="$(ls "$BENCH"/cassandra/lib/cassandra-all-*.jar 2>/dev/null | head -n1 | sed 's/.*cassandra-all-\(.*\)\.jar/\1/' || true)"
"$PY" - "$OUT/json/machine.json" <<PY
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""
model = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        model = line.split(":", 1)[1].strip(); break
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
json.dump({
    "mode": "$MODE", "name": "$NAME", "stamp": "$STAMP",
    "cpu_model": model, "cpus": os.cpu_count(), "mem_gib": round(int(mem) / 1048576, 1),
    "kernel": platform.release(), "os": sh(". /etc/os-release && echo \$PRETTY_NAME"),
    "cc": sh("cc --version | head -n1"), "java": sh("java -version 2>&1 | head -n1"),
    "python": platform.python_version(), "libuv": sh("pkg-config --modversion libuv"),
    "helenus_version": "$HELENUS_VERSION", "git_commit": "$GIT_COMMIT",
    "helenus_binary": "$HELENUS_BIN", "helenus_built_here": "$HELENUS_BIN" == "$BUILD/helenus",
    "git_dirty_files": int("$GIT_DIRTY" or 0), "cassandra_version": "$CASS_VERSION",
    "cassandra_heap": os.environ.get("CASS_HEAP", "2G"),
    "sync": "$SYNC", "pinning": "$PINNING", "server_cpus": "$SERVER_CPUS",
    "client_cpus": "$CLIENT_CPUS", "server_ncpu": $SERVER_NCPU,
    "warmup_s": $WARMUP, "duration_s": $DURATION, "reps": $REPS,
    "connections": $CONNS, "concurrency": $CONC, "client_threads": $THREADS,
    "vec_query_client": "${VEC_QUERY_CLIENT[1]} x ${VEC_QUERY_CLIENT[3]}",
    "sweep_fractions": "$SWEEP_FRACTIONS".split(), "sweep_workloads": "$SWEEP_WORKLOADS".split(),
    "keys": {"standard1": $K_STD, "feature": $K_FEAT, "iot": $K_IOT, "blob": $K_BLOB, "vector": $K_VEC},
    "loadavg_start": open("/proc/loadavg").read().split()[:3],
}, open(sys.argv[1], "w"), indent=2)
PY
log "results in $OUT; pinning: $PINNING; sync: $SYNC; targets: $TARGETS"
log "$WARMUP s warm-up + $DURATION s x $REPS per workload; data in $WORK, $(free_gb) GiB free"
if [ "$MODE" = full ] && [[ " $TARGETS " == *" helenus "* ]] && [ "$DURATION" -ge 20 ] \
        && awk -v f="$(free_gb)" 'BEGIN {exit !(f < 70)}'; then
    log "warning: a full run can write tens of GB (closed-loop writes grow with the" \
        "server's speed); write workloads are skipped below" \
        "$MIN_FREE_GB GiB free (BENCH_MIN_FREE_GB)"
fi

# ---- helpers ---------------------------------------------------------------------------------
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

start_sampler() {  # PID FILE: VmRSS every 0.5 s while PID lives
    ( while kill -0 "$1" 2>/dev/null; do
          echo "$(date +%s.%N) $(rss_kb "$1")"; sleep 0.5
      done > "$2" ) &
    SAMPLER=$!
}

# stress TARGET PORT LABEL ARGS... -> runs helenus-stress, JSON to json/TARGET/LABEL.json;
# returns its exit code
stress() {
    local target="$1" port="$2" label="$3"; shift 3
    local json="$OUT/json/$target/$label.json"
    mkdir -p "$OUT/json/$target"
    local rc=0 limit="$RUN_LIMIT_S"
    # ops-bound runs (loads, blob-load) get the larger limit
    [[ " $* " == *" --ops "* ]] && limit="$OPS_LIMIT_S"
    rm -f "$json"
    echo "[$(date -u +%H:%M:%S)] $label: $*" >> "$OUT/logs/$target-stress.log"
    timeout --kill-after=10 "$limit" \
        $(pin "$CLIENT_CPUS") "$STRESS" --host 127.0.0.1 --port "$port" --json "$json" --quiet \
        --threads "$THREADS" "$@" >> "$OUT/logs/$target-stress.log" 2>&1 || rc=$?
    if [ ! -s "$json" ]; then  # killed or crashed: leave a record for the report
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            printf '{"status": "timeout", "message": "killed after the run limit of %s s"}\n' \
                "$limit" > "$json"
        else
            printf '{"status": "failed", "message": "helenus-stress exited with %s, no JSON"}\n' \
                "$rc" > "$json"
        fi
    fi
    echo "$rc"
}

median_ops() {  # files... -> median ops_per_s of the ok ones
    "$PY" - "$@" <<'PY'
import json, statistics, sys
v = []
for f in sys.argv[1:]:
    try:
        d = json.load(open(f))
        if d.get("status") == "ok":
            v.append(d["results"]["ops_per_s"])
    except Exception:
        pass
print(statistics.median(v) if v else 0)
PY
}

load_args() {  # the load run that fills the data set a read workload needs
    case "$1" in
        standard1) echo "--workload standard1-write --ops $K_STD --keys $K_STD --dist seq" ;;
        feature) echo "--workload feature-load --ops $((K_FEAT * 20)) --keys $K_FEAT --dist seq" ;;
        fmap) echo "--workload fmap-write --ops $K_FEAT --keys $K_FEAT --dist seq" ;;
        iot) echo "--workload iot-write --ops $((K_IOT * 30)) --keys $K_IOT --dist seq" ;;
        blob) echo "--workload blob-load --ops $K_BLOB --keys $K_BLOB --dist seq --connections 2 --concurrency 8" ;;
        vector) echo "--workload vector-load --ops $K_VEC --keys $K_VEC --dist seq" ;;  # + VEC_CLIENT
        vfilt) echo "--workload vfilt-load --ops $K_VEC --keys $K_VEC --dist seq" ;;  # + VEC_CLIENT
    esac
}

run_target() {
    local target="$1" port="$2"
    local tdir="$WORK/$target" meta="$OUT/json/$target/server.json"
    rm -rf "$tdir"; mkdir -p "$tdir" "$OUT/json/$target"
    local pid t0 probe startup
    log "[$target] starting (CPUs ${SERVER_CPUS:-all}, sync $SYNC)"
    t0="$(date +%s.%N)"
    if [ "$target" = helenus ]; then
        $(pin "$SERVER_CPUS") "$HELENUS_BIN" serve --data-dir "$tdir/data" --address 127.0.0.1 \
            --port "$port" --shards "$SERVER_NCPU" --commitlog-sync "$SYNC" \
            > "$OUT/logs/helenus.stderr" 2>&1 < /dev/null &
        HPID=$!
        pid=$HPID
    else
        CASS_DIR="$tdir"
        if ! "$BENCH/cassandra/start.sh" "$tdir" "$port" "$SYNC" $SERVER_CPUS \
                > "$OUT/logs/cassandra-start.log" 2>&1; then
            log "[$target] did not start: $(tail -n 3 "$OUT/logs/cassandra-start.log" | tr '\n' ' ')"
            CASS_DIR=""
            echo '{"status": "failed to start"}' > "$meta"
            return
        fi
        pid="$(cat "$tdir/cassandra.pid")"
    fi
    if ! probe="$("$PY" "$BENCH/probe.py" 127.0.0.1 "$port" 240)"; then
        log "[$target] no answer to a query within 240 s"
        echo '{"status": "no answer"}' > "$meta"
        return
    fi
    startup="$("$PY" -c "import time; print(round(time.time() - $t0, 3))")"
    log "[$target] first query answered after ${startup} s ($probe)"
    start_sampler "$pid" "$OUT/logs/$target-rss.log"
    sleep 5
    local idle_rss; idle_rss="$(rss_kb "$pid")"

    # load phase
    local set rc
    for set in standard1 feature fmap iot blob vector vfilt; do
        # only the data sets the selected workloads read or extend
        [[ " $WORKLOADS " == *" $set-"* ]] || continue
        log "[$target] load $set"
        # shellcheck disable=SC2046
        local conn=(--connections "$CONNS" --concurrency "$CONC")
        case "$set" in vector|vfilt) conn=("${VEC_CLIENT[@]}") ;; esac
        rc="$(stress "$target" "$port" "load_$set" $(load_args "$set") "${conn[@]}")"
        [ "$rc" = 0 ] || log "[$target] load $set: exit $rc"
        if ! kill -0 "$pid" 2>/dev/null; then log "[$target] server died"; break; fi
    done
    log "[$target] loaded: $(disk_note "$tdir")"

    # measured workloads
    local w k i extra
    for w in $WORKLOADS; do
        kill -0 "$pid" 2>/dev/null || { log "[$target] server is gone; skipping the rest"; break; }
        k="$(keys_of "$w")"
        extra=(--connections "$CONNS" --concurrency "$CONC")
        case "$w" in
            blob-*) extra=(--connections 2 --concurrency 8) ;;
            vector-load|vfilt-load) extra=("${VEC_CLIENT[@]}") ;;
            vector-*|vfilt-*) extra=("${VEC_QUERY_CLIENT[@]}") ;;
        esac
        local files=() writes=0
        case "$w" in *-write|*-load|*-mixed) writes=1 ;; esac
        if [ "$writes" = 1 ] && disk_low; then
            log "[$target] $w: skipped, less than $MIN_FREE_GB GiB free ($(disk_note "$tdir"))"
            printf '{"status": "skipped", "message": "less than %s GiB of disk free"}\n' \
                "$MIN_FREE_GB" > "$OUT/json/$target/$w.1.json"
            continue
        fi
        for i in $(seq "$REPS"); do
            if [ "$writes" = 1 ] && [ "$i" -gt 1 ] && disk_low; then
                log "[$target] $w: stopped after $((i - 1)) runs, less than $MIN_FREE_GB GiB free"
                break
            fi
            if [ "$w" = blob-load ]; then
                rc="$(stress "$target" "$port" "$w.$i" --workload "$w" --keys "$k" \
                      --ops $((K_BLOB * 2)) --warmup "$WARMUP" "${extra[@]}")"
            else
                rc="$(stress "$target" "$port" "$w.$i" --workload "$w" --keys "$k" \
                      --duration "$DURATION" --warmup "$WARMUP" "${extra[@]}")"
            fi
            files+=("$OUT/json/$target/$w.$i.json")
            if [ "$rc" = 3 ]; then log "[$target] $w: unsupported"; break; fi
            [ "$rc" = 0 ] || log "[$target] $w run $i: exit $rc"
        done
        local med; med="$(median_ops "${files[@]}")"
        [ "$rc" = 3 ] || log "[$target] $w: median $(printf '%.0f' "$med") ops/s; $(disk_note "$tdir")"
        local fracs; fracs="$(sweep_fractions_of "$w")"
        if [ -n "$fracs" ] && [ "${med%.*}" -gt 0 ]; then
            local f rate
            for f in $fracs; do
                rate="$("$PY" -c "print(max(1, round($med * $f)))")"
                if [ "$writes" = 1 ] && disk_low; then
                    log "[$target] sweep $w: stopped, less than $MIN_FREE_GB GiB free"; break
                fi
                rc="$(stress "$target" "$port" "sweep_$w.$f" --workload "$w" --keys "$k" \
                      --duration "$DURATION" --warmup "$WARMUP" --rate "$rate" "${extra[@]}")"
                [ "$rc" = 0 ] || log "[$target] sweep $w at $rate/s: exit $rc"
            done
            log "[$target] sweep $w at $fracs of max: done"
        fi
    done

    # resources, stop
    local final_rss peak_rss du_live du_data stop_s t1
    final_rss="$(rss_kb "$pid")"
    du_live="$(du -sb "$tdir" 2>/dev/null | cut -f1)"
    t1="$(date +%s.%N)"
    if [ "$target" = helenus ]; then
        # bounded: SIGKILL after BENCH_STOP_LIMIT s (default 300)
        kill -TERM "$pid" 2>/dev/null || true
        local n=0
        while kill -0 "$pid" 2>/dev/null && [ "$n" -lt $((${BENCH_STOP_LIMIT:-300} * 10)) ]; do
            sleep 0.1; n=$((n + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "[$target] still running ${BENCH_STOP_LIMIT:-300} s after SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        HPID=""
    else
        "$BENCH/cassandra/stop.sh" "$tdir" >> "$OUT/logs/cassandra-start.log" 2>&1 || true
        CASS_DIR=""
    fi
    stop_s="$("$PY" -c "import time; print(round(time.time() - $t1, 3))")"
    kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
    peak_rss="$(awk 'BEGIN{m=0} {if ($2 > m) m = $2} END{printf "%.0f\n", m}' "$OUT/logs/$target-rss.log")"
    # after the clean stop both servers have flushed their memtables
    if [ "$target" = helenus ]; then
        du_data="$("$PY" -c 'import os, sys
print(sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sys.argv[1])
          if "/commitlog" not in d for f in fs))' "$tdir/data")"
    else
        du_data="$(du -sb "$tdir/data/data" 2>/dev/null | cut -f1)"
    fi
    local du_total; du_total="$(du -sb "$tdir" | cut -f1)"
    if "$PY" - "$meta" <<PY
import json, sys
json.dump({"status": "ok", "startup_s": $startup, "probe": $probe,
           "idle_rss_kb": int("$idle_rss" or 0), "peak_rss_kb": int("$peak_rss" or 0),
           "final_rss_kb": int("$final_rss" or 0), "disk_bytes_live": int("$du_live" or 0),
           "disk_bytes_after_stop": int("$du_total" or 0),
           "data_bytes_after_stop": int("$du_data" or 0), "stop_s": $stop_s,
           "cpus": "${SERVER_CPUS:-all}", "sync": "$SYNC"}, open(sys.argv[1], "w"), indent=2)
PY
    then :; else log "[$target] could not write $meta"; fi
    log "[$target] done: idle RSS ${idle_rss} kB, peak ${peak_rss} kB, data ${du_data} B, stop ${stop_s} s"
    [ -f "$tdir/system.log" ] && cp "$tdir/system.log" "$OUT/logs/cassandra-system.log"
    # data sets are large: free the disk before the next target
    if [ "$KEEP" = 0 ]; then rm -rf "$tdir"; fi
}

PORT_BASE=$((20000 + $$ % 5000))
for t in $TARGETS; do
    case "$t" in
        helenus) run_target helenus "$PORT_BASE" ;;
        cassandra) run_target cassandra "$((PORT_BASE + 1))" ;;
        *) log "unknown target $t" ;;
    esac
done

"$PY" - "$OUT/json/machine.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
log "writing the report"
"$PY" "$BENCH/report.py" "$OUT" >> "$LOG" 2>&1 || log "report.py failed (see $LOG)"
log "done: $OUT/report.md"
