"""While PostgreSQL is down, every route of a real server answers 503 with Retry-After."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import b64, make_image
from tests.e2e.conftest import ServerProcess, free_port

I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}
GENERATION = "/model/v1/generation"
KLING = "/v1/videos/image2video"


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of this test's own, in a temp folder, on a free loopback port."""

    bin_dir: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://kirin@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
        subprocess.run(args, check=True, capture_output=True, timeout=60, user=user)

    def init(self) -> PrivatePostgres:
        initdb = str(self.bin_dir / "initdb")
        self._run(initdb, "-D", str(self.root / "data"), "-U", "kirin", "--auth=trust", "-N")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off"
        pg_ctl = str(self.bin_dir / "pg_ctl")
        log = str(self.root / "postgres.log")
        self._run(pg_ctl, "-D", str(self.root / "data"), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "stop")

    def count(self, table: str) -> int:
        with psycopg.connect(f"postgresql://kirin@127.0.0.1:{self.port}/postgres") as connection:
            row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    initdb = max(glob.glob("/usr/lib/postgresql/*/bin/initdb"), default=shutil.which("initdb"))
    if initdb is None:
        pytest.skip("initdb is not installed")
    root = Path(tempfile.mkdtemp(prefix="kirin-pg-"))  # not under pytest's root-only folder
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    cluster = PrivatePostgres(Path(initdb).parent, root, free_port()).init()
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(
            [str(cluster.bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            user="postgres" if os.geteuid() == 0 else None,
        )
        shutil.rmtree(root, ignore_errors=True)


def _requests(client: httpx.Client, task_id: str) -> dict[str, httpx.Response]:
    """One request of each kind a client makes, on both surfaces."""
    return {
        "create": client.post(GENERATION, json=I2V),
        "get": client.get(f"{GENERATION}/task/{task_id}"),
        "list": client.get(GENERATION),
        "cancel": client.post(f"{GENERATION}/task/{task_id}/cancel"),
        "kling query": client.get(f"{KLING}/{task_id}"),
    }


def test_routes_answer_503_while_the_database_is_down_and_recover_after(
    postgres: PrivatePostgres, server: Callable[..., ServerProcess]
) -> None:
    node = server(KIRIN_DATABASE_URL=postgres.url, KIRIN_WORKERS="0")
    with node.client() as client:
        created = client.post(GENERATION, json=I2V)
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]

        postgres.stop()
        for name, answer in _requests(client, task_id).items():
            body = answer.json()
            assert answer.status_code == 503, (name, body)
            assert answer.headers["Retry-After"] == "5", name
            if name == "kling query":
                assert set(body) == {"code", "message", "request_id"} and body["code"] == 5001
            else:
                assert body["error"]["code"] == "8002005099" and body["message"], (name, body)
            assert "database: unreachable" in body["message"], (name, body)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "database" in ready.json()["message"], ready.text

        postgres.start()
        again = _requests(client, task_id)
        assert {name: answer.status_code for name, answer in again.items()} == dict.fromkeys(
            again, 200
        ), {name: answer.text for name, answer in again.items()}
        assert client.get("/readyz").status_code == 200
    assert postgres.count("tasks") == 2  # the first task and the one after: none half-made
