"""Leasing from the outbox: only what a key and a host can take now, however long others' queues."""

from __future__ import annotations

from collections.abc import Collection, Iterator

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


class Slots:
    """Room for ``per_key`` sends of each key and ``per_host`` to each URL, none for ``full``."""

    def __init__(
        self, *, full: Collection[str] = (), per_key: int = 99, per_host: int = 99
    ) -> None:
        self.full, self.per_key, self.per_host = set(full), per_key, per_host
        self.taken: list[tuple[str, str]] = []

    def key_full(self, owner: str) -> bool:
        return owner in self.full or sum(o == owner for o, _ in self.taken) >= self.per_key

    def host_full(self, target: str) -> bool:
        return target in self.full or sum(u == target for _, u in self.taken) >= self.per_host

    def take(self, owner: str, target: str) -> None:
        self.taken.append((owner, target))


def owe(db: Database, n: int, *, host: str, due_ts: float, owner: str = "key") -> None:
    """``n`` cancelled tasks of ``owner``, each owing one delivery to ``host`` due at ``due_ts``."""
    with db.session(write=True) as session:
        for i in range(n):
            task_id = f"task_{host}_{i}"
            task = Task(
                id=task_id,
                owner=owner,
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
                    owner=owner,
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


def lease(
    db: Database, *, limit: int, full: Collection[str] = (), slots: Slots | None = None
) -> list[outbox.Due]:
    """What one lease takes; ``full`` names hosts and keys that have no room."""
    chosen = slots or Slots(full={url(host) for host in full} | set(full))
    with db.session(write=True) as session:
        return outbox.lease_due(session, limit=limit, lease_s=60.0, admission=chosen)


def test_a_full_host_s_long_queue_neither_fills_the_lease_nor_hides_others(db: Database) -> None:
    owe(db, 250, host=SLOW, due_ts=1.0)  # more than one scan's worth, all due first
    owe(db, 1, host=FAST, due_ts=2.0)
    [due] = lease(db, limit=4, full={SLOW})
    assert due.url == url(FAST)
    assert lease(db, limit=4, full={SLOW}) == []  # the fast one is leased, no slow one was


def test_the_lease_takes_what_the_host_admits_and_no_more(db: Database) -> None:
    owe(db, 5, host=SLOW, due_ts=1.0)
    leased = lease(db, limit=5, full=set(), slots=Slots(per_host=1))
    assert [d.id for d in leased] == ["msg_task_slow_0"]  # the earliest due
    assert [d.attempt for d in lease(db, limit=5, full=set())] == [1] * 4  # the rest untouched


def test_a_key_at_its_share_leaves_the_lease_to_other_keys(db: Database) -> None:
    for n in range(6):  # one key owes more than a scan's worth, on six hosts, all due first
        owe(db, 50, host=f"stuck{n}", due_ts=1.0, owner="greedy")
    owe(db, 1, host=FAST, due_ts=2.0, owner="other")
    leased = lease(db, limit=16, slots=Slots(per_key=4, per_host=4))
    assert [d.owner for d in leased] == ["greedy"] * 4 + ["other"]
    assert lease(db, limit=16, full={"greedy"}) == []  # the other key's one was leased


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
