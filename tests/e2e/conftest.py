"""Real servers for end-to-end tests (`kirin serve` in a child process on a free loopback port),
and what whole-task tests share: running a task to its end, fetching and decoding its video."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, bearer

if TYPE_CHECKING:
    from tests.e2e.cluster import PrivatePostgres


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
    #: The child's ``ulimit -n``; None: this process's own.
    file_limit: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the server's log goes: a file, so a chatty server never blocks on a full pipe."""
        return self.data_dir.parent / f"server-{self.port}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, **env: str) -> ServerProcess:
        environment = {
            **os.environ,
            "KIRIN_DATA_DIR": str(self.data_dir),
            "KIRIN_API_KEYS": KEY_A,
            **env,
        }
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the file
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
                stderr=log,
                preexec_fn=self._limit_files if self.file_limit else None,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log())
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise TimeoutError("server did not start")

    def _limit_files(self) -> None:
        """Run in the child before it starts: its own, lower, open-file limit."""
        assert self.file_limit is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.file_limit, self.file_limit))

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


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster the test may stop and start (never the machine's own)."""
    from tests.e2e.cluster import private_postgres  # cluster.py imports this module

    with private_postgres() as cluster:
        yield cluster


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
        task: dict[str, object] = client.get(f"/v1/generation/task/{task_id}").json()
        if until(task):
            return task
        time.sleep(0.1)
    raise TimeoutError(f"task {task_id} never reached the expected state: {task}")


def run_task(client: TestClient, body: dict[str, Any], timeout_s: float = 120) -> dict[str, Any]:
    """Create as the hosted client does (the input envelope), poll until the task is done."""
    model, params = body["model"], {k: v for k, v in body.items() if k != "model"}
    envelope = {"model": model, "input": [{"params": params}]}
    created = client.post("/model/v1/generation", json=envelope, headers=bearer(KEY_A))
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "in_progress"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(
            f"/model/v1/generation/task/{created.json()['id']}", headers=bearer(KEY_A)
        ).json()
        if task["status"] != "in_progress":
            return task
        time.sleep(0.1)
    raise TimeoutError(task)


def get(client: TestClient, task_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/generation/task/{task_id}", headers=bearer(KEY_A))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def download(client: TestClient, url: str, path: Path) -> Path:
    response = client.get(url)
    assert response.status_code == 200
    path.write_bytes(response.content)
    return path


def first_and_last_frames(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decodes every frame but keeps two: a 1080p video's frames would take gigabytes."""
    with av.open(str(path)) as container:
        first = last = None
        for frame in container.decode(video=0):
            if first is None:
                first = frame.to_ndarray(format="rgb24")
            last = frame
    assert first is not None and last is not None, "the video has no frames"
    return first, last.to_ndarray(format="rgb24")


@pytest.fixture
def bucket(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real S3 HTTP API (moto) on loopback with one bucket, and the environment to use it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "KIRIN_STORAGE_URL": "s3://kirin-cluster/outputs",
        "KIRIN_S3_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "kirin-test-key",
        "AWS_SECRET_ACCESS_KEY": "kirin-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    s3_client(env).create_bucket(Bucket="kirin-cluster")
    try:
        yield "kirin-cluster", env
    finally:
        server.stop()


def s3_client(env: dict[str, str]) -> Any:
    """A plain boto3 client on the test's S3 server, to look into the bucket directly."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["KIRIN_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )


def all_tasks(client: httpx.Client) -> list[dict[str, Any]]:
    """Every task of the key, newest first, page by page."""
    tasks: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = client.get("/model/v1/generation", params={"limit": 100, "cursor": cursor}).json()
        tasks += page["data"]
        if not page["next_cursor"]:
            return tasks
        cursor = page["next_cursor"]


def cancel_unfinished(node: ServerProcess) -> None:
    """Cancel every task of the key still waiting or running, so the next test starts empty."""
    with node.client() as client:
        for task in all_tasks(client):
            if task["status"] == "in_progress":
                client.post(f"/model/v1/generation/task/{task['id']}/cancel")
