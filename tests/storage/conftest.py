"""An S3-compatible server on loopback (moto), fake credentials and a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirin_video.config import Settings


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP API in a thread of this process, on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    yield endpoint
    httpx.post(f"{endpoint}/moto-api/reset")  # the buckets live in this process, not the thread
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, and nothing from the developer's own AWS configuration."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "kirin-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kirin-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_client(aws_env: None, s3_endpoint: str) -> Any:
    """A plain boto3 client, to look into the bucket behind the storage's back."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"kirin-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_settings(tmp_path: Path, s3_endpoint: str, bucket: str) -> Settings:
    """Settings whose outputs go to the test's bucket under the ``outputs`` prefix."""
    return Settings(
        data_dir=tmp_path / "data",
        storage_url=f"s3://{bucket}/outputs",
        s3_endpoint_url=s3_endpoint,
        file_url_ttl_s=60,
    )


def object_keys(s3_client: Any, bucket: str) -> list[str]:
    """Every key in the bucket, sorted."""
    response = s3_client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in response.get("Contents", []))
