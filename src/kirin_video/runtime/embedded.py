"""The worker inside the server process: threads that execute pending tasks one at a time each."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class EmbeddedWorker:
    """Polls the database for pending tasks; ``notify`` wakes it as soon as one is created."""

    def __init__(
        self,
        *,
        next_task: Callable[[], str | None],
        run: Callable[[str], None],
        threads: int = 1,
        idle_wait_s: float = 1.0,
    ) -> None:
        self._next_task = next_task
        self._run = run
        self._threads = threads
        self._idle_wait_s = idle_wait_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        """Start ``threads`` loops; zero makes an API-only node that leaves tasks to others."""
        for index in range(self._threads):
            thread = threading.Thread(target=self._loop, name=f"kirin-worker-{index}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def notify(self, _task_id: str | None = None) -> None:
        self._wake.set()

    def stop(self, *, timeout_s: float | None = None) -> None:
        """Stop taking tasks; a task in progress is finished first (or requeued at next start)."""
        self._stop.set()
        self._wake.set()
        for thread in self._workers:
            thread.join(timeout_s)
        self._workers.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                task_id = self._next_task()
                if task_id is None:
                    self._wake.wait(self._idle_wait_s)
                    self._wake.clear()
                    continue
                self._run(task_id)
            except Exception:  # a broken database connection must not kill the worker
                log.exception("embedded worker loop error")
                self._stop.wait(self._idle_wait_s)
