"""A task's changes as Server-Sent Events, read from the database so any API node can serve them.

The stream reads the task every ``stream_poll_s`` and sends the surface's task object whenever
something a client can see has changed: the status, the progress (which workers store
throttled) or the place in the queue. An event's id names that state, so a client that comes
back with ``Last-Event-ID`` is sent nothing it has already seen. The stream ends after the
object of a finished task.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import TaskNotFound
from kirin_video.tasks.db import log_failure
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.snapshot import TaskSnapshot

log = logging.getLogger(__name__)

EVENT = "task"
FINISHED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
#: A client that stops reading for this long is dropped, so its stream does not linger.
SEND_TIMEOUT_S = 30.0

Render = Callable[[TaskSnapshot], str]


@dataclass(frozen=True)
class Observed:
    """The task as one read found it, and the id of the event that shows it."""

    snapshot: TaskSnapshot
    mark: str

    @property
    def finished(self) -> bool:
        return self.snapshot.status in FINISHED


def observe(tasks: TaskService, *, owner: str, ref: str) -> Observed:
    """Read the task as ``owner`` may see it; another caller's task is not found."""
    task = tasks.get(owner=owner, ref=ref)
    position = tasks.queue_position(task)
    mark = f"{task.attempts}.{task.status}.{round(task.progress * 10_000)}.{position or 0}"
    return Observed(TaskSnapshot.of(task, queue_position=position), mark)


def stream_response(
    first: Observed,
    reload: Callable[[], Observed],
    render: Render,
    *,
    last_event_id: str | None,
    settings: Settings,
) -> Response:
    """The event stream; 204 (which tells a browser to stop reconnecting) if all was seen."""
    if first.finished and first.mark == last_event_id:
        return Response(status_code=204)
    events = task_events(
        first, reload, render, last_event_id=last_event_id, poll_s=settings.stream_poll_s
    )
    return EventSourceResponse(events, ping=settings.stream_ping_s, send_timeout=SEND_TIMEOUT_S)


async def task_events(
    first: Observed,
    reload: Callable[[], Observed],
    render: Render,
    *,
    last_event_id: str | None,
    poll_s: float,
) -> AsyncIterator[ServerSentEvent]:
    """One event per visible change, in order, until the task has finished."""
    seen, current = last_event_id, first
    while True:
        if current.mark != seen:
            yield ServerSentEvent(data=render(current.snapshot), event=EVENT, id=current.mark)
            seen = current.mark
        if current.finished:
            return
        await anyio.sleep(poll_s)
        try:
            current = await run_in_threadpool(reload)
        except TaskNotFound:
            return  # gone (its owner deleted it): nothing more will happen to it
        except SQLAlchemyError as exc:  # an outage: keep the client, read again next time
            log_failure(log, exc, f"task {first.snapshot.id}: stream read")
