"""A Kling-style client against a real `kirin serve`: AK/SK JWTs, both routes, videos decoded."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt

from kirin_video.config import Settings
from kirin_video.media.encode import probe
from kirin_video.tasks.db import Database
from kirin_video.tasks.keys import issue_key
from tests.conftest import b64, make_image
from tests.e2e.conftest import ServerProcess

IMAGE = b64(make_image(640, 480))


def _kling_client(url: str, access_key: str, secret_key: str) -> httpx.Client:
    """Headers as Kling's docs build them: a fresh HS256 JWT, iss = AK, signed with SK."""
    now = int(time.time())
    token = jwt.encode(
        {"iss": access_key, "exp": now + 1800, "nbf": now - 5},
        secret_key,
        algorithm="HS256",
        headers={"alg": "HS256", "typ": "JWT"},
    )
    return httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


def _data(response: httpx.Response) -> Any:
    body = response.json()
    assert response.status_code == 200 and body["code"] == 0, body
    return body["data"]


def test_a_kling_client_creates_polls_lists_and_downloads(
    server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    db = Database.from_settings(Settings(data_dir=tmp_path / "data"))
    db.migrate()
    key = issue_key(db, name="kling-client")
    db.close()
    node = server()
    with _kling_client(node.url, key.access_id, key.secret) as kling:
        i2v = _data(
            kling.post(
                "/v1/videos/image2video",
                json={"model_name": "kling-v1-6", "image": IMAGE, "external_task_id": "shot-1"},
            )
        )
        multi = _data(
            kling.post(
                "/v1/videos/multi-image2video",
                json={
                    "model_name": "kling-v1-6",
                    "image_list": [{"image": IMAGE}, {"image": b64(make_image(480, 480, seed=2))}],
                    "prompt": "two views meet",
                    "aspect_ratio": "9:16",
                },
            )
        )
        done = {}
        for route, task_id in (("image2video", "shot-1"), ("multi-image2video", multi["task_id"])):
            deadline = time.monotonic() + 120
            while (task := _data(kling.get(f"/v1/videos/{route}/{task_id}")))["task_status"] in (
                "submitted",
                "processing",
            ):
                assert time.monotonic() < deadline, task
                time.sleep(0.2)
            assert task["task_status"] == "succeed", task
            done[route] = task
        listed = _data(kling.get("/v1/videos/image2video", params={"pageNum": 1, "pageSize": 10}))
        kirin = kling.get(f"/model/v1/generation/task/{i2v['task_id']}").json()
        sizes = {}
        for route, task in done.items():
            path = tmp_path / f"{route}.mp4"
            path.write_bytes(httpx.get(task["task_result"]["videos"][0]["url"]).content)
            info = probe(path)
            sizes[route] = (info.width, info.height, info.frames, info.fps)
    assert done["image2video"]["task_id"] == i2v["task_id"]
    assert [t["task_id"] for t in listed] == [i2v["task_id"]]
    assert (kirin["status"], kirin["external_task_id"]) == ("completed", "shot-1")
    # i2v keeps the first frame's 4:3 at 720p std; multi renders the asked 9:16
    assert sizes == {"image2video": (960, 720, 150, 30), "multi-image2video": (720, 1280, 150, 30)}
