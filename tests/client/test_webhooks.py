"""``verify_webhook``: a callback's Standard Webhooks signature checked on the receiving side."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks import Webhook

from kirin_video.client import KirinError, WebhookVerificationError, verify_webhook
from tests.client.conftest import COMPLETED, TASK_ID

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def signed(body: str, *, secret: str = SECRET, at: datetime | None = None) -> httpx.Headers:
    moment = at or datetime.now(UTC)
    return httpx.Headers(
        {
            "Webhook-Id": "msg_1",
            "Webhook-Timestamp": str(int(moment.timestamp())),
            "Webhook-Signature": Webhook(secret).sign("msg_1", moment, body),
        }
    )


def test_verify_webhook_returns_the_task_object() -> None:
    body = json.dumps(COMPLETED)
    assert verify_webhook(body.encode(), signed(body), SECRET) == COMPLETED
    assert verify_webhook(body, dict(signed(body)), SECRET)["id"] == TASK_ID


def test_verify_webhook_refuses_a_tampered_body() -> None:
    body = json.dumps(COMPLETED)
    with pytest.raises(WebhookVerificationError, match="callback refused") as caught:
        verify_webhook(body.replace("completed", "failed"), signed(body), SECRET)
    assert isinstance(caught.value, KirinError) and caught.value.code is None


def test_verify_webhook_refuses_another_secret_and_a_stale_timestamp() -> None:
    body = json.dumps(COMPLETED)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, signed(body, secret=other), SECRET)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(body, signed(body, at=datetime.now(UTC) - timedelta(hours=1)), SECRET)


def test_verify_webhook_names_a_secret_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="secret: must be the key's whsec_"):
        verify_webhook("{}", signed("{}"), "")
