"""Kling's response envelope: ``{"code", "message", "request_id", "data"}`` on its routes."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse

from kirin_video.contract.kling import HTTP_STATUS, KlingCode

_PATHS = ("/v1/videos/", "/model/v1/videos/")


def is_kling_path(path: str) -> bool:
    """Whether a request came in on the Kling surface (its errors speak Kling too)."""
    return path.startswith(_PATHS)


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


def kling_error(code: KlingCode, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=HTTP_STATUS[code])


def _request_id() -> str:
    return str(uuid.uuid4())
