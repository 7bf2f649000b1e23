"""Requests per API key over a moving window, so one client cannot crowd out the others."""

from __future__ import annotations

import time

import limits
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from kirin_video.contract.errors import RateLimited


class RateLimiter:
    """``limit`` (``limits`` notation, e.g. ``20/second``) per caller, counted in ``storage``."""

    def __init__(self, limit: str, *, storage: str = "memory://") -> None:
        self._item = limits.parse(limit)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage))

    def hit(self, caller: str) -> None:
        """Count one request; raise 429 with the wait once the caller is over the limit."""
        if self._limiter.hit(self._item, caller):
            return
        reset = self._limiter.get_window_stats(self._item, caller).reset_time
        raise RateLimited(
            f"requests: at most {self._item} per API key; retry after the window moves on",
            retry_after_s=max(0.0, reset - time.time()),
        )
