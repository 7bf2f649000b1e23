"""The retry schedule: exponential, jittered, bounded, and the receiver's Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from kirin_video.config import Settings
from kirin_video.webhooks.backoff import Backoff, retry_after


def default_backoff() -> Backoff:
    settings = Settings()
    return Backoff(
        base_s=settings.webhook_backoff_s,
        factor=settings.webhook_backoff_factor,
        max_s=settings.webhook_backoff_max_s,
        max_attempts=settings.webhook_max_attempts,
    )


def test_default_schedule_is_about_ten_attempts_over_about_a_day() -> None:
    schedule = default_backoff().schedule()
    assert len(schedule) + 1 == 10
    assert schedule == sorted(schedule)
    assert 18 * 3600 <= sum(schedule) <= 26 * 3600


def test_delays_are_jittered_within_a_quarter() -> None:
    backoff = Backoff(base_s=10, factor=2, max_s=1000, max_attempts=10)
    delays = {backoff.delay(3) for _ in range(50)}
    assert len(delays) > 40
    assert all(30 <= d <= 50 for d in delays if d is not None)


def test_no_delay_once_attempts_are_spent() -> None:
    backoff = Backoff(base_s=1, factor=2, max_s=10, max_attempts=3)
    assert backoff.delay(2) is not None and backoff.delay(3) is None


def test_retry_after_lengthens_but_never_passes_the_cap() -> None:
    backoff = Backoff(base_s=1, factor=1, max_s=60, max_attempts=5)
    assert backoff.delay(1, retry_after_s=30) == 30
    assert backoff.delay(1, retry_after_s=3600) == 60


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), (None, None), ("soon", None), ("", None)],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(datetime(2026, 1, 1, 12, 1, 30, tzinfo=UTC), usegmt=True)
    assert retry_after(header, now=now.timestamp()) == pytest.approx(90)
