#!/usr/bin/env python3
"""The chaos soak's load generator (standard library only).

Registers five functions (add, sleep, fib, a trap, an endless loop that
the 10 s limit stops), then submits a steady mix of tasks for --seconds,
one by one and in small batches, while processes are being killed: adds,
fibs, 50 ms sleeps, traps, loops, and 1 s sleeps that it cancels 0 to
1.5 s later (each cancel's answer goes to cancels.jsonl). Every task id
that got a 201 is appended to submitted.jsonl with the kind of its
function and the result it must end with. A watcher reads
results during the run and appends the first final state it sees of each
task to first_finals.jsonl, so the checker can tell whether a final state
changed later. After the load stops it keeps watching until every task is
final or --drain seconds have passed.
"""

import argparse
import base64
import http.client
import json
import os
import random
import threading
import time
import urllib.parse

ADD = '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))'
TRAP = '(module (func (export "boom") unreachable))'
SPIN = '(module (func (export "spin") (loop $l (br $l))))'
FIB = """(module
  (func $fib (export "fib") (param i32) (result i64)
    (if (result i64) (i32.lt_u (local.get 0) (i32.const 2))
      (then (i64.extend_i32_u (local.get 0)))
      (else (i64.add
        (call $fib (i32.sub (local.get 0) (i32.const 1)))
        (call $fib (i32.sub (local.get 0) (i32.const 2))))))))"""


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class Api:
    """One keep-alive HTTP connection, reopened after any error."""

    def __init__(self, url, timeout=5.0):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None):
        """(status, parsed JSON or None); raises OSError/HTTPException on transport errors."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def register(api, name, wat, deadline):
    payload = base64.b64encode(wat.encode()).decode()
    while True:
        try:
            status, body = api.call("POST", "/register_function", {"name": name, "payload": payload})
            if status == 201:
                return body["function_id"]
            if time.time() > deadline:
                raise SystemExit(f"cannot register {name}: {status} {body}")
        except (OSError, http.client.HTTPException) as e:
            if time.time() > deadline:
                raise SystemExit(f"cannot register {name}: {e}")
        time.sleep(0.5)


class Recorder:
    """Appends JSON lines under a lock, flushed at once (the file is the evidence)."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, rows):
        with self.lock:
            for row in rows:
                self.file.write(json.dumps(row, separators=(",", ":")) + "\n")
            self.file.flush()


