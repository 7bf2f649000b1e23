"""Every text input path refuses NUL and lone surrogates with 400, in the surface's envelope.

Bodies (JSON and forms), path ids, query parameters, cursors and JWT claims, on every surface and
on both databases: the refusal names the field and the rule, shows what was sent escaped, and
leaves no task behind; the lists still answer afterwards.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from kirin_video.api.app import create_app
from kirin_video.config import Settings
from kirin_video.contract.catalog import Model
from kirin_video.contract.params import ImageInput, Params
from kirin_video.tasks import keys
from tests.conftest import KEY_A, b64, bearer, make_image
from tests.helpers import GENERATION, kirin_error, task_rows

NUL, LONE = "\u0000", "\ud800"
IMAGE = b64(make_image(480, 320))
PNG = make_image(480, 320)
I2V, MULTI = Model.I2V.value, Model.MULTI_I2V.value
KLING = "/v1/videos/image2video"
VIDEOS = "/v1/videos"
#: Each surface's list, read after every refusal: a refusal leaves nothing that breaks it.
LISTS = {"kirin": GENERATION, "kling": KLING, "openai": VIDEOS}

Send = Callable[[TestClient, str], httpx.Response]


@dataclass(frozen=True)
class Case:
    surface: str
    field: str
    send: Send
    chars: tuple[str, ...] = (NUL, LONE)  # a URL can carry NUL only (%ED%A0%80 decodes to U+FFFD)
    rule: str = "must be text without NUL characters or lone surrogates"


def _json(path: str, body: Callable[[str], Any], method: str = "POST") -> Send:
    """The body as JSON text, escaped as every JSON encoder writes these characters."""

    def send(client: TestClient, bad: str) -> httpx.Response:
        headers = {**bearer(KEY_A), "Content-Type": "application/json"}
        return client.request(method, path, content=json.dumps(body(bad)), headers=headers)

    return send


def _form(fields: Callable[[str], dict[str, str]]) -> Send:
    """POST /v1/videos as the openai SDK does: multipart, the picture as a file part."""

    def send(client: TestClient, bad: str) -> httpx.Response:
        files = {"input_reference": ("frame.png", PNG, "image/png")}
        return client.post(VIDEOS, data=fields(bad), files=files, headers=bearer(KEY_A))

    return send


def _raw_form_name(client: TestClient, bad: str) -> httpx.Response:
    """A form whose field name carries ``bad`` as a raw byte (httpx would percent-escape it)."""
    parts = [
        (b'name="prompt"', b"p"),
        (b'name="pro' + bad.encode() + b'mpt"', b"p"),
        (b'name="input_reference"; filename="f.png"\r\nContent-Type: image/png', PNG),
    ]
    body = b"".join(
        b"--b\r\nContent-Disposition: form-data; " + head + b"\r\n\r\n" + data + b"\r\n"
        for head, data in parts
    )
    headers = {**bearer(KEY_A), "Content-Type": "multipart/form-data; boundary=b"}
    return client.post(VIDEOS, content=body + b"--b--\r\n", headers=headers)


def _get(path: str, method: str = "GET") -> Send:
    """``path`` with ``{}`` where the bad text goes, percent-encoded as a client sends it."""

    def send(client: TestClient, bad: str) -> httpx.Response:
        url = path.format(quote(bad))
        return client.request(method, url, headers=bearer(KEY_A))

    return send


def _cursor(bad: str) -> str:
    """A next_cursor made by hand, its task id carrying ``bad``."""
    raw = json.dumps([1.0, f"task_{bad}"]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CASES = {
    # the kirin surface: flat bodies, the hosted envelope, names, path ids, query, cursors
    "kirin prompt": Case(
        "kirin", "prompt", _json(GENERATION, lambda b: {"model": I2V, "image": IMAGE, "prompt": b})
    ),
    "kirin envelope negative_prompt": Case(
        "kirin",
        "input[0].params.negative_prompt",
        _json(
            GENERATION,
            lambda b: {
                "model": I2V,
                "input": [{"params": {"image": IMAGE, "negative_prompt": f"x{b}"}}],
            },
        ),
    ),
    "kirin external_task_id": Case(
        "kirin",
        "external_task_id",
        _json(GENERATION, lambda b: {"model": I2V, "image": IMAGE, "external_task_id": f"o{b}"}),
    ),
    "kirin callback_url": Case(
        "kirin",
        "callback_url",
        _json(
            GENERATION,
            lambda b: {"model": I2V, "image": IMAGE, "callback_url": f"https://example.com/{b}"},
        ),
    ),
    "kirin image url": Case(
        "kirin",
        "image_list[0].image",
        _json(
            GENERATION,
            lambda b: {
                "model": MULTI,
                "prompt": "p",
                "image_list": [{"image": f"https://example.com/{b}.png"}],
            },
        ),
    ),
    "kirin parameter name": Case(
        "kirin",
        "body",
        _json(GENERATION, lambda b: {"model": I2V, "image": IMAGE, f"pro{b}mpt": "p"}),
        rule="parameter names must be text",
    ),
    "kirin task id": Case("kirin", "task_id", _get(GENERATION + "/task/a{}"), chars=(NUL,)),
    "kirin cancel": Case(
        "kirin", "task_id", _get(GENERATION + "/task/a{}/cancel", "POST"), chars=(NUL,)
    ),
    "kirin callbacks": Case(
        "kirin", "task_id", _get(GENERATION + "/task/a{}/callbacks"), chars=(NUL,)
    ),
    "kirin stream": Case("kirin", "task_id", _get(GENERATION + "/task/a{}/stream"), chars=(NUL,)),
    "kirin status": Case("kirin", "status", _get(GENERATION + "?status=a{}"), chars=(NUL,)),
    "kirin model": Case("kirin", "model", _get(GENERATION + "?model=a{}"), chars=(NUL,)),
    "kirin cursor": Case("kirin", "cursor", _get(GENERATION + "?cursor=a{}"), chars=(NUL,)),
    "kirin cursor's task id": Case(
        "kirin",
        "cursor",
        lambda client, bad: client.get(
            f"{GENERATION}?cursor={_cursor(bad)}", headers=bearer(KEY_A)
        ),
        rule="must be a next_cursor value from a previous page",
    ),
    # Kling's routes
    "kling prompt": Case("kling", "prompt", _json(KLING, lambda b: {"image": IMAGE, "prompt": b})),
    "kling external_task_id": Case(
        "kling",
        "external_task_id",
        _json(KLING, lambda b: {"image": IMAGE, "external_task_id": f"o{b}"}),
    ),
    "kling task id": Case("kling", "task_id", _get(KLING + "/a{}"), chars=(NUL,)),
    "kling ?external_task_id": Case(
        "kling", "external_task_id", _get(KLING + "?external_task_id=a{}"), chars=(NUL,)
    ),
    # OpenAI's /v1/videos: JSON, the SDK's multipart form, extra_body, ids, after=
    "openai json prompt": Case(
        "openai", "prompt", _json(VIDEOS, lambda b: {"input_reference": IMAGE, "prompt": b})
    ),
    "openai form prompt": Case("openai", "prompt", _form(lambda b: {"prompt": b}), chars=(NUL,)),
    "openai form external_task_id": Case(
        "openai", "external_task_id", _form(lambda b: {"external_task_id": b}), chars=(NUL,)
    ),
    "openai form field name": Case(
        "openai",
        "body",
        _raw_form_name,
        chars=(NUL,),
        rule="parameter names must be text",
    ),
    "openai extra_body prompt": Case(
        "openai", "prompt", _form(lambda b: {"extra_body": json.dumps({"prompt": b})})
    ),
    "openai video id": Case("openai", "video_id", _get(VIDEOS + "/a{}"), chars=(NUL,)),
    "openai delete": Case("openai", "video_id", _get(VIDEOS + "/a{}", "DELETE"), chars=(NUL,)),
    "openai content": Case("openai", "video_id", _get(VIDEOS + "/a{}/content"), chars=(NUL,)),
    "openai after": Case("openai", "after", _get(VIDEOS + "?after=a{}"), chars=(NUL,)),
}


def refusal(response: httpx.Response, surface: str, *, status: int = 400) -> str:
    """The refusal's text, after checking it is in ``surface``'s envelope with its code."""
    body = response.json()
    if surface == "kirin":
        code = "8002005006" if status == 401 else "8002005014"
        return kirin_error(response, status=status, code=code)
    assert response.status_code == status, body
    if surface == "kling":
        assert body["code"] in ({1000, 1002} if status == 401 else {1200, 1201}), body
        return str(body["message"])
    kind = "authentication_error" if status == 401 else "invalid_request_error"
    assert (body["error"]["type"], body["error"]["code"]) == (
        kind,
        "invalid_api_key" if status == 401 else "body_invalid",
    ), body
    return str(body["error"]["message"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """One app per database for the refusals, which leave nothing behind to clean."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("text-inputs") / "data",
        database_url=url,
        api_keys=[KEY_A],
        workers=0,
        engine_child=False,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("name", list(CASES))
