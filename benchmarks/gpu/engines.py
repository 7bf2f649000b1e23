"""The engine rows: one network built once, each row one video through the engine's own code.

The network is the published architecture with random weights, with a random distill LoRA of
LightX2V's shape fused as a user's would be. Rows run in an order that lets each switch be undone
before the next (caches are disabled, regional compilation dropped); FP8 rewrites the weights, so
its row runs last. A quality row may run fewer steps than its mode's recipe (``steps``): its
seconds per video are then its measured time plus the missing steps at its measured s/step,
marked as an estimate.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.engine import Timing, job_for, random_pipeline, save_distill_lora, timed
from benchmarks.gpu.results import Result
from kirin_video.config import Settings
from kirin_video.contract.catalog import Model
from kirin_video.contract.errors import EngineUnavailable
from kirin_video.engines.base import Job
from kirin_video.engines.caches import apply_cache
from kirin_video.engines.loading import configure, experts, release_memory, resolve_dtype
from kirin_video.engines.native import plan
from kirin_video.engines.quantization import check_quantize, quantize
from kirin_video.engines.wan_vace import DiffusersEngine

Emit = Callable[[Result], None]

#: The order rows run in, by switch: each can be undone but FP8, which goes last.
_ORDER = ("none", "first-block", "taylorseer", "compile", "fp8")


def measure(job: dict[str, Any], emit: Emit) -> None:
    """Build the section's network, warm it up, then emit each row as it is measured."""
    rows = sorted(job["rows"], key=lambda row: _ORDER.index(row["params"]["switch"]))
    params = rows[0]["params"]
    with tempfile.TemporaryDirectory() as tmp:
        base = _settings(job, Path(tmp) / "distill_lora.safetensors")
        started = time.perf_counter()
        try:
            pipe = _build(params["arch"], base, params.get("boundary_ratio"))
        except torch.OutOfMemoryError as exc:
            release_memory()
            for row in rows:
                emit(_unrun(row, f"not run: out of memory building the network ({exc})"[:300]))
            return
        bench = Bench(pipe, base, job, built_s=time.perf_counter() - started)
        for row in rows:
            emit(bench.run(row))


def _settings(job: dict[str, Any], lora: Path) -> Settings:
    """The section's settings before any row's switch: the LoRA fused, nothing else on."""
    two = job["rows"][0]["params"].get("boundary_ratio") is not None
    return Settings(
        engine="diffusers",
        device=job["device"],
        loras=[(str(lora), 1.0)],
        loras_2=[(str(lora), 1.0)] if two else [],
        prompt_cache_size=0,  # every video encodes its prompt, as a task with a new one does
        **job["point"],
    )


