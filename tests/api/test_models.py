"""GET /v1/models: the catalog, generated from the contract's parameter table."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import KEY_A, bearer
from tests.helpers import kirin_error


def test_models_lists_both_with_defaults(client: TestClient) -> None:
    models = client.get("/v1/models", headers=bearer(KEY_A)).json()["data"]
    by_id = {model["id"]: model for model in models}
    assert set(by_id) == {"kirin_v1_6_i2v", "kirin_v1_6_multi_i2v"}
    assert by_id["kirin_v1_6_i2v"]["parameters"]["cfg_scale"]["default"] == 0.5
    assert by_id["kirin_v1_6_multi_i2v"]["output"]["size"]["pro"]["9:16"] == "1080x1920"


def test_models_need_a_key(client: TestClient) -> None:
    kirin_error(client.get("/v1/models"), status=401, code="8002005006")
