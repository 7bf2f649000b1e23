"""Waiting on a worker's heartbeat: when a task's lease was renewed, and a patient poll."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from kirin_video.tasks.service import TaskService
from kirin_video.tasks.tables import Task

#: How long a test waits for a heartbeat's thread, however busy the machine.
PATIENCE_S = 30.0


def renewed_at(service: TaskService, task_id: str) -> float:
    """When the task's lease was last renewed (or taken); 0 when it is held by nobody."""
    with service.db.session() as session:
        return session.scalar(select(Task.heartbeat_ts).where(Task.id == task_id)) or 0.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; the test fails if it does not within the patience."""
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {PATIENCE_S:g} s"
        time.sleep(0.02)
