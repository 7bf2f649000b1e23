"""Seconds per denoising step, per video and per whole task of the diffusers engine, as a table.

Runs the engine's own code path (native plan, segments, conditioning, decoding) on a Wan VACE
network built from its architecture with random weights, so no checkpoint is needed; or on real
weights with --model-path. Speed does not depend on the weights' values. ``post s`` is what a
worker does after the engine: optical-flow retiming to 30 fps, resizing to the contract's size
and H.264 encoding (``--encode-preset``), all on the CPU.

--profile, --cache and --quantize take comma-separated values; every combination is one row of
the table, so one run compares them. ``--lora random`` fuses a random LoRA of LightX2V's
published shape (original Wan keys, rank 32), built here for the network. With random weights a
``fast`` profile needs no LoRA (the network is treated as distilled: speed is the same).
``passes`` counts the transformer's forward passes per video and ``matmul %`` the share of its
linear-layer calls that ran, against the same profile uncached.

    python benchmarks/engine.py                                    # CPU: the tiny network
    python benchmarks/engine.py --profile quality,fast --cache none,first-block,taylorseer
    python benchmarks/engine.py --arch 1.3b --device cuda --mode std --duration 5
    python benchmarks/engine.py --arch 14b --device cuda --mode pro --steps 4
    python -m benchmarks.engine --throughput 6 --overlap off,on   # tasks/hour, one worker slot
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from kirin_video.config import EncodePreset, Settings
from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.engines.architectures import ARCHITECTURES, build_random_pipeline
from kirin_video.engines.base import Clip, Job
from kirin_video.engines.doctor import acceleration_rows
from kirin_video.engines.loading import (
    configure,
    experts,
    load_pipeline,
    resolve_device,
    resolve_dtype,
)
from kirin_video.engines.native import plan
from kirin_video.engines.wan_vace import DiffusersEngine
from kirin_video.media.encode import encode_outputs
from kirin_video.media.postprocess import conform

#: A working point small enough for the tiny network on a CPU.
TINY_POINT = {"native_short_side": 64, "pro_short_side": 96, "native_fps": 8}


#: LightX2V's distill LoRAs: original Wan module names and their rank.
LORA_TARGETS = (
    "self_attn.q",
    "self_attn.k",
    "self_attn.v",
    "self_attn.o",
    "cross_attn.q",
    "cross_attn.k",
    "cross_attn.v",
    "cross_attn.o",
    "ffn.0",
    "ffn.2",
)
LORA_MODULES = dict(
    zip(
        LORA_TARGETS,
        (
            "attn1.to_q",
            "attn1.to_k",
            "attn1.to_v",
            "attn1.to_out.0",
            "attn2.to_q",
            "attn2.to_k",
            "attn2.to_v",
            "attn2.to_out.0",
            "ffn.net.0.proj",
            "ffn.net.2",
        ),
        strict=True,
    )
)
LORA_RANK = 32


@dataclass
class Timing:
    steps: list[float]
    total: float
    peak_gib: float
    clip: Clip
    passes: int = 0  # transformer forward passes
    matmuls: int = 0  # linear-layer calls inside the transformers


@dataclass(frozen=True)
class Config:
    """One row of the table: the switches it runs with."""

    profile: str
    cache: str
    quantize: str
    loras: list[tuple[str, float]] = field(default_factory=list)


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
    parser.add_argument("--profile", default="quality", help="quality,fast: profiles to compare")
    parser.add_argument("--cache", default="none", help="none,first-block,taylorseer")
    parser.add_argument("--cache-threshold", type=float, default=0.05, help="first-block")
    parser.add_argument("--cache-interval", type=int, default=3, help="taylorseer")
    parser.add_argument("--quantize", default="none", help="none,fp8")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="load every configuration first and alternate their videos (fair on a busy machine)",
    )
    parser.add_argument(
        "--throughput",
        type=int,
        metavar="TASKS",
        help="tasks per hour over TASKS tasks through one worker slot, per configuration",
    )
    parser.add_argument("--overlap", default="off,on", help="throughput: off,on to compare")
    parser.add_argument(
        "--lora",
        action="append",
        default=[],
        help="SOURCE[:STRENGTH] fused at load (repeatable); 'random': one of LightX2V's shape",
    )
    return parser.parse_args()


def configs(args: argparse.Namespace, random_lora: Path) -> list[Config]:
    """Every combination of the listed profiles, caches and quantizations."""
    loras = [
        (str(random_lora), 1.0) if entry == "random" else Settings._lora_entry(entry)
        for entry in args.lora
    ]
    return [
        Config(profile=profile, cache=cache, quantize=quantize, loras=loras)
        for profile, cache, quantize in itertools.product(
            args.profile.split(","), args.cache.split(","), args.quantize.split(",")
        )
    ]


def settings_for(args: argparse.Namespace, config: Config) -> Settings:
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
        loras=config.loras,
        distilled=not args.model_path,  # random weights: a distilled network runs as fast
        **{f"{args.mode}_profile": config.profile},
        cache=config.cache,
        cache_threshold=args.cache_threshold,
        cache_interval=args.cache_interval,
        quantize=config.quantize,
        **point,
    )


def random_loader(arch: str, random_lora: Path) -> Any:
    """Build the named network with random weights straight on its device and in its dtype."""

    def load(settings: Settings) -> Any:
        device = resolve_device(settings)
        pipe = random_pipeline(arch, device, resolve_dtype(settings, device))
        if any(source == str(random_lora) for source, _ in settings.loras):
            save_distill_lora(pipe.transformer, random_lora)
        configure(pipe, settings, device=device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return load


def random_pipeline(
    arch: str, device: str, dtype: torch.dtype, *, boundary_ratio: float | None = None
) -> Any:
    """The named network with random weights, built on ``device`` in ``dtype`` (VAE in fp32)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            pipe = build_random_pipeline(arch, boundary_ratio=boundary_ratio)
    finally:
        torch.set_default_dtype(previous)
    pipe.vae.to(torch.float32)
    return pipe


