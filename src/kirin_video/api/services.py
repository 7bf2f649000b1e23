"""The collaborators one app instance works with, built once from settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass

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

    def start(self) -> None:
        """Bring the schema up to date, requeue what a crash interrupted, start working."""
        self.db.migrate()
        self.tasks.recover()
        if self.settings.workers:
            threading.Thread(target=self.engine.warm, name="kirin-warm", daemon=True).start()
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop(timeout_s=60)
        self.db.close()


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    db = Database.from_settings(settings)
    storage = LocalStorage(
        settings.outputs_dir,
        secret=load_or_create_secret(settings.data_dir),
        ttl_s=settings.file_url_ttl_s,
    )
    tasks = TaskService(db, max_attempts=settings.max_attempts)
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
    return Services(
        settings,
        db,
        tasks,
        storage,
        Authenticator(db, settings_keys=settings.api_keys),
        fetcher,
        worker,
        engine,
    )
