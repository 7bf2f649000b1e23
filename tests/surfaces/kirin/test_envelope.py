"""The hosted create body ``{"model", "input": [{"params": {…}}]}``, as the vtrix CLI sends it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image
from tests.helpers import GENERATION, create, kirin_error, poll, stored_task, task_rows

I2V = "kirin_v1_6_i2v"
MULTI = "kirin_v1_6_multi_i2v"
PNG = b64(make_image())
PARAMS = {
    "image_list": [{"image": PNG}, {"image": b64(make_image(seed=1))}],
    "prompt": "two friends meet",
    "negative_prompt": "blur",
    "mode": "pro",
    "duration": "10",
    "aspect_ratio": "9:16",
    "watermark_info": {"enabled": True},
    "seed": 1234,
    "callback_url": "https://example.com/hook",
    "external_task_id": "order-1",
}


def envelope(model: Any, params: Any) -> dict[str, Any]:
    return {"model": model, "input": [{"params": params}]}


def _comparable(task: dict[str, Any]) -> dict[str, Any]:
    """A task object without what differs between any two tasks: id, times, turn in the queue."""
    meta = {k: v for k, v in task["metadata"].items() if k != "queue_position"}
    kept = {k: v for k, v in task.items() if k not in ("id", "created_at", "updated_at")}
    return {**kept, "metadata": meta}


def test_the_envelope_creates_what_the_flat_body_creates(client: TestClient) -> None:
    flat = create(client, {"model": MULTI, **PARAMS}, key=KEY_A)
    wrapped = create(client, envelope(MULTI, PARAMS), key=KEY_B)
    stored = stored_task(client, flat["id"])
    assert len(stored["images"]) == 2 and stored["params"]["prompt"] == "two friends meet"
    assert stored_task(client, wrapped["id"]) == stored
    assert _comparable(wrapped) == _comparable(flat)
    assert _comparable(poll(client, wrapped["id"], key=KEY_B)) == _comparable(
        poll(client, flat["id"], key=KEY_A)
    )


def test_a_model_inside_params_is_ignored(client: TestClient) -> None:
    params = {"model": MULTI, "image": PNG, "prompt": "a slow push in"}
    task = create(client, envelope(I2V, params))
    assert task["model"] == I2V
    assert "model" not in stored_task(client, task["id"])["params"]


def test_a_model_only_inside_params_is_no_model(client: TestClient) -> None:
    body = {"input": [{"params": {"model": I2V, "image": PNG}}]}
    response = client.post(GENERATION, json=body, headers=bearer(KEY_A))
    assert "model" in kirin_error(response, status=400, code="8002005011")
    assert task_rows(client) == 0


@pytest.mark.parametrize(
    ("params", "code", "names"),
    [
        ({"image": PNG, "duration": "7"}, "8002005004", "duration"),
        ({"image": PNG, "mode": "ultra"}, "8002005007", "mode"),
        ({"image_tail": PNG}, "8002005017", "image_tail"),
        ({}, "8002005001", "image"),
    ],
)
def test_the_params_are_checked_by_the_same_rules(
    client: TestClient, params: dict[str, Any], code: str, names: str
) -> None:
    response = client.post(GENERATION, json=envelope(I2V, params), headers=bearer(KEY_A))
    assert names in kirin_error(response, status=400, code=code)
    assert task_rows(client) == 0


MALFORMED = [
    ("input an object", {"params": {"image": PNG}}, "input: "),
    ("input a string", "image", "input: "),
    ("input null", None, "input: "),
    ("input empty", [], "input: "),
    ("input of two items", [{"params": {"image": PNG}}] * 2, "input: "),
    ("item a string", ["image"], "input[0]: "),
    ("item an array", [[{"params": {}}]], "input[0]: "),
    ("item null", [None], "input[0]: "),
    ("item without params", [{"image": PNG}], "input[0].params: "),
    ("params a string", [{"params": "image"}], "input[0].params: "),
    ("params an array", [{"params": [{"image": PNG}]}], "input[0].params: "),
    ("params null", [{"params": None}], "input[0].params: "),
]


@pytest.mark.parametrize(("case", "given", "starts"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_input_is_refused_naming_input(
    client: TestClient, case: str, given: Any, starts: str
) -> None:
    response = client.post(GENERATION, json={"model": I2V, "input": given}, headers=bearer(KEY_A))
    message = kirin_error(response, status=400, code="8002005014")
    assert message.startswith(starts) and "got" in message, message
    assert client.get(GENERATION, headers=bearer(KEY_A)).json()["data"] == []
    assert task_rows(client) == 0
