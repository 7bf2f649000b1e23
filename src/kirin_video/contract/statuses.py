"""The status words clients see, and which stored statuses each one covers."""

from __future__ import annotations

from enum import StrEnum

from kirin_video.contract.catalog import Status


class PublicStatus(StrEnum):
    """The hosted wire's three words: clients poll until ``completed`` or ``failed``."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


#: Stored status → the word a client sees (queued and running are both in progress).
PUBLIC_STATUS: dict[Status, PublicStatus] = {
    Status.PENDING: PublicStatus.IN_PROGRESS,
    Status.PROCESSING: PublicStatus.IN_PROGRESS,
    Status.COMPLETED: PublicStatus.COMPLETED,
    Status.FAILED: PublicStatus.FAILED,
    Status.CANCELLED: PublicStatus.FAILED,
}


def stored_statuses(word: PublicStatus) -> tuple[Status, ...]:
    """The stored statuses a client's status filter means."""
    return tuple(status for status, public in PUBLIC_STATUS.items() if public is word)
