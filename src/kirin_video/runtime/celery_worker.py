"""A Celery worker process: loads its engine once, then runs one task per ticket it takes."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from celery import signals

from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.runtime.broker import QUEUE, RUN_TASK
from kirin_video.runtime.build import build_node
from kirin_video.runtime.execute import Runtime
from kirin_video.runtime.handoff import DoneFn
from kirin_video.runtime.identity import worker_name
from kirin_video.runtime.slot import Slot
from kirin_video.tasks.workers import WorkerRegistry

log = logging.getLogger(__name__)


def run_worker(settings: Settings, *, concurrency: int = 1) -> None:
    """Serve tickets from the broker until told to stop (SIGTERM: finish or hand back)."""
    node = build_node(settings, slots=concurrency)
    runtime, registry, tickets = node.runtime, node.registry, node.queue
    assert tickets is not None  # a worker is only started with KIRIN_BROKER_URL set
    runtime.service.db.migrate()
    app = tickets.app

    def republish(task_id: str) -> None:
        if runtime.service.status(task_id) == Status.PENDING:
            tickets.publish(task_id)  # handed back or to be tried again: a worker takes it now

    slots = _slots(runtime, registry, concurrency, on_done=republish)
    free: queue.SimpleQueue[Slot] = queue.SimpleQueue()
    for slot in slots:
        free.put(slot)

    @app.task(name=RUN_TASK)  # type: ignore[untyped-decorator]
    def run(ticket: str) -> None:
        slot = free.get()
        try:
            ran = slot.run_next(runtime)
            log.info("ticket %s: ran %s", ticket, ran or "nothing (no task waiting)")
            if ran is not None:  # handed back or to be tried again while rendering
                republish(ran)
        finally:
            free.put(slot)

    def shutting_down(**_: Any) -> None:
        log.info(
            "shutting down: %.0f s to finish, then running tasks go back", settings.shutdown_grace_s
        )
        timer = threading.Timer(settings.shutdown_grace_s, runtime.hand_back.set)
        timer.daemon = True
        timer.start()

    signals.worker_shutting_down.connect(shutting_down, weak=False)
    sweeper = node.sweeper
    runtime.engine.warm()
    for slot in slots:
        slot.heartbeat.start(kind="celery", engine=runtime.engine.name, device=settings.device)
    sweeper.start()
    try:
        app.worker_main(_argv(settings, concurrency))
    finally:
        for slot in slots:  # the last tasks rendered; hand_back is set past the grace
            slot.close_finisher()
        sweeper.stop()
        for slot in slots:
            slot.heartbeat.stop()
        runtime.close()
        runtime.service.db.close()


def _slots(
    runtime: Runtime, registry: WorkerRegistry, concurrency: int, *, on_done: DoneFn
) -> list[Slot]:
    """One slot per concurrent task, each with its own name."""
    return [
        Slot.build(
            runtime,
            registry,
            worker=worker_name(f"c{index}" if concurrency > 1 else None),
            label=f"c{index}",
            on_done=on_done,
        )
        for index in range(concurrency)
    ]


def _argv(settings: Settings, concurrency: int) -> list[str]:
    """A thread per slot, the engine shared in this process.

    Threads even for one slot: the solo pool runs the task on the consumer's own loop, which then
    neither answers the broker while a task runs nor, on RabbitMQ, takes a ticket published by
    this process's sweeper in time (observed: one such ticket waited ten seconds).
    """
    return [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency}",
        f"--queues={QUEUE}",
        f"--hostname=kirin@{worker_name()}",
        f"--loglevel={settings.log_level.upper()}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--optimization=fair",
    ]
