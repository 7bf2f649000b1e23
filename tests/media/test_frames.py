"""Frame geometry: resampling, fitting a picture of another aspect whole, RGB pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kirin_video.media.frames import fit_inside, fit_size, resize, rgb_pixels, to_frame
from tests.media.conftest import textured


def test_resize_to_the_same_size_returns_the_image_itself() -> None:
    image = textured(64, 36)
    assert resize(image, 64, 36) is image


@pytest.mark.parametrize(("width", "height"), [(32, 18), (128, 72)])
def test_resize_gives_the_asked_size(width: int, height: int) -> None:
    assert resize(textured(64, 36), width, height).shape == (height, width, 3)


def test_fit_size_keeps_the_aspect_inside_the_frame() -> None:
    tall = np.zeros((200, 100, 3), np.uint8)
    assert fit_size(tall, 96, 64) == (32, 64)
    assert fit_size(np.zeros((100, 400, 3), np.uint8), 96, 64) == (96, 24)


def test_to_frame_of_an_even_rounded_aspect_is_a_plain_resize() -> None:
    image = textured(641, 360)  # 16:9 up to the rounding of sizes
    assert np.array_equal(to_frame(image, 64, 36), resize(image, 64, 36))


def test_fit_inside_fills_the_frame_with_the_whole_image_centred() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    framed = fit_inside(image, 96, 64)
    assert framed.shape == (64, 96, 3)
    assert (framed[:, 16:80] == 200).all()
    assert framed[:, :16].max() < 200


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_rgb_pixels_of_any_mode_are_three_uint8_channels(mode: str) -> None:
    image = Image.fromarray(textured(20, 10)).convert(mode)
    pixels = rgb_pixels(image)
    assert (pixels.shape, pixels.dtype) == ((10, 20, 3), np.dtype(np.uint8))
