"""Encode one task while the engine renders the next, so the device does not wait for the CPU.

Each worker slot has a ``Finisher``: a thread that conforms, encodes and stores the tasks its
slot has rendered, one at a time and in the order they were rendered. The hand-off is a
rendezvous: a slot hands a rendered task over only once the finisher is free, and takes its next
task only after that, so at most one task's frames wait beside the one the engine is rendering.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Called with the task's id once its finishing work has run (whatever became of the task).
DoneFn = Callable[[str], None]


class Finisher:
    """Runs handed-over work in its own thread, strictly one after another."""

    def __init__(self, *, name: str, on_done: DoneFn | None = None) -> None:
        self._on_done = on_done
        self._free = threading.Semaphore(1)  # released when the finisher can take work
        self._work: queue.SimpleQueue[tuple[str, Callable[[], None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=f"kirin-finisher-{name}")
        self._thread.daemon = True
        self._thread.start()

    def hand_over(self, task_id: str, work: Callable[[], None]) -> None:
        """Wait until the finisher is free, then give it ``work``; returns without running it."""
        self._free.acquire()
        self._work.put((task_id, work))

    def close(self, *, timeout_s: float | None = None) -> bool:
        """Finish what was handed over, then stop; False if it still runs after ``timeout_s``."""
        self._work.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while (item := self._work.get()) is not None:
            task_id, work = item
            started = time.monotonic()
            try:
                work()  # never raises for a task's failure; anything else is a bug to log
                if self._on_done is not None:
                    self._on_done(task_id)
            except Exception:
                log.exception("task %s: finishing broke off", task_id)
            finally:
                self._free.release()
            log.debug("task %s finished in %.2f s", task_id, time.monotonic() - started)
