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
export FAAS_CONFIG_DIR="$PWD/$OUT/auth-config"; rm -rf "$FAAS_CONFIG_DIR"
KEYED=$(free_port); OPEN=$(free_port)

start_redis
$FAAS server --redis "$REDIS" --port "$KEYED" > "$OUT/server-keyed.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/server-keyed.log" "listening on"
$FAAS server --redis "$REDIS" --port "$OPEN" --no-auth > "$OUT/server-open.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/server-open.log" "listening on"
$FAAS dispatcher --redis "$REDIS" -m local -w 2 > "$OUT/dispatcher.log" 2>&1 & PIDS+=($!)
wait_line "$OUT/dispatcher.log" "dispatcher ready"

$FAAS bench --csv-header > "$CSV"
for pair in $(seq "$PAIRS"); do
    for who in keyed open; do
        port=$KEYED; [ "$who" = open ] && port=$OPEN
        echo "== pair $pair: $who ==" >&2
        $FAAS bench --url "http://127.0.0.1:$port" --csv-label "$who" --tasks 50000 --latency-samples 1000 \
            | tee -a /dev/stderr | grep '^csv,' | cut -d, -f2- >> "$CSV"
    done
done
# Medians per side, and the ratios.
python3 - "$CSV" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def med(who, col):
    return statistics.median(float(r[col]) for r in rows if r["label"] == who)
k, o = med("keyed", "tasks_per_s"), med("open", "tasks_per_s")
kp, op = med("keyed", "p50_ms"), med("open", "p50_ms")
print(f"no-op batches: keys {k:,.0f}/s, no keys {o:,.0f}/s: {k / o:.1%} of it")
print(f"round trip p50: keys {kp:.3f} ms, no keys {op:.3f} ms: {kp - op:+.3f} ms")
PY
