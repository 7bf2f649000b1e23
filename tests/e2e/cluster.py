"""A cluster on loopback for tests: Redis, a PostgreSQL database, API nodes and Celery workers."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from tests.conftest import KEY_A, POSTGRES_ADMIN, bearer
from tests.e2e.conftest import free_port

#: Set (as .ci/run sets them), a missing PostgreSQL or Redis fails the tests that need it.
POSTGRES = "KIRIN_REQUIRE_POSTGRES"
REDIS = "KIRIN_REQUIRE_REDIS"


@contextmanager
def start_redis(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free port (nothing persisted), else the machine's own."""
    binary = shutil.which("redis-server")
    if binary is None:
        url = os.environ.get("KIRIN_TEST_REDIS", "redis://127.0.0.1:6379/15")
        if not _answers(url, attempts=1):
            _missing(f"no redis-server to start and none answering at {url}", REDIS)
        yield url
        return
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        if not _answers(url, attempts=100):
            _missing(f"redis-server did not start on port {port}", REDIS)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class RedisServer:
    """A private redis-server on its own port, nothing persisted: it can come back empty."""

    binary: str
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, *args],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _answers(self.url, attempts=100):
            pytest.fail(f"redis-server did not start on port {self.port}")
        return self

    def restart_empty(self) -> None:
        """SIGKILL and start again on the same port: a restart without persistence."""
        self.stop(kill=True)
        self.start()

    def flushall(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(10)


@contextmanager
def private_redis(workdir: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (never the machine's); none installed: see ``_missing``."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server is not installed", REDIS)
    server = RedisServer(binary, workdir).start()
    try:
        yield server
    finally:
        server.stop()


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
        import psycopg

        with psycopg.connect(f"postgresql://kirin@127.0.0.1:{self.port}/postgres") as connection:
            row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own (initdb), that it may stop and start at will."""
    initdb = max(glob.glob("/usr/lib/postgresql/*/bin/initdb"), default=shutil.which("initdb"))
    if initdb is None:
        _missing("initdb is not installed")
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


@contextmanager
def rabbitmq_vhost(name: str) -> Iterator[str]:
    """A private vhost on the machine's RabbitMQ (guest may use it), deleted afterwards."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.skip("rabbitmqctl is not installed")
    host = os.environ.get("KIRIN_TEST_RABBITMQ", "127.0.0.1:5672")
    if not _listens(host):
        pytest.fail(f"RabbitMQ is installed but not answering at {host}: rabbitmq-server -detached")
    rabbitmq_reset_vhost(name)
    try:
        yield f"amqp://guest:guest@{host}/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


def rabbitmq_reset_vhost(name: str) -> None:
    """(Re)create the vhost empty, guest allowed: RabbitMQ as a new node without its data."""
    _rabbitmqctl("delete_vhost", name, check=False)
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")


def _rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=check, capture_output=True, timeout=60)


def _listens(host: str) -> bool:
    address, port = host.rsplit(":", 1)
    try:
        socket.create_connection((address, int(port)), timeout=2).close()
    except OSError:
        return False
    return True


def _answers(url: str, *, attempts: int) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    for _ in range(attempts):
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            time.sleep(0.05)
    return False


@contextmanager
def fresh_postgres(name: str) -> Iterator[str]:
    """An empty PostgreSQL database for one cluster, dropped afterwards."""
    import psycopg

    try:
        admin = psycopg.connect(f"{POSTGRES_ADMIN}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _missing(f"PostgreSQL unreachable at {POSTGRES_ADMIN}: {exc}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _missing(reason: str, required_by: str = POSTGRES) -> NoReturn:
    """Skip for want of a service, or fail where ``required_by`` is set (CI: it must run there)."""
    if os.environ.get(required_by):
        pytest.fail(f"{reason} ({required_by}=1)")
    pytest.skip(reason)


@dataclass
class Node:
    """One `kirin serve` or `kirin worker` child process, its log in a file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kirin_video.cli", *self.args],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, like a crash or a power cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout_s: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time; the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


@dataclass
class Cluster:
    """API nodes and workers sharing one data dir, database and broker."""

    env: dict[str, str]
    logs: Path
    nodes: list[Node] = field(default_factory=list)

    def api(self, port: int | None = None) -> tuple[Node, str]:
        port = port or free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        node = self._start(args, f"api-{port}")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert node.process is not None and node.process.poll() is None, self.tail(node)
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return node, url
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(self.tail(node))

    def worker(self, name: str) -> Node:
        return self._start(["worker"], name)

    def _start(self, args: list[str], name: str) -> Node:
        node = Node(args, self.env, self.logs / f"{name}.log").start()
        self.nodes.append(node)
        return node

    def tail(self, node: Node) -> str:
        return node.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop(10)


def client(url: str, key: str = KEY_A) -> httpx.Client:
    return httpx.Client(base_url=url, headers=bearer(key), timeout=30)
