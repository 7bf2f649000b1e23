"""Log set-up for the long-running commands: plain text for people, JSON lines for collectors.

Whatever a record carries from a request (a path, a header, an exception's text) cannot forge a
line: control and other unprintable characters are escaped in every message, and in the text
format every line of a record after its first (a traceback's) is indented, so only a record
starts a line. When the process runs short of file descriptors, the records about it (the event
loop's accept errors, one per connection tried) are let through at most once a second, as one line.
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


class EscapingFilter(logging.Filter):
    """Escapes unprintable characters in each record's message, its arguments put in first."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = printable(message), ()
        return True


class ShortageFilter(logging.Filter):
    """One line a second, without its traceback, for records about running out of descriptors."""

    def __init__(self, every_s: float = 1.0) -> None:
        super().__init__()
        self.every_s = every_s
        self.next_at = 0.0
        self.dropped = 0
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, OSError) or error.errno not in SHORTAGES:
            return True
        with self.lock:
            now = time.monotonic()
            if now < self.next_at:
                self.dropped += 1
                return False
            dropped, self.dropped, self.next_at = self.dropped, 0, now + self.every_s
        first = record.getMessage().splitlines()[0] if record.getMessage() else record.name
        record.msg = "%s: %s (%d more such records since the last line)"
        record.args = (first, error.strerror or error, dropped)
        record.exc_info = record.exc_text = None
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
    handler.addFilter(ShortageFilter())
    handler.addFilter(EscapingFilter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
