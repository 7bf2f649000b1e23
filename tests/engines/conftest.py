"""Fixtures for engine tests: textured pictures, a two-expert pipeline, a pipeline recorder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
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


#: Where Wan2.2's high-noise expert hands over to the low-noise one (its published value).
TINY_BOUNDARY_RATIO = 0.875


@pytest.fixture(scope="session")
def tiny_wan22(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny two-expert (Wan2.2) VACE pipeline saved in diffusers format."""
    from kirin_video.engines.architectures import build_random_pipeline

    path = tmp_path_factory.mktemp("tiny-wan22")
    build_random_pipeline("tiny", boundary_ratio=TINY_BOUNDARY_RATIO).save_pretrained(path)
    return path


class RecordingPipeline:
    """A loaded pipeline whose calls are recorded and answered with random frames, not denoised.

    What the engine asks of the network is under test here, so the network itself never runs;
    each answer is distinct, so a test can tell which frames came from which call.
    """

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self.calls: list[dict[str, Any]] = []
        self.outputs: list[np.ndarray] = []  # uint8 frames of each answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def __call__(self, **kwargs: Any) -> SimpleNamespace:
        rng = np.random.default_rng(len(self.calls))
        shape = (kwargs["num_frames"], kwargs["height"], kwargs["width"], 3)
        frames = rng.integers(0, 256, size=shape, dtype=np.uint8)
        self.calls.append(kwargs)
        self.outputs.append(frames)
        floats = frames.astype(np.float32) / 255.0
        if kwargs.get("output_type") == "pt":  # as diffusers answers it: B×F×C×H×W
            return SimpleNamespace(frames=torch.from_numpy(floats).permute(0, 3, 1, 2)[None])
        return SimpleNamespace(frames=floats[None])
