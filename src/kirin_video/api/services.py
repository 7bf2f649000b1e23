"""The collaborators one app instance works with, built once from settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kirin_video.api.ratelimit import RateLimiter
from kirin_video.config import Settings
from kirin_video.contract.catalog import MAX_IMAGE_BYTES
from kirin_video.engines.base import Engine
from kirin_video.engines.registry import load_engine
from kirin_video.media.fetch import Fetcher
from kirin_video.runtime.embedded import EmbeddedWorker
from kirin_video.runtime.execute import Runtime, execute
from kirin_video.storage.local import LocalStorage, load_or_create_secret
from kirin_video.tasks.db import Database
from kirin_video.tasks.keys import Authenticator
from kirin_video.tasks.service import TaskService
from kirin_video.webhooks.backoff import Backoff
from kirin_video.webhooks.dispatcher import Dispatcher
from kirin_video.webhooks.sender import Sender
from kirin_video.webhooks.signing import SecretBook, server_secret


@dataclass
class Services:
    settings: Settings
    db: Database
    tasks: TaskService
    storage: LocalStorage
    auth: Authenticator
    fetcher: Fetcher
    worker: EmbeddedWorker
    engine: Engine
    dispatcher: Dispatcher
    limiter: RateLimiter

    def start(self) -> None:
        """Bring the schema up to date, requeue what a crash interrupted, start working."""
        self.db.migrate()
        self.tasks.recover()
        if self.settings.workers:
            threading.Thread(target=self.engine.warm, name="kirin-warm", daemon=True).start()
        self.worker.start()
        self.dispatcher.start()

    def stop(self) -> None:
        self.worker.stop(timeout_s=60)
        self.dispatcher.stop()
        self.db.close()


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    db = Database.from_settings(settings)
    storage = LocalStorage(
        settings.outputs_dir,
        secret=load_or_create_secret(settings.data_dir),
        ttl_s=settings.file_url_ttl_s,
    )
    tasks = TaskService(
        db, max_attempts=settings.max_attempts, max_unfinished=settings.max_unfinished_tasks
    )
    engine = engine or load_engine(settings)
    runtime = Runtime(settings=settings, service=tasks, storage=storage, engine=engine)
    worker = EmbeddedWorker(
        next_task=tasks.next_pending,
        run=lambda task_id: execute(task_id, runtime),
        threads=settings.workers,
    )
    tasks.on_created(worker.notify)
    fetcher = Fetcher(
        timeout_s=settings.fetch_timeout_s,
        max_bytes=MAX_IMAGE_BYTES,
        allow_private=settings.allow_private_urls,
    )
    dispatcher = build_dispatcher(settings, db, storage)
    tasks.on_callback(dispatcher.notify)
    return Services(
        settings,
        db,
        tasks,
        storage,
        Authenticator(db, settings_keys=settings.api_keys),
        fetcher,
        worker,
        engine,
        dispatcher,
        RateLimiter(settings.rate_limit, storage=settings.rate_limit_storage),
    )


def build_dispatcher(settings: Settings, db: Database, storage: LocalStorage) -> Dispatcher:
    """The callback sender, with the settings' retry policy and address policy."""

    def url_for(key: str, public_base: str | None) -> str:
        base = settings.public_url or public_base or "http://localhost"
        return storage.url(key, base_url=base)

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
        url_for=url_for,
        concurrency=settings.webhook_concurrency,
        per_host=settings.webhook_per_host,
        poll_s=settings.webhook_poll_s,
        timeout_s=settings.webhook_timeout_s,
    )
