"""Diffusers' step caches behind ``KIRIN_CACHE``: reuse block outputs across denoising steps.

``first-block``: run the first transformer block; where its output changed by less than
``KIRIN_CACHE_THRESHOLD`` (relative) since the step before, reuse the other blocks' residual.
``taylorseer``: compute every block fully for ``KIRIN_CACHE_WARMUP_STEPS`` steps, then every
``KIRIN_CACHE_INTERVAL``-th step, and predict the attention and feed-forward outputs in between
from a first-order Taylor series. Each expert of a two-expert pipeline gets its own cache. MagCache
is not offered: it needs magnitude ratios calibrated per checkpoint, which Wan VACE has none of.
"""

from __future__ import annotations

from typing import Any

from kirin_video.config import Settings

#: The modules TaylorSeer predicts: each main block's attentions and feed-forward (diffusers'
#: default patterns match no Wan module).
_TAYLORSEER_MODULES = [r"blocks\.\d+\.(attn1|attn2|ffn)"]


def cache_config(settings: Settings) -> Any | None:
    """The diffusers cache config ``KIRIN_CACHE`` names, or None when it is off."""
    import torch
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if settings.cache == "first-block":
        return FirstBlockCacheConfig(threshold=settings.cache_threshold)  # type: ignore[no-untyped-call]
    if settings.cache == "taylorseer":
        return TaylorSeerCacheConfig(  # type: ignore[no-untyped-call]
            cache_interval=settings.cache_interval,
            disable_cache_before_step=settings.cache_warmup_steps,
            taylor_factors_dtype=torch.float32,
            cache_identifiers=list(_TAYLORSEER_MODULES),
        )
    return None


def apply_cache(transformers: list[Any], settings: Settings) -> None:
    """Enable the configured cache on every expert, each with its own state."""
    for transformer in transformers:
        config = cache_config(settings)
        if config is not None:
            transformer.enable_cache(config)
