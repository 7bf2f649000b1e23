"""Every error leaves the API in the contract's shape: ``{"error": {"code", "message"}}``.

On the Kling routes the same errors leave in Kling's envelope, with Kling's codes.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kirin_video.api.kling_envelope import is_kling_path, kling_error
from kirin_video.contract.errors import ErrorCode, KirinError, RateLimited
from kirin_video.contract.kling import FROM_KIRIN, KlingCode, kling_code

log = logging.getLogger(__name__)

_BY_STATUS = {
    401: ErrorCode.AUTH_FAILED,
    404: ErrorCode.TASK_NOT_FOUND,
    413: ErrorCode.REQUEST_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.PROVIDER_UNAVAILABLE,
}


def error_response(*, status: int, code: ErrorCode, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code.value, "message": message}}, status_code=status)


def _answer(
    request: Request,
    *,
    status: int,
    code: ErrorCode,
    message: str,
    kling: KlingCode | None = None,
) -> JSONResponse:
    """The error in the shape of the surface the request came in on."""
    if is_kling_path(request.url.path):
        return kling_error(kling or FROM_KIRIN.get(code, KlingCode.PARAM_ILLEGAL), message)
    return error_response(status=status, code=code, message=message)


def install_error_handlers(app: FastAPI) -> None:
    """Map contract errors, framework errors and surprises to the one error shape."""

    @app.exception_handler(KirinError)
    async def _kirin(request: Request, exc: KirinError) -> JSONResponse:
        response = _answer(
            request,
            status=exc.http_status,
            code=exc.code,
            message=exc.message,
            kling=kling_code(exc),
        )
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'request'}: {err['msg']}; "
            f"got {str(err.get('input'))[:60]!r}"
            for err in exc.errors()
        )
        return _answer(
            request,
            status=400,
            code=ErrorCode.BODY_INVALID,
            message=problems,
            kling=KlingCode.PARAM_ILLEGAL,  # a query parameter out of its range
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _BY_STATUS.get(exc.status_code, ErrorCode.BODY_INVALID)
        if exc.status_code == 405:
            path = request.url.path
            message = f"method: {request.method} is not served on {path}; see the API reference"
            return _answer(
                request, status=405, code=code, message=message, kling=KlingCode.METHOD_INVALID
            )
        return _answer(request, status=exc.status_code, code=code, message=str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _answer(
            request,
            status=500,
            code=ErrorCode.GENERATION_FAILED,
            message="internal server error; the request was not applied",
        )
