"""Checking a callback's Standard Webhooks signature on the receiving side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError as _Refused
from standardwebhooks.webhooks import EmptyWebhookSecretError

from kirin_video.client._exceptions import WebhookVerificationError


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The task object a callback carries, once its signature and timestamp check out."""
    try:
        webhook = Webhook(secret)
    except (ValueError, EmptyWebhookSecretError) as exc:
        raise ValueError("secret: must be the key's whsec_… webhook secret") from exc
    try:
        payload = webhook.verify(body, dict(headers))
    except (_Refused, ValueError) as exc:
        # ValueError: a malformed signature header, or a body that is not UTF-8 JSON
        raise WebhookVerificationError(f"callback refused: {exc}") from exc
    if not isinstance(payload, dict):
        raise WebhookVerificationError("callback refused: the body is not a JSON object")
    return payload
