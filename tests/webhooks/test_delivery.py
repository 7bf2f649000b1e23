"""Callbacks through a live app to a real receiver: signed, retried, ordered, policed."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from standardwebhooks import Webhook

from kirin_video.client import WebhookVerificationError, verify_webhook
from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.tasks.db import Database
from kirin_video.tasks.keys import issue_key, rotate_webhook_secret
from kirin_video.tasks.outbox import DeliveryRecord
from kirin_video.tasks.tables import Task
from tests.conftest import KEY_A, bearer
from tests.webhooks.conftest import (
    CANCELLED,
    FAST,
    IMAGE,
    SECRET,
    Answer,
    Receiver,
    assert_kirin_object,
    cancel,
    create,
)


@pytest.fixture
def hooks(make_client: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """An app that sends callbacks quickly to loopback receivers."""
    return lambda **overrides: make_client(**{**FAST, **overrides})


def history(client: TestClient, task_id: str) -> list[DeliveryRecord]:
    # the outbox as the service keeps it (the route over it is tested in tests/surfaces)
    services = client.app.state.services  # type: ignore[attr-defined]
    return list(services.tasks.callbacks(owner=services.auth.caller(KEY_A), ref=task_id))


def settle(
    client: TestClient, task_id: str, *, state: str, timeout_s: float = 20
) -> list[DeliveryRecord]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        deliveries = history(client, task_id)
        if deliveries and all(d.state == state for d in deliveries):
            return deliveries
        time.sleep(0.05)
    raise TimeoutError(history(client, task_id))


def tried(client: TestClient, task_id: str, *, times: int) -> list[DeliveryRecord]:
    """The task's deliveries once the first of them has had ``times`` attempts."""
    deadline = time.monotonic() + 20  # backoff 0.2 s: tries come fast, even on a busy machine
    while True:
        deliveries = history(client, task_id)
        if deliveries and len(deliveries[0].attempts) >= times:
            return deliveries
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.05)


