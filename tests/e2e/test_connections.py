"""What sockets can hold of a real `kirin serve`: idle and trickling ones are cut at deadlines,
open connections are bounded below the open-file limit, and beyond the bound a client gets 503.

The server runs with ``ulimit -n 256``: before these deadlines and the bound, 300 sockets that sent
nothing made every call time out and the log grow by tens of megabytes a minute.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_A, bearer
from tests.e2e.conftest import ServerProcess, free_port

FILE_LIMIT = 256
DEADLINE_S = 2.0  # the head and body deadlines of the module's server
PROMPT = 5.0  # how long a call may take under attack before it counts as not answered


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with a low file limit and short deadlines, shared by the module's tests."""
    data_dir = tmp_path_factory.mktemp("connections") / "data"
    process = ServerProcess(data_dir, free_port(), file_limit=FILE_LIMIT)
    process.start(
        KIRIN_WORKERS="0",
        KIRIN_HEADER_TIMEOUT_S=str(DEADLINE_S),
        KIRIN_BODY_TIMEOUT_S=str(DEADLINE_S),
    )
    yield process
    process.stop()


def _connect(node: ServerProcess, count: int) -> list[socket.socket]:
    """``count`` connected sockets that have sent nothing."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", node.port))
        sockets.append(sock)
    return sockets


def _closed_by_server(sock: socket.socket) -> bool:
    """The server has closed (or reset) this socket: a read finds the end."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def _log_lines(node: ServerProcess) -> int:
    return len(node.log().splitlines())


def _close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def _answers_promptly(node: ServerProcess) -> None:
    health = httpx.get(f"{node.url}/healthz", timeout=PROMPT)
    listed = httpx.get(f"{node.url}/model/v1/generation", headers=bearer(KEY_A), timeout=PROMPT)
    assert (health.status_code, listed.status_code) == (200, 200), listed.text


def test_idle_sockets_beyond_the_file_limit_leave_the_api_answering(node: ServerProcess) -> None:
    before = _log_lines(node)
    idle = _connect(node, FILE_LIMIT + 150)
    try:
        time.sleep(1)
        for _ in range(3):
            _answers_promptly(node)
    finally:
        _close(idle)
    assert _log_lines(node) - before < 20, node.log()[-3000:]


def test_a_head_sent_byte_by_byte_is_cut_at_the_deadline(node: ServerProcess) -> None:
    time.sleep(1)  # sockets an earlier test closed are gone, so none is accepted at the bound now
    _answers_promptly(node)
    trickling = [socket.create_connection(("127.0.0.1", node.port)) for _ in range(5)]
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: y\r\n" * 100
    started, cut_after = time.monotonic(), {}
    try:
        for index in range(len(head)):
            for sock in trickling:
                if sock not in cut_after and not _closed_by_server(sock):
                    try:
                        sock.send(head[index : index + 1])
                    except OSError:
                        cut_after[sock] = time.monotonic() - started
                elif sock not in cut_after:
                    cut_after[sock] = time.monotonic() - started
            if len(cut_after) == len(trickling) or time.monotonic() - started > 4 * DEADLINE_S:
                break
            time.sleep(0.05)
    finally:
        _close(trickling)
    assert len(cut_after) == len(trickling), "a trickling request head was never cut"
    assert all(DEADLINE_S - 0.5 <= after <= 3 * DEADLINE_S for after in cut_after.values()), (
        cut_after
    )
    _answers_promptly(node)


def test_a_stalled_body_is_cut(node: ServerProcess) -> None:
    head = (
        "POST /model/v1/generation HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {KEY_A}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", node.port)) as sock:
        sock.sendall(head.encode() + b'{"model": ')
        started = time.monotonic()
        sock.settimeout(4 * DEADLINE_S)
        answer = sock.recv(65536)  # the end of the connection (or an answer before it)
        while answer and not answer.endswith(b"}"):
            answer += sock.recv(65536)
        waited = time.monotonic() - started
    assert DEADLINE_S - 0.5 <= waited <= 3 * DEADLINE_S
    assert b"Traceback" not in node.log().encode()


def test_head_answers_like_get_on_a_real_server(node: ServerProcess) -> None:
    head = httpx.head(f"{node.url}/healthz", timeout=PROMPT)
    get = httpx.get(f"{node.url}/healthz", timeout=PROMPT)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


@pytest.fixture
def bounded(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that holds at most three connections."""
    process = ServerProcess(tmp_path / "data", free_port(), file_limit=FILE_LIMIT)
    process.start(KIRIN_WORKERS="0", KIRIN_MAX_CONNECTIONS="3")
    yield process
    process.stop()


def _busy(node: ServerProcess) -> socket.socket:
    """A connection with a request in progress: its head sent, its body still to come."""
    sock = socket.create_connection(("127.0.0.1", node.port))
    sock.sendall(
        f"POST /model/v1/generation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
    )
    return sock


def test_beyond_the_bound_a_connection_is_answered_503(bounded: ServerProcess) -> None:
    busy = [_busy(bounded) for _ in range(3)]
    try:
        time.sleep(0.5)
        refused = httpx.get(f"{bounded.url}/healthz", timeout=PROMPT)
    finally:
        _close(busy)
    body = json.loads(refused.content)
    assert refused.status_code == 503, refused.text
    assert body["error"]["code"] == "8002005099"
    assert body["message"].startswith("connections: at most 3 at once")
    assert refused.headers["retry-after"] == "1"


def test_at_the_bound_idle_connections_make_room(bounded: ServerProcess) -> None:
    idle = _connect(bounded, 3)
    try:
        time.sleep(0.5)
        _answers_promptly(bounded)
        assert sum(_closed_by_server(sock) for sock in idle) >= 1
    finally:
        _close(idle)
