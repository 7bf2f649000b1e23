"""Which rows to measure in the time budget: every row has a priority and an estimated cost.

The estimates come from figures measured before (docs/performance.md) and are corrected as the
run goes by what the rows measured so far took. While the plan does not fit, the row of the lowest
priority goes first; a section (one child process) whose rows are all gone costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: The sections in the order they run; each is one child process.
SECTIONS = ("prepare", "doctor", "engine", "serve", "engine-14b", "engine-wan22")


@dataclass(frozen=True)
class Costs:
    """Seconds a network size costs on its device, for the plan (not figures to report)."""

    start_s: float  # a child process: imports, the device's context
    build_s: float  # the network with random weights, on the device
    save_s: float  # the pipeline written to disk, as a user's weights are
    pass_s: dict[str, float]  # one transformer pass, by mode
    rest_s: dict[str, float]  # a video's text encoding, VAE encoding and decoding, by mode
    compile_s: float  # regional compilation and its warm-up video
    server_s: float  # a `kirin serve` up, its engine child loaded


#: From the H100 figures of docs/performance.md (1.3B: 1.07 s a pass at 480p, 3.95 at 720p)
#: and the development machine's for the tiny network.
COSTS = {
    "tiny": Costs(8, 2, 2, {"std": 0.02, "pro": 0.04}, {"std": 3, "pro": 5}, 60, 15),
    "1.3b": Costs(20, 20, 30, {"std": 1.07, "pro": 3.95}, {"std": 9, "pro": 21}, 90, 45),
    "14b": Costs(20, 45, 60, {"std": 4.6, "pro": 17}, {"std": 10, "pro": 22}, 150, 90),
}


@dataclass(frozen=True)
class Row:
    """A row the run may measure: what it is, how much it matters, what it should cost."""

    key: str
    section: str
    priority: int  # 1 is kept longest
    what: str
    estimate_s: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """The rows kept, in the order they run, and those dropped to fit the budget."""

    kept: list[Row]
    dropped: list[Row]

    def sections(self) -> list[str]:
        return [s for s in SECTIONS if any(row.section == s for row in self.kept)]

    def rows(self, section: str) -> list[Row]:
        return [row for row in self.kept if row.section == section]


def cost(rows: Iterable[Row], start_s: dict[str, float], factor: float = 1.0) -> float:
    """What ``rows`` should take, their sections' starts included, scaled by ``factor``."""
    rows = list(rows)
    sections = {row.section for row in rows}
    return factor * (sum(row.estimate_s for row in rows) + sum(start_s[s] for s in sections))


def fit(rows: list[Row], budget_s: float, start_s: dict[str, float], factor: float = 1.0) -> Plan:
    """Drop the lowest-priority rows (the later of equals) until the rest fit ``budget_s``.

    Then a dropped row that fits in what is left comes back, the most important first: a row
    dropped before its section's last row went may cost less than was thought when it went.
    """
    kept, dropped = list(rows), []
    while kept and cost(kept, start_s, factor) > budget_s:
        worst = max(kept, key=lambda row: (row.priority, rows.index(row)))
        kept.remove(worst)
        dropped.append(worst)
    for row in sorted(dropped, key=lambda row: (row.priority, rows.index(row))):
        if cost([*kept, row], start_s, factor) <= budget_s:
            kept.append(row)
            dropped.remove(row)
    return Plan(sorted(kept, key=rows.index), dropped)
