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
