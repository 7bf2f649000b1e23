"""Load a diffusers Wan VACE pipeline once, on the right device, with the user's switches."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kirin_video.config import Settings
from kirin_video.contract.errors import EngineUnavailable
from kirin_video.engines.caches import apply_cache
from kirin_video.engines.loras import fuse_loras
from kirin_video.engines.quantization import check_quantize, quantize

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_MESSAGE_CAP = 300  # characters of a library's own error kept in a task's message


def resolve_device(settings: Settings) -> str:
    """``KIRIN_DEVICE``, else the first GPU when there is one, else the CPU."""
    import torch

    if settings.device:
        return settings.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(settings: Settings, device: str) -> torch.dtype:
    """``KIRIN_DTYPE``; ``auto`` is bf16 on a GPU and fp32 on the CPU."""
    import torch

    name = settings.dtype
    if name == "auto":
        name = "fp32" if device == "cpu" else "bf16"
    dtype: torch.dtype = getattr(torch, _DTYPES[name])
    return dtype


def local_weights(source: str) -> Path | None:
    """The pipeline directory for ``source`` without touching the network, if there is one."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path if (path / "model_index.json").is_file() else None
    from huggingface_hub import snapshot_download

    try:
        cached = Path(snapshot_download(source, local_files_only=True))
    except Exception:  # not a repo id, or not in the cache
        return None
    return cached if (cached / "model_index.json").is_file() else None


def load_pipeline(settings: Settings) -> Any:
    """The configured pipeline, ready on its device; failures say what the user should do."""
    import torch

    device = resolve_device(settings)
    check_quantize(settings, device)  # what the machine cannot do, before reading any file
    source = check_source(settings)
    from diffusers import WanVACEPipeline  # seconds to import: only for a source that may load

    dtype = resolve_dtype(settings, device)
    try:
        # The VAE stays in fp32 (Wan's own recipe): bf16 decoding bands smooth gradients.
        dtypes = {"default": dtype, "vae": torch.float32}
        pipe = WanVACEPipeline.from_pretrained(source, dtype=dtypes)
        _check_architecture(source, pipe)
        configure(pipe, settings, device=device)
    except EngineUnavailable:
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            release_memory()
            raise EngineUnavailable(_out_of_memory_advice(source, device, dtype)) from exc
        raise EngineUnavailable(_load_advice(source, exc)) from exc
    pipe.set_progress_bar_config(disable=True)
    log.info("loaded %s on %s as %s", source, device, dtype)
    return pipe


def check_source(settings: Settings) -> str:
    """``KIRIN_MODEL_PATH``, refused when unset or a local path that holds no pipeline.

    Reads no weights and imports no torch, so a server can tell at start and ``kirin doctor``
    can print the reason.
    """
    source = settings.model_path
    if not source:
        raise EngineUnavailable(
            "KIRIN_MODEL_PATH is not set: point it at a diffusers-format Wan VACE pipeline "
            "(a local directory or a Hugging Face repo id), see docs/engines.md"
        )
    _check_local_path(source)
    return source


def configure(pipe: Any, settings: Settings, *, device: str) -> None:
    """Apply the memory and speed switches, then place the pipeline on ``device``."""
    transformers = experts(pipe)
    if settings.flow_shift is not None:
        pipe.scheduler.register_to_config(flow_shift=settings.flow_shift)
    fuse_loras(pipe, settings)
    for transformer in transformers:
        if settings.attention_backend:
            transformer.set_attention_backend(settings.attention_backend)
    apply_cache(transformers, settings)
    if settings.vae_tiling:
        pipe.vae.enable_tiling()
    if settings.vae_slicing:
        pipe.vae.enable_slicing()
    if settings.cpu_offload == "none":
        _place(pipe, settings, device=device)
        quantize(transformers, settings, device)
    else:
        quantize(transformers, settings, device)
        _place(pipe, settings, device=device)
    _compile(transformers, settings)


def experts(pipe: Any) -> list[Any]:
    """The pipeline's transformers: one for Wan2.1, the high- and low-noise experts for Wan2.2."""
    return [t for t in (pipe.transformer, getattr(pipe, "transformer_2", None)) if t]


def _place(pipe: Any, settings: Settings, *, device: str) -> None:
    if settings.cpu_offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif settings.cpu_offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
        if settings.text_encoder_offload:
            pipe.text_encoder.to("cpu")  # the prompt cache brings it over to encode


def _compile(transformers: list[Any], settings: Settings) -> None:
    """``regional``: each repeated block once (seconds to compile); ``true``: the whole network."""
    for transformer in transformers:
        if settings.compile == "regional":
            transformer.compile_repeated_blocks()
        elif settings.compile:
            transformer.compile()


def _check_local_path(source: str) -> None:
    path = Path(source).expanduser()
    looks_local = source.startswith(("/", ".", "~")) or path.exists()
    if looks_local and not path.is_dir():
        raise EngineUnavailable(
            f"KIRIN_MODEL_PATH={source!r} does not exist: download the weights there "
            "or set it to a Hugging Face repo id"
        )
    if path.is_dir() and not (path / "model_index.json").is_file():
        raise EngineUnavailable(
            f"KIRIN_MODEL_PATH={source!r} is not a diffusers pipeline (no model_index.json): "
            "point it at the folder that holds model_index.json"
        )


def _check_architecture(source: str, pipe: Any) -> None:
    """Refuse other Wan pipelines: diffusers loads them with a warning, then generation fails."""
    from diffusers import WanVACETransformer3DModel

    for transformer in (pipe.transformer, pipe.transformer_2):
        if transformer is not None and not isinstance(transformer, WanVACETransformer3DModel):
            raise EngineUnavailable(
                f"KIRIN_MODEL_PATH={source!r} is not a Wan VACE pipeline (its transformer is a "
                f"{type(transformer).__name__}): point it at a Wan VACE pipeline such as "
                "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
            )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the device running out of memory (torch's own type, or CUDA's text)."""
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def release_memory() -> None:
    """Give the device's cached memory back after a failure, so the next try starts clean."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _out_of_memory_advice(source: str, device: str, dtype: torch.dtype) -> str:
    precision = str(dtype).removeprefix("torch.")
    return (
        f"out of memory on {device} loading {source!r} in {precision}: set "
        "KIRIN_CPU_OFFLOAD=model (or sequential, for the least memory), KIRIN_DTYPE=bf16 "
        "if it is fp32, or use a smaller model (Wan2.1-VACE-1.3B fits a 24 GB GPU)"
    )


#: Load failures the user can fix, recognised by the libraries' messages and error types.
_MISSING = ("no file named", "not fully cached", "does not appear to have a file named")
_UNREADABLE = ("unable to load weights", "not a valid json", "safetensorerror", "deserializ")


def _load_advice(source: str, exc: Exception) -> str:
    """The library's error, and what to do about it for the kinds of failure we recognise."""
    detail = f"{type(exc).__name__}: {exc}"
    text = detail.lower()
    if any(marker in text for marker in _MISSING):
        advice = (
            "a file of the pipeline is missing (an incomplete download, or a repo id not in "
            "the Hugging Face cache): download the whole pipeline again"
        )
    elif any(marker in text for marker in _UNREADABLE):
        advice = (
            "a file of the checkpoint cannot be read (truncated or corrupt): delete it and "
            "download it again"
        )
    else:
        advice = "check the KIRIN_* switches in docs/engines.md"
    return (
        f"could not load the model from KIRIN_MODEL_PATH={source!r} "
        f"({detail[:_MESSAGE_CAP]}); {advice}, then check with `kirin doctor`"
    )
