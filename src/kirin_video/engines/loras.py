"""LoRAs fused into the transformer once at load (``KIRIN_LORAS``, ``KIRIN_LORAS_2``).

Any format diffusers' Wan LoRA loader reads: diffusers/peft keys, or the original Wan keys
(``diffusion_model.blocks.N.self_attn.q.lora_down.weight`` …) that LightX2V's distill LoRAs use.
Fusing adds ``strength × B @ A`` (times alpha / rank where the file has alpha) to each weight,
then the LoRA layers are dropped, so a step costs what it did without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kirin_video.config import Settings
from kirin_video.contract.errors import EngineUnavailable

_SETTING = {"transformer": "KIRIN_LORAS", "transformer_2": "KIRIN_LORAS_2"}


def lora_location(source: str) -> tuple[str, str | None]:
    """Where to load a LoRA from: a local file or folder, ``owner/repo`` or ``owner/repo/file``."""
    path = Path(source).expanduser()
    if path.is_file():
        return str(path.parent), path.name
    if path.is_dir() or source.count("/") < 2:
        return str(path) if path.is_dir() else source, None
    if source.startswith(("/", ".", "~")):
        raise EngineUnavailable(f"KIRIN_LORAS: {source!r} does not exist")
    owner, repo, weight_name = source.split("/", 2)
    return f"{owner}/{repo}", weight_name


def fuse_loras(pipe: Any, settings: Settings) -> list[str]:
    """Load, weight and fuse every configured LoRA into its expert; the names fused."""
    fused = []
    targets = (("transformer", settings.loras), ("transformer_2", settings.loras_2))
    for component, entries in targets:
        if not entries:
            continue
        _check_expert(pipe, component)
        names = [_load(pipe, component, index, entry) for index, entry in enumerate(entries)]
        pipe.set_adapters(names, adapter_weights=[strength for _, strength in entries])
        pipe.fuse_lora(components=[component], adapter_names=names, lora_scale=1.0)
        pipe.unload_lora_weights()
        fused += [source for source, _ in entries]
    return fused


def _check_expert(pipe: Any, component: str) -> None:
    if getattr(pipe, component, None) is None:
        raise EngineUnavailable(
            f"{_SETTING[component]} is set but the pipeline has no {component}: "
            "KIRIN_LORAS_2 is for the low-noise expert of a two-expert (Wan2.2) pipeline"
        )


def _load(pipe: Any, component: str, index: int, entry: tuple[str, float]) -> str:
    source, _strength = entry
    name = f"kirin_{component}_{index}"
    location, weight_name = lora_location(source)
    try:
        pipe.load_lora_weights(
            location,
            weight_name=weight_name,
            adapter_name=name,
            load_into_transformer_2=component == "transformer_2",
        )
    except Exception as exc:
        raise EngineUnavailable(
            f"{_SETTING[component]}: could not load the LoRA {source!r} "
            f"({type(exc).__name__}: {str(exc)[:300]}); point it at a .safetensors file, a "
            "folder or a Hugging Face repo id (owner/repo or owner/repo/file.safetensors) "
            "of a Wan LoRA"
        ) from exc
    return name
