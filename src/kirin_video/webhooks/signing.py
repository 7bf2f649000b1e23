"""Standard Webhooks signatures, with the secret of the key that owns the task."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook

from kirin_video.tasks.db import Database
from kirin_video.tasks.keys import new_webhook_secret, webhook_secret

log = logging.getLogger(__name__)

_SERVER_SECRET_FILE = "webhook-secret"


def signed_headers(
    *, secret: str, msg_id: str, body: str, now: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    moment = now or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body),
    }


class SecretBook:
    """Which secret signs an owner's callbacks: the issued key's own, else the server's."""

    def __init__(self, db: Database, *, server_secret: str) -> None:
        self._db = db
        self._server_secret = server_secret

    def for_owner(self, owner: str) -> str:
        return webhook_secret(self._db, owner) or self._server_secret


def server_secret(configured: str | None, data_dir: Path) -> str:
    """``KIRIN_WEBHOOK_SECRET``, else one made once and kept in the data dir for the operator."""
    if configured:
        return configured
    path = data_dir / _SERVER_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = new_webhook_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    log.info("made the server's webhook secret in %s (KIRIN_WEBHOOK_SECRET overrides it)", path)
    return secret
