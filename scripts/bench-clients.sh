#!/usr/bin/env bash
# No-op tasks/s through one client process, side by side against one
# `faas up` (embedded store): the Python client's Executor
# (scripts/bench-python-client.py) and the Rust client's map
# (client/examples/map_bench.rs), PAIRS times each, alternating.
#
#   scripts/bench-clients.sh [PAIRS] [TASKS]     (defaults: 3, 200000)
source "$(dirname "$0")/lib.sh"
PAIRS=${1:-3}
TASKS=${2:-200000}
cargo build --release -q -p faas-client --example map_bench
TMP=$(mktemp -d)
PORT=$(free_port)
FAAS_CONFIG_DIR=$TMP RUST_LOG=info "$FAAS" up --port "$PORT" >"$TMP/up.log" 2>&1 &
PIDS+=($!)
trap 'cleanup; rm -rf "$TMP"' EXIT
wait_line "$TMP/up.log" "listening on"
export FAAS_URL=http://127.0.0.1:$PORT
export FAAS_TOKEN=$(sed -n 's/^token = //p' "$TMP/credentials" | tail -1)
echo "faas up on $FAAS_URL ($("$FAAS" --version)); $PAIRS pairs of $TASKS no-op tasks"
for i in $(seq "$PAIRS"); do
    echo "-- pair $i: Python Executor"
    python3 scripts/bench-python-client.py --url "$FAAS_URL" --token "$FAAS_TOKEN" --tasks "$TASKS" --rounds 1 | grep "^round"
    echo "-- pair $i: Rust map"
    target/release/examples/map_bench "$TASKS" 1 | grep "^round"
done
