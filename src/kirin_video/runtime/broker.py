"""Celery over Redis or RabbitMQ: API nodes publish task tickets, workers take them.

A ticket says "a task is waiting", with its id for the logs. The worker that takes one runs the
task the scheduler picks (``TaskService.next_pending``: fair between keys), so a key with a
thousand queued tasks cannot hold back another key's first. The database stays the one source
of truth: a lost ticket is replaced by ``reconcile``, a spare one finds nothing and is done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from sqlalchemy import text

from kirin_video.config import Settings
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import TaskService

log = logging.getLogger(__name__)

RUN_TASK = "kirin.run"
QUEUE = "kirin"
_RECONCILE_LOCK = 0x6B72  # advisory lock scope of reconcile ("kr"): one node at a time


def celery_app(settings: Settings) -> Celery:
    """The Celery app: late acks, one ticket prefetched per worker thread, lost workers rejected."""
    app = Celery("kirin", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_enable_remote_control=False,
    )
    return app


class TicketQueue:
    """Publishes tickets and keeps one waiting in the broker for every pending task."""

    def __init__(self, app: Celery, service: TaskService) -> None:
        self.app = app
        self._service = service

    def publish(self, task_id: str) -> None:
        """Queue a ticket; if the broker is away the task stays pending for ``reconcile``."""
        try:
            self.app.send_task(RUN_TASK, args=[task_id], queue=QUEUE)
        except Exception as exc:
            log.warning("broker unreachable, task %s waits for the next sweep: %s", task_id, exc)

    def publish_all(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            self.publish(task_id)

    def waiting(self) -> int:
        """Tickets in the broker that no worker has taken yet; a queue that does not exist has none.

        The queue is declared as the workers declare it rather than looked up: a wiped Redis (or a
        deleted RabbitMQ queue) has no queue, and the declaration also restores its binding.
        """
        with self.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)  # fail fast, sweep again later
            queue = self.app.amqp.queues[QUEUE].bind(connection.default_channel)
            queue.exchange.declare()
            declared = queue.queue_declare()
            queue.queue_bind()
            return int(declared.message_count)

    def reconcile(self) -> int:
        """Top the queue up to one ticket per pending task; the number of tickets published.

        Only the shortfall (pending minus waiting) is published, by one node at a time, so
        sweeps on any number of nodes at once cannot multiply the queue. When the tickets cannot
        be counted nothing is published (this raises): publishing blind on every sweep would add
        a ticket per pending task each time, without bound, and a broker that cannot be asked
        cannot take tickets either.
        """
        with reconcile_turn(self._service.db) as ours:
            if not ours:
                return 0  # another node is reconciling right now
            missing = self._service.pending_count() - self.waiting()
            if missing <= 0:
                return 0
            task_ids = self._service.pending_ids(limit=missing)
            log.warning("re-queueing %d ticket(s) missing from the broker", len(task_ids))
            self.publish_all(task_ids)
            return len(task_ids)

    def ping(self) -> None:
        """Raise if the broker cannot be reached right now."""
        with self.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)


@contextmanager
def reconcile_turn(db: Database) -> Iterator[bool]:
    """Whether this node holds the reconcile turn until the block ends (never waited for).

    A PostgreSQL advisory lock held by a transaction; on SQLite (one machine) there is no
    cluster to take turns with.
    """
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    with db.session() as session:
        held = session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:scope, 0)"), {"scope": _RECONCILE_LOCK}
        )
        yield bool(held)
