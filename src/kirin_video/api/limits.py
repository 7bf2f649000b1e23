"""Request body limit, enforced while reading so an oversized body is never buffered."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirin_video.api.kling_envelope import error_body, is_kling_path
from kirin_video.contract.errors import RequestTooLarge
from kirin_video.contract.kling import HTTP_STATUS, kling_code


class BodyLimitMiddleware:
    """Answers 413 / ``8002005016`` once a body passes ``max_bytes``."""

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
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, self._error(int(declared), declared=True), path=scope["path"])
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
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
        except RequestTooLarge as exc:
            if started:
                raise
            await _refuse(send, exc, path=scope["path"])


async def _refuse(send: Send, error: RequestTooLarge, *, path: str) -> None:
    """413 in the contract's shape, or Kling's 400 / 1200 on its routes."""
    status, body = error.http_status, {"error": error.to_dict()}
    if is_kling_path(path):
        code = kling_code(error)
        status, body = HTTP_STATUS[code], error_body(code, error.message)
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
