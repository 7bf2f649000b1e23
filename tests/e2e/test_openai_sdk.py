"""The openai SDK (openai==3.57.0, over httpx2) against a real `kirin serve` on loopback.

Every call is the SDK's own: files and ``extra_body`` as it sends them, ``create_and_poll`` led by
``openai-poll-after-ms``, the cursor pages it follows, the exception class each refusal becomes,
and ``webhooks.unwrap`` verifying a callback. The tasks are the kirin surface's tasks too.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import openai
import pytest
from PIL import Image

from kirin_video.media.encode import probe
from tests.conftest import KEY_A, KEY_B, b64, make_image
from tests.e2e.conftest import ServerProcess, first_and_last_frames, free_port
from tests.webhooks.conftest import SECRET, Receiver

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

KEY_C = "test-key-c"  # the rate-limit test's own key, so its burst slows no other test
FIRST = make_image(480, 320, seed=1)
LAST = make_image(480, 320, seed=2)
ENV = {
    "KIRIN_API_KEYS": f"{KEY_A},{KEY_B},{KEY_C}",
    "KIRIN_ENGINE": "preview",
    "KIRIN_ENGINE_CHILD": "false",
    "KIRIN_OPENAI_I2V_MODELS": '["sora-2"]',
    "KIRIN_OPENAI_POLL_AFTER_MS": "100",
    "KIRIN_ALLOW_PRIVATE_URLS": "true",  # callbacks to the loopback receiver
    "KIRIN_WEBHOOK_SECRET": SECRET,
    "KIRIN_WEBHOOK_POLL_S": "0.1",
    "KIRIN_RATE_LIMIT": "30/second",
    "KIRIN_MAX_BODY_BYTES": str(4 * 1024 * 1024),
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("openai") / "data", free_port())
    process.start(**ENV)
    yield process
    process.stop()


def _sdk(node: ServerProcess, key: str = KEY_A) -> openai.OpenAI:
    """The SDK as a user points it at this server; no retries, so each refusal shows at once."""
    return openai.OpenAI(api_key=key, base_url=f"{node.url}/v1", max_retries=0)


@pytest.fixture(scope="module")
def sdk(node: ServerProcess) -> openai.OpenAI:
    return _sdk(node)


def _png(data: bytes) -> tuple[str, bytes, str]:
    return ("frame.png", data, "image/png")


def _close_to(frame: np.ndarray, source: bytes) -> bool:
    """A decoded frame shows ``source`` (resized to the frame), up to the encoder's rounding."""
    expected = np.asarray(Image.open(io.BytesIO(source)).resize(frame.shape[1::-1]))
    return bool(np.abs(frame.astype(int) - expected.astype(int)).mean() < 8)


def test_i2v_from_a_file_polls_to_a_video_and_a_cover_of_the_contracts_geometry(
    node: ServerProcess, sdk: openai.OpenAI, tmp_path: Path
) -> None:
    video = sdk.videos.create_and_poll(
        prompt="a slow push in", input_reference=_png(FIRST), model="sora-2", seconds="5"
    )
    assert (video.status, video.progress, video.error) == ("completed", 100, None)
    assert (video.model, video.seconds, video.size) == ("kirin_v1_6_i2v", "5", "1080x720")
    assert video.completed_at is not None and video.completed_at >= video.created_at
    path = tmp_path / "video.mp4"
    sdk.videos.download_content(video.id).write_to_file(path)
    info = probe(path)
    assert (info.width, info.height, info.frames, round(info.fps)) == (1080, 720, 150, 30)
    assert _close_to(first_and_last_frames(path)[0], FIRST)
    cover = sdk.videos.download_content(video.id, variant="thumbnail")
    with av.open(io.BytesIO(cover.read())) as container:
        (picture,) = container.decode(video=0)
        assert (picture.width, picture.height) == (1080, 720)
    answer = sdk.videos.with_raw_response.retrieve(video.id)
    assert answer.headers["openai-poll-after-ms"] == "100"
    with node.client() as kirin:  # the same task on the kirin surface
        task = kirin.get(f"/model/v1/generation/task/{video.id}").json()
    assert (task["status"], task["metadata"]["width"], task["metadata"]["height"]) == (
        "completed",
        1080,
        720,
    )