def _build(arch: str, settings: Settings, boundary_ratio: float | None) -> Any:
    """The network on its device in its dtype, the distill LoRA saved from it and fused."""
    device = settings.device or "cuda"
    dtype = resolve_dtype(settings, device)
    pipe = random_pipeline(arch, device, dtype, boundary_ratio=boundary_ratio)
    save_distill_lora(pipe.transformer, Path(settings.loras[0][0]))
    configure(pipe, settings, device=device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class Bench:
    """The section's one network and what its rows share: the scheduler, the warm-ups done."""

    def __init__(self, pipe: Any, base: Settings, job: dict[str, Any], *, built_s: float):
        self.pipe, self.base, self.device = pipe, base, job["device"]
        self.scheduler = pipe.scheduler  # each engine swaps in its profile's; rows start clean
        self.notes = [f"network built and LoRA fused in {built_s:.1f} s"]
        self.warm: set[str] = set()

    def run(self, row: dict[str, Any]) -> Result:
        """One row; a refusal or failure is the row's note, never the end of the section."""
        started = time.perf_counter()
        try:
            result = self._measure(row)
        except EngineUnavailable as exc:
            result = _unrun(row, f"not run: {exc.message}")
        except torch.OutOfMemoryError as exc:
            release_memory()
            result = _unrun(row, f"not run: out of memory ({str(exc)[:200]})")
        except Exception as exc:  # the row is reported failed; the next rows still run
            result = _unrun(row, f"FAILED: {type(exc).__name__}: {str(exc)[:300]}")
        result.seconds = time.perf_counter() - started
        return result

    def _measure(self, row: dict[str, Any]) -> Result:
        params = row["params"]
        settings = _row_settings(self.base, params)
        mode, switch, transformers = params["mode"], params["switch"], experts(self.pipe)
        notes = list(self.notes)
        self.notes.clear()
        if mode not in self.warm:
            notes.append(f"warm-up {self._video(self._warm_settings(mode), mode).total:.1f} s")
            self.warm.add(mode)
        if switch == "fp8":
            check_quantize(settings, self.device)
            quantize(transformers, settings, self.device)
            notes.append(f"FP8 warm-up {self._video(settings, mode).total:.1f} s")
        elif switch == "compile":
            for transformer in transformers:
                transformer.compile_repeated_blocks()
            first = self._video(settings, mode)
            notes.append(f"compile + first video {first.total:.1f} s, apart")
        elif switch != "none":
            apply_cache(transformers, settings)
        try:
            timing = self._video(settings, mode)
        finally:
            _undo(transformers, switch)
        return self._result(row, settings, timing, notes)

    def _warm_settings(self, mode: str) -> Settings:
        """A one-step video of ``mode``: the kernels and the allocator ready for its shapes."""
        update = {f"{mode}_profile": "fast", "fast_steps": 1, "cache": "none"}
        return Settings(**{**self.base.model_dump(), **update})  # validated, as a row's are

    def _video(self, settings: Settings, mode: str) -> Timing:
        """One timed video on the shared network, starting from the loaded scheduler."""
        self.pipe.scheduler = self.scheduler
        engine = DiffusersEngine(settings, loader=lambda _settings: self.pipe)
        return timed(engine, _job(mode), self.device)

    def _result(
        self, row: dict[str, Any], settings: Settings, timing: Timing, notes: list[str]
    ) -> Result:
        params, mode = row["params"], row["params"]["mode"]
        engine = DiffusersEngine(settings, loader=lambda _settings: self.pipe)
        job = _job(mode)
        native = plan(
            geometry=job.geometry, mode=mode, cfg_scale=job.cfg_scale, options=engine.options()
        )
        step_s = statistics.median(timing.steps)
        ran, full = native.steps, int(params["full_steps"])
        video = f"{timing.total:.2f}"
        if ran < full:
            video = f"≈{timing.total + (full - ran) * step_s * len(native.segments):.1f} (est.)"
            notes.append(f"ran {ran} of {full} steps ({timing.total:.2f} s)")
        return Result(
            key=row["key"],
            what=row["what"],
            arch=_arch(params),
            mode=mode,
            native=f"{native.width}x{native.height}x{native.segments[0]}",
            steps=f"{full} ({timing.passes // max(ran, 1)} pass/step)",
            s_step=f"{step_s:.3f}",
            s_video=video,
            peak_gib=f"{timing.peak_gib:.1f}" if self.device.startswith("cuda") else "n/a",
            note="; ".join(notes),
        )


def _row_settings(base: Settings, params: dict[str, Any]) -> Settings:
    """The row's profile for its mode (quality at the row's step count) and its switch."""
    mode, switch = params["mode"], params["switch"]
    steps = "inference_steps" if mode == "std" else "pro_inference_steps"
    return Settings(
        **{
            **base.model_dump(),
            f"{mode}_profile": params["profile"],
            steps: params["steps"],
            "cache": switch if switch in ("first-block", "taylorseer") else "none",
            "quantize": "fp8" if switch == "fp8" else "none",
            "compile": "regional" if switch == "compile" else False,
        }
    )


def _undo(transformers: list[Any], switch: str) -> None:
    """Back to the plain network for the next row (FP8 cannot be undone: it runs last)."""
    for transformer in transformers:
        if switch in ("first-block", "taylorseer"):
            transformer.disable_cache()
        if switch == "compile":
            for module in transformer.modules():
                module._compiled_call_impl = None  # what nn.Module.compile() set


def _job(mode: str) -> Job:
    """The benchmark's i2v 5 s job of ``mode``: a 16:9 first frame and a prompt."""
    return job_for(argparse.Namespace(model=Model.I2V.value, mode=mode, duration=5))


def _arch(params: dict[str, Any]) -> str:
    """The network in the table: its size, its experts, the published size it stands in for."""
    arch = str(params["arch"])
    if params.get("boundary_ratio") is not None:
        arch += " ×2 experts"
    return f"{arch} (for {params['stands_for']})" if params.get("stands_for") else arch


def _unrun(row: dict[str, Any], note: str) -> Result:
    params = row["params"]
    return Result(
        key=row["key"], what=row["what"], arch=_arch(params), mode=params["mode"], note=note
    )
