"""Which engine a worker runs, and what `kirin doctor` reports about it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kirin_video.cli import app
from kirin_video.config import Settings
from kirin_video.engines.doctor import diagnose
from kirin_video.engines.preview import PreviewEngine
from kirin_video.engines.registry import load_engine
from kirin_video.engines.wan_vace import DiffusersEngine


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend a CUDA device is present (the choice, not generation, is under test)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def test_auto_without_a_gpu_runs_the_preview(
    tiny_wan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert isinstance(load_engine(Settings(model_path=str(tiny_wan))), PreviewEngine)


@pytest.mark.usefixtures("gpu")
def test_auto_with_a_gpu_and_local_weights_runs_diffusers(tiny_wan: Path) -> None:
    assert isinstance(load_engine(Settings(model_path=str(tiny_wan))), DiffusersEngine)


@pytest.mark.usefixtures("gpu")
@pytest.mark.parametrize("model_path", [None, "no-such-org/no-such-model"])
def test_auto_with_a_gpu_but_no_weights_runs_the_preview(model_path: str | None) -> None:
    assert isinstance(load_engine(Settings(model_path=model_path)), PreviewEngine)


def test_named_engines_are_used_as_named(tiny_wan: Path) -> None:
    assert isinstance(load_engine(Settings(engine="diffusers")), DiffusersEngine)
    assert isinstance(
        load_engine(Settings(engine="preview", model_path=str(tiny_wan))), PreviewEngine
    )


def test_loading_the_engine_does_not_load_the_model(tmp_path: Path) -> None:
    engine = load_engine(Settings(engine="diffusers", model_path=str(tmp_path / "missing")))
    assert isinstance(engine, DiffusersEngine)  # the failure waits for a task to report it


def test_doctor_reports_weights_device_and_dtype(tiny_wan: Path) -> None:
    rows = dict(diagnose(Settings(model_path=str(tiny_wan), device="cpu")))
    assert rows["weights"] == str(tiny_wan)
    assert (rows["device"], rows["dtype"]) == ("cpu", "float32")
    assert rows["engine used"].startswith(
        "preview" if not torch.cuda.is_available() else "diffusers"
    )


def test_doctor_gives_the_operator_the_reason_tasks_would_fail(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "nowhere")
    rows = dict(diagnose(Settings(engine="diffusers", model_path=nowhere, device="cpu")))
    assert rows["model check"] == (
        f"refused: KIRIN_MODEL_PATH={nowhere!r} does not exist: download the weights there "
        "or set it to a Hugging Face repo id"
    )


def test_doctor_command_prints_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIRIN_MODEL_PATH", "./nowhere")
    monkeypatch.setenv("KIRIN_DTYPE", "bf16")
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    for expected in ("model path", "nowhere", "not found locally", "bfloat16", "device"):
        assert expected in result.output


GIB = 1024**3


def test_doctor_reports_each_gpus_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = {0: (70 * GIB, 80 * GIB), 1: (GIB * 3 // 2, 24 * GIB)}
    names = {0: "NVIDIA H100 80GB HBM3", 1: "NVIDIA L4"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index: memory[index])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: names[index])
    rows = dict(diagnose(Settings(device="cuda:1")))
    assert rows["cuda:0"] == "NVIDIA H100 80GB HBM3, 70.0 GiB free of 80.0 GiB"
    assert rows["cuda:1"] == "NVIDIA L4, 1.5 GiB free of 24.0 GiB"
    assert (rows["device"], rows["dtype"]) == ("cuda:1", "bfloat16")


def test_doctor_says_when_there_is_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rows = dict(diagnose(Settings()))
    assert rows["GPU"] == "none (CUDA not available)" and rows["device"] == "cpu"
    assert not any(fact.startswith("cuda:") for fact in rows)
