#!/usr/bin/env python3
"""A faas/1 pull worker written only from docs/protocol.md, with stock
libraries: a pyzmq REQ socket for the wire and wasmtime-py to run typed
exports.

Usage: pull_client.py TASKS tcp://HOST:PORT
(with CURVE keys from FAAS_DISPATCHER_KEY and FAAS_WORKER_KEY_FILE)

It asks for one task at a time (PULL with free 1), asks for the module with
need_modules if a task comes without one, runs the task and sends its
result in the next PULL. When an answer does not come in time it closes the
REQ socket and opens a new one (the "lazy pirate" pattern), sending its
unacknowledged results again. It prints "python pull client ready" after
the first answer, "done TASK_ID" after each acknowledged result, and exits
after TASKS results.
"""

import json
import sys
import time
import uuid

import wasmtime
import zmq

from faas_curve import curve_keys, set_curve

TAG = b"faas/1"
WORKER = "py-req-" + uuid.uuid4().hex[:8]


def connect(ctx, url):
    sock = ctx.socket(zmq.REQ)
    set_curve(sock, curve_keys())
    sock.setsockopt(zmq.MAXMSGSIZE, 64 * 1024 * 1024)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(url)
    return sock


def main():
    wanted, url = int(sys.argv[1]), sys.argv[2]
    ctx = zmq.Context()
    sock = connect(ctx, url)
    engine = wasmtime.Engine()
    modules = {}  # function_id -> wasmtime.Module
    held = None  # the task being worked on (its TASK body), if any
    results = []  # results not yet acknowledged
    need = []
    seq = 0
    timeout_ms = 3000  # hold_ms + 2 x heartbeat_ms, with the defaults
    done = 0
    ready = False

    while done < wanted:
        seq += 1
        request = {"worker": WORKER, "name": "python-req", "slots": 1, "seq": seq,
                   "free": 0 if held else 1, "results": results, "need_modules": need,
                   "running": [{k: held[k] for k in ("task_id", "attempt", "receipt")}] if held else []}
        sock.send_multipart([TAG, b"PULL", json.dumps(request).encode()])
        if not sock.poll(timeout_ms):
            # No answer: the REQ socket cannot send again, so start afresh.
            sock.close()
            sock = connect(ctx, url)
            continue
        answer = sock.recv_multipart()
        if len(answer) < 3 or answer[0] != TAG:
            continue
        kind, body = answer[1].decode(), json.loads(answer[2])
        if kind == "ERROR":
            print("error from the dispatcher:", body["message"], file=sys.stderr, flush=True)
            time.sleep(0.5)
            continue
        if not ready:
            print("python pull client ready", flush=True)
            ready = True
            timeout_ms = body["hold_ms"] + 2 * body["heartbeat_ms"]
        for acknowledged in results:
            done += 1
            print("done", acknowledged["task_id"], flush=True)
        results, need = [], []
        for fid, module in zip(body["modules"], answer[3:]):
            modules[fid] = wasmtime.Module(engine, module)
        if body["tasks"]:
            held = body["tasks"][0]
        if held is None:
            continue
        fid = held["function_id"]
        if fid not in modules:
            need = [fid]
            continue
        ref = {k: held[k] for k in ("task_id", "attempt", "receipt")}
        try:
            store = wasmtime.Store(engine)
            instance = wasmtime.Instance(store, modules[fid], [])
            value = instance.exports(store)[held["function"]["entry"]](store, *held["payload"])
            results = [dict(ref, status="COMPLETED", result=value)]
        except Exception as e:  # a trap, or a WASI module this client cannot run
            results = [dict(ref, status="FAILED", result=str(e), kind="trap")]
        held = None


if __name__ == "__main__":
    main()
