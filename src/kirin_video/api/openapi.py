"""The OpenAPI schema, completed with the create request's shapes (the route parses raw JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from kirin_video.contract.schema import I2VRequest, MultiI2VRequest

_REF = "#/components/schemas/{model}"

CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": _REF.format(model=m.__name__)}
                        for m in (I2VRequest, MultiI2VRequest)
                    ],
                    "discriminator": {"propertyName": "model"},
                }
            }
        },
    }
}


def install_openapi(app: FastAPI) -> None:
    """Build the schema once, adding the request models the create route refers to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, definitions = models_json_schema(
                [(I2VRequest, "validation"), (MultiI2VRequest, "validation")], ref_template=_REF
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                definitions["$defs"]
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
