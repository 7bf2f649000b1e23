"""A task failed by a surprise tells the client a short reason and an incident id, no internals."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import EngineUnavailable, GenerationFailed
from kirin_video.contract.params import parse_params
from kirin_video.engines.base import Clip, Job, ProgressFn
from kirin_video.runtime.execute import Runtime, execute
from kirin_video.runtime.readiness import EngineStatus
from kirin_video.storage.local import LocalStorage
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from tests.conftest import b64, make_image

IMAGE = make_image()
SECRET_PATH = "/srv/models/secret/weights.bin"


class RaisingEngine:
    """An engine wrapper whose weights fail to load, or that refuses the job on purpose."""

    name = "raising"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        raise self.error


def _failed_task(
    tmp_path: Path, error: Exception, *, engine_status: EngineStatus | None = None
) -> tuple[str | None, str | None]:
    """Run one task on an engine that raises ``error``; its code and message once failed."""
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    service = TaskService(db, max_attempts=2)
    request = parse_params({"model": "kirin_v1_6_i2v", "image": b64(IMAGE), "seed": 1})
    task_id = service.create(owner="o", request=request, images=[StoredImage("first", IMAGE)]).id
    storage = LocalStorage(tmp_path / "outputs", secret=b"k" * 32, ttl_s=60)
    runtime = Runtime(
        settings=Settings(data_dir=tmp_path),
        service=service,
        storage=storage,
        engine=RaisingEngine(error),  # type: ignore[arg-type]
        engine_status=engine_status or EngineStatus(),
    )
    execute(task_id, runtime, worker="w")
    task = service.get(owner="o", ref=task_id)
    assert task.status == Status.FAILED
    db.close()
    return task.error_code, task.error_message


def test_an_unexpected_error_names_no_path_and_its_incident_is_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kirin_video.runtime.execute"):
        code, message = _failed_task(tmp_path, OSError(f"{SECRET_PATH}: corrupt"))
    assert code == "8002005098"
    assert message is not None and message.startswith("generation failed: ")
    assert "/" not in message and "secret" not in message and "OSError" not in message
    found = re.search(r"incident ([0-9a-f]{12})", message)
    assert found, message
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert SECRET_PATH in caplog.text and "Traceback" in caplog.text


def test_a_failure_written_for_the_client_keeps_its_message(tmp_path: Path) -> None:
    advice = "engine: out of memory at 1080p; use mode std or a shorter duration"
    code, message = _failed_task(tmp_path, GenerationFailed(advice))
    assert (code, message) == ("8002005098", advice)


def test_an_engine_that_cannot_load_tells_the_client_only_that_with_an_incident(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    operators = f"KIRIN_MODEL_PATH={SECRET_PATH!r} does not exist: download the weights there"
    status = EngineStatus()
    with caplog.at_level(logging.ERROR):
        code, message = _failed_task(tmp_path, EngineUnavailable(operators), engine_status=status)
    assert code == "8002005098"
    found = re.fullmatch(
        r"generation failed: the engine is not available \(incident ([0-9a-f]{12})\)",
        message or "",
    )
    assert found, message
    logged = [r.getMessage() for r in caplog.records if found.group(1) in r.getMessage()]
    assert len(logged) == 1 and operators in logged[0]
    assert status.problem is not None and status.problem.detail == operators  # for /readyz
