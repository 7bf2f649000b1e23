"""Real servers for end-to-end tests: `kirin serve` in a child process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_A, bearer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A `kirin serve` child process on one data dir."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **env: str) -> ServerProcess:
        environment = {
            **os.environ,
            "KIRIN_DATA_DIR": str(self.data_dir),
            "KIRIN_API_KEYS": KEY_A,
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kirin_video.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode())  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise TimeoutError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, like a crash or a power cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=bearer(KEY_A), timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []
    data_dir = tmp_path / "data"

    def start(**env: str) -> ServerProcess:
        process = ServerProcess(data_dir, free_port()).start(**env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def wait_for(
    client: httpx.Client,
    task_id: str,
    *,
    until: Callable[[dict[str, object]], bool],
    timeout_s: float = 120,
) -> dict[str, object]:
    """Poll a task until ``until(task)`` holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        task: dict[str, object] = client.get(f"/v1/generation/{task_id}").json()
        if until(task):
            return task
        time.sleep(0.1)
    raise TimeoutError(f"task {task_id} never reached the expected state: {task}")
