"""Many clients creating, polling, listing and cancelling at once; then proof that no task leaked.

    python benchmarks/load.py [--clients 16] [--seconds 30] [--image-size 320] [--workers 0]

Starts `kirin serve` (SQLite in a temporary data dir, the preview engine, the embedded worker off
unless --workers) and a callback receiver, both on 127.0.0.1, and runs the clients for a fixed
time. Then it checks every task a client was told about against the API and the database: each
accepted task is there exactly once under its id and its external_task_id, and no task exists that
no client was told about, except those whose create got no answer; every cancel answered 200 is
stored, and every callback owed for a cancelled task reached the receiver, for that task. Exit
status 1 if any of that fails or if any request was answered with a 5xx.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image
from sqlalchemy import create_engine, select

from kirin_video.contract.catalog import MIN_IMAGE_SIDE, Model, Status
from kirin_video.tasks.tables import Task

KEY = "load-key"
SERVE = [sys.executable, "-m", "kirin_video.cli", "serve"]
KINDS = {
    "create": "POST /model/v1/generation",
    "get": "GET /model/v1/generation/task/{id}",
    "list": "GET /model/v1/generation?limit=20",
    "cancel": "POST /model/v1/generation/task/{id}/cancel",
}
LIST_EVERY = 5  # every 5th task of a client is followed by a list
GENERATION = "/model/v1/generation"
CANCEL_EVERY = 3  # every 3rd task is cancelled after its polls
CALLBACK_EVERY = 2  # every 2nd task has a callback_url; the others omit it
RESOLVE_TRIES = 30  # GETs per id after the run, when the server's rate limit answers 429
#: The server's own abuse limits are lifted so that the clients load the API, not the limiter;
#: pass --env KIRIN_RATE_LIMIT=20/second (for example) to load the limiter instead.
LIFTED_LIMITS = {"KIRIN_RATE_LIMIT": "1000000/second", "KIRIN_MAX_UNFINISHED_TASKS": "1000000"}


def small_png(side: int) -> str:
    """A smooth side×side picture: a valid input that costs the server little to decode."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    pixels = np.stack([x * 255, y * 255, (1 - x) * y * 255], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def stop(process: subprocess.Popen[Any]) -> None:
    """Ask a server to stop, as an operator would; kill it if it is still there after 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """`kirin serve` on a loopback port for the block; its log goes to the data dir."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*SERVE, "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, "KIRIN_DATA_DIR": str(data_dir), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process, log_path)
            yield url
        finally:
            stop(process)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"server did not start:\n{log_path.read_text()[-3000:]}")


@dataclass
class Callbacks:
    """What the loopback receiver got: (external id in the URL path, task id in the body)."""

    received: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def callback_receiver(callbacks: Callbacks) -> Iterator[str]:
    """A tiny HTTP receiver on 127.0.0.1 that answers 204 and records each callback."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            external_id = self.path.rsplit("/", 1)[-1]
            task_id = str(json.loads(body).get("id"))
            with callbacks.lock:
                callbacks.received.append((external_id, task_id))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    finally:
        receiver.shutdown()
        receiver.server_close()


@dataclass
class Tally:
    """Everything the clients saw, shared between their threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    accepted: dict[str, str] = field(default_factory=dict)  # external id -> the id answered
    unanswered: set[str] = field(default_factory=set)  # external ids whose create got no answer
    with_callback: set[str] = field(default_factory=set)  # external ids sent with a callback_url
    cancelled: set[str] = field(default_factory=set)  # task ids whose cancel answered 200
    wrong_answers: list[str] = field(default_factory=list)  # a GET answered another task
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        """Send one request, record its latency and any error; None when no answer came."""
        start = time.perf_counter()
        try:
            response = send()
        except httpx.TransportError as exc:
            reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport"
            with self.lock:
                self.errors[kind][reason] += 1
            return None
        elapsed = time.perf_counter() - start
        with self.lock:
            self.latencies[kind].append(elapsed)
            if response.status_code != 200:
                self.errors[kind][str(response.status_code)] += 1
        back_off(response)
        return response


def back_off(response: httpx.Response) -> None:
    """Honour a 429's Retry-After like a polite client, but at most 1 s so runs end on time."""
    if response.status_code == 429:
        time.sleep(min(1.0, float(response.headers.get("Retry-After", 1))))


