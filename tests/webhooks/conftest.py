"""A real HTTP receiver on loopback that answers callbacks as each test scripts it.

Also what callback tests share: settings that send fast, creating and cancelling a task, and
what a callback body on the kirin surface must look like.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, b64, bearer, make_image

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST = {
    "allow_private_urls": True,
    "webhook_secret": SECRET,
    "webhook_backoff_s": 0.2,
    "webhook_backoff_factor": 1.0,
    "webhook_poll_s": 0.05,
    "webhook_timeout_s": 1.0,
}
IMAGE = b64(make_image(320, 320))
CANCELLED = "8002005097"  # the error code of a task cancelled at the client's request
WORDS = {"in_progress", "completed", "failed"}


def create(client: TestClient, url: str, token: str = KEY_A, **fields: Any) -> dict[str, Any]:
    """A task on the kirin surface that calls back ``url``."""
    body = {"model": "kirin_v1_6_i2v", "image": IMAGE, "callback_url": url, **fields}
    response = client.post("/v1/generation", json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def cancel(client: TestClient, task_id: str, token: str = KEY_A) -> None:
    response = client.post(f"/v1/generation/task/{task_id}/cancel", headers=bearer(token))
    assert response.status_code == 200, response.text


def assert_kirin_object(body: dict[str, Any], *, task_id: str) -> None:
    """A kirin callback body is the hosted task object: three words, ms, no null keys."""
    assert body["id"] == task_id and body["status"] in WORDS, body
    now_ms = time.time() * 1000
    for name in ("created_at", "updated_at"):
        assert isinstance(body[name], int) and now_ms - 3_600_000 < body[name] <= now_ms, body
    assert None not in body.values(), body
    status = body["status"]
    assert ("error" in body) == (status == "failed"), body
    assert ("output" in body) == ("usage" in body) == (status == "completed"), body
    if status == "failed":
        assert set(body["error"]) == {"code", "message", "error_message"}, body
        assert body["error"]["message"] == body["error"]["error_message"] != "", body
    if status == "completed":
        assert "progress" not in body, body
        (item,) = body["output"]
        assert set(item) == {"content"}, body  # jobId moved into every content item
        for entry in item["content"]:
            assert entry["jobId"] == task_id and entry["url"], body
            if entry["type"] == "video":
                assert isinstance(entry["duration"], str) and entry["duration"].isdigit(), body


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    """One scripted answer: a status, optional headers, and a delay before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Receiver:
    """Records every request; answers from ``script`` in order, then 200."""

    def __init__(self, port: int = 0) -> None:
        self.script: list[Answer] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                answer = receiver._next()
                time.sleep(answer.delay_s)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers), body, time.time(), answer.status)
                    )
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _next(self) -> Answer:
        with self._lock:
            return self.script.pop(0) if self.script else Answer()

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in arrival order."""
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def wait(self, *, delivered: int, timeout_s: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.delivered()) >= delivered:
                return self.delivered()
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.delivered())} of {delivered} deliveries: {self.received}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class StuckReceiver:
    """Accepts every connection and never answers: each callback to it hangs until its timeout."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._socket.settimeout(0.05)
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/hook"

    @property
    def accepted(self) -> int:
        """Connections made to it so far: each is a sender held."""
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._held.append(connection)

    def close(self) -> None:
        """Drop every held connection, so the sends waiting on them end now."""
        self._closed.set()
        self._thread.join()
        self._socket.close()
        with self._lock:
            for connection in self._held:
                connection.close()
