"""Throughput and latency of the API, and the preview engine's render speed; prints tables.

    python benchmarks/api.py [--seconds 5] [--skip-engine] [--database sqlite|postgresql]
                             [--server kirin|granian|hypercorn]

Starts `kirin serve` on a temporary data dir (embedded worker off, so only the API is measured),
drives it with N concurrent clients for a fixed time per scenario, then times the preview engine.
A task poll and `/healthz` are measured side by side, in alternating rounds, so that the ratio
of the two holds even while something else on the machine takes CPU. With `--database
postgresql` the server uses a fresh database on `--postgres` (dropped at the end). `--server`
runs the same app under another ASGI server instead of `kirin serve` (uvicorn), to compare them
(installed apart: `pip install granian hypercorn`; docs/deploy.md, "Connections").
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageFilter

from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.engines.base import Job
from kirin_video.engines.preview import PreviewEngine
from kirin_video.media.encode import encode_outputs

KEY = "bench-key"
CREATE = "/model/v1/generation"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
#: Alternating rounds of each side-by-side pair: a burst of load elsewhere hits both sides.
ROUNDS = 4
#: How each server is started on a port: `kirin serve`, or another ASGI server on ``asgi_app``.
SERVERS: dict[str, Callable[[int], list[str]]] = {
    "kirin": lambda port: ["-m", "kirin_video.cli", "serve", "--port", str(port)],
    "granian": lambda port: [
        *("-m", "granian", "--interface", "asgi", "--factory", "--port", str(port)),
        "api:asgi_app",
    ],
    "hypercorn": lambda port: ["-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "api:asgi_app()"],
}


def asgi_app() -> Any:
    """The app `kirin serve` runs, with its logging, for another ASGI server to run."""
    from kirin_video.api.app import create_app
    from kirin_video.cli._logging import setup_logging
    from kirin_video.config import Settings

    settings = Settings()
    setup_logging(settings)
    return create_app(settings)


def one_megabyte_png() -> str:
    noise = np.random.default_rng(0).integers(0, 256, (600, 580, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one run (its SQLAlchemy URL), dropped afterwards."""
    import psycopg

    name = f"kirin_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(
    data_dir: Path, *, database_url: str | None = None, server: str = "kirin"
) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        **({"KIRIN_DATABASE_URL": database_url} if database_url else {}),
        "KIRIN_DATA_DIR": str(data_dir),
        "KIRIN_API_KEYS": KEY,
        "KIRIN_WORKERS": "0",
        # measure the API, not the per-key guards: neither the rate nor the task cap may refuse
        "KIRIN_RATE_LIMIT": "1000000/second",
        "KIRIN_MAX_UNFINISHED_TASKS": "100000000",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    process = subprocess.Popen(
        [sys.executable, *SERVERS[server](port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


@dataclass
class Measured:
    """Latencies (s) and errors of one request over some seconds of driving it."""

    seconds: float = 0.0
    latencies: list[float] | None = None
    errors: int = 0
    server_cpu_s: float = 0.0  # CPU time the server process used meanwhile, all its threads

    def add(self, other: Measured) -> None:
        self.seconds += other.seconds
        self.latencies = [*(self.latencies or []), *(other.latencies or [])]
        self.errors += other.errors
        self.server_cpu_s += other.server_cpu_s

    @property
    def cpu_us(self) -> float:
        """The server's CPU microseconds per request: holds while others share the cores."""
        return self.server_cpu_s / len(self.latencies or [0]) * 1e6 if self.latencies else 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies or []) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies or [0.0])
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1e3


def drive(
    url: str, request: Callable[[httpx.Client], httpx.Response], *, clients: int, seconds: float
) -> Measured:
    """``clients`` threads, each on its own connection, looping over ``request`` for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def loop() -> None:
        nonlocal errors
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        ) as client:
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                ok = request(client).status_code == 200
                with lock:
                    latencies.append(time.perf_counter() - start)
                    errors += not ok

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Measured(time.perf_counter() - begin, latencies, errors)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def side_by_side(
    url: str,
    pid: int,
    pair: tuple[Callable[[httpx.Client], httpx.Response], Callable[[httpx.Client], httpx.Response]],
    *,
    clients: int,
    seconds: float,
) -> tuple[Measured, Measured]:
    """Each of two requests for ``seconds`` in all, in alternating rounds."""
    totals = (Measured(), Measured())
    for _ in range(ROUNDS):
        for request, total in zip(pair, totals, strict=True):
            before = cpu_seconds(pid)
            measured = drive(url, request, clients=clients, seconds=seconds / ROUNDS)
            measured.server_cpu_s = cpu_seconds(pid) - before
            total.add(measured)
    return totals


def api_table(seconds: float, *, database_url: str | None, server: str) -> None:
    image = one_megabyte_png()
    body = {"model": Model.I2V.value, "input": [{"params": {"image": image}}]}
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(Path(tmp), database_url=database_url, server=server)
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c:
                task_id = c.post(CREATE, json=body).json()["id"]

            def health(client: httpx.Client) -> httpx.Response:
                return client.get("/healthz")

            def poll(client: httpx.Client) -> httpx.Response:
                return client.get(f"{CREATE}/task/{task_id}")

            print(
                f"GET {CREATE}/task/{{id}} (a waiting task) against GET /healthz, side by side:\n"
            )
            print(
                "| clients | /healthz req/s | poll req/s | poll / healthz "
                "| /healthz p50 / p99 ms | poll p50 / p99 ms "
                "| server CPU µs: /healthz, poll (ratio) | errors |"
            )
            print("|---:|---:|---:|---:|---:|---:|---:|---:|")
            for clients in (1, 16):
                ceiling, polled = side_by_side(
                    url, process.pid, (health, poll), clients=clients, seconds=seconds
                )
                print(
                    f"| {clients} | {ceiling.rps:.0f} | {polled.rps:.0f} "
                    f"| {polled.rps / ceiling.rps:.0%} "
                    f"| {ceiling.percentile_ms(0.5):.1f} / {ceiling.percentile_ms(0.99):.1f} "
                    f"| {polled.percentile_ms(0.5):.1f} / {polled.percentile_ms(0.99):.1f} "
                    f"| {ceiling.cpu_us:.0f}, {polled.cpu_us:.0f} "
                    f"({polled.cpu_us / ceiling.cpu_us:.2f}) "
                    f"| {ceiling.errors + polled.errors} |"
                )
            print("\n| request | clients | req/s | p50 ms | p99 ms | errors |")
            print("|---|---:|---:|---:|---:|---:|")
            for clients in (1, 16):
                run = drive(
                    url, lambda c: c.post(CREATE, json=body), clients=clients, seconds=seconds
                )
                p50, p99 = run.percentile_ms(0.5), run.percentile_ms(0.99)
                print(
                    f"| POST {CREATE} (1 MB image) | {clients} | {run.rps:.1f} "
                    f"| {p50:.1f} | {p99:.1f} | {run.errors} |"
                )
        finally:
            process.terminate()
            process.wait(30)


def _picture(seed: int) -> Image.Image:
    noise = np.random.default_rng(seed).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    return Image.fromarray(noise).filter(ImageFilter.GaussianBlur(4))


def engine_table() -> None:
    first, last = _picture(1), _picture(2)
    cases: dict[str, dict[str, Any]] = {
        "i2v, first frame": {"model": Model.I2V, "first": first},
        "i2v, first + last (morph)": {"model": Model.I2V, "first": first, "last": last},
        "multi, 4 references": {"model": Model.MULTI_I2V, "references": (first, last) * 2},
    }
    print("\n| preview engine, 5 s | size | render s | encode s | total s | real-time factor |")
    print("|---|---|---:|---:|---:|---:|")
    for name, inputs in cases.items():
        for mode in ("std", "pro"):
            geometry = output_geometry(
                model=inputs["model"],
                mode=mode,
                duration=5,
                aspect_ratio="16:9",
                first_image_size=first.size,
            )
            job = Job(geometry=geometry, seed=1, **inputs)
            start = time.perf_counter()
            clip = PreviewEngine().generate(job, lambda _f: None)
            rendered = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                encode_outputs(iter(clip.frames), fps=geometry.fps, video_path=Path(tmp) / "v.mp4")
            total = time.perf_counter() - start
            print(
                f"| {name} | {geometry.width}x{geometry.height} | {rendered - start:.2f} "
                f"| {total - (rendered - start):.2f} | {total:.2f} "
                f"| {total / geometry.duration:.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each scenario")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server (admin URL)")
    parser.add_argument("--server", choices=sorted(SERVERS), default="kirin")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.database}, {args.server}\n"
    )
    if args.database == "postgresql":
        with fresh_postgres(args.postgres) as url:
            api_table(args.seconds, database_url=url, server=args.server)
    else:
        api_table(args.seconds, database_url=None, server=args.server)
    if not args.skip_engine:
        engine_table()


if __name__ == "__main__":
    main()
