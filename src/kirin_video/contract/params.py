"""Request validation: one check function per model, each message naming field, rule and value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.netpolicy import parse_callback_url

_SHOWN_CHARS = 60
_JSON_TYPES = (dict, list, tuple, int, float, bool, type(None))
_KINDS: dict[type, str] = {dict: "an object", list: "an array", tuple: "an array"}


def shown(value: Any) -> str:
    """A short, safe rendering of a sent value for an error message."""
    if isinstance(value, str):
        if len(value) > _SHOWN_CHARS:
            return f"a string of {len(value)} characters starting {value[:24]!r}"
        return repr(value)
    text = _as_json(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{_KINDS.get(type(value), 'a value')} {text[:40]}…"


def _as_json(value: Any) -> str:
    """A sent value in JSON's words (``true``, ``null``, ``{"a": 1}``), never Python's."""
    if not isinstance(value, _JSON_TYPES):
        return repr(value)  # a value of our own making (a file part) says what it is
    try:
        return json.dumps(value, ensure_ascii=True, default=repr)
    except ValueError:  # an integer of more digits than Python writes out
        return "a number with too many digits"


def _fail(code: ErrorCode, field_name: str, rule: str, value: Any) -> InvalidRequest:
    return InvalidRequest(f"{field_name}: {rule}; got {shown(value)}", code=code)


@dataclass(frozen=True)
class ImageInput:
    """One image as the client sent it (base64 or URL), before intake decodes it."""

    field: str
    role: str  # "first", "last" or "reference"
    value: str
    check_aspect: bool = True


@dataclass(frozen=True)
class Params:
    """A validated create request; images are still as sent."""

    model: c.Model
    images: tuple[ImageInput, ...]
    prompt: str | None = None
    negative_prompt: str | None = None
    mode: str = c.DEFAULT_MODE
    duration: int = c.DEFAULT_DURATION
    aspect_ratio: str | None = None
    cfg_scale: float | None = None
    watermark: bool = False
    seed: int | None = None
    callback_url: str | None = None
    external_task_id: str | None = None
    #: Names sent that the model does not have, kept so that every read of the task shows them.
    ignored_params: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """The stored, JSON-safe parameters (images are stored apart)."""
        ignored = {"ignored_params": list(self.ignored_params)} if self.ignored_params else {}
        return {
            **ignored,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "mode": self.mode,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
            "cfg_scale": self.cfg_scale,
            "watermark": self.watermark,
            "seed": self.seed,
        }


#: Names read for every model beside the catalog's (``callback``: the i2v document's spelling).
ALIASES = ("callback",)


def parse_params(body: Any) -> Params:
    """Check a create body against the contract; raise ``InvalidRequest`` on the first breach."""
    if not isinstance(body, dict):
        raise _fail(ErrorCode.BODY_INVALID, "body", "must be a JSON object", body)
    model = body.get("model")
    if not isinstance(model, str) or model not in {m.value for m in c.Model}:
        allowed = " or ".join(m.value for m in c.Model)
        raise _fail(ErrorCode.UNKNOWN_MODEL, "model", f"must be {allowed}", model)
    if model == c.Model.I2V:
        return _check_i2v(body)
    return _check_multi(body)


def _check_i2v(body: dict[str, Any]) -> Params:
    images: list[ImageInput] = []
    for name, role, aspect in (("image", "first", True), ("image_tail", "last", False)):
        value = _optional_str(body, name)
        if value:
            images.append(ImageInput(field=name, role=role, value=value, check_aspect=aspect))
    if not images:
        raise _fail(
            ErrorCode.IMAGE_MISSING,
            "image",
            "image or image_tail must be present and non-empty",
            body.get("image"),
        )
    mode = _mode(body)
    if any(image.role == "last" for image in images) and mode != "pro":
        raise _fail(
            ErrorCode.NOT_SUPPORTED_IN_MODE, "image_tail", "is supported only with mode 'pro'", mode
        )
    return Params(
        model=c.Model.I2V,
        images=tuple(images),
        prompt=_prompt(body, required=False),
        cfg_scale=_cfg_scale(body),
        mode=mode,
        **_common(body),
    )


def _check_multi(body: dict[str, Any]) -> Params:
    return Params(
        model=c.Model.MULTI_I2V,
        images=_image_list(body),
        prompt=_prompt(body, required=True),
        aspect_ratio=_aspect_ratio(body),
        mode=_mode(body),
        **_common(body),
    )


def _common(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "negative_prompt": _negative_prompt(body),
        "duration": _duration(body),
        "watermark": _watermark(body),
        "seed": _seed(body),
        "callback_url": _callback_url(body),
        "external_task_id": _external_task_id(body),
    }


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _fail(ErrorCode.BODY_INVALID, name, "must be a string", value)


def _image_list(body: dict[str, Any]) -> tuple[ImageInput, ...]:
    items = body.get("image_list")
    rule = f'must be an array of 1-{c.MAX_REFERENCE_IMAGES} objects {{"image": str}}'
    if items is None or items == []:
        raise _fail(ErrorCode.IMAGE_MISSING, "image_list", rule, items)
    if not isinstance(items, list):
        raise _fail(ErrorCode.BODY_INVALID, "image_list", rule, items)
    if len(items) > c.MAX_REFERENCE_IMAGES:
        raise InvalidRequest(
            f"image_list: at most {c.MAX_REFERENCE_IMAGES} images; got {len(items)}",
            code=ErrorCode.TOO_MANY_IMAGES,
        )
    images = []
    for index, item in enumerate(items):
        name = f"image_list[{index}]"
        if not isinstance(item, dict):
            raise _fail(ErrorCode.BODY_INVALID, name, 'must be an object {"image": str}', item)
        value = _optional_str(item, "image") if "image" in item else None
        if not value:
            raise _fail(
                ErrorCode.IMAGE_MISSING,
                f"{name}.image",
                "must be present and non-empty",
                item.get("image"),
            )
        images.append(ImageInput(field=f"{name}.image", role="reference", value=value))
    return tuple(images)


def _text(body: dict[str, Any], name: str, *, min_chars: int, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    rule = f"must be {min_chars}-{c.MAX_PROMPT_CHARS} characters"
    if value is None:
        raise _fail(ErrorCode.PROMPT_INVALID, name, f"is required and {rule}", value)
    if not isinstance(value, str):
        raise _fail(ErrorCode.BODY_INVALID, name, "must be a string", value)
    if not min_chars <= len(value) <= c.MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"{name}: {rule}; got {len(value)} characters", code=ErrorCode.PROMPT_INVALID
        )
    return value


def _prompt(body: dict[str, Any], *, required: bool) -> str | None:
    return _text(body, "prompt", min_chars=1, required=required)


def _negative_prompt(body: dict[str, Any]) -> str | None:
    return _text(body, "negative_prompt", min_chars=0, required=False) or None


def _choice(
    body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str, code: ErrorCode
) -> str:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value in allowed:
        return value
    if not isinstance(value, str):
        raise _fail(ErrorCode.BODY_INVALID, name, "must be a string", value)
    raise _fail(code, name, "must be one of " + ", ".join(allowed), value)


def _mode(body: dict[str, Any]) -> str:
    return _choice(body, "mode", c.MODES, c.DEFAULT_MODE, ErrorCode.MODE_INVALID)


def _aspect_ratio(body: dict[str, Any]) -> str:
    return _choice(
        body,
        "aspect_ratio",
        c.ASPECT_RATIOS,
        c.DEFAULT_ASPECT_RATIO,
        ErrorCode.ASPECT_RATIO_INVALID,
    )


def _duration(body: dict[str, Any]) -> int:
    value = body.get("duration")
    if value is None:
        return c.DEFAULT_DURATION
    rule = "must be " + " or ".join(f'"{d}"' for d in c.DURATIONS)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(ErrorCode.BODY_INVALID, "duration", rule, value)
    for allowed in c.DURATIONS:
        if value in (allowed, str(allowed)):
            return allowed
    raise _fail(ErrorCode.DURATION_INVALID, "duration", rule, value)


def _cfg_scale(body: dict[str, Any]) -> float:
    value = body.get("cfg_scale")
    if value is None:
        return c.DEFAULT_CFG_SCALE
    low, high = c.CFG_SCALE_RANGE
    rule = f"must be a number in [{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(ErrorCode.BODY_INVALID, "cfg_scale", rule, value)
    if not low <= value <= high:
        raise _fail(ErrorCode.CFG_SCALE_INVALID, "cfg_scale", rule, value)
    return float(value)


def _watermark(body: dict[str, Any]) -> bool:
    value = body.get("watermark_info")
    if value is None:
        return False
    enabled = value.get("enabled", False) if isinstance(value, dict) else None
    if not isinstance(enabled, bool):
        raise _fail(
            ErrorCode.BODY_INVALID,
            "watermark_info",
            'must be an object {"enabled": true|false}',
            value,
        )
    return enabled


def _seed(body: dict[str, Any]) -> int | None:
    value = body.get("seed")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= c.MAX_SEED:
        raise _fail(ErrorCode.BODY_INVALID, "seed", f"must be an integer 0-{c.MAX_SEED}", value)
    return value


def _callback_url(body: dict[str, Any]) -> str | None:
    # the i2v document also lists the field as `callback`; `callback_url` wins when both are sent
    name = "callback_url" if body.get("callback_url") is not None else "callback"
    value = body.get(name)
    if value is None:
        return None
    rule = "must be an absolute http or https URL"
    if not isinstance(value, str):
        raise _fail(ErrorCode.BODY_INVALID, name, rule, value)
    try:
        parse_callback_url(value)
    except ValueError as exc:
        raise _fail(ErrorCode.CALLBACK_URL_INVALID, name, rule, value) from exc
    return value


def _external_task_id(body: dict[str, Any]) -> str | None:
    value = body.get("external_task_id")
    if value is None:
        return None
    rule = f"must be a string of 1-{c.MAX_EXTERNAL_ID_CHARS} characters"
    if not isinstance(value, str) or not 1 <= len(value) <= c.MAX_EXTERNAL_ID_CHARS:
        raise _fail(ErrorCode.EXTERNAL_ID_TAKEN, "external_task_id", rule, value)
    return value
