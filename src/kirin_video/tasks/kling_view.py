"""A task as Kling's ``data`` object; video URLs are signed at read time, like the Kirin view."""

from __future__ import annotations

from typing import Any

from kirin_video.contract.catalog import Status
from kirin_video.contract.kling import TASK_STATUS
from kirin_video.tasks.tables import Task
from kirin_video.tasks.view import SignFn


def kling_created(task: Task) -> dict[str, Any]:
    """What the create routes answer: the task's id, status, info and times."""
    return {
        "task_id": task.id,
        "task_status": TASK_STATUS[task.status],
        "task_info": _info(task),
        "created_at": _ms(task.created_ts),
        "updated_at": _ms(task.updated_ts),
    }


def kling_object(task: Task, *, sign: SignFn | None) -> dict[str, Any]:
    """What the query routes and callbacks carry.

    With ``sign=None`` each video keeps its storage ``key`` instead of a URL: the form stored in
    the webhook outbox, signed by ``signed_kling_object`` when it is sent.
    """
    return {
        "task_id": task.id,
        "task_status": TASK_STATUS[task.status],
        "task_status_msg": "" if task.status == Status.COMPLETED else task.error_message or "",
        "task_info": _info(task),
        "created_at": _ms(task.created_ts),
        "updated_at": _ms(task.updated_ts),
        "task_result": {"videos": _videos(task, sign)} if task.status == Status.COMPLETED else {},
    }


def signed_kling_object(stored: dict[str, Any], *, sign: SignFn) -> dict[str, Any]:
    """A stored Kling object (``sign=None`` form) with fresh URLs in place of storage keys."""
    videos = stored.get("task_result", {}).get("videos")
    if not videos:
        return stored
    return {**stored, "task_result": {"videos": [_signed(video, sign) for video in videos]}}


def _videos(task: Task, sign: SignFn | None) -> list[dict[str, Any]]:
    """One entry per generated video; the watermarked copy is its ``watermark_url``."""
    videos: list[dict[str, Any]] = []
    for item in task.output or []:
        content = [entry for entry in item.get("content", []) if entry.get("type") == "video"]
        plain = [entry for entry in content if not entry.get("watermarked")]
        marked = [entry for entry in content if entry.get("watermarked")]
        for index, entry in enumerate(plain):
            video = {
                "id": f"{task.id}-{index}",
                "key": entry["key"],
                "duration": str(float(entry["duration"])),
            }
            if index < len(marked):
                video["watermark_key"] = marked[index]["key"]
            videos.append(video if sign is None else _signed(video, sign))
    return videos


def _signed(video: dict[str, Any], sign: SignFn) -> dict[str, Any]:
    signed = {"id": video["id"], "url": sign(video["key"]), "duration": video["duration"]}
    if "watermark_key" in video:
        signed["watermark_url"] = sign(video["watermark_key"])
    return signed


def _info(task: Task) -> dict[str, Any]:
    return {"external_task_id": task.external_task_id} if task.external_task_id else {}


def _ms(timestamp: float) -> int:
    return int(timestamp * 1000)
