"""The OpenAPI schema, completed with what the routes cannot declare themselves.

The create routes parse raw JSON, so their request models are added here; FastAPI's 422 answers
are the contract's 400s in each surface's error shape; every authenticated operation can also
answer 429; the list filters take only the contract's values.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from kirin_video.contract import catalog as c
from kirin_video.contract.schema import I2VRequest, MultiI2VRequest
from kirin_video.contract.statuses import PublicStatus

_REF = "#/components/schemas/{model}"

#: Query parameters that the routes check against the contract's values themselves.
_QUERY_ENUMS: dict[tuple[str, str], dict[str, list[str]]] = {
    ("/model/v1/generation", "get"): {
        "status": [s.value for s in PublicStatus],
        "model": [m.value for m in c.Model],
    },
}

_ERROR_BODY = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}}
_RATE_LIMITED = {
    "description": "Too Many Requests",
    "headers": {
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "schema": {"type": "integer"},
        }
    },
    "content": _ERROR_BODY,
}


def install_openapi(app: FastAPI) -> None:
    """Build the schema once, with the request models and the answers the routes cannot state."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, definitions = models_json_schema(
                [(I2VRequest, "validation"), (MultiI2VRequest, "validation")], ref_template=_REF
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(definitions["$defs"])
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    _describe_answers(operation)
                    _restrict_query(operation, _QUERY_ENUMS.get((path, method), {}))
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_answers(operation: dict[str, Any]) -> None:
    """The error answers as the app gives them: 400 instead of 422, and 429 behind auth."""
    responses = operation.setdefault("responses", {})
    if responses.pop("422", None) is not None:
        responses.setdefault("400", {"description": "Bad Request", "content": _ERROR_BODY})
    if operation.get("security"):
        responses.setdefault("429", _RATE_LIMITED)


def _restrict_query(operation: dict[str, Any], enums: dict[str, list[str]]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] in enums:
            parameter["schema"] = {
                "type": "string",
                "enum": [*enums[parameter["name"]], ""],
                "description": "empty or absent: no filter",
            }
