"""A status change after the dispatcher stopped still commits; its callback waits in the outbox."""

from __future__ import annotations

from kirin_video.api.services import build_dispatcher
from kirin_video.config import Settings
from kirin_video.storage.registry import open_storage
from kirin_video.tasks.db import Database


def test_notify_after_stop_is_harmless(settings: Settings) -> None:
    db = Database.from_settings(settings)
    db.migrate()
    dispatcher = build_dispatcher(settings, db, open_storage(settings))
    dispatcher.start()
    dispatcher.notify()
    dispatcher.stop()
    dispatcher.notify("msg_after_stop")  # a cancel committing while the node shuts down
    db.close()
