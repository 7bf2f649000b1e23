"""Seconds per denoising step, per video and per whole task of the diffusers engine, as a table.

Runs the engine's own code path (native plan, segments, conditioning, decoding) on a Wan VACE
network built from its architecture with random weights, so no checkpoint is needed; or on real
weights with --model-path. Speed does not depend on the weights' values. ``post s`` is what a
worker does after the engine: optical-flow retiming to 30 fps, resizing to the contract's size
and H.264 encoding (``--encode-preset``), all on the CPU.

    python benchmarks/engine.py                                    # CPU: the tiny network
    python benchmarks/engine.py --arch 1.3b --device cuda --mode std --duration 5
    python benchmarks/engine.py --arch 14b --device cuda --mode pro --steps 4
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch
from PIL import Image

from kirin_video.config import EncodePreset, Settings
from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.engines.architectures import ARCHITECTURES, build_random_pipeline
from kirin_video.engines.base import Clip, Job
from kirin_video.engines.loading import configure, load_pipeline, resolve_device, resolve_dtype
from kirin_video.engines.native import plan
from kirin_video.engines.wan_vace import DiffusersEngine
from kirin_video.media.encode import encode_outputs
from kirin_video.media.postprocess import conform

#: A working point small enough for the tiny network on a CPU.
TINY_POINT = {"native_short_side": 64, "pro_short_side": 96, "native_fps": 8}


@dataclass
class Timing:
    steps: list[float]
    total: float
    peak_gib: float
    clip: Clip


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="tiny")
    parser.add_argument("--model-path", help="real weights instead of a random network")
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda if any)")
    parser.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], default="auto")
    parser.add_argument("--model", choices=[m.value for m in Model], default=Model.I2V.value)
    parser.add_argument("--mode", choices=["std", "pro"], default="std")
    parser.add_argument("--duration", type=int, choices=[5, 10], default=5)
    parser.add_argument("--steps", type=int, help="denoising steps (default: the mode's)")
    parser.add_argument("--short-side", type=int, help="native short side (default: the mode's)")
    parser.add_argument("--fps", type=int, help="native frame rate (default 16; tiny: 8)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--attention-backend", default=None)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument(
        "--encode-preset", choices=get_args(EncodePreset), default="veryfast", help="libx264 preset"
    )
    parser.add_argument("--cpu-offload", choices=["none", "model", "sequential"], default="none")
    return parser.parse_args()


def settings_for(args: argparse.Namespace) -> Settings:
    point: dict[str, Any] = dict(TINY_POINT) if args.arch == "tiny" and not args.model_path else {}
    if args.fps:
        point["native_fps"] = args.fps
    if args.short_side:
        point["native_short_side" if args.mode == "std" else "pro_short_side"] = args.short_side
    if args.steps:
        point["inference_steps" if args.mode == "std" else "pro_inference_steps"] = args.steps
    return Settings(
        engine="diffusers",
        model_path=args.model_path,
        device=args.device,
        dtype=args.dtype,
        attention_backend=args.attention_backend,
        compile=args.compile,
        cpu_offload=args.cpu_offload,
        encode_preset=args.encode_preset,
        **point,
    )


def random_loader(arch: str) -> Any:
    """Build the named network with random weights straight on its device and in its dtype."""

    def load(settings: Settings) -> Any:
        device = resolve_device(settings)
        dtype = resolve_dtype(settings, device)
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            with torch.device(device):
                pipe = build_random_pipeline(arch)
        finally:
            torch.set_default_dtype(previous)
        pipe.vae.to(torch.float32)
        configure(pipe, settings, device=device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return load


def job_for(args: argparse.Namespace) -> Job:
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8))
    model = Model(args.model)
    geometry = output_geometry(
        model=model,
        mode=args.mode,
        duration=args.duration,
        aspect_ratio="16:9",
        first_image_size=picture.size,
    )
    images: dict[str, Any] = (
        {"first": picture} if model is Model.I2V else {"references": (picture, picture)}
    )
    prompt = "a red fox runs across a snowy field at dawn, the camera follows it"
    return Job(model=model, geometry=geometry, seed=1, prompt=prompt, mode=args.mode, **images)


def timed(engine: DiffusersEngine, job: Job, device: str) -> Timing:
    cuda = device.startswith("cuda")
    marks: list[float] = []

    def on_progress(_value: float) -> None:
        if cuda:
            torch.cuda.synchronize()
        marks.append(time.perf_counter())

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    clip = engine.generate(job, on_progress)
    total = time.perf_counter() - started
    steps = [b - a for a, b in itertools.pairwise(marks[:-1])]  # the last mark follows decoding
    peak = torch.cuda.max_memory_allocated() / 1024**3 if cuda else 0.0
    return Timing(steps=steps, total=total, peak_gib=peak, clip=clip)


def delivered(clip: Clip, job: Job, preset: str) -> float:
    """Seconds to bring the engine's clip to the contract's video, as a worker does after it."""
    first = None if job.first is None else np.asarray(job.first)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        encode_outputs(
            conform(clip, job.geometry, first=first),
            fps=job.geometry.fps,
            video_path=Path(tmp) / "video.mp4",
            preset=preset,
        )
    return time.perf_counter() - started


def main() -> None:
    args = parse()
    settings = settings_for(args)
    device = resolve_device(settings)
    loader = load_pipeline if args.model_path else random_loader(args.arch)
    started = time.perf_counter()
    engine = DiffusersEngine(settings, loader=loader)
    engine.warm()
    load_s = time.perf_counter() - started
    job = job_for(args)
    native = plan(
        geometry=job.geometry, mode=job.mode, cfg_scale=job.cfg_scale, options=engine.options()
    )
    timed(engine, job, device)  # warm-up: kernels, allocator, compilation
    runs = [timed(engine, job, device) for _ in range(args.repeats)]
    step_s = statistics.median(s for run in runs for s in run.steps)
    total_s = statistics.median(run.total for run in runs)
    post_s = delivered(runs[0].clip, job, settings.encode_preset)
    header = (
        "arch",
        "device",
        "dtype",
        "model",
        "mode",
        "dur",
        "native WxHxF",
        "segments",
        "steps",
        "s/step",
        "s/video",
        "post s",
        "s/task",
        "peak GiB",
        "load s",
    )
    row = (
        args.model_path or args.arch,
        torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        str(resolve_dtype(settings, device)).removeprefix("torch."),
        job.model.value.removeprefix("kirin_v1_6_"),
        job.mode,
        f"{args.duration}s",
        f"{native.width}x{native.height}x{native.segments[0]}",
        str(len(native.segments)),
        str(native.steps),
        f"{step_s:.3f}",
        f"{total_s:.2f}",
        f"{post_s:.2f}",
        f"{total_s + post_s:.2f}",
        f"{runs[0].peak_gib:.1f}",
        f"{load_s:.1f}",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
