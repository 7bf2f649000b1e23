"""The GPU benchmark (`make bench-gpu`) runs whole at the tiny point on the CPU, in its budget."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.gpu.catalog import rows, section_starts
from benchmarks.gpu.plan import Row, cost, fit
from benchmarks.gpu.report import COLUMNS

ROOT = Path(__file__).resolve().parents[2]
BUDGET_S = 300


def test_the_plan_leaves_out_the_lowest_priorities_until_it_fits() -> None:
    every = rows("real", tasks=3, quality_steps=10)
    starts = section_starts("real")
    assert [row.priority for row in every] == sorted(row.priority for row in every)
    assert cost(every, starts) > 480  # the default budget cannot hold every row on an H100
    plan = fit(every, 480, starts)
    assert cost(plan.kept, starts) <= 480
    assert all(cost([*plan.kept, row], starts) > 480 for row in plan.dropped)  # none fits back
    first_dropped = min(row.priority for row in plan.dropped)
    assert all(row in plan.kept for row in every if row.priority < first_dropped)
    assert plan.kept == [row for row in every if row in plan.kept]  # in the catalog's order
    assert {"prepare", "doctor", "std-fast", "std-quality"} <= {row.key for row in plan.kept}
    nothing = fit(every, 1, starts)
    assert not nothing.kept and len(nothing.dropped) == len(every)


def test_a_section_whose_rows_are_gone_costs_nothing() -> None:
    starts = {"a": 100.0, "b": 5.0}
    first, second = Row("x", "a", 2, "x", 10), Row("y", "b", 1, "y", 10)
    plan = fit([first, second], 20, starts)
    assert plan.kept == [second] and plan.dropped == [first]  # 15 s: section a's start is saved


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, float]:
    """One run at the tiny point: its report file, what it printed, and how long it took."""
    out = tmp_path_factory.mktemp("bench") / "bench-gpu.md"
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.gpu",
            *("--arch", "tiny", "--device", "cpu", "--budget-s", str(BUDGET_S)),
            *("--tasks", "1", "--quality-steps", "2"),
            *("--skip", "std-fast-compile,serve-overlap-off"),  # minutes of compiling; a twin
            *("--output", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUDGET_S + 60,
    )
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return out.read_text(), run.stdout, took


def _table(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_the_report_says_where_and_with_what(report: tuple[str, str, float]) -> None:
    text, printed, took = report
    assert took <= BUDGET_S + 15  # the interpreter's start and exit around the budget
    assert re.search(r"^- date: \d{4}-\d\d-\d\d \d\d:\d\d UTC, commit \w+", text, re.M)
    assert re.search(r"^- device: .* \(cpu\), \d+ CPU cores$", text, re.M)
    assert re.search(r"^- torch 2\.\d+\.\d+\S*, CUDA none, diffusers \d", text, re.M)
    assert re.search(r"^Budget 300 s, used \d+ s\.$", text, re.M)
    table = _table(text)
    assert table[0] == [title for title, _ in COLUMNS] and set(table[1]) == {"---"}
    assert all(len(row) == len(COLUMNS) for row in table[2:])
    for row in _table(printed)[2:]:  # printed as measured, the same rows as the file's
        assert row in table


def test_every_row_is_measured_or_says_why_not(report: tuple[str, str, float]) -> None:
    text, _, _ = report
    by_what = {
        row[1]: dict(zip([t for t, _ in COLUMNS], row, strict=True)) for row in _table(text)[2:]
    }
    std = by_what["engine: i2v std 5 s, fast (4 steps)"]
    assert std["native WxHxF"] == "64x32x21" and std["steps"] == "4 (1 pass/step)"
    assert float(std["s/step"]) > 0 and float(std["s/video"]) > 0 and std["peak GiB"] == "n/a"
    quality = by_what["engine: i2v std 5 s, quality (30 steps)"]
    assert quality["steps"] == "30 (2 pass/step)" and quality["s/video"].endswith("(est.)")
    assert "ran 2 of 30 steps" in quality["note"]
    for switch in ("first-block", "taylorseer"):
        assert float(by_what[f"engine: i2v std 5 s, fast (4 steps), {switch}"]["s/video"]) > 0
    fp8 = [row for what, row in by_what.items() if what.endswith(", fp8")]
    assert fp8 and all("compute capability 8.9" in row["note"] for row in fp8)
    assert by_what["kirin doctor"]["note"] == "engine used: diffusers (no CUDA device)"
    assert "`kirin doctor` as the whole-task rows ran it:" in text
    serve = [row for what, row in by_what.items() if what.startswith("kirin serve")]
    measured = [row for row in serve if row["tasks/h"]]
    assert len(measured) == 1 and float(measured[0]["tasks/h"]) > 0
    assert all("1280x720x150 at 30 fps checked" in row["note"] for row in measured)
    gpu_media = [row for row in serve if "NVENC" in row["what"]]
    assert gpu_media and gpu_media[0]["note"].startswith("not run:")
    assert "(`std-fast-compile`): left out (--skip)" in text
    assert "(`serve-overlap-off`): left out (--skip)" in text
    assert not any(row["note"].startswith("FAILED") for row in by_what.values())
