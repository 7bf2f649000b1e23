"""The OpenAPI schema describes the real request, task and error shapes."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_schema_describes_create_request_and_answers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    create = schema["paths"]["/v1/generation"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in body["oneOf"]} == {
        "I2VRequest",
        "MultiI2VRequest",
    }
    components = schema["components"]["schemas"]
    assert components["MultiI2VRequest"]["properties"]["image_list"]["maxItems"] == 4
    ok = create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/TaskObject")
    bad = create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert bad.endswith("/ErrorBody")
    assert not any(path.startswith("/model/") for path in schema["paths"])


def test_schema_declares_the_503_of_readyz(client: TestClient) -> None:
    answers = client.get("/openapi.json").json()["paths"]["/readyz"]["get"]["responses"]
    unavailable = answers["503"]["content"]["application/json"]["schema"]["$ref"]
    assert unavailable.endswith("/ErrorBody")
