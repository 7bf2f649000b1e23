"""Bring any engine's frames to the contract's exact size, rate and frame count.

Retiming (e.g. 81 frames at 16 fps to 150 at 30 fps) makes in-between frames by optical flow
by default, so moving things move instead of cross-fading; the frames a client gave can be
put back exactly as the first and last frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from math import floor

import cv2
import numpy as np

from kirin_video.contract.catalog import Geometry
from kirin_video.engines.base import Clip
from kirin_video.media.interpolate import FlowInterpolator

#: Makes the frame a fraction ``weight`` of the way from ``a`` to ``b``.
Interpolator = Callable[[np.ndarray, np.ndarray, float], np.ndarray]

#: Relative aspect difference treated as rounding (even sizes), so a plain resize is enough.
ASPECT_TOLERANCE = 0.01
_BACKGROUND_SCALE = 8  # the background is blurred at 1/8 size: cheap and soft enough
_BACKGROUND_LEVEL = 0.45  # brightness kept in the background, so the picture stands out
_EPSILON = 1e-6


def blend(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """Linear cross-fade between two neighbouring frames: cheap, but doubles moving edges."""
    return cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample to ``width``×``height``: area averaging when shrinking, bicubic when growing."""
    src_h, src_w = image.shape[:2]
    if (src_w, src_h) == (width, height):
        return image
    shrinking = width * height < src_w * src_h
    return cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    )


def same_aspect(image: np.ndarray, width: int, height: int) -> bool:
    """Whether the aspects differ only by the rounding of sizes to even numbers."""
    src_h, src_w = image.shape[:2]
    return bool(abs((src_w * height) / (src_h * width) - 1.0) <= ASPECT_TOLERANCE)


def to_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The whole image in the frame: a plain resize when aspects match, else fitted inside."""
    if same_aspect(image, width, height):
        return resize(image, width, height)
    return fit_inside(image, width, height)


def cover_background(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A blurred, darkened copy of ``image`` scaled to cover the whole frame."""
    src_h, src_w = image.shape[:2]
    scale = max(width / src_w, height / src_h)
    crop_w = min(src_w, round(width / scale))
    crop_h = min(src_h, round(height / scale))
    x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    small_size = (max(1, width // _BACKGROUND_SCALE), max(1, height // _BACKGROUND_SCALE))
    small = cv2.resize(
        image[y0 : y0 + crop_h, x0 : x0 + crop_w], small_size, interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=2.0)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    dark: np.ndarray = cv2.convertScaleAbs(big, alpha=_BACKGROUND_LEVEL)
    return dark


def fit_size(image: np.ndarray, width: int, height: int) -> tuple[int, int]:
    """The largest size with the image's aspect that fits inside ``width``×``height``."""
    src_h, src_w = image.shape[:2]
    scale = min(width / src_w, height / src_h)
    return min(width, max(1, round(src_w * scale))), min(height, max(1, round(src_h * scale)))


def fit_inside(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The whole image, never cropped, centred on a background that fills the frame."""
    frame = cover_background(image, width, height)
    fit_w, fit_h = fit_size(image, width, height)
    x0, y0 = (width - fit_w) // 2, (height - fit_h) // 2
    frame[y0 : y0 + fit_h, x0 : x0 + fit_w] = resize(image, fit_w, fit_h)
    return frame


def source_positions(*, source_frames: int, output_frames: int) -> Iterator[float]:
    """Where each output frame falls in the source, spanning it end to end.

    The first and last output frames land exactly on the first and last source frames, so a
    clip that was told its last frame keeps it whatever the engine's native rate and length.
    """
    if output_frames == 1:
        yield 0.0
        return
    step = (source_frames - 1) / (output_frames - 1)
    for index in range(output_frames):
        yield min(index * step, source_frames - 1.0)


def conform(
    clip: Clip,
    geometry: Geometry,
    *,
    interpolate: Interpolator | None = None,
    first: np.ndarray | None = None,
    last: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Yield exactly ``geometry.frames`` RGB frames of the geometry's size, one at a time.

    ``interpolate`` makes the in-between frames when retiming; by default a fresh
    ``FlowInterpolator`` (one per call: it caches flow and is not thread-safe), ``blend`` for a
    plain cross-fade. ``first`` / ``last`` (H×W×3 uint8 RGB), when given, replace the first /
    last output frame with ``to_frame`` of that picture, so a client's frames come back exactly
    (with one output frame, ``first`` wins).
    """
    frames = clip.frames
    if not frames:
        raise ValueError("conform: the clip has no frames")
    width, height = geometry.width, geometry.height
    final = geometry.frames - 1
    for index, frame in enumerate(_retimed(clip, geometry, interpolate or FlowInterpolator())):
        if index == 0 and first is not None:
            yield to_frame(first, width, height)
        elif index == final and last is not None:
            yield to_frame(last, width, height)
        else:
            yield _sized(frame, width, height)


def _retimed(clip: Clip, geometry: Geometry, interpolate: Interpolator) -> Iterator[np.ndarray]:
    """The clip's frames at the geometry's count and rate, still at the engine's size."""
    frames = clip.frames
    if len(frames) == geometry.frames and clip.fps == geometry.fps:
        yield from frames
        return
    for position in source_positions(source_frames=len(frames), output_frames=geometry.frames):
        index = floor(position)
        weight = position - index
        if weight < _EPSILON or index + 1 >= len(frames):
            yield frames[index]
        else:
            yield interpolate(frames[index], frames[index + 1], weight)


def _sized(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[:2] == (height, width):
        return frame
    return to_frame(frame, width, height)
