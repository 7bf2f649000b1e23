"""A create the key's limits refuse costs no image work: nothing is fetched, nothing decoded."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kirin_video.surfaces import intake
from tests.conftest import KEY_A, b64, bearer, make_image

PNG = make_image(480, 320)


class ImageServer:
    """Serves one PNG on loopback and counts the fetches."""

    def __init__(self) -> None:
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *_args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/a.png"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def images() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.close()


#: Each surface's create path and a body whose one image is ``url``.
SURFACES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "kirin": ("/v1/generation", lambda url: {"model": "kirin_v1_6_i2v", "image": url}),
    "kling": ("/v1/videos/image2video", lambda url: {"model_name": "kling-v1-6", "image": url}),
    "openai": ("/v1/videos", lambda url: {"prompt": "p", "input_reference": {"image_url": url}}),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_a_key_at_its_cap_is_refused_before_its_image_is_fetched(
    make_client: Callable[..., TestClient], images: ImageServer, surface: str
) -> None:
    client = make_client(allow_private_urls=True, max_unfinished_tasks=1)
    path, body = SURFACES[surface]
    assert client.post(path, json=body(images.url), headers=bearer(KEY_A)).status_code == 200
    assert images.fetches == 1
    refused = client.post(path, json=body(images.url), headers=bearer(KEY_A))
    assert refused.status_code == 429, refused.text
    assert "at most 1 pending or processing tasks" in refused.text
    assert images.fetches == 1  # the refused create fetched nothing


@pytest.mark.parametrize("surface", SURFACES)
def test_a_key_over_its_rate_is_refused_before_its_image_is_fetched(
    make_client: Callable[..., TestClient], images: ImageServer, surface: str
) -> None:
    client = make_client(allow_private_urls=True, rate_limit="1/minute")
    path, body = SURFACES[surface]
    assert client.post(path, json=body(images.url), headers=bearer(KEY_A)).status_code == 200
    refused = client.post(path, json=body(images.url), headers=bearer(KEY_A))
    assert refused.status_code == 429, refused.text
    assert "per 1 minute" in refused.text
    assert images.fetches == 1


def test_a_key_at_its_cap_has_no_image_decoded(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(max_unfinished_tasks=1)
    body = {"model": "kirin_v1_6_i2v", "image": b64(PNG)}
    assert client.post("/v1/generation", json=body, headers=bearer(KEY_A)).status_code == 200
    decoded: list[object] = []
    load = intake.load_image

    async def counted(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args)
        return await load(*args, **kwargs)

    monkeypatch.setattr(intake, "load_image", counted)
    refused = client.post("/v1/generation", json=body, headers=bearer(KEY_A))
    assert refused.status_code == 429 and decoded == []
