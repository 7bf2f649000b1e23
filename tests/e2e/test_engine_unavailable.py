"""A `kirin serve` whose engine cannot load: clients learn only that, the operator the reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.conftest import b64, make_image
from tests.e2e.conftest import ServerProcess, wait_for

INCIDENT = r"\(incident ([0-9a-f]{12})\)"


def test_a_task_on_an_engine_that_cannot_load_names_no_server_path(
    server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    nowhere = str(tmp_path / "models" / "wan-vace")
    process = server(KIRIN_ENGINE="diffusers", KIRIN_MODEL_PATH=nowhere)
    with process.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        said = re.fullmatch(
            f"engine: must load to run tasks; it did not {INCIDENT}", ready.json()["message"]
        )
        assert said, ready.text
        body = {"model": "kirin_v1_6_i2v", "image": b64(make_image(320, 320))}
        task_id = client.post("/v1/generation", json=body).json()["id"]
        task = wait_for(client, task_id, until=lambda t: t["status"] == "failed", timeout_s=90)
    error = task["error"]
    assert isinstance(error, dict)
    failed = re.fullmatch(
        f"generation failed: the engine is not available {INCIDENT}", error["message"]
    )
    assert failed, error
    log = process.log()
    for incident in (said.group(1), failed.group(1)):  # each finds the operator's message
        line = next(line for line in log.splitlines() if incident in line)
        assert f"KIRIN_MODEL_PATH={nowhere!r} does not exist" in line
