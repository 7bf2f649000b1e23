"""Whether this node's engine can run tasks: what ``/readyz`` tells, and the log explains."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from kirin_video.contract.incidents import ENGINE_UNAVAILABLE, Incident

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineProblem:
    """Why the engine cannot run here, in the operator's words, and the incident that logged it."""

    incident: Incident
    detail: str


class EngineStatus:
    """The engine's last word on whether it can run: set by start-up checks and runs."""

    def __init__(self) -> None:
        self._problem: EngineProblem | None = None
        self._lock = threading.Lock()

    @property
    def problem(self) -> EngineProblem | None:
        """The latest reason the engine could not run, None once it has run since."""
        return self._problem

    def unavailable(self, detail: str, *, task_id: str | None = None) -> Incident:
        """Log the operator's ``detail`` under a new incident, which clients are told instead."""
        incident = Incident.new(ENGINE_UNAVAILABLE)
        what = f"task {task_id} failed" if task_id else "engine check"
        log.error("%s: %s (incident %s): %s", what, ENGINE_UNAVAILABLE, incident.id, detail)
        with self._lock:
            self._problem = EngineProblem(incident=incident, detail=detail)
        return incident

    def available(self) -> None:
        """The engine ran a job: whatever stopped it before is mended."""
        if self._problem is not None:
            with self._lock:
                self._problem = None
