"""The real model: Wan VACE through diffusers, answering both Kirin models with one network.

i2v conditions frames (the first, the last, or both) through VACE's ``video`` + ``mask``;
multi-image passes the references as ``reference_images``. A clip longer than the network's
window is rendered in segments, each conditioned on the last frames of the one before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from kirin_video.config import Settings
from kirin_video.contract.catalog import Mode
from kirin_video.contract.errors import GenerationFailed
from kirin_video.contract.incidents import Incident
from kirin_video.engines.base import Clip, Job, ProgressFn
from kirin_video.engines.loading import load_pipeline, release_memory, resolve_device
from kirin_video.engines.native import NativeOptions, NativePlan, plan
from kirin_video.engines.profiles import Profile, profile_for, scheduler_for
from kirin_video.engines.prompts import PromptCache
from kirin_video.media.device_conform import conform_on_device
from kirin_video.media.frames import rgb_pixels, to_frame

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_KEEP, _GENERATE = 0, 255  # VACE mask values: keep the given pixels, or generate them
_UNKNOWN = (128, 128, 128)  # what VACE expects in frames it is asked to generate
_DENOISE_SHARE = 0.95  # of this engine's progress; decoding the latents takes the rest
_SHORT_SIDE_SETTING = {Mode.STD: "KIRIN_NATIVE_SHORT_SIDE", Mode.PRO: "KIRIN_PRO_SHORT_SIDE"}

PipelineLoader = Callable[[Settings], Any]


class DiffusersEngine:
    """Loads the pipeline once and keeps it warm; one job at a time per loaded pipeline."""

    name = "diffusers"

    def __init__(self, settings: Settings, *, loader: PipelineLoader = load_pipeline) -> None:
        self._settings = settings
        self._loader = loader
        self._pipe: Any = None
        self._lock = threading.Lock()
        self._profiles = {mode: profile_for(settings, mode) for mode in Mode}
        self._schedulers: dict[str, Any] = {}
        self.prompts = PromptCache(
            settings.prompt_cache_size, offload_encoder=_offloads_encoder(settings)
        )

    @property
    def pipeline(self) -> Any:
        """The loaded pipeline; loads it on first use (a failure is reported, then retried)."""
        if self._pipe is None:
            self._pipe = self._loader(self._settings)
        return self._pipe

    def warm(self) -> None:
        """Load now so the first task does not wait; a failure only logs, tasks report it."""
        try:
            with self._lock:
                self.pipeline  # noqa: B018
        except GenerationFailed as exc:
            log.error("diffusers engine not ready: %s", exc.message)

    def options(self) -> NativeOptions:
        """The native working point from settings and the network's size multiple."""
        settings, pipe, profiles = self._settings, self.pipeline, self._profiles
        transformer = pipe.transformer or pipe.transformer_2
        return NativeOptions(
            short_side={Mode.STD: settings.native_short_side, Mode.PRO: settings.pro_short_side},
            steps={mode: profile.steps for mode, profile in profiles.items()},
            fps=settings.native_fps,
            max_frames=settings.max_native_frames,
            overlap=settings.segment_overlap,
            guidance_scale=settings.guidance_scale,
            multiple=pipe.vae_scale_factor_spatial * transformer.config.patch_size[1],
            fixed_guidance=_fixed_guidance(profiles),
        )

    def profile(self, mode: str) -> Profile:
        """The profile ``mode`` denoises with (``KIRIN_STD_PROFILE`` / ``KIRIN_PRO_PROFILE``)."""
        return self._profiles[Mode(mode)]

    def _use_scheduler(self, mode: str) -> None:
        """Give the pipeline the scheduler of the mode's profile (built once, then kept)."""
        pipe = self.pipeline
        if not self._schedulers:
            loaded = pipe.scheduler
            self._schedulers = {
                mode: scheduler_for(loaded, profile) for mode, profile in self._profiles.items()
            }
        pipe.scheduler = self._schedulers[Mode(mode)]

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        """Render the job's native clip, segment by segment, reporting each denoising step."""
        import torch

        with self._lock:
            native = plan(
                geometry=job.geometry,
                mode=job.mode,
                cfg_scale=job.cfg_scale,
                options=self.options(),
            )
            self._use_scheduler(job.mode)
            try:
                video = _render(self.pipeline, job, native, on_progress, self.prompts)
                clip = self._clip(video, job)
            except torch.OutOfMemoryError as exc:
                release_memory()
                raise self._out_of_memory(native, job.mode) from exc
        on_progress(1.0)
        return clip

    def _clip(self, video: torch.Tensor, job: Job) -> Clip:
        """The frames off the device: conformed there first where that is on (on CUDA)."""
        if self._conform_on_device(video):
            frames = conform_on_device(video, job.geometry)
            if frames is not None:
                return Clip(frames=frames, fps=job.geometry.fps)
        frames = _to_uint8(video)
        return Clip(frames=frames, fps=(len(frames) - 1) / job.geometry.duration)

    def _conform_on_device(self, video: torch.Tensor) -> bool:
        wanted = self._settings.conform_on_device
        return video.device.type == "cuda" if wanted is None else wanted

    def _out_of_memory(self, native: NativePlan, mode: str) -> GenerationFailed:
        """The client is told what it can change; the settings that would fit go to the log."""
        short_side = _SHORT_SIDE_SETTING[Mode(mode)]
        size = f"{native.width}x{native.height}x{native.segments[0]} frames"
        incident = Incident.new(f"out of memory rendering {size}")
        log.error(
            "out of memory on %s rendering %s (incident %s): set KIRIN_CPU_OFFLOAD=model, "
            "KIRIN_VAE_TILING=true, or a smaller %s / KIRIN_MAX_NATIVE_FRAMES",
            resolve_device(self._settings),
            size,
            incident.id,
            short_side,
        )
        advice = "; mode std needs less memory" if mode == Mode.PRO else ""
        return GenerationFailed(incident.message("generation failed") + advice)


