"""Run one task from claim to completed output; every worker kind calls ``execute``."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from kirin_video.config import Settings
from kirin_video.contract.catalog import Geometry, Model, output_geometry
from kirin_video.contract.errors import EngineUnavailable, ErrorCode, KirinError
from kirin_video.contract.incidents import Incident
from kirin_video.engines.base import Clip, Engine, Job
from kirin_video.media.encode import EncodedVideo, encode_outputs
from kirin_video.media.encoders import X264
from kirin_video.media.frames import rgb_pixels
from kirin_video.media.intake import decode_image
from kirin_video.media.postprocess import conform
from kirin_video.runtime.child import ChildEngine, DeadlineExceeded, EngineCrashed
from kirin_video.runtime.handoff import Finisher
from kirin_video.runtime.heartbeat import Heartbeat
from kirin_video.runtime.progress import ProgressReporter, Stopped
from kirin_video.runtime.readiness import EngineStatus
from kirin_video.storage.base import Storage
from kirin_video.tasks.db import unreachable
from kirin_video.tasks.service import Claimed, TaskService
from kirin_video.tasks.snapshot import OutputFile, OutputKind, Usage

log = logging.getLogger(__name__)

T = TypeVar("T")
GENERATE_SHARE = 0.85  # of the progress bar; encoding takes the rest
RECORD_RETRY_S = 1.0  # how often a run's end is written again while the database is away


@dataclass(frozen=True)
class Runtime:
    """What executing a task needs, built once per worker process."""

    settings: Settings
    service: TaskService
    storage: Storage
    engine: Engine
    #: The H.264 encoder that writes the videos (``media.encoders.choose_encoder``).
    encoder: str = X264
    #: Set when the process is shutting down and may not finish: running tasks go back to the queue.
    hand_back: threading.Event = field(default_factory=threading.Event)
    #: Whether the engine can run here, for ``/readyz``; the reason when not, for the log.
    engine_status: EngineStatus = field(default_factory=EngineStatus)

    def close(self) -> None:
        """Stop what the engine runs in (its child processes), once no task runs."""
        if isinstance(self.engine, ChildEngine):
            self.engine.close()


class HandBack(Exception):
    """The worker is shutting down: give the task back to the queue instead of finishing it."""


def execute_next(
    runtime: Runtime, heartbeat: Heartbeat, *, finisher: Finisher | None = None
) -> str | None:
    """Run the task the scheduler picks next (fair between keys); None when none is waiting.

    With a ``finisher`` this returns once the task is rendered and handed over: the slot can
    render its next task while the finisher encodes and stores this one.
    """
    while (task_id := runtime.service.next_pending()) is not None:
        claimed = runtime.service.claim(task_id, worker=heartbeat.worker)
        if claimed is None:  # another worker took it first: ask again
            continue
        release = heartbeat.hold(task_id, until=run_deadline(runtime.settings, claimed))
        try:
            finish = _render_stage(claimed, runtime, heartbeat.worker)
        except BaseException:
            release()
            raise
        if finish is None:  # failed, stopped or handed back while rendering: recorded
            release()
        elif finisher is None:
            _then(finish, release)()
        else:
            finisher.hand_over(task_id, _then(finish, release))
        return task_id
    return None


def execute(task_id: str, runtime: Runtime, *, worker: str) -> None:
    """Claim the task, generate, encode, store and finish it; never raises for a task's failure."""
    claimed = runtime.service.claim(task_id, worker=worker)
    if claimed is not None and (finish := _render_stage(claimed, runtime, worker)) is not None:
        finish()


def run_deadline(settings: Settings, claimed: Claimed) -> float:
    """When a run's lease stops being renewed: its deadline and the grace to stop its engine."""
    params = claimed.task.params
    timeout = settings.task_timeout(mode=params["mode"], duration=params["duration"])
    return time.time() + timeout + settings.cancel_grace_s


@dataclass(frozen=True)
class Rendered:
    """A task's frames as the engine made them, with what finishing it needs."""

    claimed: Claimed
    job: Job
    clip: Clip
    progress: ProgressReporter
    started: float
    generated: float


