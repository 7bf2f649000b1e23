"""A section of the GPU benchmark in its own process: ``python -m benchmarks.gpu.child JOB``.

JOB is a JSON file naming the section and its rows; each row goes to stdout as it is measured,
so the parent keeps what was measured when it has to stop the section at its deadline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.gpu import engines, prepare, serve
from benchmarks.gpu.results import emit

SECTIONS = {
    "prepare": prepare.save,
    "doctor": prepare.doctor,
    "engine": engines.measure,
    "engine-14b": engines.measure,
    "engine-wan22": engines.measure,
    "serve": serve.measure,
}


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    SECTIONS[job["section"]](job, emit)


if __name__ == "__main__":
    main()
