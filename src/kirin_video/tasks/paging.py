"""A key's tasks a page at a time: keyset pages behind a cursor or a task id, numbered pages."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from kirin_video.contract.errors import InvalidRequest
from kirin_video.contract.text import fault
from kirin_video.tasks.tables import Task


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    next_cursor: str | None


def listing(
    owner: str,
    *,
    statuses: Sequence[str],
    model: str | None,
    start: tuple[float, str] | None,
    ascending: bool,
) -> Select[Any]:
    """The caller's tasks past ``start`` (created, id), newest first unless ``ascending``."""
    query = select(Task).where(Task.owner == owner)
    if statuses:
        query = query.where(Task.status.in_(statuses))
    if model:
        query = query.where(Task.model == model)
    if start is not None:
        query = query.where(_beyond(*start, ascending=ascending))
    if ascending:
        return query.order_by(Task.created_ts.asc(), Task.id.asc())
    return query.order_by(Task.created_ts.desc(), Task.id.desc())


def numbered(*, owner: str, model: str, number: int, size: int) -> Select[Any]:
    """Page ``number`` (from 1) of the caller's tasks of one model, newest first."""
    return (
        select(Task)
        .where(Task.owner == owner, Task.model == model)
        .order_by(Task.created_ts.desc(), Task.id.desc())
        .offset((number - 1) * size)
        .limit(size)
    )


def created_of(owner: str, task_id: str) -> Select[Any]:
    """When the caller's task ``task_id`` was created: where a page after it starts."""
    return select(Task.created_ts).where(Task.owner == owner, Task.id == task_id)


def page_of(tasks: list[Task], *, limit: int) -> Page:
    """A page from up to ``limit + 1`` tasks: the one past the limit says another page follows."""
    more = len(tasks) > limit
    tasks = tasks[:limit]
    return Page(tasks, encode_cursor(tasks[-1]) if more else None)


def encode_cursor(task: Task) -> str:
    raw = json.dumps([task.created_ts, task.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Where a previous page ended; a cursor not made here is refused, not trusted."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, task_id = json.loads(raw)
        if not isinstance(task_id, str) or fault(task_id) is not None:
            raise TypeError("a cursor's task id is text that a task id can be")
        return float(created), task_id
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # hostile cursors too
        raise InvalidRequest(
            f"cursor: must be a next_cursor value from a previous page; got {cursor[:60]!r}"
        ) from exc


def _beyond(created: float, task_id: str, *, ascending: bool) -> ColumnElement[bool]:
    """Tasks after (``created``, ``task_id``) in the listing's order."""
    if ascending:
        return or_(Task.created_ts > created, and_(Task.created_ts == created, Task.id > task_id))
    return or_(Task.created_ts < created, and_(Task.created_ts == created, Task.id < task_id))
