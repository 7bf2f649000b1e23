"""The rate limit shared through Redis: two `kirin serve` nodes count one key's requests as one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import KEY_A, KEY_B, bearer
from tests.e2e.cluster import start_redis
from tests.e2e.conftest import ServerProcess
from tests.helpers import GENERATION


def test_requests_on_one_node_count_on_the_other(
    server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    with start_redis(tmp_path) as redis_url:
        shared = {
            "KIRIN_WORKERS": "0",
            "KIRIN_API_KEYS": f"{KEY_A},{KEY_B}",
            "KIRIN_RATE_LIMIT": "4/minute",
            "KIRIN_RATE_LIMIT_STORAGE": redis_url,
        }
        first, second = server(**shared), server(**shared)
        with first.client() as one, second.client() as two:
            assert [one.get(GENERATION).status_code for _ in range(3)] == [200] * 3
            assert two.get(GENERATION).status_code == 200  # the key's fourth, on the other node
            refused = two.get(GENERATION)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "8002005015"
            assert "at most 4 per 1 minute" in refused.json()["message"]
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert one.get(GENERATION).status_code == 429  # and so on the first node
            other = two.get(GENERATION, headers=bearer(KEY_B))
            assert other.status_code == 200  # another key counts on its own
