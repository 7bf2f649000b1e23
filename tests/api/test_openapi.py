"""The OpenAPI schema describes the real request, task and error shapes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import GENERATION


def _schema(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def _ref(answer: dict[str, Any]) -> str:
    return str(answer["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[1]


def test_schema_describes_create_request_and_answers(client: TestClient) -> None:
    schema = _schema(client)
    create = schema["paths"][GENERATION]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    envelope, *flat = body["oneOf"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in flat} == {"I2VRequest", "MultiI2VRequest"}
    assert envelope["required"] == ["model", "input"]
    given = envelope["properties"]["input"]
    assert (given["type"], given["minItems"], given["maxItems"]) == ("array", 1, 1)
    assert given["items"]["properties"]["params"]["oneOf"] == flat
    components = schema["components"]["schemas"]
    assert components["MultiI2VRequest"]["properties"]["image_list"]["maxItems"] == 4
    assert _ref(create["responses"]["200"]) == "TaskObject"
    assert _ref(create["responses"]["400"]) == "ErrorBody"


def test_schema_states_the_task_object_and_error_body(client: TestClient) -> None:
    components = _schema(client)["components"]["schemas"]
    assert components["PublicStatus"]["enum"] == ["in_progress", "completed", "failed"]
    task = components["TaskObject"]["properties"]
    assert (
        task["created_at"]["type"] == "integer"
        and "milliseconds" in task["created_at"]["description"]
    )
    item = components["ContentItem"]["properties"]
    assert item["duration"]["type"] == "string" and "jobId" in item
    # optional keys are left out, never null: the schema must not offer null either
    assert task["progress"]["type"] == "number" and "anyOf" not in task["external_task_id"]
    assert set(components["ErrorBody"]["required"]) == {"error", "message"}


def test_each_kirin_route_is_documented_once_under_the_hosted_prefix(client: TestClient) -> None:
    paths = set(_schema(client)["paths"])
    assert {
        GENERATION,
        f"{GENERATION}/task/{{ref}}",
        f"{GENERATION}/task/{{ref}}/cancel",
        f"{GENERATION}/task/{{ref}}/callbacks",
    } <= paths
    assert not any(path.startswith("/v1/generation") for path in paths)


def test_list_status_filter_takes_only_the_three_words(client: TestClient) -> None:
    listing = _schema(client)["paths"][GENERATION]["get"]
    [status] = [p for p in listing["parameters"] if p["name"] == "status"]
    assert status["schema"]["enum"] == ["in_progress", "completed", "failed", ""]


def test_schema_declares_the_503_of_readyz(client: TestClient) -> None:
    answers = _schema(client)["paths"]["/readyz"]["get"]["responses"]
    assert _ref(answers["503"]) == "ErrorBody"
