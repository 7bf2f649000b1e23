"""The SDK against a fake server at the HTTP edge (httpx.MockTransport) and the real one."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from standardwebhooks import Webhook

from kirin_video.cli._common import embedded_server
from kirin_video.client import (
    AsyncClient,
    Client,
    KirinAPIError,
    Task,
    WebhookVerificationError,
    verify_webhook,
)
from kirin_video.config import Settings
from tests.conftest import make_image

Handler = Callable[[httpx.Request], httpx.Response]
PNG = make_image()


def task_json(status: str = "pending", **extra: Any) -> dict[str, Any]:
    return {
        "id": "task_1",
        "model": "kirin_v1_6_i2v",
        "status": status,
        "created_at": 1,
        "updated_at": 2,
        "external_task_id": None,
        "metadata": {"seed": 3},
        **extra,
    }


COMPLETED = task_json(
    "completed",
    output=[
        {
            "content": [
                {"type": "video", "url": "https://cdn.example/v.mp4", "duration": 5},
                {
                    "type": "video",
                    "url": "https://cdn.example/w.mp4",
                    "duration": 5,
                    "watermarked": True,
                },
                {"type": "image", "url": "https://cdn.example/c.jpg"},
            ],
            "jobId": "task_1",
        }
    ],
    usage={"cost": "0.2800", "discount": 0},
)


def recording(answer: Handler) -> tuple[list[httpx.Request], Client]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return seen, Client(
        "https://api.example/model",
        "sk-1",
        poll_interval=0.001,
        transport=httpx.MockTransport(handler),
    )


def test_create_sends_raw_base64_from_path_bytes_and_pil(tmp_path: Path) -> None:
    path = tmp_path / "first.png"
    path.write_bytes(PNG)
    seen, client = recording(lambda r: httpx.Response(200, json=task_json()))
    client.create(
        "kirin_v1_6_multi_i2v",
        image_list=[path, PNG, Image.new("RGB", (400, 400))],
        prompt="p",
        duration=10,
        watermark=True,
        seed=0,
    )
    body = json.loads(seen[0].content)
    images = [item["image"] for item in body["image_list"]]
    assert base64.b64decode(images[0]) == PNG and images[1] == images[0]
    assert base64.b64decode(images[2])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not any(image.startswith("data:") for image in images)
    assert body["duration"] == "10" and body["watermark_info"] == {"enabled": True}
    assert body["seed"] == 0 and "negative_prompt" not in body and "mode" not in body


def test_create_passes_urls_through_and_authenticates() -> None:
    seen, client = recording(lambda r: httpx.Response(200, json=task_json()))
    task = client.create("kirin_v1_6_i2v", image="https://img.example/a.png", cfg_scale=0.7)
    request = seen[0]
    assert str(request.url) == "https://api.example/model/v1/generation"
    assert request.headers["Authorization"] == "Bearer sk-1"
    assert json.loads(request.content) == {
        "model": "kirin_v1_6_i2v",
        "image": "https://img.example/a.png",
        "cfg_scale": 0.7,
    }
    assert task.id == "task_1" and task.metadata == {"seed": 3}


def test_unknown_image_type_is_a_type_error() -> None:
    _, client = recording(lambda r: httpx.Response(200, json=task_json()))
    with pytest.raises(TypeError, match="file path, bytes, a PIL image or an http"):
        client.create("kirin_v1_6_i2v", image=42)  # type: ignore[arg-type]


def test_error_answer_raises_with_contract_code() -> None:
    error = {"error": {"code": "8002005003", "message": "prompt: too long"}}
    _, client = recording(lambda r: httpx.Response(400, json=error))
    with pytest.raises(KirinAPIError) as caught:
        client.get("task_1")
    assert (caught.value.code, caught.value.message, caught.value.status_code) == (
        "8002005003",
        "prompt: too long",
        400,
    )


def test_non_json_error_still_raises_kirin_error() -> None:
    _, client = recording(lambda r: httpx.Response(502, text="bad gateway"))
    with pytest.raises(KirinAPIError, match="HTTP 502"):
        client.models()


def test_unreachable_server_raises_kirin_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    _, client = recording(refuse)
    with pytest.raises(KirinAPIError) as caught:
        client.get("task_1")
    assert caught.value.code == "8002005099"


def test_wait_polls_until_completed_and_reports_progress() -> None:
    answers = iter([task_json("pending"), task_json("processing", progress=0.5), COMPLETED])
    _, client = recording(lambda r: httpx.Response(200, json=next(answers)))
    seen: list[str] = []
    task = client.wait("task_1", on_progress=lambda t: seen.append(t.status))
    assert seen == ["pending", "processing", "completed"]
    assert task.video_url == "https://cdn.example/v.mp4"
    assert task.watermarked_url == "https://cdn.example/w.mp4"
    assert task.cover_url == "https://cdn.example/c.jpg"


def test_wait_raises_the_failed_tasks_error() -> None:
    failed = task_json("failed", error={"code": "8002005098", "message": "out of memory"})
    _, client = recording(lambda r: httpx.Response(200, json=failed))
    with pytest.raises(KirinAPIError) as caught:
        client.wait("task_1")
    assert (caught.value.code, caught.value.message) == ("8002005098", "out of memory")


def test_wait_gives_up_after_timeout() -> None:
    _, client = recording(lambda r: httpx.Response(200, json=task_json("processing")))
    with pytest.raises(KirinAPIError, match="still processing"):
        client.wait("task_1", timeout=0.01)


def test_download_streams_the_video_without_the_api_key(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.example":
            return httpx.Response(200, content=b"mp4-bytes-" + request.url.path.encode())
        return httpx.Response(200, json=COMPLETED)

    seen, client = recording(answer)
    path = client.download("task_1", tmp_path / "out.mp4")
    marked = client.download(Task.from_json(COMPLETED), tmp_path / "w.mp4", watermarked=True)
    assert path.read_bytes() == b"mp4-bytes-/v.mp4"
    assert marked.read_bytes() == b"mp4-bytes-/w.mp4"
    assert all("Authorization" not in r.headers for r in seen if r.url.host == "cdn.example")


def test_iter_tasks_follows_cursors() -> None:
    pages = {
        None: {"data": [task_json(), task_json()], "next_cursor": "c2"},
        "c2": {"data": [task_json()], "next_cursor": None},
    }
    seen, client = recording(lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    assert len(list(client.iter_tasks(status="pending", limit=2))) == 3
    assert seen[1].url.params["cursor"] == "c2" and seen[0].url.params["status"] == "pending"


def test_async_client_creates_and_waits() -> None:
    import asyncio

    answers = iter([task_json(), task_json("processing", progress=0.1), COMPLETED])

    async def scenario() -> Task:
        transport = httpx.MockTransport(lambda r: httpx.Response(200, json=next(answers)))
        async with AsyncClient(
            "https://api.example", "sk", poll_interval=0.001, transport=transport
        ) as client:
            task = await client.create("kirin_v1_6_i2v", image=PNG)
            return await client.wait(task)

    assert asyncio.run(scenario()).status == "completed"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real server on a loopback port (no worker): base URL and a key."""
    with embedded_server(Settings(data_dir=tmp_path / "data", workers=0)) as target:
        yield target


