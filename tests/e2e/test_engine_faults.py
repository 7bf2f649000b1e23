"""Engine faults through a whole server: its engine in a real child process that misbehaves.

Each test runs the app with its embedded worker and a ``ChildEngine`` of a fault engine; the
server keeps answering while the child dies, hangs or ignores a cancel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.runtime.child import ChildEngine, EngineFactory
from kirin_video.tasks.db import Database
from kirin_video.tasks.tables import Task
from tests.conftest import KEY_A, bearer
from tests.helpers import create, poll, task_path
from tests.runtime import fault_engines as faults

Serve = Callable[..., tuple[TestClient, ChildEngine]]


@pytest.fixture
def serve(settings: Settings) -> Iterator[Serve]:
    clients: list[TestClient] = []

    def start(factory: EngineFactory, **overrides: Any) -> tuple[TestClient, ChildEngine]:
        chosen = settings.model_copy(update={"workers": 1, **overrides})
        engine = ChildEngine(
            factory,
            name="faulty",
            timeout_s=lambda job: chosen.task_timeout(mode=job.mode, duration=5),
            cancel_grace_s=chosen.cancel_grace_s,
        )
        client = TestClient(create_app(chosen, engine=engine))
        client.__enter__()
        clients.append(client)
        return client, engine

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def _body(png_b64: str) -> dict[str, Any]:
    return {"model": "kirin_v1_6_i2v", "input": [{"params": {"image": png_b64}}]}


def _finished(client: TestClient, task_id: str, *, timeout_s: float = 60) -> dict[str, Any]:
    """Poll until the task ends, checking the server answers its health route meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert client.get("/healthz").status_code == 200
        task = poll(client, task_id)
        if task["status"] != "in_progress":
            return task
        time.sleep(0.1)
    raise TimeoutError(task_id)


def _attempts(settings: Settings, task_id: str) -> int:
    db = Database.from_settings(settings)
    try:
        with db.session() as session:
            return int(session.scalars(select(Task.attempts).where(Task.id == task_id)).one())
    finally:
        db.close()


def test_a_child_that_aborts_once_costs_one_try_and_the_task_completes(
    serve: Serve, settings: Settings, png_b64: str, tmp_path: Path
) -> None:
    client, _engine = serve(partial(faults.AbortsOnce, str(tmp_path / "died")))
    task = create(client, _body(png_b64))
    done = _finished(client, task["id"])
    assert done["status"] == "completed", done
    assert _attempts(settings, task["id"]) == 2


def test_a_child_that_always_aborts_fails_the_task_after_its_attempts(
    serve: Serve, png_b64: str
) -> None:
    client, _engine = serve(faults.Aborts, max_attempts=2)
    task = create(client, _body(png_b64))
    failed = _finished(client, task["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "8002005098"
    assert failed["error"]["message"] == (
        "generation: the engine process died (exit code -6) on try 2 of 2; giving up"
    )


def test_a_hung_child_is_killed_at_the_deadline_and_the_task_fails_saying_so(
    serve: Serve, png_b64: str
) -> None:
    client, engine = serve(faults.Hangs, task_timeout_s=2, max_attempts=1)
    task = create(client, _body(png_b64))
    started = time.monotonic()
    failed = _finished(client, task["id"])
    assert time.monotonic() - started < 8
    assert failed["error"]["code"] == "8002005098"
    assert failed["error"]["message"] == (
        "generation: ran out of time (2 s) on try 1 of 1; giving up"
    )
    assert len(engine.children()) == 1  # a fresh child for the next task


def test_a_cancel_the_child_ignores_kills_it_and_the_next_task_gets_a_fresh_one(
    serve: Serve, png_b64: str
) -> None:
    client, engine = serve(faults.IgnoresStop, cancel_grace_s=0.5)
    task = create(client, _body(png_b64))
    deadline = time.monotonic() + 30
    while "progress" not in poll(client, task["id"]):  # running in the child
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = engine.children()[0]
    answer = client.post(task_path(task["id"], "cancel"), headers=bearer(KEY_A))
    assert answer.status_code == 200 and answer.json()["error"]["code"] == "8002005097"
    assert faults.gone(child, within_s=3)  # half a second to notice, half a second of grace
    assert client.get("/healthz").status_code == 200
    fresh = engine.children()
    assert len(fresh) == 1 and fresh != [child]


def test_an_engine_error_in_the_child_reaches_the_client_without_its_path(
    serve: Serve, png_b64: str
) -> None:
    client, _engine = serve(faults.Raises)
    task = create(client, _body(png_b64))
    failed = _finished(client, task["id"])
    message = failed["error"]["message"]
    assert failed["error"]["code"] == "8002005098"
    assert "/srv/models" not in message and "secret" not in message
    assert "incident" in message
