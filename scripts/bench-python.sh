#!/usr/bin/env bash
# Python functions through the whole platform (issue 16's figures): a
# private Redis, `faas server` and a local dispatcher with 2 slots, then
#  1. a Python no-op handler (`def handle(payload): return None`, built
#     by `faas build`): batched throughput and the single-task round trip
#     (`faas bench --module`), and the CPU per task of each process;
#  2. the first task of a newly deployed function, and the first task
#     after the dispatcher restarts with its compiled code on disk;
#  3. examples/python-wordcount against examples/wordcount (Rust) on the
#     same 10 KiB text: single-task round trips, side by side.
# Needs componentize-py (pip install componentize-py==0.25.1) and Debian's
# Rust wasm toolchain for examples/wordcount.
# Usage: scripts/bench-python.sh [TASKS]   (default 5000 per throughput round)
TASKS=${1:-5000}
source "$(dirname "$0")/lib.sh"
OUT=$(realpath -m "$OUT")
export FAAS_CONFIG_DIR="$OUT/python-config"; rm -rf "$FAAS_CONFIG_DIR"
COMPILED="$OUT/python-compiled"; rm -rf "$COMPILED"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now_ms() { date +%s%3N; }

mkdir -p "$OUT/python-noop"
printf 'def handle(payload):\n    return None\n' > "$OUT/python-noop/noop.py"
$FAAS build "$OUT/python-noop/noop.py" >&2
NOOP="$OUT/python-noop/target/noop.wasm"

start_redis
SPORT=$(free_port); URL="http://127.0.0.1:$SPORT"
$FAAS server --redis "$REDIS" --port "$SPORT" --compiled-dir "$COMPILED" > "$OUT/python-server.log" 2>&1 & SERVER=$!
start_dispatcher() {
    $FAAS dispatcher --redis "$REDIS" -m local -w 2 --compiled-dir "$COMPILED" > "$OUT/python-dispatcher.log" 2>&1 & DISPATCHER=$!
    EXEC=("$SERVER" "$DISPATCHER")
    wait_line "$OUT/python-dispatcher.log" "dispatcher ready"
}
start_dispatcher
wait_line "$OUT/python-server.log" "listening on"
export FAAS_URL=$URL

echo "== 1. Python no-op handler, local dispatcher with 2 slots"
REDIS_PID=$(redis-cli -p "$REDIS_PORT" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p' | tr -d '\r')
r0=$(ticks "$REDIS_PID"); s0=$(ticks "$SERVER"); d0=$(ticks "$DISPATCHER")
$FAAS bench --module "$NOOP" --tasks "$TASKS" --rounds 3 --latency-samples 500
total=$(( TASKS * 3 + 500 + 1 ))
awk -v r=$(( $(ticks "$REDIS_PID") - r0 )) -v s=$(( $(ticks "$SERVER") - s0 )) -v d=$(( $(ticks "$DISPATCHER") - d0 )) -v n="$total" \
    'BEGIN {printf "CPU per task (ms): redis %.3f, server %.3f, dispatcher %.3f (over %d tasks, counting the bench'"'"'s first compile)\n", r*10/n, s*10/n, d*10/n, n}'

echo "== 2. first tasks"
mkdir -p "$OUT/python-first"
printf 'def handle(payload):\n    return {"first": payload}\n' > "$OUT/python-first/first.py"
$FAAS build "$OUT/python-first/first.py" >&2
t0=$(now_ms); FIRST=$($FAAS deploy "$OUT/python-first/target/first.wasm"); t1=$(now_ms)
$FAAS invoke "$FIRST" 1 > /dev/null; t2=$(now_ms)
echo "newly deployed: registration (the server compiles and keeps the code) $((t1 - t0)) ms, then its first task $((t2 - t1)) ms"
kill "$DISPATCHER"; wait "$DISPATCHER" 2>/dev/null || true
start_dispatcher
t0=$(now_ms); $FAAS invoke "$FIRST" 2 > /dev/null; t1=$(now_ms)
$FAAS invoke "$FIRST" 3 > /dev/null; t2=$(now_ms)
echo "after a dispatcher restart, compiled code on disk: first task $((t1 - t0)) ms, the next $((t2 - t1)) ms (each a whole faas invoke command)"

echo "== 3. python-wordcount against wordcount (Rust), 10 KiB of text"
PY=$($FAAS deploy examples/python-wordcount)
RS=$($FAAS deploy examples/wordcount)
TEXT=$(python3 -c 'import json; s="The quick brown fox jumps over the lazy dog; the dog, it seems, does not mind. "; print(json.dumps({"text": (s * 200)[:10240]}))')
printf '%s' "$TEXT" > "$OUT/python-wordcount.json"
python3 - "$URL" "$PY" "$RS" "$OUT/python-wordcount.json" <<'PY'
import json, statistics, sys, time, urllib.request, os, re
url, py, rs, path = sys.argv[1:5]
payload = json.load(open(path))
creds = open(os.path.join(os.environ["FAAS_CONFIG_DIR"], "credentials")).read()
token = re.findall(r"^token = (.*)$", creds, re.M)[-1]
def call(fid):
    body = json.dumps({"function_id": fid, "payload": payload}).encode()
    req = urllib.request.Request(url + "/execute_function", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    task = json.load(urllib.request.urlopen(req))["task_id"]
    req = urllib.request.Request(f"{url}/result/{task}?wait=30", headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(req))
results = {}
times = {py: [], rs: []}
for fid in (py, rs):
    results[fid] = call(fid)  # warm: compiled
for _ in range(200):
    for fid in (py, rs):
        t = time.perf_counter(); r = call(fid); times[fid].append(time.perf_counter() - t)
        assert r["status"] == "COMPLETED", r
# A WASI command's result is its stdout: wordcount prints JSON text.
norm = lambda r: json.loads(r) if isinstance(r, str) else r
same = norm(results[py]["result"]) == norm(results[rs]["result"])
p50 = {fid: statistics.median(ts) * 1e3 for fid, ts in times.items()}
print(f"same result: {same} ({json.dumps(results[py]['result'])[:80]}...)")
print(f"round trip p50: python-wordcount {p50[py]:.2f} ms, wordcount (Rust) {p50[rs]:.2f} ms, ratio {p50[py] / p50[rs]:.1f}x (200 alternating calls each)")
PY
