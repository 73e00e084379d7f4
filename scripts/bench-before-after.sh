#!/usr/bin/env bash
# An older faas binary against this one, side by side: each with its own
# private Redis, `faas server` and local dispatcher (2 slots), measured
# alternately with this tree's `faas bench` (batched no-ops and the
# single-task round trip). This tree's server runs as shipped (API keys on).
# Build the older one first, e.g.:
#   git worktree add /tmp/faas-old <commit> && (cd /tmp/faas-old && cargo build --release -p faas-sdk)
# Usage: scripts/bench-before-after.sh OLD_FAAS_BINARY [PAIRS]   (default 5 pairs, about a minute each)
OLD=$(realpath "${1:?the older faas binary}")
PAIRS=${2:-5}
source "$(dirname "$0")/lib.sh"
CSV="$OUT/before-after.csv"
export FAAS_CONFIG_DIR="$PWD/$OUT/before-after-config"; rm -rf "$FAAS_CONFIG_DIR"
NEW_REDIS_PORT=$(free_port); OLD_PORT=$(free_port); NEW_PORT=$(free_port)
start_redis
redis-server --port "$NEW_REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
trap 'cleanup; redis-cli -p "$NEW_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true' EXIT
NEW_REDIS=redis://127.0.0.1:$NEW_REDIS_PORT
"$OLD" server --redis "$REDIS" --port "$OLD_PORT" > "$OUT/old-server.log" 2>&1 & PIDS+=($!)
"$OLD" dispatcher --redis "$REDIS" -m local -w 2 > "$OUT/old-dispatcher.log" 2>&1 & PIDS+=($!)
$FAAS server --redis "$NEW_REDIS" --port "$NEW_PORT" > "$OUT/new-server.log" 2>&1 & PIDS+=($!)
$FAAS dispatcher --redis "$NEW_REDIS" -m local -w 2 > "$OUT/new-dispatcher.log" 2>&1 & PIDS+=($!)
for side in old new; do
    wait_line "$OUT/$side-server.log" "listening on"
    wait_line "$OUT/$side-dispatcher.log" "dispatcher ready"
done
bench_alternately "$CSV" "$PAIRS" new "http://127.0.0.1:$NEW_PORT" old "http://127.0.0.1:$OLD_PORT"
