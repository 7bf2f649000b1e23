"""S3 storage against a real S3 HTTP API (moto's server on loopback): uploads, URLs, deletes."""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kirin_video.config import Settings
from kirin_video.storage.local import LocalStorage
from kirin_video.storage.registry import open_storage
from kirin_video.storage.s3 import (
    BucketLocation,
    S3Storage,
    StorageUnavailable,
    parse_storage_url,
)
from tests.storage.conftest import object_keys


def _put(storage: S3Storage, tmp_path: Path, key: str, data: bytes) -> Path:
    source = tmp_path / f"upload{Path(key).suffix}"
    source.write_bytes(data)
    storage.put(key, source)
    return source


@pytest.fixture
def storage(s3_settings: Settings) -> S3Storage:
    return S3Storage.from_settings(s3_settings)


def test_presigned_url_serves_the_exact_bytes_and_type(
    storage: S3Storage, tmp_path: Path, s3_endpoint: str
) -> None:
    video, cover = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)), b"\xff\xd8\xff\xe0jpeg"
    _put(storage, tmp_path, "task_1/video.mp4", video)
    _put(storage, tmp_path, "task_1/cover.jpg", cover)
    for key, data, content_type in (
        ("task_1/video.mp4", video, "video/mp4"),
        ("task_1/cover.jpg", cover, "image/jpeg"),
    ):
        url = storage.url(key, base_url="http://kirin.example/")
        assert url.startswith(f"{s3_endpoint}/")  # the bucket serves it, not the API
        response = httpx.get(url)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == content_type


def test_put_moves_the_file_into_the_bucket(storage: S3Storage, tmp_path: Path) -> None:
    source = _put(storage, tmp_path, "task_1/video.mp4", b"movie")
    assert not source.exists()


