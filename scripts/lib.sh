# Sourced by the bench scripts: builds the faas binary, and gives free
# ports, readiness waits, a private redis-server (REDIS, REDIS_PORT) and
# the cleanup of every process listed in PIDS or EXEC.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p faas-sdk
FAAS=target/release/faas
OUT=bench-out; mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
REDIS=redis://127.0.0.1:$REDIS_PORT
PIDS=(); EXEC=()
cleanup() { kill "${EXEC[@]}" "${PIDS[@]}" 2>/dev/null || true; redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
trap cleanup EXIT
# wait_line LOG TEXT: until LOG has a line with TEXT (10 s at most).
wait_line() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
start_redis() { redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null; sleep 0.3; }
