"""The sweeper and heartbeats: a live worker keeps its task, a silent one loses it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kirin_video.contract.catalog import Status
from kirin_video.contract.params import parse_params
from kirin_video.runtime.heartbeat import Heartbeat
from kirin_video.runtime.sweeper import Sweeper
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from kirin_video.tasks.workers import WorkerRegistry
from tests.conftest import b64, make_image
from tests.runtime.leases import renewed_at, wait_until

IMAGE = make_image(320, 320)
LEASE_S = 1.0


@pytest.fixture
def service(tmp_path: Path) -> TaskService:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    return TaskService(db)


def _create(service: TaskService) -> str:
    request = parse_params({"model": "kirin_v1_6_i2v", "image": b64(IMAGE)})
    return service.create(owner="o", request=request, images=[StoredImage("first", IMAGE)]).id


def _alive(registry: WorkerRegistry) -> list[str]:
    return [w.id for w in registry.alive(lease_s=LEASE_S)]


def test_a_beating_worker_keeps_its_task_and_a_silent_one_loses_it(
    service: TaskService,
) -> None:
    registry = WorkerRegistry(service.db)
    requeued: list[str] = []
    sweeper = Sweeper(
        service=service, registry=registry, lease_s=LEASE_S, on_requeued=requeued.extend
    )
    alive, silent = _create(service), _create(service)
    heartbeat = Heartbeat("host:1:alive", service=service, registry=registry, interval_s=0.1)
    heartbeat.start(kind="embedded", engine="preview", device=None)
    service.claim(alive, worker=heartbeat.worker)
    service.claim(silent, worker="host:1:silent")
    with heartbeat.running(alive):
        lapsed = renewed_at(service, silent) + LEASE_S  # when the silent worker's lease ran out
        wait_until(
            lambda: time.time() > lapsed and renewed_at(service, alive) > lapsed,
            "past the silent lease with the beating one renewed since",
        )
        assert sweeper.sweep() == [silent]
    assert requeued == [silent]
    assert service.status(alive) == Status.PROCESSING
    assert service.status(silent) == Status.PENDING
    wait_until(lambda: _alive(registry) == [heartbeat.worker], "beating")
    heartbeat.stop()
    assert registry.alive(lease_s=LEASE_S) == []


def test_a_run_past_its_deadline_loses_its_lease_though_its_worker_beats(
    service: TaskService,
) -> None:
    registry = WorkerRegistry(service.db)
    sweeper = Sweeper(service=service, registry=registry, lease_s=LEASE_S, on_requeued=print)
    stuck = _create(service)
    heartbeat = Heartbeat("host:1:stuck", service=service, registry=registry, interval_s=0.1)
    heartbeat.start(kind="embedded", engine="preview", device=None)
    service.claim(stuck, worker=heartbeat.worker)
    with heartbeat.running(stuck, until=time.time() + LEASE_S / 2):  # an engine that never returns
        wait_until(
            lambda: renewed_at(service, stuck) < time.time() - LEASE_S,
            "past the lease since the task's last renewal",
        )
        assert sweeper.sweep() == [stuck]
    assert service.status(stuck) == Status.PENDING
    wait_until(lambda: _alive(registry) == [heartbeat.worker], "beating")  # still alive
    heartbeat.stop()


def test_the_registry_forgets_workers_long_silent(service: TaskService) -> None:
    registry = WorkerRegistry(service.db)
    registry.register("w", kind="celery", engine="preview", device="cuda:0")
    assert [w.device for w in registry.alive(lease_s=60)] == ["cuda:0"]
    assert registry.forget_dead(lease_s=60) == 0
    time.sleep(0.05)
    assert registry.forget_dead(lease_s=0.001) == 1
    assert registry.alive(lease_s=60) == []


def test_a_broker_that_cannot_be_asked_does_not_stop_the_sweep(
    service: TaskService, caplog: pytest.LogCaptureFixture
) -> None:
    registry = WorkerRegistry(service.db)
    requeued: list[str] = []

    def reconcile() -> int:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6380. Connection refused.")

    sweeper = Sweeper(
        service=service,
        registry=registry,
        lease_s=LEASE_S,
        on_requeued=requeued.extend,
        reconcile=reconcile,
    )
    orphan = _create(service)
    service.claim(orphan, worker="host:1:gone")
    time.sleep(LEASE_S * 1.5)
    assert sweeper.sweep() == [orphan]
    assert requeued == [orphan]  # its ticket goes out, though the queue could not be counted
    assert "could not check the broker's queue: Error 111" in caplog.text
    assert sweeper.sweep() == []
