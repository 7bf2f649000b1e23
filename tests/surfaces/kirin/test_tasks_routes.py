"""Create, get, list with cursors and cancel on the hosted paths, also without ``/model``."""

from __future__ import annotations

import base64
import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import GENERATION, create, kirin_error, nulls, poll, task_path

I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}
MULTI = {
    "model": "kirin_v1_6_multi_i2v",
    "image_list": [{"image": b64(make_image())}],
    "prompt": "a walk in the park",
}


def _ids(client: TestClient, query: str) -> list[str]:
    response = client.get(f"{GENERATION}?{query}", headers=bearer(KEY_A))
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["data"]]


def test_created_task_has_the_contract_shape(client: TestClient) -> None:
    before = int(time.time() * 1000)
    task = create(client, {**I2V, "seed": 7, "external_task_id": "ext-1"})
    after = int(time.time() * 1000)
    assert set(task) == {
        "id",
        "model",
        "status",
        "created_at",
        "updated_at",
        "external_task_id",
        "metadata",
    }
    assert task["status"] == "in_progress" and task["external_task_id"] == "ext-1"
    assert isinstance(task["created_at"], int) and before <= task["created_at"] <= after
    assert task["updated_at"] == task["created_at"]
    assert task["metadata"] == {"seed": 7, "queue_position": 1}


def test_keys_without_a_value_are_absent_not_null(client: TestClient) -> None:
    task = create(client, I2V)
    assert "external_task_id" not in task and "progress" not in task
    assert nulls(task) == [] and nulls(poll(client, task["id"])) == []
    listed = client.get(GENERATION, headers=bearer(KEY_A)).json()
    assert nulls(listed["data"]) == []


def test_random_seed_is_reported_when_absent(client: TestClient) -> None:
    seed = create(client, I2V)["metadata"]["seed"]
    assert isinstance(seed, int) and 0 <= seed <= 2**32 - 1


def test_get_by_id_and_by_external_task_id(client: TestClient) -> None:
    task = create(client, {**MULTI, "external_task_id": "order-42"})
    by_id, by_ext = poll(client, task["id"]), poll(client, "order-42")
    assert by_id == by_ext and by_id["id"] == task["id"]


def test_unknown_task_is_404(client: TestClient) -> None:
    response = client.get(task_path("task_nope"), headers=bearer(KEY_A))
    assert "task_nope" in kirin_error(response, status=404, code="8002005013")


def test_old_paths_are_gone(client: TestClient) -> None:
    task_id = create(client, I2V)["id"]
    assert client.get(f"/v1/generation/{task_id}", headers=bearer(KEY_A)).status_code == 404
    cancel = client.post(f"/v1/generation/{task_id}/cancel", headers=bearer(KEY_A))
    assert cancel.status_code == 404
    assert poll(client, task_id)["status"] == "in_progress"  # nothing was cancelled


def test_list_pages_newest_first_with_cursor(client: TestClient) -> None:
    ids = [create(client, I2V)["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"{GENERATION}?{query}", headers=bearer(KEY_A)).json()
        seen += [task["id"] for task in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_list_filters_by_model_and_by_the_three_status_words(client: TestClient) -> None:
    pending = create(client, I2V)["id"]
    running = create(client, I2V)["id"]
    client.app.state.services.tasks.claim(running, worker="w")  # type: ignore[attr-defined]
    cancelled = create(client, MULTI)["id"]
    client.post(task_path(cancelled, "cancel"), headers=bearer(KEY_A)).raise_for_status()
    assert _ids(client, "model=kirin_v1_6_multi_i2v") == [cancelled]
    assert _ids(client, "status=in_progress") == [running, pending]  # queued and running
    assert _ids(client, "status=failed") == [cancelled]  # a cancelled task has failed
    assert _ids(client, "status=completed") == []
    assert _ids(client, "status=") == [cancelled, running, pending]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "8002005014"),
        ("limit=101", "8002005014"),
        ("status=done", "8002005014"),
        ("status=pending", "8002005014"),
        ("status=processing", "8002005014"),
        ("status=cancelled", "8002005014"),
        ("model=x", "8002005011"),
        ("cursor=%%%", "8002005014"),
    ],
)
def test_list_refuses_bad_parameters(client: TestClient, query: str, code: str) -> None:
    response = client.get(f"{GENERATION}?{query}", headers=bearer(KEY_A))
    message = kirin_error(response, status=400, code=code)
    assert message.startswith(query.split("=")[0] + ": ")


@pytest.mark.parametrize("word", ["pending", "processing", "cancelled"])
def test_status_filter_names_the_three_words(client: TestClient, word: str) -> None:
    response = client.get(f"{GENERATION}?status={word}", headers=bearer(KEY_A))
    message = kirin_error(response, status=400, code="8002005014")
    assert all(allowed in message for allowed in ("in_progress", "completed", "failed"))
    assert repr(word) in message


@pytest.mark.parametrize(
    "decoded",
    [b"[" + b"1" * 400 + b', "task_x"]', b"[" * 5000 + b"]" * 5000, b'"ab"', b"\xff"],
    ids=["huge number", "deep nesting", "not a pair", "not UTF-8"],
)
def test_list_refuses_a_forged_cursor(client: TestClient, decoded: bytes) -> None:
    cursor = base64.urlsafe_b64encode(decoded).decode().rstrip("=")
    response = client.get(f"{GENERATION}?cursor={cursor}", headers=bearer(KEY_A))
    assert kirin_error(response, status=400, code="8002005014").startswith("cursor: ")


def test_cancel_pending_task_then_cancel_again_is_409(client: TestClient) -> None:
    task = create(client, I2V)
    cancelled = client.post(task_path(task["id"], "cancel"), headers=bearer(KEY_A)).json()
    assert cancelled["status"] == "failed"
    assert set(cancelled["error"]) == {"code", "message", "error_message"}
    assert cancelled["error"]["code"] == "8002005097"
    assert cancelled["error"]["message"] == cancelled["error"]["error_message"]
    assert cancelled["error"]["message"]
    assert "output" not in cancelled and "usage" not in cancelled
    assert poll(client, task["id"]) == cancelled
    again = client.post(task_path(task["id"], "cancel"), headers=bearer(KEY_A))
    kirin_error(again, status=409, code="8002005018")


def test_every_route_answers_without_the_model_prefix(client: TestClient) -> None:
    task = client.post("/v1/generation", json=I2V, headers=bearer(KEY_A)).json()
    assert task["status"] == "in_progress"
    got = client.get(f"/v1/generation/task/{task['id']}", headers=bearer(KEY_A)).json()
    assert got == poll(client, task["id"])
    listed = client.get("/v1/generation", headers=bearer(KEY_A)).json()["data"]
    assert [t["id"] for t in listed] == [task["id"]]
    callbacks = client.get(f"/v1/generation/task/{task['id']}/callbacks", headers=bearer(KEY_A))
    assert callbacks.json() == {"data": []}
    cancel = client.post(f"/v1/generation/task/{task['id']}/cancel", headers=bearer(KEY_A))
    assert cancel.json()["error"]["code"] == "8002005097"


def test_the_catalog_answers_under_both_prefixes(client: TestClient) -> None:
    served = client.get("/model/v1/models", headers=bearer(KEY_A))
    assert served.status_code == 200
    assert served.json() == client.get("/v1/models", headers=bearer(KEY_A)).json()
