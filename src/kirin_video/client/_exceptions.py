"""The SDK's exceptions.

KirinAPIError              any failure: an error answer, a failed or cancelled task, a transport
                           error or a wait that timed out; ``code`` is the contract's code (below)
└─ WebhookVerificationError  a callback whose signature, headers or timestamp did not check out

Codes beyond the server's own: ``TRANSPORT_ERROR`` (the server could not be reached),
``WAIT_TIMEOUT`` (``wait`` gave up before the task finished) and ``WEBHOOK_INVALID``
(``verify_webhook`` refused a callback).
"""

from __future__ import annotations

TRANSPORT_ERROR = "8002005099"
WAIT_TIMEOUT = "wait_timeout"
WEBHOOK_INVALID = "webhook_invalid"


class KirinAPIError(Exception):
    """An error with the contract's code and message, and the HTTP status when there was one."""

    def __init__(self, code: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code


class WebhookVerificationError(KirinAPIError):
    """A callback that must not be trusted: answer it with a 4xx and do not act on it."""

    def __init__(self, message: str) -> None:
        super().__init__(WEBHOOK_INVALID, message)
