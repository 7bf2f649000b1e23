"""The contract's validation table, case by case, through HTTP; no rejected request leaves a row."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image
from tests.helpers import GENERATION, kirin_error, task_rows

I2V = "kirin_v1_6_i2v"
MULTI = "kirin_v1_6_multi_i2v"
PNG = b64(make_image())
SMALL = b64(make_image(200, 400))
WIDE = b64(make_image(900, 300))
GIF = b64(make_image(fmt="GIF"))
JPEG = b64(make_image(fmt="JPEG"))


def i2v(**fields: Any) -> dict[str, Any]:
    return {"model": I2V, "image": PNG, **fields}


def multi(**fields: Any) -> dict[str, Any]:
    return {"model": MULTI, "image_list": [{"image": PNG}], "prompt": "a cat", **fields}


REJECTED = [
    ("model missing", {"image": PNG}, "8002005011", "model"),
    ("model unknown", i2v(model="kirin_v9"), "8002005011", "kirin_v9"),
    ("model not a string", i2v(model=["kirin_v1_6_i2v"]), "8002005011", "model"),
    ("image_list missing", {"model": MULTI, "prompt": "x"}, "8002005001", "image_list"),
    ("image_list empty", multi(image_list=[]), "8002005001", "image_list"),
    ("image_list item without image", multi(image_list=[{}]), "8002005001", "image_list[0]"),
    ("image_list item empty", multi(image_list=[{"image": ""}]), "8002005001", "image_list[0]"),
    ("image_list of five", multi(image_list=[{"image": PNG}] * 5), "8002005009", "got 5"),
    ("i2v without images", {"model": I2V}, "8002005001", "image"),
    ("i2v with empty images", i2v(image="", image_tail=""), "8002005001", "image"),
    ("image_tail in std", i2v(image_tail=PNG), "8002005017", "image_tail"),
    ("image_tail only in std", {"model": I2V, "image_tail": PNG}, "8002005017", "'std'"),
    ("image not base64", i2v(image="!!not base64!!"), "8002005002", "image"),
    ("image with data prefix", i2v(image="data:image/png;base64," + PNG), "8002005002", "data:"),
    ("image is a GIF", i2v(image=GIF), "8002005002", "image"),
    ("image too small", i2v(image=SMALL), "8002005002", "200"),
    ("image too wide", i2v(image=WIDE), "8002005002", "image"),
    (
        "reference too wide",
        multi(image_list=[{"image": PNG}, {"image": WIDE}]),
        "8002005002",
        "image_list[1].image",
    ),
    ("image URL on loopback", i2v(image="http://127.0.0.1:9/a.png"), "8002005002", "127.0.0.1"),
    ("image URL unparseable", i2v(image="http://[::1/a.png"), "8002005002", "http://[::1"),
    ("multi prompt missing", multi(prompt=None), "8002005003", "prompt"),
    ("multi prompt empty", multi(prompt=""), "8002005003", "0 characters"),
    ("prompt too long", multi(prompt="x" * 2501), "8002005003", "2501"),
    ("i2v prompt empty", i2v(prompt=""), "8002005003", "prompt"),
    ("negative prompt too long", i2v(negative_prompt="x" * 2501), "8002005003", "negative_prompt"),
    ("duration 7", i2v(duration="7"), "8002005004", "'7'"),
    ("duration integer 7", multi(duration=7), "8002005004", "7"),
    ("aspect ratio 4:3", multi(aspect_ratio="4:3"), "8002005005", "4:3"),
    ("mode ultra", i2v(mode="ultra"), "8002005007", "ultra"),
    ("cfg_scale above 1", i2v(cfg_scale=1.5), "8002005008", "1.5"),
    ("cfg_scale below 0", i2v(cfg_scale=-0.1), "8002005008", "-0.1"),
    ("cfg_scale as string", i2v(cfg_scale="0.5"), "8002005014", "cfg_scale"),
    ("watermark_info not object", i2v(watermark_info=True), "8002005014", "watermark_info"),
    (
        "watermark_info enabled not bool",
        i2v(watermark_info={"enabled": "yes"}),
        "8002005014",
        "watermark_info",
    ),
    ("seed negative", i2v(seed=-1), "8002005014", "seed"),
    ("seed too big", i2v(seed=2**32), "8002005014", "4294967296"),
    ("seed not integer", i2v(seed=1.5), "8002005014", "seed"),
    ("callback_url ftp", i2v(callback_url="ftp://example.com/x"), "8002005012", "ftp://"),
    ("callback_url relative", i2v(callback_url="/hook"), "8002005012", "callback_url"),
    ("callback_url unparseable", i2v(callback_url="http://[::1/hook"), "8002005012", "[::1"),
    ("callback_url port too big", i2v(callback_url="http://a.test:99999/"), "8002005012", "99999"),
    ("callback_url not string", i2v(callback_url=5), "8002005014", "callback_url"),
    ("callback alias relative", i2v(callback="hook"), "8002005012", "callback:"),
    ("external_task_id empty", i2v(external_task_id=""), "8002005010", "external_task_id"),
    ("external_task_id too long", i2v(external_task_id="x" * 129), "8002005010", "129"),
    ("prompt of wrong type", multi(prompt=42), "8002005014", "prompt"),
    ("image_list not array", multi(image_list=PNG), "8002005014", "image_list"),
    ("body is an array", [i2v()], "8002005014", "body"),
]


def _count_tasks(client: TestClient) -> int:
    """Tasks the caller can list, checked against the rows the database holds."""
    listed = len(client.get(f"{GENERATION}?limit=100", headers=bearer(KEY_A)).json()["data"])
    assert task_rows(client) == listed
    return listed


@pytest.mark.parametrize(
    ("case", "body", "code", "fragment"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_rule_rejects_with_its_code(
    client: TestClient, case: str, body: Any, code: str, fragment: str
) -> None:
    response = client.post(GENERATION, json=body, headers=bearer(KEY_A))
    message = kirin_error(response, status=400, code=code)
    assert fragment in message
    assert ": " in message and "got" in message
    assert _count_tasks(client) == 0


ACCEPTED = [
    ("i2v image only", i2v()),
    ("i2v jpeg", i2v(image=JPEG)),
    ("i2v first and last in pro", i2v(mode="pro", image_tail=PNG)),
    ("i2v tail only in pro", {"model": I2V, "mode": "pro", "image_tail": PNG}),
    ("tail aspect is not checked", i2v(mode="pro", image_tail=WIDE)),
    ("duration as integer", i2v(duration=10)),
    ("multi four references", multi(image_list=[{"image": PNG}] * 4, aspect_ratio="9:16")),
    (
        "every optional field",
        multi(
            negative_prompt="blur",
            mode="pro",
            duration="10",
            watermark_info={"enabled": True},
            seed=4294967295,
            callback_url="https://example.com/hook",
            external_task_id="x" * 128,
            unknown_field=1,
        ),
    ),
    ("nulls are absent", i2v(prompt=None, seed=None, watermark_info=None)),
    ("callback as alias of callback_url", i2v(callback="https://example.com/hook")),
    ("cfg_scale bounds", i2v(cfg_scale=0)),
]


@pytest.mark.parametrize(("case", "body"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_valid_request_creates_a_task_in_progress(client: TestClient, case: str, body: Any) -> None:
    response = client.post(GENERATION, json=body, headers=bearer(KEY_A))
    assert response.status_code == 200, response.json()
    task = response.json()
    assert task["status"] == "in_progress" and task["id"].startswith("task_")
    assert task["model"] == body["model"]
    assert _count_tasks(client) == 1


def test_body_that_is_not_json_is_refused(client: TestClient) -> None:
    response = client.post(GENERATION, content=b"{not json", headers=bearer(KEY_A))
    assert kirin_error(response, status=400, code="8002005014").startswith("body: ")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b"[" * 100_000, "nested too deeply"), (b'{"seed": ' + b"9" * 5000 + b"}", "too many digits")],
    ids=["nested too deeply", "number of 5000 digits"],
)
def test_body_that_json_cannot_read_is_refused(
    client: TestClient, body: bytes, fragment: str
) -> None:
    response = client.post(GENERATION, content=body, headers=bearer(KEY_A))
    assert fragment in kirin_error(response, status=400, code="8002005014")


def test_body_over_the_limit_is_413(make_client: Any) -> None:
    client = make_client(max_body_bytes=1000)
    response = client.post(GENERATION, json=i2v(), headers=bearer(KEY_A))
    assert "1000" in kirin_error(response, status=413, code="8002005016")


def test_image_over_ten_megabytes_is_refused(client: TestClient) -> None:
    from io import BytesIO

    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 255, (1900, 1900, 3), dtype=np.uint8)
    buffer = BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG", compress_level=0)
    assert buffer.tell() > 10 * 1024 * 1024
    response = client.post(
        GENERATION, json=i2v(image=b64(buffer.getvalue())), headers=bearer(KEY_A)
    )
    assert "10485760" in kirin_error(response, status=400, code="8002005002")


def test_repeated_external_task_id_is_409(client: TestClient) -> None:
    first = client.post(GENERATION, json=i2v(external_task_id="order-1"), headers=bearer(KEY_A))
    again = client.post(GENERATION, json=i2v(external_task_id="order-1"), headers=bearer(KEY_A))
    assert first.status_code == 200
    assert "order-1" in kirin_error(again, status=409, code="8002005010")
    assert _count_tasks(client) == 1


def test_external_task_id_is_unique_per_key_not_globally(client: TestClient) -> None:
    for key in (KEY_A, KEY_B):
        response = client.post(GENERATION, json=i2v(external_task_id="shared"), headers=bearer(key))
        assert response.status_code == 200, response.text
    assert task_rows(client) == 2
