"""The connections `kirin serve` holds: deadlines for a request's head and body, and a bound.

uvicorn alone waits for ever for a request's head and takes every connection it is offered, so
sockets that send nothing, or a byte now and then, use up the process's open files and then
nobody is answered. Here each connection gets a deadline for its request head (from the moment it
opens, or from its last answer when kept alive), a body that stops arriving is cut, and the number
of open connections is bounded below the open-file limit:

- at the bound, a new connection closes the one that has waited longest for a request head
  (nginx's "reusable" connections): sockets that send nothing make room for those that do;
- when every connection has a request in hand, the new one is answered 503 at once, in the
  default surface's envelope, and closed after a short linger so the client reads the answer.

The listener's backlog is also how many connections the event loop accepts in one go before any
of them is seen here, so it is kept small and counted in the margin below the file limit.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from kirin_video.config import Settings
from kirin_video.contract.errors import ProviderUnavailable
from kirin_video.surfaces.registry import DEFAULT

log = logging.getLogger(__name__)

#: A file limit reported as unlimited is read as this many.
UNLIMITED_FILES = 1 << 20
#: The most connections the derived bound allows; a higher one must be set.
DEFAULT_CEILING = 4096
#: How long a refused connection is kept open while its 503 goes out.
LINGER_S = 2.0
#: The guard's own log lines (refusals, evictions, cuts): at most one of each per this many s.
LOG_EVERY_S = 10.0


@dataclass(frozen=True)
class ConnectionLimits:
    """What one server holds: its deadlines, its bound and how much it accepts at once."""

    header_timeout_s: float
    body_timeout_s: float
    max_connections: int
    #: The listener's queue, also the connections accepted in one turn of the event loop.
    backlog: int
    #: Refused connections kept open at once while their 503 goes out; beyond it, closed unread.
    max_refusing: int
    file_limit: int


def open_file_limit() -> int:
    """The process's soft limit on open files (``ulimit -n``)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return UNLIMITED_FILES if soft == resource.RLIM_INFINITY else soft


