"""The chaos run, short: every kind of fault once, nothing lost (``make chaos`` runs it longer)."""

from __future__ import annotations

from benchmarks import chaos


def test_a_short_chaos_run_loses_nothing() -> None:
    report = chaos.run(tasks=8, seconds=30, seed=2)
    chaos.print_report(report)
    assert set(report.faults) == {*chaos.FAULTS, chaos.ONCE}
    assert report.accepted == 8 and report.lost == [] and report.duplicated == []
    assert report.completed + report.failed_with_reason == 8
    assert report.owed >= 2 * 8 and report.missing == [] and report.double_events == []
    assert report.wrong_output == [] and report.unexpected_5xx == []
