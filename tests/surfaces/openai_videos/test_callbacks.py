"""Tasks made on /v1/videos call back with OpenAI's events, and only for the finished video."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from kirin_video.contract.catalog import Status
from kirin_video.surfaces.openai_videos.render import event_body
from kirin_video.tasks.snapshot import TaskSnapshot
from tests.conftest import KEY_A, bearer
from tests.helpers import task_path
from tests.surfaces.openai_videos.conftest import created, form_create
from tests.webhooks.conftest import FAST, SECRET, Receiver


def _snapshot(status: Status, updated_ts: float = 1_800_000_000.5) -> TaskSnapshot:
    return TaskSnapshot(
        id="task_1", model="kirin_v1_6_i2v", status=status, created_ts=1.0, updated_ts=updated_ts
    )


def test_each_finished_video_is_one_event_naming_it() -> None:
    completed = event_body(_snapshot(Status.COMPLETED), str)
    assert completed is not None and completed["id"].startswith("evt_")
    assert {k: v for k, v in completed.items() if k != "id"} == {
        "object": "event",
        "created_at": 1_800_000_000,
        "type": "video.completed",
        "data": {"id": "task_1"},
    }
    for status in (Status.FAILED, Status.CANCELLED):
        assert (event_body(_snapshot(status), str) or {})["type"] == "video.failed"
    assert event_body(_snapshot(Status.COMPLETED), str) == completed  # the same on every retry
    assert event_body(_snapshot(Status.COMPLETED, 2.0), str) != completed


def test_a_video_that_starts_running_tells_nothing() -> None:
    for status in (Status.PENDING, Status.PROCESSING):
        assert event_body(_snapshot(status), str) is None


def test_the_finished_event_is_sent_signed_and_the_running_one_dropped(
    make_client: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = make_client(**FAST, workers=1)
    video = created(form_create(client, extra_body={"callback_url": receiver.url}))
    (got,) = receiver.wait(delivered=1)
    event = Webhook(SECRET).verify(got.body, got.headers)
    assert (event["type"], event["data"]) == ("video.completed", {"id": video["id"]})
    deadline = time.monotonic() + 5
    while (deliveries := _deliveries(client, video["id"]))[-1]["state"] != "delivered":
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.02)
    assert [d["event"] for d in deliveries] == ["completed"]  # the running one was never owed
    assert len(receiver.received) == 1


def _deliveries(client: TestClient, task_id: str) -> list[dict[str, object]]:
    response = client.get(task_path(task_id, "callbacks"), headers=bearer(KEY_A))
    assert response.status_code == 200, response.text
    return list(response.json()["data"])
