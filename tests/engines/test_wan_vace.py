"""The diffusers engine on a tiny random Wan VACE pipeline loaded from disk like real weights."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from kirin_video.config import Settings
from kirin_video.contract.catalog import Geometry, Model, output_geometry
from kirin_video.contract.errors import ErrorCode, GenerationFailed
from kirin_video.engines.base import Job
from kirin_video.engines.loading import load_pipeline, resolve_dtype
from kirin_video.engines.wan_vace import DiffusersEngine
from kirin_video.media.postprocess import conform
from kirin_video.runtime.progress import Stopped
from tests.conftest import TINY_WAN
from tests.engines.conftest import (
    TINY_BOUNDARY_RATIO,
    MakePicture,
    RecordingPipeline,
    exhaust_memory_once,
)

#: The native size of a 3:2 picture at the tiny working point, per mode.
NATIVE_3_2 = {"std": (48, 32), "pro": (64, 48)}


@pytest.fixture(scope="module")
def tiny_settings(tiny_wan: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("data")
    return Settings(data_dir=data, model_path=str(tiny_wan), **TINY_WAN)


@pytest.fixture(scope="module")
def engine(tiny_settings: Settings) -> DiffusersEngine:
    return DiffusersEngine(tiny_settings)


@pytest.fixture
def recording(engine: DiffusersEngine) -> RecordingPipeline:
    """The module's loaded pipeline, with its calls recorded instead of run."""
    return RecordingPipeline(engine.pipeline)


@pytest.fixture
def spied(tiny_settings: Settings, recording: RecordingPipeline) -> DiffusersEngine:
    """An engine on the recorded pipeline, recommending a guidance scale of 6."""
    settings = tiny_settings.model_copy(update={"guidance_scale": 6.0})
    return DiffusersEngine(settings, loader=lambda _: recording)


def ignore(_: float) -> None:
    """A progress callback for tests about something else."""


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


def framed_job(
    *,
    first: Image.Image | None = None,
    last: Image.Image | None = None,
    duration: int = 5,
    **fields: Any,
) -> Job:
    """An i2v job with a first frame, a last frame or both."""
    given = first or last
    assert given is not None
    geometry = output_geometry(
        model=Model.I2V, mode="std", duration=duration, first_image_size=given.size
    )
    return Job(model=Model.I2V, geometry=geometry, seed=5, first=first, last=last, **fields)


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


def mask_values(call: dict[str, Any]) -> list[set[int]]:
    """The values of each frame's VACE mask in one pipeline call."""
    return [set(np.unique(np.asarray(mask)).tolist()) for mask in call["mask"]]


def video_frames(call: dict[str, Any]) -> np.ndarray:
    """The conditioning video of one pipeline call as a frames × H × W × 3 array."""
    return np.stack([np.asarray(frame.convert("RGB")) for frame in call["video"]])


def kept(length: int, positions: set[int]) -> list[set[int]]:
    """The masks expected with ``positions`` kept (0) and every other frame generated (255)."""
    return [{0} if position in positions else {255} for position in range(length)]


@pytest.mark.parametrize(
    ("given", "positions"),
    [("first", {0}), ("last", {20}), ("both", {0, 20})],
)
def test_i2v_keeps_the_given_frames_and_generates_the_rest(
    spied: DiffusersEngine,
    recording: RecordingPipeline,
    make_picture: MakePicture,
    given: str,
    positions: set[int],
) -> None:
    first, last = make_picture(48, 32, seed=1), make_picture(48, 32, seed=2)  # native size
    pictures = {
        "first": first if given != "last" else None,
        "last": last if given != "first" else None,
    }
    spied.generate(framed_job(**pictures), ignore)
    (call,) = recording.calls
    assert call["num_frames"] == 21 and mask_values(call) == kept(21, positions)
    expected = np.full((21, 32, 48, 3), 128, np.uint8)  # VACE's grey for frames to generate
    for position, picture in ((0, pictures["first"]), (20, pictures["last"])):
        if picture is not None:
            expected[position] = np.asarray(picture)
    assert np.array_equal(video_frames(call), expected)
    assert call["reference_images"] is None


