"""A task snapshot as Kling's ``data`` object; video URLs are signed when rendered."""

from __future__ import annotations

from typing import Any

from kirin_video.contract.catalog import Status
from kirin_video.surfaces.kling.wire import TASK_STATUS
from kirin_video.tasks.snapshot import OutputKind, SignFn, TaskSnapshot


def kling_created(snap: TaskSnapshot) -> dict[str, Any]:
    """What the create routes answer: the task's id, status, info and times."""
    return {
        "task_id": snap.id,
        "task_status": TASK_STATUS[snap.status],
        "task_info": _info(snap),
        "created_at": _ms(snap.created_ts),
        "updated_at": _ms(snap.updated_ts),
    }


def kling_object(snap: TaskSnapshot, sign: SignFn) -> dict[str, Any]:
    """What the query routes and callbacks carry."""
    completed = snap.status is Status.COMPLETED
    return {
        **kling_created(snap),
        "task_status_msg": "" if completed else snap.error_message or "",
        "task_result": {"videos": _videos(snap, sign)} if completed else {},
    }


def _videos(snap: TaskSnapshot, sign: SignFn) -> list[dict[str, Any]]:
    """The generated video; its watermarked copy, if any, is its ``watermark_url``."""
    video = snap.output(OutputKind.VIDEO)
    if video is None:
        return []
    entry = {
        "id": f"{snap.id}-0",
        "url": sign(video.key),
        "duration": str(float(video.seconds or 0)),
    }
    marked = snap.output(OutputKind.VIDEO_WATERMARKED)
    if marked is not None:
        entry["watermark_url"] = sign(marked.key)
    return [entry]


def _info(snap: TaskSnapshot) -> dict[str, Any]:
    return {"external_task_id": snap.external_task_id} if snap.external_task_id else {}


def _ms(timestamp: float) -> int:
    return int(timestamp * 1000)
