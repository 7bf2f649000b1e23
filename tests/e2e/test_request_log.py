"""A `kirin serve` process logs each request once, under the X-Request-Id the client sees."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.e2e.conftest import ServerProcess


def _log_lines(server: ServerProcess) -> list[str]:
    server.stop()
    return server.log().splitlines()


def test_text_log_names_the_request_id_sent_and_the_one_made(
    server: Callable[..., ServerProcess],
) -> None:
    node = server(KIRIN_WORKERS="0")
    with node.client() as client:
        sent = client.get("/model/v1/generation/task/nope", headers={"X-Request-Id": "trace-41"})
        made = client.get("/model/v1/generation")
    assert (sent.status_code, sent.headers["x-request-id"]) == (404, "trace-41")
    made_id = made.headers["x-request-id"]
    lines = [line for line in _log_lines(node) if "/model/v1/generation" in line]
    assert [line for line in lines if "[trace-41]" in line and "-> 404" in line]
    assert [line for line in lines if f"[{made_id}]" in line and "-> 200" in line]
    assert len(lines) == 2  # one line per request: uvicorn's own access log is off


def test_json_log_carries_the_request_id_field(server: Callable[..., ServerProcess]) -> None:
    node = server(KIRIN_WORKERS="0", KIRIN_LOG_FORMAT="json")
    with node.client() as client:
        client.get("/model/v1/generation", headers={"X-Request-Id": "trace-42"})
    records = [json.loads(line) for line in _log_lines(node) if line.startswith("{")]
    (access,) = [
        r
        for r in records
        if r.get("logger") == "kirin_video.access" and "/model/v1/generation" in r["message"]
    ]
    assert access["request_id"] == "trace-42" and "-> 200" in access["message"]


#: A path whose decoded form would end the access line and write a forged one after it.
FORGED = (
    "/healthz%0d%0aINFO:%20%20%20%20%20kirin_video.access:%20[x]"
    "%20POST%20/model/v1/generation%20-%3E%20200"
)


def test_text_log_cannot_be_forged_through_the_path(server: Callable[..., ServerProcess]) -> None:
    node = server(KIRIN_WORKERS="0")
    with node.client() as client:
        answer = client.get(FORGED)
    assert answer.status_code == 404
    lines = _log_lines(node)
    assert not [line for line in lines if line.startswith("INFO:     kirin_video.access: [x]")]
    (access,) = [line for line in lines if "/healthz%0d%0a" in line]
    assert access.startswith("INFO:     kirin_video.access: [") and " -> 404 in " in access


def test_json_log_message_keeps_the_request_on_one_line(
    server: Callable[..., ServerProcess],
) -> None:
    node = server(KIRIN_WORKERS="0", KIRIN_LOG_FORMAT="json")
    with node.client() as client:
        client.get(FORGED)
    records = [json.loads(line) for line in _log_lines(node) if line.startswith("{")]
    (access,) = [r for r in records if "/healthz%0d%0a" in r["message"]]
    assert "\n" not in access["message"] and "\r" not in access["message"]
