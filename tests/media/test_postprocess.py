"""Post-processing: exact count and size, passthrough, retiming, client end frames, fitting."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from kirin_video.contract.catalog import Geometry
from kirin_video.media.frames import Clip, to_frame
from kirin_video.media.postprocess import blend, conform
from tests.media.conftest import textured

ONE_SECOND = Geometry(width=64, height=36, fps=30, frames=30)


def flat_frames(count: int, *, width: int, height: int, step: int = 3) -> list[np.ndarray]:
    return [np.full((height, width, 3), index * step, np.uint8) for index in range(count)]


def tall_marked(width: int, height: int) -> np.ndarray:
    """Grey picture with a red top band and a blue bottom band, to see if either is cut off."""
    image = np.full((height, width, 3), 128, np.uint8)
    band = height // 10
    image[:band] = (255, 0, 0)
    image[-band:] = (0, 0, 255)
    return image


def test_conform_yields_exact_count_and_size() -> None:
    clip = Clip(frames=flat_frames(40, width=50, height=28), fps=24)
    frames = list(conform(clip, ONE_SECOND))
    assert len(frames) == ONE_SECOND.frames
    assert {frame.shape for frame in frames} == {(36, 64, 3)}
    assert {frame.dtype for frame in frames} == {np.dtype(np.uint8)}


def test_matching_clip_passes_through_untouched() -> None:
    clip = Clip(frames=flat_frames(30, width=64, height=36), fps=30)
    frames = list(conform(clip, ONE_SECOND))
    assert all(out is src for out, src in zip(frames, clip.frames, strict=True))


def test_conform_is_lazy() -> None:
    clip = Clip(frames=flat_frames(16, width=64, height=36), fps=16)
    stream = conform(clip, ONE_SECOND)
    assert next(stream).shape == (36, 64, 3)


def moving_square(count: int, *, speed: int, width: int = 64, height: int = 36) -> list[np.ndarray]:
    """A bright 8 px square moving ``speed`` px right per frame on a dark background."""
    frames = [np.full((height, width, 3), 20, np.uint8) for _ in range(count)]
    top = (height - 8) // 2
    for index, frame in enumerate(frames):
        frame[top : top + 8, 4 + index * speed : 12 + index * speed] = 230
    return frames


def square_x(frame: np.ndarray) -> float:
    return float(np.nonzero(frame[..., 0] > 160)[1].mean())


def square_pixels(frame: np.ndarray) -> int:
    return int((frame[..., 0] > 160).sum())


def test_retime_16_to_30_fps_spans_the_clip_and_blends_between_frames() -> None:
    clip = Clip(frames=flat_frames(80, width=64, height=36), fps=16)
    five_seconds = Geometry(width=64, height=36, fps=30, frames=150)
    levels = [int(frame[0, 0, 0]) for frame in conform(clip, five_seconds)]
    assert len(levels) == 150
    assert levels[0] == 0 and levels[-1] == 79 * 3
    assert levels == sorted(levels)
    assert levels[1] not in {index * 3 for index in range(80)}  # between two source frames


def test_retime_moves_things_along_their_path_by_default() -> None:
    clip = Clip(frames=moving_square(16, speed=3), fps=16)
    frames = list(conform(clip, ONE_SECOND))
    centres = [square_x(frame) for frame in frames]
    expected = [7.5 + 3 * index * 15 / 29 for index in range(30)]  # 30 frames span 16
    assert np.allclose(centres, expected, atol=0.6)
    assert all(later > earlier for earlier, later in pairwise(centres))
    assert {square_pixels(frame) for frame in frames} <= set(range(56, 73))  # one 8×8 square
    assert not any(np.array_equal(x, y) for x, y in pairwise(frames))


def test_blend_is_still_available_and_cross_fades() -> None:
    clip = Clip(frames=moving_square(16, speed=3), fps=16)
    frames = list(conform(clip, ONE_SECOND, interpolate=blend))
    assert len(frames) == 30
    assert min(square_pixels(frame) for frame in frames) < 64  # only the overlap stays bright


def test_given_first_and_last_frames_are_put_back_exactly() -> None:
    first, last = textured(100, 56, seed=1), tall_marked(40, 80)  # one fits, one is fitted
    clip = Clip(frames=flat_frames(16, width=50, height=28), fps=16)
    plain = list(conform(clip, ONE_SECOND))
    frames = list(conform(clip, ONE_SECOND, first=first, last=last))
    assert len(frames) == 30
    assert np.array_equal(frames[0], to_frame(first, 64, 36))
    assert np.array_equal(frames[-1], to_frame(last, 64, 36))
    assert all(np.array_equal(x, y) for x, y in zip(frames[1:-1], plain[1:-1], strict=True))


def test_given_end_frames_also_replace_a_passed_through_clip() -> None:
    clip = Clip(frames=flat_frames(30, width=64, height=36), fps=30)
    first, last = textured(64, 36, seed=2), textured(128, 72, seed=3)
    frames = list(conform(clip, ONE_SECOND, first=first, last=last))
    assert np.array_equal(frames[0], first) and np.array_equal(frames[-1], to_frame(last, 64, 36))
    assert all(out is src for out, src in zip(frames[1:-1], clip.frames[1:-1], strict=True))


def test_only_the_given_end_is_replaced() -> None:
    clip = Clip(frames=flat_frames(16, width=64, height=36), fps=16)
    last = textured(64, 36, seed=4)
    frames = list(conform(clip, ONE_SECOND, last=last))
    assert np.array_equal(frames[0], clip.frames[0])
    assert np.array_equal(frames[-1], last)
    single = Geometry(width=64, height=36, fps=30, frames=1)
    only = list(conform(clip, single, first=textured(64, 36, seed=5), last=last))
    assert len(only) == 1 and np.array_equal(only[0], textured(64, 36, seed=5))


def test_custom_interpolator_is_used_between_frames() -> None:
    calls: list[float] = []

    def nearest(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
        calls.append(weight)
        return a if weight < 0.5 else b

    clip = Clip(frames=flat_frames(16, width=64, height=36), fps=16)
    frames = list(conform(clip, ONE_SECOND, interpolate=nearest))
    assert len(frames) == 30 and calls
    assert all(0 < weight < 1 for weight in calls)


def test_different_aspect_is_fitted_not_cropped() -> None:
    clip = Clip(frames=[tall_marked(40, 80)] * 30, fps=30)
    frame = next(conform(clip, ONE_SECOND))
    red = (frame[..., 0] > 200) & (frame[..., 2] < 60)
    blue = (frame[..., 2] > 200) & (frame[..., 0] < 60)
    assert red[:4].any() and blue[-4:].any()  # both bands reach the frame's edges
    assert frame[:, :10].max() < 128  # the side margins are darkened background
