"""Flow interpolation: a moving thing is shown once, part of the way along, not double-exposed."""

from __future__ import annotations

import numpy as np

from kirin_video.media.interpolate import FlowInterpolator
from kirin_video.media.postprocess import blend

WIDTH, HEIGHT, SIDE = 96, 64, 12
SQUARE_PIXELS = SIDE * SIDE


def square_at(x: int, *, width: int = WIDTH, height: int = HEIGHT, side: int = SIDE) -> np.ndarray:
    """A bright square with its left edge at ``x``, vertically centred, on a dark background."""
    frame = np.full((height, width, 3), 20, np.uint8)
    top = (height - side) // 2
    frame[top : top + side, x : x + side] = 230
    return frame


def bright(frame: np.ndarray) -> np.ndarray:
    """Pixels clearly brighter than half way: the square, not a faded ghost of it."""
    mask: np.ndarray = frame[..., 0] > 160
    return mask


def centroid_x(frame: np.ndarray) -> float:
    return float(np.nonzero(bright(frame))[1].mean())


def test_half_way_frame_has_the_square_once_at_the_midpoint() -> None:
    a, b = square_at(20), square_at(30)
    middle = FlowInterpolator()(a, b, 0.5)
    assert middle.shape == a.shape and middle.dtype == np.uint8
    assert abs(centroid_x(middle) - (centroid_x(a) + centroid_x(b)) / 2) <= 2
    assert abs(int(bright(middle).sum()) - SQUARE_PIXELS) <= SQUARE_PIXELS * 0.15


def test_blend_double_exposes_where_flow_does_not() -> None:
    a, b = square_at(20), square_at(40)  # no overlap: a cross-fade shows two faint squares
    crossfade = blend(a, b, 0.5)
    assert bright(crossfade).sum() == 0
    assert int(((crossfade[..., 0] > 100) & (crossfade[..., 0] < 160)).sum()) == 2 * SQUARE_PIXELS
    a, b = square_at(20), square_at(30)
    assert abs(int(bright(FlowInterpolator()(a, b, 0.5)).sum()) - SQUARE_PIXELS) <= 20


def test_square_moves_steadily_through_the_weights() -> None:
    a, b = square_at(20), square_at(28)
    interpolate = FlowInterpolator()
    centres = [centroid_x(interpolate(a, b, weight)) for weight in (0.25, 0.5, 0.75)]
    expected = [centroid_x(a) + 8 * weight for weight in (0.25, 0.5, 0.75)]
    assert np.allclose(centres, expected, atol=1.5)


def test_weights_zero_and_one_give_the_neighbours() -> None:
    a, b = square_at(20), square_at(30)
    interpolate = FlowInterpolator()
    assert np.abs(interpolate(a, b, 0.0).astype(int) - a).max() <= 1
    assert np.abs(interpolate(a, b, 1.0).astype(int) - b).max() <= 1


def test_still_frames_stay_still() -> None:
    a = square_at(40)
    assert np.array_equal(FlowInterpolator()(a, a.copy(), 0.5), a)


def test_cached_flow_is_not_confused_with_another_pair() -> None:
    interpolate = FlowInterpolator()
    a, b = square_at(20), square_at(30)
    forward = interpolate(a, b, 0.25)
    assert np.array_equal(interpolate(a, b, 0.25), forward)  # same pair again: same frame
    backward = interpolate(b, a, 0.25)  # the same arrays the other way round: a fresh flow
    assert abs(centroid_x(forward) - (centroid_x(a) + 2.5)) <= 1.5
    assert abs(centroid_x(backward) - (centroid_x(b) - 2.5)) <= 1.5
    copies = interpolate(a.copy(), square_at(24), 0.5)  # equal pixels, other arrays
    assert abs(centroid_x(copies) - (centroid_x(a) + 2)) <= 1.5


def test_wide_frames_estimate_flow_small_and_scale_it_up() -> None:
    width, height, side = 1280, 96, 32
    a = square_at(400, width=width, height=height, side=side)
    b = square_at(430, width=width, height=height, side=side)
    middle = FlowInterpolator(flow_width=320)(a, b, 0.5)
    assert abs(centroid_x(middle) - (centroid_x(a) + 15)) <= 2
    assert abs(int(bright(middle).sum()) - side * side) <= side * side * 0.15
