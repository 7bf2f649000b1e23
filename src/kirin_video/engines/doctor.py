"""What a GPU worker would run with, checked without generating: ``kirin doctor``."""

from __future__ import annotations

from kirin_video.config import Settings
from kirin_video.contract.catalog import Mode
from kirin_video.contract.errors import EngineUnavailable
from kirin_video.engines.profiles import Profile, profile_for
from kirin_video.engines.registry import diffusers_ready
from kirin_video.media.encoders import EncoderUnavailable, choose_encoder

GIB = 1024**3


def diagnose(settings: Settings) -> list[tuple[str, str]]:
    """Rows of (fact, value): engine, device, dtype, weights, GPU memory and accelerations."""
    ready, reason = diffusers_ready(settings)
    chosen = settings.engine
    if chosen == "auto":
        chosen = "diffusers" if ready else "preview"
    rows = [
        ("KIRIN_ENGINE", settings.engine),
        ("engine used", f"{chosen} ({reason})"),
        ("model path", settings.model_path or "(not set)"),
    ]
    if chosen == "diffusers":
        rows.append(("model check", _model_check(settings)))
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
    return rows + _gpu_rows(torch) + acceleration_rows(settings, device)


def acceleration_rows(settings: Settings, device: str) -> list[tuple[str, str]]:
    """Which speed switches a worker here would run with, and any it would refuse, and why."""
    loras = [*settings.loras, *settings.loras_2]
    return [
        *((f"{mode.value} profile", _profile(profile_for(settings, mode))) for mode in Mode),
        ("LoRAs", ", ".join(f"{source} × {strength:g}" for source, strength in loras) or "none"),
        ("cache", _cache(settings)),
        ("quantize", _quantize(settings, device)),
        ("compile", _COMPILE[settings.compile]),
        ("attention backend", settings.attention_backend or "PyTorch's default"),
        ("text encoder", _text_encoder(settings)),
        (
            "prompt cache",
            f"{settings.prompt_cache_size} prompts" if settings.prompt_cache_size else "off",
        ),
        ("overlap", "encode while the next task renders" if settings.overlap else "off"),
        ("encoder", _encoder(settings)),
        ("retime and resize", _conform(settings, device)),
    ]


def _conform(settings: Settings, device: str) -> str:
    wanted = settings.conform_on_device
    on_device = device.startswith("cuda") if wanted is None else wanted
    return f"on {device}, before the frames leave it" if on_device else "on the CPU, after"


def _encoder(settings: Settings) -> str:
    try:
        choice = choose_encoder(settings.encoder)
    except EncoderUnavailable as exc:
        return f"refused: {exc}"
    return f"{choice.codec} ({choice.reason})"


_COMPILE: dict[object, str] = {
    False: "off",
    True: "the whole transformer",
    "regional": "each repeated block (regional)",
}


def _profile(profile: Profile) -> str:
    guidance = (
        "guidance from cfg_scale"
        if profile.guidance_scale is None
        else f"guidance {profile.guidance_scale:g}"
    )
    scheduler = "the pipeline's scheduler" if profile.scheduler == "pipeline" else profile.scheduler
    shift = "" if profile.flow_shift is None else f", shift {profile.flow_shift:g}"
    return f"{profile.name}: {profile.steps} steps, {guidance}, {scheduler}{shift}"


def _cache(settings: Settings) -> str:
    if settings.cache == "first-block":
        return f"first-block, threshold {settings.cache_threshold:g}"
    if settings.cache == "taylorseer":
        return (
            f"taylorseer, {settings.cache_warmup_steps} full steps, "
            f"then one full step in every {settings.cache_interval}"
        )
    return "off"


def _quantize(settings: Settings, device: str) -> str:
    if settings.quantize == "none":
        return "off"
    from kirin_video.engines.quantization import check_quantize

    try:
        check_quantize(settings, device)
    except EngineUnavailable as exc:
        return f"refused: {exc.message}"
    return "fp8 (torchao, dynamic activations, per-row scales)"


def _model_check(settings: Settings) -> str:
    """What a task would fail with before any weights load: the operator's own message."""
    from kirin_video.engines.loading import check_source

    try:
        check_source(settings)
    except EngineUnavailable as exc:
        return f"refused: {exc.message}"
    return "ok (a pipeline folder or a repo id; the weights load with the first task)"


def _text_encoder(settings: Settings) -> str:
    if settings.cpu_offload != "none":
        return f"offloaded with the rest (KIRIN_CPU_OFFLOAD={settings.cpu_offload})"
    if settings.text_encoder_offload:
        return "in host memory, on the device only to encode a prompt"
    return "on the device"


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
