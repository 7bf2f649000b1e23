"""A `kirin serve` child on a fresh data dir, with only the settings a benchmark row names."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.load import SERVE, free_port

#: How long a server may take to answer /healthz (the pipeline loads later, in its engine child).
START_TIMEOUT_S = 120.0


@contextmanager
def served(settings: dict[str, str]) -> Iterator[str]:
    """The server's URL for the block; stopped after it, and killed with this process's group."""
    with tempfile.TemporaryDirectory(prefix="kirin-bench-serve-") as tmp:
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
            yield url
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
            raise RuntimeError(f"kirin serve exited ({process.returncode}):\n{_tail(log_path)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"kirin serve did not answer in {START_TIMEOUT_S:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _tail(log_path: Path, chars: int = 3000) -> str:
    return log_path.read_text(errors="replace")[-chars:] if log_path.exists() else ""
