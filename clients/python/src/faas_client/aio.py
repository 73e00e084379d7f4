"""The asyncio client: the same methods as :class:`~faas_client.Client`, as
coroutines, over one httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Iterable, List, Optional, Union

import httpx

from . import _protocol as p
from .client import _headers, _verify, request_args, settle
from .config import resolve
from .errors import FaasError
from .types import CancelList, FunctionRow, ResultRow, Task, TaskRow

__all__ = ["AsyncClient"]


class AsyncClient:
    """A client of one faas server for asyncio code; arguments, methods and
    errors as :class:`~faas_client.Client`'s. Use ``async with`` or
    ``await client.aclose()``."""

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 60.0,
        retry: Optional[p.RetryPolicy] = None,
        verify: Union[bool, str, None] = None,
        max_connections: int = 32,
    ) -> None:
        self.url, self.token = resolve(url, token)
        self.timeout = timeout
        self.retry = retry or p.RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=_headers(self.token),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=_verify(verify),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def _send(self, call: p.Call) -> Any:
        """One call, with retries (see `settle`); the decoded answer of a 2xx."""
        attempt = 0
        while True:
            outcome: Union[httpx.Response, httpx.TransportError]
            try:
                outcome = await self._http.request(**request_args(call))
            except httpx.TransportError as e:
                outcome = e
            done, value = settle(self.retry, attempt, self.url, call, outcome)
            if done:
                return value
            attempt += 1
            await asyncio.sleep(value)

    async def _drive(self, op: p.Op) -> Any:
        try:
            step = next(op)
            while True:
                if isinstance(step, p.Sleep):
                    await asyncio.sleep(step.seconds)
                    step = op.send(None)
                    continue
                try:
                    answer = await self._send(step)
                except FaasError as e:
                    step = op.throw(e)
                else:
                    step = op.send(answer)
        except StopIteration as stop:
            return stop.value

    async def register(
        self,
        module: Union[str, "os.PathLike[str]", bytes],
        name: Optional[str] = None,
        *,
        entry: Optional[str] = None,
    ) -> str:
        """See :meth:`Client.register` (the file is read synchronously)."""
        return await self._drive(p.register(module, name, entry))

    async def submit(self, function_id: str, payload: Any, ttl: Optional[float] = None) -> str:
        return await self._drive(p.submit(function_id, payload, ttl))

    async def submit_batch(self, function_id: str, payloads: Iterable[Any], ttl: Optional[float] = None) -> List[str]:
        return await self._drive(p.submit_batch(function_id, payloads, ttl))

    async def status(self, task_id: str) -> str:
        return await self._drive(p.status(task_id))

    async def result(self, task_id: str, wait: Optional[float] = None) -> Any:
        """See :meth:`Client.result`: the value, or TaskFailed / TaskNotFinished."""
        return await self._drive(p.result(task_id, wait))

    async def results(self, task_ids: Iterable[str], wait: Optional[float] = None) -> List[ResultRow]:
        return await self._drive(p.results(task_ids, wait))

    async def task(self, task_id: str) -> Task:
        return await self._drive(p.task(task_id))

    async def functions(self, limit: Optional[int] = None) -> List[FunctionRow]:
        return await self._drive(p.functions(limit))

    async def tasks(self, limit: Optional[int] = None, status: Optional[str] = None) -> List[TaskRow]:
        return await self._drive(p.tasks(limit, status))

    async def cancel(self, task_ids: Iterable[str]) -> CancelList:
        return await self._drive(p.cancel(task_ids))

    async def delete_function(self, function_id: str) -> None:
        await self._drive(p.delete_function(function_id))

    async def health(self) -> dict:
        return await self._drive(p.health())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def close(self) -> None:
        """The same as :meth:`aclose`."""
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"
