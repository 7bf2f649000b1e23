"""Where a task poll's time goes: the ASGI app in this process, under cProfile; prints tables.

    python benchmarks/profile_poll.py [--requests 2000] [--postgres URL] [--top 25]

Builds the app as `kirin serve` does (no worker), creates one task, then calls
`GET /model/v1/generation/task/{id}` and `GET /healthz` straight through the ASGI interface (no
socket, no HTTP parser), so what is left is the app's own cost: middleware, auth, the rate
limiter, the database reads, the render. Prints microseconds per request of each, then the
poll's profile, the functions that take most time with what they call.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import Message

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.contract.catalog import Model
from kirin_video.tasks.db import Database

KEY = "profile-key"
CREATE = "/model/v1/generation"
Request = Callable[[], Awaitable[int]]


def asgi_call(app: FastAPI, method: str, path: str, body: bytes = b"") -> Request:
    """A request through the ASGI interface, as a server would make it; answers the status."""
    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {KEY}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def call() -> int:
        status = 0
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)  # a real client never disconnects mid-answer here
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        return status

    return call


async def per_request_us(request: Request, count: int) -> float:
    """Mean microseconds of ``count`` calls of ``request``, one at a time."""
    for _ in range(min(50, count)):  # warm caches and pools
        await request()
    started = time.perf_counter()
    for _ in range(count):
        status = await request()
        assert status == 200, status
    return (time.perf_counter() - started) / count * 1e6


def profile_table(stats: pstats.Stats, *, sort: str, top: int) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(sort).print_stats(top)
    return out.getvalue()


async def run(settings: Settings, *, requests: int, top: int) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        body = {"model": Model.I2V.value, "input": [{"params": {"image": tiny_png()}}]}
        created = asgi_call(app, "POST", CREATE, json.dumps(body).encode())
        assert await created() == 200
        task_id = app.state.services.tasks.list_tasks(owner=owner_of(app)).tasks[0].id
        poll = asgi_call(app, "GET", f"{CREATE}/task/{task_id}")
        health = asgi_call(app, "GET", "/healthz")
        health_us = await per_request_us(health, requests)
        poll_us = await per_request_us(poll, requests)
        print(f"database: {app.state.services.db.engine.dialect.name}")
        print("| request | µs per request (in process) | polls per /healthz |")
        print("|---|---:|---:|")
        print(f"| GET /healthz | {health_us:.0f} | |")
        print(f"| GET {CREATE}/task/{{id}} | {poll_us:.0f} | {poll_us / health_us:.2f} |\n")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            await poll()
        profiler.disable()
    stats = pstats.Stats(profiler)
    print(profile_table(stats, sort="tottime", top=top))
    print(profile_table(stats, sort="cumulative", top=top))


def owner_of(app: FastAPI) -> str:
    return str(app.state.services.auth.caller(KEY))


def tiny_png() -> str:
    import base64

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), (90, 120, 150)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) instead of SQLite")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=args.postgres,
            api_keys=[KEY],
            workers=0,
            rate_limit="1000000/second",
            max_unfinished_tasks=100_000_000,
        )
        if args.postgres:
            Database(args.postgres).migrate()
        asyncio.run(run(settings, requests=args.requests, top=args.top))


if __name__ == "__main__":
    main()
