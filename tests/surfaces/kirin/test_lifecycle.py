"""A poller of the kirin surface sees only three words, from create to the end, on every path.

Hosted clients poll until ``completed`` or ``failed`` and take anything else for "keep polling";
a fourth word would leave them polling forever. Tasks here run on the embedded worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.engines.base import Clip, Job, ProgressFn
from kirin_video.engines.preview import PreviewEngine
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import (
    GENERATION,
    STATUS_WORDS,
    VtrixTaskError,
    create,
    nulls,
    poll,
    poll_until_finished,
    task_path,
    vtrix_task,
)

# Loopback is refused by the address policy: each delivery is recorded, none is sent.
HOOK = "http://127.0.0.1:9/hook"
I2V = {"model": "kirin_v1_6_i2v", "image": b64(make_image(320, 320)), "duration": "5"}


def _envelope(**params: Any) -> dict[str, Any]:
    return {"model": I2V["model"], "input": [{"params": {**I2V, **params}}]}


def _words(answers: list[httpx.Response]) -> list[str]:
    """The statuses in order, each answer also decoded as the official client decodes it."""
    return [vtrix_task(answer).status for answer in answers]


def _events(client: TestClient, task_id: str) -> list[str]:
    response = client.get(task_path(task_id, "callbacks"), headers=bearer(KEY_A))
    return [delivery["event"] for delivery in response.json()["data"]]


def _collapsed(words: list[str]) -> list[str]:
    return [word for i, word in enumerate(words) if i == 0 or words[i - 1] != word]


class _Gate:
    """An engine that waits for the test before it renders, so a run can be caught mid-way."""

    name = "gated"

    def __init__(self, inner: Any, *, fail: bool = False) -> None:
        self.inner, self.fail = inner, fail
        self.running, self.go = threading.Event(), threading.Event()

    def warm(self) -> None:
        pass

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        on_progress(0.25)
        self.running.set()
        assert self.go.wait(30), "the test never let the engine go on"
        if self.fail:
            raise RuntimeError("CUDA out of memory")
        return self.inner.generate(job, on_progress)  # type: ignore[no-any-return]


@pytest.fixture
def gated_client(settings: Settings) -> Iterator[Callable[..., tuple[TestClient, _Gate]]]:
    """Start apps with one embedded worker whose engine waits at the gate."""
    clients: list[TestClient] = []

    def start(*, fail: bool = False) -> tuple[TestClient, _Gate]:
        engine = _Gate(PreviewEngine(), fail=fail)
        app = create_app(settings.model_copy(update={"workers": 1}), engine=engine)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, engine

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def lifecycle(
    gated_client: Callable[..., tuple[TestClient, _Gate]],
) -> Callable[..., tuple[TestClient, str, list[httpx.Response]]]:
    """Create a task, poll it while queued and while running, then let it finish and poll on."""

    def run(*, fail: bool = False, **params: Any) -> tuple[TestClient, str, list[httpx.Response]]:
        client, engine = gated_client(fail=fail)
        created = client.post(GENERATION, json=_envelope(**params), headers=bearer(KEY_A))
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]
        assert engine.running.wait(30)
        running = client.get(task_path(task_id), headers=bearer(KEY_A))
        assert 0 < running.json()["progress"] < 1
        engine.go.set()
        return client, task_id, [created, running, *poll_until_finished(client, task_id)]

    return run


def test_a_completed_run_says_in_progress_then_completed(
    lifecycle: Callable[..., tuple[TestClient, str, list[httpx.Response]]],
) -> None:
    client, task_id, answers = lifecycle(callback_url=HOOK, watermark_info={"enabled": True})
    words = _words(answers)
    assert set(words) <= STATUS_WORDS
    assert _collapsed(words) == ["in_progress", "completed"]
    done = answers[-1].json()
    assert nulls(done) == [] and "progress" not in done and "error" not in done
    content = done["output"][0]["content"]
    assert [(c["type"], c.get("duration"), c.get("watermarked")) for c in content] == [
        ("video", "5", None),
        ("video", "5", True),
        ("image", None, None),
    ]
    assert all(item["jobId"] == task_id for item in content)
    assert client.get(content[0]["url"]).status_code == 200
    assert _events(client, task_id) == ["in_progress", "completed"]
    listed = client.get(f"{GENERATION}?status=completed", headers=bearer(KEY_A)).json()
    assert [task["id"] for task in listed["data"]] == [task_id]


def test_a_failed_run_says_in_progress_then_failed(
    lifecycle: Callable[..., tuple[TestClient, str, list[httpx.Response]]],
) -> None:
    client, task_id, answers = lifecycle(fail=True, callback_url=HOOK)
    words = _words(answers)
    assert set(words) <= STATUS_WORDS
    assert _collapsed(words) == ["in_progress", "failed"]
    failed = answers[-1].json()
    assert failed["error"]["code"] == "8002005098"
    assert failed["error"]["message"].startswith("generation failed: ")
    assert "output" not in failed and "usage" not in failed and "progress" not in failed
    assert _events(client, task_id) == ["in_progress", "failed"]


def test_a_run_cancelled_midway_says_failed_and_stays_so(
    gated_client: Callable[..., tuple[TestClient, _Gate]],
) -> None:
    client, engine = gated_client()
    task_id = create(client, _envelope(callback_url=HOOK))["id"]
    assert engine.running.wait(30)
    answers = [client.get(task_path(task_id), headers=bearer(KEY_A))]
    answers.append(client.post(task_path(task_id, "cancel"), headers=bearer(KEY_A)))
    engine.go.set()  # the engine goes on; its next progress report finds the task cancelled
    later = create(client, _envelope())["id"]  # one worker: this runs once that run has ended
    assert _words(poll_until_finished(client, later))[-1] == "completed"
    answers.append(client.get(task_path(task_id), headers=bearer(KEY_A)))
    assert _words(answers) == ["in_progress", "failed", "failed"]
    final = vtrix_task(answers[-1])
    assert isinstance(final.error, VtrixTaskError) and final.error.message
    assert answers[-1].json()["error"]["code"] == "8002005097"
    assert _events(client, task_id) == ["in_progress", "failed"]


def test_a_queued_task_cancelled_says_failed(client: TestClient) -> None:
    task_id = create(client, _envelope())["id"]
    before = poll(client, task_id)
    cancelled = client.post(task_path(task_id, "cancel"), headers=bearer(KEY_A)).json()
    after = poll(client, task_id)
    assert [before["status"], cancelled["status"], after["status"]] == [
        "in_progress",
        "failed",
        "failed",
    ]
    assert after["error"]["code"] == "8002005097" and "queue_position" not in after["metadata"]
