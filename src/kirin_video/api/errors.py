"""What no surface route answered (no route matched, or a failure outside the routes).

Errors inside a route leave in that route's surface envelope (``surfaces.base.surface_route``);
here the canonical surface's envelope answers the rest.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from kirin_video.contract.errors import KirinError
from kirin_video.surfaces.base import as_kirin_error
from kirin_video.surfaces.registry import DEFAULT


def install_error_handlers(app: FastAPI) -> None:
    async def _answer(request: Request, exc: Exception) -> Response:
        return DEFAULT.answer(as_kirin_error(exc, request))

    for kind in (KirinError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, _answer)
