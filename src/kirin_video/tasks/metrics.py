"""Prometheus metrics read from the database at scrape time, so every API node sees the cluster."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, case, func, select

from kirin_video.contract.catalog import Status
from kirin_video.tasks.db import Database
from kirin_video.tasks.tables import Task
from kirin_video.tasks.workers import WorkerRegistry

RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)
WAIT_BUCKETS = (0.1, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class TaskMetrics(Collector):
    """Queue depth, tasks by status, workers alive, run and wait time of completed tasks."""

    def __init__(self, db: Database, registry: WorkerRegistry, *, lease_s: float) -> None:
        self._db = db
        self._registry = registry
        self._lease_s = lease_s

    def collect(self) -> Iterator[Metric]:
        counts = self._counts()
        tasks = GaugeMetricFamily("kirin_tasks", "Tasks by status", labels=["status"])
        for status in Status:
            tasks.add_metric([status.value], counts.get(status.value, 0))
        yield tasks
        yield GaugeMetricFamily(
            "kirin_queue_depth",
            "Pending tasks waiting for a worker",
            value=counts.get(Status.PENDING.value, 0),
        )
        workers = GaugeMetricFamily(
            "kirin_workers", "Workers with a fresh heartbeat", labels=["kind", "engine"]
        )
        alive: dict[tuple[str, str], int] = {}
        for worker in self._registry.alive(lease_s=self._lease_s):
            alive[(worker.kind, worker.engine)] = alive.get((worker.kind, worker.engine), 0) + 1
        for labels, count in sorted(alive.items()):
            workers.add_metric(list(labels), count)
        yield workers
        yield self._histogram(
            "kirin_task_run_seconds",
            "Claim to completion of completed tasks",
            Task.finished_ts - Task.started_ts,
            RUN_BUCKETS,
        )
        yield self._histogram(
            "kirin_task_wait_seconds",
            "Creation to last claim of completed tasks",
            Task.started_ts - Task.created_ts,
            WAIT_BUCKETS,
        )

    def _counts(self) -> dict[str, int]:
        with self._db.session() as session:
            rows = session.execute(select(Task.status, func.count()).group_by(Task.status)).all()
        return {status: int(count) for status, count in rows}

    def _histogram(
        self,
        name: str,
        documentation: str,
        seconds: ColumnElement[float | None],
        bounds: tuple[float, ...],
    ) -> HistogramMetricFamily:
        columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in bounds]
        with self._db.session() as session:
            row = session.execute(
                select(func.count(), func.sum(seconds), *columns).where(
                    Task.status == Status.COMPLETED, Task.started_ts.is_not(None)
                )
            ).one()
        count, total, *cumulative = row
        buckets = [(str(bound), int(n or 0)) for bound, n in zip(bounds, cumulative, strict=True)]
        buckets.append(("+Inf", int(count or 0)))
        return HistogramMetricFamily(
            name, documentation, buckets=buckets, sum_value=float(total or 0.0)
        )
