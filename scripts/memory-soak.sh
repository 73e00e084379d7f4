#!/usr/bin/env bash
# The memory soak: no-op tasks at full rate (`faas bench`, batches of
# 1,000, round after round) against a private Redis, a `faas server` and a
# local `faas dispatcher`, both with --result-ttl RETENTION, for SECONDS.
# Every 10 s it samples Redis' used_memory, the RSS of each process, the
# keys in Redis and the tasks submitted so far into memory.csv, then draws them
# (scripts/memory_plot.py) and prints each series' growth from the end of
# the first 2 x RETENTION to the end: after that the store should hold a
# steady window of records, so memory should be flat.
# Usage: scripts/memory-soak.sh [SECONDS] [RETENTION]   (defaults 1800 and
# 60; FAAS=PATH uses that binary; output in bench-out/memory, or OUT; the
# chart goes to docs/img/memory-soak.svg, or SVG)
RUN_SECONDS=${1:-1800}
RETENTION_SECONDS=${2:-60}
OUT=${OUT:-bench-out/memory}
source "$(dirname "$0")/lib.sh"
SVG=${SVG:-docs/img/memory-soak.svg}
CSV=$OUT/memory.csv
HTTP_PORT=$(free_port)
URL=http://127.0.0.1:$HTTP_PORT
SLOTS=${SLOTS:-2}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no > "$OUT/redis.log" 2>&1 & PIDS+=($!)
REDIS_PID=$!
wait_line "$OUT/redis.log" "Ready to accept connections"
$FAAS server --redis "$REDIS" --port "$HTTP_PORT" --no-auth --result-ttl "$RETENTION_SECONDS" > "$OUT/server.log" 2>&1 & PIDS+=($!)
SERVER_PID=$!
wait_line "$OUT/server.log" "listening on"
$FAAS dispatcher --redis "$REDIS" -m local -w "$SLOTS" --result-ttl "$RETENTION_SECONDS" > "$OUT/dispatcher.log" 2>&1 & PIDS+=($!)
DISPATCHER_PID=$!
wait_line "$OUT/dispatcher.log" "dispatcher ready"

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
info() { redis-cli -p "$REDIS_PORT" info "$1" | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }
sample() {
    echo "$1,$(info memory used_memory),$(rss "$REDIS_PID"),$(rss "$SERVER_PID"),$(rss "$DISPATCHER_PID"),$(redis-cli -p "$REDIS_PORT" dbsize | tr -d '\r'),$(submitted)"
}
# Tasks queued so far (the stream's entries-added; re-queues would count too).
submitted() { redis-cli -p "$REDIS_PORT" xinfo stream faas:tasks 2>/dev/null | tr -d '\r' | awk 'p == "entries-added" { print; f = 1; exit } { p = $0 } END { if (!f) print 0 }'; }

# The load: one `faas bench` of rounds of 50,000 no-ops (submitted in
# batches of 1,000, 8 requests in flight, then awaited) back to back,
# stopped when the time is up. Small rounds keep the queue short, so the
# records held are set by the retention, not by a backlog.
$FAAS bench --url "$URL" --tasks 50000 --rounds 1000000 --latency-samples 0 --clients 8 > "$OUT/bench.log" 2>&1 &
LOAD_PID=$!; PIDS+=($LOAD_PID)

echo "t_s,redis_used_memory,rss_redis,rss_server,rss_dispatcher,redis_keys,tasks_submitted" > "$CSV"
start=$SECONDS
sample 0 >> "$CSV"
while ((SECONDS - start < RUN_SECONDS)); do
    sleep $((10 - (SECONDS - start) % 10))
    sample $((SECONDS - start)) | tee -a "$CSV" >&2
done
kill -9 "$LOAD_PID"; wait "$LOAD_PID" 2>/dev/null || true
grep -c "^throughput round" "$OUT/bench.log" | sed 's/^/bench rounds done: /' >&2 || true

python3 scripts/memory_plot.py "$CSV" "$SVG" --retention "$RETENTION_SECONDS" \
    --title "no-op tasks, ${RETENTION_SECONDS} s retention"
