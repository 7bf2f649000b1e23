"""Whole tasks on the diffusers engine: a tiny random Wan VACE pipeline loaded from disk."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.engines.wan_vace import DiffusersEngine
from kirin_video.media.encode import probe
from kirin_video.runtime.execute import GENERATE_SHARE
from tests.conftest import KEY_A, TINY_WAN, b64, bearer, make_image
from tests.e2e.conftest import (
    ServerProcess,
    download,
    first_and_last_frames,
    get,
    run_task,
    wait_for,
)
from tests.engines.conftest import exhaust_memory_once

FIRST, LAST = make_image(600, 400, seed=1), make_image(600, 400, seed=2)
REFERENCES = [make_image(400, 400, seed=seed) for seed in range(4)]


def wan(data_dir: Path, model_path: str, **overrides: Any) -> Settings:
    """Settings of an app with one worker running the tiny pipeline in this process.

    This process has torch and diffusers loaded already; a child would load them again.
    The diffusers engine in a child is what the server-process test below runs.
    """
    return Settings(
        data_dir=data_dir,
        api_keys=[KEY_A],
        workers=1,
        engine_child=False,
        model_path=model_path,
        **{**TINY_WAN, **overrides},
    )


@pytest.fixture(scope="module")
def wan_client(tmp_path_factory: pytest.TempPathFactory, tiny_wan: Path) -> Iterator[TestClient]:
    """One app for the tests that only run tasks on it: loading the pipeline once is enough."""
    data_dir = tmp_path_factory.mktemp("wan") / "data"
    with TestClient(create_app(wan(data_dir, str(tiny_wan)))) as client:
        yield client


def decoded(client: TestClient, task: dict[str, Any], path: Path, *, every: int = 5) -> np.ndarray:
    """Every ``every``-th frame of the task's video, as int16 so differences can be signed."""
    download(client, task["output"][0]["content"][0]["url"], path)
    with av.open(str(path)) as container:
        frames = [
            frame.to_ndarray(format="rgb24").astype(np.int16)
            for index, frame in enumerate(container.decode(video=0))
            if index % every == 0
        ]
    return np.stack(frames)


def picture(data: bytes, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize(size))


def i2v(**fields: Any) -> dict[str, Any]:
    return {"model": "kirin_v1_6_i2v", "prompt": "the sun rises over the valley", **fields}


def multi(count: int, **fields: Any) -> dict[str, Any]:
    images = [{"image": b64(data)} for data in REFERENCES[:count]]
    return {
        "model": "kirin_v1_6_multi_i2v",
        "prompt": "a cat walks",
        "image_list": images,
        **fields,
    }


