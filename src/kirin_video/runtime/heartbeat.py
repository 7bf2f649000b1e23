"""A worker's heartbeat: keeps its registry row fresh and renews the lease on its task."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
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
        #: The tasks this slot holds, each with when its lease stops being renewed: the one
        #: rendering and, with overlap, the one still being encoded.
        self._held: dict[str, float | None] = {}
        self._lock = threading.Lock()
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

    @property
    def task_id(self) -> str | None:
        """The task taken last (the one rendering), as the worker registry shows it."""
        with self._lock:
            return next(reversed(self._held), None)

    def hold(self, task_id: str, *, until: float | None = None) -> Callable[[], None]:
        """Renew ``task_id``'s lease until the returned function is called, not past ``until``.

        A run stuck past its deadline then loses its lease, and the sweeper requeues the task.
        Holding and releasing are separate calls so a task can pass from the thread that
        rendered it to the one that encodes it without a beat in which nobody holds it.
        """
        with self._lock:
            self._held[task_id] = until

        def release() -> None:
            with self._lock:
                self._held.pop(task_id, None)

        return release

    @contextmanager
    def running(self, task_id: str, *, until: float | None = None) -> Iterator[None]:
        """Hold ``task_id`` while the block runs (see ``hold``)."""
        release = self.hold(task_id, until=until)
        try:
            yield
        finally:
            release()

    def beat(self) -> None:
        """Once, now: the registry row, and each held task's lease while it is in time."""
        with self._lock:
            held = list(self._held.items())
        self._registry.beat(self.worker, task_id=held[-1][0] if held else None)
        now = time.time()
        for task_id, until in held:
            if until is not None and now > until:
                log.warning("task %s: past its deadline, its lease is no longer renewed", task_id)
                continue
            self._service.renew(task_id, worker=self.worker)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.beat()
            except Exception as exc:  # the database may be away for a moment; the lease is generous
                log_failure(log, exc, f"heartbeat of {self.worker} failed")
