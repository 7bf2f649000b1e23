"""The worker registry: which workers are alive, what they run, for metrics and operators."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from kirin_video.tasks.db import Database
from kirin_video.tasks.tables import Worker


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    kind: str
    engine: str
    device: str | None
    task_id: str | None
    started_ts: float
    heartbeat_ts: float


class WorkerRegistry:
    """Rows that workers keep fresh; a row silent past the lease is a dead worker."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, worker: str, *, kind: str, engine: str, device: str | None) -> None:
        now = time.time()
        with self.db.session(write=True) as session:
            session.execute(delete(Worker).where(Worker.id == worker))
            session.add(
                Worker(
                    id=worker,
                    kind=kind,
                    engine=engine,
                    device=device,
                    started_ts=now,
                    heartbeat_ts=now,
                )
            )

    def beat(self, worker: str, *, task_id: str | None) -> None:
        """Say this worker is alive and what it runs now."""
        with self.db.session(write=True) as session:
            session.execute(
                update(Worker)
                .where(Worker.id == worker)
                .values(heartbeat_ts=time.time(), task_id=task_id)
            )

    def retire(self, worker: str) -> None:
        with self.db.session(write=True) as session:
            session.execute(delete(Worker).where(Worker.id == worker))

    def alive(self, *, lease_s: float) -> list[WorkerInfo]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Worker).where(Worker.heartbeat_ts >= time.time() - lease_s)
            ).all()
            return [
                WorkerInfo(
                    r.id, r.kind, r.engine, r.device, r.task_id, r.started_ts, r.heartbeat_ts
                )
                for r in rows
            ]

    def forget_dead(self, *, lease_s: float) -> int:
        """Drop rows silent for ten leases, so the table holds only recent workers."""
        with self.db.session(write=True) as session:
            result = session.execute(
                delete(Worker).where(Worker.heartbeat_ts < time.time() - 10 * lease_s)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
