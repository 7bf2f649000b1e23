"""GET /v1/models: the catalog, generated from the contract's parameter table."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import KEY_A, bearer
from tests.helpers import kirin_error

MODEL_IDS = ("kirin_v1_6_i2v", "kirin_v1_6_multi_i2v")


def test_models_lists_both_with_defaults(client: TestClient) -> None:
    models = client.get("/v1/models", headers=bearer(KEY_A)).json()["data"]
    by_id = {model["id"]: model for model in models}
    assert set(by_id) == {"kirin_v1_6_i2v", "kirin_v1_6_multi_i2v"}
    assert by_id["kirin_v1_6_i2v"]["parameters"]["cfg_scale"]["default"] == 0.5
    assert by_id["kirin_v1_6_multi_i2v"]["output"]["size"]["pro"]["9:16"] == "1080x1920"


def test_models_state_the_image_rules_machine_readably(client: TestClient) -> None:
    models = client.get("/v1/models", headers=bearer(KEY_A)).json()["data"]
    i2v, multi = ({m["id"]: m["parameters"] for m in models}[k] for k in MODEL_IDS)
    first, tail = i2v["image"]["x-image"], i2v["image_tail"]["x-image"]
    reference = multi["image_list"]["items"]["properties"]["image"]["x-image"]
    assert first == reference
    assert first == {
        "formats": ["JPEG", "PNG"],
        "media_types": ["image/jpeg", "image/png"],
        "max_bytes": 10 * 1024 * 1024,
        "min_side": 300,
        "aspect": {"min": 0.4, "max": 2.5},
    }
    assert tail == {k: v for k, v in first.items() if k != "aspect"}  # the seed: no aspect check


def test_models_state_which_mode_a_last_frame_needs(client: TestClient) -> None:
    models = client.get("/v1/models", headers=bearer(KEY_A)).json()["data"]
    i2v = {m["id"]: m["parameters"] for m in models}["kirin_v1_6_i2v"]
    assert i2v["image_tail"]["x-modes"] == ["pro"]
    assert "x-modes" not in i2v["image"] and "x-modes" not in i2v["prompt"]


def test_models_need_a_key(client: TestClient) -> None:
    kirin_error(client.get("/v1/models"), status=401, code="8002005006")
