#!/usr/bin/env bash
# The chaos soak: a steady load of mixed tasks (add, sleep 50 ms, fib, a
# trap, an endless loop stopped by the 10 s limit) through two dispatchers
# on one Redis (one push, one pull, two workers of 2 slots each), while a
# killer loop SIGKILLs at random a worker, a dispatcher, the server or
# Redis (AOF on, fsync always) every few seconds and restarts it. When the
# load stops and the platform has drained, scripts/chaos_check.py reads
# every task that got a 201 and counts lost, wrong, over-attempts and
# changed-after-read tasks; the script exits non-zero unless all are 0.
# Usage: scripts/chaos-soak.sh [SECONDS]   (default 600; FAAS=PATH uses that
# binary instead of building one; output and logs in bench-out/chaos, or
# OUT, relative to the repository; KILL_GAP_MS="2000 6000" is the range of
# the pause between kills)
RUN_SECONDS=${1:-600}
OUT=${OUT:-bench-out/chaos}
source "$(dirname "$0")/lib.sh"
OUT=$(cd "$OUT" && pwd)   # absolute: Redis and the daemons get paths in it
rm -rf "$OUT/logs" "$OUT/redis" "$OUT/keys" "$OUT"/*.jsonl "$OUT"/*.log
mkdir -p "$OUT/logs" "$OUT/redis"
export FAAS_CONFIG_DIR=$OUT/keys
HTTP_PORT=$(free_port); PUSH_PORT=$(free_port); PULL_PORT=$(free_port)
URL=http://127.0.0.1:$HTTP_PORT
# Records must outlive the run and the check.
TTL=$((RUN_SECONDS + 3600))
RETENTION=(--result-ttl "$TTL" --max-result-ttl "$TTL")
KILLS=$OUT/kills.log
MAX_ATTEMPTS=3
read -r GAP_MIN GAP_MAX <<< "${KILL_GAP_MS:-2000 6000}"

# Kill victims, drawn first by kind (worker, dispatcher, server, Redis),
# then within the kind.
WORKERS=(push-worker-1 push-worker-2 pull-worker-1 pull-worker-2)
DISPATCHERS=(push-dispatcher pull-dispatcher)
declare -A PID=() STARTS=() KILLED=() DIED=()
LOAD_PID=

stamp() { date -u +%H:%M:%S.%3N; }
log() { echo "$(stamp) $*" | tee -a "$KILLS" >&2; }

# wait_ready ROLE LOG TEXT: until LOG has TEXT (30 s at most) or the process exits.
wait_ready() {
    for _ in $(seq 600); do
        grep -q "$3" "$2" 2>/dev/null && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

redis_up() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

# launch ROLE: starts one incarnation of ROLE in the background, logging
# to logs/ROLE.N.log, and waits for it to be ready (0) or not (1).
launch() {
    local role=$1 n=$((${STARTS[$1]:-0} + 1)) ready
    STARTS[$role]=$n
    local logf=$OUT/logs/$role.$n.log
    case $role in
        redis)
            redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$OUT/redis" \
                --appendonly yes --appendfsync always --save "" > "$logf" 2>&1 &
            ready="Ready to accept connections" ;;
        server)
            $FAAS server --redis "$REDIS" --port "$HTTP_PORT" --no-auth "${RETENTION[@]}" > "$logf" 2>&1 &
            ready="listening on" ;;
        push-dispatcher | pull-dispatcher)
            local mode=${role%%-*} port=$PUSH_PORT
            [ "$mode" = pull ] && port=$PULL_PORT
            $FAAS dispatcher --redis "$REDIS" -m "$mode" -p "$port" "${RETENTION[@]}" > "$logf" 2>&1 &
            ready="dispatcher ready" ;;
        push-worker-* | pull-worker-*)
            local mode=${role%%-*} port=$PUSH_PORT
            [ "$mode" = pull ] && port=$PULL_PORT
            $FAAS worker "$mode" 2 "tcp://127.0.0.1:$port" --name "$role.$n" > "$logf" 2>&1 &
            ready="worker ready" ;;
    esac
    PID[$role]=$!
    wait_ready "$role" "$logf" "$ready" || return 1
    if [ "$role" = redis ]; then  # ready to accept connections, and done loading the AOF
        for _ in $(seq 600); do redis_up && return 0; sleep 0.05; done
        return 1
    fi
}

# start ROLE: launch until it is ready (a port still held, or Redis still
# loading, can make one try fail); every failed try is logged.
start() {
    local role=$1 try
    for try in 1 2 3 4 5; do
        launch "$role" && return 0
        log "start of $role failed (try $try, log $OUT/logs/$role.${STARTS[$role]}.log)"
        kill -9 "${PID[$role]}" 2>/dev/null || true
        wait "${PID[$role]}" 2>/dev/null || true
        sleep 1
    done
    log "cannot start $role"; exit 1
}

# Restarts whatever exited without being killed (counted: it is a finding).
revive() {
    local role
    for role in "${!PID[@]}"; do
        if ! kill -0 "${PID[$role]}" 2>/dev/null; then
            local code=0
            wait "${PID[$role]}" 2>/dev/null || code=$?
            DIED[$role]=$((${DIED[$role]:-0} + 1))
            log "$role (pid ${PID[$role]}) exited by itself with status $code: restarting"
            start "$role"
        fi
    done
}

stop_all() {
    [ -z "$LOAD_PID" ] || kill -9 "$LOAD_PID" 2>/dev/null || true
    local role
    for role in "${!PID[@]}"; do
        kill -9 "${PID[$role]}" 2>/dev/null || true
        wait "${PID[$role]}" 2>/dev/null || true   # reaped quietly (no "Killed" line)
    done
    cleanup
}
trap stop_all EXIT
trap 'exit 130' INT TERM

pick() { local -n from=$1; echo "${from[RANDOM % ${#from[@]}]}"; }
random_ms() { echo "$(($1 + RANDOM % ($2 - $1 + 1)))"; }   # between $1 and $2 ms
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

log "chaos soak: $RUN_SECONDS s, a kill every $GAP_MIN-$GAP_MAX ms; Redis on $REDIS_PORT (AOF always), server $URL, push :$PUSH_PORT, pull :$PULL_PORT"
start redis
start server
start push-dispatcher   # first: it writes the CURVE keys the other one reads
start pull-dispatcher
for w in "${WORKERS[@]}"; do start "$w"; done

python3 scripts/chaos_load.py --url "$URL" --out "$OUT" --seconds "$RUN_SECONDS" > "$OUT/load.log" 2>&1 &
LOAD_PID=$!
for _ in $(seq 1200); do grep -q registered "$OUT/load.log" && break; kill -0 "$LOAD_PID" || break; sleep 0.05; done
grep -q registered "$OUT/load.log" || { cat "$OUT/load.log" >&2; log "the load generator did not start"; exit 1; }

end=$((SECONDS + RUN_SECONDS))
while ((SECONDS < end)); do
    sleep_ms "$(random_ms "$GAP_MIN" "$GAP_MAX")"
    ((SECONDS < end)) || break
    revive
    case $((RANDOM % 4)) in
        0) victim=$(pick WORKERS) ;;
        1) victim=$(pick DISPATCHERS) ;;
        2) victim=server ;;
        3) victim=redis ;;
    esac
    pid=${PID[$victim]}
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    KILLED[$victim]=$((${KILLED[$victim]:-0} + 1))
    down=$(random_ms 100 2000)
    log "kill -9 $victim (pid $pid); restarting in $down ms"
    sleep_ms "$down"
    start "$victim"
    log "$victim back (pid ${PID[$victim]})"
done
revive
log "killing stopped; draining"
wait "$LOAD_PID"; LOAD_PID=
tail -3 "$OUT/load.log" >&2

echo "== check ==" >&2
status=0
python3 scripts/chaos_check.py --url "$URL" --out "$OUT" --max-attempts "$MAX_ATTEMPTS" 2>&1 | tee "$OUT/check.log" || status=1
revive   # a daemon that died during the drain or the check is a finding too
total=0; tally=
for role in redis server "${DISPATCHERS[@]}" "${WORKERS[@]}"; do
    total=$((total + ${KILLED[$role]:-0})); tally+=" $role ${KILLED[$role]:-0},"
done
echo "kills: $total:${tally%,}" | tee -a "$OUT/check.log"
died=
for role in "${!DIED[@]}"; do died+=" $role ${DIED[$role]},"; done
echo "exited by themselves: ${died:- none}" | tee -a "$OUT/check.log"
exit "$status"
