"""The storage interface the runtime writes to and the API signs URLs from."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class StorageUnavailable(RuntimeError):
    """The outputs' store cannot be reached or refuses this server's credentials."""


class Storage(Protocol):
    """Keeps output files by key and hands out URLs that expire."""

    def put(self, key: str, source: Path) -> None: ...

    def url(self, key: str, *, base_url: str) -> str: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def check(self) -> None:
        """Raise StorageUnavailable unless outputs can be written now (readiness)."""
        ...
