"""What the /v1/videos tests share: a create as the SDK sends it, and OpenAI's error shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, bearer, make_image
from tests.webhooks.conftest import Receiver

VIDEOS = "/v1/videos"
PNG = make_image(480, 320)
VIDEO_KEYS = {
    "id",
    "object",
    "created_at",
    "completed_at",
    "expires_at",
    "model",
    "status",
    "progress",
    "prompt",
    "seconds",
    "size",
    "error",
}


def form_create(
    client: TestClient,
    *,
    image: bytes | None = PNG,
    key: str = KEY_A,
    extra_body: dict[str, Any] | None = None,
    **fields: Any,
) -> httpx.Response:
    """POST /v1/videos as the openai SDK does: multipart, the picture as a file part (a form
    with no file goes urlencoded, which the route reads as well)."""
    data = {"prompt": "a slow push in", **fields}
    if extra_body is not None:
        data["extra_body"] = json.dumps(extra_body)
    files = {"input_reference": ("frame.png", image, "image/png")} if image is not None else None
    return client.post(VIDEOS, data=data, files=files, headers=bearer(key))


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    video: dict[str, Any] = response.json()
    assert set(video) == VIDEO_KEYS and video["object"] == "video", video
    return video


def openai_error(
    response: httpx.Response, *, status: int, kind: str, code: str, param: str | None = None
) -> str:
    """An error in OpenAI's shape, with its status, type, code and param; the message it holds."""
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    error = body["error"]
    assert (error["type"], error["code"], error["param"]) == (kind, code, param), error
    assert isinstance(error["message"], str) and error["message"], error
    assert response.headers["openai-poll-after-ms"].isdigit()
    return str(error["message"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A callback receiver on loopback that answers 200."""
    server = Receiver()
    yield server
    server.close()
