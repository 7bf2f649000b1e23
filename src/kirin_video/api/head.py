"""``HEAD`` answers wherever ``GET`` does: the GET's status and headers, and no body.

The routes declare ``GET`` alone, so a load balancer's ``HEAD`` probe met 405. A ``HEAD`` request
runs as the ``GET`` it stands for; its answer's start goes out as the GET's, the body is dropped,
and once the start is out the app is told the client has gone, so a stream or a file ends at once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """Runs ``HEAD`` as ``GET`` and sends the answer's start and an empty end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        started = ended = False

        async def receive_until_started() -> Message:
            return {"type": "http.disconnect"} if started else await receive()

        async def send_head(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
                await send(message)
            elif not ended:
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive_until_started, send_head)
