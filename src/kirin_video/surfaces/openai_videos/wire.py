"""OpenAI's Videos wire as the contract's inputs: sizes, seconds, model names, images.

A create request is translated into the Kirin body and checked by ``parse_params``, so every
rule stays written once; what only this wire has (``size``, ``seconds``, ``input_reference``,
files) is checked here, each refusal naming the field as this wire spells it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from kirin_video.config import Settings
from kirin_video.contract import catalog as c
from kirin_video.contract.catalog import Model, Status
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import Params, parse_params, shown
from kirin_video.surfaces.openai_videos.body import LIST_FIELDS, Upload


def size_name(width: int, height: int) -> str:
    return f"{width}x{height}"


def _sizes() -> dict[str, tuple[c.Mode, c.AspectRatio]]:
    """Each mode's frame size for each aspect ratio: the sizes ``size`` may name."""
    sizes = {}
    for mode in c.Mode:
        for ratio in c.AspectRatio:
            wide, tall = ratio.sides
            frame = c.frame_size_for_aspect(short_side=c.SHORT_SIDE[mode], width=wide, height=tall)
            sizes[size_name(*frame)] = (mode, ratio)
    return sizes


#: ``size`` → the mode and aspect ratio it chooses: 1280x720 is std 16:9, 1080x1920 pro 9:16.
SIZES: dict[str, tuple[c.Mode, c.AspectRatio]] = _sizes()
DEFAULT_SIZE = next(
    n for n, pair in SIZES.items() if pair == (c.DEFAULT_MODE, c.DEFAULT_ASPECT_RATIO)
)
SECONDS = tuple(d.value for d in c.Duration)

#: Stored status → the four words OpenAI's poller knows (any other word ends its polling).
STATUS: dict[Status, str] = {
    Status.PENDING: "queued",
    Status.PROCESSING: "in_progress",
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}

#: Kirin parameters this wire sends under the same name.
SAME_NAME = ("prompt", "negative_prompt", "cfg_scale", "seed", "callback_url", "external_task_id")
#: Kirin names this wire spells otherwise: refused with the name to use instead.
RENAMED = {
    "image": "input_reference",
    "duration": "seconds",
    "mode": "size",
    "aspect_ratio": "size",
    "watermark_info": "watermark",
}
#: Where more reference images may come (the first is ``input_reference``).
MORE_REFERENCES = LIST_FIELDS
_DATA_URL_MARK = ";base64,"


@dataclass(frozen=True)
class ModelNames:
    """The other ``model`` names each Kirin model answers to (``KIRIN_OPENAI_*_MODELS``)."""

    i2v: tuple[str, ...] = ()
    multi: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> ModelNames:
        return cls(i2v=tuple(settings.openai_i2v_models), multi=tuple(settings.openai_multi_models))

    def model(self, name: Any, *, references: bool) -> Model:
        """The Kirin model ``name`` means; none named: multi if more references came, else i2v."""
        if name is None or name == "":
            return Model.MULTI_I2V if references else Model.I2V
        if isinstance(name, str):
            if name in {m.value for m in Model}:
                return Model(name)
            if name in self.i2v:
                return Model.I2V
            if name in self.multi:
                return Model.MULTI_I2V
        allowed = ", ".join([*(m.value for m in Model), *self.i2v, *self.multi])
        raise InvalidRequest(
            f"model: must be one of {allowed}; got {shown(name)}", code=ErrorCode.UNKNOWN_MODEL
        )


def parse_video_request(fields: dict[str, Any], *, names: ModelNames) -> Params:
    """Check a create request by the contract's rules, as the Kirin model it names."""
    _refuse_renamed(fields)
    where, more = _more_references(fields)
    model = names.model(fields.get("model"), references=bool(more))
    mode, ratio = _size(fields.get("size"))
    body: dict[str, Any] = {
        "model": model.value,
        "mode": mode.value,
        "duration": _seconds(fields.get("seconds")),
        **{name: fields[name] for name in SAME_NAME if name in fields},
    }
    if fields.get("watermark") is not None:
        body["watermark_info"] = {"enabled": _watermark(fields["watermark"])}
    if model is Model.I2V:
        spelled = _frames(fields, body, mode=mode, more_field=where if more else None)
    else:
        body["aspect_ratio"] = ratio.value
        spelled = _references(fields, body, where=where, more=more)
    params = parse_params(body)
    images = tuple(replace(i, field=spelled.get(i.field, i.field)) for i in params.images)
    return replace(params, images=images)


def _refuse_renamed(fields: dict[str, Any]) -> None:
    for kirin, ours in RENAMED.items():
        if fields.get(kirin) is not None:
            raise InvalidRequest(
                f"{kirin}: is spelled {ours} on /v1/videos; send {ours} instead "
                f"(got {kirin} {shown(fields[kirin])})"
            )


