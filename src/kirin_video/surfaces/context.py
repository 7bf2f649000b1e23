"""What the request being served is called, for envelopes that carry a request id."""

from __future__ import annotations

from contextvars import ContextVar

#: The ``X-Request-Id`` of the request being served (set by the API's middleware).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
