"""What a worker and its engine child say over their pipe: one small frozen event per kind.

The worker sends ``RunJob`` and, to break one off, ``StopJob``. The child answers a job with
``Progress`` while it runs and one of ``Done``, ``JobStopped``, ``KirinRaised`` or
``EngineRaised`` at its end. A ``KirinError`` crosses as its class name, code, message and plain
attributes, and is raised in the worker as the same class; anything else crosses as text.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from kirin_video.contract import errors
from kirin_video.contract.errors import ErrorCode, KirinError
from kirin_video.engines.base import Job

#: The contract's error classes by name: the ones a worker can raise again as themselves.
_KIRIN_ERRORS: dict[str, type[KirinError]] = {
    name: value
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, KirinError)
}
#: Attribute values that cross the pipe with an error (``retry_after_s``, ``reason``, ...).
_PLAIN = (str, int, float, bool, type(None))


class EngineError(Exception):
    """The engine raised inside the child; the text is its type, message and traceback."""


# The worker to its child.


@dataclass(frozen=True)
class RunJob:
    """Run ``job`` and write its frames to ``frames_path`` (a ``.npy`` file)."""

    job: Job
    frames_path: str


@dataclass(frozen=True)
class StopJob:
    """Drop the job now running (a cancel, a shutdown); heard at the engine's next step."""


# The child to its worker.


@dataclass(frozen=True)
class Progress:
    """How far the job is, from 0 to 1."""

    value: float


@dataclass(frozen=True)
class Done:
    """The frames are in ``frames_path``, to be played at ``fps``."""

    frames_path: str
    fps: float


@dataclass(frozen=True)
class JobStopped:
    """The job was dropped as the worker asked."""


@dataclass(frozen=True)
class KirinRaised:
    """The engine raised a ``KirinError``: enough to raise the same class in the worker."""

    kind: str
    code: ErrorCode
    message: str
    state: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, error: KirinError) -> KirinRaised:
        state: dict[str, object] = {
            key: value for key, value in vars(error).items() if isinstance(value, _PLAIN)
        }
        return cls(type(error).__name__, error.code, error.message, state)

    def error(self) -> KirinError:
        """The error again; a class the contract does not know comes back as ``KirinError``."""
        kind = _KIRIN_ERRORS.get(self.kind, KirinError)
        error = kind.__new__(kind)  # as unpickling does: constructors' keywords vary by class
        Exception.__init__(error, self.message)
        vars(error).update(self.state)
        error.code = self.code
        return error


@dataclass(frozen=True)
class EngineRaised:
    """The engine raised something else: its type, message and traceback, as text."""

    text: str

    @classmethod
    def of(cls, error: Exception) -> EngineRaised:
        trace = "".join(traceback.format_exception(error))
        return cls(f"{type(error).__name__}: {error}\n{trace}".rstrip())

    def error(self) -> EngineError:
        return EngineError(self.text)


ToChild = RunJob | StopJob
Raised = KirinRaised | EngineRaised
Ended = Done | JobStopped | KirinRaised | EngineRaised
FromChild = Progress | Ended


def raised(error: Exception) -> Raised:
    """The event that carries ``error`` back to the worker."""
    if isinstance(error, KirinError):
        return KirinRaised.of(error)
    return EngineRaised.of(error)
