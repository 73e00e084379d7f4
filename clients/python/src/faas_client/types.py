"""The shapes of the server's answers (contract/src/*.rs), as TypedDicts:
plain dicts at run time, typed for checkers. Fields the server adds later
are kept in the dicts."""

from __future__ import annotations

import sys
from typing import Any, Dict, Optional

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - older Pythons
    from typing import TypedDict

    try:
        from typing_extensions import NotRequired
    except ImportError:  # typing_extensions is optional: the hint degrades to Any
        NotRequired = Optional  # type: ignore[assignment,misc]

#: ``QUEUED``, ``RUNNING``, ``COMPLETED`` or ``FAILED``.
Status = str

QUEUED = "QUEUED"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"


class Usage(TypedDict):
    run_us: int
    peak_memory_bytes: int
    output_bytes: int
    log_bytes: int
    executor: str


class ResultRow(TypedDict):
    """One row of :meth:`Client.results`: ``status`` None and ``error``
    ``"unknown task"`` for an id with no task; ``result`` is null until the
    task ends, then its value (COMPLETED) or failure message (FAILED)."""

    task_id: str
    status: Optional[Status]
    result: Any
    error: NotRequired[str]


class FunctionRow(TypedDict):
    """One row of :meth:`Client.functions`."""

    function_id: str
    name: str
    entry: str
    module_hash: str
    module_size: int
    created_at_ms: int
    tenant: str
    kind: str
    invocations: int
    failures: int


class TaskRow(TypedDict):
    """One row of :meth:`Client.tasks`: a task without payload and result."""

    task_id: str
    function_id: str
    status: Status
    attempts: int
    failure_kind: Optional[str]
    created_at_ms: int
    started_at_ms: Optional[int]
    finished_at_ms: Optional[int]
    tenant: str
    queue_wait_ms: NotRequired[int]
    usage: NotRequired[Usage]


class Task(TypedDict):
    """:meth:`Client.task`: a task's whole record."""

    id: str
    function_id: str
    payload: Any
    status: Status
    result: Any
    failure_kind: Optional[str]
    attempts: int
    created_at_ms: int
    started_at_ms: Optional[int]
    finished_at_ms: Optional[int]
    tenant: str
    queue_wait_ms: NotRequired[int]
    usage: NotRequired[Usage]


class CancelList(TypedDict):
    """:meth:`Client.cancel`: every id asked for, in one of three lists."""

    cancelled: list
    already_ended: list
    unknown: list


JSON = Any
Headers = Dict[str, str]
