"""Image URLs are fetched during validation from a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, bearer, make_image
from tests.helpers import GENERATION, create, kirin_error, task_rows

PNG = make_image()


class _Images(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/a.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_image_is_fetched_when_private_urls_are_allowed(
    make_client: Callable[..., TestClient], image_server: str
) -> None:
    client = make_client(allow_private_urls=True)
    body = {"model": "kirin_v1_6_i2v", "image": f"{image_server}/a.png"}
    assert create(client, body)["status"] == "in_progress"


def test_unreachable_url_names_field_and_status(
    make_client: Callable[..., TestClient], image_server: str
) -> None:
    client = make_client(allow_private_urls=True)
    body = {
        "model": "kirin_v1_6_multi_i2v",
        "prompt": "p",
        "image_list": [
            {"image": f"{image_server}/a.png"},
            {"image": f"{image_server}/missing.png"},
        ],
    }
    response = client.post(GENERATION, json=body, headers=bearer(KEY_A))
    message = kirin_error(response, status=400, code="8002005002")
    assert "image_list[1].image" in message and "404" in message
    assert client.get(GENERATION, headers=bearer(KEY_A)).json()["data"] == []
    assert task_rows(client) == 0


def test_loopback_url_is_refused_by_default(client: TestClient, image_server: str) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": f"{image_server}/a.png"}
    response = client.post(GENERATION, json=body, headers=bearer(KEY_A))
    assert "loopback" in kirin_error(response, status=400, code="8002005002")