def test_ten_seconds_condition_the_second_segment_on_the_end_of_the_first(
    spied: DiffusersEngine, recording: RecordingPipeline, make_picture: MakePicture
) -> None:
    first, last = make_picture(48, 32, seed=1), make_picture(48, 32, seed=2)
    clip = spied.generate(framed_job(first=first, last=last, duration=10), ignore)
    one, two = recording.calls
    overlap = TINY_WAN["segment_overlap"]
    assert mask_values(one) == kept(21, {0})  # the last frame belongs to the last segment
    assert mask_values(two) == kept(21, {*range(overlap), 20})
    assert np.array_equal(video_frames(one)[0], np.asarray(first))
    assert np.array_equal(video_frames(two)[:overlap], recording.outputs[0][-overlap:])
    assert np.array_equal(video_frames(two)[20], np.asarray(last))
    assert [call["generator"].initial_seed() for call in (one, two)] == [5, 6]
    joined = np.concatenate([recording.outputs[0], recording.outputs[1][overlap:]])
    assert np.array_equal(np.stack(clip.frames), joined)


@pytest.mark.parametrize("count", [1, 4])
def test_multi_passes_every_reference_and_no_frames(
    spied: DiffusersEngine, recording: RecordingPipeline, make_picture: MakePicture, count: int
) -> None:
    job = multi_job(make_picture, references=count)
    spied.generate(job, ignore)
    (call,) = recording.calls
    assert len(call["reference_images"]) == count
    assert call["reference_images"] == list(job.references)
    assert call["video"] is None and call["mask"] is None


@pytest.mark.parametrize(
    ("cfg_scale", "guidance"),
    [(0.0, 1.0), (0.25, 3.5), (0.5, 6.0), (None, 6.0), (1.0, 11.0)],
)
def test_prompts_and_guidance_reach_the_pipeline(
    spied: DiffusersEngine,
    recording: RecordingPipeline,
    make_picture: MakePicture,
    cfg_scale: float | None,
    guidance: float,
) -> None:
    job = i2v_job(make_picture, cfg_scale=cfg_scale, negative_prompt="dark blurry clouds")
    spied.generate(job, ignore)
    (call,) = recording.calls
    assert call["guidance_scale"] == pytest.approx(guidance)
    prompt, negative = recording.encode_prompt(
        prompt="the sun rises over the valley",
        negative_prompt="dark blurry clouds",
        do_classifier_free_guidance=guidance > 1.0,
        device="cpu",
    )
    assert torch.equal(call["prompt_embeds"], prompt)
    if guidance > 1.0:
        assert torch.equal(call["negative_prompt_embeds"], negative)
    else:  # no guidance: the negative prompt is not encoded at all
        assert call["negative_prompt_embeds"] is None


@pytest.mark.parametrize(
    ("mode", "steps"),
    [("std", TINY_WAN["inference_steps"]), ("pro", TINY_WAN["pro_inference_steps"])],
)
def test_mode_picks_the_step_count_and_native_size(
    spied: DiffusersEngine,
    recording: RecordingPipeline,
    make_picture: MakePicture,
    mode: str,
    steps: int,
) -> None:
    spied.generate(i2v_job(make_picture, mode=mode), ignore)
    (call,) = recording.calls
    assert call["num_inference_steps"] == steps
    assert (call["width"], call["height"]) == NATIVE_3_2[mode]


def test_the_pipeline_is_loaded_once_and_kept_warm(
    tiny_settings: Settings, recording: RecordingPipeline, make_picture: MakePicture
) -> None:
    loads: list[Settings] = []

    def loader(settings: Settings) -> RecordingPipeline:
        loads.append(settings)
        return recording

    engine = DiffusersEngine(tiny_settings, loader=loader)
    engine.warm()
    engine.generate(i2v_job(make_picture), ignore)
    engine.generate(multi_job(make_picture, references=2), ignore)
    assert len(loads) == 1 and len(recording.calls) == 2


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
    assert failure.value.message.startswith("generation failed: out of memory rendering ")
    assert len(engine.generate(i2v_job(make_picture), lambda _: None).frames) == 21


