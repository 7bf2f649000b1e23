"""What a surface is: routers that answer their own errors, and a renderer for callbacks.

Errors are answered by the route that matched (its route class), so two surfaces can share a
path prefix and each still speaks its own envelope; nothing looks at the request path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from kirin_video.contract.errors import (
    ErrorCode,
    InvalidRequest,
    KirinError,
    MethodNotAllowed,
    ProviderUnavailable,
    QueryInvalid,
    RequestTooLarge,
    TaskNotFound,
)
from kirin_video.contract.incidents import Incident
from kirin_video.contract.params import shown
from kirin_video.contract.text import check_pairs
from kirin_video.tasks.db import unreachable
from kirin_video.tasks.snapshot import SignFn, TaskSnapshot

log = logging.getLogger(__name__)

#: Seconds a client is told to wait before retrying while the database is unreachable.
DATABASE_RETRY_S = 5

#: Path parameters as the clients' documents name them (``{ref}``: a task id or external id).
_PATH_NAMES = {"ref": "task_id"}

#: A surface's answer to an error, in its own envelope.
AnswerFn = Callable[[KirinError], Response]
#: A surface's callback body, from the snapshot the status change left; None for a change the
#: surface tells its clients nothing of.
RenderFn = Callable[[TaskSnapshot, SignFn], dict[str, Any] | None]


@dataclass(frozen=True)
class Surface:
    """One client family's wire over the same tasks."""

    name: str
    #: Routers and the prefixes each is also served under (``""``: as declared).
    routers: tuple[tuple[APIRouter, tuple[str, ...]], ...]
    render_callback: RenderFn
    answer: AnswerFn


def as_kirin_error(exc: Exception, request: Request | None = None) -> KirinError:
    """Framework errors and surprises as the contract's errors; a surprise is logged."""
    if isinstance(exc, KirinError):
        return exc
    if isinstance(exc, RequestValidationError):
        return QueryInvalid(_validation_message(exc))
    if isinstance(exc, ClientDisconnect):  # a body cut short (its deadline, or the client left)
        return InvalidRequest("body: the connection closed before the whole body arrived")
    if isinstance(exc, HTTPException):
        return _from_http(exc, request)
    where = f" on {request.method} {request.url.path}" if request is not None else ""
    if unreachable(exc):  # a transaction that failed left nothing behind: retrying is safe
        log.warning("database unreachable%s: %s", where, type(exc.__cause__ or exc).__name__)
        return ProviderUnavailable(
            "database: unreachable, retry shortly", retry_after_s=DATABASE_RETRY_S
        )
    incident = Incident.of(exc)
    log.error("unhandled error%s (incident %s)", where, incident.id, exc_info=exc)
    return KirinError(
        f"{incident.message('internal server error')}; the request was not applied",
        code=ErrorCode.GENERATION_FAILED,
    )


def check_parameters(request: Request) -> None:
    """Path and query parameters keep the text rule before anything (auth included) reads them."""
    path = request.path_params.items()
    check_pairs(((_PATH_NAMES.get(k, k), v) for k, v in path if isinstance(v, str)), where="path")
    check_pairs(request.query_params.multi_items(), where="query")


def _validation_message(exc: RequestValidationError) -> str:
    """Each parameter the framework refused, in our words (its own are the library's)."""
    return "; ".join(_refused(dict(err)) for err in exc.errors())


#: The rule each kind of framework refusal stands for (its ``ctx`` fills the blanks).
_RULES = {
    "missing": "is required",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "string_too_long": "must be at most {max_length} characters",
    "int_parsing_size": "must be an integer of fewer digits",
}


def _refused(err: dict[str, Any]) -> str:
    name = ".".join(str(part) for part in err["loc"][1:]) or "request"
    template = _RULES.get(err["type"], "is not valid")
    try:
        rule = template.format(**err.get("ctx", {}))
    except (KeyError, IndexError):
        rule = "is not valid"
    sent = "none" if err["type"] == "missing" else shown(err.get("input"))
    return f"{name}: {rule}; got {sent}"


def _from_http(exc: HTTPException, request: Request | None) -> KirinError:
    sent = f"{request.method} {shown(request.url.path)}" if request is not None else "this path"
    if exc.status_code == 404:
        return TaskNotFound(f"path: no such route; got {sent}")
    if exc.status_code == 405:
        return MethodNotAllowed(f"method: not served on this path; got {sent}")
    detail = str(exc.detail)
    if detail == HTTPStatus(exc.status_code).phrase:  # the framework's words, not a rule
        detail = f"request: refused with HTTP {exc.status_code}; got {sent}"
    if exc.status_code == 413:
        return RequestTooLarge(detail)
    if exc.status_code == 503:
        return ProviderUnavailable(detail)
    return KirinError(detail, code=ErrorCode.BODY_INVALID, http_status=exc.status_code)


def surface_route(answer: AnswerFn) -> type[APIRoute]:
    """A route class whose every error, 405 included, leaves in ``answer``'s envelope."""

    declared: list[APIRoute] = []  # this surface's routes: a path may have one per method

    class SurfaceRoute(APIRoute):
        def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
            super().__init__(path, endpoint, **kwargs)
            declared.append(self)

        def allowed(self) -> str:
            """Every method served at this route's path, by it or a sibling route."""
            same = (route.methods or set() for route in declared if route.path == self.path)
            return ", ".join(sorted(set().union(*same)))

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    check_parameters(request)
                    return await handler(request)
                except Exception as exc:  # every failure gets the surface's envelope
                    return answer(as_kirin_error(exc, request))

            return guarded

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            if self.methods and scope["method"] not in self.methods:
                allowed = self.allowed()
                refused = MethodNotAllowed(
                    f"method: {scope['method']} is not served on {scope['path']}; use {allowed}"
                )
                response = answer(refused)
                response.headers["Allow"] = allowed
                await response(scope, receive, send)
                return
            await super().handle(scope, receive, send)

    return SurfaceRoute
