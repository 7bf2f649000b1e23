"""The kirin surface's error envelope: the error object, and its text at the top level too."""

from __future__ import annotations

import math

from fastapi.responses import JSONResponse

from kirin_video.contract.errors import KirinError, RateLimited


def answer(exc: KirinError) -> JSONResponse:
    """``{"error": {"code", "message"}, "message"}`` with the code's HTTP status."""
    body = {"error": exc.to_dict(), "message": exc.message}
    response = JSONResponse(body, status_code=exc.http_status)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return response
