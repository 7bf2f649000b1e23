"""Reads of tasks, which change nothing: a poll, a listing, a stream's batch, the runtime's checks.

``TaskService`` adds every status change on top of these.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kirin_video.contract import catalog as c
from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import InvalidRequest, TaskNotFound
from kirin_video.tasks import outbox, paging, queue
from kirin_video.tasks.db import Database
from kirin_video.tasks.paging import Page
from kirin_video.tasks.snapshot import OutputFile
from kirin_video.tasks.tables import Task


class TaskReads:
    """Gets, polls, lists and counts tasks; every read is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, *, owner: str, ref: str) -> Task:
        """A task by id or by the caller's external id; another caller's task is not found."""
        with self.db.session() as session:
            return _find(session, owner=owner, ref=ref)

    def read(self, *, owner: str, ref: str) -> tuple[Task, int | None]:
        """A task (detached) and, while it waits, its queue position: a poll's one transaction.

        Read as rows on a plain connection: a poll is most of a node's load, and an ORM session
        and its loading cost several times what the database takes to answer.
        """
        values = {"owner": owner, "ref": ref}
        with self.db.reading() as connection:
            rows = connection.execute(queue.POLL_BY_ID, values).all()
            if not rows:
                rows = connection.execute(queue.POLL_BY_EXTERNAL_ID, values).all()
        if not rows:
            raise TaskNotFound(f"task: no task with id or external_task_id {ref!r}")
        return queue.polled(rows)

    def queue_position(self, task: Task) -> int | None:
        """Where a pending task stands in the fair queue's order (``queue``): 1 runs next."""
        if task.status != Status.PENDING:
            return None
        with self.db.reading() as connection:
            values = {"owner": task.owner, "ref": task.id}
            rows = connection.execute(queue.POLL_BY_ID, values).all()
        return queue.polled(rows)[1] if rows else None

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
            places = queue.positions(session, waiting)
        return {task.id: (task, places.get(task.id)) for task in tasks}

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
        start = None
        if cursor:
            start = paging.decode_cursor(cursor)
        elif after:
            start = self._position(owner, after)
        query = paging.listing(
            owner, statuses=statuses, model=model, start=start, ascending=ascending
        )
        with self.db.session() as session:
            tasks = list(session.scalars(query.limit(limit + 1)).all())
        return paging.page_of(tasks, limit=limit)

    def _position(self, owner: str, task_id: str) -> tuple[float, str]:
        """Where the caller's task ``task_id`` stands in the listing order."""
        with self.db.session() as session:
            created = session.scalar(paging.created_of(owner, task_id))
        if created is None:
            raise InvalidRequest(
                f"after: must be the id of one of your tasks (the last of a previous page); "
                f"got {task_id[:60]!r}"
            )
        return created, task_id

    def page(self, *, owner: str, model: str, number: int, size: int) -> list[Task]:
        """Page ``number`` (from 1) of the caller's tasks of one model, newest first."""
        query = paging.numbered(owner=owner, model=model, number=number, size=size)
        with self.db.session() as session:
            return list(session.scalars(query).all())

    def callbacks(self, *, owner: str, ref: str) -> list[outbox.DeliveryRecord]:
        """The task's callback deliveries, oldest first, each with its attempts."""
        task = self.get(owner=owner, ref=ref)
        with self.db.session() as session:
            return outbox.history(session, task.id)

    def status(self, task_id: str) -> str | None:
        with self.db.session() as session:
            return session.scalar(select(Task.status).where(Task.id == task_id))

    def completed_with(self, task_id: str, outputs: Sequence[OutputFile]) -> bool:
        """Whether the task completed with exactly these files (a commit whose answer was lost)."""
        with self.db.session() as session:
            row = session.execute(
                select(Task.status, Task.outputs).where(Task.id == task_id)
            ).one_or_none()
        stored = [item.model_dump(mode="json") for item in outputs]
        return row is not None and row.status == Status.COMPLETED and row.outputs == stored

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


# Built once: building a statement costs more than SQLite takes to run it.
_BY_ID = select(Task).where(Task.owner == bindparam("owner"), Task.id == bindparam("ref"))
_BY_EXTERNAL_ID = select(Task).where(
    Task.owner == bindparam("owner"), Task.external_task_id == bindparam("ref")
)


def _find(session: Session, *, owner: str, ref: str) -> Task:
    """The caller's task whose id, else whose external id, is ``ref``."""
    task = session.scalar(_BY_ID, {"owner": owner, "ref": ref})
    if task is None:
        task = session.scalar(_BY_EXTERNAL_ID, {"owner": owner, "ref": ref})
    if task is None:
        raise TaskNotFound(f"task: no task with id or external_task_id {ref!r}")
    return task
