"""The `kirin` command: run (embedded and remote), task, models and keys, through real HTTP."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kirin_video.cli import app
from kirin_video.cli._common import embedded_server
from kirin_video.config import Settings
from kirin_video.media.encode import probe
from tests.conftest import make_image

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIRIN_DATA_DIR", str(tmp_path / "data"))
    for name in ("KIRIN_SERVER_URL", "KIRIN_API_KEY", "KIRIN_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    paths = []
    for seed in range(2):
        path = tmp_path / f"in{seed}.png"
        path.write_bytes(make_image(400, 400, seed=seed))
        paths.append(path)
    return paths


@pytest.fixture
def live(data_dir: Path) -> Iterator[list[str]]:
    """A running server; yields the --server/--api-key options for it."""
    with embedded_server(Settings(data_dir=data_dir)) as (url, key):
        yield ["--server", url, "--api-key", key]


def test_run_embedded_writes_the_video(images: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "clip.mp4"
    result = runner.invoke(
        app,
        [
            "run",
            "kirin_v1_6_multi_i2v",
            "--image",
            str(images[0]),
            "--image",
            str(images[1]),
            "--prompt",
            "two tiles",
            "--aspect-ratio",
            "1:1",
            "--seed",
            "4",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(str(out))
    info = probe(out)
    assert (info.width, info.height, info.frames, info.codec) == (720, 720, 150, "h264")


def test_run_against_a_server_with_watermark(
    images: list[Path], tmp_path: Path, live: list[str]
) -> None:
    out = tmp_path / "i2v.mp4"
    result = runner.invoke(
        app,
        ["run", "kirin_v1_6_i2v", "--image", str(images[0]), "--watermark", "-o", str(out), *live],
    )
    assert result.exit_code == 0, result.output
    assert probe(out).frames == probe(tmp_path / "i2v.watermarked.mp4").frames == 150
    assert out.read_bytes() != (tmp_path / "i2v.watermarked.mp4").read_bytes()


def test_run_prints_the_contract_error(images: list[Path], tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "kirin_v1_6_i2v",
            "--image",
            str(images[0]),
            "--image-tail",
            str(images[1]),
            "-o",
            str(tmp_path / "x.mp4"),
        ],
    )
    assert result.exit_code == 1
    assert "8002005017" in result.output and "image_tail" in result.output


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("nothere.png", "no such file"),
        ("folder", "is a folder, not an image file"),
        ("notes.png", "is not a JPEG or PNG image"),
        ("unreadable.png", "cannot be read (permission denied)"),
    ],
)
def test_run_names_a_bad_image_file_in_one_usage_line(
    given: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.png").write_text("not a picture")
    (tmp_path / "unreadable.png").write_bytes(make_image(400, 400))
    (tmp_path / "unreadable.png").chmod(0)
    if given == "unreadable.png" and os.access(tmp_path / "unreadable.png", os.R_OK):
        pytest.skip("this user reads any file (root)")
    for option in ("--image", "--image-tail"):
        result = runner.invoke(app, ["run", "kirin_v1_6_i2v", option, given, "-o", "x.mp4"])
        assert result.exit_code == 2, result.output
        assert result.output == f"usage: {option} {given}: {says}\n"
    assert not (tmp_path / "data").exists()  # refused before any server started


def test_task_status_list_and_cancel(live: list[str], data_dir: Path) -> None:
    from kirin_video.client import Client

    with Client(live[1], live[3]) as client:
        task = client.create(
            "kirin_v1_6_i2v", image=make_image(), mode="pro", duration=10, external_task_id="cli-1"
        )
    status = runner.invoke(app, ["task", "status", "cli-1", "--output", "json", *live])
    assert json.loads(status.stdout)["id"] == task.id
    listed = runner.invoke(app, ["task", "list", "--output", "json", *live])
    assert [t["id"] for t in json.loads(listed.stdout)["data"]] == [task.id]
    cancelled = runner.invoke(app, ["task", "cancel", task.id, *live])
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
    again = runner.invoke(app, ["task", "cancel", task.id, *live])
    assert again.exit_code == 1 and "8002005018" in again.output
    url = runner.invoke(app, ["task", "status", task.id, "--output", "url", *live])
    assert url.exit_code == 1


def test_task_list_keeps_every_id_whole_in_80_columns(live: list[str]) -> None:
    from kirin_video.client import Client

    with Client(live[1], live[3]) as client:
        ids = [
            client.create("kirin_v1_6_multi_i2v", image_list=[make_image()], prompt="p").id,
            client.create("kirin_v1_6_i2v", image=make_image()).id,
        ]
        for task_id in ids:
            client.cancel(task_id)
    listed = subprocess.run(
        [sys.executable, "-m", "kirin_video.cli", "task", "list", *live],
        env={**os.environ, "COLUMNS": "80", "TERM": "xterm"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, listed.stdout
    for task_id in ids:
        assert any(task_id in line for line in lines), listed.stdout


def test_task_status_url_prints_the_video_url(live: list[str], images: list[Path]) -> None:
    from kirin_video.client import Client

    with Client(live[1], live[3], poll_interval=0.1) as client:
        task = client.wait(client.create("kirin_v1_6_i2v", image=images[0]), timeout=120)
    result = runner.invoke(app, ["task", "status", task.id, "--output", "url", *live])
    printed = httpx.URL(result.stdout.strip())
    # The signature's expiry moves with the clock, so compare where it points, then fetch it.
    assert printed.copy_with(query=None) == httpx.URL(task.video_url).copy_with(query=None)
    assert httpx.get(printed).content[4:8] == b"ftyp"


def test_models_lists_both(live: list[str]) -> None:
    result = runner.invoke(app, ["models", *live])
    assert "kirin_v1_6_i2v" in result.stdout and "kirin_v1_6_multi_i2v" in result.stdout


def test_client_commands_need_a_server() -> None:
    result = runner.invoke(app, ["task", "list"])
    assert result.exit_code == 2 and "--server" in result.output


def test_keys_create_list_revoke_then_key_is_refused(live: list[str]) -> None:
    created = runner.invoke(app, ["keys", "create", "--name", "ci"])
    assert created.exit_code == 0, created.output
    fields = dict(line.split(":", 1) for line in created.stdout.splitlines() if ":" in line)
    api_key, access_id = fields["api key"].strip(), fields["access id"].strip()
    assert fields["jwt secret"].strip()
    listed = runner.invoke(app, ["keys", "list"])
    assert access_id in listed.stdout and api_key not in listed.stdout
    server = live[1]
    ok = runner.invoke(app, ["task", "list", "--server", server, "--api-key", api_key])
    assert ok.exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", access_id]).exit_code == 0
    refused = runner.invoke(app, ["task", "list", "--server", server, "--api-key", api_key])
    assert refused.exit_code == 1 and "8002005006" in refused.output
    assert runner.invoke(app, ["keys", "revoke", "ak_nobody"]).exit_code == 1


def test_task_callbacks_shows_deliveries_and_attempts(data_dir: Path) -> None:
    from kirin_video.client import Client

    # no worker: the one status change, and so the one delivery, is the cancel
    with embedded_server(Settings(data_dir=data_dir, workers=0)) as (url, key):
        options = ["--server", url, "--api-key", key]
        with Client(url, key) as client:
            task = client.create(
                "kirin_v1_6_i2v", image=make_image(), callback_url="http://127.0.0.1:9/hook"
            )
            client.cancel(task)
        as_json = runner.invoke(app, ["task", "callbacks", task.id, "--output", "json", *options])
        [delivery] = json.loads(as_json.stdout)["data"]
        assert delivery["event"] == "failed" and delivery["url"] == "http://127.0.0.1:9/hook"
        table = runner.invoke(app, ["task", "callbacks", task.id, *options])
        assert table.exit_code == 0, table.output
        assert "failed" in table.stdout and "next attempt" in table.stdout
        assert datetime.now(UTC).strftime("%m-%d") in table.stdout  # milliseconds read as such
        unknown = runner.invoke(app, ["task", "callbacks", "task_nope", *options])
        assert unknown.exit_code == 1 and "8002005013" in unknown.output


def test_keys_create_shows_and_rotate_replaces_the_webhook_secret(data_dir: Path) -> None:
    from kirin_video.tasks import keys
    from kirin_video.tasks.db import Database

    created = runner.invoke(app, ["keys", "create"])
    fields = dict(line.split(":", 1) for line in created.stdout.splitlines() if ":" in line)
    access_id, first = fields["access id"].strip(), fields["webhook secret"].strip()
    assert first.startswith("whsec_")
    rotated = runner.invoke(app, ["keys", "rotate-webhook-secret", access_id])
    assert rotated.exit_code == 0, rotated.output
    second = rotated.stdout.split("webhook secret:", 1)[1].split()[0]
    assert second.startswith("whsec_") and second != first
    db = Database.from_settings(Settings(data_dir=data_dir))
    try:
        assert keys.webhook_secret(db, access_id) == second
    finally:
        db.close()


def test_keys_rotate_webhook_secret_refuses_unknown_and_revoked_keys() -> None:
    unknown = runner.invoke(app, ["keys", "rotate-webhook-secret", "ak_nobody"])
    assert unknown.exit_code == 1 and "ak_nobody" in unknown.output
    created = runner.invoke(app, ["keys", "create"]).stdout
    access_id = created.split("access id:", 1)[1].split()[0]
    assert runner.invoke(app, ["keys", "revoke", access_id]).exit_code == 0
    revoked = runner.invoke(app, ["keys", "rotate-webhook-secret", access_id])
    assert revoked.exit_code == 1 and "no active key" in revoked.output


def test_worker_needs_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIRIN_BROKER_URL", raising=False)
    result = runner.invoke(app, ["worker", "--device", "cpu"])
    assert result.exit_code == 2
    assert "KIRIN_BROKER_URL must name the broker" in result.output


def test_run_draws_its_progress_bar_from_the_task_stream(
    images: list[Path], tmp_path: Path, live: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kirin_video.access")
    out = tmp_path / "streamed.mp4"
    result = runner.invoke(
        app, ["run", "kirin_v1_6_i2v", "--image", str(images[0]), "-o", str(out), *live]
    )
    assert result.exit_code == 0, result.output
    assert "completed" in result.output and "100%" in result.output
    requests = [r.getMessage() for r in caplog.records if r.name == "kirin_video.access"]
    assert [m for m in requests if m.startswith("GET") and "/stream -> 200" in m]
    polls = [m for m in requests if re.match(r"GET /model/v1/generation/task/[^/ ]+ ->", m)]
    assert polls == []  # no poll: the stream carried every state
