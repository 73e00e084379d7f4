#!/usr/bin/env bash
# One Redis against Redis Cluster: `faas bench` (50,000 no-ops in batches
# of 1,000, 3 rounds; 200 single-task round trips) through a server and two
# local dispatchers of 2 slots, on one Redis (`redis://`), a cluster of one
# primary and a cluster of three (`redis+cluster://`, no replicas), side by
# side in one run; the Redis CPU each node spent per task (INFO cpu)
# -> bench-out/cluster.csv
# Usage: scripts/bench-cluster.sh [ROUNDS]   (default 1; about 2 minutes a round)
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-1}
CSV="$OUT/cluster.csv"
CLUSTER_DIR="$OUT/cluster-nodes"
HTTP_PORT=$(free_port)
export FAAS_URL=http://127.0.0.1:$HTTP_PORT
NODES=()

# A cluster node port whose bus port (+10000) is free too, both below the
# kernel's ephemeral ports (from 32768).
node_port() {
    python3 -c '
import random, socket
while True:
    p = random.randint(20000, 22767)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass'
}

# start_cluster N: N primaries on loopback, joined; URL in CLUSTER_URL.
start_cluster() {
    rm -rf "$CLUSTER_DIR"; mkdir -p "$CLUSTER_DIR"
    NODES=(); local addrs=() port
    for _ in $(seq "$1"); do
        port=$(node_port)
        redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
            --cluster-config-file "$CLUSTER_DIR/nodes-$port.conf" --dir "$CLUSTER_DIR" \
            --dbfilename "dump-$port.rdb" --save "" --appendonly no \
            --daemonize yes --pidfile "$CLUSTER_DIR/$port.pid" >/dev/null
        NODES+=("$port"); addrs+=("127.0.0.1:$port")
    done
    sleep 0.3
    if [ "$1" -eq 1 ]; then
        # redis-cli --cluster create wants 3 primaries: one takes every slot.
        redis-cli -p "${NODES[0]}" cluster addslotsrange 0 16383 >/dev/null
    else
        redis-cli --cluster create "${addrs[@]}" --cluster-yes >/dev/null
    fi
    for _ in $(seq 100); do
        redis-cli --cluster check "${addrs[0]}" 2>/dev/null | grep -q "All 16384 slots covered" && break
        sleep 0.1
    done
    CLUSTER_URL="redis+cluster://$(IFS=,; echo "${addrs[*]}")"
}

stop_cluster() {
    local port
    for port in "${NODES[@]}"; do kill "$(cat "$CLUSTER_DIR/$port.pid")" 2>/dev/null || true; done
    NODES=()
}
trap 'stop_cluster; cleanup' EXIT

# node_cpu PORT: the CPU seconds the Redis on PORT has used.
node_cpu() { redis-cli -p "$1" info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { print s }'; }

echo "store,round,tasks_per_s,p50_ms,redis_us_per_task,busiest_node_us_per_task,nodes" > "$CSV"
for round in $(seq "$ROUNDS"); do
    for store in redis cluster1 cluster3; do
        case "$store" in
            redis) start_redis; URL=$REDIS; PORTS=("$REDIS_PORT") ;;
            cluster1) start_cluster 1; URL=$CLUSTER_URL; PORTS=("${NODES[@]}") ;;
            cluster3) start_cluster 3; URL=$CLUSTER_URL; PORTS=("${NODES[@]}") ;;
        esac
        export FAAS_CONFIG_DIR="$OUT/cluster-keys-$store-$round"; rm -rf "$FAAS_CONFIG_DIR"
        $FAAS server --redis "$URL" --port "$HTTP_PORT" > "$OUT/server.log" 2>&1 & EXEC+=($!)
        wait_line "$OUT/server.log" "listening on"
        for i in 1 2; do
            $FAAS dispatcher --redis "$URL" -m local -w 2 > "$OUT/dispatcher$i.log" 2>&1 & EXEC+=($!)
            wait_line "$OUT/dispatcher$i.log" "dispatcher ready"
        done
        before=(); for port in "${PORTS[@]}"; do before+=("$(node_cpu "$port")"); done
        out=$($FAAS bench --tasks 50000 --latency-samples 200 --csv-label "$store" | tee -a /dev/stderr | grep '^csv,')
        after=(); for port in "${PORTS[@]}"; do after+=("$(node_cpu "$port")"); done
        python3 - "$store" "$round" "$out" "${before[*]}" "${after[*]}" >> "$CSV" <<'PY'
import sys
store, rnd, line, before, after = sys.argv[1:]
cols = line.split(",")[1:]  # label,workload,tasks,clients,batch,p50,p95,p99,submitted,tasks_per_s,cpu
tasks = 3 * int(cols[2]) + 200
per_node = [(float(b) - float(a)) / tasks * 1e6 for a, b in zip(before.split(), after.split())]
print(f"{store},{rnd},{cols[9]},{cols[5]},{sum(per_node):.1f},{max(per_node):.1f},"
      + " ".join(f"{us:.1f}" for us in per_node))
PY
        stop_exec
        case "$store" in
            redis) redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true ;;
            *) stop_cluster ;;
        esac
        sleep 0.5
    done
done
column -s, -t "$CSV"
