"""The native plan: sizes, 4k+1 lengths, segments, steps and guidance for a job."""

from __future__ import annotations

import pytest

from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.engines.native import (
    NativeOptions,
    clip_length,
    guidance_for,
    native_size,
    plan,
    segment_lengths,
)

WAN = NativeOptions(
    short_side={"std": 480, "pro": 720},
    steps={"std": 30, "pro": 50},
    fps=16,
    max_frames=81,
    overlap=9,
    guidance_scale=5.0,
)


def multi(mode: str, duration: int, aspect: str) -> object:
    return output_geometry(model=Model.MULTI_I2V, mode=mode, duration=duration, aspect_ratio=aspect)


@pytest.mark.parametrize(
    ("aspect", "short", "size"),
    [
        ("16:9", 480, (848, 480)),
        ("9:16", 480, (480, 848)),
        ("1:1", 480, (480, 480)),
        ("16:9", 720, (1280, 720)),
    ],
)
def test_native_size_keeps_aspect_on_the_network_grid(
    aspect: str, short: int, size: tuple[int, int]
) -> None:
    geometry = multi("std", 5, aspect)
    assert native_size(geometry, short_side=short, multiple=16) == size  # type: ignore[arg-type]


def test_i2v_native_size_follows_the_first_image() -> None:
    geometry = output_geometry(
        model=Model.I2V, mode="std", duration=5, first_image_size=(1000, 400)
    )
    width, height = native_size(geometry, short_side=480, multiple=16)
    assert (width % 16, height % 16, height) == (0, 0, 480)
    assert width / height == pytest.approx(2.5, rel=0.02)


@pytest.mark.parametrize(("frames", "length"), [(81, 81), (80, 81), (161, 161), (3, 5), (22, 21)])
def test_clip_lengths_follow_the_4k_plus_1_rule(frames: int, length: int) -> None:
    assert clip_length(frames) == length


def test_five_seconds_fit_one_window() -> None:
    native = plan(geometry=multi("std", 5, "16:9"), mode="std", cfg_scale=None, options=WAN)  # type: ignore[arg-type]
    assert native.segments == (81,)
    assert (native.width, native.height, native.steps, native.frames) == (848, 480, 30, 81)


def test_ten_seconds_take_two_overlapping_segments() -> None:
    native = plan(geometry=multi("pro", 10, "16:9"), mode="pro", cfg_scale=None, options=WAN)  # type: ignore[arg-type]
    assert native.segments == (81, 81)
    assert native.overlap == 9
    assert native.frames == 81 + 72
    assert (native.width, native.height, native.steps) == (1280, 720, 50)


def test_segments_never_exceed_the_window() -> None:
    for total in range(5, 400, 4):
        lengths = segment_lengths(total, window=49, overlap=5)
        assert all(length <= 49 and (length - 1) % 4 == 0 for length in lengths)


@pytest.mark.parametrize(("cfg", "guidance"), [(0.0, 1.0), (0.5, 5.0), (1.0, 9.0), (None, 5.0)])
def test_cfg_scale_maps_onto_guidance(cfg: float | None, guidance: float) -> None:
    assert guidance_for(cfg, recommended=5.0) == pytest.approx(guidance)


def test_guidance_rises_with_cfg_scale() -> None:
    values = [guidance_for(step / 20, recommended=6.0) for step in range(21)]
    assert values == sorted(values) and len(set(values)) == 21
