"""The task stream through real HTTP: `kirin serve` processes, events read as clients read them."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image
from tests.e2e.cluster import fresh_postgres
from tests.e2e.conftest import ServerProcess, cancel_unfinished, free_port

BODY = {"model": "kirin_v1_6_i2v", "input": [{"params": {"image": b64(make_image())}}]}
IDLE = {
    "KIRIN_WORKERS": "0",
    "KIRIN_STREAM_PING_S": "0.2",
    "KIRIN_STREAM_POLL_S": "0.05",
    "KIRIN_STREAMS_PER_KEY": "3",
}

Start = Callable[..., ServerProcess]


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that runs no task, so each stays queued until cancelled; keys A and B."""
    data_dir = tmp_path_factory.mktemp("idle") / "data"
    node = ServerProcess(data_dir, free_port()).start(**IDLE, KIRIN_API_KEYS=f"{KEY_A},{KEY_B}")
    yield node
    node.stop()


@pytest.fixture
def idle(idle_server: ServerProcess) -> Iterator[ServerProcess]:
    """The idle server, left with no task waiting after each test, so queue positions start at 1."""
    yield idle_server
    cancel_unfinished(idle_server)


def _stream_path(task_id: str) -> str:
    return f"/model/v1/generation/task/{task_id}/stream"


def _create(client: httpx.Client) -> str:
    answer = client.post("/model/v1/generation", json=BODY)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def _tasks(events: Iterator[ServerSentEvent]) -> Iterator[tuple[str, dict[str, Any]]]:
    for sse in events:
        if sse.event == "message" and not sse.data:
            continue  # httpx-sse dispatches an empty message at a keep-alive's blank line
        assert sse.event == "task"
        yield sse.id, json.loads(sse.data)


def test_a_whole_task_streams_in_order_and_ends_after_the_finished_object(server: Start) -> None:
    # Six requests a minute: the stream is one request, however many events it carries.
    node = server(KIRIN_ENGINE="preview", KIRIN_RATE_LIMIT="6/minute", KIRIN_STREAM_POLL_S="0.05")
    with node.client() as client:
        task_id = _create(client)
        with connect_sse(client, "GET", _stream_path(task_id)) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            events = list(_tasks(source.iter_sse()))
        final = client.get(f"/model/v1/generation/task/{task_id}").json()
    ids = [event_id for event_id, _ in events]
    tasks = [task for _, task in events]
    assert len(set(ids)) == len(ids) >= 3
    assert [t["status"] for t in tasks] == ["in_progress"] * (len(tasks) - 1) + ["completed"]
    progress = [t["progress"] for t in tasks if "progress" in t]
    assert progress == sorted(progress) and len(set(progress)) >= 2
    assert all(t["id"] == task_id for t in tasks)
    last = tasks[-1]
    assert {k: v for k, v in last.items() if k != "output"} == {
        k: v for k, v in final.items() if k != "output"
    }
    assert [item["type"] for item in last["output"][0]["content"]] == ["video", "image"]


def test_a_waiting_task_streams_its_queue_position_and_ends_on_cancel(idle: ServerProcess) -> None:
    with idle.client() as client:
        first, second = _create(client), _create(client)
        seen: list[tuple[str, dict[str, Any]]] = []
        with connect_sse(client, "GET", _stream_path(second)) as source:
            for event_id, task in _tasks(source.iter_sse()):
                seen.append((event_id, task))
                if len(seen) == 1:
                    assert client.post(f"/model/v1/generation/task/{first}/cancel").is_success
                elif len(seen) == 2:
                    assert client.post(f"/model/v1/generation/task/{second}/cancel").is_success
    positions = [task["metadata"].get("queue_position") for _, task in seen]
    assert positions == [2, 1, None]
    assert seen[-1][1]["status"] == "failed"
    assert seen[-1][1]["error"]["code"] == "8002005097"


def test_an_unchanged_task_gets_keep_alives_and_no_repeated_event(idle: ServerProcess) -> None:
    with idle.client() as client:
        task_id = _create(client)
        lines: list[str] = []
        with client.stream("GET", _stream_path(task_id)) as response:
            for line in response.iter_lines():
                lines.append(line)
                if sum(line.startswith(":") for line in lines) == 3:
                    break
    assert sum(line.startswith("event: task") for line in lines) == 1


