"""KIRIN_CACHE: diffusers' step caches cut the transformer's work and keep the video close."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from kirin_video.config import Settings
from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.engines.base import Job
from kirin_video.engines.loading import experts
from kirin_video.engines.wan_vace import DiffusersEngine
from tests.conftest import TINY_WAN
from tests.engines.conftest import MakePicture, picture

#: Enough steps for a cache to have steps to skip; 9 frames at 2 fps keep each video short.
STEPS = 8
#: How far a cached run's denoised latents may be from the uncached run's, as a share of how far
#: apart two uncached runs from different seeds end (measured 0.11 first-block, 0.002 taylorseer).
TOLERANCE = 0.2
CACHES: dict[str, dict[str, Any]] = {
    "first-block": {"cache": "first-block", "cache_threshold": 0.2},
    "taylorseer": {"cache": "taylorseer", "cache_interval": 2, "cache_warmup_steps": 2},
}


@pytest.fixture(scope="module")
def base(tiny_wan: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    point = {**TINY_WAN, "native_fps": 2, "inference_steps": STEPS}
    return Settings(data_dir=tmp_path_factory.mktemp("data"), model_path=str(tiny_wan), **point)


def job(make_picture: MakePicture, *, seed: int = 5) -> Job:
    first = make_picture(480, 320, seed=1)
    geometry = output_geometry(model=Model.I2V, mode="std", duration=5, first_image_size=first.size)
    return Job(model=Model.I2V, geometry=geometry, seed=seed, prompt="a cat walks", first=first)


@contextmanager
def linear_calls(pipe: Any) -> Iterator[list[int]]:
    """Count the matrix products the transformers run: calls of their linear layers."""
    calls: list[int] = []
    handles = [
        module.register_forward_hook(lambda *_: calls.append(1))
        for transformer in experts(pipe)
        for module in transformer.modules()
        if isinstance(module, torch.nn.Linear)
    ]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def denoised(pipe: Any) -> Iterator[list[torch.Tensor]]:
    """The latents each segment hands to the VAE once denoising is done."""
    latents: list[torch.Tensor] = []
    handle = pipe.vae.post_quant_conv.register_forward_pre_hook(
        lambda _module, args: latents.append(args[0].detach().clone())
    )
    try:
        yield latents
    finally:
        handle.remove()


def render(settings: Settings, **fields: Any) -> tuple[torch.Tensor, int]:
    """One video's denoised latents and the linear-layer calls it took."""
    engine = DiffusersEngine(settings)
    with linear_calls(engine.pipeline) as calls, denoised(engine.pipeline) as latents:
        engine.generate(job(picture, **fields), lambda _: None)
    return torch.cat(latents), len(calls)


@pytest.fixture(scope="module")
def uncached(base: Settings) -> tuple[torch.Tensor, int]:
    return render(base)


@pytest.fixture(scope="module")
def other_seed(base: Settings) -> torch.Tensor:
    """The uncached latents from other starting noise: the scale a difference is measured on."""
    return render(base, seed=6)[0]


@pytest.mark.parametrize("name", sorted(CACHES))
def test_a_cache_cuts_the_work_and_keeps_the_latents_close(
    base: Settings,
    uncached: tuple[torch.Tensor, int],
    other_seed: torch.Tensor,
    name: str,
) -> None:
    latents, work = render(base.model_copy(update=CACHES[name]))
    reference, full = uncached
    assert work < 0.9 * full
    error = (latents - reference).norm() / (other_seed - reference).norm()
    assert error < TOLERANCE


@pytest.mark.parametrize("name", sorted(CACHES))
def test_a_cache_starts_afresh_for_each_video(
    base: Settings, make_picture: MakePicture, name: str
) -> None:
    engine = DiffusersEngine(base.model_copy(update=CACHES[name]))
    with linear_calls(engine.pipeline) as calls:
        first = engine.generate(job(make_picture), lambda _: None)
        once = len(calls)
        second = engine.generate(job(make_picture), lambda _: None)
    assert len(calls) == 2 * once
    assert all(np.array_equal(a, b) for a, b in zip(first.frames, second.frames, strict=True))


def test_off_by_default(base: Settings) -> None:
    engine = DiffusersEngine(base)
    assert not engine.pipeline.transformer.is_cache_enabled


def test_both_experts_of_wan22_get_their_own_cache(
    base: Settings, tiny_wan22: Path, make_picture: MakePicture
) -> None:
    settings = base.model_copy(update={"model_path": str(tiny_wan22), **CACHES["first-block"]})
    engine = DiffusersEngine(settings)
    high, low = experts(engine.pipeline)
    assert high.is_cache_enabled and low.is_cache_enabled
    assert high._cache_config is not low._cache_config
    with linear_calls(engine.pipeline) as calls:
        engine.generate(job(make_picture), lambda _: None)
    uncached = DiffusersEngine(settings.model_copy(update={"cache": "none"}))
    with linear_calls(uncached.pipeline) as full:
        uncached.generate(job(make_picture), lambda _: None)
    assert len(calls) < 0.9 * len(full)
