"""Choose the engine a server or worker runs, by name from settings."""

from __future__ import annotations

import logging

from kirin_video.engines.base import Engine

log = logging.getLogger(__name__)


def load_engine(name: str) -> Engine:
    """The engine for ``KIRIN_ENGINE``; ``auto`` falls back to preview without GPU weights."""
    if name not in ("auto", "preview"):
        raise ValueError(f"KIRIN_ENGINE: must be auto or preview; got {name!r}")
    from kirin_video.engines.preview import PreviewEngine

    engine = PreviewEngine()
    log.info("engine: %s (KIRIN_ENGINE=%s)", engine.name, name)
    return engine
