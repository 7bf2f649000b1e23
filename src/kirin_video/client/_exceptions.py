"""The SDK's one exception type.

KirinAPIError        any failure: an error answer, a failed or cancelled task, a transport error
                     or a wait that timed out; ``code`` is the contract's code (see below)

Codes beyond the server's own: ``TRANSPORT_ERROR`` (the server could not be reached) and
``WAIT_TIMEOUT`` (``wait`` gave up before the task finished).
"""

from __future__ import annotations

TRANSPORT_ERROR = "8002005099"
WAIT_TIMEOUT = "wait_timeout"


class KirinAPIError(Exception):
    """An error with the contract's code and message, and the HTTP status when there was one."""

    def __init__(self, code: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code
