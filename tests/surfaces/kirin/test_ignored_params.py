"""Names a model does not have are taken, as hosted clients may send extras, but never silently:
the task's ``metadata.ignored_params`` names them on every read, and the log does."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kirin_video.tasks.snapshot import Usage
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import GENERATION, create, poll, stored_task, vtrix_task

I2V = "kirin_v1_6_i2v"
MULTI = "kirin_v1_6_multi_i2v"
PNG = b64(make_image())


def test_a_misspelt_parameter_is_named_in_metadata_and_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kirin_video.surfaces.kirin.wire"):
        task = create(client, {"model": I2V, "image": PNG, "promt": "a cat"})
    assert task["metadata"]["ignored_params"] == ["promt"]
    assert stored_task(client, task["id"])["params"]["prompt"] is None  # dropped, and now said
    assert "promt" in caplog.text


def test_ignored_names_of_the_hosted_envelope_are_sorted_and_stay_on_every_read(
    client: TestClient,
) -> None:
    body: dict[str, Any] = {
        "model": MULTI,
        "input": [
            {
                "params": {
                    "image_list": [{"image": PNG}],
                    "prompt": "two friends",
                    "colour": "red",
                    "aspect_ratio": "1:1",
                    "callback": None,  # callback_url's other name, read for both models
                    "model": MULTI,  # documented: a model inside params is ignored
                }
            }
        ],
        "trace": "t-1",
    }
    task = create(client, body)
    assert task["metadata"]["ignored_params"] == ["colour", "trace"]
    assert poll(client, task["id"])["metadata"]["ignored_params"] == ["colour", "trace"]
    listed = client.get(GENERATION, headers=bearer(KEY_A)).json()["data"]
    assert [t["metadata"]["ignored_params"] for t in listed] == [["colour", "trace"]]


def test_a_parameter_of_the_other_model_is_ignored_by_name(client: TestClient) -> None:
    task = create(client, {"model": I2V, "image": PNG, "aspect_ratio": "9:16"})
    assert task["metadata"]["ignored_params"] == ["aspect_ratio"]


def test_a_request_of_known_names_has_no_ignored_params_key(client: TestClient) -> None:
    task = create(client, {"model": I2V, "image": PNG, "prompt": "p", "callback": None})
    assert "ignored_params" not in task["metadata"]
    assert "ignored_params" not in poll(client, task["id"])["metadata"]
    assert vtrix_task(client.get(f"{GENERATION}/task/{task['id']}", headers=bearer(KEY_A))).id


def test_ignored_params_outlive_the_metadata_a_finished_run_writes(client: TestClient) -> None:
    task = create(client, {"model": I2V, "image": PNG, "promt": "a cat"})
    service = client.app.state.services.tasks  # type: ignore[attr-defined]
    assert service.claim(task["id"], worker="w") is not None
    assert service.complete(
        task["id"], worker="w", outputs=[], usage=Usage(cost="0.1"), meta={"engine": "preview"}
    )
    finished = poll(client, task["id"])
    assert finished["status"] == "completed"
    assert finished["metadata"]["engine"] == "preview"
    assert finished["metadata"]["ignored_params"] == ["promt"]
