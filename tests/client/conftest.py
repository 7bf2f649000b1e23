"""The hosted wire replayed at the HTTP edge, and this project's server in a child process.

The answers below are CONTRACT.md's examples of the hosted gateway (and the variations
``research/vtrix-wire.md`` documents); ``Replay`` serves them through ``httpx.MockTransport``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirin_video.client import AsyncClient, Client
from tests.conftest import KEY_A
from tests.e2e.conftest import ServerProcess, free_port

HOSTED = "https://cloud.vtrix.ai"
TASK_ID = "d5u5obte8783ap44qtj0"
CREATED_MS = 1769757744021
UPDATED_MS = 1769757800123

#: The create answer of the hosted gateway.
CREATED: dict[str, Any] = {
    "id": TASK_ID,
    "created_at": CREATED_MS,
    "status": "in_progress",
    "model": "kirin_v1_6_i2v",
}
QUEUED: dict[str, Any] = {**CREATED, "metadata": {"queue_position": 2}}
RUNNING: dict[str, Any] = {**CREATED, "progress": 0.45}
COMPLETED: dict[str, Any] = {
    "id": TASK_ID,
    "model": "kirin_v1_6_i2v",
    "status": "completed",
    "created_at": CREATED_MS,
    "updated_at": UPDATED_MS,
    "external_task_id": "order-1",
    "output": [
        {
            "content": [
                {
                    "type": "video",
                    "url": "https://cdn.vtrix.example/video.mp4?sig=1",
                    "duration": "5",
                    "jobId": "job-1",
                },
                {
                    "type": "video",
                    "url": "https://cdn.vtrix.example/video_watermarked.mp4?sig=2",
                    "duration": "5",
                    "jobId": "job-1",
                    "watermarked": True,
                },
                {"type": "image", "url": "https://cdn.vtrix.example/cover.jpg?sig=3", "jobId": "j"},
            ]
        }
    ],
    "usage": {"cost": "0.2800", "discount": 0},
    "metadata": {"engine": "wan", "width": 1280, "height": 720, "fps": 30, "seed": 1234},
}
FAILED: dict[str, Any] = {
    **CREATED,
    "status": "failed",
    "updated_at": UPDATED_MS,
    "error": {
        "code": "8002005098",
        "message": "the engine ran out of memory",
        "error_message": "the engine ran out of memory",
    },
}
CANCELLED: dict[str, Any] = {
    **FAILED,
    "error": {"code": "8002005097", "message": "cancelled", "error_message": "cancelled"},
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The contract's HTTP error body."""
    return {"error": {"code": code, "message": message}, "message": message}


Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class Replay:
    """Answers by route (``"GET /model/v1/generation/task/ID"``), in order; records requests."""

    routes: dict[str, list[Answer]] = field(default_factory=dict)
    seen: list[httpx.Request] = field(default_factory=list)

    def on(self, route: str, *answers: Answer | dict[str, Any]) -> Replay:
        queue = self.routes.setdefault(route, [])
        queue.extend(httpx.Response(200, json=a) if isinstance(a, dict) else a for a in answers)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        route = f"{request.method} {request.url.raw_path.decode().split('?')[0]}"
        if request.url.host != "cloud.vtrix.ai":
            route = f"{request.method} {request.url.host}{request.url.path}"
        queue = self.routes.get(route)
        if not queue:
            return httpx.Response(404, json=error_body("404", f"no route {route}"))
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(request) if callable(answer) else answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.seen]

    def client(self, base_url: str = HOSTED) -> Client:
        return Client(
            base_url, "hosted-key", poll_interval=0.001, transport=httpx.MockTransport(self)
        )

    def async_client(self, base_url: str = HOSTED) -> AsyncClient:
        return AsyncClient(
            base_url, "hosted-key", poll_interval=0.001, transport=httpx.MockTransport(self)
        )


@pytest.fixture
def replay() -> Replay:
    return Replay()


TASK_ROUTE = f"GET /model/v1/generation/task/{TASK_ID}"
CREATE_ROUTE = "POST /model/v1/generation"


@dataclass(frozen=True)
class Live:
    """A running server: its base URL and a key it accepts."""

    url: str
    key: str

    def client(self, *, base_url: str | None = None) -> Client:
        return Client(base_url or self.url, self.key, poll_interval=0.05, timeout=30)

    def async_client(self) -> AsyncClient:
        return AsyncClient(self.url, self.key, poll_interval=0.05, timeout=30)


def _serve(directory: Path, **env: str) -> Iterator[Live]:
    process = ServerProcess(directory, free_port()).start(
        KIRIN_ENGINE="preview", KIRIN_ALLOW_PRIVATE_URLS="true", **env
    )
    try:
        yield Live(process.url, KEY_A)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`kirin serve` with no worker: tasks stay in progress until cancelled."""
    yield from _serve(tmp_path_factory.mktemp("idle"), KIRIN_WORKERS="0")


@pytest.fixture(scope="module")
def working_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`kirin serve` with its embedded worker on the preview engine: tasks complete."""
    yield from _serve(tmp_path_factory.mktemp("working"))
