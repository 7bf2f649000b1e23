"""A task as OpenAI's video object, a page of them, and its callbacks as OpenAI's events."""

from __future__ import annotations

import hashlib
from typing import Any

from kirin_video.contract import catalog as c
from kirin_video.contract.catalog import Model, Status
from kirin_video.contract.text import readable
from kirin_video.surfaces.openai_videos.errors import code_word
from kirin_video.surfaces.openai_videos.models import Video, VideoError, VideoList
from kirin_video.surfaces.openai_videos.wire import STATUS, size_name
from kirin_video.tasks.paging import Page
from kirin_video.tasks.snapshot import SignFn, TaskSnapshot
from kirin_video.tasks.tables import Task

FINISHED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
#: The events OpenAI sends for videos; the other changes are not told on this surface.
EVENTS: dict[Status, str] = {
    Status.COMPLETED: "video.completed",
    Status.FAILED: "video.failed",
    Status.CANCELLED: "video.failed",
}


def video_object(task: Task) -> Video:
    """The video object of a task made on any surface: the same task, the same video."""
    status = Status(task.status)
    finished = status in FINISHED
    return Video(
        id=task.id,
        created_at=int(task.created_ts),
        completed_at=int(task.finished_ts or task.updated_ts) if finished else None,
        expires_at=None,  # outputs are kept until the video is deleted
        model=task.model,
        status=STATUS[status],  # type: ignore[arg-type]  # the four words of VideoStatus
        progress=_percent(status, task.progress),
        prompt=readable(task.params.get("prompt")),
        seconds=str(task.params.get("duration", c.DEFAULT_DURATION)),
        size=_size(task),
        error=_error(task) if status in (Status.FAILED, Status.CANCELLED) else None,
    )


def video_page(page: Page) -> VideoList:
    videos = [video_object(task) for task in page.tasks]
    return VideoList(
        data=videos,
        has_more=page.next_cursor is not None,
        first_id=videos[0].id if videos else None,
        last_id=videos[-1].id if videos else None,
    )


def event_body(snap: TaskSnapshot, _sign: SignFn) -> dict[str, Any] | None:
    """``video.completed`` or ``video.failed``, naming the video (clients read it afterwards).

    The event id is the same on every retry of a delivery: it is made from the change itself.
    """
    kind = EVENTS.get(snap.status)
    if kind is None:
        return None  # OpenAI has no event for a video that starts running
    change = f"{snap.id}:{snap.status}:{snap.updated_ts!r}".encode()
    return {
        "id": "evt_" + hashlib.sha256(change).hexdigest()[:32],
        "object": "event",
        "created_at": int(snap.updated_ts),
        "type": kind,
        "data": {"id": snap.id},
    }


def _percent(status: Status, progress: float) -> int:
    if status is Status.COMPLETED:
        return 100
    if status is Status.PENDING:
        return 0
    return min(99, max(0, int(progress * 100)))


def _size(task: Task) -> str:
    """The frame size the video has (or will have): measured, else fixed when it was created."""
    for facts in (task.meta, task.params):
        if facts.get("width") and facts.get("height"):
            return size_name(int(facts["width"]), int(facts["height"]))
    if task.model == Model.MULTI_I2V:  # a task stored before sizes were: multi's follows its params
        geometry = c.output_geometry(
            model=Model.MULTI_I2V,
            mode=task.params["mode"],
            duration=task.params["duration"],
            aspect_ratio=task.params.get("aspect_ratio"),
        )
        return size_name(geometry.width, geometry.height)
    return ""  # an i2v task stored before sizes were, not finished: its first frame decides


def _error(task: Task) -> VideoError:
    code = code_word(task.error_code) if task.error_code else "generation_failed"
    return VideoError(code=code, message=task.error_message or "")
