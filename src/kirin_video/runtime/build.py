"""Build what a worker needs from settings: the one place API nodes and workers share."""

from __future__ import annotations

from kirin_video.config import Settings
from kirin_video.engines.base import Engine
from kirin_video.engines.registry import load_engine
from kirin_video.runtime.execute import Runtime
from kirin_video.storage.registry import open_storage
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import TaskService


def build_runtime(settings: Settings, *, engine: Engine | None = None) -> Runtime:
    """Database, task service, storage and engine (loaded lazily by the engine itself)."""
    db = Database.from_settings(settings)
    service = TaskService(
        db, max_attempts=settings.max_attempts, max_unfinished=settings.max_unfinished_tasks
    )
    return Runtime(
        settings=settings,
        service=service,
        storage=open_storage(settings),
        engine=engine or load_engine(settings),
    )
