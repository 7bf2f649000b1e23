"""The schema comes from Alembic migrations, migrating twice is harmless, and rows survive them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from kirin_video.config import Settings
from kirin_video.surfaces.kirin.render import dump, task_object
from kirin_video.surfaces.kling.render import kling_object
from kirin_video.surfaces.registry import render_callback
from kirin_video.tasks import outbox
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import TaskService
from kirin_video.tasks.snapshot import OutputFile, OutputKind, TaskSnapshot, Usage
from kirin_video.tasks.tables import Base, TaskImage
from tests.conftest import POSTGRES_ADMIN


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


def alembic(db: Database, move: Callable[[Config, str], None], revision: str) -> None:
    """Run ``command.upgrade`` or ``command.downgrade`` to ``revision`` on the database."""
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("kirin_video.tasks") / "migrations")
    )
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        move(config, revision)


def test_migrating_down_and_up_again_keeps_the_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    alembic(db, command.downgrade, "0002")
    assert "workers" not in inspect(db.engine).get_table_names()
    db.migrate()
    assert "workers" in inspect(db.engine).get_table_names()


# 0005: rows written by the code before it (wire shapes with storage keys) read by the code after.

OWNER = "key-owner"
CREATED_TS, UPDATED_TS = 1769757744.021, 1769757800.123
CREATED_MS, UPDATED_MS = 1769757744021, 1769757800123
META = {
    "engine": "preview",
    "width": 1280,
    "height": 720,
    "fps": 30,
    "frames": 150,
    "seed": 7,
    "timings": {"queued_s": 0.1, "generate_s": 3.2, "encode_s": 0.8, "total_s": 4.1},
}
USAGE = {"cost": "0.2800", "discount": 0}
FAILED_MESSAGE = "generation failed: RuntimeError: CUDA out of memory"
CANCELLED_MESSAGE = "task: cancelled at the client's request"


def old_output(task_id: str) -> list[dict[str, Any]]:
    """``tasks.output`` as execute wrote it: Kirin content items with storage keys."""
    return [
        {
            "content": [
                {"type": "video", "key": f"{task_id}/1/video.mp4", "duration": 5},
                {
                    "type": "video",
                    "key": f"{task_id}/1/video_watermarked.mp4",
                    "duration": 5,
                    "watermarked": True,
                },
                {"type": "image", "key": f"{task_id}/1/cover.jpg"},
            ],
            "jobId": task_id,
        }
    ]


def old_task(task_id: str, status: str, **values: Any) -> dict[str, Any]:
    row = {
        "id": task_id,
        "owner": OWNER,
        "model": "kirin_v1_6_i2v",
        "status": status,
        "params": {"mode": "std", "duration": 5, "watermark": True},
        "seed": 7,
        "external_task_id": None,
        "callback_url": "https://receiver.example/hook",
        "public_base": "http://127.0.0.1:8000",
        "surface": "kirin",
        "progress": 1.0 if status == "completed" else 0.0,
        "attempts": 1,
        "worker": None,
        "heartbeat_ts": None,
        "error_code": None,
        "error_message": None,
        "output": None,
        "usage": None,
        "metadata": {"seed": 7},
        "created_ts": CREATED_TS,
        "updated_ts": UPDATED_TS,
        "started_ts": CREATED_TS + 0.1,
        "finished_ts": UPDATED_TS,
    }
    return {**row, **values}


OLD_TASKS = [
    old_task(
        "t",
        "completed",
        external_task_id="order-1",
        output=old_output("t"),
        usage=USAGE,
        metadata=META,
    ),
    old_task(
        "f",
        "failed",
        model="kirin_v1_6_multi_i2v",
        error_code="8002005098",
        error_message=FAILED_MESSAGE,
    ),
    old_task("c", "cancelled", error_code="8002005097", error_message=CANCELLED_MESSAGE),
    old_task(
        "k",
        "completed",
        surface="kling",
        external_task_id="kling-1",
        output=old_output("k"),
        usage=USAGE,
        metadata=META,
    ),
    old_task(
        "kf",
        "failed",
        surface="kling",
        error_code="8002005099",
        error_message="provider: no engine can run the task",
    ),
    old_task("p", "pending", attempts=0, started_ts=None, finished_ts=None),
]
OLD_IMAGE = {"task_id": "p", "position": 0, "role": "first", "data": b"\x89PNG image bytes"}

#: The old Kirin object (stored status word, seconds, keys) of "t" when it started running.
OLD_KIRIN_PROCESSING = {
    "id": "t",
    "model": "kirin_v1_6_i2v",
    "status": "processing",
    "created_at": 1769757744,
    "updated_at": 1769757745,
    "external_task_id": "order-1",
    "metadata": {"seed": 7},
    "progress": 0.0,
}
OLD_KIRIN_COMPLETED = {
    **OLD_KIRIN_PROCESSING,
    "status": "completed",
    "updated_at": 1769757800,
    "metadata": META,
    "progress": 1.0,
    "output": old_output("t"),
    "usage": USAGE,
}
OLD_KIRIN_FAILED = {
    "id": "f",
    "model": "kirin_v1_6_multi_i2v",
    "status": "failed",
    "created_at": 1769757744,
    "updated_at": 1769757800,
    "external_task_id": None,
    "metadata": {"seed": 7},
    "error": {"code": "8002005098", "message": FAILED_MESSAGE, "error_message": FAILED_MESSAGE},
}
OLD_KIRIN_CANCELLED = {
    **OLD_KIRIN_FAILED,
    "id": "c",
    "model": "kirin_v1_6_i2v",
    "status": "cancelled",
    "error": {
        "code": "8002005097",
        "message": CANCELLED_MESSAGE,
        "error_message": CANCELLED_MESSAGE,
    },
}
#: The old Kling object (Kling's words, milliseconds, keys) of "k" when it completed.
OLD_KLING_SUCCEED = {
    "task_id": "k",
    "task_status": "succeed",
    "task_status_msg": "",
    "task_info": {"external_task_id": "kling-1"},
    "created_at": CREATED_MS,
    "updated_at": UPDATED_MS,
    "task_result": {
        "videos": [
            {
                "id": "k-0",
                "key": "k/1/video.mp4",
                "duration": "5.0",
                "watermark_key": "k/1/video_watermarked.mp4",
            }
        ]
    },
}
OLD_KLING_FAILED = {
    "task_id": "kf",
    "task_status": "failed",
    "task_status_msg": "provider: no engine can run the task",
    "task_info": {},
    "created_at": CREATED_MS,
    "updated_at": UPDATED_MS,
    "task_result": {},
}


def old_delivery(
    delivery_id: str, task_id: str, seq: int, event: str, payload: dict[str, Any], **values: Any
) -> dict[str, Any]:
    row = {
        "id": delivery_id,
        "task_id": task_id,
        "owner": OWNER,
        "seq": seq,
        "event": event,
        "url": "https://receiver.example/hook",
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "next_attempt_ts": 0.0,  # due
        "created_ts": CREATED_TS,
        "finished_ts": None,
    }
    return {**row, **values}


OLD_DELIVERIES = [
    old_delivery("msg_t1", "t", 1, "processing", OLD_KIRIN_PROCESSING),
    old_delivery("msg_t2", "t", 2, "completed", OLD_KIRIN_COMPLETED),
    old_delivery(
        "msg_f1",
        "f",
        1,
        "failed",
        OLD_KIRIN_FAILED,
        state="delivered",
        attempts=1,
        finished_ts=UPDATED_TS + 1,
    ),
    old_delivery("msg_c1", "c", 1, "cancelled", OLD_KIRIN_CANCELLED),
    old_delivery("msg_k1", "k", 1, "completed", OLD_KLING_SUCCEED),
    old_delivery("msg_kf1", "kf", 1, "failed", OLD_KLING_FAILED),
]
OLD_ATTEMPT = {
    "delivery_id": "msg_f1",
    "number": 1,
    "started_ts": UPDATED_TS + 0.5,
    "duration_ms": 42,
    "http_status": 200,
    "error": None,
    "next_attempt_ts": None,
}


def sign(key: str) -> str:
    return f"https://files.example/{key}?sig=x"


def kirin_content(task_id: str) -> list[dict[str, Any]]:
    """What the hosted wire shows of ``old_output(task_id)``: URLs, string durations, jobId."""
    return [
        {"type": "video", "url": sign(f"{task_id}/1/video.mp4"), "duration": "5", "jobId": task_id},
        {
            "type": "video",
            "url": sign(f"{task_id}/1/video_watermarked.mp4"),
            "duration": "5",
            "jobId": task_id,
            "watermarked": True,
        },
        {"type": "image", "url": sign(f"{task_id}/1/cover.jpg"), "jobId": task_id},
    ]


KLING_VIDEOS = [
    {
        "id": "k-0",
        "url": sign("k/1/video.mp4"),
        "duration": "5.0",
        "watermark_url": sign("k/1/video_watermarked.mp4"),
    }
]


@pytest.fixture
def empty_db(settings: Settings, database: str) -> Iterator[Database]:
    """A database with no schema: SQLite in the test's data dir, or a PostgreSQL one of its own."""
    if database == "sqlite":
        db = Database.from_settings(settings)
        yield db
        db.close()
        return
    import psycopg

    name = f"kirin_migrations_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{POSTGRES_ADMIN}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = POSTGRES_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
        db = Database(url)
        try:
            yield db
        finally:
            db.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_old_rows(db: Database) -> None:
    """Migrate to 0004 and write rows exactly as the code of that schema wrote them."""
    alembic(db, command.upgrade, "0004")
    with db.engine.begin() as connection:
        tables = sa.MetaData()
        tables.reflect(
            connection, only=["tasks", "task_images", "webhook_deliveries", "webhook_attempts"]
        )
        connection.execute(tables.tables["tasks"].insert(), OLD_TASKS)
        connection.execute(tables.tables["task_images"].insert(), [OLD_IMAGE])
        connection.execute(tables.tables["webhook_deliveries"].insert(), OLD_DELIVERIES)
        connection.execute(tables.tables["webhook_attempts"].insert(), [OLD_ATTEMPT])


