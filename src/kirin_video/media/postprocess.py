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
from kirin_video.media.frames import Clip, to_frame
from kirin_video.media.interpolate import FlowInterpolator

#: Makes the frame a fraction ``weight`` of the way from ``a`` to ``b``.
Interpolator = Callable[[np.ndarray, np.ndarray, float], np.ndarray]

_EPSILON = 1e-6


def blend(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """Linear cross-fade between two neighbouring frames: cheap, but doubles moving edges."""
    return cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0)


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
