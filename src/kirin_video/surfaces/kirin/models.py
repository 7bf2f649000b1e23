"""The kirin surface's answers as pydantic models: what the routes send is what OpenAPI says."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirin_video.contract.catalog import Model
from kirin_video.contract.statuses import PublicStatus


def _absent_not_null(schema: dict[str, Any]) -> None:
    """Optional keys are left out, never sent as null: say so in the schema."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if options and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            prop.pop("anyOf")
            prop.pop("default", None)
            prop.update(rest[0] if len(rest) == 1 else {"anyOf": rest})


class ContentItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra=_absent_not_null)

    type: Literal["video", "image"]
    url: str
    duration: str | None = Field(default=None, description='whole seconds, as a string: "5"')
    job_id: str = Field(alias="jobId", serialization_alias="jobId")
    watermarked: bool | None = None


class OutputItem(BaseModel):
    content: list[ContentItem]


class Usage(BaseModel):
    cost: str = Field(description="USD, a decimal string")
    discount: float


class TaskError(BaseModel):
    code: str
    message: str
    error_message: str = Field(description="the same text, under the i2v document's name")


class TaskObject(BaseModel):
    """A task as GET answers it; absent keys are the ones its status does not have."""

    model_config = ConfigDict(json_schema_extra=_absent_not_null)

    id: str
    model: Model
    status: PublicStatus
    created_at: int = Field(description="Unix milliseconds")
    updated_at: int = Field(description="Unix milliseconds")
    external_task_id: str | None = None
    progress: float | None = Field(default=None, description="0-1, while running")
    error: TaskError | None = None
    output: list[OutputItem] | None = None
    usage: Usage | None = None
    metadata: dict[str, Any]


class TaskPage(BaseModel):
    data: list[TaskObject]
    next_cursor: str | None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every answer that is not 200; the top-level ``message`` serves clients that read only it."""

    error: ErrorDetail
    message: str


class CallbackAttempt(BaseModel):
    at: int = Field(description="when the attempt started, Unix milliseconds")
    duration_ms: int
    http_status: int | None = Field(description="the receiver's answer; null if none came")
    error: str | None = Field(description="why it did not count as delivered; null once it did")


class CallbackDelivery(BaseModel):
    id: str = Field(description="the webhook-id header: the same on every retry")
    event: PublicStatus
    url: str
    state: Literal["pending", "delivered", "failed"]
    next_attempt_at: int | None = Field(description="Unix milliseconds; null unless pending")
    attempts: list[CallbackAttempt]


class CallbackList(BaseModel):
    data: list[CallbackDelivery]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses, all in the error shape."""
    return {status: {"model": ErrorBody} for status in statuses}
