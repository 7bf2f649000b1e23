"""Per-mode working profiles: ``quality`` (the model's own recipe) or ``fast`` (a distilled one).

``fast`` is for step- and guidance-distilled weights (e.g. LightX2V's distill LoRAs): a few
steps, guidance 1.0 (one network pass per step) and the scheduler and shift the distillation
was trained with. ``quality`` keeps the pipeline's own scheduler and the configured steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from kirin_video.config import Settings
from kirin_video.contract.catalog import Mode


@dataclass(frozen=True)
class Profile:
    """How one mode denoises: steps, a fixed guidance (or none) and the scheduler to use."""

    name: str
    steps: int
    guidance_scale: float | None  # None: from cfg_scale and KIRIN_GUIDANCE_SCALE
    scheduler: str  # "pipeline" (the loaded one), "euler" or "unipc"
    flow_shift: float | None  # None: the scheduler's own


def profile_for(settings: Settings, mode: str) -> Profile:
    """The profile ``KIRIN_STD_PROFILE`` / ``KIRIN_PRO_PROFILE`` names for ``mode``."""
    name = settings.std_profile if mode == Mode.STD else settings.pro_profile
    if name == "fast":
        return Profile(
            name="fast",
            steps=settings.fast_steps,
            guidance_scale=settings.fast_guidance_scale,
            scheduler=settings.fast_scheduler,
            flow_shift=settings.fast_flow_shift,
        )
    steps = settings.inference_steps if mode == Mode.STD else settings.pro_inference_steps
    return Profile("quality", steps, None, "pipeline", settings.flow_shift)


def scheduler_for(loaded: Any, profile: Profile) -> Any:
    """The scheduler a profile denoises with: the loaded one, or a new one from its config."""
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    if profile.scheduler == "pipeline":
        return loaded
    if profile.scheduler == "euler":
        euler = _distill_euler(FlowMatchEulerDiscreteScheduler)
        return euler(
            num_train_timesteps=loaded.config.num_train_timesteps, shift=profile.flow_shift
        )
    return UniPCMultistepScheduler.from_config(  # type: ignore[no-untyped-call]
        loaded.config, flow_shift=profile.flow_shift
    )


def distill_sigmas(steps: int) -> list[float]:
    """LightX2V's step list before the shift: 1, 1 − 1/n, …, 1/n (1000, 750, 500, 250 for 4)."""
    return [1.0 - index / steps for index in range(steps)]


@cache
def _distill_euler(base: type) -> Any:
    """Flow-matching Euler stepping at :func:`distill_sigmas` (shifted), not evenly in time."""

    class DistillEulerScheduler(base):  # type: ignore[misc, valid-type]
        def set_timesteps(self, num_inference_steps: int | None = None, **kwargs: Any) -> None:
            if num_inference_steps and kwargs.get("sigmas") is None:
                kwargs["sigmas"] = distill_sigmas(num_inference_steps)
            super().set_timesteps(num_inference_steps, **kwargs)

    return DistillEulerScheduler
