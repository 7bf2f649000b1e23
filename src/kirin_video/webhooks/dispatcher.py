"""Send what the outbox owes: leased from the database, so restarts and crashes lose nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from kirin_video.netpolicy import ABSOLUTE_URL
from kirin_video.tasks import outbox
from kirin_video.tasks.db import Database, log_failure, unreachable
from kirin_video.webhooks.backoff import Backoff
from kirin_video.webhooks.metrics import DELIVERIES
from kirin_video.webhooks.sender import Outcome, Sender
from kirin_video.webhooks.signing import SecretBook, signed_headers

log = logging.getLogger(__name__)

#: The callback body of a delivery: its snapshot rendered by the task's surface, URLs signed now;
#: None where that surface tells its clients nothing of the change (the delivery is dropped).
RenderFn = Callable[[outbox.Due], dict[str, Any] | None]

_LEASE_MARGIN_S = 60.0  # a crashed sender's lease runs out this long after its timeout


def host_key(url: str) -> str:
    """What the per-host limit counts by: the host and port the URL names."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError):
        return ""  # refused without a connection when attempted
    return f"{parsed.host}:{parsed.port or parsed.scheme}"


class _Slots:
    """One lease's view of the free slots: each key's and each host's, counting those it grants."""

    def __init__(self, keys: Counter[str], hosts: Counter[str], *, per_key: int, per_host: int):
        self._keys, self._hosts = Counter(keys), Counter(hosts)
        self._per_key, self._per_host = per_key, per_host

    def key_full(self, owner: str) -> bool:
        return self._keys[owner] >= self._per_key

    def host_full(self, url: str) -> bool:
        return self._hosts[host_key(url)] >= self._per_host

    def take(self, owner: str, url: str) -> None:
        self._keys[owner] += 1
        self._hosts[host_key(url)] += 1


class Dispatcher:
    """A thread running an event loop: bounded concurrency overall, per API key and per host.

    The per-key bound is what keeps one key's stuck receivers from holding every sender while
    the other keys' callbacks wait: what a key cannot use stays free for the others.
    """

    def __init__(
        self,
        *,
        db: Database,
        sender: Sender,
        secrets: SecretBook,
        backoff: Backoff,
        render: RenderFn,
        concurrency: int,
        per_host: int,
        per_key: int,
        poll_s: float,
        timeout_s: float,
    ) -> None:
        self._db = db
        self._sender = sender
        self._secrets = secrets
        self._backoff = backoff
        self._render = render
        self._concurrency = concurrency
        self._per_host = per_host
        self._per_key = per_key
        self._poll_s = poll_s
        self._lease_s = timeout_s + _LEASE_MARGIN_S
        self._busy: Counter[str] = Counter()  # sends in flight per receiving host
        self._busy_keys: Counter[str] = Counter()  # sends in flight per API key
        self._in_flight: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="kirin-webhooks", daemon=True)
        self._thread.start()

    def notify(self, _delivery_id: str | None = None) -> None:
        """Look at the outbox now rather than at the next poll (once stopped: at the next start)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the row waits
            loop.call_soon_threadsafe(wake.set)

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Finish the sends in flight (up to ``timeout_s``); unsent ones stay in the outbox."""
        self._stopping = True
        self.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while not self._stopping:
                await self._dispatch_due()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
                self._wake.clear()
            if self._in_flight:
                await asyncio.wait(self._in_flight)
        finally:
            await self._sender.aclose()

    async def _dispatch_due(self) -> None:
        room = self._concurrency - len(self._in_flight)
        if room <= 0:
            return
        slots = _Slots(self._busy_keys, self._busy, per_key=self._per_key, per_host=self._per_host)
        try:
            due = await asyncio.to_thread(self._lease, room, slots)
        except Exception as exc:  # the database may be briefly unavailable; try at the next poll
            log_failure(log, exc, "webhook outbox: could not lease deliveries", level=logging.ERROR)
            return
        for delivery in due:
            self._start(delivery)

    def _start(self, due: outbox.Due) -> None:
        """Send one leased delivery; only deliveries that can go at once are leased."""
        host = host_key(due.url)
        self._busy[host] += 1
        self._busy_keys[due.owner] += 1
        task = asyncio.create_task(self._deliver(due))
        self._in_flight.add(task)
        task.add_done_callback(lambda done: self._done(done, host, due.owner))

    def _done(self, task: asyncio.Task[None], host: str, owner: str) -> None:
        self._in_flight.discard(task)
        for busy, name in ((self._busy, host), (self._busy_keys, owner)):
            busy[name] -= 1
            if busy[name] <= 0:
                del busy[name]
        self.notify()  # a task's next delivery, or a waiting one of this host or key, may go now

    def _lease(self, limit: int, slots: _Slots) -> list[outbox.Due]:
        with self._db.session(write=True) as session:
            return outbox.lease_due(session, limit=limit, lease_s=self._lease_s, admission=slots)

    async def _deliver(self, due: outbox.Due) -> None:
        try:
            await self._attempt(due)
        except Exception:  # left leased: the delivery is due again when its lease runs out
            log.exception("callback %s: attempt %d broke", due.id, due.attempt)

    async def _attempt(self, due: outbox.Due) -> None:
        try:
            httpx.URL(due.url)
        except (httpx.InvalidURL, UnicodeError):  # stored before create checked URLs
            refused = Outcome(error=f"{ABSOLUTE_URL}: it cannot be parsed")
            await asyncio.to_thread(self._record, due, time.time(), refused.final())
            return
        started = time.time()
        rendered = self._render(due)
        if rendered is None:
            await asyncio.to_thread(self._drop, due)
            return
        body = json.dumps(rendered)
        secret = await asyncio.to_thread(self._secrets.for_owner, due.owner)  # a rotated one too
        headers = {
            **signed_headers(secret=secret, msg_id=due.id, body=body),
            "content-type": "application/json",
            "user-agent": "kirin-video-webhooks",
        }
        outcome = await self._sender.post(due.url, body=body.encode(), headers=headers)
        await self._record_once_reachable(due, started, outcome)

    async def _record_once_reachable(
        self, due: outbox.Due, started: float, outcome: Outcome
    ) -> None:
        """Record a sent attempt, waiting out a database outage: unrecorded, it would go twice."""
        while True:
            try:
                await asyncio.to_thread(self._record, due, started, outcome)
                return
            except Exception as exc:
                if not unreachable(exc) or self._stopping:
                    raise
                log.warning("callback %s: sent, its record waits for the database", due.id)
                await asyncio.sleep(self._poll_s)

    def _drop(self, due: outbox.Due) -> None:
        with self._db.session(write=True) as session:
            outbox.drop(session, due.id)
        log.debug("callback %s: its surface sends nothing for %s", due.id, due.snapshot.status)

    def _record(self, due: outbox.Due, started: float, outcome: Outcome) -> None:
        next_ts = None
        if not outcome.delivered and outcome.retryable:
            delay = self._backoff.delay(due.attempt, retry_after_s=outcome.retry_after_s)
            next_ts = None if delay is None else time.time() + delay
        with self._db.session(write=True) as session:
            outbox.record(
                session,
                due,
                started_ts=started,
                http_status=outcome.http_status,
                error=outcome.error,
                next_attempt_ts=next_ts,
            )
        result = "sent" if outcome.delivered else ("retried" if next_ts else "failed")
        DELIVERIES.labels(result=result).inc()
        if not outcome.delivered:
            log.info("callback %s attempt %d: %s (%s)", due.id, due.attempt, outcome.error, result)
