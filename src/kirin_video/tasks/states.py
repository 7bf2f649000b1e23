"""The task state machine: which status may follow which."""

from __future__ import annotations

from kirin_video.contract.catalog import Status

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.PROCESSING, Status.CANCELLED, Status.FAILED}),
    Status.PROCESSING: frozenset(
        {Status.PENDING, Status.COMPLETED, Status.FAILED, Status.CANCELLED}
    ),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def can_move(old: str, new: Status) -> bool:
    """Whether a task in ``old`` may move to ``new`` (processing → pending is a requeue)."""
    return new in TRANSITIONS[Status(old)]
