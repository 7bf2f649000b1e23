"""What surface routes declare: the node's backend and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kirin_video.config import Settings
from kirin_video.contract.errors import AuthenticationFailed
from kirin_video.media.fetch import Fetcher
from kirin_video.storage.base import Storage
from kirin_video.surfaces.watch import TaskWatch
from kirin_video.tasks.keys import Authenticator
from kirin_video.tasks.service import TaskService


class Limiter(Protocol):
    def hit(self, caller: str) -> None: ...


class Backend(Protocol):
    """The part of a node that surfaces use; the composition root provides it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def tasks(self) -> TaskService: ...
    @property
    def storage(self) -> Storage: ...
    @property
    def fetcher(self) -> Fetcher: ...
    @property
    def auth(self) -> Authenticator: ...
    @property
    def limiter(self) -> Limiter: ...
    @property
    def streams(self) -> TaskWatch: ...


_bearer = HTTPBearer(
    auto_error=False, description="An API key, or an HS256 JWT signed with a key's secret"
)


def get_backend(request: Request) -> Backend:
    backend: Backend = request.app.state.services
    return backend


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller id that owns tasks, from ``Authorization: Bearer <token>``."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed(
            "Authorization: must be 'Bearer <API key or JWT>'; got none", reason="missing"
        )
    backend = get_backend(request)
    token = credentials.credentials
    caller = backend.auth.settings_caller(token)
    if caller is None:  # an issued key or a JWT: read from the database, off the event loop
        caller = await run_in_threadpool(backend.auth.caller, token)
    backend.limiter.hit(caller)
    return caller


BackendDep = Annotated[Backend, Depends(get_backend)]
CallerDep = Annotated[str, Depends(get_caller)]
