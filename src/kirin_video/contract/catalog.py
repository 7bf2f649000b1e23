"""The two models: their enums, limits, defaults and output geometry.

``parameters.py`` arranges these into one table per model; every schema, catalog and spec the
server publishes is generated from that table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Model(StrEnum):
    I2V = "kirin_v1_6_i2v"
    MULTI_I2V = "kirin_v1_6_multi_i2v"


class Mode(StrEnum):
    """Quality tier: ``pro`` renders a larger frame (and is the one that takes a last frame)."""

    STD = "std"
    PRO = "pro"


class Duration(StrEnum):
    """Video length in whole seconds, spelled as the wire sends it: a string."""

    FIVE = "5"
    TEN = "10"

    @classmethod
    def of(cls, seconds: int) -> Duration:
        return cls(str(seconds))

    @property
    def seconds(self) -> int:
        return int(self.value)


class AspectRatio(StrEnum):
    """Frame shape of a multi-image video, ``width:height``."""

    WIDE = "16:9"
    TALL = "9:16"
    SQUARE = "1:1"

    @property
    def sides(self) -> tuple[int, int]:
        width, height = self.value.split(":")
        return int(width), int(height)


class Status(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The validator's views of the enums: durations as seconds, since that is what it returns.
MODES: tuple[Mode, ...] = tuple(Mode)
DURATIONS: tuple[int, ...] = tuple(d.seconds for d in Duration)
ASPECT_RATIOS: tuple[AspectRatio, ...] = tuple(AspectRatio)

DEFAULT_MODE = Mode.STD
DEFAULT_DURATION = Duration.FIVE.seconds
DEFAULT_ASPECT_RATIO = AspectRatio.WIDE
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
SHORT_SIDE = {Mode.STD: 720, Mode.PRO: 1080}


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
    short = SHORT_SIDE[Mode(mode)]
    if model is Model.I2V:
        if first_image_size is None:
            raise ValueError("i2v geometry needs the size of the first given image")
        width, height = frame_size_for_aspect(
            short_side=short, width=first_image_size[0], height=first_image_size[1]
        )
    else:
        aw, ah = AspectRatio(aspect_ratio or DEFAULT_ASPECT_RATIO).sides
        width, height = frame_size_for_aspect(short_side=short, width=aw, height=ah)
    return Geometry(width=width, height=height, fps=FPS, frames=FPS * duration)