def client_loop(
    number: int,
    *,
    url: str,
    image: str,
    callback_base: str,
    tally: Tally,
    stop_at: float,
    polls: int,
    max_tasks: int,
    timeout_s: float,
) -> None:
    """One client: create, poll, sometimes list and cancel, until the time or its budget is up."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=timeout_s) as client:
        for i in range(max_tasks):
            if time.perf_counter() >= stop_at:
                return
            external_id = f"load-{number}-{i}"
            callback = f"{callback_base}/{external_id}" if i % CALLBACK_EVERY == 0 else None
            task_id = _create(
                client, tally, external_id=external_id, image=image, callback=callback
            )
            if task_id is None:
                continue
            for _ in range(polls):
                _poll(client, tally, task_id)
            if i % LIST_EVERY == LIST_EVERY - 1:
                tally.timed("list", lambda: client.get(GENERATION, params={"limit": 20}))
            if i % CANCEL_EVERY == CANCEL_EVERY - 1:
                _cancel(client, tally, task_id)


def _create(
    client: httpx.Client, tally: Tally, *, external_id: str, image: str, callback: str | None
) -> str | None:
    params = {"image": image, "external_task_id": external_id}
    if callback is not None:
        params["callback_url"] = callback
        with tally.lock:
            tally.with_callback.add(external_id)
    body = {"model": Model.I2V.value, "input": [{"params": params}]}
    response = tally.timed("create", lambda: client.post(GENERATION, json=body))
    if response is None:
        with tally.lock:
            tally.unanswered.add(external_id)
        return None
    if response.status_code != 200:
        return None
    task_id = str(response.json()["id"])
    with tally.lock:
        tally.accepted[external_id] = task_id
    return task_id


def _poll(client: httpx.Client, tally: Tally, task_id: str) -> None:
    response = tally.timed("get", lambda: client.get(f"{GENERATION}/task/{task_id}"))
    if response is not None and response.status_code == 200 and response.json()["id"] != task_id:
        with tally.lock:
            tally.wrong_answers.append(task_id)


def _cancel(client: httpx.Client, tally: Tally, task_id: str) -> None:
    response = tally.timed("cancel", lambda: client.post(f"{GENERATION}/task/{task_id}/cancel"))
    if response is not None and response.status_code == 200:
        with tally.lock:
            tally.cancelled.add(task_id)


def unresolved(url: str, accepted: dict[str, str], *, timeout_s: float) -> list[str]:
    """Ids a client was given that GET does not answer with that same task and external id."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=timeout_s) as client:

        def resolves(item: tuple[str, str]) -> bool:
            external_id, task_id = item
            for _ in range(RESOLVE_TRIES):
                try:
                    response = client.get(f"{GENERATION}/task/{task_id}")
                except httpx.TransportError:
                    return False
                if response.status_code != 429:
                    break
                back_off(response)
            if response.status_code != 200:
                return False
            task = response.json()
            return bool(task["id"] == task_id and task.get("external_task_id") == external_id)

        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(resolves, accepted.items()))
    return [task_id for task_id, ok in zip(accepted.values(), answers, strict=True) if not ok]


