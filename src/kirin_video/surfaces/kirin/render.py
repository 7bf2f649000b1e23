"""A task snapshot as the hosted wire's task object: three status words, milliseconds, jobId."""

from __future__ import annotations

from typing import Any

from kirin_video.contract.catalog import Status
from kirin_video.contract.statuses import PUBLIC_STATUS
from kirin_video.surfaces.kirin.models import ContentItem, OutputItem, TaskError, TaskObject, Usage
from kirin_video.tasks.snapshot import OutputFile, OutputKind, SignFn, TaskSnapshot


def task_object(snap: TaskSnapshot, sign: SignFn) -> TaskObject:
    """The object GET answers and callbacks carry; parts only in the statuses that have them."""
    meta = dict(snap.meta)
    if snap.queue_position is not None:
        meta["queue_position"] = snap.queue_position
    if snap.ignored_params:
        meta["ignored_params"] = list(snap.ignored_params)
    completed = snap.status is Status.COMPLETED
    return TaskObject(
        id=snap.id,
        model=snap.model,  # type: ignore[arg-type]  # validated into the Model enum
        status=PUBLIC_STATUS[snap.status],
        created_at=ms(snap.created_ts),
        updated_at=ms(snap.updated_ts),
        external_task_id=snap.external_task_id,
        progress=snap.progress if snap.status is Status.PROCESSING else None,
        error=_error(snap),
        output=[OutputItem(content=[_item(f, snap.id, sign) for f in snap.outputs])]
        if completed
        else None,
        usage=Usage.model_validate(snap.usage.model_dump()) if completed and snap.usage else None,
        metadata=meta,
    )


def callback_body(snap: TaskSnapshot, sign: SignFn) -> dict[str, Any]:
    """The callback body: the task object as a GET would have rendered it at that change."""
    return dump(task_object(snap, sign))


def dump(task: TaskObject) -> dict[str, Any]:
    return task.model_dump(mode="json", by_alias=True, exclude_none=True)


def ms(timestamp: float) -> int:
    return int(timestamp * 1000)


def _error(snap: TaskSnapshot) -> TaskError | None:
    if snap.status not in (Status.FAILED, Status.CANCELLED) or not snap.error_code:
        return None
    message = snap.error_message or ""
    return TaskError(code=snap.error_code, message=message, error_message=message)


def _item(output: OutputFile, job_id: str, sign: SignFn) -> ContentItem:
    if output.kind is OutputKind.COVER:
        return ContentItem(type="image", url=sign(output.key), jobId=job_id)
    return ContentItem(
        type="video",
        url=sign(output.key),
        duration=None if output.seconds is None else str(output.seconds),
        jobId=job_id,
        watermarked=True if output.kind is OutputKind.VIDEO_WATERMARKED else None,
    )
