"""The Kling routes: JWTs as Kling's docs make them, envelopes and error codes field by field."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from kirin_video.media.encode import probe
from kirin_video.tasks.keys import IssuedKey, issue_key
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import GENERATION, task_path

IMAGE = b64(make_image(480, 320))
I2V = {"model_name": "kling-v1-6", "image": IMAGE, "prompt": "a slow push in"}
MULTI = {"model_name": "kling-v1-6", "image_list": [{"image": IMAGE}], "prompt": "friends meet"}
DATA_KEYS = {"task_id", "task_status", "task_status_msg", "task_info", "created_at", "updated_at"}


def kling_token(key: IssuedKey, *, exp_in: int = 1800, nbf_in: int = -5) -> str:
    """The token as Kling's Python sample makes it: iss = access key, exp, nbf; HS256."""
    now = int(time.time())
    payload = {"iss": key.access_id, "exp": now + exp_in, "nbf": now + nbf_in}
    return jwt.encode(
        payload, key.secret, algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"}
    )


@pytest.fixture
def key(client: TestClient) -> IssuedKey:
    return issue_key(client.app.state.services.db, name="kling")  # type: ignore[attr-defined]


@pytest.fixture
def auth(key: IssuedKey) -> dict[str, str]:
    return bearer(kling_token(key))


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"code", "message", "request_id", "data"}
    assert (body["code"], body["message"]) == (0, "SUCCEED") and body["request_id"]
    return body["data"]


def _error(response: Any, *, status: int, code: int, names: str) -> str:
    """A Kling error: its HTTP status, code and a message naming the field."""
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code, body
    assert names in body["message"], body
    return str(body["message"])


def test_image2video_create_answers_kling_envelope(
    client: TestClient, auth: dict[str, str]
) -> None:
    before = int(time.time() * 1000)
    data = _ok(
        client.post("/v1/videos/image2video", json={**I2V, "external_task_id": "k-1"}, headers=auth)
    )
    assert set(data) == {"task_id", "task_status", "task_info", "created_at", "updated_at"}
    assert data["task_status"] == "submitted"
    assert data["task_info"] == {"external_task_id": "k-1"}
    assert before - 1000 <= data["created_at"] <= int(time.time() * 1000)
    assert data["updated_at"] == data["created_at"]


