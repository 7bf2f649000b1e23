"""Tasks: create, get (by id or external id), list, cancel, and their callback deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from kirin_video.api.deps import CallerDep, ServicesDep
from kirin_video.api.openapi import CREATE_BODY
from kirin_video.api.render import render_task
from kirin_video.api.submit import load_images, read_json, store
from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import parse_request
from kirin_video.contract.schema import CallbackList, TaskObject, TaskPage, error_responses

router = APIRouter(prefix="/v1/generation", tags=["generation"])


@router.post(
    "",
    summary="Create a generation task",
    response_model=None,
    openapi_extra=CREATE_BODY,
    responses={200: {"model": TaskObject}, **error_responses(400, 401, 409, 413)},
)
async def create_task(request: Request, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    generation = parse_request(await read_json(request))
    images = await load_images(generation, services)

    def create() -> dict[str, Any]:
        task = store(
            generation, images, caller=caller, request=request, services=services, surface="kirin"
        )
        return render_task(task, request=request, services=services)

    return await run_in_threadpool(create)


@router.get(
    "",
    summary="List the caller's tasks, newest first",
    response_model=None,
    responses={200: {"model": TaskPage}, **error_responses(400, 401)},
)
def list_tasks(
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    status: Annotated[str | None, Query()] = None,
    model: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=c.MAX_LIST_LIMIT)] = c.DEFAULT_LIST_LIMIT,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    if status and status not in {s.value for s in c.Status}:
        raise InvalidRequest(
            f"status: must be one of {', '.join(s.value for s in c.Status)}; got {status!r}"
        )
    if model and model not in {m.value for m in c.Model}:
        raise InvalidRequest(
            f"model: must be one of {', '.join(m.value for m in c.Model)}; got {model!r}",
            code=ErrorCode.UNKNOWN_MODEL,
        )
    page = services.tasks.list_tasks(
        owner=caller, status=status, model=model, limit=limit, cursor=cursor
    )
    return {
        "data": [render_task(t, request=request, services=services) for t in page.tasks],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/{ref}",
    summary="Get a task by id or external_task_id",
    response_model=None,
    responses={200: {"model": TaskObject}, **error_responses(401, 404)},
)
def get_task(
    ref: str, request: Request, caller: CallerDep, services: ServicesDep
) -> dict[str, Any]:
    task = services.tasks.get(owner=caller, ref=ref)
    return render_task(task, request=request, services=services)


@router.post(
    "/{ref}/cancel",
    summary="Cancel a pending or processing task",
    response_model=None,
    responses={200: {"model": TaskObject}, **error_responses(401, 404, 409)},
)
def cancel_task(
    ref: str, request: Request, caller: CallerDep, services: ServicesDep
) -> dict[str, Any]:
    task = services.tasks.cancel(owner=caller, ref=ref)
    return render_task(task, request=request, services=services)


@router.get(
    "/{ref}/callbacks",
    summary="The task's callback deliveries and their attempts, oldest first",
    response_model=None,
    responses={200: {"model": CallbackList}, **error_responses(401, 404)},
)
def list_callbacks(ref: str, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return {"data": services.tasks.callbacks(owner=caller, ref=ref)}
