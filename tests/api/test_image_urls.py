"""Image URLs are fetched during validation from a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, bearer, make_image

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
    response = client.post("/v1/generation", json=body, headers=bearer(KEY_A))
    assert response.status_code == 200, response.text


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
    response = client.post("/v1/generation", json=body, headers=bearer(KEY_A))
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, "8002005002")
    assert "image_list[1].image" in error["message"] and "404" in error["message"]
    assert client.get("/v1/generation", headers=bearer(KEY_A)).json()["data"] == []


def test_loopback_url_is_refused_by_default(client: TestClient, image_server: str) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": f"{image_server}/a.png"}
    error = client.post("/v1/generation", json=body, headers=bearer(KEY_A)).json()["error"]
    assert error["code"] == "8002005002" and "loopback" in error["message"]
