"""The blocking client: one keep-alive connection pool (httpx.Client) to one
server, safe to share between threads."""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import httpx

from . import _protocol as p
from .config import resolve
from .errors import ConnectionFailed, FaasError
from .types import CancelList, FunctionRow, ResultRow, Task, TaskRow

__all__ = ["Client"]

_USER_AGENT = "faas-client-python/0.1"

#: Transport failures after which nothing reached the server: always safe
#: to try again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _headers(token: Optional[str]) -> dict:
    headers = {"user-agent": _USER_AGENT, "accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def connection_failed(url: str, call: p.Call, e: Exception) -> ConnectionFailed:
    if isinstance(e, _NOT_SENT):
        return ConnectionFailed(
            f"cannot reach the faas server at {url}: {type(e).__name__}: {e or 'no detail'}; "
            "check that it is running (`faas up`) and that url / FAAS_URL point to it"
        )
    return ConnectionFailed(f"{call.method} {url}{call.path} failed: {type(e).__name__}: {e or 'no detail'}")


def _verify(verify: Union[bool, str, None]) -> Union[bool, str]:
    if verify is None:
        return os.environ.get("FAAS_CACERT") or True
    return verify


def request_args(call: p.Call) -> Dict[str, Any]:
    """The arguments of httpx's `request` for `call`."""
    return {
        "method": call.method,
        "url": call.path,
        "content": call.body.encode("utf-8") if call.body is not None else None,
        "params": call.params,
        "headers": {"content-type": "application/json"} if call.body is not None else None,
        "timeout": call.timeout if call.timeout is not None else httpx.USE_CLIENT_DEFAULT,
    }


def settle(
    retry: p.RetryPolicy,
    attempt: int,
    url: str,
    call: p.Call,
    outcome: Union[httpx.Response, httpx.TransportError],
) -> Tuple[bool, Any]:
    """What try number `attempt` of `call` came to: (True, the decoded answer
    of a 2xx) or (False, seconds to wait before trying again); raises when
    it may not be tried again. One decision for Client and AsyncClient."""
    if isinstance(outcome, httpx.TransportError):
        # A request that may have reached the server is repeated only if
        # repeating it is harmless.
        safe = call.idempotent or isinstance(outcome, _NOT_SENT)
        delay = retry.delay(attempt) if safe else None
        if delay is None:
            raise connection_failed(url, call, outcome) from outcome
        return False, delay
    status = outcome.status_code
    if status < 300:
        return True, p.decode(outcome.content, call.path)
    retry_after = outcome.headers.get("retry-after")
    delay = None
    if status in retry.retry_statuses:
        delay = retry.delay(attempt, p.retry_after_seconds(retry_after))
    if delay is None:
        raise p.error_from_answer(status, outcome.content, retry_after)
    return False, delay


class Client:
    """A client of one faas server.

    ``url``: the server (default ``$FAAS_URL``, else
    ``http://127.0.0.1:8000``). ``token``: its API key (default
    ``$FAAS_TOKEN``, else the key the ``faas`` CLI saved for that URL in
    its credentials file). ``timeout``: seconds for an ordinary request
    (long polls get their wait on top). ``retry``: when requests are tried
    again (:class:`RetryPolicy`). ``verify``: TLS verification as httpx
    takes it (default: ``$FAAS_CACERT`` if set, else the system's roots).

    Thread-safe; use it as a context manager or call :meth:`close`.
    """

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
        self._http = httpx.Client(
            base_url=self.url,
            headers=_headers(self.token),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=_verify(verify),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    # ------------------------------------------------------------ plumbing

    def _send(self, call: p.Call) -> Any:
        """One call, with retries; the decoded answer of a 2xx."""
        attempt = 0
        while True:
            outcome: Union[httpx.Response, httpx.TransportError]
            try:
                outcome = self._http.request(**request_args(call))
            except httpx.TransportError as e:
                outcome = e
            done, value = settle(self.retry, attempt, self.url, call, outcome)
            if done:
                return value
            attempt += 1
            time.sleep(value)

    def _drive(self, op: p.Op) -> Any:
        try:
            step = next(op)
            while True:
                if isinstance(step, p.Sleep):
                    time.sleep(step.seconds)
                    step = op.send(None)
                    continue
                try:
                    answer = self._send(step)
                except FaasError as e:
                    step = op.throw(e)
                else:
                    step = op.send(answer)
        except StopIteration as stop:
            return stop.value

    # ------------------------------------------------------------ the API

    def register(
        self,
        module: Union[str, "os.PathLike[str]", bytes],
        name: Optional[str] = None,
        *,
        entry: Optional[str] = None,
    ) -> str:
        """Uploads a module and returns its function id. ``module``: a path
        to a ``.wasm`` or ``.wat`` file (``name`` defaults to its stem), or
        the module's bytes (wasm binary or WAT text; ``name`` required).
        ``entry``: the export tasks call (by default the server picks:
        ``_start``, else the export named ``name``, else the only one)."""
        return self._drive(p.register(module, name, entry))

    def submit(self, function_id: str, payload: Any, ttl: Optional[float] = None) -> str:
        """Queues one task and returns its id. ``payload``: a list of
        numbers for a typed export, a string (stdin) for a WASI command,
        any JSON for a handler component. ``ttl``: seconds its record is
        kept after it ends (default: the server's)."""
        return self._drive(p.submit(function_id, payload, ttl))

    def submit_batch(self, function_id: str, payloads: Iterable[Any], ttl: Optional[float] = None) -> List[str]:
        """Queues one task per payload and returns their ids in order,
        10,000 per request (each request all or none: one bad payload
        refuses its request; the error's ``payload_index`` names it). If a
        request fails after earlier ones succeeded, the exception's
        ``submitted`` lists the ids created before it."""
        return self._drive(p.submit_batch(function_id, payloads, ttl))

    def status(self, task_id: str) -> str:
        """``QUEUED``, ``RUNNING``, ``COMPLETED`` or ``FAILED``."""
        return self._drive(p.status(task_id))

    def result(self, task_id: str, wait: Optional[float] = None) -> Any:
        """The task's value once it COMPLETED.

        Raises :class:`TaskFailed` (with the failure message and kind) if it
        FAILED, and :class:`TaskNotFinished` (a ``TimeoutError``, with the
        status) if it has not ended: at once with ``wait=None``, else after
        long-polling up to ``wait`` seconds (``math.inf``: until it ends).
        """
        return self._drive(p.result(task_id, wait))

    def results(self, task_ids: Iterable[str], wait: Optional[float] = None) -> List[ResultRow]:
        """Status and result of many tasks, one row per id in order
        (``POST /results``, 10,000 ids per request); an unknown id's row has
        ``status`` None and ``error``. With ``wait``, the server holds each
        request until all its tasks have ended or the wait runs out; rows of
        unfinished tasks have a null ``result``."""
        return self._drive(p.results(task_ids, wait))

    def task(self, task_id: str) -> Task:
        """The task's whole record: payload, result, ``failure_kind``,
        attempts, timestamps, usage."""
        return self._drive(p.task(task_id))

    def functions(self, limit: Optional[int] = None) -> List[FunctionRow]:
        """Registered functions, newest first (the server's default 100;
        ``limit`` up to 1000)."""
        return self._drive(p.functions(limit))

    def tasks(self, limit: Optional[int] = None, status: Optional[str] = None) -> List[TaskRow]:
        """The most recently submitted tasks, newest first; only those in
        ``status`` (QUEUED, RUNNING, COMPLETED, FAILED) if given."""
        return self._drive(p.tasks(limit, status))

    def cancel(self, task_ids: Iterable[str]) -> CancelList:
        """Cancels tasks: queued ones never run, running ones are stopped;
        each ends FAILED with kind ``cancelled``. Ended ones stay as they were."""
        return self._drive(p.cancel(task_ids))

    def delete_function(self, function_id: str) -> None:
        """Deletes a function: its queued tasks fail, running ones finish."""
        self._drive(p.delete_function(function_id))

    def health(self) -> dict:
        """``GET /health`` (needs no key)."""
        return self._drive(p.health())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"
