"""Fixtures for media tests: real encoded pictures of chosen size, format, mode and EXIF."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

MakeImage = Callable[..., bytes]


def textured(width: int, height: int, *, seed: int = 0) -> np.ndarray:
    """An RGB picture with gradients and noise, so resampling and coding have detail to keep."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([x / width * 255, y / height * 255, (np.sin(x / 9 + seed) + 1) * 127], -1)
    pixels += rng.normal(0, 8, pixels.shape)
    picture: np.ndarray = np.clip(pixels, 0, 255).astype(np.uint8)
    return picture


def encode_picture(
    width: int,
    height: int,
    *,
    fmt: str = "PNG",
    mode: str = "RGB",
    seed: int = 0,
    orientation: int | None = None,
) -> bytes:
    """The bytes of a ``width``×``height`` picture saved as ``fmt`` in ``mode``."""
    img = Image.fromarray(textured(width, height, seed=seed)).convert(mode)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture
def make_image() -> MakeImage:
    return encode_picture
