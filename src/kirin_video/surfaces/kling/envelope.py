"""Kling's response envelope: ``{"code", "message", "request_id", "data"}``, errors included."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse

from kirin_video.contract.errors import KirinError
from kirin_video.surfaces.context import request_id
from kirin_video.surfaces.kling.wire import HTTP_STATUS, KlingCode, kling_code


def succeed(data: Any) -> dict[str, Any]:
    return {
        "code": KlingCode.OK.value,
        "message": "SUCCEED",
        "request_id": _request_id(),
        "data": data,
    }


def error_body(code: KlingCode, message: str) -> dict[str, Any]:
    """Kling's error body: no ``data``, as in Kling's own examples."""
    return {"code": code.value, "message": message, "request_id": _request_id()}


def answer(exc: KirinError) -> JSONResponse:
    """Any error in Kling's envelope, with Kling's code and HTTP status for it."""
    code = kling_code(exc)
    response = JSONResponse(error_body(code, exc.message), status_code=HTTP_STATUS[code])
    if (retry_after := exc.retry_after()) is not None:
        response.headers["Retry-After"] = retry_after
    return response


def _request_id() -> str:
    """The request's ``X-Request-Id``, so the body and the header name the same request."""
    return request_id.get() or str(uuid.uuid4())
