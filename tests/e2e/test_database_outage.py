"""While PostgreSQL is down, every route of a real server answers 503 with Retry-After."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
from httpx_sse import connect_sse

from tests.conftest import b64, make_image
from tests.e2e.cluster import PrivatePostgres
from tests.e2e.conftest import ServerProcess

I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}
GENERATION = "/model/v1/generation"
KLING = "/v1/videos/image2video"


def _requests(client: httpx.Client, task_id: str) -> dict[str, httpx.Response]:
    """One request of each kind a client makes, on both surfaces."""
    return {
        "create": client.post(GENERATION, json=I2V),
        "get": client.get(f"{GENERATION}/task/{task_id}"),
        "list": client.get(GENERATION),
        "cancel": client.post(f"{GENERATION}/task/{task_id}/cancel"),
        "kling query": client.get(f"{KLING}/{task_id}"),
    }


def test_routes_answer_503_while_the_database_is_down_and_recover_after(
    postgres: PrivatePostgres, server: Callable[..., ServerProcess]
) -> None:
    node = server(KIRIN_DATABASE_URL=postgres.url, KIRIN_WORKERS="0")
    with node.client() as client:
        created = client.post(GENERATION, json=I2V)
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]

        postgres.stop()
        for name, answer in _requests(client, task_id).items():
            body = answer.json()
            assert answer.status_code == 503, (name, body)
            assert answer.headers["Retry-After"] == "5", name
            if name == "kling query":
                assert set(body) == {"code", "message", "request_id"} and body["code"] == 5001
            else:
                assert body["error"]["code"] == "8002005099" and body["message"], (name, body)
            assert "database: unreachable" in body["message"], (name, body)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "database" in ready.json()["message"], ready.text

        postgres.start()
        again = _requests(client, task_id)
        assert {name: answer.status_code for name, answer in again.items()} == dict.fromkeys(
            again, 200
        ), {name: answer.text for name, answer in again.items()}
        assert client.get("/readyz").status_code == 200
    assert postgres.count("tasks") == 2  # the first task and the one after: none half-made


def test_an_open_stream_rides_out_the_outage_and_a_new_one_is_refused_with_503(
    postgres: PrivatePostgres, server: Callable[..., ServerProcess]
) -> None:
    node = server(
        KIRIN_DATABASE_URL=postgres.url,
        KIRIN_WORKERS="0",
        KIRIN_STREAM_POLL_S="0.1",
        KIRIN_STREAM_PING_S="0.2",
    )
    with node.client() as client:
        task_id = client.post(GENERATION, json=I2V).json()["id"]
        stream = f"{GENERATION}/task/{task_id}/stream"
        statuses: list[str] = []
        with connect_sse(client, "GET", stream) as source:
            for sse in source.iter_sse():
                if sse.event != "task":
                    continue  # httpx-sse dispatches an empty message at a keep-alive
                statuses.append(json.loads(sse.data)["status"])
                if len(statuses) > 1:
                    break
                postgres.stop()
                refused = httpx.get(f"{node.url}{stream}", headers=client.headers, timeout=10)
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "8002005099"
                time.sleep(1)  # the open stream keeps reading, and failing, meanwhile
                postgres.start()
                assert client.post(f"{GENERATION}/task/{task_id}/cancel").status_code == 200
    assert statuses == ["in_progress", "failed"]
