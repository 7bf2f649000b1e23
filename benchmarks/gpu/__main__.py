"""Every speed figure on one CUDA GPU in a time budget: ``python -m benchmarks.gpu``.

Networks of the published Wan VACE sizes are built with random weights (speed does not depend on
their values), so nothing is downloaded. The run plans its own time: rows have priorities and
estimated costs, the lowest-priority rows are left out until the rest fit ``--budget-s``, and
each section runs in a child process with its own deadline, so a hang loses only that section's
remaining rows. Rows print as they are measured; the whole report also goes to ``--output``
(default ``$OUT/bench-gpu.md`` when ``OUT`` is set).

    python -m benchmarks.gpu                                  # one CUDA GPU, 480 s
    python -m benchmarks.gpu --budget-s 900 --tasks 4         # more rows, more tasks a row
    python -m benchmarks.gpu --arch tiny --device cpu --budget-s 150   # the CPU check
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.gpu import catalog, prepare
from benchmarks.gpu.plan import SECTIONS, Row, cost, fit
from benchmarks.gpu.report import environment, header, left_out, line
from benchmarks.gpu.results import Result
from benchmarks.gpu.runner import run_section

#: Kept back from the budget for writing the report.
RESERVE_S = 3.0

#: Sections that read the saved pipeline.
_NEEDS_PIPELINE = ("doctor", "serve")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--arch",
        choices=["real", "tiny"],
        default="real",
        help="real: the published 1.3B and 14B sizes; tiny: a few layers (the CPU check)",
    )
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--budget-s", type=float, default=480.0, help="never run longer")
    parser.add_argument("--tasks", type=int, default=3, help="tasks timed per kirin serve row")
    parser.add_argument(
        "--quality-steps",
        type=int,
        default=10,
        help="steps a quality row runs, the rest estimated (0: the whole recipe)",
    )
    parser.add_argument("--skip", default="", help="comma-separated row keys to leave out")
    parser.add_argument("--work-dir", help="where the saved pipeline goes (default: a temp dir)")
    parser.add_argument("--output", help="the report's file (default: $OUT/bench-gpu.md)")
    return parser.parse_args(argv)


class Run:
    """One benchmark run: the rows not yet run, what each section gave, the time left."""

    def __init__(self, args: argparse.Namespace, work: Path, deadline: float) -> None:
        skip = set(filter(None, args.skip.split(",")))
        self.args, self.work, self.deadline = args, work, deadline
        every = catalog.rows(args.arch, tasks=args.tasks, quality_steps=args.quality_steps)
        self.pool = [row for row in every if row.key not in skip]
        self.starts = catalog.section_starts(args.arch)
        self.point: dict[str, Any] = dict(catalog.TINY_POINT) if args.arch == "tiny" else {}
        self.results: list[Result] = []
        self.dropped = [(row, "left out (--skip)") for row in every if row.key in skip]
        self.unfinished: list[tuple[Row, str]] = []
        self.failed_sections: list[str] = []
        self.estimated = self.actual = 0.0

    @property
    def factor(self) -> float:
        """How much longer than estimated the sections so far took (bounded)."""
        return min(5.0, max(0.3, self.actual / self.estimated)) if self.estimated else 1.0

    def all(self) -> None:
        print(header(), flush=True)
        for section in SECTIONS:
            remaining = self.deadline - time.monotonic() - RESERVE_S
            plan = fit(self.pool, remaining, self.starts, self.factor)
            chosen = plan.rows(section)
            self.dropped += [
                (r, "left out to fit the budget") for r in plan.dropped if r.section == section
            ]
            self.pool = [row for row in self.pool if row.section != section]
            if chosen:
                later = [row for row in plan.kept if row.section != section]
                self.section(section, chosen, remaining - cost(later, self.starts, self.factor))
        self.dropped += [(row, "left out to fit the budget") for row in self.pool]

    def section(self, name: str, rows: list[Row], spare_s: float) -> None:
        """Run one section in what the later sections' planned rows leave of the budget."""
        if name in _NEEDS_PIPELINE and not self.measured("prepare"):
            self.unfinished += [(row, "not run: no pipeline was saved") for row in rows]
            return
        estimate = cost(rows, self.starts)
        left = self.deadline - time.monotonic() - RESERVE_S
        timeout = min(left, max(spare_s, estimate * self.factor))
        outcome = run_section(
            self.job(name, rows),
            timeout_s=timeout,
            log=self.work / f"{name}.log",
            on_row=self.show,
        )
        answered = {row.key for row in outcome.rows}
        why = outcome.stopped or "the section gave no row for it"
        if outcome.stopped and not outcome.stopped.startswith("timed out"):
            self.failed_sections.append(name)
            why += f" ({outcome.tail[-1] if outcome.tail else 'no output'})"
        self.unfinished += [(row, why) for row in rows if row.key not in answered]
        self.estimated += estimate
        self.actual += outcome.seconds

    def show(self, result: Result) -> None:
        self.results.append(result)
        print(line(len(self.results), result), flush=True)

    def measured(self, key: str) -> Result | None:
        found = [r for r in self.results if r.key == key and not _unmeasured(r)]
        return found[0] if found else None

    def job(self, section: str, rows: list[Row]) -> dict[str, Any]:
        """What the section's child needs: the device, the working point, its rows."""
        base = {"section": section, "device": self.args.device, "point": self.point}
        arch = rows[0].params.get("arch", catalog.Sizes.named(self.args.arch).small)
        shared = {**base, "arch": arch, "work": str(self.work)}
        if section == "prepare":
            return shared
        if section == "doctor":
            return {**shared, "timeout_s": max(10.0, self.deadline - time.monotonic())}
        if section == "serve":
            return {**shared, **self.serve_job(rows)}
        return {**base, "rows": [_row_job(row) for row in rows]}

    def serve_job(self, rows: list[Row]) -> dict[str, Any]:
        """The whole-task rows, and the engine alone's seconds per video as their bound."""
        engine = self.measured("std-fast")
        return {
            "tasks": self.args.tasks,
            "bound_s": float(engine.s_video) if engine else None,
            "rows": [{"key": row.key, "what": row.what, **row.params} for row in rows],
        }

    def report(self) -> list[str]:
        lines = left_out("Left out", self.dropped) + left_out("Not measured", self.unfinished)
        doctor = self.work / prepare.DOCTOR
        if doctor.is_file():
            lines += ["", "`kirin doctor` as the whole-task rows ran it:", "", "```"]
            lines += [*doctor.read_text().rstrip().splitlines(), "```"]
        return lines

    def failed(self) -> bool:
        return bool(self.failed_sections) or any(r.note.startswith("FAILED") for r in self.results)


