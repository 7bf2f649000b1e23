"""Per-key limits: requests per window, unfinished tasks, and turns in the queue."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from kirin_video.api.limits import BodyLimitMiddleware
from kirin_video.contract.params import parse_params
from kirin_video.tasks import cap
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from kirin_video.tasks.snapshot import Usage
from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image
from tests.helpers import GENERATION, kirin_error, task_path, task_rows

IMAGE = b64(make_image(320, 320))
BODY = {"model": "kirin_v1_6_i2v", "image": IMAGE}
KLING_BODY = {"model_name": "kling-v1-6", "image": IMAGE, "prompt": "a slow push in"}


def _chunked(body: Mapping[str, object], size: int = 256) -> Iterator[bytes]:
    """A JSON body sent in pieces, without a Content-Length (Transfer-Encoding: chunked)."""
    raw = json.dumps(body).encode()
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def _post_chunked(client: TestClient, path: str, body: Mapping[str, object]) -> Any:
    request = client.build_request("POST", path, content=_chunked(body), headers=bearer(KEY_A))
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    return client.send(request)


def test_requests_over_the_rate_are_429_with_retry_after(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit="3/minute")
    answers = [client.get(GENERATION, headers=bearer(KEY_A)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert "3 per 1 minute" in kirin_error(refused, status=429, code="8002005015")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get(GENERATION, headers=bearer(KEY_B)).status_code == 200  # others go on


def test_unfinished_tasks_per_key_are_capped(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_unfinished_tasks=2)
    first, _ = (client.post(GENERATION, json=BODY, headers=bearer(KEY_A)) for _ in range(2))
    refused = client.post(GENERATION, json=BODY, headers=bearer(KEY_A))
    message = kirin_error(refused, status=429, code="8002005015")
    assert "at most 2 pending or processing tasks" in message
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.post(GENERATION, json=BODY, headers=bearer(KEY_B)).status_code == 200
    client.post(task_path(first.json()["id"], "cancel"), headers=bearer(KEY_A)).raise_for_status()
    assert client.post(GENERATION, json=BODY, headers=bearer(KEY_A)).status_code == 200


def test_concurrent_creates_cannot_pass_the_unfinished_cap(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(max_unfinished_tasks=2)
    counted = cap.hold_room

    def slow_check(db: Database, session: Session, owner: str, most: int) -> None:
        counted(db, session, owner, most)
        time.sleep(0.2)  # between the count and the commit, where parallel creates would race

    monkeypatch.setattr(cap, "hold_room", slow_check)
    start = threading.Barrier(6)
    answers: list[tuple[int, str | None]] = []

    def create() -> None:
        start.wait()
        response = client.post(GENERATION, json=BODY, headers=bearer(KEY_A))
        answers.append((response.status_code, response.json().get("error", {}).get("code")))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [(200, None)] * 2 + [(429, "8002005015")] * 4
    assert len(client.get(GENERATION, headers=bearer(KEY_A)).json()["data"]) == 2
    assert task_rows(client) == 2


def test_a_refused_create_leaves_no_task(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_unfinished_tasks=1)
    client.post(GENERATION, json=BODY, headers=bearer(KEY_A))
    refused = client.post(
        GENERATION, json={**BODY, "external_task_id": "late"}, headers=bearer(KEY_A)
    )
    kirin_error(refused, status=429, code="8002005015")
    assert client.get(task_path("late"), headers=bearer(KEY_A)).status_code == 404
    assert len(client.get(GENERATION, headers=bearer(KEY_A)).json()["data"]) == 1
    assert task_rows(client) == 1


def test_keys_take_turns_in_the_queue(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kirin.db'}")
    db.migrate()
    service = TaskService(db)
    image = [StoredImage("first", make_image(320, 320))]
    request = parse_params(BODY)
    busy = [service.create(owner="busy", request=request, images=image).id for _ in range(5)]
    late = service.create(owner="late", request=request, images=image).id
    order = []
    for _ in range(3):
        task_id = service.next_pending()
        assert task_id is not None and service.claim(task_id, worker="w") is not None
        service.complete(task_id, worker="w", outputs=[], usage=Usage(cost="0"), meta={})
        order.append(task_id)
    assert order == [busy[0], late, busy[1]]


def test_chunked_body_over_the_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    response = _post_chunked(make_client(max_body_bytes=1000), GENERATION, BODY)
    message = kirin_error(response, status=413, code="8002005016")
    assert message == "body: must be at most 1000 bytes; got more than 1000 bytes"


def test_chunked_body_over_the_limit_is_1200_on_kling_routes(
    make_client: Callable[..., TestClient],
) -> None:
    response = _post_chunked(make_client(max_body_bytes=1000), "/v1/videos/image2video", KLING_BODY)
    body = response.json()
    assert response.status_code == 400
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == 1200
    assert "body: must be at most 1000 bytes" in body["message"]


def test_chunked_body_under_the_limit_is_taken(make_client: Callable[..., TestClient]) -> None:
    response = _post_chunked(make_client(), GENERATION, BODY)
    assert response.status_code == 200, response.text


def _run_limited(
    body: Receive, *, scope_headers: list[tuple[bytes, bytes]] | None = None, **bounds: Any
) -> tuple[list[Message], list[int]]:
    """The middleware over an app that reads every message: what it sent, what the app saw."""
    sent: list[Message] = []
    seen: list[int] = []

    async def reads_everything(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            seen.append(len((await receive())["body"]))

    async def record(message: Message) -> None:
        sent.append(message)

    limit = BodyLimitMiddleware(reads_everything, max_bytes=1000, **bounds)
    scope: Scope = {"type": "http", "path": GENERATION, "headers": scope_headers or []}
    asyncio.run(limit(scope, body, record))
    return sent, seen


def _endless(pulled: list[int], pause_s: float = 0, *, at_once: int = 0) -> Receive:
    """A body without end: its first ``at_once`` messages at once, then one every ``pause_s``."""

    async def endless_body() -> Message:
        pulled.append(1)
        await asyncio.sleep(pause_s if len(pulled) > at_once else 0)
        return {"type": "http.request", "body": b"x" * 400, "more_body": True}

    return endless_body


def test_body_limit_stops_passing_the_body_at_the_first_chunk_past_it() -> None:
    pulled: list[int] = []
    sent, seen = _run_limited(_endless(pulled), drain_bytes=2000)
    assert seen == [400, 400]  # 400, 800, then 1200 > 1000: the app sees nothing more
    assert len(pulled) == 3 + 5  # the rest is read and dropped, up to 2000 bytes more
    assert sent[0]["status"] == 413 and (b"connection", b"close") in sent[0]["headers"]
    body = json.loads(sent[1]["body"])
    assert body["error"]["code"] == "8002005016" and body["message"] == body["error"]["message"]
    assert sent[1]["more_body"] and sent[2] == {
        "type": "http.response.body",
        "body": b"",
        "more_body": False,
    }  # the answer ends only once the drain is over, so the server closes after it


def test_a_refused_body_is_drained_for_a_bounded_time() -> None:
    pulled: list[int] = []
    started = time.monotonic()
    sent, _ = _run_limited(_endless(pulled, pause_s=0.01, at_once=20), drain_s=0.5)
    assert 0.5 <= time.monotonic() - started < 30  # the drain's deadline, however busy the machine
    # all sent at once is read, then more; each later message takes 10 ms: 50 fit, and one cut off
    assert 20 < len(pulled) <= 20 + 50 + 1 and sent[-1]["more_body"] is False


def test_drain_ends_with_the_clients_last_message() -> None:
    messages = [b"x" * 600, b"x" * 600, b"x" * 600, b""]

    async def finite_body() -> Message:
        return {"type": "http.request", "body": messages.pop(0), "more_body": bool(messages)}

    sent, seen = _run_limited(finite_body, drain_s=30)
    assert seen == [600] and messages == [] and sent[-1]["more_body"] is False


def test_a_declared_body_with_expect_100_continue_is_not_drained() -> None:
    pulled: list[int] = []
    headers = [(b"content-length", b"5000"), (b"expect", b"100-continue")]
    sent, seen = _run_limited(_endless(pulled), scope_headers=headers, drain_s=30)
    assert pulled == [] and seen == []  # never asked for: the server sent no 100 Continue
    assert sent[0]["status"] == 413
