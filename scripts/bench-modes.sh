#!/usr/bin/env bash
# Runs `faas bench` against local, push and pull mode side by side, on one
# private Redis, writes every figure to bench-out/modes.csv and draws the
# charts (bench-out/*.svg) with `faas bench plot`:
#   1. no-op throughput and round-trip latency: local (2 slots), and push and
#      pull with 1, 2 and 4 workers of 2 slots;
#   2. the seeds' weak-scaling study: W workers of 1 slot (W = 1, 2, 4, 8)
#      get 5 tasks each, then 500 each (100x), for noop, fib:25 and sleep:100,
#      in local mode (-w W), push mode and pull mode.
# Usage: scripts/bench-modes.sh [quick]   (quick: part 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p faas-sdk
FAAS=target/release/faas
OUT=bench-out; mkdir -p "$OUT"; CSV="$OUT/modes.csv"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port); HTTP_PORT=$(free_port); ZMQ_PORT=$(free_port)
REDIS=redis://127.0.0.1:$REDIS_PORT
export FAAS_URL=http://127.0.0.1:$HTTP_PORT
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
trap cleanup EXIT
wait_line() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no '$2' in $1" >&2; cat "$1" >&2; exit 1; }

redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
sleep 0.3
$FAAS server --redis "$REDIS" --port "$HTTP_PORT" > "$OUT/server.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/server.log" "listening on"

EXEC=()
start_local() { $FAAS dispatcher --redis "$REDIS" -m local -w "$1" > "$OUT/dispatcher.log" 2>&1 & EXEC=($!); wait_line "$OUT/dispatcher.log" "dispatcher ready"; }
start_remote() {  # mode workers slots
    $FAAS dispatcher --redis "$REDIS" -m "$1" -p "$ZMQ_PORT" > "$OUT/dispatcher.log" 2>&1 & EXEC=($!)
    wait_line "$OUT/dispatcher.log" "dispatcher ready"
    for i in $(seq "$2"); do
        $FAAS worker "$1" "$3" "tcp://127.0.0.1:$ZMQ_PORT" --name "w$i" > "$OUT/worker$i.log" 2>&1 & EXEC+=($!)
        wait_line "$OUT/worker$i.log" "worker ready"
    done
}
stop_exec() { kill "${EXEC[@]}" 2>/dev/null || true; wait "${EXEC[@]}" 2>/dev/null || true; EXEC=(); }
bench() { $FAAS bench "$@" | tee /dev/stderr | grep '^csv,' | cut -d, -f2- >> "$CSV"; }

echo "label,workload,tasks,clients,p50_ms,p99_ms,tasks_per_s" > "$CSV"
echo "== no-op throughput and latency, side by side ==" >&2
start_local 2; bench --csv-label local-2slots --tasks 20000 --latency-samples 1000; stop_exec
for w in 1 2 4; do
    for mode in push pull; do
        start_remote "$mode" "$w" 2; bench --csv-label "$mode-${w}x2" --tasks 20000 --latency-samples 1000; stop_exec
    done
done
[ "${1:-}" = quick ] && { cat "$CSV"; $FAAS bench plot "$CSV"; exit 0; }

echo "== weak scaling: 5 tasks per slot, then 100x ==" >&2
for workload in noop fib:25 sleep:100; do
    for w in 1 2 4 8; do
        for per in 5 500; do
            n=$((w * per))
            start_local "$w"; bench --csv-label "weak-local-$w" --workload "$workload" --tasks "$n" --clients 16 --rounds 1 --latency-samples 5; stop_exec
            for mode in push pull; do
                start_remote "$mode" "$w" 1; bench --csv-label "weak-$mode-$w" --workload "$workload" --tasks "$n" --clients 16 --rounds 1 --latency-samples 5; stop_exec
            done
        done
    done
done
cat "$CSV"
$FAAS bench plot "$CSV"
