"""The fair queue's order, written once: keys take turns, and each key's own tasks wait in line.

The scheduler's pick (``NEXT_PENDING``) and every queue position (a poll's, the streams') read
the order from here, so a position says when the task will run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from kirin_video.contract.catalog import Status
from kirin_video.tasks.tables import Task

_TASKS = Task.__table__
_TASK_ATTRIBUTES = [column.key for column in Task.__mapper__.column_attrs]


def _line(tasks: FromClause) -> list[ColumnElement[Any]]:
    """A key's own tasks wait in line: oldest first, the id breaking a tie."""
    return [tasks.c.created_ts, tasks.c.id]


def _turn(tasks: FromClause) -> list[ColumnElement[Any]]:
    """A key's turn in the round, over its rows in ``tasks``; lower goes first.

    Fewest tasks running, then served longest ago, then the oldest task waiting: so one key's
    thousand queued tasks do not hold back another key's first.
    """
    waiting = tasks.c.status == Status.PENDING
    return [
        func.sum(case((tasks.c.status == Status.PROCESSING, 1), else_=0)).label("running"),
        func.coalesce(func.max(tasks.c.started_ts), 0.0).label("last_started"),
        func.min(case((waiting, tasks.c.created_ts), else_=None)).label("first_waiting"),
    ]


def _keys_waiting(tasks: FromClause) -> ColumnElement[bool]:
    """Only keys with work waiting: a read of the queue stays cheap however long the history."""
    return tasks.c.owner.in_(select(_TASKS.c.owner).where(_TASKS.c.status == Status.PENDING))


def _waiting(tasks: FromClause) -> ColumnElement[Any]:
    """How many of a key's tasks wait: the most turns it can have before another key's task."""
    return func.sum(case((tasks.c.status == Status.PENDING, 1), else_=0)).label("waiting")


def _earlier(
    row: Sequence[ColumnElement[Any]], than: Sequence[ColumnElement[Any]]
) -> ColumnElement[bool]:
    """``row`` comes before ``than`` in a key's line: older, or as old with a lower id."""
    (created, task_id), (than_created, than_id) = row, than
    return or_(created < than_created, and_(created == than_created, task_id < than_id))


def _next_pending() -> Select[Any]:
    """The task that runs next: the key whose turn it is, the first in its line."""
    keys = select(_TASKS.c.owner, *_turn(_TASKS)).where(_keys_waiting(_TASKS))
    turns = keys.group_by(_TASKS.c.owner).subquery("turns")
    return (
        select(_TASKS.c.id)
        .join(turns, turns.c.owner == _TASKS.c.owner)
        .where(_TASKS.c.status == Status.PENDING)
        .order_by(*list(turns.c)[1:], *_line(_TASKS))  # the key's turn, then its line
        .limit(1)
    )


def _turn_order() -> Select[Any]:
    """Per key with tasks waiting: how many wait, and its turn in the round."""
    return (
        select(_TASKS.c.owner, _waiting(_TASKS), *_turn(_TASKS))
        .where(_keys_waiting(_TASKS))
        .group_by(_TASKS.c.owner)
    )


def _poll(by_external_id: bool) -> Select[Any]:
    """A poll as one statement: the caller's task and, while it waits, the queue around it.

    Rows: one per key with tasks waiting (the task's columns repeated beside each) when the task
    waits, else the task beside nulls; a database on another machine is asked once a poll.
    """
    polled, target, other = _TASKS.alias("polled"), _TASKS.alias("target"), _TASKS.alias("other")

    def matching(table: FromClause) -> ColumnElement[bool]:
        ref = table.c.external_task_id if by_external_id else table.c.id
        return and_(table.c.owner == bindparam("owner"), ref == bindparam("ref"))

    me = (
        select(target.c.owner, *_line(target))
        .where(matching(target), target.c.status == Status.PENDING)
        .subquery("me")
    )
    ahead = and_(
        other.c.status == Status.PENDING,
        other.c.owner == me.c.owner,
        _earlier(_line(other), _line(me)),
    )
    queue = (
        select(other.c.owner, func.sum(case((ahead, 1), else_=0)), _waiting(other), *_turn(other))
        .select_from(other.join(me, true()))
        .where(_keys_waiting(other))
        .group_by(other.c.owner)
        .subquery("queue")
    )
    columns = [polled.c[Task.__mapper__.columns[name].name] for name in _TASK_ATTRIBUTES]
    return (
        select(*columns, *queue.c)
        .select_from(polled.outerjoin(queue, true()))
        .where(matching(polled))
    )


# Statements built once: building one costs more than SQLite takes to run it.
NEXT_PENDING = _next_pending()
POLL_BY_ID = _poll(by_external_id=False)
POLL_BY_EXTERNAL_ID = _poll(by_external_id=True)
_TURN_ORDER = _turn_order()


def polled(rows: Sequence[Any]) -> tuple[Task, int | None]:
    """The task and its queue position from a poll statement's rows."""
    size = len(_TASK_ATTRIBUTES)
    task = Task(**dict(zip(_TASK_ATTRIBUTES, rows[0][:size], strict=True)))
    if task.status != Status.PENDING or rows[0][size] is None:
        return task, None
    ahead, turns = 0, dict[str, tuple[Any, ...]]()
    for owner, before, *turn in (row[size:] for row in rows):
        ahead = int(before) if owner == task.owner else ahead
        turns[str(owner)] = tuple(turn)
    return task, _place(ahead, owner=task.owner, turns=turns)


def positions(session: Session, waiting: Sequence[Task]) -> dict[str, int]:
    """Each waiting task's queue position, in two queries however many tasks."""
    if not waiting:
        return {}
    ahead = _ahead_in_own_queue(session, waiting)
    turns = {str(row[0]): tuple(row[1:]) for row in session.execute(_TURN_ORDER)}
    return {
        task.id: _place(ahead[task.id], owner=task.owner, turns=dict(turns))
        for task in waiting
        if task.id in ahead
    }


def _place(own: int, *, owner: str, turns: dict[str, tuple[Any, ...]]) -> int:
    """A waiting task's place: ``own`` of its key's tasks before it, other keys' by the round.

    Between two of its key's tasks every other key waiting has one turn, and a key whose turn
    comes before this key's has one turn more. An estimate while keys' running counts change,
    exact for a still queue.
    """
    mine = turns.pop(owner, None)
    position = 1 + own
    for waiting, *turn in turns.values():
        before_me = mine is None or tuple(turn) < tuple(mine[1:])
        position += min(int(waiting), own + 1 if before_me else own)
    return position


def _ahead_in_own_queue(session: Session, waiting: Sequence[Task]) -> dict[str, int]:
    """For each waiting task, how many of its key's waiting tasks come before it."""
    order = func.row_number().over(partition_by=_TASKS.c.owner, order_by=_line(_TASKS))
    ranked = (
        select(_TASKS.c.id, order.label("place"))
        .where(_TASKS.c.status == Status.PENDING, _TASKS.c.owner.in_({t.owner for t in waiting}))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.id, ranked.c.place).where(ranked.c.id.in_([t.id for t in waiting]))
    )
    return {str(task_id): int(place) - 1 for task_id, place in rows}
