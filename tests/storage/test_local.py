"""Local storage: files served only by unexpired URLs signed with the data dir's secret."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from kirin_video.storage.local import LocalStorage, load_or_create_secret


def _put(storage: LocalStorage, tmp_path: Path, key: str, data: bytes) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    storage.put(key, source)


def test_secret_is_created_once_and_kept(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    assert len(first) == 32
    assert load_or_create_secret(tmp_path) == first
    assert (tmp_path / "files-secret.key").stat().st_mode & 0o077 == 0


def test_signed_url_serves_the_file(client: TestClient, tmp_path: Path) -> None:
    storage = client.app.state.services.storage  # type: ignore[attr-defined]
    _put(storage, tmp_path, "task_x/video.mp4", b"movie")
    url = storage.url("task_x/video.mp4", base_url="http://testserver/")
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == b"movie"
    assert response.headers["content-type"] == "video/mp4"


def test_tampered_or_expired_url_is_refused(client: TestClient, tmp_path: Path) -> None:
    storage = client.app.state.services.storage  # type: ignore[attr-defined]
    _put(storage, tmp_path, "task_x/video.mp4", b"movie")
    url = urlsplit(storage.url("task_x/video.mp4", base_url="http://testserver"))
    query = parse_qs(url.query)
    other = client.get(f"/files/task_y/video.mp4?{url.query}")
    expired_at = int(time.time()) - 1
    expired = client.get(
        f"{url.path}?expires={expired_at}&sig={storage.sign('task_x/video.mp4', expired_at)}"
    )
    longer = client.get(f"{url.path}?expires={int(query['expires'][0]) + 1}&sig={query['sig'][0]}")
    for response in (other, expired, longer):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "8002005006"


def test_signature_with_non_ascii_characters_is_refused(client: TestClient) -> None:
    expires = int(time.time()) + 60
    response = client.get(f"/files/task_x/video.mp4?expires={expires}&sig=%C3%A9")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "8002005006"


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, secret=b"s" * 32, ttl_s=60)
    for key in ("../secret", "/etc/passwd", "a/../../b"):
        with pytest.raises(ValueError, match="invalid storage key"):
            storage.path(key)
