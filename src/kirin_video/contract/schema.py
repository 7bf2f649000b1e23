"""Pydantic shapes of the create requests: they describe them in the OpenAPI schema.

Validation itself is done by ``params.parse_params`` (its messages and codes are the contract's);
the request models here are generated from the parameter table (``parameters.PARAMETERS``), so
the schema clients read states the same rules as ``GET /v1/models`` and the model spec.
"""

from __future__ import annotations

from types import GenericAlias
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from kirin_video.contract import catalog as c
from kirin_video.contract.parameters import IMAGE_KEYWORD, PARAMETERS, Parameter, ParamType

Image = Annotated[str, Field(description="raw base64 (no data: prefix) or an http(s) URL")]
Prompt = Annotated[str, Field(min_length=1, max_length=c.MAX_PROMPT_CHARS)]
NegativePrompt = Annotated[str, Field(max_length=c.MAX_PROMPT_CHARS)]

_SCALARS: dict[ParamType, type] = {
    ParamType.STRING: str,
    ParamType.INTEGER: int,
    ParamType.NUMBER: float,
    ParamType.BOOLEAN: bool,
}
#: Models of nested objects by name: a shape used by both models is one schema component.
_SHAPES: dict[str, type[BaseModel]] = {}


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _shape(name: str, children: tuple[Parameter, ...]) -> type[BaseModel]:
    """The model of an object parameter (or of an array's items) from its children."""
    if name not in _SHAPES:
        fields: dict[str, Any] = {child.name: _field(child) for child in children}
        _SHAPES[name] = create_model(name, **fields)
    return _SHAPES[name]


def _annotation(parameter: Parameter) -> Any:
    """The parameter's type, with its rules as pydantic constraints."""
    base: Any
    if parameter.enum is not None:
        base = parameter.enum
    elif parameter.type is ParamType.OBJECT:
        base = _shape(_camel(parameter.name), parameter.children)
    elif parameter.type is ParamType.ARRAY:
        item = _camel(parameter.name.removesuffix("_list")) + "Item"
        base = GenericAlias(list, (_shape(item, parameter.children),))
    else:
        base = _SCALARS[parameter.type]
    is_array = parameter.type is ParamType.ARRAY
    rules = Field(
        ge=parameter.minimum,
        le=parameter.maximum,
        min_length=parameter.min_items if is_array else parameter.min_length,
        max_length=parameter.max_items if is_array else parameter.max_length,
    )
    return Annotated[base, rules]


def _field(parameter: Parameter) -> tuple[Any, Any]:
    """Type and field of a parameter: required, defaulted, or optional (``null``); image rules."""
    annotation = _annotation(parameter)
    if not parameter.required and parameter.default is None:
        annotation = annotation | None
    info = Field(
        ... if parameter.required else parameter.default,
        description=parameter.description,
        examples=None if parameter.example is None else [parameter.example],
        json_schema_extra=None
        if parameter.image is None
        else {IMAGE_KEYWORD: parameter.image.schema()},
    )
    return annotation, info


def _request_model(model: c.Model, name: str, doc: str) -> type[BaseModel]:
    """A create body of ``model``: its id (the discriminator) and its table's parameters."""
    fields: dict[str, Any] = {parameter.name: _field(parameter) for parameter in PARAMETERS[model]}
    model_id: Any = Literal.__getitem__(model.value)  # the id, known at run time
    return create_model(
        name, __config__=ConfigDict(extra="allow"), __doc__=doc, model=(model_id, ...), **fields
    )


I2VRequest = _request_model(
    c.Model.I2V,
    "I2VRequest",
    f"``{c.Model.I2V}``: at least one of ``image`` and ``image_tail`` (the tail needs pro).",
)
MultiI2VRequest = _request_model(
    c.Model.MULTI_I2V,
    "MultiI2VRequest",
    f"``{c.Model.MULTI_I2V}``: 1-{c.MAX_REFERENCE_IMAGES} reference images and a prompt.",
)

if TYPE_CHECKING:
    ImageItem = BaseModel  # the type checker sees its base; the class is generated above
else:
    ImageItem = _SHAPES["ImageItem"]  # one item of ``image_list``; the Kling routes share it


class ModelList(BaseModel):
    data: list[dict[str, Any]]
