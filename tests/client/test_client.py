"""``Client`` and ``AsyncClient`` against the hosted wire, replayed at the HTTP edge."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from kirin_video.client import (
    AsyncClient,
    Client,
    ErrorCode,
    InvalidRequest,
    NoOutput,
    RateLimited,
    Task,
    TaskCancelled,
    TaskFailed,
    Timeout,
)
from tests.client.conftest import (
    CANCELLED,
    COMPLETED,
    CREATE_ROUTE,
    CREATED,
    FAILED,
    HOSTED,
    QUEUED,
    RUNNING,
    TASK_ID,
    TASK_ROUTE,
    Replay,
    error_body,
)
from tests.conftest import make_image

PNG = make_image()


def test_create_sends_the_hosted_envelope_with_the_parameters(
    replay: Replay, tmp_path: Path
) -> None:
    path = tmp_path / "first.png"
    path.write_bytes(PNG)
    replay.on(CREATE_ROUTE, CREATED)
    task = replay.client().create(
        "kirin_v1_6_multi_i2v",
        image_list=[path, PNG, Image.new("RGB", (400, 400)), "https://img.example/d.png"],
        prompt="two cats",
        duration=10,
        aspect_ratio="9:16",
        watermark=True,
        seed=0,
        external_task_id="order-1",
    )
    [body] = replay.bodies()
    assert body.keys() == {"model", "input"} and body["model"] == "kirin_v1_6_multi_i2v"
    [block] = body["input"]
    params = block["params"]
    images = [item["image"] for item in params.pop("image_list")]
    assert base64.b64decode(images[0]) == PNG and images[1] == images[0]
    assert base64.b64decode(images[2])[:8] == b"\x89PNG\r\n\x1a\n"
    assert images[3] == "https://img.example/d.png"
    assert params == {
        "prompt": "two cats",
        "duration": "10",
        "aspect_ratio": "9:16",
        "watermark_info": {"enabled": True},
        "seed": 0,
        "external_task_id": "order-1",
    }
    assert (task.id, task.status, task.created_at) == (
        TASK_ID,
        "in_progress",
        CREATED["created_at"],
    )


def test_create_posts_to_the_gateway_with_the_key_and_a_fresh_request_id(replay: Replay) -> None:
    replay.on(CREATE_ROUTE, CREATED)
    client = replay.client()
    client.create("kirin_v1_6_i2v", image="https://img.example/a.png", cfg_scale=0.7, sound="on")
    client.create("kirin_v1_6_i2v", image="https://img.example/a.png")
    first, second = replay.seen
    assert str(first.url) == "https://cloud.vtrix.ai/model/v1/generation"
    assert first.headers["Authorization"] == "Bearer hosted-key"
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["User-Agent"].startswith("kirin-video-sdk")
    assert len(first.headers["X-Request-Id"]) == 32
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    assert replay.bodies()[0]["input"][0]["params"] == {
        "image": "https://img.example/a.png",
        "cfg_scale": 0.7,
        "sound": "on",
    }


@pytest.mark.parametrize("base_url", [HOSTED, f"{HOSTED}/", f"{HOSTED}/model", f"{HOSTED}/model/"])
def test_a_base_url_with_or_without_model_reaches_the_same_routes(
    replay: Replay, base_url: str
) -> None:
    replay.on(CREATE_ROUTE, CREATED).on(TASK_ROUTE, RUNNING)
    client = replay.client(base_url)
    client.get(client.create("kirin_v1_6_i2v", image="https://img.example/a.png"))
    assert [str(r.url) for r in replay.seen] == [
        "https://cloud.vtrix.ai/model/v1/generation",
        f"https://cloud.vtrix.ai/model/v1/generation/task/{TASK_ID}",
    ]
    assert client.base_url == HOSTED


def test_an_external_task_id_is_escaped_whole_in_the_path(replay: Replay) -> None:
    replay.on("GET /model/v1/generation/task/order%2F7%20a", COMPLETED)
    replay.on("POST /model/v1/generation/task/order%2F7%20a/cancel", CANCELLED)
    client = replay.client()
    assert client.get("order/7 a").id == TASK_ID
    assert client.cancel("order/7 a").cancelled


def test_bad_constructor_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"base_url: must be an http\(s\) URL; got .cloud\.vtrix"):
        Client("cloud.vtrix.ai", "k")
    with pytest.raises(ValueError, match="api_key: must be an API key or a JWT"):
        AsyncClient(HOSTED, "")
    with pytest.raises(ValueError, match="task: must be a task id"):
        Client(HOSTED, "k").get("")


def test_an_unknown_image_type_is_a_type_error(replay: Replay) -> None:
    with pytest.raises(TypeError, match="file path, bytes, a PIL image or an http"):
        replay.client().create("kirin_v1_6_i2v", image=42)  # type: ignore[arg-type]
    assert replay.seen == []


def test_wait_polls_from_the_queue_to_completed_and_reports_each_state(replay: Replay) -> None:
    replay.on(TASK_ROUTE, QUEUED, RUNNING, COMPLETED)
    seen: list[tuple[str, int | None, float | None]] = []
    task = replay.client().wait(
        Task.from_json(CREATED),
        on_progress=lambda t: seen.append((t.status, t.queue_position, t.progress)),
    )
    assert seen == [
        ("in_progress", 2, None),
        ("in_progress", None, 0.45),
        ("completed", None, None),
    ]
    assert task.video_url == "https://cdn.vtrix.example/video.mp4?sig=1"


def test_wait_raises_task_failed_with_the_tasks_error(replay: Replay) -> None:
    replay.on(TASK_ROUTE, RUNNING, FAILED)
    with pytest.raises(TaskFailed) as caught:
        replay.client().wait(TASK_ID)
    error = caught.value
    assert not isinstance(error, TaskCancelled)
    assert (error.code, error.task.id) == (ErrorCode.GENERATION_FAILED, TASK_ID)
    assert error.message == f"task {TASK_ID} failed: the engine ran out of memory"


def test_wait_raises_task_cancelled_for_a_cancelled_task(replay: Replay) -> None:
    replay.on(TASK_ROUTE, CANCELLED)
    with pytest.raises(TaskCancelled) as caught:
        replay.client().wait(TASK_ID)
    assert caught.value.code == "8002005097" and caught.value.task.cancelled


def test_wait_returns_a_failed_task_when_asked_not_to_raise(replay: Replay) -> None:
    replay.on(TASK_ROUTE, {**FAILED, "error": "provider rejected request"})
    task = replay.client().wait(TASK_ID, raise_on_failure=False)
    assert task.status == "failed" and task.error is not None
    assert (task.error.code, task.error.message) == (None, "provider rejected request")


def test_wait_rides_out_a_429_a_503_and_a_dropped_connection(replay: Replay) -> None:
    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    limited = error_body("8002005015", "rate limited")
    replay.on(
        TASK_ROUTE,
        httpx.Response(429, json=limited, headers={"Retry-After": "0"}),
        httpx.Response(503, json=error_body("8002005099", "no engine")),
        dropped,
        COMPLETED,
    )
    assert replay.client().wait(TASK_ID, timeout=30).status == "completed"
    # the stream (the hosted service has none: 404), then the four polls
    assert [r.url.path.endswith("/stream") for r in replay.seen] == [True] + [False] * 4


def test_wait_does_not_retry_an_error_that_will_not_pass(replay: Replay) -> None:
    replay.on(TASK_ROUTE, httpx.Response(400, json=error_body("8002005014", "id: bad")))
    with pytest.raises(InvalidRequest):
        replay.client().wait(TASK_ID)
    assert len(replay.seen) == 2  # the stream's 404, then the one poll that tells why


def test_wait_raises_a_429_whose_retry_after_is_past_the_timeout(replay: Replay) -> None:
    limited = error_body("8002005015", "rate limited")
    replay.on(TASK_ROUTE, httpx.Response(429, json=limited, headers={"Retry-After": "60"}))
    with pytest.raises(RateLimited):
        replay.client().wait(TASK_ID, timeout=1)


def test_wait_gives_up_after_its_timeout_with_the_last_state(replay: Replay) -> None:
    replay.on(TASK_ROUTE, RUNNING)
    with pytest.raises(Timeout, match=r"still in_progress after 0\.01s") as caught:
        replay.client().wait(TASK_ID, timeout=0.01)
    assert caught.value.task.progress == 0.45 and isinstance(caught.value, TimeoutError)


def test_download_streams_both_videos_without_the_api_key(replay: Replay, tmp_path: Path) -> None:
    replay.on(TASK_ROUTE, COMPLETED)
    replay.on("GET cdn.vtrix.example/video.mp4", httpx.Response(200, content=b"plain-mp4"))
    replay.on("GET cdn.vtrix.example/video_watermarked.mp4", httpx.Response(200, content=b"wm"))
    client = replay.client()
    path = client.download(TASK_ID, tmp_path / "out.mp4")
    marked = client.download(Task.from_json(COMPLETED), tmp_path / "w.mp4", watermarked=True)
    assert (path.read_bytes(), marked.read_bytes()) == (b"plain-mp4", b"wm")
    cdn = [r for r in replay.seen if r.url.host == "cdn.vtrix.example"]
    assert len(cdn) == 2 and all("Authorization" not in r.headers for r in cdn)
    assert cdn[0].url.params["sig"] == "1"


def test_download_of_a_task_without_the_video_says_so(replay: Replay, tmp_path: Path) -> None:
    replay.on(TASK_ROUTE, RUNNING)
    with pytest.raises(NoOutput, match=f"task {TASK_ID} \\(in_progress\\) has no video"):
        replay.client().download(TASK_ID, tmp_path / "x.mp4")
    no_mark = {**COMPLETED, "output": [{"content": COMPLETED["output"][0]["content"][:1]}]}
    with pytest.raises(NoOutput, match="has no watermarked video"):
        replay.client().download(Task.from_json(no_mark), tmp_path / "x.mp4", watermarked=True)


def test_iter_tasks_follows_cursors(replay: Replay) -> None:
    pages = {
        None: {"data": [COMPLETED, RUNNING], "next_cursor": "c2"},
        "c2": {"data": [FAILED], "next_cursor": None},
    }
    replay.on(
        "GET /model/v1/generation",
        lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]),
    )
    tasks = list(replay.client().iter_tasks(status="in_progress", limit=2))
    assert [t.status for t in tasks] == ["completed", "in_progress", "failed"]
    assert replay.seen[0].url.params["status"] == "in_progress"
    assert replay.seen[1].url.params["cursor"] == "c2"


def test_async_create_has_exactly_the_keywords_of_the_sync_one() -> None:
    for name in ("create", "get", "list", "cancel", "callbacks", "models", "wait", "download"):
        sync, awaitable = getattr(Client, name), getattr(AsyncClient, name)
        assert inspect.signature(sync) == inspect.signature(awaitable), name
        assert inspect.iscoroutinefunction(awaitable) and not inspect.iscoroutinefunction(sync)


def test_async_client_creates_waits_and_downloads(replay: Replay, tmp_path: Path) -> None:
    replay.on(CREATE_ROUTE, CREATED).on(TASK_ROUTE, QUEUED, RUNNING, COMPLETED)
    replay.on("GET cdn.vtrix.example/video.mp4", httpx.Response(200, content=b"mp4"))
    states: list[float | None] = []

    async def scenario() -> Path:
        async with replay.async_client(f"{HOSTED}/model") as client:
            task = await client.create("kirin_v1_6_i2v", image=PNG, mode="pro", duration=5)
            done = await client.wait(task, on_progress=lambda t: states.append(t.progress))
            return await client.download(done, tmp_path / "a.mp4")

    assert asyncio.run(scenario()).read_bytes() == b"mp4"
    assert states == [None, 0.45, None]
    params = replay.bodies()[0]["input"][0]["params"]
    assert base64.b64decode(params["image"]) == PNG and params["duration"] == "5"


def test_async_wait_raises_task_cancelled(replay: Replay) -> None:
    replay.on(TASK_ROUTE, RUNNING, CANCELLED)

    async def scenario() -> None:
        async with replay.async_client() as client:
            await client.wait(TASK_ID)

    with pytest.raises(TaskCancelled):
        asyncio.run(scenario())


def test_the_task_object_round_trips_through_json(replay: Replay) -> None:
    replay.on(TASK_ROUTE, COMPLETED)
    task = replay.client().get(TASK_ID)
    assert json.loads(json.dumps(task.raw)) == COMPLETED and task.usage is not None
