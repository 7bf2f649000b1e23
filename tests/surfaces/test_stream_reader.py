"""A node's task streams share one reader: the statements a period do not grow with the streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import event

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.e2e.conftest import free_port

BODY = {"model": "kirin_v1_6_i2v", "image": b64(make_image(320, 320))}
POLL_S = 0.1


@dataclass
class Served:
    """An app under uvicorn in this process, its queries counted as they run."""

    url: str
    app: FastAPI
    statements: int = 0


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    app = create_app(
        settings.model_copy(
            update={
                "stream_poll_s": POLL_S,
                "stream_ping_s": 0.2,
                "streams_per_key": 100,
                "webhook_poll_s": 60.0,  # the callback sender stays quiet
                "rate_limit": "1000/second",
            }
        )
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    node = Served(f"http://127.0.0.1:{port}", app)

    def count(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            node.statements += 1  # under the GIL, from whichever thread runs it

    event.listen(app.state.services.db.engine, "before_cursor_execute", count)
    yield node
    server.should_exit = True
    thread.join(10)


def _open(client: httpx.Client, stack: ExitStack, task_ids: list[str]) -> list[Iterator[str]]:
    """A stream per task, each read up to its first event (the task as it was), kept open."""
    streams = []
    for task_id in task_ids:
        response = stack.enter_context(
            client.stream("GET", f"/model/v1/generation/task/{task_id}/stream")
        )
        assert response.status_code == 200
        lines = response.iter_lines()  # held: a dropped iterator would close the connection
        while not next(lines).startswith("event: task"):
            pass
        streams.append(lines)
    return streams


def _statements_over(node: Served, seconds: float) -> int:
    before = node.statements
    time.sleep(seconds)
    return node.statements - before


def test_many_streams_cost_the_statements_of_one(served: Served) -> None:
    with httpx.Client(base_url=served.url, headers=bearer(KEY_A), timeout=30) as client:
        tasks = [client.post("/model/v1/generation", json=BODY).json()["id"] for _ in range(20)]
        with ExitStack() as stack:
            held = _open(client, stack, tasks[:1])
            one = _statements_over(served, 2.0)
            assert len(held) == 1
        with ExitStack() as stack:
            held = _open(client, stack, tasks)
            twenty = _statements_over(served, 2.0)
            assert len(held) == len(tasks)
    periods = 2.0 / POLL_S
    assert one <= 3 * periods + 5  # the task, its place in its key's queue, the keys' turns
    assert twenty <= 1.5 * one + 5, (one, twenty)
