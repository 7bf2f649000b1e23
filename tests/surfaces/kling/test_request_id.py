"""Kling's ``request_id`` is the request's X-Request-Id: body, header and log agree."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import KEY_A, bearer


def test_success_and_error_bodies_carry_the_request_id_sent(client: TestClient) -> None:
    headers = {**bearer(KEY_A), "X-Request-Id": "trace-7"}
    listed = client.get("/v1/videos/image2video", headers=headers)
    refused = client.post("/v1/videos/image2video", json={}, headers=headers)
    for answer in (listed, refused):
        assert answer.headers["x-request-id"] == "trace-7"
        assert answer.json()["request_id"] == "trace-7"
    assert refused.json()["code"] == 1201


def test_a_request_without_one_gets_the_id_it_was_given(client: TestClient) -> None:
    answer = client.get("/v1/videos/multi-image2video/nope", headers=bearer(KEY_A))
    assert answer.json()["code"] == 1203
    assert answer.json()["request_id"] == answer.headers["x-request-id"]
