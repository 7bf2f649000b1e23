"""The outbox: deliveries written in each status change's transaction, leased and recorded.

A delivery keeps the task's snapshot, not a wire shape: the dispatcher renders it through the
task's surface, with freshly signed URLs, each time it sends.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from kirin_video.contract.catalog import Status
from kirin_video.tasks.snapshot import TaskSnapshot
from kirin_video.tasks.tables import Task, WebhookAttempt, WebhookDelivery

#: The status changes a client is told about (a requeue to pending is internal).
EVENTS = frozenset({Status.PROCESSING, Status.COMPLETED, Status.FAILED, Status.CANCELLED})

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Due:
    """A leased delivery, with what sending it needs."""

    id: str
    task_id: str
    owner: str
    url: str
    snapshot: TaskSnapshot
    attempt: int  # this attempt's number, from 1
    public_base: str | None
    surface: str  # the API the task was created through: the body speaks it


def enqueue(session: Session, task_id: str) -> str | None:
    """Write the delivery for the task's current status, in the caller's transaction."""
    task = session.get_one(Task, task_id, populate_existing=True)
    if not task.callback_url or task.status not in EVENTS:
        return None
    seq = session.scalar(
        select(func.coalesce(func.max(WebhookDelivery.seq), 0)).where(
            WebhookDelivery.task_id == task_id
        )
    )
    now = time.time()
    delivery = WebhookDelivery(
        id="msg_" + uuid.uuid4().hex,
        task_id=task_id,
        owner=task.owner,
        seq=int(seq or 0) + 1,
        event=task.status,
        url=task.callback_url,
        payload=TaskSnapshot.of(task).model_dump(mode="json"),
        state=PENDING,
        attempts=0,
        next_attempt_ts=now,
        created_ts=now,
    )
    session.add(delivery)
    return delivery.id


#: Due rows read per query while looking for ones whose key and host have room.
_SCAN = 100


class Admission(Protocol):
    """The dispatcher's free slots for one lease: per API key and per receiving host."""

    def key_full(self, owner: str) -> bool: ...
    def host_full(self, url: str) -> bool: ...
    def take(self, owner: str, url: str) -> None: ...


def lease_due(session: Session, *, limit: int, lease_s: float, admission: Admission) -> list[Due]:
    """Take up to ``limit`` due deliveries, each the earliest unsent one of its task.

    A key or a URL's host without room is skipped in SQL from then on, so one key's or one
    host's long queue neither fills the lease nor hides the deliveries of others.
    """
    now = time.time()
    leased: list[Due] = []
    full_keys: set[str] = set()
    full_urls: set[str] = set()
    while len(leased) < limit:
        rows = _due_rows(session, now=now, skip_keys=full_keys, skip_urls=full_urls)
        for delivery, public_base, surface in rows:
            if len(leased) == limit:
                break
            if delivery.owner in full_keys or delivery.url in full_urls:
                continue
            if admission.key_full(delivery.owner):
                full_keys.add(delivery.owner)
                continue
            if admission.host_full(delivery.url):
                full_urls.add(delivery.url)
                continue
            due = _take(
                session, delivery, public_base=public_base, surface=surface, until=now + lease_s
            )
            if due is not None:
                admission.take(due.owner, due.url)
                leased.append(due)
        if len(rows) < _SCAN:  # every due row has been seen
            break
    return leased