@pytest.mark.parametrize(
    ("mode", "named", "other"),
    [
        ("std", "KIRIN_NATIVE_SHORT_SIDE", "KIRIN_PRO_SHORT_SIDE"),
        ("pro", "KIRIN_PRO_SHORT_SIDE", "KIRIN_NATIVE_SHORT_SIDE"),
    ],
)
def test_out_of_memory_advice_names_the_short_side_of_the_mode_in_the_log_only(
    engine: DiffusersEngine,
    make_picture: MakePicture,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    named: str,
    other: str,
) -> None:
    exhaust_memory_once(engine.pipeline, monkeypatch)
    with pytest.raises(GenerationFailed) as failure, caplog.at_level(logging.ERROR):
        engine.generate(i2v_job(make_picture, mode=mode), ignore)
    message = failure.value.message
    width, height = NATIVE_3_2[mode]
    assert f"out of memory rendering {width}x{height}x21 frames (incident " in message
    assert "KIRIN_" not in message and "cpu" not in message  # no setting, no device
    incident = re.search(r"incident (\w+)", message)
    assert incident
    [logged] = [r.getMessage() for r in caplog.records if incident.group(1) in r.getMessage()]
    assert named in logged and other not in logged and "KIRIN_CPU_OFFLOAD=model" in logged


def broken_copy(source: Path, target: Path, *, part: str, contents: bytes | None) -> Path:
    """A copy of a pipeline with one weights file replaced by ``contents``, or deleted."""
    import shutil

    shutil.copytree(source, target)
    weights = target / part
    if contents is None:
        weights.unlink()
    else:
        weights.write_bytes(contents)
    return target


