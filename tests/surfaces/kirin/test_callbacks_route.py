"""GET …/task/{id}/callbacks: a task's deliveries and attempts, for its owner only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kirin_video.surfaces.kirin.models import CallbackList
from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image
from tests.helpers import create, kirin_error, task_path

# Loopback is refused by the address policy, so the dispatcher records one attempt and gives up.
HOOK = "http://127.0.0.1:9/hook"
I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}


def _cancelled(client: TestClient, **extra: object) -> str:
    """A task cancelled at once: with workers=0 that is the one status change a test can make."""
    task_id = str(create(client, {**I2V, **extra})["id"])
    client.post(task_path(task_id, "cancel"), headers=bearer(KEY_A)).raise_for_status()
    return task_id


def _callbacks(client: TestClient, ref: str, *, prefix: str = "/model") -> list[dict[str, Any]]:
    response = client.get(f"{prefix}/v1/generation/task/{ref}/callbacks", headers=bearer(KEY_A))
    assert response.status_code == 200, response.text
    CallbackList.model_validate(response.json())
    return response.json()["data"]  # type: ignore[no-any-return]


def test_cancelled_task_lists_its_failed_delivery(client: TestClient) -> None:
    deliveries = _callbacks(client, _cancelled(client, callback_url=HOOK))
    assert [(d["event"], d["url"]) for d in deliveries] == [("failed", HOOK)]  # the surface's word
    assert deliveries[0]["id"].startswith("msg_")


def test_attempts_are_listed_with_their_error_in_milliseconds(client: TestClient) -> None:
    before = int(time.time() * 1000)
    task_id = _cancelled(client, callback_url=HOOK)
    deadline = time.monotonic() + 10
    while (delivery := _callbacks(client, task_id)[0])["state"] == "pending":
        assert time.monotonic() < deadline, delivery
        time.sleep(0.02)
    assert delivery["state"] == "failed" and delivery["next_attempt_at"] is None
    [attempt] = delivery["attempts"]
    assert attempt["http_status"] is None and attempt["error"]
    assert isinstance(attempt["at"], int) and isinstance(attempt["duration_ms"], int)
    assert before <= attempt["at"] <= int(time.time() * 1000)


class _Refuses(BaseHTTPRequestHandler):
    """A receiver that answers every callback 500, so the delivery waits for its retry."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_hook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_a_delivery_to_retry_says_when_in_milliseconds(
    make_client: Callable[..., TestClient], refusing_hook: str
) -> None:
    client = make_client(allow_private_urls=True, webhook_backoff_s=60)
    task_id = _cancelled(client, callback_url=refusing_hook)
    deadline = time.monotonic() + 10
    while not (delivery := _callbacks(client, task_id)[0])["attempts"]:
        assert time.monotonic() < deadline, delivery
        time.sleep(0.02)
    [attempt] = delivery["attempts"]
    assert (delivery["state"], attempt["http_status"]) == ("pending", 500)
    wait_ms = delivery["next_attempt_at"] - attempt["at"]  # 60 s, drawn within ±25 %
    assert 45_000 <= wait_ms <= 75_000 + attempt["duration_ms"] + 1_000


def test_task_without_callback_url_has_none(client: TestClient) -> None:
    assert _callbacks(client, _cancelled(client)) == []


def test_found_by_external_task_id_and_without_the_model_prefix(client: TestClient) -> None:
    task_id = _cancelled(client, callback_url=HOOK, external_task_id="order-7")
    by_id = [d["id"] for d in _callbacks(client, task_id)]
    assert [d["id"] for d in _callbacks(client, "order-7")] == by_id
    assert [d["id"] for d in _callbacks(client, "order-7", prefix="")] == by_id


def test_another_keys_task_is_404(client: TestClient) -> None:
    task_id = _cancelled(client, callback_url=HOOK)
    for ref in (task_id, "task_nope"):
        response = client.get(task_path(ref, "callbacks"), headers=bearer(KEY_B))
        assert ref in kirin_error(response, status=404, code="8002005013")


def test_schema_describes_the_answer(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    route = paths["/model/v1/generation/task/{ref}/callbacks"]["get"]
    ok = route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/CallbackList")
    assert route["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