def wait_for_callbacks(callbacks: Callbacks, expected: set[str], *, timeout_s: float) -> None:
    """Give the server a moment to deliver the callbacks it owes (cancels with a callback_url)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with callbacks.lock:
            if expected <= {external_id for external_id, _ in callbacks.received}:
                return
        time.sleep(0.1)


@dataclass(frozen=True)
class Integrity:
    """The accepted tasks against the database and the API; `ok` is the verdict."""

    accepted: int
    present: int
    missing: list[str]  # accepted ids without a row carrying that id and external id
    duplicated: list[str]  # ids or external ids on more than one row
    unresolved: list[str]  # accepted ids that GET did not answer with the same task
    unknown: list[str]  # rows no client was told about, not from an unanswered create
    from_unanswered: int  # rows whose create got no answer (client-side timeout): reported only
    unanswered: int
    cancelled: int  # cancels answered 200
    not_cancelled: list[str]  # cancel answered 200 but the row is not cancelled
    wrong_answers: list[str]  # a GET during the run answered another task
    callbacks_expected: int
    callbacks_received: int
    wrong_callbacks: int  # a callback whose body is not the task its URL was made for

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.duplicated
            or self.unresolved
            or self.unknown
            or self.not_cancelled
            or self.wrong_answers
            or self.wrong_callbacks
            or self.callbacks_received < self.callbacks_expected
        )


def audit(
    db_path: Path, tally: Tally, callbacks: Callbacks, *, unresolved_ids: list[str]
) -> Integrity:
    """Read every task row straight from SQLite and compare it with what the clients were told."""
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Task.id, Task.external_task_id, Task.status)).all()
    finally:
        engine.dispose()
    by_id = Counter(row.id for row in rows)
    by_external = Counter(row.external_task_id for row in rows if row.external_task_id)
    pairs = {(row.id, row.external_task_id) for row in rows}
    status = {row.id: row.status for row in rows}
    told = set(tally.accepted.values())
    strays = [row for row in rows if row.id not in told]
    missing = [t for e, t in tally.accepted.items() if (t, e) not in pairs]
    expected_callbacks = {e for e, t in tally.accepted.items() if t in tally.cancelled}
    expected_callbacks &= tally.with_callback
    return Integrity(
        accepted=len(tally.accepted),
        present=len(tally.accepted) - len(missing),
        missing=missing,
        duplicated=[k for counts in (by_id, by_external) for k, n in counts.items() if n > 1],
        unresolved=unresolved_ids,
        unknown=[row.id for row in strays if row.external_task_id not in tally.unanswered],
        from_unanswered=sum(row.external_task_id in tally.unanswered for row in strays),
        unanswered=len(tally.unanswered),
        cancelled=len(tally.cancelled),
        not_cancelled=[t for t in tally.cancelled if status.get(t) != Status.CANCELLED],
        wrong_answers=list(tally.wrong_answers),
        callbacks_expected=len(expected_callbacks),
        callbacks_received=len({e for e, _ in callbacks.received} & expected_callbacks),
        wrong_callbacks=sum(_wrong_callback(e, t, tally) for e, t in callbacks.received),
    )


def _wrong_callback(external_id: str, task_id: str, tally: Tally) -> bool:
    """A callback for another task than the one its URL was made for (unanswered ones unknown)."""
    if external_id in tally.unanswered:
        return False
    return tally.accepted.get(external_id) != task_id


@dataclass(frozen=True)
class KindStats:
    count: int  # sent, answered or not
    per_s: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]  # HTTP status (or "timeout", "transport") -> count


@dataclass(frozen=True)
class Report:
    """One run: the load the clients produced and the integrity verdict."""

    clients: int
    seconds: float  # measured wall time of the load phase
    workers: int
    image_bytes: int
    kinds: dict[str, KindStats]
    integrity: Integrity

    @property
    def requests(self) -> int:
        return sum(stats.count for stats in self.kinds.values())

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status, over all kinds."""
        return sum(
            n for stats in self.kinds.values() for code, n in stats.errors.items() if code[0] == "5"
        )

    @property
    def ok(self) -> bool:
        """The run's verdict: the integrity check passed and no request got a 5xx."""
        return self.integrity.ok and self.server_errors == 0


def kind_stats(tally: Tally, elapsed: float) -> dict[str, KindStats]:
    """Count, rate and latency percentiles of each kind of request."""
    stats = {}
    for kind in KINDS:
        ordered = sorted(tally.latencies.get(kind, []))
        errors = dict(tally.errors.get(kind, {}))
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
        count = len(ordered) + errors.get("timeout", 0) + errors.get("transport", 0)
        stats[kind] = KindStats(
            count=count,
            per_s=count / elapsed,
            p50_ms=statistics.median(ordered) * 1e3 if ordered else 0.0,
            p99_ms=p99 * 1e3,
            errors=errors,
        )
    return stats


