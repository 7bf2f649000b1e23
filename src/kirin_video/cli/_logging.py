"""Log set-up for the long-running commands: plain text for people, JSON lines for collectors.

Whatever a record carries from a request (a path, a header, an exception's text) cannot forge a
line: control and other unprintable characters are escaped in every message, and in the text
format every line of a record after its first (a traceback's) is indented, so only a record
starts a line. When the process runs short of file descriptors, the records about it (the event
loop's accept errors, one per connection tried) are let through at most once a second, as one
line, and so is each of the event loop's errors that repeats word for word.
"""

from __future__ import annotations

import errno
import logging
import sys
import threading
import time

from pythonjsonlogger.json import JsonFormatter

from kirin_video.api.request_id import RequestIdFilter, printable
from kirin_video.config import Settings

TEXT_FORMAT = "%(levelname)s:     %(name)s: [%(request_id)s] %(message)s"
JSON_FIELDS = (
    "%(asctime)s %(levelname)s %(name)s %(process)d %(threadName)s %(request_id)s %(message)s"
)
#: What a record's continuation lines (a traceback's) start with in the text format.
CONTINUATION = "    "
#: Errors that say the process (or the machine) is out of descriptors or socket memory.
SHORTAGES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: Kinds of flooding record remembered at once; past it, the memory starts afresh.
MAX_KINDS = 1000


class EscapingFilter(logging.Filter):
    """Escapes unprintable characters in each record's message, its arguments put in first."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = printable(message), ()
        return True


class FloodFilter(logging.Filter):
    """At most one record a second of each kind that comes in floods, with a count of the rest.

    Running out of descriptors: the event loop logs a traceback per connection it fails to
    accept; these become one line, without the traceback. The event loop's other errors that
    repeat word for word (its accept retries failing once the listener is closed) keep their
    first record a second.
    """

    def __init__(self, every_s: float = 1.0) -> None:
        super().__init__()
        self.every_s = every_s
        self.next_at: dict[str, float] = {}
        self.dropped: dict[str, int] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        shortage = isinstance(error, OSError) and error.errno in SHORTAGES
        first = (record.getMessage().splitlines() or [""])[0]
        if not shortage and record.name != "asyncio":
            return True
        kind = "shortage" if shortage else first
        with self.lock:
            now = time.monotonic()
            if now < self.next_at.get(kind, 0.0):
                self.dropped[kind] = self.dropped.get(kind, 0) + 1
                return False
            if len(self.next_at) > MAX_KINDS:
                self.next_at.clear()
            self.next_at[kind] = now + self.every_s
            dropped = self.dropped.pop(kind, 0)
        if shortage:
            assert isinstance(error, OSError)
            record.msg, record.args = "%s: %s", (first, error.strerror or error)
            record.exc_info = record.exc_text = None
        if dropped:
            record.msg, record.args = (
                "%s (%d more such records since the last)",
                (
                    record.getMessage(),
                    dropped,
                ),
            )
        return True


class OneRecordPerLineFormatter(logging.Formatter):
    """The text format, with a record's later lines indented and escaped like its message."""

    def format(self, record: logging.LogRecord) -> str:
        first, *rest = super().format(record).split("\n")
        return "\n".join([first, *(CONTINUATION + printable(line) for line in rest)])


def setup_logging(settings: Settings) -> None:
    """One handler on the root logger, by ``KIRIN_LOG_FORMAT`` and ``KIRIN_LOG_LEVEL``."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
            )
        )
    else:
        handler.setFormatter(OneRecordPerLineFormatter(TEXT_FORMAT))
    handler.addFilter(FloodFilter())
    handler.addFilter(EscapingFilter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
