"""execute(): failures end a task with a code; tasks of dead workers are requeued or failed."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.contract.params import parse_params
from kirin_video.engines.base import Clip, Job, ProgressFn
from kirin_video.engines.preview import PreviewEngine
from kirin_video.runtime.execute import Runtime, execute
from kirin_video.storage.local import LocalStorage
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from kirin_video.tasks.snapshot import OutputFile, OutputKind, TaskSnapshot, Usage
from tests.conftest import b64, make_image
from tests.media.test_encode import x264_options

IMAGE = make_image()
NO_COST = Usage(cost="0")


class BrokenEngine:
    name = "broken"

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        on_progress(0.5)
        raise RuntimeError("CUDA out of memory")


@pytest.fixture
def service(tmp_path: Path) -> TaskService:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    return TaskService(db, max_attempts=2)


def _runtime(service: TaskService, tmp_path: Path, engine: object) -> Runtime:
    storage = LocalStorage(tmp_path / "outputs", secret=b"k" * 32, ttl_s=60)
    return Runtime(
        settings=Settings(data_dir=tmp_path), service=service, storage=storage, engine=engine
    )  # type: ignore[arg-type]


def _create(service: TaskService, **fields: object) -> str:
    body = {"model": "kirin_v1_6_i2v", "image": b64(IMAGE), "seed": 1, **fields}
    request = parse_params(body)
    return service.create(owner="o", request=request, images=[StoredImage("first", IMAGE)]).id


def test_engine_error_fails_the_task_and_the_next_one_runs(
    service: TaskService, tmp_path: Path
) -> None:
    broken = _create(service)
    execute(broken, _runtime(service, tmp_path, BrokenEngine()), worker="w")
    task = service.get(owner="o", ref=broken)
    assert (task.status, task.error_code) == (Status.FAILED, "8002005098")
    assert "generation failed" in (task.error_message or "")

    good = _create(service)
    execute(good, _runtime(service, tmp_path, PreviewEngine()), worker="w")
    assert service.get(owner="o", ref=good).status == Status.COMPLETED


def test_task_of_a_silent_worker_is_requeued_then_failed_after_max_attempts(
    service: TaskService,
) -> None:
    task_id = _create(service)
    for attempt in (1, 2):
        assert service.claim(task_id, worker=f"w{attempt}") is not None
        assert service.recover(lease_s=60) == []  # the lease is fresh: the worker is alive
        requeued = service.recover(lease_s=-1)  # ... and now it has run out
        assert requeued == ([task_id] if attempt < 2 else [])
    task = service.get(owner="o", ref=task_id)
    assert (task.status, task.error_code, task.attempts) == (Status.FAILED, "8002005098", 2)
    assert "interrupted 2 times" in (task.error_message or "")


def test_task_of_a_dead_worker_is_requeued_at_once(service: TaskService) -> None:
    task_id = _create(service)
    service.claim(task_id, worker="gone")
    assert service.recover(lease_s=60, is_dead=lambda worker: worker == "other") == []
    assert service.recover(lease_s=60, is_dead=lambda worker: worker == "gone") == [task_id]
    task = service.get(owner="o", ref=task_id)
    assert (task.status, task.attempts, task.worker) == (Status.PENDING, 1, None)


def test_a_renewed_lease_keeps_the_task(service: TaskService) -> None:
    task_id = _create(service)
    service.claim(task_id, worker="w")
    time.sleep(1.0)
    assert service.renew(task_id, worker="w")
    assert service.recover(lease_s=0.9) == []  # renewed just now, though claimed 1 s ago
    assert not service.renew(task_id, worker="someone-else")


def test_a_task_taken_over_cannot_be_finished_by_its_old_worker(service: TaskService) -> None:
    task_id = _create(service)
    service.claim(task_id, worker="slow")
    service.recover(lease_s=-1)
    assert service.claim(task_id, worker="fresh") is not None
    assert not service.report_progress(task_id, 0.5, worker="slow")
    assert not service.complete(task_id, worker="slow", outputs=[], usage=NO_COST, meta={})
    assert service.complete(task_id, worker="fresh", outputs=[], usage=NO_COST, meta={})
    assert service.get(owner="o", ref=task_id).attempts == 2


def test_a_released_task_is_pending_again_and_the_try_not_counted(
    service: TaskService,
) -> None:
    task_id = _create(service)
    service.claim(task_id, worker="w")
    assert not service.release(task_id, worker="other")
    assert service.release(task_id, worker="w")
    task = service.get(owner="o", ref=task_id)
    assert (task.status, task.attempts, task.progress) == (Status.PENDING, 0, 0.0)


def test_a_worker_shutting_down_hands_its_task_back(service: TaskService, tmp_path: Path) -> None:
    task_id = _create(service)
    runtime = _runtime(service, tmp_path, PreviewEngine())
    runtime.hand_back.set()
    execute(task_id, runtime, worker="w")
    task = service.get(owner="o", ref=task_id)
    assert (task.status, task.attempts) == (Status.PENDING, 0)


def test_a_task_is_claimed_only_once(service: TaskService) -> None:
    task_id = _create(service)
    assert service.claim(task_id, worker="a") is not None
    assert service.claim(task_id, worker="b") is None


def test_cancelled_task_is_not_completed_by_its_worker(service: TaskService) -> None:
    task_id = _create(service)
    service.claim(task_id, worker="w")
    service.cancel(owner="o", ref=task_id)
    assert not service.report_progress(task_id, 0.5, worker="w")
    assert not service.complete(task_id, worker="w", outputs=[], usage=NO_COST, meta={})
    assert service.get(owner="o", ref=task_id).status == Status.CANCELLED


def test_a_completed_task_holds_typed_outputs_that_lie_in_storage(
    service: TaskService, tmp_path: Path
) -> None:
    task_id = _create(service, watermark_info={"enabled": True})
    runtime = _runtime(service, tmp_path, PreviewEngine())
    execute(task_id, runtime, worker="w")
    snapshot = TaskSnapshot.of(service.get(owner="o", ref=task_id))
    prefix = f"{task_id}/1"  # the first attempt's files
    assert snapshot.outputs == (
        OutputFile(kind=OutputKind.VIDEO, key=f"{prefix}/video.mp4", seconds=5),
        OutputFile(
            kind=OutputKind.VIDEO_WATERMARKED, key=f"{prefix}/video_watermarked.mp4", seconds=5
        ),
        OutputFile(kind=OutputKind.COVER, key=f"{prefix}/cover.jpg"),
    )
    assert all((tmp_path / "outputs" / f.key).stat().st_size > 0 for f in snapshot.outputs)
    assert snapshot.usage == Usage(cost="0.2800", discount=0)  # the default price of std, 5 s


def test_a_completion_whose_answer_was_lost_keeps_its_files(
    service: TaskService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write commits, the connection drops before the answer: the retry must not delete."""
    task_id = _create(service)
    commit = service.complete
    calls = []

    def committed_then_dropped(*args: Any, **kwargs: Any) -> bool:
        calls.append(commit(*args, **kwargs))
        if len(calls) == 1:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        return calls[-1]

    monkeypatch.setattr(service, "complete", committed_then_dropped)
    monkeypatch.setattr("kirin_video.runtime.execute.RECORD_RETRY_S", 0.01)
    execute(task_id, _runtime(service, tmp_path, PreviewEngine()), worker="w")
    assert calls == [True, False]  # committed, then the retry found it no longer running
    snapshot = TaskSnapshot.of(service.get(owner="o", ref=task_id))
    assert snapshot.status is Status.COMPLETED
    assert all((tmp_path / "outputs" / f.key).stat().st_size > 0 for f in snapshot.outputs)


@pytest.mark.parametrize(("preset", "motion_search"), [("ultrafast", "dia"), ("veryfast", "hex")])
def test_tasks_are_encoded_with_the_configured_preset(
    service: TaskService, tmp_path: Path, preset: str, motion_search: str
) -> None:
    task_id = _create(service)
    runtime = _runtime(service, tmp_path, PreviewEngine())
    runtime = replace(runtime, settings=Settings(data_dir=tmp_path, encode_preset=preset))
    execute(task_id, runtime, worker="w")
    [video] = (tmp_path / "outputs").rglob("video.mp4")
    assert f" me={motion_search} " in x264_options(video)
