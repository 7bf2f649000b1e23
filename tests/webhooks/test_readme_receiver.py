"""The README's five-line receiver, run as written against a real signed callback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.webhooks.conftest import FAST, SECRET, Receiver, cancel, create

README = Path(__file__).parents[2] / "README.md"
SIGNED = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")


def readme_receiver() -> str:
    """The README's Python block that verifies a callback."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    [code] = [block for block in blocks if "verify_webhook" in block]
    return str(code)


@pytest.fixture
def receiving_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app the README's code defines, with the secret in the environment as it says."""
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(compile(readme_receiver(), str(README), "exec"), namespace)
    return namespace["app"]


def test_the_readme_receiver_is_five_lines() -> None:
    assert len(readme_receiver().strip().splitlines()) == 5


def test_the_readme_receiver_accepts_a_real_callback_and_refuses_a_forged_one(
    make_client: Callable[..., TestClient], receiver: Receiver, receiving_app: Any
) -> None:
    client = make_client(**FAST)
    task = create(client, receiver.url)
    cancel(client, task["id"])
    (got,) = receiver.wait(delivered=1)
    headers = {name: got.headers[name] for name in SIGNED}
    forgery = got.body.replace(b'"failed"', b'"completed"')
    assert forgery != got.body
    with TestClient(receiving_app, raise_server_exceptions=False) as app:
        accepted = app.post("/kirin", content=got.body, headers=headers)
        forged = app.post("/kirin", content=forgery, headers=headers)
    assert accepted.status_code == 200
    assert accepted.json()["id"] == task["id"] and accepted.json()["status"] == "failed"
    assert forged.status_code == 500  # the server tries such a callback again later