def _cancelled_with_callback(client: Client) -> Task:
    task = client.create("kirin_v1_6_i2v", image=PNG, callback_url="http://127.0.0.1:9/hook")
    return client.cancel(task)


def test_callbacks_lists_the_deliveries_from_the_server(live: tuple[str, str]) -> None:
    with Client(*live) as client:
        deliveries = client.callbacks(_cancelled_with_callback(client))
    assert [(d["event"], d["url"]) for d in deliveries] == [
        ("cancelled", "http://127.0.0.1:9/hook")
    ]


def test_async_callbacks_and_unknown_task(live: tuple[str, str]) -> None:
    import asyncio

    with Client(*live) as client:
        task = _cancelled_with_callback(client)

    async def scenario() -> list[dict[str, Any]]:
        async with AsyncClient(*live) as client:
            with pytest.raises(KirinAPIError) as caught:
                await client.callbacks("task_nope")
            assert caught.value.code == "8002005013"
            return await client.callbacks(task.id)

    assert [d["event"] for d in asyncio.run(scenario())] == ["cancelled"]


SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def signed(body: str, *, secret: str = SECRET, at: datetime | None = None) -> httpx.Headers:
    moment = at or datetime.now(UTC)
    return httpx.Headers(
        {
            "Webhook-Id": "msg_1",
            "Webhook-Timestamp": str(int(moment.timestamp())),
            "Webhook-Signature": Webhook(secret).sign("msg_1", moment, body),
        }
    )


def test_verify_webhook_returns_the_task_object() -> None:
    body = json.dumps(COMPLETED)
    assert verify_webhook(body.encode(), signed(body), SECRET) == COMPLETED
    assert verify_webhook(body, dict(signed(body)), SECRET)["id"] == "task_1"


def test_verify_webhook_refuses_a_tampered_body() -> None:
    body = json.dumps(COMPLETED)
    with pytest.raises(WebhookVerificationError, match="callback refused") as caught:
        verify_webhook(body.replace("completed", "failed"), signed(body), SECRET)
    assert isinstance(caught.value, KirinAPIError) and caught.value.code == "webhook_invalid"


def test_verify_webhook_refuses_another_secret_and_a_stale_timestamp() -> None:
    body = json.dumps(COMPLETED)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, signed(body, secret=other), SECRET)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(body, signed(body, at=datetime.now(UTC) - timedelta(hours=1)), SECRET)
