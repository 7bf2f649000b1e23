"""The /v1/videos request as the contract's inputs: sizes, seconds, model names, images."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kirin_video.contract.catalog import Model
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import Params
from kirin_video.surfaces.openai_videos.body import Upload
from kirin_video.surfaces.openai_videos.wire import SIZES, ModelNames, parse_video_request
from tests.conftest import b64, make_image

PNG = make_image(480, 320)
NAMES = ModelNames(i2v=("sora-2",), multi=("sora-2-refs",))


def parse(**fields: Any) -> Params:
    return parse_video_request({"prompt": "a walk", **fields}, names=NAMES)


def refused(code: ErrorCode, **fields: Any) -> str:
    with pytest.raises(InvalidRequest) as caught:
        parse(**fields)
    assert caught.value.code is code, caught.value.message
    return caught.value.message


def test_the_sizes_are_each_modes_frame_for_each_aspect_ratio() -> None:
    assert {name: (mode.value, ratio.value) for name, (mode, ratio) in SIZES.items()} == {
        "1280x720": ("std", "16:9"),
        "720x1280": ("std", "9:16"),
        "720x720": ("std", "1:1"),
        "1920x1080": ("pro", "16:9"),
        "1080x1920": ("pro", "9:16"),
        "1080x1080": ("pro", "1:1"),
    }


def test_size_chooses_mode_and_for_multi_the_aspect_ratio() -> None:
    i2v = parse(input_reference=Upload("input_reference", PNG), size="1080x1920")
    assert (i2v.model, i2v.mode, i2v.aspect_ratio) == (Model.I2V, "pro", None)
    multi = parse(model=Model.MULTI_I2V.value, input_reference=b64(PNG), size="720x1280")
    assert (multi.mode, multi.aspect_ratio) == ("std", "9:16")
    default = parse(model=Model.MULTI_I2V.value, input_reference=b64(PNG))
    assert (default.mode, default.aspect_ratio, default.duration) == ("std", "16:9", 5)


def test_seconds_are_the_contracts_durations_as_strings() -> None:
    assert parse(input_reference=b64(PNG), seconds="10").duration == 10
    message = refused(ErrorCode.DURATION_INVALID, input_reference=b64(PNG), seconds="4")
    assert message == 'seconds: must be "5" or "10"; got \'4\''


def test_an_unknown_size_names_every_size_by_mode() -> None:
    message = refused(ErrorCode.MODE_INVALID, input_reference=b64(PNG), size="1792x1024")
    assert message.startswith("size: must be one of 1280x720, 720x1280, 720x720 (std); ")
    assert message.endswith("1920x1080, 1080x1920, 1080x1080 (pro); got '1792x1024'")


def test_model_is_a_kirin_id_or_a_configured_name() -> None:
    assert parse(model="sora-2", input_reference=b64(PNG)).model is Model.I2V
    assert parse(model="sora-2-refs", input_reference=b64(PNG)).model is Model.MULTI_I2V
    none_named = parse(input_reference=b64(PNG), input_references=[b64(PNG)])
    assert none_named.model is Model.MULTI_I2V  # more references: multi
    message = refused(ErrorCode.UNKNOWN_MODEL, model="sora-2-pro", input_reference=b64(PNG))
    assert message == (
        "model: must be one of kirin_v1_6_i2v, kirin_v1_6_multi_i2v, sora-2, sora-2-refs; "
        "got 'sora-2-pro'"
    )


def test_i2v_takes_the_first_frame_from_input_reference_and_the_last_from_image_tail() -> None:
    params = parse(
        input_reference=Upload("input_reference", PNG), image_tail=b64(PNG), size="1920x1080"
    )
    assert [(i.field, i.role) for i in params.images] == [
        ("input_reference", "first"),
        ("image_tail", "last"),
    ]
    assert base64.b64decode(params.images[0].value) == PNG


def test_a_last_frame_needs_a_pro_size() -> None:
    message = refused(
        ErrorCode.NOT_SUPPORTED_IN_MODE, input_reference=b64(PNG), image_tail=b64(PNG)
    )
    assert message == (
        "image_tail: a last frame needs a pro size (1920x1080, 1080x1920, 1080x1080); "
        "got size '1280x720'"
    )


def test_multi_takes_input_reference_first_then_the_other_references_in_order() -> None:
    params = parse(
        model=Model.MULTI_I2V.value,
        input_reference=Upload("input_reference", PNG),
        input_references=[{"image_url": "https://example.com/b.png"}, "https://example.com/c.png"],
    )
    assert [(i.field, i.role, i.value) for i in params.images] == [
        ("input_reference", "reference", b64(PNG)),
        ("input_references[0]", "reference", "https://example.com/b.png"),
        ("input_references[1]", "reference", "https://example.com/c.png"),
    ]


def test_image_list_is_the_other_name_for_more_references() -> None:
    params = parse(model=Model.MULTI_I2V.value, image_list=[b64(PNG)], prompt="two")
    assert [i.field for i in params.images] == ["image_list[0]"]


@pytest.mark.parametrize(
    ("fields", "code", "start"),
    [
        ({"input_references": [b64(PNG)] * 4}, ErrorCode.TOO_MANY_IMAGES, "input_references: "),
        ({"input_references": [b64(PNG)], "image_list": [b64(PNG)]}, ErrorCode.BODY_INVALID, ""),
        ({"image_tail": b64(PNG)}, ErrorCode.NOT_SUPPORTED_IN_MODE, "image_tail: "),
        ({"input_reference": None}, ErrorCode.IMAGE_MISSING, "input_reference: "),
        ({"input_references": [b64(PNG), ""]}, ErrorCode.IMAGE_MISSING, "input_references[1]: "),
    ],
    ids=["five references", "both lists", "a last frame", "none", "an empty one"],
)
def test_multi_refuses_what_its_references_cannot_be(
    fields: dict[str, Any], code: ErrorCode, start: str
) -> None:
    base = {"model": Model.MULTI_I2V.value, "input_reference": b64(PNG)}
    message = refused(code, **{**base, **fields})
    assert message.startswith(start), message


def test_i2v_refuses_more_references_and_no_frame_at_all() -> None:
    assert refused(
        ErrorCode.NOT_SUPPORTED_IN_MODE,
        model=Model.I2V.value,
        input_reference=b64(PNG),
        input_references=[b64(PNG)],
    ).startswith("input_references: more reference images need model kirin_v1_6_multi_i2v")
    assert refused(ErrorCode.IMAGE_MISSING).startswith("input_reference: a first frame")


def test_an_image_may_be_a_data_url_or_an_image_url_object() -> None:
    data_url = "data:image/png;base64," + b64(PNG)
    assert parse(input_reference=data_url).images[0].value == b64(PNG)
    nested = parse(input_reference={"image_url": {"url": data_url}})
    assert nested.images[0].value == b64(PNG)


@pytest.mark.parametrize(
    ("value", "start"),
    [
        ({"file_id": "file_1"}, "input_reference.file_id: uploaded file ids are not kept"),
        ({"url": "x"}, 'input_reference: must be an object {"image_url": str}'),
        (7, "input_reference: must be an image file, an image URL or base64"),
    ],
)
def test_an_image_of_no_form_this_wire_takes_is_refused_by_name(value: Any, start: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(input_reference=value)
    assert caught.value.message.startswith(start), caught.value.message


@pytest.mark.parametrize(
    ("kirin", "ours"),
    [("image", "input_reference"), ("duration", "seconds"), ("mode", "size")],
)
def test_a_kirin_name_this_wire_spells_otherwise_points_to_its_name(kirin: str, ours: str) -> None:
    message = refused(ErrorCode.BODY_INVALID, input_reference=b64(PNG), **{kirin: "x"})
    assert message.startswith(f"{kirin}: is spelled {ours} on /v1/videos; send {ours} instead")


def test_the_other_parameters_keep_their_kirin_names_and_rules() -> None:
    params = parse(
        input_reference=b64(PNG),
        negative_prompt="blur",
        cfg_scale=0.25,
        seed=7,
        watermark=True,
        callback_url="https://example.com/hook",
        external_task_id="shot-1",
    )
    assert (params.negative_prompt, params.cfg_scale, params.seed, params.watermark) == (
        "blur",
        0.25,
        7,
        True,
    )
    assert (params.callback_url, params.external_task_id) == ("https://example.com/hook", "shot-1")
    message = refused(ErrorCode.CFG_SCALE_INVALID, input_reference=b64(PNG), cfg_scale=2)
    assert message == "cfg_scale: must be a number in [0, 1]; got 2"
    assert refused(ErrorCode.BODY_INVALID, input_reference=b64(PNG), watermark="yes") == (
        "watermark: must be true or false; got 'yes'"
    )
