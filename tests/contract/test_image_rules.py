"""The image rules in machine-readable form (``x-image``) are the ones the server enforces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.parameters import (
    IMAGE_KEYWORD,
    IMAGE_RULES,
    PARAMETERS,
    TAIL_IMAGE_RULES,
    ImageRules,
    Parameter,
    describe_models,
)
from kirin_video.contract.params import parse_params
from kirin_video.contract.schema import I2VRequest, MultiI2VRequest
from kirin_video.media.intake import decode_image
from tests.conftest import make_image

#: Bodies that send every image field of each model, so the validator names them all.
EVERY_IMAGE: dict[c.Model, dict[str, Any]] = {
    c.Model.I2V: {"model": c.Model.I2V, "image": "aGk=", "image_tail": "aGk=", "mode": "pro"},
    c.Model.MULTI_I2V: {
        "model": c.Model.MULTI_I2V,
        "image_list": [{"image": "aGk="}] * c.MAX_REFERENCE_IMAGES,
        "prompt": "a cat",
    },
}


def image_parameters(model: c.Model) -> Iterator[tuple[str, Parameter]]:
    """Each string parameter of the table, at its path (``image_list[].image`` for items)."""
    for parameter in PARAMETERS[model]:
        for child in parameter.children:
            yield f"{parameter.name}[].{child.name}", child
        yield parameter.name, parameter


def rules_by_path(model: c.Model) -> dict[str, ImageRules]:
    return {path: p.image for path, p in image_parameters(model) if p.image is not None}


def validated_fields(model: c.Model) -> dict[str, bool]:
    """Each image field the validator reads, by table path, with whether it checks the aspect."""
    images = parse_params(EVERY_IMAGE[model]).images
    return {_path(image.field): image.check_aspect for image in images}


def _path(field: str) -> str:
    head, _, rest = field.partition("[")
    return f"{head}[].{rest.split('.', 1)[1]}" if rest else head


def refusal(data: bytes, *, check_aspect: bool = True) -> str | None:
    """The intake's message for a picture, or None when it is taken."""
    try:
        decode_image(data, field="image", check_aspect=check_aspect)
    except InvalidRequest as exc:
        assert exc.code == ErrorCode.IMAGE_INVALID
        return exc.message
    return None


@pytest.mark.parametrize("model", list(c.Model))
def test_every_field_the_validator_reads_as_an_image_has_rules(model: c.Model) -> None:
    rules = rules_by_path(model)
    fields = validated_fields(model)
    assert set(rules) == set(fields)
    for path, checks_aspect in fields.items():
        assert ("aspect" in rules[path].schema()) is checks_aspect, path


def test_only_the_last_frame_goes_without_the_aspect_check() -> None:
    assert rules_by_path(c.Model.I2V) == {"image": IMAGE_RULES, "image_tail": TAIL_IMAGE_RULES}
    assert rules_by_path(c.Model.MULTI_I2V) == {"image_list[].image": IMAGE_RULES}
    assert "aspect" not in TAIL_IMAGE_RULES.schema()


def test_the_catalog_and_the_request_schemas_carry_the_rules() -> None:
    catalog = {entry["id"]: entry["parameters"] for entry in describe_models()}
    i2v, multi = catalog[c.Model.I2V], catalog[c.Model.MULTI_I2V]
    assert i2v["image"][IMAGE_KEYWORD] == IMAGE_RULES.schema()
    assert i2v["image_tail"][IMAGE_KEYWORD] == TAIL_IMAGE_RULES.schema()
    assert multi["image_list"]["items"]["properties"]["image"][IMAGE_KEYWORD] == (
        IMAGE_RULES.schema()
    )
    assert IMAGE_KEYWORD not in i2v["prompt"]
    request = I2VRequest.model_json_schema()["properties"]
    assert request["image"][IMAGE_KEYWORD] == IMAGE_RULES.schema()
    assert request["image_tail"][IMAGE_KEYWORD] == TAIL_IMAGE_RULES.schema()
    item = MultiI2VRequest.model_json_schema()["$defs"]["ImageItem"]["properties"]["image"]
    assert item[IMAGE_KEYWORD] == IMAGE_RULES.schema()


def test_formats_and_media_types_name_what_the_intake_opens() -> None:
    rules = IMAGE_RULES.schema()
    Image.init()  # every plugin registered, so MIME knows them all
    assert rules["media_types"] == [Image.MIME[name] for name in rules["formats"]]
    for name in rules["formats"]:
        assert refusal(make_image(320, 320, fmt=name)) is None, name
    assert "JPEG or PNG" in str(refusal(make_image(320, 320, fmt="GIF")))


def test_max_bytes_is_the_intake_limit() -> None:
    limit = IMAGE_RULES.schema()["max_bytes"]
    assert "at most" in str(refusal(b"\0" * (limit + 1)))
    assert "at most" not in str(refusal(b"\0" * limit))  # refused, but as no image at all


def test_min_side_is_the_intake_limit() -> None:
    side = IMAGE_RULES.schema()["min_side"]
    assert refusal(make_image(side, side)) is None
    assert "at least" in str(refusal(make_image(side - 1, side)))
    assert "at least" in str(refusal(make_image(side, side - 1)))


def test_aspect_bounds_are_the_intake_limits() -> None:
    side = IMAGE_RULES.schema()["min_side"]
    aspect = IMAGE_RULES.schema()["aspect"]
    widest = round(side * aspect["max"])
    tallest = round(side / aspect["min"])
    assert refusal(make_image(widest, side)) is None
    assert refusal(make_image(side, tallest)) is None
    assert "aspect ratio" in str(refusal(make_image(widest + 1, side)))
    assert "aspect ratio" in str(refusal(make_image(side, tallest + 1)))
    assert refusal(make_image(widest + 1, side), check_aspect=False) is None