@pytest.mark.parametrize(
    ("body", "size", "frames", "ends"),
    [
        (i2v(image=b64(FIRST)), (1080, 720), 150, (FIRST, None)),
        (i2v(image=b64(FIRST), image_tail=b64(LAST), mode="pro"), (1620, 1080), 150, (FIRST, LAST)),
        (i2v(image_tail=b64(LAST), mode="pro", duration="10"), (1620, 1080), 300, (None, LAST)),
        (multi(1, duration="10"), (1280, 720), 300, (None, None)),
        (multi(4, mode="pro", aspect_ratio="1:1"), (1080, 1080), 150, (None, None)),
    ],
    ids=[
        "i2v first std 5s",
        "i2v both pro 5s",
        "i2v last pro 10s",
        "multi 1 std 10s",
        "multi 4 pro",
    ],
)
def test_diffusers_task_delivers_contract_video(
    wan_client: TestClient,
    tmp_path: Path,
    body: dict[str, Any],
    size: tuple[int, int],
    frames: int,
    ends: tuple[bytes | None, bytes | None],
) -> None:
    task = run_task(wan_client, {**body, "seed": 3})
    assert task["status"] == "completed", task
    assert task["metadata"]["engine"] == "diffusers"
    path = download(wan_client, task["output"][0]["content"][0]["url"], tmp_path / "v.mp4")
    info = probe(path)
    assert (info.width, info.height, info.frames) == (*size, frames)
    assert info.fps == pytest.approx(30)
    assert task["output"][0]["content"][0]["duration"] == str(frames // 30)
    for frame, given in zip(first_and_last_frames(path), ends, strict=True):
        if given is not None:  # the client's own frame comes back (H.264 adds a little noise)
            assert np.abs(frame.astype(int) - picture(given, size).astype(int)).mean() < 6


def test_same_seed_same_video_other_prompt_other_video(
    wan_client: TestClient, tmp_path: Path
) -> None:
    body = multi(2, aspect_ratio="9:16", seed=21)
    base = decoded(wan_client, run_task(wan_client, body), tmp_path / "a.mp4")
    again = decoded(wan_client, run_task(wan_client, body), tmp_path / "b.mp4")
    other = decoded(
        wan_client, run_task(wan_client, {**body, "prompt": "a dog runs"}), tmp_path / "c.mp4"
    )
    # The engine's frames are bit-identical (tests/engines); H.264 adds a little noise on top.
    assert np.abs(base - again).mean() < 0.05
    assert np.abs(base - other).mean() > 0.3


def test_progress_advances_while_denoising(
    settings: Settings, tiny_wan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paced = wan(settings.data_dir, str(tiny_wan), inference_steps=10)
    engine = DiffusersEngine(paced)
    # The tiny network denoises a step in milliseconds, quicker than progress is stored and
    # polled: each pass is held back so every step's value is on the record for a while.
    transformer = engine.pipeline.transformer
    forward = transformer.forward

    def held_back(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return forward(*args, **kwargs)

    monkeypatch.setattr(transformer, "forward", held_back)
    with TestClient(create_app(paced, engine=engine)) as client:
        created = client.post(
            "/v1/generation", json=i2v(image=b64(FIRST), duration="5"), headers=bearer(KEY_A)
        ).json()
        seen: set[float] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            task = get(client, created["id"])
            if task["status"] == "in_progress" and "progress" in task:  # running
                seen.add(task["progress"])
            if task["status"] == "completed":
                break
            time.sleep(0.02)
    assert task["status"] == "completed"
    denoising = {value for value in seen if 0 < value < GENERATE_SHARE}  # before encoding
    assert len(denoising) >= 3, seen


def test_a_failed_generation_reports_098_and_the_worker_goes_on(
    settings: Settings, tiny_wan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = wan(settings.data_dir, str(tiny_wan))
    engine = DiffusersEngine(chosen)
    exhaust_memory_once(engine.pipeline, monkeypatch)
    with TestClient(create_app(chosen, engine=engine)) as client:
        failed = run_task(client, i2v(image=b64(FIRST)))
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "8002005098"
        assert "out of memory rendering" in failed["error"]["message"]
        assert "KIRIN_" not in failed["error"]["message"]  # the settings to change are logged
        assert run_task(client, i2v(image=b64(FIRST)))["status"] == "completed"


def test_missing_weights_fail_tasks_as_unavailable_and_the_server_stays_up(
    make_client: Callable[..., TestClient], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = str(tmp_path / "no-such-model")
    client = make_client(workers=1, engine_child=False, model_path=nowhere, **TINY_WAN)
    task = run_task(client, i2v(image=b64(FIRST)))
    assert task["status"] == "failed"
    assert task["error"]["code"] == "8002005098"
    incident = re.fullmatch(
        r"generation failed: the engine is not available \(incident (\w+)\)",
        task["error"]["message"],
    )
    assert incident, task["error"]
    logged = [r.getMessage() for r in caplog.records if incident.group(1) in r.getMessage()]
    assert len(logged) == 1 and f"KIRIN_MODEL_PATH={nowhere!r} does not exist" in logged[0]
    assert client.get("/v1/models", headers=bearer(KEY_A)).status_code == 200


def test_server_process_runs_the_diffusers_engine_from_environment(
    server: Callable[..., ServerProcess], tiny_wan: Path, tmp_path: Path
) -> None:
    env = {f"KIRIN_{name.upper()}": str(value) for name, value in TINY_WAN.items()}
    process = server(KIRIN_MODEL_PATH=str(tiny_wan), **env)
    cases = [(i2v(image=b64(FIRST)), (1080, 720)), (multi(1, aspect_ratio="9:16"), (720, 1280))]
    with process.client() as client:
        ids = [client.post("/v1/generation", json=body).json()["id"] for body, _ in cases]
        for task_id, (_, size) in zip(ids, cases, strict=True):
            task: Any = wait_for(client, task_id, until=lambda t: t["status"] == "completed")
            assert task["metadata"]["engine"] == "diffusers"
            path = tmp_path / f"{task_id}.mp4"
            path.write_bytes(client.get(task["output"][0]["content"][0]["url"]).content)
            info = probe(path)
            assert (info.width, info.height, info.frames, info.fps) == (*size, 150, 30)
