"""Worker names that say where a worker runs, so a dead one on this host is seen at once."""

from __future__ import annotations

import os
import socket

_HOST = socket.gethostname()


def worker_name(suffix: str | None = None) -> str:
    """``host:pid`` (plus ``:suffix`` for one of several workers in a process)."""
    name = f"{_HOST}:{os.getpid()}"
    return f"{name}:{suffix}" if suffix else name


def is_dead(worker: str) -> bool:
    """True only when the worker ran on this host in a process that no longer exists."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False
