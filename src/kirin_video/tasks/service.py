"""Task service: every status change of a task happens here, in one transaction each."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.exc import IntegrityError

from kirin_video.contract import catalog as c
from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import (
    ErrorCode,
    ExternalIdTaken,
    TaskAlreadyFinished,
    TaskNotFound,
)
from kirin_video.contract.params import Params
from kirin_video.tasks import cap, outbox, queue
from kirin_video.tasks.db import Database
from kirin_video.tasks.reads import TaskReads
from kirin_video.tasks.snapshot import OutputFile, Usage
from kirin_video.tasks.states import can_move
from kirin_video.tasks.tables import Task, TaskImage


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


def new_task_id() -> str:
    return "task_" + uuid.uuid4().hex


class TaskService(TaskReads):
    """Creates, cancels, claims and finishes tasks; reads them as ``TaskReads`` does."""

    def __init__(self, db: Database, *, max_attempts: int = 3, max_unfinished: int = 100) -> None:
        super().__init__(db)
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
                cap.hold_room(self.db, session, owner, self.max_unfinished)
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
            cap.refuse_if_full(session, owner, self.max_unfinished)

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

    # 2. Worker side: what the runtime calls.

    def next_pending(self) -> str | None:
        """The next task to run: keys take turns, each key's own oldest first (see ``queue``)."""
        with self.db.session() as session:
            task_id: str | None = session.scalar(queue.NEXT_PENDING)
        return task_id

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
        return self._requeue(task_id, _held_by(task_id, worker), attempts=Task.attempts - 1)

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
        gave_up = f"{reason} on try {attempts} of {self.max_attempts}; giving up"
        return self._again_or_fail(task_id, _held_by(task_id, worker), attempts, gave_up)

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
            gave_up = (
                f"generation: interrupted {attempts} times "
                "(its worker stopped mid-task each time); giving up"
            )
            if self._again_or_fail(task_id, guard, attempts, gave_up) is Status.PENDING:
                requeued.append(task_id)
        return requeued

    def _again_or_fail(
        self, task_id: str, guard: Sequence[ColumnElement[bool]], attempts: int, gave_up: str
    ) -> Status | None:
        """Requeue a broken run, or after ``max_attempts`` tries fail it with ``gave_up``."""
        if attempts < self.max_attempts:
            return Status.PENDING if self._requeue(task_id, guard) else None
        failed = self._move(
            task_id,
            Status.FAILED,
            guard=guard,
            error_code=ErrorCode.GENERATION_FAILED.value,
            error_message=gave_up,
            finished_ts=time.time(),
        )
        return Status.FAILED if failed else None

    def _requeue(self, task_id: str, guard: Sequence[ColumnElement[bool]], **values: Any) -> bool:
        """Back to the queue: the one way a task returns to pending, leaseless and from zero."""
        return self._move(
            task_id,
            Status.PENDING,
            guard=guard,
            progress=0.0,
            worker=None,
            heartbeat_ts=None,
            **values,
        )

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


def _held_by(task_id: str, worker: str) -> tuple[ColumnElement[bool], ...]:
    """The task is running under ``worker``'s lease (not cancelled, not taken over)."""
    return (Task.id == task_id, Task.status == Status.PROCESSING, Task.worker == worker)
