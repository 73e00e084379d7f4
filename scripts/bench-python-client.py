#!/usr/bin/env python3
"""No-op tasks through one Python client Executor, in one process: tasks/s.

Starts a private `faas up` on a free loopback port (its own config dir;
`--redis URL` puts it on that Redis), or uses `--url`/`--token` of a running
server; registers a no-op (`(module (func (export "noop")))`), warms up, then
maps N empty payloads through one `faas_client.Executor` and prints the
rate, the client's CPU per task, and the command line it ran.

    scripts/bench-python-client.py                      # 200,000 tasks
    scripts/bench-python-client.py --tasks 50000 --rounds 3
    scripts/bench-python-client.py --url http://127.0.0.1:8000 --token KEY
    scripts/bench-python-client.py --profile            # cProfile of the client's threads
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "clients" / "python" / "src"))

from faas_client import Client, Executor  # noqa: E402
from faas_client.config import token_in  # noqa: E402

NOOP_WAT = b'(module (func (export "noop")))'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_faas(binary: str, workers: int, redis: str | None, tmp: Path) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")}
    env["FAAS_CONFIG_DIR"] = str(tmp / "config")
    env["RUST_LOG"] = "info"  # the ready line is an info line
    cmd = [binary, "up", "--port", str(port), "-w", str(workers), "--compiled-dir", str(tmp / "compiled")]
    if redis:
        cmd += ["--redis", redis]
    log = tmp / "faas.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while "listening on" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"faas up did not start ({' '.join(cmd)}):\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    token = token_in((tmp / "config" / "credentials").read_text(), url)
    print(f"started: {shlex.join(cmd)}", file=sys.stderr)
    return proc, url, token or ""


def run(ex: Executor, n: int) -> float:
    started = time.perf_counter()
    count = 0
    for _ in ex.map([] for _ in range(n)):
        count += 1
    elapsed = time.perf_counter() - started
    assert count == n
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--url")
    ap.add_argument("--token")
    ap.add_argument("--faas", default=os.environ.get("FAAS_BIN") or str(REPO / "target" / "release" / "faas"))
    ap.add_argument("--redis", help="run the private faas up on this Redis")
    ap.add_argument("--workers", "-w", type=int, default=os.cpu_count() or 2, help="slots of the private faas up")
    ap.add_argument("--max-batch", type=int, default=10_000)
    ap.add_argument("--max-in-flight", type=int, default=50_000)
    ap.add_argument("--pollers", type=int, default=4)
    ap.add_argument("--poll-wait", type=float, default=1.0)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the client (all threads)")
    args = ap.parse_args()
    print("command:", shlex.join([sys.executable, *sys.argv]))

    proc = None
    tmp = tempfile.TemporaryDirectory(prefix="faas-pybench-")
    try:
        if args.url:
            url, token = args.url, args.token
        else:
            proc, url, token = start_faas(args.faas, args.workers, args.redis, Path(tmp.name))
        profilers = []
        if args.profile:
            import cProfile
            import threading

            def start_profiling(*_: object) -> None:
                # Called once in each thread started from here on: a
                # profiler of its own replaces this hook for that thread.
                prof = cProfile.Profile()
                profilers.append(prof)
                prof.enable()

            threading.setprofile(start_profiling)
        with Client(url, token) as client:
            fid = client.register(NOOP_WAT, "noop")
            with Executor(
                client,
                fid,
                max_batch=args.max_batch,
                max_in_flight=args.max_in_flight,
                pollers=args.pollers,
                poll_wait=args.poll_wait,
            ) as ex:
                run(ex, min(args.tasks, 20_000))  # warm-up: connections, compiled module
                if args.profile:
                    main_prof = cProfile.Profile()
                    profilers.append(main_prof)
                    main_prof.enable()
                rates = []
                for r in range(args.rounds):
                    cpu0 = time.process_time()
                    elapsed = run(ex, args.tasks)
                    cpu = time.process_time() - cpu0
                    rate = args.tasks / elapsed
                    rates.append(rate)
                    print(
                        f"round {r + 1}: {args.tasks} no-op tasks in {elapsed:.2f} s: {rate:,.0f} tasks/s; "
                        f"client CPU {cpu * 1e6 / args.tasks:.1f} us/task ({cpu / elapsed * 100:.0f}% of a core)"
                    )
                if args.profile:
                    main_prof.disable()
        if profilers:
            import pstats

            stats = pstats.Stats(profilers[0])
            for prof in profilers[1:]:
                stats.add(prof)
            stats.sort_stats("tottime").print_stats(30)
        if len(rates) > 1:
            rates.sort()
            print(f"median {rates[len(rates) // 2]:,.0f} tasks/s, best {rates[-1]:,.0f} over {len(rates)} rounds")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        tmp.cleanup()


if __name__ == "__main__":
    main()
