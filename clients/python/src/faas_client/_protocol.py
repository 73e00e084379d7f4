"""The REST calls, written once for both clients: each operation is a
generator that yields :class:`Call` (an HTTP request to make) or
:class:`Sleep` and gets back the decoded answer (or the exception, thrown
in). :class:`~faas_client.Client` drives them with blocking I/O,
:class:`~faas_client.AsyncClient` with ``await``."""

from __future__ import annotations

import base64
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Generator, Iterable, List, Optional, Sequence, Union
from urllib.parse import quote

from .errors import FaasError, TaskFailed, TaskNotFinished, error_for
from .types import COMPLETED, FAILED, CancelList, FunctionRow, ResultRow, Task, TaskRow

#: Most payloads per ``POST /execute_batch`` and ids per ``POST /results``
#: or ``POST /tasks/cancel`` (the server answers 413 beyond).
MAX_BATCH = 10_000

#: Longest single long poll the client asks for; the server cuts waits to
#: its own maximum (60 s by default) anyway.
LONG_POLL_MAX = 30.0

#: How much longer than its ``wait`` a long poll may take before the
#: client gives up on it.
WAIT_MARGIN = 15.0

_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


try:
    # The C encoder made once: json.dumps makes one per call, which costs
    # more than encoding a small payload (no circular-reference check: a
    # circular payload is a RecursionError, turned into a ValueError).
    from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

    _c_encode = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", False, False, False)
except (ImportError, TypeError):  # pragma: no cover - no C accelerator
    _c_encode = None


def dumps(value: Any) -> str:
    """Compact JSON; NaN and infinities (not JSON) are a ValueError, other
    values JSON cannot hold a TypeError."""
    if _c_encode is None or isinstance(value, str):
        return _encoder.encode(value)
    try:
        return "".join(_c_encode(value, 0))
    except RecursionError:
        raise ValueError("circular reference (or nesting too deep) in a payload") from None


@dataclass
class Call:
    """One HTTP request. ``body`` is JSON text already encoded.
    ``idempotent``: it may be sent again after the connection broke midway
    (a submission may not: it may have created its tasks)."""

    method: str
    path: str
    body: Optional[str] = None
    params: Optional[Dict[str, str]] = None
    idempotent: bool = True
    timeout: Optional[float] = None


@dataclass
class Sleep:
    seconds: float


Op = Generator[Union[Call, Sleep], Any, Any]


