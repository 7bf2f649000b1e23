"""KIRIN_QUANTIZE=fp8 where the GPU can, refused with the reason elsewhere; regional compiling."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

from kirin_video.config import Settings
from kirin_video.contract.errors import GenerationFailed
from kirin_video.engines.loading import load_pipeline
from kirin_video.engines.quantization import cuda_capability, fp8_refusal
from tests.conftest import TINY_WAN

HAS_TORCHAO = importlib.util.find_spec("torchao") is not None
FP8_GPU = torch.cuda.is_available() and (cuda_capability("cuda") or (0, 0)) >= (8, 9)


@pytest.fixture
def base(tiny_wan: Path, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", model_path=str(tiny_wan), **TINY_WAN)


@pytest.mark.parametrize(
    ("device", "capability", "torchao", "reason"),
    [
        ("cpu", None, True, "needs a CUDA GPU of compute capability 8.9 or newer .* runs on cpu"),
        ("cuda:1", (8, 6), True, "cuda:1 has 8.6: set KIRIN_QUANTIZE=none"),
        ("cuda", (9, 0), False, r"torchao is not installed: pip install 'kirin-video\[fp8\]'"),
    ],
)
def test_fp8_is_refused_with_the_reason(
    device: str, capability: tuple[int, int] | None, torchao: bool, reason: str
) -> None:
    refusal = fp8_refusal(device, capability, torchao_installed=torchao)
    assert refusal is not None
    assert refusal.startswith("KIRIN_QUANTIZE=fp8")
    assert re.search(reason, refusal), refusal


@pytest.mark.parametrize("capability", [(8, 9), (9, 0), (10, 0)])
def test_fp8_runs_on_ada_hopper_and_later_with_torchao(capability: tuple[int, int]) -> None:
    assert fp8_refusal("cuda", capability, torchao_installed=True) is None


@pytest.mark.skipif(FP8_GPU, reason="this machine can run FP8")
def test_fp8_on_this_machine_fails_the_load_before_reading_weights(
    base: Settings, tmp_path: Path
) -> None:
    nowhere = base.model_copy(update={"quantize": "fp8", "model_path": str(tmp_path / "none")})
    with pytest.raises(GenerationFailed, match=r"^KIRIN_QUANTIZE=fp8") as refused:
        load_pipeline(nowhere)  # refused first: the missing weights are never looked for
    assert "does not exist" not in refused.value.message


@pytest.mark.skipif(
    not (FP8_GPU and HAS_TORCHAO),
    reason=f"FP8 needs a CUDA GPU of compute capability 8.9+ (here: {FP8_GPU}) and torchao "
    f"(installed: {HAS_TORCHAO})",
)
def test_fp8_quantizes_every_linear_layer_of_the_transformer(base: Settings) -> None:
    pipe = load_pipeline(base.model_copy(update={"quantize": "fp8", "device": "cuda"}))
    linears = [m for m in pipe.transformer.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(type(m.weight).__name__ != "Parameter" for m in linears)


def test_regional_compile_compiles_each_repeated_block_not_the_whole(base: Settings) -> None:
    pipe = load_pipeline(base.model_copy(update={"compile": "regional"}))
    transformer = pipe.transformer
    blocks = [*transformer.blocks, *transformer.vace_blocks]
    assert all(block._compiled_call_impl is not None for block in blocks)
    assert transformer._compiled_call_impl is None


def test_compile_true_still_compiles_the_whole_transformer(base: Settings) -> None:
    pipe = load_pipeline(base.model_copy(update={"compile": True}))
    assert pipe.transformer._compiled_call_impl is not None
    assert pipe.transformer.blocks[0]._compiled_call_impl is None


@pytest.mark.parametrize(("value", "parsed"), [("regional", "regional"), ("true", True)])
def test_compile_reads_regional_or_a_boolean(
    monkeypatch: pytest.MonkeyPatch, value: str, parsed: object
) -> None:
    monkeypatch.setenv("KIRIN_COMPILE", value)
    assert Settings().compile == parsed
