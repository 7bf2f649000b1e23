"""Engines that misbehave on purpose, for the child-process tests; built inside the child.

Each is a module-level class, so a spawned child can import it by name.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np

from kirin_video.contract.errors import EngineUnavailable, ErrorCode, GenerationFailed, KirinError
from kirin_video.engines.base import Clip, Job, ProgressFn

SIZE = (36, 64)  # height, width: small native frames, conformed to the contract's geometry
FPS = 4


def frames(count: int = 21) -> Clip:
    """A clip whose frame ``i`` is filled with ``i``: what came back can be checked exactly."""
    return Clip(frames=[np.full((*SIZE, 3), i, np.uint8) for i in range(count)], fps=FPS)


def gone(pid: int, *, within_s: float) -> bool:
    """Whether process ``pid`` has exited within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


class Steady:
    """Renders in ten steps; reports its process id, so tests see which child ran a job."""

    name = "steady"

    def warm(self) -> None:
        pass

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        for step in range(10):
            on_progress(step / 10)
            time.sleep(0.01)
        clip = frames()
        clip.frames[0][0, 0] = os.getpid() % 256
        return clip


class Aborts(Steady):
    """A segfault or CUDA abort: the process dies with SIGABRT halfway."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        on_progress(0.5)
        os.abort()


class AbortsOnce(Steady):
    """Dies on the first job it ever gets (a marker file remembers), then renders."""

    def __init__(self, marker: str) -> None:
        self._marker = Path(marker)

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        if not self._marker.exists():
            self._marker.touch()
            os.abort()
        return super().generate(job, on_progress)


class Hangs(Steady):
    """A stuck kernel or collective: never reports again, never returns."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        on_progress(0.1)
        while True:
            time.sleep(1)


class Endless(Steady):
    """Reports progress forever: stops only when told to."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        step = 0
        while True:
            on_progress(min(step / 1000, 0.8))
            step += 1
            time.sleep(0.02)


class IgnoresStop(Steady):
    """Swallows the request to stop and carries on."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        while True:
            with contextlib.suppress(BaseException):
                on_progress(0.3)
            time.sleep(0.02)


class Raises(Steady):
    """Fails as libraries do, with a path in its message."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        raise OSError("cannot read /srv/models/secret-weights.safetensors")


class Refuses(Steady):
    """Refuses every job with a contract error: built from its class, message and keywords."""

    def __init__(self, error: type[KirinError], message: str, **keywords: object) -> None:
        self._error = error
        self._message = message
        self._keywords = keywords

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        on_progress(0.1)
        raise self._error(self._message, **self._keywords)


class OwnError(GenerationFailed):
    """An engine's own error class, one the contract does not name."""

    code = ErrorCode.PROVIDER_UNAVAILABLE


class CannotLoad(Steady):
    """Misconfigured, as a model path that holds no weights: its warm-up fails, then each job."""

    def warm(self) -> None:
        raise EngineUnavailable("KIRIN_MODEL_PATH='/srv/models/nowhere' does not exist")

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        self.warm()
        raise AssertionError("unreachable")


class CannotImport:
    """An engine whose library is missing: building it fails in the child."""

    name = "broken"

    def __init__(self) -> None:
        raise ImportError("No module named 'diffusers' (in /srv/venv/lib)")
