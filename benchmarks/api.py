"""Throughput and latency of the API, and the preview engine's render speed; prints tables.

    python benchmarks/api.py [--seconds 5] [--skip-engine]

Starts `kirin serve` on a temporary data dir (embedded worker off, so only the API is measured),
drives it with N concurrent clients for a fixed time per scenario, then times the preview engine.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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


def one_megabyte_png() -> str:
    noise = np.random.default_rng(0).integers(0, 256, (600, 580, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "KIRIN_DATA_DIR": str(data_dir),
        "KIRIN_API_KEYS": KEY,
        "KIRIN_WORKERS": "0",
        # measure the API, not the per-key guards: neither the rate nor the task cap may refuse
        "KIRIN_RATE_LIMIT": "1000000/second",
        "KIRIN_MAX_UNFINISHED_TASKS": "100000000",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kirin_video.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
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


def drive(
    url: str, request: Callable[[httpx.Client], httpx.Response], *, clients: int, seconds: float
) -> tuple[float, float, float, int]:
    """Requests/s, p50 and p99 latency (ms) and error count for `clients` loops over `seconds`."""
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
    elapsed = time.perf_counter() - begin
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(latencies) / elapsed, statistics.median(ordered) * 1e3, p99 * 1e3, errors


def api_table(seconds: float) -> None:
    image = one_megabyte_png()
    body = {"model": Model.I2V.value, "input": [{"params": {"image": image}}]}
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(Path(tmp))
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c:
                task_id = c.post(CREATE, json=body).json()["id"]
            scenarios: dict[str, Callable[[httpx.Client], httpx.Response]] = {
                "GET /healthz (ceiling)": lambda c: c.get("/healthz"),
                f"POST {CREATE} (1 MB image)": lambda c: c.post(CREATE, json=body),
                f"GET {CREATE}/task/{{id}}": lambda c: c.get(f"{CREATE}/task/{task_id}"),
            }
            print("| request | clients | req/s | p50 ms | p99 ms | errors |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, request in scenarios.items():
                for clients in (1, 16):
                    rps, p50, p99, errors = drive(url, request, clients=clients, seconds=seconds)
                    print(f"| {name} | {clients} | {rps:.1f} | {p50:.1f} | {p99:.1f} | {errors} |")
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
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    api_table(args.seconds)
    if not args.skip_engine:
        engine_table()


if __name__ == "__main__":
    main()
