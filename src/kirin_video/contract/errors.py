"""The contract's error codes and the exceptions that carry them.

KirinError                  any failure that has a contract code
├── InvalidRequest          400 family: a field broke a rule (code names which)
│   └── QueryInvalid        400 / 8002005014: a query parameter out of its range
├── AuthenticationFailed    401 / 8002005006
├── TaskNotFound            404 / 8002005013
├── ExternalIdTaken         409 / 8002005010
├── TaskAlreadyFinished     409 / 8002005018
├── RateLimited             429 / 8002005015
├── RequestTooLarge         413 / 8002005016
├── MethodNotAllowed        405 / 8002005014
├── ProviderUnavailable     503 / 8002005099
└── GenerationFailed        in a task's ``error`` / 8002005098
    └── EngineUnavailable   the engine cannot run here: its message is the operator's
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Literal

#: Why a token was refused; the Kling surface answers each with its own code.
AuthFailure = Literal["missing", "invalid", "not_yet_valid", "expired"]


class ErrorCode(StrEnum):
    """Every code of the contract, by meaning."""

    IMAGE_MISSING = "8002005001"
    IMAGE_INVALID = "8002005002"
    PROMPT_INVALID = "8002005003"
    DURATION_INVALID = "8002005004"
    ASPECT_RATIO_INVALID = "8002005005"
    AUTH_FAILED = "8002005006"
    MODE_INVALID = "8002005007"
    CFG_SCALE_INVALID = "8002005008"
    TOO_MANY_IMAGES = "8002005009"
    EXTERNAL_ID_TAKEN = "8002005010"
    UNKNOWN_MODEL = "8002005011"
    CALLBACK_URL_INVALID = "8002005012"
    TASK_NOT_FOUND = "8002005013"
    BODY_INVALID = "8002005014"
    RATE_LIMITED = "8002005015"
    REQUEST_TOO_LARGE = "8002005016"
    NOT_SUPPORTED_IN_MODE = "8002005017"
    TASK_FINISHED = "8002005018"
    TASK_CANCELLED = "8002005097"
    GENERATION_FAILED = "8002005098"
    PROVIDER_UNAVAILABLE = "8002005099"


#: HTTP status for each code that a request can be answered with; 400 for the rest.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.TASK_NOT_FOUND: 404,
    ErrorCode.EXTERNAL_ID_TAKEN: 409,
    ErrorCode.TASK_FINISHED: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.REQUEST_TOO_LARGE: 413,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.GENERATION_FAILED: 500,
}


class KirinError(Exception):
    """A failure with a contract error code and a message for the client."""

    code: ErrorCode = ErrorCode.GENERATION_FAILED
    #: When a retry may succeed, in seconds; None when the failure is not a matter of waiting.
    retry_after_s: float | None = None

    def __init__(
        self, message: str, *, code: ErrorCode | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self._http_status = http_status

    @property
    def http_status(self) -> int:
        return self._http_status or HTTP_STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}

    def retry_after(self) -> str | None:
        """The ``Retry-After`` header's value (whole seconds, at least 1), if a retry is timed."""
        if self.retry_after_s is None:
            return None
        return str(max(1, math.ceil(self.retry_after_s)))


class InvalidRequest(KirinError):
    """A request field broke one of the contract's rules; ``code`` says which family."""

    code = ErrorCode.BODY_INVALID

    @property
    def http_status(self) -> int:
        return 400


class QueryInvalid(InvalidRequest):
    """A query parameter broke its rule (Kling answers these with its own code)."""


class AuthenticationFailed(KirinError):
    """The bearer token was missing, not valid, not valid yet, or expired (``reason``)."""

    code = ErrorCode.AUTH_FAILED

    def __init__(self, message: str, *, reason: AuthFailure = "invalid") -> None:
        super().__init__(message)
        self.reason: AuthFailure = reason


class TaskNotFound(KirinError):
    code = ErrorCode.TASK_NOT_FOUND


class ExternalIdTaken(KirinError):
    code = ErrorCode.EXTERNAL_ID_TAKEN


class TaskAlreadyFinished(KirinError):
    code = ErrorCode.TASK_FINISHED


class RateLimited(KirinError):
    """Too many requests or unfinished tasks for one key; ``retry_after_s`` says when to retry."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after_s: float, concurrent: bool = False) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.concurrent = concurrent  # the cap on unfinished tasks, not the request rate


class RequestTooLarge(KirinError):
    code = ErrorCode.REQUEST_TOO_LARGE


class MethodNotAllowed(KirinError):
    """A route exists at the path, not for the method."""

    code = ErrorCode.BODY_INVALID

    @property
    def http_status(self) -> int:
        return 405


class ProviderUnavailable(KirinError):
    """An engine, the database, storage or broker cannot serve now; ``retry_after_s`` if known."""

    code = ErrorCode.PROVIDER_UNAVAILABLE

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class GenerationFailed(KirinError):
    code = ErrorCode.GENERATION_FAILED


class EngineUnavailable(GenerationFailed):
    """The engine cannot run here (settings, weights, machine): the message is for the operator.

    A task it fails tells the client only that the engine is not available, with an incident id
    that finds this message in the log.
    """
