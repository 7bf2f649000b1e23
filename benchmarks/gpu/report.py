"""The benchmark's report: where and with what it ran, one markdown table, what was left out."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Iterable
from importlib import metadata

from benchmarks.gpu.plan import Row
from benchmarks.gpu.results import Result
from benchmarks.gpu.runner import ROOT

COLUMNS = (
    ("#", None),
    ("what", "what"),
    ("arch", "arch"),
    ("mode", "mode"),
    ("native WxHxF", "native"),
    ("steps", "steps"),
    ("s/step", "s_step"),
    ("s/video", "s_video"),
    ("peak GiB", "peak_gib"),
    ("tasks/h", "tasks_h"),
    ("s", None),
    ("note", "note"),
)


def environment(device: str) -> list[str]:
    """Lines saying when, on what and with which versions the figures were measured."""
    import torch

    cuda = device.startswith("cuda") and torch.cuda.is_available()
    name = torch.cuda.get_device_name(device) if cuda else platform.processor() or "CPU"
    lines = [
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {_commit()}",
        f"- device: {name} ({device}), {os.cpu_count()} CPU cores",
        f"- torch {torch.__version__}, CUDA {torch.version.cuda or 'none'}, "
        + ", ".join(f"{package} {_version(package)}" for package in ("diffusers", "torchao")),
    ]
    if cuda:
        free, total = torch.cuda.mem_get_info(device)
        lines.append(
            f"- GPU memory: {total / 1024**3:.1f} GiB ({free / 1024**3:.1f} free at start)"
        )
    return lines


def header() -> str:
    titles = [title for title, _ in COLUMNS]
    return "| " + " | ".join(titles) + " |\n|" + "---|" * len(titles)


def line(index: int, row: Result) -> str:
    """A row of the table; a ``|`` inside a cell would split it, so it becomes ``/``."""
    cells = []
    for title, attribute in COLUMNS:
        if attribute is not None:
            cells.append(str(getattr(row, attribute)).replace("|", "/"))
        else:
            cells.append(str(index) if title == "#" else f"{row.seconds:.0f}")
    return "| " + " | ".join(cells) + " |"


def left_out(title: str, rows: Iterable[tuple[Row, str]]) -> list[str]:
    """A list of rows not measured, each with why; nothing when there are none."""
    items = [f"- {row.what} (`{row.key}`): {why}" for row, why in rows]
    return [f"{title}:", *items] if items else []


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    """The checkout's commit, marked when files differ from it; 'unknown' outside a checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head} (with local changes)" if head and dirty else head or "unknown"
