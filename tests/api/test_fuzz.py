"""Hostile input through every documented operation: no 5xx, every error in the contract's shape.

Schemathesis generates requests from the app's own OpenAPI schema, ones that follow it and ones
that break it, and sends them in-process over ASGI. ``KIRIN_FUZZ_EXAMPLES`` sets the examples per
operation (``make fuzz`` runs many); generation is derandomized, so every run sends the same ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.types import Receive, Scope, Send

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.contract.errors import ErrorCode
from kirin_video.surfaces.kling.wire import HTTP_STATUS, KlingCode, Route

KEY = "test-key-a"
EXAMPLES = int(os.environ.get("KIRIN_FUZZ_EXAMPLES", "50"))
CODES = {code.value for code in ErrorCode}
KLING_CODES = {code.value for code in KlingCode}
SPEC_PREFIX = "/api/v1/skill/models"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: Schemathesis leaves ``Authorization`` to the test (``with-security-parameters`` off): mostly
#: the key, so that the checks behind auth are reached; else none, or a hostile token, for the 401s.
#: Each example gets a dict of its own: schemathesis adds its headers to the one it is given.
_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
_HOSTILE = st.one_of(_TEXT.map(_bearer), _TEXT.map(lambda value: {"Authorization": value.strip()}))
AUTH: st.SearchStrategy[dict[str, str]] = st.integers(min_value=0, max_value=7).flatmap(
    lambda n: (
        st.builds(dict) if n == 7 else _HOSTILE if n == 6 else st.builds(_bearer, st.just(KEY))
    )
)


class _LifespanOwned:
    """The app as schemathesis reaches it: requests pass through, the lifespan is the module's.

    Schemathesis would start and stop the app's lifespan by itself; the module's ``TestClient``
    runs it once instead, as in every other API test.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"] == "lifespan.shutdown":
                return


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenApiSchema]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "data",
        api_keys=[KEY],
        workers=0,
        # Generous, so the answers depend on the input alone, never on how fast the fuzzer is.
        rate_limit="1000000/second",
    )
    app = create_app(settings)
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    with TestClient(app):
        yield schemathesis.openapi.from_asgi("/openapi.json", _LifespanOwned(app), config=config)


def contract_error_shape(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx is in the envelope of the surface whose route matched.

    Kirin: ``{"error": {"code": <a contract code>, "message": <text>}, "message": <the same>}``;
    Kling routes: ``{"code": <Kling code>, "message", "request_id"}``; OpenAI's Videos routes:
    ``{"error": {"message", "type", "param", "code"}}``; the model-spec service:
    ``{"data": null, "status": {"code": <the HTTP status>, "message": <text>}}``.
    """
    if not 400 <= response.status_code < 500:
        return None
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if _openai_route(case):
        error = body.get("error") if isinstance(body, dict) else None
        assert (
            isinstance(error, dict)
            and set(body) == {"error"}
            and set(error) == {"message", "type", "param", "code"}
            and isinstance(error["message"], str)
            and error["message"]
            and isinstance(error["code"], str)
        ), f"{response.status_code} is not in OpenAI's error shape: {body!r}"
        return True
    if _kling_route(case):
        assert (
            isinstance(body, dict)
            and set(body) == {"code", "message", "request_id"}
            and body["code"] in KLING_CODES
            and HTTP_STATUS[KlingCode(body["code"])] == response.status_code
            and isinstance(body["message"], str)
            and body["message"]
        ), f"{response.status_code} is not in Kling's error shape: {body!r}"
        return True
    if case.path.startswith(SPEC_PREFIX):
        status = body.get("status") if isinstance(body, dict) else None
        assert (
            isinstance(status, dict)
            and body == {"data": None, "status": status}
            and set(status) == {"code", "message"}
            and status["code"] == response.status_code
            and isinstance(status["message"], str)
            and status["message"]
        ), f"{response.status_code} is not in the model-spec service's shape: {body!r}"
        return True
    error = body.get("error") if isinstance(body, dict) else None
    assert (
        isinstance(error, dict)
        and set(body) == {"error", "message"}
        and set(error) == {"code", "message"}
        and error["code"] in CODES
        and isinstance(error["message"], str)
        and error["message"]
        and body["message"] == error["message"]
    ), f"{response.status_code} is not in the contract's error shape: {body!r}"
    return True


def _kling_route(case: Case) -> bool:
    """A Kling route, or an OpenAI video path whose ``video_id`` is a Kling route's name (the
    two share ``/v1/videos``: such a path reaches the Kling route, by design)."""
    names = {route.value for route in Route}
    routes = tuple(f"/v1/videos/{name}" for name in names)
    return case.path.startswith(routes) or case.path_parameters.get("video_id") in names


def _openai_route(case: Case) -> bool:
    """The /v1/videos routes of OpenAI's Videos API."""
    return case.path.startswith("/v1/videos") and not _kling_route(case)


def _inapplicable_checks(case: Case) -> list[Any]:
    """Checks that a schema-valid request cannot pass here, for reasons no schema can state.

    ``positive_data_acceptance`` wants a 2xx for every schema-valid request, but creating a task
    (on any surface) needs images that decode to a JPEG or PNG of at least 300 px, and a
    ``cursor`` (or OpenAI's ``after``, a video's id) is what only a previous page hands out;
    both are refused with a 400 otherwise. A video path whose ``video_id`` names a Kling route
    is that route, and answers in its shapes, not the video operation's.
    """
    creates = case.operation.method.upper() == "POST" and not case.path.endswith("/cancel")
    unreachable = creates or bool({"cursor", "after"} & set(case.query or {}))
    skipped = [schemathesis.checks.positive_data_acceptance] if unreachable else []
    if case.path.startswith("/v1/videos/{") and _kling_route(case):  # the Kling route answers
        skipped += [schemathesis.checks.response_schema_conformance]
    return skipped


def _cases(operation: APIOperation) -> st.SearchStrategy[Case]:
    """Requests that follow the schema, and ones that break it where the operation takes input."""
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    takes_input = operation.body or any(
        len(group) for group in (operation.path_parameters, operation.query, operation.headers)
    )
    if not takes_input:
        return positive
    return st.one_of(positive, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))


def test_no_input_breaks_the_api_or_the_error_shape(api_schema: OpenApiSchema) -> None:
    failures: list[Exception] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=_cases(operation), auth=AUTH)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def fuzz(case: Case, auth: dict[str, str]) -> None:
            case.call_and_validate(
                headers=auth,
                additional_checks=[contract_error_shape],
                excluded_checks=_inapplicable_checks(case),
            )

        try:
            fuzz()
        except Exception as exc:  # every operation gets its turn; all failures are reported
            exc.add_note(f"operation: {operation.label}")
            failures.append(exc)
    if failures:
        raise ExceptionGroup(f"{len(failures)} operation(s) failed the fuzzing", failures)
