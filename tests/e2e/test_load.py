"""The load script, short: concurrent clients never see a 5xx, and no task is lost or invented."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from benchmarks import load
from kirin_video.contract.catalog import Status
from kirin_video.tasks.tables import Base, Task


def test_four_clients_for_three_seconds_leave_every_task_accounted_for() -> None:
    report = load.run(clients=4, seconds=3)

    integrity = report.integrity
    assert report.server_errors == 0, report.kinds
    assert integrity.ok, integrity
    assert integrity.present == integrity.accepted == report.kinds["create"].count
    assert integrity.accepted >= 20
    assert integrity.wrong_callbacks == 0


def _row(task_id: str, external_id: str, *, owner: str = "key", status: str = "pending") -> Task:
    return Task(
        id=task_id,
        owner=owner,
        model="kirin_v1_6_i2v",
        status=status,
        params={},
        seed=0,
        external_task_id=external_id,
        meta={},
        created_ts=0.0,
        updated_ts=0.0,
    )


def test_audit_reports_missing_duplicated_unknown_and_uncancelled_tasks(tmp_path: Path) -> None:
    db_path = tmp_path / "kirin.db"
    engine = create_engine(f"sqlite:///{db_path}")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                _row("task_a", "a"),  # told, present, but its 200 cancel did not stick
                _row("task_c", "c", owner="one"),  # told, present …
                _row("task_c2", "c", owner="two"),  # … and its external id on a second row
                _row("task_t", "t"),  # its create timed out: reported, not a failure
                _row("task_z", "z", status=Status.CANCELLED),  # nobody was told about it
            ]
        )
    engine.dispose()
    tally = load.Tally()
    tally.accepted.update({"a": "task_a", "b": "task_b", "c": "task_c"})
    tally.unanswered.add("t")
    tally.cancelled.add("task_a")

    integrity = load.audit(db_path, tally, load.Callbacks(), unresolved_ids=[])

    assert not integrity.ok
    assert (integrity.accepted, integrity.present) == (3, 2)
    assert integrity.missing == ["task_b"]
    assert integrity.duplicated == ["c"]
    assert sorted(integrity.unknown) == ["task_c2", "task_z"]
    assert integrity.from_unanswered == 1
    assert integrity.not_cancelled == ["task_a"]
