"""The load script, short: concurrent clients never see a 5xx, and no task is lost or invented."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from benchmarks import load
from kirin_video.contract.catalog import Status
from kirin_video.tasks.tables import Base, Task


def test_four_clients_of_five_tasks_each_leave_every_task_accounted_for() -> None:
    # a count of tasks, not a time: a busy machine takes longer, it does not make fewer
    report = load.run(clients=4, max_tasks=5, seconds=120)

    integrity = report.integrity
    assert report.server_errors == 0, report.kinds
    assert integrity.ok, integrity
    assert report.ok
    assert integrity.present == integrity.accepted == report.kinds["create"].count
    assert integrity.accepted == 4 * 5
    assert integrity.callbacks_expected >= 1
    assert integrity.callbacks_received == integrity.callbacks_expected
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


CLEAN = load.Integrity(
    accepted=6,
    present=6,
    missing=[],
    duplicated=[],
    unresolved=[],
    unknown=[],
    from_unanswered=0,
    unanswered=0,
    cancelled=2,
    not_cancelled=[],
    wrong_answers=[],
    callbacks_expected=1,
    callbacks_received=1,
    wrong_callbacks=0,
)


def _report(integrity: load.Integrity, *, errors: dict[str, int]) -> load.Report:
    stats = load.KindStats(count=6, per_s=2.0, p50_ms=1.0, p99_ms=2.0, errors=errors)
    return load.Report(
        clients=1,
        seconds=3.0,
        workers=0,
        image_bytes=1,
        kinds={"create": stats},
        integrity=integrity,
    )


def test_a_callback_that_never_came_fails_the_integrity_check() -> None:
    assert CLEAN.ok
    assert not replace(CLEAN, callbacks_received=0).ok


@pytest.mark.parametrize(
    ("integrity", "errors", "status"),
    [
        (CLEAN, {}, 0),
        (CLEAN, {"429": 3}, 0),  # the limiter answering is not a failure
        (CLEAN, {"500": 1}, 1),
        (CLEAN, {"503": 2}, 1),
        (replace(CLEAN, callbacks_received=0), {}, 1),
    ],
    ids=["clean", "429s", "a 500", "503s", "callback missing"],
)
def test_main_exits_non_zero_on_a_5xx_or_a_failed_check(
    monkeypatch: pytest.MonkeyPatch, integrity: load.Integrity, errors: dict[str, int], status: int
) -> None:
    monkeypatch.setattr(load, "run", lambda **_: _report(integrity, errors=errors))
    monkeypatch.setattr(sys, "argv", ["load.py"])
    with pytest.raises(SystemExit) as exit_:
        load.main()
    assert exit_.value.code == status
