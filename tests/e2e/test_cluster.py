"""Several nodes: an API node and two Celery workers on PostgreSQL and Redis, preview engine.

Twenty tasks spread over both workers; one worker is killed mid-task and the API node is
killed and restarted; every task completes, exactly once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from kirin_video.media.encode import probe
from tests.conftest import KEY_A, KEY_B, b64, make_image
from tests.e2e.cluster import Cluster, client, fresh_postgres, start_redis
from tests.e2e.conftest import s3_client

# square: the smallest 720p frame the contract makes, so twenty tasks stay quick on two cores
BODY = {"model": "kirin_v1_6_i2v", "image": b64(make_image(480, 480)), "duration": "5"}
TASKS = 20


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        redis_url = stack.enter_context(start_redis(tmp_path))
        database_url = stack.enter_context(fresh_postgres(f"kirin_cluster_{os.getpid()}"))
        logs = tmp_path / "logs"
        logs.mkdir()
        env = {
            "KIRIN_DATA_DIR": str(tmp_path / "data"),  # a volume the nodes share
            "KIRIN_DATABASE_URL": database_url,
            "KIRIN_BROKER_URL": redis_url,
            "KIRIN_API_KEYS": f"{KEY_A},{KEY_B}",
            "KIRIN_ENGINE": "preview",
            "KIRIN_LEASE_S": "4",
            "KIRIN_LOG_FORMAT": "json",
        }
        nodes = Cluster(env, logs)
        stack.callback(nodes.stop)
        yield nodes


def _rows(cluster: Cluster, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(cluster.env["KIRIN_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def _wait(predicate: object, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(what)


def test_twenty_tasks_survive_a_killed_worker_and_a_restarted_api_node(
    cluster: Cluster,
) -> None:
    api, url = cluster.api()
    workers = [cluster.worker("worker-1"), cluster.worker("worker-2")]
    with client(url, KEY_A) as a, client(url, KEY_B) as b:
        ids = [
            (a if i % 2 else b).post("/v1/generation", json=BODY).json()["id"] for i in range(TASKS)
        ]
        waiting = a.get(f"/v1/generation/task/{ids[-1]}").json()
        assert waiting["status"] == "in_progress" and "progress" not in waiting  # queued
        assert waiting["metadata"]["queue_position"] > 2

    # 1. kill -9 the first worker while it holds a task
    victim = workers[0]
    held: list[str] = []

    def victim_holds_a_task() -> bool:
        held[:] = [
            str(task_id)
            for task_id, worker in _rows(
                cluster, "SELECT id, worker FROM tasks WHERE status = 'processing'"
            )
            if str(worker).split(":")[1] == str(victim.pid)
        ]
        return bool(held)

    _wait(victim_holds_a_task, timeout_s=60, what=cluster.tail(victim))
    victim.kill()
    workers.append(cluster.worker("worker-3"))  # its supervisor starts a fresh one

    # 2. kill the API node, then start another one on the same database and broker
    api.kill()
    _, url = cluster.api()

    with client(url, KEY_A) as a, client(url, KEY_B) as b:

        def all_done() -> bool:
            statuses = _rows(cluster, "SELECT status FROM tasks")
            return all(status == "completed" for (status,) in statuses)

        _wait(all_done, timeout_s=180, what=cluster.tail(workers[1]))
        ready = a.get("/readyz").json()
        metrics = a.get("/metrics").text
        done = {
            task_id: (a if i % 2 else b).get(f"/v1/generation/task/{task_id}").json()
            for i, task_id in enumerate(ids)
        }
        owner = a if ids.index(held[0]) % 2 else b
        video = owner.get(done[held[0]]["output"][0]["content"][0]["url"])
    assert ready == {"status": "ready", "database": "ok", "storage": "ok", "broker": "ok"}
    assert all(task["status"] == "completed" for task in done.values())
    assert 'kirin_tasks{status="completed"} 20.0' in metrics
    assert "kirin_task_run_seconds_count 20.0" in metrics

    # every task ran to the end once: the killed one twice started, once finished
    attempts = dict(_rows(cluster, "SELECT id, attempts FROM tasks"))
    assert attempts[held[0]] == 2
    assert sorted(attempts.values()) == [1] * (TASKS - 1) + [2]
    outputs = Path(cluster.env["KIRIN_DATA_DIR"]) / "outputs"
    for task_id in ids:
        assert [p.name for p in (outputs / task_id).iterdir()] == [str(attempts[task_id])]
    finisher = dict(_rows(cluster, "SELECT id, worker FROM tasks"))[held[0]]
    assert str(finisher).split(":")[1] in {str(workers[1].pid), str(workers[2].pid)}
    path = outputs.parent / "downloaded.mp4"
    path.write_bytes(video.content)
    assert (probe(path).frames, probe(path).fps) == (150, 30)


def _objects(env: dict[str, str], prefix: str) -> list[str]:
    listed = s3_client(env).list_objects_v2(Bucket="kirin-cluster", Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_a_stopping_worker_hands_its_task_back_and_cancel_reaches_a_worker(
    cluster: Cluster, bucket: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    _, s3 = bucket
    cluster.env.update(s3)  # outputs in the bucket this time
    cluster.env["KIRIN_SHUTDOWN_GRACE_S"] = "0"  # hand back at once instead of finishing
    api_node, url = cluster.api()
    first = cluster.worker("worker-1")
    long = {**BODY, "mode": "pro", "duration": "10"}
    with client(url) as api:

        def task(task_id: str) -> dict[str, Any]:
            return dict(api.get(f"/v1/generation/task/{task_id}").json())

        task_id = api.post("/v1/generation", json=long).json()["id"]
        _wait(lambda: "progress" in task(task_id), timeout_s=60, what=cluster.tail(first))
        assert first.stop() == 0  # SIGTERM: a warm shutdown that gives the task back
        assert dict(_rows(cluster, "SELECT id, attempts FROM tasks"))[task_id] == 0
        handed_back = task(task_id)  # queued again: waiting, not running
        assert handed_back["status"] == "in_progress" and "progress" not in handed_back
        assert handed_back["metadata"]["queue_position"] == 1

        second = cluster.worker("worker-2")
        _wait(lambda: "progress" in task(task_id), timeout_s=60, what=cluster.tail(second))
        cancelled = api.post(f"/v1/generation/task/{task_id}/cancel").json()
        assert (cancelled["status"], cancelled["error"]["code"]) == ("failed", "8002005097")
        _wait(
            lambda: "stopped while running" in cluster.tail(second),
            timeout_s=30,
            what=cluster.tail(second),
        )
        after = api.post("/v1/generation", json=BODY).json()["id"]
        _wait(lambda: task(after)["status"] == "completed", timeout_s=60, what=cluster.tail(second))
        done = task(after)
    video_url = done["output"][0]["content"][0]["url"]
    assert video_url.startswith(s3["KIRIN_S3_ENDPOINT_URL"] + "/kirin-cluster/outputs/")
    assert "X-Amz-Signature=" in video_url
    path = tmp_path / "from-the-bucket.mp4"
    path.write_bytes(httpx.get(video_url).content)
    assert (probe(path).frames, probe(path).fps) == (150, 30)
    assert _objects(s3, f"outputs/{task_id}/") == []  # the cancelled run left nothing
    assert _objects(s3, f"outputs/{after}/") == [
        f"outputs/{after}/1/cover.jpg",
        f"outputs/{after}/1/video.mp4",
    ]
    api_node.stop()
    logged = [json.loads(line) for line in api_node.log.read_text().splitlines() if line]
    assert {"time", "level", "logger", "message"} <= set(logged[0])
