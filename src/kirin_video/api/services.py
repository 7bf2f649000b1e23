"""The collaborators one app instance works with, built once from settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from kirin_video.api.ratelimit import RateLimiter
from kirin_video.config import Settings
from kirin_video.contract.catalog import MAX_IMAGE_BYTES
from kirin_video.engines.base import Engine
from kirin_video.media.fetch import Fetcher
from kirin_video.runtime.build import build_node
from kirin_video.runtime.embedded import EmbeddedWorker
from kirin_video.runtime.execute import Runtime
from kirin_video.runtime.sweeper import Sweeper
from kirin_video.storage.base import Storage
from kirin_video.surfaces.registry import render_callback
from kirin_video.surfaces.watch import TaskWatch
from kirin_video.tasks.db import Database
from kirin_video.tasks.keys import Authenticator
from kirin_video.tasks.metrics import TaskMetrics
from kirin_video.tasks.outbox import Due
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.workers import WorkerRegistry
from kirin_video.webhooks.backoff import Backoff
from kirin_video.webhooks.dispatcher import Dispatcher
from kirin_video.webhooks.sender import Sender
from kirin_video.webhooks.signing import SecretBook, server_secret

if TYPE_CHECKING:
    from kirin_video.runtime.broker import TicketQueue

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    runtime: Runtime
    registry: WorkerRegistry
    auth: Authenticator
    fetcher: Fetcher
    dispatcher: Dispatcher
    limiter: RateLimiter
    #: The per-key cap on open task streams, and the one reader of task changes they share.
    streams: TaskWatch
    sweeper: Sweeper
    #: The worker threads of an embedded node; None where Celery workers run the tasks.
    worker: EmbeddedWorker | None
    #: The broker's ticket queue where Celery workers run the tasks.
    queue: TicketQueue | None
    #: Figures read from the database at scrape time (queue depth, tasks, workers, durations).
    metrics: CollectorRegistry

    @property
    def db(self) -> Database:
        return self.runtime.service.db

    @property
    def tasks(self) -> TaskService:
        return self.runtime.service

    @property
    def storage(self) -> Storage:
        return self.runtime.storage

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def start(self) -> None:
        """Bring the schema up to date, requeue what a crash interrupted, start working."""
        self.db.migrate()
        self.sweeper.start()
        if self.worker is not None and self.settings.workers:
            threading.Thread(target=self.engine.warm, name="kirin-warm", daemon=True).start()
            self.worker.start()
        self.dispatcher.start()

    def stop(self) -> None:
        """Finish or hand back running tasks, then stop the background threads."""
        if self.worker is not None:
            self.worker.stop(grace_s=self.settings.shutdown_grace_s)
        self.sweeper.stop()
        self.dispatcher.stop()
        self.runtime.close()
        self.db.close()


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    """An API node: the node's runtime plus what serving HTTP and callbacks needs."""
    node = build_node(settings, engine=engine)
    runtime, db = node.runtime, node.runtime.service.db
    if node.queue is not None and settings.workers:
        log.info("KIRIN_BROKER_URL is set: tasks run on `kirin worker` processes, not here")
    dispatcher = build_dispatcher(settings, db, runtime.storage)
    runtime.service.on_callback(dispatcher.notify)
    return Services(
        settings=settings,
        runtime=runtime,
        registry=node.registry,
        auth=Authenticator(
            db,
            settings_keys=settings.api_keys,
            jwt_max_lifetime_s=settings.jwt_max_lifetime_s,
        ),
        fetcher=Fetcher(
            timeout_s=settings.fetch_timeout_s,
            max_bytes=MAX_IMAGE_BYTES,
            allow_private=settings.allow_private_urls,
        ),
        dispatcher=dispatcher,
        limiter=RateLimiter(settings.rate_limit, storage=settings.rate_limit_storage),
        streams=TaskWatch(
            runtime.service, poll_s=settings.stream_poll_s, per_key=settings.streams_per_key
        ),
        sweeper=node.sweeper,
        worker=node.worker,
        queue=node.queue,
        metrics=task_metrics(settings, db, node.registry),
    )


def task_metrics(settings: Settings, db: Database, registry: WorkerRegistry) -> CollectorRegistry:
    """A registry of this app's own, so several apps in one process do not collide."""
    metrics = CollectorRegistry(auto_describe=False)
    metrics.register(TaskMetrics(db, registry, lease_s=settings.lease_s))
    return metrics


def build_dispatcher(settings: Settings, db: Database, storage: Storage) -> Dispatcher:
    """The callback sender, with the settings' retry policy and address policy."""

    def render(due: Due) -> dict[str, Any] | None:
        base = settings.public_url or due.public_base or "http://localhost"
        return render_callback(
            due.surface, due.snapshot, lambda key: storage.url(key, base_url=base)
        )

    return Dispatcher(
        db=db,
        sender=Sender(
            timeout_s=settings.webhook_timeout_s, allow_private=settings.allow_private_urls
        ),
        secrets=SecretBook(
            db, server_secret=server_secret(settings.webhook_secret, settings.data_dir)
        ),
        backoff=Backoff(
            base_s=settings.webhook_backoff_s,
            factor=settings.webhook_backoff_factor,
            max_s=settings.webhook_backoff_max_s,
            max_attempts=settings.webhook_max_attempts,
        ),
        render=render,
        concurrency=settings.webhook_concurrency,
        per_host=settings.webhook_per_host,
        per_key=settings.webhook_per_key,
        poll_s=settings.webhook_poll_s,
        timeout_s=settings.webhook_timeout_s,
    )
