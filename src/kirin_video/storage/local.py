"""Outputs on local disk, served by ``/files/...`` under HMAC-signed, expiring URLs."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import shutil
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlencode

from kirin_video.storage.base import StorageUnavailable

_SECRET_FILE = "files-secret.key"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The signing secret, generated into the data dir on first start and kept across restarts."""
    path = data_dir / _SECRET_FILE
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # first writer wins when two processes start together
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


class LocalStorage:
    """A directory of outputs; URLs carry an expiry and a signature over key and expiry."""

    def __init__(self, root: Path, *, secret: bytes, ttl_s: int) -> None:
        self.root = root
        self._secret = secret
        self._ttl_s = ttl_s

    def put(self, key: str, source: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)

    def path(self, key: str) -> Path:
        """The file of a key; refuses keys that would leave the root."""
        parts = PurePosixPath(key).parts
        if not parts or any(part in ("..", "/", "") for part in parts) or key.startswith("/"):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root.joinpath(*parts)

    def url(self, key: str, *, base_url: str) -> str:
        expires = int(time.time()) + self._ttl_s
        query = urlencode({"expires": expires, "sig": self.sign(key, expires)})
        return f"{base_url.rstrip('/')}/files/{quote(key)}?{query}"

    def sign(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, key: str, *, expires: int, sig: str) -> bool:
        """A URL is good while unexpired and signed by this server's secret."""
        if expires < time.time():
            return False
        # compare_digest refuses non-ASCII text; a signature is hex, so such a one is simply wrong
        return sig.isascii() and hmac.compare_digest(self.sign(key, expires), sig)

    def check(self) -> None:
        """The outputs directory exists (or can be made) and is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(
                f"outputs directory {self.root} cannot be made: {exc}"
            ) from exc
        if not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"outputs directory {self.root} is not writable")

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)
