"""One key's stuck receivers hold at most its share of the senders; other keys' go out at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, KEY_B
from tests.webhooks.conftest import FAST, Receiver, StuckReceiver, cancel, create

PER_KEY = 4
HELD_S = 30.0  # each send to a stuck receiver holds its sender this long


@pytest.fixture
def stuck() -> Iterator[list[StuckReceiver]]:
    """Six receivers that never answer (closed before the app stops, so its sends end)."""
    receivers = [StuckReceiver() for _ in range(6)]
    yield receivers
    for receiver in receivers:
        receiver.close()


def test_a_key_s_stuck_receivers_leave_the_senders_to_other_keys(
    make_client: Callable[..., TestClient], stuck: list[StuckReceiver], receiver: Receiver
) -> None:
    client = make_client(
        **{
            **FAST,
            "webhook_timeout_s": HELD_S,
            "webhook_concurrency": 16,
            "webhook_per_host": 4,
            "webhook_per_key": PER_KEY,
        }
    )
    # Key A owes 24 callbacks, four to each stuck receiver: enough to fill every sender.
    for hung in stuck * 4:
        cancel(client, create(client, hung.url, token=KEY_A)["id"], token=KEY_A)
    deadline = time.monotonic() + 30
    while sum(hung.accepted for hung in stuck) < PER_KEY:
        assert time.monotonic() < deadline, "key A's sends never took its share of the senders"
        time.sleep(0.02)

    since = time.time()
    task = create(client, receiver.url, token=KEY_B)
    cancel(client, task["id"], token=KEY_B)
    # sent while key A's sends are held, not after them: well inside their timeout, however busy
    (got,) = receiver.wait(delivered=1, timeout_s=HELD_S / 2)
    assert got.json["id"] == task["id"]
    assert got.at - since < HELD_S / 2
    assert sum(hung.accepted for hung in stuck) == PER_KEY  # key A's share, and no more