def test_last_event_id_resumes_without_repeating_and_204_after_the_end(idle: ServerProcess) -> None:
    with idle.client() as client:
        ahead, task_id = _create(client), _create(client)
        with connect_sse(client, "GET", _stream_path(task_id)) as source:
            first_id, first = next(_tasks(source.iter_sse()))
        assert first["metadata"]["queue_position"] == 2

        # Nothing changed since that event: the resumed stream waits for the next change.
        threading.Timer(
            0.5, lambda: client.post(f"/model/v1/generation/task/{ahead}/cancel")
        ).start()
        resumed = {"Last-Event-ID": first_id}
        with connect_sse(client, "GET", _stream_path(task_id), headers=resumed) as source:
            next_id, moved_up = next(_tasks(source.iter_sse()))
        assert next_id != first_id and moved_up["metadata"]["queue_position"] == 1

        assert client.post(f"/model/v1/generation/task/{task_id}/cancel").is_success
        with connect_sse(client, "GET", _stream_path(task_id), headers=resumed) as source:
            rest = list(_tasks(source.iter_sse()))
        assert [task["status"] for _, task in rest] == ["failed"]  # straight to the present

        done = {"Last-Event-ID": rest[0][0]}
        assert client.get(_stream_path(task_id), headers=done).status_code == 204


def test_only_the_tasks_owner_may_stream_it(idle: ServerProcess) -> None:
    with idle.client() as client:
        task_id = _create(client)
    other = httpx.get(f"{idle.url}{_stream_path(task_id)}", headers=bearer(KEY_B), timeout=10)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "8002005013"
    assert task_id in other.json()["message"]
    anonymous = httpx.get(f"{idle.url}{_stream_path(task_id)}", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "8002005006"


def _opens(client: httpx.Client, path: str) -> httpx.Response:
    """The answer to a stream's request, read up to its headers (an error's body too)."""
    with client.stream("GET", path) as response:
        if not response.is_success:
            response.read()
        return response


def test_a_key_holds_its_number_of_streams_and_another_once_one_closes(
    idle: ServerProcess,
) -> None:
    with (
        idle.client() as client,
        httpx.Client(base_url=idle.url, headers=bearer(KEY_B), timeout=30) as other,
    ):
        path = _stream_path(_create(client))
        with ExitStack() as stack:
            held = [stack.enter_context(connect_sse(client, "GET", path)) for _ in range(3)]
            events = [source.iter_sse() for source in held]  # held: a dropped one would close
            assert all(next(_tasks(each)) for each in events)
            refused = _opens(client, path)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "8002005015"
            assert "at most 3 open task streams per API key; got 3 open" in refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            theirs = _create(other)
            assert _opens(other, _stream_path(theirs)).status_code == 200  # other keys go on
            assert other.post(f"/model/v1/generation/task/{theirs}/cancel").is_success
            held.pop().response.close()
            deadline = time.monotonic() + 10
            while (again := _opens(client, path)).status_code == 429:  # once the server sees it
                assert time.monotonic() < deadline, again.text
                time.sleep(0.05)
            assert again.status_code == 200


@pytest.fixture
def shared_postgres() -> Iterator[str]:
    with fresh_postgres(f"kirin_stream_{os.getpid()}") as url:
        yield url


def test_a_task_run_by_one_api_node_streams_from_another(
    server: Start, shared_postgres: str
) -> None:
    database = {"KIRIN_DATABASE_URL": shared_postgres, "KIRIN_STREAM_POLL_S": "0.05"}
    runner = server(KIRIN_ENGINE="preview", **database)
    reader = server(KIRIN_WORKERS="0", **database)
    with runner.client() as create, reader.client() as client:
        task_id = _create(create)
        with connect_sse(client, "GET", _stream_path(task_id)) as source:
            tasks = [task for _, task in _tasks(source.iter_sse())]
    assert tasks[-1]["status"] == "completed"
    assert any("progress" in task for task in tasks[:-1])
