"""The SDK against this project's server, `kirin serve` in a child process, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from kirin_video.client import (
    AuthenticationError,
    Client,
    ErrorCode,
    ExternalIdTaken,
    InvalidRequest,
    TaskAlreadyFinished,
    TaskCancelled,
    TaskNotFound,
)
from tests.client.conftest import Live
from tests.conftest import make_image

PNG = make_image(480, 320)


def test_a_task_completes_and_its_video_downloads(working_server: Live, tmp_path: Path) -> None:
    states: list[str] = []
    with working_server.client() as client:
        task = client.create("kirin_v1_6_i2v", image=PNG, seed=7, watermark=True)
        assert (task.status, task.model) == ("in_progress", "kirin_v1_6_i2v")
        done = client.wait(task, timeout=120, on_progress=lambda t: states.append(t.status))
        video = client.download(done, tmp_path / "v.mp4")
        marked = client.download(done.id, tmp_path / "w.mp4", watermarked=True)
    assert states[-1] == "completed" and set(states) <= {"in_progress", "completed"}
    assert done.metadata["seed"] == 7 and done.metadata["engine"] == "preview"
    assert [(c.type, c.watermarked, c.duration) for c in done.content[:2]] == [
        ("video", False, "5"),
        ("video", True, "5"),
    ]
    assert done.usage is not None and done.usage.cost is not None
    assert done.created is not None and done.updated is not None and done.updated >= done.created
    assert video.read_bytes()[4:8] == marked.read_bytes()[4:8] == b"ftyp"
    assert video.read_bytes() != marked.read_bytes()


def test_the_async_client_runs_a_multi_image_task(working_server: Live) -> None:
    async def scenario() -> tuple[str, str | None]:
        async with working_server.async_client() as client:
            task = await client.create(
                "kirin_v1_6_multi_i2v",
                image_list=[PNG, make_image(seed=1)],
                prompt="two tiles",
                aspect_ratio="1:1",
            )
            done = await client.wait(task, timeout=120)
            return done.status, done.video_url

    status, url = asyncio.run(scenario())
    assert status == "completed" and url is not None
    assert httpx.get(url).content[4:8] == b"ftyp"


def test_a_cancelled_task_is_failed_with_the_cancel_code_and_wait_raises(
    idle_server: Live,
) -> None:
    with idle_server.client() as client:
        task = client.create("kirin_v1_6_i2v", image=PNG)
        cancelled = client.cancel(task)
        assert (cancelled.status, cancelled.cancelled) == ("failed", True)
        assert cancelled.error is not None and cancelled.error.code == ErrorCode.TASK_CANCELLED
        with pytest.raises(TaskCancelled) as caught:
            client.wait(task, timeout=10)
        assert caught.value.task.id == task.id
        with pytest.raises(TaskAlreadyFinished) as again:
            client.cancel(task)
    assert (again.value.status_code, again.value.code) == (409, ErrorCode.TASK_FINISHED)


def test_a_waiting_task_reports_its_queue_position(idle_server: Live) -> None:
    with idle_server.client() as client:
        first = client.create("kirin_v1_6_i2v", image=PNG)
        second = client.create("kirin_v1_6_i2v", image=PNG)
        positions = [client.get(first).queue_position, client.get(second).queue_position]
        for task in (first, second):
            client.cancel(task)
    assert positions[0] is not None and positions[1] == positions[0] + 1


def test_external_task_id_finds_the_task_and_a_repeat_is_refused(idle_server: Live) -> None:
    with idle_server.client(base_url=f"{idle_server.url}/model/") as client:
        task = client.create("kirin_v1_6_i2v", image=PNG, external_task_id="order 1+a")
        found = client.get("order 1+a")
        with pytest.raises(ExternalIdTaken) as caught:
            client.create("kirin_v1_6_i2v", image=PNG, external_task_id="order 1+a")
        client.cancel("order 1+a")
    assert (found.id, found.external_task_id) == (task.id, "order 1+a")
    assert caught.value.status_code == 409 and "external_task_id" in caught.value.message


def test_list_pages_through_the_callers_tasks_newest_first(idle_server: Live) -> None:
    with idle_server.client() as client:
        made = [client.create("kirin_v1_6_i2v", image=PNG).id for _ in range(3)]
        page = client.list(limit=2)
        listed = [t.id for t in client.iter_tasks(limit=2)]
        for task_id in made:
            client.cancel(task_id)
        failed = {t.id for t in client.iter_tasks(status="failed")}
    assert len(page.data) == 2 and page.next_cursor is not None
    assert listed[:3] == made[::-1]
    assert set(made) <= failed


def test_a_rule_broken_is_an_invalid_request_naming_the_field(idle_server: Live) -> None:
    with idle_server.client() as client, pytest.raises(InvalidRequest) as caught:
        client.create("kirin_v1_6_i2v", image=PNG, image_tail=PNG)  # image_tail needs pro
    error = caught.value
    assert (error.status_code, error.code) == (400, ErrorCode.NOT_SUPPORTED_IN_MODE)
    assert "image_tail" in error.message and error.request_id


def test_the_request_id_sent_comes_back_on_the_error(idle_server: Live) -> None:
    with idle_server.client() as client, pytest.raises(TaskNotFound) as caught:
        client.get("task_nope")
    assert caught.value.code == ErrorCode.TASK_NOT_FOUND
    assert caught.value.request_id is not None and len(caught.value.request_id) == 32


def test_a_wrong_key_is_an_authentication_error(idle_server: Live) -> None:
    with Client(idle_server.url, "not-a-key") as client, pytest.raises(AuthenticationError) as e:
        client.get("anything")
    assert (e.value.status_code, e.value.code) == (401, ErrorCode.AUTH_FAILED)


def test_callbacks_lists_the_deliveries_and_models_the_catalog(idle_server: Live) -> None:
    with idle_server.client() as client:
        task = client.create("kirin_v1_6_i2v", image=PNG, callback_url="http://127.0.0.1:9/hook")
        client.cancel(task)
        deliveries = client.callbacks(task)
        models = {m["id"] for m in client.models()}
        with pytest.raises(TaskNotFound):
            client.callbacks("task_nope")
    assert [(d["event"], d["url"]) for d in deliveries] == [("failed", "http://127.0.0.1:9/hook")]
    assert models == {"kirin_v1_6_i2v", "kirin_v1_6_multi_i2v"}


def test_the_raw_task_object_is_what_the_server_sent(idle_server: Live) -> None:
    with idle_server.client() as client:
        task = client.create("kirin_v1_6_i2v", image=PNG)
        client.cancel(task)
    answer = httpx.get(
        f"{idle_server.url}/model/v1/generation/task/{task.id}",
        headers={"Authorization": f"Bearer {idle_server.key}"},
    ).json()
    with idle_server.client() as client:
        assert json.loads(json.dumps(client.get(task).raw)) == answer