def derive_limits(settings: Settings, *, file_limit: int | None = None) -> ConnectionLimits:
    """The bound from the file limit, less what the process needs besides its connections.

    Reserved: an eighth of the limit (at least 64) for the database, logs, the engine's child and
    outbound calls; three backlogs accepted before the guard sees them; the refusals lingering.
    """
    files = open_file_limit() if file_limit is None else file_limit
    backlog = min(max(files // 16, 8), 1024)
    reserve = max(64, files // 8)
    room = files - reserve - 3 * backlog - backlog
    derived = min(max(room, 1), DEFAULT_CEILING)
    return ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        max_connections=settings.max_connections or derived,
        backlog=backlog,
        max_refusing=backlog,
        file_limit=files,
    )


class _Tally:
    """Counts one kind of event and logs it at most once per ``LOG_EVERY_S``: a flood is a line."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0
        self.next_at = 0.0

    def add(self, limits: ConnectionLimits) -> None:
        self.count += 1
        now = time.monotonic()
        if now >= self.next_at:
            log.warning(
                "connections: %s (%d since the last such line; bound %d, file limit %d)",
                self.what,
                self.count,
                limits.max_connections,
                limits.file_limit,
            )
            self.count, self.next_at = 0, now + LOG_EVERY_S


def busy_answer(limits: ConnectionLimits) -> bytes:
    """The whole HTTP answer to a connection beyond the bound: 503 in the default envelope."""
    refusal = ProviderUnavailable(
        f"connections: at most {limits.max_connections} at once, and every one has a request "
        "in progress; retry shortly",
        retry_after_s=1,
    )
    response = DEFAULT.answer(refusal)
    head = [b"HTTP/1.1 503 Service Unavailable"]
    head += [name + b": " + value for name, value in response.raw_headers]
    head += [b"connection: close", b"", b""]
    return b"\r\n".join(head) + bytes(response.body)


class ConnectionGuard:
    """The connections of one server: which are open, which wait for a request head, and since."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open: set[GuardedProtocol] = set()
        #: Connections waiting for a request head, longest-waiting first.
        self.waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()
        self.refusing = 0
        self.answer = busy_answer(limits)
        self.refused = _Tally("every connection busy, answered 503")
        self.dropped = _Tally("too many refusals lingering, closed unanswered")
        self.evicted = _Tally("at the bound, closed the connection longest without a request")
        self.cut = _Tally("closed connections past the head or body deadline")

    def admit(self) -> bool:
        """Room for one more: under the bound, or by closing the longest-waiting idle one."""
        if len(self.open) < self.limits.max_connections:
            return True
        if not self.waiting:
            return False
        oldest, _ = self.waiting.popitem(last=False)
        self.open.discard(oldest)
        oldest.transport.close()
        self.evicted.add(self.limits)
        return True

    def refuse(self, transport: asyncio.Transport) -> None:
        """Answers 503 and lingers, or closes at once when too many refusals linger already."""
        if self.refusing >= self.limits.max_refusing:
            transport.abort()
            self.dropped.add(self.limits)
            return
        refusal = _Refusal(self)
        transport.set_protocol(refusal)
        refusal.connection_made(transport)
        self.refused.add(self.limits)


class _Refusal(asyncio.Protocol):
    """A connection beyond the bound: the 503 at once, then what the client sends is dropped."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.guard.refusing += 1
        transport.write(self.guard.answer)
        if transport.can_write_eof():
            transport.write_eof()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        """Read and dropped: closing with request bytes unread would reset the answer away."""

    def eof_received(self) -> bool:
        return False  # the client is done: the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.refusing -= 1
        if self.timer is not None:
            self.timer.cancel()


Phase = Literal["head", "body", "app"]


class GuardedProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with deadlines for the request head and body, and the bound."""

    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: Phase = "head"
        self._deadline = 0.0
        self._last_data = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._watched: RequestResponseCycle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if not self.guard.admit():
            self.guard.refuse(transport)
            return
        super().connection_made(transport)
        self.guard.open.add(self)
        self._wait_for_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self.guard.open.discard(self)
        self.guard.waiting.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_data = self.loop.time()
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request's cycle
        if self.transport.is_closing():
            return
        self._wait_for_head()
        self._follow()

    def _wait_for_head(self) -> None:
        """A request head must arrive in ``header_timeout_s``; until then the connection may go."""
        self._phase = "head"
        self.guard.waiting[self] = None
        self.guard.waiting.move_to_end(self)
        self._deadline = self.loop.time() + self.guard.limits.header_timeout_s
        self._arm(self.guard.limits.header_timeout_s)

    def _follow(self) -> None:
        """A new request's head arrived: its body is watched, then the app takes its own time."""
        cycle = self.cycle
        if self._phase != "head" or cycle is None or cycle is self._watched:
            return
        self._watched = cycle
        self.guard.waiting.pop(self, None)
        if cycle.more_body:
            self._phase = "body"
            self._arm(self.guard.limits.body_timeout_s)
        else:
            self._phase = "app"
            self._stop_timer()

    def _on_timer(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._phase == "head":
            left = self._deadline - now
        elif self._watched is not None and self._watched.more_body:
            if self.flow.read_paused or self._watched.waiting_for_100_continue:
                self._last_data = now  # the app has not read yet: the client waits on us
            left = self._last_data + self.guard.limits.body_timeout_s - now
        else:
            self._phase = "app"
            return
        if left > 0:
            self._arm(left)
            return
        self.guard.cut.add(self.guard.limits)
        self.transport.close()

    def _arm(self, delay: float) -> None:
        self._stop_timer()
        self._timer = self.loop.call_later(delay, self._on_timer)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedProtocol]:
    """The protocol class for one server, sharing one guard between its connections."""
    return type("ServerProtocol", (GuardedProtocol,), {"guard": ConnectionGuard(limits)})
