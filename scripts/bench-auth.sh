#!/usr/bin/env bash
# What API keys cost on the hot path: two `faas server`s on one private
# Redis and one local dispatcher (2 slots), one server with keys (the
# default) and one with --no-auth, measured alternately with `faas bench`
# (no-op tasks in batches of 1,000, and the single-task round trip), so
# both see the same Redis, dispatcher and machine load.
# Usage: scripts/bench-auth.sh [PAIRS]   (default 3 pairs, about 3 minutes)
source "$(dirname "$0")/lib.sh"
PAIRS=${1:-3}
CSV="$OUT/auth.csv"
# Keys made here stay here, not in ~/.config/faas.
export FAAS_CONFIG_DIR="$OUT/auth-config"; rm -rf "$FAAS_CONFIG_DIR"
KEYED=$(free_port); OPEN=$(free_port)

start_redis
$FAAS server --redis "$REDIS" --port "$KEYED" > "$OUT/server-keyed.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/server-keyed.log" "listening on"
$FAAS server --redis "$REDIS" --port "$OPEN" --no-auth > "$OUT/server-open.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/server-open.log" "listening on"
$FAAS dispatcher --redis "$REDIS" -m local -w 2 > "$OUT/dispatcher.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/dispatcher.log" "dispatcher ready"

bench_alternately "$CSV" "$PAIRS" keyed "http://127.0.0.1:$KEYED" open "http://127.0.0.1:$OPEN"
