"""The parameter table is the one source: the validator keeps its rules, the schemas state them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import InvalidRequest
from kirin_video.contract.parameters import (
    IMAGE_KEYWORD,
    PARAMETERS,
    Parameter,
    ParamType,
    describe_models,
    json_schema,
)
from kirin_video.contract.params import Params, parse_params
from kirin_video.contract.schema import I2VRequest, MultiI2VRequest

#: The smallest body each model accepts; images stay as sent (intake decodes them later).
MINIMAL: dict[c.Model, dict[str, Any]] = {
    c.Model.I2V: {"model": c.Model.I2V.value, "image": "aGk="},
    c.Model.MULTI_I2V: {
        "model": c.Model.MULTI_I2V.value,
        "image_list": [{"image": "aGk="}],
        "prompt": "a cat",
    },
}
REQUEST_MODELS = {c.Model.I2V: I2VRequest, c.Model.MULTI_I2V: MultiI2VRequest}


def table(having: Callable[[Parameter], object] = bool) -> list[Any]:
    """The (model, parameter) pairs of the table whose parameter has something, as test cases."""
    return [
        pytest.param(model, parameter, id=f"{model.value}.{parameter.name}")
        for model, parameters in PARAMETERS.items()
        for parameter in parameters
        if having(parameter)
    ]


def _default(parameter: Parameter) -> Any:
    """The table's default; an object's is its children's defaults."""
    if parameter.type is ParamType.OBJECT:
        return {child.name: child.default for child in parameter.children}
    return parameter.default


def _with(model: c.Model, name: str, value: Any) -> dict[str, Any]:
    body = {**MINIMAL[model], name: value}
    if name == "image_tail":
        body["mode"] = c.Mode.PRO  # a last frame needs pro
    return body


def _refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_params(body)
    assert refused.value.message.startswith(f"{field}"), refused.value.message


def _stored(request: Params, name: str) -> Any:
    """What the validator made of a parameter, spelled as the wire spells it."""
    if name == "watermark_info":
        return {"enabled": request.watermark}
    value = getattr(request, name)
    return str(value) if name == "duration" else value


# The validator keeps the table's rules.


def test_enums_are_the_wire_strings_and_durations_convert_to_seconds() -> None:
    assert [d.value for d in c.Duration] == [str(s) for s in c.DURATIONS]
    assert c.Duration.of(c.DEFAULT_DURATION).seconds == c.DEFAULT_DURATION
    assert c.AspectRatio.TALL.sides == (9, 16)
    assert all(isinstance(mode, str) for mode in c.MODES)


@pytest.mark.parametrize(("model", "parameter"), table(lambda p: p.choices))
def test_every_choice_is_accepted_and_nothing_else(model: c.Model, parameter: Parameter) -> None:
    for choice in parameter.choices:
        assert _stored(parse_params(_with(model, parameter.name, choice)), parameter.name) == choice
    _refused(_with(model, parameter.name, "none-of-these"), parameter.name)


@pytest.mark.parametrize(("model", "parameter"), table(lambda p: _default(p) is not None))
def test_an_absent_parameter_gets_the_table_default(model: c.Model, parameter: Parameter) -> None:
    body = {k: v for k, v in MINIMAL[model].items() if k != parameter.name}
    assert _stored(parse_params(body), parameter.name) == _default(parameter)


@pytest.mark.parametrize(("model", "parameter"), table(lambda p: p.max_length))
def test_lengths_are_the_table_bounds(model: c.Model, parameter: Parameter) -> None:
    longest = "x" * parameter.max_length
    assert _stored(parse_params(_with(model, parameter.name, longest)), parameter.name) == longest
    _refused(_with(model, parameter.name, longest + "x"), parameter.name)
    if parameter.min_length:
        _refused(_with(model, parameter.name, "x" * (parameter.min_length - 1)), parameter.name)


@pytest.mark.parametrize(("model", "parameter"), table(lambda p: p.minimum is not None))
def test_numbers_are_within_the_table_range(model: c.Model, parameter: Parameter) -> None:
    step = 1 if parameter.type is ParamType.INTEGER else 0.01
    for edge in (parameter.minimum, parameter.maximum):
        assert _stored(parse_params(_with(model, parameter.name, edge)), parameter.name) == edge
    _refused(_with(model, parameter.name, parameter.minimum - step), parameter.name)
    _refused(_with(model, parameter.name, parameter.maximum + step), parameter.name)


