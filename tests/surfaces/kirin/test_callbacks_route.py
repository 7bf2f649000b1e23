"""GET /v1/generation/{id}/callbacks: a task's deliveries and attempts, for its owner only."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from kirin_video.surfaces.kirin.models import CallbackList
from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image

# Loopback is refused by the address policy, so the dispatcher records one attempt and gives up.
HOOK = "http://127.0.0.1:9/hook"
I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}


def _cancelled(client: TestClient, **extra: object) -> str:
    """A task cancelled at once: with workers=0 that is the one status change a test can make."""
    created = client.post("/v1/generation", json={**I2V, **extra}, headers=bearer(KEY_A))
    assert created.status_code == 200, created.text
    task_id: str = created.json()["id"]
    client.post(f"/v1/generation/{task_id}/cancel", headers=bearer(KEY_A)).raise_for_status()
    return task_id


def _callbacks(client: TestClient, ref: str, *, prefix: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{prefix}/v1/generation/{ref}/callbacks", headers=bearer(KEY_A))
    assert response.status_code == 200, response.text
    CallbackList.model_validate(response.json())
    return response.json()["data"]  # type: ignore[no-any-return]


def test_cancelled_task_lists_its_cancelled_delivery(client: TestClient) -> None:
    deliveries = _callbacks(client, _cancelled(client, callback_url=HOOK))
    assert [(d["event"], d["url"]) for d in deliveries] == [("cancelled", HOOK)]
    assert deliveries[0]["id"].startswith("msg_")


def test_attempts_are_listed_with_their_error(client: TestClient) -> None:
    task_id = _cancelled(client, callback_url=HOOK)
    deadline = time.monotonic() + 10
    while (delivery := _callbacks(client, task_id)[0])["state"] == "pending":
        assert time.monotonic() < deadline, delivery
        time.sleep(0.02)
    assert delivery["state"] == "failed" and delivery["next_attempt_at"] is None
    [attempt] = delivery["attempts"]
    assert attempt["http_status"] is None and attempt["error"]
    assert isinstance(attempt["at"], int) and isinstance(attempt["duration_ms"], int)


def test_task_without_callback_url_has_none(client: TestClient) -> None:
    assert _callbacks(client, _cancelled(client)) == []


def test_found_by_external_task_id_and_under_model_prefix(client: TestClient) -> None:
    task_id = _cancelled(client, callback_url=HOOK, external_task_id="order-7")
    by_id = _callbacks(client, task_id)
    assert [d["id"] for d in _callbacks(client, "order-7")] == [d["id"] for d in by_id]
    assert [d["id"] for d in _callbacks(client, "order-7", prefix="/model")] == [
        d["id"] for d in by_id
    ]


def test_another_keys_task_is_404(client: TestClient) -> None:
    task_id = _cancelled(client, callback_url=HOOK)
    for ref in (task_id, "task_nope"):
        response = client.get(f"/v1/generation/{ref}/callbacks", headers=bearer(KEY_B))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "8002005013"


def test_schema_describes_the_answer(client: TestClient) -> None:
    route = client.get("/openapi.json").json()["paths"]["/v1/generation/{ref}/callbacks"]["get"]
    ok = route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/CallbackList")
    assert route["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
