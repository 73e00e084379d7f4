"""Retries, against a scripted fake server: 503 (and 429) are tried again
with back-off, a bounded number of times; other errors are not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from faas_client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    RateLimited,
    RetryPolicy,
    Unauthorized,
    Unavailable,
)
from conftest import free_port

FAST = RetryPolicy(retries=4, backoff=0.01, max_backoff=0.05)


def flaky(failures: int, status: int = 503, ok: Any = None, headers: Any = None):
    """Answers `status` `failures` times, then 200/201 with `ok`."""
    count = {"n": 0}

    def handler(method: str, path: str, body: Any):
        count["n"] += 1
        if count["n"] <= failures:
            return status, {"detail": f"store unavailable ({count['n']}); retry later"}, headers or {}
        if path == "/execute_function":
            return 201, {"task_id": "t-1"}, {}
        return 200, ok if ok is not None else {"functions": []}, {}

    return handler


def test_503_twice_then_ok(fake_server: Any) -> None:
    fake = fake_server(flaky(2))
    with Client(fake.url, "k", retry=FAST) as c:
        assert c.functions() == []
    assert len(fake.requests) == 3
    assert all(r[:2] == ("GET", "/functions") for r in fake.requests)


def test_503_on_a_submission_is_retried(fake_server: Any) -> None:
    fake = fake_server(flaky(2))
    with Client(fake.url, "k", retry=FAST) as c:
        assert c.submit("f", [1]) == "t-1"
    assert len(fake.requests) == 3


def test_retries_are_bounded(fake_server: Any) -> None:
    fake = fake_server(flaky(1000))
    with Client(fake.url, "k", retry=FAST) as c:
        with pytest.raises(Unavailable) as e:
            c.functions()
    assert e.value.status_code == 503 and "retry later" in e.value.detail
    assert len(fake.requests) == 1 + FAST.retries


def test_429_honours_retry_after_then_gives_up(fake_server: Any) -> None:
    fake = fake_server(flaky(1000, status=429, headers={"retry-after": "0"}))
    with Client(fake.url, "k", retry=RetryPolicy(retries=1, backoff=0.01)) as c:
        with pytest.raises(RateLimited) as e:
            c.functions()
    assert e.value.retry_after == 0.0 and len(fake.requests) == 2


def test_other_errors_are_not_retried(fake_server: Any) -> None:
    fake = fake_server(flaky(1000, status=401))
    with Client(fake.url, "k", retry=FAST) as c:
        with pytest.raises(Unauthorized) as e:
            c.functions()
    assert "store unavailable (1)" in e.value.detail
    assert len(fake.requests) == 1


def test_a_server_that_is_not_there() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "k", retry=RetryPolicy(retries=2, backoff=0.01)) as c:
        with pytest.raises(ConnectionFailed) as e:
            c.functions()
    assert e.value.status_code is None and url in str(e.value)


def test_async_client_retries_too(fake_server: Any) -> None:
    fake = fake_server(flaky(2))

    async def main() -> Any:
        async with AsyncClient(fake.url, "k", retry=FAST) as c:
            return await c.functions()

    assert asyncio.run(main()) == []
    assert len(fake.requests) == 3
