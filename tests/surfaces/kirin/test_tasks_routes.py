"""Get, list with cursors, cancel, models, and the ``/model`` prefix alias."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from tests.conftest import KEY_A, b64, bearer, make_image

I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}
MULTI = {
    "model": "kirin_v1_6_multi_i2v",
    "image_list": [{"image": b64(make_image())}],
    "prompt": "a walk in the park",
}


def _create(client: TestClient, body: dict[str, object], **extra: object) -> dict[str, object]:
    response = client.post("/v1/generation", json={**body, **extra}, headers=bearer(KEY_A))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_created_task_has_the_contract_shape(client: TestClient) -> None:
    task = _create(client, I2V, seed=7, external_task_id="ext-1")
    assert set(task) == {
        "id",
        "model",
        "status",
        "created_at",
        "updated_at",
        "external_task_id",
        "metadata",
    }
    assert task["status"] == "pending" and task["external_task_id"] == "ext-1"
    assert isinstance(task["created_at"], int)
    assert task["metadata"] == {"seed": 7, "queue_position": 1}


def test_random_seed_is_reported_when_absent(client: TestClient) -> None:
    seed = _create(client, I2V)["metadata"]["seed"]  # type: ignore[index]
    assert isinstance(seed, int) and 0 <= seed <= 2**32 - 1


def test_get_by_id_and_by_external_task_id(client: TestClient) -> None:
    task = _create(client, MULTI, external_task_id="order-42")
    by_id = client.get(f"/v1/generation/{task['id']}", headers=bearer(KEY_A)).json()
    by_ext = client.get("/v1/generation/order-42", headers=bearer(KEY_A)).json()
    assert by_id == by_ext and by_id["id"] == task["id"]


def test_unknown_task_is_404(client: TestClient) -> None:
    response = client.get("/v1/generation/task_nope", headers=bearer(KEY_A))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "8002005013"
    assert "task_nope" in response.json()["error"]["message"]


def test_list_pages_newest_first_with_cursor(client: TestClient) -> None:
    ids = [_create(client, I2V)["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/v1/generation?{query}", headers=bearer(KEY_A)).json()
        seen += [task["id"] for task in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_list_filters_by_model_and_status(client: TestClient) -> None:
    _create(client, I2V)
    multi_id = _create(client, MULTI)["id"]
    client.post(f"/v1/generation/{multi_id}/cancel", headers=bearer(KEY_A))
    by_model = client.get("/v1/generation?model=kirin_v1_6_multi_i2v", headers=bearer(KEY_A))
    assert [t["id"] for t in by_model.json()["data"]] == [multi_id]
    by_status = client.get("/v1/generation?status=pending", headers=bearer(KEY_A))
    assert [t["model"] for t in by_status.json()["data"]] == ["kirin_v1_6_i2v"]


def test_list_refuses_bad_parameters(client: TestClient) -> None:
    for query, code in (
        ("limit=0", "8002005014"),
        ("limit=101", "8002005014"),
        ("status=done", "8002005014"),
        ("model=x", "8002005011"),
        ("cursor=%%%", "8002005014"),
    ):
        response = client.get(f"/v1/generation?{query}", headers=bearer(KEY_A))
        assert (response.status_code, response.json()["error"]["code"]) == (400, code), query


@pytest.mark.parametrize(
    "decoded",
    [b"[" + b"1" * 400 + b', "task_x"]', b"[" * 5000 + b"]" * 5000, b'"ab"', b"\xff"],
    ids=["huge number", "deep nesting", "not a pair", "not UTF-8"],
)
def test_list_refuses_a_forged_cursor(client: TestClient, decoded: bytes) -> None:
    cursor = base64.urlsafe_b64encode(decoded).decode().rstrip("=")
    response = client.get(f"/v1/generation?cursor={cursor}", headers=bearer(KEY_A))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "8002005014")
    assert response.json()["error"]["message"].startswith("cursor: ")


def test_cancel_pending_task_then_cancel_again_is_409(client: TestClient) -> None:
    task = _create(client, I2V)
    cancelled = client.post(f"/v1/generation/{task['id']}/cancel", headers=bearer(KEY_A)).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"]["code"] == "8002005097"
    assert cancelled["error"]["message"] == cancelled["error"]["error_message"]
    again = client.post(f"/v1/generation/{task['id']}/cancel", headers=bearer(KEY_A))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "8002005018"


def test_models_lists_both_with_defaults(client: TestClient) -> None:
    models = client.get("/v1/models", headers=bearer(KEY_A)).json()["data"]
    by_id = {model["id"]: model for model in models}
    assert set(by_id) == {"kirin_v1_6_i2v", "kirin_v1_6_multi_i2v"}
    assert by_id["kirin_v1_6_i2v"]["parameters"]["cfg_scale"]["default"] == 0.5
    assert by_id["kirin_v1_6_multi_i2v"]["output"]["size"]["pro"]["9:16"] == "1080x1920"


def test_every_route_answers_under_model_prefix(client: TestClient) -> None:
    task = client.post("/model/v1/generation", json=I2V, headers=bearer(KEY_A)).json()
    assert (
        client.get(f"/model/v1/generation/{task['id']}", headers=bearer(KEY_A)).json()["id"]
        == task["id"]
    )
    assert client.get("/model/v1/generation", headers=bearer(KEY_A)).status_code == 200
    assert client.get("/model/v1/models", headers=bearer(KEY_A)).status_code == 200
    assert client.get("/model/healthz").json() == {"status": "ok"}
    cancel = client.post(f"/model/v1/generation/{task['id']}/cancel", headers=bearer(KEY_A))
    assert cancel.json()["status"] == "cancelled"


def test_unknown_route_answers_in_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nothing", headers=bearer(KEY_A))
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message"}


def test_readyz_says_ready_while_the_database_answers(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ready", "database": "ok", "storage": "ok"}


def test_readyz_is_503_when_the_database_does_not_answer(client: TestClient) -> None:
    db = client.app.state.services.db  # type: ignore[attr-defined]
    db.engine.dispose()
    db.engine = create_engine("sqlite:////nonexistent/dir/kirin.db")  # the database is gone
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "8002005099"
    assert answer.json()["error"]["message"].startswith("database: must answer")
