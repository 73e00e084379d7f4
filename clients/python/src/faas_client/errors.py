"""Exceptions: one base for everything a request to the server can raise,
one subclass per kind of answer a caller handles differently, and the two
outcomes of a task that are not a value (it failed, it has not ended)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type


class FaasError(Exception):
    """A request to the server failed.

    ``status_code`` is the HTTP status of the server's answer (None when no
    answer came: see :class:`ConnectionFailed`), ``detail`` the server's
    ``{"detail": ...}`` message (or the body's text when it had none).
    """

    def __init__(self, detail: str, status_code: Optional[int] = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        #: A batch refused for one payload (400 of ``/execute_batch``): that
        #: payload's index in the request, as the server's ``payload_index``.
        self.payload_index: Optional[int] = None
        #: For :meth:`Client.submit_batch` of more than 10,000 payloads: the
        #: ids of the tasks created by the requests that succeeded before
        #: this one failed (they run; nothing else was created).
        self.submitted: List[str] = []

    def __str__(self) -> str:
        if self.status_code is None:
            return self.detail
        return f"HTTP {self.status_code}: {self.detail}"


class BadRequest(FaasError):
    """400, 413 or 422: the server refused the request as it is (a payload
    of the wrong shape, a module that does not compile, a batch too large)."""


class Unauthorized(FaasError):
    """401: no API key, or one the server does not know (or revoked)."""


class Forbidden(FaasError):
    """403: the key is valid but may not do this (an admin call)."""


class NotFound(FaasError):
    """404: no such function or task (or not one this key may see)."""


class RateLimited(FaasError):
    """429: over the tenant's quota, still after the client's retries.
    ``retry_after`` is the server's ``Retry-After`` in seconds, if it sent one."""

    def __init__(
        self, detail: str, status_code: Optional[int] = 429, retry_after: Optional[float] = None
    ) -> None:
        super().__init__(detail, status_code)
        self.retry_after = retry_after


class Unavailable(FaasError):
    """503: the server's store did not answer, still after the client's retries."""


class ServerError(FaasError):
    """Another 5xx answer."""


class ConnectionFailed(FaasError):
    """No answer: the server could not be reached, or the connection broke
    (after the client's retries, where a retry was safe)."""


_BY_STATUS: Dict[int, Type[FaasError]] = {
    400: BadRequest,
    413: BadRequest,
    422: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
    503: Unavailable,
}


def error_for(status_code: int, detail: str, retry_after: Optional[float] = None) -> FaasError:
    """The exception for an error answer."""
    if status_code == 429:
        return RateLimited(detail, status_code, retry_after)
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else FaasError
    return cls(detail, status_code)


class TaskFailed(Exception):
    """The task ended FAILED.

    ``message`` is the server's failure message (the trap and its backtrace,
    ``timed out after 10000 ms``, ...), ``kind`` the failure kind the server
    records (``trap``, ``timeout``, ``memory``, ``exit_code``,
    ``output_too_large``, ``lost``, ``cancelled``, ``missing_function``, ...;
    None if it could not be read), ``task_id`` the task's id.
    """

    def __init__(self, message: str, kind: Optional[str], task_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.task_id = task_id

    def __str__(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return f"task {self.task_id} failed{kind}: {self.message}"

    def __reduce__(self) -> Any:
        return (type(self), (self.message, self.kind, self.task_id))


class TaskNotFinished(TimeoutError):
    """The task had not ended when the wait ran out (or no wait was asked
    for): ``status`` is ``QUEUED`` or ``RUNNING``. Ask again later; the task
    keeps running. A ``TimeoutError``."""

    def __init__(self, task_id: str, status: str) -> None:
        super().__init__(f"task {task_id} has not ended: {status}")
        self.task_id = task_id
        self.status = status

    def __reduce__(self) -> Any:
        return (type(self), (self.task_id, self.status))
