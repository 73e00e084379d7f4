"""Executor: against a real `faas up` (both stores), and against a scripted
fake where the test must control when a batch is sent."""

from __future__ import annotations

import concurrent.futures
import threading
import uuid
from typing import Any, Dict, Iterator, List

import pytest
from conftest import ADD_WAT, PICKY_WAT, TRAP_WAT, Server

from faas_client import BadRequest, Client, Executor, NotFound, RetryPolicy, TaskFailed

WAIT = 300.0


def test_map_10000_payloads_in_order(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")
    n = 10_000
    with Executor(client, fid) as ex:
        out = list(ex.map(([i, 7] for i in range(n)), timeout=WAIT))
    assert out == [i + 7 for i in range(n)]


def test_map_streams_with_bounded_submissions(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")
    pulled = 0

    def payloads() -> Iterator[List[int]]:
        nonlocal pulled
        for i in range(1_000):
            pulled += 1
            yield [i, 1]

    with Executor(client, fid, max_in_flight=100, max_batch=40) as ex:
        results = ex.map(payloads(), timeout=WAIT)
        assert pulled == 100  # the window, submitted at once
        assert next(results) == 1  # the first result, long before the last payload is read
        assert pulled <= 100
        rest = list(results)
    assert rest == [i + 1 for i in range(1, 1_000)]
    assert pulled == 1_000


def test_submit_returns_futures(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")
    with Executor(client, fid) as ex:
        futures = [ex.submit([i, i]) for i in range(50)]
        assert all(isinstance(f, concurrent.futures.Future) for f in futures)
        assert [f.result(WAIT) for f in futures] == [2 * i for i in range(50)]
        assert all(f.task_id for f in futures)
        assert client.result(futures[3].task_id) == 6
        with pytest.raises(TypeError):
            ex.submit({1, 2})  # not JSON: refused at once


def test_failed_tasks_fail_their_futures(server: Server, client: Client) -> None:
    with Executor(client, server.function(TRAP_WAT, "boom")) as ex:
        error = ex.submit([1]).exception(WAIT)
    assert isinstance(error, TaskFailed)
    assert error.kind == "trap" and "unreachable" in error.message and error.task_id

    picky = server.function(PICKY_WAT, "picky")
    with Executor(client, picky) as ex:
        mixed = list(ex.map([[3], [0], [5]], timeout=WAIT, return_exceptions=True))
        assert mixed[0] == 3 and mixed[2] == 5
        assert isinstance(mixed[1], TaskFailed) and mixed[1].kind == "trap"
        results = ex.map([[1], [0], [2]], timeout=WAIT)
        assert next(results) == 1
        with pytest.raises(TaskFailed):
            next(results)


def test_many_failures_get_their_kind(server: Server, client: Client) -> None:
    picky = server.function(PICKY_WAT, "picky")
    with Executor(client, picky) as ex:
        out = list(ex.map([[i % 2] for i in range(40)], timeout=WAIT, return_exceptions=True))
    failures = out[0::2]
    assert all(isinstance(e, TaskFailed) and e.kind == "trap" for e in failures)
    assert out[1::2] == [1] * 20


def test_refused_submissions_fail_their_futures(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")
    with Executor(client, fid) as ex:
        out = list(ex.map([[1, 2], ["x", 2], [3, 4], [5]], timeout=WAIT, return_exceptions=True))
    assert out[0] == 3 and out[2] == 7
    assert isinstance(out[1], BadRequest) and out[1].status_code == 400
    assert isinstance(out[3], BadRequest)

    with Executor(client, str(uuid.uuid4())) as ex:
        futures = [ex.submit([1, 2]) for _ in range(3)]
        for f in futures:
            assert isinstance(f.exception(WAIT), NotFound)


def test_shutdown_waits_then_refuses(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")
    ex = Executor(client, fid)
    futures = [ex.submit([i, 0]) for i in range(300)]
    ex.shutdown(wait=True)
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == list(range(300))
    with pytest.raises(RuntimeError):
        ex.submit([1, 1])
    ex.shutdown()  # twice is fine


class HeldBatches:
    """A fake server whose /execute_batch answers only when released; its
    tasks are COMPLETED with their payload's first number."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.batches: List[List[Any]] = []
        self.values: Dict[str, Any] = {}

    def __call__(self, method: str, path: str, body: Any) -> Any:
        if path == "/execute_batch":
            self.batches.append(body["payloads"])
            self.arrived.set()
            assert self.release.wait(60)
            ids = []
            for payload in body["payloads"]:
                tid = str(uuid.uuid4())
                self.values[tid] = payload[0]
                ids.append(tid)
            return 201, {"task_ids": ids}, {}
        if path == "/results":
            rows = [{"task_id": t, "status": "COMPLETED", "result": self.values[t]} for t in body["task_ids"]]
            return 200, {"results": rows}, {}
        return 404, {"detail": f"no {path}"}, {}


def test_cancelled_before_sending_is_never_sent(fake_server: Any) -> None:
    script = HeldBatches()
    fake = fake_server(script)
    with Client(fake.url, "k") as c:
        ex = Executor(c, "f", max_batch=1)
        first = ex.submit([1])
        assert script.arrived.wait(60)  # the sender holds `first` in its request
        assert first.running() and not first.cancel()  # sent: too late
        second, third, fourth = ex.submit([2]), ex.submit([3]), ex.submit([4])
        assert second.cancel()
        ex.shutdown(wait=False, cancel_futures=True)
        assert third.cancelled() and fourth.cancelled()
        script.release.set()
        ex.shutdown(wait=True)
        assert first.result() == 1
    assert script.batches == [[[1]]]


def test_a_request_that_keeps_failing_fails_its_futures(fake_server: Any) -> None:
    fake = fake_server(lambda m, p, b: (503, {"detail": "store down; retry later"}, {}))
    with Client(fake.url, "k", retry=RetryPolicy(retries=2, backoff=0.01)) as c:
        with Executor(c, "f") as ex:
            error = ex.submit([1]).exception(60)
    assert error is not None and error.status_code == 503 and "store down" in error.detail
    assert len(fake.requests) == 3


def test_shutdown_cancelling_during_a_map(fake_server: Any) -> None:
    script = HeldBatches()
    fake = fake_server(script)
    with Client(fake.url, "k") as c:
        ex = Executor(c, "f", max_batch=1)
        results = ex.map([[1], [2], [3]])
        assert script.arrived.wait(60)
        ex.shutdown(wait=False, cancel_futures=True)
        script.release.set()
        assert next(results) == 1
        with pytest.raises(concurrent.futures.CancelledError):
            next(results)
        ex.shutdown(wait=True)
    assert script.batches == [[[1]]]


def test_closing_a_map_early_drops_what_was_not_sent(fake_server: Any) -> None:
    script = HeldBatches()
    fake = fake_server(script)
    with Client(fake.url, "k") as c:
        with Executor(c, "f", max_batch=1) as ex:
            results = ex.map([[1], [2], [3]])
            assert script.arrived.wait(60)  # [1] is out, [2] and [3] wait
            results.close()
            script.release.set()
    assert script.batches == [[[1]]]
