"""Refusals are in the API's words: never json's, PyJWT's, Starlette's or pydantic's, nor reprs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import GENERATION, kirin_error

IMAGE = b64(make_image(480, 320))
#: Words of the libraries under the API, and Python's own spellings of values.
FOREIGN = (
    "Expecting",
    "char ",
    "Input should",
    "NoneType",
    "<Mode.",
    "Not Found",
    "Too many",
    "Maximum number",
    "True",
    "None",
)


def _clean(message: str) -> str:
    assert not [words for words in FOREIGN if words in message], message
    return message


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        (GENERATION, b'{"model": ', "body: must be a JSON object; got invalid JSON at line 1"),
        (GENERATION, b'{"a": "\xff"}', "body: must be a JSON object in UTF-8; got a byte"),
        (
            GENERATION,
            b'{"model": "kirin_v1_6_i2v", "image": "%s", "watermark_info": true}' % IMAGE.encode(),
            'watermark_info: must be an object {"enabled": true|false}; got true',
        ),
        (
            GENERATION,
            b'{"model": "kirin_v1_6_i2v", "image": "%s", "mode": null, "seed": [1, null]}'
            % IMAGE.encode(),
            "seed: must be an integer 0-4294967295; got [1, null]",
        ),
    ],
    ids=["bad JSON", "not UTF-8", "a bool for an object", "an array for a seed"],
)
def test_body_refusals_are_ours(client: TestClient, path: str, body: bytes, says: str) -> None:
    headers = {**bearer(KEY_A), "Content-Type": "application/json"}
    response = client.post(path, content=body, headers=headers)
    assert _clean(kirin_error(response, status=400, code="8002005014")).startswith(says)


def test_kling_null_body_is_null_not_a_type_name(client: TestClient) -> None:
    headers = {**bearer(KEY_A), "Content-Type": "application/json"}
    response = client.post("/v1/videos/image2video", content=b"null", headers=headers)
    assert response.status_code == 400
    assert _clean(response.json()["message"]) == "body: must be a JSON object; got null"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (f"{GENERATION}?limit=abc", "limit: must be an integer; got 'abc'"),
        (f"{GENERATION}?limit=0", "limit: must be at least 1; got '0'"),
        (f"{GENERATION}?limit=101", "limit: must be at most 100; got '101'"),
        ("/v1/videos?order=sideways", "order: must be 'asc' or 'desc'; got 'sideways'"),
        ("/v1/videos/image2video?pageNum=x", "pageNum: must be an integer; got 'x'"),
    ],
)
def test_query_refusals_are_ours(client: TestClient, path: str, says: str) -> None:
    response = client.get(path, headers=bearer(KEY_A))
    assert response.status_code == 400, response.text
    body = response.json()
    message = body["error"]["message"] if "error" in body else body["message"]
    assert _clean(message) == says


def test_a_form_the_parser_refuses_says_which_rule(client: TestClient) -> None:
    fields = {f"f{index}": "x" for index in range(101)}
    response = client.post(
        "/v1/videos", data=fields, files={"a": ("a", b"a")}, headers=bearer(KEY_A)
    )
    assert response.status_code == 400, response.text
    message = _clean(response.json()["error"]["message"])
    assert message == "body: a form may hold at most 100 fields; got more"


def test_no_such_route_names_what_was_asked(client: TestClient) -> None:
    response = client.get("/model/v1/nothing-here", headers=bearer(KEY_A))
    message = _clean(kirin_error(response, status=404, code="8002005013"))
    assert message == "path: no such route; got GET '/model/v1/nothing-here'"
