"""A PostgreSQL server that never answers costs a request seconds, then reads as unreachable."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from kirin_video.tasks import db as db_module
from kirin_video.tasks.db import Database, unreachable

#: Without a connect timeout the ping would wait forever: fail the test instead.
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener takes connections into its backlog and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def _seconds_to_fail(url: str) -> float:
    database = Database(url)
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised:
        database.ping()
    database.close()
    assert unreachable(raised.value)
    return time.monotonic() - started


def test_connecting_gives_up_after_the_connect_timeout(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "CONNECT_TIMEOUT_S", 1)
    elapsed = _seconds_to_fail(f"postgresql+psycopg://kirin@127.0.0.1:{silent_port}/kirin")
    assert 0.9 < elapsed < 4


def test_a_connect_timeout_in_the_url_wins(silent_port: int) -> None:
    url = f"postgresql+psycopg://kirin@127.0.0.1:{silent_port}/kirin?connect_timeout=1"
    assert 0.9 < _seconds_to_fail(url) < 4  # libpq waits at least 2 s; not the default's 5 s
