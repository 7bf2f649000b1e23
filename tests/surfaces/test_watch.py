"""The node's reader of followed tasks: what each follower is told, and when it stops reading."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kirin_video.contract.errors import RateLimited
from kirin_video.contract.params import parse_params
from kirin_video.surfaces.watch import TaskWatch
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from tests.conftest import b64, make_image

IMAGE = make_image(320, 320)
REQUEST = parse_params({"model": "kirin_v1_6_i2v", "image": b64(IMAGE)})


@pytest.fixture
def service(tmp_path: Path) -> TaskService:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    return TaskService(db)


def _create(service: TaskService, owner: str = "a") -> str:
    return service.create(owner=owner, request=REQUEST, images=[StoredImage("first", IMAGE)]).id


def test_followers_see_each_read_and_are_told_when_their_task_is_deleted(
    service: TaskService,
) -> None:
    kept, deleted = _create(service), _create(service)
    watch = TaskWatch(service, poll_s=0.01, per_key=5)

    async def follow() -> None:
        async with watch.follow("a", kept) as stays, watch.follow("a", deleted) as goes:
            found = await stays.next()
            assert found is not None and found[0].id == kept and found[1] == 1
            assert await goes.next() is not None
            await asyncio.to_thread(service.delete, owner="a", ref=deleted)
            while (found := await goes.next()) is not None:
                pass  # reads from before the delete
            assert await stays.next() is not None  # the other goes on
        reader = watch._reader
        await asyncio.sleep(0.05)
        assert reader is not None and reader.done()  # nobody follows: no more reads

    asyncio.run(follow())


def test_a_key_past_its_streams_is_refused_until_one_is_given_back(service: TaskService) -> None:
    watch = TaskWatch(service, poll_s=1.0, per_key=2)
    slots = [watch.open("a"), watch.open("a")]
    with pytest.raises(RateLimited, match="at most 2 open task streams per API key; got 2 open"):
        watch.open("a")
    watch.open("b")  # another key has its own
    slots[0].release()
    slots[0].release()  # once only
    watch.open("a")
    with pytest.raises(RateLimited):
        watch.open("a")