def test_nul_and_lone_surrogates_are_refused_by_field(shared: TestClient, name: str) -> None:
    case = CASES[name]
    for bad in case.chars:
        before = task_rows(shared)
        response = case.send(shared, bad)
        message = refusal(response, case.surface)
        assert message.startswith(f"{case.field}: {case.rule}"), message
        if "next_cursor" not in case.rule:
            shown = "\\x00" if bad == NUL else "\\ud800"
            assert shown in message and message.isascii(), message  # what was sent, escaped
        assert task_rows(shared) == before  # nothing created
        assert shared.get(LISTS[case.surface], headers=bearer(KEY_A)).status_code == 200


def _claims_token(claims: dict[str, Any]) -> str:
    """A JWT with these claims and a signature of no key: it must be refused before any check."""
    return jwt.encode(claims, "not-the-secret-" + "x" * 32, algorithm="HS256")


@pytest.mark.parametrize("bad", [NUL, LONE], ids=["nul", "lone surrogate"])
@pytest.mark.parametrize("surface", list(LISTS))
def test_jwt_iss_with_nul_or_lone_surrogate_is_401(
    shared: TestClient, surface: str, bad: str
) -> None:
    token = _claims_token({"iss": f"ak_{bad}", "exp": 2_000_000_000})
    response = shared.get(LISTS[surface], headers=bearer(token))
    message = refusal(response, surface, status=401)
    assert message.startswith("Authorization: JWT iss must be an active access id"), message


