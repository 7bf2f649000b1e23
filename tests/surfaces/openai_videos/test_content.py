"""A finished video's content: the MP4 and its JPEG cover, streamed; gone once deleted."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from kirin_video.media.encode import probe
from tests.conftest import KEY_A, bearer
from tests.surfaces.openai_videos.conftest import VIDEOS, created, form_create


def _finished(client: TestClient, video_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (video := client.get(f"{VIDEOS}/{video_id}", headers=bearer(KEY_A)).json())["status"] in (
        "queued",
        "in_progress",
    ):
        assert time.monotonic() < deadline, video
        time.sleep(0.05)
    return video  # type: ignore[no-any-return]


def test_both_variants_stream_and_a_delete_removes_the_files(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(workers=1)
    video = _finished(client, created(form_create(client, extra_body={"watermark": True}))["id"])
    assert (video["status"], video["progress"], video["size"]) == ("completed", 100, "1080x720")
    content = client.get(f"{VIDEOS}/{video['id']}/content", headers=bearer(KEY_A))
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    assert content.headers["openai-poll-after-ms"] == "1000"
    path = tmp_path / "video.mp4"
    path.write_bytes(content.content)
    info = probe(path)
    assert (info.width, info.height, info.frames) == (1080, 720, 150)
    outputs = client.app.state.services.settings.outputs_dir / video["id"]  # type: ignore[attr-defined]
    assert content.content == (outputs / "1" / "video_watermarked.mp4").read_bytes()
    cover = client.get(
        f"{VIDEOS}/{video['id']}/content", params={"variant": "thumbnail"}, headers=bearer(KEY_A)
    )
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"
    assert cover.content[:2] == b"\xff\xd8"
    assert client.delete(f"{VIDEOS}/{video['id']}", headers=bearer(KEY_A)).status_code == 200
    assert not outputs.exists()