def _render_stage(claimed: Claimed, runtime: Runtime, worker: str) -> Callable[[], None] | None:
    """Render the task; the work that finishes it, or None when the run ended here."""
    rendered = _recorded(
        claimed.task.id, runtime, worker, lambda: _render(claimed, runtime, worker)
    )
    if rendered is None:
        return None
    return lambda: _finish_stage(rendered, runtime, worker)


def _finish_stage(rendered: Rendered, runtime: Runtime, worker: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="kirin-"))
    try:
        _recorded(
            rendered.claimed.task.id,
            runtime,
            worker,
            lambda: _finish(rendered, runtime, workdir, worker),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _then(first: Callable[[], None], then: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        try:
            first()
        finally:
            then()

    return both


def _recorded(task_id: str, runtime: Runtime, worker: str, stage: Callable[[], T]) -> T | None:
    """Run one stage of a task; how it broke off, if it did, is recorded on the task (None)."""
    try:
        return stage()
    except HandBack:
        runtime.service.release(task_id, worker=worker)
        log.info("task %s handed back to the queue (worker %s shutting down)", task_id, worker)
    except Stopped:
        log.info("task %s stopped while running (%s)", task_id, runtime.service.status(task_id))
    except (EngineCrashed, DeadlineExceeded) as exc:  # the run broke, not the task: try again
        reason = str(exc)
        moved = _until_recorded(
            runtime, task_id, lambda: runtime.service.retry(task_id, worker=worker, reason=reason)
        )
        log.warning("task %s: %s; task now %s", task_id, reason, moved or "not ours")
    except EngineUnavailable as exc:  # the operator's words, with server paths: the log's only
        incident = runtime.engine_status.unavailable(exc.message, task_id=task_id)
        message = incident.message("generation failed")
        _fail(runtime, task_id, code=exc.code, message=message, worker=worker)
    except KirinError as exc:
        _fail(runtime, task_id, code=exc.code, message=exc.message, worker=worker)
    except Exception as exc:  # its text may hold paths and internals: those go to the log only
        incident = Incident.of(exc)
        log.error("task %s failed (incident %s)", task_id, incident.id, exc_info=exc)
        message = incident.message("generation failed")
        _fail(runtime, task_id, code=ErrorCode.GENERATION_FAILED, message=message, worker=worker)
    return None


def _render(claimed: Claimed, runtime: Runtime, worker: str) -> Rendered:
    task = claimed.task

    def report(value: float) -> bool:
        if runtime.hand_back.is_set():
            raise HandBack
        try:
            return runtime.service.report_progress(task.id, value, worker=worker)
        except Exception as exc:
            if not unreachable(exc):
                raise
            log.warning("task %s: progress not recorded, the database is unreachable", task.id)
            return True  # work on: the heartbeat keeps the lease, a later report sees a cancel

    progress = ProgressReporter(report)
    job = build_job(claimed)
    started = time.time()
    clip = runtime.engine.generate(job, progress.stage(0.0, GENERATE_SHARE))
    runtime.engine_status.available()
    return Rendered(
        claimed=claimed,
        job=job,
        clip=clip,
        progress=progress,
        started=started,
        generated=time.time(),
    )


def _finish(rendered: Rendered, runtime: Runtime, workdir: Path, worker: str) -> None:
    task, job, progress = rendered.claimed.task, rendered.job, rendered.progress
    finishing = time.time()
    encode_progress = progress.stage(GENERATE_SHARE, 0.99)
    encode_progress(0.0)  # still ours? a cancel while it waited for the finisher ends it here
    frames = conform(rendered.clip, job.geometry, first=_pixels(job.first), last=_pixels(job.last))
    videos = encode_outputs(
        frames,
        fps=job.geometry.fps,
        video_path=workdir / "video.mp4",
        watermarked_path=workdir / "video_watermarked.mp4" if task.params["watermark"] else None,
        cover_path=workdir / "cover.jpg",
        on_frame=lambda done: encode_progress(done / job.geometry.frames),
        preset=runtime.settings.encode_preset,
        codec=runtime.encoder,
    )
    encoded = time.time()
    progress(0.99)
    prefix = f"{task.id}/{task.attempts}"  # per attempt: a run taken over never clobbers another
    outputs = _store(prefix, runtime.storage, workdir, videos)
    timings = {
        "queued_s": (task.started_ts or rendered.started) - task.created_ts,
        "generate_s": rendered.generated - rendered.started,
        "encode_s": encoded - finishing,
        "total_s": time.time() - task.created_ts,
    }
    usage = _usage(runtime.settings, task.model, task.params)
    meta = _metadata(runtime.engine.name, job.geometry, task.seed, timings)
    completed = _until_recorded(
        runtime,
        task.id,
        lambda: runtime.service.complete(
            task.id, worker=worker, outputs=outputs, usage=usage, meta=meta
        ),
    )
    if not completed and not runtime.service.completed_with(task.id, outputs):
        runtime.storage.delete_prefix(prefix)  # cancelled, or taken over, while storing them
        raise Stopped


def _fail(runtime: Runtime, task_id: str, *, code: ErrorCode, message: str, worker: str) -> None:
    _until_recorded(
        runtime,
        task_id,
        lambda: runtime.service.fail(task_id, code=code, message=message, worker=worker),
    )


def _until_recorded(runtime: Runtime, task_id: str, write: Callable[[], T]) -> T:
    """Write a run's end, again each second while the database is unreachable: work is kept.

    The heartbeat keeps renewing the lease meanwhile, so once the database answers the write
    lands (or finds the task cancelled or taken over). A shutdown stops the waiting: the task's
    lease then runs out and it runs again.
    """
    while True:
        try:
            return write()
        except Exception as exc:
            if not unreachable(exc) or runtime.hand_back.is_set():
                raise
            log.warning("task %s: the database is unreachable, its end is kept to write", task_id)
            time.sleep(RECORD_RETRY_S)


def build_job(claimed: Claimed) -> Job:
    """Decode the stored inputs and work out the output geometry for the engine."""
    task, params = claimed.task, claimed.task.params
    pictures: dict[str, Image.Image | None] = {"first": None, "last": None}
    references = []
    for image in claimed.images:
        rgb = decode_image(image.data, field=image.role, check_aspect=False).to_rgb()
        if image.role == "reference":
            references.append(rgb)
        else:
            pictures[image.role] = rgb
    model = Model(task.model)
    given = pictures["first"] or pictures["last"]
    geometry = output_geometry(
        model=model,
        mode=params["mode"],
        duration=params["duration"],
        aspect_ratio=params.get("aspect_ratio"),
        first_image_size=given.size if given is not None else None,
    )
    return Job(
        model=model,
        geometry=geometry,
        seed=task.seed,
        prompt=params.get("prompt"),
        negative_prompt=params.get("negative_prompt"),
        mode=params["mode"],
        cfg_scale=params.get("cfg_scale"),
        first=pictures["first"],
        last=pictures["last"],
        references=tuple(references),
    )


def _pixels(image: Image.Image | None) -> np.ndarray | None:
    """A given frame as pixels, so the video starts or ends on exactly what the client sent."""
    return None if image is None else rgb_pixels(image)


def _store(
    prefix: str, storage: Storage, workdir: Path, videos: list[EncodedVideo]
) -> list[OutputFile]:
    """Put the files in storage: the video, its watermarked copy if any, the cover."""
    files: list[OutputFile] = []
    for index, video in enumerate(videos):
        key = f"{prefix}/{video.path.name}"
        storage.put(key, video.path)
        kind = OutputKind.VIDEO_WATERMARKED if index > 0 else OutputKind.VIDEO
        files.append(OutputFile(kind=kind, key=key, seconds=round(video.frames / video.fps)))
    cover = workdir / "cover.jpg"
    if cover.exists():
        storage.put(f"{prefix}/cover.jpg", cover)
        files.append(OutputFile(kind=OutputKind.COVER, key=f"{prefix}/cover.jpg"))
    return files


def _usage(settings: Settings, model: str, params: dict[str, Any]) -> Usage:
    cost = settings.price(model=model, mode=params["mode"], duration=params["duration"])
    return Usage(cost=str(cost.quantize(Decimal("0.0001"))), discount=settings.discount)


def _metadata(
    engine: str, geometry: Geometry, seed: int, timings: dict[str, float]
) -> dict[str, Any]:
    return {
        "engine": engine,
        "width": geometry.width,
        "height": geometry.height,
        "fps": geometry.fps,
        "frames": geometry.frames,
        "seed": seed,
        "timings": {name: round(value, 3) for name, value in timings.items()},
    }
