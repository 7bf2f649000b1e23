"""The broker loses its tickets and every pending task still runs, queued again by a sweep.

Redis restarted without persistence or flushed, RabbitMQ back without its data (a fresh vhost):
an API node (no worker threads), one Celery worker, PostgreSQL, preview engine. Either no worker
runs while the tickets vanish and one starts afterwards, or the worker is busy with a task while
three more wait behind it. The three then start within two sweeps of the broker being back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text

from tests.conftest import KEY_A, b64, make_image
from tests.e2e.cluster import (
    Cluster,
    Node,
    client,
    fresh_postgres,
    private_redis,
    rabbitmq_reset_vhost,
    rabbitmq_vhost,
)

LEASE_S = 8.0
SWEEP_S = LEASE_S / 4  # every node sweeps this often
# what the worker's own steps add between tasks: acking, reconnecting, taking the next ticket
OVERHEAD_S = 1.5
# the smallest square frame the contract makes, so a render takes a second or so
BODY = {
    "model": "kirin_v1_6_multi_i2v",
    "prompt": "a slow pan across the test card",
    "image_list": [{"image": b64(make_image(320, 320))}],
    "aspect_ratio": "1:1",
}
LONG = {**BODY, "duration": "10"}  # keeps the worker busy while the broker is wiped


@dataclass
class Broker:
    """A broker of the test's own and how it loses everything it holds."""

    url: str
    wipe: Callable[[], None]


@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    with ExitStack() as stack:
        if request.param == "rabbitmq":
            vhost = f"kirin_wipe_{os.getpid()}"
            url = stack.enter_context(rabbitmq_vhost(vhost))
            yield Broker(url, lambda: rabbitmq_reset_vhost(vhost))
            return
        redis = stack.enter_context(private_redis(tmp_path))
        wipe = redis.restart_empty if request.param == "redis-restart" else redis.flushall
        yield Broker(redis.url, wipe)


@pytest.fixture
def cluster(broker: Broker, tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres(f"kirin_wipe_{os.getpid()}"))
        logs = tmp_path / "logs"
        logs.mkdir()
        env = {
            "KIRIN_DATA_DIR": str(tmp_path / "data"),
            "KIRIN_DATABASE_URL": database_url,
            "KIRIN_BROKER_URL": broker.url,
            "KIRIN_API_KEYS": KEY_A,
            "KIRIN_ENGINE": "preview",
            "KIRIN_WORKERS": "0",
            "KIRIN_LEASE_S": str(LEASE_S),
        }
        nodes = Cluster(env, logs)
        yield nodes
        for node in nodes.nodes:  # not stopped: a warm shutdown on RabbitMQ waits out a 10 s poll
            node.kill()


@pytest.mark.parametrize("broker", ["redis-restart", "rabbitmq"], indirect=True)
def test_tasks_queued_before_the_wipe_run_on_a_worker_started_after(
    broker: Broker, cluster: Cluster
) -> None:
    _, url = cluster.api()
    with client(url) as api:
        ids = [api.post("/v1/generation", json=BODY).json()["id"] for _ in range(3)]
    assert _tickets(broker.url) == 3
    broker.wipe()
    worker = cluster.worker("worker")
    back = _ready(cluster, worker)
    _wait_completed(cluster, ids, worker)
    assert _idle_since(cluster, ids, back) <= 2 * SWEEP_S + OVERHEAD_S, _timings(cluster)


@pytest.mark.parametrize("broker", ["redis-restart", "redis-flushall"], indirect=True)
def test_tasks_waiting_behind_a_running_one_survive_the_wipe(
    broker: Broker, cluster: Cluster
) -> None:
    _, url = cluster.api()
    worker = cluster.worker("worker")
    _ready(cluster, worker)
    with client(url) as api:
        running = api.post("/v1/generation", json=LONG).json()["id"]
        _wait(lambda: _status(cluster)[running] == "processing", what=lambda: cluster.tail(worker))
        ids = [api.post("/v1/generation", json=BODY).json()["id"] for _ in range(3)]
    assert _tickets(broker.url) == 3
    broker.wipe()
    back = time.time()
    statuses = _status(cluster)
    assert statuses[running] == "processing", "the worker finished before the wipe: too quick"
    assert [statuses[task_id] for task_id in ids] == ["pending"] * 3
    _wait_completed(cluster, [running, *ids], worker)
    assert _idle_since(cluster, [running, *ids], back) <= 2 * SWEEP_S + OVERHEAD_S, _timings(
        cluster
    )


def _tickets(broker_url: str) -> int:
    """Tickets in the broker's queue, asked of the broker directly."""
    with Connection(broker_url) as connection:
        return int(connection.default_channel.queue_declare("kirin", passive=True).message_count)


def _ready(cluster: Cluster, worker: Node) -> float:
    """When the worker is consuming tickets (Celery logs "ready")."""
    _wait(
        lambda: " ready." in worker.log.read_text(errors="replace"),
        what=lambda: cluster.tail(worker),
    )
    return time.time()


def _wait_completed(cluster: Cluster, ids: list[str], worker: Node) -> None:
    _wait(
        lambda: all(_status(cluster)[task_id] == "completed" for task_id in ids),
        what=lambda: f"{_status(cluster)}\n{cluster.tail(worker)}",
    )


def _idle_since(cluster: Cluster, ids: list[str], since: float) -> float:
    """Seconds after ``since`` in which the one worker had a task waiting and none running."""
    spans = [(max(started, since), finished) for _, started, finished in _timings(cluster)]
    busy = sum(finished - started for started, finished in spans if finished > since)
    return max(finished for _, finished in spans) - since - busy


def _status(cluster: Cluster) -> dict[str, str]:
    return {str(task_id): str(status) for task_id, status, *_ in _rows(cluster)}


def _timings(cluster: Cluster) -> list[tuple[str, float, float]]:
    return [(str(row[0]), float(row[2]), float(row[3])) for row in _rows(cluster)]


def _rows(cluster: Cluster) -> list[tuple[object, ...]]:
    engine = create_engine(cluster.env["KIRIN_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            query = text(
                "SELECT id, status, started_ts, finished_ts FROM tasks ORDER BY created_ts"
            )
            return [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()


def _wait(predicate: Callable[[], bool], *, what: Callable[[], str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(what())
