"""A body over the limit is answered to every client, through a real `kirin serve` process.

Clients that send the whole body before reading (urllib, requests, httpx) used to get a connection
reset: the server closed with the rest of the body unread. These tests send each way, with a
``Content-Length`` and chunked, on a kirin route and a Kling route.
"""

from __future__ import annotations

import json
import select
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from kirin_video.api.limits import DRAIN_S
from tests.conftest import KEY_A, bearer
from tests.e2e.conftest import ServerProcess, free_port

LIMIT = 1024 * 1024
BODY = b"x" * (8 * LIMIT)
KIRIN = "/model/v1/generation"
KLING = "/v1/videos/image2video"
HEADERS = {**bearer(KEY_A), "Content-Type": "application/json"}

#: A client's POST: (url, body, chunked) -> (status, answer body).
Post = Callable[[str, bytes, bool], tuple[int, bytes]]


def _pieces(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """No length known up front: the client sends ``Transfer-Encoding: chunked``."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _urllib(url: str, body: bytes, chunked: bool) -> tuple[int, bytes]:
    data: Any = _pieces(body) if chunked else body
    request = urllib.request.Request(url, data=data, headers=HEADERS, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, bytes(refused.read())


def _requests(url: str, body: bytes, chunked: bool) -> tuple[int, bytes]:
    data = _pieces(body) if chunked else body
    answer = requests.post(url, data=data, headers=HEADERS, timeout=30)
    return answer.status_code, answer.content


def _httpx(url: str, body: bytes, chunked: bool) -> tuple[int, bytes]:
    content = _pieces(body) if chunked else body
    answer = httpx.post(url, content=content, headers=HEADERS, timeout=30)
    return answer.status_code, answer.content


def _assert_kirin_413(status: int, raw: bytes, limit: int) -> None:
    body = json.loads(raw)
    assert status == 413, raw
    assert body["error"]["code"] == "8002005016"
    assert body["message"] == body["error"]["message"]
    assert body["message"].startswith(f"body: must be at most {limit} bytes; got ")


def _assert_kling_1200(status: int, raw: bytes, limit: int) -> None:
    body = json.loads(raw)
    assert status == 400, raw
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == 1200
    assert body["message"].startswith(f"body: must be at most {limit} bytes; got ")


@pytest.fixture(scope="module")
def small_limit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = Path(tmp_path_factory.mktemp("body-limit")) / "data"
    process = ServerProcess(data_dir, free_port()).start(KIRIN_MAX_BODY_BYTES=str(LIMIT))
    yield process
    process.stop()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("post", [_urllib, _requests, _httpx], ids=["urllib", "requests", "httpx"])
@pytest.mark.parametrize(
    ("path", "check"),
    [(KIRIN, _assert_kirin_413), (KLING, _assert_kling_1200)],
    ids=["kirin", "kling"],
)
def test_every_client_gets_the_answer_not_a_reset(
    small_limit: ServerProcess,
    post: Post,
    chunked: bool,
    path: str,
    check: Callable[[int, bytes, int], None],
) -> None:
    status, raw = post(small_limit.url + path, BODY, chunked)
    check(status, raw, LIMIT)
    assert httpx.get(f"{small_limit.url}/healthz", timeout=10).status_code == 200


def test_the_default_limit_answers_a_70_mib_urllib_body(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path / "data", free_port()).start()
    try:
        status, raw = _urllib(process.url + KIRIN, b"x" * (70 * 1024 * 1024), False)
        _assert_kirin_413(status, raw, 64 * 1024 * 1024)
    finally:
        process.stop()


def _open(server: ServerProcess, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(f"POST {KIRIN} HTTP/1.1\r\nHost: kirin\r\n{head}\r\n".encode())
    return sock


def test_a_client_that_never_stops_sending_is_cut_off(small_limit: ServerProcess) -> None:
    sock = _open(small_limit, f"Authorization: Bearer {KEY_A}\r\nTransfer-Encoding: chunked\r\n")
    chunk = b"%x\r\n%s\r\n" % (LIMIT, b"x" * LIMIT)
    answer, started = b"", time.monotonic()
    with sock, pytest.raises(OSError):  # a reset or a broken pipe, once the server gives up
        while time.monotonic() - started < 4 * DRAIN_S:
            sock.sendall(chunk)
            if select.select([sock], [], [], 0)[0]:
                answer += sock.recv(65536)
    assert time.monotonic() - started < DRAIN_S  # the size bound stops a fast sender first
    assert answer.startswith(b"HTTP/1.1 413 ")  # sent at once, before the server stopped reading
    assert b"connection: close" in answer.lower()
    assert httpx.get(f"{small_limit.url}/healthz", timeout=10).status_code == 200


def test_an_expect_100_continue_client_is_refused_before_sending(
    small_limit: ServerProcess,
) -> None:
    length = f"Content-Length: {len(BODY)}\r\n"
    head = f"Authorization: Bearer {KEY_A}\r\n{length}Expect: 100-continue\r\n"
    sock, answer, started = _open(small_limit, head), b"", time.monotonic()
    with sock:
        while piece := sock.recv(65536):  # the server closes without waiting for a body
            answer += piece
    assert time.monotonic() - started < DRAIN_S / 2
    assert answer.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer
    assert b'"code":"8002005016"' in answer
