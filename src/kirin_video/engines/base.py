"""The engine interface: a plain job in, frames out; no files, URLs or database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from kirin_video.contract.catalog import DEFAULT_MODE, Geometry, Model
from kirin_video.media.frames import Clip

__all__ = ["Clip", "Engine", "Job", "ProgressFn"]  # Clip lives in media, where conform reads it

#: Called with overall progress in [0, 1]; it may raise to stop the job (cancellation).
ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class Job:
    """Everything an engine needs to render one video, already validated and decoded."""

    model: Model
    geometry: Geometry  # the contract's output size, 30 fps and exact frame count
    seed: int
    prompt: str | None = None
    negative_prompt: str | None = None
    mode: str = DEFAULT_MODE
    cfg_scale: float | None = None
    first: Image.Image | None = None  # i2v: the first frame (RGB)
    last: Image.Image | None = None  # i2v: the last frame (RGB)
    references: tuple[Image.Image, ...] = field(default_factory=tuple)  # multi (RGB)


class Engine(Protocol):
    """A generation backend; ``name`` is reported in each task's metadata."""

    name: str

    def warm(self) -> None:
        """Load what the engine needs before the first task; failures are left to the tasks."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip: ...