def test_query_by_id_path_external_id_and_query_parameter(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = _ok(
        client.post("/v1/videos/image2video", json={**I2V, "external_task_id": "k-2"}, headers=auth)
    )
    by_id = _ok(client.get(f"/v1/videos/image2video/{created['task_id']}", headers=auth))
    assert set(by_id) == DATA_KEYS | {"task_result"}
    assert (by_id["task_status"], by_id["task_status_msg"], by_id["task_result"]) == (
        "submitted",
        "",
        {},
    )
    assert _ok(client.get("/v1/videos/image2video/k-2", headers=auth)) == by_id
    assert _ok(client.get("/v1/videos/image2video?external_task_id=k-2", headers=auth)) == by_id


def test_tasks_are_the_same_on_both_surfaces(client: TestClient, auth: dict[str, str]) -> None:
    kling = _ok(client.post("/v1/videos/multi-image2video", json=MULTI, headers=auth))
    kirin = client.get(task_path(kling["task_id"]), headers=auth).json()
    assert (kirin["id"], kirin["model"], kirin["status"]) == (
        kling["task_id"],
        "kirin_v1_6_multi_i2v",
        "in_progress",
    )
    body = {"model": "kirin_v1_6_i2v", "image": IMAGE, "external_task_id": "from-kirin"}
    made = client.post(GENERATION, json=body, headers=auth).json()
    seen = _ok(client.get("/v1/videos/image2video/from-kirin", headers=auth))
    assert (seen["task_id"], seen["task_status"]) == (made["id"], "submitted")
    body = {"model": "kirin_v1_6_multi_i2v", "image_list": [{"image": IMAGE}], "prompt": "p"}
    made = client.post(GENERATION, json=body, headers=auth).json()
    seen = _ok(client.get(f"/v1/videos/multi-image2video/{made['id']}", headers=auth))
    assert (seen["task_id"], seen["task_status"]) == (made["id"], "submitted")
    i2v = _ok(client.post("/v1/videos/image2video", json=I2V, headers=auth))
    kirin = client.get(task_path(i2v["task_id"]), headers=auth).json()
    assert (kirin["model"], kirin["status"]) == ("kirin_v1_6_i2v", "in_progress")
    # a task answers on its own model's route only
    _error(
        client.get(f"/v1/videos/image2video/{kling['task_id']}", headers=auth),
        status=404,
        code=1203,
        names="task_id",
    )


def test_cancelled_and_failed_tasks_read_as_failed_with_the_reason(
    client: TestClient, auth: dict[str, str]
) -> None:
    task_id = _ok(client.post("/v1/videos/image2video", json=I2V, headers=auth))["task_id"]
    client.post(task_path(task_id, "cancel"), headers=auth).raise_for_status()
    data = _ok(client.get(f"/v1/videos/image2video/{task_id}", headers=auth))
    assert (data["task_status"], data["task_result"]) == ("failed", {})
    assert "cancelled" in data["task_status_msg"]


def test_list_pages_newest_first_per_route(client: TestClient, auth: dict[str, str]) -> None:
    ids = [
        _ok(client.post("/v1/videos/image2video", json=I2V, headers=auth))["task_id"]
        for _ in range(3)
    ]
    _ok(client.post("/v1/videos/multi-image2video", json=MULTI, headers=auth))
    first = _ok(client.get("/v1/videos/image2video?pageNum=1&pageSize=2", headers=auth))
    second = _ok(client.get("/v1/videos/image2video?pageNum=2&pageSize=2", headers=auth))
    assert [t["task_id"] for t in first + second] == ids[::-1]
    assert all(set(t) == DATA_KEYS | {"task_result"} for t in first)
    assert len(_ok(client.get("/v1/videos/image2video", headers=auth))) == 3  # default size 30
    assert len(_ok(client.get("/v1/videos/multi-image2video", headers=auth))) == 1
    for bad in ("pageSize=0", "pageSize=501", "pageNum=0", "pageNum=1001", "pageNum=x"):
        _error(
            client.get(f"/v1/videos/image2video?{bad}", headers=auth),
            status=400,
            code=1201,
            names=bad.split("=")[0],
        )


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, 1001),
        ("not-a-token", 1002),
        ("expired", 1004),
        ("not-yet", 1003),
        ("wrong-secret", 1002),
    ],
)
def test_authentication_errors_have_kling_codes(
    client: TestClient, key: IssuedKey, token: str | None, code: int
) -> None:
    tokens = {
        "expired": kling_token(key, exp_in=-60, nbf_in=-120),
        "not-yet": kling_token(key, nbf_in=600),
        "wrong-secret": jwt.encode(
            {"iss": key.access_id, "exp": int(time.time()) + 60}, "x" * 32, algorithm="HS256"
        ),
        "not-a-token": "not-a-token",
    }
    headers = {} if token is None else bearer(tokens[token])
    response = client.post("/v1/videos/image2video", json=I2V, headers=headers)
    _error(response, status=401, code=code, names="Authorization")


