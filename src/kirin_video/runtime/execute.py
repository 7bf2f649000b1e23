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
        until = run_deadline(runtime.settings, claimed)
        run = Run(claimed, runtime, heartbeat.worker, release=heartbeat.hold(task_id, until=until))
        if not run.render():
            return task_id
        if finisher is None:
            run.finish()
        else:
            finisher.hand_over(task_id, run.finish)
        return task_id
    return None


def execute(task_id: str, runtime: Runtime, *, worker: str) -> None:
    """Claim the task, generate, encode, store and finish it; never raises for a task's failure."""
    claimed = runtime.service.claim(task_id, worker=worker)
    if claimed is not None and (run := Run(claimed, runtime, worker)).render():
        run.finish()


def run_deadline(settings: Settings, claimed: Claimed) -> float:
    """When a run's lease stops being renewed: its deadline and the grace to stop its engine."""
    params = claimed.task.params
    timeout = settings.task_timeout(mode=params["mode"], duration=params["duration"])
    return time.time() + timeout + settings.cancel_grace_s


class Run:
    """One claimed task, in the order it happens: render, then finish (encode, store, record).

    Each stage is one ``try``; however it breaks off, ``_record_end`` writes that on the task, and
    the lease the heartbeat holds for it is released once the run is over.
    """

    def __init__(
        self,
        claimed: Claimed,
        runtime: Runtime,
        worker: str,
        *,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.task = claimed.task
        self.runtime, self.service, self.worker = runtime, runtime.service, worker
        self._release = release
        self._claimed = claimed
        self.progress = ProgressReporter(self._report)
        self.encode_progress = self.progress.stage(GENERATE_SHARE, 0.99)
        self.job: Job | None = None
        self.clip: Clip | None = None
        self.started = self.generated = self.finishing = self.encoded = 0.0
        self.prefix = f"{claimed.task.id}/{claimed.task.attempts}"  # a takeover never clobbers it

    def render(self) -> bool:
        """The engine makes the frames; False when the run ended here (its end recorded)."""
        ended = True
        try:
            self.job = build_job(self._claimed)
            self.started = time.time()
            self.clip = self.runtime.engine.generate(
                self.job, self.progress.stage(0.0, GENERATE_SHARE)
            )
            self.generated = time.time()
            self.runtime.engine_status.available()
            ended = False
        except Exception as exc:
            self._record_end(exc)
        finally:
            if ended:
                self._end()
        return not ended

    def finish(self) -> None:
        """Encode and store the frames, then record the task completed (or how it ended)."""
        workdir = Path(tempfile.mkdtemp(prefix="kirin-"))
        try:
            self._complete(self._store(workdir))
        except Exception as exc:
            self._record_end(exc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            self._end()

    def _store(self, workdir: Path) -> list[OutputFile]:
        """The contract's video (and watermarked copy, and cover) encoded and in storage."""
        assert self.job is not None and self.clip is not None, "finish() follows render()"
        task, job, settings = self.task, self.job, self.runtime.settings
        self.finishing = time.time()
        self.encode_progress(0.0)  # still ours? a cancel while it waited for the finisher ends it
        frames = conform(self.clip, job.geometry, first=_pixels(job.first), last=_pixels(job.last))
        videos = encode_outputs(
            frames,
            fps=job.geometry.fps,
            video_path=workdir / "video.mp4",
            watermarked_path=workdir / "video_watermarked.mp4"
            if task.params["watermark"]
            else None,
            cover_path=workdir / "cover.jpg",
            on_frame=self._encoded,
            preset=settings.encode_preset,
            codec=self.runtime.encoder,
        )
        self.encoded = time.time()
        self.progress(0.99)
        return _put(self.prefix, self.runtime.storage, workdir, videos)

    def _complete(self, outputs: list[OutputFile]) -> None:
        """Record the task completed with its outputs; they are deleted if it is no longer ours."""
        task, settings = self.task, self.runtime.settings
        timings = {
            "queued_s": (task.started_ts or self.started) - task.created_ts,
            "generate_s": self.generated - self.started,
            "encode_s": self.encoded - self.finishing,
            "total_s": time.time() - task.created_ts,
        }
        usage = _usage(settings, task.model, task.params)
        assert self.job is not None
        meta = _metadata(self.runtime.engine.name, self.job.geometry, task.seed, timings)
        completed = self._write(
            self.service.complete,
            task.id,
            worker=self.worker,
            outputs=outputs,
            usage=usage,
            meta=meta,
        )
        if not completed and not self.service.completed_with(task.id, outputs):
            self.runtime.storage.delete_prefix(self.prefix)  # cancelled or taken over meanwhile
            raise Stopped

    def _record_end(self, exc: Exception) -> None:
        """Write on the task how the run broke off: every stage's failures, in one place."""
        task_id, worker, service = self.task.id, self.worker, self.service
        if isinstance(exc, HandBack):
            service.release(task_id, worker=worker)
            log.info("task %s handed back to the queue (worker %s shutting down)", task_id, worker)
        elif isinstance(exc, Stopped):
            log.info("task %s stopped while running (%s)", task_id, service.status(task_id))
        elif isinstance(exc, EngineCrashed | DeadlineExceeded):  # the run broke, not the task
            moved = self._write(service.retry, task_id, worker=worker, reason=str(exc))
            log.warning("task %s: %s; task now %s", task_id, exc, moved or "not ours")
        elif isinstance(exc, EngineUnavailable):  # the operator's words: the log's only
            incident = self.runtime.engine_status.unavailable(exc.message, task_id=task_id)
            self._fail(exc.code, incident.message("generation failed"))
        elif isinstance(exc, KirinError):
            self._fail(exc.code, exc.message)
        else:  # its text may hold paths and internals: those go to the log only
            incident = Incident.of(exc)
            log.error("task %s failed (incident %s)", task_id, incident.id, exc_info=exc)
            self._fail(ErrorCode.GENERATION_FAILED, incident.message("generation failed"))

    def _fail(self, code: ErrorCode, message: str) -> None:
        self._write(self.service.fail, self.task.id, code=code, message=message, worker=self.worker)

    def _write(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Write a run's end, again each second while the database is unreachable: work is kept.

        The heartbeat keeps renewing the lease meanwhile, so once the database answers the write
        lands (or finds the task cancelled or taken over). A shutdown stops the waiting: the
        task's lease then runs out and it runs again.
        """
        while True:
            try:
                return write(*args, **kwargs)
            except Exception as exc:
                if not unreachable(exc) or self.runtime.hand_back.is_set():
                    raise
                log.warning("task %s: the database is unreachable, its end is kept", self.task.id)
                time.sleep(RECORD_RETRY_S)

    def _report(self, value: float) -> bool:
        """Progress to the task row; False (or Stopped) once the task is no longer ours."""
        if self.runtime.hand_back.is_set():
            raise HandBack
        try:
            return self.service.report_progress(self.task.id, value, worker=self.worker)
        except Exception as exc:
            if not unreachable(exc):
                raise
            log.warning("task %s: progress not recorded, the database is unreachable", self.task.id)
            return True  # work on: the heartbeat keeps the lease, a later report sees a cancel

    def _encoded(self, frames: int) -> None:
        assert self.job is not None
        self.encode_progress(frames / self.job.geometry.frames)

    def _end(self) -> None:
        """The run is over: its lease is no longer held (once, however it ended)."""
        release, self._release = self._release, None
        if release is not None:
            release()


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


def _put(
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
