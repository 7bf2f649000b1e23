"""Reconcile: a ticket for every pending task, whatever the broker lost, and never more."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kirin_video.config import Settings
from kirin_video.contract.params import parse_params
from kirin_video.runtime.broker import TicketQueue, celery_app, reconcile_turn
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from tests.conftest import b64, make_image
from tests.e2e.cluster import RedisServer, private_redis
from tests.e2e.conftest import free_port

IMAGE = make_image(64, 64)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with private_redis(tmp_path) as server:
        yield server


def _queue(settings: Settings, broker_url: str) -> TicketQueue:
    """A node's view of the broker: its own Celery app and database connections."""
    node = settings.model_copy(update={"broker_url": broker_url})
    return TicketQueue(celery_app(node), TaskService(Database.from_settings(node)))


def _create(service: TaskService, count: int) -> list[str]:
    """Pending tasks whose tickets were never published (nothing listens to ``on_created``)."""
    request = parse_params({"model": "kirin_v1_6_i2v", "image": b64(IMAGE)})
    image = [StoredImage("first", IMAGE)]
    return [service.create(owner="o", request=request, images=image).id for _ in range(count)]


@pytest.fixture
def service(settings: Settings) -> Iterator[TaskService]:
    db = Database.from_settings(settings)
    db.migrate()
    yield TaskService(db)
    db.close()


def test_a_queue_that_does_not_exist_counts_as_empty(
    settings: Settings, service: TaskService, redis: RedisServer
) -> None:
    _create(service, 3)
    queue = _queue(settings, redis.url)
    assert queue.waiting() == 0  # a fresh Redis: neither the queue's key nor its binding
    assert queue.reconcile() == 3
    assert queue.waiting() == 3
    assert queue.reconcile() == 0  # topped up: the next sweep adds nothing


@pytest.mark.parametrize("wipe", ["restart_empty", "flushall"])
def test_every_pending_task_is_queued_again_after_redis_loses_its_data(
    settings: Settings, service: TaskService, redis: RedisServer, wipe: str
) -> None:
    ids = _create(service, 3)
    queue = _queue(settings, redis.url)
    queue.publish_all(ids)
    assert queue.waiting() == 3
    getattr(redis, wipe)()
    assert queue.waiting() == 0
    assert queue.reconcile() == 3
    assert queue.waiting() == 3


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_nodes_sweeping_at_once_publish_the_shortfall_once(
    settings: Settings, service: TaskService, redis: RedisServer
) -> None:
    _create(service, 5)
    nodes = [_queue(settings, redis.url) for _ in range(6)]
    start = threading.Barrier(len(nodes))

    def sweep(queue: TicketQueue) -> int:
        start.wait()
        return queue.reconcile()

    for _ in range(3):  # three rounds of six nodes sweeping together
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(sweep, nodes))
        assert nodes[0].waiting() == 5


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_node_finding_another_reconciling_skips_its_turn(
    settings: Settings, service: TaskService, redis: RedisServer
) -> None:
    _create(service, 2)
    queue = _queue(settings, redis.url)
    with reconcile_turn(service.db) as ours:  # another node's sweep, holding the turn
        assert ours
        assert queue.reconcile() == 0
        assert queue.waiting() == 0
    assert queue.reconcile() == 2


def test_tickets_that_cannot_be_counted_are_not_published_blind(
    settings: Settings, service: TaskService
) -> None:
    _create(service, 2)
    queue = _queue(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    published: list[str] = []
    queue.publish = published.append  # type: ignore[method-assign]
    with pytest.raises(Exception, match=r"Connection refused|Error 111"):
        queue.reconcile()
    assert published == []


def test_a_missing_redis_server_skips_outside_ci_and_fails_where_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.delenv("KIRIN_REQUIRE_REDIS", raising=False)
    skipped = pytest.raises(pytest.skip.Exception, match="redis-server is not installed")
    with skipped, private_redis(tmp_path):
        pass
    monkeypatch.setenv("KIRIN_REQUIRE_REDIS", "1")
    failed = pytest.raises(pytest.fail.Exception, match=r"installed \(KIRIN_REQUIRE_REDIS=1\)")
    with failed, private_redis(tmp_path):
        pass
