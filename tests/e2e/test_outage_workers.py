"""PostgreSQL stopped mid-task and started again: the worker carries on, callbacks still go.

Expected of both worker kinds: the running task completes once, on its first and only try (the
outage is shorter than the lease, so nobody takes it over and it is not run again); a task left
pending meanwhile runs after; the in_progress callback, answered mid-outage, is recorded once
the database is back (not sent again), and the completed one follows it, each exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import KEY_A, b64, make_image
from tests.e2e.cluster import Cluster, PrivatePostgres, client, private_redis
from tests.e2e.conftest import ServerProcess
from tests.webhooks.conftest import SECRET, Answer, Receiver

LEASE_S = 8  # heartbeats every 2 s; the outage below lasts longer than one, shorter than a lease
OUTAGE_S = 4
ENV = {
    "KIRIN_ENGINE": "preview",
    "KIRIN_LEASE_S": str(LEASE_S),
    "KIRIN_ALLOW_PRIVATE_URLS": "true",
    "KIRIN_WEBHOOK_SECRET": SECRET,
    "KIRIN_WEBHOOK_POLL_S": "0.2",
}
# square: the smallest 720p frame the contract makes, so a run takes a few seconds
BODY = {"model": "kirin_v1_6_i2v", "image": b64(make_image(480, 480)), "duration": "5"}
TASK = "/v1/generation/task"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    hooks.script = [Answer(delay_s=2)]  # the in_progress callback is answered mid-outage
    yield hooks
    hooks.close()


def test_an_embedded_worker_rides_out_a_database_outage(
    postgres: PrivatePostgres, server: Callable[..., ServerProcess], receiver: Receiver
) -> None:
    node = server(KIRIN_DATABASE_URL=postgres.url, KIRIN_WORKERS="1", **ENV)
    alive = lambda: node.process is not None and node.process.poll() is None  # noqa: E731
    with node.client() as api:
        _ride_out(api, postgres, receiver, alive)


def test_a_celery_worker_rides_out_a_database_outage(
    postgres: PrivatePostgres, receiver: Receiver, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as redis:
        env = {
            **ENV,
            "KIRIN_DATA_DIR": str(tmp_path / "data"),  # the volume both nodes share
            "KIRIN_DATABASE_URL": postgres.url,
            "KIRIN_BROKER_URL": redis.url,
            "KIRIN_API_KEYS": KEY_A,
            "KIRIN_WORKERS": "0",
        }
        (tmp_path / "logs").mkdir()
        nodes = Cluster(env, tmp_path / "logs")
        try:
            _, url = nodes.api()
            worker = nodes.worker("worker")

            def alive() -> bool:
                return all(n.process is not None and n.process.poll() is None for n in nodes.nodes)

            with client(url) as api:
                _ride_out(api, postgres, receiver, alive, log=lambda: nodes.tail(worker))
        finally:
            for node in nodes.nodes:
                node.kill()


def _ride_out(
    api: httpx.Client,
    postgres: PrivatePostgres,
    receiver: Receiver,
    alive: Callable[[], bool],
    log: Callable[[], str] = str,
) -> None:
    running = api.post("/v1/generation", json={**BODY, "callback_url": receiver.url}).json()["id"]
    waiting = api.post("/v1/generation", json=BODY).json()["id"]  # one worker: it waits
    _poll(api, running, lambda task: float(task.get("progress") or 0) > 0, log)
    _until(lambda: not receiver.script, what="the in_progress callback")  # its answer is taken

    postgres.stop()  # the worker is mid-task, its in_progress callback in flight
    time.sleep(OUTAGE_S)
    assert alive(), log()
    assert len(receiver.received) == 1, receiver.received  # sent; its record waits
    postgres.start()

    done = _poll(api, running, lambda task: task["status"] != "in_progress", log)
    after = _poll(api, waiting, lambda task: task["status"] != "in_progress", log)
    assert api.get("/readyz").status_code == 200
    assert alive(), log()
    assert (done["status"], after["status"]) == ("completed", "completed"), (done, after)
    assert postgres.count("tasks WHERE attempts = 1") == 2  # neither was run twice
    receiver.wait(delivered=2)
    time.sleep(1)  # a duplicate would come now
    events = _events(receiver, running)
    assert [status for _, status in events] == ["in_progress", "completed"], events
    assert len({webhook_id for webhook_id, _ in events}) == 2


def _poll(
    api: httpx.Client,
    task_id: str,
    until: Callable[[dict[str, object]], bool],
    log: Callable[[], str],
) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task: dict[str, object] = api.get(f"{TASK}/{task_id}").json()
        if until(task):
            return task
        time.sleep(0.05)
    raise TimeoutError(f"task {task_id}: {task}\n{log()}")


def _until(predicate: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)


def _events(receiver: Receiver, task_id: str) -> list[tuple[str, str]]:
    """(webhook-id, status) of each callback received for the task, in arrival order."""
    events = []
    for got in receiver.received:
        event = Webhook(SECRET).verify(got.body, got.headers)
        if event["id"] == task_id:
            events.append((got.headers["webhook-id"], str(event["status"])))
    return events
