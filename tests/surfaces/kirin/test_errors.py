"""Kirin errors carry their text twice; every answer carries a request id; 405s by the route."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from kirin_video.api.request_id import RequestIdFilter
from kirin_video.cli._logging import TEXT_FORMAT
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import GENERATION, create, kirin_error, task_path

I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}
KLING_I2V = {"model_name": "kling-v1-6", "image": I2V["image"], "prompt": "a slow push in"}


def test_each_kind_of_error_has_the_top_level_message(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_body_bytes=100_000, max_unfinished_tasks=1)
    task_id = create(client, {**I2V, "external_task_id": "once"})["id"]
    answers = [
        (client.post(GENERATION, content=b"{", headers=bearer(KEY_A)), 400, "8002005014"),
        (client.post(GENERATION, json={"model": "x"}, headers=bearer(KEY_A)), 400, "8002005011"),
        (client.get(GENERATION), 401, "8002005006"),
        (client.get(task_path("task_nope"), headers=bearer(KEY_A)), 404, "8002005013"),
        (client.get("/v1/nothing", headers=bearer(KEY_A)), 404, "8002005013"),
        (client.delete(GENERATION, headers=bearer(KEY_A)), 405, "8002005014"),
        (client.post(GENERATION, json=I2V, headers=bearer(KEY_A)), 429, "8002005015"),
        (
            client.post(GENERATION, content=b" " * 100_001, headers=bearer(KEY_A)),
            413,
            "8002005016",
        ),
        (client.post(task_path(task_id, "cancel"), headers=bearer(KEY_A)), 200, ""),
        (client.post(task_path(task_id, "cancel"), headers=bearer(KEY_A)), 409, "8002005018"),
    ]
    for response, status, code in answers:
        if status != 200:
            assert kirin_error(response, status=status, code=code)
        assert response.headers["content-type"] == "application/json"


def test_a_sent_request_id_is_echoed_on_success_and_on_errors(client: TestClient) -> None:
    sent = {"X-Request-Id": "order-77.attempt-2"}
    answers = [
        client.post(GENERATION, json=I2V, headers={**bearer(KEY_A), **sent}),
        client.get(GENERATION, headers={**bearer(KEY_A), **sent}),
        client.get(task_path("task_nope"), headers={**bearer(KEY_A), **sent}),
        client.get(GENERATION, headers=sent),  # 401
        client.delete(GENERATION, headers=sent),  # 405
        client.get("/v1/nothing", headers=sent),  # no route
        client.get("/healthz", headers=sent),
    ]
    assert [a.headers["X-Request-Id"] for a in answers] == ["order-77.attempt-2"] * len(answers)
    assert answers[0].status_code == 200 and answers[2].status_code == 404


@pytest.mark.parametrize(
    "sent",
    [None, "", "has spaces", "x" * 201, "tab\there"],
    ids=["absent", "empty", "spaces", "too long", "control character"],
)
def test_a_request_id_is_made_when_none_usable_is_sent(
    client: TestClient, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-Id": sent}
    ok = client.get(GENERATION, headers={**bearer(KEY_A), **headers})
    refused = client.get(task_path("task_nope"), headers={**bearer(KEY_A), **headers})
    made = [ok.headers["X-Request-Id"], refused.headers["X-Request-Id"]]
    assert all(made) and made[0] != made[1] and sent not in made


def test_the_request_id_is_in_the_access_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    caplog.handler.setFormatter(logging.Formatter(TEXT_FORMAT))  # the server's text format
    with caplog.at_level(logging.INFO, logger="kirin_video.access"):
        sent = client.get(task_path("task_nope"), headers={**bearer(KEY_A), "X-Request-Id": "r-1"})
        made = client.get(GENERATION, headers=bearer(KEY_A))
    lines = caplog.text.splitlines()
    assert f"[r-1] GET {task_path('task_nope')} -> 404" in "\n".join(lines)
    made_id = made.headers["X-Request-Id"]
    assert any(f"[{made_id}] GET {GENERATION} -> 200" in line for line in lines), lines
    assert sent.headers["X-Request-Id"] == "r-1"
    records = [r for r in caplog.records if r.name == "kirin_video.access"]
    assert [getattr(r, "request_id", None) for r in records] == ["r-1", made_id]


def _kling_error(response: httpx.Response, *, code: int) -> str:
    body = response.json()
    assert set(body) == {"code", "message", "request_id"} and body["code"] == code, body
    return str(body["message"])


@pytest.mark.parametrize("prefix", ["/model", ""])
def test_a_wrong_method_on_a_kirin_route_answers_in_the_kirin_envelope(
    client: TestClient, prefix: str
) -> None:
    task_id = create(client, I2V)["id"]
    for method, path, allowed in (
        ("DELETE", f"{prefix}/v1/generation", "GET, POST"),
        ("PUT", f"{prefix}/v1/generation/task/{task_id}", "GET"),
        ("DELETE", f"{prefix}/v1/generation/task/{task_id}/cancel", "POST"),
        ("POST", f"{prefix}/v1/generation/task/{task_id}/callbacks", "GET"),
    ):
        response = client.request(method, path)  # no key: the method is refused first
        message = kirin_error(response, status=405, code="8002005014")
        assert message.startswith(f"method: {method} ") and allowed in message, message
        assert response.headers["Allow"] == allowed


@pytest.mark.parametrize("prefix", ["", "/model"])
def test_a_wrong_method_on_a_kling_route_answers_in_klings_envelope(
    client: TestClient, prefix: str
) -> None:
    for method, path in (
        ("DELETE", f"{prefix}/v1/videos/image2video"),
        ("PUT", f"{prefix}/v1/videos/multi-image2video"),
        ("POST", f"{prefix}/v1/videos/image2video/some-task"),
    ):
        response = client.request(method, path, json=KLING_I2V)
        assert response.status_code == 404  # Kling's status for its method error, 1202
        assert method in _kling_error(response, code=1202)
        assert response.headers["X-Request-Id"]


def test_what_no_route_matched_answers_in_the_kirin_envelope(client: TestClient) -> None:
    for path in ("/v1/nothing", "/model/v1/nothing", "/v1/generation/some-task"):
        response = client.get(path, headers=bearer(KEY_A))
        assert kirin_error(response, status=404, code="8002005013").startswith("path: ")
