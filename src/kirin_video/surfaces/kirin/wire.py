"""The hosted create envelope and list filters, turned into the contract's neutral inputs."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.parameters import PARAMETERS
from kirin_video.contract.params import ALIASES, Params, parse_params, shown
from kirin_video.contract.statuses import PublicStatus

log = logging.getLogger(__name__)

#: The envelope's own keys; any other beside them is an ignored parameter.
_ENVELOPE = ("model", "input")
_INPUT_RULE = 'must be an array of exactly one object {"params": {...}}'


def parse_create(body: Any) -> Params:
    """``{"model", "input": [{"params": {…}}]}`` as the official client sends it, or a flat body.

    Names the model does not have are kept as ``ignored_params`` (hosted clients may send
    extras, so they are not refused; a misspelt one must not pass unnoticed).
    """
    extras: list[str] = []
    if isinstance(body, dict) and "input" in body:
        extras = [name for name in body if name not in _ENVELOPE]
        body = {**_params_of(body["input"]), "model": body.get("model")}
    params = parse_params(body)
    known = {*ALIASES, *(parameter.name for parameter in PARAMETERS[params.model])}
    ignored = tuple(sorted({*extras, *(name for name in body if name not in known)} - {"model"}))
    if ignored:
        # repr: a name is the client's text, and its control characters must not start a line
        log.info("create: ignored parameters the model does not have: %r", list(ignored))
    return replace(params, ignored_params=ignored)


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
