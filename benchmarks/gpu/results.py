"""One measured row of the GPU benchmark, as a child process hands it to the parent."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, fields

#: Marks a row on a child's stdout among whatever else the libraries print there.
MARK = "@@kirin-bench-row "


@dataclass
class Result:
    """A row of the table: every cell as text, empty where it does not apply."""

    key: str  # the planned row it answers
    what: str
    arch: str = ""
    mode: str = ""
    native: str = ""  # the network's working point, WxHxF
    steps: str = ""
    s_step: str = ""
    s_video: str = ""
    peak_gib: str = ""
    tasks_h: str = ""
    note: str = ""
    seconds: float = 0.0  # the row's own wall time, which the planner learns from

    @classmethod
    def parse(cls, line: str) -> Result | None:
        """The row a child printed on ``line``, or None for any other output."""
        if not line.startswith(MARK):
            return None
        data = json.loads(line.removeprefix(MARK))
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def emit(result: Result) -> None:
    """Hand a row to the parent now, so a later hang loses nothing measured."""
    sys.stdout.write(MARK + json.dumps(asdict(result)) + "\n")
    sys.stdout.flush()
