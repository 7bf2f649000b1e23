"""Unexpected failures: the client gets a short reason and an id, the log gets the rest."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

#: Plain words for the failure kinds a client may be told of; the first match wins.
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (MemoryError, "out of memory"),
    (TimeoutError, "an operation timed out"),
    (OSError, "a file, disk or network error on the server"),
)
_UNEXPECTED = "an unexpected error on the server"
#: The reason given for a task failed by the engine's configuration (``EngineUnavailable``).
ENGINE_UNAVAILABLE = "the engine is not available"


@dataclass(frozen=True)
class Incident:
    """One unexpected failure, named by an id that finds its traceback in the log."""

    id: str
    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> Incident:
        """A new incident for ``exc``; its reason names no path, type or library text."""
        reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), _UNEXPECTED)
        return cls.new(reason)

    @classmethod
    def new(cls, reason: str) -> Incident:
        """A new incident whose reason, in our own words, the caller chose."""
        return cls(id=secrets.token_hex(6), reason=reason)

    def message(self, text: str) -> str:
        """``text`` (the contract's words for the code) with the reason and the incident id."""
        return f"{text}: {self.reason} (incident {self.id})"
