# Sourced by the bench scripts: builds the faas binary, and gives free
# ports, readiness waits, a private redis-server (REDIS, REDIS_PORT) and
# the cleanup of every process listed in PIDS or EXEC.
set -euo pipefail
cd "$(dirname "$0")/.."
# FAAS=PATH runs that binary instead of building one; OUT=DIR moves the output.
if [ -z "${FAAS:-}" ]; then cargo build --release -q -p faas-cli; FAAS=target/release/faas; fi
OUT=${OUT:-bench-out}; mkdir -p "$OUT"; OUT=$(realpath "$OUT")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
REDIS=redis://127.0.0.1:$REDIS_PORT
PIDS=(); EXEC=()
cleanup() { kill "${EXEC[@]}" "${PIDS[@]}" 2>/dev/null || true; redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
trap cleanup EXIT
# wait_line LOG TEXT: until LOG has a line with TEXT (10 s at most).
wait_line() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
start_redis() { redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null; sleep 0.3; }
# bench_alternately CSV PAIRS LABEL_A URL_A LABEL_B URL_B: `faas bench`
# (50,000 batched no-ops, 1,000 single-task round trips) against A then B,
# PAIRS times, into CSV; then each side's medians, and A as a share of B.
bench_alternately() {
    local csv=$1 pairs=$2 pair
    $FAAS bench --csv-header > "$csv"
    for pair in $(seq "$pairs"); do
        for side in "$3 $4" "$5 $6"; do
            local label=${side%% *} url=${side#* }
            echo "== pair $pair: $label ==" >&2
            $FAAS bench --url "$url" --csv-label "$label" --tasks 50000 --latency-samples 1000 \
                | tee -a /dev/stderr | grep '^csv,' | cut -d, -f2- >> "$csv"
        done
    done
    python3 - "$csv" "$3" "$5" <<'PY'
import csv, statistics, sys
path, a, b = sys.argv[1:4]
rows = list(csv.DictReader(open(path)))
med = lambda side, col: statistics.median(float(r[col]) for r in rows if r["label"] == side)
for side in (a, b):
    print(f"{side}: {med(side, 'tasks_per_s'):,.0f} no-op tasks/s, round trip p50 {med(side, 'p50_ms'):.3f} ms, "
          f"{med(side, 'cpu_us_per_task'):.1f} us CPU per task")
print(f"{a} / {b}: throughput {med(a, 'tasks_per_s') / med(b, 'tasks_per_s'):.1%}, "
      f"p50 {med(a, 'p50_ms') - med(b, 'p50_ms'):+.3f} ms")
PY
}
# stop_exec: stops the processes listed in EXEC.
stop_exec() { kill "${EXEC[@]}" 2>/dev/null || true; wait "${EXEC[@]}" 2>/dev/null || true; EXEC=(); }
# cpu_seconds PID...: the CPU (user + system) those processes have spent, in seconds.
cpu_seconds() {
    local pid sum=0 ticks; ticks=$(getconf CLK_TCK)
    for pid in "$@"; do sum=$(awk -v s="$sum" -v t="$ticks" '{ print s + ($14 + $15) / t }' "/proc/$pid/stat"); done
    echo "$sum"
}
# netlab_setup NAME (root): the lab command (LAB), a fresh key directory
# ($OUT/NAME-keys as FAAS_CONFIG_DIR), a Redis password (PASSWORD), the
# head's address (HEAD); the lab is taken down now and on exit.
netlab_setup() {
    [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
    LAB=target/release/faas-netlab
    [ -x "$LAB" ] || cargo build --release -q --workspace
    export FAAS_CONFIG_DIR="$OUT/$1-keys"; rm -rf "$FAAS_CONFIG_DIR"
    PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    HEAD=198.18.0.1
    trap 'cleanup; lab_down' EXIT
    lab_down
}
lab_down() { "$LAB" down >/dev/null 2>&1 || true; }