def save_distill_lora(transformer: Any, path: Path) -> None:
    """A random LoRA with the keys, rank and alpha of LightX2V's published distill LoRAs."""
    generator = torch.Generator().manual_seed(0)
    tensors: dict[str, torch.Tensor] = {}
    for index in range(len(transformer.blocks)):
        for wan, module in LORA_MODULES.items():
            linear = transformer.get_submodule(f"blocks.{index}.{module}")
            prefix = f"diffusion_model.blocks.{index}.{wan}"
            down = torch.randn(LORA_RANK, linear.in_features, generator=generator) * 0.01
            tensors[f"{prefix}.lora_down.weight"] = down
            tensors[f"{prefix}.lora_up.weight"] = torch.zeros(linear.out_features, LORA_RANK)
            tensors[f"{prefix}.alpha"] = torch.tensor(float(LORA_RANK))
    save_file(tensors, str(path))


@contextmanager
def counting(engine: DiffusersEngine) -> Iterator[Timing]:
    """Count the transformers' passes and linear-layer calls into a Timing's counters."""
    counts = Timing(steps=[], total=0.0, peak_gib=0.0, clip=Clip(frames=[], fps=1.0))

    def passed(*_: Any) -> None:
        counts.passes += 1

    def multiplied(*_: Any) -> None:
        counts.matmuls += 1

    transformers = experts(engine.pipeline)
    handles = [t.register_forward_pre_hook(passed) for t in transformers] + [
        m.register_forward_pre_hook(multiplied)
        for t in transformers
        for m in t.modules()
        if isinstance(m, torch.nn.Linear)
    ]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


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
    with counting(engine) as counts:
        started = time.perf_counter()
        clip = engine.generate(job, on_progress)
        total = time.perf_counter() - started
    steps = [b - a for a, b in itertools.pairwise(marks[:-1])]  # the last mark follows decoding
    peak = torch.cuda.max_memory_allocated() / 1024**3 if cuda else 0.0
    return Timing(steps, total, peak, clip, passes=counts.passes, matmuls=counts.matmuls)


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


HEADER = (
    "arch",
    "device",
    "dtype",
    "model",
    "mode",
    "dur",
    "native WxHxF",
    "segments",
    "profile",
    "lora",
    "cache",
    "quantize",
    "steps",
    "passes",
    "matmul %",
    "s/step",
    "s/video",
    "post s",
    "s/task",
    "peak GiB",
    "load s",
)


@dataclass
class Bench:
    """One configuration's loaded engine and the videos timed on it so far."""

    config: Config
    settings: Settings
    engine: DiffusersEngine | None
    job: Job
    native: Any
    load_s: float
    runs: list[Timing] = field(default_factory=list)

    def time_one(self) -> None:
        assert self.engine is not None
        self.runs.append(timed(self.engine, self.job, resolve_device(self.settings)))


