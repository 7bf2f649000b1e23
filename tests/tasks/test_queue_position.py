"""A pending task's queue position is the order the scheduler then runs the queue in."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from kirin_video.contract.params import parse_params
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from kirin_video.tasks.snapshot import Usage
from tests.conftest import b64, make_image

IMAGE = make_image(320, 320)
REQUEST = parse_params({"model": "kirin_v1_6_i2v", "image": b64(IMAGE)})


@pytest.mark.parametrize("seed", range(8))
def test_positions_predict_the_order_tasks_run_in(tmp_path: Path, seed: int) -> None:
    service = TaskService(Database(f"sqlite:///{tmp_path / 'kirin.db'}"), max_unfinished=1000)
    service.db.migrate()
    rng = random.Random(seed)
    history = rng.randint(0, 3)  # some keys were served before
    for owner in rng.sample(["a", "b", "c"], history):
        _run_one(service, service.create(owner=owner, request=REQUEST, images=_images()).id)
    owners = [rng.choice("abc") for _ in range(rng.randint(3, 12))]
    tasks = [service.create(owner=o, request=REQUEST, images=_images()) for o in owners]
    predicted = {
        task.id: service.queue_position(service.get(owner=task.owner, ref=task.id))
        for task in tasks
    }
    read = service.read_many([task.id for task in tasks])  # what the streams of a node read
    assert {task_id: position for task_id, (_, position) in read.items()} == predicted
    polled = {task.id: service.read(owner=task.owner, ref=task.id)[1] for task in tasks}
    assert polled == predicted  # what a poll reads, in its one statement
    ran = []
    while (task_id := service.next_pending()) is not None:
        _run_one(service, task_id)
        ran.append(task_id)
    assert sorted(predicted, key=lambda task_id: predicted[task_id]) == ran
    assert sorted(predicted.values()) == list(range(1, len(tasks) + 1))


def _images() -> list[StoredImage]:
    return [StoredImage("first", IMAGE)]


def _run_one(service: TaskService, task_id: str) -> None:
    assert service.claim(task_id, worker="w") is not None
    assert service.complete(task_id, worker="w", outputs=[], usage=Usage(cost="0"), meta={})


def test_a_task_changed_during_the_streams_read_is_read_as_it_was(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel that commits between the read's queries leaves the read at one moment."""
    from kirin_video.tasks import queue as module

    service = TaskService(Database(postgres_url), max_unfinished=1000)
    owner = f"snapshot-{random.getrandbits(32)}"  # the run's database is shared
    task = service.create(owner=owner, request=REQUEST, images=_images())
    expected = service.read(owner=owner, ref=task.id)[1]
    ahead = module._ahead_in_own_queue

    def cancelled_meanwhile(session: Any, waiting: Any) -> dict[str, int]:
        service.cancel(owner=owner, ref=task.id)  # another transaction, committed
        return ahead(session, waiting)

    monkeypatch.setattr(module, "_ahead_in_own_queue", cancelled_meanwhile)
    read, position = service.read_many([task.id])[task.id]
    assert (read.status, position) == ("pending", expected)
    service.db.close()
