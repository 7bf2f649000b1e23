"""A worker's heartbeat: keeps its registry row fresh and renews the lease on its task."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kirin_video.tasks.db import log_failure
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.workers import WorkerRegistry

log = logging.getLogger(__name__)


class Heartbeat:
    """Beats every ``interval_s`` in its own thread, so a long denoising step keeps the lease."""

    def __init__(
        self,
        worker: str,
        *,
        service: TaskService,
        registry: WorkerRegistry,
        interval_s: float,
    ) -> None:
        self.worker = worker
        self.task_id: str | None = None  # set by the worker loop while it runs one
        self._until: float | None = None
        self._service = service
        self._registry = registry
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, *, kind: str, engine: str, device: str | None) -> None:
        self._registry.register(self.worker, kind=kind, engine=engine, device=device)
        self._thread = threading.Thread(
            target=self._loop, name=f"kirin-heartbeat-{self.worker}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self._registry.retire(self.worker)
        except Exception:
            log.warning("could not retire worker %s from the registry", self.worker)

    @contextmanager
    def running(self, task_id: str, *, until: float | None = None) -> Iterator[None]:
        """Renew ``task_id``'s lease while the block runs, but not past ``until`` (Unix time).

        A run stuck past its deadline then loses its lease, and the sweeper requeues the task.
        """
        self.task_id, self._until = task_id, until
        try:
            yield
        finally:
            self.task_id = self._until = None

    def beat(self) -> None:
        """Once, now: the registry row, and the running task's lease while it is in time."""
        task_id, until = self.task_id, self._until
        self._registry.beat(self.worker, task_id=task_id)
        if task_id is None:
            return
        if until is not None and time.time() > until:
            log.warning("task %s: past its deadline, its lease is no longer renewed", task_id)
            return
        self._service.renew(task_id, worker=self.worker)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.beat()
            except Exception as exc:  # the database may be away for a moment; the lease is generous
                log_failure(log, exc, f"heartbeat of {self.worker} failed")
