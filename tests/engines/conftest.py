"""Fixtures for engine tests: textured pictures and a recorder of progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

MakePicture = Callable[..., Image.Image]


def picture(width: int = 480, height: int = 320, *, seed: int = 0) -> Image.Image:
    """A textured RGB picture with blobs, so motion and optical flow have something to see."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([x / width * 255, y / height * 255, (np.sin(x / 17 + seed) + 1) * 127], -1)
    for _ in range(8):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 70)
        pixels[(x - cx) ** 2 + (y - cy) ** 2 < r**2] = rng.uniform(0, 255, size=3)
    return Image.fromarray(pixels.astype(np.uint8))


@pytest.fixture
def make_picture() -> MakePicture:
    return picture


def exhaust_memory_once(pipe: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the pipeline's next transformer pass run out of GPU memory, and only that one."""
    transformer = pipe.transformer
    real_forward = transformer.forward

    def exhausted(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(transformer, "forward", real_forward)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformer, "forward", exhausted)
