"""A surprise in a route answers 500 with an incident id the log holds; a lost database, 503."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from kirin_video.tasks.service import TaskService
from tests.conftest import KEY_A, bearer
from tests.helpers import GENERATION, kirin_error, task_path

KLING_QUERY = "/v1/videos/image2video/task_x"


def _raise(error: Exception) -> Callable[..., object]:
    def raising(*_args: object, **_kwargs: object) -> object:
        raise error

    return raising


@pytest.fixture
def surprised(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """Reading a task raises an error whose text holds a path."""
    failure = KeyError("/srv/kirin/state/tasks.json")
    monkeypatch.setattr(TaskService, "get", _raise(failure))
    monkeypatch.setattr(TaskService, "read", _raise(failure))  # a poll's read
    return client


def _incident(message: str, caplog: pytest.LogCaptureFixture) -> None:
    """The message names an incident and no internals; the log has its traceback."""
    found = re.search(r"incident ([0-9a-f]{12})", message)
    assert found and "/srv" not in message and "KeyError" not in message, message
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None, caplog.text
    assert "/srv/kirin/state/tasks.json" in caplog.text


def test_a_surprise_answers_500_in_the_kirin_envelope_with_its_incident_id(
    surprised: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kirin_video.surfaces.base"):
        answer = surprised.get(task_path("task_x"), headers=bearer(KEY_A))
    message = kirin_error(answer, status=500, code="8002005098")
    assert message.startswith("internal server error: ") and "not applied" in message
    _incident(message, caplog)


def test_a_surprise_answers_500_in_the_kling_envelope_with_its_incident_id(
    surprised: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kirin_video.surfaces.base"):
        answer = surprised.get(KLING_QUERY, headers=bearer(KEY_A))
    body = answer.json()
    assert (answer.status_code, body["code"]) == (500, 5000), body
    _incident(body["message"], caplog)


def test_a_lost_database_answers_503_with_retry_after_on_both_surfaces(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    monkeypatch.setattr(TaskService, "get", _raise(lost))
    monkeypatch.setattr(TaskService, "read", _raise(lost))
    monkeypatch.setattr(TaskService, "list_tasks", _raise(lost))
    kirin = [
        client.get(task_path("task_x"), headers=bearer(KEY_A)),
        client.get(GENERATION, headers=bearer(KEY_A)),
    ]
    for answer in kirin:
        message = kirin_error(answer, status=503, code="8002005099")
        assert message == "database: unreachable, retry shortly"
        assert answer.headers["Retry-After"] == "5"
    kling = client.get(KLING_QUERY, headers=bearer(KEY_A))
    assert (kling.status_code, kling.json()["code"]) == (503, 5001), kling.text
    assert kling.headers["Retry-After"] == "5"