def _fixed_guidance(profiles: dict[Mode, Profile]) -> dict[str, float]:
    """The guidance of each mode whose profile fixes it (a distilled one), by mode."""
    return {
        mode: profile.guidance_scale
        for mode, profile in profiles.items()
        if profile.guidance_scale is not None
    }


def _offloads_encoder(settings: Settings) -> bool:
    """Whether the prompt cache moves the text encoder (KIRIN_CPU_OFFLOAD moves it otherwise)."""
    return settings.text_encoder_offload and settings.cpu_offload == "none"


def _render(
    pipe: Any, job: Job, native: NativePlan, on_progress: ProgressFn, prompts: PromptCache
) -> torch.Tensor:
    """The native clip as F×3×H×W floats in [0, 1], on the device that decoded it."""
    import torch

    size = (native.width, native.height)
    first = _fitted(job.first, size)
    last = _fitted(job.last, size)
    references = list(job.references) or None
    segments: list[torch.Tensor] = []
    for index, length in enumerate(native.segments):
        # 1. Frames to keep: the given first frame, the previous segment's end, the given last.
        keep: dict[int, Image.Image] = {}
        if index == 0 and first is not None:
            keep[0] = first
        for offset, frame in enumerate(_to_uint8(segments[-1][-native.overlap :]) if index else []):
            keep[offset] = Image.fromarray(frame)
        if index == len(native.segments) - 1 and last is not None:
            keep[length - 1] = last
        video, mask = _conditioning(keep, length=length, size=size)
        # 2. Denoise; progress after every step, and a chance to stop (cancellation).
        done_before = index * native.steps
        total = len(native.segments) * native.steps

        def on_step(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            on_progress(_DENOISE_SHARE * (done_before + step + 1) / total)  # noqa: B023
            return tensors

        positive, negative = prompts.embeddings(
            pipe,
            job.prompt or "",
            job.negative_prompt or "",
            guided=native.guidance_scale > 1.0,
        )
        output = pipe(
            prompt_embeds=positive,
            negative_prompt_embeds=negative,
            video=video,
            mask=mask,
            reference_images=references,
            height=native.height,
            width=native.width,
            num_frames=length,
            num_inference_steps=native.steps,
            guidance_scale=native.guidance_scale,
            generator=torch.Generator("cpu").manual_seed(job.seed + index),
            output_type="pt",
            callback_on_step_end=on_step,
        )
        # 3. Join: a later segment's first frames repeat the end of the one before.
        clip = output.frames[0]
        segments.append(clip if index == 0 else clip[native.overlap :])
    return torch.cat(segments)


def _fitted(image: Image.Image | None, size: tuple[int, int]) -> Image.Image | None:
    if image is None:
        return None
    return Image.fromarray(to_frame(rgb_pixels(image), *size))


def _conditioning(
    keep: dict[int, Image.Image], *, length: int, size: tuple[int, int]
) -> tuple[list[Image.Image] | None, list[Image.Image] | None]:
    """VACE's frame conditioning: kept frames masked 0, the rest grey and masked 1."""
    if not keep:
        return None, None
    unknown = Image.new("RGB", size, _UNKNOWN)
    kept, generated = Image.new("L", size, _KEEP), Image.new("L", size, _GENERATE)
    video = [keep.get(position, unknown) for position in range(length)]
    mask = [kept if position in keep else generated for position in range(length)]
    return video, mask


def _to_uint8(frames: torch.Tensor) -> list[np.ndarray]:
    """F×3×H×W floats in [0, 1] as H×W×3 uint8 RGB frames on the CPU."""
    import torch

    pixels = (frames.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return list(pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy())