def _row_job(row: Row) -> dict[str, Any]:
    return {"key": row.key, "what": row.what, "params": row.params}


def _unmeasured(result: Result) -> bool:
    return result.note.startswith(("FAILED", "not run"))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    if args.device.startswith("cuda") and not _cuda():
        print("no CUDA device here: run with --arch tiny --device cpu for the CPU check")
        return 2
    title = ["# kirin-video GPU benchmark", "", *environment(args.device), ""]
    print("\n".join(title), flush=True)
    with tempfile.TemporaryDirectory(prefix="kirin-bench-", dir=args.work_dir) as work:
        run = Run(args, Path(work), deadline=started + args.budget_s)
        run.all()
        tail = run.report()
    used = f"Budget {args.budget_s:.0f} s, used {time.monotonic() - started:.0f} s."
    print("\n".join(["", used, *tail]), flush=True)
    table = [header(), *(line(i, r) for i, r in enumerate(run.results, 1))]
    _write(args, "\n".join([*title, *table, "", used, *tail]) + "\n")
    return 1 if run.failed() else 0


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _write(args: argparse.Namespace, text: str) -> None:
    target = args.output or (
        Path(os.environ["OUT"]) / "bench-gpu.md" if "OUT" in os.environ else None
    )
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text)
        print(f"\nreport: {target}")


if __name__ == "__main__":
    sys.exit(main())
