"""What a user has before a task runs: weights on disk, and `kirin doctor` on them.

The pipeline is built with random weights on the device and saved in diffusers' format, with a
random distill LoRA of LightX2V's shape beside it; `kirin serve` and `kirin doctor` then read them
as they would read a downloaded checkpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.engine import random_pipeline, save_distill_lora
from benchmarks.gpu.results import Result
from kirin_video.config import Settings
from kirin_video.engines.loading import resolve_dtype

Emit = Callable[[Result], None]

#: Where in a section's work dir the saved pipeline, its LoRA and doctor's answer go.
PIPELINE, LORA, DOCTOR = "pipeline", "distill_lora.safetensors", "doctor.txt"


def save(job: dict[str, Any], emit: Emit) -> None:
    """Build the network on the device, then write it and its LoRA where the job says."""
    started = time.perf_counter()
    work, arch, device = Path(job["work"]), job["arch"], job["device"]
    pipe = random_pipeline(arch, device, resolve_dtype(Settings(device=device), device))
    built = time.perf_counter() - started
    pipe.save_pretrained(work / PIPELINE)
    save_distill_lora(pipe.transformer, work / LORA)
    size = sum(f.stat().st_size for f in (work / PIPELINE).rglob("*") if f.is_file())
    emit(
        Result(
            key="prepare",
            what=f"a random {arch} pipeline saved",
            arch=arch,
            note=f"built in {built:.1f} s, {size / 1024**3:.1f} GiB written in "
            f"{time.perf_counter() - started - built:.1f} s",
            seconds=time.perf_counter() - started,
        )
    )


def doctor(job: dict[str, Any], emit: Emit) -> None:
    """`kirin doctor` with the settings the whole-task rows run, its answer kept for the report."""
    started = time.perf_counter()
    env = {**os.environ, **serve_env(job)}
    answer = subprocess.run(
        [sys.executable, "-m", "kirin_video.cli", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=job["timeout_s"],
    )
    text = answer.stdout + answer.stderr
    (Path(job["work"]) / DOCTOR).write_text(text)
    note = _engine_used(text) if answer.returncode == 0 else f"FAILED: exit {answer.returncode}"
    emit(
        Result(
            "doctor",
            "kirin doctor",
            arch=job["arch"],
            note=note,
            seconds=time.perf_counter() - started,
        )
    )


def serve_env(job: dict[str, Any]) -> dict[str, str]:
    """The `KIRIN_*` settings of a worker on the saved pipeline with the `fast` std profile."""
    work = Path(job["work"])
    return {
        "KIRIN_ENGINE": "diffusers",
        "KIRIN_MODEL_PATH": str(work / PIPELINE),
        "KIRIN_LORAS": str(work / LORA),
        "KIRIN_STD_PROFILE": "fast",
        "KIRIN_DEVICE": job["device"],
        **{f"KIRIN_{name.upper()}": str(value) for name, value in job["point"].items()},
    }


def _engine_used(text: str) -> str:
    """Doctor's "engine used" answer, out of its table's frame."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if cells[0] == "engine used" and len(cells) > 1:
            return f"engine used: {cells[1]}"
    return "FAILED: doctor did not say which engine it would use"
