"""The Kling video routes on the same tasks: create, query (id or external id) and list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from kirin_video.contract.errors import TaskNotFound
from kirin_video.surfaces.base import surface_route
from kirin_video.surfaces.deps import Backend, BackendDep, CallerDep
from kirin_video.surfaces.intake import create_task, read_json, signer
from kirin_video.surfaces.kling.envelope import answer, succeed
from kirin_video.surfaces.kling.models import (
    KlingCreateAnswer,
    KlingErrorBody,
    KlingImage2VideoRequest,
    KlingListAnswer,
    KlingMultiImage2VideoRequest,
    KlingTaskAnswer,
)
from kirin_video.surfaces.kling.render import kling_created, kling_object
from kirin_video.surfaces.kling.wire import (
    DEFAULT_PAGE_SIZE,
    PAGE_NUM_RANGE,
    PAGE_SIZE_RANGE,
    Route,
    parse_kling_request,
)
from kirin_video.tasks.snapshot import TaskSnapshot
from kirin_video.tasks.tables import Task

router = APIRouter(prefix="/v1/videos", tags=["kling"], route_class=surface_route(answer))

PageNum = Annotated[int, Query(alias="pageNum", ge=PAGE_NUM_RANGE[0], le=PAGE_NUM_RANGE[1])]
PageSize = Annotated[int, Query(alias="pageSize", ge=PAGE_SIZE_RANGE[0], le=PAGE_SIZE_RANGE[1])]
BODIES: dict[Route, type[BaseModel]] = {
    Route.IMAGE2VIDEO: KlingImage2VideoRequest,
    Route.MULTI_IMAGE2VIDEO: KlingMultiImage2VideoRequest,
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": KlingErrorBody} for status in statuses}


def _add_routes(route: Route) -> None:
    """Create, query and list for one route; each answers its own model's tasks only."""
    schema = BODIES[route].model_json_schema(ref_template="#/components/schemas/{model}")

    @router.post(
        f"/{route}",
        summary=f"Create a {route} task",
        response_model=KlingCreateAnswer,
        response_model_exclude_none=True,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
        },
        responses={**_errors(400, 401, 429)},
    )
    async def create(request: Request, caller: CallerDep, backend: BackendDep) -> dict[str, Any]:
        settings = backend.settings
        names = (
            settings.kling_i2v_models if route is Route.IMAGE2VIDEO else settings.kling_multi_models
        )
        params = parse_kling_request(
            route, await read_json(request), model_names=names, default_model=settings.kling_model
        )
        task = await create_task(params, request=request, caller=caller, surface="kling")
        return succeed(kling_created(TaskSnapshot.of(task)))

    @router.get(
        f"/{route}/{{ref}}",
        summary=f"Query a {route} task by task_id or external_task_id",
        response_model=KlingTaskAnswer,
        response_model_exclude_none=True,
        responses={**_errors(401, 404)},
    )
    def query(ref: str, request: Request, caller: CallerDep, backend: BackendDep) -> dict[str, Any]:
        return succeed(_render(_task(route, ref, caller, backend), request, backend))

    @router.get(
        f"/{route}",
        summary=f"List {route} tasks, newest first (or one, by external_task_id)",
        response_model=KlingListAnswer,
        response_model_exclude_none=True,
        responses={**_errors(400, 401, 404)},
    )
    def list_tasks(
        request: Request,
        caller: CallerDep,
        backend: BackendDep,
        page_num: PageNum = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        external_task_id: Annotated[str | None, Query()] = None,
    ) -> dict[str, Any]:
        if external_task_id is not None:  # some Kling clients query this way
            return succeed(
                _render(_task(route, external_task_id, caller, backend), request, backend)
            )
        tasks = backend.tasks.page(
            owner=caller, model=route.model.value, number=page_num, size=page_size
        )
        return succeed([_render(task, request, backend) for task in tasks])


for _route in Route:
    _add_routes(_route)


def _task(route: Route, ref: str, caller: str, backend: Backend) -> Task:
    """The caller's task by id or external id, on the route of its model only."""
    task = backend.tasks.get(owner=caller, ref=ref)
    if task.model != route.model.value:
        raise TaskNotFound(f"task_id: no {route} task with id or external_task_id {ref!r}")
    return task


def _render(task: Task, request: Request, backend: Backend) -> dict[str, Any]:
    return kling_object(TaskSnapshot.of(task), signer(request, backend))  # no queue position
