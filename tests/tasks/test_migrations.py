"""The schema comes from Alembic migrations, and migrating twice is harmless."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kirin_video.config import Settings
from kirin_video.tasks.db import Database
from kirin_video.tasks.tables import Base


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


def test_migrations_build_exactly_the_tables_the_code_declares(settings: Settings) -> None:
    db = Database.from_settings(settings)
    db.migrate()
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.close()
    assert differences == []


def test_migrating_down_and_up_again_keeps_the_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("kirin_video.tasks") / "migrations")
    )
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert "workers" not in inspect(db.engine).get_table_names()
    db.migrate()
    assert "workers" in inspect(db.engine).get_table_names()