def prepare(args: argparse.Namespace, config: Config, random_lora: Path) -> Bench:
    """Load one configuration's engine and render a warm-up video on it."""
    settings = settings_for(args, config)
    loader = load_pipeline if args.model_path else random_loader(args.arch, random_lora)
    started = time.perf_counter()
    engine = DiffusersEngine(settings, loader=loader)
    engine.pipeline  # noqa: B018  (a refused switch stops the run here, with its reason)
    load_s = time.perf_counter() - started
    job = job_for(args)
    native = plan(
        geometry=job.geometry, mode=job.mode, cfg_scale=job.cfg_scale, options=engine.options()
    )
    bench = Bench(config, settings, engine, job, native, load_s)
    timed(engine, job, resolve_device(settings))  # warm-up: kernels, allocator, compilation
    return bench


def measure_all(args: argparse.Namespace, plans: list[Config], random_lora: Path) -> list[Bench]:
    """Every configuration's videos: one after another, or alternating with --interleave."""
    if not args.interleave:
        done = []
        for config in plans:
            bench = prepare(args, config, random_lora)
            for _ in range(args.repeats):
                bench.time_one()
            done.append(finish(bench))
        return done
    benches = [prepare(args, config, random_lora) for config in plans]
    for _ in range(args.repeats):
        for bench in benches:
            bench.time_one()
    return [finish(bench) for bench in benches]


def finish(bench: Bench) -> Bench:
    """Drop the engine (and its memory) once its videos are timed."""
    bench.engine = None
    return bench


def row(args: argparse.Namespace, bench: Bench, full: int) -> tuple[str, ...]:
    """A table row; ``full`` is the uncached run's linear-layer calls for the same profile."""
    config, job, native, run = bench.config, bench.job, bench.native, bench.runs[0]
    device = resolve_device(bench.settings)
    step_s = statistics.median(s for timing in bench.runs for s in timing.steps)
    total_s = statistics.median(timing.total for timing in bench.runs)
    post_s = delivered(run.clip, job, bench.settings.encode_preset)
    return (
        args.model_path or args.arch,
        torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        str(resolve_dtype(bench.settings, device)).removeprefix("torch."),
        job.model.value.removeprefix("kirin_v1_6_"),
        job.mode,
        f"{args.duration}s",
        f"{native.width}x{native.height}x{native.segments[0]}",
        str(len(native.segments)),
        config.profile,
        "yes" if config.loras else "no",
        config.cache,
        config.quantize,
        str(native.steps),
        str(run.passes),
        f"{100 * run.matmuls / full:.0f}" if full else "",
        f"{step_s:.3f}",
        f"{total_s:.2f}",
        f"{post_s:.2f}",
        f"{total_s + post_s:.2f}",
        f"{run.peak_gib:.1f}" if device.startswith("cuda") else "n/a",  # GPU memory only
        f"{bench.load_s:.1f}",
    )


def throughput_rows(args: argparse.Namespace, plans: list[Config], random_lora: Path) -> None:
    """The throughput mode: each configuration's tasks per hour, overlap off and on."""
    from benchmarks import throughput  # run as ``python -m benchmarks.engine`` for this mode

    rows = []
    for config in plans:
        bench = prepare(args, config, random_lora)
        assert bench.engine is not None
        name = f"{args.model_path or args.arch} {config.profile} {config.cache} {config.quantize}"
        for setting in args.overlap.split(","):
            result = throughput.measure(
                bench.engine,
                tasks=args.throughput,
                overlap=setting == "on",
                preset=args.encode_preset,
                mode=args.mode,
                duration=args.duration,
            )
            rows.append(throughput.table_row(name, result))
        finish(bench)
    throughput.print_table(rows)


def main() -> None:
    args = parse()
    with tempfile.TemporaryDirectory() as tmp:
        random_lora = Path(tmp) / "distill_lora.safetensors"
        if args.throughput:
            throughput_rows(args, configs(args, random_lora), random_lora)
            return
        benches = measure_all(args, configs(args, random_lora), random_lora)
    uncached = {b.config.profile: b.runs[0].matmuls for b in benches if b.config.cache == "none"}
    first = benches[0].settings
    for fact, value in acceleration_rows(first, resolve_device(first)):
        print(f"{fact}: {value.replace(str(random_lora), 'random, of LightX2V shape')}")
    print()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for bench in benches:
        print("| " + " | ".join(row(args, bench, uncached.get(bench.config.profile, 0))) + " |")


if __name__ == "__main__":
    main()
