"""The diffusers engine on a tiny random Wan VACE pipeline loaded from disk like real weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from kirin_video.config import Settings
from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.contract.errors import ErrorCode, GenerationFailed
from kirin_video.engines.base import Job
from kirin_video.engines.loading import load_pipeline
from kirin_video.engines.wan_vace import DiffusersEngine
from kirin_video.runtime.progress import Stopped
from tests.engines.conftest import MakePicture, exhaust_memory_once


@pytest.fixture(scope="module")
def engine(tiny_wan: Path, tmp_path_factory: pytest.TempPathFactory) -> DiffusersEngine:
    from tests.conftest import TINY_WAN

    data = tmp_path_factory.mktemp("data")
    return DiffusersEngine(Settings(data_dir=data, model_path=str(tiny_wan), **TINY_WAN))


def i2v_job(make_picture: MakePicture, *, duration: int = 5, **fields: Any) -> Job:
    first = make_picture(480, 320, seed=1)
    geometry = output_geometry(
        model=Model.I2V,
        mode=fields.get("mode", "std"),
        duration=duration,
        first_image_size=first.size,
    )
    defaults: dict[str, Any] = {
        "seed": 5,
        "prompt": "the sun rises over the valley",
        "first": first,
    }
    return Job(model=Model.I2V, geometry=geometry, **{**defaults, **fields})


def multi_job(make_picture: MakePicture, *, references: int, **fields: Any) -> Job:
    geometry = output_geometry(
        model=Model.MULTI_I2V, mode=fields.get("mode", "std"), duration=5, aspect_ratio="9:16"
    )
    refs = tuple(make_picture(400, 400, seed=seed) for seed in range(references))
    defaults: dict[str, Any] = {"seed": 5, "prompt": "a cat walks", "references": refs}
    return Job(model=Model.MULTI_I2V, geometry=geometry, **{**defaults, **fields})


def test_renders_native_frames_at_the_planned_size(
    engine: DiffusersEngine, make_picture: MakePicture
) -> None:
    clip = engine.generate(i2v_job(make_picture), lambda _: None)
    assert len(clip.frames) == 21  # 5 s at 4 fps, 4k+1
    assert clip.frames[0].shape == (32, 48, 3) and clip.frames[0].dtype == np.uint8
    assert clip.fps == pytest.approx(4.0)


def test_ten_seconds_join_two_segments_without_repeating_the_overlap(
    engine: DiffusersEngine, make_picture: MakePicture
) -> None:
    clip = engine.generate(i2v_job(make_picture, duration=10), lambda _: None)
    assert len(clip.frames) == 21 + 21 - 5


def test_multi_renders_in_the_requested_aspect(
    engine: DiffusersEngine, make_picture: MakePicture
) -> None:
    clip = engine.generate(multi_job(make_picture, references=4, mode="pro"), lambda _: None)
    assert clip.frames[0].shape == (80, 48, 3)  # pro: short side 48, 9:16


def test_same_seed_same_frames_and_prompt_seed_change_them(
    engine: DiffusersEngine, make_picture: MakePicture
) -> None:
    def render(**fields: Any) -> np.ndarray:
        return np.stack(engine.generate(i2v_job(make_picture, **fields), lambda _: None).frames)

    base = render()
    assert np.array_equal(base, render())
    assert not np.array_equal(base, render(prompt="a dog runs across the city"))
    assert not np.array_equal(base, render(seed=6))


def test_progress_follows_every_denoising_step(
    engine: DiffusersEngine, make_picture: MakePicture
) -> None:
    seen: list[float] = []
    engine.generate(i2v_job(make_picture, duration=10, mode="pro"), seen.append)
    assert len(seen) == 2 * 3 + 1  # two segments of three steps, then done
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_a_progress_callback_that_raises_stops_at_the_next_step(
    engine: DiffusersEngine, make_picture: MakePicture
) -> None:
    seen: list[float] = []

    def cancel(value: float) -> None:
        seen.append(value)
        raise Stopped

    with pytest.raises(Stopped):
        engine.generate(i2v_job(make_picture, duration=10), cancel)
    assert len(seen) == 1


def test_out_of_memory_fails_the_job_and_the_engine_goes_on(
    engine: DiffusersEngine, make_picture: MakePicture, monkeypatch: pytest.MonkeyPatch
) -> None:
    exhaust_memory_once(engine.pipeline, monkeypatch)
    with pytest.raises(GenerationFailed) as failure:
        engine.generate(i2v_job(make_picture), lambda _: None)
    assert failure.value.code is ErrorCode.GENERATION_FAILED
    assert "out of memory" in failure.value.message and "KIRIN_CPU_OFFLOAD" in failure.value.message
    assert len(engine.generate(i2v_job(make_picture), lambda _: None).frames) == 21


def corrupt_copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    (target / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 64)
    return target


@pytest.mark.parametrize(
    ("model_path", "says"),
    [
        (lambda tmp, _: str(tmp / "nowhere"), "does not exist"),
        (lambda tmp, _: str(tmp), "no model_index.json"),
        (lambda tmp, tiny: str(corrupt_copy(tiny, tmp / "corrupt")), "corrupt"),
        (lambda _tmp, _tiny: None, "KIRIN_MODEL_PATH is not set"),
    ],
    ids=["missing", "not a pipeline", "corrupt", "unset"],
)
def test_unloadable_weights_fail_the_task_with_advice(
    tmp_path: Path, tiny_wan: Path, make_picture: MakePicture, model_path: Any, says: str
) -> None:
    engine = DiffusersEngine(Settings(data_dir=tmp_path, model_path=model_path(tmp_path, tiny_wan)))
    engine.warm()  # logs, never raises
    with pytest.raises(GenerationFailed) as failure:
        engine.generate(i2v_job(make_picture), lambda _: None)
    assert failure.value.code is ErrorCode.GENERATION_FAILED
    assert says in failure.value.message


def loaded(tiny_wan: Path, tmp_path: Path, **switches: Any) -> Any:
    return load_pipeline(Settings(data_dir=tmp_path, model_path=str(tiny_wan), **switches))


def test_default_load_is_fp32_on_the_cpu_with_no_switches(tiny_wan: Path, tmp_path: Path) -> None:
    pipe = loaded(tiny_wan, tmp_path)
    assert pipe.transformer.dtype == torch.float32 and pipe.device.type == "cpu"
    assert not pipe.vae.use_tiling and not pipe.vae.use_slicing
    assert pipe.transformer._compiled_call_impl is None
    assert not hasattr(pipe.transformer, "_hf_hook")


def test_dtype_switch_is_wired(tiny_wan: Path, tmp_path: Path) -> None:
    pipe = loaded(tiny_wan, tmp_path, dtype="bf16")
    assert pipe.transformer.dtype == pipe.text_encoder.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32  # Wan decodes in fp32


def test_vae_tiling_and_slicing_switches_are_wired(tiny_wan: Path, tmp_path: Path) -> None:
    pipe = loaded(tiny_wan, tmp_path, vae_tiling=True, vae_slicing=True)
    assert pipe.vae.use_tiling and pipe.vae.use_slicing


def test_model_cpu_offload_switch_is_wired(tiny_wan: Path, tmp_path: Path) -> None:
    pipe = loaded(tiny_wan, tmp_path, cpu_offload="model")
    assert hasattr(pipe.transformer, "_hf_hook") and hasattr(pipe.text_encoder, "_hf_hook")


def test_attention_backend_switch_is_wired(tiny_wan: Path, tmp_path: Path) -> None:
    pipe = loaded(tiny_wan, tmp_path, attention_backend="_native_math")
    backends = {
        str(getattr(module.processor, "_attention_backend", None))
        for module in pipe.transformer.modules()
        if hasattr(module, "processor")
    }
    assert backends == {"AttentionBackendName._NATIVE_MATH"}


def test_compile_switch_is_wired(tiny_wan: Path, tmp_path: Path) -> None:
    assert loaded(tiny_wan, tmp_path, compile=True).transformer._compiled_call_impl is not None


def test_flow_shift_overrides_the_scheduler(tiny_wan: Path, tmp_path: Path) -> None:
    assert loaded(tiny_wan, tmp_path, flow_shift=5.0).scheduler.config.flow_shift == 5.0


def test_unknown_attention_backend_is_a_load_failure(tiny_wan: Path, tmp_path: Path) -> None:
    with pytest.raises(GenerationFailed, match="could not load"):
        loaded(tiny_wan, tmp_path, attention_backend="warp-drive")
