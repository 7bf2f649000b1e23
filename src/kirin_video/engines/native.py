"""How a job maps onto a video-diffusion network's own size, length, steps and guidance.

Pure arithmetic, no torch: the diffusers engine follows this plan, docs/engines.md explains it,
and tests check it without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

from kirin_video.contract.catalog import DEFAULT_CFG_SCALE, Geometry

#: Wan's VAE compresses time by 4, so a clip has 4k+1 frames.
TEMPORAL_STRIDE = 4


@dataclass(frozen=True)
class NativeOptions:
    """The network's working point, from settings."""

    short_side: dict[str, int]  # by mode
    steps: dict[str, int]  # by mode
    fps: int
    max_frames: int  # the window the network is trained on
    overlap: int  # frames of one segment that condition the next
    guidance_scale: float  # the recommended value, where cfg_scale is 0.5
    multiple: int = 16  # width and height must divide by VAE stride × patch size
    #: by mode: a distilled profile's own guidance, whatever cfg_scale asks
    fixed_guidance: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class NativePlan:
    """What the network renders for one job: every segment at one size and step count."""

    width: int
    height: int
    segments: tuple[int, ...]  # frames per segment, each 4k+1
    overlap: int  # the first ``overlap`` frames of each later segment repeat the previous one's end
    steps: int
    guidance_scale: float

    @property
    def frames(self) -> int:
        """Frames of the joined clip."""
        return self.segments[0] + sum(length - self.overlap for length in self.segments[1:])


def native_size(geometry: Geometry, *, short_side: int, multiple: int) -> tuple[int, int]:
    """The output's aspect at ``short_side``, both sides rounded to ``multiple``."""

    def snap(value: float) -> int:
        return max(multiple, round(value / multiple) * multiple)

    if geometry.width >= geometry.height:
        return snap(short_side * geometry.width / geometry.height), snap(short_side)
    return snap(short_side), snap(short_side * geometry.height / geometry.width)


def clip_length(frames: float) -> int:
    """The nearest 4k+1 frame count to ``frames`` (at least 5)."""
    return max(1, round((frames - 1) / TEMPORAL_STRIDE)) * TEMPORAL_STRIDE + 1


def segment_lengths(total: int, *, window: int, overlap: int) -> tuple[int, ...]:
    """Equal 4k+1 segments, none longer than ``window``, that together span about ``total``."""
    window = clip_length(window) if clip_length(window) <= window else clip_length(window - 4)
    if total <= window:
        return (clip_length(total),)
    count = ceil((total - 1) / (window - 1))
    length = min(window, clip_length((total + overlap * (count - 1)) / count))
    return (length,) * count


def guidance_for(cfg_scale: float | None, *, recommended: float) -> float:
    """Map cfg_scale 0–1 linearly onto 1 (no guidance) … 2×recommended−1; 0.5 → recommended."""
    scale = DEFAULT_CFG_SCALE if cfg_scale is None else cfg_scale
    return 1.0 + (recommended - 1.0) * scale / DEFAULT_CFG_SCALE


def plan(
    *, geometry: Geometry, mode: str, cfg_scale: float | None, options: NativeOptions
) -> NativePlan:
    """The native rendering plan for a job's output geometry, mode and cfg_scale."""
    width, height = native_size(
        geometry, short_side=options.short_side[mode], multiple=options.multiple
    )
    total = clip_length(geometry.duration * options.fps + 1)
    overlap = min(options.overlap, options.max_frames - TEMPORAL_STRIDE - 1)
    return NativePlan(
        width=width,
        height=height,
        segments=segment_lengths(total, window=options.max_frames, overlap=overlap),
        overlap=overlap,
        steps=options.steps[mode],
        guidance_scale=options.fixed_guidance.get(
            mode, guidance_for(cfg_scale, recommended=options.guidance_scale)
        ),
    )
