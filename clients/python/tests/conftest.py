"""Fixtures: a real ``faas up`` on a free loopback port (embedded store, and
again on a private ``redis-server``), each with its own config directory,
stopped by the pid the fixture started; WAT modules to deploy; and a tiny
scripted HTTP server for what only a fake can do (answer 503 on cue, hold
a request)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
# The tests run against this checkout's client whether or not it is installed.
sys.path.insert(0, str(HERE.parent / "src"))

from faas_client import Client  # noqa: E402
from faas_client.config import token_in  # noqa: E402

#: Typed exports as WAT text (the server compiles WAT as well as wasm).
ADD_WAT = b"""(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add))"""
NOOP_WAT = b'(module (func (export "noop")))'
TRAP_WAT = b'(module (func (export "boom") (param i32) (result i32) unreachable))'
# Returns its argument; traps on 0.
PICKY_WAT = b"""(module
  (func (export "picky") (param i32) (result i32)
    local.get 0
    i32.eqz
    if
      unreachable
    end
    local.get 0))"""
# Counts down from its argument: long enough to be caught running.
SPIN_WAT = b"""(module
  (func (export "spin") (param i64) (result i64)
    (block $done
      (loop $again
        local.get 0
        i64.eqz
        br_if $done
        local.get 0
        i64.const 1
        i64.sub
        local.set 0
        br $again))
    local.get 0))"""

READY_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """Stops a process this fixture started: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def faas_bin() -> Path:
    path = Path(os.environ.get("FAAS_BIN") or REPO / "target" / "release" / "faas")
    if not path.is_file():
        pytest.skip(f"no faas binary at {path} (build it: cargo build --release -p faas-cli; or set FAAS_BIN)")
    return path


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free port (never 6379), no persistence."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    workdir = tmp_path_factory.mktemp("redis")
    for _ in range(5):
        port = free_port()
        if port == 6379:
            continue
        log = open(workdir / "redis.log", "wb")
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None and not _redis_pong(port):
            time.sleep(0.05)
        if proc.poll() is None and _redis_pong(port):
            try:
                yield f"redis://127.0.0.1:{port}"
            finally:
                stop(proc)
                log.close()
            return
        stop(proc)
        log.close()
    pytest.fail(f"redis-server did not start; see {workdir / 'redis.log'}")


@dataclass
class Server:
    """A running ``faas up``: its URL, the admin key it saved, its config dir."""

    url: str
    token: str
    config_dir: Path
    store: str
    proc: subprocess.Popen
    log: Path
    _modules: Dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> Client:
        return Client(self.url, self.token, **kwargs)

    def function(self, wat: bytes, name: str) -> str:
        """The id of ``wat`` registered once per server."""
        if name not in self._modules:
            with self.client() as c:
                self._modules[name] = c.register(wat, name)
        return self._modules[name]


def _start_faas(tmp: Path, redis: Optional[str]) -> Server:
    exe = faas_bin()
    config = tmp / "config"
    config.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")}
    env["FAAS_CONFIG_DIR"] = str(config)
    env["RUST_LOG"] = "info"  # the ready line is an info line
    for attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = tmp / f"faas-{attempt}.log"
        cmd = [str(exe), "up", "--port", str(port), "-w", "2", "--compiled-dir", str(tmp / "compiled")]
        if redis:
            cmd += ["--redis", redis]
        log = open(log_path, "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            if "listening on" in log_path.read_text(errors="replace"):
                ready = True
                break
            time.sleep(0.05)
        if ready:
            text = (config / "credentials").read_text()
            token = token_in(text, url)
            assert token, f"no token for {url} in {config / 'credentials'}:\n{text}"
            return Server(url, token, config, "redis" if redis else "memory", proc, log_path)
        stop(proc)
        output = log_path.read_text(errors="replace")
        if "in use" not in output and "Address already" not in output:
            break
    pytest.fail(f"faas up did not become ready: {' '.join(cmd)}\n{log_path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session", params=["memory", "redis"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``faas up`` on the embedded store, then on a private Redis: every test
    using it runs against both."""
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    srv = _start_faas(tmp_path_factory.mktemp(f"faas-{request.param}"), redis)
    try:
        yield srv
    finally:
        stop(srv.proc)


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    with server.client() as c:
        yield c


# ---------------------------------------------------------------- a scripted fake


Handler = Callable[[str, str, Any], Tuple[int, Any, Dict[str, str]]]


class FakeServer:
    """An HTTP server whose answers a test scripts: ``handler(method, path,
    body)`` returns (status, JSON body, headers). Records every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: List[Tuple[str, str, Any]] = []
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append((self.command, self.path, body))
                status, answer, headers = fake.handler(self.command, self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def fake_server() -> Iterator[Callable[[Handler], FakeServer]]:
    made: List[FakeServer] = []

    def make(handler: Handler) -> FakeServer:
        fake = FakeServer(handler)
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.close()
