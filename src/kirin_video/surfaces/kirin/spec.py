"""The model-spec service the official ``vtrix`` CLI reads before it runs a model.

``vtrix run MODEL`` fetches ``/api/v1/skill/models/{id}/spec`` (no auth), checks and converts its
``--param`` values by the spec's parameters, then POSTs to the spec's ``api.endpoint`` and polls
``{endpoint}/task/{id}``. Every answer, errors included, is ``{"data": …, "status": {"code",
"message"}}``; the parameters are generated from the contract's parameter table.
"""

from __future__ import annotations

import json
import math
import shlex
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, KirinError
from kirin_video.contract.parameters import MODELS, PARAMETERS, JsonScalar, Parameter, ParamType
from kirin_video.surfaces.base import surface_route
from kirin_video.surfaces.deps import BackendDep

#: Where a spec sends its client: the kirin surface's create route, under the hosted prefix.
GENERATION_PATH = "/model/v1/generation"
VENDOR = "kirin-video"
MODEL_TYPE = "video"
#: How long a spec may be cached: it changes only when the server is redeployed.
SPEC_MAX_AGE_S = 300

DataT = TypeVar("DataT")


class SpecStatus(BaseModel):
    code: int = Field(description="200 on success, else the HTTP status")
    message: str


class Envelope(BaseModel, Generic[DataT]):
    """Every answer of the service: the data, and a status the CLI checks first."""

    data: DataT
    status: SpecStatus


class Failure(BaseModel):
    """An error answer: no data, the HTTP status and a message naming what was wrong."""

    data: None
    status: SpecStatus


class ModelSummary(BaseModel):
    id: str
    name: str
    type: str
    description: str
    input_modalities: list[str]
    output_modalities: list[str]


class ModelPage(BaseModel):
    models: list[ModelSummary]
    total: int
    page: int
    page_size: int
    total_pages: int


class SpecApi(BaseModel):
    endpoint: str = Field(description="POST here to create a task; poll {endpoint}/task/{id}")
    method: Literal["POST"] = "POST"
    headers: dict[str, str]


class Constraints(BaseModel):
    """What the CLI checks before sending; ``enum`` values are strings, always."""

    enum: list[str] | None = None
    default: JsonScalar | None = None
    min: int | float | None = None
    max: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    max_items: int | None = None


class SpecParameter(BaseModel):
    name: str
    path: str = Field(description="dotted path; a child of an object is given as parent.child")
    type: ParamType
    required: bool
    description: str
    constraints: Constraints | None = None
    example: Any = None
    children: list[SpecParameter] | None = None


class ModelSpec(BaseModel):
    model_id: str
    name: str
    vendor: str
    type: str
    agent_prompt: str
    api: SpecApi
    parameters: list[SpecParameter]


def failure(exc: KirinError) -> JSONResponse:
    """Any error of the service, in its envelope: the CLI prints ``status <code>: <message>``."""
    status = SpecStatus(code=exc.http_status, message=exc.message)
    body = Failure(data=None, status=status).model_dump()
    return JSONResponse(body, status_code=exc.http_status)


router = APIRouter(
    prefix="/api/v1/skill/models", tags=["model spec"], route_class=surface_route(failure)
)

_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": Failure}, 404: {"model": Failure}}
_OK = SpecStatus(code=200, message="success")


@router.get(
    "",
    summary="The models, a page at a time (what `vtrix models list` reads)",
    response_model=Envelope[ModelPage],
    responses=_ERRORS,
)
def list_models(
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=c.MAX_LIST_LIMIT)] = c.DEFAULT_LIST_LIMIT,
    kind: Annotated[str | None, Query(alias="type", description="e.g. video")] = None,
    keywords: Annotated[str | None, Query(description="words the model must mention")] = None,
) -> Envelope[ModelPage]:
    found = [summary for summary in _summaries() if _matches(summary, kind, keywords)]
    start = (page - 1) * page_size
    data = ModelPage(
        models=found[start : start + page_size],
        total=len(found),
        page=page,
        page_size=page_size,
        total_pages=math.ceil(len(found) / page_size),
    )
    return Envelope[ModelPage](data=data, status=_OK)


@router.get(
    "/{model_id}/spec",
    summary="How to call one model: endpoint, parameters and their rules (what `vtrix run` reads)",
    response_model=Envelope[ModelSpec],
    response_model_exclude_none=True,
    responses=_ERRORS,
)
def model_spec(
    model_id: str, request: Request, response: Response, backend: BackendDep
) -> Envelope[ModelSpec]:
    model = _known(model_id)
    response.headers["Cache-Control"] = f"public, max-age={SPEC_MAX_AGE_S}"
    if backend.settings.public_url:
        base = backend.settings.public_url
    else:  # built from the Host header: a shared cache must keep one copy per host
        base = str(request.base_url)
        response.headers["Vary"] = "Host"
    endpoint = base.rstrip("/") + GENERATION_PATH
    spec = ModelSpec(
        model_id=model.value,
        name=MODELS[model].name,
        vendor=VENDOR,
        type=MODEL_TYPE,
        agent_prompt=agent_prompt(model, endpoint=endpoint),
        api=SpecApi(endpoint=endpoint, headers={"Authorization": "Bearer {{API_KEY}}"}),
        parameters=[spec_parameter(p) for p in PARAMETERS[model]],
    )
    return Envelope[ModelSpec](data=spec, status=_OK)