def old_rows(db: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    """At 0004: each task's ``output`` and each delivery's ``payload``, by id."""
    with db.engine.connect() as connection:
        tables = sa.MetaData()
        tables.reflect(connection, only=["tasks", "webhook_deliveries"])
        tasks, deliveries = tables.tables["tasks"], tables.tables["webhook_deliveries"]
        outputs = dict(connection.execute(sa.select(tasks.c.id, tasks.c.output)).all())
        payloads = dict(connection.execute(sa.select(deliveries.c.id, deliveries.c.payload)).all())
    return outputs, payloads


def assert_tasks_read_whole(db: Database) -> None:
    """Every task as the new code reads and renders it: keys, durations, errors, times."""
    service = TaskService(db)
    snap = {t["id"]: TaskSnapshot.of(service.get(owner=OWNER, ref=t["id"])) for t in OLD_TASKS}
    for task_id in ("t", "k"):
        assert snap[task_id].outputs == (
            OutputFile(kind=OutputKind.VIDEO, key=f"{task_id}/1/video.mp4", seconds=5),
            OutputFile(
                kind=OutputKind.VIDEO_WATERMARKED,
                key=f"{task_id}/1/video_watermarked.mp4",
                seconds=5,
            ),
            OutputFile(kind=OutputKind.COVER, key=f"{task_id}/1/cover.jpg"),
        )
        assert snap[task_id].usage == Usage(cost="0.2800", discount=0)
    assert dump(task_object(snap["t"], sign)) == {
        "id": "t",
        "model": "kirin_v1_6_i2v",
        "status": "completed",
        "created_at": CREATED_MS,
        "updated_at": UPDATED_MS,
        "external_task_id": "order-1",
        "output": [{"content": kirin_content("t")}],
        "usage": USAGE,
        "metadata": META,
    }
    assert dump(task_object(snap["f"], sign)) == {
        "id": "f",
        "model": "kirin_v1_6_multi_i2v",
        "status": "failed",
        "created_at": CREATED_MS,
        "updated_at": UPDATED_MS,
        "error": {"code": "8002005098", "message": FAILED_MESSAGE, "error_message": FAILED_MESSAGE},
        "metadata": {"seed": 7},
    }
    cancelled = dump(task_object(snap["c"], sign))
    assert (cancelled["status"], cancelled["error"]["code"]) == ("failed", "8002005097")
    assert cancelled["error"]["message"] == CANCELLED_MESSAGE
    assert kling_object(snap["k"], sign) == {
        **{k: v for k, v in OLD_KLING_SUCCEED.items() if k != "task_result"},
        "task_result": {"videos": KLING_VIDEOS},
    }
    assert kling_object(snap["kf"], sign) == OLD_KLING_FAILED
    assert dump(task_object(snap["p"], sign)) == {
        "id": "p",
        "model": "kirin_v1_6_i2v",
        "status": "in_progress",
        "created_at": CREATED_MS,
        "updated_at": UPDATED_MS,
        "metadata": {"seed": 7},
    }
    with db.session() as session:  # a waiting task's input survives the table's change
        images = session.scalars(select(TaskImage)).all()
        assert [(i.task_id, i.position, i.role, i.data) for i in images] == [
            tuple(OLD_IMAGE.values())
        ]


class Roomy:
    """Room for every delivery: every key and every host may take more."""

    def key_full(self, _owner: str) -> bool:
        return False

    def host_full(self, _url: str) -> bool:
        return False

    def take(self, _owner: str, _url: str) -> None:
        pass


def lease(db: Database) -> dict[str, outbox.Due]:
    with db.session(write=True) as session:
        due = outbox.lease_due(session, limit=10, lease_s=60.0, admission=Roomy())
    return {d.id: d for d in due}


def assert_deliveries_read_whole(db: Database) -> None:
    """Every owed callback as the dispatcher now leases and renders it, in the task's surface."""
    due = lease(db)
    assert set(due) == {"msg_t1", "msg_c1", "msg_k1", "msg_kf1"}  # msg_t2 waits for msg_t1
    bodies = {i: render_callback(d.surface, d.snapshot, sign) for i, d in due.items()}
    assert bodies["msg_t1"] == {
        "id": "t",
        "model": "kirin_v1_6_i2v",
        "status": "in_progress",
        "created_at": 1769757744000,  # the old object kept whole seconds
        "updated_at": 1769757745000,
        "external_task_id": "order-1",
        "progress": 0.0,
        "metadata": {"seed": 7},
    }
    assert bodies["msg_c1"] == {
        "id": "c",
        "model": "kirin_v1_6_i2v",
        "status": "failed",
        "created_at": 1769757744000,
        "updated_at": 1769757800000,
        "error": {
            "code": "8002005097",
            "message": CANCELLED_MESSAGE,
            "error_message": CANCELLED_MESSAGE,
        },
        "metadata": {"seed": 7},
    }
    assert bodies["msg_k1"] == kling_object(
        TaskSnapshot.of(TaskService(db).get(owner=OWNER, ref="k")), sign
    )
    assert bodies["msg_kf1"] == OLD_KLING_FAILED
    assert due["msg_kf1"].snapshot.error_code == "8002005099"  # the task's own code
    assert due["msg_k1"].snapshot.usage == Usage(cost="0.2800", discount=0)
    with db.session(write=True) as session:
        outbox.record(
            session,
            due["msg_t1"],
            started_ts=time.time(),
            http_status=200,
            error=None,
            next_attempt_ts=None,
        )
    (completed,) = lease(db).values()
    assert completed.id == "msg_t2" and completed.attempt == 1
    assert render_callback(completed.surface, completed.snapshot, sign) == {
        "id": "t",
        "model": "kirin_v1_6_i2v",
        "status": "completed",
        "created_at": 1769757744000,
        "updated_at": 1769757800000,
        "external_task_id": "order-1",
        "output": [{"content": kirin_content("t")}],
        "usage": USAGE,
        "metadata": META,
    }
    with db.session() as session:
        (delivered,) = outbox.history(session, "f")
    assert (delivered.state, delivered.next_attempt_ts) == ("delivered", None)
    assert delivered.attempts == (
        outbox.AttemptRecord(
            started_ts=UPDATED_TS + 0.5, duration_ms=42, http_status=200, error=None
        ),
    )


def test_migration_0005_reads_every_old_row_whole_through_the_new_code(empty_db: Database) -> None:
    write_old_rows(empty_db)
    empty_db.migrate()
    assert_tasks_read_whole(empty_db)
    assert_deliveries_read_whole(empty_db)


def test_migration_0005_down_gives_back_the_old_rows_and_up_again_keeps_them(
    empty_db: Database,
) -> None:
    write_old_rows(empty_db)
    empty_db.migrate()
    alembic(empty_db, command.downgrade, "0004")
    outputs, payloads = old_rows(empty_db)
    assert outputs == {t["id"]: t["output"] for t in OLD_TASKS}  # what the old code reads
    assert payloads == {d["id"]: d["payload"] for d in OLD_DELIVERIES}
    empty_db.migrate()
    assert_tasks_read_whole(empty_db)
    assert_deliveries_read_whole(empty_db)


def count_rows(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)
            for table in ("tasks", "task_images", "webhook_deliveries", "webhook_attempts")
        }


@pytest.mark.parametrize("revision", ["0003", "0002"])
def test_migrating_down_keeps_every_row_that_the_older_schema_has(
    empty_db: Database, revision: str
) -> None:
    """A downgrade drops columns in place; copying a table would cascade into its children."""
    write_old_rows(empty_db)
    before = count_rows(empty_db)
    alembic(empty_db, command.downgrade, revision)
    assert count_rows(empty_db) == before
    empty_db.migrate()
    assert count_rows(empty_db) == before
