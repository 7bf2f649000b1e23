"""When to try a failed callback again: exponential backoff with jitter, or the receiver's word."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

_JITTER = 0.25  # each delay is drawn within ±25 % so retries of many tasks spread out


@dataclass(frozen=True)
class Backoff:
    """``base_s × factor^(n-1)`` before retry n, at most ``max_s``, for ``max_attempts`` tries."""

    base_s: float
    factor: float
    max_s: float
    max_attempts: int

    def delay(self, attempt: int, *, retry_after_s: float | None = None) -> float | None:
        """Seconds to wait after failed ``attempt`` (from 1); None once attempts are spent."""
        if attempt >= self.max_attempts:
            return None
        exponential = min(self.max_s, self.base_s * self.factor ** (attempt - 1))
        delay = exponential * random.uniform(1 - _JITTER, 1 + _JITTER)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_s))
        return delay

    def schedule(self) -> list[float]:
        """The delays without jitter, for documentation and tests."""
        return [
            min(self.max_s, self.base_s * self.factor ** (n - 1))
            for n in range(1, self.max_attempts)
        ]


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
