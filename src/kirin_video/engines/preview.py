"""A CPU engine with no model weights, so the API can be developed and shown on any machine.

It renders classical image processing only: a camera move over one frame, an optical-flow
morph from a first to a last frame, or the reference images in turn with cross-fades.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import cos, floor, pi, sin

import cv2
import numpy as np

from kirin_video.contract.catalog import Geometry
from kirin_video.engines.base import Clip, Job, ProgressFn
from kirin_video.media.frames import cover_background, fit_size, resize, rgb_pixels, to_frame
from kirin_video.media.interpolate import FlowInterpolator

_PROGRESS_STEPS = 20  # report at least every 5% of the frames
_ZOOM_RANGE = (1.06, 1.16)  # how far a camera move pushes in by its end
_PAN_RANGE = (0.3, 1.0)  # share of the room the zoom leaves that the camera pans across
_TRANSITION_S = 0.8  # cross-fade between two references
_SHOT_SCALES = (0.90, 0.97)  # a reference's size in the frame, as a share of its fitted size
_BACKGROUND_ZOOM = 0.08
_SHOT_DRIFT = 0.5  # share of the free margin a reference drifts across during its shot


class PreviewEngine:
    """Renders at the job's exact geometry; the same seed and inputs give the same frames."""

    name = "preview"

    def warm(self) -> None:
        """Nothing to load: the preview renders from the inputs alone."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        """Render every frame of ``job`` at its geometry, reporting progress as it goes."""
        geometry = job.geometry
        rng = np.random.default_rng(job.seed)
        frames = _reporting(_render(job, rng), total=geometry.frames, on_progress=on_progress)
        return Clip(frames=list(frames), fps=geometry.fps)


def _render(job: Job, rng: np.random.Generator) -> Iterator[np.ndarray]:
    geometry = job.geometry
    if job.references:
        return _references([rgb_pixels(ref) for ref in job.references], geometry, rng)
    if job.first is not None and job.last is not None:
        return _morph(rgb_pixels(job.first), rgb_pixels(job.last), geometry)
    if job.first is not None:
        return _camera(rgb_pixels(job.first), geometry, rng, ending=False)
    if job.last is not None:
        return _camera(rgb_pixels(job.last), geometry, rng, ending=True)
    raise ValueError("preview: the job has no first, last or reference image")


def _reporting(
    frames: Iterator[np.ndarray], *, total: int, on_progress: ProgressFn
) -> Iterator[np.ndarray]:
    step = max(1, total // _PROGRESS_STEPS)
    on_progress(0.0)
    for done, frame in enumerate(frames, start=1):
        yield frame
        if done % step == 0 or done == total:
            on_progress(min(1.0, done / total))


def _ease(t: float) -> float:
    """Smoothstep: starts and stops gently."""
    return t * t * (3.0 - 2.0 * t)


def _times(count: int) -> Iterator[tuple[int, float]]:
    for index in range(count):
        yield index, index / (count - 1) if count > 1 else 0.0


def _scale_about(
    scale: float, *, center: tuple[float, float], target: tuple[float, float]
) -> np.ndarray:
    """The affine matrix that scales by ``scale`` and moves ``center`` to ``target``."""
    return np.array(
        [
            [scale, 0.0, target[0] - scale * center[0]],
            [0.0, scale, target[1] - scale * center[1]],
        ],
        dtype=np.float32,
    )


@dataclass(frozen=True)
class _CameraMove:
    """A push-in with a pan, chosen from the seed, that never looks outside the picture."""

    zoom: float
    angle: float
    pan: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> _CameraMove:
        return cls(
            zoom=float(rng.uniform(*_ZOOM_RANGE)),
            angle=float(rng.uniform(0.0, 2.0 * pi)),
            pan=float(rng.uniform(*_PAN_RANGE)),
        )

    def matrix(self, progress: float, *, width: int, height: int) -> np.ndarray:
        scale = 1.0 + (self.zoom - 1.0) * progress
        room = 1.0 - 1.0 / scale  # the view may move this share of half the frame each way
        center = ((width - 1) / 2.0, (height - 1) / 2.0)
        look = (
            center[0] + cos(self.angle) * self.pan * room * width / 2.0,
            center[1] + sin(self.angle) * self.pan * room * height / 2.0,
        )
        return _scale_about(scale, center=look, target=center)


def _camera(
    image: np.ndarray, geometry: Geometry, rng: np.random.Generator, *, ending: bool
) -> Iterator[np.ndarray]:
    """A camera move that starts on the whole image, or, when ``ending``, ends on it."""
    width, height = geometry.width, geometry.height
    base = to_frame(image, width, height)
    move = _CameraMove.random(rng)
    for _, t in _times(geometry.frames):
        progress = _ease(1.0 - t if ending else t)
        if progress == 0.0:
            yield base
            continue
        matrix = move.matrix(progress, width=width, height=height)
        yield cv2.warpAffine(
            base, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )


def _morph(first: np.ndarray, last: np.ndarray, geometry: Geometry) -> Iterator[np.ndarray]:
    """Move first along the optical flow towards last while dissolving into it, eased."""
    width, height = geometry.width, geometry.height
    a, b = to_frame(first, width, height), to_frame(last, width, height)
    between = FlowInterpolator()  # the pair's flow is estimated once, then reused per frame
    for _, t in _times(geometry.frames):
        weight = _ease(t)
        yield a if weight == 0.0 else b if weight == 1.0 else between(a, b, weight)


@dataclass(frozen=True)
class _Shot:
    """One reference, fitted whole inside the frame over its own blurred background."""

    background: np.ndarray
    foreground: np.ndarray
    scales: tuple[float, float]
    drift: tuple[float, float]

    @classmethod
    def prepare(
        cls, image: np.ndarray, *, width: int, height: int, rng: np.random.Generator
    ) -> _Shot:
        fit_w, fit_h = fit_size(image, width, height)
        scales = _SHOT_SCALES if rng.random() < 0.5 else _SHOT_SCALES[::-1]
        angle = float(rng.uniform(0.0, 2.0 * pi))
        return cls(
            background=cover_background(image, width, height),
            foreground=resize(image, fit_w, fit_h),
            scales=(scales[0], scales[1]),
            drift=(cos(angle) * _SHOT_DRIFT, sin(angle) * _SHOT_DRIFT),
        )

    def render(self, progress: float) -> np.ndarray:
        height, width = self.background.shape[:2]
        center = ((width - 1) / 2.0, (height - 1) / 2.0)
        zoom = _scale_about(1.0 + _BACKGROUND_ZOOM * progress, center=center, target=center)
        frame = cv2.warpAffine(
            self.background, zoom, (width, height), borderMode=cv2.BORDER_REFLECT
        )
        scale = self.scales[0] + (self.scales[1] - self.scales[0]) * progress
        fg_h, fg_w = self.foreground.shape[:2]
        swing = 2.0 * progress - 1.0
        target = (
            center[0] + self.drift[0] * swing * (width - fg_w * scale) / 2.0,
            center[1] + self.drift[1] * swing * (height - fg_h * scale) / 2.0,
        )
        place = _scale_about(scale, center=((fg_w - 1) / 2.0, (fg_h - 1) / 2.0), target=target)
        cv2.warpAffine(
            self.foreground,
            place,
            (width, height),
            dst=frame,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_TRANSPARENT,
        )
        return frame


@dataclass(frozen=True)
class _Timeline:
    """Equal shots, one per reference, each joint softened by a cross-fade of ``fade`` frames."""

    shots: int
    total: int
    fade: float

    @property
    def span(self) -> float:
        return self.total / self.shots

    def joint(self, index: int) -> int | None:
        """The joint (index of the shot that begins there) whose fade covers ``index``."""
        joint = round(index / self.span)
        near = abs(index - joint * self.span) < self.fade / 2.0
        return joint if near and 0 < joint < self.shots else None

    def fade_weight(self, index: int, joint: int) -> float:
        return _ease((index - joint * self.span + self.fade / 2.0) / self.fade)

    def shot_at(self, index: int) -> int:
        return min(self.shots - 1, floor(index / self.span))

    def progress(self, index: int, shot: int) -> float:
        """How far through its own shot (fades included) frame ``index`` is, eased, in [0, 1]."""
        start = max(0.0, shot * self.span - self.fade / 2.0)
        end = min(self.total - 1.0, (shot + 1) * self.span + self.fade / 2.0)
        if end <= start:
            return 0.0
        return _ease(min(1.0, max(0.0, (index - start) / (end - start))))


def _references(
    images: list[np.ndarray], geometry: Geometry, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Each reference in turn, each a gentle shot, joined by eased cross-fades."""
    width, height, total = geometry.width, geometry.height, geometry.frames
    shots = [_Shot.prepare(img, width=width, height=height, rng=rng) for img in images]
    fade = min(_TRANSITION_S * geometry.fps, total / len(shots) / 2.0)
    timeline = _Timeline(shots=len(shots), total=total, fade=fade)
    for index in range(total):
        joint = timeline.joint(index)
        if joint is None:
            shot = timeline.shot_at(index)
            yield shots[shot].render(timeline.progress(index, shot))
            continue
        before = shots[joint - 1].render(timeline.progress(index, joint - 1))
        after = shots[joint].render(timeline.progress(index, joint))
        weight = timeline.fade_weight(index, joint)
        yield cv2.addWeighted(before, 1.0 - weight, after, weight, 0.0)