@pytest.mark.parametrize(
    ("route", "body", "names"),
    [
        ("image2video", {**I2V, "model_name": "kling-v2-master"}, "model_name"),
        ("multi-image2video", {**MULTI, "model_name": "kling-v1"}, "model_name"),
        ("image2video", {**I2V, "camera_control": {"type": "simple"}}, "camera_control"),
        ("image2video", {**I2V, "static_mask": IMAGE}, "static_mask"),
        ("image2video", {**I2V, "image": "data:image/png;base64,AAAA"}, "image"),
        ("image2video", {"model_name": "kling-v1-6"}, "image"),
        ("image2video", {**I2V, "prompt": "x" * 2501}, "prompt"),
        ("image2video", {**I2V, "cfg_scale": 1.5}, "cfg_scale"),
        ("image2video", {**I2V, "mode": "max"}, "mode"),
        ("image2video", {**I2V, "duration": "7"}, "duration"),
        ("image2video", {**I2V, "image_tail": IMAGE}, "image_tail"),  # a tail needs pro
        ("image2video", {**I2V, "callback_url": "ftp://x"}, "callback_url"),
        ("multi-image2video", {**MULTI, "image_list": [{"image": IMAGE}] * 5}, "image_list"),
        ("multi-image2video", {**MULTI, "prompt": ""}, "prompt"),
        ("multi-image2video", {**MULTI, "aspect_ratio": "4:3"}, "aspect_ratio"),
    ],
)
def test_bad_parameters_are_1201_naming_the_field(
    client: TestClient, auth: dict[str, str], route: str, body: dict[str, Any], names: str
) -> None:
    _error(
        client.post(f"/v1/videos/{route}", json=body, headers=auth),
        status=400,
        code=1201,
        names=names,
    )
    assert _ok(client.get(f"/v1/videos/{route}", headers=auth)) == []  # nothing half-created


def test_a_body_that_is_not_a_json_object_or_has_wrong_types_is_1200(
    client: TestClient, auth: dict[str, str]
) -> None:
    raw = client.post("/v1/videos/image2video", content=b"{not json", headers=auth)
    _error(raw, status=400, code=1200, names="body")
    listed = client.post("/v1/videos/image2video", json=[1], headers=auth)
    _error(listed, status=400, code=1200, names="body")
    typed = client.post("/v1/videos/image2video", json={**I2V, "mode": 5}, headers=auth)
    _error(typed, status=400, code=1200, names="mode")


def test_repeated_external_id_and_unknown_task(client: TestClient, auth: dict[str, str]) -> None:
    _ok(
        client.post("/v1/videos/image2video", json={**I2V, "external_task_id": "dup"}, headers=auth)
    )
    again = client.post(
        "/v1/videos/image2video", json={**I2V, "external_task_id": "dup"}, headers=auth
    )
    _error(again, status=400, code=1201, names="external_task_id")
    _error(
        client.get("/v1/videos/image2video/nope", headers=auth), status=404, code=1203, names="nope"
    )
    wrong = client.delete("/v1/videos/image2video", headers=auth)
    _error(wrong, status=404, code=1202, names="DELETE")


def test_limits_answer_1302_and_1303(make_client: Callable[..., TestClient]) -> None:
    client = make_client(rate_limit="3/minute", max_unfinished_tasks=1)
    headers = bearer(KEY_A)
    _ok(client.post("/v1/videos/image2video", json=I2V, headers=headers))
    busy = client.post("/v1/videos/image2video", json=I2V, headers=headers)
    _error(busy, status=429, code=1303, names="tasks")
    client.get("/v1/videos/image2video", headers=headers)
    fast = client.get("/v1/videos/image2video", headers=headers)
    _error(fast, status=429, code=1302, names="")
    assert fast.headers["Retry-After"]
    big = make_client(max_body_bytes=1000).post("/v1/videos/image2video", json=I2V, headers=headers)
    _error(big, status=400, code=1200, names="body")


def test_the_video_in_task_result_has_the_contract_geometry(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(workers=1)
    headers = bearer(KEY_A)
    body = {**I2V, "image": b64(make_image(640, 360)), "duration": "5"}
    task_id = _ok(client.post("/v1/videos/image2video", json=body, headers=headers))["task_id"]
    deadline = time.monotonic() + 60
    while (data := _ok(client.get(f"/v1/videos/image2video/{task_id}", headers=headers)))[
        "task_status"
    ] != "succeed":
        assert time.monotonic() < deadline and data["task_status"] != "failed", data
        time.sleep(0.1)
    (video,) = data["task_result"]["videos"]
    assert set(video) == {"id", "url", "duration"} and video["duration"] == "5.0"
    path = tmp_path / "kling.mp4"
    path.write_bytes(client.get(video["url"]).content)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.fps) == (1280, 720, 150, 30)
