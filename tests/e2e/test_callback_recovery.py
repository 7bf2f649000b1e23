"""A server killed while a callback waits for its retry sends it after the restart."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from standardwebhooks import Webhook

from tests.conftest import b64, make_image
from tests.e2e.conftest import ServerProcess
from tests.webhooks.conftest import CANCELLED, SECRET, Answer, Receiver, assert_kirin_object

ENV = {
    "KIRIN_ALLOW_PRIVATE_URLS": "true",
    "KIRIN_WEBHOOK_SECRET": SECRET,
    "KIRIN_WEBHOOK_BACKOFF_S": "3",
    "KIRIN_WEBHOOK_POLL_S": "0.1",
    "KIRIN_WORKERS": "0",
}


def recorded(client: httpx.Client, task_id: str) -> None:
    """Wait until the server has recorded the callback's first attempt, not just made it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        deliveries = client.get(f"/v1/generation/task/{task_id}/callbacks").json()["data"]
        if deliveries and deliveries[0]["attempts"]:
            assert deliveries[0]["attempts"][0]["http_status"] == 500
            return
        time.sleep(0.05)
    raise TimeoutError(f"no attempt recorded for {task_id}")


def test_callback_pending_at_a_kill_is_delivered_after_restart(
    server: Callable[..., ServerProcess],
) -> None:
    receiver = Receiver()
    receiver.script = [Answer(500)]
    try:
        first = server(**ENV)
        with first.client() as client:
            body = {
                "model": "kirin_v1_6_i2v",
                "image": b64(make_image(320, 320)),
                "callback_url": receiver.url,
            }
            task = client.post("/v1/generation", json=body).json()
            assert client.post(f"/v1/generation/task/{task['id']}/cancel").status_code == 200
            recorded(client, task["id"])  # else the kill could come between send and record
        assert [r.answered for r in receiver.received] == [500]
        first.kill()  # mid-backoff: the retry was due about 3 s later
        server(**ENV)
        (got,) = receiver.wait(delivered=1)
        assert got.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
        event = Webhook(SECRET).verify(got.body, got.headers)
        assert (event["status"], event["error"]["code"]) == ("failed", CANCELLED)
        assert_kirin_object(event, task_id=task["id"])
    finally:
        receiver.close()
