"""A status change after the dispatcher stopped still commits; its callback waits in the outbox."""

from __future__ import annotations

from kirin_video.api.services import build_dispatcher
from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.contract.params import parse_params
from kirin_video.storage.registry import open_storage
from kirin_video.tasks import outbox
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from tests.conftest import b64, make_image

IMAGE = make_image(320, 320)


def test_notify_after_stop_is_harmless(settings: Settings) -> None:
    db = Database.from_settings(settings)
    db.migrate()
    service = TaskService(db)
    dispatcher = build_dispatcher(settings, db, open_storage(settings))
    service.on_callback(dispatcher.notify)
    dispatcher.start()
    dispatcher.notify()
    dispatcher.stop()
    body = {"model": "kirin_v1_6_i2v", "image": b64(IMAGE), "callback_url": "https://h.example/"}
    task = service.create(
        owner="o", request=parse_params(body), images=[StoredImage("first", IMAGE)]
    )
    service.cancel(owner="o", ref=task.id)  # a cancel committing while the node shuts down
    assert service.status(task.id) == Status.CANCELLED
    with db.session() as session:
        [delivery] = outbox.history(session, task.id)
    assert (delivery.event, delivery.state, delivery.attempts) == (Status.CANCELLED, "pending", ())
    db.close()
