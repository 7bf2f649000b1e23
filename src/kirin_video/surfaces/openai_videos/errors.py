"""OpenAI's error shape, ``{"error": {"message", "type", "param", "code"}}``, for every refusal.

The HTTP status is the contract's, so the SDK raises the exception class it maps that status to;
``x-should-retry: false`` tells it not to repeat a request that only a change can fix.
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse

from kirin_video.contract.errors import ErrorCode, KirinError

#: OpenAI's own words where it has one, this surface's field names where they differ from the
#: contract's; every other code is its contract name, lowercased (``image_invalid``).
_WORDS: dict[ErrorCode, str] = {
    ErrorCode.AUTH_FAILED: "invalid_api_key",
    ErrorCode.RATE_LIMITED: "rate_limit_exceeded",
    ErrorCode.UNKNOWN_MODEL: "model_not_found",
    ErrorCode.TASK_NOT_FOUND: "video_not_found",
    ErrorCode.TASK_CANCELLED: "cancelled",
    ErrorCode.DURATION_INVALID: "seconds_invalid",
    ErrorCode.MODE_INVALID: "size_invalid",
    ErrorCode.ASPECT_RATIO_INVALID: "size_invalid",
}

#: Statuses a retry of the same request cannot change (the SDK would retry a 409 otherwise).
_FINAL = frozenset({400, 401, 404, 405, 409, 413})

#: A message's leading ``field:`` that names no request parameter.
_NOT_PARAMS = frozenset({"body", "path", "method", "request", "task", "tasks"})
_LEADING_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]]*): ")


def code_word(code: ErrorCode | str) -> str:
    """This surface's ``code`` for a contract code: ``cancelled``, ``image_invalid``, …"""
    try:
        known = ErrorCode(code)
    except ValueError:
        return str(code)
    return _WORDS.get(known, known.name.lower())


def error_type(status: int) -> str:
    """The ``type`` OpenAI gives an error of this HTTP status."""
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def param_of(message: str, status: int) -> str | None:
    """The request parameter a refusal names (its message starts with it), if any."""
    if status not in (400, 409):
        return None
    found = _LEADING_FIELD.match(message)
    if found is None or found.group(1) in _NOT_PARAMS:
        return None
    return found.group(1)


def answer(exc: KirinError) -> JSONResponse:
    """Any error as OpenAI shapes it, with the contract's status and retry advice."""
    status = exc.http_status
    error = {
        "message": exc.message,
        "type": error_type(status),
        "param": param_of(exc.message, status),
        "code": code_word(exc.code),
    }
    response = JSONResponse({"error": error}, status_code=status)
    if (retry_after := exc.retry_after()) is not None:
        response.headers["Retry-After"] = retry_after
    if status in _FINAL:
        response.headers["x-should-retry"] = "false"
    return response
