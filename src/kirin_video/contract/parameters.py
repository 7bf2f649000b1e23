"""One table of parameters per model: the source of the schemas, the catalog and the model spec.

The request models (``schema.py``), ``GET /v1/models`` (``describe_models``) and the model-spec
service of the kirin surface are all generated from ``PARAMETERS``; the validator
(``params.py``) checks the same constants of ``catalog.py``, and the tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kirin_video.contract import catalog as c

JsonScalar = str | int | float | bool
EnumClass = type[StrEnum]  # named, since a field called ``type`` hides the builtin in the class


class ParamType(StrEnum):
    """JSON types a parameter can have; ``array`` and ``object`` have ``children``."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ARRAY = "array"
    OBJECT = "object"


@dataclass(frozen=True, kw_only=True)
class ImageRules:
    """The checks a picture must pass, machine-readable so a client can run them before sending."""

    check_aspect: bool = True

    def schema(self) -> dict[str, Any]:
        """The ``x-image`` keyword of the parameter's schema (the server checks the same)."""
        rules: dict[str, Any] = {
            "formats": list(c.IMAGE_FORMATS),
            "media_types": [f"image/{name.lower()}" for name in c.IMAGE_FORMATS],
            "max_bytes": c.MAX_IMAGE_BYTES,
            "min_side": c.MIN_IMAGE_SIDE,
        }
        if self.check_aspect:
            rules["aspect"] = {"min": 1 / c.MAX_ASPECT, "max": c.MAX_ASPECT}
        return rules


#: The first frame and the reference pictures; the last frame, whose shape is not checked (seed).
IMAGE_RULES = ImageRules()
TAIL_IMAGE_RULES = ImageRules(check_aspect=False)


@dataclass(frozen=True, kw_only=True)
class Parameter:
    """One request parameter and its rules; ``children`` are an object's fields or an item's."""

    name: str
    type: ParamType
    description: str
    required: bool = False
    enum: EnumClass | None = None
    default: JsonScalar | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    example: Any = None
    children: tuple[Parameter, ...] = ()
    image: ImageRules | None = None
    #: The modes the parameter may be given in (``x-modes``); empty: any mode.
    modes: tuple[c.Mode, ...] = ()

    @property
    def choices(self) -> tuple[str, ...]:
        """The allowed values, as the wire spells them; empty when any value of the type goes."""
        return tuple(member.value for member in self.enum) if self.enum else ()


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """What a model is called and does, for catalogs and agents."""

    name: str
    description: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...] = ("video",)


_MB = 1024 * 1024
_IMAGE = (
    "Raw base64 (no data: prefix) or an http(s) URL the server can fetch; "
    f"JPEG or PNG, at most {c.MAX_IMAGE_BYTES // _MB} MB, width and height at least "
    f"{c.MIN_IMAGE_SIDE} px"
)
_ASPECT = f", aspect ratio (w/h) between 1:{c.MAX_ASPECT:g} and {c.MAX_ASPECT:g}:1"
_PROMPT = f"{{}}, 1-{c.MAX_PROMPT_CHARS} characters."
_EXAMPLE_IMAGE = "https://example.com/first-frame.png"