def _due_rows(
    session: Session, *, now: float, skip_keys: set[str], skip_urls: set[str]
) -> list[Any]:
    """Due deliveries not waiting on an earlier one of their task, bar skipped keys and URLs."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        and_(
            earlier.task_id == WebhookDelivery.task_id,
            earlier.seq < WebhookDelivery.seq,
            earlier.state == PENDING,
        )
    )
    query = (
        select(WebhookDelivery, Task.public_base, Task.surface)
        .join(Task, Task.id == WebhookDelivery.task_id)
        .where(
            WebhookDelivery.state == PENDING,
            WebhookDelivery.next_attempt_ts <= now,
            ~blocked,
        )
        .order_by(WebhookDelivery.next_attempt_ts)
        .limit(_SCAN)
    )
    if skip_keys:
        query = query.where(WebhookDelivery.owner.not_in(skip_keys))
    if skip_urls:
        query = query.where(WebhookDelivery.url.not_in(skip_urls))
    return list(session.execute(query).all())


def _take(
    session: Session,
    delivery: WebhookDelivery,
    *,
    public_base: str | None,
    surface: str,
    until: float,
) -> Due | None:
    """Lease one delivery, unless another dispatcher took it since it was read."""
    try:
        snapshot = TaskSnapshot.model_validate(delivery.payload)
    except ValidationError as exc:  # one unreadable row must not stop every other callback
        _give_up_unreadable(session, delivery, exc)
        return None
    due = Due(
        id=delivery.id,
        task_id=delivery.task_id,
        owner=delivery.owner,
        url=delivery.url,
        snapshot=snapshot,
        attempt=delivery.attempts + 1,
        public_base=public_base,
        surface=surface,
    )
    taken = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.attempts == delivery.attempts,  # nobody leased it meanwhile
        )
        .values(next_attempt_ts=until, attempts=due.attempt)
        .execution_options(synchronize_session=False)
    )
    return due if taken.rowcount == 1 else None  # type: ignore[attr-defined]


def _give_up_unreadable(session: Session, delivery: WebhookDelivery, exc: ValidationError) -> None:
    """Fail a delivery whose stored snapshot cannot be read, saying so in its history."""
    log.error("callback %s: stored task snapshot unreadable, given up: %s", delivery.id, exc)
    now = time.time()
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts + 1,
            started_ts=now,
            duration_ms=0,
            http_status=None,
            error=f"not sent: the stored task snapshot is unreadable ({exc.error_count()} errors)",
            next_attempt_ts=None,
        )
    )
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(state=FAILED, finished_ts=now, attempts=delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )


def drop(session: Session, delivery_id: str) -> None:
    """Remove a delivery that its task's surface has no body for: nothing was owed."""
    session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .execution_options(synchronize_session=False)
    )


def record(
    session: Session,
    due: Due,
    *,
    started_ts: float,
    http_status: int | None,
    error: str | None,
    next_attempt_ts: float | None,
) -> None:
    """Keep the attempt; the delivery is done, failed for good, or due again later."""
    now = time.time()
    session.add(
        WebhookAttempt(
            delivery_id=due.id,
            number=due.attempt,
            started_ts=started_ts,
            duration_ms=int((now - started_ts) * 1000),
            http_status=http_status,
            error=error,
            next_attempt_ts=next_attempt_ts,
        )
    )
    if error is None:
        values: dict[str, Any] = {"state": DELIVERED, "finished_ts": now}
    elif next_attempt_ts is None:
        values = {"state": FAILED, "finished_ts": now}
    else:
        values = {"next_attempt_ts": next_attempt_ts}
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == due.id).values(**values))


@dataclass(frozen=True)
class AttemptRecord:
    started_ts: float
    duration_ms: int
    http_status: int | None
    error: str | None


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery as a client may see it: the change it reports, where, and how it went."""

    id: str
    event: Status
    url: str
    state: str
    next_attempt_ts: float | None  # only while pending
    attempts: tuple[AttemptRecord, ...]


def history(session: Session, task_id: str) -> list[DeliveryRecord]:
    """Every delivery of a task, oldest first, with its attempts."""
    deliveries = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.task_id == task_id)
        .order_by(WebhookDelivery.seq)
    ).all()
    return [_record_of(session, delivery) for delivery in deliveries]


def _record_of(session: Session, delivery: WebhookDelivery) -> DeliveryRecord:
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(WebhookAttempt.number)
    ).all()
    return DeliveryRecord(
        id=delivery.id,
        event=Status(delivery.event),
        url=delivery.url,
        state=delivery.state,
        next_attempt_ts=delivery.next_attempt_ts if delivery.state == PENDING else None,
        attempts=tuple(
            AttemptRecord(
                started_ts=a.started_ts,
                duration_ms=a.duration_ms,
                http_status=a.http_status,
                error=a.error,
            )
            for a in attempts
        ),
    )
