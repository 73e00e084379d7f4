#!/usr/bin/env bash
# What an open dashboard costs the server: `faas server` on a private
# Redis (and a local dispatcher), idle, measured for SECONDS with no page
# open and then with /ui open in headless Chromium (refreshing once a
# second): the server's and Redis's CPU time over each, from /proc.
# Usage: scripts/bench-dashboard.sh [SECONDS]   (default 60)
SECONDS_EACH=${1:-60}
source "$(dirname "$0")/lib.sh"
export FAAS_CONFIG_DIR="$OUT/dashboard-config"; rm -rf "$FAAS_CONFIG_DIR"
start_redis
PORT=$(free_port)
$FAAS server --redis "$REDIS" --port "$PORT" > "$OUT/dashboard-server.log" 2>&1 & PIDS+=($!)
SERVER=$!
wait_line "$OUT/dashboard-server.log" "listening on"
$FAAS dispatcher --redis "$REDIS" -m local -w 2 > "$OUT/dashboard-dispatcher.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/dashboard-dispatcher.log" "dispatcher ready"
TOKEN=$(sed -n 's/^token = //p' "$FAAS_CONFIG_DIR/credentials" | tail -1)
REDIS_PID=$(redis-cli -p "$REDIS_PORT" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
measure() {  # LABEL COMMAND...: CPU of the server and Redis while COMMAND runs
    local label=$1; shift
    local s0 r0 s1 r1 t0 t1
    s0=$(ticks "$SERVER"); r0=$(ticks "$REDIS_PID"); t0=$(date +%s.%N)
    "$@"
    s1=$(ticks "$SERVER"); r1=$(ticks "$REDIS_PID"); t1=$(date +%s.%N)
    python3 -c "import sys; s, r, hz, t = map(float, sys.argv[1:]); print(f'$label: server {s / hz / t:.2%} of a core, Redis {r / hz / t:.2%} of a core, over {t:.0f} s')" \
        "$((s1 - s0))" "$((r1 - r0))" "$HZ" "$(python3 -c "print($t1 - $t0)")"
}
measure "no page open" sleep "$SECONDS_EACH"
measure "/ui open" python3 scripts/dashboard-open.py "http://127.0.0.1:$PORT" "$TOKEN" "$SECONDS_EACH"
