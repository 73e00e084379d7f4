#!/usr/bin/env bash
# Where the CPU goes, an older faas binary against this one: for each, a
# private Redis, `faas server` and a local dispatcher (2 slots), 300,000
# batched no-ops through `faas bench`, then each process's CPU time (from
# /proc) and Redis' own time in its scripts (INFO commandstats). Less
# noisy than throughput on a shared machine: other tenants' load slows a
# process without adding to its CPU time.
# Usage: scripts/bench-cpu-split.sh OLD_FAAS_BINARY [ROUNDS]   (default 3; about 40 s a side)
OLD=$(realpath "${1:?the older faas binary}")
ROUNDS=${2:-3}
source "$(dirname "$0")/lib.sh"
export FAAS_CONFIG_DIR="$OUT/cpu-split-config"; rm -rf "$FAAS_CONFIG_DIR"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# one BIN LABEL: prints "LABEL redis SERVER DISPATCHER SCRIPTS" (CPU in 1/100 s, scripts in us).
one() {
    local bin=$1 label=$2 rport sport server dispatcher redis_pid
    rport=$(free_port); sport=$(free_port)
    redis-server --port "$rport" --save "" --appendonly no --daemonize yes --pidfile "$OUT/split-redis.pid" >/dev/null
    sleep 0.3; redis_pid=$(cat "$OUT/split-redis.pid")
    "$bin" server --redis "redis://127.0.0.1:$rport" --port "$sport" > "$OUT/split-server.log" 2>&1 & server=$!
    "$bin" dispatcher --redis "redis://127.0.0.1:$rport" -m local -w 2 > "$OUT/split-dispatcher.log" 2>&1 & dispatcher=$!
    EXEC=("$server" "$dispatcher")
    wait_line "$OUT/split-server.log" "listening on"; wait_line "$OUT/split-dispatcher.log" "dispatcher ready"
    local r0 s0 d0; r0=$(ticks "$redis_pid"); s0=$(ticks "$server"); d0=$(ticks "$dispatcher")
    $FAAS bench --url "http://127.0.0.1:$sport" --tasks 100000 --rounds 3 --latency-samples 10 > /dev/null
    local scripts; scripts=$(redis-cli -p "$rport" info commandstats | sed -n 's/^cmdstat_evalsha:calls=[0-9]*,usec=\([0-9]*\),.*/\1/p')
    echo "$label $(( $(ticks "$redis_pid") - r0 )) $(( $(ticks "$server") - s0 )) $(( $(ticks "$dispatcher") - d0 )) $scripts"
    kill "$server" "$dispatcher"; wait "$server" "$dispatcher" 2>/dev/null || true
    redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
}
for _ in $(seq "$ROUNDS"); do one "$OLD" old; one "$FAAS" new; done | tee "$OUT/cpu-split.txt"
awk '{r[$1]+=$2; s[$1]+=$3; d[$1]+=$4; l[$1]+=$5; n[$1]++}
     END {for (k in r) printf "%s: CPU us per task: redis %.1f (scripts %.1f), server %.1f, dispatcher %.1f, all %.1f\n",
          k, r[k]*1e4/(n[k]*3e5), l[k]/(n[k]*3e5), s[k]*1e4/(n[k]*3e5), d[k]*1e4/(n[k]*3e5), (r[k]+s[k]+d[k])*1e4/(n[k]*3e5)}' "$OUT/cpu-split.txt"
