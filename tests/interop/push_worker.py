#!/usr/bin/env python3
"""A faas/1 push worker written only from docs/protocol.md, with stock
libraries: pyzmq for the wire and wasmtime-py to run typed exports.

Usage: push_worker.py SLOTS tcp://HOST:PORT
(with CURVE keys from FAAS_DISPATCHER_KEY and FAAS_WORKER_KEY_FILE)

It registers, heartbeats, runs each TASK (typed exports only) and reports a
RESULT; it asks for a module with NEED_MODULE when a TASK comes without one
for a function it does not know. It prints "python worker ready" once
WELCOMEd, and "done N" to stdout after each result, for the test to follow.
"""

import json
import sys
import time
import uuid

import wasmtime
import zmq

from faas_curve import curve_keys, set_curve

TAG = b"faas/1"


def frames(kind, body, extra=None):
    out = [TAG, kind.encode(), json.dumps(body).encode()]
    if extra is not None:
        out.append(extra)
    return out


def main():
    slots, url = int(sys.argv[1]), sys.argv[2]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    set_curve(sock, curve_keys())
    sock.setsockopt(zmq.ROUTING_ID, ("py-" + uuid.uuid4().hex[:8]).encode())
    sock.setsockopt(zmq.MAXMSGSIZE, 64 * 1024 * 1024)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(url)

    engine = wasmtime.Engine()
    modules = {}  # function_id -> (store-less Module, entry)
    heartbeat = 1.0
    last_beat = 0.0
    done = 0

    sock.send_multipart(frames("REGISTER", {"worker": "python-interop", "slots": slots, "running": []}))
    while True:
        now = time.monotonic()
        if now - last_beat >= heartbeat:
            sock.send_multipart(frames("HEARTBEAT", {"running": 0}))
            last_beat = now
        if not sock.poll(int(heartbeat * 1000 / 2)):
            continue
        msg = sock.recv_multipart()
        if len(msg) < 3 or msg[0] != TAG:
            continue
        kind, body = msg[1].decode(), json.loads(msg[2])
        if kind == "WELCOME":
            heartbeat = body["heartbeat_ms"] / 1000.0
            print("python worker ready", flush=True)
        elif kind == "REREGISTER":
            sock.send_multipart(frames("REGISTER", {"worker": "python-interop", "slots": slots, "running": []}))
        elif kind == "TASK":
            ref = {k: body[k] for k in ("task_id", "attempt", "receipt")}
            fid = body["function_id"]
            if len(msg) > 3:
                modules[fid] = (wasmtime.Module(engine, msg[3]), body["function"]["entry"])
            if fid not in modules:
                sock.send_multipart(frames("NEED_MODULE", dict(ref, function_id=fid)))
                continue
            module, entry = modules[fid]
            try:
                store = wasmtime.Store(engine)
                instance = wasmtime.Instance(store, module, [])
                value = instance.exports(store)[entry](store, *body["payload"])
                result = dict(ref, status="COMPLETED", result=value)
            except Exception as e:  # a trap, or a WASI module this worker cannot run
                result = dict(ref, status="FAILED", result=str(e), kind="trap")
            sock.send_multipart(frames("RESULT", result))
            done += 1
            print("done", done, flush=True)


if __name__ == "__main__":
    main()
