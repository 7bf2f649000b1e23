"""The create body's schema: the route reads raw JSON, so its shapes are declared here."""

from __future__ import annotations

from typing import Any

from kirin_video.contract.catalog import Model
from kirin_video.contract.schema import I2VRequest, MultiI2VRequest

_REF = "#/components/schemas/{model}"
_PARAMS = [{"$ref": _REF.format(model=m.__name__)} for m in (I2VRequest, MultiI2VRequest)]

ENVELOPE: dict[str, Any] = {
    "type": "object",
    "title": "GenerationEnvelope",
    "description": "The hosted form: the model's parameters in input[0].params.",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string", "enum": [m.value for m in Model]},
        "input": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["params"],
                "properties": {"params": {"oneOf": _PARAMS}},
            },
        },
    },
}

CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [ENVELOPE, *_PARAMS]}}},
    }
}
