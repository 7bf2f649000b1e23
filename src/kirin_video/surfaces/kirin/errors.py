"""The kirin surface's error envelope: the error object, and its text at the top level too."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from kirin_video.contract.errors import KirinError


def answer(exc: KirinError) -> JSONResponse:
    """``{"error": {"code", "message"}, "message"}`` with the code's HTTP status."""
    body = {"error": exc.to_dict(), "message": exc.message}
    response = JSONResponse(body, status_code=exc.http_status)
    if (retry_after := exc.retry_after()) is not None:
        response.headers["Retry-After"] = retry_after
    return response
