"""`kirin doctor` says which speed switches are on, and which it would refuse and why."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kirin_video.cli import app
from kirin_video.config import Settings
from kirin_video.engines.doctor import diagnose


def test_by_default_every_acceleration_is_off(tiny_wan: Path) -> None:
    rows = dict(diagnose(Settings(model_path=str(tiny_wan), device="cpu")))
    assert rows["std profile"].startswith("quality: 30 steps, guidance from cfg_scale")
    assert rows["pro profile"].startswith("quality: 50 steps")
    assert (rows["LoRAs"], rows["cache"], rows["quantize"], rows["compile"]) == (
        "none",
        "off",
        "off",
        "off",
    )
    assert rows["prompt cache"] == "32 prompts"


def test_the_switches_that_are_on_are_named(tiny_wan: Path) -> None:
    settings = Settings(
        model_path=str(tiny_wan),
        device="cpu",
        loras=[("owner/repo/distill.safetensors", 1.0)],
        std_profile="fast",
        cache="first-block",
        compile="regional",
        text_encoder_offload=True,
    )
    rows = dict(diagnose(settings))
    assert rows["std profile"] == "fast: 4 steps, guidance 1, euler, shift 5"
    assert rows["LoRAs"] == "owner/repo/distill.safetensors × 1"
    assert rows["cache"] == "first-block, threshold 0.05"
    assert rows["compile"] == "each repeated block (regional)"
    assert rows["text encoder"] == "in host memory, on the device only to encode a prompt"


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU FP8 may be accepted")
def test_fp8_on_the_cpu_is_reported_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIRIN_QUANTIZE", "fp8")
    result = CliRunner().invoke(app, ["doctor"], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "refused: KIRIN_QUANTIZE=fp8 needs a CUDA GPU" in result.output
