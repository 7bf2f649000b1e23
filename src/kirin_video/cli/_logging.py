"""Log set-up for the long-running commands: plain text for people, JSON lines for collectors."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from kirin_video.api.request_id import RequestIdFilter
from kirin_video.config import Settings

TEXT_FORMAT = "%(levelname)s:     %(name)s: [%(request_id)s] %(message)s"
JSON_FIELDS = (
    "%(asctime)s %(levelname)s %(name)s %(process)d %(threadName)s %(request_id)s %(message)s"
)


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
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
