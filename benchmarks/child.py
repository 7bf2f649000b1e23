"""What running the engine in a child process costs: the same jobs inline and through a child.

    python -m benchmarks.child [--jobs 5] [--mode std] [--duration 5]

Times the preview engine's ``generate`` for one i2v job, in this process and through a
``ChildEngine`` (pipe, frames through shared memory or a file), after one warm-up job each, and
prints the median seconds per job and the start-up of a child.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

from PIL import Image

from kirin_video.config import Settings
from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.engines.base import Engine, Job
from kirin_video.engines.preview import PreviewEngine
from kirin_video.engines.registry import make_engine
from kirin_video.runtime.child import ChildEngine


def _job(mode: str, duration: int) -> Job:
    geometry = output_geometry(
        model=Model.I2V,
        mode=mode,
        duration=duration,
        aspect_ratio=None,
        first_image_size=(1280, 720),
    )
    return Job(model=Model.I2V, geometry=geometry, seed=1, first=Image.new("RGB", (1280, 720)))


def _median(engine: Engine, job: Job, jobs: int) -> float:
    engine.generate(job, lambda _v: None)  # warm-up
    times = []
    for _ in range(jobs):
        started = time.perf_counter()
        engine.generate(job, lambda _v: None)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--mode", default="std")
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    job = _job(args.mode, args.duration)
    inline = _median(PreviewEngine(), job, args.jobs)
    started = time.perf_counter()
    child = ChildEngine(
        partial(make_engine, "preview", Settings()),
        name="preview",
        timeout_s=lambda _job: 600,
        cancel_grace_s=5,
    )
    child.generate(job, lambda _v: None)
    first = time.perf_counter() - started
    through_child = _median(child, job, args.jobs)
    child.close()
    geometry = job.geometry
    print(
        f"job: i2v {args.mode} {args.duration} s, {geometry.width}x{geometry.height}, "
        f"{geometry.frames} frames; median of {args.jobs}"
    )
    print(f"{'where':<28}{'s/job':>8}")
    print(f"{'inline (in the worker)':<28}{inline:>8.2f}")
    print(f"{'child process':<28}{through_child:>8.2f}")
    print(f"{'cost of the child':<28}{through_child - inline:>8.2f}")
    print(f"{'first job, child start incl.':<28}{first:>8.2f}")


if __name__ == "__main__":
    main()
