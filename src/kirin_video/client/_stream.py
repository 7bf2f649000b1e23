"""The task stream, I/O-free: which events carry the task, when to resume, when to give up.

``GET …/task/{id}/stream`` sends ``event: task`` with the task object at every change and ends
after a finished one. A dropped connection is resumed with ``Last-Event-ID``; a server without
the route (the hosted service) is told apart from a missing task by the caller, with a ``get``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import cast

import httpx
from httpx_sse import EventSource, ServerSentEvent

from kirin_video.client import _exceptions as e
from kirin_video.client import _protocol as p
from kirin_video.client._models import Task

ACTION = "stream"
EVENT = "task"
HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
#: Reconnects in a row that bring no event before the stream gives up.
RESUMES = 3
#: HTTP statuses of a server that has no stream route.
NO_ROUTE = frozenset({404, 405})


class Resume:
    """What a stream has seen: the last event's id (sent back on reconnect) and drops in a row."""

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self._drops = 0

    def headers(self) -> dict[str, str]:
        resume = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
        return {**HEADERS, p.REQUEST_ID: p.new_request_id(), **resume}

    def take(self, sse: ServerSentEvent) -> Task | None:
        """The task an event carries; None for events of other kinds."""
        if sse.event != EVENT:
            return None
        try:
            task = p.parse_task(json.loads(sse.data))
        except ValueError as exc:
            raise e.KirinError(f"a stream event that is no task object: {sse.data!r:.200}") from exc
        self.last_event_id = sse.id or self.last_event_id
        self._drops = 0
        return task

    def after_drop(self, error: e.KirinError) -> float:
        """Seconds to wait before reconnecting; ``error`` itself once drops keep coming."""
        self._drops += 1
        if self._drops > RESUMES:
            raise error
        return 0.5 * 2.0 ** (self._drops - 1)


def opened(response: httpx.Response) -> bool:
    """Whether events follow: False on 204 (everything was seen); raises for an error answer.

    The caller reads the body of an error answer first; a 404 or 405 it handles itself.
    """
    if response.status_code == 204:
        return False
    if not response.is_success:
        raise p.api_error(response)
    kind = response.headers.get("content-type", "").partition(";")[0].strip()
    if kind != "text/event-stream":
        raise e.NotSupported(
            f"the task stream answered {response.status_code} with {kind or 'no content type'}, "
            "not text/event-stream",
            status_code=response.status_code,
            request_id=response.headers.get(p.REQUEST_ID),
        )
    return True


class NoStream(e.NotSupported):
    """The server has no stream route; ``task`` is what the ``get`` that told so found."""

    def __init__(self, response: httpx.Response, task: Task) -> None:
        super().__init__(
            f"this server has no task stream (GET …/{ACTION} answered {response.status_code})",
            status_code=response.status_code,
            request_id=response.headers.get(p.REQUEST_ID),
        )
        self.task = task


def closed_early() -> e.TransportError:
    return e.TransportError("the task stream closed before the task finished")


def events(response: httpx.Response, deadline: float | None) -> Iterator[ServerSentEvent]:
    """The response's events, ending at ``deadline`` even while only keep-alives arrive."""
    return EventSource(cast(httpx.Response, _Bounded(response, deadline))).iter_sse()


def aevents(response: httpx.Response, deadline: float | None) -> AsyncIterator[ServerSentEvent]:
    return EventSource(cast(httpx.Response, _Bounded(response, deadline))).aiter_sse()


def past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


class _Bounded:
    """A response whose text ends at a deadline: the SSE parser sees a stream that closed."""

    def __init__(self, response: httpx.Response, deadline: float | None) -> None:
        self._response = response
        self._deadline = deadline

    @property
    def headers(self) -> httpx.Headers:
        return self._response.headers

    def iter_text(self) -> Iterator[str]:
        for text in self._response.iter_text():
            yield text
            if past(self._deadline):
                return

    async def aiter_text(self) -> AsyncIterator[str]:
        async for text in self._response.aiter_text():
            yield text
            if past(self._deadline):
                return
