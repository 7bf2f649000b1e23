"""The /v1/videos routes through real HTTP: forms and JSON, the video object, paging, delete."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KEY_A, KEY_B, b64, bearer
from tests.helpers import GENERATION, create, poll, stored_task, task_path
from tests.surfaces.openai_videos.conftest import (
    PNG,
    VIDEOS,
    created,
    form_create,
    openai_error,
)

MULTI = "kirin_v1_6_multi_i2v"
DATA_URL = "data:image/png;base64," + b64(PNG)


def test_a_form_as_the_sdk_sends_it_creates_a_queued_video(client: TestClient) -> None:
    response = form_create(
        client, size="1920x1080", seconds="10", extra_body={"image_tail": b64(PNG), "seed": 7}
    )
    video = created(response)
    assert response.headers["openai-poll-after-ms"] == "1000"
    assert {k: video[k] for k in ("status", "progress", "seconds", "model", "error")} == {
        "status": "queued",
        "progress": 0,
        "seconds": "10",
        "model": "kirin_v1_6_i2v",
        "error": None,
    }
    assert video["size"] == "1620x1080"  # pro, in the first frame's aspect (480x320)
    assert video["created_at"] > 1_700_000_000 and video["completed_at"] is None
    row = stored_task(client, video["id"])
    assert row["images"] == [("first", PNG), ("last", PNG)]
    assert (row["seed"], row["surface"], row["params"]["mode"]) == (7, "openai", "pro")


def test_bracketed_form_fields_carry_lists_objects_and_typed_values(client: TestClient) -> None:
    fields = {
        "model": MULTI,
        "size": "720x1280",
        "input_references[][image_url]": [DATA_URL, DATA_URL],
        "seed": "9",
        "watermark": "true",
    }
    video = created(form_create(client, **fields))
    assert (video["model"], video["size"]) == (MULTI, "720x1280")
    row = stored_task(client, video["id"])
    assert row["images"] == [("reference", PNG)] * 3
    assert (row["seed"], row["params"]["watermark"]) == (9, True)


def test_a_json_body_creates_what_the_form_creates(client: TestClient) -> None:
    by_form = created(form_create(client, model=MULTI, extra_body={"input_references": [b64(PNG)]}))
    body = {
        "prompt": "a slow push in",
        "model": MULTI,
        "input_reference": {"image_url": DATA_URL},
        "extra_body": {"input_references": [DATA_URL]},
    }
    by_json = created(client.post(VIDEOS, json=body, headers=bearer(KEY_A)))
    unseeded = (
        {k: v for k, v in stored_task(client, v["id"]).items() if k != "seed"}
        for v in (by_form, by_json)
    )
    assert next(unseeded) == next(unseeded)
    assert {k: v for k, v in by_json.items() if k not in ("id", "created_at")} == {
        k: v for k, v in by_form.items() if k not in ("id", "created_at")
    }


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"seconds": "4"}, "seconds", "seconds_invalid"),
        ({"size": "1024x1792"}, "size", "size_invalid"),
        ({"model": "sora-2"}, "model", "model_not_found"),
        ({"extra_body": "{not json"}, "extra_body", "body_invalid"),
        ({"seed[]": ["1", "2"], "seed": "3"}, "seed", "body_invalid"),
        ({"input_references[][image_url][x]": "y"}, "input_references", "body_invalid"),
    ],
    ids=["seconds", "size", "model", "extra_body", "one field two ways", "too deep"],
)
def test_a_refused_form_field_is_a_400_naming_it(
    client: TestClient, fields: dict[str, Any], param: str, code: str
) -> None:
    response = form_create(client, **fields)
    message = openai_error(
        response, status=400, kind="invalid_request_error", code=code, param=param
    )
    assert message.startswith(f"{param}: ")
    assert response.headers["x-should-retry"] == "false"


def test_a_file_part_is_checked_by_the_image_rules(client: TestClient) -> None:
    response = form_create(client, image=b"GIF89a" + bytes(64))
    message = openai_error(
        response,
        status=400,
        kind="invalid_request_error",
        code="image_invalid",
        param="input_reference",
    )
    assert message == (
        "input_reference: must be a JPEG or PNG image (detected by content); "
        "got a GIF image (70 bytes)"
    )


def test_a_body_that_is_neither_a_form_nor_json_is_refused(client: TestClient) -> None:
    response = client.post(
        VIDEOS, content=b"prompt=", headers={**bearer(KEY_A), "content-type": "text/plain"}
    )
    message = openai_error(response, status=400, kind="invalid_request_error", code="body_invalid")
    assert message.startswith("body: must be a JSON object; got invalid JSON")


def test_refusals_speak_openai_with_the_status_the_sdk_maps(client: TestClient) -> None:
    unauthenticated = client.get(VIDEOS)
    openai_error(unauthenticated, status=401, kind="authentication_error", code="invalid_api_key")
    missing = client.get(f"{VIDEOS}/task_nope", headers=bearer(KEY_A))
    assert "'task_nope'" in openai_error(
        missing, status=404, kind="invalid_request_error", code="video_not_found"
    )
    not_served = client.put(f"{VIDEOS}/task_nope", headers=bearer(KEY_A))
    openai_error(not_served, status=405, kind="invalid_request_error", code="body_invalid")
    assert not_served.headers["allow"] == "DELETE, GET"
    for refused in (unauthenticated, missing, not_served):
        assert refused.headers["x-should-retry"] == "false"


def test_a_repeated_external_task_id_is_a_409_that_no_retry_fixes(client: TestClient) -> None:
    created(form_create(client, external_task_id="shot-1"))
    again = form_create(client, external_task_id="shot-1")
    message = openai_error(
        again,
        status=409,
        kind="invalid_request_error",
        code="external_id_taken",
        param="external_task_id",
    )
    assert "'shot-1' is already used" in message
    assert again.headers["x-should-retry"] == "false"


def test_too_many_requests_is_a_429_with_retry_after(make_client: Any) -> None:
    client = make_client(rate_limit="2/minute")
    for _ in range(2):
        client.get(VIDEOS, headers=bearer(KEY_A))
    limited = client.get(VIDEOS, headers=bearer(KEY_A))
    openai_error(limited, status=429, kind="rate_limit_error", code="rate_limit_exceeded")
    assert int(limited.headers["retry-after"]) >= 1 and "x-should-retry" not in limited.headers


def test_a_body_over_the_limit_is_a_413(make_client: Any) -> None:
    client = make_client(max_body_bytes=len(PNG) // 2)
    response = form_create(client)
    message = openai_error(
        response, status=413, kind="invalid_request_error", code="request_too_large"
    )
    assert message.startswith("body: must be at most")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_the_list_pages_after_a_videos_id_in_either_order(client: TestClient) -> None:
    ids = [created(form_create(client))["id"] for _ in range(3)]
    created(form_create(client, key=KEY_B))  # another key's video is never listed
    first = client.get(VIDEOS, params={"limit": 2}, headers=bearer(KEY_A)).json()
    assert first["object"] == "list" and first["has_more"] is True
    assert [v["id"] for v in first["data"]] == ids[:0:-1] and first["last_id"] == ids[1]
    rest = client.get(VIDEOS, params={"after": first["last_id"]}, headers=bearer(KEY_A)).json()
    assert ([v["id"] for v in rest["data"]], rest["has_more"]) == ([ids[0]], False)
    oldest = client.get(VIDEOS, params={"order": "asc", "limit": 2}, headers=bearer(KEY_A)).json()
    assert [v["id"] for v in oldest["data"]] == ids[:2]
    after = {"order": "asc", "after": ids[1]}
    assert [
        v["id"] for v in client.get(VIDEOS, params=after, headers=bearer(KEY_A)).json()["data"]
    ] == ids[2:]


@pytest.mark.parametrize(
    ("query", "param"),
    [({"after": "task_nope"}, "after"), ({"order": "sideways"}, "order"), ({"limit": 0}, "limit")],
)
def test_a_list_query_out_of_its_rule_is_a_400_naming_it(
    client: TestClient, query: dict[str, Any], param: str
) -> None:
    response = client.get(VIDEOS, params=query, headers=bearer(KEY_A))
    assert openai_error(
        response, status=400, kind="invalid_request_error", code="body_invalid", param=param
    ).startswith(f"{param}: ")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_delete_removes_the_video_from_every_surface(client: TestClient) -> None:
    video = created(form_create(client, extra_body={"callback_url": "https://example.com/hook"}))
    deleted = client.delete(f"{VIDEOS}/{video['id']}", headers=bearer(KEY_A))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    assert client.get(f"{VIDEOS}/{video['id']}", headers=bearer(KEY_A)).status_code == 404
    assert client.get(task_path(video["id"]), headers=bearer(KEY_A)).status_code == 404
    again = client.delete(f"{VIDEOS}/{video['id']}", headers=bearer(KEY_A))
    openai_error(again, status=404, kind="invalid_request_error", code="video_not_found")


def test_another_keys_video_cannot_be_deleted(client: TestClient) -> None:
    video = created(form_create(client))
    other = client.delete(f"{VIDEOS}/{video['id']}", headers=bearer(KEY_B))
    openai_error(other, status=404, kind="invalid_request_error", code="video_not_found")
    assert client.get(f"{VIDEOS}/{video['id']}", headers=bearer(KEY_A)).status_code == 200


@pytest.mark.parametrize(
    ("variant", "status", "code", "start"),
    [
        ("video", 404, "video_not_found", "video: "),
        ("spritesheet", 404, "video_not_found", "variant: this server makes no spritesheet"),
        ("gif", 400, "body_invalid", "variant: must be one of video, thumbnail; got 'gif'"),
    ],
)
def test_content_that_is_not_there_is_refused_by_name(
    client: TestClient, variant: str, status: int, code: str, start: str
) -> None:
    video = created(form_create(client))
    response = client.get(
        f"{VIDEOS}/{video['id']}/content", params={"variant": variant}, headers=bearer(KEY_A)
    )
    param = "variant" if status == 400 else None
    message = openai_error(
        response, status=status, kind="invalid_request_error", code=code, param=param
    )
    assert message.startswith(start), message


def test_the_same_tasks_are_the_same_videos_on_the_kirin_surface(client: TestClient) -> None:
    kirin = create(client, {"model": "kirin_v1_6_i2v", "image": b64(PNG), "prompt": "dawn"})
    video = client.get(f"{VIDEOS}/{kirin['id']}", headers=bearer(KEY_A)).json()
    assert (video["id"], video["status"], video["prompt"], video["size"]) == (
        kirin["id"],
        "queued",
        "dawn",
        "1080x720",
    )
    ours = created(form_create(client))
    assert poll(client, ours["id"])["status"] == "in_progress"
    listed = client.get(GENERATION, headers=bearer(KEY_A)).json()["data"]
    assert [t["id"] for t in listed] == [ours["id"], kirin["id"]]
    cancelled = client.post(task_path(ours["id"], "cancel"), headers=bearer(KEY_A))
    assert cancelled.status_code == 200
    failed = client.get(f"{VIDEOS}/{ours['id']}", headers=bearer(KEY_A)).json()
    assert (failed["status"], failed["error"]["code"]) == ("failed", "cancelled")
    assert failed["completed_at"] >= failed["created_at"]
    assert failed["error"]["message"] == "task: cancelled at the client's request"


def test_the_schema_states_the_routes_in_openais_shapes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    create_video = paths[VIDEOS]["post"]
    assert set(create_video["requestBody"]["content"]) == {
        "multipart/form-data",
        "application/json",
    }
    form = create_video["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["input_reference"]["format"] == "binary"
    assert form["properties"]["size"]["enum"][:3] == ["1280x720", "720x1280", "720x720"]
    video_paths = {f"{VIDEOS}/{{video_id}}", f"{VIDEOS}/{{video_id}}/content"}
    assert video_paths <= set(paths) and set(paths[f"{VIDEOS}/{{video_id}}"]) == {"get", "delete"}
    errors = paths[f"{VIDEOS}/{{video_id}}"]["get"]["responses"]["404"]["content"]
    assert errors["application/json"]["schema"]["$ref"].endswith("/OpenAIErrorBody")
    video = schema["components"]["schemas"]["Video"]["properties"]
    assert video["status"]["enum"] == ["queued", "in_progress", "completed", "failed"]
