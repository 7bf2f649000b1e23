"""Dependencies the routes declare: the app's services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kirin_video.api.services import Services
from kirin_video.contract.errors import AuthenticationFailed

_bearer = HTTPBearer(
    auto_error=False, description="An API key, or an HS256 JWT signed with a key's secret"
)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller id that owns tasks, from ``Authorization: Bearer <token>``."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed(
            "Authorization: must be 'Bearer <API key or JWT>'; got none", reason="missing"
        )
    services = get_services(request)
    caller = await run_in_threadpool(services.auth.caller, credentials.credentials)
    services.limiter.hit(caller)
    return caller


ServicesDep = Annotated[Services, Depends(get_services)]
CallerDep = Annotated[str, Depends(get_caller)]
