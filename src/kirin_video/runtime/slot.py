"""A worker slot: what runs one task at a time, in the server's threads or a Celery worker."""

from __future__ import annotations

from dataclasses import dataclass

from kirin_video.runtime.execute import Runtime, execute_next
from kirin_video.runtime.handoff import DoneFn, Finisher
from kirin_video.runtime.heartbeat import Heartbeat
from kirin_video.tasks.workers import WorkerRegistry


@dataclass
class Slot:
    """The lease holder of a slot's runs and, with the overlap, the thread that encodes them."""

    heartbeat: Heartbeat
    finisher: Finisher | None

    @classmethod
    def build(
        cls,
        runtime: Runtime,
        registry: WorkerRegistry,
        *,
        worker: str,
        label: str,
        on_done: DoneFn | None = None,
    ) -> Slot:
        """A slot named ``worker`` in the registry; ``label`` names its finisher thread."""
        heartbeat = Heartbeat(
            worker,
            service=runtime.service,
            registry=registry,
            interval_s=runtime.settings.lease_s / 4,
        )
        overlap = runtime.settings.overlap
        return cls(heartbeat, Finisher(name=label, on_done=on_done) if overlap else None)

    def run_next(self, runtime: Runtime) -> str | None:
        """Run the task the scheduler picks next; None when none is waiting."""
        return execute_next(runtime, self.heartbeat, finisher=self.finisher)

    def close_finisher(self, *, timeout_s: float | None = None) -> bool:
        """Finish what was handed over; False if it still runs after ``timeout_s``."""
        return self.finisher is None or self.finisher.close(timeout_s=timeout_s)
