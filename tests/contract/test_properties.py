"""Properties of ``parse_params``: any JSON body parses, or is refused naming a field."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import Params, parse_params

I2V, MULTI = c.Model.I2V.value, c.Model.MULTI_I2V.value
DERANDOMIZED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)

#: The fields a create body may carry, for either model (``callback`` is the i2v seed's alias).
FIELDS = (
    "image",
    "image_tail",
    "image_list",
    "prompt",
    "negative_prompt",
    "duration",
    "aspect_ratio",
    "mode",
    "cfg_scale",
    "watermark_info",
    "seed",
    "callback_url",
    "callback",
    "external_task_id",
    "model",  # last: the strategies below lean to the first ones, and this one stops the rest
)
#: The fields each specific code may name (contract, "Parameters and validation"); 014 any.
FIELDS_BY_CODE = {
    ErrorCode.IMAGE_MISSING: {"image", "image_list"},
    ErrorCode.PROMPT_INVALID: {"prompt", "negative_prompt"},
    ErrorCode.DURATION_INVALID: {"duration"},
    ErrorCode.ASPECT_RATIO_INVALID: {"aspect_ratio"},
    ErrorCode.MODE_INVALID: {"mode"},
    ErrorCode.CFG_SCALE_INVALID: {"cfg_scale"},
    ErrorCode.TOO_MANY_IMAGES: {"image_list"},
    ErrorCode.EXTERNAL_ID_TAKEN: {"external_task_id"},
    ErrorCode.UNKNOWN_MODEL: {"model"},
    ErrorCode.CALLBACK_URL_INVALID: {"callback_url", "callback"},
    ErrorCode.NOT_SUPPORTED_IN_MODE: {"image_tail"},
    ErrorCode.BODY_INVALID: {"body", *FIELDS},
}
#: ``field: rule; got value``, where a field is a name, or a path into ``image_list``.
MESSAGE = re.compile(r"(?P<field>[a-z_]+)(\[\d+\](\.image)?)?: .+; got .*", re.DOTALL)

# Any JSON, with values at the edges of the rules mixed in.

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and the infinities too, as Python's json module reads them
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=12,
)
NEAR_MISSES = st.sampled_from(
    [
        "",
        " ",
        "5",
        "10",
        " 5",
        5,
        10,
        5.0,
        10.0,
        True,
        0,
        -1,
        0.5,
        1.0000001,
        c.MAX_SEED,
        c.MAX_SEED + 1,
        "std",
        "pro",
        "PRO",
        "16:9",
        "4:3",
        "x" * c.MAX_PROMPT_CHARS,
        "x" * (c.MAX_PROMPT_CHARS + 1),
        "x" * c.MAX_EXTERNAL_ID_CHARS,
        "x" * (c.MAX_EXTERNAL_ID_CHARS + 1),
        "https://example.com/hook",
        "ftp://example.com/hook",
        "http://[::1",
        "http://[v1.x]/",
        "http://example.com:99999/",
        "http://example.com:-1/",
        "https://",
        "//example.com/hook",
        "data:image/png;base64,AAAA",
        {"enabled": True},
        {"enabled": "yes"},
        {"image": "aGk="},
        [{"image": "aGk="}],
        [{"image": "aGk="}] * (c.MAX_REFERENCE_IMAGES + 1),
        [{"image": ""}],
        [{}],
        [None],
        [],
        {},
    ]
)
VALUES = st.one_of(JSON, NEAR_MISSES)


# Bodies built from the contract's rules.

IMAGES = st.text(min_size=1, max_size=12)  # still as sent: intake decodes and checks them later
PROMPTS = st.one_of(
    st.text(min_size=1, max_size=30),
    st.integers(min_value=1, max_value=c.MAX_PROMPT_CHARS).map(lambda n: "p" * n),
)
NEGATIVE_PROMPTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["n" * c.MAX_PROMPT_CHARS]),
)
DURATIONS = st.sampled_from([*c.DURATIONS, *(str(d) for d in c.DURATIONS)])
EXTERNAL_IDS = st.one_of(
    st.text(min_size=1, max_size=20),
    st.integers(min_value=1, max_value=c.MAX_EXTERNAL_ID_CHARS).map(lambda n: "e" * n),
)
CALLBACK_URLS = st.builds(
    "{}://{}{}/{}".format,
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.sampled_from(["", ":8080", ":1"]),
    st.from_regex(r"[a-zA-Z0-9/_.-]{0,20}", fullmatch=True),
)
#: Keys the contract does not know, which it ignores.
EXTRA_KEYS = st.dictionaries(
    st.text(max_size=12).filter(lambda key: key not in FIELDS), JSON, max_size=3
)


def _common() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "negative_prompt": st.none() | NEGATIVE_PROMPTS,
        "duration": st.none() | DURATIONS,
        "watermark_info": st.none() | st.builds(lambda on: {"enabled": on}, st.booleans()),
        "seed": st.none() | st.integers(min_value=0, max_value=c.MAX_SEED),
        "callback_url": st.none() | CALLBACK_URLS,
        "external_task_id": st.none() | EXTERNAL_IDS,
    }


@st.composite
def valid_i2v(draw: st.DrawFn) -> dict[str, Any]:
    fields = {
        "prompt": st.none() | PROMPTS,
        "cfg_scale": st.none() | st.floats(*c.CFG_SCALE_RANGE) | st.sampled_from([0, 1]),
        **_common(),
    }
    body = draw(st.fixed_dictionaries({}, optional=fields))
    mode = draw(st.none() | st.sampled_from(c.MODES))
    first = draw(st.none() | IMAGES)
    last = draw(st.none() | IMAGES) if mode == "pro" else None  # the tail needs pro
    images = {"image": first or draw(IMAGES)} if last is None else {"image": first}
    return {**draw(EXTRA_KEYS), **body, **images, "image_tail": last, "mode": mode, "model": I2V}


@st.composite
def valid_multi(draw: st.DrawFn) -> dict[str, Any]:
    images = st.builds(lambda image: {"image": image}, IMAGES)
    fields = {
        "mode": st.none() | st.sampled_from(c.MODES),
        "aspect_ratio": st.none() | st.sampled_from(c.ASPECT_RATIOS),
        **_common(),
    }
    body = draw(st.fixed_dictionaries({}, optional=fields))
    body["image_list"] = draw(st.lists(images, min_size=1, max_size=c.MAX_REFERENCE_IMAGES))
    body["prompt"] = draw(PROMPTS)
    return {**draw(EXTRA_KEYS), **body, "model": MULTI}


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """The real field names with any values, and some unknown keys.

    Half are valid bodies with one to three fields spoiled (the model too, at times), which
    reach the checks behind the first ones; half draw every other field at random.
    """
    if not draw(st.booleans()):
        body = draw(valid_i2v() | valid_multi())
        for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
            body[name] = draw(VALUES)
        return body
    body = draw(st.fixed_dictionaries({}, optional={name: VALUES for name in FIELDS}))
    body.update(draw(st.dictionaries(st.text(max_size=12), JSON, max_size=3)))
    body["model"] = draw(st.sampled_from([I2V, MULTI]))
    return body


# Properties.


def _outcome(body: Any) -> Params | InvalidRequest:
    """What ``parse_params`` makes of a body; anything other than these two fails the test."""
    try:
        return parse_params(body)
    except InvalidRequest as exc:
        return exc


def _assert_names_its_field(error: InvalidRequest, body: Any) -> None:
    assert isinstance(error.code, ErrorCode)
    assert error.http_status == 400
    match = MESSAGE.fullmatch(error.message)
    assert match, f"message does not say 'field: rule; got value': {error.message!r}"
    field = match["field"]
    assert field in FIELDS_BY_CODE[error.code], f"{error.code!r} names {field!r}"
    required = {"body", "model", "image", "image_list", "prompt"}
    assert field in required or (isinstance(body, dict) and field in body), error.message


@settings(DERANDOMIZED, max_examples=200)
@given(body=bodies())
def test_any_body_parses_or_is_refused_naming_a_field(body: dict[str, Any]) -> None:
    outcome = _outcome(body)
    if isinstance(outcome, InvalidRequest):
        _assert_names_its_field(outcome, body)
    else:
        assert outcome.model.value == body["model"]


@settings(DERANDOMIZED, max_examples=100)
@given(body=JSON.filter(lambda value: not isinstance(value, dict)))
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    outcome = _outcome(body)
    assert isinstance(outcome, InvalidRequest) and outcome.code is ErrorCode.BODY_INVALID
    _assert_names_its_field(outcome, body)


@settings(DERANDOMIZED, max_examples=200)
@given(body=valid_i2v() | valid_multi(), name=st.sampled_from(FIELDS[:-1]), value=VALUES)
def test_a_refusal_names_the_one_field_that_broke_a_rule(
    body: dict[str, Any], name: str, value: Any
) -> None:
    spoiled = {**body, name: value}
    outcome = _outcome(spoiled)
    if isinstance(outcome, InvalidRequest):
        _assert_names_its_field(outcome, spoiled)
        named = MESSAGE.fullmatch(outcome.message)["field"]  # type: ignore[index]
        assert named == name or (name, named) == ("mode", "image_tail"), outcome.message


URLISH = st.one_of(
    st.text(max_size=30),
    st.builds(
        str.__add__,
        st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:", "//"]),
        st.text(st.sampled_from("[]:@/?#%.-_ax09\\\x00é "), max_size=20),
    ),
    NEAR_MISSES.filter(lambda value: isinstance(value, str)),
)


@settings(DERANDOMIZED, max_examples=200)
@given(
    body=valid_i2v() | valid_multi(),
    name=st.sampled_from(["callback_url", "callback"]),
    url=URLISH,
)
def test_any_callback_url_is_kept_or_refused_with_its_code(
    body: dict[str, Any], name: str, url: str
) -> None:
    body.pop("callback_url", None)
    outcome = _outcome({**body, name: url})
    if isinstance(outcome, InvalidRequest):
        assert outcome.code is ErrorCode.CALLBACK_URL_INVALID, outcome.message
        assert outcome.message.startswith(f"{name}: ")
    else:
        assert outcome.callback_url == url
        assert urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _assert_round_trip(request: Params, body: dict[str, Any]) -> None:
    assert request.model.value == body["model"]
    assert request.prompt == body.get("prompt")
    assert request.negative_prompt == (body.get("negative_prompt") or None)
    assert request.mode == _or(body.get("mode"), c.DEFAULT_MODE)
    assert request.duration == int(_or(body.get("duration"), c.DEFAULT_DURATION))
    assert request.seed == body.get("seed")
    assert request.external_task_id == body.get("external_task_id")
    assert request.callback_url == body.get("callback_url")
    assert request.watermark is _or(body.get("watermark_info"), {"enabled": False})["enabled"]


@settings(DERANDOMIZED, max_examples=150)
@given(body=valid_i2v())
def test_valid_i2v_body_parses_and_keeps_its_values(body: dict[str, Any]) -> None:
    request = parse_params(body)
    _assert_round_trip(request, body)
    assert request.cfg_scale == _or(body.get("cfg_scale"), c.DEFAULT_CFG_SCALE)
    assert request.aspect_ratio is None
    sent = [(name, body.get(name)) for name in ("image", "image_tail") if body.get(name)]
    assert [(image.field, image.value) for image in request.images] == sent
    assert [image.check_aspect for image in request.images] == [n == "image" for n, _ in sent]


@settings(DERANDOMIZED, max_examples=150)
@given(body=valid_multi())
def test_valid_multi_body_parses_and_keeps_its_values(body: dict[str, Any]) -> None:
    request = parse_params(body)
    _assert_round_trip(request, body)
    assert request.aspect_ratio == _or(body.get("aspect_ratio"), c.DEFAULT_ASPECT_RATIO)
    assert request.cfg_scale is None
    assert [image.value for image in request.images] == [i["image"] for i in body["image_list"]]
    assert {image.role for image in request.images} == {"reference"}
