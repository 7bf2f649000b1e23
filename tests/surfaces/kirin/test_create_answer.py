"""A create answers 200 exactly when the task exists: nothing read after the commit can turn the
answer into an error that would make a retrying client create it twice."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from kirin_video.tasks.service import TaskService
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import GENERATION, create, poll, task_rows

BODY = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}


def test_a_create_whose_queue_position_cannot_be_read_still_answers_the_task(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(*_args: object, **_kwargs: object) -> int:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    with monkeypatch.context() as patch:
        patch.setattr(TaskService, "queue_position", lost)
        task = create(client, BODY)
    assert task_rows(client) == 1
    assert task["status"] == "in_progress" and "queue_position" not in task["metadata"]
    assert poll(client, task["id"])["id"] == task["id"]


def test_a_refused_create_leaves_no_task(client: TestClient) -> None:
    response = client.post(GENERATION, json={**BODY, "seed": -1}, headers=bearer(KEY_A))
    assert response.status_code == 400 and task_rows(client) == 0
