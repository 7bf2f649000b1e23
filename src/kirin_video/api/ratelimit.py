"""Requests per API key over a moving window, so one client cannot crowd out the others."""

from __future__ import annotations

import bisect
import time

import limits
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from kirin_video.contract.errors import RateLimited


class InlineExpiryMemoryStorage(MemoryStorage):
    """``memory://`` without the thread ``limits`` starts after each 10 ms of traffic.

    That thread only drops expired entries, and starting it cost a task poll as much as its
    database read; here each hit drops its key's (newest first), keeping at most ``limit``.
    """

    def _MemoryStorage__schedule_expiry(self) -> None:  # the base's private hook: no thread
        return

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        acquired = super().acquire_entry(key, limit, expiry, amount)
        with self.locks[key]:
            events = self.events[key]
            live = bisect.bisect_left(events, -time.time(), key=lambda entry: -entry.expiry)
            del events[min(live, limit) :]
        return acquired


class RateLimiter:
    """``limit`` (``limits`` notation, e.g. ``20/second``) per caller, counted in ``storage``."""

    def __init__(self, limit: str, *, storage: str = "memory://") -> None:
        self._item = limits.parse(limit)
        counts = InlineExpiryMemoryStorage() if storage == "memory://" else None
        self._limiter = MovingWindowRateLimiter(counts or storage_from_string(storage))

    def hit(self, caller: str) -> None:
        """Count one request; raise 429 with the wait once the caller is over the limit."""
        if self._limiter.hit(self._item, caller):
            return
        reset = self._limiter.get_window_stats(self._item, caller).reset_time
        raise RateLimited(
            f"requests: at most {self._item} per API key; retry after the window moves on",
            retry_after_s=max(0.0, reset - time.time()),
        )
