"""Settings come from KIRIN_* variables, with the contract's defaults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kirin_video.config import Settings


def test_defaults_need_nothing_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KIRIN_DATA_DIR", "KIRIN_API_KEYS", "KIRIN_ENGINE", "KIRIN_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.engine == "auto" and settings.allow_private_urls is False
    assert (
        settings.sqlalchemy_url.startswith("sqlite:///") and "kirin-data" in settings.sqlalchemy_url
    )
    assert settings.max_body_bytes == 64 * 1024 * 1024


def test_api_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_API_KEYS", " a, b ,,c")
    assert Settings().api_keys == ["a", "b", "c"]


def test_price_table_from_json_most_specific_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "KIRIN_PRICES", '{"kirin_v1_6_i2v:pro:10": "1.5", "*:pro:10": "1.0", "*:std:5": "0.1"}'
    )
    settings = Settings()
    assert settings.price(model="kirin_v1_6_i2v", mode="pro", duration=10) == Decimal("1.5")
    assert settings.price(model="kirin_v1_6_multi_i2v", mode="pro", duration=10) == Decimal("1.0")
    assert settings.price(model="kirin_v1_6_i2v", mode="std", duration=10) == Decimal("0")


def test_unknown_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_ENGINE", "magic")
    with pytest.raises(ValueError, match="engine"):
        Settings()
