"""The worker inside the server process: threads that execute pending tasks one at a time each."""

from __future__ import annotations

import logging
import threading
import time

from kirin_video.runtime.execute import Runtime
from kirin_video.runtime.identity import worker_name
from kirin_video.runtime.slot import Slot
from kirin_video.tasks.db import log_failure
from kirin_video.tasks.workers import WorkerRegistry

log = logging.getLogger(__name__)


class EmbeddedWorker:
    """Polls the database for pending tasks; ``notify`` wakes it as soon as one is created."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        registry: WorkerRegistry,
        threads: int = 1,
        idle_wait_s: float = 1.0,
    ) -> None:
        self._runtime = runtime
        self._registry = registry
        self._threads = threads
        self._idle_wait_s = idle_wait_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._workers: list[tuple[threading.Thread, Slot]] = []

    def start(self) -> None:
        """Start ``threads`` loops; zero makes an API-only node that leaves tasks to others."""
        runtime = self._runtime
        for index in range(self._threads):
            label = f"t{index}"
            slot = Slot.build(runtime, self._registry, worker=worker_name(label), label=label)
            slot.heartbeat.start(kind="embedded", engine=runtime.engine.name, device=None)
            thread = threading.Thread(
                target=self._loop, args=(slot,), name=f"kirin-worker-{index}", daemon=True
            )
            thread.start()
            self._workers.append((thread, slot))

    def notify(self, _tasks: object = None) -> None:
        """Wake an idle thread: a task was created (or several were requeued)."""
        self._wake.set()

    def stop(self, *, grace_s: float) -> None:
        """Stop taking tasks; running ones get ``grace_s`` to finish, then go back queued."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + grace_s
        if not self._drain(until=deadline):
            self._runtime.hand_back.set()
            self._drain(until=time.monotonic() + 30)
        for _, slot in self._workers:
            slot.heartbeat.stop()
        self._workers.clear()

    def _drain(self, *, until: float) -> bool:
        """Wait for the loops, then their finishers, until ``until``; True if all stopped."""
        for thread, _ in self._workers:
            thread.join(max(0.0, until - time.monotonic()))
        if any(thread.is_alive() for thread, _ in self._workers):
            return False
        return all(
            slot.close_finisher(timeout_s=max(0.0, until - time.monotonic()))
            for _, slot in self._workers
        )

    def _loop(self, slot: Slot) -> None:
        while not self._stop.is_set():
            try:
                if slot.run_next(self._runtime) is None:
                    self._wake.wait(self._idle_wait_s)
                    self._wake.clear()
            except Exception as exc:  # a broken database connection must not kill the worker
                log_failure(log, exc, "embedded worker loop", level=logging.ERROR)
                self._stop.wait(self._idle_wait_s)
