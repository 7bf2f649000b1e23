"""Per-key limits: requests per window, unfinished tasks, and turns in the queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from kirin_video.contract.params import parse_request
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image

IMAGE = b64(make_image(320, 320))
BODY = {"model": "kirin_v1_6_i2v", "image": IMAGE}


def test_requests_over_the_rate_are_429_with_retry_after(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit="3/minute")
    answers = [client.get("/v1/generation", headers=bearer(KEY_A)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "8002005015"
    assert "3 per 1 minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/v1/generation", headers=bearer(KEY_B)).status_code == 200  # others go on


def test_unfinished_tasks_per_key_are_capped(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_unfinished_tasks=2)
    first, _ = (client.post("/v1/generation", json=BODY, headers=bearer(KEY_A)) for _ in range(2))
    refused = client.post("/v1/generation", json=BODY, headers=bearer(KEY_A))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "8002005015"
    assert "at most 2 pending or processing tasks" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.post("/v1/generation", json=BODY, headers=bearer(KEY_B)).status_code == 200
    client.post(f"/v1/generation/{first.json()['id']}/cancel", headers=bearer(KEY_A))
    assert client.post("/v1/generation", json=BODY, headers=bearer(KEY_A)).status_code == 200


def test_a_refused_create_leaves_no_task(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_unfinished_tasks=1)
    client.post("/v1/generation", json=BODY, headers=bearer(KEY_A))
    refused = client.post(
        "/v1/generation", json={**BODY, "external_task_id": "late"}, headers=bearer(KEY_A)
    )
    assert refused.status_code == 429
    assert client.get("/v1/generation/late", headers=bearer(KEY_A)).status_code == 404
    assert len(client.get("/v1/generation", headers=bearer(KEY_A)).json()["data"]) == 1


def test_keys_take_turns_in_the_queue(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    service = TaskService(db)
    image = [StoredImage("first", make_image(320, 320))]
    request = parse_request(BODY)
    busy = [service.create(owner="busy", request=request, images=image).id for _ in range(5)]
    late = service.create(owner="late", request=request, images=image).id
    order = []
    for _ in range(3):
        task_id = service.next_pending()
        assert task_id is not None and service.claim(task_id, worker="w") is not None
        service.complete(task_id, worker="w", output=[], usage={}, meta={})
        order.append(task_id)
    assert order == [busy[0], late, busy[1]]
