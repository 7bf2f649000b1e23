"""Choose the engine a server or worker runs, from settings."""

from __future__ import annotations

import logging
from typing import Literal

from kirin_video.config import Settings
from kirin_video.engines.base import Engine

log = logging.getLogger(__name__)


def diffusers_ready(settings: Settings) -> tuple[bool, str]:
    """Whether ``auto`` can run the real model here (a GPU and local weights), and why not."""
    if not settings.model_path:  # checked first: the default start-up never imports torch
        return False, "KIRIN_MODEL_PATH is not set"
    try:
        import torch

        from kirin_video.engines.loading import local_weights
    except ImportError:
        return False, "torch/diffusers are not installed (pip install 'kirin-video[diffusers]')"
    if not torch.cuda.is_available():
        return False, "no CUDA device"
    if local_weights(settings.model_path) is None:
        return False, f"no weights found locally for {settings.model_path}"
    return True, f"CUDA and weights for {settings.model_path}"


def choose_engine(settings: Settings) -> Literal["diffusers", "preview"]:
    """The engine ``KIRIN_ENGINE`` names; ``auto`` picks diffusers where a GPU and weights are."""
    if settings.engine != "auto":
        return settings.engine
    ready, reason = diffusers_ready(settings)
    name: Literal["diffusers", "preview"] = "diffusers" if ready else "preview"
    log.info("KIRIN_ENGINE=auto: %s (%s)", name, reason)
    return name


def make_engine(name: Literal["diffusers", "preview"], settings: Settings) -> Engine:
    """Build the named engine (in the process that will run it)."""
    if name == "diffusers":
        from kirin_video.engines.wan_vace import DiffusersEngine

        log.info("engine: diffusers (%s)", settings.model_path)
        return DiffusersEngine(settings)
    from kirin_video.engines.preview import PreviewEngine

    log.info("engine: preview (renders from the inputs alone, no model)")
    return PreviewEngine()


def load_engine(settings: Settings) -> Engine:
    """The engine for ``KIRIN_ENGINE``, built here."""
    return make_engine(choose_engine(settings), settings)
