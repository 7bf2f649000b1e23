"""The sweeper: gives tasks of dead workers back to the queue and keeps the queue complete."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kirin_video.runtime.identity import is_dead
from kirin_video.tasks.db import log_failure
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.workers import WorkerRegistry

log = logging.getLogger(__name__)


class Sweeper:
    """Runs on every node; each pass is safe to run anywhere, any number of times at once."""

    def __init__(
        self,
        *,
        service: TaskService,
        registry: WorkerRegistry,
        lease_s: float,
        on_requeued: Callable[[list[str]], object],
        reconcile: Callable[[], object] | None = None,
    ) -> None:
        self._service = service
        self._registry = registry
        self._lease_s = lease_s
        self._on_requeued = on_requeued
        self._reconcile = reconcile
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> list[str]:
        """One pass: requeue tasks whose worker died or went silent, then re-queue lost tickets."""
        requeued = self._service.recover(lease_s=self._lease_s, is_dead=is_dead)
        if requeued:
            log.warning("requeued %d task(s) whose worker stopped: %s", len(requeued), requeued)
            self._on_requeued(requeued)
        if self._reconcile is not None:
            try:
                self._reconcile()
            except Exception as exc:  # broker away: tasks wait in the database meanwhile
                log.warning("could not check the broker's queue: %s", exc)
        self._registry.forget_dead(lease_s=self._lease_s)
        return requeued

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="kirin-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        """A pass at once (what a crash left behind), then one every quarter lease."""
        while True:
            try:
                self.sweep()
            except Exception as exc:  # database or broker away: try again next pass
                log_failure(log, exc, "sweep failed")
            if self._stop.wait(self._lease_s / 4):
                return
