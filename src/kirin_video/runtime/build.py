"""The composition root of a node: what API nodes and ``kirin worker`` processes are built from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from kirin_video.config import Settings
from kirin_video.contract.errors import EngineUnavailable
from kirin_video.engines.base import Engine
from kirin_video.engines.registry import choose_engine, make_engine
from kirin_video.media.encoders import EncoderUnavailable, choose_encoder
from kirin_video.runtime.child import ChildEngine
from kirin_video.runtime.embedded import EmbeddedWorker
from kirin_video.runtime.execute import Runtime
from kirin_video.runtime.sweeper import Sweeper
from kirin_video.storage.registry import open_storage
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.workers import WorkerRegistry

if TYPE_CHECKING:
    from kirin_video.runtime.broker import TicketQueue

log = logging.getLogger(__name__)


@dataclass
class Node:
    """What runs tasks on this node, and what keeps the queue whole."""

    runtime: Runtime
    registry: WorkerRegistry
    sweeper: Sweeper
    #: The worker threads inside this process; None where Celery workers run the tasks.
    worker: EmbeddedWorker | None
    #: The broker's ticket queue where Celery workers run the tasks.
    queue: TicketQueue | None


def build_runtime(
    settings: Settings, *, engine: Engine | None = None, slots: int | None = None
) -> Runtime:
    """Database, task service, storage and engine (loaded lazily by the engine itself)."""
    db = Database.from_settings(settings)
    service = TaskService(
        db, max_attempts=settings.max_attempts, max_unfinished=settings.max_unfinished_tasks
    )
    runtime = Runtime(
        settings=settings,
        service=service,
        storage=open_storage(settings),
        engine=engine or settings_engine(settings, slots=slots or settings.workers),
        encoder=settings_encoder(settings),
    )
    check_engine(settings, runtime)
    return runtime


def check_engine(settings: Settings, runtime: Runtime) -> None:
    """What can be told of the engine before it loads: a bad model path is known at start."""
    if runtime.engine.name != "diffusers":
        return
    from kirin_video.engines.loading import check_source

    try:
        check_source(settings)
    except EngineUnavailable as exc:
        runtime.engine_status.unavailable(exc.message)


def settings_encoder(settings: Settings) -> str:
    """The encoder of ``KIRIN_ENCODER``; one asked for by name that cannot run stops the start."""
    try:
        choice = choose_encoder(settings.encoder)
    except EncoderUnavailable as exc:
        raise RuntimeError(f"KIRIN_ENCODER={settings.encoder}: {exc}; auto falls back") from exc
    log.info("videos are encoded with %s (%s)", choice.codec, choice.reason)
    return choice.codec


def settings_engine(settings: Settings, *, slots: int) -> Engine:
    """The engine of ``KIRIN_ENGINE``, in child processes unless ``KIRIN_ENGINE_CHILD=false``."""
    name = choose_engine(settings)
    if not settings.engine_child:
        return make_engine(name, settings)
    return ChildEngine(
        partial(make_engine, name, settings),
        name=name,
        timeout_s=lambda job: settings.task_timeout(
            mode=job.mode, duration=round(job.geometry.duration)
        ),
        cancel_grace_s=settings.cancel_grace_s,
        slots=slots,
    )


def build_node(
    settings: Settings, *, engine: Engine | None = None, slots: int | None = None
) -> Node:
    """With ``KIRIN_BROKER_URL``: tickets to Celery workers; without: threads in this process.

    ``slots``: tasks run at once here (default ``KIRIN_WORKERS``), one engine process each.
    """
    runtime = build_runtime(settings, engine=engine, slots=slots)
    tasks = runtime.service
    registry = WorkerRegistry(tasks.db)
    worker, queue = None, None
    on_requeued: Callable[[list[str]], object]
    reconcile: Callable[[], object] | None = None
    if settings.broker_url:
        queue = ticket_queue(settings, tasks)
        tasks.on_created(queue.publish)
        on_requeued, reconcile = queue.publish_all, queue.reconcile
    else:
        worker = EmbeddedWorker(runtime, registry=registry, threads=settings.workers)
        tasks.on_created(worker.notify)
        on_requeued = worker.notify
    sweeper = Sweeper(
        service=tasks,
        registry=registry,
        lease_s=settings.lease_s,
        on_requeued=on_requeued,
        reconcile=reconcile,
    )
    return Node(runtime=runtime, registry=registry, sweeper=sweeper, worker=worker, queue=queue)


def ticket_queue(settings: Settings, tasks: TaskService) -> TicketQueue:
    """The broker side (needs the ``cluster`` extra: Celery)."""
    try:
        from kirin_video.runtime.broker import TicketQueue, celery_app
    except ImportError as exc:
        raise RuntimeError(
            "KIRIN_BROKER_URL needs Celery: pip install 'kirin-video[cluster]'"
        ) from exc
    return TicketQueue(celery_app(settings), tasks)
