#!/usr/bin/env bash
# Push and pull across hosts (root only): `faas bench` (TASKS no-ops,
# default 200,000, in batches of 1,000, 3 rounds: long enough that the work
# held ahead has grown to cover the link; and 500 single-task round trips) with Redis, the server
# and the dispatcher on a head host and 3 workers of 2 slots on 3 node
# hosts (scripts/netlab.sh), side by side in one run:
#   loopback  every process on the head, on 127.0.0.1
#   lab-0ms   workers on the nodes, links as fast as the machine
#   lab-20ms  each link 20 ms each way (a 40 ms round trip)
#   lab-20ms-loss1  and 1% of packets lost each way
# -> bench-out/netlab.csv, and each configuration as a share of loopback.
# Usage: scripts/bench-netlab.sh [ROUNDS]   (default 1; about 10 minutes a round)
#        CONFIGS="loopback lab-20ms" MODES=pull scripts/bench-netlab.sh   (some of them)
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-1}
netlab_setup netlab
CSV="$OUT/netlab.csv"; LINKS="$OUT/netlab-links.csv"

# run_config LABEL MODE HOST_OF_WORKERS(head|nodes) [faas-netlab up flags...]
run_config() {
    local label=$1 mode=$2 where=$3; shift 3
    "$LAB" up --nodes 3 "$@" >/dev/null
    local addr=$HEAD probe=node1; [ "$where" = head ] && addr=127.0.0.1 probe=head
    echo "$label-$mode,$("$LAB" rtt $probe)" >> "$LINKS"
    local redis_port=6379 http_port=8000 zmq_port=7001 pids=()
    "$LAB" run head redis-server --bind "$addr" --port $redis_port --requirepass "$PASSWORD" \
        --save "" --appendonly no > "$OUT/netlab-redis.log" 2>&1 & pids+=($!)
    sleep 0.5
    local redis="redis://:$PASSWORD@$addr:$redis_port"
    "$LAB" run head "$FAAS" server --redis "$redis" --host "$addr" --port $http_port \
        > "$OUT/netlab-server.log" 2>&1 & pids+=($!)
    wait_line "$OUT/netlab-server.log" "listening on"
    "$LAB" run head "$FAAS" dispatcher --redis "$redis" -m "$mode" --bind "$addr" -p $zmq_port \
        > "$OUT/netlab-dispatcher.log" 2>&1 & pids+=($!)
    wait_line "$OUT/netlab-dispatcher.log" "dispatcher ready"
    for i in 1 2 3; do
        local host=node$i; [ "$where" = head ] && host=head
        "$LAB" run $host "$FAAS" worker "$mode" 2 "tcp://$addr:$zmq_port" --name "node$i" \
            > "$OUT/netlab-worker$i.log" 2>&1 & pids+=($!)
        wait_line "$OUT/netlab-worker$i.log" "worker ready"
    done
    "$LAB" run head "$FAAS" bench --url "http://$addr:$http_port" --csv-label "$label-$mode" \
        --tasks "${TASKS:-200000}" --latency-samples 500 | tee -a /dev/stderr | grep '^csv,' | cut -d, -f2- >> "$CSV"
    kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true
    lab_down
}

$FAAS bench --csv-header > "$CSV"
echo "label,link_rtt_ms" > "$LINKS"
for round in $(seq "$ROUNDS"); do
    for mode in ${MODES:-push pull}; do
        echo "== round $round: $mode ==" >&2
        for config in ${CONFIGS:-loopback lab-0ms lab-20ms lab-20ms-loss1}; do
            case $config in
                loopback) run_config loopback "$mode" head ;;
                lab-0ms) run_config lab-0ms "$mode" nodes ;;
                lab-20ms) run_config lab-20ms "$mode" nodes --delay 20 ;;
                lab-20ms-loss1) run_config lab-20ms-loss1 "$mode" nodes --delay 20 --loss 1 ;;
                *) echo "unknown configuration $config" >&2; exit 1 ;;
            esac
        done
    done
done
python3 - "$CSV" "$LINKS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
links = list(csv.DictReader(open(sys.argv[2])))
med = lambda label, col: statistics.median(float(r[col]) for r in rows if r["label"] == label)
link = lambda label: statistics.median(float(r["link_rtt_ms"]) for r in links if r["label"] == label)
for mode in ("push", "pull"):
    base = f"loopback-{mode}"
    for config in ("loopback", "lab-0ms", "lab-20ms", "lab-20ms-loss1"):
        label = f"{config}-{mode}"
        if not any(r["label"] == label for r in rows):
            continue
        # What the distance adds beyond the link's own round trip.
        beyond = med(label, 'p50_ms') - link(label) - med(base, 'p50_ms') + link(base)
        print(f"{label:22} {med(label, 'tasks_per_s'):>9,.0f} tasks/s ({med(label, 'tasks_per_s') / med(base, 'tasks_per_s'):6.1%} of loopback), "
              f"round trip p50 {med(label, 'p50_ms'):7.3f} ms, p99 {med(label, 'p99_ms'):7.3f} ms; "
              f"link {link(label):.3f} ms, beyond link and loopback {beyond:+.3f} ms")
PY
