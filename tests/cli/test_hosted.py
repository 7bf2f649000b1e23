"""The client commands pointed at the hosted service: the same code, its wire replayed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kirin_video.cli import _common, app
from kirin_video.cli.run import _stage
from kirin_video.client import Client, Task
from tests.client.conftest import (
    COMPLETED,
    CREATE_ROUTE,
    CREATED,
    HOSTED,
    QUEUED,
    RUNNING,
    TASK_ID,
    TASK_ROUTE,
    Replay,
    error_body,
)

runner = CliRunner()
HOSTED_OPTIONS = ["--server", HOSTED, "--api-key", "hosted-key"]


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch) -> Replay:
    """The CLI's SDK client, its HTTP answered by the replayed hosted gateway."""
    replay = Replay()

    def make_client(server: str, api_key: str, *, poll_interval: float = 0.5) -> Client:
        return Client(server, api_key, poll_interval=0.001, transport=httpx.MockTransport(replay))

    monkeypatch.setattr(_common, "make_client", make_client)
    for name in ("KIRIN_SERVER_URL", "KIRIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return replay


def test_run_drives_the_hosted_service_and_writes_its_video(hosted: Replay, tmp_path: Path) -> None:
    hosted.on(CREATE_ROUTE, CREATED).on(TASK_ROUTE, QUEUED, RUNNING, COMPLETED)
    hosted.on("GET cdn.vtrix.example/video.mp4", httpx.Response(200, content=b"hosted-mp4"))
    out = tmp_path / "clip.mp4"
    image = "https://img.example/a.png"
    result = runner.invoke(
        app, ["run", "kirin_v1_6_i2v", "--image", image, "-o", str(out), *HOSTED_OPTIONS]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == b"hosted-mp4"
    assert f"done: {TASK_ID}, engine wan, seed 1234, cost 0.2800" in result.stderr
    assert str(hosted.seen[0].url) == "https://cloud.vtrix.ai/model/v1/generation"
    assert hosted.bodies()[0] == {
        "model": "kirin_v1_6_i2v",
        "input": [{"params": {"image": image}}],
    }


def test_run_prints_a_refusal_with_its_code_status_and_request_id(
    hosted: Replay, tmp_path: Path
) -> None:
    refused = error_body("8002005006", "authentication failed: unknown key")
    hosted.on(CREATE_ROUTE, httpx.Response(401, json=refused, headers={"X-Request-Id": "req-1"}))
    result = runner.invoke(
        app,
        [
            "run",
            "kirin_v1_6_i2v",
            "--image",
            "https://img.example/a.png",
            "-o",
            str(tmp_path / "x.mp4"),
            *HOSTED_OPTIONS,
        ],
    )
    assert result.exit_code == 1
    assert "error 8002005006: authentication failed: unknown key" in result.output
    assert "HTTP 401, request id req-1" in result.output


def test_task_status_shows_the_hosted_task_with_its_millisecond_times(hosted: Replay) -> None:
    hosted.on(TASK_ROUTE, COMPLETED)
    result = runner.invoke(app, ["task", "status", TASK_ID, *HOSTED_OPTIONS])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "status:   completed" in lines and "cost:     0.2800" in lines
    assert "created:  2026-01-30 07:22:24 UTC" in lines
    assert "video:    https://cdn.vtrix.example/video.mp4?sig=1" in lines
    as_json = runner.invoke(app, ["task", "status", TASK_ID, "-o", "json", *HOSTED_OPTIONS])
    assert json.loads(as_json.stdout) == COMPLETED


def test_task_status_of_a_queued_task_shows_its_place(hosted: Replay) -> None:
    hosted.on(TASK_ROUTE, QUEUED)
    result = runner.invoke(app, ["task", "status", TASK_ID, *HOSTED_OPTIONS])
    assert "status:   in_progress" in result.stdout and "queue:    #2" in result.stdout


def test_task_list_on_the_hosted_service_says_it_does_not_list(hosted: Replay) -> None:
    result = runner.invoke(app, ["task", "list", *HOSTED_OPTIONS])
    assert result.exit_code == 1
    assert "this server does not list tasks" in result.output


def test_a_server_that_is_not_a_url_is_a_usage_error() -> None:
    result = runner.invoke(
        app, ["task", "status", "t", "--server", "cloud.vtrix.ai", "--api-key", "k"]
    )
    assert result.exit_code == 2 and "--server: must be an http(s) URL" in result.output


@pytest.mark.parametrize(
    ("answer", "stage"),
    [
        (QUEUED, "queued #2"),
        ({**CREATED, "metadata": {"queue_position": 1}}, "queued, runs next"),
        (RUNNING, "running"),
        (CREATED, "in progress"),
        (COMPLETED, "completed"),
    ],
)
def test_the_progress_bar_names_the_stage(answer: dict[str, object], stage: str) -> None:
    assert _stage(Task.from_json(answer)) == stage