def test_a_last_frame_goes_through_extra_body_and_ends_the_video(
    sdk: openai.OpenAI, tmp_path: Path
) -> None:
    video = sdk.videos.create_and_poll(
        prompt="from day to dusk",
        input_reference=_png(FIRST),
        size="1920x1080",  # pro: the size that takes a last frame
        extra_body={"image_tail": b64(LAST), "seed": 11},
    )
    assert (video.status, video.size) == ("completed", "1620x1080"), video
    path = tmp_path / "video.mp4"
    path.write_bytes(sdk.videos.download_content(video.id).read())
    start, end = first_and_last_frames(path)  # 1080p: probed from the two frames kept
    assert start.shape == end.shape == (1080, 1620, 3)
    assert _close_to(start, FIRST) and _close_to(end, LAST)


def test_multi_takes_three_references_from_a_file_and_extra_body(
    sdk: openai.OpenAI, tmp_path: Path
) -> None:
    data_url = "data:image/png;base64," + b64(make_image(400, 400, seed=4))
    video = sdk.videos.create_and_poll(
        prompt="three friends meet",
        model="kirin_v1_6_multi_i2v",
        size="720x1280",
        input_reference=_png(FIRST),
        extra_body={"input_references": [b64(LAST), {"image_url": data_url}]},
    )
    assert (video.status, video.model, video.size) == (
        "completed",
        "kirin_v1_6_multi_i2v",
        "720x1280",
    )
    path = tmp_path / "video.mp4"
    sdk.videos.download_content(video.id).write_to_file(path)
    info = probe(path)
    assert (info.width, info.height, info.frames) == (720, 1280, 150)


def test_list_follows_the_pages_in_either_order(node: ServerProcess) -> None:
    own = _sdk(node, KEY_B)  # a key of its own: exactly the videos made here are listed
    made = [own.videos.create(prompt="p", input_reference=_png(FIRST)).id for _ in range(3)]
    try:
        assert [v.id for v in own.videos.list(limit=1)] == made[::-1]  # one page per video
        page = own.videos.list(limit=2, order="asc")
        assert ([v.id for v in page.data], page.has_more, page.last_id) == (made[:2], True, made[1])
        following = page.get_next_page()
        assert ([v.id for v in following.data], following.has_more) == (made[2:], False)
        assert own.videos.retrieve(made[0]).status in ("queued", "in_progress", "completed")
    finally:
        for video_id in made:
            own.videos.delete(video_id)
    assert list(own.videos.list()) == []


def test_delete_stops_a_running_video_and_leaves_no_files(
    node: ServerProcess, sdk: openai.OpenAI
) -> None:
    video = sdk.videos.create(
        prompt="a long one", input_reference=_png(FIRST), size="1920x1080", seconds="10"
    )
    deadline = time.monotonic() + 60
    while (seen := sdk.videos.retrieve(video.id)).status == "queued" or seen.progress == 0:
        assert seen.status != "completed" and time.monotonic() < deadline, seen
        time.sleep(0.05)
    deleted = sdk.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(video.id)
    with node.client() as kirin:
        assert kirin.get(f"/model/v1/generation/task/{video.id}").status_code == 404
    after = sdk.videos.create_and_poll(prompt="next", input_reference=_png(LAST))
    assert after.status == "completed"  # the worker let go of the deleted one
    assert f"task {video.id} stopped while running" in node.log()
    assert not (node.data_dir / "outputs" / video.id).exists()


def test_a_kirin_task_is_a_video_the_sdk_reads_and_deletes(
    node: ServerProcess, sdk: openai.OpenAI
) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": b64(FIRST), "prompt": "made on kirin"}
    with node.client() as kirin:
        task = kirin.post("/model/v1/generation", json=body).json()
        video = sdk.videos.retrieve(task["id"])
        assert (video.prompt, video.size, video.seconds) == ("made on kirin", "1080x720", "5")
        assert video.id in {v.id for v in sdk.videos.list(limit=100)}
        assert sdk.videos.delete(task["id"]).deleted is True
        assert kirin.get(f"/model/v1/generation/task/{task['id']}").status_code == 404


