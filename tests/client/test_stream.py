"""The SDK's task stream: events, resuming, the hosted service's lack of one, wait's deadline."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from kirin_video.client import NotSupported, Task, TaskCancelled, TaskNotFound, Timeout
from tests.client.conftest import (
    CANCELLED,
    COMPLETED,
    QUEUED,
    RUNNING,
    TASK_ID,
    TASK_ROUTE,
    Live,
    Replay,
    error_body,
)
from tests.conftest import make_image

STREAM_ROUTE = f"{TASK_ROUTE}/stream"
SSE = {"Content-Type": "text/event-stream"}


def event(task: dict[str, Any], event_id: str, kind: str = "task") -> bytes:
    return f"event: {kind}\nid: {event_id}\ndata: {json.dumps(task)}\n\n".encode()


def sse(*chunks: bytes) -> httpx.Response:
    return httpx.Response(200, headers=SSE, content=b"".join(chunks))


def test_stream_yields_each_task_event_until_the_finished_one(replay: Replay) -> None:
    replay.on(
        STREAM_ROUTE,
        sse(
            b": keep-alive\n\n",
            event(QUEUED, "1"),
            event({"chunk": 1}, "x", kind="output"),  # another kind of event: not a task
            event(RUNNING, "2"),
            event(COMPLETED, "3"),
        ),
    )
    seen = [(t.status, t.queue_position, t.progress) for t in replay.client().stream(TASK_ID)]
    assert seen == [
        ("in_progress", 2, None),
        ("in_progress", None, 0.45),
        ("completed", None, None),
    ]
    assert replay.seen[0].headers["Accept"] == "text/event-stream"


def test_a_dropped_stream_resumes_from_the_last_event_id(replay: Replay) -> None:
    def resumed(request: httpx.Request) -> httpx.Response:
        assert request.headers["Last-Event-ID"] == "2"
        return sse(event(COMPLETED, "3"))

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    # closed after two events, then one refused reconnect, then the rest
    replay.on(STREAM_ROUTE, sse(event(QUEUED, "1"), event(RUNNING, "2")), dropped, resumed)
    statuses = [t.status for t in replay.client().stream(TASK_ID)]
    assert statuses == ["in_progress", "in_progress", "completed"]
    assert "Last-Event-ID" not in replay.seen[0].headers


def test_a_stream_that_keeps_failing_gives_up_after_a_few_resumes(
    replay: Replay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    replay.on(STREAM_ROUTE, sse(b": nothing but keep-alives\n\n"))
    with pytest.raises(Exception, match="closed before the task finished"):
        list(replay.client().stream(TASK_ID))
    assert len(replay.seen) == 4  # the first connection and three resumes


def test_the_hosted_service_has_no_stream_so_wait_polls_and_remembers(replay: Replay) -> None:
    replay.on(TASK_ROUTE, QUEUED, COMPLETED, COMPLETED)  # the stream route answers 404
    client = replay.client()
    seen: list[str] = []
    client.wait(TASK_ID, on_progress=lambda t: seen.append(t.status))
    assert seen == ["in_progress", "completed"]  # the get that told a 404 apart is the first poll
    client.wait(TASK_ID)
    streams = [r for r in replay.seen if r.url.path.endswith("/stream")]
    assert len(streams) == 1 and len(replay.seen) == 4
    with pytest.raises(NotSupported, match="no task stream"):
        next(iter(client.stream(TASK_ID)))


def test_a_stream_of_a_missing_task_is_task_not_found(replay: Replay) -> None:
    replay.on(TASK_ROUTE, httpx.Response(404, json=error_body("8002005013", "task: no task")))
    with pytest.raises(TaskNotFound):
        list(replay.client().stream(TASK_ID))
    with pytest.raises(TaskNotFound):
        replay.client().wait(TASK_ID)


def test_an_answer_that_is_no_event_stream_is_not_supported_and_wait_polls(
    replay: Replay,
) -> None:
    replay.on(STREAM_ROUTE, RUNNING)  # JSON, as a server might answer any path under a task
    replay.on(TASK_ROUTE, COMPLETED)
    with pytest.raises(NotSupported, match="not text/event-stream"):
        list(replay.client().stream(TASK_ID))
    assert replay.client().wait(TASK_ID).status == "completed"


def test_wait_follows_the_stream_and_raises_for_a_cancelled_task(replay: Replay) -> None:
    replay.on(STREAM_ROUTE, sse(event(RUNNING, "1"), event(CANCELLED, "2")))
    progress: list[float | None] = []
    with pytest.raises(TaskCancelled):
        replay.client().wait(TASK_ID, on_progress=lambda t: progress.append(t.progress))
    assert progress == [0.45, None]
    assert all(r.url.path.endswith("/stream") for r in replay.seen)  # no poll was needed


def _keep_alives() -> Iterator[bytes]:
    yield event(QUEUED, "1")
    while True:
        time.sleep(0.05)
        yield b": ping\n\n"


def test_wait_gives_up_at_its_timeout_while_only_keep_alives_arrive(replay: Replay) -> None:
    replay.on(STREAM_ROUTE, lambda _r: httpx.Response(200, headers=SSE, content=_keep_alives()))
    replay.on(TASK_ROUTE, QUEUED)
    started = time.monotonic()
    with pytest.raises(Timeout) as caught:
        replay.client().wait(TASK_ID, timeout=0.5)
    assert time.monotonic() - started < 15  # keep-alives never end: only the timeout does
    assert caught.value.task.queue_position == 2


async def _async_keep_alives() -> AsyncIterator[bytes]:
    yield event(QUEUED, "1")
    while True:
        await asyncio.sleep(0.05)
        yield b": ping\n\n"


def test_the_async_stream_resumes_and_its_wait_keeps_the_deadline(replay: Replay) -> None:
    def resumed(request: httpx.Request) -> httpx.Response:
        assert request.headers["Last-Event-ID"] == "1"
        return sse(event(COMPLETED, "2"))

    replay.on(STREAM_ROUTE, sse(event(RUNNING, "1")), resumed)

    async def follow() -> list[str]:
        async with replay.async_client() as client:
            return [t.status async for t in client.stream(TASK_ID)]

    assert asyncio.run(follow()) == ["in_progress", "completed"]

    stuck = Replay().on(
        STREAM_ROUTE,
        lambda _r: httpx.Response(200, headers=SSE, content=_async_keep_alives()),
    )

    async def wait() -> Task:
        async with stuck.async_client() as client:
            return await client.wait(TASK_ID, timeout=0.5)

    stuck.on(TASK_ROUTE, QUEUED)
    started = time.monotonic()
    with pytest.raises(Timeout):
        asyncio.run(wait())
    assert time.monotonic() - started < 15  # keep-alives never end: only the timeout does


def test_a_live_task_streams_from_the_queue_to_its_video(working_server: Live) -> None:
    with working_server.client() as client:
        created = client.create("kirin_v1_6_i2v", image=make_image(), duration=5)
        tasks = list(client.stream(created))
    assert [t.status for t in tasks[:-1]] == ["in_progress"] * (len(tasks) - 1)
    assert tasks[-1].status == "completed" and tasks[-1].video_url
    progress = [t.progress for t in tasks if t.progress is not None]
    assert progress == sorted(progress) and len(progress) >= 2
