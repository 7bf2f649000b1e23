"""The in-process rate limit: a moving window per key, counted without starting threads."""

from __future__ import annotations

import threading
import time

import pytest

from kirin_video.api.ratelimit import RateLimiter
from kirin_video.contract.errors import RateLimited


def test_counting_requests_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = RateLimiter("5/second")
    time.sleep(0.05)  # past anything the storage started when it was made
    started: list[str] = []
    start = threading.Thread.start

    def noted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", noted)
    for _ in range(5):
        limiter.hit("key")
        time.sleep(0.02)  # longer than the 10 ms after which limits' storage starts another

    assert started == []


def test_the_window_refuses_past_the_limit_and_moves_on() -> None:
    limiter = RateLimiter("3/second")
    for _ in range(3):
        limiter.hit("key")
    with pytest.raises(RateLimited) as refused:
        limiter.hit("key")
    assert refused.value.retry_after_s is not None and 0 < refused.value.retry_after_s <= 1
    limiter.hit("another key")  # each key has its own window
    time.sleep(1.05)
    for _ in range(3):
        limiter.hit("key")


def test_a_key_keeps_no_more_entries_than_its_window_holds() -> None:
    limiter = RateLimiter("1000/second")
    for _ in range(50):
        limiter.hit("key")
    time.sleep(1.05)  # all 50 have left the window
    limiter.hit("key")

    storage = limiter._limiter.storage  # type: ignore[attr-defined]
    assert [len(entries) for entries in storage.events.values()] == [1]
