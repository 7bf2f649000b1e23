"""Kling's developer API as code: its routes, statuses, error codes, request translation.

Kling-style clients send the same generation parameters under Kling's names and read Kling's
envelope. Requests are translated into the Kirin body and checked by ``parse_params``, so every
rule stays written once; errors are the same errors, answered with Kling's numeric codes.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from kirin_video.contract.catalog import Model, Status
from kirin_video.contract.errors import (
    AuthenticationFailed,
    ErrorCode,
    InvalidRequest,
    KirinError,
    MethodNotAllowed,
    QueryInvalid,
    RateLimited,
)
from kirin_video.contract.params import Params, parse_params, shown


class Route(StrEnum):
    """The two Kling video routes, each answered by one Kirin model."""

    IMAGE2VIDEO = "image2video"
    MULTI_IMAGE2VIDEO = "multi-image2video"

    @property
    def model(self) -> Model:
        return Model.I2V if self is Route.IMAGE2VIDEO else Model.MULTI_I2V


class KlingCode(IntEnum):
    """Kling's business codes that this server answers with."""

    OK = 0
    AUTH_FAILED = 1000
    AUTH_MISSING = 1001
    AUTH_INVALID = 1002
    AUTH_NOT_YET_VALID = 1003
    AUTH_EXPIRED = 1004
    PARAMS_INVALID = 1200
    PARAM_ILLEGAL = 1201
    METHOD_INVALID = 1202
    NOT_FOUND = 1203
    RATE_LIMITED = 1302
    CONCURRENCY_LIMITED = 1303
    INTERNAL = 5000
    UNAVAILABLE = 5001


HTTP_STATUS: dict[KlingCode, int] = {
    KlingCode.OK: 200,
    KlingCode.AUTH_FAILED: 401,
    KlingCode.AUTH_MISSING: 401,
    KlingCode.AUTH_INVALID: 401,
    KlingCode.AUTH_NOT_YET_VALID: 401,
    KlingCode.AUTH_EXPIRED: 401,
    KlingCode.PARAMS_INVALID: 400,
    KlingCode.PARAM_ILLEGAL: 400,
    KlingCode.METHOD_INVALID: 404,
    KlingCode.NOT_FOUND: 404,
    KlingCode.RATE_LIMITED: 429,
    KlingCode.CONCURRENCY_LIMITED: 429,
    KlingCode.INTERNAL: 500,
    KlingCode.UNAVAILABLE: 503,
}

#: The Kling code that answers each Kirin code (where the error is not more specific).
FROM_KIRIN: dict[ErrorCode, KlingCode] = {
    ErrorCode.BODY_INVALID: KlingCode.PARAMS_INVALID,
    ErrorCode.REQUEST_TOO_LARGE: KlingCode.PARAMS_INVALID,
    ErrorCode.AUTH_FAILED: KlingCode.AUTH_FAILED,
    ErrorCode.TASK_NOT_FOUND: KlingCode.NOT_FOUND,
    ErrorCode.RATE_LIMITED: KlingCode.RATE_LIMITED,
    ErrorCode.GENERATION_FAILED: KlingCode.INTERNAL,
    ErrorCode.PROVIDER_UNAVAILABLE: KlingCode.UNAVAILABLE,
}  # every other request error (a field breaking a rule) is 1201

_AUTH: dict[str, KlingCode] = {
    "missing": KlingCode.AUTH_MISSING,
    "invalid": KlingCode.AUTH_INVALID,
    "not_yet_valid": KlingCode.AUTH_NOT_YET_VALID,
    "expired": KlingCode.AUTH_EXPIRED,
}

#: Kirin status → Kling ``task_status`` (Kling has no cancelled: such a task has failed).
TASK_STATUS: dict[str, str] = {
    Status.PENDING: "submitted",
    Status.PROCESSING: "processing",
    Status.COMPLETED: "succeed",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}

#: Kling parameters this server does not implement: refused rather than silently ignored.
UNSUPPORTED = ("static_mask", "dynamic_masks", "camera_control")

DEFAULT_PAGE_SIZE = 30
PAGE_SIZE_RANGE = (1, 500)
PAGE_NUM_RANGE = (1, 1000)


def kling_code(error: KirinError) -> KlingCode:
    """The Kling code for an error raised anywhere in the service."""
    if isinstance(error, AuthenticationFailed):
        return _AUTH.get(error.reason, KlingCode.AUTH_FAILED)
    if isinstance(error, RateLimited) and error.concurrent:
        return KlingCode.CONCURRENCY_LIMITED
    if isinstance(error, MethodNotAllowed):
        return KlingCode.METHOD_INVALID
    if isinstance(error, QueryInvalid):
        return KlingCode.PARAM_ILLEGAL
    return FROM_KIRIN.get(error.code, KlingCode.PARAM_ILLEGAL)


def parse_kling_request(
    route: Route, body: Any, *, model_names: list[str], default_model: str
) -> Params:
    """Check a Kling create body by the contract's rules, as the route's Kirin model."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"body: must be a JSON object; got {shown(body)}")
    name = body.get("model_name") or default_model  # the retired `model` field means the default
    if name not in model_names:
        raise InvalidRequest(
            f"model_name: must be one of {', '.join(model_names)} on /v1/videos/{route}; "
            f"got {shown(name)}",
            code=ErrorCode.UNKNOWN_MODEL,
        )
    for field in UNSUPPORTED:
        if body.get(field) not in (None, "", [], {}):
            raise InvalidRequest(
                f"{field}: is not supported by this server; leave it out "
                f"(got {shown(body[field])})",
                code=ErrorCode.NOT_SUPPORTED_IN_MODE,
            )
    kirin = {k: v for k, v in body.items() if k not in ("model", "model_name", *UNSUPPORTED)}
    return parse_params({**kirin, "model": route.model.value})
