"""A task's changes as Server-Sent Events, read from the database so any API node can serve them.

The node's ``TaskWatch`` reads every followed task once each ``stream_poll_s``, and a stream
sends the surface's task object whenever something a client can see has changed: the status,
the progress (which workers store throttled) or the place in the queue. An event's id names that
state, so a client that comes back with ``Last-Event-ID`` is sent nothing it has already seen.
The stream ends after the object of a finished task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.surfaces.watch import Follower, StreamSlot, TaskWatch
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.snapshot import TaskSnapshot
from kirin_video.tasks.tables import Task

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


def observed(task: Task, position: int | None) -> Observed:
    """The task with its queue position, marked by what a client can see of it."""
    mark = f"{task.attempts}.{task.status}.{round(task.progress * 10_000)}.{position or 0}"
    return Observed(TaskSnapshot.of(task, queue_position=position), mark)


def observe(tasks: TaskService, *, owner: str, ref: str) -> Observed:
    """Read the task as ``owner`` may see it; another caller's task is not found."""
    task = tasks.get(owner=owner, ref=ref)
    return observed(task, tasks.queue_position(task))


async def task_stream(
    tasks: TaskService,
    watch: TaskWatch,
    *,
    owner: str,
    ref: str,
    render: Render,
    last_event_id: str | None,
    settings: Settings,
) -> Response:
    """The event stream; 204 (which tells a browser to stop reconnecting) if all was seen.

    The key's open streams are counted first, so a key past its number costs no read.
    """
    slot = watch.open(owner)
    try:
        first = await run_in_threadpool(observe, tasks, owner=owner, ref=ref)
    except BaseException:
        slot.release()
        raise
    if first.finished and first.mark == last_event_id:
        slot.release()
        return Response(status_code=204)
    events = task_events(
        first, watch.follow(owner, first.snapshot.id), render, last_event_id=last_event_id
    )
    return HeldStream(events, slot=slot, ping=settings.stream_ping_s, send_timeout=SEND_TIMEOUT_S)


class HeldStream(EventSourceResponse):
    """An event stream that gives its key's slot back however it ends."""

    def __init__(self, events: AsyncIterator[ServerSentEvent], *, slot: StreamSlot, **kw: Any):
        super().__init__(events, **kw)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


async def task_events(
    first: Observed,
    following: AbstractAsyncContextManager[Follower],
    render: Render,
    *,
    last_event_id: str | None,
) -> AsyncIterator[ServerSentEvent]:
    """One event per visible change, in order, until the task has finished (or is deleted)."""
    seen, current = last_event_id, first
    async with following as follower:
        while True:
            if current.mark != seen:
                yield ServerSentEvent(data=render(current.snapshot), event=EVENT, id=current.mark)
                seen = current.mark
            if current.finished:
                return
            found = await follower.next()
            if found is None:
                return  # gone (its owner deleted it): nothing more will happen to it
            current = observed(*found)
