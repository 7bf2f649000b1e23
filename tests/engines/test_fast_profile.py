"""Distilled steps: LoRAs of LightX2V's published shape fused at load, and the ``fast`` profile."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from pydantic import ValidationError
from safetensors.torch import save_file

from kirin_video.config import Settings
from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.contract.errors import GenerationFailed
from kirin_video.engines.base import Job
from kirin_video.engines.loading import load_pipeline
from kirin_video.engines.loras import lora_location
from kirin_video.engines.wan_vace import DiffusersEngine
from tests.conftest import TINY_WAN
from tests.engines.conftest import MakePicture

#: The original Wan module names a LightX2V distill LoRA targets → diffusers' names for them.
WAN_TARGETS = {
    "self_attn.q": "attn1.to_q",
    "self_attn.k": "attn1.to_k",
    "self_attn.v": "attn1.to_v",
    "self_attn.o": "attn1.to_out.0",
    "cross_attn.q": "attn2.to_q",
    "cross_attn.k": "attn2.to_k",
    "cross_attn.v": "attn2.to_v",
    "cross_attn.o": "attn2.to_out.0",
    "ffn.0": "ffn.net.0.proj",
    "ffn.2": "ffn.net.2",
}
RANK, ALPHA = 4, 2.0


def distill_lora(transformer: Any, path: Path, *, seed: int) -> dict[str, torch.Tensor]:
    """Save a LoRA in the original Wan key format; return the full delta B @ A per weight."""
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    deltas: dict[str, torch.Tensor] = {}
    for index in range(len(transformer.blocks)):
        for wan, diffusers in WAN_TARGETS.items():
            linear = transformer.get_submodule(f"blocks.{index}.{diffusers}")
            down = torch.randn(RANK, linear.in_features, generator=generator) * 0.1
            up = torch.randn(linear.out_features, RANK, generator=generator) * 0.1
            prefix = f"diffusion_model.blocks.{index}.{wan}"
            tensors |= {
                f"{prefix}.lora_down.weight": down,
                f"{prefix}.lora_up.weight": up,
                f"{prefix}.alpha": torch.tensor(ALPHA),
            }
            deltas[f"blocks.{index}.{diffusers}.weight"] = ALPHA / RANK * up @ down
    save_file(tensors, str(path))
    return deltas


def weights(module: Any) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


@pytest.fixture(scope="module")
def base(tiny_wan: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), model_path=str(tiny_wan), **TINY_WAN)


@pytest.fixture(scope="module")
def plain(base: Settings) -> Any:
    """The tiny pipeline loaded without any switch."""
    return load_pipeline(base)


@pytest.fixture(scope="module")
def lora_files(plain: Any, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Any]]:
    folder = tmp_path_factory.mktemp("loras")
    made = []
    for seed in (1, 2):
        path = folder / f"distill_{seed}.safetensors"
        made.append((path, distill_lora(plain.transformer, path, seed=seed)))
    return made


def assert_fused(
    before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], delta: dict[str, Any]
) -> None:
    assert after.keys() == before.keys()  # the LoRA layers are gone once fused
    for name, value in before.items():
        expected = value + delta.get(name, torch.zeros_like(value))
        torch.testing.assert_close(after[name], expected, rtol=0, atol=1e-6, msg=name)


def test_a_distill_lora_changes_the_weights_by_strength_times_b_a(
    base: Settings, plain: Any, lora_files: list[tuple[Path, Any]]
) -> None:
    (path, delta), _ = lora_files
    fused = load_pipeline(base.model_copy(update={"loras": [(str(path), 0.7)]}))
    scaled = {name: 0.7 * value for name, value in delta.items()}
    assert_fused(weights(plain.transformer), weights(fused.transformer), scaled)


def test_two_loras_add_with_their_strengths(
    base: Settings, plain: Any, lora_files: list[tuple[Path, Any]]
) -> None:
    (first, one), (second, two) = lora_files
    loras = [(str(first), 1.0), (str(second), 0.5)]
    fused = load_pipeline(base.model_copy(update={"loras": loras}))
    delta = {name: one[name] + 0.5 * two[name] for name in one}
    assert_fused(weights(plain.transformer), weights(fused.transformer), delta)


def test_loras_2_go_into_the_low_noise_expert_only(
    tiny_wan22: Path, tmp_path: Path, base: Settings
) -> None:
    settings = base.model_copy(update={"model_path": str(tiny_wan22)})
    plain = load_pipeline(settings)
    delta = distill_lora(plain.transformer_2, tmp_path / "low.safetensors", seed=3)
    loras = [(str(tmp_path / "low.safetensors"), 1.0)]
    fused = load_pipeline(settings.model_copy(update={"loras_2": loras}))
    assert_fused(weights(plain.transformer), weights(fused.transformer), {})
    assert_fused(weights(plain.transformer_2), weights(fused.transformer_2), delta)


def test_a_lora_that_is_not_there_fails_the_load_naming_the_setting(
    base: Settings, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nowhere.safetensors")
    with pytest.raises(GenerationFailed, match=r"KIRIN_LORAS.*does not exist"):
        load_pipeline(base.model_copy(update={"loras": [(missing, 1.0)]}))


def test_a_file_that_is_not_a_lora_fails_the_load_naming_it(base: Settings, tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"some.weight": torch.zeros(2, 2)}, str(path))
    with pytest.raises(GenerationFailed, match="KIRIN_LORAS: could not load the LoRA"):
        load_pipeline(base.model_copy(update={"loras": [(str(path), 1.0)]}))


def test_loras_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_LORAS", "owner/repo/distill.safetensors:0.8, ./local.safetensors")
    assert Settings().loras == [
        ("owner/repo/distill.safetensors", 0.8),
        ("./local.safetensors", 1.0),
    ]


@pytest.mark.parametrize(
    ("source", "location"),
    [
        ("owner/repo", ("owner/repo", None)),
        ("owner/repo/sub/distill.safetensors", ("owner/repo", "sub/distill.safetensors")),
    ],
)
def test_a_repo_id_names_the_repo_and_the_file_in_it(
    source: str, location: tuple[str, str | None]
) -> None:
    assert lora_location(source) == location


@pytest.mark.parametrize("setting", ["std_profile", "pro_profile"])
def test_fast_without_a_lora_or_distilled_weights_is_refused_at_start(setting: str) -> None:
    name = f"KIRIN_{setting.upper()}"
    with pytest.raises(ValidationError, match=f"{name}=fast needs step-distilled weights"):
        Settings(**{setting: "fast"})
    assert Settings(**{setting: "fast", "distilled": True}).model_dump()[setting] == "fast"


@contextmanager
def counted_forwards(pipe: Any) -> Iterator[list[float]]:
    """The guidance-free count of transformer passes, one entry (its timestep) per pass."""
    timesteps: list[float] = []

    def record(_module: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        timesteps.append(float(kwargs["timestep"][0]))

    handle = pipe.transformer.register_forward_pre_hook(record, with_kwargs=True)
    try:
        yield timesteps
    finally:
        handle.remove()


def five_seconds(make_picture: MakePicture, **fields: Any) -> Job:
    first = make_picture(480, 320, seed=1)
    geometry = output_geometry(
        model=Model.I2V, mode=fields.get("mode", "std"), duration=5, first_image_size=first.size
    )
    return Job(
        model=Model.I2V, geometry=geometry, seed=5, prompt="a cat walks", first=first, **fields
    )


def test_fast_runs_its_steps_with_one_pass_each(
    base: Settings, lora_files: list[tuple[Path, Any]], make_picture: MakePicture
) -> None:
    (path, _), _ = lora_files
    settings = base.model_copy(
        update={"loras": [(str(path), 1.0)], "std_profile": "fast", "fast_steps": 3}
    )
    engine = DiffusersEngine(settings)
    job = five_seconds(make_picture, cfg_scale=1.0)  # asks for strong guidance: fast ignores it
    with counted_forwards(engine.pipeline) as passes:
        clip = engine.generate(job, lambda _: None)
    assert len(clip.frames) == 21
    assert len(passes) == 3  # 3 steps, no unconditional pass
    assert isinstance(engine.pipeline.scheduler, FlowMatchEulerDiscreteScheduler)
    # LightX2V's steps 1, 2/3, 1/3 through the shift of 5: σ' = 5σ / (1 + 4σ)
    assert passes == pytest.approx([1000.0, 1000 * 10 / 11, 1000 * 5 / 7], rel=1e-4)


def test_quality_keeps_guidance_and_the_pipeline_scheduler_beside_a_fast_mode(
    base: Settings, lora_files: list[tuple[Path, Any]], make_picture: MakePicture
) -> None:
    (path, _), _ = lora_files
    settings = base.model_copy(update={"loras": [(str(path), 1.0)], "std_profile": "fast"})
    engine = DiffusersEngine(settings)
    with counted_forwards(engine.pipeline) as passes:
        engine.generate(five_seconds(make_picture, mode="pro"), lambda _: None)
    assert len(passes) == 2 * TINY_WAN["pro_inference_steps"]  # conditional + unconditional
    assert type(engine.pipeline.scheduler).__name__ == "UniPCMultistepScheduler"


def test_the_distill_schedule_is_lightx2vs_four_timesteps() -> None:
    from kirin_video.engines.architectures import build_random_pipeline
    from kirin_video.engines.profiles import Profile, scheduler_for

    loaded = build_random_pipeline("tiny").scheduler
    scheduler = scheduler_for(loaded, Profile("fast", 4, 1.0, "euler", 1.0))  # no shift
    scheduler.set_timesteps(4)
    assert scheduler.timesteps.tolist() == pytest.approx([1000.0, 750.0, 500.0, 250.0])