def test_url_is_presigned_for_the_ttl(storage: S3Storage, tmp_path: Path) -> None:
    """Moto serves presigned URLs past their expiry, so the signed lifetime is checked here."""
    _put(storage, tmp_path, "task_1/video.mp4", b"movie")
    query = parse_qs(urlsplit(storage.url("task_1/video.mp4", base_url="")).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["60"]
    assert abs(signed_at.timestamp() - time.time()) < 5
    assert len(query["X-Amz-Signature"][0]) == 64


def test_objects_land_under_the_prefix(
    storage: S3Storage, tmp_path: Path, s3_client: Any, bucket: str
) -> None:
    _put(storage, tmp_path, "task_1/./video.mp4", b"movie")
    assert object_keys(s3_client, bucket) == ["outputs/task_1/video.mp4"]


def test_without_a_prefix_keys_are_the_object_keys(
    s3_settings: Settings, tmp_path: Path, s3_client: Any, bucket: str
) -> None:
    storage = S3Storage.from_settings(
        s3_settings.model_copy(update={"storage_url": f"s3://{bucket}"})
    )
    _put(storage, tmp_path, "task_1/video.mp4", b"movie")
    assert object_keys(s3_client, bucket) == ["task_1/video.mp4"]
    assert httpx.get(storage.url("task_1/video.mp4", base_url="")).content == b"movie"


def test_delete_prefix_removes_only_that_tasks_objects(
    tmp_path: Path, s3_client: Any, bucket: str
) -> None:
    location = BucketLocation(bucket=bucket, prefix="outputs")
    storage = S3Storage(s3_client, location=location, ttl_s=60, page_size=2)  # several pages
    for key in ("task_1/video.mp4", "task_1/cover.jpg", "task_1/w/video.mp4", "task_1/x"):
        _put(storage, tmp_path, key, b"1")
    for key in ("task_10/video.mp4", "task_2/video.mp4"):
        _put(storage, tmp_path, key, b"other")
    s3_client.put_object(Bucket=bucket, Key="task_1/video.mp4", Body=b"outside the prefix")
    storage.delete_prefix("task_1")
    assert object_keys(s3_client, bucket) == [
        "outputs/task_10/video.mp4",
        "outputs/task_2/video.mp4",
        "task_1/video.mp4",
    ]
    storage.delete_prefix("task_1")  # nothing left to delete is no error


@pytest.mark.parametrize("key", ["", ".", "..", "../secret", "/etc/passwd", "a/../../b"])
def test_keys_cannot_escape_the_prefix(storage: S3Storage, tmp_path: Path, key: str) -> None:
    source = tmp_path / "video.mp4"
    source.write_bytes(b"movie")
    for call in (
        lambda: storage.put(key, source),
        lambda: storage.url(key, base_url=""),
        lambda: storage.delete_prefix(key),
    ):
        with pytest.raises(ValueError, match="invalid storage key") as error:
            call()
        assert repr(key) in str(error.value)
    assert source.exists()


@pytest.mark.parametrize(
    ("url", "prefix"),
    [
        ("s3://kirin-out", ""),
        ("s3://kirin-out/", ""),
        ("s3://kirin-out/videos", "videos"),
        ("s3://kirin.out-1//prod/videos/", "prod/videos"),
    ],
)
def test_storage_url_gives_bucket_and_trimmed_prefix(url: str, prefix: str) -> None:
    location = parse_storage_url(url)
    assert location.bucket == url[5:].split("/")[0]
    assert location.prefix == prefix


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("s3://", "bucket name"),
        ("s3:///videos", "bucket name"),
        ("s3://ab", "bucket name"),
        ("s3://Kirin_Out/videos", "bucket name"),
        ("s3://kirin..out", "bucket name"),
        ("s3://kirin-out:9000/videos", "bucket name"),
        ("s3://key:secret@kirin-out", "bucket name"),
        ("s3://kirin-out/a/../b", "'..'"),
        ("s3://kirin-out/videos?region=eu", "s3://bucket or s3://bucket/prefix"),
        ("gs://kirin-out/videos", "s3://bucket or s3://bucket/prefix"),
    ],
)
def test_malformed_storage_urls_are_refused(url: str, rule: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_storage_url(url)
    message = str(error.value)
    assert message.startswith("KIRIN_STORAGE_URL ")
    assert rule in message
    assert repr(url) in message


def test_ttl_beyond_what_s3_signs_is_refused(s3_settings: Settings) -> None:
    for ttl_s in (0, 7 * 24 * 3600 + 1):
        with pytest.raises(ValueError, match=f"KIRIN_FILE_URL_TTL_S .*got {ttl_s}$"):
            S3Storage.from_settings(s3_settings.model_copy(update={"file_url_ttl_s": ttl_s}))


def test_open_storage_defaults_to_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    storage = open_storage(settings)
    assert isinstance(storage, LocalStorage)
    assert storage.root == settings.outputs_dir


def test_open_storage_opens_the_bucket_of_an_s3_url(
    s3_settings: Settings, tmp_path: Path, bucket: str
) -> None:
    storage = open_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    assert storage.location == BucketLocation(bucket=bucket, prefix="outputs")
    storage.check()


@pytest.mark.parametrize("url", ["file:///srv/outputs", "gs://kirin-out", "https://s3.example"])
def test_open_storage_refuses_other_schemes(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError) as error:
        open_storage(Settings(data_dir=tmp_path, storage_url=url))
    message = str(error.value)
    assert "KIRIN_STORAGE_URL" in message
    assert "s3://bucket[/prefix]" in message
    assert repr(url) in message


def test_missing_s3_extra_says_what_to_install(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what an install without the extra sees
    with pytest.raises(RuntimeError, match=r"pip install 'kirin-video\[s3\]'"):
        open_storage(s3_settings)


def test_endpoint_may_come_from_aws_endpoint_url(
    s3_settings: Settings,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    storage = S3Storage.from_settings(s3_settings.model_copy(update={"s3_endpoint_url": None}))
    storage.check()
    _put(storage, tmp_path, "task_1/video.mp4", b"movie")
    assert httpx.get(storage.url("task_1/video.mp4", base_url="")).content == b"movie"


def test_check_names_a_missing_bucket(s3_settings: Settings) -> None:
    settings = s3_settings.model_copy(update={"storage_url": "s3://kirin-no-such-bucket/x"})
    with pytest.raises(StorageUnavailable, match="'kirin-no-such-bucket' does not exist at http"):
        S3Storage.from_settings(settings).check()


def test_check_fails_fast_when_the_endpoint_is_down(s3_settings: Settings) -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    storage = S3Storage.from_settings(s3_settings.model_copy(update={"s3_endpoint_url": endpoint}))
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match=f"unreachable at {endpoint}"):
        storage.check()
    assert time.monotonic() - started < 5
