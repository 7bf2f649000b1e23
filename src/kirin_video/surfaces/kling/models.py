"""Pydantic shapes of the Kling routes' requests and envelopes, for the OpenAPI schema.

Validation is ``wire.parse_kling_request`` (which applies the contract's rules); these models
only document the same shapes for Kling-style clients and schema-driven tools.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirin_video.contract import catalog as c
from kirin_video.contract.schema import Image, ImageItem, NegativePrompt, Prompt

TaskStatus = Literal["submitted", "processing", "succeed", "failed"]
Ms = Annotated[int, Field(description="unix time in milliseconds")]


class _KlingCommon(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_name: str | None = Field(default=None, description="default kling-v1-6")
    negative_prompt: NegativePrompt | None = None
    mode: c.Mode = c.DEFAULT_MODE
    duration: c.Duration = c.Duration(str(c.DEFAULT_DURATION))
    callback_url: str | None = Field(default=None, description="absolute http(s) URL")
    external_task_id: Annotated[str, Field(min_length=1, max_length=c.MAX_EXTERNAL_ID_CHARS)] | (
        None
    ) = None


class KlingImage2VideoRequest(_KlingCommon):
    """At least one of ``image`` and ``image_tail`` (the tail needs pro)."""

    image: Image | None = None
    image_tail: Image | None = None
    prompt: Prompt | None = None
    cfg_scale: Annotated[float, Field(ge=0, le=1)] = c.DEFAULT_CFG_SCALE


class KlingMultiImage2VideoRequest(_KlingCommon):
    """1–4 reference images and a prompt."""

    image_list: Annotated[list[ImageItem], Field(min_length=1, max_length=c.MAX_REFERENCE_IMAGES)]
    prompt: Prompt
    aspect_ratio: c.AspectRatio = c.DEFAULT_ASPECT_RATIO


class KlingTaskInfo(BaseModel):
    external_task_id: str | None = None


class KlingVideo(BaseModel):
    id: str
    url: str
    duration: str = Field(description="seconds, as a string")
    watermark_url: str | None = None


class KlingTaskResult(BaseModel):
    videos: list[KlingVideo] | None = None


class KlingCreated(BaseModel):
    task_id: str
    task_status: TaskStatus
    task_info: KlingTaskInfo
    created_at: Ms
    updated_at: Ms


class KlingTask(KlingCreated):
    task_status_msg: str
    task_result: KlingTaskResult


class _Envelope(BaseModel):
    code: int
    message: str
    request_id: str


class KlingCreateAnswer(_Envelope):
    data: KlingCreated


class KlingTaskAnswer(_Envelope):
    data: KlingTask


class KlingListAnswer(_Envelope):
    data: list[KlingTask] | KlingTask = Field(
        description="one task when ?external_task_id= is given"
    )


class KlingErrorBody(_Envelope):
    """Kling's error: ``code`` is its numeric code, there is no ``data``."""