def _more_references(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    """Which field brought more reference images, and they (a lone one as a list of one)."""
    sent = [name for name in MORE_REFERENCES if fields.get(name) not in (None, [], "")]
    if len(sent) > 1:
        raise InvalidRequest(
            f"{sent[0]}: send more reference images as input_references or image_list, "
            f"not both; got both"
        )
    if not sent:
        return MORE_REFERENCES[0], []
    value = fields[sent[0]]
    return sent[0], value if isinstance(value, list) else [value]


def _size(value: Any) -> tuple[c.Mode, c.AspectRatio]:
    if value is None or value == "":
        return SIZES[DEFAULT_SIZE]
    if isinstance(value, str) and value in SIZES:
        return SIZES[value]
    by_mode = "; ".join(
        f"{', '.join(n for n, (m, _) in SIZES.items() if m is mode)} ({mode.value})"
        for mode in c.Mode
    )
    raise InvalidRequest(
        f"size: must be one of {by_mode}; got {shown(value)}", code=ErrorCode.MODE_INVALID
    )


def _seconds(value: Any) -> int:
    if value is None or value == "":
        return c.DEFAULT_DURATION
    if not isinstance(value, bool) and isinstance(value, str | int) and str(value) in SECONDS:
        return int(value)
    allowed = " or ".join(f'"{s}"' for s in SECONDS)
    raise InvalidRequest(
        f"seconds: must be {allowed}; got {shown(value)}", code=ErrorCode.DURATION_INVALID
    )


def _watermark(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidRequest(f"watermark: must be true or false; got {shown(value)}")


def _frames(
    fields: dict[str, Any], body: dict[str, Any], *, mode: c.Mode, more_field: str | None
) -> dict[str, str]:
    """i2v: ``input_reference`` is the first frame, ``image_tail`` the last."""
    if more_field is not None:
        raise InvalidRequest(
            f"{more_field}: more reference images need model {Model.MULTI_I2V}; "
            f"got model {Model.I2V}",
            code=ErrorCode.NOT_SUPPORTED_IN_MODE,
        )
    first, last = _given(fields.get("input_reference")), _given(fields.get("image_tail"))
    if first is None and last is None:
        raise InvalidRequest(
            "input_reference: a first frame (input_reference) or a last frame "
            "(extra_body image_tail) is required; got neither",
            code=ErrorCode.IMAGE_MISSING,
        )
    if last is not None and mode is not c.Mode.PRO:
        pro = ", ".join(name for name, (m, _) in SIZES.items() if m is c.Mode.PRO)
        raise InvalidRequest(
            f"image_tail: a last frame needs a pro size ({pro}); "
            f"got size {shown(fields.get('size') or DEFAULT_SIZE)}",
            code=ErrorCode.NOT_SUPPORTED_IN_MODE,
        )
    if first is not None:
        body["image"] = image_text(first, field="input_reference")
    if last is not None:
        body["image_tail"] = image_text(last, field="image_tail")
    return {"image": "input_reference"}


def _references(
    fields: dict[str, Any], body: dict[str, Any], *, where: str, more: list[Any]
) -> dict[str, str]:
    """multi: ``input_reference`` is the first reference, the others follow it."""
    if _given(fields.get("image_tail")) is not None:
        raise InvalidRequest(
            f"image_tail: a last frame needs model {Model.I2V}; got model {Model.MULTI_I2V}",
            code=ErrorCode.NOT_SUPPORTED_IN_MODE,
        )
    first = _given(fields.get("input_reference"))
    sent = [("input_reference", first)] if first is not None else []
    sent += [(f"{where}[{index}]", value) for index, value in enumerate(more)]
    if not sent:
        raise InvalidRequest(
            f"input_reference: {Model.MULTI_I2V} needs 1-{c.MAX_REFERENCE_IMAGES} reference "
            "images (input_reference, then extra_body input_references); got none",
            code=ErrorCode.IMAGE_MISSING,
        )
    if len(sent) > c.MAX_REFERENCE_IMAGES:
        raise InvalidRequest(
            f"{where}: at most {c.MAX_REFERENCE_IMAGES} reference images in all, "
            f"input_reference included; got {len(sent)}",
            code=ErrorCode.TOO_MANY_IMAGES,
        )
    for name, value in sent:
        if _given(value) is None:
            raise InvalidRequest(
                f"{name}: must be an image; got {shown(value)}", code=ErrorCode.IMAGE_MISSING
            )
    body["image_list"] = [{"image": image_text(value, field=name)} for name, value in sent]
    return {f"image_list[{index}].image": name for index, (name, _) in enumerate(sent)}


def _given(value: Any) -> Any:
    return None if value in (None, "") else value


def image_text(value: Any, *, field: str) -> str:
    """An image as the contract takes it (base64 or a URL), from any form this wire sends."""
    if isinstance(value, Upload):
        return base64.b64encode(value.data).decode()
    if isinstance(value, dict):
        return image_text(_reference_object(value, field=field), field=f"{field}.image_url")
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{field}: must be an image file, an image URL or base64, or an object "
            f'{{"image_url": str}}; got {shown(value)}'
        )
    head, mark, tail = value.partition(_DATA_URL_MARK)
    if mark and head.lstrip()[:5].lower() == "data:":
        return tail  # OpenAI's image_url may be a data URL: the contract takes the base64
    return value


def _reference_object(value: dict[str, Any], *, field: str) -> Any:
    """``{"image_url": str}`` (or ``{"image_url": {"url": str}}``, or ``{"image": str}``)."""
    if value.get("file_id") is not None:
        raise InvalidRequest(
            f"{field}.file_id: uploaded file ids are not kept by this server; send the image "
            f"as a file or an image_url; got {shown(value['file_id'])}"
        )
    url = value.get("image_url", value.get("image"))
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest(
            f'{field}: must be an object {{"image_url": str}}; got {shown(value)}',
            code=ErrorCode.IMAGE_MISSING,
        )
    return url