def run(
    *,
    clients: int = 16,
    seconds: float = 30.0,
    image_size: int = 320,
    workers: int = 0,
    polls: int = 2,
    max_tasks: int = 100_000,
    timeout_s: float = 30.0,
    env: dict[str, str] | None = None,
) -> Report:
    """Start a server, load it with `clients` loops for `seconds`, then audit what it stored."""
    if image_size < MIN_IMAGE_SIDE:
        raise ValueError(f"image_size: must be at least {MIN_IMAGE_SIDE}; got {image_size}")
    image = small_png(image_size)
    tally, callbacks = Tally(), Callbacks()
    server_env = {
        "KIRIN_API_KEYS": KEY,
        "KIRIN_ENGINE": "preview",
        "KIRIN_WORKERS": str(workers),
        "KIRIN_ALLOW_PRIVATE_URLS": "true",  # the callback receiver listens on 127.0.0.1
        **LIFTED_LIMITS,
        **(env or {}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        with callback_receiver(callbacks) as callback_base:
            with serving(data_dir, server_env) as url:
                stop_at = time.perf_counter() + seconds
                loop = {
                    "url": url,
                    "image": image,
                    "callback_base": callback_base,
                    "tally": tally,
                    "stop_at": stop_at,
                    "polls": polls,
                    "max_tasks": max_tasks,
                    "timeout_s": timeout_s,
                }
                threads = [
                    threading.Thread(target=client_loop, args=(n,), kwargs=loop)
                    for n in range(clients)
                ]
                begin = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - begin
                unresolved_ids = unresolved(url, tally.accepted, timeout_s=timeout_s)
                owed = {e for e, t in tally.accepted.items() if t in tally.cancelled}
                wait_for_callbacks(callbacks, owed & tally.with_callback, timeout_s=5)
            integrity = audit(
                data_dir / "kirin.db", tally, callbacks, unresolved_ids=unresolved_ids
            )
    return Report(
        clients=clients,
        seconds=elapsed,
        workers=workers,
        image_bytes=len(base64.b64decode(image)),
        kinds=kind_stats(tally, elapsed),
        integrity=integrity,
    )


def print_report(report: Report) -> None:
    """The load table and the integrity table, in the Markdown of docs/performance.md."""
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; KIRIN_WORKERS={report.workers}, "
        f"input PNG {report.image_bytes} bytes\n"
    )
    print("| request | clients | s | requests | req/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for kind, stats in report.kinds.items():
        errors = ", ".join(f"{n}× {code}" for code, n in sorted(stats.errors.items())) or "none"
        print(
            f"| {KINDS[kind]} | {report.clients} | {report.seconds:.1f} | {stats.count} "
            f"| {stats.per_s:.1f} | {stats.p50_ms:.1f} | {stats.p99_ms:.1f} | {errors} |"
        )
    total = sum(sum(s.errors.values()) for s in report.kinds.values())
    print(
        f"| all | {report.clients} | {report.seconds:.1f} | {report.requests} "
        f"| {report.requests / report.seconds:.1f} | | | {total} |"
    )
    i = report.integrity
    print(
        "\n| accepted | present | missing | duplicated | unresolved | unknown rows "
        "| unanswered creates (stored) | cancels stored | callbacks received/owed (wrong) "
        "| integrity |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {i.accepted} | {i.present} | {len(i.missing)} | {len(i.duplicated)} "
        f"| {len(i.unresolved)} | {len(i.unknown)} | {i.unanswered} ({i.from_unanswered}) "
        f"| {i.cancelled - len(i.not_cancelled)}/{i.cancelled} "
        f"| {i.callbacks_received}/{i.callbacks_expected} ({i.wrong_callbacks}) "
        f"| {'ok' if i.ok else 'FAILED'} |"
    )
    for name in ("missing", "duplicated", "unresolved", "unknown", "not_cancelled"):
        if getattr(i, name):
            print(f"{name}: {', '.join(getattr(i, name)[:10])}")
    if report.server_errors:
        print(f"server errors: {report.server_errors} answers with a 5xx status (FAILED)")


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("KIRIN_"):
        raise argparse.ArgumentTypeError(f"must be KIRIN_NAME=VALUE; got {text!r}")
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the clients run")
    parser.add_argument("--image-size", type=int, default=320, help="side of the input PNG, px")
    parser.add_argument("--workers", type=int, default=0, help="KIRIN_WORKERS (0: API only)")
    parser.add_argument("--polls", type=int, default=2, help="GETs after each create")
    parser.add_argument(
        "--max-tasks", type=int, default=100_000, help="creates per client, at most"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument(
        "--env", type=_env_pair, action="append", default=[], help="KIRIN_NAME=VALUE for the server"
    )
    args = parser.parse_args()
    report = run(
        clients=args.clients,
        seconds=args.seconds,
        image_size=args.image_size,
        workers=args.workers,
        polls=args.polls,
        max_tasks=args.max_tasks,
        timeout_s=args.timeout,
        env=dict(args.env),
    )
    print_report(report)
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
