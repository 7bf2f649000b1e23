"""The SDK's exceptions, one class per failure kind.

KirinError                      anything the SDK raises on purpose; ``message``, ``code`` (or None)
├── APIError                    an error answer: ``status_code``, ``code``, ``request_id``
│   ├── InvalidRequest          400: a field broke a rule (the code and message say which)
│   ├── AuthenticationError     401: missing, unknown, revoked or expired key or JWT
│   ├── PermissionDenied        403: refused (the hosted service: balance or permission)
│   ├── NotFound                404
│   │   ├── TaskNotFound        no such task for this key (id or external_task_id)
│   │   └── NotSupported        the server has no such route (the hosted service lists no tasks)
│   ├── Conflict                409
│   │   ├── ExternalIdTaken     the external_task_id is already used by this key
│   │   └── TaskAlreadyFinished cancel of a completed or failed task
│   ├── RequestTooLarge         413: the body is over the server's limit
│   ├── RateLimited             429: ``retry_after`` seconds from the Retry-After header, if sent
│   └── ServerError             5xx
│       └── ServiceUnavailable  503: no engine can run the task now
├── TaskFailed                  a task ended ``failed``: ``task``, ``code``, ``message``
│   └── TaskCancelled           ... because it was cancelled (code 8002005097)
├── TransportError              no answer: connection refused, DNS, TLS, a read that timed out
├── Timeout                     ``wait`` gave up before the task finished (also a TimeoutError)
├── NoOutput                    ``download`` of a task without that video
└── WebhookVerificationError    a callback whose signature, headers or timestamp did not check out

``code`` is the contract's code (``ErrorCode``) where the server sent one; the SDK never invents
one for a failure of its own (TransportError, Timeout and NoOutput have ``code`` None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kirin_video.client._codes import ErrorCode

if TYPE_CHECKING:
    from kirin_video.client._models import Task


class KirinError(Exception):
    """Base of every error the SDK raises; catch it to catch them all."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class APIError(KirinError):
    """An error answer: its HTTP status, the contract code and text, and the request's id."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code
        self.request_id = request_id


class InvalidRequest(APIError):
    """400: the request broke a rule; ``code`` names the field's family, ``message`` the rule."""


class AuthenticationError(APIError):
    """401: the key or JWT was missing, unknown, revoked or expired."""


class PermissionDenied(APIError):
    """403: the server refused the caller (the hosted service answers this for low balance)."""


class NotFound(APIError):
    """404: nothing there."""


class TaskNotFound(NotFound):
    """No task with that id or external_task_id for this key (another key's task looks the same)."""


class NotSupported(NotFound):
    """The server has no such route, e.g. the hosted service, which does not list tasks."""


class Conflict(APIError):
    """409: the request clashes with the task's or the key's state."""


class ExternalIdTaken(Conflict):
    """The external_task_id is already used by this key."""


class TaskAlreadyFinished(Conflict):
    """Cancel of a task that has already completed or failed."""


class RequestTooLarge(APIError):
    """413: the body is larger than the server accepts (large images: send URLs instead)."""


class RateLimited(APIError):
    """429: too many requests; wait ``retry_after`` seconds (None when the server gave none)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed; the request may succeed later."""


class ServiceUnavailable(ServerError):
    """503: no engine can run the task now (the contract's provider unavailable)."""


class TaskFailed(KirinError):
    """A task ended ``failed``; ``task`` is its last state, ``code``/``message`` its error."""

    def __init__(self, task: Task) -> None:
        error = task.error
        message = error.message if error and error.message else "the task failed"
        super().__init__(f"task {task.id} failed: {message}", code=error.code if error else None)
        self.task = task


class TaskCancelled(TaskFailed):
    """The task was cancelled before it finished (failed with code 8002005097)."""


class TransportError(KirinError):
    """No answer from the server: it could not be reached, or the connection broke."""


class Timeout(KirinError, TimeoutError):
    """``wait`` gave up; ``task`` is the last state seen, still ``in_progress``."""

    def __init__(self, task: Task, timeout: float) -> None:
        super().__init__(f"task {task.id} still {task.status} after {timeout:g}s")
        self.task = task
        self.timeout = timeout


class NoOutput(KirinError):
    """The task has no such video to download (not completed, or made without a watermark)."""


class WebhookVerificationError(KirinError):
    """A callback that must not be trusted: answer it with a 4xx and do not act on it."""


#: The class of an error answer: by contract code first, then by HTTP status.
BY_CODE: dict[str, type[APIError]] = {
    ErrorCode.TASK_NOT_FOUND: TaskNotFound,
    ErrorCode.EXTERNAL_ID_TAKEN: ExternalIdTaken,
    ErrorCode.TASK_FINISHED: TaskAlreadyFinished,
    ErrorCode.AUTH_FAILED: AuthenticationError,
    ErrorCode.RATE_LIMITED: RateLimited,
    ErrorCode.REQUEST_TOO_LARGE: RequestTooLarge,
    ErrorCode.PROVIDER_UNAVAILABLE: ServiceUnavailable,
}
BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: RequestTooLarge,
    422: InvalidRequest,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_class(
    status_code: int, code: str | None, *, not_found: type[NotFound] | None = None
) -> type[APIError]:
    """The most specific class for an answer; the code decides only within its own status.

    ``not_found`` is what a 404 means on the route that was asked (a task route: the task is
    unknown; the list route: the server does not list), whatever code the body carries.
    """
    if status_code == 404 and not_found is not None:
        return not_found
    by_status = BY_STATUS.get(status_code) or (ServerError if status_code >= 500 else APIError)
    by_code = BY_CODE.get(code or "")
    return by_code if by_code is not None and issubclass(by_code, by_status) else by_status