def test_each_refusal_reaches_the_sdk_as_its_exception_class_with_our_message(
    node: ServerProcess, sdk: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.videos.create(prompt="p", input_reference=_png(FIRST), seconds="4")
    assert (bad.value.param, bad.value.code) == ("seconds", "seconds_invalid")
    assert bad.value.message.endswith('seconds: must be "5" or "10"; got \'4\'')
    with pytest.raises(openai.BadRequestError) as not_an_image:
        sdk.videos.create(
            prompt="p", input_reference=("a.png", b"GIF89a" + bytes(400), "image/png")
        )
    assert not_an_image.value.param == "input_reference"
    with pytest.raises(openai.AuthenticationError) as refused:
        _sdk(node, "not-a-key").videos.list()
    assert refused.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.videos.retrieve("task_nope")
    assert "'task_nope'" in missing.value.message
    queued = sdk.videos.create(
        prompt="p", input_reference=_png(FIRST), extra_body={"external_task_id": "x-1"}
    )
    with pytest.raises(openai.NotFoundError) as sprites:
        sdk.videos.download_content(queued.id, variant="spritesheet")
    assert "no spritesheet" in sprites.value.message
    retrying = openai.OpenAI(api_key=KEY_A, base_url=f"{node.url}/v1")  # the SDK's 2 retries
    with pytest.raises(openai.ConflictError) as taken:
        retrying.videos.create(
            prompt="p", input_reference=_png(FIRST), extra_body={"external_task_id": "x-1"}
        )
    assert taken.value.param == "external_task_id" and "'x-1' is already used" in str(taken.value)
    assert node.log().count("POST /v1/videos -> 409") == 1  # x-should-retry: false was heeded
    sdk.videos.delete(queued.id)  # the worker need not render it
    with pytest.raises(openai.APIStatusError) as too_large:
        sdk.videos.create(
            prompt="p", input_reference=("big.png", bytes(5 * 1024 * 1024), "image/png")
        )
    assert too_large.value.status_code == 413 and "body: must be at most" in too_large.value.message


def test_too_many_requests_is_a_rate_limit_error_with_retry_after(node: ServerProcess) -> None:
    burst = _sdk(node, KEY_C)
    with pytest.raises(openai.RateLimitError) as limited:
        for _ in range(200):
            burst.videos.list(limit=1)
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert limited.value.code == "rate_limit_exceeded"


def test_a_finished_video_calls_back_with_an_event_the_sdk_verifies(sdk: openai.OpenAI) -> None:
    receiver = Receiver()
    try:
        video = sdk.videos.create_and_poll(
            prompt="p", input_reference=_png(FIRST), extra_body={"callback_url": receiver.url}
        )
        (got,) = receiver.wait(delivered=1)
        event = sdk.webhooks.unwrap(got.body, got.headers, secret=SECRET)
    finally:
        receiver.close()
    assert (event.type, event.data.id, event.object) == ("video.completed", video.id, "event")
    assert event.id.startswith("evt_") and event.created_at >= video.created_at
    assert len(receiver.received) == 1  # no event for the start of the run


def test_videos_kept_in_a_bucket_download_through_their_signed_url(
    bucket: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    _, s3 = bucket
    node = ServerProcess(tmp_path / "data", free_port())
    node.start(**ENV, **s3)
    try:
        sdk = _sdk(node)
        video = sdk.videos.create_and_poll(
            prompt="a slow push in", input_reference=_png(FIRST), model="sora-2", seconds="5"
        )
        answer = sdk.videos.with_raw_response.download_content(video.id)
        followed = answer.http_response
        assert [step.status_code for step in followed.history] == [307]  # to the signed URL
        assert str(followed.url).startswith(s3["KIRIN_S3_ENDPOINT_URL"] + "/kirin-cluster/")
        path = tmp_path / "video.mp4"
        path.write_bytes(followed.content)
        info = probe(path)
        assert (info.width, info.height, info.frames, round(info.fps)) == (1080, 720, 150, 30)
        cover = sdk.videos.download_content(video.id, variant="thumbnail")
        with av.open(io.BytesIO(cover.read())) as container:
            (picture,) = container.decode(video=0)
            assert (picture.width, picture.height) == (1080, 720)
    finally:
        node.stop()