def _known(model_id: str) -> c.Model:
    try:
        return c.Model(model_id)
    except ValueError:
        known = ", ".join(m.value for m in c.Model)
        raise KirinError(
            f"model_id: no model {model_id!r}; the models are {known}",
            code=ErrorCode.UNKNOWN_MODEL,
            http_status=404,
        ) from None


def _summaries() -> list[ModelSummary]:
    return [
        ModelSummary(
            id=model.value,
            name=info.name,
            type=MODEL_TYPE,
            description=info.description,
            input_modalities=list(info.input_modalities),
            output_modalities=list(info.output_modalities),
        )
        for model, info in MODELS.items()
    ]


def _matches(summary: ModelSummary, kind: str | None, keywords: str | None) -> bool:
    """Of the type asked for (any case), and mentioning every keyword in its id, name or text."""
    if kind and kind.strip().lower() != summary.type:
        return False
    text = f"{summary.id} {summary.name} {summary.description}".lower()
    return all(word in text for word in (keywords or "").lower().replace(",", " ").split())


def spec_parameter(parameter: Parameter, parent: str = "") -> SpecParameter:
    """One parameter as the CLI reads it; a child's path is its parent's, dotted."""
    path = f"{parent}.{parameter.name}" if parent else parameter.name
    constraints = Constraints(
        enum=list(parameter.choices) or None,
        default=parameter.default,
        min=parameter.minimum,
        max=parameter.maximum,
        min_length=parameter.min_length,
        max_length=parameter.max_length,
        max_items=parameter.max_items,
    )
    children = [spec_parameter(child, path) for child in parameter.children]
    return SpecParameter(
        name=parameter.name,
        path=path,
        type=parameter.type,
        required=parameter.required,
        description=parameter.description,
        constraints=constraints if constraints.model_dump(exclude_none=True) else None,
        example=parameter.example,
        children=children or None,
    )


_SUMMARY = {
    c.Model.I2V: (
        "makes a video from a first frame (image), a last frame (image_tail, only with "
        f"mode={c.Mode.PRO}), or both: give at least one. The video keeps the aspect ratio of "
        "the first image given; the prompt, if any, says what moves and how."
    ),
    c.Model.MULTI_I2V: (
        f"makes a video from 1-{c.MAX_REFERENCE_IMAGES} reference images (image_list) and a "
        "prompt (required): the subjects of the images appear together, doing what the prompt "
        "says. The frame shape comes from aspect_ratio."
    ),
}
#: The parameters the example command shows, where the model has them.
_EXAMPLE_PARAMETERS = ("image", "image_list", "prompt", "mode", "duration")


def agent_prompt(model: c.Model, *, endpoint: str) -> str:
    """What an agent needs to call the model well: what it does, its parameters, a command."""
    durations = " or ".join(d.value for d in c.Duration)
    sizes = ", ".join(f"{mode} {short}p" for mode, short in c.SHORT_SIDE.items())
    lines = [
        f"{model.value} ({MODELS[model].name}) {_SUMMARY[model]} Output: an MP4 (H.264) of "
        f"{durations} seconds at {c.FPS} fps, short side by mode ({sizes}), in "
        "output[0].content[0].url of the completed task.",
        "",
        "Parameters (images: http(s) URLs or raw base64 without a data: prefix):",
        *(_describe(p) for p in PARAMETERS[model]),
        "",
        "Example:",
        "vtrix run " + " ".join([model.value, *_example_flags(model)]),
        "",
        f"POST {endpoint}",
        f"GET {endpoint}/task/{{{{id}}}} until status is completed or failed",
    ]
    return "\n".join(lines)


def _describe(parameter: Parameter, parent: str = "", indent: str = "") -> str:
    """One parameter line for the agent (a child's under its parent, by its dotted path)."""
    path = f"{parent}.{parameter.name}" if parent else parameter.name
    facts = [str(parameter.type), "required" if parameter.required else "optional"]
    if parameter.choices:
        facts.append("one of " + ", ".join(parameter.choices))
    if parameter.default is not None:
        facts.append(f"default {json.dumps(parameter.default)}")
    line = f"{indent}- {path} ({'; '.join(facts)}): {parameter.description}"
    if parameter.type is ParamType.ARRAY:
        line += " Pass it as a JSON string."
    children = [_describe(child, path, indent + "  ") for child in parameter.children]
    return "\n".join([line, *children])


def _example_flags(model: c.Model) -> list[str]:
    flags = []
    for parameter in PARAMETERS[model]:
        if parameter.name in _EXAMPLE_PARAMETERS and parameter.example is not None:
            value = parameter.example
            text = value if isinstance(value, str) else json.dumps(value)
            flags.append(f"--param {parameter.name}={shlex.quote(text)}")
    return flags