def test_every_status_change_is_posted_signed_and_in_order(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = hooks(workers=1)
    task = create(client, receiver.url)
    got = receiver.wait(delivered=2)
    events = [verify_webhook(r.body, r.headers, SECRET) for r in got]  # as a receiver would
    assert [e["status"] for e in events] == ["in_progress", "completed"]
    for event in events:
        assert_kirin_object(event, task_id=task["id"])
    assert "progress" in events[0] and "output" not in events[0]
    final = client.get(f"/v1/generation/task/{task['id']}", headers=bearer(KEY_A)).json()
    assert {k: v for k, v in events[1].items() if k != "output"} == {
        k: v for k, v in final.items() if k != "output"
    }
    sent, read = events[1]["output"][0]["content"], final["output"][0]["content"]
    assert [{k: v for k, v in e.items() if k != "url"} for e in sent] == [
        {k: v for k, v in e.items() if k != "url"} for e in read
    ]
    assert [e["type"] for e in sent] == ["video", "image"] and sent[0]["duration"] == "5"
    assert client.get(sent[0]["url"]).status_code == 200  # a fresh, fetchable signed URL
    assert got[0].headers["content-type"] == "application/json"


def test_issued_keys_sign_with_their_own_secret(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = hooks()
    issued = issue_key(client.app.state.services.db, name="hooks")  # type: ignore[attr-defined]
    task = create(client, receiver.url, token=issued.api_key)
    cancel(client, task["id"], token=issued.api_key)
    (got,) = receiver.wait(delivered=1)
    event = Webhook(issued.webhook_secret).verify(got.body, got.headers)
    assert (event["status"], event["error"]["code"]) == ("failed", CANCELLED)
    assert_kirin_object(event, task_id=task["id"])
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(got.body, got.headers)


def test_a_retry_after_rotation_is_signed_with_the_new_secret(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    receiver.script = [Answer(503, headers={"Retry-After": "1"})]  # time to rotate in between
    client = hooks()
    db = client.app.state.services.db  # type: ignore[attr-defined]
    issued = issue_key(db, name="rotating")
    task = create(client, receiver.url, token=issued.api_key)
    cancel(client, task["id"], token=issued.api_key)
    deadline = time.monotonic() + 10
    while not receiver.received:
        assert time.monotonic() < deadline, "no first attempt"
        time.sleep(0.02)
    rotated = rotate_webhook_secret(db, issued.access_id)
    assert rotated is not None and rotated != issued.webhook_secret
    receiver.wait(delivered=1)
    first, retry = receiver.received
    assert verify_webhook(first.body, first.headers, issued.webhook_secret)["status"] == "failed"
    assert retry.headers["webhook-id"] == first.headers["webhook-id"]
    assert verify_webhook(retry.body, retry.headers, rotated)["error"]["code"] == CANCELLED
    with pytest.raises(WebhookVerificationError):
        verify_webhook(retry.body, retry.headers, issued.webhook_secret)


def test_failed_attempts_are_retried_with_the_same_webhook_id(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    receiver.script = [Answer(500), Answer(503), Answer(502)]
    client = hooks()
    task = create(client, receiver.url)
    cancel(client, task["id"])
    receiver.wait(delivered=1)
    assert [r.answered for r in receiver.received] == [500, 503, 502, 200]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    (delivery,) = settle(client, task["id"], state="delivered")
    assert [a.http_status for a in delivery.attempts] == [500, 503, 502, 200]
    assert [a.error for a in delivery.attempts][:1] == ["HTTP 500"]
    time.sleep(0.5)
    assert len(receiver.delivered()) == 1  # delivered once, never again


def test_a_receiver_that_is_down_gets_each_callback_exactly_once_when_it_is_up(
    hooks: Callable[..., TestClient],
) -> None:
    probe = Receiver()
    port = probe.port
    probe.close()  # nothing listens on the port now: connections are refused
    client = hooks(workers=1)
    task = create(client, f"http://127.0.0.1:{port}/hook")
    first = tried(client, task["id"], times=2)[0]
    assert first.event is Status.PROCESSING and first.state == "pending"
    assert all(a.http_status is None and a.error for a in first.attempts)
    late = Receiver(port)
    try:
        late.wait(delivered=2)
        deliveries = settle(client, task["id"], state="delivered")
        time.sleep(0.5)  # several polls and backoffs: time for a duplicate to show
        got = late.delivered()
    finally:
        late.close()
    assert [r.json["status"] for r in got] == ["in_progress", "completed"]
    assert [r.headers["webhook-id"] for r in got] == [d.id for d in deliveries]
    assert len(late.received) == 2  # nothing else reached it either
    assert len(deliveries[0].attempts) >= 3  # one webhook-id across its retries
    for delivery in deliveries:
        assert [a.http_status for a in delivery.attempts][-1:] == [200]
        assert sum(a.http_status == 200 for a in delivery.attempts) == 1


def test_a_slow_receiver_times_out_and_is_tried_again(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    receiver.script = [Answer(200, delay_s=1.5)]
    client = hooks()
    task = create(client, receiver.url)
    cancel(client, task["id"])
    (delivery,) = settle(client, task["id"], state="delivered")
    assert "timed out" in delivery.attempts[0].error
    assert delivery.attempts[-1].http_status == 200


def test_retry_after_is_honoured(hooks: Callable[..., TestClient], receiver: Receiver) -> None:
    receiver.script = [Answer(429, headers={"Retry-After": "2"})]
    client = hooks()
    task = create(client, receiver.url)
    cancel(client, task["id"])
    receiver.wait(delivered=1)
    first, second = receiver.received
    assert second.at - first.at >= 1.9  # not the 0.2 s the backoff alone would wait


def test_attempts_end_after_the_configured_number(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    receiver.script = [Answer(500)] * 10
    client = hooks(webhook_max_attempts=3)
    task = create(client, receiver.url)
    cancel(client, task["id"])
    (delivery,) = settle(client, task["id"], state="failed")
    assert len(delivery.attempts) == 3 and delivery.next_attempt_ts is None
    assert len(receiver.received) == 3


def test_a_task_s_callbacks_go_out_in_status_order(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    receiver.script = [Answer(500), Answer(500), Answer(500)]  # the first event fails 3 times
    client = hooks(workers=1)
    task = create(client, receiver.url)
    got = receiver.wait(delivered=2)
    assert [r.json["status"] for r in got] == ["in_progress", "completed"]
    assert [r.json["status"] for r in receiver.received[:4]] == ["in_progress"] * 4
    assert len({r.headers["webhook-id"] for r in receiver.received[:4]}) == 1  # one, retried
    assert all(r.json["id"] == task["id"] for r in receiver.received)


def test_private_addresses_are_refused_without_the_allow_flag(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = hooks(allow_private_urls=False)
    task = client.post(
        "/v1/generation",
        json={"model": "kirin_v1_6_i2v", "image": IMAGE, "callback_url": receiver.url},
        headers=bearer(KEY_A),
    ).json()
    cancel(client, task["id"])
    (delivery,) = settle(client, task["id"], state="failed")
    assert "public address" in delivery.attempts[0].error
    assert "loopback" in delivery.attempts[0].error
    assert receiver.received == []


def test_a_stored_url_that_cannot_be_parsed_is_refused_in_our_words(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = hooks()
    task = client.post(
        "/v1/generation",
        json={"model": "kirin_v1_6_i2v", "image": IMAGE, "callback_url": receiver.url},
        headers=bearer(KEY_A),
    ).json()
    db = client.app.state.services.db  # type: ignore[attr-defined]
    with db.session(write=True) as session:  # as a row stored before create checked URLs
        session.execute(
            update(Task).where(Task.id == task["id"]).values(callback_url="http://[::1/")
        )
    cancel(client, task["id"])
    (delivery,) = settle(client, task["id"], state="failed")
    assert (
        delivery.attempts[0].error
        == "URL must be an absolute http or https URL: it cannot be parsed"
    )


def test_redirects_are_not_followed(hooks: Callable[..., TestClient], receiver: Receiver) -> None:
    receiver.script = [Answer(302, headers={"Location": "/elsewhere"})]
    client = hooks()
    task = create(client, receiver.url)
    cancel(client, task["id"])
    receiver.wait(delivered=1)
    assert [r.path for r in receiver.received] == ["/hook", "/hook"]
    (delivery,) = settle(client, task["id"], state="delivered")
    assert delivery.attempts[0].error == "HTTP 302: redirects are not followed"


def test_metrics_count_sent_retried_and_failed(
    hooks: Callable[..., TestClient], receiver: Receiver
) -> None:
    def count(client: TestClient, result: str) -> float:
        text = client.get("/metrics").text
        line = f'kirin_webhook_deliveries_total{{result="{result}"}} '
        values = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
        return values[0] if values else 0.0

    client = hooks(webhook_max_attempts=2)
    before = {result: count(client, result) for result in ("sent", "retried", "failed")}
    receiver.script = [Answer(500), Answer(500)]
    failing = create(client, receiver.url)
    cancel(client, failing["id"])
    settle(client, failing["id"], state="failed")
    passing = create(client, receiver.url)
    cancel(client, passing["id"])
    settle(client, passing["id"], state="delivered")
    after = {result: count(client, result) for result in ("sent", "retried", "failed")}
    assert {k: after[k] - before[k] for k in after} == {"sent": 1, "retried": 1, "failed": 1}


def test_deliveries_survive_in_the_database(settings: Settings, receiver: Receiver) -> None:
    from kirin_video.api.app import create_app

    app_settings = settings.model_copy(update={**FAST, "webhook_backoff_s": 30.0})
    receiver.script = [Answer(500)]
    with TestClient(create_app(app_settings)) as client:
        task = create(client, receiver.url)
        cancel(client, task["id"])
        deadline = time.monotonic() + 10
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    # stopped mid-backoff (30 s): the delivery waits in the outbox, then goes out on restart
    db = Database(app_settings.sqlalchemy_url)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE webhook_deliveries SET next_attempt_ts = 0")
    db.close()
    with TestClient(create_app(app_settings)):
        (got,) = receiver.wait(delivered=1)
    assert got.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]


def test_a_slow_host_with_more_waiting_than_the_global_limit_does_not_hold_up_another(
    hooks: Callable[..., TestClient],
) -> None:
    slow, fast = Receiver(), Receiver()
    slow.script = [Answer(200, delay_s=1.0)] * 4
    try:
        client = hooks(webhook_concurrency=2, webhook_per_host=1, webhook_timeout_s=5.0)
        *slow_tasks, fast_task = [create(client, url)["id"] for url in [slow.url] * 4 + [fast.url]]
        for task_id in slow_tasks:  # four deliveries for the slow host are due before the fast one
            cancel(client, task_id)
        since = time.time()
        cancel(client, fast_task)
        (got,) = fast.wait(delivered=1, timeout_s=20)
        # sent while the slow host was at most one answer further: its queue held no global slot
        assert len([r for r in slow.delivered() if since <= r.at <= got.at]) <= 1
    finally:
        slow.close()
        fast.close()


@pytest.mark.parametrize(
    ("url", "code", "rule"),
    [
        ("http://256.256.256.256/hook", "8002005012", "callback_url: must be an absolute"),
        ("http://a\x00b/", "8002005014", "callback_url: must be text without NUL"),  # any text
    ],
)
def test_callback_urls_the_sender_cannot_parse_are_refused_at_create(
    hooks: Callable[..., TestClient], url: str, code: str, rule: str
) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": IMAGE, "callback_url": url}
    refused = hooks().post("/v1/generation", json=body, headers=bearer(KEY_A))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == code
    assert refused.json()["error"]["message"].startswith(rule)
