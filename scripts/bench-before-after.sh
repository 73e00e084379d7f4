#!/usr/bin/env bash
# An older faas binary against this one, side by side: each with its own
# private Redis, `faas server` and dispatcher (local mode with 2 slots, or
# push or pull mode with one worker of 2 slots, each side its own), measured
# alternately with this tree's `faas bench` (batched no-ops and the
# single-task round trip). This tree's server runs as shipped (API keys on).
# Build the older one first, e.g.:
#   git worktree add /tmp/faas-old <commit> && (cd /tmp/faas-old && cargo build --release -p faas-cli)
# Usage: scripts/bench-before-after.sh OLD_FAAS_BINARY [PAIRS] [local|push|pull]
#   (default 5 pairs, about a minute each, local mode)
OLD=$(realpath "${1:?the older faas binary}")
PAIRS=${2:-5}
MODE=${3:-local}
source "$(dirname "$0")/lib.sh"
CSV="$OUT/before-after-$MODE.csv"
export FAAS_CONFIG_DIR="$OUT/before-after-config"; rm -rf "$FAAS_CONFIG_DIR"
NEW_REDIS_PORT=$(free_port); OLD_PORT=$(free_port); NEW_PORT=$(free_port)
start_redis
redis-server --port "$NEW_REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
trap 'cleanup; redis-cli -p "$NEW_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true' EXIT
NEW_REDIS=redis://127.0.0.1:$NEW_REDIS_PORT
# side BINARY REDIS_URL HTTP_PORT LABEL: its server and dispatcher (and
# worker), one after the other (the first dispatcher makes the shared keys).
side() {
    "$1" server --redis "$2" --port "$3" > "$OUT/$4-server.log" 2>&1 & PIDS+=($!)
    wait_line "$OUT/$4-server.log" "listening on"
    if [ "$MODE" = local ]; then
        "$1" dispatcher --redis "$2" -m local -w 2 > "$OUT/$4-dispatcher.log" 2>&1 & PIDS+=($!)
        wait_line "$OUT/$4-dispatcher.log" "dispatcher ready"
    else
        local zmq; zmq=$(free_port)
        "$1" dispatcher --redis "$2" -m "$MODE" -p "$zmq" > "$OUT/$4-dispatcher.log" 2>&1 & PIDS+=($!)
        wait_line "$OUT/$4-dispatcher.log" "dispatcher ready"
        "$1" worker "$MODE" 2 "tcp://127.0.0.1:$zmq" --name "$4" > "$OUT/$4-worker.log" 2>&1 & PIDS+=($!)
        wait_line "$OUT/$4-worker.log" "worker ready"
    fi
}
side "$OLD" "$REDIS" "$OLD_PORT" old
side "$FAAS" "$NEW_REDIS" "$NEW_PORT" new
bench_alternately "$CSV" "$PAIRS" new "http://127.0.0.1:$NEW_PORT" old "http://127.0.0.1:$OLD_PORT"
