#!/usr/bin/env bash
# What one dispatcher spends on many workers (root only): Redis, the server
# and a push or pull dispatcher on a head host, 256 workers of 1 slot on 4
# node hosts (64 each, scripts/netlab.sh). Measures the dispatcher's CPU
# (utime + stime from /proc) while the workers are idle (heartbeats only)
# and while they run no-ops (`faas bench`, 100,000 in batches of 1,000):
# CPU per heartbeat and per task -> bench-out/workers.csv
# Usage: scripts/bench-workers.sh [WORKERS]   (default 256; about 3 minutes)
source "$(dirname "$0")/lib.sh"
WORKERS=${1:-256}; NODES=4; IDLE=20; TASKS=100000
netlab_setup workers
CSV="$OUT/workers.csv"

echo "mode,workers,heartbeats_per_s,idle_cpu_percent,us_per_heartbeat,tasks_per_s,us_per_task" > "$CSV"
for mode in push pull; do
    "$LAB" up --nodes $NODES >/dev/null
    pids=()
    "$LAB" run head redis-server --bind $HEAD --port 6379 --requirepass "$PASSWORD" \
        --save "" --appendonly no > "$OUT/workers-redis.log" 2>&1 & pids+=($!)
    sleep 0.5
    redis="redis://:$PASSWORD@$HEAD:6379"
    "$LAB" run head "$FAAS" server --redis "$redis" --host $HEAD > "$OUT/workers-server.log" 2>&1 & pids+=($!)
    wait_line "$OUT/workers-server.log" "listening on"
    "$LAB" run head "$FAAS" dispatcher --redis "$redis" -m $mode --bind $HEAD \
        > "$OUT/workers-dispatcher.log" 2>&1 & dispatcher=$!; pids+=($dispatcher)
    wait_line "$OUT/workers-dispatcher.log" "dispatcher ready"
    for i in $(seq "$WORKERS"); do
        node=node$(( (i - 1) % NODES + 1 ))
        "$LAB" run $node "$FAAS" worker $mode 1 "tcp://$HEAD:7001" --name "w$i" \
            > "$OUT/workers-w$i.log" 2>&1 & pids+=($!)
    done
    for i in $(seq "$WORKERS"); do wait_line "$OUT/workers-w$i.log" "worker ready"; done
    sleep 5   # every worker registered and past its first heartbeats
    # Heartbeats: push sends one a second per worker; a pull worker asks
    # (a held request or a report) about once a second.
    before=$(cpu_seconds $dispatcher); sleep $IDLE; after=$(cpu_seconds $dispatcher)
    idle=$(python3 -c "print(($after - $before) / $IDLE)")
    before=$(cpu_seconds $dispatcher); start=$(date +%s.%N)
    "$LAB" run head "$FAAS" bench --url "http://$HEAD:8000" --tasks $TASKS --rounds 1 \
        --latency-samples 0 > "$OUT/workers-bench-$mode.log" 2>&1
    after=$(cpu_seconds $dispatcher); end=$(date +%s.%N)
    rate=$(grep -o 'all completed at [0-9]*/s' "$OUT/workers-bench-$mode.log" | grep -o '[0-9]*' | head -1)
    python3 - "$mode" "$WORKERS" "$idle" "$before" "$after" "$start" "$end" "$rate" "$TASKS" >> "$CSV" <<'PY'
import sys
mode, workers, idle, before, after, start, end, rate, tasks = sys.argv[1:]
workers, idle, rate, tasks = int(workers), float(idle), float(rate), int(tasks)
wall = float(end) - float(start)
# The bench's CPU beyond the idle share (heartbeats go on meanwhile).
busy = float(after) - float(before) - idle * wall
hb = workers  # one a second each
print(f"{mode},{workers},{hb},{idle * 100:.2f},{idle / hb * 1e6:.1f},{rate:.0f},{busy / tasks * 1e6:.2f}")
PY
    kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true
    lab_down
done
column -s, -t "$CSV"
