"""One reader of task changes per node: every open stream's task read in one query a period.

Streams follow tasks through a ``TaskWatch``: it reads all the tasks that are followed at once,
every ``poll_s``, and hands each follower the task as that read found it. However many streams
are open, the database sees the same few queries a period. It also holds each key to a number
of open streams, so one key cannot hold the node's connections and event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError

from kirin_video.contract.errors import RateLimited
from kirin_video.tasks.db import log_failure
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.tables import Task

log = logging.getLogger(__name__)

#: When a refused stream may be tried again: streams end as tasks finish, rarely sooner.
_RETRY_S = 5.0

#: Task ids in one query: thousands of streams still read in a few.
_IDS_PER_READ = 1000

#: What one read found of a followed task: the row and its queue position; None once gone.
Found = tuple[Task, int | None] | None


@dataclass(eq=False)
class Follower:
    """One stream's view of its task: the latest read, flagged until the stream takes it."""

    owner: str
    found: Found = None
    gone: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def see(self, found: Found) -> None:
        if found is None or found[0].owner != self.owner:  # deleted; never another key's
            self.gone = True
        else:
            self.found = found
        self.changed.set()

    async def next(self) -> Found:
        """The task as the next read found it; None once it is gone."""
        await self.changed.wait()
        self.changed.clear()
        return None if self.gone else self.found


class StreamSlot:
    """One open stream counted against its key; released once, however the stream ends."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class TaskWatch:
    """The node's task streams: their per-key cap and the one reader they share."""

    def __init__(self, tasks: TaskService, *, poll_s: float, per_key: int) -> None:
        self._tasks = tasks
        self._poll_s = poll_s
        self._per_key = per_key
        self._open: Counter[str] = Counter()
        self._followers: dict[str, set[Follower]] = {}
        self._reader: asyncio.Task[None] | None = None

    def open(self, owner: str) -> StreamSlot:
        """Count one more open stream of ``owner``; 429 once the key has its number open."""
        if self._open[owner] >= self._per_key:
            raise RateLimited(
                f"streams: at most {self._per_key} open task streams per API key; "
                f"got {self._open[owner]} open already, close one or poll the task instead",
                retry_after_s=_RETRY_S,
                concurrent=True,
            )
        self._open[owner] += 1
        return StreamSlot(lambda: self._close(owner))

    def _close(self, owner: str) -> None:
        self._open[owner] -= 1
        if self._open[owner] <= 0:
            del self._open[owner]

    @contextlib.asynccontextmanager
    async def follow(self, owner: str, task_id: str) -> AsyncIterator[Follower]:
        """Be told of each read of the task while inside; the reader runs while anyone follows."""
        follower = Follower(owner)
        self._followers.setdefault(task_id, set()).add(follower)
        self._ensure_reader()
        try:
            yield follower
        finally:
            followers = self._followers.get(task_id, set())
            followers.discard(follower)
            if not followers:
                self._followers.pop(task_id, None)

    def _ensure_reader(self) -> None:
        reader, loop = self._reader, asyncio.get_running_loop()
        if reader is None or reader.done() or reader.get_loop() is not loop:
            self._reader = loop.create_task(self._read(), name="kirin-task-watch")

    async def _read(self) -> None:
        """Every ``poll_s`` while any stream follows a task: one read of all, handed out."""
        while self._followers:
            await asyncio.sleep(self._poll_s)
            ids = list(self._followers)
            if not ids:
                return
            try:
                found = await run_in_threadpool(self._read_all, ids)
            except Exception as exc:  # an outage: the streams stay open, read next time
                level = logging.WARNING if isinstance(exc, SQLAlchemyError) else logging.ERROR
                log_failure(log, exc, f"task streams: read of {len(ids)} tasks", level=level)
                continue
            for task_id in ids:
                for follower in self._followers.get(task_id, ()):
                    follower.see(found.get(task_id))

    def _read_all(self, ids: list[str]) -> dict[str, tuple[Task, int | None]]:
        """The followed tasks, a bounded number of ids to a query (databases cap parameters)."""
        found: dict[str, tuple[Task, int | None]] = {}
        for start in range(0, len(ids), _IDS_PER_READ):
            found.update(self._tasks.read_many(ids[start : start + _IDS_PER_READ]))
        return found
