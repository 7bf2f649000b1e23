"""Request body limit, enforced while reading so an oversized body is never buffered.

The limit is raised from ``receive``, inside the route that reads the body, so the surface that
matched answers it in its own envelope; a declared ``Content-Length`` over the limit is refused
at the first read, before any of the body is taken.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirin_video.contract.errors import RequestTooLarge
from kirin_video.surfaces.registry import DEFAULT


class BodyLimitMiddleware:
    """Raises ``RequestTooLarge`` (413 / ``8002005016``) once a body passes ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self, size: int, *, declared: bool) -> RequestTooLarge:
        sent = f"{size} bytes" if declared else f"more than {self.max_bytes} bytes"
        return RequestTooLarge(f"body: must be at most {self.max_bytes} bytes; got {sent}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        too_large = declared.isdigit() and int(declared) > self.max_bytes
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                raise self._error(int(declared), declared=True)
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._error(received, declared=False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLarge as exc:  # read outside any surface's route
            if started:
                raise
            await DEFAULT.answer(exc)(scope, receive, send)
