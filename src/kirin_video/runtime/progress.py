"""Progress reporting that also carries cancellation back into the engine."""

from __future__ import annotations

import time
from collections.abc import Callable


class Stopped(Exception):
    """The task left ``processing`` (cancelled, or taken over) while it was running."""


class ProgressReporter:
    """Throttles writes of a task's progress and stops the work once the task is not ours."""

    def __init__(self, report: Callable[[float], bool], *, min_interval_s: float = 0.25) -> None:
        self._report = report
        self._min_interval_s = min_interval_s
        self._last_time = 0.0
        self._last_value = -1.0

    def stage(self, start: float, end: float) -> Callable[[float], None]:
        """A callback for one stage that maps its own 0–1 onto ``[start, end]`` overall."""
        return lambda fraction: self(start + (end - start) * min(max(fraction, 0.0), 1.0))

    def __call__(self, value: float) -> None:
        now = time.monotonic()
        if now - self._last_time < self._min_interval_s and value - self._last_value < 0.05:
            return
        self._last_time, self._last_value = now, value
        if not self._report(value):
            raise Stopped
