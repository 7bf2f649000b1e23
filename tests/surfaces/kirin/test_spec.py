"""The model-spec service, decoded as strictly as the official ``vtrix`` CLI decodes it.

The CLI (Go) reads each answer into typed structs: a value of another JSON type (an ``enum`` of
numbers, a ``required`` that is not a boolean) fails the decode, and the CLI refuses the model.
The mirrors below are those structs, strict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, ValidationError

from kirin_video.contract import catalog as c
from kirin_video.contract.parameters import PARAMETERS, Parameter
from tests.conftest import KEY_A, bearer

SPEC = "/api/v1/skill/models/{}/spec"
LIST = "/api/v1/skill/models"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class CliStatus(_Strict):
    code: int
    message: str


class CliConstraints(_Strict):
    enum: list[str] | None = None
    default: Any = None
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    max_items: int | None = None


class CliParam(_Strict):
    name: str
    path: str
    type: Literal["string", "integer", "number", "boolean", "array", "object"]
    required: bool
    description: str
    constraints: CliConstraints | None = None
    example: Any = None
    children: list[CliParam] | None = None


class CliApi(_Strict):
    endpoint: str
    method: str
    headers: dict[str, str]


class CliSpec(_Strict):
    model_id: str
    name: str
    vendor: str
    type: str
    api: CliApi
    parameters: list[CliParam]
    agent_prompt: str


class CliSpecAnswer(_Strict):
    data: CliSpec
    status: CliStatus


class CliModel(_Strict):
    id: str
    name: str
    type: str
    description: str
    input_modalities: list[str]
    output_modalities: list[str]


class CliModelPage(_Strict):
    models: list[CliModel]
    total: int
    page: int
    page_size: int
    total_pages: int


class CliListAnswer(_Strict):
    data: CliModelPage
    status: CliStatus


def spec(client: TestClient, model: str, **headers: str) -> CliSpec:
    answer = client.get(SPEC.format(model), headers=headers)
    assert answer.status_code == 200, answer.text
    decoded = CliSpecAnswer.model_validate_json(answer.content)
    assert decoded.status == CliStatus(code=200, message="success")
    return decoded.data


def page(client: TestClient, **query: str | int) -> CliModelPage:
    answer = client.get(LIST, params=query)
    assert answer.status_code == 200, answer.text
    decoded = CliListAnswer.model_validate_json(answer.content)
    assert decoded.status.code == 200
    return decoded.data


def by_path(parameters: list[CliParam]) -> dict[str, CliParam]:
    """Every parameter and child of a spec, by its dotted path."""
    found: dict[str, CliParam] = {}
    for parameter in parameters:
        found[parameter.path] = parameter
        found.update(by_path(parameter.children or []))
    return found


def table_by_path(parameters: tuple[Parameter, ...], parent: str = "") -> dict[str, Parameter]:
    found: dict[str, Parameter] = {}
    for parameter in parameters:
        path = f"{parent}.{parameter.name}" if parent else parameter.name
        found[path] = parameter
        found.update(table_by_path(parameter.children, path))
    return found


# Each spec decodes as the CLI reads it, and says what the contract says.


@pytest.mark.parametrize("model", list(c.Model))
def test_spec_decodes_strictly_without_a_key(client: TestClient, model: c.Model) -> None:
    decoded = spec(client, model.value)
    assert (decoded.model_id, decoded.type) == (model.value, "video")
    assert decoded.name and decoded.vendor


def test_the_strict_mirror_refuses_what_the_cli_refuses(client: TestClient) -> None:
    body = client.get(SPEC.format(c.Model.I2V.value)).json()
    duration = next(p for p in body["data"]["parameters"] if p["name"] == "duration")
    duration["constraints"]["enum"] = [5, 10]
    with pytest.raises(ValidationError, match="enum"):
        CliSpecAnswer.model_validate(body)
    duration["constraints"]["enum"] = ["5", "10"]
    duration["required"] = "false"
    with pytest.raises(ValidationError, match="required"):
        CliSpecAnswer.model_validate(body)


@pytest.mark.parametrize("model", list(c.Model))
def test_spec_parameters_are_the_contract_table(client: TestClient, model: c.Model) -> None:
    served = by_path(spec(client, model.value).parameters)
    table = table_by_path(PARAMETERS[model])
    assert list(served) == list(table)
    for path, parameter in table.items():
        given = served[path]
        assert (given.name, given.type, given.required) == (
            parameter.name,
            parameter.type,
            parameter.required,
        )
        constraints = given.constraints or CliConstraints()
        assert constraints.enum == (list(parameter.choices) or None), path
        assert constraints.default == parameter.default, path
        assert (constraints.min, constraints.max) == (parameter.minimum, parameter.maximum), path
        assert (constraints.max_length, constraints.max_items) == (
            parameter.max_length,
            parameter.max_items,
        ), path


@pytest.mark.parametrize("model", list(c.Model))
def test_duration_is_a_string_with_string_choices(client: TestClient, model: c.Model) -> None:
    duration = by_path(spec(client, model.value).parameters)["duration"]
    assert duration.type == "string"
    assert duration.constraints == CliConstraints(
        enum=[d.value for d in c.Duration], default=c.Duration.of(c.DEFAULT_DURATION).value
    )


@pytest.mark.parametrize("model", list(c.Model))
def test_watermark_info_is_an_object_given_by_its_child_path(
    client: TestClient, model: c.Model
) -> None:
    watermark = by_path(spec(client, model.value).parameters)["watermark_info"]
    assert watermark.type == "object"
    (enabled,) = watermark.children or []
    assert (enabled.path, enabled.type, enabled.required) == (
        "watermark_info.enabled",
        "boolean",
        False,
    )


def test_multi_needs_an_image_list_array_and_a_prompt(client: TestClient) -> None:
    served = by_path(spec(client, c.Model.MULTI_I2V.value).parameters)
    required = {path for path, parameter in served.items() if parameter.required}
    assert required == {"image_list", "image_list.image", "prompt"}
    image_list = served["image_list"]
    assert image_list.type == "array"
    assert image_list.constraints is not None
    assert image_list.constraints.max_items == c.MAX_REFERENCE_IMAGES


def test_i2v_requires_no_single_image_since_either_frame_will_do(client: TestClient) -> None:
    served = by_path(spec(client, c.Model.I2V.value).parameters)
    assert not any(parameter.required for parameter in served.values())
    assert "image_tail" in served["image"].description


# Where the spec sends the CLI.


def test_endpoint_is_the_public_url_when_set(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_url="https://videos.example.com/")
    api = spec(client, c.Model.I2V.value).api
    assert api.endpoint == "https://videos.example.com/model/v1/generation"
    assert (api.method, api.headers) == ("POST", {"Authorization": "Bearer {{API_KEY}}"})


def test_endpoint_is_the_address_the_request_came_in_on(client: TestClient) -> None:
    api = spec(client, c.Model.MULTI_I2V.value, host="kirin.internal:8123").api
    assert api.endpoint == "http://kirin.internal:8123/model/v1/generation"


def test_a_spec_built_from_the_host_header_varies_by_host(client: TestClient) -> None:
    answer = client.get(SPEC.format(c.Model.I2V.value), headers={"Host": "evil.example"})
    assert answer.json()["data"]["api"]["endpoint"].startswith("http://evil.example/")
    assert answer.headers["vary"] == "Host"
    assert answer.headers["cache-control"] == "public, max-age=300"


def test_a_spec_from_the_public_url_ignores_the_host_header(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(public_url="https://videos.example.com")
    answer = client.get(SPEC.format(c.Model.I2V.value), headers={"Host": "evil.example"})
    assert answer.json()["data"]["api"]["endpoint"].startswith("https://videos.example.com/")
    assert "vary" not in answer.headers
    assert answer.headers["cache-control"] == "public, max-age=300"


def test_endpoint_is_the_create_route_and_its_task_route(client: TestClient) -> None:
    endpoint = spec(client, c.Model.I2V.value).api.endpoint.removeprefix("http://testserver")
    created = client.post(endpoint, json={"model": "no-such-model"}, headers=bearer(KEY_A))
    assert (created.status_code, created.json()["error"]["code"]) == (400, "8002005011")
    polled = client.get(f"{endpoint}/task/no-such-task", headers=bearer(KEY_A))
    assert (polled.status_code, polled.json()["error"]["code"]) == (404, "8002005013")


@pytest.mark.parametrize("model", list(c.Model))
def test_agent_prompt_says_how_to_call_the_model(client: TestClient, model: c.Model) -> None:
    decoded = spec(client, model.value)
    prompt = decoded.agent_prompt
    assert f"POST {decoded.api.endpoint}\n" in prompt
    assert f"GET {decoded.api.endpoint}/task/{{{{id}}}}" in prompt
    assert f"vtrix run {model.value} --param " in prompt
    for path in by_path(decoded.parameters):
        assert f"- {path} (" in prompt


def test_agent_prompt_of_i2v_says_the_last_frame_needs_pro(client: TestClient) -> None:
    prompt = spec(client, c.Model.I2V.value).agent_prompt
    assert f"image_tail, only with mode={c.Mode.PRO}" in prompt


def test_unknown_model_is_a_404_in_the_envelope_naming_the_known_ones(client: TestClient) -> None:
    answer = client.get(SPEC.format("kirin_v9"))
    assert answer.status_code == 404
    body = answer.json()
    assert body["data"] is None and body["status"]["code"] == 404
    message = body["status"]["message"]
    assert "'kirin_v9'" in message
    assert all(model.value in message for model in c.Model)


def test_spec_routes_have_no_model_prefix(client: TestClient) -> None:
    assert client.get("/model" + SPEC.format(c.Model.I2V.value)).status_code == 404


# The list route: what `vtrix models list` decodes.


def test_list_answers_both_models_with_their_modalities(client: TestClient) -> None:
    listed = page(client)
    assert [m.id for m in listed.models] == [m.value for m in c.Model]
    assert (listed.total, listed.page, listed.page_size, listed.total_pages) == (
        2,
        1,
        c.DEFAULT_LIST_LIMIT,
        1,
    )
    assert all(m.input_modalities == ["image", "text"] for m in listed.models)
    assert all(m.output_modalities == ["video"] and m.type == "video" for m in listed.models)


def test_list_pages_one_model_at_a_time(client: TestClient) -> None:
    first, second, past = (page(client, page=n, page_size=1) for n in (1, 2, 3))
    assert [m.id for m in first.models + second.models] == [m.value for m in c.Model]
    assert past.models == []
    assert {(p.total, p.total_pages) for p in (first, second, past)} == {(2, 2)}


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ({"type": "video"}, [c.Model.I2V, c.Model.MULTI_I2V]),
        ({"type": "VIDEO"}, [c.Model.I2V, c.Model.MULTI_I2V]),
        ({"type": "image"}, []),
        ({"keywords": "multi"}, [c.Model.MULTI_I2V]),
        ({"keywords": "Last frame"}, [c.Model.I2V]),
        ({"keywords": "reference, prompt", "type": "video"}, [c.Model.MULTI_I2V]),
        ({"keywords": "audio"}, []),
    ],
)
def test_list_filters_by_type_and_keywords(
    client: TestClient, query: dict[str, str], ids: list[c.Model]
) -> None:
    listed = page(client, **query)
    assert [m.id for m in listed.models] == [m.value for m in ids]
    assert (listed.total, listed.total_pages) == (len(ids), 1 if ids else 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [("page", "0"), ("page", "two"), ("page_size", "0"), ("page_size", "101"), ("page", "1.5")],
)
def test_bad_paging_is_a_400_in_the_envelope_naming_it(
    client: TestClient, name: str, value: str
) -> None:
    answer = client.get(LIST, params={name: value})
    assert answer.status_code == 400
    body = answer.json()
    assert body["data"] is None and body["status"]["code"] == 400
    assert body["status"]["message"].startswith(f"{name}: ")
    assert repr(value) in body["status"]["message"]


def test_openapi_declares_the_spec_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    answers = paths["/api/v1/skill/models/{model_id}/spec"]["get"]["responses"]
    assert {"200", "404"} <= set(answers)
    assert "/model/api/v1/skill/models" not in paths
