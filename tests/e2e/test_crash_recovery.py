"""A server killed mid-generation finishes every task it had after a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kirin_video.media.encode import probe
from tests.conftest import b64, make_image
from tests.e2e.conftest import ServerProcess, wait_for

# square: the smallest 720p frame the contract makes, so the two runs after the restart are quick
BODY = {
    "model": "kirin_v1_6_i2v",
    "image": b64(make_image(480, 480)),
    "duration": "10",
    "seed": 3,
}


def test_task_interrupted_by_kill_is_finished_after_restart(
    server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = server()
    with first.client() as client:
        running = client.post("/v1/generation", json=BODY).json()
        queued = client.post("/v1/generation", json={**BODY, "duration": "5"}).json()
        wait_for(client, running["id"], until=lambda t: "progress" in t)  # running, not queued
    first.kill()

    second = server()
    with second.client() as client:
        for task_id in (running["id"], queued["id"]):
            done = wait_for(
                client,
                task_id,
                until=lambda t: t["status"] in ("completed", "failed"),
                timeout_s=240,
            )
            assert done["status"] == "completed", done
        video = client.get(done["output"][0]["content"][0]["url"])  # type: ignore[index]
    path = tmp_path / "out.mp4"
    path.write_bytes(video.content)
    assert probe(path).frames == 150
