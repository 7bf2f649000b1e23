"""The schema comes from Alembic migrations, and migrating twice is harmless."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from kirin_video.tasks.db import Database


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"tasks", "task_images", "api_keys", "alembic_version"} <= tables
    with db.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_external_id_uniqueness_is_a_database_constraint(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    constraints = inspect(db.engine).get_unique_constraints("tasks")
    assert {"owner", "external_task_id"} in [set(c["column_names"]) for c in constraints]
