"""Pydantic shapes of requests, tasks and errors: they describe the API in its OpenAPI schema.

Validation itself is done by ``params.parse_request`` (its messages and codes are the contract's);
these models document the same shapes for clients and schema-driven tools.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirin_video.contract import catalog as c

Image = Annotated[str, Field(description="raw base64 (no data: prefix) or an http(s) URL")]
Prompt = Annotated[str, Field(min_length=1, max_length=c.MAX_PROMPT_CHARS)]
NegativePrompt = Annotated[str, Field(max_length=c.MAX_PROMPT_CHARS)]


class WatermarkInfo(BaseModel):
    enabled: bool


class ImageItem(BaseModel):
    image: Image


class _CommonRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    negative_prompt: NegativePrompt | None = None
    mode: Literal["std", "pro"] = "std"
    duration: Literal["5", "10", 5, 10] = "5"
    watermark_info: WatermarkInfo | None = None
    seed: Annotated[int, Field(ge=0, le=c.MAX_SEED)] | None = None
    callback_url: str | None = Field(default=None, description="absolute http(s) URL")
    callback: str | None = Field(default=None, description="another name for callback_url")
    external_task_id: Annotated[str, Field(min_length=1, max_length=c.MAX_EXTERNAL_ID_CHARS)] | (
        None
    ) = None


class I2VRequest(_CommonRequest):
    """``kirin_v1_6_i2v``: at least one of ``image`` and ``image_tail`` (the tail needs pro)."""

    model: Literal["kirin_v1_6_i2v"]
    image: Image | None = None
    image_tail: Image | None = None
    prompt: Prompt | None = None
    cfg_scale: Annotated[float, Field(ge=0, le=1)] = c.DEFAULT_CFG_SCALE


class MultiI2VRequest(_CommonRequest):
    """``kirin_v1_6_multi_i2v``: 1–4 reference images and a prompt."""

    model: Literal["kirin_v1_6_multi_i2v"]
    image_list: Annotated[list[ImageItem], Field(min_length=1, max_length=c.MAX_REFERENCE_IMAGES)]
    prompt: Prompt
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"


CreateRequest = Annotated[I2VRequest | MultiI2VRequest, Field(discriminator="model")]


class ErrorDetail(BaseModel):
    code: str
    message: str


class TaskError(ErrorDetail):
    error_message: str = Field(description="the same text, under the i2v document's name")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ContentItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["video", "image"]
    url: str
    duration: int | None = None
    watermarked: bool | None = None


class OutputItem(BaseModel):
    content: list[ContentItem]
    jobId: str  # the contract spells it so


class Usage(BaseModel):
    cost: str
    discount: float


class TaskObject(BaseModel):
    id: str
    model: Literal["kirin_v1_6_i2v", "kirin_v1_6_multi_i2v"]
    status: Literal["pending", "processing", "completed", "failed", "cancelled"]
    created_at: int
    updated_at: int
    external_task_id: str | None
    progress: float | None = None
    error: TaskError | None = None
    output: list[OutputItem] | None = None
    usage: Usage | None = None
    metadata: dict[str, Any]


class TaskPage(BaseModel):
    data: list[TaskObject]
    next_cursor: str | None


class CallbackAttempt(BaseModel):
    at: int = Field(description="when the attempt started, unix seconds")
    duration_ms: int
    http_status: int | None = Field(description="the receiver's answer; null if none came")
    error: str | None = Field(description="why it did not count as delivered; null once it did")


class CallbackDelivery(BaseModel):
    id: str = Field(description="the webhook-id header: the same on every retry")
    event: Literal["processing", "completed", "failed", "cancelled"]
    url: str
    state: Literal["pending", "delivered", "failed"]
    next_attempt_at: int | None = Field(description="unix seconds; null unless pending")
    attempts: list[CallbackAttempt]


class CallbackList(BaseModel):
    data: list[CallbackDelivery]


class ModelList(BaseModel):
    data: list[dict[str, Any]]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses, all in the error shape."""
    return {status: {"model": ErrorBody} for status in statuses}
