#!/usr/bin/env bash
# Runs `faas bench` against local, push and pull mode side by side, on one
# private Redis, and draws the charts with `faas bench plot`:
#   1. no-op throughput (submitted in batches of 1,000) and single-task
#      round-trip latency: local (2 slots), and push and pull with 1, 2 and
#      4 workers of 2 slots                              -> bench-out/modes.csv
#   2. the other workloads, one configuration of 2 slots per mode: WASI echo
#      of 1 KiB, fib(30) (beside native Rust fib(30) on 2 threads), and
#      no-op with one HTTP request per task              -> bench-out/workloads.csv
#   3. the seeds' weak-scaling study: W workers of 1 slot (W = 1, 2, 4, 8)
#      get 5 tasks each, then 100x and 1000x that (sleep 100 ms: 1x and 100x
#      only, 1000x would sleep 8 minutes per point), in local mode (-w W),
#      push mode and pull mode                           -> bench-out/modes.csv
# Usage: scripts/bench-modes.sh [quick]   (quick: parts 1 and 2, about 3 minutes; all: about 22)
source "$(dirname "$0")/lib.sh"
CSV="$OUT/modes.csv"; WORKLOADS="$OUT/workloads.csv"
# The server's admin key and the worker port's CURVE keys stay in bench-out.
export FAAS_CONFIG_DIR="${FAAS_CONFIG_DIR:-$OUT/keys}"
HTTP_PORT=$(free_port); ZMQ_PORT=$(free_port)
export FAAS_URL=http://127.0.0.1:$HTTP_PORT

start_redis
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
start() { if [ "$1" = local ]; then start_local "$(($2 * $3))"; else start_remote "$@"; fi; }
# -a: never truncate a log that stderr is redirected to.
bench_to() { local csv=$1; shift; $FAAS bench "$@" | tee -a /dev/stderr | grep '^csv,' | cut -d, -f2- >> "$csv"; }

$FAAS bench --csv-header > "$CSV"
$FAAS bench --csv-header > "$WORKLOADS"
echo "== no-op throughput (batches of 1,000) and latency, side by side ==" >&2
start local 1 2; bench_to "$CSV" --csv-label local-2slots --tasks 50000 --latency-samples 1000; stop_exec
for w in 1 2 4; do
    for mode in push pull; do
        start "$mode" "$w" 2; bench_to "$CSV" --csv-label "$mode-${w}x2" --tasks 50000 --latency-samples 1000; stop_exec
    done
done
echo "== workloads: WASI echo 1 KiB, fib(30) beside native, no-op one request per task ==" >&2
for mode in local push pull; do
    start "$mode" 1 2
    bench_to "$WORKLOADS" --csv-label "$mode-1x2" --workload echo:1024 --tasks 20000 --latency-samples 500
    bench_to "$WORKLOADS" --csv-label "$mode-1x2" --workload fib:30 --tasks 400 --latency-samples 20 --native-threads 2
    bench_to "$WORKLOADS" --csv-label "$mode-1x2-http" --batch 1 --clients 32 --tasks 20000 --latency-samples 0
    stop_exec
done
if [ "${1:-}" != quick ]; then
    echo "== weak scaling: 5 tasks per slot, then 100x and 1000x ==" >&2
    for workload in noop fib:25 sleep:100; do
        for w in 1 2 4 8; do
            for per in 5 500 5000; do
                [ "$workload" = sleep:100 ] && [ "$per" = 5000 ] && continue
                n=$((w * per))
                for mode in local push pull; do
                    start "$mode" "$w" 1
                    bench_to "$CSV" --csv-label "weak-$mode-$w" --workload "$workload" --tasks "$n" --clients 16 --rounds 1 --latency-samples 5
                    stop_exec
                done
            done
        done
    done
fi
cat "$CSV" "$WORKLOADS"
$FAAS bench plot "$CSV"
