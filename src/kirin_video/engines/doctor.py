"""What a GPU worker would run with, checked without generating: ``kirin doctor``."""

from __future__ import annotations

from kirin_video.config import Settings
from kirin_video.engines.registry import diffusers_ready

GIB = 1024**3


def diagnose(settings: Settings) -> list[tuple[str, str]]:
    """Rows of (fact, value): engine choice, device, dtype, weights and free GPU memory."""
    ready, reason = diffusers_ready(settings)
    chosen = settings.engine
    if chosen == "auto":
        chosen = "diffusers" if ready else "preview"
    rows = [
        ("KIRIN_ENGINE", settings.engine),
        ("engine used", f"{chosen} ({reason})"),
        ("model path", settings.model_path or "(not set)"),
    ]
    try:
        import torch

        from kirin_video.engines.loading import local_weights, resolve_device, resolve_dtype
    except ImportError:
        return [*rows, ("torch", "not installed: pip install 'kirin-video[diffusers]'")]
    device = resolve_device(settings)
    weights = local_weights(settings.model_path) if settings.model_path else None
    rows += [
        ("weights", str(weights) if weights else "not found locally"),
        ("torch", torch.__version__),
        ("device", device),
        ("dtype", str(resolve_dtype(settings, device)).removeprefix("torch.")),
    ]
    return rows + _gpu_rows(torch)


def _gpu_rows(torch: object) -> list[tuple[str, str]]:
    cuda = torch.cuda  # type: ignore[attr-defined]
    if not cuda.is_available():
        return [("GPU", "none (CUDA not available)")]
    rows = []
    for index in range(cuda.device_count()):
        free, total = cuda.mem_get_info(index)
        memory = f"{free / GIB:.1f} GiB free of {total / GIB:.1f} GiB"
        rows.append((f"cuda:{index}", f"{cuda.get_device_name(index)}, {memory}"))
    return rows