@dataclass
class RetryPolicy:
    """When a request is sent again: after a 503 (the store was away) or a
    429 (over quota: nothing was stored), after a connection that could not
    be made, and after a connection that broke on an idempotent request.
    ``retries`` more tries at most, ``backoff * 2**n`` seconds apart (with
    jitter), at most ``max_backoff`` apart; a ``Retry-After`` the server
    sends is honoured up to ``max_retry_after``."""

    retries: int = 5
    backoff: float = 0.1
    max_backoff: float = 5.0
    max_retry_after: float = 30.0
    retry_statuses: FrozenSet[int] = field(default_factory=lambda: frozenset({429, 503}))

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> Optional[float]:
        """Seconds to wait before try ``attempt + 1``; None: give up."""
        if attempt >= self.retries:
            return None
        d = min(self.max_backoff, self.backoff * (2**attempt)) * random.uniform(0.75, 1.0)
        if retry_after is not None:
            d = max(d, min(retry_after, self.max_retry_after))
        return d


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def error_detail(body: bytes) -> str:
    """The ``detail`` of an error body, else its text (cut to 500 chars)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        return detail if isinstance(detail, str) else dumps(detail)
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return "(empty body)"
    return text if len(text) <= 500 else text[:500] + "..."


def error_from_answer(status: int, body: bytes, retry_after: Optional[str]) -> FaasError:
    error = error_for(status, error_detail(body), retry_after_seconds(retry_after))
    error.payload_index = _payload_index(body, error.detail)
    return error


def _payload_index(body: bytes, detail: str) -> Optional[int]:
    """The refused payload of a batch: the body's ``payload_index``, or
    (servers before it) the ``payloads[3]: ...`` its detail starts with."""
    if b"payload_index" in body:
        try:
            index = json.loads(body).get("payload_index")
        except (ValueError, AttributeError):
            index = None
        if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
            return index
    if detail.startswith("payloads["):
        digits, sep, _ = detail[len("payloads[") :].partition("]: ")
        if sep and digits.isdigit():
            return int(digits)
    return None


def decode(body: bytes, path: str) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError as e:
        text = body[:200].decode("utf-8", "replace")
        raise FaasError(f"unexpected answer from {path}: not JSON ({e}): {text}") from None


def _wait_param(seconds: float) -> str:
    return f"{max(0.0, seconds):.3f}".rstrip("0").rstrip(".") or "0"


def _q(segment: str) -> str:
    return quote(str(segment), safe="")


def _ttl(ttl: Optional[float]) -> str:
    return "" if ttl is None else f',"ttl":{dumps(float(ttl))}'


def _expect(answer: Any, key: str, path: str) -> Any:
    if not isinstance(answer, dict) or key not in answer:
        raise FaasError(f"unexpected answer from {path}: no {key!r} in {str(answer)[:200]}")
    return answer[key]


# ---------------------------------------------------------------- operations


def register(module: Union[str, "os.PathLike[str]", bytes], name: Optional[str], entry: Optional[str]) -> Op:
    if isinstance(module, (bytes, bytearray, memoryview)):
        data = bytes(module)
        if not name:
            raise ValueError("give a name when registering a module's bytes")
    else:
        path = Path(module)
        data = path.read_bytes()
        name = name or path.stem
    body: Dict[str, Any] = {"name": name, "payload": base64.b64encode(data).decode("ascii")}
    if entry is not None:
        body["entry"] = entry
    answer = yield Call("POST", "/register_function", dumps(body), idempotent=False)
    return str(_expect(answer, "function_id", "/register_function"))


def submit(function_id: str, payload: Any, ttl: Optional[float]) -> Op:
    body = f'{{"function_id":{dumps(str(function_id))},"payload":{dumps(payload)}{_ttl(ttl)}}}'
    answer = yield Call("POST", "/execute_function", body, idempotent=False)
    return str(_expect(answer, "task_id", "/execute_function"))


def batch_call(function_id: str, encoded_payloads: Sequence[str], ttl: Optional[float]) -> Call:
    """``POST /execute_batch`` of payloads already JSON-encoded (at most
    :data:`MAX_BATCH`)."""
    body = f'{{"function_id":{dumps(str(function_id))},"payloads":[{",".join(encoded_payloads)}]{_ttl(ttl)}}}'
    return Call("POST", "/execute_batch", body, idempotent=False)


def batch_ids(answer: Any, sent: int) -> List[str]:
    ids = _expect(answer, "task_ids", "/execute_batch")
    if not isinstance(ids, list) or len(ids) != sent:
        raise FaasError(f"/execute_batch: sent {sent} payloads, got {len(ids)} task ids")
    return ids


def submit_batch(function_id: str, payloads: Iterable[Any], ttl: Optional[float]) -> Op:
    encoded = [dumps(p) for p in payloads]
    ids: List[str] = []
    for start in range(0, len(encoded), MAX_BATCH):
        chunk = encoded[start : start + MAX_BATCH]
        try:
            answer = yield batch_call(function_id, chunk, ttl)
        except FaasError as e:
            e.submitted = ids
            if e.payload_index is not None:
                e.payload_index += start  # an index into all the payloads
            raise
        ids.extend(batch_ids(answer, len(chunk)))
    return ids


def status(task_id: str) -> Op:
    answer = yield Call("GET", f"/status/{_q(task_id)}")
    return str(_expect(answer, "status", "/status"))


def results_call(task_ids: Sequence[str], wait: Optional[float]) -> Call:
    body = f'{{"task_ids":{dumps(list(task_ids))}'
    timeout = None
    if wait is not None and wait > 0:
        body += f',"wait":{_wait_param(wait)}'
        timeout = wait + WAIT_MARGIN
    return Call("POST", "/results", body + "}", timeout=timeout)


def results_rows(answer: Any, asked: int) -> List[ResultRow]:
    rows = _expect(answer, "results", "/results")
    if not isinstance(rows, list) or len(rows) != asked:
        raise FaasError(f"/results: asked for {asked} tasks, got {len(rows)} rows")
    return rows


def results(task_ids: Iterable[str], wait: Optional[float]) -> Op:
    ids = [str(t) for t in task_ids]
    deadline = None if wait is None else time.monotonic() + min(wait, 1e9)
    out: List[ResultRow] = []
    for start in range(0, len(ids), MAX_BATCH):
        chunk = ids[start : start + MAX_BATCH]
        w = None if deadline is None else max(0.0, deadline - time.monotonic())
        answer = yield results_call(chunk, w)
        out.extend(results_rows(answer, len(chunk)))
    return out


def failure_kind(task_id: str) -> Op:
    """The failure kind of an ended task (from its record); None if unread."""
    try:
        record = yield Call("GET", f"/tasks/{_q(task_id)}")
    except FaasError:
        return None
    kind = record.get("failure_kind") if isinstance(record, dict) else None
    return kind if isinstance(kind, str) else None


def result(task_id: str, wait: Optional[float]) -> Op:
    """The value of a COMPLETED task; TaskFailed for FAILED; TaskNotFinished
    if it has not ended within ``wait`` seconds (None: no waiting at all)."""
    task_id = str(task_id)
    deadline = None
    if wait is not None and not math.isinf(wait):
        deadline = time.monotonic() + max(0.0, wait)
    backoff = 0.05
    while True:
        if wait is None:
            w = 0.0
        elif deadline is None:
            w = LONG_POLL_MAX
        else:
            w = min(LONG_POLL_MAX, max(0.0, deadline - time.monotonic()))
        call = Call("GET", f"/result/{_q(task_id)}")
        if w > 0:
            call.params = {"wait": _wait_param(w)}
            call.timeout = w + WAIT_MARGIN
        started = time.monotonic()
        answer = yield call
        state = _expect(answer, "status", "/result")
        if state == COMPLETED:
            return answer.get("result")
        if state == FAILED:
            kind = yield from failure_kind(task_id)
            raise TaskFailed(failure_message(answer.get("result")), kind, task_id)
        if w <= 0:
            raise TaskNotFinished(task_id, state)
        # A server that answers a long poll early must not make this a busy loop.
        held = time.monotonic() - started
        if held < w * 0.5:
            yield Sleep(min(backoff, w - held))
            backoff = min(backoff * 2, 1.0)


def failure_message(result: Any) -> str:
    return result if isinstance(result, str) else dumps(result)


def task(task_id: str) -> Op:
    answer: Task = yield Call("GET", f"/tasks/{_q(task_id)}")
    return answer


def functions(limit: Optional[int]) -> Op:
    params = None if limit is None else {"limit": str(int(limit))}
    answer = yield Call("GET", "/functions", params=params)
    rows: List[FunctionRow] = _expect(answer, "functions", "/functions")
    return rows


def tasks(limit: Optional[int], status: Optional[str]) -> Op:
    params: Dict[str, str] = {}
    if limit is not None:
        params["limit"] = str(int(limit))
    if status is not None:
        params["status"] = str(status).upper()
    answer = yield Call("GET", "/tasks", params=params or None)
    rows: List[TaskRow] = _expect(answer, "tasks", "/tasks")
    return rows


def cancel(task_ids: Iterable[str]) -> Op:
    ids = [str(t) for t in task_ids]
    out: CancelList = {"cancelled": [], "already_ended": [], "unknown": []}
    for start in range(0, len(ids), MAX_BATCH):
        body = f'{{"task_ids":{dumps(ids[start : start + MAX_BATCH])}}}'
        answer = yield Call("POST", "/tasks/cancel", body)
        for key in ("cancelled", "already_ended", "unknown"):
            out[key].extend(answer.get(key) or [])  # type: ignore[literal-required]
    return out


def delete_function(function_id: str) -> Op:
    yield Call("DELETE", f"/functions/{_q(function_id)}")
    return None


def health() -> Op:
    answer = yield Call("GET", "/health")
    return answer
