"""Worker names: a dead process on this host is known dead at once, anything else waits."""

from __future__ import annotations

import socket
import subprocess
import sys

from kirin_video.runtime.identity import is_dead, worker_name

_HOST = socket.gethostname()


def test_a_finished_process_on_this_host_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert is_dead(f"{_HOST}:{child.pid}")
    assert is_dead(f"{_HOST}:{child.pid}:t0")


def test_living_processes_and_other_hosts_are_not_called_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not is_dead(f"{_HOST}:{child.pid}")
    finally:
        child.kill()
        child.wait()
    assert not is_dead(worker_name("t0"))  # this very process
    assert not is_dead(f"elsewhere.example:{child.pid}")  # only its own host can tell
    assert not is_dead("not-a-worker-name")