NEGATIVE_PROMPT = Parameter(
    name="negative_prompt",
    type=ParamType.STRING,
    description=f"What the video should not show, at most {c.MAX_PROMPT_CHARS} characters.",
    max_length=c.MAX_PROMPT_CHARS,
    example="blur, distortion, text",
)
MODE = Parameter(
    name="mode",
    type=ParamType.STRING,
    description=(
        f"Quality: {c.Mode.STD} (short side {c.SHORT_SIDE[c.Mode.STD]} px, faster) or "
        f"{c.Mode.PRO} (short side {c.SHORT_SIDE[c.Mode.PRO]} px, better quality)."
    ),
    enum=c.Mode,
    default=c.DEFAULT_MODE,
    example=c.DEFAULT_MODE,
)
DURATION = Parameter(
    name="duration",
    type=ParamType.STRING,
    description=f"Length of the video in seconds, at {c.FPS} frames per second.",
    enum=c.Duration,
    default=c.Duration.of(c.DEFAULT_DURATION),
    example=c.Duration.of(c.DEFAULT_DURATION),
)
WATERMARK_INFO = Parameter(
    name="watermark_info",
    type=ParamType.OBJECT,
    description="Also deliver a watermarked copy of the video (custom watermarks: not supported).",
    children=(
        Parameter(
            name="enabled",
            type=ParamType.BOOLEAN,
            description="true: a second, watermarked video follows the plain one.",
            default=False,
            example=True,
        ),
    ),
)
SEED = Parameter(
    name="seed",
    type=ParamType.INTEGER,
    description=(
        "Same seed and inputs give the same video; absent: a random seed, "
        "reported in the task's metadata.seed."
    ),
    minimum=0,
    maximum=c.MAX_SEED,
    example=1234,
)
CALLBACK_URL = Parameter(
    name="callback_url",
    type=ParamType.STRING,
    description="Absolute http(s) URL that receives the task object at every status change.",
    example="https://example.com/kirin-hook",
)
EXTERNAL_TASK_ID = Parameter(
    name="external_task_id",
    type=ParamType.STRING,
    description="Your own id for the task, unique per API key; the task can be read by it too.",
    min_length=1,
    max_length=c.MAX_EXTERNAL_ID_CHARS,
    example="order-1",
)

I2V_PARAMETERS = (
    Parameter(
        name="image",
        type=ParamType.STRING,
        description=f"First frame of the video. {_IMAGE}{_ASPECT}. Give image, image_tail or both.",
        example=_EXAMPLE_IMAGE,
        image=IMAGE_RULES,
    ),
    Parameter(
        name="image_tail",
        type=ParamType.STRING,
        description=f"Last frame of the video, only with mode {c.Mode.PRO}. {_IMAGE}. "
        "Give image, image_tail or both.",
        example="https://example.com/last-frame.png",
        image=TAIL_IMAGE_RULES,
        modes=(c.Mode.PRO,),
    ),
    Parameter(
        name="prompt",
        type=ParamType.STRING,
        description=_PROMPT.format("What happens in the video"),
        min_length=1,
        max_length=c.MAX_PROMPT_CHARS,
        example="The camera slowly pushes in while the leaves sway in the wind",
    ),
    NEGATIVE_PROMPT,
    MODE,
    Parameter(
        name="cfg_scale",
        type=ParamType.NUMBER,
        description="How closely the video follows the prompt: higher means less freedom.",
        minimum=c.CFG_SCALE_RANGE[0],
        maximum=c.CFG_SCALE_RANGE[1],
        default=c.DEFAULT_CFG_SCALE,
        example=c.DEFAULT_CFG_SCALE,
    ),
    DURATION,
    WATERMARK_INFO,
    SEED,
    CALLBACK_URL,
    Parameter(
        name="callback",
        type=ParamType.STRING,
        description="Another name for callback_url (callback_url wins when both are sent).",
        example="https://example.com/kirin-hook",
    ),
    EXTERNAL_TASK_ID,
)

MULTI_I2V_PARAMETERS = (
    Parameter(
        name="image_list",
        type=ParamType.ARRAY,
        description=(
            f"1-{c.MAX_REFERENCE_IMAGES} reference images, each an object "
            '{"image": "<URL or base64>"}; the video shows their subjects together. '
            "They are not cropped: frame each subject as wanted."
        ),
        required=True,
        min_items=1,
        max_items=c.MAX_REFERENCE_IMAGES,
        example=[
            {"image": "https://example.com/cat.png"},
            {"image": "https://example.com/hat.png"},
        ],
        children=(
            Parameter(
                name="image",
                type=ParamType.STRING,
                description=f"One reference image. {_IMAGE}{_ASPECT}.",
                required=True,
                example="https://example.com/cat.png",
                image=IMAGE_RULES,
            ),
        ),
    ),
    Parameter(
        name="prompt",
        type=ParamType.STRING,
        description=_PROMPT.format("What happens in the video, naming the subjects"),
        required=True,
        min_length=1,
        max_length=c.MAX_PROMPT_CHARS,
        example="The cat puts on the hat and looks into the camera",
    ),
    NEGATIVE_PROMPT,
    MODE,
    DURATION,
    Parameter(
        name="aspect_ratio",
        type=ParamType.STRING,
        description="Frame shape of the video, width:height.",
        enum=c.AspectRatio,
        default=c.DEFAULT_ASPECT_RATIO,
        example=c.DEFAULT_ASPECT_RATIO,
    ),
    WATERMARK_INFO,
    SEED,
    CALLBACK_URL,
    EXTERNAL_TASK_ID,
)

