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
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")

log = logging.getLogger("kirin_video.access")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return char if char.isprintable() else char.encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` with control and unprintable characters escaped (``\\r``, ``\\x1b``, ``\\u2028``).

    What reaches a log line from a request passes through here, so it cannot start a line of its
    own or rewrite the terminal that shows it.
    """
    return _NOT_PLAIN.sub(_escape, text)


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
                    printable(scope["method"]),
                    printable(_sent_path(scope)),
                    message["status"],
                    (time.perf_counter() - started) * 1000,
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current.reset(token)


def _sent_path(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded: ``%0a`` stays three characters."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(scope["path"])
