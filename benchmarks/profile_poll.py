"""Where a task poll's time goes: the ASGI app in this process, under cProfile; prints tables.

    python benchmarks/profile_poll.py [--requests 2000] [--postgres URL] [--top 25]

Builds the app as `kirin serve` does (no worker), creates one task, then calls
`GET /model/v1/generation/task/{id}` and `GET /healthz` straight through the ASGI interface (no
socket, no HTTP parser), so what is left is the app's own cost: middleware, auth, the rate
limiter, the database reads, the render. Prints CPU microseconds per request of each, then the
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
ROUNDS = 4


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


async def cpu_us(request: Request, count: int) -> float:
    """CPU microseconds of this process (all its threads) per call of ``request``, one at a time.

    CPU time, not wall time: it holds while other programs share the cores.
    """
    started = time.process_time()
    for _ in range(count):
        status = await request()
        assert status == 200, status
    return (time.process_time() - started) / count * 1e6


async def side_by_side(first: Request, second: Request, count: int) -> tuple[float, float]:
    """Both requests' CPU µs per call, measured in alternating rounds after a warm-up."""
    for _ in range(50):  # warm caches and pools
        await first()
        await second()
    totals = [0.0, 0.0]
    for _ in range(ROUNDS):
        totals[0] += await cpu_us(first, count // ROUNDS)
        totals[1] += await cpu_us(second, count // ROUNDS)
    return totals[0] / ROUNDS, totals[1] / ROUNDS


def run_threads_inline() -> None:
    """Make the thread pool call its function in place, so that cProfile sees that work too."""
    import anyio.to_thread

    async def inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = inline  # type: ignore[assignment]


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
        health_us, poll_us = await side_by_side(health, poll, requests)
        print(f"database: {app.state.services.db.engine.dialect.name}")
        print("| request | CPU µs per request (in process) | polls per /healthz |")
        print("|---|---:|---:|")
        print(f"| GET /healthz | {health_us:.0f} | |")
        print(f"| GET {CREATE}/task/{{id}} | {poll_us:.0f} | {poll_us / health_us:.2f} |\n")
        run_threads_inline()
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
