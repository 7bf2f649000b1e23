"""``X-Request-Id``: echoed on every answer (made when absent) and carried by every log line."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirin_video.surfaces.context import request_id as current

HEADER = "x-request-id"
_ACCEPTED = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII: safe to echo and to log

log = logging.getLogger("kirin_video.access")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record, so formatters can show it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get() or "-"
        return True


class RequestIdMiddleware:
    """Takes the client's id (or makes one), answers with it, and logs the request under it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        request_id = sent if _ACCEPTED.fullmatch(sent) else uuid.uuid4().hex
        token = current.set(request_id)
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
                log.info(
                    "%s %s -> %d in %.1f ms",
                    scope["method"],
                    scope["path"],
                    message["status"],
                    (time.perf_counter() - started) * 1000,
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current.reset(token)
