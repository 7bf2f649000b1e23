"""Whole tasks of both models through the HTTP API, with the output video decoded and measured."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.media.encode import probe
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.e2e.conftest import download, first_and_last_frames, get, run_task


@pytest.fixture(scope="module")
def worker_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app with a worker for every test here: each runs its tasks to their end on it.

    Its preview engine runs in a child process, as `kirin serve` runs it, cancel included.
    """
    data_dir = tmp_path_factory.mktemp("full") / "data"
    settings = Settings(data_dir=data_dir, api_keys=[KEY_A], workers=1, engine_child=True)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "size", "frames"),
    [
        ({"model": "kirin_v1_6_i2v", "image": b64(make_image(480, 320))}, (1080, 720), 150),
        (
            {
                "model": "kirin_v1_6_multi_i2v",
                "prompt": "friends",
                "aspect_ratio": "1:1",
                "image_list": [{"image": b64(make_image(seed=s))} for s in range(3)],
            },
            (720, 720),
            150,
        ),
        (
            {
                "model": "kirin_v1_6_multi_i2v",
                "prompt": "a portrait",
                "aspect_ratio": "9:16",
                "image_list": [{"image": b64(make_image(400, 600))}],
            },
            (720, 1280),
            150,
        ),
    ],
    ids=["i2v std 3:2", "multi 1:1 three references", "multi 9:16"],
)
def test_completed_task_delivers_contract_video(
    worker_client: TestClient,
    tmp_path: Path,
    body: dict[str, Any],
    size: tuple[int, int],
    frames: int,
) -> None:
    task = run_task(worker_client, {**body, "seed": 11})
    assert task["status"] == "completed", task
    video = task["output"][0]["content"][0]
    assert (video["type"], video["duration"], video["jobId"]) == ("video", "5", task["id"])
    assert "progress" not in task and "error" not in task
    info = probe(download(worker_client, video["url"], tmp_path / "v.mp4"))
    assert (info.width, info.height, info.frames) == (*size, frames)
    assert info.fps == pytest.approx(30)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert task["metadata"]["engine"] == "preview"
    assert (task["metadata"]["width"], task["metadata"]["height"]) == size
    assert task["metadata"]["seed"] == 11
    assert set(task["metadata"]["timings"]) == {"queued_s", "generate_s", "encode_s", "total_s"}
    assert task["usage"] == {"cost": "0.2800", "discount": 0.0}


def test_pro_i2v_with_both_frames_starts_and_ends_on_them(
    worker_client: TestClient, tmp_path: Path
) -> None:
    first, last = make_image(600, 400, seed=1), make_image(600, 400, seed=2)
    task = run_task(
        worker_client,
        {"model": "kirin_v1_6_i2v", "mode": "pro", "image": b64(first), "image_tail": b64(last)},
    )
    assert task["status"] == "completed", task
    path = download(worker_client, task["output"][0]["content"][0]["url"], tmp_path / "v.mp4")
    info = probe(path)
    assert (info.width, info.height, info.frames) == (1620, 1080, 150)
    start, end = first_and_last_frames(path)
    for frame, source in ((start, first), (end, last)):
        expected = np.asarray(Image.open(__import__("io").BytesIO(source)).resize((1620, 1080)))
        assert np.abs(frame.astype(int) - expected.astype(int)).mean() < 8
    assert task["usage"]["cost"] == "0.4900"


def test_watermark_adds_a_second_video_that_differs(
    worker_client: TestClient, tmp_path: Path
) -> None:
    task = run_task(
        worker_client,
        {
            "model": "kirin_v1_6_i2v",
            "image": b64(make_image()),
            "watermark_info": {"enabled": True},
        },
    )
    content = task["output"][0]["content"]
    assert [item["type"] for item in content] == ["video", "video", "image"]
    assert {item["jobId"] for item in content} == {task["id"]}
    assert content[1]["duration"] == content[0]["duration"] == "5"
    assert content[1]["watermarked"] is True and "watermarked" not in content[0]
    clean = download(worker_client, content[0]["url"], tmp_path / "clean.mp4")
    marked = download(worker_client, content[1]["url"], tmp_path / "marked.mp4")
    assert probe(marked).frames == probe(clean).frames == 150
    frame_clean, _ = first_and_last_frames(clean)
    frame_marked, _ = first_and_last_frames(marked)
    assert np.abs(frame_clean.astype(int) - frame_marked.astype(int)).max() > 50
    cover = worker_client.get(content[2]["url"])
    assert cover.headers["content-type"] == "image/jpeg"


def test_same_seed_gives_the_same_video(worker_client: TestClient, tmp_path: Path) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": b64(make_image()), "seed": 5}
    paths = []
    for name in ("a", "b"):
        task = run_task(worker_client, body)
        paths.append(
            download(
                worker_client, task["output"][0]["content"][0]["url"], tmp_path / f"{name}.mp4"
            )
        )
    decoded = [first_and_last_frames(p)[1].astype(np.int16) for p in paths]
    # the rendered frames are identical; x264 here may round a few pixels differently run to run
    assert np.abs(decoded[0] - decoded[1]).mean() < 0.05


def test_progress_is_visible_while_processing(worker_client: TestClient) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": b64(make_image()), "mode": "pro"}
    task_id = worker_client.post("/v1/generation", json=body, headers=bearer(KEY_A)).json()["id"]
    seen = set()
    for _ in range(600):
        task = get(worker_client, task_id)
        if task["status"] == "in_progress" and "progress" in task:  # running, not queued
            seen.add(task["progress"])
        if task["status"] == "completed":
            break
        time.sleep(0.05)
    assert any(0 < value < 1 for value in seen), seen
    assert task["status"] == "completed" and "progress" not in task


def test_cancel_stops_a_running_task(worker_client: TestClient) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": b64(make_image()), "mode": "pro", "duration": "10"}
    task_id = worker_client.post("/v1/generation", json=body, headers=bearer(KEY_A)).json()["id"]
    for _ in range(600):
        if "progress" in get(worker_client, task_id):  # running
            break
        time.sleep(0.02)
    cancelled = worker_client.post(f"/v1/generation/task/{task_id}/cancel", headers=bearer(KEY_A))
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["error"]["code"]) == (
        "failed",
        "8002005097",
    )
    time.sleep(1.0)  # the worker notices at its next step and stores nothing
    final = get(worker_client, task_id)
    assert final["status"] == "failed" and final["error"]["code"] == "8002005097"
    assert "output" not in final and "progress" not in final
