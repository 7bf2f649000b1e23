"""Outputs in an S3-compatible bucket, handed out as presigned GET URLs that expire.

boto3 comes from the ``s3`` extra, so it is imported only when a bucket is opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn
from urllib.parse import urlsplit

from kirin_video.config import Settings
from kirin_video.storage.base import StorageUnavailable

#: SigV4 presigned URLs live at most seven days; S3 refuses a longer X-Amz-Expires.
MAX_URL_TTL_S = 7 * 24 * 3600
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_FORM = "s3://bucket or s3://bucket/prefix"
_CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_INSTALL = "pip install 'kirin-video[s3]'"


@dataclass(frozen=True)
class BucketLocation:
    """Where outputs go: a bucket and a key prefix without leading or trailing slashes."""

    bucket: str
    prefix: str = ""

    def key(self, key: str) -> str:
        """The object key of a storage key, under the prefix."""
        return f"{self.prefix}/{key}" if self.prefix else key


def parse_storage_url(url: str) -> BucketLocation:
    """Bucket and prefix of ``KIRIN_STORAGE_URL``; refuses anything but ``s3://bucket[/prefix]``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or parts.query or parts.fragment:
        _refuse(url, f"must have the form {_FORM}")
    if not _BUCKET.fullmatch(parts.netloc) or ".." in parts.netloc:
        _refuse(url, "needs a bucket name of 3-63 lowercase letters, digits, dots and hyphens")
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        _refuse(url, "must not have '.' or '..' in its prefix")
    return BucketLocation(bucket=parts.netloc, prefix="/".join(segments))


def _refuse(url: str, rule: str) -> NoReturn:
    raise ValueError(f"KIRIN_STORAGE_URL {rule}, got {url!r}")


def object_key(key: str) -> str:
    """A storage key made canonical; refuses keys that are empty, absolute or climb with '..'."""
    parts = PurePosixPath(key).parts
    if not parts or any(part in ("..", "/", "") for part in parts) or key.startswith("/"):
        raise ValueError(f"invalid storage key {key!r}")
    return "/".join(parts)


class S3Storage:
    """A bucket (under an optional prefix); URLs are presigned by the bucket's credentials."""

    def __init__(
        self,
        client: Any,
        *,
        location: BucketLocation,
        ttl_s: int,
        probe: Any = None,
        page_size: int = 1000,
    ) -> None:
        if not 1 <= ttl_s <= MAX_URL_TTL_S:
            raise ValueError(
                f"KIRIN_FILE_URL_TTL_S must be between 1 and {MAX_URL_TTL_S} (7 days) "
                f"for presigned S3 URLs, got {ttl_s}"
            )
        self.location = location
        self._client = client
        self._probe = probe if probe is not None else client
        self._ttl_s = ttl_s
        self._page_size = page_size

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """The bucket of ``KIRIN_STORAGE_URL``, at ``KIRIN_S3_ENDPOINT_URL`` or boto3's endpoint."""
        location = parse_storage_url(settings.storage_url or "")
        client, probe = _clients(settings.s3_endpoint_url)
        return cls(client, location=location, ttl_s=settings.file_url_ttl_s, probe=probe)

    def put(self, key: str, source: Path) -> None:
        """Uploads the file (multipart when large), then drops the local copy as a move would."""
        content_type = _CONTENT_TYPES.get(source.suffix.lower(), "application/octet-stream")
        self._client.upload_file(
            str(source),
            self.location.bucket,
            self.location.key(object_key(key)),
            ExtraArgs={"ContentType": content_type},
        )
        source.unlink(missing_ok=True)

    def url(self, key: str, *, base_url: str) -> str:
        """A presigned GET URL served by the bucket itself; ``base_url`` plays no part."""
        params = {"Bucket": self.location.bucket, "Key": self.location.key(object_key(key))}
        url = self._client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self._ttl_s
        )
        return str(url)

    def delete_prefix(self, prefix: str) -> None:
        """Deletes every object under ``prefix/``, one listed page (up to 1000 keys) at a time."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket,
            Prefix=self.location.key(object_key(prefix)) + "/",
            PaginationConfig={"PageSize": self._page_size},
        )
        for page in pages:
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                self._delete(objects)

    def _delete(self, objects: list[dict[str, str]]) -> None:
        response = self._client.delete_objects(
            Bucket=self.location.bucket, Delete={"Objects": objects, "Quiet": True}
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise StorageUnavailable(
                f"could not delete {len(errors)} object(s) from bucket {self.location.bucket!r}, "
                f"e.g. {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
            )

    def check(self) -> None:
        """Raises StorageUnavailable unless the bucket answers HeadBucket (readiness)."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, where = self.location.bucket, self._probe.meta.endpoint_url
        try:
            self._probe.head_bucket(Bucket=bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            reason = {"404": "does not exist", "403": "access denied"}.get(code, f"error {code}")
            raise StorageUnavailable(f"bucket {bucket!r} {reason} at {where}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"bucket {bucket!r} is unreachable at {where}: {exc}") from exc


def _clients(endpoint_url: str | None) -> tuple[Any, Any]:
    """A client for the work (patient retries) and one for probes (one quick try)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise RuntimeError(f"KIRIN_STORAGE_URL=s3://… needs boto3: {_INSTALL}") from exc
    session = boto3.session.Session()
    work = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
    )
    probe = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=2,
        read_timeout=3,
    )
    return (
        session.client("s3", endpoint_url=endpoint_url, config=work),
        session.client("s3", endpoint_url=endpoint_url, config=probe),
    )
