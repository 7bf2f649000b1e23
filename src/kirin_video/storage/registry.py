"""Picks the storage backend that ``KIRIN_STORAGE_URL`` names."""

from __future__ import annotations

from kirin_video.config import Settings
from kirin_video.storage.local import LocalStorage, load_or_create_secret
from kirin_video.storage.s3 import S3Storage


def open_storage(settings: Settings) -> LocalStorage | S3Storage:
    """The data dir's outputs folder when unset, a bucket for ``s3://``; else refused."""
    url = settings.storage_url
    if not url:
        secret = load_or_create_secret(settings.data_dir)
        return LocalStorage(settings.outputs_dir, secret=secret, ttl_s=settings.file_url_ttl_s)
    if url.startswith("s3://"):
        return S3Storage.from_settings(settings)
    raise ValueError(
        "KIRIN_STORAGE_URL must be unset (outputs in the data dir) or "
        f"s3://bucket[/prefix], got {url!r}"
    )
