"""The hosted create envelope and list filters, turned into the contract's neutral inputs."""

from __future__ import annotations

from typing import Any

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import Params, parse_params, shown
from kirin_video.contract.statuses import PublicStatus

_INPUT_RULE = 'must be an array of exactly one object {"params": {...}}'


def parse_create(body: Any) -> Params:
    """``{"model", "input": [{"params": {…}}]}`` as the official client sends it, or a flat body."""
    if isinstance(body, dict) and "input" in body:
        body = {**_params_of(body["input"]), "model": body.get("model")}
    return parse_params(body)


def _params_of(value: Any) -> dict[str, Any]:
    if not isinstance(value, list) or len(value) != 1:
        count = f"an array of {len(value)} items" if isinstance(value, list) else shown(value)
        raise InvalidRequest(f"input: {_INPUT_RULE}; got {count}")
    item = value[0]
    params = item.get("params") if isinstance(item, dict) else None
    if not isinstance(params, dict):
        sent = shown(params) if isinstance(item, dict) else shown(item)
        where = "input[0].params" if isinstance(item, dict) else "input[0]"
        raise InvalidRequest(f"{where}: {_INPUT_RULE}; got {sent}")
    return {key: v for key, v in params.items() if key != "model"}


def status_filter(value: str | None) -> PublicStatus | None:
    """A list's ``status`` filter: one of the three words the surface speaks, or none."""
    if not value:
        return None
    allowed = [s.value for s in PublicStatus]
    if value not in allowed:
        raise InvalidRequest(f"status: must be one of {', '.join(allowed)}; got {shown(value)}")
    return PublicStatus(value)


def model_filter(value: str | None) -> c.Model | None:
    if not value:
        return None
    if value not in {m.value for m in c.Model}:
        allowed = ", ".join(m.value for m in c.Model)
        raise InvalidRequest(
            f"model: must be one of {allowed}; got {shown(value)}", code=ErrorCode.UNKNOWN_MODEL
        )
    return c.Model(value)
