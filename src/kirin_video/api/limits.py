"""Request body limit, enforced while reading so an oversized body is never buffered.

The limit is raised from ``receive``, inside the route that reads the body, so the surface that
matched answers it in its own envelope; a declared ``Content-Length`` over the limit is refused
at the first read, before any of the body is taken.

A refused answer is held back before its last (empty) body message while the rest of the body is
read and dropped, for at most ``drain_s`` and ``drain_bytes`` (nginx's "lingering close"): a
server that closes with request bytes unread makes the kernel reset the connection, and a client
that sends its whole body before reading (urllib, requests, httpx) then loses the answer. The
answer says ``Connection: close``. A client that sent ``Expect: 100-continue`` and was refused on
its ``Content-Length`` was never told to go on, so nothing is drained for it.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirin_video.contract.errors import RequestTooLarge
from kirin_video.surfaces.registry import DEFAULT

#: How long, and how much, a refused request's remaining body is read and dropped.
DRAIN_S = 5.0
DRAIN_BYTES = 256 * 1024 * 1024


class BodyLimitMiddleware:
    """Raises ``RequestTooLarge`` (413 / ``8002005016``) once a body passes ``max_bytes``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        drain_s: float = DRAIN_S,
        drain_bytes: int = DRAIN_BYTES,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_s = drain_s
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(self, scope, receive, send)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except RequestTooLarge as exc:  # read outside any surface's route
            if exchange.started:
                raise
            await DEFAULT.answer(exc)(scope, receive, exchange.send)


class _Exchange:
    """One request: counts its body, refuses past the limit, drains before the answer's end."""

    def __init__(self, limits: BodyLimitMiddleware, scope: Scope, receive: Receive, send: Send):
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        self.declared = int(declared) if declared.isdigit() else None
        self.expects_continue = headers.get(b"expect", b"").lower() == b"100-continue"
        self.limits = limits
        self._receive = receive
        self._send = send
        self.received = 0
        self.asked = False  # the body was asked for (the server's 100 Continue went out)
        self.finished = False  # the client's last body message, or its disconnect, was read
        self.started = False
        self.refused: RequestTooLarge | None = None

    def _refuse(self, got: str) -> RequestTooLarge:
        limit = self.limits.max_bytes
        self.refused = RequestTooLarge(f"body: must be at most {limit} bytes; got {got}")
        return self.refused

    async def receive(self) -> Message:
        """The app's ``receive``: refuses a declared or counted size over the limit."""
        if self.refused is not None:
            raise self.refused
        if self.declared is not None and self.declared > self.limits.max_bytes:
            raise self._refuse(f"{self.declared} bytes")
        message = await self._pull()
        if self.received > self.limits.max_bytes:
            raise self._refuse(f"more than {self.limits.max_bytes} bytes")
        return message

    async def _pull(self) -> Message:
        self.asked = True
        message = await self._receive()
        self.received += len(message.get("body", b""))
        self.finished = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        """The app's ``send``: a refusal closes the connection, after draining the body."""
        starts = message["type"] == "http.response.start"
        self.started = self.started or starts
        if self.refused is not None and starts:
            headers = [*message.get("headers", []), (b"connection", b"close")]
            message = {**message, "headers": headers}
        elif self.refused is not None and not message.get("more_body", False):  # its last body
            await self._send({**message, "more_body": True})
            await self._drain()
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await self._send(message)

    async def _drain(self) -> None:
        """Reads and drops what the client still sends, up to the time and size bounds."""
        if self.expects_continue and not self.asked:
            return
        start = self.received
        try:
            async with asyncio.timeout(self.limits.drain_s):
                while not self.finished and self.received - start < self.limits.drain_bytes:
                    await self._pull()
        except TimeoutError:
            pass
