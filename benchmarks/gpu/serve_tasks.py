"""Tasks on the hosted wire, timed as a polling client sees them, and their videos checked."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kirin_video.contract.catalog import Geometry
from kirin_video.media.encode import probe

GENERATION = "/model/v1/generation"
POLL_S = 0.1
#: Longest a batch of tasks may take, pipeline load included, before the row gives up.
BATCH_TIMEOUT_S = 3600.0


class TaskFailed(Exception):
    """A task ended ``failed``, or the server refused or lost it: the row cannot be timed."""


@dataclass
class Timed:
    """Tasks created back to back, and how long each took from its create to seen completed."""

    tasks: list[dict[str, Any]]
    seconds: list[float]
    wall_s: float  # the first create to the last completion

    @property
    def per_hour(self) -> float:
        return 3600 * len(self.tasks) / self.wall_s

    def server_timing(self, name: str) -> float:
        """The median of one of the server's own timings (``metadata.timings``) of the tasks."""
        return float(statistics.median(task["metadata"]["timings"][name] for task in self.tasks))


def run_tasks(client: httpx.Client, body: dict[str, Any], *, count: int) -> Timed:
    """Create ``count`` tasks at once, then poll each every ``POLL_S`` until all are done."""
    created: dict[str, float] = {}
    for _ in range(count):
        started = time.perf_counter()
        answer = client.post(GENERATION, json=body)
        if answer.status_code != 200:
            raise TaskFailed(f"create answered {answer.status_code}: {answer.text[:300]}")
        created[answer.json()["id"]] = started
    done: dict[str, tuple[dict[str, Any], float]] = {}
    deadline = time.monotonic() + BATCH_TIMEOUT_S
    while len(done) < count:
        if time.monotonic() > deadline:
            raise TaskFailed(f"{count - len(done)} tasks unfinished after {BATCH_TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)
        for task_id in created.keys() - done.keys():
            task = _poll(client, task_id)
            if task["status"] != "in_progress":
                done[task_id] = task, time.perf_counter()
    for task, _ in done.values():
        if task["status"] != "completed":
            raise TaskFailed(f"task {task['id']} {task['status']}: {_error(task)}")
    first = min(created.values())
    return Timed(
        tasks=[done[task_id][0] for task_id in created],
        seconds=[done[task_id][1] - created[task_id] for task_id in created],
        wall_s=max(seen for _, seen in done.values()) - first,
    )


def _poll(client: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = client.get(f"{GENERATION}/task/{task_id}")
    if answer.status_code != 200:
        raise TaskFailed(f"poll of {task_id} answered {answer.status_code}: {answer.text[:300]}")
    task: dict[str, Any] = answer.json()
    return task


def _error(task: dict[str, Any]) -> str:
    error = task.get("error") or {}
    return f"{error.get('code', '?')} {error.get('message', '')}".strip()


def check_videos(
    client: httpx.Client, tasks: list[dict[str, Any]], geometry: Geometry
) -> tuple[bool, str]:
    """Whether every task's video has the contract's size, length and rate, and what was seen."""
    wanted = f"{geometry.width}x{geometry.height}x{geometry.frames} at {geometry.fps} fps"
    wrong: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kirin-bench-video-") as tmp:
        for task in tasks:
            path = Path(tmp) / f"{task['id']}.mp4"
            answer = client.get(task["output"][0]["content"][0]["url"])
            answer.raise_for_status()
            path.write_bytes(answer.content)
            info = probe(path)
            seen = f"{info.width}x{info.height}x{info.frames} at {info.fps:g} fps"
            if seen != wanted:
                wrong.append(f"task {task['id']}: {seen}")
    if wrong:
        return False, f"{wanted} wanted, found {'; '.join(wrong)}"
    return True, f"{wanted} checked ({len(tasks)} videos)"
