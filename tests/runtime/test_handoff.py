"""Overlap: a slot encodes one task while its engine renders the next, in order and bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.contract.params import parse_params
from kirin_video.engines.base import Clip, Job, ProgressFn
from kirin_video.runtime.embedded import EmbeddedWorker
from kirin_video.runtime.execute import Runtime, execute_next
from kirin_video.runtime.handoff import Finisher
from kirin_video.runtime.heartbeat import Heartbeat
from kirin_video.runtime.sweeper import Sweeper
from kirin_video.storage.local import LocalStorage
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from kirin_video.tasks.workers import WorkerRegistry
from tests.conftest import b64, make_image
from tests.runtime.leases import renewed_at, wait_until

IMAGE = make_image()
LEASE_S = 1.0
WAIT_S = 30.0


class RecordingEngine:
    """Renders a flat clip at once and records which task (by seed) it rendered when."""

    name = "recording"

    def __init__(self) -> None:
        self.rendered: list[int] = []
        self.changed = threading.Condition()

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        on_progress(1.0)
        with self.changed:
            self.rendered.append(job.seed)
            self.changed.notify_all()
        return Clip(frames=[np.full((36, 64, 3), job.seed, np.uint8)] * 2, fps=16)


class GatedStorage(LocalStorage):
    """Storing a task's files waits until the test opens that task's gate."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, secret=b"k" * 32, ttl_s=60)
        self._gates: dict[str, threading.Event] = {}
        self._reached: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.opened = threading.Event()  # every gate, from now on

    def gate(self, task_id: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(task_id, threading.Event())

    def reached(self, task_id: str) -> threading.Event:
        """Set once the task's finishing came to storing its files."""
        with self._lock:
            return self._reached.setdefault(task_id, threading.Event())

    def put(self, key: str, source: Path) -> None:
        task_id = key.split("/")[0]
        self.reached(task_id).set()
        gate = self.gate(task_id)
        deadline = time.monotonic() + WAIT_S
        while not (gate.wait(0.05) or self.opened.is_set()):
            assert time.monotonic() < deadline, f"{task_id}: its gate was never opened"
        super().put(key, source)


@pytest.fixture
def service(tmp_path: Path) -> TaskService:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    return TaskService(db, max_attempts=2)


@pytest.fixture
def storage(tmp_path: Path) -> GatedStorage:
    return GatedStorage(tmp_path / "outputs")


@pytest.fixture
def engine() -> RecordingEngine:
    return RecordingEngine()


@pytest.fixture
def slot(
    service: TaskService, storage: GatedStorage, engine: RecordingEngine, tmp_path: Path
) -> Iterator[Heartbeat]:
    """One worker slot with a finisher, taking tasks in a thread until the test ends."""
    settings = Settings(data_dir=tmp_path, encode_preset="ultrafast", lease_s=LEASE_S)
    runtime = Runtime(settings=settings, service=service, storage=storage, engine=engine)
    registry = WorkerRegistry(service.db)
    heartbeat = Heartbeat("host:1:slot", service=service, registry=registry, interval_s=0.1)
    heartbeat.start(kind="embedded", engine=engine.name, device=None)
    finisher = Finisher(name="test")
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if execute_next(runtime, heartbeat, finisher=finisher) is None:
                stop.wait(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield heartbeat
    stop.set()
    storage.opened.set()
    thread.join(WAIT_S)
    assert finisher.close(timeout_s=WAIT_S)
    heartbeat.stop()


def _create(service: TaskService, seed: int) -> str:
    request = parse_params({"model": "kirin_v1_6_i2v", "image": b64(IMAGE), "seed": seed})
    return service.create(owner="o", request=request, images=[StoredImage("first", IMAGE)]).id


def _until(engine: RecordingEngine, count: int) -> None:
    with engine.changed:
        assert engine.changed.wait_for(lambda: len(engine.rendered) >= count, WAIT_S)


def _settled(service: TaskService, task_id: str) -> Status:
    deadline = time.monotonic() + WAIT_S
    while (status := service.status(task_id)) in (Status.PENDING, Status.PROCESSING):
        assert time.monotonic() < deadline, f"{task_id} still {status}"
        time.sleep(0.05)
    return status


def test_the_next_task_renders_while_one_encodes_and_no_further(
    slot: Heartbeat, service: TaskService, storage: GatedStorage, engine: RecordingEngine
) -> None:
    first, second, third = (_create(service, seed) for seed in (1, 2, 3))
    gates = [storage.gate(task) for task in (first, second, third)]
    assert storage.reached(first).wait(WAIT_S)  # the first is storing its files ...
    _until(engine, 2)  # ... while the second has been rendered
    time.sleep(0.3)
    assert engine.rendered == [1, 2]  # the third waits: one rendered task beside the finisher's
    assert service.status(first) == service.status(second) == Status.PROCESSING
    gates[0].set()
    assert _settled(service, first) == Status.COMPLETED
    _until(engine, 3)  # the second was handed over, so the slot took the third
    for gate in gates[1:]:
        gate.set()
    assert [_settled(service, task) for task in (second, third)] == [Status.COMPLETED] * 2
    finished = [service.get(owner="o", ref=task).finished_ts for task in (first, second, third)]
    assert finished == sorted(finished)  # finished in the order they were taken


def test_both_held_tasks_keep_their_leases(
    slot: Heartbeat, service: TaskService, storage: GatedStorage, engine: RecordingEngine
) -> None:
    held = first, second = _create(service, 1), _create(service, 2)
    assert storage.reached(first).wait(WAIT_S)
    _until(engine, 2)
    sweeper = Sweeper(
        service=service,
        registry=WorkerRegistry(service.db),
        lease_s=LEASE_S,
        on_requeued=print,
    )
    lapsed = time.time() + LEASE_S  # both leases, unless renewed, have run out after this
    wait_until(
        lambda: time.time() > lapsed and min(renewed_at(service, task) for task in held) > lapsed,
        "past a lease with both held tasks renewed since",
    )
    assert sweeper.sweep() == []  # the encoding task's lease is renewed as the rendering one's
    assert slot.task_id == second  # the registry shows the one rendering
    storage.gate(first).set()
    storage.gate(second).set()
    assert [_settled(service, task) for task in (first, second)] == [Status.COMPLETED] * 2


def test_a_task_cancelled_while_it_encodes_or_waits_stays_cancelled(
    slot: Heartbeat, service: TaskService, storage: GatedStorage, engine: RecordingEngine
) -> None:
    encoding, waiting, last = (_create(service, seed) for seed in (1, 2, 3))
    assert storage.reached(encoding).wait(WAIT_S)
    _until(engine, 2)
    service.cancel(owner="o", ref=encoding)
    service.cancel(owner="o", ref=waiting)  # rendered, not yet handed over
    storage.gate(encoding).set()
    storage.gate(last).set()
    assert _settled(service, last) == Status.COMPLETED
    assert service.status(encoding) == service.status(waiting) == Status.CANCELLED
    assert not storage.reached(waiting).is_set()  # stopped before it encoded anything
    assert not list((storage.root / encoding).rglob("*.mp4"))  # its stored files were removed


def test_a_stopping_worker_finishes_what_it_stores_and_hands_back_what_waited(
    service: TaskService, storage: GatedStorage, engine: RecordingEngine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, encode_preset="ultrafast", overlap=True)
    runtime = Runtime(settings=settings, service=service, storage=storage, engine=engine)
    worker = EmbeddedWorker(runtime, registry=WorkerRegistry(service.db), idle_wait_s=0.05)
    storing, waiting = _create(service, 1), _create(service, 2)
    worker.start()
    assert storage.reached(storing).wait(WAIT_S)
    _until(engine, 2)  # the second is rendered and waits for the finisher
    stopping = threading.Thread(target=worker.stop, kwargs={"grace_s": 0.2})
    stopping.start()
    time.sleep(0.5)  # past the grace: the worker is handing back what it can
    storage.gate(storing).set()
    stopping.join(WAIT_S)
    assert not stopping.is_alive()
    assert service.status(storing) == Status.COMPLETED  # its files were being stored: kept
    handed_back = service.get(owner="o", ref=waiting)
    assert (handed_back.status, handed_back.attempts) == (Status.PENDING, 0)  # try not counted
    assert not storage.reached(waiting).is_set()
