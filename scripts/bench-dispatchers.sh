#!/usr/bin/env bash
# Several dispatchers on one Redis: `faas bench` (50,000 no-ops in batches
# of 1,000, 3 rounds; 200 single-task round trips) with 1, 2 and 4 local
# dispatchers of 2 slots each, side by side in one run, with the CPU each
# process spent per task (utime + stime from /proc) -> bench-out/dispatchers.csv
# Usage: scripts/bench-dispatchers.sh [ROUNDS]   (default 1; about 2 minutes a round)
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-1}
CSV="$OUT/dispatchers.csv"
export FAAS_CONFIG_DIR="$OUT/dispatchers-keys"
HTTP_PORT=$(free_port)
export FAAS_URL=http://127.0.0.1:$HTTP_PORT

start_redis
REDIS_PID=$(redis-cli -p "$REDIS_PORT" info server | awk -F: '/^process_id/ { print $2 }' | tr -d '\r')
$FAAS server --redis "$REDIS" --port "$HTTP_PORT" > "$OUT/server.log" 2>&1 & SERVER=$!; PIDS+=($SERVER)
wait_line "$OUT/server.log" "listening on"

echo "dispatchers,round,tasks_per_s,p50_ms,redis_us_per_task,dispatchers_us_per_task,server_us_per_task" > "$CSV"
for round in $(seq "$ROUNDS"); do
    for n in 1 2 4; do
        EXEC=()
        for i in $(seq "$n"); do
            $FAAS dispatcher --redis "$REDIS" -m local -w 2 > "$OUT/dispatcher$i.log" 2>&1 & EXEC+=($!)
            wait_line "$OUT/dispatcher$i.log" "dispatcher ready"
        done
        r0=$(cpu_seconds "$REDIS_PID"); d0=$(cpu_seconds "${EXEC[@]}"); s0=$(cpu_seconds $SERVER)
        out=$($FAAS bench --tasks 50000 --latency-samples 200 --csv-label "$n" | tee -a /dev/stderr | grep '^csv,')
        r1=$(cpu_seconds "$REDIS_PID"); d1=$(cpu_seconds "${EXEC[@]}"); s1=$(cpu_seconds $SERVER)
        python3 - "$n" "$round" "$out" "$r0" "$r1" "$d0" "$d1" "$s0" "$s1" >> "$CSV" <<'PY'
import sys
n, rnd, line, r0, r1, d0, d1, s0, s1 = sys.argv[1:]
cols = line.split(",")[1:]  # label,workload,tasks,clients,batch,p50,p95,p99,submitted,tasks_per_s,cpu
# Every task of the run: 3 rounds of `tasks` plus the latency samples.
tasks = 3 * int(cols[2]) + 200
us = lambda a, b: (float(b) - float(a)) / tasks * 1e6
print(f"{n},{rnd},{cols[9]},{cols[5]},{us(r0, r1):.1f},{us(d0, d1):.1f},{us(s0, s1):.1f}")
PY
        stop_exec
    done
done
column -s, -t "$CSV"
