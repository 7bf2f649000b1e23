"""The connection bound `kirin serve` derives from the open-file limit, and its 503 answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kirin_video.api.connections import busy_answer, derive_limits
from kirin_video.config import Settings


@pytest.mark.parametrize(
    ("files", "bound", "backlog"),
    [(256, 128, 16), (1024, 640, 64), (65536, 4096, 1024), (1 << 20, 4096, 1024)],
)
def test_bound_leaves_room_below_the_file_limit(
    tmp_path: Path, files: int, bound: int, backlog: int
) -> None:
    limits = derive_limits(Settings(data_dir=tmp_path), file_limit=files)
    assert (limits.max_connections, limits.backlog) == (bound, backlog)
    assert limits.max_connections + 4 * limits.backlog + 64 <= files


def test_a_set_bound_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_connections=50, header_timeout_s=3)
    limits = derive_limits(settings, file_limit=1024)
    assert (limits.max_connections, limits.header_timeout_s) == (50, 3)


def test_the_answer_beyond_the_bound_is_a_whole_503_in_the_kirin_envelope(tmp_path: Path) -> None:
    limits = derive_limits(Settings(data_dir=tmp_path, max_connections=7), file_limit=1024)
    head, body = busy_answer(limits).split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    assert headers["content-length"] == str(len(body))
    assert (headers["connection"], headers["retry-after"]) == ("close", "1")
    answer = json.loads(body)
    assert answer["error"]["code"] == "8002005099"
    assert answer["message"].startswith("connections: at most 7 at once")
