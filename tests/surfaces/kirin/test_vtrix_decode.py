"""Every answer the official ``vtrix`` CLI reads decodes into its strict Go types, in every state.

The CLI decodes the create answer and each poll into ``TaskStatus`` and fails the whole run on a
field of another JSON type (``duration: 5``, ``created_at: 1.5``); ``tests.helpers.VtrixTask``
decodes as it does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from kirin_video.contract.errors import ErrorCode
from kirin_video.tasks.snapshot import OutputFile, OutputKind, Usage
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import (
    GENERATION,
    VtrixHttpError,
    VtrixTaskError,
    create,
    task_path,
    vtrix_error_text,
    vtrix_task,
)

MULTI = "kirin_v1_6_multi_i2v"
#: The body exactly as ``vtrix run`` sends it: the hosted envelope.
ENVELOPE = {
    "model": MULTI,
    "input": [{"params": {"image_list": [{"image": b64(make_image())}], "prompt": "a dance"}}],
}


def _services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def _get(client: TestClient, ref: str) -> httpx.Response:
    response = client.get(task_path(ref), headers=bearer(KEY_A))
    assert response.status_code == 200, response.text
    return response


def _running(client: TestClient) -> str:
    task_id = str(create(client, ENVELOPE)["id"])
    assert _services(client).tasks.claim(task_id, worker="w") is not None
    return task_id


def test_the_create_answer_decodes_with_an_id_and_a_word(client: TestClient) -> None:
    response = client.post(GENERATION, json=ENVELOPE, headers=bearer(KEY_A))
    assert response.status_code == 200, response.text
    task = vtrix_task(response)
    assert task.id and task.id == response.json()["id"]  # the CLI stops on an empty id
    assert (task.status, task.model) == ("in_progress", MULTI)
    assert task.created_at == response.json()["created_at"] > 10**12  # milliseconds


def test_a_waiting_task_decodes_with_its_queue_position(client: TestClient) -> None:
    first, second = create(client, ENVELOPE)["id"], create(client, ENVELOPE)["id"]
    response = _get(client, second)
    task = vtrix_task(response)
    assert (task.id, task.status, task.progress) == (second, "in_progress", 0.0)
    assert response.json()["metadata"]["queue_position"] == 2
    assert vtrix_task(_get(client, first)).status == "in_progress"


def test_a_running_task_decodes_with_its_progress(client: TestClient) -> None:
    task_id = _running(client)
    assert _services(client).tasks.report_progress(task_id, 0.42, worker="w")
    response = _get(client, task_id)
    task = vtrix_task(response)
    assert (task.status, task.progress) == ("in_progress", 0.42)
    assert "queue_position" not in response.json()["metadata"]


def test_a_completed_task_decodes_with_string_durations_and_urls(client: TestClient) -> None:
    task_id = _running(client)
    outputs = [
        OutputFile(kind=OutputKind.VIDEO, key=f"{task_id}/video.mp4", seconds=5),
        OutputFile(kind=OutputKind.VIDEO_WATERMARKED, key=f"{task_id}/wm.mp4", seconds=5),
        OutputFile(kind=OutputKind.COVER, key=f"{task_id}/cover.jpg"),
    ]
    finished = _services(client).tasks.complete(
        task_id, worker="w", outputs=outputs, usage=Usage(cost="0.2800"), meta={}
    )
    assert finished
    response = _get(client, task_id)
    task = vtrix_task(response)
    assert task.status == "completed" and task.progress == 0.0  # no progress once finished
    [output] = task.output
    assert [(c.type, c.duration) for c in output.content] == [
        ("video", "5"),
        ("video", "5"),
        ("image", ""),
    ]
    assert all(c.url.startswith("http") and "/files/" in c.url for c in output.content)
    assert task.usage.cost == "0.2800"
    assert [item["jobId"] for item in response.json()["output"][0]["content"]] == [task_id] * 3


def test_a_failed_task_decodes_with_its_message(client: TestClient) -> None:
    task_id = _running(client)
    failed = _services(client).tasks.fail(
        task_id, code=ErrorCode.GENERATION_FAILED, message="engine: out of memory", worker="w"
    )
    assert failed
    task = vtrix_task(_get(client, task_id))
    assert task.status == "failed"
    assert isinstance(task.error, VtrixTaskError)
    assert (task.error.message, task.error.error_message) == ("engine: out of memory",) * 2
    assert task.output == []


def test_a_cancelled_task_decodes_as_failed(client: TestClient) -> None:
    task_id = create(client, ENVELOPE)["id"]
    cancelled = client.post(task_path(task_id, "cancel"), headers=bearer(KEY_A))
    for response in (cancelled, _get(client, task_id)):
        task = vtrix_task(response)
        assert task.status == "failed" and isinstance(task.error, VtrixTaskError)
        assert task.error.message and task.error.message == task.error.error_message
        assert response.json()["error"]["code"] == "8002005097"


def test_a_task_whose_worker_died_decodes_as_failed(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_attempts=1)
    task_id = _running(client)
    assert _services(client).tasks.recover(lease_s=60, is_dead=lambda worker: True) == []
    response = _get(client, task_id)
    task = vtrix_task(response)
    assert task.status == "failed" and isinstance(task.error, VtrixTaskError)
    assert "interrupted" in task.error.error_message
    assert response.json()["error"]["code"] == "8002005098"


def test_an_http_error_is_printed_with_its_message(client: TestClient) -> None:
    for response in (
        client.get(task_path("task_nope"), headers=bearer(KEY_A)),
        client.post(GENERATION, json={**ENVELOPE, "model": "kirin_v9"}, headers=bearer(KEY_A)),
        client.get(GENERATION),
    ):
        assert response.status_code >= 400
        message = response.json()["message"]
        with pytest.raises(ValidationError) as refused:
            VtrixHttpError.model_validate_json(response.content)
        # only ``error`` is off (an object, not the CLI's string): ``message`` is a string
        assert [e["loc"] for e in refused.value.errors()] == [("error",)]
        assert message in vtrix_error_text(response)  # the raw body, which carries it


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "t", "output": [{"content": [{"type": "video", "duration": 5}]}]}',
        b'{"id": "t", "created_at": 1.5}',
        b'{"id": "t", "created_at": "1769757744021"}',
        b'{"id": 7}',
        b'{"id": "t", "status": true}',
        b'{"id": "t", "progress": "0.5"}',
        b'{"id": "t", "error": 5}',
        b'{"id": "t", "error": {"message": 5}}',
        b'{"id": "t", "usage": {"cost": 0.28}}',
        b'{"id": "t", "output": [{"content": [{"img_id": "3"}]}]}',
        b'{"id": "t", "output": {"content": []}}',
        b'[{"id": "t"}]',
    ],
)
def test_the_decoder_fails_on_a_field_of_another_type(body: bytes) -> None:
    with pytest.raises(ValidationError):
        vtrix_task(httpx.Response(200, content=body))


def test_the_decoder_takes_what_go_takes() -> None:
    body = (
        b'{"id": "t", "created_at": 1, "progress": 1, "error": "boom", "extra": [1],'
        b' "model": null, "usage": {"cost": "0.1", "discount": 0}}'
    )
    task = vtrix_task(httpx.Response(200, content=body))
    assert (task.id, task.model, task.progress, task.error, task.usage.cost) == (
        "t",
        "",
        1.0,
        "boom",
        "0.1",
    )
