"""Pooled PostgreSQL connections: one that sat idle is checked before use, a busy one is not."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import event

from kirin_video.tasks import db as db_module
from kirin_video.tasks.db import Database


def _backend_pid(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_an_idle_connection_whose_server_side_died_is_replaced_unseen(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(postgres_url)
    killed = _backend_pid(db)
    admin_url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)  # as if it sat a while

    assert _backend_pid(db) != killed
    db.close()


def test_a_connection_back_in_the_pool_a_moment_ago_is_not_pinged(postgres_url: str) -> None:
    db = Database(postgres_url)
    _backend_pid(db)
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    pings: list[bool] = []
    original = db.engine.dialect.do_ping
    db.engine.dialect.do_ping = lambda connection: pings.append(True) or original(connection)  # type: ignore[method-assign]

    _backend_pid(db)

    assert pings == [] and statements == ["SELECT pg_backend_pid()"]
    db.close()
