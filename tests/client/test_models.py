"""Task objects decoded: the contract's examples and every variation the hosted service shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kirin_video.client import Content, ErrorCode, Task, TaskError, Usage
from tests.client.conftest import (
    CANCELLED,
    COMPLETED,
    CREATED,
    CREATED_MS,
    FAILED,
    QUEUED,
    RUNNING,
    UPDATED_MS,
)


def test_a_completed_task_gives_its_videos_cover_cost_and_times() -> None:
    task = Task.from_json(COMPLETED)
    assert (task.status, task.done, task.cancelled) == ("completed", True, False)
    assert task.video_url == "https://cdn.vtrix.example/video.mp4?sig=1"
    assert task.watermarked_video_url == "https://cdn.vtrix.example/video_watermarked.mp4?sig=2"
    assert task.cover_url == "https://cdn.vtrix.example/cover.jpg?sig=3"
    assert task.content[0] == Content(
        type="video", url=task.video_url, duration="5", job_id="job-1"
    )
    assert task.usage == Usage(cost="0.2800", discount=0.0)
    assert task.created == datetime(2026, 1, 30, 7, 22, 24, 21000, tzinfo=UTC)
    assert (task.created_at, task.updated_at) == (CREATED_MS, UPDATED_MS)
    assert task.updated is not None and task.updated > task.created
    assert task.external_task_id == "order-1" and task.metadata["seed"] == 1234
    assert task.raw is COMPLETED


def test_an_in_progress_task_tells_its_queue_position_then_its_progress() -> None:
    queued, running = Task.from_json(QUEUED), Task.from_json(RUNNING)
    assert (queued.status, queued.done, queued.queue_position, queued.progress) == (
        "in_progress",
        False,
        2,
        None,
    )
    assert (running.queue_position, running.progress) == (None, 0.45)
    assert Task.from_json(CREATED).video_url is None and Task.from_json(CREATED).usage is None


def test_failed_and_cancelled_tasks_carry_their_error() -> None:
    failed, cancelled = Task.from_json(FAILED), Task.from_json(CANCELLED)
    assert failed.error == TaskError(code="8002005098", message="the engine ran out of memory")
    assert (failed.done, failed.cancelled) == (True, False)
    assert cancelled.cancelled and cancelled.error is not None
    assert cancelled.error.code == ErrorCode.TASK_CANCELLED


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("provider rejected request", TaskError(None, "provider rejected request")),
        (
            {"error_message": "provider rejected request"},
            TaskError(None, "provider rejected request"),
        ),
        ({"code": 110001, "message": "sensitive input"}, TaskError("110001", "sensitive input")),
        (
            {"code": "8002005098", "message": "m", "error_message": "e"},
            TaskError("8002005098", "e"),
        ),
    ],
)
def test_a_task_error_may_be_a_string_or_an_object_with_either_text_key(
    error: object, expected: TaskError
) -> None:
    assert Task.from_json({**FAILED, "error": error}).error == expected


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("in_progress", "in_progress"),
        ("in_queue", "in_progress"),
        ("processing", "in_progress"),
        ("pending", "in_progress"),
        ("something_new", "in_progress"),
        ("success", "completed"),
        ("done", "completed"),
        ("COMPLETED", "completed"),
        ("cancelled", "failed"),
    ],
)
def test_any_status_word_that_is_not_finished_means_in_progress(word: str, status: str) -> None:
    task = Task.from_json({**CREATED, "status": word})
    assert task.status == status and task.raw["status"] == word


def test_hosted_variations_of_output_and_usage_decode() -> None:
    flat = Task.from_json(
        {
            **COMPLETED,
            "output": [{"type": "video", "url": "https://x/v.mp4", "duration": 5, "jobId": "r"}],
            "usage": {"cost": "0.28", "quantity": 1, "unit_price": "0.28", "extra_info": {}},
            "progress": 1.0,
            "surprise": {"nested": True},
        }
    )
    assert flat.video_url == "https://x/v.mp4" and flat.content[0].duration == "5"
    assert flat.usage == Usage(cost="0.28", quantity=1, unit_price="0.28")
    empty_cost = Task.from_json({**FAILED, "usage": {"cost": ""}})
    assert empty_cost.usage == Usage(cost=None)
    kling_item = Task.from_json(
        {**COMPLETED, "output": [{"content": [{"type": "video", "url": "u", "id": "k1"}]}]}
    )
    assert kling_item.content[0].job_id == "k1" and kling_item.content[0].duration is None


def test_a_task_without_times_or_metadata_still_decodes() -> None:
    task = Task.from_json({"id": "t", "status": "in_progress", "metadata": None})
    assert (task.created, task.model, task.metadata, task.content) == (None, None, {}, ())
