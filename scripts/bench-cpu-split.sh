#!/usr/bin/env bash
# Where the CPU goes, an older faas binary against this one: for each, a
# private Redis, `faas server` and a dispatcher (local mode with 2 slots, or
# push or pull mode with one worker of 2 slots), 300,000
# batched no-ops through `faas bench`, then each process's CPU time (from
# /proc) and Redis' own time in its scripts (INFO commandstats). Less
# noisy than throughput on a shared machine: other tenants' load slows a
# process without adding to its CPU time.
# Usage: scripts/bench-cpu-split.sh OLD_FAAS_BINARY [ROUNDS] [local|push|pull]   (default 3, local; about 40 s a side)
OLD=$(realpath "${1:?the older faas binary}")
ROUNDS=${2:-3}
MODE=${3:-local}
source "$(dirname "$0")/lib.sh"
export FAAS_CONFIG_DIR="$OUT/cpu-split-config"; rm -rf "$FAAS_CONFIG_DIR"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# one BIN LABEL: prints "LABEL redis SERVER DISPATCHER SCRIPTS WORKER" (CPU in 1/100 s, scripts in us).
one() {
    local bin=$1 label=$2 rport sport zport server dispatcher worker redis_pid
    rport=$(free_port); sport=$(free_port); zport=$(free_port)
    redis-server --port "$rport" --save "" --appendonly no --daemonize yes --pidfile "$OUT/split-redis.pid" >/dev/null
    sleep 0.3; redis_pid=$(cat "$OUT/split-redis.pid")
    "$bin" server --redis "redis://127.0.0.1:$rport" --port "$sport" > "$OUT/split-server.log" 2>&1 & server=$!
    "$bin" dispatcher --redis "redis://127.0.0.1:$rport" -m "$MODE" -w 2 -p "$zport" > "$OUT/split-dispatcher.log" 2>&1 & dispatcher=$!
    EXEC=("$server" "$dispatcher")
    wait_line "$OUT/split-server.log" "listening on"; wait_line "$OUT/split-dispatcher.log" "dispatcher ready"
    worker=""
    if [ "$MODE" != local ]; then
        "$bin" worker "$MODE" 2 "tcp://127.0.0.1:$zport" > "$OUT/split-worker.log" 2>&1 & worker=$!
        EXEC+=("$worker"); wait_line "$OUT/split-worker.log" "worker ready"
    fi
    local r0 s0 d0 w0=0; r0=$(ticks "$redis_pid"); s0=$(ticks "$server"); d0=$(ticks "$dispatcher")
    [ -n "$worker" ] && w0=$(ticks "$worker")
    $FAAS bench --url "http://127.0.0.1:$sport" --tasks 100000 --rounds 3 --latency-samples 10 > /dev/null
    local scripts; scripts=$(redis-cli -p "$rport" info commandstats | sed -n 's/^cmdstat_evalsha:calls=[0-9]*,usec=\([0-9]*\),.*/\1/p')
    local w1=0; [ -n "$worker" ] && w1=$(ticks "$worker")
    echo "$label $(( $(ticks "$redis_pid") - r0 )) $(( $(ticks "$server") - s0 )) $(( $(ticks "$dispatcher") - d0 )) $scripts $(( w1 - w0 ))"
    stop_exec
    redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
}
for _ in $(seq "$ROUNDS"); do one "$OLD" old; one "$FAAS" new; done | tee "$OUT/cpu-split-$MODE.txt"
awk '{r[$1]+=$2; s[$1]+=$3; d[$1]+=$4; l[$1]+=$5; w[$1]+=$6; n[$1]++}
     END {for (k in r) printf "%s: CPU us per task: redis %.1f (scripts %.1f), server %.1f, dispatcher %.1f, worker %.1f, all %.1f\n",
          k, r[k]*1e4/(n[k]*3e5), l[k]/(n[k]*3e5), s[k]*1e4/(n[k]*3e5), d[k]*1e4/(n[k]*3e5), w[k]*1e4/(n[k]*3e5), (r[k]+s[k]+d[k]+w[k])*1e4/(n[k]*3e5)}' "$OUT/cpu-split-$MODE.txt"
