"""Prompt embeddings: encoded once per (prompt, negative prompt), bounded, encoder offloadable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from kirin_video.config import Settings
from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.engines.base import Job
from kirin_video.engines.loading import load_pipeline
from kirin_video.engines.prompts import PromptCache
from kirin_video.engines.wan_vace import DiffusersEngine
from tests.conftest import TINY_WAN
from tests.engines.conftest import MakePicture


@pytest.fixture(scope="module")
def base(tiny_wan: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), model_path=str(tiny_wan), **TINY_WAN)


@pytest.fixture(scope="module")
def pipe(base: Settings) -> Any:
    return load_pipeline(base)


@contextmanager
def encoder_passes(pipe: Any) -> Iterator[list[int]]:
    """Count the text encoder's forward passes (one per batch of prompts it encodes)."""
    passes: list[int] = []
    handle = pipe.text_encoder.register_forward_hook(lambda *_: passes.append(1))
    try:
        yield passes
    finally:
        handle.remove()


def test_a_repeated_prompt_is_encoded_once(pipe: Any) -> None:
    cache = PromptCache(4)
    with encoder_passes(pipe) as passes:
        first = cache.embeddings(pipe, "a cat walks", "dark", guided=True)
        again = cache.embeddings(pipe, "a cat walks", "dark", guided=True)
    assert len(passes) == 2  # the prompt and the negative prompt, once
    assert torch.equal(first[0], again[0]) and first[1] is not None and again[1] is not None
    assert torch.equal(first[1], again[1])


def test_cached_embeddings_are_the_pipelines_own(pipe: Any) -> None:
    positive, negative = PromptCache(4).embeddings(pipe, "a dog runs", "rain", guided=True)
    expected = pipe.encode_prompt(
        prompt="a dog runs", negative_prompt="rain", do_classifier_free_guidance=True
    )
    assert torch.equal(positive, expected[0]) and torch.equal(negative, expected[1])


def test_the_negative_prompt_is_part_of_the_key_only_with_guidance(pipe: Any) -> None:
    cache = PromptCache(4)
    cache.embeddings(pipe, "a cat walks", "dark", guided=True)
    cache.embeddings(pipe, "a cat walks", "light", guided=True)
    assert cache.misses == 2
    for negative in ("dark", "light"):
        _positive, none = cache.embeddings(pipe, "a cat walks", negative, guided=False)
        assert none is None
    assert cache.misses == 3  # unguided: one entry whatever the negative prompt


def test_the_cache_keeps_the_most_recent_prompts_only(pipe: Any) -> None:
    cache = PromptCache(2)
    for prompt in ("one", "two", "one", "three"):  # "one" used again: "two" is the oldest
        cache.embeddings(pipe, prompt, "", guided=False)
    assert (len(cache), cache.misses) == (2, 3)
    cache.embeddings(pipe, "one", "", guided=False)
    assert cache.misses == 3
    cache.embeddings(pipe, "two", "", guided=False)
    assert cache.misses == 4


def test_size_zero_encodes_every_time(pipe: Any) -> None:
    cache = PromptCache(0)
    for _ in range(2):
        cache.embeddings(pipe, "a cat walks", "", guided=False)
    assert (len(cache), cache.misses) == (0, 2)


def test_an_offloaded_encoder_visits_the_device_only_to_encode(
    pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves: list[str] = []
    real_to = pipe.text_encoder.to

    def to(device: Any, *args: Any, **kwargs: Any) -> Any:
        moves.append(str(device))
        return real_to(device, *args, **kwargs)

    monkeypatch.setattr(pipe.text_encoder, "to", to)
    cache = PromptCache(4, offload_encoder=True)
    cache.embeddings(pipe, "a cat walks", "", guided=False)
    cache.embeddings(pipe, "a cat walks", "", guided=False)
    assert moves == [str(pipe._execution_device), "cpu"]  # there and back, for the miss only


def test_a_ten_second_clip_encodes_its_prompt_once_for_both_segments(
    base: Settings, make_picture: MakePicture
) -> None:
    engine = DiffusersEngine(base)
    first = make_picture(480, 320, seed=1)
    geometry = output_geometry(
        model=Model.I2V, mode="std", duration=10, first_image_size=first.size
    )
    job = Job(model=Model.I2V, geometry=geometry, seed=5, prompt="a cat walks", first=first)
    with encoder_passes(engine.pipeline) as passes:
        clip = engine.generate(job, lambda _: None)
        engine.generate(job, lambda _: None)
    assert len(clip.frames) == 21 + 21 - 5  # two segments
    assert len(passes) == 2  # prompt and negative prompt, once for two segments and two tasks
