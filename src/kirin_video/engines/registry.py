"""Choose the engine a server or worker runs, from settings."""

from __future__ import annotations

import logging

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


def load_engine(settings: Settings) -> Engine:
    """The engine for ``KIRIN_ENGINE``; ``auto`` picks diffusers where a GPU and weights are."""
    name = settings.engine
    if name == "auto":
        ready, reason = diffusers_ready(settings)
        name = "diffusers" if ready else "preview"
        log.info("KIRIN_ENGINE=auto: %s (%s)", name, reason)
    if name == "diffusers":
        from kirin_video.engines.wan_vace import DiffusersEngine

        log.info("engine: diffusers (%s)", settings.model_path)
        return DiffusersEngine(settings)
    from kirin_video.engines.preview import PreviewEngine

    log.info("engine: preview (renders from the inputs alone, no model)")
    return PreviewEngine()