@pytest.mark.parametrize(("model", "parameter"), table(lambda p: p.max_items))
def test_arrays_hold_at_most_max_items(model: c.Model, parameter: Parameter) -> None:
    most = [{"image": "aGk="}] * parameter.max_items
    assert len(parse_params(_with(model, parameter.name, most)).images) == parameter.max_items
    _refused(_with(model, parameter.name, [*most, {"image": "aGk="}]), parameter.name)
    _refused(_with(model, parameter.name, []), parameter.name)


@pytest.mark.parametrize(("model", "parameter"), table(lambda p: p.required))
def test_a_required_parameter_cannot_be_left_out(model: c.Model, parameter: Parameter) -> None:
    _refused({k: v for k, v in MINIMAL[model].items() if k != parameter.name}, parameter.name)


def test_i2v_needs_a_first_or_a_last_frame_so_neither_is_required_alone() -> None:
    names = {p.name: p for p in PARAMETERS[c.Model.I2V]}
    assert not names["image"].required and not names["image_tail"].required
    _refused({"model": c.Model.I2V.value}, "image")
    assert parse_params(_with(c.Model.I2V, "image_tail", "aGk=") | {"image": None}).images


# The published schemas state the table.


def _resolved(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A property's own rules: through ``$ref`` and past the ``null`` of an optional field."""
    merged = {k: v for k, v in schema.items() if k not in ("$ref", "anyOf")}
    if "$ref" in schema:
        merged = {**defs[schema["$ref"].rsplit("/", 1)[1]], **merged}
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            merged = {**_resolved(branch, defs), **merged}
    return merged


@pytest.mark.parametrize("model", list(c.Model))
def test_request_schema_has_the_table_parameters_and_required_set(model: c.Model) -> None:
    schema = REQUEST_MODELS[model].model_json_schema()
    assert set(schema["properties"]) == {"model"} | {p.name for p in PARAMETERS[model]}
    assert set(schema["required"]) == {"model"} | {p.name for p in PARAMETERS[model] if p.required}
    assert schema["properties"]["model"]["const"] == model.value


@pytest.mark.parametrize(("model", "parameter"), table())
def test_request_schema_states_each_rule_of_the_table(model: c.Model, parameter: Parameter) -> None:
    schema = REQUEST_MODELS[model].model_json_schema()
    stated = _resolved(schema["properties"][parameter.name], schema.get("$defs", {}))
    expected = json_schema(parameter)
    keywords = ("type", "enum", "default", "minimum", "maximum", "minLength", "maxLength")
    for keyword in (*keywords, IMAGE_KEYWORD):
        assert stated.get(keyword) == expected.get(keyword), keyword
    assert (stated.get("minItems"), stated.get("maxItems")) == (
        expected.get("minItems"),
        expected.get("maxItems"),
    )
    assert stated["description"] == parameter.description


def test_request_schema_enums_are_the_catalog_enums() -> None:
    defs = MultiI2VRequest.model_json_schema()["$defs"]
    assert defs["Mode"]["enum"] == [m.value for m in c.Mode]
    assert defs["Duration"]["enum"] == [d.value for d in c.Duration]
    assert defs["AspectRatio"]["enum"] == [r.value for r in c.AspectRatio]
    assert defs["ImageItem"]["required"] == ["image"]


@pytest.mark.parametrize("model", list(c.Model))
def test_catalog_describes_each_parameter_by_its_table_entry(model: c.Model) -> None:
    described = {entry["id"]: entry for entry in describe_models()}[model.value]
    assert described["parameters"] == {p.name: json_schema(p) for p in PARAMETERS[model]}
    assert described["required"] == [p.name for p in PARAMETERS[model] if p.required]


def test_catalog_output_sizes_are_the_output_geometry() -> None:
    multi = {entry["id"]: entry for entry in describe_models()}[c.Model.MULTI_I2V.value]
    for mode in c.Mode:
        for ratio in c.AspectRatio:
            geometry = c.output_geometry(
                model=c.Model.MULTI_I2V, mode=mode, duration=c.DEFAULT_DURATION, aspect_ratio=ratio
            )
            size = multi["output"]["size"][mode][ratio]
            assert size == f"{geometry.width}x{geometry.height}"
    assert multi["output"]["fps"] == geometry.fps == c.FPS


def test_json_schema_of_an_object_lists_its_children() -> None:
    watermark = {p.name: p for p in PARAMETERS[c.Model.I2V]}["watermark_info"]
    assert json_schema(watermark)["properties"]["enabled"] == {
        "type": "boolean",
        "description": watermark.children[0].description,
        "default": False,
    }
