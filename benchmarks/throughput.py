"""Tasks per hour through one worker slot with the overlap off and on, as a table.

Without overlap a slot renders a task, then retimes, resizes, encodes and stores it, then renders
the next. With it (``KIRIN_OVERLAP``, the default) the slot's finisher does the second half while
the engine renders the next task. Tasks go through the worker's own code (the task service on
SQLite, ``execute_next``, local storage); ``bound`` is the engine alone, 3600 s over its seconds
per task.

The stand-in engine holds a "device" for ``--hold`` seconds per task and hands back frames of
Wan's 480p working point (848×480 for 16:9, 81 frames at 16 fps for 5 s), so the
post-processing is real and what the overlap gains is the pipeline's alone; ``--engine tiny``
renders with the tiny random Wan VACE network on this machine's own device instead.

    python -m benchmarks.throughput --tasks 8 --hold 4
    python -m benchmarks.throughput --engine tiny --tasks 6
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np

from kirin_video.config import EncodePreset, Settings
from kirin_video.contract.catalog import Status
from kirin_video.contract.params import parse_params
from kirin_video.engines.base import Clip, Engine, Job, ProgressFn
from kirin_video.engines.native import clip_length, native_size
from kirin_video.runtime.build import build_runtime, settings_encoder
from kirin_video.runtime.execute import execute_next
from kirin_video.runtime.handoff import Finisher
from kirin_video.runtime.heartbeat import Heartbeat
from kirin_video.tasks.service import StoredImage
from kirin_video.tasks.workers import WorkerRegistry

PICTURE = Path(__file__).parent.parent / "examples" / "valley-morning.jpg"
NATIVE_SHORT_SIDE, NATIVE_FPS, MULTIPLE = 480, 16, 16  # Wan's 480p working point


class DeviceStandIn:
    """An engine that keeps a device busy for a fixed time per task, one task at a time."""

    name = "stand-in"

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._device = threading.Lock()

    def warm(self) -> None:
        """Nothing to load."""

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        width, height = native_size(job.geometry, short_side=NATIVE_SHORT_SIDE, multiple=MULTIPLE)
        frames = clip_length(job.geometry.duration * NATIVE_FPS)
        with self._device:
            end = time.monotonic() + self.hold_s
            while (left := end - time.monotonic()) > 0:
                on_progress(1.0 - left / self.hold_s)
                time.sleep(min(0.1, left))
        return Clip(
            frames=_panning(width, height, frames), fps=(frames - 1) / job.geometry.duration
        )


def _panning(width: int, height: int, count: int) -> list[np.ndarray]:
    """A smooth texture panning right, so the flow between frames has something to follow."""
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((height // 8, (width + count * 4) // 8, 3)).astype(np.float32)
    texture = np.kron(noise, np.ones((8, 8, 1), np.float32))
    texture = np.clip(128 + 40 * texture, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(texture[:height, i * 4 : i * 4 + width]) for i in range(count)]


@dataclass(frozen=True)
class Throughput:
    """What one slot did with a run of tasks."""

    overlap: bool
    tasks: int
    wall_s: float
    engine_s: float  # median seconds the engine took per task
    post_s: float  # median seconds of retiming, resizing, encoding and storing per task

    @property
    def per_hour(self) -> float:
        return 3600 * self.tasks / self.wall_s

    @property
    def bound(self) -> float:
        return 3600 / self.engine_s


def measure(
    engine: Engine,
    *,
    tasks: int,
    overlap: bool,
    preset: str = "veryfast",
    mode: str = "std",
    duration: int = 5,
) -> Throughput:
    """Queue ``tasks`` i2v tasks and run them through one slot until none is left."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), encode_preset=preset, overlap=overlap)
        runtime = build_runtime(settings, engine=engine)
        service = runtime.service
        service.db.migrate()
        picture = PICTURE.read_bytes()
        body = {
            "model": "kirin_v1_6_i2v",
            "image": base64.b64encode(picture).decode(),
            "mode": mode,
            "duration": str(duration),
        }
        ids = [
            service.create(
                owner="bench", request=parse_params(body), images=[StoredImage("first", picture)]
            ).id
            for _ in range(tasks)
        ]
        heartbeat = Heartbeat(
            "bench", service=service, registry=WorkerRegistry(service.db), interval_s=5
        )
        heartbeat.start(kind="embedded", engine=engine.name, device=None)
        finisher = Finisher(name="bench") if overlap else None
        started = time.perf_counter()
        while execute_next(runtime, heartbeat, finisher=finisher) is not None:
            pass
        if finisher is not None:
            finisher.close()
        wall_s = time.perf_counter() - started
        heartbeat.stop()
        done = [service.get(owner="bench", ref=task_id) for task_id in ids]
        failed = [task.error_message for task in done if task.status != Status.COMPLETED]
        if failed:
            raise SystemExit(f"{len(failed)} tasks did not complete: {failed[0]}")
        timings = [task.meta["timings"] for task in done]
        service.db.close()
    return Throughput(
        overlap=overlap,
        tasks=tasks,
        wall_s=wall_s,
        engine_s=statistics.median(t["generate_s"] for t in timings),
        post_s=statistics.median(t["encode_s"] for t in timings),
    )


HEADER = (
    "engine",
    "overlap",
    "tasks",
    "engine s/task",
    "post s/task",
    "wall s",
    "tasks/h",
    "bound tasks/h",
    "of bound",
)


def table_row(name: str, result: Throughput) -> tuple[str, ...]:
    return (
        name,
        "on" if result.overlap else "off",
        str(result.tasks),
        f"{result.engine_s:.2f}",
        f"{result.post_s:.2f}",
        f"{result.wall_s:.1f}",
        f"{result.per_hour:.0f}",
        f"{result.bound:.0f}",
        f"{100 * result.per_hour / result.bound:.0f} %",
    )


def print_table(rows: list[tuple[str, ...]]) -> None:
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _tiny_engine(preset: str) -> Engine:
    """The diffusers engine on the tiny random network (needs the diffusers extra)."""
    from benchmarks.engine import TINY_POINT, random_loader
    from kirin_video.engines.wan_vace import DiffusersEngine

    settings = Settings(engine="diffusers", encode_preset=preset, **TINY_POINT)
    engine = DiffusersEngine(settings, loader=random_loader("tiny", Path("unused")))
    engine.pipeline  # noqa: B018  (loaded before the clock starts)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["stand-in", "tiny"], default="stand-in")
    parser.add_argument("--hold", type=float, default=4.0, help="stand-in: device s per task")
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--overlap", default="off,on", help="off,on: the settings to compare")
    parser.add_argument("--mode", choices=["std", "pro"], default="std")
    parser.add_argument("--duration", type=int, choices=[5, 10], default=5)
    parser.add_argument("--encode-preset", choices=get_args(EncodePreset), default="veryfast")
    args = parser.parse_args()
    preset = args.encode_preset
    engine = DeviceStandIn(args.hold) if args.engine == "stand-in" else _tiny_engine(preset)
    name = f"stand-in {args.hold:g} s" if args.engine == "stand-in" else "tiny (random)"
    rows = [
        table_row(
            name,
            measure(
                engine,
                tasks=args.tasks,
                overlap=setting == "on",
                preset=preset,
                mode=args.mode,
                duration=args.duration,
            ),
        )
        for setting in args.overlap.split(",")
    ]
    encoder = settings_encoder(Settings())
    print(f"{args.mode} {args.duration} s i2v, one worker slot, encoder {encoder} ({preset})")
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
