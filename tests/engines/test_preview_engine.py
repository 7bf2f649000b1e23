"""The preview engine: exact geometry, first/last frames kept, seeded motion, progress."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import cv2
import numpy as np
import pytest
from PIL import Image

from kirin_video.contract.catalog import Geometry, Model
from kirin_video.engines.base import Clip, Engine, Job
from kirin_video.engines.preview import PreviewEngine

MakePicture = Callable[..., Image.Image]
GEOMETRY = Geometry(width=96, height=64, fps=30, frames=30)


def render(**job: object) -> Clip:
    options: dict[str, object] = {"model": Model.I2V, "geometry": GEOMETRY, "seed": 7, **job}
    return PreviewEngine().generate(Job(**options), lambda fraction: None)  # type: ignore[arg-type]


def resized(image: Image.Image, geometry: Geometry = GEOMETRY) -> np.ndarray:
    pixels = np.asarray(image)
    return cv2.resize(pixels, (geometry.width, geometry.height), interpolation=cv2.INTER_AREA)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def assert_geometry(clip: Clip, geometry: Geometry = GEOMETRY) -> None:
    assert clip.fps == geometry.fps
    assert len(clip.frames) == geometry.frames
    shapes = {(frame.shape, frame.dtype) for frame in clip.frames}
    assert shapes == {((geometry.height, geometry.width, 3), np.dtype(np.uint8))}


def test_preview_is_an_engine_named_preview() -> None:
    engine: Engine = PreviewEngine()
    assert engine.name == "preview"


def test_first_frame_only_starts_on_the_image_and_moves(make_picture: MakePicture) -> None:
    first = make_picture()
    clip = render(first=first)
    assert_geometry(clip)
    assert difference(clip.frames[0], resized(first)) < 1
    assert difference(clip.frames[-1], clip.frames[0]) > 3
    assert difference(clip.frames[15], clip.frames[14]) > 0


def test_last_frame_only_ends_on_the_image(make_picture: MakePicture) -> None:
    last = make_picture(seed=3)
    clip = render(last=last)
    assert_geometry(clip)
    assert difference(clip.frames[-1], resized(last)) < 1
    assert difference(clip.frames[0], clip.frames[-1]) > 3


def test_first_and_last_morph_from_one_to_the_other(make_picture: MakePicture) -> None:
    scene = make_picture(560, 320, seed=1)
    first, last = scene.crop((0, 0, 480, 320)), scene.crop((80, 0, 560, 320))  # a pan
    clip = render(first=first, last=last)
    assert_geometry(clip)
    assert difference(clip.frames[0], resized(first)) < 1
    assert difference(clip.frames[-1], resized(last)) < 1
    middle = clip.frames[15]
    assert difference(middle, clip.frames[0]) > 3 and difference(middle, clip.frames[-1]) > 3
    distances = [difference(frame, clip.frames[-1]) for frame in clip.frames]
    assert distances[5] > distances[15] > distances[25]


def test_last_frame_of_another_aspect_is_fitted_into_the_frame(make_picture: MakePicture) -> None:
    clip = render(first=make_picture(), last=make_picture(320, 480, seed=2))
    assert_geometry(clip)
    assert clip.frames[-1][:, :8].mean() < clip.frames[-1][:, 40:56].mean()  # dark side margins


def test_same_seed_renders_identical_frames(make_picture: MakePicture) -> None:
    first = make_picture()
    a, b = render(first=first, seed=11), render(first=first, seed=11)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True))


def test_different_seed_moves_the_camera_differently(make_picture: MakePicture) -> None:
    first = make_picture()
    a, b = render(first=first, seed=11), render(first=first, seed=12)
    assert np.array_equal(a.frames[0], b.frames[0])
    assert difference(a.frames[-1], b.frames[-1]) > 1


def test_morph_is_deterministic(make_picture: MakePicture) -> None:
    first, last = make_picture(seed=1), make_picture(seed=2)
    a, b = render(first=first, last=last), render(first=first, last=last)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True))


@pytest.mark.parametrize("count", [1, 4])
def test_multi_references_render_the_exact_geometry_with_motion(
    make_picture: MakePicture, count: int
) -> None:
    references = tuple(make_picture(seed=index) for index in range(count))
    clip = render(model=Model.MULTI_I2V, references=references)
    assert_geometry(clip)
    assert difference(clip.frames[0], clip.frames[-1]) > 1
    assert all(difference(clip.frames[index], clip.frames[index + 1]) > 0 for index in range(29))


def solid(color: tuple[int, int, int], *, width: int = 400, height: int = 400) -> Image.Image:
    return Image.new("RGB", (width, height), color)


def test_multi_shows_each_reference_in_turn() -> None:
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    geometry = Geometry(width=96, height=64, fps=30, frames=60)
    clip = render(
        model=Model.MULTI_I2V, geometry=geometry, references=tuple(solid(c) for c in colors)
    )
    for shot, color in enumerate(colors):
        centre = clip.frames[shot * 15 + 7][32, 48]
        assert tuple(centre) == color


def test_multi_fits_a_tall_reference_without_cropping() -> None:
    tall = np.full((800, 400, 3), 128, np.uint8)
    tall[:60] = (255, 0, 0)
    tall[-60:] = (0, 0, 255)
    geometry = Geometry(width=160, height=90, fps=30, frames=30)
    clip = render(model=Model.MULTI_I2V, geometry=geometry, references=(Image.fromarray(tall),))
    for frame in (clip.frames[0], clip.frames[15], clip.frames[-1]):
        red = (frame[..., 0] > 200) & (frame[..., 1] < 60) & (frame[..., 2] < 60)
        blue = (frame[..., 2] > 200) & (frame[..., 0] < 60) & (frame[..., 1] < 60)
        assert red.any() and blue.any()
        assert np.nonzero(red)[0].min() < np.nonzero(blue)[0].min()


def test_progress_is_monotonic_frequent_and_reaches_one(make_picture: MakePicture) -> None:
    seen: list[float] = []
    geometry = Geometry(width=96, height=64, fps=30, frames=150)
    job = Job(model=Model.I2V, geometry=geometry, seed=1, first=make_picture())
    PreviewEngine().generate(job, seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert max(b - a for a, b in pairwise(seen)) <= 0.05 + 1e-9


def test_progress_callback_can_stop_the_job(make_picture: MakePicture) -> None:
    def cancel(fraction: float) -> None:
        if fraction > 0.5:
            raise RuntimeError("cancelled")

    job = Job(model=Model.I2V, geometry=GEOMETRY, seed=1, first=make_picture())
    with pytest.raises(RuntimeError, match="cancelled"):
        PreviewEngine().generate(job, cancel)


def test_job_without_images_is_refused() -> None:
    with pytest.raises(ValueError, match="no first, last or reference image"):
        render()
