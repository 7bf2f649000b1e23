"""A task is found by its id or by any external_task_id its key gave it, slashes included."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, KEY_B, bearer
from tests.helpers import create, task_path


@pytest.mark.parametrize("external_id", ["shop/order/7", "order 1+x", "ünï/cödé", "a" * 128])
def test_any_external_id_reaches_get_cancel_and_callbacks(
    client: TestClient, png_b64: str, external_id: str
) -> None:
    task = create(
        client, {"model": "kirin_v1_6_i2v", "image": png_b64, "external_task_id": external_id}
    )
    ref = quote(external_id, safe="")
    assert client.get(task_path(ref), headers=bearer(KEY_A)).json()["id"] == task["id"]
    callbacks = client.get(task_path(ref, "callbacks"), headers=bearer(KEY_A))
    assert callbacks.status_code == 200 and callbacks.json() == {"data": []}
    cancelled = client.post(task_path(ref, "cancel"), headers=bearer(KEY_A))
    assert (cancelled.status_code, cancelled.json()["id"]) == (200, task["id"])
    assert cancelled.json()["error"]["code"] == "8002005097"


def test_another_keys_external_id_with_a_slash_is_not_found(
    client: TestClient, png_b64: str
) -> None:
    create(client, {"model": "kirin_v1_6_i2v", "image": png_b64, "external_task_id": "a/b"})
    answer = client.get(task_path(quote("a/b", safe="")), headers=bearer(KEY_B))
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "8002005013")