def test_a_token_of_other_characters_is_401_before_any_look_up(shared: TestClient) -> None:
    for token in ("kv_ak_\x01.secret", "kv_ak_é.secret", "é.é.é"):
        headers = {"Authorization": f"Bearer {token}".encode("latin-1")}
        message = refusal(shared.get(GENERATION, headers=headers), "kirin", status=401)
        assert "printable ASCII" in message, message


@pytest.mark.parametrize("seed", ["\u00b2", "\uff11", "9" * 5000, "1_0", " 7x"])
def test_a_form_seed_must_be_ascii_digits(shared: TestClient, seed: str) -> None:
    before = task_rows(shared)
    response = _form(lambda _: {"prompt": "p", "seed": seed})(shared, "")
    message = refusal(response, "openai")
    assert message.startswith("seed: must be an integer 0-4294967295; got "), message
    assert task_rows(shared) == before


def test_a_form_seed_of_digits_is_taken(client: TestClient) -> None:
    response = _form(lambda _: {"prompt": "p", "seed": "42"})(client, "")
    assert response.status_code == 200, response.text
    task = client.get(f"{GENERATION}/task/{response.json()['id']}", headers=bearer(KEY_A))
    assert task.json()["metadata"]["seed"] == 42


def test_a_task_stored_with_a_lone_surrogate_is_still_read_and_listed(client: TestClient) -> None:
    """Text that older versions stored reads as U+FFFD, on every surface, alone and in lists."""
    services = client.app.state.services  # type: ignore[attr-defined]
    owner = keys.settings_owner(KEY_A)
    stored = services.tasks.create(
        owner=owner,
        request=Params(
            model=Model.I2V,
            images=(ImageInput(field="image", role="first", value=IMAGE),),
            prompt=f"a {LONE} b",
        ),
        images=[],
    )
    for path in (
        f"{GENERATION}/task/{stored.id}",
        f"{KLING}/{stored.id}",
        f"{VIDEOS}/{stored.id}",
        *LISTS.values(),
    ):
        response = client.get(path, headers=bearer(KEY_A))
        assert response.status_code == 200, (path, response.text)
    video = client.get(f"{VIDEOS}/{stored.id}", headers=bearer(KEY_A)).json()
    assert video["prompt"] == "a \ufffd b"


@pytest.mark.parametrize("charset", ["punycode", "unicode_escape"])
def test_a_form_whose_charset_yields_no_storable_text_is_400(
    shared: TestClient, charset: str
) -> None:
    """A form's own charset may not decode its bytes, or may decode them into a lone surrogate."""
    body = b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n\\ud800.\r\n--b--\r\n'
    content_type = f"multipart/form-data; boundary=b; charset={charset}"
    headers = {**bearer(KEY_A), "Content-Type": content_type}
    before = task_rows(shared)
    message = refusal(shared.post(VIDEOS, content=body, headers=headers), "openai")
    assert message.startswith(("body: a form's fields must be text", "prompt: must be text")), (
        message
    )
    assert task_rows(shared) == before