class Load:
    def __init__(self, args, functions):
        self.args = args
        self.functions = functions
        self.submitted = Recorder(f"{args.out}/submitted.jsonl")
        self.finals = Recorder(f"{args.out}/first_finals.jsonl")
        self.cancels = Recorder(f"{args.out}/cancels.jsonl")
        self.pending = {}  # task id -> kind, for the watcher
        self.lock = threading.Lock()
        self.stop_at = time.time() + args.seconds
        self.counts = {"accepted": 0, "errors": 0, "final": 0}

    def task(self, rng):
        """(kind, function id, payload, expected result) of one random task."""
        r = rng.random()
        if r < 0.45:
            a, b = rng.randrange(-10**6, 10**6), rng.randrange(-10**6, 10**6)
            return "add", [a, b], a + b
        if r < 0.70:
            n = rng.randrange(10, 26)
            return "fib", [n], fib(n)
        if r < 0.90:
            return "sleep", "50", "slept"
        return "trap", [], None

    def refused(self, status):
        """Counts an answer other than 201 by its status (503: Redis down)."""
        with self.lock:
            key = f"refused_{status}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def record(self, rows):
        self.submitted.write(rows)
        with self.lock:
            for row in rows:
                self.pending[row["id"]] = row["kind"]
            self.counts["accepted"] += len(rows)

    def submit(self, api, kind, payload, expect):
        """The new task's id, or None if it was not accepted."""
        body = {"function_id": self.functions[kind], "payload": payload}
        try:
            status, answer = api.call("POST", "/execute_function", body)
        except (OSError, http.client.HTTPException):
            self.counts["errors"] += 1
            return False
        if status != 201:
            self.refused(status)
            return False
        self.record([{"id": answer["task_id"], "kind": kind, "expect": expect, "t": time.time()}])
        return answer["task_id"]

    def submit_batch(self, api, rng, size):
        pairs = [(rng.randrange(-1000, 1000), rng.randrange(-1000, 1000)) for _ in range(size)]
        body = {"function_id": self.functions["add"], "payloads": [list(p) for p in pairs]}
        try:
            status, answer = api.call("POST", "/execute_batch", body)
        except (OSError, http.client.HTTPException):
            self.counts["errors"] += 1
            return
        if status != 201:
            self.refused(status)
            return
        now = time.time()
        self.record([{"id": tid, "kind": "add", "expect": a + b, "t": now}
                     for tid, (a, b) in zip(answer["task_ids"], pairs)])

    def submitter(self, seed, rate):
        """Single submissions at `rate` per second (paced, not bursty)."""
        rng, api = random.Random(seed), Api(self.args.url)
        interval, next_at = 1.0 / rate, time.time()
        while time.time() < self.stop_at:
            kind, payload, expect = self.task(rng)
            if not self.submit(api, kind, payload, expect):
                time.sleep(0.2)  # the server or Redis is down: do not spin
            next_at += interval
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.time()
        api.close()

    def cancel(self, task_id):
        """POST /tasks/{id}/cancel, recording its answer's status (None: no answer)."""
        api, code = Api(self.args.url), None
        try:
            code, _ = api.call("POST", f"/tasks/{task_id}/cancel")
        except (OSError, http.client.HTTPException):
            pass
        api.close()
        self.cancels.write([{"id": task_id, "code": code, "t": time.time()}])

    def batcher(self, seed):
        """A batch of --batch adds; a sleep of 1 s cancelled 0 to 1.5 s
        later; and every fifth round one endless loop."""
        rng, api, rounds = random.Random(seed), Api(self.args.url), 0
        while time.time() < self.stop_at:
            self.submit_batch(api, rng, self.args.batch)
            task_id = self.submit(api, "cancel", "1000", "slept")
            if task_id:
                threading.Timer(rng.uniform(0, 1.5), self.cancel, args=(task_id,)).start()
            if rounds % self.args.timeout_every == 0:
                self.submit(api, "timeout", [], None)
            rounds += 1
            time.sleep(1.0)
        api.close()

    def watch_once(self, api):
        with self.lock:
            ids = list(self.pending)
        for i in range(0, len(ids), 1000):
            chunk = ids[i:i + 1000]
            try:
                status, answer = api.call("POST", "/results", {"task_ids": chunk})
            except (OSError, http.client.HTTPException):
                return
            if status != 200:
                return
            now, finals = time.time(), []
            for row in answer["results"]:
                if row.get("status") in ("COMPLETED", "FAILED"):
                    finals.append({"id": row["task_id"], "status": row["status"],
                                   "result": row["result"], "t": now})
            self.finals.write(finals)
            with self.lock:
                for row in finals:
                    self.pending.pop(row["id"], None)
                self.counts["final"] += len(finals)

    def watcher(self, drain_until):
        api = Api(self.args.url, timeout=30.0)
        while True:
            self.watch_once(api)
            with self.lock:
                left = len(self.pending)
            if time.time() >= self.stop_at and (left == 0 or time.time() >= drain_until()):
                break
            time.sleep(1.0)
        api.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True, help="directory for submitted.jsonl and first_finals.jsonl")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--rate", type=float, default=30.0, help="single submissions per second (all threads)")
    p.add_argument("--threads", type=int, default=3)
    p.add_argument("--batch", type=int, default=20, help="adds per batch, one batch a second")
    p.add_argument("--timeout-every", type=int, default=5, help="one endless loop every N batches")
    p.add_argument("--drain", type=float, default=180.0, help="seconds to wait for finals after the load")
    args = p.parse_args()

    api = Api(args.url)
    deadline = time.time() + 60
    functions = {kind: register(api, kind, wat, deadline) for kind, wat in
                 [("add", ADD), ("fib", FIB), ("trap", TRAP), ("timeout", SPIN)]}
    with open(os.path.join(os.path.dirname(__file__), "../runtime/tests/fixtures/sleep.wat"),
              encoding="utf-8") as f:
        functions["sleep"] = register(api, "sleep", f.read(), deadline)
    functions["cancel"] = functions["sleep"]  # a long sleep, cancelled while queued or running
    api.close()
    with open(f"{args.out}/functions.json", "w", encoding="utf-8") as f:
        json.dump(functions, f)
    print("registered", flush=True)

    load = Load(args, functions)
    load.stop_at = time.time() + args.seconds
    threads = [threading.Thread(target=load.submitter, args=(i, args.rate / args.threads))
               for i in range(args.threads)]
    threads.append(threading.Thread(target=load.batcher, args=(1000,)))
    for t in threads:
        t.start()
    drain_until = lambda: load.stop_at + args.drain  # noqa: E731
    watcher = threading.Thread(target=load.watcher, args=(drain_until,))
    watcher.start()
    last = time.time()
    while any(t.is_alive() for t in threads):
        time.sleep(1.0)
        if time.time() - last >= 30:
            last = time.time()
            with load.lock:
                print(f"load: {load.counts} pending {len(load.pending)}", flush=True)
    print(f"load stopped: {load.counts}", flush=True)
    watcher.join()
    with load.lock:
        print(f"drained: {load.counts}, not final yet: {len(load.pending)}", flush=True)


if __name__ == "__main__":
    main()
