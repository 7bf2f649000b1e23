"""The hosted wire's task routes: create, list, and get, stream, cancel or callbacks of one."""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.responses import Response

from kirin_video.contract import catalog as c
from kirin_video.contract.statuses import PUBLIC_STATUS, stored_statuses
from kirin_video.surfaces.base import surface_route
from kirin_video.surfaces.deps import BackendDep, CallerDep
from kirin_video.surfaces.intake import create_task, read_json, signer
from kirin_video.surfaces.kirin.errors import answer
from kirin_video.surfaces.kirin.models import (
    CallbackAttempt,
    CallbackDelivery,
    CallbackList,
    TaskObject,
    TaskPage,
    error_responses,
)
from kirin_video.surfaces.kirin.openapi import CREATE_BODY
from kirin_video.surfaces.kirin.render import dump, ms, task_object
from kirin_video.surfaces.kirin.wire import model_filter, parse_create, status_filter
from kirin_video.surfaces.stream import EVENT, task_stream
from kirin_video.tasks.db import unreachable
from kirin_video.tasks.outbox import DeliveryRecord
from kirin_video.tasks.snapshot import TaskSnapshot
from kirin_video.tasks.tables import Task

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/generation", tags=["generation"], route_class=surface_route(answer))


@router.post(
    "",
    summary="Create a generation task",
    openapi_extra=CREATE_BODY,
    responses=error_responses(400, 401, 409, 413),
    response_model=TaskObject,
    response_model_exclude_none=True,
)
async def create(request: Request, caller: CallerDep, backend: BackendDep) -> TaskObject:
    params = parse_create(await read_json(request))
    task = await create_task(params, request=request, caller=caller, surface="kirin")
    return _created(task, request, backend)


@router.get(
    "",
    summary="List the caller's tasks, newest first",
    response_model=TaskPage,
    responses=error_responses(400, 401),
)
def list_tasks(
    request: Request,
    caller: CallerDep,
    backend: BackendDep,
    status: Annotated[str | None, Query()] = None,
    model: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=c.MAX_LIST_LIMIT)] = c.DEFAULT_LIST_LIMIT,
    cursor: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    word, chosen = status_filter(status), model_filter(model)
    page = backend.tasks.list_tasks(
        owner=caller,
        statuses=stored_statuses(word) if word else (),
        model=chosen.value if chosen else None,
        limit=limit,
        cursor=cursor,
    )
    listed = TaskPage(
        data=[_render(task, request, backend) for task in page.tasks],
        next_cursor=page.next_cursor,
    )
    # The tasks leave out their null keys; the cursor stays, null on the last page.
    return JSONResponse({"data": [dump(t) for t in listed.data], "next_cursor": listed.next_cursor})


@router.post(
    "/task/{ref:path}/cancel",
    summary="Cancel a task that has not finished",
    responses=error_responses(401, 404, 409),
    response_model=TaskObject,
    response_model_exclude_none=True,
)
async def cancel_task(
    ref: str, request: Request, caller: CallerDep, backend: BackendDep
) -> TaskObject:
    task = await run_in_threadpool(backend.tasks.cancel, owner=caller, ref=ref)
    return _render(task, request, backend)


@router.get(
    "/task/{ref:path}/callbacks",
    summary="The task's callback deliveries and their attempts, oldest first",
    response_model=CallbackList,
    responses=error_responses(401, 404),
)
def list_callbacks(ref: str, caller: CallerDep, backend: BackendDep) -> CallbackList:
    deliveries = backend.tasks.callbacks(owner=caller, ref=ref)
    return CallbackList(data=[_delivery(d) for d in deliveries])


@router.get(
    "/task/{ref:path}/stream",
    summary="The task object at every change, as Server-Sent Events, until it has finished",
    response_class=Response,
    responses={
        200: {
            "description": f"`event: {EVENT}` with the task object as `data`, at every change "
            "of status, progress or queue position; the last one is the finished task's",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        204: {"description": "`Last-Event-ID` already was the finished task's: nothing to send"},
        **error_responses(401, 404, 429),
    },
)
async def stream_task(
    ref: str,
    request: Request,
    caller: CallerDep,
    backend: BackendDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    sign = signer(request, backend)
    return await task_stream(
        backend.tasks,
        backend.streams,
        owner=caller,
        ref=ref,
        render=lambda snap: json.dumps(dump(task_object(snap, sign)), separators=(",", ":")),
        last_event_id=last_event_id,
        settings=backend.settings,
    )


@router.get(
    "/task/{ref:path}",
    summary="Get a task by id or external_task_id",
    responses=error_responses(401, 404),
    response_model=TaskObject,
    response_model_exclude_none=True,
)
async def get_task(
    ref: str, request: Request, caller: CallerDep, backend: BackendDep
) -> TaskObject:
    # The poll, most of a node's load: one thread hop and one transaction, rendered in the loop.
    task, position = await run_in_threadpool(backend.tasks.read, owner=caller, ref=ref)
    return task_object(TaskSnapshot.of(task, queue_position=position), signer(request, backend))


def _created(task: Task, request: Request, backend: BackendDep) -> TaskObject:
    """A new task's object: 200 once it is stored, even if its queue position cannot be read.

    An error here would tell a client that retries to create the task again.
    """
    try:
        position = backend.tasks.queue_position(task)
    except Exception as exc:
        if not unreachable(exc):
            raise
        log.warning(
            "create: %s stored; its queue position is left out (database unreachable)", task.id
        )
        position = None  # the next read shows it
    return task_object(TaskSnapshot.of(task, queue_position=position), signer(request, backend))


def _render(task: Task, request: Request, backend: BackendDep) -> TaskObject:
    """The task object; a waiting task also says where it stands in the queue."""
    snap = TaskSnapshot.of(task, queue_position=backend.tasks.queue_position(task))
    return task_object(snap, signer(request, backend))


def _delivery(delivery: DeliveryRecord) -> CallbackDelivery:
    """A delivery from the outbox, its event and times in this surface's words."""
    next_at = delivery.next_attempt_ts
    return CallbackDelivery(
        id=delivery.id,
        event=PUBLIC_STATUS[delivery.event],
        url=delivery.url,
        state=delivery.state,  # type: ignore[arg-type]  # the outbox's three states
        next_attempt_at=None if next_at is None else ms(next_at),
        attempts=[
            CallbackAttempt(
                at=ms(a.started_ts),
                duration_ms=a.duration_ms,
                http_status=a.http_status,
                error=a.error,
            )
            for a in delivery.attempts
        ],
    )
