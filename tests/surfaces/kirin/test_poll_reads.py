"""A poll, most of a node's load, reads the database once: one transaction, and a finished
task's poll no more than its row."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import create, poll, task_path

BODY = {"model": "kirin_v1_6_i2v", "image": b64(make_image(320, 320))}
#: Where a route's blocking work runs; the node's own loops (callbacks, sweeper) run elsewhere.
ROUTE_THREAD = "AnyIO worker thread"


@contextmanager
def reads(engine: Engine) -> Iterator[Counter[str]]:
    """Transactions begun and SELECTs run by routes while the block runs."""
    seen: Counter[str] = Counter()

    def by_a_route() -> bool:
        return threading.current_thread().name == ROUTE_THREAD

    def begun(_connection: Any) -> None:
        seen["transactions"] += by_a_route()

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen["selects"] += by_a_route() and statement.lstrip().upper().startswith("SELECT")

    event.listen(engine, "begin", begun)
    event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "begin", begun)


def test_a_poll_of_a_waiting_task_is_one_read(client: TestClient) -> None:
    task = create(client, BODY)

    with reads(client.app.state.services.db.engine) as seen:  # type: ignore[attr-defined]
        polled = poll(client, task["id"])

    assert polled["metadata"]["queue_position"] == 1
    assert seen == {"transactions": 1, "selects": 1}  # the task and the queue around it at once


def test_a_poll_of_a_finished_task_reads_only_its_row(client: TestClient) -> None:
    task = create(client, BODY)
    assert client.post(task_path(task["id"], "cancel"), headers=bearer(KEY_A)).status_code == 200

    with reads(client.app.state.services.db.engine) as seen:  # type: ignore[attr-defined]
        polled = poll(client, task["id"])

    assert polled["status"] == "failed" and "queue_position" not in polled["metadata"]
    assert seen == {"transactions": 1, "selects": 1}


def test_a_poll_by_external_id_reads_the_same_task(client: TestClient) -> None:
    task = create(client, {**BODY, "external_task_id": "order-7"})

    assert poll(client, "order-7") == poll(client, task["id"])
