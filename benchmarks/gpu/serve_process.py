"""A `kirin serve` child on a fresh data dir, with only the settings a benchmark row names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.load import SERVE, free_port, stop

#: How long a server may take to answer /healthz (the pipeline loads later, in its engine child).
START_TIMEOUT_S = 120.0


#: Where a task's error names the incident under which the server logged what clients are not told.
INCIDENT = re.compile(r"\(incident (\w+)\)")
#: The start of a record in the server's text log, e.g. ``ERROR:     kirin_video.runtime...``.
RECORD = re.compile(r"^[A-Z]+:\s")


@dataclass(frozen=True)
class Server:
    """A running `kirin serve`: where it answers and where it logs."""

    url: str
    log_path: Path

    def explained(self, error: str) -> str:
        """A task's error, with the cause the server logged under its incident when there is one."""
        match = INCIDENT.search(error)
        cause = _logged_cause(_tail(self.log_path, chars=None), match[0]) if match else None
        return f"{error}; the server logged: {cause}" if cause else error


def _logged_cause(log: str, incident: str) -> str | None:
    """What follows the incident on its log line, else the last line of its traceback."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if incident in line), None)
    if start is None:
        return None
    detail = lines[start].split(incident, 1)[1].lstrip(": ").strip()
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if RECORD.match(line):
            break
        block.append(line)
    return detail or next((line.strip() for line in reversed(block) if line.strip()), None)


@contextmanager
def served(settings: dict[str, str], *, within: str | None = None) -> Iterator[Server]:
    """The server for the block; stopped after it, and killed with this process's group.

    Its data dir goes under ``within`` when given, such as a folder the parent process removes:
    a row killed at its deadline never cleans up after itself.
    """
    with tempfile.TemporaryDirectory(prefix="kirin-bench-serve-", dir=within) as tmp:
        log_path = Path(tmp) / "server.log"
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*SERVE, "--host", "127.0.0.1", "--port", str(port)],
                env={**_inherited(), "KIRIN_DATA_DIR": str(Path(tmp) / "data"), **settings},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process, log_path)
            yield Server(url, log_path)
        except BaseException:
            sys.stderr.write(_tail(log_path))
            raise
        finally:
            _stop(process)


def _inherited() -> dict[str, str]:
    """This process's environment without ``KIRIN_*``: a row measures its own settings only."""
    return {name: value for name, value in os.environ.items() if not name.startswith("KIRIN_")}


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = " | ".join(_tail(log_path, chars=600).strip().splitlines()[-4:])
            raise RuntimeError(f"kirin serve exited ({process.returncode}); its log ends: {last}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"kirin serve did not answer in {START_TIMEOUT_S:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        stop(process)


def _tail(log_path: Path, chars: int | None = 3000) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return text[-chars:] if chars else text
