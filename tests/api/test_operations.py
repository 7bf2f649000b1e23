"""What operators see: queue position, Prometheus figures, readiness (database, broker)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from kirin_video.storage.base import StorageUnavailable
from kirin_video.tasks.snapshot import Usage
from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image
from tests.helpers import GENERATION, create, kirin_error, poll, task_path

I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image(320, 320))}


def _create(client: TestClient, key: str) -> str:
    return str(create(client, I2V, key=key)["id"])


def _position(client: TestClient, key: str, task_id: str) -> int:
    return int(poll(client, task_id, key=key)["metadata"]["queue_position"])


def test_pending_tasks_say_where_they_stand_with_keys_taking_turns(client: TestClient) -> None:
    a = [_create(client, KEY_A) for _ in range(3)]
    b = _create(client, KEY_B)
    # the order the scheduler will run them in: A's first, B's first, then A's others
    assert [_position(client, KEY_A, task_id) for task_id in a] == [1, 3, 4]
    assert _position(client, KEY_B, b) == 2
    listed = client.get(GENERATION, headers=bearer(KEY_A)).json()["data"]
    assert [t["metadata"]["queue_position"] for t in listed] == [4, 3, 1]

    services = client.app.state.services  # type: ignore[attr-defined]
    services.tasks.claim(a[0], worker="w")
    running = poll(client, a[0])
    assert "queue_position" not in running["metadata"] and running["progress"] == 0
    assert _position(client, KEY_B, b) == 1  # A has one running: B's turn
    assert _position(client, KEY_A, a[1]) == 2


def test_metrics_count_tasks_queue_and_durations(client: TestClient) -> None:
    ids = [_create(client, KEY_A) for _ in range(3)]
    services = client.app.state.services  # type: ignore[attr-defined]
    services.tasks.claim(ids[0], worker="w")
    services.tasks.complete(ids[0], worker="w", outputs=[], usage=Usage(cost="0"), meta={})
    client.post(task_path(ids[1], "cancel"), headers=bearer(KEY_A)).raise_for_status()
    text = client.get("/metrics").text
    assert "kirin_queue_depth 1.0" in text
    for status, count in (("pending", 1), ("processing", 0), ("completed", 1), ("cancelled", 1)):
        assert f'kirin_tasks{{status="{status}"}} {count}.0' in text
    assert "kirin_task_run_seconds_count 1.0" in text
    assert 'kirin_task_run_seconds_bucket{le="+Inf"} 1.0' in text
    assert "kirin_task_wait_seconds_count 1.0" in text


def test_metrics_count_live_workers(make_client: Callable[..., TestClient]) -> None:
    client = make_client(workers=2)
    text = client.get("/metrics").text
    assert 'kirin_workers{engine="preview",kind="embedded"} 2.0' in text


def test_with_the_broker_down_tasks_are_still_taken_and_readiness_says_why(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(broker_url="redis://127.0.0.1:9/0")  # nothing listens there
    started = time.monotonic()
    task_id = _create(client, KEY_A)
    assert time.monotonic() - started < 10
    task = poll(client, task_id)
    assert task["status"] == "in_progress" and task["metadata"]["queue_position"] == 1  # kept
    ready = client.get("/readyz")
    assert kirin_error(ready, status=503, code="8002005099").startswith("broker: must answer")


def test_readyz_says_ready_while_the_database_answers(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ready", "database": "ok", "storage": "ok"}


def test_readyz_says_the_engine_is_ready_where_this_node_runs_tasks(
    make_client: Callable[..., TestClient],
) -> None:
    assert make_client(workers=1).get("/readyz").json()["engine"] == "ok"


def test_readyz_is_503_when_the_database_does_not_answer(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    db = client.app.state.services.db  # type: ignore[attr-defined]
    db.engine.dispose()
    db.engine = create_engine("sqlite:////nonexistent/dir/kirin.db")  # the database is gone
    with caplog.at_level(logging.WARNING, logger="kirin_video.api.routes.health"):
        answer = client.get("/readyz")
    message = kirin_error(answer, status=503, code="8002005099")
    assert re.fullmatch(
        r"database: must answer to serve requests; it does not \(incident \w+\)", message
    )
    assert "OperationalError" not in message
    assert f"{message[-13:-1]}): OperationalError" in caplog.text  # the log says why


def test_readyz_names_storage_and_keeps_its_path_and_errno_for_the_log(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    storage = client.app.state.services.storage  # type: ignore[attr-defined]
    secret = "outputs directory /srv/kirin/outputs cannot be made: [Errno 13] Permission denied"

    def refuse() -> None:
        raise StorageUnavailable(secret)

    monkeypatch.setattr(storage, "check", refuse)
    with caplog.at_level(logging.WARNING, logger="kirin_video.api.routes.health"):
        message = kirin_error(client.get("/readyz"), status=503, code="8002005099")
    assert message.startswith("storage: must accept outputs; it does not (incident ")
    assert "/srv" not in message and "Errno" not in message
    assert secret in caplog.text


def test_readyz_names_an_engine_that_cannot_load_and_the_log_says_why(
    make_client: Callable[..., TestClient], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = str(tmp_path / "no-such-model")
    with caplog.at_level(logging.ERROR):
        client = make_client(engine="diffusers", model_path=nowhere, workers=1)
        message = kirin_error(client.get("/readyz"), status=503, code="8002005099")
    incident = re.fullmatch(
        r"engine: must load to run tasks; it did not \(incident (\w+)\)", message
    )
    assert incident, message
    logged = [r.getMessage() for r in caplog.records if incident.group(1) in r.getMessage()]
    assert len(logged) == 1 and f"KIRIN_MODEL_PATH={nowhere!r} does not exist" in logged[0]
