"""Tasks created on the Kling routes call back with the Kling task object, not the Kirin one."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from tests.conftest import KEY_A, bearer
from tests.webhooks.conftest import FAST, IMAGE, SECRET, Receiver


def test_kling_tasks_call_back_with_the_kling_task_object(
    make_client: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = make_client(**FAST, workers=1)
    body = {"image": IMAGE, "callback_url": receiver.url, "external_task_id": "cb-1"}
    created = client.post("/v1/videos/image2video", json=body, headers=bearer(KEY_A)).json()
    task_id = created["data"]["task_id"]
    got = receiver.wait(delivered=2)
    events = [Webhook(SECRET).verify(r.body, r.headers) for r in got]
    assert [e["task_status"] for e in events] == ["processing", "succeed"]
    assert all(
        set(e)
        == {
            "task_id",
            "task_status",
            "task_status_msg",
            "task_info",
            "created_at",
            "updated_at",
            "task_result",
        }
        for e in events
    )
    assert all(
        e["task_id"] == task_id and e["task_info"] == {"external_task_id": "cb-1"} for e in events
    )
    queried = client.get(f"/v1/videos/image2video/{task_id}", headers=bearer(KEY_A)).json()["data"]
    final = events[1]
    assert {k: v for k, v in final.items() if k != "task_result"} == {
        k: v for k, v in queried.items() if k != "task_result"
    }
    (video,) = final["task_result"]["videos"]
    assert video["duration"] == "5.0" and client.get(video["url"]).status_code == 200


def test_a_cancelled_kling_task_calls_back_failed_with_the_reason(
    make_client: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = make_client(**FAST)
    body = {"image": IMAGE, "callback_url": receiver.url}
    task_id = client.post("/v1/videos/image2video", json=body, headers=bearer(KEY_A)).json()[
        "data"
    ]["task_id"]
    cancelled = client.post(f"/v1/generation/task/{task_id}/cancel", headers=bearer(KEY_A))
    assert cancelled.status_code == 200, cancelled.text
    (got,) = receiver.wait(delivered=1)
    event = Webhook(SECRET).verify(got.body, got.headers)
    assert (event["task_status"], event["task_result"]) == ("failed", {})
    assert "cancelled" in event["task_status_msg"]
