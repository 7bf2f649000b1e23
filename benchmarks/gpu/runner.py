"""One section in a child process with a deadline: its rows as they come, whatever happens.

The child runs in its own process group, so at the deadline it is killed with every process it
started (servers, engine children); the rows it printed before that are kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks.gpu.results import Result

ROOT = Path(__file__).resolve().parents[2]

#: Lines of a child's own output kept to say why it stopped.
_TAIL = 20


@dataclass
class Outcome:
    """What a section gave: its rows, and why it stopped if it did not finish."""

    rows: list[Result] = field(default_factory=list)
    stopped: str | None = None  # None: it finished
    seconds: float = 0.0
    tail: list[str] = field(default_factory=list)


def run_section(
    job: dict[str, Any], *, timeout_s: float, log: Path, on_row: Callable[[Result], None]
) -> Outcome:
    """Run ``job`` in a child, handing each row to ``on_row``; kill it after ``timeout_s``."""
    path = log.with_suffix(".job.json")
    path.write_text(json.dumps(job))
    started = time.monotonic()
    outcome = Outcome()
    tail: deque[str] = deque(maxlen=_TAIL)
    with log.open("w") as sink:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.gpu.child", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert child.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
        deadline = started + timeout_s
        while (line := _next(lines, deadline)) is not None:
            row = Result.parse(line)
            if row is None:
                sink.write(line)
                tail.append(line.rstrip())
                continue
            outcome.rows.append(row)
            on_row(row)
        outcome.stopped = _stop(child, timed_out=time.monotonic() >= deadline, timeout_s=timeout_s)
    outcome.seconds = time.monotonic() - started
    outcome.tail = list(tail)
    return outcome


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next(lines: queue.Queue[str | None], deadline: float) -> str | None:
    """The child's next line, or None once it closed its output or the deadline passed."""
    try:
        return lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        return None


def _stop(child: subprocess.Popen[str], *, timed_out: bool, timeout_s: float) -> str | None:
    """Kill the child's group if it ran out of time; why it stopped early, or None."""
    if timed_out:
        _kill_group(child)
        return f"timed out after {timeout_s:.0f} s"
    try:
        code = child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        return "closed its output but did not exit"
    _kill_group(child)  # whatever it started and left behind
    return None if code == 0 else f"exited with status {code}"


def _kill_group(child: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
