"""Task service: every status change of a task happens here, in one transaction each."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kirin_video.contract import catalog as c
from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import (
    ErrorCode,
    ExternalIdTaken,
    InvalidRequest,
    RateLimited,
    TaskAlreadyFinished,
    TaskNotFound,
)
from kirin_video.contract.params import Params
from kirin_video.contract.text import fault
from kirin_video.tasks import outbox
from kirin_video.tasks.db import Database
from kirin_video.tasks.snapshot import OutputFile, Usage
from kirin_video.tasks.states import can_move
from kirin_video.tasks.tables import Task, TaskImage

_UNFINISHED_RETRY_S = 10.0  # a task takes at least this long; sooner is pointless
_UNFINISHED_LOCK = 0x6B76  # advisory lock scope of the per-key cap ("kv")


@dataclass(frozen=True)
class StoredImage:
    """A validated input image as stored with its task."""

    role: str
    data: bytes


@dataclass(frozen=True)
class Claimed:
    """A task a worker now owns, with its inputs."""

    task: Task
    images: list[StoredImage]


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    next_cursor: str | None


def new_task_id() -> str:
    return "task_" + uuid.uuid4().hex


class TaskService:
    """Creates, reads, lists, cancels, claims and finishes tasks."""

    def __init__(self, db: Database, *, max_attempts: int = 3, max_unfinished: int = 100) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.max_unfinished = max_unfinished
        self._created_listeners: list[Callable[[str], None]] = []
        self._callback_listeners: list[Callable[[str], None]] = []

    def on_created(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(task_id)`` after each create commits (wakes the workers)."""
        self._created_listeners.append(listener)

    def on_callback(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(delivery_id)`` after a change that owes a callback commits."""
        self._callback_listeners.append(listener)

    # 1. Intake side: what the API calls.

    def create(
        self,
        *,
        owner: str,
        request: Params,
        images: Sequence[StoredImage],
        public_base: str | None = None,
        surface: str = "kirin",
        size: tuple[int, int] | None = None,
    ) -> Task:
        """Insert the task and its images together; a repeated external id is refused by the DB.

        ``size`` is the output's frame size, kept with the parameters so that a surface can
        state it before the video exists.
        """
        now = time.time()
        seed = request.seed if request.seed is not None else secrets.randbelow(c.MAX_SEED + 1)
        params = request.params()
        if size is not None:
            params.update(width=size[0], height=size[1])
        task = Task(
            id=new_task_id(),
            owner=owner,
            model=request.model.value,
            status=Status.PENDING,
            params=params,
            seed=seed,
            external_task_id=request.external_task_id,
            callback_url=request.callback_url,
            public_base=public_base,
            surface=surface,
            progress=0.0,
            attempts=0,
            meta={"seed": seed},
            created_ts=now,
            updated_ts=now,
        )
        try:
            with self.db.session(write=True) as session:
                self._check_unfinished(session, owner)
                session.add(task)
                session.flush()
                session.add_all(
                    TaskImage(task_id=task.id, position=i, role=image.role, data=image.data)
                    for i, image in enumerate(images)
                )
        except IntegrityError as exc:
            raise ExternalIdTaken(
                f"external_task_id: must be unique per API key; "
                f"{request.external_task_id!r} is already used"
            ) from exc
        for listener in self._created_listeners:
            listener(task.id)
        return task

    def check_room(self, owner: str) -> None:
        """Refuse a key at its cap before its images cost any work; ``create`` checks again."""
        with self.db.session() as session:
            self._refuse_if_full(session, owner)

    def _check_unfinished(self, session: Session, owner: str) -> None:
        """One key may not queue more than ``max_unfinished`` tasks, even with creates in parallel.

        The key's creates take turns from the count to the commit, so two cannot both see room.
        """
        self.db.serialise(session, scope=_UNFINISHED_LOCK, key=owner)
        self._refuse_if_full(session, owner)

    def _refuse_if_full(self, session: Session, owner: str) -> None:
        unfinished = session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.owner == owner, Task.status.in_([Status.PENDING, Status.PROCESSING]))
        )
        if unfinished is not None and unfinished >= self.max_unfinished:
            raise RateLimited(
                f"tasks: at most {self.max_unfinished} pending or processing tasks per API key; "
                f"got {unfinished} already, retry when some finish",
                retry_after_s=_UNFINISHED_RETRY_S,
                concurrent=True,
            )

    def get(self, *, owner: str, ref: str) -> Task:
        """A task by id or by the caller's external id; another caller's task is not found."""
        with self.db.session() as session:
            return _find(session, owner=owner, ref=ref)

    def read(self, *, owner: str, ref: str) -> tuple[Task, int | None]:
        """A task (detached) and, while it waits, its queue position: a poll's one transaction.

        Read as rows on a plain connection: a poll is most of a node's load, and an ORM session
        and its loading cost several times what the database takes to answer.
        """
        with self.db.reading() as connection:
            rows = connection.execute(_POLL_BY_ID, {"owner": owner, "ref": ref}).all()
            if not rows:
                rows = connection.execute(_POLL_BY_EXTERNAL_ID, {"owner": owner, "ref": ref}).all()
        if not rows:
            raise TaskNotFound(f"task: no task with id or external_task_id {ref!r}")
        return _polled(rows)

    def list_tasks(
        self,
        *,
        owner: str,
        statuses: Sequence[str] = (),
        model: str | None = None,
        limit: int = c.DEFAULT_LIST_LIMIT,
        cursor: str | None = None,
        after: str | None = None,
        ascending: bool = False,
    ) -> Page:
        """The caller's tasks (in any of ``statuses``, if given), keyset-paged, newest first.

        A page starts past ``cursor`` (a previous page's ``next_cursor``) or past the task whose
        id is ``after``; ``ascending`` lists oldest first.
        """
        query = select(Task).where(Task.owner == owner)
        if statuses:
            query = query.where(Task.status.in_(statuses))
        if model:
            query = query.where(Task.model == model)
        start = (
            _decode_cursor(cursor) if cursor else self._position(owner, after) if after else None
        )
        if start is not None:
            query = query.where(_beyond(*start, ascending=ascending))
        if ascending:
            query = query.order_by(Task.created_ts.asc(), Task.id.asc())
        else:
            query = query.order_by(Task.created_ts.desc(), Task.id.desc())
        with self.db.session() as session:
            tasks = list(session.scalars(query.limit(limit + 1)).all())
        more = len(tasks) > limit
        tasks = tasks[:limit]
        return Page(tasks, _encode_cursor(tasks[-1]) if more else None)

    def _position(self, owner: str, task_id: str) -> tuple[float, str]:
        """Where the caller's task ``task_id`` stands in the listing order."""
        with self.db.session() as session:
            created = session.scalar(
                select(Task.created_ts).where(Task.owner == owner, Task.id == task_id)
            )
        if created is None:
            raise InvalidRequest(
                f"after: must be the id of one of your tasks (the last of a previous page); "
                f"got {task_id[:60]!r}"
            )
        return created, task_id

    def page(self, *, owner: str, model: str, number: int, size: int) -> list[Task]:
        """Page ``number`` (from 1) of the caller's tasks of one model, newest first."""
        query = (
            select(Task)
            .where(Task.owner == owner, Task.model == model)
            .order_by(Task.created_ts.desc(), Task.id.desc())
            .offset((number - 1) * size)
            .limit(size)
        )
        with self.db.session() as session:
            return list(session.scalars(query).all())

    def cancel(self, *, owner: str, ref: str) -> Task:
        """Cancel a pending or processing task; a running worker notices at its next step."""
        task = self.get(owner=owner, ref=ref)
        changed = self._move(
            task.id,
            Status.CANCELLED,
            error_code=ErrorCode.TASK_CANCELLED.value,
            error_message="task: cancelled at the client's request",
            finished_ts=time.time(),
        )
        if not changed:
            raise TaskAlreadyFinished(
                f"task: only pending or processing tasks can be cancelled; "
                f"{task.id} is {self.status(task.id)}"
            )
        return self.get(owner=owner, ref=task.id)

    def delete(self, *, owner: str, ref: str) -> Task:
        """Remove a task with its images and callbacks; a running worker stops at its next step.

        The worker finds the task gone as it would find it cancelled: nothing it stores is kept.
        Answers the task as it was; its stored outputs are the caller's to delete.
        """
        task = self.get(owner=owner, ref=ref)
        with self.db.session(write=True) as session:
            result = session.execute(
                delete(Task)
                .where(Task.id == task.id, Task.owner == owner)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise TaskNotFound(f"task: no task with id or external_task_id {ref!r}")
        return task

    def callbacks(self, *, owner: str, ref: str) -> list[outbox.DeliveryRecord]:
        """The task's callback deliveries, oldest first, each with its attempts."""
        task = self.get(owner=owner, ref=ref)
        with self.db.session() as session:
            return outbox.history(session, task.id)

    # 2. Worker side: what the runtime calls.

    def next_pending(self) -> str | None:
        """The next task to run: the oldest pending one of the key served longest ago.

        Keys take turns (fewest tasks running first, then least recently started), so one key's
        thousand queued tasks do not hold back another key's first; each key's own are FIFO.
        """
        served = (
            select(
                Task.owner,
                func.sum(case((Task.status == Status.PROCESSING, 1), else_=0)).label("running"),
                func.max(Task.started_ts).label("last_started"),
            )
            .where(
                Task.started_ts.is_not(None),
                # only keys with work waiting: the poll stays cheap however long the history
                Task.owner.in_(select(Task.owner).where(Task.status == Status.PENDING)),
            )
            .group_by(Task.owner)
            .subquery()
        )
        with self.db.session() as session:
            return session.scalar(
                select(Task.id)
                .outerjoin(served, served.c.owner == Task.owner)
                .where(Task.status == Status.PENDING)
                .order_by(
                    func.coalesce(served.c.running, 0),
                    func.coalesce(served.c.last_started, 0.0),
                    Task.created_ts,
                    Task.id,
                )
                .limit(1)
            )

    def claim(self, task_id: str, *, worker: str) -> Claimed | None:
        """Move a pending task to processing under ``worker``'s lease; None if someone else did."""
        now = time.time()
        with self.db.session(write=True) as session:
            result = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == Status.PENDING)
                .values(
                    status=Status.PROCESSING,
                    attempts=Task.attempts + 1,
                    progress=0.0,
                    worker=worker,
                    heartbeat_ts=now,
                    started_ts=now,
                    updated_ts=now,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            delivery = outbox.enqueue(session, task_id)
            task = session.get_one(Task, task_id)
            rows = session.scalars(
                select(TaskImage).where(TaskImage.task_id == task_id).order_by(TaskImage.position)
            ).all()
            claimed = Claimed(task, [StoredImage(r.role, r.data) for r in rows])
        self._owe_callback(delivery)
        return claimed

    def report_progress(self, task_id: str, progress: float, *, worker: str) -> bool:
        """Record progress and renew the lease; False once the task is not ``worker``'s to run."""
        now = time.time()
        with self.db.session(write=True) as session:
            result = session.execute(
                update(Task)
                .where(*_held_by(task_id, worker))
                .values(
                    progress=round(min(max(progress, 0.0), 1.0), 4),
                    heartbeat_ts=now,
                    updated_ts=now,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, task_id: str, *, worker: str) -> bool:
        """Renew ``worker``'s lease on a running task; False once it is no longer theirs."""
        with self.db.session(write=True) as session:
            result = session.execute(
                update(Task).where(*_held_by(task_id, worker)).values(heartbeat_ts=time.time())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, task_id: str, *, worker: str) -> bool:
        """Hand a running task back to the queue (worker shutting down); the try is not counted."""
        return self._move(
            task_id,
            Status.PENDING,
            guard=_held_by(task_id, worker),
            attempts=Task.attempts - 1,
            progress=0.0,
            worker=None,
            heartbeat_ts=None,
        )

    def status(self, task_id: str) -> str | None:
        with self.db.session() as session:
            return session.scalar(select(Task.status).where(Task.id == task_id))

    def complete(
        self,
        task_id: str,
        *,
        worker: str,
        outputs: Sequence[OutputFile],
        usage: Usage,
        meta: dict[str, Any],
    ) -> bool:
        """Finish ``worker``'s run; False if the task was cancelled or taken over meanwhile."""
        return self._move(
            task_id,
            Status.COMPLETED,
            guard=_held_by(task_id, worker),
            outputs=[item.model_dump(mode="json") for item in outputs],
            usage=usage.model_dump(mode="json"),
            meta=meta,
            progress=1.0,
            finished_ts=time.time(),
        )

    def completed_with(self, task_id: str, outputs: Sequence[OutputFile]) -> bool:
        """Whether the task completed with exactly these files (a commit whose answer was lost)."""
        with self.db.session() as session:
            row = session.execute(
                select(Task.status, Task.outputs).where(Task.id == task_id)
            ).one_or_none()
        stored = [item.model_dump(mode="json") for item in outputs]
        return row is not None and row.status == Status.COMPLETED and row.outputs == stored

    def fail(self, task_id: str, *, code: ErrorCode, message: str, worker: str) -> bool:
        """End ``worker``'s run as failed; False if it was cancelled or taken over meanwhile."""
        return self._move(
            task_id,
            Status.FAILED,
            guard=_held_by(task_id, worker),
            error_code=code.value,
            error_message=message,
            finished_ts=time.time(),
        )

    def retry(self, task_id: str, *, worker: str, reason: str) -> Status | None:
        """Requeue ``worker``'s run that broke (its engine died, or ran out of time).

        The try counts: after ``max_attempts`` the task fails with ``reason``. Answers the status
        the task moved to, None if it was cancelled or taken over meanwhile.
        """
        with self.db.session() as session:
            attempts = session.scalar(select(Task.attempts).where(*_held_by(task_id, worker)))
        if attempts is None:
            return None
        if attempts < self.max_attempts:
            moved = self._move(
                task_id,
                Status.PENDING,
                guard=_held_by(task_id, worker),
                progress=0.0,
                worker=None,
                heartbeat_ts=None,
            )
            return Status.PENDING if moved else None
        message = f"{reason} on try {attempts} of {self.max_attempts}; giving up"
        code = ErrorCode.GENERATION_FAILED
        failed = self.fail(task_id, code=code, message=message, worker=worker)
        return Status.FAILED if failed else None

    def recover(
        self, *, lease_s: float, is_dead: Callable[[str], bool] = lambda _worker: False
    ) -> list[str]:
        """Requeue running tasks whose worker is gone (dead or silent past the lease).

        A task that has used up its attempts fails instead: it keeps killing its workers.
        """
        expired = time.time() - lease_s
        with self.db.session() as session:
            running = session.execute(
                select(Task.id, Task.worker, Task.heartbeat_ts, Task.attempts).where(
                    Task.status == Status.PROCESSING
                )
            ).all()
        requeued = []
        for task_id, worker, beat, attempts in running:
            if (beat or 0.0) >= expired and not (worker and is_dead(worker)):
                continue
            guard = (Task.id == task_id, Task.worker == worker, Task.heartbeat_ts == beat)
            if attempts < self.max_attempts:
                if self._move(
                    task_id,
                    Status.PENDING,
                    guard=guard,
                    progress=0.0,
                    worker=None,
                    heartbeat_ts=None,
                ):
                    requeued.append(task_id)
            else:
                self._move(
                    task_id,
                    Status.FAILED,
                    guard=guard,
                    error_code=ErrorCode.GENERATION_FAILED.value,
                    error_message=f"generation: interrupted {attempts} times "
                    "(its worker stopped mid-task each time); giving up",
                    finished_ts=time.time(),
                )
        return requeued

    def pending_count(self) -> int:
        with self.db.session() as session:
            count = session.scalar(
                select(func.count()).select_from(Task).where(Task.status == Status.PENDING)
            )
        return int(count or 0)

    def pending_ids(self, *, limit: int) -> list[str]:
        """The oldest pending tasks' ids."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Task.id)
                    .where(Task.status == Status.PENDING)
                    .order_by(Task.created_ts, Task.id)
                    .limit(limit)
                ).all()
            )

    def queue_position(self, task: Task) -> int | None:
        """Where a pending task stands in the scheduler's order: 1 runs next.

        Its key's earlier tasks run first; between two of them every other key waiting has one
        turn, and a key served before this one in the current round (see ``next_pending``) has
        one turn more. An estimate while keys' running counts change, exact for a still queue.
        """
        if task.status != Status.PENDING:
            return None
        with self.db.reading() as connection:
            rows = connection.execute(_POLL_BY_ID, {"owner": task.owner, "ref": task.id}).all()
        return _polled(rows)[1] if rows else None

    def read_many(self, ids: Collection[str]) -> dict[str, tuple[Task, int | None]]:
        """Tasks by id with their queue positions, in at most three queries however many.

        What a node's task streams share: one read a period for every task they follow. The
        queries read one snapshot, so a task that changes meanwhile is not read half before.
        """
        if not ids:
            return {}
        with self.db.snapshot() as session:
            tasks = session.scalars(select(Task).where(Task.id.in_(ids))).all()
            waiting = [task for task in tasks if task.status == Status.PENDING]
            ahead: dict[str, int] = {}
            turns: dict[str, tuple[Any, ...]] = {}
            if waiting:
                ahead = _ahead_in_own_queue(session, waiting)
                turns = {str(row[0]): tuple(row[1:]) for row in session.execute(_turn_order())}
        return {
            task.id: (
                task,
                _place(ahead[task.id], owner=task.owner, turns=dict(turns))
                if task.id in ahead
                else None,
            )
            for task in tasks
        }

    def _move(
        self,
        task_id: str,
        new: Status,
        *,
        guard: Sequence[ColumnElement[bool]] = (),
        **values: Any,
    ) -> bool:
        """Change status only along the state machine, guarded against concurrent changes."""
        with self.db.session(write=True) as session:
            current = session.scalar(select(Task.status).where(Task.id == task_id))
            if current is None or not can_move(current, new):
                return False
            result = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == current, *guard)
                .values(status=new, updated_ts=time.time(), **values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            delivery = outbox.enqueue(session, task_id)
        self._owe_callback(delivery)
        return True

    def _owe_callback(self, delivery: str | None) -> None:
        if delivery is not None:
            for listener in self._callback_listeners:
                listener(delivery)


def _turns(tasks: Any) -> list[ColumnElement[Any]]:
    """A key's place in the round, aggregated over its rows in ``tasks`` (lower goes first)."""
    pending = tasks.c.status == Status.PENDING
    return [
        func.sum(case((pending, 1), else_=0)),
        func.sum(case((tasks.c.status == Status.PROCESSING, 1), else_=0)),
        func.coalesce(func.max(tasks.c.started_ts), 0.0),
        func.min(case((pending, tasks.c.created_ts), else_=None)),
    ]


def _turn_order() -> Select[Any]:
    """Per key with tasks waiting: how many wait, and its place in the round (lower first)."""
    return (
        select(Task.owner, *_turns(Task.__table__))
        .where(Task.owner.in_(select(Task.owner).where(Task.status == Status.PENDING)))
        .group_by(Task.owner)
    )


# Statements a poll runs, built once: building one costs more than SQLite takes to run it.
_BY_ID = select(Task).where(Task.owner == bindparam("owner"), Task.id == bindparam("ref"))
_BY_EXTERNAL_ID = select(Task).where(
    Task.owner == bindparam("owner"), Task.external_task_id == bindparam("ref")
)
_TASK_ATTRIBUTES = [column.key for column in Task.__mapper__.column_attrs]


def _poll_statement(by_external_id: bool) -> Select[Any]:
    """A poll as one statement: the caller's task and, while it waits, the queue around it.

    Rows: one per key with tasks waiting (the task's columns repeated beside each) when the task
    waits, else the task beside nulls; a database on another machine is asked once a poll.
    """
    tasks = Task.__table__
    polled, target, other = tasks.alias("polled"), tasks.alias("target"), tasks.alias("other")

    def matching(table: Any) -> ColumnElement[bool]:
        ref = table.c.external_task_id if by_external_id else table.c.id
        return and_(table.c.owner == bindparam("owner"), ref == bindparam("ref"))

    me = (
        select(target.c.owner, target.c.created_ts, target.c.id)
        .where(matching(target), target.c.status == Status.PENDING)
        .subquery("me")
    )
    before_me = and_(
        other.c.status == Status.PENDING,
        other.c.owner == me.c.owner,
        or_(
            other.c.created_ts < me.c.created_ts,
            and_(other.c.created_ts == me.c.created_ts, other.c.id < me.c.id),
        ),
    )
    queue = (
        select(other.c.owner, func.sum(case((before_me, 1), else_=0)), *_turns(other))
        .select_from(other.join(me, true()))
        .where(other.c.owner.in_(select(tasks.c.owner).where(tasks.c.status == Status.PENDING)))
        .group_by(other.c.owner)
        .subquery("queue")
    )
    columns = [polled.c[Task.__mapper__.columns[name].name] for name in _TASK_ATTRIBUTES]
    return (
        select(*columns, *queue.c)
        .select_from(polled.outerjoin(queue, true()))
        .where(matching(polled))
    )


_POLL_BY_ID = _poll_statement(by_external_id=False)
_POLL_BY_EXTERNAL_ID = _poll_statement(by_external_id=True)


def _polled(rows: Sequence[Any]) -> tuple[Task, int | None]:
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


def _find(session: Session, *, owner: str, ref: str) -> Task:
    """The caller's task whose id, else whose external id, is ``ref``."""
    task = session.scalar(_BY_ID, {"owner": owner, "ref": ref})
    if task is None:
        task = session.scalar(_BY_EXTERNAL_ID, {"owner": owner, "ref": ref})
    if task is None:
        raise TaskNotFound(f"task: no task with id or external_task_id {ref!r}")
    return task


def _place(own: int, *, owner: str, turns: dict[str, tuple[Any, ...]]) -> int:
    """A waiting task's place: ``own`` of its key's tasks before it, other keys' by the round."""
    mine = turns.pop(owner, None)
    position = 1 + own
    for pending, *rank in turns.values():
        before_me = mine is None or tuple(rank) < tuple(mine[1:])
        position += min(int(pending), own + 1 if before_me else own)
    return position


def _ahead_in_own_queue(session: Session, waiting: Sequence[Task]) -> dict[str, int]:
    """For each waiting task, how many of its key's waiting tasks come before it."""
    order = func.row_number().over(partition_by=Task.owner, order_by=(Task.created_ts, Task.id))
    ranked = (
        select(Task.id, order.label("place"))
        .where(Task.status == Status.PENDING, Task.owner.in_({t.owner for t in waiting}))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.id, ranked.c.place).where(ranked.c.id.in_([t.id for t in waiting]))
    )
    return {str(task_id): int(place) - 1 for task_id, place in rows}


def _held_by(task_id: str, worker: str) -> tuple[ColumnElement[bool], ...]:
    """The task is running under ``worker``'s lease (not cancelled, not taken over)."""
    return (Task.id == task_id, Task.status == Status.PROCESSING, Task.worker == worker)


def _beyond(created: float, task_id: str, *, ascending: bool) -> ColumnElement[bool]:
    """Tasks after (``created``, ``task_id``) in the listing's order."""
    if ascending:
        return or_(Task.created_ts > created, and_(Task.created_ts == created, Task.id > task_id))
    return or_(Task.created_ts < created, and_(Task.created_ts == created, Task.id < task_id))


def _encode_cursor(task: Task) -> str:
    raw = json.dumps([task.created_ts, task.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
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
