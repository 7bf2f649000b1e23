"""Error answers become the SDK's typed exceptions, whatever shape the body takes."""

from __future__ import annotations

import email.utils
import re
import time

import httpx
import pytest

import kirin_video.client as sdk
from kirin_video.client import (
    APIError,
    AuthenticationError,
    Conflict,
    ErrorCode,
    ExternalIdTaken,
    InvalidRequest,
    KirinError,
    NotFound,
    NotSupported,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    ServerError,
    ServiceUnavailable,
    TaskAlreadyFinished,
    TaskNotFound,
    TransportError,
    _exceptions,
)
from tests.client.conftest import CREATE_ROUTE, TASK_ID, TASK_ROUTE, Replay, error_body

CANCEL_ROUTE = f"POST /model/v1/generation/task/{TASK_ID}/cancel"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, ErrorCode.PROMPT_INVALID, InvalidRequest),
        (400, ErrorCode.BODY_INVALID, InvalidRequest),
        (401, ErrorCode.AUTH_FAILED, AuthenticationError),
        (403, "40201", PermissionDenied),
        (409, ErrorCode.EXTERNAL_ID_TAKEN, ExternalIdTaken),
        (413, ErrorCode.REQUEST_TOO_LARGE, RequestTooLarge),
        (429, ErrorCode.RATE_LIMITED, RateLimited),
        (500, ErrorCode.GENERATION_FAILED, ServerError),
        (502, None, ServerError),
        (503, ErrorCode.PROVIDER_UNAVAILABLE, ServiceUnavailable),
    ],
)
def test_each_error_status_of_a_create_raises_its_class(
    replay: Replay, status: int, code: str | None, kind: type[APIError]
) -> None:
    body = error_body(code, f"rule broken ({status})") if code else {"message": "bad gateway"}
    replay.on(CREATE_ROUTE, httpx.Response(status, json=body, headers={"X-Request-Id": "req-9"}))
    with pytest.raises(kind) as caught:
        replay.client().create("kirin_v1_6_i2v", image="https://img.example/a.png")
    error = caught.value
    assert type(error) is kind and isinstance(error, APIError | KirinError)
    assert (error.status_code, error.code, error.request_id) == (status, code, "req-9")
    assert error.message == body["message"]


def test_an_unknown_task_is_task_not_found_with_or_without_a_code(replay: Replay) -> None:
    replay.on(TASK_ROUTE, httpx.Response(404, json=error_body("8002005013", "task: not found")))
    replay.on("GET /model/v1/generation/task/other", httpx.Response(404, text="not here"))
    with pytest.raises(TaskNotFound) as caught:
        replay.client().get(TASK_ID)
    assert caught.value.code == ErrorCode.TASK_NOT_FOUND and isinstance(caught.value, NotFound)
    with pytest.raises(TaskNotFound, match="HTTP 404: not here"):
        replay.client().get("other")


def test_both_conflicts_of_cancel_are_conflicts(replay: Replay) -> None:
    finished = error_body("8002005018", "task d5u5: already completed")
    replay.on(CANCEL_ROUTE, httpx.Response(409, json=finished))
    with pytest.raises(TaskAlreadyFinished) as caught:
        replay.client().cancel(TASK_ID)
    assert isinstance(caught.value, Conflict) and "already completed" in str(caught.value)


def test_a_429_carries_retry_after_in_seconds_or_as_a_date(replay: Replay) -> None:
    limited = error_body("8002005015", "rate limited: 10 per minute")
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    replay.on(
        TASK_ROUTE,
        httpx.Response(429, json=limited, headers={"Retry-After": "7"}),
        httpx.Response(429, json=limited, headers={"Retry-After": soon}),
        httpx.Response(429, json=limited),
    )
    client = replay.client()
    waits = []
    for _ in range(3):
        with pytest.raises(RateLimited) as caught:
            client.get(TASK_ID)
        waits.append(caught.value.retry_after)
    assert waits[0] == 7.0 and waits[1] is not None and 25 < waits[1] <= 30
    assert waits[2] is None


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"message": "Insufficient credits", "error": "balance"}, None, "balance"),
        ({"error": "rate limited"}, None, "rate limited"),
        ({"error": {"code": 1002, "message": "rate limited"}}, "1002", "rate limited"),
        ({"error": {"error_message": "provider refused"}}, None, "provider refused"),
        (
            {"status": {"code": 402, "message": "Insufficient credits", "error_code": 40201}},
            "40201",
            "Insufficient credits",
        ),
        ({"detail": "Not Found"}, None, "Not Found"),
    ],
)
def test_every_error_body_shape_gives_its_code_and_text(
    replay: Replay, body: dict[str, object], code: str | None, message: str
) -> None:
    replay.on(CREATE_ROUTE, httpx.Response(400, json=body))
    with pytest.raises(InvalidRequest) as caught:
        replay.client().create("kirin_v1_6_i2v", image="https://img.example/a.png")
    assert (caught.value.code, caught.value.message) == (code, message)


def test_a_body_that_is_not_json_is_quoted_in_the_message(replay: Replay) -> None:
    replay.on(CREATE_ROUTE, httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ServerError, match="HTTP 502: <html>bad gateway</html>"):
        replay.client().create("kirin_v1_6_i2v", image="https://img.example/a.png")


def test_a_200_that_is_not_json_is_a_server_error(replay: Replay) -> None:
    replay.on(TASK_ROUTE, httpx.Response(200, text="maintenance"))
    with pytest.raises(ServerError, match="not JSON: 'maintenance'"):
        replay.client().get(TASK_ID)


def test_a_refusal_answered_200_with_an_error_and_no_id_raises(replay: Replay) -> None:
    replay.on(CREATE_ROUTE, {"error": {"code": 110001, "error_message": "image is sensitive"}})
    with pytest.raises(APIError) as caught:
        replay.client().create("kirin_v1_6_i2v", image="https://img.example/a.png")
    assert (caught.value.code, caught.value.message) == ("110001", "image is sensitive")


def test_no_answer_is_a_transport_error_without_a_contract_code(replay: Replay) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    replay.on(TASK_ROUTE, refuse)
    with pytest.raises(TransportError) as caught:
        replay.client().get(TASK_ID)
    assert caught.value.code is None
    assert "https://cloud.vtrix.ai/model/v1/generation/task/" in caught.value.message
    assert "connection refused" in caught.value.message


def test_the_hosted_service_that_lists_no_tasks_says_so(replay: Replay) -> None:
    with pytest.raises(NotSupported, match="this server does not list tasks") as caught:
        replay.client().list()
    assert caught.value.status_code == 404 and isinstance(caught.value, NotFound)
    with pytest.raises(NotSupported, match="does not describe its models"):
        replay.client().models()


def test_the_module_docstring_draws_every_exception_class_under_its_parent() -> None:
    tree = _exceptions.__doc__ or ""
    defined = {
        value
        for value in vars(_exceptions).values()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == _exceptions.__name__
    }
    assert defined == {getattr(sdk, name) for name in sdk.__all__} & defined
    for kind in defined:
        drawn = re.search(rf"(^|─ ){kind.__name__} ", tree, re.MULTILINE)
        assert drawn is not None, kind.__name__
        parent = kind.__mro__[1].__name__
        assert kind is KirinError or tree.index(parent) < drawn.start(), kind.__name__
