"""The answers of the /v1/videos routes as pydantic models, in the shapes the openai SDK reads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from kirin_video.contract import catalog as c
from kirin_video.surfaces.openai_videos.wire import DEFAULT_SIZE, SECONDS, SIZES

VideoStatus = Literal["queued", "in_progress", "completed", "failed"]


class VideoError(BaseModel):
    code: str = Field(description="cancelled, generation_failed, …")
    message: str


class Video(BaseModel):
    """A task as OpenAI's video object: what create, retrieve and list answer."""

    id: str
    object: Literal["video"] = "video"
    created_at: int = Field(description="Unix seconds")
    completed_at: int | None = Field(description="Unix seconds, once completed or failed")
    expires_at: int | None = Field(description="Unix seconds; null: outputs are kept")
    model: str = Field(description="the Kirin model that makes it")
    status: VideoStatus
    progress: int = Field(ge=0, le=100)
    prompt: str | None
    seconds: str = Field(description='"5" or "10"')
    size: str = Field(description="the output's real frame size, width x height")
    error: VideoError | None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    has_more: bool
    first_id: str | None
    last_id: str | None = Field(description="the next page's `after`")


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: Literal[True] = True


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail


_IMAGE_TEXT = "an http(s) URL, a data URL or raw base64 of a JPEG or PNG"
_COMMON: dict[str, Any] = {
    "prompt": {"type": "string", "minLength": 1, "maxLength": c.MAX_PROMPT_CHARS},
    "model": {
        "type": "string",
        "description": f"{', '.join(m.value for m in c.Model)}, or a configured alias",
    },
    "seconds": {"type": "string", "enum": list(SECONDS), "default": str(c.DEFAULT_DURATION)},
    "size": {
        "type": "string",
        "enum": list(SIZES),
        "default": DEFAULT_SIZE,
        "description": "chooses the mode (720: std, 1080: pro) and, for multi, the aspect ratio",
    },
    "image_tail": {"type": "string", "description": f"i2v's last frame: {_IMAGE_TEXT}"},
    "negative_prompt": {"type": "string", "maxLength": c.MAX_PROMPT_CHARS},
    "cfg_scale": {"type": "number", "minimum": 0, "maximum": 1},
    "seed": {"type": "integer", "minimum": 0, "maximum": c.MAX_SEED},
    "watermark": {"type": "boolean"},
    "callback_url": {"type": "string", "format": "uri"},
    "external_task_id": {
        "type": "string",
        "minLength": 1,
        "maxLength": c.MAX_EXTERNAL_ID_CHARS,
    },
}
_REFERENCE_OBJECT = {
    "type": "object",
    "required": ["image_url"],
    "properties": {"image_url": {"type": "string", "description": _IMAGE_TEXT}},
}
_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        **_COMMON,
        "input_reference": {
            "type": "string",
            "format": "binary",
            "description": "i2v's first frame, or multi's first reference",
        },
        "input_references[]": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "maxItems": c.MAX_REFERENCE_IMAGES - 1,
            "description": "multi's further references (files, URLs or base64)",
        },
        "extra_body": {"type": "string", "description": "more parameters, as one JSON object"},
    },
}
_JSON: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        **_COMMON,
        "input_reference": {"oneOf": [_REFERENCE_OBJECT, {"type": "string"}]},
        "input_references": {
            "type": "array",
            "items": {"oneOf": [_REFERENCE_OBJECT, {"type": "string"}]},
            "maxItems": c.MAX_REFERENCE_IMAGES - 1,
        },
        "extra_body": {"type": "object"},
    },
}

#: The create route reads its body itself (a form or JSON): both shapes, for the schema.
CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _FORM},
            "application/json": {"schema": _JSON},
        },
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses, in OpenAI's error shape."""
    return {status: {"model": OpenAIErrorBody} for status in statuses}
