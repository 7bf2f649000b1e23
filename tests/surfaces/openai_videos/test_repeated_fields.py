"""A plain form field sent again is a list where a list is taken: LiteLLM writes ``extra_body``'s
lists that way (``input_references`` twice), the ordinary form encoding, as the SDK writes
``name[]``; a field that holds one value must still be sent once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, b64, bearer
from tests.helpers import stored_task
from tests.surfaces.openai_videos.conftest import PNG, VIDEOS, created, openai_error

MULTI = "kirin_v1_6_multi_i2v"
DATA_URL = "data:image/png;base64," + b64(PNG)


@pytest.mark.parametrize("name", ["input_references", "image_list"])
def test_a_repeated_list_field_in_a_multipart_form_is_a_list(client: TestClient, name: str) -> None:
    """The first picture as a file part, the others repeated under one plain name."""
    data = {"model": MULTI, "prompt": "two friends", name: [DATA_URL, b64(PNG)]}
    files = {"input_reference": ("frame.png", PNG, "image/png")}
    request = client.build_request("POST", VIDEOS, data=data, files=files, headers=bearer(KEY_A))
    body = request.read()
    assert body.count(f'name="{name}"'.encode()) == 2  # repeated, no brackets: as LiteLLM sends
    video = created(client.send(request))
    assert stored_task(client, video["id"])["images"] == [("reference", PNG)] * 3


def test_a_repeated_list_field_in_an_urlencoded_form_is_a_list(client: TestClient) -> None:
    data = {"model": MULTI, "prompt": "p", "input_references": [DATA_URL, DATA_URL]}
    video = created(client.post(VIDEOS, data=data, headers=bearer(KEY_A)))
    assert stored_task(client, video["id"])["images"] == [("reference", PNG)] * 2


def test_a_lone_list_field_is_a_list_of_one(client: TestClient) -> None:
    data = {"model": MULTI, "prompt": "p", "input_references": DATA_URL}
    video = created(client.post(VIDEOS, data=data, headers=bearer(KEY_A)))
    assert stored_task(client, video["id"])["images"] == [("reference", PNG)]


@pytest.mark.parametrize("name", ["prompt", "seed", "size"])
def test_a_repeated_field_of_one_value_must_be_sent_once(client: TestClient, name: str) -> None:
    values = {"prompt": ["a", "b"], "seed": ["1", "2"], "size": ["1280x720", "720x1280"]}
    data = {"input_reference": DATA_URL, "prompt": "p", name: values[name]}
    response = client.post(VIDEOS, data=data, headers=bearer(KEY_A))
    message = openai_error(
        response, status=400, kind="invalid_request_error", code="body_invalid", param=name
    )
    assert message == f"{name}: must be sent once; got it twice or more"
