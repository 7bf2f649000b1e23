"""The hostile-load script, tiny: every attack runs against a real server and fills its row."""

from __future__ import annotations

import pytest

from benchmarks import hostile

TINY = hostile.Sizes(
    seconds=1.0,
    idle=20,
    trickle=20,
    trickle_every_s=0.3,
    streams=5,
    flood_tasks=4,
    receivers=2,
    bad_passes=1,
    setup_s=5.0,
    settle_s=3.0,
    pause_s=0.2,
)


def test_every_attack_gives_a_row_with_every_column(capsys: pytest.CaptureFixture[str]) -> None:
    rows = hostile.run(TINY, nofile=512)

    assert [row.attack for row in rows] == list(hostile.ATTACKS)
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| " + " | ".join(hostile.COLUMNS) + " |"
    body = [line for line in table[2:] if line.startswith("| ")]
    assert [line.split(" | ")[0].removeprefix("| ") for line in body] == list(hostile.ATTACKS)
    assert all(line.count(" | ") == len(hostile.COLUMNS) - 1 for line in body)
    for row in rows:
        assert row.latencies_s, row.attack  # the good key was answered in every row
        assert 0 < row.max_fds <= 512
        assert row.log_lines > 0
    by_name = {row.attack: row for row in rows}
    assert "opened: 20" in by_name["idle sockets"].attacker
    assert "5xx" in by_name["bad inputs"].attacker or "4xx" in by_name["bad inputs"].attacker
    assert by_name["stuck callbacks of one key"].attacker == "cancel 200: 4"
