"""Shared fixtures: settings on a temp data dir, apps served through real HTTP, test images."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.tasks.db import Database

# No test downloads anything: the Hugging Face libraries must answer from local files only.
os.environ["HF_HUB_OFFLINE"] = "1"
# Tests check what is in a video, not how small it is: the fastest encoder preset saves minutes.
# Servers started by the tests inherit it; tests/media/test_encode.py checks the setting is used.
os.environ["KIRIN_ENCODE_PRESET"] = "ultrafast"

KEY_A = "test-key-a"
KEY_B = "test-key-b"


def make_image(width: int = 480, height: int = 320, *, fmt: str = "PNG", seed: int = 0) -> bytes:
    """A textured test picture (gradients and blobs, so motion and flow have something to see)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack(
        [x / width * 255, y / height * 255, (np.sin(x / 17 + seed) + 1) * 127], axis=-1
    )
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 80)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r**2
        pixels[mask] = rng.uniform(0, 255, size=3)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def png_b64() -> str:
    return b64(make_image())


#: Test folders whose tests run on both databases: every test there that takes ``settings``.
BOTH_DATABASES = frozenset({"api", "tasks", "webhooks", "kirin", "kling"})
POSTGRES_ADMIN = os.environ.get("KIRIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
_TABLES = "webhook_attempts, webhook_deliveries, task_images, tasks, api_keys, workers"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if (
        "settings" in metafunc.fixturenames
        and metafunc.definition.path.parent.name in BOTH_DATABASES
    ):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """Which database the test's settings use (SQLite unless parametrized)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for this test run, migrated once, dropped at the end."""
    import psycopg

    name = f"kirin_test_{os.getpid()}"
    try:
        admin = psycopg.connect(f"{POSTGRES_ADMIN}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("KIRIN_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required and unreachable at {POSTGRES_ADMIN}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        url = POSTGRES_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
        db = Database(url)
        db.migrate()
        db.close()
        yield url
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database: str, request: pytest.FixtureRequest) -> Settings:
    """Settings of one test: its own data dir (and clean database), two keys, no worker.

    A test that adds a worker runs its engine in this process: the engine child has tests of
    its own (tests/runtime/test_child.py, tests/e2e/test_engine_faults.py) and `kirin serve`
    keeps it, so no other test waits for a child to start.
    """
    url = None
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
        db = Database(url)
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {_TABLES} CASCADE")
        db.close()
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        api_keys=[KEY_A, KEY_B],
        workers=0,
        engine_child=False,
    )


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """Start an app (lifespan included) for the test's settings, with overrides."""
    clients: list[TestClient] = []

    def start(**overrides: object) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


#: A tiny Wan VACE working point: seconds per video on a CPU, 5 s in one segment, 10 s in two.
TINY_WAN = {
    "engine": "diffusers",
    "native_short_side": 32,
    "pro_short_side": 48,
    "native_fps": 4,
    "max_native_frames": 21,
    "segment_overlap": 5,
    "inference_steps": 2,
    "pro_inference_steps": 3,
}


@pytest.fixture(scope="session")
def tiny_wan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Wan VACE pipeline saved in diffusers format, as real weights would be."""
    from kirin_video.engines.architectures import build_random_pipeline

    path = tmp_path_factory.mktemp("tiny-wan")
    build_random_pipeline("tiny").save_pretrained(path)
    return path


@pytest.fixture
def wan_settings(settings: Settings, tiny_wan: Path) -> Settings:
    """The test's settings running the diffusers engine on the tiny pipeline."""
    return settings.model_copy(update={**TINY_WAN, "model_path": str(tiny_wan)})
