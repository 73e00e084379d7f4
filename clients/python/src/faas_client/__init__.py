"""Python client of faas, the WebAssembly function-as-a-service platform.

- :class:`Client` (blocking) and :class:`AsyncClient` (asyncio): register
  modules, submit tasks one at a time or in batches, read status and
  results (long polls), list functions and tasks.
- :class:`Executor`: a ``concurrent.futures.Executor`` for one function
  that batches submissions and collects results in bulk.
- Errors: :class:`FaasError` and its subclasses for failed requests,
  :class:`TaskFailed` for a task that FAILED, :class:`TaskNotFinished` for
  one that has not ended yet.
"""

from ._protocol import MAX_BATCH, RetryPolicy
from .aio import AsyncClient
from .client import Client
from .config import DEFAULT_URL, credentials_file
from .errors import (
    BadRequest,
    ConnectionFailed,
    FaasError,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TaskFailed,
    TaskNotFinished,
    Unauthorized,
    Unavailable,
)
from .executor import Executor, TaskFuture
from .types import COMPLETED, FAILED, QUEUED, RUNNING

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "BadRequest",
    "Client",
    "COMPLETED",
    "ConnectionFailed",
    "credentials_file",
    "DEFAULT_URL",
    "Executor",
    "FAILED",
    "FaasError",
    "Forbidden",
    "MAX_BATCH",
    "NotFound",
    "QUEUED",
    "RateLimited",
    "RetryPolicy",
    "RUNNING",
    "ServerError",
    "TaskFailed",
    "TaskFuture",
    "TaskNotFinished",
    "Unauthorized",
    "Unavailable",
]
