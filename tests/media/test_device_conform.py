"""Conform on the device (torch) against the CPU's conform: same frames, within rounding."""

from __future__ import annotations

import numpy as np
import pytest

from kirin_video.contract.catalog import Geometry
from kirin_video.media.device_conform import conform_on_device
from kirin_video.media.frames import Clip
from kirin_video.media.postprocess import conform

torch = pytest.importorskip("torch")

#: Mean and near-worst difference (levels of 255) allowed between the two paths: bilinear and
#: bicubic sampling in floats against OpenCV's in bytes, over frames with sharp moving edges.
MEAN_LEVELS = 1.5
P99_LEVELS = 24


def moving_clip(count: int = 17, *, width: int = 128, height: int = 72) -> list[np.ndarray]:
    """A textured scene panning right, with a bright square moving down, at 16 fps."""
    rng = np.random.default_rng(3)
    texture = rng.integers(0, 255, (height, width * 2, 3), dtype=np.uint8)
    texture = np.asarray(
        np.clip(np.cumsum(np.cumsum(texture.astype(np.float32) - 127.0, 0), 1) / 400 + 128, 0, 255),
        np.uint8,
    )
    frames = []
    for index in range(count):
        frame = texture[:, index * 2 : index * 2 + width].copy()
        top = 8 + index * 2
        frame[top : top + 16, 40:56] = 255
        frames.append(frame)
    return frames


def _as_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0


@pytest.mark.parametrize(
    ("width", "height"), [(256, 144), (64, 36), (128, 72)], ids=["growing", "shrinking", "same"]
)
def test_matches_the_cpu_conform(width: int, height: int) -> None:
    frames = moving_clip()
    geometry = Geometry(width=width, height=height, fps=30, frames=30)
    expected = list(conform(Clip(frames=frames, fps=16), geometry))
    got = conform_on_device(_as_tensor(frames), geometry)
    assert got is not None
    assert len(got) == len(expected) == 30
    assert {frame.shape for frame in got} == {(height, width, 3)}
    assert {frame.dtype for frame in got} == {np.dtype(np.uint8)}
    difference = np.abs(np.stack(got).astype(np.int16) - np.stack(expected).astype(np.int16))
    assert difference.mean() < MEAN_LEVELS
    assert np.percentile(difference, 99) <= P99_LEVELS


def test_in_between_frames_follow_the_motion_rather_than_cross_fade() -> None:
    still = moving_clip(count=1)[0] // 2  # darker, so a half-strength square shows
    pair = [still.copy(), still.copy()]
    pair[0][8:24, 40:56] = 255  # a bright square moves 16 pixels down
    pair[1][24:40, 40:56] = 255
    geometry = Geometry(width=128, height=72, fps=30, frames=3)
    middle = conform_on_device(_as_tensor(pair), geometry)[1]  # type: ignore[index]
    halfway = (slice(18, 30), slice(43, 53))  # inside the square, half way down
    cross_fade = (pair[0].astype(np.float32) + pair[1]) / 2
    assert middle[halfway].mean() > 240  # one square, at full strength ...
    assert cross_fade[halfway].mean() < 190  # ... where a cross-fade shows two at half


def test_a_different_aspect_is_left_to_the_cpu() -> None:
    geometry = Geometry(width=128, height=128, fps=30, frames=30)
    assert conform_on_device(_as_tensor(moving_clip()), geometry) is None
