"""A task's facts at one moment, in no wire's shape: what surfaces render and callbacks carry."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from kirin_video.contract.catalog import Status
from kirin_video.tasks.tables import Task

#: Turns a storage key into a URL the client can fetch now.
SignFn = Callable[[str], str]


class OutputKind(StrEnum):
    VIDEO = "video"
    VIDEO_WATERMARKED = "video_watermarked"
    COVER = "cover"


class OutputFile(BaseModel):
    """One stored output: what it is, where it lies, how long it plays."""

    model_config = ConfigDict(frozen=True)

    kind: OutputKind
    key: str
    seconds: int | None = None  # videos only


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    cost: str  # decimal USD, as the contract sends it
    discount: float = 0


class TaskSnapshot(BaseModel):
    """The task as a status change left it; every surface renders its own object from this."""

    model_config = ConfigDict(frozen=True)

    id: str
    model: str
    status: Status
    created_ts: float
    updated_ts: float
    external_task_id: str | None = None
    progress: float = 0.0
    error_code: str | None = None
    error_message: str | None = None
    outputs: tuple[OutputFile, ...] = ()
    usage: Usage | None = None
    meta: dict[str, Any] = {}
    queue_position: int | None = None  # only while waiting, computed when read
    ignored_params: tuple[str, ...] = ()  # names sent that the model does not have

    @classmethod
    def of(cls, task: Task, *, queue_position: int | None = None) -> TaskSnapshot:
        return cls(
            id=task.id,
            model=task.model,
            status=Status(task.status),
            created_ts=task.created_ts,
            updated_ts=task.updated_ts,
            external_task_id=task.external_task_id,
            progress=task.progress,
            error_code=task.error_code,
            error_message=task.error_message,
            outputs=tuple(OutputFile.model_validate(item) for item in task.outputs or ()),
            usage=Usage.model_validate(task.usage) if task.usage else None,
            meta=dict(task.meta),
            queue_position=queue_position,
            ignored_params=tuple(task.params.get("ignored_params") or ()),
        )

    def output(self, kind: OutputKind) -> OutputFile | None:
        return next((item for item in self.outputs if item.kind is kind), None)
