"""Many creates at once: one task per distinct external id, 409 for repeats, never a 500."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import KEY_A, b64, bearer, make_image
from tests.e2e.conftest import ServerProcess

IMAGE = b64(make_image())


def test_fifty_parallel_creates_with_distinct_and_repeated_ids(
    server: Callable[..., ServerProcess],
) -> None:
    live = server(KIRIN_WORKERS="0")
    external_ids = [f"order-{i % 10}" for i in range(40)] + [f"solo-{i}" for i in range(10)]

    def create(external_id: str) -> int:
        body = {"model": "kirin_v1_6_i2v", "image": IMAGE, "external_task_id": external_id}
        with httpx.Client(base_url=live.url, headers=bearer(KEY_A), timeout=60) as client:
            return client.post("/v1/generation", json=body).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(create, external_ids))

    assert Counter(statuses) == {200: 20, 409: 30}
    with live.client() as client:
        tasks = client.get("/v1/generation?limit=100").json()["data"]
    assert sorted(t["external_task_id"] for t in tasks) == sorted(set(external_ids))