PARAMETERS: dict[c.Model, tuple[Parameter, ...]] = {
    c.Model.I2V: I2V_PARAMETERS,
    c.Model.MULTI_I2V: MULTI_I2V_PARAMETERS,
}

MODELS: dict[c.Model, ModelInfo] = {
    c.Model.I2V: ModelInfo(
        name="Kirin V1.6 Image to Video",
        description="Video from a first frame, a last frame, or both, and an optional prompt.",
        input_modalities=("image", "text"),
    ),
    c.Model.MULTI_I2V: ModelInfo(
        name="Kirin V1.6 Multi Image to Video",
        description=f"Video from 1-{c.MAX_REFERENCE_IMAGES} reference images and a prompt.",
        input_modalities=("image", "text"),
    ),
}

#: The extension keyword that carries an image parameter's rules (``ImageRules.schema``).
IMAGE_KEYWORD = "x-image"
#: The extension keyword that lists the only modes a parameter may be given in.
MODES_KEYWORD = "x-modes"
#: JSON Schema keywords of the table's rules.
_KEYWORDS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_items": "minItems",
    "max_items": "maxItems",
}


def json_schema(parameter: Parameter) -> dict[str, Any]:
    """The parameter as a JSON Schema, so any schema tool can read the catalog."""
    schema: dict[str, Any] = {"type": str(parameter.type), "description": parameter.description}
    if parameter.choices:
        schema["enum"] = list(parameter.choices)
    if parameter.default is not None:
        schema["default"] = parameter.default
    for attribute, keyword in _KEYWORDS.items():
        if (value := getattr(parameter, attribute)) is not None:
            schema[keyword] = value
    if parameter.image is not None:
        schema[IMAGE_KEYWORD] = parameter.image.schema()
    if parameter.modes:
        schema[MODES_KEYWORD] = [str(mode) for mode in parameter.modes]
    if parameter.children:
        fields = _object_schema(parameter.children)
        schema.update(fields if parameter.type is ParamType.OBJECT else {"items": fields})
    return schema


def _object_schema(children: tuple[Parameter, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {child.name: json_schema(child) for child in children},
    }
    if required := [child.name for child in children if child.required]:
        schema["required"] = required
    return schema


def describe_models() -> list[dict[str, Any]]:
    """The ``GET /v1/models`` catalog: each model's parameters, defaults and output formats."""
    return [_describe(model) for model in c.Model]


def _describe(model: c.Model) -> dict[str, Any]:
    parameters = PARAMETERS[model]
    return {
        "id": model.value,
        "name": MODELS[model].name,
        "description": MODELS[model].description,
        "parameters": {p.name: json_schema(p) for p in parameters},
        "required": [p.name for p in parameters if p.required],
        "output": {
            "container": "mp4",
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "fps": c.FPS,
            "size": _output_sizes(model),
        },
    }


def _output_sizes(model: c.Model) -> dict[str, Any]:
    if model is c.Model.I2V:
        return {
            str(mode): f"short side {short}, aspect of the first image"
            for mode, short in c.SHORT_SIDE.items()
        }
    return {
        str(mode): {
            str(ratio): "{}x{}".format(
                *c.frame_size_for_aspect(
                    short_side=short, width=ratio.sides[0], height=ratio.sides[1]
                )
            )
            for ratio in c.AspectRatio
        }
        for mode, short in c.SHORT_SIDE.items()
    }
