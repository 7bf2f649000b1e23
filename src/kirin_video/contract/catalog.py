"""The two models: their parameters, limits, defaults and output geometry."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Model(StrEnum):
    I2V = "kirin_v1_6_i2v"
    MULTI_I2V = "kirin_v1_6_multi_i2v"


class Status(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

MODES = ("std", "pro")
DURATIONS = (5, 10)
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
DEFAULT_MODE = "std"
DEFAULT_DURATION = 5
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_CFG_SCALE = 0.5
CFG_SCALE_RANGE = (0.0, 1.0)

MAX_PROMPT_CHARS = 2500
MAX_REFERENCE_IMAGES = 4
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_IMAGE_SIDE = 300
MAX_ASPECT = 2.5  # w/h within [1/2.5, 2.5]
IMAGE_FORMATS = ("JPEG", "PNG")
MAX_SEED = 2**32 - 1
MAX_EXTERNAL_ID_CHARS = 128
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20

FPS = 30
SHORT_SIDE = {"std": 720, "pro": 1080}


@dataclass(frozen=True)
class Geometry:
    """Size, rate and length of an output video."""

    width: int
    height: int
    fps: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def _even(value: float) -> int:
    return max(2, round(value / 2.0) * 2)


def frame_size_for_aspect(*, short_side: int, width: int, height: int) -> tuple[int, int]:
    """Even width/height with the given short side and the aspect of ``width``×``height``."""
    if width >= height:
        return _even(short_side * width / height), short_side
    return short_side, _even(short_side * height / width)


def output_geometry(
    *,
    model: Model,
    mode: str,
    duration: int,
    aspect_ratio: str | None = None,
    first_image_size: tuple[int, int] | None = None,
) -> Geometry:
    """The contract's exact output size, rate and frame count for a request."""
    short = SHORT_SIDE[mode]
    if model is Model.I2V:
        if first_image_size is None:
            raise ValueError("i2v geometry needs the size of the first given image")
        width, height = frame_size_for_aspect(
            short_side=short, width=first_image_size[0], height=first_image_size[1]
        )
    else:
        aw, ah = (int(part) for part in (aspect_ratio or DEFAULT_ASPECT_RATIO).split(":"))
        width, height = frame_size_for_aspect(short_side=short, width=aw, height=ah)
    return Geometry(width=width, height=height, fps=FPS, frames=FPS * duration)


def describe_models() -> list[dict[str, Any]]:
    """The ``GET /v1/models`` catalog: parameters, defaults and output formats."""
    common = {
        "negative_prompt": {"type": "string", "max_length": MAX_PROMPT_CHARS},
        "mode": {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE},
        "duration": {
            "type": "string",
            "enum": [str(d) for d in DURATIONS],
            "default": str(DEFAULT_DURATION),
        },
        "watermark_info": {"type": "object", "properties": {"enabled": {"type": "boolean"}}},
        "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
        "callback_url": {"type": "string", "format": "uri"},
        "external_task_id": {"type": "string", "max_length": MAX_EXTERNAL_ID_CHARS},
    }
    image = {
        "type": "string",
        "description": "raw base64 or http(s) URL; JPEG or PNG, "
        f"at most {MAX_IMAGE_BYTES} bytes, sides >= {MIN_IMAGE_SIDE}px",
    }
    output = {"container": "mp4", "codec": "h264", "pix_fmt": "yuv420p", "fps": FPS}
    return [
        {
            "id": Model.I2V.value,
            "description": "Video from a first frame, a last frame, or both.",
            "parameters": {
                "image": image,
                "image_tail": {**image, "note": "only with mode=pro"},
                "prompt": {"type": "string", "min_length": 1, "max_length": MAX_PROMPT_CHARS},
                "cfg_scale": {
                    "type": "number",
                    "minimum": CFG_SCALE_RANGE[0],
                    "maximum": CFG_SCALE_RANGE[1],
                    "default": DEFAULT_CFG_SCALE,
                },
                **common,
            },
            "output": {
                **output,
                "size": {
                    m: f"short side {s}, aspect of the first image" for m, s in SHORT_SIDE.items()
                },
            },
        },
        {
            "id": Model.MULTI_I2V.value,
            "description": "Video from 1-4 reference images and a prompt.",
            "parameters": {
                "image_list": {
                    "type": "array",
                    "min_items": 1,
                    "max_items": MAX_REFERENCE_IMAGES,
                    "items": {"type": "object", "properties": {"image": image}},
                },
                "prompt": {
                    "type": "string",
                    "min_length": 1,
                    "max_length": MAX_PROMPT_CHARS,
                    "required": True,
                },
                "aspect_ratio": {
                    "type": "string",
                    "enum": list(ASPECT_RATIOS),
                    "default": DEFAULT_ASPECT_RATIO,
                },
                **common,
            },
            "output": {
                **output,
                "size": {
                    mode: {
                        ratio: "{}x{}".format(
                            *frame_size_for_aspect(
                                short_side=short,
                                width=int(ratio.split(":")[0]),
                                height=int(ratio.split(":")[1]),
                            )
                        )
                        for ratio in ASPECT_RATIOS
                    }
                    for mode, short in SHORT_SIDE.items()
                },
            },
        },
    ]
