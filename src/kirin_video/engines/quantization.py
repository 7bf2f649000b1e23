"""``KIRIN_QUANTIZE=fp8``: the transformers' linear layers in FP8 through torchao, or a refusal.

FP8 matrix units exist from compute capability 8.9 (Ada, Hopper) on; elsewhere, or without
torchao, the engine refuses at load with the reason rather than running slower than bf16.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from kirin_video.config import Settings
from kirin_video.contract.errors import EngineUnavailable

FP8_CAPABILITY = (8, 9)


def fp8_refusal(
    device: str, capability: tuple[int, int] | None, *, torchao_installed: bool
) -> str | None:
    """Why FP8 cannot run on ``device`` (of CUDA ``capability``), or None where it can."""
    if not device.startswith("cuda") or capability is None:
        return (
            f"KIRIN_QUANTIZE=fp8 needs a CUDA GPU of compute capability 8.9 or newer (Ada, "
            f"Hopper), and this worker runs on {device}: set KIRIN_QUANTIZE=none"
        )
    if capability < FP8_CAPABILITY:
        major, minor = capability
        return (
            f"KIRIN_QUANTIZE=fp8 needs compute capability 8.9 or newer (Ada, Hopper), and "
            f"{device} has {major}.{minor}: set KIRIN_QUANTIZE=none"
        )
    if not torchao_installed:
        return "KIRIN_QUANTIZE=fp8: torchao is not installed: pip install 'kirin-video[fp8]'"
    return None


def check_quantize(settings: Settings, device: str) -> None:
    """Refuse an FP8 setting this machine cannot run, before any weights are read."""
    if settings.quantize == "none":
        return
    reason = fp8_refusal(device, cuda_capability(device), torchao_installed=_has("torchao"))
    if reason:
        raise EngineUnavailable(reason)


def quantize(transformers: list[Any], settings: Settings, device: str) -> None:
    """Quantize every expert's linear layers to FP8 (dynamic activations, FP8 weights)."""
    if settings.quantize == "none":
        return
    check_quantize(settings, device)
    from torchao.quantization import (
        Float8DynamicActivationFloat8WeightConfig,
        PerRow,
        quantize_,
    )

    for transformer in transformers:
        quantize_(transformer, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()))


def cuda_capability(device: str) -> tuple[int, int] | None:
    """The compute capability of a CUDA ``device``, or None for anything else."""
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(device)
    return major, minor


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