def truncated_copy(source: Path, target: Path, *, part: str) -> Path:
    """A copy of a pipeline whose weights file stops half-way, as an interrupted download does."""
    size = (source / part).stat().st_size
    data = (source / part).read_bytes()[: size // 2]
    return broken_copy(source, target, part=part, contents=data)


def other_wan_copy(source: Path, target: Path) -> Path:
    """A copy turned into a plain Wan text-to-video pipeline: a Wan, but not a VACE one."""
    import json
    import shutil

    from diffusers import WanTransformer3DModel

    from kirin_video.engines.architectures import ARCHITECTURES

    shutil.copytree(source, target)
    shutil.rmtree(target / "transformer")
    config = {k: v for k, v in ARCHITECTURES["tiny"].transformer.items() if k != "vace_layers"}
    WanTransformer3DModel(**config).save_pretrained(target / "transformer")
    index = json.loads((target / "model_index.json").read_text())
    index.update(_class_name="WanPipeline", transformer=["diffusers", "WanTransformer3DModel"])
    (target / "model_index.json").write_text(json.dumps(index))
    return target


TRANSFORMER = "transformer/diffusion_pytorch_model.safetensors"
TEXT_ENCODER = "text_encoder/model.safetensors"
MISSING_FILE = "a file of the pipeline is missing"
UNREADABLE = "cannot be read (truncated or corrupt)"


@pytest.mark.parametrize(
    ("model_path", "says"),
    [
        (lambda tmp, _: str(tmp / "nowhere"), "does not exist"),
        (lambda tmp, _: str(tmp), "no model_index.json"),
        (
            lambda tmp, tiny: str(broken_copy(tiny, tmp / "p", part=TRANSFORMER, contents=None)),
            MISSING_FILE,
        ),
        (
            lambda tmp, tiny: str(
                broken_copy(tiny, tmp / "p", part=TRANSFORMER, contents=b"\0" * 64)
            ),
            UNREADABLE,
        ),
        (lambda tmp, tiny: str(truncated_copy(tiny, tmp / "p", part=TEXT_ENCODER)), UNREADABLE),
        (lambda tmp, tiny: str(other_wan_copy(tiny, tmp / "p")), "is not a Wan VACE pipeline"),
        (lambda _tmp, _tiny: None, "KIRIN_MODEL_PATH is not set"),
    ],
    ids=["missing", "not a pipeline", "incomplete", "corrupt", "truncated", "not VACE", "unset"],
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


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        RuntimeError("CUDA error: out of memory"),
    ],
    ids=["torch", "cuda"],
)
def test_out_of_memory_while_loading_advises_offload_dtype_or_a_smaller_model(
    tiny_wan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    from diffusers import WanVACEPipeline

    def exhausted(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(WanVACEPipeline, "to", exhausted)  # where weights move onto the GPU
    with pytest.raises(GenerationFailed) as failure:
        loaded(tiny_wan, tmp_path)
    message = failure.value.message
    assert message.startswith("out of memory on cpu loading")
    for advice in ("KIRIN_CPU_OFFLOAD=model", "KIRIN_DTYPE=bf16", "a smaller model"):
        assert advice in message
    assert UNREADABLE not in message and MISSING_FILE not in message


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


def test_sequential_cpu_offload_switch_is_wired(tiny_wan: Path, tmp_path: Path) -> None:
    from accelerate.hooks import AlignDevicesHook

    pipe = loaded(tiny_wan, tmp_path, cpu_offload="sequential")
    for part in (pipe.transformer, pipe.text_encoder):
        hooks = [getattr(module, "_hf_hook", None) for module in part.modules()]
        assert any(isinstance(hook, AlignDevicesHook) and hook.offload for hook in hooks)


@pytest.mark.parametrize(
    ("device", "dtype"),
    [("cuda", torch.bfloat16), ("cuda:1", torch.bfloat16), ("cpu", torch.float32)],
)
def test_auto_dtype_is_bf16_on_a_gpu_and_fp32_on_the_cpu(
    tmp_path: Path, device: str, dtype: torch.dtype
) -> None:
    assert resolve_dtype(Settings(data_dir=tmp_path), device) == dtype


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
    with pytest.raises(GenerationFailed) as failure:
        loaded(tiny_wan, tmp_path, attention_backend="warp-drive")
    message = failure.value.message
    assert message.startswith("could not load") and "warp-drive" in message
    assert "check the KIRIN_* switches" in message
    assert UNREADABLE not in message and MISSING_FILE not in message


def count_passes(transformer: Any, name: str, passes: list[str], mp: pytest.MonkeyPatch) -> None:
    """Append ``name`` to ``passes`` on each forward pass of ``transformer``."""
    forward = transformer.forward

    def counted(*args: Any, **kwargs: Any) -> Any:
        passes.append(name)
        return forward(*args, **kwargs)

    mp.setattr(transformer, "forward", counted)


def test_two_expert_pipelines_denoise_with_both_experts(
    tiny_wan22: Path, tmp_path: Path, make_picture: MakePicture, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = DiffusersEngine(Settings(data_dir=tmp_path, model_path=str(tiny_wan22), **TINY_WAN))
    pipe = engine.pipeline
    assert pipe.config.boundary_ratio == TINY_BOUNDARY_RATIO
    passes: list[str] = []
    count_passes(pipe.transformer, "high-noise", passes, monkeypatch)
    count_passes(pipe.transformer_2, "low-noise", passes, monkeypatch)
    clip = engine.generate(i2v_job(make_picture), ignore)
    assert len(clip.frames) == 21 and clip.frames[0].shape == (32, 48, 3)
    # Two steps at t=999 and t=750 around the boundary 875, each a guided (two-pass) step.
    assert passes == ["high-noise"] * 2 + ["low-noise"] * 2


def test_switches_apply_to_both_experts(tiny_wan22: Path, tmp_path: Path) -> None:
    pipe = loaded(tiny_wan22, tmp_path, dtype="bf16", attention_backend="_native_math")
    for expert in (pipe.transformer, pipe.transformer_2):
        assert expert.dtype == torch.bfloat16
        backends = {
            str(getattr(module.processor, "_attention_backend", None))
            for module in expert.modules()
            if hasattr(module, "processor")
        }
        assert backends == {"AttentionBackendName._NATIVE_MATH"}


def test_conforming_on_the_device_hands_over_the_final_frames(
    engine: DiffusersEngine, tiny_settings: Settings, make_picture: MakePicture
) -> None:
    small = Geometry(width=192, height=128, fps=30, frames=150)  # 5 s; torch is slow on CPUs
    job = replace(i2v_job(make_picture), geometry=small)
    native = engine.generate(job, ignore)
    settings = tiny_settings.model_copy(update={"conform_on_device": True})
    on_device = DiffusersEngine(settings, loader=lambda _: engine.pipeline).generate(job, ignore)
    geometry = job.geometry
    assert (len(on_device.frames), on_device.fps) == (geometry.frames, geometry.fps)
    assert on_device.frames[0].shape == (geometry.height, geometry.width, 3)
    expected = np.stack(list(conform(native, geometry))).astype(np.int16)
    got = np.stack(list(conform(on_device, geometry))).astype(np.int16)  # passes them through
    assert np.abs(got[1:] - expected[1:]).mean() < 1.5  # the first is the given picture in both
