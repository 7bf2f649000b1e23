"""The server-wide secret: made once, private, kept across restarts, overridden by the setting."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kirin_video.api.app import create_app
from kirin_video.client import verify_webhook
from kirin_video.config import Settings
from kirin_video.webhooks.signing import server_secret
from tests.conftest import KEY_A, KEY_B
from tests.webhooks.conftest import CANCELLED, FAST, SECRET, Receiver, cancel, create

FILE = "webhook-secret"
UNSET = {**FAST, "webhook_secret": None}


def test_the_server_secret_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    made = server_secret(None, data_dir)
    path = data_dir / FILE
    assert made.startswith("whsec_") and path.read_text() == made + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.stat().st_mtime_ns
    assert server_secret(None, data_dir) == made  # a restart reads it back
    assert path.stat().st_mtime_ns == written


def test_the_configured_secret_wins_over_the_kept_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = server_secret(None, tmp_path)
    monkeypatch.setenv("KIRIN_WEBHOOK_SECRET", SECRET)
    configured = Settings(data_dir=tmp_path).webhook_secret
    assert server_secret(configured, tmp_path) == SECRET
    assert (tmp_path / FILE).read_text() == kept + "\n"  # left for when the setting goes


def delivered_with(client: TestClient, receiver: Receiver, secret: str) -> str:
    """Cancel a task with a callback; the error code it carries, verified with ``secret``."""
    before = len(receiver.delivered())
    cancel(client, create(client, receiver.url)["id"])
    got = receiver.wait(delivered=before + 1)[-1]
    return str(verify_webhook(got.body, got.headers, secret)["error"]["code"])


def test_callbacks_are_signed_with_the_kept_secret_until_the_setting_overrides_it(
    settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(settings.model_copy(update=UNSET))) as client:
        kept = (settings.data_dir / FILE).read_text().strip()
        assert delivered_with(client, receiver, kept) == CANCELLED
    monkeypatch.setenv("KIRIN_WEBHOOK_SECRET", SECRET)
    from_env = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        api_keys=[KEY_A, KEY_B],
        workers=0,
        **{k: v for k, v in UNSET.items() if k != "webhook_secret"},
    )
    with TestClient(create_app(from_env)) as restarted:
        assert delivered_with(restarted, receiver, SECRET) == CANCELLED
    assert (settings.data_dir / FILE).read_text().strip() == kept
