"""``HEAD`` answers wherever ``GET`` does, as load balancers' probes expect: the GET's status and
headers, no body; a stream's ``HEAD`` ends at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import create, task_path

#: Headers that differ between any two answers.
PER_ANSWER = {"date", "x-request-id"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app with no worker, so a task stays in progress and its stream stays open."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("head") / "data",
        api_keys=[KEY_A],
        workers=0,
        engine_child=False,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def task(client: TestClient) -> dict[str, Any]:
    return create(client, {"model": "kirin_v1_6_i2v", "image": b64(make_image())})


def _same_answer(client: TestClient, path: str, **kwargs: Any) -> int:
    """HEAD and GET of ``path`` answer alike but for the body; the status they share."""
    got = client.get(path, **kwargs)
    head = client.head(path, **kwargs)
    assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
    assert head.content == b""
    assert {k: v for k, v in head.headers.items() if k not in PER_ANSWER} == {
        k: v for k, v in got.headers.items() if k not in PER_ANSWER
    }
    return head.status_code


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/", 307),
        ("/playground", 200),
        ("/api/v1/skill/models", 200),
        ("/api/v1/skill/models/kirin_v1_6_i2v/spec", 200),
    ],
)
def test_head_answers_like_get_without_a_key(client: TestClient, path: str, status: int) -> None:
    assert _same_answer(client, path, follow_redirects=False) == status


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/models", 200),
        ("/model/v1/generation", 200),
        (task_path("nope"), 404),
        ("/v1/videos", 200),
        ("/v1/videos/nope", 404),
        ("/v1/videos/image2video/nope", 404),
        ("/v1/videos/image2video", 200),
    ],
)
def test_head_answers_like_get_on_the_surfaces(client: TestClient, path: str, status: int) -> None:
    assert _same_answer(client, path, headers=bearer(KEY_A)) == status


def test_head_of_a_task_and_its_open_stream(client: TestClient, task: dict[str, Any]) -> None:
    assert _same_answer(client, task_path(task["id"]), headers=bearer(KEY_A)) == 200
    head = client.head(task_path(task["id"], "stream"), headers=bearer(KEY_A))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream")
