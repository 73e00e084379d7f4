#!/usr/bin/env bash
# Push mode with CURVE on the worker port and without (--no-curve), side by
# side: batched no-ops (50,000 tasks in batches of 1,000, 3 rounds each, the
# median reported) and the single-task round trip, against a private Redis,
# `faas server`, a push dispatcher and 2 workers of 2 slots. The two
# configurations alternate, RUNS times each, so that a busy machine's noise
# falls on both.                                         -> bench-out/curve.csv
# Usage: scripts/bench-curve.sh [RUNS]   (default 3: about 2 minutes)
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
CSV="$OUT/curve.csv"
export FAAS_CONFIG_DIR="$OUT/curve-keys"
HTTP_PORT=$(free_port); ZMQ_PORT=$(free_port)

start_redis
$FAAS server --redis "$REDIS" --port "$HTTP_PORT" > "$OUT/server.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/server.log" "listening on"
$FAAS bench --csv-header > "$CSV"
for _ in $(seq "$RUNS"); do
    for security in curve plain; do
        flag=(); [ "$security" = plain ] && flag=(--no-curve)
        $FAAS dispatcher --redis "$REDIS" -m push -p "$ZMQ_PORT" "${flag[@]}" > "$OUT/dispatcher.log" 2>&1 & EXEC=($!)
        wait_line "$OUT/dispatcher.log" "dispatcher ready"
        for i in 1 2; do
            $FAAS worker push 2 "tcp://127.0.0.1:$ZMQ_PORT" --name "w$i" "${flag[@]}" > "$OUT/worker$i.log" 2>&1 & EXEC+=($!)
            wait_line "$OUT/worker$i.log" "worker ready"
        done
        $FAAS bench --url "http://127.0.0.1:$HTTP_PORT" --tasks 50000 --latency-samples 300 --csv-label "push-2x2-$security" \
            | tee -a /dev/stderr | grep '^csv,' | cut -d, -f2- >> "$CSV"
        kill "${EXEC[@]}" 2>/dev/null || true; wait "${EXEC[@]}" 2>/dev/null || true; EXEC=()
    done
done
echo "wrote $CSV" >&2
