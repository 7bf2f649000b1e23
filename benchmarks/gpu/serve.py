"""Whole tasks through a real `kirin serve`: what a user of the service gets, engine and all.

Each row starts its own server (the diffusers engine in its engine child, one worker slot, the
``fast`` profile through a distill LoRA), runs one warm-up task, then times N i2v tasks created
back to back and polled as a client would, and checks every video against the contract. At the
tiny point (the CPU's, for tests) x264 runs its ``ultrafast`` preset.
"""

from __future__ import annotations

import base64
import statistics
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from benchmarks.gpu.prepare import serve_env
from benchmarks.gpu.results import Result
from benchmarks.gpu.serve_process import served
from benchmarks.gpu.serve_tasks import TaskFailed, Timed, check_videos, run_tasks
from kirin_video.contract.catalog import Geometry, Model, output_geometry
from kirin_video.media.encoders import nvenc_unavailable

PICTURE = Path(__file__).parents[2] / "examples" / "valley-morning.jpg"
KEY = "bench-gpu-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
#: The tiny point is the CPU's, for tests: the quickest x264 preset keeps a row to seconds there.
TINY_SETTINGS = {"KIRIN_ENCODE_PRESET": "ultrafast"}


def measure(job: dict[str, Any], emit: Callable[[Result], None]) -> None:
    """Whole tasks through a real `kirin serve`: a server per row, each row emitted as measured."""
    for row in job["rows"]:
        emit(measure_row(job, row))


def measure_row(job: dict[str, Any], row: dict[str, Any]) -> Result:
    """One row; whatever goes wrong is the row's note, so the rows after it still run."""
    started = time.perf_counter()
    result = Result(
        key=row["key"],
        what=_what(row),
        arch=job["arch"],
        mode="std",
        steps=f"{job['point'].get('fast_steps', 4)} (fast)",
    )
    try:
        reason = _gpu_media_unavailable(job["device"]) if row["gpu_media"] else None
        if reason:
            result.note = f"not run: {reason}"
        else:
            _timed_row(job, row, result)
    except Exception as exc:  # a row's failure is a measured outcome
        traceback.print_exc()
        result.s_video = result.tasks_h = ""
        result.note = f"FAILED: {_brief(exc)}"
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _what(row: dict[str, Any]) -> str:
    """The planned row's own words when it has them, so both tables name it alike."""
    if row.get("what"):
        return str(row["what"])
    what = f"kirin serve, overlap {'on' if row['overlap'] else 'off'}"
    return f"{what}, NVENC + GPU conform" if row["gpu_media"] else what


def _gpu_media_unavailable(device: str) -> str | None:
    """Why NVENC and conforming on the GPU cannot run here, or None when they can."""
    if not device.startswith("cuda"):
        return f"NVENC and GPU conform need a CUDA device, this run is on {device}"
    return nvenc_unavailable()


def server_env(job: dict[str, Any], row: dict[str, Any]) -> dict[str, str]:
    """A row's server: the settings `kirin doctor` reported (``serve_env``), one slot, the row's."""
    gpu_media = bool(row["gpu_media"])
    return {
        **serve_env(job),
        "KIRIN_API_KEYS": KEY,
        "KIRIN_RATE_LIMIT": "1000000/second",
        "KIRIN_MAX_UNFINISHED_TASKS": "1000000",
        "KIRIN_WORKERS": "1",
        "KIRIN_OVERLAP": str(bool(row["overlap"])).lower(),
        "KIRIN_ENCODER": "nvenc" if gpu_media else "libx264",
        "KIRIN_CONFORM_ON_DEVICE": str(gpu_media).lower(),
        **(TINY_SETTINGS if job["arch"] == "tiny" else {}),
    }


def _timed_row(job: dict[str, Any], row: dict[str, Any], result: Result) -> None:
    body, geometry = _request()
    with (
        served(server_env(job, row), within=job.get("work")) as server,
        httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client,
    ):
        try:
            warm = run_tasks(client, body, count=1)
            timed = run_tasks(client, body, count=int(job["tasks"]))
        except TaskFailed as failed:
            raise TaskFailed(server.explained(str(failed))) from failed
        right, checked = check_videos(client, [*warm.tasks, *timed.tasks], geometry)
    result.s_video = f"{statistics.median(timed.seconds):.1f}"
    result.tasks_h = f"{timed.per_hour:.0f}"
    note = _note(job, warm, timed)
    result.note = f"{note}; {checked}" if right else f"FAILED: {checked}; {note}"


def _request() -> tuple[dict[str, Any], Geometry]:
    """An i2v std 5 s task on a 16:9 first frame, as the hosted client sends it, and its video."""
    params = {
        "image": base64.b64encode(PICTURE.read_bytes()).decode(),
        "prompt": "the sun rises over the valley",
        "mode": "std",
        "duration": "5",
    }
    with Image.open(PICTURE) as picture:
        size = picture.size
    geometry = output_geometry(model=Model.I2V, mode="std", duration=5, first_image_size=size)
    return {"model": Model.I2V.value, "input": [{"params": params}]}, geometry


def _note(job: dict[str, Any], warm: Timed, timed: Timed) -> str:
    bound_s = job.get("bound_s")
    share = (
        f"engine alone {bound_s:.1f} s/video = {3600 / bound_s:.0f}/h, "
        f"this is {timed.per_hour * bound_s / 3600:.0%} of it"
        if bound_s
        else "no engine-only bound at this point"
    )
    engine_s, post_s = timed.server_timing("generate_s"), timed.server_timing("encode_s")
    return (
        f"{_tasks(len(timed.tasks))} back to back; {share}; the server's medians: engine "
        f"{engine_s:.1f} s, post-processing {post_s:.1f} s; "
        f"first task {warm.seconds[0]:.1f} s (pipeline load + warm-up)"
    )


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _brief(exc: BaseException) -> str:
    """An exception as one table cell."""
    text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = text if isinstance(exc, TaskFailed) else f"{type(exc).__name__}: {text}"
    return text if len(text) <= 500 else f"{text[:250]} … {text[-250:]}"
