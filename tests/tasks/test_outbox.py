"""Leasing from the outbox: only what a host can take now, however long another host's queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from kirin_video.config import Settings
from kirin_video.tasks import outbox
from kirin_video.tasks.db import Database
from kirin_video.tasks.snapshot import TaskSnapshot
from kirin_video.tasks.tables import Task, WebhookDelivery

SLOW, FAST = "slow", "fast"


def url(host: str) -> str:
    return f"http://{host}.example/hook"


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database.from_settings(settings)
    database.migrate()
    yield database
    database.close()


def owe(db: Database, n: int, *, host: str, due_ts: float) -> None:
    """``n`` cancelled tasks, each owing one delivery to ``host`` due at ``due_ts``."""
    with db.session(write=True) as session:
        for i in range(n):
            task_id = f"task_{host}_{i}"
            task = Task(
                id=task_id,
                owner="key",
                model="kirin_v1_6_i2v",
                status="cancelled",
                params={},
                seed=0,
                callback_url=url(host),
                meta={},
                created_ts=0.0,
                updated_ts=0.0,
            )
            session.add(task)
            session.flush()
            session.add(
                WebhookDelivery(
                    id=f"msg_{task_id}",
                    task_id=task_id,
                    owner="key",
                    seq=1,
                    event="cancelled",
                    url=url(host),
                    payload=TaskSnapshot.of(task).model_dump(mode="json"),
                    state=outbox.PENDING,
                    attempts=0,
                    next_attempt_ts=due_ts + i * 0.001,
                    created_ts=0.0,
                )
            )


def lease(db: Database, *, limit: int, full: set[str]) -> list[outbox.Due]:
    refused = {url(host) for host in full}
    with db.session(write=True) as session:
        return outbox.lease_due(
            session, limit=limit, lease_s=60.0, admit=lambda target: target not in refused
        )


def test_a_full_host_s_long_queue_neither_fills_the_lease_nor_hides_others(db: Database) -> None:
    owe(db, 250, host=SLOW, due_ts=1.0)  # more than one scan's worth, all due first
    owe(db, 1, host=FAST, due_ts=2.0)
    [due] = lease(db, limit=4, full={SLOW})
    assert due.url == url(FAST)
    assert lease(db, limit=4, full={SLOW}) == []  # the fast one is leased, no slow one was


def test_the_lease_takes_what_the_host_admits_and_no_more(db: Database) -> None:
    owe(db, 5, host=SLOW, due_ts=1.0)
    granted: list[str] = []

    def one_slot(target: str) -> bool:
        granted.append(target)
        return len(granted) == 1

    with db.session(write=True) as session:
        leased = outbox.lease_due(session, limit=5, lease_s=60.0, admit=one_slot)
    assert [d.id for d in leased] == ["msg_task_slow_0"]  # the earliest due
    assert [d.attempt for d in lease(db, limit=5, full=set())] == [1] * 4  # the rest untouched


def test_an_unreadable_snapshot_is_given_up_in_its_history_and_stops_no_other(
    db: Database,
) -> None:
    owe(db, 2, host="a", due_ts=0.0)
    with db.session(write=True) as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == "msg_task_a_0")
            .values(payload={"not": "a snapshot"})
        )
    assert [due.id for due in lease(db, limit=10, full=set())] == ["msg_task_a_1"]
    with db.session() as session:
        (record,) = outbox.history(session, "task_a_0")
    assert record.state == outbox.FAILED
    assert record.attempts[0].error is not None and "unreadable" in record.attempts[0].error
