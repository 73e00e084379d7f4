"""A ``concurrent.futures.Executor`` for one function: submissions are
gathered by a sender thread into ``POST /execute_batch`` requests, and
results are collected by poller threads long-polling ``POST /results`` for
the tasks in flight, resolving each task's future as it ends."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Union

from . import _protocol as p
from .client import Client
from .errors import BadRequest, FaasError, NotFound, TaskFailed

__all__ = ["Executor", "TaskFuture"]


class TaskFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    """A ``concurrent.futures.Future`` of one task; ``task_id`` is its id
    once the task was created on the server (None before, and for a
    submission the server refused)."""

    #: Set on the instance when the task is created.
    task_id: Optional[str] = None


_PENDING, _DONE, _ERROR = 0, 1, 2


class _Group:
    """The tasks of one ``map`` call: one condition for all of them, woken
    once per batch of results rather than once per task."""

    __slots__ = ("cond", "closed")

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.closed = False

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()


class _Slot:
    """A task of a ``map``: what a future does for ``submit``, without a
    lock and a condition per task (their cost dominates a no-op task's).
    Written by the executor's threads, read by the map's consumer after
    its group's condition was notified."""

    __slots__ = ("group", "state", "value", "task_id")

    def __init__(self, group: _Group) -> None:
        self.group = group
        self.state = _PENDING
        self.value: Any = None
        self.task_id: Optional[str] = None

    def set_running_or_notify_cancel(self) -> bool:
        return not self.group.closed

    def set_result(self, value: Any) -> None:
        self.value = value
        self.state = _DONE

    def set_exception(self, error: BaseException) -> None:
        self.value = error
        self.state = _ERROR

    def cancel(self) -> bool:
        """Only before it is sent (by :meth:`Executor.shutdown`)."""
        self.set_exception(concurrent.futures.CancelledError())
        return True


class _MapIterator(Iterator[Any]):
    """What ``map`` returns: its results; ``close()`` (or dropping it, even
    unstarted) ends the map, and what it had not sent is never sent."""

    def __init__(self, results: Iterator[Any], on_close: Any) -> None:
        self._results = results
        self._on_close = on_close

    def __next__(self) -> Any:
        return next(self._results)

    def close(self) -> None:
        close = getattr(self._results, "close", None)
        if close is not None:
            close()
        self._on_close()

    def __del__(self) -> None:
        self.close()


class Executor(concurrent.futures.Executor):
    """Runs one function on many payloads through the server's batch calls.

    ``submit(payload)`` returns a :class:`TaskFuture` at once (the function
    is fixed, so unlike ``Executor.submit(fn, *args)`` it takes just the
    payload); its result is the task's value, or :class:`TaskFailed` if the
    task FAILED. ``map(payloads)`` yields results in input order as they
    come, keeping at most ``max_in_flight`` tasks submitted and unfinished.

    A sender thread takes what was submitted, up to ``max_batch`` payloads
    per ``POST /execute_batch`` (whatever accumulated while the previous
    request was out: no timer, no waiting for a full batch). ``pollers``
    threads each long-poll ``POST /results`` for up to ``poll_batch`` of
    the oldest unfinished tasks, holding at most ``poll_wait`` seconds, and
    resolve the futures of the tasks that ended.

    Errors: a payload that is not JSON raises at ``submit``. A batch the
    server refuses fails its futures with the error (a 404 for an unknown
    function, 401, ...); when the refusal names one payload (a 400 with
    ``payload_index``), only that future fails and the rest of the
    batch is sent again. A request that still fails after the client's
    retries fails the futures it was for.

    Cancelling: ``future.cancel()`` succeeds while the payload has not
    been sent (it is then never sent); once sent, the future is running
    and ``cancel()`` returns False, as for a running thread. To stop sent
    tasks, ``client.cancel([f.task_id, ...])``: their futures then fail
    with ``TaskFailed`` of kind ``cancelled``.

    ``client`` is not closed by the executor. Use ``with`` or call
    :meth:`shutdown`; the threads are daemons, so a program that exits
    without either may leave its last submissions unsent.
    """

    def __init__(
        self,
        client: Client,
        function_id: str,
        *,
        max_batch: int = p.MAX_BATCH,
        max_in_flight: int = 50_000,
        pollers: int = 4,
        poll_batch: int = p.MAX_BATCH,
        poll_wait: float = 1.0,
        ttl: Optional[float] = None,
    ) -> None:
        if not 1 <= max_batch <= p.MAX_BATCH:
            raise ValueError(f"max_batch must be from 1 to {p.MAX_BATCH}")
        if not 1 <= poll_batch <= p.MAX_BATCH:
            raise ValueError(f"poll_batch must be from 1 to {p.MAX_BATCH}")
        if max_in_flight < 1 or pollers < 1 or poll_wait <= 0:
            raise ValueError("max_in_flight and pollers must be at least 1, poll_wait above 0")
        self.client = client
        self.function_id = str(function_id)
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self.poll_batch = poll_batch
        self.poll_wait = poll_wait
        self.ttl = ttl

        self._lock = threading.Lock()
        self._send_cv = threading.Condition(self._lock)
        self._poll_cv = threading.Condition(self._lock)
        # Submitted, not yet taken by the sender: (future, payload as JSON).
        self._pending: Deque[Tuple[Union[TaskFuture, _Slot], str]] = deque()
        # Sent and unresolved, by task id; and those ids no poller holds, oldest first.
        self._outstanding: Dict[str, Union[TaskFuture, _Slot]] = {}
        self._unclaimed: Deque[str] = deque()
        self._shutdown = False
        self._sender_done = False
        # Groups of the maps running: woken after each batch of results.
        self._groups: Set[_Group] = set()

        self._threads = [threading.Thread(target=self._send_loop, name="faas-executor-sender", daemon=True)]
        for i in range(pollers):
            self._threads.append(
                threading.Thread(target=self._poll_loop, name=f"faas-executor-poller-{i}", daemon=True)
            )
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------ submitting

    def submit(self, payload: Any, /) -> TaskFuture:  # type: ignore[override]
        """Queues one task of the executor's function with ``payload``;
        returns its future at once. Raises ``TypeError``/``ValueError`` if
        the payload is not JSON, ``RuntimeError`` after :meth:`shutdown`."""
        encoded = p.dumps(payload)
        future = TaskFuture()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._pending.append((future, encoded))
            self._send_cv.notify()
        return future

    def _enqueue(self, slots: List[Any], payloads: Iterable[Any]) -> List[Any]:
        dumps = p.dumps
        items = [(slot, dumps(x)) for slot, x in zip(slots, payloads)]
        if items:
            with self._lock:
                if self._shutdown:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                self._pending.extend(items)
                self._send_cv.notify()
        return [slot for slot, _ in items]

    def map(  # type: ignore[override]
        self,
        payloads: Iterable[Any],
        timeout: Optional[float] = None,
        *,
        return_exceptions: bool = False,
    ) -> Iterator[Any]:
        """The results of one task per payload, in input order, yielded as
        they arrive (the first before the last task ends).

        Submission starts at once and stays at most ``max_in_flight`` tasks
        ahead of what was consumed, so any iterable (a generator of
        millions) runs in bounded memory. ``timeout``: seconds from this
        call for the whole map (``TimeoutError`` past it). A FAILED task
        raises its :class:`TaskFailed` where its result would be, a refused
        submission its :class:`FaasError` (the rest not yet sent is then
        dropped), unless ``return_exceptions``: then the exception is
        yielded in its place and the map goes on. Closing the iterator
        early drops what was not sent yet.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        window = self.max_in_flight
        refill = max(1, min(self.max_batch, window // 4))
        source = iter(payloads)
        group = _Group()
        with self._lock:
            self._groups.add(group)

        def submit(n: int) -> List[_Slot]:
            chunk = list(itertools.islice(source, n))
            return self._enqueue([_Slot(group) for _ in chunk], chunk)

        try:
            slots: Deque[_Slot] = deque(submit(window))
        except BaseException:
            self._close_group(group)
            raise

        def results() -> Iterator[Any]:
            cond = group.cond
            try:
                while slots:
                    slot = slots[0]
                    if slot.state == _PENDING:
                        with cond:
                            while slot.state == _PENDING:
                                if deadline is None:
                                    cond.wait()
                                else:
                                    remaining = deadline - time.monotonic()
                                    if remaining <= 0:
                                        raise concurrent.futures.TimeoutError()
                                    cond.wait(remaining)
                    slots.popleft()
                    if len(slots) <= window - refill:
                        slots.extend(submit(window - len(slots)))
                    if slot.state == _ERROR:
                        error = slot.value
                        if not (return_exceptions and isinstance(error, (TaskFailed, FaasError))):
                            raise error
                    yield slot.value
            finally:
                self._close_group(group)

        return _MapIterator(results(), lambda: self._close_group(group))

    def _close_group(self, group: _Group) -> None:
        group.closed = True
        with self._lock:
            self._groups.discard(group)

    def _wake_groups(self) -> None:
        with self._lock:
            groups = list(self._groups)
        for group in groups:
            group.wake()

    # ------------------------------------------------------------ shutting down

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more submissions. ``cancel_futures``: cancel the futures not
        sent yet (sent tasks run on and their futures resolve). ``wait``:
        return once everything submitted was sent and every sent task's
        future is resolved."""
        cancelled: List[Union[TaskFuture, _Slot]] = []
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                cancelled = [f for f, _ in self._pending]
                self._pending.clear()
            self._send_cv.notify_all()
            self._poll_cv.notify_all()
        for f in cancelled:
            f.cancel()
        if cancelled:
            self._wake_groups()
        if wait:
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join()

    # ------------------------------------------------------------ the sender

    def _send_loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._shutdown:
                    self._send_cv.wait()
                if not self._pending:
                    self._sender_done = True
                    self._poll_cv.notify_all()
                    return
                n = min(len(self._pending), self.max_batch)
                popleft = self._pending.popleft
                batch = [popleft() for _ in range(n)]
            live = [item for item in batch if item[0].set_running_or_notify_cancel()]
            if live:
                self._send(live)

    def _send(self, live: List[Tuple[Any, str]]) -> None:
        while live:
            try:
                answer = self.client._send(p.batch_call(self.function_id, [e for _, e in live], self.ttl))
                ids = p.batch_ids(answer, len(live))
            except BaseException as e:  # noqa: BLE001 - every failure goes to the futures
                refused = _refused_index(e, len(live))
                if refused is not None:
                    index, why = refused
                    future, _ = live.pop(index)
                    future.set_exception(BadRequest(why, 400))
                    self._wake_groups()
                    continue
                for future, _ in live:
                    future.set_exception(e)
                self._wake_groups()
                if not isinstance(e, Exception):
                    raise
                return
            for (future, _), task_id in zip(live, ids):
                future.task_id = task_id
            with self._lock:
                self._outstanding.update(zip(ids, (f for f, _ in live)))
                self._unclaimed.extend(ids)
                self._poll_cv.notify_all()
            return

    # ------------------------------------------------------------ the pollers

    def _poll_loop(self) -> None:
        idle_backoff = 0.01
        while True:
            with self._lock:
                while not self._unclaimed:
                    if self._shutdown and self._sender_done and not self._outstanding:
                        self._poll_cv.notify_all()
                        return
                    self._poll_cv.wait()
                n = min(len(self._unclaimed), self.poll_batch)
                popleft = self._unclaimed.popleft
                ids = [popleft() for _ in range(n)]
            started = time.monotonic()
            try:
                answer = self.client._send(p.results_call(ids, self.poll_wait))
                rows = p.results_rows(answer, len(ids))
                settled = self._settle(rows)
            except BaseException as e:  # noqa: BLE001 - every failure goes to the futures
                with self._lock:
                    futures = [self._outstanding.pop(i) for i in ids if i in self._outstanding]
                    self._poll_cv.notify_all()
                for f in futures:
                    f.set_exception(e)
                self._wake_groups()
                if not isinstance(e, Exception):
                    raise
                continue
            # A server that answers at once without the tasks having ended
            # (a wait cut to 0) must not turn this into a busy loop.
            if settled == 0 and time.monotonic() - started < self.poll_wait / 2:
                time.sleep(idle_backoff)
                idle_backoff = min(idle_backoff * 2, 0.5)
            else:
                idle_backoff = 0.01

    def _settle(self, rows: List[Any]) -> int:
        """Resolves the futures of the rows' ended tasks; puts the others
        back, first in line. Returns how many were resolved."""
        completed: List[Tuple[str, Any]] = []
        failed: List[Tuple[str, Any]] = []
        unknown: List[str] = []
        unfinished: List[str] = []
        for row in rows:
            status = row.get("status")
            if status == "COMPLETED":
                completed.append((row["task_id"], row.get("result")))
            elif status == "FAILED":
                failed.append((row["task_id"], row.get("result")))
            elif status is None:
                unknown.append(row["task_id"])
            else:
                unfinished.append(row["task_id"])
        with self._lock:
            pop = self._outstanding.pop
            done = [(pop(t, None), v) for t, v in completed]
            lost = [(pop(t, None), t) for t in unknown]
            bad = [(pop(t, None), t, v) for t, v in failed]
            if unfinished:
                self._unclaimed.extendleft(reversed(unfinished))
            self._poll_cv.notify_all()
        for future, value in done:
            if future is not None:
                future.set_result(value)
        for future, task_id in lost:
            if future is not None:
                future.set_exception(
                    NotFound(f"task {task_id} is unknown to the server (its record expired, or was never there)", 404)
                )
        if self._groups:
            self._wake_groups()
        if bad:
            try:
                kinds = self._failure_kinds([t for _, t, _ in bad])
            except Exception:  # noqa: BLE001 - the kind is extra; the failure must still be told
                kinds = {}
            for future, task_id, message in bad:
                if future is not None:
                    future.set_exception(TaskFailed(p.failure_message(message), kinds.get(task_id), task_id))
            if self._groups:
                self._wake_groups()
        return len(done) + len(lost) + len(bad)

    def _failure_kinds(self, task_ids: List[str]) -> Dict[str, Optional[str]]:
        """Failure kinds are in the task records only (``/results`` has
        none): one listing of recent failures when there are many, then
        one ``GET /tasks/{id}`` for each still unknown."""
        kinds: Dict[str, Optional[str]] = {}
        if len(task_ids) > 10:
            try:
                for row in self.client.tasks(limit=1000, status="FAILED"):
                    kinds[row["task_id"]] = row.get("failure_kind")
            except FaasError:
                pass
        for task_id in task_ids:
            if task_id not in kinds:
                kinds[task_id] = self.client._drive(p.failure_kind(task_id))
        return kinds

    def __repr__(self) -> str:
        return f"Executor({self.client!r}, {self.function_id!r})"


def _refused_index(error: BaseException, sent: int) -> Optional[Tuple[int, str]]:
    """A 400 naming one payload of the batch (its ``payload_index``)."""
    if not isinstance(error, BadRequest) or error.status_code != 400:
        return None
    index = error.payload_index
    if index is None or index >= sent:
        return None
    return index, error.detail
